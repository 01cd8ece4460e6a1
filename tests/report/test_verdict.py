"""The verdict names the winner, the best baseline and the best neural model, each gap with its
interval, and what was left out; the report's validation note and chart ticks."""

from __future__ import annotations

import re
from typing import Any

from automl_rec.report.charts import bar_chart, line_chart
from automl_rec.report.html import comparison_gaps, validation_note, verdict


def entry(family: str, model: str, test: float, trial: int | None = None) -> dict[str, Any]:
    name = model if family == "baselines" else f"{family}/{model} #{trial}"
    return {"family": family, "model": model, "trial": trial, "name": name, "valid": test,
            "test": test}


def gap(against: str, name: str, difference: float, low: float, high: float
        ) -> dict[str, Any]:
    return {"against": against, "name": name, "difference": difference, "low": low,
            "high": high, "significant": low > 0 or high < 0}


def metadata(winner: dict[str, Any], comparison: dict[str, Any]) -> dict[str, Any]:
    return {"winner": {"family": winner["family"], "model": winner["model"]},
            "protocol": {"metric": "hr@10"}, "test_metrics": {"hr@10": winner["test"]},
            "comparison": {"metric": "hr@10", "confidence": 0.95, "winner": winner,
                           **comparison}}


SKIPPED_ATTENTION = {"family": "attention", "model": None, "status": "skipped",
                     "reason": "the budget ran out before its first trial"}


def test_a_baseline_winner_is_compared_with_the_best_neural_model_and_the_next_baseline(
) -> None:
    winner = entry("baselines", "ease", 0.2345)
    text = verdict(metadata(winner, {
        "best_baseline": entry("baselines", "itemknn", 0.2201),
        "best_neural": entry("mlp", "neumf", 0.2100, trial=3),
        "gaps": [gap("best_baseline", "itemknn", 0.0144, -0.002, 0.031),
                 gap("best_neural", "mlp/neumf #3", 0.0245, 0.011, 0.038)],
        "left_out": [SKIPPED_ATTENTION,
                     {"family": "lstm", "model": None, "status": "no complete trial",
                      "reason": "none of its 2 trials completed (2 failed)"}]}))
    assert text.startswith("The baseline ease wins with test HR@10 0.2345")
    assert ("beats the best neural model, mlp/neumf #3 (0.2100), by +0.0245 (95% interval "
            "+0.0110 to +0.0380)") in text
    assert ("is not distinguishable from the next baseline, itemknn (0.2201): +0.0144, 95% "
            "interval -0.0020 to +0.0310") in text
    assert "Attention was skipped: the budget ran out before its first trial" in text
    assert "lstm had no complete trial: none of its 2 trials completed (2 failed)." in text
    assert text.count(". ") <= 2  # a sentence or two, and one on what was left out


def test_a_neural_winner_is_compared_with_the_best_baseline() -> None:
    winner = entry("attention", "sasrec", 0.31, trial=7)
    text = verdict(metadata(winner, {
        "best_baseline": entry("baselines", "ease", 0.27), "best_neural": winner,
        "gaps": [gap("best_baseline", "ease", 0.04, 0.02, 0.06)], "left_out": []}))
    assert text == ("attention/sasrec #7 wins with test HR@10 0.3100: it beats the best "
                    "baseline, ease (0.2700), by +0.0400 (95% interval +0.0200 to +0.0600): a "
                    "real improvement.")
    worse = verdict(metadata(winner, {
        "best_baseline": entry("baselines", "ease", 0.33), "best_neural": winner,
        "gaps": [gap("best_baseline", "ease", -0.02, -0.035, -0.005)], "left_out": []}))
    assert "trails the best baseline, ease (0.3300), by 0.0200" in worse
    assert worse.endswith("prefer the baseline.")


def test_a_neural_winner_beaten_on_test_by_another_family_says_so() -> None:
    winner = entry("mlp", "neumf", 0.30, trial=1)
    text = verdict(metadata(winner, {
        "best_baseline": entry("baselines", "ease", 0.29),
        "best_neural": entry("cnn", "caser", 0.32, trial=4),
        "gaps": [gap("best_baseline", "ease", 0.01, -0.01, 0.03),
                 gap("best_neural", "cnn/caser #4", -0.02, -0.04, 0.001)],
        "left_out": []}))
    assert "the gain is within noise" in text
    assert ("On test, cnn/caser #4 scored +0.0200 higher (95% interval -0.0010 to +0.0400) but "
            "was behind on validation") in text


def test_left_out_families_with_the_same_reason_are_named_together() -> None:
    winner = entry("baselines", "ease", 0.2)
    reason = "needs timestamps to put each user's history in order"
    text = verdict(metadata(winner, {
        "best_baseline": None, "best_neural": None, "gaps": [],
        "left_out": [{"family": f, "model": None, "status": "skipped", "reason": reason}
                     for f in ("attention", "cnn", "lstm")] + [
            {**SKIPPED_ATTENTION, "family": f} for f in ("mlp", "autoencoder")]}))
    assert (f"Attention, cnn and lstm were skipped: {reason}; mlp and autoencoder were skipped: "
            "the budget ran out before their first trial.") in text
    assert "no other model scored on test" in text


def test_a_run_written_before_the_gaps_still_gets_a_verdict() -> None:
    old = {"winner": {"family": "mlp", "model": "neumf"}, "protocol": {"metric": "ndcg@10"},
           "test_metrics": {"ndcg@10": 0.2},
           "comparison": {"reference": "ease", "metric": "ndcg@10", "difference": 0.01,
                          "low": 0.002, "high": 0.02, "confidence": 0.95}}
    assert comparison_gaps(old["comparison"])[0]["against"] == "best_baseline"
    text = verdict(old)
    assert text.startswith("mlp/neumf wins with test NDCG@10 0.2000: it beats the best "
                           "baseline, ease, by +0.0100")


def test_validation_note_gives_the_sample_size() -> None:
    sampled = {"protocol": {"validation": {"users": 120_000, "scored_users": 50_000,
                                           "max_users": 50_000, "seed": 0}}}
    assert "a seeded sample of 50,000 of the 120,000 validation users" in validation_note(sampled)
    whole = {"protocol": {"validation": {"users": 812, "scored_users": 812,
                                         "max_users": 50_000, "seed": 0}}}
    assert "all 812 validation users" in validation_note(whole)


def x_tick_labels(svg: str) -> list[str]:
    return re.findall(r'<text x="[^"]+" y="230" text-anchor="middle" class="tick">([^<]*)</text>',
                      svg)


def test_integer_axes_have_whole_ticks_only() -> None:
    for last in (2, 3, 4, 7, 11, 38, 1234):
        xs = list(range(1, last + 1))
        svg = line_chart({"a": (xs, [0.1] * last)}, title="t", x_label="epoch", y_label="v",
                         integer_x=True, integer_y=True)
        labels = x_tick_labels(svg)
        assert labels and all(re.fullmatch(r"[\d,]+", label) for label in labels), labels
        assert 2 <= len(labels) <= 6
    single = x_tick_labels(line_chart({"a": ([1], [0.3])}, title="t", x_label="trial",
                                      y_label="v", integer_x=True))
    assert single == ["1"]
    bars = bar_chart(["a", "b"], [1.0, 3.0], title="t", x_label="x", y_label="users",
                     integer_y=True)
    y_labels = re.findall(r'text-anchor="end" class="tick">([^<]*)</text>', bars)
    assert y_labels == ["0", "1", "2", "3"]
