"""Seconds per epoch of each family's default model, and full-ranking evaluation time.

Run from the repository root:

    python benchmarks/epoch_and_eval_speed.py [--data PATH] [--synthetic-users 6040]

On the given interaction file (default: MovieLens 100K) it trains each design's default
configuration for two epochs and prints the training seconds per epoch and the time to score
and rank every item for every validation user. With ``--synthetic-users N`` it also does the
same on a seeded synthetic log of MovieLens-1M size (6,040 users, 3,706 items, about a million
interactions), to show that evaluation of all users takes seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from automl_rec.data.loading import load_interactions
from automl_rec.data.profiling import profile_interactions
from automl_rec.data.splitting import split_interactions
from automl_rec.data.validation import validate_interactions
from automl_rec.datasets import make_interactions
from automl_rec.evaluation import evaluate_holdout
from automl_rec.models import FAMILIES, default_space, family_module
from automl_rec.models.baselines import EASE

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k" / "u.data"


def measure(name: str, source: Path | pd.DataFrame, families: list[str],
            console: Console) -> None:
    from automl_rec.models.keras_base import free_memory, seed_everything

    data = validate_interactions(load_interactions(source))
    profile = profile_interactions(data)
    split = split_interactions(data)
    valid = split.holdout("valid")
    table = Table(title=f"{name}: {profile.n_users:,} users, {profile.n_items:,} items, "
                        f"{profile.n_interactions:,} interactions; evaluation = all "
                        f"{len(valid.users):,} validation users x all items",
                  title_justify="left")
    for column in ("model", "s/epoch (train)", "evaluation s", "valid ndcg@10 after 2 epochs"):
        table.add_column(column)
    started = time.perf_counter()
    ease = EASE(l2=300.0).fit(split.stage("train"))
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    metrics = evaluate_holdout(ease.score, valid, exclude_seen=split.exclude_seen).metrics()
    table.add_row("baselines/ease", f"fit {fit_seconds:.1f}", f"{time.perf_counter() - started:.2f}",
                  f"{metrics['ndcg@10']:.4f}")
    for family in families:
        module = family_module(family)
        if module.unsupported_reason(profile):
            continue
        space = module.adapt_space(default_space(family), profile)
        for design in space["design"].choices:
            params = space.completed({"design": design})
            seed_everything(0)
            model = module.build(params, split.stage("train"), 0)
            epochs = []
            for _ in range(2):
                started = time.perf_counter()
                model.fit_epoch()
                epochs.append(time.perf_counter() - started)
            started = time.perf_counter()
            metrics = evaluate_holdout(model.score, valid,
                                       exclude_seen=split.exclude_seen).metrics()
            table.add_row(f"{family}/{design}", f"{min(epochs):.1f}",
                          f"{time.perf_counter() - started:.2f}", f"{metrics['ndcg@10']:.4f}")
            del model
            free_memory()
    console.print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--synthetic-users", type=int, default=0)
    parser.add_argument("--families", default=",".join(FAMILIES))
    args = parser.parse_args()
    families = args.families.split(",")
    console = Console(width=140)
    measure(args.data.name, args.data, families, console)
    if args.synthetic_users:
        frame = make_interactions(n_users=args.synthetic_users, n_items=3706,
                                  mean_history=165.0, seed=0)
        measure("synthetic ML-1M-sized log", frame, families, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
