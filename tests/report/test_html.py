from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from automl_rec import AutoRecommender
from automl_rec.cli import main
from automl_rec.datasets import make_interactions
from automl_rec.leaderboard import unranked_items_sentence
from automl_rec.report.charts import bar_chart, line_chart
from automl_rec.report.terminal import print_leaderboard

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


def test_summary_names_the_winner_the_best_baseline_and_the_best_neural_model(run: Path) -> None:
    metadata = json.loads((run / "metadata.json").read_text())
    comparison = metadata["comparison"]
    assert json.loads(json.dumps(comparison)) == comparison
    leaderboard = pd.read_csv(run / "leaderboard.csv")
    tested = leaderboard[leaderboard["test_ndcg@10"].notna()]
    baselines = tested[tested["family"] == "baselines"]
    neural = tested[tested["family"] == "mlp"]
    best_neural = neural.loc[neural["test_ndcg@10"].idxmax()]
    assert comparison["best_neural"]["name"] == f"mlp/{best_neural['model']} #" \
                                                f"{int(best_neural['trial'])}"
    assert comparison["best_neural"]["test"] == pytest.approx(best_neural["test_ndcg@10"])
    winner = comparison["winner"]
    others = baselines[baselines["model"] != winner["model"]]
    assert comparison["best_baseline"]["model"] == others.loc[others["test_ndcg@10"].idxmax(),
                                                              "model"]
    against = {gap["against"] for gap in comparison["gaps"]}
    assert against == ({"best_baseline", "best_neural"} if winner["family"] == "baselines"
                       else {"best_baseline"} | ({"best_neural"} if comparison["best_neural"][
                           "name"] != winner["name"] else set()))
    for gap in comparison["gaps"]:
        assert gap["low"] <= gap["difference"] <= gap["high"]
    assert comparison["reference"] == comparison["best_baseline"]["model"]  # the older keys
    html = (run / "report.html").read_text()
    (shown,) = re.findall(r'<p class="verdict">(.*?)</p>', html, flags=re.S)
    for name in (winner["name"], comparison["best_baseline"]["name"],
                 comparison["best_neural"]["name"]):
        assert name in shown
    assert shown.count("95% interval") == len(comparison["gaps"])
    assert '<table id="gaps">' in html


def test_validation_figures_say_how_many_users_they_were_computed_on(run: Path) -> None:
    validation = json.loads((run / "metadata.json").read_text())["protocol"]["validation"]
    assert validation["users"] == validation["scored_users"] > 0
    html = (run / "report.html").read_text()
    assert html.count(f"computed on all {validation['users']:,} validation users") == 3


def test_trial_and_epoch_axes_have_whole_ticks(run: Path) -> None:
    html = (run / "report.html").read_text()
    charts = [svg for svg in re.findall(r"<svg.*?</svg>", html, flags=re.S)
              if "in run order" in svg or "per epoch" in svg]
    assert len(charts) == 2
    for svg in charts:
        labels = re.findall(r'y="230" text-anchor="middle" class="tick">([^<]*)<', svg)
        assert labels and all(label.isdigit() for label in labels), labels


def test_test_chart_uses_the_selection_metric(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    metadata = json.loads((copy / "metadata.json").read_text())
    metadata["protocol"]["metric"] = "hr@10"
    metadata["protocol"]["validation"] = {"users": 120_000, "scored_users": 50_000,
                                          "max_users": 50_000, "seed": 0}
    (copy / "metadata.json").write_text(json.dumps(metadata))
    assert main(["report", str(copy)]) == 0
    html = (copy / "report.html").read_text()
    assert "Test HR@10: each family" in html and "Test NDCG@10" not in html
    leaderboard = pd.read_csv(copy / "leaderboard.csv")
    best = leaderboard["test_hr@10"].max()
    assert f"{best:.3g}</title></rect>" in html  # the tallest bar is the best test HR
    assert "a seeded sample of 50,000 of the 120,000 validation users" in html


def test_the_features_section_says_how_the_families_used_the_tables(tmp_path: Path) -> None:
    frame = make_interactions(n_users=120, n_items=40, mean_history=10, seed=6)
    items = frame[["sku", "category"]].drop_duplicates("sku")
    new_item = pd.DataFrame({"sku": ["new-sku"], "category": [items["category"].iloc[0]]})
    items = pd.concat([items, new_item], ignore_index=True)
    taste = frame.groupby("customer_id")["category"].agg(lambda c: c.value_counts().index[0])
    users = pd.DataFrame({"customer_id": taste.index, "taste": taste.to_numpy()})
    model = AutoRecommender(families=["attention", "baselines"], max_trials=3, max_epochs=1,
                            cold_items=0.2, output_dir=tmp_path)
    model.fit(frame, items=items, users=users)
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    winner = metadata["winner"]
    ranks_new_items = (winner["model"] == "content"
                       or winner["params"].get("item_features") == "attributes")
    (use,) = metadata["feature_use"]
    assert use["family"] == "attention" and use["with_trials"] + use["without_trials"] >= 1
    html = (tmp_path / "report.html").read_text()
    section = html[html.index('<section id="features">'):]
    section = section[:section.index("</section>")]
    assert "How the families used the item table" in section
    assert "<td>attention</td>" in section
    assert "Users without a history" in section and "validation cases" in section
    valid = metadata["valid_metrics"]
    assert ("the share of the validation targets that were cold" in section) == (
        "cold_share" in valid)
    assert ("needed to tell how much room they should get" in section) == (
        "cold_offset" in valid and "cold_share" not in valid)
    unranked = "the 1 item of the item table that the log never names is in none of its lists"
    assert (unranked in section) == (not ranks_new_items)
    console = Console(record=True, width=400)
    print_leaderboard(model, console)
    assert (unranked in console.export_text()) == (not ranks_new_items)
    assert 'href="#features"' in html
    assert "recommend_for_features" in html


def test_a_baseline_winner_says_the_item_tables_new_items_are_not_in_its_lists(
        tmp_path: Path) -> None:
    frame = make_interactions(n_users=80, n_items=30, mean_history=8, seed=3)
    skus = [*frame["sku"].unique(), "new-a", "new-b"]
    # An attribute unrelated to what users choose: the content baseline cannot win.
    colours = np.random.default_rng(0).choice(["red", "green", "blue"], len(skus))
    items = pd.DataFrame({"sku": skus, "colour": colours})
    AutoRecommender(families=["baselines"], output_dir=tmp_path).fit(frame, items=items)
    winner = json.loads((tmp_path / "metadata.json").read_text())["winner"]
    assert winner["model"] != "content"
    html = (tmp_path / "report.html").read_text()
    section = html[html.index('<section id="features">'):]
    section = section[:section.index("</section>")]
    assert f"Selected: baselines/{winner['model']}." in section
    assert ("the 2 items of the item table that the log never names are in none of its lists"
            in section)


def test_the_unranked_items_sentence_names_what_would_rank_the_new_items() -> None:
    use = [{"family": "cnn", "with_best": 0.1134, "without_best": 0.1289},
           {"family": "lstm", "with_best": 0.1067, "without_best": 0.1076}]
    ids_only = {"family": "cnn", "model": "caser", "params": {"item_features": "none"}}
    sentence = unranked_items_sentence(ids_only, 12, use, "ndcg@10")
    assert sentence is not None
    assert "the 12 items of the item table that the log never names are in none" in sentence
    assert "the best: cnn, valid ndcg@10 0.1134" in sentence
    assert "content baseline" in unranked_items_sentence(
        {"family": "baselines", "model": "ease", "params": {"l2": 100.0}}, 3, None, "ndcg@10")
    with_attributes = {**ids_only, "params": {"item_features": "attributes"}}
    assert unranked_items_sentence(with_attributes, 12, use, "ndcg@10") is None
    assert unranked_items_sentence({"family": "baselines", "model": "content", "params": {}},
                                   12, use, "ndcg@10") is None
    assert unranked_items_sentence(ids_only, 0, use, "ndcg@10") is None
