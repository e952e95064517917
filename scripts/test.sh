#!/usr/bin/env bash
# README command 2: build and run the whole test suite; non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
# Multi-rank tests fork several processes each; two at a time suit 2 cores.
ctest --test-dir build --output-on-failure -j2 --timeout 900 "$@"
