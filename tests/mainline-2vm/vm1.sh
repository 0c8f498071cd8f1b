# VM 1: the servers, one after the other: ours (protocol 2.2), then the
# upstream C one (2.0). Exports a null_blk with a write-back cache and FUA
# (the flush cases: every bio the server submits to it is recorded by the
# block_bio_queue tracepoint) and a loop device on a file in ext4 (the
# NOUNMAP case: loop turns write zeroes into FALLOC_FL_ZERO_RANGE with
# REQ_NOUNMAP and into FALLOC_FL_PUNCH_HOLE without).
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

rnbd_deep_net_queues
load_module null_blk nr_devices=1 gb=1 memory_backed=1 cache_size=16
load_module brd rd_nr=1 rd_size=$((96 << 10))
mkfs.ext4 -q -F /dev/ram0 || fail "mkfs.ext4 /dev/ram0"
mkdir -p /tmp/backing
mount /dev/ram0 /tmp/backing || fail "mount /dev/ram0"
img=/tmp/backing/img
fallocate -l 64M "$img"
losetup /dev/loop0 "$img" || fail "losetup /dev/loop0 $img"
expect_file /sys/block/nullb0/queue/write_cache "write back"
expect_file /sys/block/nullb0/queue/fua 1

# Every bio submitted to nullb0, from the block layer's own tracepoint.
t=/sys/kernel/tracing
[[ -d $t/events ]] || mount -t tracefs nodev "$t" || fail "mount tracefs"
IFS=: read -r maj min < /sys/block/nullb0/dev
echo "dev == $(((maj << 20) | min))" > "$t/events/block/block_bio_queue/filter"
echo 1 > "$t/events/block/block_bio_queue/enable"
echo 1 > "$t/tracing_on"
# bios: the rwbs and size of each bio queued on nullb0 since the last call
# ("FWFS 0" is a PREFLUSH|FUA write of no data), then a clean buffer.
bios() {
    sed -n 's/.* block_bio_queue: [0-9]*,[0-9]* \([A-Z]*\) [0-9]* + \([0-9]*\) .*/\1 \2/p' "$t/trace" | sort | uniq -c |
        awk '{printf "%s%s:%s x%s", (NR > 1 ? ", " : ""), $2, $3, $1}'
    echo > "$t/trace"
}
# has_bio BIOS RWBS SECTORS: BIOS lists a bio with exactly that rwbs and size.
has_bio() { [[ ", $1" == *", $2:$3 x"* ]]; }
# expect_case CASE WHAT RWBS SECTORS: once VM 2 has done CASE, the bios
# queued on nullb0 since the last case include one with that rwbs and
# size; then VM 2 may go on.
expect_case() {
    local b
    wait_for "$impl-$1-done"
    b=$(bios)
    log "$impl server, $2: bios on nullb0: $b"
    has_bio "$b" "$3" "$4" || fail "$impl server: $2 reached nullb0 as '$b', expected $3 $4"
    signal "$impl-$1-checked"
}

# The server's own trace events go to a second buffer (the first is
# cleared per case): rnbd_srv:* and rtrs_srv:*, as upstream names them.
ev=$t/instances/rnbd
mkdir -p "$ev"
# fields EVENT: the field lines of its tracefs format (not the print
# format, which differs only where mainline changed it).
fields() { sed -n 's/^\tfield:\([^;]*\);.*/\1/p' "$t/events/$1/format" | tr '\n' ';'; }
# has_event PATTERN WHAT: the server's trace buffer has a line matching it.
has_event() {
    grep -qE "$1" "$ev/trace" || fail "$impl server: no trace event $2 (/$1/); events: $(grep -oE ': [a-z_]+: ' "$ev/trace" | sort | uniq -c | tr '\n' ' ')"
    log "ok: $impl server: trace event $2: $(grep -E "$1" "$ev/trace" | head -1 | sed 's/^.*\] [^ ]* *[0-9.]*: //')"
}

# The GID of the server's RDMA device, for the client's gid: path.
cat /sys/class/infiniband/rxe0/ports/1/gids/0 > "$RNBD_SHARED/server-gid"

for impl in rust c; do
    SERVER_IMPL=$impl
    rnbd_server_load
    # Its listening CM ids, by port space: upstream listens on [::] (TCP
    # port space) and on AF_IB (IB port space, for gid: clients).
    rdma resource show cm_id > /tmp/cm_ids
    log "$impl server CM ids: $(tr '\n' ';' < /tmp/cm_ids)"
    grep -o 'state LISTEN ps [A-Z]*' /tmp/cm_ids | sort | uniq -c | awk '{$1=$1; print}' > "$RNBD_SHARED/listeners-$impl"
    # Not rtrs_srv on the C server: its send_io_resp_imm memcpy()s
    # NAME_MAX bytes from the shorter kobject name (KASAN:
    # slab-out-of-bounds on the debug kernel); ours copies the string.
    # Its format is compared below all the same.
    enabled=(rnbd_srv)
    [[ $impl == rust ]] && enabled+=(rtrs_srv)
    for e in rnbd_srv rtrs_srv; do
        [[ -d $ev/events/$e ]] || fail "$impl server: no $e trace events"
    done
    for e in "${enabled[@]}"; do echo 1 > "$ev/events/$e/enable"; done
    echo > "$ev/trace"
    for e in rnbd_srv/create_sess rnbd_srv/destroy_sess rnbd_srv/process_rdma rnbd_srv/process_msg_sess_info \
        rnbd_srv/process_msg_open rnbd_srv/process_msg_close rtrs_srv/send_io_resp_imm; do
        fields "$e" > "$RNBD_SHARED/fields-$impl-${e//\//:}"
    done
    echo > "$t/trace"
    signal "$impl-server-ready"

    # The Rust client's fsync: blk-mq sends a REQ_OP_FLUSH, the wire an
    # RNBD_OP_FLUSH (with RNBD_F_FUA, op_is_flush()); both servers submit a
    # PREFLUSH write of no data, and both keep the FUA.
    expect_case fsync "the client's fsync" FWFS 0
    # The Rust client's O_DSYNC direct write: REQ_FUA on the disk (it
    # advertises FUA, as nullb0 does), RNBD_F_FUA on the wire.
    expect_case fua "the client's FUA write" WFS 8
    # A PREFLUSH write as mainline's 2.2 client sends it (RNBD_F_FUA |
    # RNBD_F_PREFLUSH): the 2.2 server keeps both, the 2.0 server only FUA.
    if [[ $impl == rust ]]; then want=FWFS; else want=WFS; fi
    expect_case preflush-fua "the peer's PREFLUSH|FUA write" "$want" 8
    # RNBD_F_PREFLUSH alone: the 2.2 server flushes first; the 2.0 server
    # drops it (the data-loss bug of protocol 2.0 that 2.1 fixed, and the
    # reason a 2.2 client still sets RNBD_F_FUA).
    if [[ $impl == rust ]]; then want=FWS; else want=WS; fi
    expect_case preflush "the peer's PREFLUSH-only write" "$want" 8

    # Write zeroes from the Rust client's BLKZEROOUT (REQ_NOUNMAP): over a
    # 4 MiB range the client wrote first, so the file's blocks are there.
    wait_for "$impl-zero-written"
    sync
    blocks0=$(stat -c %b "$img")
    signal "$impl-zero-measured"
    wait_for "$impl-zeroed"
    sync
    blocks1=$(stat -c %b "$img")
    freed=$(((blocks0 - blocks1) * 512 >> 10))
    log "$impl server: write zeroes with NOUNMAP: $img had $blocks0 blocks, now $blocks1 ($freed KiB freed)"
    if [[ $impl == rust ]]; then
        ((freed == 0)) || fail "rust server: write zeroes with NOUNMAP freed $freed KiB of $img"
    else
        ((freed >= 4000)) || fail "c server: expected the 2.0 server to drop NOUNMAP and punch out ~4 MiB, freed $freed KiB"
    fi
    signal "$impl-zero-checked"

    wait_for "$impl-client-done" 300
    wait_until 30 test -z "$(ls /sys/class/rtrs-server 2>/dev/null)"

    # The trace events of all that, as upstream prints them.
    has_event "create_sess: sessname: fl-$impl qdepth: 512" "create_sess"
    has_event "process_msg_sess_info: Session fl-$impl using proto-ver 2 \(clt-ver: 2, srv-ver: 2\)" "process_msg_sess_info"
    has_event "process_msg_open: Open message received: session='fl-$impl' path='/dev/nullb0' access_mode=RW" "process_msg_open"
    has_event "process_msg_open: Open message received: session='flp-$impl' path='/dev/nullb0' access_mode=MIGRATION" "process_msg_open (migration)"
    # The peer's PREFLUSH|FUA write: 0x701 is 1793 (mainline prints the
    # number, 6.12's C server its own flag names).
    if [[ $impl == rust ]]; then fl="flags: 1793"; else fl="flags: [^,]*"; fi
    has_event "process_rdma: I/O req: sess: flp-$impl, type: WRITE, ver: 2, devid: 0, sector: 4096, bsize: 4096, $fl, ioprio: 0, datalen: 4096, usrlen: 32" "process_rdma"
    if [[ $impl == rust ]]; then
        has_event "send_io_resp_imm: sess='ip:$RNBD_VM2_IP@ip:$RNBD_VM1_IP' state='CONNECTED' dir=WRITE err='0'" "send_io_resp_imm"
    fi
    has_event "process_msg_close: Close message received: session='fl-$impl' device id='1'" "process_msg_close"
    has_event "destroy_sess: sessname: fl-$impl qdepth: 512" "destroy_sess"
    for e in "${enabled[@]}"; do echo 0 > "$ev/events/$e/enable"; done
    rnbd_server_unload
done
expect_eq "$(cat "$RNBD_SHARED/listeners-rust")" "$(cat "$RNBD_SHARED/listeners-c")" "listening CM ids by port space, ours and upstream's"
# Every event has upstream's fields, name for name, type for type.
for f in "$RNBD_SHARED"/fields-rust-*; do
    e=${f#"$RNBD_SHARED/fields-rust-"}
    expect_eq "$(cat "$f")" "$(cat "$RNBD_SHARED/fields-c-$e")" "fields of trace event ${e/://}, ours and upstream's"
done
rmdir "$ev"
echo 0 > "$t/events/block/block_bio_queue/enable"
losetup -d /dev/loop0
umount /tmp/backing
unload_module brd
unload_module null_blk
rxe_down
summary "rust server (2.2): fsync FWFS, FUA write WFS, PREFLUSH|FUA FWFS, PREFLUSH FWS on the backing device; NOUNMAP kept the blocks"
summary "server trace events rnbd_srv:* and rtrs_srv:* with upstream's fields, seen for both servers"
summary "c server (2.0): fsync FWFS, FUA write WFS, PREFLUSH|FUA only WFS, PREFLUSH lost (WS); NOUNMAP dropped (blocks punched out)"
