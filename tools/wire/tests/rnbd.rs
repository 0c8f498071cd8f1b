// SPDX-License-Identifier: GPL-2.0

//! RNBD wire formats: the spec's layouts and `rw` values
//! (rnbd-rtrs-protocol.md §6), the C client's garbage bytes, error cases,
//! and properties over arbitrary input.

use proptest::prelude::*;
use rnbd_wire::rnbd::*;

fn rw(op: Op, sync: bool, fua: bool) -> Rw {
    Rw {
        sync,
        fua,
        ..Rw::new(op)
    }
}

// --- §6.4 rw ---------------------------------------------------------------

#[test]
fn rw_typical_values() {
    // read 0x100; write 0x001/0x101; FUA write 0x301; flush 0x302; discard
    // 0x003; write-zeroes 0x005.
    let cases = [
        (rw(Op::Read, true, false), 0x100),
        (rw(Op::Write, false, false), 0x001),
        (rw(Op::Write, true, false), 0x101),
        (rw(Op::Write, true, true), 0x301),
        (rw(Op::Flush, true, true), 0x302),
        (rw(Op::Discard, false, false), 0x003),
        (rw(Op::SecureErase, false, false), 0x004),
        (rw(Op::WriteZeroes, false, false), 0x005),
        (rw(Op::Read, false, false), 0x000),
        (rw(Op::Write, false, true), 0x201),
        // Protocol 2.1/2.2, as mainline's client sends them: a PREFLUSH
        // write also carries FUA (0x701); write zeroes that must not
        // deallocate (0x805).
        (
            Rw {
                preflush: true,
                ..rw(Op::Write, true, true)
            },
            0x701,
        ),
        (
            Rw {
                nounmap: true,
                ..rw(Op::WriteZeroes, false, false)
            },
            0x805,
        ),
    ];
    for (r, v) in cases {
        assert_eq!(r.encode(), v, "{r:?}");
        assert_eq!(Rw::decode(v), Ok(r), "{v:#x}");
    }
    // Unknown operations are refused (C: WARN and READ); unknown flag
    // bits are ignored, as in C.
    for op in [6u32, 7, 0x10, 0xFF] {
        assert!(Rw::decode(op).is_err(), "{op:#x}");
        assert!(Rw::decode(0x300 | op).is_err());
    }
    assert_eq!(Rw::decode(0xFFFF_F001), Ok(rw(Op::Write, false, false)));
    assert_eq!(
        Rw::decode(0xFFFF_FF01),
        Ok(Rw {
            preflush: true,
            nounmap: true,
            ..rw(Op::Write, true, true)
        })
    );
    // RTRS direction: flush is an RTRS READ; discard, write-zeroes and
    // secure erase are RTRS WRITEs without data.
    assert!(!Op::Read.is_rtrs_write());
    assert!(!Op::Flush.is_rtrs_write());
    for op in [Op::Write, Op::Discard, Op::SecureErase, Op::WriteZeroes] {
        assert!(op.is_rtrs_write(), "{op:?}");
    }
}

// --- §6.3 layouts ----------------------------------------------------------

#[test]
fn sess_info() {
    let m = SessInfo::new(RNBD_PROTO_VER_MAJOR);
    let b = m.encode();
    assert_eq!(b.len(), 36);
    assert_eq!(&b[..5], &[0, 0, 0, 0, 2]);
    assert_eq!(&b[5..], &[0; 31]);
    assert_eq!(SessInfo::decode(&b), Ok(m));
    // C client garbage in __padding and reserved.
    let mut g = b;
    g[2] = 0xAA;
    g[3] = 0xBB;
    g[5..].fill(0xCC);
    assert_eq!(SessInfo::decode(&g), Ok(m));
    assert_eq!(
        SessInfo::decode(&b[..35]),
        Err(WireError::Short { need: 36, got: 35 })
    );
    assert_eq!(SessInfoRsp::decode(&b), Err(WireError::BadType(0)));

    let r = SessInfoRsp::new(negotiate_version(7));
    let b = r.encode();
    assert_eq!(&b[..5], &[1, 0, 0, 0, 2]);
    assert_eq!(SessInfoRsp::decode(&b), Ok(r));
    assert_eq!(negotiate_version(1), 1);
    assert_eq!(negotiate_version(0), 0);
    assert_eq!(negotiate_version(2), 2);
}

#[test]
fn open() {
    let m = Open::new(AccessMode::Rw, b"ram0").unwrap();
    let b = m.encode();
    assert_eq!(b.len(), 264);
    assert_eq!(&b[..6], &[2, 0, 0, 0, 1, 0]);
    assert_eq!(&b[6..11], b"ram0\0");
    assert!(b[11..].iter().all(|&x| x == 0));
    assert_eq!(Open::decode(&b), Ok(m));
    assert_eq!(m.dev_name(), b"ram0");
    assert_eq!(m.access_mode(), Ok(AccessMode::Rw));

    // Garbage in __padding, resv1, after the NUL and in reserved[3].
    let mut g = b;
    g[2..4].fill(0x11);
    g[5] = 0x22;
    g[11..].fill(0x33);
    assert_eq!(Open::decode(&g), Ok(m));
    assert_eq!(Open::decode(&g).unwrap().encode(), b);

    for (mode, v) in [
        (AccessMode::Ro, 0u8),
        (AccessMode::Rw, 1),
        (AccessMode::Migration, 2),
    ] {
        let mut g = b;
        g[4] = v;
        assert_eq!(Open::decode(&g).unwrap().access_mode(), Ok(mode));
        assert_eq!(AccessMode::from_name(mode.as_str().as_bytes()), Some(mode));
    }
    let mut g = b;
    g[4] = 3;
    assert!(Open::decode(&g).is_err(), "access mode 3");
    let mut g = b;
    g[6..261].fill(b'x');
    assert!(Open::decode(&g).is_err(), "dev_name without NUL");
    let mut g = b;
    g[6] = 0;
    assert!(Open::decode(&g).is_err(), "empty dev_name");
    assert!(Open::decode(&b[..263]).is_err());
    assert!(Open::new(AccessMode::Ro, &[b'd'; 254]).is_ok());
    assert!(
        Open::new(AccessMode::Ro, &[b'd'; 255]).is_err(),
        "strscpy keeps 254"
    );
    assert!(Open::new(AccessMode::Ro, b"").is_err());
    assert!(Open::new(AccessMode::Ro, b"a\0b").is_err());
    // Path rules are the server's, not the wire's.
    assert!(Open::new(AccessMode::Ro, b"../etc/x").is_ok());
}

#[test]
fn open_rsp() {
    let mut m = OpenRsp::new(3);
    m.nsectors.set(262144);
    m.max_hw_sectors.set(256);
    m.max_write_zeroes_sectors.set(1);
    m.max_discard_sectors.set(2);
    m.discard_granularity.set(4096);
    m.discard_alignment.set(512);
    m.physical_block_size.set(4096);
    m.logical_block_size.set(512);
    m.max_segments.set(128);
    m.secure_discard.set(0xFFFF);
    m.cache_policy = RNBD_WRITEBACK;
    let b = m.encode();
    assert_eq!(b.len(), 56);
    assert_eq!(&b[..8], &[3, 0, 0, 0, 3, 0, 0, 0]);
    assert_eq!(&b[8..16], &262144u64.to_le_bytes());
    assert_eq!(&b[36..40], &[0x00, 0x10, 0x00, 0x02]);
    assert_eq!(&b[44..46], &[0, 2]);
    assert_eq!(&b[46..], &[0; 10]);
    let back = OpenRsp::decode(&b).unwrap();
    assert_eq!(back, m);
    assert!(back.writeback() && !back.fua());
    assert!(back.check().is_ok());

    let mut g = b;
    g[2..4].fill(0xEE);
    g[44] = 1;
    g[45] |= 0xFC;
    g[46..].fill(0xEE);
    assert_eq!(
        OpenRsp::decode(&g),
        Ok(m),
        "reserved, obsolete_rotational and unknown policy bits dropped"
    );

    m.logical_block_size.set(0);
    let z = OpenRsp::decode(&m.encode()).unwrap();
    assert!(z.check().is_err(), "logical block size 0");
    assert_eq!(z.device_id.get(), 3, "still decoded: the client closes it");
}

#[test]
fn close() {
    let m = Close::new(0x0102_0304);
    assert_eq!(m.encode(), [5, 0, 0, 0, 4, 3, 2, 1]);
    assert_eq!(Close::decode(&m.encode()), Ok(m));
    assert_eq!(Close::decode(&[5, 0, 9, 9, 4, 3, 2, 1]), Ok(m));
    assert_eq!(
        Close::decode(&[4, 0, 0, 0, 4, 3, 2, 1]),
        Err(WireError::BadType(4))
    );
    assert!(Close::decode(&[5, 0, 0, 0, 4, 3, 2]).is_err());
}

#[test]
fn io() {
    let m = Io::new(7, 0x1000, rw(Op::Read, true, false), 4096, 0x4003);
    let b = m.encode();
    assert_eq!(
        b.len(),
        32,
        "sizeof on 64-bit, with 6 bytes of tail padding"
    );
    assert_eq!(&b[..8], &[4, 0, 0, 0, 7, 0, 0, 0]);
    assert_eq!(&b[8..16], &0x1000u64.to_le_bytes());
    assert_eq!(&b[16..20], &[0x00, 0x01, 0, 0]);
    assert_eq!(&b[20..24], &4096u32.to_le_bytes());
    assert_eq!(&b[24..26], &[0x03, 0x40]);
    assert_eq!(&b[26..], &[0; 6]);
    assert_eq!(Io::decode(&b), Ok(m));

    // The C client's tail padding is stack garbage.
    let mut g = b;
    g[2..4].fill(0x99);
    g[26..].fill(0x99);
    assert_eq!(Io::decode(&g), Ok(m));
    // 26 bytes of fields are enough (28 from i386); 25 are not.
    assert_eq!(Io::decode(&b[..26]), Ok(m));
    assert_eq!(Io::decode(&b[..28]), Ok(m));
    assert_eq!(
        Io::decode(&b[..25]),
        Err(WireError::Short { need: 26, got: 25 })
    );
    // prio counts only from 32-byte headers of version-2 sessions.
    assert_eq!(m.effective_prio(32, 2), 0x4003);
    assert_eq!(m.effective_prio(28, 2), 0);
    assert_eq!(m.effective_prio(32, 1), 0);
    assert_eq!(m.effective_prio(100, 3), 0x4003);
    // Unknown operation.
    let mut g = b;
    g[16] = 9;
    assert!(Io::decode(&g).is_err());
    assert_eq!(peek_msg_type(&b), Ok(MsgType::Io));
    assert_eq!(peek_msg_type(&[6, 0, 0, 0]), Err(WireError::BadType(6)));
    assert!(peek_msg_type(&[4, 0, 0]).is_err());
}

#[test]
fn truncated_and_garbage_input() {
    let valid: Vec<Vec<u8>> = vec![
        SessInfo::new(2).encode().to_vec(),
        SessInfoRsp::new(2).encode().to_vec(),
        Open::new(AccessMode::Ro, b"nullb0")
            .unwrap()
            .encode()
            .to_vec(),
        OpenRsp::new(1).encode().to_vec(),
        Close::new(1).encode().to_vec(),
        Io::new(1, 2, rw(Op::Write, false, false), 3, 4)
            .encode()
            .to_vec(),
    ];
    let decode_all = |b: &[u8]| {
        [
            MsgHdr::decode(b).is_ok(),
            SessInfo::decode(b).is_ok(),
            SessInfoRsp::decode(b).is_ok(),
            Open::decode(b).is_ok(),
            OpenRsp::decode(b).is_ok(),
            Close::decode(b).is_ok(),
            Io::decode(b).is_ok(),
        ]
        .iter()
        .filter(|&&ok| ok)
        .count()
    };
    for msg in &valid {
        assert_eq!(decode_all(msg), 2, "header and the message itself");
        let min = if msg[0] == MsgType::Io as u8 {
            MSG_IO_FIELDS_LEN
        } else {
            msg.len()
        };
        for len in 0..min {
            assert_eq!(
                decode_all(&msg[..len]),
                usize::from(len >= 4),
                "type {} cut at {len}",
                msg[0]
            );
        }
    }
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut buf = [0u8; 300];
    for round in 0..20_000 {
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        if round % 2 == 0 {
            buf[0] = (round / 2 % 7) as u8;
            buf[1] = 0;
        }
        decode_all(&buf[..round % 301]);
        let _ = Rw::decode(x as u32);
    }
}

// --- Properties -------------------------------------------------------------

fn reencodes<T: Wire + PartialEq + std::fmt::Debug>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(m) = T::decode(bytes) {
        let mut out = vec![0u8; T::SIZE];
        prop_assert_eq!(m.encode_into(&mut out), Ok(T::SIZE));
        prop_assert_eq!(T::decode(&out), Ok(m));
    }
    Ok(())
}

fn any_op() -> impl Strategy<Value = Op> {
    (0u32..6).prop_map(|v| Op::from_u32(v).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn decoders_never_panic_and_reencode(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        reencodes::<MsgHdr>(&bytes)?;
        reencodes::<SessInfo>(&bytes)?;
        reencodes::<SessInfoRsp>(&bytes)?;
        reencodes::<Open>(&bytes)?;
        reencodes::<OpenRsp>(&bytes)?;
        reencodes::<Close>(&bytes)?;
        reencodes::<Io>(&bytes)?;
        let _ = peek_msg_type(&bytes);
    }

    #[test]
    fn rw_round_trip(op in any_op(), sync in any::<bool>(), fua in any::<bool>(),
                     preflush in any::<bool>(), nounmap in any::<bool>(), junk in any::<u32>()) {
        let r = Rw { op, sync, fua, preflush, nounmap };
        prop_assert_eq!(Rw::decode(r.encode()), Ok(r));
        // Bits above the four flags never change the meaning.
        prop_assert_eq!(Rw::decode(r.encode() | (junk & !0xFFF)), Ok(r));
    }

    #[test]
    fn rw_decode_any(v in any::<u32>()) {
        match Rw::decode(v) {
            Ok(r) => {
                prop_assert_eq!(r.op as u32, v & 0xFF);
                prop_assert_eq!(r.encode(), v & 0xFFF);
            }
            Err(_) => prop_assert!(v & 0xFF > 5),
        }
    }

    #[test]
    fn io_round_trip(dev in any::<u32>(), sector in any::<u64>(), op in any_op(), sync in any::<bool>(),
                     fua in any::<bool>(), size in any::<u32>(), prio in any::<u16>()) {
        let m = Io::new(dev, sector, rw(op, sync, fua), size, prio);
        prop_assert_eq!(Io::decode(&m.encode()), Ok(m));
        prop_assert_eq!(m.rw(), Ok(rw(op, sync, fua)));
    }

    #[test]
    fn open_round_trip(name in "[a-zA-Z0-9/_.-]{1,254}", mode in 0u8..3) {
        let mode = AccessMode::from_u8(mode).unwrap();
        let m = Open::new(mode, name.as_bytes()).unwrap();
        let back = Open::decode(&m.encode()).unwrap();
        prop_assert_eq!(back.dev_name(), name.as_bytes());
        prop_assert_eq!(back.access_mode(), Ok(mode));
    }

    #[test]
    fn open_rsp_round_trip(v in any::<(u32, u64, u32, u32, u32, u32, u32)>(), w in any::<(u16, u16, u16, u16)>(),
                           policy in 0u8..4) {
        let mut m = OpenRsp::new(v.0);
        m.nsectors.set(v.1);
        m.max_hw_sectors.set(v.2);
        m.max_write_zeroes_sectors.set(v.3);
        m.max_discard_sectors.set(v.4);
        m.discard_granularity.set(v.5);
        m.discard_alignment.set(v.6);
        m.physical_block_size.set(w.0);
        m.logical_block_size.set(w.1);
        m.max_segments.set(w.2);
        m.secure_discard.set(w.3);
        m.cache_policy = policy;
        prop_assert_eq!(OpenRsp::decode(&m.encode()), Ok(m));
    }

    #[test]
    fn sess_info_and_close_round_trip(ver in any::<u8>(), id in any::<u32>()) {
        prop_assert_eq!(SessInfo::decode(&SessInfo::new(ver).encode()), Ok(SessInfo::new(ver)));
        prop_assert_eq!(SessInfoRsp::decode(&SessInfoRsp::new(ver).encode()), Ok(SessInfoRsp::new(ver)));
        prop_assert_eq!(Close::decode(&Close::new(id).encode()), Ok(Close::new(id)));
        prop_assert!(negotiate_version(ver) <= RNBD_PROTO_VER_MAJOR);
    }
}
