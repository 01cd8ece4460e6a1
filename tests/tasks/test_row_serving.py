"""The exported click and rating models: ``predict`` gives the model's own predictions of
raw rows, ``serving_default`` the top-K unseen items by them, after a save and a plain load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from automl_rec.data.feedback import read_positives
from automl_rec.data.splitting import TEST, TRAIN
from automl_rec.models.pointwise import StageModel
from automl_rec.models.pointwise_baselines import Biases, GradientBoosting, Logistic
from automl_rec.tasks import CTR, RATING, recent_labels_input
from automl_rec.tasks.rows import split_rows, task_rows
from tests.tasks.test_pointwise import click_log
from tests.tasks.test_pointwise_models import PARAMS, low_rank_ratings

CASES = [(RATING, "mf"), (RATING, "autorec"), (RATING, "gru"), (CTR, "din"), (CTR, "dcn"),
         (RATING, "biases"), (CTR, "logistic")]


@pytest.fixture(scope="module")
def splits() -> dict[str, Any]:
    ratings = low_rank_ratings(n_users=60, n_items=40, rows=2_000)
    clicks = click_log(n_users=60, n_items=40, rows=2_000)
    return {task: split_rows(task_rows(read_positives(frame, {}), task), task, has_order=True,
                             seed=0) for task, frame in ((RATING, ratings), (CTR, clicks))}


def fitted(task: str, design: str, split: Any, activity: str = "counts") -> Any:
    if design in ("biases", "logistic"):
        baseline = Biases(l2=3.0) if design == "biases" else Logistic(c=1.0)
        return baseline.fit(split.fold(TRAIN), split.n_users, split.n_items)
    params = {**PARAMS, "design": design, "hidden_units": 16, "history_length": 5,
              "user_activity": activity}
    model = StageModel(params, split, "train", seed=0)
    model.fit_epoch()
    return model


@pytest.mark.parametrize("task, design", CASES)
def test_the_saved_predict_signature_reproduces_the_model(task: str, design: str,
                                                          splits: dict[str, Any],
                                                          tmp_path: Path) -> None:
    import tensorflow as tf

    from automl_rec.tasks.serving import row_serving_module

    split = splits[task]
    model = fitted(task, design, split)
    module = row_serving_module(model, split, k=5)
    tf.saved_model.save(module, str(tmp_path), signatures=module.signatures())
    loaded = tf.saved_model.load(str(tmp_path))

    test = split.fold(TEST)
    length = getattr(model, "history_length", 0)
    # Served rows read the user's latest history of the whole log.
    expected = model.predict(split.served(test.users, test.items, length))
    raw_users = split.user_ids.decode(test.users).astype(str)
    raw_items = split.item_ids.decode(test.items).astype(str)
    out = loaded.signatures["predict"](user_id=tf.constant(raw_users),
                                       item_id=tf.constant(raw_items))
    np.testing.assert_allclose(out["prediction"].numpy(), expected, rtol=1e-4, atol=1e-4)

    # Unknown ids are served too (with the models' unknown rows).
    odd = loaded.signatures["predict"](user_id=tf.constant(["no such user"]),
                                       item_id=tf.constant([raw_items[0]]))
    assert np.isfinite(odd["prediction"].numpy()).all()

    # The lists: the highest predictions among the items the user has no row of.
    user = int(test.users[0])
    everything = np.arange(split.n_items)
    scores = model.predict(split.served(np.full(split.n_items, user), everything, length))
    seen = split.items[(split.users == user) & split.history_rows]
    scores[seen] = -np.inf
    lists = loaded.signatures["serving_default"](user_id=tf.constant(raw_users[:1]))
    served = split.item_ids.encode(lists["item_ids"].numpy()[0].astype(str))
    assert not set(served) & set(seen.tolist())
    np.testing.assert_allclose(lists["scores"].numpy()[0], np.sort(scores)[::-1][:5],
                               rtol=1e-4, atol=1e-4)


def test_the_trees_have_no_tensorflow_form(splits: dict[str, Any]) -> None:
    from automl_rec.tasks.serving import row_serving_module

    split = splits[CTR]
    trees = GradientBoosting(learning_rate=0.1, max_leaf_nodes=15).fit(
        split.fold(TRAIN), split.n_users, split.n_items)
    with pytest.raises(TypeError, match="no TensorFlow form"):
        row_serving_module(trees, split, k=5)


@pytest.mark.parametrize("task, design, activity", [
    (RATING, "gru", "counts"), (CTR, "din", "counts"), (CTR, "gru", "none"),
    (RATING, "mf", "none")])
def test_predict_with_recent_rows_reproduces_the_test_figures(task: str, design: str,
                                                              activity: str,
                                                              splits: dict[str, Any],
                                                              tmp_path: Path) -> None:
    """A model that stores its stage's histories, given each held-out row's earlier rows of
    the user as recent rows (every one, a click log's exposures too, with their labels),
    predicts what the tool's test figures are computed from."""
    import tensorflow as tf

    from automl_rec.data.splitting import VALID
    from automl_rec.tasks.serving import row_serving_module

    split = splits[task]
    model = fitted(task, design, split, activity)
    module = row_serving_module(model, split, k=5, folds=(TRAIN,))
    tf.saved_model.save(module, str(tmp_path), signatures=module.signatures())
    loaded = tf.saved_model.load(str(tmp_path))

    test = model.fold(TEST)
    # Each test row's recent rows: the user's rows since the stored ones (the validation rows
    # and the earlier test rows), raw ids oldest first, with their labels.
    later = np.flatnonzero(np.isin(split.folds, (VALID, TEST)))
    recent: dict[int, list[tuple[str, float]]] = {}
    ids, labels = [], []
    for row in later:
        user = int(split.users[row])
        if split.folds[row] == TEST:
            ids.append([i for i, _ in recent.get(user, [])])
            labels.append([r for _, r in recent.get(user, [])])
        raw = str(split.item_ids.decode(split.items[row:row + 1])[0])
        recent.setdefault(user, []).append((raw, float(split.labels[row])))
    width = max(len(x) for x in ids)
    assert width > 5  # longer than the history the model reads: the graph keeps the latest
    inputs = {"user_id": tf.constant(split.user_ids.decode(test.users).astype(str)),
              "item_id": tf.constant(split.item_ids.decode(test.items).astype(str)),
              "recent_item_ids": tf.constant([[""] * (width - len(x)) + x for x in ids]),
              recent_labels_input(task): tf.constant(
                  [[0.0] * (width - len(x)) + x for x in labels], tf.float32)}
    out = loaded.signatures["predict_with_recent"](**inputs)
    np.testing.assert_allclose(out["prediction"].numpy(), model.predict(test), rtol=1e-4,
                               atol=1e-4)
    stored = loaded.signatures["predict"](user_id=inputs["user_id"], item_id=inputs["item_id"])
    # The recent rows change what a history design predicts, and nothing else's.
    assert np.allclose(stored["prediction"].numpy(), out["prediction"].numpy(),
                       atol=1e-4) == (design == "mf")
