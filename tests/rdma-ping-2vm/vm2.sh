# VM 2: the client side, connecting to VM 1.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/ping.sh"

server=$RNBD_VM1_IP
modprobe $ping_mod
wait_for listening
ping_connect "$server"
ping_run 4096 1 "bytes=4096"
ping_run 65536 2 "bytes=65536"
ping_stale
ping_disconnect
for i in $(seq 1 5); do
    ping_connect "$server"
    ping_run $((i * 3000)) "$((i + 10))" "bytes=$((i * 3000))"
    ping_disconnect
done
signal client-done
wait_for server-checked

# The server's device is removed under this connection.
ping_connect "$server"
signal client-connected-again
wait_for server-device-back
# Without a disconnect from the vanished peer, the next step fails (retries
# exceeded or a timeout); reconnecting replaces the dead connection.
if echo "4096 1" > "$ping_ctl/run" 2>/dev/null; then
    fail "a run over a connection whose peer device was removed succeeded"
fi
log "run after the server's device removal: $(cat "$ping_ctl/result")"
ping_connect "$server"
ping_run 8192 30 "bytes=8192"

# Our own device is removed under a live connection.
timeout 60 rdma link delete rxe0 || fail "rdma link delete rxe0 did not complete"
expect_fail "Transport endpoint is not connected" bash -c "echo '4096 1' > $ping_ctl/run"
rxe_up 0
# (connections 7 and 8 are done; unload with connection 9 up)
ping_connect "$server"
ping_run 1024 31 "bytes=1024"
rmmod rnbd_ping_test
signal client-unloaded
wait_for server-idle
modprobe $ping_mod
ping_connect "$server"
signal client-reconnected
wait_for server-unloaded
# The server unloaded under us: the connection is gone.
wait_until 20 bash -c "! echo '512 1' > $ping_ctl/run 2>/dev/null"
rmmod rnbd_ping_test
summary "client: 10 connections to $server, 9 runs of every step, stale rkey refused, survived rdma link delete on both sides and the server's unload"
