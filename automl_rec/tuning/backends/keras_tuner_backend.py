"""keras-tuner backends: Hyperband, Bayesian optimisation and random search (``--tuner``).

The same space file drives them: each parameter becomes a keras-tuner hyperparameter (a ``when``
condition becomes a conditional scope). Only keras-tuner's oracles are used: they decide what to
try next, while trials run through the same :func:`~automl_rec.tuning.trial.run_trial` as with
Optuna. Hyperband grants each trial its epoch budget (``tuner/epochs``); trials train from
scratch rather than from a checkpoint. The oracles keep their state in
``<run dir>/keras_tuner/``.

Several processes search together in keras-tuner's own chief/worker mode: every process runs the
same ``automl-rec fit`` command with ``KERASTUNER_ORACLE_IP``, ``KERASTUNER_ORACLE_PORT`` and a
distinct ``KERASTUNER_TUNER_ID`` set, ``chief`` for one of them. The chief serves the oracle of
its ``n``-th family on port ``KERASTUNER_ORACLE_PORT + n`` and runs trials itself; the workers ask
it for values over gRPC, report every epoch, and send their results back with the trial's
metrics (numbers only: a worker's failure reason stays in that worker's output). When the chief's
budget is spent it stops handing out trials, waits for the workers' trials, and goes on to
selection, refits, export and report; the workers' ``fit`` returns once the chief stops them.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import threading
import time
from concurrent import futures
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import keras_tuner as kt
from keras_tuner.src import protos
from keras_tuner.src.distribute.oracle_chief import OracleServicer

from automl_rec.leaderboard import COMPLETE, FAILED, CandidateResult
from automl_rec.spaces import SearchSpace
from automl_rec.tuning.backends.base import Proposal

OBJECTIVE = "val_objective"
TUNER_ID = "automl-rec"
# A worker's trial that reports nothing for this long is taken as lost by the chief.
WORKER_SILENCE_SECONDS = 600
_RESULT = "automl_rec/"  # prefix of the metrics that carry a worker's result


def keras_tuner_role() -> str:
    """``chief``, ``worker`` or ``alone``: this process's part in keras-tuner's distribution."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "alone"
    missing = [name for name in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID")
               if name not in os.environ]
    if missing:
        from automl_rec.errors import ConfigurationError

        raise ConfigurationError(
            f"KERASTUNER_ORACLE_IP is set but {' and '.join(missing)} is not; keras-tuner's "
            "chief/worker mode needs all three.")
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


class KerasTunerBackend:
    """keras-tuner oracles over the families' spaces.

    Args:
        kind: ``hyperband``, ``bayesian`` or ``random``.
        directory: Run directory (oracle state goes under ``keras_tuner/``); a temporary folder
            when ``None``.
        seed: Seed of the oracles.
        max_epochs: Largest epoch budget Hyperband hands out.
    """

    def __init__(self, kind: str, directory: Path | None, seed: int, max_epochs: int,
                 max_trials: int | None = None) -> None:
        self.kind = kind
        self.directory = Path(directory or tempfile.mkdtemp(prefix="automl-rec-kt-"))
        self.seed = seed
        self.max_epochs = max_epochs
        self.max_trials = max_trials
        self.role = keras_tuner_role()
        self.tuner_id = os.environ.get("KERASTUNER_TUNER_ID", TUNER_ID)
        self.oracles: dict[str, Any] = {}
        self.spaces: dict[str, SearchSpace] = {}
        self._results: dict[str, list[CandidateResult]] = {}
        self._servers: list[Any] = []
        self._servicers: list[Any] = []
        self.stopped = threading.Event()

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
        port = int(os.environ.get("KERASTUNER_ORACLE_PORT", 0)) + len(self.oracles)
        if self.role != "alone":
            _quiet_conditions()
        if self.role == "chief":
            self._serve(oracle, port)
        elif self.role == "worker":
            oracle = _client(oracle, port)
        self.oracles[family] = oracle
        self.spaces[family] = space
        self._results[family] = []
        return []

    def _serve(self, oracle: kt.Oracle, port: int) -> None:
        import grpc

        servicer = _Servicer(oracle, self)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
        server.add_insecure_port(f"{os.environ['KERASTUNER_ORACLE_IP']}:{port}")
        server.start()
        self._servers.append(server)
        self._servicers.append(servicer)

    def trials_created(self) -> int:
        """Trials the oracles have handed out, to every process."""
        return sum(len(oracle.trials) for oracle in self.oracles.values())

    def results(self, family: str) -> list[CandidateResult]:
        own = list(self._results[family])
        if self.role != "chief":
            return own
        mine = {r.number for r in own}
        oracle = self.oracles[family]
        done = (kt.engine.trial.TrialStatus.COMPLETED, kt.engine.trial.TrialStatus.FAILED)
        return own + [_decode(family, self.spaces[family], trial)
                      for trial in oracle.trials.values()
                      if trial.status in done and int(trial.trial_id) not in mine]

    def in_flight(self) -> int:
        if self.role != "chief":
            return 0  # nothing runs here but the trial in hand
        now = time.monotonic()
        return sum(1 for servicer in self._servicers for trial_id in servicer.ongoing()
                   if now - servicer.heard.get(trial_id, now) < WORKER_SILENCE_SECONDS)

    def claim(self, proposal: Proposal, max_trials: int | None) -> bool:
        return True

    def open_run(self, record: dict[str, Any]) -> None:
        pass

    def close_run(self) -> None:
        self.stopped.set()  # the chief's servers now answer every request for a trial "stop"

    def closed(self) -> bool:
        return False  # a worker learns it from the chief's answer to its next request

    def ask(self, family: str) -> Proposal | None:
        oracle = self.oracles[family]
        trial = oracle.create_trial(self.tuner_id)
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
            oracle.update_trial(trial.trial_id, {OBJECTIVE: max(result.curve), **_encode(result)},
                                step=result.epochs or 0)
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


class _Servicer(OracleServicer):
    """The chief's gRPC service for one oracle: it stops handing out trials once the search is
    closed or the trial limit is reached, and notes when each worker trial was last heard of."""

    def __init__(self, oracle: kt.Oracle, backend: KerasTunerBackend) -> None:
        super().__init__(oracle)
        self.backend = backend
        self.heard: dict[str, float] = {}

    def ongoing(self) -> list[str]:
        return [trial.trial_id for tuner, trial in list(self.oracle.ongoing_trials.items())
                if tuner != self.backend.tuner_id]

    def CreateTrial(self, request: Any, context: Any) -> Any:  # noqa: N802 (gRPC's name)
        limit = self.backend.max_trials
        if self.backend.stopped.is_set() or (
                limit is not None and self.backend.trials_created() >= limit):
            stop = kt.engine.trial.Trial(self.oracle.get_space(),
                                         status=kt.engine.trial.TrialStatus.STOPPED)
            return protos.get_service().CreateTrialResponse(trial=stop.to_proto())
        response = super().CreateTrial(request, context)
        self.heard[response.trial.trial_id] = time.monotonic()
        return response

    def UpdateTrial(self, request: Any, context: Any) -> Any:  # noqa: N802
        self.heard[request.trial_id] = time.monotonic()
        return super().UpdateTrial(request, context)


def _quiet_conditions() -> None:
    """keras-tuner prints a value whenever it serialises a conditional hyperparameter for gRPC;
    keep that off the terminal."""
    from keras_tuner.src.engine import conditions

    original = conditions.Parent.to_proto
    if getattr(original, "quiet", False):
        return

    def to_proto(self: Any) -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            return original(self)

    to_proto.quiet = True  # type: ignore[attr-defined]
    conditions.Parent.to_proto = to_proto


def _client(oracle: kt.Oracle, port: int) -> Any:
    """A proxy to the chief's oracle of one family (keras-tuner's gRPC client)."""
    from keras_tuner.src.distribute.oracle_client import OracleClient

    saved = os.environ["KERASTUNER_ORACLE_PORT"]
    os.environ["KERASTUNER_ORACLE_PORT"] = str(port)
    try:
        return OracleClient(oracle)
    finally:
        os.environ["KERASTUNER_ORACLE_PORT"] = saved


def _encode(result: CandidateResult) -> dict[str, float]:
    """The numbers of a result, as metrics a worker can send to the chief."""
    numbers = {f"{_RESULT}valid/{name}": value for name, value in result.valid.items()}
    numbers[f"{_RESULT}seconds"] = result.seconds
    numbers[f"{_RESULT}epoch_seconds"] = result.epoch_seconds or 0.0
    numbers[f"{_RESULT}n_params"] = float(result.n_params or 0)
    return numbers


def _decode(family: str, space: SearchSpace, trial: Any) -> CandidateResult:
    """A worker's trial, as the chief's oracle saw it."""
    metrics = trial.metrics
    values = {name: value for name, value in trial.hyperparameters.values.items()
              if not name.startswith("tuner/")}
    params = space.active(values)
    result = CandidateResult(family, str(params.get("design", family)), params,
                             number=int(trial.trial_id))

    def last(name: str) -> float | None:
        full = f"{_RESULT}{name}"
        return metrics.get_last_value(full) if metrics.exists(full) else None

    if trial.status != kt.engine.trial.TrialStatus.COMPLETED or last("seconds") is None:
        result.status, result.reason = FAILED, "failed in a keras-tuner worker (see its output)"
        return result
    result.valid = {name[len(f"{_RESULT}valid/"):]: float(metrics.get_last_value(name))
                    for name in metrics.metrics if name.startswith(f"{_RESULT}valid/")}
    history = metrics.get_history(OBJECTIVE)
    result.curve = [float(observation.mean()) for observation in history]
    result.epochs = int(trial.best_step) if trial.best_step is not None else len(result.curve)
    result.seconds = float(last("seconds") or 0.0)
    result.epoch_seconds = float(last("epoch_seconds") or 0.0)
    result.n_params = int(last("n_params") or 0)
    return result
