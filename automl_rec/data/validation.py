"""Check and clean a loaded table: typed, actionable errors for unusable input, warnings otherwise.

Errors (each one sentence: what is wrong, what was received, how to fix it) are raised for input
that cannot be used; recoverable oddities (missing ids in a few rows, duplicate rows) are fixed and
reported as warnings, which the profile and the report repeat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from automl_rec.data.loading import ColumnRoles, LoadedInteractions, as_text
from automl_rec.errors import DataValidationError

# Rows with a missing user or item id are dropped with a warning up to this share; above it the
# column is more likely the wrong one than a few bad rows.
MAX_MISSING_ID_SHARE = 0.2
MAX_MISSING_TIME_SHARE = 0.05


@dataclass
class Interactions:
    """A validated interaction table.

    Attributes:
        frame: ``user`` and ``item`` (Arrow-backed str), and where present ``rating`` (float),
            ``event`` (Arrow-backed str) and ``time`` (float: seconds since the Unix epoch, or
            the position for an order without timestamps, see ``order``), in file order.
        roles: The source column behind each canonical column.
        source: Where the data came from.
        warnings: Recoverable oddities met while reading and cleaning.
        notes: How the table was read.
        n_missing: Rows dropped for a missing user or item id (or time).
        n_duplicates: Exact duplicate rows dropped.
        negatives: Rows that are not positives of the ranking task (a binary label's 0 rows,
            rows below a ``--positive`` rule), once :func:`automl_rec.data.feedback.
            select_positives` has kept the positives in ``frame``.
        feedback: What the label means and which rows are positives (kind, rule, counts).
        rating_histogram: Values of the rating column over every row, positives or not.
    """

    frame: pd.DataFrame
    roles: ColumnRoles
    source: str
    warnings: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    n_missing: int = 0
    n_duplicates: int = 0
    negatives: pd.DataFrame | None = None
    feedback: dict[str, Any] | None = None
    rating_histogram: dict[str, int] | None = None

    @property
    def has_time(self) -> bool:
        """Whether the interactions carry an order (timestamps or positions)."""
        return "time" in self.frame.columns

    @property
    def order(self) -> str | None:
        """``timestamp``, ``position`` (a column of per-user positions), ``line`` (the position
        in a one-sequence-per-line file), or ``None`` without an order."""
        if not self.has_time:
            return None
        return str(self.notes.get("order", "timestamp"))


def validate_interactions(loaded: LoadedInteractions, *, min_distinct: int = 2) -> Interactions:
    """Type-check and clean a loaded table.

    Args:
        loaded: The output of :func:`automl_rec.data.loading.load_interactions`.
        min_distinct: Fewest distinct users and items the table must have (2 to learn from it;
            1 for a held-out file to score).

    Returns:
        The cleaned, typed table.

    Raises:
        DataValidationError: The table cannot be used (all ids missing, one user or one item,
            non-numeric ratings, unparseable timestamps...).
    """
    frame = loaded.frame.copy()
    roles = loaded.roles
    warnings = list(loaded.warnings)
    n_rows = len(frame)

    for role in ("user", "item"):
        frame[role] = _clean_ids(frame[role])
    missing = (frame["user"].isna() | frame["item"].isna()).to_numpy()
    for role in ("user", "item"):
        if frame[role].isna().all():
            raise DataValidationError(
                f"Every value of the {role} column '{getattr(roles, role)}' in '{loaded.source}' "
                f"is missing; pass --{role}-col with the column that holds the {role} ids."
            )
    if missing.mean() > MAX_MISSING_ID_SHARE:
        raise DataValidationError(
            f"{missing.sum()} of {n_rows} rows of '{loaded.source}' have no user or item id "
            f"(columns '{roles.user}' and '{roles.item}'); check the columns or pass --user-col "
            "and --item-col."
        )
    if "rating" in frame.columns:
        frame["rating"] = _parse_ratings(frame["rating"], roles.rating, loaded.source)
    if "event" in frame.columns:
        frame["event"] = _clean_ids(frame["event"]).fillna("(missing)")
    if "time" in frame.columns:
        if loaded.notes.get("order", "timestamp") == "timestamp":
            seconds, bad = parse_times(frame["time"])
            kind = "timestamps"
        else:
            seconds = as_numbers(frame["time"]).to_numpy(dtype=float)
            bad = np.isnan(seconds) & frame["time"].notna().to_numpy()
            kind = "positions (numbers)"
        if bad.any():
            example = frame["time"][bad].iloc[0]
            raise DataValidationError(
                f"The time column '{roles.time}' of '{loaded.source}' has {_rows(bad.sum())} "
                f"with values that are not {kind}, such as {str(example)!r}; use Unix "
                "seconds or milliseconds, dates like 2024-01-31 12:00:00 or per-user positions, "
                "or pass --time-col none."
            )
        frame["time"] = seconds
        no_time = np.isnan(seconds) & ~missing
        if no_time.mean() > MAX_MISSING_TIME_SHARE:
            raise DataValidationError(
                f"{int(no_time.sum())} of {n_rows} rows of '{loaded.source}' have no timestamp in "
                f"column '{roles.time}'; fill them in or pass --time-col none."
            )
        missing = missing | no_time

    n_missing = int(missing.sum())
    if n_missing:
        warnings.append(
            f"Dropped {n_missing} rows ({n_missing / n_rows:.1%}) with a missing user id, item id "
            "or timestamp."
        )
        frame = frame[~missing]
    duplicated = duplicate_rows(frame)
    n_duplicates = int(duplicated.sum())
    if n_duplicates:
        warnings.append(
            f"Dropped {n_duplicates} exact duplicate rows ({n_duplicates / len(frame):.1%})."
        )
        frame = frame[~duplicated]
    frame = frame.reset_index(drop=True)

    for role in ("user", "item"):
        distinct = frame[role].nunique()
        if distinct < min_distinct:
            raise DataValidationError(
                f"'{loaded.source}' has a single {role} ({frame[role].iloc[0]!r} in column "
                f"'{getattr(roles, role)}'); recommendations need at least two users and two "
                "items, so check the columns (--user-col, --item-col) or the file."
            )
    return Interactions(frame, roles, loaded.source, warnings, dict(loaded.notes),
                        n_missing, n_duplicates)


def duplicate_rows(frame: pd.DataFrame) -> np.ndarray:
    """The mask ``frame.duplicated()`` gives (every repeat of an earlier row), found faster.

    Each row is hashed to 64 bits from its columns' codes; only rows whose hash occurs more than
    once can be repeats, and those few are compared exactly by ``DataFrame.duplicated``. Hash
    collisions cost time, never correctness.
    """
    hashes = np.zeros(len(frame), dtype=np.uint64)
    for column in frame.columns:
        hashes = (hashes ^ _row_codes(frame[column])) * np.uint64(0x9E3779B97F4A7C15)
        hashes ^= hashes >> np.uint64(29)
    order = np.argsort(hashes)
    ordered = hashes[order]
    shared = np.zeros(len(frame), dtype=bool)
    same = ordered[1:] == ordered[:-1]
    shared[1:] |= same
    shared[:-1] |= same
    candidates = np.sort(order[shared])
    duplicated = np.zeros(len(frame), dtype=bool)
    duplicated[candidates] = frame.iloc[candidates].duplicated().to_numpy()
    return duplicated


def _row_codes(values: pd.Series) -> np.ndarray:
    """64-bit codes that are equal for equal values of one column (as ``duplicated`` sees them)."""
    if pd.api.types.is_float_dtype(values):
        numbers = values.to_numpy(dtype=np.float64) + 0.0  # -0.0 becomes 0.0
        numbers[np.isnan(numbers)] = np.nan  # one NaN pattern
        return numbers.view(np.uint64)
    return pd.factorize(values)[0].astype(np.uint64)


def _rows(count: int) -> str:
    return f"{int(count)} row" + ("" if int(count) == 1 else "s")


def _clean_ids(values: pd.Series) -> pd.Series:
    """Ids as text without surrounding white space; empty ids become missing."""
    stripped = as_text(values).str.strip()
    text = stripped.array.__arrow_array__()
    empty = pc.equal(text, "")
    cleaned = pc.if_else(empty, pa.scalar(None, text.type), text)
    return pd.Series(pd.arrays.ArrowStringArray(cleaned), index=values.index, name=values.name)


def _parse_ratings(values: pd.Series, column: str | None, source: str) -> pd.Series:
    numbers = as_numbers(values)
    bad = numbers.isna() & values.notna()
    if bad.any():
        raise DataValidationError(
            f"The rating column '{column}' of '{source}' has {_rows(bad.sum())} with "
            f"non-numeric values, such as {str(values[bad].iloc[0])!r}; ratings must be numbers "
            "(pass --event-col "
            f"'{column}' if it holds event types, or --rating-col none)."
        )
    return numbers


def as_numbers(values: pd.Series) -> pd.Series:
    """Read a column as float (NaN where missing or not a number), as ``pd.to_numeric`` does.

    Text held by Arrow is cast by Arrow in one pass; where that fails (a value that is not a
    plain number) or meets an infinity or a NaN, ``pd.to_numeric`` reads the column instead.
    """
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        try:
            numbers = pc.cast(values.array.__arrow_array__(), pa.float64())
        except pa.ArrowInvalid:
            numbers = None
        if numbers is not None and not pc.any(pc.invert(pc.is_finite(numbers))).as_py():
            return pd.Series(numbers.to_numpy(), index=values.index, name=values.name)
    return pd.to_numeric(values, errors="coerce").astype(float)


def parse_times(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse timestamps into float seconds since the Unix epoch.

    Numbers are read as seconds, or as milli-, micro- or nanoseconds when their magnitude says
    so; text is read as dates or date-times (ISO 8601 first, then other common formats).

    Args:
        values: The raw time column.

    Returns:
        The seconds (NaN where missing) and a mask of present values that could not be parsed.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        seconds = _datetime_seconds(pd.to_datetime(values, utc=True))
        return seconds, np.zeros(len(values), dtype=bool)
    present = values.notna().to_numpy()
    numbers = as_numbers(values).to_numpy(dtype=float)
    if np.isfinite(numbers[present]).all():
        magnitude = np.nanmedian(np.abs(numbers)) if present.any() else 0.0
        for threshold, scale in ((1e17, 1e9), (1e14, 1e6), (1e11, 1e3)):
            if magnitude >= threshold:
                numbers = numbers / scale
                break
        return numbers, np.zeros(len(values), dtype=bool)
    text = values.astype(str).where(present, None)
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    retry = parsed.isna().to_numpy() & present
    if retry.any():
        parsed[retry] = pd.to_datetime(text[retry], errors="coerce", utc=True, format="mixed")
    seconds = _datetime_seconds(parsed)
    bad = np.isnan(seconds) & present
    return seconds, bad


def _datetime_seconds(parsed: pd.Series) -> np.ndarray:
    delta = parsed - pd.Timestamp(0, tz="UTC")
    return (delta / pd.Timedelta(seconds=1)).to_numpy(dtype=float, na_value=np.nan)
