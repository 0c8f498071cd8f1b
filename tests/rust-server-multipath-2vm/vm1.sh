# VM 1: the server (ours, or the C one with SERVER_IMPL=c) exporting a
# 256 MiB brd ramdisk over two NICs.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

impl=${SERVER_IMPL:-rust}
load_module brd rd_nr=1 rd_size=262144
if [[ $impl == rust ]]; then
    insmod "$RNBD_MODULES/rnbd/server/rnbd_server.ko"
else
    load_module rnbd_server
fi
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

wait_for client-done 300
read -r r0 rb0 w0 wb0 < "$s/paths/ip:$RNBD_VM2_IP0@ip:$RNBD_VM1_IP0/stats/rdma"
log "path 0 stats: $r0 reads, $w0 writes"
((r0 + w0 > 0)) || fail "no IO on path 0"
signal server-checked
wait_for client-unmapped 120
wait_until 30 test ! -e "$s"
if [[ $impl == rust ]]; then
    rmmod rnbd_server
else
    unload_module rnbd_server
fi
summary "server ($impl): one session with two paths; path 1 disconnected from sysfs under fio and reconnected by the client into the same session"
rxe_down 0
rxe_down 1
