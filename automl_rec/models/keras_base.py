"""What every Keras family shares: seeding, the training loop, weights, batched scoring.

A family subclasses :class:`KerasRecommender` and provides the network (``build``), one epoch's
training examples as small per-example arrays (``examples``), the tensors of one batch built
from them inside the ``tf.data`` pipeline (``batch_inputs``: windows gathered from the
histories, interaction vectors, masks), the training loss of one batch (``loss_on``) and the
scores of all items given users and their histories, in TensorFlow operations (``scores_for``;
evaluation and serving read them through ``item_scores``, which ranks the items a model cannot
know last).
Training runs a compiled TensorFlow step over that pipeline, so that losses with masks, KL
annealing or sampled softmax fit the same loop. The selected device
(:mod:`automl_rec.device`) decides whether the step is compiled with XLA, whether a loss-scaling
optimizer guards mixed precision, and how much larger training batches are. The same
``item_scores`` serves evaluation (on the histories of the stage the model learned from) and the
exported SavedModel (on the histories stored inside it, or on a history given at request time).
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from typing import Any

from automl_rec.models import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from automl_rec.data.splitting import StageData  # noqa: E402
from automl_rec.device import current_device  # noqa: E402
from automl_rec.models.features import ItemTable  # noqa: E402

# Scores are computed for at most this many (user, item) cells at a time.
SCORE_CELLS = 4_000_000
# Training batches are kept below this many cells in their largest tensor (e.g. logits).
MAX_LOGIT_CELLS = 60_000_000


def fitting_batch_sizes(choices: tuple[int, ...], cells_per_example: int) -> tuple[int, ...]:
    """The batch sizes whose largest tensor (batch x ``cells_per_example``) stays within
    ``MAX_LOGIT_CELLS`` (the smallest choice when none does)."""
    fitting = tuple(b for b in choices if b * cells_per_example <= MAX_LOGIT_CELLS)
    return fitting or (min(choices),)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and TensorFlow, and make TensorFlow's kernels deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def free_memory() -> None:
    """Drop the graphs and layers of finished trials so that long searches do not grow."""
    keras.backend.clear_session()


class Histories:
    """Users' time-ordered item lists as a ragged tensor (rows are users, values item indices).

    Args:
        items: Item index of each interaction, grouped by user in time order.
        offsets: Start of each user's interactions (length ``n_users + 1``).
    """

    def __init__(self, items: Any, offsets: Any) -> None:
        self.ragged = tf.RaggedTensor.from_row_splits(tf.cast(items, tf.int64),
                                                      tf.cast(offsets, tf.int64))

    @classmethod
    def of(cls, data: StageData) -> Histories:
        """The histories of a stage."""
        return cls(data.items, data.offsets)

    def rows(self, users: tf.Tensor) -> tf.RaggedTensor:
        """The histories of ``users``."""
        return tf.gather(self.ragged, tf.cast(users, tf.int64))

    def windows(self, users: tf.Tensor, ends: tf.Tensor, length: int) -> tf.Tensor:
        """The ``length`` items before position ``ends`` of each user's history (positions in
        the stage's interaction arrays), as :func:`gather_windows` gives them."""
        starts = tf.gather(self.ragged.row_splits, tf.cast(users, tf.int64))
        return gather_windows(self.ragged.flat_values, starts, tf.cast(ends, tf.int64), length)

    def items_at(self, positions: tf.Tensor) -> tf.Tensor:
        """Item index of the interactions at ``positions`` (int32)."""
        return tf.cast(tf.gather(self.ragged.flat_values, tf.cast(positions, tf.int64)), tf.int32)


def gather_windows(values: tf.Tensor, starts: tf.Tensor, ends: tf.Tensor,
                   length: int) -> tf.Tensor:
    """Items ``[end - length, end)`` of ``values`` for each (start, end), clipped at ``start``,
    as ``[batch, length]`` ids (item + 1), left-padded with 0, most recent last."""
    starts, ends = starts[:, None], ends[:, None]
    index = ends - length + tf.range(length, dtype=tf.int64)[None, :]
    padded = tf.concat([values, tf.zeros([1], values.dtype)], axis=0)
    picked = tf.gather(padded, tf.maximum(index, 0)) + 1
    return tf.cast(tf.where(index >= starts, picked, 0), tf.int32)


def windows(rows: tf.RaggedTensor, length: int) -> tf.Tensor:
    """The last ``length`` items of each row as ``[batch, length]`` ids (item + 1), left-padded
    with 0, most recent last."""
    starts = rows.row_starts()
    return gather_windows(rows.flat_values, starts, starts + rows.row_lengths(), length)


def vectors(rows: tf.RaggedTensor, n_items: int) -> tf.Tensor:
    """``[batch, n_items]`` binary vectors of the items in each row."""
    index = tf.stack([rows.value_rowids(), rows.flat_values], axis=1)
    dense = tf.scatter_nd(index, tf.ones_like(rows.flat_values, tf.float32),
                          tf.stack([rows.nrows(), tf.constant(n_items, tf.int64)]))
    return tf.minimum(dense, 1.0)


class KerasRecommender:
    """One trainable model of a family, bound to the stage it learns from.

    Args:
        params: Hyperparameter values (active ones).
        data: The interactions it trains on; their histories are also what ``score`` reads.
        seed: Seed of the example sampling and shuffling.
    """

    def __init__(self, params: dict[str, Any], data: StageData, seed: int) -> None:
        self.params = params
        self.data = data
        self.history = Histories.of(data)
        self.rng = np.random.default_rng(seed)
        self.model = self.build()
        # Added to the scores of the items the stage lacks, in a model with item features
        # (chosen on validation: automl_rec.evaluation.cold_offset).
        self.cold_offset = tf.Variable(0.0, trainable=False, name="cold_offset")
        self.optimizer = keras.optimizers.Adam(learning_rate=float(params["learning_rate"]))
        if keras.mixed_precision.global_policy().name == "mixed_float16":
            self.optimizer = keras.optimizers.LossScaleOptimizer(self.optimizer)
        self.optimizer.build(self.model.trainable_variables)
        self.steps = 0
        self._compiled = current_device().xla and self.xla_compatible
        self._step = tf.function(self._train_step, reduce_retracing=True,
                                 jit_compile=self._compiled)
        self._scores = tf.function(self.item_scores, reduce_retracing=True)
        self._inputs = tf.function(self.batch_inputs, reduce_retracing=True)

    # Whether the training step compiles with XLA (every op of ``loss_on`` has an XLA kernel).
    xla_compatible = True

    def build(self) -> keras.Model:
        """The network to train."""
        raise NotImplementedError

    def examples(self) -> tuple[np.ndarray, ...]:
        """Arrays of one epoch's examples, sharing their first dimension (families that sample
        negatives draw them here, afresh each epoch). Kept small per example: what is large
        (windows, interaction vectors) is built per batch by ``batch_inputs``."""
        raise NotImplementedError

    def batch_inputs(self, number: tf.Tensor, *batch: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """The tensors ``loss_on`` receives, built inside the ``tf.data`` pipeline from one batch
        of ``examples`` (by default the batch itself); ``number`` counts batches since the model
        was built, for families that draw random masks. Traced once, so it must read no Python
        state that changes between epochs."""
        return batch

    def loss_on(self, batch: tuple[tf.Tensor, ...]) -> tf.Tensor:
        """Mean training loss of one batch (called under a gradient tape, ``training=True``)."""
        raise NotImplementedError

    # Whether scores depend on a learned embedding of the user (then a history given at
    # request time, without a known user, cannot be scored).
    needs_user = False

    def scores_for(self, users: tf.Tensor, rows: tf.RaggedTensor) -> tf.Tensor:
        """Scores of every item (``[batch, n_items]``) for ``users`` whose histories are ``rows``,
        in inference mode, as TensorFlow operations."""
        raise NotImplementedError

    def item_scores(self, users: tf.Tensor, rows: tf.RaggedTensor) -> tf.Tensor:
        """``scores_for`` as evaluation and serving rank them: without item features, the items
        the stage lacks go last (-1e9), as the model knows nothing of them; with item
        features, their attributes' vectors score them, plus ``cold_offset``."""
        scores = tf.cast(self.scores_for(users, rows), tf.float32)
        if self.uses_item_features:
            cold = tf.constant(self.cold_items.astype(np.float32))
            return scores + self.cold_offset * cold[None, :]
        return scores + self.absent_items()[None, :]

    def score(self, users: np.ndarray) -> np.ndarray:
        """Scores of every item for each user, ``[len(users), n_items]``, from the histories of
        the stage the model learned from."""
        out = []
        for chunk in self.user_batches(np.asarray(users, dtype=np.int64)):
            batch = tf.constant(chunk)
            out.append(np.asarray(self._scores(batch, self.history.rows(batch)), np.float32))
        return (np.concatenate(out, axis=0) if out
                else np.zeros((0, self.data.n_items), np.float32))

    @property
    def uses_item_features(self) -> bool:
        """Whether item vectors combine the id embedding with the item table's attributes
        (``item_features``: ``attributes``, where the stage has an item table)."""
        return (self.params.get("item_features") == "attributes"
                and self.data.item_columns is not None)

    @property
    def cold_items(self) -> np.ndarray | None:
        """Per item, whether the stage has no interaction of it: the cold items a model with
        item features scores from their attributes alone (``None`` without features)."""
        if not self.uses_item_features:
            return None
        return self.data.item_counts == 0

    @property
    def scored_items(self) -> np.ndarray:
        """Per item, whether the model ranks it on its merits: every item with item features,
        else the items the stage has interactions of (the others go last)."""
        if self.uses_item_features:
            return np.ones(self.data.n_items, dtype=bool)
        return self.data.item_counts > 0

    def serving_variables(self) -> list[tf.Variable]:
        """What the scores read besides the network's weights (the cold-item offset)."""
        return [self.cold_offset]

    def item_table(self, dim: int, extra: int = 0, scored: bool = False,
                   name: str = "item_table") -> ItemTable:
        """Item vectors of size ``dim`` from ids and attributes (:class:`ItemTable`), with the
        searched ``id_dropout`` and ``text_encoder``; kept for :meth:`serving_resources`."""
        assert self.data.item_columns is not None
        table = ItemTable(self.data.n_items, extra, dim, self.data.item_columns,
                          self.data.item_counts > 0, float(self.params.get("id_dropout", 0.0)),
                          str(self.params.get("text_encoder", "pooled")),
                          int(self.rng.integers(2**31 - 1)), self.data.vocabulary_items,
                          scored=scored, name=name)
        self._item_tables = [*getattr(self, "_item_tables", []), table]
        return table

    def absent_items(self) -> tf.Tensor:
        """:func:`absent_offsets` of the stage's items."""
        return absent_offsets(self.data.item_counts)

    def serving_resources(self) -> list[Any]:
        """Prepare the model for a SavedModel and return what the serving module must hold
        besides the Keras variables (the lookup tables of in-graph preprocessing)."""
        return [resource for table in getattr(self, "_item_tables", [])
                for resource in table.serve_from_raw()]

    def cells_per_example(self) -> int:
        """Cells one training example adds to the largest tensor of a batch (its logits)."""
        return 1

    @property
    def batch_size(self) -> int:
        """Training batch size: the chosen one (halved while the batch's largest tensor would
        exceed ``MAX_LOGIT_CELLS``), scaled up on a GPU while that tensor stays within it."""
        chosen, scale = int(self.params["batch_size"]), current_device().batch_scale
        while chosen > 1 and chosen * self.cells_per_example() > MAX_LOGIT_CELLS:
            chosen //= 2
        while scale > 1 and chosen * scale * self.cells_per_example() > MAX_LOGIT_CELLS:
            scale //= 2
        return chosen * max(scale, 1)

    def _run_step(self, batch: tuple[tf.Tensor, ...]) -> tf.Tensor:
        try:
            return self._step(*batch)
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
            if self.steps or not self._compiled:
                raise
            # XLA cannot compile this step (an op without an XLA kernel): run it uncompiled.
            self._compiled = False
            self._step = tf.function(self._train_step, reduce_retracing=True)
            return self._step(*batch)

    def _train_step(self, *batch: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape, ExitStack() as sharing:
            for table in getattr(self, "_item_tables", []):
                sharing.enter_context(table.one_encoding())
            loss = self.loss_on(batch)
            scaled = self.optimizer.scale_loss(loss)
        variables = self.model.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(
            [(g, v) for g, v in zip(gradients, variables) if g is not None])
        return loss

    def epoch_dataset(self, rng: np.random.Generator) -> tuple[tf.data.Dataset, int]:
        """One epoch's training pipeline (freshly drawn examples shuffled with ``rng``, batched,
        ``batch_inputs`` mapped, prefetched) and its number of examples."""
        arrays = self.examples()
        order = rng.permutation(len(arrays[0]))
        dataset = (tf.data.Dataset.from_tensor_slices(tuple(a[order] for a in arrays))
                   .batch(self.batch_size)
                   .enumerate(start=self.steps)
                   .map(lambda number, batch: self._inputs(number, *batch),
                        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                   .prefetch(tf.data.AUTOTUNE))
        return dataset, len(order)

    def fit_epoch(self, until: float | None = None) -> float:
        """Train one epoch on freshly drawn, shuffled examples; return the mean batch loss.

        With ``until`` (a ``time.monotonic()`` value) the epoch ends early once that time has
        passed, after at least one batch: a part of an epoch, on a random sample of its
        examples (a cheap rung of the search)."""
        dataset, _ = self.epoch_dataset(self.rng)
        losses = []
        for batch in dataset:
            losses.append(self._run_step(batch))
            self.steps += 1
            if until is not None and time.monotonic() >= until:
                break
        return float(np.mean([float(loss) for loss in losses])) if losses else float("nan")

    def count_params(self) -> int:
        """Number of trainable parameters."""
        return int(sum(np.prod(w.shape) for w in self.model.trainable_weights))

    def get_weights(self) -> list[np.ndarray]:
        """A copy of the model's weights."""
        return [np.array(w) for w in self.model.get_weights()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Restore weights taken by :meth:`get_weights`."""
        self.model.set_weights(weights)

    def cells_per_user(self) -> int:
        """Size of the largest tensor scoring one user builds (the row of item scores)."""
        return self.data.n_items

    def user_batches(self, users: np.ndarray) -> list[np.ndarray]:
        """Split ``users`` into chunks whose scoring tensors stay within memory bounds."""
        size = max(1, SCORE_CELLS // max(self.cells_per_user(), 1))
        return [users[i:i + size] for i in range(0, len(users), size)]


def absent_offsets(item_counts: np.ndarray) -> tf.Tensor:
    """``[n_items]`` logit offsets that leave the items without interactions (``item_counts``
    0) out of a softmax or a ranking: -1e9 for them, 0 for the others."""
    return tf.constant(np.where(item_counts > 0, 0.0, -1e9).astype(np.float32))


def sparse_softmax_loss(logits: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """Mean full-softmax cross-entropy of integer targets (computed in float32)."""
    logits = tf.cast(logits, tf.float32)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(targets, tf.int32), logits=logits))
