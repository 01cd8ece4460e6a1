"""The ``lstm`` family: a GRU4Rec-style next-item model (Hidasi et al. 2016).

Item embeddings go through one or more recurrent layers (GRU or LSTM, a choice of the search);
the hidden state after each item scores every item of the catalogue. All positions of a training
window are learned in one pass (each position is a prefix of the user's sequence), with full
softmax cross-entropy, or sampled softmax on very large catalogues.
"""

from __future__ import annotations

from typing import Any

import keras

from automl_rec.data.splitting import StageData
from automl_rec.models.keras_base import KerasRecommender
from automl_rec.models.next_item import NextItemModel, adapt_window_space, needs_order

NAME = "lstm"


unsupported_reason = needs_order
adapt_space = adapt_window_space


def build(params: dict[str, Any], data: StageData, seed: int) -> KerasRecommender:
    """A GRU4Rec-style model with the chosen cell."""
    return GRU4Rec(params, data, seed)


class GRU4Rec(NextItemModel):
    """Embedding -> stacked GRU/LSTM -> projection onto the item embeddings."""

    def encode(self, items: keras.KerasTensor) -> keras.KerasTensor:
        dropout = float(self.params["dropout"])
        cell = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[self.params["cell"]]
        mask = items > 0
        x = keras.layers.Dropout(dropout)(self.embed(items))
        for _ in range(int(self.params["layers"])):
            x = cell(int(self.params["units"]), return_sequences=True)(x, mask=mask)
            x = keras.layers.Dropout(dropout)(x)
        return keras.layers.Dense(self.dim)(x)
