# rnbd_hello.ko (two .rs files and a C object) loads, prints the product the
# C half computed, and unloads, five times over.
. "$RNBD_REPO/tests/lib/common.sh"
mod=rnbd_hello
ko=$(modinfo -n rnbd_hello) || fail "no module rnbd_hello in the installed tree (make install)"
expect_eq "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" "$(uname -r)" "vermagic of rnbd_hello.ko"
for i in 1 2 3 4 5; do
    dmesg -C
    modprobe $mod
    grep -q '^rnbd_hello ' /proc/modules || fail "rnbd_hello not in /proc/modules"
    rmmod rnbd_hello
    msgs=$(dmesg)
    grep -q 'rnbd_hello: hello from Rust; the C helper says 6 \* 7 = 42$' <<<"$msgs" || fail "load $i: no hello line in: $msgs"
    grep -q 'rnbd_hello: goodbye from Rust (answer was 42)$' <<<"$msgs" || fail "load $i: no goodbye line in: $msgs"
    log "load $i: hello and goodbye lines present"
done
summary "rnbd_hello.ko (Rust: 2 files + C object) loaded and unloaded 5 times, printed 6 * 7 = 42"
