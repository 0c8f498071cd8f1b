#!/bin/busybox sh
# rnbd-rs guest init (PID 1). Mounts the host root read-only over 9p, gives
# it writable tmpfs where programs expect to write, and runs the scenario
# runner inside it. Whatever happens, it prints exactly one result line for
# the harness and powers the VM off.
/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

vm=0
runner=
binds=
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        rnbd.vm=*) vm=${arg#rnbd.vm=} ;;
        rnbd.runner=*) runner=${arg#rnbd.runner=} ;;
        rnbd.binds=*) binds=${arg#rnbd.binds=} ;;
    esac
done

finish() {
    echo "RNBD-VM-RESULT vm=$vm rc=$1"
    sync
    poweroff -f
    sleep 5
    echo o > /proc/sysrq-trigger
}

# cache=loose: the host root does not change while the VM runs.
opts=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$opts,ro,cache=loose" hostroot /hostraw || finish 200
# /host is a second view of the same tree; the tmpfs mounts below go on it
# only, and /hostraw keeps showing what they cover.
mount --bind /hostraw /host || finish 200
for d in tmp run var/tmp root; do
    mount -t tmpfs -o mode=1777 tmpfs "/host/$d" || finish 201
done
# The repository and the cache must stay visible even if they live under a
# directory that just got a tmpfs.
for p in $(echo "$binds" | tr , ' '); do
    mkdir -p "/host$p" && mount --bind "/hostraw$p" "/host$p" || finish 202
done
mount --bind /proc /host/proc
mount --bind /sys /host/sys
mount --bind /dev /host/dev
mkdir -p /host/dev/shm /host/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm
mount -t debugfs debugfs /host/sys/kernel/debug 2>/dev/null
mount -t configfs configfs /host/sys/kernel/config 2>/dev/null
mkdir -p /host/run/rnbd
# Shared with the host, read-write, uncached: scenario flags and results.
mount -t 9p -o "$opts" rnbdshared /host/run/rnbd || finish 203

[ -n "$runner" ] || finish 204
chroot /host /bin/bash "$runner" "$vm" < /dev/null
finish $?
