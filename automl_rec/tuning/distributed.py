"""Searching in several processes: workers that join a fit's study, on this machine or others.

(keras-tuner's tuners distribute with keras-tuner's own chief/worker mode instead; see
:mod:`automl_rec.tuning.backends.keras_tuner_backend`; their workers run
:func:`search_as_worker` too.)

A fit with an RDB storage (``--storage``, by default ``DIR/study.db``) publishes a *run record*
in its study: the data file, the column roles, the families and their spaces, the protocol
settings and the budget. ``automl-rec worker --storage URL --study-name NAME`` waits for that
record, prepares the same split from the same file (the split is seeded, so every process holds
the same one), and runs trials in the shared studies until the leader closes the search. The
leader then waits for the trials still running, and selects, refits, exports and reports as
usual. A fit may also start workers on its own machine (``--workers``, one per extra GPU by
default), each on its own GPU when there are several.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_rec.errors import ConfigurationError
from automl_rec.leaderboard import CandidateResult
from automl_rec.models import BASELINES
from automl_rec.spaces import parse_space
from automl_rec.tuning.backends import Proposal, make_backend, storage_url
from automl_rec.tuning.candidates import REFERENCE, SearchConfig
from automl_rec.tuning.budget import Budget
from automl_rec.tuning.search import fingerprint, prepare_families, run_search
from automl_rec.tuning.trial import TrialSettings

if TYPE_CHECKING:
    from automl_rec.data.profiling import DataProfile
    from automl_rec.data.splitting import Split

# How long local workers may take to leave once the search is closed.
WORKER_EXIT_SECONDS = 120


def wait_for_run(storage: str, study_name: str, wait_seconds: float,
                 poll_seconds: float = 2.0) -> dict[str, Any]:
    """The run record of an open search, waiting for its leader to publish it.

    Raises:
        ConfigurationError: No open search of that name appeared within ``wait_seconds``.
    """
    from automl_rec.tuning.backends.optuna_backend import load_run

    deadline = time.monotonic() + wait_seconds
    while True:
        record = load_run(storage, study_name)
        if record is not None:
            return record
        if time.monotonic() >= deadline:
            raise ConfigurationError(
                f"No open search named {study_name!r} in {storage} (waited {wait_seconds:.0f} "
                f"s); start one with: automl-rec fit FILE --storage {storage} --study-name "
                f"{study_name}")
        time.sleep(poll_seconds)


def join_search(storage: str, study_name: str, *, data: str | Path | None = None,
                device: str | None = None, gpu: int | None = None, wait_seconds: float = 600,
                verbose: bool = True) -> list[CandidateResult]:
    """Run trials in the search a leader opened, until it closes.

    Args:
        storage: The study's storage URL.
        study_name: The study name (prefix) the leader was given.
        data: The interaction file, where the leader's path is not valid on this machine.
        device: ``auto``, ``cpu`` or ``gpu`` (default: the leader's choice).
        gpu: Index of the one GPU this worker uses.
        wait_seconds: How long to wait for the leader to open the search.
        verbose: Print a line as each of this worker's trials starts and ends.

    Returns:
        The results of every trial of the search, whichever process ran it.

    Raises:
        ConfigurationError: No open search, or the data file cannot be found.
    """
    from automl_rec.api import prepare
    from automl_rec.data.features import read_features
    from automl_rec.device import select_device

    record = wait_for_run(storage, study_name, wait_seconds)
    source = data or record["data"]
    if source is None:
        raise ConfigurationError(
            "The leader of this search was given a DataFrame, not a file; give the same data "
            "to the worker with --data FILE.")
    if not Path(source).exists():
        raise ConfigurationError(
            f"The data file {str(source)!r} of this search does not exist on this machine; "
            "give its path here with --data FILE.")
    select_device(device or record["device"], gpu=gpu)
    tables = record.get("features") or {}
    features = read_features(tables.get("items"), tables.get("users"),
                             tables.get("feature_types"))
    prepared = prepare(source, record["columns"], positive=record.get("positive"),
                       exclude_seen=record["exclude_seen"], seed=record["seed"],
                       cold_items=record.get("cold_items", 0.0), features=features,
                       task=record.get("task"))
    config = SearchConfig(
        families=record["searched"],
        settings=TrialSettings(record["metric"], record["top_k"], record["max_epochs"],
                               record["patience"], prepared.task.name),
        budget=Budget.from_record(record),
        seed=record["seed"], storage=storage, study_name=study_name,
        spaces={name: parse_space(space, f"search space of family {name}")
                for name, space in record["spaces"].items()},
        heartbeat=record["heartbeat"])
    return search_as_worker(prepared.split, prepared.training_profile, config, verbose=verbose,
                            reference=record.get(REFERENCE))


def search_as_worker(split: Split, profile: DataProfile, config: SearchConfig, *,
                     verbose: bool = True, reference: float | None = None
                     ) -> list[CandidateResult]:
    """Run trials of a search that another process leads, until it closes (or the budget of
    ``config`` is spent); no baselines, no test scores, no selection. ``reference``: the
    leader's popularity reference for the screening rung."""
    settings = config.settings
    spaces, _ = prepare_families([f for f in config.families if f != BASELINES], profile,
                                 config.spaces, settings.task, getattr(split, "ordered", True))
    backend = make_backend(config.tuner, directory=None, storage=config.storage,
                           study_name=config.study_name, seed=config.seed,
                           max_epochs=settings.max_epochs,
                           fingerprint=fingerprint(split, settings, config.seed), worker=True,
                           heartbeat=config.heartbeat, max_trials=config.budget.max_trials)
    observer = LineObserver(f"{settings.metric}@{settings.k}") if verbose else None
    return run_search(split, spaces, backend, settings, config.budget, seed=config.seed,
                      observer=observer, worker=True, reference=reference).results


@dataclass(frozen=True)
class LocalWorkers:
    """Worker processes a fit starts beside itself."""

    count: int = 0
    on_gpus: bool = False


def plan_local_workers(workers: int | None, *, device: str, tuner: str, storage: str | None,
                       output_dir: str | Path | None) -> LocalWorkers:
    """How many local worker processes a fit starts, and whether each gets a GPU: ``workers``,
    or by default one per GPU beyond the first.

    Raises:
        ConfigurationError: ``workers`` is not a whole number, the tuner is not Optuna, or the
            study has no storage to share.
    """
    from automl_rec.device import gpu_count

    gpus = gpu_count() if device != "cpu" else 0
    count = workers if workers is not None else max(gpus - 1, 0)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ConfigurationError(
            f"workers must be a whole number of at least 0; received {workers!r}.")
    if count and tuner != "optuna":
        raise ConfigurationError(
            f"Worker processes share an Optuna study; the {tuner} tuner distributes "
            "with keras-tuner's own chief/worker mode instead (see the README).")
    if count and storage is None and output_dir is None:
        raise ConfigurationError(
            "Worker processes share the study through a storage; give output_dir (the "
            "study goes to DIR/study.db) or a storage URL.")
    return LocalWorkers(count, on_gpus=gpus > 1 and count > 0)


@contextmanager
def local_workers(workers: LocalWorkers, config: SearchConfig, directory: Path | None
                  ) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start ``workers.count`` worker processes on this machine for the span of a search.

    Each writes its output to ``DIR/worker-N.log``; with ``workers.on_gpus`` worker ``N`` uses
    GPU ``N`` (the leader keeps GPU 0). On leaving, the workers (which stop once the search is
    closed) are waited for, and stopped if they linger.
    """
    if not workers.count:
        yield []
        return
    storage = storage_url(config.storage, directory)
    assert storage is not None  # checked by plan_local_workers
    processes = []
    try:
        for number in range(1, workers.count + 1):
            command = [sys.executable, "-m", "automl_rec.cli", "worker", "--storage", storage,
                       "--study-name", config.study_name]
            if workers.on_gpus:
                command += ["--gpu", str(number)]
            log = (directory / f"worker-{number}.log").open("wb") if directory else None
            processes.append(subprocess.Popen(
                command, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=dict(os.environ)))
            if log is not None:
                log.close()
        yield processes
    finally:
        deadline = time.monotonic() + WORKER_EXIT_SECONDS
        for process in processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 1))
            except subprocess.TimeoutExpired:
                process.terminate()
                process.wait()


class LineObserver:
    """Prints one line per finished trial (a worker's progress)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def on_trial_start(self, proposal: Proposal) -> None:
        print(f"trial {proposal.family} #{proposal.number} started: {proposal.params}",
              flush=True)

    def on_epoch(self, proposal: Proposal, epoch: int, value: float) -> None:
        pass

    def on_trial_end(self, result: CandidateResult) -> None:
        score = result.valid.get(self.key)
        shown = f", best validation {score:.4f}" if score is not None else ""
        print(f"trial {result.family} #{result.number} {result.status}{shown} "
              f"({result.seconds:.1f} s){': ' + result.reason if result.reason else ''}",
              flush=True)
