"""The two protocols a tuner backend implements: proposing values, and sharing a search.

A :class:`Backend` proposes hyperparameter values for a family (``ask``), hears each epoch's
objective and may prune (``report``), records the result (``tell``) and lists the family's
finished trials (``results``). It never trains anything: that is
:func:`automl_rec.tuning.trial.run_trial`'s job.

A backend whose trials live in a shared storage (Optuna) also lets several processes search
together; that is the :class:`Coordination` protocol: what the others are running
(``in_flight``), keeping the trial count within the limit (``claim``), and the run record that
workers join by (``open_run``, ``close_run``, ``closed``). A backend that only ever runs in one
process takes :class:`SingleProcess`'s answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from automl_rec.leaderboard import CandidateResult
from automl_rec.spaces import SearchSpace


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

    def results(self, family: str) -> list[CandidateResult]:
        """Every finished trial of the family, whichever process ran it."""


class Coordination(Protocol):
    """How the processes sharing one search stay within its limits and learn when it ends."""

    def in_flight(self) -> int:
        """Trials of the search running now in other processes."""

    def claim(self, proposal: Proposal, max_trials: int | None) -> bool:
        """Whether a proposed trial is within the trial limit (else it is withdrawn)."""

    def open_run(self, record: dict[str, Any]) -> None:
        """Publish what workers need to join the search, and open it."""

    def close_run(self) -> None:
        """Close the search: no process starts another trial."""

    def closed(self) -> bool:
        """Whether the search was closed by its leader."""


class SearchBackend(Backend, Coordination, Protocol):
    """What the search loop drives: a backend and its coordination."""


class SingleProcess:
    """Coordination of a search that runs in this process alone."""

    def in_flight(self) -> int:
        return 0

    def claim(self, proposal: Proposal, max_trials: int | None) -> bool:
        return True

    def open_run(self, record: dict[str, Any]) -> None:
        pass

    def close_run(self) -> None:
        pass

    def closed(self) -> bool:
        return False
