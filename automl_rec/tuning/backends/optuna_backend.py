"""Optuna backend (the default): TPE sampling, median pruning, studies kept in an RDB storage.

Each family has its own study, ``<study name>.<family>``, in one storage (by default
``<run dir>/study.db``, SQLite; ``postgresql://...`` for searches spread over machines). The
family's default values are enqueued as its first trial, followed by the same values without
item features where the defaults use them (whether the item table helps is the first thing a run
with one must learn, and what the report's features section states), then by the defaults of
each of its other designs, so that every design is tried before the sampler takes over.

A trial is pruned when, from its ``PRUNE_AFTER_EPOCHS``-th epoch on, its best validation score
so far is below the median of the scores at the same epoch of the completed trials of its
design, with or without item features as it (:class:`DesignMedianPruner`). One completed
trial is enough to compare with: under a time budget a family rarely has more, and a sampled
configuration that learns at a fraction of its default's pace would otherwise train to the end
on time the promising ones need. Designs are not compared with each other this early: their
curves start at different paces (a NextItNet passes a Caser's score after twenty epochs, not
three), and so do a design with attributes and without them.

Several processes may share the studies (``automl-rec worker``). Every running trial sends a
heartbeat to the storage; a trial whose heartbeat stops (its process died) is marked failed after
``STALE_AFTER_BEATS`` missed beats and enqueued again with the same values, at most
``MAX_RETRIES`` times, so a dead process loses only the trial it was running. A trial left
running by a dead process of this same machine is retried at once. Running the same command
again therefore continues the studies: completed trials are kept, lost ones are retried.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import socket
import statistics
import threading
import time
import warnings
from datetime import datetime, timedelta
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from automl_rec.errors import ConfigurationError
from automl_rec.leaderboard import COMPLETE, PRUNED, CandidateResult
from automl_rec.spaces import SearchSpace
from automl_rec.tuning.backends.base import Proposal

optuna.logging.set_verbosity(optuna.logging.WARNING)
# Heartbeats are used with ask-and-tell here, which Optuna flags as experimental.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")

RESULT_ATTR = "automl_rec_result"
OWNER_ATTR = "automl_rec_owner"
RETRY_ATTR = "retry_of"
HEARTBEAT_SECONDS = 10
STALE_AFTER_BEATS = 3
MAX_RETRIES = 2
RUN_ATTR = "automl_rec_run"
STATE_ATTR = "automl_rec_state"
OPEN_ATTEMPTS = 5
# The median rule acts from this epoch on.
PRUNE_AFTER_EPOCHS = 3


def open_storage(url: str | None, heartbeat: int = HEARTBEAT_SECONDS
                 ) -> optuna.storages.RDBStorage | None:
    """The RDB storage at ``url`` with heartbeats on (``None``: in memory, one process only)."""
    if url is None:
        return None
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Several processes write to one SQLite file: wait for its lock rather than fail.
        engine_kwargs = {"connect_args": {"timeout": 60}}
    for attempt in itertools.count(1):
        try:
            return optuna.storages.RDBStorage(
                url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat,
                grace_period=heartbeat * STALE_AFTER_BEATS,
                heartbeat_stale_trial_callback=_retry_trial)
        except ImportError as error:
            raise ConfigurationError(
                f"The storage {url!r} needs a database driver that is not installed ({error}); "
                "for PostgreSQL run: pip install 'psycopg[binary]'."
            ) from None
        except Exception as error:  # an unreachable or malformed database is the user's to fix
            # Processes that start together may race to create the tables: try again.
            if attempt == OPEN_ATTEMPTS:
                raise ConfigurationError(
                    f"Cannot open the storage {url!r}: {str(error).splitlines()[0]}"
                ) from None
            time.sleep(0.5 + random.random())


def _retry_trial(study: optuna.Study, trial: FrozenTrial) -> None:
    """Enqueue a lost trial's values again (at most ``MAX_RETRIES`` times per original)."""
    retries = int(trial.user_attrs.get("retries", 0))
    if retries >= MAX_RETRIES:
        return
    original = trial.user_attrs.get(RETRY_ATTR, trial.number)
    study.enqueue_trial(trial.params, user_attrs={RETRY_ATTR: original, "retries": retries + 1})


# The parameters that make a trial's learning curve a kind of its own: trials are pruned only
# by the completed trials that share their values.
PACE_PARAMS = ("design", "item_features")


class DesignMedianPruner(optuna.pruners.BasePruner):
    """Optuna's median stopping rule among the completed trials of the same design, with or
    without item features as the trial (``PACE_PARAMS``; a space without them is one kind):
    attributes speed a model's first epochs, so an ids-only trial is behind at epoch 3 of a
    curve that it passes later."""

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < PRUNE_AFTER_EPOCHS:
            return False
        kind = [trial.params.get(name) for name in PACE_PARAMS]
        peers = [t.intermediate_values[step]
                 for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                 if [t.params.get(name) for name in PACE_PARAMS] == kind
                 and step in t.intermediate_values]
        return bool(peers) and max(trial.intermediate_values.values()) < statistics.median(peers)


class _Heartbeat:
    """A thread that records a trial's heartbeat until stopped."""

    def __init__(self, storage: optuna.storages.RDBStorage, trial_id: int) -> None:
        self._stop = threading.Event()
        interval = storage.get_heartbeat_interval() or HEARTBEAT_SECONDS

        def beat() -> None:
            while True:
                try:
                    storage.record_heartbeat(trial_id)
                except Exception:  # a missed beat is retried at the next interval
                    pass
                if self._stop.wait(interval):
                    return

        self._thread = threading.Thread(target=beat, daemon=True, name=f"heartbeat-{trial_id}")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class OptunaBackend:
    """Optuna studies over the families' spaces, shared by every process of one search.

    Args:
        storage: An Optuna storage URL (``sqlite:///...``, ``postgresql://...``) or ``None`` for
            memory.
        study_name: Prefix of the families' study names.
        seed: Seed of the samplers.
        fingerprint: What the data and protocol look like; a stored study made on other data is
            refused rather than mixed in.
        worker: True in a process that joins a search another process leads: it finds the
            studies made, and samples with a seed of its own.
        heartbeat: Seconds between heartbeats of a running trial.
    """

    def __init__(self, storage: str | None, study_name: str, seed: int,
                 fingerprint: dict[str, Any], *, worker: bool = False,
                 heartbeat: int = HEARTBEAT_SECONDS) -> None:
        self.url = storage
        self.storage = open_storage(storage, heartbeat)
        self.study_name = study_name
        self.seed = seed
        self.fingerprint = fingerprint
        self.worker = worker
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.studies: dict[str, optuna.Study] = {}
        self.spaces: dict[str, SearchSpace] = {}
        self._beats: dict[int, _Heartbeat] = {}

    def register(self, family: str, space: SearchSpace) -> list[CandidateResult]:
        name = f"{self.study_name}.{family}"
        if self.worker:
            study = optuna.load_study(study_name=name, storage=self.storage)
        else:
            study = optuna.create_study(study_name=name, storage=self.storage,
                                        direction="maximize", load_if_exists=True)
        study.pruner = DesignMedianPruner()
        self._check_fingerprint(study)
        # A resumed study must not replay the proposals of its first run, and two processes of
        # one search must not propose the same values: the sampler's seed moves on with the
        # trials already stored, and differs in every worker.
        seed = self.seed + sum(map(ord, family)) + len(study.trials)
        if self.worker:
            seed += 7919 * os.getpid()
        study.sampler = optuna.samplers.TPESampler(seed=seed % 2**32, n_startup_trials=5)
        self.studies[family] = study
        self.spaces[family] = space
        if not self.worker and not study.trials:
            for values in default_trials(space):
                study.enqueue_trial(values)
        return self.results(family)

    def _check_fingerprint(self, study: optuna.Study) -> None:
        stored = study.user_attrs.get("fingerprint")
        if stored is None and not self.worker:
            study.set_user_attr("fingerprint", self.fingerprint)
        elif stored != self.fingerprint:
            raise ConfigurationError(
                f"The study '{study.study_name}' in {self.url} was made on other data or "
                f"settings ({stored}); use another --output directory or --study-name, or delete "
                "the old study."
            )

    def results(self, family: str) -> list[CandidateResult]:
        """Every finished trial of the family with its result, whichever process ran it."""
        return [CandidateResult.from_record(json.loads(t.user_attrs[RESULT_ATTR]))
                for t in self.studies[family].get_trials(deepcopy=False)
                if t.state.is_finished() and RESULT_ATTR in t.user_attrs]

    def in_flight(self) -> int:
        """Trials running now in other processes (lost ones are failed and re-enqueued first)."""
        running = 0
        for study in self.studies.values():
            self._fail_lost_trials(study)
            running += len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        return running

    def _fail_lost_trials(self, study: optuna.Study) -> None:
        if self.storage is None:
            return
        optuna.storages.fail_stale_trials(study)
        host = socket.gethostname()
        grace = timedelta(seconds=(self.storage.grace_period or 0))
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            owner = trial.user_attrs.get(OWNER_ATTR)
            owner_host, _, pid = str(owner or "").rpartition(":")
            dead_here = owner_host == host and pid.isdigit() and not _alive(int(pid))
            never_owned = (owner is None and trial.datetime_start is not None
                           and datetime.now() - trial.datetime_start > grace)
            if dead_here or never_owned:
                try:
                    self.storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
                except optuna.exceptions.UpdateFinishedTrialError:
                    continue  # another process got there first
                _retry_trial(study, trial)

    def ask(self, family: str) -> Proposal:
        study = self.studies[family]
        trial = study.ask()
        # The first beat comes before anything else, so that a trial whose process dies at once
        # is found stale; a trial with no owner yet is one whose process died before its beat.
        if self.storage is not None:
            self._beats[trial._trial_id] = _Heartbeat(self.storage, trial._trial_id)
        trial.set_user_attr(OWNER_ATTR, self.owner)
        params = sample(trial, self.spaces[family])
        return Proposal(family, trial.number, params, handle=trial)

    def claim(self, proposal: Proposal, max_trials: int | None) -> bool:
        """Whether the trial is within ``max_trials`` of all the processes' trials together.

        Trials are ordered by the time they started; a trial past the limit (another process
        started one at the same moment) is withdrawn: its values go back to the queue if they
        were queued, and it never counts as a trial.
        """
        if max_trials is None:
            return True
        trial: optuna.Trial = proposal.handle
        counted = sorted(
            (t.datetime_start or datetime.max, t._trial_id)
            for study in self.studies.values()
            for t in study.get_trials(deepcopy=False)
            if t.state in (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED)
            or (t.state == TrialState.FAIL and RESULT_ATTR in t.user_attrs))
        if [i for _, i in counted].index(trial._trial_id) < max_trials:
            return True
        self._stop_heartbeat(trial)
        study = self.studies[proposal.family]
        frozen = study._storage.get_trial(trial._trial_id)
        study.tell(trial, state=TrialState.FAIL)
        if "fixed_params" in frozen.system_attrs:
            study.enqueue_trial(frozen.params, user_attrs={
                k: v for k, v in frozen.user_attrs.items() if k != OWNER_ATTR})
        return False

    def report(self, proposal: Proposal, epoch: int, value: float) -> bool:
        """Record an epoch's value; True when the trial is to stop: pruned, or already ended
        by another process (its heartbeats came too late, and it was enqueued again)."""
        trial: optuna.Trial = proposal.handle
        try:
            trial.report(value, epoch)
        except optuna.exceptions.UpdateFinishedTrialError:
            return True
        return bool(trial.should_prune())

    def tell(self, proposal: Proposal, result: CandidateResult) -> None:
        """Store the trial's result and end it; a trial that another process already ended as
        lost keeps no result here (its values run again as the retry enqueued then)."""
        trial: optuna.Trial = proposal.handle
        self._stop_heartbeat(trial)
        study = self.studies[proposal.family]
        try:
            trial.set_user_attr(RESULT_ATTR, json.dumps(result.to_record()))
            if result.status == COMPLETE:
                study.tell(trial, max(result.curve) if result.curve else 0.0)
            elif result.status == PRUNED:
                study.tell(trial, state=TrialState.PRUNED)
            else:
                study.tell(trial, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            warnings.warn(f"Trial {proposal.number} of {proposal.family} was ended by another "
                          "process, which took it for lost; its values run again.",
                          RuntimeWarning, stacklevel=2)

    def _stop_heartbeat(self, trial: optuna.Trial) -> None:
        beat = self._beats.pop(trial._trial_id, None)
        if beat is not None:
            beat.stop()

    # The run record: what a worker needs to join (data, settings, budget), and whether the
    # search is still open.

    def _control(self, create: bool) -> optuna.Study:
        if create:
            return optuna.create_study(study_name=self.study_name, storage=self.storage,
                                       load_if_exists=True)
        return optuna.load_study(study_name=self.study_name, storage=self.storage)

    def open_run(self, record: dict[str, Any]) -> None:
        """Publish the run record and mark the search open (the leader, before its trials)."""
        if self.storage is None:
            return
        control = self._control(create=True)
        # The families the leader searches: a worker whose device would admit another family
        # (an autoencoder on a GPU) keeps to these.
        control.set_user_attr(RUN_ATTR, {**record, "searched": list(self.studies)})
        control.set_user_attr(STATE_ATTR, "open")

    def close_run(self) -> None:
        """Mark the search closed: workers start no more trials."""
        if self.storage is not None:
            self._control(create=True).set_user_attr(STATE_ATTR, "closed")

    def closed(self) -> bool:
        """Whether the leader has closed the search."""
        if self.storage is None or not self.worker:
            return False
        return self._control(create=False).user_attrs.get(STATE_ATTR) == "closed"


def load_run(storage: str, study_name: str) -> dict[str, Any] | None:
    """The open run record of a study, or ``None`` while no leader has published one."""
    try:
        control = optuna.load_study(study_name=study_name, storage=open_storage(storage))
    except KeyError:
        return None
    if control.user_attrs.get(STATE_ATTR) != "open":
        return None
    return control.user_attrs.get(RUN_ATTR)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def default_trials(space: SearchSpace) -> list[dict[str, Any]]:
    """The first trials: the space's defaults; the same without item features, where the
    defaults use them; then the defaults under each other design."""
    first = space.defaults()
    trials = [first]
    if first.get("item_features", "none") != "none" and "none" in space["item_features"].choices:
        trials.append(space.completed({**first, "item_features": "none"}))
    designs = space["design"].choices if "design" in space.names() else ()
    return trials + [space.completed({"design": d}) for d in designs if d != first["design"]]


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
