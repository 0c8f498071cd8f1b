# A kernel thread sleeps uninterruptibly forever. With the detector's
# timeout lowered, its report must fail the run; the script then waits for
# the harness to stop the VM.
echo 3 > /proc/sys/kernel/hung_task_timeout_secs
insmod "$RNBD_MODULES/tests/modules/rnbd_selftest_fault/rnbd_selftest_fault.ko" action=hang
sleep 60
