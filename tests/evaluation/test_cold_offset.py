"""The cold-item offset: cold items get the room in the lists that they have among targets."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from automl_rec.data.splitting import Holdout, StageData
from automl_rec.evaluation import evaluate, top_k
from automl_rec.evaluation.cold_offset import (MIN_COLD_CASES, ListParts, cold_room_sentence,
                                               cold_share, offset_for_share)
from automl_rec.evaluation.metrics import mask_seen, positions_metric


@pytest.mark.parametrize("share", [0.01, 0.05, 0.3])
def test_the_offset_gives_cold_items_the_share_of_the_slots_asked_for(share: float) -> None:
    """Measured on full lists with the offset added and seen items masked."""
    rng = np.random.default_rng(0)
    n_users, n_items, k = 300, 80, 10
    scores = rng.normal(size=(n_users, n_items)).astype(np.float32)
    cold = rng.random(n_items) < 0.3
    scores[:, cold] -= 1.5  # a model that under-rates its cold items
    seen = sp.csr_matrix((rng.random((n_users, n_items)) < 0.1).astype(np.float32))
    mask_seen(scores, np.arange(n_users), seen)
    parts = ListParts.of(scores, cold, k)
    offset = parts.offset_for(share)
    lists = top_k(scores + offset * cold[None, :], k)
    # At the offset itself one cold item ties with a known one (a slot either way).
    assert cold[lists].mean() == pytest.approx(share, abs=1 / (n_users * k) + 1e-9)


@pytest.mark.parametrize("offset", [-0.5, 0.0, 1.0])
def test_the_parts_place_each_target_as_the_shifted_lists_do(offset: float) -> None:
    rng = np.random.default_rng(2)
    n_users, n_items, k = 200, 60, 10
    scores = rng.normal(size=(n_users, n_items)).astype(np.float32)
    cold = rng.random(n_items) < 0.3
    seen = sp.csr_matrix((rng.random((n_users, n_items)) < 0.1).astype(np.float32))
    mask_seen(scores, np.arange(n_users), seen)
    targets = rng.integers(n_items, size=n_users)
    users = np.arange(n_users)
    shifted = scores + offset * cold[None, :]
    lists = evaluate(lambda u: shifted[u], users, targets, seen=None,
                     item_counts=np.ones(n_items), k=k)
    positions = ListParts.of(scores, cold, k).positions(scores[users, targets], cold[targets],
                                                        offset)
    assert (positions >= 0).sum() > 20  # hits, misses and seen (masked) targets all occur
    np.testing.assert_allclose(positions_metric(positions, "mrr"), lists.rr)
    np.testing.assert_allclose(positions_metric(positions, "ndcg"), lists.ndcg)


def planted_cases(n_cold_targets: int, shift: float) -> tuple[Holdout, np.ndarray, np.ndarray]:
    """Users whose target is their best item by a true score, every cold target kept up to
    ``n_cold_targets``; the model's scores of cold items are the true ones lowered by
    ``shift`` (a model that under-rates cold items)."""
    rng = np.random.default_rng(1)
    n_users, n_items = 600, 100
    truth = rng.normal(size=(n_users, n_items)).astype(np.float32)
    cold = np.zeros(n_items, dtype=bool)
    cold[:20] = True
    targets = truth.argmax(axis=1)
    keep = np.concatenate([np.flatnonzero(~cold[targets]),
                           np.flatnonzero(cold[targets])[:n_cold_targets]])
    scores = truth - shift * cold[None, :]
    history = StageData(np.zeros(0, np.int64), np.zeros(0, np.int64), n_users, n_items)
    return Holdout(keep, targets[keep], history), scores, cold


def test_the_offset_undoes_a_model_that_under_rates_cold_items() -> None:
    holdout, scores, cold = planted_cases(n_cold_targets=10_000, shift=3.0)
    share = cold_share(holdout, cold)
    assert share is not None
    offset = offset_for_share(lambda users: scores[users], holdout.users, None, cold, share, 10)
    assert 2.0 < offset < 4.0
    before, after = (evaluate(lambda users: s[users], holdout.users, holdout.targets, seen=None,
                              item_counts=np.ones(len(cold)), k=10).metrics()["ndcg@10"]
                     for s in (scores, scores + offset * cold[None, :]))
    assert after > before + 0.05


def test_too_few_cold_targets_tell_no_share() -> None:
    holdout, _, cold = planted_cases(n_cold_targets=MIN_COLD_CASES - 1, shift=3.0)
    assert cold_share(holdout, cold) is None
    holdout, _, cold = planted_cases(n_cold_targets=MIN_COLD_CASES, shift=3.0)
    assert cold_share(holdout, cold) == MIN_COLD_CASES / len(holdout.targets)


def test_the_cold_room_sentence_says_when_too_few_targets_were_cold() -> None:
    assert cold_room_sentence({"ndcg@10": 0.1}) is None
    given = cold_room_sentence({"cold_offset": 0.82, "cold_share": 0.051, "cold_cases": 60})
    assert given is not None and "5.1%" in given and "+0.820" in given
    kept = cold_room_sentence({"cold_offset": 0.0, "cold_cases": 3})
    assert kept is not None and "3 of the validation targets" in kept
    assert f"fewer than the {MIN_COLD_CASES} needed" in kept
