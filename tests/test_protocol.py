"""The protocol end to end: no leakage, the stage each refit uses, seen-item policy, labels, and
results that do not depend on the order of the rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl_rec import AutoRecommender
from automl_rec.data.splitting import Split, StageData
from automl_rec.datasets import make_interactions
from automl_rec.evaluation import evaluate_holdout
from automl_rec.leaderboard import CandidateResult
from automl_rec.models.baselines import Baseline
from automl_rec.tuning import candidates
from automl_rec.tuning.baselines import run_baseline
from automl_rec.tuning.trial import TrialSettings
from tests.conftest import split_of


class Memoriser(Baseline):
    """Scores exactly the items of the user's stage: perfect if the stage held the target."""

    name = "memoriser"
    stages: list[int] = []

    def _fit(self, data: StageData) -> None:
        Memoriser.stages.append(data.matrix.nnz)
        self._matrix = data.matrix

    def score(self, users: np.ndarray) -> np.ndarray:
        scores = self._matrix[users].toarray()
        return np.where(scores > 0, 1.0, -np.inf)


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return make_interactions(n_users=150, n_items=60, seed=3)


def without_repeats(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop_duplicates(["customer_id", "sku"], keep="last")


def test_a_scorer_that_could_see_the_targets_scores_nothing(log: pd.DataFrame) -> None:
    split = split_of(without_repeats(log), exclude_seen=False)
    Memoriser.stages = []
    result = run_baseline(Memoriser, split)
    assert result.valid["hr@10"] == 0.0 and result.test["hr@10"] == 0.0
    # The control: the same scorer given the held-out interactions finds every target.
    cheat = Memoriser().fit(split.stage("all"))
    k = split.n_items
    assert evaluate_holdout(cheat.score, split.holdout("test"), exclude_seen=False,
                            k=k).metrics()[f"hr@{k}"] == 1.0
    # Tuned on train, refit on train + validation for test: never on the held-out fold.
    assert Memoriser.stages[:2] == [split.stage("train").matrix.nnz,
                                    split.stage("train_valid").matrix.nnz]


def test_each_refit_uses_its_stage(log: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    split = split_of(log)
    stages: list[str] = []

    class Fitted:
        def score(self, users: np.ndarray) -> np.ndarray:
            return np.zeros((len(users), split.n_items), dtype=np.float32)

    def train_for(family: str, params: dict[str, Any], split: Split, stage: str, epochs: int,
                  seed: int, weights: Any = None, task: str = "ranking") -> Fitted:
        assert task == "ranking"
        stages.append(stage)
        return Fitted()

    from automl_rec import api
    from automl_rec.tuning import trial as trial_module

    monkeypatch.setattr(trial_module, "train_for", train_for)
    trial = CandidateResult("mlp", "youtube", {}, epochs=3, number=0)
    candidates.score_on_test(trial, split, TrialSettings("ndcg", 10, 5, 2), seed=0)
    api._refit_on_all(trial, split, seed=0, k=10)
    assert stages == ["train_valid", "all"]


def test_a_trial_held_in_memory_is_refreshed_on_each_later_stage(
        log: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    from automl_rec import api
    from automl_rec.models import default_space
    from automl_rec.tuning import trial as trial_module
    from automl_rec.tuning.trial import run_trial

    split = split_of(log)
    params = default_space("mlp").completed({"design": "youtube"})
    settings = TrialSettings("ndcg", 10, 3, 2)
    result = run_trial("mlp", params, split, settings, seed=0, number=0)
    assert result.weights is not None
    result.epochs = 3  # its best epoch past a refresh's epochs (else it is retrained)
    trial_weights = [w.copy() for w in result.weights]
    calls: list[tuple[str, list[np.ndarray]]] = []

    train_for = trial_module.train_for

    def refresh(family: str, params: dict[str, Any], split: Split, stage: str, epochs: int,
                seed: int, weights: list[np.ndarray] | None = None,
                task: str = "ranking") -> Any:
        assert weights is not None
        calls.append((stage, [w.copy() for w in weights]))
        return train_for(family, params, split, stage, epochs, seed, weights=weights, task=task)

    monkeypatch.setattr(trial_module, "train_for", refresh)
    candidates.score_on_test(result, split, settings, seed=0)
    assert result.test["ndcg@10"] >= 0
    api._refit_on_all(result, split, seed=0, k=10)
    # The scored model and the exported one both start from the trial's weights and train the
    # same epochs on their stage (train + validation; all the data).
    assert [stage for stage, _ in calls] == ["train_valid", "all"]
    for _, weights in calls:
        assert all(np.array_equal(a, b) for a, b in zip(weights, trial_weights))
    assert api._refit_description(result)["how"] == "refresh"


def test_a_refit_never_takes_a_model_past_its_best_number_of_passes() -> None:
    from automl_rec.leaderboard import CandidateResult
    from automl_rec.tuning.trial import refit_plan

    def trial(epochs: int, held: bool = True) -> CandidateResult:
        result = CandidateResult("lstm", "gru", {}, number=0)
        result.epochs, result.weights = epochs, [np.zeros(1)] if held else None
        return result

    assert refit_plan(trial(6)) == ("refresh", 1)
    assert refit_plan(trial(1)) == ("retrain", 1)
    assert refit_plan(trial(6, held=False)) == ("retrain", 6)
    # Click and rating models overfit on a second pass over their rows: always retrained.
    assert refit_plan(trial(6), "ctr") == ("retrain", 6)
    assert refit_plan(trial(2), "rating") == ("retrain", 2)


def test_seen_items_stay_recommendable_when_exclude_seen_is_off(log: pd.DataFrame) -> None:
    kept = AutoRecommender(families=["baselines"], exclude_seen=False).fit(log)
    excluded = AutoRecommender(families=["baselines"], exclude_seen=True).fit(log)
    assert kept.split_.exclude_seen is False and excluded.split_.exclude_seen is True
    history = log.groupby("customer_id")["sku"].agg(set)
    users = sorted(history.index)[:30]

    def seen_in_lists(model: AutoRecommender) -> int:
        lists = model.recommend(users)
        return sum(item in history[user] for user, item in zip(lists["user_id"],
                                                                lists["item_id"]))

    assert seen_in_lists(excluded) == 0
    assert seen_in_lists(kept) > 0


def test_a_new_user_gets_the_items_most_popular_among_clicks() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for user in range(60):
        for step in range(12):
            shown = f"shown-{rng.integers(0, 5)}"  # shown to everyone, never clicked
            rows.append((f"u{user}", shown, 0, step * 2))
            liked = f"item-{min(rng.geometric(0.3), 15)}"
            rows.append((f"u{user}", liked, 1, step * 2 + 1))
    frame = pd.DataFrame(rows, columns=["user", "item", "clicked", "timestamp"])
    model = AutoRecommender(families=["baselines"], top_k=5).fit(frame)
    assert model.profile_.feedback["negatives"] == 720
    lists = model.recommend(["someone-new"])
    clicks = frame[frame["clicked"] == 1]["item"].value_counts()
    assert set(lists["item_id"]) == set(clicks.index[:5])
    assert not any(item.startswith("shown") for item in lists["item_id"])


def test_metrics_and_lists_do_not_depend_on_the_order_of_the_rows(log: pd.DataFrame) -> None:
    frame = log.copy()
    # Coarse times: many ties within users, broken by item id rather than by file order.
    frame["timestamp"] = pd.to_datetime(frame["timestamp"]).dt.floor("D")
    shuffled = frame.sample(frac=1.0, random_state=5).reset_index(drop=True)
    one = AutoRecommender(families=["baselines"]).fit(frame)
    other = AutoRecommender(families=["baselines"]).fit(shuffled)
    for first, second in zip(one.results_, other.results_):
        assert first.model == second.model and first.params == second.params
        assert first.valid == second.valid and first.test == second.test
    users = sorted(frame["customer_id"].unique())[:25]
    pd.testing.assert_frame_equal(one.recommend(users), other.recommend(users))


def test_a_trials_first_epoch_cost_counts_the_models_construction(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from automl_rec.models import default_space
    from automl_rec.tuning.objective import RankingObjective
    from automl_rec.tuning.trial import TrialRun

    build = RankingObjective.build

    def slow_build(self: Any, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.5)  # a refit builds its model too: what foresees it must count this
        return build(self, *args, **kwargs)

    monkeypatch.setattr(RankingObjective, "build", slow_build)
    split = split_of(make_interactions(n_users=30, n_items=20, seed=1))
    params = default_space("mlp").defaults()
    run = TrialRun("mlp", params, split, TrialSettings("ndcg", 10, 2, 2), seed=0, number=0)
    run.advance()
    assert run.result.first_epoch_seconds == pytest.approx(run.first_epoch_cost)
    assert run.first_epoch_cost >= run.durations[0] + 0.5
    assert run.refresh_cost(1) == pytest.approx(run.first_epoch_cost)
