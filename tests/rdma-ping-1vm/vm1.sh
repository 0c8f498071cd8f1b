# Drives tests/modules/rnbd_ping_test over rxe loopback: its listener and
# its client in one kernel, the client connecting to the VM's own address.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/ping.sh"

me=$RNBD_VM1_IP
modprobe $ping_mod
expect_file "$ping_ctl/result" none
ping_connect "$me"
ping_run 4096 7 "bytes=4096"
ping_run 65536 11 "bytes=65536"
ping_run 1 3 "bytes=1"
# Bad sizes: zero and beyond the server's buffer are refused before
# anything is posted.
expect_fail "Invalid argument" bash -c "echo '0 1' > $ping_ctl/run"
expect_fail "Invalid argument" bash -c "echo '65537 1' > $ping_ctl/run"
expect_fail "Invalid argument" bash -c "echo 'x' > $ping_ctl/run"
ping_stale
ping_disconnect
ping_server_expect 1 1 3 0
expect_fail "Transport endpoint is not connected" bash -c "echo '4096 1' > $ping_ctl/run"

# Ten more sessions, connect to disconnect.
for i in $(seq 1 10); do
    ping_connect "$me"
    ping_run $((i * 1000)) "$i" "bytes=$((i * 1000))"
    ping_disconnect
done
ping_server_expect 11 11 13 0

# Batched sends (kernel_ext send ring): 200 RDMA WRITEs, mostly
# unsignalled, every context back once, in order, most of them handed
# back by a later signalled completion; the connection still works.
ping_connect "$me"
r=$(ping_burst 200 0)
[[ $(burst_field success "$r") == 200 && $(burst_field error "$r") == 0 ]] || fail "clean burst: '$r'"
(($(burst_field handed_back "$r") > 100)) || fail "clean burst: too few sends were unsignalled: '$r'"
ping_run 4096 21 "bytes=4096"
# The 50th of 100 has a wrong rkey: the 49 before it succeed, it fails,
# the QP goes to the error state and the rest are flushed (or refused).
r=$(ping_burst 100 50)
[[ $(burst_field success "$r") == 49 && $(burst_field error "$r") == 1 ]] || fail "error burst: '$r'"
(($(burst_field flushed "$r") + $(burst_field refused "$r") == 50)) || fail "error burst: '$r'"
# The connection destroyed with a burst outstanding: the QP's close hands
# back what no completion will.
ping_connect "$me"
r=$(ping_burst 100 0 drop)
[[ $(burst_field error "$r") == 0 ]] || fail "dropped burst: '$r'"
expect_fail "Invalid argument" bash -c "echo '0 0' > $ping_ctl/burst"
expect_fail "Invalid argument" bash -c "echo '10 11' > $ping_ctl/burst"

# The device goes away under a live connection with receives posted and
# both MRs registered: both ends drop everything in DeviceRemoval (QPs
# drained, MRs deregistered), so the removal completes.
ping_connect "$me"
ping_run 8192 5 "bytes=8192"
timeout 60 rdma link delete rxe0 || fail "rdma link delete rxe0 did not complete"
wait_until 10 grep -q "active=0" "$ping_ctl/server"
rxe_up 0
ping_connect "$me"
ping_run 8192 6 "bytes=8192"
ping_disconnect

# Unload with a connection up (receives posted, MRs registered).
ping_connect "$me"
ping_run 2048 9 "bytes=2048"
rmmod rnbd_ping_test
[[ ! -e $ping_ctl ]] || fail "ctl left after rmmod"
dmesg | grep -E "rnbd_ping_test: unloaded, [01] server connection" >/dev/null || fail "no unload line"

# Load and unload 50 times, with a connection and a run each time.
for i in $(seq 1 50); do
    modprobe $ping_mod
    ping_connect "$me"
    ping_run 512 "$i" "bytes=512"
    rmmod rnbd_ping_test
done
summary "rdma ping: batched sends (clean, error mid-burst, dropped), SEND/RECV, WRITE_WITH_IMM + READ compared, remote and local invalidation, stale rkey refused, 14 sessions, rdma link delete under a live connection, unload with one up, 50 load cycles"
