#!/usr/bin/env bash
# fio-hook.sh pre|post PREFIX FLAG DEVICE PROFILE: fio's exec_prerun and
# exec_postrun of a bench job (tools/bench/lib.sh, bench_fio). They run in
# the job's process once fio has started (its libraries loaded, the device
# open) and once the job's IO is over, so the window they bound is the
# job's IO (ramp included) without fio's start and exit.
#   pre:  signal FLAG-begin, wait for the server VM's CPU sample
#         (FLAG-sampled), then save this VM's counters as PREFIX.*.before
#   post: save them as PREFIX.*.after, signal FLAG-end
# (FLAG "-": no server VM to hand over to.)
# Counters: /proc/stat (busy jiffies, context switches) and DEVICE's block
# stat (bytes and requests in the window); with PROFILE=1 also
# /proc/interrupts and /proc/softirqs (into PREFIX.profile/). With
# --numjobs above 1 every clone runs the hooks: the first one of each kind
# does the work.
set -euo pipefail
what=$1 prefix=$2 flag=$3 dev=$4 profile=$5
mkdir "$prefix.hook-$what" 2>/dev/null || exit 0
# signal and wait_for of tests/lib/common.sh, without sourcing it (this
# runs twice per job, inside fio's time), polling faster.
flags=$RNBD_SHARED/flags
signal() { touch "$flags/$1"; }
wait_for() {
    local n=0 limit=$(($2 * ${RNBD_TIMEOUT_SCALE:-1} * 50))
    until [[ -e $flags/$1 ]]; do
        [[ ! -e $RNBD_SHARED/abort ]] || fail "aborted while waiting for $1"
        ((n++ < limit)) || fail "timed out waiting for $1"
        sleep 0.02
    done
}
fail() {
    echo "[vm$RNBD_VM] FAILED: fio-hook.sh $what $flag: $*" >&2
    exit 1
}
snap() {
    cat /proc/stat > "$prefix.stat.$1"
    cat "/sys/block/${dev##*/}/stat" > "$prefix.blockstat.$1"
    if [[ $profile == 1 ]]; then
        mkdir -p "$prefix.profile"
        cat /proc/interrupts > "$prefix.profile/interrupts.$1"
        cat /proc/softirqs > "$prefix.profile/softirqs.$1"
    fi
}
case $what in
    pre)
        if [[ $flag != - ]]; then
            signal "$flag-begin"
            wait_for "$flag-sampled" 600
        fi
        snap before
        ;;
    post)
        snap after
        [[ $flag == - ]] || signal "$flag-end"
        ;;
    *) fail "fio-hook.sh: pre or post, not '$what'" ;;
esac
