"""``AutoRecommender``: the Python entry point, a scikit-learn style estimator over the whole run.

    load -> validate -> profile -> split -> candidates (baselines, search) -> select -> refit

``__init__`` only stores its arguments; ``fit`` runs the pipeline, sets the fitted attributes
(names ending in ``_``) and returns ``self``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl_rec.data.loading import load_interactions
from automl_rec.data.profiling import DataProfile, profile_interactions
from automl_rec.data.splitting import Split, split_interactions
from automl_rec.data.validation import validate_interactions
from automl_rec.errors import ConfigurationError, NotFittedError, SearchFailedError
from automl_rec.evaluation import BootstrapInterval, paired_bootstrap, top_k
from automl_rec.evaluation.metrics import METRICS, mask_seen
from automl_rec.leaderboard import COMPLETE, CandidateResult, leaderboard_frame, write_leaderboard
from automl_rec.models import BASELINES, resolve_families
from automl_rec.models.baselines import BASELINES as BASELINE_MODELS
from automl_rec.spaces import load_space
from automl_rec.tuning.backend import TUNERS
from automl_rec.tuning.budget import parse_duration
from automl_rec.tuning.candidates import SearchConfig, evaluate_candidates
from automl_rec.tuning.search import Budget, SearchObserver
from automl_rec.tuning.trial import TrialSettings, train_for

DEFAULT_TRIALS_PER_FAMILY = 3

logger = logging.getLogger("automl_rec")


class AutoRecommender:
    """Profile an interaction log, search recommenders honestly, keep the best.

    Args:
        families: ``"all"``, or a list (or comma-separated string) of family names that may
            win. The baselines always run as references; they may win when ``baselines`` is
            among the families.
        time_budget: Wall-time budget of the whole fit (``"90s"``, ``"10m"``, ``"1h"`` or
            seconds); ``None`` for no time limit.
        max_trials: Most trials of the searched families together; ``None`` for no limit.
            With neither budget, each family gets ``DEFAULT_TRIALS_PER_FAMILY`` trials.
        tuner: ``optuna`` (default), or keras-tuner's ``hyperband``, ``bayesian``, ``random``.
        metric: Selection metric at ``top_k``: ``ndcg``, ``hr`` or ``mrr``.
        top_k: Length of the recommendation lists (K of the metrics).
        seed: Seed of everything random.
        storage: Optuna storage URL; default ``sqlite:///<output_dir>/study.db`` (memory when
            there is no output directory).
        study_name: Name (prefix) of the Optuna studies.
        search_spaces: Space files replacing the shipped space of the family they name.
        max_epochs: Most epochs of one trial.
        patience: Epochs without improvement before a trial stops early.
        exclude_seen: Never recommend items a user already has; ``None`` decides from the data
            (repeats stay recommendable when the profile shows strong repeat consumption).
        output_dir: Run directory (``profile.json``, ``leaderboard.csv``, ``study.db``,
            ``run.log``); ``None`` writes nothing.
        progress: Show live progress in the terminal.

    Example:
        >>> from automl_rec.datasets import make_interactions
        >>> model = AutoRecommender(families=["baselines"]).fit(make_interactions(n_users=200))
        >>> model.best_family_
        'baselines'
    """

    def __init__(
        self,
        families: str | list[str] | tuple[str, ...] = "all",
        *,
        time_budget: str | float | None = None,
        max_trials: int | None = None,
        tuner: str = "optuna",
        metric: str = "ndcg",
        top_k: int = 10,
        seed: int = 0,
        storage: str | None = None,
        study_name: str = "automl-rec",
        search_spaces: list[str | Path] | tuple[str | Path, ...] = (),
        max_epochs: int = 50,
        patience: int = 3,
        exclude_seen: bool | None = None,
        output_dir: str | Path | None = None,
        progress: bool = False,
    ) -> None:
        self.families = families
        self.time_budget = time_budget
        self.max_trials = max_trials
        self.tuner = tuner
        self.metric = metric
        self.top_k = top_k
        self.seed = seed
        self.storage = storage
        self.study_name = study_name
        self.search_spaces = search_spaces
        self.max_epochs = max_epochs
        self.patience = patience
        self.exclude_seen = exclude_seen
        self.output_dir = output_dir
        self.progress = progress

    def fit(
        self,
        data: str | Path | pd.DataFrame,
        *,
        user_col: str | None = None,
        item_col: str | None = None,
        rating_col: str | None = None,
        time_col: str | None = None,
        event_col: str | None = None,
        sep: str | None = None,
    ) -> AutoRecommender:
        """Run the whole pipeline on ``data`` and keep the best model.

        Args:
            data: A path to an interaction file or a DataFrame.
            user_col: Column of user ids (inferred when ``None``).
            item_col: Column of item ids.
            rating_col: Column of ratings or labels (``"none"`` to ignore).
            time_col: Column of timestamps (``"none"`` to ignore).
            event_col: Column of event types (``"none"`` to ignore).
            sep: Field separator of a text file (sniffed when ``None``).

        Returns:
            ``self``, fitted.

        Raises:
            DataValidationError: The data cannot be used.
            ConfigurationError: An argument is invalid.
            SearchSpaceError: A search-space file is malformed.
        """
        started = time.monotonic()
        config = self._search_config(started)
        out = config.directory
        handler = _attach_run_log(out)
        try:
            loaded = load_interactions(data, user_col=user_col, item_col=item_col,
                                       rating_col=rating_col, time_col=time_col,
                                       event_col=event_col, sep=sep)
            interactions = validate_interactions(loaded)
            profile = profile_interactions(interactions)
            logger.info("profiled %s: %d users, %d items, %d interactions", profile.source,
                        profile.n_users, profile.n_items, profile.n_interactions)
            if out is not None:
                (out / "profile.json").write_text(profile.to_json())
            split = split_interactions(interactions, profile, exclude_seen=self.exclude_seen,
                                       seed=self.seed)
            logger.info("protocol %s, exclude seen: %s", split.protocol, split.exclude_seen)
            with _observer(self.progress, config) as observer:
                results = evaluate_candidates(split, profile, config, observer)
            for result in results:
                logger.info("%s %s #%s: %s %s, valid %s, test %s", result.family, result.model,
                            result.number, result.status,
                            result.reason or json.dumps(result.params), result.valid, result.test)
            self._select(profile, split, results, config.families)
            if out is not None:
                write_leaderboard(results, self.top_k, out / "leaderboard.csv")
            self.fit_seconds_ = time.monotonic() - started
            logger.info("best: %s %s %s, %.1f s in all", self.best_family_, self.best_model_name_,
                        json.dumps(self.best_params_), self.fit_seconds_)
        finally:
            if handler is not None:
                logger.removeHandler(handler)
                handler.close()
        return self

    def _search_config(self, started: float) -> SearchConfig:
        """Check the arguments and turn them into the search's configuration."""
        if self.metric not in METRICS:
            raise ConfigurationError(
                f"Unknown metric {self.metric!r}; use one of: {', '.join(METRICS)}."
            )
        for name in ("top_k", "max_epochs", "patience"):
            _check_positive(name, getattr(self, name))
        if self.max_trials is not None:
            _check_positive("max_trials", self.max_trials)
        if self.tuner not in TUNERS:
            raise ConfigurationError(
                f"Unknown tuner {self.tuner!r}; use one of: {', '.join(TUNERS)}."
            )
        families = resolve_families(self.families)
        spaces = {}
        for path in self.search_spaces:
            space = load_space(path)
            if space.family not in families or space.family == BASELINES:
                raise ConfigurationError(
                    f"The search space '{path}' is for the family {space.family!r}, which is not "
                    f"searched in this run (families: {', '.join(families)})."
                )
            spaces[space.family] = space
        seconds = parse_duration(self.time_budget) if self.time_budget is not None else None
        max_trials = self.max_trials
        searched = [f for f in families if f != BASELINES]
        if seconds is None and max_trials is None:
            max_trials = DEFAULT_TRIALS_PER_FAMILY * len(searched)
        directory = Path(self.output_dir) if self.output_dir is not None else None
        return SearchConfig(
            families=families,
            settings=TrialSettings(self.metric, self.top_k, self.max_epochs, self.patience),
            budget=Budget(None if seconds is None else started + seconds, max_trials),
            tuner=self.tuner, seed=self.seed, directory=directory, storage=self.storage,
            study_name=self.study_name, spaces=spaces)

    def _select(self, profile: DataProfile, split: Split, results: list[CandidateResult],
                families: list[str]) -> None:
        eligible = [r for r in results if r.family in families]
        ranked = sorted(eligible, key=lambda r: r.valid_score(self.metric, self.top_k),
                        reverse=True)
        if not ranked or ranked[0].status != COMPLETE:
            raise SearchFailedError(
                "No candidate completed: every trial failed (see the reasons in "
                "leaderboard.csv or run.log); try another family or a larger budget."
            )
        best = ranked[0]
        self.profile_ = profile
        self.split_ = split
        self.results_ = results
        self.leaderboard_ = leaderboard_frame(results, self.top_k)
        self.best_family_ = best.family
        self.best_model_name_ = best.model
        self.best_params_ = dict(best.params)
        self.best_result_ = best
        self.valid_metrics_ = dict(best.valid)
        self.test_metrics_ = dict(best.test)
        self.comparison_ = self._compare(best, results)
        self.best_model_ = _refit_on_all(best, split, self.seed)

    def _compare(
        self, best: CandidateResult, results: list[CandidateResult]
    ) -> dict[str, Any] | None:
        """Paired bootstrap of the winner against the best other baseline, on test."""
        references = sorted(
            (r for r in results if r.family == BASELINES and r is not best
             and r.test_result is not None),
            key=lambda r: r.valid_score(self.metric, self.top_k), reverse=True)
        if best.test_result is None or not references:
            return None
        reference = references[0]
        assert reference.test_result is not None
        interval: BootstrapInterval = paired_bootstrap(
            best.test_result.per_user(self.metric), reference.test_result.per_user(self.metric),
            seed=self.seed)
        return {"reference": reference.model, "metric": f"{self.metric}@{self.top_k}",
                "difference": interval.difference, "low": interval.low, "high": interval.high,
                "confidence": interval.confidence}

    def recommend(self, user_ids: list[str] | np.ndarray, k: int | None = None) -> pd.DataFrame:
        """Top-``k`` items for each raw user id, from the best model refit on all data.

        Unknown users get the most popular items. Items a user already has are left out when the
        protocol excludes seen items.

        Args:
            user_ids: Raw user ids, as in the input.
            k: List length (defaults to ``top_k``).

        Returns:
            A long table with columns ``user_id``, ``rank`` (1-based), ``item_id``, ``score``.
        """
        _check_is_fitted(self)
        k = self.top_k if k is None else k
        split = self.split_
        raw = np.asarray(list(user_ids), dtype=object)
        users = split.user_ids.encode(raw)
        known = users >= 0
        everything = split.stage("all")
        scores = np.empty((len(raw), split.n_items), dtype=np.float32)
        if known.any():
            scores[known] = self.best_model_.score(users[known])
            if split.exclude_seen:
                scores_known = scores[known]
                mask_seen(scores_known, users[known], everything.matrix)
                scores[known] = scores_known
        scores[~known] = everything.item_counts.astype(np.float32)
        lists = top_k(scores, k)
        picked = np.take_along_axis(scores, lists, axis=1)
        keep = np.isfinite(picked)
        return pd.DataFrame({
            "user_id": np.repeat(raw, lists.shape[1])[keep.ravel()],
            "rank": np.tile(np.arange(1, lists.shape[1] + 1), len(raw))[keep.ravel()],
            "item_id": split.item_ids.decode(lists[keep]),
            "score": picked[keep],
        })


def _refit_on_all(best: CandidateResult, split: Split, seed: int) -> Any:
    """Refit the winner on every interaction (train + validation + test), for its best epoch
    count when it is a trained model."""
    if best.family == BASELINES:
        return BASELINE_MODELS[best.model](**best.params).fit(split.stage("all"))
    return train_for(best.family, best.params, split, "all", best.epochs or 1,
                     seed + (best.number or 0))


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive whole number; received {value!r}.")


@contextmanager
def _observer(progress: bool, config: SearchConfig) -> Iterator[SearchObserver | None]:
    if not progress:
        yield None
        return
    from automl_rec.report.progress import RichProgress

    with RichProgress(config.budget, config.settings) as observer:
        yield observer


def _check_is_fitted(estimator: AutoRecommender) -> None:
    if not hasattr(estimator, "best_model_"):
        raise NotFittedError(
            "This AutoRecommender is not fitted yet; call fit(data) before using it."
        )


def _attach_run_log(out: Path | None) -> logging.Handler | None:
    if out is None:
        return None
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / "run.log", mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler
