"""Honest references of the pointwise tasks (DESIGN 10), each tuned on the validation rows.

- ``biases`` (rating): the global mean plus a user and an item bias, each shrunk towards 0 by
  ``l2`` (fitted by alternating exact updates of one side given the other).
- ``logistic`` (ctr): logistic regression on one-hot user and item ids and the one-hot codes
  of the item and user tables' and the log's context columns (scikit-learn), with inverse
  regularisation ``c``.
- ``gbdt`` (ctr): scikit-learn's histogram gradient-boosted trees. Ids with up to
  ``NATIVE_CATEGORIES`` values are native categorical features; larger ones (users and items
  of most shops) are encoded by their smoothed training click rate (out of fold for the training
  rows, so no row sees its own label) and their number of training rows. A table or context
  column with one code a row and up to ``NATIVE_CATEGORIES`` codes is a native categorical feature too;
  the others (genres, words) give a 0/1 column for each of their ``MULTI_HOT_CODES`` most
  frequent codes.

A user or an item without training rows gets what the training rows say of the unknown: a bias
of 0, no one-hot column, the prior click rate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from automl_rec.tasks import CTR, RATING
from automl_rec.tasks.rows import RowFields, RowFold

# Alternating updates of the biases (each is exact given the other side; a few suffice).
BIAS_SWEEPS = 10
# Highest number of values an id column may have to enter the trees as a native categorical.
NATIVE_CATEGORIES = 255
# Codes of a table column (its most frequent) that the trees read as 0/1 columns, where the
# column is multi-valued or has too many values to be a native categorical.
MULTI_HOT_CODES = 32
# Pseudo-rows of the prior in a smoothed click rate, and the folds of its out-of-fold version.
RATE_PRIOR_ROWS = 20
RATE_FOLDS = 5


class PointwiseBaseline:
    """A reference model of a pointwise task: ``fit`` on training rows, ``predict`` rows."""

    name = "baseline"
    task = RATING
    grid: list[dict[str, Any]] = [{}]

    def __init__(self, **params: Any) -> None:
        self.params = params

    def fit(self, rows: RowFold, n_users: int, n_items: int, seed: int = 0,
            fields: RowFields | None = None) -> PointwiseBaseline:
        """Fit on training rows; ``fields`` are the item and user tables' codes (the
        references that read them)."""
        raise NotImplementedError

    def predict(self, rows: RowFold) -> np.ndarray:
        """The rating, or the probability of a 1 label, of each (user, item) row."""
        raise NotImplementedError


class Biases(PointwiseBaseline):
    """Global mean plus regularised user and item biases."""

    name = "biases"
    task = RATING
    grid = [{"l2": l2} for l2 in (1.0, 3.0, 10.0, 30.0)]

    def fit(self, rows: RowFold, n_users: int, n_items: int, seed: int = 0,
            fields: RowFields | None = None) -> Biases:
        l2 = float(self.params["l2"])
        self.mean = float(rows.labels.mean())
        residual = rows.labels.astype(np.float64) - self.mean
        self.user_bias, self.item_bias = np.zeros(n_users), np.zeros(n_items)
        user_rows = np.bincount(rows.users, minlength=n_users)
        item_rows = np.bincount(rows.items, minlength=n_items)
        for _ in range(BIAS_SWEEPS):
            self.item_bias = (np.bincount(rows.items, residual - self.user_bias[rows.users],
                                          minlength=n_items) / (item_rows + l2))
            self.user_bias = (np.bincount(rows.users, residual - self.item_bias[rows.items],
                                          minlength=n_users) / (user_rows + l2))
        return self

    def predict(self, rows: RowFold) -> np.ndarray:
        return (self.mean + _lookup(self.user_bias, rows.users)
                + _lookup(self.item_bias, rows.items))


class Logistic(PointwiseBaseline):
    """Logistic regression on one-hot user and item ids."""

    name = "logistic"
    task = CTR
    grid = [{"c": c} for c in (0.1, 1.0, 10.0)]

    def fit(self, rows: RowFold, n_users: int, n_items: int, seed: int = 0,
            fields: RowFields | None = None) -> Logistic:
        from sklearn.linear_model import LogisticRegression

        self.n_users, self.n_items = n_users, n_items
        self.fields = fields or RowFields()
        self.model = LogisticRegression(C=float(self.params["c"]), solver="liblinear",
                                        max_iter=200, random_state=seed)
        self.model.fit(self._one_hot(rows), rows.labels > 0.5)
        return self

    @property
    def blocks(self) -> list[int]:
        """Widths of the one-hot blocks: users, items, then each table and context column's
        codes."""
        return [self.n_users, self.n_items] + [c.vocabulary for c in self.fields.columns]

    def _one_hot(self, fold: RowFold) -> sp.csr_matrix:
        users, items = np.asarray(fold.users), np.asarray(fold.items)
        n = len(users)
        known_user = (users >= 0) & (users < self.n_users)
        known_item = (items >= 0) & (items < self.n_items)
        rows = [np.flatnonzero(known_user), np.flatnonzero(known_item)]
        columns = [users[known_user], self.n_users + items[known_item]]
        offset = self.n_users + self.n_items
        for column, codes in zip(self.fields.columns, self.fields.of_rows(fold)):
            row, position = np.nonzero(codes)
            rows.append(row)
            columns.append(offset + codes[row, position] - 1)
            offset += column.vocabulary
        row, column = np.concatenate(rows), np.concatenate(columns)
        # A row's codes of one column weigh 1 together (a film of three genres is not three
        # times as much of a film).
        key = np.repeat(np.arange(len(rows)), [len(r) for r in rows]) * n + row
        weights = 1.0 / np.bincount(key, minlength=n * len(rows))[key]
        return sp.csr_matrix((weights.astype(np.float32), (row, column)), shape=(n, offset))

    def predict(self, rows: RowFold) -> np.ndarray:
        return self.model.predict_proba(self._one_hot(rows))[:, 1]


class GradientBoosting(PointwiseBaseline):
    """Histogram gradient-boosted trees on the ids (native categories or smoothed rates)."""

    name = "gbdt"
    task = CTR
    grid = [{"learning_rate": rate, "max_leaf_nodes": leaves}
            for rate in (0.05, 0.1) for leaves in (15, 63)]

    def fit(self, rows: RowFold, n_users: int, n_items: int, seed: int = 0,
            fields: RowFields | None = None) -> GradientBoosting:
        from sklearn.ensemble import HistGradientBoostingClassifier

        self.fields = fields or RowFields()
        labels = (rows.labels > 0.5).astype(np.float64)
        self.prior = float(labels.mean())
        self.sizes = (n_users, n_items)
        self.rates = [_smoothed_rates(ids, labels, size, self.prior)
                      for ids, size in zip((rows.users, rows.items), self.sizes)]
        self.counts = [np.bincount(ids, minlength=size)
                       for ids, size in zip((rows.users, rows.items), self.sizes)]
        rng = np.random.default_rng(seed)
        out_of_fold = [_out_of_fold_rates(ids, labels, size, self.prior, rng)
                       for ids, size in zip((rows.users, rows.items), self.sizes)]
        features, categorical = self._features(rows, out_of_fold)
        self.model = HistGradientBoostingClassifier(
            learning_rate=float(self.params["learning_rate"]),
            max_leaf_nodes=int(self.params["max_leaf_nodes"]), max_iter=300,
            early_stopping=True, validation_fraction=0.1, n_iter_no_change=20,
            categorical_features=categorical, random_state=seed)
        self.model.fit(features, labels)
        return self

    def _features(self, fold: RowFold, rates: list[np.ndarray] | None = None
                  ) -> tuple[np.ndarray, list[bool]]:
        users, items = np.asarray(fold.users), np.asarray(fold.items)
        columns, categorical = [], []
        for k, (ids, size) in enumerate(zip((users, items), self.sizes)):
            known = (ids >= 0) & (ids < size)
            if size <= NATIVE_CATEGORIES:
                columns.append(np.where(known, ids, -1).astype(np.float64))
                categorical.append(True)
                continue
            rate = rates[k] if rates is not None else np.where(
                known, self.rates[k][np.where(known, ids, 0)], self.prior)
            columns += [rate, np.where(known, self.counts[k][np.where(known, ids, 0)], 0)]
            categorical += [False, False]
        for column, codes in zip(self.fields.columns, self.fields.of_rows(fold)):
            if column.width == 1 and column.vocabulary <= NATIVE_CATEGORIES:
                columns.append(codes[:, 0].astype(np.float64) - 1)  # 0 (no value): missing
                categorical.append(True)
                continue
            # Codes are numbered by frequency: 1..MULTI_HOT_CODES are the most frequent.
            for code in range(1, min(column.vocabulary, MULTI_HOT_CODES) + 1):
                columns.append((codes == code).any(axis=1).astype(np.float64))
                categorical.append(False)
        return np.column_stack(columns).astype(np.float64), categorical

    def predict(self, rows: RowFold) -> np.ndarray:
        features, _ = self._features(rows)
        return self.model.predict_proba(features)[:, 1]


POINTWISE_BASELINES: dict[str, type[PointwiseBaseline]] = {
    cls.name: cls for cls in (Biases, Logistic, GradientBoosting)}


def baselines_of(task: str) -> list[type[PointwiseBaseline]]:
    """The references of a pointwise task."""
    return [cls for cls in POINTWISE_BASELINES.values() if cls.task == task]


def _lookup(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``values[ids]``, 0 for ids outside the table (users or items without training rows)."""
    ids = np.asarray(ids)
    known = (ids >= 0) & (ids < len(values))
    return np.where(known, values[np.where(known, ids, 0)], 0.0)


def _smoothed_rates(ids: np.ndarray, labels: np.ndarray, size: int, prior: float) -> np.ndarray:
    """Per id, its click rate shrunk towards ``prior`` by ``RATE_PRIOR_ROWS`` pseudo-rows."""
    clicks = np.bincount(ids, labels, minlength=size)
    rows = np.bincount(ids, minlength=size)
    return (clicks + RATE_PRIOR_ROWS * prior) / (rows + RATE_PRIOR_ROWS)


def _out_of_fold_rates(ids: np.ndarray, labels: np.ndarray, size: int, prior: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Each training row's smoothed id rate computed from the other folds' rows only."""
    folds = rng.integers(0, RATE_FOLDS, len(ids))
    out = np.empty(len(ids))
    for fold in range(RATE_FOLDS):
        inside = folds == fold
        rates = _smoothed_rates(ids[~inside], labels[~inside], size, prior)
        out[inside] = rates[ids[inside]]
    return out
