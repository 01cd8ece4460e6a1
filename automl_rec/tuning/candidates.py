"""Every candidate of a run, evaluated the same way: baselines, then the families' search, then
one test score for the best configuration of each family the search did not screen out
(brought to train + validation), then, for the ranking task, the ensemble of those models (and
of the bridge trial, scored on test too) when validation prefers it
(:mod:`automl_rec.tuning.ensemble`)."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automl_rec.data.profiling import DataProfile
from automl_rec.data.splitting import Split
from automl_rec.leaderboard import COMPLETE, SKIPPED, CandidateResult
from automl_rec.models.baselines import BASELINES
from automl_rec.models.pointwise_baselines import baselines_of
from automl_rec.spaces import SearchSpace
from automl_rec.tasks import RANKING
from automl_rec.tasks.rows import RowSplit
from automl_rec.tuning.backends import make_backend
from automl_rec.tuning.baselines import run_baseline, run_pointwise_baseline
from automl_rec.tuning.budget import Budget
from automl_rec.tuning.ensemble import (MAX_MEMBERS, TestModel, bridge_trial,
                                        ensemble_candidate)
from automl_rec.tuning.search import (SCREENED_OUT, SearchObserver, fingerprint,
                                      prepare_families, run_search)
from automl_rec.tuning.trial import TrialSettings, model_on_stage


@dataclass
class SearchConfig:
    """Everything that shapes a run's search (the ``fit`` arguments, checked)."""

    families: list[str]
    settings: TrialSettings
    budget: Budget
    tuner: str = "optuna"
    seed: int = 0
    directory: Path | None = None
    storage: str | None = None
    study_name: str = "automl-rec"
    spaces: dict[str, SearchSpace] = field(default_factory=dict)
    heartbeat: int | None = None
    record: dict[str, Any] = field(default_factory=dict)
    ensemble: bool = True


def evaluate_candidates(
    split: Split,
    profile: DataProfile,
    config: SearchConfig,
    observer: SearchObserver | None = None,
) -> list[CandidateResult]:
    """Run the baselines and the search; score each family's best configuration on test.

    Returns:
        Baseline results, then every trial (and a ``skipped`` record per family that does not
        apply), with test metrics on each baseline and on each family's best trial.
    """
    settings = config.settings
    results = baseline_results(split, settings, config.seed)
    families = [name for name in config.families if name != "baselines"]
    if not families:
        return results
    spaces, skipped = prepare_families(families, profile, config.spaces, settings.task,
                                       getattr(split, "ordered", True))
    results += skipped
    if spaces:
        ensembling = config.ensemble and settings.task == RANKING
        backend = make_backend(config.tuner, directory=config.directory, storage=config.storage,
                               study_name=config.study_name, seed=config.seed,
                               max_epochs=settings.max_epochs,
                               fingerprint=fingerprint(split, settings, config.seed),
                               heartbeat=config.heartbeat, max_trials=config.budget.max_trials)
        reference = popularity_reference(results, settings)
        outcome = run_search(split, spaces, backend, settings, config.budget, seed=config.seed,
                             observer=observer, record={**config.record, REFERENCE: reference},
                             reference=reference, final_refits=2 if ensembling else 1,
                             judged=MAX_MEMBERS if ensembling else 0)
        trials = outcome.results
        searched = {t.family for t in trials}
        results += [CandidateResult(family, "-", {}, SKIPPED,
                                    "the budget ran out before its first trial")
                    for family in spaces if family not in searched]
        test_models: dict[int, TestModel] = {}
        for family in spaces:
            complete = [t for t in trials if t.family == family and t.status == COMPLETE]
            if complete:
                best = max(complete, key=lambda t: settings.objective.score(t.valid))
                if family in outcome.screened_out:
                    # Not promoted: its validation score ranks it; no time goes to its refit.
                    best.reason = best.reason or SCREENED_OUT
                    best.weights = None
                else:
                    tested = score_on_test(best, split, settings, config.seed)
                    if ensembling:  # kept for the ensemble's test score
                        test_models[id(best)] = tested
        if ensembling:
            bridge = bridge_trial([t for t in trials if t.family in spaces
                                   and t.family not in outcome.screened_out],
                                  settings.objective.score)
            if bridge is not None and id(bridge) not in test_models \
                    and bridge.weights is not None:
                test_models[id(bridge)] = score_on_test(bridge, split, settings, config.seed)
        results += trials
        if ensembling:
            ensemble = ensemble_candidate(trials, test_models, split, settings, config.seed,
                                          config.budget.left())
            results += [ensemble] if ensemble is not None else []
    return results


logger = logging.getLogger("automl_rec")

REFERENCE = "screening_reference"  # the run record's key for the popularity reference


def popularity_reference(baselines: list[CandidateResult],
                         settings: TrialSettings) -> float | None:
    """The screening rung's reference (see :func:`~automl_rec.tuning.search.run_search`): the
    popularity baseline's validation objective plus two standard errors of it over the
    validation users, the score a model must pass to be clearly better than popularity;
    ``None`` without the baseline."""
    for result in baselines:
        if result.model == "popularity" and result.valid_result is not None:
            values = result.valid_result.per_user(settings.metric)
            spread = float(values.std(ddof=1)) / math.sqrt(len(values)) if len(values) > 1 else 0.0
            return float(values.mean()) + 2 * spread
    return None


def baseline_results(split: Split | RowSplit, settings: TrialSettings,
                     seed: int) -> list[CandidateResult]:
    """Every reference baseline of the task, tuned on validation and scored on test."""
    if settings.task != RANKING:
        assert isinstance(split, RowSplit)
        return [run_pointwise_baseline(baseline, split, seed=seed)
                for baseline in baselines_of(settings.task)]
    return [run_baseline(baseline, split, metric=settings.metric, k=settings.k)
            for baseline in BASELINES.values()
            if not baseline.needs_item_attributes or split.item_attributes is not None]


def score_on_test(result: CandidateResult, split: Split | RowSplit, settings: TrialSettings,
                  seed: int) -> TestModel:
    """The model of a trial's configuration on train + validation, scored on the test split
    (fills ``result.test`` and, for the ranking task, ``result.test_result``); returns that
    model with the seconds it took.

    The model is :func:`~automl_rec.tuning.trial.model_on_stage`'s, as the exported one is.
    """
    started = time.perf_counter()
    model = model_on_stage(result, split, "train_valid", seed, settings.task, settings.k)
    result.test, result.test_result = settings.objective.test(model, split)
    seconds = time.perf_counter() - started
    result.seconds += seconds
    logger.info("test score of %s #%s: %.1f s (model brought to train + validation and "
                "scored)", result.family, result.number, seconds)
    return TestModel(model, seconds)
