"""What a fit predicts (DESIGN section 10): the top-K next items, a click, or a rating.

``ranking`` is the top-K task of DESIGN 4. ``ctr`` (the probability that a row's 0/1 label is 1)
and ``rating`` (a row's rating) are *pointwise* tasks: every row is an example, split globally by
time (:mod:`automl_rec.tasks.rows`) and scored by AUC or RMSE
(:mod:`automl_rec.evaluation.pointwise`). This module decides which task a log supports and
which one a fit runs when the user does not say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from automl_rec.errors import ConfigurationError, DataValidationError

RANKING, CTR, RATING = "ranking", "ctr", "rating"
TASKS = (RANKING, CTR, RATING)
# A binary label means click prediction when each of its values is at least this share of rows.
MIN_LABEL_SHARE = 0.05


def recent_labels_input(task: str) -> str:
    """The exported ``predict_with_recent`` signature's input of the recent rows' labels:
    ``recent_labels`` for clicks (1 for a click, 0 for an exposure without one),
    ``recent_ratings`` for ratings."""
    return "recent_labels" if task == CTR else "recent_ratings"


@dataclass(frozen=True)
class TaskChoice:
    """The task of a fit and why.

    Attributes:
        name: ``ranking``, ``ctr`` or ``rating``.
        reason: One sentence: chosen by the user, or what in the data chose it.
        inferred: Whether the data chose it (no ``--task``).
    """

    name: str
    reason: str
    inferred: bool

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "reason": self.reason, "inferred": self.inferred}


def label_shares(feedback: dict[str, Any]) -> tuple[float, float]:
    """Shares of rows that are positives and negatives of a described log (``feedback`` as
    :func:`automl_rec.data.feedback.select_positives` describes it)."""
    positives, negatives = int(feedback.get("positives", 0)), int(feedback.get("negatives", 0))
    total = max(positives + negatives, 1)
    return positives / total, negatives / total


def infer_task(feedback: dict[str, Any]) -> TaskChoice:
    """The default task: ``ctr`` for a binary label whose two values each hold at least
    ``MIN_LABEL_SHARE`` of the rows, else ``ranking``, with the reason."""
    kind = feedback.get("kind")
    if kind == "binary":
        share = min(label_shares(feedback))
        if share >= MIN_LABEL_SHARE:
            return TaskChoice(CTR, f"a 0/1 label with both values in at least "
                                   f"{MIN_LABEL_SHARE:.0%} of rows (the rarer one in "
                                   f"{share:.1%}): click prediction", True)
        return TaskChoice(RANKING, f"a 0/1 label, but its rarer value is only {share:.1%} of "
                                   f"rows (below {MIN_LABEL_SHARE:.0%}): top-K ranking of the "
                                   f"1 rows", True)
    if kind == "explicit":
        return TaskChoice(RANKING, "star ratings: top-K ranking of the rated items (--task "
                                   "rating predicts the ratings instead)", True)
    return TaskChoice(RANKING, "every row is an interaction: top-K ranking", True)


def check_task(requested: str | None) -> None:
    """Raise :class:`ConfigurationError` unless ``requested`` is a task or ``None``."""
    if requested is not None and requested not in TASKS:
        raise ConfigurationError(
            f"Unknown task {requested!r}; use one of: {', '.join(TASKS)}.")


def choose_task(requested: str | None, feedback: dict[str, Any],
                positive: str | None = None) -> TaskChoice:
    """The task a fit runs: ``requested`` if the data supports it, else the inferred one.

    Args:
        requested: ``ranking``, ``ctr``, ``rating`` or ``None`` (infer).
        feedback: The log's feedback description.
        positive: The ``--positive`` rule, which makes star ratings a click label.

    Raises:
        ConfigurationError: ``requested`` is no task.
        DataValidationError: The data cannot support the requested task (one sentence).
    """
    if requested is None:
        return infer_task(feedback)
    check_task(requested)
    kind = feedback.get("kind")
    if requested == CTR:
        if kind not in ("binary", "explicit") or (kind == "explicit" and positive is None):
            raise DataValidationError(
                "The ctr task needs a 0/1 label column (or star ratings with a --positive "
                f"rule such as 'rating>=4'); this log's feedback is {kind}.")
        if min(label_shares(feedback)) == 0:
            raise DataValidationError(
                "The ctr task needs rows of both labels, but every row of this log has the "
                "same one.")
        rule = feedback.get("rule", "")
        return TaskChoice(CTR, f"chosen with --task (label: {rule})", False)
    if requested == RATING:
        if kind != "explicit":
            raise DataValidationError(
                "The rating task needs a rating column with more than two values; this log's "
                f"feedback is {kind}.")
        return TaskChoice(RATING, "chosen with --task", False)
    return TaskChoice(RANKING, "chosen with --task", False)


# The objective of each pointwise task, whether higher is better, and the figures beside it.
OBJECTIVES = {CTR: ("auc", True), RATING: ("rmse", False)}


def objective_value(task: str, metrics: dict[str, float]) -> float:
    """A pointwise task's objective as a value to maximise (RMSE negated)."""
    name, higher = OBJECTIVES[task]
    return metrics[name] if higher else -metrics[name]


# The figures reported for each pointwise task, the objective first.
POINTWISE_FIGURES = {CTR: ("auc", "logloss", "gauc", "ece"), RATING: ("rmse", "mae")}
RANKING_FIGURES = ("ndcg", "hr", "mrr")


def higher_is_better(task: str) -> bool:
    """Whether a larger value of the task's objective is better (not for RMSE)."""
    return task == RANKING or OBJECTIVES[task][1]


def figures_of(task: str, k: int) -> tuple[str, ...]:
    """The keys of the figures a task's tables show, the objective's kind first."""
    if task == RANKING:
        return tuple(f"{name}@{k}" for name in RANKING_FIGURES)
    return POINTWISE_FIGURES[task]


def figure_label(key: str) -> str:
    """How tables head a figure: ``NDCG@10``, ``AUC``, ``logloss``."""
    name, _, k = key.partition("@")
    label = name if name in ("logloss",) else name.upper()
    return f"{label}@{k}" if k else label
