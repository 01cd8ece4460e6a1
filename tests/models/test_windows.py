"""Training windows gathered in the pipeline equal the windows cut from the histories in numpy."""

from __future__ import annotations

import numpy as np
import pytest

from automl_rec.data.splitting import StageData
from automl_rec.models.sequences import history_windows, interaction_windows


def stage(lengths: list[int], n_items: int = 9, seed: int = 0) -> StageData:
    users = np.repeat(np.arange(len(lengths)), lengths)
    items = np.random.default_rng(seed).integers(0, n_items, len(users))
    return StageData(users, items, len(lengths), n_items)


def numpy_windows(data: StageData, starts: np.ndarray, ends: np.ndarray,
                  length: int) -> np.ndarray:
    """Reference: each window cut out of the user's history with plain Python slicing."""
    out = np.zeros((len(ends), length), dtype=np.int32)
    for row, (start, end) in enumerate(zip(starts, ends)):
        cut = data.items[max(start, end - length):end] + 1
        if len(cut):
            out[row, -len(cut):] = cut
    return out


def reference_chunks(data: StageData, length: int, stride: int) -> np.ndarray:
    """Reference: each user's history cut from the end back in steps of ``stride``."""
    chunks = []
    for user in range(data.n_users):
        start, end = data.offsets[user], data.offsets[user + 1]
        if end == start:
            continue
        while True:
            chunks.append(numpy_windows(data, np.array([start]), np.array([end]), length)[0])
            if end - length <= start:
                break
            end -= stride
    return np.array(chunks, dtype=np.int32).reshape(-1, length)


LENGTHS = [0, 1, 2, 5, 7, 13, 3, 0, 21]


@pytest.mark.parametrize("length, stride", [(4, 3), (5, 5), (6, 2), (30, 29)])
def test_history_windows_gather_the_reference_chunks(length: int, stride: int) -> None:
    from automl_rec.models.keras_base import Histories

    data = stage(LENGTHS)
    users, ends = history_windows(data, length, stride)
    streamed = np.asarray(Histories.of(data).windows(users, ends, length))
    np.testing.assert_array_equal(streamed, reference_chunks(data, length, stride))


def test_min_items_drops_the_short_windows() -> None:
    from automl_rec.models.keras_base import Histories

    data = stage(LENGTHS)
    users, ends = history_windows(data, 6, 5, min_items=2)
    streamed = np.asarray(Histories.of(data).windows(users, ends, 6))
    reference = reference_chunks(data, 6, 5)
    np.testing.assert_array_equal(streamed, reference[(reference > 0).sum(axis=1) >= 2])


def test_interaction_windows_hold_the_items_before_each_target() -> None:
    from automl_rec.models.keras_base import Histories

    data = stage(LENGTHS)
    users, ends = interaction_windows(data)
    history = Histories.of(data)
    streamed = np.asarray(history.windows(users, ends, 4))
    assert len(ends) == sum(n - 1 for n in LENGTHS if n)
    np.testing.assert_array_equal(streamed, numpy_windows(data, data.offsets[users], ends, 4))
    np.testing.assert_array_equal(np.asarray(history.items_at(ends)), data.items[ends])
    assert (data.users[ends] == users).all() and (ends > data.offsets[users]).all()
