"""keras-tuner backends: Hyperband, Bayesian optimisation and random search (``--tuner``).

The same space file drives them: each parameter becomes a keras-tuner hyperparameter (a ``when``
condition becomes a conditional scope). Only keras-tuner's oracles are used: they decide what to
try next, while trials run through the same :func:`~automl_rec.tuning.trial.run_trial` as with
Optuna. Hyperband grants each trial its epoch budget (``tuner/epochs``); trials train from
scratch rather than from a checkpoint. The oracles keep their state in
``<run dir>/keras_tuner/``.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import keras_tuner as kt

from automl_rec.leaderboard import COMPLETE, CandidateResult
from automl_rec.spaces import SearchSpace
from automl_rec.tuning.backend import Proposal

OBJECTIVE = "val_objective"
TUNER_ID = "automl-rec"


class KerasTunerBackend:
    """keras-tuner oracles over the families' spaces.

    Args:
        kind: ``hyperband``, ``bayesian`` or ``random``.
        directory: Run directory (oracle state goes under ``keras_tuner/``); a temporary folder
            when ``None``.
        seed: Seed of the oracles.
        max_epochs: Largest epoch budget Hyperband hands out.
    """

    def __init__(self, kind: str, directory: Path | None, seed: int, max_epochs: int) -> None:
        self.kind = kind
        self.directory = Path(directory or tempfile.mkdtemp(prefix="automl-rec-kt-"))
        self.seed = seed
        self.max_epochs = max_epochs
        self.oracles: dict[str, kt.Oracle] = {}
        self.spaces: dict[str, SearchSpace] = {}
        self._results: dict[str, list[CandidateResult]] = {}

    def register(self, family: str, space: SearchSpace) -> list[CandidateResult]:
        objective = kt.Objective(OBJECTIVE, direction="max")
        hp = hyperparameters(space)
        common: dict[str, Any] = {"objective": objective, "hyperparameters": hp,
                                  "seed": self.seed + 1, "max_consecutive_failed_trials": 10**6}
        if self.kind == "hyperband":
            oracle = kt.oracles.HyperbandOracle(max_epochs=max(self.max_epochs, 3), factor=3,
                                                **common)
        elif self.kind == "bayesian":
            oracle = kt.oracles.BayesianOptimizationOracle(max_trials=10**6, **common)
        else:
            oracle = kt.oracles.RandomSearchOracle(max_trials=10**6, **common)
        oracle._set_project_dir(str(self.directory / "keras_tuner"), family)
        oracle.verbose = 0
        self.oracles[family] = oracle
        self.spaces[family] = space
        self._results[family] = []
        return []

    def results(self, family: str) -> list[CandidateResult]:
        return list(self._results[family])

    def in_flight(self) -> int:
        return 0  # one process: nothing runs but the trial in hand

    def claim(self, proposal: Proposal, max_trials: int | None) -> bool:
        return True

    def open_run(self, record: dict[str, Any]) -> None:
        pass

    def close_run(self) -> None:
        pass

    def closed(self) -> bool:
        return False

    def ask(self, family: str) -> Proposal | None:
        oracle = self.oracles[family]
        trial = oracle.create_trial(TUNER_ID)
        if trial.status != kt.engine.trial.TrialStatus.RUNNING:
            return None
        values = dict(trial.hyperparameters.values)
        epochs = values.get("tuner/epochs")
        params = self.spaces[family].active(
            {k: v for k, v in values.items() if not k.startswith("tuner/")})
        return Proposal(family, int(trial.trial_id), params,
                        max_epochs=int(epochs) if epochs else None, handle=trial)

    def report(self, proposal: Proposal, epoch: int, value: float) -> bool:
        self.oracles[proposal.family].update_trial(proposal.handle.trial_id, {OBJECTIVE: value},
                                                   step=epoch)
        return False

    def tell(self, proposal: Proposal, result: CandidateResult) -> None:
        oracle = self.oracles[proposal.family]
        trial = proposal.handle
        if result.status == COMPLETE and result.curve:
            oracle.update_trial(trial.trial_id, {OBJECTIVE: max(result.curve)})
            trial.status = kt.engine.trial.TrialStatus.COMPLETED
        else:
            trial.status = kt.engine.trial.TrialStatus.FAILED
            trial.message = result.reason
        oracle.end_trial(trial)
        self._results[proposal.family].append(result)


def hyperparameters(space: SearchSpace) -> kt.HyperParameters:
    """The keras-tuner version of a space (conditions become conditional scopes)."""
    hp = kt.HyperParameters()
    for param in space.params:
        with ExitStack() as scopes:
            for parent, allowed in param.when.items():
                scopes.enter_context(hp.conditional_scope(parent, list(allowed)))
            _declare(hp, param)
    return hp


def _declare(hp: kt.HyperParameters, param: Any) -> None:
    if param.kind == "categorical":
        hp.Choice(param.name, list(param.choices), default=param.default)
    elif param.kind == "int":
        hp.Int(param.name, int(param.low), int(param.high),
               step=int(param.step) if param.step else None,
               sampling="log" if param.log else "linear", default=int(param.default))
    else:
        hp.Float(param.name, float(param.low), float(param.high), step=param.step,
                 sampling="log" if param.log else "linear", default=float(param.default))
