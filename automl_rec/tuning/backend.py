"""What to try next: the interface every tuner backend implements, and how to choose one.

A backend proposes hyperparameter values for a family (``ask``), hears each epoch's objective
and may prune (``report``), and records the result (``tell``). It never trains anything: that is
:func:`automl_rec.tuning.trial.run_trial`'s job. A backend whose trials live in a shared storage
(Optuna) also lets several processes search together: it says what the others have finished
(``results``) and are running (``in_flight``), keeps the trial count within the limit
(``claim``), and carries the run record that workers join by (``open_run``, ``close_run``,
``closed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from automl_rec.errors import ConfigurationError
from automl_rec.leaderboard import CandidateResult
from automl_rec.spaces import SearchSpace

TUNERS = ("optuna", "hyperband", "bayesian", "random")


@dataclass
class Proposal:
    """Values proposed for one trial.

    Attributes:
        family: Family the trial belongs to.
        number: Trial number within the family's search.
        params: Active hyperparameter values.
        max_epochs: Epoch budget the backend grants (``None``: the search's default).
        handle: The backend's own trial object.
    """

    family: str
    number: int
    params: dict[str, Any]
    max_epochs: int | None = None
    handle: Any = field(default=None, repr=False)


class Backend(Protocol):
    """The tuner side of the search."""

    def register(self, family: str, space: SearchSpace) -> list[CandidateResult]:
        """Prepare the family's search; return the results of trials run before (resume)."""

    def results(self, family: str) -> list[CandidateResult]:
        """Every finished trial of the family, whichever process ran it."""

    def in_flight(self) -> int:
        """Trials of the search running now in other processes."""

    def claim(self, proposal: Proposal, max_trials: int | None) -> bool:
        """Whether a proposed trial is within the trial limit (else it is withdrawn)."""

    def ask(self, family: str) -> Proposal | None:
        """Values for the family's next trial, or ``None`` when its search is exhausted."""

    def report(self, proposal: Proposal, epoch: int, value: float) -> bool:
        """Record one epoch's objective; True means the trial should be pruned."""

    def tell(self, proposal: Proposal, result: CandidateResult) -> None:
        """Record the finished trial."""

    def open_run(self, record: dict[str, Any]) -> None:
        """Publish what workers need to join the search, and open it."""

    def close_run(self) -> None:
        """Close the search: no process starts another trial."""

    def closed(self) -> bool:
        """Whether the search was closed by its leader."""


def make_backend(tuner: str, *, directory: Path | None, storage: str | None, study_name: str,
                 seed: int, max_epochs: int, fingerprint: dict[str, Any], worker: bool = False,
                 heartbeat: int | None = None, max_trials: int | None = None) -> Backend:
    """Build the backend named by ``--tuner``.

    Raises:
        ConfigurationError: Unknown tuner.
    """
    if tuner == "optuna":
        from automl_rec.tuning.optuna_backend import HEARTBEAT_SECONDS, OptunaBackend

        return OptunaBackend(storage_url(storage, directory), study_name, seed, fingerprint,
                             worker=worker, heartbeat=heartbeat or HEARTBEAT_SECONDS)
    if tuner in ("hyperband", "bayesian", "random"):
        from automl_rec.tuning.keras_tuner_backend import KerasTunerBackend

        return KerasTunerBackend(tuner, directory, seed, max_epochs, max_trials)
    raise ConfigurationError(f"Unknown tuner {tuner!r}; use one of: {', '.join(TUNERS)}.")


def storage_url(storage: str | None, directory: Path | None) -> str | None:
    """The Optuna storage of a run: the one given, else ``DIR/study.db``, else memory."""
    if storage is None and directory is not None:
        return f"sqlite:///{directory / 'study.db'}"
    return storage
