from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl_rec.data.splitting import RANDOM, TEMPORAL, IdEncoder
from tests.conftest import split_of


def frame_with_times() -> pd.DataFrame:
    return pd.DataFrame({
        "user": ["u1"] * 4 + ["u2"] * 3 + ["u3"] * 2,
        "item": ["a", "b", "c", "d", "c", "a", "b", "a", "b"],
        "timestamp": [40, 10, 30, 20, 5, 5, 1, 1, 2],
    })


def test_temporal_leave_last_out_by_time_with_ties_in_file_order() -> None:
    split = split_of(frame_with_times())
    assert split.protocol == TEMPORAL
    decode = split.item_ids.decode
    valid, test = split.holdout("valid"), split.holdout("test")
    users = dict(zip(split.user_ids.decode(test.users), decode(test.targets)))
    # u1 by time: b(10) d(20) c(30) a(40); u2: b(1), then c and a tied at 5 in file order c, a
    assert users == {"u1": "a", "u2": "a"}
    assert dict(zip(split.user_ids.decode(valid.users), decode(valid.targets))) == {
        "u1": "c", "u2": "c"}
    # u3 has only 2 interactions: training only
    train = split.stage("train")
    assert set(split.user_ids.decode(train.users)) == {"u1", "u2", "u3"}
    assert split.user_ids.decode(train.users).tolist().count("u3") == 2
    assert decode(train.items[split.user_ids.decode(train.users) == "u1"]).tolist() == ["b", "d"]


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
    assert encoder.encode(["a", "1234567890123456789", "zzz"]).tolist() == [1, 2, -1]
    assert encoder.decode(np.array([0, 2])).tolist() == ["b", "1234567890123456789"]


@pytest.mark.parametrize("repeat, expected", [(False, True), (True, False)])
def test_exclude_seen_policy_follows_repeat_rate(repeat: bool, expected: bool) -> None:
    items = ["a", "b", "a", "b", "a", "b"] if repeat else ["a", "b", "c", "d", "e", "f"]
    frame = pd.DataFrame({"user": ["u"] * 6 + ["v"] * 6, "item": items * 2,
                          "timestamp": list(range(12))})
    assert split_of(frame).exclude_seen is expected
    assert split_of(frame, exclude_seen=not expected).exclude_seen is (not expected)
