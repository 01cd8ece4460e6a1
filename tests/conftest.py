from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from automl_rec.data.feedback import read_positives
from automl_rec.data.profiling import DataProfile, profile_interactions
from automl_rec.data.splitting import Split, split_interactions

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ML_100K = SHARED_DATA / "ml-100k" / "u.data"
AMAZON = SHARED_DATA / "amazon-musical-instruments-5core" / "Musical_Instruments_5.csv"


def split_and_profile(frame: pd.DataFrame, **kwargs: object) -> tuple[Split, DataProfile]:
    """Load, validate, profile and split a small frame."""
    data = read_positives(frame, {})
    profile = profile_interactions(data)
    return split_interactions(data, **kwargs), profile  # type: ignore[arg-type]


def with_catalogue_attributes(split: Split, log: pd.DataFrame) -> Split:
    """The split of a :func:`make_interactions` log with its items' categories as attributes."""
    from automl_rec.data.features import Features, read_feature_table
    from automl_rec.data.splitting import with_features

    table = read_feature_table(log[["sku", "category"]].drop_duplicates("sku"), "items")
    return with_features(split, Features(items=table))


def split_of(frame: pd.DataFrame, **kwargs: object) -> Split:
    """The split of a small frame."""
    return split_and_profile(frame, **kwargs)[0]


@pytest.fixture
def real_data() -> dict[str, Path]:
    if not ML_100K.exists():
        pytest.fail(f"the shared data sets are missing (looked for {ML_100K})")
    return {"ml-100k": ML_100K, "amazon": AMAZON}
