# The module WARNs at load and loads fine; the script succeeds. Only the
# console report can fail the run, as it must.
insmod "$RNBD_MODULES/tests/modules/rnbd_selftest_fault/rnbd_selftest_fault.ko" action=warn
rmmod rnbd_selftest_fault
