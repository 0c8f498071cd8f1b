# Rust client / C server: tools/bench/cross-vm1.sh.
BENCH_SETUP=cross-2vm-rust-c CLIENT_IMPL=rust SERVER_IMPL=c
. "$RNBD_REPO/tools/bench/cross-vm1.sh"
