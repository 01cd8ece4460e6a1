"""The fast paths of the data steps give what the plain pandas paths gave.

Each test feeds a small awkward input to both the fast path and the reference (the pandas reader,
``pd.to_numeric``, ``DataFrame.duplicated``, object factorisation) and compares the results
value by value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from automl_rec.data.loading import (
    TEXT,
    _read_with_arrow,
    _read_with_pandas,
    as_text,
    load_interactions,
)
from automl_rec.data.profiling import _time_codes, distinct_pairs
from automl_rec.data.splitting import IdEncoder
from automl_rec.data.validation import as_numbers, duplicate_rows


def write(tmp_path: Path, text: str, encoding: str = "utf-8", bom: bool = False) -> Path:
    path = tmp_path / "log.txt"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def as_lists(frame: pd.DataFrame) -> list[list[object]]:
    """Rows with missing values as ``None`` (both paths hold text, missing as NA)."""
    return [[None if pd.isna(v) else v for v in row] for row in frame.itertuples(index=False)]


# (file text, separator, encoding, byte-order mark, header, fields of the first line)
SAME_AS_PANDAS = [
    pytest.param('user,item,rating\n1,"a, b",5\n2,c,4\n"x, y",c,1\n', ",", "utf-8", False,
                 True, 3, id="quoted-fields"),
    pytest.param("user,item\nu1,café\nu2,thé\nu3,crème brûlée\n", ",", "latin-1", False, True,
                 2, id="latin-1"),
    pytest.param("user,item\n1,a\n2,b\n", ",", "utf-8-sig", True, True, 2, id="bom-header"),
    pytest.param("1,a\n2,b\n", ",", "utf-8-sig", True, False, 2, id="bom-no-header"),
    pytest.param("1::1193::5::978300760\n2::661::3::978302109\n", "::", "utf-8", False, False,
                 4, id="double-colon"),
    pytest.param("196\t242\t3\n186\t302\t3\n", "\t", "utf-8", False, False, 3, id="no-header"),
    pytest.param("user;item\n 1; a\nNULL;b\n2;\nN/A; NA\n", ";", "utf-8", False, True, 2,
                 id="missing-tokens-and-leading-spaces"),
    pytest.param("user|item\n0042|B00004Y2UT\nA2IBPI|0972683275\n1234567890123456789|7\n",
                 "|", "utf-8", False, True, 2, id="mixed-id-types"),
    pytest.param("user,item\n1,a\n\n2,b\n", ",", "utf-8", False, True, 2, id="blank-line"),
    pytest.param('user,item\n1,"a\nb"\n2,c\n', ",", "utf-8", False, True, 2,
                 id="line-break-in-quotes"),
]


@pytest.mark.parametrize(("text", "sep", "encoding", "bom", "header", "fields"), SAME_AS_PANDAS)
def test_arrow_reader_matches_pandas_reader(
    tmp_path: Path, text: str, sep: str, encoding: str, bom: bool, header: bool, fields: int
) -> None:
    path = write(tmp_path, text, "latin-1" if encoding == "latin-1" else "utf-8", bom)
    fast = _read_with_arrow(path, sep, encoding, fields, header)
    reference = _read_with_pandas(path, sep, encoding, header)
    assert fast is not None
    assert (fast.dtypes == TEXT).all()
    assert as_lists(fast) == as_lists(reference)


@pytest.mark.parametrize(("text", "sep", "fields"), [
    pytest.param("u::i::r\n1::a:b::5\n2::c::4\n", "::", 3,
                 id="colon-inside-a-double-colon-field"),
    pytest.param("user,item\n1,a\n2,b,3\n", ",", 2, id="ragged-line"),
    pytest.param("user item\n1 a\n2 b\n", " ", 2, id="space-separated"),
])
def test_arrow_reader_leaves_what_it_cannot_read_to_pandas(
    tmp_path: Path, text: str, sep: str, fields: int
) -> None:
    assert _read_with_arrow(write(tmp_path, text), sep, "utf-8", fields, True) is None


def test_files_arrow_cannot_read_still_load(tmp_path: Path) -> None:
    loaded = load_interactions(write(tmp_path, "1::a:b::5\n2::c::4\n3::a:b::2\n"))
    assert loaded.notes["separator"] == "::"
    assert loaded.frame["item"].tolist() == ["a:b", "c", "a:b"]


def test_header_names_from_arrow_path_are_cleaned_and_unique(tmp_path: Path) -> None:
    loaded = load_interactions(write(tmp_path, " user , item ,item,rating\n1,a,x,5\n2,b,y,4\n"))
    assert loaded.roles.user == "user" and loaded.roles.item == "item"
    assert loaded.frame["item"].tolist() == ["a", "b"]


def test_as_text_matches_the_object_conversion() -> None:
    columns = [
        pd.Series([1, 22, -3, 1234567890123456789]),
        pd.Series([1.0, None, 3.0]),
        pd.Series([1.5, None, 3.0]),
        pd.Series([1, "a", 2.5, None], dtype=object),
        pd.Series([True, False]),
        pd.Series(pd.array([4, None, 6], dtype="Int64")),
    ]
    for values in columns:
        expected = values.astype("Int64") if values.dtype == float and values.dropna().mod(
            1).eq(0).all() else values
        reference = [None if pd.isna(v) else v
                     for v in expected.astype("string").astype(object).tolist()]
        text = as_text(values)
        assert text.dtype == TEXT
        assert [None if pd.isna(v) else v for v in text.tolist()] == reference


def test_as_numbers_matches_to_numeric() -> None:
    rng = np.random.default_rng(0)
    values = ["5", "4.5", "-1e3", "+2", ".5", "5.", " 7", "inf", "-Infinity", "x", "", "1_0",
              None, "978300760000", "0042"]
    for picked in (values, list(rng.choice(np.array(values, dtype=object), 40))):
        text = pd.Series(picked, dtype=TEXT)
        expected = pd.to_numeric(pd.Series(picked, dtype=object), errors="coerce").astype(float)
        np.testing.assert_array_equal(as_numbers(text).to_numpy(), expected.to_numpy())
    plain = pd.Series(["1", "2.5", None, "978300760"], dtype=TEXT)
    assert as_numbers(plain).tolist()[:2] == [1.0, 2.5]


def test_distinct_pairs_matches_unique() -> None:
    rng = np.random.default_rng(1)
    first, second = rng.integers(0, 30, 500), rng.integers(0, 7, 500)
    assert distinct_pairs(first, second, 7) == len(set(zip(first.tolist(), second.tolist())))
    assert distinct_pairs(first[:0], second[:0], 7) == 0


def test_id_encoder_on_chunked_arrow_text_sorts_ids_like_python() -> None:
    chunks = pa.chunked_array([["b", "a"], ["b", "é", "a"], ["D", "10", "9"]],
                              type=pa.large_string())
    raw = pd.Series(pd.arrays.ArrowStringArray(chunks))
    encoder, codes = IdEncoder.fit_encode(raw)
    reference = IdEncoder.fit(np.array(raw.tolist(), dtype=object))
    assert encoder.ids.tolist() == reference.ids.tolist() == sorted(set(raw.tolist()))
    assert encoder.ids.tolist() == ["10", "9", "D", "a", "b", "é"]
    assert codes.tolist() == [4, 3, 4, 5, 3, 2, 0, 1]
    assert codes.dtype == np.int64
    assert encoder.decode(codes).tolist() == raw.tolist()


def test_duplicate_rows_matches_pandas() -> None:
    rng = np.random.default_rng(2)
    n = 3000
    frame = pd.DataFrame({
        "user": pd.Series(rng.integers(0, 20, n).astype(str), dtype=TEXT),
        "item": pd.Series(rng.integers(0, 15, n).astype(str), dtype=TEXT),
        "rating": rng.choice(np.array([1.0, 2.0, 0.0, -0.0, np.nan]), n),
        "time": rng.integers(0, 40, n).astype(float),
        "event": pd.Series(rng.choice(np.array(["view", "buy"]), n), dtype=TEXT),
    })
    expected = frame.duplicated().to_numpy()
    assert expected.sum() > 20
    np.testing.assert_array_equal(duplicate_rows(frame), expected)
    np.testing.assert_array_equal(duplicate_rows(frame[["user", "item"]]),
                                  frame[["user", "item"]].duplicated().to_numpy())


@pytest.mark.parametrize("times", [
    pytest.param(np.array([5.0, 5.0, 7.0, 5.0, 9.0, 7.0]), id="whole-seconds"),
    pytest.param(np.array([5.5, 5.5, 7.0, 5.0, 9.25, 7.0]), id="fractions"),
    pytest.param(np.array([1e9, 2e9, 1e9, 3e9, 2e9, 1e9]), id="wide-range"),
])
def test_tie_share_is_the_share_of_repeated_user_times(times: np.ndarray) -> None:
    users = np.array([0, 0, 0, 1, 1, 1])
    codes, bound = _time_codes(times, n_users=2)
    assert codes.min() >= 0 and codes.max() < bound
    expected = pd.DataFrame({"u": users, "t": times}).duplicated().sum()
    assert len(times) - distinct_pairs(users, codes, bound) == expected
