"""The log's context columns in the click and rating tasks: typed in the profile, coded from
the training rows alone, read by the models and the references, and coded again inside the
SavedModel from raw values, exactly as in the fit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl_rec import AutoRecommender
from automl_rec.data.features import ContextCoder, context_input_names
from automl_rec.data.profiling import profile_log
from automl_rec.data.splitting import TEST, TRAIN
from automl_rec.evaluation.pointwise import auc
from automl_rec.models.pointwise import train_pointwise
from automl_rec.models.pointwise_baselines import Logistic
from automl_rec.tasks.rows import split_rows, task_rows
from tests.tasks.test_pointwise import click_log

DEVICES = np.array(["phone", "tablet", "desktop", "tv"])
DEVICE_EFFECT = np.array([1.6, -0.4, 0.3, -1.8])


def context_log(rows: int = 6_000, seed: int = 3) -> pd.DataFrame:
    """A click log whose clicks depend mostly on the row's device and the slot the item was
    shown in (context), a little on the user and the item; plus a page title (free text) and
    the tags of the page (several values a row)."""
    frame = click_log(n_users=100, n_items=40, rows=rows, seed=seed)
    rng = np.random.default_rng(seed + 1_000)  # draws apart from the log's own
    device = rng.integers(0, len(DEVICES), rows)
    slot = rng.integers(1, 21, rows)
    logit = DEVICE_EFFECT[device] - 0.12 * (slot - 10) + 0.3 * (frame["clicked"] - 0.5)
    clicked = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    words = np.array(["summer", "sale", "shoes", "new", "arrivals", "winter", "coats", "deal"])
    titles = [" ".join(rng.choice(words, 4)) + f" {n}" for n in range(rows)]
    tags = ["|".join(rng.choice(["a", "b", "c", "d"], 2, replace=False)) for _ in range(rows)]
    return frame.assign(clicked=clicked, device=DEVICES[device], slot=slot.astype(str),
                        page_title=titles, tags=tags)


def test_the_profile_types_the_context_columns() -> None:
    _, profile = profile_log(context_log(rows=2_000), {})
    kinds = {c["name"]: c["kind"] for c in profile.features["context"]["columns"]}
    assert kinds == {"device": "categorical", "slot": "numeric", "page_title": "ignored",
                     "tags": "multi"}
    reasons = {c["name"]: c["reason"] for c in profile.features["context"]["columns"]}
    assert "free text" in reasons["page_title"] and "quantile bins" in reasons["slot"]


def test_context_codes_come_from_the_training_rows_only() -> None:
    log = context_log(rows=2_000)
    log.loc[log.index[-300:], "device"] = "watch"  # only in the latest rows (test)
    split = split_rows(task_rows(_positives(log), "ctr"), "ctr", has_order=True, seed=0)
    coders = {c.name: c for c in split.fields.coders}
    assert set(coders) == {"device", "slot", "tags"}
    assert "watch" not in coders["device"].tokens
    device = split.fields.context[[c.name for c in split.fields.coders].index("device")]
    assert (device.codes[split.folds == TEST][-200:] == 0).all()  # unseen: no code
    assert (device.codes[split.folds == TRAIN] > 0).all()
    fold = split.fold(TRAIN)
    assert len(fold.context) == 3 and fold.context[0].shape[0] == len(fold)


def test_the_serving_graph_codes_raw_values_as_the_fit_does() -> None:
    import tensorflow as tf

    from automl_rec.tasks.serving import ContextGraph

    numeric = ContextCoder("slot", "numeric", edges=(2.0, 5.5, 10.0))
    categorical = ContextCoder("device", "categorical", tokens=("phone", "tv"))
    multi = ContextCoder("tags", "multi", tokens=("a", "b", "c"), separator="|", width=2)
    values = {
        numeric: ["1", " 2", "5.5", "7", "1e3", "-3", "", "n/a", "+4", ".5"],
        categorical: ["phone", " tv ", "radio", "", "PHONE"],
        multi: ["a|b", "c", "x|a|b|c", "", "b | x", "|||"],
    }
    for coder, raw in values.items():
        expected = coder.codes(pd.Series(raw, dtype=object))
        coded = ContextGraph(coder)(tf.constant(raw)).numpy()
        np.testing.assert_array_equal(coded, expected)
    assert numeric.codes(pd.Series(["1", "2", "5.5", "1e3", "n/a"], dtype=object))[:, 0] \
        .tolist() == [1, 2, 3, 4, 0]
    assert multi.codes(pd.Series(["x|a|b|c"], dtype=object)).tolist() == [[1, 2]]
    assert context_input_names([categorical, ContextCoder("Device", "categorical"),
                                ContextCoder("page type", "categorical")]) == [
        "context_device", "context_device_", "context_page_type"]


def test_models_and_the_logistic_reference_learn_from_the_context() -> None:
    split = split_rows(task_rows(_positives(context_log()), "ctr"), "ctr", has_order=True,
                       seed=0)
    test = split.fold(TEST)
    params = {"design": "deepfm", "embedding_dim": 8, "hidden_layers": 1, "hidden_units": 16,
              "dropout": 0.0, "l2": 0.0, "learning_rate": 0.01, "batch_size": 256}
    with_context, _ = train_pointwise({**params, "features": "attributes"}, split,
                                      max_epochs=4, seed=0)
    ids_only, _ = train_pointwise({**params, "features": "none"}, split, max_epochs=4, seed=0)
    reading = auc(test.labels, with_context.predict(test))
    assert reading > auc(test.labels, ids_only.predict(test)) + 0.1
    logistic = Logistic(c=1.0).fit(split.fold(TRAIN), split.n_users, split.n_items,
                                   fields=split.fields)
    assert auc(test.labels, logistic.predict(test)) > 0.7


@pytest.fixture(scope="module")
def context_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[AutoRecommender, Path]:
    out = tmp_path_factory.mktemp("context")
    model = AutoRecommender(["baselines", "mlp"], max_trials=2, max_epochs=3, patience=1,
                            seed=0, output_dir=out)
    return model.fit(context_log()), out


def test_the_saved_model_codes_the_raw_context_of_a_row(
        context_run: tuple[AutoRecommender, Path]) -> None:
    import tensorflow as tf

    model, out = context_run
    metadata = json.loads((out / "metadata.json").read_text())
    contract = metadata["serving"]["predict"]
    assert contract["context"] == {"device": "context_device", "slot": "context_slot",
                                   "tags": "context_tags"}
    assert contract["inputs"][:2] == ["user_id", "item_id"]
    rows = {"user_id": ["1", "1", "2", "nobody"], "item_id": ["3", "3", "5", "5"]}
    context = {"device": ["phone", "tv", "tablet", "phone"], "slot": ["1", "20", "7", ""],
               "tags": ["a|b", "c", "", "d|a"]}
    in_process = model.predict(rows["user_id"], rows["item_id"], context)
    loaded = tf.saved_model.load(str(out / "model"))
    saved = loaded.signatures["predict"](
        **{k: tf.constant(v) for k, v in rows.items()},
        **{contract["context"][c]: tf.constant(v) for c, v in context.items()}
    )["prediction"].numpy()
    np.testing.assert_allclose(saved, in_process, rtol=1e-5, atol=1e-6)
    assert in_process[0] > in_process[1]  # a phone in the first slot beats a tv in the last
    again = AutoRecommender.load(out)
    np.testing.assert_allclose(again.predict(rows["user_id"], rows["item_id"],
                                             pd.DataFrame(context)), in_process,
                               rtol=1e-5, atol=1e-6)
    lists = loaded.signatures["serving_default"](user_id=tf.constant(["1"]))
    assert lists["item_ids"].shape[1] == 10
    example = metadata["examples"][0]
    assert set(example["context"]) == {"device", "slot", "tags"}
    html = (out / "report.html").read_text()
    assert "Context columns of the log" in html and "context_device=tf.constant" in html


def test_evaluate_reads_the_context_of_held_out_rows(
        context_run: tuple[AutoRecommender, Path]) -> None:
    model, out = context_run
    later = context_log(rows=800, seed=9)
    figures = AutoRecommender.load(out).evaluate(later)
    predictions = model.predict(later["user_id"].tolist(), later["item_id"].tolist(),
                                later[["device", "slot", "tags"]])
    assert figures["auc"] == pytest.approx(auc(later["clicked"].to_numpy(), predictions))
    assert figures["auc"] > 0.7


def _positives(log: pd.DataFrame):  # noqa: ANN202 - the validated log of a fit
    from automl_rec.data.feedback import read_positives

    return read_positives(log, {})


def test_the_keras_file_of_a_click_network_reads_back(tmp_path: Path) -> None:
    import keras

    split = split_rows(task_rows(_positives(context_log(rows=2_000)), "ctr"), "ctr",
                       has_order=True, seed=0)
    params = {"design": "din", "embedding_dim": 8, "hidden_layers": 1, "hidden_units": 16,
              "dropout": 0.0, "l2": 0.0, "id_dropout": 0.2, "learning_rate": 0.01,
              "batch_size": 256, "history_length": 5, "features": "attributes"}
    model, _ = train_pointwise(params, split, max_epochs=1, seed=0)
    network = model.model.model
    network.save(tmp_path / "model.keras")
    again = keras.saving.load_model(tmp_path / "model.keras")
    inputs = model.model.inputs_of(model.fold(TEST))
    np.testing.assert_allclose(np.asarray(again(inputs)), np.asarray(network(inputs)),
                               rtol=1e-5, atol=1e-6)
