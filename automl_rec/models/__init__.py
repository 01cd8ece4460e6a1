"""Model families. Keras is imported only inside the family modules, when a family is used.

``FAMILIES`` is the explicit registry of searchable Keras families (name -> module); each name
also names its module in this package and its space in ``search_spaces/<name>.yaml``. The
classical baselines are not a searchable family: they always run, as references.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType

from automl_rec.errors import ConfigurationError
from automl_rec.spaces import SearchSpace, load_space, space_dir

BASELINES = "baselines"
FAMILIES: dict[str, str] = {
    "mlp": "automl_rec.models.mlp",
    "cnn": "automl_rec.models.cnn",
    "autoencoder": "automl_rec.models.autoencoder",
    "lstm": "automl_rec.models.lstm",
    "attention": "automl_rec.models.attention",
}


def family_module(name: str) -> ModuleType:
    """Import a family's module (this is where Keras gets imported)."""
    quiet_tensorflow()
    return importlib.import_module(FAMILIES[name])


def quiet_tensorflow() -> None:
    """Import TensorFlow with its start-up chatter (CUDA probing, CPU features) kept off stderr.

    TensorFlow's C++ logging prints before it reads ``TF_CPP_MIN_LOG_LEVEL``, so the process's
    stderr is pointed at ``/dev/null`` for the duration of the import only; an import error is
    still raised (and printed) as usual.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" not in sys.modules:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), 2)
                import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")


def default_space(name: str) -> SearchSpace:
    """The shipped search space of a family, ``search_spaces/<name>.yaml``."""
    return load_space(space_dir() / f"{name}.yaml")


def resolve_families(requested: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Turn a ``families`` argument into the list of families to run.

    Args:
        requested: ``"all"`` (or ``None``), a comma-separated string, or a list of names.

    Returns:
        Family names in registry order; ``baselines`` first whenever it is asked for or implied.

    Raises:
        ConfigurationError: A name is unknown, or the list is empty.
    """
    known = [BASELINES, *FAMILIES]
    if requested is None or requested == "all":
        return known
    names = requested.split(",") if isinstance(requested, str) else list(requested)
    names = [name.strip().lower() for name in names if name.strip()]
    if not names:
        raise ConfigurationError(
            f"No family was given; pass 'all' or a comma-separated list of: {', '.join(known)}."
        )
    if "all" in names:
        return known
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigurationError(
            f"Unknown family {unknown[0]!r}; the families are: {', '.join(known)} (or 'all')."
        )
    return [name for name in known if name in names]
