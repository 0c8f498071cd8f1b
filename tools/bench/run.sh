#!/usr/bin/env bash
# make bench: perftest over rxe, then the same fio jobs for each pair of
# client and server implementations across two VMs, all in one run, then
# JSON and markdown tables (a column per pair).
#   tools/bench/run.sh [vmrun options, e.g. --net bridge]
# RNBD_BENCH_RUNTIME sets the seconds per fio job (default 20).
# RNBD_BENCH_PAIRS chooses the pairs (client-server, default
# "c-c rust-rust c-rust rust-c"); a pair whose Rust module is not built
# is skipped and shown as "not run".
# RNBD_BENCH_LOOPBACK=1 adds the one-VM loopback setup (C modules).
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
logs=$RNBD_REPO/logs/bench-$stamp
extmod=$RNBD_KERNEL_OUT/${RNBD_EXTMOD_NAME:-extmod}
name() { [[ $1 == c ]] && echo C || echo Rust; }
scenarios=()
report_args=()
for pair in ${RNBD_BENCH_PAIRS:-c-c rust-rust c-rust rust-c}; do
    client=${pair%-*} server=${pair#*-}
    label="$(name "$client") client / $(name "$server") server"
    missing=
    [[ $client == rust && ! -f $extmod/rnbd/client/rnbd_client.ko ]] && missing="no rnbd/client/rnbd_client.ko"
    [[ $server == rust && ! -f $extmod/rnbd/server/rnbd_server.ko ]] && missing="no rnbd/server/rnbd_server.ko"
    if [[ -n $missing ]]; then
        rnbd_log "pair $pair ($label): not run ($missing in $extmod)"
        report_args+=(--pair "cross-2vm-$pair=$label" --not-run "cross-2vm-$pair=$missing")
        continue
    fi
    scenarios+=("$RNBD_REPO/tools/bench/scenarios/cross-2vm-$pair")
    report_args+=(--pair "cross-2vm-$pair=$label")
done
[[ ${RNBD_BENCH_LOOPBACK:-0} == 1 ]] && scenarios+=("$RNBD_REPO/tools/bench/scenarios/loopback-1vm")
((${#scenarios[@]})) || rnbd_die "no pair to run"

env_args=()
[[ -n ${RNBD_BENCH_RUNTIME:-} ]] && env_args=(--env "RNBD_BENCH_RUNTIME=$RNBD_BENCH_RUNTIME")
"$RNBD_REPO/tools/vmrun.sh" --logs "$logs" "${env_args[@]}" "$@" "${scenarios[@]}"

net=stream
for ((i = 1; i <= $#; i++)); do [[ ${!i} == --net ]] && { j=$((i + 1)); net=${!j}; }; done
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
"$RNBD_REPO/target/release/benchreport" "$logs" "$logs/bench.json" "$logs/bench.md" \
    --title "rnbd_client / rnbd_server pairs, C and Rust, $(date -u +%Y-%m-%d)" \
    "${report_args[@]}" \
    --note "host: $(nproc) cores ($cpu), $(free -g | awk '/^Mem:/ {print $2}') GiB, $(. /etc/os-release; echo "$PRETTY_NAME")" \
    --note "guests: Linux $(cat "$RNBD_KERNEL_OUT/release") ($RNBD_VARIANT config), $(qemu-system-x86_64 --version | head -1 | sed 's/ (.*//'), TCG multi-threaded, 1.5 GiB per VM, 1 vCPU per VM in cross-2vm (2 vCPUs in loopback-1vm)" \
    --note "cross-2vm-<client>-<server>: server in VM 1, client in VM 2, over a QEMU '$net' netdev (stream = unix socket); the pairs run one after the other in one vmrun; perftest once, in the first pair" \
    --note "backing device: brd 256 MiB; fio libaio direct, ${RNBD_BENCH_RUNTIME:-20} s per job after 2 s ramp; CPU = busy jiffies of the guest (all vCPUs) during the job"
echo "bench: results in $logs/bench.json and $logs/bench.md"
