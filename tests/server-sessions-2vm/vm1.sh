# VM 1: the server under test ($SERVER_IMPL, default rust) with four
# 32 MiB ramdisks; VM 2's C client drives the sessions, this side checks
# what the server shows and does.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

clt=$RNBD_VM2_IP
load_module brd rd_nr=4 rd_size=$((32 << 10))
# A marker in the first block of each ramdisk tells the client which one
# it got.
for n in 0 1 2 3; do
    printf 'rnbd-marker ram%d\n' "$n" | dd of="/dev/ram$n" bs=4096 conv=sync oflag=direct status=none
done
brd_refs() { cat /sys/module/brd/refcnt; }
mem_avail_kib() { awk '/^MemAvailable:/ {print $2}' /proc/meminfo; }
# no_sessions: nothing exported, no RTRS session.
no_sessions() {
    [[ -z $(ls "$RNBD_SRV_CTL/devices") && -z $(ls /sys/class/rtrs-server 2>/dev/null) ]]
}
srv_sess() { echo "$RNBD_SRV_CTL/devices/$1/sessions/$2"; }
# expect_binding DEV SESS MODE PATH: the session's view of one device.
expect_binding() {
    local s
    s=$(srv_sess "$1" "$2")
    [[ -d $s ]] || fail "no $s"
    expect_file "$s/access_mode" "$3"
    expect_file "$s/read_only" "$([[ $3 == ro ]] && echo 1 || echo 0)"
    expect_file "$s/mapping_path" "$4"
}

rnbd_server_load
[[ -d $RNBD_SRV_CTL ]] || fail "no $RNBD_SRV_CTL"
refs0=$(brd_refs)
mem0=$(mem_avail_kib)
res0=$(rdma_resources)
signal server-ready

# A. 50 map/unmap cycles: afterwards nothing is left, brd's module
# references (one per open ramdisk) are back where they were, and the
# memory is back within less than one session's chunk pool (512 x 128 KiB).
wait_for cycles-done 900
wait_until 30 no_sessions
wait_until 30 test "$(brd_refs)" -eq "$refs0"
# Every PD, CQ, QP, MR and CM id of the 50 sessions freed (the listener's
# remain, as before the first session). The C server's CQs come from the
# device's CQ pool, which keeps them (expect_rdma_resources).
if [[ $SERVER_IMPL == c ]]; then RNBD_RES_POOLED_CQ=1 expect_rdma_resources "$res0"; else expect_rdma_resources "$res0"; fi
mem1=$(mem_avail_kib)
log "MemAvailable before the cycles ${mem0} KiB, after ${mem1} KiB"
((mem0 - mem1 < 32 << 10)) || fail "MemAvailable dropped by $(((mem0 - mem1) >> 10)) MiB over 50 cycles"
for i in $(seq 50); do
    got=$(dd if=/dev/ram0 bs=4096 skip="$i" count=1 iflag=direct status=none | head -1)
    [[ $got == "cycle $i" ]] || fail "block $i of /dev/ram0: '$got', expected 'cycle $i'"
done
log "ok: the 50 blocks the cycles wrote are in /dev/ram0"
summary "server ($SERVER_IMPL): 50 map/unmap cycles left no session, no device open (brd refcnt $refs0), no RDMA resource, MemAvailable changed by $(((mem1 - mem0) >> 10)) MiB; each cycle's block found in /dev/ram0"
signal cycles-checked

# B. force_close under a mapped device.
wait_for fc-mapped 120
s=$(srv_sess ram0 fc)
expect_binding ram0 fc rw /dev/ram0
expect_file "$s/force_close" "Usage: echo 1 > force_close"
expect_fail "Invalid argument" bash -c "echo 0 > $s/force_close"
[[ -d $s ]] || fail "force_close 0 removed the binding"
echo 1 > "$s/force_close" || fail "force_close"
wait_until 10 test ! -e "$RNBD_SRV_CTL/devices/ram0"
wait_until 10 test "$(brd_refs)" -eq "$refs0"
log "ok: force_close removed the binding and closed /dev/ram0; the RTRS session stays: $(ls /sys/class/rtrs-server)"
expect_eq "$(ls /sys/class/rtrs-server)" fc "rtrs-server sessions after force_close"
signal fc-closed
wait_for fc-unmapped 120
wait_until 30 no_sessions
signal fc-checked
summary "server ($SERVER_IMPL): force_close: '0' refused (EINVAL), '1' dropped the binding and the bdev, session kept until the client unmapped"

# C. Access modes across sessions on /dev/ram1 (§6.6).
wait_for am-mapped 300
expect_eq "$(ls "$RNBD_SRV_CTL/devices/ram1/sessions" | xargs)" "am1 am2 am3 am4m am5r" "sessions of ram1"
expect_binding ram1 am1 ro /dev/ram1
expect_binding ram1 am2 ro /dev/ram1
expect_binding ram1 am3 rw /dev/ram1
expect_binding ram1 am4m migration /dev/ram1
expect_binding ram1 am5r ro /dev/ram1
signal am-checked
wait_for am-done 300
wait_until 30 no_sessions
wait_until 30 test "$(brd_refs)" -eq "$refs0"
rnbd_server_unload

# D. dev_search_path with %SESSNAME%: each session sees its own directory.
# sp1/disk and sp2/disk are device nodes of ram2 and ram3; sp1/escape is a
# symlink out of the search path, to /dev/ram0. The directories are in
# /dev: the server opens paths from a kernel worker, which resolves them
# from the initramfs root, not from this script's chroot (the harness binds
# the same devtmpfs at both /dev, while /tmp is only the chroot's).
exports=/dev/rnbd-exports
for sp in sp1:2 sp2:3; do
    d=$exports/${sp%:*}
    mkdir -p "$d"
    mknod "$d/disk" b "$(stat -c %t /dev/ram${sp#*:} | xargs printf '%d')" "$(stat -c %T /dev/ram${sp#*:} | xargs printf '%d')"
done
ln -s /dev/ram0 "$exports/sp1/escape"
ls -l "$exports"/*
rnbd_server_load "dev_search_path=$exports/%SESSNAME%"
expect_file /sys/module/rnbd_server/parameters/dev_search_path "$exports/%SESSNAME%"
signal search-ready
wait_for search-mapped 300
expect_binding ram2 sp1 rw disk
expect_binding ram3 sp2 rw disk
expect_eq "$(ls "$RNBD_SRV_CTL/devices/ram2/sessions")" sp1 "sessions of ram2"
expect_eq "$(ls "$RNBD_SRV_CTL/devices/ram3/sessions")" sp2 "sessions of ram3"
if [[ $SERVER_IMPL == c ]]; then
    # Upstream only refuses "..": the symlink leads out (§11.2 item 21).
    expect_binding ram0 sp1 rw escape
else
    [[ ! -e $RNBD_SRV_CTL/devices/ram0 ]] || fail "ram0 exported through the escaping symlink"
fi
signal search-checked

# E. Unload while sessions are up (sp1 and sp2 hold ram2 and ram3): as
# upstream's module exit (rtrs_srv_close()), rmmod closes both sessions.
wait_for unload-ready 120
start=$(now)
rc=0
out=$(timeout 60 rmmod rnbd_server 2>&1) || rc=$?
took=$(elapsed "$start")
((rc == 0)) || fail "rmmod rnbd_server with 2 sessions up: exit $rc: $out"
[[ ! -d /sys/module/rnbd_server ]] || fail "rnbd_server still loaded after rmmod"
wait_until 30 test ! -e /sys/class/rtrs-server/sp1
wait_until 30 test ! -e /sys/class/rtrs-server/sp2
wait_until 10 test "$(brd_refs)" -eq "$refs0"
log "ok: rmmod rnbd_server with 2 sessions up took $took s and closed both; brd refcnt back to $refs0"
echo unloaded > "$RNBD_SHARED/unload-result"
signal unload-tried
wait_for unload-unmapped 120
if [[ $SERVER_IMPL == c ]]; then
    unload_upstream_module rtrs_server
fi
summary "server ($SERVER_IMPL): rmmod rnbd_server with 2 sessions up succeeded in $took s and closed both sessions and their devices (brd refcnt back to $refs0)"
unload_module brd
rxe_down
