"""Keras models of the pointwise tasks (DESIGN 10): one prediction per (user, item) row.

Designs of four families, each in its best-known form, over the fields of a row: the user and
the item ids, with ``features: attributes`` each column of the item and user tables and of the
row's context in the log (the mean embedding of its codes, plus a per-code weight beside the
biases), and the user's history before the row: the items of the user's earlier rows (every
rating, with its rating; the clicks) and, with ``user_activity: counts``, the count and label
sum of all of them (a click log's exposures without a click too). The designs that read a
user and an item vector (``mf``, ``neumf``, the history designs) add the tables' fields to the
id vectors, so an item or user new to training has a vector from its attributes; the field
designs take them as fields of their own:

- ``mlp``, ratings: ``mf`` (biased matrix factorisation: global mean, user and item biases, dot
  product of their vectors; Koren et al. 2009) and ``neumf`` (GMF and MLP towers, He et al.
  2017, with a regression head beside the biases); clicks: ``wide_deep`` (a wide part of
  per-value weights beside an MLP over the field embeddings; Cheng et al. 2016), ``deepfm``
  (factorisation-machine pairs of the field embeddings beside the MLP; Guo et al. 2017) and
  ``dcn`` (DCN-v2 cross layers ``x0 * (W x + b) + x`` beside the MLP; Wang et al. 2021);
- ``attention``: ``din`` (target attention: each history item weighted by an MLP of it and the
  row's item, Zhou et al. 2018) and, for clicks, ``autoint`` (multi-head self-attention over
  the field embeddings, Song et al. 2019);
- ``lstm``: ``gru`` (a GRU extracts the interest from the history, as DIEN's first layer does,
  Zhou et al. 2019; its state meets the row's item in an MLP);
- ``cnn``: ``ccpm`` (convolutions and max-pooling over the sequence of field embeddings, the
  user, the item and the history's items; Liu et al. 2015);
- ``autoencoder``: ``autorec`` for ratings (I-AutoRec, :mod:`automl_rec.models.autorec`); none
  for clicks, with the reason.

The history designs need rows in time order (the global temporal split).
:mod:`automl_rec.tasks.designs` says which designs serve which task.

Click models output a logit (binary cross-entropy); rating models a rating (squared error).
:func:`train_pointwise` trains one with early stopping on the task's validation objective and
keeps the best epoch's weights.
"""

from __future__ import annotations

from typing import Any

from automl_rec.models import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from automl_rec.data.splitting import TEST, TRAIN, VALID  # noqa: E402
from automl_rec.evaluation.pointwise import task_metrics  # noqa: E402
from automl_rec.models.autorec import ItemAutoRec  # noqa: E402
from automl_rec.models.keras_base import seed_everything  # noqa: E402
from automl_rec.tasks import CTR, OBJECTIVES, RATING, objective_value  # noqa: E402
from automl_rec.tasks.designs import DESIGNS, HISTORY_DESIGNS, NO_CLICK_DESIGN  # noqa: E402
from automl_rec.tasks.rows import RowFields, RowFold, RowSplit  # noqa: E402

# Rows predicted at a time, at most; fewer where a row's embeddings are many (a history whose
# items each read the item table's columns), so that no batch's embeddings pass PREDICT_CELLS
# numbers.
PREDICT_BATCH = 65_536
PREDICT_CELLS = 2 ** 25


@keras.saving.register_keras_serializable(package="automl_rec")
class FieldCodes(keras.layers.Layer):
    """A table column's codes by embedding row (row 0, an unknown id, has none): ids of any
    shape in, ``ids.shape + [width]`` codes out. The codes are a non-trainable weight, so a
    SavedModel of the network holds them."""

    def __init__(self, codes: np.ndarray | None = None, shape: tuple[int, int] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if codes is None:  # read back from a saved model: the weights bring the codes
            self.table = np.zeros(tuple(shape or (1, 1)), np.int32)
        else:
            self.table = np.vstack([np.zeros((1, codes.shape[1]), np.int32),
                                    np.asarray(codes, np.int32)])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "shape": list(self.table.shape)}

    def build(self, input_shape: Any = None) -> None:
        self.codes = self.add_weight(shape=self.table.shape, dtype="int32", trainable=False,
                                     initializer=keras.initializers.Constant(self.table),
                                     name="codes")
        self.built = True

    def call(self, ids: Any) -> Any:
        return keras.ops.take(self.codes, keras.ops.cast(ids, "int32"), axis=0)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (*input_shape, self.table.shape[1])


@keras.saving.register_keras_serializable(package="automl_rec")
class UnknownIds(keras.layers.Layer):
    """Embedding rows of ids as the id embeddings read them: an id without training rows
    becomes row 0 (the unknown id, whose row the training does shape), and in training a
    ``rate`` share of the known ids does too, so that row 0 learns what a new user or item is
    and the tables' fields learn to stand without the id.

    Args:
        known: Per index, whether the training stage has a row of it.
        rate: Share of the training rows whose id is read as unknown.
        seed: Seed of the draws.
    """

    def __init__(self, known: np.ndarray | int, rate: float, seed: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # A count: read back from a saved model (the weights bring which ids are known).
        known = np.zeros(known, bool) if isinstance(known, int) else np.asarray(known, bool)
        self.known_rows = np.r_[False, known]
        self.rate, self.seed = float(rate), int(seed)
        self.seeds = keras.random.SeedGenerator(seed)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "known": len(self.known_rows) - 1, "rate": self.rate,
                "seed": self.seed}

    def build(self, input_shape: Any = None) -> None:
        self.known = self.add_weight(
            shape=self.known_rows.shape, dtype="int32", trainable=False, name="known",
            initializer=keras.initializers.Constant(self.known_rows.astype(np.int32)))
        self.built = True

    def call(self, ids: Any, training: bool | None = None) -> Any:
        keep = keras.ops.take(self.known, ids, axis=0) > 0
        if training and self.rate > 0:
            drawn = keras.random.uniform(keras.ops.shape(ids), seed=self.seeds)
            keep = keras.ops.logical_and(keep, drawn >= self.rate)
        return keras.ops.where(keep, ids, keras.ops.zeros_like(ids))

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return tuple(input_shape)


class PointwiseModel:
    """A trainable pointwise model of one design.

    Args:
        params: ``design``, ``embedding_dim``, ``hidden_layers``, ``hidden_units``, ``dropout``,
            ``l2`` (weight decay of the embeddings), ``id_dropout`` (share of training rows
            read with unknown ids), ``features``, ``learning_rate``, ``batch_size``; for
            ``dcn``, ``cross_layers``; for the history designs, ``history_length`` and
            ``user_activity`` (``counts``: the count and label sum of the user's earlier
            rows are read too; ``none``, or absent: not).
        task: ``ctr`` or ``rating``.
        n_users: Users of the split (ids outside ``0..n_users-1`` are unknown).
        n_items: Items of the split.
        mean: The training rows' mean label (the rating models' starting point).
        seed: Seed of the initialisation and shuffling.
        fields: The item and user tables' and the context columns' codes, read with
            ``features: attributes``.
        scale: The lowest and highest training rating: a rating model's predictions are
            clipped to them (a rating beyond the scale is never nearer the truth).
        known: Per user and per item index, whether the training stage has a row of it (the
            others read the unknown id's embeddings; by default every id is known).
    """

    def __init__(self, params: dict[str, Any], task: str, n_users: int, n_items: int,
                 mean: float, seed: int, fields: RowFields | None = None,
                 scale: tuple[float, float] | None = None,
                 known: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        if params["design"] not in DESIGNS[task] or params["design"] == "autorec":
            raise ValueError(f"design {params['design']!r} is not one of the {task} designs "
                             f"{DESIGNS[task]}")
        seed_everything(seed)
        self.params, self.task = params, task
        self.n_users, self.n_items, self.mean = n_users, n_items, float(mean)
        self.fields, self.scale, self.seed = fields or RowFields(), scale, int(seed)
        self.known = known or (np.ones(n_users, bool), np.ones(n_items, bool))
        self.rng = np.random.default_rng(seed)
        self.model = self.build()
        self.optimizer = keras.optimizers.Adam(learning_rate=float(params["learning_rate"]))
        self._step = tf.function(self._train_step, reduce_retracing=True)

    def _embedding(self, rows: int, dim: int, name: str, zeros: bool = False) -> Any:
        # Row 0 is the unknown id (a user or an item without training rows).
        return keras.layers.Embedding(
            rows + 1, dim, name=name,
            embeddings_initializer="zeros" if zeros else "uniform",
            embeddings_regularizer=keras.regularizers.L2(float(self.params.get("l2", 0.0))))

    def _mlp(self, x: Any) -> Any:
        for _ in range(int(self.params["hidden_layers"])):
            x = keras.layers.Dense(int(self.params["hidden_units"]), activation="relu")(x)
            x = keras.layers.Dropout(float(self.params["dropout"]))(x)
        return x

    @property
    def history_length(self) -> int:
        """Items of the history the design reads (0: none)."""
        if self.params["design"] not in HISTORY_DESIGNS:
            return 0
        return int(self.params["history_length"])

    @property
    def reads_activity(self) -> bool:
        """Whether the design reads the count and label sum of the user's rows before the row
        (``user_activity: counts``; a history design only)."""
        return bool(self.history_length) and self.params.get("user_activity") == "counts"

    @property
    def uses_fields(self) -> bool:
        """Whether the design reads the item and user tables (``features: attributes``, with
        tables that have a coded column)."""
        return bool(self.fields) and self.params.get("features", "none") == "attributes"

    def _attributes(self, columns: tuple[Any, ...], ids: Any, dim: int, source: str
                    ) -> tuple[list[Any], Any]:
        """Each table column's vector (the mean of its codes' embeddings) for embedding rows
        ``ids`` (any shape; 0 is an unknown id, with no codes), and the sum of the columns'
        per-code weights (their wide part)."""
        vectors, wide = [], 0.0
        for k, column in enumerate(columns):
            codes = FieldCodes(column.codes, name=f"{source}_codes_{k}")(ids)
            vector, weight = self._coded(codes, column.vocabulary, dim, f"{source}_{{}}_{k}")
            vectors.append(vector)
            wide = wide + weight
        return vectors, wide

    def _coded(self, codes: Any, vocabulary: int, dim: int, name: str) -> tuple[Any, Any]:
        """A column's vector (the mean of its codes' embeddings; codes ``[..., width]``, 0 for
        none) and its wide part (the mean of its codes' weights); ``name`` has a ``{}`` for
        the layer's role."""
        present = keras.ops.cast(keras.ops.expand_dims(codes > 0, -1), "float32")
        count = keras.ops.maximum(keras.ops.sum(present, axis=-2), 1.0)
        vector = self._embedding(vocabulary, dim, name.format("field"))(codes)
        weight = self._embedding(vocabulary, 1, name.format("weight"), True)(codes)
        return (keras.ops.sum(vector * present, axis=-2) / count,
                keras.ops.squeeze(keras.ops.sum(weight * present, axis=-2) / count, -1))

    def build(self) -> keras.Model:
        dim, design = int(self.params["embedding_dim"]), self.params["design"]
        user = keras.Input(shape=(), dtype="int32", name="user")
        item = keras.Input(shape=(), dtype="int32", name="item")
        inputs = [user, item]
        # The ids' own embeddings read unknown ids as row 0; the tables' fields read every id.
        rate = float(self.params.get("id_dropout", 0.0))
        user_row = UnknownIds(self.known[0], rate, self.seed, name="user_rows")(user)
        item_row = UnknownIds(self.known[1], rate, self.seed + 1, name="item_rows")(item)
        u = self._embedding(self.n_users, dim, "user_embedding")(user_row)
        items = self._embedding(self.n_items, dim, "item_embedding")
        i = items(item_row)
        # Per-value weights: the biases of the rating models, the wide part of the click ones.
        bias = (keras.ops.squeeze(self._embedding(self.n_users, 1, "user_bias", True)(user_row),
                                  -1)
                + keras.ops.squeeze(self._embedding(self.n_items, 1, "item_bias", True)(item_row),
                                    -1))
        # The tables' columns: fields of their own beside the ids, and added to the id vectors
        # of the designs that read a user and an item vector (what a new user or item has).
        attributes: list[Any] = []
        user_vector, item_vector = u, i
        if self.uses_fields:
            item_fields, item_wide = self._attributes(self.fields.items, item, dim, "item")
            user_fields, user_wide = self._attributes(self.fields.users, user, dim, "user")
            attributes, bias = item_fields + user_fields, bias + item_wide + user_wide
            user_vector = u + sum(user_fields) if user_fields else u
            item_vector = i + sum(item_fields) if item_fields else i
        # The row's context columns: fields of their own, inputs after the history's.
        context_inputs, context_vectors = [], []
        if self.uses_fields:
            for k, column in enumerate(self.fields.context):
                codes = keras.Input(shape=(column.width,), dtype="int32", name=f"context_{k}")
                vector, weight = self._coded(codes, column.vocabulary, dim, f"context_{{}}_{k}")
                context_inputs.append(codes)
                context_vectors.append(vector)
                bias = bias + weight
        attributes = attributes + context_vectors
        fields = [u, i, *attributes]
        joined = keras.layers.Concatenate()(fields)
        if design in HISTORY_DESIGNS:
            # History ids are item + 1 with 0 for padding: the item embedding's rows as they are.
            history = keras.Input(shape=(self.history_length,), dtype="int32", name="history")
            inputs.append(history)
            h = items(history)
            if self.uses_fields and self.fields.items:
                h = h + sum(self._attributes(self.fields.items, history, dim, "history")[0])
            present = keras.ops.cast(history > 0, "float32")
            summary = None
            if self.task == RATING:
                # The user's earlier ratings: each history item's vector learns from its
                # rating, and their mean gap to the training mean (shrunk by their count) is
                # an up-to-date user bias, which a user new since training has too.
                ratings = keras.Input(shape=(self.history_length,), dtype="float32",
                                      name="history_labels")
                inputs.append(ratings)
                gaps = (ratings - self.mean) * present
                h = h + keras.layers.Dense(dim, use_bias=False)(keras.ops.expand_dims(gaps, -1))
                if not self.reads_activity:  # else the bias comes from every earlier row
                    count = keras.ops.sum(present, axis=-1, keepdims=True)
                    summary = keras.ops.concatenate(
                        [keras.ops.sum(gaps, axis=-1, keepdims=True) / (count + 1.0),
                         keras.ops.log1p(count)], axis=-1)
            if self.reads_activity:
                # Every earlier row of the user, not only the history's (a click log's
                # exposures without a click too): the same bias from their count and label
                # sum (a rating level, or a click rate).
                activity = keras.Input(shape=(2,), dtype="float32", name="activity")
                inputs.append(activity)
                count, total = activity[:, :1], activity[:, 1:]
                summary = keras.ops.concatenate(
                    [(total - count * self.mean) / (count + 1.0), keras.ops.log1p(count)],
                    axis=-1)
            if summary is not None:
                attributes = [*attributes,
                              keras.layers.Dense(dim, activation="relu")(summary)]
                bias = bias + keras.ops.squeeze(keras.layers.Dense(1)(summary), -1)
            out = bias + self._history_head(design, user_vector, item_vector, h, history > 0,
                                            attributes)
        elif design == "mf":
            out = bias + keras.ops.sum(user_vector * item_vector, axis=-1)
        elif design == "neumf":
            towers = self._mlp(keras.layers.Concatenate()([user_vector, item_vector,
                                                           *context_vectors]))
            head = keras.layers.Concatenate()([user_vector * item_vector, towers])
            out = bias + keras.ops.squeeze(keras.layers.Dense(1)(head), -1)
        else:
            deep = keras.layers.Dense(1)(self._mlp(joined))
            out = bias + keras.ops.squeeze(deep, -1)
            if design == "deepfm":  # the FM's pairwise terms of every two fields
                total = sum(fields)
                out = out + 0.5 * keras.ops.sum(
                    total * total - sum(f * f for f in fields), axis=-1)
            elif design == "dcn":
                x0 = x = joined
                for _ in range(int(self.params["cross_layers"])):
                    x = x0 * keras.layers.Dense(len(fields) * dim)(x) + x
                out = out + keras.ops.squeeze(keras.layers.Dense(1)(x), -1)
        if self.task == RATING:
            out = out + self.mean
        return keras.Model(inputs + context_inputs, out, name=f"{self.task}_{design}")

    def _history_head(self, design: str, u: Any, i: Any, h: Any, present: Any,
                      attributes: list[Any]) -> Any:
        """The output (before the biases) of a design that reads the history ``h``
        (``[batch, length, dim]``, ``present`` marking real items), given the user's and the
        item's vectors and the tables' fields."""
        dim = int(self.params["embedding_dim"])
        mask = keras.ops.cast(keras.ops.expand_dims(present, -1), h.dtype)
        if design == "din":
            target = keras.ops.repeat(keras.ops.expand_dims(i, 1), self.history_length, axis=1)
            x = keras.layers.Concatenate()([h, target, h * target, h - target])
            x = keras.layers.Dense(dim, activation="relu")(x)
            weight = keras.ops.squeeze(keras.layers.Dense(1)(x), -1)
            weight = keras.ops.where(present, weight, -1e9)
            weight = keras.ops.softmax(weight, axis=-1) * keras.ops.cast(present, h.dtype)
            state = keras.ops.sum(h * keras.ops.expand_dims(weight, -1), axis=1)
        elif design == "gru":
            state = keras.layers.GRU(dim)(h, mask=present)
        elif design == "autoint":
            count = keras.ops.maximum(keras.ops.sum(mask, axis=1), 1.0)
            pooled = keras.ops.sum(h * mask, axis=1) / count
            fields = keras.ops.stack([u, i, pooled, *attributes], axis=1)
            for _ in range(int(self.params.get("attention_layers", 2))):
                attended = keras.layers.MultiHeadAttention(2, dim)(fields, fields)
                fields = keras.ops.relu(fields + attended)
            return keras.ops.squeeze(keras.layers.Dense(1)(keras.layers.Flatten()(fields)), -1)
        else:  # ccpm: convolutions over the fields' sequence, then max-pooling
            x = keras.ops.concatenate([keras.ops.stack([u, i, *attributes], axis=1), h * mask],
                                     axis=1)
            for width in (3, 2):
                x = keras.layers.Conv1D(dim, width, padding="same", activation="tanh")(x)
                x = keras.layers.MaxPooling1D(2, padding="same")(x)
            state = keras.layers.Flatten()(x)
        head = self._mlp(keras.layers.Concatenate()([u, i, state, *attributes]))
        return keras.ops.squeeze(keras.layers.Dense(1)(head), -1)

    def _loss(self, labels: tf.Tensor, outputs: tf.Tensor) -> tf.Tensor:
        outputs = tf.cast(outputs, tf.float32)
        if self.task == CTR:
            return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels,
                                                                          logits=outputs))
        return tf.reduce_mean(tf.square(outputs - labels))

    def _train_step(self, inputs: list[tf.Tensor], labels: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = self._loss(labels, self.model(inputs, training=True))
            total = loss + tf.add_n(self.model.losses) if self.model.losses else loss
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
        return loss

    def _rows(self, ids: np.ndarray, n: int) -> np.ndarray:
        """Embedding rows of ids: ``id + 1``, 0 for unknown ids."""
        ids = np.asarray(ids, dtype=np.int64)
        return np.where((ids >= 0) & (ids < n), ids + 1, 0).astype(np.int32)

    def inputs_of(self, rows: RowFold) -> list[np.ndarray]:
        """The network's inputs for ``rows``: user and item rows, the histories where the
        design reads them (ids of items the model does not know count as padding), then the
        context columns' codes where it reads the fields."""
        inputs = [self._rows(rows.users, self.n_users), self._rows(rows.items, self.n_items)]
        if self.history_length:
            if rows.histories is None or rows.histories.shape[1] != self.history_length:
                raise ValueError(f"the {self.params['design']} design reads the last "
                                 f"{self.history_length} items before each row")
            history = rows.histories.astype(np.int32)
            inputs.append(np.where(history <= self.n_items, history, 0).astype(np.int32))
            if self.task == RATING:
                if rows.history_labels is None:
                    raise ValueError(f"the rating {self.params['design']} design reads the "
                                     "ratings of the items before each row")
                inputs.append(rows.history_labels.astype(np.float32))
            if self.reads_activity:
                if rows.activity is None:
                    raise ValueError(f"the {self.params['design']} design reads the count and "
                                     "label sum of the user's rows before each row")
                inputs.append(rows.activity.astype(np.float32))
        if self.uses_fields and self.fields.context:
            if len(rows.context) != len(self.fields.context):
                raise ValueError("the rows lack the codes of the log's context columns")
            inputs += [np.asarray(codes, np.int32) for codes in rows.context]
        return inputs

    def fit_epoch(self, rows: RowFold) -> float:
        """One shuffled pass over training rows; the mean batch loss."""
        order = self.rng.permutation(len(rows))
        size = int(self.params["batch_size"])
        inputs, labels = self.inputs_of(rows), rows.labels.astype(np.float32)
        losses = [self._step([tf.constant(x[batch]) for x in inputs], tf.constant(labels[batch]))
                  for batch in np.array_split(order, max(1, -(-len(order) // size)))]
        return float(np.mean([float(x) for x in losses]))

    @property
    def predict_batch(self) -> int:
        """Rows predicted at a time: ``PREDICT_BATCH``, or fewer where each row's embeddings
        (its fields, and every history item with the item table's codes) are many."""
        codes = 1 + sum(c.width for c in self.fields.items) if self.uses_fields else 1
        fields = 2 + (len(self.fields.columns) if self.uses_fields else 0)
        cells = (fields + self.history_length * codes) * int(self.params["embedding_dim"])
        return int(max(256, min(PREDICT_BATCH, PREDICT_CELLS // max(cells, 1))))

    def predict(self, rows: RowFold) -> np.ndarray:
        """The probability of a 1 label (ctr) or the rating of each row."""
        inputs = self.inputs_of(rows)
        size = self.predict_batch
        out = [np.asarray(self.model([x[s:s + size] for x in inputs], training=False),
                          np.float64)
               for s in range(0, len(rows), size)]
        values = np.concatenate(out) if out else np.zeros(0)
        if self.task == CTR:
            return 1 / (1 + np.exp(-values))
        return np.clip(values, *self.scale) if self.scale else values


def pointwise_model(params: dict[str, Any], task: str, n_users: int, n_items: int,
                    mean: float, seed: int, fields: RowFields | None = None,
                    scale: tuple[float, float] | None = None,
                    known: tuple[np.ndarray, np.ndarray] | None = None
                    ) -> PointwiseModel | ItemAutoRec:
    """The model of a design: I-AutoRec for ``autorec`` (it reads the ratings alone), else a
    :class:`PointwiseModel`."""
    if params["design"] == "autorec":
        if task != RATING:
            raise ValueError(NO_CLICK_DESIGN)
        return ItemAutoRec(params, n_users, n_items, mean, seed)
    return PointwiseModel(params, task, n_users, n_items, mean, seed, fields, scale, known)


# The folds each stage of a fit learns from (DESIGN 4: validation for the search, train +
# validation for the test score, everything for the exported model).
STAGE_FOLDS = {"train": (TRAIN,), "train_valid": (TRAIN, VALID), "all": (TRAIN, VALID, TEST)}


class StageModel:
    """A pointwise model bound to the rows of one stage of a split: what a trial of a pointwise
    task trains (the interface the search drives for every task: ``fit_epoch``, weights,
    parameter count) and what predicts a fold.

    Args:
        params: The design's hyperparameters (:class:`PointwiseModel`, :class:`ItemAutoRec`).
        split: The task's split.
        stage: ``train``, ``train_valid`` or ``all``.
        seed: Seed of the model.
    """

    def __init__(self, params: dict[str, Any], split: RowSplit, stage: str, seed: int) -> None:
        self.split, self.folds = split, STAGE_FOLDS[stage]
        stage_rows = split.rows(self.folds)
        labels = stage_rows.labels
        scale = (float(labels.min()), float(labels.max())) if split.task == RATING else None
        known = (np.bincount(stage_rows.users, minlength=split.n_users) > 0,
                 np.bincount(stage_rows.items, minlength=split.n_items) > 0)
        self.model = pointwise_model(params, split.task, split.n_users, split.n_items,
                                     float(labels.mean()), seed, split.fields, scale, known)
        self.rows = split.rows(self.folds, self.history_length, self.folds)

    @property
    def history_length(self) -> int:
        """Items of the history before each row that the design reads (0: none)."""
        return self.model.history_length

    def fit_epoch(self, until: float | None = None) -> float:
        """One pass over the stage's rows (``until`` is accepted for the search's interface;
        a pointwise epoch is not cut short)."""
        return self.model.fit_epoch(self.rows)

    def fold(self, fold: int) -> RowFold:
        """A fold's rows with the histories this model reads (of the items it knows)."""
        return self.split.fold(fold, self.history_length, self.folds)

    def predict(self, rows: RowFold) -> np.ndarray:
        return self.model.predict(rows)

    def get_weights(self) -> list[Any]:
        return self.model.model.get_weights()

    def set_weights(self, weights: list[Any]) -> None:
        self.model.model.set_weights(weights)

    def count_params(self) -> int:
        return int(self.model.model.count_params())


def train_pointwise(params: dict[str, Any], split: RowSplit, *, max_epochs: int = 30,
                    patience: int = 3, seed: int = 0) -> tuple[StageModel, list[float]]:
    """Train a design on the split's training rows with early stopping on the validation
    objective (AUC or RMSE); returns the model with its best epoch's weights and the
    validation objective after each epoch."""
    model = StageModel(params, split, "train", seed)
    valid = model.fold(VALID)
    curve: list[float] = []
    best, best_weights, waited = float("-inf"), model.get_weights(), 0
    for _ in range(max_epochs):
        model.fit_epoch()
        figures = task_metrics(split.task, valid, model.predict(valid))
        value = objective_value(split.task, figures)
        curve.append(figures[OBJECTIVES[split.task][0]])
        if value > best:
            best, best_weights, waited = value, model.get_weights(), 0
        else:
            waited += 1
            if waited >= patience:
                break
    model.set_weights(best_weights)
    return model, curve
