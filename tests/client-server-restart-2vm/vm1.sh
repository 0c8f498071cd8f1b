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
if [[ $SERVER_IMPL == rust ]]; then
    # Ours holds a module reference per session (Documentation/server.md):
    # disconnect every path from sysfs, then unload once the sessions are
    # gone (the clients reconnect only after their reconnect delay).
    for p in /sys/class/rtrs-server/*/paths/*; do
        echo 1 > "$p/disconnect" || fail "disconnect $p"
    done
    wait_until 20 rmmod rnbd_server 2> /dev/null
else
    # Upstream unloads with sessions up and closes them.
    rnbd_server_unload
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
summary "server ($SERVER_IMPL): unloaded under IO in $down s, loaded again after $back s"
