# Soft-RoCE helpers shared by the guest runner and the scenario library.

# rxe_add NIC: create rxe<NIC> on eth<NIC> and wait up to 20 s for port 1
# to become ACTIVE.
rxe_add() {
    local nic=$1 try
    rdma link add "rxe$nic" type rxe netdev "eth$nic" || return 1
    for ((try = 0; try < 200; try++)); do
        rxe_active "rxe$nic" && return 0
        sleep 0.1
    done
    echo "rxe$nic did not become ACTIVE" >&2
    return 1
}

rxe_active() { rdma link show "$1/1" 2>/dev/null | grep -q 'state ACTIVE'; }
