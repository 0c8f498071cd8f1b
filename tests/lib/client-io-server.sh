# VM 1 of the client IO acceptance scenarios (c-client-vs-rust-server-2vm,
# rust-client-vs-c-server-2vm, rust-client-vs-rust-server-2vm): the server
# chosen by the scenario ($SERVER_IMPL, set before sourcing this) exports a
# 512 MiB brd (fio, trims, ext4) and a memory-backed null_blk with a
# write-back cache and FUA (brd has no volatile cache, so the client sends
# it no flushes: nullb0 takes the client's fsyncs as flushes). Checks the
# server's sysfs (§8.2, §8.4), that stats/rdma accounts for what fio
# moved, and the client's ext4 files in the ramdisk after the unmap. The
# client side is client-io-client.sh.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

sess=cio
clt=$RNBD_VM2_IP
srv=$RNBD_VM1_IP
rnbd_deep_net_queues
load_module brd rd_nr=1 rd_size=$((512 << 10))
load_module null_blk nr_devices=1 gb=1 memory_backed=1 cache_size=16
# flushes DEV: completed flush requests (field 16 of /sys/block/DEV/stat).
flushes() { awk '{print $16}' "/sys/block/$1/stat"; }
# discards DEV: completed discard requests (field 12).
discards() { awk '{print $12}' "/sys/block/$1/stat"; }
rnbd_server_load
[[ -d $RNBD_SRV_CTL ]] || fail "no $RNBD_SRV_CTL"
signal server-ready

# The server's sysfs while the client has both devices mapped.
wait_for client-mapped 300
expect_eq "$(ls "$RNBD_SRV_CTL/devices" | tr '\n' ' ')" "nullb0 ram0 " "exported devices"
for d in ram0 nullb0; do
    dev=$RNBD_SRV_CTL/devices/$d
    [[ -L $dev/block_dev ]] || fail "$dev/block_dev is not a symlink"
    expect_eq "$(readlink -f "$dev/block_dev")" "/sys/devices/virtual/block/$d" "$dev/block_dev target"
    expect_eq "$(ls "$dev/sessions")" "$sess" "sessions of $d"
    expect_file "$dev/sessions/$sess/read_only" 0
    expect_file "$dev/sessions/$sess/access_mode" rw
    expect_file "$dev/sessions/$sess/mapping_path" "/dev/$d"
done
expect_eq "$(ls /sys/class/rtrs-server)" "$sess" "rtrs-server sessions"
pname=ip:$clt@ip:$srv
expect_eq "$(rtrs_paths rtrs-server "$sess")" "$pname" "rtrs-server path (<client>@<server>)"
path=/sys/class/rtrs-server/$sess/paths/$pname
expect_file "$path/hca_name" rxe0
expect_file "$path/hca_port" 1
expect_file "$path/src_addr" "ip:$clt"
expect_file "$path/dst_addr" "ip:$srv"
read -r rc0 rb0 wc0 wb0 <<<"$(rtrs_srv_stats_rdma "$sess" "$pname")"
fl0=$(flushes nullb0)
dc0=$(discards ram0)
signal server-checked

# After fio (the client is idle until server-fio-checked), the path's
# counters account for at least what fio moved: every write carries its
# data (+ header) in the chunk, every read at most max_io_size (126976)
# bytes.
wait_for client-fio-done 900
fl1=$(flushes nullb0)
dc1=$(discards ram0)
fsyncs=$(cat "$RNBD_SHARED/fio-fsyncs")
((fl1 > fl0)) || fail "nullb0 completed no flush for the client's $fsyncs fsyncs"
# (brd may not account discards: logged, not asserted; the client checks
# that trimmed blocks read back as zeroes.)
log "ok: nullb0 completed $((fl1 - fl0)) flushes for $fsyncs fsyncs; ram0 $((dc1 - dc0)) discards"
read -r rc1 rb1 wc1 wb1 <<<"$(rtrs_srv_stats_rdma "$sess" "$pname")"
fio_wb=$(cat "$RNBD_SHARED/fio-write-bytes")
fio_rb=$(cat "$RNBD_SHARED/fio-read-bytes")
((wb1 - wb0 >= fio_wb)) || fail "stats/rdma write bytes grew by $((wb1 - wb0)), fio wrote $fio_wb"
((rc1 - rc0 >= (fio_rb + 126975) / 126976)) || fail "stats/rdma read count grew by $((rc1 - rc0)) for $fio_rb bytes read"
((wc1 > wc0 && rb1 > rb0)) || fail "stats/rdma write count or read bytes did not grow"
log "ok: stats/rdma grew by $((rc1 - rc0)) reads and $((wc1 - wc0)) writes ($(((wb1 - wb0) >> 20)) MiB) for fio's $((fio_wb >> 20)) MiB written"
# Writing 1 resets the counters (heartbeats are not counted), anything
# else is refused.
expect_fail "Invalid argument" bash -c "echo 0 > $path/stats/rdma"
echo 1 > "$path/stats/rdma" || fail "reset $path/stats/rdma"
expect_eq "$(rtrs_srv_stats_rdma "$sess" "$pname")" "0 0 0 0" "stats/rdma after the reset"
signal server-fio-checked

wait_for client-done 900
wait_until 30 test ! -e "$RNBD_SRV_CTL/devices/ram0"
wait_until 30 test ! -e "$RNBD_SRV_CTL/devices/nullb0"
wait_until 30 test ! -e "/sys/class/rtrs-server/$sess"
# The client's ext4 files are in the server's ramdisk, byte for byte.
mkdir -p /tmp/mnt
mount -t ext4 -o ro,noload /dev/ram0 /tmp/mnt || fail "mount /dev/ram0 on the server"
(cd /tmp/mnt && sha256sum -c --quiet "$RNBD_SHARED/files.sha256") || fail "the client's files differ in the server's ramdisk"
nfiles=$(wc -l < "$RNBD_SHARED/files.sha256")
umount /tmp/mnt
rnbd_server_unload
unload_module null_blk
unload_module brd
rxe_down
summary "server ($SERVER_IMPL): sysfs of ram0, nullb0 and path $pname as upstream; nullb0 completed $((fl1 - fl0)) flushes for the client's $fsyncs fsyncs$( ((dc1 > dc0)) && echo ", ram0 $((dc1 - dc0)) discards"); stats/rdma +$((rc1 - rc0)) reads, +$((wc1 - wc0)) writes ($(((wb1 - wb0) >> 20)) MiB) for fio; the client's $nfiles ext4 files verified in /dev/ram0; no session left after the unmap"
