#!/bin/bash
# Runs inside the guest, chrooted into the host root: sets up the VM from
# /run/rnbd/env.sh, runs the scenario's vm<N>.sh, then asks kmemleak (when
# the kernel has it) for a final scan so leaks show up on the console.
set -u
vm=$1
export RNBD_VM=$vm
# shellcheck source=/dev/null
. /run/rnbd/env.sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
hostname "vm$vm"

# /lib/modules of the guest kernel is the installed module tree (the
# kernel's modules and ours, `make install`): modprobe as users run it.
if [[ -d $RNBD_MODROOT/lib/modules/$(uname -r) ]]; then
    mount -t tmpfs -o mode=0755 tmpfs /lib/modules
    mkdir -p "/lib/modules/$(uname -r)"
    mount --bind "$RNBD_MODROOT/lib/modules/$(uname -r)" "/lib/modules/$(uname -r)"
else
    echo "runner: no module tree $RNBD_MODROOT/lib/modules/$(uname -r) (make install)"
    exit 211
fi

ip link set lo up
for ((nic = 0; nic < RNBD_NICS; nic++)); do
    addr_var=RNBD_VM${vm}_IP$nic
    ip addr add "${!addr_var}/24" dev "eth$nic"
    ip link set "eth$nic" up
done

# Soft-RoCE on every NIC, unless the scenario asked for rxe = off.
if ((RNBD_RXE)); then
    . "$RNBD_REPO/tools/vmrun/guest/rxe.sh"
    for ((nic = 0; nic < RNBD_NICS; nic++)); do
        rxe_add "$nic" || exit 210
    done
    echo "runner: rxe on ${RNBD_NICS} NIC(s): $(rdma link show | awk '{print $2, $4}' | tr '\n' ' ')"
fi

script=$RNBD_SCENARIO_DIR/vm$vm.sh
echo "runner: vm$vm ($(uname -r)) running ${script#"$RNBD_REPO"/}"
start=$(date +%s.%N)
# From a writable directory: tools such as fio drop state files in it.
( cd /tmp && exec bash -euo pipefail "$script" ) 2>&1 | tee "/run/rnbd/vm$vm.out"
rc=${PIPESTATUS[0]}
echo "runner: vm$vm script exited $rc after $(echo "$(date +%s.%N) - $start" | bc) s"

if [[ -w /sys/kernel/debug/kmemleak ]]; then
    # kmemleak reports only objects older than 5 s: wait that out, so that
    # what the script's last steps (module unloads) leaked is seen too.
    sleep 6
    echo scan > /sys/kernel/debug/kmemleak
    echo scan > /sys/kernel/debug/kmemleak
    cat /sys/kernel/debug/kmemleak
fi
exit "$rc"
