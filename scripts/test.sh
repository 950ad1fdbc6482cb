#!/usr/bin/env bash
# Runs the whole test suite and ends with a plain "N passed, N failed" line taken from the run's own results.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
results="$(pwd)/TestResults"
rm -rf "$results"
# Each test project writes its own trx file; the counters of all of them are summed into the last line.
projects=(tests/Cartan.Tests tests/Cartan.Torch.Tests tests/Cartan.LlamaCpp.Tests)
rc=0
for p in "${projects[@]}"; do
  dotnet test "$p" -c Release -nologo --logger "trx;LogFileName=$(basename "$p").trx" --results-directory "$results" "$@" || rc=1
done
passed=0; failed=0
for p in "${projects[@]}"; do
  trx="$results/$(basename "$p").trx"
  if [ ! -f "$trx" ]; then
    echo "test run of $(basename "$p") produced no results (build failure?)"
    failed=$((failed + 1))
    continue
  fi
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
  p_passed=$(get passed); p_failed=$(get failed); total=$(get total); executed=$(get executed)
  passed=$((passed + ${p_passed:-0})); failed=$((failed + ${p_failed:-0}))
  notrun=$(( ${total:-0} - ${executed:-0} ))
  if [ "$notrun" -gt 0 ]; then
    echo "$notrun tests did not run"
    failed=$((failed + notrun))
  fi
done
echo "$passed passed, $failed failed"
if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ] || [ "$passed" -eq 0 ]; then exit 1; fi
exit 0
