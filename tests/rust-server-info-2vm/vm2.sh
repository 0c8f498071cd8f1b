# VM 2: the userspace peer against VM 1's Rust rnbd_server (milestone 1:
# the INFO exchange completes, SESS_INFO is not answered yet).
. "$RNBD_REPO/tests/lib/common.sh"

peer=$RNBD_REPO/target/release/rnbd-peer
[[ -x $peer ]] || fail "no $peer (make tools)"
srv=$RNBD_VM1_IP
out=/tmp/peer.out

# info_until_sess_info NAME QD ARGS...: connect and INFO must succeed
# with queue depth QD; SESS_INFO is answered (version 2), the OPEN of
# ram0 (no /ram0 below dev_search_path=/) is refused with ENOENT (exit 5).
info_until_sess_info() {
    local name=$1 qd=$2 rc=0
    shift 2
    "$peer" --server "$srv" --session "$name" -d ram0 -t $((3 * ${RNBD_TIMEOUT_SCALE:-1})) "$@" info > "$out.$name" 2>&1 || rc=$?
    sed "s/^/[vm$RNBD_VM] $name: /" "$out.$name"
    grep -q "^connected: session=$name .* queue_depth=$qd max_io_size=126976 max_hdr_size=4096 chunk_size=131072 always_invalidate=yes" "$out.$name" ||
        fail "$name: INFO exchange did not complete with queue depth $qd"
    grep -q "^sess_info: version=2" "$out.$name" || fail "$name: no SESS_INFO_RSP version 2"
    ((rc == 5)) || fail "$name: exit $rc, expected 5 (OPEN refused)"
    log "ok: $name: INFO exchange with queue depth $qd, SESS_INFO, OPEN refused (ENOENT)"
}

wait_for ready-512 120
info_until_sess_info s512 512
signal peer-done-512

wait_for ready-64 120
info_until_sess_info s64 64
info_until_sess_info s64c1 64 -c 1
for case in conn-bad-magic conn-bad-version conn-cid-ge-cid-num conn-not-first; do
    line=$("$peer" --server "$srv" --session "mal-$case" -d ram0 -t $((4 * ${RNBD_TIMEOUT_SCALE:-1})) malformed "$case") || fail "malformed $case"
    want=$(awk -v c="$case" '$1 == c {print $2}' "$RNBD_REPO/tests/peer-malformed-vs-c-server-2vm/expected.txt")
    [[ $line == "malformed $case: $want"* ]] || fail "$case: got '$line', expected '$want' (as the C server)"
    log "ok: $line"
done
for i in $(seq 5); do
    info_until_sess_info cycle$i 64
done
signal peer-cycles-done

# A session held for 20 s: the server's unload closes it (exit 8,
# connection closed by the server) well before the 20 s are over.
rc=0
t=$(date +%s)
"$peer" --server "$srv" --session held -d dev/ram0 -t 60 info --hold 20 > "$out.held" 2>&1 &
holder=$!
wait_until 30 grep -q "^open:" "$out.held"
signal peer-holding
wait "$holder" || rc=$?
sed "s/^/[vm$RNBD_VM] held: /" "$out.held"
((rc == 8)) || fail "held session: exit $rc, expected 8 (closed by the server's unload)"
held=$(($(date +%s) - t))
((held < 20)) || fail "held session lasted ${held} s: the unload did not close it"
wait_for server-unloaded 120
summary "peer: INFO exchange at queue depth 512 and 64 (CPUs+1 and 1 connections), 4 bad conn reqs rejected as by the C server, 5 cycles, a held session closed by the server's rmmod"
