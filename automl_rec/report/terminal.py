"""Terminal output with rich: the data profile and the leaderboard."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from automl_rec.data.features import feature_summary, items_only_in_table
from automl_rec.data.profiling import DataProfile
from automl_rec.evaluation.cold_offset import cold_room_sentence
from automl_rec.leaderboard import (COMPLETE, candidate_name, feature_use_table,
                                    unranked_items_sentence, warm_and_cold_table)
from automl_rec.tasks import RANKING, TaskChoice, figures_of, higher_is_better
from automl_rec.tasks.rows import RowSplit
from automl_rec.tuning.objective import objective_of

if TYPE_CHECKING:
    from automl_rec.api import AutoRecommender
    from automl_rec.data.splitting import Split
    from automl_rec.leaderboard import CandidateResult
    from automl_rec.spaces import SearchSpace


def _table(title: str, rows: list[tuple[str, Any]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, str(value))
    return table


def _stats(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in values.items())


def print_profile(profile: DataProfile, console: Console) -> None:
    """Print the profile as a few rich tables."""
    positional = not profile.reading.get("has_header", True)
    roles = ", ".join(f"{role}=" + (col if col.startswith("(") else f"column {col}"
                                    if positional else repr(col))
                      for role, col in profile.columns.items() if col)
    feedback = profile.feedback
    kind = feedback["kind"]
    if "scale" in feedback:
        kind += f" ({feedback['scale'][0]:g} to {feedback['scale'][1]:g})"
    if "events" in feedback:
        kind += ": " + ", ".join(f"{k} {v:,}" for k, v in feedback["events"].items())
    console.print(_table(f"Data profile: {profile.source}", [
        ("columns", roles),
        ("users", f"{profile.n_users:,}"),
        ("items", f"{profile.n_items:,}"),
        ("interactions", f"{profile.n_interactions:,}"),
        ("density", f"{profile.density:.4%}"),
        ("feedback", kind),
        ("positives", profile.describe_positives()),
        ("order", profile.describe_order()),
        ("dropped rows", f"{profile.n_missing:,} missing, {profile.n_duplicates:,} duplicates"),
    ]))
    rows = [
        ("per user", _stats(profile.user_activity)),
        ("per item", _stats(profile.item_popularity)),
        ("history length", _stats(profile.history_length)),
        ("top 1% / 20% items", f"{profile.long_tail['top_1pct_share']:.1%} / "
                               f"{profile.long_tail['top_20pct_share']:.1%} of interactions"),
        ("popularity Gini", f"{profile.long_tail['gini']:.3f}"),
        ("repeat rate", f"{profile.repeat_rate:.1%}"),
        ("users too short to evaluate", f"{profile.cold_user_share:.1%}"),
    ]
    if profile.time_span:
        span = profile.time_span
        rows.append(("time span", f"{span['start'][:10]} to {span['end'][:10]} "
                                  f"({span['days']:.0f} days)"))
    if profile.rating_histogram:
        rows.append(("ratings", ", ".join(f"{k}: {v:,}" for k, v in
                                          profile.rating_histogram.items())))
    console.print(_table("Shape", rows))
    if profile.activity:
        counts = profile.activity["counts"]
        peak = max(count for _, count in _binned(list(counts.items()), 24))
        activity = Table(title=f"Activity per {profile.activity['period']}", title_justify="left")
        activity.add_column("period")
        activity.add_column("interactions", justify="right")
        activity.add_column("")
        for label, count in _binned(list(counts.items()), 24):
            activity.add_row(label, f"{count:,}", "#" * max(1, round(30 * count / peak)))
        console.print(activity)
    warnings = list(profile.warnings)
    for summary in feature_summary(profile.features):
        columns = Table(title=summary["title"], caption=summary["caption"], title_justify="left",
                        caption_justify="left")
        for heading in ("column", "kind", "why"):
            columns.add_column(heading)
        for row in summary["rows"]:
            columns.add_row(*row, style="dim" if row[1] == "ignored" else None)
        console.print(columns)
        warnings += summary["warnings"]
    for warning in warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _metric(metrics: dict[str, float], key: str) -> str:
    value = metrics.get(key)
    return "-" if value is None else f"{value:.4f}"


def print_run_header(profile: DataProfile, split: Split | RowSplit, console: Console,
                     task: TaskChoice | None = None) -> None:
    """Print one paragraph on the data, the task and the protocol, then the profile's
    warnings."""
    order = "ordered" if profile.has_order else "no order"
    opening = (f"[bold]{profile.source}[/bold]: {profile.n_users:,} users, "
               f"{profile.n_items:,} items, {profile.n_interactions:,} interactions "
               f"({profile.feedback['kind']} feedback, {order}).")
    stated = f" Task: {task.name} ({task.reason})." if task is not None else ""
    if isinstance(split, RowSplit):
        rows = split.describe()["rows"]
        console.print(
            f"{opening}{stated} Protocol: {split.protocol.replace('_', ' ')} split of every "
            f"row, {rows['train']:,} training, {rows['valid']:,} validation and "
            f"{rows['test']:,} test rows.", highlight=False)
    else:
        seen = split.seen_policy.get("reason") or (
            f"seen items {'excluded' if split.exclude_seen else 'kept'}")
        console.print(
            f"{opening}{stated} Positives: {profile.describe_positives()}. Protocol: "
            f"{split.protocol.replace('_', ' ')}, full ranking of all items; {seen}.",
            highlight=False)
    for warning in profile.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


def _binned(counts: list[tuple[str, int]], bins: int) -> list[tuple[str, int]]:
    """Merge consecutive periods so that at most ``bins`` rows remain."""
    width = max(1, -(-len(counts) // bins))
    merged = []
    for start in range(0, len(counts), width):
        chunk = counts[start:start + width]
        label = chunk[0][0] if len(chunk) == 1 else f"{chunk[0][0]} to {chunk[-1][0]}"
        merged.append((label, sum(count for _, count in chunk)))
    return merged


_MIN_PARAMS_WIDTH = 16


@dataclass
class _Column:
    """One leaderboard column: its header, its cells, and how readily it is dropped."""

    header: str
    cells: list[str]
    priority: int
    justify: Literal["left", "right"] = "right"
    flexible: bool = False

    @property
    def width(self) -> int:
        return max([cell_len(self.header)] + [cell_len(cell) for cell in self.cells])


def _fit_columns(columns: list[_Column], width: int) -> tuple[list[_Column], int | None]:
    """The columns that fit in ``width`` (most important first, shown in their own order) and
    the width left to the flexible column, if it is kept. A rich table with edges and a padding
    of one takes three characters per column plus one."""
    kept: list[_Column] = []
    for column in sorted(columns, key=lambda c: c.priority):
        if column.flexible:
            continue
        if column.priority == 0 or _table_width(kept + [column]) <= width:
            kept.append(column)
    flexible = [c for c in columns if c.flexible]
    room = width - _table_width(kept) - 3
    if flexible and room >= min(_MIN_PARAMS_WIDTH, flexible[0].width):
        kept.append(flexible[0])
    else:
        room = None
    return [c for c in columns if c in kept], room


def _table_width(columns: list[_Column]) -> int:
    return sum(c.width for c in columns) + 3 * len(columns) + 1


def _candidate(result: CandidateResult, width: int = 36) -> str:
    """The candidate's name, cut to ``width`` characters (an ensemble's is long; the line
    under the table names the winner in full)."""
    name = (f"{result.family}/{result.model}" if result.family == "baselines"
            else candidate_name(result))
    return name if cell_len(name) <= width else name[:width - 1] + "…"


def print_leaderboard(model: AutoRecommender, console: Console, rows: int = 12) -> None:
    """Print the best candidates of a fitted run (best validation score first), and every
    baseline and family left out, so that the winner is always seen beside the references.

    Each candidate takes one line at any terminal width: the status is one word with a
    footnote number, the reasons are numbered below the table, and the columns of least use
    (other test metrics, epochs, parameters) are shown only where the width allows.
    """
    k = model.top_k
    task = getattr(model, "_task", RANKING)
    key = getattr(model, "_objective_key", f"{model.metric}@{k}")
    metric = key.partition("@")[0]
    objective = objective_of(task, model.metric, k)
    ranked = sorted(model.results_, key=lambda r: objective.score(r.valid)
                    if r.status == COMPLETE else float("-inf"), reverse=True)
    shown = [r for i, r in enumerate(ranked) if i < rows or r.family == "baselines"
             or r.status == "skipped"]
    marks, notes = _footnotes([r.reason for r in shown])
    statuses = [r.status if mark is None else f"{r.status} [{mark}]"
                for r, mark in zip(shown, marks)]
    others = [figure for figure in figures_of(task, k) if figure != key]
    columns = [
        _Column("candidate", [_candidate(r) for r in shown], 0, "left"),
        _Column("status", statuses, 0, "left"),
        _Column(f"valid {metric}", [_metric(r.valid, key) for r in shown], 0),
        _Column(f"test {metric}", [_metric(r.test, key) for r in shown], 0),
        *[_Column(f"test {figure.partition('@')[0]}", [_metric(r.test, figure) for r in shown],
                  3) for figure in others],
        _Column("epochs", ["-" if r.epochs is None else str(r.epochs) for r in shown], 2),
        _Column("s", [f"{r.seconds:.0f}" for r in shown], 1),
        _Column("params", [_params(r.params) for r in shown], 4, "left", flexible=True),
    ]
    kept, room = _fit_columns(columns, console.width)
    table = Table(title=f"Leaderboard: {len(shown)} of {len(ranked)} candidates, best valid "
                        f"{key} first", title_justify="left")
    for column in kept:
        table.add_column(column.header, justify=column.justify, no_wrap=True,
                         overflow="ellipsis", max_width=room if column.flexible else None)
    for index, result in enumerate(shown):
        table.add_row(*(Text(column.cells[index]) for column in kept),
                      style="bold green" if result is model.best_result_ else None)
    console.print(table)
    for number, note in enumerate(notes, start=1):
        console.print(f"[{number}] {note}", highlight=False, markup=False)
    better = "" if higher_is_better(task) else " (lower is better)"
    console.print(f"valid: {key} on validation{better}, models trained on train"
                  f"{_sample_note(model)}; test: {key} on test, refit on train + valid.",
                  highlight=False)
    note = getattr(model, "export_note_", None)
    if note:
        console.print(f"Exported: {note}.", highlight=False)
    if task != RANKING:
        _print_best(model, console)
        return
    cold = warm_and_cold_table(model.results_, k)
    if cold is not None:
        split = Table(title=f"Warm and cold test targets: {cold['warm_cases']:,} warm, "
                            f"{cold['cold_cases']:,} cold (an item the model never learnt "
                            "from)", title_justify="left")
        for heading in ("candidate", f"warm ndcg@{k}", f"warm hr@{k}", f"cold ndcg@{k}",
                        f"cold hr@{k}"):
            split.add_column(heading, justify="left" if heading == "candidate" else "right")
        for name, *values in cold["rows"]:
            split.add_row(name, *("-" if v is None else f"{v:.4f}" for v in values))
        console.print(split)
    use = (feature_use_table(model.results_, f"{metric}@{k}")
           if getattr(getattr(model, "split_", None), "item_columns", None) is not None
           else None)
    if use is not None:
        console.print("Item features (best valid " + f"{metric}@{k}, trials): " + "; ".join(
            f"{row['family']} with attributes {_best(row['with_best'])} "
            f"({row['with_trials']}), ids only {_best(row['without_best'])} "
            f"({row['without_trials']})" for row in use) + ".", highlight=False)
    valid = getattr(model, "valid_metrics_", None) or {}
    cold_room = cold_room_sentence(valid)
    if cold_room:
        console.print(cold_room, highlight=False)
    unranked = unranked_items_sentence(
        {"family": model.best_family_, "model": model.best_model_name_,
         "params": model.best_params_},
        items_only_in_table(getattr(getattr(model, "profile_", None), "features", None)),
        use, f"{metric}@{k}")
    if unranked:
        console.print(unranked, highlight=False)
    users = getattr(model, "user_features_", None)
    if users:
        console.print(f"Users without a history: served from the user table's attributes "
                      f"({users['neighbours']} neighbours), validation hr@{users['k']} "
                      f"{users['hr'][str(users['neighbours'])]:.4f} vs popularity "
                      f"{users['popularity_hr']:.4f} ({users['cases']:,} cases).",
                      highlight=False)
    _print_best(model, console)


def _print_best(model: AutoRecommender, console: Console) -> None:
    params = ", ".join(f"{key}={_short(value)}" for key, value in model.best_params_.items()
                       if key != "members")  # an ensemble's name lists its members
    console.print(f"Best: {model.best_family_}/{model.best_model_name_} ({params or 'no params'})"
                  f"; every candidate with its parameters is in leaderboard.csv.",
                  highlight=False)


def _best(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _footnotes(reasons: list[str]) -> tuple[list[int | None], list[str]]:
    """Number the reasons of the rows, for footnotes: the footnote of each row (``None`` when
    it has no reason) and the footnotes' texts. Reasons that differ only in one number ("after
    epoch 11", "after epoch 12") share a footnote that lists the numbers in row order."""
    groups: dict[str, list[str]] = {}
    marks: list[int | None] = []
    for reason in reasons:
        if not reason:
            marks.append(None)
            continue
        numbers = re.findall(r"\d+", reason)
        key = re.sub(r"\d+", "#", reason) if len(numbers) == 1 else reason
        if key not in groups:
            groups[key] = []
        groups[key].append(reason)
        marks.append(list(groups).index(key) + 1)
    notes = []
    for members in groups.values():
        if len(set(members)) == 1:
            notes.append(members[0])
            continue
        match = re.search(r"\d+", members[0])
        assert match is not None
        values = [re.findall(r"\d+", member)[0] for member in members]
        listed = ", ".join(values[:-1]) + " and " + values[-1]
        notes.append(f"{members[0][:match.start()]}{listed}{members[0][match.end():]} "
                     "(in row order)")
    return marks, notes


def _params(params: dict[str, Any]) -> str:
    shown = {key: value for key, value in params.items() if key != "design"}
    return ", ".join(f"{key}={_short(value)}" for key, value in shown.items()) or "-"


def _sample_note(model: AutoRecommender) -> str:
    """Says how many validation users the validation figures are computed on, when sampled."""
    split = getattr(model, "split_", None)
    if split is None or isinstance(split, RowSplit):
        return ""
    from automl_rec.evaluation import SEARCH_VALIDATION_USERS

    users = len(split.holdout("valid").users)
    if users <= SEARCH_VALIDATION_USERS:
        return ""
    return f" (a seeded sample of {SEARCH_VALIDATION_USERS:,} of {users:,} validation users)"


def print_families(spaces: dict[str, SearchSpace], reasons: dict[str, str | None],
                   source: str | None, console: Console) -> None:
    """Print each family, whether it applies to the data (when given) and its space."""
    from automl_rec.models.baselines import BASELINES

    overview = Table(title="Families" + (f" on {source}" if source else ""), title_justify="left")
    overview.add_column("family", no_wrap=True)
    overview.add_column("applies" if source else "models", overflow="fold")
    overview.add_row("baselines", "always run, as references: " + ", ".join(BASELINES))
    for name, space in spaces.items():
        if source is None:
            designs = space["design"].choices if "design" in space.names() else ()
            overview.add_row(name, ", ".join(map(str, designs)) or "-")
        else:
            reason = reasons.get(name)
            overview.add_row(name, "yes" if reason is None else f"[red]no[/red]: {reason}")
    console.print(overview)
    for name, space in spaces.items():
        table = Table(title=f"{name}: {space.source}", title_justify="left")
        for column in ("parameter", "type", "range or choices", "default", "when"):
            table.add_column(column, overflow="fold")
        for param in space.params:
            if param.kind == "categorical":
                values = ", ".join(map(str, param.choices))
            else:
                values = f"{_short(param.low)} to {_short(param.high)}"
                values += " (log)" if param.log else f" step {_short(param.step)}" if (
                    param.step) else ""
            when = "; ".join(f"{k} in {', '.join(map(str, v))}" for k, v in param.when.items())
            table.add_row(param.name, param.kind, values, _short(param.default), when or "-")
        console.print(table)
