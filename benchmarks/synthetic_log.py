"""A seeded generator of large interaction logs shaped like real ones, for scaling runs.

Run from the repository root:

    python benchmarks/synthetic_log.py --rows 20M --out log_20m.csv [--seed 0]
        [--format csv|parquet] [--ids int|text]

The log has the columns ``user,item,rating,timestamp``. Item popularity follows a power law
(Zipf-like, exponent about 1), user history lengths are lognormal (most users have a few dozen
interactions, a few have thousands), each user's timestamps increase, and ratings are whole
numbers from 1 to 5 skewed towards 4. Users and items grow with the size: about one user per
100 rows and one item per 250 rows, so 20M rows give 200k users and 80k items. Rows are written
in time order, as a real log is. Everything is vectorised; 20M rows take well under a minute and
a couple of GiB of memory.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

ROWS_PER_USER = 100
ROWS_PER_ITEM = 250
ZIPF_EXPONENT = 1.0
HISTORY_SIGMA = 1.4
START = 1_500_000_000  # 2017-07-14, in Unix seconds
RATING_SHARES = np.array([0.06, 0.11, 0.26, 0.35, 0.22])


def parse_rows(text: str) -> int:
    """Read a row count such as ``20M``, ``500k`` or ``1000000``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a row count: {text!r} (use e.g. 1M, 500k, 2000)")
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def history_lengths(rng: np.random.Generator, n_rows: int, n_users: int) -> np.ndarray:
    """Lognormal history lengths, each at least 1, summing exactly to ``n_rows``."""
    weights = rng.lognormal(0.0, HISTORY_SIGMA, n_users)
    share = weights / weights.sum() * (n_rows - n_users)
    lengths = np.floor(share).astype(np.int64) + 1
    short = n_rows - int(lengths.sum())
    lengths[np.argsort(share - np.floor(share))[::-1][:short]] += 1
    return lengths


def item_draws(rng: np.random.Generator, n_rows: int, n_items: int) -> np.ndarray:
    """Item of each row, by Zipf-like popularity; popular items get scattered ids."""
    popularity = 1.0 / np.arange(1, n_items + 1) ** ZIPF_EXPONENT
    ranks = np.searchsorted(np.cumsum(popularity / popularity.sum()), rng.random(n_rows),
                            side="right")
    return rng.permutation(n_items)[np.minimum(ranks, n_items - 1)]


def generate(n_rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Return the columns of a log of ``n_rows`` interactions, rows in time order."""
    rng = np.random.default_rng(seed)
    n_users = max(2, n_rows // ROWS_PER_USER)
    n_items = max(2, n_rows // ROWS_PER_ITEM)
    lengths = history_lengths(rng, n_rows, n_users)
    users = np.repeat(rng.permutation(n_users), lengths)
    # Gaps of a second to about two days; each user starts somewhere in the first year.
    gaps = 1.0 + rng.exponential(3600.0, n_rows) * (rng.random(n_rows) < 0.9) \
        + rng.exponential(86400.0, n_rows) * (rng.random(n_rows) < 0.1)
    elapsed = np.cumsum(gaps)
    first = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    offset = np.repeat(elapsed[first] - gaps[first], lengths)
    starts = np.repeat(rng.uniform(0, 365 * 86400.0, n_users), lengths)
    times = (START + starts + (elapsed - offset)).astype(np.int64)
    del gaps, elapsed, offset, starts
    order = np.argsort(times, kind="stable")
    return {
        "user": users[order],
        "item": item_draws(rng, n_rows, n_items)[order],
        "rating": (rng.choice(5, n_rows, p=RATING_SHARES) + 1).astype(np.int8)[order],
        "timestamp": times[order],
    }


def to_table(columns: dict[str, np.ndarray], ids: str) -> pa.Table:
    """The log as an Arrow table, ids as integers or as short text (``u123``, ``i45``)."""
    arrays = {}
    for name, values in columns.items():
        array = pa.array(values)
        if ids == "text" and name in ("user", "item"):
            prefix = pa.scalar(name[0])
            array = pc.binary_join_element_wise(prefix, array.cast(pa.string()), "")
        arrays[name] = array
    return pa.table(arrays)


def write(table: pa.Table, out: Path, fmt: str) -> None:
    """Write the table as CSV (header, no quoting) or Parquet."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        pq.write_table(table, out)
    else:
        with out.open("wb") as handle:
            handle.write((",".join(table.column_names) + "\n").encode())
            pa_csv.write_csv(table, handle, pa_csv.WriteOptions(include_header=False,
                                                                quoting_style="none"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=parse_rows, default=parse_rows("1M"),
                        help="number of interactions, e.g. 1M, 5M, 20M (default 1M)")
    parser.add_argument("--out", type=Path, required=True, help="file to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--ids", choices=("int", "text"), default="int",
                        help="integer ids, or short text ids like u123 and i45")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    table = to_table(generate(args.rows, args.seed), args.ids)
    write(table, args.out, args.format)
    print(f"wrote {table.num_rows:,} rows ({pc.count_distinct(table['user']).as_py():,} users, "
          f"{pc.count_distinct(table['item']).as_py():,} items) to {args.out} in "
          f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
