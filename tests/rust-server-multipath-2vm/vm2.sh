# VM 2: the upstream C client maps VM 1's ramdisk over two paths and runs
# fio verify while the server drops one path.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

load_upstream_module rnbd_client
wait_for server-ready 300
dev=$(rnbd_map "sessname=mp path=ip:$RNBD_VM1_IP0 path=ip:$RNBD_VM1_IP1 device_path=/dev/ram0")
c=/sys/class/rtrs-client/mp/paths
expect_file "$c/ip:$RNBD_VM2_IP0@ip:$RNBD_VM1_IP0/state" connected
expect_file "$c/ip:$RNBD_VM2_IP1@ip:$RNBD_VM1_IP1/state" connected
echo round-robin > /sys/class/rtrs-client/mp/mpath_policy
signal client-mapped

fio --name=mp --filename="/dev/$dev" --direct=1 --ioengine=libaio \
    --rw=randrw --bs=4k-64k --iodepth=8 --size=96M --time_based=0 \
    --verify=crc32c --verify_fatal=1 --do_verify=1 \
    --output-format=json --output="$RNBD_SHARED/fio-mp.json" &
fio_pid=$!
signal fio-running
wait_for path-disconnected 120
wait "$fio_pid" || fail "fio failed while a path was down"
errors=$(jq '.jobs[0].error' "$RNBD_SHARED/fio-mp.json")
expect_eq "$errors" 0 "fio errors"
wait_for path-back 120
wait_until 60 grep -qx connected "$c/ip:$RNBD_VM2_IP1@ip:$RNBD_VM1_IP1/state"
read -r ok failed < "$c/ip:$RNBD_VM2_IP1@ip:$RNBD_VM1_IP1/stats/reconnects"
log "path 1 reconnects: $ok successful, $failed failed"
((ok >= 1)) || fail "path 1 was not reconnected (reconnects: $ok $failed)"
# IO over the reconnected path: a verify pass after it is back.
fio --name=again --filename="/dev/$dev" --direct=1 --ioengine=libaio \
    --rw=randwrite --bs=64k --iodepth=8 --size=32M --offset=128M \
    --verify=crc32c --verify_fatal=1 --do_verify=1 \
    --output-format=json --output="$RNBD_SHARED/fio-again.json" || fail "fio after the path came back"
expect_eq "$(jq '.jobs[0].error' "$RNBD_SHARED/fio-again.json")" 0 "fio errors after reconnect"

# The server's device removal (see vm1.sh; SERVER_DEVICE_REMOVAL=0 skips it):
if [[ ${SERVER_DEVICE_REMOVAL:-1} == 1 ]]; then
    # The server removes its RDMA device of path 1 under fio: IO goes on over
    # path 0; path 1 comes back once the device is back.
    fio --name=devrm --filename="/dev/$dev" --direct=1 --ioengine=libaio \
        --rw=randrw --bs=4k-64k --iodepth=8 --size=64M --offset=160M \
        --verify=crc32c --verify_fatal=1 --do_verify=1 \
        --output-format=json --output="$RNBD_SHARED/fio-devrm.json" &
    fio_pid=$!
    signal fio2-running
    wait_for device-removed 120
    wait "$fio_pid" || fail "fio failed while the server's device of path 1 was gone"
    expect_eq "$(jq '.jobs[0].error' "$RNBD_SHARED/fio-devrm.json")" 0 "fio errors across the server's device removal"
    signal fio2-done
    wait_for device-back 120
    wait_until 120 grep -qx connected "$c/ip:$RNBD_VM2_IP1@ip:$RNBD_VM1_IP1/state"
    log "path 1 connected again after the server's device came back"
fi
signal client-done
wait_for server-checked 120
rnbd_unmap "$dev"
unload_upstream_module rnbd_client
signal client-unmapped
summary "client: two paths, fio randrw verify with one path disconnected by the server: 0 errors; the path reconnected and served a second verify pass"
if [[ ${SERVER_DEVICE_REMOVAL:-1} == 1 ]]; then
    summary "client: fio randrw verify across the server's rdma link delete of path 1: 0 errors; path 1 connected again after rdma link add"
fi
rxe_down 0
rxe_down 1
