# VM 1: our rnbd_server.ko exporting two brd ramdisks below /dev.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

mod=rnbd_server

ko=$(modinfo -n rnbd_server) || fail "no module rnbd_server in the installed tree (make install)"
[[ -f $ko ]] || fail "no $ko"
load_module brd rd_nr=2 rd_size=32768
# The search directory /dev/exp (on devtmpfs: the server resolves paths
# from the kernel's root, not this script's chroot) holds nodes of both
# ramdisks, a symlink inside it and one escaping to /dev/ram1.
major=$(stat -c %t /dev/ram0 | xargs printf %d)
mkdir -p /dev/exp
mknod /dev/exp/ram0 b "$major" 0
mknod /dev/exp/ram1 b "$major" 1
ln -s ram1 /dev/exp/alias
ln -s ../ram1 /dev/exp/escape
modprobe $mod dev_search_path=/dev/exp
expect_file /sys/module/rnbd_server/parameters/dev_search_path /dev/exp
expect_file /sys/module/rnbd_server/parameters/max_errors 64
[[ -d $RNBD_SRV_CTL/devices ]] || fail "no $RNBD_SRV_CTL/devices"
signal server-ready

wait_for client-mapped 120
dev=$RNBD_SRV_CTL/devices/ram0
[[ -d $dev ]] || fail "no exported device at $dev"
expect_eq "$(basename "$(readlink "$dev/block_dev")")" ram0 "$dev/block_dev link"
expect_file "$dev/sessions/sess1/read_only" 0
expect_file "$dev/sessions/sess1/access_mode" rw
expect_file "$dev/sessions/sess1/mapping_path" ram0
expect_file "$dev/sessions/sess1/force_close" "Usage: echo 1 > force_close"
expect_fail "Invalid argument" bash -c "echo 2 > $dev/sessions/sess1/force_close"
signal server-checked

# The client re-mapped: force_close; its IO then fails (ENOTCONN).
wait_for client-remapped 120
echo 1 > "$dev/sessions/sess1/force_close"
wait_until 10 test ! -e "$dev"
signal server-force-closed

wait_for client-unmapped 120
wait_until 20 test ! -e "$dev"
want=$(cat "$RNBD_SHARED/pattern.sha256")
expect_eq "$(sha_of /dev/ram0 $((4 << 20)))" "$want" "sha256 of the first 4 MiB of /dev/ram0"
signal server-verified

wait_for peer-done 200
# Reload with max_errors=1: one malformed message closes the session.
wait_until 30 rmmod rnbd_server
modprobe $mod dev_search_path=/dev/exp max_errors=1
signal server-strict
wait_for peer-strict-done 120
strict_closed() { dmesg | grep "1 malformed messages (max_errors), closing it" >/dev/null; }
wait_until 20 strict_closed
wait_until 30 rmmod rnbd_server
dmesg | grep -E "rnbd|rtrs" | tail -40
summary "server: ram0 exported; sysfs block_dev/read_only/access_mode/mapping_path/force_close as upstream; force_close; /dev/ram0 holds the client's 4 MiB pattern (sha256 ${want:0:16}...); max_errors=1 closed a session"
unload_module brd
