# VM 1: the server ($SERVER_IMPL) exporting a 256 MiB brd over two NICs.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

rnbd_deep_net_queues
load_module brd rd_nr=1 rd_size=262144
rnbd_server_load
signal server-ready
wait_for client-done 400
wait_until 30 test ! -e /sys/class/rtrs-server/mp
rnbd_server_unload
unload_module brd
rxe_down 0
rxe_down 1
summary "server ($SERVER_IMPL): served the two paths through both outages"
