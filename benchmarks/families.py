"""Every family against the baselines on the shared real data sets, under a fixed time budget.

Run from the repository root (each data set takes about the budget; 20 minutes by default):

    python benchmarks/families.py [--time-budget 20m] [--only ml-100k|amazon]

For each data set (temporal leave-last-out, full ranking, exclude seen) it prints, per family,
the best trial on validation with its test NDCG@10 / HR@10 (refit on train + validation), its
training seconds per epoch, and the number of trials, beside popularity, ItemKNN and tuned EASE;
then the selected model and its ratio to EASE.
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
from automl_rec.leaderboard import COMPLETE

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DATA_SETS = {
    "ml-100k": DATA / "ml-100k" / "u.data",
    "amazon": DATA / "amazon-musical-instruments-5core" / "Musical_Instruments_5.csv",
}


def run(name: str, path: Path, budget: str, seed: int, console: Console) -> None:
    with tempfile.TemporaryDirectory() as directory:
        started = time.monotonic()
        model = AutoRecommender(time_budget=budget, seed=seed, output_dir=directory,
                                progress=True).fit(path)
        seconds = time.monotonic() - started
    k = model.top_k
    table = Table(title=f"{name}: all families, budget {budget}, seed {seed}; wall time "
                        f"{seconds:.0f} s", title_justify="left")
    for column in ("family", "best design", "trials", "failed", "valid ndcg@10",
                   "test ndcg@10", "test hr@10", "s/epoch", "best epoch"):
        table.add_column(column, justify="left" if column in ("family", "best design") else
                         "right")
    families: dict[str, list] = {}
    for result in model.results_:
        families.setdefault(result.family, []).append(result)
    for family, results in families.items():
        complete = [r for r in results if r.status == COMPLETE]
        if family == "baselines":
            for r in results:
                table.add_row("baseline", r.model, "-", "-", f"{r.valid[f'ndcg@{k}']:.4f}",
                              f"{r.test[f'ndcg@{k}']:.4f}", f"{r.test[f'hr@{k}']:.4f}", "-", "-")
            continue
        if not complete:
            reason = results[0].reason if results else ""
            table.add_row(family, reason or "no trial", str(len(results)),
                          str(len(results) - len(complete)), "-", "-", "-", "-", "-")
            continue
        best = max(complete, key=lambda r: r.valid[f"ndcg@{k}"])
        table.add_row(family, best.model, str(len(results)), str(sum(
            r.status == "failed" for r in results)), f"{best.valid[f'ndcg@{k}']:.4f}",
            f"{best.test[f'ndcg@{k}']:.4f}", f"{best.test[f'hr@{k}']:.4f}",
            f"{best.epoch_seconds:.1f}", str(best.epochs))
    console.print(table)
    ease = next(r for r in model.results_ if r.model == "ease").test[f"ndcg@{k}"]
    winner = model.test_metrics_[f"ndcg@{k}"]
    comparison = model.comparison_ or {}
    console.print(
        f"selected: {model.best_family_}/{model.best_model_name_}, test ndcg@10 {winner:.4f} = "
        f"{winner / ease:.2f} x EASE ({ease:.4f}); difference to {comparison.get('reference')}: "
        f"{comparison.get('difference', float('nan')):+.4f} (95% CI "
        f"{comparison.get('low', float('nan')):+.4f} to {comparison.get('high', float('nan')):+.4f})")
    console.print(f"peak memory so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"
                  " MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-budget", default="20m")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=sorted(DATA_SETS))
    args = parser.parse_args()
    console = Console(width=150)
    for name, path in DATA_SETS.items():
        if args.only and name != args.only:
            continue
        run(name, path, args.time_budget, args.seed, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
