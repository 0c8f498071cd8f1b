# VM 2: the client side, connecting to VM 1.
. "$RNBD_REPO/tests/lib/common.sh"
ctl=/sys/devices/virtual/rnbd-cm-test/ctl
server=$RNBD_VM1_IP

modprobe rnbd_cm_test
wait_for listening
echo "$server accept-from-vm2" > "$ctl/connect"
expect_file "$ctl/result" "established welcome:accept-from-vm2 on rxe0"
signal client-connected
wait_for server-checked
echo 1 > "$ctl/disconnect"
expect_file "$ctl/result" "established welcome:accept-from-vm2 on rxe0 disconnected"
echo "$server refuse-me" > "$ctl/connect"
expect_file "$ctl/result" "rejected 28 go away"
for i in $(seq 1 10); do
    echo "$server accept-$i" > "$ctl/connect"
    expect_file "$ctl/result" "established welcome:accept-$i on rxe0"
    echo 1 > "$ctl/disconnect"
done
signal client-done
wait_for server-counted
echo "$server accept-last" > "$ctl/connect"
expect_file "$ctl/result" "established welcome:accept-last on rxe0"
rmmod rnbd_cm_test
signal client-unloaded
summary "client: 12 connections to $server with private data, 1 rejected, unloaded with one up"
