# VM 1: our Rust rnbd_server exporting a 128 MiB brd ramdisk to the
# userspace peer on VM 2.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

mod=rnbd_server

ko=$(modinfo -n rnbd_server) || fail "no module rnbd_server in the installed tree (make install)"
[[ -f $ko ]] || fail "no $ko"
load_module brd rd_nr=1 rd_size=131072
modprobe $mod
[[ -d $RNBD_SRV_CTL ]] || fail "no $RNBD_SRV_CTL"
signal server-ready

# While the peer holds its rw open, the server shows its session, and
# refuses to unload.
wait_for peer-holding 300
dev=$RNBD_SRV_CTL/devices/ram0
[[ -d $dev ]] || fail "no exported device at $dev while the peer holds it"
expect_file "$dev/sessions/peerhold/access_mode" rw
expect_file "$dev/sessions/peerhold/read_only" 0
expect_file "$dev/sessions/peerhold/mapping_path" /dev/ram0
expect_eq "$(readlink -f "$dev/block_dev")" "$(readlink -f /sys/block/ram0)" "block_dev link"
p=/sys/class/rtrs-server/peerhold/paths/ip:$RNBD_VM2_IP@ip:$RNBD_VM1_IP
expect_eq "$(rtrs_paths rtrs-server peerhold)" "ip:$RNBD_VM2_IP@ip:$RNBD_VM1_IP" "rtrs-server path of the peer"
expect_file "$p/src_addr" "ip:$RNBD_VM2_IP"
expect_file "$p/dst_addr" "ip:$RNBD_VM1_IP"
expect_file "$p/hca_name" rxe0
expect_file "$p/hca_port" 1
expect_file "$p/disconnect" "Usage: echo 1 > disconnect"
read -r rc rb wc wb < "$p/stats/rdma"
((rc >= 2)) || fail "stats/rdma read count $rc (SESS_INFO and OPEN are reads)"
expect_fail "Invalid argument" bash -c "echo 0 > $p/stats/rdma"
echo 1 > "$p/stats/rdma"
expect_file "$p/stats/rdma" "0 0 0 0"
signal server-saw-peer

wait_for peer-done 300
wait_until 20 test ! -e "$dev"
[[ -z $(ls /sys/class/rtrs-server 2>/dev/null) ]] || fail "rtrs-server sessions left: $(ls /sys/class/rtrs-server)"
want=$(cat "$RNBD_SHARED/pattern.sha256")
expect_eq "$(sha_of /dev/ram0 $((16 << 20)))" "$want" "sha256 of the first 16 MiB of /dev/ram0 (the peer's pattern)"
signal server-checked

# The peer's sysfs disconnect test: a held session closed from here.
wait_for peer-holding2 120
p=/sys/class/rtrs-server/peerdisc/paths/ip:$RNBD_VM2_IP@ip:$RNBD_VM1_IP
wait_until 20 test -e "$p/disconnect"
echo 1 > "$p/disconnect"
wait_until 20 test ! -e /sys/class/rtrs-server/peerdisc
signal server-disconnected

wait_for peer-malformed-done 900
wait_until 30 test -z "$(ls /sys/class/rtrs-server 2>/dev/null)"
[[ ! -e $RNBD_SRV_CTL/devices/ram0 ]] || fail "ram0 still exported after the peer left"
rmmod rnbd_server

# Queue depth 500 (a buffer id >= queue depth fits the immediate), with
# always_invalidate=N, and a small error budget.
modprobe $mod sess_queue_depth=500 always_invalidate=N max_errors=3
signal server-qd500
wait_for peer-done2 300
wait_until 30 test -z "$(ls /sys/class/rtrs-server 2>/dev/null)"
rmmod rnbd_server
unload_module brd
summary "server: sysfs of a held session as upstream, 16 MiB pattern on ram0; sysfs disconnect; clean after every malformed case"
rxe_down
