"""The baselines' metrics must not depend on the order of the rows of a file.

Run from the repository root:

    python benchmarks/row_order.py [--seeds 2]

Fits the baselines on MovieLens 100K as the file has it and on the same rows shuffled (seeded),
and prints each baseline's validation and test NDCG@10, HR@10 and MRR@10 side by side, with the
largest absolute difference. With ties broken by sorted ids, every difference is 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from automl_rec import AutoRecommender

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k" / "u.data"
COLUMNS = ["user", "item", "rating", "timestamp"]


def baseline_metrics(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Validation and test metrics of each baseline fitted on ``frame``."""
    model = AutoRecommender(families=["baselines"]).fit(frame)
    return {r.model: {**{f"valid {k}": v for k, v in r.valid.items()},
                      **{f"test {k}": v for k, v in r.test.items()}} for r in model.results_}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2, help="shuffles to compare (default 2)")
    parser.add_argument("--data", default=str(DATA), help="a tab-separated u.data file")
    args = parser.parse_args()
    frame = pd.read_csv(args.data, sep="\t", names=COLUMNS, dtype=str)
    reference = baseline_metrics(frame)
    keys = ["valid ndcg@10", "test ndcg@10", "test hr@10", "test mrr@10"]
    table = Table(title=f"{Path(args.data).name}: file order vs shuffled rows",
                  title_justify="left")
    table.add_column("rows")
    table.add_column("model")
    for key in keys:
        table.add_column(key, justify="right")
    for name, metrics in reference.items():
        table.add_row("file order", name, *(f"{metrics[k]:.6f}" for k in keys))
    worst = 0.0
    for seed in range(args.seeds):
        shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        for name, metrics in baseline_metrics(shuffled).items():
            table.add_row(f"shuffle {seed}", name, *(f"{metrics[k]:.6f}" for k in keys))
            worst = max(worst, *(abs(metrics[k] - reference[name][k]) for k in keys))
    Console(width=120).print(table)
    print(f"largest absolute difference to the file order: {worst:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
