"""``AutoRecommender``: the Python entry point, a scikit-learn style estimator over the whole run.

    load -> validate -> profile -> split -> candidates -> select -> refit -> outputs

``__init__`` only stores its arguments; ``fit`` runs the pipeline, sets the fitted attributes
(names ending in ``_``) and returns ``self``.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl_rec.data.loading import load_interactions
from automl_rec.data.profiling import DataProfile, profile_interactions
from automl_rec.data.splitting import Split, split_interactions
from automl_rec.data.validation import validate_interactions
from automl_rec.errors import ConfigurationError, NotFittedError
from automl_rec.evaluation import BootstrapInterval, paired_bootstrap, top_k
from automl_rec.evaluation.metrics import METRICS, mask_seen
from automl_rec.leaderboard import CandidateResult, leaderboard_frame, write_leaderboard
from automl_rec.models import BASELINES, resolve_families
from automl_rec.models.baselines import BASELINES as BASELINE_MODELS
from automl_rec.models.baselines import Baseline
from automl_rec.tuning.baselines import run_baseline

logger = logging.getLogger("automl_rec")


class AutoRecommender:
    """Profile an interaction log, evaluate candidate recommenders honestly, keep the best.

    Args:
        families: ``"all"``, or a list (or comma-separated string) of family names.
        metric: Selection metric at ``top_k``: ``ndcg``, ``hr`` or ``mrr``.
        top_k: Length of the recommendation lists (K of the metrics).
        seed: Seed of everything random (hold-out without timestamps, bootstrap).
        exclude_seen: Never recommend items a user already has; ``None`` decides from the data
            (repeats stay recommendable when the profile shows strong repeat consumption).
        output_dir: Run directory for ``profile.json``, ``leaderboard.csv`` and ``run.log``;
            ``None`` writes nothing.

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
        metric: str = "ndcg",
        top_k: int = 10,
        seed: int = 0,
        exclude_seen: bool | None = None,
        output_dir: str | Path | None = None,
    ) -> None:
        self.families = families
        self.metric = metric
        self.top_k = top_k
        self.seed = seed
        self.exclude_seen = exclude_seen
        self.output_dir = output_dir

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
        """
        started = time.perf_counter()
        families = self._check_arguments()
        out = Path(self.output_dir) if self.output_dir is not None else None
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
            results = self._run_candidates(families, split)
            self._select(profile, split, results)
            if out is not None:
                write_leaderboard(results, self.top_k, out / "leaderboard.csv")
            self.fit_seconds_ = time.perf_counter() - started
            logger.info("best: %s %s %s, %.1f s in all", self.best_family_, self.best_model_name_,
                        json.dumps(self.best_params_), self.fit_seconds_)
        finally:
            if handler is not None:
                logger.removeHandler(handler)
                handler.close()
        return self

    def _check_arguments(self) -> list[str]:
        if self.metric not in METRICS:
            raise ConfigurationError(
                f"Unknown metric {self.metric!r}; use one of: {', '.join(METRICS)}."
            )
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 1:
            raise ConfigurationError(
                f"top_k must be a positive whole number; received {self.top_k!r}."
            )
        return resolve_families(self.families)

    def _run_candidates(self, families: list[str], split: Split) -> list[CandidateResult]:
        results = []
        if BASELINES in families:
            for baseline in BASELINE_MODELS.values():
                result = run_baseline(baseline, split, metric=self.metric, k=self.top_k)
                logger.info("%s %s: %s %s, valid %s", result.family, result.model, result.status,
                            result.reason or json.dumps(result.params), result.valid)
                results.append(result)
        return results

    def _select(self, profile: DataProfile, split: Split, results: list[CandidateResult]) -> None:
        ranked = sorted(results, key=lambda r: r.valid_score(self.metric, self.top_k),
                        reverse=True)
        best = ranked[0]
        self.profile_ = profile
        self.split_ = split
        self.results_ = results
        self.leaderboard_ = leaderboard_frame(results, self.top_k)
        self.best_family_ = best.family
        self.best_model_name_ = best.model
        self.best_params_ = dict(best.params)
        self.valid_metrics_ = dict(best.valid)
        self.test_metrics_ = dict(best.test)
        self.comparison_ = self._compare(best, ranked)
        self.best_model_ = _refit_on_all(best, split)

    def _compare(
        self, best: CandidateResult, ranked: list[CandidateResult]
    ) -> dict[str, Any] | None:
        """Paired bootstrap of the winner against the best other baseline, on test."""
        references = [r for r in ranked if r.family == BASELINES and r is not best
                      and r.test_result is not None]
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


def _refit_on_all(best: CandidateResult, split: Split) -> Baseline:
    """Refit the winner on every interaction (train + validation + test)."""
    return BASELINE_MODELS[best.model](**best.params).fit(split.stage("all"))


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
