"""The pointwise tasks' examples and split (DESIGN 4 and 10): every row, split globally.

Click and rating prediction learn from every row of the log, not only from positives: a click
log's 0 rows are exposures without a click, a rating log's rows are the ratings. The split is
global in time: the last ``TEST_SHARE`` of the rows by timestamp are the test rows, the
``VALID_SHARE`` before them the validation rows, the rest training rows, so that no model learns
from the future of what it is judged on. Rows with the same timestamp keep their file order.
Without timestamps the rows are assigned at random (seeded). The published figures move with
this choice (on MovieLens-1M as click prediction, AUC about 0.78 under a global time split and
about 0.90 under a random one), so every figure names its split.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd

from automl_rec.data.features import (CodedColumn, ContextCoder, Features, attribute_codes,
                                      context_schema)
from automl_rec.data.loading import CONTEXT_PREFIX, context_columns
from automl_rec.data.splitting import TEST, TRAIN, VALID, EncodedIds, IdEncoder
from automl_rec.data.validation import Interactions
from automl_rec.errors import DataValidationError
from automl_rec.tasks import CTR, RATING

GLOBAL_TEMPORAL = "global_temporal"
RANDOM_ROWS = "random_rows"
VALID_SHARE = 0.1
TEST_SHARE = 0.1
# Fewest rows in each fold of a pointwise split.
MIN_FOLD_ROWS = 10


@dataclass(frozen=True)
class RowFold:
    """The examples of one fold: row indices into the log's users and items, labels, and (for
    the designs that read it) each row's history before it.

    Attributes:
        users: User index per row.
        items: Item index per row.
        labels: Label per row.
        histories: ``[rows, length]`` item ids (item + 1, left-padded with 0, most recent last)
            of the user's history before each row (:func:`histories_before`), or ``None``.
        history_labels: The label of each history item's row (its rating; 1 for a click), 0
            for padding, or ``None``.
        context: Each context column's ``[rows, width]`` codes (:attr:`RowFields.context`;
            empty without context columns).
        activity: With ``histories``, ``[rows, 2]``: how many rows of the user came before
            each row (every row, a click log's exposures without a click too) and the sum of
            their labels (:func:`activity_before`), so that a user's click rate or rating
            level is known from the rows so far, or ``None``.
    """

    users: np.ndarray
    items: np.ndarray
    labels: np.ndarray
    histories: np.ndarray | None = None
    history_labels: np.ndarray | None = None
    context: tuple[np.ndarray, ...] = ()
    activity: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class RowFields:
    """What the item and user tables say of a split's items and users, and what the log's
    context columns say of each row: each used column as codes
    (:class:`~automl_rec.data.features.CodedColumn`).

    Attributes:
        items: The item table's columns, rows in item index order.
        users: The user table's columns, rows in user index order.
        context: The context columns, rows in the split's row order (time order).
        coders: How raw values of each context column become its codes (fitted on the
            training rows), for rows to come and for the serving graph.
    """

    items: tuple[CodedColumn, ...] = ()
    users: tuple[CodedColumn, ...] = ()
    context: tuple[CodedColumn, ...] = ()
    coders: tuple[ContextCoder, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.items or self.users or self.context)

    @property
    def columns(self) -> tuple[CodedColumn, ...]:
        """Every column: the items', the users', then the context's."""
        return self.items + self.users + self.context

    def of_rows(self, rows: RowFold) -> list[np.ndarray]:
        """Each column's codes for a fold's rows, in :attr:`columns` order; an index outside
        the split (an unknown id) gets no codes, nor does a fold without context codes."""
        context = list(rows.context) or [np.zeros((len(rows), c.width), np.int32)
                                          for c in self.context]
        return ([padded_rows(c.codes, rows.items) for c in self.items]
                + [padded_rows(c.codes, rows.users) for c in self.users] + context)


def padded_rows(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``table[ids]`` with a row of zeros for ids outside the table."""
    ids = np.asarray(ids, dtype=np.int64)
    known = (ids >= 0) & (ids < len(table))
    return np.where(known[:, None], table[np.where(known, ids, 0)], 0)


def row_fields(features: Features, user_ids: IdEncoder, item_ids: IdEncoder) -> RowFields:
    """The codes of the item and user tables for the encoded ids (none without a table)."""
    items = (attribute_codes(features.items, item_ids.ids.astype(str))
             if features.items is not None else ())
    users = (attribute_codes(features.users, user_ids.ids.astype(str))
             if features.users is not None else ())
    return RowFields(items, users)


@dataclass(frozen=True)
class RowSplit(EncodedIds):
    """Every example of a pointwise task, with its fold.

    Attributes:
        task: ``ctr`` or ``rating``.
        protocol: ``global_temporal`` or ``random_rows``.
        user_ids: Raw user ids by index.
        item_ids: Raw item ids by index.
        users: User index per row.
        items: Item index per row.
        labels: Per row, the 0/1 label (``ctr``) or the rating (``rating``), float32.
        folds: Per row, ``TRAIN``, ``VALID`` or ``TEST``.
        fields: The item and user tables' codes (:func:`with_fields`; empty without tables)
            and the context columns' codes.
        context_values: The rows' raw values of the coded context columns, in row order
            (``None`` without any).
    """

    task: str
    protocol: str
    user_ids: IdEncoder
    item_ids: IdEncoder
    users: np.ndarray
    items: np.ndarray
    labels: np.ndarray
    folds: np.ndarray
    fields: RowFields = RowFields()
    # The raw values of the rows' coded context columns (by the columns' names in the log).
    context_values: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    # Every row's history of each length asked for, with its labels (computed once a length
    # and fold left out).
    _histories: dict[tuple[int, int | None], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, compare=False, repr=False)

    @property
    def ordered(self) -> bool:
        """Whether the rows are in time order (so that a row's history is what came before)."""
        return self.protocol == GLOBAL_TEMPORAL

    def fold(self, fold: int, history: int = 0, known: tuple[int, ...] | None = None
             ) -> RowFold:
        """The rows of ``VALID`` or ``TEST`` (or ``TRAIN``) as a model is judged on them, in
        time order, with the ``history`` latest items of each row's history (none for 0, or
        without an order): the user's rows before it, those of its own fold included, as the
        exported ``predict_with_recent`` serves a request given the user's rows since the fit.
        ``known``: the folds a model learnt from; items without a row there are left out of
        the histories, as the serving graph leaves out an id it has no row of."""
        return self.rows((fold,), history, known)

    def rows(self, folds: tuple[int, ...], history: int = 0,
             known: tuple[int, ...] | None = None) -> RowFold:
        """The rows of several folds together (a stage that a model learns from: train +
        validation...), in time order, each with the ``history`` latest items of the user's
        rows before it (of items with a row in the folds ``known``, or of every item)."""
        rows = np.isin(self.folds, folds)
        histories = labels = activity = None
        if history and self.ordered:
            key = (history, known)
            if key not in self._histories:
                self._histories[key] = histories_before(
                    self.users, self.items, self.history_rows & self.items_known(known),
                    history, self.labels)
            histories, all_labels = self._histories[key]
            histories, labels = histories[rows], all_labels[rows]
            activity = self.activity[rows]
        return RowFold(self.users[rows], self.items[rows], self.labels[rows], histories,
                       labels, tuple(c.codes[rows] for c in self.fields.context), activity)

    @cached_property
    def activity(self) -> np.ndarray:
        """Every row's :func:`activity_before` (rows in time order)."""
        return activity_before(self.users, self.labels)

    def items_known(self, folds: tuple[int, ...] | None) -> np.ndarray:
        """Per row, whether its item has a row in ``folds`` (every row for ``None``)."""
        if folds is None:
            return np.ones(len(self.items), bool)
        seen = np.bincount(self.items[np.isin(self.folds, folds)], minlength=self.n_items) > 0
        return seen[self.items]

    def typical_context(self) -> tuple[np.ndarray, ...]:
        """Each context column's most frequent codes among the training rows (``[1, width]``):
        the context a request without one is served in."""
        train = self.folds == TRAIN
        out = []
        for column in self.fields.context:
            values, counts = np.unique(column.codes[train], axis=0, return_counts=True)
            out.append(values[np.argmax(counts)][None, :].astype(np.int32))
        return tuple(out)

    def latest_histories(self, length: int, folds: tuple[int, ...] | None = None
                         ) -> tuple[np.ndarray, np.ndarray]:
        """Each user's ``length`` latest items over the rows of ``folds`` (every row by
        default: what a request is served with), ``[n_users, length]`` as
        :func:`histories_before` writes them, with their rows' labels."""
        n = len(self.users)
        users = np.r_[self.users, np.arange(self.n_users)]
        items = np.r_[self.items, np.zeros(self.n_users, self.items.dtype)]
        rows = self.history_rows if folds is None else (
            self.history_rows & np.isin(self.folds, folds))
        kept = np.r_[rows, np.zeros(self.n_users, bool)]
        values = np.r_[self.labels, np.zeros(self.n_users, np.float32)]
        ids, labels = histories_before(users, items, kept, length, values)
        return ids[n:], labels[n:]

    def latest_activity(self, folds: tuple[int, ...] | None = None) -> np.ndarray:
        """Each user's count of rows in ``folds`` (every row by default) and the sum of their
        labels, ``[n_users, 2]`` (what :func:`activity_before` gives a row after them)."""
        rows = np.ones(len(self.users), bool) if folds is None else np.isin(self.folds, folds)
        return np.stack([np.bincount(self.users[rows], minlength=self.n_users),
                         np.bincount(self.users[rows], self.labels[rows],
                                     minlength=self.n_users)], axis=1).astype(np.float32)

    def served(self, users: np.ndarray, items: np.ndarray, length: int) -> RowFold:
        """(user, item) rows as ``serving_default`` serves them: with each user's ``length``
        latest items of the whole log (:meth:`latest_histories`) and the training rows'
        typical context (:meth:`typical_context`); labels 0."""
        users, items = np.asarray(users), np.asarray(items)
        histories = labels = activity = None
        if length:
            latest, latest_labels = self.latest_histories(length)
            histories, labels = latest[users], latest_labels[users]
            activity = self.latest_activity()[users]
        codes = tuple(np.repeat(c, len(users), axis=0) for c in self.typical_context())
        return RowFold(users, items, np.zeros(len(users), np.float32), histories, labels,
                       codes, activity)

    @property
    def history_rows(self) -> np.ndarray:
        """Which rows enter the item histories (and are left out of a user's lists): the clicks
        (``ctr``: what a user showed interest in), every rating (``rating``)."""
        return self.labels > 0.5 if self.task == CTR else np.ones(len(self.labels), bool)

    def describe(self) -> dict[str, object]:
        """The split as the profile and the report state it."""
        counts = {name: int((self.folds == code).sum())
                  for name, code in (("train", TRAIN), ("valid", VALID), ("test", TEST))}
        return {"task": self.task, "protocol": self.protocol, "rows": counts,
                "valid_share": VALID_SHARE, "test_share": TEST_SHARE}


def task_rows(data: Interactions, task: str) -> pd.DataFrame:
    """Every row of a log with the task's label: ``ctr``: 1 for the positives, 0 for the
    other rows (a binary label's 0 rows, ratings below a ``--positive`` rule); ``rating``: the
    rating. Columns ``user``, ``item``, ``label`` and, where present, ``time``."""
    parts = [data.frame.assign(label=1.0)]
    if data.negatives is not None and len(data.negatives):
        parts.append(data.negatives.assign(label=0.0))
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    if task == RATING:
        frame = frame.assign(label=frame["rating"].astype(float))
    elif task != CTR:
        raise ValueError(f"no pointwise rows for the task {task!r}")
    columns = ["user", "item", "label"] + (["time"] if "time" in frame.columns else [])
    columns += context_columns(frame)
    return frame[columns].dropna(subset=["label"]).reset_index(drop=True)


def split_rows(frame: pd.DataFrame, task: str, *, has_order: bool, seed: int) -> RowSplit:
    """Split a task's rows (:func:`task_rows`): the last ``TEST_SHARE`` by time for test, the
    ``VALID_SHARE`` before for validation; at random (``seed``) without an order.

    Raises:
        DataValidationError: A fold would have fewer than ``MIN_FOLD_ROWS`` rows.
    """
    n = len(frame)
    n_test, n_valid = int(np.ceil(n * TEST_SHARE)), int(np.ceil(n * VALID_SHARE))
    if n - n_test - n_valid < MIN_FOLD_ROWS or min(n_test, n_valid) < MIN_FOLD_ROWS:
        raise DataValidationError(
            f"The {task} task needs at least {MIN_FOLD_ROWS} rows in each of its training, "
            f"validation and test folds; this log has {n} rows in all.")
    if has_order and "time" in frame.columns:
        order = np.argsort(frame["time"].to_numpy(dtype=float), kind="stable")
        protocol = GLOBAL_TEMPORAL
    else:
        order = np.random.default_rng(seed).permutation(n)
        protocol = RANDOM_ROWS
    folds = np.empty(n, dtype=np.int8)
    folds[order[:n - n_test - n_valid]] = TRAIN
    folds[order[n - n_test - n_valid:n - n_test]] = VALID
    folds[order[n - n_test:]] = TEST
    user_ids, users = IdEncoder.fit_encode(frame["user"])
    item_ids, items = IdEncoder.fit_encode(frame["item"])
    # Rows in time order (the order of ``order``), so each fold reads in time order too.
    rows = frame.iloc[order].reset_index(drop=True)
    context = context_fields(rows, folds[order] == TRAIN)
    values = (pd.DataFrame({c.name: rows[CONTEXT_PREFIX + c.name].astype(object)
                            for c in context.coders}) if context.coders else None)
    return RowSplit(task, protocol, user_ids, item_ids, users[order], items[order],
                    frame["label"].to_numpy(dtype=np.float32)[order], folds[order],
                    context, values)


def context_fields(rows: pd.DataFrame, train: np.ndarray) -> RowFields:
    """The codes of the rows' used context columns (:func:`context_schema`), each coded as
    its training rows (``train``) say (:class:`ContextCoder`)."""
    schema = context_schema(rows, "")
    if schema is None:
        return RowFields()
    coders, columns = [], []
    for column in schema.used():
        values = rows[CONTEXT_PREFIX + column.name]
        coder = ContextCoder.fit(values[train], column)
        if coder is None:
            continue
        coders.append(coder)
        columns.append(CodedColumn(f"context.{column.name}", column.kind, coder.vocabulary,
                                   coder.codes(values)))
    return RowFields(context=tuple(columns), coders=tuple(coders))


def with_fields(split: RowSplit, features: Features) -> RowSplit:
    """The split with the item and user tables' codes of its items and users (beside its
    context codes)."""
    tables = row_fields(features, split.user_ids, split.item_ids)
    return replace(split, fields=replace(split.fields, items=tables.items, users=tables.users))


def histories_before(users: np.ndarray, items: np.ndarray, kept: np.ndarray, length: int,
                     values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows in time order, the ``length`` latest items of each row's user among the earlier
    rows that ``kept`` marks, as ``[rows, length]`` ids (item + 1, left-padded with 0, most
    recent last), and the ``values`` of those rows (their labels) in the same places (0 for
    padding). A row never sees itself or anything after it."""
    n = len(users)
    order = np.argsort(users, kind="stable")  # by user, in time order within each user
    sorted_users, sorted_kept = users[order], kept[order]
    # Kept rows before each row within its user, and where the user's kept items start.
    before = np.cumsum(sorted_kept) - sorted_kept
    first = np.r_[True, sorted_users[1:] != sorted_users[:-1]]
    user_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    base = before[user_start]
    position = before[:, None] - length + np.arange(length)[None, :]
    valid = position >= base[:, None]
    index = np.where(valid, position, int(sorted_kept.sum()))

    def picked(column: np.ndarray) -> np.ndarray:
        return np.concatenate([column[order][sorted_kept], [0]])[index]

    ids = np.empty((n, length), dtype=np.int32)
    ids[order] = np.where(valid, picked(items) + 1, 0)
    out = np.empty((n, length), dtype=np.float32)
    out[order] = np.where(valid, picked(values), 0.0)
    return ids, out


def activity_before(users: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """For rows in time order, ``[rows, 2]``: how many rows of the same user came before each
    row, and the sum of their labels."""
    frame = pd.DataFrame({"user": users, "label": labels.astype(np.float64)})
    by_user = frame.groupby("user", sort=False)["label"]
    count = by_user.cumcount().to_numpy()
    total = by_user.cumsum().to_numpy() - frame["label"].to_numpy()
    return np.stack([count, total], axis=1).astype(np.float32)


def recent_rows(rows: pd.DataFrame) -> tuple[list[list[str]], list[list[float]]]:
    """Each row's recent rows for ``predict_with_recent``: the items of every earlier row of
    the same user in ``rows`` (a task's rows in time order, :func:`task_rows`), raw ids oldest
    first, with their labels (the ratings, or 1 for a click and 0 for an exposure without
    one)."""
    earlier: dict[str, tuple[list[str], list[float]]] = {}
    items, labels = [], []
    for user, item, label in zip(rows["user"].astype(str), rows["item"].astype(str),
                                 rows["label"].astype(float)):
        before = earlier.setdefault(user, ([], []))
        items.append(list(before[0]))
        labels.append(list(before[1]))
        before[0].append(item)
        before[1].append(label)
    return items, labels
