"""Lists for users without a history, from their attributes (DESIGN 11: unknown users with
features are served from them).

A user's attribute vector has one L2-normalised block per used column of the user table: the
values or words present (categorical, multi-valued, text), or the bin of the scaled number
(numeric). A new user's list is the items of the ``NEIGHBOURS`` known users whose vectors are
the most similar (cosine), each user's items weighted by the similarity, with popularity
breaking ties; a user whose attributes match nobody's gets the most popular items. The number
of neighbours is chosen on the validation cases (:func:`choose_neighbours`). The
preprocessing layers (:class:`FeaturePreprocessing`) are adapted on the users with a history,
and run in the serving graph on raw values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from automl_rec.data.features import TableColumns
from automl_rec.data.splitting import Holdout, StageData
from automl_rec.models.features import FeaturePreprocessing

# Neighbours tried on the validation cases (:func:`choose_neighbours`); the first is the
# default.
NEIGHBOURS = (50, 10, 200)
# Known users compared with a new one (a seeded sample beyond this many).
POOL = 20_000
# Validation cases a choice of neighbours is measured on (a seeded sample beyond this many),
# and the most (user, item) cells scored at once.
EVALUATED_USERS = 5_000
SCORE_CELLS = 4_000_000
# Bin edges of a scaled number (in standard deviations).
NUMERIC_EDGES = (-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5)


class UserNeighbours(tf.Module):
    """Item scores for users described by their attributes only.

    Args:
        table: The user table's used columns, one row per user index.
        history: Every known user's interactions (the stage the served model learned from).
        seed: Seed of the sample of known users when there are more than ``POOL``.
        neighbours: How many of the most similar known users a list is made of.
    """

    def __init__(self, table: TableColumns, history: StageData, seed: int = 0,
                 neighbours: int = NEIGHBOURS[0]) -> None:
        super().__init__(name="user_neighbours")
        self.neighbours = int(neighbours)
        counts = np.diff(history.offsets)
        known = np.flatnonzero(counts > 0)
        if len(known) > POOL:
            known = np.sort(np.random.default_rng(seed).choice(known, POOL, replace=False))
        self.columns = table.columns
        self.preprocessing = FeaturePreprocessing(table, known, name="user_preprocessing")
        self.n_items = history.n_items
        raw = [tf.gather(values, tf.constant(known)) for values in self.preprocessing.raw]
        pool = tf.sparse.from_dense(self.vectors(self.preprocessing.preprocess(raw)))
        self.pool_size = len(known)
        self.pool_users = known
        self.pool_index, self.pool_values = pool.indices, pool.values
        self.pool_shape = pool.dense_shape
        rows = tf.RaggedTensor.from_row_splits(tf.constant(history.items, tf.int64),
                                               tf.constant(history.offsets, tf.int64))
        pool_rows = tf.gather(rows, tf.constant(known, tf.int64))
        self.pool_items, self.pool_splits = pool_rows.flat_values, pool_rows.row_splits
        popularity = history.item_counts.astype(np.float32)
        self.tie_break = tf.constant(1e-6 * popularity / max(float(popularity.max()), 1.0))
        self.tables = self.preprocessing.lookup_tables()

    @property
    def input_names(self) -> list[str]:
        """A serving input name per used column: its name made a valid identifier
        (``column_3`` for the fourth column of a table without a header)."""
        return [input_name(column.name) for column in self.columns]

    def vectors(self, preprocessed: list[tf.Tensor]) -> tf.Tensor:
        """``[rows, width]`` attribute vectors of preprocessed columns (one block each)."""
        blocks = []
        for column, values, width in zip(self.columns, preprocessed,
                                         self.preprocessing.input_sizes()):
            if column.kind == "numeric":
                scaled, missing = values[:, 0], values[:, 1]
                bins = tf.raw_ops.Bucketize(input=scaled, boundaries=list(NUMERIC_EDGES))
                block = tf.one_hot(bins, len(NUMERIC_EDGES) + 1) * (1.0 - missing)[:, None]
            else:
                hot = tf.reduce_max(tf.one_hot(tf.cast(values, tf.int32), width), axis=1)
                block = hot[:, 2:]  # neither padding nor out of vocabulary
            blocks.append(tf.math.l2_normalize(block, axis=1))
        return tf.concat(blocks, axis=1)

    def scores(self, raw: list[tf.Tensor], themselves: tf.Tensor | None = None
               ) -> tuple[tf.Tensor, tf.Tensor]:
        """Item scores ``[batch, n_items]`` for users given by raw column values, and whether
        each user's attributes matched anyone's (else the scores are popularity only).
        ``themselves`` (user indices, for an evaluation) leaves each user out of their own
        neighbours."""
        wanted = self.vectors(self.preprocessing.preprocess(raw))
        pool = tf.SparseTensor(self.pool_index, self.pool_values, self.pool_shape)
        similarity = tf.transpose(tf.sparse.sparse_dense_matmul(pool, wanted, adjoint_b=True))
        if themselves is not None:
            same = tf.constant(self.pool_users)[None, :] == tf.cast(themselves, tf.int64)[:, None]
            similarity = tf.where(same, -1.0, similarity)
        top = tf.math.top_k(similarity, k=min(self.neighbours, self.pool_size))
        rows = tf.gather(tf.RaggedTensor.from_row_splits(self.pool_items, self.pool_splits),
                         tf.reshape(top.indices, [-1]))
        weights = tf.reshape(top.values, [-1])
        asking = tf.reshape(tf.repeat(tf.range(tf.shape(wanted)[0], dtype=tf.int64),
                                      tf.shape(top.indices)[1]), [-1])
        index = tf.stack([tf.gather(asking, rows.value_rowids()), rows.flat_values], axis=1)
        scores = tf.scatter_nd(index, tf.gather(weights, rows.value_rowids()),
                               tf.stack([tf.cast(tf.shape(wanted)[0], tf.int64),
                                         tf.constant(self.n_items, tf.int64)]))
        return scores + self.tie_break[None, :], top.values[:, 0] > 0


def input_name(name: Any) -> str:
    """A column's name as a serving input name (letters, digits and underscores)."""
    text = "".join(c if c.isalnum() or c == "_" else "_" for c in str(name)).strip("_")
    return text if text and not text[0].isdigit() else f"column_{text}"


def choose_neighbours(table: TableColumns, holdout: Holdout, seed: int = 0, k: int = 10
                      ) -> dict[str, Any]:
    """The number of neighbours with the best HR@``k`` on the validation cases, each user
    served from their attributes alone by the users of the training stage (themselves left
    out), beside what popularity gets on the same cases.

    Returns:
        ``neighbours`` (chosen), ``hr`` per number tried, ``popularity_hr`` and ``cases``.
    """
    users, targets = holdout.users, holdout.targets
    if len(users) > EVALUATED_USERS:
        keep = np.sort(np.random.default_rng(seed).choice(len(users), EVALUATED_USERS,
                                                          replace=False))
        users, targets = users[keep], targets[keep]
    chunk = max(1, SCORE_CELLS // max(holdout.history.n_items, 1))
    hits: dict[int, float] = {}
    for count in NEIGHBOURS:
        model = UserNeighbours(table, holdout.history, seed, count)
        found = []
        for start in range(0, len(users), chunk):
            part = users[start:start + chunk]
            raw = [tf.constant(table.values[str(c.name)][part]) for c in table.columns]
            scores, _ = model.scores(raw, themselves=tf.constant(part))
            top = tf.math.top_k(scores, k=k).indices.numpy()
            found.append((top == targets[start:start + chunk, None]).any(axis=1))
        hits[count] = float(np.concatenate(found).mean()) if found else 0.0
    popular = np.argsort(-holdout.history.item_counts, kind="stable")[:k]
    # (popularity's HR on the same sampled cases)
    chosen = max(NEIGHBOURS, key=lambda n: (hits[n], -NEIGHBOURS.index(n)))
    return {"neighbours": chosen, "hr": {str(n): hits[n] for n in NEIGHBOURS},
            "popularity_hr": float(np.isin(targets, popular).mean()),
            "cases": int(len(users)), "k": k}
