# VM 2: the client under test ($CLIENT_IMPL) force-unmaps a device under fio.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

out=$RNBD_SHARED
rnbd_deep_net_queues
spec="sessname=fu path=ip:$RNBD_VM1_IP device_path=/dev/ram0"
rnbd_client_load
wait_for server-ready 300
wait_reachable "$RNBD_VM1_IP"
dev=$(rnbd_map "$spec")

# Two fio jobs of random reads and writes at QD16, for up to 60 s.
fio --name=fu --filename="/dev/$dev" --direct=1 --ioengine=libaio \
    --rw=randrw --bs=4k-128k --iodepth=16 --numjobs=2 --size=128M \
    --time_based --runtime=60 --group_reporting \
    --output-format=json --output="$out/fio-fu.json" > /dev/null 2>&1 &
fio_pid=$!
sleep 6
kill -0 "$fio_pid" || fail "fio ended before the unmap: $(cat "$out/fio-fu.json")"
t=$(now)
timeout 30 bash -c "echo force > /sys/block/$dev/rnbd/unmap_device" || fail "force unmap of /dev/$dev (exit $?)"
unmap_s=$(elapsed "$t")
log "force unmap returned after $unmap_s s"

# fio must see the errors and exit by itself.
waited=0
while kill -0 "$fio_pid" 2> /dev/null; do
    ((waited++ < 300)) || {
        log "D-state processes: $(d_state_procs)"
        fail "fio still running 30 s after the force unmap"
    }
    sleep 0.1
done
rc=0
wait "$fio_pid" || rc=$?
fio_s=$(elapsed "$t")
((rc != 0)) || fail "fio succeeded on a force-unmapped device"
err=$(jq '.jobs[0].error' "$out/fio-fu.json") || fail "fio wrote no JSON: $(tail -5 "$out/fio-fu.json")"
((err != 0)) || fail "fio reported no error after the force unmap"
log "ok: fio exited $fio_s s after the force unmap (exit $rc, error $err)"

# Nothing left: no process in D state (two looks 1 s apart, so that a
# passing uninterruptible sleep does not count), the disk, its link, the
# session.
# (No process substitution: the guest has no /dev/fd.)
d_state_procs | sort > /tmp/d1
sleep 1
d_state_procs | sort > /tmp/d2
stuck=$(comm -12 /tmp/d1 /tmp/d2)
[[ -z $stuck ]] || fail "processes in D state after the force unmap: $stuck"
wait_until 20 test ! -e "/sys/block/$dev"
[[ -z $(ls "$RNBD_CLT_CTL/devices") ]] || fail "ctl/devices not empty: $(ls "$RNBD_CLT_CTL/devices")"
wait_until 20 test ! -e /sys/class/rtrs-client/fu
[[ -z $(rnbd_devices) ]] || fail "rnbd devices left: $(rnbd_devices)"
signal client-force-unmapped
wait_for server-checked 120

# The client still works: map again, write and read back.
dev=$(rnbd_map "$spec")
expect_file "/sys/block/$dev/rnbd/state" open
fio --name=again --filename="/dev/$dev" --direct=1 --ioengine=libaio \
    --rw=randwrite --bs=64k --iodepth=8 --size=16M \
    --verify=crc32c --do_verify=1 --verify_fatal=1 \
    --output-format=json --output="$out/fio-again.json" > /dev/null || fail "fio after the re-map"
expect_eq "$(jq '.jobs[0].error' "$out/fio-again.json")" 0 "fio errors after the re-map"
rnbd_unmap "$dev"
rnbd_client_unload
signal client-done
rxe_down
summary "client ($CLIENT_IMPL): force unmap under 2 fio jobs at QD16 returned in $unmap_s s; fio exited $fio_s s later with error $err; no D-state process, device and session gone; re-mapped and 16 MiB verified"
