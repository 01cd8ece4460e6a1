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


def recent_items(data: StageData, users: np.ndarray, length: int) -> np.ndarray:
    """The last ``length`` items of each user's history in ``data`` (``[len(users), length]``)."""
    users = np.asarray(users)
    return _windows(data.items, data.offsets[users], data.offsets[users + 1], length)


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
