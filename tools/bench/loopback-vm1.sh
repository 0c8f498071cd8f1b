# One VM (the generated vm1.sh of the loopback run sources bench.env, then
# this): perftest to its own address in the bench's first run, then the C
# rnbd client mapping a brd ramdisk through its own rxe address and the
# fio jobs over it (main phase only).
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"
. "$RNBD_REPO/tools/bench/lib.sh"
bench_guest_setup
bench_record_env

if [[ ${BENCH_PERFTEST:-0} == 1 ]]; then
    perftest_server write_lat "${perftest_lat_args[@]}"
    perftest_client write_lat "$RNBD_VM1_IP" "${perftest_lat_args[@]}"
    wait
    perftest_server write_bw "${perftest_bw_args[@]}"
    perftest_client write_bw "$RNBD_VM1_IP" "${perftest_bw_args[@]}"
    wait
fi

bench_brd_load
load_upstream_module rnbd_server
mkdir -p "$BENCH_OUT/main"
cat /sys/module/rtrs_server/parameters/always_invalidate > "$BENCH_OUT/main/always_invalidate"
load_upstream_module rnbd_client
start=$(now)
dev=$(rnbd_map "sessname=bench path=ip:$RNBD_VM1_IP device_path=/dev/ram0")
elapsed "$start" > "$BENCH_OUT/main/map.seconds"
jobs_run=0
for name in $BENCH_JOBS; do
    bench_fio main "/dev/$dev" "$name" -
    jobs_run=$((jobs_run + 1))
done
start=$(now)
rnbd_unmap "$dev"
elapsed "$start" > "$BENCH_OUT/main/unmap.seconds"
unload_upstream_module rnbd_client
unload_upstream_module rnbd_server
unload_module brd
summary "round $BENCH_ROUND, loopback-1vm (C modules): $jobs_run fio jobs of ${BENCH_RUNTIME}s done"
