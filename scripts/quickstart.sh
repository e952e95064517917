#!/usr/bin/env bash
# README command 1: install what is needed, build, and run the main job on its
# embedded default: loom-train, a small GPT trained data-parallel on 2 ranks
# over Loom, on the built-in synthetic corpus (300 steps, under a minute here).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
echo
echo "== loom-train: GPT on the synthetic corpus, 2 ranks (forked), data-parallel over Loom =="
build/bin/loom-train --ranks 2 "$@"
