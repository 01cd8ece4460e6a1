"""Synthetic interaction logs with planted, learnable structure.

The generator in this module produces an e-commerce style event log
(``customer_id``, ``sku``, ``category``, ``event``, ``timestamp``) that is
useful for examples, tests and benchmarks. The log is not random noise: it
contains the kinds of signal real shop logs have, so that a model that
learns should beat a popularity baseline by a wide margin:

* **Popularity skew** -- item popularity follows a Zipf-like law.
* **Category tastes** -- every user draws a Dirichlet taste vector with a
  small concentration, so most users focus on one to three categories.
* **Sequential patterns** -- every item has one to three "next" items
  (mostly in the same category); with probability ``follow_prob`` a user's
  next interaction is one of the previous item's next items.
* **Few repeats** -- users rarely interact with the same item twice.

Everything is driven by a single seed, so the same arguments always give
the same frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["make_interactions"]

# Tunable constants of the generative process. They are module level so the
# structure of the data is documented in one place.
_ZIPF_EXPONENT = 1.05  # item popularity ~ 1 / rank ** exponent
_TASTE_ALPHA_PER_CATEGORY = 0.12  # Dirichlet concentration per category
_TASTE_SMOOTHING = 0.03  # share of a taste vector spread over all categories
_FOLLOW_PROB = 0.4  # chance to continue with a "next" item of the last item
_SUCCESSOR_SAME_CATEGORY = 0.85  # share of "next" items in the same category
_SUCCESSOR_WEIGHTS = np.array([0.6, 0.3, 0.1])  # preference among next items
_REPEAT_PROB = 0.015  # deliberate re-interaction with a recent item
_MAX_RETRIES = 8  # redraws when a candidate item was already seen
_START_WINDOW_DAYS = 180.0  # users start uniformly within this window
_SESSION_GAP_PROB = 0.75  # share of gaps that are within a session
_SESSION_GAP_MEAN_S = 4 * 60.0  # mean gap inside a session (seconds)
_BREAK_GAP_MEAN_S = 2.5 * 86400.0  # mean gap between sessions (seconds)
_EVENTS = np.array(["view", "add_to_cart", "purchase"])
_EVENT_PROBS = np.array([0.80, 0.13, 0.07])
_REPEAT_EVENT_PROBS = np.array([0.40, 0.35, 0.25])


def _draw_in_group(
    rng: np.random.Generator,
    group_cum: np.ndarray,
    group_items: np.ndarray,
    groups: np.ndarray,
) -> np.ndarray:
    """Draws one item per requested group, by the groups' item weights.

    ``group_cum`` holds, for items sorted by group, ``group + cumulative
    within-group probability``; so a draw for group ``g`` is a search for
    ``g + u`` with ``u`` uniform in ``[0, 1)``.

    Args:
        rng: Random generator.
        group_cum: Offset cumulative probabilities, sorted ascending.
        group_items: Item index for each entry of ``group_cum``.
        groups: Group index for each draw.

    Returns:
        Item indices, one per entry of ``groups``.
    """
    u = rng.random(groups.shape[0])
    pos = np.searchsorted(group_cum, groups + u, side="right")
    return group_items[np.minimum(pos, group_items.shape[0] - 1)]


def _group_cumulative(
    groups: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Builds the offset cumulative table used by :func:`_draw_in_group`.

    Args:
        groups: Group index of every item (every group must be non-empty).
        weights: Positive weight of every item.

    Returns:
        A pair ``(group_cum, group_items)``.
    """
    order = np.lexsort((np.arange(groups.shape[0]), groups))
    g = groups[order]
    w = weights[order].astype(np.float64)
    totals = np.bincount(g, weights=w)
    cum = np.cumsum(w)
    starts = np.concatenate(([0.0], np.cumsum(totals)[:-1]))
    within = (cum - starts[g]) / totals[g]
    # Guard against round-off so that every entry stays inside [g, g + 1].
    within = np.clip(within, 0.0, 1.0)
    within[np.r_[g[1:] != g[:-1], True]] = 1.0
    return g + within, order


def _format_ids(prefix: str, n: int, width: int) -> np.ndarray:
    """Returns ``n`` zero-padded identifiers such as ``C000123``.

    Args:
        prefix: Text before the number.
        n: How many identifiers.
        width: Minimum number of digits.

    Returns:
        An array of strings.
    """
    return np.array([f"{prefix}{i:0{width}d}" for i in range(n)])


def make_interactions(
    n_users: int = 2000,
    n_items: int = 800,
    n_categories: int = 16,
    mean_history: float = 25.0,
    seed: int = 0,
    start: str = "2024-01-01",
) -> pd.DataFrame:
    """Generates a seeded e-commerce interaction log with planted structure.

    Items belong to categories and have Zipf-like popularity. Each user has a
    sparse taste over categories. Each item has one to three "next" items;
    with probability 0.4 a user's next interaction is one of those,
    otherwise the user picks a category from their taste and an item from
    that category by popularity. Users rarely repeat items (well under 5% of
    rows). History lengths are geometric with mean ``mean_history`` and at
    least 3. Each user starts at a random moment within about 180 days of
    ``start``; gaps between events are exponential, mostly minutes (within a
    session) and sometimes days (between sessions).

    Args:
        n_users: Number of users; every user has at least 3 rows.
        n_items: Catalogue size (at least 2 and at least ``n_categories``).
        n_categories: Number of item categories.
        mean_history: Mean number of interactions per user (at least 3).
        seed: Seed; the same arguments give an identical frame.
        start: Earliest possible timestamp, anything ``pandas.Timestamp``
            accepts.

    Returns:
        A frame with columns ``customer_id`` (e.g. ``"C000123"``), ``sku``
        (e.g. ``"SKU-04211"``), ``category`` (e.g. ``"cat-07"``), ``event``
        (``"view"``, ``"add_to_cart"`` or ``"purchase"``) and ``timestamp``
        (ISO 8601 text with seconds, e.g. ``"2024-03-05 14:22:10"``), sorted
        by timestamp, with a fresh ``RangeIndex``. About
        ``n_users * mean_history`` rows.

    Raises:
        ValueError: If an argument is out of range.
    """
    if n_users < 1:
        raise ValueError(f"n_users must be at least 1, got {n_users}")
    if n_categories < 1:
        raise ValueError(f"n_categories must be at least 1, got {n_categories}")
    if n_items < max(2, n_categories):
        raise ValueError(
            f"n_items must be at least max(2, n_categories), got {n_items}"
        )
    if not mean_history >= 3:
        raise ValueError(f"mean_history must be at least 3, got {mean_history}")
    origin = pd.Timestamp(start)

    rng = np.random.default_rng(seed)

    # ---- catalogue: categories and popularity -------------------------------
    cat_share = rng.dirichlet(np.full(n_categories, 3.0))
    item_cat = np.concatenate(
        (
            np.arange(n_categories),
            rng.choice(n_categories, size=n_items - n_categories, p=cat_share),
        )
    )
    rng.shuffle(item_cat)
    ranks = rng.permutation(n_items)
    popularity = 1.0 / (ranks + 1.0) ** _ZIPF_EXPONENT
    popularity /= popularity.sum()

    cat_cum, cat_items = _group_cumulative(item_cat, popularity)
    # Successors favour popular items less strongly than users do, so that
    # the sequential signal is not just popularity in disguise.
    succ_cum, succ_items = _group_cumulative(item_cat, np.sqrt(popularity))
    all_cum, all_items = _group_cumulative(np.zeros(n_items, np.int64), popularity)

    # ---- sequential structure: 1-3 "next" items per item --------------------
    n_succ = rng.integers(1, 4, size=n_items)
    successors = np.empty((n_items, 3), dtype=np.int64)
    for slot in range(3):
        same = rng.random(n_items) < _SUCCESSOR_SAME_CATEGORY
        cand = np.where(
            same,
            _draw_in_group(rng, succ_cum, succ_items, item_cat),
            _draw_in_group(rng, all_cum, all_items, np.zeros(n_items, np.int64)),
        )
        for _ in range(4):  # avoid self loops where possible
            bad = cand == np.arange(n_items)
            if not bad.any():
                break
            cand[bad] = rng.integers(0, n_items, size=int(bad.sum()))
        bad = cand == np.arange(n_items)
        cand[bad] = (np.flatnonzero(bad) + 1) % n_items
        successors[:, slot] = cand
    succ_w = np.where(np.arange(3) < n_succ[:, None], _SUCCESSOR_WEIGHTS, 0.0)
    succ_cdf = np.cumsum(succ_w / succ_w.sum(axis=1, keepdims=True), axis=1)

    # ---- users: tastes and history lengths ----------------------------------
    alpha = _TASTE_ALPHA_PER_CATEGORY * n_categories * (0.5 * cat_share + 0.5 / n_categories)
    tastes = rng.dirichlet(alpha, size=n_users)
    tastes = np.nan_to_num(tastes, nan=0.0)
    tastes = (1.0 - _TASTE_SMOOTHING) * tastes + _TASTE_SMOOTHING * cat_share
    tastes /= tastes.sum(axis=1, keepdims=True)
    taste_cum, _ = _group_cumulative(
        np.repeat(np.arange(n_users), n_categories), tastes.ravel()
    )
    taste_cum = taste_cum.reshape(n_users, n_categories)
    taste_cum[:, -1] = np.arange(n_users) + 1.0
    taste_flat = taste_cum.ravel()

    def draw_from_taste(users: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(taste_flat, users + rng.random(users.shape[0]), side="right")
        cats = np.minimum(pos - users * n_categories, n_categories - 1)
        return _draw_in_group(rng, cat_cum, cat_items, cats)

    p_geom = 1.0 / max(mean_history - 2.0, 1.0)
    lengths = 2 + rng.geometric(p_geom, size=n_users)
    # Walk users longest first so that the active users at step t are a prefix.
    by_length = np.argsort(-lengths, kind="stable")
    sorted_lengths = lengths[by_length]
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    total = int(lengths.sum())
    items = np.empty(total, dtype=np.int64)
    repeated = np.zeros(total, dtype=bool)

    # ---- sequences, one step at a time, vectorised over users ---------------
    for t in range(int(sorted_lengths[0])):
        n_active = int(np.searchsorted(-sorted_lengths, -t, side="left"))
        users = by_length[:n_active]
        where = offsets[users] + t
        if t == 0:
            items[where] = draw_from_taste(users)
            continue
        history = items[offsets[users][:, None] + np.arange(t)]
        prev = history[:, -1]
        cand = draw_from_taste(users)
        follow = rng.random(n_active) < _FOLLOW_PROB
        if follow.any():
            u = rng.random(int(follow.sum()))
            slot = (succ_cdf[prev[follow]] < u[:, None]).sum(axis=1)
            cand[follow] = successors[prev[follow], np.minimum(slot, 2)]
        # Redraw candidates the user has already seen.
        pending = np.flatnonzero((history == cand[:, None]).any(axis=1))
        for attempt in range(_MAX_RETRIES + 2):
            if pending.size == 0:
                break
            if attempt < _MAX_RETRIES:
                new = draw_from_taste(users[pending])
            else:  # fall back to the whole catalogue
                new = _draw_in_group(
                    rng, all_cum, all_items, np.zeros(pending.size, np.int64)
                )
            cand[pending] = new
            clash = (history[pending] == new[:, None]).any(axis=1)
            pending = pending[clash]
        # A few deliberate re-interactions with one of the last items.
        again = np.flatnonzero(rng.random(n_active) < _REPEAT_PROB)
        if again.size:
            back = rng.integers(1, min(t, 5) + 1, size=again.size)
            cand[again] = history[again, t - back]
        items[where] = cand
        is_repeat = np.zeros(n_active, dtype=bool)
        is_repeat[pending] = True
        is_repeat[again] = True
        repeated[where] = is_repeat

    # ---- events --------------------------------------------------------------
    u = rng.random(total)
    event_idx = np.where(
        repeated,
        np.searchsorted(np.cumsum(_REPEAT_EVENT_PROBS), u, side="right"),
        np.searchsorted(np.cumsum(_EVENT_PROBS), u, side="right"),
    )
    event_idx = np.minimum(event_idx, len(_EVENTS) - 1)

    # ---- timestamps ----------------------------------------------------------
    user_of_row = np.repeat(np.arange(n_users), lengths)
    first_row = np.zeros(total, dtype=bool)
    first_row[offsets] = True
    start_s = rng.random(n_users) * _START_WINDOW_DAYS * 86400.0
    in_session = rng.random(total) < _SESSION_GAP_PROB
    gaps = np.where(
        in_session,
        rng.exponential(_SESSION_GAP_MEAN_S, size=total),
        rng.exponential(_BREAK_GAP_MEAN_S, size=total),
    )
    gaps = gaps.astype(np.int64) + 1  # at least one second: strictly increasing
    gaps[first_row] = start_s.astype(np.int64)
    running = np.cumsum(gaps)
    seconds = running - np.repeat(running[offsets] - gaps[offsets], lengths)

    position = np.arange(total) - np.repeat(offsets, lengths)
    order = np.lexsort((position, user_of_row, seconds))

    stamps = np.datetime64(origin.to_datetime64(), "s") + seconds[order].astype(
        "timedelta64[s]"
    )
    stamp_text = np.char.replace(np.datetime_as_string(stamps, unit="s"), "T", " ")

    user_ids = _format_ids("C", n_users, 6)
    sku_ids = _format_ids("SKU-", n_items, 5)
    cat_ids = _format_ids("cat-", n_categories, 2)
    rows_items = items[order]
    return pd.DataFrame(
        {
            "customer_id": user_ids[user_of_row[order]],
            "sku": sku_ids[rows_items],
            "category": cat_ids[item_cat[rows_items]],
            "event": _EVENTS[event_idx[order]],
            "timestamp": stamp_text,
        }
    )
