"""Quickstart: the Python API on the bundled example log.

Run from the repository root after installing the project:

    python examples/quickstart.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from automl_rec import AutoRecommender

HERE = Path(__file__).resolve().parent


def main() -> None:
    log = pd.read_csv(HERE / "shop_interactions.csv", dtype=str)
    model = AutoRecommender(output_dir=HERE.parent / "runs" / "quickstart").fit(log)

    profile = model.profile_
    print(f"{profile.n_users} users, {profile.n_items} items, "
          f"{profile.n_interactions} interactions, protocol {model.split_.protocol}")
    print(model.leaderboard_[["family", "model", "params", "valid_ndcg@10", "test_ndcg@10"]])
    print(f"best: {model.best_family_}/{model.best_model_name_} {model.best_params_}, "
          f"test ndcg@10 {model.test_metrics_['ndcg@10']:.4f}")

    first_user = log["customer_id"].iloc[0]
    print(model.recommend([first_user, "a-new-customer"], k=5))


if __name__ == "__main__":
    main()
