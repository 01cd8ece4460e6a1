"""The ``cnn`` family: Caser and NextItNet.

- ``caser``: horizontal convolutions (heights 1..h, max-pooled over time) and vertical
  convolutions over the embedding matrix of the user's last L items, joined with a user
  embedding (Tang & Wang 2018); it scores every item with a softmax and is trained on every
  position of each user's history. With item features, the output layer's row of an item is
  the item's vector (id embedding plus attribute encoding).
- ``nextitnet``: a stack of residual blocks of dilated causal 1-D convolutions over the item
  sequence (Yuan et al. 2019), predicting the next item at every position in one pass.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from automl_rec.data.profiling import DataProfile
from automl_rec.data.splitting import StageData
from automl_rec.models.features import ItemScores
from automl_rec.models.keras_base import KerasRecommender, sparse_softmax_loss, windows
from automl_rec.models.next_item import (FULL_SOFTMAX_MAX_ITEMS, NextItemModel,
                                         adapt_window_space, needs_order)
from automl_rec.models.sequences import interaction_windows
from automl_rec.spaces import SearchSpace

NAME = "cnn"


unsupported_reason = needs_order


def adapt_space(space: SearchSpace, profile: DataProfile) -> SearchSpace:
    """Windows bounded by the data (for both designs); Caser's dense output layer only where the
    catalogue allows a full softmax."""
    space = adapt_window_space(space, profile)
    space = space.narrowed("caser_length", high=int(space["max_length"].high))
    if profile.n_items > FULL_SOFTMAX_MAX_ITEMS:
        space = space.narrowed("design", choices=("nextitnet",))
    return space


def build(params: dict[str, Any], data: StageData, seed: int) -> KerasRecommender:
    """The model of the chosen design."""
    return {"caser": Caser, "nextitnet": NextItNet}[params["design"]](params, data, seed)


class NextItNet(NextItemModel):
    """Residual blocks of dilated causal convolutions."""

    def encode(self, items: keras.KerasTensor) -> keras.KerasTensor:
        dim, kernel = self.dim, int(self.params["kernel_size"])
        dropout = float(self.params["dropout"])
        present = self.present(items)
        x = self.embed(items)
        for _ in range(int(self.params["blocks"])):
            for dilation in (1, 2, 4):
                y = keras.layers.LayerNormalization(epsilon=1e-6)(x)
                y = keras.layers.Conv1D(dim, kernel, padding="causal", dilation_rate=dilation,
                                        activation="relu")(y)
                y = keras.layers.LayerNormalization(epsilon=1e-6)(y)
                y = keras.layers.Conv1D(dim, kernel, padding="causal",
                                        dilation_rate=2 * dilation, activation="relu")(y)
                x = (x + keras.layers.Dropout(dropout)(y)) * present
        return keras.layers.LayerNormalization(epsilon=1e-6)(x)


class Caser(KerasRecommender):
    """Horizontal and vertical convolutions over the last L items, plus a user embedding."""

    @property
    def length(self) -> int:
        return int(self.params["caser_length"])

    def build(self) -> keras.Model:
        dim, dropout = int(self.params["embedding_dim"]), float(self.params["caser_dropout"])
        window = keras.Input(shape=(self.length,), dtype="int32", name="window")
        user = keras.Input(shape=(), dtype="int32", name="user")
        embedding = keras.layers.Embedding(self.data.n_items + 1, dim, name="item_embedding")
        embedded = embedding(window) * keras.ops.cast(keras.ops.expand_dims(window > 0, -1),
                                                      embedding.compute_dtype)
        filters = int(self.params["filters"])
        pooled = [keras.layers.GlobalMaxPooling1D()(
            keras.layers.Conv1D(filters, height, activation="relu")(embedded))
            for height in range(1, self.length + 1)]
        vertical = keras.layers.Dense(int(self.params["vertical_filters"]))(
            keras.ops.transpose(embedded, (0, 2, 1)))
        joined = keras.layers.Concatenate()([*pooled, keras.layers.Flatten()(vertical)])
        z = keras.layers.Dense(dim, activation="relu")(keras.layers.Dropout(dropout)(joined))
        users = keras.layers.Embedding(self.data.n_users, dim, name="user_embedding")(user)
        hidden = keras.layers.Concatenate()([z, users])
        if self.uses_item_features:  # the output layer's rows become the items' vectors
            logits = ItemScores(self.item_table(2 * dim), name="item_logits")(hidden)
        else:
            logits = keras.layers.Dense(self.data.n_items, name="item_logits",
                                        dtype="float32")(hidden)
        return keras.Model([window, user], logits, name="caser")

    def cells_per_example(self) -> int:
        return self.data.n_items

    def examples(self) -> tuple[np.ndarray, ...]:
        return interaction_windows(self.data)

    def batch_inputs(self, number: tf.Tensor, *batch: tf.Tensor) -> tuple[tf.Tensor, ...]:
        users, ends = batch
        return (self.history.windows(users, ends, self.length), tf.cast(users, tf.int32),
                self.history.items_at(ends))

    def loss_on(self, batch: tuple[tf.Tensor, ...]) -> tf.Tensor:
        windows, users, targets = batch
        logits = self.model([windows, users], training=True)
        return sparse_softmax_loss(logits + self.absent_items(), targets)

    needs_user = True

    def scores_for(self, users: tf.Tensor, rows: tf.RaggedTensor) -> tf.Tensor:
        return self.model([windows(rows, self.length), tf.cast(users, tf.int32)],
                          training=False)
