# VM 2: the upstream C rnbd_client drives sessions against VM 1's server
# under test ($SERVER_IMPL, default rust).
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

srv=$RNBD_VM1_IP
spec() { echo "sessname=$1 path=ip:$srv device_path=$2${3:+ access_mode=$3}"; }
map() { rnbd_map "$(spec "$@")"; }
# marker DEV: the first line of the device's first block (the server wrote
# "rnbd-marker ram<N>" there).
marker() { dd if="/dev/$1" bs=4096 count=1 iflag=direct status=none | head -1; }
sess_gone() { wait_until 30 test ! -e "/sys/class/rtrs-client/$1"; }
# io_fails DEV read|write: one 4 KiB direct IO must fail with an IO error
# within 30 s (no hang).
io_fails() {
    local rc=0 err=/tmp/io.err
    if [[ $2 == read ]]; then
        timeout 30 dd if="/dev/$1" of=/dev/null bs=4096 count=1 iflag=direct status=none 2> "$err" || rc=$?
    else
        timeout 30 dd if=/dev/zero of="/dev/$1" bs=4096 count=1 oflag=direct status=none 2> "$err" || rc=$?
    fi
    ((rc != 124)) || fail "$2 on /dev/$1 hung (timeout 30 s)"
    ((rc != 0)) || fail "$2 on /dev/$1 succeeded, expected an IO error"
    grep -q "Input/output error" "$err" || fail "$2 on /dev/$1: $(cat "$err")"
    log "ok: $2 on /dev/$1 failed with an IO error"
}

load_upstream_module rnbd_client
wait_for server-ready 300
wait_reachable "$RNBD_VM1_IP"

# A. 50 map/write/read/unmap cycles, a new session each time; cycle i
# leaves "cycle i" in block i of the ramdisk for the server to check.
start=$(now)
for i in $(seq 50); do
    dev=$(map "cyc$i" /dev/ram0)
    expect_eq "$(blockdev --getsize64 "/dev/$dev")" $((32 << 20)) "cycle $i: size of /dev/$dev" > /dev/null
    [[ $(cat "/sys/block/$dev/rnbd/state") == open ]] || fail "cycle $i: state"
    printf 'cycle %d\n' "$i" | dd of="/dev/$dev" bs=4096 seek="$i" conv=sync oflag=direct status=none
    got=$(dd if="/dev/$dev" bs=4096 skip="$i" count=1 iflag=direct status=none | head -1)
    [[ $got == "cycle $i" ]] || fail "cycle $i: read back '$got'"
    rnbd_unmap "$dev"
    sess_gone "cyc$i"
done
cycles_s=$(elapsed "$start")
[[ -z $(ls "$RNBD_CLT_CTL/devices") ]] || fail "client devices left after the cycles"
[[ -z $(ls /sys/class/rtrs-client 2>/dev/null) ]] || fail "rtrs-client sessions left: $(ls /sys/class/rtrs-client)"
log "ok: 50 cycles in $cycles_s s"
signal cycles-done
wait_for cycles-checked 120
summary "client: 50 map/write/read/unmap cycles in $cycles_s s ($(echo "scale=2; $cycles_s / 50" | bc) s each), nothing left"

# B. force_close on the server while mapped: IO then fails (no hang), and
# unmap still works.
dev=$(map fc /dev/ram0)
expect_eq "$(marker "$dev")" "rnbd-marker ram0" "fc: first block of /dev/$dev"
signal fc-mapped
wait_for fc-closed 120
io_fails "$dev" read
io_fails "$dev" write
rnbd_unmap "$dev"
sess_gone fc
signal fc-unmapped
wait_for fc-checked 120
summary "client: after force_close, read and write on /dev/$dev fail with EIO (no hang); unmap works"

# C. Access modes of /dev/ram1 across sessions: ro any time, one rw,
# migration as a second writer, no third.
a1=$(map am1 /dev/ram1 ro)
a2=$(map am2 /dev/ram1 ro)
expect_file "/sys/block/$a1/rnbd/access_mode" ro
expect_eq "$(marker "$a2")" "rnbd-marker ram1" "am2 (ro): first block of /dev/$a2"
a3=$(map am3 /dev/ram1 rw)
expect_file "/sys/block/$a3/rnbd/access_mode" rw
rnbd_map_fails "Operation not permitted" "$(spec am4 /dev/ram1 rw)"
sess_gone am4
a4=$(map am4m /dev/ram1 migration)
expect_file "/sys/block/$a4/rnbd/access_mode" migration
rnbd_map_fails "Operation not permitted" "$(spec am5 /dev/ram1 migration)"
rnbd_map_fails "Operation not permitted" "$(spec am5w /dev/ram1 rw)"
a5=$(map am5r /dev/ram1 ro)
expect_eq "$(marker "$a5")" "rnbd-marker ram1" "am5r (ro): first block of /dev/$a5"
signal am-mapped
wait_for am-checked 120
# With both writers gone, rw is granted again.
rnbd_unmap "$a3"
rnbd_unmap "$a4"
sess_gone am3
sess_gone am4m
a6=$(map am6 /dev/ram1 rw)
printf 'written by am6\n' | dd of="/dev/$a6" bs=4096 seek=1 conv=sync oflag=direct status=none
got=$(dd if="/dev/$a1" bs=4096 skip=1 count=1 iflag=direct status=none | head -1)
expect_eq "$got" "written by am6" "am6's write seen through am1 (ro)"
for d in "$a1" "$a2" "$a5" "$a6"; do rnbd_unmap "$d"; done
for s in am1 am2 am5r am6; do sess_gone "$s"; done
signal am-done
summary "client: ro+ro ok, rw ok, 2nd rw EPERM, migration ok, 3rd writer (migration, rw) EPERM, ro ok; rw ok again after both writers unmapped"

# D. dev_search_path=/dev/rnbd-exports/%SESSNAME% (see vm1.sh).
wait_for search-ready 120
d1=$(map sp1 disk)
d2=$(map sp2 disk)
expect_eq "$(marker "$d1")" "rnbd-marker ram2" "sp1's disk"
expect_eq "$(marker "$d2")" "rnbd-marker ram3" "sp2's disk"
expect_file "/sys/block/$d1/rnbd/mapping_path" disk
rnbd_map_fails "No such file or directory" "$(spec sp3 disk)"
sess_gone sp3
# sp1's entries are not in sp2's directory; absolute paths stay inside it.
rnbd_map_fails "No such file or directory" "$(spec sp2 escape)"
rnbd_map_fails "No such file or directory" "$(spec sp2 /dev/ram0)"
# ".." anywhere is refused.
rnbd_map_fails "Invalid argument" "$(spec sp2 ../sp1/disk)"
rnbd_map_fails "Invalid argument" "$(spec sp1 disk/../disk)"
rnbd_map_fails "Invalid argument" "$(spec sp4 ..)"
sess_gone sp4
# sp1/escape is a symlink to /dev/ram0, outside the search path.
if [[ $SERVER_IMPL == c ]]; then
    # Upstream resolves it (only ".." is checked): documented, not wanted.
    e=$(map sp1 escape)
    expect_eq "$(marker "$e")" "rnbd-marker ram0" "sp1/escape (C server follows the symlink out)"
    escape="C server: the escaping symlink is followed (maps /dev/ram0)"
else
    # Ours resolves the path and refuses anything outside the search path.
    rnbd_map_fails "Invalid argument" "$(spec sp1 escape)"
    escape="rust server: the escaping symlink is refused with EINVAL"
fi
signal search-mapped
wait_for search-checked 120
[[ $SERVER_IMPL == c ]] && rnbd_unmap "$e"
summary "client: %SESSNAME% search path: sp1/sp2 map their own 'disk' (ram2/ram3), sp3 ENOENT, sp2 cannot reach sp1's entries or /dev (ENOENT), '..' EINVAL x3; $escape"

# E. The server unloads while sp1 and sp2 hold ram2 and ram3: it closes them.
signal unload-ready
wait_for unload-tried 120
expect_eq "$(cat "$RNBD_SHARED/unload-result")" unloaded "the server's unload"
# The server went away: the devices go to "closed" and IO fails.
start=$(now)
wait_until 60 test "$(cat "/sys/block/$d1/rnbd/state")" = closed
wait_until 60 test "$(cat "/sys/block/$d2/rnbd/state")" = closed
closed_s=$(elapsed "$start")
io_fails "$d1" read
after="the devices went to state 'closed' within $closed_s s and IO fails"
rnbd_unmap "$d1"
rnbd_unmap "$d2"
sess_gone sp1
sess_gone sp2
[[ -z $(ls "$RNBD_CLT_CTL/devices") ]] || fail "client devices left"
signal unload-unmapped
unload_upstream_module rnbd_client
rxe_down
summary "client: server unloaded with sessions up; $after; unmapped cleanly"
