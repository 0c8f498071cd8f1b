# VM 1: our rnbd_server.ko (milestone 1) for the peer on VM 2.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

mod=rnbd_server

ko=$(modinfo -n rnbd_server) || fail "no module rnbd_server in the installed tree (make install)"
[[ -f $ko ]] || fail "no $ko"
closed() { dmesg | grep -c "rtrs server: path closed" || true; }
rsps() { dmesg | grep -c "INFO_RSP sent (64 chunk MRs)" || true; }

# Phase 1: defaults (512 chunks of 128 KiB).
modprobe $mod
expect_modinfo_complete rnbd_server
expect_file /sys/module/rnbd_server/parameters/port_nr 1234
expect_file /sys/module/rnbd_server/parameters/sess_queue_depth 512
expect_file /sys/module/rnbd_server/parameters/max_chunk_size 131072
expect_file /sys/module/rnbd_server/parameters/always_invalidate Y
expect_file /sys/module/rnbd_server/parameters/dev_search_path /
signal ready-512
wait_for peer-done-512 120
wait_until 20 test "$(closed)" -ge 1
rmmod rnbd_server

# Refused parameters, at load and with the messages of upstream's
# check_module_params().
expect_fail "Invalid argument" modprobe $mod max_chunk_size=12288
in_dmesg "Invalid max_chunk_size value 12288, has to be >= 8192 and should be power of two." ||
    fail "no max_chunk_size message"
for qd in 0 -1 65536; do
    expect_fail "Invalid argument" modprobe $mod sess_queue_depth=$qd
    in_dmesg "Invalid sess_queue_depth value $qd, has to be >= 1, <= 65535." || fail "no sess_queue_depth message for $qd"
done
expect_fail "Invalid argument" modprobe $mod sess_queue_depth=65535
in_dmesg "RDMA immediate size (28b) not enough to encode 65535 buffers of size 131072B. Reduce 'sess_queue_depth' or 'max_chunk_size' parameters." ||
    fail "no immediate-size message"
log "ok: bad sess_queue_depth and max_chunk_size refused at load with upstream's messages"

# Phase 2: 64 chunks.
load_module brd rd_nr=1 rd_size=8192
modprobe $mod sess_queue_depth=64
signal ready-64
wait_for peer-cycles-done 300
n=$(closed)
log "paths closed so far: $n"
((n >= 7)) || fail "expected >= 7 closed paths, saw $n"
dmesg | grep "connection(s), queue depth 64" >/dev/null || fail "no connected path of queue depth 64"

# rmmod with a session up closes it, as upstream's module exit (the peer
# holds ram0 open for 20 s and sees the server close the connection).
wait_for peer-holding 120
rmmod rnbd_server || fail "rmmod with a session up"
in_dmesg "rtrs server closed, 1 path(s) closed at exit" || fail "the unload did not close the held session"
log "ok: rmmod closed the held session"
signal server-unloaded

# 10 load/unload cycles.
for i in $(seq 10); do
    modprobe $mod sess_queue_depth=64
    rmmod rnbd_server
done
summary "rnbd_server: INFO exchange at queue depth 512 and 64, $n paths closed on disconnect, rmmod with a session up closes it, 3 refused loads, 10 load/unload cycles"
