"""How each family copes with large catalogues: sampled softmax, designs left out, stated limits."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from automl_rec.data.loading import load_interactions
from automl_rec.data.profiling import profile_interactions
from automl_rec.data.splitting import StageData
from automl_rec.data.validation import validate_interactions
from automl_rec.datasets import make_interactions
from automl_rec.models import default_space, family_module
from automl_rec.models.next_item import FULL_SOFTMAX_MAX_ITEMS, logit_width


@pytest.fixture(scope="module")
def profile() -> Any:
    return profile_interactions(validate_interactions(load_interactions(
        make_interactions(n_users=50, n_items=30, mean_history=10, seed=2))))


def test_autoencoder_states_its_catalogue_and_epoch_limits(profile: Any) -> None:
    module = family_module("autoencoder")
    assert module.unsupported_reason(profile) is None
    reason = module.unsupported_reason(replace(profile, n_items=module.MAX_ITEMS + 1))
    assert f"{module.MAX_ITEMS + 1:,} items" in reason and f"{module.MAX_ITEMS:,}" in reason
    users = module.MAX_EPOCH_CELLS["cpu"] // 1000 + 1
    reason = module.unsupported_reason(replace(profile, n_users=users, n_items=1000))
    assert f"{users:,} users x 1,000 items" in reason and "CPU" in reason
    assert f"{module.MAX_EPOCH_CELLS['cpu']:,}" in reason


def test_dense_softmax_designs_leave_large_catalogues_to_sampled_ones(profile: Any) -> None:
    mlp, cnn = family_module("mlp"), family_module("cnn")
    large = replace(profile, n_items=FULL_SOFTMAX_MAX_ITEMS + 1)
    assert cnn.adapt_space(default_space("cnn"), large)["design"].choices == ("nextitnet",)
    # YouTube-DNN switches to sampled softmax instead: both mlp designs stay.
    assert set(mlp.adapt_space(default_space("mlp"), large)["design"].choices) == {
        "youtube", "neumf"}
    assert mlp.unsupported_reason(large) is None
    for n_items in (FULL_SOFTMAX_MAX_ITEMS, FULL_SOFTMAX_MAX_ITEMS + 1):
        sizes = mlp.adapt_space(default_space("mlp"), replace(profile, n_items=n_items))
        assert max(sizes["batch_size"].choices) * logit_width(n_items) <= 60_000_000


@pytest.mark.parametrize("family, design", [("lstm", None), ("attention", "sasrec"),
                                            ("mlp", "youtube")])
def test_next_item_models_train_with_sampled_softmax_on_a_large_catalogue(
        family: str, design: str | None, profile: Any) -> None:
    from automl_rec.models.keras_base import seed_everything

    n_items, rng = FULL_SOFTMAX_MAX_ITEMS + 10, np.random.default_rng(0)
    users = np.repeat(np.arange(20), 8)
    data = StageData(users, rng.integers(0, n_items, len(users)), 20, n_items)
    module = family_module(family)
    space = module.adapt_space(default_space(family), replace(profile, n_items=n_items))
    params = space.completed({} if design is None else {"design": design})
    seed_everything(0)
    model = module.build(params, data, 0)
    assert not model.xla_compatible
    assert model.cells_per_example() < model.length * n_items
    assert np.isfinite(model.fit_epoch())
    scores = model.score(np.arange(3))
    assert scores.shape == (3, n_items) and np.isfinite(scores).all()


def test_sampled_negatives_are_searched_with_a_default_that_follows_the_catalogue(
        profile: Any) -> None:
    from automl_rec.models.next_item import adapt_negatives

    def negatives(n_items: int) -> Any:
        return adapt_negatives(default_space("attention"), n_items)["negatives"]

    # Only sizes below the catalogue; the full softmax by default while the saving is small.
    assert negatives(300).choices == (0, 256) and negatives(300).default == 0
    assert negatives(2_000).default == 0
    # At least 1,024 negatives making the logits four times fewer: sampled by default.
    assert negatives(12_000).default == 1_024
    assert negatives(20_000).default == 4_096
    # No full softmax where a dense one does not fit.
    assert 0 not in negatives(FULL_SOFTMAX_MAX_ITEMS + 1).choices
    for family in ("lstm", "cnn"):
        assert "negatives" in default_space(family).names()


@pytest.mark.parametrize("family, design", [("lstm", None), ("attention", "sasrec"),
                                            ("attention", "bert4rec"), ("cnn", "nextitnet")])
def test_a_chosen_number_of_negatives_trains_below_the_dense_limit(
        family: str, design: str | None, profile: Any) -> None:
    from automl_rec.models.keras_base import seed_everything

    n_items, rng = 600, np.random.default_rng(1)
    users = np.repeat(np.arange(20), 8)
    data = StageData(users, rng.integers(0, n_items, len(users)), 20, n_items)
    module = family_module(family)
    params = default_space(family).completed(
        {"negatives": 256, **({} if design is None else {"design": design})})
    seed_everything(0)
    model = module.build(params, data, 0)
    assert model.negatives == 256 and not model.xla_compatible
    assert model.cells_per_example() == model.length * 256
    assert np.isfinite(model.fit_epoch())
    assert model.score(np.arange(3)).shape == (3, n_items)


def test_a_long_window_shrinks_the_batch_at_build_not_every_batch_choice(profile: Any) -> None:
    from automl_rec.models.keras_base import MAX_LOGIT_CELLS

    module = family_module("attention")
    n_items = 20_000
    space = module.adapt_space(default_space("attention"),
                               replace(profile, n_items=n_items,
                                       history_length={**profile.history_length, "p95": 200}))
    # The default batch is kept for the default (sampled) softmax and window...
    assert space["batch_size"].default == 128
    users = np.repeat(np.arange(4), 3)
    data = StageData(users, np.arange(len(users)) % n_items, 4, n_items)
    params = space.completed({"max_length": 200, "negatives": 0, "batch_size": 256})
    model = module.build(params, data, 0)
    # ... and a model whose window and full softmax would exceed the bound trains smaller.
    assert model.batch_size * model.cells_per_example() <= MAX_LOGIT_CELLS
    assert model.batch_size < 256
