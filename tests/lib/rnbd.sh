# RNBD helpers for scenario scripts, the same for the C modules and ours:
# both speak the upstream sysfs.

RNBD_CLT_CTL=/sys/devices/virtual/rnbd-client/ctl
RNBD_SRV_CTL=/sys/devices/virtual/rnbd-server/ctl

# rnbd_map "SPEC": write SPEC to map_device; prints the new device name
# (rnbd<N>), found through the ctl/devices/<path>@<session> link.
rnbd_map() {
    local spec=$1 sess path link
    sess=$(sed -n 's/.*sessname=\([^ ]*\).*/\1/p' <<<"$spec")
    path=$(sed -n 's/.*device_path=\([^ ]*\).*/\1/p' <<<"$spec")
    echo "$spec" > "$RNBD_CLT_CTL/map_device" || fail "map_device '$spec'"
    link=$RNBD_CLT_CTL/devices/${path//\//!}@$sess
    [[ -L $link ]] || fail "no $link after mapping"
    basename "$(readlink "$link")"
}

# c_client_preempt_workaround SESSION: before heavy IO on a preemptible
# kernel (the debug variant), switch the upstream C client's session to
# round-robin. Its
# default min-inflight policy (and min-latency) marks a tried path in a
# per-CPU list entry of the path, shared by every task on that CPU, under
# rcu_read_lock() only; when a request is preempted inside
# rtrs_clt_request(), the next request on that CPU finds its only path
# "already tried" and fails with ECONNABORTED without sending anything
# ("RTRS failed to transfer IO, err: -103" in c-client-vs-rust-server-2vm
# on the debug kernel). Round-robin keeps no such list. Our client orders
# paths per request and has no such state (Documentation/client.md).
c_client_preempt_workaround() {
    local policy=/sys/class/rtrs-client/$1/mpath_policy
    [[ -d /sys/module/rtrs_client ]] || return 0
    uname -v | grep -qw PREEMPT || return 0
    [[ $(cat "$policy") == min-inflight* || $(cat "$policy") == min-latency* ]] || return 0
    echo round-robin > "$policy" || fail "set $policy"
    log "C client on a preemptible kernel: $1 set to round-robin (see c_client_preempt_workaround)"
}

# rnbd_unmap DEV [normal|force]
rnbd_unmap() {
    local dev=$1 mode=${2:-normal}
    echo "$mode" > "/sys/block/$dev/rnbd/unmap_device" || fail "unmap $dev ($mode)"
    wait_until 10 test ! -e "/sys/block/$dev"
}

# rtrs_paths CLASS SESSION: the names of SESSION's path directories
# (CLASS is rtrs-client or rtrs-server).
rtrs_paths() { ls "/sys/class/$1/$2/paths"; }

# rnbd_map_fails ERRNO_TEXT "SPEC": writing SPEC to map_device must fail
# with ERRNO_TEXT (strerror text, e.g. "Operation not permitted") and leave
# no device behind.
rnbd_map_fails() {
    local want=$1 spec=$2 out
    if out=$(bash -c 'echo "$1" > "$2"' bash "$spec" "$RNBD_CLT_CTL/map_device" 2>&1); then
        fail "map_device '$spec' succeeded, expected '$want'"
    fi
    [[ $out == *"$want"* ]] || fail "map_device '$spec': expected '$want', got: $out"
    log "ok: map_device '$spec' failed with '$want'"
}

# The server under test. Scenarios that accept either implementation of
# rnbd_server choose it by SERVER_IMPL (passed to the guests with
# `make scenario S=... SERVER_IMPL=c`, see Documentation/testing.md):
#   rust (default)  ours (RTRS built in): `modprobe rnbd_server`, from the
#                   installed module tree (`make install`)
#   c               the upstream C rnbd_server (+ rtrs_server) from the
#                   kernel's own tree ($RNBD_MODROOT_UPSTREAM)
SERVER_IMPL=${SERVER_IMPL:-rust}
case $SERVER_IMPL in
    rust | c) ;;
    *) fail "SERVER_IMPL='$SERVER_IMPL': want rust or c" ;;
esac

# rnbd_server_load [PARAM=VALUE...]: load the server under test.
rnbd_server_load() {
    log "loading the $SERVER_IMPL rnbd_server $*"
    if [[ $SERVER_IMPL == c ]]; then
        load_upstream_module rnbd_server "$@"
    else
        load_module rnbd_server "$@"
        rnbd_is_ours rnbd_server
    fi
}

# rnbd_server_unload: unload it (the C one with rtrs_server and rtrs_core).
rnbd_server_unload() {
    if [[ $SERVER_IMPL == c ]]; then
        unload_upstream_module rnbd_server
    else
        rmmod rnbd_server || fail "rmmod rnbd_server"
    fi
}

# The client under test, chosen like the server by CLIENT_IMPL (passed to
# the guests with `make scenario S=... CLIENT_IMPL=c`):
#   rust (default)  ours (RTRS built in): `modprobe rnbd_client`, from the
#                   installed module tree (`make install`)
#   c               the upstream C rnbd_client (+ rtrs_client) from the
#                   kernel's own tree ($RNBD_MODROOT_UPSTREAM)
CLIENT_IMPL=${CLIENT_IMPL:-rust}
case $CLIENT_IMPL in
    rust | c) ;;
    *) fail "CLIENT_IMPL='$CLIENT_IMPL': want rust or c" ;;
esac

# rnbd_client_load [PARAM=VALUE...]: load the client under test.
rnbd_client_load() {
    log "loading the $CLIENT_IMPL rnbd_client $*"
    if [[ $CLIENT_IMPL == c ]]; then
        load_upstream_module rnbd_client "$@"
    else
        load_module rnbd_client "$@"
        rnbd_is_ours rnbd_client
    fi
    [[ -d $RNBD_CLT_CTL ]] || fail "no $RNBD_CLT_CTL after loading the client"
}

# rnbd_client_unload: unload it (the C one with rtrs_client and, unless the
# C server still uses it, rtrs_core).
rnbd_client_unload() {
    if [[ $CLIENT_IMPL == c ]]; then
        unload_upstream_module rnbd_client
    else
        rmmod rnbd_client || fail "rmmod rnbd_client"
    fi
}

# rnbd_deep_net_queues: a 10000-packet transmit queue on every NIC and
# receive backlog. Under TCG on a loaded host, fio at QD16 with 128k
# requests puts ~2000 rxe packets in flight; the default 1000-packet queues
# dropped bursts of them, RC go-back-N resent the whole window into the
# same full queue, and after 7 retries the client's QP went to error (IO
# errors, path down: "Failed IB_WR_REG_MR: WR flushed" first in the log).
rnbd_deep_net_queues() {
    local nic
    sysctl -qw net.core.netdev_max_backlog=10000 || fail "netdev_max_backlog"
    for nic in /sys/class/net/eth*; do
        ip link set "${nic##*/}" txqueuelen 10000 || fail "txqueuelen of ${nic##*/}"
    done
}

# rnbd_devices: the rnbd<N> block devices present now.
rnbd_devices() { ls /sys/block | grep '^rnbd' || true; }

# rtrs_clt_path SESSION SRC DST: the client's path directory of SESSION.
rtrs_clt_path() { echo "/sys/class/rtrs-client/$1/paths/ip:$2@ip:$3"; }

# d_state_procs: processes in uninterruptible sleep (D), one
# "/proc/<pid>/stat: <pid> (<comm>)" line each.
d_state_procs() {
    local f st
    for f in /proc/[0-9]*/stat; do
        st=$(cat "$f" 2>/dev/null) || continue
        # comm is in parentheses and may hold spaces: the state follows ") ".
        [[ ${st##*) } == D* ]] && echo "$f: ${st%%) *})"
    done
    return 0
}

# rtrs_srv_stats_rdma SESSION PATH: the server's stats/rdma of one path,
# checked against its format (%llu %llu %llu %llu: read count, read bytes,
# write count, write bytes) and printed as four words.
rtrs_srv_stats_rdma() {
    local f=/sys/class/rtrs-server/$1/paths/$2/stats/rdma line
    [[ -e $f ]] || fail "$f does not exist"
    line=$(cat "$f")
    [[ $line =~ ^[0-9]+\ [0-9]+\ [0-9]+\ [0-9]+$ ]] || fail "$f: '$line' is not 4 unsigned numbers"
    echo "$line"
}

# wait_reachable IP [SECONDS]: until IP answers on the network (a TCP
# connection to a closed port is refused), so that the first rdma_cm
# connect does not race the link and ARP right after boot (a first
# map_device timing out in init_conns() with no source address was seen
# in c-baseline-2vm).
wait_reachable() {
    local scale=${RNBD_TIMEOUT_SCALE:-1}
    local ip=$1 limit=$((${2:-30} * scale)) start out
    start=$(now)
    until out=$(timeout $((2 * scale)) bash -c ": > /dev/tcp/$ip/9" 2>&1) || [[ $out == *"Connection refused"* ]]; do
        (($(echo "$(elapsed "$start") < $limit" | bc))) || fail "$ip unreachable for ${limit}s: $out"
        sleep 0.5
    done
    log "$ip reachable after $(elapsed "$start") s"
}

# rdma_resources: the verbs objects on this VM's RDMA devices, one line per
# device ("rxe0: pd 1 cq 2 qp 2 cm_id 3 mr 0 ctx 0 srq 0"), kernel users
# included: the same before and after a module's sessions means they freed
# everything they allocated on the devices.
rdma_resources() { rdma resource show | sed 's/^[0-9]*: //'; }

# expect_rdma_resources EXPECTED [SECONDS]: until rdma_resources prints
# EXPECTED (closes finish asynchronously); fails showing both.
# With RNBD_RES_POOLED_CQ=1 the CQ counts are left out of the comparison:
# upstream's RTRS takes its CQs from the device's CQ pool
# (ib_cq_pool_get() in rtrs.c create_cq()), which keeps them for reuse
# until the device goes away, so the C modules leave pooled CQs behind by
# design; every other object must still be back.
expect_rdma_resources() {
    local want=$1 note=""
    [[ ${RNBD_RES_POOLED_CQ:-0} == 1 ]] && note=" (CQ counts aside: upstream pools its CQs)"
    rdma_resources_cmp() {
        if [[ ${RNBD_RES_POOLED_CQ:-0} == 1 ]]; then sed -E 's/ cq [0-9]+//'; else cat; fi
    }
    same_rdma_resources() { [[ $(rdma_resources | rdma_resources_cmp) == "$(rdma_resources_cmp <<<"$1")" ]]; }
    if ! (wait_until "${2:-30}" same_rdma_resources "$want"); then
        fail "RDMA resources: got '$(rdma_resources)', expected '$want'$note"
    fi
    log "ok: RDMA resources as expected: $(rdma_resources), before: $want$note"
}

# expect_modinfo_complete NAME: the installed (and loaded) module's
# modinfo has a version, description and license, and every parameter in
# /sys/module/NAME/parameters is listed with a description and a type.
expect_modinfo_complete() {
    local m=$1 f p listed
    for f in version description license; do
        [[ -n $(modinfo -F "$f" "$m") ]] || fail "modinfo $m: no $f"
    done
    listed=$(modinfo -F parm "$m" | sed -n 's/^\([a-z_0-9]*\):..*/\1/p' | sort | tr '\n' ' ')
    [[ -d /sys/module/$m/parameters ]] || fail "$m has no parameters in sysfs"
    expect_eq "$listed" "$(ls "/sys/module/$m/parameters" | sort | tr '\n' ' ')" "parameters with a description in modinfo $m"
    for p in $(ls "/sys/module/$m/parameters"); do
        modinfo -F parmtype "$m" | grep -q "^$p:" || fail "modinfo $m: no type for $p"
    done
    log "ok: modinfo $m: version $(modinfo -F version "$m"), $(ls "/sys/module/$m/parameters" | wc -l) parameters described"
}
