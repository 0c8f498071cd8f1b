# VM 1: the upstream C rnbd_server exporting a 128 MiB brd ramdisk.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

load_module brd rd_nr=1 rd_size=131072
load_upstream_module rnbd_server
[[ -d $RNBD_SRV_CTL ]] || fail "no $RNBD_SRV_CTL"
signal server-ready

wait_for client-mapped 300
dev=$RNBD_SRV_CTL/devices/ram0
[[ -d $dev ]] || fail "no exported device at $dev"
expect_eq "$(basename "$(readlink "$dev/block_dev")")" ram0 "$dev/block_dev link"
expect_file "$dev/sessions/sess1/read_only" 0
expect_file "$dev/sessions/sess1/access_mode" rw
expect_file "$dev/sessions/sess1/mapping_path" /dev/ram0
# Upstream names a server path <client>@<server>, and its src_addr shows
# the client (rtrs-srv-sysfs.c prints s.dst_addr there): the Rust server
# must do the same.
expect_eq "$(rtrs_paths rtrs-server sess1)" "ip:$RNBD_VM2_IP@ip:$RNBD_VM1_IP" "rtrs-server path"
path=/sys/class/rtrs-server/sess1/paths/ip:$RNBD_VM2_IP@ip:$RNBD_VM1_IP
expect_file "$path/hca_name" rxe0
expect_file "$path/src_addr" "ip:$RNBD_VM2_IP"
expect_file "$path/dst_addr" "ip:$RNBD_VM1_IP"
signal server-checked

wait_for client-unmapped 600
wait_until 20 test ! -e "$dev"
wait_until 20 test ! -e /sys/class/rtrs-server/sess1
# The bytes the client wrote are in the ramdisk.
want=$(cat "$RNBD_SHARED/pattern.sha256")
expect_eq "$(sha_of /dev/ram0 $((16 << 20)))" "$want" "sha256 of the first 16 MiB of /dev/ram0"
summary "server: /dev/ram0 holds the client's 16 MiB pattern (sha256 ${want:0:16}...)"

unload_upstream_module rnbd_server
unload_module brd
rxe_down
