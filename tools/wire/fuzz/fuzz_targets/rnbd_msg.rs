// SPDX-License-Identifier: GPL-2.0

//! Fuzzes every RNBD decoder: header, SESS_INFO(_RSP), OPEN, OPEN_RSP,
//! CLOSE, IO and the `rw` field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rnbd_wire::rnbd::{
    peek_msg_type, Close, Io, MsgHdr, Open, OpenRsp, Rw, SessInfo, SessInfoRsp, MSG_IO_FIELDS_LEN,
};

fuzz_target!(|data: &[u8]| {
    let typ = peek_msg_type(data);
    assert_eq!(typ.is_ok(), MsgHdr::decode(data).is_ok());
    if let Ok(m) = SessInfo::decode(data) {
        assert_eq!(SessInfo::decode(&m.encode()), Ok(m));
        assert_eq!(m.ver, data[4]);
    }
    if let Ok(m) = SessInfoRsp::decode(data) {
        assert_eq!(SessInfoRsp::decode(&m.encode()), Ok(m));
    }
    if let Ok(m) = Open::decode(data) {
        let name = m.dev_name();
        assert!(!name.is_empty() && name.len() < 255 && !name.contains(&0));
        assert_eq!(data[6..6 + name.len()], *name);
        assert!(m.access_mode().is_ok());
        assert_eq!(Open::decode(&m.encode()), Ok(m));
    }
    if let Ok(m) = OpenRsp::decode(data) {
        let out = m.encode();
        assert_eq!(out[4..44], data[4..44]);
        assert_eq!(OpenRsp::decode(&out), Ok(m));
        let _ = m.check();
    }
    if let Ok(m) = Close::decode(data) {
        assert_eq!(m.encode()[4..], data[4..8]);
    }
    if let Ok(m) = Io::decode(data) {
        let out = m.encode();
        assert_eq!(out[4..MSG_IO_FIELDS_LEN], data[4..MSG_IO_FIELDS_LEN]);
        assert_eq!(Io::decode(&out), Ok(m));
        let rw = m.rw().unwrap();
        assert_eq!(rw.encode(), m.rw.get() & 0xFFF);
        let _ = m.effective_prio(data.len(), data[0]);
    }
    if let Some(rw) = data.first_chunk::<4>() {
        let rw = u32::from_le_bytes(*rw);
        if let Ok(r) = Rw::decode(rw) {
            assert_eq!(r.encode(), rw & 0xFFF);
        }
    }
});
