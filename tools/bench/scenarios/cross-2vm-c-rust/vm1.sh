# C client / Rust server: tools/bench/cross-vm1.sh.
BENCH_SETUP=cross-2vm-c-rust CLIENT_IMPL=c SERVER_IMPL=rust
. "$RNBD_REPO/tools/bench/cross-vm1.sh"
