"""Shared machinery of the sequence families that predict the next item at every position.

A window of a user's items (left-padded, most recent last) goes through a family's encoder to
one hidden vector per position; the item scores are the dot products of a position's vector with
the item embeddings (tied input and output embeddings), computed in float32 whatever the layers'
precision. Training cuts every user's history into windows (gathered batch by batch inside the
training pipeline) and learns all positions of a window in one pass, with full softmax
cross-entropy over the catalogue, or sampled softmax with a popularity-based sampler (and its
log-q correction): a searched choice (``negatives``, 0 for the full softmax; sampled by default
on catalogues well above the sampled sizes), and the only one on catalogues too large for a
dense softmax. Scoring reads each
user's full history up to the prediction point (the most recent ``max_length`` items of the
stage the model learned from).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from automl_rec.data.features import has_used_columns
from automl_rec.data.profiling import DataProfile
from automl_rec.models.features import ItemTable
from automl_rec.models.keras_base import (KerasRecommender, absent_offsets,
                                          fitting_batch_sizes, sparse_softmax_loss, windows)
from automl_rec.models.sequences import history_windows
from automl_rec.spaces import SearchSpace

# Above this many items, training uses sampled softmax instead of the full softmax.
FULL_SOFTMAX_MAX_ITEMS = 50_000
SAMPLED_CANDIDATES = 2_000
# The default of ``negatives`` is sampled when at least SAMPLED_DEFAULT_MIN negatives make the
# logits at least SAMPLED_DEFAULT_SAVING times fewer than the catalogue's.
SAMPLED_DEFAULT_SAVING = 4
SAMPLED_DEFAULT_MIN = 1_024


def needs_order(profile: DataProfile) -> str | None:
    """Sequence models read histories in time order: they need timestamps."""
    if not profile.has_order:
        return "needs timestamps to put each user's history in order"
    return None


def adapt_window_space(space: SearchSpace, profile: DataProfile) -> SearchSpace:
    """Window length (``max_length``) up to the 95th percentile of history length, the numbers
    of sampled negatives smaller than the catalogue, and the batch sizes whose logits fit in
    memory for the shortest window."""
    space = adapt_feature_space(space, profile)
    longest = max(5, int(np.ceil(profile.history_length["p95"])))
    space = space.narrowed("max_length", high=longest)
    widest = profile.n_items
    if "negatives" in space.names():
        space = adapt_negatives(space, profile.n_items)
        widest = max(logit_width(profile.n_items, n) for n in space["negatives"].choices)
    # Batch sizes that fit with the shortest window stay; a model whose window makes its batch
    # too large trains on a smaller one (``KerasRecommender.batch_size``).
    cells = int(space["max_length"].low) * widest
    sizes = fitting_batch_sizes(space["batch_size"].choices, cells)
    return space.narrowed("batch_size", choices=sizes)


def adapt_feature_space(space: SearchSpace, profile: DataProfile) -> SearchSpace:
    """Item features only with an item table that has a used column; the text encoder only
    with a text column."""
    if "item_features" not in space.names():
        return space
    if not has_used_columns(profile.features, ("items",)):
        return space.narrowed("item_features", choices=("none",))
    kinds = {c["kind"] for c in profile.features["items"]["columns"]}
    if "text" not in kinds:
        space = space.narrowed("text_encoder", choices=("pooled",))
    return space


def adapt_negatives(space: SearchSpace, n_items: int) -> SearchSpace:
    """Keep the sampled sizes below the catalogue (0, the full softmax, only where a dense
    softmax fits); the default is the largest size of at least ``SAMPLED_DEFAULT_MIN`` that
    makes the logits ``SAMPLED_DEFAULT_SAVING`` times fewer, else the full softmax."""
    choices = tuple(n for n in space["negatives"].choices
                    if (n == 0 and n_items <= FULL_SOFTMAX_MAX_ITEMS) or 0 < n < n_items)
    space = space.narrowed("negatives", choices=choices or (0,))
    param = space["negatives"]
    saving = [n for n in param.choices
              if SAMPLED_DEFAULT_MIN <= n and n * SAMPLED_DEFAULT_SAVING <= n_items]
    default = max(saving) if saving else (0 if 0 in param.choices else min(param.choices))
    return space.with_default("negatives", default)


def logit_width(n_items: int, negatives: int | None = None) -> int:
    """Logits per position in training: the catalogue, or the sampled candidates (``negatives``;
    0 or ``None``: the full softmax where it fits, else ``SAMPLED_CANDIDATES``)."""
    if negatives:
        return min(int(negatives), n_items)
    return SAMPLED_CANDIDATES if n_items > FULL_SOFTMAX_MAX_ITEMS else n_items


def catalogue_softmax_loss(hidden: tf.Tensor, targets: tf.Tensor, weights: tf.Tensor,
                           biases: tf.Tensor | None, item_counts: np.ndarray,
                           negatives: int | None = None) -> tf.Tensor:
    """Softmax cross-entropy of ``targets`` (0-based items) over the catalogue, in float32.

    Args:
        hidden: ``[examples, dim]`` hidden vectors.
        targets: ``[examples]`` item indices.
        weights: ``[n_items, dim]`` output vectors of the items.
        biases: ``[n_items]`` output biases, or ``None``.
        item_counts: Interactions of each item in the stage (the sampler's unigram weights).
        negatives: Items sampled per batch (0 or ``None``: see :func:`logit_width`).

    The softmax runs over the items the stage has (an item with no interactions in it, such
    as a cold item, is not a negative either: it does not exist yet for this model, and
    training it as one would teach the model to tell cold items apart and rank them last), or
    over ``negatives`` of them drawn by popularity (shared by the batch, with the log-q
    correction and accidental hits of the target removed).
    """
    n_items = int(weights.shape[0])
    hidden = tf.cast(hidden, tf.float32)
    present = item_counts > 0
    absent = absent_offsets(item_counts)
    biases = absent if biases is None else tf.cast(biases, tf.float32) + absent
    width = min(logit_width(n_items, negatives), int(present.sum()))
    if width >= int(present.sum()):
        return sparse_softmax_loss(tf.matmul(hidden, weights, transpose_b=True) + biases,
                                   targets)
    labels = tf.cast(tf.expand_dims(targets, -1), tf.int64)
    sampled = tf.random.fixed_unigram_candidate_sampler(
        true_classes=labels, num_true=1, num_sampled=width, unique=True,
        range_max=n_items, unigrams=(item_counts + present).astype(float).tolist())
    return tf.reduce_mean(tf.nn.sampled_softmax_loss(
        weights=weights, biases=biases, labels=labels, inputs=hidden,
        num_sampled=width, num_classes=n_items, sampled_values=sampled))


class NextItemModel(KerasRecommender):
    """Base of SASRec, GRU4Rec and NextItNet: ``encode`` maps item windows to hidden vectors."""

    causal = True

    @property
    def length(self) -> int:
        """Window length (``max_length``)."""
        return int(self.params["max_length"])

    @property
    def dim(self) -> int:
        """Size of the item embeddings and of the hidden vectors."""
        return int(self.params["embedding_dim"])

    @property
    def mask_token(self) -> int:
        """Input id of the [MASK] token (0 is padding, items are 1..n_items)."""
        return self.data.n_items + 1

    def encode(self, items: keras.KerasTensor) -> keras.KerasTensor:
        """``[batch, length]`` item ids -> ``[batch, length, dim]`` hidden vectors."""
        raise NotImplementedError

    def build(self) -> keras.Model:
        if self.uses_item_features:
            self.item_embedding = self.item_table(self.dim, extra=1)
        else:
            self.item_embedding = keras.layers.Embedding(self.data.n_items + 2, self.dim,
                                                         name="item_embedding")
        items = keras.Input(shape=(self.length,), dtype="int32", name="items")
        return keras.Model(items, self.encode(items), name=type(self).__name__.lower())

    def item_vectors(self, training: bool = False) -> tf.Tensor:
        """Output vectors of the catalogue's items, ``[n_items, dim]`` (the input ones: tied)."""
        if isinstance(self.item_embedding, ItemTable):
            rows = self.item_embedding.table(training)
        else:
            rows = self.item_embedding.embeddings
        return rows[1:self.data.n_items + 1]

    def present(self, items: keras.KerasTensor) -> keras.KerasTensor:
        """``[batch, length, 1]``: 1 where there is an item, 0 for padding (layers' dtype)."""
        return keras.ops.cast(keras.ops.expand_dims(items > 0, -1),
                              self.item_embedding.compute_dtype)

    def embed(self, items: keras.KerasTensor) -> keras.KerasTensor:
        """Item embeddings with padding zeroed."""
        return self.item_embedding(items) * self.present(items)

    @property
    def negatives(self) -> int:
        """Items sampled per batch for the softmax (0: the full softmax where it fits)."""
        return int(self.params.get("negatives") or 0)

    @property
    def xla_compatible(self) -> bool:  # type: ignore[override]
        """The candidate sampler of sampled softmax has no XLA kernel."""
        return logit_width(self.data.n_items, self.negatives) >= self.data.n_items

    def cells_per_example(self) -> int:
        return self.length * logit_width(self.data.n_items, self.negatives)

    def examples(self) -> tuple[np.ndarray, ...]:
        return history_windows(self.data, self.length + 1, self.length, min_items=2)

    def batch_inputs(self, number: tf.Tensor, *batch: tf.Tensor) -> tuple[tf.Tensor, ...]:
        users, ends = batch
        chunks = self.history.windows(users, ends, self.length + 1)
        return chunks[:, :-1], chunks[:, 1:]

    def loss_on(self, batch: tuple[tf.Tensor, ...]) -> tf.Tensor:
        inputs, targets = batch
        hidden = self.model(inputs, training=True)
        present = targets > 0
        return self.item_loss(tf.boolean_mask(hidden, present),
                              tf.boolean_mask(targets, present) - 1)

    def item_loss(self, hidden: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        """Softmax cross-entropy of ``targets`` (0-based items) given hidden vectors (float32)."""
        return catalogue_softmax_loss(hidden, targets, self.item_vectors(training=True), None,
                                      self.data.item_counts, self.negatives)

    def score_inputs(self, rows: tf.RaggedTensor) -> tf.Tensor:
        """The window the next item is predicted from (the most recent items)."""
        return windows(rows, self.length)

    def scores_for(self, users: tf.Tensor, rows: tf.RaggedTensor) -> tf.Tensor:
        hidden = self.model(self.score_inputs(rows), training=False)[:, -1, :]
        return tf.matmul(tf.cast(hidden, tf.float32), self.item_vectors(), transpose_b=True)


def padding_attention_mask(items: keras.KerasTensor) -> keras.KerasTensor:
    """``[batch, length, length]`` mask letting every position attend to non-padding items."""
    keys = keras.ops.expand_dims(items > 0, 1)
    return keras.ops.repeat(keys, items.shape[1], axis=1)
