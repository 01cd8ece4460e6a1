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
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from automl_rec.data.splitting import Split, Stage
from automl_rec.evaluation import evaluate_holdout, sample_holdout
from automl_rec.leaderboard import COMPLETE, FAILED, PRUNED, CandidateResult
from automl_rec.models import family_module

# Called after each epoch with (epoch, objective); returns True when the tuner prunes the trial.
EpochReport = Callable[[int, float], bool]


@dataclass(frozen=True)
class TrialSettings:
    """How every trial trains and is judged.

    Attributes:
        metric: Objective name (``ndcg``, ``hr`` or ``mrr``) at ``k``.
        k: Cut-off of the objective.
        max_epochs: Most epochs a trial may train.
        patience: Epochs without improvement before early stopping.

    A family whose epochs are very short (one gradient step per few users) declares
    ``EPOCH_SCALE`` in its module; its trials count ``max_epochs`` and ``patience`` in units of
    that many epochs.
    """

    metric: str = "ndcg"
    k: int = 10
    max_epochs: int = 50
    patience: int = 5


class _Stopped(Exception):
    """Internal: the trial ended early (pruned or out of time)."""


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
    """Train one configuration of a family on the training split and score it on validation.

    Args:
        family: Family name.
        params: Active hyperparameter values.
        split: The protocol's split.
        settings: Objective, epochs and patience.
        seed: Seed of this trial.
        number: Trial number, for the record.
        max_epochs: Overrides ``settings.max_epochs`` (e.g. Hyperband's epoch budget).
        deadline: ``time.monotonic()`` value by which the trial and the refits of its
            configuration should be done; no epoch starts that would leave too little time.
        report: Receives each epoch's objective; returning True prunes the trial.

    Returns:
        The result: status, reason, best validation metrics, best epoch, curve, seconds,
        parameter count.
    """
    started = time.perf_counter()
    result = CandidateResult(family, str(params.get("design", family)), dict(params),
                             number=number)
    key = f"{settings.metric}@{settings.k}"
    module = family_module(family)
    model = None
    try:
        from automl_rec.models.keras_base import seed_everything

        seed_everything(seed)
        model = module.build(params, split.stage("train"), seed)
        result.n_params = model.count_params()
        valid = sample_holdout(split.holdout("valid"), seed=split.seed)
        best_value, best_weights = -math.inf, None
        scale = int(getattr(module, "EPOCH_SCALE", 1))
        last_epoch = (max_epochs or settings.max_epochs) * scale
        patience = settings.patience * scale
        training = 0.0
        for epoch in range(1, last_epoch + 1):
            epoch_started = time.perf_counter()
            loss = model.fit_epoch()
            training += time.perf_counter() - epoch_started
            result.epoch_seconds = training / epoch
            if not math.isfinite(loss):
                raise FloatingPointError(f"the training loss became {loss} at epoch {epoch}")
            metrics = evaluate_holdout(model.score, valid, exclude_seen=split.exclude_seen,
                                       k=settings.k).metrics()
            value = metrics[key]
            result.curve.append(value)
            if value > best_value:
                best_value, best_weights = value, model.get_weights()
                result.valid, result.epochs = metrics, epoch
            elif epoch - (result.epochs or 0) >= patience:
                break
            # Scaled families report once per ``scale`` epochs, in their own units.
            reported = report is not None and epoch % scale == 0
            if reported and report(epoch // scale, value) and epoch < last_epoch:
                result.status, result.reason = PRUNED, f"pruned by the tuner after epoch {epoch}"
                break
            # Leave time to refit this configuration twice (for the test score, and on all the
            # data should it win), each at most as long as the training so far.
            if deadline is not None and time.monotonic() + 2 * training >= deadline:
                result.reason = f"stopped by the time budget after epoch {epoch}"
                break
        if best_weights is not None:
            model.set_weights(best_weights)
    except (MemoryError, _out_of_memory_error()) as error:
        result.status, result.reason = FAILED, f"out of memory: {_first_line(error)}"
    except Exception as error:  # a failing trial must not stop the search
        result.status, result.reason = FAILED, f"{type(error).__name__}: {_first_line(error)}"
    finally:
        del model
        _free_memory()
    if result.status == COMPLETE and not result.valid:
        result.status, result.reason = FAILED, result.reason or "no epoch completed"
    result.seconds = time.perf_counter() - started
    return result


def train_for(family: str, params: dict[str, Any], split: Split, stage: Stage, epochs: int,
              seed: int) -> Any:
    """Build a family's model on a stage and train it for a fixed number of epochs.

    Used to refit a selected configuration on train + validation (for the test score) and on
    all the data (for the exported model), with the epoch count early stopping found.
    """
    from automl_rec.models.keras_base import seed_everything

    seed_everything(seed)
    model = family_module(family).build(params, split.stage(stage), seed)
    for _ in range(max(1, epochs)):
        model.fit_epoch()
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
