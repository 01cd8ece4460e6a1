from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl_rec import AutoRecommender
from automl_rec.datasets import make_interactions
from automl_rec.errors import ConfigurationError, NotFittedError


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_interactions(n_users=200, n_items=80, seed=7)


def test_init_only_stores_arguments() -> None:
    model = AutoRecommender(families=["baselines"], metric="nope", top_k=0)
    assert model.metric == "nope" and model.top_k == 0
    assert not hasattr(model, "leaderboard_")


def test_fit_returns_self_with_fitted_attributes(frame: pd.DataFrame, tmp_path: Path) -> None:
    model = AutoRecommender(families=["baselines"], output_dir=tmp_path / "run")
    assert model.fit(frame) is model
    assert model.best_family_ == "baselines"
    assert model.best_model_name_ in {"popularity", "itemknn", "ease"}
    assert list(model.leaderboard_["model"]) == ["popularity", "itemknn", "ease"]
    assert set(model.test_metrics_) >= {"ndcg@10", "hr@10", "mrr@10"}
    assert model.comparison_ is not None and model.comparison_["low"] <= model.comparison_["high"]
    written = pd.read_csv(tmp_path / "run" / "leaderboard.csv")
    assert written["test_ndcg@10"].notna().all() and written["valid_ndcg@10"].notna().all()
    profile = json.loads((tmp_path / "run" / "profile.json").read_text())
    assert profile["n_users"] == 200
    assert "best:" in (tmp_path / "run" / "run.log").read_text()


def test_same_seed_gives_the_same_leaderboard(frame: pd.DataFrame) -> None:
    one = AutoRecommender(families="baselines", seed=3).fit(frame).leaderboard_
    two = AutoRecommender(families="baselines", seed=3).fit(frame).leaderboard_
    columns = [c for c in one.columns if c != "seconds"]
    pd.testing.assert_frame_equal(one[columns], two[columns])


def test_recommend_gives_unseen_raw_ids_and_popular_items_to_unknown_users(
    frame: pd.DataFrame,
) -> None:
    model = AutoRecommender(families=["baselines"]).fit(frame)
    user = frame["customer_id"].iloc[0]
    lists = model.recommend([user, "never-seen"], k=5)
    mine = lists[lists["user_id"] == user]["item_id"].tolist()
    assert len(mine) == len(set(mine)) == 5
    assert not set(mine) & set(frame.loc[frame["customer_id"] == user, "sku"])
    popular = frame["sku"].value_counts().index[:5].tolist()
    assert lists[lists["user_id"] == "never-seen"]["item_id"].tolist() == popular
    assert np.all(np.diff(lists[lists["user_id"] == user]["score"]) <= 0)


def test_methods_need_a_fitted_object() -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        AutoRecommender().recommend(["u"])


@pytest.mark.parametrize("kwargs, match", [
    ({"metric": "auc"}, "Unknown metric"),
    ({"top_k": 0}, "top_k"),
    ({"families": ["nosuch"]}, "Unknown family"),
    ({"families": []}, "No family"),
])
def test_bad_arguments_raise_configuration_errors(
    frame: pd.DataFrame, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        AutoRecommender(**kwargs).fit(frame)  # type: ignore[arg-type]
