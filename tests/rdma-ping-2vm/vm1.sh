# VM 1: the listening side of tests/modules/rnbd_ping_test.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/ping.sh"

modprobe $ping_mod
signal listening
wait_for client-done
ping_server_expect 6 6 7 0
signal server-checked

# The device goes away here under a live connection: our connection drops
# everything in DeviceRemoval; the client sees the disconnect.
wait_for client-connected-again
wait_until 10 grep -q "active=1 " "$ping_ctl/server"
timeout 60 rdma link delete rxe0 || fail "rdma link delete rxe0 did not complete"
wait_until 10 grep -q "active=0 " "$ping_ctl/server"
rxe_up 0
signal server-device-back

# The client's device goes away next; then the client unloads with a
# connection up; then we unload with one up.
wait_for client-unloaded
wait_until 20 grep -q "active=0 " "$ping_ctl/server"
signal server-idle
wait_for client-reconnected
wait_until 10 grep -q "active=1 " "$ping_ctl/server"
rmmod rnbd_ping_test
dmesg | grep "rnbd_ping_test: unloaded, 1 server connection(s) closed at exit" >/dev/null \
    || fail "server did not close its live connection at exit"
signal server-unloaded
summary "listener: 9 connections, 7 checked runs, rdma link delete under a live connection, unload with one up"
