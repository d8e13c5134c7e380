#!/usr/bin/env bash
# Builds skiff and the benchmark in release mode, runs one or both workloads,
# each against its own fresh `skiff server` on loopback, and prints the
# reports. Each report is also kept in bench/results/<workload>-<date>.txt.
#
#   bench/run.sh                         # both workloads (same as `all`)
#   bench/run.sh apiserver               # the API server alone
#   bench/run.sh controllers             # the 1,000-replica Deployment
#   bench/run.sh controllers --replicas 2000 --nodes 20
#
# Flags after a single workload go to `skiff-bench <workload>` (`--help` lists
# them); `all` takes none, since the two workloads have different flags.
set -euo pipefail
cd "$(dirname "$0")/.."

workload="${1:-all}"
case "$workload" in
  apiserver | controllers | all) [ $# -gt 0 ] && shift ;;
  *)
    echo "usage: bench/run.sh [apiserver|controllers|all] [skiff-bench flags...]" >&2
    exit 2
    ;;
esac
if [ "$workload" = all ] && [ $# -gt 0 ]; then
  echo "bench/run.sh: flags go to one workload, e.g. bench/run.sh apiserver $*" >&2
  exit 2
fi

cargo build --release -p skiff -p skiff-bench

# Honour CARGO_TARGET_DIR, as cargo does.
target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p bench/results
# A failed run leaves no half-written report behind.
trap 'rm -f bench/results/*.txt.tmp' EXIT

# The benchmark starts and stops the server itself (by pid) and removes its
# temporary data directory; progress goes to stderr, the report to stdout.
run_workload() {
  local name="$1"
  shift
  local report
  report="bench/results/$name-$(date +%Y-%m-%d).txt"
  "$target_dir/release/skiff-bench" "$name" --skiff "$target_dir/release/skiff" "$@" | tee "$report.tmp"
  mv "$report.tmp" "$report"
  echo
  echo "report written to $report"
}

if [ "$workload" = all ]; then
  run_workload apiserver
  echo
  run_workload controllers
else
  run_workload "$workload" "$@"
fi
