#!/bin/bash
# tiff-dumper example: a Slurm job array runs 16 shards into one s3:// OUT, then `finish`.
#   OUT=s3://my-output-bucket/tiff-headers/ bash examples/shards/slurm-array.sh
# submits the array (this script under sbatch) and a finish job that starts once every task
# succeeded (afterok on the array). Each task's shard is
# (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP of
# SLURM_ARRAY_TASK_COUNT: --array=1-16 or --array=0-30:2 work as well as 0-15; a list
# (--array=1,4,9) is refused. The "%8" runs at most 8 tasks at once.
#SBATCH --job-name=tiff-dumper
#SBATCH --array=0-15%8
#SBATCH --cpus-per-task=4
#SBATCH --mem=4G
#SBATCH --time=24:00:00
#SBATCH --requeue
#SBATCH --output=tiff-dumper-%A_%a.log
set -euo pipefail
CONFIG=${CONFIG:-examples/shards/config.yaml}
OUT=${OUT:-s3://my-output-bucket/tiff-headers/}

if [ -z "${SLURM_ARRAY_TASK_ID:-}" ]; then
    # not inside the array yet: submit it, and the finish step after it
    array=$(sbatch --parsable --export=ALL,CONFIG="$CONFIG",OUT="$OUT" "$0")
    sbatch --parsable --dependency="afterok:$array" --job-name=tiff-dumper-finish \
        --output=tiff-dumper-finish-%j.log --wrap "tiff-dumper finish '$OUT' --config '$CONFIG'"
    echo "submitted array $array and its finish step"
    exit 0
fi
# exit 1 (some objects failed: see OUT/_errors/) still completed the shard: its marker is
# written, so it must not fail the task (afterok would never start finish). --resume: a
# requeued (preempted) task continues from its complete parts; a first run is a plain run
rc=0
tiff-dumper headers "$CONFIG" "$OUT" --resume --quiet || rc=$?
[ "$rc" -eq 1 ] && rc=0
exit "$rc"
