"""The contract every Keras family meets (DESIGN section 2), run for each family and design.

How every design serves once exported (DESIGN section 5) is checked in ``tests/test_export.py``,
with the helpers :func:`configurations` and :func:`built` of this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from automl_rec.data.splitting import Split
from automl_rec.datasets import make_interactions
from automl_rec.evaluation import top_k
from automl_rec.evaluation.metrics import mask_seen
from automl_rec.models import FAMILIES, default_space, family_module
from tests.conftest import split_and_profile

K = 5


@pytest.fixture(scope="module")
def data() -> tuple[Split, Any]:
    return split_and_profile(make_interactions(n_users=80, n_items=40, mean_history=12, seed=11))


def configurations() -> list[tuple[str, dict[str, Any]]]:
    """(family, values) of every design of every family."""
    cases = []
    for family in FAMILIES:
        space = default_space(family)
        designs = space["design"].choices if "design" in space.names() else (None,)
        for design in designs:
            cases.append((family, {} if design is None else {"design": design}))
    return cases


def built(family: str, values: dict[str, Any], split: Split, profile: Any, seed: int,
          stage: str = "train") -> Any:
    """A seeded, untrained model of one family and design, bound to a stage of ``split``."""
    from automl_rec.models.keras_base import seed_everything

    module = family_module(family)
    space = module.adapt_space(default_space(family), profile)
    params = space.completed(values)
    seed_everything(seed)
    return module.build(params, split.stage(stage), seed)


@pytest.mark.parametrize("family, values", configurations(),
                         ids=lambda v: v if isinstance(v, str) else v.get("design", ""))
def test_family_contract(family: str, values: dict[str, Any], data: tuple[Split, Any],
                         tmp_path: Path) -> None:
    split, profile = data
    model = built(family, values, split, profile, seed=3)
    loss = model.fit_epoch()
    assert np.isfinite(loss)
    assert model.count_params() > 0
    users = np.arange(split.n_users)
    scores = np.array(model.score(users), dtype=np.float32)
    assert scores.shape == (split.n_users, split.n_items)
    assert np.isfinite(scores).all()
    history = split.stage("train").matrix
    mask_seen(scores, users, history)
    lists = top_k(scores, K)
    for user, items in zip(users, lists):
        assert len(set(items)) == K
        assert not set(items) & set(history[user].indices)

    again = built(family, values, split, profile, seed=3)
    assert again.fit_epoch() == pytest.approx(loss, rel=1e-6)
    np.testing.assert_allclose(again.score(users[:10]), model.score(users[:10]), rtol=1e-5,
                               atol=1e-6)

    import keras

    model.model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    fresh = built(family, values, split, profile, seed=4)
    fresh.set_weights(loaded.get_weights())
    np.testing.assert_allclose(fresh.score(users[:10]), model.score(users[:10]), rtol=1e-5,
                               atol=1e-6)
