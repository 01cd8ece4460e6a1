"""Feedback labels (DESIGN section 10): what a row's label means, and which rows are positives.

A log's label column is not decoration: a binary label's 0 rows are exposures without a click,
and with ``--positive "rating>=4"`` only high ratings are interactions. Rows that are not
positives never enter the ranking task's histories, targets or popularity counts; they are kept
beside the positives (``Interactions.negatives``) for the tasks and samplers that use exposures.
Star ratings without a rule count every rated item as an interaction, as the published sequential
benchmarks do; event types count every event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from automl_rec.data.loading import load_interactions
from automl_rec.data.validation import Interactions, validate_interactions
from automl_rec.errors import DataValidationError

_COMPARISONS = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less,
                "==": np.equal, "=": np.equal, "!=": np.not_equal}
_RULE = re.compile(r"^\s*(?P<column>[^<>=!\s]*)\s*(?P<op>>=|<=|==|!=|=|>|<)\s*(?P<value>.+?)\s*$")


@dataclass(frozen=True)
class PositiveRule:
    """Which rows count as positives: a comparison on the rating, or a set of event types.

    Attributes:
        role: ``rating`` or ``event``.
        op: The comparison (``>=``, ``>``, ``<=``, ``<``, ``==``, ``!=``).
        value: The number a rating is compared with, or the event types (for ``==``/``!=``).
        text: The rule as the user wrote it.
    """

    role: str
    op: str
    value: float | tuple[str, ...]
    text: str

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Whether each row of a validated frame meets the rule (missing values never do)."""
        values = frame[self.role]
        if self.role == "rating":
            numbers = values.to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                met = _COMPARISONS[self.op](numbers, float(self.value))  # type: ignore[arg-type]
            return met & ~np.isnan(numbers)
        inside = values.isin(list(self.value)).to_numpy(dtype=bool, na_value=False)  # type: ignore[arg-type]
        return inside if self.op in ("==", "=") else ~inside & values.notna().to_numpy()


def parse_positive(text: str, data: Interactions) -> PositiveRule:
    """Read a rule like ``rating>=4``, ``>=4``, ``stars > 3`` or ``event=purchase,cart``.

    The column may be named by its role (``rating``, ``event``), by its name in the file, or
    left out when the data has a rating column.

    Raises:
        DataValidationError: The rule cannot be read or names a column the data does not have.
    """
    match = _RULE.match(text)
    if match is None:
        raise DataValidationError(
            f"Could not read the positive rule {text!r}; write a comparison such as "
            "'rating>=4', '>=4' or 'event=purchase'."
        )
    column, op, value = match["column"], match["op"], match["value"].strip("'\"")
    roles = data.roles
    names = {"rating": {"rating", (roles.rating or "").lower()},
             "event": {"event", (roles.event or "").lower()}}
    if not column:
        role = "rating" if "rating" in data.frame.columns else "event"
    else:
        role = next((r for r, known in names.items() if column.lower() in known), "")
    if role not in data.frame.columns:
        present = [f"'{getattr(roles, r)}' ({r})" for r in ("rating", "event")
                   if r in data.frame.columns]
        raise DataValidationError(
            f"The positive rule {text!r} names a column that '{data.source}' has no rating or "
            "event role for; "
            + (f"the data has {' and '.join(present)}." if present else
               "the data has no rating or event column (pass --rating-col).")
        )
    if role == "rating":
        try:
            number = float(value)
        except ValueError:
            raise DataValidationError(
                f"The positive rule {text!r} compares ratings with {value!r}, which is not a "
                "number; write e.g. 'rating>=4'."
            ) from None
        return PositiveRule("rating", "==" if op == "=" else op, number, text)
    if op not in ("=", "==", "!="):
        raise DataValidationError(
            f"The positive rule {text!r} orders event types; name them instead, e.g. "
            "'event=purchase,cart'."
        )
    events = tuple(v.strip() for v in value.split(",") if v.strip())
    return PositiveRule("event", "==" if op == "=" else op, events, text)


def describe_feedback(frame: pd.DataFrame) -> tuple[dict[str, Any], dict[str, int] | None]:
    """The kind of feedback a frame holds (implicit, binary, explicit, events) and, with a
    rating column, the histogram of its values."""
    feedback: dict[str, Any] = {"kind": "implicit"}
    histogram = None
    if "rating" in frame.columns:
        ratings = frame["rating"].dropna()
        values = np.sort(ratings.unique())
        histogram = {_label(v): int(c) for v, c in ratings.value_counts().sort_index().items()}
        if len(values) <= 1 or set(values.tolist()) <= {0.0, 1.0}:
            feedback = {"kind": "binary" if len(values) == 2 else "implicit",
                        "values": [float(v) for v in values]}
        else:
            feedback = {"kind": "explicit", "scale": [float(values[0]), float(values[-1])],
                        "distinct_values": int(len(values))}
    if "event" in frame.columns:
        counts = frame["event"].value_counts()
        feedback = {**feedback, "kind": "events" if "rating" not in frame.columns else
                    feedback["kind"], "events": {str(k): int(v) for k, v in counts.items()}}
    return feedback, histogram


def select_positives(data: Interactions, positive: str | None = None) -> Interactions:
    """Keep the rows that are positives of the ranking task; the others go to ``negatives``.

    Args:
        data: Validated interactions (every row of the file).
        positive: A rule such as ``rating>=4`` (see :func:`parse_positive`); ``None`` applies
            the default of the feedback kind: a binary label's 1 rows, otherwise every row.

    Returns:
        The positives, with the other rows in ``negatives`` and the feedback description (kind,
        rule, counts of positives and negatives) in ``feedback``.

    Raises:
        DataValidationError: The rule cannot be read, or no row is a positive.
    """
    feedback, histogram = describe_feedback(data.frame)
    frame = data.frame
    if positive is not None:
        rule = parse_positive(positive, data)
        keep, text = rule.mask(frame), rule.text
    elif feedback["kind"] == "binary":
        keep = frame["rating"].to_numpy(dtype=float) == 1.0
        text = f"label {data.roles.rating} = 1 (rows with 0 are exposures, not positives)"
    elif feedback["kind"] == "explicit":
        keep = np.ones(len(frame), dtype=bool)
        text = ("every rated item counts as an interaction (pass --positive, e.g. "
                "'rating>=4', to count only high ratings)")
    else:
        keep = np.ones(len(frame), dtype=bool)
        text = "every row is an interaction"
    n_positive = int(keep.sum())
    if n_positive == 0:
        raise DataValidationError(
            f"No row of '{data.source}' is a positive under the rule {text!r}; check the rule "
            "(--positive) or the label column (--rating-col)."
        )
    feedback = {**feedback, "rule": text, "positives": n_positive,
                "negatives": int(len(frame) - n_positive)}
    negatives = frame[~keep].reset_index(drop=True)
    positives = frame[keep].reset_index(drop=True) if n_positive < len(frame) else frame
    return replace(data, frame=positives, negatives=negatives, feedback=feedback,
                   rating_histogram=histogram)


def read_positives(source: Any, columns: dict[str, str | None], positive: str | None = None
                   ) -> Interactions:
    """Load and validate a log (a path or a DataFrame; ``columns`` as for
    :func:`automl_rec.data.loading.load_interactions`), and keep the positives of the ranking
    task."""
    return select_positives(validate_interactions(load_interactions(source, **columns)),
                            positive)


def _label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
