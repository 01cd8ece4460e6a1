from __future__ import annotations

import pytest

from automl_rec.errors import ConfigurationError
from automl_rec.tuning.budget import parse_duration


@pytest.mark.parametrize("text, seconds", [
    ("90s", 90), ("10m", 600), ("1h", 3600), ("1h30m", 5400), ("45", 45), (" 2m ", 120),
    (1.5, 1.5), ("0.5h", 1800),
])
def test_durations(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0", "0s", "-5", "ten minutes", "10x", "", "m"])
def test_bad_or_zero_durations_are_configuration_errors(text: str) -> None:
    with pytest.raises(ConfigurationError, match="time budget"):
        parse_duration(text)
