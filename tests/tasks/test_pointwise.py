"""The pointwise tasks' foundations (DESIGN 10): which task a log supports, the global split of
its rows, the click and rating metrics, and the honest baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl_rec.data.feedback import read_positives
from automl_rec.data.splitting import TEST, TRAIN, VALID
from automl_rec.errors import ConfigurationError, DataValidationError
from automl_rec.evaluation.pointwise import (RowPredictions, auc, click_metrics, gauc, logloss,
                                             paired_row_bootstrap, per_user_auc, rating_metrics,
                                             reliability)
from automl_rec.models.pointwise_baselines import (Biases, GradientBoosting, Logistic,
                                                   baselines_of)
from automl_rec.tasks import CTR, RANKING, RATING, choose_task, infer_task
from automl_rec.tasks.rows import (GLOBAL_TEMPORAL, RANDOM_ROWS, RowFold, histories_before,
                                   split_rows, task_rows)
from automl_rec.tuning.baselines import run_pointwise_baseline


def click_log(n_users: int = 300, n_items: int = 80, rows: int = 12_000, seed: int = 0,
              ) -> pd.DataFrame:
    """Exposures whose click probability comes from a planted user and item propensity."""
    rng = np.random.default_rng(seed)
    users, items = rng.integers(0, n_users, rows), rng.integers(0, n_items, rows)
    user_effect, item_effect = rng.normal(0, 1.2, n_users), rng.normal(0, 1.2, n_items)
    p = 1 / (1 + np.exp(-(user_effect[users] + item_effect[items] - 0.5)))
    return pd.DataFrame({"user_id": users.astype(str), "item_id": items.astype(str),
                         "clicked": (rng.random(rows) < p).astype(int),
                         "timestamp": np.arange(rows) + 1_600_000_000})


def rating_log(n_users: int = 200, n_items: int = 100, rows: int = 8_000, seed: int = 1
               ) -> pd.DataFrame:
    """Ratings = 3.5 + a user bias + an item bias + noise, clipped to 1..5."""
    rng = np.random.default_rng(seed)
    users, items = rng.integers(0, n_users, rows), rng.integers(0, n_items, rows)
    value = 3.5 + rng.normal(0, 0.6, n_users)[users] + rng.normal(0, 0.6, n_items)[items]
    value = np.clip(np.round(value + rng.normal(0, 0.5, rows)), 1, 5)
    return pd.DataFrame({"user_id": users.astype(str), "item_id": items.astype(str),
                         "rating": value, "timestamp": np.arange(rows) + 1_600_000_000})


def test_the_task_follows_the_label() -> None:
    clicks = read_positives(click_log(), {}).feedback
    assert infer_task(clicks).name == CTR
    rare = click_log().assign(clicked=lambda f: (np.arange(len(f)) % 50 == 0).astype(int))
    assert infer_task(read_positives(rare, {}).feedback).name == RANKING
    ratings = read_positives(rating_log(), {}).feedback
    choice = infer_task(ratings)
    assert choice.name == RANKING and "--task rating" in choice.reason
    assert choose_task(RATING, ratings).name == RATING
    assert not choose_task(RATING, ratings).inferred


@pytest.mark.parametrize("task, log, positive, words", [
    (CTR, "ratings", None, "--positive"),
    (RATING, "clicks", None, "rating column"),
])
def test_a_task_the_data_cannot_support_is_one_clear_error(task: str, log: str,
                                                           positive: str | None,
                                                           words: str) -> None:
    frame = rating_log() if log == "ratings" else click_log()
    with pytest.raises(DataValidationError, match=words):
        choose_task(task, read_positives(frame, {}).feedback, positive)


def test_an_unknown_task_is_an_argument_error() -> None:
    with pytest.raises(ConfigurationError, match="Unknown task 'clicks'"):
        choose_task("clicks", read_positives(click_log(), {}).feedback)


def test_star_ratings_with_a_rule_are_a_click_label() -> None:
    data = read_positives(rating_log(), {}, positive="rating>=4")
    assert choose_task(CTR, data.feedback, "rating>=4").name == CTR
    rows = task_rows(data, CTR)
    assert len(rows) == len(rating_log())
    assert rows["label"].mean() == pytest.approx((rating_log()["rating"] >= 4).mean())


def test_the_latest_rows_are_the_test_rows() -> None:
    data = read_positives(click_log(), {})
    rows = task_rows(data, CTR)
    assert len(rows) == 12_000 and set(rows["label"]) == {0.0, 1.0}
    split = split_rows(rows, CTR, has_order=True, seed=0)
    assert split.protocol == GLOBAL_TEMPORAL
    assert split.describe()["rows"] == {"train": 9_600, "valid": 1_200, "test": 1_200}
    times = np.sort(rows["time"].to_numpy())
    # Rows are stored in time order: the folds follow each other.
    assert (np.diff(split.folds) >= 0).all()
    assert split.folds[-1] == TEST and split.folds[0] == TRAIN
    assert len(times) == len(split.folds)


def test_without_an_order_the_rows_are_split_at_random_and_seeded() -> None:
    rows = task_rows(read_positives(rating_log().drop(columns="timestamp"), {}), RATING)
    first = split_rows(rows, RATING, has_order=False, seed=3)
    again = split_rows(rows, RATING, has_order=False, seed=3)
    assert first.protocol == RANDOM_ROWS
    np.testing.assert_array_equal(first.labels, again.labels)
    assert (first.folds == VALID).sum() == int(np.ceil(0.1 * len(rows)))
    other = split_rows(rows, RATING, has_order=False, seed=4)
    assert not np.array_equal(first.labels, other.labels)


def test_too_few_rows_are_refused() -> None:
    rows = task_rows(read_positives(rating_log(rows=60), {}), RATING)
    with pytest.raises(DataValidationError, match="at least 10 rows"):
        split_rows(rows, RATING, has_order=True, seed=0)


def test_auc_and_gauc_count_ordered_pairs() -> None:
    from sklearn.metrics import roc_auc_score

    labels = np.array([0, 0, 1, 1])
    assert auc(labels, [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert auc(labels, [0.4, 0.3, 0.2, 0.1]) == 0.0
    assert auc(labels, [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert np.isnan(auc([1, 1], [0.2, 0.3]))
    rng = np.random.default_rng(0)
    y, s = rng.integers(0, 2, 500), rng.random(500).round(2)
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s))
    users = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2])
    y = np.array([0, 1, 0, 1, 1, 0, 1, 0, 1])
    s = np.array([.1, .9, .2, .8, .1, .9, .2, .8, .5])
    kept, values, weights = per_user_auc(users, y, s)
    assert kept.tolist() == [0, 1] and values.tolist() == [1.0, 0.0]
    assert gauc(users, y, s) == pytest.approx(0.5)


def test_logloss_calibration_and_errors() -> None:
    assert logloss([1, 0], [0.5, 0.5]) == pytest.approx(np.log(2))
    rng = np.random.default_rng(1)
    p = rng.random(200_000)
    calibrated = (rng.random(len(p)) < p).astype(float)
    bins, error = reliability(calibrated, p)
    assert len(bins) == 10 and error < 0.01
    _, off = reliability(calibrated, np.clip(p + 0.2, 0, 1))
    assert off > 0.1
    assert rating_metrics([1, 2, 3], [2, 2, 5]) == {"rmse": pytest.approx(np.sqrt(5 / 3)),
                                                    "mae": pytest.approx(1.0)}
    assert set(click_metrics(np.zeros(4), [0, 1, 0, 1], [.2, .7, .4, .6])) == {
        "auc", "logloss", "gauc", "ece"}


def test_the_bias_baseline_beats_the_global_mean_on_planted_biases() -> None:
    split = split_rows(task_rows(read_positives(rating_log(), {}), RATING), RATING,
                       has_order=True, seed=0)
    result = run_pointwise_baseline(Biases, split)
    train, test = split.fold(TRAIN), split.fold(TEST)
    mean_only = rating_metrics(test.labels, np.full(len(test), train.labels.mean()))
    assert result.test["rmse"] < 0.9 * mean_only["rmse"]
    assert result.params in Biases.grid and set(result.valid) == {"rmse", "mae"}
    unknown = Biases(l2=1.0).fit(train, split.n_users, split.n_items).predict(
        RowFold(np.array([-1]), np.array([split.n_items + 5]), np.zeros(1)))
    assert unknown[0] == pytest.approx(train.labels.mean())


@pytest.mark.parametrize("baseline", [Logistic, GradientBoosting], ids=lambda c: c.name)
def test_click_baselines_find_the_planted_propensities(baseline: type) -> None:
    """Both id columns: 300 users take the smoothed-rate encoding in the trees (above the
    native categorical limit), 80 items stay native categories."""
    split = split_rows(task_rows(read_positives(click_log(), {}), CTR), CTR, has_order=True,
                       seed=0)
    result = run_pointwise_baseline(baseline, split)
    assert result.test["auc"] > 0.7
    assert 0 < result.test["logloss"] < 0.7 and result.test["ece"] < 0.1
    assert baseline in baselines_of(CTR) and baseline not in baselines_of(RATING)


def test_a_rows_history_holds_the_users_earlier_kept_items_only() -> None:
    users = np.array([0, 1, 0, 0, 1, 0])
    items = np.array([5, 6, 7, 8, 9, 3])
    kept = np.array([True, True, False, True, True, True])
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 2.5], np.float32)
    histories, ratings = histories_before(users, items, kept, 2, values)
    # ids are item + 1, left-padded, most recent last; row 2 (not kept) is never in a history.
    assert histories.tolist() == [[0, 0], [0, 0], [0, 6], [0, 6], [0, 7], [6, 9]]
    # The values of the same rows in the same places (0 for padding).
    assert ratings.tolist() == [[0, 0], [0, 0], [0, 1], [0, 1], [0, 2], [1, 4]]


def test_the_history_of_a_click_row_is_the_users_earlier_clicks_and_all_rows_counted() -> None:
    split = split_rows(task_rows(read_positives(click_log(rows=3_000), {}), CTR), CTR,
                       has_order=True, seed=0)
    test = split.fold(TEST, history=5)
    assert test.histories is not None and test.histories.shape == (len(test), 5)
    user = test.users[-1]
    # A held-out row's history is the user's clicks before it, its own fold's included (as
    # predict_with_recent serves a request given the user's rows since the fit).
    rows = np.flatnonzero(split.users == user)
    before = rows[rows < len(split.users) - 1]
    earlier = before[split.labels[before] == 1]
    clicked = split.items[earlier][-5:] + 1
    assert test.histories[-1][-len(clicked):].tolist() == clicked.tolist()
    assert (split.folds[earlier[-2:]] == TEST).any()  # the case this test is about
    # Every earlier row is counted, the exposures without a click too, with its label.
    assert test.activity[-1].tolist() == [len(before), float(split.labels[before].sum())]
    assert len(before) > len(earlier)
    # A model of the training stage reads no item it has no training row of.
    known = set((split.items[split.folds == TRAIN] + 1).tolist()) | {0}
    assert set(split.fold(TEST, 5, (TRAIN,)).histories.ravel().tolist()) <= known
    unordered = split_rows(task_rows(read_positives(click_log(rows=3_000), {}), CTR), CTR,
                           has_order=False, seed=0)
    assert unordered.fold(TEST, history=5).histories is None


def test_the_paired_row_bootstrap_sees_a_better_model_and_no_gap_between_equals() -> None:
    rng = np.random.default_rng(4)
    labels = (rng.random(3_000) < 0.3).astype(float)
    users = rng.integers(0, 50, 3_000)
    good = RowPredictions(users, labels, labels * 0.3 + rng.random(3_000) * 0.7)
    poor = RowPredictions(users, labels, labels * 0.05 + rng.random(3_000) * 0.95)
    interval = paired_row_bootstrap(CTR, good, poor, n_resamples=200, seed=1)
    assert interval.difference == pytest.approx(auc(labels, good.predictions)
                                                - auc(labels, poor.predictions))
    assert interval.significant and interval.low > 0
    same = paired_row_bootstrap(CTR, good, good, n_resamples=50)
    assert same.difference == same.low == same.high == 0.0
    ratings = rng.normal(3.5, 1.0, 2_000)
    close = RowPredictions(users[:2_000], ratings, ratings + rng.normal(0, 0.5, 2_000))
    far = RowPredictions(users[:2_000], ratings, ratings + rng.normal(0, 1.0, 2_000))
    gap = paired_row_bootstrap(RATING, close, far, n_resamples=200)
    assert gap.high < 0  # a lower RMSE: the difference is negative
