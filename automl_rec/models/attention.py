"""The ``attention`` family: SASRec and BERT4Rec.

- ``sasrec``: causal self-attention blocks over the user's recent items with learned positions,
  layer normalisation and dropout (Kang & McAuley 2018), trained to predict the next item at
  every position with full softmax cross-entropy over the catalogue, which beats the original
  binary loss with one negative by a wide margin (Klenitskiy & Vasilev 2023; Petrov & Macdonald
  2023).
- ``bert4rec``: the same blocks without the causal mask, trained to recover randomly masked
  items (Sun et al. 2019); the next item is predicted at a [MASK] appended to the history.
  The masks are drawn inside the training pipeline, from a seed the model draws once from its
  random generator and the batch's number, so a given seed repeats them.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from automl_rec.data.splitting import StageData
from automl_rec.models.keras_base import KerasRecommender, windows
from automl_rec.models.next_item import (NextItemModel, adapt_window_space, needs_order,
                                         padding_attention_mask)
from automl_rec.models.sequences import history_windows

NAME = "attention"


unsupported_reason = needs_order
adapt_space = adapt_window_space


def build(params: dict[str, Any], data: StageData, seed: int) -> KerasRecommender:
    """The model of the chosen design."""
    return {"sasrec": SASRec, "bert4rec": BERT4Rec}[params["design"]](params, data, seed)


class SASRec(NextItemModel):
    """Causal self-attention over the recent items."""

    def encode(self, items: keras.KerasTensor) -> keras.KerasTensor:
        dim, dropout = self.dim, float(self.params["dropout"])
        heads = int(self.params["heads"])
        index = keras.ops.cumsum(keras.ops.ones_like(items), axis=1) - 1
        positions = keras.layers.Embedding(self.length, dim, name="positions")(index)
        present = self.present(items)
        x = (self.embed(items) * float(np.sqrt(dim)) + positions) * present
        x = keras.layers.Dropout(dropout)(x)
        mask = padding_attention_mask(items)
        for _ in range(int(self.params["blocks"])):
            query = keras.layers.LayerNormalization(epsilon=1e-6)(x)
            attended = keras.layers.MultiHeadAttention(heads, dim // heads, dropout=dropout)(
                query, x, attention_mask=mask, use_causal_mask=self.causal)
            x = query + keras.layers.Dropout(dropout)(attended)
            y = keras.layers.LayerNormalization(epsilon=1e-6)(x)
            y = keras.layers.Dense(dim, activation="gelu")(y)
            y = keras.layers.Dropout(dropout)(y)
            y = keras.layers.Dense(dim)(y)
            x = (x + keras.layers.Dropout(dropout)(y)) * present
        return keras.layers.LayerNormalization(epsilon=1e-6)(x)


class BERT4Rec(SASRec):
    """Bidirectional self-attention trained by recovering masked items."""

    causal = False

    def build(self) -> keras.Model:
        self.mask_seed = int(self.rng.integers(2**31 - 1))
        return super().build()

    def examples(self) -> tuple[np.ndarray, ...]:
        return history_windows(self.data, self.length)

    def batch_inputs(self, number: tf.Tensor, *batch: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """Each item is masked with probability ``mask_prob``; a window left without a mask has
        its last item masked."""
        users, ends = batch
        chunks = self.history.windows(users, ends, self.length)
        present = chunks > 0
        draws = tf.random.stateless_uniform(
            tf.shape(chunks), seed=tf.stack([tf.constant(self.mask_seed, tf.int64), number]))
        masked = present & (draws < float(self.params["mask_prob"]))
        none = ~tf.reduce_any(masked, axis=1, keepdims=True)
        last = tf.range(self.length)[None, :] == self.length - 1
        masked |= none & last & present
        inputs = tf.where(masked, self.mask_token, chunks)
        return inputs, tf.where(masked, chunks, 0)

    def score_inputs(self, rows: tf.RaggedTensor) -> tf.Tensor:
        recent = windows(rows, self.length - 1)
        mask = tf.fill(tf.stack([tf.shape(recent)[0], 1]), self.mask_token)
        return tf.concat([recent, mask], axis=1)
