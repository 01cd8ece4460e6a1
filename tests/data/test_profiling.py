from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from automl_rec.data.loading import load_interactions
from automl_rec.data.profiling import DataProfile, profile_interactions
from automl_rec.data.validation import validate_interactions


def profile_of(frame: pd.DataFrame) -> DataProfile:
    return profile_interactions(validate_interactions(load_interactions(frame)))


def test_counts_density_repeats_and_long_tail_by_hand() -> None:
    frame = pd.DataFrame({
        "user": ["a", "a", "a", "b", "b", "c"],
        "item": ["x", "y", "x", "x", "z", "x"],
        "rating": [5, 4, 3, 5, 1, 2],
        "timestamp": [1, 2, 3, 4, 5, 6],
    })
    profile = profile_of(frame)
    assert (profile.n_users, profile.n_items, profile.n_interactions) == (3, 3, 6)
    assert profile.density == pytest.approx(5 / 9)  # 5 distinct (user, item) pairs
    assert profile.repeat_rate == pytest.approx(1 / 6)
    assert profile.feedback == {"kind": "explicit", "scale": [1.0, 5.0], "distinct_values": 5}
    assert profile.rating_histogram == {"1": 1, "2": 1, "3": 1, "4": 1, "5": 2}
    assert profile.user_activity == {"min": 1, "median": 2.0, "mean": 2.0, "p95": 2.9, "max": 3}
    # item counts 4, 1, 1: the top item (1% -> 1 item) holds 4/6; top 20% -> 1 item as well
    assert profile.long_tail["top_1pct_share"] == pytest.approx(4 / 6)
    counts = np.array([1, 1, 4], dtype=float)
    gini = (2 * np.sum(np.arange(1, 4) * counts)) / (3 * counts.sum()) - 4 / 3
    assert profile.long_tail["gini"] == pytest.approx(gini)
    assert profile.cold_user_share == pytest.approx(2 / 3)
    assert profile.has_timestamps


def test_binary_labels_and_events_are_recognised() -> None:
    labels = pd.DataFrame({"user": ["a", "b", "a"], "item": ["x", "x", "y"], "clicked": [1, 0, 1]})
    assert profile_of(labels).feedback["kind"] == "binary"
    events = pd.DataFrame({"user": ["a", "b", "a"], "item": ["x", "x", "y"],
                           "event": ["view", "buy", "view"]})
    feedback = profile_of(events).feedback
    assert feedback == {"kind": "events", "events": {"view": 2, "buy": 1}}


def test_profile_is_json_serialisable_and_round_trips() -> None:
    frame = pd.DataFrame({"user": list("aabbcc"), "item": list("xyxyzx"),
                          "date": ["2024-01-01", "2024-01-05", "2024-02-01", "2024-02-03",
                                   "2024-03-01", "2024-03-02"]})
    profile = profile_of(frame)
    again = DataProfile.from_dict(json.loads(profile.to_json()))
    assert again == profile
    assert profile.time_span is not None and profile.time_span["days"] == pytest.approx(61)
    assert profile.activity is not None and sum(profile.activity["counts"].values()) == 6


def test_missing_timestamps_warn_that_sequence_families_are_left_out() -> None:
    profile = profile_of(pd.DataFrame({"user": list("aabb"), "item": list("xyxy")}))
    assert not profile.has_timestamps
    assert any("No timestamps" in w for w in profile.warnings)
