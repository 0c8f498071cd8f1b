# VM 2: the Rust RTRS client test module, against each server.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

mod=rnbd_rtrs_clt_test

ko=$(modinfo -n rnbd_rtrs_clt_test) || fail "no module rnbd_rtrs_clt_test in the installed tree (make install)"
[[ -f $ko ]] || fail "no $ko"
modprobe rdma_cm || fail "modprobe rdma_cm"
for impl in c rust; do
    wait_for server-ready-$impl 120
    if [[ $impl == c ]]; then dev=/dev/ram0; else dev=ram0; fi
    dmesg -C
    modprobe $mod dst0=$RNBD_VM1_IP0 dst1=$RNBD_VM1_IP1 dev=$dev io_secs=15 &
    pid=$!
    # The session's sysfs as upstream, both paths connected, before the
    # server drops one of them under IO.
    c=/sys/class/rtrs-client/rtrsclt-test
    p0=$c/paths/ip:$RNBD_VM2_IP0@ip:$RNBD_VM1_IP0
    p1=$c/paths/ip:$RNBD_VM2_IP1@ip:$RNBD_VM1_IP1
    wait_until 60 grep -q "^connected" "$p1/state"
    expect_file "$p0/state" connected
    expect_file "$p0/hca_name" rxe0
    expect_file "$p0/src_addr" "ip:$RNBD_VM2_IP0"
    expect_file "$p1/dst_addr" "ip:$RNBD_VM1_IP1"
    expect_file "$c/mpath_policy" "min-inflight (MI: 1)"
    expect_file "$c/max_reconnect_attempts" -1
    signal client-io-$impl
    wait $pid || fail "modprobe failed"
    dmesg | grep -E "rtrs" | tail -30
    line=$(dmesg | grep "rtrs_clt_test: PASS") || fail "rtrs client test failed against the $impl server"
    rmmod rnbd_rtrs_clt_test || fail "rmmod"
    signal client-done-$impl
    summary "client vs $impl server: ${line#*rtrs_clt_test: }"
done
