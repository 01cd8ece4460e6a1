"""The item and user tables in the click and rating models: codes, learning from them, export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl_rec.data.features import attribute_codes, read_features
from automl_rec.data.feedback import read_positives
from automl_rec.data.splitting import TEST, TRAIN
from automl_rec.evaluation.pointwise import task_metrics
from automl_rec.models.pointwise import StageModel, train_pointwise
from automl_rec.models.pointwise_baselines import GradientBoosting, Logistic
from automl_rec.tasks import CTR, RATING
from automl_rec.tasks.designs import DESIGNS
from automl_rec.tasks.rows import RowFields, RowFold, split_rows, task_rows, with_fields
from tests.tasks.test_pointwise_models import PARAMS

CATEGORIES = ("drama", "comedy", "horror", "war")


def catalogue(n_items: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"item_id": [f"i{k}" for k in range(n_items)],
                         "genre": rng.choice(CATEGORIES, n_items),
                         "price": rng.lognormal(3, 1, n_items).round(2)})


def people(n_users: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"user_id": [f"u{k}" for k in range(n_users)],
                         "likes": rng.choice(CATEGORIES, n_users)})


def taste_log(items: pd.DataFrame, users: pd.DataFrame, rows: int = 12_000,
              seed: int = 2) -> pd.DataFrame:
    """Clicks by the item's genre, and more when it is the one the user likes (the tables say
    it, the ids do not):
    new items keep arriving, so the last rows are mostly on items no earlier row has."""
    rng = np.random.default_rng(seed)
    # Item k first appears at row k * rows / n_items: the test rows' items are mostly new.
    newest = np.floor(np.arange(rows) / rows * len(items)).astype(int)
    item = np.maximum(newest - rng.integers(0, 6, rows), 0)
    user = rng.integers(0, len(users), rows)
    genre = pd.Categorical(items["genre"], categories=CATEGORIES).codes[item]
    match = genre == pd.Categorical(users["likes"], categories=CATEGORIES).codes[user]
    p = 1 / (1 + np.exp(-(-1.5 + np.array([-1.0, 0.0, 1.0, 0.5])[genre] + 2.5 * match)))
    return pd.DataFrame({"user_id": users["user_id"].to_numpy()[user],
                         "item_id": items["item_id"].to_numpy()[item],
                         "clicked": (rng.random(rows) < p).astype(int),
                         "timestamp": np.arange(rows) + 1_600_000_000})


@pytest.fixture(scope="module")
def tables() -> Any:
    items, users = catalogue(400), people(200)
    log = taste_log(items, users)
    split = split_rows(task_rows(read_positives(log, {}), CTR), CTR, has_order=True, seed=0)
    return split, with_fields(split, read_features(items=items, users=users))


def test_codes_follow_each_kind_and_leave_single_row_values_out() -> None:
    table = pd.DataFrame({"id": ["a", "b", "c", "d"],
                          "brand": ["x", "x", "y", "z"],
                          "tags": ["p|q", "q", "q|r", "p"],
                          "title": ["red shoe", "blue shoe", "red hat", "green sock"]})
    features = read_features(items=table, feature_types={"title": "text"})
    codes = {c.name: c for c in attribute_codes(features.items, ["b", "a", "nope"])}
    # brand: only x has two rows; y and z say nothing of another row.
    assert codes["items.brand"].vocabulary == 1
    assert codes["items.brand"].codes[:, 0].tolist() == [1, 1, 0]
    # tags: p (2 rows), q (3 rows) coded, most frequent first; r left out.
    assert codes["items.tags"].vocabulary == 2
    assert codes["items.tags"].codes.tolist() == [[1, 0], [2, 1], [0, 0]]
    # title words: shoe and red are shared.
    assert codes["items.title"].vocabulary == 2
    assert sorted(codes["items.title"].codes[1].tolist()) == [1, 2]
    assert not codes["items.title"].codes[2].any()  # an id without a row has no codes


def test_the_split_carries_codes_in_index_order(tables: Any) -> None:
    _, split = tables
    assert isinstance(split.fields, RowFields) and split.fields
    genre = next(c for c in split.fields.items if c.name == "items.genre")
    assert genre.codes.shape == (split.n_items, 1)
    raw = split.item_ids.decode(np.arange(split.n_items))
    by_code: dict[int, set[str]] = {}
    frame = catalogue(400).set_index("item_id")["genre"]
    for item, code in zip(raw, genre.codes[:, 0]):
        by_code.setdefault(int(code), set()).add(frame[item])
    assert all(len(genres) == 1 for genres in by_code.values())
    # Unknown indices get no codes.
    assert not np.concatenate(split.fields.of_rows(RowFold(np.array([-1]), np.array([-1]), np.zeros(1))), 1).any()


def test_the_tables_let_models_predict_clicks_on_new_items(tables: Any) -> None:
    plain, split = tables
    test = split.fold(TEST)
    train_items = set(split.fold(TRAIN).items.tolist())
    assert np.mean([i not in train_items for i in test.items]) > 0.5
    params = {**PARAMS, "design": "deepfm", "features": "attributes"}
    with_tables, _ = train_pointwise(params, split, max_epochs=8, seed=0)
    ids_only, _ = train_pointwise({**params, "features": "none"}, split, max_epochs=8, seed=0)
    auc = {name: task_metrics(CTR, test, model.predict(model.fold(TEST)))["auc"]
           for name, model in (("tables", with_tables), ("ids", ids_only))}
    assert auc["tables"] > 0.7 and auc["tables"] > auc["ids"] + 0.1, auc
    for baseline in (Logistic(c=1.0), GradientBoosting(learning_rate=0.1, max_leaf_nodes=15)):
        fitted = baseline.fit(split.fold(TRAIN), split.n_users, split.n_items, 0, split.fields)
        alone = type(baseline)(**baseline.params).fit(plain.fold(TRAIN), plain.n_users,
                                                      plain.n_items, 0)
        assert (task_metrics(CTR, test, fitted.predict(test))["auc"]
                > task_metrics(CTR, test, alone.predict(test))["auc"] + 0.1), baseline.name


@pytest.mark.parametrize("design", [d for d in DESIGNS[CTR]] + ["mf", "neumf"])
def test_every_design_reads_the_tables(design: str, tables: Any) -> None:
    _, split = tables
    params = {**PARAMS, "design": design, "features": "attributes", "history_length": 4}
    task = RATING if design in ("mf", "neumf") else CTR
    if task == RATING:  # the same rows with the click as a 0/1 rating
        from dataclasses import replace

        split = replace(split, task=RATING, _histories={})
    model = StageModel(params, split, "train", seed=0)
    assert model.model.uses_fields
    names = [layer.name for layer in model.model.model.layers]
    assert any(name.startswith("item_codes") for name in names)
    assert any(name.startswith("user_codes") for name in names)
    model.fit_epoch()
    assert np.isfinite(model.predict(model.fold(TEST))).all()


@pytest.mark.parametrize("design", ["dcn", "din", "logistic"])
def test_the_exported_predict_reads_the_tables(design: str, tables: Any,
                                               tmp_path: Path) -> None:
    import tensorflow as tf

    from automl_rec.tasks.serving import row_serving_module

    _, split = tables
    if design == "logistic":
        model: Any = Logistic(c=1.0).fit(split.fold(TRAIN), split.n_users, split.n_items, 0,
                                         split.fields)
        length = 0
    else:
        model = StageModel({**PARAMS, "design": design, "features": "attributes",
                            "history_length": 4}, split, "train", seed=0)
        model.fit_epoch()
        length = model.history_length
    module = row_serving_module(model, split, k=5)
    tf.saved_model.save(module, str(tmp_path), signatures=module.signatures())
    loaded = tf.saved_model.load(str(tmp_path))
    test = split.fold(TEST)
    rows = split.served(test.users, test.items, length)
    out = loaded.signatures["predict"](
        user_id=tf.constant(split.user_ids.decode(test.users).astype(str)),
        item_id=tf.constant(split.item_ids.decode(test.items).astype(str)))
    np.testing.assert_allclose(out["prediction"].numpy(), model.predict(rows), rtol=1e-4,
                               atol=1e-4)
