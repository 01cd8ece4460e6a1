"""The pointwise designs (mlp, attention, lstm, cnn) train, repeat, and learn planted structure."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl_rec.data.feedback import read_positives
from automl_rec.data.splitting import TEST, TRAIN
from automl_rec.evaluation.pointwise import task_metrics
from automl_rec.models.pointwise import PointwiseModel, pointwise_model, train_pointwise
from automl_rec.models.pointwise_baselines import Biases
from automl_rec.tasks import CTR, RATING
from automl_rec.tasks.designs import DESIGNS, unsupported_reason
from automl_rec.tasks.rows import RowFold, split_rows, task_rows
from automl_rec.tuning.baselines import run_pointwise_baseline
from tests.tasks.test_pointwise import click_log

PARAMS = {"embedding_dim": 16, "hidden_layers": 1, "hidden_units": 32, "dropout": 0.0,
          "l2": 0.0, "learning_rate": 0.01, "batch_size": 256, "cross_layers": 2,
          "history_length": 8}


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
    train = split.rows((TRAIN,), history=PARAMS["history_length"])
    first = RowFold(train.users[:50], train.items[:50], train.labels[:50],
                    train.histories[:50], train.history_labels[:50], activity=train.activity[:50])
    runs = []
    for _ in range(2):
        model = pointwise_model({**PARAMS, "design": design}, task, split.n_users,
                                split.n_items, float(train.labels.mean()), seed=5)
        loss = model.fit_epoch(train)
        runs.append((loss, model.predict(first)))
    assert np.isfinite(runs[0][0]) and runs[0][0] == pytest.approx(runs[1][0], rel=1e-5)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-4)
    if task == CTR:
        assert ((runs[0][1] > 0) & (runs[0][1] < 1)).all()
    unknown = model.predict(RowFold(np.array([-1, split.n_users + 3]), np.array([0, -1]),
                                    np.zeros(2), train.histories[:2], train.history_labels[:2],
                                        activity=train.activity[:2]))
    assert np.isfinite(unknown).all()


def test_a_design_other_than_the_tasks_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of the rating designs"):
        PointwiseModel({**PARAMS, "design": "deepfm"}, RATING, 3, 3, 3.0, seed=0)


def test_matrix_factorisation_finds_the_taste_the_biases_miss(ratings: Any) -> None:
    model, curve = train_pointwise({**PARAMS, "design": "mf", "l2": 1e-4}, ratings,
                                   max_epochs=20, patience=3, seed=1)
    test = ratings.fold(TEST)
    figures = task_metrics(RATING, test, model.predict(test))
    biases = run_pointwise_baseline(Biases, ratings).test
    assert len(curve) >= 2
    assert figures["rmse"] < 0.95 * biases["rmse"]


def test_a_click_design_learns_the_propensities(clicks: Any) -> None:
    model, _ = train_pointwise({**PARAMS, "design": "deepfm", "l2": 1e-4}, clicks,
                               max_epochs=10, patience=2, seed=1)
    test = clicks.fold(TEST)
    assert task_metrics(CTR, test, model.predict(test))["auc"] > 0.7


def new_users_log(n_users: int = 1000, n_items: int = 100, per_user: int = 12,
                  seed: int = 3) -> pd.DataFrame:
    """Users who come one after another, each clicking mostly the items of one interest (one of
    10 item groups): the test rows are the last users', whom no training row shows, so only
    the clicks earlier in their own rows tell their interest."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        interest = rng.integers(0, 10)
        for step in range(per_user):
            item = rng.integers(0, n_items)
            p = 0.9 if item % 10 == interest else 0.02
            rows.append((str(user), str(item), int(rng.random() < p), user * per_user + step))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "clicked", "timestamp"])


@pytest.mark.parametrize("design", ["din", "gru"])
def test_a_history_design_reads_a_new_users_interest(design: str) -> None:
    split = split_rows(task_rows(read_positives(new_users_log(n_users=400, per_user=30), {}), CTR), CTR,
                       has_order=True, seed=0)
    test_aucs = {}
    for name in (design, "wide_deep"):
        # Validation and test rows read the user's clicks before each of them, those of their
        # own fold too: the users of both folds are new.
        model, _ = train_pointwise(
            {**PARAMS, "design": name, "l2": 1e-4, "history_length": 4}, split, max_epochs=15,
            patience=3, seed=1)
        test = model.fold(TEST)
        test_aucs[name] = task_metrics(CTR, test, model.predict(test))["auc"]
    assert test_aucs[design] > test_aucs["wide_deep"] + 0.08, test_aucs


def new_users_rates_log(n_users: int = 300, n_items: int = 50, per_user: int = 30,
                        seed: int = 5) -> pd.DataFrame:
    """Users who come one after another, each clicking any item with a propensity of their own
    (0.15 or 0.75): only a new user's rows so far, the exposures without a click included,
    tell the propensity (a history of the clicks alone does not say how many rows it took)."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        rate = 0.75 if rng.random() < 0.5 else 0.15
        for step in range(per_user):
            rows.append((str(user), str(rng.integers(0, n_items)), int(rng.random() < rate),
                         user * per_user + step))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "clicked", "timestamp"])


def test_the_count_of_a_users_rows_tells_a_new_users_click_rate() -> None:
    split = split_rows(task_rows(read_positives(new_users_rates_log(), {}), CTR), CTR,
                       has_order=True, seed=0)
    test_aucs = {}
    for activity in ("counts", "none"):
        model, _ = train_pointwise(
            {**PARAMS, "design": "din", "l2": 1e-4, "history_length": 4,
             "user_activity": activity}, split, max_epochs=10, patience=3, seed=1)
        assert model.model.reads_activity == (activity == "counts")
        test = model.fold(TEST)
        test_aucs[activity] = task_metrics(CTR, test, model.predict(test))["auc"]
    assert test_aucs["counts"] > 0.7
    assert test_aucs["counts"] > test_aucs["none"] + 0.05, test_aucs


def test_item_autorec_finds_the_taste_the_biases_miss(ratings: Any) -> None:
    model, _ = train_pointwise({"design": "autorec", "hidden_units": 64, "l2": 1e-3,
                                "learning_rate": 0.01, "batch_size": 32}, ratings,
                               max_epochs=40, patience=5, seed=1)
    test = ratings.fold(TEST)
    figures = task_metrics(RATING, test, model.predict(test))
    biases = run_pointwise_baseline(Biases, ratings).test
    assert figures["rmse"] < 0.95 * biases["rmse"]


def test_the_autoencoder_family_says_why_it_has_no_click_design() -> None:
    assert "no autoencoder design is known" in unsupported_reason("autoencoder", CTR)
    assert unsupported_reason("autoencoder", RATING) is None
    with pytest.raises(ValueError, match="no autoencoder design"):
        pointwise_model({"design": "autorec"}, CTR, 3, 3, 0.5, seed=0)
