// SPDX-License-Identifier: GPL-2.0

//! RNBD wire formats: the block protocol's messages, byte for byte as the C
//! `rnbd-proto.h` of Linux 6.12 (spec `rnbd-rtrs-protocol.md` §6).
//!
//! One definition, `no_std`, only `core`, no `unsafe`, no dependencies;
//! compiled into the kernel modules by path
//! (`#[path = "<repo>/rnbd/proto/wire.rs"] mod wire;`) and into the host
//! crate `tools/wire` (`rnbd_wire::rnbd`), where it is tested against the C
//! headers and fuzzed. Conventions as in `rtrs/common/wire.rs`: `#[repr(C)]`
//! structs of alignment-1 fields with `const` size assertions, `encode()`
//! writes reserved and padding bytes as zero, `decode()` validates, ignores
//! reserved bytes and never panics.
//!
//! RNBD messages travel as the RTRS "user header" of a request; the server
//! does not check their length (spec §11.2 #6), these decoders do.
//!
//! The C client builds SESS_INFO, OPEN, CLOSE and IO on the stack without
//! zeroing them: `__padding`, `resv1`, `reserved`, the bytes after the NUL
//! of `dev_name` and the IO tail padding carry garbage. Decoding drops
//! them; encoding writes zeros.

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
// Constants (`rnbd-proto.h`, spec §6.1)

/// `RNBD_PROTO_VER_MAJOR`: the version byte of SESS_INFO(_RSP).
pub const RNBD_PROTO_VER_MAJOR: u8 = 2;
/// `RNBD_PROTO_VER_MINOR` (never sent: SESS_INFO carries the major only).
/// 2 as mainline: minor 1 added [`RNBD_F_PREFLUSH`], minor 2
/// [`RNBD_F_NOUNMAP`]; both are additive, so 2.0 peers interoperate.
pub const RNBD_PROTO_VER_MINOR: u8 = 2;
/// `RTRS_PORT`: the default port of the server.
pub const RTRS_PORT: u16 = 1234;
/// The version of rnbd-rs the modules carry (`modinfo`, `/sys/module/*/version`).
pub const RNBD_RS_VERSION: &str = "0.1.0";
/// `NAME_MAX`: size of the OPEN `dev_name` array (one definition, with
/// the RTRS session names in `rtrs/common/wire.rs`).
pub use crate::wire::NAME_MAX;

/// `RNBD_OP_BITS`: the low bits of `rw` holding the operation.
pub const RNBD_OP_BITS: u32 = 8;
/// `RNBD_OP_MASK`.
pub const RNBD_OP_MASK: u32 = 0xFF;
/// `RNBD_F_SYNC`: the request is sync (all reads; writes with SYNC, FUA or
/// PREFLUSH).
pub const RNBD_F_SYNC: u32 = 0x100;
/// `RNBD_F_FUA`: FUA *or* PREFLUSH on the client (`op_is_flush()`, in
/// every version, so a 2.0 server still gets FUA for a PREFLUSH);
/// `REQ_FUA` on the server.
pub const RNBD_F_FUA: u32 = 0x200;

/// `RNBD_F_PREFLUSH` (protocol minor 1): flush the cache before the
/// request (`REQ_PREFLUSH`). Sent together with [`RNBD_F_FUA`]; a 2.0
/// server ignores it.
pub const RNBD_F_PREFLUSH: u32 = 0x400;
/// `RNBD_F_NOUNMAP` (newer peers, protocol minor 2): a write-zeroes that
/// must not deallocate (`REQ_NOUNMAP`).
pub const RNBD_F_NOUNMAP: u32 = 0x800;

/// `RNBD_FUA` in [`OpenRsp::cache_policy`]: the device supports FUA.
pub const RNBD_FUA: u8 = 1 << 0;
/// `RNBD_WRITEBACK` in [`OpenRsp::cache_policy`]: it has a volatile write
/// cache.
pub const RNBD_WRITEBACK: u8 = 1 << 1;

/// Bytes of fields in `struct rnbd_msg_io` (26); the C `sizeof` is 32 on
/// 64-bit (tail padding), 28 on i386. A receiver accepts this many.
pub const MSG_IO_FIELDS_LEN: usize = 26;

// ---------------------------------------------------------------------------
// Errors, field types, the reader/writer and the `Wire` trait, shared with
// `rtrs/common/wire.rs`

// Each wire file stands alone, so a crate that includes both compiles the
// shared part twice, as two modules with their own types.
#[allow(clippy::duplicate_mod)]
#[macro_use]
#[path = "../../rtrs/common/wire_codec.rs"]
mod codec;
pub use codec::*;

// ---------------------------------------------------------------------------
// Header and message types (spec §6.2)

/// `enum rnbd_msg_type`: `type` of [`MsgHdr`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum MsgType {
    /// `RNBD_MSG_SESS_INFO`: client → server, [`SessInfo`].
    SessInfo = 0,
    /// `RNBD_MSG_SESS_INFO_RSP`: server → client, [`SessInfoRsp`].
    SessInfoRsp = 1,
    /// `RNBD_MSG_OPEN`: client → server, [`Open`].
    Open = 2,
    /// `RNBD_MSG_OPEN_RSP`: server → client, [`OpenRsp`].
    OpenRsp = 3,
    /// `RNBD_MSG_IO`: client → server, [`Io`].
    Io = 4,
    /// `RNBD_MSG_CLOSE`: client → server, [`Close`].
    Close = 5,
}

impl MsgType {
    /// The type with wire value `v`, if there is one.
    pub const fn from_u16(v: u16) -> Option<Self> {
        match v {
            0 => Some(MsgType::SessInfo),
            1 => Some(MsgType::SessInfoRsp),
            2 => Some(MsgType::Open),
            3 => Some(MsgType::OpenRsp),
            4 => Some(MsgType::Io),
            5 => Some(MsgType::Close),
            _ => None,
        }
    }
}

/// `struct rnbd_msg_hdr` (4 bytes), at the start of every message.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsgHdr {
    /// [`MsgType`].
    pub msg_type: Le16,
    /// `__padding` (garbage from the C client).
    pub padding: Reserved<2>,
}

fixed_size!(MsgHdr, 4);

impl MsgHdr {
    /// A header of type `t`.
    pub const fn new(t: MsgType) -> Self {
        MsgHdr {
            msg_type: Le16::new(t as u16),
            padding: Reserved::ZERO,
        }
    }

    /// Parses a header of any known type.
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf, Self::SIZE)?;
        let hdr = MsgHdr {
            msg_type: r.le16(),
            padding: r.reserved(),
        };
        r.finish()?;
        hdr.msg_type()?;
        Ok(hdr)
    }

    /// The message type.
    pub const fn msg_type(&self) -> Result<MsgType, WireError> {
        match MsgType::from_u16(self.msg_type.get()) {
            Some(t) => Ok(t),
            None => Err(WireError::BadType(self.msg_type.get())),
        }
    }

    fn read(r: &mut Reader<'_>, want: MsgType) -> Result<Self, WireError> {
        let hdr = MsgHdr {
            msg_type: r.le16(),
            padding: r.reserved(),
        };
        if hdr.msg_type.get() == want as u16 {
            Ok(hdr)
        } else {
            Err(WireError::BadType(hdr.msg_type.get()))
        }
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.le16(self.msg_type);
        w.reserved(self.padding);
    }
}

/// The type of the message at the start of `buf` (how the server
/// dispatches, `rnbd_srv_rdma_ev()`; unknown types are `-EINVAL` there).
pub fn peek_msg_type(buf: &[u8]) -> Result<MsgType, WireError> {
    MsgHdr::decode(buf)?.msg_type()
}

// ---------------------------------------------------------------------------
// Session info (spec §6.1, §6.3)

/// `struct rnbd_msg_sess_info` (36 bytes): the client's protocol version.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessInfo {
    /// Type [`MsgType::SessInfo`].
    pub hdr: MsgHdr,
    /// The client's major version ([`RNBD_PROTO_VER_MAJOR`]).
    pub ver: u8,
    /// `reserved[31]`.
    pub reserved: Reserved<31>,
}

fixed_size!(SessInfo, 36);

impl SessInfo {
    /// The request offering version `ver`.
    pub const fn new(ver: u8) -> Self {
        SessInfo {
            hdr: MsgHdr::new(MsgType::SessInfo),
            ver,
            reserved: Reserved::ZERO,
        }
    }

    /// Parses it (length, type; any version: the server answers
    /// `min(ver, 2)`).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf, Self::SIZE)?;
        let hdr = MsgHdr::read(&mut r, MsgType::SessInfo)?;
        let msg = SessInfo {
            hdr,
            ver: r.u8(),
            reserved: r.reserved(),
        };
        r.finish()?;
        Ok(msg)
    }

    fn write(&self, w: &mut Writer<'_>) {
        self.hdr.write(w);
        w.u8(self.ver);
        w.reserved(self.reserved);
    }
}

/// `struct rnbd_msg_sess_info_rsp` (36 bytes): the negotiated version.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessInfoRsp {
    /// Type [`MsgType::SessInfoRsp`].
    pub hdr: MsgHdr,
    /// `min(client ver, server ver)`.
    pub ver: u8,
    /// `reserved[31]`.
    pub reserved: Reserved<31>,
}

fixed_size!(SessInfoRsp, 36);

impl SessInfoRsp {
    /// The answer with version `ver`.
    pub const fn new(ver: u8) -> Self {
        SessInfoRsp {
            hdr: MsgHdr::new(MsgType::SessInfoRsp),
            ver,
            reserved: Reserved::ZERO,
        }
    }

    /// Parses it (length, type; the client takes `min(ver, 2)`).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf, Self::SIZE)?;
        let hdr = MsgHdr::read(&mut r, MsgType::SessInfoRsp)?;
        let msg = SessInfoRsp {
            hdr,
            ver: r.u8(),
            reserved: r.reserved(),
        };
        r.finish()?;
        Ok(msg)
    }

    fn write(&self, w: &mut Writer<'_>) {
        self.hdr.write(w);
        w.u8(self.ver);
        w.reserved(self.reserved);
    }
}

/// The version both sides use: `min(peer, ours)`.
pub const fn negotiate_version(peer: u8) -> u8 {
    if peer < RNBD_PROTO_VER_MAJOR {
        peer
    } else {
        RNBD_PROTO_VER_MAJOR
    }
}

// ---------------------------------------------------------------------------
// Open / close (spec §6.3, §6.6)

/// `enum rnbd_access_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum AccessMode {
    /// `RNBD_ACCESS_RO`: any number of times.
    Ro = 0,
    /// `RNBD_ACCESS_RW`: once over all sessions.
    Rw = 1,
    /// `RNBD_ACCESS_MIGRATION`: a second writer.
    Migration = 2,
}

impl AccessMode {
    /// The mode with wire value `v`, if there is one.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(AccessMode::Ro),
            1 => Some(AccessMode::Rw),
            2 => Some(AccessMode::Migration),
            _ => None,
        }
    }

    /// The name in sysfs and `map_device` (`rnbd_access_modes[]`).
    pub const fn as_str(self) -> &'static str {
        match self {
            AccessMode::Ro => "ro",
            AccessMode::Rw => "rw",
            AccessMode::Migration => "migration",
        }
    }

    /// The mode named `s`.
    pub fn from_name(s: &[u8]) -> Option<Self> {
        match s {
            b"ro" => Some(AccessMode::Ro),
            b"rw" => Some(AccessMode::Rw),
            b"migration" => Some(AccessMode::Migration),
            _ => None,
        }
    }
}

/// `struct rnbd_msg_open` (264 bytes): map a device.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Open {
    /// Type [`MsgType::Open`].
    pub hdr: MsgHdr,
    /// [`AccessMode`] as its wire value.
    pub access_mode: u8,
    /// `resv1`.
    pub resv1: Reserved<1>,
    /// Device path relative to the server's `dev_search_path`,
    /// NUL-terminated, zero padded (`s8 dev_name[NAME_MAX]`).
    pub dev_name: [u8; NAME_MAX],
    /// `reserved[3]`.
    pub reserved: Reserved<3>,
}

fixed_size!(Open, 264);

/// Bytes of `name` before its first NUL; `None` if there is none.
fn until_nul(name: &[u8]) -> Option<&[u8]> {
    let len = name.iter().position(|&b| b == 0)?;
    name.get(..len)
}

/// `name` NUL-terminated and zero padded into `N` bytes; `None` if it is
/// empty, contains a NUL or leaves no room for the terminator.
fn nul_padded<const N: usize>(name: &[u8]) -> Option<[u8; N]> {
    if name.is_empty() || name.len() >= N || name.contains(&0) {
        return None;
    }
    let mut out = [0u8; N];
    out.get_mut(..name.len())?.copy_from_slice(name);
    Some(out)
}

impl Open {
    /// A request to open `dev_name` (1 to 254 bytes, no NUL) in `mode`.
    pub fn new(mode: AccessMode, dev_name: &[u8]) -> Result<Self, WireError> {
        Ok(Open {
            hdr: MsgHdr::new(MsgType::Open),
            access_mode: mode as u8,
            resv1: Reserved::ZERO,
            dev_name: nul_padded(dev_name).ok_or(WireError::Invalid("open dev_name"))?,
            reserved: Reserved::ZERO,
        })
    }

    /// The access mode (valid after [`decode`](Self::decode)).
    pub const fn access_mode(&self) -> Result<AccessMode, WireError> {
        match AccessMode::from_u8(self.access_mode) {
            Some(m) => Ok(m),
            None => Err(WireError::Invalid("open access_mode")),
        }
    }

    /// The device name (without NUL).
    pub fn dev_name(&self) -> &[u8] {
        until_nul(&self.dev_name).unwrap_or(&self.dev_name)
    }

    /// Parses it: length, type, a known access mode (the C server fails
    /// the open with `-EINVAL` otherwise) and a non-empty, NUL-terminated
    /// `dev_name` (the C server does not check; the C client always
    /// terminates it). Bytes after the NUL are dropped. The path rules
    /// (`..`, length with the search path) are the server's.
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf, Self::SIZE)?;
        let hdr = MsgHdr::read(&mut r, MsgType::Open)?;
        let access_mode = r.u8();
        let resv1 = r.reserved();
        let raw: [u8; NAME_MAX] = r.bytes();
        let reserved = r.reserved();
        r.finish()?;
        let name = until_nul(&raw).ok_or(WireError::Invalid("open dev_name"))?;
        let msg = Open {
            hdr,
            access_mode,
            resv1,
            dev_name: nul_padded(name).ok_or(WireError::Invalid("open dev_name"))?,
            reserved,
        };
        msg.access_mode()?;
        Ok(msg)
    }

    fn write(&self, w: &mut Writer<'_>) {
        self.hdr.write(w);
        w.u8(self.access_mode);
        w.reserved(self.resv1);
        let mut name = [0u8; NAME_MAX];
        let src = self.dev_name();
        if let Some(dst) = name.get_mut(..src.len()) {
            dst.copy_from_slice(src);
        }
        w.bytes(name);
        w.reserved(self.reserved);
    }
}

/// `struct rnbd_msg_open_rsp` (56 bytes): the opened device's id and
/// limits, RDMA-written into the client's OPEN buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenRsp {
    /// Type [`MsgType::OpenRsp`].
    pub hdr: MsgHdr,
    /// Id for IO and CLOSE (per-session index).
    pub device_id: Le32,
    /// Capacity in 512-byte sectors.
    pub nsectors: Le64,
    /// `queue_max_hw_sectors()` (the C client ignores it).
    pub max_hw_sectors: Le32,
    /// Write-zeroes limit, sectors.
    pub max_write_zeroes_sectors: Le32,
    /// Discard limit, sectors.
    pub max_discard_sectors: Le32,
    /// Bytes.
    pub discard_granularity: Le32,
    /// Bytes.
    pub discard_alignment: Le32,
    /// Bytes.
    pub physical_block_size: Le16,
    /// Bytes; 0 makes the C client fail the open (`-EINVAL`).
    pub logical_block_size: Le16,
    /// `bdev_max_segments()` (the C client ignores it).
    pub max_segments: Le16,
    /// Secure-erase limit truncated to 16 bits; the client reads a boolean.
    pub secure_discard: Le16,
    /// `obsolete_rotational`: sent 0, ignored.
    pub obsolete_rotational: Reserved<1>,
    /// [`RNBD_FUA`] | [`RNBD_WRITEBACK`].
    pub cache_policy: u8,
    /// `reserved[10]`.
    pub reserved: Reserved<10>,
}

fixed_size!(OpenRsp, 56);

impl OpenRsp {
    /// A response with every limit 0 but the type; fill in the fields.
    pub const fn new(device_id: u32) -> Self {
        OpenRsp {
            hdr: MsgHdr::new(MsgType::OpenRsp),
            device_id: Le32::new(device_id),
            nsectors: Le64::new(0),
            max_hw_sectors: Le32::new(0),
            max_write_zeroes_sectors: Le32::new(0),
            max_discard_sectors: Le32::new(0),
            discard_granularity: Le32::new(0),
            discard_alignment: Le32::new(0),
            physical_block_size: Le16::new(0),
            logical_block_size: Le16::new(0),
            max_segments: Le16::new(0),
            secure_discard: Le16::new(0),
            obsolete_rotational: Reserved::ZERO,
            cache_policy: 0,
            reserved: Reserved::ZERO,
        }
    }

    /// `RNBD_FUA` is set.
    pub const fn fua(&self) -> bool {
        self.cache_policy & RNBD_FUA != 0
    }

    /// `RNBD_WRITEBACK` is set.
    pub const fn writeback(&self) -> bool {
        self.cache_policy & RNBD_WRITEBACK != 0
    }

    /// Parses it (length, type; unknown `cache_policy` bits dropped). The
    /// client's check of the limits is [`check`](Self::check), separate
    /// because a client that refuses the limits still needs `device_id`
    /// to send CLOSE.
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf, Self::SIZE)?;
        let hdr = MsgHdr::read(&mut r, MsgType::OpenRsp)?;
        let msg = OpenRsp {
            hdr,
            device_id: r.le32(),
            nsectors: r.le64(),
            max_hw_sectors: r.le32(),
            max_write_zeroes_sectors: r.le32(),
            max_discard_sectors: r.le32(),
            discard_granularity: r.le32(),
            discard_alignment: r.le32(),
            physical_block_size: r.le16(),
            logical_block_size: r.le16(),
            max_segments: r.le16(),
            secure_discard: r.le16(),
            obsolete_rotational: r.reserved(),
            cache_policy: r.u8() & (RNBD_FUA | RNBD_WRITEBACK),
            reserved: r.reserved(),
        };
        r.finish()?;
        Ok(msg)
    }

    /// The C client's check (`process_msg_open_rsp()`): a non-zero
    /// logical block size.
    pub const fn check(&self) -> Result<(), WireError> {
        if self.logical_block_size.get() == 0 {
            return Err(WireError::Invalid("open_rsp logical_block_size 0"));
        }
        Ok(())
    }

    fn write(&self, w: &mut Writer<'_>) {
        self.hdr.write(w);
        w.le32(self.device_id);
        w.le64(self.nsectors);
        w.le32(self.max_hw_sectors);
        w.le32(self.max_write_zeroes_sectors);
        w.le32(self.max_discard_sectors);
        w.le32(self.discard_granularity);
        w.le32(self.discard_alignment);
        w.le16(self.physical_block_size);
        w.le16(self.logical_block_size);
        w.le16(self.max_segments);
        w.le16(self.secure_discard);
        w.reserved(self.obsolete_rotational);
        w.u8(self.cache_policy & (RNBD_FUA | RNBD_WRITEBACK));
        w.reserved(self.reserved);
    }
}

/// `struct rnbd_msg_close` (8 bytes): unmap a device.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Close {
    /// Type [`MsgType::Close`].
    pub hdr: MsgHdr,
    /// From OPEN_RSP.
    pub device_id: Le32,
}

fixed_size!(Close, 8);

impl Close {
    /// Close `device_id`.
    pub const fn new(device_id: u32) -> Self {
        Close {
            hdr: MsgHdr::new(MsgType::Close),
            device_id: Le32::new(device_id),
        }
    }

    /// Parses it (length, type).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf, Self::SIZE)?;
        let hdr = MsgHdr::read(&mut r, MsgType::Close)?;
        let msg = Close {
            hdr,
            device_id: r.le32(),
        };
        r.finish()?;
        Ok(msg)
    }

    fn write(&self, w: &mut Writer<'_>) {
        self.hdr.write(w);
        w.le32(self.device_id);
    }
}

// ---------------------------------------------------------------------------
// IO (spec §6.3, §6.4)

/// `enum rnbd_io_flags` operations: the low 8 bits of `rw`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Op {
    /// `RNBD_OP_READ`.
    Read = 0,
    /// `RNBD_OP_WRITE`.
    Write = 1,
    /// `RNBD_OP_FLUSH`: travels as an RTRS READ without data.
    Flush = 2,
    /// `RNBD_OP_DISCARD`: an RTRS WRITE without data.
    Discard = 3,
    /// `RNBD_OP_SECURE_ERASE`: an RTRS WRITE without data.
    SecureErase = 4,
    /// `RNBD_OP_WRITE_ZEROES`: an RTRS WRITE without data.
    WriteZeroes = 5,
}

impl Op {
    /// The operation with wire value `v`, if there is one.
    pub const fn from_u32(v: u32) -> Option<Self> {
        match v {
            0 => Some(Op::Read),
            1 => Some(Op::Write),
            2 => Some(Op::Flush),
            3 => Some(Op::Discard),
            4 => Some(Op::SecureErase),
            5 => Some(Op::WriteZeroes),
            _ => None,
        }
    }

    /// Whether it is sent as an RTRS WRITE, as `rq_data_dir()` decides in
    /// the C client: by the parity of the *block layer* operation
    /// (`REQ_OP_SECURE_ERASE` is 5, so a write, though `RNBD_OP_SECURE_ERASE`
    /// is 4). Only READ and FLUSH are RTRS READs.
    pub const fn is_rtrs_write(self) -> bool {
        match self {
            Op::Read | Op::Flush => false,
            Op::Write | Op::Discard | Op::SecureErase | Op::WriteZeroes => true,
        }
    }
}

/// The `rw` field of [`Io`]: an operation and flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rw {
    /// Low 8 bits.
    pub op: Op,
    /// [`RNBD_F_SYNC`].
    pub sync: bool,
    /// [`RNBD_F_FUA`].
    pub fua: bool,
    /// [`RNBD_F_PREFLUSH`] (protocol 2.1).
    pub preflush: bool,
    /// [`RNBD_F_NOUNMAP`] (protocol 2.2, write zeroes only).
    pub nounmap: bool,
}

impl Rw {
    /// `op` with no flag.
    pub const fn new(op: Op) -> Self {
        Rw {
            op,
            sync: false,
            fua: false,
            preflush: false,
            nounmap: false,
        }
    }

    /// The wire value, e.g. `0x100` (sync read), `0x301` (FUA write),
    /// `0x302` (flush).
    pub const fn encode(self) -> u32 {
        let mut rw = self.op as u32;
        if self.sync {
            rw |= RNBD_F_SYNC;
        }
        if self.fua {
            rw |= RNBD_F_FUA;
        }
        if self.preflush {
            rw |= RNBD_F_PREFLUSH;
        }
        if self.nounmap {
            rw |= RNBD_F_NOUNMAP;
        }
        rw
    }

    /// Splits a wire value (C `rnbd_op()`, `rnbd_flags()`). An unknown
    /// operation is an error (the C server WARNs and reads); unknown flag
    /// bits are ignored, as in C.
    pub const fn decode(rw: u32) -> Result<Self, WireError> {
        match Op::from_u32(rw & RNBD_OP_MASK) {
            Some(op) => Ok(Rw {
                op,
                sync: rw & RNBD_F_SYNC != 0,
                fua: rw & RNBD_F_FUA != 0,
                preflush: rw & RNBD_F_PREFLUSH != 0,
                nounmap: rw & RNBD_F_NOUNMAP != 0,
            }),
            None => Err(WireError::Invalid("io rw op")),
        }
    }
}

/// `struct rnbd_msg_io` (26 bytes of fields, 32 with the tail padding of
/// the 8-byte aligned C struct on 64-bit): one block request.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Io {
    /// Type [`MsgType::Io`].
    pub hdr: MsgHdr,
    /// From OPEN_RSP.
    pub device_id: Le32,
    /// First sector (512 bytes).
    pub sector: Le64,
    /// Operation and flags, see [`Rw`].
    pub rw: Le32,
    /// Bytes (`blk_rq_bytes()`).
    pub bi_size: Le32,
    /// `req_get_ioprio()`.
    pub prio: Le16,
    /// The C struct's tail padding (garbage from the C client).
    pub tail_pad: Reserved<6>,
}

fixed_size!(Io, 32);

impl Io {
    /// A request; send all [`SIZE`](Self::SIZE) = 32 bytes, as 64-bit C
    /// clients do, or a C server ignores `prio`.
    pub const fn new(device_id: u32, sector: u64, rw: Rw, bi_size: u32, prio: u16) -> Self {
        Io {
            hdr: MsgHdr::new(MsgType::Io),
            device_id: Le32::new(device_id),
            sector: Le64::new(sector),
            rw: Le32::new(rw.encode()),
            bi_size: Le32::new(bi_size),
            prio: Le16::new(prio),
            tail_pad: Reserved::ZERO,
        }
    }

    /// The operation and flags (valid after [`decode`](Self::decode)).
    pub const fn rw(&self) -> Result<Rw, WireError> {
        Rw::decode(self.rw.get())
    }

    /// The priority the C server uses: `prio` only if the negotiated
    /// version is at least 2 and the user header was at least
    /// `sizeof(struct rnbd_msg_io)` = 32 bytes, else 0.
    pub const fn effective_prio(&self, usr_len: usize, ver: u8) -> u16 {
        if ver >= RNBD_PROTO_VER_MAJOR && usr_len >= Self::SIZE {
            self.prio.get()
        } else {
            0
        }
    }

    /// Parses it from a user header of at least 26 bytes (32 from 64-bit
    /// peers, 28 from i386 ones): type and a known operation.
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf, MSG_IO_FIELDS_LEN)?;
        let hdr = MsgHdr::read(&mut r, MsgType::Io)?;
        let msg = Io {
            hdr,
            device_id: r.le32(),
            sector: r.le64(),
            rw: r.le32(),
            bi_size: r.le32(),
            prio: r.le16(),
            tail_pad: Reserved::ZERO,
        };
        r.finish()?;
        msg.rw()?;
        Ok(msg)
    }

    fn write(&self, w: &mut Writer<'_>) {
        self.hdr.write(w);
        w.le32(self.device_id);
        w.le64(self.sector);
        w.le32(self.rw);
        w.le32(self.bi_size);
        w.le16(self.prio);
        w.reserved(self.tail_pad);
    }
}
