#!/usr/bin/env bash
# Builds the repository's out-of-tree modules (Kbuild) against the cached
# kernel of $VARIANT. Extra arguments are make targets (default: modules).
#
# The build runs in a copy of the module sources inside the kernel's output
# directory ($RNBD_KERNEL_OUT/extmod), not in the repository: each variant
# keeps its own objects (their vermagic differs), the repository stays
# free of build products, and a kernel rebuild (which recreates the output
# directory) forces a matching module rebuild. Guests find the modules
# there as $RNBD_MODULES.
set -euo pipefail
. "$(dirname "$0")/../lib/env.sh"
[[ -f $RNBD_KERNEL_BUILD/Module.symvers && -d $RNBD_KERNEL_OUT ]] \
    || rnbd_die "no kernel build for '$RNBD_VARIANT': run 'make kernel'"
# RNBD_EXTMOD_NAME lets parallel work trees build into their own copies.
extmod=$RNBD_KERNEL_OUT/${RNBD_EXTMOD_NAME:-extmod}
rnbd_sync_module_sources "$extmod" tests
targets=("$@")
((${#targets[@]})) || targets=(modules)
make -s -C "$RNBD_KERNEL_SRC" "${rnbd_kmake_args[@]}" M="$extmod" -j"$(nproc)" "${targets[@]}"
