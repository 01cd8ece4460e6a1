"""The ``attention`` family: SASRec and BERT4Rec.

- ``sasrec``: causal self-attention blocks over the user's recent items with learned positions,
  layer normalisation and dropout (Kang & McAuley 2018), trained to predict the next item at
  every position with full softmax cross-entropy over the catalogue, which beats the original
  binary loss with one negative by a wide margin (Klenitskiy & Vasilev 2023; Petrov & Macdonald
  2023).
- ``bert4rec``: the same blocks without the causal mask, trained to recover randomly masked
  items (Sun et al. 2019); the next item is predicted at a [MASK] appended to the history.
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
from automl_rec.models.sequences import sequence_chunks

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
        present = keras.ops.cast(keras.ops.expand_dims(items > 0, -1), "float32")
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

    def examples(self) -> tuple[np.ndarray, ...]:
        chunks = sequence_chunks(self.data, self.length)
        present = chunks > 0
        masked = present & (self.rng.random(chunks.shape) < float(self.params["mask_prob"]))
        none = ~masked.any(axis=1)
        masked[none, -1] = present[none, -1]
        inputs = np.where(masked, self.mask_token, chunks).astype(np.int32)
        return inputs, np.where(masked, chunks, 0).astype(np.int32)

    def score_inputs(self, rows: tf.RaggedTensor) -> tf.Tensor:
        recent = windows(rows, self.length - 1)
        mask = tf.fill(tf.stack([tf.shape(recent)[0], 1]), self.mask_token)
        return tf.concat([recent, mask], axis=1)
