"""Budgets: how long the search may run and how many trials it may start."""

from __future__ import annotations

import re

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
