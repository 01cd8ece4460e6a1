"""The ``lstm`` family: a GRU4Rec-style next-item model (Hidasi et al. 2016).

Item embeddings go through one or more recurrent layers (GRU or LSTM, a choice of the search);
the hidden state after each item scores every item of the catalogue. All positions of a training
window are learned in one pass (each position is a prefix of the user's sequence), with full
softmax cross-entropy, or sampled softmax on very large catalogues.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from automl_rec.data.profiling import DataProfile
from automl_rec.data.splitting import StageData
from automl_rec.models.keras_base import KerasRecommender
from automl_rec.models.next_item import NextItemModel, fitting_batch_sizes
from automl_rec.spaces import SearchSpace

NAME = "lstm"


def unsupported_reason(profile: DataProfile) -> str | None:
    """Recurrent models read histories in time order."""
    if not profile.has_timestamps:
        return "needs timestamps to put each user's history in order"
    return None


def adapt_space(space: SearchSpace, profile: DataProfile) -> SearchSpace:
    """Window length up to the 95th percentile of history length; batches that fit memory."""
    longest = max(5, int(np.ceil(profile.history_length["p95"])))
    space = space.narrowed("max_length", high=longest)
    sizes = fitting_batch_sizes(space["batch_size"].choices, int(space["max_length"].high),
                                profile.n_items)
    return space.narrowed("batch_size", choices=sizes)


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
