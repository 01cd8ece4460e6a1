"""The serving graph of a click or rating model (DESIGN 5 and 10).

``predict`` takes the raw columns of rows (``user_id``, ``item_id`` and one input for each
context column of the log, ``context_<name>``: ``tf.string [batch]``) and returns
``prediction``: the probability of a click (``ctr``) or the rating (``rating``). A context value
is coded in the graph as the training rows coded it (:class:`ContextCoder`); an empty or unseen
value has no code. The designs that read the user's history before a row are served with the
user's history of the whole log, stored inside: the latest items (rated, with their ratings,
or clicked), and the count and label sum of all of the user's rows. ``predict_with_recent`` takes
the same inputs and, per row, every row of the user since the fit: ``recent_item_ids``
(``tf.string [batch, width]``, oldest first, ``""`` for padding) and their labels,
``recent_ratings`` or, for clicks, ``recent_labels`` (``float32 [batch, width]``: 1 for a
click, 0 for an exposure without one); they extend the stored history (a click's item, or a
rated one, that the model has a row of joins the items) and the count and sum. The tool's
test figures describe this signature: a held-out row's history holds the user's rows before
it. ``serving_default`` takes raw user ids and returns the top-K raw item ids by the
prediction, in the training rows' most frequent context, with the items the user already
clicked or rated left out.
Unknown users and items take the models' unknown-id rows (row 0), as in training. Everything is
TensorFlow ops and variables: the SavedModel loads with ``tf.saved_model.load`` alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from automl_rec.models import quiet_tensorflow

quiet_tensorflow()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from automl_rec.data.features import (NUMBER_PATTERN, ContextCoder,  # noqa: E402
                                      context_input_names)
from automl_rec.export import id_table, keras_weights  # noqa: E402
from automl_rec.models.autorec import ItemAutoRec  # noqa: E402
from automl_rec.models.pointwise import PointwiseModel, StageModel  # noqa: E402
from automl_rec.models.pointwise_baselines import Biases, Logistic  # noqa: E402
from automl_rec.tasks import CTR, recent_labels_input  # noqa: E402
from automl_rec.tasks.rows import RowSplit  # noqa: E402

# (user rows, item rows, histories, the histories' labels, the users' activity (count and
# label sum of their rows), the context columns' codes) -> predictions; rows are index + 1, 0
# for unknown ids.
Predictor = Callable[[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, list[tf.Tensor]],
                     tf.Tensor]


class ContextGraph(tf.Module):
    """One context column's coding (:class:`ContextCoder`) in TensorFlow ops: raw values
    ``tf.string [batch]`` in, ``int32 [batch, width]`` codes out."""

    def __init__(self, coder: ContextCoder) -> None:
        super().__init__()
        self.kind, self.width, self.separator = coder.kind, coder.width, coder.separator
        if coder.kind == "numeric":
            self.edges = tf.constant(np.asarray(coder.edges, np.float64))
        else:
            self.table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(coder.tokens), tf.string),
                tf.range(1, len(coder.tokens) + 1, dtype=tf.int32)), default_value=0)

    def __call__(self, values: tf.Tensor) -> tf.Tensor:
        text = tf.strings.strip(values)
        if self.kind == "numeric":
            plain = tf.strings.regex_full_match(text, NUMBER_PATTERN)
            numbers = tf.strings.to_number(tf.where(plain, text, "0"), tf.float64)
            bins = tf.reduce_sum(tf.cast(numbers[:, None] >= self.edges[None, :], tf.int32), 1)
            return tf.where(plain, bins + 1, 0)[:, None]
        if self.kind != "multi":
            return self.table.lookup(text)[:, None]
        codes = tf.ragged.map_flat_values(
            lambda parts: self.table.lookup(tf.strings.strip(parts)),
            tf.strings.split(text, self.separator))
        kept = tf.ragged.boolean_mask(codes, codes > 0)
        return kept.to_tensor(default_value=0, shape=[None, self.width])


class RowServingModule(tf.Module):
    """Vocabularies, the users' latest histories and seen items, and the predictor.

    Args:
        predictor: Predictions of rows given as embedding rows (TensorFlow ops).
        weights: Every variable the predictor reads (plain ``tf.Variable`` objects).
        split: The task's split (its rows give the histories and the seen items).
        k: Length of ``serving_default``'s lists.
        history_length: Items of the latest history the predictor reads (0: none).
        known_items: Per item index, whether the model has a row of it (a recent item it has
            none of is left out of a history); every item by default.
        folds: The folds whose rows the stored histories hold (every row by default: what
            the exported model is fitted on).
    """

    def __init__(self, predictor: Predictor, weights: list[tf.Variable], split: RowSplit,
                 k: int, history_length: int, known_items: np.ndarray | None = None,
                 folds: tuple[int, ...] | None = None) -> None:
        super().__init__(name="automl_rec_row_serving")
        self.predictor = predictor
        self.context = [ContextGraph(coder) for coder in split.fields.coders]
        self.typical_context = [tf.Variable(codes, trainable=False, name="typical_context")
                                for codes in split.typical_context()]
        self.weights = list(weights)
        self.k = min(k, split.n_items)
        self.n_items = split.n_items
        self.history_length = int(history_length)
        self.user_table = id_table(split.user_ids.ids)
        self.item_table = id_table(split.item_ids.ids)
        self.item_ids = tf.Variable(split.item_ids.ids.astype(str), trainable=False,
                                    name="item_ids")
        known = np.ones(split.n_items, bool) if known_items is None else known_items
        self.known_items = tf.Variable(np.r_[False, known], trainable=False, name="known_items")
        latest, labels = (split.latest_histories(history_length, folds) if history_length
                          else (np.zeros((split.n_users, 0), np.int32),
                                np.zeros((split.n_users, 0), np.float32)))
        self.click = split.task == CTR
        # Row 0: an unknown user, with no history.
        self.histories = tf.Variable(np.vstack([np.zeros((1, latest.shape[1]), np.int32),
                                                latest]), trainable=False, name="histories")
        self.history_labels = tf.Variable(
            np.vstack([np.zeros((1, latest.shape[1]), np.float32), labels]), trainable=False,
            name="history_labels")
        self.activity = tf.Variable(np.vstack([np.zeros((1, 2), np.float32),
                                               split.latest_activity(folds)]),
                                    trainable=False, name="activity")
        seen = split.history_rows
        order = np.lexsort((split.items[seen], split.users[seen]))
        users, items = split.users[seen][order], split.items[seen][order]
        splits = np.r_[0, np.cumsum(np.bincount(users + 1, minlength=split.n_users + 1))]
        self.seen_items = tf.Variable(items.astype(np.int64), trainable=False, name="seen_items")
        self.seen_splits = tf.Variable(splits.astype(np.int64), trainable=False,
                                       name="seen_splits")
        rows = [tf.TensorSpec([None], tf.string, name="user_id"),
                tf.TensorSpec([None], tf.string, name="item_id")] + [
            tf.TensorSpec([None], tf.string, name=name)
            for name in context_input_names(split.fields.coders)]
        self.predict = tf.function(self._predict, input_signature=rows)
        recent = [tf.TensorSpec([None, None], tf.string, name="recent_item_ids"),
                  tf.TensorSpec([None, None], tf.float32, name=recent_labels_input(split.task))]
        self.predict_with_recent = tf.function(self._predict_with_recent,
                                               input_signature=rows + recent)
        self.serve = tf.function(self._serve, input_signature=[
            tf.TensorSpec([None], tf.string, name="user_id")])

    def signatures(self) -> dict[str, Any]:
        return {"serving_default": self.serve.get_concrete_function(),
                "predict": self.predict.get_concrete_function(),
                "predict_with_recent": self.predict_with_recent.get_concrete_function()}

    def function(self, signature: str) -> Any:
        """The function behind a signature (``None`` for one this module does not have)."""
        return {"serving_default": self.serve, "predict": self.predict,
                "predict_with_recent": self.predict_with_recent}.get(signature)

    def _rows(self, table: tf.lookup.StaticHashTable, ids: tf.Tensor) -> tf.Tensor:
        return tf.cast(table.lookup(ids) + 1, tf.int32)

    def _predict(self, user_id: tf.Tensor, item_id: tf.Tensor, *context: tf.Tensor
                 ) -> dict[str, tf.Tensor]:
        users = self._rows(self.user_table, user_id)
        return self._prediction(users, item_id, tf.gather(self.histories, users),
                                tf.gather(self.history_labels, users),
                                tf.gather(self.activity, users), context)

    def _predict_with_recent(self, user_id: tf.Tensor, item_id: tf.Tensor, *rest: tf.Tensor
                             ) -> dict[str, tf.Tensor]:
        context = rest[:len(self.context)]
        recent, recent_labels = rest[len(self.context):]
        users = self._rows(self.user_table, user_id)
        given = tf.strings.length(recent) > 0
        activity = tf.gather(self.activity, users) + tf.stack(
            [tf.reduce_sum(tf.cast(given, tf.float32), axis=1),
             tf.reduce_sum(tf.where(given, recent_labels, 0.0), axis=1)], axis=1)
        codes = self._rows(self.item_table, recent)
        kept = tf.gather(self.known_items, codes)
        if self.click:  # the items of a click history are the clicked ones
            kept &= recent_labels > 0.5
        codes = tf.where(kept, codes, 0)
        # The stored history, then the recent items: the latest kept items, most recent last.
        ids = tf.concat([tf.gather(self.histories, users), codes], axis=1)
        values = tf.concat([tf.gather(self.history_labels, users), recent_labels], axis=1)
        newest_first = tf.reverse(ids, axis=[1]) > 0
        ids = tf.reverse(tf.ragged.boolean_mask(tf.reverse(ids, axis=[1]), newest_first)
                         .to_tensor(0, shape=[None, self.history_length]), axis=[1])
        values = tf.reverse(tf.ragged.boolean_mask(tf.reverse(values, axis=[1]), newest_first)
                            .to_tensor(0.0, shape=[None, self.history_length]), axis=[1])
        return self._prediction(users, item_id, ids, values, activity, context)

    def _prediction(self, users: tf.Tensor, item_id: tf.Tensor, histories: tf.Tensor,
                    labels: tf.Tensor, activity: tf.Tensor, context: tuple[tf.Tensor, ...]
                    ) -> dict[str, tf.Tensor]:
        items = self._rows(self.item_table, item_id)
        codes = [graph(values) for graph, values in zip(self.context, context)]
        return {"prediction": tf.cast(self.predictor(users, items, histories, labels, activity,
                                                     codes),
                                      tf.float32)}

    def _serve(self, user_id: tf.Tensor) -> dict[str, tf.Tensor]:
        users = self._rows(self.user_table, user_id)
        items = tf.range(1, self.n_items + 1, dtype=tf.int32)
        codes = [tf.tile(typical, [self.n_items, 1]) for typical in self.typical_context]

        def user_scores(user: tf.Tensor) -> tf.Tensor:
            # One user's rows with every item at a time: a batch of users costs no more memory.
            pair_users = tf.fill([self.n_items], user)
            histories = tf.gather(self.histories, pair_users)
            labels = tf.gather(self.history_labels, pair_users)
            activity = tf.gather(self.activity, pair_users)
            return tf.cast(self.predictor(pair_users, items, histories, labels, activity, codes),
                           tf.float32)

        scores = tf.map_fn(user_scores, users, fn_output_signature=tf.float32)
        seen = tf.RaggedTensor.from_row_splits(self.seen_items, self.seen_splits)
        rows = tf.gather(seen, tf.cast(users, tf.int64))
        index = tf.stack([tf.cast(rows.value_rowids(), tf.int64), rows.flat_values], axis=1)
        mask = tf.scatter_nd(index, tf.ones_like(rows.flat_values, tf.bool),
                             tf.cast(tf.shape(scores), tf.int64))
        scores = tf.where(mask, tf.constant(-np.inf, tf.float32), scores)
        top = tf.math.top_k(scores, k=self.k)
        return {"item_ids": tf.gather(self.item_ids, top.indices), "scores": top.values}


def row_serving_module(model: Any, split: RowSplit, k: int,
                       folds: tuple[int, ...] | None = None) -> RowServingModule:
    """The serving module of a fitted click or rating model (a Keras design or a baseline);
    its stored histories hold the rows of ``folds`` (every row by default).

    Raises:
        TypeError: The model has no TensorFlow form (the gradient-boosted trees).
    """
    if isinstance(model, StageModel):
        model = model.model
    if isinstance(model, PointwiseModel):
        network, click = model.model, model.task == CTR
        length, scale = model.history_length, model.scale
        reads_context = model.uses_fields and bool(model.fields.context)
        reads_activity = model.reads_activity

        def keras_predictor(users: tf.Tensor, items: tf.Tensor, histories: tf.Tensor,
                            labels: tf.Tensor, activity: tf.Tensor,
                            context: list[tf.Tensor]) -> tf.Tensor:
            inputs = [users, items]
            if length:
                inputs += [histories] + ([] if click else [labels])
            if reads_activity:
                inputs.append(activity)
            if reads_context:
                inputs += list(context)
            out = network(inputs, training=False)
            if click:
                return tf.sigmoid(out)
            return tf.clip_by_value(out, *scale) if scale else out

        return RowServingModule(keras_predictor, keras_weights(network), split, k, length,
                                model.known[1], folds)
    if isinstance(model, ItemAutoRec):
        return RowServingModule(*_autorec_predictor(model), split, k, 0)
    if isinstance(model, (Biases, Logistic)):
        return RowServingModule(*_linear_predictor(model), split, k, 0)
    raise TypeError(f"{type(model).__name__} has no TensorFlow form to export")


def _padded(values: np.ndarray) -> tf.Variable:
    """A per-id table with a 0 row in front for unknown ids."""
    return tf.Variable(np.r_[0.0, values].astype(np.float32), trainable=False)


def _linear_predictor(model: Biases | Logistic) -> tuple[Predictor, list[tf.Variable]]:
    """Biases: mean + user bias + item bias; logistic: the sigmoid of intercept + the two
    one-hot weights + the mean weight of each table and context column's codes of the row."""
    columns: list[tuple[tf.Variable | None, tf.Variable, str]] = []
    if isinstance(model, Biases):
        offset, user, item, click = model.mean, model.user_bias, model.item_bias, False
    else:
        weights = model.model.coef_[0]
        offset, click = float(model.model.intercept_[0]), True
        starts = np.cumsum([0, *model.blocks])
        user, item = weights[:starts[1]], weights[starts[1]:starts[2]]
        fields = model.fields
        sources = (["items"] * len(fields.items) + ["users"] * len(fields.users)
                   + ["context"] * len(fields.context))
        for k, (column, source) in enumerate(zip(fields.columns, sources)):
            codes = None if source == "context" else tf.Variable(
                np.vstack([np.zeros((1, column.width), np.int32), column.codes]),
                trainable=False)
            columns.append((codes, _padded(weights[starts[k + 2]:starts[k + 3]]), source))
    user_weights, item_weights = _padded(user), _padded(item)

    def linear(users: tf.Tensor, items: tf.Tensor, histories: tf.Tensor,
               labels: tf.Tensor, activity: tf.Tensor, context: list[tf.Tensor]) -> tf.Tensor:
        out = offset + tf.gather(user_weights, users) + tf.gather(item_weights, items)
        given = iter(context)
        for codes, code_weights, source in columns:
            row_codes = (next(given) if codes is None
                         else tf.gather(codes, items if source == "items" else users))
            count = tf.reduce_sum(tf.cast(row_codes > 0, tf.float32), axis=-1)
            out += tf.reduce_sum(tf.gather(code_weights, row_codes), -1) / tf.maximum(count, 1.0)
        return tf.sigmoid(out) if click else out

    return linear, [user_weights, item_weights,
                    *(v for c in columns for v in c[:2] if v is not None)]


def _autorec_predictor(model: ItemAutoRec) -> tuple[Predictor, list[tf.Variable]]:
    """I-AutoRec: the user's entry of the item's reconstructed rating vector; the training mean
    where the user or the item has no training rating."""
    assert model.matrix is not None, "the model has not been trained"
    matrix = model.matrix.tocsr()
    values = tf.Variable(matrix.data.astype(np.float32), trainable=False)
    columns = tf.Variable(matrix.indices.astype(np.int64), trainable=False)
    splits = tf.Variable(matrix.indptr.astype(np.int64), trainable=False)
    rated_items = tf.Variable(np.r_[False, np.diff(matrix.indptr) > 0], trainable=False)
    rating_users = tf.Variable(np.r_[False, np.bincount(matrix.indices,
                                                        minlength=model.n_users) > 0],
                               trainable=False)
    network, n_users = model.model, model.n_users
    offset, mean = model.offset, model.mean

    def autorec(users: tf.Tensor, items: tf.Tensor, histories: tf.Tensor,
                labels: tf.Tensor, activity: tf.Tensor, context: list[tf.Tensor]) -> tf.Tensor:
        known = tf.gather(rated_items, items) & tf.gather(rating_users, users)
        index = tf.cast(tf.maximum(items - 1, 0), tf.int64)
        ragged = tf.gather(tf.RaggedTensor.from_row_splits(values, splits), index)
        position = tf.stack([tf.cast(ragged.value_rowids(), tf.int64),
                             tf.gather(tf.RaggedTensor.from_row_splits(columns, splits),
                                       index).flat_values], axis=1)
        dense = tf.scatter_nd(position, ragged.flat_values,
                              tf.stack([tf.shape(items, out_type=tf.int64)[0],
                                        tf.constant(n_users, tf.int64)]))
        rebuilt = network(dense, training=False)
        user_index = tf.cast(tf.maximum(users - 1, 0), tf.int32)
        picked = tf.gather(rebuilt, user_index, batch_dims=1) + offset
        return tf.where(known, picked, tf.constant(mean, picked.dtype))

    return autorec, [values, columns, splits, rated_items, rating_users,
                     *keras_weights(network)]
