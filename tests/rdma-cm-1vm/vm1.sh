# Drives tests/modules/rnbd_cm_test over rxe loopback: its listener and its
# client in one kernel, the client connecting to the VM's own address.
. "$RNBD_REPO/tests/lib/common.sh"

mod=rnbd_cm_test

ko=$(modinfo -n rnbd_cm_test) || fail "no module rnbd_cm_test in the installed tree (make install)"
ctl=/sys/devices/virtual/rnbd-cm-test/ctl
me=$RNBD_VM1_IP

modprobe $mod
expect_file "$ctl/result" none
expect_file "$ctl/server" "established=0 disconnected=0 rejected=0 active=0"

# Accepted: the reply carries the server's private data.
echo "$me accept-hello" > "$ctl/connect"
expect_file "$ctl/result" "established welcome:accept-hello on rxe0"
wait_until 10 grep -q "established=1 " "$ctl/server"
expect_file "$ctl/server" "established=1 disconnected=0 rejected=0 active=1"

# Disconnect: both sides see it; the server connection drops its own id
# inside its Disconnected event.
echo 1 > "$ctl/disconnect"
expect_file "$ctl/result" "established welcome:accept-hello on rxe0 disconnected"
wait_until 10 grep -q "active=0" "$ctl/server"
expect_file "$ctl/server" "established=1 disconnected=1 rejected=0 active=0"
expect_fail "Transport endpoint is not connected" bash -c "echo 1 > $ctl/disconnect"

# Rejected: the client gets the consumer reject (28) and its private data.
echo "$me nope" > "$ctl/connect"
expect_file "$ctl/result" "rejected 28 go away"
expect_file "$ctl/server" "established=1 disconnected=1 rejected=1 active=0"

# Bad input and unreachable peers.
expect_fail "Invalid argument" bash -c "echo 'not-an-address accept' > $ctl/connect"
expect_fail "Invalid argument" bash -c "echo 'no-data-field' > $ctl/connect"
echo "10.0.2.99 accept-nobody" > "$ctl/connect"
result=$(cat "$ctl/result")
[[ $result == error* || $result == "rejected "* ]] || fail "unreachable peer: '$result'"
log "unreachable peer: $result"

# Twenty connect/disconnect cycles.
for i in $(seq 1 20); do
    echo "$me accept-$i" > "$ctl/connect"
    expect_file "$ctl/result" "established welcome:accept-$i on rxe0"
    echo 1 > "$ctl/disconnect"
done
wait_until 20 grep -q "active=0" "$ctl/server"
expect_file "$ctl/server" "established=21 disconnected=21 rejected=1 active=0"

# The device goes away under a live connection: both ends get
# DeviceRemoval and drop their ids (and QPs, PDs, CQs) inside the event,
# so the removal completes instead of waiting forever.
echo "$me accept-removal" > "$ctl/connect"
wait_until 10 grep -q "active=1" "$ctl/server"
timeout 60 rdma link delete rxe0 || fail "rdma link delete rxe0 did not complete"
wait_until 10 grep -q "active=0" "$ctl/server"
expect_file "$ctl/result" "established welcome:accept-removal on rxe0 disconnected"
expect_file "$ctl/server" "established=22 disconnected=22 rejected=1 active=0"
rxe_up 0
echo "$me accept-again" > "$ctl/connect"
expect_file "$ctl/result" "established welcome:accept-again on rxe0"
echo 1 > "$ctl/disconnect"

# Unload with a connection up: module exit tears both ends down.
echo "$me accept-last" > "$ctl/connect"
wait_until 10 grep -q "active=1" "$ctl/server"
rmmod rnbd_cm_test
[[ ! -e $ctl ]] || fail "ctl left after rmmod"
dmesg | grep "rnbd_cm_test: unloaded: established=24" >/dev/null || fail "no unload line"

# Load and unload 50 times, with a connection each time.
for i in $(seq 1 50); do
    modprobe $mod
    echo "$me accept-$i" > "$ctl/connect"
    rmmod rnbd_cm_test
done
summary "rdma_cm: accept/reject with private data, 21 connect/disconnect cycles, rdma link delete under a live connection, unload with live connections, 50 load cycles"
