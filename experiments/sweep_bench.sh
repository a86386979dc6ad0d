#!/usr/bin/env bash
# The sweep benchmark of the README (issue 4): experiments/sweep_bench.yaml (10 x 10 grid x 3
# seeds = 300 runs of sa on a 253-asset synthetic market) on the local executor and on a Dask
# LocalCluster, both with WORKERS workers, REPEATS times each (alternating). Prints every
# wall time, the medians and their ratio, and checks that both executors wrote the same rows.
#   bash experiments/sweep_bench.sh [REPEATS] [OUT_ROOT]
# Environment: WORKERS (default 2), QUBO_PORTFOLIO (the command), PYTHON (with pandas).
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${1:-3}
ROOT=${2:-results/sweep-bench-$(date +%Y%m%d-%H%M%S)}
WORKERS=${WORKERS:-2}
BIN=${QUBO_PORTFOLIO:-qubo-portfolio}
PY=${PYTHON:-python3}
mkdir -p "$ROOT"
echo "machine: $(nproc) CPUs, $(uname -m), load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
for i in $(seq "$REPEATS"); do
  for executor in local dask; do
    out="$ROOT/$executor-$i"
    start=$(date +%s.%N)
    $BIN sweep experiments/sweep_bench.yaml --out "$out" --executor "$executor" \
        --workers "$WORKERS" > "$out.log" 2>&1
    end=$(date +%s.%N)
    seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    echo "$executor run $i: $seconds s" | tee -a "$ROOT/times.txt"
  done
done
"$PY" - "$ROOT" <<'PYEOF'
import statistics, sys
from pathlib import Path
import pandas as pd

root = Path(sys.argv[1])
times = {}
for line in (root / "times.txt").read_text().splitlines():
    executor, _, _, seconds, _ = line.split()
    times.setdefault(executor, []).append(float(seconds))
local, dask = statistics.median(times["local"]), statistics.median(times["dask"])
print(f"median wall time: local {local:.1f} s, dask {dask:.1f} s, dask / local {dask / local:.2f}")
def rows(name):
    frame = pd.read_csv(root / name / "results.csv", dtype=str, keep_default_na=False)
    frame = frame.drop(columns="solve_seconds")
    return frame.sort_values(["model.xi", "model.penalty.scale", "seed"]).reset_index(drop=True)
same = rows("local-1").equals(rows("dask-1"))
print(f"local and dask rows identical (all but solve_seconds): {same}")
PYEOF
