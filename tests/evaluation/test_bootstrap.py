from __future__ import annotations

import numpy as np
import pytest

from automl_rec.evaluation import paired_bootstrap


def test_identical_models_give_a_zero_interval() -> None:
    a = np.array([0.0, 1.0, 0.5, 0.25])
    interval = paired_bootstrap(a, a)
    assert (interval.difference, interval.low, interval.high) == (0.0, 0.0, 0.0)
    assert not interval.significant


def test_clear_difference_is_significant_and_interval_contains_the_mean() -> None:
    rng = np.random.default_rng(1)
    b = rng.random(500)
    a = b + 0.1 + rng.normal(0, 0.05, 500)
    interval = paired_bootstrap(a, b, seed=3)
    assert interval.low < interval.difference < interval.high
    assert interval.low > 0.09 and interval.high < 0.11
    assert interval.significant


def test_same_seed_same_interval_and_mismatched_lengths_fail() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.random(100), rng.random(100)
    assert paired_bootstrap(a, b, seed=5) == paired_bootstrap(a, b, seed=5)
    with pytest.raises(ValueError, match="equal length"):
        paired_bootstrap(a, b[:10])
