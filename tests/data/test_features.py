"""Item and user tables: reading them and the inferred kind of each attribute column."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl_rec.cli import main
from automl_rec.data.features import (
    date_days,
    feature_summary,
    infer_column,
    parse_feature_types,
    read_feature_table,
    read_features,
)
from automl_rec.data.profiling import profile_log
from automl_rec.errors import DataValidationError

N = 60


def _kind(values: list[object] | pd.Series, name: str = "column") -> tuple[str, str]:
    column = infer_column(pd.Series(values), name)
    return column.kind, column.reason


def _words(rng: np.random.Generator, n: int) -> str:
    vocabulary = ["red", "blue", "soft", "steel", "guitar", "string", "case", "pro", "mini"]
    return " ".join(rng.choice(vocabulary, size=n))


def test_kinds_of_typical_columns() -> None:
    rng = np.random.default_rng(0)
    titles = [f"{_words(rng, 4)} {i}" for i in range(N)]
    assert _kind(titles)[0] == "text"
    genres = ["|".join(rng.choice(["drama", "comedy", "crime", "war"], size=2, replace=False))
              for _ in range(N)]
    kind, reason = _kind(genres)
    assert kind == "multi" and "'|'" in reason
    assert _kind(list(rng.normal(30, 8, size=N)))[0] == "numeric"
    prices = list(np.round(rng.lognormal(2, 1.5, size=N), 2))
    column = infer_column(pd.Series(prices), "price")
    assert (column.kind, column.stats["log"]) == ("numeric", True)
    assert _kind(list(rng.integers(0, 2, size=N)))[0] == "categorical"  # a 0/1 flag
    assert _kind(list(rng.choice(["acme", "zenith", "nova"], size=N)))[0] == "categorical"
    dates = [f"{d:02d}-Jan-1995" for d in rng.integers(1, 28, size=N)]
    kind, reason = _kind(dates)
    assert (kind, reason) == ("numeric", "dates, as days")


@pytest.mark.parametrize(("values", "reason"), [
    ([f"http://shop.example/item/{i}" for i in range(N)], "unique per row (like a URL)"),
    ([f"SKU-{i:05d}-X" for i in range(N)], "unique per row (like an id)"),
    (["same"] * N, "constant (one value)"),
    ([None] * (N - 2) + ["a", "b"], "mostly missing (97% of rows)"),
    (["", " "] * (N // 2), "mostly missing (100% of rows)"),
])
def test_ignored_columns_say_why(values: list[object], reason: str) -> None:
    assert _kind(values) == ("ignored", reason)


def test_numbers_that_are_codes_are_categories() -> None:
    rng = np.random.default_rng(1)
    zips = [str(z) for z in rng.integers(10000, 10040, size=N)]
    kind, reason = _kind(zips, "zip_code")
    assert kind == "categorical" and "(a code)" in reason
    padded = [f"0{z}" for z in rng.integers(1000, 1030, size=N)]  # leading zeros
    assert _kind(padded, "region")[0] == "categorical"
    assert _kind([str(z) for z in rng.integers(10000, 10040, size=N)], "weight")[0] == "numeric"


def test_date_days_counts_from_1970() -> None:
    days = date_days(pd.Series(["1970-01-11", "01-Jan-1971", "not a date"]))
    assert days.iloc[0] == 10 and days.iloc[1] == 365 and np.isnan(days.iloc[2])


def test_parse_feature_types() -> None:
    assert parse_feature_types("title=text, genres=MULTI") == {"title": "text",
                                                               "genres": "multi"}
    assert parse_feature_types(None) == {} and parse_feature_types({"a": "numeric"}) == {
        "a": "numeric"}
    with pytest.raises(DataValidationError, match="'texty' for column 'title' is not one of"):
        parse_feature_types("title=texty")
    with pytest.raises(DataValidationError, match="'' for column 'title'"):
        parse_feature_types("title")


def _catalogue() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    return pd.DataFrame({
        "title": [f"{_words(rng, 3)} {i}" for i in range(N)],
        "brand": rng.choice(["acme", "nova"], size=N),
        "item_id": [f"i{i}" for i in range(N)],
        "price": rng.uniform(1, 9, size=N).round(2),
    })


def test_item_table_finds_its_id_column_and_drops_bad_rows() -> None:
    frame = _catalogue()
    frame.loc[3, "item_id"] = None
    frame.loc[5, "item_id"] = "i4"  # a repeated id: the first row is kept
    table = read_feature_table(frame, "items")
    assert table.schema.key == "item_id"
    assert table.schema.n_rows == N - 2 and len(table.ids) == len(table.frame) == N - 2
    assert list(table.frame.columns) == ["title", "brand", "price"]
    assert table.frame.loc[table.ids.tolist().index("i4"), "title"] == frame.loc[4, "title"]
    assert {c.name: c.kind for c in table.schema.columns} == {
        "title": "text", "brand": "categorical", "price": "numeric"}
    assert len(table.schema.warnings) == 2


def test_overrides_apply_and_unknown_columns_are_an_error() -> None:
    features = read_features(items=_catalogue(), feature_types="brand=ignored,price=categorical")
    kinds = {c.name: (c.kind, c.reason) for c in features.items.schema.columns}
    assert kinds["brand"] == ("ignored", "set by --feature-types")
    assert kinds["price"][0] == "categorical"
    with pytest.raises(DataValidationError, match="'colour', which no item or user table has"):
        read_features(items=_catalogue(), feature_types="colour=text")
    with pytest.raises(DataValidationError, match="no --items or --users table"):
        read_features(feature_types="colour=text")


def test_a_table_needs_an_attribute_column() -> None:
    with pytest.raises(DataValidationError, match="at least one attribute column"):
        read_feature_table(pd.DataFrame({"item_id": ["a", "b"]}), "items")


def _log() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({"user": rng.integers(0, 20, size=400).astype(str),
                         "item": [f"i{i}" for i in rng.integers(0, 70, size=400)]})


def test_profile_counts_how_table_ids_meet_the_log() -> None:
    log = _log()
    _, profile = profile_log(log, {}, features=read_features(items=_catalogue()))
    items = profile.features["items"]
    in_log = set(log["item"])
    assert items["matched"] == len(in_log & {f"i{i}" for i in range(N)})
    assert items["only_in_table"] == N - items["matched"]
    assert items["missing_rows"] == len(in_log) - items["matched"]
    summary = feature_summary(profile.features)
    assert len(summary) == 1 and summary[0]["title"].startswith("Item table")
    assert ("'title'", "text", summary[0]["rows"][0][2]) == summary[0]["rows"][0]
    assert profile_log(log, {})[1].features is None


def test_profile_command_shows_the_kinds(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    log, items = tmp_path / "log.csv", tmp_path / "items.tsv"
    _log().to_csv(log, index=False)
    _catalogue()[["item_id", "title", "brand", "price"]].to_csv(items, sep="\t", index=False)
    assert main(["profile", str(log), "--items", str(items), "--format", "json"]) == 0
    described = json.loads(capsys.readouterr().out)["features"]["items"]
    assert [c["kind"] for c in described["columns"]] == ["text", "categorical", "numeric"]
    assert main(["profile", str(log), "--items", str(items)]) == 0
    out = capsys.readouterr().out
    assert "Item table: items.tsv" in out and "free text" in out


@pytest.mark.parametrize("flags", [
    ["--items", "missing.csv"],
    ["--feature-types", "title=text"],
    ["--items", "items.csv", "--feature-types", "title=words"],
])
def test_feature_errors_are_one_line_and_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    flags: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    _log().to_csv("log.csv", index=False)
    _catalogue().to_csv("items.csv", index=False)
    assert main(["profile", "log.csv", *flags]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("automl-rec: error: ") and err.count("\n") == 1


def test_attribute_vectors_follow_the_asked_order_with_one_unit_block_per_column() -> None:
    from automl_rec.data.features import NUMERIC_BINS, attribute_vectors

    frame = pd.DataFrame({
        "item_id": ["a", "b", "c", "d"],
        "genres": ["drama|war", "drama", "comedy|drama", "war"],
        "title": ["red steel guitar", "blue steel case", "red mini case", "soft pro strings"],
        "brand": ["acme", "acme", "nova", None],
        "price": [1.0, 2.0, 3.0, 40.0],
    })
    table = read_feature_table(frame, "items", feature_types={"genres": "multi",
                                                              "brand": "categorical"})
    vectors = attribute_vectors(table, ["c", "zzz", "a"])
    assert vectors.shape[0] == 3 and vectors[1].nnz == 0  # an id without a row: empty
    dense = vectors.toarray()
    # genres (3 values), title (the words that occur twice: red, steel, case), brand (2),
    # price (one bin of NUMERIC_BINS, only the bins in use): four unit blocks.
    assert dense[0] @ dense[0] == pytest.approx(4.0)
    assert dense[2] @ dense[2] == pytest.approx(4.0)
    assert vectors.shape[1] <= 3 + 3 + 2 + NUMERIC_BINS
    # c and a share drama, "red", and nothing else.
    assert 0 < dense[0] @ dense[2] < 2.0
