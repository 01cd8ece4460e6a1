"""The evaluation protocol (DESIGN section 4): id encoders, the train/validation/test split and
the exclude-seen policy.

With an order (timestamps or positions), each user's interactions are ordered by it; the last one
is the test interaction, the one before it the validation interaction, the rest train. Ties in
the order are broken by a seeded hash of the (user, item) pair: at random, but the same for the
same rows in any file order (breaking them by item id instead would hold out the highest ids,
which on logs whose ids were given in order of arrival are the newest, least popular items).
Without an order the same shape is drawn by the same seeded hash. Users with fewer than three interactions stay
in training only. Ids are encoded in sorted order, so item indices (and with them the tie-breaks
of every top-K list) do not depend on the file either.

With ``cold_items``, a seeded share of the items is held out with all their interactions but
the evaluation cases that have them as target (*cold* targets), so no model learns from them.
Half of these items are the validation's cold items: their validation cases stay, so the search
meets cold targets, and the model trained for the test knows them from those cases only. The
other half are the test's: only their test cases stay.

Whether items a user already has are excluded from the lists is decided from the training stage
alone: by how often a user's latest training interaction repeats an earlier one, the evidence
closest to what the held-out next interaction will do.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from automl_rec.data.features import Features, TableColumns, attribute_vectors, table_columns
from automl_rec.data.profiling import MIN_EVALUATION_HISTORY
from automl_rec.data.validation import Interactions
from automl_rec.errors import DataValidationError

Stage = Literal["train", "train_valid", "all"]
TEMPORAL = "temporal_leave_last_out"
RANDOM = "random_holdout"
TRAIN, VALID, TEST = 0, 1, 2
# Share of users whose latest training interaction repeats an item they already had, from which
# seen items stay recommendable. Excluding seen items caps the hit rate of the next interaction
# at one minus this share; below it, the list slots that repeats would take are worth more.
NEXT_REPEAT_SHARE = 0.2


@dataclass(frozen=True)
class IdEncoder:
    """Maps raw string ids to contiguous indices ``0..n-1``, in sorted id order (so that indices,
    and every tie broken by the lower index, do not depend on the order of the rows)."""

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
        codes, uniques = pd.factorize(values, sort=True)
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


class EncodedIds:
    """Sizes of a split that holds its id encoders as ``user_ids`` and ``item_ids``."""

    user_ids: IdEncoder
    item_ids: IdEncoder

    @property
    def n_users(self) -> int:
        """Number of distinct users."""
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        """Number of distinct items (the catalogue every model ranks)."""
        return len(self.item_ids)


@dataclass(frozen=True)
class StageData:
    """The interactions a model may learn from at one stage, ordered per user by time.

    Attributes:
        users: User index of each interaction, grouped by user (ascending).
        items: Item index of each interaction, in each user's time order.
        n_users: Size of the user vocabulary (every user of the data set).
        n_items: Size of the item catalogue (every item of the data set).
        item_attributes: Sparse attribute vectors of the items, one row per item index (from
            the item table; ``None`` without one).
        item_columns: The item table's used columns as raw text, one row per item index (what
            the Keras families' feature encoders read; ``None`` without one).
        vocabulary_items: Per item, whether its attribute values build the feature encoders'
            vocabularies: the items of the training stage, whatever the stage, so that a
            model trained on it and taken on to a later stage keeps its shapes.
    """

    users: np.ndarray
    items: np.ndarray
    n_users: int
    n_items: int
    item_attributes: sp.csr_matrix | None = field(default=None, repr=False, compare=False)
    item_columns: TableColumns | None = field(default=None, repr=False, compare=False)
    vocabulary_items: np.ndarray | None = field(default=None, repr=False, compare=False)

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
class Split(EncodedIds):
    """Interactions in (user, time) order, each assigned to train, validation or test.

    Attributes:
        protocol: ``temporal_leave_last_out`` or ``random_holdout``.
        user_ids: Encoder of raw user ids.
        item_ids: Encoder of raw item ids.
        users: User index of each interaction, sorted by user then time.
        items: Item index of each interaction.
        folds: 0 train, 1 validation, 2 test, per interaction.
        exclude_seen: Whether items already in a user's history are never recommended.
        seed: Seed of the random hold-out and of the tie-break in time.
        rows: Row of the source table behind each interaction.
        seen_policy: Why seen items are excluded or kept, with the evidence.
        item_attributes: Sparse attribute vectors of the items, one row per item index
            (:func:`with_features`; ``None`` without an item table).
        item_columns: The item table's used columns as raw text, one row per item index.
        user_columns: The user table's used columns as raw text, one row per user index.
        new_users: The user table's users the log never names: their raw ids and columns
            (served from their attributes); ``None`` when there are none.
        cold_items: The items held out with their interactions (``--cold-items``): ``share``,
            ``items``, ``dropped`` interactions and the ``seed``; empty when none were.
    """

    protocol: str
    user_ids: IdEncoder
    item_ids: IdEncoder
    users: np.ndarray
    items: np.ndarray
    folds: np.ndarray
    exclude_seen: bool
    seed: int = 0
    rows: np.ndarray | None = field(default=None, repr=False, compare=False)
    seen_policy: dict[str, object] = field(default_factory=dict, compare=False)
    item_attributes: sp.csr_matrix | None = field(default=None, repr=False, compare=False)
    item_columns: TableColumns | None = field(default=None, repr=False, compare=False)
    user_columns: TableColumns | None = field(default=None, repr=False, compare=False)
    new_users: tuple[np.ndarray, TableColumns] | None = field(default=None, repr=False,
                                                              compare=False)
    cold_items: dict[str, float] = field(default_factory=dict, compare=False)
    _stages: dict[str, StageData] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def vocabulary_items(self) -> np.ndarray:
        """Per item, whether the training stage has it (see ``StageData.vocabulary_items``)."""
        return np.bincount(self.items[self.folds == TRAIN], minlength=self.n_items) > 0

    def stage(self, stage: Stage) -> StageData:
        """Return the interactions of ``train``, ``train_valid`` or ``all`` (cached)."""
        if stage not in self._stages:
            limit = {"train": TRAIN, "train_valid": VALID, "all": TEST}[stage]
            keep = self.folds <= limit
            self._stages[stage] = StageData(self.users[keep], self.items[keep], self.n_users,
                                            self.n_items, self.item_attributes,
                                            self.item_columns, self.vocabulary_items)
        return self._stages[stage]

    def holdout(self, fold: Literal["valid", "test"]) -> Holdout:
        """Return the validation or test interactions with the history that precedes them."""
        code, history = (VALID, "train") if fold == "valid" else (TEST, "train_valid")
        keep = self.folds == code
        return Holdout(self.users[keep], self.items[keep], self.stage(history))


def split_interactions(
    data: Interactions,
    *,
    exclude_seen: bool | None = None,
    seed: int = 0,
    cold_items: float = 0.0,
    catalogue: pd.Series | np.ndarray | None = None,
) -> Split:
    """Split interactions by the protocol of DESIGN section 4.

    Args:
        data: Validated interactions (the positives of the ranking task).
        exclude_seen: Override of the seen-item policy; ``None`` decides from the training stage
            (:func:`seen_policy`).
        seed: Seed of the random hold-out (without an order) and of the tie-break in time.
        cold_items: Share of the log's items (``0 <= share < 1``, drawn with ``seed``) held
            out with all their interactions but the test and validation cases that have them
            as target.
        catalogue: Raw ids of every item that may be recommended (an item table's); those the
            log never names join the item encoder, without interactions.

    Returns:
        The split, with id encoders over every user and item of the data.

    Raises:
        DataValidationError: No user has enough interactions to be evaluated.
    """
    frame = data.frame
    user_ids, users = IdEncoder.fit_encode(frame["user"])
    item_ids, items = IdEncoder.fit_encode(frame["item"])
    in_log = len(item_ids)
    if catalogue is not None:
        known = pd.Index(item_ids.ids)
        extra = pd.Index(pd.unique(np.asarray(catalogue, dtype=object))).difference(known)
        if len(extra):
            item_ids = IdEncoder(np.asarray(known.append(extra).sort_values(), dtype=object))
            items = item_ids.encode(np.asarray(known, dtype=object))[items]  # old -> new index
    position = np.arange(len(frame))
    # A seeded hash of each (user, item) pair: random, yet the same whatever the row order.
    noise = pair_hash(users, items, len(item_ids), seed)
    if data.has_time:
        protocol = TEMPORAL
        order = np.lexsort((position, items, noise, frame["time"].to_numpy(), users))
    else:
        protocol = RANDOM
        order = np.lexsort((position, items, noise, users))
    users, items = users[order], items[order]
    rank_from_end = _rank_from_end(users, len(user_ids))
    held_out: dict[str, float] = {}
    if cold_items:
        named = np.unique(items)  # the items of the log (not those only in the catalogue)
        n_cold = int(round(cold_items * in_log))
        drawn = np.random.default_rng(seed).choice(named, n_cold, replace=False)
        cold = np.zeros(len(item_ids), dtype=bool)
        cold[drawn] = True
        # The first half of the drawn items are cold for the search's model (validation
        # targets), the others for the test's.
        for_validation = np.zeros(len(item_ids), dtype=bool)
        for_validation[drawn[:n_cold // 2]] = True
        keep = ~cold[items] | (rank_from_end == 0) | (
            (rank_from_end == 1) & for_validation[items])
        held_out = {"share": float(cold_items), "items": n_cold,
                    "validation_items": n_cold // 2, "test_items": n_cold - n_cold // 2,
                    "dropped": int((~keep).sum()), "seed": seed}
        users, items, order = users[keep], items[keep], order[keep]
        rank_from_end = _rank_from_end(users, len(user_ids))
    counts = np.bincount(users, minlength=len(user_ids))
    evaluated = counts[users] >= MIN_EVALUATION_HISTORY
    folds = np.full(len(users), TRAIN, dtype=np.int8)
    folds[evaluated & (rank_from_end == 1)] = VALID
    folds[evaluated & (rank_from_end == 0)] = TEST
    if not (folds == TEST).any():
        raise DataValidationError(
            f"No user of '{data.source}' has {MIN_EVALUATION_HISTORY} or more interactions, so "
            "nothing can be held out for evaluation; give a longer interaction log."
        )
    if cold_items:  # what is left of them in training (users too short to evaluate) goes
        keep = ~cold[items] | (folds == TEST) | ((folds == VALID) & for_validation[items])
        held_out["dropped"] += int((~keep).sum())
        users, items, order, folds = users[keep], items[keep], order[keep], folds[keep]
    users, items = users.astype(np.int64), items.astype(np.int64)
    train = folds == TRAIN
    policy = seen_policy(users[train], items[train], len(item_ids), override=exclude_seen)
    return Split(protocol, user_ids, item_ids, users, items, folds,
                 bool(policy["exclude_seen"]), seed, order, policy, cold_items=held_out)


def _rank_from_end(users: np.ndarray, n_users: int) -> np.ndarray:
    """Each interaction's place from its user's latest (0), ``users`` grouped in order."""
    counts = np.bincount(users, minlength=n_users)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return counts[users] - 1 - (np.arange(len(users)) - starts[users])


def with_features(split: Split, features: Features) -> Split:
    """The split with what the item and user tables say of its items and users, in index
    order: the items' sparse attribute vectors (the content baseline's; an empty matrix, no
    used column, counts as none) and the raw columns of both tables (the Keras families')."""
    attributes = item_columns = user_columns = new_users = None
    if features.items is not None:
        item_ids = split.item_ids.decode(np.arange(split.n_items))
        attributes = attribute_vectors(features.items, item_ids)
        if attributes.shape[1] == 0 or attributes.nnz == 0:
            attributes = None
        item_columns = table_columns(features.items, item_ids)
    if features.users is not None:
        user_columns = table_columns(features.users, split.user_ids.decode(
            np.arange(split.n_users)))
        unseen = features.users.ids[~features.users.ids.isin(split.user_ids.ids.astype(str))]
        if user_columns is not None and len(unseen):
            ids = unseen.to_numpy(dtype=str)
            new_users = (ids, table_columns(features.users, ids))
    return replace(split, item_attributes=attributes, item_columns=item_columns,
                   user_columns=user_columns, new_users=new_users, _stages={})


def pair_hash(users: np.ndarray, items: np.ndarray, n_items: int, seed: int) -> np.ndarray:
    """A 64-bit pseudo-random key per (user, item) pair (a SplitMix64 finaliser of the pair's
    index, offset by the seed): equal pairs get equal keys, whatever their row."""
    key = users.astype(np.uint64) * np.uint64(n_items) + items.astype(np.uint64)
    key = key + np.uint64((seed * 0x9E3779B97F4A7C15) % 2**64)
    key ^= key >> np.uint64(30)
    key *= np.uint64(0xBF58476D1CE4E5B9)
    key ^= key >> np.uint64(27)
    key *= np.uint64(0x94D049BB133111EB)
    key ^= key >> np.uint64(31)
    return key


def seen_policy(users: np.ndarray, items: np.ndarray, n_items: int, *,
                override: bool | None = None) -> dict[str, object]:
    """Decide whether seen items are excluded, from training interactions in (user, order) order.

    The evidence is the share of users (with two or more training interactions) whose latest
    training interaction repeats an item they already had: what the next, held-out interaction
    is likely to do. At :data:`NEXT_REPEAT_SHARE` or more, seen items stay recommendable.

    Args:
        users: User index of each training interaction, grouped by user.
        items: Item index of each, in each user's order.
        n_items: Catalogue size.
        override: The user's choice, which wins over the evidence.

    Returns:
        ``exclude_seen``, ``next_repeat_share``, ``users_measured`` and a one-line ``reason``.
    """
    share, measured = next_repeat_share(users, items, n_items)
    if override is not None:
        exclude, reason = bool(override), "set by the user"
    else:
        exclude = share < NEXT_REPEAT_SHARE
        verb = "excluded" if exclude else "kept recommendable"
        side = "below" if exclude else "at or above"
        reason = (f"seen items {verb}: {share:.1%} of users' latest training interactions repeat "
                  f"an item they had before ({side} {NEXT_REPEAT_SHARE:.0%})")
    return {"exclude_seen": exclude, "next_repeat_share": share, "users_measured": measured,
            "reason": reason}


def next_repeat_share(users: np.ndarray, items: np.ndarray, n_items: int) -> tuple[float, int]:
    """Share of users whose last interaction repeats an earlier item of theirs, and how many users
    have the two or more interactions that the share is measured on."""
    if len(users) == 0:
        return 0.0, 0
    keys = users * np.int64(n_items) + items
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    repeat = first[inverse] != np.arange(len(keys))
    last = np.flatnonzero(np.r_[users[1:] != users[:-1], True])
    start = np.r_[0, last[:-1] + 1]
    measured = (last - start) >= 1
    if not measured.any():
        return 0.0, 0
    return float(repeat[last[measured]].mean()), int(measured.sum())


def training_interactions(data: Interactions, split: Split) -> Interactions:
    """The rows of ``data`` in the training stage of ``split``, in file order (for the profile
    whose figures drive the search's decisions)."""
    if split.rows is None:
        raise ValueError("the split does not know its source rows")
    rows = np.sort(split.rows[split.folds == TRAIN])
    frame = data.frame.iloc[rows].reset_index(drop=True)
    return replace(data, frame=frame, warnings=[], n_missing=0, n_duplicates=0)
