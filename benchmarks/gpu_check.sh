#!/usr/bin/env bash
# GPU check: the same short search on MovieLens 100K, once on the GPU and once on the CPU, with
# seconds per epoch of each trial side by side. Meant for a fresh machine with one NVIDIA GPU;
# stays within about five minutes (every step has its own time limit).
#
#   bash benchmarks/gpu_check.sh [ML-100K u.data]      # from the repository root
#   bash benchmarks/gpu_check.sh --table GPU_RUN CPU_RUN  # only the table, from two run folders
#
# Environment: OUT (results) and VENV (default: under $TMPDIR or /tmp), SKIP_INSTALL=1 to
# use the automl-rec already on PATH. pip needs a package index or wheel cache it can reach.
set -euo pipefail

BUDGET=290  # seconds for the whole check

print_table() {  # print_table GPU_RUN_DIR CPU_RUN_DIR
    "${PYTHON:-python3}" - "$1" "$2" <<'PY'
import csv, json, sys
from pathlib import Path

def run(folder):
    folder = Path(folder)
    rows = {}
    board = folder / "leaderboard.csv"
    if board.is_file():
        with board.open() as handle:
            for row in csv.DictReader(handle):
                if row["trial"]:
                    rows[(row["family"], row["model"], row["trial"])] = row["seconds_per_epoch"]
    device = "(no metadata.json)"
    for path in (folder / "metadata.json", folder / "model" / "assets" / "metadata.json"):
        if path.is_file():
            device = json.loads(path.read_text()).get("environment", {}).get("device", "?")
            break
    return rows, device

(gpu, gpu_device), (cpu, cpu_device) = run(sys.argv[1]), run(sys.argv[2])
print(f"GPU run device: {gpu_device}")
print(f"CPU run device: {cpu_device}")
header = ("family", "model", "trial", "GPU s/epoch", "CPU s/epoch", "CPU/GPU")
lines = []
for key in sorted(set(gpu) | set(cpu), key=lambda k: (k[0], int(k[2]), k[1])):
    g, c = gpu.get(key) or "", cpu.get(key) or ""
    ratio = f"{float(c) / float(g):.1f}x" if g and c and float(g) > 0 else ""
    lines.append((*key, g or "-", c or "-", ratio or "-"))
widths = [max(len(str(x)) for x in column) for column in zip(header, *lines)]
for line in (header, *lines):
    print("  ".join(str(x).ljust(w) for x, w in zip(line, widths)))
if not lines:
    print("(no trial finished in either run)")
PY
}

if [[ "${1:-}" == "--table" ]]; then
    print_table "$2" "$3"
    exit 0
fi

DATA="${1:-../shared/data/ml-100k/u.data}"
OUT="${OUT:-${TMPDIR:-/tmp}/automl-rec-gpu-check}"
VENV="${VENV:-${TMPDIR:-/tmp}/automl-rec-gpu-check-venv}"
if [[ ! -f "$DATA" ]]; then
    echo "no ML-100K file at $DATA; pass its path as the first argument" >&2
    exit 2
fi
mkdir -p "$OUT"
left() { echo $((BUDGET - SECONDS)); }

if [[ "${SKIP_INSTALL:-0}" != "1" ]]; then
    echo "== installing into $VENV (limit 150 s)"
    python3 -m venv "$VENV"
    if timeout 150 "$VENV/bin/pip" install -q --disable-pip-version-check .; then
        export PATH="$VENV/bin:$PATH"
        PYTHON="$VENV/bin/python"
    elif python3 -c "import tensorflow, keras_tuner, optuna, pyarrow, rich, jinja2" 2>/dev/null
    then
        # No package index here, but the machine's Python has the dependencies: run from source.
        echo "(pip install . failed: running the checkout with the machine's Python)"
        mkdir -p "$OUT/bin"
        printf '#!/bin/sh\nPYTHONPATH="%s" exec python3 -m automl_rec.cli "$@"\n' "$PWD" \
            > "$OUT/bin/automl-rec"
        chmod +x "$OUT/bin/automl-rec"
        export PATH="$OUT/bin:$PATH"
    else
        echo "pip install . failed or ran past 150 s, and python3 lacks the dependencies" >&2
        exit 1
    fi
fi
echo "== install done after ${SECONDS}s"

echo "== nvidia-smi -L"
nvidia-smi -L || echo "(nvidia-smi failed)"

SEARCH=(--families attention,lstm --max-trials 2 --max-epochs 5 -q)
GPU_FLAGS=(--device gpu); CPU_FLAGS=(--device cpu)

rm -rf "$OUT/gpu" "$OUT/cpu"
limit=$(( $(left) / 2 ))
echo "== GPU search (limit ${limit}s)"
started=$SECONDS
timeout "$limit" automl-rec fit "$DATA" "${SEARCH[@]}" "${GPU_FLAGS[@]}" -o "$OUT/gpu" \
    || echo "(GPU search ended with status $?)"
echo "   took $((SECONDS - started))s"

limit=$(( $(left) - 10 ))
echo "== CPU search (limit ${limit}s)"
started=$SECONDS
timeout "$limit" automl-rec fit "$DATA" "${SEARCH[@]}" "${CPU_FLAGS[@]}" \
    -o "$OUT/cpu" || echo "(CPU search ended with status $?)"
echo "   took $((SECONDS - started))s"

echo "== seconds per epoch of each trial"
print_table "$OUT/gpu" "$OUT/cpu"
echo "== total ${SECONDS}s"
