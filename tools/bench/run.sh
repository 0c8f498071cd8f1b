#!/usr/bin/env bash
# make bench: every client/server pair (C/C, Rust/Rust, C/Rust, Rust/C)
# across two VMs, in R interleaved rounds in one vmrun, the pair order
# rotated each round; then bench.json, bench.md and plots. Method and
# knobs: Documentation/benchmarks/README.md.
#   tools/bench/run.sh [vmrun options, e.g. --net bridge]
# RNBD_BENCH_ROUNDS    rounds (default 3)
# RNBD_BENCH_RUNTIME   seconds per fio job (default 10), after
# RNBD_BENCH_RAMP      seconds of ramp (default 2)
# RNBD_BENCH_PAIRS     the pairs, client-server (default "c-c rust-rust
#                      c-rust rust-c"; a pair named twice runs once); a pair
#                      whose Rust module is not built is shown "not run"
# RNBD_BENCH_JOBS      the fio jobs of the main phase (names in lib.sh)
# RNBD_BENCH_AI=0|1    without / with the always_invalidate=N phase
#                      (default: with it in the full bench only)
# RNBD_BENCH_CLIENT_CPUS  vCPUs of the client VM (default 2; server: 1)
# RNBD_BENCH_PERFTEST=0   no perftest in the first run
# RNBD_BENCH_LOOPBACK=1   add the one-VM loopback setup (C modules) to
#                      every round
# RNBD_BENCH_QUICK=1   one round, randread-4k-qd32 and -qd1, no
#                      always_invalidate phase (development)
# RNBD_BENCH_PROFILE=1 one round of c-c and rust-c (the C and the Rust
#                      client against the C server), randread-4k-qd32
#                      under perf record in the client VM; profile.md
# RNBD_BENCH_PROFILE=server  one round of c-c and c-rust (the C client
#                      against the C and the Rust server), randread-4k-qd32
#                      under perf record in the server VM
#                      (<job>.server-profile/)
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"

all_jobs="randread-4k-qd1 seqread-128k seqwrite-128k mixed-70-30 randread-4k-qd32-nj2 randread-4k-qd32-nj4 randread-4k-qd32 randwrite-4k-qd32"
ai_jobs="randread-4k-qd32 randwrite-4k-qd32"
pairs="c-c rust-rust c-rust rust-c"
rounds=${RNBD_BENCH_ROUNDS:-3}
perftest=${RNBD_BENCH_PERFTEST:-1}
profile=0
profile_server=0
mode=full
if [[ ${RNBD_BENCH_PROFILE:-0} == server ]]; then
    mode=profile-server profile_server=1 rounds=1 pairs="c-c c-rust" all_jobs=randread-4k-qd32 ai_jobs= perftest=0
elif [[ ${RNBD_BENCH_PROFILE:-0} == 1 ]]; then
    mode=profile profile=1 rounds=1 pairs="c-c rust-c" all_jobs=randread-4k-qd32 ai_jobs= perftest=0
elif [[ ${RNBD_BENCH_QUICK:-0} == 1 ]]; then
    mode=quick rounds=1 all_jobs="randread-4k-qd32 randread-4k-qd1" ai_jobs=
fi
jobs=${RNBD_BENCH_JOBS:-$all_jobs}
# RNBD_BENCH_AI: the always_invalidate=N phase on (1) or off (0), default
# on in the full bench only.
case ${RNBD_BENCH_AI:-} in
    0) ai_jobs= ;;
    1) ai_jobs="randread-4k-qd32 randwrite-4k-qd32" ;;
esac
runtime=${RNBD_BENCH_RUNTIME:-10}
ramp=${RNBD_BENCH_RAMP:-2}
client_cpus=${RNBD_BENCH_CLIENT_CPUS:-2}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || rnbd_die "RNBD_BENCH_ROUNDS='$rounds': want a positive number"
[[ $runtime =~ ^[1-9][0-9]*$ ]] || rnbd_die "RNBD_BENCH_RUNTIME='$runtime': want a positive number"
[[ $ramp =~ ^[0-9]+$ ]] || rnbd_die "RNBD_BENCH_RAMP='$ramp': want a number"
[[ $client_cpus =~ ^[1-8]$ ]] || rnbd_die "RNBD_BENCH_CLIENT_CPUS='$client_cpus': want 1..8"
for job in $jobs $ai_jobs; do
    grep -q "^ *\[$job\]=" "$RNBD_REPO/tools/bench/lib.sh" || rnbd_die "unknown job '$job' (see bench_job_args in tools/bench/lib.sh)"
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
logs=$RNBD_REPO/logs/bench-$stamp
mkdir -p "$logs"
ln -sfn "bench-$stamp" "$RNBD_REPO/logs/bench-latest"
extmod=$RNBD_KERNEL_OUT/${RNBD_EXTMOD_NAME:-extmod}
name() { [[ $1 == c ]] && echo C || echo Rust; }

# The pairs that can run; the others are reported "not run".
run_pairs=()
report_args=()
declare -A seen=()
for pair in ${RNBD_BENCH_PAIRS:-$pairs}; do
    [[ $pair =~ ^(c|rust)-(c|rust)$ ]] || rnbd_die "RNBD_BENCH_PAIRS: '$pair' is not <c|rust>-<c|rust>"
    if [[ -n ${seen[$pair]:-} ]]; then
        rnbd_log "pair $pair named twice: run once per round"
        continue
    fi
    seen[$pair]=1
    client=${pair%-*} server=${pair#*-}
    label="$(name "$client") client / $(name "$server") server"
    missing=
    [[ $client == rust && ! -f $extmod/rnbd/client/rnbd_client.ko ]] && missing="no rnbd/client/rnbd_client.ko"
    [[ $server == rust && ! -f $extmod/rnbd/server/rnbd_server.ko ]] && missing="no rnbd/server/rnbd_server.ko"
    report_args+=(--pair "$pair=$label")
    if [[ -n $missing ]]; then
        rnbd_log "pair $pair ($label): not run ($missing in $extmod)"
        report_args+=(--not-run "$pair=$missing")
        continue
    fi
    run_pairs+=("$pair")
done
if [[ ${RNBD_BENCH_LOOPBACK:-0} == 1 ]]; then
    run_pairs+=(loopback)
    report_args+=(--pair "loopback=C modules, one VM (loopback)")
fi
((${#run_pairs[@]})) || rnbd_die "no pair to run"

# One scenario per (round, pair), generated under the log directory:
# scenarios/r<round>-<setup>/{scenario.conf,bench.env,vm1.sh[,vm2.sh]}.
njobs=$(($(wc -w <<<"$jobs") + $(wc -w <<<"$ai_jobs")))
timeout=$((300 + njobs * (runtime + ramp + 30) + 120 * (profile + profile_server)))
scenarios=()
first=1
n=${#run_pairs[@]}
for ((round = 1; round <= rounds; round++)); do
    order=()
    for ((i = 0; i < n; i++)); do
        pair=${run_pairs[(i + round - 1) % n]}
        order+=("$pair")
        if [[ $pair == loopback ]]; then
            setup=loopback-1vm client=c server=c
        else
            setup=cross-2vm-$pair client=${pair%-*} server=${pair#*-}
        fi
        dir=$logs/scenarios/r$round-$setup
        mkdir -p "$dir"
        cat > "$dir/bench.env" <<EOF
BENCH_SETUP="$setup"
BENCH_ROUND="$round"
BENCH_POSITION="$((i + 1))"
BENCH_PAIR="$pair"
CLIENT_IMPL="$client"
SERVER_IMPL="$server"
BENCH_PERFTEST="$((first && perftest == 1))"
BENCH_JOBS="$jobs"
BENCH_AI_JOBS="$([[ $pair == loopback ]] || echo "$ai_jobs")"
BENCH_RUNTIME="$runtime"
BENCH_RAMP="$ramp"
BENCH_PROFILE="$profile"
BENCH_PROFILE_SERVER="$profile_server"
BENCH_CLIENT_CPUS="$client_cpus"
BENCH_MODE="$mode"
EOF
        if [[ $pair == loopback ]]; then
            printf 'description = bench round %s: one VM, C client to its own rxe address\ntimeout = %s\nmemory = 1536\nsmp = 2\n' \
                "$round" "$timeout" > "$dir/scenario.conf"
            printf '# generated by tools/bench/run.sh\n. "$RNBD_SCENARIO_DIR/bench.env"\n. "$RNBD_REPO/tools/bench/loopback-vm1.sh"\n' > "$dir/vm1.sh"
        else
            printf 'description = bench round %s: %s client in VM 2 (%s vCPUs), %s server in VM 1\ntimeout = %s\nmemory = 1536\nsmp = 1\nvm2.smp = %s\n' \
                "$round" "$(name "$client")" "$client_cpus" "$(name "$server")" "$timeout" "$client_cpus" > "$dir/scenario.conf"
            for vm in 1 2; do
                printf '# generated by tools/bench/run.sh\n. "$RNBD_SCENARIO_DIR/bench.env"\n. "$RNBD_REPO/tools/bench/cross-vm%s.sh"\n' "$vm" > "$dir/vm$vm.sh"
            done
        fi
        scenarios+=("$dir")
        first=0
    done
    rnbd_log "round $round: ${order[*]}"
done
rnbd_log "$mode bench: $rounds round(s) x ${#run_pairs[@]} pair(s), jobs: $jobs${ai_jobs:+; always_invalidate=N: $ai_jobs}; ${runtime}s + ${ramp}s ramp per job; logs in $logs"

rc=0
"$RNBD_REPO/tools/vmrun.sh" --logs "$logs" "$@" "${scenarios[@]}" || rc=$?

net=stream
for ((i = 1; i <= $#; i++)); do [[ ${!i} == --net ]] && { j=$((i + 1)); net=${!j}; }; done
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
title="rnbd_client / rnbd_server pairs, C and Rust, $(date -u +%Y-%m-%d)"
[[ $mode == full ]] || title="$title ($mode mode)"
"$RNBD_REPO/target/release/benchreport" "$logs" "$logs/bench.json" "$logs/bench.md" \
    --title "$title" \
    "${report_args[@]}" \
    --note "host: $(nproc) cores ($cpu), $(free -g | awk '/^Mem:/ {print $2}') GiB, $(. /etc/os-release; echo "$PRETTY_NAME")" \
    --note "guests: Linux $(cat "$RNBD_KERNEL_OUT/release") ($RNBD_VARIANT config), $(qemu-system-x86_64 --version | head -1 | sed 's/ (.*//'), TCG multi-threaded, 1.5 GiB per VM; cross-2vm: server VM 1 vCPU, client VM $client_cpus vCPUs" \
    --note "cross-2vm-<client>-<server>: server in VM 1, client in VM 2, over a QEMU '$net' netdev (stream = unix socket); $rounds round(s) in one vmrun, the pair order rotated by one each round, fresh VMs for every run; perftest once, in the first run" \
    --note "backing device: brd 256 MiB, filled before the jobs; fio libaio direct on /dev/rnbd0, ${runtime} s per job after ${ramp} s ramp; CPU = busy jiffies of the guest (all vCPUs) during the job's IO (fio exec_prerun/exec_postrun hooks) per GiB the device moved in that window" \
    --note "cells: median over rounds (min-max); ratios computed per round (the pairs of one round ran back to back), then median (min-max)" \
    || rc=$?
if [[ -f $logs/bench.json ]]; then
    "$RNBD_REPO/tools/bench/plot.sh" "$logs" || { rnbd_log "plots failed"; rc=1; }
fi
echo "bench: results in $logs/bench.json and $logs/bench.md$([[ $profile == 1 ]] && echo ", profile in $logs/profile.md")"
exit "$rc"
