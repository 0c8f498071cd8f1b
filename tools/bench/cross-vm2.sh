# Client VM of a cross-2vm bench pair: perftest clients in the first pair
# only, then the rnbd_client under test and the fio jobs.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"
. "$RNBD_REPO/tools/bench/lib.sh"

if [[ ${BENCH_PERFTEST:-0} == 1 ]]; then
    wait_for lat-server-ready
    perftest_client write_lat "$RNBD_VM1_IP" "${perftest_lat_args[@]}"
    wait_for bw-server-ready
    perftest_client write_bw "$RNBD_VM1_IP" "${perftest_bw_args[@]}"
fi

rnbd_client_load
wait_for server-ready
wait_reachable "$RNBD_VM1_IP"
dev=$(rnbd_map "sessname=bench path=ip:$RNBD_VM1_IP device_path=/dev/ram0")
for job in "${bench_jobs[@]}"; do
    name=${job%%:*}
    signal "$name-begin"
    wait_for "$name-sampled"
    # shellcheck disable=SC2086
    bench_fio "$BENCH_SETUP" "/dev/$dev" "$name" ${job#*:}
    signal "$name-end"
done
rnbd_unmap "$dev"
rnbd_client_unload
signal client-done
summary "$BENCH_SETUP (client $CLIENT_IMPL, server $SERVER_IMPL): ${#bench_jobs[@]} fio jobs of ${BENCH_RUNTIME}s done"
