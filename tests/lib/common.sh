# Helpers for scenario scripts. Sourced inside a guest by tests/<name>/vm<N>.sh,
# which runs under `bash -euo pipefail` with /run/rnbd/env.sh exported.
# Shared state lives in /run/rnbd (a host directory): flags for ordering
# between VMs, the summary the harness prints, and result files.

. "$RNBD_REPO/tools/vmrun/guest/rxe.sh"

RNBD_FLAGS=$RNBD_SHARED/flags
mkdir -p "$RNBD_FLAGS"

log() { echo "[vm$RNBD_VM] $*"; }

fail() {
    echo "[vm$RNBD_VM] FAILED: $*" >&2
    exit 1
}

# summary TEXT: one line for the harness to print under the verdict.
summary() { echo "vm$RNBD_VM: $*" >> "$RNBD_SHARED/summary"; }

# signal NAME: tell the other VMs that NAME happened.
signal() {
    log "signal $1"
    touch "$RNBD_FLAGS/$1"
}

# The waits below scale with RNBD_TIMEOUT_SCALE (vmrun sets 4 for the
# debug kernel, whose KASAN and lockdep make the guests that much slower),
# as the scenario timeouts do.

# wait_for NAME [SECONDS]: block until another VM signals NAME. Gives up on
# timeout, or as soon as the harness raises the abort flag because some VM
# failed.
wait_for() {
    local name=$1 limit=$((${2:-300} * ${RNBD_TIMEOUT_SCALE:-1})) waited=0
    log "waiting for $name"
    while [[ ! -e $RNBD_FLAGS/$name ]]; do
        [[ -e $RNBD_SHARED/abort ]] && fail "aborted while waiting for $name"
        ((waited++ < limit * 10)) || fail "timed out after ${limit}s waiting for $name"
        sleep 0.1
    done
}

# wait_until SECONDS CMD...: poll until CMD succeeds.
wait_until() {
    local limit=$(($1 * ${RNBD_TIMEOUT_SCALE:-1})) waited=0
    shift
    until "$@"; do
        ((waited++ < limit * 10)) || fail "timed out after ${limit}s waiting for: $*"
        sleep 0.1
    done
}

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
    [[ "$1" == "$2" ]] || fail "$3: got '$1', expected '$2'"
    log "ok: $3 = '$2'"
}

# expect_file PATH EXPECTED: the whole content of PATH (a sysfs attribute).
expect_file() {
    [[ -e $1 ]] || fail "$1 does not exist"
    expect_eq "$(cat "$1")" "$2" "$1"
}

# expect_fail ERRNO_TEXT CMD...: CMD must fail and say ERRNO_TEXT on stderr.
expect_fail() {
    local want=$1 out
    shift
    if out=$("$@" 2>&1); then
        fail "expected failure ($want) from: $*"
    fi
    [[ $out == *"$want"* ]] || fail "expected '$want' from: $*; got: $out"
    log "ok: '$*' failed with '$want'"
}

# load_module NAME [PARAM=VALUE...]: `modprobe NAME` as a user runs it. The
# guest's /lib/modules is the installed tree (tools/vmrun/guest/runner.sh):
# the kernel's modules, and ours (`make install`), which win over the
# upstream C modules of the same name.
load_module() {
    modprobe -v "$@" || fail "modprobe $*"
}

unload_module() {
    modprobe -r "$@" || fail "modprobe -r $*"
}

# load_upstream_module NAME [PARAM=VALUE...]: from the kernel's own tree,
# where rnbd_server and rnbd_client are the upstream C modules.
load_upstream_module() {
    modprobe -d "$RNBD_MODROOT_UPSTREAM" "$@" || fail "modprobe -d (upstream) $*"
}

unload_upstream_module() {
    modprobe -d "$RNBD_MODROOT_UPSTREAM" -r "$@" || fail "modprobe -d (upstream) -r $*"
}

# rnbd_is_ours NAME: the loaded NAME is rnbd-rs's, not the upstream C
# module of the same name: its srcversion is that of the module modprobe
# resolves NAME to, and that one's author is ours.
rnbd_is_ours() {
    local author want
    author=$(modinfo -F author "$1") || fail "modinfo $1"
    [[ $author == "rnbd-rs developers" ]] || fail "modprobe $1 resolves to '$author', not rnbd-rs"
    want=$(modinfo -F srcversion "$1")
    [[ $(cat "/sys/module/$1/srcversion" 2>/dev/null) == "$want" ]] \
        || fail "the loaded $1 is not rnbd-rs's (srcversion $(cat "/sys/module/$1/srcversion" 2>/dev/null), ours $want)"
}

# rxe_up [NIC]: soft-RoCE on eth<NIC> as rxe<NIC>, waited until ACTIVE. The
# runner already did this for every NIC (unless rxe = off); scenarios call it
# to bring a device back after rxe_down.
rxe_up() {
    local nic=${1:-0}
    rxe_add "$nic" || fail "rxe$nic on eth$nic"
    log "rxe$nic on eth$nic ($(ip -4 -o addr show dev "eth$nic" | awk '{print $4}')) active"
}

rxe_down() {
    local nic=${1:-0}
    rdma link delete "rxe$nic" || fail "rdma link delete rxe$nic"
}

# now: seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }

# sha_of DEVICE BYTES: sha256 of the first BYTES of DEVICE, read directly.
sha_of() {
    dd if="$1" bs=1M count=$(($2 / 1048576)) iflag=direct status=none | sha256sum | cut -d' ' -f1
}

# in_dmesg TEXT: the kernel log has TEXT (a fixed string). grep reads it
# all: `grep -q` would exit first and fail the pipe under pipefail.
in_dmesg() { dmesg | grep -F -- "$1" > /dev/null; }
