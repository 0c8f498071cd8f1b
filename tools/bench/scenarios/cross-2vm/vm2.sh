# Client VM: perftest clients, then the C rnbd_client and the fio jobs.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"
. "$RNBD_REPO/tools/bench/lib.sh"

wait_for lat-server-ready
perftest_client write_lat "$RNBD_VM1_IP" "${perftest_lat_args[@]}"
wait_for bw-server-ready
perftest_client write_bw "$RNBD_VM1_IP" "${perftest_bw_args[@]}"

load_module rnbd_client
wait_for server-ready
dev=$(rnbd_map "sessname=bench path=ip:$RNBD_VM1_IP device_path=/dev/ram0")
for job in "${bench_jobs[@]}"; do
    name=${job%%:*}
    signal "$name-begin"
    wait_for "$name-sampled"
    # shellcheck disable=SC2086
    bench_fio cross-2vm "/dev/$dev" "$name" ${job#*:}
    signal "$name-end"
done
rnbd_unmap "$dev"
unload_module rnbd_client
signal client-done
summary "cross-2vm: perftest and ${#bench_jobs[@]} fio jobs of ${BENCH_RUNTIME}s done"
