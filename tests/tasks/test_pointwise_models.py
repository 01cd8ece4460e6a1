"""The mlp family's pointwise designs train, repeat, and learn planted structure."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl_rec.data.feedback import read_positives
from automl_rec.data.splitting import TEST
from automl_rec.evaluation.pointwise import task_metrics
from automl_rec.models.pointwise import DESIGNS, PointwiseModel, train_pointwise
from automl_rec.models.pointwise_baselines import Biases
from automl_rec.tasks import CTR, RATING
from automl_rec.tasks.rows import split_rows, task_rows
from automl_rec.tuning.baselines import run_pointwise_baseline
from tests.tasks.test_pointwise import click_log

PARAMS = {"embedding_dim": 16, "hidden_layers": 1, "hidden_units": 32, "dropout": 0.0,
          "l2": 0.0, "learning_rate": 0.01, "batch_size": 256, "cross_layers": 2}


def low_rank_ratings(n_users: int = 300, n_items: int = 120, rows: int = 15_000,
                     seed: int = 2) -> pd.DataFrame:
    """Ratings from user and item biases plus a rank-2 taste term: biases alone miss the taste."""
    rng = np.random.default_rng(seed)
    users, items = rng.integers(0, n_users, rows), rng.integers(0, n_items, rows)
    taste = np.sum(rng.normal(0, 1, (n_users, 2))[users] * rng.normal(0, 1, (n_items, 2))[items],
                   axis=1)
    value = (3.3 + rng.normal(0, 0.4, n_users)[users] + rng.normal(0, 0.4, n_items)[items]
             + 0.6 * taste + rng.normal(0, 0.3, rows))
    return pd.DataFrame({"user_id": users.astype(str), "item_id": items.astype(str),
                         "rating": np.clip(np.round(value * 2) / 2, 0.5, 5.0),
                         "timestamp": np.arange(rows)})


@pytest.fixture(scope="module")
def ratings() -> Any:
    return split_rows(task_rows(read_positives(low_rank_ratings(), {}), RATING), RATING,
                      has_order=True, seed=0)


@pytest.fixture(scope="module")
def clicks() -> Any:
    return split_rows(task_rows(read_positives(click_log(), {}), CTR), CTR, has_order=True,
                      seed=0)


@pytest.mark.parametrize("task, design", [(t, d) for t, ds in DESIGNS.items() for d in ds])
def test_every_design_trains_and_repeats(task: str, design: str, ratings: Any,
                                         clicks: Any) -> None:
    split = ratings if task == RATING else clicks
    train = split.fold(0)
    runs = []
    for _ in range(2):
        model = PointwiseModel({**PARAMS, "design": design}, task, split.n_users,
                               split.n_items, float(train.labels.mean()), seed=5)
        loss = model.fit_epoch(train)
        runs.append((loss, model.predict(train.users[:50], train.items[:50])))
    assert np.isfinite(runs[0][0]) and runs[0][0] == pytest.approx(runs[1][0], rel=1e-6)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-5)
    if task == CTR:
        assert ((runs[0][1] > 0) & (runs[0][1] < 1)).all()
    unknown = model.predict(np.array([-1, split.n_users + 3]), np.array([0, -1]))
    assert np.isfinite(unknown).all()


def test_a_design_other_than_the_tasks_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of the rating designs"):
        PointwiseModel({**PARAMS, "design": "deepfm"}, RATING, 3, 3, 3.0, seed=0)


def test_matrix_factorisation_finds_the_taste_the_biases_miss(ratings: Any) -> None:
    model, curve = train_pointwise({**PARAMS, "design": "mf", "l2": 1e-4}, ratings,
                                   max_epochs=20, patience=3, seed=1)
    test = ratings.fold(TEST)
    figures = task_metrics(RATING, test, model.predict(test.users, test.items))
    biases = run_pointwise_baseline(Biases, ratings).test
    assert len(curve) >= 2
    assert figures["rmse"] < 0.95 * biases["rmse"]


def test_a_click_design_learns_the_propensities(clicks: Any) -> None:
    model, _ = train_pointwise({**PARAMS, "design": "deepfm", "l2": 1e-4}, clicks,
                               max_epochs=10, patience=2, seed=1)
    test = clicks.fold(TEST)
    assert task_metrics(CTR, test, model.predict(test.users, test.items))["auc"] > 0.7
