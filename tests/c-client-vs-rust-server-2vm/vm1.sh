# VM 1: the server under test ($SERVER_IMPL, default rust).
SERVER_IMPL=${SERVER_IMPL:-rust}
. "$RNBD_REPO/tests/lib/client-io-server.sh"
