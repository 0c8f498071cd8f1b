# VM 1: the upstream C rnbd_server exporting a 128 MiB brd ramdisk to the
# peer's malformed messages. The harness fails the run on any oops or
# WARNING in this console, so every case run here must leave the kernel
# quiet (the cases that WARN are excluded, see the Documentation table).
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

load_module brd rd_nr=1 rd_size=131072
load_upstream_module rnbd_server
signal server-ready

wait_for peer-done 900
# Every malformed session is gone again.
wait_until 30 test -z "$(ls /sys/class/rtrs-server 2>/dev/null)"
[[ ! -e $RNBD_SRV_CTL/devices/ram0 ]] || fail "ram0 still exported after the peer left"
summary "server: no session or device left after $(cat "$RNBD_SHARED/cases") malformed sessions"

# Phase 2: a queue depth that is not a power of two, so that a buffer id
# >= queue_depth fits the immediate (imm-buf-id-ge-qd).
unload_upstream_module rnbd_server
unload_upstream_module rtrs_server
load_upstream_module rtrs_server sess_queue_depth=500
load_upstream_module rnbd_server
signal server-qd500
wait_for peer-done2 300
wait_until 30 test -z "$(ls /sys/class/rtrs-server 2>/dev/null)"
unload_upstream_module rnbd_server
unload_module brd
rxe_down
