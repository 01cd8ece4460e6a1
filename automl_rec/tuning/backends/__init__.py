"""Tuner backends (Optuna; keras-tuner's hyperband, bayesian and random oracles) and how to
choose one. :mod:`automl_rec.tuning.backends.base` holds the protocols they implement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automl_rec.errors import ConfigurationError
from automl_rec.tuning.backends.base import (Backend, Coordination, Proposal, SearchBackend,
                                             SingleProcess)

__all__ = ["TUNERS", "Backend", "Coordination", "Proposal", "SearchBackend", "SingleProcess",
           "make_backend", "storage_url"]

TUNERS = ("optuna", "hyperband", "bayesian", "random")


def make_backend(tuner: str, *, directory: Path | None, storage: str | None, study_name: str,
                 seed: int, max_epochs: int, fingerprint: dict[str, Any], worker: bool = False,
                 heartbeat: int | None = None, max_trials: int | None = None) -> SearchBackend:
    """Build the backend named by ``--tuner``.

    Raises:
        ConfigurationError: Unknown tuner.
    """
    if tuner == "optuna":
        from automl_rec.tuning.backends.optuna_backend import HEARTBEAT_SECONDS, OptunaBackend

        return OptunaBackend(storage_url(storage, directory), study_name, seed, fingerprint,
                             worker=worker, heartbeat=heartbeat or HEARTBEAT_SECONDS)
    if tuner in ("hyperband", "bayesian", "random"):
        from automl_rec.tuning.backends.keras_tuner_backend import KerasTunerBackend

        return KerasTunerBackend(tuner, directory, seed, max_epochs, max_trials)
    raise ConfigurationError(f"Unknown tuner {tuner!r}; use one of: {', '.join(TUNERS)}.")


def storage_url(storage: str | None, directory: Path | None) -> str | None:
    """The Optuna storage of a run: the one given, else ``DIR/study.db``, else memory."""
    if storage is None and directory is not None:
        return f"sqlite:///{directory / 'study.db'}"
    return storage
