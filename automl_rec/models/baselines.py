"""Classical reference recommenders: popularity, ItemKNN (cosine), EASE (Steck 2019) and content
(item-item cosine over the item table's attributes).

They are always run, always shown beside the Keras families, and eligible to win. Each one learns
from the sparse user x item matrix of a stage and scores every item for a batch of users. None of
them imports Keras.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.linalg.lapack
import scipy.sparse as sp

from automl_rec.data.splitting import StageData

# EASE inverts an n_items x n_items matrix: above this size it would not fit in 24 GiB.
EASE_MAX_ITEMS = 20_000


class Baseline:
    """Common shape of the baselines: ``fit`` on a stage, then ``score`` users."""

    name: ClassVar[str]
    grid: ClassVar[list[dict[str, Any]]] = [{}]
    # Whether the baseline learns from the item table (it runs only with one).
    needs_item_attributes: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params = params
        self._history: sp.csr_matrix | None = None

    def fit(self, data: StageData) -> Baseline:
        """Learn from the interactions of one stage and return ``self``."""
        self._history = data.matrix
        self._fit(data)
        return self

    def _fit(self, data: StageData) -> None:
        raise NotImplementedError

    def score(self, users: np.ndarray) -> np.ndarray:
        """Scores of every item for each user, ``[len(users), n_items]``."""
        raise NotImplementedError

    @classmethod
    def unsupported_reason(cls, n_items: int) -> str | None:
        """Why this baseline cannot run on a catalogue of ``n_items`` (``None`` if it can)."""
        return None


class Popularity(Baseline):
    """Recommends the items with the most interactions, the same list for everyone."""

    name = "popularity"

    def _fit(self, data: StageData) -> None:
        self._counts = data.item_counts.astype(np.float32)

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self._counts, (len(users), len(self._counts)))


class ItemKNN(Baseline):
    """Item-based nearest neighbours with cosine similarity, keeping ``k`` neighbours per item."""

    name = "itemknn"
    grid = [{"k": k} for k in (5, 10, 20, 50, 100, 200)]

    def _fit(self, data: StageData) -> None:
        self.similarity = cosine_neighbours(data.matrix, int(self.params["k"]))

    def score(self, users: np.ndarray) -> np.ndarray:
        assert self._history is not None
        return np.asarray((self._history[users] @ self.similarity).todense())


class EASE(Baseline):
    """Embarrassingly shallow autoencoder: a closed-form item-item model with L2 weight ``l2``."""

    name = "ease"
    grid = [{"l2": l2} for l2 in (3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0,
                                       30000.0)]

    def _fit(self, data: StageData) -> None:
        self.weights = ease_weights(data.matrix, float(self.params["l2"]))

    def score(self, users: np.ndarray) -> np.ndarray:
        assert self._history is not None
        return np.asarray(self._history[users] @ self.weights)

    @classmethod
    def unsupported_reason(cls, n_items: int) -> str | None:
        if n_items > EASE_MAX_ITEMS:
            return (f"EASE needs a dense {n_items:,} x {n_items:,} matrix; it runs on catalogues "
                    f"of up to {EASE_MAX_ITEMS:,} items")
        return None


# Popularity breaks the content baseline's ties at this scale (far below any similarity).
CONTENT_TIE_BREAK = 1e-6


class Content(ItemKNN):
    """Item-item cosine similarity of the items' attribute vectors (the item table's columns,
    TF-IDF for text), keeping ``k`` neighbours per item; a user's score for an item is its
    summed similarity to the user's history, popularity breaking ties. It needs no interaction
    of an item to recommend it."""

    name = "content"
    grid = [{"k": k} for k in (10, 50, 200)]
    needs_item_attributes = True

    def _fit(self, data: StageData) -> None:
        assert data.item_attributes is not None, "the content baseline needs an item table"
        self.similarity = cosine_neighbours(data.item_attributes.T.tocsr(), int(self.params["k"]))
        counts = data.item_counts.astype(np.float32)
        self.prior = CONTENT_TIE_BREAK * counts / max(float(counts.max()), 1.0)

    def score(self, users: np.ndarray) -> np.ndarray:
        return super().score(users) + self.prior


BASELINES: dict[str, type[Baseline]] = {cls.name: cls
                                        for cls in (Popularity, ItemKNN, EASE, Content)}


def ease_weights(matrix: sp.csr_matrix, l2: float) -> np.ndarray:
    """Closed-form EASE item-item weights ``B`` with a zero diagonal.

    The inverse of the regularised Gram matrix comes from its Cholesky factor in float32 (the
    matrix is symmetric positive definite), a few times cheaper than a general inversion in
    float64, and as exact as the float32 weights it gives.

    Args:
        matrix: Binary user x item matrix.
        l2: L2 regularisation weight (lambda).

    Returns:
        Dense ``[n_items, n_items]`` float32 weights.
    """
    gram = (matrix.T @ matrix).toarray().astype(np.float32)
    gram[np.diag_indices_from(gram)] += l2
    factor, info = scipy.linalg.lapack.spotrf(gram, lower=False, overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"the regularised Gram matrix is not positive definite "
                                    f"(l2={l2})")
    upper, info = scipy.linalg.lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"the regularised Gram matrix is singular (l2={l2})")
    inverse = np.triu(upper)
    inverse += np.triu(upper, 1).T
    weights = inverse / -np.diag(inverse)
    weights[np.diag_indices_from(weights)] = 0.0
    return weights


def cosine_neighbours(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Item-item cosine similarity keeping each item's ``k`` most similar other items.

    Rows of the result are the source items; scoring a user is ``history @ similarity``.
    Computed in blocks of items so that memory stays bounded on large catalogues.

    Args:
        matrix: Binary user x item matrix.
        k: Neighbours kept per item.

    Returns:
        Sparse ``[n_items, n_items]`` float32 similarity.
    """
    columns = matrix.tocsc().astype(np.float32)
    norms = np.sqrt(np.asarray(columns.multiply(columns).sum(axis=0))).ravel()
    normalised = columns @ sp.diags(1.0 / np.maximum(norms, 1e-12))
    transposed = normalised.T.tocsr()
    n_items = matrix.shape[1]
    k = max(1, min(k, n_items - 1))
    block = max(1, 50_000_000 // max(n_items, 1))
    rows, cols, values = [], [], []
    for start in range(0, n_items, block):
        stop = min(n_items, start + block)
        dense = (transposed[start:stop] @ normalised).toarray()
        dense[np.arange(stop - start), np.arange(start, stop)] = 0.0
        best = np.argpartition(-dense, k - 1, axis=1)[:, :k]
        picked = np.take_along_axis(dense, best, axis=1)
        keep = picked > 0
        rows.append(np.repeat(np.arange(start, stop), k)[keep.ravel()])
        cols.append(best[keep])
        values.append(picked[keep])
    return sp.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n_items, n_items), dtype=np.float32)
