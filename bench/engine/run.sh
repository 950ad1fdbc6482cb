#!/usr/bin/env bash
# 7B-shaped workload: one LLaMA-2-7B block (random F16 weights, written by make_block.py) analysed by `cartan analyze`,
# time and peak memory against the largest tensor, extrapolated to 32 blocks; plus the per-matrix and 4096×11008
# interface ratios of bench/engine. Results: bench/results/engine-<date>.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
m=bench/models/llama-block
[ -f "$m/model.safetensors" ] || /usr/bin/python3 bench/engine/make_block.py "$m"
dotnet build src/Cartan.Cli -c Release -nologo -v quiet -clp:ErrorsOnly
out="bench/results/engine-$(date +%Y-%m-%d).md"
mkdir -p bench/results
{
  echo "# Engine bench — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  for mode in "spectra:--spectra-only" "full:"; do
    name=${mode%%:*}; flags=${mode#*:}
    start=$(date +%s.%N)
    # The full analysis of a 7B block takes tens of minutes here: ENGINE_FULL_TIMEOUT (s, default 900) bounds it.
    limit=$([ "$name" = full ] && echo "${ENGINE_FULL_TIMEOUT:-900}" || echo 0)
    rc=0
    CARTAN_REPORT_RSS=1 timeout "$limit" dotnet src/Cartan.Cli/bin/Release/net10.0/Cartan.Cli.dll analyze "$m" $flags --quiet --json "bench/results/block-$name.json" > /dev/null 2> "bench/results/block-$name.err" || rc=$?
    s=$(echo "$(date +%s.%N) - $start" | bc -l)
    if [ "$rc" = 124 ]; then
      printf '* one LLaMA-7B block, %s: did not finish within %s s (stopped)\n' "$name" "$limit"
      continue
    fi
    rss=$(grep -o 'peak_rss_mib: [0-9.]*' "bench/results/block-$name.err" | grep -o '[0-9.]*$')
    printf '* one LLaMA-7B block, %s: %.1f s, peak RSS %s MiB (largest tensor 11008×4096: 86 MiB as F16, 344 MiB as float64); 32 blocks ≈ %.0f s\n' "$name" "$s" "$rss" "$(echo "$s * 32" | bc -l)"
  done
  echo
  dotnet run -c Release --project bench/engine -- "$m" 2>&1 | grep -v "warn"
} | tee "$out"
