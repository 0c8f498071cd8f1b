# VM 1: the server ($SERVER_IMPL) exporting two brd disks to one session.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

rnbd_deep_net_queues
load_module brd rd_nr=2 rd_size=65536
rnbd_server_load
signal server-ready
wait_for client-unloaded 300
# The client's unload closed its devices and its session.
wait_until 30 test ! -e /sys/class/rtrs-server/rm
wait_until 30 test ! -e "$RNBD_SRV_CTL/devices/ram0"
wait_until 30 test ! -e "$RNBD_SRV_CTL/devices/ram1"
log "ok: the session and both devices are gone on the server after the client's rmmod"
signal server-checked
wait_for client-done 300
wait_until 30 test ! -e /sys/class/rtrs-server/rm
rnbd_server_unload
unload_module brd
rxe_down
summary "server ($SERVER_IMPL): session and both devices closed by the client's rmmod"
