# Never returns: the harness must stop the VM at the timeout and fail.
sleep infinity
