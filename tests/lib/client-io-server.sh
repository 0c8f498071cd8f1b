# VM 1 of the client IO acceptance scenarios (rust-client-vs-c-server-2vm,
# rust-client-vs-rust-server-2vm): the server chosen by the scenario
# ($SERVER_IMPL, set before sourcing this) exports a 512 MiB brd (fio,
# trims, ext4) and a memory-backed null_blk with a write-back cache and FUA
# (brd has no volatile cache, so the client sends it no flushes: nullb0
# takes the client's fsyncs as flushes). The client side is
# client-io-client.sh.
# The same layout as c-client-vs-rust-server-2vm.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

sess=cio
rnbd_deep_net_queues
load_module brd rd_nr=1 rd_size=$((512 << 10))
load_module null_blk nr_devices=1 gb=1 memory_backed=1 cache_size=16
# flushes DEV: completed flush requests (field 16 of /sys/block/DEV/stat).
flushes() { awk '{print $16}' "/sys/block/$1/stat"; }
# discards DEV: completed discard requests (field 12).
discards() { awk '{print $12}' "/sys/block/$1/stat"; }
rnbd_server_load
signal server-ready

wait_for client-mapped 300
for d in ram0 nullb0; do
    expect_file "$RNBD_SRV_CTL/devices/$d/sessions/$sess/mapping_path" "/dev/$d"
    expect_file "$RNBD_SRV_CTL/devices/$d/sessions/$sess/access_mode" rw
done
fl0=$(flushes nullb0)
dc0=$(discards ram0)
signal server-checked

wait_for client-fio-done 900
fl1=$(flushes nullb0)
dc1=$(discards ram0)
fsyncs=$(cat "$RNBD_SHARED/fio-fsyncs")
((fl1 > fl0)) || fail "nullb0 completed no flush for the client's $fsyncs fsyncs"
# (brd may not account discards: logged, not asserted; the client checks
# that trimmed blocks read back as zeroes.)
log "ok: nullb0 completed $((fl1 - fl0)) flushes for $fsyncs fsyncs; ram0 $((dc1 - dc0)) discards"
signal server-fio-checked

wait_for client-done 900
wait_until 30 test ! -e "$RNBD_SRV_CTL/devices/ram0"
wait_until 30 test ! -e "$RNBD_SRV_CTL/devices/nullb0"
wait_until 30 test ! -e "/sys/class/rtrs-server/$sess"
rnbd_server_unload
unload_module null_blk
unload_module brd
rxe_down
summary "server ($SERVER_IMPL): nullb0 completed $((fl1 - fl0)) flushes for the client's $fsyncs fsyncs, ram0 $((dc1 - dc0)) discards; no session left after the unmap"
