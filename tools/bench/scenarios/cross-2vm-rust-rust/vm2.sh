# Rust client / Rust server: tools/bench/cross-vm2.sh.
BENCH_SETUP=cross-2vm-rust-rust CLIENT_IMPL=rust SERVER_IMPL=rust
. "$RNBD_REPO/tools/bench/cross-vm2.sh"
