# VM 2: the upstream C rnbd_client, whatever CLIENT_IMPL says.
CLIENT_IMPL=c
. "$RNBD_REPO/tests/lib/client-io-client.sh"
