#!/usr/bin/env bash
# Host checks of the install paths a user without our VMs takes
# (README.md, "Install on a host with a Rust-enabled kernel"):
#
# 1. A kernel without CONFIG_RUST (Debian's own linux-headers, 6.1): both
#    `make install KDIR=...` and a plain `make -C KDIR M=...` (what DKMS
#    runs) stop at once with one sentence naming the missing option, and
#    no compiler runs.
# 2. `make install KDIR=<the Rust-enabled 6.12 build directory>` into a
#    root that holds that kernel's modules (as a host's /lib/modules does):
#    ours land in extra/, depmod's override makes `modprobe rnbd_server`
#    resolve to them rather than to the kernel's C modules of the same
#    name, and modinfo lists version, description, license and the same
#    parameters as the upstream modules, each with a description.
# 3. DKMS (its trees in a scratch folder): `dkms add`, `build` and
#    `install` for that kernel produce the same two modules.
#
# Needs `make kernel` (default variant). Exit status 0 only if all pass.
set -euo pipefail
. "$(dirname "$0")/../../tools/lib/env.sh"

pass=0
failures=0
ok() { echo "install-check: ok: $*"; pass=$((pass + 1)); }
bad() { echo "install-check: FAIL: $*"; failures=$((failures + 1)); }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/rnbd-install-check.XXXXXX")
trap '[[ ${KEEP:-0} == 1 ]] || rm -rf "$scratch"' EXIT
kmake_tools=(LLVM=-19 "RUSTC=$RNBD_RUSTC" "BINDGEN=$RNBD_BINDGEN")

# --- 1. a kernel without Rust -------------------------------------------
norust=""
for d in /usr/src/linux-headers-*-amd64; do
    if [[ -f $d/include/config/auto.conf ]] && ! grep -qx CONFIG_RUST=y "$d/include/config/auto.conf"; then
        norust=$d
        break
    fi
done
if [[ -z $norust ]]; then
    bad "no kernel headers without CONFIG_RUST under /usr/src (make deps installs linux-headers-amd64)"
else
    if out=$(cd "$RNBD_REPO" && make -s install KDIR="$norust" 2>&1); then
        bad "make install KDIR=$norust succeeded on a kernel without CONFIG_RUST"
    elif grep -q "configured without CONFIG_RUST=y" <<<"$out" && (($(wc -l <<<"$out") <= 3)); then
        ok "make install KDIR=$norust: $(grep -o 'the kernel in.*CONFIG_RUST=y' <<<"$out" | head -1)"
    else
        bad "make install KDIR=$norust: no clear message: $out"
    fi
    rnbd_sync_module_sources "$scratch/norust-src"
    if out=$(make -C "$norust" M="$scratch/norust-src" RNBD_NO_TEST_MODULES=1 modules 2>&1); then
        bad "make -C $norust M=... modules succeeded without CONFIG_RUST"
    elif grep -q "rnbd-rs: the kernel in .* is configured without CONFIG_RUST=y" <<<"$out" &&
        ! grep -qE "rustc|error\[E|\.o\]" <<<"$out"; then
        ok "make -C <kernel without Rust> M=... (the DKMS path) stops with the CONFIG_RUST message before compiling"
    else
        bad "make -C $norust M=...: $out"
    fi
fi

# --- 2. make install KDIR= into a root holding the kernel's modules --------
[[ -f $RNBD_KERNEL_BUILD/include/config/auto.conf ]] || {
    bad "no kernel build in $RNBD_KERNEL_BUILD: run 'make kernel'"
    echo "install-check: $pass passed, $failures failed"
    exit 1
}
kver=$(cat "$RNBD_KERNEL_OUT/release")
root=$scratch/root
mkdir -p "$root/lib/modules"
cp -al "$RNBD_MODROOT/lib/modules/$kver" "$root/lib/modules/"
t=$SECONDS
if (cd "$RNBD_REPO" && make -s install KDIR="$RNBD_KERNEL_BUILD" INSTALL_MOD_PATH="$root" "${kmake_tools[@]}") \
    > "$scratch/install.log" 2>&1; then
    ok "make install KDIR=$RNBD_KERNEL_BUILD INSTALL_MOD_PATH=<root> in $((SECONDS - t)) s"
else
    bad "make install KDIR=...: $(tail -20 "$scratch/install.log")"
fi
for m in server client; do
    ko=$root/lib/modules/$kver/extra/rnbd/$m/rnbd_$m.ko
    if [[ -f $ko ]]; then ok "installed $ko"; else bad "no $ko"; fi
    resolved=$(modprobe -d "$root" -S "$kver" --show-depends "rnbd_$m" 2>&1 | tail -1)
    if [[ $resolved == "insmod $ko"* ]]; then
        ok "modprobe rnbd_$m resolves to ours (the depmod override beats kernel/drivers/block/rnbd), after $(($(modprobe -d "$root" -S "$kver" --show-depends "rnbd_$m" | wc -l) - 1)) dependencies"
    else
        bad "modprobe rnbd_$m resolves to: $resolved"
    fi
    for f in version description license; do
        v=$(modinfo -b "$root" -k "$kver" -F "$f" "rnbd_$m" 2>/dev/null || true)
        if [[ -n $v ]]; then ok "modinfo rnbd_$m $f: $v"; else bad "modinfo rnbd_$m: no $f"; fi
    done
    # Ours carry upstream's rnbd-<m> and rtrs-<m> parameters (RTRS is
    # built in), plus the ones that only ours have (Documentation/
    # differences.md): the server's error budget, the client's IO hold.
    ours=$(modinfo -b "$root" -k "$kver" -F parm "rnbd_$m" | sed -n 's/^\([a-z_0-9]*\):..*/\1/p' | sort | tr '\n' ' ')
    extra=$([[ $m == server ]] && echo max_errors || echo hold_io_sec)
    theirs=$(for ko in $(find "$root/lib/modules/$kver/kernel/drivers" -name "rnbd-$m.ko*" -o -name "rtrs-$m.ko*"); do
        modinfo -F parm "$ko" | sed -n 's/^\([a-z_0-9]*\):.*/\1/p'
    done | { cat; echo "$extra"; } | sort | tr '\n' ' ')
    typed=$(modinfo -b "$root" -k "$kver" -F parmtype "rnbd_$m" | wc -l)
    if [[ -n $ours && $ours == "$theirs" && $typed -eq $(wc -w <<<"$ours") ]]; then
        ok "modinfo rnbd_$m: parameters ($ours) = upstream's rnbd-$m and rtrs-$m ones + $extra, each described and typed"
    else
        bad "modinfo rnbd_$m parameters: ours '$ours' ($typed typed), upstream's + $extra '$theirs'"
    fi
done
conf=$root/etc/depmod.d/rnbd-rs.conf
if grep -q "^override rnbd_server \* extra/rnbd/server" "$conf" 2>/dev/null; then
    ok "depmod override in $conf"
else
    bad "no depmod override in $conf"
fi

# --- 3. DKMS ---------------------------------------------------------------
# In a private mount namespace whose /lib/modules/<kver> is the root of
# step 2 (the kernel's modules), with a build link to the kernel build
# directory, as a host running that kernel has: dkms finds the kernel
# the usual way, installs, and runs depmod on that tree only.
dkms_args=(--dkmstree "$scratch/dkms" --sourcetree "$scratch/src" -m rnbd-rs -v 0.1.0 -k "$kver")
mkdir -p "$scratch/dkms" "$scratch/src/rnbd-rs-0.1.0" "$scratch/bin"
ln -sfn "$RNBD_KERNEL_BUILD" "$root/lib/modules/$kver/build"
# DKMS builds a clang-built kernel's modules with CC=clang LD=ld.lld (its
# own choice, on the command line): Debian names them clang-19 and
# ld.lld-19, as a user's PATH would provide them.
ln -s "$(command -v clang-19)" "$scratch/bin/clang"
ln -s "$(command -v ld.lld-19)" "$scratch/bin/ld.lld"
rsync -a --exclude .git --exclude target --exclude logs "$RNBD_REPO/" "$scratch/src/rnbd-rs-0.1.0/"
t=$SECONDS
if ! command -v dkms > /dev/null; then
    bad "dkms is not installed (make deps installs it)"
elif env PATH="$scratch/bin:$PATH" LLVM=-19 RUSTC="$RNBD_RUSTC" BINDGEN="$RNBD_BINDGEN" unshare -m bash -c '
        set -e
        mkdir -p /lib/modules
        mount -t tmpfs tmpfs /lib/modules
        mkdir "/lib/modules/$1"
        mount --bind "$2/lib/modules/$1" "/lib/modules/$1"
        kver=$1
        shift 2
        dkms add "$@"
        dkms build "$@"
        dkms install --force "$@"
        modprobe -S "$kver" --show-depends rnbd_server
        modprobe -S "$kver" --show-depends rnbd_client' _ "$kver" "$root" "${dkms_args[@]}" \
        > "$scratch/dkms.log" 2>&1 < /dev/null; then
    resolved=$(grep '^insmod ' "$scratch/dkms.log" | tail -2 | sed "s|^insmod /lib/modules/$kver/||" | tr '\n' ' ')
    if [[ $resolved == *"updates/dkms/rnbd_server.ko"* && $resolved == *"updates/dkms/rnbd_client.ko"* ]]; then
        ok "dkms add, build, install for $kver in $((SECONDS - t)) s; modprobe resolves to $resolved"
    else
        bad "after dkms install, modprobe resolves to: $resolved; $(tail -20 "$scratch/dkms.log")"
    fi
else
    bad "dkms: $(tail -30 "$scratch/dkms.log"; tail -20 "$scratch"/dkms/rnbd-rs/0.1.0/build/make.log 2>/dev/null)"
fi

echo "install-check: $pass passed, $failures failed"
((failures == 0))
