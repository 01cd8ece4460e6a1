"""A family whose model misbehaves on demand (``mode``): raise inside fit, NaN loss, or fine."""

from __future__ import annotations

from typing import Any

import numpy as np

from automl_rec.data.profiling import DataProfile
from automl_rec.data.splitting import StageData
from automl_rec.spaces import SearchSpace

NAME = "broken"
SPACE = """
family: broken
parameters:
  mode: {type: categorical, choices: [raise, nan, ok], default: %s}
"""


def unsupported_reason(profile: DataProfile) -> str | None:
    return None


def adapt_space(space: SearchSpace, profile: DataProfile) -> SearchSpace:
    return space


def build(params: dict[str, Any], data: StageData, seed: int) -> BrokenModel:
    return BrokenModel(params["mode"], data)


class BrokenModel:
    def __init__(self, mode: str, data: StageData) -> None:
        self.mode, self.data = mode, data

    def count_params(self) -> int:
        return 0

    def fit_epoch(self, until: float | None = None) -> float:
        if self.mode == "raise":
            raise RuntimeError("boom inside fit")
        return float("nan") if self.mode == "nan" else 1.0

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.tile(self.data.item_counts.astype(np.float32), (len(users), 1))

    def get_weights(self) -> list[np.ndarray]:
        return []

    def set_weights(self, weights: list[np.ndarray]) -> None:
        pass
