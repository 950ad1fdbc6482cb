#!/usr/bin/env bash
# Ridge dynamics of layer alignment (methods.md §3, E1), one command: builds, trains a deep linear and a ReLU MLP
# with full-batch gradient descent and weight decay λ ∈ {0, 1e-4, 1e-3, 1e-2} for SEEDS (default 1 2 3), saves
# checkpoints as safetensors HF folders, runs `cartan track` on each run, and writes results.md and figures/.
# Everything runs under nice (the machine is shared). Runs go to runs/ (not committed).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
SEEDS=${SEEDS:-"1 2 3"}
STEPS=${STEPS:-5000}
EVERY=${EVERY:-500}
ETA=${ETA:-0.1}
RUNS=${RUNS:-runs}
start=$(date +%s)
nice -n 15 dotnet build Dynamics -c Release -v q -nologo
nice -n 15 dotnet build "$ROOT/src/Cartan.Cli" -c Release -v q -nologo
DYN="dotnet Dynamics/bin/Release/net10.0/Dynamics.dll"
CARTAN="dotnet $ROOT/src/Cartan.Cli/bin/Release/net10.0/Cartan.Cli.dll"
rm -rf "$RUNS"
for seed in $SEEDS; do
  for act in identity relu; do
    for lam in 0 1e-4 1e-3 1e-2; do
      dir="$RUNS/$act-lam$lam-s$seed"
      nice -n 15 $DYN train --out "$dir" --act "$act" --lambda "$lam" --eta "$ETA" --steps "$STEPS" --every "$EVERY" --seed "$seed"
      nice -n 15 $CARTAN track "$dir" --out "$dir/track" --quiet --threads 1
    done
  done
done
nice -n 15 $DYN report "$RUNS" .
end=$(date +%s)
echo "total wall time: $((end - start)) s (shared machine)" | tee time.txt
