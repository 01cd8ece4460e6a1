"""Export a fitted run: a self-contained TensorFlow SavedModel, the Keras model, the metadata.

``<dir>/model/`` is a SavedModel whose ``serving_default`` signature maps raw user ids
(``user_id: tf.string [batch]``) to the top-K raw item ids and their scores. Inside it: the id
vocabularies, every user's history, the exclude-seen policy, a popularity fallback for unknown
users, and the winning model's weights. Families that can score a history given at request time
also get ``recommend_from_history`` (``item_ids: tf.string [batch, L]``, padded with empty
strings). With a user table, users it lists that have no history are served from their
attributes, and ``recommend_for_features`` (one ``tf.string [batch]`` input per used column
of the user table) serves users described by raw attribute values alone
(:class:`automl_rec.models.user_neighbours.UserNeighbours`). A family that encodes item
attributes preprocesses the raw item table, stored inside, in the graph. It loads with
``tf.saved_model.load`` alone. An ensemble winner (:mod:`automl_rec.tuning.ensemble`) holds
every member's weights and averages their scores in the graph; having no single Keras network,
it is exported without ``model.keras``. Writes are atomic: everything goes to a temporary folder
first, and the previous model is swapped out only once the new one is complete.

The serving module holds the scorer's weights as plain ``tf.Variable`` objects, never the Keras
model. A Keras 3 variable wraps a ``tf.Variable``: traced functions read the inner one, but a
saved Keras variable writes a copy of its own into the SavedModel graph, and the graph's restore
op fills that copy. ``tf.saved_model.load`` does not mind (it rebuilds variables from the object
graph and binds them to the functions), but the session loader of ``saved_model_cli`` and
TensorFlow Serving runs the graph as saved, and the variables its signatures read were never
restored. Holding the inner variables (:func:`keras_weights`) makes the restored variables the
read ones; saving fails loudly if a scorer reads a variable the module does not hold.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from automl_rec.models import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from automl_rec import __version__  # noqa: E402
from automl_rec.data.splitting import Split  # noqa: E402
from automl_rec.models.baselines import EASE, Baseline, ItemKNN, Popularity  # noqa: E402
from automl_rec.models.ensemble import Ensemble  # noqa: E402
from automl_rec.models.keras_base import KerasRecommender, vectors  # noqa: E402
from automl_rec.models.user_neighbours import NEIGHBOURS, UserNeighbours  # noqa: E402

Scorer = Callable[[tf.Tensor, tf.RaggedTensor], tf.Tensor]
MODEL_DIR, KERAS_FILE, METADATA_FILE = "model", "model.keras", "metadata.json"
PREVIOUS_MODEL_DIR = ".model-previous"


class ServingModule(tf.Module):
    """The serving graph: vocabularies, histories, seen-item policy, fallback and scorer.

    Args:
        scorer: Scores of every item for user indices and their histories (TensorFlow ops).
        weights: Every variable the scorer reads, as plain ``tf.Variable`` objects (for a Keras
            model, those :func:`keras_weights` unwraps).
        resources: Other state the scorer reads (the lookup tables of a family's in-graph
            preprocessing of the raw item table).
        user_neighbours: Neighbours of a user served from their attributes (with a user
            table).
        split: The run's split; its ``all`` stage gives every user's history.
        k: Length of the returned lists.
        from_history: Whether to offer ``recommend_from_history``.
    """

    def __init__(self, scorer: Scorer, weights: list[tf.Variable], split: Split, k: int,
                 from_history: bool, resources: list[Any] | None = None,
                 user_neighbours: int = NEIGHBOURS[0]) -> None:
        super().__init__(name="automl_rec_serving")
        everything = split.stage("all")
        self.scorer = scorer
        self.weights = list(weights)
        self.resources = list(resources or [])
        self.k = min(k, split.n_items)
        self.n_items = split.n_items
        self.exclude_seen = split.exclude_seen
        self.user_table = id_table(split.user_ids.ids)
        self.item_table = id_table(split.item_ids.ids)
        self.item_ids = tf.Variable(split.item_ids.ids.astype(str), trainable=False,
                                    name="item_ids")
        self.history_items = tf.Variable(everything.items.astype(np.int64), trainable=False,
                                         name="history_items")
        self.history_splits = tf.Variable(everything.offsets.astype(np.int64), trainable=False,
                                          name="history_splits")
        self.popularity = tf.Variable(everything.item_counts.astype(np.float32),
                                      trainable=False, name="popularity")
        self.neighbours = (UserNeighbours(split.user_columns, everything, split.seed,
                                          user_neighbours)
                           if split.user_columns is not None else None)
        ids, columns = split.new_users or (np.zeros(0, str), None)
        self.new_user_table = id_table(ids) if columns is not None else None
        self.new_user_values = ([tf.constant(columns.values[str(c.name)]) for c in
                                 columns.columns] if columns is not None else [])
        self.serve = tf.function(self._serve, input_signature=[
            tf.TensorSpec([None], tf.string, name="user_id")])
        self.for_features = tf.function(self._for_features, input_signature=[
            tf.TensorSpec([None], tf.string, name=name)
            for name in self.neighbours.input_names]) if self.neighbours else None
        self.from_history = tf.function(self._from_history, input_signature=[
            tf.TensorSpec([None, None], tf.string, name="item_ids")]) if from_history else None

    def signatures(self) -> dict[str, Any]:
        """The SavedModel signatures."""
        out = {"serving_default": self.serve.get_concrete_function()}
        if self.from_history is not None:
            out["recommend_from_history"] = self.from_history.get_concrete_function()
        if self.for_features is not None:
            out["recommend_for_features"] = self.for_features.get_concrete_function()
        return out

    def function(self, signature: str) -> Any:
        """The traced function behind a signature (``None`` where the model has none)."""
        return {"serving_default": self.serve, "recommend_from_history": self.from_history,
                "recommend_for_features": self.for_features}.get(signature)

    def _top(self, scores: tf.Tensor, rows: tf.RaggedTensor, fallback: tf.Tensor
             ) -> dict[str, tf.Tensor]:
        """Mask seen items, put popularity where ``fallback`` holds, keep the top K."""
        if self.exclude_seen:
            seen = vectors(rows, self.n_items) > 0
            scores = tf.where(seen, tf.constant(-np.inf, tf.float32), scores)
        popular = tf.broadcast_to(self.popularity[None, :], tf.shape(scores))
        scores = tf.where(fallback[:, None], popular, scores)
        top = tf.math.top_k(scores, k=self.k)
        return {"item_ids": tf.gather(self.item_ids, top.indices), "scores": top.values}

    def _serve(self, user_id: tf.Tensor) -> dict[str, tf.Tensor]:
        users = self.user_table.lookup(user_id)
        unknown = users < 0
        known_users = tf.maximum(users, 0)
        history = tf.RaggedTensor.from_row_splits(self.history_items, self.history_splits)
        rows = tf.gather(history, known_users)
        scores = tf.cast(self.scorer(known_users, rows), tf.float32)
        if self.new_user_values:  # users of the user table without a history
            listed = self.new_user_table.lookup(user_id)
            raw = [tf.gather(values, tf.maximum(listed, 0)) for values in self.new_user_values]
            from_features, matched = self.neighbours.scores(raw)
            described = unknown & (listed >= 0) & matched
            scores = tf.where(described[:, None], from_features, scores)
            unknown = unknown & ~described
        # An unknown user has seen nothing (``rows`` holds user 0's history in their place;
        # popularity overrides the mask, lists from attributes would not).
        kept = tf.gather(users >= 0, rows.value_rowids())
        seen = tf.RaggedTensor.from_value_rowids(tf.boolean_mask(rows.flat_values, kept),
                                                 tf.boolean_mask(rows.value_rowids(), kept),
                                                 nrows=rows.nrows())
        return self._top(scores, seen, unknown)

    def _for_features(self, *columns: tf.Tensor) -> dict[str, tf.Tensor]:
        scores, matched = self.neighbours.scores(list(columns))
        batch = tf.shape(columns[0], out_type=tf.int64)[0]
        nothing = tf.RaggedTensor.from_row_lengths(tf.zeros([0], tf.int64),
                                                   tf.zeros([batch], tf.int64))
        return self._top(scores, nothing, ~matched)

    def _from_history(self, item_ids: tf.Tensor) -> dict[str, tf.Tensor]:
        items = self.item_table.lookup(item_ids)
        rows = tf.ragged.boolean_mask(items, items >= 0)
        users = tf.zeros([tf.shape(item_ids)[0]], tf.int64)
        scores = tf.cast(self.scorer(users, rows), tf.float32)
        return self._top(scores, rows, rows.row_lengths() == 0)


def id_table(ids: np.ndarray) -> tf.lookup.StaticHashTable:
    """Raw id -> index (-1 for ids not in ``ids``)."""
    keys = tf.constant(ids.astype(str))
    values = tf.range(len(ids), dtype=tf.int64)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), -1)


def serving_module(model: Any, split: Split, k: int,
                   user_neighbours: int | None = None) -> ServingModule:
    """The serving module of a fitted model (a Keras family's model, an ensemble of them or a
    baseline);
    ``user_neighbours`` as chosen on validation (default ``NEIGHBOURS[0]``)."""
    user_neighbours = user_neighbours or NEIGHBOURS[0]
    if isinstance(model, (KerasRecommender, Ensemble)):
        members = model.members if isinstance(model, Ensemble) else [model]
        resources = [r for member in members for r in member.serving_resources()]
        weights = [w for member in members
                   for w in keras_weights(member.model) + member.serving_variables()]
        if isinstance(model, Ensemble):
            weights += model.serving_variables()
        return ServingModule(model.item_scores, weights, split, k,
                             not model.needs_user, resources, user_neighbours)
    scorer, weights = _baseline_scorer(model, split.n_items)
    return ServingModule(scorer, weights, split, k, True, user_neighbours=user_neighbours)


def keras_weights(model: keras.Model) -> list[tf.Variable]:
    """The ``tf.Variable`` inside each of ``model``'s Keras variables (random seeds included).

    These, not the Keras variables that wrap them, are what traced functions read; holding
    them is what makes the saved restore op fill the variables the signatures read.
    """
    inner = [v.value if isinstance(v, keras.Variable) else v for v in model.variables]
    wrong = [type(v).__name__ for v in inner if not isinstance(v, tf.Variable)]
    if wrong:
        raise TypeError(f"Keras variables not backed by tf.Variable: {sorted(set(wrong))}")
    return inner


def _baseline_scorer(model: Baseline, n_items: int) -> tuple[Scorer, list[tf.Variable]]:
    """TensorFlow versions of the baselines' scoring, with their weights as variables."""
    if isinstance(model, Popularity):
        counts = tf.Variable(model.score(np.zeros(1, dtype=np.int64))[0], trainable=False)

        def popularity(users: tf.Tensor, rows: tf.RaggedTensor) -> tf.Tensor:
            return tf.broadcast_to(counts[None, :], [tf.shape(users)[0], n_items])

        return popularity, [counts]
    if isinstance(model, EASE):
        weights = tf.Variable(model.weights, trainable=False)

        def ease(users: tf.Tensor, rows: tf.RaggedTensor) -> tf.Tensor:
            return tf.matmul(vectors(rows, n_items), weights)

        return ease, [weights]
    if isinstance(model, ItemKNN):
        similarity = model.similarity.tocoo()
        index = tf.Variable(np.stack([similarity.row, similarity.col], 1).astype(np.int64),
                            trainable=False)
        values = tf.Variable(similarity.data.astype(np.float32), trainable=False)
        # The content baseline adds its popularity tie-break; ItemKNN adds nothing.
        prior = tf.Variable(getattr(model, "prior", np.zeros(n_items, np.float32)),
                            trainable=False)

        def itemknn(users: tf.Tensor, rows: tf.RaggedTensor) -> tf.Tensor:
            sparse = tf.SparseTensor(index, values, [n_items, n_items])
            return tf.sparse.sparse_dense_matmul(vectors(rows, n_items), sparse) + prior

        return itemknn, [index, values, prior]
    raise TypeError(f"no serving scorer for {type(model).__name__}")


def export_run(directory: Path, module: ServingModule, keras_model: keras.Model | None,
               metadata: dict[str, Any]) -> None:
    """Write ``model/``, ``model.keras`` and ``metadata.json`` under ``directory`` atomically.

    The metadata is also stored inside the SavedModel (``model/assets/metadata.json``), so that
    the model and its description always travel together.
    """
    directory.mkdir(parents=True, exist_ok=True)
    _recover(directory)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=directory))
    try:
        text = json.dumps(metadata, indent=2, default=_jsonable)
        saved = staging / MODEL_DIR
        tf.saved_model.save(module, str(saved), signatures=module.signatures())
        (saved / "assets").mkdir(exist_ok=True)
        (saved / "assets" / METADATA_FILE).write_text(text)
        (staging / METADATA_FILE).write_text(text)
        if keras_model is not None:
            keras_model.save(staging / KERAS_FILE)
        _swap_in(staging / MODEL_DIR, directory / MODEL_DIR, directory / PREVIOUS_MODEL_DIR)
        for name in (KERAS_FILE, METADATA_FILE):
            if (staging / name).exists():
                os.replace(staging / name, directory / name)
            elif name == KERAS_FILE and (directory / name).exists():
                (directory / name).unlink()
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_in(new: Path, target: Path, previous: Path) -> None:
    if previous.exists():
        shutil.rmtree(previous)
    if target.exists():
        os.replace(target, previous)
    os.replace(new, target)
    shutil.rmtree(previous, ignore_errors=True)


def _recover(directory: Path) -> None:
    """Put back the previous model if an export died between its two renames."""
    previous, target = directory / PREVIOUS_MODEL_DIR, directory / MODEL_DIR
    if previous.exists() and not target.exists():
        os.replace(previous, target)
    for stale in directory.glob(".export-*"):
        shutil.rmtree(stale, ignore_errors=True)


def environment() -> dict[str, str]:
    """Versions of the tool and of what it ran on (the device as selected for training)."""
    from automl_rec.device import current_device

    return {"automl_rec": __version__, "tensorflow": tf.__version__,
            "keras": keras.__version__, "python": platform.python_version(),
            "platform": platform.platform(),
            "device": current_device().describe(),
            "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
