# VM 1 (10.10.0.1): the malformed server. For each case of expected.txt
# that the client under test runs, rnbd-peer serve-malformed listens on
# port 1234 until VM 2 is done with the case, then it is stopped.
. "$RNBD_REPO/tests/lib/common.sh"
. "$RNBD_REPO/tests/lib/rnbd.sh"
. "$RNBD_REPO/tests/lib/peer.sh"

exp=$RNBD_REPO/tests/client-vs-malformed-server-2vm/expected.txt
col=$([[ $CLIENT_IMPL == c ]] && echo 3 || echo 2)
only=${MAL_CASES:-}

"$peer" serve-malformed --list > /tmp/cases
# Every case of the table exists in the peer, and the other way round.
expect_eq "$(awk '{print $1}' /tmp/cases | sort)" \
    "$(awk '!/^#/ && NF {print $1}' "$exp" | sort)" "serve-malformed cases vs expected.txt"

n=0
while read -r case rust c; do
    [[ -z $case || $case == \#* ]] && continue
    want=$([[ $col == 3 ]] && echo "$c" || echo "$rust")
    [[ -n $only && ",$only," != *",$case,"* ]] && continue
    [[ $want == skip && -z $only ]] && continue
    n=$((n + 1))
    "$peer" --port 1234 serve-malformed "$case" --listen "$RNBD_VM1_IP" > "/tmp/serve.$n" 2>&1 &
    pid=$!
    wait_until 10 grep -q listening "/tmp/serve.$n"
    signal "ready-$n"
    wait_for "done-$n" 180
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    sed "s/^/[vm1] /" "/tmp/serve.$n"
done < "$exp"
wait_for all-done 60
summary "malformed server: $n cases served"
