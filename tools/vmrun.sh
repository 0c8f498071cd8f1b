#!/usr/bin/env bash
# Runs VM scenarios against the cached kernel of $VARIANT:
#   tools/vmrun.sh tests/<scenario>... [-- vmrun options]
set -euo pipefail
. "$(dirname "$0")/lib/env.sh"
scale=1
[[ $RNBD_VARIANT == debug ]] && scale=4
exec "$RNBD_REPO/target/release/vmrun" run --kernel-dir "$RNBD_KERNEL_OUT" \
    --timeout-scale "${RNBD_TIMEOUT_SCALE:-$scale}" "$@"
