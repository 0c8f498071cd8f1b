# VM 2: the upstream C rnbd_client and rnbd-peer against VM 1's Rust
# rnbd_server.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

peer=$RNBD_REPO/target/release/rnbd-peer
[[ -x $peer ]] || fail "no $peer (make tools)"
srv=$RNBD_VM1_IP
load_upstream_module rnbd_client
wait_for server-ready 300

spec="sessname=sess1 path=ip:$srv device_path=ram0"
start=$(now)
dev=$(rnbd_map "$spec")
log "mapped /dev/$dev in $(elapsed "$start") s"
expect_eq "$(blockdev --getsize64 "/dev/$dev")" $((32 << 20)) "size of /dev/$dev"
expect_file "/sys/block/$dev/rnbd/state" open
head -c $((4 << 20)) /dev/urandom > /tmp/pattern
sha256sum < /tmp/pattern | cut -d' ' -f1 > "$RNBD_SHARED/pattern.sha256"
want=$(cat "$RNBD_SHARED/pattern.sha256")
dd if=/tmp/pattern of="/dev/$dev" bs=64k oflag=direct conv=fsync status=none
expect_eq "$(sha_of "/dev/$dev" $((4 << 20)))" "$want" "sha256 read back"
dd if="/dev/$dev" of=/tmp/back bs=1M count=4 iflag=direct status=none
cmp /tmp/pattern /tmp/back || fail "cmp of the pattern read back"
# Write-zeroes and discard past the pattern read back as zeros (brd).
head -c $((1 << 20)) /dev/urandom | dd of="/dev/$dev" bs=1M seek=8 oflag=direct status=none
blkdiscard -z -o $((8 << 20)) -l $((1 << 20)) "/dev/$dev"
expect_eq "$(dd if="/dev/$dev" bs=1M skip=8 count=1 iflag=direct status=none | tr -d '\0' | wc -c)" 0 "non-zero bytes after write-zeroes"
blkdiscard -o $((12 << 20)) -l $((1 << 20)) "/dev/$dev" || log "discard: $?"
# Errors: missing device, a symlink out of the search path, "..".
# (the C client's map_device fails with EIO; the server's errno is in
# its log).
map_refused() {
    local name=$1 errno=$2 n
    n=$(dmesg | grep -c "<$name@sess1> Opening failed, server responded: $errno" || true)
    expect_fail "error" bash -c "echo 'sessname=sess1 path=ip:$srv device_path=$name' > $RNBD_CLT_CTL/map_device"
    test "$(dmesg | grep -c "<$name@sess1> Opening failed, server responded: $errno")" -gt "$n" ||
        fail "map $name: server did not answer $errno"
    log "ok: map $name refused by the server with $errno"
}
map_refused nosuchdev -2
map_refused escape -22
map_refused ../dev/ram0 -22
signal client-mapped
wait_for server-checked 120

# Unmap, map again, read back.
rnbd_unmap "$dev"
dev=$(rnbd_map "$spec")
expect_eq "$(sha_of "/dev/$dev" $((4 << 20)))" "$want" "sha256 after re-map"
signal client-remapped
wait_for server-force-closed 120
if dd if="/dev/$dev" of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null; then
    fail "read after force_close succeeded"
fi
log "ok: read after force_close failed"
rnbd_unmap "$dev"
# A new mapping after force_close works (a new device id).
dev=$(rnbd_map "$spec")
expect_eq "$(sha_of "/dev/$dev" $((4 << 20)))" "$want" "sha256 after force_close and re-map"
rnbd_unmap "$dev"
signal client-unmapped
wait_for server-verified 120
unload_upstream_module rnbd_client

# rnbd-peer: info, verify (write + read back), read with a second session.
"$peer" -s "$srv" --session p-info -d alias info | tee /tmp/info.out
grep -q "sess_info: version=2" /tmp/info.out || fail "peer info: no SESS_INFO_RSP version 2"
grep -q "nsectors=65536" /tmp/info.out || fail "peer info: not 65536 sectors"
log "ok: the symlink alias -> ram1 inside the search directory opens"
"$peer" -s "$srv" --session p-verify -d ram1 verify --length 8M --pattern-seed 7 || fail "peer verify"
"$peer" -s "$srv" --session p-read -d ram1 -c 2 read --length 8M --expect-seed 7 || fail "peer read"
log "ok: peer info, verify 8 MiB, read back 8 MiB"
# RNBD-level malformed messages: each gets an errno reply (ours, where
# the C server answers 0 or garbage; see Documentation/server.md).
bad=0
while read -r case want; do
    line=$("$peer" -s "$srv" --session "m-$case" -d ram1 -t $((5 * ${RNBD_TIMEOUT_SCALE:-1})) malformed "$case" 2>/tmp/m.err) || true
    sed "s/^/[vm$RNBD_VM] $case: /" /tmp/m.err
    if [[ $line == "malformed $case: $want"* ]]; then
        log "ok: $line"
    else
        log "MISMATCH: $case: got '$line', expected '$want'"
        bad=$((bad + 1))
    fi
done <<'CASES'
rnbd-unknown-type reply:EINVAL
rnbd-short-usr-len reply:EINVAL
open-short-usr-len reply:EINVAL
sess-info-version-0 reply:0
sess-info-version-255 reply:0
open-dotdot reply:EINVAL
open-bad-mode reply:EINVAL
open-unterminated reply:EINVAL
io-sector-beyond reply:EIO
io-bi-size-mismatch reply:EINVAL
io-write-on-ro reply:EPERM
io-bad-device-id reply:ENOTCONN
close-bad-device-id reply:0
CASES
((bad == 0)) || fail "$bad malformed case(s) with another outcome"
signal peer-done

wait_for server-strict 120
line=$("$peer" -s "$srv" --session strict -d ram1 -t $((5 * ${RNBD_TIMEOUT_SCALE:-1})) malformed rnbd-unknown-type 2>&1) || true
log "max_errors=1: $line"
signal peer-strict-done
summary "client: mapped /dev/$dev from our server; 4 MiB random pattern written, read back equal, again after re-map and after force_close + re-map; write-zeroes reads back zeros; ENOENT/EINVAL(symlink escape)/EINVAL(..) refused"
summary "peer: info, verify 8 MiB, read back 8 MiB on 2 connections; 13 RNBD malformed cases answered with errnos"
