# Drives tests/modules/rnbd_blk_test: blk-mq disks whose limits and size
# come from a backing device and whose requests become bios on it.
# Backings: brd (discard, no write cache, synchronous bios in process
# context), null_blk (memory-backed, write cache with FUA, discard,
# completions from an hrtimer, i.e. hard interrupts) and loop on a tmpfs
# file (write-zeroes). Checks limits, data (fio verify, byte-exact against
# the backing device), flush, FUA, discard, write-zeroes, errnos, resize,
# read-only, removal under IO, and 50 load/unload cycles.
. "$RNBD_REPO/tests/lib/common.sh"

mod=rnbd_blk_test

ko=$(modinfo -n rnbd_blk_test) || fail "no module rnbd_blk_test in the installed tree (make install)"
ctl=/sys/devices/virtual/rnbd-blk-test/ctl
MiB=$((1 << 20))

# create PATH: makes a disk on PATH and prints its name.
create() {
    local before
    before=$(cut -d' ' -f1 "$ctl/disks")
    echo "$1" > "$ctl/create" || fail "create on $1"
    cut -d' ' -f1 "$ctl/disks" | grep -vxF -e "$before" -e '' || fail "no new disk for $1"
}

# stat_of DISK COUNTER: a counter from ctl/stats.
stat_of() {
    local line
    line=$(grep "^$1 " "$ctl/stats") || fail "no stats for $1"
    tr ' ' '\n' <<< "$line" | sed -n "s/^$2=//p"
}

# check_limits DISK BACKING: the queue limits the disk took from its backing.
check_limits() {
    local f
    for f in logical_block_size physical_block_size max_hw_sectors_kb max_segments \
        max_segment_size virt_boundary_mask discard_granularity discard_max_hw_bytes \
        write_zeroes_max_bytes write_cache fua rotational; do
        expect_eq "$(cat "/sys/block/$1/queue/$f")" "$(cat "/sys/block/$2/queue/$f")" "$1 queue/$f (as $2)"
    done
    expect_eq "$(cat "/sys/block/$1/discard_alignment")" "$(cat "/sys/block/$2/discard_alignment")" "$1 discard_alignment"
    expect_eq "$(cat "/sys/block/$1/size")" "$(cat "/sys/block/$2/size")" "$1 size"
}

# fill DEV OFFSET_MIB LEN_MIB: random data.
fill() {
    dd if=/dev/urandom of="$1" bs=1M seek="$2" count="$3" oflag=direct conv=fsync status=none
}

# zeros DEV OFFSET_MIB LEN_MIB: the range reads back as zeros.
zeros() {
    dd if="$1" bs=1M skip="$2" count="$3" iflag=direct status=none | cmp -s -n $(($3 * MiB)) - /dev/zero
}

# fio_verify NAME DEV ARGS...: a crc32c-verified fio job; checks that it
# wrote, read back at least as much (every written block is verified;
# randrw reads more) and had no error; sets fio_mib to the MiB written.
fio_verify() {
    local name=$1 dev=$2 json=$RNBD_SHARED/fio-$1.json written read
    shift 2
    fio --name="$name" --filename="$dev" --direct=1 --verify=crc32c --verify_fatal=1 \
        --do_verify=1 --output-format=json --output="$json" "$@" >/dev/null \
        || fail "fio $name on $dev"
    written=$(jq '.jobs[0].write.io_bytes' "$json")
    read=$(jq '.jobs[0].read.io_bytes' "$json")
    expect_eq "$(jq '.jobs[0].error' "$json")" 0 "fio $name errors"
    ((written > 0 && read >= written)) || fail "fio $name wrote $written bytes, read $read"
    log "fio $name: $written bytes written, $read read, verified"
    fio_mib=$((written / MiB))
}

load_module brd rd_nr=2 rd_size=32768
modprobe $mod
[[ -d $ctl ]] || fail "no $ctl"
expect_eq "$(cd "$ctl" && ls create destroy disks inject read_only resize stats | tr '\n' ' ')" \
    "create destroy disks inject read_only resize stats " "ctl entries"
expect_file "$ctl/create" "Usage: echo <block device path> [<logical block size>] > create"
expect_file "$ctl/disks" ""
major=$(awk '$2 == "rnbdblktest" {print $1}' /proc/devices)
[[ -n $major ]] || fail "no rnbdblktest major in /proc/devices"

# --- brd: limits, data, discard, write-zeroes fallback, errnos ---------------
d0=$(create /dev/ram0)
expect_eq "$d0" rnbdblktest0 "first disk name"
[[ -b /dev/$d0 ]] || fail "/dev/$d0 is not a block device"
expect_file "/sys/block/$d0/dev" "$major:0"
expect_file "$ctl/disks" "$d0 /dev/ram0 65536 0"
expect_file "/sys/block/$d0/blktest/backing" /dev/ram0
check_limits "$d0" ram0

fio_verify brd-randrw "/dev/$d0" --ioengine=libaio --iodepth=16 --rw=randrw \
    --bsrange=4k-256k --size=8M
mib=$fio_mib
((mib >= 2)) || fail "fio brd-randrw wrote only $mib MiB"
splits=$(stat_of "$d0" split_requests)
((splits > 0)) || fail "no request was split into several bios"
(($(stat_of "$d0" completions) > 0)) || fail "no read ended through blk_mq_complete_request"
# Every 3rd dispatch handed back once, as busy, requeued or device-busy:
# still all verified.
echo "$d0 3" > "$ctl/inject"
fio_verify brd-inject "/dev/$d0" --ioengine=libaio --iodepth=8 --rw=randwrite \
    --bsrange=4k-64k --offset=14M --size=2M
echo "$d0 0" > "$ctl/inject"
busy=$(stat_of "$d0" busy_injected)
requeues=$(stat_of "$d0" requeues)
((busy > 0 && requeues > 0)) || fail "injection: $busy busy, $requeues requeued"
fill "/dev/$d0" 16 16
expect_eq "$(sha_of "/dev/$d0" $((32 * MiB)))" "$(sha_of /dev/ram0 $((32 * MiB)))" "sha256 of $d0 and ram0"
log "brd: fio $mib MiB verified, $splits requests split, contents equal"

# Discard: brd drops whole pages, which then read as zeros.
fill "/dev/$d0" 8 6
zeros "/dev/$d0" 8 4 && fail "random data reads as zeros"
blkdiscard -o $((8 * MiB)) -l $((4 * MiB)) "/dev/$d0"
zeros "/dev/$d0" 8 4 || fail "discarded range of $d0 is not zero"
zeros /dev/ram0 8 4 || fail "discarded range of ram0 is not zero"
(($(stat_of "$d0" discards) > 0)) || fail "no discard reached the driver"

# brd has no write-zeroes: blkdiscard -z makes the block layer write zero
# pages through the disk instead.
expect_file "/sys/block/$d0/queue/write_zeroes_max_bytes" 0
blkdiscard -z -o $((12 * MiB)) -l $((2 * MiB)) "/dev/$d0"
zeros "/dev/$d0" 12 2 || fail "zeroed range of $d0 is not zero"
zeros /dev/ram0 12 2 || fail "zeroed range of ram0 is not zero"
expect_eq "$(stat_of "$d0" write_zeroes)" 0 "write-zeroes requests on brd"

# Secure erase is supported by none of the backings.
expect_fail "Operation not supported" blkdiscard -s -o 0 -l $MiB "/dev/$d0"

# Resize and read-only.
echo "$d0 32768" > "$ctl/resize"
expect_eq "$(blockdev --getsz "/dev/$d0")" 32768 "$d0 sectors after shrinking"
expect_fail "Invalid argument" bash -c "echo '$d0 65537' > $ctl/resize"
echo "$d0 65536" > "$ctl/resize"
expect_eq "$(blockdev --getsz "/dev/$d0")" 65536 "$d0 sectors after growing back"
echo "$d0 1" > "$ctl/read_only"
expect_eq "$(blockdev --getro "/dev/$d0")" 1 "$d0 read-only"
expect_file "$ctl/disks" "$d0 /dev/ram0 65536 1"
expect_fail "Operation not permitted" dd if=/dev/zero of="/dev/$d0" bs=4k count=1 oflag=direct status=none
echo "$d0 0" > "$ctl/read_only"
expect_eq "$(blockdev --getro "/dev/$d0")" 0 "$d0 writable again"

# Bad input: the errno reaches the writer.
expect_fail "Invalid argument" bash -c "echo > $ctl/create"
expect_fail "No such file or directory" bash -c "echo /dev/nosuch > $ctl/create"
touch /tmp/regular
expect_fail "Block device required" bash -c "echo /tmp/regular > $ctl/create"
expect_fail "Device or resource busy" bash -c "echo /dev/ram0 > $ctl/create"
blockdev --setro /dev/ram1
expect_fail "Permission denied" bash -c "echo /dev/ram1 > $ctl/create"
blockdev --setrw /dev/ram1
expect_fail "File name too long" bash -c "echo /$(printf 'x%.0s' $(seq 300)) > $ctl/create"
expect_fail "No such file or directory" bash -c "echo nosuch > $ctl/destroy"
expect_fail "Invalid argument" bash -c "echo '$d0 lots' > $ctl/resize"
expect_fail "Invalid argument" bash -c "echo '$d0' > $ctl/resize"
expect_fail "No such file or directory" bash -c "echo 'nosuch 8' > $ctl/resize"
expect_fail "Invalid argument" bash -c "echo '$d0 2' > $ctl/read_only"
# Limits the block layer would warn about are refused before it sees them.
expect_fail "Invalid argument" bash -c "echo '/dev/ram1 1000' > $ctl/create"
expect_fail "Invalid argument" bash -c "echo '/dev/ram1 8192' > $ctl/create"
expect_fail "Invalid argument" bash -c "echo '/dev/ram1 256' > $ctl/create"
# A larger logical block size than the backing's works.
d4k=$(create "/dev/ram1 4096")
expect_file "/sys/block/$d4k/queue/logical_block_size" 4096
expect_fail "Invalid argument" dd if=/dev/zero of="/dev/$d4k" bs=512 count=1 oflag=direct status=none
fill "/dev/$d4k" 0 4
expect_eq "$(sha_of "/dev/$d4k" $((4 * MiB)))" "$(sha_of /dev/ram1 $((4 * MiB)))" "sha256 of $d4k (4 KiB blocks) and ram1"
echo "$d4k" > "$ctl/destroy"
expect_fail "Permission denied" cat "$ctl/destroy"
expect_eq "$(stat_of "$d0" errors)" 0 "failed requests on $d0"
summary "brd: limits as ram0; fio crc32c randrw 4k-256k ($mib MiB, $splits requests split into several bios), again with $busy requests handed back busy or device-busy and $requeues requeued; /sys/block/$d0/blktest under the disk; 32 MiB sha256 equal to ram0; discard and blkdiscard -z read back zeros; secure erase EOPNOTSUPP; resize, read-only; 17 errno checks; a 4 KiB-block disk on ram1"

# --- null_blk: write cache, FUA, flushes, completions in hard irq -------------
load_module null_blk nr_devices=1 queue_mode=2 memory_backed=1 cache_size=16 discard=1 \
    gb=1 irqmode=2 completion_nsec=1000000
d1=$(create /dev/nullb0)
check_limits "$d1" nullb0
expect_file "/sys/block/$d1/queue/write_cache" "write back"
expect_file "/sys/block/$d1/queue/fua" 1
fio_verify nullb-fsync "/dev/$d1" --ioengine=libaio --iodepth=8 --rw=randwrite \
    --bsrange=4k-128k --size=12M --fsync=4
mib=$fio_mib
flushes=$(stat_of "$d1" flushes)
((flushes > 0)) || fail "fsync sent no flush to the driver"
fio_verify nullb-fua "/dev/$d1" --ioengine=psync --sync=1 --rw=randwrite --bs=4k \
    --offset=16M --size=1M
fua=$(stat_of "$d1" fua_writes)
((fua > 0)) || fail "O_SYNC direct writes sent no FUA write to the driver"
fill "/dev/$d1" 24 8
blkdiscard -o $((24 * MiB)) -l $((4 * MiB)) "/dev/$d1"
zeros "/dev/$d1" 24 4 || fail "discarded range of $d1 is not zero"
zeros /dev/nullb0 24 4 || fail "discarded range of nullb0 is not zero"
zeros /dev/nullb0 28 4 && fail "discard went past its range"
expect_eq "$(sha_of "/dev/$d1" $((32 * MiB)))" "$(sha_of /dev/nullb0 $((32 * MiB)))" "sha256 of $d1 and nullb0"
expect_eq "$(stat_of "$d1" errors)" 0 "failed requests on $d1"
summary "null_blk: write back + FUA as nullb0; fio verify with fsync ($mib MiB, $flushes flushes) and O_SYNC ($fua FUA writes), bios ending in hard irq; discard; 32 MiB sha256 equal"

# The module stays while a disk is open.
exec 3< "/dev/$d1"
expect_fail "in use" rmmod rnbd_blk_test
exec 3<&-

# Removal with IO in flight: fio keeps 32 requests queued on the timer-
# completed null_blk; destroy waits for those in flight, later IO fails.
fio --name=inflight --filename="/dev/$d1" --direct=1 --ioengine=libaio --iodepth=32 \
    --rw=randrw --bs=16k --size=64M --time_based --runtime=30 >/dev/null 2>&1 &
fio_pid=$!
loaded() { (($(stat_of "$d1" reads) + $(stat_of "$d1" writes) > 2000)); }
wait_until 30 loaded
busy() { read -r r w < "/sys/block/$d1/inflight" && ((r + w > 0)); }
wait_until 10 busy
read -r r w < "/sys/block/$d1/inflight"
inflight=$((r + w))
start=$(now)
echo "$d1" > "$ctl/destroy"
destroy_s=$(elapsed "$start")
[[ ! -e /sys/block/$d1 ]] || fail "$d1 still in /sys/block after destroy"
grep -q "^$d1 " "$ctl/disks" && fail "$d1 still listed"
[[ ! -e /sys/block/$d1/blktest ]] || fail "$d1 sysfs directory left"
fio_rc=0
wait "$fio_pid" || fio_rc=$?
log "destroyed $d1 with $inflight requests in flight in $destroy_s s; fio exited $fio_rc"
summary "removal under a 32-deep fio load on null_blk ($inflight requests in flight): destroy returned in $destroy_s s"

# --- loop on tmpfs: write-zeroes ----------------------------------------------
truncate -s 32M /tmp/backing.img
loop=$(losetup -f --show /tmp/backing.img)
d2=$(create "$loop")
check_limits "$d2" "${loop#/dev/}"
(($(cat "/sys/block/$d2/queue/write_zeroes_max_bytes") > 0)) || fail "loop offers no write-zeroes"
fill "/dev/$d2" 0 8
# fallocate --punch-hole on a block device is a write-zeroes that may unmap
# (no fallback): loop punches a hole in the tmpfs file.
fallocate -p -o 0 -l $((4 * MiB)) "/dev/$d2"
zeros "/dev/$d2" 0 4 || fail "punched range of $d2 is not zero"
zeros "$loop" 0 4 || fail "punched range of $loop is not zero"
zeros "/dev/$d2" 4 4 && fail "punch went past its range"
wz=$(stat_of "$d2" write_zeroes)
((wz > 0)) || fail "no write-zeroes reached the driver"
# blkdiscard -z asks for zeroes without unmapping: tmpfs cannot, loop fails
# it with EOPNOTSUPP, the driver ends its request with that errno, and the
# block layer falls back to writing zero pages.
blkdiscard -z -o $((4 * MiB)) -l $((4 * MiB)) "/dev/$d2"
zeros "/dev/$d2" 4 4 || fail "zeroed range of $d2 is not zero"
(($(stat_of "$d2" write_zeroes_nounmap) > 0)) || fail "no NOUNMAP write-zeroes reached the driver"
(($(stat_of "$d2" errors) > 0)) || fail "the refused write-zeroes did not fail its request"
fio_verify loop-rw "/dev/$d2" --ioengine=libaio --iodepth=8 --rw=randrw --bs=64k \
    --offset=16M --size=8M --fsync=8
expect_eq "$(sha_of "/dev/$d2" $((32 * MiB)))" "$(sha_of "$loop" $((32 * MiB)))" "sha256 of $d2 and $loop"
summary "loop on tmpfs: write-zeroes ($wz requests) read back zeros; NOUNMAP refused by tmpfs comes back as EOPNOTSUPP and the block layer falls back; fio verify; sha256 equal"

# Module exit removes the disks that are left ($d0 and $d2).
rmmod rnbd_blk_test
[[ ! -e $ctl && ! -e /sys/block/$d0 && ! -e /sys/block/$d2 ]] || fail "left behind after rmmod"
dmesg | grep "rnbd_blk_test: unloaded, 2 disk(s) removed" >/dev/null || fail "no unload line"
grep -q rnbdblktest /proc/devices && fail "major still registered after rmmod"
losetup -d "$loop"

# Load and unload 50 times, each time with a disk left for module exit.
start=$(now)
for i in $(seq 1 50); do
    modprobe $mod
    echo /dev/ram0 > "$ctl/create"
    dd if="/dev/rnbdblktest0" of=/dev/null bs=64k count=4 iflag=direct status=none
    rmmod rnbd_blk_test
done
[[ ! -e $ctl ]] || fail "ctl left after the load cycles"
summary "50 load/unload cycles with a disk each ($(elapsed "$start") s)"
