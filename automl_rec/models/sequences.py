"""Windows over users' time-ordered histories, for models that read recent items (numpy only).

Item indices are shifted by one inside windows so that ``0`` can mean "no item" (padding).
Windows are right-aligned: the most recent item is in the last column.
"""

from __future__ import annotations

import numpy as np

from automl_rec.data.splitting import StageData

PAD = 0


def _windows(items: np.ndarray, starts: np.ndarray, ends: np.ndarray, length: int) -> np.ndarray:
    """Items ``[end - length, end)`` of each row, clipped at ``start``, left-padded with 0."""
    index = ends[:, None] - length + np.arange(length)[None, :]
    valid = index >= starts[:, None]
    picked = items[np.clip(index, 0, max(len(items) - 1, 0))] + 1 if len(items) else index * 0
    return np.where(valid, picked, PAD).astype(np.int32)


def training_windows(data: StageData, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every interaction after a user's first: the window of items before it, and the item.

    Returns:
        ``(windows [n, length], targets [n], users [n])``; targets are plain item indices.
    """
    rows = np.arange(len(data.items))
    starts = data.offsets[data.users]
    keep = rows > starts
    rows, starts = rows[keep], starts[keep]
    return _windows(data.items, starts, rows, length), data.items[rows], data.users[rows]


def sequence_chunks(data: StageData, length: int, stride: int | None = None) -> np.ndarray:
    """Every user's history cut into windows of ``length`` items, counted back from the end.

    Window ``k`` of a user ends ``k * stride`` items before the user's last item; windows stop
    once they reach the user's first item. With ``stride = length - 1`` consecutive windows share
    one item, so that next-item models trained on ``window[:-1] -> window[1:]`` see every
    transition exactly once.

    Returns:
        ``[n_windows, length]`` item indices + 1, left-padded with 0.
    """
    stride = stride or length
    counts = np.diff(data.offsets)
    present = np.flatnonzero(counts > 0)
    counts = counts[present]
    windows = np.maximum(1, -(-(counts - length) // stride) + 1)
    user = np.repeat(present, windows)
    k = np.arange(len(user)) - np.repeat(np.cumsum(windows) - windows, windows)
    ends = data.offsets[user + 1] - k * stride
    return _windows(data.items, data.offsets[user], ends, length)
