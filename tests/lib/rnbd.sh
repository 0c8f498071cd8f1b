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

# rnbd_unmap DEV [normal|force]
rnbd_unmap() {
    local dev=$1 mode=${2:-normal}
    echo "$mode" > "/sys/block/$dev/rnbd/unmap_device" || fail "unmap $dev ($mode)"
    wait_until 10 test ! -e "/sys/block/$dev"
}

# rtrs_paths CLASS SESSION: the names of SESSION's path directories
# (CLASS is rtrs-client or rtrs-server).
rtrs_paths() { ls "/sys/class/$1/$2/paths"; }
