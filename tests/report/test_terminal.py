"""The terminal output stays one line per candidate at 80 and at 200 columns."""

from __future__ import annotations

import io
import time
from types import SimpleNamespace

import pytest
from rich.console import Console

from automl_rec.leaderboard import FAILED, PRUNED, SKIPPED, CandidateResult
from automl_rec.report.progress import RichProgress
from automl_rec.report.terminal import print_leaderboard
from automl_rec.tuning.backends import Proposal
from automl_rec.tuning.budget import Budget
from automl_rec.tuning.trial import TrialSettings

WIDTHS = (80, 200)
LONG_FAILURE = ("ValueError: Input 0 of layer 'dense_3' is incompatible with the layer: expected "
                "axis -1 of input shape to have value 64, but received input with shape "
                "(None, 49)")
VAE_PARAMS = {"design": "multvae", "hidden_units": 600, "latent_dim": 200, "dropout": 0.512345,
              "learning_rate": 0.00123456, "beta_max": 0.2, "anneal_steps": 20000,
              "batch_size": 512}


def metrics(value: float) -> dict[str, float]:
    return {"ndcg@10": value, "hr@10": 2 * value, "mrr@10": value / 2}


def realistic_run() -> SimpleNamespace:
    """What print_leaderboard reads of a fitted AutoRecommender, for a run with long reasons,
    long parameters, failures, pruned trials and skipped families."""
    results = [
        CandidateResult("baselines", "popularity", {}, valid=metrics(0.05), test=metrics(0.05),
                        seconds=1.2),
        CandidateResult("baselines", "itemknn", {"neighbours": 100, "shrink": 10.0},
                        valid=metrics(0.07), test=metrics(0.068), seconds=4.0),
        CandidateResult("baselines", "ease", {}, SKIPPED,
                        "EASE needs a dense 120,000 x 120,000 matrix; it runs on catalogues of "
                        "up to 40,000 items"),
    ]
    for number in range(14):
        results.append(CandidateResult(
            "autoencoder", "multvae", dict(VAE_PARAMS),
            reason=f"stopped by the time budget after epoch {number + 3}",
            valid=metrics(0.06 + number / 1000), test=metrics(0.07) if number == 13 else {},
            epochs=number + 3, seconds=123.4 * number, number=number))
    results += [
        CandidateResult("mlp", "neumf", {"design": "neumf", "embedding_dim": 64}, FAILED,
                        LONG_FAILURE, number=0, seconds=2.0),
        CandidateResult("lstm", "gru4rec", {"design": "gru4rec"}, PRUNED,
                        "pruned by the tuner after epoch 2", valid=metrics(0.01), epochs=2,
                        number=0, seconds=20.0),
        CandidateResult("attention", "-", {}, SKIPPED, "the budget ran out before its first trial"),
        CandidateResult("cnn", "-", {}, SKIPPED,
                        "needs timestamps to put each user's history in order"),
    ]
    best = results[3 + 13]
    return SimpleNamespace(top_k=10, metric="ndcg", results_=results, best_result_=best,
                           best_params_=best.params, best_family_=best.family,
                           best_model_name_=best.model)


def rendered(width: int, draw: object) -> list[str]:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    draw(console)  # type: ignore[operator]
    return console.export_text().splitlines()


def candidate_lines(lines: list[str], name: str) -> list[str]:
    return [line for line in lines if line.startswith(f"│ {name} ")]


@pytest.mark.parametrize("width", WIDTHS)
def test_leaderboard_is_one_line_per_candidate(width: int) -> None:
    model = realistic_run()
    lines = rendered(width, lambda console: print_leaderboard(model, console))
    assert max(len(line) for line in lines) <= width
    table = [line for line in lines if line.startswith("│")]
    shown = {"autoencoder/multvae #13": "complete [1]", "baselines/itemknn": "complete",
             "baselines/ease": "skipped [2]", "attention": "skipped [3]", "cnn": "skipped [4]",
             "baselines/popularity": "complete"}
    for name, status in shown.items():
        (row,) = candidate_lines(lines, name)
        assert f"│ {status} " in row, row
    assert len(table) == 12 + 2 + 2  # the 12 best, the other baselines, the skipped families
    assert "0.0730" in candidate_lines(lines, "autoencoder/multvae #13")[0]  # valid ndcg
    assert "[1] stopped by the time budget after epoch 16, 15, 14" in "\n".join(lines)
    text = " ".join(line.strip() for line in lines)
    assert "[2] EASE needs a dense 120,000 x 120,000 matrix; it runs on catalogues of up to " \
           "40,000 items" in text
    assert "[3] the budget ran out before its first trial" in text
    if width >= 200:
        header = next(line for line in lines if line.startswith("┃ candidate"))
        assert "test hr" in header and "epochs" in header and "params" in header
        assert "hidden_units=600" in candidate_lines(lines, "autoencoder/multvae #13")[0]


@pytest.mark.parametrize("width", WIDTHS)
def test_live_progress_is_one_line_per_row(width: int) -> None:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    progress = RichProgress(Budget(deadline=time.monotonic() + 120), TrialSettings("ndcg", 10),
                            console=console)
    model = realistic_run()
    proposal = Proposal("autoencoder", 13, dict(VAE_PARAMS))
    progress.on_trial_start(proposal)
    progress.on_epoch(proposal, 11, 0.0734)
    for result in model.results_[3:]:
        if result.status != SKIPPED:
            progress.on_trial_end(result)
    console.print(progress._render())
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= width
    failed = [line for line in lines if line.startswith("  mlp #0 neumf: failed (2 s)")]
    assert len(failed) == 1 and "ValueError" in failed[0]
    assert len([line for line in lines if line.startswith("  autoencoder #")]) == 14
    (best,) = [line for line in lines if line.startswith("│ autoencoder ")]
    assert "multvae #13" in best and "0.0730" in best and best.rstrip("│ ").endswith("14")
    assert any(line.startswith("trial autoencoder #13 (multvae): epoch 11") for line in lines)
