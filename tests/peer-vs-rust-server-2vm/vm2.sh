# VM 2: the userspace peer against VM 1's Rust rnbd_server: normal
# sessions, then every malformed case (expected.txt), then queue depth 500
# with always_invalidate=N and the error budget.
. "$RNBD_REPO/tests/lib/common.sh"

. "$RNBD_REPO/tests/lib/peer.sh"

here=$RNBD_REPO/tests/peer-vs-rust-server-2vm
srv=$RNBD_VM1_IP
seed=42
out=$peer_out

wait_for server-ready 300

peer_ok info --server "$srv" --session peerinfo -d /dev/ram0 info
grep -q "open: device=/dev/ram0 mode=ro device_id=0 size=$((128 << 20)) nsectors=262144 logical_block_size=512" "$out.info" ||
    fail "info output"
grep -q "always_invalidate=yes" "$out.info" || fail "always_invalidate=Y not seen"
grep -q "^close: ok" "$out.info" || fail "no close"
grep -q "^disconnect: ok" "$out.info" || fail "no disconnect"
peer_fails missing 5 ENOENT --server "$srv" --session peermiss -d /dev/nosuchdev info

peer_ok verify --server "$srv" --session peerrw -d /dev/ram0 verify --length 16M --pattern-seed $seed
grep -q "^read: 16777216 bytes .*verified against seed $seed" "$out.verify" || fail "verify: read line"
write_mbs=$(sed -n 's/^write: .*(\(.*\) MB\/s)/\1/p' "$out.verify")
read_mbs=$(sed -n 's/^read: .*(\(.*\) MB\/s)/\1/p' "$out.verify")
ios=$(sed -n 's/^write: [0-9]* bytes in \([0-9]*\) IOs.*/\1/p' "$out.verify")
peer_ok readback -c 4 --server "$srv" --session peerro -d /dev/ram0 read --length 16M --io-size 126976 --expect-seed $seed
grep -q "connections=4" "$out.readback" || fail "readback: not 4 connections"

# rw once; the holder answers heartbeats for 40 s (past the 30-35 s
# heartbeat timeout, so the server's heartbeats must be flowing).
"$peer" --server "$srv" --session peerhold -d /dev/ram0 -m rw info --hold 40 > "$out.hold" 2>&1 &
holder=$!
wait_until 60 grep -q "^open:" "$out.hold"
signal peer-holding
peer_fails second-rw 5 EPERM --server "$srv" --session peerrw2 -d /dev/ram0 -m rw info
peer_ok migration --server "$srv" --session peermig -d /dev/ram0 -m migration info
peer_ok ro-while-rw --server "$srv" --session peerro2 -d /dev/ram0 -m ro info
wait_for server-saw-peer 60
wait "$holder" || fail "the holding peer failed: $(cat "$out.hold")"
sed "s/^/[vm$RNBD_VM] hold: /" "$out.hold"
grep -q "^disconnect: ok" "$out.hold" || fail "holder did not disconnect cleanly"
grep -Eq "heartbeats?: [1-9]" "$out.hold" || log "note: holder output has no heartbeat count"
"$peer" pattern --length 16M --pattern-seed $seed | sha256sum | cut -d' ' -f1 > "$RNBD_SHARED/pattern.sha256"
signal peer-done
wait_for server-checked 300

# Disconnect from the server's sysfs while the peer holds a session.
rc=0
"$peer" --server "$srv" --session peerdisc -d /dev/ram0 -t 60 info --hold 60 > "$out.disc" 2>&1 &
holder=$!
wait_until 60 grep -q "^open:" "$out.disc"
signal peer-holding2
wait_for server-disconnected 60
wait "$holder" || rc=$?
sed "s/^/[vm$RNBD_VM] disc: /" "$out.disc"
((rc == 8)) || fail "sysfs disconnect: peer exit $rc, expected 8 (closed by the server)"

# Every malformed case, one fresh session each.
: > "$RNBD_SHARED/outcomes.txt"
# shellcheck disable=SC2046
malformed_suite "$srv" "$here/expected.txt" $("$peer" malformed --list | awk '{print $1}')
n=$malformed_n bad=$malformed_bad
results=$RNBD_SHARED/outcomes.txt
peer_ok afterwards --server "$srv" --session afterwards -d /dev/ram0 verify --length 4M --pattern-seed 7
grep -q "verified against seed 7" "$out.afterwards" || fail "no verified read afterwards"
signal peer-malformed-done

# Queue depth 500, always_invalidate=N, max_errors=3.
wait_for server-qd500 120
rc=0
line=$("$peer" --server "$srv" --session qd500a -d /dev/ram0 -t "$mal_t" malformed imm-buf-id-ge-qd) || rc=$?
got=${line#"malformed imm-buf-id-ge-qd: "}
((rc == 0)) || got="error(exit $rc)"
want=$(awk '$1 == "imm-buf-id-ge-qd@qd500" {print $2}' "$here/expected.txt")
[[ $got == "$want"* ]] || { log "MISMATCH imm-buf-id-ge-qd@qd500: got '$got', expected '$want'"; bad=$((bad + 1)); }
peer_ok qd500 --server "$srv" --session qd500b -d /dev/ram0 verify --offset 8M --length 2M --pattern-seed 9
grep -q "queue_depth=500" "$out.qd500" || fail "server queue depth is not 500"
grep -q "always_invalidate=no" "$out.qd500" || fail "always_invalidate=N not advertised"
grep -q "verified against seed 9" "$out.qd500" || fail "no verified read with always_invalidate=N"
((bad == 0)) || fail "$bad of $n malformed cases differ from expected.txt (see $results)"
signal peer-done2
summary "peer: info, ENOENT, EPERM for a second rw, migration and ro beside rw; 16 MiB in $ios varied IOs written at $write_mbs MB/s, verified at $read_mbs MB/s; held 40 s with heartbeats; sysfs disconnect"
summary "peer: $n malformed cases each answered as documented (better than upstream where marked); qd 500 with always_invalidate=N verified"
