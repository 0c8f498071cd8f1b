#!/usr/bin/env bash
# check-config.sh <.config> <fragment>...
# Fail if any option a fragment sets is not set the same way in the final
# .config. olddefconfig drops options whose dependencies are missing without
# a word; this makes that loud.
set -euo pipefail
config=$1; shift
bad=0
while IFS= read -r line; do
    case "$line" in
        CONFIG_*=*)
            grep -qxF -- "$line" "$config" || {
                echo "check-config: wanted '$line', got '$(grep -E "^(# )?${line%%=*}[= ]" "$config" || echo "${line%%=*} absent")'" >&2
                bad=1
            } ;;
        "# CONFIG_"*" is not set")
            opt=${line#\# }; opt=${opt%% *}
            if grep -qE "^$opt=" "$config"; then
                echo "check-config: wanted $opt off, got '$(grep -E "^$opt=" "$config")'" >&2
                bad=1
            fi ;;
    esac
done < <(cat "$@")
if ((bad)); then
    echo "check-config: the fragments ask for options the kernel config dropped (missing dependencies?)" >&2
    exit 1
fi
echo "check-config: all $(cat "$@" | grep -cE '^(CONFIG_|# CONFIG_.* is not set)') fragment options present" >&2
