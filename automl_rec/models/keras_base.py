"""What every Keras family shares: seeding, the epoch loop's input pipeline, weights, scoring.

A family subclasses :class:`KerasRecommender` and provides the network (``build``), the loss,
one epoch's training examples (``examples``) and the scores of all items for a batch of users
(``score``). The trial runner only calls ``fit_epoch``, ``score`` and the weight accessors.
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
        self.model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=float(params["learning_rate"])),
            loss=self.loss(),
        )

    def build(self) -> keras.Model:
        """The network to train."""
        raise NotImplementedError

    def loss(self) -> keras.losses.Loss:
        """The training loss."""
        raise NotImplementedError

    def examples(self) -> tuple[tuple[np.ndarray, ...] | np.ndarray, np.ndarray]:
        """Inputs and targets of one epoch (families that sample negatives resample here)."""
        raise NotImplementedError

    def score(self, users: np.ndarray) -> np.ndarray:
        """Scores of every item for each user, ``[len(users), n_items]``."""
        raise NotImplementedError

    @property
    def batch_size(self) -> int:
        """Training batch size."""
        return int(self.params["batch_size"])

    def fit_epoch(self) -> float:
        """Train one epoch on freshly drawn, shuffled examples; return the mean loss."""
        inputs, targets = self.examples()
        order = self.rng.permutation(len(targets))
        if isinstance(inputs, tuple):
            inputs = tuple(x[order] for x in inputs)
        else:
            inputs = inputs[order]
        dataset = (tf.data.Dataset.from_tensor_slices((inputs, targets[order]))
                   .batch(self.batch_size)
                   .prefetch(tf.data.AUTOTUNE))
        history = self.model.fit(dataset, epochs=1, verbose=0, shuffle=False)
        return float(history.history["loss"][-1])

    def count_params(self) -> int:
        """Number of trainable parameters."""
        return int(sum(np.prod(w.shape) for w in self.model.trainable_weights))

    def get_weights(self) -> list[np.ndarray]:
        """A copy of the model's weights."""
        return [np.array(w) for w in self.model.get_weights()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Restore weights taken by :meth:`get_weights`."""
        self.model.set_weights(weights)

    def user_batches(self, users: np.ndarray) -> list[np.ndarray]:
        """Split ``users`` into chunks whose score matrices stay within memory bounds."""
        size = max(1, SCORE_CELLS // max(self.data.n_items, 1))
        return [users[i:i + size] for i in range(0, len(users), size)]
