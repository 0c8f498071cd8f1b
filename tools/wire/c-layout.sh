#!/usr/bin/env bash
# Compiles tools/wire/c/wire_layout.c to assembly with the kernel's own
# flags, against the patched 6.12 tree of $VARIANT (as asm-offsets.c is),
# and writes what it defines -- sizes, field offsets, constants, helper
# results and byte images of the C wire structs -- one "NAME VALUE" per
# line (VEC lines: "VEC fn args... = result"). Prints the file's path.
#
# Run by tools/wire/tests/c_layout.rs (so by `cargo test` and `make unit`);
# needs `make kernel` first. Takes a few seconds; make rebuilds the .s
# only when the C sources or the kernel headers change.
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"
[[ -f $RNBD_KERNEL_BUILD/Module.symvers && -d $RNBD_KERNEL_OUT ]] \
    || rnbd_die "no kernel build for '$RNBD_VARIANT': run 'make kernel'"
dir=$RNBD_KERNEL_OUT/${RNBD_EXTMOD_NAME:-extmod}-wire-layout
mkdir -p "$dir"
# -a keeps mtimes, so make rebuilds only what changed.
rsync -a --delete --exclude='*.s' --exclude='.*.cmd' --exclude='*.txt' \
    "$RNBD_REPO/tools/wire/c/" "$dir/"
make -s -C "$RNBD_KERNEL_SRC" "${rnbd_kmake_args[@]}" M="$dir" wire_layout.s >&2
out=$dir/wire_layout.txt
sed -n 's/^[[:space:]]*\.ascii[[:space:]]*"->\(.*\)"$/\1/p' "$dir/wire_layout.s" >"$out.tmp"
[[ -s $out.tmp ]] || rnbd_die "no definitions in $dir/wire_layout.s"
mv "$out.tmp" "$out"
echo "$out"
