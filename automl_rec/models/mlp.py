"""The ``mlp`` family: a YouTube-DNN style model and NeuMF.

- ``youtube``: the mean of the embeddings of the user's most recent items goes through an MLP
  and a softmax over every item of the catalogue, trained to predict each interaction from the
  ones before it (Covington et al. 2016); full softmax cross-entropy, or sampled softmax on
  catalogues above ``next_item.FULL_SOFTMAX_MAX_ITEMS`` items, as the paper trains it. With
  item features, the softmax's item vectors are :class:`ItemScores` rows (id plus attributes).
- ``neumf``: user and item embeddings combined by a GMF tower (element-wise product) and an MLP
  tower (He et al. 2017), trained with binary cross-entropy on sampled negatives; ``gmf`` keeps
  the GMF tower only and ``dot`` is a plain dot product with item biases, which is known to be
  a strong choice (Rendle et al. 2020). With item features, the item embeddings of the towers
  are :class:`ItemTable` vectors (id plus attributes).

Both train only on the items the stage has: items without interactions in it (cold items) are
neither softmax classes nor sampled negatives.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from automl_rec.data.profiling import DataProfile
from automl_rec.data.splitting import StageData
from automl_rec.models.features import ItemScores
from automl_rec.models.keras_base import (KerasRecommender, fitting_batch_sizes,
                                          sparse_softmax_loss, windows)
from automl_rec.models.next_item import (FULL_SOFTMAX_MAX_ITEMS, adapt_feature_space,
                                         catalogue_softmax_loss, logit_width)
from automl_rec.models.sequences import interaction_windows
from automl_rec.spaces import SearchSpace

NAME = "mlp"


def unsupported_reason(profile: DataProfile) -> str | None:
    """The mlp family applies to any interaction log."""
    return None


def adapt_space(space: SearchSpace, profile: DataProfile) -> SearchSpace:
    """Bound the space by the data: history length by the 95th percentile of history length,
    embedding size by the catalogue, and batches whose logits (YouTube-DNN's softmax, full or
    sampled) fit in memory; item features only with an item table."""
    space = adapt_feature_space(space, profile)
    longest = max(5, int(np.ceil(profile.history_length["p95"])))
    space = space.narrowed("history_length", high=longest)
    space = space.narrowed("embedding_dim", high=max(16, min(profile.n_items, profile.n_users)))
    sizes = fitting_batch_sizes(space["batch_size"].choices, logit_width(profile.n_items))
    return space.narrowed("batch_size", choices=sizes)


def build(params: dict[str, Any], data: StageData, seed: int) -> KerasRecommender:
    """The model of the chosen design."""
    designs = {"youtube": YouTubeDNN, "neumf": NeuMF}
    return designs[params["design"]](params, data, seed)


def _tower(x: Any, params: dict[str, Any]) -> Any:
    for _ in range(int(params["hidden_layers"])):
        x = keras.layers.Dense(int(params["hidden_units"]), activation="relu")(x)
        x = keras.layers.Dropout(float(params["dropout"]))(x)
    return x


class YouTubeDNN(KerasRecommender):
    """Pooled recent-history embeddings -> MLP -> softmax over all items."""

    @property
    def length(self) -> int:
        return int(self.params["history_length"])

    def build(self) -> keras.Model:
        history = keras.Input(shape=(self.length,), dtype="int32", name="history")
        embedded = keras.layers.Embedding(self.data.n_items + 1, int(self.params["embedding_dim"]),
                                          mask_zero=True, name="item_embedding")(history)
        pooled = keras.layers.GlobalAveragePooling1D()(embedded)
        pooled = keras.layers.Dropout(float(self.params["dropout"]))(pooled)
        hidden = _tower(pooled, self.params)
        if self.uses_item_features:  # the softmax's rows become the items' vectors
            self.output_layer = ItemScores(self.item_table(int(hidden.shape[-1])),
                                           name="item_logits")
        else:
            self.output_layer = keras.layers.Dense(self.data.n_items, name="item_logits",
                                                   dtype="float32")
        self.encoder = keras.Model(history, hidden, name="youtube_encoder")
        return keras.Model(history, self.output_layer(hidden), name="youtube_dnn")

    @property
    def sampled(self) -> bool:
        """Whether training uses sampled softmax (large catalogues)."""
        return self.data.n_items > FULL_SOFTMAX_MAX_ITEMS

    @property
    def xla_compatible(self) -> bool:  # type: ignore[override]
        """The candidate sampler of sampled softmax has no XLA kernel."""
        return not self.sampled

    def cells_per_example(self) -> int:
        return logit_width(self.data.n_items)

    def examples(self) -> tuple[np.ndarray, ...]:
        return interaction_windows(self.data)

    def batch_inputs(self, number: tf.Tensor, *batch: tf.Tensor) -> tuple[tf.Tensor, ...]:
        users, ends = batch
        return self.history.windows(users, ends, self.length), self.history.items_at(ends)

    def loss_on(self, batch: tuple[tf.Tensor, ...]) -> tf.Tensor:
        windows, targets = batch
        if not self.sampled:
            return sparse_softmax_loss(self.model(windows, training=True) + self.absent_items(),
                                       targets)
        if isinstance(self.output_layer, ItemScores):
            vectors = self.output_layer.vectors(training=True)
        else:
            vectors = tf.transpose(self.output_layer.kernel)
        return catalogue_softmax_loss(self.encoder(windows, training=True), targets, vectors,
                                      self.output_layer.bias, self.data.item_counts)

    def scores_for(self, users: tf.Tensor, rows: tf.RaggedTensor) -> tf.Tensor:
        return self.model(windows(rows, self.length), training=False)


class NeuMF(KerasRecommender):
    """GMF and MLP towers over user and item embeddings, binary cross-entropy on negatives."""

    def _item_embedding(self, dim: int, name: str) -> Any:
        """An item-side embedding of the towers: ids, or ids and attributes (an
        :class:`ItemTable` scored with the id dropout, looked up by ``item + 1``)."""
        if self.uses_item_features:
            return self.item_table(dim, scored=True, name=name)
        return keras.layers.Embedding(self.data.n_items, dim, name=name)

    def _item_rows(self, items: Any) -> Any:
        """Row ids of ``items`` in the item-side embeddings (an item table has a padding row)."""
        return items + 1 if self.uses_item_features else items

    def build(self) -> keras.Model:
        dim = int(self.params["embedding_dim"])
        kind = self.params["interaction"]
        user = keras.Input(shape=(), dtype="int32", name="user")
        item = keras.Input(shape=(), dtype="int32", name="item")
        self.user_gmf = keras.layers.Embedding(self.data.n_users, dim, name="user_gmf")
        self.item_gmf = self._item_embedding(dim, "item_gmf")
        # Only the layers of the chosen interaction exist: a layer the network does not use would
        # be missing from the exported model while scoring still reached for it.
        self.item_bias = (keras.layers.Embedding(self.data.n_items, 1, name="item_bias",
                                                 embeddings_initializer="zeros")
                          if kind == "dot" else None)
        self.user_mlp = (keras.layers.Embedding(self.data.n_users, dim, name="user_mlp")
                         if kind == "neumf" else None)
        self.item_mlp = self._item_embedding(dim, "item_mlp") if kind == "neumf" else None
        self.layers_mlp = [keras.layers.Dense(int(self.params["hidden_units"]), activation="relu")
                           for _ in range(int(self.params["hidden_layers"]) if kind == "neumf"
                                          else 0)]
        self.output_layer = (keras.layers.Dense(1, name="logit", dtype="float32")
                             if kind != "dot" else None)
        rows = self._item_rows(item)
        logit = self._logit(self.user_gmf(user), self.item_gmf(rows), _apply(self.user_mlp, user),
                            _apply(self.item_mlp, rows), _apply(self.item_bias, item),
                            training_dropout=True)
        return keras.Model([user, item], logit, name=f"neumf_{kind}")

    def _logit(self, ug: Any, ig: Any, um: Any, im: Any, bias: Any,
               training_dropout: bool = False) -> Any:
        kind = self.params["interaction"]
        if kind == "dot":
            return keras.ops.sum(ug * ig, axis=-1) + keras.ops.squeeze(bias, -1)
        parts = [ug * ig]
        if kind == "neumf":
            x = keras.ops.concatenate([um, im], axis=-1)
            for layer in self.layers_mlp:
                x = layer(x)
                if training_dropout:
                    x = keras.layers.Dropout(float(self.params["dropout"]))(x)
            parts.append(x)
        joined = parts[0] if len(parts) == 1 else keras.ops.concatenate(parts, axis=-1)
        return keras.ops.squeeze(self.output_layer(joined), -1)

    def loss_on(self, batch: tuple[tf.Tensor, ...]) -> tf.Tensor:
        users, items, labels = batch
        logits = tf.cast(self.model([users, items], training=True), tf.float32)
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.cast(labels, tf.float32), logits=logits))

    def examples(self) -> tuple[np.ndarray, ...]:
        positives = self.data.matrix.tocoo()
        negatives = int(self.params["negatives"])
        users = np.repeat(positives.row, 1 + negatives).astype(np.int32)
        items = np.repeat(positives.col, 1 + negatives).astype(np.int32)
        labels = np.zeros(len(users), dtype=np.float32)
        labels[:: 1 + negatives] = 1.0
        sampled = labels == 0
        present = np.flatnonzero(self.data.item_counts > 0)
        items[sampled] = present[self.rng.integers(0, len(present), int(sampled.sum()))]
        return users, items, labels

    needs_user = True

    def scores_for(self, users: tf.Tensor, rows: tf.RaggedTensor) -> tf.Tensor:
        all_items = tf.range(self.data.n_items)
        ug = self.user_gmf(users)[:, None, :]
        shape = tf.stack([tf.shape(users)[0], self.data.n_items, ug.shape[-1]])

        def per_pair(user_part: Any, item_part: Any) -> tuple[Any, Any]:
            if user_part is None:
                return None, None
            return tf.broadcast_to(user_part, shape), tf.broadcast_to(item_part[None], shape)

        rows = self._item_rows(all_items)
        um, im = per_pair(_apply(self.user_mlp, users, lambda t: t[:, None, :]),
                          _apply(self.item_mlp, rows))
        bias = _apply(self.item_bias, all_items,
                      lambda t: tf.broadcast_to(t[None, :, 0], shape[:2])[..., None])
        logits = self._logit(*per_pair(ug, self.item_gmf(rows)), um, im, bias)
        return tf.cast(logits, tf.float32)

    def cells_per_user(self) -> int:
        """Each user's scores pass through [n_items, width] activations."""
        width = 2 * int(self.params["embedding_dim"]) + int(self.params["hidden_units"])
        return self.data.n_items * width


def _apply(layer: Any, inputs: Any, then: Any = None) -> Any:
    """``layer(inputs)`` (then ``then`` of it), or ``None`` where the layer is not used."""
    if layer is None:
        return None
    out = layer(inputs)
    return then(out) if then is not None else out
