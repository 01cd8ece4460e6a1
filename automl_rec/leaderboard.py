"""One record per evaluated candidate, and the leaderboard table written to ``leaderboard.csv``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from automl_rec.evaluation import EvaluationResult
from automl_rec.evaluation.pointwise import RowPredictions
from automl_rec.tasks import RANKING, figures_of

COMPLETE, FAILED, PRUNED, SKIPPED = "complete", "failed", "pruned", "skipped"
# The family name of an ensemble of the best families' models (automl_rec.tuning.ensemble):
# like the baselines, a candidate that is not a trial of the search.
ENSEMBLE = "ensemble"
NOT_TRIALS = ("baselines", ENSEMBLE)
# Test figures on warm and cold targets apart (see EvaluationResult.warm_and_cold).
_WARM_AND_COLD = ("warm_cases", "warm_ndcg@{k}", "warm_hr@{k}", "cold_cases", "cold_ndcg@{k}",
                  "cold_hr@{k}")


@dataclass
class CandidateResult:
    """What one candidate (a baseline or a trial of a family) did.

    Attributes:
        family: Family name (``baselines``, ``mlp``...).
        model: Design within the family (``ease``, ``neumf``...).
        params: Hyperparameters it ran with.
        status: ``complete``, ``failed``, ``pruned`` or ``skipped`` (family left out).
        reason: Why it failed or was pruned.
        valid: Validation metrics (models trained on train).
        test: Test metrics (refit on train + validation), for the candidates that are scored on
            test.
        epochs: Epochs trained (best epoch for early-stopped models), if any.
        seconds: Wall time of the candidate, search and test scoring included.
        n_params: Number of trainable parameters, if meaningful.
        number: Trial number within its family's search (``None`` for baselines).
        epoch_seconds: Typical (median) training time of one epoch, validation scoring
            excluded.
        curve: The objective's validation score after each epoch, the value the search
            maximises (the selection metric; RMSE enters negated).
        first_epoch_seconds: Seconds of the first epoch with its validation scoring and the
            model's construction (a new model's first epoch also pays for tracing), to foresee
            what a refit costs.
        test_result: Per-user test metrics (ranking) or the test rows' predictions (click and
            rating tasks), kept in memory for paired comparisons.
        valid_result: Per-user validation metrics (kept for the baselines, in memory).
        weights: The trained model's weights, kept in memory by the process that trained it
            (to refresh the model on later stages instead of training it again).
        members: The candidates an ensemble averages (family ``ensemble``; in memory only,
            ``params["members"]`` names them).
    """

    family: str
    model: str
    params: dict[str, Any]
    status: str = COMPLETE
    reason: str = ""
    valid: dict[str, float] = field(default_factory=dict)
    test: dict[str, float] = field(default_factory=dict)
    epochs: int | None = None
    seconds: float = 0.0
    n_params: int | None = None
    number: int | None = None
    epoch_seconds: float | None = None
    curve: list[float] = field(default_factory=list)
    first_epoch_seconds: float | None = None
    test_result: EvaluationResult | RowPredictions | None = field(default=None, repr=False)
    valid_result: EvaluationResult | None = field(default=None, repr=False)
    weights: list[Any] | None = field(default=None, repr=False, compare=False)
    members: list[CandidateResult] | None = field(default=None, repr=False, compare=False)

    def valid_score(self, metric: str, k: int) -> float:
        """The validation value of ``metric`` at ``k`` (``-inf`` when not complete)."""
        if self.status != COMPLETE:
            return float("-inf")
        return self.valid.get(f"{metric}@{k}", float("-inf"))


    def to_record(self) -> dict[str, Any]:
        """The persistent part of the result, as JSON-ready data."""
        return {"family": self.family, "model": self.model, "params": self.params,
                "status": self.status, "reason": self.reason, "valid": self.valid,
                "test": self.test, "epochs": self.epochs, "seconds": self.seconds,
                "n_params": self.n_params, "number": self.number,
                "epoch_seconds": self.epoch_seconds, "curve": self.curve,
                "first_epoch_seconds": self.first_epoch_seconds}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CandidateResult:
        """Rebuild a result from :meth:`to_record` output."""
        return cls(**record)


def leaderboard_frame(results: list[CandidateResult], k: int,
                      task: str = RANKING) -> pd.DataFrame:
    """The leaderboard as a table, one row per candidate, in the order they ran: the task's
    figures on validation and test (``valid_ndcg@10``... for ranking, ``valid_auc``... for
    click prediction, ``valid_rmse``... for ratings)."""
    rows = []
    for result in results:
        row: dict[str, Any] = {
            "family": result.family,
            "trial": result.number,
            "model": result.model,
            "params": json.dumps(result.params, sort_keys=True),
            "status": result.status,
            "reason": result.reason,
        }
        for split, metrics in (("valid", result.valid), ("test", result.test)):
            for name in figures_of(task, k):
                row[f"{split}_{name}"] = metrics.get(name)
        if task == RANKING:
            row[f"test_coverage@{k}"] = result.test.get(f"coverage@{k}")
            row[f"test_popularity@{k}"] = result.test.get(f"popularity@{k}")
            for name in _WARM_AND_COLD:
                row[f"test_{name}".format(k=k)] = result.test.get(name.format(k=k))
        row["epochs"] = result.epochs
        row["seconds"] = round(result.seconds, 3)
        row["seconds_per_epoch"] = (None if result.epoch_seconds is None
                                    else round(result.epoch_seconds, 3))
        row["n_params"] = result.n_params
        row["curve"] = json.dumps([round(v, 6) for v in result.curve]) if result.curve else ""
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in ("trial", "epochs", "n_params"):
        frame[column] = frame[column].astype("Int64")
    # The warm and cold columns only where some test target is cold.
    optional = [f"test_{name}".format(k=k) for name in _WARM_AND_COLD]
    return frame.drop(columns=[c for c in optional if c in frame and frame[c].isna().all()])


def write_leaderboard(results: list[CandidateResult], k: int, path: Path,
                      task: str = RANKING) -> None:
    """Write the leaderboard CSV (atomically: a temporary file, then a rename)."""
    temporary = path.with_suffix(".csv.tmp")
    leaderboard_frame(results, k, task).to_csv(temporary, index=False)
    temporary.replace(path)


def candidate_name(result: CandidateResult) -> str:
    """How reports name a candidate: ``ease`` for a baseline, ``mlp/neumf #3`` for a trial,
    ``ensemble/caser #0 + sasrec #2`` for an ensemble."""
    if result.family == "baselines":
        return result.model
    name = result.family if result.model in (result.family, "-") else (
        f"{result.family}/{result.model}")
    return name if result.number is None else f"{name} #{result.number}"


def warm_and_cold_table(results: list[CandidateResult], k: int) -> dict[str, Any] | None:
    """The test figures on warm and cold targets of each candidate scored on test, best cold
    HR@K first: ``warm_cases``, ``cold_cases`` and ``rows`` of (candidate, warm NDCG@K, warm
    HR@K, cold NDCG@K, cold HR@K). ``None`` when no test target is cold."""
    tested = [r for r in results if r.test.get("cold_cases")]
    if not tested:
        return None
    rows = sorted(((candidate_name(r), r.test.get(f"warm_ndcg@{k}"), r.test.get(f"warm_hr@{k}"),
                    r.test.get(f"cold_ndcg@{k}"), r.test.get(f"cold_hr@{k}")) for r in tested),
                  key=lambda row: -(row[4] or 0.0))
    return {"warm_cases": int(tested[0].test.get("warm_cases", 0)),
            "cold_cases": int(tested[0].test["cold_cases"]), "rows": rows}


def feature_use_table(results: list[CandidateResult], metric: str) -> list[dict[str, Any]] | None:
    """How each family's trials used the item table, from the ``item_features`` choice of its
    trials with a validation figure (any rung): per family, the trials and the best
    validation ``metric`` with attributes and with ids only, and which did better where both
    were tried (``helped``: ``attributes``, ``ids only`` or ``not compared``). ``None`` when no
    trial had the choice. An ensemble is no family's trial (its members are counted in theirs)."""
    rows = []
    for family in dict.fromkeys(r.family for r in results if r.family not in NOT_TRIALS):
        trials = [r for r in results if r.family == family and "item_features" in r.params
                  and r.valid.get(metric) is not None]
        if not trials:
            continue
        row: dict[str, Any] = {"family": family}
        for choice, key in (("attributes", "with"), ("none", "without")):
            values = [float(r.valid[metric]) for r in trials
                      if r.params["item_features"] == choice]
            row[f"{key}_trials"] = len(values)
            row[f"{key}_best"] = max(values) if values else None
        if row["with_best"] is None or row["without_best"] is None:
            row["helped"] = "not compared"
        else:
            row["helped"] = ("attributes" if row["with_best"] > row["without_best"]
                             else "ids only")
        rows.append(row)
    return rows or None


def unranked_items_sentence(winner: dict[str, Any], new_items: int,
                            use: list[dict[str, Any]] | None, metric: str) -> str | None:
    """What the selection means for the item table's items that the log never names, in one
    sentence for the terminal and the report: a selected model that learnt items from their
    interactions only (ids only, or a baseline that needs no attributes) never lists them, and
    the sentence says which trials could have (``None`` when there are no such items or the
    selected model ranks them from their attributes).

    Args:
        winner: The selected model's ``family``, ``model`` and ``params``.
        new_items: Items of the item table that the log never names.
        use: :func:`feature_use_table`'s rows (``None``: no trial had the choice).
        metric: The objective's name, for the figures.
    """
    if new_items <= 0 or _ranks_from_attributes(winner):
        return None
    plural = "s" if new_items != 1 else ""
    sentence = (f"The selected model ranks only items it learnt from interactions: the "
                f"{new_items:,} item{plural} of the item table that the log never names "
                f"{'are' if plural else 'is'} in none of its lists")
    them = "them" if plural else "it"
    compared = [row for row in use or () if row.get("with_best") is not None]
    if not compared:
        return (sentence + f"; a design with item features (item_features: attributes) or "
                f"the content baseline would rank {them}.")
    best = max(compared, key=lambda row: row["with_best"])
    return (sentence + f"; trials with attributes rank {them} (the best: {best['family']}, "
            f"valid {metric} {best['with_best']:.4f}), and so would the content baseline.")


def _ranks_from_attributes(winner: dict[str, Any]) -> bool:
    """Whether the selected model scores items from the item table's attributes: a baseline
    that needs them, or a design with ``item_features: attributes``."""
    if winner.get("family") == "baselines":
        from automl_rec.models.baselines import BASELINES

        baseline = BASELINES.get(str(winner.get("model")))
        return bool(baseline is not None and baseline.needs_item_attributes)
    return winner.get("params", {}).get("item_features") == "attributes"


def left_out(results: list[CandidateResult]) -> list[dict[str, Any]]:
    """The baselines and families that gave no model to compare: those skipped (with their
    reason) and searched families none of whose trials completed (with their statuses)."""
    entries = [{"family": r.family, "model": r.model if r.family == "baselines" else None,
                 "status": r.status, "reason": r.reason}
                for r in results if r.status == SKIPPED]
    trials: dict[str, list[CandidateResult]] = {}
    for result in results:
        if result.family != "baselines" and result.status != SKIPPED:
            trials.setdefault(result.family, []).append(result)
    for family, runs in trials.items():
        if any(r.status == COMPLETE for r in runs):
            continue
        counts: dict[str, int] = {}
        for run in runs:
            counts[run.status] = counts.get(run.status, 0) + 1
        entries.append({
            "family": family, "model": None, "status": "no complete trial",
            "reason": f"none of its {len(runs)} trial{'s' if len(runs) != 1 else ''} completed "
                      f"({', '.join(f'{n} {status}' for status, n in counts.items())})"})
    return entries
