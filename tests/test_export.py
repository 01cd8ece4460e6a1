"""The export contract (DESIGN section 5), checked for a model of every family."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl_rec import AutoRecommender
from automl_rec.datasets import make_interactions
from automl_rec.errors import ConfigurationError
from automl_rec.models import FAMILIES

K = 5
UNKNOWN = "nobody-we-know"

# Runs in a fresh interpreter where importing automl_rec is impossible.
SERVE = textwrap.dedent("""
    import json, sys

    class Blocked:
        def find_spec(self, name, path=None, target=None):
            if name == "automl_rec" or name.startswith("automl_rec."):
                raise ImportError("automl_rec must not be needed to serve")

    sys.meta_path.insert(0, Blocked())
    import tensorflow as tf

    directory, users = sys.argv[1], json.loads(sys.argv[2])
    model = tf.saved_model.load(directory + "/model")
    signature = model.signatures["serving_default"]
    inputs = signature.structured_input_signature[1]
    outputs = signature.structured_outputs
    out = signature(user_id=tf.constant(users))
    report = {
        "signatures": sorted(model.signatures),
        "input": [inputs["user_id"].dtype.name, inputs["user_id"].shape.as_list()],
        "outputs": {k: [v.dtype.name, v.shape.as_list()] for k, v in outputs.items()},
        "items": [[i.decode() for i in row] for row in out["item_ids"].numpy()],
        "scores": out["scores"].numpy().tolist(),
    }
    if "recommend_from_history" in model.signatures:
        fresh = model.signatures["recommend_from_history"](item_ids=tf.constant([["", ""]]))
        report["fresh"] = [i.decode() for i in fresh["item_ids"].numpy()[0]]
    print(json.dumps(report))
""")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_interactions(n_users=90, n_items=40, mean_history=10, seed=8)


@pytest.mark.parametrize("family", ["baselines", *FAMILIES])
def test_saved_model_serves_raw_ids_without_the_package(
    family: str, frame: pd.DataFrame, tmp_path: Path
) -> None:
    model = AutoRecommender(families=[family], max_trials=1, max_epochs=1, top_k=K,
                            output_dir=tmp_path).fit(frame)
    assert model.best_family_ == family
    users = list(frame["customer_id"].unique()[:4])
    served = subprocess.run([sys.executable, "-c", SERVE, str(tmp_path),
                             json.dumps([*users, UNKNOWN])],
                            capture_output=True, text=True, timeout=300)
    assert served.returncode == 0, served.stderr[-2000:]
    report = json.loads(served.stdout.strip().splitlines()[-1])

    assert report["input"] == ["string", [None]]
    assert report["outputs"] == {"item_ids": ["string", [None, K]], "scores": ["float32",
                                                                            [None, K]]}
    catalogue = set(frame["sku"])
    for user, items in zip(users, report["items"]):
        assert len(set(items)) == K and set(items) <= catalogue
        assert not set(items) & set(frame.loc[frame["customer_id"] == user, "sku"])
    counts = frame["sku"].value_counts()
    assert all(counts[i] >= counts.iloc[K - 1] for i in report["items"][-1])

    loaded = AutoRecommender.load(tmp_path).recommend([*users, UNKNOWN])
    as_lists = [loaded.loc[loaded["user_id"] == u, "item_id"].tolist() for u in [*users, UNKNOWN]]
    assert as_lists == report["items"]
    in_memory = model.recommend([*users, UNKNOWN])
    assert in_memory["item_id"].tolist() == loaded["item_id"].tolist()
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    assert metadata["winner"]["family"] == family
    assert set(metadata["environment"]) >= {"automl_rec", "tensorflow", "keras", "python"}
    if "recommend_from_history" in report["signatures"]:
        assert len(report["fresh"]) == K


def test_recommend_from_history_and_list_length(frame: pd.DataFrame, tmp_path: Path) -> None:
    model = AutoRecommender(families=["baselines"], top_k=K, output_dir=tmp_path).fit(frame)
    history = frame.loc[frame["customer_id"] == frame["customer_id"].iloc[0], "sku"].tolist()
    lists = AutoRecommender.load(tmp_path).recommend_from_history([history, []], k=3)
    mine = lists.loc[lists["user_id"] == "0", "item_id"].tolist()
    assert len(mine) == 3 and not set(mine) & set(history)
    with pytest.raises(ConfigurationError, match="k must be"):
        model.recommend(["x"], k=K + 1)


def test_an_interrupted_export_leaves_the_previous_model_loadable(
    frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = AutoRecommender(families=["baselines"], top_k=K, output_dir=tmp_path).fit(frame)
    before = AutoRecommender.load(tmp_path).recommend(["C000001"])
    import tensorflow as tf

    real_save = tf.saved_model.save

    def dies_half_way(module: object, path: str, **kwargs: object) -> None:
        real_save(module, path, **kwargs)
        (Path(path) / "variables").rename(Path(path) / "gone")
        raise KeyboardInterrupt

    monkeypatch.setattr(tf.saved_model, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        first.export(tmp_path)
    monkeypatch.undo()
    after = AutoRecommender.load(tmp_path).recommend(["C000001"])
    pd.testing.assert_frame_equal(before, after)
    first.export(tmp_path)
    assert not list(tmp_path.glob(".export-*"))


def test_a_model_left_half_swapped_is_recovered(frame: pd.DataFrame, tmp_path: Path) -> None:
    model = AutoRecommender(families=["baselines"], top_k=K, output_dir=tmp_path).fit(frame)
    (tmp_path / "model").rename(tmp_path / ".model-previous")
    model.export(tmp_path)
    assert (tmp_path / "model" / "saved_model.pb").is_file()
    assert not (tmp_path / ".model-previous").exists()
    assert np.isfinite(AutoRecommender.load(tmp_path).recommend(["C000001"])["score"]).all()


def test_load_of_a_directory_without_a_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no exported model"):
        AutoRecommender.load(tmp_path)


@pytest.mark.parametrize("interaction", ["neumf", "gmf", "dot"])
def test_every_neumf_interaction_exports_and_serves_its_own_lists(
    interaction: str, frame: pd.DataFrame, tmp_path: Path
) -> None:
    import tensorflow as tf

    from automl_rec.export import serving_module
    from automl_rec.models import default_space, family_module
    from tests.conftest import split_of

    split = split_of(frame)
    params = default_space("mlp").completed({"design": "neumf", "interaction": interaction})
    model = family_module("mlp").build(params, split.stage("all"), 0)
    model.fit_epoch()
    module = serving_module(model, split, K)
    tf.saved_model.save(module, str(tmp_path / "model"), signatures=module.signatures())
    served = tf.saved_model.load(str(tmp_path / "model")).signatures["serving_default"]
    users = tf.constant([str(u) for u in frame["customer_id"].unique()[:3]])
    np.testing.assert_array_equal(served(user_id=users)["item_ids"].numpy(),
                                  module.serve(users)["item_ids"].numpy())
