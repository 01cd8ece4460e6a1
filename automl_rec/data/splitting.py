"""The evaluation protocol (DESIGN section 4): id encoders and the train/validation/test split.

With timestamps, each user's interactions are ordered by time (ties keep file order); the last one
is the test interaction, the one before it the validation interaction, the rest train. Without
timestamps the same shape is drawn at random per user, seeded. Users with fewer than three
interactions stay in training only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from automl_rec.data.profiling import MIN_EVALUATION_HISTORY, DataProfile
from automl_rec.data.validation import Interactions
from automl_rec.errors import DataValidationError

Stage = Literal["train", "train_valid", "all"]
TEMPORAL = "temporal_leave_last_out"
RANDOM = "random_holdout"
TRAIN, VALID, TEST = 0, 1, 2


@dataclass(frozen=True)
class IdEncoder:
    """Maps raw string ids to contiguous indices ``0..n-1`` (in order of first appearance)."""

    ids: np.ndarray

    @classmethod
    def fit(cls, raw: pd.Series | np.ndarray) -> IdEncoder:
        """Build an encoder over the distinct values of ``raw``."""
        return cls.fit_encode(raw)[0]

    @classmethod
    def fit_encode(cls, raw: pd.Series | np.ndarray) -> tuple[IdEncoder, np.ndarray]:
        """Build an encoder over the distinct values of ``raw`` and return each value's index.

        A Series is factorised as it is (Arrow-backed text by Arrow's hash table), not as
        Python objects; only the distinct ids become Python strings.
        """
        values = raw if isinstance(raw, pd.Series) else np.asarray(raw, dtype=object)
        codes, uniques = pd.factorize(values)
        return cls(np.asarray(uniques, dtype=object)), codes.astype(np.int64, copy=False)

    @cached_property
    def _index(self) -> pd.Index:
        return pd.Index(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def encode(self, raw: pd.Series | np.ndarray | list[str]) -> np.ndarray:
        """Return the index of each raw id, ``-1`` for ids the encoder has never seen."""
        return self._index.get_indexer(np.asarray(raw, dtype=object)).astype(np.int64)

    def decode(self, index: np.ndarray) -> np.ndarray:
        """Return the raw id of each index."""
        return self.ids[np.asarray(index)]


@dataclass(frozen=True)
class StageData:
    """The interactions a model may learn from at one stage, ordered per user by time.

    Attributes:
        users: User index of each interaction, grouped by user (ascending).
        items: Item index of each interaction, in each user's time order.
        n_users: Size of the user vocabulary (every user of the data set).
        n_items: Size of the item catalogue (every item of the data set).
    """

    users: np.ndarray
    items: np.ndarray
    n_users: int
    n_items: int

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """Binary user x item matrix (float32) of the stage's interactions."""
        data = np.ones(len(self.users), dtype=np.float32)
        matrix = sp.csr_matrix((data, (self.users, self.items)),
                               shape=(self.n_users, self.n_items), dtype=np.float32)
        matrix.data[:] = 1.0
        return matrix

    @cached_property
    def offsets(self) -> np.ndarray:
        """Start of each user's interactions in ``users``/``items`` (length ``n_users + 1``)."""
        return np.searchsorted(self.users, np.arange(self.n_users + 1))

    @cached_property
    def item_counts(self) -> np.ndarray:
        """Number of interactions per item."""
        return np.bincount(self.items, minlength=self.n_items)


@dataclass(frozen=True)
class Holdout:
    """One held-out interaction per evaluated user, with what the user had before it.

    Attributes:
        users: Evaluated user indices.
        targets: The held-out item of each evaluated user.
        history: The stage data whose items count as already seen for each user.
    """

    users: np.ndarray
    targets: np.ndarray
    history: StageData


@dataclass(frozen=True)
class Split:
    """Interactions in (user, time) order, each assigned to train, validation or test.

    Attributes:
        protocol: ``temporal_leave_last_out`` or ``random_holdout``.
        user_ids: Encoder of raw user ids.
        item_ids: Encoder of raw item ids.
        users: User index of each interaction, sorted by user then time.
        items: Item index of each interaction.
        folds: 0 train, 1 validation, 2 test, per interaction.
        exclude_seen: Whether items already in a user's history are never recommended.
        seed: Seed of the random hold-out (unused by the temporal protocol).
    """

    protocol: str
    user_ids: IdEncoder
    item_ids: IdEncoder
    users: np.ndarray
    items: np.ndarray
    folds: np.ndarray
    exclude_seen: bool
    seed: int = 0
    _stages: dict[str, StageData] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_users(self) -> int:
        """Number of distinct users."""
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        """Number of distinct items (the catalogue every model ranks)."""
        return len(self.item_ids)

    def stage(self, stage: Stage) -> StageData:
        """Return the interactions of ``train``, ``train_valid`` or ``all`` (cached)."""
        if stage not in self._stages:
            limit = {"train": TRAIN, "train_valid": VALID, "all": TEST}[stage]
            keep = self.folds <= limit
            self._stages[stage] = StageData(self.users[keep], self.items[keep], self.n_users,
                                            self.n_items)
        return self._stages[stage]

    def holdout(self, fold: Literal["valid", "test"]) -> Holdout:
        """Return the validation or test interactions with the history that precedes them."""
        code, history = (VALID, "train") if fold == "valid" else (TEST, "train_valid")
        keep = self.folds == code
        return Holdout(self.users[keep], self.items[keep], self.stage(history))


def split_interactions(
    data: Interactions,
    profile: DataProfile,
    *,
    exclude_seen: bool | None = None,
    seed: int = 0,
) -> Split:
    """Split interactions by the protocol of DESIGN section 4.

    Args:
        data: Validated interactions.
        profile: Their profile (decides the exclude-seen policy from the repeat rate).
        exclude_seen: Override of the policy; ``None`` chooses from the profile.
        seed: Seed of the random hold-out used when there are no timestamps.

    Returns:
        The split, with id encoders over every user and item of the data.

    Raises:
        DataValidationError: No user has enough interactions to be evaluated.
    """
    frame = data.frame
    user_ids, users = IdEncoder.fit_encode(frame["user"])
    item_ids, items = IdEncoder.fit_encode(frame["item"])
    position = np.arange(len(frame))
    if data.has_time:
        protocol = TEMPORAL
        order = np.lexsort((position, frame["time"].to_numpy(), users))
    else:
        protocol = RANDOM
        noise = np.random.default_rng(seed).random(len(frame))
        order = np.lexsort((noise, users))
    users, items = users[order], items[order]
    counts = np.bincount(users, minlength=len(user_ids))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank_from_end = counts[users] - 1 - (np.arange(len(users)) - starts[users])
    evaluated = counts[users] >= MIN_EVALUATION_HISTORY
    folds = np.full(len(users), TRAIN, dtype=np.int8)
    folds[evaluated & (rank_from_end == 1)] = VALID
    folds[evaluated & (rank_from_end == 0)] = TEST
    if not (folds == TEST).any():
        raise DataValidationError(
            f"No user of '{data.source}' has {MIN_EVALUATION_HISTORY} or more interactions, so "
            "nothing can be held out for evaluation; give a longer interaction log."
        )
    if exclude_seen is None:
        exclude_seen = not profile.strong_repeats
    return Split(protocol, user_ids, item_ids, users.astype(np.int64), items.astype(np.int64),
                 folds, bool(exclude_seen), seed)
