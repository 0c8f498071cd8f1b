// SPDX-License-Identifier: GPL-2.0

//! The Rust wire definitions against the C ones of the 6.12 tree.
//!
//! `tools/wire/c-layout.sh` compiles `tools/wire/c/wire_layout.c` with the
//! kernel's flags and extracts what it defines (see there). This test
//! compares, and fails on any difference:
//!
//! - `sizeof` of every C wire struct with `size_of` of the Rust one, and
//!   the offset and size of every C field with `offset_of!` and the size of
//!   the Rust field (C fields the test does not map are a failure too);
//! - every protocol constant and enum value;
//! - the results of the C inline helpers (`rtrs_to_imm()`,
//!   `rtrs_to_io_rsp_imm()`, `rnbd_op()`, ...) for the inputs listed in
//!   `wire_vectors.h` with the Rust functions;
//! - the byte image of one filled-in C message of each struct with the
//!   Rust `encode()` of the same message, and `decode()` of the C bytes.
//!
//! `RNBD_WIRE_C_LAYOUT=<file>` uses an existing extraction instead of
//! running the script.

use std::collections::{BTreeMap, BTreeSet};
use std::mem::{offset_of, size_of};
use std::path::PathBuf;
use std::process::Command;

use rnbd_wire::rnbd;
use rnbd_wire::rtrs;

/// What wire_layout.c defined.
struct CDefs {
    values: BTreeMap<String, i64>,
    /// `(fn, args, result)`.
    vectors: Vec<(String, Vec<i64>, i64)>,
}

fn c_defs() -> CDefs {
    let path = match std::env::var_os("RNBD_WIRE_C_LAYOUT") {
        Some(p) => PathBuf::from(p),
        None => {
            let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("c-layout.sh");
            let out = Command::new(&script)
                .stderr(std::process::Stdio::inherit())
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
            assert!(
                out.status.success(),
                "{} failed ({}); the C side of this test needs the kernel tree: run `make kernel`",
                script.display(),
                out.status
            );
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        }
    };
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut values = BTreeMap::new();
    let mut vectors = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("VEC ") {
            let (lhs, result) = rest.split_once(" = ").expect("VEC line without =");
            let mut words = lhs.split_whitespace();
            let name = words.next().expect("VEC line without fn").to_string();
            let args = words.map(|w| w.parse().expect("VEC arg")).collect();
            vectors.push((name, args, result.trim().parse().expect("VEC result")));
        } else {
            let (name, value) = line.split_once(' ').expect("line without value");
            let value = value
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}"));
            assert!(
                values.insert(name.to_string(), value).is_none(),
                "{name} twice"
            );
        }
    }
    assert!(
        values.len() > 100 && vectors.len() > 100,
        "{} looks truncated",
        path.display()
    );
    CDefs { values, vectors }
}

/// Collects differences, and which C definitions were looked at.
struct Check {
    c: CDefs,
    used: BTreeSet<String>,
    errors: Vec<String>,
}

impl Check {
    fn c(&mut self, name: &str) -> Option<i64> {
        self.used.insert(name.to_string());
        let v = self.c.values.get(name).copied();
        if v.is_none() {
            self.errors.push(format!("C defines no {name}"));
        }
        v
    }

    fn eq(&mut self, name: &str, rust: i64) {
        if let Some(c) = self.c(name) {
            if c != rust {
                self.errors
                    .push(format!("{name}: C {c} ({c:#x}), Rust {rust} ({rust:#x})"));
            }
        }
    }

    /// C fields of `c_struct` that no check looked at.
    fn unmapped_fields(&mut self, c_struct: &str) {
        let prefix = format!("OFFSET__{c_struct}__");
        let missing: Vec<_> = self
            .c
            .values
            .keys()
            .filter(|k| k.starts_with(&prefix) && !self.used.contains(*k))
            .cloned()
            .collect();
        for k in missing {
            self.errors
                .push(format!("C field {k} has no Rust counterpart in this test"));
        }
    }
}

fn field_size<T, F>(_: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

/// Checks a struct: `SIZEOF`, each mapped field's offset and size, the C
/// fields all mapped, and the Rust fields (mapped and padding) contiguous
/// from 0 to the size, i.e. all of them listed.
macro_rules! check_struct {
    ($chk:expr, $t:ty, $c:literal,
     fields { $($f:ident => $cf:literal),* $(,)? }
     $(, padding { $($p:ident),* $(,)? })?) => {{
        let chk: &mut Check = $chk;
        chk.eq(concat!("SIZEOF__", $c), size_of::<$t>() as i64);
        let mut spans: Vec<(usize, usize, &str)> = Vec::new();
        $(
            let off = offset_of!($t, $f);
            let size = field_size(|m: &$t| &m.$f);
            chk.eq(concat!("OFFSET__", $c, "__", $cf), off as i64);
            chk.eq(concat!("FSIZE__", $c, "__", $cf), size as i64);
            spans.push((off, size, stringify!($f)));
        )*
        $($(
            spans.push((offset_of!($t, $p), field_size(|m: &$t| &m.$p), stringify!($p)));
        )*)?
        spans.sort();
        let mut end = 0;
        for (off, size, name) in spans {
            if off != end {
                chk.errors.push(format!("{}: Rust field {name} at {off}, expected {end}", stringify!($t)));
            }
            end = off + size;
        }
        if end != size_of::<$t>() {
            chk.errors.push(format!("{}: Rust fields end at {end}, size {}", stringify!($t), size_of::<$t>()));
        }
        chk.unmapped_fields($c);
    }};
}

fn check_structs(chk: &mut Check) {
    check_struct!(chk, rtrs::SgDesc, "rtrs_sg_desc",
        fields { addr => "addr", key => "key", len => "len" });
    check_struct!(chk, rtrs::ConnReq, "rtrs_msg_conn_req",
    fields {
        cma_version => "__cma_version", ip_version => "__ip_version",
        magic => "magic", version => "version", cid => "cid", cid_num => "cid_num",
        recon_cnt => "recon_cnt", sess_uuid => "sess_uuid", paths_uuid => "paths_uuid",
        first_conn => "first_conn", reserved => "reserved",
    });
    chk.eq(
        "CONN_REQ_FIRST_CONN_BIT",
        i64::from(rtrs::CONN_REQ_FIRST_CONN),
    );
    check_struct!(chk, rtrs::ConnRsp, "rtrs_msg_conn_rsp",
    fields {
        magic => "magic", version => "version", errno => "errno",
        queue_depth => "queue_depth", max_io_size => "max_io_size",
        max_hdr_size => "max_hdr_size", flags => "flags", reserved => "reserved",
    });
    check_struct!(chk, rtrs::InfoReq, "rtrs_msg_info_req",
        fields { msg_type => "type", pathname => "pathname", reserved => "reserved" });
    // desc[] follows the header.
    chk.eq(
        "OFFSET__rtrs_msg_info_rsp__desc",
        rtrs::InfoRsp::SIZE as i64,
    );
    check_struct!(chk, rtrs::InfoRsp, "rtrs_msg_info_rsp",
        fields { msg_type => "type", sg_cnt => "sg_cnt", reserved => "reserved" });
    check_struct!(chk, rtrs::RkeyRsp, "rtrs_msg_rkey_rsp",
        fields { msg_type => "type", buf_id => "buf_id", rkey => "rkey" });
    chk.eq(
        "OFFSET__rtrs_msg_rdma_read__desc",
        rtrs::RdmaRead::SIZE as i64,
    );
    check_struct!(chk, rtrs::RdmaRead, "rtrs_msg_rdma_read",
        fields { msg_type => "type", usr_len => "usr_len", flags => "flags", sg_cnt => "sg_cnt" });
    check_struct!(chk, rtrs::RdmaWrite, "rtrs_msg_rdma_write",
        fields { msg_type => "type", usr_len => "usr_len" });
    // rtrs_msg_rdma_hdr: the type every chunk trailer starts with.
    chk.eq("SIZEOF__rtrs_msg_rdma_hdr", 2);
    chk.eq(
        "OFFSET__rtrs_msg_rdma_hdr__type",
        offset_of!(rtrs::RdmaWrite, msg_type) as i64,
    );
    chk.eq("FSIZE__rtrs_msg_rdma_hdr__type", 2);

    check_struct!(chk, rnbd::MsgHdr, "rnbd_msg_hdr",
        fields { msg_type => "type", padding => "__padding" });
    check_struct!(chk, rnbd::SessInfo, "rnbd_msg_sess_info",
        fields { hdr => "hdr", ver => "ver", reserved => "reserved" });
    check_struct!(chk, rnbd::SessInfoRsp, "rnbd_msg_sess_info_rsp",
        fields { hdr => "hdr", ver => "ver", reserved => "reserved" });
    chk.eq(
        "OFFSET__rnbd_msg_open__hdr__type",
        offset_of!(rnbd::Open, hdr.msg_type) as i64,
    );
    chk.eq("FSIZE__rnbd_msg_open__hdr__type", 2);
    check_struct!(chk, rnbd::Open, "rnbd_msg_open",
    fields {
        hdr => "hdr", access_mode => "access_mode", resv1 => "resv1",
        dev_name => "dev_name", reserved => "reserved",
    });
    check_struct!(chk, rnbd::Close, "rnbd_msg_close",
        fields { hdr => "hdr", device_id => "device_id" });
    check_struct!(chk, rnbd::OpenRsp, "rnbd_msg_open_rsp",
    fields {
        hdr => "hdr", device_id => "device_id", nsectors => "nsectors",
        max_hw_sectors => "max_hw_sectors",
        max_write_zeroes_sectors => "max_write_zeroes_sectors",
        max_discard_sectors => "max_discard_sectors",
        discard_granularity => "discard_granularity",
        discard_alignment => "discard_alignment",
        physical_block_size => "physical_block_size",
        logical_block_size => "logical_block_size", max_segments => "max_segments",
        secure_discard => "secure_discard", obsolete_rotational => "obsolete_rotational",
        cache_policy => "cache_policy", reserved => "reserved",
    });
    // C has no field for the 6 bytes of tail padding (8-byte alignment).
    check_struct!(chk, rnbd::Io, "rnbd_msg_io",
        fields {
            hdr => "hdr", device_id => "device_id", sector => "sector", rw => "rw",
            bi_size => "bi_size", prio => "prio",
        },
        padding { tail_pad });
    let fields_end = offset_of!(rnbd::Io, prio) + 2;
    if fields_end != rnbd::MSG_IO_FIELDS_LEN {
        chk.errors.push(format!(
            "MSG_IO_FIELDS_LEN {} != {fields_end}",
            rnbd::MSG_IO_FIELDS_LEN
        ));
    }
}

fn check_constants(chk: &mut Check) {
    use rtrs::{ImmType, MsgType};
    let c = |chk: &mut Check, name: &str, v: i64| chk.eq(name, v);
    c(
        chk,
        "RTRS_PROTO_VER_MAJOR",
        rtrs::RTRS_PROTO_VER_MAJOR.into(),
    );
    c(
        chk,
        "RTRS_PROTO_VER_MINOR",
        rtrs::RTRS_PROTO_VER_MINOR.into(),
    );
    c(chk, "RTRS_PROTO_VER", rtrs::RTRS_PROTO_VER.into());
    c(chk, "RTRS_MAGIC", rtrs::RTRS_MAGIC.into());
    c(
        chk,
        "MAX_SESS_QUEUE_DEPTH",
        rtrs::MAX_SESS_QUEUE_DEPTH.into(),
    );
    c(
        chk,
        "SERVICE_CON_QUEUE_DEPTH",
        rtrs::SERVICE_CON_QUEUE_DEPTH.into(),
    );
    c(chk, "MAX_PATHS_NUM", rtrs::MAX_PATHS_NUM.into());
    c(chk, "MIN_CHUNK_SIZE", rtrs::MIN_CHUNK_SIZE.into());
    c(chk, "RTRS_HB_INTERVAL_MS", rtrs::RTRS_HB_INTERVAL_MS.into());
    c(chk, "RTRS_HB_MISSED_MAX", rtrs::RTRS_HB_MISSED_MAX.into());
    c(chk, "NAME_MAX", rtrs::NAME_MAX as i64);
    assert_eq!(rtrs::NAME_MAX, rnbd::NAME_MAX);
    c(chk, "MAX_IMM_TYPE_BITS", rtrs::MAX_IMM_TYPE_BITS.into());
    c(chk, "MAX_IMM_TYPE_MASK", rtrs::MAX_IMM_TYPE_MASK.into());
    c(chk, "MAX_IMM_PAYL_BITS", rtrs::MAX_IMM_PAYL_BITS.into());
    c(chk, "MAX_IMM_PAYL_MASK", rtrs::MAX_IMM_PAYL_MASK.into());
    c(chk, "RTRS_IO_REQ_IMM", ImmType::IoReq as i64);
    c(chk, "RTRS_IO_RSP_IMM", ImmType::IoRsp as i64);
    c(chk, "RTRS_IO_RSP_W_INV_IMM", ImmType::IoRspWInv as i64);
    c(chk, "RTRS_HB_MSG_IMM", ImmType::HbMsg as i64);
    c(chk, "RTRS_HB_ACK_IMM", ImmType::HbAck as i64);
    // One past the last type; every type fits the 4 bits.
    c(chk, "RTRS_LAST_IMM", ImmType::HbAck as i64 + 1);
    c(chk, "RTRS_MSG_INFO_REQ", MsgType::InfoReq as i64);
    c(chk, "RTRS_MSG_INFO_RSP", MsgType::InfoRsp as i64);
    c(chk, "RTRS_MSG_WRITE", MsgType::Write as i64);
    c(chk, "RTRS_MSG_READ", MsgType::Read as i64);
    c(chk, "RTRS_MSG_RKEY_RSP", MsgType::RkeyRsp as i64);
    c(
        chk,
        "RTRS_MSG_NEED_INVAL_F",
        rtrs::RTRS_MSG_NEED_INVAL_F.into(),
    );
    c(chk, "RTRS_MSG_NEW_RKEY_F", rtrs::RTRS_MSG_NEW_RKEY_F.into());

    c(
        chk,
        "RNBD_PROTO_VER_MAJOR",
        rnbd::RNBD_PROTO_VER_MAJOR.into(),
    );
    // 6.12 is protocol 2.0; ours is mainline's 2.2 (RNBD_F_PREFLUSH and
    // RNBD_F_NOUNMAP, the next two flag bits after RNBD_F_FUA, which 6.12
    // ignores). The minor is never on the wire.
    c(chk, "RNBD_PROTO_VER_MINOR", 0);
    assert_eq!(rnbd::RNBD_PROTO_VER_MINOR, 2);
    assert_eq!(rnbd::RNBD_F_PREFLUSH, rnbd::RNBD_F_FUA << 1);
    assert_eq!(rnbd::RNBD_F_NOUNMAP, rnbd::RNBD_F_FUA << 2);
    c(chk, "RTRS_PORT", rnbd::RTRS_PORT.into());
    c(chk, "RNBD_MSG_SESS_INFO", rnbd::MsgType::SessInfo as i64);
    c(
        chk,
        "RNBD_MSG_SESS_INFO_RSP",
        rnbd::MsgType::SessInfoRsp as i64,
    );
    c(chk, "RNBD_MSG_OPEN", rnbd::MsgType::Open as i64);
    c(chk, "RNBD_MSG_OPEN_RSP", rnbd::MsgType::OpenRsp as i64);
    c(chk, "RNBD_MSG_IO", rnbd::MsgType::Io as i64);
    c(chk, "RNBD_MSG_CLOSE", rnbd::MsgType::Close as i64);
    c(chk, "RNBD_ACCESS_RO", rnbd::AccessMode::Ro as i64);
    c(chk, "RNBD_ACCESS_RW", rnbd::AccessMode::Rw as i64);
    c(
        chk,
        "RNBD_ACCESS_MIGRATION",
        rnbd::AccessMode::Migration as i64,
    );
    c(chk, "RNBD_FUA", rnbd::RNBD_FUA.into());
    c(chk, "RNBD_WRITEBACK", rnbd::RNBD_WRITEBACK.into());
    c(chk, "RNBD_OP_BITS", rnbd::RNBD_OP_BITS.into());
    c(chk, "RNBD_OP_MASK", rnbd::RNBD_OP_MASK.into());
    c(chk, "RNBD_OP_READ", rnbd::Op::Read as i64);
    c(chk, "RNBD_OP_WRITE", rnbd::Op::Write as i64);
    c(chk, "RNBD_OP_FLUSH", rnbd::Op::Flush as i64);
    c(chk, "RNBD_OP_DISCARD", rnbd::Op::Discard as i64);
    c(chk, "RNBD_OP_SECURE_ERASE", rnbd::Op::SecureErase as i64);
    c(chk, "RNBD_OP_WRITE_ZEROES", rnbd::Op::WriteZeroes as i64);
    c(chk, "RNBD_F_SYNC", rnbd::RNBD_F_SYNC.into());
    c(chk, "RNBD_F_FUA", rnbd::RNBD_F_FUA.into());
}

/// The Rust answer to one C helper vector; `None` where Rust refuses to
/// encode what C masks (checked to be exactly the out-of-range inputs).
fn rust_vector(name: &str, a: &[i64]) -> Result<Option<i64>, String> {
    use rtrs::{Imm, IoReqImm};
    let u = |i: usize| a[i] as u32;
    Ok(match name {
        "to_imm" => Some(rtrs::to_imm(u(0), u(1)).into()),
        "from_imm_type" => Some(rtrs::from_imm(u(0)).0.into()),
        "from_imm_payload" => Some(rtrs::from_imm(u(0)).1.into()),
        // rtrs_to_io_req_imm() masks to 28 bits; the Rust encoder refuses more.
        "to_io_req_imm" => Imm::IoReq { payload: u(0) }.encode().ok().map(i64::from),
        "to_io_rsp_imm" => {
            let imm = Imm::IoRsp {
                msg_id: u(0),
                errno: a[1] as i32,
                w_inv: a[2] != 0,
            };
            imm.encode().ok().map(i64::from)
        }
        "from_io_rsp_msg_id" | "from_io_rsp_errno" => {
            let imm = rtrs::to_imm(rtrs::ImmType::IoRsp as u32, u(0));
            match Imm::decode(imm) {
                Ok(Imm::IoRsp { msg_id, errno, .. }) => Some(if name == "from_io_rsp_errno" {
                    errno.into()
                } else {
                    msg_id.into()
                }),
                other => return Err(format!("Imm::decode({imm:#x}) = {other:?}")),
            }
        }
        "ceil_log2" => Some(rtrs::ceil_log2(u(0)).into()),
        "io_req_imm" => {
            let mem_bits = rtrs::mem_bits(u(0)).map_err(|e| format!("mem_bits: {e}"))?;
            IoReqImm {
                buf_id: u(1),
                offset: u(2),
            }
            .encode(mem_bits)
            .ok()
            .map(i64::from)
        }
        "io_req_msg_id" | "io_req_off" => {
            let mem_bits = rtrs::mem_bits(u(0)).map_err(|e| format!("mem_bits: {e}"))?;
            let imm = IoReqImm::split(u(1), mem_bits);
            Some(if name == "io_req_off" {
                imm.offset.into()
            } else {
                imm.buf_id.into()
            })
        }
        "rnbd_op" => Some((u(0) & rnbd::RNBD_OP_MASK).into()),
        "rnbd_flags" => Some((u(0) & !rnbd::RNBD_OP_MASK).into()),
        "rnbd_op_is_write" => match rnbd::Op::from_u32(u(0)) {
            Some(op) => Some(op.is_rtrs_write().into()),
            None => return Err(format!("no Op {}", a[0])),
        },
        other => return Err(format!("no Rust counterpart for C vector {other}")),
    })
}

/// Whether the C helper `name` silently masks these inputs (so the Rust
/// encoder must refuse them).
fn out_of_range(name: &str, a: &[i64]) -> bool {
    match name {
        "to_io_req_imm" => a[0] as u32 > rtrs::MAX_IMM_PAYL_MASK,
        "to_io_rsp_imm" => {
            a[0] as u32 > rtrs::IO_RSP_MAX_MSG_ID
                || (a[1] as i32).unsigned_abs() > rtrs::IO_RSP_MAX_ERRNO
        }
        _ => false,
    }
}

fn check_vectors(chk: &mut Check) {
    let mut seen = BTreeSet::new();
    for (name, args, c) in chk.c.vectors.clone() {
        seen.insert(name.clone());
        let c_value = if name.ends_with("errno") {
            c
        } else {
            c & 0xFFFF_FFFF
        };
        match rust_vector(&name, &args) {
            Err(e) => chk.errors.push(format!("VEC {name} {args:?}: {e}")),
            Ok(Some(r)) if r == c_value && !out_of_range(&name, &args) => {}
            Ok(None) if out_of_range(&name, &args) => {}
            Ok(r) => chk.errors.push(format!(
                "VEC {name} {args:?}: C {c_value:#x}, Rust {r:x?} (out of range: {})",
                out_of_range(&name, &args)
            )),
        }
        // Whatever Rust decodes must also be what C would: decoding the
        // C encoding gives back the inputs (when in range).
        if name == "to_io_rsp_imm" && !out_of_range(&name, &args) {
            let want = rtrs::Imm::IoRsp {
                msg_id: args[0] as u32,
                errno: -(args[1].unsigned_abs() as i32),
                w_inv: args[2] != 0,
            };
            if rtrs::Imm::decode(c as u32) != Ok(want) {
                chk.errors
                    .push(format!("Imm::decode of C {c:#x} is not {want:?}"));
            }
        }
    }
    for want in [
        "to_imm",
        "from_imm_type",
        "from_imm_payload",
        "to_io_req_imm",
        "to_io_rsp_imm",
        "from_io_rsp_msg_id",
        "from_io_rsp_errno",
        "ceil_log2",
        "io_req_imm",
        "io_req_msg_id",
        "io_req_off",
        "rnbd_op",
        "rnbd_flags",
        "rnbd_op_is_write",
    ] {
        if !seen.contains(want) {
            chk.errors.push(format!("no C vectors for {want}"));
        }
    }
    // The quirk in spec §11.2 #11, as C has it: -ENOTSUPP (524) arrives as
    // -ENOMEM (12).
    let enotsupp = chk
        .c
        .vectors
        .iter()
        .find(|(n, a, _)| n == "to_io_rsp_imm" && a[..2] == [5, -524]);
    match enotsupp {
        Some((_, _, c)) => {
            let back = rtrs::Imm::decode(*c as u32);
            if back
                != Ok(rtrs::Imm::IoRsp {
                    msg_id: 5,
                    errno: -12,
                    w_inv: false,
                })
            {
                chk.errors
                    .push(format!("C -ENOTSUPP reply decodes as {back:?}"));
            }
        }
        None => chk.errors.push("no C vector for -ENOTSUPP".into()),
    }
}

/// The C image `IMG__<name>__<i>` as bytes.
fn c_image(chk: &mut Check, name: &str) -> Vec<u8> {
    let prefix = format!("IMG__{name}__");
    let mut bytes = BTreeMap::new();
    for (k, v) in &chk.c.values {
        if let Some(i) = k.strip_prefix(&prefix) {
            bytes.insert(i.parse::<usize>().expect("image index"), *v as u8);
        }
    }
    for i in 0..bytes.len() {
        chk.used.insert(format!("{prefix}{i}"));
        assert!(bytes.contains_key(&i), "{name}: image has no byte {i}");
    }
    if bytes.is_empty() {
        chk.errors.push(format!("C has no image {name}"));
    }
    bytes.into_values().collect()
}

/// C image == Rust encode, and Rust decode of the C image == the message.
fn check_image<T: PartialEq + std::fmt::Debug, E: std::fmt::Debug>(
    chk: &mut Check,
    name: &str,
    msg: &T,
    encode: impl Fn(&T) -> Vec<u8>,
    decode: impl Fn(&[u8]) -> Result<T, E>,
) {
    let c = c_image(chk, name);
    let rust = encode(msg);
    if c != rust {
        chk.errors.push(format!(
            "{name}: C image\n  {c:02x?}\nRust encode\n  {rust:02x?}"
        ));
    }
    match decode(&c) {
        Ok(back) if back == *msg => {}
        other => chk
            .errors
            .push(format!("{name}: decode of the C image: {other:?}")),
    }
}

fn check_images(chk: &mut Check) {
    let uuid = |base: u8| -> [u8; 16] { std::array::from_fn(|i| base + i as u8) };
    let msg = rtrs::ConnReq::new(0x0102, 0x0f03, 0xa1b2, uuid(0x10), uuid(0x20), true);
    check_image(
        chk,
        "rtrs_msg_conn_req",
        &msg,
        |m| m.encode().to_vec(),
        rtrs::ConnReq::decode,
    );
    let msg = rtrs::ConnRsp::accept(512, 131072 - 4096, 4096, rtrs::RTRS_MSG_NEW_RKEY_F);
    check_image(
        chk,
        "rtrs_msg_conn_rsp",
        &msg,
        |m| m.encode().to_vec(),
        rtrs::ConnRsp::decode,
    );
    let msg = rtrs::ConnRsp::reject(-104);
    check_image(
        chk,
        "rtrs_msg_conn_rsp_reject",
        &msg,
        |m| m.encode().to_vec(),
        rtrs::ConnRsp::decode,
    );
    let msg = rtrs::InfoReq::new(b"client1_sess").expect("name");
    check_image(
        chk,
        "rtrs_msg_info_req",
        &msg,
        |m| m.encode().to_vec(),
        rtrs::InfoReq::decode,
    );
    let msg = rtrs::InfoRsp::new(2);
    check_image(
        chk,
        "rtrs_msg_info_rsp",
        &msg,
        |m| m.encode().to_vec(),
        rtrs::InfoRsp::decode,
    );
    let msg = rtrs::SgDesc::new(0x0102_0304_0506_0708, 0x1122_3344, 0x0002_0000);
    check_image(
        chk,
        "rtrs_sg_desc",
        &msg,
        |m| m.encode().to_vec(),
        rtrs::SgDesc::decode,
    );
    let msg = rtrs::RkeyRsp::new(0x01ff, 0xdead_beef);
    check_image(
        chk,
        "rtrs_msg_rkey_rsp",
        &msg,
        |m| m.encode().to_vec(),
        rtrs::RkeyRsp::decode,
    );
    let msg = rtrs::RdmaRead::new(0x24, rtrs::RTRS_MSG_NEED_INVAL_F, 1);
    check_image(
        chk,
        "rtrs_msg_rdma_read",
        &msg,
        |m| m.encode().to_vec(),
        rtrs::RdmaRead::decode,
    );
    let msg = rtrs::RdmaWrite::new(0x0108);
    check_image(
        chk,
        "rtrs_msg_rdma_write",
        &msg,
        |m| m.encode().to_vec(),
        rtrs::RdmaWrite::decode,
    );

    let msg = rnbd::MsgHdr::new(rnbd::MsgType::Io);
    check_image(
        chk,
        "rnbd_msg_hdr",
        &msg,
        |m| m.encode().to_vec(),
        rnbd::MsgHdr::decode,
    );
    let msg = rnbd::SessInfo::new(rnbd::RNBD_PROTO_VER_MAJOR);
    check_image(
        chk,
        "rnbd_msg_sess_info",
        &msg,
        |m| m.encode().to_vec(),
        rnbd::SessInfo::decode,
    );
    let msg = rnbd::SessInfoRsp::new(rnbd::RNBD_PROTO_VER_MAJOR);
    check_image(
        chk,
        "rnbd_msg_sess_info_rsp",
        &msg,
        |m| m.encode().to_vec(),
        rnbd::SessInfoRsp::decode,
    );
    let msg = rnbd::Open::new(rnbd::AccessMode::Migration, b"nullb0").expect("name");
    check_image(
        chk,
        "rnbd_msg_open",
        &msg,
        |m| m.encode().to_vec(),
        rnbd::Open::decode,
    );
    let mut msg = rnbd::OpenRsp::new(0x0102_0304);
    msg.nsectors.set(0x1112_1314_1516_1718);
    msg.max_hw_sectors.set(0x2122_2324);
    msg.max_write_zeroes_sectors.set(0x3132_3334);
    msg.max_discard_sectors.set(0x4142_4344);
    msg.discard_granularity.set(0x5152_5354);
    msg.discard_alignment.set(0x6162_6364);
    msg.physical_block_size.set(0x7172);
    msg.logical_block_size.set(0x8182);
    msg.max_segments.set(0x9192);
    msg.secure_discard.set(0xa1a2);
    msg.cache_policy = rnbd::RNBD_FUA | rnbd::RNBD_WRITEBACK;
    check_image(
        chk,
        "rnbd_msg_open_rsp",
        &msg,
        |m| m.encode().to_vec(),
        rnbd::OpenRsp::decode,
    );
    let msg = rnbd::Close::new(0xc1c2_c3c4);
    check_image(
        chk,
        "rnbd_msg_close",
        &msg,
        |m| m.encode().to_vec(),
        rnbd::Close::decode,
    );
    let rw = rnbd::Rw {
        sync: true,
        fua: true,
        ..rnbd::Rw::new(rnbd::Op::Write)
    };
    let msg = rnbd::Io::new(7, 0x0102_0304_0506_0708, rw, 4096, 0x6004);
    check_image(
        chk,
        "rnbd_msg_io",
        &msg,
        |m| m.encode().to_vec(),
        rnbd::Io::decode,
    );
}

#[test]
fn c_definitions_match_rust() {
    let mut chk = Check {
        c: c_defs(),
        used: BTreeSet::new(),
        errors: Vec::new(),
    };
    check_structs(&mut chk);
    check_constants(&mut chk);
    check_vectors(&mut chk);
    check_images(&mut chk);
    let unused: Vec<_> = chk
        .c
        .values
        .keys()
        .filter(|k| !chk.used.contains(*k))
        .cloned()
        .collect();
    for k in unused {
        chk.errors
            .push(format!("C defines {k}, which no check compares"));
    }
    assert!(
        chk.errors.is_empty(),
        "{} differences between the C and the Rust wire definitions:\n{}",
        chk.errors.len(),
        chk.errors.join("\n")
    );
    eprintln!(
        "c_layout: {} C definitions and {} helper vectors match",
        chk.used.len(),
        chk.c.vectors.len()
    );
}
