// SPDX-License-Identifier: GPL-2.0

//! RTRS wire formats: the spec's worked examples (rnbd-rtrs-protocol.md
//! §2.4-§4.4), error cases, and properties over arbitrary input.

use proptest::prelude::*;
use rnbd_wire::rtrs::*;

fn uuid(base: u8) -> Uuid {
    std::array::from_fn(|i| base.wrapping_add(i as u8))
}

// --- §4.2 immediate data, worked examples ---------------------------------

#[test]
fn imm_spec_examples() {
    // qd = 512: chunk_bits 9, mem_bits 19.
    let mem_bits = mem_bits(512).unwrap();
    assert_eq!(mem_bits, 19);
    // Write of 4096 data bytes + 32-byte header on buf 5: offset 4128.
    let req = IoReqImm {
        buf_id: 5,
        offset: 4128,
    };
    assert_eq!(req.encode(mem_bits), Ok(0x0028_1020));
    assert_eq!(
        Imm::decode(0x0028_1020),
        Ok(Imm::IoReq {
            payload: 0x0028_1020
        })
    );
    assert_eq!(IoReqImm::split(0x0028_1020, mem_bits), req);
    assert_eq!(IoReqImm::decode(0x0028_1020, 512, 131072), Ok(req));
    // Success reply for buf 5, -EIO reply, heartbeat, heartbeat ack.
    let ok = Imm::IoRsp {
        msg_id: 5,
        errno: 0,
        w_inv: false,
    };
    let eio = Imm::IoRsp {
        msg_id: 5,
        errno: -5,
        w_inv: false,
    };
    for (imm, value) in [
        (ok, 0x1000_0005),
        (eio, 0x1028_0005),
        (Imm::HbMsg, 0x8000_0000),
        (Imm::HbAck, 0x9000_0000),
    ] {
        assert_eq!(imm.encode(), Ok(value), "{imm:?}");
        assert_eq!(Imm::decode(value), Ok(imm), "{value:#x}");
    }
    // With invalidation: type 2.
    let w_inv = Imm::IoRsp {
        msg_id: 5,
        errno: -5,
        w_inv: true,
    };
    assert_eq!(w_inv.encode(), Ok(0x2028_0005));
    // §6.8: RNBD SESS_INFO on buf b: IMM = IO_REQ(b << 19 | 72).
    assert_eq!(
        IoReqImm {
            buf_id: 3,
            offset: 72
        }
        .encode(19),
        Ok(3 << 19 | 72)
    );
}

#[test]
fn imm_generic_helpers() {
    assert_eq!(to_imm(ImmType::HbAck as u32, 0), 0x9000_0000);
    // rtrs_to_imm() masks both parts.
    assert_eq!(to_imm(0x1F, 0xFFFF_FFFF), 0xFFFF_FFFF);
    assert_eq!(to_imm(0x11, 0x1000_0001), 0x1000_0001);
    assert_eq!(from_imm(0x1028_0005), (1, 0x0028_0005));
    for t in [0u32, 1, 2, 8, 9] {
        assert_eq!(ImmType::from_u32(t).map(|t| t as u32), Some(t));
    }
}

#[test]
fn imm_errors() {
    for t in [3u32, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15] {
        assert_eq!(Imm::decode(t << 28 | 1), Err(WireError::BadImmType(t)));
    }
    // Heartbeats ignore their payload, as the C peers do.
    assert_eq!(Imm::decode(0x8000_0001), Ok(Imm::HbMsg));
    // What C would mangle, Rust refuses to encode.
    let rsp = |msg_id, errno| {
        Imm::IoRsp {
            msg_id,
            errno,
            w_inv: false,
        }
        .encode()
    };
    assert!(rsp(0x8_0000, 0).is_err());
    assert!(rsp(5, -512).is_err());
    assert!(rsp(5, -524).is_err(), "-ENOTSUPP would arrive as -ENOMEM");
    assert!(rsp(5, i32::MIN).is_err());
    assert_eq!(rsp(0x7_FFFF, -511), Ok(0x1FFF_FFFF));
    // C takes abs(errno): a positive errno is sent like the negative one.
    assert_eq!(rsp(5, 5), rsp(5, -5));
    assert!(Imm::IoReq {
        payload: 0x1000_0000
    }
    .encode()
    .is_err());
}

#[test]
fn mem_bits_and_io_req_ranges() {
    assert_eq!(mem_bits(1), Ok(28));
    assert_eq!(mem_bits(2), Ok(27));
    assert_eq!(mem_bits(128), Ok(21));
    assert_eq!(mem_bits(129), Ok(20));
    assert_eq!(mem_bits(65535), Ok(12));
    assert!(mem_bits(0).is_err());
    assert!(mem_bits(65536).is_err());
    assert_eq!(ceil_log2(1), 0);
    assert_eq!(ceil_log2(0), 32);
    // The offset must not carry into the buffer id (C would let it).
    assert!(IoReqImm {
        buf_id: 5,
        offset: 1 << 19
    }
    .encode(19)
    .is_err());
    assert!(IoReqImm {
        buf_id: 512,
        offset: 0
    }
    .encode(19)
    .is_err());
    assert_eq!(
        IoReqImm {
            buf_id: 511,
            offset: (1 << 19) - 1
        }
        .encode(19),
        Ok(0x0FFF_FFFF)
    );
    assert!(IoReqImm {
        buf_id: 0,
        offset: 0
    }
    .encode(29)
    .is_err());
    assert_eq!(
        IoReqImm {
            buf_id: 0,
            offset: 0x0FFF_FFFF
        }
        .encode(28),
        Ok(0x0FFF_FFFF)
    );
    // Server checks: msg_id < qd, off < max_chunk_size.
    assert!(IoReqImm::decode(500 << 19, 500, 131072).is_err());
    assert!(IoReqImm::decode(499 << 19, 500, 131072).is_ok());
    assert!(IoReqImm::decode(131072, 512, 131072).is_err());
    assert!(IoReqImm::decode(131071, 512, 131072).is_ok());
    assert!(IoReqImm::decode(0, 0, 131072).is_err());
}

// --- §2.4 conn_req ----------------------------------------------------------

#[test]
fn conn_req_bytes() {
    let req = ConnReq::new(0, 3, 7, uuid(0x10), uuid(0x20), true);
    let b = req.encode();
    assert_eq!(b.len(), 56);
    assert_eq!(&b[0..2], &[0, 0], "cma and ip version must be 0");
    assert_eq!(&b[2..4], &[0xBD, 0x1B], "magic");
    assert_eq!(&b[4..6], &[0x00, 0x02], "version 2.0");
    assert_eq!(&b[6..12], &[0, 0, 3, 0, 7, 0]);
    assert_eq!(&b[12..28], &uuid(0x10));
    assert_eq!(&b[28..44], &uuid(0x20));
    assert_eq!(b[44], 0x01, "first_conn is bit 0 of byte 44");
    assert_eq!(&b[45..], &[0; 11]);
    assert_eq!(ConnReq::decode(&b), Ok(req));
    assert!(req.is_first_conn());
    assert!(!ConnReq::new(1, 3, 7, uuid(0), uuid(0), false).is_first_conn());
}

#[test]
fn conn_req_validation() {
    let good = ConnReq::new(1, 3, 0, uuid(1), uuid(2), false).encode();
    assert_eq!(
        ConnReq::decode(&good[..55]),
        Err(WireError::Short { need: 56, got: 55 })
    );
    // Longer private data (the CM pads it) is fine.
    let mut long = good.to_vec();
    long.resize(92, 0xEE);
    assert!(ConnReq::decode(&long).is_ok());
    let with = |off: usize, bytes: &[u8]| {
        let mut b = good;
        b[off..off + bytes.len()].copy_from_slice(bytes);
        ConnReq::decode(&b)
    };
    assert_eq!(with(2, &[0xBC, 0x1B]), Err(WireError::BadMagic(0x1BBC)));
    assert_eq!(with(4, &[0x00, 0x03]), Err(WireError::BadVersion(0x0300)));
    assert!(with(4, &[0x07, 0x02]).is_ok(), "minor version is ignored");
    assert!(with(8, &[0x00, 0x10]).is_ok(), "cid_num 4096");
    assert!(with(8, &[0x01, 0x10]).is_err(), "cid_num 4097");
    assert!(with(6, &[3, 0]).is_err(), "cid == cid_num");
    assert!(with(6, &[2, 0]).is_ok());
    // Reserved bits and bytes are ignored and come back zero.
    let mut garbage = good;
    garbage[0] = 0x55;
    garbage[1] = 0x66;
    garbage[44] = 0xFE;
    garbage[45..].fill(0xA5);
    let req = ConnReq::decode(&garbage).unwrap();
    assert_eq!(req, ConnReq::decode(&good).unwrap());
    assert_eq!(req.encode(), good);
    garbage[44] = 0xFF;
    assert!(ConnReq::decode(&garbage).unwrap().is_first_conn());
}

// --- §2.5 conn_rsp ----------------------------------------------------------

#[test]
fn conn_rsp_accept_and_reject() {
    let acc = ConnRsp::accept(512, 126976, 4096, RTRS_MSG_NEW_RKEY_F);
    let b = acc.encode();
    assert_eq!(&b[..8], &[0xBD, 0x1B, 0x00, 0x02, 0, 0, 0x00, 0x02]);
    assert_eq!(
        &b[8..20],
        &[0x00, 0xF0, 0x01, 0x00, 0x00, 0x10, 0, 0, 2, 0, 0, 0]
    );
    assert_eq!(&b[20..], &[0; 36]);
    let back = ConnRsp::decode(&b).unwrap();
    assert_eq!(back, acc);
    assert_eq!(back.errno(), 0);
    assert!(back.new_rkey());
    assert_eq!(back.chunk_size(), Some(131072));

    // -ECONNRESET (104) as 16-bit two's complement: 0xFF98.
    let rej = ConnRsp::reject(-104);
    let b = rej.encode();
    assert_eq!(&b[4..6], &[0x98, 0xFF]);
    assert_eq!(&b[6..], &[0; 50]);
    assert_eq!(ConnRsp::decode(&b).unwrap().errno(), -104);
    // REJ private data arrives padded (148 bytes on IB).
    let mut long = b.to_vec();
    long.resize(148, 0);
    assert_eq!(ConnRsp::decode(&long).unwrap().errno(), -104);

    assert_eq!(ConnRsp::accept(1, u32::MAX, 1, 0).chunk_size(), None);
    let mut bad = acc.encode();
    bad[3] = 1;
    assert_eq!(ConnRsp::decode(&bad), Err(WireError::BadVersion(0x0100)));
    assert_eq!(
        ConnRsp::decode(&bad[..10]),
        Err(WireError::Short { need: 56, got: 10 })
    );
    bad[20..].fill(0x5A);
    bad[3] = 2;
    assert_eq!(ConnRsp::decode(&bad), Ok(acc));
}

// --- §3.1 INFO_REQ ----------------------------------------------------------

#[test]
fn info_req() {
    let req = InfoReq::new(b"sess-1_a").unwrap();
    let b = req.encode();
    assert_eq!(b.len(), 272);
    assert_eq!(&b[..2], &[0, 0]);
    assert_eq!(&b[2..10], b"sess-1_a");
    assert!(b[10..].iter().all(|&x| x == 0));
    assert_eq!(InfoReq::decode(&b), Ok(req));
    assert_eq!(req.pathname(), b"sess-1_a");

    for bad in [&b""[..], b"a/b", b"a.b", b"..", b"a\0b"] {
        assert!(InfoReq::new(bad).is_err(), "{bad:?}");
    }
    assert!(InfoReq::new(&[b'x'; 254]).is_ok());
    assert!(InfoReq::new(&[b'x'; 255]).is_err(), "no room for the NUL");

    // Garbage after the NUL and in reserved is dropped.
    let mut g = b;
    g[11..].fill(0xC3);
    assert_eq!(InfoReq::decode(&g), Ok(req));
    // No NUL in the 255 bytes, a '.' or '/', an empty name, wrong type.
    let mut g = b;
    g[2..257].fill(b'x');
    assert!(InfoReq::decode(&g).is_err());
    let mut g = b;
    g[4] = b'.';
    assert!(InfoReq::decode(&g).is_err());
    let mut g = b;
    g[4] = b'/';
    assert!(InfoReq::decode(&g).is_err());
    let mut g = b;
    g[2] = 0;
    assert!(InfoReq::decode(&g).is_err());
    let mut g = b;
    g[0] = 1;
    assert_eq!(InfoReq::decode(&g), Err(WireError::BadType(1)));
    assert_eq!(
        InfoReq::decode(&b[..271]),
        Err(WireError::Short {
            need: 272,
            got: 271
        })
    );
}

// --- §3.2 INFO_RSP ----------------------------------------------------------

fn info_rsp(descs: &[SgDesc]) -> Vec<u8> {
    let mut buf = vec![0u8; 8 + 16 * descs.len() + 5];
    let n = InfoRsp::encode_with_descs(descs, &mut buf).unwrap();
    assert_eq!(n, 8 + 16 * descs.len());
    buf.truncate(n);
    buf
}

#[test]
fn info_rsp_layout_and_rbufs() {
    let chunk = 131072u32;
    // One MR per chunk, as the C server registers them (mrs_num = qd when
    // each chunk is its own MR) ...
    let descs: Vec<_> = (0..4u64)
        .map(|i| SgDesc::new(0x1_0000_0000 + i * 0x10_0000, 100 + i as u32, chunk))
        .collect();
    let b = info_rsp(&descs);
    assert_eq!(&b[..8], &[1, 0, 4, 0, 0, 0, 0, 0]);
    assert_eq!(&b[8..16], &0x1_0000_0000u64.to_le_bytes());
    assert_eq!(&b[16..20], &100u32.to_le_bytes());
    assert_eq!(&b[20..24], &chunk.to_le_bytes());
    let (hdr, got) = InfoRsp::decode_with_descs(&b).unwrap();
    assert_eq!(hdr.sg_cnt.get(), 4);
    assert_eq!(got.iter().collect::<Vec<_>>(), descs);
    let rbufs: Vec<_> = got.rbufs(4, chunk).unwrap().collect();
    assert_eq!(
        rbufs,
        (0..4u64)
            .map(|i| (0x1_0000_0000 + i * 0x10_0000, 100 + i as u32))
            .collect::<Vec<_>>()
    );

    // ... or one MR for several chunks: cut into chunk_size pieces.
    let b = info_rsp(&[
        SgDesc::new(0x4000_0000, 7, 4 * chunk),
        SgDesc::new(0x8000_0000, 8, 4 * chunk),
    ]);
    let (_, got) = InfoRsp::decode_with_descs(&b).unwrap();
    let rbufs: Vec<_> = got.rbufs(8, chunk).unwrap().collect();
    assert_eq!(rbufs.len(), 8);
    assert_eq!(rbufs[0], (0x4000_0000, 7));
    assert_eq!(rbufs[3], (0x4000_0000 + 3 * u64::from(chunk), 7));
    assert_eq!(rbufs[4], (0x8000_0000, 8));
    assert_eq!(rbufs[7], (0x8000_0000 + 3 * u64::from(chunk), 8));
}

#[test]
fn info_rsp_errors() {
    let chunk = 131072u32;
    let check = |descs: &[SgDesc], qd: u16, chunk: u32| {
        let b = info_rsp(descs);
        let (_, d) = InfoRsp::decode_with_descs(&b).unwrap();
        d.rbufs(qd, chunk).map(|r| r.count())
    };
    let one = |len| SgDesc::new(0x1000, 1, len);
    assert_eq!(check(&[one(4 * chunk)], 4, chunk), Ok(4));
    assert!(check(&[], 4, chunk).is_err(), "sg_cnt 0");
    assert!(
        check(&[one(chunk), one(chunk), one(chunk)], 4, chunk).is_err(),
        "qd % sg_cnt"
    );
    assert!(check(&[one(0), one(4 * chunk)], 4, chunk).is_err(), "len 0");
    assert!(
        check(&[one(chunk + 1), one(3 * chunk - 1)], 4, chunk).is_err(),
        "len not a multiple"
    );
    assert!(
        check(&[one(2 * chunk), one(4 * chunk)], 4, chunk).is_err(),
        "total too big"
    );
    assert!(
        check(&[one(chunk), one(chunk)], 4, chunk).is_err(),
        "total too small"
    );
    assert!(check(&[one(4 * chunk)], 4, 0).is_err(), "chunk size 0");
    // 2^11 descriptors of 2^18-byte chunks need 29 bits of IMM payload.
    let many = vec![SgDesc::new(0, 1, 1 << 18); 2048];
    assert!(check(&many, 2048, 1 << 18).is_err(), "IMM capacity");
    let fits = vec![SgDesc::new(0, 1, 1 << 17); 2048];
    assert_eq!(check(&fits, 2048, 1 << 17), Ok(2048), "11 + 17 bits fit");

    // Header checks and truncation.
    let b = info_rsp(&[one(chunk)]);
    assert_eq!(
        InfoRsp::decode_with_descs(&b[..23]).unwrap_err(),
        WireError::Short { need: 24, got: 23 }
    );
    assert_eq!(
        InfoRsp::decode(&b[..7]).unwrap_err(),
        WireError::Short { need: 8, got: 7 }
    );
    let mut g = b.clone();
    g[0] = 0;
    assert_eq!(InfoRsp::decode(&g), Err(WireError::BadType(0)));
    let mut g = b.clone();
    g[4..8].fill(0xEE);
    assert_eq!(InfoRsp::decode(&g), InfoRsp::decode(&b));
    let mut small = [0u8; 23];
    assert!(InfoRsp::encode_with_descs(&[one(chunk)], &mut small).is_err());
}

// --- §4.3 chunk layout ------------------------------------------------------

#[test]
fn write_request_in_chunk() {
    // WRITE of 4096 data bytes with a 32-byte RNBD IO header: the trailer at
    // 4128, IMM offset 4128.
    let mut chunk = vec![0u8; 131072];
    let trailer = RdmaWrite::new(32).encode();
    assert_eq!(trailer, [2, 0, 32, 0]);
    chunk[4128..4132].copy_from_slice(&trailer);
    let req = IoReq::parse(&chunk, 4128).unwrap();
    assert_eq!(
        req,
        IoReq {
            kind: IoKind::Write,
            data_len: 4096,
            usr_len: 32
        }
    );
    assert_eq!(req.usr_range(), 4096..4128);
    // usr_len > off: the C server silently drops it.
    assert!(IoReq::parse(&chunk[4100..], 28).is_err());
    // The trailer must fit in the chunk.
    assert!(IoReq::parse(&chunk, 131070).is_err());
    assert!(IoReq::parse(&chunk, 131072).is_err());
    assert!(IoReq::parse(&chunk, usize::MAX).is_err());
}

#[test]
fn read_request_in_chunk() {
    // READ of 4096 bytes: the RNBD header at data_len = 4096, the trailer
    // (8 + 16) after it; the first 4096 bytes are the server's to fill.
    let mut chunk = vec![0u8; 131072];
    let desc = SgDesc::new(0xFFFF_8880_0000_1000, 0x1234, 4096);
    let n = RdmaRead::encode_with_descs(32, RTRS_MSG_NEED_INVAL_F, &[desc], &mut chunk[4128..])
        .unwrap();
    assert_eq!(n, 24);
    assert_eq!(&chunk[4128..4136], &[3, 0, 32, 0, 1, 0, 1, 0]);
    let req = IoReq::parse(&chunk, 4128).unwrap();
    assert_eq!(
        req,
        IoReq {
            kind: IoKind::Read {
                need_inval: true,
                desc: Some(desc)
            },
            data_len: 4096,
            usr_len: 32
        }
    );
    // Flush: an RTRS READ without data, sg_cnt 0, flags 0.
    let n = RdmaRead::encode_with_descs(32, 0, &[], &mut chunk[32..]).unwrap();
    assert_eq!(n, 8);
    assert_eq!(
        IoReq::parse(&chunk, 32).unwrap(),
        IoReq {
            kind: IoKind::Read {
                need_inval: false,
                desc: None
            },
            data_len: 0,
            usr_len: 32
        }
    );
    // sg_cnt 2: the C server drops it.
    RdmaRead::encode_with_descs(32, 0, &[desc, desc], &mut chunk[100..]).unwrap();
    assert!(IoReq::parse(&chunk, 100).is_err());
    // Descriptors cut off by the end of the chunk.
    let end = chunk.len();
    RdmaRead::encode_with_descs(0, 0, &[], &mut chunk[end - 8..]).unwrap();
    chunk[end - 2] = 1;
    assert!(matches!(
        IoReq::parse(&chunk, end - 8),
        Err(WireError::Short { .. })
    ));
    // Other types at the offset.
    for t in [0u8, 1, 4, 5, 0xFF] {
        chunk[200] = t;
        assert!(IoReq::parse(&chunk, 200).is_err(), "type {t}");
    }
}

#[test]
fn rkey_rsp() {
    let m = RkeyRsp::new(5, 0xABCD_0102);
    let b = m.encode();
    assert_eq!(b, [4, 0, 5, 0, 0x02, 0x01, 0xCD, 0xAB]);
    assert_eq!(RkeyRsp::decode(&b), Ok(m));
    let rsp = |msg_id| Imm::IoRsp {
        msg_id,
        errno: 0,
        w_inv: true,
    };
    assert!(m.check(512, rsp(5)).is_ok());
    assert!(m.check(5, rsp(5)).is_err(), "buf_id >= qd");
    assert!(m.check(512, rsp(6)).is_err(), "msg_id != buf_id");
    assert!(m.check(512, Imm::HbMsg).is_ok());
    assert_eq!(
        RkeyRsp::decode(&b[..7]),
        Err(WireError::Short { need: 8, got: 7 })
    );
    assert_eq!(
        RkeyRsp::decode(&[3, 0, 0, 0, 0, 0, 0, 0]),
        Err(WireError::BadType(3))
    );
    assert_eq!(peek_msg_type(&b), Ok(MsgType::RkeyRsp));
    assert_eq!(peek_msg_type(&[9, 0]), Err(WireError::BadType(9)));
    assert!(peek_msg_type(&[4]).is_err());
}

#[test]
fn encode_into_short_buffers() {
    let mut buf = [0u8; 300];
    let req = InfoReq::new(b"s").unwrap();
    assert_eq!(req.encode_into(&mut buf), Ok(272));
    assert_eq!(buf[..272], req.encode());
    assert_eq!(
        req.encode_into(&mut buf[..271]),
        Err(WireError::Short {
            need: 272,
            got: 271
        })
    );
    assert!(ConnReq::new(0, 1, 0, uuid(0), uuid(0), true)
        .encode_into(&mut buf[..55])
        .is_err());
    assert!(RdmaRead::encode_with_descs(0, 0, &[SgDesc::default()], &mut buf[..23]).is_err());
    assert!(InfoRsp::encode_with_descs(&vec![SgDesc::default(); 65536], &mut buf).is_err());
}

/// Every decoder on every truncation of a valid message, and on garbage:
/// errors, never panics.
#[test]
fn truncated_and_garbage_input() {
    let chunk = 131072u32;
    let descs = [SgDesc::new(1, 2, 2 * chunk)];
    let mut read = vec![0u8; 24];
    RdmaRead::encode_with_descs(0, 1, &descs, &mut read).unwrap();
    let valid: Vec<Vec<u8>> = vec![
        ConnReq::new(0, 2, 0, uuid(0), uuid(1), true)
            .encode()
            .to_vec(),
        ConnRsp::accept(2, chunk - 4096, 4096, 0).encode().to_vec(),
        InfoReq::new(b"x").unwrap().encode().to_vec(),
        info_rsp(&descs),
        RdmaWrite::new(0).encode().to_vec(),
        read,
        RkeyRsp::new(1, 2).encode().to_vec(),
    ];
    let decode_all = |b: &[u8]| {
        let r = [
            ConnReq::decode(b).is_ok(),
            ConnRsp::decode(b).is_ok(),
            InfoReq::decode(b).is_ok(),
            InfoRsp::decode_with_descs(b).is_ok_and(|(_, d)| d.rbufs(2, chunk).is_ok()),
            RdmaWrite::decode(b).is_ok(),
            RdmaRead::decode_with_descs(b).is_ok(),
            RkeyRsp::decode(b).is_ok(),
            SgDesc::decode(b).is_ok(),
            IoReq::parse(b, 0).is_ok(),
        ];
        r.iter().filter(|&&ok| ok).count()
    };
    for (i, msg) in valid.iter().enumerate() {
        assert!(decode_all(msg) >= 1, "message {i} decodes");
        for len in 0..msg.len() {
            // Only the 16-byte SgDesc/IoReq decoders may accept a prefix.
            let b = &msg[..len];
            assert!(
                [
                    ConnReq::decode(b).is_err(),
                    ConnRsp::decode(b).is_err(),
                    InfoReq::decode(b).is_err()
                ]
                .iter()
                .all(|&e| e),
                "message {i} cut at {len}"
            );
            decode_all(b);
        }
    }
    // Deterministic garbage (xorshift), all lengths up to 300.
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut buf = [0u8; 300];
    for round in 0..20_000 {
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        // Make the type fields plausible half the time.
        if round % 2 == 0 {
            buf[0] = (round / 2 % 6) as u8;
            buf[1] = 0;
        }
        let len = round % 301;
        decode_all(&buf[..len]);
        let imm = x as u32;
        if let Ok(i) = Imm::decode(imm) {
            let _ = i.encode();
        }
        let _ = IoReqImm::decode(imm & MAX_IMM_PAYL_MASK, (x >> 32) as u32 & 0xFFFF, chunk);
    }
}

// --- Properties -------------------------------------------------------------

/// decode(x) == Ok(m) implies decode(encode(m)) == Ok(m), and encode(m)
/// differs from x only where x held reserved bytes: re-encoding is
/// idempotent.
fn reencodes<T: Wire + PartialEq + std::fmt::Debug>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(m) = T::decode(bytes) {
        let mut out = vec![0u8; T::SIZE];
        prop_assert_eq!(m.encode_into(&mut out), Ok(T::SIZE));
        prop_assert_eq!(T::decode(&out), Ok(m));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn decoders_never_panic_and_reencode(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        reencodes::<ConnReq>(&bytes)?;
        reencodes::<ConnRsp>(&bytes)?;
        reencodes::<InfoReq>(&bytes)?;
        reencodes::<InfoRsp>(&bytes)?;
        reencodes::<SgDesc>(&bytes)?;
        reencodes::<RdmaWrite>(&bytes)?;
        reencodes::<RdmaRead>(&bytes)?;
        reencodes::<RkeyRsp>(&bytes)?;
        let _ = peek_msg_type(&bytes);
        if let Ok((hdr, descs)) = InfoRsp::decode_with_descs(&bytes) {
            prop_assert_eq!(descs.len(), usize::from(hdr.sg_cnt.get()));
            prop_assert!(8 + 16 * descs.len() <= bytes.len());
        }
        if let Ok((hdr, descs)) = RdmaRead::decode_with_descs(&bytes) {
            prop_assert_eq!(descs.len(), usize::from(hdr.sg_cnt.get()));
        }
    }

    #[test]
    fn conn_req_round_trip(cid in any::<u16>(), cid_num in any::<u16>(), recon in any::<u16>(),
                           a in any::<[u8; 16]>(), b in any::<[u8; 16]>(), first in any::<bool>()) {
        let m = ConnReq::new(cid, cid_num, recon, a, b, first);
        let back = ConnReq::decode(&m.encode());
        if cid < cid_num && cid_num <= MAX_CON_NUM {
            prop_assert_eq!(back, Ok(m));
        } else {
            prop_assert!(back.is_err());
        }
    }

    #[test]
    fn conn_rsp_round_trip(qd in any::<u16>(), io in any::<u32>(), hdr in any::<u32>(),
                           flags in any::<u32>(), errno in any::<i16>()) {
        let m = ConnRsp::accept(qd, io, hdr, flags);
        prop_assert_eq!(ConnRsp::decode(&m.encode()), Ok(m));
        let r = ConnRsp::reject(errno);
        prop_assert_eq!(ConnRsp::decode(&r.encode()).map(|r| r.errno()), Ok(i32::from(errno)));
    }

    #[test]
    fn info_req_round_trip(name in "[a-zA-Z0-9_:@-]{1,254}") {
        let m = InfoReq::new(name.as_bytes()).unwrap();
        let back = InfoReq::decode(&m.encode()).unwrap();
        prop_assert_eq!(back.pathname(), name.as_bytes());
    }

    #[test]
    fn info_rsp_round_trip(descs in proptest::collection::vec(any::<(u64, u32, u32)>(), 0..40)) {
        let descs: Vec<_> = descs.into_iter().map(|(a, k, l)| SgDesc::new(a, k, l)).collect();
        let b = info_rsp(&descs);
        let (hdr, got) = InfoRsp::decode_with_descs(&b).unwrap();
        prop_assert_eq!(usize::from(hdr.sg_cnt.get()), descs.len());
        prop_assert_eq!(got.iter().collect::<Vec<_>>(), descs.clone());
        for (i, d) in descs.iter().enumerate() {
            prop_assert_eq!(got.get(i), Some(*d));
        }
        prop_assert_eq!(got.get(descs.len()), None);
    }

    #[test]
    fn rbufs_never_panic_and_cover_qd(descs in proptest::collection::vec((any::<u64>(), any::<u32>(), 0u32..8), 0..8),
                                      qd in any::<u16>(), chunk_shift in 0u32..32) {
        let chunk = 1u32 << chunk_shift;
        let descs: Vec<_> = descs.into_iter().map(|(a, k, n)| SgDesc::new(a, k, n.wrapping_mul(chunk))).collect();
        let b = info_rsp(&descs);
        let (_, d) = InfoRsp::decode_with_descs(&b).unwrap();
        if let Ok(rbufs) = d.rbufs(qd, chunk) {
            prop_assert_eq!(rbufs.count(), usize::from(qd));
        }
    }

    #[test]
    fn rbufs_valid_layouts(sg_shift in 0u32..6, per_desc in 1u16..64, chunk_shift in 13u32..18) {
        let sg_cnt = 1u16 << sg_shift;
        let qd = sg_cnt * per_desc;
        let chunk = 1u32 << chunk_shift;
        let descs: Vec<_> = (0..sg_cnt)
            .map(|i| SgDesc::new(u64::from(i) << 32, u32::from(i), u32::from(per_desc) * chunk))
            .collect();
        let b = info_rsp(&descs);
        let (_, d) = InfoRsp::decode_with_descs(&b).unwrap();
        let rbufs: Vec<_> = d.rbufs(qd, chunk).unwrap().collect();
        prop_assert_eq!(rbufs.len(), usize::from(qd));
        for (id, (addr, key)) in rbufs.into_iter().enumerate() {
            let desc = id / usize::from(per_desc);
            let k = (id % usize::from(per_desc)) as u64;
            prop_assert_eq!(addr, ((desc as u64) << 32) + k * u64::from(chunk));
            prop_assert_eq!(key, desc as u32);
        }
    }

    #[test]
    fn imm_decode_encode(imm in any::<u32>()) {
        match Imm::decode(imm) {
            Ok(Imm::HbMsg) => prop_assert_eq!(imm >> 28, 8),
            Ok(Imm::HbAck) => prop_assert_eq!(imm >> 28, 9),
            Ok(i) => prop_assert_eq!(i.encode(), Ok(imm)),
            Err(_) => prop_assert!(![0, 1, 2, 8, 9].contains(&(imm >> 28))),
        }
    }

    #[test]
    fn io_rsp_round_trip(msg_id in 0u32..=0x7FFFF, errno in -511i32..=0, w_inv in any::<bool>()) {
        let imm = Imm::IoRsp { msg_id, errno, w_inv };
        let v = imm.encode().unwrap();
        prop_assert_eq!(v >> 28, if w_inv { 2 } else { 1 });
        prop_assert_eq!(Imm::decode(v), Ok(imm));
    }

    #[test]
    fn io_req_round_trip(qd in 1u32..=65535, id_seed in any::<u32>(), off_seed in any::<u32>()) {
        let mb = mem_bits(qd).unwrap();
        let buf_id = id_seed % qd;
        let offset = off_seed & ((1u32 << mb) - 1);
        let imm = IoReqImm { buf_id, offset }.encode(mb).unwrap();
        prop_assert_eq!(imm >> 28, 0);
        let Imm::IoReq { payload } = Imm::decode(imm).unwrap() else { panic!("not an IO_REQ") };
        prop_assert_eq!(IoReqImm::split(payload, mb), IoReqImm { buf_id, offset });
        prop_assert_eq!(IoReqImm::decode(payload, qd, u32::MAX), Ok(IoReqImm { buf_id, offset }));
    }

    #[test]
    fn io_req_parse_never_panics(chunk in proptest::collection::vec(any::<u8>(), 0..300), off in any::<usize>(),
                                 small_off in 0usize..300) {
        for off in [off, small_off] {
            if let Ok(req) = IoReq::parse(&chunk, off) {
                prop_assert_eq!(req.data_len + req.usr_len, off);
                prop_assert!(off < chunk.len());
                prop_assert!(req.usr_range().end <= chunk.len());
            }
        }
    }
}

#[test]
fn path_params_from_conn_rsp() {
    // The C server's defaults: 512 chunks of 128 KiB, 4 KiB headers.
    let p = ConnRsp::accept(512, 126976, 4096, RTRS_MSG_NEW_RKEY_F)
        .path_params()
        .unwrap();
    assert_eq!(
        p,
        PathParams {
            queue_depth: 512,
            max_io_size: 126976,
            max_hdr_size: 4096,
            chunk_size: 131072,
            new_rkey: true,
            mem_bits: 19,
        }
    );
    // What the client refuses before sizing anything by it.
    for (qd, io, hdr) in [
        (512, 0, 4096),               // no IO
        (512, 126976, 0),             // no header
        (512, 126976, 64 * 1024 + 1), // header above PAGE_SIZE
        (0, 126976, 4096),            // no chunks
        (512, u32::MAX, 4096),        // chunk size overflows
        (65535, 1 << 20, 4096),       // 16 + 21 bits > 28
    ] {
        assert!(
            ConnRsp::accept(qd, io, hdr, 0).path_params().is_err(),
            "{qd} {io} {hdr}"
        );
    }
    // Exactly 28 bits: 2^10 chunks of 2^18 bytes.
    assert!(ConnRsp::accept(1024, (1 << 18) - 4096, 4096, 0)
        .path_params()
        .is_ok());
}

#[test]
fn io_layout_fits_the_chunk() {
    let p = ConnRsp::accept(512, 126976, 4096, 0).path_params().unwrap();
    // A 4 KiB write: data, the 32-byte RNBD message, the 4-byte trailer.
    let w = p.io_layout(true, 32, 4096).unwrap();
    assert_eq!(
        (w.hdr_len, w.hdr_offset, w.trailer_offset),
        (32 + RdmaWrite::SIZE, 4096, 4096 + 32)
    );
    // A 4 KiB read: message, trailer and one descriptor at offset 4096.
    let r = p.io_layout(false, 32, 4096).unwrap();
    assert_eq!(r.hdr_len, 32 + RdmaRead::SIZE + SgDesc::SIZE);
    assert_eq!((r.hdr_offset, r.trailer_offset), (4096, 4096 + 32));
    // A read without data (flush): no descriptor.
    assert_eq!(
        p.io_layout(false, 32, 0).unwrap().hdr_len,
        32 + RdmaRead::SIZE
    );
    // The largest write fits exactly; one byte more does not.
    let max = 131072 - 32 - RdmaWrite::SIZE;
    assert!(p.io_layout(true, 32, max).is_ok());
    assert!(p.io_layout(true, 32, max + 1).is_err());
    // A header above max_hdr_size, a user message above 64 KiB.
    assert!(p.io_layout(true, 4096, 0).is_err());
    let big = ConnRsp::accept(4, 1 << 20, 65536, 0).path_params().unwrap();
    assert!(big.io_layout(true, 65536, 0).is_err());
}
