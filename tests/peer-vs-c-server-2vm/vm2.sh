# VM 2: the userspace peer (target/release/rnbd-peer, from the host through
# the shared root) against VM 1's C server, then the C client on the same
# device.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

. "$RNBD_REPO/tests/lib/peer.sh"

srv=$RNBD_VM1_IP
seed=42
out=$peer_out

"$peer" --help | grep malformed >/dev/null || fail "rnbd-peer --help"
wait_for server-ready 300

# Unreachable: an address nobody has (address resolution fails), and the
# right host on a port without a listener.
start=$(now)
peer_fails unreachable 3 unreachable --server 10.10.0.77 -t 5 -d /dev/ram0 info
unreach_s=$(elapsed "$start")
start=$(now)
peer_fails no-listener 3 "no rnbd server listening" --server "$srv" --port 4321 -t 5 -d /dev/ram0 info
nolisten_s=$(elapsed "$start")
log "unreachable address: ${unreach_s}s, no listener: ${nolisten_s}s"
(($(echo "$unreach_s < 8" | bc))) || fail "unreachable took ${unreach_s}s"

# info (ro), and a refused open of a missing device.
peer_ok info --server "$srv" --session peerinfo -d /dev/ram0 info
grep -q "open: device=/dev/ram0 mode=ro device_id=0 size=$((128 << 20)) nsectors=262144 logical_block_size=512" "$out.info" ||
    fail "info output"
grep -q "always_invalidate=yes" "$out.info" || fail "the C server's default always_invalidate=Y not seen"
grep -q "^close: ok" "$out.info" || fail "no close"
grep -q "^disconnect: ok" "$out.info" || fail "no disconnect"
peer_fails missing 5 ENOENT --server "$srv" --session peermiss -d /dev/nosuchdev info

# Write a 16 MiB pattern in varied IO sizes and read it back (different
# sizes), on the default connections (CPUs + 1).
peer_ok verify --server "$srv" --session peerrw -d /dev/ram0 verify --length 16M --pattern-seed $seed
grep -q "^write: 16777216 bytes" "$out.verify" || fail "verify: write line"
grep -q "^read: 16777216 bytes .*verified against seed $seed" "$out.verify" || fail "verify: read line"
write_mbs=$(sed -n 's/^write: .*(\(.*\) MB\/s)/\1/p' "$out.verify")
read_mbs=$(sed -n 's/^read: .*(\(.*\) MB\/s)/\1/p' "$out.verify")
ios=$(sed -n 's/^write: [0-9]* bytes in \([0-9]*\) IOs.*/\1/p' "$out.verify")

# Another session with 4 connections reads it back in 124 KiB IOs (ro).
peer_ok readback -c 4 --server "$srv" --session peerro -d /dev/ram0 read --length 16M --io-size 126976 --expect-seed $seed
grep -q "connections=4" "$out.readback" || fail "readback: not 4 connections"

# One rw open at a time: a second rw open is refused with EPERM while a
# first session holds it (and answers the server's heartbeats meanwhile);
# a ro open is still fine.
"$peer" --server "$srv" --session peerhold -d /dev/ram0 -m rw info --hold 40 > "$out.hold" 2>&1 &
holder=$!
wait_until 60 grep -q "^open:" "$out.hold"
signal peer-holding
peer_fails second-rw 5 EPERM --server "$srv" --session peerrw2 -d /dev/ram0 -m rw info
peer_ok ro-while-rw --server "$srv" --session peerro2 -d /dev/ram0 -m ro info
wait_for server-saw-peer 60
wait "$holder" || fail "the holding peer failed: $(cat "$out.hold")"
sed "s/^/[vm$RNBD_VM] hold: /" "$out.hold"
grep -q "^disconnect: ok" "$out.hold" || fail "holder did not disconnect cleanly"

"$peer" pattern --length 16M --pattern-seed $seed | sha256sum | cut -d' ' -f1 > "$RNBD_SHARED/pattern.sha256"
signal peer-done
wait_for server-checked 300

# The C client maps the same device and sees the peer's bytes.
load_upstream_module rnbd_client
dev=$(rnbd_map "sessname=cclt path=ip:$srv device_path=/dev/ram0")
expect_eq "$(blockdev --getsize64 "/dev/$dev")" $((128 << 20)) "size of /dev/$dev"
"$peer" pattern --length 16M --pattern-seed $seed > /tmp/pattern
dd if="/dev/$dev" of=/tmp/seen bs=1M count=16 iflag=direct status=none
cmp /tmp/pattern /tmp/seen || fail "the C client sees other bytes than the peer wrote"
log "ok: C client's /dev/$dev equals the peer's 16 MiB pattern"
rnbd_unmap "$dev"
signal client-unmapped
unload_upstream_module rnbd_client
rxe_down

summary "peer: unreachable address fails in ${unreach_s}s (exit 3), no listener in ${nolisten_s}s (exit 3); missing device refused with ENOENT; second rw open refused with EPERM"
summary "peer: 16 MiB pattern written in $ios varied IOs at $write_mbs MB/s, read back and verified at $read_mbs MB/s; re-read over 4 connections"
summary "C client: /dev/$dev shows the peer's 16 MiB byte for byte (cmp)"
