# Shared settings for the host-side scripts. Source it; do not run it.
# Everything big (kernel source, build trees, ccache, VM logs) lives under
# RNBD_CACHE, outside the repository.

RNBD_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RNBD_CACHE=${RNBD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rnbd-rs}
RNBD_VARIANT=${VARIANT:-default}

KERNEL_SOURCE_PACKAGE=linux-source-6.12
KERNEL_SOURCE_TARBALL=/usr/src/linux-source-6.12.tar.xz

# Where one kernel variant is built and installed.
RNBD_KERNEL_SRC=$RNBD_CACHE/kernel/src
RNBD_KERNEL_BUILD=$RNBD_CACHE/kernel/build-$RNBD_VARIANT
RNBD_KERNEL_OUT=$RNBD_CACHE/kernel/out-$RNBD_VARIANT
RNBD_BZIMAGE=$RNBD_KERNEL_OUT/bzImage
RNBD_MODROOT=$RNBD_KERNEL_OUT/modroot

# The kernel's Rust must be Debian's rustc-web 1.85 (it ships rust-src);
# rustup's newer compiler comes first on PATH, so name it explicitly.
RNBD_RUSTC=/usr/bin/rustc
RNBD_BINDGEN=${CARGO_HOME:-$HOME/.cargo}/bin/bindgen
export LIBCLANG_PATH=/usr/lib/llvm-19/lib
export CCACHE_DIR=${CCACHE_DIR:-$RNBD_CACHE/ccache}

# Arguments for every make against the kernel tree (kernel and modules).
rnbd_kmake_args=(
    LLVM=-19
    "CC=ccache clang-19"
    "RUSTC=$RNBD_RUSTC"
    "BINDGEN=$RNBD_BINDGEN"
    "O=$RNBD_KERNEL_BUILD"
)

# rnbd_sync_module_sources DEST [tests]: copies the module sources (Kbuild,
# kernel_ext, rnbd, rtrs, and with "tests" the test modules) into DEST for
# an out-of-tree build there. -a keeps mtimes, so make rebuilds only what
# changed; build products and generated bindings in DEST are kept.
rnbd_sync_module_sources() {
    local dest=$1 tests=()
    [[ ${2:-} == tests ]] && tests=(--include='/tests/' --include='/tests/modules/***')
    mkdir -p "$dest"
    rsync -a --delete --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
        --exclude='*.mod*' --exclude='*.order' --exclude='*_generated.rs' --exclude=Module.symvers \
        --include='/Kbuild' --include='/kernel/' --include='/kernel/rust/***' \
        "${tests[@]}" --include='/rnbd/***' --include='/rtrs/***' --exclude='*' \
        "$RNBD_REPO/" "$dest/"
}

rnbd_log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
rnbd_die() { rnbd_log "error: $*"; exit 1; }
