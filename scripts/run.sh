#!/usr/bin/env bash
# Sets up and runs the main job: builds skiff and starts a single-node cluster in
# ./.skiff, printing how to point kubectl at it. Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p skiff
data_dir="${SKIFF_DATA_DIR:-$PWD/.skiff}"
mkdir -p "$data_dir"
echo "starting skiff server (data in $data_dir)"
echo "in another shell:  export KUBECONFIG=$data_dir/kubeconfig.yaml; kubectl get namespaces"
exec ./target/release/skiff server --data-dir "$data_dir" --port "${SKIFF_PORT:-6443}"
