# One VM (the generated vm1.sh of the loopback run sources bench.env, then
# this): perftest to its own address in the bench's first run, then the C
# rnbd client mapping a brd ramdisk through its own rxe address and the
# fio jobs over it (main phase only).
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"
. "$RNBD_REPO/tools/bench/lib.sh"
bench_check_jobs
bench_record_env
# Deep transmit and backlog queues, as the client acceptance tests have:
# with the default ones, QD32 writes on a loaded host lost bursts of rxe
# packets until a QP gave up (tests/lib/rnbd.sh).
rnbd_deep_net_queues

if [[ ${BENCH_PERFTEST:-0} == 1 ]]; then
    perftest_server write_lat "${perftest_lat_args[@]}"
    perftest_client write_lat "$RNBD_VM1_IP" "${perftest_lat_args[@]}"
    wait
    perftest_server write_bw "${perftest_bw_args[@]}"
    perftest_client write_bw "$RNBD_VM1_IP" "${perftest_bw_args[@]}"
    wait
fi

load_module brd rd_nr=1 rd_size=262144
dd if=/dev/zero of=/dev/ram0 bs=1M count=256 oflag=direct status=none || fail "fill /dev/ram0"
load_module rnbd_server
mkdir -p "$BENCH_OUT/main"
cat /sys/module/rtrs_server/parameters/always_invalidate > "$BENCH_OUT/main/always_invalidate"
load_module rnbd_client
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
unload_module rnbd_client
unload_module rnbd_server
unload_module brd
summary "round $BENCH_ROUND, loopback-1vm (C modules): $jobs_run fio jobs of ${BENCH_RUNTIME}s done"
