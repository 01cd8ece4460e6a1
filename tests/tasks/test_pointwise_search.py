"""The search of the pointwise tasks: the same search as ranking's, judged by AUC or RMSE."""

from __future__ import annotations

from typing import Any

import pytest

from automl_rec.data.feedback import read_positives
from automl_rec.data.profiling import profile_interactions
from automl_rec.leaderboard import COMPLETE, SKIPPED
from automl_rec.tasks import CTR, RATING
from automl_rec.tasks.designs import NO_CLICK_DESIGN, pointwise_space
from automl_rec.tasks.rows import split_rows, task_rows
from automl_rec.tuning.budget import Budget
from automl_rec.tuning.candidates import SearchConfig, evaluate_candidates
from automl_rec.tuning.trial import TrialSettings
from tests.tasks.test_pointwise import click_log
from tests.tasks.test_pointwise_models import low_rank_ratings


def search(frame: Any, task: str, families: list[str], trials: int) -> list[Any]:
    data = read_positives(frame, {})
    split = split_rows(task_rows(data, task), task, has_order=True, seed=0)
    config = SearchConfig(families=["baselines", *families],
                          settings=TrialSettings(max_epochs=6, patience=2, task=task),
                          budget=Budget(max_trials=trials), seed=0)
    return evaluate_candidates(split, profile_interactions(data), config)


def test_the_click_search_runs_every_family_with_a_click_design_against_the_baselines(
) -> None:
    results = search(click_log(), CTR, ["mlp", "attention", "autoencoder"], trials=2)
    baselines = {r.model: r for r in results if r.family == "baselines"}
    assert set(baselines) == {"logistic", "gbdt"}
    skipped = [r for r in results if r.status == SKIPPED]
    assert [(r.family, r.reason) for r in skipped] == [("autoencoder", NO_CLICK_DESIGN)]
    trials = [r for r in results if r.family in ("mlp", "attention")]
    assert {r.family for r in trials} == {"mlp", "attention"}
    for trial in trials:
        assert trial.status == COMPLETE and 0.5 < trial.valid["auc"] <= 1.0
        assert trial.curve and trial.epochs is not None
        # Each family's best is brought to train + validation and scored on the test rows.
        assert {"auc", "logloss", "gauc"} <= set(trial.test)
    # The default click design of the mlp family is DeepFM.
    assert next(r for r in trials if r.family == "mlp").params["design"] == "deepfm"


def test_the_rating_search_early_stops_on_rmse_and_beats_the_biases() -> None:
    results = search(low_rank_ratings(), RATING, ["mlp", "autoencoder"], trials=2)
    biases = next(r for r in results if r.model == "biases")
    mf = next(r for r in results if r.family == "mlp")
    autorec = next(r for r in results if r.family == "autoencoder")
    assert mf.params["design"] == "mf" and autorec.params["design"] == "autorec"
    assert mf.status == autorec.status == COMPLETE
    # The curve is the negated RMSE after each epoch; the kept epoch is the lowest RMSE.
    assert mf.valid["rmse"] == pytest.approx(-max(mf.curve))
    assert mf.test["rmse"] < biases.test["rmse"]


def test_the_spaces_hold_only_the_task_designs() -> None:
    assert pointwise_space("mlp", CTR)["design"].choices == ("wide_deep", "deepfm", "dcn")
    assert pointwise_space("mlp", RATING).defaults()["design"] == "mf"
    assert pointwise_space("attention", RATING)["design"].choices == ("din",)
    # Without a time order there is no history before a row: only the designs without one.
    assert pointwise_space("mlp", CTR, ordered=False)["design"].choices == (
        "wide_deep", "deepfm", "dcn")
