#!/usr/bin/env bash
# README command 1: install what is needed, build, and run the main job on its
# embedded default (loom-perf all-reduce, 4 ranks, 8 B to 64 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
echo
echo "== loom-perf: all-reduce on 4 ranks (forked), 8 B to 64 MiB =="
build/bin/loom-perf --ranks 4 -b 8 -e 64M -f 2 "$@"
