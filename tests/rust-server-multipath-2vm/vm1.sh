# VM 1: the server (ours, or the C one with SERVER_IMPL=c) exporting a
# 256 MiB brd ramdisk over two NICs.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

impl=${SERVER_IMPL:-rust}
load_module brd rd_nr=1 rd_size=262144
if [[ $impl == rust ]]; then
    modprobe rnbd_server
else
    load_upstream_module rnbd_server
fi
res0=$(rdma_resources)
signal server-ready

wait_for client-mapped 300
s=/sys/class/rtrs-server/mp
paths=$(ls "$s/paths" | sort | tr '\n' ' ')
expect_eq "$paths" "ip:$RNBD_VM2_IP0@ip:$RNBD_VM1_IP0 ip:$RNBD_VM2_IP1@ip:$RNBD_VM1_IP1 " "the session's two paths"
p1=$s/paths/ip:$RNBD_VM2_IP1@ip:$RNBD_VM1_IP1
expect_file "$p1/hca_name" rxe1
expect_file "$p1/src_addr" "ip:$RNBD_VM2_IP1"
expect_file "$p1/dst_addr" "ip:$RNBD_VM1_IP1"
expect_file "$RNBD_SRV_CTL/devices/ram0/sessions/mp/access_mode" rw

# Under fio: disconnect path 1 from here.
wait_for fio-running 120
sleep 2
echo 1 > "$p1/disconnect"
log "path 1 disconnected from the server's sysfs"
wait_until 20 test ! -e "$p1"
signal path-disconnected
# The client reconnects it into the same session (its reconnect delay
# is up to 30 s plus jitter).
wait_until 90 test -e "$p1/stats/rdma"
log "path 1 is back: $(cat "$p1/stats/rdma")"
signal path-back

# Under a second fio, remove the server's RDMA device of path 1
# (SERVER_DEVICE_REMOVAL=0 skips this). The server must free the path's
# chunk MRs, CQs, QPs and PD before its CM ids are destroyed: rdma_cm lets
# the removal finish with the last id, and rxe WARNs about anything left
# (rxe_pool_cleanup, rdma_restrack_clean).
if [[ ${SERVER_DEVICE_REMOVAL:-1} == 1 ]]; then
    # Under a second fio: remove the server's RDMA device of path 1. The
    # server gets DEVICE_REMOVAL on that path's connections and must close
    # the path and free everything on the device before the removal can
    # finish (a leak or use after free shows in the console); path 0 keeps
    # the session.
    wait_for fio2-running 120
    sleep 2
    t=$(now)
    rxe_down 1
    log "rdma link delete rxe1 returned after $(elapsed "$t") s"
    wait_until 20 test ! -e "$p1"
    expect_eq "$(ls "$s/paths")" "ip:$RNBD_VM2_IP0@ip:$RNBD_VM1_IP0" "paths after the device removal"
    signal device-removed
    wait_for fio2-done 300
    rxe_up 1
    signal device-back
    wait_until 120 test -e "$p1/stats/rdma"
    log "path 1 is back after the device removal: $(cat "$p1/stats/rdma")"
    expect_file "$p1/hca_name" rxe1
fi

wait_for client-done 300
read -r r0 rb0 w0 wb0 < "$s/paths/ip:$RNBD_VM2_IP0@ip:$RNBD_VM1_IP0/stats/rdma"
log "path 0 stats: $r0 reads, $w0 writes"
((r0 + w0 > 0)) || fail "no IO on path 0"
signal server-checked
wait_for client-unmapped 120
wait_until 30 test ! -e "$s"
# Everything of the session's paths freed on both devices (rxe1 was
# removed and added back; the listener is on it again). The C server's
# CQs come from the device's CQ pool, which keeps them.
if [[ $impl == c ]]; then RNBD_RES_POOLED_CQ=1 expect_rdma_resources "$res0"; else expect_rdma_resources "$res0"; fi
if [[ $impl == rust ]]; then
    rmmod rnbd_server
else
    unload_upstream_module rnbd_server
fi
summary "server ($impl): one session with two paths; path 1 disconnected from sysfs under fio and reconnected by the client into the same session"
if [[ ${SERVER_DEVICE_REMOVAL:-1} == 1 ]]; then
    summary "server ($impl): rdma link delete rxe1 under fio closed path 1 (the removal finished, path 0 kept the session); after rdma link add the client reconnected path 1"
fi
rxe_down 0
rxe_down 1
