// SPDX-License-Identifier: GPL-2.0

//! rnbd_wire_test: the host-tested wire sources, compiled into a module by
//! path as rnbd_client and rnbd_server will. On load it encodes and decodes
//! one message of each kind and the spec's immediate-data examples, and
//! prints one line with the results; the `wire-1vm` scenario checks it.

use kernel::prelude::*;

#[path = "../../../rtrs/common/wire.rs"]
mod rtrs_wire;

#[path = "../../../rnbd/proto/wire.rs"]
mod rnbd_wire;

/// The name the RNBD wire source uses for the RTRS one (as in the drivers).
use rtrs_wire as wire;

module! {
    type: WireTest,
    name: "rnbd_wire_test",
    author: "rnbd-rs developers",
    description: "rnbd-rs proof module: the wire formats in the kernel",
    license: "GPL",
}

struct WireTest;

/// Encodes `msg`, decodes the bytes, and compares.
fn rtrs_round_trip<T: rtrs_wire::Wire + PartialEq>(msg: &T) -> bool {
    let mut buf = [0u8; 512];
    match msg.encode_into(&mut buf) {
        Ok(n) if n == T::SIZE => {}
        _ => return false,
    }
    matches!(T::decode(&buf), Ok(back) if back == *msg)
}

fn rnbd_round_trip<T: rnbd_wire::Wire + PartialEq>(msg: &T) -> bool {
    let mut buf = [0u8; 512];
    match msg.encode_into(&mut buf) {
        Ok(n) if n == T::SIZE => {}
        _ => return false,
    }
    matches!(T::decode(&buf), Ok(back) if back == *msg)
}

/// The number of checks that failed, out of the returned total.
fn run() -> (u32, u32) {
    use rnbd_wire::{AccessMode, Op, Rw};
    use rtrs_wire::{Imm, IoReqImm};

    let mut checks = 0u32;
    let mut failed = 0u32;
    let mut check = |ok: bool, what: &str| {
        checks += 1;
        if !ok {
            failed += 1;
            pr_err!("check failed: {}\n", what);
        }
    };

    let uuid = [0x5a; 16];
    check(
        rtrs_round_trip(&rtrs_wire::ConnReq::new(1, 3, 0, uuid, uuid, true)),
        "conn_req",
    );
    check(
        rtrs_round_trip(&rtrs_wire::ConnRsp::accept(512, 126976, 4096, 2)),
        "conn_rsp",
    );
    check(
        rtrs_round_trip(&rtrs_wire::ConnRsp::reject(-104)),
        "conn_rsp reject",
    );
    check(
        rtrs_wire::ConnRsp::reject(-104).encode().get(4..6) == Some(&[0x98, 0xff][..]),
        "conn_rsp errno bytes",
    );
    match rtrs_wire::InfoReq::new(b"sess1") {
        Ok(req) => check(rtrs_round_trip(&req), "info_req"),
        Err(_) => check(false, "info_req new"),
    }
    check(
        rtrs_round_trip(&rtrs_wire::RkeyRsp::new(5, 0x1234)),
        "rkey_rsp",
    );

    let mut chunk = [0u8; 256];
    let desc = rtrs_wire::SgDesc::new(0x1000, 0x77, 4096);
    let off = 36 + 36;
    let ok = chunk.get_mut(off..).map(|tail| {
        rtrs_wire::RdmaRead::encode_with_descs(36, rtrs_wire::RTRS_MSG_NEED_INVAL_F, &[desc], tail)
    });
    check(matches!(ok, Some(Ok(24))), "rdma_read encode");
    check(
        matches!(rtrs_wire::IoReq::parse(&chunk, off),
            Ok(req) if req.data_len == 36 && req.usr_len == 36
                && req.kind == rtrs_wire::IoKind::Read { need_inval: true, desc: Some(desc) }),
        "io_req parse",
    );

    let mem_bits = rtrs_wire::mem_bits(512).unwrap_or(0);
    check(mem_bits == 19, "mem_bits(512)");
    check(
        IoReqImm {
            buf_id: 5,
            offset: 4128,
        }
        .encode(mem_bits)
            == Ok(0x0028_1020),
        "IO_REQ imm",
    );
    let rsp = |errno| {
        Imm::IoRsp {
            msg_id: 5,
            errno,
            w_inv: false,
        }
        .encode()
    };
    check(rsp(0) == Ok(0x1000_0005), "IO_RSP imm");
    check(rsp(-5) == Ok(0x1028_0005), "IO_RSP -EIO imm");
    check(Imm::HbMsg.encode() == Ok(0x8000_0000), "HB imm");
    check(Imm::HbAck.encode() == Ok(0x9000_0000), "HB ACK imm");
    check(
        Imm::decode(0x1028_0005)
            == Ok(Imm::IoRsp {
                msg_id: 5,
                errno: -5,
                w_inv: false,
            }),
        "IO_RSP decode",
    );

    check(
        rnbd_round_trip(&rnbd_wire::SessInfo::new(rnbd_wire::RNBD_PROTO_VER_MAJOR)),
        "sess_info",
    );
    match rnbd_wire::Open::new(AccessMode::Rw, b"ram0") {
        Ok(open) => check(rnbd_round_trip(&open), "open"),
        Err(_) => check(false, "open new"),
    }
    let mut open_rsp = rnbd_wire::OpenRsp::new(3);
    open_rsp.nsectors.set(262144);
    open_rsp.logical_block_size.set(512);
    check(rnbd_round_trip(&open_rsp), "open_rsp");
    check(rnbd_round_trip(&rnbd_wire::Close::new(3)), "close");
    let fua_write = Rw {
        sync: true,
        fua: true,
        ..Rw::new(Op::Write)
    };
    check(fua_write.encode() == 0x301, "rw FUA write");
    check(
        rnbd_round_trip(&rnbd_wire::Io::new(3, 8, fua_write, 4096, 0)),
        "io",
    );
    check(
        rnbd_wire::Io::decode(&[0u8; 26]).is_err(),
        "io of type 0 refused",
    );

    (checks, failed)
}

impl kernel::Module for WireTest {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let (checks, failed) = run();
        pr_info!(
            "wire formats: {} of {} checks passed (conn_req {} B, info_req {} B, open {} B, io {} B)\n",
            checks - failed,
            checks,
            rtrs_wire::ConnReq::SIZE,
            rtrs_wire::InfoReq::SIZE,
            rnbd_wire::Open::SIZE,
            rnbd_wire::Io::SIZE
        );
        if failed != 0 {
            return Err(EINVAL);
        }
        Ok(WireTest)
    }
}
