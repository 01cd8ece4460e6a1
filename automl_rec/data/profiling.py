"""Profile an interaction table: the figures that describe it and drive the tool's defaults."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from automl_rec.data.features import Features, context_schema
from automl_rec.data.feedback import describe_feedback, read_positives
from automl_rec.data.validation import Interactions

# A user needs this many interactions to contribute a validation and a test interaction.
MIN_EVALUATION_HISTORY = 3


@dataclass(frozen=True)
class DataProfile:
    """What the data looks like. JSON-serialisable through :meth:`to_dict`.

    Counts are after cleaning (missing ids and exact duplicates dropped) and count the positives
    of the ranking task (``feedback`` gives the rule and the counts of positives and negatives,
    ``rating_histogram`` the label values of every row). ``order`` says what orders each user's
    interactions (``{"kind": "timestamp" | "position" | "line", "column": ...}``, or ``None``);
    ``has_timestamps`` is true for real timestamps only. ``user_activity`` and
    ``item_popularity`` summarise interactions per user and per item; ``history_length`` gives
    percentiles of the per-user history length; ``long_tail`` the share of interactions that fall
    on the most popular 1% and 20% of items and the Gini coefficient of item popularity;
    ``repeat_rate`` the share of interactions whose item the same user had already met;
    ``cold_user_share`` the share of users with too short a history to be evaluated;
    ``columns`` the source column of each role and ``reading`` how the file was read (separator,
    encoding, header, whether roles came from column names or content); ``distributions`` holds
    compact curves for plots (a log-binned histogram of interactions per user, and interactions
    per item against popularity rank); ``features`` the item and user tables' columns with
    their kinds and reasons, and how their ids meet the log's (see
    :meth:`automl_rec.data.features.Features.describe`), or ``None`` without such tables.
    """

    source: str
    n_users: int
    n_items: int
    n_interactions: int
    density: float
    n_duplicates: int
    n_missing: int
    columns: dict[str, str | None]
    reading: dict[str, Any]
    has_timestamps: bool
    feedback: dict[str, Any]
    rating_histogram: dict[str, int] | None
    user_activity: dict[str, float]
    item_popularity: dict[str, float]
    history_length: dict[str, float]
    long_tail: dict[str, float]
    repeat_rate: float
    cold_user_share: float
    time_span: dict[str, Any] | None
    activity: dict[str, Any] | None
    distributions: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    order: dict[str, Any] | None = None
    features: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the profile as a JSON-ready dict."""
        return asdict(self)

    def to_json(self) -> str:
        """Return the profile as indented JSON."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataProfile:
        """Rebuild a profile from :meth:`to_dict` output."""
        data = dict(data)
        if "order" not in data and data.get("has_timestamps"):
            data["order"] = {"kind": "timestamp", "column": data["columns"].get("time")}
        return cls(**data)

    @property
    def has_order(self) -> bool:
        """Whether each user's interactions are ordered (timestamps or positions)."""
        return self.order is not None

    def describe_order(self) -> str:
        """What orders each user's interactions, in a few words."""
        if self.order is None:
            return "none (no timestamps or order column)"
        kind, column = self.order["kind"], self.order.get("column")
        if kind == "position":
            return f"column {column!r}: per-user positions (no timestamps)"
        if kind == "line":
            return "position of each item in its user's line"
        return f"timestamps (column {column!r})"

    def describe_positives(self) -> str:
        """How many rows are positives and negatives, and by which rule."""
        feedback = self.feedback
        if "positives" not in feedback:
            return "every row is an interaction"
        return (f"{feedback['positives']:,} positives, {feedback['negatives']:,} negatives: "
                f"{feedback['rule']}")


def profile_log(source: Any, columns: dict[str, str | None], *, positive: str | None = None,
                features: Features | None = None) -> tuple[Interactions, DataProfile]:
    """Load and validate a log (``columns`` as for
    :func:`automl_rec.data.loading.load_interactions`), keep its positives, and profile it with
    its item and user tables."""
    interactions = read_positives(source, columns, positive)
    profile = profile_interactions(interactions)
    described = None if features is None else features.describe(
        interactions.frame["item"], interactions.frame["user"])
    rows = interactions.frame if interactions.negatives is None else pd.concat(
        [interactions.frame, interactions.negatives], ignore_index=True)
    context = context_schema(rows, interactions.source,
                             bool(interactions.notes.get("has_header", True)))
    if context is not None:
        described = {**(described or {}), "context": context.to_dict()}
    if described is not None:
        profile = replace(profile, features=described)
    return interactions, profile


def profile_interactions(data: Interactions) -> DataProfile:
    """Compute the profile of a validated table.

    Args:
        data: The output of :func:`automl_rec.data.validation.validate_interactions`.

    Returns:
        The profile, including the warnings met while reading and those the figures raise.
    """
    frame = data.frame
    user_codes, users = pd.factorize(frame["user"])
    item_codes, items = pd.factorize(frame["item"])
    n, n_users, n_items = len(frame), len(users), len(items)
    per_user = np.bincount(user_codes, minlength=n_users)
    per_item = np.bincount(item_codes, minlength=n_items)
    pairs = distinct_pairs(user_codes, item_codes, n_items)
    repeat_rate = 1.0 - pairs / n
    cold_share = float(np.mean(per_user < MIN_EVALUATION_HISTORY))
    feedback, histogram = describe_feedback(frame)
    if data.feedback is not None:
        feedback, histogram = data.feedback, data.rating_histogram
    order = None if data.order is None else {"kind": data.order, "column": data.roles.time}
    timestamps = data.order == "timestamp"
    time_span, activity = _time_figures(frame) if timestamps else (None, None)
    warnings = list(data.warnings)
    warnings += _figure_warnings(frame, user_codes, n_users, n_items, cold_share, data.has_time)
    return DataProfile(
        source=data.source,
        n_users=n_users,
        n_items=n_items,
        n_interactions=n,
        density=pairs / (n_users * n_items),
        n_duplicates=data.n_duplicates,
        n_missing=data.n_missing,
        columns=data.roles.as_dict(),
        reading=dict(data.notes),
        has_timestamps=timestamps,
        feedback=feedback,
        rating_histogram=histogram,
        user_activity=_summary(per_user),
        item_popularity=_summary(per_item),
        history_length=_percentiles(per_user),
        long_tail=_long_tail(per_item),
        repeat_rate=float(repeat_rate),
        cold_user_share=cold_share,
        time_span=time_span,
        activity=activity,
        distributions={"interactions_per_user": _log_histogram(per_user),
                       "item_popularity": _rank_curve(per_item)},
        warnings=warnings,
        order=order,
    )


def distinct_pairs(first: np.ndarray, second: np.ndarray, n_second: int) -> int:
    """Number of distinct ``(first, second)`` pairs of two code arrays (``second < n_second``).

    Counted by sorting one int64 key per pair, which stays fast for tens of millions of pairs
    where hash-based unique counts slow down badly.
    """
    if len(first) == 0:
        return 0
    keys = np.sort(first.astype(np.int64) * n_second + second)
    return np.count_nonzero(keys[1:] != keys[:-1]) + 1


def _time_codes(times: np.ndarray, n_users: int) -> tuple[np.ndarray, int]:
    """Codes equal for equal times, and their bound: whole seconds directly, else factorised.

    Whole-second times are their own codes (offset from the first), which avoids hashing tens of
    millions of floats, as long as user x time codes fit in 64 bits.
    """
    low, high = (float(times.min()), float(times.max())) if len(times) else (0.0, 0.0)
    if np.all(np.mod(times, 1) == 0) and (high - low + 1) * max(n_users, 1) < 2**62:
        return (times - low).astype(np.int64), int(high - low) + 1
    codes, uniques = pd.factorize(times)
    return codes, len(uniques)


def _summary(counts: np.ndarray) -> dict[str, float]:
    return {
        "min": int(counts.min()),
        "median": round(float(np.median(counts)), 4),
        "mean": round(float(counts.mean()), 4),
        "p95": round(float(np.percentile(counts, 95)), 4),
        "max": int(counts.max()),
    }


def _percentiles(counts: np.ndarray) -> dict[str, float]:
    return {f"p{q}": round(float(np.percentile(counts, q)), 4) for q in (5, 25, 50, 75, 95, 99)}


def _log_histogram(counts: np.ndarray, bins: int = 30) -> dict[str, list[float]]:
    """Histogram of ``counts`` on log-spaced bins (for heavy-tailed activity)."""
    edges = np.unique(np.round(np.geomspace(1, max(2, counts.max() + 1), bins + 1)))
    hist, edges = np.histogram(counts, bins=edges)
    return {"edges": edges.tolist(), "counts": hist.astype(int).tolist()}


def _rank_curve(per_item: np.ndarray, points: int = 200) -> dict[str, list[int]]:
    """Interactions of the item at each popularity rank, at up to ``points`` log-spaced ranks."""
    ordered = np.sort(per_item)[::-1]
    ranks = np.unique(np.round(np.geomspace(1, len(ordered), points)).astype(int))
    return {"rank": ranks.tolist(), "count": ordered[ranks - 1].astype(int).tolist()}


def _long_tail(per_item: np.ndarray) -> dict[str, float]:
    ordered = np.sort(per_item)[::-1]
    total = ordered.sum()
    top = {f"top_{pct}pct_share": float(ordered[: max(1, math.ceil(len(ordered) * pct / 100))]
                                        .sum() / total) for pct in (1, 20)}
    ascending = ordered[::-1].astype(float)
    ranks = np.arange(1, len(ascending) + 1)
    gini = (2 * np.sum(ranks * ascending)) / (len(ascending) * total) - (len(ascending) + 1) / len(
        ascending)
    return {**top, "gini": float(gini)}


def _time_figures(frame: pd.DataFrame) -> tuple[dict[str, Any], dict[str, Any]]:
    times = pd.to_datetime(frame["time"], unit="s", utc=True)
    start, end = times.min(), times.max()
    days = (end - start) / pd.Timedelta(days=1)
    if days <= 60:
        period, code = "day", "D"
    elif days <= 366:
        period, code = "week", "W"
    elif days <= 3660:
        period, code = "month", "M"
    else:
        period, code = "year", "Y"
    periods = times.dt.tz_localize(None).dt.to_period(code)
    every = pd.period_range(periods.min(), periods.max(), freq=periods.dt.freq)
    counts = periods.value_counts().reindex(every, fill_value=0)
    span = {"start": start.isoformat(), "end": end.isoformat(), "days": float(days)}
    label = "%Y" if period == "year" else "%Y-%m" if period == "month" else "%Y-%m-%d"
    return span, {"period": period,
                  "counts": {k.start_time.strftime(label): int(v) for k, v in counts.items()}}


def _figure_warnings(
    frame: pd.DataFrame,
    user_codes: np.ndarray,
    n_users: int,
    n_items: int,
    cold_share: float,
    has_time: bool,
) -> list[str]:
    warnings = []
    if cold_share > 0.2:
        warnings.append(
            f"{cold_share:.0%} of users have fewer than {MIN_EVALUATION_HISTORY} interactions; "
            "they are used for training only and not evaluated."
        )
    if cold_share == 1.0:
        warnings.append("No user has enough interactions to be evaluated.")
    if not has_time:
        warnings.append(
            "No timestamps or order column: the evaluation uses a seeded random hold-out per "
            "user, and the families that need an order (sequence models) are left out."
        )
    else:
        time_codes, n_times = _time_codes(frame["time"].to_numpy(), n_users)
        tie_share = 1.0 - distinct_pairs(user_codes, time_codes, n_times) / len(frame)
        if tie_share > 0.1:
            warnings.append(
                f"{tie_share:.0%} of interactions share their timestamp with an earlier one of "
                "the same user (coarse time resolution); ties are broken at random (seeded, "
                "the same for any row order), so which one is held out, and the metrics, move "
                "with --seed."
            )
    if n_users * n_items and len(frame) / (n_users * n_items) < 1e-4:
        warnings.append("The data is very sparse (density below 0.01%).")
    return warnings
