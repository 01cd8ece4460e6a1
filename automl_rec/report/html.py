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
import re
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from automl_rec.data.features import feature_summary, items_only_in_table
from automl_rec.data.profiling import DataProfile
from automl_rec.errors import ConfigurationError
from automl_rec.evaluation.cold_offset import cold_room_sentence
from automl_rec.leaderboard import NOT_TRIALS, unranked_items_sentence
from automl_rec.report.charts import bar_chart, line_chart
from automl_rec.tasks import RANKING, figure_label, figures_of

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


def comparison_gaps(comparison: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The paired gaps of a run's comparison (winner minus each reference), also for runs
    written before the comparison held more than the best other baseline."""
    if not comparison:
        return []
    if "gaps" in comparison:
        return list(comparison["gaps"])
    if "reference" not in comparison:
        return []
    return [{"against": "best_baseline", "name": comparison["reference"],
             "difference": comparison["difference"], "low": comparison["low"],
             "high": comparison["high"],
             "significant": comparison["low"] > 0 or comparison["high"] < 0}]


def _winner_name(metadata: dict[str, Any]) -> str:
    entry = (metadata.get("comparison") or {}).get("winner")
    if entry:
        return str(entry["name"])
    winner = metadata["winner"]
    return str(winner["model"] if winner["family"] == "baselines" else
               f"{winner['family']}/{winner['model']}")


def _value(entry: dict[str, Any] | None) -> str:
    return _number((entry or {}).get("test"))


def gap_reading(gap: dict[str, Any], higher: bool = True) -> str:
    """``winner ahead``, ``winner behind`` or ``not distinguishable``: where the interval of
    the winner-minus-reference difference lies (below zero is ahead for RMSE)."""
    if gap["low"] > 0:
        return "winner ahead" if higher else "winner behind"
    if gap["high"] < 0:
        return "winner behind" if higher else "winner ahead"
    return "not distinguishable"


def _gap_phrase(gap: dict[str, Any], label: str, entry: dict[str, Any] | None,
                higher: bool = True) -> str:
    """How the winner stands against one reference, with the interval of the gap."""
    value = f" ({_value(entry)})" if entry and entry.get("test") is not None else ""
    who = f"{label}, {gap['name']}{value}"
    interval = f"95% interval {gap['low']:+.4f} to {gap['high']:+.4f}"
    reading = gap_reading(gap, higher)
    if reading == "winner ahead":
        return f"beats {who}, by {gap['difference']:+.4f} ({interval})"
    if reading == "winner behind":
        return f"trails {who}, by {abs(gap['difference']):.4f} ({interval})"
    return f"is not distinguishable from {who}: {gap['difference']:+.4f}, {interval}"


def _left_out_sentence(left_out: list[dict[str, Any]]) -> str:
    """One sentence on the families (and baselines) that gave no model, grouped by reason."""
    groups: dict[tuple[str, str], list[str]] = {}
    for entry in left_out:
        name = entry["model"] if entry.get("model") else entry["family"]
        groups.setdefault((entry["status"], entry["reason"]), []).append(str(name))
    parts = []
    for (status, reason), names in groups.items():
        subject = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        plural = len(names) > 1
        if plural:  # "the budget ran out before its first trial", said of several
            reason = re.sub(r"\bits\b", "their", reason)
        if status == "skipped":
            parts.append(f"{subject} {'were' if plural else 'was'} skipped: {reason}")
        else:
            parts.append(f"{subject} had no complete trial: {reason}")
    if not parts:
        return ""
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def verdict(metadata: dict[str, Any]) -> str:
    """A sentence or two: the winner, the best baseline and the best neural model with the paired
    95% interval of each gap on the test split, and what was left out and why."""
    comparison = metadata.get("comparison") or {}
    name = _winner_name(metadata)
    winner_is_baseline = metadata["winner"]["family"] == "baselines"
    metric = figure_label(str(comparison.get("metric") or metadata["protocol"]["metric"]))
    higher = bool(metadata["protocol"].get("higher_is_better", True))
    gaps = {gap["against"]: gap for gap in comparison_gaps(comparison)}
    baseline, neural = gaps.get("best_baseline"), gaps.get("best_neural")
    score = (comparison.get("winner") or {}).get("test")
    if score is None:
        score = metadata.get("test_metrics", {}).get(metadata["protocol"]["metric"])
    opening = f"{'The baseline ' if winner_is_baseline else ''}{name} wins" + (
        f" with test {metric} {score:.4f}" if score is not None else "")
    phrases = []
    if winner_is_baseline:
        if neural:
            phrases.append(_gap_phrase(neural, "the best neural model",
                                       comparison.get("best_neural"), higher))
        if baseline:
            phrases.append(_gap_phrase(baseline, "the next baseline",
                                       comparison.get("best_baseline"), higher))
    elif baseline:
        phrases.append(_gap_phrase(baseline, "the best baseline",
                                   comparison.get("best_baseline"), higher))
    if phrases:
        first = f"{opening}: it {' and '.join(phrases)}"
    elif comparison:
        first = f"{opening}; there was no other model scored on test to compare it with"
    else:
        first = f"{opening}; there was no other baseline to compare it with"
    if not winner_is_baseline and baseline:
        reading = gap_reading(baseline, higher)
        first += (": a real improvement" if reading == "winner ahead" else
                  ": prefer the baseline" if reading == "winner behind" else
                  ": the gain is within noise")
    sentences = [first + "."]
    sentences += [f"It {_gap_phrase(gap, 'the baseline', None, higher)}."
                  for gap in comparison_gaps(comparison) if gap["against"] == "baseline"]
    if not winner_is_baseline and neural and (neural["difference"] < 0) == higher \
            and neural["difference"] != 0:
        # another family's best trial did better on test, though worse on validation
        edge = -neural["difference"]
        better = f"{edge:+.4f} higher" if higher else f"{-edge:.4f} lower"
        sentences.append(
            f"On test, {neural['name']} scored {better} (95% interval {-neural['high']:+.4f} to "
            f"{-neural['low']:+.4f}) but was behind on validation, where the selection is "
            "made.")
    left = _left_out_sentence(comparison.get("left_out") or [])
    if left:
        sentences.append(left)
    return " ".join(sentences)


def _context(directory: Path, profile: dict[str, Any], leaderboard: pd.DataFrame,
             metadata: dict[str, Any]) -> dict[str, Any]:
    k = metadata["serving"]["k"]
    metric = metadata["protocol"]["metric"]
    task = (metadata.get("task") or {}).get("name", RANKING)
    higher = bool(metadata["protocol"].get("higher_is_better", True))
    figures = list(metadata["protocol"].get("figures") or figures_of(RANKING, k))
    rows = _leaderboard_rows(leaderboard, metric, higher)
    return {
        "task": task,
        "figures": [figure_label(f) for f in figures],
        "metric_label": figure_label(metric),
        "calibration_chart": _calibration_chart(metadata.get("calibration")),
        "title": f"automl-rec report: {profile['source']}",
        "profile": profile,
        "metadata": metadata,
        "k": k,
        "metric": metric,
        "verdict": verdict(metadata),
        "cold_room": cold_room_sentence(metadata.get("valid_metrics") or {}),
        "unranked_items": unranked_items_sentence(
            metadata["winner"], items_only_in_table(profile.get("features")),
            metadata.get("feature_use"), metric) if task == RANKING else None,
        "validation_note": validation_note(metadata),
        "summary": _summary(leaderboard, metadata, figures),
        "profile_rows": _profile_rows(profile),
        "profile_charts": _profile_charts(profile),
        "feature_tables": feature_summary(profile.get("features")),
        "rows": rows,
        "left_out": [r for r in rows if r["status"] == "skipped"],
        "search_charts": _search_charts(leaderboard, metric, directory, metadata, higher),
        "test_columns": [figure_label(f) for f in figures] + (
            ["coverage", "popularity"] if task == RANKING else []),
        "test_rows": _test_rows(leaderboard, k, metric, figures, task, higher),
        "test_chart": _test_chart(leaderboard, metadata, higher),
        "files": _files(directory),
        "directory": str(directory),
        "snippet_user": (metadata.get("examples") or [{"user_id": "USER_ID"}])[0]["user_id"],
        "snippet_item": (metadata.get("examples") or [{}])[0].get("item_id", "ITEM_ID"),
        "snippet_context": (metadata.get("examples") or [{}])[0].get("context", {}),
    }


def _number(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _summary(leaderboard: pd.DataFrame, metadata: dict[str, Any], figures: list[str]
             ) -> dict[str, Any]:
    winner = metadata["winner"]
    comparison = metadata.get("comparison") or {}
    lines = [{"name": f"{_winner_name(metadata)} (selected)",
              "values": [_number(metadata["test_metrics"].get(f)) for f in figures]}]
    baseline_label = ("next baseline" if winner["family"] == "baselines" else "best baseline")
    references = [(comparison.get("best_baseline"), baseline_label),
                  (comparison.get("best_neural"), "best neural model")]
    if "winner" not in comparison and comparison.get("reference"):
        # a run written when the comparison named the best other baseline only
        references = [({"family": "baselines", "model": comparison["reference"], "trial": None,
                        "name": comparison["reference"]}, "best other baseline")]
    chosen = comparison.get("winner") or {}
    for entry, label in references:
        if not entry or (entry["family"], entry["model"], entry.get("trial")) == (
                chosen.get("family"), chosen.get("model"), chosen.get("trial")):
            continue
        for _, row in _rows_of(leaderboard, entry).iterrows():
            lines.append({"name": f"{entry['name']} ({label})",
                          "values": [_number(row.get(f"test_{f}")) for f in figures]})
    budget = metadata.get("budget", {})
    used = metadata.get("fit_seconds")
    trials = int((~leaderboard["family"].isin(NOT_TRIALS) &
                  (leaderboard["status"] != "skipped")).sum())
    return {"lines": lines, "gaps": _gap_rows(metadata),
            "left_out": comparison.get("left_out") or [],
            "test_users": comparison.get("test_users"),
            "test_rows": comparison.get("test_rows"),
            "budget": ", ".join(part for part in (
                f"time budget {budget['time_budget']}" if budget.get("time_budget") else "",
                f"at most {budget['max_trials']} trials" if budget.get("max_trials") else "",
                f"tuner {budget.get('tuner', 'optuna')}") if part),
            "used": f"{used:.0f} s" if used else "-",
            "trials": f"{trials} trial" + ("" if trials == 1 else "s")}


def _rows_of(leaderboard: pd.DataFrame, entry: dict[str, Any]) -> pd.DataFrame:
    """The leaderboard row of a candidate named in the comparison."""
    same = (leaderboard["family"] == entry["family"]) & (leaderboard["model"] == entry["model"])
    trial = entry.get("trial")
    if "trial" in leaderboard.columns:
        same &= leaderboard["trial"].isna() if trial is None else leaderboard["trial"] == trial
    return leaderboard[same].head(1)


def _gap_rows(metadata: dict[str, Any]) -> list[dict[str, str]]:
    """The paired comparisons as table rows: winner minus each reference on the test split."""
    comparison = metadata.get("comparison") or {}
    labels = {"best_baseline": "next baseline" if metadata["winner"]["family"] == "baselines"
              else "best baseline", "best_neural": "best neural model",
              "baseline": "baseline"}
    higher = bool(metadata["protocol"].get("higher_is_better", True))
    rows = []
    for gap in comparison_gaps(comparison):
        reading = gap_reading(gap, higher)
        rows.append({"against": f"{gap['name']} ({labels.get(gap['against'], gap['against'])})",
                     "difference": f"{gap['difference']:+.4f}",
                     "interval": f"{gap['low']:+.4f} to {gap['high']:+.4f}", "reading": reading})
    return rows


def validation_note(metadata: dict[str, Any]) -> str:
    """Which validation users the validation figures were computed on."""
    protocol = metadata["protocol"]
    if "rows" in protocol and "valid" in protocol["rows"]:
        rows = protocol["rows"]
        return (f"Validation figures are computed on all {rows['valid']:,} validation rows, "
                f"test figures on all {rows['test']:,} test rows.")
    validation = protocol.get("validation")
    if not validation:
        return ("Validation figures are computed on a seeded sample of at most 50,000 "
                "validation users (all of them when there are fewer).")
    users, scored = validation["users"], validation["scored_users"]
    if scored < users:
        return (f"Validation figures are computed on a seeded sample of {scored:,} of the "
                f"{users:,} validation users, the same users for every trial and baseline; "
                "test figures on every test user.")
    return (f"Validation figures are computed on all {users:,} validation users (a seeded "
            f"sample is drawn only above {validation['max_users']:,}).")


def _profile_rows(profile: dict[str, Any]) -> list[tuple[str, str]]:
    feedback = profile["feedback"]
    kind = feedback["kind"]
    if "scale" in feedback:
        kind += f" ({feedback['scale'][0]:g} to {feedback['scale'][1]:g})"
    if "events" in feedback:
        kind += ": " + ", ".join(f"{name} {count:,}" for name, count in feedback["events"].items())
    span = profile.get("time_span")
    tail = profile["long_tail"]
    described = DataProfile.from_dict(profile)
    return [
        ("users", f"{profile['n_users']:,}"), ("items", f"{profile['n_items']:,}"),
        ("interactions", f"{profile['n_interactions']:,}"),
        ("density", f"{profile['density']:.4%}"), ("feedback", kind),
        ("positives", described.describe_positives()),
        ("order", described.describe_order()),
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
                                y_label="users", integer_y=True))
    items = distributions.get("item_popularity")
    if items:
        charts.append(line_chart({"items": (items["rank"], items["count"])},
                                 title="Interactions per item by popularity rank (long tail)",
                                 x_label="item rank (log)", y_label="interactions (log)",
                                 log_x=True, log_y=True))
    if profile.get("rating_histogram"):
        histogram = profile["rating_histogram"]
        charts.append(bar_chart(list(histogram), list(histogram.values()),
                                title="Ratings", x_label="rating", y_label="interactions",
                                integer_y=True))
    if profile.get("activity"):
        counts = profile["activity"]["counts"]
        charts.append(line_chart({"interactions": (list(range(len(counts))),
                                                   list(counts.values()))},
                                 title=f"Activity per {profile['activity']['period']} "
                                       f"({next(iter(counts))} to {list(counts)[-1]})",
                                 x_label=f"{profile['activity']['period']} index",
                                 y_label="interactions", integer_x=True, integer_y=True))
    return [Markup(chart) for chart in charts]


def _leaderboard_rows(leaderboard: pd.DataFrame, metric: str, higher: bool = True
                      ) -> list[dict[str, Any]]:
    column = f"valid_{metric}"
    best_per_family: dict[str, float] = {}
    for family, group in leaderboard.groupby("family"):
        complete = group[group["status"] == "complete"]
        if len(complete):
            values = complete[column]
            best_per_family[str(family)] = float(values.max() if higher else values.min())
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
            "valid": _number(value),
            "valid_sort": (-1.0 if higher else 1e9) if pd.isna(value) else float(value),
            "epochs": "-" if pd.isna(row["epochs"]) else str(int(row["epochs"])),
            "seconds": f"{row['seconds']:.1f}", "best": is_best,
        })
    return rows


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _search_charts(leaderboard: pd.DataFrame, metric: str, directory: Path,
                   metadata: dict[str, Any], higher: bool = True) -> list[dict[str, Any]]:
    column = f"valid_{metric}"
    trials = leaderboard[~leaderboard["family"].isin(NOT_TRIALS) &
                         (leaderboard["status"].isin(["complete", "pruned"]))]
    charts: list[dict[str, Any]] = []
    if not len(trials):
        return charts
    order = {index: position + 1 for position, index in enumerate(trials.index)}
    history = {str(family): ([order[i] for i in group.index], group[column].tolist())
               for family, group in trials.groupby("family", sort=False)}
    charts.append({"title": "Objective of every trial", "svg": Markup(line_chart(
        history, title=f"Validation {metric} of each trial, in run order",
        x_label="trial (run order)", y_label=f"valid {metric}", markers=True,
        integer_x=True))})
    curves = {}
    for family, group in trials[trials["status"] == "complete"].groupby("family", sort=False):
        best = group.loc[group[column].idxmax() if higher else group[column].idxmin()]
        curve = json.loads(best["curve"]) if isinstance(best.get("curve"), str) and best[
            "curve"] else []
        if not higher:  # the curve is the value the search maximises: the negated RMSE
            curve = [-value for value in curve]
        if curve:
            curves[f"{family}/{best['model']}"] = (list(range(1, len(curve) + 1)), curve)
    if curves:
        charts.append({"title": "Learning curves", "svg": Markup(line_chart(
            curves, title=f"Validation {metric} per epoch, best trial of each family",
            x_label="epoch", y_label=f"valid {metric}", integer_x=True))})
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
    from automl_rec.tuning.backends.optuna_backend import parameter_importances

    study = budget.get("study_name") or "automl-rec"
    found = {family: parameter_importances(storage, f"{study}.{family}") for family in families}
    return {family: values for family, values in found.items() if values}


def _test_rows(leaderboard: pd.DataFrame, k: int, metric: str, figures: list[str],
               task: str = RANKING, higher: bool = True) -> list[dict[str, Any]]:
    """Every candidate scored on test, best first on the run's selection metric: the task's
    figures (and, for ranking, coverage and popularity)."""
    column = f"test_{metric}"
    tested = leaderboard[leaderboard[column].notna()].sort_values(column, ascending=not higher)
    rows = []
    for _, row in tested.iterrows():
        values = [_number(row.get(f"test_{f}")) for f in figures]
        if task == RANKING:
            values += [_number(row[f"test_coverage@{k}"]),
                       _number(row[f"test_popularity@{k}"], 1)]
        rows.append({"name": f"{row['family']}/{row['model']}" + (
            f" #{int(row['trial'])}" if not pd.isna(row.get("trial")) else ""),
            "values": values})
    return rows


def _calibration_chart(calibration: dict[str, Any] | None) -> Markup | None:
    """The reliability plot of a click model: the share of 1 labels against the mean
    predicted probability of each bin, beside the diagonal of perfect calibration."""
    if not calibration or not calibration.get("bins"):
        return None
    bins = calibration["bins"]
    return Markup(line_chart(
        {"selected model": ([b["predicted"] for b in bins], [b["observed"] for b in bins]),
         "perfect calibration": ([0.0, 1.0], [0.0, 1.0])},
        title=f"Reliability on the test rows (expected calibration error "
              f"{calibration['ece']:.4f})", x_label="mean predicted probability",
        y_label="share of 1 labels"))


def _test_chart(leaderboard: pd.DataFrame, metadata: dict[str, Any],
                higher: bool = True) -> Markup:
    """Bars of the selection metric on test (``hr@10`` when the run selected on it)."""
    metric = metadata["protocol"]["metric"]
    column = f"test_{metric}"
    tested = leaderboard[leaderboard[column].notna()].sort_values(column, ascending=not higher)
    winner = metadata["winner"]
    trial = ((metadata.get("comparison") or {}).get("winner") or {}).get("trial")
    labels, highlight = [], None
    for position, (_, row) in enumerate(tested.iterrows()):
        labels.append(str(row["model"]) if row["family"] == "baselines" else
                      f"{row['family']}/{row['model']}")
        same_trial = trial is None or pd.isna(row.get("trial")) or int(row["trial"]) == trial
        if (row["family"], row["model"]) == (winner["family"], winner["model"]) and same_trial:
            highlight = position if highlight is None else highlight
    name = figure_label(metric)
    return Markup(bar_chart(labels, tested[column].tolist(),
                            title=f"Test {name}: each family's best and each baseline",
                            x_label="model", y_label=f"test {metric}", highlight=highlight))


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
