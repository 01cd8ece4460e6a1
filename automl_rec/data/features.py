"""Item and user tables: reading them, and the kind of each attribute column (DESIGN 11).

A table has one row per item (or user): its id column, then attributes. Each attribute gets a
*kind*, inferred from its values with the reason written down, or set by the user:

- ``categorical``: a few repeated values (a brand, a gender, a 0/1 flag);
- ``multi``: several values joined by ``|`` or ``,`` (genres, attribute lists);
- ``numeric``: numbers (scaled later; ``log`` marks skewed non-negative counts and prices),
  and dates, as days;
- ``text``: free text of several words (titles, descriptions);
- ``ignored``: unique per row (a URL, a second id), constant, or mostly missing.

Each table's columns and kinds make its :class:`TableSchema` (the feature schema of DESIGN
11); :class:`Features` holds the item and the user table of a fit.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl_rec.data.loading import (CONTEXT_PREFIX, as_text, column_named_like,
                                     context_columns, read_table)
from automl_rec.errors import DataValidationError

KINDS = ("categorical", "multi", "numeric", "text", "ignored")

# A column missing in more than this share of rows carries too little to learn from.
MAX_MISSING_SHARE = 0.9
# Distinct values in at least this share of rows (and at least this many rows) make a column
# an identifier rather than a category (unless it is text or numbers).
UNIQUE_SHARE = 0.95
MIN_ROWS_FOR_UNIQUE = 20
# A column is text when its values average at least this many words and most are distinct.
TEXT_MIN_WORDS = 2.0
TEXT_MIN_DISTINCT = 0.3
# A column is multi-valued when at least this share of its values holds a separator and the
# pieces repeat (fewer distinct pieces than distinct values).
MULTI_MIN_SHARE = 0.2
MULTI_SEPARATORS = ("|", ",", ";")
# Numbers are numeric when at least this share of the values parse (the rest count as
# missing); numbers written with leading zeros are codes.
NUMERIC_MIN_SHARE = 0.99
# A non-negative numeric column with at least this skewness is log-scaled.
LOG_SKEW = 2.0
# Numbers with at most this many distinct values are categories (0/1 flags, star classes).
MAX_NUMERIC_CATEGORIES = 2

_CODE_TOKENS = ("id", "zip", "code", "postcode", "postal", "sku", "isbn", "ean", "upc", "phone")
_DATE_SAMPLE = 200


@dataclass(frozen=True)
class FeatureColumn:
    """One attribute column: its kind, why, and a few figures about its values.

    ``stats`` holds ``missing_share`` and ``distinct``, plus ``log`` (numeric), ``separator``
    and ``values`` (multi: distinct pieces), ``words`` (text: mean words a value) or
    ``date`` (numeric read from dates).
    """

    name: str
    kind: str
    reason: str
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TableSchema:
    """The attribute columns of an item or user table."""

    role: str  # "items" or "users"
    source: str
    key: str  # the id column
    n_rows: int
    columns: tuple[FeatureColumn, ...]
    warnings: tuple[str, ...] = ()
    has_header: bool = True  # without one, columns are named by position (0 is the first)

    def used(self) -> tuple[FeatureColumn, ...]:
        """The columns that are not ignored."""
        return tuple(c for c in self.columns if c.kind != "ignored")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class FeatureTable:
    """An item or user table: ids as text, attributes as read, and their schema."""

    ids: pd.Series
    frame: pd.DataFrame  # the attribute columns, one row per id, in ``ids`` order
    schema: TableSchema


@dataclass(frozen=True)
class Features:
    """The side tables of a fit: an item table, a user table, either or neither."""

    items: FeatureTable | None = None
    users: FeatureTable | None = None

    def describe(self, log_items: pd.Series, log_users: pd.Series) -> dict[str, Any] | None:
        """The profile's ``features`` entry: each table's schema and how its ids meet the log's
        (``matched``: ids in both; ``only_in_table``: catalogue entries the log never names;
        ``missing_rows``: log ids without a row). ``None`` without tables."""
        out: dict[str, Any] = {}
        for table, ids in ((self.items, log_items), (self.users, log_users)):
            if table is None:
                continue
            known = set(table.ids)
            in_log = set(pd.unique(ids.astype(str)))
            matched = len(known & in_log)
            out[table.schema.role] = {**table.schema.to_dict(), "matched": matched,
                                      "only_in_table": len(known) - matched,
                                      "missing_rows": len(in_log) - matched}
        return out or None


def items_only_in_table(described: dict[str, Any] | None) -> int:
    """Items of the item table that the log never names, from the profile's ``features`` entry
    (:meth:`Features.describe`; 0 without an item table)."""
    return int(((described or {}).get("items") or {}).get("only_in_table", 0))


def read_features(
    items: str | Path | pd.DataFrame | None = None,
    users: str | Path | pd.DataFrame | None = None,
    feature_types: str | dict[str, str] | None = None,
) -> Features:
    """Read the item and user tables that are given, with ``--feature-types`` overrides.

    Raises:
        DataValidationError: A table cannot be read, or an override names a column that
            neither table has.
    """
    overrides = parse_feature_types(feature_types)
    tables = {role: read_feature_table(source, role, feature_types=overrides)
              for role, source in (("items", items), ("users", users)) if source is not None}
    known = list(dict.fromkeys(c.name for t in tables.values() for c in t.schema.columns))
    unknown = [column for column in overrides if column not in known]
    if unknown:
        names = ", ".join(known) or "none (no --items or --users table)"
        raise DataValidationError(
            f"--feature-types names {', '.join(map(repr, unknown))}, which no item or user "
            f"table has; their attribute columns are: {names}.")
    return Features(tables.get("items"), tables.get("users"))


def parse_feature_types(text: str | dict[str, str] | None) -> dict[str, str]:
    """Parse ``"col=kind,col2=kind"`` (or pass a dict through), checking each kind."""
    if not text:
        return {}
    pairs = text.items() if isinstance(text, dict) else (
        part.split("=", 1) if "=" in part else (part, "") for part in text.split(",")
        if part.strip())
    out: dict[str, str] = {}
    for column, kind in pairs:
        column, kind = column.strip(), kind.strip().lower()
        if kind not in KINDS:
            raise DataValidationError(
                f"Feature type {kind!r} for column {column!r} is not one of "
                f"{', '.join(KINDS)}; write --feature-types column=kind,...")
        out[column] = kind
    return out


def read_feature_table(
    source: str | Path | pd.DataFrame,
    role: str,
    *,
    feature_types: dict[str, str] | None = None,
    sep: str | None = None,
) -> FeatureTable:
    """Read an item (``role="items"``) or user (``role="users"``) table and type its columns.

    The id column is the one named like an item (user) id, else the first column. Rows with a
    missing id are dropped; a repeated id keeps its first row (both with a warning). Overrides
    in ``feature_types`` name columns of any of the two tables; those of the other are ignored.

    Raises:
        DataValidationError: The table cannot be read, has no attribute column, or an override
            names a kind that does not apply.
    """
    what = "an item table" if role == "items" else "a user table"
    table = read_table(source, sep=sep, what=what)
    frame, warnings = table.frame, list(table.warnings)
    key_role = "item" if role == "items" else "user"
    columns = list(frame.columns)
    key = (column_named_like(key_role, columns) if table.has_header else None) or columns[0]
    if len(columns) < 2:
        raise DataValidationError(
            f"'{table.source}' has a single column ({key!r}); {what} needs an id column and at "
            "least one attribute column (pass --sep if the separator was not found).")
    ids = as_text(frame[key]).str.strip()
    keep = ids.notna() & (ids != "")
    if not keep.all():
        warnings.append(f"Dropped {int((~keep).sum()):,} rows of '{table.source}' without an id.")
    repeated = ids[keep].duplicated()
    if repeated.any():
        warnings.append(f"'{table.source}' names {int(repeated.sum()):,} ids twice or more; the "
                        "first row of each is kept.")
    rows = keep.copy()
    rows[keep] = ~repeated
    ids = ids[rows].reset_index(drop=True)
    attributes = frame.loc[rows, [c for c in columns if c != key]].reset_index(drop=True)
    overrides = feature_types or {}
    typed = tuple(infer_column(attributes[c], c, overrides.get(c)) for c in attributes.columns)
    schema = TableSchema(role, table.source, key, len(ids), typed, tuple(warnings),
                         table.has_header)
    return FeatureTable(ids, attributes, schema)


def infer_column(values: pd.Series, name: str, override: str | None = None) -> FeatureColumn:
    """The kind of one attribute column, with the reason (``override`` where the user set it)."""
    text = _clean(values)
    present = text.dropna()
    n = len(text)
    missing = 1.0 - len(present) / n if n else 1.0
    distinct = int(present.nunique())
    stats: dict[str, Any] = {"missing_share": round(missing, 4), "distinct": distinct}
    if override:
        return FeatureColumn(name, override, "set by --feature-types",
                             {**stats, **_kind_stats(override, present)})
    if not len(present) or missing > MAX_MISSING_SHARE:
        return FeatureColumn(name, "ignored", f"mostly missing ({missing:.0%} of rows)", stats)
    if distinct == 1:
        return FeatureColumn(name, "ignored", "constant (one value)", stats)
    numeric = _numbers(present)
    is_code = _code_like(name, present)
    if numeric is not None and not is_code:
        if distinct <= MAX_NUMERIC_CATEGORIES:
            return FeatureColumn(name, "categorical", f"numbers with {distinct} values (a flag)",
                                 stats)
        log = _skewed(numeric)
        reason = "numbers, skewed: log-scaled" if log else "numbers"
        return FeatureColumn(name, "numeric", reason, {**stats, "log": log})
    if numeric is None and _dates(present):
        return FeatureColumn(name, "numeric", "dates, as days", {**stats, "date": True,
                                                                  "log": False})
    multi = _multi_separator(present)
    words = float(present.str.split().str.len().mean())
    if multi is not None and words < TEXT_MIN_WORDS * 2:
        pieces = _pieces(present, multi)
        return FeatureColumn(name, "multi", f"values joined by {multi!r} "
                             f"({pieces.nunique():,} distinct)",
                             {**stats, "separator": multi, "values": int(pieces.nunique())})
    if words >= TEXT_MIN_WORDS and distinct >= TEXT_MIN_DISTINCT * len(present):
        return FeatureColumn(name, "text", f"free text ({words:.1f} words a value)",
                             {**stats, "words": round(words, 2)})
    if distinct >= UNIQUE_SHARE * len(present) and len(present) >= MIN_ROWS_FOR_UNIQUE:
        what = "like a URL" if present.str.contains("://", regex=False).mean() > 0.5 else (
            "like an id")
        return FeatureColumn(name, "ignored", f"unique per row ({what})", stats)
    reason = f"{distinct:,} distinct values" + (" (a code)" if is_code else "")
    return FeatureColumn(name, "categorical", reason, stats)


def _kind_stats(kind: str, present: pd.Series) -> dict[str, Any]:
    """The figures the model side needs for a kind the user chose."""
    if kind == "numeric":
        numeric = _numbers(present, share=0.0)
        if numeric is None:
            return {"date": True, "log": False}
        return {"log": _skewed(numeric)}
    if kind == "multi":
        separator = _multi_separator(present, share=0.0) or "|"
        return {"separator": separator, "values": int(_pieces(present, separator).nunique())}
    if kind == "text":
        return {"words": round(float(present.str.split().str.len().mean()), 2)}
    return {}


def _clean(values: pd.Series) -> pd.Series:
    """Text with surrounding blanks stripped; empty strings become missing."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%d").astype("string[pyarrow]")
    text = as_text(values).str.strip()
    return text.mask(text == "")


def _numbers(present: pd.Series, share: float = NUMERIC_MIN_SHARE) -> np.ndarray | None:
    """The values as floats when at least ``share`` of them parse, else ``None``."""
    parsed = pd.to_numeric(present.astype(object), errors="coerce")
    ok = parsed.notna()
    if not len(present) or ok.mean() < max(share, 1e-9):
        return None
    return parsed[ok].to_numpy(dtype=float)


def _code_like(name: str, present: pd.Series) -> bool:
    """Whether numbers in this column are codes: named like one, or written with leading
    zeros."""
    tokens = re.split(r"[^a-z0-9]+", name.lower())
    if any(token in _CODE_TOKENS for token in tokens):
        return True
    sample = present.head(_DATE_SAMPLE * 5)
    return bool(sample.str.fullmatch(r"0\d+").mean() > 0.05)


def _skewed(numbers: np.ndarray) -> bool:
    if numbers.min() < 0 or numbers.std() == 0:
        return False
    centred = numbers - numbers.mean()
    skew = float(np.mean(centred ** 3) / numbers.std() ** 3)
    return skew >= LOG_SKEW


def _dates(present: pd.Series) -> bool:
    """Whether the values read as dates (a sample; at least 90% of it)."""
    sample = present.head(_DATE_SAMPLE).astype(object)
    if not sample.str.contains(r"\d", regex=True).all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.9)


def date_days(values: pd.Series) -> pd.Series:
    """Dates as days since 1970 (missing where a value does not read as a date)."""
    parsed = pd.to_datetime(_clean(values).astype(object), errors="coerce", format="mixed")
    return (parsed - pd.Timestamp("1970-01-01")).dt.days.astype(float)


def _multi_separator(present: pd.Series, share: float = MULTI_MIN_SHARE) -> str | None:
    """The separator joining several values in most rows of this column, if any."""
    best: tuple[float, str] | None = None
    for separator in MULTI_SEPARATORS:
        holds = float(present.str.contains(separator, regex=False).mean())
        if holds < max(share, 1e-9):
            continue
        pieces = _pieces(present, separator)
        if pieces.nunique() >= present.nunique():
            continue
        if best is None or holds > best[0]:
            best = (holds, separator)
    return best[1] if best else None


def _pieces(present: pd.Series, separator: str) -> pd.Series:
    pieces = present.str.split(separator, regex=False).explode().str.strip()
    return pieces[pieces.notna() & (pieces != "")]


def has_used_columns(described: dict[str, Any] | None,
                     roles: tuple[str, ...] = ("items", "users")) -> bool:
    """Whether the profile's ``features`` entry has a table of ``roles`` with a used column."""
    return any(column["kind"] != "ignored"
               for role in roles for column in ((described or {}).get(role) or {}).get(
                   "columns", []))


def feature_summary(described: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The profile's ``features`` entry as one summary per table, for the terminal and the
    report: ``title`` (the table and its id column), ``caption`` (how its ids meet the log's),
    ``rows`` (column, kind, reason) and ``warnings``."""
    summaries = []
    for role, table in (described or {}).items():
        named = table.get("has_header", True)

        def label(column: str) -> str:
            return repr(column) if named else f"column {column}"

        if role == "context":
            summaries.append({
                "title": f"Context columns of the log: {table['source']}",
                "caption": ("columns of the rows beside the user, item, label and time; the "
                            "click and rating models read them, the ranking task does not"),
                "rows": [(label(str(c["name"])), c["kind"], c["reason"])
                         for c in table["columns"]],
                "warnings": []})
            continue
        noun = "items" if role == "items" else "users"
        summaries.append({
            "title": (f"{'Item' if role == 'items' else 'User'} table: {table['source']} "
                      f"({table['n_rows']:,} rows, ids in {label(table['key'])})"),
            "caption": (f"{table['matched']:,} {noun} also in the log, "
                        f"{table['only_in_table']:,} only in the table, "
                        f"{table['missing_rows']:,} in the log without a row"),
            "rows": [(label(str(c["name"])), c["kind"], c["reason"]) for c in table["columns"]],
            "warnings": list(table["warnings"])})
    return summaries


# Quantile bins of a numeric column in the attribute vectors: near values share a bin.
NUMERIC_BINS = 10


def attribute_vectors(table: FeatureTable, ids: Any) -> Any:
    """Sparse attribute vectors of the items (or users) ``ids``, one row each, for similarity.

    Each used column is a block: one-hot values (categorical), several hot values (multi),
    one-hot quantile bins (numeric and dates), TF-IDF of words (text). Blocks are L2-normalised
    per row so that each column weighs the same in a cosine similarity; an id without a row of
    the table gets an empty vector.

    Args:
        table: The item or user table.
        ids: Raw ids (text) in the order of the rows wanted.

    Returns:
        A ``scipy.sparse.csr_matrix`` of ``len(ids)`` rows (float32).
    """
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    position = pd.Index(table.ids).get_indexer(pd.Index(ids).astype(str))
    rows = np.flatnonzero(position >= 0)
    blocks = []
    for column in table.schema.used():
        values = _clean(table.frame[column.name])
        if column.kind == "text":
            text = values.fillna("").astype(str).to_numpy()
            try:
                block = TfidfVectorizer(sublinear_tf=True, min_df=2).fit_transform(text)
            except ValueError:  # no word occurs twice: the column says nothing shared
                continue
        else:
            tokens = _tokens(values, column)
            block = _one_hot(tokens, len(values))
        blocks.append(normalize(block.tocsr().astype(np.float32)))
    width = sum(b.shape[1] for b in blocks)
    out = sp.csr_matrix((len(position), width), dtype=np.float32)
    if blocks and len(rows):
        stacked = sp.hstack(blocks, format="csr")
        picker = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, position[rows])),
                               shape=(len(position), stacked.shape[0]))
        out = (picker @ stacked).tocsr()
    return out


def _tokens(values: pd.Series, column: FeatureColumn) -> pd.Series:
    """Each row's values as a list of tokens (categorical, multi, numeric bins)."""
    if column.kind == "multi":
        separator = column.stats.get("separator", "|")
        return values.str.split(separator, regex=False).map(
            lambda parts: [p.strip() for p in parts if p.strip()]
            if isinstance(parts, list) else [])
    if column.kind == "numeric":
        numbers = (date_days(values) if column.stats.get("date")
                   else pd.to_numeric(values.astype(object), errors="coerce"))
        ranked = numbers.rank(pct=True)
        bins = np.minimum((ranked * NUMERIC_BINS).fillna(-1).astype(int), NUMERIC_BINS - 1)
        return pd.Series([[f"bin{b}"] if b >= 0 else [] for b in bins], index=values.index)
    return values.map(lambda v: [v] if isinstance(v, str) else [])


def _one_hot(tokens: pd.Series, n_rows: int) -> Any:
    import scipy.sparse as sp

    exploded = tokens.explode().dropna()
    codes, _ = pd.factorize(exploded)
    rows = exploded.index.to_numpy(dtype=np.int64)  # the table's rows are numbered 0..n-1
    data = np.ones(len(codes), dtype=np.float32)
    width = int(codes.max()) + 1 if len(codes) else 0
    matrix = sp.csr_matrix((data, (rows, codes)), shape=(n_rows, width))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


@dataclass(frozen=True)
class TableColumns:
    """The used attribute columns of a table as raw text, one row per user or item index:
    what the Keras feature encoders read (missing values are empty strings; numeric columns
    are numbers written out, dates as days since 1970)."""

    columns: tuple[FeatureColumn, ...]
    values: dict[str, np.ndarray] = field(repr=False)

    @property
    def n_rows(self) -> int:
        """Number of rows (the catalogue's items, or the users)."""
        return len(next(iter(self.values.values())))


def table_columns(table: FeatureTable, ids: Any) -> TableColumns | None:
    """The used columns of ``table`` for the raw ``ids`` in order (an id without a row gets
    empty values); ``None`` when no column is used."""
    used = table.schema.used()
    if not used:
        return None
    position = pd.Index(table.ids).get_indexer(pd.Index(ids).astype(str))
    values = {}
    for column in used:
        cleaned = _clean(table.frame[column.name])
        if column.kind == "numeric":
            numbers = (date_days(cleaned) if column.stats.get("date")
                       else pd.to_numeric(cleaned.astype(object), errors="coerce"))
            text = numbers.map(lambda v: "" if pd.isna(v) else repr(float(v)))
        else:
            text = cleaned.astype(object).fillna("")
        column_values = np.asarray(text, dtype=object).astype(str)
        picked = np.where(position >= 0, column_values[np.maximum(position, 0)], "")
        values[str(column.name)] = picked.astype(str)
    return TableColumns(used, values)


# Most tokens an attribute code row keeps (multi values, text words), and the most distinct
# tokens a column's codes keep (most frequent first).
MAX_CODED_TOKENS = 16
MAX_CODED_VALUES = 50_000
# A token is coded when at least this many rows of the table have it (one row's value is an
# id in disguise: it says nothing of any other row).
MIN_CODED_ROWS = 2


@dataclass(frozen=True)
class CodedColumn:
    """One attribute column as integer codes, one row per requested id: what the click and
    rating models and their baselines read of an item or user table.

    Attributes:
        name: The column's name, prefixed by its table (``items.genres``).
        kind: The column's kind (numeric columns are coded by quantile bin, text by word).
        vocabulary: Codes run ``1..vocabulary``; 0 is padding (no value, or an uncoded one).
        codes: ``[rows, width]`` int32, the row's tokens' codes, then 0s.
    """

    name: str
    kind: str
    vocabulary: int
    codes: np.ndarray = field(repr=False)

    @property
    def width(self) -> int:
        return int(self.codes.shape[1])


def coded_vocabulary(tokens: pd.Series) -> list[Any]:
    """The tokens that get a code, most frequent first (ties by their text): those in at least
    ``MIN_CODED_ROWS`` rows (``tokens``: a list of tokens a row), at most ``MAX_CODED_VALUES``
    of them."""
    exploded = tokens.explode().dropna()
    pairs = pd.DataFrame({"row": exploded.index, "token": exploded.to_numpy()})
    rows_with = pairs.drop_duplicates()["token"].value_counts(sort=False)
    kept = rows_with[rows_with >= MIN_CODED_ROWS]
    kept = kept.iloc[np.lexsort((kept.index.astype(str), -kept.to_numpy()))]
    return list(kept.index[:MAX_CODED_VALUES])


def attribute_codes(table: FeatureTable, ids: Any) -> tuple[CodedColumn, ...]:
    """The used columns of ``table`` as :class:`CodedColumn` s for the raw ``ids`` in order (an
    id without a row gets no codes). Tokens are the values (categorical), the pieces (multi),
    the quantile bin (numeric, dates) or the lower-case words (text) of a row; the codes are
    fitted on the table's own rows, which hold no label. Columns left without a coded token
    are dropped."""
    position = pd.Index(table.ids).get_indexer(pd.Index(ids).astype(str))
    out = []
    for column in table.schema.used():
        values = _clean(table.frame[column.name])
        if column.kind == "text":
            tokens = values.fillna("").str.lower().str.findall(r"\w+").map(
                lambda words: list(dict.fromkeys(words)))
        else:
            tokens = _tokens(values, column)
        vocabulary = coded_vocabulary(tokens)
        if not vocabulary:
            continue
        lookup = {token: code for code, token in enumerate(vocabulary, start=1)}
        coded = [[lookup[t] for t in row if t in lookup][:MAX_CODED_TOKENS] for row in tokens]
        width = max(1, max(len(row) for row in coded))
        table_codes = np.zeros((len(coded) + 1, width), dtype=np.int32)  # last row: no row
        for index, row in enumerate(coded):
            table_codes[index, :len(row)] = row
        picked = table_codes[np.where(position >= 0, position, len(coded))]
        out.append(CodedColumn(f"{table.schema.role}.{column.name}", column.kind, len(lookup),
                               picked))
    return tuple(out)


# Quantile bins of a numeric context column (edges from the training rows).
CONTEXT_BINS = 10
# What a number is, in the models' coding and in the serving graph alike.
NUMBER_PATTERN = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"


def context_schema(rows: pd.DataFrame, source: str, has_header: bool = True
                   ) -> TableSchema | None:
    """The kinds of a log's context columns (``context:<name>`` columns of its rows, positives
    and negatives together), as a schema of role ``context`` (``None`` without any). Free text
    and dates in a log's rows are not read (the order column carries the time)."""
    columns = context_columns(rows)
    if not columns:
        return None
    typed = []
    for name in columns:
        column = infer_column(rows[name], name[len(CONTEXT_PREFIX):])
        if column.kind == "text":
            column = replace(column, kind="ignored",
                             reason=f"free text ({column.reason}); a row's context is read as "
                                    "categories, value lists or numbers")
        elif column.kind == "numeric" and column.stats.get("date"):
            column = replace(column, kind="ignored",
                             reason="dates; the log's order column carries the time")
        elif column.kind == "numeric":
            column = replace(column, reason=f"numbers, read in {CONTEXT_BINS} quantile bins")
        typed.append(column)
    return TableSchema("context", source, "-", len(rows), tuple(typed), (), has_header)


@dataclass(frozen=True)
class ContextCoder:
    """How one context column's raw values become codes ``1..vocabulary`` (0: no value, or one
    the training rows did not have often enough): fitted on the training rows, applied to any
    rows here and repeated by the serving graph in TensorFlow ops.

    Attributes:
        name: The column's name in the log.
        kind: ``categorical`` (one value), ``multi`` (values joined by ``separator``) or
            ``numeric`` (the quantile bin of a number: code ``1 + bucket`` by ``edges``).
        tokens: The coded values, code ``k + 1`` for ``tokens[k]`` (categorical, multi).
        separator: The separator of a multi-valued column.
        edges: The bin edges of a numeric column.
        width: Codes a row holds (1, or up to ``MAX_CODED_TOKENS`` for multi).
    """

    name: str
    kind: str
    tokens: tuple[str, ...] = ()
    separator: str = "|"
    edges: tuple[float, ...] = ()
    width: int = 1

    @property
    def vocabulary(self) -> int:
        return len(self.edges) + 1 if self.kind == "numeric" else len(self.tokens)

    @classmethod
    def fit(cls, values: pd.Series, column: FeatureColumn) -> ContextCoder | None:
        """The coder of a used column from its training rows' values (``None`` when no value
        is seen in at least ``MIN_CODED_ROWS`` rows)."""
        if column.kind == "numeric":
            numbers = context_numbers(values)
            numbers = numbers[np.isfinite(numbers)]
            if not len(numbers):
                return None
            edges = np.unique(np.quantile(numbers, np.arange(1, CONTEXT_BINS) / CONTEXT_BINS))
            return cls(column.name, "numeric", edges=tuple(float(e) for e in edges))
        separator = str(column.stats.get("separator", "|"))
        tokens = cls(column.name, column.kind, separator=separator).pieces(values)
        vocabulary = coded_vocabulary(tokens.reset_index(drop=True))
        if not vocabulary:
            return None
        width = 1 if column.kind != "multi" else int(min(MAX_CODED_TOKENS, max(
            1, tokens.map(len).max())))
        return cls(column.name, column.kind, tuple(map(str, vocabulary)), separator,
                   width=width)

    def pieces(self, values: pd.Series) -> pd.Series:
        """Each row's values, stripped (one for categorical, the pieces for multi)."""
        text = as_text(values).fillna("").astype(str).str.strip()
        if self.kind == "multi":
            return text.map(lambda v: [p.strip() for p in v.split(self.separator)
                                       if p.strip()])
        return text.map(lambda v: [v] if v else [])

    def codes(self, values: pd.Series) -> np.ndarray:
        """``[rows, width]`` int32 codes of raw values."""
        if self.kind == "numeric":
            numbers = context_numbers(values)
            known = np.isfinite(numbers)
            bins = np.searchsorted(np.asarray(self.edges), np.where(known, numbers, 0.0),
                                   side="right")
            return np.where(known, bins + 1, 0).astype(np.int32)[:, None]
        lookup = {token: code for code, token in enumerate(self.tokens, start=1)}
        out = np.zeros((len(values), self.width), dtype=np.int32)
        for index, row in enumerate(self.pieces(values)):
            coded = [lookup[t] for t in row if t in lookup][:self.width]
            out[index, :len(coded)] = coded
        return out


def context_numbers(values: pd.Series) -> np.ndarray:
    """A numeric context column's values as floats (NaN where a value is not a plain number,
    ``NUMBER_PATTERN``)."""
    text = as_text(values).fillna("").astype(str).str.strip()
    plain = text.str.fullmatch(NUMBER_PATTERN, flags=re.ASCII).fillna(False).to_numpy(
        dtype=bool)
    numbers = np.full(len(text), np.nan)
    numbers[plain] = text[plain].astype(float).to_numpy()
    return numbers


def context_input_names(coders: tuple[ContextCoder, ...] | list[ContextCoder]) -> list[str]:
    """The exported ``predict`` signature's input of each context column: ``context_`` and the
    column's name in lower case, each character other than a letter, digit or ``_`` written
    ``_`` (with a ``_`` more where two names would meet)."""
    names: list[str] = []
    for coder in coders:
        name = "context_" + re.sub(r"[^a-z0-9_]", "_", coder.name.lower())
        while name in names:
            name += "_"
        names.append(name)
    return names
