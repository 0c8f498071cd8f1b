# VM 2: the upstream C rnbd_client maps VM 1's ramdisk, moves verified data
# and unmaps.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

load_upstream_module rnbd_client
[[ -e $RNBD_CLT_CTL/map_device ]] || fail "no map_device"
wait_for server-ready 300

start=$(now)
dev=$(rnbd_map "sessname=sess1 path=ip:$RNBD_VM1_IP device_path=/dev/ram0")
map_seconds=$(elapsed "$start")
log "mapped /dev/$dev in $map_seconds s"
[[ -b /dev/$dev ]] || fail "/dev/$dev is not a block device"
expect_eq "$(blockdev --getsize64 "/dev/$dev")" $((128 << 20)) "size of /dev/$dev"
expect_file "/sys/block/$dev/rnbd/state" open
expect_file "/sys/block/$dev/rnbd/session" sess1
expect_file "/sys/block/$dev/rnbd/mapping_path" /dev/ram0
expect_file "/sys/block/$dev/rnbd/access_mode" rw
path=/sys/class/rtrs-client/sess1/paths/ip:$RNBD_VM2_IP@ip:$RNBD_VM1_IP
expect_file "$path/state" connected
expect_file "$path/hca_name" rxe0
expect_eq "$(head -1 /sys/class/rtrs-client/sess1/mpath_policy)" "min-inflight (MI: 1)" mpath_policy
c_client_preempt_workaround sess1
signal client-mapped

# fio writes 64 MiB past the pattern area and verifies every block.
fio --name=verify --filename="/dev/$dev" --direct=1 --ioengine=libaio \
    --rw=randwrite --bs=64k --iodepth=8 --offset=16M --size=64M \
    --verify=crc32c --verify_fatal=1 --do_verify=1 \
    --output-format=json --output="$RNBD_SHARED/fio-verify.json"
written=$(jq '.jobs[0].write.io_bytes' "$RNBD_SHARED/fio-verify.json")
verified=$(jq '.jobs[0].read.io_bytes' "$RNBD_SHARED/fio-verify.json")
errors=$(jq '.jobs[0].error' "$RNBD_SHARED/fio-verify.json")
expect_eq "$written" $((64 << 20)) "fio bytes written"
expect_eq "$verified" $((64 << 20)) "fio bytes read back and verified"
expect_eq "$errors" 0 "fio errors"

# A random pattern whose checksum the server checks in its ramdisk.
head -c $((16 << 20)) /dev/urandom > /tmp/pattern
sha256sum < /tmp/pattern | cut -d' ' -f1 > "$RNBD_SHARED/pattern.sha256"
dd if=/tmp/pattern of="/dev/$dev" bs=1M oflag=direct conv=fsync status=none
expect_eq "$(sha_of "/dev/$dev" $((16 << 20)))" "$(cat "$RNBD_SHARED/pattern.sha256")" "sha256 read back through /dev/$dev"

wait_for server-checked 300
rnbd_unmap "$dev"
[[ ! -e /dev/$dev ]] || fail "/dev/$dev still exists after unmap"
[[ -z $(ls "$RNBD_CLT_CTL/devices") ]] || fail "ctl/devices not empty after unmap"
signal client-unmapped
unload_upstream_module rnbd_client
rxe_down

summary "client: mapped /dev/$dev (128 MiB) from $RNBD_VM1_IP:/dev/ram0 in $map_seconds s"
summary "client: fio crc32c verify of 64 MiB: $((written >> 20)) MiB written, $((verified >> 20)) MiB verified, 0 errors"
summary "client: 16 MiB random pattern written, read back equal; unmapped cleanly"
