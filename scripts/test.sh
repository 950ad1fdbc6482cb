#!/usr/bin/env bash
# Runs the whole test suite and ends with a plain "N passed, N failed" line taken from the run's own results.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
results="$(pwd)/TestResults"
rm -rf "$results"
dotnet test tests/Cartan.Tests -c Release -nologo --logger "trx;LogFileName=results.trx" --results-directory "$results" "$@"
rc=$?
trx="$results/results.trx"
if [ ! -f "$trx" ]; then
  echo "test run produced no results (build failure?)"
  echo "0 passed, 1 failed"
  exit 1
fi
counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
passed=$(get passed); failed=$(get failed); total=$(get total); executed=$(get executed)
passed=${passed:-0}; failed=${failed:-0}
notrun=$(( ${total:-0} - ${executed:-0} ))
if [ "$notrun" -gt 0 ]; then
  echo "$notrun tests did not run"
  failed=$((failed + notrun))
fi
echo "$passed passed, $failed failed"
if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ] || [ "$passed" -eq 0 ]; then exit 1; fi
exit 0
