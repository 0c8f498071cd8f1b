# Server VM: perftest servers, then the C rnbd_server exporting brd, and a
# CPU sample around each of the client's fio jobs.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"
. "$RNBD_REPO/tools/bench/lib.sh"

perftest_server write_lat "${perftest_lat_args[@]}"
signal lat-server-ready
wait
perftest_server write_bw "${perftest_bw_args[@]}"
signal bw-server-ready
wait

load_module brd rd_nr=1 rd_size=262144
load_module rnbd_server
signal server-ready
for job in "${bench_jobs[@]}"; do
    name=${job%%:*}
    wait_for "$name-begin" 600
    before=$(busy_jiffies)
    signal "$name-sampled"
    wait_for "$name-end" 600
    echo "$(($(busy_jiffies) - before))" > "$BENCH_OUT/cross-2vm.$name.cpu-server"
done
wait_for client-done 600
unload_module rnbd_server
unload_module brd
