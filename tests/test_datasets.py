"""Tests for the synthetic interaction generator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl_rec.datasets import make_interactions

SMALL = dict(n_users=400, n_items=250, n_categories=10, mean_history=20.0)
COLUMNS = ["customer_id", "sku", "category", "event", "timestamp"]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_interactions(**SMALL, seed=7)


def _by_user(df: pd.DataFrame) -> pd.DataFrame:
    """Rows grouped by user, each user's rows in time order."""
    return df.sort_values(["customer_id", "timestamp"], kind="stable").reset_index(
        drop=True
    )


def _top3_coverage(df: pd.DataFrame) -> float:
    """Share of consecutive transitions that go to one of the source item's
    three most frequent next items."""
    nxt = df.groupby("customer_id")["sku"].shift(-1)
    pairs = pd.DataFrame({"a": df["sku"], "b": nxt}).dropna()
    counts = pairs.value_counts().rename("n").reset_index()
    top = (
        counts.sort_values(["a", "n"], ascending=[True, False])
        .groupby("a")
        .head(3)
    )
    return float(top["n"].sum() / counts["n"].sum())


def test_same_seed_identical() -> None:
    a = make_interactions(**SMALL, seed=3)
    b = make_interactions(**SMALL, seed=3)
    pd.testing.assert_frame_equal(a, b)


def test_other_seed_differs() -> None:
    a = make_interactions(**SMALL, seed=3)
    b = make_interactions(**SMALL, seed=4)
    assert not a.equals(b)


def test_columns_and_dtypes(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == COLUMNS
    for col in COLUMNS:
        assert pd.api.types.is_string_dtype(frame[col]), col
    assert frame["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert frame["sku"].str.fullmatch(r"SKU-\d{5}").all()
    assert frame["category"].str.fullmatch(r"cat-\d{2}").all()
    assert set(frame["event"]) <= {"view", "add_to_cart", "purchase"}
    assert frame["event"].value_counts(normalize=True)["view"] > 0.6
    assert frame.index.equals(pd.RangeIndex(len(frame)))


def test_sizes(frame: pd.DataFrame) -> None:
    n_users, mean_history = SMALL["n_users"], SMALL["mean_history"]
    assert frame["customer_id"].nunique() == n_users
    assert frame.groupby("customer_id").size().min() >= 3
    assert 0.8 * n_users * mean_history < len(frame) < 1.2 * n_users * mean_history
    assert frame["sku"].nunique() <= SMALL["n_items"]
    assert frame["category"].nunique() <= SMALL["n_categories"]


def test_no_missing_values(frame: pd.DataFrame) -> None:
    assert not frame.isna().any().any()
    assert (frame.map(len) > 0).all().all()


def test_timestamps_parse_and_sorted(frame: pd.DataFrame) -> None:
    assert frame["timestamp"].str.fullmatch(
        r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
    ).all()
    ts = pd.to_datetime(frame["timestamp"], format="%Y-%m-%d %H:%M:%S")
    assert ts.is_monotonic_increasing
    assert ts.min() >= pd.Timestamp("2024-01-01")
    first = ts.groupby(frame["customer_id"]).min()
    assert first.max() < pd.Timestamp("2024-01-01") + pd.Timedelta(days=181)


def test_start_argument() -> None:
    df = make_interactions(n_users=20, n_items=30, n_categories=3, start="2023-06-15")
    ts = pd.to_datetime(df["timestamp"])
    assert ts.min() >= pd.Timestamp("2023-06-15")
    assert ts.min() < pd.Timestamp("2023-06-15") + pd.Timedelta(days=181)


def test_item_category_is_consistent(frame: pd.DataFrame) -> None:
    assert (frame.groupby("sku")["category"].nunique() == 1).all()


def test_repeat_share_small(frame: pd.DataFrame) -> None:
    repeats = frame.duplicated(["customer_id", "sku"]).mean()
    assert repeats < 0.05


def test_popularity_is_skewed(frame: pd.DataFrame) -> None:
    counts = frame["sku"].value_counts()
    top_decile = counts.iloc[: max(1, len(counts) // 10)].sum()
    assert top_decile / counts.sum() > 0.25


def test_users_focus_on_few_categories(frame: pd.DataFrame) -> None:
    top3 = frame.groupby("customer_id")["category"].agg(
        lambda s: s.value_counts(normalize=True).iloc[:3].sum()
    )
    # With 10 categories and no taste structure this would be about 0.3-0.5.
    assert top3.median() > 0.7


def test_sequential_structure_detectable(frame: pd.DataFrame) -> None:
    ordered = _by_user(frame)
    real = _top3_coverage(ordered)

    rng = np.random.default_rng(0)
    control = ordered.copy()
    control["sku"] = control.groupby("customer_id")["sku"].transform(
        lambda s: rng.permutation(s.to_numpy())
    )
    shuffled = _top3_coverage(control)

    assert real > shuffled + 0.12
    assert real > 1.6 * shuffled


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(n_users=0),
        dict(n_items=1, n_categories=1),
        dict(n_items=5, n_categories=8),
        dict(mean_history=2.0),
    ],
)
def test_invalid_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        make_interactions(**kwargs)
