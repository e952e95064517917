#!/usr/bin/env bash
# A small /dev/shm, as Docker gives by default (64 MiB there; 256 KiB here so
# one connection does not fit): loom-perf on 2 ranks must fail on every rank
# with a message naming the bytes it needed and the fix, within the timeout,
# not crash or hang. The tmpfs is mounted in a private mount namespace, so the
# machine's /dev/shm is untouched. Exit 77 = skipped.
set -u
build=${1:?usage: small_dev_shm.sh BUILD_DIR}
perf="$build/bin/loom-perf"

skip() { echo "SKIPPED: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "mounting a tmpfs needs root"
command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
unshare -m true 2>/dev/null || skip "cannot create a mount namespace here"

out=$(LOOM_TIMEOUT_S=30 timeout 120 unshare -m sh -c \
  "mount -t tmpfs -o size=256k tmpfs /dev/shm && exec '$perf' --ranks 2 -b 1M -e 1M -n 1 -w 0" 2>&1)
code=$?
echo "$out" | tail -n 4
fail() { echo "FAILED: $*"; exit 1; }
[ "$code" -ne 0 ] || fail "loom-perf succeeded with a 256 KiB /dev/shm"
[ "$code" -ne 124 ] || fail "loom-perf hung (killed by timeout)"
for r in 0 1; do
  echo "$out" | grep -q "loom-perf: rank $r: .*cannot reserve [0-9]* bytes in /dev/shm" ||
    fail "rank $r did not report the bytes it could not reserve"
done
echo "$out" | grep -q -- "--shm-size" || fail "the message does not give the fix (docker run --shm-size)"
echo "PASSED"
