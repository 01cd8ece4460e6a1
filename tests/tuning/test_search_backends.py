from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from automl_rec import AutoRecommender
from automl_rec.datasets import make_interactions
from automl_rec.models import default_space, family_module


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_interactions(n_users=100, n_items=40, mean_history=10, seed=5)


@pytest.mark.parametrize("tuner", ["hyperband", "bayesian", "random"])
def test_keras_tuner_backends_run_a_small_search(
    frame: pd.DataFrame, tmp_path: Path, tuner: str
) -> None:
    model = AutoRecommender(families=["mlp"], tuner=tuner, max_trials=2, max_epochs=2,
                            output_dir=tmp_path).fit(frame)
    trials = model.leaderboard_[model.leaderboard_["family"] == "mlp"]
    assert len(trials) == 2
    assert (trials["status"] == "complete").all()
    assert model.best_family_ == "mlp"
    assert model.test_metrics_["ndcg@10"] >= 0
    assert (tmp_path / "keras_tuner").is_dir()


def test_optuna_enqueues_the_defaults_first_and_same_seed_repeats_the_search(
    frame: pd.DataFrame,
) -> None:
    runs = [AutoRecommender(families=["mlp"], max_trials=2, max_epochs=2, seed=9).fit(frame)
            for _ in range(2)]
    boards = [r.leaderboard_[r.leaderboard_["family"] == "mlp"] for r in runs]
    space = family_module("mlp").adapt_space(default_space("mlp"), runs[0].training_profile_)
    assert json.loads(boards[0]["params"].iloc[0]) == space.defaults()
    columns = ["params", "valid_ndcg@10", "test_ndcg@10", "epochs"]
    pd.testing.assert_frame_equal(boards[0][columns].reset_index(drop=True),
                                  boards[1][columns].reset_index(drop=True))


def test_the_first_trials_try_the_defaults_without_item_features_before_other_designs() -> None:
    from automl_rec.tuning.backends.optuna_backend import default_trials

    space = default_space("attention")
    first, plain, *others = default_trials(space)
    assert first == space.defaults() and first["item_features"] == "attributes"
    assert plain == {key: value for key, value in first.items()
                     if key not in ("text_encoder", "id_dropout")} | {"item_features": "none"}
    assert [trial["design"] for trial in others] == ["bert4rec"]
    assert all(trial["item_features"] == "attributes" for trial in others)
    # Without an item table the space allows ids only: one default per design, as before.
    ids_only = space.narrowed("item_features", choices=("none",))
    assert [trial["design"] for trial in default_trials(ids_only)] == ["sasrec", "bert4rec"]


def test_optuna_prunes_a_trial_far_behind_the_completed_trial_of_its_design() -> None:
    from automl_rec.leaderboard import COMPLETE, CandidateResult
    from automl_rec.tuning.backends.optuna_backend import PRUNE_AFTER_EPOCHS, OptunaBackend

    backend = OptunaBackend(None, "prune", seed=0, fingerprint={})
    backend.register("mlp", default_space("mlp").narrowed("item_features", choices=("none",)))
    first = backend.ask("mlp")
    curve = [0.03, 0.04, 0.06, 0.07, 0.08]
    assert not any(backend.report(first, epoch, value)
                   for epoch, value in enumerate(curve, start=1))
    backend.tell(first, CandidateResult("mlp", first.params["design"], first.params, COMPLETE,
                                        curve=curve))

    # The family's other design starts at its own pace: nothing of the first design judges it.
    other = backend.ask("mlp")
    assert other.params["design"] != first.params["design"]
    assert not any(backend.report(other, epoch, value / 3)
                   for epoch, value in enumerate(curve, start=1))
    # Of the same design, a trial keeping pace is never pruned; one learning at a third of the
    # pace is pruned at the first epoch the rule acts, not before.
    proposals = [backend.ask("mlp") for _ in range(20)]
    steady, slow = [p for p in proposals if p.params["design"] == first.params["design"]][:2]
    assert not any(backend.report(steady, epoch, value + 0.001)
                   for epoch, value in enumerate(curve, start=1))
    pruned = [backend.report(slow, epoch, value / 3)
              for epoch, value in enumerate(curve, start=1)]
    assert pruned.index(True) + 1 == PRUNE_AFTER_EPOCHS


def test_optuna_does_not_prune_ids_only_by_the_curve_of_attributes() -> None:
    from automl_rec.leaderboard import COMPLETE, CandidateResult
    from automl_rec.tuning.backends.optuna_backend import OptunaBackend

    backend = OptunaBackend(None, "prune-features", seed=0, fingerprint={})
    backend.register("attention", default_space("attention"))
    with_attributes = backend.ask("attention")
    assert with_attributes.params["item_features"] == "attributes"
    curve = [0.03, 0.06, 0.08, 0.09, 0.10]
    for epoch, value in enumerate(curve, start=1):
        backend.report(with_attributes, epoch, value)
    backend.tell(with_attributes, CandidateResult("attention", "sasrec", with_attributes.params,
                                                  COMPLETE, curve=curve))
    # The ids-only defaults start slower (measured on MovieLens: 0.053 against 0.076 at epoch 3,
    # and ahead at the end): only completed ids-only trials may prune them.
    ids_only = backend.ask("attention")
    assert ids_only.params["item_features"] == "none"
    assert not any(backend.report(ids_only, epoch, value / 3)
                   for epoch, value in enumerate(curve, start=1))
