# Benchmark helpers for the bench scenarios (sourced in the guests after
# tests/lib/common.sh). Results go to $RNBD_SHARED/bench/ as fio JSON,
# perftest text and CPU samples; tools/benchreport turns them into tables.

BENCH_OUT=$RNBD_SHARED/bench
mkdir -p "$BENCH_OUT"
BENCH_RUNTIME=${RNBD_BENCH_RUNTIME:-20}

# The fio jobs, as name and fio arguments.
bench_jobs=(
    "randread-4k-qd32:--rw=randread --bs=4k --iodepth=32"
    "randread-4k-qd1:--rw=randread --bs=4k --iodepth=1"
    "seqread-128k:--rw=read --bs=128k --iodepth=16"
    "seqwrite-128k:--rw=write --bs=128k --iodepth=16"
)

# busy_jiffies: CPU time spent not idle since boot, all CPUs, in USER_HZ.
busy_jiffies() {
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# bench_fio LABEL DEVICE NAME ARGS...: one bounded fio run, JSON out, with
# this VM's CPU time around it.
bench_fio() {
    local label=$1 dev=$2 name=$3
    shift 3
    local before after
    before=$(busy_jiffies)
    fio --name="$name" --filename="$dev" --direct=1 --ioengine=libaio \
        --time_based --runtime="$BENCH_RUNTIME" --ramp_time=2 --size=256M \
        --group_reporting --output-format=json \
        --output="$BENCH_OUT/$label.$name.fio.json" "$@"
    after=$(busy_jiffies)
    echo "$((after - before))" > "$BENCH_OUT/$label.$name.cpu-client"
    log "$label $name: $(jq -r '.jobs[0] | "read \(.read.iops|floor) IOPS \(.read.bw) KiB/s, write \(.write.iops|floor) IOPS \(.write.bw) KiB/s"' "$BENCH_OUT/$label.$name.fio.json")"
}

# perftest_server KIND [ARGS]: background ib_<KIND> server over rdma_cm.
perftest_server() {
    local kind=$1
    shift
    "ib_$kind" -R -d rxe0 -F "$@" > "$BENCH_OUT/$kind.server.txt" 2>&1 &
    # The client is rejected if it comes before the server listens.
    wait_until 20 perftest_listening
}

perftest_listening() { rdma resource show cm_id 2>/dev/null | grep -q 'state LISTEN'; }

# perftest_client KIND SERVER [ARGS]: the measuring side; output kept.
perftest_client() {
    local kind=$1 server=$2
    shift 2
    "ib_$kind" -R -d rxe0 -F "$@" "$server" > "$BENCH_OUT/$kind.txt" 2>&1 \
        || fail "ib_$kind to $server: $(cat "$BENCH_OUT/$kind.txt")"
    cat "$BENCH_OUT/$kind.txt"
}

perftest_lat_args=(-s 2 -n 2000)
perftest_bw_args=(-s 131072 -D 10)
