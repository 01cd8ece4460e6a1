"""How much room a feature model gives cold items in its lists: one offset, set on validation.

A Keras family with item features scores an item its training stage has no interaction of (a
*cold* item) from the item's attributes alone, while a known item also has its id part. The two
kinds of scores come from different sums, so nothing makes them comparable: measured on Beauty,
a SASRec with attributes gave cold items 0.6% of its list slots while 5% of the validation
targets were cold (validation HR@10 on the cold targets 0.011, as the content baseline's), and
0.045 once they had 8% of the slots. One offset added to every cold item's score sets how the
two kinds are interleaved.

The offset is set so that cold items fill the share of the validation lists' slots that cold
items are of the validation targets (:func:`cold_share`, :func:`offset_for_share`): new items
get the room that users' next choices give them, which is also how they gather the interactions
they lack. The search's metric alone does not settle it: near its best it is flat in the offset
(what known targets lose is what cold targets gain), so the offset that scores highest is noise
(on Beauty it jumped between -0.7 and +0.2 from one epoch to the next). The offset stays 0 when
too few validation targets are cold to tell their share (``MIN_COLD_CASES``).

The share, not the offset, is what a later stage's model keeps: its offset is set again so that
its cold items fill that share of the validation users' lists (a later stage has other cold
items, and a retrained model other scores).

No list is built per candidate offset: the j-th best cold item of a list enters it when its score
plus the offset beats the (K + 1 - j)-th best known item's, so the share of slots the cold items
fill at an offset is the share of these gaps below it (:class:`ListParts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.sparse as sp

from automl_rec.data.splitting import Holdout
from automl_rec.evaluation.metrics import mask_seen

# Fewer cold validation targets than this leave the offset at 0 (too few to tell their share).
MIN_COLD_CASES = 20
# The keys of the offset and of the share of list slots it gives cold items among a trial's
# validation figures (the share is set again on each later stage's model).
COLD_OFFSET, COLD_SHARE = "cold_offset", "cold_share"


def cold_room_sentence(valid: dict[str, float]) -> str | None:
    """How the selected model's lists make room for cold items, in one sentence for the
    terminal and the report, from its validation figures (``None`` when it scores no item
    from attributes alone)."""
    if COLD_OFFSET not in valid:
        return None
    if COLD_SHARE in valid:
        return (f"Cold items (scored from their attributes alone) get "
                f"{valid[COLD_SHARE]:.1%} of the selected model's list slots, the share of the "
                f"validation targets that were cold: an offset added to their scores "
                f"({valid[COLD_OFFSET]:+.3f} on validation) is set so on each stage's model.")
    cases = int(valid.get("cold_cases", 0))
    return (f"Cold items (scored from their attributes alone) keep their raw scores, usually "
            f"below the known items': {cases} of the validation targets "
            f"{'was' if cases == 1 else 'were'} cold, fewer than "
            f"the {MIN_COLD_CASES} needed to tell how much room they should get.")


@dataclass
class ListParts:
    """What decides how many cold items each list of K takes under any offset.

    Attributes:
        warm_top: ``[lists, K]`` the best scores of known items, best first (``-inf`` pads).
        cold_top: ``[lists, K]`` the same for cold items.
    """

    warm_top: np.ndarray
    cold_top: np.ndarray

    @classmethod
    def of(cls, scores: np.ndarray, cold: np.ndarray, k: int) -> ListParts:
        """The parts of lists of ``k`` from ``[lists, n_items]`` scores (seen items ``-inf``)."""
        return cls(best(np.where(cold[None, :], -np.inf, scores), k),
                   best(np.where(cold[None, :], scores, -np.inf), k))

    @classmethod
    def joined(cls, parts: list[ListParts]) -> ListParts:
        """The lists of ``parts`` (batches of users) as one."""
        return cls(np.concatenate([p.warm_top for p in parts]),
                   np.concatenate([p.cold_top for p in parts]))

    def gaps(self) -> np.ndarray:
        """The sorted offsets at which one more cold item enters a list (``inf`` where none
        can: fewer than K cold items, or fewer than K items in all)."""
        gaps = self.warm_top[:, ::-1] - self.cold_top
        return np.sort(np.nan_to_num(gaps, nan=np.inf).ravel())

    def offset_for(self, share: float) -> float:
        """The offset at which cold items fill ``share`` of the lists' slots."""
        gaps = self.gaps()
        finite = gaps[np.isfinite(gaps)]
        if not len(finite):
            return 0.0
        return float(gaps[min(int(share * len(gaps)), len(finite) - 1)])

    def positions(self, target_scores: np.ndarray, target_cold: np.ndarray,
                  offset: float) -> np.ndarray:
        """The 0-based position of each list's target under ``offset`` (-1 when it is not
        among the K), from its score with no offset and whether it is cold: the items of
        the list's parts that score above it (a target tied with another item goes first)."""
        offset = np.asarray(offset, dtype=self.cold_top.dtype)  # the lists' own precision
        shifted = target_scores + offset * target_cold
        above = ((self.warm_top > shifted[:, None]).sum(axis=1)
                 + (self.cold_top + offset > shifted[:, None]).sum(axis=1))
        return np.where(np.isfinite(target_scores) & (above < self.warm_top.shape[1]),
                        above, -1)


def best(scores: np.ndarray, k: int) -> np.ndarray:
    """``[rows, k]`` the ``k`` highest values of each row, highest first (``-inf`` pads)."""
    k_here = min(k, scores.shape[1])
    top = -np.partition(-scores, k_here - 1, axis=1)[:, :k_here]
    top = -np.sort(-top, axis=1)
    return np.pad(top, ((0, 0), (0, k - k_here)), constant_values=-np.inf)


def cold_share(holdout: Holdout, cold: np.ndarray) -> float | None:
    """The share of ``holdout``'s targets that are cold items (``None`` with fewer than
    ``MIN_COLD_CASES`` of them: too few to tell)."""
    cold_targets = int(cold[holdout.targets].sum())
    if cold_targets < MIN_COLD_CASES:
        return None
    return cold_targets / len(holdout.targets)


def offset_for_share(score_fn: Callable[[np.ndarray], np.ndarray], users: np.ndarray,
                     seen: sp.csr_matrix | None, cold: np.ndarray, share: float, k: int,
                     batch_size: int = 1024) -> float:
    """The offset at which cold items fill ``share`` of the slots of ``users``' lists of ``k``.

    Args:
        score_fn: The model's scores with no offset (``[batch, n_items]`` per user batch).
        users: The users whose lists are measured.
        seen: User x item matrix of the items masked from each list (``None``: none).
        cold: Per item, whether the model's stage has no interaction of it.
        share: The share of the list slots the cold items are to fill.
        k: List length.
    """
    parts = []
    for start in range(0, len(users), batch_size):
        batch = users[start:start + batch_size]
        scores = np.array(score_fn(batch), dtype=np.float32, copy=True)
        if seen is not None:
            mask_seen(scores, batch, seen)
        parts.append(ListParts.of(scores, cold, k))
    return ListParts.joined(parts).offset_for(share)
