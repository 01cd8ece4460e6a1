"""Which processor trains the models, and how: CPU, or a GPU with mixed precision and XLA.

:func:`select_device` is called once, before TensorFlow sets up its devices (before any model is
built). On a GPU it turns on Keras' ``mixed_float16`` policy (the families keep their logits,
scores and losses in float32), compiles the training step with XLA where the family allows it,
and scales training batch sizes up by :attr:`Device.batch_scale` (within each family's memory
bound). A process that never selects a device behaves as on a CPU: float32, no XLA, the batch
sizes of the search space.

To run one trial per GPU, start one process per GPU and select ``gpu`` with that GPU's index in
each (or set ``CUDA_VISIBLE_DEVICES`` before the process starts).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from automl_rec.errors import ConfigurationError

CHOICES = ("auto", "cpu", "gpu")
# How much larger training batches are on a GPU (bounded by each family's memory limit).
GPU_BATCH_SCALE = 4


@dataclass(frozen=True)
class Device:
    """Where training runs.

    Attributes:
        kind: ``"cpu"`` or ``"gpu"``.
        names: Names of the GPUs in use (empty on a CPU).
        mixed_precision: Whether layers compute in float16 (variables, logits and losses stay
            float32).
        xla: Whether the training step is compiled with XLA (for families that allow it).
        batch_scale: Factor applied to the training batch size.
    """

    kind: str = "cpu"
    names: tuple[str, ...] = ()
    mixed_precision: bool = False
    xla: bool = False
    batch_scale: int = 1

    def describe(self) -> str:
        """A short human description, e.g. ``GPU: NVIDIA H100 (mixed precision, XLA)``."""
        features = [name for name, on in (("mixed precision", self.mixed_precision),
                                          ("XLA", self.xla)) if on]
        suffix = f" ({', '.join(features)})" if features else ""
        if self.kind == "gpu":
            return f"GPU: {', '.join(self.names)}{suffix}"
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return f"CPU ({cores} cores){suffix}"


CPU = Device()
_current: Device = CPU


def current_device() -> Device:
    """The selected device; CPU behaviour when :func:`select_device` was never called."""
    return _current


def gpu_count() -> int:
    """Number of GPUs TensorFlow can see (listing them allocates no GPU memory)."""
    tf = _tensorflow()
    return len(tf.config.list_physical_devices("GPU"))


def select_device(choice: str = "auto", gpu: int | None = None, *,
                  mixed_precision: bool | None = None, xla: bool | None = None) -> Device:
    """Choose where training runs; call it before any model is built.

    Args:
        choice: ``auto`` (a GPU when TensorFlow finds one, else the CPU), ``cpu`` (GPUs are
            hidden from TensorFlow) or ``gpu``.
        gpu: Index of the one GPU this process may use (for one trial per GPU, each in its own
            process); ``None`` uses every visible GPU.
        mixed_precision: Overrides the default (on for a GPU, off for the CPU).
        xla: Overrides the default (on for a GPU, off for the CPU, where it rarely pays).

    Returns:
        The selected device, also what :func:`current_device` returns from now on.

    Raises:
        ConfigurationError: An unknown choice, ``gpu`` on a machine without one, or a GPU index
            that does not exist.
    """
    global _current
    if choice not in CHOICES:
        raise ConfigurationError(
            f"Unknown device {choice!r}; choose one of: {', '.join(CHOICES)}.")
    tf = _tensorflow()
    import keras

    gpus = tf.config.list_physical_devices("GPU")
    if choice == "gpu" and not gpus:
        raise ConfigurationError("--device gpu was requested but TensorFlow finds no GPU on this "
                                 "machine; use --device auto or cpu.")
    if gpu is not None and not 0 <= gpu < len(gpus):
        raise ConfigurationError(f"GPU index {gpu} does not exist; this machine has {len(gpus)} "
                                 f"GPU(s) visible to TensorFlow.")
    if choice == "cpu" or not gpus:
        _set_visible(tf, [] if gpus else None)
        chosen = Device(mixed_precision=bool(mixed_precision), xla=bool(xla))
    else:
        used = [gpus[gpu]] if gpu is not None else gpus
        _set_visible(tf, used)
        for device in used:
            try:
                tf.config.experimental.set_memory_growth(device, True)
            except RuntimeError:  # already initialised: it keeps its setting
                pass
        names = tuple(tf.config.experimental.get_device_details(d).get("device_name", d.name)
                      for d in used)
        chosen = Device("gpu", names, mixed_precision=mixed_precision is not False,
                        xla=xla is not False, batch_scale=GPU_BATCH_SCALE)
    keras.mixed_precision.set_global_policy("mixed_float16" if chosen.mixed_precision
                                            else "float32")
    _current = chosen
    return chosen


def _set_visible(tf: object, devices: list | None) -> None:
    """Make exactly ``devices`` visible (``None``: leave as is, there is no GPU)."""
    if devices is None:
        return
    try:
        tf.config.set_visible_devices(devices, "GPU")  # type: ignore[attr-defined]
    except RuntimeError as error:
        visible = tf.config.get_visible_devices("GPU")  # type: ignore[attr-defined]
        if [d.name for d in visible] != [d.name for d in devices]:
            raise RuntimeError("select_device must be called before TensorFlow initialises its "
                               "devices (before any model is built)") from error


def _tensorflow():  # type: ignore[no-untyped-def]
    from automl_rec.models import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow as tf

    return tf
