# One VM: perftest to its own address, then the C rnbd client mapping a brd
# ramdisk through its own rxe address, fio jobs over it.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"
. "$RNBD_REPO/tools/bench/lib.sh"

perftest_server write_lat "${perftest_lat_args[@]}"
perftest_client write_lat "$RNBD_VM1_IP" "${perftest_lat_args[@]}"
wait
perftest_server write_bw "${perftest_bw_args[@]}"
perftest_client write_bw "$RNBD_VM1_IP" "${perftest_bw_args[@]}"
wait

load_module brd rd_nr=1 rd_size=262144
load_module rnbd_server
load_module rnbd_client
dev=$(rnbd_map "sessname=bench path=ip:$RNBD_VM1_IP device_path=/dev/ram0")
for job in "${bench_jobs[@]}"; do
    # shellcheck disable=SC2086
    bench_fio loopback-1vm "/dev/$dev" "${job%%:*}" ${job#*:}
done
rnbd_unmap "$dev"
unload_module rnbd_client
unload_module rnbd_server
unload_module brd
summary "loopback-1vm: perftest and ${#bench_jobs[@]} fio jobs of ${BENCH_RUNTIME}s done"
