# The module dereferences NULL at load. The script itself then succeeds:
# only the console report can make this run fail, as it must.
insmod "$RNBD_MODULES/tests/modules/rnbd_selftest_fault/rnbd_selftest_fault.ko" action=oops || true
echo "after the oops"
