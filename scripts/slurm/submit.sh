#!/usr/bin/env bash
# Runs a visbench spec as a Slurm job array of N shards plus a dependent
# job that merges them and writes the report.
#   scripts/slurm/submit.sh [--wait] SPEC N [OUT_DIR] [VISBENCH]
# OUT_DIR (default results) and VISBENCH (default: this checkout's
# build/visbench, else visbench on PATH) must
# be the same path on every node: a shared file system, as the data set is.
# --wait returns when the merge has finished (sbatch --wait), with its exit
# status. Extra sbatch options: SBATCH_PARTITION, SBATCH_TIMELIMIT, ... (see
# sbatch's input environment variables).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
wait=
if [ "${1:-}" = --wait ]; then wait=--wait; shift; fi
spec=${1:?usage: submit.sh [--wait] SPEC N [OUT_DIR] [VISBENCH]}
n=${2:?usage: submit.sh [--wait] SPEC N [OUT_DIR] [VISBENCH]}
out=${3:-results}
# default: this checkout's build, else visbench on PATH
vb=${4:-}
if [ -z "$vb" ]; then
  if [ -x "$here/../../build/visbench" ]; then vb=$(cd "$here/../../build" && pwd)/visbench; else vb=visbench; fi
fi
case "$n" in ''|*[!0-9]*|0) echo "submit.sh: N must be a positive number of shards, not '$n'" >&2; exit 2 ;; esac
mkdir -p "$out"
array=$(sbatch --parsable --array=0-$((n - 1)) --output="$out/visbench-%A_%a.out" \
  "$here/array.sbatch" "$spec" "$out" "$vb")
array=${array%%;*} # (--parsable prints "id;cluster" on a multi-cluster setup)
echo "submitted array job $array: $n shards of $spec"
merge=$(sbatch --parsable $wait --dependency=afterok:"$array" --kill-on-invalid-dep=yes \
  --output="$out/visbench-merge-%j.out" "$here/merge.sbatch" "$spec" "$out" "$vb")
echo "submitted merge job ${merge%%;*} (after $array): $out/$(basename "$spec" .yaml).db and its report"
