#!/usr/bin/env bash
# Forward and training throughput of the Cartan.Torch builders (tiny LLaMA-style LM, GPT-2-style LM, MLP on 28×28
# images) as achieved GFLOP/s against plain torch.matmul of the same shapes, default threads and 1 thread, in one
# process. Results: bench/results/torch-<date>.md. About 2–5 minutes on 2 cores.
# On a shared machine, run it as `nice -n 15 bench/torch/run.sh` (the results record the nice value and load average).
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet build bench/torch -c Release -nologo -v quiet -clp:ErrorsOnly
out="bench/results/torch-$(date -u +%Y-%m-%d).md"
mkdir -p bench/results
dotnet bench/torch/bin/Release/net10.0/TorchBench.dll > "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
echo "wrote $out" >&2
