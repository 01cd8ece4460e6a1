from __future__ import annotations

import json
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from automl_rec import AutoRecommender
from automl_rec.api import SeenPairsWarning
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


def test_an_item_table_adds_the_content_baseline(frame: pd.DataFrame, tmp_path: Path) -> None:
    catalogue = frame[["sku", "category"]].drop_duplicates("sku")
    model = AutoRecommender(families=["baselines"], output_dir=tmp_path).fit(
        frame, items=catalogue)
    board = model.leaderboard_.set_index("model")
    assert list(board.index) == ["popularity", "itemknn", "ease", "content"]
    assert board.loc["content", "test_ndcg@10"] > board.loc["popularity", "test_ndcg@10"]
    profile = json.loads((tmp_path / "profile.json").read_text())
    assert [c["kind"] for c in profile["features"]["items"]["columns"]] == ["categorical"]
    record = json.loads((tmp_path / "metadata.json").read_text())
    assert record["schema"]["features"]["items"]["matched"] == profile["n_items"]


def test_users_without_history_are_served_from_their_attributes(
        frame: pd.DataFrame, tmp_path: Path) -> None:
    """Planted: a user table whose 'taste' is the category holding at least half of a user's
    interactions ('mixed' for the others). A new user of a taste gets mostly that category's
    items (popularity gives a mix), whether
    listed in the user table (serving_default) or described at request time, in process and
    from the exported model; the neighbours were chosen on the validation cases."""
    shares = pd.crosstab(frame["customer_id"], frame["category"], normalize="index")
    taste = shares.idxmax(axis=1).where(shares.max(axis=1) >= 0.5, "mixed")
    users = pd.DataFrame({"customer_id": taste.index, "taste": taste.to_numpy()})
    top = taste[taste != "mixed"].value_counts().index[0]
    users = pd.concat([users, pd.DataFrame({"customer_id": ["NEW"], "taste": [top]})])
    model = AutoRecommender(families=["baselines"], output_dir=tmp_path).fit(
        frame, users=users)
    check = model.user_features_
    assert check["cases"] > 0 and str(check["neighbours"]) in check["hr"]
    category = frame.drop_duplicates("sku").set_index("sku")["category"]

    def share_of_taste(lists: pd.DataFrame) -> float:
        return float((category[lists["item_id"]].to_numpy() == top).mean())

    popular = frame["sku"].value_counts().index[:10]
    assert share_of_taste(pd.DataFrame({"item_id": popular})) < 0.5
    listed = model.recommend(["NEW"])
    described = model.recommend_for_features({"taste": [top]})
    assert share_of_taste(listed) >= 0.6
    assert described["item_id"].tolist() == listed["item_id"].tolist()
    loaded = AutoRecommender.load(tmp_path)
    assert loaded.recommend_for_features(pd.DataFrame({"taste": [top]}))[
        "item_id"].tolist() == listed["item_id"].tolist()
    assert loaded.recommend_for_features({"taste": ["unheard of"]})["item_id"].tolist() == (
        popular.tolist())
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    assert "recommend_for_features" in metadata["serving"]["signatures"]
    assert metadata["serving"]["feature_inputs"] == {"taste": "taste"}
    with pytest.raises(ConfigurationError, match="without a user table"):
        AutoRecommender(families=["baselines"]).fit(frame).recommend_for_features(
            {"taste": [top]})


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


@pytest.fixture(scope="module")
def exported(frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[AutoRecommender, Path]:
    directory = tmp_path_factory.mktemp("exported")
    return AutoRecommender(families=["baselines"], output_dir=directory).fit(frame), directory


def unseen_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """For each of a few users, an item they never had."""
    items = sorted(frame["sku"].unique())
    rows = []
    for user, group in list(frame.groupby("customer_id"))[:40]:
        rows.append({"customer_id": user,
                     "sku": next(i for i in items if i not in set(group["sku"]))})
    return pd.DataFrame(rows)


def test_comparison_names_winner_best_baseline_and_what_was_left_out(
    exported: tuple[AutoRecommender, Path],
) -> None:
    model, _ = exported
    comparison = model.comparison_
    assert json.loads(json.dumps(comparison)) == comparison
    assert comparison["winner"]["name"] == model.best_model_name_
    assert comparison["best_neural"] is None and comparison["left_out"] == []
    (gap,) = comparison["gaps"]
    assert gap["against"] == "best_baseline" and gap["name"] == comparison["reference"]
    others = [r for r in model.results_ if r is not model.best_result_]
    best_other = max(others, key=lambda r: r.test["ndcg@10"])
    assert comparison["best_baseline"]["model"] == best_other.model
    assert comparison["test_users"] == len(model.split_.holdout("test").users)
    validation = model.metadata_["protocol"]["validation"]
    assert validation["users"] == validation["scored_users"] == len(
        model.split_.holdout("valid").users)


def test_evaluate_on_fitted_pairs_warns_and_reports_the_seen_share(
    exported: tuple[AutoRecommender, Path], frame: pd.DataFrame,
) -> None:
    model, directory = exported
    with pytest.warns(SeenPairsWarning, match=r"100% of the .* pairs are in the data the model "
                                              r"was fitted on"):
        result = model.evaluate(frame)
    assert result["seen_share"] == 1.0
    if model.split_.exclude_seen:
        assert result["hr@10"] == 0.0  # seen items are masked: no fitted pair can be a hit
    with pytest.warns(SeenPairsWarning):
        loaded = AutoRecommender.load(directory).evaluate(frame)
    assert loaded["seen_share"] == 1.0 and loaded["hr@10"] == result["hr@10"]


def test_evaluate_on_new_pairs_does_not_warn(
    exported: tuple[AutoRecommender, Path], frame: pd.DataFrame,
) -> None:
    model, directory = exported
    pairs = unseen_pairs(frame)
    mixed = pd.concat([pairs, frame.iloc[:10][["customer_id", "sku"]]], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeenPairsWarning)
        fresh = model.evaluate(pairs)
        part = model.evaluate(mixed)
        loaded = AutoRecommender.load(directory).evaluate(mixed)
    assert fresh["seen_share"] == 0.0 and fresh["pairs"] == len(pairs)
    assert part["seen_share"] == loaded["seen_share"] == pytest.approx(10 / len(mixed))


def test_evaluate_skips_the_check_when_the_saved_model_has_no_histories(
    exported: tuple[AutoRecommender, Path], frame: pd.DataFrame,
) -> None:
    _, directory = exported
    model = AutoRecommender.load(directory)
    # a SavedModel exported without the history variables: the signatures alone
    model._saved_model = SimpleNamespace(signatures=model._saved_model.signatures)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeenPairsWarning)
        result = model.evaluate(frame)
    assert result["seen_share"] is None and result["pairs"] == len(frame)
