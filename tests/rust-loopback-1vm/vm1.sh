# The blktests shape with the modules under test: rnbd_server and
# rnbd_client in one kernel (CLIENT_IMPL, SERVER_IMPL: rust by default,
# c for the upstream modules), the client mapping a loop device through its
# own rxe address, map and unmap 100 times.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

cycles=${RNBD_LOOPBACK_CYCLES:-100}
size=$((16 << 20))
head -c $size /dev/urandom > /tmp/backing
want=$(head -c $((1 << 20)) /tmp/backing | sha256sum | cut -d' ' -f1)
loop=$(losetup --find --show /tmp/backing)
log "backing: $loop ($size bytes)"

rnbd_server_load
rnbd_client_load
mem0=$(awk '/^MemAvailable/ {print $2}' /proc/meminfo)

start=$(now)
for ((i = 1; i <= cycles; i++)); do
    # Alternate the session name, the access mode and the spelling of the
    # path (plain, src@dst, src,dst).
    case $((i % 3)) in
        0) path="ip:$RNBD_VM1_IP" mode=rw ;;
        1) path="ip:$RNBD_VM1_IP@ip:$RNBD_VM1_IP" mode=ro ;;
        2) path="ip:$RNBD_VM1_IP,ip:$RNBD_VM1_IP" mode=migration ;;
    esac
    dev=$(rnbd_map "sessname=loop$((i % 7)) path=$path device_path=$loop access_mode=$mode")
    expect_eq "$(blockdev --getsize64 "/dev/$dev")" $size "cycle $i: size of /dev/$dev" > /dev/null
    [[ $(cat "/sys/block/$dev/rnbd/state") == open ]] || fail "cycle $i: state $(cat "/sys/block/$dev/rnbd/state")"
    [[ $(cat "/sys/block/$dev/rnbd/access_mode") == "$mode" ]] || fail "cycle $i: access_mode"
    [[ $(cat "/sys/block/$dev/ro") == $([[ $mode == ro ]] && echo 1 || echo 0) ]] || fail "cycle $i: ro flag"
    [[ $(sha_of "/dev/$dev" $((1 << 20))) == "$want" ]] || fail "cycle $i: sha256 through /dev/$dev"
    [[ -d $RNBD_SRV_CTL/devices/${loop#/dev/}/sessions/loop$((i % 7)) ]] || fail "cycle $i: no server session"
    rnbd_unmap "$dev"
    # The session goes with its last device; seven names in turn leave it
    # time to (checked at the end: nothing left).
    ((i % 10)) || log "cycle $i done, $(elapsed "$start") s"
done
seconds=$(elapsed "$start")

[[ -z $(ls "$RNBD_CLT_CTL/devices") ]] || fail "client devices left after the cycles"
[[ -z $(rnbd_devices) ]] || fail "rnbd devices left: $(rnbd_devices)"
wait_until 20 test ! -e "$RNBD_SRV_CTL/devices/${loop#/dev/}"
wait_until 20 test -z "$(ls /sys/class/rtrs-client)"
wait_until 20 test -z "$(ls /sys/class/rtrs-server)"
mem1=$(awk '/^MemAvailable/ {print $2}' /proc/meminfo)
log "MemAvailable: $mem0 kB before the cycles, $mem1 kB after"
rnbd_client_unload
rnbd_server_unload
rxe_down
losetup -d "$loop"
summary "client $CLIENT_IMPL, server $SERVER_IMPL: $cycles map/read/unmap cycles of $loop over rxe loopback in $seconds s (ro, rw, migration; three path spellings), data equal every time; MemAvailable $mem0 -> $mem1 kB"
