#!/bin/sh
# tiff-dumper example: run 16 shards as an AWS Batch array job into one s3:// OUT, then
# `finish` once every child succeeded (a dependency on the array waits for all of them).
# Each child gets AWS_BATCH_JOB_ARRAY_INDEX (0..15) and AWS_BATCH_JOB_ARRAY_SIZE (16) from
# Batch: no --shard flag is needed. A retried child (Spot reclaimed, host lost) runs with
# --resume (the job definition's command) and continues from its complete parts.
# finish reads the OUT bucket with the job role; the config has no output: section (if yours
# has, e.g. an endpoint, give finish the same through --config or -o KEY=VALUE).
#   aws batch register-job-definition --cli-input-json file://examples/shards/aws-batch-job-definition.json
#   QUEUE=my-queue sh examples/shards/aws-batch-submit.sh
set -eu
QUEUE=${QUEUE:?set QUEUE to your job queue}
OUT=${OUT:-s3://my-output-bucket/tiff-headers/}
N=${N:-16}
array=$(aws batch submit-job --job-name tiff-dumper-shards --job-queue "$QUEUE" \
    --job-definition tiff-dumper-shard --array-properties "size=$N" \
    --parameters "out=$OUT" --query jobId --output text)
echo "array job $array: $N shards into $OUT"
aws batch submit-job --job-name tiff-dumper-finish --job-queue "$QUEUE" \
    --job-definition tiff-dumper-shard --depends-on "jobId=$array" \
    --container-overrides "command=tiff-dumper,finish,$OUT,--shards,$N" \
    --query jobId --output text
