# VM 2: the client under test (CLIENT_IMPL, default rust).
. "$RNBD_REPO/tests/lib/client-io-client.sh"
