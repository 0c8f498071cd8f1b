# Client VM of a cross-2vm bench run: perftest clients in the bench's first
# run only, then the rnbd_client under test, and per phase: map, the fio
# jobs (the IO of each between the server's CPU samples), unmap.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"
. "$RNBD_REPO/tools/bench/lib.sh"
bench_guest_setup

if [[ ${BENCH_PERFTEST:-0} == 1 ]]; then
    wait_for lat-server-ready
    perftest_client write_lat "$RNBD_VM1_IP" "${perftest_lat_args[@]}"
    wait_for bw-server-ready
    perftest_client write_bw "$RNBD_VM1_IP" "${perftest_bw_args[@]}"
fi

if [[ $BENCH_PROFILE == 1 ]]; then
    perf --version > "$BENCH_OUT/perf-version.txt" 2>&1 || fail "no perf in the guest (the host's /usr/bin/perf, package linux-perf)"
fi
rnbd_client_load
jobs_run=0
for phase in $(bench_phases); do
    mkdir -p "$BENCH_OUT/$phase"
    wait_for "$phase-server-ready" 600
    wait_reachable "$RNBD_VM1_IP"
    start=$(now)
    dev=$(rnbd_map "sessname=bench path=ip:$RNBD_VM1_IP device_path=/dev/ram0")
    elapsed "$start" > "$BENCH_OUT/$phase/map.seconds"
    for name in $(bench_phase_jobs "$phase"); do
        # Its hooks hand over to the server's CPU sample (phase.name-*).
        bench_fio "$phase" "/dev/$dev" "$name"
        jobs_run=$((jobs_run + 1))
    done
    start=$(now)
    rnbd_unmap "$dev"
    elapsed "$start" > "$BENCH_OUT/$phase/unmap.seconds"
    signal "$phase-client-done"
done
rnbd_client_unload
summary "round $BENCH_ROUND, $BENCH_PAIR (client $CLIENT_IMPL, server $SERVER_IMPL): $jobs_run fio jobs of ${BENCH_RUNTIME}s done"
