#!/usr/bin/env bash
# The main job: analyse the embedded default model (all-MiniLM-L6-v2) and write the report folder.
# Usage: scripts/run.sh [OUT_DIR] [extra cartan analyze options]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/default}"
[ $# -gt 0 ] && shift
scripts/setup.sh
dotnet build src/Cartan.Cli -c Release -nologo -v quiet -clp:ErrorsOnly
dotnet src/Cartan.Cli/bin/Release/net10.0/Cartan.Cli.dll analyze --out "$out" "$@"
