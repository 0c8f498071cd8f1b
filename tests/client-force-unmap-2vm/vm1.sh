# VM 1: the server ($SERVER_IMPL) exporting a 256 MiB brd.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

rnbd_deep_net_queues
load_module brd rd_nr=1 rd_size=262144
rnbd_server_load
signal server-ready
wait_for client-force-unmapped 300
# The force unmap closed the device on the server and, with it the
# session's last device, the session.
wait_until 30 test ! -e /sys/class/rtrs-server/fu
wait_until 30 test ! -e "$RNBD_SRV_CTL/devices/ram0"
log "ok: the server's session and device are gone after the force unmap"
signal server-checked
wait_for client-done 300
wait_until 30 test ! -e /sys/class/rtrs-server/fu
rnbd_server_unload
unload_module brd
rxe_down
summary "server ($SERVER_IMPL): session and device closed after the client's force unmap"
