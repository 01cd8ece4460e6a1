"""Which designs of each family serve the pointwise tasks, and their search spaces (no Keras
here: the search prepares its families before any model is built).

The designs themselves are in :mod:`automl_rec.models.pointwise` and
:mod:`automl_rec.models.autorec`; the spaces are ``search_spaces/pointwise/<family>.yaml``,
one per family with every design of both tasks, narrowed to the task's designs.
"""

from __future__ import annotations

from automl_rec.spaces import SearchSpace, load_space, space_dir
from automl_rec.tasks import CTR, RATING

FAMILY_DESIGNS = {
    "mlp": {RATING: ("mf", "neumf"), CTR: ("wide_deep", "deepfm", "dcn")},
    "attention": {RATING: ("din",), CTR: ("din", "autoint")},
    "lstm": {RATING: ("gru",), CTR: ("gru",)},
    "cnn": {RATING: ("ccpm",), CTR: ("ccpm",)},
    "autoencoder": {RATING: ("autorec",)},
}
DESIGNS = {task: tuple(d for family in FAMILY_DESIGNS.values() for d in family.get(task, ()))
           for task in (RATING, CTR)}
# The designs that read the user's history before each row.
HISTORY_DESIGNS = ("din", "autoint", "gru", "ccpm")
# The design a family's first trial of a task runs (the best-known one).
DEFAULT_DESIGNS = {(CTR, "mlp"): "deepfm", (RATING, "mlp"): "mf"}

NO_CLICK_DESIGN = ("no autoencoder design is known to predict clicks well (the published ones "
                   "reconstruct ratings or interaction vectors), so it has none for click "
                   "prediction")


def designs_of(family: str, task: str, ordered: bool) -> tuple[str, ...]:
    """The family's designs for ``task``; without a time order a row has no history before
    it, so the history designs drop out."""
    designs = FAMILY_DESIGNS.get(family, {}).get(task, ())
    return tuple(d for d in designs if ordered or d not in HISTORY_DESIGNS)


def unsupported_reason(family: str, task: str, ordered: bool = True) -> str | None:
    """Why a family has no design for a pointwise task (``None`` when it has one)."""
    if designs_of(family, task, ordered):
        return None
    if family == "autoencoder" and task == CTR:
        return NO_CLICK_DESIGN
    if FAMILY_DESIGNS.get(family, {}).get(task):
        return ("its designs read the user's history before each row, and this log has no "
                "time order to say what came before")
    return f"it has no design for the {task} task"


def pointwise_space(family: str, task: str, ordered: bool = True, tables: bool = False
                    ) -> SearchSpace:
    """The family's shipped space for ``task``, its designs narrowed to the task's, and its
    ``features`` choice to ``none`` without an item or user table or a context column with a
    used column (``tables``)."""
    space = load_space(space_dir() / "pointwise" / f"{family}.yaml")
    if "features" in space.names() and not tables:
        space = space.narrowed("features", choices=("none",))
    designs = designs_of(family, task, ordered)
    space = space.narrowed("design", choices=designs)
    default = DEFAULT_DESIGNS.get((task, family))
    return space.with_default("design", default) if default in designs else space
