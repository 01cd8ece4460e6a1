"""I-AutoRec (Sedhain et al. 2015), the autoencoder family's rating design.

Each item is the vector of the ratings its users gave in the training rows (0 where a user did
not rate it). A sigmoid encoder and a linear decoder reconstruct the vector; the loss is the
squared error on the observed ratings only, with weight decay (ratings are shifted to start at
1, so that 0 means "not rated" on any scale). The predicted rating of (user,
item) is the user's entry of the item's reconstruction; an item or a user without training
ratings gets the training mean. The published item-based form beat its user-based one and biased
matrix factorisation on MovieLens (RMSE 0.831 on ML-1M with a random 90/10 split).

There is no autoencoder design known to predict clicks well, so the family does not apply to the
click task (:data:`automl_rec.tasks.designs.NO_CLICK_DESIGN`).
"""

from __future__ import annotations

from typing import Any

from automl_rec.models import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import tensorflow as tf  # noqa: E402

from automl_rec.models.keras_base import seed_everything  # noqa: E402
from automl_rec.tasks.rows import RowFold  # noqa: E402

# The dense item batches are [items, users]: the reconstruction of every item for prediction
# is computed this many cells at a time.
PREDICT_CELLS = 20_000_000


class ItemAutoRec:
    """Item-based AutoRec over the users' ratings.

    Args:
        params: ``hidden_units``, ``l2``, ``learning_rate``, ``batch_size`` (items per step).
        n_users: Users of the split.
        n_items: Items of the split.
        mean: The training ratings' mean.
        seed: Seed of the initialisation and shuffling.
    """

    history_length = 0

    def __init__(self, params: dict[str, Any], n_users: int, n_items: int, mean: float,
                 seed: int) -> None:
        seed_everything(seed)
        self.params, self.n_users, self.n_items, self.mean = params, n_users, n_items, mean
        self.rng = np.random.default_rng(seed)
        l2 = keras.regularizers.L2(float(params["l2"]))
        ratings = keras.Input(shape=(n_users,), name="ratings")
        hidden = keras.layers.Dense(int(params["hidden_units"]), activation="sigmoid",
                                    kernel_regularizer=l2)(ratings)
        self.model = keras.Model(ratings, keras.layers.Dense(n_users, kernel_regularizer=l2)(
            hidden), name="i_autorec")
        self.optimizer = keras.optimizers.Adam(learning_rate=float(params["learning_rate"]))
        self._step = tf.function(self._train_step, reduce_retracing=True)
        self.matrix: sp.csr_matrix | None = None
        self.offset = 0.0

    def _train_step(self, ratings: tf.Tensor) -> tf.Tensor:
        observed = tf.cast(ratings != 0, tf.float32)
        with tf.GradientTape() as tape:
            errors = (self.model(ratings, training=True) - ratings) * observed
            loss = tf.reduce_sum(tf.square(errors)) / tf.maximum(tf.reduce_sum(observed), 1.0)
            total = loss + tf.add_n(self.model.losses)
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
        return loss

    def _item_matrix(self, rows: RowFold) -> sp.csr_matrix:
        """Items x users ratings of the training rows (a repeated pair keeps its last rating)."""
        known = (rows.users >= 0) & (rows.users < self.n_users) & (rows.items >= 0) & (
            rows.items < self.n_items)
        self.offset = float(rows.labels[known].min()) - 1.0 if known.any() else 0.0
        frame = sp.coo_matrix(((rows.labels[known] - self.offset).astype(np.float32),
                               (rows.items[known], rows.users[known])),
                              shape=(self.n_items, self.n_users))
        last = {(i, u): r for i, u, r in zip(frame.row, frame.col, frame.data)}
        if len(last) < frame.nnz:
            items, users = zip(*last)
            frame = sp.coo_matrix((np.fromiter(last.values(), np.float32), (items, users)),
                                  shape=frame.shape)
        return frame.tocsr()

    def fit_epoch(self, rows: RowFold) -> float:
        """One shuffled pass over the items that have training ratings; the mean loss."""
        if self.matrix is None:
            self.matrix = self._item_matrix(rows)
        rated = np.flatnonzero(np.diff(self.matrix.indptr) > 0)
        order = self.rng.permutation(rated)
        size = int(self.params["batch_size"])
        losses = [self._step(tf.constant(self.matrix[batch].toarray()))
                  for batch in np.array_split(order, max(1, -(-len(order) // size)))]
        return float(np.mean([float(x) for x in losses]))

    def predict(self, rows: RowFold) -> np.ndarray:
        """The rating of each (user, item) row: the user's entry of the item's reconstruction,
        the training mean where the user or the item has no training rating."""
        assert self.matrix is not None, "fit_epoch first"
        out = np.full(len(rows), self.mean)
        counts = np.diff(self.matrix.indptr)
        user_rated = np.bincount(self.matrix.indices, minlength=self.n_users) > 0
        inside = ((rows.users >= 0) & (rows.users < self.n_users) & (rows.items >= 0)
                  & (rows.items < self.n_items))
        inside[inside] &= (counts[rows.items[inside]] > 0) & user_rated[rows.users[inside]]
        wanted = np.unique(rows.items[inside])
        step = max(1, PREDICT_CELLS // max(self.n_users, 1))
        for start in range(0, len(wanted), step):
            items = wanted[start:start + step]
            rebuilt = np.asarray(self.model(self.matrix[items].toarray(), training=False))
            picked = inside & np.isin(rows.items, items)
            position = np.searchsorted(items, rows.items[picked])
            out[picked] = rebuilt[position, rows.users[picked]] + self.offset
        return out
