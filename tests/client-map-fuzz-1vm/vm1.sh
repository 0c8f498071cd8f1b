# map_device fuzzing against the model of tools/mapfuzz/mapfuzz.py: the
# client and server under test in one kernel (the blktests shape), the
# client mapping from its own rxe address.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

seed=${RNBD_MAPFUZZ_SEED:-20261122}
count=${RNBD_MAPFUZZ_COUNT:-3000}
out=$RNBD_SHARED
ip=$RNBD_VM1_IP
load_module brd rd_nr=4 rd_size=8192
# A 254-character device path (the most map_device keeps) to /dev/ram3.
# In /dev: the server opens paths from a kernel worker, which resolves
# them from the initramfs root where the same devtmpfs is mounted
# (Documentation/testing.md).
long_dir=/dev/fz/$(printf 'a%.0s' {1..200})
long_dev=$long_dir/$(printf 'b%.0s' $(seq $((254 - ${#long_dir} - 1))))
mkdir -p "$long_dir"
ln -s /dev/ram3 "$long_dev"
expect_eq "${#long_dev}" 254 "length of the long device path"
[[ -b $long_dev ]] || fail "$long_dev is not a block device"

rnbd_server_load
rnbd_client_load
# nr_cpu_ids: the highest possible CPU + 1.
cpus=$(($(sed 's/.*[-,]//' /sys/devices/system/cpu/possible) + 1))
log "nr_cpu_ids $cpus"

# The standing mappings the model knows (mapfuzz.py, Env).
fzs=$(rnbd_map "sessname=fzs path=ip:$ip device_path=/dev/ram0")
fzp=$(rnbd_map "sessname=fzp path=ip:$ip device_path=/dev/ram1 access_mode=ro nr_poll_queues=1")
expect_file "/sys/block/$fzp/rnbd/nr_poll_queues" 1

py=/usr/bin/python3
$py "$RNBD_REPO/tools/mapfuzz/mapfuzz.py" gen --seed "$seed" --count "$count" \
    --ip "$ip" --cpus "$cpus" --long-dev "$long_dev" > "$out/cases.jsonl"
log "$(wc -l < "$out/cases.jsonl") cases (seed $seed)"
rc=0
$py "$RNBD_REPO/tools/mapfuzz/mapfuzz.py" run "$out/cases.jsonl" --report "$out/report.txt" || rc=$?
((rc == 0)) || fail "map_device results differ from the model: $(head -20 "$out/report.txt")"

# The standing mappings are intact, then go.
expect_file "/sys/block/$fzs/rnbd/state" open
expect_file "/sys/block/$fzp/rnbd/state" open
rnbd_unmap "$fzs"
rnbd_unmap "$fzp"
[[ -z $(rnbd_devices) ]] || fail "rnbd devices left: $(rnbd_devices)"
[[ -z $(ls "$RNBD_CLT_CTL/devices") ]] || fail "ctl/devices not empty: $(ls "$RNBD_CLT_CTL/devices")"
wait_until 20 test -z "$(ls /sys/class/rtrs-client)"
wait_until 20 test -z "$(ls /sys/class/rtrs-server)"
rnbd_client_unload
rnbd_server_unload
unload_module brd
rxe_down
summary "client $CLIENT_IMPL, server $SERVER_IMPL: $(head -1 "$out/report.txt")"
