"""Tune each reference baseline on validation, then score it once on test (the ranking task's
baselines on held-out users, the pointwise tasks' on held-out rows).

A ranking baseline's grid is one ordered parameter (a regularisation weight, a neighbour count)
whose validation score rises to one peak and falls: it is walked from the middle towards the
better neighbour until the score stops rising (:func:`walk_grid`), which on large catalogues saves
most of EASE's factorisations; the best point on validation is refit on train + validation and
scored on the test split, like every other candidate. Validation
is scored on the same seeded sample of users as the trials' objective; test on every user.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from automl_rec.data.splitting import TEST, TRAIN, VALID, Split
from automl_rec.evaluation import EvaluationResult, evaluate_holdout, sample_holdout
from automl_rec.evaluation.pointwise import RowPredictions, task_metrics
from automl_rec.leaderboard import SKIPPED, CandidateResult
from automl_rec.models.baselines import Baseline
from automl_rec.models.pointwise_baselines import PointwiseBaseline
from automl_rec.tasks import objective_value
from automl_rec.tasks.rows import RowFold, RowSplit

FAMILY = "baselines"


def run_baseline(
    baseline: type[Baseline], split: Split, *, metric: str = "ndcg", k: int = 10
) -> CandidateResult:
    """Grid-search one baseline on validation, refit the best on train + validation, score test.

    Args:
        baseline: The baseline class.
        split: The protocol's split.
        metric: Selection metric (``ndcg``, ``hr`` or ``mrr``) at ``k``.
        k: Cut-off.

    Returns:
        The baseline's result, with validation and test metrics.
    """
    started = time.perf_counter()
    reason = baseline.unsupported_reason(split.n_items)
    if reason:
        return CandidateResult(FAMILY, baseline.name, {}, SKIPPED, reason)
    valid = sample_holdout(split.holdout("valid"), seed=split.seed)
    evaluations: dict[int, EvaluationResult] = {}

    def value_of(index: int) -> float:
        model = baseline(**baseline.grid[index]).fit(split.stage("train"))
        evaluations[index] = evaluate_holdout(model.score, valid,
                                              exclude_seen=split.exclude_seen, k=k)
        return float(evaluations[index].per_user(metric).mean())

    best = walk_grid(len(baseline.grid), value_of)
    best_params, best_valid = baseline.grid[best], evaluations[best]
    refit = baseline(**best_params).fit(split.stage("train_valid"))
    test = evaluate_holdout(refit.score, split.holdout("test"), exclude_seen=split.exclude_seen,
                            k=k)
    return CandidateResult(
        family=FAMILY,
        model=baseline.name,
        params=dict(best_params),
        valid=best_valid.metrics(),
        test=test.metrics(),
        seconds=time.perf_counter() - started,
        test_result=test,
        valid_result=best_valid,
    )


def walk_grid(size: int, value_of: Callable[[int], float]) -> int:
    """The index of the best point of an ordered grid of ``size`` points whose value has one
    peak: from the middle point and its two neighbours, step towards the better side while the
    value rises (``value_of`` is called once per visited point; ties keep the earlier point)."""
    values: dict[int, float] = {}

    def value(index: int) -> float:
        if index not in values:
            values[index] = value_of(index)
        return values[index]

    best = size // 2
    value(best)
    for neighbour in (best - 1, best + 1):
        if 0 <= neighbour < size and value(neighbour) > value(best):
            best = neighbour
    step = best - size // 2
    while step and 0 <= best + step < size and value(best + step) > value(best):
        best += step
    return best


def run_pointwise_baseline(baseline: type[PointwiseBaseline], split: RowSplit, *,
                           seed: int = 0) -> CandidateResult:
    """A pointwise task's baseline: every grid point fitted on the training rows and judged
    on the validation rows by the task's objective; the best refitted on training and
    validation rows and scored once on the test rows."""
    started = time.perf_counter()
    train, valid, test = (split.fold(f) for f in (TRAIN, VALID, TEST))
    best_params, best_valid, best_value = baseline.grid[0], {}, float("-inf")
    for params in baseline.grid:
        model = baseline(**params).fit(train, split.n_users, split.n_items, seed,
                                       split.fields)
        figures = task_metrics(split.task, valid, model.predict(valid))
        value = objective_value(split.task, figures)
        if value > best_value:
            best_params, best_valid, best_value = params, figures, value
    both = RowFold(*(np.concatenate([a, b]) for a, b in
                     zip((train.users, train.items, train.labels),
                         (valid.users, valid.items, valid.labels))))
    refit = baseline(**best_params).fit(both, split.n_users, split.n_items, seed,
                                        split.fields)
    predictions = refit.predict(test)
    return CandidateResult(
        family=FAMILY, model=baseline.name, params=dict(best_params), valid=best_valid,
        test=task_metrics(split.task, test, predictions),
        seconds=time.perf_counter() - started,
        test_result=RowPredictions(test.users, test.labels, predictions))
