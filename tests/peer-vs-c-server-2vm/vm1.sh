# VM 1: the upstream C rnbd_server exporting a 128 MiB brd ramdisk to the
# userspace peer (and then to the C client) on VM 2.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

load_module brd rd_nr=1 rd_size=131072
load_upstream_module rnbd_server
[[ -d $RNBD_SRV_CTL ]] || fail "no $RNBD_SRV_CTL"
signal server-ready

# While the peer holds its rw open, the server shows its session.
wait_for peer-holding 300
dev=$RNBD_SRV_CTL/devices/ram0
[[ -d $dev ]] || fail "no exported device at $dev while the peer holds it"
expect_file "$dev/sessions/peerhold/access_mode" rw
expect_eq "$(rtrs_paths rtrs-server peerhold)" "ip:$RNBD_VM2_IP@ip:$RNBD_VM1_IP" "rtrs-server path of the peer"
signal server-saw-peer

wait_for peer-done 300
# The peer's sessions are gone (its CLOSE and disconnect were clean).
wait_until 20 test ! -e "$dev"
[[ -z $(ls /sys/class/rtrs-server 2>/dev/null) ]] || fail "rtrs-server sessions left: $(ls /sys/class/rtrs-server)"
want=$(cat "$RNBD_SHARED/pattern.sha256")
expect_eq "$(sha_of /dev/ram0 $((16 << 20)))" "$want" "sha256 of the first 16 MiB of /dev/ram0 (the peer's pattern)"
summary "server: /dev/ram0 holds the peer's 16 MiB pattern (sha256 ${want:0:16}...); no session left after the peer"
signal server-checked

wait_for client-unmapped 300
wait_until 20 test ! -e /sys/class/rtrs-server/cclt
unload_upstream_module rnbd_server
unload_module brd
rxe_down
