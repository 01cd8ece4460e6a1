"""The search loop: budgets, the order in which families get trials, and resuming.

Budget across families (with a time budget): the baselines run first; then every applicable
family gets its default trial on a cheap *screening rung* that spends about ``SCREENING_SHARE``
of the time left (each family an equal share; processes running trials beside this one take
theirs at the same time; a trial trains two epochs before it may pause, and one that overran its
share does not shorten the shares of the families after it). A screening trial still improving
when its share is spent is paused, its model kept in memory. Then the families are halved: the
better half by validation score (at least one) is promoted, with every paused trial that is not
yet clearly better than the popularity baseline (next-item models learn popularity first: the
rung cannot judge them, the next one does) and every paused trial whose latest epoch rose by
more than its gap to the better half (a slow starter, at that pace past the half's last score
after one more epoch: a rung of a few epochs misjudges it); the paused trials of those go on
from where they stopped, by successive halving again (rungs of equal time; the better half of
the paused trials goes on after each, and the last one trains until it stops), and every later
trial goes to a promoted family, the one with the highest *optimistic score*
``best validation score x (1 + 1 / trials so far)`` (a family ahead keeps getting trials; one
behind gets its next when the leader's bonus has shrunk enough). The other families' paused
trials end there, with their screening score. A family whose trials all failed gets no more.
Without a time budget there is no rung and no halving: families take turns by optimistic score
until ``max_trials``.

The search stops when ``max_trials`` trials exist (those of earlier runs of the same study, and
of every process sharing it, count) or when the time left, less the time reserved for the final
refits, would not hold two more epochs of the chosen family. A trial running when the time runs
out stops after its current epoch and keeps its best epoch; its deadline is taken anew after
each epoch, with the trial counted in the reserve. The refits are short (see
:func:`automl_rec.tuning.trial.model_on_stage`): the reserve is one refit of each promoted
family's best model, plus one of the family ahead (the likely winner; of the two ahead, one
more validation scoring of the pool's models and the ensemble's bridge trial's test refit,
where an ensemble may win).
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Hashable, Protocol

from automl_rec.data.features import has_used_columns
from automl_rec.data.profiling import DataProfile
from automl_rec.data.splitting import Split
from automl_rec.leaderboard import COMPLETE, SKIPPED, CandidateResult
from automl_rec.models import default_space, family_module
from automl_rec.spaces import SearchSpace
from automl_rec.tasks import RANKING
from automl_rec.tasks.designs import pointwise_space, unsupported_reason
from automl_rec.tuning.backends import Proposal, SearchBackend
from automl_rec.tuning.budget import Budget
from automl_rec.tuning.ensemble import bridge_trial, reads_attributes, scoring_seconds
from automl_rec.tuning.objective import Objective
from automl_rec.tuning.trial import (STOPPED_BY_BUDGET, TrialRun, TrialSettings, refit_plan,
                                    refit_seconds)


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
    objective: Objective
    results: list[CandidateResult] = field(default_factory=list)
    exhausted: bool = False

    @property
    def best(self) -> CandidateResult | None:
        complete = [r for r in self.results if r.status == COMPLETE]
        return max(complete, key=lambda r: self.objective.score(r.valid), default=None)

    def optimistic_score(self) -> float:
        """Best validation score with a bonus that shrinks as the family gets more trials."""
        best = self.best
        if best is None:
            return float("-inf")
        value = self.objective.score(best.valid)
        return value + abs(value) / len(self.results)

    def epoch_seconds(self) -> float:
        """Typical seconds of one of the family's epochs, validation scoring included."""
        seconds = [r.seconds / len(r.curve) for r in self.results if r.curve]
        return statistics.median(seconds) if seconds else 0.0

    def judge_seconds(self) -> float:
        """Rough seconds of scoring the family's best model on the validation users again
        (its epochs' cost less their training)."""
        return 0.0 if self.best is None else scoring_seconds(self.best)

    def refit_seconds(self) -> float:
        """Rough cost of the refits of the family's best configuration (:func:`refit_plan`)."""
        best = self.best
        return 0.0 if best is None else trial_refit_seconds(best, self.objective.task)


def trial_refit_seconds(result: CandidateResult, task: str) -> float:
    """Rough cost of a refit of a trial's configuration (:func:`refit_plan`), from its
    epochs' times (0 without an epoch)."""
    if not result.curve:
        return 0.0
    per_epoch = result.seconds / len(result.curve)
    first = result.first_epoch_seconds or 2 * per_epoch  # older records: a generous guess
    return refit_seconds(first, per_epoch, refit_plan(result, task)[1])


def prepare_families(
    families: list[str], profile: DataProfile, spaces: dict[str, SearchSpace],
    task: str = RANKING, ordered: bool = True,
) -> tuple[dict[str, SearchSpace], list[CandidateResult]]:
    """Each family's space for the task, adapted to the data, and a ``skipped`` record for
    those that do not apply (with the family's reason). ``ordered``: whether a pointwise
    task's rows have a time order (its history designs need one)."""
    prepared, skipped = {}, []
    for name in families:
        if task != RANKING:
            reason = unsupported_reason(name, task, ordered)
            space = None if reason else spaces.get(name) or pointwise_space(
                name, task, ordered,
                has_used_columns(profile.features, ("items", "users", "context")))
        else:
            module = family_module(name)
            reason = module.unsupported_reason(profile)
            space = None if reason else module.adapt_space(
                spaces.get(name) or default_space(name), profile)
        if space is None:
            skipped.append(CandidateResult(name, "-", {}, SKIPPED, reason or ""))
            continue
        prepared[name] = space
    return prepared, skipped


logger = logging.getLogger("automl_rec")

SCREENING_SHARE = 0.2
SCREENED_OUT = "screened out: not promoted after the screening rung"


@dataclass
class SearchOutcome:
    """What a search leaves: every trial's result, and the families the screening rung left
    out (they get no test score and no refit)."""

    results: list[CandidateResult]
    screened_out: list[str] = field(default_factory=list)


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
    reference: float | None = None,
    final_refits: int = 1,
    judged: int = 0,
) -> SearchOutcome:
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
        reference: The validation objective a model must pass to be clearly better than the
            popularity baseline. A next-item model learns item popularity first and what
            follows what later, so a trial still training whose screening score does not pass
            it has not shown what it learns: its family is promoted without being ranked (it
            is judged after the next rung, as every paused trial is). ``None``: every family
            is ranked.
        final_refits: Families whose refit on all the data the time reserved for after the
            search holds (the likely winner's; two where the winner may be an ensemble of the
            best families, :mod:`automl_rec.tuning.ensemble`).
        judged: Families whose best model the time reserved holds one more validation scoring
            of (an ensemble's pool, judged again after the search).

    Returns:
        Every trial's result, those of earlier runs and of other processes included (each
        family's best trial run by this process keeps its trained weights, ``weights``), and
        the families screened out.
    """
    observer = observer or SilentObserver()
    objective = settings.objective
    states = {name: FamilyState(name, space, objective, backend.register(name, space))
              for name, space in spaces.items()}
    if not worker:
        backend.open_run(record or {})
    search = _Search(states, split, backend, settings, budget, seed, observer, poll_seconds,
                     reference, final_refits, judged)
    try:
        search.run()
    finally:
        search.end_paused("the search ended before it was taken further")
        if not worker:
            backend.close_run()
    if not worker:
        while backend.in_flight():
            time.sleep(poll_seconds)
    results = search.with_kept_weights(
        [result for state in states.values() for result in backend.results(state.name)])
    return SearchOutcome(results, sorted(search.screened_out))


class _Search:
    """One process's part of a search (see the module docstring for the schedule)."""

    def __init__(self, states: dict[str, FamilyState], split: Split, backend: SearchBackend,
                 settings: TrialSettings, budget: Budget, seed: int, observer: SearchObserver,
                 poll_seconds: float, reference: float | None, final_refits: int = 1,
                 judged: int = 0) -> None:
        self.states, self.split, self.backend = states, split, backend
        self.settings, self.budget, self.seed = settings, budget, seed
        self.observer, self.poll_seconds = observer, poll_seconds
        self.reference = reference
        self.final_refits, self.judged = final_refits, judged
        self.paused: dict[str, tuple[Proposal, TrialRun]] = {}
        # The trials whose weights this process keeps: each family's best, and where trials
        # choose whether to read the item table, the best of each choice (the ensemble's
        # bridge trial is one of them).
        self.kept: dict[Hashable, CandidateResult] = {}
        self.running: tuple[str, TrialRun] | None = None  # the trial training now
        self.promoted = budget.deadline is None  # no rung without a time budget
        self.screened_out: set[str] = set()
        self.rung: list[str] = []  # paused trials still to take on in the current rung
        self.rung_share = 0.0
        self.rung_number = 0
        left = budget.left()
        self.screening_end = (None if left is None
                              else time.monotonic() + SCREENING_SHARE * max(left, 0.0))
        # No family's screening share is less than an equal part of the rung's time, whatever
        # the families before it overran (a trial trains two epochs before it may pause).
        self.least_share = 0.0 if left is None else \
            SCREENING_SHARE * max(left, 0.0) / max(len(states), 1)

    def run(self) -> None:
        while True:
            for state in self.states.values():
                state.results = self.with_kept_weights(self.backend.results(state.name))
            if self.backend.closed():
                return
            total = sum(len(s.results) for s in self.states.values()) + len(self.paused)
            if self.budget.max_trials is not None and total >= self.budget.max_trials:
                return
            untried = self._untried()
            if not untried and not self.promoted:
                self._promote()
            if self.paused and not untried:
                self._resume()
                continue
            family = untried[0] if untried else self._next_family()
            if family is None:
                return
            reserve = self._reserve()
            deadline = None if self.budget.deadline is None else self.budget.deadline - reserve
            if deadline is not None:
                cost = 2 * family.epoch_seconds()
                if time.monotonic() + cost >= deadline:
                    logger.info("search ends: %.0f s to the deadline, %.0f s of them kept for "
                                "the refits", self.budget.deadline - time.monotonic(), reserve)
                    return
            others = max(self.backend.in_flight() - len(self.paused), 0)
            if self.budget.max_trials is not None and total + others >= self.budget.max_trials:
                time.sleep(self.poll_seconds)  # the last trials run elsewhere; one may be lost
                continue
            proposal = self.backend.ask(family.name)
            if proposal is None:
                family.exhausted = True
                continue
            if not self.backend.claim(proposal, self.budget.max_trials):
                time.sleep(self.poll_seconds)
                continue
            self.observer.on_trial_start(proposal)
            run = TrialRun(family.name, proposal.params, self.split, self.settings,
                           seed=self.seed + proposal.number, number=proposal.number,
                           max_epochs=proposal.max_epochs)
            pause_at = None
            if untried and self.screening_end is not None:
                # Screening: this family's share of the rung's time (processes running trials
                # beside this one take their shares at the same time).
                processes = 1 + others
                share = max(self.screening_end - time.monotonic(), 0.0) \
                    * min(processes, len(untried)) / len(untried)
                pause_at = time.monotonic() + max(share, self.least_share)
            if self._advance(family.name, run, pause_at, self._reporter(proposal)):
                self._finish(proposal, run)
            else:
                self.paused[family.name] = (proposal, run)
                logger.info("screening: %s #%s paused after epoch %d (valid %.4f)",
                            family.name, proposal.number, run.epoch, run.best)

    def _advance(self, name: str, run: TrialRun, pause_at: float | None, report: Any) -> bool:
        """Train a trial on (:meth:`TrialRun.advance`) until the budget's deadline less the
        reserve, which is taken anew after each epoch with the trial counted in it: a trial
        that becomes its family's best, or a new family's first, adds its own refit."""
        deadline = None if self.budget.deadline is None else self._trial_deadline
        self.running = (name, run)
        try:
            ended = run.advance(deadline=deadline, pause_at=pause_at, report=report)
            if deadline is not None and run.result.reason.startswith(STOPPED_BY_BUDGET):
                logger.info("%s #%s stopped: %.0f s to the deadline, %.0f s of them kept for "
                            "the refits", name, run.result.number,
                            self.budget.left(), self._reserve())
            return ended
        finally:
            self.running = None

    def _trial_deadline(self) -> float:
        assert self.budget.deadline is not None
        return self.budget.deadline - self._reserve()

    def with_kept_weights(self, results: list[CandidateResult]) -> list[CandidateResult]:
        """``results`` (rebuilt from the backend's records) with the weights this process keeps
        for each family's best trial put back."""
        weights = {(kept.family, kept.number): kept.weights for kept in self.kept.values()}
        for result in results:
            if (result.family, result.number) in weights:
                result.weights = weights[(result.family, result.number)]
        return results

    def _untried(self) -> list[FamilyState]:
        return [s for s in self.states.values()
                if not s.results and not s.exhausted and s.name not in self.paused]

    def _score(self, state: FamilyState) -> float:
        best = state.best
        score = state.objective.score(best.valid) if best is not None else -math.inf
        if state.name in self.paused:
            score = max(score, self.paused[state.name][1].best)
        if self.running is not None and self.running[0] == state.name:
            score = max(score, self.running[1].best)
        return score

    def _promote(self) -> None:
        """Halve the families after the screening rung: the better half of those that have
        learned more than item popularity goes on, with every paused trial that has not yet
        (see ``reference`` in :func:`run_search`), and every paused trial below the better
        half whose latest epoch rose fast enough to pass the half's last score with one more
        such epoch (a model that starts slowly is not judged by two epochs)."""
        self.promoted = True
        ranked = sorted((s for s in self.states.values() if self._score(s) > -math.inf),
                        key=self._score, reverse=True)
        undecided = [s for s in ranked if self._undecided(s)]
        judged = [s for s in ranked if s not in undecided]
        keep = math.ceil(len(judged) / 2)  # at least one, when any was judged
        cutoff = self._score(judged[keep - 1]) if judged else math.inf
        rising = [s for s in judged[keep:] if s.name in self.paused
                  and self.paused[s.name][1].projected() >= cutoff]
        promoted = judged[:keep] + rising + undecided
        out = [s for s in ranked if s not in promoted]
        logger.info("after the screening rung: promoted %s%s%s; screened out %s",
                    [s.name for s in promoted],
                    f" ({[s.name for s in undecided]} not yet past popularity)" if undecided
                    else "",
                    f" ({[s.name for s in rising]} still rising past the cutoff)" if rising
                    else "", [s.name for s in out])
        for state in out:
            state.exhausted = True
            self.screened_out.add(state.name)
            if state.name in self.paused:
                proposal, run = self.paused.pop(state.name)
                self._finish(proposal, run, SCREENED_OUT)
        # A screened-out family's trial is no bridge trial: later trials take its place.
        self.kept = {key: kept for key, kept in self.kept.items()
                     if key == kept.family or kept.family not in self.screened_out}

    def _undecided(self, state: FamilyState) -> bool:
        """Whether the screening rung cannot judge the family: its trial is still training
        (paused) and has not passed the popularity reference."""
        return (self.reference is not None and state.name in self.paused
                and self._score(state) <= self.reference)

    def _resume(self) -> None:
        """Take the next paused trial on (or end it when two more of its epochs would not fit).

        The paused trials go on by successive halving: each rung gives every one of them an
        equal part of the rung's time, then the better half (at least one) goes on to the next
        rung; every rung has an equal part of the time left, and the last trial standing trains
        until it stops or the time runs out.
        """
        assert self.budget.deadline is not None  # trials pause only with a time budget
        deadline = self.budget.deadline - self._reserve()
        now = time.monotonic()
        if not self.rung:
            self._halve()
            self.rung = sorted(self.paused, key=lambda n: -self._score(self.states[n]))
            rungs = 1 + math.ceil(math.log2(len(self.rung))) if len(self.rung) > 1 else 1
            self.rung_share = max(deadline - now, 0.0) / rungs / len(self.rung)
        name = self.rung.pop(0)
        proposal, run = self.paused[name]
        del self.paused[name]
        if now + 2 * run.epoch_cost >= deadline:
            logger.info("no time left to take %s #%s on", name, proposal.number)
            self._finish(proposal, run, "the time left would not hold two more epochs")
            return
        last = not self.rung and not self.paused
        logger.info("taking %s #%s on from epoch %d%s", name, proposal.number, run.epoch,
                    "" if last else f", for {self.rung_share:.0f} s")
        if self._advance(name, run, None if last else now + self.rung_share,
                         self._reporter(proposal)):
            self._finish(proposal, run)
        else:
            self.paused[name] = (proposal, run)

    def _halve(self) -> None:
        """After a rung of paused trials, end the worse half of them (not the first rung's
        families: the screening halving has dealt with those)."""
        if self.rung_number:
            ranked = sorted(self.paused, key=lambda n: -self._score(self.states[n]))
            for name in ranked[max(1, math.ceil(len(ranked) / 2)):]:
                proposal, run = self.paused.pop(name)
                self._finish(proposal, run, f"not promoted after rung {self.rung_number} of "
                                            "the halving")
        self.rung_number += 1

    def _reporter(self, proposal: Proposal) -> Any:
        def report(epoch: int, value: float) -> bool:
            self.observer.on_epoch(proposal, epoch, value)
            return self.backend.report(proposal, epoch, value)

        return report

    def _finish(self, proposal: Proposal, run: TrialRun, reason: str | None = None) -> None:
        result = run.end(reason)
        self.backend.tell(proposal, result)
        self.observer.on_trial_end(result)
        score = self.states[proposal.family].objective.score
        keys: list[Hashable] = [proposal.family]
        if "item_features" in result.params:
            keys.append(("item table", reads_attributes(result)))
        better = [key for key in keys if key not in self.kept
                  or score(result.valid) > score(self.kept[key].valid)]
        if result.weights is not None and better:
            self.kept.update({key: result for key in better})
        else:
            result.weights = None  # only the trials kept (see ``kept``) keep their weights

    def end_paused(self, reason: str) -> None:
        for name in list(self.paused):
            proposal, run = self.paused.pop(name)
            self._finish(proposal, run, reason)

    def _next_family(self) -> FamilyState | None:
        open_states = [s for s in self.states.values()
                       if not s.exhausted and s.name not in self.paused]
        scored = [s for s in open_states if s.best is not None]
        return max(scored, key=FamilyState.optimistic_score, default=None)

    def _reserve(self) -> float:
        """Time kept for after the search: the test refit of each family not screened out (a
        paused trial counts as its family's best, and the trial training now as its family's
        best where its refit costs more), plus the final refit of the
        ``final_refits`` families ahead now (the likely winner, or the members of an
        ensemble), plus the validation scoring of the ``judged`` families ahead (an
        ensemble's pool, judged again on validation) and two more scorings of the
        ``final_refits`` ahead (the ensemble's validation and test figures)."""
        refits = {s.name: s.refit_seconds() for s in self.states.values()
                  if s.name not in self.screened_out}
        refits.update({name: self._refit_cost(run) for name, (_, run) in self.paused.items()})
        if self.running is not None:
            name, run = self.running
            refits[name] = max(refits.get(name, 0.0), self._refit_cost(run))
        leaders = sorted(refits, key=lambda name: self._score(self.states[name]), reverse=True)
        judging = sum(self.states[name].judge_seconds() for name in leaders[:self.judged])
        if self.judged:  # the ensemble of the two ahead, judged on validation and on test
            judging += 2 * sum(self.states[name].judge_seconds()
                               for name in leaders[:self.final_refits])
        return (sum(refits.values()) + sum(refits[name] for name in leaders[:self.final_refits])
                + judging + self._bridge_seconds())

    def _bridge_seconds(self) -> float:
        """Time for the test refit of an ensemble's bridge trial (where an ensemble may win,
        and the bridge is not its family's best, whose refit counts already)."""
        if not self.judged:
            return 0.0
        trials = [r for s in self.states.values() if s.name not in self.screened_out
                  for r in s.results]
        bridge = bridge_trial(trials, self.settings.objective.score)
        if bridge is None or bridge is self.states[bridge.family].best:
            return 0.0
        return trial_refit_seconds(bridge, self.settings.task)

    def _refit_cost(self, run: TrialRun) -> float:
        """Rough seconds of the refit of a trial this process holds (0 before its first
        epoch)."""
        return run.refresh_cost(refit_plan(run.result, self.settings.task, held=True)[1])


def fingerprint(split: Split, settings: TrialSettings, seed: int) -> dict[str, Any]:
    """What a stored study must match to be continued."""
    record = {"n_users": split.n_users, "n_items": split.n_items,
              "n_interactions": int(len(split.items)), "protocol": split.protocol,
              "exclude_seen": getattr(split, "exclude_seen", None),
              "objective": settings.objective.key, "seed": seed, "id_order": "sorted"}
    if settings.task != RANKING:  # records of ranking studies stay as they were
        record["task"] = settings.task
    return record
