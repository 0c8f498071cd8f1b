# VM 2: the upstream C rnbd_client maps VM 1's 512 MiB ramdisk from the
# server under test and moves verified data: fio, then ext4.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

sess=cvr
out=$RNBD_SHARED
load_module rnbd_client
wait_for server-ready 300
wait_reachable "$RNBD_VM1_IP"

start=$(now)
dev=$(rnbd_map "sessname=$sess path=ip:$RNBD_VM1_IP device_path=/dev/ram0")
map_s=$(elapsed "$start")
log "mapped /dev/$dev in $map_s s"
[[ -b /dev/$dev ]] || fail "/dev/$dev is not a block device"
expect_eq "$(blockdev --getsize64 "/dev/$dev")" $((512 << 20)) "size of /dev/$dev"
expect_file "/sys/block/$dev/rnbd/state" open
expect_file "/sys/block/$dev/rnbd/access_mode" rw
dmax=$(cat "/sys/block/$dev/queue/discard_max_bytes")
((dmax > 0)) || fail "/dev/$dev does not advertise discard"
log "/dev/$dev: discard_max_bytes $dmax, write_cache '$(cat "/sys/block/$dev/queue/write_cache")', max_sectors_kb $(cat "/sys/block/$dev/queue/max_sectors_kb")"
signal client-mapped
wait_for server-checked 300
c_client_preempt_workaround "$sess"

# fio_check NAME: fio's JSON of job NAME must show no error.
fio_json() { jq -r ".jobs[0].$2" "$out/fio-$1.json"; }
fio_run() {
    local name=$1
    shift
    fio --name="$name" --filename="/dev/$dev" --direct=1 --ioengine=libaio \
        --output-format=json --output="$out/fio-$name.json" "$@" ||
        fail "fio $name failed: $(cat "$out/fio-$name.json" 2>/dev/null | tail -5)"
    expect_eq "$(fio_json "$name" error)" 0 "fio $name errors"
}

# 1. 256 MiB (from 64 MiB on) of mixed random reads and writes (4k..128k, 128k is larger
# than max_io_size and split), an fsync every 32 writes (brd is write
# through, so the client completes those without a flush on the wire: see
# 4), crc32c on every written block, then a verify pass over everything
# written.
fio_start=$(now)
fio_run mixed --rw=randrw --rwmixread=50 --bssplit=4k/25:32k/25:128k/50 \
    --offset=64M --size=256M --iodepth=16 --fsync=32 \
    --verify=crc32c --do_verify=1 --verify_fatal=1
mixed_s=$(elapsed "$fio_start")
mw=$(fio_json mixed write.io_bytes)
mr=$(fio_json mixed read.io_bytes)
syncs=$(fio_json mixed sync.total_ios)
# read.io_bytes = the mix's reads + the verify pass (= what was written).
expect_eq "$mr" $((256 << 20)) "fio mixed: reads (mixed + verify of $mw written bytes)"
((mw > 64 << 20 && mw < 192 << 20)) || fail "fio mixed: $mw bytes written, not a 50/50 mix"
((syncs > 0)) || fail "fio mixed: no fsync issued"
mixed_ms=$(fio_json mixed job_runtime)
mixed_mbs=$(echo "scale=1; ($mw + $mr) / 1048576 * 1000 / $mixed_ms" | bc)
log "fio mixed: $((mw >> 20)) MiB written, $((mr >> 20)) MiB read (mixed + verify), $syncs fsyncs, $mixed_mbs MB/s in ${mixed_ms} ms"

# 2. Random trim+write over the first 64 MiB: each block discarded then
# written, crc32c verified. (At offset 0: fio 3.33's randtrimwrite issues
# only the trims when given a non-zero offset.)
fio_run trimwrite --rw=randtrimwrite --bs=64k --offset=0 --size=64M --iodepth=8 \
    --verify=crc32c --do_verify=1 --verify_fatal=1
expect_eq "$(fio_json trimwrite trim.io_bytes)" $((64 << 20)) "fio trimwrite: bytes trimmed"
expect_eq "$(fio_json trimwrite write.io_bytes)" $((64 << 20)) "fio trimwrite: bytes written"
expect_eq "$(fio_json trimwrite read.io_bytes)" $((64 << 20)) "fio trimwrite: bytes verified"

# 3. Discard those 64 MiB of data in 1 MiB trims; they must read back as
# zeroes (brd frees discarded pages).
fio_run trim --rw=trim --bs=1M --offset=0 --size=64M --iodepth=4
expect_eq "$(fio_json trim trim.io_bytes)" $((64 << 20)) "fio trim: bytes trimmed"
fio_run zeroes --rw=write --bs=1M --offset=0 --size=64M --iodepth=4 \
    --verify=pattern --verify_pattern=0x00 --verify_only=1 --verify_fatal=1
expect_eq "$(fio_json zeroes read.io_bytes)" $((64 << 20)) "fio zeroes: bytes verified as zeroes"
fio_s=$(elapsed "$fio_start")

echo $((mw + $(fio_json trimwrite write.io_bytes))) > "$out/fio-write-bytes"
echo $((mr + $(fio_json trimwrite read.io_bytes) + $(fio_json zeroes read.io_bytes))) > "$out/fio-read-bytes"
signal client-fio-done

# 4. Flush on the wire: nullb0 (write-back cache + FUA) on the same
# session; random writes with an fsync every 8, crc32c verified.
wait_for server-flush-ready 300
fdev=$(rnbd_map "sessname=$sess path=ip:$RNBD_VM1_IP device_path=/dev/nullb0")
expect_file "/sys/block/$fdev/queue/write_cache" "write back"
expect_file "/sys/block/$fdev/queue/fua" 1
dev0=$dev
dev=$fdev
fio_run flush --rw=randwrite --bs=16k --size=32M --iodepth=4 --fsync=8 \
    --verify=crc32c --do_verify=1 --verify_fatal=1
dev=$dev0
fsyncs=$(fio_json flush sync.total_ios)
expect_eq "$(fio_json flush write.io_bytes)" $((32 << 20)) "fio flush: bytes written"
expect_eq "$(fio_json flush read.io_bytes)" $((32 << 20)) "fio flush: bytes verified"
# One fsync after every 8th of the 2048 writes but the last.
((fsyncs >= 255)) || fail "fio flush: $fsyncs fsyncs for 2048 writes"
echo "$fsyncs" > "$out/fio-flush-syncs"
signal client-flush-done

# 5. ext4: files of random data, checksummed, across an unmount, a drop of
# the device's cached pages and a remount.
mkfs.ext4 -q -F "/dev/$dev" || fail "mkfs.ext4 /dev/$dev"
mkdir -p /tmp/mnt
mount "/dev/$dev" /tmp/mnt || fail "mount /dev/$dev"
for i in 1 2 3 4 5 6 7 8; do
    head -c $((i * 1536 << 10)) /dev/urandom > "/tmp/mnt/file$i"
done
mkdir /tmp/mnt/dir
head -c $((3 << 20)) /dev/urandom > /tmp/mnt/dir/nested
(cd /tmp/mnt && sha256sum file* dir/nested) > "$out/files.sha256"
umount /tmp/mnt
blockdev --flushbufs "/dev/$dev"
echo 3 > /proc/sys/vm/drop_caches
mount "/dev/$dev" /tmp/mnt || fail "remount /dev/$dev"
(cd /tmp/mnt && sha256sum -c --quiet "$out/files.sha256") || fail "checksums differ after the remount"
nfiles=$(wc -l < "$out/files.sha256")
log "ok: $nfiles files equal after the remount"
umount /tmp/mnt

wait_for server-stats-checked 300
rnbd_unmap "$fdev"
rnbd_unmap "$dev"
[[ ! -e /dev/$dev ]] || fail "/dev/$dev still exists after unmap"
[[ -z $(ls "$RNBD_CLT_CTL/devices") ]] || fail "ctl/devices not empty after unmap"
wait_until 20 test ! -e "/sys/class/rtrs-client/$sess"
signal client-unmapped
unload_module rnbd_client
rxe_down

tw_ms=$(fio_json trimwrite job_runtime)
summary "client: server $SERVER_IMPL; /dev/$dev (512 MiB) mapped in $map_s s; fio phases took $fio_s s"
summary "client: fio mixed randrw 4k-128k QD16 + fsync/32: $((mw >> 20)) MiB written, $((mr >> 20)) MiB read incl. verify, $syncs fsyncs, 0 errors, $mixed_mbs MB/s ($(($(fio_json mixed read.bw) / 1024)) MB/s read, $(($(fio_json mixed write.bw) / 1024)) MB/s write)"
summary "client: fio randtrimwrite 64 MiB (64k trim + write each block, then verify) in $(echo "scale=1; $tw_ms / 1000" | bc) s; 64 MiB trimmed then read back as zeroes"
summary "client: /dev/$fdev (nullb0, write back + FUA): fio randwrite 32 MiB with $fsyncs fsyncs verified"
summary "client: ext4: $nfiles files sha256-equal across unmount/remount; unmapped cleanly"
