# rnbd-peer helpers for scenario scripts (after common.sh).

peer=$RNBD_REPO/target/release/rnbd-peer
[[ -x $peer ]] || fail "no $peer (make tools)"
peer_out=/tmp/peer.out
# Seconds the peer waits for a malformed case's answer: 4, times the
# harness's timeout scale on slow (debug) kernels.
mal_t=$((4 * ${RNBD_TIMEOUT_SCALE:-1}))

# peer_ok NAME ARGS...: run the peer, keep its output in $peer_out.NAME,
# fail on a non-zero exit.
peer_ok() {
    local name=$1 rc=0
    shift
    "$peer" "$@" > "$peer_out.$name" 2>&1 || rc=$?
    sed "s/^/[vm$RNBD_VM] $name: /" "$peer_out.$name"
    ((rc == 0)) || fail "rnbd-peer $* exited $rc"
}

# peer_fails NAME RC TEXT ARGS...: the peer must exit RC and say TEXT.
peer_fails() {
    local name=$1 want_rc=$2 text=$3 rc=0
    shift 3
    "$peer" "$@" > "$peer_out.$name" 2>&1 || rc=$?
    sed "s/^/[vm$RNBD_VM] $name: /" "$peer_out.$name"
    ((rc == want_rc)) || fail "rnbd-peer $*: exit $rc, expected $want_rc"
    grep -q -- "$text" "$peer_out.$name" || fail "rnbd-peer $*: no '$text' in its output"
    log "ok: $name exits $rc with '$text'"
}

# malformed_suite SERVER EXPECTED CASES...: one fresh session per case;
# each outcome is compared with EXPECTED ("case outcome" lines) and
# appended to $RNBD_SHARED/outcomes.txt. Sets malformed_n and
# malformed_bad.
malformed_suite() {
    local srv=$1 expected=$2 case line got want rc
    shift 2
    malformed_n=0 malformed_bad=0
    for case in "$@"; do
        malformed_n=$((malformed_n + 1))
        rc=0
        line=$("$peer" --server "$srv" --session "mal$malformed_n" -d /dev/ram0 -t "$mal_t" malformed "$case" 2>/tmp/err) || rc=$?
        [[ -s /tmp/err ]] && sed "s/^/[vm$RNBD_VM] $case: /" /tmp/err
        got=${line#"malformed $case: "}
        ((rc == 0)) || got="error(exit $rc)"
        want=$(awk -v c="$case" '$1 == c {print $2}' "$expected")
        echo "$case $got" >> "$RNBD_SHARED/outcomes.txt"
        if [[ -n $want && $got == "$want"* ]]; then
            log "ok: $case: $got"
        else
            log "MISMATCH $case: got '$got', expected '${want:-nothing}'"
            malformed_bad=$((malformed_bad + 1))
        fi
    done
}
