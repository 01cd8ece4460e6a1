"""Full-ranking top-K metrics computed batch-wise from a score function over all items.

Every item of the catalogue is scored (no sampled negatives); items already in the user's history
are masked when the protocol excludes seen items. With one held-out item per user, HR@K equals
Recall@K.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from automl_rec.data.splitting import Holdout

ScoreFn = Callable[[np.ndarray], np.ndarray]
METRICS = ("ndcg", "hr", "mrr")


@dataclass(frozen=True)
class EvaluationResult:
    """Per-user and aggregate metrics of one model on one hold-out.

    Attributes:
        k: Cut-off of the top-K lists.
        users: Evaluated user indices.
        ndcg: NDCG@K per user (1 / log2(rank + 1) for a hit at 1-based ``rank``, else 0).
        hit: HR@K per user (1 for a hit, else 0).
        rr: Reciprocal rank per user (1 / rank for a hit, else 0).
        coverage: Share of the catalogue that appears in at least one top-K list.
        popularity: Mean number of training interactions of the recommended items (over the
            list slots actually filled: masked items leave some lists shorter than K).
        cold: Per user, whether the target is a *cold* item: one without interactions in the
            stage the model learnt from (``None`` when unknown).
    """

    k: int
    users: np.ndarray
    ndcg: np.ndarray
    hit: np.ndarray
    rr: np.ndarray
    coverage: float
    popularity: float
    cold: np.ndarray | None = None

    def per_user(self, metric: str) -> np.ndarray:
        """Per-user values of ``ndcg``, ``hr`` or ``mrr``."""
        return dict(zip(METRICS, (self.ndcg, self.hit, self.rr)))[metric]

    def metrics(self) -> dict[str, float]:
        """Aggregate metrics keyed like ``ndcg@10``."""
        k = self.k
        return {
            f"ndcg@{k}": float(self.ndcg.mean()),
            f"hr@{k}": float(self.hit.mean()),
            f"mrr@{k}": float(self.rr.mean()),
            f"coverage@{k}": self.coverage,
            f"popularity@{k}": self.popularity,
            **self.warm_and_cold(),
        }

    def warm_and_cold(self) -> dict[str, float]:
        """NDCG@K and HR@K on the warm and on the cold targets apart (where there are any), with
        their counts (``warm_cases``, ``cold_cases``); empty when no target is cold."""
        if self.cold is None or not self.cold.any():
            return {}
        out: dict[str, float] = {}
        for name, part in (("warm", ~self.cold), ("cold", self.cold)):
            out[f"{name}_cases"] = int(part.sum())
            if part.any():
                for metric, values in (("ndcg", self.ndcg), ("hr", self.hit)):
                    out[f"{name}_{metric}@{self.k}"] = float(values[part].mean())
        return out


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores of each row, best first, ties by lower index.

    The lists are ``tf.math.top_k``'s, the exported model's own, so that the tie-break is the
    same everywhere, also at the cut-off (among items tied with the k-th score the lowest indices
    are kept); it is also several times faster than a NumPy partition on rows with many ties.
    NaN scores rank as ``-inf``.

    Args:
        scores: ``[batch, n_items]`` scores; ``-inf`` marks items that must not be recommended.
        k: List length (clipped to the number of items).

    Returns:
        ``[batch, k]`` item indices ordered by decreasing score, ties by lower index.
    """
    import tensorflow as tf

    scores = np.where(np.isnan(scores), np.float32(-np.inf), scores).astype(np.float32,
                                                                             copy=False)
    k = min(k, scores.shape[1])
    return tf.math.top_k(scores, k=k, sorted=True).indices.numpy().astype(np.int64)


def rank_metrics(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-target NDCG, hit and reciprocal rank from the 0-based position of each target in its
    top-K list (``-1`` when it is not in the list)."""
    hit = (positions >= 0).astype(np.float64)
    rank = np.maximum(positions, 0) + 1.0
    return hit / np.log2(rank + 1.0), hit, hit / rank


def positions_metric(positions: np.ndarray, metric: str) -> np.ndarray:
    """Per-target values of ``ndcg``, ``hr`` or ``mrr`` (:data:`METRICS`) from the targets'
    positions in their lists (as for :func:`rank_metrics`)."""
    return dict(zip(METRICS, rank_metrics(positions)))[metric]


def mask_seen(scores: np.ndarray, users: np.ndarray, seen: sp.csr_matrix) -> None:
    """Set the scores of items in each user's history to ``-inf``, in place."""
    rows = seen[users].tocoo()
    scores[rows.row, rows.col] = -np.inf


def evaluate(
    score_fn: ScoreFn,
    users: np.ndarray,
    targets: np.ndarray,
    *,
    seen: sp.csr_matrix | None,
    item_counts: np.ndarray,
    k: int = 10,
    batch_size: int = 1024,
) -> EvaluationResult:
    """Score every item for each user and measure where the held-out target lands.

    Args:
        score_fn: Maps a batch of user indices to ``[batch, n_items]`` scores.
        users: Evaluated user indices.
        targets: Held-out item index of each user.
        seen: User x item matrix of items to mask, or ``None`` to rank every item.
        item_counts: Training interactions per item (for the popularity of the lists).
        k: Cut-off.
        batch_size: Users scored at a time.

    Returns:
        Per-user and aggregate metrics.
    """
    n = len(users)
    positions = np.full(n, -1, dtype=np.int64)
    recommended = np.zeros(len(item_counts), dtype=bool)
    popularity_sum, n_listed = 0.0, 0
    for start in range(0, n, batch_size):
        batch = slice(start, start + batch_size)
        scores = np.array(score_fn(users[batch]), dtype=np.float32, copy=True)
        if seen is not None:
            mask_seen(scores, users[batch], seen)
        lists = top_k(scores, k)
        valid = np.isfinite(np.take_along_axis(scores, lists, axis=1))
        recommended[lists[valid]] = True
        popularity_sum += float(item_counts[lists[valid]].sum())
        n_listed += int(valid.sum())
        found = (lists == targets[batch, None]) & valid
        positions[batch] = np.where(found.any(axis=1), found.argmax(axis=1), -1)
    ndcg, hit, rr = rank_metrics(positions)
    total = int(recommended.sum())
    return EvaluationResult(
        k=k,
        users=np.asarray(users),
        ndcg=ndcg,
        hit=hit,
        rr=rr,
        coverage=total / len(item_counts),
        popularity=popularity_sum / n_listed if n_listed else 0.0,
    )


def evaluate_holdout(
    score_fn: ScoreFn, holdout: Holdout, *, exclude_seen: bool, k: int = 10
) -> EvaluationResult:
    """Evaluate a model on a validation or test hold-out under the protocol's seen-item policy.

    Args:
        score_fn: Maps a batch of user indices to scores over all items.
        holdout: The hold-out (targets and the history that precedes them).
        exclude_seen: Whether to mask items already in each user's history.
        k: Cut-off.

    Returns:
        Per-user and aggregate metrics.
    """
    history = holdout.history
    result = evaluate(
        score_fn,
        holdout.users,
        holdout.targets,
        seen=history.matrix if exclude_seen else None,
        item_counts=history.item_counts,
        k=k,
    )
    return replace(result, cold=history.item_counts[holdout.targets] == 0)
