#!/usr/bin/env bash
# Build (or reuse) the guest kernel for one variant: default or debug.
#
#   tools/kernel/build.sh            # VARIANT=default
#   VARIANT=debug tools/kernel/build.sh
#
# The kernel tree is Debian's linux-source-6.12 as it comes: no patch (the
# modules bring their own bindings and C helpers, kernel/rust/kernel_ext/kext.mk).
# The result is cached under a key made of the kernel source version, the
# config fragments, the toolchain and this script. With the
# key unchanged the script does no work. With it changed, the build tree is
# reused, so make rebuilds only what the change touches (plus ccache).
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"

fragments=("$RNBD_REPO/kernel/config/rnbd-rs.config")
case "$RNBD_VARIANT" in
    default) ;;
    debug) fragments+=("$RNBD_REPO/kernel/config/debug.config") ;;
    *) rnbd_die "unknown VARIANT '$RNBD_VARIANT' (default or debug)" ;;
esac

[[ -r $KERNEL_SOURCE_TARBALL ]] || rnbd_die "$KERNEL_SOURCE_TARBALL missing: run 'make setup' (tools/setup/install-deps.sh)"
[[ -x $RNBD_BINDGEN ]] || rnbd_die "$RNBD_BINDGEN missing: run tools/setup/install-deps.sh"
source_version=$(dpkg-query -W -f='${Version}' "$KERNEL_SOURCE_PACKAGE")

hash_of() { sha256sum | cut -c1-16; }

src_key=$( { echo "$source_version"; echo vanilla; } | hash_of)
config_key=$( { echo "$src_key"; cat "${fragments[@]}"; } | hash_of)
build_key=$( { echo "$config_key"; cat "$0" "$RNBD_REPO/tools/lib/env.sh";
    "$RNBD_RUSTC" --version; clang-19 --version | head -1; "$RNBD_BINDGEN" --version; } | hash_of)

if [[ -f $RNBD_KERNEL_OUT/key && $(cat "$RNBD_KERNEL_OUT/key") == "$build_key" \
      && -f $RNBD_BZIMAGE ]]; then
    rnbd_log "kernel '$RNBD_VARIANT' up to date ($build_key): $RNBD_BZIMAGE"
    exit 0
fi
started=$SECONDS

# --- source: the pristine tarball, synced into one live tree ---------------
# The live tree keeps the mtimes of files that did not change, so moving
# from an older (patched) tree rebuilds only what differs.
mkdir -p "$RNBD_CACHE/kernel"
if [[ ! -f $RNBD_KERNEL_SRC/.rnbd-src-key || $(cat "$RNBD_KERNEL_SRC/.rnbd-src-key") != "$src_key" ]]; then
    pristine=$RNBD_CACHE/kernel/pristine
    if [[ ! -f $pristine/.rnbd-version || $(cat "$pristine/.rnbd-version") != "$source_version" ]]; then
        rnbd_log "unpacking $KERNEL_SOURCE_TARBALL ($source_version)"
        rm -rf "$pristine" "$pristine.tmp"
        mkdir -p "$pristine.tmp"
        tar -xJf "$KERNEL_SOURCE_TARBALL" -C "$pristine.tmp" --strip-components=1
        echo "$source_version" > "$pristine.tmp/.rnbd-version"
        mv "$pristine.tmp" "$pristine"
    fi
    staging=$RNBD_CACHE/kernel/staging
    rm -rf "$staging"
    cp -a "$pristine" "$staging"
    rm -f "$staging/.rnbd-version"
    mkdir -p "$RNBD_KERNEL_SRC"
    # No -t: files that differ get a fresh mtime, so make sees them as new
    # even when a file goes back to older content.
    changed=$(rsync -rlc --delete --exclude=/.rnbd-src-key --out-format='%n' "$staging/" "$RNBD_KERNEL_SRC/" | grep -vc '/$' || true)
    rm -rf "$staging"
    echo "$src_key" > "$RNBD_KERNEL_SRC/.rnbd-src-key"
    rnbd_log "source tree ready ($changed files changed)"
fi

kmake() { make -C "$RNBD_KERNEL_SRC" "${rnbd_kmake_args[@]}" "$@"; }

mkdir -p "$RNBD_KERNEL_BUILD"
kmake -s rustavailable >/dev/null || rnbd_die "the kernel does not accept this Rust toolchain: run 'make -C $RNBD_KERNEL_SRC ${rnbd_kmake_args[*]} rustavailable'"

# --- config: tinyconfig + fragments, then verify nothing was dropped --------
if [[ ! -f $RNBD_KERNEL_BUILD/.rnbd-config-key || $(cat "$RNBD_KERNEL_BUILD/.rnbd-config-key") != "$config_key" ]]; then
    rnbd_log "configuring '$RNBD_VARIANT': tinyconfig + ${fragments[*]##*/}"
    kmake -s tinyconfig
    "$RNBD_KERNEL_SRC/scripts/kconfig/merge_config.sh" -m -O "$RNBD_KERNEL_BUILD" \
        "$RNBD_KERNEL_BUILD/.config" "${fragments[@]}" >/dev/null
    kmake -s olddefconfig
    "$RNBD_REPO/tools/kernel/check-config.sh" "$RNBD_KERNEL_BUILD/.config" "${fragments[@]}"
    echo "$config_key" > "$RNBD_KERNEL_BUILD/.rnbd-config-key"
fi

# --- build and install --------------------------------------------------------
jobs=$(( $(nproc) + 1 ))
rnbd_log "building '$RNBD_VARIANT' with -j$jobs (about 20 minutes from scratch on 2 cores)"
kmake -j"$jobs" bzImage modules
rm -rf "$RNBD_KERNEL_OUT"
mkdir -p "$RNBD_KERNEL_OUT"
kmake -s INSTALL_MOD_PATH="$RNBD_MODROOT" modules_install
cp "$RNBD_KERNEL_BUILD/arch/x86/boot/bzImage" "$RNBD_BZIMAGE"
kmake -s kernelrelease > "$RNBD_KERNEL_OUT/release"
echo "$build_key" > "$RNBD_KERNEL_OUT/key"
rnbd_log "kernel '$RNBD_VARIANT' $(cat "$RNBD_KERNEL_OUT/release") built in $((SECONDS - started)) s: $RNBD_BZIMAGE"
