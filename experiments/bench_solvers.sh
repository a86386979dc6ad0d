#!/usr/bin/env bash
# The solver benchmark of the README: the S&P 500 instance and a 253-asset synthetic market.
#   bash experiments/bench_solvers.sh [PRICES_CSV] [OUT_ROOT]
# Needs the S&P 500 table (default ../shared/data/sp500_close_2013_2018.csv.gz); the
# synthetic instances run anywhere. Writes OUT_ROOT/{sp500,synthetic253,synthetic2000}/bench.*
set -euo pipefail
cd "$(dirname "$0")/.."
PRICES=${1:-../shared/data/sp500_close_2013_2018.csv.gz}
ROOT=${2:-results/bench-$(date +%Y%m%d-%H%M%S)}
BIN=${QUBO_PORTFOLIO:-qubo-portfolio}
SOLVERS=(--solver swap --solver swap:proposal_type=random
         --solver tabu:timeout=20 --solver tabu:timeout=50
         --solver tabu:timeout=100 --solver tabu:timeout=200
         --solver sa --solver sa:beta_range=dwave
         --solver sa+polish --solver sa+polish:beta_range=dwave)

if [[ -f "$PRICES" ]]; then
  # the tickers complete on the rows used (503; no gap filling), last 126 returns, 21-row windows stepping 10, K'=30
  $BIN bench --prices "$PRICES" --max-gap 0 --k 30 --xi 0.05 --lookback 126 \
      --window-length 21 --window-step 10 "${SOLVERS[@]}" --reads 20 --repeats 5 \
      --out "$ROOT/sp500"
else
  echo "skipping the S&P 500 instance: $PRICES not found" >&2
fi
$BIN bench --synthetic 253 --days 127 --data-seed 1 --k 20 --xi 0.05 --lookback 126 \
    --window-length 21 --window-step 10 "${SOLVERS[@]}" --reads 20 --repeats 5 \
    --out "$ROOT/synthetic253"
# scale: 2000 assets, K'=100; the best known is the best over this run
$BIN bench --synthetic 2000 --days 127 --data-seed 1 --k 100 --xi 0.05 --lookback 126 \
    --window-length 21 --window-step 10 --solver swap --solver tabu:timeout=2000 \
    --reads 5 --repeats 3 --out "$ROOT/synthetic2000"
