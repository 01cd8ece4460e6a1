from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from automl_rec import AutoRecommender
from automl_rec.cli import main
from automl_rec.datasets import make_interactions
from automl_rec.models import FAMILIES
from tests.tuning.broken_family import SPACE


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FAMILIES, "broken", "tests.tuning.broken_family")


@pytest.mark.parametrize("mode, reason", [
    ("raise", "RuntimeError: boom inside fit"),
    ("nan", "loss became nan at epoch 1"),
])
def test_a_failing_trial_is_recorded_and_the_search_completes(
    broken: None, tmp_path: Path, mode: str, reason: str
) -> None:
    space = tmp_path / "broken.yaml"
    space.write_text(SPACE % mode)
    model = AutoRecommender(families=["broken", "baselines"], search_spaces=[space],
                            max_trials=1, output_dir=tmp_path / "run")
    model.fit(make_interactions(n_users=120, n_items=50, seed=2))
    rows = model.leaderboard_[model.leaderboard_["family"] == "broken"]
    assert rows["status"].tolist() == ["failed"]
    assert reason in rows["reason"].iloc[0]
    assert model.best_family_ == "baselines"
    written = pd.read_csv(tmp_path / "run" / "leaderboard.csv")
    assert "failed" in written["status"].tolist()


def test_a_malformed_space_is_rejected_before_any_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "log.csv"
    make_interactions(n_users=50, n_items=30, seed=1).to_csv(data, index=False)
    space = tmp_path / "mlp.yaml"
    space.write_text("family: mlp\nparameters:\n  learning_rate: {type: float, low: 1e-4, "
                     "high: 1.0e-2, default: 1.0e-3}\n")
    code = main(["fit", str(data), "--search-space", str(space), "-o", str(tmp_path / "run"),
                 "--quiet"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.count("\n") == 1 and "1.0e-4" in captured.err
    assert not (tmp_path / "run" / "leaderboard.csv").exists()
    assert not (tmp_path / "run" / "study.db").exists()
