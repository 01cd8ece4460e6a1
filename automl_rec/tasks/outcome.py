"""What a click or rating fit ends with (DESIGN 10): the selected candidate, its comparison with
the best baseline and the best neural model on the test rows, its calibration, and the model
that is exported.

Every candidate of a pointwise task is ranked by its validation objective (AUC, or RMSE
negated). The gradient-boosted trees may win but have no TensorFlow form: the SavedModel then
holds the best candidate that has one, and the run says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from automl_rec.data.splitting import TEST, TRAIN, VALID
from automl_rec.evaluation.pointwise import RowPredictions, paired_row_bootstrap, reliability
from automl_rec.leaderboard import COMPLETE, CandidateResult, candidate_name, left_out
from automl_rec.models import BASELINES
from automl_rec.tasks import CTR, OBJECTIVES, objective_value
from automl_rec.tasks.rows import RowSplit

CONFIDENCE = 0.95
# Models without a TensorFlow form (they can be selected, not exported).
NOT_EXPORTABLE = ("gbdt",)


def ranked_candidates(task: str, results: list[CandidateResult],
                      families: list[str]) -> list[CandidateResult]:
    """The complete candidates of the families that may win, best validation objective first."""
    eligible = [r for r in results if r.family in families and r.status == COMPLETE
                and OBJECTIVES[task][0] in r.valid]
    return sorted(eligible, key=lambda r: objective_value(task, r.valid), reverse=True)


def exportable(result: CandidateResult) -> bool:
    """Whether a candidate's model has a TensorFlow form."""
    return not (result.family == BASELINES and result.model in NOT_EXPORTABLE)


def exported_candidate(ranked: list[CandidateResult]) -> tuple[CandidateResult, str | None]:
    """The candidate whose model is exported: the winner, or the best one with a TensorFlow
    form when the winner has none (with the sentence that says so)."""
    winner = ranked[0]
    if exportable(winner):
        return winner, None
    for other in ranked[1:]:
        if exportable(other):
            return other, (f"{candidate_name(winner)} was selected but has no TensorFlow form; "
                           f"the SavedModel holds the best candidate that has one, "
                           f"{candidate_name(other)} (its figures are in the leaderboard)")
    raise ValueError("no candidate with a TensorFlow form to export")


def refit_on_all(result: CandidateResult, split: RowSplit, seed: int) -> Any:
    """A candidate's model on every row (train + validation + test), made as its test model
    was: a baseline fitted again with its chosen parameters, a trial refreshed or retrained."""
    if result.family == BASELINES:
        from automl_rec.models.pointwise_baselines import POINTWISE_BASELINES

        rows = split.rows((TRAIN, VALID, TEST))
        return POINTWISE_BASELINES[result.model](**result.params).fit(
            rows, split.n_users, split.n_items, seed, split.fields)
    from automl_rec.tuning.trial import model_on_stage

    return model_on_stage(result, split, "all", seed, split.task)


def compare(task: str, best: CandidateResult, results: list[CandidateResult], seed: int
            ) -> dict[str, Any] | None:
    """Paired bootstraps on the test rows: the winner against the best other baseline and the
    best neural model (the highest test objective of each kind), then against every other
    baseline (``against: baseline``; a user asks how the model does against the trees, not
    only against whichever reference came out best), with the families left out. Differences
    are the winner's figure minus the other's: for RMSE a negative one favours the winner
    (``higher_is_better`` says which)."""
    if not isinstance(best.test_result, RowPredictions):
        return None
    key, higher = OBJECTIVES[task]
    tested = [r for r in results if isinstance(r.test_result, RowPredictions)
              and r.status == COMPLETE and key in r.test]

    def strongest(candidates: list[CandidateResult]) -> CandidateResult | None:
        return max(candidates, key=lambda r: objective_value(task, r.test), default=None)

    best_baseline = strongest([r for r in tested if r.family == BASELINES and r is not best])
    best_neural = strongest([r for r in tested if r.family != BASELINES])
    comparison: dict[str, Any] = {
        "metric": key, "higher_is_better": higher, "confidence": CONFIDENCE,
        "test_rows": int(len(best.test_result.labels)), "resampled": "test rows",
        "winner": entry(best, key), "best_baseline": entry(best_baseline, key),
        "best_neural": entry(best_neural, key), "gaps": [], "left_out": left_out(results)}
    others = [r for r in tested if r.family == BASELINES and r not in (best, best_baseline)]
    for role, other in (("best_baseline", best_baseline), ("best_neural", best_neural),
                        *(("baseline", r) for r in sorted(others, key=candidate_name))):
        if other is None or other is best:
            continue
        assert isinstance(other.test_result, RowPredictions)
        interval = paired_row_bootstrap(task, best.test_result, other.test_result,
                                        confidence=CONFIDENCE, seed=seed)
        comparison["n_resamples"] = interval.n_resamples
        comparison["gaps"].append({
            "against": role, "name": candidate_name(other), "difference": interval.difference,
            "low": interval.low, "high": interval.high, "significant": interval.significant})
        if role == "best_baseline":
            comparison.update(reference=other.model, difference=interval.difference,
                              low=interval.low, high=interval.high)
    return comparison


def entry(result: CandidateResult | None, key: str) -> dict[str, Any] | None:
    """A candidate as the comparison names it, with its validation and test objective."""
    if result is None:
        return None
    return {"family": result.family, "model": result.model, "trial": result.number,
            "name": candidate_name(result), "valid": result.valid.get(key),
            "test": result.test.get(key)}


def calibration(task: str, result: CandidateResult) -> dict[str, Any] | None:
    """The reliability bins and expected calibration error of a click model's test
    predictions (``None`` for ratings)."""
    if task != CTR or not isinstance(result.test_result, RowPredictions):
        return None
    bins, error = reliability(result.test_result.labels, result.test_result.predictions)
    return {"bins": bins, "ece": error, "rows": int(len(result.test_result.labels)),
            "base_rate": float(np.mean(result.test_result.labels))}


def row_examples(split: RowSplit, predict: Any, seed: int, count: int = 8
                 ) -> list[dict[str, Any]]:
    """A few test rows (seeded choice) with their label, their context values (where the log
    has context columns) and the exported model's prediction (``predict`` takes raw user and
    item ids and the context values by column)."""
    test = np.flatnonzero(split.folds == TEST)
    chosen = np.sort(np.random.default_rng(seed).choice(test, size=min(count, len(test)),
                                                        replace=False))
    users = [str(u) for u in split.user_ids.decode(split.users[chosen])]
    items = [str(i) for i in split.item_ids.decode(split.items[chosen])]
    values = split.context_values
    context = None if values is None else {
        column: ["" if pd.isna(v) else str(v) for v in values[column].iloc[chosen]]
        for column in values.columns}
    predictions = predict(users, items, context)
    return [{"user_id": u, "item_id": i, "label": float(label), "prediction": float(p),
             **({} if context is None else
                {"context": {column: context[column][n] for column in context}})}
            for n, (u, i, label, p) in enumerate(zip(users, items, split.labels[chosen],
                                                     predictions))]
