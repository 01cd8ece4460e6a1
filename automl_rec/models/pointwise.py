"""Keras models of the pointwise tasks (DESIGN 10): one prediction per (user, item) row.

Designs of four families, each in its best-known form, over the fields of a row (the user and
the item ids, and the user's history before the row, for now):

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
from automl_rec.tasks.rows import RowFold, RowSplit  # noqa: E402

# Rows predicted at a time.
PREDICT_BATCH = 65_536


class PointwiseModel:
    """A trainable pointwise model of one design.

    Args:
        params: ``design``, ``embedding_dim``, ``hidden_layers``, ``hidden_units``, ``dropout``,
            ``l2`` (weight decay of the embeddings), ``learning_rate``, ``batch_size``; for
            ``dcn``, ``cross_layers``; for the history designs, ``history_length``.
        task: ``ctr`` or ``rating``.
        n_users: Users of the split (ids outside ``0..n_users-1`` are unknown).
        n_items: Items of the split.
        mean: The training rows' mean label (the rating models' starting point).
        seed: Seed of the initialisation and shuffling.
    """

    def __init__(self, params: dict[str, Any], task: str, n_users: int, n_items: int,
                 mean: float, seed: int) -> None:
        if params["design"] not in DESIGNS[task] or params["design"] == "autorec":
            raise ValueError(f"design {params['design']!r} is not one of the {task} designs "
                             f"{DESIGNS[task]}")
        seed_everything(seed)
        self.params, self.task = params, task
        self.n_users, self.n_items, self.mean = n_users, n_items, float(mean)
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

    def build(self) -> keras.Model:
        dim, design = int(self.params["embedding_dim"]), self.params["design"]
        user = keras.Input(shape=(), dtype="int32", name="user")
        item = keras.Input(shape=(), dtype="int32", name="item")
        inputs = [user, item]
        u = self._embedding(self.n_users, dim, "user_embedding")(user)
        items = self._embedding(self.n_items, dim, "item_embedding")
        i = items(item)
        # Per-value weights: the biases of the rating models, the wide part of the click ones.
        bias = (keras.ops.squeeze(self._embedding(self.n_users, 1, "user_bias", True)(user), -1)
                + keras.ops.squeeze(self._embedding(self.n_items, 1, "item_bias", True)(item),
                                    -1))
        joined = keras.layers.Concatenate()([u, i])
        if design in HISTORY_DESIGNS:
            # History ids are item + 1 with 0 for padding: the item embedding's rows as they are.
            history = keras.Input(shape=(self.history_length,), dtype="int32", name="history")
            inputs.append(history)
            out = bias + self._history_head(design, u, i, items(history), history > 0)
        elif design == "mf":
            out = bias + keras.ops.sum(u * i, axis=-1)
        elif design == "neumf":
            head = keras.layers.Concatenate()([u * i, self._mlp(joined)])
            out = bias + keras.ops.squeeze(keras.layers.Dense(1)(head), -1)
        else:
            deep = keras.layers.Dense(1)(self._mlp(joined))
            out = bias + keras.ops.squeeze(deep, -1)
            if design == "deepfm":  # the FM's pairwise term of the two fields
                out = out + keras.ops.sum(u * i, axis=-1)
            elif design == "dcn":
                x0 = x = joined
                for _ in range(int(self.params["cross_layers"])):
                    x = x0 * keras.layers.Dense(2 * dim)(x) + x
                out = out + keras.ops.squeeze(keras.layers.Dense(1)(x), -1)
        if self.task == RATING:
            out = out + self.mean
        return keras.Model(inputs, out, name=f"{self.task}_{design}")

    def _history_head(self, design: str, u: Any, i: Any, h: Any, present: Any) -> Any:
        """The output (before the biases) of a design that reads the history ``h``
        (``[batch, length, dim]``, ``present`` marking real items)."""
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
            fields = keras.ops.stack([u, i, pooled], axis=1)
            for _ in range(int(self.params.get("attention_layers", 2))):
                attended = keras.layers.MultiHeadAttention(2, dim)(fields, fields)
                fields = keras.ops.relu(fields + attended)
            return keras.ops.squeeze(keras.layers.Dense(1)(keras.layers.Flatten()(fields)), -1)
        else:  # ccpm: convolutions over the fields' sequence, then max-pooling
            x = keras.ops.concatenate([keras.ops.stack([u, i], axis=1), h * mask], axis=1)
            for width in (3, 2):
                x = keras.layers.Conv1D(dim, width, padding="same", activation="tanh")(x)
                x = keras.layers.MaxPooling1D(2, padding="same")(x)
            state = keras.layers.Flatten()(x)
        head = self._mlp(keras.layers.Concatenate()([u, i, state]))
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
        """The network's inputs for ``rows``: user and item rows, and the histories where the
        design reads them (ids of items the model does not know count as padding)."""
        inputs = [self._rows(rows.users, self.n_users), self._rows(rows.items, self.n_items)]
        if self.history_length:
            if rows.histories is None or rows.histories.shape[1] != self.history_length:
                raise ValueError(f"the {self.params['design']} design reads the last "
                                 f"{self.history_length} items before each row")
            history = rows.histories.astype(np.int32)
            inputs.append(np.where(history <= self.n_items, history, 0).astype(np.int32))
        return inputs

    def fit_epoch(self, rows: RowFold) -> float:
        """One shuffled pass over training rows; the mean batch loss."""
        order = self.rng.permutation(len(rows))
        size = int(self.params["batch_size"])
        inputs, labels = self.inputs_of(rows), rows.labels.astype(np.float32)
        losses = [self._step([tf.constant(x[batch]) for x in inputs], tf.constant(labels[batch]))
                  for batch in np.array_split(order, max(1, -(-len(order) // size)))]
        return float(np.mean([float(x) for x in losses]))

    def predict(self, rows: RowFold) -> np.ndarray:
        """The probability of a 1 label (ctr) or the rating of each row."""
        inputs = self.inputs_of(rows)
        out = [np.asarray(self.model([x[s:s + PREDICT_BATCH] for x in inputs], training=False),
                          np.float64)
               for s in range(0, len(rows), PREDICT_BATCH)]
        values = np.concatenate(out) if out else np.zeros(0)
        return 1 / (1 + np.exp(-values)) if self.task == CTR else values


def pointwise_model(params: dict[str, Any], task: str, n_users: int, n_items: int,
                    mean: float, seed: int) -> PointwiseModel | ItemAutoRec:
    """The model of a design: I-AutoRec for ``autorec``, else a :class:`PointwiseModel`."""
    if params["design"] == "autorec":
        if task != RATING:
            raise ValueError(NO_CLICK_DESIGN)
        return ItemAutoRec(params, n_users, n_items, mean, seed)
    return PointwiseModel(params, task, n_users, n_items, mean, seed)


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
        self.split = split
        mean = float(split.rows(STAGE_FOLDS[stage]).labels.mean())
        self.model = pointwise_model(params, split.task, split.n_users, split.n_items, mean,
                                     seed)
        self.rows = split.rows(STAGE_FOLDS[stage], self.history_length)

    @property
    def history_length(self) -> int:
        """Items of the history before each row that the design reads (0: none)."""
        return self.model.history_length

    def fit_epoch(self, until: float | None = None) -> float:
        """One pass over the stage's rows (``until`` is accepted for the search's interface;
        a pointwise epoch is not cut short)."""
        return self.model.fit_epoch(self.rows)

    def fold(self, fold: int) -> RowFold:
        """A fold's rows with the histories this model reads."""
        return self.split.fold(fold, self.history_length)

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
