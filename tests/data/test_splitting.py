from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl_rec.data.splitting import RANDOM, TEMPORAL, IdEncoder, next_repeat_share
from tests.conftest import split_of


def frame_with_times() -> pd.DataFrame:
    return pd.DataFrame({
        "user": ["u1"] * 4 + ["u2"] * 3 + ["u3"] * 2,
        "item": ["a", "b", "c", "d", "c", "a", "b", "a", "b"],
        "timestamp": [40, 10, 30, 20, 5, 5, 1, 1, 2],
    })


def test_temporal_leave_last_out_by_time_with_seeded_ties() -> None:
    split = split_of(frame_with_times())
    assert split.protocol == TEMPORAL
    decode = split.item_ids.decode
    valid, test = split.holdout("valid"), split.holdout("test")
    tests = dict(zip(split.user_ids.decode(test.users), decode(test.targets)))
    valids = dict(zip(split.user_ids.decode(valid.users), decode(valid.targets)))
    # u1 by time: b(10) d(20) c(30) a(40); u2: b(1), then c and a tied at 5
    assert (tests["u1"], valids["u1"]) == ("a", "c")
    assert {tests["u2"], valids["u2"]} == {"a", "c"}
    # u3 has only 2 interactions: training only
    train = split.stage("train")
    assert set(split.user_ids.decode(train.users)) == {"u1", "u2", "u3"}
    assert split.user_ids.decode(train.users).tolist().count("u3") == 2
    assert decode(train.items[split.user_ids.decode(train.users) == "u1"]).tolist() == ["b", "d"]


def test_ties_in_time_are_broken_at_random_not_by_id() -> None:
    frame = pd.DataFrame({"user": np.repeat([f"u{i}" for i in range(200)], 3),
                          "item": ["a", "b", "c"] * 200, "timestamp": [1, 2, 2] * 200})
    held_out = split_of(frame).holdout("test")
    targets = split_of(frame).item_ids.decode(held_out.targets)
    # b and c tie at time 2 for every user: each is held out for about half of them
    assert 60 < (targets == "c").sum() < 140 and set(targets) == {"b", "c"}


def test_validation_history_is_train_and_test_history_adds_validation() -> None:
    split = split_of(frame_with_times())
    assert split.holdout("valid").history.matrix.nnz == 2 + 1 + 2
    assert split.holdout("test").history.matrix.nnz == 3 + 2 + 2
    assert split.stage("all").matrix.nnz == 9


def test_random_holdout_is_seeded_and_keeps_the_same_shape() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user": rng.integers(0, 30, 400).astype(str),
                          "item": rng.integers(0, 50, 400).astype(str)})
    one, again, other = split_of(frame, seed=1), split_of(frame, seed=1), split_of(frame, seed=2)
    assert one.protocol == RANDOM
    assert np.array_equal(one.folds, again.folds) and np.array_equal(one.items, again.items)
    assert not np.array_equal(one.items, other.items)
    assert len(one.holdout("test").users) == len(one.holdout("valid").users) == 30


def test_id_encoder_round_trip_and_unknown_ids() -> None:
    encoder = IdEncoder.fit(pd.Series(["b", "a", "b", "1234567890123456789"]))
    assert encoder.ids.tolist() == ["1234567890123456789", "a", "b"]
    assert encoder.encode(["a", "1234567890123456789", "zzz"]).tolist() == [1, 0, -1]
    assert encoder.decode(np.array([2, 0])).tolist() == ["b", "1234567890123456789"]


@pytest.mark.parametrize("repeat, expected", [(False, True), (True, False)])
def test_exclude_seen_policy_follows_repeats_of_the_next_interaction(repeat: bool,
                                                                     expected: bool) -> None:
    items = ["a", "b", "a", "b", "a", "b"] if repeat else ["a", "b", "c", "d", "e", "f"]
    frame = pd.DataFrame({"user": ["u"] * 6 + ["v"] * 6, "item": items * 2,
                          "timestamp": list(range(12))})
    split = split_of(frame)
    assert split.exclude_seen is expected
    assert split.seen_policy["next_repeat_share"] == (1.0 if repeat else 0.0)
    assert split.seen_policy["users_measured"] == 2
    overridden = split_of(frame, exclude_seen=not expected)
    assert overridden.exclude_seen is (not expected)
    assert overridden.seen_policy["reason"] == "set by the user"


def test_seen_policy_reads_the_training_stage_only() -> None:
    # Many repeats overall, but all of them are the held-out interactions: the training stage
    # (and its latest interaction) shows none, so seen items are excluded.
    frame = pd.DataFrame({"user": ["u"] * 5 + ["v"] * 5,
                          "item": ["a", "b", "c", "a", "a", "d", "e", "f", "d", "d"],
                          "timestamp": list(range(10))})
    split = split_of(frame)
    assert split.seen_policy["next_repeat_share"] == 0.0
    assert split.exclude_seen is True


def test_next_repeat_share_counts_users_whose_latest_item_repeats() -> None:
    users = np.array([0, 0, 0, 1, 1, 2, 3, 3])
    items = np.array([5, 6, 5, 7, 8, 1, 2, 2])
    # user 0: 5 repeats; user 1: 8 is new; user 2: one interaction (not measured); user 3: repeat
    assert next_repeat_share(users, items, 10) == (2 / 3, 3)


def test_split_does_not_depend_on_row_order() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    frame = pd.DataFrame({"user": rng.integers(0, 80, n).astype(str),
                          "item": rng.integers(0, 300, n).astype(str),
                          "timestamp": rng.integers(0, 40, n)})  # many ties within users
    frame = frame.drop_duplicates(["user", "item"])
    shuffled = frame.sample(frac=1.0, random_state=1)
    for without_time in (False, True):
        columns = ["user", "item"] if without_time else list(frame.columns)
        one, other = split_of(frame[columns], seed=3), split_of(shuffled[columns], seed=3)
        assert one.item_ids.ids.tolist() == other.item_ids.ids.tolist()
        assert one.user_ids.ids.tolist() == other.user_ids.ids.tolist()
        for array in ("users", "items", "folds"):
            assert np.array_equal(getattr(one, array), getattr(other, array))


def test_cold_items_are_held_out_with_all_their_interactions_but_evaluation_targets() -> None:
    from automl_rec.datasets import make_interactions

    log = make_interactions(n_users=200, n_items=60, mean_history=10, seed=3)
    plain = split_of(log)
    split = split_of(log, cold_items=0.2)
    assert split.cold_items["items"] == 12 and split.cold_items["share"] == 0.2
    assert split_of(log, cold_items=0.2).cold_items == split.cold_items  # seeded
    held_out = np.zeros(split.n_items, dtype=bool)
    held_out[split.stage("train").item_counts == 0] = True
    assert held_out.sum() >= 12  # the held-out items (and any the log had only as a target)
    # No training interaction has a held-out item; validation and test targets do, so the
    # search's model meets cold targets as the test's model does.
    assert not held_out[split.items[split.folds == 0]].any()
    assert held_out[split.holdout("valid").targets].any()
    test = split.holdout("test")
    test_cold = split.stage("train_valid").item_counts[test.targets] == 0
    assert test_cold.any()
    # A held-out item the test's model knows, it knows from validation cases only; half the
    # held-out items are the test's, unknown to it.
    known = split.stage("train_valid").item_counts > 0
    assert (split.stage("train_valid").item_counts[held_out & known]
            == np.bincount(split.holdout("valid").targets, minlength=split.n_items)[
                held_out & known]).all()
    assert (held_out & ~known).sum() >= split.cold_items["test_items"] == 6
    kept = len(split.items) + split.cold_items["dropped"]
    assert kept == len(plain.items)
    # Every user's latest interaction is still the test case where it was.
    assert len(test.users) <= len(plain.holdout("test").users)
    assert split.n_items == plain.n_items  # held-out items stay in the catalogue


def test_warm_and_cold_figures_count_the_cases_apart() -> None:
    from automl_rec.datasets import make_interactions
    from automl_rec.evaluation import evaluate_holdout
    from automl_rec.models.baselines import Popularity

    split = split_of(make_interactions(n_users=200, n_items=60, mean_history=10, seed=3),
                     cold_items=0.2)
    model = Popularity().fit(split.stage("train_valid"))
    result = evaluate_holdout(model.score, split.holdout("test"), exclude_seen=True)
    figures = result.metrics()
    assert figures["warm_cases"] + figures["cold_cases"] == len(result.users)
    assert figures["cold_hr@10"] == 0.0  # popularity never lists an item nobody had
    assert figures["warm_hr@10"] == pytest.approx(result.hit[~result.cold].mean())
    plain = split_of(make_interactions(n_users=200, n_items=60, mean_history=10, seed=3))
    unsplit = evaluate_holdout(Popularity().fit(plain.stage("train_valid")).score,
                               plain.holdout("test"), exclude_seen=True).metrics()
    history, targets = plain.stage("train_valid"), plain.holdout("test").targets
    assert ("cold_cases" in unsplit) == bool((history.item_counts[targets] == 0).any())


def test_items_only_in_the_catalogue_join_the_encoder_in_sorted_order() -> None:
    frame = pd.DataFrame({"user": ["u1"] * 3 + ["u2"] * 3, "item": list("bdfbdf"),
                          "timestamp": [1, 2, 3, 1, 2, 3]})
    split = split_of(frame)
    wider = split_of(frame, catalogue=["a", "b", "c", "f"])
    assert list(wider.item_ids.ids) == ["a", "b", "c", "d", "f"]
    assert wider.item_ids.decode(wider.items).tolist() == split.item_ids.decode(
        split.items).tolist()
    assert wider.stage("all").item_counts.tolist() == [0, 2, 0, 2, 2]
