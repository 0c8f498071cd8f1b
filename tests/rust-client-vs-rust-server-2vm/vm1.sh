# VM 1: the Rust rnbd_server, whatever SERVER_IMPL says.
SERVER_IMPL=rust
. "$RNBD_REPO/tests/lib/client-io-server.sh"
