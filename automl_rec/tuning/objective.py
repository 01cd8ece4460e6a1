"""What a trial's model is, and how it is judged, for each task (DESIGN 4 and 10).

The search (:mod:`automl_rec.tuning.search`) and the trials (:mod:`automl_rec.tuning.trial`)
run every task alike: build a family's model on a stage, train it an epoch at a time, judge it
on the validation cases, keep the best epoch, bring the best configuration to later stages.
What differs is here: for ``ranking`` the model is the family's next-item model on a
:class:`~automl_rec.data.splitting.Split`, judged by full-ranking NDCG / HR / MRR at K on the
held-out users; for ``ctr`` and ``rating`` it is a pointwise design on a
:class:`~automl_rec.tasks.rows.RowSplit`, judged by AUC or RMSE on the held-out rows. Every
objective is a value to maximise (RMSE enters negated).
"""

from __future__ import annotations

from typing import Any

from automl_rec.data.splitting import TEST, VALID
from automl_rec.evaluation import EvaluationResult, evaluate_holdout, sample_holdout
from automl_rec.evaluation.cold_offset import (COLD_OFFSET, COLD_SHARE, cold_share,
                                               offset_for_share)
from automl_rec.evaluation.pointwise import RowPredictions, task_metrics
from automl_rec.tasks import OBJECTIVES, RANKING, objective_value


class RankingObjective:
    """The top-K task: ``metric`` at ``k`` on the validation users (a seeded sample of them
    during the search, every test user for the test score)."""

    task = RANKING

    def __init__(self, metric: str, k: int) -> None:
        self.metric, self.k = metric, k
        self.key = f"{metric}@{k}"

    def build(self, family: str, params: dict[str, Any], split: Any, stage: str,
              seed: int) -> Any:
        from automl_rec.models import family_module

        return family_module(family).build(params, split.stage(stage), seed)

    def validation_cases(self, split: Any, model: Any) -> Any:
        return sample_holdout(split.holdout("valid"), seed=split.seed)

    def judge(self, model: Any, split: Any, cases: Any) -> dict[str, float]:
        """Validation metrics; a model that scores cold items from their attributes first gets
        its cold-item offset from these cases (``cold_offset``, and ``cold_share`` where
        enough targets are cold, among the metrics)."""
        cold = getattr(model, "cold_items", None)
        if cold is None or not cold.any():
            return evaluate_holdout(model.score, cases, exclude_seen=split.exclude_seen,
                                    k=self.k).metrics()
        share = cold_share(cases, cold)
        chosen = {COLD_OFFSET: self.set_cold_offset(model, split, cases.users,
                                                    cases.history, share)}
        if share is not None:
            chosen[COLD_SHARE] = share
        return {**evaluate_holdout(model.score, cases, exclude_seen=split.exclude_seen,
                                   k=self.k).metrics(), **chosen}

    def set_cold_offset(self, model: Any, split: Any, users: Any, history: Any,
                        share: float | None) -> float:
        """Set a feature model's cold-item offset so that its cold items fill ``share`` of the
        slots of ``users``' lists (``history``: the model's stage; 0 without a share)."""
        model.cold_offset.assign(0.0)
        if share is not None:
            seen = history.matrix if split.exclude_seen else None
            model.cold_offset.assign(offset_for_share(model.score, users, seen,
                                                      model.cold_items, share, self.k))
        return float(model.cold_offset.numpy())

    def settle(self, model: Any, split: Any, stage: str, valid: dict[str, float]) -> None:
        """Bring a trial's choices made on validation to its model on a later stage: a
        feature model's cold items fill the share of the validation users' lists that they
        did in the trial."""
        if getattr(model, "cold_items", None) is not None:
            users = self.validation_cases(split, model).users
            self.set_cold_offset(model, split, users, split.stage(stage),
                                 valid.get(COLD_SHARE))

    def test(self, model: Any, split: Any) -> tuple[dict[str, float], EvaluationResult | None]:
        """Test metrics, with the per-user figures that paired comparisons use."""
        evaluation = evaluate_holdout(model.score, split.holdout("test"),
                                      exclude_seen=split.exclude_seen, k=self.k)
        return evaluation.metrics(), evaluation

    def score(self, metrics: dict[str, float]) -> float:
        """The value the search maximises (``-inf`` without it)."""
        return metrics.get(self.key, float("-inf"))


class PointwiseObjective:
    """The click or rating task: AUC (higher is better) or RMSE (lower) on the validation
    rows; the search maximises AUC or the negated RMSE."""

    def __init__(self, task: str) -> None:
        self.task = task
        self.key, self.higher = OBJECTIVES[task]

    def build(self, family: str, params: dict[str, Any], split: Any, stage: str,
              seed: int) -> Any:
        from automl_rec.models.pointwise import StageModel

        return StageModel(params, split, stage, seed)

    def validation_cases(self, split: Any, model: Any) -> Any:
        return model.fold(VALID)

    def settle(self, model: Any, split: Any, stage: str, valid: dict[str, float]) -> None:
        """Nothing chosen on validation besides the weights is brought to a later stage."""

    def judge(self, model: Any, split: Any, cases: Any) -> dict[str, float]:
        return task_metrics(self.task, cases, model.predict(cases))

    def test(self, model: Any, split: Any) -> tuple[dict[str, float], RowPredictions]:
        """Test metrics, with the rows' predictions that paired comparisons use."""
        rows = model.fold(TEST)
        predictions = model.predict(rows)
        return (task_metrics(self.task, rows, predictions),
                RowPredictions(rows.users, rows.labels, predictions))

    def score(self, metrics: dict[str, float]) -> float:
        if self.key not in metrics:
            return float("-inf")
        return objective_value(self.task, metrics)


Objective = RankingObjective | PointwiseObjective


def objective_of(task: str, metric: str, k: int) -> Objective:
    """The objective of a task (``metric`` at ``k`` for ranking)."""
    return RankingObjective(metric, k) if task == RANKING else PointwiseObjective(task)
