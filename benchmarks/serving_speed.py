"""How fast the exported SavedModel answers, on a catalogue of MovieLens-1M size.

Run from the repository root:

    python benchmarks/serving_speed.py [--families attention,baselines]

It fits each requested family for one short trial on a seeded synthetic log of MovieLens-1M size
(6,040 users, 3,706 items, about a million interactions), exports it, loads the SavedModel with
``tf.saved_model.load`` and times ``serving_default`` for one user (median of 200 calls) and for
a batch of 1,000 users (median of 10 calls), on the CPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from automl_rec import AutoRecommender
from automl_rec.datasets import make_interactions


def timed(call, repeats: int) -> float:  # type: ignore[no-untyped-def]
    call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="baselines,mlp,cnn,autoencoder,lstm,attention")
    args = parser.parse_args()
    import tensorflow as tf

    frame = make_interactions(n_users=6040, n_items=3706, mean_history=165.0, seed=0)
    users = frame["customer_id"].unique()
    rng = np.random.default_rng(0)
    table = Table(title=f"serving_default on CPU: {len(users):,} users, "
                        f"{frame['sku'].nunique():,} items, {len(frame):,} interactions",
                  title_justify="left")
    for column in ("family", "model", "1 user (ms)", "1,000 users (ms)", "users / s"):
        table.add_column(column)
    for family in args.families.split(","):
        with tempfile.TemporaryDirectory() as run:
            model = AutoRecommender(families=[family], max_trials=1, max_epochs=1,
                                    output_dir=run).fit(frame)
            serve = tf.saved_model.load(f"{run}/model").signatures["serving_default"]
            one = tf.constant([str(users[0])])
            batch = tf.constant([str(u) for u in rng.choice(users, 1000, replace=False)])
            single = timed(lambda: serve(user_id=one), 200)
            thousand = timed(lambda: serve(user_id=batch), 10)
            table.add_row(family, model.best_model_name_, f"{single * 1000:.1f}",
                          f"{thousand * 1000:.0f}", f"{1000 / thousand:,.0f}")
    Console(width=120).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
