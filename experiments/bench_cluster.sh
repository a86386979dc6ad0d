#!/usr/bin/env bash
# The cluster benchmark (experiments/bench_cluster.md): experiments/bench_cluster.yaml (10 x 10
# grid x 3 seeds = 300 runs of sa on 503 S&P 500 assets) with --executor local --workers 2 and
# with --executor dask --scheduler on a `dask scheduler` and 2 `dask worker` processes (one
# thread each) started here on 127.0.0.1, REPEATS times each (alternating). The cluster starts
# before the first timed call and serves every dask call (as a standing cluster would). Prints
# every wall time, the medians and their ratio, and checks that both wrote the same rows.
#   bash experiments/bench_cluster.sh [REPEATS] [OUT_ROOT]
# Environment: QUBO_PORTFOLIO (the command), DASK (the dask command), PYTHON (with pandas);
# workers import the package the way PYTHON does (set PYTHONPATH for a checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${1:-3}
ROOT=${2:-results/bench-cluster-$(date +%Y%m%d-%H%M%S)}
BIN=${QUBO_PORTFOLIO:-qubo-portfolio}
DASK=${DASK:-dask}
PY=${PYTHON:-python3}
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADDRESS=tcp://127.0.0.1:$PORT
mkdir -p "$ROOT"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait; }
trap cleanup EXIT
$DASK scheduler --host 127.0.0.1 --port "$PORT" --no-dashboard > "$ROOT/scheduler.log" 2>&1 &
pids+=($!)
for w in 1 2; do
  $DASK worker "$ADDRESS" --nworkers 1 --nthreads 1 --no-dashboard > "$ROOT/worker$w.log" 2>&1 &
  pids+=($!)
done
"$PY" -c "from dask.distributed import Client; Client('$ADDRESS', timeout='60s').wait_for_workers(2, timeout=60)"
echo "machine: $(nproc) CPUs, $(uname -m), load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo "cluster: $ADDRESS, 2 workers"
for i in $(seq "$REPEATS"); do
  for executor in local dask; do
    out="$ROOT/$executor-$i"
    options=(--workers 2)
    [[ $executor == dask ]] && options=(--executor dask --scheduler "$ADDRESS")
    start=$(date +%s.%N)
    $BIN sweep experiments/bench_cluster.yaml --out "$out" "${options[@]}" > "$out.log" 2>&1
    end=$(date +%s.%N)
    seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    echo "$executor run $i: $seconds s (load average $(cut -d' ' -f1 /proc/loadavg))" | tee -a "$ROOT/times.txt"
  done
done
"$PY" - "$ROOT" <<'PYEOF'
import statistics, sys
from pathlib import Path
import pandas as pd

root = Path(sys.argv[1])
times = {}
for line in (root / "times.txt").read_text().splitlines():
    executor, _, _, seconds, *_ = line.split()
    times.setdefault(executor, []).append(float(seconds))
local, dask = statistics.median(times["local"]), statistics.median(times["dask"])
print(f"median wall time: local {local:.1f} s, dask {dask:.1f} s, dask / local {dask / local:.2f}")
def rows(name):
    frame = pd.read_csv(root / name / "results.csv", dtype=str, keep_default_na=False)
    frame = frame.drop(columns="solve_seconds")
    return frame.sort_values(["model.xi", "model.penalty.scale", "seed"]).reset_index(drop=True)
same = all(rows(f"local-{i}").equals(rows(f"dask-{j}")) for i in (1,) for j in range(1, len(times["dask"]) + 1))
print(f"local and dask rows identical (all but solve_seconds): {same}")
PYEOF
