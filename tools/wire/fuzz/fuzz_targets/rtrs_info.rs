// SPDX-License-Identifier: GPL-2.0

//! Fuzzes INFO_REQ and INFO_RSP, including the client's check of the
//! descriptors against a queue depth and chunk size taken from the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rnbd_wire::rtrs::{InfoReq, InfoRsp, SgDesc};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = InfoReq::decode(data) {
        let name = req.pathname();
        assert!(!name.is_empty() && name.len() < 255);
        assert!(!name.iter().any(|&b| b == 0 || b == b'/' || b == b'.'));
        assert_eq!(data[2..2 + name.len()], *name);
        assert_eq!(InfoReq::decode(&req.encode()), Ok(req));
    }

    // [qd: 2][chunk_size: 4][INFO_RSP ...]
    let Some((params, msg)) = data.split_first_chunk::<6>() else {
        return;
    };
    let qd = u16::from_le_bytes([params[0], params[1]]);
    let chunk = u32::from_le_bytes([params[2], params[3], params[4], params[5]]);
    if let Ok((hdr, descs)) = InfoRsp::decode_with_descs(msg) {
        assert_eq!(descs.len(), usize::from(hdr.sg_cnt.get()));
        let all: Vec<SgDesc> = descs.iter().collect();
        assert_eq!(all.len(), descs.len());
        let mut buf = vec![0u8; 8 + 16 * all.len()];
        assert_eq!(InfoRsp::encode_with_descs(&all, &mut buf), Ok(buf.len()));
        assert_eq!(buf[8..], msg[8..buf.len()]);
        if let Ok(rbufs) = descs.rbufs(qd, chunk) {
            let mut n = 0usize;
            for (addr, key) in rbufs {
                // Each buffer lies in a descriptor with that key.
                assert!(all.iter().any(|d| d.key.get() == key
                    && addr.wrapping_sub(d.addr.get()) < u64::from(d.len.get())));
                n += 1;
            }
            assert_eq!(n, usize::from(qd));
        }
    }
});
