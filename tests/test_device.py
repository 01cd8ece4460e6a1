"""Device selection: CPU, GPU refused where there is none, mixed precision and XLA on the CPU."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from automl_rec import device
from automl_rec.data.splitting import StageData
from automl_rec.datasets import make_interactions
from automl_rec.device import Device, current_device, gpu_count, select_device
from automl_rec.errors import ConfigurationError
from automl_rec.models import default_space, family_module
from tests.conftest import split_and_profile


@pytest.fixture(autouse=True)
def back_to_cpu() -> Iterator[None]:
    yield
    select_device("cpu")


@pytest.fixture(scope="module")
def data() -> tuple[Any, Any]:
    return split_and_profile(make_interactions(n_users=60, n_items=30, mean_history=10, seed=5))


def built(family: str, design: str, data: tuple[Any, Any], **values: Any) -> Any:
    from automl_rec.models.keras_base import seed_everything

    split, profile = data
    module = family_module(family)
    space = module.adapt_space(default_space(family), profile)
    params = space.completed({"design": design, **values})
    seed_everything(1)
    return module.build(params, split.stage("train"), 1)


def test_gpu_without_a_gpu_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import tensorflow as tf

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    with pytest.raises(ConfigurationError, match="no GPU"):
        select_device("gpu")
    with pytest.raises(ConfigurationError, match="GPU index 0"):
        select_device("auto", gpu=0)
    assert gpu_count() == 0
    assert select_device("auto").kind == "cpu"


def test_cpu_is_plain_float32_without_xla() -> None:
    import keras

    chosen = select_device("cpu")
    assert chosen == current_device() == Device()
    assert not chosen.mixed_precision and not chosen.xla and chosen.batch_scale == 1
    assert keras.mixed_precision.global_policy().name == "float32"
    assert chosen.describe().startswith("CPU (") and "cores)" in chosen.describe()
    from automl_rec.export import environment

    assert environment()["device"] == chosen.describe()
    with pytest.raises(ConfigurationError, match="Unknown device"):
        select_device("tpu")


def test_describe_names_the_gpu_and_its_features() -> None:
    gpu = Device("gpu", ("NVIDIA H100",), mixed_precision=True, xla=True, batch_scale=4)
    assert gpu.describe() == "GPU: NVIDIA H100 (mixed precision, XLA)"
    assert Device(xla=True).describe().endswith("cores) (XLA)")


def test_batch_scale_stays_within_the_logit_bound(monkeypatch: pytest.MonkeyPatch,
                                                  data: tuple[Any, Any]) -> None:
    from automl_rec.models.keras_base import MAX_LOGIT_CELLS

    monkeypatch.setattr(device, "_current", Device(batch_scale=4))
    model = built("mlp", "neumf", data)
    assert model.batch_size == 4 * int(model.params["batch_size"])
    monkeypatch.setattr(model, "cells_per_example",
                        lambda: MAX_LOGIT_CELLS // (2 * int(model.params["batch_size"])))
    assert model.batch_size == 2 * int(model.params["batch_size"])


@pytest.mark.parametrize("family, design", [("attention", "sasrec"), ("autoencoder", "multvae"),
                                            ("mlp", "neumf"), ("cnn", "caser")])
def test_mixed_precision_keeps_scores_and_losses_float32(family: str, design: str,
                                                         data: tuple[Any, Any]) -> None:
    import keras

    select_device("cpu", mixed_precision=True)
    assert keras.mixed_precision.global_policy().name == "mixed_float16"
    model = built(family, design, data)
    assert np.isfinite(model.fit_epoch())
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    split, _ = data
    scores = model.score(np.arange(split.n_users))
    assert scores.dtype == np.float32 and np.isfinite(scores).all()
    assert model.model.outputs[-1].dtype == "float32" or family == "attention"


@pytest.mark.parametrize("family, design", [("attention", "sasrec"), ("autoencoder", "multdae")])
def test_xla_compiles_the_training_step_on_cpu(family: str, design: str,
                                               data: tuple[Any, Any]) -> None:
    select_device("cpu", xla=True)
    model = built(family, design, data, dropout=0.0)
    assert model._step._jit_compile
    loss = model.fit_epoch()
    assert np.isfinite(loss)
    select_device("cpu")
    plain = built(family, design, data, dropout=0.0)
    assert not plain._step._jit_compile
    assert plain.fit_epoch() == pytest.approx(loss, rel=1e-4)


def test_a_step_xla_cannot_compile_runs_uncompiled(monkeypatch: pytest.MonkeyPatch,
                                                   data: tuple[Any, Any]) -> None:
    from automl_rec.models.next_item import FULL_SOFTMAX_MAX_ITEMS, NextItemModel

    _, profile = data
    monkeypatch.setattr(NextItemModel, "xla_compatible", True)  # sampled softmax: it is not
    select_device("cpu", xla=True)
    # Enough distinct items that the softmax samples (it runs over the items the stage has).
    users = np.repeat(np.arange(500), 6)
    items = np.random.default_rng(0).integers(0, FULL_SOFTMAX_MAX_ITEMS + 5, len(users))
    module = family_module("lstm")
    params = module.adapt_space(default_space("lstm"), profile).completed({})
    model = module.build(params, StageData(users, items, 500, FULL_SOFTMAX_MAX_ITEMS + 5), 0)
    assert model._step._jit_compile
    assert np.isfinite(model.fit_epoch())
    assert not model._step._jit_compile
