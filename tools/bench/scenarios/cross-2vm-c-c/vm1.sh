# C client / C server: tools/bench/cross-vm1.sh.
BENCH_SETUP=cross-2vm-c-c CLIENT_IMPL=c SERVER_IMPL=c
BENCH_PERFTEST=1  # the link limit, measured once
. "$RNBD_REPO/tools/bench/cross-vm1.sh"
