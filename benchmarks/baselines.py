"""Baselines on the shared real data sets, temporal leave-last-out, full ranking, exclude seen.

Run from the repository root:

    python benchmarks/baselines.py

Prints one table per data set: each baseline's tuned parameter, validation and test NDCG@10,
HR@10 and MRR@10, coverage, and seconds (grid search on validation, refit, test).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from automl_rec import AutoRecommender

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DATA_SETS = {
    "ml-100k": DATA / "ml-100k" / "u.data",
    "amazon-musical-instruments": DATA / "amazon-musical-instruments-5core"
    / "Musical_Instruments_5.csv",
}


def main() -> int:
    console = Console(width=140)
    for name, path in DATA_SETS.items():
        if not path.exists():
            console.print(f"{name}: {path} not found, skipped")
            continue
        started = time.perf_counter()
        model = AutoRecommender(families=["baselines"]).fit(path)
        seconds = time.perf_counter() - started
        profile = model.profile_
        table = Table(title=f"{name}: {profile.n_users} users, {profile.n_items} items, "
                            f"{profile.n_interactions} interactions; {model.split_.protocol}, "
                            f"full ranking, exclude seen={model.split_.exclude_seen}; "
                            f"{seconds:.1f} s in all", title_justify="left")
        columns = ["model", "params", "valid ndcg@10", "test ndcg@10", "test hr@10",
                   "test mrr@10", "test coverage@10", "seconds"]
        for column in columns:
            table.add_column(column, justify="left" if column in ("model", "params") else "right")
        for result in model.results_:
            table.add_row(result.model, str(result.params) if result.params else "-",
                          f"{result.valid['ndcg@10']:.4f}", f"{result.test['ndcg@10']:.4f}",
                          f"{result.test['hr@10']:.4f}", f"{result.test['mrr@10']:.4f}",
                          f"{result.test['coverage@10']:.3f}", f"{result.seconds:.2f}")
        console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
