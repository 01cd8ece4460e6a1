"""An ensemble of trained ranking models: each item's score is the mean, over the members, of
its log-probability under the member's softmax over the catalogue (the log of the members'
geometric mean probability).

Log-softmax puts every member on one scale per user whatever its logits' offset, so a member
with larger logits does not outvote the others. Items a member ranks last (items its stage
lacks, at -1e9) stay last in the ensemble.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Ensemble:
    """Members trained on the same stage, scored together (what evaluation and serving rank).

    Args:
        members: Trained models of the ranking task (families' stage models).
    """

    def __init__(self, members: list[Any]) -> None:
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two members")
        self.members = list(members)

    @property
    def needs_user(self) -> bool:
        """Whether a member's scores depend on a learned user embedding."""
        return any(member.needs_user for member in self.members)

    def score(self, users: np.ndarray) -> np.ndarray:
        """Scores of every item for each user, ``[len(users), n_items]``."""
        total = None
        for member in self.members:
            part = log_softmax(np.asarray(member.score(users), dtype=np.float32))
            total = part if total is None else total + part
        assert total is not None
        return total / len(self.members)

    def item_scores(self, users: Any, rows: Any) -> Any:
        """:meth:`score` as TensorFlow operations, for users whose histories are ``rows``."""
        import tensorflow as tf

        parts = [tf.nn.log_softmax(tf.cast(member.item_scores(users, rows), tf.float32))
                 for member in self.members]
        return tf.add_n(parts) / float(len(parts))


def log_softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of ``[users, items]`` scores."""
    top = scores.max(axis=1, keepdims=True)
    shifted = scores - top
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
