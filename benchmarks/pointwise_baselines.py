"""The pointwise tasks' baselines on MovieLens 100K: click prediction (label: rating >= 4) and
rating prediction, each under the global temporal split and a random split of the rows.

Run from the repository root:

    python benchmarks/pointwise_baselines.py

Prints one table per task: each baseline's tuned parameters, validation and test figures (AUC,
logloss, GAUC and expected calibration error; RMSE and MAE) and seconds. The split moves these
figures a lot (published MovieLens-1M click figures: AUC about 0.78 by time, 0.90 at random), so
both are shown.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from automl_rec.data.feedback import read_positives
from automl_rec.models.pointwise_baselines import baselines_of
from automl_rec.tasks import CTR, OBJECTIVES, RATING
from automl_rec.tasks.rows import split_rows, task_rows
from automl_rec.tuning.baselines import run_pointwise_baseline

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k" / "u.data"
TASKS = {CTR: "rating>=4", RATING: None}


def main() -> int:
    console = Console(width=150)
    if not DATA.exists():
        console.print(f"{DATA} not found")
        return 1
    for task, positive in TASKS.items():
        rows = task_rows(read_positives(DATA, {}, positive=positive), task)
        figures = ["auc", "logloss", "gauc", "ece"] if task == CTR else ["rmse", "mae"]
        table = Table(title=f"ml-100k, task {task} ({OBJECTIVES[task][0]} selects), "
                            f"{len(rows):,} rows" + (f", label {positive}" if positive else ""))
        for column in ["split", "baseline", "params", *[f"valid {f}" for f in figures],
                       *[f"test {f}" for f in figures], "seconds"]:
            table.add_column(column, justify="left" if column in ("split", "baseline", "params")
                             else "right")
        for has_order in (True, False):
            split = split_rows(rows, task, has_order=has_order, seed=0)
            for baseline in baselines_of(task):
                started = time.perf_counter()
                result = run_pointwise_baseline(baseline, split)
                table.add_row(split.protocol, baseline.name, str(result.params),
                              *[f"{result.valid[f]:.4f}" for f in figures],
                              *[f"{result.test[f]:.4f}" for f in figures],
                              f"{time.perf_counter() - started:.1f}")
        console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
