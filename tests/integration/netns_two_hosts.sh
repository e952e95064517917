#!/usr/bin/env bash
# Two hosts on one machine: two network namespaces joined by a veth pair, two
# ranks in each. Every algorithm is forced in turn and loom-perf checks every
# element, once per network transport: TCP (LOOM_TRANSPORT=tcp: sockets to
# the other namespace, shared memory within: LOOM_TRANSPORT=auto) and, when the
# build has UCX, UCX (LOOM_TRANSPORT=ucx: UCX to every peer). Namespaces are removed on any exit.
# Exit 77 = skipped.
set -u
build=${1:?usage: netns_two_hosts.sh BUILD_DIR}
perf="$build/bin/loom-perf"
tag="lm$$"
nsA="${tag}a" nsB="${tag}b"
addrA=10.231.$(( $$ % 200 )).1 addrB=10.231.$(( $$ % 200 )).2

skip() { echo "SKIPPED: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
command -v ip >/dev/null || skip "ip (iproute2) is not installed"

cleanup() {
  ip netns pids "$nsA" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip netns pids "$nsB" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip netns del "$nsA" 2>/dev/null
  ip netns del "$nsB" 2>/dev/null
}
trap cleanup EXIT
ip netns add "$nsA" 2>/dev/null || skip "cannot create network namespaces here"
ip netns add "$nsB" || exit 1
ip link add "${tag}x" type veth peer name "${tag}y" || exit 1
ip link set "${tag}x" netns "$nsA" && ip link set "${tag}y" netns "$nsB" || exit 1
ip -n "$nsA" addr add "$addrA/24" dev "${tag}x" && ip -n "$nsB" addr add "$addrB/24" dev "${tag}y" || exit 1
for ns in "$nsA" "$nsB"; do
  ip -n "$ns" link set lo up
done
ip -n "$nsA" link set "${tag}x" up && ip -n "$nsB" link set "${tag}y" up || exit 1

failures=0
port=$(( 20000 + $$ % 20000 ))

# The transport pass under way: tcp or ucx (see the loop at the end).
mode=tcp
have_ucx=0
grep -q "^UCX_FOUND:INTERNAL=1" "$build/CMakeCache.txt" 2>/dev/null && have_ucx=1

# run LABEL EXPECT(ok|refused) LOOM_ALGO loom-perf-args...
run() {
  local label=$1 expect=$2 algo=$3
  shift 3
  port=$(( port + 1 ))
  local out
  out=$(mktemp -d)
  local pids=()
  for rank in 0 1 2 3; do
    local ns=$nsA dev="${tag}x"
    [ "$rank" -ge 2 ] && ns=$nsB dev="${tag}y"
    # auto: TCP across namespaces, shared memory within.
    local transport=(LOOM_TRANSPORT=auto)
    # UCX's tcp is pinned to the veth device: both namespaces' loopbacks are
    # 127.0.0.1, which must not look like a route to the other namespace.
    [ "$mode" = ucx ] && transport=(LOOM_TRANSPORT=ucx UCX_NET_DEVICES="$dev")
    ip netns exec "$ns" env RANK=$rank WORLD_SIZE=4 MASTER_ADDR="$addrA" MASTER_PORT=$port \
      LOOM_SECRET="netns-test-$$" LOOM_TIMEOUT_S=30 LOOM_ALGO="$algo" LOOM_DEBUG=INFO LOOM_DEBUG_SUBSYS=INIT \
      "${transport[@]}" timeout 120 "$perf" "$@" >"$out/$rank.out" 2>"$out/$rank.err" &
    pids+=($!)
  done
  local codes=""
  for pid in "${pids[@]}"; do
    wait "$pid"
    codes="$codes $?"
  done
  local ok=1
  if [ "$expect" = ok ]; then
    [ "$codes" = " 0 0 0 0" ] || ok=0
    # Rank 0 prints the rows; every #wrong column must be 0.
    if ! awk '/^ +[0-9]/ { rows++; if ($9 != 0 || $13 != 0) bad++ } END { exit !(rows > 0 && bad == 0) }' "$out/0.out"; then
      ok=0
    fi
    # auto: the other namespace over TCP, its own over shared memory; ucx:
    # UCX to the three others, shared memory to itself.
    local want="2 peer(s) over TCP, 0 over UCX, 2 over shared memory"
    [ "$mode" = ucx ] && want="0 peer(s) over TCP, 3 over UCX, 1 over shared memory"
    for rank in 0 1 2 3; do
      grep -q "$want" "$out/$rank.err" || ok=0
    done
  else
    [ "$codes" != " 0 0 0 0" ] || ok=0
    grep -q "cannot run" "$out"/*.err || ok=0
  fi
  if [ $ok -eq 1 ]; then
    echo "PASS [$mode] $label (exit codes:$codes)"
  else
    echo "FAIL [$mode] $label (exit codes:$codes)"
    tail -n 5 "$out"/*.out "$out"/*.err
    failures=$(( failures + 1 ))
  fi
  rm -rf "$out"
}

# Every check below, once per transport.
all_checks() {
  sizes=(-b 8 -e 256K -f 8 -n 2 -w 1 -c 1)
  for coll in allreduce broadcast reduce allgather reducescatter alltoall; do
    run "$coll default" ok "" --coll "$coll" "${sizes[@]}" -d float -o sum
  done
  run "allreduce all types and ops" ok "" --coll allreduce -b 8 -e 64K -f 32 -n 1 -w 1 -c 1 -d all -o all

  # Every registered algorithm, forced, for the collectives it implements.
  for spec in "allreduce:ring" "allgather:ring" "reducescatter:ring" "broadcast:ring" "reduce:ring" \
              "allreduce:tree" "broadcast:tree" "reduce:tree" \
              "allreduce:hier" "allgather:hier" "reducescatter:hier" "broadcast:hier" "reduce:hier" \
              "allreduce:rhd" "alltoall:direct" "alltoall:pairwise" "alltoall:hier"; do
    coll=${spec%%:*}
    name=${spec#*:}
    if "$perf" --ranks 1 -b 8 -e 8 -n 1 -w 1 --coll "$coll" -a "$spec" 2>&1 | grep -q "unknown algorithm"; then
      echo "SKIP $spec (not registered in this build)"
      continue
    fi
    run "$spec" ok "$spec" --coll "$coll" "${sizes[@]}" -d float -o sum
  done
  # Algorithms that need every rank on one host are refused across hosts, with a reason.
  for spec in "allreduce:oneshot" "allreduce:twoshot"; do
    if ! "$perf" --ranks 1 -b 8 -e 8 -n 1 -w 1 -a "$spec" 2>&1 | grep -q "unknown algorithm"; then
      run "$spec refused across hosts" refused "$spec" "${sizes[@]}"
    fi
  done
}

modes=(tcp)
if [ $have_ucx -eq 1 ]; then
  modes+=(ucx)
else
  echo "SKIP ucx pass (this build has no UCX)"
fi
for mode in "${modes[@]}"; do
  all_checks
done

echo "netns two hosts: $failures failure(s)"
[ $failures -eq 0 ]
