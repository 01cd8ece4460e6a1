from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from automl_rec import AutoRecommender
from automl_rec.datasets import make_interactions
from automl_rec.models import default_space, family_module


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_interactions(n_users=100, n_items=40, mean_history=10, seed=5)


@pytest.mark.parametrize("tuner", ["hyperband", "bayesian", "random"])
def test_keras_tuner_backends_run_a_small_search(
    frame: pd.DataFrame, tmp_path: Path, tuner: str
) -> None:
    model = AutoRecommender(families=["mlp"], tuner=tuner, max_trials=2, max_epochs=2,
                            output_dir=tmp_path).fit(frame)
    trials = model.leaderboard_[model.leaderboard_["family"] == "mlp"]
    assert len(trials) == 2
    assert (trials["status"] == "complete").all()
    assert model.best_family_ == "mlp"
    assert model.test_metrics_["ndcg@10"] >= 0
    assert (tmp_path / "keras_tuner").is_dir()


def test_optuna_enqueues_the_defaults_first_and_same_seed_repeats_the_search(
    frame: pd.DataFrame,
) -> None:
    runs = [AutoRecommender(families=["mlp"], max_trials=2, max_epochs=2, seed=9).fit(frame)
            for _ in range(2)]
    boards = [r.leaderboard_[r.leaderboard_["family"] == "mlp"] for r in runs]
    space = family_module("mlp").adapt_space(default_space("mlp"), runs[0].training_profile_)
    assert json.loads(boards[0]["params"].iloc[0]) == space.defaults()
    columns = ["params", "valid_ndcg@10", "test_ndcg@10", "epochs"]
    pd.testing.assert_frame_equal(boards[0][columns].reset_index(drop=True),
                                  boards[1][columns].reset_index(drop=True))
