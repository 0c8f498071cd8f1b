# VM 2: the Rust client and the peer, against each server of VM 1 in turn.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"
. "$RNBD_REPO/tests/lib/peer.sh"

srv=$RNBD_VM1_IP
rnbd_deep_net_queues
rnbd_client_load
# The client's trace events (rtrs_clt:*), in their own buffer.
t=/sys/kernel/tracing
[[ -d $t/events ]] || mount -t tracefs nodev "$t" || fail "mount tracefs"
ev=$t/instances/rnbd
mkdir -p "$ev"
[[ -d $ev/events/rtrs_clt ]] || fail "no rtrs_clt trace events"
echo 1 > "$ev/events/rtrs_clt/enable"
fields() { sed -n 's/^\tfield:\([^;]*\);.*/\1/p' "$t/events/$1/format" | tr '\n' ';'; }
clt_events=(rtrs_clt/rtrs_clt_reconnect_work rtrs_clt/rtrs_clt_close_conns rtrs_clt/rtrs_rdma_error_recovery)
for e in "${clt_events[@]}"; do fields "$e" > "/tmp/fields-rust-${e//\//:}"; done
has_event() {
    grep -qE "$1" "$ev/trace" || fail "no trace event $2 (/$1/); trace: $(tail -5 "$ev/trace")"
    log "ok: trace event $2: $(grep -E "$1" "$ev/trace" | tail -1 | sed 's/^.*\] [^ ]* *[0-9.]*: //')"
}
for impl in rust c; do
    wait_for "$impl-server-ready" 300
    wait_reachable "$srv"
    nb=$(rnbd_map "sessname=fl-$impl path=ip:$srv device_path=/dev/nullb0")
    lo=$(rnbd_map "sessname=fl-$impl path=ip:$srv device_path=/dev/loop0")
    expect_file "/sys/block/$nb/queue/write_cache" "write back"
    expect_file "/sys/block/$nb/queue/fua" 1
    [[ $(cat "/sys/block/$lo/queue/write_zeroes_max_bytes") -gt 0 ]] || fail "/dev/$lo has no write zeroes"

    sync "/dev/$nb" || fail "fsync /dev/$nb"
    signal "$impl-fsync-done"
    wait_for "$impl-fsync-checked"

    dd if=/dev/urandom of="/dev/$nb" bs=4k count=1 seek=256 oflag=direct,dsync status=none || fail "FUA write"
    signal "$impl-fua-done"
    wait_for "$impl-fua-checked"

    # The peer maps nullb0 too (migration: the client has it rw).
    peer_ok "preflush-fua-$impl" --server "$srv" --session "flp-$impl" -d /dev/nullb0 -m migration \
        request --op write --flags sync,fua,preflush --offset 2M --length 4k
    signal "$impl-preflush-fua-done"
    wait_for "$impl-preflush-fua-checked"
    peer_ok "preflush-$impl" --server "$srv" --session "flp-$impl" -d /dev/nullb0 -m migration \
        request --op write --flags sync,preflush --offset 3M --length 4k
    signal "$impl-preflush-done"
    wait_for "$impl-preflush-checked"

    dd if=/dev/urandom of="/dev/$lo" bs=1M count=4 seek=8 oflag=direct conv=fsync status=none || fail "write /dev/$lo"
    signal "$impl-zero-written"
    wait_for "$impl-zero-measured"
    blkdiscard -z -o 8M -l 4M "/dev/$lo" || fail "blkdiscard -z /dev/$lo"
    expect_eq "$(dd if="/dev/$lo" bs=1M count=4 skip=8 iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
        "$(head -c 4M /dev/zero | sha256sum | cut -d' ' -f1)" "sha256 of the zeroed 4 MiB of /dev/$lo ($impl server)"
    signal "$impl-zeroed"
    wait_for "$impl-zero-checked"

    # A reconnect from sysfs, then the unmap: rtrs_clt events as upstream's.
    path=$(ls -d /sys/class/rtrs-client/fl-$impl/paths/*)
    pname=${path##*/}
    echo 1 > "$path/reconnect" || fail "reconnect $path"
    wait_until 30 grep -q "^connected" "$path/state"
    has_event "rtrs_clt_reconnect_work: RTRS-CLT: sess='$pname' state=RECONNECTING attempts='0' max-attempts='-?[0-9]+'" "rtrs_clt_reconnect_work ($impl server)"
    rnbd_unmap "$nb"
    rnbd_unmap "$lo"
    has_event "rtrs_clt_close_conns: RTRS-CLT: sess='$pname' state=CONNECTED" "rtrs_clt_close_conns ($impl server)"
    signal "$impl-client-done"
done
echo 0 > "$ev/events/rtrs_clt/enable"
rmdir "$ev"

# A gid: path. Address resolution of AF_IB needs an InfiniBand port (the
# SA and the IB port space's device lookup); rxe is RoCE, so the CM finds
# no device for the GID and the map fails at once. What counts here: the
# same answer as the C client's, quickly, and nothing left behind.
gid=$(cat "$RNBD_SHARED/server-gid")
gid_map() {
    local t0 rc=0 out
    t0=$(now)
    out=$(timeout 120 bash -c "echo 'sessname=gid-$1 path=gid:$gid device_path=/dev/nullb0' > $RNBD_CLT_CTL/map_device" 2>&1) || rc=$?
    ((rc != 124)) || fail "$1 client: map over gid:$gid hung"
    ((rc != 0)) || fail "$1 client: map over gid:$gid succeeded on rxe"
    log "$1 client: map over gid:$gid failed in $(elapsed "$t0") s: ${out##*: }"
    [[ ! -e /sys/class/rtrs-client/gid-$1 ]] || fail "$1 client: session gid-$1 left after the failed map"
    echo "${out##*: }" > "/tmp/gid-$1"
}
gid_map rust
rnbd_client_unload
CLIENT_IMPL=c
rnbd_client_load
gid_map c
expect_eq "$(cat /tmp/gid-rust)" "$(cat /tmp/gid-c)" "the error of a gid: map on rxe, ours and upstream's"
rnbd_client_unload
# Upstream's rtrs_client defines the same events: the same fields.
load_upstream_module rtrs_client
for e in "${clt_events[@]}"; do
    expect_eq "$(cat "/tmp/fields-rust-${e//\//:}")" "$(fields "$e")" "fields of trace event $e, ours and upstream's"
done
unload_upstream_module rtrs_client
rxe_down
summary "rust client: rtrs_clt reconnect_work and close_conns trace events, upstream's fields"
summary "rust client: fsync, FUA write and BLKZEROOUT carried to both servers; the peer's PREFLUSH writes answered 0 by both"
