from __future__ import annotations

import numpy as np

from automl_rec.data.splitting import Holdout, StageData
from automl_rec.evaluation.sampling import SEARCH_VALIDATION_USERS, sample_holdout


def holdout(n: int) -> Holdout:
    users = np.arange(0, 3 * n, 3)
    history = StageData(np.zeros(1, np.int64), np.zeros(1, np.int64), 3 * n, 7)
    return Holdout(users, users * 10 + 1, history)


def test_a_small_holdout_is_returned_unchanged() -> None:
    whole = holdout(40)
    assert sample_holdout(whole, max_users=40) is whole
    assert SEARCH_VALIDATION_USERS == 50_000


def test_same_seed_same_users_and_targets_stay_aligned() -> None:
    whole = holdout(1000)
    first = sample_holdout(whole, max_users=100, seed=3)
    again = sample_holdout(whole, max_users=100, seed=3)
    other = sample_holdout(whole, max_users=100, seed=4)
    assert len(first.users) == 100 and len(set(first.users)) == 100
    np.testing.assert_array_equal(first.users, again.users)
    assert not np.array_equal(first.users, other.users)
    assert (np.diff(first.users) > 0).all()  # original order kept
    assert set(first.users) <= set(whole.users)
    np.testing.assert_array_equal(first.targets, first.users * 10 + 1)
    assert first.history is whole.history
