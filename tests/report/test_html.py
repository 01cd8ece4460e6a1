from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from automl_rec import AutoRecommender
from automl_rec.cli import main
from automl_rec.datasets import make_interactions
from automl_rec.report.charts import bar_chart, line_chart

EVIL = "<script>alert(1)</script>"
SECTIONS = ("summary", "profile", "leaderboard", "search", "test", "examples", "use")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = make_interactions(n_users=100, n_items=40, mean_history=10, seed=4)
    first_user = frame["customer_id"].iloc[0]
    frame.loc[frame["customer_id"] == first_user, "customer_id"] = EVIL
    frame.loc[frame["sku"] == frame["sku"].iloc[0], "sku"] = EVIL + "-item"
    directory = tmp_path_factory.mktemp("run")
    AutoRecommender(families=["mlp", "baselines"], max_trials=3, max_epochs=2,
                    output_dir=directory).fit(frame)
    return directory


def test_report_has_every_section_and_every_trial(run: Path) -> None:
    html = (run / "report.html").read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in html
    leaderboard = pd.read_csv(run / "leaderboard.csv")
    rows = re.findall(r"<tr class=\"(?:complete|failed|pruned|skipped)[^\"]*\">(.*?)</tr>", html,
                      flags=re.S)
    assert len(rows) == len(leaderboard)
    for (_, trial), row in zip(leaderboard.iterrows(), rows):
        assert f"<td>{trial['family']}</td><td>{trial['model']}</td>" in row
    assert html.count("<svg") >= 5
    assert "trained on\n  CPU (" in html  # the device the models trained on


def test_report_loads_nothing_from_other_hosts_and_escapes_data(run: Path) -> None:
    html = (run / "report.html").read_text()
    assert "http://" not in html and "https://" not in html
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<script>") == 1  # the report's own table sorter, nothing from the data
    assert (run / "report.html").stat().st_size < 3_000_000


def test_report_command_re_renders_the_same_report(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (run / "report.html").read_text()
    (run / "report.html").unlink()
    assert main(["report", str(run)]) == 0
    assert "report.html" in capsys.readouterr().out
    assert (run / "report.html").read_text() == before


def test_report_of_a_directory_without_a_run_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "not the directory of a finished fit" in capsys.readouterr().err


def test_charts_escape_their_labels_and_draw_points() -> None:
    svg = bar_chart([EVIL, "b"], [1.0, 2.0], title="t", x_label="x", y_label="y")
    assert EVIL not in svg and "&lt;script&gt;" in svg and svg.count("<rect") >= 2
    line = line_chart({"a": ([1, 10, 100], [5.0, 2.0, 1.0])}, title="t", x_label="x",
                      y_label="y", log_x=True, log_y=True)
    assert "<polyline" in line and "nan" not in line
