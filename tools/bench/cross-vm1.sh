# Server VM of a cross-2vm bench run (the generated vm1.sh sources
# $RNBD_SCENARIO_DIR/bench.env, then this): perftest servers in the
# bench's first run only, then for each phase (tools/bench/lib.sh) the
# rnbd_server under test exporting brd, loaded with the phase's
# always_invalidate, and a CPU sample around each of the client's fio jobs.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"
. "$RNBD_REPO/tools/bench/lib.sh"
bench_guest_setup
bench_record_env

if [[ ${BENCH_PERFTEST:-0} == 1 ]]; then
    perftest_server write_lat "${perftest_lat_args[@]}"
    signal lat-server-ready
    wait
    perftest_server write_bw "${perftest_bw_args[@]}"
    signal bw-server-ready
    wait
fi

bench_brd_load
for phase in $(bench_phases); do
    mkdir -p "$BENCH_OUT/$phase"
    ai=$(bench_phase_ai "$phase")
    bench_server_load "$ai"
    seen=$(bench_server_ai)
    [[ -z $ai || $seen == "$ai" ]] || fail "always_invalidate: asked for $ai, the server has $seen"
    echo "$seen" > "$BENCH_OUT/$phase/always_invalidate"
    log "$phase: $SERVER_IMPL server, always_invalidate=$seen"
    signal "$phase-server-ready"
    for name in $(bench_phase_jobs "$phase"); do
        wait_for "$phase.$name-begin" 600
        if [[ ${BENCH_PROFILE_SERVER:-0} == 1 ]]; then
            # perf in this VM over the job's IO window (started before the
            # sample, stopped after it: its own start-up is not in it).
            pdir=$BENCH_OUT/$phase/$name.server-profile
            mkdir -p "$pdir"
            pdata=$(mktemp /tmp/perf.XXXXXX)
            bench_perf_record "$pdata" "$pdir" sleep 900 &
            perf_pid=$!
            sleep 1
        fi
        before=$(busy_jiffies)
        signal "$phase.$name-sampled"
        wait_for "$phase.$name-end" 600
        echo "$(($(busy_jiffies) - before))" > "$BENCH_OUT/$phase/$name.cpu-server"
        if [[ ${BENCH_PROFILE_SERVER:-0} == 1 ]]; then
            # perf runs in a subshell (the function): stop perf itself.
            pkill -INT -P "$perf_pid" perf || fail "perf record in the server VM is gone"
            wait "$perf_pid" || true
            bench_perf_report "$pdata" "$pdir"
        fi
    done
    wait_for "$phase-client-done" 600
    wait_until 30 test ! -e /sys/class/rtrs-server/bench
    rnbd_server_unload
done
unload_module brd
seen=
for phase in $(bench_phases); do seen+=" $phase=$(cat "$BENCH_OUT/$phase/always_invalidate")"; done
summary "server $SERVER_IMPL, always_invalidate:$seen"
