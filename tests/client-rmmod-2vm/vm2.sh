# VM 2: the client under test ($CLIENT_IMPL): rmmod with two devices mapped.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

out=$RNBD_SHARED
rnbd_deep_net_queues
rnbd_client_load
wait_for server-ready 300
wait_reachable "$RNBD_VM1_IP"
dev0=$(rnbd_map "sessname=rm path=ip:$RNBD_VM1_IP device_path=/dev/ram0")
dev1=$(rnbd_map "sessname=rm path=ip:$RNBD_VM1_IP device_path=/dev/ram1")
for d in "$dev0" "$dev1"; do
    head -c $((8 << 20)) /dev/urandom > "/tmp/pattern.$d"
    dd if="/tmp/pattern.$d" of="/dev/$d" bs=1M oflag=direct conv=fsync status=none || fail "write /dev/$d"
done

# fio holds /dev/$dev0 open: the open disk pins the module.
fio --name=busy --filename="/dev/$dev0" --direct=1 --ioengine=libaio \
    --rw=randrw --bs=4k --iodepth=8 --offset=16M --size=16M \
    --time_based --runtime=$((6 * ${RNBD_TIMEOUT_SCALE:-1})) --verify=crc32c --verify_fatal=1 \
    --output-format=json --output="$out/fio-busy.json" > /dev/null 2>&1 &
fio_pid=$!
# This shell holds the disk open too, so the refusal below does not race
# fio's start-up (seconds on the debug kernel).
exec 3< "/dev/$dev0"
sleep 1
kill -0 "$fio_pid" || fail "fio ended early: $(cat "$out/fio-busy.json")"
expect_fail "in use" rmmod rnbd_client
[[ -b /dev/$dev0 && -b /dev/$dev1 ]] || fail "a device went away with the refused rmmod"
wait "$fio_pid" || fail "fio while rmmod was refused: $(jq -c '.jobs[0].error' "$out/fio-busy.json")"
expect_eq "$(jq '.jobs[0].error' "$out/fio-busy.json")" 0 "fio errors"
exec 3<&-

# Nothing open: the unload unmaps both devices and closes the session.
t=$(now)
rnbd_client_unload
log "rnbd_client unloaded in $(elapsed "$t") s with $dev0 and $dev1 mapped"
[[ ! -e /dev/$dev0 && ! -e /dev/$dev1 ]] || fail "a device node is left after rmmod"
[[ -z $(rnbd_devices) ]] || fail "rnbd disks left after rmmod: $(rnbd_devices)"
[[ ! -e /sys/devices/virtual/rnbd-client ]] || fail "/sys/devices/virtual/rnbd-client left after rmmod"
[[ ! -e /sys/class/rtrs-client/rm ]] || fail "rtrs-client session left after rmmod"
[[ -z $(d_state_procs) ]] || fail "processes in D state: $(d_state_procs)"
signal client-unloaded
wait_for server-checked 120

# Loaded and mapped again: the data from before the unload.
rnbd_client_load
for dev in ram0 ram1; do
    d=$(rnbd_map "sessname=rm path=ip:$RNBD_VM1_IP device_path=/dev/$dev")
    old=$([[ $dev == ram0 ]] && echo "$dev0" || echo "$dev1")
    expect_eq "$(sha_of "/dev/$d" $((8 << 20)))" "$(sha256sum < "/tmp/pattern.$old" | cut -d' ' -f1)" "sha256 of /dev/$d ($dev) after reload"
    rnbd_unmap "$d"
done
rnbd_client_unload
signal client-done
rxe_down
summary "client ($CLIENT_IMPL): rmmod refused ('in use') while fio had a disk open; then it tore down 2 mapped devices and their session; remapped, both read back equal"
