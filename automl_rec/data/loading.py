"""Read an interaction table from a file or a DataFrame and infer the role of each column.

The loader owns everything about turning bytes into a table: encoding, delimiter and header
sniffing, and column-role inference (user, item, rating, event, timestamp) from column names or,
for header-less files, from the content. Ids are kept as strings exactly as they appear, so that
raw ids survive to the exported model. Type conversion and cleaning belong to
:mod:`automl_rec.data.validation`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from automl_rec.errors import DataValidationError

ROLES = ("user", "item", "rating", "event", "time")

# Normalised column names (lower case, letters and digits only) that name each role outright.
ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "user": ("user", "userid", "uid", "users", "customer", "customerid", "client", "clientid",
             "visitor", "visitorid", "session", "sessionid", "member", "memberid", "reviewer",
             "reviewerid", "account", "accountid", "buyer", "buyerid", "viewer", "viewerid",
             "person", "personid", "profile", "profileid", "subscriber", "listener", "reader"),
    "item": ("item", "itemid", "iid", "items", "movie", "movieid", "product", "productid", "sku",
             "article", "articleid", "asin", "track", "trackid", "song", "songid", "book", "bookid",
             "isbn", "video", "videoid", "content", "contentid", "offer", "offerid", "listing",
             "listingid", "game", "gameid", "anime", "animeid", "recipe", "recipeid", "business",
             "businessid", "course", "courseid", "artist", "artistid", "news", "newsid", "post",
             "postid", "page", "pageid", "poi", "poiid", "venue", "venueid", "doc", "docid"),
    "rating": ("rating", "ratings", "score", "stars", "star", "overall", "label", "clicked",
               "click", "preference", "playcount", "plays", "weight", "value", "target", "like",
               "liked", "purchased", "grade"),
    "event": ("event", "eventtype", "events", "action", "actiontype", "interaction",
              "interactiontype", "behavior", "behaviour", "behaviortype", "type", "eventname"),
    "time": ("timestamp", "time", "ts", "date", "datetime", "createdat", "created", "eventtime",
             "unixtime", "unixreviewtime", "when", "timeofday", "occurredat", "updatedat",
             "utc", "epoch", "day"),
}
# Words that, as one token of a longer name ("user_hash", "unixReviewTime"), suggest a role.
ROLE_TOKENS: dict[str, tuple[str, ...]] = {
    "user": ("user", "customer", "visitor", "session", "member", "reviewer", "client", "buyer"),
    "item": ("item", "movie", "product", "sku", "article", "asin", "track", "song", "book"),
    "rating": ("rating", "score", "stars", "label", "clicked"),
    "event": ("event", "action", "behavior", "behaviour"),
    "time": ("timestamp", "time", "date", "datetime", "ts"),
}
MISSING_TOKENS = ["", "nan", "NaN", "NAN", "null", "NULL", "None", "N/A", "n/a", "NA"]
_SEPARATORS = ("::", "\t", ";", "|", ",")
_SNIFF_BYTES = 256 * 1024
_SNIFF_LINES = 200
_PARQUET_SUFFIXES = (".parquet", ".pq")
# Text columns are held by Arrow (a few bytes a value) rather than as Python objects.
TEXT = pd.StringDtype("pyarrow")
# Rows of a column that decide whether a column named like a rating holds numbers at all.
_SAMPLE_ROWS = 10_000


@dataclass(frozen=True)
class ColumnRoles:
    """Which source column plays which role (``None`` where the data has no such column)."""

    user: str
    item: str
    rating: str | None = None
    event: str | None = None
    time: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """Return the roles as a plain dict (for JSON)."""
        return {role: getattr(self, role) for role in ROLES}


@dataclass
class LoadedInteractions:
    """A table read from the source, with canonical column names and the roles it was read with.

    Attributes:
        frame: Columns ``user`` and ``item`` (Arrow-backed strings), plus ``rating``, ``event``
            and ``time`` where the source has them, all still as read (text, or dates and times
            from a typed source), in file order.
        roles: The source column behind each canonical column.
        source: A short description of where the data came from (file name or ``DataFrame``).
        warnings: Recoverable oddities met while reading.
        notes: How the table was read (delimiter, header, inferred roles), for the profile.
    """

    frame: pd.DataFrame
    roles: ColumnRoles
    source: str
    warnings: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)


def load_interactions(
    source: str | Path | pd.DataFrame,
    *,
    user_col: str | None = None,
    item_col: str | None = None,
    rating_col: str | None = None,
    time_col: str | None = None,
    event_col: str | None = None,
    sep: str | None = None,
) -> LoadedInteractions:
    """Read interactions from a CSV/TSV/``::``/Parquet file or a DataFrame.

    Args:
        source: A path to a delimited text file or a Parquet file, or a pandas DataFrame.
        user_col: Column holding user ids (a name, or a 0-based position for header-less files).
        item_col: Column holding item ids.
        rating_col: Column holding ratings or labels; ``"none"`` to ignore any.
        time_col: Column holding timestamps; ``"none"`` to ignore any.
        event_col: Column holding event types; ``"none"`` to ignore any.
        sep: Field separator; sniffed when ``None``.

    Returns:
        The table with canonical columns and the roles it was read with.

    Raises:
        DataValidationError: The source cannot be read as an interaction table.
    """
    overrides = {"user": user_col, "item": item_col, "rating": rating_col, "event": event_col,
                 "time": time_col}
    warnings: list[str] = []
    notes: dict[str, Any] = {}
    if isinstance(source, pd.DataFrame):
        raw = _frame_as_strings(source)
        name = "DataFrame"
        has_header = not all(isinstance(c, (int, np.integer)) for c in source.columns)
        if not has_header:
            raw.columns = [str(c) for c in raw.columns]
    else:
        path = Path(source)
        name = path.name
        _check_path(path)
        if path.suffix.lower() in _PARQUET_SUFFIXES:
            raw = _read_parquet(path)
            has_header = True
        else:
            raw, has_header = _read_text(path, sep, overrides, warnings, notes)
    if raw.shape[0] == 0:
        raise DataValidationError(
            f"'{name}' has a header ({', '.join(map(str, raw.columns))}) but no data rows; "
            "give a file with at least one interaction per line."
        )
    if raw.shape[1] < 2:
        raise DataValidationError(
            f"'{name}' has a single column ({raw.columns[0]!r}); an interaction table needs at "
            "least a user column and an item column (pass --sep if the separator was not found)."
        )
    raw.columns = _unique_names([str(c).strip() for c in raw.columns])
    roles, guessed = _resolve_roles(raw, has_header, overrides, name)
    notes["has_header"] = has_header
    notes["roles_inferred_from"] = "content" if guessed else "names"
    frame = pd.DataFrame({"user": raw[roles.user], "item": raw[roles.item]})
    for role in ("rating", "event", "time"):
        column = getattr(roles, role)
        if column is not None:
            frame[role] = raw[column]
    return LoadedInteractions(frame.reset_index(drop=True), roles, name, warnings, notes)


def _check_path(path: Path) -> None:
    if not path.exists():
        raise DataValidationError(
            f"File '{path}' does not exist; check the path (it is read relative to the current "
            "directory)."
        )
    if path.is_dir():
        raise DataValidationError(f"'{path}' is a directory; give the interaction file inside it.")
    if path.stat().st_size == 0:
        raise DataValidationError(
            f"File '{path}' is empty; give a file with one interaction a line.")


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a bad file
        raise DataValidationError(
            f"'{path.name}' could not be read as Parquet ({type(exc).__name__}: {exc}); "
            "check that the file is a valid Parquet file."
        ) from exc
    return _frame_as_strings(frame)


def _frame_as_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn every column but dates and times into text, integers without a decimal point."""
    out = {}
    for column in frame.columns:
        values = frame[column]
        out[column] = values if pd.api.types.is_datetime64_any_dtype(values) else as_text(values)
    return pd.DataFrame(out, index=range(len(frame)))


def as_text(values: pd.Series) -> pd.Series:
    """Return ``values`` as Arrow-backed strings (missing stays missing).

    Whole numbers are written without a decimal point, also when a gap made the column float,
    and integers are converted by Arrow rather than one Python object at a time.
    """
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return values
    if pd.api.types.is_float_dtype(values) and _integral(values):
        values = values.astype("Int64")
    if pd.api.types.is_integer_dtype(values):
        numbers = pa.array(values, from_pandas=True)
        return pd.Series(pd.arrays.ArrowStringArray(numbers.cast(pa.string())),
                         index=values.index, name=values.name)
    return values.astype(TEXT)


def _integral(values: pd.Series) -> bool:
    finite = values.dropna().to_numpy()
    return bool(len(finite)) and bool(np.all(np.mod(finite, 1) == 0))


def _read_text(
    path: Path,
    sep: str | None,
    overrides: dict[str, str | None],
    warnings: list[str],
    notes: dict[str, Any],
) -> tuple[pd.DataFrame, bool]:
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    encoding = _sniff_encoding(path, head, warnings)
    text = head.decode(encoding, errors="replace")
    if len(head) == _SNIFF_BYTES:
        text = text.rsplit("\n", 1)[0]
    lines = [line for line in text.splitlines() if line.strip()][:_SNIFF_LINES]
    if not lines:
        raise DataValidationError(
            f"File '{path.name}' holds only blank lines; give a file with one interaction a line."
        )
    if sep is None:
        sep = _sniff_separator(lines, path.name)
    rows = _split_lines(lines, sep)
    has_header = _has_header(rows, overrides)
    notes["separator"] = sep
    notes["encoding"] = encoding
    frame = None
    if text.splitlines()[0].strip():  # Arrow cannot skip blank lines before a header
        frame = _read_with_arrow(path, sep, encoding, len(rows[0]), has_header)
        if frame is not None and has_header:
            frame.columns = [cell or f"Unnamed: {i}" for i, cell in enumerate(rows[0])]
    if frame is None:
        frame = _read_with_pandas(path, sep, encoding, has_header)
    if not has_header:
        frame.columns = [str(i) for i in range(frame.shape[1])]
    return frame, has_header


def _read_with_arrow(
    path: Path, sep: str, encoding: str, n_fields: int, has_header: bool
) -> pd.DataFrame | None:
    """Read every field as text with Arrow's multi-threaded reader, cleaned as pandas would be.

    Leading spaces are dropped and the missing-value tokens become missing, as the pandas
    reader does with ``skipinitialspace`` and ``na_values``. ``::`` is read as ``:`` with every
    other field empty. Returns ``None`` where Arrow cannot read the file the way pandas would
    (ragged lines, a ``:`` inside a ``::`` field, space separators); the pandas reader then
    decides, with its own error messages.
    """
    if sep == " " or len(sep) > 1 and sep != "::":
        return None
    width = 2 * n_fields - 1 if sep == "::" else n_fields
    names = [f"f{i}" for i in range(width)]
    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(
                column_names=names, skip_rows=1 if has_header else 0,
                encoding="utf8" if encoding.startswith("utf-8") else encoding),
            parse_options=pa_csv.ParseOptions(delimiter=sep[0], newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.large_string() for name in names},
                null_values=MISSING_TOKENS, strings_can_be_null=True),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    kept = names[::2] if sep == "::" else names
    if sep == "::" and any(table[name].null_count < len(table) for name in names[1::2]):
        return None
    missing = pa.array(MISSING_TOKENS, pa.large_string())
    columns = {}
    for position, name in enumerate(kept):
        values = table[name]
        if pc.any(pc.starts_with(values, " ")).as_py():
            values = pc.utf8_ltrim(values, characters=" ")
            values = pc.if_else(pc.is_in(values, value_set=missing),
                                pa.scalar(None, values.type), values)
        columns[position] = pd.Series(pd.arrays.ArrowStringArray(values), copy=False)
        table = table.drop_columns([name])
    return pd.DataFrame(columns)


def _read_with_pandas(path: Path, sep: str, encoding: str, has_header: bool) -> pd.DataFrame:
    kwargs: dict[str, Any] = {
        "sep": sep,
        "header": 0 if has_header else None,
        "dtype": str,
        "encoding": encoding,
        "keep_default_na": False,
        "na_values": MISSING_TOKENS,
        "skipinitialspace": True,
        "skip_blank_lines": True,
    }
    if len(sep) > 1 or sep == " ":
        kwargs["engine"] = "python"
        if sep == " ":
            kwargs["sep"] = r"\s+"
    try:
        frame = pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataValidationError(
            f"'{path.name}' could not be parsed with separator {sep!r} ({first}); check that "
            "every line has the same number of fields, or pass --sep."
        ) from exc
    return frame.astype(TEXT)


def _sniff_encoding(path: Path, head: bytes, warnings: list[str]) -> str:
    if head.startswith(b"\xef\xbb\xbf"):
        warnings.append(f"'{path.name}' starts with a UTF-8 byte-order mark; it was ignored.")
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataValidationError(
            f"'{path.name}' is UTF-16 encoded; save it as UTF-8 (or Latin-1) text and try again."
        )
    sample = head[:-4] if len(head) == _SNIFF_BYTES else head
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 13))
    if b"\x00" in sample or control > 0.01 * max(len(sample), 1):
        raise DataValidationError(
            f"'{path.name}' is not a text table (it holds binary bytes); give a CSV, TSV or "
            "Parquet file."
        )
    whole_file_is_small = path.stat().st_size <= 64 * 1024 * 1024
    try:
        (path.read_bytes() if whole_file_is_small else sample).decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        warnings.append(f"'{path.name}' is not valid UTF-8; it was read as Latin-1.")
        return "latin-1"


def _split_lines(lines: list[str], sep: str) -> list[list[str]]:
    if sep == "::":
        return [[f.strip() for f in line.split("::")] for line in lines]
    if sep == " ":
        return [line.split() for line in lines]
    return [[f.strip() for f in row] for row in csv.reader(lines, delimiter=sep)]


def _sniff_separator(lines: list[str], name: str) -> str:
    best: tuple[float, int, str] | None = None
    for sep in _SEPARATORS:
        counts = [len(row) for row in _split_lines(lines, sep)]
        mode = max(set(counts), key=counts.count)
        if mode < 2:
            continue
        consistency = counts.count(mode) / len(counts)
        if consistency < 0.9:
            continue
        score = (round(consistency, 1), mode, sep)
        if best is None or score[:2] > best[:2]:
            best = score
    if best is not None:
        return best[2]
    counts = [len(line.split()) for line in lines]
    if min(counts) >= 2 and len(set(counts)) == 1:
        return " "
    raise DataValidationError(
        f"Could not find the separator of '{name}' (tried ',', ';', tab, '|', '::' and spaces; "
        "each line needs at least a user and an item field); pass --sep."
    )


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _has_header(rows: list[list[str]], overrides: dict[str, str | None]) -> bool:
    first, body = rows[0], rows[1:]
    if any(_normalise(cell) in ROLE_NAMES[role] for cell in first for role in ROLES):
        return True
    named = [v for v in overrides.values() if v and v.lower() != "none" and not v.isdigit()]
    if named and any(cell in named for cell in first):
        return True
    if not body:
        return False
    # In the columns that hold numbers, a header row has text; a data row has numbers.
    verdicts = []
    for position, cell in enumerate(first):
        column = [row[position] for row in body if position < len(row) and row[position]]
        if column and sum(_is_number(v) for v in column) / len(column) > 0.9:
            verdicts.append(not _is_number(cell))
    if verdicts:
        return all(verdicts)
    name_like = all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ .\-]{0,40}", c or "") for c in first)
    unseen = all(
        cell not in {row[p] for row in body if p < len(row)} for p, cell in enumerate(first)
    )
    return name_like and unseen


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}.{count}")
    return out


def _resolve_roles(
    frame: pd.DataFrame, has_header: bool, overrides: dict[str, str | None], name: str
) -> tuple[ColumnRoles, bool]:
    columns = list(frame.columns)
    chosen: dict[str, str | None] = {}
    for role, wanted in overrides.items():
        if wanted is None:
            continue
        if wanted.lower() == "none":
            if role in ("user", "item"):
                raise DataValidationError(
                    f"The {role} column cannot be 'none'; every interaction needs a {role} id."
                )
            chosen[role] = None
            continue
        chosen[role] = _find_column(wanted, columns, role, name)
    taken = {c for c in chosen.values() if c is not None}
    guessed = False
    if has_header:
        for role in ("time", "event", "rating", "user", "item"):
            if role in chosen:
                continue
            column = _match_by_name(role, [c for c in columns if c not in taken])
            if column is not None:
                chosen[role] = column
                taken.add(column)
        rating = chosen.get("rating")
        if rating is not None and "event" not in chosen and not _has_numbers(frame[rating]):
            chosen["event"], chosen["rating"] = rating, None
    if chosen.get("user") is None or chosen.get("item") is None:
        guessed = True
        _infer_by_content(frame, chosen, taken)
    if chosen.get("user") is None or chosen.get("item") is None:
        raise DataValidationError(
            f"Could not tell which columns of '{name}' hold user and item ids (columns: "
            f"{', '.join(columns)}); pass --user-col and --item-col."
        )
    return ColumnRoles(**{role: chosen.get(role) for role in ROLES}), guessed


def _find_column(wanted: str, columns: list[str], role: str, name: str) -> str:
    if wanted in columns:
        return wanted
    lowered = {c.lower(): c for c in columns}
    if wanted.lower() in lowered:
        return lowered[wanted.lower()]
    raise DataValidationError(
        f"The {role} column '{wanted}' is not in '{name}' (columns: {', '.join(columns)}); "
        "pass one of these names (or a 0-based position for a file without header)."
    )


def _match_by_name(role: str, columns: list[str]) -> str | None:
    for column in columns:
        if _normalise(column) in ROLE_NAMES[role]:
            return column
    for column in columns:
        if any(token in ROLE_TOKENS[role] for token in _tokens(column)):
            return column
    return None


def _has_numbers(values: pd.Series) -> bool:
    """Whether any value of the column reads as a number (a sample first, then the rest)."""
    if _numeric_share(values.head(_SAMPLE_ROWS)) > 0:
        return True
    text = as_text(values.iloc[_SAMPLE_ROWS:].dropna())
    # Only values with a digit (or an "inf") can be numbers; a text column has few of them.
    maybe = text[text.str.contains(r"(?i)[0-9]|inf", regex=True)]
    return _numeric_share(maybe) > 0


def _numeric_share(values: pd.Series) -> float:
    present = values.dropna()
    present = present[present.astype(str).str.strip() != ""]
    if len(present) == 0:
        return 0.0
    return float(pd.to_numeric(present, errors="coerce").notna().mean())


def _infer_by_content(frame: pd.DataFrame, chosen: dict[str, str | None], taken: set[str]) -> None:
    """Assign roles from what the columns hold: ids first, then timestamps, ratings, events.

    By the usual convention of interaction dumps (MovieLens, Amazon, Netflix...), the first two
    free columns are the user and the item; of the rest, a column of epoch-like numbers or dates
    is the time, a numeric column with few distinct values the rating, and a text column with
    few distinct values the event type.
    """
    sample = frame.head(5000)
    free = [c for c in frame.columns if c not in taken]
    for role in ("user", "item"):
        if role not in chosen and free:
            chosen[role] = free.pop(0)
    for column in list(free):
        values = sample[column].dropna()
        if len(values) == 0:
            continue
        if "time" not in chosen and _looks_like_time(values):
            chosen["time"] = column
            free.remove(column)
    for column in list(free):
        values = sample[column].dropna()
        if len(values) == 0:
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.notna().all():
            if "rating" not in chosen and numbers.nunique() <= 20 and numbers.abs().max() <= 100:
                chosen["rating"] = column
                free.remove(column)
        elif "event" not in chosen and "rating" not in chosen and values.nunique() <= 50:
            chosen["event"] = column
            free.remove(column)


def _looks_like_time(values: pd.Series) -> bool:
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all():
        median = float(numbers.median())
        epoch = 1e8 <= median <= 4.1e9 or 1e11 <= median <= 4.1e12 or 1e14 <= median <= 4.1e15
        return bool(epoch and numbers.nunique() > 1)
    text = values.astype(str)
    if not text.str.contains(r"\d", regex=True).all():
        return False
    parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    return bool(parsed.notna().mean() > 0.95)
