#!/usr/bin/env bash
# experiments/gch: GCh vs no noise / dropout / DropBlock / correlated additive noise on Fashion-MNIST (see README.md).
# One command from the repository root:  bash experiments/gch/run.sh   (extra arguments go to the driver, e.g. --seeds 1,2)
# Resumable: finished runs are kept in results/runs.jsonl and skipped; delete it to start over.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  apt-get install -y dataset-fashion-mnist
fi
dotnet build experiments/Cartan.Experiments -c Release -v q -nologo
start=$(date +%s)
nice -n 15 dotnet experiments/Cartan.Experiments/bin/Release/net10.0/Cartan.Experiments.dll gch \
  --out experiments/gch/results --train 10000 --epochs 4 --batch 32 --lr 0.002 \
  --test-clean 2000 --test-corrupt 200 --seeds 1,2,3,4,5 --threads 1 "$@"
echo "wall time: $(( $(date +%s) - start )) s" | tee experiments/gch/results/time.txt
