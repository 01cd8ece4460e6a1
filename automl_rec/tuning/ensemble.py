"""The ensemble candidate of a ranking fit: the best families' models averaged
(:class:`~automl_rec.models.ensemble.Ensemble`), kept when validation says it beats each of
them alone.

The pool is the best trial of each family the search promoted (scored on test, weights held by
this process), best on validation first, and where the best one reads ids only, the best trial
that reads the item table (or the other way round; see :func:`bridge_trial`), second: a model
that ranks cold items from their attributes beside models that rank known items best (the
ensemble ranks each item by the members that rank it, and gives its cold items the room they
had on validation, :mod:`automl_rec.models.ensemble`); at most :data:`MAX_MEMBERS` in all.
Every subset of the pool, single models included, is judged on the search's validation users
with each member scored once per batch of users, and as its ensemble would rank (a mixed
subset's cold items with the room its offset gives them, :func:`subset_values`); the best
subset wins. When it has two members or more it becomes a candidate like any other (named
``ensemble/caser #0 + sasrec #2`` after its members' designs and trial numbers): its validation
figures are those of the ensemble judged again, which sets its cold-item offset, its test
figures those of its members' test models (each brought to train + validation as for its own
test score) averaged the same way, and the exported model is its members brought to all the
data.

A member adds a refit on all the data to the end of the fit, and two scorings (the ensemble's
validation and test figures): a member joins the pool only when these fit in the time the
budget has left with those of the members before it, the refit foreseen by what the member's
test refit took (the same plan on a stage almost as large) and a scoring by its trial's epochs
(:func:`scoring_seconds`); one that does not fit leaves room to a quicker one further down.
The best model's own refit is made whatever the pool, and the search kept time for it.
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any, Callable, NamedTuple

import numpy as np

from automl_rec.data.splitting import Split
from automl_rec.evaluation.cold_offset import ListParts, cold_share
from automl_rec.evaluation.metrics import mask_seen, positions_metric
from automl_rec.leaderboard import COMPLETE, ENSEMBLE, CandidateResult, candidate_name
from automl_rec.models.ensemble import (Ensemble, blend, log_softmax, partly_ranked,
                                        scored_by)
from automl_rec.tuning.trial import TrialSettings, train_for

logger = logging.getLogger("automl_rec")

MAX_MEMBERS = 4
_BATCH_CELLS = 2**24  # score cells of one batch of users, over all members


class TestModel(NamedTuple):
    """A candidate's model on train + validation (its test score's) and the seconds it took
    to build, train and score."""

    model: Any
    seconds: float


def ensemble_candidate(results: list[CandidateResult], test_models: dict[int, TestModel],
                       split: Split, settings: TrialSettings, seed: int,
                       seconds_left: float | None) -> CandidateResult | None:
    """The ensemble of the best subset of the pool, or ``None`` when one model alone is
    best on validation (or fewer than two models qualify).

    Args:
        results: Every candidate of the fit.
        test_models: Each pool candidate's test model (on train + validation), by ``id`` of
            its result.
        split: The fit's split.
        settings: The objective and its cut-off.
        seed: The fit's seed (trial ``n`` used ``seed + n``).
        seconds_left: Time the budget has left (``None``: no time budget).
    """
    started = time.perf_counter()
    pool = _pool(results, test_models, settings, seconds_left)
    if len(pool) < 2:
        return None
    objective = settings.objective
    models = [_validation_model(result, split, settings, seed) for result in pool]
    cases = objective.validation_cases(split, models[0])
    subsets = [subset for size in range(1, len(pool) + 1)
               for subset in itertools.combinations(range(len(pool)), size)]
    values = subset_values(models, subsets, cases, split.exclude_seen, settings.metric,
                           settings.k)
    best = subsets[int(np.argmax(values))]
    logger.info("ensemble: validation %s of each subset of %s: %s", objective.key,
                [candidate_name(r) for r in pool],
                {"+".join(str(i) for i in subset): round(v, 5)
                 for subset, v in zip(subsets, values)})
    if len(best) < 2:
        return None
    members = [pool[i] for i in best]
    valid = objective.judge(Ensemble([models[i] for i in best]), split, cases)
    tested = Ensemble([test_models[id(m)].model for m in members])
    objective.settle(tested, split, "train_valid", valid)
    test, test_result = objective.test(tested, split)
    params: dict[str, Any] = {"members": [candidate_name(m) for m in members]}
    uses = [m.params["item_features"] for m in members if "item_features" in m.params]
    if uses:
        params["item_features"] = ATTRIBUTES if ATTRIBUTES in uses else uses[0]
    designs = " + ".join(f"{m.model} #{m.number}" for m in members)  # designs name families
    return CandidateResult(
        ENSEMBLE, designs, params, COMPLETE, valid=valid, test=test, test_result=test_result,
        seconds=time.perf_counter() - started,
        n_params=sum(m.n_params or 0 for m in members) or None, members=members)


def _pool(results: list[CandidateResult], test_models: dict[int, TestModel],
          settings: TrialSettings, seconds_left: float | None) -> list[CandidateResult]:
    """The models that may join, the best on validation first and the bridge trial second
    (:func:`bridge_trial`), then the others best first, each whose extra refit on all the
    data and two scorings (the ensemble's validation and test figures) still fit in
    ``seconds_left`` with those of the members before it."""
    scored = sorted((r for r in results if r.status == COMPLETE and id(r) in test_models
                     and r.weights is not None),
                    key=lambda r: settings.objective.score(r.valid), reverse=True)
    if not scored:
        return []
    bridge = bridge_trial(scored, settings.objective.score)
    order = [scored[0]] + ([bridge] if bridge is not None else []) + [
        r for r in scored[1:] if r is not bridge]

    def scorings(result: CandidateResult) -> float:  # the ensemble's validation and test
        return 2 * scoring_seconds(result, test_models[id(result)].seconds)

    pool, cost = [order[0]], scorings(order[0])
    for result in order[1:]:
        if len(pool) == MAX_MEMBERS:
            break
        seconds = test_models[id(result)].seconds + scorings(result)
        if seconds_left is not None and cost + seconds > seconds_left:
            continue  # a quicker one further down may still fit
        cost += seconds
        pool.append(result)
    return pool


def scoring_seconds(result: CandidateResult, tested: float = 0.0) -> float:
    """Rough seconds of scoring a trial's model on the validation users once: its epochs'
    mean time less their training (``tested``: the seconds of its test score, which its
    time includes once it has one)."""
    if not result.curve or result.epoch_seconds is None:
        return 0.0
    return max((result.seconds - tested) / len(result.curve) - result.epoch_seconds, 0.0)


ATTRIBUTES = "attributes"  # the item_features choice of a design that reads the item table


def reads_attributes(result: CandidateResult) -> bool:
    """Whether a trial's model reads the item table's attributes."""
    return result.params.get("item_features") == ATTRIBUTES


def bridge_trial(trials: list[CandidateResult],
                 score: Callable[[dict[str, float]], float]) -> CandidateResult | None:
    """The best of ``trials`` (by ``score`` of their validation figures) that uses the item
    table otherwise than the best of all does, among trials that had the choice: with a best
    model reading ids only, the best one that ranks cold items from their attributes (or the
    other way round); ``None`` when there is none."""
    chosen = [t for t in trials if t.status == COMPLETE and "item_features" in t.params]
    if not chosen:
        return None
    ranked = sorted(chosen, key=lambda t: score(t.valid), reverse=True)
    lead = reads_attributes(ranked[0])
    return next((t for t in ranked if reads_attributes(t) != lead), None)


def _validation_model(result: CandidateResult, split: Split, settings: TrialSettings,
                      seed: int) -> Any:
    """The trial's model as validation judged it: its best weights on the training stage,
    with what it chose on validation besides them."""
    model = train_for(result.family, result.params, split, "train", 0,
                      seed + (result.number or 0), weights=result.weights)
    settings.objective.settle(model, split, "train", result.valid)
    return model


def subset_values(models: list[Any], subsets: list[tuple[int, ...]], cases: Any,
                  exclude_seen: bool, metric: str, k: int) -> list[float]:
    """The mean of ``metric`` at ``k`` over ``cases`` of each subset's ensemble of
    ``models`` (a subset of one: that model alone, on the same log-softmax scale), every
    model scored once per batch of users.

    Each subset is judged as its ensemble would be: where its members rank different items
    (attribute members beside members reading ids only), its cold items fill the share of
    the lists' slots that they are of the cases' targets, by an offset set over all the cases
    (:mod:`automl_rec.evaluation.cold_offset`). Only the parts of each list that the offset
    moves are kept per batch, and each target's place is read from them at the end."""
    history = cases.history
    known = scored_by(models)
    n_items = len(history.item_counts)
    colds = [_cold_items(known[list(subset)], n_items) for subset in subsets]
    seen = history.matrix if exclude_seen else None
    batch = max(1, min(1024, _BATCH_CELLS // (n_items * (len(models) + 1))))
    lists: list[list[ListParts]] = [[] for _ in subsets]
    target_scores: list[list[np.ndarray]] = [[] for _ in subsets]
    for start in range(0, len(cases.users), batch):
        users = cases.users[start:start + batch]
        targets = cases.targets[start:start + batch]
        parts = [log_softmax(np.asarray(m.score(users), dtype=np.float32)) for m in models]
        for i, subset in enumerate(subsets):
            blended = blend([parts[j] for j in subset], known[list(subset)])
            if seen is not None:
                mask_seen(blended, users, seen)
            lists[i].append(ListParts.of(blended, colds[i], k))
            target_scores[i].append(blended[np.arange(len(users)), targets])
    values = []
    for cold, parts_of, scores_of in zip(colds, lists, target_scores):
        if not parts_of:
            values.append(float("-inf"))
            continue
        parts = ListParts.joined(parts_of)
        share = cold_share(cases, cold)  # None without (enough) cold targets: no offset
        offset = 0.0 if share is None else parts.offset_for(share)
        positions = parts.positions(np.concatenate(scores_of), cold[cases.targets], offset)
        values.append(float(positions_metric(positions, metric).mean()))
    return values


def _cold_items(known: np.ndarray, n_items: int) -> np.ndarray:
    """Per item, whether only some of the members (``known``) rank it."""
    cold = partly_ranked(known)
    return np.zeros(n_items, dtype=bool) if cold is None else cold
