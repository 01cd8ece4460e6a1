from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from automl_rec.evaluation import evaluate, top_k

SCORES = np.array([
    [0.9, 0.8, 0.7, 0.6, 0.5],  # user 0
    [0.1, 0.2, 0.3, 0.4, 0.5],  # user 1
    [0.5, 0.5, 0.5, 0.5, 0.5],  # user 2: all tied
], dtype=np.float32)


def score_fn(users: np.ndarray) -> np.ndarray:
    return SCORES[users]


def test_top_k_orders_by_score_and_breaks_ties_by_lower_index() -> None:
    assert top_k(SCORES, 3).tolist() == [[0, 1, 2], [4, 3, 2], [0, 1, 2]]


def test_top_k_puts_masked_items_last() -> None:
    scores = np.array([[1.0, -np.inf, 3.0]])
    assert top_k(scores, 3).tolist() == [[2, 0, 1]]


def test_metrics_match_values_computed_by_hand() -> None:
    users = np.array([0, 1, 2])
    targets = np.array([1, 2, 4])  # rank 2, rank 3, outside the top 3
    counts = np.array([10, 20, 30, 40, 50])
    result = evaluate(score_fn, users, targets, seen=None, item_counts=counts, k=3)
    assert result.ndcg.tolist() == pytest.approx([1 / math.log2(3), 1 / math.log2(4), 0.0])
    assert result.hit.tolist() == [1.0, 1.0, 0.0]
    assert result.rr.tolist() == pytest.approx([1 / 2, 1 / 3, 0.0])
    metrics = result.metrics()
    assert metrics["ndcg@3"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / 3)
    assert metrics["hr@3"] == pytest.approx(2 / 3)
    assert metrics["mrr@3"] == pytest.approx((1 / 2 + 1 / 3) / 3)
    # lists: [0,1,2], [4,3,2], [0,1,2] -> items 0..4 all appear
    assert metrics["coverage@3"] == pytest.approx(1.0)
    assert metrics["popularity@3"] == pytest.approx((60 + 120 + 60) / 9)


def test_seen_items_are_masked_and_the_target_moves_up() -> None:
    users = np.array([0])
    targets = np.array([2])
    seen = sp.csr_matrix(np.array([[1, 1, 0, 0, 0], [0] * 5, [0] * 5], dtype=np.float32))
    counts = np.ones(5)
    result = evaluate(score_fn, users, targets, seen=seen, item_counts=counts, k=3)
    assert result.hit.tolist() == [1.0]
    assert result.rr.tolist() == [1.0]  # items 0 and 1 masked: target ranked first


def test_batches_give_the_same_result_as_one_pass() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random((50, 30)).astype(np.float32)
    targets = rng.integers(0, 30, 50)
    counts = rng.integers(1, 100, 30)
    users = np.arange(50)
    one = evaluate(lambda u: scores[u], users, targets, seen=None, item_counts=counts, k=5)
    many = evaluate(lambda u: scores[u], users, targets, seen=None, item_counts=counts, k=5,
                    batch_size=7)
    assert one.metrics() == pytest.approx(many.metrics())


def reference_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Best first, ties by lower index: a stable sort of every row, the slow way."""
    return np.array([sorted(range(len(row)), key=lambda i: (-row[i], i))[:k] for row in scores])


@pytest.mark.parametrize("n_items", [1_200, 20_500])
def test_top_k_breaks_ties_at_the_cut_off_by_lower_index(n_items: int) -> None:
    rng = np.random.default_rng(n_items)
    # Few distinct values: the k-th score is tied with hundreds of items in every row.
    scores = rng.integers(0, 4, size=(6, n_items)).astype(np.float32)
    scores[0] = 0.0  # a row of zeros, as ItemKNN gives a user without neighbours
    scores[1, ::3] = -np.inf
    scores[2, : n_items - 5] = -np.inf  # fewer finite scores than k
    for k in (1, 10, 100):
        assert np.array_equal(top_k(scores, k), reference_top_k(scores, k))
    # With every item tied the list is the lowest indices, not the highest.
    assert top_k(scores[:1], 10).tolist() == [list(range(10))]


def test_top_k_of_a_large_share_of_the_catalogue_and_of_nan_scores() -> None:
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 3, size=(4, 50)).astype(np.float64)
    scores[3, 5] = np.nan
    expected = reference_top_k(np.where(np.isnan(scores), -np.inf, scores), 40)
    assert np.array_equal(top_k(scores, 40), expected)


def test_popularity_averages_over_the_filled_slots_only() -> None:
    scores = np.array([[3.0, 2.0, 1.0], [-np.inf, -np.inf, 5.0]])
    counts = np.array([10, 20, 30])
    result = evaluate(lambda users: scores[users], np.array([0, 1]), np.array([0, 2]),
                      seen=None, item_counts=counts, k=2)
    # lists: [0, 1] and [2] (the masked items fill no slot)
    assert result.popularity == pytest.approx((10 + 20 + 30) / 3)
    assert result.coverage == pytest.approx(1.0)
