"""A fit and two `automl-rec worker` processes share one study: trials are neither duplicated nor
lost, and a worker killed mid-trial only costs a retry (SQLite, and PostgreSQL where the server
binaries are installed)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from automl_rec.datasets import make_interactions
from automl_rec.tuning.backends.optuna_backend import (OWNER_ATTR, RESULT_ATTR, RETRY_ATTR,
                                              OptunaBackend)

TRIALS = 8
FAMILIES = ("mlp", "lstm")
STUDY = "shared"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "log.csv"
    make_interactions(n_users=150, n_items=60, mean_history=12, seed=4).to_csv(path, index=False)
    return path


def worker(storage: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "automl_rec.cli", "worker", "--storage", storage,
         "--study-name", STUDY, "--wait", "5m"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def leader(data: Path, run: Path, storage: str, epochs: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "automl_rec.cli", "fit", str(data), "--families",
         ",".join(FAMILIES), "--max-trials", str(TRIALS), "--max-epochs", str(epochs),
         "--patience", str(epochs), "--seed", "2", "-o", str(run), "--storage", storage,
         "--study-name", STUDY, "--heartbeat", "1", "--workers", "0", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def trials(storage: str) -> list[tuple[str, optuna.trial.FrozenTrial]]:
    """Every trial of the search, with its family."""
    found = []
    for family in FAMILIES:
        try:
            study = optuna.load_study(study_name=f"{STUDY}.{family}", storage=storage)
        except KeyError:
            continue
        found += [(family, t) for t in study.get_trials(deepcopy=False)]
    return found


def values(trial: optuna.trial.FrozenTrial) -> dict:
    """A trial's parameter values (a queued trial keeps them as fixed values until it runs)."""
    return trial.params or trial.system_attrs.get("fixed_params", {})


def check_shared_search(run: Path, storage: str, pids: set[int]
                        ) -> list[tuple[str, optuna.trial.FrozenTrial]]:
    """Exactly TRIALS trials with results, each once, run by more than one process, and the
    leaderboard lists the same ones."""
    stored = trials(storage)
    finished = [t for _, t in stored if RESULT_ATTR in t.user_attrs]
    assert len(finished) == TRIALS
    keys = {(family, t.number) for family, t in stored if RESULT_ATTR in t.user_attrs}
    assert len(keys) == TRIALS
    assert all(json.loads(t.user_attrs[RESULT_ATTR])["number"] == t.number for t in finished)
    assert not [t for _, t in stored if t.state == TrialState.RUNNING]
    owners = {int(t.user_attrs[OWNER_ATTR].rpartition(":")[2]) for t in finished}
    assert len(owners) >= 2 and owners & pids, "the workers ran no trial"
    board = pd.read_csv(run / "leaderboard.csv")
    searched = board[board["family"].isin(FAMILIES)]
    assert len(searched) == TRIALS
    assert set(zip(searched["family"], searched["trial"])) == keys
    return stored


def run_shared_search(data: Path, run: Path, storage: str) -> None:
    workers = [worker(storage), worker(storage)]
    fit = leader(data, run, storage, epochs=2)
    out, _ = fit.communicate(timeout=600)
    assert fit.returncode == 0, out
    for process in workers:
        log, _ = process.communicate(timeout=120)
        assert process.returncode == 0, log
    check_shared_search(run, storage, {p.pid for p in workers})


def test_two_workers_and_the_fit_share_one_sqlite_study(data: Path, tmp_path: Path) -> None:
    run_shared_search(data, tmp_path / "run", f"sqlite:///{tmp_path / 'study.db'}")


def test_workers_share_a_click_prediction_study(tmp_path: Path) -> None:
    from tests.tasks.test_context import context_log

    path = tmp_path / "clicks.csv"
    context_log(rows=3_000).to_csv(path, index=False)
    run = tmp_path / "run"
    run_shared_search(path, run, f"sqlite:///{tmp_path / 'study.db'}")
    metadata = json.loads((run / "metadata.json").read_text())
    assert metadata["task"]["name"] == "ctr" and metadata["protocol"]["metric"] == "auc"


def test_a_worker_killed_mid_trial_costs_only_a_retry(data: Path, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    victim, survivor = worker(storage), worker(storage)
    fit = leader(data, tmp_path / "run", storage, epochs=6)
    deadline = time.monotonic() + 300
    killed = None
    while killed is None and time.monotonic() < deadline and fit.poll() is None:
        for family, trial in trials(storage):
            owner = str(trial.user_attrs.get(OWNER_ATTR, ""))
            if trial.state == TrialState.RUNNING and owner.endswith(f":{victim.pid}"):
                os.killpg(victim.pid, signal.SIGKILL)
                killed = (family, trial)
                break
        time.sleep(0.1)
    assert killed is not None, "the victim never ran a trial"
    victim.wait()
    out, _ = fit.communicate(timeout=600)
    assert fit.returncode == 0, out
    survivor.communicate(timeout=120)
    stored = check_shared_search(tmp_path / "run", storage, {victim.pid, survivor.pid})
    family, trial = killed
    lost = [t for f, t in stored if f == family and t.number == trial.number][0]
    assert lost.state == TrialState.FAIL and RESULT_ATTR not in lost.user_attrs
    # Its values (those drawn before it died) were queued again (and run, unless the limit was
    # reached first).
    retries = [t for f, t in stored if f == family and t.user_attrs.get(RETRY_ATTR) ==
               trial.number]
    assert retries and all(values(t).items() >= lost.params.items() for t in retries)


def test_a_trial_whose_heartbeat_stops_is_failed_and_enqueued_again(tmp_path: Path) -> None:
    from automl_rec.models import default_space

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    backend = OptunaBackend(storage, STUDY, 0, {"data": 1}, heartbeat=1)
    space = default_space("mlp")
    backend.register("mlp", space)
    proposal = backend.ask("mlp")
    trial = proposal.handle
    trial.set_user_attr(OWNER_ATTR, "another-machine:1")  # not a process of this machine
    backend._stop_heartbeat(trial)
    assert backend.in_flight() == 1
    time.sleep(4.5)  # three missed beats and more
    assert backend.in_flight() == 0
    study = backend.studies["mlp"]
    assert study.trials[proposal.number].state == TrialState.FAIL
    waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    assert [values(t) for t in waiting if t.user_attrs.get(RETRY_ATTR) == proposal.number] == [
        proposal.params]


def test_a_trial_ended_as_lost_by_another_process_stops_without_failing_the_fit(
        tmp_path: Path) -> None:
    from automl_rec.leaderboard import COMPLETE, CandidateResult
    from automl_rec.models import default_space

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    backend = OptunaBackend(storage, STUDY, 0, {"data": 1}, heartbeat=1)
    backend.register("mlp", default_space("mlp"))
    proposal = backend.ask("mlp")
    # Another process found its heartbeats late and failed it.
    backend.storage.set_trial_state_values(proposal.handle._trial_id, TrialState.FAIL)
    assert backend.report(proposal, 1, 0.1) is True
    with pytest.warns(RuntimeWarning, match="ended by another process"):
        backend.tell(proposal, CandidateResult("mlp", "youtube", proposal.params, COMPLETE,
                                               curve=[0.1]))
    assert backend.results("mlp") == []


def test_a_worker_without_a_leader_stops_with_one_clear_line(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "automl_rec.cli", "worker", "--storage",
         f"sqlite:///{tmp_path / 'none.db'}", "--study-name", "absent", "--wait", "1s"],
        capture_output=True, text=True, timeout=120)
    assert finished.returncode == 2
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1 and "No open search named 'absent'" in lines[0]


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture
def postgres() -> Iterator[str]:
    """A PostgreSQL server of its own, on a free local port, for the length of one test."""
    binaries = _postgres_bin()
    pytest.importorskip("psycopg")
    if binaries is None:
        pytest.skip("PostgreSQL server binaries are not installed (Debian package postgresql)")
    # Not under pytest's temporary folder: the server's own user must be able to reach it.
    folder = Path(tempfile.mkdtemp(prefix="automl-rec-pg-"))
    folder.chmod(0o755)
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = folder / "data"
    subprocess.run(as_user + [str(binaries / "initdb"), "-D", str(data), "-U", "automl",
                              "--auth=trust"], check=True, capture_output=True)
    subprocess.run(as_user + [str(binaries / "pg_ctl"), "-D", str(data), "-w", "-l",
                              str(folder / "log"), "-o", f"-p {port} -k {folder} -h 127.0.0.1",
                              "start"], check=True, capture_output=True)
    try:
        subprocess.run(as_user + [str(binaries / "createdb"), "-h", "127.0.0.1", "-p",
                                  str(port), "-U", "automl", "search"], check=True,
                       capture_output=True)
        yield f"postgresql://automl@127.0.0.1:{port}/search"
    finally:
        subprocess.run(as_user + [str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast",
                                  "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_two_workers_and_the_fit_share_one_postgresql_study(
    data: Path, tmp_path: Path, postgres: str
) -> None:
    run_shared_search(data, tmp_path / "run", postgres)


def test_keras_tuner_chief_and_worker_share_the_oracle(data: Path, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "automl_rec.cli", "fit", str(data), "--families", "lstm",
               "--tuner", "random", "--max-trials", "4", "--max-epochs", "2", "--seed", "2"]
    env = {**os.environ, "KERASTUNER_ORACLE_IP": "127.0.0.1",
           "KERASTUNER_ORACLE_PORT": str(port)}
    chief = subprocess.Popen(command + ["-o", str(tmp_path / "chief"), "--quiet"],
                             env={**env, "KERASTUNER_TUNER_ID": "chief"}, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    worker = subprocess.Popen(command + ["-o", str(tmp_path / "worker")],
                              env={**env, "KERASTUNER_TUNER_ID": "tuner0"}, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = chief.communicate(timeout=600)
    assert chief.returncode == 0, out
    log, _ = worker.communicate(timeout=120)
    assert worker.returncode == 0, log
    assert "keras-tuner worker" in log
    board = pd.read_csv(tmp_path / "chief" / "leaderboard.csv")
    trials = board[board["family"] == "lstm"]
    assert len(trials) == 4 and trials["trial"].is_unique
    ran_by_worker = {int(line.split("#")[1].split()[0]) for line in log.splitlines()
                     if line.startswith("trial lstm #") and " complete" in line}
    assert ran_by_worker and ran_by_worker <= set(trials["trial"])
    worked = trials[trials["trial"].isin(ran_by_worker)]
    assert (worked["status"] == "complete").all() and worked["valid_ndcg@10"].notna().all()


def test_a_trial_whose_process_died_before_its_first_beat_is_retried(tmp_path: Path) -> None:
    from automl_rec.models import default_space

    backend = OptunaBackend(f"sqlite:///{tmp_path / 'study.db'}", STUDY, 0, {"data": 1},
                            heartbeat=1)
    backend.register("mlp", default_space("mlp"))
    study = backend.studies["mlp"]
    orphan = study.ask()  # as if its process died before the heartbeat and owner were set
    orphan.suggest_int("hidden_layers", 0, 3)
    assert backend.in_flight() == 1
    time.sleep(3.5)
    assert backend.in_flight() == 0
    assert study.trials[orphan.number].state == TrialState.FAIL
    waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    assert [t.user_attrs.get(RETRY_ATTR) for t in waiting].count(orphan.number) == 1
