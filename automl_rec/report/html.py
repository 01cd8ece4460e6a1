"""The HTML report: one self-contained file that answers what is in the data, what was tried,
what won and by how much, whether that is real, and how to use the model.

It is rendered from the run directory alone (``profile.json``, ``leaderboard.csv``,
``metadata.json`` and, for parameter importances, the Optuna storage), so ``automl-rec report
DIR`` re-renders it at any time. Templating is jinja2 with autoescaping (ids and names from the
data are untrusted text); plots are inline SVG, so the file opens offline and stays small.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from automl_rec.errors import ConfigurationError
from automl_rec.report.charts import bar_chart, line_chart

REPORT_FILE = "report.html"
_PARAMS_SHOWN = 4


def write_report(directory: str | Path) -> Path:
    """Render ``<directory>/report.html`` from the files of a finished run.

    Raises:
        ConfigurationError: The directory does not hold a finished run.
    """
    directory = Path(directory)
    needed = [directory / name for name in ("profile.json", "leaderboard.csv", "metadata.json")]
    missing = [path.name for path in needed if not path.is_file()]
    if missing:
        raise ConfigurationError(
            f"'{directory}' is not the directory of a finished fit (missing "
            f"{', '.join(missing)}); give the --output directory of `automl-rec fit`."
        )
    profile = json.loads(needed[0].read_text())
    leaderboard = pd.read_csv(needed[1], keep_default_na=False, na_values=[""])
    metadata = json.loads(needed[2].read_text())
    context = _context(directory, profile, leaderboard, metadata)
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("automl_rec.report", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined)
    html = environment.get_template("report.html.j2").render(**context)
    target = directory / REPORT_FILE
    temporary = target.with_suffix(".html.tmp")
    temporary.write_text(html, encoding="utf-8")
    temporary.replace(target)
    return target


def verdict(metadata: dict[str, Any]) -> str:
    """One plain sentence on the winner against the best other baseline."""
    winner = metadata["winner"]
    name = f"{winner['family']}/{winner['model']}"
    comparison = metadata.get("comparison")
    if not comparison:
        return f"{name} was selected; there was no other baseline to compare it with."
    metric = comparison["metric"].upper()
    difference, low, high = comparison["difference"], comparison["low"], comparison["high"]
    reference = comparison["reference"]
    interval = f"95% interval {low:+.4f} to {high:+.4f}"
    if low > 0:
        return (f"{name} beats the best other baseline ({reference}) by {difference:+.4f} "
                f"{metric} on the test split ({interval}): a real improvement.")
    if high < 0:
        return (f"{name} was selected on validation but scores {difference:+.4f} {metric} "
                f"below {reference} on the test split ({interval}): prefer the baseline.")
    return (f"{name} and {reference} are not distinguishable on the test split "
            f"({difference:+.4f} {metric}, {interval}).")


def _context(directory: Path, profile: dict[str, Any], leaderboard: pd.DataFrame,
             metadata: dict[str, Any]) -> dict[str, Any]:
    k = metadata["serving"]["k"]
    metric = metadata["protocol"]["metric"]
    rows = _leaderboard_rows(leaderboard, metric)
    return {
        "title": f"automl-rec report: {profile['source']}",
        "profile": profile,
        "metadata": metadata,
        "k": k,
        "metric": metric,
        "verdict": verdict(metadata),
        "summary": _summary(leaderboard, metadata, k),
        "profile_rows": _profile_rows(profile),
        "profile_charts": _profile_charts(profile),
        "rows": rows,
        "left_out": [r for r in rows if r["status"] == "skipped"],
        "search_charts": _search_charts(leaderboard, metric, directory, metadata),
        "test_rows": _test_rows(leaderboard, k),
        "test_chart": _test_chart(leaderboard, k, metadata),
        "files": _files(directory),
        "directory": str(directory),
        "snippet_user": (metadata.get("examples") or [{"user_id": "USER_ID"}])[0]["user_id"],
    }


def _number(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _summary(leaderboard: pd.DataFrame, metadata: dict[str, Any], k: int) -> dict[str, Any]:
    winner = metadata["winner"]
    baselines = leaderboard[leaderboard["family"] == "baselines"]
    reference = (metadata.get("comparison") or {}).get("reference")
    best_baseline = baselines[baselines["model"] == reference] if reference else baselines.iloc[:0]
    lines = [{"name": f"{winner['family']}/{winner['model']} (selected)",
              **{m: _number(metadata["test_metrics"].get(f"{m}@{k}")) for m in
                 ("ndcg", "hr", "mrr")}}]
    for _, row in best_baseline.iterrows():
        lines.append({"name": f"baselines/{row['model']} (best other baseline)",
                      **{m: _number(row[f"test_{m}@{k}"]) for m in ("ndcg", "hr", "mrr")}})
    budget = metadata.get("budget", {})
    used = metadata.get("fit_seconds")
    trials = int((~leaderboard["family"].isin(["baselines"]) &
                  (leaderboard["status"] != "skipped")).sum())
    return {"lines": lines,
            "budget": ", ".join(part for part in (
                f"time budget {budget['time_budget']}" if budget.get("time_budget") else "",
                f"at most {budget['max_trials']} trials" if budget.get("max_trials") else "",
                f"tuner {budget.get('tuner', 'optuna')}") if part),
            "used": f"{used:.0f} s" if used else "-",
            "trials": f"{trials} trial" + ("" if trials == 1 else "s")}


def _profile_rows(profile: dict[str, Any]) -> list[tuple[str, str]]:
    feedback = profile["feedback"]
    kind = feedback["kind"]
    if "scale" in feedback:
        kind += f" ({feedback['scale'][0]:g} to {feedback['scale'][1]:g})"
    if "events" in feedback:
        kind += ": " + ", ".join(f"{name} {count:,}" for name, count in feedback["events"].items())
    span = profile.get("time_span")
    tail = profile["long_tail"]
    return [
        ("users", f"{profile['n_users']:,}"), ("items", f"{profile['n_items']:,}"),
        ("interactions", f"{profile['n_interactions']:,}"),
        ("density", f"{profile['density']:.4%}"), ("feedback", kind),
        ("columns", ", ".join(f"{role}: {col}" for role, col in profile["columns"].items()
                              if col is not None)),
        ("timestamps", f"{span['start'][:10]} to {span['end'][:10]} ({span['days']:.0f} days)"
         if span else "none"),
        ("interactions per user", ", ".join(f"{key} {value:g}" for key, value in
                                            profile["user_activity"].items())),
        ("interactions per item", ", ".join(f"{key} {value:g}" for key, value in
                                            profile["item_popularity"].items())),
        ("long tail", f"top 1% of items: {tail['top_1pct_share']:.1%} of interactions, top 20%: "
                      f"{tail['top_20pct_share']:.1%}; Gini {tail['gini']:.3f}"),
        ("repeat consumption", f"{profile['repeat_rate']:.1%} of interactions"),
        ("users too short to evaluate", f"{profile['cold_user_share']:.1%}"),
        ("dropped rows", f"{profile['n_missing']:,} with missing values, "
                         f"{profile['n_duplicates']:,} duplicates"),
    ]


def _profile_charts(profile: dict[str, Any]) -> list[Markup]:
    charts = []
    distributions = profile.get("distributions") or {}
    users = distributions.get("interactions_per_user")
    if users:
        labels = [f"{int(a)}-{int(b) - 1}" if b - a > 1 else f"{int(a)}"
                  for a, b in zip(users["edges"][:-1], users["edges"][1:])]
        charts.append(bar_chart(labels, users["counts"], title="Interactions per user "
                                "(history length), log-spaced bins", x_label="interactions",
                                y_label="users"))
    items = distributions.get("item_popularity")
    if items:
        charts.append(line_chart({"items": (items["rank"], items["count"])},
                                 title="Interactions per item by popularity rank (long tail)",
                                 x_label="item rank (log)", y_label="interactions (log)",
                                 log_x=True, log_y=True))
    if profile.get("rating_histogram"):
        histogram = profile["rating_histogram"]
        charts.append(bar_chart(list(histogram), list(histogram.values()),
                                title="Ratings", x_label="rating", y_label="interactions"))
    if profile.get("activity"):
        counts = profile["activity"]["counts"]
        charts.append(line_chart({"interactions": (list(range(len(counts))),
                                                   list(counts.values()))},
                                 title=f"Activity per {profile['activity']['period']} "
                                       f"({next(iter(counts))} to {list(counts)[-1]})",
                                 x_label=f"{profile['activity']['period']} index",
                                 y_label="interactions"))
    return [Markup(chart) for chart in charts]


def _leaderboard_rows(leaderboard: pd.DataFrame, metric: str) -> list[dict[str, Any]]:
    column = f"valid_{metric}"
    best_per_family: dict[str, float] = {}
    for family, group in leaderboard.groupby("family"):
        complete = group[group["status"] == "complete"]
        if len(complete):
            best_per_family[str(family)] = float(complete[column].max())
    rows = []
    for _, row in leaderboard.iterrows():
        params = json.loads(row["params"]) if isinstance(row["params"], str) else {}
        params.pop("design", None)
        shown = list(params.items())[:_PARAMS_SHOWN]
        value = row[column]
        is_best = (row["status"] == "complete" and str(row["family"]) in best_per_family
                   and value == best_per_family[str(row["family"])])
        trial = row.get("trial")
        rows.append({
            "family": row["family"], "model": row["model"],
            "trial": "" if pd.isna(trial) else int(trial),
            "params": ", ".join(f"{key}={_short(v)}" for key, v in shown)
                      + (", ..." if len(params) > _PARAMS_SHOWN else ""),
            "all_params": json.dumps(params, sort_keys=True),
            "status": row["status"],
            "reason": row["reason"] if isinstance(row["reason"], str) else "",
            "valid": _number(value), "valid_sort": -1.0 if pd.isna(value) else float(value),
            "epochs": "-" if pd.isna(row["epochs"]) else str(int(row["epochs"])),
            "seconds": f"{row['seconds']:.1f}", "best": is_best,
        })
    return rows


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _search_charts(leaderboard: pd.DataFrame, metric: str, directory: Path,
                   metadata: dict[str, Any]) -> list[dict[str, Any]]:
    column = f"valid_{metric}"
    trials = leaderboard[(leaderboard["family"] != "baselines") &
                         (leaderboard["status"].isin(["complete", "pruned"]))]
    charts: list[dict[str, Any]] = []
    if not len(trials):
        return charts
    order = {index: position + 1 for position, index in enumerate(trials.index)}
    history = {str(family): ([order[i] for i in group.index], group[column].tolist())
               for family, group in trials.groupby("family", sort=False)}
    charts.append({"title": "Objective of every trial", "svg": Markup(line_chart(
        history, title=f"Validation {metric} of each trial, in run order",
        x_label="trial (run order)", y_label=f"valid {metric}", markers=True))})
    curves = {}
    for family, group in trials[trials["status"] == "complete"].groupby("family", sort=False):
        best = group.loc[group[column].idxmax()]
        curve = json.loads(best["curve"]) if isinstance(best.get("curve"), str) and best[
            "curve"] else []
        if curve:
            curves[f"{family}/{best['model']}"] = (list(range(1, len(curve) + 1)), curve)
    if curves:
        charts.append({"title": "Learning curves", "svg": Markup(line_chart(
            curves, title=f"Validation {metric} per epoch, best trial of each family",
            x_label="epoch", y_label=f"valid {metric}"))})
    for family, importances in _importances(directory, metadata, list(history)).items():
        names = list(importances)
        charts.append({"title": f"Parameter importances: {family}", "svg": Markup(bar_chart(
            names, [importances[n] for n in names],
            title=f"{family}: parameter importance (fANOVA)", x_label="parameter",
            y_label="importance"))})
    return charts


def _importances(directory: Path, metadata: dict[str, Any], families: list[str]
                 ) -> dict[str, dict[str, float]]:
    budget = metadata.get("budget", {})
    if budget.get("tuner", "optuna") != "optuna":
        return {}
    storage = budget.get("storage") or (
        f"sqlite:///{directory / 'study.db'}" if (directory / "study.db").is_file() else None)
    if storage is None:
        return {}
    from automl_rec.tuning.optuna_backend import parameter_importances

    study = budget.get("study_name") or "automl-rec"
    found = {family: parameter_importances(storage, f"{study}.{family}") for family in families}
    return {family: values for family, values in found.items() if values}


def _test_rows(leaderboard: pd.DataFrame, k: int) -> list[dict[str, str]]:
    tested = leaderboard[leaderboard[f"test_ndcg@{k}"].notna()]
    tested = tested.sort_values(f"test_ndcg@{k}", ascending=False)
    return [{"name": f"{row['family']}/{row['model']}" + (
        f" #{int(row['trial'])}" if not pd.isna(row.get("trial")) else ""),
             **{m: _number(row[f"test_{m}@{k}"]) for m in ("ndcg", "hr", "mrr", "coverage")},
             "popularity": _number(row[f"test_popularity@{k}"], 1)}
            for _, row in tested.iterrows()]


def _test_chart(leaderboard: pd.DataFrame, k: int, metadata: dict[str, Any]) -> Markup:
    tested = leaderboard[leaderboard[f"test_ndcg@{k}"].notna()].sort_values(
        f"test_ndcg@{k}", ascending=False)
    labels = [f"{row['family']}/{row['model']}" for _, row in tested.iterrows()]
    winner = metadata["winner"]
    selected = f"{winner['family']}/{winner['model']}"
    highlight = labels.index(selected) if selected in labels else None
    return Markup(bar_chart(labels, tested[f"test_ndcg@{k}"].tolist(),
                            title=f"Test NDCG@{k}: each family's best and each baseline",
                            x_label="model", y_label=f"test ndcg@{k}", highlight=highlight))


def _files(directory: Path) -> list[tuple[str, str]]:
    files = [(REPORT_FILE, "this page")]
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.name in (REPORT_FILE, REPORT_FILE + ".tmp"):
            continue
        size = (sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
                if path.is_dir() else path.stat().st_size)
        files.append((path.name + ("/" if path.is_dir() else ""), _size(size)))
    return files


def _size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
