# VM 1: the upstream C rnbd_server exporting a 128 MiB brd ramdisk.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

load_module brd rd_nr=1 rd_size=131072
load_upstream_module rnbd_server
[[ -d $RNBD_SRV_CTL ]] || fail "no $RNBD_SRV_CTL"
signal server-ready

wait_for client-mapped 600
dev=$RNBD_SRV_CTL/devices/ram0
[[ -d $dev ]] || fail "no exported device at $dev"
expect_file "$dev/sessions/sess1/access_mode" rw
expect_file "$dev/sessions/sess1/mapping_path" /dev/ram0
signal server-checked

wait_for client-unmapped 600
wait_until 30 test ! -e "$dev"
want=$(cat "$RNBD_SHARED/pattern.sha256")
expect_eq "$(sha_of /dev/ram0 $((4 << 20)))" "$want" "sha256 of the first 4 MiB of /dev/ram0"
summary "server (C): /dev/ram0 holds the Rust client's 4 MiB pattern"
signal server-done
unload_upstream_module rnbd_server
unload_module brd
rxe_down
