#!/usr/bin/env bash
# Outlier channels without changing the function: the tiny LM reparametrised by reparam.py (an activation channel × s,
# the weights reading it ÷ s) at s = 5, 20, 100, then pruned at 50 % by magnitude (per row and per layer), Wanda,
# SparseGPT and CVR (EC none and col+row), calibration seeds 0, 1, 2, with the grid's budgets (16 × 256 calibration
# tokens, the first 8,192 test tokens). Writes experiments/pruning/reparam/results.tsv and table.md.
# Usage: experiments/pruning/reparam/run.sh   (about 8 minutes on 2 cores; resumable: finished rows are kept)
set -euo pipefail
cd "$(dirname "$0")/../../.."
here=experiments/pruning/reparam
work=${REPARAM_WORK:-/tmp/cartan-reparam}
scales=${REPARAM_SCALES:-"5 20 100"}
data=experiments/tinylm/data
mkdir -p "$work"
scripts/setup.sh >/dev/null
dotnet build src/Cartan.Cli -c Release -nologo -v quiet -clp:ErrorsOnly
dotnet build src/Cartan.Torch -c Release -nologo -v quiet -clp:ErrorsOnly
cli="dotnet src/Cartan.Cli/bin/Release/net10.0/Cartan.Cli.dll"
out=$here/results.tsv
[ -f "$out" ] || printf 'scale\tmethod\tec\tseed\tppl\n' > "$out"
ppl() { $cli eval "$1" --ppl $data/test.txt.gz --max-tokens 8192 --threads 1 2>/dev/null | awk '/^perplexity:/ {print $2}'; }
row() { # scale method ec seed -- prune options…
  local s=$1 m=$2 ec=$3 seed=$4; shift 5
  grep -qP "^$s\t$m\t$ec\t$seed\t" "$out" && return 0
  local dir="$work/s$s-$m-$ec-$seed"; rm -rf "$dir"
  $cli prune "$work/model-s$s" "$@" --sparsity 0.5 --out "$dir" > /dev/null
  printf '%s\t%s\t%s\t%s\t%s\n' "$s" "$m" "$ec" "$seed" "$(ppl "$dir")" >> "$out"
  rm -rf "$dir"
}
for s in $scales; do
  [ -f "$work/model-s$s/model.safetensors" ] || /usr/bin/python3 $here/reparam.py models/tiny-brown-lm "$work/model-s$s" --scale "$s" --seed 0
  grep -qP "^$s\tdense\t" "$out" || printf '%s\tdense\tnone\t-\t%s\n' "$s" "$(ppl "$work/model-s$s")" >> "$out"
  row "$s" magnitude none - -- --method magnitude
  row "$s" magnitude-per-layer none - -- --method magnitude --per-layer
  for seed in 0 1 2; do
    calib=(--calib $data/calib.txt.gz --calib-samples 16 --seed "$seed")
    row "$s" wanda none "$seed" -- --method wanda "${calib[@]}"
    row "$s" sparsegpt none "$seed" -- --method sparsegpt "${calib[@]}"
    row "$s" cvr none "$seed" -- --method cvr "${calib[@]}"
    row "$s" cvr col+row "$seed" -- --method cvr --ec col+row "${calib[@]}"
  done
done
/usr/bin/python3 - "$out" > $here/table.md <<'PY'
import csv, sys, statistics as st
rows = list(csv.DictReader(open(sys.argv[1]), delimiter='\t'))
scales = sorted({r['scale'] for r in rows}, key=float)
cells = {}
for r in rows: cells.setdefault((r['method'], r['ec'], r['scale']), []).append(float(r['ppl']))
order = [('dense', 'none'), ('magnitude', 'none'), ('magnitude-per-layer', 'none'), ('wanda', 'none'), ('sparsegpt', 'none'), ('cvr', 'none'), ('cvr', 'col+row')]
print('| method | EC | ' + ' | '.join(f's = {s}' for s in scales) + ' |')
print('|---|---|' + '---:|' * len(scales))
for m, ec in order:
    out = []
    for s in scales:
        v = cells.get((m, ec, s), [])
        out.append('' if not v else f'{v[0]:.2f}' if len(v) == 1 else f'{st.mean(v):.2f} ± {st.stdev(v):.2f}')
    print(f'| {m} | {ec} | ' + ' | '.join(out) + ' |')
PY
cat $here/table.md
