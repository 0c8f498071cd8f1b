# VM 1: the server ($SERVER_IMPL) exporting a 256 MiB brd; unloaded under
# the client's IO and loaded again. brd keeps the data across the restart.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

rnbd_deep_net_queues
load_module brd rd_nr=1 rd_size=262144
rnbd_server_load
signal server-ready

wait_for client-fio-running 300
sleep 3
t=$(now)
# With the sessions up, as upstream's module exit does (rtrs_srv_close()):
# rmmod closes them; the client sees the disconnect and reconnects.
sessions=$(ls /sys/class/rtrs-server | wc -l)
((sessions == 1)) || fail "expected 1 server session before the unload, saw $sessions"
rnbd_server_unload
[[ ! -e /sys/class/rtrs-server ]] || [[ -z $(ls /sys/class/rtrs-server) ]] || fail "server sessions left after rmmod"
if [[ $SERVER_IMPL == rust ]]; then
    in_dmesg "rtrs server closed, 1 path(s) closed at exit" || fail "the unload did not close the session's path"
fi
down=$(elapsed "$t")
log "server unloaded in $down s"
signal server-down
# Back about 8 s after the unload began.
sleep "$(echo "x = 8 - $down; if (x < 1) 1 else x" | bc)"
rnbd_server_load
back=$(elapsed "$t")
signal server-back
log "server loaded again $back s after the unload began"

wait_for client-done 400
wait_until 30 test ! -e /sys/class/rtrs-server/rst
rnbd_server_unload
unload_module brd
rxe_down
summary "server ($SERVER_IMPL): unloaded under IO with its session up (closed by the unload) in $down s, loaded again after $back s"
