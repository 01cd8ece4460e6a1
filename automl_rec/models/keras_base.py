"""What every Keras family shares: seeding, the training loop, weights, batched scoring.

A family subclasses :class:`KerasRecommender` and provides the network (``build``), one epoch's
training examples as arrays (``examples``), the training loss of one batch (``loss_on``) and the
scores of all items for a batch of users (``score``). Training runs a compiled TensorFlow step
over a ``tf.data`` pipeline, so that losses with masks, KL annealing or sampled softmax fit the
same loop. The trial runner only calls ``fit_epoch``, ``score`` and the weight accessors.
"""

from __future__ import annotations

from typing import Any

from automl_rec.models import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from automl_rec.data.splitting import StageData  # noqa: E402

# Scores are computed for at most this many (user, item) cells at a time.
SCORE_CELLS = 4_000_000


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and TensorFlow, and make TensorFlow's kernels deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def free_memory() -> None:
    """Drop the graphs and layers of finished trials so that long searches do not grow."""
    keras.backend.clear_session()


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
        self.rng = np.random.default_rng(seed)
        self.model = self.build()
        self.optimizer = keras.optimizers.Adam(learning_rate=float(params["learning_rate"]))
        self.optimizer.build(self.model.trainable_variables)
        self.steps = 0
        self._step = tf.function(self._train_step, reduce_retracing=True)

    def build(self) -> keras.Model:
        """The network to train."""
        raise NotImplementedError

    def examples(self) -> tuple[np.ndarray, ...]:
        """Arrays of one epoch's examples, sharing their first dimension (families that sample
        negatives or masks draw them here, afresh each epoch)."""
        raise NotImplementedError

    def loss_on(self, batch: tuple[tf.Tensor, ...]) -> tf.Tensor:
        """Mean training loss of one batch (called under a gradient tape, ``training=True``)."""
        raise NotImplementedError

    def score(self, users: np.ndarray) -> np.ndarray:
        """Scores of every item for each user, ``[len(users), n_items]``."""
        raise NotImplementedError

    @property
    def batch_size(self) -> int:
        """Training batch size."""
        return int(self.params["batch_size"])

    def _train_step(self, *batch: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = self.loss_on(batch)
        variables = self.model.trainable_variables
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(
            [(g, v) for g, v in zip(gradients, variables) if g is not None])
        return loss

    def fit_epoch(self) -> float:
        """Train one epoch on freshly drawn, shuffled examples; return the mean batch loss."""
        arrays = self.examples()
        order = self.rng.permutation(len(arrays[0]))
        dataset = (tf.data.Dataset.from_tensor_slices(tuple(a[order] for a in arrays))
                   .batch(self.batch_size)
                   .prefetch(tf.data.AUTOTUNE))
        losses = []
        for batch in dataset:
            losses.append(self._step(*batch))
            self.steps += 1
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

    def user_batches(self, users: np.ndarray, cells_per_user: int | None = None
                     ) -> list[np.ndarray]:
        """Split ``users`` into chunks whose score matrices stay within memory bounds."""
        size = max(1, SCORE_CELLS // max(cells_per_user or self.data.n_items, 1))
        return [users[i:i + size] for i in range(0, len(users), size)]

    def predict(self, inputs: np.ndarray | tuple[np.ndarray, ...], users: int) -> np.ndarray:
        """Run ``self.model`` in inference mode over ``users`` rows of ``inputs``, in chunks."""
        out = []
        for chunk in self.user_batches(np.arange(users)):
            if isinstance(inputs, tuple):
                piece: Any = tuple(x[chunk] for x in inputs)
            else:
                piece = inputs[chunk]
            out.append(np.asarray(self.model(piece, training=False)))
        return np.concatenate(out, axis=0) if out else np.zeros((0, self.data.n_items))


def sparse_softmax_loss(logits: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """Mean full-softmax cross-entropy of integer targets (computed in float32)."""
    logits = tf.cast(logits, tf.float32)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(targets, tf.int32), logits=logits))
