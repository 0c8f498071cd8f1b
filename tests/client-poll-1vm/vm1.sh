# Poll queues (spec §2.2, §8.1.1): a device mapped with nr_poll_queues=1,
# polled IO with fio (io_uring --hipri, pvsync2 --hipri) verified with
# crc32c. The client and server under test in one kernel (the blktests
# shape), the client mapping from its own rxe address.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

ip=$RNBD_VM1_IP
out=$RNBD_SHARED
load_module brd rd_nr=2 rd_size=65536
rnbd_server_load
rnbd_client_load
online=$(nproc)
log "online CPUs $online"

dev=$(rnbd_map "sessname=pollsess path=ip:$ip device_path=/dev/ram0 nr_poll_queues=1")
log "mapped /dev/$dev"
expect_file "/sys/block/$dev/rnbd/nr_poll_queues" 1
expect_file "/sys/block/$dev/rnbd/state" open
expect_file "/sys/block/$dev/queue/io_poll" 1
# num_online_cpus() default/read queues + 1 poll queue.
nq=$(ls -d /sys/block/$dev/mq/[0-9]* | wc -l)
expect_eq "$nq" $((online + 1)) "hardware queues of /dev/$dev"
# A poll session has one device (upstream: "A device MUST have its own
# session to use the polling-mode").
rnbd_map_fails "Invalid argument" "sessname=pollsess device_path=/dev/ram1"
rnbd_map_fails "Invalid argument" "sessname=pollsess device_path=/dev/ram1 nr_poll_queues=1"
# The RTRS session: nr_cpu_ids + 1 + 1 connections on its path.
dmesg | grep -F "[session=pollsess] mapped" | tail -1 | sed 's/^/dmesg: /'
dmesg | grep -qF "[session=pollsess] mapped $online/$online/1 default/read/poll queues." ||
    fail "no 'mapped $online/$online/1 default/read/poll queues' in dmesg"

fio_verify() {
    local name=$1; shift
    # Engine options (--hipri) after --ioengine.
    fio --name="$name" --filename="/dev/$dev" --direct=1 "$@" \
        --rw=randwrite --bs=4k-64k --size=16M \
        --verify=crc32c --verify_fatal=1 --do_verify=1 \
        --output-format=json --output="$out/fio-$name.json" ||
        fail "fio $name failed"
    # Random block sizes: fio stops short of --size (every byte written
    # is read back and verified).
    local written verified errors
    written=$(jq '.jobs[0].write.io_bytes' "$out/fio-$name.json")
    verified=$(jq '.jobs[0].read.io_bytes' "$out/fio-$name.json")
    errors=$(jq '.jobs[0].error' "$out/fio-$name.json")
    ((written >= (8 << 20))) || fail "fio $name wrote only $written bytes"
    expect_eq "$verified" "$written" "fio $name bytes verified"
    expect_eq "$errors" 0 "fio $name errors"
    log "fio $name: $written bytes written and verified"
}
fio_verify uring --ioengine=io_uring --hipri=1 --iodepth=8 --offset=0
fio_verify pvsync2 --ioengine=pvsync2 --hipri=1 --offset=32M  # sync IO: 6.12 polls only async block IO (HIPRI ignored)
# Non-polled IO on the same device still works (default queues).
fio_verify libaio --ioengine=libaio --iodepth=8 --offset=16M

dmesg -c > /dev/null
rnbd_unmap "$dev"
line=$(dmesg | grep -F "$dev: poll queues:" | tail -1)
log "dmesg: $line"
if [[ $CLIENT_IMPL != c ]]; then
    [[ $line =~ ([0-9]+)\ requests\ sent\ on\ poll\ connections,\ ([0-9]+)\ completions\ polled ]] ||
        fail "no poll counters in dmesg at unmap"
    sent=${BASH_REMATCH[1]} polled=${BASH_REMATCH[2]}
    # Every polled request completes from the poll connection's direct
    # CQ, found only by polling: its send and its IO_RSP (2 CQEs at
    # least; a LOCAL_INV more for reads the server did not invalidate).
    # Exactly the io_uring job's requests (pvsync2 and libaio IO is not
    # polled: it goes to the default queues).
    uring_ios=$(jq '.jobs[0].read.total_ios + .jobs[0].write.total_ios' "$out/fio-uring.json")
    expect_eq "$sent" "$uring_ios" "requests sent on the poll connection (fio io_uring total_ios)"
    ((sent >= 100)) || fail "only $sent requests went to the poll connection"
    ((polled >= 2 * sent)) || fail "$polled completions polled for $sent requests"
fi
[[ -z $(rnbd_devices) ]] || fail "rnbd devices left: $(rnbd_devices)"
wait_until 20 test -z "$(ls /sys/class/rtrs-client)"
wait_until 20 test -z "$(ls /sys/class/rtrs-server)"
rnbd_client_unload
rnbd_server_unload
unload_module brd
rxe_down
summary "client $CLIENT_IMPL, server $SERVER_IMPL: nr_poll_queues=1 mapped, io_poll 1, $nq hctxs, fio io_uring/pvsync2 hipri + libaio crc32c verified; ${sent:-?} requests on the poll connection, ${polled:-?} completions polled"
