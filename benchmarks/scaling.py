"""Time and peak memory of each step, from reading a log to one training epoch, as logs grow.

Run from the repository root:

    python benchmarks/scaling.py [--sizes 1M,5M,20M] [--out DIR] [--families mlp,lstm]
        [--max-epoch-seconds 600]

For each size a seeded synthetic log (``benchmarks/synthetic_log.py``: Zipf item popularity,
lognormal history lengths, about one user per 100 rows and one item per 250) is written as CSV,
then one process reads it through the data steps (load, validate, profile, split) and saves the
split, and one process per model family builds the family's default model on the training stage,
evaluates it on the validation hold-out (full ranking, NDCG@10) and trains one epoch. Each step's
peak memory is the process's resident high-water mark during that step (Linux:
``/proc/self/clear_refs`` resets it, ``VmHWM`` reads it), so steps and families do not mix.

An epoch that would take longer than ``--max-epoch-seconds`` is not run to its end: after a
warm-up its steps are timed and the full epoch is extrapolated from them. Likewise an evaluation
that would take longer than ``--max-eval-seconds`` is extrapolated from its first 2,048 users.
Such cells are marked ``est.`` in the table and ``estimate`` in the CSV; ``steps`` in the CSV is
the number of batches of the epoch, or of users evaluated.

Outputs in ``--out``: ``scaling.md`` (the printed table), ``scaling.csv`` and ``scaling.svg``
(log-log seconds against rows, one line per step). Sizes measured by an earlier run into the same
``--out`` (read back from its ``scaling.csv``) stay in the outputs unless measured again, so
sizes can be run one at a time.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic_log import parse_rows

DATA_STAGES = ("load", "validate", "profile", "split")
# An estimated epoch: warm-up (tracing, the input pipeline filling its buffers), then timing.
WARMUP_STEPS, WARMUP_SECONDS = 5, 15.0
TIMED_STEPS, TIMED_SECONDS = 40, 30.0
EVAL_SAMPLE_USERS = 2048
SPLIT_FILE = "split.npz"
PROFILE_FILE = "profile.json"
HERE = Path(__file__).resolve()


# --------------------------------------------------------------------------------------------
# memory


def reset_peak() -> None:
    """Reset the process's resident high-water mark to its current size (Linux)."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def peak_gib() -> float:
    """The process's resident high-water mark since the last reset, in GiB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    raise RuntimeError("VmHWM is not reported by this system")


def measured(step: str, action: Any, results: list[dict[str, Any]]) -> Any:
    """Run ``action()``; append its seconds and peak memory under ``step``; return its value."""
    reset_peak()
    started = time.perf_counter()
    value = action()
    results.append({"step": step, "seconds": time.perf_counter() - started,
                    "peak_gib": peak_gib(), "estimate": False})
    return value


# --------------------------------------------------------------------------------------------
# worker processes (each prints one JSON line of results)


def data_worker(log: Path, work: Path) -> list[dict[str, Any]]:
    """Load, validate, profile and split ``log``; save the split and the profile in ``work``."""
    from automl_rec.data.loading import load_interactions
    from automl_rec.data.profiling import profile_interactions
    from automl_rec.data.splitting import split_interactions
    from automl_rec.data.validation import validate_interactions

    results: list[dict[str, Any]] = []
    loaded = measured("load", partial(load_interactions, log), results)
    data = measured("validate", partial(validate_interactions, loaded), results)
    del loaded
    profile = measured("profile", partial(profile_interactions, data), results)
    split = measured("split", partial(split_interactions, data), results)
    np.savez(work / SPLIT_FILE, users=split.users, items=split.items, folds=split.folds,
             user_ids=split.user_ids.ids.astype(str), item_ids=split.item_ids.ids.astype(str),
             protocol=split.protocol, exclude_seen=split.exclude_seen)
    (work / PROFILE_FILE).write_text(profile.to_json())
    return results


def saved_split(work: Path) -> tuple[Any, Any]:
    """The split and profile a data worker saved."""
    from automl_rec.data.profiling import DataProfile
    from automl_rec.data.splitting import IdEncoder, Split

    saved = np.load(work / SPLIT_FILE)
    split = Split(str(saved["protocol"]), IdEncoder(saved["user_ids"].astype(object)),
                  IdEncoder(saved["item_ids"].astype(object)), saved["users"], saved["items"],
                  saved["folds"], bool(saved["exclude_seen"]))
    profile = DataProfile.from_dict(json.loads((work / PROFILE_FILE).read_text()))
    return split, profile


def family_worker(family: str, work: Path, max_epoch_seconds: float, max_eval_seconds: float,
                  seed: int) -> list[dict[str, Any]]:
    """Build ``family``'s default model, time a full evaluation and one epoch."""
    from automl_rec.models import default_space, family_module

    split, profile = saved_split(work)
    module = family_module(family)
    reason = module.unsupported_reason(profile)
    if reason is not None:
        return [{"step": f"{family} skipped", "reason": reason}]
    params = module.adapt_space(default_space(family), profile).defaults()
    results: list[dict[str, Any]] = []
    train = split.stage("train")
    model = measured(f"{family} build", lambda: module.build(params, train, seed), results)
    # Evaluation first: an untrained model ranks as slowly as a trained one, and an epoch
    # that is only estimated ends this process.
    results.append(timed_evaluation(model, split, family, max_eval_seconds))
    results.append(timed_epoch(model, family, max_epoch_seconds))
    return results


def timed_evaluation(model: Any, split: Any, family: str,
                     max_eval_seconds: float) -> dict[str, Any]:
    """Seconds of a full evaluation on the validation hold-out, or an honest extrapolation.

    ``EVAL_SAMPLE_USERS`` users are evaluated first (after a one-batch warm-up); if all users at
    that pace would take longer than ``max_eval_seconds`` the extrapolation is the result,
    otherwise every user is evaluated and timed.
    """
    from automl_rec.data.splitting import Holdout
    from automl_rec.evaluation import evaluate_holdout

    valid = split.holdout("valid")

    def evaluate(count: int) -> None:
        part = Holdout(valid.users[:count], valid.targets[:count], valid.history)
        evaluate_holdout(model.score, part, exclude_seen=split.exclude_seen, k=10)

    reset_peak()
    evaluate(64)
    started = time.perf_counter()
    sample = min(EVAL_SAMPLE_USERS, len(valid.users))
    evaluate(sample)
    seconds = time.perf_counter() - started
    if sample == len(valid.users):
        return {"step": f"{family} eval", "seconds": seconds, "peak_gib": peak_gib(),
                "estimate": False, "steps": sample}
    projected = seconds * len(valid.users) / max(sample, 1)
    if projected > max_eval_seconds:
        return {"step": f"{family} eval", "seconds": projected, "peak_gib": peak_gib(),
                "estimate": True, "steps": len(valid.users)}
    started = time.perf_counter()
    evaluate(len(valid.users))
    return {"step": f"{family} eval", "seconds": time.perf_counter() - started,
            "peak_gib": peak_gib(), "estimate": False, "steps": len(valid.users)}


def timed_epoch(model: Any, family: str, max_epoch_seconds: float) -> dict[str, Any]:
    """Seconds of one epoch, or an honest extrapolation where it would exceed the limit.

    A watcher thread follows the model's step counter: after a warm-up (graph tracing, and the
    input pipeline's prefetch buffers filling, which would make the first steps look fast) it
    times at least ``TIMED_STEPS`` steps and ``TIMED_SECONDS``; if the warm-up time plus the
    remaining steps at that pace exceeds ``max_epoch_seconds``, the estimate is the result.
    """
    total = math.ceil(len(model.examples()[0]) / model.batch_size)
    first_step = model.steps
    estimate: dict[str, Any] = {}
    done = threading.Event()

    def watch() -> None:
        warm: tuple[int, float] | None = None
        while not done.wait(0.05):
            taken, now = model.steps - first_step, time.perf_counter()
            if warm is None:
                if taken >= WARMUP_STEPS and now - started >= WARMUP_SECONDS:
                    warm = (taken, now)
                continue
            timed = taken - warm[0]
            if timed >= TIMED_STEPS and now - warm[1] >= TIMED_SECONDS:
                projected = warm[1] - started + (total - warm[0]) * (now - warm[1]) / timed
                if projected > max_epoch_seconds:
                    estimate.update(seconds=projected, peak_gib=peak_gib(), steps=total,
                                    timed_steps=timed)
                    done.set()
                return

    failure: list[Exception] = []

    def train() -> None:
        try:
            model.fit_epoch()
        except Exception as error:  # reported, never timed as if the epoch had finished
            failure.append(error)

    reset_peak()
    started = time.perf_counter()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    worker = threading.Thread(target=train, daemon=True)
    worker.start()
    while worker.is_alive() and not (done.is_set() and estimate):
        worker.join(0.2)
    if estimate:
        return {"step": f"{family} epoch", "estimate": True, **estimate}
    done.set()
    if failure:
        error = failure[0]
        return {"step": f"{family} epoch failed", "reason": f"{type(error).__name__}: {error}"}
    return {"step": f"{family} epoch", "seconds": time.perf_counter() - started,
            "peak_gib": peak_gib(), "estimate": False, "steps": total}


def run_worker(args: list[str]) -> list[dict[str, Any]]:
    """Run this file as a worker process and return the results it printed."""
    process = subprocess.run([sys.executable, str(HERE), *args], capture_output=True, text=True,
                             check=False)
    lines = [line for line in process.stdout.splitlines() if line.startswith("RESULT ")]
    if process.returncode != 0 or not lines:
        tail = (process.stderr or process.stdout).strip().splitlines()[-5:]
        return [{"step": f"{args[1]} failed", "reason": " | ".join(tail)}]
    return json.loads(lines[-1][len("RESULT "):])


# --------------------------------------------------------------------------------------------
# the driver


def size_label(rows: int) -> str:
    """``20M`` for 20,000,000, ``500k`` for 500,000."""
    for unit, scale in (("M", 1_000_000), ("k", 1_000)):
        if rows >= scale and rows % (scale // 10) == 0:
            return f"{rows / scale:g}{unit}"
    return str(rows)


def measure_size(rows: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """All rows of the table for one log size."""
    label = size_label(rows)
    work = args.out / label
    work.mkdir(parents=True, exist_ok=True)
    log = work / f"log_{label}.csv"
    if not log.exists():
        subprocess.run([sys.executable, str(HERE.parent / "synthetic_log.py"), "--rows",
                        str(rows), "--out", str(log), "--seed", str(args.seed)], check=True)
    results = run_worker(["data", str(log), str(work)])
    if any(result["step"].endswith("failed") for result in results):
        return [{"size": label, "rows": rows, **result} for result in results]
    for family in args.families:
        print(f"  {label}: {family}...", flush=True)
        results += run_worker(["family", family, str(work), str(args.max_epoch_seconds),
                               str(args.max_eval_seconds), str(args.seed)])
    return [{"size": label, "rows": rows, **result} for result in results]


def markdown(rows: list[dict[str, Any]]) -> str:
    """The results as a markdown table (estimated cells marked ``est.``)."""
    lines = ["| size | step | seconds | peak GiB | rows/s |", "|---|---|---:|---:|---:|"]
    for row in rows:
        if "seconds" not in row:
            lines.append(f"| {row['size']} | {row['step']} | {row.get('reason', '')} | | |")
            continue
        mark = "est. " if row["estimate"] else ""
        rate = row["rows"] / row["seconds"] if row["seconds"] > 0 else float("inf")
        seconds = f"{row['seconds']:.2f}" if row["seconds"] < 10 else f"{row['seconds']:.1f}"
        lines.append(f"| {row['size']} | {row['step']} | {mark}{seconds} | "
                     f"{row['peak_gib']:.2f} | {mark}{rate:,.0f} |")
    return "\n".join(lines)


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """One line per size and step: seconds, peak GiB, rows/s, whether estimated, or why not."""
    fields = ["size", "rows", "step", "seconds", "peak_gib", "rows_per_second", "estimate",
              "steps", "reason"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            rate = row["rows"] / row["seconds"] if row.get("seconds") else None
            writer.writerow({**row, "rows_per_second": rate})


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows an earlier run wrote with :func:`write_csv` (none if there is no such file)."""
    if not path.exists():
        return []
    rows = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            kept: dict[str, Any] = {"size": row["size"], "rows": int(row["rows"]),
                                    "step": row["step"]}
            if row["seconds"]:
                kept.update(seconds=float(row["seconds"]), peak_gib=float(row["peak_gib"]),
                            estimate=row["estimate"] == "True")
            if row["steps"]:
                kept["steps"] = int(row["steps"])
            if row["reason"]:
                kept["reason"] = row["reason"]
            rows.append(kept)
    return rows


def write_svg(rows: list[dict[str, Any]], path: Path) -> None:
    """Log-log seconds against rows: data steps on top, model families below."""
    from automl_rec.report.charts import HEIGHT, WIDTH, line_chart

    def series(steps: list[str]) -> dict[str, tuple[list[float], list[float]]]:
        out = {}
        for step in steps:
            points = [r for r in rows if r["step"] == step and "seconds" in r]
            if points:
                estimated = [r["size"] for r in points if r["estimate"]]
                name = step + (f" (est. at {', '.join(estimated)})" if estimated else "")
                out[name] = ([float(r["rows"]) for r in points], [r["seconds"] for r in points])
        return out

    model_steps = sorted({r["step"] for r in rows if r["step"].endswith((" epoch", " eval"))})
    charts = [line_chart(series(list(DATA_STAGES)), title="Data steps", x_label="rows",
                         y_label="seconds", log_x=True, log_y=True, markers=False),
              line_chart(series(model_steps), title="Model families (one epoch, full evaluation)",
                         x_label="rows", y_label="seconds", log_x=True, log_y=True)]
    style = (".axis{stroke:#444}.grid{stroke:#e4e4e4}.tick,.legend{font:10px sans-serif}"
             ".chart-title{font:bold 12px sans-serif}.axis-label{font:11px sans-serif}")
    body = "".join(f'<g transform="translate(0,{index * HEIGHT})">{chart}</g>'
                   for index, chart in enumerate(charts))
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
                    f'height="{HEIGHT * len(charts)}"><style>{style}</style>'
                    f'<rect width="100%" height="100%" fill="white"/>{body}</svg>\n')


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["data"]:
        print("RESULT " + json.dumps(data_worker(Path(argv[1]), Path(argv[2]))), flush=True)
        return 0
    if argv[:1] == ["family"]:
        results = family_worker(argv[1], Path(argv[2]), float(argv[3]), float(argv[4]),
                                int(argv[5]))
        print("RESULT " + json.dumps(results), flush=True)
        os._exit(0)  # an estimated epoch may still be running in its thread
    from automl_rec.models import FAMILIES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1M,5M,20M",
                        help="comma-separated log sizes (default 1M,5M,20M)")
    default_out = Path(tempfile.gettempdir()) / "automl_rec_scaling"
    parser.add_argument("--out", type=Path, default=default_out,
                        help=f"directory of the logs and results (default {default_out})")
    parser.add_argument("--families", default=",".join(FAMILIES),
                        help="comma-separated families, or 'none' for the data steps only")
    parser.add_argument("--max-epoch-seconds", type=float, default=600.0,
                        help="longest epoch run to its end; longer ones are extrapolated")
    parser.add_argument("--max-eval-seconds", type=float, default=600.0,
                        help="longest full evaluation run to its end; longer ones are "
                             "extrapolated from the first users")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.families = [] if args.families == "none" else args.families.split(",")
    args.out.mkdir(parents=True, exist_ok=True)
    sizes = [parse_rows(size) for size in args.sizes.split(",")]
    rows = [row for row in read_csv(args.out / "scaling.csv") if row["rows"] not in sizes]
    for size in sizes:
        print(f"{size_label(size)}: data steps...", flush=True)
        rows = sorted(rows + measure_size(size, args), key=lambda row: row["rows"])
        table = markdown(rows)
        (args.out / "scaling.md").write_text(table + "\n")
        write_csv(rows, args.out / "scaling.csv")
        write_svg(rows, args.out / "scaling.svg")
    print(table)
    print(f"\nwritten: {args.out / 'scaling.md'}, {args.out / 'scaling.csv'}, "
          f"{args.out / 'scaling.svg'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
