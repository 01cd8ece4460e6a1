"""Live search progress in the terminal (rich): the budget, the current trial, the best so far."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from automl_rec.leaderboard import COMPLETE, CandidateResult
from automl_rec.tuning.backends import Proposal
from automl_rec.tuning.search import Budget
from automl_rec.tuning.trial import TrialSettings


class RichProgress:
    """A search observer that draws a budget bar, the running trial and the best per family."""

    def __init__(self, budget: Budget, settings: TrialSettings,
                 console: Console | None = None) -> None:
        self.budget = budget
        self.objective = settings.objective
        self.key = self.objective.key
        # Epoch reports carry the value the search maximises: RMSE enters negated.
        self.sign = 1.0 if getattr(self.objective, "higher", True) else -1.0
        self.console = console or Console(stderr=True)
        self.started = time.monotonic()
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[done]}"), TimeElapsedColumn(),
                                 console=self.console)
        if budget.deadline is not None:
            total, done = budget.deadline - self.started, "time budget"
        else:
            total, done = float(budget.max_trials or 1), "trials"
        self.task = self.progress.add_task("search", total=total, done=done)
        self.current = ""
        self.trials = 0
        self.per_family: dict[str, int] = {}
        self.best: dict[str, CandidateResult] = {}
        self.live = Live(self._render(), console=self.console, refresh_per_second=4,
                         transient=True)

    def __enter__(self) -> RichProgress:
        self.live.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.live.__exit__(kind, error, trace)

    def _render(self) -> Group:
        """The budget bar, the running trial (one line, cut at the width) and the best trial of
        each family so far (one short line per family at any width)."""
        table = Table(title=f"best valid {self.key} per family", title_justify="left")
        for column in ("family", "model", self.key, "epochs", "trials"):
            table.add_column(column, no_wrap=True, overflow="ellipsis",
                             justify="left" if column in ("family", "model") else "right")
        for family, result in sorted(self.best.items()):
            table.add_row(family, f"{result.model} #{result.number}",
                          f"{result.valid[self.key]:.4f}", str(result.epochs),
                          str(self.per_family.get(family, 0)))
        current = Text(self.current, no_wrap=True, overflow="ellipsis")
        return Group(self.progress, current, table)

    def _update(self) -> None:
        if self.budget.deadline is not None:
            completed = min(time.monotonic() - self.started,
                            self.budget.deadline - self.started)
        else:
            completed = float(self.trials)
        self.progress.update(self.task, completed=completed,
                             done=f"{self.trials} trials")
        self.live.update(self._render())

    def on_trial_start(self, proposal: Proposal) -> None:
        self.current = f"trial {proposal.family} #{proposal.number}: starting"
        self._update()

    def on_epoch(self, proposal: Proposal, epoch: int, value: float) -> None:
        design = proposal.params.get("design", proposal.family)
        self.current = (f"trial {proposal.family} #{proposal.number} ({design}): epoch {epoch}, "
                        f"valid {self.key} {self.sign * value:.4f}")
        self._update()

    def on_trial_end(self, result: CandidateResult) -> None:
        self.trials += 1
        self.per_family[result.family] = self.per_family.get(result.family, 0) + 1
        if result.status == COMPLETE:
            best = self.best.get(result.family)
            if best is None or (self.objective.score(result.valid)
                                > self.objective.score(best.valid)):
                self.best[result.family] = result
        # What matters comes first: a long reason is cut at the terminal's width (the whole
        # reason is in leaderboard.csv and run.log).
        parts = [f"valid {self.key} {result.valid[self.key]:.4f} at epoch {result.epochs}"
                 ] if result.valid else []
        parts += [result.reason] if result.reason else []
        line = (f"  {result.family} #{result.number} {result.model}: {result.status} "
                f"({result.seconds:.0f} s)" + (", " + "; ".join(parts) if parts else ""))
        self.console.print(Text(line), no_wrap=True, overflow="ellipsis", highlight=False)
        self._update()
