#!/usr/bin/env bash
# Loom against Open MPI across two "hosts" on one machine: two network
# namespaces joined by a veth pair, two ranks in each, all four started by one
# mpirun, and loom-perf --compare mpi printing both libraries' busbw and the
# ratio per size. Each namespace also gets its own hostname (a UTS namespace),
# so Open MPI, like Loom, treats the two as separate hosts: shared memory
# inside one, TCP over the veth between them.
#
#   perf/netns_compare.sh BUILD_DIR tcp|ucx [loom-perf args...]
#
# tcp: LOOM_TRANSPORT=auto (TCP between the namespaces, shared memory within);
# ucx: LOOM_TRANSPORT=ucx (UCX to every peer, pinned to the veth). Open MPI
# uses its tcp BTL on the veth either way. Needs root, iproute2, unshare and
# mpirun; namespaces are removed on exit.
set -u
build=${1:?usage: netns_compare.sh BUILD_DIR tcp|ucx [loom-perf args]}
mode=${2:?usage: netns_compare.sh BUILD_DIR tcp|ucx [loom-perf args]}
shift 2
perf=$(realpath "$build/bin/loom-perf")
tag="lc$$"
nsA="${tag}a" nsB="${tag}b" dev="${tag}v"
net=10.232.$(( $$ % 200 ))
addrA=$net.1 addrB=$net.2
work=$(mktemp -d)

cleanup() {
  ip netns pids "$nsA" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip netns pids "$nsB" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip netns del "$nsA" 2>/dev/null
  ip netns del "$nsB" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$nsA" && ip netns add "$nsB" || exit 1
# Both ends get the same name (renamed once apart), so one UCX_NET_DEVICES fits every rank.
ip link add "${dev}" type veth peer name "${dev}y" || exit 1
ip link set "${dev}" netns "$nsA" && ip link set "${dev}y" netns "$nsB" || exit 1
ip -n "$nsB" link set "${dev}y" name "${dev}" || exit 1
ip -n "$nsA" addr add "$addrA/24" dev "$dev" && ip -n "$nsB" addr add "$addrB/24" dev "$dev" || exit 1
for ns in "$nsA" "$nsB"; do
  ip -n "$ns" link set lo up
  ip -n "$ns" link set "$dev" up
done

# mpirun starts the other host's daemon through this "remote shell": it enters
# namespace B with a hostname of its own and runs the command line there.
cat >"$work/agent.sh" <<AGENT
#!/bin/sh
host=\$1
shift
exec ip netns exec $nsB unshare -u sh -c "hostname loom-host-b; \$*"
AGENT
chmod +x "$work/agent.sh"
printf '%s slots=2\n%s slots=2\n' "$addrA" "$addrB" >"$work/hosts"

transport=(-x LOOM_TRANSPORT=auto)
[ "$mode" = ucx ] && transport=(-x LOOM_TRANSPORT=ucx -x UCX_NET_DEVICES="$dev")
# The caller's UCX_* settings reach every rank too (UCX_TLS, UCX_RNDV_THRESH, ...).
for var in $(env | grep -o '^UCX_[A-Z_]*'); do transport+=(-x "$var"); done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ip netns exec "$nsA" unshare -u sh -c 'hostname loom-host-a; exec "$@"' sh \
  timeout 900 mpirun --hostfile "$work/hosts" -np 4 --map-by slot --bind-to none \
  --mca plm_rsh_agent "$work/agent.sh" \
  --mca btl self,vader,tcp --mca btl_tcp_if_include "$net.0/24" --mca oob_tcp_if_include "$net.0/24" \
  --mca btl_vader_single_copy_mechanism none --mca mpi_yield_when_idle 1 \
  -x LOOM_TIMEOUT_S=120 "${transport[@]}" \
  "$perf" --compare mpi "$@"
