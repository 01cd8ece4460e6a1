"""Where a trial's time goes: each family's default model, broken down epoch by epoch.

Run from the repository root:

    python benchmarks/profile_training.py [--data PATH ...] [--synthetic-rows 1000000]
        [--families baselines,mlp,cnn,...] [--designs default|next-item|all] [--epochs 3]
        [--max-steps 50] [--output FILE.json]

For each data set (by default the shared Amazon Beauty log, whose ``position`` column orders each
user's history, and a seeded synthetic log of about ``--synthetic-rows`` interactions with
MovieLens-1M's 6,040 users and 3,706 items; ``--synthetic-rows 0`` leaves it out) the data is
loaded, validated, split and profiled as a fit does it, and each design of each family is built
with its default values from the family's shipped space, adapted to the training profile (by
default each family's default design and the other next-item sequence designs, i.e. BERT4Rec;
``--designs all`` adds NeuMF, Caser, Mult-DAE and CDAE). Each model trains ``--epochs`` epochs
(at least two) and the script reports, per epoch:

- build seconds, and the first-epoch overhead: epoch 1 minus the median of the later epochs
  (tracing the step and the pipeline's functions, first allocations);
- s/epoch: the median of the later epochs, as a trial sees them;
- input pipeline: one pass over the same ``tf.data`` pipeline ``fit_epoch`` builds (fresh
  examples, shuffle, batch, ``batch_inputs``, prefetch) without running the training step;
- forward/backward: the steady-state step alone, over the epoch's batches materialised first;
- evaluation: the per-epoch validation scoring a trial does (full ranking of the seeded sample
  of validation users, NDCG@10);
- FLOPs of one training step, counted by TensorFlow's profiler on the graph of the step traced
  on one full batch. Where a matrix product has a size known only at run time (the positions
  that have a target, after ``boolean_mask``) its FLOPs come from the run-time shapes of a few
  probe steps; the body of a recurrent ``while`` loop, which the profiler does not see, is
  estimated analytically from the cell's matrix products (the ``method`` column says which);
- achieved GFLOP/s = FLOPs per step x steps / forward-backward seconds, and its ratio to the
  dense float32 ``tf.matmul`` throughput measured in the same run (2048 x 2048, best of a few).

It also times the reference baselines as a search runs them (``run_baseline``: the whole grid on
validation, the refit on train + validation and the test evaluation), with the seconds of each
grid point; for EASE the first point includes the work the grid shares.

Whole epochs of these models take from seconds to minutes on two CPU cores, so by default
(``--max-steps 50``) every epoch trains, and each part is timed, on its first 50 batches, and
each per-epoch figure is extrapolated to the whole epoch (marked ``~``); the first-epoch overhead
stays an absolute figure. ``--max-steps 0`` runs and times whole epochs (``fit_epoch`` itself).
The figures are only as steady as the machine: run it on an otherwise idle machine. ``--output``
also writes every figure as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from automl_rec.api import prepare
from automl_rec.datasets import make_interactions
from automl_rec.evaluation import evaluate_holdout, sample_holdout
from automl_rec.leaderboard import COMPLETE
from automl_rec.models import (
    BASELINES,
    FAMILIES,
    default_space,
    family_module,
    resolve_families,
)
from automl_rec.models.baselines import EASE, ItemKNN, Popularity
from automl_rec.tuning.baselines import run_baseline

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_DATA = [DATA / "amazon-beauty-s3rec" / "interactions.csv"]
# The synthetic log has MovieLens-1M's shape.
SYNTHETIC_USERS, SYNTHETIC_ITEMS = 6040, 3706
MATMUL_SIZE = 2048
# Matrix products whose FLOPs the profiler leaves out when a size is unknown before run time.
MATMUL_OPS = ("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
PROBE_BATCHES = 8
# Whole epochs of the default models take up to a minute or two each on two CPU cores, so by
# default each epoch is timed on its first batches (the step is steady long before).
DEFAULT_MAX_STEPS = 50
K = 10


# --------------------------------------------------------------------------- machine


def matmul_throughput(n: int = MATMUL_SIZE, repeats: int = 10) -> float:
    """Best float32 ``tf.matmul`` FLOP/s of two n x n matrices (2 n^3 FLOPs), after warming up."""
    import tensorflow as tf

    a = tf.random.stateless_normal([n, n], seed=[1, 2])
    b = tf.random.stateless_normal([n, n], seed=[3, 4])
    float(tf.matmul(a, b)[0, 0])
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        float(tf.reduce_sum(tf.matmul(a, b)[:1, :1]))
        best = min(best, time.perf_counter() - started)
    return 2.0 * n ** 3 / best


# --------------------------------------------------------------------------- pipeline


def epoch_dataset(model: Any, rng: np.random.Generator) -> tuple[Any, int, float]:
    """The pipeline ``fit_epoch`` builds for one epoch (fresh examples, shuffled with ``rng``),
    the number of examples, and the seconds spent drawing the examples and building it."""
    started = time.perf_counter()
    dataset, examples = model.epoch_dataset(rng)
    return dataset, examples, time.perf_counter() - started


def train_epoch(model: Any, max_steps: int) -> tuple[float, float, float, int]:
    """One training epoch: ``fit_epoch`` itself, or (with ``max_steps``) the same loop over its
    first ``max_steps`` batches. Returns the seconds spent drawing the examples and building
    the pipeline (0 for ``fit_epoch``, where they are part of the next figure), the seconds of
    the batches, the mean loss and the number of examples in the epoch (0 for ``fit_epoch``)."""
    started = time.perf_counter()
    if not max_steps:
        loss = model.fit_epoch()
        return 0.0, time.perf_counter() - started, loss, 0
    dataset, n_examples, setup = epoch_dataset(model, model.rng)
    started = time.perf_counter()
    losses = []
    for batch in dataset.take(max_steps):
        losses.append(model._run_step(batch))
        model.steps += 1
    loss = float(np.mean([float(value) for value in losses])) if losses else float("nan")
    return setup, time.perf_counter() - started, loss, n_examples


# --------------------------------------------------------------------------- FLOPs


@contextlib.contextmanager
def quiet_output() -> Any:
    """Keep the profiler's own printing (also from C++) off the terminal."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)


def _matmul_flops(op: Any, shapes: list[np.ndarray]) -> float:
    """2 x output elements x contracted size, from the run-time shapes of (a, b, output)."""
    a, _, out = shapes
    if op.type == "MatMul":
        inner = a[0] if op.get_attr("transpose_a") else a[1]
    else:
        inner = a[-2] if op.get_attr("adj_x") else a[-1]
    return 2.0 * float(np.prod(out)) * float(inner)


def _rnn_loop_flops(model: Any, batch_size: int) -> tuple[float, str] | None:
    """Forward + backward FLOPs of a GRU4Rec model's recurrent loop (3 x the forward matrix
    products of every time step), which lives in a ``while`` body the profiler does not see."""
    params = model.params
    if "cell" not in params or "units" not in params:
        return None
    units, length = int(params["units"]), int(params["max_length"])
    gates = 3 if params["cell"] == "gru" else 4
    width, total = int(params["embedding_dim"]), 0.0
    for _ in range(int(params["layers"])):
        total += 2.0 * batch_size * gates * units * (width + units) * length
        width = units
    return 3.0 * total, f"{params['cell'].upper()} loop analytic"


def step_flops(model: Any, batches: list[tuple[Any, ...]]) -> dict[str, Any]:
    """FLOPs of one training step on a full batch.

    The step's Python function is traced once more in a probe ``tf.function`` on a full batch;
    TensorFlow's profiler counts the ops of that graph whose shapes are known. Matrix products
    with a size known only at run time are counted from their run-time shapes, averaged over up
    to ``PROBE_BATCHES`` full batches (each probe runs one more training step, so this is done
    once the timings are taken). Recurrent ``while`` bodies are estimated analytically.
    """
    import tensorflow as tf

    full = [b for b in batches if int(b[0].shape[0]) == model.batch_size] or batches[:1]
    unknown: list[Any] = []

    def probe(*batch: Any) -> Any:
        graph = tf.compat.v1.get_default_graph()
        before = len(graph.get_operations())
        loss = model._train_step(*batch)
        shapes = []
        for op in graph.get_operations()[before:]:
            if op.type in MATMUL_OPS and not all(t.shape.is_fully_defined()
                                                 for t in (*op.inputs[:2], op.outputs[0])):
                unknown.append(op)
                shapes.append([tf.shape(op.inputs[0]), tf.shape(op.inputs[1]),
                               tf.shape(op.outputs[0])])
        return loss, shapes

    traced = tf.function(probe)
    concrete = traced.get_concrete_function(*full[0])
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    with quiet_output():
        counted = float(tf.compat.v1.profiler.profile(concrete.graph,
                                                      options=options).total_float_ops)
    methods, code = ["profiler"], "P"
    runtime = 0.0
    if unknown:
        totals = []
        for batch in full[:PROBE_BATCHES]:
            _, shapes = traced(*batch)
            totals.append(sum(_matmul_flops(op, [np.asarray(s) for s in triple])
                              for op, triple in zip(unknown, shapes)))
        runtime = float(np.mean(totals))
        methods.append(f"{len(unknown)} matmuls at run-time shapes")
        code += "+R"
    loops = [op for op in concrete.graph.get_operations()
             if op.type in ("While", "StatelessWhile")]
    analytic = 0.0
    if loops:
        estimate = _rnn_loop_flops(model, model.batch_size)
        if estimate is None:
            methods.append(f"{len(loops)} while loops not counted")
            code += "+?"
        else:
            analytic, label = estimate
            methods.append(label)
            code += "+A"
    return {"flops": counted + runtime + analytic, "profiler_flops": counted,
            "runtime_shape_flops": runtime, "analytic_flops": analytic,
            "method": " + ".join(methods), "code": code}


# --------------------------------------------------------------------------- one model


def profile_model(family: str, design: str, params: dict[str, Any], split: Any, valid: Any,
                  epochs: int, max_steps: int, peak: float,
                  only_next_item: bool = False) -> dict[str, Any] | None:
    """Every figure of one design's default model (see the module docstring); ``None`` when
    ``only_next_item`` and the model is not a next-item sequence model."""
    from automl_rec.models.keras_base import free_memory, seed_everything
    from automl_rec.models.next_item import NextItemModel

    module = family_module(family)
    seed_everything(0)
    started = time.perf_counter()
    model = module.build(params, split.stage("train"), 0)
    build_seconds = time.perf_counter() - started
    if only_next_item and not isinstance(model, NextItemModel):
        del model
        free_memory()
        return None
    epoch_parts, eval_seconds, losses, ndcg = [], [], [], []
    for _ in range(epochs):
        setup, seconds, loss, _ = train_epoch(model, max_steps)
        epoch_parts.append((setup, seconds))
        losses.append(loss)
        started = time.perf_counter()
        metrics = evaluate_holdout(model.score, valid, exclude_seen=split.exclude_seen,
                                   k=K).metrics()
        eval_seconds.append(time.perf_counter() - started)
        ndcg.append(metrics[f"ndcg@{K}"])

    # The input pipeline alone, over a fresh epoch (its own generator: the model's stays put).
    dataset, n_examples, pipeline_setup = epoch_dataset(model, np.random.default_rng(1))
    steps = -(-n_examples // model.batch_size)
    timed_steps = min(steps, max_steps) if max_steps else steps
    scale = steps / timed_steps
    started = time.perf_counter()
    for _ in dataset.take(timed_steps):
        pass
    pipeline_seconds = pipeline_setup + (time.perf_counter() - started) * scale

    # The step alone over materialised batches (already traced during training).
    batches = list(dataset.take(timed_steps))
    timed_examples = sum(int(b[0].shape[0]) for b in batches)
    loss = None
    started = time.perf_counter()
    for batch in batches:
        loss = model._run_step(batch)
    if loss is not None:
        float(loss)
    step_seconds = time.perf_counter() - started
    flops = step_flops(model, batches)
    full_steps = timed_examples / model.batch_size
    achieved = flops["flops"] * full_steps / step_seconds if step_seconds > 0 else float("nan")

    # The epochs as measured (the first --max-steps batches of each, when it is given), and
    # each extrapolated to its whole length (the examples and pipeline are built in full).
    epoch_seconds = [setup + seconds for setup, seconds in epoch_parts]
    whole = [setup + seconds * scale for setup, seconds in epoch_parts]
    steady = statistics.median(epoch_seconds[1:])
    result = {
        "family": family, "design": design, "params": params, "n_params": model.count_params(),
        "batch_size": model.batch_size, "examples_per_epoch": n_examples,
        "steps_per_epoch": steps, "timed_steps_per_epoch": timed_steps,
        "extrapolated": timed_steps < steps,
        "build_seconds": build_seconds, "epoch_seconds_measured": epoch_seconds,
        "first_epoch_overhead_seconds": epoch_seconds[0] - steady + build_seconds,
        # Per-epoch figures, extrapolated to the whole epoch when --max-steps cut it short.
        "epoch_seconds": statistics.median(whole[1:]),
        "pipeline_seconds": pipeline_seconds,
        "example_setup_seconds": pipeline_setup,
        "step_seconds": step_seconds * scale,
        "eval_seconds": statistics.median(eval_seconds),
        "eval_users": len(valid.users),
        "losses": losses, "valid_ndcg": ndcg,
        "flops_per_step": flops["flops"], "flops_detail": flops,
        "achieved_flops": achieved, "matmul_flops": peak,
        "ratio_to_matmul": achieved / peak,
    }
    del model, batches, dataset
    free_memory()
    return result


# --------------------------------------------------------------------------- baselines


def timed_baseline(cls: type) -> tuple[type, list[Any]]:
    """A subclass of a baseline that records, for each instance in order of creation, the
    seconds of its ``fit`` and of its scoring (the evaluation a search runs on it)."""
    made: list[Any] = []

    class Timed(cls):  # type: ignore[misc, valid-type]
        def __init__(self, **params: Any) -> None:
            super().__init__(**params)
            self.make_seconds = 0.0
            self.eval_seconds = 0.0
            made.append(self)

        def fit(self, data: Any) -> Any:
            started = time.perf_counter()
            out = super().fit(data)
            self.make_seconds += time.perf_counter() - started
            return out

        def score(self, users: Any) -> Any:
            started = time.perf_counter()
            out = super().score(users)
            self.eval_seconds += time.perf_counter() - started
            return out

    Timed.__name__ = Timed.__qualname__ = cls.__name__
    return Timed, made


def profile_baselines(split: Any) -> list[dict[str, Any]]:
    """Seconds of each baseline as a search runs it, with the seconds of each grid point."""
    # The stages and hold-outs are built (and cached) once; a search has them ready before the
    # baselines run, so that work is not charged to the first baseline.
    ready = [split.stage(stage).matrix for stage in ("train", "train_valid")]
    ready += [split.holdout(fold).history.matrix for fold in ("valid", "test")]
    del ready
    out = []
    for cls in (Popularity, ItemKNN, EASE):
        timed, made = timed_baseline(cls)
        started = time.perf_counter()
        result = run_baseline(timed, split, k=K)
        total = time.perf_counter() - started
        if result.status != COMPLETE:
            out.append({"baseline": cls.name, "status": result.status, "reason": result.reason,
                        "seconds": total})
            continue
        grid = made[:-1]
        grid_seconds = sum(m.make_seconds + m.eval_seconds for m in grid)
        out.append({
            "baseline": cls.name, "status": result.status, "seconds": total,
            "best_params": result.params,
            "valid_ndcg": result.valid.get(f"ndcg@{K}"), "test_ndcg": result.test.get(f"ndcg@{K}"),
            "grid": [{"params": m.params, "make_seconds": m.make_seconds,
                      "valid_eval_seconds": m.eval_seconds} for m in grid],
            "refit_seconds": made[-1].make_seconds,
            # The rest: the ranking of every evaluation, the refit, the test scoring and the
            # sampling of validation users (only fit and score are timed per grid point).
            "refit_and_test_seconds": total - grid_seconds,
        })
    return out


# --------------------------------------------------------------------------- one data set


def cpu_seconds() -> float:
    """CPU seconds this process has used (user + system, all its threads)."""
    usage = os.times()
    return usage.user + usage.system


def measure(name: str, source: Path | Any, families: list[str], designs_mode: str, epochs: int,
            max_steps: int, peak: float, console: Console) -> dict[str, Any]:
    started = time.perf_counter()
    cpu_started, load_before = cpu_seconds(), os.getloadavg()[0]
    prepared = prepare(source, {}, positive=None, exclude_seen=None, seed=0)
    prepare_seconds = time.perf_counter() - started
    profile, split = prepared.training_profile, prepared.split
    valid = sample_holdout(split.holdout("valid"), seed=split.seed)
    record: dict[str, Any] = {
        "name": name, "n_users": prepared.profile.n_users, "n_items": prepared.profile.n_items,
        "n_interactions": prepared.profile.n_interactions,
        "train_interactions": prepared.training_profile.n_interactions,
        "protocol": split.protocol, "exclude_seen": split.exclude_seen,
        "prepare_seconds": prepare_seconds, "models": [], "skipped": [], "baselines": [],
    }
    console.print(f"[bold]{name}[/bold]: {record['n_users']:,} users, {record['n_items']:,} "
                  f"items, {record['n_interactions']:,} interactions "
                  f"({record['train_interactions']:,} in training), {split.protocol}; "
                  f"prepared in {prepare_seconds:.1f} s")
    for family in families:
        if family == BASELINES:
            continue
        module = family_module(family)
        reason = module.unsupported_reason(profile)
        if reason:
            record["skipped"].append({"family": family, "reason": reason})
            console.print(f"  {family}: skipped ({reason})")
            continue
        space = module.adapt_space(default_space(family), profile)
        has_design = "design" in space.names()
        default = space.defaults()["design"] if has_design else None
        designs = list(space["design"].choices) if has_design else [None]
        if designs_mode == "default":
            designs = [default]
        for design in designs:
            params = space.completed({"design": design} if design else {})
            label = f"{family}/{design or family}"
            console.print(f"  {label} ...", end="")
            try:
                figures = profile_model(family, design or family, params, split, valid, epochs,
                                        max_steps, peak,
                                        only_next_item=designs_mode == "next-item"
                                        and design != default)
            except Exception as error:  # noqa: BLE001 - report it and go on with the others
                console.print(f" failed: {type(error).__name__}: {error}")
                record["skipped"].append({"family": family, "design": design,
                                          "reason": f"{type(error).__name__}: {error}"})
                continue
            if figures is None:
                console.print(" not a next-item model, left out (--designs all includes it)")
                continue
            figures["default_design"] = design == default
            record["models"].append(figures)
            console.print(f" {figures['epoch_seconds']:.1f} s/epoch, "
                          f"{time.perf_counter() - started:.0f} s so far")
    if BASELINES in families:
        console.print("  baselines ...", end="")
        record["baselines"] = profile_baselines(split)
        console.print(" done")
    record["seconds"] = time.perf_counter() - started
    # Other work on the machine skews every figure: the load beyond this process's own CPU use
    # says how much there was.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    record["cpu_share"] = (cpu_seconds() - cpu_started) / record["seconds"] / (cores or 1)
    record["load_average"] = [load_before, os.getloadavg()[0]]
    console.print(f"  {name}: {record['seconds']:.0f} s; this process used "
                  f"{100 * record['cpu_share']:.0f}% of {cores} cores; 1-minute load average "
                  f"{load_before:.2f} before, {record['load_average'][1]:.2f} after")
    return record


# --------------------------------------------------------------------------- tables


def _seconds(value: float, approximate: bool = False) -> str:
    text = f"{value:.2f}" if value < 10 else f"{value:.1f}"
    return f"~{text}" if approximate else text


def model_table(record: dict[str, Any], peak: float) -> Table:
    table = Table(
        title=f"{record['name']}: {record['n_users']:,} users, {record['n_items']:,} items, "
              f"{record['n_interactions']:,} interactions; seconds per epoch of each part, "
              f"FLOPs of one training step, matmul peak {peak / 1e9:.0f} GFLOP/s",
        title_justify="left")
    columns = ("model", "batch x steps", "build s", "1st-epoch overhead s", "s/epoch",
               "input pipeline s", "fwd/bwd s", "eval s (users)", "GFLOP/step",
               "GFLOP/s", "% of matmul", "FLOPs", "valid ndcg@10")
    for column in columns:
        table.add_column(column, justify="left" if column in ("model", "FLOPs") else "right",
                         no_wrap=column == "model", overflow="fold")
    for m in record["models"]:
        approx = m["extrapolated"]
        name = f"{m['family']}/{m['design']}" + ("" if m["default_design"] else " †")
        table.add_row(
            name, f"{m['batch_size']} x {m['steps_per_epoch']:,}"
                  + (f" ({m['timed_steps_per_epoch']})" if approx else ""),
            _seconds(m["build_seconds"]), _seconds(m["first_epoch_overhead_seconds"]),
            _seconds(m["epoch_seconds"], approx), _seconds(m["pipeline_seconds"], approx),
            _seconds(m["step_seconds"], approx),
            f"{_seconds(m['eval_seconds'])} ({m['eval_users']:,})",
            f"{m['flops_per_step'] / 1e9:.3f}", f"{m['achieved_flops'] / 1e9:.1f}",
            f"{100 * m['ratio_to_matmul']:.0f}%", m["flops_detail"]["code"],
            f"{m['valid_ndcg'][-1]:.4f}")
    return table


def baseline_table(record: dict[str, Any]) -> Table:
    table = Table(title=f"{record['name']}: baselines as a search runs them (grid on validation, "
                        f"refit on train + validation, test)", title_justify="left")
    for column in ("baseline", "total s", "grid points", "per point s (fit + scoring)",
                   "ranking, refit, test s", "best", "test ndcg@10"):
        table.add_column(column, justify="left" if column in ("baseline", "best",
                                                             "per point s (fit + scoring)")
                         else "right", overflow="fold")
    for b in record["baselines"]:
        if b["status"] != COMPLETE:
            table.add_row(b["baseline"], _seconds(b["seconds"]), "-", b.get("reason") or "",
                          "-", "-", "-")
            continue
        grid = b["grid"]
        detail = ", ".join(f"{g['make_seconds']:.2f} + {g['valid_eval_seconds']:.2f}"
                           for g in grid)
        best = ", ".join(f"{k}={v:g}" for k, v in b["best_params"].items()) or "-"
        table.add_row(b["baseline"], _seconds(b["seconds"]), str(len(grid)), detail,
                      _seconds(b["refit_and_test_seconds"]), best, f"{b['test_ndcg']:.4f}")
    return table


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="*", default=DEFAULT_DATA,
                        help="interaction files (default: the shared Amazon Beauty log)")
    parser.add_argument("--synthetic-rows", type=int, default=1_000_000,
                        help="rows of the synthetic log (6,040 users x 3,706 items); 0 skips it")
    parser.add_argument("--families", default="all",
                        help="comma-separated families; 'baselines' times the baselines")
    parser.add_argument("--designs", choices=("default", "next-item", "all"),
                        default="next-item",
                        help="each family's default design; plus the other next-item sequence "
                             "designs (default); or every design")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=DEFAULT_MAX_STEPS,
                        help="train and time only the first N batches of each epoch and "
                             f"extrapolate to the epoch (default {DEFAULT_MAX_STEPS}; 0: whole "
                             "epochs)")
    parser.add_argument("--output", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (later epochs are the steady state)")
    if 0 < args.synthetic_rows < 3 * SYNTHETIC_USERS:
        parser.error(f"--synthetic-rows must be 0 or at least {3 * SYNTHETIC_USERS:,} (every one "
                     f"of the {SYNTHETIC_USERS:,} users has at least 3 interactions)")
    families = resolve_families(args.families)
    unknown = [f for f in families if f != BASELINES and f not in FAMILIES]
    if unknown:
        parser.error(f"unknown families: {unknown}")
    console = Console(width=190)

    import tensorflow as tf

    from automl_rec.models.keras_base import free_memory  # imports Keras quietly

    free_memory()
    started = time.perf_counter()
    peak = matmul_throughput()
    console.print(f"dense float32 tf.matmul {MATMUL_SIZE}x{MATMUL_SIZE}: {peak / 1e9:.1f} GFLOP/s "
                  f"(TensorFlow {tf.__version__}, {os.cpu_count()} CPUs)")
    sources: list[tuple[str, Any]] = []
    for path in args.data:
        if path.exists():
            sources.append((path.parent.name if path.name == "interactions.csv" else path.name,
                            path))
        else:
            console.print(f"{path}: not found, skipped")
    if args.synthetic_rows > 0:
        frame = make_interactions(n_users=SYNTHETIC_USERS, n_items=SYNTHETIC_ITEMS,
                                  mean_history=args.synthetic_rows / SYNTHETIC_USERS, seed=0)
        sources.append((f"synthetic log ({SYNTHETIC_USERS:,} x {SYNTHETIC_ITEMS:,})", frame))
    records = []
    for name, source in sources:
        # The best throughput seen so far is the reference (the machine's speed varies a little).
        peak = max(peak, matmul_throughput())
        record = measure(name, source, families, args.designs, args.epochs,
                         args.max_steps, peak, console)
        records.append(record)
        if record["models"]:
            console.print(model_table(record, peak))
        if record["baselines"]:
            console.print(baseline_table(record))
    peak_after = matmul_throughput()
    seconds = time.perf_counter() - started
    console.print(
        f"matmul throughput at the end: {peak_after / 1e9:.1f} GFLOP/s; whole run {seconds:.0f} s."
        "\n†: not the family's default design. s/epoch: median of epochs 2+. First-epoch "
        "overhead = build + epoch 1 - s/epoch. Input pipeline and fwd/bwd are each timed alone "
        "(in training they overlap: the pipeline prefetches in parallel). eval: the per-epoch "
        "validation of a trial. GFLOP/s = FLOPs per step x full-batch steps / fwd-bwd seconds."
        "\nFLOPs: P = TensorFlow's profiler on the step's graph; +R = matrix products of "
        "run-time size (after boolean_mask) counted from their run-time shapes; +A = the "
        "recurrent loop body estimated analytically (3 x its forward matmuls per time step); "
        "+? = a loop left uncounted."
        + (f"\n~: measured on the first {args.max_steps} batches of each epoch (the number in "
           "brackets after the steps) and extrapolated to the whole epoch; --max-steps 0 times "
           "whole epochs." if args.max_steps else ""))
    if args.output:
        payload = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                               "tensorflow": tf.__version__,
                               "matmul_size": MATMUL_SIZE, "matmul_flops": peak,
                               "matmul_flops_at_end": peak_after},
                   "settings": {"epochs": args.epochs, "max_steps": args.max_steps,
                                "designs": args.designs, "families": families},
                   "seconds": seconds, "datasets": records}
        args.output.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
        console.print(f"wrote {args.output}")
    return 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
