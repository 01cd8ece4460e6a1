"""The search loop: budgets, the order in which families get trials, and resuming.

Budget across families: the baselines run first; then every applicable family gets its default
trial (while families wait for it, a trial may use only an equal share of the time left, shared
among the processes running trials); after that each new trial goes to the family with the
highest *optimistic score*,
``best validation score x (1 + 1 / trials so far)``. A family that is ahead therefore keeps
getting trials, and one behind gets its next trial once the leader's bonus has shrunk enough (a
family at half the leader's score gets its second trial when the leader has had many); a family
whose trials all failed gets no more. The search stops when
``max_trials`` trials exist (those of earlier runs of the same study, and of every process
sharing it, count) or when the time budget, less the time reserved for the final refits, would
be exceeded. A trial running when the time runs out stops after its current epoch and keeps its
best epoch.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from automl_rec.data.profiling import DataProfile
from automl_rec.data.splitting import Split
from automl_rec.leaderboard import COMPLETE, SKIPPED, CandidateResult
from automl_rec.models import default_space, family_module
from automl_rec.spaces import SearchSpace
from automl_rec.tuning.backends import Proposal, SearchBackend
from automl_rec.tuning.budget import Budget
from automl_rec.tuning.trial import TrialSettings, run_trial


class SearchObserver(Protocol):
    """Receives progress events (the CLI draws them; the API ignores them by default)."""

    def on_trial_start(self, proposal: Proposal) -> None: ...

    def on_epoch(self, proposal: Proposal, epoch: int, value: float) -> None: ...

    def on_trial_end(self, result: CandidateResult) -> None: ...


class SilentObserver:
    """An observer that ignores every event."""

    def on_trial_start(self, proposal: Proposal) -> None:
        pass

    def on_epoch(self, proposal: Proposal, epoch: int, value: float) -> None:
        pass

    def on_trial_end(self, result: CandidateResult) -> None:
        pass


@dataclass
class FamilyState:
    """What the search knows of one family."""

    name: str
    space: SearchSpace
    key: str
    results: list[CandidateResult] = field(default_factory=list)
    exhausted: bool = False

    @property
    def best(self) -> CandidateResult | None:
        complete = [r for r in self.results if r.status == COMPLETE]
        return max(complete, key=lambda r: r.valid[self.key], default=None)

    def optimistic_score(self) -> float:
        """Best validation score with a bonus that shrinks as the family gets more trials."""
        best = self.best
        if best is None:
            return float("-inf")
        return best.valid[self.key] * (1 + 1 / len(self.results))

    def typical_seconds(self) -> float:
        seconds = [r.seconds for r in self.results if r.status == COMPLETE]
        return statistics.median(seconds) if seconds else 0.0

    def refit_seconds(self) -> float:
        """Rough cost of refitting the family's best configuration for its best epoch count."""
        best = self.best
        if best is None or not best.curve:
            return 0.0
        return best.seconds * (best.epochs or 1) / len(best.curve)


def prepare_families(
    families: list[str], profile: DataProfile, spaces: dict[str, SearchSpace]
) -> tuple[dict[str, SearchSpace], list[CandidateResult]]:
    """Each family's space adapted to the data, and a ``skipped`` record for those that do not
    apply (with the family's reason)."""
    prepared, skipped = {}, []
    for name in families:
        module = family_module(name)
        reason = module.unsupported_reason(profile)
        if reason:
            skipped.append(CandidateResult(name, "-", {}, SKIPPED, reason))
            continue
        prepared[name] = module.adapt_space(spaces.get(name) or default_space(name), profile)
    return prepared, skipped


def run_search(
    split: Split,
    spaces: dict[str, SearchSpace],
    backend: SearchBackend,
    settings: TrialSettings,
    budget: Budget,
    *,
    seed: int,
    observer: SearchObserver | None = None,
    record: dict[str, Any] | None = None,
    worker: bool = False,
    poll_seconds: float = 1.0,
) -> list[CandidateResult]:
    """Run trials of the families until the budget is spent.

    Several processes may run this loop on one shared study: the leader (``worker=False``)
    publishes ``record`` for workers to join by, closes the search when its budget is spent and
    waits for the trials still running elsewhere; workers (``worker=True``) stop when the leader
    closes the search. Every process sees the results of all, so the budget, the trial limit and
    the choice of family are shared.

    Args:
        split: The protocol's split.
        spaces: Adapted space of each applicable family.
        backend: The tuner that proposes values.
        settings: Objective, epochs, patience.
        budget: Deadline and trial limit.
        seed: Base seed; trial ``n`` of a family uses ``seed + n``.
        observer: Progress events.
        record: What a worker needs to join (the leader publishes it).
        worker: Join a search led by another process.
        poll_seconds: Pause between looks at the storage while other processes' trials run.

    Returns:
        Every trial's result, those of earlier runs and of other processes included.
    """
    observer = observer or SilentObserver()
    key = f"{settings.metric}@{settings.k}"
    states = {name: FamilyState(name, space, key, backend.register(name, space))
              for name, space in spaces.items()}
    if not worker:
        backend.open_run(record or {})
    try:
        _search(states, split, backend, settings, budget, seed, observer, poll_seconds)
    finally:
        if not worker:
            backend.close_run()
    if not worker:
        while backend.in_flight():
            time.sleep(poll_seconds)
    return [result for state in states.values() for result in backend.results(state.name)]


def _search(states: dict[str, FamilyState], split: Split, backend: SearchBackend,
            settings: TrialSettings, budget: Budget, seed: int, observer: SearchObserver,
            poll_seconds: float) -> None:
    while True:
        for state in states.values():
            state.results = backend.results(state.name)
        if backend.closed():
            return
        total = sum(len(s.results) for s in states.values())
        if budget.max_trials is not None and total >= budget.max_trials:
            return
        family = _next_family(states)
        if family is None:
            return
        reserve = _reserve(states)
        if budget.deadline is not None:
            expected = family.typical_seconds()
            if time.monotonic() + expected + reserve > budget.deadline and family.results:
                return
            if time.monotonic() + reserve >= budget.deadline:
                return
        if budget.max_trials is not None and total + backend.in_flight() >= budget.max_trials:
            time.sleep(poll_seconds)  # the last trials run elsewhere; one may yet be lost
            continue
        proposal = backend.ask(family.name)
        if proposal is None:
            family.exhausted = True
            continue
        if not backend.claim(proposal, budget.max_trials):
            time.sleep(poll_seconds)
            continue
        observer.on_trial_start(proposal)

        def report(epoch: int, value: float, proposal: Proposal = proposal) -> bool:
            observer.on_epoch(proposal, epoch, value)
            return backend.report(proposal, epoch, value)

        deadline = None
        if budget.deadline is not None:
            deadline = budget.deadline - reserve
            untried = sum(1 for s in states.values() if not s.results and not s.exhausted)
            if untried:
                # While some families still wait for their first trial, a trial may use only its
                # share of the time left, so that every family gets its default trial; processes
                # running trials beside this one take their shares at the same time.
                processes = 1 + backend.in_flight()
                deadline = min(deadline, time.monotonic() + (deadline - time.monotonic()) *
                               min(processes, untried) / untried)
        result = run_trial(family.name, proposal.params, split, settings,
                           seed=seed + proposal.number, number=proposal.number,
                           max_epochs=proposal.max_epochs, deadline=deadline, report=report)
        backend.tell(proposal, result)
        observer.on_trial_end(result)


def _next_family(states: dict[str, FamilyState]) -> FamilyState | None:
    open_states = [s for s in states.values() if not s.exhausted]
    untried = [s for s in open_states if not s.results]
    if untried:
        return untried[0]
    scored = [s for s in open_states if s.best is not None]
    return max(scored, key=FamilyState.optimistic_score, default=None)


def _reserve(states: dict[str, FamilyState]) -> float:
    """Time kept for after the search: each family's test refit, plus the winner's final refit."""
    refits = [s.refit_seconds() for s in states.values()]
    return sum(refits) + max(refits, default=0.0)


def fingerprint(split: Split, settings: TrialSettings, seed: int) -> dict[str, Any]:
    """What a stored study must match to be continued."""
    return {"n_users": split.n_users, "n_items": split.n_items,
            "n_interactions": int(len(split.items)), "protocol": split.protocol,
            "exclude_seen": split.exclude_seen, "objective": f"{settings.metric}@{settings.k}",
            "seed": seed, "id_order": "sorted"}
