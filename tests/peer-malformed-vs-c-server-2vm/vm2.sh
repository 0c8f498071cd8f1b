# VM 2: every CI-safe malformed case of rnbd-peer, one fresh session each,
# against VM 1's C server; the outcome must be the one in expected.txt
# (the table of Documentation/c-server-malformed.md). Then a normal session
# must still write, read back and verify.
. "$RNBD_REPO/tests/lib/common.sh"

. "$RNBD_REPO/tests/lib/peer.sh"

here=$RNBD_REPO/tests/peer-malformed-vs-c-server-2vm
srv=$RNBD_VM1_IP
wait_for server-ready 300

results=$RNBD_SHARED/outcomes.txt
: > "$results"
# The list marks cases that are not safe for CI with "[not in CI]".
# shellcheck disable=SC2046
malformed_suite "$srv" "$here/expected.txt" $("$peer" malformed --list | awk '!/\[not in CI\]/ {print $1}')
n=$malformed_n bad=$malformed_bad
echo "$n" > "$RNBD_SHARED/cases"

# The server still serves a normal session.
"$peer" --server "$srv" --session afterwards -d /dev/ram0 verify --length 4M --pattern-seed 7 > /tmp/after 2>&1 ||
    fail "a normal session after the malformed cases failed: $(cat /tmp/after)"
grep -q "verified against seed 7" /tmp/after || fail "no verified read afterwards"
signal peer-done

# Phase 2: the server reloaded with sess_queue_depth=500.
wait_for server-qd500 120
rc=0
line=$("$peer" --server "$srv" --session qd500a -d /dev/ram0 -t "$mal_t" malformed imm-buf-id-ge-qd) || rc=$?
got=${line#"malformed imm-buf-id-ge-qd: "}
((rc == 0)) || got="error(exit $rc)"
echo "imm-buf-id-ge-qd@qd500 $got" >> "$results"
want=$(awk '$1 == "imm-buf-id-ge-qd@qd500" {print $2}' "$here/expected.txt")
if [[ $got == "$want"* && -n $want ]]; then
    log "ok: imm-buf-id-ge-qd with queue depth 500: $got"
else
    log "MISMATCH imm-buf-id-ge-qd with queue depth 500: got '$got', expected '$want'"
    bad=$((bad + 1))
fi
"$peer" --server "$srv" --session qd500b -d /dev/ram0 verify --offset 8M --length 2M --pattern-seed 9 > /tmp/after2 2>&1 ||
    fail "a normal session with queue depth 500 failed: $(cat /tmp/after2)"
grep -q "queue_depth=500" /tmp/after2 || fail "server queue depth is not 500: $(head -1 /tmp/after2)"
grep -q "verified against seed 9" /tmp/after2 || fail "no verified read with queue depth 500"
signal peer-done2
((bad == 0)) || fail "$bad of $n malformed cases differ from expected.txt (see $results)"
summary "peer: $n malformed cases + imm-buf-id-ge-qd at queue depth 500, each outcome as documented; normal verify sessions afterwards passed (qd 512 and 500)"
rxe_down
