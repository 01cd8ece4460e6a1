"""The ``automl-rec`` command: one-line errors with exit code 2, JSON profiles, a quiet fit."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from automl_rec.cli import main
from automl_rec.datasets import make_interactions
from automl_rec.errors import ConfigurationError, DataValidationError

# --------------------------------------------------------------------------------------------
# helpers


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


def write(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def good_file(directory: Path) -> Path:
    """A small valid log: 4 users with 3+ timestamped interactions each."""
    rows = ["user,item,rating,timestamp"]
    for user in range(4):
        for step in range(4):
            rows.append(f"u{user},i{(user + step) % 5},{1 + (user + step) % 5},"
                        f"{1700000000 + 3600 * (4 * user + step)}")
    return write(directory, "good.csv", lines(*rows))


def binary_junk() -> bytes:
    rng = random.Random(1)
    return bytes(rng.randrange(256) for _ in range(2048)) + b"\x00"


Maker = Callable[[Path], Path]

# (file maker, arguments after the file) for inputs a user can get wrong
ERROR_CASES = [
    pytest.param(lambda d: d / "nope.csv", ["profile"], id="missing-file"),
    pytest.param(lambda d: write(d, "empty.csv", b""), ["profile"], id="empty-file"),
    pytest.param(lambda d: write(d, "header.csv", "user,item,rating\n"), ["profile"],
                 id="header-only"),
    pytest.param(lambda d: write(d, "one.csv", lines("user", "u1", "u2", "u3")), ["profile"],
                 id="one-column"),
    pytest.param(lambda d: write(d, "junk.csv", binary_junk()), ["profile"], id="binary"),
    pytest.param(lambda d: write(d, "one_user.csv", lines("user,item", "u1,a", "u1,b", "u1,c")),
                 ["profile"], id="single-user"),
    pytest.param(lambda d: write(d, "no_users.csv", lines("user,item", ",a", ",b", ",c")),
                 ["profile"], id="user-ids-all-missing"),
    pytest.param(lambda d: write(d, "bad_time.csv",
                                 lines("user,item,timestamp", "1,a,2024-01-01", "2,b,yesterday",
                                       "3,a,2024-01-02")),
                 ["profile", "--format", "json"], id="bad-timestamps"),
    pytest.param(good_file, ["profile", "--user-col", "buyer"], id="unknown-column"),
    pytest.param(lambda d: write(d, "junk.csv", binary_junk()),
                 ["fit", "--families", "baselines", "--quiet"], id="fit-binary"),
    pytest.param(good_file, ["fit", "--families", "nosuch"], id="fit-unknown-family"),
    pytest.param(lambda d: write(d, "short.csv", lines("user,item", "1,a", "1,b", "2,a", "2,b")),
                 ["fit", "--families", "baselines", "--quiet"], id="fit-no-user-to-evaluate"),
    pytest.param(good_file, ["fit", "--families", "baselines", "--device", "gpu", "--quiet"],
                 id="fit-gpu-without-gpu"),
    pytest.param(good_file, ["fit", "--families", "mlp", "--tuner", "random", "--workers", "1",
                             "--quiet"], id="fit-workers-with-keras-tuner"),
    pytest.param(good_file, ["fit", "--families", "mlp", "--storage", "nosuchdb://x", "--quiet"],
                 id="fit-bad-storage"),
    pytest.param(good_file, ["fit", "--families", "baselines", "--cold-items", "1.5", "--quiet"],
                 id="fit-cold-items-not-a-share"),
    pytest.param(good_file, ["fit", "--families", "baselines", "--items", "missing.csv",
                             "--quiet"], id="fit-missing-item-table"),
]


def cli_args(make: Maker, args: list[str], directory: Path) -> list[str]:
    path = make(directory)
    command, *rest = args
    extra = ["--output", str(directory / "run")] if command == "fit" else []
    return [command, str(path), *rest, *extra]


# --------------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize(("make", "args"), ERROR_CASES)
def test_user_error_is_one_line_and_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    make: Maker, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(cli_args(make, args, tmp_path))
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith("automl-rec: error: ")
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert len(err) > len("automl-rec: error: ") + 10  # an actual explanation follows


@pytest.mark.parametrize(
    "debug_first", [pytest.param(True, id="before-command"), pytest.param(False, id="after")]
)
def test_debug_reraises_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], debug_first: bool
) -> None:
    path = write(tmp_path, "one_user.csv", lines("user,item", "u1,a", "u1,b"))
    argv = ["--debug", "profile", str(path)] if debug_first else ["profile", str(path), "--debug"]
    with pytest.raises(DataValidationError, match="single user"):
        main(argv)
    assert capsys.readouterr().err == ""


def test_debug_reraises_configuration_errors(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = good_file(tmp_path)
    with pytest.raises(ConfigurationError, match="nosuch"):
        main(["--debug", "fit", str(path), "--families", "nosuch", "--output",
              str(tmp_path / "run")])


def test_no_command_prints_help_and_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: automl-rec" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# profile


def test_profile_json_is_exactly_one_object(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = good_file(tmp_path)
    assert main(["profile", str(path), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    profile = json.loads(out)  # the whole stdout, nothing before or after the object
    assert isinstance(profile, dict)
    required = {"n_users", "n_items", "n_interactions", "has_timestamps", "feedback",
                "repeat_rate", "warnings"}
    assert required <= profile.keys()
    assert (profile["n_users"], profile["n_items"], profile["n_interactions"]) == (4, 5, 16)
    assert profile["has_timestamps"] is True
    assert profile["feedback"]["kind"] == "explicit"
    assert profile["repeat_rate"] == 0.0
    assert isinstance(profile["warnings"], list)


def test_profile_json_with_column_flags(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "x.txt", lines("a#b#c", "5#u1#i1", "4#u2#i2", "3#u1#i2"))
    code = main(["profile", str(path), "--format", "json", "--sep", "#", "--user-col", "b",
                 "--item-col", "c", "--rating-col", "a"])
    assert code == 0
    profile = json.loads(capsys.readouterr().out)
    assert profile["columns"] == {"user": "b", "item": "c", "rating": "a", "event": None,
                                  "time": None}
    assert profile["n_interactions"] == 3


def test_profile_tab_separator_flag_is_unescaped(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "x.tsv", lines("user\titem", "1\ta", "2\tb", "3\ta"))
    assert main(["profile", str(path), "--format", "json", "--sep", "\\t"]) == 0
    assert json.loads(capsys.readouterr().out)["reading"]["separator"] == "\t"


def test_profile_does_not_import_tensorflow(tmp_path: Path) -> None:
    path = good_file(tmp_path)
    script = (
        "import sys\n"
        "from automl_rec.cli import main\n"
        f"code = main(['profile', {str(path)!r}, '--format', 'json'])\n"
        "assert code == 0, code\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["n_interactions"] == 16


# --------------------------------------------------------------------------------------------
# fit


def test_fit_baselines_quiet_writes_profile_and_leaderboard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "shop.csv"
    make_interactions(n_users=150, n_items=60, seed=1).to_csv(path, index=False)
    run_dir = tmp_path / "run"
    code = main(["fit", str(path), "--families", "baselines", "--output", str(run_dir),
                 "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0
    assert out == ""
    assert "Traceback" not in err

    profile = json.loads((run_dir / "profile.json").read_text())
    assert profile["n_users"] == 150
    assert profile["columns"]["user"] == "customer_id"

    board = pd.read_csv(run_dir / "leaderboard.csv")
    assert sorted(board["model"]) == ["ease", "itemknn", "popularity"]
    assert len(board) == 3
    assert (board["status"] == "complete").all()
    for split in ("valid", "test"):
        for metric in ("ndcg", "hr", "mrr"):
            column = f"{split}_{metric}@10"
            assert column in board.columns
            values = board[column]
            assert values.notna().all(), column
            assert ((values >= 0) & (values <= 1)).all(), column
    assert "seconds" in board.columns
    assert board["seconds"].notna().all() and (board["seconds"] >= 0).all()
    # ndcg can never exceed hr at the same cut-off.
    assert (board["test_ndcg@10"] <= board["test_hr@10"] + 1e-12).all()


def test_fit_prints_a_table_that_fits_80_columns_then_evaluate_warns_on_fitted_pairs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    path = tmp_path / "shop.csv"
    make_interactions(n_users=120, n_items=50, seed=3).to_csv(path, index=False)
    run_dir = tmp_path / "run"
    assert main(["fit", str(path), "--families", "baselines", "--output", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    for name in ("popularity", "itemknn", "ease"):
        assert len([line for line in out.splitlines()
                    if line.startswith(f"│ baselines/{name} ")]) == 1
    comparison = json.loads((run_dir / "metadata.json").read_text())["comparison"]
    text = " ".join(line.strip() for line in out.splitlines())
    assert f"The baseline {comparison['winner']['name']} wins with test NDCG@10" in text
    assert f"the next baseline, {comparison['best_baseline']['name']}" in text

    assert main(["evaluate", str(run_dir), str(path), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["seen_share"] == 1.0
    assert err.startswith("automl-rec: warning: 100% of the ") and err.count("\n") == 1, err
    assert "can never be hits" in err or "overstate" in err
