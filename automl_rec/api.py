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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl_rec.data.features import (Features, context_input_names, parse_feature_types,
                                      read_features)
from automl_rec.data.feedback import select_positives
from automl_rec.data.loading import (CONTEXT_PREFIX, as_text, context_columns,
                                     load_interactions)
from automl_rec.data.profiling import DataProfile, profile_interactions, profile_log
from automl_rec.data.splitting import (Split, split_interactions, training_interactions,
                                       with_features)
from automl_rec.data.validation import Interactions, validate_interactions
from automl_rec.errors import ConfigurationError, NotFittedError, SearchFailedError
from automl_rec.evaluation import BootstrapInterval, paired_bootstrap
from automl_rec.evaluation.metrics import METRICS
from automl_rec.leaderboard import (COMPLETE, CandidateResult, candidate_name,
                                   feature_use_table, leaderboard_frame, left_out,
                                   warm_and_cold_table, write_leaderboard)
from automl_rec.models import BASELINES, resolve_families
from automl_rec.models.baselines import BASELINES as BASELINE_MODELS
from automl_rec.spaces import load_space
from automl_rec.tasks import (CTR, RANKING, RATING, TaskChoice, check_task, choose_task,
                              figures_of, higher_is_better, outcome, recent_labels_input)
from automl_rec.tasks.rows import RowSplit, split_rows, task_rows, with_fields
from automl_rec.tuning.backends import TUNERS
from automl_rec.tuning.budget import Budget, parse_duration
from automl_rec.tuning.candidates import SearchConfig, evaluate_candidates
from automl_rec.tuning.distributed import plan_local_workers
from automl_rec.tuning.search import SearchObserver
from automl_rec.tuning.trial import TrialSettings, model_on_stage, refit_plan

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
        exclude_seen: Never recommend items a user already has; ``None`` decides from the
            training stage (repeats stay recommendable when a fifth or more of users' latest
            training interactions repeat an earlier item).
        positive: Which rows are positives of the ranking task, e.g. ``"rating>=4"`` or
            ``"event=purchase"``; ``None``: a binary label's 1 rows, otherwise every row.
        cold_items: Share of the items (from 0 to below 1, drawn with ``seed``) held out with
            all their interactions, so that the test cases whose target is one of them measure
            cold-item quality; test figures are given for warm and cold targets apart.
        output_dir: Run directory (``profile.json``, ``leaderboard.csv``, ``study.db``,
            ``run.log``); ``None`` writes nothing.
        progress: Show live progress in the terminal.
        device: ``auto`` (a GPU when TensorFlow finds one), ``cpu`` or ``gpu``.
        workers: Worker processes this fit starts on this machine to run trials beside its own
            (each on a GPU of its own when there are several); ``None``: one per GPU beyond the
            first. Workers on other machines join with ``automl-rec worker``.
        heartbeat: Seconds between heartbeats of running trials; a trial whose process stops
            beating for three of them is failed and retried.
        task: ``ranking`` (top-K lists), ``ctr`` (the probability of a row's 0/1 label, or of
            ``positive`` for star ratings) or ``rating`` (a row's rating); ``None`` infers it:
            ``ctr`` for a 0/1 label whose two values each hold at least 5% of the rows, else
            ``ranking``. Click and rating fits split the rows globally by time and select by
            AUC or RMSE (``metric`` is for ranking).
        ensemble: Whether a ranking fit also tries averaging the best families' models (up
            to four); the average is selected when it beats each of them on validation.

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
        patience: int = 5,
        exclude_seen: bool | None = None,
        positive: str | None = None,
        cold_items: float = 0.0,
        output_dir: str | Path | None = None,
        progress: bool = False,
        device: str = "auto",
        workers: int | None = None,
        heartbeat: int = 10,
        task: str | None = None,
        ensemble: bool = True,
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
        self.positive = positive
        self.cold_items = cold_items
        self.output_dir = output_dir
        self.progress = progress
        self.device = device
        self.workers = workers
        self.heartbeat = heartbeat
        self.task = task
        self.ensemble = ensemble

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
        items: str | Path | pd.DataFrame | None = None,
        users: str | Path | pd.DataFrame | None = None,
        feature_types: str | dict[str, str] | None = None,
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
            items: An item table (path or DataFrame): an item id column, then attributes.
                Its items that the log never names are part of the catalogue.
            users: A user table: a user id column, then attributes.
            feature_types: Kinds that override the inferred ones, ``{"column": "text"}`` or
                ``"column=text,genres=multi"`` (kinds: categorical, multi, numeric, text,
                ignored).

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
        columns = {"user_col": user_col, "item_col": item_col, "rating_col": rating_col,
                   "time_col": time_col, "event_col": event_col, "sep": sep}
        handler = _attach_run_log(out)
        try:
            workers = plan_local_workers(self.workers, device=self.device, tuner=self.tuner,
                                         storage=self.storage, output_dir=self.output_dir)
            from automl_rec.device import select_device

            self.device_ = select_device(self.device, gpu=0 if workers.on_gpus else None)
            features = read_features(items, users, feature_types)
            prepared = prepare(data, columns, positive=self.positive,
                               exclude_seen=self.exclude_seen, seed=self.seed,
                               cold_items=self.cold_items, features=features, task=self.task)
            profile, split = prepared.profile, prepared.split
            self.training_profile_ = prepared.training_profile
            self.task_ = prepared.task
            config.settings = replace(config.settings, task=prepared.task.name)
            if out is not None:
                (out / "profile.json").write_text(profile.to_json())
            config.record = self._run_record(data, columns, split, config)
            config.record["features"] = {
                "items": _source_path(items), "users": _source_path(users),
                "feature_types": parse_feature_types(feature_types)}
            from automl_rec.tuning.distributed import local_workers, search_as_worker

            if self.tuner != "optuna" and _keras_tuner_role() == "worker":
                # keras-tuner's chief/worker mode: this process runs trials for the chief, which
                # selects, exports and reports.
                self.worker_results_ = search_as_worker(split, prepared.training_profile, config,
                                                        verbose=self.progress)
                return self

            with local_workers(workers, config, out), \
                    _observer(self.progress, config) as observer:
                results = evaluate_candidates(split, prepared.training_profile, config, observer)
            for result in results:
                logger.info("%s %s #%s: %s %s, valid %s, test %s", result.family, result.model,
                            result.number, result.status,
                            result.reason or json.dumps(result.params), result.valid, result.test)
            self._select(profile, split, results, config.families)
            self.user_features_ = (_user_features_check(split, self.seed, self.top_k)
                                   if self._task == RANKING else None)
            self.fit_seconds_ = time.monotonic() - started
            logger.info("best: %s %s %s, %.1f s in all", self.best_family_, self.best_model_name_,
                        json.dumps(self.best_params_), self.fit_seconds_)
            if out is not None:
                write_leaderboard(results, self.top_k, out / "leaderboard.csv", self._task)
                self.export(out)
                from automl_rec.report.html import write_report

                self.report_path_ = write_report(out)
        finally:
            if handler is not None:
                logger.removeHandler(handler)
                logger.propagate = True
                handler.close()
        return self

    def _run_record(self, data: str | Path | pd.DataFrame, columns: dict[str, str | None],
                    split: Split, config: SearchConfig) -> dict[str, Any]:
        """What a worker process needs to join this fit's search (published in the study)."""
        return {
            "data": _source_path(data),
            "columns": columns, "families": config.families,
            "spaces": {name: space.to_dict() for name, space in config.spaces.items()},
            "metric": self.metric, "top_k": self.top_k, "max_epochs": self.max_epochs,
            "patience": self.patience, "seed": self.seed,
            "exclude_seen": getattr(split, "exclude_seen", None),
            "task": config.settings.task,
            "cold_items": self.cold_items,
            "positive": self.positive,
            "tuner": self.tuner, "heartbeat": self.heartbeat,
            **config.budget.to_record(), "device": self.device,
        }

    def _search_config(self, started: float) -> SearchConfig:
        """Check the arguments and turn them into the search's configuration."""
        if self.metric not in METRICS:
            raise ConfigurationError(
                f"Unknown metric {self.metric!r}; use one of: {', '.join(METRICS)}."
            )
        for name in ("top_k", "max_epochs", "patience", "heartbeat"):
            _check_positive(name, getattr(self, name))
        if not isinstance(self.cold_items, (int, float)) or not 0 <= self.cold_items < 1:
            raise ConfigurationError(
                f"cold_items must be a share from 0 to below 1 (e.g. 0.1); received "
                f"{self.cold_items!r}.")
        if self.max_trials is not None:
            _check_positive("max_trials", self.max_trials)
        check_task(self.task)
        if self.tuner not in TUNERS:
            raise ConfigurationError(
                f"Unknown tuner {self.tuner!r}; use one of: {', '.join(TUNERS)}."
            )
        if self.tuner == "optuna" and self.storage is not None:
            from automl_rec.tuning.backends.optuna_backend import open_storage

            open_storage(self.storage)  # an unreachable database stops the fit before any work
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
            budget=Budget.starting(started, seconds, max_trials),
            tuner=self.tuner, seed=self.seed, directory=directory, storage=self.storage,
            study_name=self.study_name, spaces=spaces, heartbeat=self.heartbeat,
            ensemble=bool(self.ensemble))

    def _select(self, profile: DataProfile, split: Split, results: list[CandidateResult],
                families: list[str]) -> None:
        task = self._task
        if task == RANKING:
            eligible = [r for r in results if r.family in families or r.members]
            ranked = sorted(eligible, key=lambda r: r.valid_score(self.metric, self.top_k),
                            reverse=True)
        else:
            ranked = outcome.ranked_candidates(task, results, families)
        if not ranked or ranked[0].status != COMPLETE:
            raise SearchFailedError(
                "No candidate completed: every trial failed (see the reasons in "
                "leaderboard.csv or run.log); try another family or a larger budget."
            )
        best = ranked[0]
        self._serving = None
        self._saved_model = None
        self.profile_ = profile
        self.split_ = split
        self.results_ = results
        self.leaderboard_ = leaderboard_frame(results, self.top_k, task)
        self.best_family_ = best.family
        self.best_model_name_ = best.model
        self.best_params_ = dict(best.params)
        self.best_result_ = best
        self.valid_metrics_ = dict(best.valid)
        self.test_metrics_ = dict(best.test)
        if task == RANKING:
            self.comparison_ = self._compare(best, results)
            self.exported_result_, self.export_note_ = best, None
            self.best_model_ = _refit_on_all(best, split, self.seed, self.top_k)
        else:
            assert isinstance(split, RowSplit)
            self.comparison_ = outcome.compare(task, best, results, self.seed)
            self.exported_result_, self.export_note_ = outcome.exported_candidate(ranked)
            self.best_model_ = outcome.refit_on_all(self.exported_result_, split, self.seed)

    @property
    def _task(self) -> str:
        """The task of the fit (of the loaded run), ``ranking`` before either."""
        choice = getattr(self, "task_", None)
        return choice.name if choice is not None else (self.task or RANKING)

    @property
    def _objective_key(self) -> str:
        """The key of the selection figure: ``ndcg@10``, ``auc`` or ``rmse``."""
        from automl_rec.tuning.objective import objective_of

        return objective_of(self._task, self.metric, self.top_k).key

    def _compare(
        self, best: CandidateResult, results: list[CandidateResult]
    ) -> dict[str, Any] | None:
        """Paired bootstraps on the test users: the winner against the best baseline and the
        best neural (non-baseline) model, and which families gave no model to compare, and why.

        "Best" on this side is the highest test value of the selection metric among the
        candidates scored on test (each baseline, each family's best trial): the strongest
        competitor, so that a claimed lead never depends on which reference was picked. The
        returned structure (JSON-ready) is described in the README's report section; its
        top-level ``reference``, ``difference``, ``low`` and ``high`` are the winner minus the
        best other baseline, present when there is one.
        """
        if best.test_result is None:
            return None
        tested = [r for r in results if r.test_result is not None and r.status == COMPLETE]
        baselines = [r for r in tested if r.family == BASELINES and r is not best]
        # an ensemble winner is compared with the best single model
        neural = [r for r in tested if r.family != BASELINES and not (best.members and r is best)]
        best_baseline = max(baselines, key=self._test_value, default=None)
        best_neural = max(neural, key=self._test_value, default=None)
        comparison: dict[str, Any] = {
            "metric": f"{self.metric}@{self.top_k}", "confidence": 0.95,
            "test_users": int(len(best.test_result.users)),
            "winner": self._entry(best), "best_baseline": self._entry(best_baseline),
            "best_neural": self._entry(best_neural), "gaps": [],
            "left_out": left_out(results),
        }
        for role, other in (("best_baseline", best_baseline), ("best_neural", best_neural)):
            if other is None or other is best:
                continue
            assert other.test_result is not None
            interval: BootstrapInterval = paired_bootstrap(
                best.test_result.per_user(self.metric), other.test_result.per_user(self.metric),
                confidence=comparison["confidence"], seed=self.seed)
            comparison["n_resamples"] = interval.n_resamples
            comparison["gaps"].append({
                "against": role, "name": candidate_name(other),
                "difference": interval.difference, "low": interval.low, "high": interval.high,
                "significant": interval.significant})
            if role == "best_baseline":
                comparison.update(reference=other.model, difference=interval.difference,
                                  low=interval.low, high=interval.high)
        return comparison

    def _test_value(self, result: CandidateResult) -> float:
        """The test value of the selection metric (``-inf`` when not scored on test)."""
        return result.test.get(f"{self.metric}@{self.top_k}", float("-inf"))

    def _entry(self, result: CandidateResult | None) -> dict[str, Any] | None:
        """A candidate as the comparison names it, with its validation and test values."""
        return outcome.entry(result, f"{self.metric}@{self.top_k}")

    def recommend(self, user_ids: list[str] | np.ndarray, k: int | None = None) -> pd.DataFrame:
        """Top-``k`` items for each raw user id, from the best model refit on all data.

        The lists are those of the exported SavedModel (the same serving graph answers both):
        unknown users get the most popular items, and items a user already has are left out when
        the protocol excludes seen items.

        Args:
            user_ids: Raw user ids, as in the input.
            k: List length, at most ``top_k`` (the default).

        Returns:
            A long table with columns ``user_id``, ``rank`` (1-based), ``item_id``, ``score``.

        Raises:
            NotFittedError: Before ``fit`` (or ``load``).
            ConfigurationError: ``k`` is above the ``top_k`` the model was fitted with.
        """
        raw = [str(u) for u in user_ids]
        out = self._call_serving("serving_default", user_id=raw)
        return _lists_frame(raw, out, self._list_length(k))

    def predict(self, user_ids: list[str] | np.ndarray, item_ids: list[str] | np.ndarray,
                context: dict[str, Any] | pd.DataFrame | None = None,
                recent: list[list[str]] | None = None,
                recent_ratings: list[list[float]] | None = None,
                recent_labels: list[list[float]] | None = None) -> np.ndarray:
        """The prediction of each (user, item) row of a click or rating fit: the probability
        that its label is 1 (``ctr``) or its rating (``rating``), from the exported model (the
        SavedModel's ``predict`` signature answers the same, and ``predict_with_recent`` where
        ``recent`` is given). Unknown users and items get the models' unknown-id rows.

        Args:
            user_ids: Raw user id of each row.
            item_ids: Raw item id of each row.
            context: The rows' values of the log's context columns, by column name (a
                DataFrame or a dict of lists); a column not given, an empty value or one the
                training rows did not have counts as no value.
            recent: Per row, every row of the user since the fitted data (raw item ids,
                oldest first: the items rated, or shown): the designs that read a history
                extend the stored one with them, as the test figures assume. Without it, a
                row is served with the histories of the fitted data.
            recent_ratings: For a rating fit given ``recent``, the ratings of those items.
            recent_labels: For a click fit given ``recent``, whether each of those items was
                clicked (1) or not (0).

        Raises:
            NotFittedError: Before ``fit`` (or ``load``).
            ConfigurationError: A ranking fit (it predicts lists, not rows), or the rows'
                columns differ in length.
        """
        _check_is_fitted(self)
        if self._task == RANKING:
            raise ConfigurationError(
                "This model was fitted for top-K ranking; predict() needs a click or rating "
                "fit (--task ctr or --task rating). Use recommend() for lists.")
        users, items = [str(u) for u in user_ids], [str(i) for i in item_ids]
        if len(users) != len(items):
            raise ConfigurationError(
                f"predict needs one item per user; received {len(users)} users and "
                f"{len(items)} items.")
        inputs: dict[str, Any] = {"user_id": users, "item_id": items}
        for column, name in self._context_inputs().items():
            given = context[column] if context is not None and column in context else (
                [""] * len(users))
            # Written out as the fit read the column (whole numbers without a decimal point).
            values = as_text(pd.Series(np.asarray(given).tolist() if np.ndim(given) else [])
                             ).fillna("").astype(str).tolist()
            if len(values) != len(users):
                raise ConfigurationError(
                    f"predict needs one value of the context column {column!r} per row; "
                    f"received {len(values)} values for {len(users)} rows.")
            inputs[name] = values
        if recent is None:
            return self._call_serving("predict", **inputs)["prediction"]
        labels = recent_ratings if self._task == RATING else recent_labels
        inputs.update(_recent_inputs(self._task, len(users), recent, labels))
        return self._call_serving("predict_with_recent", **inputs)["prediction"]

    def _context_inputs(self) -> dict[str, str]:
        """The ``predict`` signature's input of each context column of the log, by the column's
        name (empty without context columns)."""
        if getattr(self, "_saved_model", None) is not None:
            return dict(self.metadata_["serving"].get("predict", {}).get("context", {}))
        coders = self.split_.fields.coders
        return dict(zip([c.name for c in coders], context_input_names(coders)))

    def recommend_from_history(self, histories: list[list[str]], k: int | None = None
                               ) -> pd.DataFrame:
        """Top-``k`` items for histories given now (raw item ids, oldest first).

        Only models that can score a new history offer this (not those that learn one
        embedding per user: NeuMF, Caser, CDAE). The ``user_id`` column of the result is the
        position of each history in ``histories``.

        Raises:
            NotFittedError: Before ``fit`` (or ``load``).
            ConfigurationError: The model cannot score a new history, or ``k`` is too large.
        """
        width = max((len(h) for h in histories), default=0)
        padded = [[str(i) for i in h] + [""] * (width - len(h)) for h in histories]
        out = self._call_serving("recommend_from_history", item_ids=padded)
        return _lists_frame([str(i) for i in range(len(histories))], out, self._list_length(k))

    def recommend_for_features(self, users: pd.DataFrame | dict[str, list[Any]],
                               k: int | None = None) -> pd.DataFrame:
        """Top-``k`` items for users described by attributes only (new users), one per row.

        Args:
            users: A column per used column of the user table (names as in the table; the
                ``recommend_for_features`` signature's input names in ``metadata.json`` work
                too), one row per user; a missing column counts as missing values.
            k: List length, at most ``top_k``.

        Returns:
            The lists, as :meth:`recommend` gives them; ``user_id`` is the row's position.

        Raises:
            NotFittedError: Before ``fit`` (or ``load``).
            ConfigurationError: The model was fitted without a user table, or ``k`` is too
                large.
        """
        frame = pd.DataFrame(users)
        module = None if getattr(self, "_saved_model", None) is not None else (
            self.serving_module())
        contract = self.metadata_["serving"] if module is None else None
        columns = (contract.get("feature_inputs") if contract else
                   (_feature_inputs(module) if module.for_features is not None else None))
        if not columns:
            raise ConfigurationError(
                "This model was fitted without a user table (--users), so it cannot serve "
                "users from their attributes.")
        by_name = {str(c): c for c in frame.columns}
        inputs = {}
        for column, name in columns.items():
            source = by_name.get(column, by_name.get(name))
            values = frame[source] if source is not None else pd.Series([""] * len(frame))
            inputs[name] = [_feature_text(v) for v in values]
        out = self._call_serving("recommend_for_features", **inputs)
        return _lists_frame([str(i) for i in range(len(frame))], out, self._list_length(k))

    def evaluate(self, data: str | Path | pd.DataFrame, *, k: int | None = None,
                 **columns: str | None) -> dict[str, Any]:
        """Score held-out (user, item) pairs: NDCG@K, HR@K and MRR@K of each pair's item in its
        user's top-K list, averaged over pairs.

        What is scored is the model that ``recommend`` and the SavedModel answer with: the
        winner refit on all the data of the fit (train, validation and test), with full ranking
        and the fit's seen-item policy. The pairs should therefore come from after that data
        (later interactions of the same users, or new users, who get the most popular items).
        A pair that was in the fitted data says little about the model: when seen items are
        excluded, its item is masked out of the user's list, so it can never be a hit; when
        repeats are kept, the model was trained on it. The result reports the share of such
        pairs as ``seen_share``, and a :class:`SeenPairsWarning` is issued when they are most
        of the pairs.

        For a fitted model the fitted data is ``split_.stage("all")``. For a loaded model it is
        read from the SavedModel (its user and item vocabularies and the ``history_items`` /
        ``history_splits`` variables); when the SavedModel does not hold them, ``seen_share``
        is ``None`` and the check is skipped. Only the positives among the pairs are scored,
        by the fit's rule (a binary label's 1 rows, or ``positive``).

        Args:
            data: A file or DataFrame of held-out interactions (column roles as for ``fit``).
            k: Cut-off, at most ``top_k`` (the default).
            **columns: ``user_col``, ``item_col``, ``sep``... as for ``fit``.

        Returns:
            The metrics, the numbers of pairs and of distinct users, and ``seen_share``: the
            share of pairs that were in the fitted data (``None`` when unknown).

        Warns:
            SeenPairsWarning: More than half of the pairs were in the fitted data.
        """
        import warnings

        from automl_rec.evaluation.metrics import rank_metrics

        if self._task != RANKING:
            return self._evaluate_rows(data, columns)
        k = self._list_length(k)
        # The fit's positives only: a held-out exposure without a click is no target.
        pairs = select_positives(validate_interactions(load_interactions(data, **columns),
                                                       min_distinct=1), self.positive).frame
        users = pairs["user"].astype(str).tolist()
        items = pairs["item"].astype(str).tolist()
        unique = list(dict.fromkeys(users))
        lists = self.recommend(unique, k=k)
        position = {(u, i): r - 1 for u, i, r in zip(lists["user_id"], lists["item_id"],
                                                      lists["rank"])}
        found = np.array([position.get((u, i), -1) for u, i in zip(users, items)])
        ndcg, hit, rr = rank_metrics(found)
        seen = self._seen_pairs(users, items)
        share = None if seen is None else float(seen.mean())
        if share is not None and share > 0.5:
            excluded = (self.split_.exclude_seen if getattr(self, "_saved_model", None) is None
                        else bool(self.exclude_seen))
            consequence = ("seen items are excluded from its lists, so these pairs can never "
                           "be hits" if excluded else "it was trained on these pairs, so they "
                           "overstate its quality")
            warnings.warn(
                f"{share:.0%} of the {len(found):,} evaluated pairs are in the data the model "
                f"was fitted on (it is refit on all of it): {consequence}. Evaluate on "
                "interactions from after the fit.", SeenPairsWarning, stacklevel=2)
        return {f"ndcg@{k}": float(ndcg.mean()), f"hr@{k}": float(hit.mean()),
                f"mrr@{k}": float(rr.mean()), "pairs": len(pairs), "users": len(unique),
                "seen_share": share}

    def _evaluate_rows(self, data: str | Path | pd.DataFrame,
                       columns: dict[str, str | None]) -> dict[str, Any]:
        """A click or rating fit's figures on held-out rows (every row: a click log's 0 rows
        too), from the exported model; with times, each row is served with the user's earlier
        held-out rows as its recent rows, as the test figures were."""
        from automl_rec.evaluation.pointwise import task_metrics
        from automl_rec.tasks.rows import RowFold, recent_rows

        held_out = select_positives(validate_interactions(load_interactions(data, **columns),
                                                          min_distinct=1), self.positive)
        rows = task_rows(held_out, self._task)
        recent = labels = None
        length = self._history_length()
        if "time" in rows.columns:
            rows = rows.iloc[np.argsort(rows["time"].to_numpy(dtype=float), kind="stable")]
            if length:
                recent, labels = recent_rows(rows)
        users = rows["user"].astype(str).to_numpy()
        context = {c[len(CONTEXT_PREFIX):]: rows[c].astype(object).tolist()
                   for c in context_columns(rows)}
        label_input = "recent_ratings" if self._task == RATING else "recent_labels"
        predictions = self.predict(users, rows["item"].astype(str).tolist(), context, recent,
                                   **{label_input: labels})
        fold = RowFold(users, rows["item"].astype(str).to_numpy(),
                       rows["label"].to_numpy(dtype=np.float32))
        return {**task_metrics(self._task, fold, predictions), "rows": len(rows),
                "users": int(len(set(users)))}

    def _history_length(self) -> int:
        """Items of a user's history that the exported click or rating model reads (0: none,
        or a SavedModel written before the ``predict_with_recent`` signature)."""
        if getattr(self, "_saved_model", None) is not None:
            contract = self.metadata_["serving"].get("predict_with_recent") or {}
            return int(contract.get("history_length", 0))
        return self.serving_module().history_length

    def _item_vocabulary(self) -> np.ndarray:
        """The raw item ids the exported model has rows of."""
        loaded = getattr(self, "_saved_model", None)
        if loaded is None:
            return np.asarray(self.split_.item_ids.ids).astype(str)
        return np.array([i.decode("utf-8") for i in loaded.item_ids.numpy()])

    def _seen_pairs(self, users: list[str], items: list[str]) -> np.ndarray | None:
        """Whether each raw (user, item) pair is in the data the model was fitted on; ``None``
        when a loaded SavedModel does not hold its histories."""
        import scipy.sparse as sp

        loaded = getattr(self, "_saved_model", None)
        if loaded is None:
            split = self.split_
            user_ids, item_ids = split.user_ids.ids, split.item_ids.ids
            matrix = split.stage("all").matrix
            user_index = pd.Index(np.asarray(user_ids).astype(str)).get_indexer(users)
        else:
            import tensorflow as tf

            try:
                item_ids = self._item_vocabulary()
                history = loaded.history_items.numpy()
                splits = loaded.history_splits.numpy()
                user_index = tf.raw_ops.LookupTableFindV2(
                    table_handle=loaded.user_table.resource_handle,
                    keys=tf.constant(users, tf.string),
                    default_value=tf.constant(-1, tf.int64)).numpy()
            except (AttributeError, TypeError, ValueError, tf.errors.OpError):
                return None
            matrix = sp.csr_matrix((np.ones(len(history), np.float32), history, splits),
                                   shape=(len(splits) - 1, len(item_ids)))
        item_index = pd.Index(np.asarray(item_ids).astype(str)).get_indexer(items)
        user_index = np.asarray(user_index, dtype=np.int64)
        known = (user_index >= 0) & (item_index >= 0)
        seen = np.zeros(len(users), dtype=bool)
        if known.any():
            seen[known] = np.asarray(matrix[user_index[known], item_index[known]]).ravel() > 0
        return seen

    def _list_length(self, k: int | None) -> int:
        if k is None:
            return self.top_k
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.top_k:
            raise ConfigurationError(
                f"k must be a whole number from 1 to {self.top_k} (the top_k the model was "
                f"fitted with); received {k!r}. Fit with a larger top_k for longer lists."
            )
        return k

    def _call_serving(self, signature: str, **inputs: Any) -> dict[str, np.ndarray]:
        _check_is_fitted(self)
        import tensorflow as tf

        loaded = getattr(self, "_saved_model", None)
        if loaded is not None:
            if signature not in loaded.signatures:
                raise ConfigurationError(
                    f"This model ({self.best_family_}/{self.best_model_name_}) has no "
                    f"{signature} signature: it scores users by a learned user embedding."
                )
            out = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
        else:
            module = self.serving_module()
            function = module.function(signature)
            if function is None:
                raise ConfigurationError(
                    f"This model ({self.best_family_}/{self.best_model_name_}) cannot score a "
                    "new history: it scores users by a learned user embedding."
                )
            out = function(*[tf.constant(value) for value in inputs.values()])
        return {name: np.asarray(tensor) for name, tensor in out.items()}

    def serving_module(self) -> Any:
        """The serving graph of the fitted model (what ``export`` saves), built once."""
        _check_is_fitted(self)
        if getattr(self, "_serving", None) is None:
            if self._task != RANKING:
                from automl_rec.tasks.serving import row_serving_module

                self._serving = row_serving_module(self.best_model_, self.split_, self.top_k)
                return self._serving
            from automl_rec.export import serving_module

            chosen = (getattr(self, "user_features_", None) or {}).get("neighbours")
            self._serving = serving_module(self.best_model_, self.split_, self.top_k, chosen)
        return self._serving

    def _keras_model(self) -> Any:
        """The Keras network of the exported model (saved as ``model.keras``), if it has one."""
        import keras

        model = self.best_model_
        for _ in range(3):  # a stage model holds a design, which holds the network
            if isinstance(model, keras.Model):
                return model
            model = getattr(model, "model", None)
        return None

    def export(self, directory: str | Path) -> Path:
        """Write the SavedModel, ``model.keras`` and ``metadata.json`` to ``directory``.

        Writes are atomic: an interrupted export leaves the previous model in place.

        Returns:
            The directory.
        """
        _check_is_fitted(self)
        from automl_rec.export import export_run

        directory = Path(directory)
        self.metadata_ = self.metadata()
        export_run(directory, self.serving_module(), self._keras_model(), self.metadata_)
        return directory

    def metadata(self) -> dict[str, Any]:
        """What the exported model is: versions, schema, profile summary, protocol, winner,
        hyperparameters, metrics, serving contract."""
        _check_is_fitted(self)
        from automl_rec.export import environment

        profile = self.profile_
        choice = getattr(self, "task_", None) or TaskChoice(RANKING, "", True)
        common = {
            "environment": environment(),
            "schema": {"columns": profile.columns, "reading": profile.reading,
                       "features": profile.features},
            "profile": {key: getattr(profile, key) for key in (
                "source", "n_users", "n_items", "n_interactions", "density", "has_timestamps",
                "order",
                "feedback", "repeat_rate", "warnings")},
            "task": choice.to_dict(),
            "families": resolve_families(self.families),
            "winner": {"family": self.best_family_, "model": self.best_model_name_,
                       "params": self.best_params_, "epochs": self.best_result_.epochs,
                       "refit": _refit_description(self.best_result_, choice.name)},
            "valid_metrics": self.valid_metrics_,
            "test_metrics": self.test_metrics_,
            "comparison": self.comparison_,
            "budget": {"time_budget": self.time_budget, "max_trials": self.max_trials,
                       "tuner": self.tuner, "max_epochs": self.max_epochs,
                       "patience": self.patience, "storage": self.storage,
                       "study_name": self.study_name},
            "fit_seconds": getattr(self, "fit_seconds_", None),
        }
        return {**common, **(self._ranking_metadata() if choice.name == RANKING
                             else self._row_metadata())}

    def _row_metadata(self) -> dict[str, Any]:
        """The click or rating task's part of the metadata: the row protocol, the figures,
        calibration, what was exported and the ``predict`` contract."""
        split, task, module = self.split_, self._task, self.serving_module()
        exported = self.exported_result_
        return {
            "protocol": {"name": split.protocol, **split.describe(),
                         "metric": self._objective_key,
                         "higher_is_better": higher_is_better(task),
                         "figures": list(figures_of(task, self.top_k)),
                         "positives": self.profile_.feedback.get("rule"),
                         "positive_rule": self.positive, "seed": self.seed},
            "calibration": outcome.calibration(task, self.best_result_),
            "exported": {"family": exported.family, "model": exported.model,
                         "name": candidate_name(exported), "params": exported.params,
                         "test_metrics": exported.test, "note": self.export_note_},
            "serving": {"k": module.k, "exclude_seen": True,
                        "signatures": list(module.signatures()),
                        "predict": {"inputs": ["user_id", "item_id",
                                               *self._context_inputs().values()],
                                    "context": self._context_inputs(),
                                    "output": "prediction",
                                    "meaning": ("the probability that the row's label is 1"
                                                if task == CTR else "the predicted rating")},
                        "predict_with_recent": {
                            "inputs": ["user_id", "item_id", *self._context_inputs().values(),
                                       "recent_item_ids", recent_labels_input(task)],
                            "history_length": module.history_length,
                            "meaning": ("predict, with every row of each row's user since the "
                                        "fitted data (items oldest first, '' for padding"
                                        + ("; with their labels, 1 for a click and 0 for an "
                                           "exposure without one" if task == CTR else
                                           "; with their ratings")
                                        + ") extending the stored history, as the test "
                                        "figures assume" if module.history_length else
                                        "predict (this model reads no history: the recent "
                                        "rows change nothing)")},
                        "unknown_users": ("the training rows' average for unknown users and "
                                          "items (their unknown-id rows)")},
            "examples": outcome.row_examples(split, self.predict, self.seed),
        }

    def _ranking_metadata(self) -> dict[str, Any]:
        """The ranking task's part of the metadata: its protocol, warm and cold figures,
        feature use, the serving contract and example lists."""
        profile, split = self.profile_, self.split_
        return {
            "protocol": {"name": split.protocol, "exclude_seen": split.exclude_seen,
                         "cold_items": split.cold_items,
                         "seen_policy": split.seen_policy,
                         "positives": profile.feedback.get("rule"),
                         "positive_rule": self.positive,
                         "metric": f"{self.metric}@{self.top_k}", "seed": self.seed,
                         "higher_is_better": True,
                         "figures": list(figures_of(RANKING, self.top_k)),
                         "validation": _validation_sample(split)},
            "warm_and_cold": warm_and_cold_table(self.results_, self.top_k),
            "feature_use": (feature_use_table(self.results_, f"{self.metric}@{self.top_k}")
                            if split.item_columns is not None else None),
            "serving": {"k": min(self.top_k, split.n_items), "exclude_seen": split.exclude_seen,
                        "signatures": list(self.serving_module().signatures()),
                        "unknown_users": _unknown_users(self.serving_module()),
                        "user_features": getattr(self, "user_features_", None),
                        "feature_inputs": (_feature_inputs(self.serving_module())
                                           if self.serving_module().for_features is not None
                                           else None)},
            "examples": self._examples(),
        }

    def _examples(self, count: int = 5, recent: int = 10) -> list[dict[str, Any]]:
        """A few evaluated users (seeded choice) with their latest items and their lists."""
        split = self.split_
        everything = split.stage("all")
        evaluated = split.holdout("test").users
        rng = np.random.default_rng(self.seed)
        chosen = np.sort(rng.choice(evaluated, size=min(count, len(evaluated)), replace=False))
        raw = [str(u) for u in split.user_ids.decode(chosen)]
        lists = self.recommend(raw)
        examples = []
        for user, index in zip(raw, chosen):
            start, end = everything.offsets[index], everything.offsets[index + 1]
            history = split.item_ids.decode(everything.items[max(start, end - recent):end])
            examples.append({
                "user_id": user, "recent": [str(i) for i in history][::-1],
                "recommended": lists.loc[lists["user_id"] == user, "item_id"].tolist()})
        return examples

    @classmethod
    def load(cls, directory: str | Path) -> AutoRecommender:
        """Load an exported run; ``recommend`` then answers from its SavedModel.

        Args:
            directory: A run directory written by ``fit`` (or ``export``).

        Raises:
            ConfigurationError: The directory holds no exported model.
        """
        directory = Path(directory)
        metadata_path = directory / "model" / "assets" / "metadata.json"
        if not metadata_path.is_file():
            raise ConfigurationError(
                f"'{directory}' holds no exported model (no model/assets/metadata.json); give "
                "the run directory of a finished fit."
            )
        from automl_rec.models import quiet_tensorflow

        quiet_tensorflow()
        import tensorflow as tf

        metadata = json.loads(metadata_path.read_text())
        protocol, winner = metadata["protocol"], metadata["winner"]
        choice = TaskChoice(**metadata.get("task") or {"name": RANKING, "reason": "",
                                                      "inferred": True})
        if choice.name == RANKING:
            metric, k = protocol["metric"].split("@")
        else:
            metric, k = "ndcg", metadata["serving"]["k"]
        model = cls(metadata["families"], metric=metric, top_k=int(k), seed=protocol["seed"],
                    exclude_seen=protocol.get("exclude_seen"),
                    positive=protocol.get("positive_rule"), output_dir=directory,
                    task=choice.name)
        model.task_ = choice
        model.best_family_ = winner["family"]
        model.best_model_name_ = winner["model"]
        model.best_params_ = winner["params"]
        model.valid_metrics_ = metadata["valid_metrics"]
        model.test_metrics_ = metadata["test_metrics"]
        model.comparison_ = metadata["comparison"]
        model.metadata_ = metadata
        if (directory / "profile.json").is_file():
            model.profile_ = DataProfile.from_dict(json.loads((directory / "profile.json")
                                                              .read_text()))
        if (directory / "leaderboard.csv").is_file():
            model.leaderboard_ = pd.read_csv(directory / "leaderboard.csv")
        model._saved_model = tf.saved_model.load(str(directory / "model"))
        model.best_model_ = model._saved_model
        return model


class SeenPairsWarning(UserWarning):
    """Most pairs given to :meth:`AutoRecommender.evaluate` were in the data the model was
    fitted on, so its metrics say little about what it does on new interactions."""


@dataclass(frozen=True)
class PreparedData:
    """The data side of a fit, before any model is trained.

    Attributes:
        profile: The whole file described (every row; positives and negatives counted), for the
            report and ``profile.json``.
        training_profile: The training stage described: what the search's decisions (which
            families apply, space bounds) may use without seeing a held-out interaction. Its
            ``n_users`` and ``n_items`` are the vocabularies the models score.
        split: The protocol's split of the positives, with the seen-item policy decided on the
            training stage.
        interactions: The validated positives (``negatives`` holds the other rows).
        features: The item and user tables (either may be ``None``).
        task: The fit's task and why; for ``ctr`` and ``rating`` ``split`` is the rows' split
            (:class:`~automl_rec.tasks.rows.RowSplit`).
    """

    profile: DataProfile
    training_profile: DataProfile
    split: Split | RowSplit
    interactions: Interactions
    features: Features
    task: TaskChoice


def prepare(data: str | Path | pd.DataFrame, columns: dict[str, str | None], *,
            positive: str | None = None, exclude_seen: bool | None, seed: int,
            cold_items: float = 0.0, features: Features | None = None,
            task: str | None = None) -> PreparedData:
    """Load, validate, keep the positives, profile, choose the task and split: the data side
    of a fit (a worker's too). ``features`` are the item and user tables, described in the
    profile; ``task`` is the requested task (``None``: inferred from the feedback)."""
    features = features or Features()
    interactions, profile = profile_log(data, columns, positive=positive, features=features)
    described = profile.features
    logger.info("profiled %s: %d users, %d items, %d interactions (%s)", profile.source,
                profile.n_users, profile.n_items, profile.n_interactions,
                profile.feedback.get("rule"))
    choice = choose_task(task, profile.feedback, positive)
    logger.info("task %s: %s", choice.name, choice.reason)
    if choice.name != RANKING:
        if cold_items:
            raise ConfigurationError(
                f"--cold-items holds items out of the ranking task's protocol; the "
                f"{choice.name} task splits its rows by time and has no cold-item holdout.")
        rows = with_fields(split_rows(task_rows(interactions, choice.name), choice.name,
                                      has_order=profile.has_order, seed=seed), features)
        logger.info("protocol %s: %s", rows.protocol, rows.describe()["rows"])
        return PreparedData(profile, profile, rows, interactions, features, choice)
    split = split_interactions(interactions, exclude_seen=exclude_seen, seed=seed,
                               cold_items=cold_items,
                               catalogue=None if features.items is None else features.items.ids)
    split = with_features(split, features)
    training = profile_interactions(training_interactions(interactions, split))
    training = replace(training, n_users=split.n_users, n_items=split.n_items,
                       features=described)
    logger.info("protocol %s, exclude seen: %s (%s)", split.protocol, split.exclude_seen,
                split.seen_policy.get("reason"))
    if split.cold_items:
        logger.info("cold items: %d items held out with %d of their interactions (seed %d)",
                    split.cold_items["items"], split.cold_items["dropped"], seed)
    return PreparedData(profile, training, split, interactions, features, choice)


def _user_features_check(split: Split, seed: int, k: int) -> dict[str, Any] | None:
    """How users without a history are served from the user table (neighbours chosen on the
    validation cases, with the figures); ``None`` without a user table."""
    if split.user_columns is None:
        return None
    from automl_rec.models.user_neighbours import choose_neighbours

    chosen = choose_neighbours(split.user_columns, split.holdout("valid"), seed, k)
    logger.info("users served from their attributes: %d neighbours, validation HR@%d %.4f "
                "(popularity %.4f, %d cases)", chosen["neighbours"], k,
                chosen["hr"][str(chosen["neighbours"])], chosen["popularity_hr"],
                chosen["cases"])
    return chosen


def _feature_inputs(module: Any) -> dict[str, str]:
    """The user table's columns and the ``recommend_for_features`` input of each."""
    neighbours = module.neighbours
    return {str(c.name): name for c, name in zip(neighbours.columns, neighbours.input_names)}


def _unknown_users(module: Any) -> str:
    if module.for_features is None:
        return "most popular items"
    return ("users of the user table without a history: the items of the known users with "
            "the most similar attributes; any other: the most popular items")


def _feature_text(value: Any) -> str:
    """A raw attribute value as the serving graph reads it (missing: empty)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _source_path(source: str | Path | pd.DataFrame | None) -> str | None:
    """A file's absolute path for the run record (``None`` for a DataFrame or nothing)."""
    if source is None or isinstance(source, pd.DataFrame):
        return None
    return str(Path(source).resolve())


def _keras_tuner_role() -> str:
    from automl_rec.tuning.backends.keras_tuner_backend import keras_tuner_role

    return keras_tuner_role()


def _recent_inputs(task: str, rows: int, recent: list[list[str]],
                   labels: list[list[float]] | None) -> dict[str, Any]:
    """The ``predict_with_recent`` inputs of each row's recent items and their labels (the
    ratings, or 1 for a click and 0 for an exposure without one), padded in front to one
    width.

    Raises:
        ConfigurationError: Not one list per row, no labels, or a list of labels whose length
            differs from its items'.
    """
    if len(recent) != rows:
        raise ConfigurationError(
            f"predict needs one list of recent items per row; received {len(recent)} lists "
            f"for {rows} rows.")
    name = recent_labels_input(task)
    if labels is None or len(labels) != rows or any(
            len(r) != len(i) for r, i in zip(labels, recent)):
        what = "ratings" if task == RATING else "labels (1 for a click, 0 for none)"
        raise ConfigurationError(
            f"A {task} fit needs the {what} of the recent items: {name} with one value per "
            "recent item of each row.")
    width = max((len(items) for items in recent), default=0)
    return {"recent_item_ids": np.array(
        [[""] * (width - len(items)) + [str(i) for i in items] for items in recent],
        np.str_).reshape(rows, width),
        name: np.array([[0.0] * (width - len(r)) + [float(x) for x in r] for r in labels],
                       np.float32).reshape(rows, width)}


def _lists_frame(keys: list[str], out: dict[str, np.ndarray], k: int) -> pd.DataFrame:
    """A long table of top-``k`` lists from the serving outputs."""
    items = out["item_ids"][:, :k]
    scores = out["scores"][:, :k]
    keep = np.isfinite(scores)
    return pd.DataFrame({
        "user_id": np.repeat(np.asarray(keys, dtype=object), items.shape[1])[keep.ravel()],
        "rank": np.tile(np.arange(1, items.shape[1] + 1), len(keys))[keep.ravel()],
        "item_id": [i.decode("utf-8") for i in items[keep]],
        "score": scores[keep],
    })


def _refit_on_all(best: CandidateResult, split: Split, seed: int, k: int) -> Any:
    """The winner on every interaction (train + validation + test): a baseline fitted again, a
    trained model made as its test model was (:func:`model_on_stage`, lists of ``k``)."""
    if best.family == BASELINES:
        return BASELINE_MODELS[best.model](**best.params).fit(split.stage("all"))
    return model_on_stage(best, split, "all", seed, k=k)


def _refit_description(best: CandidateResult, task: str = RANKING) -> dict[str, Any]:
    """How the test model and the exported model were made from the selected candidate."""
    if best.family == BASELINES:
        return {"how": "fit", "stages": ["train_valid", "all"]}
    if best.members:
        return {"how": "members", "stages": ["train_valid", "all"],
                "members": {candidate_name(m): _refit_description(m, task) for m in best.members},
                "note": "each member brought to train + validation (the test model) and to all "
                        "the data (the exported model) as it would be alone; their scores "
                        "averaged"}
    how, epochs = refit_plan(best, task)
    if how == "refresh":
        return {"how": "refresh", "epochs": epochs, "stages": ["train_valid", "all"],
                "note": "the trial's best weights (trained on train), trained on for the given "
                        "epochs on train + validation (the test model) and, the same way, on "
                        "all the data (the exported model)"}
    return {"how": "retrain", "epochs": epochs, "stages": ["train_valid", "all"]}


def _validation_sample(split: Split) -> dict[str, Any]:
    """How many validation users the validation figures were computed on: a seeded sample of
    at most ``SEARCH_VALIDATION_USERS`` of them (see :mod:`automl_rec.evaluation.sampling`)."""
    from automl_rec.evaluation import SEARCH_VALIDATION_USERS

    users = int(len(split.holdout("valid").users))
    return {"users": users, "scored_users": min(users, SEARCH_VALIDATION_USERS),
            "max_users": SEARCH_VALIDATION_USERS, "seed": split.seed}


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
    # The run's progress goes to run.log; libraries that configure the root logger (TensorFlow
    # does) would otherwise echo every line on the terminal.
    logger.propagate = False
    return handler
