#!/usr/bin/env bash
# experiments/collapse: the small CNN trained into its terminal phase on a balanced Fashion-MNIST subset; NC1–NC4 over
# epochs via `cartan collapse` (see README.md). One command from the repository root:  bash experiments/collapse/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  apt-get install -y dataset-fashion-mnist
fi
dotnet build experiments/Cartan.Experiments -c Release -v q -nologo
dotnet build src/Cartan.Cli -c Release -v q -nologo
out=${OUT:-experiments/collapse/results}
start=$(date +%s)
nice -n 15 dotnet experiments/Cartan.Experiments/bin/Release/net10.0/Cartan.Experiments.dll collapse \
  --out "$out" --per-class 50 --epochs 400 --every 25 --batch 25 --seed 1 --lr 0.05 --wd 5e-4 --threads 1 "$@"
for f in "$out"/features_e*.npy; do
  tag=${f##*features_e}; tag=${tag%.npy}
  nice -n 15 dotnet src/Cartan.Cli/bin/Release/net10.0/Cartan.Cli.dll collapse "$f" "$out/labels.npy" \
    --classifier "$out/classifier_e$tag.npy:classifier_e$tag" --json "$out/nc_e$tag.json"
done
dotnet experiments/Cartan.Experiments/bin/Release/net10.0/Cartan.Experiments.dll collapse-report --out "$out"
echo "wall time: $(( $(date +%s) - start )) s" | tee "$out/time.txt"
