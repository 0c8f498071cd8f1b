# The blktests shape: rnbd_server and rnbd_client in one kernel, the client
# mapping a loop device through its own rxe address.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

cycles=${RNBD_LOOPBACK_CYCLES:-20}
size=$((32 << 20))
head -c $size /dev/urandom > /tmp/backing
want=$(sha256sum < /tmp/backing | cut -d' ' -f1)
loop=$(losetup --find --show /tmp/backing)
log "backing: $loop ($size bytes)"

load_upstream_module rnbd_server
load_upstream_module rnbd_client

start=$(now)
for ((i = 1; i <= cycles; i++)); do
    dev=$(rnbd_map "sessname=loop$i path=ip:$RNBD_VM1_IP device_path=$loop")
    expect_eq "$(blockdev --getsize64 "/dev/$dev")" $size "cycle $i: size of /dev/$dev"
    expect_file "/sys/block/$dev/rnbd/state" open
    expect_eq "$(sha_of "/dev/$dev" $size)" "$want" "cycle $i: sha256 through /dev/$dev"
    [[ -d $RNBD_SRV_CTL/devices/${loop#/dev/}/sessions/loop$i ]] || fail "cycle $i: no server session"
    rnbd_unmap "$dev"
    wait_until 20 test ! -e "/sys/class/rtrs-server/loop$i"
done
seconds=$(elapsed "$start")

[[ -z $(ls "$RNBD_CLT_CTL/devices") ]] || fail "client devices left after the cycles"
unload_upstream_module rnbd_client
unload_upstream_module rnbd_server
rxe_down
losetup -d "$loop"
summary "$cycles map/read/unmap cycles of $loop over rxe loopback in $seconds s, data equal every time"
