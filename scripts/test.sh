#!/usr/bin/env bash
# Sets up and runs every test: installs the system packages the tests use, then
# runs the whole workspace's unit and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests drive: curl for raw API requests; iproute2 and
# util-linux for test hosts (network namespaces); nftables for the datapath;
# crun, the OCI runtime containers run through; busybox-static for the tiny root
# filesystems of runtime tests and the demo image.
packages=(curl iproute2 util-linux nftables crun busybox-static)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v kubectl >/dev/null 2>&1; then
  echo "kubectl is required (v1.32 or newer) and is not on PATH" >&2
  exit 1
fi

cargo test --workspace --no-fail-fast 2>&1
