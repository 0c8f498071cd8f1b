# VM 1: the server under test ($SERVER_IMPL, default rust) exporting a
# 512 MiB brd ramdisk to the upstream C client on VM 2.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

sess=cvr
clt=$RNBD_VM2_IP
srv=$RNBD_VM1_IP
load_module brd rd_nr=1 rd_size=$((512 << 10))
# brd has no volatile cache, so the client sends it no flushes: a
# memory-backed null_blk with a write-back cache (and FUA) takes them.
load_module null_blk nr_devices=1 gb=1 memory_backed=1 cache_size=16 discard=1
# flushes DEV: completed flush requests (field 16 of /sys/block/DEV/stat).
flushes() { awk '{print $16}' "/sys/block/$1/stat"; }
rnbd_server_load
[[ -d $RNBD_SRV_CTL ]] || fail "no $RNBD_SRV_CTL"
signal server-ready

# The server's sysfs while the client has the device mapped (§8.2, §8.4).
wait_for client-mapped 300
dev=$RNBD_SRV_CTL/devices/ram0
[[ -d $dev ]] || fail "no exported device at $dev"
expect_eq "$(ls "$RNBD_SRV_CTL/devices")" ram0 "exported devices"
[[ -L $dev/block_dev ]] || fail "$dev/block_dev is not a symlink"
expect_eq "$(readlink -f "$dev/block_dev")" /sys/devices/virtual/block/ram0 "$dev/block_dev target"
expect_eq "$(ls "$dev/sessions")" "$sess" "sessions of ram0"
s=$dev/sessions/$sess
expect_file "$s/read_only" 0
expect_file "$s/access_mode" rw
expect_file "$s/mapping_path" /dev/ram0
expect_eq "$(ls /sys/class/rtrs-server)" "$sess" "rtrs-server sessions"
pname=ip:$clt@ip:$srv
expect_eq "$(rtrs_paths rtrs-server "$sess")" "$pname" "rtrs-server path (<client>@<server>)"
path=/sys/class/rtrs-server/$sess/paths/$pname
expect_file "$path/hca_name" rxe0
expect_file "$path/hca_port" 1
expect_file "$path/src_addr" "ip:$clt"
expect_file "$path/dst_addr" "ip:$srv"
read -r rc0 rb0 wc0 wb0 <<<"$(rtrs_srv_stats_rdma "$sess" "$pname")"
log "stats/rdma after mapping: $rc0 $rb0 $wc0 $wb0"
signal server-checked

# After fio, the path's counters account for at least what fio moved:
# every write carries its data (+ header) in the chunk, every read at
# most max_io_size (126976) bytes.
wait_for client-fio-done 600
read -r rc1 rb1 wc1 wb1 <<<"$(rtrs_srv_stats_rdma "$sess" "$pname")"
log "stats/rdma after fio: $rc1 $rb1 $wc1 $wb1"
fio_wb=$(cat "$RNBD_SHARED/fio-write-bytes")
fio_rb=$(cat "$RNBD_SHARED/fio-read-bytes")
((wb1 - wb0 >= fio_wb)) || fail "stats/rdma write bytes grew by $((wb1 - wb0)), fio wrote $fio_wb"
((rc1 - rc0 >= (fio_rb + 126975) / 126976)) || fail "stats/rdma read count grew by $((rc1 - rc0)) for $fio_rb bytes read"
((wc1 > wc0 && rb1 > rb0)) || fail "stats/rdma write count or read bytes did not grow"
log "ok: stats/rdma grew by $((rc1 - rc0)) reads and $((wc1 - wc0)) writes ($(((wb1 - wb0) >> 20)) MiB) for fio's $((fio_wb >> 20)) MiB written"
# Writing 1 resets the counters, anything else is refused.
expect_fail "Invalid argument" bash -c "echo 0 > $path/stats/rdma"
echo 1 > "$path/stats/rdma"
read -r z1 z2 z3 z4 <<<"$(rtrs_srv_stats_rdma "$sess" "$pname")"
# Heartbeats are not counted, but the client's ext4 IO may already run.
log "stats/rdma after reset: $z1 $z2 $z3 $z4"
((z4 < wb1 - wb0)) || fail "stats/rdma not reset: write bytes $z4"

# Flushes: what the client's fsyncs on nullb0 turned into at the server.
fl0=$(flushes nullb0)
signal server-flush-ready
wait_for client-flush-done 300
expect_file "$RNBD_SRV_CTL/devices/nullb0/sessions/$sess/mapping_path" /dev/nullb0
fl1=$(flushes nullb0)
fsyncs=$(cat "$RNBD_SHARED/fio-flush-syncs")
((fl1 > fl0)) || fail "nullb0 completed no flush for the client's $fsyncs fsyncs"
log "ok: nullb0 completed $((fl1 - fl0)) flushes for the client's $fsyncs fsyncs"
signal server-stats-checked

wait_for client-unmapped 600
wait_until 20 test ! -e "$dev"
wait_until 20 test ! -e "$RNBD_SRV_CTL/devices/nullb0"
wait_until 20 test ! -e "/sys/class/rtrs-server/$sess"
# The client's files are in the server's ramdisk, byte for byte.
mkdir -p /tmp/mnt
mount -t ext4 -o ro,noload /dev/ram0 /tmp/mnt || fail "mount /dev/ram0 on the server"
(cd /tmp/mnt && sha256sum -c --quiet "$RNBD_SHARED/files.sha256") || fail "the client's files differ in the server's ramdisk"
n=$(wc -l < "$RNBD_SHARED/files.sha256")
umount /tmp/mnt
summary "server ($SERVER_IMPL): sysfs of ram0/$sess and path $pname as upstream; nullb0 completed $((fl1 - fl0)) flushes for $fsyncs fsyncs; stats/rdma +$((rc1 - rc0)) reads, +$((wc1 - wc0)) writes ($(((wb1 - wb0) >> 20)) MiB); the client's $n ext4 files verified in /dev/ram0"

rnbd_server_unload
unload_module null_blk
unload_module brd
rxe_down
