// SPDX-License-Identifier: GPL-2.0

//! Fuzzes what the server finds in a chunk (IoReq::parse over the
//! RDMA_WRITE/RDMA_READ trailers and their descriptors) and RKEY_RSP.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rnbd_wire::rtrs::{peek_msg_type, Imm, IoKind, IoReq, RdmaRead, RdmaWrite, RkeyRsp, SgDesc};

fuzz_target!(|data: &[u8]| {
    // [off: 2][chunk ...]
    let Some((off, chunk)) = data.split_first_chunk::<2>() else {
        return;
    };
    let off = usize::from(u16::from_le_bytes(*off));
    if let Ok(req) = IoReq::parse(chunk, off) {
        assert_eq!(req.data_len + req.usr_len, off);
        assert!(req.usr_range().end <= chunk.len());
        let trailer = &chunk[off..];
        match req.kind {
            IoKind::Write => {
                assert_eq!(
                    RdmaWrite::decode(trailer).map(|w| w.usr_len.get().into()),
                    Ok(req.usr_len)
                );
            }
            IoKind::Read { need_inval, desc } => {
                let (hdr, descs) = RdmaRead::decode_with_descs(trailer).unwrap();
                assert_eq!(hdr.need_inval(), need_inval);
                assert_eq!(descs.get(0), desc);
                assert!(descs.len() <= 1);
                let all: Vec<SgDesc> = descs.iter().collect();
                let mut buf = [0u8; 24];
                let n =
                    RdmaRead::encode_with_descs(hdr.usr_len.get(), hdr.flags.get(), &all, &mut buf)
                        .unwrap();
                assert_eq!(buf[..n], trailer[..n]);
            }
        }
    }
    let _ = peek_msg_type(chunk);
    if let Ok(w) = RdmaWrite::decode(chunk) {
        assert_eq!(w.encode()[..], chunk[..4]);
    }
    if let Ok(r) = RdmaRead::decode(chunk) {
        assert_eq!(r.encode()[..], chunk[..8]);
    }
    if let Ok(d) = SgDesc::decode(chunk) {
        assert_eq!(d.encode()[..], chunk[..16]);
    }
    if let Ok(rsp) = RkeyRsp::decode(chunk) {
        assert_eq!(rsp.encode()[..], chunk[..8]);
        let imm = Imm::IoRsp {
            msg_id: off as u32,
            errno: 0,
            w_inv: false,
        };
        let ok = rsp.check(off as u16, imm).is_ok();
        assert_eq!(
            ok,
            rsp.buf_id.get() < off as u16 && u32::from(rsp.buf_id.get()) == off as u32
        );
    }
});
