#!/usr/bin/env bash
# Builds the repository's out-of-tree modules (Kbuild) against the cached
# kernel of $VARIANT. Extra arguments are make targets (default: modules).
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"
[[ -f $RNBD_KERNEL_BUILD/Module.symvers ]] || rnbd_die "no kernel build in $RNBD_KERNEL_BUILD: run 'make kernel'"
targets=("$@")
((${#targets[@]})) || targets=(modules)
make -s -C "$RNBD_KERNEL_SRC" "${rnbd_kmake_args[@]}" M="$RNBD_REPO" -j"$(nproc)" "${targets[@]}"
