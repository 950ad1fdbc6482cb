#!/usr/bin/env bash
# The pruning experiment of issue 10 in one command: the ablation grid (dense, magnitude, Wanda, SparseGPT, CVR ×
# EC {none, col, col+row} at 50 % unstructured, 4:8, 2:4), 3 calibration seeds, the CVR α sweep, uniform vs OWL vs
# spectral profiles at 50 % and 70 %, and pruning time per layer relative to SparseGPT — on the tiny LM testbed.
# Results: experiments/pruning/results/{results.tsv,table.md,fig_grid.svg,fig_alpha.svg,setup.txt,run.log}.
# Resumable: rows already in results.tsv are skipped. Runs niced (the machine is shared).
#   experiments/pruning/run.sh                 the full experiment
#   experiments/pruning/run.sh --random        the same pipeline on a random small LLaMA (a smoke test of the driver)
# Extra arguments go to the driver (e.g. --only grid --patterns 0.5,2:4 --ecs none,col+row); the budgets are set with
# PRUNING_SEEDS (0,1,2), PRUNING_CALIB_SAMPLES (16), PRUNING_EVAL_TOKENS (8192; 0 = the whole test split),
# PRUNING_MODEL and PRUNING_OUT.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
OUT="${PRUNING_OUT:-experiments/pruning/results}"
dotnet build experiments/pruning/driver -c Release -v quiet -nologo >/dev/null
DRIVER="dotnet experiments/pruning/driver/bin/Release/net10.0/PruningDriver.dll"
if [[ "${1:-}" == "--random" ]]; then
  shift
  OUT="${PRUNING_OUT:-/tmp/cartan-pruning-random}"
  exec nice -n 15 $DRIVER run --random --out "$OUT" --seeds 0,1 --calib-samples 16 --seqlen 64 --eval-tokens 4096 "$@"
fi
MODEL="${PRUNING_MODEL:-models/tiny-brown-lm}"
DATA=experiments/tinylm/data
for f in "$MODEL/config.json" "$DATA/calib.txt.gz" "$DATA/test.txt.gz"; do
  [[ -e "$f" ]] || { echo "run.sh: $f is missing (the tiny LM of branch tinylm must be in this tree)" >&2; exit 2; }
done
mkdir -p "$OUT"
start=$(date -u +%s)
nice -n 15 $DRIVER run --model "$MODEL" --calib "$DATA/calib.txt.gz" --test "$DATA/test.txt.gz" --out "$OUT" \
  --seeds "${PRUNING_SEEDS:-0,1,2}" --calib-samples "${PRUNING_CALIB_SAMPLES:-16}" --seqlen 256 \
  --eval-tokens "${PRUNING_EVAL_TOKENS:-8192}" --threads 1 "$@" 2>&1 | tee -a "$OUT/run.log"
echo "run.sh: finished in $(( $(date -u +%s) - start )) s" | tee -a "$OUT/run.log"
