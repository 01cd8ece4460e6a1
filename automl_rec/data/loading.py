"""Read an interaction table from a file or a DataFrame and infer the role of each column.

The loader owns everything about turning bytes into a table: encoding, delimiter and header
sniffing, and column-role inference (user, item, rating, event, timestamp or order) from column
names or, for header-less files, from the content. Lines with another number of fields than the
header are skipped with a warning (too many of them is an error). Files holding one sequence per
line (a user, then that user's items in order) are unrolled into one row per interaction, with
the position in the line as the order. Ids are kept as strings exactly as they appear, so that
raw ids survive to the exported model. Type conversion and cleaning belong to
:mod:`automl_rec.data.validation`.
"""

from __future__ import annotations

import csv
import mmap
import re
from collections import Counter
from collections.abc import Iterator
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
# Normalised names (and tokens of longer names, "order_in_session") of a column that orders the
# interactions without being a timestamp; taken when it holds whole numbers and no time column
# was found by name.
ORDER_NAMES = ("position", "pos", "seq", "sequence", "seqno", "order", "step", "index", "idx",
               "rank")
MISSING_TOKENS = ["", "nan", "NaN", "NAN", "null", "NULL", "None", "N/A", "n/a", "NA"]
_SEPARATORS = ("::", "\t", ";", "|", ",")
_SNIFF_BYTES = 256 * 1024
_SNIFF_LINES = 200
_PARQUET_SUFFIXES = (".parquet", ".pq")
# Text columns are held by Arrow (a few bytes a value) rather than as Python objects.
TEXT = pd.StringDtype("pyarrow")
# Rows of a column that decide whether a column named like a rating holds numbers at all.
_SAMPLE_ROWS = 10_000
# Lines with another number of fields than the header are skipped up to this share of the data
# rows; above it the separator or the quoting is more likely wrong than a few lines.
MAX_MALFORMED_SHARE = 0.01
# Line numbers of skipped lines shown in a warning or an error.
_LINES_SHOWN = 5
# What a file of one sequence per line is: the notes' "format", and the synthetic source columns.
SEQUENCE_FORMAT = "sequence per line"
SEQUENCE_ROLES = {"user": "(first field)", "item": "(other fields)", "time": "(position in line)"}
# A field of a one-sequence-per-line file: a short token without separators or quotes.
_SEQUENCE_TOKEN = re.compile(r"[^\s,;|\"']{1,64}")
# Share of sniffed lines that must hold a user and at least one item in such a file.
_SEQUENCE_MIN_SHARE = 0.5
# Share of sniffed lines with the same number of fields that makes a separator that of a table
# (fewer, with lines of many lengths, is a file of sequences); also the share of lines with a
# user of their own in such a file.
_CONSISTENT = 0.9
_BOM = b"\xef\xbb\xbf"


# Columns of a log that play no role are the rows' context (a device, a page, a position shown):
# they travel with the rows under this prefix (``context:device``), for the click and rating
# tasks to read (DESIGN 11).
CONTEXT_PREFIX = "context:"


def context_columns(frame: pd.DataFrame) -> list[str]:
    """The context columns of a loaded log's frame (prefixed names)."""
    return [c for c in frame.columns if str(c).startswith(CONTEXT_PREFIX)]


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
            and ``time`` where the source has them, and every other column of the source as
            ``context:<name>`` (but a column named like a role overridden to ``"none"``),
            all still as read (text, or dates and times from a typed source), in file order.
        roles: The source column behind each canonical column.
        source: A short description of where the data came from (file name or ``DataFrame``).
        warnings: Recoverable oddities met while reading (a BOM, Latin-1 text, skipped lines).
        notes: How the table was read, for the profile: ``separator`` and ``encoding`` (text
            files), ``has_header``, ``roles_inferred_from`` (``"names"`` or ``"content"``),
            ``format`` (``"sequence per line"`` for a file of one user and that user's items a
            line; absent for tables) and, where there is a ``time`` column, ``order``: what the
            time means. ``"timestamp"``: points in time (numbers or dates). ``"position"``: a
            column of whole numbers named like an order (``position``, ``seq``, ``rank``...),
            to be read as plain numbers. ``"line"``: the position of the item in its line of a
            sequence-per-line file (0, 1, 2...; the ``time`` column then holds these integers).
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
    sniffed = None
    warnings: list[str] = []
    if not isinstance(source, pd.DataFrame):
        path = Path(source)
        _check_path(path)
        if path.suffix.lower() not in _PARQUET_SUFFIXES:
            sniffed = _sniff_text(path, sep, warnings)
            if sniffed.sequences:
                notes = {"separator": sniffed.sep, "encoding": sniffed.encoding}
                return _load_sequences(path, sniffed.encoding, overrides, warnings, notes)
    table = read_table(source, sep=sep, overrides=overrides, what="an interaction table",
                       sniffed=sniffed)
    raw, name, has_header = table.frame, table.source, table.has_header
    warnings, notes = warnings + table.warnings, dict(table.notes)
    if raw.shape[1] < 2:
        raise DataValidationError(
            f"'{name}' has a single column ({raw.columns[0]!r}); an interaction table needs at "
            "least a user column and an item column (pass --sep if the separator was not found)."
        )
    roles, guessed, order = _resolve_roles(raw, has_header, overrides, name)
    notes["roles_inferred_from"] = "content" if guessed else "names"
    if order is not None:
        notes["order"] = order
    frame = pd.DataFrame({"user": raw[roles.user], "item": raw[roles.item]})
    for role in ("rating", "event", "time"):
        column = getattr(roles, role)
        if column is not None:
            frame[role] = raw[column]
    taken = {column for column in roles.as_dict().values() if column is not None}
    # A role overridden to 'none' sets its column aside: it is no context either.
    taken |= {column_named_like(role, list(raw.columns)) for role, wanted in overrides.items()
              if wanted is not None and wanted.lower() == "none"}
    for column in raw.columns:
        if column not in taken:
            frame[CONTEXT_PREFIX + str(column)] = raw[column]
    return LoadedInteractions(frame.reset_index(drop=True), roles, name, warnings, notes)


@dataclass
class RawTable:
    """A delimited or Parquet table as read, before any column is given a meaning.

    Attributes:
        frame: Every column as Arrow-backed text (dates and times from a typed source stay
            typed), with unique names (positions ``"0"``, ``"1"``... where there is no header).
        source: The file name, or ``"DataFrame"``.
        has_header: Whether the first line named the columns.
        warnings: Recoverable oddities met while reading.
        notes: ``separator`` and ``encoding`` for text files, and ``has_header``.
    """

    frame: pd.DataFrame
    source: str
    has_header: bool
    warnings: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)


def read_table(
    source: str | Path | pd.DataFrame,
    *,
    sep: str | None = None,
    overrides: dict[str, str | None] | None = None,
    what: str = "a table",
    sniffed: _Sniffed | None = None,
) -> RawTable:
    """Read a CSV/TSV/``::``/Parquet file or a DataFrame as text columns, sniffing the encoding,
    the separator and the header, and skipping malformed lines (an error past 1%).

    ``overrides`` are column names the caller expects (they mark a first line as a header);
    ``what`` names the table in errors. Raises :class:`DataValidationError` for a table that
    cannot be read or has no data rows. ``sniffed`` is the head of the file where the caller
    has sniffed it already.
    """
    warnings: list[str] = []
    notes: dict[str, Any] = {}
    overrides = overrides or {}
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
            sniffed = sniffed or _sniff_text(path, sep, warnings)
            notes["separator"] = sniffed.sep
            notes["encoding"] = sniffed.encoding
            raw, has_header = _read_table(path, sniffed, overrides, warnings)
    if raw.shape[0] == 0:
        raise DataValidationError(
            f"'{name}' has a header ({', '.join(map(str, raw.columns))}) but no data rows; "
            f"give {what} with at least one row."
        )
    raw.columns = _unique_names([str(c).strip() for c in raw.columns])
    notes["has_header"] = has_header
    return RawTable(raw, name, has_header, warnings, notes)


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
    """Turn every column but dates and times into text, integers without a decimal point; the
    rows are numbered 0..n-1 whatever the frame's index (a filtered frame keeps every row)."""
    frame = frame.reset_index(drop=True)
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


@dataclass(frozen=True)
class _Sniffed:
    """What the head of a text file says about how to read it."""

    encoding: str
    sep: str
    rows: list[list[str]]  # the first non-blank lines, split by ``sep``
    leading_blank: int  # blank lines before the first one with fields
    sequences: bool  # one sequence per line: a user, then that user's items


@dataclass
class _Malformed:
    """Lines skipped because their number of fields is not ``expected`` (set by the readers)."""

    expected: int
    count: int = 0
    lines: list[int] = field(default_factory=list)  # the first few, 1-based


def _sniff_text(path: Path, sep: str | None, warnings: list[str]) -> _Sniffed:
    """Sniff the encoding, the separator (``sep`` where given) and the format from the head."""
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
    sequences = False
    if sep is None:
        try:
            sep = _sniff_separator(lines, path.name)
        except DataValidationError:
            sep = _sequence_separator(lines)
            if sep is None:
                raise
            sequences = True
    elif sep in (" ", "\t"):
        sequences = _sequence_separator(lines) == sep
    physical = re.split(r"\r\n|\r|\n", text)
    leading = next(i for i, line in enumerate(physical) if line.strip())
    return _Sniffed(encoding, sep, _split_lines(lines, sep), leading, sequences)


def _read_table(
    path: Path, sniffed: _Sniffed, overrides: dict[str, str | None], warnings: list[str]
) -> tuple[pd.DataFrame, bool]:
    """Read a delimited file, Arrow first, skipping lines of another number of fields."""
    rows, sep, encoding = sniffed.rows, sniffed.sep, sniffed.encoding
    has_header = _has_header(rows, overrides)
    expected = len(rows[0]) if has_header else Counter(map(len, rows)).most_common(1)[0][0]
    malformed = _Malformed(expected)
    frame = _read_with_arrow(path, sep, encoding, expected, has_header, malformed,
                             skip_blank=sniffed.leading_blank)
    if frame is None:
        malformed = _Malformed(expected)
        frame = _read_with_pandas(path, sep, encoding, has_header, malformed)
    if has_header:
        frame.columns = [cell or f"Unnamed: {i}" for i, cell in enumerate(rows[0])]
    else:
        frame.columns = [str(i) for i in range(frame.shape[1])]
    if malformed.count:
        total = len(frame) + malformed.count
        if malformed.count > MAX_MALFORMED_SHARE * total:
            raise _malformed_error(malformed, total, path.name, sep)
        plural = "s" if malformed.count > 1 else ""
        warnings.append(
            f"Skipped {malformed.count} malformed line{plural} of '{path.name}'"
            f"{_where(malformed.count, malformed.lines)} whose field count is not "
            f"{malformed.expected}."
        )
    return frame, has_header


def _malformed_error(
    malformed: _Malformed, total: int, name: str, sep: str
) -> DataValidationError:
    too_many = malformed.count > MAX_MALFORMED_SHARE * total
    share = f", more than {MAX_MALFORMED_SHARE:.0%} of them" if too_many else ""
    return DataValidationError(
        f"{malformed.count} of {total} data lines of '{name}'"
        f"{_where(malformed.count, malformed.lines)} do not have {malformed.expected} fields "
        f"when split by {sep!r}{share}; check the separator and the quoting of the file, or "
        "pass --sep."
    )


def _where(count: int, lines: list[int]) -> str:
    """`` (lines 17, 402, ...)``: the first of ``count`` lines, or nothing where none is known."""
    if not lines:
        return ""
    shown = ", ".join(str(n) for n in lines)
    more = ", ..." if count > len(lines) else ""
    return f" (line{'s' if count > 1 else ''} {shown}{more})"


class _InvalidRows:
    """Arrow's ``invalid_row_handler``: skips rows of another width, counting or keeping them.

    Blank rows (spaces only) are skipped without counting, as pandas skips them. In a ``::``
    file, a row with the right number of ``::`` fields was split wrongly at a ``:`` inside a field;
    that stops the read (Arrow cannot read such a file; the pandas reader can).

    Args:
        sep: The separator of the file.
        n_fields: The number of fields each line should have.
        keep: Stop the read once this many invalid rows are kept (their text, in ``texts``);
            ``None`` only counts them.
    """

    def __init__(self, sep: str, n_fields: int, keep: int | None = None) -> None:
        self.sep, self.n_fields, self.keep = sep, n_fields, keep
        self.count = 0
        self.texts: list[str] = []
        self.misread = False

    def __call__(self, row: Any) -> str:
        text = row.text
        if not text.strip():
            return "skip"
        if self.sep == "::" and len(text.split("::")) == self.n_fields:
            self.misread = True
            return "error"
        self.count += 1
        if self.keep is None:
            return "skip"
        self.texts.append(text)
        return "error" if len(self.texts) >= self.keep else "skip"


def _arrow_options(
    sep: str, encoding: str, names: list[str], skip_rows: int, handler: _InvalidRows,
    use_threads: bool = True,
) -> dict[str, Any]:
    return {
        "read_options": pa_csv.ReadOptions(
            column_names=names, skip_rows=skip_rows, use_threads=use_threads,
            encoding="utf8" if encoding.startswith("utf-8") else encoding),
        "parse_options": pa_csv.ParseOptions(delimiter=sep[0], newlines_in_values=True,
                                             invalid_row_handler=handler),
        "convert_options": pa_csv.ConvertOptions(
            column_types={name: pa.large_string() for name in names},
            null_values=MISSING_TOKENS, strings_can_be_null=True),
    }


def _read_with_arrow(
    path: Path,
    sep: str,
    encoding: str,
    n_fields: int,
    has_header: bool,
    malformed: _Malformed | None = None,
    skip_blank: int = 0,
) -> pd.DataFrame | None:
    """Read every field as text with Arrow's multi-threaded reader, cleaned as pandas would be.

    Leading spaces are dropped and the missing-value tokens become missing, as the pandas
    reader does with ``skipinitialspace`` and ``na_values``. ``::`` is read as ``:`` with every
    other field empty. Lines with another number of fields than ``n_fields`` are skipped and
    recorded in ``malformed``: their count, and the line numbers of the first few, found by a
    second, serial read only when there are such lines (the multi-threaded reader does not
    number them).

    Args:
        path: The file.
        sep: Its separator.
        encoding: Its encoding (as sniffed).
        n_fields: The number of fields of each line (the header's, or the most common one).
        has_header: Whether the first line (after ``skip_blank`` blank ones) is a header.
        malformed: Where to record the skipped lines; without it, a file with such lines gives
            ``None``.
        skip_blank: Blank lines before the first line with fields.

    Returns:
        The columns, named by position; ``None`` where Arrow cannot read the file the way
        pandas would (a ``:`` inside a ``::`` field, space separators, a parse error), for the
        pandas reader to decide, with its own error messages.
    """
    if sep == " " or len(sep) > 1 and sep != "::":
        return None
    width = 2 * n_fields - 1 if sep == "::" else n_fields
    names = [f"f{i}" for i in range(width)]
    skip_rows = skip_blank + has_header
    invalid = _InvalidRows(sep, n_fields)
    try:
        table = pa_csv.read_csv(path, **_arrow_options(sep, encoding, names, skip_rows, invalid))
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    if invalid.misread or (invalid.count and malformed is None):
        return None
    kept = names[::2] if sep == "::" else names
    if sep == "::" and any(table[name].null_count < len(table) for name in names[1::2]):
        return None
    if malformed is not None and invalid.count:
        malformed.count = invalid.count
        malformed.lines = _first_invalid_lines(path, sep, encoding, names, skip_rows)
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


def _first_invalid_lines(
    path: Path, sep: str, encoding: str, names: list[str], skip_rows: int
) -> list[int]:
    """The line numbers of the first few rows of another width, by a serial read of the file.

    The serial reader meets the invalid rows in file order and stops after the first few; each
    row's line is then found by searching its text in the file, which counts line breaks inside
    quoted fields as the physical lines they are.
    """
    n_fields = (len(names) + 1) // 2 if sep == "::" else len(names)
    invalid = _InvalidRows(sep, n_fields, keep=_LINES_SHOWN)
    options = _arrow_options(sep, encoding, names, skip_rows, invalid, use_threads=False)
    options["convert_options"].include_columns = names[:1]
    try:
        pa_csv.read_csv(path, **options)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        pass  # the handler stopped the read once it had enough rows
    return _lines_of_rows(path, encoding, invalid.texts)


def _lines_of_rows(path: Path, encoding: str, texts: list[str]) -> list[int]:
    """The 1-based lines where the given rows (whole lines or records, in file order) start."""
    codec = "utf-8" if encoding.startswith("utf-8") else encoding
    numbers: list[int] = []
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        crlf = data.find(b"\r\n", 0, _SNIFF_BYTES) >= 0
        line, line_start, search_from = 1, 0, 0
        for text in texts:
            needle = text.encode(codec, errors="replace")
            start = _find_record(data, needle, search_from, crlf)
            if start < 0:
                break
            line += data[line_start:start].count(b"\n")
            numbers.append(line)
            line_start, search_from = start, start + len(needle)
    return numbers


def _find_record(data: mmap.mmap, needle: bytes, start: int, crlf: bool) -> int:
    """Where ``needle`` stands as a whole record (a line start to a line end) from ``start``."""
    first = len(_BOM) if data[:len(_BOM)] == _BOM else 0
    ending = b"\r\n" if crlf else b"\n"
    if start <= first and data[first:first + len(needle) + len(ending)] in (
            needle + ending, needle):
        return first
    found = data.find(b"\n" + needle + ending, max(start - 1, 0))
    if found >= 0:
        return found + 1
    tail = b"\n" + needle
    if data[len(data) - len(tail):] == tail and len(data) - len(needle) >= start:
        return len(data) - len(needle)
    return -1


def _read_with_pandas(
    path: Path, sep: str, encoding: str, has_header: bool, malformed: _Malformed | None = None
) -> pd.DataFrame:
    """Read every field as text with pandas' Python engine (any separator, also a regex).

    Lines with another number of fields than the header (or ``malformed.expected``) are skipped
    and recorded in ``malformed``, their first few line numbers found by reading the file
    again up to them; without ``malformed`` such lines are an error.
    """
    too_long: list[int] = []
    kwargs: dict[str, Any] = {
        "sep": r"\s+" if sep == " " else re.escape(sep) if len(sep) > 1 else sep,
        "header": 0 if has_header else None,
        "dtype": str,
        "encoding": encoding,
        "na_filter": False,  # a missing (short line) field is then NaN, an empty one ""
        "skipinitialspace": True,
        "skip_blank_lines": True,
        "engine": "python",
        "index_col": False,
        "on_bad_lines": lambda fields: too_long.append(len(fields)),
    }
    if malformed is not None:
        kwargs["names"] = list(range(malformed.expected))
    try:
        frame = pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataValidationError(
            f"'{path.name}' could not be parsed with separator {sep!r} ({first}); check the "
            "quoting and the separator of the file, or pass --sep."
        ) from exc
    short = frame.iloc[:, -1].isna().to_numpy()
    count = len(too_long) + int(short.sum())
    if short.any():
        frame = frame[~short].reset_index(drop=True)
    if count:
        found = malformed if malformed is not None else _Malformed(frame.shape[1])
        found.count = count
        found.lines = _malformed_lines(path, sep, encoding, has_header, found.expected)
        if malformed is None:
            raise _malformed_error(found, len(frame) + count, path.name, sep)
    missing = pa.array(MISSING_TOKENS, pa.large_string())
    columns = {}
    for column in frame.columns:
        values = pa.array(frame[column].to_numpy(dtype=object), pa.large_string(),
                          from_pandas=True)
        values = pc.if_else(pc.is_in(values, value_set=missing), pa.scalar(None, values.type),
                            values)
        columns[column] = pd.Series(pd.arrays.ArrowStringArray(values), copy=False)
    return pd.DataFrame(columns, index=range(len(frame)))


def _malformed_lines(
    path: Path, sep: str, encoding: str, has_header: bool, expected: int
) -> list[int]:
    """The line numbers of the first few records with another number of fields than expected."""
    found: list[int] = []
    records = _records(path, sep, encoding)
    try:
        if has_header:
            next(records, None)
        for number, fields in records:
            if len(fields) != expected:
                found.append(number)
                if len(found) == _LINES_SHOWN:
                    break
    finally:
        records.close()
    return found


def _records(path: Path, sep: str, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """Yield the first line number and the fields of each non-blank record, split as pandas'
    Python engine splits them (the csv module for one character, a pattern otherwise)."""
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        if len(sep) == 1 and sep != " ":
            reader = csv.reader(handle, delimiter=sep, skipinitialspace=True)
            start = 1
            for fields in reader:
                if len(fields) > 1 or fields and fields[0].strip():
                    yield start, fields
                start = reader.line_num + 1
            return
        pattern = re.compile(r"\s+" if sep == " " else re.escape(sep))
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield number, pattern.split(line.strip())


def _load_sequences(
    path: Path,
    encoding: str,
    overrides: dict[str, str | None],
    warnings: list[str],
    notes: dict[str, Any],
) -> LoadedInteractions:
    """Unroll a file of one sequence per line into one row per (user, item), in line order.

    The ``time`` column holds the position of each item in its line (0, 1, 2...), unless the
    time column is ``none``. Lines with a user and no items are skipped with a warning. A user
    on several lines gets one sequence, the lines joined in file order.
    """
    keep_time = _sequence_overrides(overrides, path.name)
    tokens, numbers = _sequence_tokens(path, encoding, warnings)
    lengths = pc.list_value_length(tokens).to_numpy(zero_copy_only=False).astype(np.int64)
    alone = np.flatnonzero(lengths == 1)
    if len(alone):
        plural = "s" if len(alone) > 1 else ""
        warnings.append(
            f"Skipped {len(alone)} line{plural} of '{path.name}'"
            f"{_where(len(alone), numbers[alone[:_LINES_SHOWN]].tolist())} that hold a user "
            "but no items."
        )
    flat = pc.list_flatten(tokens)
    line_of = pc.list_parent_indices(tokens).to_numpy(zero_copy_only=False)
    starts = np.cumsum(lengths) - lengths  # where each line's user stands in ``flat``
    position = np.arange(len(flat)) - starts[line_of]
    is_item = position > 0
    if not is_item.any():
        raise DataValidationError(
            f"'{path.name}' holds user ids but no items (each line has a single field); give "
            "one line per user with the user id, then that user's items."
        )
    users = flat.take(pa.array(starts[line_of[is_item]]))
    frame = pd.DataFrame({"user": _arrow_text(users),
                          "item": _arrow_text(flat.filter(pa.array(is_item)))})
    if keep_time:
        frame["time"] = _sequence_positions(users, position[is_item] - 1, path.name, warnings)
        notes["order"] = "line"
    notes.update(has_header=False, roles_inferred_from="content", format=SEQUENCE_FORMAT)
    roles = ColumnRoles(user=SEQUENCE_ROLES["user"], item=SEQUENCE_ROLES["item"],
                        time=SEQUENCE_ROLES["time"] if keep_time else None)
    return LoadedInteractions(frame, roles, path.name, warnings, notes)


def _sequence_overrides(overrides: dict[str, str | None], name: str) -> bool:
    """Whether the positions are kept as time; a sequence file has no columns to choose."""
    for role, wanted in overrides.items():
        if wanted is None or role in ("rating", "event", "time") and wanted.lower() == "none":
            continue
        raise DataValidationError(
            f"'{name}' holds one sequence per line (a user, then that user's items), so it has "
            f"no {role} column to choose ({wanted!r} was given); leave out --{role}-col."
        )
    return (overrides.get("time") or "").lower() != "none"


def _sequence_tokens(path: Path, encoding: str, warnings: list[str]) -> tuple[Any, np.ndarray]:
    """The non-blank lines of the file split at whitespace, and their 1-based line numbers."""
    data = path.read_bytes()
    text = None
    if encoding != "latin-1":
        start = len(_BOM) if data.startswith(_BOM) else 0
        try:
            text = pa.array([data[start:]], pa.large_binary()).cast(pa.large_string())
        except pa.ArrowInvalid:
            warnings.append(f"'{path.name}' is not valid UTF-8; it was read as Latin-1.")
    if text is None:
        text = pa.array([data.decode("latin-1")], pa.large_string())
    del data
    lines = pc.utf8_trim_whitespace(pc.list_flatten(pc.split_pattern(text, "\n")))
    present = pc.not_equal(lines, "")
    numbers = np.flatnonzero(present.to_numpy(zero_copy_only=False)) + 1
    return pc.utf8_split_whitespace(lines.filter(present)), numbers


def _sequence_positions(
    users: Any, positions: np.ndarray, name: str, warnings: list[str]
) -> np.ndarray:
    """The positions of the items in their user's sequence, joining a user's lines if several."""
    first = positions == 0
    line_users = users.filter(pa.array(first))
    repeated = len(line_users) - pc.count_distinct(line_users).as_py()
    if not repeated:
        return positions
    codes = pc.dictionary_encode(users).indices.to_numpy(zero_copy_only=False)
    warnings.append(
        f"{repeated} line{'s' if repeated > 1 else ''} of '{name}' start with a user of an "
        "earlier line; each user's lines were joined into one sequence, in file order."
    )
    return pd.Series(codes).groupby(codes).cumcount().to_numpy()


def _arrow_text(values: Any) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(values), copy=False)


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
    if len(sep) > 1:
        return [[f.strip() for f in line.strip().split(sep)] for line in lines]
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
        if consistency < _CONSISTENT:
            continue
        score = (round(consistency, 1), mode, sep)
        if best is None or score[:2] > best[:2]:
            best = score
    if best is not None:
        return best[2]
    mode, count = Counter(len(line.split()) for line in lines).most_common(1)[0]
    if mode >= 2 and count >= _CONSISTENT * len(lines):
        return " "
    raise DataValidationError(
        f"Could not find the separator of '{name}' (tried ',', ';', tab, '|', '::', spaces and "
        "one sequence of items a line; each line needs at least a user and an item field); "
        "pass --sep."
    )


def _sequence_separator(lines: list[str]) -> str | None:
    """The separator of a file of one sequence per line (a user, then that user's items).

    Such a file is split by single spaces or tabs into short tokens, has no header, holds lines
    of many lengths, most of them with a user and at least one item, and names each user once.
    Returns ``None`` for any other file.
    """
    if any(_normalise(cell) in ROLE_NAMES[role] for cell in lines[0].split() for role in ROLES):
        return None
    for sep in (" ", "\t"):
        rows = [line.strip().split(sep) for line in lines]
        if all(_SEQUENCE_TOKEN.fullmatch(cell) for row in rows for cell in row):
            return sep if _sequence_shaped(rows) else None
    return None


def _sequence_shaped(rows: list[list[str]]) -> bool:
    """Whether split lines have the shape of sequences rather than of a table's rows."""
    n = len(rows)
    lengths = Counter(map(len, rows))
    varied = lengths.most_common(1)[0][1] < _CONSISTENT * n
    with_items = sum(count for length, count in lengths.items() if length >= 2)
    users = len({row[0] for row in rows})
    return varied and with_items > _SEQUENCE_MIN_SHARE * n and users >= _CONSISTENT * n


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
) -> tuple[ColumnRoles, bool, str | None]:
    """Choose the column of each role: overrides, then names, then content.

    Returns:
        The roles; whether the user and item were found from the content; and what the time
        column is (``"timestamp"``, ``"position"`` for an order column, ``None`` without one).
    """
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
    guessed = positional = False
    if has_header:
        for role in ("time", "event", "rating", "user", "item"):
            if role in chosen:
                continue
            column = column_named_like(role, [c for c in columns if c not in taken])
            if column is not None:
                chosen[role] = column
                taken.add(column)
        rating = chosen.get("rating")
        if rating is not None and "event" not in chosen and not _has_numbers(frame[rating]):
            chosen["event"], chosen["rating"] = rating, None
        if "time" not in chosen:
            order = _match_order(frame, [c for c in columns if c not in taken], chosen)
            if order is not None:
                chosen["time"] = order
                taken.add(order)
                positional = True
    if chosen.get("user") is None or chosen.get("item") is None:
        guessed = True
        _infer_by_content(frame, chosen, taken)
    if chosen.get("user") is None or chosen.get("item") is None:
        raise DataValidationError(
            f"Could not tell which columns of '{name}' hold user and item ids (columns: "
            f"{', '.join(columns)}); pass --user-col and --item-col."
        )
    roles = ColumnRoles(**{role: chosen.get(role) for role in ROLES})
    order = None if roles.time is None else "position" if positional else "timestamp"
    return roles, guessed, order


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


def column_named_like(role: str, columns: list[str]) -> str | None:
    """The first of ``columns`` named like the column of ``role`` (``"user"``, ``"item"``...)."""
    return next(_named_like(columns, ROLE_NAMES[role], ROLE_TOKENS[role]), None)


def _named_like(columns: list[str], names: tuple[str, ...], tokens: tuple[str, ...]
                ) -> Iterator[str]:
    """The columns whose normalised name is one of ``names``, then those with a token of
    ``tokens`` in their name (``"order_in_session"``, ``"unixReviewTime"``)."""
    exact = [column for column in columns if _normalise(column) in names]
    yield from exact
    for column in columns:
        if column not in exact and any(token in tokens for token in _tokens(column)):
            yield column


def _match_order(
    frame: pd.DataFrame, free: list[str], chosen: dict[str, str | None]
) -> str | None:
    """The free column named like an order (``position``, ``seq``, ``rank``...) that holds
    whole numbers; none where the user or item id still has to be found among the free columns
    and taking it would leave too few of them."""
    needed = sum(chosen.get(role) is None for role in ("user", "item"))
    if len(free) <= needed:
        return None
    for column in _named_like(free, ORDER_NAMES, ORDER_NAMES):
        if _whole_numbers(frame[column]):
            return column
    return None


def _whole_numbers(values: pd.Series) -> bool:
    """Whether a sample of the column holds whole numbers only (and at least one)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return False
    sample = values.head(_SAMPLE_ROWS).dropna()
    if len(sample) == 0:
        return False
    numbers = pd.to_numeric(sample, errors="coerce").astype(float).to_numpy()
    return bool(np.isfinite(numbers).all() and (np.mod(numbers, 1) == 0).all())


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
