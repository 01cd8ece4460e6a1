"""How to run one trial: train on the training split, early-stop on the real objective.

The objective is the full-ranking validation metric (DESIGN section 4), computed after every
epoch on at most ``SEARCH_VALIDATION_USERS`` validation users (the same seeded sample for every
trial of a search; see :mod:`automl_rec.evaluation.sampling`); training stops after
``patience`` epochs without improvement and the best weights are restored. A NaN loss, an
exception or running out of memory marks the trial failed with its reason; the search goes on.
This module knows nothing of the tuner that chose the values.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from automl_rec.data.splitting import Split, Stage
from automl_rec.tasks import RANKING
from automl_rec.tuning.objective import Objective, objective_of
from automl_rec.leaderboard import COMPLETE, FAILED, PRUNED, CandidateResult
from automl_rec.models import family_module

# Called after each epoch with (epoch, objective); returns True when the tuner prunes the trial.
EpochReport = Callable[[int, float], bool]


@dataclass(frozen=True)
class TrialSettings:
    """How every trial trains and is judged.

    Attributes:
        metric: Objective name (``ndcg``, ``hr`` or ``mrr``) at ``k`` of the ranking task.
        k: Cut-off of the objective.
        max_epochs: Most epochs a trial may train.
        patience: Epochs without improvement before early stopping.
        task: ``ranking``, ``ctr`` or ``rating`` (the pointwise tasks judge trials by AUC or
            RMSE instead of ``metric``).

    A family whose epochs are very short (one gradient step per few users) declares
    ``EPOCH_SCALE`` in its module; its trials count ``max_epochs`` and ``patience`` in units of
    that many epochs.
    """

    metric: str = "ndcg"
    k: int = 10
    max_epochs: int = 50
    patience: int = 5
    task: str = RANKING

    @property
    def objective(self) -> Objective:
        """How the task's trials are built and judged (:mod:`automl_rec.tuning.objective`)."""
        return objective_of(self.task, self.metric, self.k)


# Epochs a trial trains in a rung of the search before it may be paused.
MIN_RUNG_EPOCHS = 2
# How the reason of a trial stopped by the time budget begins (the epoch follows).
STOPPED_BY_BUDGET = "stopped by the time budget"


class TrialRun:
    """One trial, trained in one span or in several: a cheap rung first, then, if the search
    promotes it, on from where it stopped (the model stays in memory in between).

    Args:
        family: Family name.
        params: Active hyperparameter values.
        split: The protocol's split.
        settings: Objective, epochs and patience.
        seed: Seed of this trial.
        number: Trial number, for the record.
        max_epochs: Overrides ``settings.max_epochs`` (e.g. Hyperband's epoch budget).
    """

    def __init__(self, family: str, params: dict[str, Any], split: Split,
                 settings: TrialSettings, *, seed: int, number: int | None = None,
                 max_epochs: int | None = None) -> None:
        self.result = CandidateResult(family, str(params.get("design", family)), dict(params),
                                      number=number)
        self.split, self.settings, self.seed = split, settings, seed
        self.objective = settings.objective
        self.module = family_module(family)
        self.scale = int(getattr(self.module, "EPOCH_SCALE", 1))
        self.last_epoch = (max_epochs or settings.max_epochs) * self.scale
        self.patience = settings.patience * self.scale
        self.model: Any = None
        self.valid: Any = None
        self.epoch = 0
        self.training: list[float] = []
        self.durations: list[float] = []
        self.build_seconds = 0.0
        self.seconds = 0.0
        self.best_value = -math.inf
        self.best_weights: list[Any] | None = None
        self.finished = False

    @property
    def best(self) -> float:
        """Best validation objective so far (``-inf`` before the first epoch)."""
        return self.best_value

    def projected(self) -> float:
        """The validation objective one more epoch would reach at the pace of the latest one
        (in the family's epoch units): the latest value plus its rise over the one before
        (``-inf`` before the first epoch; no rise after only one)."""
        curve = self.result.curve
        if not curve:
            return -math.inf
        rise = curve[-1] - curve[-1 - self.scale] if len(curve) > self.scale else 0.0
        return curve[-1] + max(rise, 0.0)

    @property
    def epoch_cost(self) -> float:
        """Typical seconds of one epoch with its validation scoring (0 before the first)."""
        return statistics.median(self.durations) if self.durations else 0.0

    @property
    def first_epoch_cost(self) -> float:
        """Seconds of the model's first epoch with its validation scoring and the model's
        construction (what a refit of the model pays besides its further epochs)."""
        return self.build_seconds + self.durations[0] if self.durations else 0.0

    def refresh_cost(self, epochs: int) -> float:
        """Rough seconds of a refresh of this trial for ``epochs`` epochs (see
        :func:`refit_seconds`)."""
        if not self.durations:
            return 0.0
        return refit_seconds(self.first_epoch_cost, self.epoch_cost, epochs)

    def advance(self, *, deadline: float | Callable[[], float] | None = None,
                pause_at: float | None = None, report: EpochReport | None = None) -> bool:
        """Train on until the trial ends, or until ``pause_at``.

        Args:
            deadline: ``time.monotonic()`` value by which the trial (the search's time for it,
                refits reserved) must end, or a function that gives it anew after each epoch
                (the time the search keeps for after it may grow while the trial runs, its own
                refit included); no epoch starts that would end after it.
            pause_at: ``time.monotonic()`` value at which the trial is suspended, not ended,
                when its next epoch would not end before it (a cheap rung). It trains at least
                ``MIN_RUNG_EPOCHS`` epochs of its first span (the first epoch of a model pays
                for tracing) and one of a later span, unless that takes twice the span; an
                epoch that reaches twice the span ends there (a part of an epoch).
            report: Receives each epoch's objective; returning True prunes the trial.

        Returns:
            Whether the trial has ended (early stopped, pruned, out of epochs or time, failed).
        """
        started = time.perf_counter()
        result, objective = self.result, self.objective
        first_epoch, limit = self.epoch, None
        if pause_at is not None:
            limit = pause_at + max(pause_at - time.monotonic(), 0.0)
        try:
            if self.model is None:
                from automl_rec.models.keras_base import seed_everything

                built_from = time.perf_counter()
                seed_everything(self.seed)
                self.model = objective.build(self.result.family, result.params, self.split,
                                             "train", self.seed)
                result.n_params = self.model.count_params()
                self.valid = objective.validation_cases(self.split, self.model)
                self.build_seconds = time.perf_counter() - built_from
            while not self.finished:
                self.epoch += 1
                epoch, epoch_started = self.epoch, time.perf_counter()
                loss = self.model.fit_epoch(until=limit)
                self.training.append(time.perf_counter() - epoch_started)
                result.epoch_seconds = statistics.median(self.training)
                if not math.isfinite(loss):
                    raise FloatingPointError(f"the training loss became {loss} at epoch {epoch}")
                metrics = objective.judge(self.model, self.split, self.valid)
                value = objective.score(metrics)
                result.curve.append(value)
                self.durations.append(time.perf_counter() - epoch_started)
                result.first_epoch_seconds = self.first_epoch_cost
                if value > self.best_value:
                    self.best_value, self.best_weights = value, self.model.get_weights()
                    result.valid, result.epochs = metrics, epoch
                elif epoch - (result.epochs or 0) >= self.patience:
                    self.finished = True
                    break
                if epoch >= self.last_epoch:
                    self.finished = True
                    break
                # Scaled families report once per ``scale`` epochs, in their own units.
                if report is not None and epoch % self.scale == 0 and report(
                        epoch // self.scale, value):
                    result.status = PRUNED
                    result.reason = f"pruned by the tuner after epoch {epoch}"
                    self.finished = True
                    break
                epoch_time = self.epoch_cost
                if deadline is not None and time.monotonic() + epoch_time >= (
                        deadline() if callable(deadline) else deadline):
                    result.reason = f"{STOPPED_BY_BUDGET} after epoch {epoch}"
                    self.finished = True
                    break
                if limit is not None:
                    now, done = time.monotonic(), epoch - first_epoch
                    least = MIN_RUNG_EPOCHS if first_epoch == 0 else 1
                    if now + epoch_time >= limit or (done >= least
                                                     and now + epoch_time >= pause_at):
                        break
        except (MemoryError, _out_of_memory_error()) as error:
            result.status, result.reason = FAILED, f"out of memory: {_first_line(error)}"
            self.finished = True
        except Exception as error:  # a failing trial must not stop the search
            result.status, result.reason = FAILED, f"{type(error).__name__}: {_first_line(error)}"
            self.finished = True
        self.seconds += time.perf_counter() - started
        result.seconds = self.seconds
        return self.finished

    def end(self, reason: str | None = None) -> CandidateResult:
        """End the trial (with ``reason`` when it was suspended and is not taken further), free
        its model and return its result; ``result.weights`` holds the best epoch's weights."""
        result = self.result
        if reason and not self.finished:
            result.reason = reason
        self.finished = True
        self.model = None
        _free_memory()
        if result.status == COMPLETE and not result.valid:
            result.status, result.reason = FAILED, result.reason or "no epoch completed"
        result.weights = self.best_weights if result.status == COMPLETE else None
        return result


def run_trial(
    family: str,
    params: dict[str, Any],
    split: Split,
    settings: TrialSettings,
    *,
    seed: int,
    number: int | None = None,
    max_epochs: int | None = None,
    deadline: float | None = None,
    report: EpochReport | None = None,
) -> CandidateResult:
    """Train one configuration of a family on the training split and score it on validation,
    in one span (:class:`TrialRun`'s arguments, and :meth:`TrialRun.advance`'s ``deadline`` and
    ``report``).

    Returns:
        The result: status, reason, best validation metrics, best epoch, curve, seconds,
        parameter count, and the best epoch's weights (``weights``, in memory only).
    """
    run = TrialRun(family, params, split, settings, seed=seed, number=number,
                   max_epochs=max_epochs)
    run.advance(deadline=deadline, report=report)
    return run.end()


REFRESH_EPOCHS = 1


def refit_seconds(first_epoch: float, epoch: float, epochs: int) -> float:
    """Rough seconds to build a model again and train it ``epochs`` epochs, scored once: the
    first epoch costs what a new model's first epoch cost (``first_epoch``, tracing included),
    every further one a typical ``epoch``."""
    return first_epoch + (max(epochs, 1) - 1) * epoch


def refresh_epochs(family: str) -> int:
    """Epochs a trained model is taken on by when it is refreshed on a later stage (in the
    family's epoch units)."""
    return REFRESH_EPOCHS * int(getattr(family_module(family), "EPOCH_SCALE", 1))


def train_for(family: str, params: dict[str, Any], split: Split, stage: Stage, epochs: int,
              seed: int, weights: list[Any] | None = None, task: str = RANKING) -> Any:
    """Build a family's model of ``task`` on a stage and train it for a fixed number of epochs
    (none: the model as ``weights`` leave it), starting from trained ``weights`` (same
    vocabularies) when they are given."""
    from automl_rec.models.keras_base import seed_everything

    seed_everything(seed)
    model = objective_of(task, "ndcg", 10).build(family, params, split, stage, seed)
    if weights is not None:
        model.set_weights(weights)
    for _ in range(epochs):
        model.fit_epoch()
    return model


def refit_plan(result: CandidateResult, task: str = RANKING, held: bool | None = None
               ) -> tuple[str, int]:
    """How a trial is brought to a later stage, and for how many epochs: ``("refresh", n)``,
    its best weights trained on for :func:`refresh_epochs` epochs, where this process holds
    them (``held``; by default whether ``result`` has them) and its best epoch count is above
    that; else ``("retrain", best epochs)``, from scratch. Click and rating models are always
    retrained: they overfit as soon as they pass over rows a second time (best after one or
    two epochs), and a retraining costs no more than the trial's own best epochs."""
    epochs = result.epochs or 1
    refresh = refresh_epochs(result.family)
    held = result.weights is not None if held is None else held
    if not held or task != RANKING or epochs <= refresh:
        return "retrain", epochs
    return "refresh", refresh


def model_on_stage(result: CandidateResult, split: Split, stage: Stage, seed: int,
                   task: str = RANKING, k: int = 10) -> Any:
    """A trial's configuration brought to a later stage (train + validation for the test
    score, all the data for the exported model), both the same way (:func:`refit_plan`), with
    what the trial chose on validation besides its weights (lists of ``k``). An ensemble's
    model is its members', each brought to the stage this way."""
    if result.members:
        from automl_rec.models.ensemble import Ensemble

        ensemble = Ensemble([model_on_stage(member, split, stage, seed, task, k)
                             for member in result.members])
        objective_of(task, "ndcg", k).settle(ensemble, split, stage, result.valid)
        return ensemble
    seed = seed + (result.number or 0)
    how, epochs = refit_plan(result, task)
    weights = result.weights if how == "refresh" else None
    model = train_for(result.family, result.params, split, stage, epochs, seed,
                      weights=weights, task=task)
    objective_of(task, "ndcg", k).settle(model, split, stage, result.valid)
    return model


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


def _out_of_memory_error() -> type[BaseException]:
    import tensorflow as tf

    return tf.errors.ResourceExhaustedError


def _free_memory() -> None:
    from automl_rec.models.keras_base import free_memory

    free_memory()
