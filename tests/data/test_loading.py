"""Awkward but usable inputs: each one is loaded, validated and profiled correctly.

Every file is a few lines written into ``tmp_path``; the tests check the counts, the column roles
the loader chose, the parsed values and the warnings the user is shown.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from automl_rec.data.loading import (
    TEXT,
    LoadedInteractions,
    _Malformed,
    _read_with_pandas,
    load_interactions,
)
from automl_rec.data.profiling import DataProfile, profile_interactions
from automl_rec.data.validation import Interactions, validate_interactions
from automl_rec.errors import DataValidationError

# Hand-computed epochs: 2024-01-01 00:00 UTC is 1704067200; January has 31 days.
JAN_31_2024 = 1704067200 + 30 * 86400  # 2024-01-31 00:00:00 UTC = 1706659200
JAN_31_2024_NOON = JAN_31_2024 + 12 * 3600  # 1706702400


# --------------------------------------------------------------------------------------------
# helpers


def write_text(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` as bytes (no newline translation) and return the path."""
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def write_bytes(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


def run_pipeline(
    source: Path | pd.DataFrame, **kwargs: str
) -> tuple[LoadedInteractions, Interactions, DataProfile]:
    loaded = load_interactions(source, **kwargs)
    data = validate_interactions(loaded)
    profile = profile_interactions(data)
    # Every profile must survive a JSON round trip.
    assert json.loads(profile.to_json()) == json.loads(json.dumps(profile.to_dict()))
    return loaded, data, profile


def roles(loaded: LoadedInteractions) -> dict[str, str | None]:
    return loaded.roles.as_dict()


def assert_counts(profile: DataProfile, users: int, items: int, interactions: int) -> None:
    assert (profile.n_users, profile.n_items, profile.n_interactions) == (
        users, items, interactions)


RATINGS_CSV = lines("user,item,rating", "1,a,5", "2,b,4", "3,a,3", "1,b,2")


# --------------------------------------------------------------------------------------------
# encodings


def test_utf8_bom_is_ignored_with_a_warning(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "bom.csv", b"\xef\xbb\xbf" + RATINGS_CSV.encode())
    loaded, data, profile = run_pipeline(path)
    # The BOM must not stick to the first header name.
    assert roles(loaded) == {"user": "user", "item": "item", "rating": "rating", "event": None,
                             "time": None}
    assert_counts(profile, 3, 2, 4)
    assert data.frame["user"].tolist() == ["1", "2", "3", "1"]
    assert any("byte-order mark" in w for w in loaded.warnings)
    assert any("byte-order mark" in w for w in profile.warnings)
    assert profile.reading["encoding"] == "utf-8-sig"


def test_latin1_bytes_are_decoded_with_a_warning(tmp_path: Path) -> None:
    text = lines("user,item", "u1,café", "u2,thé", "u1,thé", "u3,crème brûlée")
    path = write_text(tmp_path, "latin.csv", text, encoding="latin-1")
    loaded, data, profile = run_pipeline(path)
    assert data.frame["item"].tolist() == ["café", "thé", "thé", "crème brûlée"]
    assert_counts(profile, 3, 3, 4)
    assert any("Latin-1" in w for w in profile.warnings)
    assert profile.reading["encoding"] == "latin-1"


def test_plain_utf8_gives_no_reading_warning(tmp_path: Path) -> None:
    path = write_text(tmp_path, "utf8.csv", lines("user,item", "u1,café", "u2,thé", "u3,café"))
    loaded, data, _ = run_pipeline(path)
    assert loaded.warnings == []
    assert data.frame["item"].tolist() == ["café", "thé", "café"]


# --------------------------------------------------------------------------------------------
# separators


@pytest.mark.parametrize(
    "sep",
    [pytest.param(";", id="semicolon"), pytest.param("\t", id="tab"),
     pytest.param("|", id="pipe"), pytest.param(",", id="comma")],
)
def test_separator_is_sniffed(tmp_path: Path, sep: str) -> None:
    text = RATINGS_CSV.replace(",", sep)
    loaded, data, profile = run_pipeline(write_text(tmp_path, "sep.txt", text))
    assert loaded.notes["separator"] == sep
    assert roles(loaded)["rating"] == "rating"
    assert_counts(profile, 3, 2, 4)
    assert data.frame["rating"].tolist() == [5.0, 4.0, 3.0, 2.0]
    assert profile.feedback["kind"] == "explicit"
    assert loaded.warnings == []


def test_movielens_1m_double_colon(tmp_path: Path) -> None:
    text = lines("1::1193::5::978300760", "1::661::3::978302109", "2::1193::4::978298413",
                 "2::3408::4::978299000", "3::661::2::978301000")
    loaded, data, profile = run_pipeline(write_text(tmp_path, "ratings.dat", text))
    assert loaded.notes["separator"] == "::"
    assert loaded.notes["has_header"] is False
    assert roles(loaded) == {"user": "0", "item": "1", "rating": "2", "event": None, "time": "3"}
    assert_counts(profile, 3, 3, 5)
    assert data.frame.loc[0].to_dict() == {"user": "1", "item": "1193", "rating": 5.0,
                                           "time": 978300760.0}
    assert profile.has_timestamps
    assert profile.feedback["scale"] == [2.0, 5.0]


def test_explicit_separator_argument(tmp_path: Path) -> None:
    path = write_text(tmp_path, "x.txt", lines("user#item", "1#a", "2#b", "3#a"))
    loaded, _, profile = run_pipeline(path, sep="#")
    assert roles(loaded)["user"] == "user"
    assert_counts(profile, 3, 2, 3)


# --------------------------------------------------------------------------------------------
# header-less files: roles from content


def test_movielens_100k_udata_without_header(tmp_path: Path) -> None:
    text = lines("196\t242\t3\t881250949", "186\t302\t3\t891717742", "22\t377\t1\t878887116",
                 "244\t51\t2\t880606923", "166\t346\t1\t886397596", "196\t302\t5\t881251000")
    loaded, data, profile = run_pipeline(write_text(tmp_path, "u.data", text))
    assert loaded.notes["has_header"] is False
    assert loaded.notes["roles_inferred_from"] == "content"
    assert roles(loaded) == {"user": "0", "item": "1", "rating": "2", "event": None, "time": "3"}
    # The first line is data, not a header.
    assert_counts(profile, 5, 5, 6)
    assert data.frame["user"].iloc[0] == "196"
    assert data.frame["time"].iloc[0] == 881250949.0
    assert profile.rating_histogram == {"1": 2, "2": 1, "3": 2, "5": 1}


AMAZON_ROWS = (
    "A2IBPI20UZIR0U,1384719342,5.0,1393545600,0,0",
    "A14VAT5EAX3D9S,1384719342,5.0,1363392000,13,14",
    "A195EZSQDW3E21,1384719342,4.0,1377648000,1,1",
    "A2C00NNG1ZQQG2,1384719342,5.0,1392336000,0,0",
    "A94QU4C90B1AX,1384719342,3.0,1392940800,0,0",
    "A2A039TZMZHH9Y,0972683275,5.0,1356048000,2,3",
)


def test_amazon_5core_without_header(tmp_path: Path) -> None:
    loaded, data, profile = run_pipeline(write_text(tmp_path, "amazon.csv", lines(*AMAZON_ROWS)))
    assert loaded.notes["has_header"] is False
    # The item is column 1 (numeric-looking strings), the time column 3, not the vote counts.
    assert roles(loaded)["user"] == "0"
    assert roles(loaded)["item"] == "1"
    assert roles(loaded)["rating"] == "2"
    assert roles(loaded)["time"] == "3"
    assert_counts(profile, 6, 2, 6)
    # Item ids stay strings exactly as written (the leading zero survives).
    assert data.frame["item"].tolist()[-1] == "0972683275"
    assert data.frame["time"].iloc[0] == 1393545600.0
    assert profile.feedback["kind"] == "explicit"


def test_amazon_without_header_first_item_an_asin(tmp_path: Path) -> None:
    """Amazon item ids mix ISBN-like digits and ASINs (B00...). The first row is still data.

    Its rating (5.0) and time (1393545600) are numbers like the rest of their columns, so it
    cannot be a header row.
    """
    rows = ("A2IBPI20UZIR0U,B00004Y2UT,5.0,1393545600,0,0",) + AMAZON_ROWS[1:]
    loaded, data, profile = run_pipeline(write_text(tmp_path, "amazon.csv", lines(*rows)))
    assert loaded.notes["has_header"] is False
    assert profile.n_interactions == 6
    assert data.frame["item"].iloc[0] == "B00004Y2UT"
    assert roles(loaded)["item"] == "1"


def test_headerless_iso_dates_are_found_as_time(tmp_path: Path) -> None:
    text = lines("u1,a,2024-01-31", "u2,b,2024-02-01", "u1,b,2024-02-02", "u3,a,2024-02-03")
    loaded, data, profile = run_pipeline(write_text(tmp_path, "dates.csv", text))
    assert roles(loaded) == {"user": "0", "item": "1", "rating": None, "event": None,
                             "time": "2"}
    assert data.frame["time"].iloc[0] == JAN_31_2024
    assert_counts(profile, 3, 2, 4)


def test_headerless_millisecond_times(tmp_path: Path) -> None:
    text = lines("1,10,978300760000", "2,20,978300761000", "1,20,978300762000")
    loaded, data, _ = run_pipeline(write_text(tmp_path, "ms.csv", text))
    assert roles(loaded)["time"] == "2"
    assert data.frame["time"].tolist() == [978300760.0, 978300761.0, 978300762.0]


# --------------------------------------------------------------------------------------------
# cleaning: duplicates, missing ids


def test_exact_duplicates_are_dropped_and_counted(tmp_path: Path) -> None:
    text = lines("user,item,rating", "1,a,5", "1,a,5", "2,b,4", "3,a,3", "3,a,3", "3,a,3",
                 "1,a,4")  # the last row differs by its rating: not a duplicate
    loaded, data, profile = run_pipeline(write_text(tmp_path, "dup.csv", text))
    assert data.n_duplicates == 3
    assert profile.n_duplicates == 3
    assert_counts(profile, 3, 2, 4)
    assert any("3 exact duplicate rows" in w for w in profile.warnings)


def test_rows_with_missing_ids_are_dropped_with_a_warning(tmp_path: Path) -> None:
    rows = ["user,item"] + [f"u{i % 5},i{i % 4}" for i in range(18)]
    rows += [",i1", "u2,NULL"]  # 2 of 20 rows lack an id: 10%, below the error threshold
    loaded, data, profile = run_pipeline(write_text(tmp_path, "missing.csv", lines(*rows)))
    assert data.n_missing == 2
    assert profile.n_missing == 2
    assert profile.n_interactions == 18
    assert data.frame["user"].notna().all() and data.frame["item"].notna().all()
    assert any("Dropped 2 rows" in w and "missing" in w for w in profile.warnings)


def test_ids_are_stripped_of_surrounding_spaces(tmp_path: Path) -> None:
    text = lines("user,item", "u1, a", "u2 ,b", " u1,b")
    _, data, profile = run_pipeline(write_text(tmp_path, "spaces.csv", text))
    assert sorted(set(data.frame["user"])) == ["u1", "u2"]
    assert sorted(set(data.frame["item"])) == ["a", "b"]
    assert_counts(profile, 2, 2, 3)


# --------------------------------------------------------------------------------------------
# unusual values


def test_quoted_fields_with_commas(tmp_path: Path) -> None:
    text = lines("user,item,rating", '1,"a, b",5', "2,c,4", '3,"a, b",3', '"x, y",c,1')
    loaded, data, profile = run_pipeline(write_text(tmp_path, "quoted.csv", text))
    assert loaded.notes["separator"] == ","
    assert data.frame["item"].tolist() == ["a, b", "c", "a, b", "c"]
    assert data.frame["user"].tolist()[-1] == "x, y"
    assert_counts(profile, 4, 2, 4)


def test_iso_dates_and_datetimes_are_parsed_to_epoch_seconds(tmp_path: Path) -> None:
    text = lines("user,item,timestamp",
                 "1,a,2024-01-31",
                 "2,b,2024-01-31 12:00:00",
                 "3,a,2024-01-31T12:00:00Z",
                 "1,b,2024-01-31T12:00:00+02:00")
    loaded, data, profile = run_pipeline(write_text(tmp_path, "iso.csv", text))
    assert roles(loaded)["time"] == "timestamp"
    assert data.frame["time"].tolist() == [
        JAN_31_2024, JAN_31_2024_NOON, JAN_31_2024_NOON, JAN_31_2024_NOON - 2 * 3600]
    assert profile.has_timestamps
    assert profile.time_span is not None
    assert profile.time_span["start"].startswith("2024-01-31T00:00:00")


def test_millisecond_timestamps_become_seconds(tmp_path: Path) -> None:
    text = lines("user,item,timestamp", "1,a,1706659200000", "2,b,1706702400500",
                 "3,a,1706745600000")
    _, data, profile = run_pipeline(write_text(tmp_path, "ms.csv", text))
    assert data.frame["time"].tolist() == [1706659200.0, 1706702400.5, 1706745600.0]
    assert profile.time_span is not None
    assert profile.time_span["start"].startswith("2024-01-31")


def test_nineteen_digit_ids_are_kept_exactly(tmp_path: Path) -> None:
    text = lines("user,item", "1234567890123456789,9223372036854775807",
                 "1234567890123456788,9223372036854775806", "1234567890123456789,"
                 "9223372036854775806")
    _, data, profile = run_pipeline(write_text(tmp_path, "big.csv", text))
    assert data.frame["user"].tolist() == [
        "1234567890123456789", "1234567890123456788", "1234567890123456789"]
    assert data.frame["item"].tolist() == [
        "9223372036854775807", "9223372036854775806", "9223372036854775806"]
    # Two ids one apart must stay two users (no float rounding).
    assert_counts(profile, 2, 2, 3)


def test_html_in_ids_is_kept_verbatim(tmp_path: Path) -> None:
    script = "<script>alert(1)</script>"
    text = lines("user,item", f"1,{script}", f"{script},b", "2,b", "3,a")
    _, data, profile = run_pipeline(write_text(tmp_path, "html.csv", text))
    assert data.frame["item"].iloc[0] == script
    assert data.frame["user"].iloc[1] == script
    assert_counts(profile, 4, 3, 4)


# --------------------------------------------------------------------------------------------
# header names


def test_mixed_case_movielens_header(tmp_path: Path) -> None:
    text = lines("UserID,MovieID,Rating,Timestamp", "1,1193,5,978300760", "2,661,3,978302109",
                 "3,661,4,978302200")
    loaded, data, profile = run_pipeline(write_text(tmp_path, "ml.csv", text))
    assert loaded.notes["has_header"] is True
    assert loaded.notes["roles_inferred_from"] == "names"
    assert roles(loaded) == {"user": "UserID", "item": "MovieID", "rating": "Rating",
                             "event": None, "time": "Timestamp"}
    assert_counts(profile, 3, 2, 3)
    assert data.frame["time"].iloc[1] == 978302109.0


def test_shop_log_header_with_event_column(tmp_path: Path) -> None:
    text = lines("customer_id,sku,event,timestamp", "c1,s1,view,1700000000",
                 "c2,s2,purchase,1700000100", "c1,s2,view,1700000200",
                 "c3,s1,add_to_cart,1700000300")
    loaded, data, profile = run_pipeline(write_text(tmp_path, "shop.csv", text))
    assert roles(loaded) == {"user": "customer_id", "item": "sku", "rating": None,
                             "event": "event", "time": "timestamp"}
    assert data.frame["event"].tolist() == ["view", "purchase", "view", "add_to_cart"]
    assert profile.feedback["kind"] == "events"
    assert profile.feedback["events"] == {"view": 2, "purchase": 1, "add_to_cart": 1}
    assert profile.rating_histogram is None
    assert_counts(profile, 3, 2, 4)


def test_text_label_column_is_treated_as_events(tmp_path: Path) -> None:
    text = lines("user,item,label", "1,a,click", "2,b,purchase", "3,a,click", "1,b,click")
    loaded, data, profile = run_pipeline(write_text(tmp_path, "label.csv", text))
    assert roles(loaded)["rating"] is None
    assert roles(loaded)["event"] == "label"
    assert "rating" not in data.frame.columns
    assert profile.feedback["kind"] == "events"
    assert profile.feedback["events"] == {"click": 3, "purchase": 1}


def test_numeric_label_column_is_binary_feedback(tmp_path: Path) -> None:
    text = lines("user,item,label", "1,a,1", "2,b,0", "3,a,1", "1,b,0")
    loaded, _, profile = run_pipeline(write_text(tmp_path, "label01.csv", text))
    assert roles(loaded)["rating"] == "label"
    assert profile.feedback == {"kind": "binary", "values": [0.0, 1.0]}


# --------------------------------------------------------------------------------------------
# overrides


def test_overrides_by_name(tmp_path: Path) -> None:
    text = lines("a,b,c,d", "x,u1,i1,4", "y,u2,i2,5", "z,u1,i2,3")
    loaded, data, profile = run_pipeline(write_text(tmp_path, "named.csv", text),
                                         user_col="b", item_col="C", rating_col="d")
    assert roles(loaded) == {"user": "b", "item": "c", "rating": "d", "event": None,
                             "time": None}
    assert data.frame["user"].tolist() == ["u1", "u2", "u1"]
    assert_counts(profile, 2, 2, 3)


def test_overrides_by_position_without_header(tmp_path: Path) -> None:
    text = lines("5,u1,i1,x", "4,u2,i2,y", "3,u1,i2,z")
    loaded, data, profile = run_pipeline(write_text(tmp_path, "pos.csv", text),
                                         user_col="1", item_col="2", rating_col="0")
    assert loaded.notes["has_header"] is False
    assert roles(loaded)["user"] == "1"
    assert roles(loaded)["item"] == "2"
    assert roles(loaded)["rating"] == "0"
    assert data.frame["user"].tolist() == ["u1", "u2", "u1"]
    assert data.frame["rating"].tolist() == [5.0, 4.0, 3.0]
    assert_counts(profile, 2, 2, 3)


def test_none_override_ignores_a_column(tmp_path: Path) -> None:
    text = lines("user,item,rating,timestamp", "1,a,5,978300760", "2,b,4,978300761",
                 "3,a,3,978300762")
    loaded, data, profile = run_pipeline(write_text(tmp_path, "none.csv", text),
                                         rating_col="none", time_col="none")
    assert roles(loaded)["rating"] is None and roles(loaded)["time"] is None
    assert list(data.frame.columns) == ["user", "item"]
    assert not profile.has_timestamps


# --------------------------------------------------------------------------------------------
# in-memory and columnar inputs


def test_dataframe_with_integer_ids() -> None:
    frame = pd.DataFrame({"user_id": [1, 2, 3, 1], "item_id": [10, 20, 10, 30],
                          "rating": [5, 4, 3, 2]})
    loaded, data, profile = run_pipeline(frame)
    assert loaded.source == "DataFrame"
    assert data.frame["user"].tolist() == ["1", "2", "3", "1"]
    assert data.frame["item"].tolist() == ["10", "20", "10", "30"]
    assert data.frame["rating"].tolist() == [5.0, 4.0, 3.0, 2.0]
    assert_counts(profile, 3, 3, 4)


def test_dataframe_integer_ids_with_a_gap_are_not_floats() -> None:
    # A missing value turns the column into float64; ids must still read "1", not "1.0".
    frame = pd.DataFrame({"user_id": [1, 2, 3, 4, 5, 6, 7, 8, 9, None],
                          "item_id": [10, 20, 10, 30, 10, 20, 10, 30, 10, 20]})
    _, data, profile = run_pipeline(frame)
    assert data.frame["user"].tolist() == [str(i) for i in range(1, 10)]
    assert data.n_missing == 1
    assert_counts(profile, 9, 3, 9)


def test_dataframe_with_positional_columns() -> None:
    frame = pd.DataFrame({0: [1, 2, 3], 1: ["a", "b", "a"], 2: [5, 4, 3]})
    loaded, data, profile = run_pipeline(frame)
    assert roles(loaded)["user"] == "0" and roles(loaded)["item"] == "1"
    assert data.frame["user"].tolist() == ["1", "2", "3"]
    assert_counts(profile, 3, 2, 3)


def test_parquet_file(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "user_id": [1, 2, 3, 1],
        "item_id": ["a", "b", "a", "c"],
        "timestamp": pd.to_datetime(["2024-01-31", "2024-01-31 12:00:00", "2024-02-01",
                                     "2024-02-02"], format="ISO8601"),
    })
    path = tmp_path / "log.parquet"
    frame.to_parquet(path)
    loaded, data, profile = run_pipeline(path)
    assert loaded.source == "log.parquet"
    assert roles(loaded) == {"user": "user_id", "item": "item_id", "rating": None,
                             "event": None, "time": "timestamp"}
    assert data.frame["user"].tolist() == ["1", "2", "3", "1"]
    assert data.frame["time"].tolist()[:2] == [JAN_31_2024, JAN_31_2024_NOON]
    assert_counts(profile, 3, 3, 4)
    assert profile.has_timestamps


def test_parquet_big_integer_ids(tmp_path: Path) -> None:
    frame = pd.DataFrame({"user": [1234567890123456789, 1234567890123456788, 7],
                          "item": [1, 2, 1]})
    path = tmp_path / "big.parquet"
    frame.to_parquet(path)
    _, data, _ = run_pipeline(path)
    assert data.frame["user"].tolist() == ["1234567890123456789", "1234567890123456788", "7"]


# --------------------------------------------------------------------------------------------
# malformed lines: skipped with a warning that names them, an error when they are many

BEAUTY = Path(__file__).resolve().parents[3] / "shared" / "data" / "amazon-beauty-s3rec"


def table_lines(n: int, sep: str = ",", header: bool = True) -> list[str]:
    """``n`` well-formed rows of user, item, rating (plus a header row)."""
    rows = [sep.join(["user", "item", "rating"])] if header else []
    return rows + [sep.join([f"u{i % 7}", f"i{i % 11}", str(i % 5 + 1)]) for i in range(n)]


@pytest.mark.parametrize("eol", [pytest.param("\n", id="lf"), pytest.param("\r\n", id="crlf")])
def test_malformed_lines_are_skipped_on_the_arrow_path(tmp_path: Path, eol: str) -> None:
    rows = table_lines(400)
    rows[3] = 'u1,"two\nlines",4'  # a quoted line break: one record on lines 4 and 5
    rows[10] = "u1,i2"  # too few fields: line 12
    rows[12] = 'u2,"x\ny",5,6'  # too many, quoted line break inside: lines 14-15
    rows[40] = "bad"  # line 43
    rows[60] = "   "  # a blank line: passed over, not counted
    path = write_text(tmp_path, "x.csv", eol.join(rows) + eol)
    loaded = load_interactions(path)
    assert loaded.warnings == [
        "Skipped 3 malformed lines of 'x.csv' (lines 12, 14, 43) whose field count is not 3."]
    assert len(loaded.frame) == 400 - 4
    assert loaded.frame.loc[2].tolist() == ["u1", "two\nlines", "4"]
    assert "u1" in loaded.frame["user"].tolist() and "bad" not in loaded.frame["user"].tolist()
    assert loaded.frame["rating"].notna().all()


def test_first_few_malformed_lines_are_named_with_their_count(tmp_path: Path) -> None:
    rows = table_lines(1000, header=False)
    bad = [17, 402, 503, 604, 705, 906, 999]
    for line in bad:
        rows[line - 1] = "1,2,3,4"
    loaded = load_interactions(write_text(tmp_path, "x.csv", lines(*rows)))
    assert loaded.notes["has_header"] is False
    assert loaded.warnings == ["Skipped 7 malformed lines of 'x.csv' (lines 17, 402, 503, 604, "
                               "705, ...) whose field count is not 3."]
    assert len(loaded.frame) == 993


def test_malformed_line_at_the_end_without_line_break(tmp_path: Path) -> None:
    rows = table_lines(200)
    rows.append("u1")
    loaded = load_interactions(write_text(tmp_path, "x.csv", "\n".join(rows)))
    assert loaded.warnings == [
        "Skipped 1 malformed line of 'x.csv' (line 202) whose field count is not 3."]


@pytest.mark.parametrize(("name", "sep", "kwargs"), [
    pytest.param("ratings.dat", "::", {}, id="double-colon-with-a-colon-inside"),
    pytest.param("x.txt", "##", {"sep": "##"}, id="multi-character"),
    pytest.param("x.txt", " ", {}, id="spaces"),
])
def test_malformed_lines_are_skipped_on_the_pandas_path(
    tmp_path: Path, name: str, sep: str, kwargs: dict[str, str]
) -> None:
    rows = table_lines(300, sep=sep, header=False)
    rows[0] = sep.join(["u0", "a:b", "5"])  # Arrow cannot read ':' inside a '::' field
    rows[5] = sep.join(["u1", "i2"])
    rows[200] = sep.join(["u1", "i2", "3", "4"])
    loaded = load_interactions(write_text(tmp_path, name, lines(*rows)), **kwargs)
    assert loaded.notes["separator"] == sep
    assert loaded.warnings == [
        f"Skipped 2 malformed lines of '{name}' (lines 6, 201) whose field count is not 3."]
    assert len(loaded.frame) == 298
    assert loaded.frame.loc[0].tolist() == ["u0", "a:b", "5"]


def test_pandas_reader_finds_lines_after_quoted_line_breaks(tmp_path: Path) -> None:
    rows = table_lines(50)
    rows[2] = 'u1,"a\nb\nc",3'  # lines 3 to 5
    rows[4] = "u1,i1,3,4"  # line 7
    rows[9] = "NA, NA"  # line 12; the kept rows' missing tokens still become missing
    rows[20] = "u9, NA,2"
    path = write_text(tmp_path, "x.csv", lines(*rows))
    malformed = _Malformed(expected=3)
    frame = _read_with_pandas(path, ",", "utf-8", True, malformed)
    assert (malformed.count, malformed.lines) == (2, [7, 12])
    assert len(frame) == 48
    assert frame.iloc[1].tolist() == ["u1", "a\nb\nc", "3"]
    assert frame.iloc[17].tolist()[0] == "u9"
    assert frame.iloc[17].isna().tolist() == [False, True, False]
    assert (frame.dtypes == TEXT).all()


def test_blank_lines_before_the_header_count_in_line_numbers(tmp_path: Path) -> None:
    rows = ["", "  "] + table_lines(200)
    rows[10] = "u1"
    loaded = load_interactions(write_text(tmp_path, "x.csv", lines(*rows)))
    assert loaded.notes["has_header"] is True
    assert loaded.roles.rating == "rating"
    assert loaded.warnings == [
        "Skipped 1 malformed line of 'x.csv' (line 11) whose field count is not 3."]


@pytest.mark.parametrize(("name", "sep", "kwargs"), [
    pytest.param("x.csv", ",", {}, id="arrow"),
    pytest.param("x.txt", "##", {"sep": "##"}, id="pandas"),
])
def test_more_than_one_percent_malformed_is_an_error(
    tmp_path: Path, name: str, sep: str, kwargs: dict[str, str]
) -> None:
    rows = table_lines(100, sep=sep)
    rows[5] = sep.join(["u1", "i2"])
    rows[20] = sep.join(["u1", "i2", "3", "4"])
    with pytest.raises(DataValidationError) as caught:
        load_interactions(write_text(tmp_path, name, lines(*rows)), **kwargs)
    message = str(caught.value)
    assert message == (
        f"2 of 100 data lines of '{name}' (lines 6, 21) do not have 3 fields when split by "
        f"{sep!r}, more than 1% of them; check the separator and the quoting of the file, or "
        "pass --sep.")


def test_every_line_wider_than_the_header_is_an_error(tmp_path: Path) -> None:
    rows = ["user,item"] + [f"u{i},i{i},5," for i in range(30)]
    with pytest.raises(DataValidationError, match=r"30 of 30 data lines .* do not have 2 fields"):
        load_interactions(write_text(tmp_path, "x.csv", lines(*rows)))


# --------------------------------------------------------------------------------------------
# one sequence per line: a user, then that user's items in order


def test_sequence_per_line_file_is_unrolled_with_positions(tmp_path: Path) -> None:
    text = lines("0042 B00X 7 7 item-3", "A17 0007 B00X", "", "u3 9")
    loaded = load_interactions(write_text(tmp_path, "seq.txt", text))
    assert loaded.frame["user"].tolist() == ["0042"] * 4 + ["A17"] * 2 + ["u3"]
    assert loaded.frame["item"].tolist() == ["B00X", "7", "7", "item-3", "0007", "B00X", "9"]
    assert loaded.frame["time"].tolist() == [0, 1, 2, 3, 0, 1, 0]
    assert loaded.notes["format"] == "sequence per line"
    assert loaded.notes["separator"] == " "
    assert loaded.notes["order"] == "line"
    assert loaded.notes["has_header"] is False
    assert roles(loaded) == {"user": "(first field)", "item": "(other fields)", "rating": None,
                             "event": None, "time": "(position in line)"}
    assert loaded.warnings == []
    assert loaded.frame["user"].dtype == TEXT and loaded.frame["item"].dtype == TEXT


def test_tab_separated_sequences_with_a_user_without_items(tmp_path: Path) -> None:
    text = lines("1\t10\t11\t12", "2\t20", "3", "4\t40\t41", "5", "6\t60\t61\t62\t63")
    loaded, data, profile = run_pipeline(write_text(tmp_path, "seq.tsv", text))
    assert loaded.notes["separator"] == "\t"
    assert loaded.warnings == [
        "Skipped 2 lines of 'seq.tsv' (lines 3, 5) that hold a user but no items."]
    assert_counts(profile, 4, 10, 10)
    assert data.frame["time"].tolist() == [0, 1, 2, 0, 0, 1, 0, 1, 2, 3]
    assert "3" not in set(data.frame["user"])


def test_a_user_on_two_lines_gets_one_sequence(tmp_path: Path) -> None:
    others = [" ".join([str(user)] + ["x"] * (user % 3 + 1)) for user in range(2, 12)]
    text = lines("1 a b", *others[:3], "1 f", *others[3:])
    loaded = load_interactions(write_text(tmp_path, "seq.txt", text))
    user_1 = loaded.frame[loaded.frame["user"] == "1"]
    assert user_1["item"].tolist() == ["a", "b", "f"]
    assert user_1["time"].tolist() == [0, 1, 2]
    assert loaded.warnings == [
        "1 line of 'seq.txt' start with a user of an earlier line; each user's lines were "
        "joined into one sequence, in file order."]


def test_sequences_without_time_and_with_a_column_override(tmp_path: Path) -> None:
    path = write_text(tmp_path, "seq.txt", lines("1 a b", "2 c d e", "3 f"))
    loaded = load_interactions(path, time_col="none", rating_col="none")
    assert list(loaded.frame.columns) == ["user", "item"]
    assert "order" not in loaded.notes
    with pytest.raises(DataValidationError, match=r"one sequence per line.*--item-col"):
        load_interactions(path, item_col="1")


def test_given_space_separator_still_finds_sequences(tmp_path: Path) -> None:
    loaded = load_interactions(write_text(tmp_path, "seq.txt", lines("1 a b", "2 c d e", "3 f")),
                               sep=" ")
    assert loaded.notes["format"] == "sequence per line"
    assert len(loaded.frame) == 6


def test_space_separated_table_is_not_read_as_sequences(tmp_path: Path) -> None:
    rows = [f"u{i % 9} i{i % 13} {i % 5 + 1} {978300760 + i}" for i in range(150)]
    loaded = load_interactions(write_text(tmp_path, "table.txt", lines(*rows)))
    assert loaded.notes["separator"] == " "
    assert "format" not in loaded.notes
    assert roles(loaded) == {"user": "0", "item": "1", "rating": "2", "event": None,
                             "time": "3"}
    assert loaded.notes["order"] == "timestamp"
    # One line of another length is a malformed line of the table, not a sequence.
    rows[70] = "u1 i1"
    loaded = load_interactions(write_text(tmp_path, "table.txt", lines(*rows)))
    assert "format" not in loaded.notes
    assert loaded.warnings == [
        "Skipped 1 malformed line of 'table.txt' (line 71) whose field count is not 4."]


def test_headerless_tsv_with_a_ragged_line_is_not_read_as_sequences(tmp_path: Path) -> None:
    rows = [f"{i}\t{i % 13}\t{i % 5 + 1}" for i in range(150)]
    rows[3] = "3\t4"
    loaded = load_interactions(write_text(tmp_path, "table.tsv", lines(*rows)), sep="\t")
    assert "format" not in loaded.notes
    assert len(loaded.frame) == 149


# --------------------------------------------------------------------------------------------
# order columns without timestamps


@pytest.mark.parametrize("column", ["position", "seq", "rank", "SeqNo", "order_in_session",
                                    "Step", "idx"])
def test_integer_order_column_is_the_time(tmp_path: Path, column: str) -> None:
    text = lines(f"user_id,item_id,{column}", "1,a,0", "1,b,1", "2,a,0", "2,c,1", "2,b,-2")
    loaded = load_interactions(write_text(tmp_path, "x.csv", text))
    assert roles(loaded)["time"] == column
    assert loaded.notes["order"] == "position"
    assert loaded.frame["time"].tolist() == ["0", "1", "0", "1", "-2"]


def test_order_column_of_fractions_is_not_the_time(tmp_path: Path) -> None:
    text = lines("user_id,item_id,position", "1,a,0.5", "1,b,1", "2,a,0")
    loaded = load_interactions(write_text(tmp_path, "x.csv", text))
    assert roles(loaded)["time"] is None
    assert "order" not in loaded.notes


def test_timestamp_column_wins_over_an_order_column(tmp_path: Path) -> None:
    text = lines("user,item,rank,timestamp", "1,a,1,978300760", "2,b,2,978300761")
    loaded = load_interactions(write_text(tmp_path, "x.csv", text))
    assert roles(loaded)["time"] == "timestamp"
    assert loaded.notes["order"] == "timestamp"


def test_id_columns_named_like_an_order_stay_ids(tmp_path: Path) -> None:
    text = lines("user_index,item_index,position", "1,10,0", "1,11,1", "2,10,0")
    loaded = load_interactions(write_text(tmp_path, "x.csv", text))
    assert roles(loaded) == {"user": "user_index", "item": "item_index", "rating": None,
                             "event": None, "time": "position"}
    # The user id must be found among the free columns: 'idx' is left to be it.
    text = lines("idx,item", "1,10", "1,11", "2,10")
    loaded = load_interactions(write_text(tmp_path, "y.csv", text))
    assert roles(loaded)["user"] == "idx" and roles(loaded)["time"] is None


def test_order_column_of_a_dataframe() -> None:
    frame = pd.DataFrame({"session": ["s1", "s1", "s2"], "sku": ["a", "b", "a"],
                          "pos": [0, 1, 0]})
    loaded = load_interactions(frame)
    assert roles(loaded)["time"] == "pos"
    assert loaded.notes["order"] == "position"


def test_given_time_column_is_a_timestamp(tmp_path: Path) -> None:
    text = lines("user,item,when_seen", "1,a,978300760", "2,b,978300761")
    loaded = load_interactions(write_text(tmp_path, "x.csv", text), time_col="when_seen")
    assert loaded.notes["order"] == "timestamp"


# --------------------------------------------------------------------------------------------
# the Amazon Beauty files of the sequential benchmarks (shared data)


@pytest.mark.slow
@pytest.mark.skipif(not BEAUTY.exists(), reason="the shared Amazon Beauty data is absent")
def test_beauty_sequence_file_and_its_table_give_the_same_interactions() -> None:
    sequences = validate_interactions(load_interactions(BEAUTY / "Beauty.txt"))
    table = validate_interactions(load_interactions(BEAUTY / "interactions.csv"))
    assert sequences.notes["format"] == "sequence per line"
    assert sequences.notes["order"] == "line"
    assert table.roles.time == "position"
    assert table.notes["order"] == "position"
    profile = profile_interactions(sequences)
    assert_counts(profile, 22363, 12101, 198502)
    for column in ("user", "item", "time"):
        assert sequences.frame[column].tolist() == table.frame[column].tolist()


def test_a_filtered_data_frame_keeps_every_row() -> None:
    frame = pd.DataFrame({"user": ["u1", "u2", "u1", "u3", "u2"],
                          "item": ["a", "b", "c", "a", "c"]}).iloc[[0, 2, 3, 4]]
    loaded = load_interactions(frame)
    assert loaded.frame["user"].tolist() == ["u1", "u1", "u3", "u2"]
    assert loaded.frame["item"].notna().all()
