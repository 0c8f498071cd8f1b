# rnbd_wire_test.ko holds rtrs/common/wire.rs and rnbd/proto/wire.rs as the
# RNBD modules will; on load it round-trips one message of each kind and the
# spec's immediate-data examples, and fails to load if any check fails.
. "$RNBD_REPO/tests/lib/common.sh"
mod=rnbd_wire_test
ko=$(modinfo -n rnbd_wire_test) || fail "no module rnbd_wire_test in the installed tree (make install)"
dmesg -C
modprobe $mod
grep -q '^rnbd_wire_test ' /proc/modules || fail "rnbd_wire_test not in /proc/modules"
rmmod rnbd_wire_test
msgs=$(dmesg)
line=$(grep -o 'wire formats: .*' <<<"$msgs") || fail "no result line in: $msgs"
[[ $line =~ ^wire\ formats:\ ([0-9]+)\ of\ ([0-9]+)\ checks\ passed ]] || fail "bad result line: $line"
expect_eq "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "checks passed"
(( BASH_REMATCH[2] >= 20 )) || fail "only ${BASH_REMATCH[2]} checks ran"
expect_eq "$line" "wire formats: ${BASH_REMATCH[2]} of ${BASH_REMATCH[2]} checks passed (conn_req 56 B, info_req 272 B, open 264 B, io 32 B)" "result line"
summary "rnbd_wire_test.ko: $line"
