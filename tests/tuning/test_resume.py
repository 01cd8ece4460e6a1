"""Killing a search with SIGKILL and running the same command again continues the study."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from automl_rec.datasets import make_interactions

TRIALS = 4


def command(data: Path, run: Path) -> list[str]:
    return [sys.executable, "-m", "automl_rec.cli", "fit", str(data), "--families", "mlp",
            "--max-trials", str(TRIALS), "--max-epochs", "2", "--seed", "1", "-o", str(run),
            "--quiet"]


def ranking_log(path: Path) -> None:
    make_interactions(n_users=120, n_items=50, mean_history=10, seed=3).to_csv(path, index=False)


def click_log(path: Path) -> None:
    from tests.tasks.test_context import context_log

    context_log(rows=20_000).to_csv(path, index=False)


def completed(storage: str) -> list[optuna.trial.FrozenTrial]:
    try:
        study = optuna.load_study(study_name="automl-rec.mlp", storage=storage)
    except (KeyError, Exception):
        return []
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


@pytest.mark.parametrize("write_log", [ranking_log, click_log], ids=["ranking", "ctr"])
def test_sigkill_mid_search_then_rerun_continues_without_loss_or_repeat(
        tmp_path: Path, write_log: Callable[[Path], None]) -> None:
    data, run = tmp_path / "log.csv", tmp_path / "run"
    write_log(data)
    storage = f"sqlite:///{run / 'study.db'}"
    process = subprocess.Popen(command(data, run), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if len(completed(storage)) >= 1:
            break
        time.sleep(0.2)
    assert process.poll() is None, "the first run ended before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = {t.number: (t.params, t.value) for t in completed(storage)}
    assert 1 <= len(before) < TRIALS

    finished = subprocess.run(command(data, run), capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr

    study = optuna.load_study(study_name="automl-rec.mlp", storage=storage)
    after = {t.number: (t.params, t.value) for t in study.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE,))}
    assert all(after[number] == kept for number, kept in before.items())
    assert len(after) == TRIALS
    leaderboard = pd.read_csv(run / "leaderboard.csv")
    mlp = leaderboard[leaderboard["family"] == "mlp"]
    assert sorted(mlp.loc[mlp["status"] == "complete", "trial"]) == sorted(after)
    assert mlp["trial"].is_unique
