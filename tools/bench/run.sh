#!/usr/bin/env bash
# make bench: perftest and fio over rxe in the one-VM loopback setup and
# across two VMs, all in one run, then JSON and a markdown table.
#   tools/bench/run.sh [vmrun options, e.g. --net bridge]
# RNBD_BENCH_RUNTIME sets the seconds per fio job (default 20).
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
logs=$RNBD_REPO/logs/bench-$stamp
env_args=()
[[ -n ${RNBD_BENCH_RUNTIME:-} ]] && env_args=(--env "RNBD_BENCH_RUNTIME=$RNBD_BENCH_RUNTIME")
"$RNBD_REPO/tools/vmrun.sh" --logs "$logs" "${env_args[@]}" "$@" \
    "$RNBD_REPO/tools/bench/scenarios/loopback-1vm" \
    "$RNBD_REPO/tools/bench/scenarios/cross-2vm"

net=stream
for ((i = 1; i <= $#; i++)); do [[ ${!i} == --net ]] && { j=$((i + 1)); net=${!j}; }; done
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
"$RNBD_REPO/target/release/benchreport" "$logs" "$logs/bench.json" "$logs/bench.md" \
    --title "C rnbd_client / C rnbd_server, $(date -u +%Y-%m-%d)" \
    --modules "C/C" \
    --note "host: $(nproc) cores ($cpu), $(free -g | awk '/^Mem:/ {print $2}') GiB, $(. /etc/os-release; echo "$PRETTY_NAME")" \
    --note "guests: Linux $(cat "$RNBD_KERNEL_OUT/release") ($RNBD_VARIANT config), $(qemu-system-x86_64 --version | head -1 | sed 's/ (.*//'), TCG multi-threaded, 1.5 GiB per VM; 2 vCPUs in loopback-1vm, 1 vCPU per VM in cross-2vm" \
    --note "loopback-1vm: one VM, QEMU user network, client maps its own rxe address; cross-2vm: two VMs over a QEMU '$net' netdev (stream = unix socket)" \
    --note "backing device: brd 256 MiB; fio libaio direct, ${RNBD_BENCH_RUNTIME:-20} s per job after 2 s ramp; CPU = busy jiffies of the guest (all vCPUs) during the job; in loopback-1vm the client column is client and server together"
echo "bench: results in $logs/bench.json and $logs/bench.md"
