# VM 1: the listener side of tests/modules/rnbd_cm_test.
. "$RNBD_REPO/tests/lib/common.sh"
ctl=/sys/devices/virtual/rnbd-cm-test/ctl

modprobe rnbd_cm_test
signal listening
wait_for client-connected
expect_file "$ctl/server" "established=1 disconnected=0 rejected=0 active=1"
signal server-checked
wait_for client-done
wait_until 20 grep -q "active=0" "$ctl/server"
expect_file "$ctl/server" "established=11 disconnected=11 rejected=1 active=0"
signal server-counted
# The client unloads with a connection up; our side sees it go.
wait_for client-unloaded
wait_until 20 grep -q "disconnected=12 .*active=0" "$ctl/server"
rmmod rnbd_cm_test
summary "listener: 12 connections accepted and closed, 1 rejected"
