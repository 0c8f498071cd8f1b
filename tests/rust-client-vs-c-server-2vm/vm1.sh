# VM 1: the upstream C rnbd_server, whatever SERVER_IMPL says.
SERVER_IMPL=c
. "$RNBD_REPO/tests/lib/client-io-server.sh"
