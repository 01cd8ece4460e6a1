"""Terminal output with rich: the data profile and the leaderboard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from automl_rec.data.profiling import DataProfile

if TYPE_CHECKING:
    from automl_rec.api import AutoRecommender
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
    roles = ", ".join(f"{role}=" + (f"column {col}" if positional else repr(col))
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
        ("timestamps", "yes" if profile.has_timestamps else "no"),
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
    for warning in profile.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _metric(metrics: dict[str, float], key: str) -> str:
    value = metrics.get(key)
    return "-" if value is None else f"{value:.4f}"


def print_run_header(profile: DataProfile, protocol: str, exclude_seen: bool, console: Console
                     ) -> None:
    """Print one paragraph on the data and the protocol, then the profile's warnings."""
    console.print(
        f"[bold]{profile.source}[/bold]: {profile.n_users:,} users, {profile.n_items:,} items, "
        f"{profile.n_interactions:,} interactions ({profile.feedback['kind']} feedback"
        f"{', timestamps' if profile.has_timestamps else ', no timestamps'}). Protocol: "
        f"{protocol.replace('_', ' ')}, full ranking of all items, seen items "
        f"{'excluded' if exclude_seen else 'kept'}.", highlight=False)
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


def print_leaderboard(model: AutoRecommender, console: Console, rows: int = 12) -> None:
    """Print the best candidates of a fitted run (best validation score first), and every
    baseline and family left out, so that the winner is always seen beside the references."""
    k, metric = model.top_k, model.metric
    ranked = sorted(model.results_, key=lambda r: r.valid_score(metric, k), reverse=True)
    shown = [r for i, r in enumerate(ranked) if i < rows or r.family == "baselines"
             or r.status == "skipped"]
    table = Table(title=f"Leaderboard: {len(shown)} of {len(ranked)} candidates, selected on "
                        f"valid {metric}@{k}; test = refit on train + valid",
                  title_justify="left")
    table.add_column("candidate", no_wrap=True)
    table.add_column("status", overflow="fold", ratio=1)
    for column in (f"valid {metric}", "test ndcg", "test hr", "s"):
        table.add_column(column, justify="right", no_wrap=True)
    for result in shown:
        best = result is model.best_result_
        name = result.family if result.family == result.model else (
            f"{result.family}/{result.model}")
        if result.number is not None:
            name += f" #{result.number}"
        status = result.status if not result.reason else f"{result.status}: {result.reason}"
        table.add_row(name, status, _metric(result.valid, f"{metric}@{k}"),
                      _metric(result.test, f"ndcg@{k}"), _metric(result.test, f"hr@{k}"),
                      f"{result.seconds:.0f}", style="bold green" if best else None)
    console.print(table)
    params = ", ".join(f"{key}={_short(value)}" for key, value in model.best_params_.items())
    console.print(f"Best: {model.best_family_}/{model.best_model_name_} ({params or 'no params'})"
                  f"; every candidate with its parameters is in leaderboard.csv.",
                  highlight=False)


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
