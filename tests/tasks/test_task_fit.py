"""Click and rating fits as a user runs them: the task stated with its reason, the row split,
selection by the task's objective, the paired comparison on the test rows, the export with its
``predict`` signature (read back with TensorFlow alone), the report and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl_rec import AutoRecommender
from automl_rec.cli import main
from automl_rec.errors import ConfigurationError, DataValidationError
from automl_rec.evaluation.pointwise import auc
from tests.tasks.test_pointwise import click_log, rating_log

FAST = {"max_epochs": 2, "patience": 1, "seed": 0}


@pytest.fixture(scope="module")
def click_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[AutoRecommender, Path]:
    out = tmp_path_factory.mktemp("ctr")
    model = AutoRecommender(["baselines", "mlp"], max_trials=2, output_dir=out, **FAST)
    return model.fit(click_log(n_users=120, n_items=50, rows=5_000)), out


def test_a_click_log_is_click_prediction_with_its_reason(
        click_run: tuple[AutoRecommender, Path]) -> None:
    model, out = click_run
    assert model.task_.name == "ctr" and model.task_.inferred
    assert "0/1 label" in model.task_.reason
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["task"]["name"] == "ctr"
    protocol = metadata["protocol"]
    assert protocol["name"] == "global_temporal" and protocol["metric"] == "auc"
    assert protocol["rows"] == {"train": 4_000, "valid": 500, "test": 500}
    leaderboard = pd.read_csv(out / "leaderboard.csv")
    assert {"valid_auc", "test_auc", "test_logloss", "test_gauc", "test_ece"} <= set(
        leaderboard.columns)
    assert set(leaderboard["model"]) >= {"logistic", "gbdt"}


def test_the_winner_has_the_best_validation_auc_and_a_paired_interval(
        click_run: tuple[AutoRecommender, Path]) -> None:
    model, _ = click_run
    complete = [r for r in model.results_ if r.status == "complete" and "auc" in r.valid]
    assert model.valid_metrics_["auc"] == max(r.valid["auc"] for r in complete)
    comparison = model.comparison_
    assert comparison["metric"] == "auc" and comparison["test_rows"] == 500
    for gap in comparison["gaps"]:
        assert gap["low"] <= gap["difference"] <= gap["high"]
    calibration = model.metadata_["calibration"]
    assert sum(b["rows"] for b in calibration["bins"]) == 500
    assert 0 <= calibration["ece"] <= 1


def test_the_saved_model_predicts_what_the_fit_predicts(
        click_run: tuple[AutoRecommender, Path]) -> None:
    import tensorflow as tf

    model, out = click_run
    users, items = ["3", "7", "unknown"], ["1", "2", "4"]
    in_process = model.predict(users, items)
    loaded = tf.saved_model.load(str(out / "model"))
    saved = loaded.signatures["predict"](user_id=tf.constant(users),
                                         item_id=tf.constant(items))["prediction"].numpy()
    np.testing.assert_allclose(saved, in_process, rtol=1e-5, atol=1e-6)
    assert ((saved > 0) & (saved < 1)).all()
    lists = loaded.signatures["serving_default"](user_id=tf.constant(["3"]))
    assert lists["item_ids"].shape[1] == 10
    again = AutoRecommender.load(out)
    np.testing.assert_allclose(again.predict(users, items), in_process, rtol=1e-5, atol=1e-6)


def test_evaluate_scores_held_out_rows_by_the_task(
        click_run: tuple[AutoRecommender, Path]) -> None:
    model, out = click_run
    later = click_log(n_users=120, n_items=50, rows=600, seed=5)
    figures = AutoRecommender.load(out).evaluate(later)
    predictions = model.predict(later["user_id"].tolist(), later["item_id"].tolist())
    assert figures["rows"] == 600
    assert figures["auc"] == pytest.approx(auc(later["clicked"].to_numpy(), predictions))


def test_the_report_shows_the_task_its_figures_and_the_calibration(
        click_run: tuple[AutoRecommender, Path]) -> None:
    _, out = click_run
    html = (out / "report.html").read_text()
    for words in ("global temporal split", "Calibration", "Reliability", "GAUC",
                  'signatures["predict"]'):
        assert words in html
    assert "NDCG" not in html


def test_a_rating_fit_selects_by_rmse_and_says_lower_is_better(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code = main(["fit", _written(rating_log(n_users=80, n_items=40, rows=3_000), tmp_path),
                 "--task", "rating", "--families", "baselines,mlp", "--max-trials", "2",
                 "--max-epochs", "2", "-o", str(out), "--quiet"])
    assert code == 0
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["task"] == {"name": "rating", "reason": "chosen with --task",
                                "inferred": False}
    assert metadata["protocol"]["metric"] == "rmse"
    assert metadata["protocol"]["higher_is_better"] is False
    leaderboard = pd.read_csv(out / "leaderboard.csv")
    complete = leaderboard[leaderboard["status"] == "complete"]
    assert metadata["valid_metrics"]["rmse"] == pytest.approx(complete["valid_rmse"].min())
    assert "lower is better" in (out / "report.html").read_text()


def test_a_history_design_is_evaluated_with_the_users_recent_rows(tmp_path: Path) -> None:
    """A held-out row is served with the user's earlier held-out rows as recent rows (the
    ``predict_with_recent`` signature), as the test figures are computed."""
    import tensorflow as tf

    model = AutoRecommender(["lstm"], task="rating", max_trials=1, output_dir=tmp_path,
                            **FAST).fit(rating_log(n_users=60, n_items=30, rows=2_500))
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    contract = metadata["serving"]["predict_with_recent"]
    length = contract["history_length"]
    assert length > 0 and contract["inputs"][-2:] == ["recent_item_ids", "recent_ratings"]
    later = rating_log(n_users=60, n_items=30, rows=400, seed=7).assign(
        timestamp=lambda f: f["timestamp"] + 10_000)
    recent, ratings, seen = [], [], {}
    for user, item, rating in later[["user_id", "item_id", "rating"]].itertuples(index=False):
        earlier = seen.setdefault(user, [])
        recent.append([i for i, _ in earlier][-length:])
        ratings.append([r for _, r in earlier][-length:])
        earlier.append((item, float(rating)))
    users, items = later["user_id"].tolist(), later["item_id"].tolist()
    served = model.predict(users, items, recent=recent, recent_ratings=ratings)
    truth = later["rating"].to_numpy(float)
    figures = AutoRecommender.load(tmp_path).evaluate(later)
    assert figures["rmse"] == pytest.approx(np.sqrt(np.mean((served - truth) ** 2)), rel=1e-5)
    assert not np.allclose(served, model.predict(users, items))
    loaded = tf.saved_model.load(str(tmp_path / "model"))
    width = max(len(r) for r in recent)
    saved = loaded.signatures["predict_with_recent"](
        user_id=tf.constant(users), item_id=tf.constant(items),
        recent_item_ids=tf.constant([[""] * (width - len(r)) + r for r in recent]),
        recent_ratings=tf.constant([[0.0] * (width - len(r)) + r for r in ratings]))
    np.testing.assert_allclose(saved["prediction"].numpy(), served, rtol=1e-5, atol=1e-5)
    with pytest.raises(ConfigurationError, match="ratings of the recent items"):
        model.predict(users, items, recent=recent)
    html = (tmp_path / "report.html").read_text()
    assert 'signatures["predict_with_recent"]' in html and "recent_ratings=" in html


def test_a_task_the_log_cannot_support_is_one_sentence_and_exit_code_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _written(click_log(n_users=40, n_items=20, rows=800), tmp_path)
    assert main(["fit", path, "--task", "rating", "-o", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err.strip()
    assert "rating column" in error and len(error.splitlines()) == 1
    with pytest.raises(ConfigurationError, match="Unknown task"):
        AutoRecommender(task="clicks").fit(click_log(n_users=40, n_items=20, rows=800))
    with pytest.raises(ConfigurationError, match="cold-items"):
        AutoRecommender(cold_items=0.1).fit(click_log(n_users=40, n_items=20, rows=800))
    with pytest.raises(DataValidationError, match="--positive"):
        AutoRecommender(task="ctr").fit(rating_log(n_users=40, n_items=20, rows=800))


def test_predict_is_for_the_pointwise_tasks(tmp_path: Path) -> None:
    frame = click_log(n_users=60, n_items=30, rows=2_000).drop(columns="clicked")
    model = AutoRecommender(["baselines"]).fit(frame)
    assert model.task_.name == "ranking"
    with pytest.raises(ConfigurationError, match="top-K ranking"):
        model.predict(["1"], ["2"])


def _written(frame: pd.DataFrame, folder: Path) -> str:
    path = folder / "log.csv"
    frame.to_csv(path, index=False)
    return str(path)
