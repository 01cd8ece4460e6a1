"""Model families. Keras is imported only inside the family modules, when a family is used.

``FAMILIES`` is the explicit registry of searchable Keras families (name -> module); each name
also names its module in this package and its space in ``search_spaces/<name>.yaml``. The
classical baselines are not a searchable family: they always run, as references.
"""

from __future__ import annotations

from automl_rec.errors import ConfigurationError

BASELINES = "baselines"
FAMILIES: dict[str, str] = {}


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
