#!/usr/bin/env bash
# run_once.sh <done_marker> <command> [args...]: runs the command unless <done_marker> exists,
# and creates the marker only when the command succeeds. Wraps one job of a job array
#   ${decode_cmd} JOB=1:N log.JOB utils/run_once.sh out.JOB/.done cmd ... out.JOB
# so that a re-run after a kill does again only the jobs that had not finished; the marker
# belongs in the job's output dir, which the command must rewrite from scratch when it runs.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "Usage: $0 <done_marker> <command> [args...]" >&2
    exit 1
fi
marker=$1
shift
if [ -f "${marker}" ]; then
    echo "run_once.sh: skip, finished by an earlier run (${marker} exists)"
    exit 0
fi
"$@"
mkdir -p "$(dirname "${marker}")"
touch "${marker}"
