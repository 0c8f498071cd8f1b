# VM 2: the client under test ($CLIENT_IMPL) keeps fio verify running while
# the server restarts.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

out=$RNBD_SHARED
rnbd_deep_net_queues
rnbd_client_load
wait_for server-ready 300
wait_reachable "$RNBD_VM1_IP"
dev=$(rnbd_map "sessname=rst path=ip:$RNBD_VM1_IP device_path=/dev/ram0")
p=$(rtrs_clt_path rst "$RNBD_VM2_IP" "$RNBD_VM1_IP")
state=/sys/block/$dev/rnbd/state
# 16 MiB written before the restart, to read back after it.
head -c $((16 << 20)) /dev/urandom > /tmp/pattern
dd if=/tmp/pattern of="/dev/$dev" bs=1M oflag=direct status=none || fail "write the pattern"
want=$(sha256sum < /tmp/pattern | cut -d' ' -f1)

# fio verify for 60 s (random writes, crc32c, every block read back),
# bounded by timeout: a client that hangs IO for good fails the run.
timeout 150 fio --name=rst --filename="/dev/$dev" --direct=1 --ioengine=libaio \
    --rw=randwrite --bs=4k-64k --iodepth=8 --offset=64M --size=96M \
    --time_based --runtime=60 --verify=crc32c --verify_backlog=64 --verify_fatal=1 \
    --output-format=json --output="$out/fio-rst.json" > /dev/null 2>&1 &
fio_pid=$!
sleep 2
kill -0 "$fio_pid" || fail "fio ended before the restart: $(cat "$out/fio-rst.json")"
signal client-fio-running
wait_for server-down 120
t=$(now)

if [[ $CLIENT_IMPL == c ]]; then
    # Upstream fails every request while no path is connected
    # (rtrs_clt_request(): -ECONNABORTED, in-flight ones failed over to
    # nowhere) and sets the device to closed (MAPPED_DISCONNECTED) until
    # the session reconnects, reconnect_delay_sec 30 s + jitter later (§5.3).
    rc=0
    wait "$fio_pid" || rc=$?
    fio_s=$(elapsed "$t")
    ((rc != 0)) || fail "fio succeeded while the server was down"
    ((rc != 124)) || fail "fio hung (timeout) while the server was down"
    err=$(jq '.jobs[0].error' "$out/fio-rst.json")
    ((err != 0)) || fail "fio reported no error while the server was down"
    log "ok: fio failed $fio_s s after the server went down (exit $rc, error $err)"
    expect_file "$state" closed
    expect_file "$p/state" disconnected
    wait_for server-back 60
    wait_until 90 grep -qx open "$state"
    back_s=$(elapsed "$t")
    log "device open again $back_s s after the server went down"
    how="fio failed at once (exit $rc, error $err, after $fio_s s), device closed; reopened by the client $back_s s after the server went down"
else
    # Ours holds IO while no path is connected, for a configurable time
    # (default: the reconnect window), and the session reconnects once the
    # server is back: the verify run must finish with zero errors.
    rc=0
    wait "$fio_pid" || rc=$?
    ((rc == 0)) || fail "fio failed across the server restart (exit $rc): $(jq -c '.jobs[0] | {error}' "$out/fio-rst.json" 2>/dev/null)"
    expect_eq "$(jq '.jobs[0].error' "$out/fio-rst.json")" 0 "fio errors across the restart"
    expect_file "$state" open
    back_s=$(elapsed "$t")
    w=$(jq '.jobs[0].write.io_bytes' "$out/fio-rst.json")
    how="IO held while the server was down, fio verify finished with 0 errors ($((w >> 20)) MiB written) $back_s s after the server went down"
fi
expect_file "$p/state" connected
read -r ok failed < "$p/stats/reconnects"
((ok >= 1)) || fail "stats/reconnects '$ok $failed': no successful reconnect"
# The data from before the restart, and new verified IO.
expect_eq "$(sha_of "/dev/$dev" $((16 << 20)))" "$want" "sha256 of the 16 MiB written before the restart"
fio --name=after --filename="/dev/$dev" --direct=1 --ioengine=libaio \
    --rw=randwrite --bs=64k --iodepth=8 --offset=32M --size=16M \
    --verify=crc32c --do_verify=1 --verify_fatal=1 \
    --output-format=json --output="$out/fio-after.json" > /dev/null || fail "fio after the restart"
expect_eq "$(jq '.jobs[0].error' "$out/fio-after.json")" 0 "fio errors after the restart"

rnbd_unmap "$dev"
rnbd_client_unload
signal client-done
rxe_down
summary "client ($CLIENT_IMPL): server restarted under fio verify: $how; reconnects $ok ok / $failed failed; data from before the restart equal, 16 MiB verified after"
