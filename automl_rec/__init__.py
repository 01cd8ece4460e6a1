"""automl-rec: AutoML for recommender systems.

Profile an interaction log, evaluate recommenders on an honest full-ranking protocol, keep the
best. ``AutoRecommender`` is imported on first use so that ``import automl_rec`` stays light.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["AutoRecommender", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "AutoRecommender":
        from automl_rec.api import AutoRecommender

        return AutoRecommender
    raise AttributeError(f"module 'automl_rec' has no attribute {name!r}")
