"""The ``automl-rec`` command: a thin layer over the Python API.

Every error a user can cause is printed as one line on stderr with exit code 2; ``--debug`` shows
the traceback. Heavy modules are imported inside the commands so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from automl_rec import __version__

USAGE_ERROR = 2


def _add_column_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("columns (inferred when not given)")
    group.add_argument("--user-col", help="column of user ids (name, or 0-based position)")
    group.add_argument("--item-col", help="column of item ids")
    group.add_argument("--rating-col", help="column of ratings or labels ('none' to ignore)")
    group.add_argument("--time-col", help="column of timestamps ('none' to ignore)")
    group.add_argument("--event-col", help="column of event types ('none' to ignore)")
    group.add_argument("--sep", help="field separator (sniffed when not given); '\\t' for tab")


def _add_feature_flags(parser: argparse.ArgumentParser) -> None:
    tables = parser.add_argument_group("item and user features")
    tables.add_argument("--items", metavar="FILE",
                        help="item table: an item id column, then attributes (any format the "
                             "interaction file may have)")
    tables.add_argument("--users", metavar="FILE",
                        help="user table: a user id column, then attributes")
    tables.add_argument("--feature-types", metavar="COL=KIND,...",
                        help="override inferred kinds (categorical, multi, numeric, text, "
                             "ignored)")


def _column_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    sep = args.sep.encode().decode("unicode_escape") if args.sep else None
    return {"user_col": args.user_col, "item_col": args.item_col, "rating_col": args.rating_col,
            "time_col": args.time_col, "event_col": args.event_col, "sep": sep}


def _feature_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {"items": args.items, "users": args.users, "feature_types": args.feature_types}


def _whole_number(minimum: int) -> Any:
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number, received {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"expected a number of at least {minimum}, received {value}")
        return value

    return parse


_positive_int = _whole_number(1)
_count = _whole_number(0)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``automl-rec``."""
    parser = argparse.ArgumentParser(
        prog="automl-rec",
        description="AutoML for recommender systems: profile an interaction log, evaluate "
                    "recommenders on an honest protocol, keep the best.",
    )
    parser.add_argument("--version", action="version", version=f"automl-rec {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    fit = commands.add_parser("fit", help="profile, split, evaluate candidates, keep the best",
                              description="Run the whole pipeline on an interaction file.")
    fit.add_argument("file", help="interaction file (CSV, TSV, '::'-separated or Parquet)")
    fit.add_argument("--output", "-o", help="run directory (default: runs/<file name>)")
    fit.add_argument("--families", default="all",
                     help="comma-separated families to run, or 'all' (default)")
    fit.add_argument("--time-budget", help="wall-time budget of the fit: 90s, 10m, 1h (default: "
                                            "none; without any budget each family gets 3 trials)")
    fit.add_argument("--max-trials", type=_positive_int,
                     help="most trials of the searched families together")
    fit.add_argument("--tuner", default="optuna", choices=["optuna", "hyperband", "bayesian",
                                                            "random"],
                     help="what picks the next trial: optuna (TPE, default) or keras-tuner's "
                          "hyperband, bayesian, random")
    fit.add_argument("--search-space", action="append", default=[], metavar="FILE",
                     help="a space file replacing the shipped space of its family (repeatable)")
    fit.add_argument("--storage", help="Optuna storage URL (default: sqlite:///DIR/study.db)")
    fit.add_argument("--study-name", default="automl-rec", help="Optuna study name (prefix)")
    fit.add_argument("--max-epochs", type=_positive_int, default=50,
                     help="most epochs of one trial (default: 50)")
    fit.add_argument("--patience", type=_positive_int, default=5,
                     help="epochs without improvement before a trial stops (default: 5)")
    fit.add_argument("--task", choices=["ranking", "ctr", "rating"],
                     help="what to predict: top-K lists (ranking), the probability of a 0/1 "
                          "label (ctr), or a rating (rating); default: ctr for a 0/1 label "
                          "with both values in at least 5%% of rows, else ranking")
    fit.add_argument("--metric", default="ndcg", choices=["ndcg", "hr", "mrr"],
                     help="selection metric at K (default: ndcg)")
    fit.add_argument("--top-k", "-k", type=_positive_int, default=10,
                     help="length of recommendation lists and K of the metrics (default: 10)")
    fit.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    fit.add_argument("--exclude-seen", choices=["auto", "yes", "no"], default="auto",
                     help="never recommend items a user already has (default: auto, from the "
                          "repeat rate)")
    fit.add_argument("--positive", metavar="RULE",
                     help="which rows are positives, e.g. 'rating>=4' or 'event=purchase' "
                          "(default: a binary label's 1 rows, otherwise every row)")
    fit.add_argument("--cold-items", metavar="SHARE", type=float, default=0.0,
                     help="hold out this share of the items (seeded) with all their "
                          "interactions, to measure cold-item quality (e.g. 0.1; default: 0)")
    fit.add_argument("--no-ensemble", action="store_true",
                     help="do not try averaging the best families' models (a ranking fit "
                          "selects the average when it beats each of them on validation)")
    fit.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    fit.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto",
                     help="where models train: a GPU when there is one (auto, default), cpu, gpu")
    fit.add_argument("--workers", type=_count,
                     help="worker processes to start on this machine beside the fit, sharing "
                          "its study (default: one per GPU beyond the first)")
    fit.add_argument("--heartbeat", type=_positive_int, default=10, metavar="SECONDS",
                     help="seconds between heartbeats of running trials; a trial silent for "
                          "three is retried (default: 10)")
    _add_column_flags(fit)
    _add_feature_flags(fit)

    worker = commands.add_parser(
        "worker", help="run trials in a search that a fit leads (from any machine)",
        description="Join the search of 'automl-rec fit FILE --storage URL --study-name NAME' "
                    "and run its trials until the fit closes it. The fit publishes the data "
                    "file, settings and budget in the study.")
    worker.add_argument("--storage", required=True,
                        help="the fit's storage URL (postgresql://... or sqlite:///...)")
    worker.add_argument("--study-name", default="automl-rec", help="the fit's study name")
    worker.add_argument("--data", help="the interaction file, if the fit's path is not valid "
                                       "here")
    worker.add_argument("--device", choices=["auto", "cpu", "gpu"],
                        help="where models train (default: the fit's choice)")
    worker.add_argument("--gpu", type=int, metavar="INDEX",
                        help="use only this GPU (one worker per GPU)")
    worker.add_argument("--wait", default="10m",
                        help="how long to wait for the fit to open the search (default: 10m)")
    worker.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")

    profile = commands.add_parser("profile", help="describe an interaction file",
                                  description="Print the data profile of an interaction file.")
    profile.add_argument("file", help="interaction file (CSV, TSV, '::'-separated or Parquet)")
    profile.add_argument("--format", choices=["table", "json"], default="table",
                         help="rich tables (default) or the JSON object alone")
    profile.add_argument("--positive", metavar="RULE",
                         help="which rows are positives, e.g. 'rating>=4' (as for fit)")
    _add_column_flags(profile)
    _add_feature_flags(profile)
    recommend = commands.add_parser(
        "recommend", help="top-K items for users, from an exported run",
        description="Recommend items to users with the SavedModel of a finished fit.")
    recommend.add_argument("directory", help="run directory of a finished fit")
    recommend.add_argument("--user", "-u", action="append", required=True,
                           help="a raw user id (repeatable)")
    recommend.add_argument("-k", type=_positive_int, help="list length (default: the fit's K)")
    recommend.add_argument("--format", choices=["text", "json", "csv"], default="text")

    evaluate = commands.add_parser(
        "evaluate", help="score held-out (user, item) pairs with an exported run",
        description="Full-ranking metrics of an exported model on a file of held-out "
                    "(user, item) pairs: each pair is a hit when the item is in the user's "
                    "top-K list.")
    evaluate.add_argument("directory", help="run directory of a finished fit")
    evaluate.add_argument("file", help="held-out interactions (same formats as fit)")
    evaluate.add_argument("-k", type=_positive_int, help="cut-off (default: the fit's K)")
    evaluate.add_argument("--format", choices=["table", "json"], default="table")
    _add_column_flags(evaluate)

    report = commands.add_parser(
        "report", help="re-render the HTML report of a run",
        description="Write DIR/report.html again from the files of a finished fit.")
    report.add_argument("directory", help="run directory of a finished fit")

    families = commands.add_parser(
        "families", help="list the model families, their spaces, and whether they apply",
        description="List the families and their search spaces; with FILE, say which apply to "
                    "that data and why the others do not.")
    families.add_argument("file", nargs="?", help="interaction file to check the families on")
    families.add_argument("--search-space", action="append", default=[], metavar="FILE",
                          help="a space file replacing the shipped space of its family")
    families.add_argument("--positive", metavar="RULE",
                          help="which rows are positives, e.g. 'rating>=4' (as for fit)")
    _add_column_flags(families)
    for sub in (fit, worker, profile, families, recommend, evaluate, report):
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="show tracebacks of errors")
    return parser


def _profile(args: argparse.Namespace) -> int:
    from automl_rec.data.features import read_features
    from automl_rec.data.profiling import profile_log

    features = read_features(**_feature_kwargs(args))
    _, profile = profile_log(args.file, _column_kwargs(args), positive=args.positive,
                             features=features)
    if args.format == "json":
        sys.stdout.write(profile.to_json() + "\n")
        return 0
    from rich.console import Console

    from automl_rec.report.terminal import print_profile

    print_profile(profile, Console())
    return 0


def _recommend(args: argparse.Namespace) -> int:
    import json

    from automl_rec.api import AutoRecommender

    lists = AutoRecommender.load(args.directory).recommend(args.user, k=args.k)
    if args.format == "csv":
        sys.stdout.write(lists.to_csv(index=False))
    elif args.format == "json":
        grouped = {user: [{"item_id": row.item_id, "score": float(row.score)}
                          for row in rows.itertuples()]
                   for user, rows in lists.groupby("user_id", sort=False)}
        sys.stdout.write(json.dumps(grouped, indent=2) + "\n")
    else:
        for user, rows in lists.groupby("user_id", sort=False):
            sys.stdout.write(f"{user}: {', '.join(rows['item_id'])}\n")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import json
    import warnings

    from automl_rec.api import AutoRecommender, SeenPairsWarning

    model = AutoRecommender.load(args.directory)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SeenPairsWarning)
        metrics = model.evaluate(args.file, k=args.k, **_column_kwargs(args))
    for warning in caught:
        if issubclass(warning.category, SeenPairsWarning):
            print(f"automl-rec: warning: {warning.message}", file=sys.stderr)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename,
                                 warning.lineno)
    if args.format == "json":
        sys.stdout.write(json.dumps(metrics, indent=2) + "\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{args.file} scored by {args.directory}", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    Console().print(table)
    return 0


def _report(args: argparse.Namespace) -> int:
    from automl_rec.report.html import write_report

    path = write_report(args.directory)
    print(f"Report written to {path}")
    return 0


def _families(args: argparse.Namespace) -> int:
    from rich.console import Console

    from automl_rec.api import prepare
    from automl_rec.models import FAMILIES, default_space, family_module
    from automl_rec.report.terminal import print_families
    from automl_rec.spaces import load_space

    spaces = {name: default_space(name) for name in FAMILIES}
    for path in args.search_space:
        space = load_space(path)
        spaces[space.family] = space
    reasons: dict[str, str | None] = {}
    profile = None
    if args.file:
        # What the fit decides from: the training stage of the same split.
        profile = prepare(args.file, _column_kwargs(args), positive=args.positive,
                          exclude_seen=None, seed=0).training_profile
        for name in FAMILIES:
            module = family_module(name)
            reasons[name] = module.unsupported_reason(profile)
            if reasons[name] is None:
                spaces[name] = module.adapt_space(spaces[name], profile)
    print_families(spaces, reasons, profile.source if profile else None, Console())
    return 0


def _fit(args: argparse.Namespace) -> int:
    from rich.console import Console

    from automl_rec.api import AutoRecommender
    from automl_rec.report.terminal import print_leaderboard, print_run_header

    output = Path(args.output) if args.output else Path("runs") / Path(args.file).stem
    exclude_seen = {"auto": None, "yes": True, "no": False}[args.exclude_seen]
    model = AutoRecommender(
        args.families, time_budget=args.time_budget, max_trials=args.max_trials,
        tuner=args.tuner, metric=args.metric, top_k=args.top_k, seed=args.seed,
        storage=args.storage, study_name=args.study_name, search_spaces=args.search_space,
        max_epochs=args.max_epochs, patience=args.patience, exclude_seen=exclude_seen,
        positive=args.positive, cold_items=args.cold_items, output_dir=output,
        progress=not args.quiet, device=args.device, workers=args.workers,
        heartbeat=args.heartbeat, task=args.task, ensemble=not args.no_ensemble)
    model.fit(args.file, **_column_kwargs(args), **_feature_kwargs(args))
    if hasattr(model, "worker_results_"):
        if not args.quiet:
            print("This process ran trials as a keras-tuner worker; the chief "
                  "(KERASTUNER_TUNER_ID=chief) selects, exports and reports.")
        return 0
    if not args.quiet:
        console = Console()
        print_run_header(model.profile_, model.split_, console, model.task_)
        print_leaderboard(model, console)
        from automl_rec.report.html import verdict

        from rich.text import Text

        # the verdict quotes reasons from the data and the models: no markup in it
        console.print(Text(verdict(model.metadata_), style="bold"), highlight=False)
        console.print(f"Report: {model.report_path_}  (model in {output / 'model'})",
                      highlight=False)
    return 0


def _worker(args: argparse.Namespace) -> int:
    from automl_rec.tuning.distributed import join_search
    from automl_rec.tuning.budget import parse_duration

    results = join_search(args.storage, args.study_name, data=args.data, device=args.device,
                          gpu=args.gpu, wait_seconds=parse_duration(args.wait),
                          verbose=not args.quiet)
    if not args.quiet:
        print(f"The search is closed ({len(results)} trials in all); this worker is done.")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``automl-rec`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return USAGE_ERROR
    handlers = {"fit": _fit, "worker": _worker, "profile": _profile, "families": _families,
                "recommend": _recommend, "evaluate": _evaluate, "report": _report}
    from automl_rec.errors import AutoRecError

    try:
        return handlers[args.command](args)
    except AutoRecError as error:
        if getattr(args, "debug", False):
            raise
        print(f"automl-rec: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("automl-rec: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
