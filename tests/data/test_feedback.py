from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl_rec.data.feedback import read_positives
from automl_rec.data.profiling import profile_interactions
from automl_rec.data.splitting import split_interactions
from automl_rec.errors import DataValidationError


def clicks() -> pd.DataFrame:
    """Every user is shown seven items; only 'x', 'y' and 'z' are ever clicked."""
    rows = []
    for user in range(20):
        for step, item in enumerate(["a", "b", "x", "c", "y", "a", "z"]):
            rows.append((f"u{user}", item, int(item in "xyz"), 100 * user + step))
    return pd.DataFrame(rows, columns=["user", "item", "clicked", "timestamp"])


def test_a_binary_labels_zero_rows_are_not_positives() -> None:
    data = read_positives(clicks(), {})
    assert set(data.frame["item"]) == {"x", "y", "z"}
    assert len(data.frame) == 60 and len(data.negatives) == 80
    assert set(data.negatives["item"]) == {"a", "b", "c"}
    assert data.feedback["kind"] == "binary"
    assert (data.feedback["positives"], data.feedback["negatives"]) == (60, 80)
    assert "clicked = 1" in data.feedback["rule"]


def test_the_profile_counts_positives_and_describes_every_rows_label() -> None:
    profile = profile_interactions(read_positives(clicks(), {}))
    assert profile.n_interactions == 60 and profile.n_items == 3
    assert profile.feedback["negatives"] == 80
    assert profile.rating_histogram == {"0": 80, "1": 60}


def test_negatives_never_reach_histories_targets_or_popularity() -> None:
    split = split_interactions(read_positives(clicks(), {}))
    assert split.item_ids.ids.tolist() == ["x", "y", "z"]
    assert split.stage("all").item_counts.tolist() == [20, 20, 20]
    assert split.stage("train").item_counts.tolist() == [20, 0, 0]
    assert set(split.item_ids.decode(split.holdout("test").targets)) == {"z"}


@pytest.mark.parametrize("rule, kept", [("rating>=4", {"4", "5"}), (">=4", {"4", "5"}),
                                        ("stars > 4", {"5"}), ("rating=3", {"3"}),
                                        ("rating != 1", {"2", "3", "4", "5"})])
def test_a_positive_rule_keeps_the_rows_that_meet_it(rule: str, kept: set[str]) -> None:
    frame = pd.DataFrame({"user": ["u", "v"] * 5, "item": [str(i) for i in range(10)],
                          "stars": [1, 2, 3, 4, 5] * 2})
    frame["item"] = frame["stars"].astype(str) + "-" + frame["item"]
    data = read_positives(frame, {}, rule)
    assert {i.split("-")[0] for i in data.frame["item"]} == kept
    assert data.feedback["rule"] == rule
    assert data.feedback["positives"] + data.feedback["negatives"] == 10


def test_star_ratings_without_a_rule_count_every_rated_item() -> None:
    frame = pd.DataFrame({"user": ["u", "v"] * 3, "item": list("abcdef"),
                          "rating": [1, 2, 3, 4, 5, 1]})
    data = read_positives(frame, {})
    assert len(data.frame) == 6 and data.feedback["negatives"] == 0
    assert "every rated item" in data.feedback["rule"]


def test_an_event_rule_names_event_types() -> None:
    frame = pd.DataFrame({"user": ["u", "u", "v", "v"], "item": list("abcd"),
                          "event": ["view", "purchase", "cart", "view"]})
    data = read_positives(frame, {}, "event=purchase,cart")
    assert data.frame["item"].tolist() == ["b", "c"]
    assert read_positives(frame, {}, "event!=view").frame["item"].tolist() == ["b", "c"]


@pytest.mark.parametrize("rule, message", [
    ("rating~4", "Could not read"), ("rating>>4", "not a number"),
    ("rating>=high", "not a number"), ("event>buy", "no rating or event role"),
    ("price>=4", "no rating or event role"), ("rating>=9", "No row"),
])
def test_bad_rules_are_one_clear_error(rule: str, message: str) -> None:
    frame = pd.DataFrame({"user": ["u", "v"], "item": ["a", "b"], "rating": [3, 5]})
    with pytest.raises(DataValidationError, match=message):
        read_positives(frame, {}, rule)


def test_a_label_column_with_one_value_is_implicit() -> None:
    frame = pd.DataFrame({"user": ["u", "v"], "item": ["a", "b"], "clicked": [1, 1]})
    data = read_positives(frame, {})
    assert data.feedback["kind"] == "implicit" and data.feedback["negatives"] == 0
    assert np.array_equal(data.frame["item"].to_numpy(), np.array(["a", "b"], dtype=object))
