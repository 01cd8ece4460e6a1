"""The ensemble candidate: members' log-softmax scores averaged, chosen on validation."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl_rec.datasets import make_interactions
from automl_rec.evaluation import evaluate
from automl_rec.leaderboard import ENSEMBLE, candidate_name
from automl_rec.models.ensemble import Ensemble, log_softmax
from automl_rec.tuning import ensemble as ensemble_module
from automl_rec.tuning.trial import TrialSettings
from tests.conftest import split_of


class Fixed:
    """A member whose scores are a fixed ``[users, items]`` table, ranking the items of
    ``scored_items`` (all by default) on their merits."""

    needs_user = False

    def __init__(self, table: np.ndarray, scored_items: np.ndarray | None = None) -> None:
        self.table = table.astype(np.float32)
        self.scored_items = (np.ones(table.shape[1], dtype=bool) if scored_items is None
                             else scored_items)

    def score(self, users: np.ndarray) -> np.ndarray:
        return self.table[np.asarray(users)]

    def item_scores(self, users: Any, rows: Any) -> Any:
        import tensorflow as tf

        return tf.gather(tf.constant(self.table), users)


def complementary(n_users: int = 40, n_items: int = 30) -> tuple[Fixed, Fixed, np.ndarray]:
    """Two members that each put the target first for half of the users (``a`` for even
    users, ``b`` for odd ones) and rank it low for the other half."""
    rng = np.random.default_rng(3)
    targets = rng.integers(n_items, size=n_users)
    a, b = rng.random((n_users, n_items)), rng.random((n_users, n_items))
    users = np.arange(n_users)
    a[users, targets] = np.where(users % 2 == 0, 6.0, -1.0)
    b[users, targets] = np.where(users % 2 == 1, 6.0, -1.0)
    return Fixed(a), Fixed(b), targets


def test_the_ensemble_averages_log_softmax_and_keeps_an_absent_item_last() -> None:
    a, b, _ = complementary()
    absent = np.arange(a.table.shape[1]) != 0
    a, b = Fixed(a.table, absent), Fixed(b.table, absent)  # an item neither member's stage has
    a.table[:, 0] = b.table[:, 0] = -1e9
    users = np.arange(5)
    together = Ensemble([a, b])
    assert together.cold_items is None  # both rank the same items
    expected = (log_softmax(a.table[users]) + log_softmax(b.table[users])) / 2
    np.testing.assert_allclose(together.score(users)[:, 1:], expected[:, 1:], rtol=1e-5)
    assert (together.score(users).argmin(axis=1) == 0).all()
    # Adding a constant to a member's logits changes nothing: each member is on one scale.
    shifted = Ensemble([Fixed(a.table + 100.0), b])
    np.testing.assert_allclose(shifted.score(users), together.score(users), atol=1e-4)
    graph = np.asarray(together.item_scores(users, None))
    np.testing.assert_allclose(graph, together.score(users), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        Ensemble([a])


def test_an_item_only_some_members_rank_is_scored_by_them_with_the_cold_offset() -> None:
    import tensorflow as tf

    a, b, _ = complementary()
    ids = Fixed(a.table, np.arange(a.table.shape[1]) >= 2)  # items 0 and 1 are cold to it
    ids.table[:, :2] = -1e9
    together = Ensemble([ids, b])  # b reads attributes: it ranks every item
    assert together.cold_items is not None and together.cold_items.tolist()[:3] == [
        True, True, False]
    users = np.arange(6)
    parts = log_softmax(ids.table[users]), log_softmax(b.table[users])
    scores = together.score(users)
    np.testing.assert_allclose(scores[:, :2], parts[1][:, :2], rtol=1e-5)
    np.testing.assert_allclose(scores[:, 2:], (parts[0][:, 2:] + parts[1][:, 2:]) / 2,
                               rtol=1e-5)
    together.cold_offset.assign(1.5)
    np.testing.assert_allclose(together.score(users)[:, :2], parts[1][:, :2] + 1.5, rtol=1e-5)
    graph = np.asarray(together.item_scores(tf.constant(users), None))
    np.testing.assert_allclose(graph, together.score(users), rtol=1e-5, atol=1e-5)
    assert together.serving_variables() == [together.cold_offset]


def test_subset_values_judge_each_model_alone_and_each_blend() -> None:
    a, b, targets = complementary()
    users = np.arange(len(targets))
    history = SimpleNamespace(item_counts=np.ones(a.table.shape[1]), matrix=None)
    cases = SimpleNamespace(users=users, targets=targets, history=history)
    values = ensemble_module.subset_values([a, b], [(0,), (1,), (0, 1)], cases, False, "ndcg",
                                           10)
    alone = evaluate(a.score, users, targets, seen=None, item_counts=history.item_counts, k=10)
    assert values[0] == pytest.approx(float(alone.ndcg.mean()))
    assert values[2] == pytest.approx(1.0)  # the blend puts every target first
    assert max(values[:2]) < 0.6


def test_a_mixed_subset_is_judged_with_its_cold_offset_as_its_ensemble() -> None:
    """An ids-only member that ranks the cold targets last beside an attribute member that
    ranks them low: the subset's value is the ensemble's once the offset gives cold items
    their share of the lists (not the blend's raw scores, where no cold item is listed)."""
    from automl_rec.tuning.objective import RankingObjective

    rng = np.random.default_rng(5)
    n_users, n_items, n_cold = 120, 40, 6
    targets = rng.integers(n_items, size=n_users)
    targets[::3] = rng.integers(n_cold, size=len(targets[::3]))  # a third of them cold
    users = np.arange(n_users)
    ids, attributes = rng.random((n_users, n_items)), rng.random((n_users, n_items))
    ids[users, targets] += 1.5
    attributes[users, targets] += 1.0
    attributes[:, :n_cold] -= 4.0  # the attribute member under-rates its cold items
    ids[:, :n_cold] = -1e9
    members = [Fixed(ids, np.arange(n_items) >= n_cold), Fixed(attributes)]
    history = SimpleNamespace(item_counts=(np.arange(n_items) >= n_cold).astype(float),
                              matrix=None)
    cases = SimpleNamespace(users=users, targets=targets, history=history)
    values = ensemble_module.subset_values(members, [(0,), (1,), (0, 1)], cases, False,
                                           "ndcg", 10)
    together = Ensemble(members)
    judged = RankingObjective("ndcg", 10).judge(together, SimpleNamespace(exclude_seen=False),
                                                cases)
    assert judged["cold_offset"] > 1.0
    assert values[2] == pytest.approx(judged["ndcg@10"], abs=1e-6)
    together.cold_offset.assign(0.0)
    raw = evaluate(together.score, users, targets, seen=None, item_counts=history.item_counts,
                   k=10)
    assert values[2] > float(raw.ndcg.mean()) + 0.1


@pytest.fixture(scope="module")
def trials() -> tuple[Any, list[Any], dict[int, Any]]:
    """Two families' trials on a small log, each scored on test as the fit does."""
    from automl_rec.models import default_space
    from automl_rec.tuning.candidates import score_on_test
    from automl_rec.tuning.trial import run_trial

    log = make_interactions(n_users=120, n_items=50, mean_history=10, seed=2)
    split = split_of(log)
    settings = TrialSettings("ndcg", 10, 2, 2)
    results, models = [], {}
    for number, (family, design) in enumerate((("cnn", "caser"), ("lstm", "gru4rec"))):
        params = default_space(family).completed({"design": design})
        result = run_trial(family, params, split, settings, seed=0, number=number)
        models[id(result)] = score_on_test(result, split, settings, seed=0)
        results.append(result)
    return split, results, models


def test_a_pair_that_wins_on_validation_is_a_candidate_scored_like_its_members(
        trials: tuple[Any, list[Any], dict[int, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    from automl_rec.tuning.trial import model_on_stage

    split, results, models = trials
    monkeypatch.setattr(ensemble_module, "subset_values",
                        lambda models, subsets, *args: [len(s) for s in subsets])
    settings = TrialSettings("ndcg", 10, 2, 2)
    result = ensemble_module.ensemble_candidate(results, models, split, settings, 0, None)
    assert result is not None and result.family == ENSEMBLE
    assert result.members is not None and set(map(id, result.members)) == set(map(id, results))
    assert result.params["members"] == [candidate_name(m) for m in result.members]
    assert candidate_name(result) == "ensemble/" + " + ".join(
        f"{m.model} #{m.number}" for m in result.members)
    assert 0 <= result.valid["ndcg@10"] <= 1 and 0 <= result.test["ndcg@10"] <= 1
    # The test figure is that of the members' own test models averaged.
    together = Ensemble([models[id(m)].model for m in result.members])
    expected, _ = settings.objective.test(together, split)
    assert result.test["ndcg@10"] == pytest.approx(expected["ndcg@10"])
    exported = model_on_stage(result, split, "all", 0)
    assert isinstance(exported, Ensemble) and len(exported.members) == 2
    assert exported.score(np.arange(3)).shape == (3, split.n_items)


def test_no_ensemble_when_one_model_is_best_or_the_budget_has_no_room(
        trials: tuple[Any, list[Any], dict[int, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    split, results, models = trials
    settings = TrialSettings("ndcg", 10, 2, 2)
    monkeypatch.setattr(ensemble_module, "subset_values",
                        lambda models, subsets, *args: [-len(s) for s in subsets])
    assert ensemble_module.ensemble_candidate(results, models, split, settings, 0, None) is None
    monkeypatch.setattr(ensemble_module, "subset_values",
                        lambda models, subsets, *args: [len(s) for s in subsets])
    # No time for a second member's refit on all the data: no pool of two.
    assert ensemble_module.ensemble_candidate(results, models, split, settings, 0, 0.0) is None
    assert ensemble_module.ensemble_candidate(results, {}, split, settings, 0, None) is None
    # A second member's refit on all the data is foreseen by what its test refit took: 10 s,
    # which 5 s do not hold and 15 s do.
    timed = {key: ensemble_module.TestModel(tested.model, 10.0) for key, tested in models.items()}
    assert ensemble_module.ensemble_candidate(results, timed, split, settings, 0, 5.0) is None
    assert ensemble_module.ensemble_candidate(results, timed, split, settings, 0, 15.0) is not None


def test_the_pool_takes_the_best_trial_that_uses_the_item_table_otherwise_second() -> None:
    from automl_rec.leaderboard import CandidateResult

    def trial(family: str, valid: float, features: str) -> CandidateResult:
        return CandidateResult(family, family, {"item_features": features},
                               valid={"ndcg@10": valid}, epochs=1, number=0, weights=[],
                               epoch_seconds=1.0, first_epoch_seconds=1.0)

    results = [trial("cnn", 0.3, "none"), trial("attention", 0.25, "none"),
               trial("mlp", 0.22, "none"), trial("autoencoder", 0.21, "none"),
               trial("lstm", 0.2, "attributes")]
    score = TrialSettings().objective.score
    assert ensemble_module.bridge_trial(results, score) is results[-1]
    assert ensemble_module.bridge_trial(results[:4], score) is None
    models = {id(r): ensemble_module.TestModel(None, 1.0) for r in results}
    pool = ensemble_module._pool(results, models, TrialSettings(), None)
    assert [r.family for r in pool] == ["cnn", "lstm", "attention", "mlp"]
    # The other way round: the best reads attributes, the bridge reads ids only.
    results[-1].valid["ndcg@10"] = 0.4
    assert ensemble_module.bridge_trial(results, score) is results[0]
    # Only the second member's refit fits in 1.5 s.
    pool = ensemble_module._pool(results, models, TrialSettings(), 1.5)
    assert [r.family for r in pool] == ["lstm", "cnn"]
    # A bridge whose refit does not fit leaves its place to a quicker model further down.
    results[-1].valid["ndcg@10"] = 0.2
    models[id(results[-1])] = ensemble_module.TestModel(None, 3.0)
    pool = ensemble_module._pool(results, models, TrialSettings(), 2.5)
    assert [r.family for r in pool] == ["cnn", "attention", "mlp"]
    # The ensemble scores its members twice more: a trial whose epochs spent 4 s of their
    # 5 s scoring (the 1 s of its test score aside) needs 8 s for that, besides its refit.
    slow = results[1]
    slow.seconds, slow.curve, slow.epoch_seconds = 11.0, [0.1, 0.25], 1.0
    assert ensemble_module.scoring_seconds(slow, 1.0) == pytest.approx(4.0)
    pool = ensemble_module._pool(results, models, TrialSettings(), 2.5)
    assert [r.family for r in pool] == ["cnn", "mlp", "autoencoder"]


def test_an_ensemble_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from automl_rec import AutoRecommender

    frame = pd.DataFrame(make_interactions(n_users=60, n_items=30, mean_history=8, seed=1))
    calls: list[int] = []
    monkeypatch.setattr("automl_rec.tuning.candidates.ensemble_candidate",
                        lambda *args: calls.append(1))
    AutoRecommender(["cnn", "lstm"], max_trials=2, max_epochs=1, ensemble=False).fit(frame)
    assert calls == []
    AutoRecommender(["cnn", "lstm"], max_trials=2, max_epochs=1).fit(frame)
    assert calls == [1]


def test_an_ensemble_winner_is_exported_served_and_reported(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from automl_rec import AutoRecommender
    from automl_rec.evaluation import top_k
    from automl_rec.evaluation.metrics import mask_seen
    from automl_rec.tuning import candidates

    real = ensemble_module.ensemble_candidate

    def favoured(*args: Any) -> Any:
        # Whatever validation says of this tiny log, the pair wins (its figure is raised).
        monkeypatch.setattr(ensemble_module, "subset_values",
                            lambda models, subsets, *rest: [len(s) for s in subsets])
        result = real(*args)
        assert result is not None
        result.valid["ndcg@10"] = 1.0
        return result

    monkeypatch.setattr(candidates, "ensemble_candidate", favoured)
    frame = pd.DataFrame(make_interactions(n_users=60, n_items=30, mean_history=8, seed=1))
    model = AutoRecommender(["cnn", "lstm", "baselines"], max_trials=2, max_epochs=2,
                            output_dir=tmp_path).fit(frame)
    assert model.best_family_ == ENSEMBLE
    assert isinstance(model.best_model_, Ensemble)
    metadata = model.metadata_
    assert metadata["winner"]["refit"]["how"] == "members"
    assert set(metadata["winner"]["refit"]["members"]) == set(model.best_params_["members"])
    assert metadata["comparison"]["best_neural"]["name"] in model.best_params_["members"]
    assert not (tmp_path / "model.keras").exists()
    split = model.split_
    users = np.arange(5)
    scores = np.array(model.best_model_.score(users), dtype=np.float32)
    if split.exclude_seen:
        mask_seen(scores, users, split.stage("all").matrix)
    expected = split.item_ids.decode(top_k(scores, 10)).astype(str).tolist()
    raw_users = [str(u) for u in split.user_ids.decode(users)]
    served = model.recommend(raw_users)
    assert [served[served["user_id"] == u]["item_id"].tolist() for u in raw_users] == expected
    html = (tmp_path / "report.html").read_text()
    assert f"{ENSEMBLE}/{model.best_model_name_}" in html
    assert "each item's score: the mean of its log-softmax" in html
    loaded = AutoRecommender.load(tmp_path)
    assert loaded.recommend(raw_users)["item_id"].tolist() == served["item_id"].tolist()


def test_the_feature_use_table_counts_the_members_trials_not_the_ensemble() -> None:
    from automl_rec.leaderboard import CandidateResult, feature_use_table

    def trial(family: str, valid: float, features: str) -> CandidateResult:
        return CandidateResult(family, family, {"item_features": features},
                               valid={"ndcg@10": valid}, number=0)

    members = [trial("cnn", 0.3, "none"), trial("attention", 0.2, "none")]
    ensemble = CandidateResult(ENSEMBLE, "caser #0 + sasrec #0",
                               {"members": ["cnn/cnn #0", "attention/attention #0"],
                                "item_features": "none"},
                               valid={"ndcg@10": 0.35}, members=members)
    rows = feature_use_table([*members, trial("cnn", 0.25, "attributes"), ensemble],
                             "ndcg@10")
    assert [row["family"] for row in rows] == ["cnn", "attention"]
    assert rows[0]["helped"] == "ids only"
