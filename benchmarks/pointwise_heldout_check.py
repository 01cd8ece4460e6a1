"""Does an exported click or rating model do, on later rows it never saw, what the tool's test
split said? The pointwise tasks' counterpart of ``heldout_check.py``.

Run from the repository root:

    python benchmarks/pointwise_heldout_check.py --task rating --time-budget 10m
    python benchmarks/pointwise_heldout_check.py --task ctr --time-budget 15m
    python benchmarks/pointwise_heldout_check.py --task rating --keep DIR   # keep the run
    python benchmarks/pointwise_heldout_check.py --task rating --run DIR    # check it again

It holds out the latest 10% of MovieLens 100K's rows by time (file order among equal times),
runs ``automl-rec fit`` on the rest in a subprocess (``ctr``: label ``rating >= 4``), then loads
the exported SavedModel with TensorFlow and calls its ``predict_with_recent`` signature on the
held-out rows' raw ids, each row with the user's earlier held-out rows as its recent rows (the
items with their labels: the ratings, or whether each was clicked), as the tool's test figures
assume; the plain ``predict`` signature (the histories of the fitted data only) is scored
beside it. This process never imports automl-rec: the held-out figures are computed with numpy
and scipy from what the SavedModel returns. Printed beside it: the tool's own test figures (the
latest 10% of the rows it was given) with a bootstrap standard error of the held-out figure,
and the tool's comparison of the winner with the best baseline.

The tool's test rows and the held-out rows are two successive periods, and a log's periods
differ (new users, a changed catalogue): the bootstrap error covers the sampling of the rows,
not that shift. So a plain reference written here with numpy (ratings: the mean with shrunk
user and item biases; clicks: the shrunk user and item click rates) is scored on both periods
the same way (fitted on the rows before each), and the check reads the exported model's gap
beside the reference's. One shift is printed on its own: the share of rows whose user the model
has learnt from (users join over time), with the held-out figure reweighted to the tool's test
period's share. For a model that reads the user's history the reference does too: each
user's bias is the shrunk mean of the user's residuals over every row before the row (the
period's earlier rows included), since a period's shift is not the same for a predictor that
knows the user's latest rows.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k" / "u.data"
HELD_OUT_SHARE = 0.1


def auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The area under the ROC curve; with ``weights``, each positive-negative pair counts by
    the product of its rows' weights (ties count half)."""
    weights = np.ones(len(labels)) if weights is None else weights
    positive = labels > 0.5
    frame = pd.DataFrame({"score": scores, "pos": np.where(positive, weights, 0.0),
                          "neg": np.where(positive, 0.0, weights)})
    groups = frame.groupby("score", sort=True)[["pos", "neg"]].sum()
    below = groups["neg"].cumsum() - groups["neg"]
    pairs = (groups["pos"] * (below + 0.5 * groups["neg"])).sum()
    return float(pairs / (groups["pos"].sum() * groups["neg"].sum()))


def rmse(labels: np.ndarray, predictions: np.ndarray, weights: np.ndarray | None = None
         ) -> float:
    return float(np.sqrt(np.average((predictions - labels) ** 2, weights=weights)))


def known_user_weights(rows: pd.DataFrame, seen: pd.DataFrame, share: float) -> np.ndarray:
    """Weights that give the rows whose user has a row in ``seen`` the share ``share`` (and the
    others the rest), as the tool's test period had them."""
    known = rows["user"].isin(seen["user"]).to_numpy()
    own = known.mean()
    return np.where(known, share / own, (1 - share) / (1 - own))


# Pseudo-rows that shrink a user's or an item's bias (or click rate) towards the mean.
SHRINK = 10.0


def labels_of(task: str, rows: pd.DataFrame) -> np.ndarray:
    ratings = rows["rating"].to_numpy(float)
    return (ratings >= 4).astype(float) if task == "ctr" else ratings


def biases(task: str, train: pd.DataFrame) -> tuple[float, pd.Series, pd.Series]:
    """The mean label with shrunk user and item biases (ratings: alternating updates; clicks:
    the shrunk click rates' gaps to the mean)."""
    labels = labels_of(task, train)
    mean = labels.mean()
    residual = labels - mean
    user_bias: pd.Series = pd.Series(0.0, index=pd.unique(train["user"]))
    item_bias: pd.Series = pd.Series(0.0, index=pd.unique(train["item"]))
    for _ in range(1 if task == "ctr" else 10):
        item_part = residual - user_bias.reindex(train["user"]).to_numpy() * (task != "ctr")
        groups = pd.Series(item_part).groupby(train["item"].to_numpy())
        item_bias = groups.sum() / (groups.count() + SHRINK)
        user_part = residual - item_bias.reindex(train["item"]).to_numpy() * (task != "ctr")
        groups = pd.Series(user_part).groupby(train["user"].to_numpy())
        user_bias = groups.sum() / (groups.count() + SHRINK)
    return mean, user_bias, item_bias


def combined(task: str, mean: float, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    if task == "ctr":
        def odds(p: np.ndarray) -> np.ndarray:
            p = np.clip(p, 1e-4, 1 - 1e-4)
            return np.log(p / (1 - p))
        return odds(mean + users) + odds(mean + items)
    return mean + users + items


def reference(task: str, train: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """The plain reference's prediction of ``rows`` from the rows before them (``train``):
    ratings: mean + shrunk user and item biases; clicks: the sum of the user's and the item's
    shrunk click log-odds."""
    mean, user_bias, item_bias = biases(task, train)
    return combined(task, mean, user_bias.reindex(rows["user"]).fillna(0.0).to_numpy(),
                    item_bias.reindex(rows["item"]).fillna(0.0).to_numpy())


def reference_recent(task: str, train: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """The reference as a history design reads a row: the item biases fitted on ``train``,
    each user's bias from all of the user's rows before the row (``train``'s and the earlier
    of ``rows``, in time order), so that a user new in the period has one too."""
    mean, _, item_bias = biases(task, train)
    both = pd.concat([train, rows], ignore_index=True)
    residual = labels_of(task, both) - mean - (
        0.0 if task == "ctr" else item_bias.reindex(both["item"]).fillna(0.0).to_numpy())
    by_user = pd.Series(residual).groupby(both["user"].to_numpy())
    earlier_sum = by_user.cumsum().to_numpy() - residual
    earlier_count = by_user.cumcount().to_numpy()
    users = (earlier_sum / (earlier_count + SHRINK))[len(train):]
    return combined(task, mean, users, item_bias.reindex(rows["item"]).fillna(0.0).to_numpy())


def recent_inputs(task: str, rows: pd.DataFrame) -> dict[str, tf.Tensor]:
    """Each row's recent rows (rows in time order): the user's earlier rows among ``rows``,
    oldest first, padded in front with empty ids, with their labels (the ratings; for clicks,
    1 for a click and 0 for an exposure without one)."""
    labels = labels_of(task, rows)
    earlier: dict[str, list[tuple[str, float]]] = {}
    recent = []
    for user, item, label in zip(rows["user"], rows["item"], labels):
        recent.append(list(earlier.get(user, [])))
        earlier.setdefault(user, []).append((item, float(label)))
    width = max((len(r) for r in recent), default=0)
    padded = [[("", 0.0)] * (width - len(r)) + r for r in recent]
    return {"recent_item_ids": tf.constant(
                np.array([[i for i, _ in r] for r in padded], np.str_).reshape(len(rows), width)),
            "recent_labels" if task == "ctr" else "recent_ratings": tf.constant(
                np.array([[v for _, v in r] for r in padded], np.float32).reshape(len(rows),
                                                                                  width))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--task", choices=["ctr", "rating"], default="rating")
    parser.add_argument("--time-budget", default="5m")
    parser.add_argument("--families", default="all")
    parser.add_argument("--keep", type=Path, help="also copy the run directory here")
    parser.add_argument("--run", type=Path,
                        help="check a run directory kept before (--keep) instead of fitting")
    args = parser.parse_args()
    log = pd.read_csv(args.data, sep="\t", header=None, names=["user", "item", "rating", "time"],
                      dtype={"user": str, "item": str})
    log = log.iloc[np.argsort(log["time"].to_numpy(), kind="stable")]
    cut = len(log) - int(np.ceil(len(log) * HELD_OUT_SHARE))
    rest, held_out = log.iloc[:cut], log.iloc[cut:]
    extra = ["--positive", "rating>=4"] if args.task == "ctr" else []
    with tempfile.TemporaryDirectory() as folder:
        train, run = Path(folder) / "train.tsv", args.run or Path(folder) / "run"
        if args.run is None:
            rest.to_csv(train, sep="\t", header=False, index=False)
            subprocess.run([sys.executable, "-m", "automl_rec.cli", "fit", str(train),
                            "--task", args.task, *extra, "--time-budget", args.time_budget,
                            "--families", args.families, "-o", str(run), "--quiet"],
                           check=True)
        metadata = json.loads((run / "metadata.json").read_text())
        if args.keep:
            shutil.copytree(run, args.keep, dirs_exist_ok=True)
        model = tf.saved_model.load(str(run / "model"))
        rows = {"user_id": tf.constant(held_out["user"].tolist()),
                "item_id": tf.constant(held_out["item"].tolist())}
        stored = model.signatures["predict"](**rows)["prediction"].numpy().astype(np.float64)
        out = model.signatures["predict_with_recent"](**rows, **recent_inputs(args.task,
                                                                              held_out))
    predictions = out["prediction"].numpy().astype(np.float64)
    figure, name = (auc, "auc") if args.task == "ctr" else (rmse, "rmse")
    labels = labels_of(args.task, held_out)
    value = figure(labels, predictions)
    value_stored = figure(labels, stored)
    # The reference on the tool's test period (the latest 10% of the rows it was given, fitted
    # on those before) and on the held-out period (fitted on every row the tool was given); for
    # a model that reads the user's history, the reference with the user's rows up to each row.
    reads_history = bool((metadata["serving"].get("predict_with_recent") or {}).get(
        "history_length"))
    predict_reference = reference_recent if reads_history else reference
    cut_test = len(rest) - int(np.ceil(len(rest) * 0.1))
    test_rows = rest.iloc[cut_test:]
    reference_test = figure(labels_of(args.task, test_rows),
                            predict_reference(args.task, rest.iloc[:cut_test], test_rows))
    reference_held = figure(labels, predict_reference(args.task, rest, held_out))
    rng = np.random.default_rng(0)
    # The share of rows whose user the model has learnt from moves between periods (users
    # join over time), and a model that learns one vector per user does better on them: the
    # held-out rows reweighted to the tool's test period's share.
    share = test_rows["user"].isin(rest.iloc[:cut_test]["user"]).mean()
    weights = known_user_weights(held_out, rest, share)
    value_weighted = figure(labels, predictions, weights)
    draws = [rng.integers(0, len(labels), len(labels)) for _ in range(200)]
    resampled = [figure(labels[index], predictions[index]) for index in draws]
    error = float(np.std(resampled, ddof=1))
    error_weighted = float(np.std([figure(labels[index], predictions[index], weights[index])
                                   for index in draws], ddof=1))
    reported = metadata["test_metrics"][name]
    exported = metadata.get("exported") or {}
    print(f"selected: {metadata['winner']['family']}/{metadata['winner']['model']}; exported: "
          f"{exported.get('name')}{' (' + exported['note'] + ')' if exported.get('note') else ''}")
    print(f"protocol: {metadata['protocol']['name']}, rows {metadata['protocol']['rows']}")
    print(f"{'':36}{name:>10}")
    print(f"{'predict_with_recent, held-out rows':36}{value:>10.4f}   ({len(labels):,} rows, "
          f"bootstrap standard error {error:.4f})")
    print(f"{'exported predict, no recent rows':36}{value_stored:>10.4f}   (the fit's histories "
          "only)")
    print(f"{'tool test split (reported)':36}{reported:>10.4f}")
    print(f"difference {value - reported:+.4f} ({(value - reported) / error:+.1f} standard "
          "errors)")
    known_held = held_out["user"].isin(rest["user"]).mean()
    print(f"{'predict_with_recent, reweighted':36}{value_weighted:>10.4f}   (rows of users the "
          f"model knows: {known_held:.1%} held out, {share:.1%} in the tool's test; bootstrap "
          f"standard error {error_weighted:.4f})")
    print(f"difference reweighted {value_weighted - reported:+.4f} "
          f"({(value_weighted - reported) / error_weighted:+.1f} standard errors)")
    shift = reference_held - reference_test
    kind = "with each user's rows up to the row" if reads_history else "fitted before the period"
    print(f"reference ({kind}):")
    print(f"{'reference, tool test period':36}{reference_test:>10.4f}")
    print(f"{'reference, held-out period':36}{reference_held:>10.4f}   (the periods' shift "
          f"{shift:+.4f})")
    print(f"difference beyond the shift {value - reported - shift:+.4f} "
          f"({(value - reported - shift) / error:+.1f} standard errors)")
    comparison = metadata.get("comparison") or {}
    for gap in comparison.get("gaps", []):
        print(f"tool: winner minus {gap['name']} ({gap['against']}): {gap['difference']:+.4f} "
              f"[{gap['low']:+.4f}, {gap['high']:+.4f}] (95%, paired, test rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
