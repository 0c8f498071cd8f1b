# Server VM of a cross-2vm bench pair (sourced by
# scenarios/cross-2vm-<client>-<server>/vm1.sh, which sets BENCH_SETUP,
# CLIENT_IMPL and SERVER_IMPL): perftest servers in the first pair only,
# then the rnbd_server under test exporting brd, and a CPU sample around
# each of the client's fio jobs.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"
. "$RNBD_REPO/tools/bench/lib.sh"

if [[ ${BENCH_PERFTEST:-0} == 1 ]]; then
    perftest_server write_lat "${perftest_lat_args[@]}"
    signal lat-server-ready
    wait
    perftest_server write_bw "${perftest_bw_args[@]}"
    signal bw-server-ready
    wait
fi

load_module brd rd_nr=1 rd_size=262144
rnbd_server_load
signal server-ready
for job in "${bench_jobs[@]}"; do
    name=${job%%:*}
    wait_for "$name-begin" 600
    before=$(busy_jiffies)
    signal "$name-sampled"
    wait_for "$name-end" 600
    echo "$(($(busy_jiffies) - before))" > "$BENCH_OUT/$BENCH_SETUP.$name.cpu-server"
done
wait_for client-done 600
wait_until 30 test ! -e /sys/class/rtrs-server/bench
rnbd_server_unload
unload_module brd
