"""The search of the pointwise tasks on MovieLens 100K, against their baselines: click
prediction (label: rating >= 4) and rating prediction, global temporal split of the rows.

Run from the repository root:

    python benchmarks/pointwise_search.py --minutes 10 --task ctr

Prints a table per task: each baseline and each family's best trial, with its design,
epochs, validation and test figures and seconds, and the paired bootstrap interval of the best
candidate on validation against the best baseline on the test rows. The designs read ids and
the user's history only (item and user tables are not used by them yet).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from automl_rec.data.feedback import read_positives
from automl_rec.data.profiling import profile_interactions
from automl_rec.evaluation.pointwise import paired_row_bootstrap
from automl_rec.leaderboard import COMPLETE
from automl_rec.models import FAMILIES
from automl_rec.tasks import CTR, OBJECTIVES, RATING
from automl_rec.tasks.rows import split_rows, task_rows
from automl_rec.tuning.budget import Budget
from automl_rec.tuning.candidates import SearchConfig, evaluate_candidates
from automl_rec.tuning.trial import TrialSettings

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k" / "u.data"
POSITIVE = {CTR: "rating>=4", RATING: None}


def run(task: str, minutes: float, console: Console) -> None:
    started = time.monotonic()
    data = read_positives(DATA, {}, positive=POSITIVE[task])
    split = split_rows(task_rows(data, task), task, has_order=True, seed=0)
    settings = TrialSettings(max_epochs=30, patience=3, task=task)
    config = SearchConfig(families=["baselines", *FAMILIES], settings=settings,
                          budget=Budget.starting(started, minutes * 60), seed=0)
    results = evaluate_candidates(split, profile_interactions(data), config)
    seconds = time.monotonic() - started
    figures = ["auc", "logloss", "gauc", "ece"] if task == CTR else ["rmse", "mae"]
    objective = settings.objective
    table = Table(title=f"ml-100k, task {task} ({OBJECTIVES[task][0]} selects), "
                        f"{len(split.labels):,} rows, {split.protocol}, budget {minutes:g} min, "
                        f"{seconds:.0f} s in all")
    for column in ["candidate", "design", "trials", "epochs", f"valid {figures[0]}",
                   *[f"test {f}" for f in figures], "seconds"]:
        table.add_column(column, justify="left" if column in ("candidate", "design")
                         else "right")
    best_of: dict[str, object] = {}
    for result in results:
        if result.status != COMPLETE or not result.test:
            continue
        name = result.model if result.family == "baselines" else result.family
        best_of[name] = result
        trials = sum(1 for r in results if r.family == result.family
                     and result.family != "baselines")
        table.add_row(name, str(result.params.get("design", "-")), str(trials or "-"),
                      str(result.epochs or "-"), f"{result.valid[figures[0]]:.4f}",
                      *[f"{result.test[f]:.4f}" for f in figures], f"{result.seconds:.0f}")
    for result in results:
        if result.status != COMPLETE and result.family != "baselines" and result.reason \
                and result.family not in best_of:
            table.add_row(result.family, "-", "-", "-", "-", *["-"] * len(figures), result.reason)
    console.print(table)
    tested = [r for r in results if r.test_result is not None and r.status == COMPLETE]
    winner = max(tested, key=lambda r: objective.score(r.valid))
    baselines = [r for r in tested if r.family == "baselines" and r is not winner]
    reference = max(baselines, key=lambda r: objective.score(r.test))
    interval = paired_row_bootstrap(task, winner.test_result, reference.test_result, seed=0)
    console.print(f"selected on validation: {winner.family} {winner.params.get('design', '')}"
                  f" {winner.model}; test {figures[0]} minus the best baseline's "
                  f"({reference.model}): {interval.difference:+.4f} "
                  f"[{interval.low:+.4f}, {interval.high:+.4f}] (95%, paired bootstrap of the "
                  f"{len(split.fold(2).labels):,} test rows)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--task", choices=[CTR, RATING, "both"], default="both")
    args = parser.parse_args()
    console = Console(width=160)
    if not DATA.exists():
        console.print(f"{DATA} not found")
        return 1
    for task in ([CTR, RATING] if args.task == "both" else [args.task]):
        run(task, args.minutes, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
