"""Feature encoders of the Keras families (DESIGN 11): an item's vector from its attributes.

:class:`FeatureEncoder` turns the raw columns of a table (:class:`TableColumns`: text, one row
per index) into one vector per row. Its preprocessing is done by Keras preprocessing layers
adapted on the rows the model learns from (the items of its training stage); a value or word
becomes part of a vocabulary only when at least two of those rows have it (one row's value
is an id in disguise), and what is out of vocabulary adds nothing:

- ``categorical``: ``StringLookup`` then an embedding;
- ``multi``: the pieces split on the column's separator, ``StringLookup``, the mean of their
  embeddings;
- ``numeric``: parsed, ``log1p`` for skewed columns, ``Normalization``, with a missing flag
  beside, then a dense layer;
- ``text``: ``TextVectorization`` to token ids, embedded, then either the mean of the token
  embeddings (``pooled``) or a small 1-D convolution max-pooled over the tokens (``cnn``).

Each column's vector is as wide as its vocabulary needs (:func:`column_width`: a handful of
values need a few dimensions, not the item vectors' hundreds), and the column vectors are
joined by a dense layer to the vectors' size. :class:`ItemTable` gives every item the sum of
its id embedding and its feature vector; during training the id part of each item's output
vector is dropped with probability ``id_dropout`` (per step), so the feature path learns to
rank items on its own, and items the training stage does not have (cold items) never get their
untrained id part. A training step that reads the table twice (a history's inputs, then the
softmax's rows) encodes the attributes once (:meth:`ItemTable.one_encoding`). The
preprocessing runs on the raw table once for training and inside the graph for serving
(:meth:`ItemTable.serve_from_raw`), so a SavedModel holds the raw table and needs no code of
ours.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from automl_rec.data.features import FeatureColumn, TableColumns

# Words kept by the text vocabulary, and the longest token sequence read from a text value.
TEXT_VOCABULARY = 20_000
TEXT_MAX_TOKENS = 32
# Values kept by a categorical or multi-valued column's vocabulary (most frequent first).
CATEGORY_VOCABULARY = 50_000
# A value (or word) enters a vocabulary when at least this many training rows have it.
MIN_ROWS = 2
TEXT_ENCODERS = ("pooled", "cnn")
# A value of a numeric column (dates are given as days since 1970).
NUMBER = r"\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*"


def small_weights() -> keras.initializers.Initializer:
    """The initialiser of Keras embeddings (uniform within 0.05), for the numeric columns'
    projections too."""
    return keras.initializers.RandomUniform(-0.05, 0.05)


def column_width(kind: str, vocabulary: int, dim: int) -> int:
    """Width of one column's vector before the columns are joined: about six times the fourth
    root of its vocabulary (a common rule for embedding sizes), between 4 and ``dim``; a numeric
    column (a value and a missing flag) gets 4."""
    if kind == "numeric":
        return min(4, dim)
    return int(np.clip(round(6 * max(vocabulary, 1) ** 0.25), 4, dim))


def text_length(values: np.ndarray) -> int:
    """Tokens read from a text column: the 95th percentile of its values' word counts
    (between 4 and ``TEXT_MAX_TOKENS``)."""
    words = np.char.count(np.char.strip(values.astype(str)), " ") + 1
    return int(np.clip(np.ceil(np.percentile(words, 95)), 4, TEXT_MAX_TOKENS))


class FeaturePreprocessing(keras.layers.Layer):
    """The preprocessing layers of a table's columns, adapted on some of its rows.

    Vocabularies and scaling constants are set from the fitted rows (no trainable or
    adapted variables), so that a serving graph needs only the lookup tables
    (:meth:`lookup_tables`) besides its own weights.

    Args:
        table: The table's used columns, one row per index.
        fit_rows: The rows the layers are adapted on.
    """

    def __init__(self, table: TableColumns, fit_rows: np.ndarray, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.columns = table.columns
        self.raw = [tf.constant(table.values[str(c.name)]) for c in table.columns]
        self.layers_ = [self._column_layer(c, table.values[str(c.name)][fit_rows])
                        for c in table.columns]

    def _column_layer(self, column: Any, fit: np.ndarray) -> Any:
        if column.kind == "numeric":
            numbers = self._numbers(column, tf.constant(fit))[0].numpy()
            numbers = numbers[~np.isnan(numbers)]
            mean = float(numbers.mean()) if len(numbers) else 0.0
            variance = float(numbers.var()) if len(numbers) > 1 else 1.0
            return keras.layers.Normalization(axis=None, mean=mean, variance=variance or 1.0)
        if column.kind == "text":
            vectoriser = keras.layers.TextVectorization(
                max_tokens=TEXT_VOCABULARY, output_sequence_length=text_length(fit))
            vectoriser.adapt(fit)
            # Words of a single fitted row are ids in disguise: an encoder would learn them
            # as such, and a cold item never has them. They go out of vocabulary.
            tokens = vectoriser(fit).numpy()
            width = vectoriser.vocabulary_size()
            rows_with = np.bincount(np.unique(
                tokens + np.arange(len(tokens))[:, None] * width) % width, minlength=width)
            shared = [word for index, word in enumerate(vectoriser.get_vocabulary())
                      if index >= 2 and rows_with[index] >= MIN_ROWS]
            vectoriser.set_vocabulary(shared or ["?"])
            return vectoriser
        pieces = self._pieces(column, tf.constant(fit)).numpy().astype(str)
        values, rows_with = np.unique(
            np.concatenate([np.unique(row[row != ""]) for row in pieces]) if len(pieces)
            else np.array([], dtype=str), return_counts=True)
        kept = rows_with >= MIN_ROWS
        shared = values[kept][np.argsort(-rows_with[kept], kind="stable")]
        return keras.layers.StringLookup(
            mask_token="", vocabulary=list(shared[:CATEGORY_VOCABULARY]) or ["?"])

    def input_sizes(self) -> list[int]:
        """Per column: the vocabulary size (ids 0 pad, 1 out of vocabulary), or 2 for a
        numeric column (its scaled value and its missing flag)."""
        return [2 if c.kind == "numeric" else int(layer.vocabulary_size())
                for c, layer in zip(self.columns, self.layers_)]

    @staticmethod
    def _numbers(column: Any, raw: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """A numeric column's values (``log1p`` where skewed; NaN where missing) and its
        missing flags."""
        # What does not read as a number (an empty or mistyped value) counts as missing.
        missing = ~tf.strings.regex_full_match(raw, NUMBER)
        numbers = tf.strings.to_number(tf.where(missing, "nan", tf.strings.strip(raw)),
                                       tf.float32)
        if column.stats.get("log"):
            numbers = tf.math.log1p(tf.maximum(numbers, 0.0))
        return numbers, tf.cast(missing, tf.float32)

    @staticmethod
    def _pieces(column: Any, raw: tf.Tensor) -> tf.Tensor:
        """``[rows, pieces]`` values of a categorical (one piece) or multi-valued column,
        padded with empty strings."""
        if column.kind != "multi":
            return tf.expand_dims(raw, 1)
        split = tf.strings.split(raw, sep=column.stats.get("separator", "|"))
        return tf.strings.strip(split).to_tensor(default_value="")

    def preprocess(self, raw: list[tf.Tensor] | None = None) -> list[tf.Tensor]:
        """The layers' outputs for raw columns (by default the table's): ids per piece or
        token (0 pad, 1 out of vocabulary), or ``[rows, 2]`` scaled numbers and missing
        flags."""
        out = []
        for column, layer, values in zip(self.columns, self.layers_,
                                         raw if raw is not None else self.raw):
            values = tf.convert_to_tensor(values)
            if column.kind == "numeric":
                numbers, missing = self._numbers(column, values)
                scaled = layer(tf.where(tf.math.is_nan(numbers), 0.0, numbers))
                scaled = tf.where(missing > 0, 0.0, tf.cast(scaled, tf.float32))
                out.append(tf.stack([scaled, missing], axis=1))
            elif column.kind == "text":
                out.append(layer(values))
            else:
                out.append(layer(self._pieces(column, values)))
        return out

    def lookup_tables(self) -> list[Any]:
        """The lookup tables of the layers (a SavedModel must hold them)."""
        tables = []
        for layer in self.layers_:
            inner = getattr(layer, "_lookup_layer", layer)
            if hasattr(inner, "lookup_table"):
                tables.append(inner.lookup_table)
        return tables


class FeatureEncoder(keras.layers.Layer):
    """The raw columns of a table -> one ``dim`` vector per row.

    Args:
        table: The table's used columns, one row per index.
        fit_rows: The rows the preprocessing layers are adapted on.
        dim: Size of the vectors.
        text_encoder: ``pooled`` or ``cnn`` (how text columns are encoded).
    """

    def __init__(self, table: TableColumns, fit_rows: np.ndarray, dim: int,
                 text_encoder: str = "pooled", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if text_encoder not in TEXT_ENCODERS:
            raise ValueError(f"text_encoder must be one of {TEXT_ENCODERS}")
        self.dim, self.text_encoder = dim, text_encoder
        self.columns = table.columns
        self.preprocessing = FeaturePreprocessing(table, fit_rows, name="preprocessing")
        vocabularies = self.preprocessing.input_sizes()
        self.widths = [column_width(c.kind, v, dim) for c, v in zip(table.columns, vocabularies)]
        self.embedders = [self._embedder(c, v, w) for c, v, w in
                          zip(table.columns, vocabularies, self.widths)]
        self.mix = keras.layers.Dense(dim, use_bias=False, name="feature_mix")

    def _embedder(self, column: Any, vocabulary: int, width: int) -> list[Any]:
        if column.kind == "numeric":
            # Small weights, as the embeddings start: a number is one feature among several.
            return [keras.layers.Dense(width, use_bias=False,
                                       kernel_initializer=small_weights())]
        layers = [keras.layers.Embedding(vocabulary, width)]
        if column.kind == "text" and self.text_encoder == "cnn":
            layers.append(keras.layers.Conv1D(width, 3, padding="same", activation="relu"))
        return layers

    def build(self, input_shape: Any = None) -> None:
        for column, layers, width in zip(self.columns, self.embedders, self.widths):
            if column.kind == "numeric":
                layers[0].build((None, 2))
                continue
            layers[0].build(None)
            for layer in layers[1:]:
                layer.build((None, None, width))
        self.mix.build((None, sum(self.widths)))
        self.built = True

    def preprocess(self, raw: list[tf.Tensor] | None = None) -> list[tf.Tensor]:
        """The preprocessing layers' outputs for the raw columns (by default the table's)."""
        return self.preprocessing.preprocess(raw)

    def call(self, inputs: list[tf.Tensor]) -> tf.Tensor:
        parts = []
        for column, embedder, values in zip(self.columns, self.embedders, inputs):
            if column.kind == "numeric":
                parts.append(embedder[0](values))
                continue
            layers = embedder
            # 0 pads and 1 is out of vocabulary: a value the training rows never had says
            # nothing learnt, so it adds nothing (rather than an untrained embedding).
            present = keras.ops.cast(keras.ops.expand_dims(values > 1, -1), self.compute_dtype)
            x = layers[0](values) * present
            if len(layers) > 1:  # the text CNN: convolve, then max over the present tokens
                x = layers[1](x) * present
                parts.append(keras.ops.max(x, axis=1))
            else:
                count = keras.ops.maximum(keras.ops.sum(present, axis=1), 1.0)
                parts.append(keras.ops.sum(x, axis=1) / count)
        return self.mix(keras.ops.concatenate(parts, axis=-1))

    def lookup_tables(self) -> list[Any]:
        """The lookup tables of the preprocessing layers (a SavedModel must hold them)."""
        return self.preprocessing.lookup_tables()


@keras.saving.register_keras_serializable(package="automl_rec")
class ItemTable(keras.layers.Layer):
    """Item vectors: the id embedding plus the feature vector of each item.

    Rows follow the next-item families' input ids: 0 padding, ``1..n_items`` the items, then
    ``extra`` rows of special tokens (a [MASK]) that have an id embedding only.

    Args:
        n_items: Size of the catalogue.
        extra: Special-token rows after the items.
        dim: Size of the vectors.
        table: The item table's used columns, one row per item index.
        warm: Per item, whether the stage it trains on has it (only those get an id part).
        vocabulary: Per item, whether the preprocessing is adapted on it (the training
            stage's items; by default ``warm``).
        id_dropout: Probability of dropping an item's id part in a training step.
        text_encoder: ``pooled`` or ``cnn``.
        seed: Seed of the id dropout.
        scored: Whether the vectors looked up by calling the layer are scored against (the
            item side of a user-item model such as NeuMF, called with items ``1..n_items``):
            the id dropout applies to them in training. By default they are inputs (a
            history, padded with 0), which keep their ids.
    """

    def __init__(self, n_items: int, extra: int, dim: int, table: TableColumns,
                 warm: np.ndarray, id_dropout: float, text_encoder: str, seed: int,
                 vocabulary: np.ndarray | None = None, scored: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n_items, self.extra, self.dim = n_items, extra, dim
        self.id_dropout = float(id_dropout)
        self.scored = bool(scored)
        self._config = {"n_items": n_items, "extra": extra, "dim": dim, "scored": self.scored,
                        "table": {"columns": [asdict(c) for c in table.columns],
                                  "values": {k: v.tolist() for k, v in table.values.items()}},
                        "warm": np.asarray(warm, bool).tolist(), "id_dropout": id_dropout,
                        "text_encoder": text_encoder, "seed": seed,
                        "vocabulary": None if vocabulary is None
                        else np.asarray(vocabulary, bool).tolist()}
        self.ids = keras.layers.Embedding(n_items + 1 + extra, dim, name="item_embedding")
        fit_rows = np.flatnonzero(warm if vocabulary is None else vocabulary)
        self.features = FeatureEncoder(table, fit_rows, dim, text_encoder,
                                       name="item_features")
        keep = np.concatenate([[1.0], np.asarray(warm, np.float32), np.ones(extra)])
        self.warm = tf.constant(keep.astype(np.float32))
        self.seeds = keras.random.SeedGenerator(seed)
        self.inputs = self.features.preprocess()
        self.from_raw = False
        self._sharing = False
        self._encoded: Any = None

    def build(self, input_shape: Any = None) -> None:
        self.ids.build(None)
        self.features.build()
        self.built = True

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self._config}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ItemTable:
        config = dict(config)
        table = config.pop("table")
        columns = tuple(FeatureColumn(**c) for c in table["columns"])
        values = {k: np.asarray(v, dtype=str) for k, v in table["values"].items()}
        vocabulary = config.pop("vocabulary")
        return cls(table=TableColumns(columns, values), warm=np.asarray(config.pop("warm")),
                   vocabulary=None if vocabulary is None else np.asarray(vocabulary), **config)

    def serve_from_raw(self) -> list[Any]:
        """Preprocess the raw item table inside the graph from now on (for a SavedModel);
        returns the lookup tables the SavedModel must hold."""
        self.from_raw = True
        return self.features.lookup_tables()

    @contextmanager
    def one_encoding(self) -> Iterator[None]:
        """Within the block (one training step), every item's attributes are encoded once and
        that encoding serves each read of the table; the gradients of all of them flow into
        it."""
        self._sharing = True
        try:
            yield
        finally:
            self._sharing, self._encoded = False, None

    def _every_item(self) -> Any:
        """``[n_items, dim]``: the feature vector of every item."""
        if self._encoded is not None:
            return self._encoded
        inputs = self.features.preprocess() if self.from_raw else self.inputs
        encoded = self.features(inputs)
        if self._sharing:
            self._encoded = encoded
        return encoded

    def table(self, training: bool = False) -> tf.Tensor:
        """``[1 + n_items + extra, dim]``: every row's vector."""
        features = self._every_item()
        zeros = keras.ops.zeros((1, self.dim), features.dtype)
        features = keras.ops.concatenate(
            [zeros, features, keras.ops.zeros((self.extra, self.dim), features.dtype)], axis=0)
        keep = self.warm
        if training and self.id_dropout > 0:
            draws = keras.random.uniform(keras.ops.shape(keep), seed=self.seeds)
            keep = keep * keras.ops.cast(draws >= self.id_dropout, keep.dtype)
        ids = self.ids.embeddings
        return (ids * keras.ops.cast(keras.ops.expand_dims(keep, 1), ids.dtype)
                + keras.ops.cast(features, ids.dtype))

    def call(self, ids: Any, training: bool | None = None) -> Any:
        if self.scored:
            return self._scored_rows(ids, bool(training))
        # Inputs keep their ids: the id dropout is for the output vectors, which rank the
        # items (measured on planted data, dropping input ids as well cost warm quality).
        return keras.ops.take(self.table(False), ids, axis=0)

    def _scored_rows(self, ids: Any, training: bool) -> Any:
        """The vectors of items ``ids`` (``1..n_items``), encoding only their rows' attributes
        (a batch of user-item pairs needs a few rows, not the table); in training each one's
        id part is dropped with probability ``id_dropout``."""
        inputs = self.features.preprocess() if self.from_raw else self.inputs
        features = self.features([keras.ops.take(x, ids - 1, axis=0) for x in inputs])
        keep = keras.ops.take(self.warm, ids, axis=0)
        if training and self.id_dropout > 0:
            draws = keras.random.uniform(keras.ops.shape(keep), seed=self.seeds)
            keep = keep * keras.ops.cast(draws >= self.id_dropout, keep.dtype)
        vectors = keras.ops.take(self.ids.embeddings, ids, axis=0)
        return (vectors * keras.ops.cast(keras.ops.expand_dims(keep, -1), vectors.dtype)
                + keras.ops.cast(features, vectors.dtype))

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (*input_shape, self.dim)


@keras.saving.register_keras_serializable(package="automl_rec")
class ItemScores(keras.layers.Layer):
    """Logits of every item from a hidden vector: its dot product with the items' vectors
    (:class:`ItemTable`, of the hidden vector's size) plus a bias per item. A model whose
    output layer was a dense layer over the catalogue gets item features this way.

    Args:
        table: The item vectors (``extra=0``).
    """

    def __init__(self, table: ItemTable | dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table = table if isinstance(table, ItemTable) else ItemTable.from_config(table)
        self.bias = self.add_weight(shape=(self.table.n_items,), initializer="zeros",
                                    name="item_bias")

    def build(self, input_shape: Any = None) -> None:
        self.table.build()
        self.built = True

    def vectors(self, training: bool = False) -> Any:
        """``[n_items, dim]``: the items' vectors (with the id dropout in training)."""
        return self.table.table(training)[1:self.table.n_items + 1]

    def call(self, hidden: Any, training: bool | None = None) -> Any:
        vectors = self.vectors(bool(training))
        logits = keras.ops.matmul(keras.ops.cast(hidden, "float32"),
                                  keras.ops.transpose(keras.ops.cast(vectors, "float32")))
        return logits + self.bias

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (*input_shape[:-1], self.table.n_items)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "table": self.table.get_config()}
