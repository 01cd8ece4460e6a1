"""Optuna backend (the default): TPE sampling, median pruning, studies kept in an RDB storage.

Each family has its own study, ``<study name>.<family>``, in one storage (by default
``<run dir>/study.db``, SQLite). The family's default values are enqueued as its first trial,
followed by the defaults of each of its other designs, so that every design is tried before the
sampler takes over.
Running the same command again continues the studies: completed trials are kept, and a trial
that was still running when its process died is marked failed and retried with the same values.
"""

from __future__ import annotations

import json
from typing import Any

import optuna
from optuna.trial import TrialState

from automl_rec.errors import ConfigurationError
from automl_rec.leaderboard import COMPLETE, PRUNED, CandidateResult
from automl_rec.spaces import SearchSpace
from automl_rec.tuning.backend import Proposal

optuna.logging.set_verbosity(optuna.logging.WARNING)
RESULT_ATTR = "automl_rec_result"


class OptunaBackend:
    """Optuna studies over the families' spaces.

    Args:
        storage: An Optuna storage URL (``sqlite:///...``, ``postgresql://...``) or ``None`` for
            memory.
        study_name: Prefix of the families' study names.
        seed: Seed of the samplers.
        fingerprint: What the data and protocol look like; a stored study made on other data is
            refused rather than mixed in.
    """

    def __init__(self, storage: str | None, study_name: str, seed: int,
                 fingerprint: dict[str, Any]) -> None:
        self.storage = storage
        self.study_name = study_name
        self.seed = seed
        self.fingerprint = fingerprint
        self.studies: dict[str, optuna.Study] = {}
        self.spaces: dict[str, SearchSpace] = {}

    def register(self, family: str, space: SearchSpace) -> list[CandidateResult]:
        study = optuna.create_study(
            study_name=f"{self.study_name}.{family}",
            storage=self.storage,
            direction="maximize",
            pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
            load_if_exists=True,
        )
        self._check_fingerprint(study)
        # A resumed study must not replay the proposals of its first run: the sampler's seed
        # moves on with the number of trials already stored.
        seed = self.seed + sum(map(ord, family)) + len(study.trials)
        study.sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
        self.studies[family] = study
        self.spaces[family] = space
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            study.tell(trial.number, state=TrialState.FAIL)
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        if not study.trials:
            for values in default_trials(space):
                study.enqueue_trial(values)
        return [CandidateResult.from_record(json.loads(t.user_attrs[RESULT_ATTR]))
                for t in study.get_trials(deepcopy=False)
                if t.state.is_finished() and RESULT_ATTR in t.user_attrs]

    def _check_fingerprint(self, study: optuna.Study) -> None:
        stored = study.user_attrs.get("fingerprint")
        if stored is None:
            study.set_user_attr("fingerprint", self.fingerprint)
        elif stored != self.fingerprint:
            raise ConfigurationError(
                f"The study '{study.study_name}' in {self.storage} was made on other data or "
                f"settings ({stored}); use another --output directory or --study-name, or delete "
                "the old study."
            )

    def ask(self, family: str) -> Proposal:
        trial = self.studies[family].ask()
        params = sample(trial, self.spaces[family])
        return Proposal(family, trial.number, params, handle=trial)

    def report(self, proposal: Proposal, epoch: int, value: float) -> bool:
        trial: optuna.Trial = proposal.handle
        trial.report(value, epoch)
        return bool(trial.should_prune())

    def tell(self, proposal: Proposal, result: CandidateResult) -> None:
        trial: optuna.Trial = proposal.handle
        trial.set_user_attr(RESULT_ATTR, json.dumps(result.to_record()))
        study = self.studies[proposal.family]
        if result.status == COMPLETE:
            study.tell(trial, max(result.curve) if result.curve else 0.0)
        elif result.status == PRUNED:
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, state=TrialState.FAIL)


def default_trials(space: SearchSpace) -> list[dict[str, Any]]:
    """The space's defaults, then the defaults under each other design: the first trials."""
    first = space.defaults()
    designs = space["design"].choices if "design" in space.names() else ()
    return [first] + [space.completed({"design": d}) for d in designs if d != first["design"]]


def sample(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """Draw the active parameters of ``space`` from an Optuna trial."""
    values: dict[str, Any] = {}
    for param in space.params:
        if not param.is_active(values):
            continue
        if param.kind == "categorical":
            values[param.name] = trial.suggest_categorical(param.name, list(param.choices))
        elif param.kind == "int":
            values[param.name] = trial.suggest_int(param.name, int(param.low), int(param.high),
                                                   step=int(param.step or 1), log=param.log)
        else:
            values[param.name] = trial.suggest_float(param.name, param.low, param.high,
                                                     step=param.step, log=param.log)
    return values


def parameter_importances(storage: str, study_name: str) -> dict[str, float]:
    """Importance of each parameter for the objective (Optuna's fANOVA evaluator), or an empty
    dict when the study has too few completed trials to tell."""
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(complete) < 3:
            return {}
        return {name: float(value) for name, value in
                optuna.importance.get_param_importances(study, seed=0).items()}
    except Exception:  # importances are a nicety of the report; never fail a run on them
        return {}
