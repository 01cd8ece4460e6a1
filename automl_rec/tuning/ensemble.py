"""The ensemble candidate of a ranking fit: the best families' models averaged
(:class:`~automl_rec.models.ensemble.Ensemble`), kept when validation says it beats each of
them alone.

The pool is the best trial of each family the search promoted (scored on test, weights held by
this process), at most :data:`MAX_MEMBERS` of them by validation score, and only those that use
the item table as the best one does (an ensemble's cold items would otherwise be ranked by some
members and put last by others). Every subset of the pool, single models included, is judged
on the search's validation users with each member scored once per batch of users; the best
subset wins. When it has two members or more it becomes a candidate like any other (named
``ensemble/caser #0 + sasrec #2`` after its members' designs and trial numbers): its
validation figures are those of that judgement, its test figures those of its members' test
models (each brought to train + validation as for its own test score) averaged the same way,
and the exported model is its members brought to all the data.

A member adds a refit on all the data to the end of the fit: members join the pool only while
those extra refits fit in the time the budget has left, each foreseen by what the member's test
refit took (the same plan on a stage almost as large). The best model's own refit is made
whatever the pool, and the search kept time for it.
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any, NamedTuple

import numpy as np

from automl_rec.data.splitting import Split
from automl_rec.evaluation import evaluate
from automl_rec.leaderboard import COMPLETE, ENSEMBLE, CandidateResult, candidate_name
from automl_rec.models.ensemble import Ensemble, log_softmax
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
    test, test_result = objective.test(Ensemble([test_models[id(m)].model for m in members]),
                                       split)
    params: dict[str, Any] = {"members": [candidate_name(m) for m in members]}
    if "item_features" in members[0].params:
        params["item_features"] = members[0].params["item_features"]
    designs = " + ".join(f"{m.model} #{m.number}" for m in members)  # designs name families
    return CandidateResult(
        ENSEMBLE, designs, params, COMPLETE, valid=valid, test=test, test_result=test_result,
        seconds=time.perf_counter() - started,
        n_params=sum(m.n_params or 0 for m in members) or None, members=members)


def _pool(results: list[CandidateResult], test_models: dict[int, TestModel],
          settings: TrialSettings, seconds_left: float | None) -> list[CandidateResult]:
    """The models that may join, best on validation first, while their extra refits on all
    the data fit in ``seconds_left``."""
    scored = sorted((r for r in results if r.status == COMPLETE and id(r) in test_models
                     and r.weights is not None),
                    key=lambda r: settings.objective.score(r.valid), reverse=True)
    if not scored:
        return []
    lead = scored[0]
    pool, cost = [lead], 0.0
    for result in scored[1:]:
        if len(pool) == MAX_MEMBERS:
            break
        if result.params.get("item_features") != lead.params.get("item_features"):
            continue
        cost += test_models[id(result)].seconds
        if seconds_left is not None and cost > seconds_left:
            break
        pool.append(result)
    return pool


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
    model scored once per batch of users."""
    history = cases.history
    seen = history.matrix if exclude_seen else None
    n_items = len(history.item_counts)
    batch = max(1, min(1024, _BATCH_CELLS // (n_items * (len(models) + 1))))
    values: list[list[np.ndarray]] = [[] for _ in subsets]
    for start in range(0, len(cases.users), batch):
        users = cases.users[start:start + batch]
        targets = cases.targets[start:start + batch]
        parts = [log_softmax(np.asarray(m.score(users), dtype=np.float32)) for m in models]
        for i, subset in enumerate(subsets):
            blended = sum(parts[j] for j in subset) / len(subset)
            result = evaluate(lambda _users, scores=blended: scores, users, targets,
                              seen=seen, item_counts=history.item_counts, k=k, batch_size=batch)
            values[i].append(result.per_user(metric))
    return [float(np.concatenate(v).mean()) if v else float("-inf") for v in values]
