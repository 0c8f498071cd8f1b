#!/usr/bin/env bash
# make install: installs rnbd_server.ko and rnbd_client.ko like any
# out-of-tree driver, under /lib/modules/<kver>/extra, with a depmod
# override so that `modprobe rnbd_server` / `modprobe rnbd_client` load
# ours even where the kernel ships the upstream C modules of the same name.
#
#   make install                  # into the guest module tree of $VARIANT
#   make install KDIR=/lib/modules/$(uname -r)/build   # a Rust-enabled host kernel
#
# Guest tree: $RNBD_KERNEL_OUT/modroot-installed, a hard-linked copy of
# the kernel's own tree ($RNBD_KERNEL_OUT/modroot, which keeps the upstream
# C modules loadable for the C pairs) plus the modules `make modules`
# built, the test modules included (the scenarios modprobe them too).
#
# KDIR: builds against that kernel build directory (in a copy of the
# sources under $RNBD_CACHE), without the test modules, installs into
# ${INSTALL_MOD_PATH}/lib/modules/<kver>/extra, puts the override into
# ${INSTALL_MOD_PATH}/etc/depmod.d/rnbd-rs.conf and runs depmod.
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"

depmod_conf() {
    cat <<'EOF'
# rnbd-rs: its rnbd_server and rnbd_client (in extra/) win over the
# kernel's upstream C modules of the same name (in kernel/).
override rnbd_server * extra/rnbd/server
override rnbd_client * extra/rnbd/client
EOF
}

if [[ -n ${KDIR:-} ]]; then
    [[ -f $KDIR/Makefile ]] || rnbd_die "KDIR=$KDIR is not a kernel build directory"
    config=$KDIR/include/config/auto.conf
    [[ -f $config ]] || rnbd_die "KDIR=$KDIR has no include/config/auto.conf: not a configured kernel build directory (for a distribution kernel, install its headers package)"
    grep -qx 'CONFIG_RUST=y' "$config" ||
        rnbd_die "the kernel in KDIR=$KDIR is configured without CONFIG_RUST=y: rnbd_server and rnbd_client are Rust modules and need a Rust-enabled kernel (README.md, \"Install on a host\")"
    kver=$(make -s -C "$KDIR" kernelrelease)
    build=$RNBD_CACHE/extmod-$kver
    rnbd_sync_module_sources "$build"
    rnbd_log "building for $kver against $KDIR"
    make -C "$KDIR" M="$build" RNBD_NO_TEST_MODULES=1 -j"$(nproc)" modules
    make -C "$KDIR" M="$build" RNBD_NO_TEST_MODULES=1 INSTALL_MOD_DIR=extra modules_install
    root=${INSTALL_MOD_PATH:-}
    mkdir -p "$root/etc/depmod.d"
    depmod_conf > "$root/etc/depmod.d/rnbd-rs.conf"
    depmod ${root:+-b "$root"} "$kver"
    rnbd_log "installed into $root/lib/modules/$kver/extra; try: modprobe rnbd_server"
    exit 0
fi

extmod=$RNBD_KERNEL_OUT/${RNBD_EXTMOD_NAME:-extmod}
[[ -f $extmod/rnbd/server/rnbd_server.ko && -f $extmod/rnbd/client/rnbd_client.ko ]] \
    || rnbd_die "no modules in $extmod: run 'make modules'"
kver=$(cat "$RNBD_KERNEL_OUT/release")
tree=$RNBD_KERNEL_OUT/modroot-installed
stamp=$tree/.rnbd-installed
# Up to date when no module is newer than the last install.
if [[ -f $stamp && -z $(find "$extmod" "$RNBD_MODROOT/lib/modules/$kver/modules.dep" -newer "$stamp" \
        \( -name '*.ko' -o -name modules.dep \) -print -quit) ]]; then
    [[ -d /lib/modules ]] || mkdir -p /lib/modules
    rnbd_log "guest tree up to date: $tree"
    exit 0
fi
rm -rf "$tree"
# Hard links: the kernel's modules cost no space; depmod below writes its
# indexes as new files (write then rename), so the kernel's tree keeps its own.
cp -al "$RNBD_MODROOT" "$tree"
make -s -C "$RNBD_KERNEL_SRC" "${rnbd_kmake_args[@]}" M="$extmod" \
    INSTALL_MOD_PATH="$tree" INSTALL_MOD_DIR=extra DEPMOD=true modules_install
mkdir -p "$tree/etc/depmod.d"
depmod_conf > "$tree/etc/depmod.d/rnbd-rs.conf"
depmod -b "$tree" -C "$tree/etc/depmod.d" "$kver"
# The guests see the host root: their runner mounts this tree on
# /lib/modules, which must exist there (a container may have none).
[[ -d /lib/modules ]] || mkdir -p /lib/modules || rnbd_die "cannot create /lib/modules (the guests mount their module tree there)"
touch "$stamp"
rnbd_log "installed into $tree/lib/modules/$kver/extra ($(find "$tree/lib/modules/$kver/extra" -name '*.ko' | wc -l) modules)"
