from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from automl_rec.data.splitting import StageData
from automl_rec.datasets import make_interactions
from automl_rec.models.baselines import EASE, ItemKNN, Popularity, cosine_neighbours, ease_weights
from automl_rec.tuning.baselines import run_baseline, walk_grid
from tests.conftest import split_of


def stage(rows: list[list[int]]) -> StageData:
    matrix = np.array(rows)
    users, items = np.nonzero(matrix)
    return StageData(users, items, *matrix.shape)


def test_popularity_scores_are_item_counts() -> None:
    model = Popularity().fit(stage([[1, 1, 0], [1, 0, 0], [1, 0, 1]]))
    assert model.score(np.array([0, 2])).tolist() == [[3, 1, 1], [3, 1, 1]]


def test_ease_matches_the_closed_form_by_hand() -> None:
    x = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]], dtype=float)
    gram = x.T @ x + 2.0 * np.eye(3)
    p = np.linalg.inv(gram)
    expected = -p / np.diag(p)
    np.fill_diagonal(expected, 0.0)
    weights = ease_weights(sp.csr_matrix(x), 2.0)
    assert weights == pytest.approx(expected.astype(np.float32), abs=1e-6)


def test_ease_from_a_float32_cholesky_matches_a_float64_inversion() -> None:
    rng = np.random.default_rng(3)
    x = (rng.random((200, 80)) < 0.1).astype(float)
    for l2 in (3.0, 100.0):
        p = np.linalg.inv(x.T @ x + l2 * np.eye(80))
        expected = -p / np.diag(p)
        np.fill_diagonal(expected, 0.0)
        weights = ease_weights(sp.csr_matrix(x), l2)
        assert weights.dtype == np.float32
        assert weights == pytest.approx(expected.astype(np.float32), rel=1e-4, abs=1e-6)


def test_cosine_neighbours_keep_k_most_similar_without_self() -> None:
    x = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 1, 1]],
                               dtype=np.float32))
    similarity = cosine_neighbours(x, 1).toarray()
    assert np.all(np.diag(similarity) == 0)
    assert (similarity > 0).sum(axis=1).tolist() == [1, 1, 1, 1]
    # item 0 and 1: cosine 2 / sqrt(3 * 2)
    assert similarity[1, 0] == pytest.approx(2 / np.sqrt(6), abs=1e-6)


def test_ease_declares_catalogues_too_large() -> None:
    assert EASE.unsupported_reason(100) is None
    assert "dense" in (EASE.unsupported_reason(10**6) or "")


def test_learned_baselines_beat_popularity_by_a_wide_margin_on_the_example_generator() -> None:
    split = split_of(make_interactions(n_users=600, n_items=200, seed=3))
    scores = {cls.name: run_baseline(cls, split).test["ndcg@10"]
              for cls in (Popularity, ItemKNN, EASE)}
    assert scores["ease"] > 1.5 * scores["popularity"]
    assert scores["itemknn"] > 1.2 * scores["popularity"]


def test_run_baseline_picks_the_best_grid_point_on_validation() -> None:
    split = split_of(make_interactions(n_users=300, n_items=120, seed=4))
    result = run_baseline(EASE, split)
    assert result.status == "complete"
    assert result.params in EASE.grid
    assert set(result.valid) == set(result.test) == {
        "ndcg@10", "hr@10", "mrr@10", "coverage@10", "popularity@10"}
    assert result.test_result is not None and len(result.test_result.users) == 300


@pytest.mark.parametrize("peak", range(9))
def test_the_grid_walk_finds_a_single_peak_without_trying_every_point(peak: int) -> None:
    visited: list[int] = []

    def value_of(index: int) -> float:
        visited.append(index)
        return -abs(index - peak)

    assert walk_grid(9, value_of) == peak
    assert len(visited) == len(set(visited)) <= abs(peak - 4) + 3


def test_the_grid_walk_of_short_and_flat_grids() -> None:
    assert walk_grid(1, lambda index: 0.0) == 0  # the one point is still scored
    assert walk_grid(2, lambda index: float(index)) == 1
    assert walk_grid(5, lambda index: 1.0) == 2  # no side is better: the middle stays


def test_scores_do_not_depend_on_row_order_of_the_frame() -> None:
    frame = make_interactions(n_users=100, n_items=50, seed=5)
    a = run_baseline(ItemKNN, split_of(frame)).test["ndcg@10"]
    b = run_baseline(ItemKNN, split_of(frame.sample(frac=1.0, random_state=0)
                                       .sort_values("timestamp", kind="stable"))).test["ndcg@10"]
    assert a == pytest.approx(b)
    assert isinstance(frame, pd.DataFrame)


def test_ease_beyond_its_catalogue_bound_is_skipped_with_the_sizes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import automl_rec.models.baselines as baselines

    split = split_of(make_interactions(n_users=60, n_items=30, mean_history=8, seed=2))
    monkeypatch.setattr(baselines, "EASE_MAX_ITEMS", split.n_items - 1)
    result = run_baseline(EASE, split)
    assert result.status == "skipped"
    assert f"{split.n_items:,} x {split.n_items:,}" in result.reason
    assert not result.valid and not result.test



def test_content_recommends_items_like_the_history_and_breaks_ties_by_popularity() -> None:
    from automl_rec.models.baselines import Content

    # Items 0-2 share one attribute, 3-5 another; item 4 is the most popular of its group.
    attributes = sp.csr_matrix(np.repeat(np.eye(2, dtype=np.float32), 3, axis=0))
    history = [[1, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 0], [0, 0, 0, 0, 1, 0]]
    matrix = np.array(history)
    users, items = np.nonzero(matrix)
    data = StageData(users, items, *matrix.shape, item_attributes=attributes)
    scores = Content(k=5).fit(data).score(np.array([0, 1, 2]))
    assert set(np.argsort(-scores[0])[:2]) == {1, 2}  # the user's own group first
    assert set(np.argsort(-scores[2])[:2]) == {3, 5}
    # Ties: the same similarity to the history; the more popular item first.
    assert scores[1, 0] > scores[1, 1] and scores[1, 0] - scores[1, 1] < 1e-5
    assert Content.needs_item_attributes and not EASE.needs_item_attributes


def test_content_learns_from_the_categories_more_than_popularity() -> None:
    from automl_rec.models.baselines import Content
    from tests.conftest import with_catalogue_attributes

    log = make_interactions(n_users=150, n_items=80, mean_history=12, seed=6)
    split = with_catalogue_attributes(split_of(log), log)

    content, popularity = run_baseline(Content, split), run_baseline(Popularity, split)
    assert content.params["k"] in (10, 50, 200)
    # The log's users keep to a few categories: the categories alone beat popularity.
    assert content.test["ndcg@10"] > popularity.test["ndcg@10"]
