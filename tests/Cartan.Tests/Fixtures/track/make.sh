#!/usr/bin/env bash
# Makes the track fixtures: checkpoints 0, 1000, 2500 and 5000 of the ridge-dynamics runs (deep linear and ReLU MLP,
# λ = 1e-2, η = 0.1, seed 1; experiments/alignment-dynamics), then their β, β_diag and κ with numpy (expected.py).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
dotnet build "$ROOT/experiments/alignment-dynamics/Dynamics" -c Release -v q -nologo
DYN="dotnet $ROOT/experiments/alignment-dynamics/Dynamics/bin/Release/net10.0/Dynamics.dll"
for act in identity relu; do
  name=$([ "$act" = identity ] && echo linear || echo relu)-wd1e-2
  nice -n 15 $DYN train --out "$TMP/$name" --act "$act" --lambda 1e-2 --eta 0.1 --steps 5000 --every 500 --seed 1
  rm -rf "${HERE:?}/$name"; mkdir -p "$HERE/$name"
  for s in 000000 001000 002500 005000; do cp -r "$TMP/$name/step-$s" "$HERE/$name/"; done
done
/usr/bin/python3 "$HERE/expected.py"
