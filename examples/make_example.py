"""Regenerates ``examples/shop_interactions.csv``.

The file is a synthetic e-commerce interaction log made by
:func:`automl_rec.datasets.make_interactions` with its default arguments and
seed 0. Run it from anywhere::

    python examples/make_example.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Allow running from a source checkout without installing the package.
sys.path.insert(0, str(HERE.parent))

from automl_rec.datasets import make_interactions  # noqa: E402


def main() -> Path:
    """Writes the example CSV next to this script.

    Returns:
        The path of the written file.
    """
    frame = make_interactions(seed=0)
    path = HERE / "shop_interactions.csv"
    frame.to_csv(path, index=False)
    print(f"wrote {len(frame)} rows to {path}")
    return path


if __name__ == "__main__":
    main()
