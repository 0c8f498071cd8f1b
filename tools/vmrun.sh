#!/usr/bin/env bash
# Runs VM scenarios against the cached kernel of $VARIANT:
#   tools/vmrun.sh tests/<scenario>... [-- vmrun options]
set -euo pipefail
. "$(dirname "$0")/lib/env.sh"
scale=1
extra=()
if [[ $RNBD_VARIANT == debug ]]; then
    # KASAN, lockdep and debug objects under TCG run boot-time driver probes
    # for tens of seconds without scheduling: report a soft lockup only
    # after 120 s (2 x watchdog_thresh), and give scenarios 4x their time.
    scale=4
    extra=(--append watchdog_thresh=60)
fi
# Overrides for the guest scripts: SERVER_IMPL (rust|c) picks the server of
# the scenarios that run against either, CLIENT_IMPL (rust|c) the client
# (tests/lib/rnbd.sh); RNBD_GUEST_ENV
# ("KEY=VALUE ...") passes any other variables.
[[ -n ${SERVER_IMPL:-} ]] && extra+=(--env "SERVER_IMPL=$SERVER_IMPL")
[[ -n ${CLIENT_IMPL:-} ]] && extra+=(--env "CLIENT_IMPL=$CLIENT_IMPL")
for kv in ${RNBD_GUEST_ENV:-}; do
    extra+=(--env "$kv")
done
exec "$RNBD_REPO/target/release/vmrun" run --kernel-dir "$RNBD_KERNEL_OUT" \
    --timeout-scale "${RNBD_TIMEOUT_SCALE:-$scale}" "${extra[@]}" "$@"
