"""Budgets: how long the search may run and how many trials it may start.

A :class:`Budget` keeps its times on this process's monotonic clock; a run record (what worker
processes join a search by, possibly on other machines) carries them as wall-clock times, and
:meth:`Budget.to_record` and :meth:`Budget.from_record` are the only conversions between the two.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from automl_rec.errors import ConfigurationError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``90s``, ``10m``, ``1h``, ``1h30m`` or a plain number of seconds.

    Raises:
        ConfigurationError: The text is not a duration, or it is not positive.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        cleaned = str(text).strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", cleaned):
            seconds = float(cleaned)
        elif cleaned and _PART.sub("", cleaned) == "":
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(cleaned))
        else:
            raise ConfigurationError(
                f"The time budget {text!r} is not a duration; write it like 90s, 10m, 1h or "
                "1h30m."
            )
    if seconds <= 0:
        raise ConfigurationError(
            f"The time budget must be positive; received {text!r}. Give e.g. --time-budget 10m."
        )
    return seconds


@dataclass
class Budget:
    """When the search must stop.

    Attributes:
        deadline: ``time.monotonic()`` value by which the whole fit should end (``None``: no
            time limit).
        max_trials: Most trials in all families together (``None``: no limit).
        started: ``time.monotonic()`` value at which the fit started.
    """

    deadline: float | None = None
    max_trials: int | None = None
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def starting(cls, started: float, seconds: float | None,
                 max_trials: int | None = None) -> Budget:
        """A budget of ``seconds`` (``None``: no time limit) from ``started``."""
        return cls(None if seconds is None else started + seconds, max_trials, started)

    def left(self) -> float | None:
        """Seconds until the deadline (``None``: no time limit)."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def to_record(self) -> dict[str, Any]:
        """The budget as a run record carries it (wall-clock times)."""
        offset = time.time() - time.monotonic()
        return {"deadline": None if self.deadline is None else self.deadline + offset,
                "started": self.started + offset, "max_trials": self.max_trials}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Budget:
        """The budget of a run record, on this process's clock."""
        offset = time.monotonic() - time.time()
        deadline = record.get("deadline")
        started = record.get("started")
        return cls(None if deadline is None else deadline + offset, record.get("max_trials"),
                   time.monotonic() if started is None else started + offset)
