// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the immediate-data encodings: decode/encode of every type, and
//! the IO_REQ split with a queue depth and chunk size from the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rnbd_wire::rtrs::{mem_bits, Imm, IoReqImm, MAX_IMM_PAYL_MASK};

fuzz_target!(|data: &[u8]| {
    // [imm: 4][qd: 2][max_chunk_size: 4]
    let Some((imm, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let imm = u32::from_le_bytes(*imm);
    match Imm::decode(imm) {
        Ok(Imm::HbMsg | Imm::HbAck) => assert!(matches!(imm >> 28, 8 | 9)),
        Ok(i) => assert_eq!(i.encode(), Ok(imm)),
        Err(_) => assert!(!matches!(imm >> 28, 0 | 1 | 2 | 8 | 9)),
    }
    let Some((qd, rest)) = rest.split_first_chunk::<2>() else {
        return;
    };
    let qd = u32::from(u16::from_le_bytes(*qd));
    let max_chunk = rest
        .first_chunk::<4>()
        .map_or(u32::MAX, |c| u32::from_le_bytes(*c));
    let payload = imm & MAX_IMM_PAYL_MASK;
    if let Ok(req) = IoReqImm::decode(payload, qd, max_chunk) {
        assert!(req.buf_id < qd && req.offset < max_chunk);
        let mb = mem_bits(qd).unwrap();
        assert_eq!(req.encode(mb), Ok(payload));
    }
    if let Ok(mb) = mem_bits(qd) {
        let split = IoReqImm::split(payload, mb);
        assert_eq!(split.encode(mb), Ok(payload));
    }
});
