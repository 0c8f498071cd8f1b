# VM 2: our rnbd_client (`modprobe rnbd_client`, from the installed tree) maps VM 1's ramdisk.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

load_module rdma_cm
mod=rnbd_client
ko=$(modinfo -n rnbd_client) || fail "no module rnbd_client in the installed tree (make install)"
[[ -f $ko ]] || fail "no $ko"
modprobe $mod || fail "modprobe $mod"
expect_modinfo_complete rnbd_client
[[ -e $RNBD_CLT_CTL/map_device ]] || fail "no map_device"
expect_file /sys/module/rnbd_client/parameters/hold_io_sec 64

# Usage text (spec §8.0 U1), byte for byte.
want='Usage: echo "[dest_port=server port number] sessname=<name of the rtrs session> path=<[srcaddr@]dstaddr> [path=<[srcaddr@]dstaddr>] device_path=<full path on remote side> [access_mode=<ro|rw|migration>] [nr_poll_queues=<number of queues>]" > map_device

addr ::= [ ip:<ipv4> | ip:<ipv6> | gid:<gid> ]'
expect_eq "$(cat "$RNBD_CLT_CTL/map_device")" "$want" "map_device usage"

# Parse errors (spec §8.1.1): nothing connects for these.
S=$RNBD_VM1_IP
rnbd_map_fails "Invalid argument" "sessname=x"
rnbd_map_fails "Invalid argument" "device_path=/dev/ram0"
rnbd_map_fails "Invalid argument" "sessname=x device_path=d bogus=1"
rnbd_map_fails "Invalid argument" "sessname= device_path=d"
rnbd_map_fails "Invalid argument" "sessname=x device_path=d access_mode=rwx"
rnbd_map_fails "Invalid argument" "sessname=x device_path=d dest_port=65536"
rnbd_map_fails "Invalid argument" "sessname=x device_path=d dest_port=12x"
rnbd_map_fails "Invalid argument" "sessname=x device_path=d nr_poll_queues=-2"
rnbd_map_fails "Invalid argument" "sessname=$(printf 'a%.0s' {1..256}) device_path=d"
rnbd_map_fails "Invalid argument" "sessname=x device_path=$(printf 'a%.0s' {1..256})"
rnbd_map_fails "Protocol not supported" "sessname=x device_path=d path=$S"
rnbd_map_fails "Invalid argument" "sessname=x device_path=d path=ip:300.1.1.1"
rnbd_map_fails "Invalid argument" "sessname=x device_path=d path=$S@ip:$S"
rnbd_map_fails "Invalid argument" "sessname=x device_path=d path=gid:zz"
rnbd_map_fails "Cannot allocate memory" \
    "sessname=x device_path=d $(for i in 1 2 3 4 5 6 7; do printf 'path=ip:10.9.9.%d ' $i; done)"
rnbd_map_fails "No such device or address" "sessname=nosuch device_path=/dev/ram0"
[[ -z $(ls "$RNBD_CLT_CTL/devices") ]] || fail "ctl/devices not empty after failed maps"
summary "client: usage text and 16 map_device parse errnos as upstream"

wait_for server-ready 300
# A device the server does not have: its errno, and no device left.
rnbd_map_fails "No such file or directory" "sessname=sess0 path=ip:$S device_path=/dev/nosuch"

start=$(now)
dev=$(rnbd_map "sessname=sess1 path=ip:$S device_path=/dev/ram0")
log "mapped /dev/$dev in $(elapsed "$start") s"
[[ -b /dev/$dev ]] || fail "/dev/$dev is not a block device"
expect_eq "$(blockdev --getsize64 "/dev/$dev")" $((128 << 20)) "size of /dev/$dev"
for f in state session mapping_path access_mode nr_poll_queues; do
    log "$f: $(cat /sys/block/$dev/rnbd/$f)"
done
expect_file "/sys/block/$dev/rnbd/state" open
expect_file "/sys/block/$dev/rnbd/session" sess1
expect_file "/sys/block/$dev/rnbd/mapping_path" /dev/ram0
expect_file "/sys/block/$dev/rnbd/access_mode" rw
expect_file "/sys/block/$dev/rnbd/nr_poll_queues" 0
expect_eq "$(cat /sys/block/$dev/rnbd/unmap_device)" "Usage: echo <normal|force> > unmap_device" unmap usage
expect_eq "$(cat /sys/block/$dev/rnbd/resize)" "Usage: echo <new size in sectors> > resize" resize usage
expect_eq "$(cat /sys/block/$dev/rnbd/remap_device)" "Usage: echo <1> > remap_device" remap usage
expect_fail "File exists" bash -c "echo 'sessname=sess1 device_path=/dev/ram0' > $RNBD_CLT_CTL/map_device"
expect_fail "Invalid argument" bash -c "echo bogus > /sys/block/$dev/rnbd/unmap_device"
expect_fail "Invalid argument" bash -c "echo 2 > /sys/block/$dev/rnbd/remap_device"
expect_fail "Operation already in progress" bash -c "echo 1 > /sys/block/$dev/rnbd/remap_device"
expect_fail "Invalid argument" bash -c "echo x > /sys/block/$dev/rnbd/resize"
signal client-mapped

head -c $((4 << 20)) /dev/urandom > /tmp/pattern
sha256sum < /tmp/pattern | cut -d' ' -f1 > "$RNBD_SHARED/pattern.sha256"
dd if=/tmp/pattern of="/dev/$dev" bs=64k oflag=direct conv=fsync status=none
dd if="/dev/$dev" of=/tmp/back bs=64k count=64 iflag=direct status=none
cmp /tmp/pattern /tmp/back || fail "read back differs"

fio --name=verify --filename="/dev/$dev" --direct=1 --ioengine=libaio \
    --rw=randwrite --bs=4k-64k --iodepth=8 --offset=16M --size=8M \
    --verify=crc32c --verify_fatal=1 --do_verify=1 \
    --output-format=json --output="$RNBD_SHARED/fio-verify.json"
written=$(jq '.jobs[0].write.io_bytes' "$RNBD_SHARED/fio-verify.json")
verified=$(jq '.jobs[0].read.io_bytes' "$RNBD_SHARED/fio-verify.json")
errors=$(jq '.jobs[0].error' "$RNBD_SHARED/fio-verify.json")
# Random block sizes: fio stops short of --size; every byte written is
# read back and verified.
((written >= (6 << 20))) || fail "fio wrote only $written bytes"
expect_eq "$verified" "$written" "fio bytes verified"
expect_eq "$errors" 0 "fio errors"

wait_for server-checked 300

# rtrs-client add_path / remove_path (§8.3): the same address pair again
# is refused by the server (EEXIST); removing the only path, then adding
# it back (a new path for a session the server forgot) brings IO back.
s=/sys/class/rtrs-client/sess1
expect_file "$s/add_path" "Usage: echo [<source addr>@]<destination addr> > add_path

*addr ::= [ ip:<ipv4|ipv6> | gid:<gid> ]"
expect_fail "Invalid argument" bash -c "echo nonsense > $s/add_path"
expect_fail "File exists" bash -c "echo ip:$RNBD_VM1_IP > $s/add_path"
p=$s/paths/ip:$RNBD_VM2_IP@ip:$RNBD_VM1_IP
expect_file "$p/remove_path" "Usage: echo 1 > remove_path"
expect_fail "Invalid argument" bash -c "echo 2 > $p/remove_path"
echo 1 > "$p/remove_path" || fail "remove_path"
wait_until 10 test ! -e "$p"
# The server forgets the removed path in its own close work, after the
# client's disconnect returned: until then the same address pair is still
# "Path with same addr exists" there (EEXIST), with the C server as with
# ours. Any other error, or EEXIST for longer than 10 s, fails.
tries=0
until err=$( { echo "ip:$RNBD_VM1_IP" > "$s/add_path"; } 2>&1 ); do
    [[ $err == *"File exists"* ]] || fail "add_path after remove_path: $err"
    (( ++tries < 100 )) || fail "add_path after remove_path: still EEXIST after 10 s"
    sleep 0.1
done
log "add_path after remove_path: accepted after $tries EEXIST retries"
expect_file "$p/state" connected
# The device comes back with the reconnect's remap.
wait_until 30 grep -qx open "/sys/block/$dev/rnbd/state"
dd if="/dev/$dev" of=/tmp/back2 bs=64k count=64 iflag=direct status=none || fail "read after add_path"
cmp /tmp/pattern /tmp/back2 || fail "read back after add_path differs"
log "ok: add_path EINVAL/EEXIST, remove_path of the only path, add_path back, data equal"

exec 3<"/dev/$dev"
expect_fail "Device or resource busy" bash -c "echo normal > /sys/block/$dev/rnbd/unmap_device"
exec 3<&-
rnbd_unmap "$dev"
[[ -z $(ls "$RNBD_CLT_CTL/devices") ]] || fail "ctl/devices not empty after unmap"
signal client-unmapped
wait_for server-done 300
rmmod rnbd_client || fail "rmmod rnbd_client"
summary "client: mapped, sysfs as upstream, 4 MiB dd+cmp, fio crc32c 8 MiB, add_path/remove_path, unmapped"
