#!/usr/bin/env bash
# Side-by-side benchmark: cartan analyze vs WeightWatcher's analyze() on the same weights, same machine, same run,
# both on the same OpenBLAS core type. Writes bench/results/peers-<date>.md (time and peak memory, and the ratio).
# Usage: bench/peers.sh [--models resnet18,vit_b_16]     (needs Debian python3-torch + python3-torchvision; apt-installs them)
set -euo pipefail
cd "$(dirname "$0")/.."
models="resnet18,vit_b_16"
[ "${1:-}" = "--models" ] && models="$2"
peer=../shared/peers/weightwatcher
[ -d "$peer" ] || { echo "bench: WeightWatcher runner not found at $peer"; exit 2; }
work=bench/models; mkdir -p "$work" bench/results
if ! /usr/bin/python3 -c "import torchvision" 2>/dev/null; then
  echo "bench: installing python3-torchvision"; apt-get install -y -qq python3-torchvision >/dev/null
fi
"$peer/ww-run" --install --help >/dev/null 2>&1 || true
for m in ${models//,/ }; do [ -f "$work/$m.safetensors" ] || /usr/bin/python3 "$peer/gen-models.py" "$work" --models "$m"; done
scripts/setup.sh >/dev/null
dotnet build src/Cartan.Cli -c Release -nologo -v quiet -clp:ErrorsOnly
dotnet build bench/linalg -c Release -nologo -v quiet -clp:ErrorsOnly
cli="dotnet src/Cartan.Cli/bin/Release/net10.0/Cartan.Cli.dll"
floor="dotnet bench/linalg/bin/Release/net10.0/LinalgBench.dll floor"
floors=(); wwruns=()
# Same core for both sides: what cartan selects on this CPU, or what the user set.
core=${OPENBLAS_CORETYPE:-$(grep -q avx512bw /proc/cpuinfo && echo SkylakeX || (grep -q avx2 /proc/cpuinfo && echo Haswell || echo ""))}
export OPENBLAS_CORETYPE=$core
out="bench/results/peers-$(date +%Y-%m-%d).md"
{
  echo "# cartan vs WeightWatcher — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), OPENBLAS_CORETYPE=$core for both."
  echo "WeightWatcher 0.7.5.5 analyze() (its own timer, \`analyze_s\`); cartan: whole process wall time (start-up, reading and writing included)."
  echo "Times are medians of ${PEERS_REPEAT:-3} interleaved runs (the full analysis: one run); peak memory is the largest of the runs."
  echo
  echo "Two ratios: WW analyze() s ÷ cartan's whole process (start-up, mapping, analysis, writing the JSON) and ÷ cartan's own"
  echo 'analysis time (`seconds` in its JSON: reading the tensors and every computation; the counterpart of analyze()).'
  echo "Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "α: max |cartan ww.alpha − WW alpha| over the layers both analysed (linear layers / all layers)."
  echo
  echo "| model | WW layers | WW analyze s | WW peak MiB | cartan mode | cartan layers | cartan process s | cartan analysis s | cartan peak MiB | speed-up (process) | speed-up (analysis) | max Δα linear / all |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
} > "$out"
# Each figure is the median of PEERS_REPEAT runs (default 3; the full analysis runs once), WW and cartan interleaved so
# that a slow spell of the shared machine hits both sides: single runs here vary by ±10 %.
repeat=${PEERS_REPEAT:-3}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
modes=("ww:--metrics ww --conv-view tap" "ww-same:--metrics ww --conv-view tap --layers" "spectra:--spectra-only --conv-view tap" "full:")
for m in ${models//,/ }; do
  f="$work/$m.safetensors"
  declare -A proc=() secs=() rss=() n=() dalpha=()
  ww_list=(); ww_rss=0
  run_cartan() { # name flags...
    local name=$1; shift
    local start end
    start=$(date +%s.%N)
    CARTAN_REPORT_RSS=1 $cli analyze "$f" "$@" --quiet --json "bench/results/cartan-$m-$name.json" > "bench/results/cartan-$m-$name.out" 2> "bench/results/cartan-$m-$name.err"
    end=$(date +%s.%N)
    proc[$name]+=" $(echo "$end - $start" | bc -l)"
    local r; r=$(grep -o 'peak_rss_mib: [0-9.]*' "bench/results/cartan-$m-$name.err" | grep -o '[0-9.]*$')
    rss[$name]=$(echo "if (${rss[$name]:-0} > $r) ${rss[$name]:-0} else $r" | bc -l)
    local line; line=$(/usr/bin/python3 - "bench/results/cartan-$m-$name.json" "bench/results/ww-$m.csv" <<'PY'
import csv, json, sys
d = json.load(open(sys.argv[1]))
ww = {r["tensor_name"]: r for r in csv.DictReader(open(sys.argv[2]))}
lin, every = 0.0, 0.0
for l in d["layers"]:
    r = ww.get(l["name"])
    a = (l.get("ww") or {}).get("alpha")
    if r is None or a is None or float(r["alpha"]) < 0: continue
    diff = abs(a - float(r["alpha"]))
    every = max(every, diff)
    if len(l["shape"]) == 2: lin = max(lin, diff)
print(len(d["layers"]), d["seconds"], f"{lin:.1e}/{every:.1e}")
PY
)
    read -r "n[$name]" s_an "dalpha[$name]" <<< "$line"
    secs[$name]+=" $s_an"
  }
  for r in $(seq "$repeat"); do
    "$peer/ww-run" "$f" "bench/results/ww-$m.csv" 2> "bench/results/ww-$m.err" >/dev/null
    ww_list+=("$(grep -o 'analyze_s[=: ]*[0-9.]*' "bench/results/ww-$m.err" | grep -o '[0-9.]*$' | tail -1)")
    r_rss=$(grep -o 'peak_rss_mib[=: ]*[0-9.]*' "bench/results/ww-$m.err" | grep -o '[0-9.]*$' | tail -1)
    ww_rss=$(echo "if ($ww_rss > $r_rss) $ww_rss else $r_rss" | bc -l)
    # The layers WeightWatcher analysed, as one anchored pattern: "ww-same" runs exactly that set (for vit_b_16 it leaves
    # out the q/k/v parts of the packed in_proj, which WW does not see; for resnet18 it is every layer we analyse anyway).
    same="^($(tail -n +2 "bench/results/ww-$m.csv" | /usr/bin/python3 -c 'import csv,re,sys; print("|".join(re.escape(r[2]) for r in csv.reader(sys.stdin)))'))\$"
    for mode in "${modes[@]}"; do
      name=${mode%%:*}; flags=${mode#*:}
      [ "$name" = full ] && continue
      extra=(); [ "$name" = ww-same ] && extra=("$same")
      run_cartan "$name" $flags "${extra[@]}"
    done
  done
  run_cartan full
  ww_s=$(median "${ww_list[@]}")
  wwruns+=("$m: ${ww_list[*]} s; cartan ww-same analysis:${secs[ww-same]} s")
  ww_n=$(($(wc -l < "bench/results/ww-$m.csv") - 1))
  # The LAPACK floor of the same spectra (bench/linalg/Floor.cs): only the dsyrk + dsyevd calls they are made of, on
  # matrices decoded in advance, two threads. WW's time ÷ this is the most any Gram + dsyevd implementation can show here.
  fl=$($floor "$f" --conv-view tap --layers "$same" | grep -o 'floor_s=[0-9.]*' | cut -d= -f2)
  floors+=("| $m | $ww_n | $(printf '%.2f' "$ww_s") | $fl | $(printf '%.1f' "$(echo "$ww_s / $fl" | bc -l)")× |")
  for mode in "${modes[@]}"; do
    name=${mode%%:*}
    # shellcheck disable=SC2086
    s=$(median ${proc[$name]}); a=$(median ${secs[$name]})
    ratio=$(echo "$ww_s / $s" | bc -l); ratio2=$(echo "$ww_s / $a" | bc -l)
    printf '| %s | %s | %.2f | %.1f | %s | %s | %.2f | %.2f | %.1f | %.1f× | %.1f× | %s |\n' "$m" "$ww_n" "$ww_s" "$ww_rss" "$name" "${n[$name]}" "$s" "$a" "${rss[$name]}" "$ratio" "$ratio2" "${dalpha[$name]}" >> "$out"
  done
  unset proc secs rss n dalpha
done
{
  echo
  printf 'LAPACK floor of the ww-same spectra (bench/linalg `floor`: the raw dsyrk + dsyevd calls alone, matrices decoded before the clock, one BLAS thread per job on %s threads, best of 3):\n' "$(nproc)"
  echo
  echo "| model | layers | WW analyze s | LAPACK floor s | WW ÷ floor (the ceiling of any Gram + dsyevd speed-up) |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${floors[@]}"
  echo
  echo "Every run (WW analyze() and cartan ww-same analysis, in run order):"
  echo
  printf -- '- %s\n' "${wwruns[@]}"
} >> "$out"
echo >> "$out"
echo "ww = \`--metrics ww --conv-view tap\` (WeightWatcher's per-layer metric set, its pooled per-tap conv ESD); ww-same = the same restricted by \`--layers\` to exactly the layers WW analysed; spectra = \`--spectra-only --conv-view tap\` (every per-layer metric: charts, effective ranks, tails, fit comparisons, WW block); full = every analysis (spectra, interfaces with transport, flag and PAM certificates, heads, chains)." >> "$out"
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine slows both sides)." >> "$out"
cat "$out"
