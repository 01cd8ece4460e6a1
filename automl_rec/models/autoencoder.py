"""The ``autoencoder`` family: Mult-VAE, Mult-DAE (Liang et al. 2018) and CDAE (Wu et al. 2016).

Each user is the vector of the items they interacted with. ``multvae`` and ``multdae`` corrupt
the normalised vector with dropout, encode it, and decode a multinomial distribution over all
items (multinomial log-likelihood); the VAE adds a KL term whose weight is annealed linearly
from 0 to ``anneal_cap`` over ``anneal_epochs`` epochs. ``cdae`` adds a user embedding to a
denoising autoencoder trained with a logistic loss over every item. No order is needed, so the
family applies to data without timestamps.

With item features the decoder's output rows are the items' vectors (:class:`ItemScores`: id
plus attributes), so cold items are scored from their attributes. The losses run over the items
the stage has (an item without interactions in it is no negative), and an item the stage lacks
adds nothing to the encoder's input (its input weights never learnt anything).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from automl_rec.data.profiling import DataProfile
from automl_rec.data.splitting import StageData
from automl_rec.device import current_device
from automl_rec.models.features import ItemScores
from automl_rec.models.keras_base import KerasRecommender, vectors
from automl_rec.models.next_item import adapt_feature_space
from automl_rec.spaces import SearchSpace

NAME = "autoencoder"
# One epoch shows each user once: few gradient steps, so trials count patience and epochs in
# units of this many epochs.
EPOCH_SCALE = 4
# The decoder is a dense [hidden, n_items] layer, and batches are dense [batch, n_items] rows.
MAX_ITEMS = 200_000
# One epoch passes every user's dense item vector through the encoder and the decoder: its cost
# grows with users x items (times the hidden width). Measured at the default width on two CPU
# cores: about 200 seconds per 10^9 user-item cells, so 2 x 10^9 cells is some 7 minutes per
# epoch (and trials count epochs in units of EPOCH_SCALE). A GPU with mixed precision is assumed
# some fifty times faster; that bound is an estimate.
MAX_EPOCH_CELLS = {"cpu": 2 * 10**9, "gpu": 10**11}


def unsupported_reason(profile: DataProfile) -> str | None:
    """Dense item-vector decoders: a bound on the catalogue (memory) and on users x items (the
    time of one epoch on the selected device)."""
    if profile.n_items > MAX_ITEMS:
        return (f"its dense decoder over all {profile.n_items:,} items is too large; it runs on "
                f"catalogues of up to {MAX_ITEMS:,} items")
    kind = current_device().kind
    cells = profile.n_users * profile.n_items
    if cells > MAX_EPOCH_CELLS[kind]:
        return (f"one epoch passes {profile.n_users:,} users x {profile.n_items:,} items "
                f"({cells:,} cells) through its dense decoder, too slow on the {kind.upper()}; "
                f"it runs up to {MAX_EPOCH_CELLS[kind]:,} user-item cells there")
    return None


def adapt_space(space: SearchSpace, profile: DataProfile) -> SearchSpace:
    """Hidden layers no wider than the catalogue; item features only with an item table."""
    space = adapt_feature_space(space, profile)
    space = space.narrowed("hidden_units", high=max(32, profile.n_items))
    return space.narrowed("latent_dim", high=max(16, profile.n_items // 2))


def build(params: dict[str, Any], data: StageData, seed: int) -> KerasRecommender:
    """The model of the chosen design."""
    return {"multvae": MultVAE, "multdae": MultDAE, "cdae": CDAE}[params["design"]](
        params, data, seed)


class _UserVectors(KerasRecommender):
    """Shared input side: dense interaction vectors of the users' histories."""

    def cells_per_example(self) -> int:
        return self.data.n_items

    def examples(self) -> tuple[np.ndarray, ...]:
        counts = np.diff(self.data.offsets)
        return (np.flatnonzero(counts > 0).astype(np.int64),)

    def batch_inputs(self, number: tf.Tensor, *batch: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """The users and their ``[batch, n_items]`` binary interaction vectors."""
        (users,) = batch
        return users, vectors(self.history.rows(users), self.data.n_items)

    def inputs_of(self, rows: tf.RaggedTensor) -> tf.Tensor:
        """The encoder's input for histories ``rows``: their interaction vectors over the items
        the stage has (a cold item in a history given at request time adds nothing)."""
        present = tf.constant((self.data.item_counts > 0).astype(np.float32))
        return vectors(rows, self.data.n_items) * present[None, :]

    def scores_for(self, users: tf.Tensor, rows: tf.RaggedTensor) -> tf.Tensor:
        return self.model(self.inputs_of(rows), training=False)

    def output_layer(self) -> keras.layers.Layer:
        """The last layer, ``[hidden] -> [n_items]`` logits: dense, or the items' vectors
        with item features."""
        if self.uses_item_features:
            return ItemScores(self.item_table(int(self.params["hidden_units"])),
                              name="item_logits")
        return keras.layers.Dense(self.data.n_items, dtype="float32", name="item_logits")

    def softmax_logits(self, logits: tf.Tensor) -> tf.Tensor:
        """``logits`` in float32 with the items the stage lacks left out of the softmax."""
        return tf.cast(logits, tf.float32) + self.absent_items()[None, :]


def _multinomial_loss(logits: tf.Tensor, vectors: tf.Tensor) -> tf.Tensor:
    log_softmax = tf.nn.log_softmax(logits, axis=-1)
    return -tf.reduce_mean(tf.reduce_sum(log_softmax * vectors, axis=-1))


class MultDAE(_UserVectors):
    """Normalise -> dropout -> tanh encoder -> decoder, multinomial likelihood."""

    def build(self) -> keras.Model:
        vectors = keras.Input(shape=(self.data.n_items,), name="vectors")
        x = keras.layers.UnitNormalization(dtype="float32")(vectors)
        x = keras.layers.Dropout(float(self.params["dropout"]))(x)
        x = keras.layers.Dense(int(self.params["hidden_units"]), activation="tanh")(x)
        x = keras.layers.Dense(int(self.params["latent_dim"]), activation="tanh")(x)
        x = keras.layers.Dense(int(self.params["hidden_units"]), activation="tanh")(x)
        return keras.Model(vectors, self.output_layer()(x), name="multdae")

    def loss_on(self, batch: tuple[tf.Tensor, ...]) -> tf.Tensor:
        _, vectors = batch
        return _multinomial_loss(self.softmax_logits(self.model(vectors, training=True)),
                                 vectors)


class MultVAE(_UserVectors):
    """Variational version: Gaussian latent, KL weight annealed over the first epochs."""

    def build(self) -> keras.Model:
        latent = int(self.params["latent_dim"])
        vectors = keras.Input(shape=(self.data.n_items,), name="vectors")
        x = keras.layers.UnitNormalization(dtype="float32")(vectors)
        x = keras.layers.Dropout(float(self.params["dropout"]))(x)
        x = keras.layers.Dense(int(self.params["hidden_units"]), activation="tanh")(x)
        mean = keras.layers.Dense(latent, name="mean", dtype="float32")(x)
        log_var = keras.layers.Dense(latent, name="log_var", dtype="float32")(x)
        self.decoder = keras.Sequential([
            keras.Input(shape=(latent,)),
            keras.layers.Dense(int(self.params["hidden_units"]), activation="tanh"),
            self.output_layer()], name="decoder")
        return keras.Model(vectors, [mean, log_var, self.decoder(mean)], name="multvae")

    def _anneal_steps(self) -> float:
        steps_per_epoch = -(-len(self.examples()[0]) // self.batch_size)
        return float(max(1, int(self.params["anneal_epochs"]) * steps_per_epoch))

    def loss_on(self, batch: tuple[tf.Tensor, ...]) -> tf.Tensor:
        _, vectors = batch
        mean, log_var, _ = self.model(vectors, training=True)
        noise = tf.random.normal(tf.shape(mean))
        logits = self.softmax_logits(self.decoder(mean + noise * tf.exp(0.5 * log_var),
                                                  training=True))
        kl = tf.reduce_mean(tf.reduce_sum(
            0.5 * (tf.exp(log_var) + tf.square(mean) - 1.0 - log_var), axis=-1))
        progress = tf.cast(self.optimizer.iterations, tf.float32) / self._anneal_steps()
        beta = tf.minimum(float(self.params["anneal_cap"]), progress)
        return _multinomial_loss(logits, vectors) + beta * kl

    def scores_for(self, users: tf.Tensor, rows: tf.RaggedTensor) -> tf.Tensor:
        return self.model(self.inputs_of(rows), training=False)[2]


class CDAE(_UserVectors):
    """Denoising autoencoder with a user embedding, logistic loss over every item."""

    def build(self) -> keras.Model:
        hidden = int(self.params["hidden_units"])
        vectors = keras.Input(shape=(self.data.n_items,), name="vectors")
        user = keras.Input(shape=(), dtype="int64", name="user")
        x = keras.layers.Dropout(float(self.params["dropout"]))(vectors)
        x = keras.layers.Dense(hidden)(x) + keras.layers.Embedding(self.data.n_users, hidden)(user)
        x = keras.layers.Activation("sigmoid")(x)
        return keras.Model([vectors, user], self.output_layer()(x), name="cdae")

    needs_user = True

    def scores_for(self, users: tf.Tensor, rows: tf.RaggedTensor) -> tf.Tensor:
        return self.model([self.inputs_of(rows), tf.cast(users, tf.int64)], training=False)

    def loss_on(self, batch: tuple[tf.Tensor, ...]) -> tf.Tensor:
        users, vectors = batch
        logits = tf.cast(self.model([vectors, users], training=True), tf.float32)
        present = tf.constant((self.data.item_counts > 0).astype(np.float32))
        losses = tf.nn.sigmoid_cross_entropy_with_logits(labels=vectors, logits=logits)
        return tf.reduce_mean(tf.reduce_sum(losses * present, axis=-1)
                              / tf.reduce_sum(present))
