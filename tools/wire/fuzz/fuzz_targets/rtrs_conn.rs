// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the connection request and response decoders (CM private data),
//! and the client's path parameters and request layout derived from them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rnbd_wire::rtrs::{ConnReq, ConnRsp, CONN_REQ_FIRST_CONN, MAX_CON_NUM, RTRS_MAGIC};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = ConnReq::decode(data) {
        let out = req.encode();
        // Every field kept, reserved bytes and bits zeroed.
        assert_eq!(out[..2], [0, 0]);
        assert_eq!(out[2..44], data[2..44]);
        assert_eq!(out[44], data[44] & CONN_REQ_FIRST_CONN);
        assert!(out[45..].iter().all(|&b| b == 0));
        assert_eq!(req.magic.get(), RTRS_MAGIC);
        assert!(req.cid.get() < req.cid_num.get() && req.cid_num.get() <= MAX_CON_NUM);
        assert_eq!(ConnReq::decode(&out), Ok(req));
    }
    if let Ok(rsp) = ConnRsp::decode(data) {
        let out = rsp.encode();
        assert_eq!(out[..20], data[..20]);
        assert!(out[20..].iter().all(|&b| b == 0));
        assert_eq!(
            rsp.errno(),
            i32::from(i16::from_le_bytes([data[4], data[5]]))
        );
        assert_eq!(ConnRsp::decode(&out), Ok(rsp));
        let _ = rsp.chunk_size();
        // The client's view of the parameters, and of requests laid out
        // by them: whatever fits, fits the chunk and the header limit.
        if let Ok(p) = rsp.path_params() {
            assert!(p.max_hdr_size > 0 && p.max_io_size > 0);
            assert_eq!(
                u64::from(p.chunk_size),
                u64::from(p.max_io_size) + u64::from(p.max_hdr_size)
            );
            let tail = data.get(20..).unwrap_or(&[]);
            let word = |i: usize| {
                tail.get(i..i + 4)
                    .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    as usize
            };
            for write in [false, true] {
                let (usr, len) = (word(0) % (1 << 17), word(4) % (1 << 24));
                if let Ok(l) = p.io_layout(write, usr, len) {
                    assert!(l.hdr_len <= p.max_hdr_size as usize);
                    assert!(l.hdr_offset + l.hdr_len <= p.chunk_size as usize);
                    assert_eq!(l.trailer_offset, len + usr);
                }
            }
        }
    }
});
