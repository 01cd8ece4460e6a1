"""An ensemble of trained ranking models: each item's score is the mean, over the members that
rank it, of its log-probability under the member's softmax over the catalogue (the log of those
members' geometric mean probability).

Log-softmax puts every member on one scale per user whatever its logits' offset, so a member
with larger logits does not outvote the others. A member ranks an item on its merits when it
scores it from the item's interactions or attributes (:attr:`scored_items`); an item a member
puts last (one its stage lacks, at -1e9, in a member that reads ids only) is judged by the
other members alone, and an item no member ranks stays last.

An ensemble that mixes members reading the item table with members reading ids only thus ranks
its *cold* items (those only the attribute members rank) by those members' scores, a different
mean than its known items'. As in a single feature model
(:mod:`automl_rec.evaluation.cold_offset`), one offset added to the cold items' scores, set on
validation, decides how many list slots they fill.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ABSENT = -1e9  # the score of an item no member ranks


class Ensemble:
    """Members trained on the same stage, scored together (what evaluation and serving rank).

    Args:
        members: Trained models of the ranking task (families' stage models).
    """

    def __init__(self, members: list[Any]) -> None:
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two members")
        import tensorflow as tf

        self.members = list(members)
        self.known = scored_by(self.members)
        self._cold = partly_ranked(self.known)
        # Chosen on validation (automl_rec.tuning.objective), as a feature model's.
        self.cold_offset = tf.Variable(0.0, trainable=False, name="ensemble_cold_offset")

    @property
    def needs_user(self) -> bool:
        """Whether a member's scores depend on a learned user embedding."""
        return any(member.needs_user for member in self.members)

    @property
    def cold_items(self) -> np.ndarray | None:
        """Per item, whether only some members rank it (the attribute members' cold items,
        among members reading ids only); ``None`` when every member ranks the same items."""
        return self._cold

    @property
    def scored_items(self) -> np.ndarray:
        """Per item, whether some member ranks it."""
        return self.known.any(axis=0)

    def serving_variables(self) -> list[Any]:
        """What the scores read besides the members' (the cold-item offset)."""
        return [self.cold_offset]

    def score(self, users: np.ndarray) -> np.ndarray:
        """Scores of every item for each user, ``[len(users), n_items]``."""
        parts = [log_softmax(np.asarray(member.score(users), dtype=np.float32))
                 for member in self.members]
        blended = blend(parts, self.known)
        if self._cold is not None:
            blended = blended + float(self.cold_offset.numpy()) * self._cold[None, :]
        return blended

    def item_scores(self, users: Any, rows: Any) -> Any:
        """:meth:`score` as TensorFlow operations, for users whose histories are ``rows``."""
        import tensorflow as tf

        known = tf.constant(self.known.astype(np.float32))
        counts = tf.reduce_sum(known, axis=0)
        total = tf.add_n([
            tf.nn.log_softmax(tf.cast(member.item_scores(users, rows), tf.float32))
            * known[i][None, :] for i, member in enumerate(self.members)])
        blended = tf.where(counts[None, :] > 0, total / tf.maximum(counts, 1.0)[None, :],
                           tf.constant(ABSENT, tf.float32))
        if self._cold is not None:
            cold = tf.constant(self._cold.astype(np.float32))
            blended = blended + self.cold_offset * cold[None, :]
        return blended


def scored_by(members: list[Any]) -> np.ndarray:
    """``[members, items]``: which items each member ranks on their merits."""
    return np.stack([np.asarray(m.scored_items, dtype=bool) for m in members])


def partly_ranked(known: np.ndarray) -> np.ndarray | None:
    """Per item, whether some but not all of the members (``known``: ``[members, items]``)
    rank it: an ensemble's cold items; ``None`` when there is none."""
    counts = known.sum(axis=0)
    mixed = (counts > 0) & (counts < len(known))
    return mixed if mixed.any() else None


def blend(parts: list[np.ndarray], known: np.ndarray) -> np.ndarray:
    """The mean of members' ``[users, items]`` log-softmax scores ``parts`` over the members
    that rank each item (``known``: ``[members, items]``); ``ABSENT`` where none does."""
    total = sum(np.where(known[i][None, :], part, 0.0) for i, part in enumerate(parts))
    counts = known.sum(axis=0)
    return np.where(counts[None, :] > 0, total / np.maximum(counts, 1)[None, :],
                    np.float32(ABSENT)).astype(np.float32)


def log_softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of ``[users, items]`` scores."""
    top = scores.max(axis=1, keepdims=True)
    shifted = scores - top
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
