"""Where the training windows over users' time-ordered histories end (numpy only).

A window is named by its user and its end (the position, in the stage's interaction arrays, just
after its last item); the items themselves are gathered batch by batch inside the training
pipeline (:func:`automl_rec.models.keras_base.gather_windows`), so memory stays proportional to
the number of interactions, not to interactions times window length. Windows are right-aligned
(most recent item last), clipped at the user's first item and left-padded with 0.
"""

from __future__ import annotations

import numpy as np

from automl_rec.data.splitting import StageData


def interaction_windows(data: StageData) -> tuple[np.ndarray, np.ndarray]:
    """One window per interaction after a user's first: the items before it.

    Returns:
        ``(users, ends)``; ``ends`` is the position of the predicted interaction itself, so the
        window holds the user's items before it and ``data.items[ends]`` is the target.
    """
    rows = np.arange(len(data.items))
    keep = rows > data.offsets[data.users]
    return data.users[keep], rows[keep]


def history_windows(data: StageData, length: int, stride: int | None = None,
                    min_items: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Every user's history cut into windows of ``length`` items, counted back from the end.

    Window ``k`` of a user ends ``k * stride`` items before the end of the user's history;
    windows stop once they reach the user's first item. With ``stride = length - 1``
    consecutive windows share one item, so that next-item models trained on
    ``window[:-1] -> window[1:]`` see every transition exactly once.

    Args:
        data: The stage's interactions.
        length: Window length.
        stride: Distance between the ends of consecutive windows (default ``length``).
        min_items: Windows holding fewer items than this are left out.

    Returns:
        ``(users, ends)`` of the windows, users in order, each user's windows from the end back.
    """
    stride = stride or length
    counts = np.diff(data.offsets)
    present = np.flatnonzero(counts > 0)
    counts = counts[present]
    windows = np.maximum(1, -(-(counts - length) // stride) + 1)
    users = np.repeat(present, windows)
    k = np.arange(len(users)) - np.repeat(np.cumsum(windows) - windows, windows)
    ends = data.offsets[users + 1] - k * stride
    held = np.minimum(ends - data.offsets[users], length)
    keep = held >= min_items
    return users[keep], ends[keep]
