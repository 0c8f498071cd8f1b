# VM 2: the client under test (CLIENT_IMPL) maps from VM 1's malformed
# server once per case; map_device must fail with the errno expected.txt
# gives for this client, and leave nothing behind.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"

exp=$RNBD_REPO/tests/client-vs-malformed-server-2vm/expected.txt
col=$([[ $CLIENT_IMPL == c ]] && echo 3 || echo 2)
only=${MAL_CASES:-}
out=$RNBD_SHARED/outcomes-$CLIENT_IMPL.txt

rnbd_client_load
# The first case must not pay for ARP and the first CM exchange with a
# VM still settling (a lost first REQ ends in the 30 s connect timeout).
wait_for ready-1 300
wait_reachable "$RNBD_VM1_IP"

errno_text() {
    case $1 in
    ENOMEM) echo "Cannot allocate memory" ;;
    EEXIST) echo "File exists" ;;
    ECONNRESET) echo "Connection reset by peer" ;;
    ECONNABORTED) echo "Software caused connection abort" ;;
    ETIMEDOUT) echo "Connection timed out" ;;
    EMSGSIZE) echo "Message too long" ;;
    EINVAL) echo "Invalid argument" ;;
    EIO) echo "Input/output error" ;;
    EHOSTUNREACH) echo "No route to host" ;;
    *) echo "?$1" ;;
    esac
}

errno_name() {
    local e
    for e in ENOMEM EEXIST ECONNRESET ECONNABORTED ETIMEDOUT EMSGSIZE EINVAL EIO EHOSTUNREACH; do
        [[ $1 == *"$(errno_text "$e")"* ]] && { echo "$e"; return; }
    done
    echo "other:${1##*: }"
}

d_state() {
    local f s
    for f in /proc/[0-9]*/stat; do
        s=$(awk '{print $3}' "$f" 2>/dev/null) || continue
        [[ $s == D ]] && echo "$f: $(cat "${f%/stat}/comm" 2>/dev/null)"
    done
    return 0
}

n=0 bad=0 total_s=0
while read -r case rust c; do
    [[ -z $case || $case == \#* ]] && continue
    want=$([[ $col == 3 ]] && echo "$c" || echo "$rust")
    [[ -n $only && ",$only," != *",$case,"* ]] && continue
    [[ $want == skip && -z $only ]] && { echo "$case skip" >> "$out"; continue; }
    n=$((n + 1))
    sess=mal$n
    wait_for "ready-$n" 60
    start=$(now)
    rc=0
    msg=$(bash -c 'echo "$1" > "$2"' bash \
        "sessname=$sess path=ip:$RNBD_VM1_IP device_path=x" "$RNBD_CLT_CTL/map_device" 2>&1) || rc=$?
    secs=$(elapsed "$start")
    if ((rc == 0)); then
        got=MAPPED
        for dev in /sys/block/rnbd*; do
            [[ -e $dev ]] && echo force > "$dev/rnbd/unmap_device"
        done
    else
        got=$(errno_name "$msg")
    fi
    # Nothing left: no disk, no RTRS session, no task in D state.
    left=""
    for ((i = 0; i < 150 * ${RNBD_TIMEOUT_SCALE:-1}; i++)); do
        [[ -e /sys/class/rtrs-client/$sess ]] || break
        sleep 0.1
    done
    [[ -e /sys/class/rtrs-client/$sess ]] && left+=" session"
    compgen -G "/sys/block/rnbd*" >/dev/null && left+=" disk"
    dtasks=$(d_state)
    [[ -n $dtasks ]] && left+=" D-state($dtasks)"
    printf '%-22s %-13s %6.1f s%s\n' "$case" "$got" "$secs" "${left:+ LEFT:$left}" >> "$out"
    if [[ $got == "$want" && -z $left ]]; then
        log "ok: $case: map_device failed with $got ($(errno_text "$got")) in $(printf %.1f "$secs") s"
    else
        log "MISMATCH $case: got $got${left:+, left:$left}, expected $want ('$msg')"
        bad=$((bad + 1))
    fi
    signal "done-$n"
done < "$exp"
signal all-done
cat "$out"
[[ -z $(ls /sys/class/rtrs-client 2>/dev/null) ]] || fail "rtrs-client sessions left: $(ls /sys/class/rtrs-client)"
rnbd_client_unload
[[ ! -e /sys/module/rnbd_client ]] || fail "rnbd_client still loaded"
summary "$CLIENT_IMPL client: $((n - bad)) of $n malformed-server cases failed map_device as expected; nothing left; rmmod ok"
((bad == 0)) || fail "$bad of $n cases differ from expected.txt (see $out)"
