"""Unusable inputs: each raises ``DataValidationError`` (a ``ValueError``) naming the problem."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from automl_rec.data.loading import load_interactions
from automl_rec.data.profiling import profile_interactions
from automl_rec.data.splitting import split_interactions
from automl_rec.data.validation import validate_interactions
from automl_rec.errors import AutoRecError, DataValidationError

# --------------------------------------------------------------------------------------------
# helpers: each maker writes one malformed input into a directory and returns its path


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


def text_file(name: str, text: str, encoding: str = "utf-8") -> Callable[[Path], Path]:
    def make(directory: Path) -> Path:
        path = directory / name
        path.write_bytes(text.encode(encoding))
        return path

    return make


def bytes_file(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(directory: Path) -> Path:
        path = directory / name
        path.write_bytes(data)
        return path

    return make


def missing_file(directory: Path) -> Path:
    return directory / "does_not_exist.csv"


def a_directory(directory: Path) -> Path:
    path = directory / "logs"
    path.mkdir()
    return path


def binary_junk() -> bytes:
    rng = random.Random(0)
    return bytes(rng.randrange(256) for _ in range(4096)) + b"\x00\x00"


def load_and_validate(path: Path, **kwargs: str) -> None:
    validate_interactions(load_interactions(path, **kwargs))


# (maker, keyword arguments of load_interactions, pattern the message must contain)
CASES = [
    pytest.param(missing_file, {}, r"does not exist", id="missing-file"),
    pytest.param(a_directory, {}, r"is a directory", id="directory"),
    pytest.param(bytes_file("empty.csv", b""), {}, r"is empty", id="empty-file"),
    pytest.param(text_file("blank.csv", "\n\n   \n\t\n"), {}, r"only blank lines",
                 id="blank-lines"),
    pytest.param(text_file("header.csv", "user,item,rating\n"), {}, r"no data rows",
                 id="header-only"),
    pytest.param(text_file("one.csv", lines("user", "u1", "u2", "u3")), {},
                 r"Could not find the separator", id="one-column"),
    pytest.param(text_file("one.csv", lines("user", "u1", "u2", "u3")), {"sep": ","},
                 r"single column \('user'\)", id="one-column-given-sep"),
    pytest.param(bytes_file("junk.csv", binary_junk()), {}, r"binary", id="binary-junk"),
    pytest.param(text_file("utf16.csv", lines("user,item", "1,a", "2,b"), "utf-16"), {},
                 r"UTF-16", id="utf-16"),
    pytest.param(text_file("one_user.csv", lines("user,item", "u1,a", "u1,b", "u1,c")), {},
                 r"single user.*'u1'", id="single-user"),
    pytest.param(text_file("one_item.csv", lines("user,item", "u1,a", "u2,a", "u3,a")), {},
                 r"single item.*'a'", id="single-item"),
    pytest.param(text_file("no_users.csv", lines("user,item", ",a", ",b", ",c", ",a")), {},
                 r"Every value of the user column 'user'.*missing", id="user-ids-all-missing"),
    pytest.param(text_file("bad_rating.csv",
                           lines("user,item,rating", "1,a,5", "2,b,4", "3,a,good", "4,b,3",
                                 "5,a,2")),
                 {}, r"rating column 'rating'.*non-numeric.*'good'", id="non-numeric-rating"),
    pytest.param(text_file("bad_time.csv",
                           lines("user,item,timestamp", "1,a,2024-01-01", "2,b,yesterday",
                                 "3,a,2024-01-03")),
                 {}, r"time column 'timestamp'.*not timestamps.*'yesterday'",
                 id="unparseable-timestamp"),
    pytest.param(text_file("cols.csv", lines("user,item", "1,a", "2,b")), {"user_col": "buyer"},
                 r"user column 'buyer' is not in", id="unknown-override-column"),
    pytest.param(text_file("cols.csv", lines("user,item", "1,a", "2,b")), {"item_col": "none"},
                 r"item column cannot be 'none'", id="item-column-none"),
]


@pytest.mark.parametrize(("make", "kwargs", "pattern"), CASES)
def test_unusable_input_raises_data_validation_error(
    tmp_path: Path, make: Callable[[Path], Path], kwargs: dict[str, str], pattern: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(DataValidationError, match=pattern) as caught:
        load_and_validate(path, **kwargs)
    error = caught.value
    assert isinstance(error, ValueError)
    assert isinstance(error, AutoRecError)
    message = str(error)
    assert message and "\n" not in message


def test_too_many_missing_ids_is_an_error_not_a_warning(tmp_path: Path) -> None:
    # 3 of 6 rows without an item id: more likely the wrong column than a few bad rows.
    path = text_file("holes.csv", lines("user,item", "1,a", "2,", "3,b", "4,", "5,a", "6,"))(
        tmp_path)
    with pytest.raises(DataValidationError, match=r"3 of 6 rows .* no user or item id"):
        load_and_validate(path)


def test_no_user_with_three_interactions_fails_at_split(tmp_path: Path) -> None:
    path = text_file("short.csv", lines("user,item", "1,a", "1,b", "2,a", "2,b", "3,c"))(
        tmp_path)
    data = validate_interactions(load_interactions(path))
    profile = profile_interactions(data)  # profiling itself still works, with a warning
    assert profile.cold_user_share == 1.0
    assert any("No user has enough interactions" in w for w in profile.warnings)
    with pytest.raises(DataValidationError, match=r"No user .* 3 or more interactions") as caught:
        split_interactions(data)
    assert isinstance(caught.value, ValueError)


def test_one_user_with_three_interactions_is_enough_to_split(tmp_path: Path) -> None:
    path = text_file("enough.csv", lines("user,item", "1,a", "1,b", "1,c", "2,a"))(tmp_path)
    data = validate_interactions(load_interactions(path))
    split = split_interactions(data)
    assert len(split.holdout("test").users) == 1
