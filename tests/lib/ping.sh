# Helpers for the scenarios of tests/modules/rnbd_ping_test. Source after
# common.sh.

ping_mod=rnbd_ping_test

ping_ko=$(modinfo -n rnbd_ping_test) || fail "no module rnbd_ping_test in the installed tree (make install)"
ping_ctl=/sys/devices/virtual/rnbd-ping-test/ctl

# ping_connect ADDRESS: connects; the accept carried "pong-hello".
ping_connect() {
    echo "$1" > "$ping_ctl/connect" || fail "connect to $1: $(cat "$ping_ctl/result")"
    expect_file "$ping_ctl/result" "connected pong-hello"
}

# ping_run BYTES SEED EXPECTED-FIELD: one run of every step; the result
# must be ok and mention EXPECTED-FIELD.
ping_run() {
    echo "$1 $2" > "$ping_ctl/run" || fail "run $1 $2: $(cat "$ping_ctl/result")"
    local result
    result=$(cat "$ping_ctl/result")
    [[ $result == "ok ping write_imm read remote_inv local_inv "*"$3 "* ]] \
        || fail "run $1 $2: '$result'"
}

# ping_stale: an RDMA READ with the server's invalidated rkey is refused.
ping_stale() {
    echo 1 > "$ping_ctl/stale" || fail "stale: $(cat "$ping_ctl/result")"
    local result
    result=$(cat "$ping_ctl/result")
    [[ $result == "refused remote access error" || $result == "refused "*"access"* ]] \
        || fail "stale rkey: '$result'"
    log "stale rkey: $result"
}

ping_disconnect() {
    echo 1 > "$ping_ctl/disconnect" || fail "disconnect: $(cat "$ping_ctl/result")"
    expect_file "$ping_ctl/result" disconnected
}

# ping_server_expect ESTABLISHED DISCONNECTED CHECKS ACTIVE: the listener's
# counters once its side has caught up (runs = checks = remote_inv).
ping_server_expect() {
    wait_until 10 grep -q "disconnected=$2 .*active=$4 " "$ping_ctl/server"
    local s
    s=$(cat "$ping_ctl/server")
    [[ $s == "established=$1 disconnected=$2 rejected=0 active=$4 "*" remote_inv=$3 checks_ok=$3 checks_bad=0 errors=0" ]] \
        || fail "server counters: '$s'"
}

# ping_burst COUNT BAD_AT [drop]: batched (mostly unsignalled) RDMA WRITEs;
# prints the tally line ("burst posted=... twice=0"), failing unless every
# posted context came back exactly once and in order.
ping_burst() {
    echo "$*" > "$ping_ctl/burst" || fail "burst $*: $(cat "$ping_ctl/result")"
    local result
    result=$(cat "$ping_ctl/result")
    [[ $result == "burst "*" out_of_order=0 twice=0" ]] || fail "burst $*: '$result'"
    local posted back
    posted=$(burst_field posted "$result")
    back=$(burst_field back "$result")
    ((posted == back)) || fail "burst $*: $back of $posted contexts back: '$result'"
    log "burst $*: $result" >&2
    echo "$result"
}

# burst_field NAME LINE: the number after NAME= in LINE.
burst_field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<< "$2"; }
