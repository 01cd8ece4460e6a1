"""The search's schedule with a time budget: a screening rung for every family, then halving,
paused trials taken on, later trials only for promoted families (trials simulated, no
training)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from automl_rec.datasets import make_interactions
from automl_rec.leaderboard import COMPLETE, CandidateResult
from automl_rec.models import default_space
from automl_rec.tuning import search as search_module
from automl_rec.tuning.backends import make_backend
from automl_rec.tuning.budget import Budget
from automl_rec.tuning.search import run_search
from automl_rec.tuning.trial import TrialSettings
from tests.conftest import split_of

SCORES = {"mlp": 0.30, "cnn": 0.10, "lstm": 0.40, "attention": 0.20}
EPOCH = 0.02


class FakeRun:
    """A trial whose validation score is its family's, a little higher each epoch."""

    calls: list[tuple[str, int | None, bool]] = []
    shares: dict[str, float] = {}  # each family's first screening share, in seconds
    overrun: dict[str, float] = {}  # seconds a family's screening trial runs past its share
    rises: dict[str, float] = {}  # a family's rise over its latest epoch (default 0.001)

    def __init__(self, family: str, params: dict[str, Any], split: Any, settings: Any, *,
                 seed: int, number: int | None = None, max_epochs: int | None = None) -> None:
        self.family, self.number = family, number
        self.epoch, self.seconds, self.finished = 0, 0.0, False
        self.result = CandidateResult(family, "x", dict(params), number=number)

    @property
    def best(self) -> float:
        return SCORES[self.family] + 0.001 * self.epoch if self.epoch else float("-inf")

    def projected(self) -> float:
        return self.best + FakeRun.rises.get(self.family, 0.001)

    @property
    def epoch_cost(self) -> float:
        return EPOCH

    def refresh_cost(self, epochs: int) -> float:
        return EPOCH * epochs

    def advance(self, *, deadline: Any = None, pause_at: float | None = None,
                report: Any = None) -> bool:
        FakeRun.calls.append((self.family, self.number, pause_at is not None))
        if pause_at is not None:
            FakeRun.shares.setdefault(self.family, pause_at - time.monotonic())
            time.sleep(FakeRun.overrun.get(self.family, 0.0))
        for _ in range(200 if deadline is not None else 3):
            time.sleep(EPOCH)
            self.epoch += 1
            self.seconds += EPOCH
            if pause_at is not None and time.monotonic() + EPOCH >= pause_at:
                return False
            if deadline is not None and time.monotonic() + EPOCH >= (
                    deadline() if callable(deadline) else deadline):
                break
        self.finished = True
        return True

    def end(self, reason: str | None = None) -> CandidateResult:
        result = self.result
        result.status, result.reason = COMPLETE, reason or ""
        result.valid, result.epochs = {"ndcg@10": self.best}, self.epoch
        result.curve = [self.best] * self.epoch
        result.seconds = self.seconds
        result.weights = [self.epoch]
        return result


@pytest.fixture()
def fake_runs(monkeypatch: pytest.MonkeyPatch) -> type[FakeRun]:
    FakeRun.calls, FakeRun.shares, FakeRun.overrun, FakeRun.rises = [], {}, {}, {}
    monkeypatch.setattr(search_module, "TrialRun", FakeRun)
    monkeypatch.setattr(search_module, "refit_plan",
                        lambda result, task="ranking", held=None: ("refresh", 1))
    return FakeRun


def search(seconds: float | None, max_trials: int | None = None,
           reference: float | None = None, promoted: set[str] | None = None
           ) -> list[CandidateResult]:
    split = split_of(make_interactions(n_users=30, n_items=20, seed=1))
    backend = make_backend("optuna", directory=None, storage=None, study_name="s", seed=0,
                           max_epochs=3, fingerprint={})
    spaces = {name: default_space(name) for name in SCORES}
    budget = Budget.starting(time.monotonic(), seconds, max_trials)
    outcome = run_search(split, spaces, backend, TrialSettings(), budget, seed=0,
                         reference=reference)
    promoted = {"lstm", "mlp"} if promoted is None else promoted
    assert outcome.screened_out == (sorted(set(SCORES) - promoted) if seconds else [])
    return outcome.results


def test_every_family_is_screened_then_the_better_half_goes_on(fake_runs: type[FakeRun]
                                                                ) -> None:
    started = time.monotonic()
    results = search(3.0)
    used = time.monotonic() - started
    screening = fake_runs.calls[:len(SCORES)]
    assert {family for family, _, _ in screening} == set(SCORES)  # every family on the rung
    assert all(paused for _, _, paused in screening)
    screened_out = {r.family for r in results if r.reason.startswith("screened out")}
    assert screened_out == {"cnn", "attention"}
    later = [family for family, _, _ in fake_runs.calls[len(SCORES):]]
    # Rung 1 of the halving takes both promoted trials on, the best first; then only the best
    # goes on, to the end of the budget.
    assert later[:3] == ["lstm", "mlp", "lstm"]
    assert set(later) <= {"lstm", "mlp"}
    reasons = {r.family: r.reason for r in results if r.number == 0}
    assert reasons["mlp"] == "not promoted after rung 1 of the halving"
    # The screening rung takes about a fifth of the budget, and the search uses the rest.
    assert used >= 0.9 * 3.0
    # Only each family's best trial keeps its weights.
    for family in SCORES:
        kept = [r for r in results if r.family == family and r.weights is not None]
        assert len(kept) == 1
        assert kept[0].valid["ndcg@10"] == max(r.valid["ndcg@10"] for r in results
                                               if r.family == family)


def test_families_not_yet_past_popularity_get_the_next_rung(fake_runs: type[FakeRun]) -> None:
    # Popularity scores 0.25: cnn and attention have not learned more than it yet. They are
    # promoted unranked; of lstm and mlp, the better half goes on; after rung 1 of the halving
    # the scores decide for all.
    results = search(3.0, reference=0.25, promoted={"lstm", "cnn", "attention"})
    later = [family for family, _, _ in fake_runs.calls[len(SCORES):]]
    assert later[:3] == ["lstm", "attention", "cnn"]  # rung 1, the best first
    reasons = {r.family: r.reason for r in results if r.number == 0}
    assert reasons["mlp"].startswith("screened out")
    assert reasons["cnn"] == "not promoted after rung 1 of the halving"
    assert set(later) <= {"lstm", "attention", "cnn"}


def test_a_family_still_rising_past_the_cutoff_is_not_screened_out(fake_runs: type[FakeRun]
                                                                    ) -> None:
    # attention (0.20) rose by 0.12 in its latest epoch: one more such epoch takes it past mlp
    # (0.30), the better half's last score; cnn (0.10) rises too, but not by enough.
    fake_runs.rises.update({"attention": 0.12, "cnn": 0.15})
    results = search(3.0, promoted={"lstm", "mlp", "attention"})
    later = [family for family, _, _ in fake_runs.calls[len(SCORES):]]
    assert later[:3] == ["lstm", "mlp", "attention"]  # rung 1 of the halving, the best first
    reasons = {r.family: r.reason for r in results if r.number == 0}
    assert reasons["cnn"].startswith("screened out")


def test_the_projection_is_the_latest_value_plus_its_latest_rise() -> None:
    from automl_rec.tuning.trial import TrialRun

    split = split_of(make_interactions(n_users=30, n_items=20, seed=1))
    run = TrialRun("lstm", default_space("lstm").completed({}), split, TrialSettings(), seed=0)
    assert run.projected() == float("-inf")
    run.result.curve = [0.10]
    assert run.projected() == pytest.approx(0.10)
    run.result.curve = [0.10, 0.16, 0.20]
    assert run.projected() == pytest.approx(0.24)
    run.result.curve = [0.10, 0.20, 0.18]  # a fall projects no further fall
    assert run.projected() == pytest.approx(0.18)


def test_a_family_that_overruns_its_share_does_not_shorten_the_next_ones(
        fake_runs: type[FakeRun]) -> None:
    fake_runs.overrun["mlp"] = 0.5  # the first family takes most of the rung's 0.6 s
    search(3.0)
    equal = 0.2 * 3.0 / len(SCORES)
    assert set(fake_runs.shares) == set(SCORES)
    assert all(share >= 0.9 * equal for share in fake_runs.shares.values())


def test_without_a_time_budget_there_is_no_rung_and_no_halving(fake_runs: type[FakeRun]
                                                               ) -> None:
    results = search(None, max_trials=8)
    assert len(results) == 8
    assert not any(screening for _, _, screening in fake_runs.calls)
    assert {r.family for r in results} == set(SCORES)
    assert not any(r.reason.startswith("screened out") for r in results)


def test_a_real_trial_pauses_on_its_rung_and_goes_on_where_it_stopped() -> None:
    from automl_rec.tuning.trial import TrialRun

    split = split_of(make_interactions(n_users=60, n_items=30, seed=4))
    params = default_space("lstm").completed({})
    run = TrialRun("lstm", params, split, TrialSettings(max_epochs=4, patience=10), seed=0,
                   number=0)
    # A rung with no time: the first epoch ends after one batch, and the trial pauses.
    assert not run.advance(pause_at=time.monotonic())
    assert run.epoch == 1 and run.model is not None and run.best > float("-inf")
    assert run.advance()  # taken on: it trains to its last epoch, keeping its model
    result = run.end()
    assert run.epoch == 4 and len(result.curve) == 4 and result.status == COMPLETE
    assert result.weights is not None and run.model is None


def test_the_reference_is_popularity_plus_two_standard_errors_of_its_validation_score() -> None:
    from automl_rec.models.baselines import EASE, Popularity
    from automl_rec.tuning.baselines import run_baseline
    from automl_rec.tuning.candidates import popularity_reference

    split = split_of(make_interactions(n_users=200, n_items=60, seed=2))
    baselines = [run_baseline(Popularity, split), run_baseline(EASE, split)]
    values = baselines[0].valid_result.per_user("ndcg")
    assert values.mean() == pytest.approx(baselines[0].valid["ndcg@10"])
    expected = values.mean() + 2 * values.std(ddof=1) / len(values) ** 0.5
    assert popularity_reference(baselines, TrialSettings()) == pytest.approx(expected)
    assert popularity_reference(baselines[1:], TrialSettings()) is None


def test_the_reserve_holds_the_refits_and_an_ensembles_judgement() -> None:
    from automl_rec.tuning.objective import objective_of
    from automl_rec.tuning.search import FamilyState, _Search

    def state(name: str, valid: float) -> FamilyState:
        # 4 epochs in 24 s, 4 s of each training: 2 s to score validation once; the first
        # epoch with the model's construction took 9 s, and one epoch refreshes the model.
        trial = CandidateResult(name, name, {}, valid={"ndcg@10": valid}, epochs=4,
                                seconds=24.0, curve=[valid] * 4, epoch_seconds=4.0,
                                first_epoch_seconds=9.0, weights=[])
        objective = objective_of("ranking", "ndcg", 10)
        return FamilyState(name, default_space(name), objective, [trial])

    states = {name: state(name, value) for name, value in
              (("cnn", 0.3), ("lstm", 0.2), ("attention", 0.1))}
    split = split_of(make_interactions(n_users=30, n_items=20, seed=1))

    def reserve(final_refits: int, judged: int) -> float:
        budget = Budget.starting(time.monotonic(), 100.0, None)
        return _Search(states, split, None, TrialSettings(), budget, 0, None, 1.0, None,
                       final_refits, judged)._reserve()

    assert states["cnn"].judge_seconds() == pytest.approx(2.0)
    assert reserve(1, 0) == pytest.approx(3 * 9.0 + 9.0)  # test refits, the winner's refit
    # An ensemble may win: the two ahead refit on all the data, every pool model is scored on
    # validation once more, and the two ahead twice more (the ensemble's figures).
    assert reserve(2, 4) == pytest.approx(3 * 9.0 + 2 * 9.0 + 3 * 2.0 + 2 * 2 * 2.0)


def test_the_reserve_counts_the_trial_training_now() -> None:
    from automl_rec.tuning.objective import objective_of
    from automl_rec.tuning.search import FamilyState, _Search

    objective = objective_of("ranking", "ndcg", 10)
    trial = CandidateResult("cnn", "cnn", {}, valid={"ndcg@10": 0.3}, epochs=4, seconds=24.0,
                            curve=[0.3] * 4, epoch_seconds=4.0, first_epoch_seconds=9.0,
                            weights=[])
    states = {"cnn": FamilyState("cnn", default_space("cnn"), objective, [trial]),
              "lstm": FamilyState("lstm", default_space("lstm"), objective, [])}
    split = split_of(make_interactions(n_users=30, n_items=20, seed=1))
    search = _Search(states, split, None, TrialSettings(), Budget.starting(
        time.monotonic(), 100.0, None), 0, None, 1.0, None, 1, 0)
    assert search._reserve() == pytest.approx(9.0 + 9.0)  # cnn's test and final refits

    class Running:
        """A new family's first trial, ahead of cnn, whose refit would take 30 s."""
        best = 0.5
        result = CandidateResult("lstm", "lstm", {}, epochs=3)

        def refresh_cost(self, epochs: int) -> float:
            return 30.0

    search.running = ("lstm", Running())  # type: ignore[assignment]
    # Its test refit, and the final refit is now its own: the likely winner.
    assert search._reserve() == pytest.approx(9.0 + 30.0 + 30.0)


def test_a_trial_stops_when_the_deadline_it_is_given_anew_has_come() -> None:
    from automl_rec.tuning.trial import TrialRun

    split = split_of(make_interactions(n_users=60, n_items=30, seed=4))
    params = default_space("lstm").completed({})
    run = TrialRun("lstm", params, split, TrialSettings(max_epochs=6, patience=10), seed=0,
                   number=0)
    far = time.monotonic() + 3600.0
    # The deadline moves an hour nearer once the first epoch is done (the reserve grew).
    assert run.advance(deadline=lambda: far if not run.durations else far - 3600.0)
    result = run.end()
    assert run.epoch == 1 and result.reason == "stopped by the time budget after epoch 1"


def test_the_search_keeps_the_weights_of_each_familys_best_and_each_item_table_uses_best(
) -> None:
    from types import SimpleNamespace

    from automl_rec.tuning.objective import objective_of
    from automl_rec.tuning.search import FamilyState, SilentObserver, _Search

    objective = objective_of("ranking", "ndcg", 10)
    states = {name: FamilyState(name, default_space(name), objective)
              for name in ("cnn", "lstm")}
    split = split_of(make_interactions(n_users=30, n_items=20, seed=1))
    backend = SimpleNamespace(tell=lambda proposal, result: None)
    search = _Search(states, split, backend, TrialSettings(), Budget(), 0, SilentObserver(),
                     1.0, None)
    finished = []
    for number, (family, features, valid) in enumerate((
            ("cnn", "attributes", 0.20), ("cnn", "none", 0.30), ("lstm", "none", 0.25),
            ("lstm", "attributes", 0.10), ("cnn", "attributes", 0.22))):
        result = CandidateResult(family, family, {"item_features": features},
                                 valid={"ndcg@10": valid}, number=number, weights=[number])
        run = SimpleNamespace(end=lambda reason=None, result=result: result)
        search._finish(SimpleNamespace(family=family), run)  # type: ignore[arg-type]
        finished.append(result)
    # cnn #1 and lstm #2: their families' best; cnn #4: the best trial reading attributes
    # (in its place, cnn #0 before it), cnn #1 the best reading ids only; lstm #3 was none.
    assert sorted(kept.number for kept in search.kept.values()) == [1, 1, 2, 4]
    assert finished[3].weights is None
    rebuilt = [CandidateResult(r.family, r.family, dict(r.params), number=r.number)
               for r in finished]
    assert [r.number for r in search.with_kept_weights(rebuilt) if r.weights is not None] == [
        1, 2, 4]
