"""Item features in the Keras designs that have item vectors (DESIGN 11): encoders, cold items,
id dropout."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl_rec.data.features import Features, read_feature_table
from automl_rec.data.feedback import read_positives
from automl_rec.data.profiling import profile_interactions
from automl_rec.data.splitting import Split, split_interactions, with_features
from automl_rec.datasets import make_interactions
from tests.models.test_family_contract import built

FEATURE_DESIGNS = [("attention", "sasrec"), ("attention", "bert4rec"), ("lstm", "gru4rec"),
                   ("cnn", "nextitnet"), ("cnn", "caser"), ("mlp", "youtube"), ("mlp", "neumf"),
                   ("autoencoder", "multvae"), ("autoencoder", "multdae"),
                   ("autoencoder", "cdae")]


def catalogue_of(log: pd.DataFrame) -> pd.DataFrame:
    """An item table of every kind: the category, tags (multi), a price, a title."""
    table = log[["sku", "category"]].drop_duplicates("sku").reset_index(drop=True)
    rng = np.random.default_rng(4)
    return table.assign(
        tags=[("gift|sale" if i % 3 == 0 else "sale") for i in range(len(table))],
        price=rng.lognormal(3.0, 1.0, len(table)).round(2),
        title=[f"{c} piece number {i} in blue" for i, c in enumerate(table["category"])])


def split_with_table(log: pd.DataFrame, items: pd.DataFrame, **kwargs: Any
                     ) -> tuple[Split, Any]:
    table = read_feature_table(items, "items", feature_types={"tags": "multi"})
    data = read_positives(log, {})
    features = Features(items=table)
    split = with_features(split_interactions(data, catalogue=table.ids, **kwargs), features)
    profile = replace(profile_interactions(data),
                      features=features.describe(log["sku"], log["customer_id"]))
    return split, profile


@pytest.fixture(scope="module")
def small() -> tuple[Split, Any]:
    log = make_interactions(n_users=80, n_items=40, mean_history=12, seed=11)
    return split_with_table(log, catalogue_of(log))


def test_every_kind_of_column_is_encoded(small: tuple[Split, Any]) -> None:
    split, _ = small
    kinds = [c.kind for c in split.item_columns.columns]
    assert kinds == ["categorical", "multi", "numeric", "text"]


CASES = [(family, design, "pooled") for family, design in FEATURE_DESIGNS] + [
    ("attention", "sasrec", "cnn")]


@pytest.mark.parametrize("family, design, text_encoder", CASES, ids=lambda v: v)
def test_a_design_with_item_features_trains_and_repeats(
        family: str, design: str, text_encoder: str, small: tuple[Split, Any]) -> None:
    split, profile = small
    values = {"design": design, "item_features": "attributes", "text_encoder": text_encoder}
    model = built(family, values, split, profile, seed=3)
    assert model.uses_item_features
    loss = model.fit_epoch()
    assert np.isfinite(loss)
    scores = model.score(np.arange(10))
    assert scores.shape == (10, split.n_items) and np.isfinite(scores).all()
    again = built(family, values, split, profile, seed=3)
    assert again.fit_epoch() == pytest.approx(loss, rel=1e-6)
    np.testing.assert_allclose(again.score(np.arange(10)), scores, rtol=1e-5, atol=1e-6)


def test_a_training_step_encodes_the_attributes_once(
        small: tuple[Split, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """SASRec reads the item table twice a step (its inputs, then the softmax's rows); the
    step encodes every item's attributes once, and its loss is the one of two encodings."""
    from automl_rec.models.features import FeatureEncoder

    split, profile = small
    values = {"design": "sasrec", "item_features": "attributes", "dropout": 0.0,
              "id_dropout": 0.0}
    model = built("attention", values, split, profile, seed=3)
    dataset, _ = model.epoch_dataset(np.random.default_rng(0))
    batch = next(iter(dataset))
    calls = []
    encode = FeatureEncoder.call
    monkeypatch.setattr(FeatureEncoder, "call",
                        lambda self, inputs: calls.append(1) or encode(self, inputs))
    twice = float(model.loss_on(batch))
    assert len(calls) == 2
    once = float(model._train_step(*batch))
    assert len(calls) == 3
    assert once == pytest.approx(twice, rel=1e-6)


def test_the_space_offers_features_only_with_an_item_table(small: tuple[Split, Any]) -> None:
    from automl_rec.models import default_space, family_module

    _, profile = small
    with_table = family_module("attention").adapt_space(default_space("attention"), profile)
    assert with_table["item_features"].choices == ("attributes", "none")
    assert with_table["text_encoder"].choices == ("pooled", "cnn")
    bare = family_module("attention").adapt_space(default_space("attention"),
                                                  replace(profile, features=None))
    assert bare["item_features"].choices == ("none",)
    assert "text_encoder" not in bare.completed({})


def test_cold_items_get_the_vector_of_their_attributes_only(small: tuple[Split, Any]) -> None:
    """An item the training stage lacks has no id part: its vector is its features' alone,
    so two cold items with the same attributes get the same vector."""
    split, profile = small
    model = built("attention", {"design": "sasrec", "item_features": "attributes"}, split,
                  profile, seed=3)
    model.fit_epoch()
    table = model.item_embedding
    vectors = np.asarray(model.item_vectors())
    features = np.asarray(table.features(table.inputs))
    cold = np.flatnonzero(split.stage("train").item_counts == 0)
    warm = np.flatnonzero(split.stage("train").item_counts > 0)
    np.testing.assert_allclose(vectors[cold], features[cold], rtol=1e-6)
    assert not np.allclose(vectors[warm], features[warm])


def test_a_scored_item_table_encodes_the_rows_asked_for(small: tuple[Split, Any]) -> None:
    """NeuMF's item side looks up the vectors of a batch's items only: the same vectors as the
    whole table's rows; in training, some rows lose their id part and keep the attributes'."""
    split, profile = small
    model = built("mlp", {"design": "neumf", "interaction": "dot", "item_features": "attributes",
                          "id_dropout": 0.5}, split, profile, seed=3)
    table = model.item_gmf
    rows = np.asarray(table.table(False))
    some = np.array([3, 1, 3, split.n_items], dtype=np.int32)
    np.testing.assert_allclose(np.asarray(table(some)), rows[some], rtol=1e-5, atol=1e-6)
    ids = np.arange(1, split.n_items + 1, dtype=np.int32)
    trained = np.asarray(table(ids, training=True))
    features = np.asarray(table.features(table.inputs))
    warm = split.stage("train").item_counts > 0
    alone = np.isclose(trained, features, atol=1e-6).all(axis=1)
    whole = np.isclose(trained, rows[1:], atol=1e-6).all(axis=1)
    assert (alone | whole).all()
    assert alone[warm].any() and whole[warm].any()


def hit_rates_on_cold_targets(values: dict[str, Any], split: Split, profile: Any
                              ) -> tuple[float, int]:
    """HR@10 of a SASRec model on the validation cases whose target the training stage lacks."""
    from automl_rec.evaluation.metrics import evaluate_holdout

    model = built("attention", {"design": "sasrec", "learning_rate": 0.005, **values}, split,
                  profile, seed=2)
    for _ in range(10):
        model.fit_epoch()
    result = evaluate_holdout(model.score, split.holdout("valid"),
                              exclude_seen=split.exclude_seen)
    figures = result.warm_and_cold()
    return figures["cold_hr@10"], int(figures["cold_cases"])


def test_item_features_recommend_cold_items_the_ids_cannot() -> None:
    """Planted structure: users keep to a few categories; items held out with all their
    interactions are found from their attributes by the feature path, not by ids alone
    (whose cold items rank at random: about 10 / 300 of the hits)."""
    log = make_interactions(n_users=500, n_items=300, mean_history=12, seed=5)
    split, profile = split_with_table(log, catalogue_of(log), cold_items=0.3)
    with_features, cases = hit_rates_on_cold_targets({"item_features": "attributes"}, split,
                                                     profile)
    ids_only, _ = hit_rates_on_cold_targets({"item_features": "none"}, split, profile)
    assert cases >= 40
    assert with_features >= ids_only + 0.1


def test_a_model_with_item_features_saves_and_loads_as_keras(small: tuple[Split, Any],
                                                             tmp_path: Any) -> None:
    import keras

    split, profile = small
    model = built("attention", {"design": "sasrec", "item_features": "attributes"}, split,
                  profile, seed=3)
    model.fit_epoch()
    model.model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    window = np.zeros((2, model.length), dtype=np.int32)
    window[:, -3:] = [[1, 2, 3], [4, 5, 6]]
    np.testing.assert_allclose(np.asarray(loaded(window)), np.asarray(model.model(window)),
                               rtol=1e-5, atol=1e-6)


def test_a_number_that_does_not_read_counts_as_missing() -> None:
    import tensorflow as tf

    from automl_rec.data.features import FeatureColumn
    from automl_rec.models.features import FeaturePreprocessing

    column = FeatureColumn("age", "numeric", "numbers", {"log": False})
    numbers, missing = FeaturePreprocessing._numbers(
        column, tf.constant(["25", " 3.5 ", "abc", "", "1e+3", "-2", "2020-01-01"]))
    assert missing.numpy().tolist() == [0, 0, 1, 1, 0, 0, 1]
    np.testing.assert_allclose(numbers.numpy()[[0, 1, 4, 5]], [25, 3.5, 1000, -2])


def cold_slot_share(model: Any, split: Split, users: np.ndarray, stage: str) -> float:
    """The share of the slots of ``users``' lists of 10 (seen items masked) that hold items
    ``stage`` has no interaction of."""
    from automl_rec.evaluation import top_k
    from automl_rec.evaluation.metrics import mask_seen

    scores = np.array(model.score(users), dtype=np.float32)
    if split.exclude_seen:
        mask_seen(scores, users, split.stage(stage).matrix)
    return float((split.stage(stage).item_counts == 0)[top_k(scores, 10)].mean())


def test_cold_items_fill_the_share_of_the_lists_they_have_among_the_targets() -> None:
    """The validation lists give cold items the share of their slots that cold items are of the
    validation targets, and the test model's lists (other cold items, other scores) the
    same share; the offsets differ."""
    from automl_rec.evaluation.cold_offset import COLD_OFFSET, COLD_SHARE
    from automl_rec.leaderboard import CandidateResult
    from automl_rec.tuning.objective import RankingObjective
    from automl_rec.tuning.trial import model_on_stage

    log = make_interactions(n_users=500, n_items=300, mean_history=12, seed=5)
    split, profile = split_with_table(log, catalogue_of(log), cold_items=0.3)
    params = {"design": "sasrec", "learning_rate": 0.005, "item_features": "attributes"}
    model = built("attention", params, split, profile, seed=2)
    for _ in range(2):
        model.fit_epoch()
    objective = RankingObjective("ndcg", 10)
    cases = objective.validation_cases(split, model)
    metrics = objective.judge(model, split, cases)
    share, offset = metrics[COLD_SHARE], metrics[COLD_OFFSET]
    cold = split.stage("train").item_counts[cases.targets] == 0
    assert share == pytest.approx(cold.mean()) and share > 0.05
    slot = 2 / (10 * len(cases.users))  # a share rounds to whole slots, and a tie takes one
    assert cold_slot_share(model, split, cases.users, "train") == pytest.approx(share, abs=slot)

    trial = CandidateResult("attention", "sasrec", dict(model.params), valid=metrics, epochs=1)
    refit = model_on_stage(trial, split, "train_valid", seed=2)
    assert cold_slot_share(refit, split, cases.users, "train_valid") == pytest.approx(
        share, abs=slot)
    assert float(refit.cold_offset.numpy()) != pytest.approx(offset)


def test_an_ensemble_of_ids_and_attributes_gives_cold_items_their_share() -> None:
    """A model reading ids only and one reading attributes, averaged: the cold items (which
    only the second ranks) fill the share of the validation lists that cold items are of the
    validation targets, on validation and on a later stage, and the graph the SavedModel
    serves scores as the ensemble does."""
    import tensorflow as tf

    from automl_rec.evaluation.cold_offset import COLD_SHARE
    from automl_rec.leaderboard import ENSEMBLE, CandidateResult
    from automl_rec.models.ensemble import Ensemble
    from automl_rec.tuning.objective import RankingObjective
    from automl_rec.tuning.trial import model_on_stage

    log = make_interactions(n_users=500, n_items=300, mean_history=12, seed=5)
    split, profile = split_with_table(log, catalogue_of(log), cold_items=0.3)
    objective = RankingObjective("ndcg", 10)
    members, trials = [], []
    for features in ("none", "attributes"):
        params = {"design": "sasrec", "learning_rate": 0.005, "item_features": features}
        model = built("attention", params, split, profile, seed=2)
        for _ in range(2):
            model.fit_epoch()
        cases = objective.validation_cases(split, model)
        trials.append(CandidateResult("attention", "sasrec", dict(model.params),
                                      valid=objective.judge(model, split, cases), epochs=1,
                                      number=len(trials)))
        members.append(model)
    ensemble = Ensemble(members)
    cold = split.stage("train").item_counts == 0
    assert ensemble.cold_items is not None and (ensemble.cold_items == cold).all()
    valid = objective.judge(ensemble, split, cases)
    share = valid[COLD_SHARE]
    assert share == pytest.approx(cold[cases.targets].mean()) and share > 0.05
    slot = 2 / (10 * len(cases.users))
    assert cold_slot_share(ensemble, split, cases.users, "train") == pytest.approx(share,
                                                                                   abs=slot)
    users = cases.users[:7]
    graph = ensemble.item_scores(tf.constant(users), members[0].history.rows(tf.constant(users)))
    np.testing.assert_allclose(np.asarray(graph), ensemble.score(users), rtol=1e-4, atol=1e-4)

    result = CandidateResult(ENSEMBLE, "sasrec #0 + sasrec #1", {}, valid=valid,
                             members=trials)
    refit = model_on_stage(result, split, "train_valid", seed=2)
    assert isinstance(refit, Ensemble) and refit.cold_items is not None
    assert cold_slot_share(refit, split, cases.users, "train_valid") == pytest.approx(
        share, abs=slot)
