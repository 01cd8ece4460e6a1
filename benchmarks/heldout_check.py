"""Does the exported model do, on interactions it never saw, what the tool's test split said?

Run from the repository root:

    python benchmarks/heldout_check.py [--time-budget 5m] [--families all]

It holds out each MovieLens 100K user's last interaction (by time; ties broken by the tool's own
seeded hash of the pair, so that the held-out item is the one the tool would call the latest),
runs ``automl-rec fit`` on the rest, then loads the exported SavedModel with TensorFlow and
pandas only (the package picks the held-out rows, never scores them) and measures HR@10 and
NDCG@10 of the held-out items. The tool's own test metrics (reported in ``metadata.json``) are
printed beside them with a binomial standard error, so that "agrees within noise" can be read
off.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k" / "u.data"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--time-budget", default="5m")
    parser.add_argument("--families", default="all")
    parser.add_argument("--keep", type=Path, help="also copy the run directory here")
    args = parser.parse_args()
    log = pd.read_csv(args.data, sep="\t", header=None, names=["user", "item", "rating", "time"],
                      dtype={"user": str, "item": str})
    log["row"] = np.arange(len(log))
    # The latest interaction as the tool sees it: ties in time (half of MovieLens 100K's
    # interactions tie within a user) broken by the tool's seeded hash of the (user, item) pair.
    from automl_rec.data.splitting import pair_hash

    users = pd.factorize(log["user"], sort=True)[0]
    items, catalogue = pd.factorize(log["item"], sort=True)
    noise = pair_hash(users, items, len(catalogue), 0)
    order = np.lexsort((log["row"].to_numpy(), items, noise, log["time"].to_numpy(), users))
    last = log.iloc[order].groupby("user").tail(1)
    rest = log.drop(index=last.index).sort_values("row")
    with tempfile.TemporaryDirectory() as folder:
        train, run = Path(folder) / "train.tsv", Path(folder) / "run"
        rest[["user", "item", "rating", "time"]].to_csv(train, sep="\t", header=False,
                                                        index=False)
        subprocess.run([sys.executable, "-m", "automl_rec.cli", "fit", str(train),
                        "--time-budget", args.time_budget, "--families", args.families,
                        "-o", str(run), "--quiet"], check=True)
        metadata = json.loads((run / "metadata.json").read_text())
        if args.keep:
            shutil.copytree(run, args.keep, dirs_exist_ok=True)
        model = tf.saved_model.load(str(run / "model"))
        served = model.signatures["serving_default"](user_id=tf.constant(last["user"].tolist()))
    lists = [[i.decode() for i in row] for row in served["item_ids"].numpy()]
    positions = [row.index(item) if item in row else -1
                 for row, item in zip(lists, last["item"])]
    hits = np.array([p >= 0 for p in positions], dtype=float)
    ndcg = np.array([1 / math.log2(p + 2) if p >= 0 else 0.0 for p in positions])
    k = metadata["serving"]["k"]
    reported = metadata["test_metrics"]
    n = len(hits)
    error = math.sqrt(reported[f"hr@{k}"] * (1 - reported[f"hr@{k}"]) / n)
    winner = metadata["winner"]
    print(f"model: {winner['family']}/{winner['model']} {winner['params']}")
    print(f"held-out users: {n}")
    print(f"{'':28}{'hr@' + str(k):>10}{'ndcg@' + str(k):>10}")
    print(f"{'exported model, held out':28}{hits.mean():>10.4f}{ndcg.mean():>10.4f}")
    print(f"{'tool test split (reported)':28}{reported[f'hr@{k}']:>10.4f}"
          f"{reported[f'ndcg@{k}']:>10.4f}")
    print(f"binomial standard error of hr@{k}: {error:.4f}; difference "
          f"{hits.mean() - reported[f'hr@{k}']:+.4f} ({(hits.mean() - reported[f'hr@{k}']) / error:+.1f}"
          " standard errors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
