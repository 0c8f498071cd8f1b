# VM 1: the servers, first the upstream C one, then ours.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

load_module brd rd_nr=1 rd_size=65536
for impl in c rust; do
    SERVER_IMPL=$impl
    if [[ $impl == c ]]; then rnbd_server_load; else rnbd_server_load dev_search_path=/dev; fi
    signal server-ready-$impl
    wait_for client-io-$impl 120
    sleep 4
    p=$(ls -d /sys/class/rtrs-server/rtrsclt-test/paths/* | head -1)
    [[ -n $p ]] || fail "no server path of rtrsclt-test"
    log "disconnecting $p ($impl server)"
    echo 1 > "$p/disconnect"
    wait_for client-done-$impl 180
    wait_until 30 test ! -e /sys/class/rtrs-server/rtrsclt-test
    rnbd_server_unload
done
summary "server: C then Rust rnbd_server served the Rust RTRS client; one path disconnected under IO each time"
unload_module brd
