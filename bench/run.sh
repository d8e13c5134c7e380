#!/usr/bin/env bash
# Builds skiff and the benchmark in release mode, runs the benchmark against a
# fresh `skiff server` on loopback, and prints the report. The report is also
# kept in bench/results/apiserver-<date>.txt. Extra arguments go to
# skiff-bench (e.g. `bench/run.sh --clients 16`; `--help` lists them).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p skiff -p skiff-bench

# Honour CARGO_TARGET_DIR, as cargo does.
target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p bench/results
report="bench/results/apiserver-$(date +%Y-%m-%d).txt"
# A failed run leaves no half-written report behind.
trap 'rm -f "$report.tmp"' EXIT

# The benchmark starts and stops the server itself (by pid) and removes its
# temporary data directory; progress goes to stderr, the report to stdout.
"$target_dir/release/skiff-bench" --skiff "$target_dir/release/skiff" "$@" | tee "$report.tmp"
mv "$report.tmp" "$report"
echo
echo "report written to $report"
