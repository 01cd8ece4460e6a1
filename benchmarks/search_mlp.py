"""The search engine on MovieLens 100K: mlp family against the baselines under a time budget.

Run from the repository root (about as long as the budget):

    python benchmarks/search_mlp.py [--time-budget 10m] [--data PATH]

Prints the best trial of the mlp family and each baseline (validation and test NDCG@10 / HR@10,
temporal leave-last-out, full ranking, exclude seen), the number of trials, the wall time against
the budget, the peak memory, and the ratio of the selected mlp model's test NDCG@10 to EASE's.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from automl_rec import AutoRecommender
from automl_rec.tuning.budget import parse_duration

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k" / "u.data"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-budget", default="10m")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    console = Console(width=150)
    with tempfile.TemporaryDirectory() as run:
        started = time.monotonic()
        model = AutoRecommender(families=["mlp", "baselines"], time_budget=args.time_budget,
                                seed=args.seed, output_dir=run, progress=True).fit(args.data)
        seconds = time.monotonic() - started
    budget = parse_duration(args.time_budget)
    results = model.results_
    trials = [r for r in results if r.family == "mlp"]
    table = Table(title=f"{args.data.name}: mlp + baselines, budget {args.time_budget}; "
                        f"{len(trials)} mlp trials", title_justify="left")
    for column in ("candidate", "params", "valid ndcg@10", "test ndcg@10", "test hr@10",
                   "best epoch", "seconds"):
        table.add_column(column)
    tested = [r for r in results if r.test]
    for result in sorted(tested, key=lambda r: r.test["ndcg@10"], reverse=True):
        table.add_row(f"{result.family}/{result.model}", str(result.params),
                      f"{result.valid['ndcg@10']:.4f}", f"{result.test['ndcg@10']:.4f}",
                      f"{result.test['hr@10']:.4f}", str(result.epochs or "-"),
                      f"{result.seconds:.0f}")
    console.print(table)
    ease = next(r for r in results if r.model == "ease").test["ndcg@10"]
    best_mlp = next((r for r in tested if r.family == "mlp"), None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console.print(f"wall time {seconds:.0f} s for a budget of {budget:.0f} s "
                  f"({seconds / budget:.1%}); peak memory {peak:.0f} MiB")
    if best_mlp is not None:
        console.print(f"selected mlp test ndcg@10 {best_mlp.test['ndcg@10']:.4f} = "
                      f"{best_mlp.test['ndcg@10'] / ease:.2f} x EASE ({ease:.4f})")
    console.print(f"winner: {model.best_family_}/{model.best_model_name_}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
