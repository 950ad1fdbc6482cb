#!/bin/bash
# Analyse one model in N shards as a Slurm job array, then merge in a dependent job.
#   sbatch slurm-array.sh /shared/models/llama-7b /shared/out
#SBATCH --job-name=cartan-shard
#SBATCH --array=0-7            # N = 8 shards
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=01:00:00
set -euo pipefail
MODEL=${1:?model path}
OUT=${2:?output folder}
N=$((SLURM_ARRAY_TASK_MAX + 1))
mkdir -p "$OUT/parts"
cartan analyze "$MODEL" --shard "${SLURM_ARRAY_TASK_ID}/${N}" --threads "$SLURM_CPUS_PER_TASK" --quiet \
    --json "$OUT/parts/part-${SLURM_ARRAY_TASK_ID}.json"

# Submit the merge once, from the first task, to run after the whole array succeeds.
if [ "$SLURM_ARRAY_TASK_ID" = "0" ]; then
  sbatch --dependency=afterok:"$SLURM_ARRAY_JOB_ID" --job-name=cartan-merge --cpus-per-task=1 --mem=4G \
    --wrap "cartan merge $OUT/parts/part-*.json --out $OUT/report"
fi
