# Drives tests/modules/rnbd_sysfs_test from the shell and checks every
# behaviour and error code, then loads and unloads it 50 times with
# objects left behind for module exit to clean up.
. "$RNBD_REPO/tests/lib/common.sh"

mod=rnbd_sysfs_test

ko=$(modinfo -n rnbd_sysfs_test) || fail "no module rnbd_sysfs_test in the installed tree (make install)"
ctl=/sys/devices/virtual/rnbd-sysfs-test/ctl

modprobe $mod
[[ -d $ctl ]] || fail "no $ctl"
expect_eq "$(readlink -f /sys/class/rnbd-sysfs-test/ctl)" "$ctl" "class link to ctl"
expect_eq "$(cd "$ctl" && ls -d add_object count remove_object objects links | tr '\n' ' ')" \
    "add_object count links objects remove_object " "ctl entries"
expect_eq "$(stat -c %a "$ctl/add_object") $(stat -c %a "$ctl/remove_object") $(stat -c %a "$ctl/count")" \
    "644 200 444" "ctl permissions"
expect_file "$ctl/add_object" "Usage: echo <name> > add_object"
expect_file "$ctl/count" 0

# Create objects: a directory with attributes, and a symlink to it.
echo alpha > "$ctl/add_object"
echo beta > "$ctl/add_object"
echo -n gamma > "$ctl/add_object"   # without the newline
expect_file "$ctl/count" 3
for o in alpha beta gamma; do
    expect_file "$ctl/objects/$o/value" 0
    expect_eq "$(readlink "$ctl/links/$o")" "../objects/$o" "links/$o"
    expect_eq "$(stat -c %a "$ctl/objects/$o/value") $(stat -c %a "$ctl/objects/$o/remove")" "644 200" "objects/$o permissions"
done

# Attribute store and show.
echo 42 > "$ctl/objects/alpha/value"
echo 4294967295 > "$ctl/objects/beta/value"
expect_file "$ctl/objects/alpha/value" 42
expect_file "$ctl/objects/beta/value" 4294967295
expect_file "$ctl/links/alpha/value" 42

# Errors: the errno reaches the writer.
expect_fail "Invalid argument" bash -c "echo forty > $ctl/objects/alpha/value"
expect_fail "Invalid argument" bash -c "echo 4294967296 > $ctl/objects/alpha/value"
expect_file "$ctl/objects/alpha/value" 42
expect_fail "File exists" bash -c "echo alpha > $ctl/add_object"
expect_fail "Invalid argument" bash -c "echo Bad/Name > $ctl/add_object"
expect_fail "Invalid argument" bash -c "echo > $ctl/add_object"
expect_fail "File name too long" bash -c "echo $(printf 'x%.0s' $(seq 33)) > $ctl/add_object"
echo "$(printf 'y%.0s' $(seq 32))" > "$ctl/add_object"
expect_fail "No such file or directory" bash -c "echo nosuch > $ctl/remove_object"
# A write-only file refuses reads, even to root (kernfs checks the mode).
expect_fail "Permission denied" cat "$ctl/remove_object"
expect_fail "Invalid argument" bash -c "echo 0 > $ctl/objects/beta/remove"
expect_file "$ctl/count" 4

# The self-removing attribute takes its whole object with it.
echo 1 > "$ctl/objects/beta/remove"
[[ ! -e $ctl/objects/beta ]] || fail "objects/beta still there"
[[ ! -L $ctl/links/beta ]] || fail "links/beta still there"
expect_file "$ctl/count" 3

# Removal through ctl.
echo gamma > "$ctl/remove_object"
[[ ! -e $ctl/objects/gamma && ! -L $ctl/links/gamma ]] || fail "gamma still there"
expect_file "$ctl/count" 2
# A name can be reused once its object is gone.
echo gamma > "$ctl/add_object"
expect_file "$ctl/objects/gamma/value" 0
expect_file "$ctl/count" 3

# Concurrent writers on the same objects: every object ends up removed
# exactly once, whichever path removed it.
for i in $(seq 1 20); do echo "c$i" > "$ctl/add_object"; done
for i in $(seq 1 20); do
    ( echo 1 > "$ctl/objects/c$i/remove" ) 2>/dev/null &
    ( echo "c$i" > "$ctl/remove_object" ) 2>/dev/null &
done
wait
expect_file "$ctl/count" 3
expect_eq "$(ls "$ctl/objects" | grep -c '^c' || true)" 0 "objects left by the concurrent removals"

# Module exit removes what is left (alpha, gamma, y...y).
rmmod rnbd_sysfs_test
[[ ! -e $ctl && ! -e /sys/class/rnbd-sysfs-test ]] || fail "sysfs left after rmmod"
dmesg | grep "rnbd_sysfs_test: unloaded, 3 object(s) removed" >/dev/null || fail "no unload line"

# Load and unload 50 times, with objects each time.
for i in $(seq 1 50); do
    modprobe $mod
    echo "a$i" > "$ctl/add_object"
    echo "b$i" > "$ctl/add_object"
    echo 1 > "$ctl/objects/a$i/remove"
    rmmod rnbd_sysfs_test
done
[[ ! -e $ctl ]] || fail "sysfs left after the load cycles"
summary "sysfs: class, ctl attrs, 23 objects with links and self-removal, 8 errno checks, 50 load/unload cycles"
