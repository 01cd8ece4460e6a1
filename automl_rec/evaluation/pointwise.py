"""Metrics of the pointwise tasks (DESIGN 10): AUC, logloss, GAUC and calibration for click
prediction; RMSE and MAE for rating prediction.

- AUC: the probability that a random 1 row scores above a random 0 row (ties count half),
  from the ranks of the scores.
- GAUC: the AUC within each user who has rows of both labels, averaged with the user's number
  of rows as weight (how well a model orders one user's exposures, the way a shop ranks them).
- Expected calibration error: predictions binned in ``bins`` equal-width probability bins, the
  mean absolute gap between the mean prediction and the share of 1 labels in each bin, weighted
  by the bin's rows; the bins themselves are the reliability plot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata

from automl_rec.evaluation.bootstrap import BootstrapInterval
from automl_rec.tasks import CTR
from automl_rec.tasks.rows import RowFold

# Predicted probabilities are clipped to [EPSILON, 1 - EPSILON] for the logloss.
EPSILON = 1e-7


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of 0/1 ``labels`` by ``scores`` (NaN without both labels)."""
    labels = np.asarray(labels) > 0.5
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(np.asarray(scores, dtype=np.float64))
    return float((ranks[labels].sum() - positives * (positives + 1) / 2)
                 / (positives * negatives))


def logloss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean binary cross-entropy of probabilities against 0/1 labels."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), EPSILON, 1 - EPSILON)
    y = np.asarray(labels, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def per_user_auc(users: np.ndarray, labels: np.ndarray, scores: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The users with rows of both labels, their AUC and their number of rows."""
    users = np.asarray(users)
    order = np.argsort(users, kind="stable")
    users, labels, scores = users[order], np.asarray(labels)[order], np.asarray(scores)[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], len(users)]
    kept, values, weights = [], [], []
    for start, end in zip(starts, ends):
        value = auc(labels[start:end], scores[start:end])
        if not np.isnan(value):
            kept.append(users[start])
            values.append(value)
            weights.append(end - start)
    return np.asarray(kept), np.asarray(values, dtype=np.float64), np.asarray(weights, float)


def gauc(users: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> float:
    """Row-weighted mean of the per-user AUCs (NaN when no user has both labels)."""
    _, values, weights = per_user_auc(users, labels, scores)
    return float(np.average(values, weights=weights)) if len(values) else float("nan")


def reliability(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10
                ) -> tuple[list[dict[str, Any]], float]:
    """The reliability plot's bins (range, rows, mean prediction, share of 1 labels) and the
    expected calibration error."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, 1.0)
    y = np.asarray(labels, dtype=np.float64)
    index = np.minimum((p * bins).astype(int), bins - 1)
    table, error = [], 0.0
    for b in range(bins):
        inside = index == b
        rows = int(inside.sum())
        if rows == 0:
            continue
        predicted, observed = float(p[inside].mean()), float(y[inside].mean())
        table.append({"low": b / bins, "high": (b + 1) / bins, "rows": rows,
                      "predicted": predicted, "observed": observed})
        error += rows * abs(predicted - observed)
    return table, error / max(len(p), 1)


def click_metrics(users: np.ndarray, labels: np.ndarray, probabilities: np.ndarray
                  ) -> dict[str, float]:
    """AUC, logloss, GAUC and expected calibration error of click probabilities."""
    return {"auc": auc(labels, probabilities), "logloss": logloss(labels, probabilities),
            "gauc": gauc(users, labels, probabilities),
            "ece": reliability(labels, probabilities)[1]}


def rating_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """RMSE and MAE of predicted ratings."""
    errors = np.asarray(predictions, dtype=np.float64) - np.asarray(labels, dtype=np.float64)
    return {"rmse": float(np.sqrt(np.mean(errors ** 2))), "mae": float(np.mean(np.abs(errors)))}


def task_metrics(task: str, rows: RowFold, predictions: np.ndarray) -> dict[str, float]:
    """A pointwise task's metrics of ``predictions`` for ``rows`` (click or rating figures)."""
    if task == CTR:
        return click_metrics(rows.users, rows.labels, predictions)
    return rating_metrics(rows.labels, predictions)


@dataclass(frozen=True)
class RowPredictions:
    """A model's predictions of a fold's rows, kept for paired comparisons.

    Attributes:
        users: User index per row.
        labels: Label per row.
        predictions: Probability (``ctr``) or rating (``rating``) per row.
    """

    users: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray


def paired_row_bootstrap(task: str, first: RowPredictions, second: RowPredictions, *,
                         n_resamples: int = 1000, confidence: float = 0.95,
                         seed: int = 0) -> BootstrapInterval:
    """The objective of ``first`` minus that of ``second`` on the same rows (AUC for ``ctr``,
    RMSE for ``rating``: a negative RMSE difference favours ``first``), with a percentile
    interval from resampling the rows with replacement, both models on each resample."""
    if len(first.labels) != len(second.labels) or not len(first.labels):
        raise ValueError("a paired bootstrap needs the same non-empty rows of both models")
    labels = first.labels
    rng = np.random.default_rng(seed)
    if task == CTR:
        def objective(index: np.ndarray, predictions: np.ndarray) -> float:
            return auc(labels[index], predictions[index])
    else:
        def objective(index: np.ndarray, predictions: np.ndarray) -> float:
            return float(np.sqrt(np.mean((predictions[index] - labels[index]) ** 2)))
    everything = np.arange(len(labels))
    observed = (objective(everything, first.predictions)
                - objective(everything, second.predictions))
    differences = np.empty(n_resamples)
    for r in range(n_resamples):
        index = rng.integers(0, len(labels), len(labels))
        differences[r] = (objective(index, first.predictions)
                          - objective(index, second.predictions))
    differences = differences[np.isfinite(differences)]
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail])
    return BootstrapInterval(float(observed), float(low), float(high), confidence,
                             len(differences))
