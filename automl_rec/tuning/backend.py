"""What to try next: the interface every tuner backend implements, and how to choose one.

A backend proposes hyperparameter values for a family (``ask``), hears each epoch's objective
and may prune (``report``), and records the result (``tell``). It never trains anything: that is
:func:`automl_rec.tuning.trial.run_trial`'s job.
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

    def ask(self, family: str) -> Proposal | None:
        """Values for the family's next trial, or ``None`` when its search is exhausted."""

    def report(self, proposal: Proposal, epoch: int, value: float) -> bool:
        """Record one epoch's objective; True means the trial should be pruned."""

    def tell(self, proposal: Proposal, result: CandidateResult) -> None:
        """Record the finished trial."""


def make_backend(tuner: str, *, directory: Path | None, storage: str | None, study_name: str,
                 seed: int, max_epochs: int, fingerprint: dict[str, Any]) -> Backend:
    """Build the backend named by ``--tuner``.

    Raises:
        ConfigurationError: Unknown tuner, or a keras-tuner backend without a run directory.
    """
    if tuner == "optuna":
        from automl_rec.tuning.optuna_backend import OptunaBackend

        if storage is None:
            storage = f"sqlite:///{directory / 'study.db'}" if directory is not None else None
        return OptunaBackend(storage, study_name, seed, fingerprint)
    if tuner in ("hyperband", "bayesian", "random"):
        from automl_rec.tuning.keras_tuner_backend import KerasTunerBackend

        return KerasTunerBackend(tuner, directory, seed, max_epochs)
    raise ConfigurationError(f"Unknown tuner {tuner!r}; use one of: {', '.join(TUNERS)}.")
