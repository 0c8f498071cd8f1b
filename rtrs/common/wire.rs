// SPDX-License-Identifier: GPL-2.0

//! RTRS wire formats: every message and immediate-data encoding of the
//! RDMA transport, byte for byte as the C `rtrs-pri.h` of Linux 6.12
//! (spec: `rnbd-rtrs-protocol.md` §1-§5; how this is checked and fuzzed:
//! `Documentation/wire-formats.md`).
//!
//! This file is the one definition. It is `no_std`, uses only `core`, has
//! no `unsafe` and no dependencies, and is compiled two ways:
//!
//! - into kernel modules, by path:
//!   `#[path = "<repo>/rtrs/common/wire.rs"] mod wire;`
//! - into the host crate `tools/wire` (`rnbd_wire::rtrs`), where it is unit
//!   tested, checked against the C headers' sizes, offsets and byte images,
//!   and fuzzed.
//!
//! Conventions, the same for every message:
//!
//! - A message is a `#[repr(C)]` struct of alignment-1 fields (`u8`, byte
//!   arrays, [`Le16`], [`Le32`], [`Le64`]), so its layout is the wire
//!   layout; a `const` assertion pins every size.
//! - `encode()` returns the `SIZE` bytes, `encode_into()` writes them into
//!   a buffer; both write [`Reserved`] bytes as zero.
//! - `decode()` takes a received buffer (which may be longer than the
//!   message: receive buffers and CM private data usually are), checks the
//!   length, magic, version, type and the ranges the C receiver checks, and
//!   returns [`WireError`] otherwise. It never panics: there is no indexing,
//!   no unchecked arithmetic and no `unwrap` in this file (the lints below
//!   enforce it). Reserved bytes are ignored and come back as zero.
//! - Immediate data are `u32` in host order: `ib_send_wr.ex.imm_data` and
//!   `ib_wc.ex.imm_data` are big-endian, convert with `to_be`/`from_be`.

// Compiled into modules that use only part of it, and `pub` is the API even
// where the including crate cannot export it.
#![allow(dead_code, unreachable_pub)]
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented,
    clippy::arithmetic_side_effects
)]

use core::mem::{align_of, size_of};

// ---------------------------------------------------------------------------
// Constants (`rtrs-pri.h`, spec §1)

/// `RTRS_PROTO_VER_MAJOR`: the only part of the version a receiver checks.
pub const RTRS_PROTO_VER_MAJOR: u16 = 2;
/// `RTRS_PROTO_VER_MINOR`.
pub const RTRS_PROTO_VER_MINOR: u16 = 0;
/// `RTRS_PROTO_VER`: `major << 8 | minor`.
pub const RTRS_PROTO_VER: u16 = (RTRS_PROTO_VER_MAJOR << 8) | RTRS_PROTO_VER_MINOR;
/// `RTRS_MAGIC`, first field of the connection request and response.
pub const RTRS_MAGIC: u16 = 0x1BBD;
/// `MAX_SESS_QUEUE_DEPTH`.
pub const MAX_SESS_QUEUE_DEPTH: u32 = 65535;
/// `SERVICE_CON_QUEUE_DEPTH`: receives on connection 0.
pub const SERVICE_CON_QUEUE_DEPTH: u32 = 512;
/// `MAX_PATHS_NUM`.
pub const MAX_PATHS_NUM: u32 = 128;
/// `MIN_CHUNK_SIZE`.
pub const MIN_CHUNK_SIZE: u32 = 8192;
/// `RTRS_HB_INTERVAL_MS`.
pub const RTRS_HB_INTERVAL_MS: u32 = 5000;
/// `RTRS_HB_MISSED_MAX`.
pub const RTRS_HB_MISSED_MAX: u32 = 5;
/// The server rejects a connection request with a larger `cid_num`
/// (`rtrs-srv.c:rtrs_rdma_connect()`; not a header constant).
pub const MAX_CON_NUM: u16 = 4096;
/// `NAME_MAX`: size of the INFO_REQ `pathname` array.
pub const NAME_MAX: usize = 255;

/// `MAX_IMM_TYPE_BITS`.
pub const MAX_IMM_TYPE_BITS: u32 = 4;
/// `MAX_IMM_TYPE_MASK`.
pub const MAX_IMM_TYPE_MASK: u32 = 0xF;
/// `MAX_IMM_PAYL_BITS`.
pub const MAX_IMM_PAYL_BITS: u32 = 28;
/// `MAX_IMM_PAYL_MASK`.
pub const MAX_IMM_PAYL_MASK: u32 = 0x0FFF_FFFF;
/// Bits of an IO_RSP payload holding `abs(errno)` (27..19).
pub const IO_RSP_ERRNO_BITS: u32 = 9;
/// Bits of an IO_RSP payload holding the `msg_id` (18..0).
pub const IO_RSP_MSG_ID_BITS: u32 = 19;
/// Largest `abs(errno)` an IO_RSP immediate can carry.
pub const IO_RSP_MAX_ERRNO: u32 = 0x1FF;
/// Largest `msg_id` an IO_RSP immediate can carry.
pub const IO_RSP_MAX_MSG_ID: u32 = 0x7_FFFF;

/// `RTRS_MSG_NEED_INVAL_F`, in [`RdmaRead::flags`]: the client wants the
/// server to invalidate its rkey (SEND_WITH_INV before the reply).
pub const RTRS_MSG_NEED_INVAL_F: u16 = 1 << 0;
/// `RTRS_MSG_NEW_RKEY_F`, in [`ConnRsp::flags`]: the server runs with
/// `always_invalidate=Y` and announces new rkeys with [`RkeyRsp`].
pub const RTRS_MSG_NEW_RKEY_F: u32 = 1 << 1;
/// Bit 0 of [`ConnReq::first_conn`] (C bit-field `first_conn : 1`).
pub const CONN_REQ_FIRST_CONN: u8 = 1 << 0;

/// `uuid_t`.
pub type Uuid = [u8; 16];

// ---------------------------------------------------------------------------
// Errors, field types, the reader/writer and the `Wire` trait, shared with
// `rnbd/proto/wire.rs`

// Each wire file stands alone, so a crate that includes both compiles the
// shared part twice, as two modules with their own types.
#[allow(clippy::duplicate_mod)]
#[macro_use]
#[path = "wire_codec.rs"]
mod codec;
pub use codec::*;

fn check_magic_version(magic: Le16, version: Le16) -> Result<(), WireError> {
    if magic.get() != RTRS_MAGIC {
        return Err(WireError::BadMagic(magic.get()));
    }
    if version.get() >> 8 != RTRS_PROTO_VER_MAJOR {
        return Err(WireError::BadVersion(version.get()));
    }
    Ok(())
}

fn check_type(got: Le16, want: MsgType) -> Result<(), WireError> {
    if got.get() == want as u16 {
        Ok(())
    } else {
        Err(WireError::BadType(got.get()))
    }
}

// ---------------------------------------------------------------------------
// Message types (`enum rtrs_msg_types`)

/// `enum rtrs_msg_types`: the `type` field of INFO and IO messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum MsgType {
    /// `RTRS_MSG_INFO_REQ`: client → server, [`InfoReq`].
    InfoReq = 0,
    /// `RTRS_MSG_INFO_RSP`: server → client, [`InfoRsp`].
    InfoRsp = 1,
    /// `RTRS_MSG_WRITE`: client → server chunk, [`RdmaWrite`].
    Write = 2,
    /// `RTRS_MSG_READ`: client → server chunk, [`RdmaRead`].
    Read = 3,
    /// `RTRS_MSG_RKEY_RSP`: server → client, [`RkeyRsp`].
    RkeyRsp = 4,
}

impl MsgType {
    /// The type with wire value `v`, if there is one.
    pub const fn from_u16(v: u16) -> Option<Self> {
        match v {
            0 => Some(MsgType::InfoReq),
            1 => Some(MsgType::InfoRsp),
            2 => Some(MsgType::Write),
            3 => Some(MsgType::Read),
            4 => Some(MsgType::RkeyRsp),
            _ => None,
        }
    }
}

/// The type of the message at the start of `buf` (C `rtrs_msg_rdma_hdr`:
/// what the server reads first at the IMM offset of a chunk).
pub fn peek_msg_type(buf: &[u8]) -> Result<MsgType, WireError> {
    let mut r = Reader::new(buf, 2)?;
    let t = r.le16().get();
    MsgType::from_u16(t).ok_or(WireError::BadType(t))
}

// ---------------------------------------------------------------------------
// Connection establishment (spec §2.4, §2.5)

/// `struct rtrs_msg_conn_req` (56 bytes): CM REQ private data, client →
/// server, one per connection.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnReq {
    /// `__cma_version`: must be 0 (the RDMA CM overwrites it for AF_IB).
    pub cma_version: Reserved<1>,
    /// `__ip_version`: must be 0 (else `cma_save_ip_info()` fails).
    pub ip_version: Reserved<1>,
    /// [`RTRS_MAGIC`].
    pub magic: Le16,
    /// [`RTRS_PROTO_VER`]; receivers check only the major byte.
    pub version: Le16,
    /// Connection id, `0..cid_num`; cid 0 first.
    pub cid: Le16,
    /// Connections of this path.
    pub cid_num: Le16,
    /// The path's (re)connect counter (the server only stores it).
    pub recon_cnt: Le16,
    /// Path UUID.
    pub sess_uuid: Uuid,
    /// Session (all paths) UUID.
    pub paths_uuid: Uuid,
    /// The C bit-fields `first_conn : 1` (bit 0, [`CONN_REQ_FIRST_CONN`])
    /// and `reserved_bits : 7` (written 0, ignored on decode).
    pub first_conn: u8,
    /// `reserved[11]`.
    pub reserved: Reserved<11>,
}

fixed_size!(ConnReq, 56);

impl ConnReq {
    /// A request for connection `cid` of `cid_num`, current version.
    pub const fn new(
        cid: u16,
        cid_num: u16,
        recon_cnt: u16,
        sess_uuid: Uuid,
        paths_uuid: Uuid,
        first_conn: bool,
    ) -> Self {
        ConnReq {
            cma_version: Reserved::ZERO,
            ip_version: Reserved::ZERO,
            magic: Le16::new(RTRS_MAGIC),
            version: Le16::new(RTRS_PROTO_VER),
            cid: Le16::new(cid),
            cid_num: Le16::new(cid_num),
            recon_cnt: Le16::new(recon_cnt),
            sess_uuid,
            paths_uuid,
            first_conn: if first_conn { CONN_REQ_FIRST_CONN } else { 0 },
            reserved: Reserved::ZERO,
        }
    }

    /// Whether `first_conn` is set (the path is for a new client session).
    pub const fn is_first_conn(&self) -> bool {
        self.first_conn & CONN_REQ_FIRST_CONN != 0
    }

    /// Parses private data as the server does (`rtrs_rdma_connect()`):
    /// length, magic, major version, `cid_num <= 4096`, `cid < cid_num`.
    /// The server rejects all of these with `-ECONNRESET`.
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf, Self::SIZE)?;
        let msg = ConnReq {
            cma_version: r.reserved(),
            ip_version: r.reserved(),
            magic: r.le16(),
            version: r.le16(),
            cid: r.le16(),
            cid_num: r.le16(),
            recon_cnt: r.le16(),
            sess_uuid: r.bytes(),
            paths_uuid: r.bytes(),
            first_conn: r.u8() & CONN_REQ_FIRST_CONN,
            reserved: r.reserved(),
        };
        r.finish()?;
        check_magic_version(msg.magic, msg.version)?;
        if msg.cid_num.get() > MAX_CON_NUM {
            return Err(WireError::Invalid("conn_req cid_num > 4096"));
        }
        if msg.cid.get() >= msg.cid_num.get() {
            return Err(WireError::Invalid("conn_req cid >= cid_num"));
        }
        Ok(msg)
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.reserved(self.cma_version);
        w.reserved(self.ip_version);
        w.le16(self.magic);
        w.le16(self.version);
        w.le16(self.cid);
        w.le16(self.cid_num);
        w.le16(self.recon_cnt);
        w.bytes(self.sess_uuid);
        w.bytes(self.paths_uuid);
        w.u8(self.first_conn & CONN_REQ_FIRST_CONN);
        w.reserved(self.reserved);
    }
}

/// `struct rtrs_msg_conn_rsp` (56 bytes): CM REP (accept) or REJ (reject)
/// private data, server → client.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnRsp {
    /// [`RTRS_MAGIC`].
    pub magic: Le16,
    /// [`RTRS_PROTO_VER`]; receivers check only the major byte.
    pub version: Le16,
    /// 0 on accept; on reject a negative errno as 16-bit two's complement.
    pub errno: Le16,
    /// The server session's queue depth (0 on reject).
    pub queue_depth: Le16,
    /// `max_chunk_size - max_hdr_size`.
    pub max_io_size: Le32,
    /// The server's `PAGE_SIZE`.
    pub max_hdr_size: Le32,
    /// [`RTRS_MSG_NEW_RKEY_F`] or 0.
    pub flags: Le32,
    /// `reserved[36]`.
    pub reserved: Reserved<36>,
}

fixed_size!(ConnRsp, 56);

impl ConnRsp {
    /// The private data of an accept (REP).
    pub const fn accept(queue_depth: u16, max_io_size: u32, max_hdr_size: u32, flags: u32) -> Self {
        ConnRsp {
            magic: Le16::new(RTRS_MAGIC),
            version: Le16::new(RTRS_PROTO_VER),
            errno: Le16::new(0),
            queue_depth: Le16::new(queue_depth),
            max_io_size: Le32::new(max_io_size),
            max_hdr_size: Le32::new(max_hdr_size),
            flags: Le32::new(flags),
            reserved: Reserved::ZERO,
        }
    }

    /// The private data of a reject (REJ) with `errno` (negative, e.g.
    /// `-ECONNRESET`).
    pub const fn reject(errno: i16) -> Self {
        ConnRsp {
            magic: Le16::new(RTRS_MAGIC),
            version: Le16::new(RTRS_PROTO_VER),
            errno: Le16::new(errno as u16),
            queue_depth: Le16::new(0),
            max_io_size: Le32::new(0),
            max_hdr_size: Le32::new(0),
            flags: Le32::new(0),
            reserved: Reserved::ZERO,
        }
    }

    /// The errno, sign-extended as the C client does (`(int16_t)`).
    pub const fn errno(&self) -> i32 {
        self.errno.get() as i16 as i32
    }

    /// Whether the server announces rkeys with RKEY_RSP (`always_invalidate`).
    pub const fn new_rkey(&self) -> bool {
        self.flags.get() & RTRS_MSG_NEW_RKEY_F != 0
    }

    /// The server's chunk size, `max_io_size + max_hdr_size` (`None` if it
    /// overflows; the C client would wrap).
    pub const fn chunk_size(&self) -> Option<u32> {
        self.max_io_size.get().checked_add(self.max_hdr_size.get())
    }

    /// The path parameters of an accepted CONN_RSP (cid 0), with the
    /// checks our client makes before it sizes anything by them (upstream
    /// allocates `queue_depth` slots of `max_hdr_size` bytes first and
    /// checks only the IMM bits, at INFO_RSP): `max_io_size` and
    /// `max_hdr_size` non-zero, a header of at most
    /// [`MAX_HDR_SIZE_LIMIT`], a chunk size that does not overflow, a
    /// valid queue depth, and `queue_depth` chunks addressable by the IMM.
    /// The kernel client and the peer both take their parameters from here.
    pub fn path_params(&self) -> Result<PathParams, WireError> {
        let queue_depth = self.queue_depth.get();
        let (max_io_size, max_hdr_size) = (self.max_io_size.get(), self.max_hdr_size.get());
        if max_io_size == 0 || max_hdr_size == 0 || max_hdr_size > MAX_HDR_SIZE_LIMIT {
            return Err(WireError::Invalid("conn_rsp max_io_size or max_hdr_size"));
        }
        let chunk_size = self.chunk_size().ok_or(WireError::Invalid(
            "conn_rsp chunk size (max_io_size + max_hdr_size)",
        ))?;
        let mem_bits = match mem_bits(u32::from(queue_depth)) {
            Ok(bits) => bits,
            Err(_) => return Err(WireError::Invalid("conn_rsp queue_depth")),
        };
        if ceil_log2(u32::from(queue_depth)).saturating_add(ceil_log2(chunk_size))
            > MAX_IMM_PAYL_BITS
        {
            return Err(WireError::Invalid(
                "conn_rsp queue_depth chunks of chunk_size bytes exceed the IMM",
            ));
        }
        Ok(PathParams {
            queue_depth,
            max_io_size,
            max_hdr_size,
            chunk_size,
            new_rkey: self.new_rkey(),
            mem_bits,
        })
    }

    /// Parses private data as the client does (`rtrs_rdma_conn_established()`,
    /// `rtrs_rdma_conn_rejected()`): length, magic, major version. A
    /// non-zero [`errno`](Self::errno) is the caller's to judge (a REP with
    /// one is refused, a REJ carries one).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf, Self::SIZE)?;
        let msg = ConnRsp {
            magic: r.le16(),
            version: r.le16(),
            errno: r.le16(),
            queue_depth: r.le16(),
            max_io_size: r.le32(),
            max_hdr_size: r.le32(),
            flags: r.le32(),
            reserved: r.reserved(),
        };
        r.finish()?;
        check_magic_version(msg.magic, msg.version)?;
        Ok(msg)
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.le16(self.magic);
        w.le16(self.version);
        w.le16(self.errno);
        w.le16(self.queue_depth);
        w.le32(self.max_io_size);
        w.le32(self.max_hdr_size);
        w.le32(self.flags);
        w.reserved(self.reserved);
    }
}

// ---------------------------------------------------------------------------
// Session setup (spec §3.1, §3.2)

/// Bytes of `name` before its first NUL; `None` if there is none.
fn until_nul(name: &[u8]) -> Option<&[u8]> {
    let len = name.iter().position(|&b| b == 0)?;
    name.get(..len)
}

/// `name` NUL-terminated and zero padded into `N` bytes; `None` if it
/// contains a NUL or leaves no room for the terminator.
fn nul_padded<const N: usize>(name: &[u8]) -> Option<[u8; N]> {
    if name.len() >= N || name.contains(&0) {
        return None;
    }
    let mut out = [0u8; N];
    out.get_mut(..name.len())?.copy_from_slice(name);
    Some(out)
}

/// Whether `name` is a path name the server accepts: not empty, no `/`
/// and no `.` (`rtrs-srv.c:process_info_req()`).
fn pathname_ok(name: &[u8]) -> bool {
    !name.is_empty() && !name.iter().any(|&b| b == b'/' || b == b'.')
}

/// `struct rtrs_msg_info_req` (272 bytes): the client's first SEND on
/// connection 0, naming the path.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InfoReq {
    /// [`MsgType::InfoReq`].
    pub msg_type: Le16,
    /// The session name, NUL-terminated, zero padded.
    pub pathname: [u8; NAME_MAX],
    /// `reserved[15]`.
    pub reserved: Reserved<15>,
}

fixed_size!(InfoReq, 272);

impl InfoReq {
    /// A request naming the path `pathname` (at most 254 bytes, no NUL,
    /// `/` or `.`).
    pub fn new(pathname: &[u8]) -> Result<Self, WireError> {
        if !pathname_ok(pathname) {
            return Err(WireError::Invalid("info_req pathname"));
        }
        let pathname = nul_padded(pathname).ok_or(WireError::Invalid("info_req pathname"))?;
        Ok(InfoReq {
            msg_type: Le16::new(MsgType::InfoReq as u16),
            pathname,
            reserved: Reserved::ZERO,
        })
    }

    /// The path name (without NUL).
    pub fn pathname(&self) -> &[u8] {
        until_nul(&self.pathname).unwrap_or(&self.pathname)
    }

    /// Parses a received INFO_REQ as the server does (`byte_len >= 272`,
    /// type, a name without `/` and `.`); also requires the NUL the C
    /// client always sends and a non-empty name. Bytes after the NUL are
    /// dropped.
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf, Self::SIZE)?;
        let msg_type = r.le16();
        let raw: [u8; NAME_MAX] = r.bytes();
        let reserved = r.reserved();
        r.finish()?;
        check_type(msg_type, MsgType::InfoReq)?;
        let name = until_nul(&raw).ok_or(WireError::Invalid("info_req pathname"))?;
        if !pathname_ok(name) {
            return Err(WireError::Invalid("info_req pathname"));
        }
        let pathname = nul_padded(name).ok_or(WireError::Invalid("info_req pathname"))?;
        Ok(InfoReq {
            msg_type,
            pathname,
            reserved,
        })
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.le16(self.msg_type);
        // Zero after the first NUL, whatever the array holds.
        let mut name = [0u8; NAME_MAX];
        let src = self.pathname();
        if let Some(dst) = name.get_mut(..src.len()) {
            dst.copy_from_slice(src);
        }
        w.bytes(name);
        w.reserved(self.reserved);
    }
}

/// `struct rtrs_sg_desc` (16 bytes): one registered buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SgDesc {
    /// IO virtual address of the MR.
    pub addr: Le64,
    /// rkey of the MR.
    pub key: Le32,
    /// Length in bytes.
    pub len: Le32,
}

fixed_size!(SgDesc, 16);

impl SgDesc {
    /// A descriptor of `len` bytes at `addr` with `key`.
    pub const fn new(addr: u64, key: u32, len: u32) -> Self {
        SgDesc {
            addr: Le64::new(addr),
            key: Le32::new(key),
            len: Le32::new(len),
        }
    }

    /// Parses a descriptor (any values).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf, Self::SIZE)?;
        let desc = SgDesc {
            addr: r.le64(),
            key: r.le32(),
            len: r.le32(),
        };
        r.finish()?;
        Ok(desc)
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.le64(self.addr);
        w.le32(self.key);
        w.le32(self.len);
    }
}

/// The `desc[]` array following an [`InfoRsp`] or [`RdmaRead`]: a view of
/// exactly `sg_cnt` descriptors in a received buffer.
#[derive(Clone, Copy, Debug)]
pub struct SgDescs<'a> {
    bytes: &'a [u8],
}

impl<'a> SgDescs<'a> {
    /// The `count` descriptors at the start of `buf`, or `Short`.
    fn new(buf: &'a [u8], count: u16) -> Result<Self, WireError> {
        let need = usize::from(count).saturating_mul(SgDesc::SIZE);
        match buf.get(..need) {
            Some(bytes) => Ok(SgDescs { bytes }),
            None => Err(WireError::Short {
                need,
                got: buf.len(),
            }),
        }
    }

    /// Number of descriptors.
    pub fn len(&self) -> usize {
        self.bytes.len() / SgDesc::SIZE
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Descriptor `i`.
    pub fn get(&self, i: usize) -> Option<SgDesc> {
        let start = i.checked_mul(SgDesc::SIZE)?;
        SgDesc::decode(self.bytes.get(start..)?).ok()
    }

    /// The descriptors in order.
    pub fn iter(&self) -> impl Iterator<Item = SgDesc> + 'a {
        self.bytes
            .chunks_exact(SgDesc::SIZE)
            .filter_map(|c| SgDesc::decode(c).ok())
    }

    /// Checks an INFO_RSP's descriptors as the client does
    /// (`rtrs-clt.c:process_info_rsp()`) against the path's `queue_depth`
    /// and `chunk_size` (`max_io_size + max_hdr_size` of the conn_rsp), and
    /// returns the `queue_depth` remote buffers `(addr, rkey)` they cut
    /// into, buffer id order. Every failure is `-EINVAL` there. As in C,
    /// the IMM capacity test uses `sg_cnt`, not the queue depth (spec
    /// §11.2 #23); lengths are summed without the C `u32` wrap-around.
    pub fn rbufs(&self, queue_depth: u16, chunk_size: u32) -> Result<Rbufs<'a>, WireError> {
        let sg_cnt = self.len() as u32;
        let qd = u32::from(queue_depth);
        if qd.checked_rem(sg_cnt).is_none_or(|r| r != 0) {
            return Err(WireError::Invalid("info_rsp sg_cnt"));
        }
        if chunk_size == 0 {
            return Err(WireError::Invalid("chunk_size"));
        }
        if ceil_log2(sg_cnt).saturating_add(ceil_log2(chunk_size)) > MAX_IMM_PAYL_BITS {
            return Err(WireError::Invalid(
                "info_rsp sg_cnt and chunk_size exceed the IMM",
            ));
        }
        let mut total: u64 = 0;
        for desc in self.iter() {
            let len = desc.len.get();
            if len == 0 || len.checked_rem(chunk_size) != Some(0) {
                return Err(WireError::Invalid("info_rsp desc len"));
            }
            total = total.saturating_add(u64::from(len));
        }
        if total != u64::from(chunk_size).saturating_mul(u64::from(qd)) {
            return Err(WireError::Invalid("info_rsp total length"));
        }
        Ok(Rbufs {
            descs: self.bytes.chunks_exact(SgDesc::SIZE),
            cur: None,
            chunk_size,
        })
    }
}

/// The remote buffers of a validated INFO_RSP (from [`SgDescs::rbufs`]):
/// `(addr, rkey)` for buffer ids `0..queue_depth`.
#[derive(Clone, Debug)]
pub struct Rbufs<'a> {
    descs: core::slice::ChunksExact<'a, u8>,
    /// Next address, rkey, and bytes left of the current descriptor.
    cur: Option<(u64, u32, u32)>,
    chunk_size: u32,
}

impl Iterator for Rbufs<'_> {
    type Item = (u64, u32);

    fn next(&mut self) -> Option<(u64, u32)> {
        loop {
            match self.cur {
                Some((addr, key, left)) if left >= self.chunk_size => {
                    let left = left.wrapping_sub(self.chunk_size);
                    let next = addr.wrapping_add(u64::from(self.chunk_size));
                    self.cur = Some((next, key, left));
                    return Some((addr, key));
                }
                _ => {
                    let desc = SgDesc::decode(self.descs.next()?).ok()?;
                    self.cur = Some((desc.addr.get(), desc.key.get(), desc.len.get()));
                }
            }
        }
    }
}

/// `struct rtrs_msg_info_rsp` (8 bytes, then `sg_cnt` [`SgDesc`]s): the
/// server's answer to INFO_REQ, its chunk MRs.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InfoRsp {
    /// [`MsgType::InfoRsp`].
    pub msg_type: Le16,
    /// Number of descriptors that follow.
    pub sg_cnt: Le16,
    /// `reserved[4]`.
    pub reserved: Reserved<4>,
}

fixed_size!(InfoRsp, 8);

impl InfoRsp {
    /// Header for `sg_cnt` descriptors.
    pub const fn new(sg_cnt: u16) -> Self {
        InfoRsp {
            msg_type: Le16::new(MsgType::InfoRsp as u16),
            sg_cnt: Le16::new(sg_cnt),
            reserved: Reserved::ZERO,
        }
    }

    /// Parses the 8-byte header (length, type).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf, Self::SIZE)?;
        let msg = InfoRsp {
            msg_type: r.le16(),
            sg_cnt: r.le16(),
            reserved: r.reserved(),
        };
        r.finish()?;
        check_type(msg.msg_type, MsgType::InfoRsp)?;
        Ok(msg)
    }

    /// Parses a whole INFO_RSP as the client does
    /// (`rtrs_clt_info_rsp_done()`): header, then `byte_len >= 8 +
    /// 16 * sg_cnt`. Check the descriptors with [`SgDescs::rbufs`].
    pub fn decode_with_descs(buf: &[u8]) -> Result<(Self, SgDescs<'_>), WireError> {
        let hdr = Self::decode(buf)?;
        let rest = buf.get(Self::SIZE..).unwrap_or(&[]);
        let descs = SgDescs::new(rest, hdr.sg_cnt.get()).map_err(|_| WireError::Short {
            need: Self::SIZE
                .saturating_add(usize::from(hdr.sg_cnt.get()).saturating_mul(SgDesc::SIZE)),
            got: buf.len(),
        })?;
        Ok((hdr, descs))
    }

    /// Writes a whole INFO_RSP with `descs` into `buf`; returns its length.
    pub fn encode_with_descs(descs: &[SgDesc], buf: &mut [u8]) -> Result<usize, WireError> {
        let sg_cnt =
            u16::try_from(descs.len()).map_err(|_| WireError::Invalid("info_rsp sg_cnt"))?;
        encode_with_descs(&Self::new(sg_cnt).encode(), descs, buf)
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.le16(self.msg_type);
        w.le16(self.sg_cnt);
        w.reserved(self.reserved);
    }
}

/// Writes `hdr` then `descs` into `buf`; returns the length.
fn encode_with_descs(hdr: &[u8], descs: &[SgDesc], buf: &mut [u8]) -> Result<usize, WireError> {
    let need = descs
        .len()
        .checked_mul(SgDesc::SIZE)
        .and_then(|d| d.checked_add(hdr.len()))
        .ok_or(WireError::Invalid("descriptor count"))?;
    let got = buf.len();
    let out = buf.get_mut(..need).ok_or(WireError::Short { need, got })?;
    let (head, mut rest) = out.split_at_mut(hdr.len());
    head.copy_from_slice(hdr);
    for desc in descs {
        let (one, tail) = core::mem::take(&mut rest).split_at_mut(SgDesc::SIZE);
        desc.encode_into(one)?;
        rest = tail;
    }
    Ok(need)
}

// ---------------------------------------------------------------------------
// IO requests in the server chunk (spec §4.3, §4.4)

/// `struct rtrs_msg_rdma_write` (4 bytes): trails a WRITE request in the
/// chunk, after the data and the user header.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RdmaWrite {
    /// [`MsgType::Write`].
    pub msg_type: Le16,
    /// Length of the user header (RNBD message) before this one.
    pub usr_len: Le16,
}

fixed_size!(RdmaWrite, 4);

impl RdmaWrite {
    /// The trailer of a write with a `usr_len`-byte user header.
    pub const fn new(usr_len: u16) -> Self {
        RdmaWrite {
            msg_type: Le16::new(MsgType::Write as u16),
            usr_len: Le16::new(usr_len),
        }
    }

    /// Parses it (length, type).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf, Self::SIZE)?;
        let msg = RdmaWrite {
            msg_type: r.le16(),
            usr_len: r.le16(),
        };
        r.finish()?;
        check_type(msg.msg_type, MsgType::Write)?;
        Ok(msg)
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.le16(self.msg_type);
        w.le16(self.usr_len);
    }
}

/// `struct rtrs_msg_rdma_read` (8 bytes, then `sg_cnt` [`SgDesc`]s): trails
/// a READ request in the chunk; the descriptors name the client buffers
/// the server RDMA-writes the result into.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RdmaRead {
    /// [`MsgType::Read`].
    pub msg_type: Le16,
    /// Length of the user header before this one.
    pub usr_len: Le16,
    /// [`RTRS_MSG_NEED_INVAL_F`] or 0.
    pub flags: Le16,
    /// Number of descriptors that follow (the C client sends 0 or 1).
    pub sg_cnt: Le16,
}

fixed_size!(RdmaRead, 8);

impl RdmaRead {
    /// Header of a read with a `usr_len`-byte user header and `sg_cnt`
    /// descriptors.
    pub const fn new(usr_len: u16, flags: u16, sg_cnt: u16) -> Self {
        RdmaRead {
            msg_type: Le16::new(MsgType::Read as u16),
            usr_len: Le16::new(usr_len),
            flags: Le16::new(flags),
            sg_cnt: Le16::new(sg_cnt),
        }
    }

    /// Whether the client asks for remote invalidation.
    pub const fn need_inval(&self) -> bool {
        self.flags.get() & RTRS_MSG_NEED_INVAL_F != 0
    }

    /// Parses the 8-byte header (length, type).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf, Self::SIZE)?;
        let msg = RdmaRead {
            msg_type: r.le16(),
            usr_len: r.le16(),
            flags: r.le16(),
            sg_cnt: r.le16(),
        };
        r.finish()?;
        check_type(msg.msg_type, MsgType::Read)?;
        Ok(msg)
    }

    /// Parses the header and its `sg_cnt` descriptors.
    pub fn decode_with_descs(buf: &[u8]) -> Result<(Self, SgDescs<'_>), WireError> {
        let hdr = Self::decode(buf)?;
        let rest = buf.get(Self::SIZE..).unwrap_or(&[]);
        let descs = SgDescs::new(rest, hdr.sg_cnt.get()).map_err(|_| WireError::Short {
            need: Self::SIZE
                .saturating_add(usize::from(hdr.sg_cnt.get()).saturating_mul(SgDesc::SIZE)),
            got: buf.len(),
        })?;
        Ok((hdr, descs))
    }

    /// Writes a READ trailer with `descs` (`sg_cnt = descs.len()`) into
    /// `buf`; returns its length.
    pub fn encode_with_descs(
        usr_len: u16,
        flags: u16,
        descs: &[SgDesc],
        buf: &mut [u8],
    ) -> Result<usize, WireError> {
        let sg_cnt =
            u16::try_from(descs.len()).map_err(|_| WireError::Invalid("rdma_read sg_cnt"))?;
        encode_with_descs(&Self::new(usr_len, flags, sg_cnt).encode(), descs, buf)
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.le16(self.msg_type);
        w.le16(self.usr_len);
        w.le16(self.flags);
        w.le16(self.sg_cnt);
    }
}

/// What a client asks for with an IO_REQ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoKind {
    /// `RTRS_MSG_WRITE`: the data is in the chunk.
    Write,
    /// `RTRS_MSG_READ`: the server writes `desc.len` bytes of result to
    /// `desc` (none if `desc` is `None`, e.g. an RNBD flush).
    Read {
        /// [`RTRS_MSG_NEED_INVAL_F`] was set.
        need_inval: bool,
        /// The client buffer, if `sg_cnt` was 1.
        desc: Option<SgDesc>,
    },
}

/// A request as the server finds it in a chunk (`rtrs-srv.c:
/// process_io_req()`): data at `0..data_len`, the user header at
/// `data_len..data_len + usr_len`, the RTRS trailer at the IMM offset
/// `data_len + usr_len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoReq {
    /// Write or read.
    pub kind: IoKind,
    /// Bytes of data at the start of the chunk.
    pub data_len: usize,
    /// Bytes of user header after the data.
    pub usr_len: usize,
}

impl IoReq {
    /// The user header's range in the chunk.
    pub fn usr_range(&self) -> core::ops::Range<usize> {
        self.data_len..self.data_len.saturating_add(self.usr_len)
    }

    /// Parses the request whose trailer is at offset `off` (from the
    /// IO_REQ immediate) of `chunk` (the whole chunk, `max_chunk_size`
    /// bytes). Errors where the C server closes the path (unknown type,
    /// `off` outside the chunk) or silently drops the request
    /// (`usr_len > off`, a READ with `sg_cnt` other than 0 or 1).
    pub fn parse(chunk: &[u8], off: usize) -> Result<Self, WireError> {
        let msg = chunk
            .get(off..)
            .ok_or(WireError::Invalid("io_req offset"))?;
        let (kind, usr_len) = match peek_msg_type(msg)? {
            MsgType::Write => {
                let w = RdmaWrite::decode(msg)?;
                (IoKind::Write, w.usr_len.get())
            }
            MsgType::Read => {
                let (r, descs) = RdmaRead::decode_with_descs(msg)?;
                if descs.len() > 1 {
                    return Err(WireError::Invalid("rdma_read sg_cnt > 1"));
                }
                let kind = IoKind::Read {
                    need_inval: r.need_inval(),
                    desc: descs.get(0),
                };
                (kind, r.usr_len.get())
            }
            other => return Err(WireError::BadType(other as u16)),
        };
        let usr_len = usize::from(usr_len);
        let data_len = off
            .checked_sub(usr_len)
            .ok_or(WireError::Invalid("io_req usr_len > offset"))?;
        Ok(IoReq {
            kind,
            data_len,
            usr_len,
        })
    }
}

/// `struct rtrs_msg_rkey_rsp` (8 bytes): with `always_invalidate`, the
/// SEND_WITH_IMM that answers a request and announces the chunk's new rkey.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RkeyRsp {
    /// [`MsgType::RkeyRsp`].
    pub msg_type: Le16,
    /// The chunk (= msg_id of the request answered).
    pub buf_id: Le16,
    /// The chunk's new rkey.
    pub rkey: Le32,
}

fixed_size!(RkeyRsp, 8);

impl RkeyRsp {
    /// New rkey `rkey` for chunk `buf_id`.
    pub const fn new(buf_id: u16, rkey: u32) -> Self {
        RkeyRsp {
            msg_type: Le16::new(MsgType::RkeyRsp as u16),
            buf_id: Le16::new(buf_id),
            rkey: Le32::new(rkey),
        }
    }

    /// Parses it (length, type). The client also requires `buf_id <
    /// queue_depth` and the IMM's msg_id to equal `buf_id`: see
    /// [`check`](Self::check).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf, Self::SIZE)?;
        let msg = RkeyRsp {
            msg_type: r.le16(),
            buf_id: r.le16(),
            rkey: r.le32(),
        };
        r.finish()?;
        check_type(msg.msg_type, MsgType::RkeyRsp)?;
        Ok(msg)
    }

    /// The client's checks (`rtrs_clt_rkey_rsp_done()`): `buf_id <
    /// queue_depth`, and if the immediate is an IO_RSP its msg_id is
    /// `buf_id`.
    pub fn check(&self, queue_depth: u16, imm: Imm) -> Result<(), WireError> {
        if self.buf_id.get() >= queue_depth {
            return Err(WireError::Invalid("rkey_rsp buf_id >= queue_depth"));
        }
        match imm {
            Imm::IoRsp { msg_id, .. } if msg_id != u32::from(self.buf_id.get()) => {
                Err(WireError::Invalid("rkey_rsp buf_id != IMM msg_id"))
            }
            _ => Ok(()),
        }
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.le16(self.msg_type);
        w.le16(self.buf_id);
        w.le32(self.rkey);
    }
}

// ---------------------------------------------------------------------------
// Immediate data (spec §4.2)

/// `enum rtrs_imm_type`: the top 4 bits of an immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ImmType {
    /// `RTRS_IO_REQ_IMM`, client → server.
    IoReq = 0,
    /// `RTRS_IO_RSP_IMM`, server → client.
    IoRsp = 1,
    /// `RTRS_IO_RSP_W_INV_IMM`, server → client after a SEND_WITH_INV.
    IoRspWInv = 2,
    /// `RTRS_HB_MSG_IMM`, either way.
    HbMsg = 8,
    /// `RTRS_HB_ACK_IMM`, either way.
    HbAck = 9,
}

impl ImmType {
    /// The type with wire value `v`, if there is one.
    pub const fn from_u32(v: u32) -> Option<Self> {
        match v {
            0 => Some(ImmType::IoReq),
            1 => Some(ImmType::IoRsp),
            2 => Some(ImmType::IoRspWInv),
            8 => Some(ImmType::HbMsg),
            9 => Some(ImmType::HbAck),
            _ => None,
        }
    }
}

/// `rtrs_to_imm()`: `type` in the top 4 bits, `payload` (masked to 28
/// bits) below.
pub const fn to_imm(imm_type: u32, payload: u32) -> u32 {
    ((imm_type & MAX_IMM_TYPE_MASK) << MAX_IMM_PAYL_BITS) | (payload & MAX_IMM_PAYL_MASK)
}

/// `rtrs_from_imm()`: `(type, payload)`.
pub const fn from_imm(imm: u32) -> (u32, u32) {
    (imm >> MAX_IMM_PAYL_BITS, imm & MAX_IMM_PAYL_MASK)
}

/// `ilog2(x - 1) + 1` as the C code computes it, i.e. ⌈log₂ x⌉ for x ≥ 1
/// (0 for 1, 32 for 0).
pub const fn ceil_log2(x: u32) -> u32 {
    32u32.wrapping_sub(x.wrapping_sub(1).leading_zeros())
}

/// Low bits of an IO_REQ payload holding the chunk offset,
/// `28 - ⌈log₂ queue_depth⌉` (`srv_path->mem_bits`; the client's
/// `permit->mem_off` shift), for `queue_depth` in `1..=65535`.
pub const fn mem_bits(queue_depth: u32) -> Result<u32, WireError> {
    if queue_depth == 0 || queue_depth > MAX_SESS_QUEUE_DEPTH {
        return Err(WireError::Invalid("queue_depth"));
    }
    // queue_depth <= 65535: ceil_log2 <= 16.
    Ok(MAX_IMM_PAYL_BITS.wrapping_sub(ceil_log2(queue_depth)))
}

/// The largest `max_hdr_size` a client accepts (the server's `PAGE_SIZE`,
/// 64 KiB at most on any architecture Linux runs RTRS on).
pub const MAX_HDR_SIZE_LIMIT: u32 = 64 * 1024;

/// A client path's IO parameters, from the CONN_RSP of its first
/// connection ([`ConnRsp::path_params`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathParams {
    /// Server chunks (buffer ids) per session.
    pub queue_depth: u16,
    /// The most data one request carries.
    pub max_io_size: u32,
    /// The most header (user message + RTRS trailer) one request carries.
    pub max_hdr_size: u32,
    /// `max_io_size + max_hdr_size`.
    pub chunk_size: u32,
    /// The server announces a new rkey with every answer (RKEY_RSP).
    pub new_rkey: bool,
    /// [`mem_bits`] of `queue_depth`.
    pub mem_bits: u32,
}

/// Where one IO request lies in its chunk ([`PathParams::io_layout`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoLayout {
    /// The header: the user message and the RTRS trailer ([`RdmaWrite`],
    /// or [`RdmaRead`] with one [`SgDesc`] when there is data).
    pub hdr_len: usize,
    /// The chunk offset of the header: after the data, whose length it
    /// is (a WRITE's data is there; a READ's is not, the server writes
    /// it to the client).
    pub hdr_offset: usize,
    /// The chunk offset of the trailer, which the IO_REQ immediate
    /// carries (`data_len + usr_len`).
    pub trailer_offset: usize,
}

impl PathParams {
    /// The size checks of `rtrs_clt_write_req()` / `rtrs_clt_read_req()`:
    /// a request of `usr_len` bytes of user message and `data_len` bytes of
    /// data (`write`: the client's data goes to the server) must fit: the
    /// header `max_hdr_size`, data + header the chunk, the user message
    /// the trailer's 16-bit length.
    pub fn io_layout(
        &self,
        write: bool,
        usr_len: usize,
        data_len: usize,
    ) -> Result<IoLayout, WireError> {
        let trailer = if write {
            RdmaWrite::SIZE
        } else if data_len > 0 {
            RdmaRead::SIZE.saturating_add(SgDesc::SIZE)
        } else {
            RdmaRead::SIZE
        };
        let hdr_len = usr_len.saturating_add(trailer);
        let total = data_len.saturating_add(hdr_len);
        if usr_len > usize::from(u16::MAX)
            || hdr_len > self.max_hdr_size as usize
            || total > self.chunk_size as usize
        {
            return Err(WireError::Invalid("request does not fit a chunk"));
        }
        Ok(IoLayout {
            hdr_len,
            hdr_offset: data_len,
            trailer_offset: data_len.saturating_add(usr_len),
        })
    }
}

/// The payload of an IO_REQ immediate: which chunk, and where in it the
/// RTRS trailer is (`data_len + usr_len`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoReqImm {
    /// Chunk (permit `mem_id`).
    pub buf_id: u32,
    /// Byte offset of the trailer in the chunk.
    pub offset: u32,
}

impl IoReqImm {
    /// The immediate `(buf_id << mem_bits) + offset` with type IO_REQ; an
    /// error if either does not fit its bits (C would let the offset
    /// carry into the buffer id).
    pub const fn encode(&self, mem_bits: u32) -> Result<u32, WireError> {
        if mem_bits > MAX_IMM_PAYL_BITS {
            return Err(WireError::Invalid("mem_bits"));
        }
        if self.offset >> mem_bits != 0 {
            return Err(WireError::Invalid("io_req offset does not fit mem_bits"));
        }
        let id_bits = MAX_IMM_PAYL_BITS.wrapping_sub(mem_bits);
        if self.buf_id >> id_bits != 0 {
            return Err(WireError::Invalid("io_req buf_id does not fit the IMM"));
        }
        // mem_bits <= 28 and the buffer id fits the bits above it.
        let payload = match self.buf_id.checked_shl(mem_bits) {
            Some(id) => id | self.offset,
            None => self.offset,
        };
        Ok(to_imm(ImmType::IoReq as u32, payload))
    }

    /// Splits an IO_REQ payload as the server does: `msg_id = payload >>
    /// mem_bits`, `off = payload & ((1 << mem_bits) - 1)`.
    pub const fn split(payload: u32, mem_bits: u32) -> Self {
        let payload = payload & MAX_IMM_PAYL_MASK;
        let (buf_id, mask) = match (payload.checked_shr(mem_bits), 1u32.checked_shl(mem_bits)) {
            (Some(id), Some(bit)) => (id, bit.wrapping_sub(1)),
            _ => (0, u32::MAX),
        };
        IoReqImm {
            buf_id,
            offset: payload & mask,
        }
    }

    /// [`split`](Self::split) plus the server's checks
    /// (`rtrs_srv_rdma_done()`): `msg_id < queue_depth`, `off <
    /// max_chunk_size`; the C server closes the path otherwise.
    pub fn decode(payload: u32, queue_depth: u32, max_chunk_size: u32) -> Result<Self, WireError> {
        let imm = Self::split(payload, mem_bits(queue_depth)?);
        if imm.buf_id >= queue_depth {
            return Err(WireError::Invalid("io_req msg_id >= queue_depth"));
        }
        if imm.offset >= max_chunk_size {
            return Err(WireError::Invalid("io_req offset >= max_chunk_size"));
        }
        Ok(imm)
    }
}

/// A decoded immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Imm {
    /// IO_REQ: split the payload with [`IoReqImm::decode`].
    IoReq {
        /// 28-bit payload.
        payload: u32,
    },
    /// IO_RSP or IO_RSP_W_INV: the reply to request `msg_id`.
    IoRsp {
        /// Request (permit `mem_id`), 19 bits.
        msg_id: u32,
        /// 0 or a negative errno of at most 9 bits (`-(bits 27..19)`).
        errno: i32,
        /// IO_RSP_W_INV: the server invalidated the client's rkey.
        w_inv: bool,
    },
    /// HB_MSG: answer with HB_ACK.
    HbMsg,
    /// HB_ACK.
    HbAck,
}

impl Imm {
    /// Decodes an immediate (host order). Unknown types are an error (the C
    /// peers log and ignore them); the payload of a heartbeat is ignored.
    pub const fn decode(imm: u32) -> Result<Self, WireError> {
        let (imm_type, payload) = from_imm(imm);
        match ImmType::from_u32(imm_type) {
            Some(ImmType::IoReq) => Ok(Imm::IoReq { payload }),
            Some(t @ (ImmType::IoRsp | ImmType::IoRspWInv)) => Ok(Imm::IoRsp {
                msg_id: payload & IO_RSP_MAX_MSG_ID,
                errno: (((payload >> IO_RSP_MSG_ID_BITS) & IO_RSP_MAX_ERRNO) as i32).wrapping_neg(),
                w_inv: matches!(t, ImmType::IoRspWInv),
            }),
            Some(ImmType::HbMsg) => Ok(Imm::HbMsg),
            Some(ImmType::HbAck) => Ok(Imm::HbAck),
            None => Err(WireError::BadImmType(imm_type)),
        }
    }

    /// Encodes the immediate (host order). An IO_RSP needs `msg_id <=
    /// 0x7FFFF` and `|errno| <= 511` (C `rtrs_to_io_rsp_imm()` masks
    /// instead: `-ENOTSUPP` (524) would arrive as `-ENOMEM` (12)); map
    /// larger errnos first. An IO_REQ payload must fit 28 bits.
    pub const fn encode(&self) -> Result<u32, WireError> {
        match *self {
            Imm::IoReq { payload } => {
                if payload > MAX_IMM_PAYL_MASK {
                    return Err(WireError::Invalid("io_req payload exceeds 28 bits"));
                }
                Ok(to_imm(ImmType::IoReq as u32, payload))
            }
            Imm::IoRsp {
                msg_id,
                errno,
                w_inv,
            } => {
                if msg_id > IO_RSP_MAX_MSG_ID {
                    return Err(WireError::Invalid("io_rsp msg_id exceeds 19 bits"));
                }
                let abs = errno.unsigned_abs();
                if abs > IO_RSP_MAX_ERRNO {
                    return Err(WireError::Invalid("io_rsp errno exceeds 9 bits"));
                }
                let imm_type = if w_inv {
                    ImmType::IoRspWInv
                } else {
                    ImmType::IoRsp
                };
                Ok(to_imm(
                    imm_type as u32,
                    (abs << IO_RSP_MSG_ID_BITS) | msg_id,
                ))
            }
            Imm::HbMsg => Ok(to_imm(ImmType::HbMsg as u32, 0)),
            Imm::HbAck => Ok(to_imm(ImmType::HbAck as u32, 0)),
        }
    }
}
