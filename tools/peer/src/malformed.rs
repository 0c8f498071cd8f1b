// SPDX-License-Identifier: GPL-2.0

//! Malformed-message mode: one broken message per run, on a fresh session,
//! and a one-line verdict of what the server did. The documented C server
//! behaviour is in `Documentation/c-server-malformed.md`.

use std::time::Duration;

use rnbd_wire::rnbd::{AccessMode, Close, Io, MsgHdr, MsgType, Op, Open, Rw, SessInfo};
use rnbd_wire::rtrs::{to_imm, InfoReq, RdmaRead, RdmaWrite, SgDesc, RTRS_MAGIC};

use crate::error::{errno_name, Error, Kind, Result};
use crate::rnbd;
use crate::rtrs::{Config, Session};

/// What the server did with the broken message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A reply with this errno (0 or negative).
    Reply(i32),
    /// No reply within the timeout; the connection stayed up.
    Timeout,
    /// The connection was refused with this errno (CM REJ).
    Rejected(i32),
    /// The server closed the path.
    Closed,
    /// The server ignored it (a following valid request was answered).
    Ignored,
    /// The case cannot be expressed against this server (why).
    NotApplicable(String),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Reply(0) => write!(f, "reply:0"),
            Outcome::Reply(e) => match errno_name(*e) {
                "errno" => write!(f, "reply:errno{}", -e),
                n => write!(f, "reply:{n}"),
            },
            Outcome::Timeout => write!(f, "timeout"),
            Outcome::Rejected(e) => match errno_name(*e) {
                "errno" => write!(f, "rejected:errno{}", -e),
                n => write!(f, "rejected:{n}"),
            },
            Outcome::Closed => write!(f, "closed"),
            Outcome::Ignored => write!(f, "ignored"),
            Outcome::NotApplicable(why) => write!(f, "n/a ({why})"),
        }
    }
}

pub struct Case {
    pub name: &'static str,
    pub what: &'static str,
    /// Whether the case is safe for CI against the C server (false: it
    /// triggers a kernel WARNING or worse, which fails the harness).
    pub ci: bool,
    run: fn(&mut Ctx) -> Result<Outcome>,
}

pub struct Ctx {
    pub cfg: Config,
    pub device: String,
}

fn conn_case(ctx: &mut Ctx, hook: crate::rtrs::ConnReqHook) -> Result<Outcome> {
    let mut cfg = ctx.cfg.clone();
    cfg.conn_req_hook = Some(hook);
    classify_connect(Session::connect(cfg))
}

fn info_case(ctx: &mut Ctx, hook: crate::rtrs::InfoReqHook) -> Result<Outcome> {
    let mut cfg = ctx.cfg.clone();
    cfg.info_req_hook = Some(hook);
    classify_connect(Session::connect(cfg))
}

fn classify_connect(r: Result<Session>) -> Result<Outcome> {
    match r {
        Ok(s) => {
            let _ = s.disconnect();
            Ok(Outcome::Reply(0))
        }
        Err(e) => classify_err(e),
    }
}

fn classify_err(e: Error) -> Result<Outcome> {
    match e.kind {
        Kind::Rejected => Ok(Outcome::Rejected(-e.errno.unwrap_or(0))),
        Kind::Refused => Ok(Outcome::Reply(-e.errno.unwrap_or(0))),
        Kind::Timeout => Ok(Outcome::Timeout),
        Kind::Closed => Ok(Outcome::Closed),
        _ => Err(e),
    }
}

/// Connects normally, runs SESS_INFO, optionally opens the device.
fn session(ctx: &Ctx, open: Option<AccessMode>) -> Result<(Session, Option<rnbd::Device>)> {
    let mut s = Session::connect(ctx.cfg.clone())?;
    rnbd::default_sess_info(&mut s)?;
    let dev = match open {
        Some(m) => Some(rnbd::open(&mut s, &ctx.device, m)?),
        None => None,
    };
    Ok((s, dev))
}

/// Waits for the reply of `slot`, classifying; then closes what is open.
fn finish(mut s: Session, slot: usize, dev: Option<rnbd::Device>) -> Result<Outcome> {
    let out = match s.wait_reply(slot) {
        Ok(e) => Outcome::Reply(e),
        Err(e) => classify_err(e)?,
    };
    if matches!(out, Outcome::Reply(_)) {
        if let Some(d) = dev {
            let _ = rnbd::close(&mut s, &d);
        }
    }
    let _ = s.disconnect();
    Ok(out)
}

/// Sends something that expects no reply, then a valid SESS_INFO: answered
/// ⇒ ignored.
fn then_probe(mut s: Session) -> Result<Outcome> {
    let out = match rnbd::default_sess_info(&mut s) {
        Ok(_) => Outcome::Ignored,
        Err(e) => classify_err(e)?,
    };
    let _ = s.disconnect();
    Ok(out)
}

/// What an IO case transfers: a READ of that many bytes, or a WRITE of
/// that many zero bytes.
enum Transfer {
    Read(usize),
    Write(usize),
}

/// Sends SESS_INFO with `version` on a fresh session and classifies the
/// answer.
fn sess_info_case(ctx: &Ctx, version: u8) -> Result<Outcome> {
    let mut s = Session::connect(ctx.cfg.clone())?;
    let out = match rnbd::sess_info(&mut s, version) {
        Ok(v) => {
            eprintln!("rnbd-peer: server answered version {v}");
            Outcome::Reply(0)
        }
        Err(e) => classify_err(e)?,
    };
    let _ = s.disconnect();
    Ok(out)
}

/// Opens the device with `mode`, sends the IO message `build` makes for it
/// on an IO connection, and classifies the reply.
fn io_case(
    ctx: &Ctx,
    mode: AccessMode,
    transfer: Transfer,
    build: impl FnOnce(&rnbd::Device) -> Io,
) -> Result<Outcome> {
    let (mut s, dev) = session(ctx, Some(mode))?;
    let d = dev.ok_or_else(|| Error::new(Kind::Other, "no device"))?;
    let m = build(&d).encode();
    let slot = s.get_slot()?;
    let cid = s.next_io_cid();
    match transfer {
        Transfer::Read(len) => s.send_read(cid, slot, len, &m)?,
        Transfer::Write(len) => s.send_write(cid, slot, &vec![0u8; len], &m)?,
    }
    finish(s, slot, Some(d))
}

fn io_msg(dev: &rnbd::Device, sector: u64, op: Op, bi_size: u32) -> Io {
    let rw = Rw {
        sync: op == Op::Read,
        ..Rw::new(op)
    };
    Io::new(dev.device_id, sector, rw, bi_size, 0)
}

/// A raw request: `image` at chunk offset `off`, immediate offset
/// `imm_off`, on connection `cid`.
fn raw(s: &mut Session, cid: usize, off: usize, image: &[u8], imm: u32) -> Result<usize> {
    let slot = s.get_slot()?;
    s.slot_buf(slot)?[off..off + image.len()].copy_from_slice(image);
    s.post_request(cid, slot, slot, off, image.len(), imm)?;
    Ok(slot)
}

fn set16(v: &mut [u8], at: usize, x: u16) {
    v[at..at + 2].copy_from_slice(&x.to_le_bytes());
}

pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "conn-bad-magic",
            what: "conn_req magic 0x1234",
            ci: true,
            run: |c| conn_case(c, |_, p| set16(p, 2, 0x1234)),
        },
        Case {
            name: "conn-bad-version",
            what: "conn_req version 3.0",
            ci: true,
            run: |c| conn_case(c, |_, p| set16(p, 4, 0x0300)),
        },
        Case {
            name: "conn-cid-ge-cid-num",
            what: "conn_req cid = cid_num",
            ci: true,
            run: |c| {
                conn_case(c, |_, p| {
                    let n = u16::from_le_bytes([p[8], p[9]]);
                    set16(p, 6, n)
                })
            },
        },
        Case {
            name: "conn-cid-num-too-big",
            what: "conn_req cid_num 4097",
            ci: true,
            run: |c| conn_case(c, |_, p| set16(p, 8, 4097)),
        },
        Case {
            name: "conn-short-pdata",
            what: "conn_req of 40 bytes",
            ci: true,
            run: |c| conn_case(c, |_, p| p.truncate(40)),
        },
        Case {
            name: "conn-not-first",
            what: "first_conn = 0 for an unknown session",
            ci: true,
            run: |c| conn_case(c, |_, p| p[44] = 0),
        },
        Case {
            name: "info-short",
            what: "INFO_REQ of 100 bytes",
            ci: true,
            run: |c| info_case(c, |m| m.truncate(100)),
        },
        Case {
            name: "info-wrong-type",
            what: "INFO_REQ with type 1 (INFO_RSP)",
            ci: true,
            run: |c| info_case(c, |m| set16(m, 0, 1)),
        },
        Case {
            name: "info-pathname-slash",
            what: "INFO_REQ pathname with '/'",
            ci: true,
            run: |c| info_case(c, |m| m[2..6].copy_from_slice(b"a/b\0")),
        },
        Case {
            name: "info-pathname-dot",
            what: "INFO_REQ pathname with '.'",
            ci: true,
            run: |c| info_case(c, |m| m[2..6].copy_from_slice(b"a.b\0")),
        },
        Case {
            name: "info-pathname-unterminated",
            what: "INFO_REQ pathname of 255 bytes without NUL",
            ci: true,
            run: |c| {
                info_case(c, |m| {
                    for b in &mut m[2..257] {
                        *b = b'x'
                    }
                })
            },
        },
        Case {
            name: "rnbd-unknown-type",
            what: "RNBD message type 99 (as a READ)",
            ci: true,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let mut m = SessInfo::new(2).encode();
                set16(&mut m, 0, 99);
                let slot = s.get_slot()?;
                s.send_read(0, slot, 36, &m)?;
                finish(s, slot, None)
            },
        },
        Case {
            name: "error-budget",
            what: "RNBD message type 99, 100 times in one session (a server error budget closes it)",
            ci: true,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let mut m = SessInfo::new(2).encode();
                set16(&mut m, 0, 99);
                let mut last = Outcome::Reply(0);
                for i in 0..100 {
                    let slot = s.get_slot()?;
                    if let Err(e) = s.send_read(0, slot, 36, &m) {
                        eprintln!("rnbd-peer: send {} failed", i + 1);
                        return classify_err(e);
                    }
                    last = match s.wait_reply(slot) {
                        Ok(e) => Outcome::Reply(e),
                        Err(e) => {
                            eprintln!("rnbd-peer: request {} not answered", i + 1);
                            return classify_err(e);
                        }
                    };
                }
                let _ = s.disconnect();
                Ok(last)
            },
        },
        Case {
            name: "rnbd-short-usr-len",
            what: "SESS_INFO with usr_len 4 (header only)",
            ci: true,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let m = SessInfo::new(2).encode();
                let slot = s.get_slot()?;
                s.send_read(0, slot, 36, &m[..4])?;
                finish(s, slot, None)
            },
        },
        Case {
            name: "open-short-usr-len",
            what: "OPEN with usr_len 8 (name from stale chunk bytes)",
            ci: true,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let m = Open::new(AccessMode::Ro, c.device.as_bytes())
                    .map_err(|e| Error::new(Kind::Usage, e.to_string()))?
                    .encode();
                let slot = s.get_slot()?;
                s.send_read(0, slot, 56, &m[..8])?;
                finish(s, slot, None)
            },
        },
        Case {
            name: "sess-info-version-0",
            what: "SESS_INFO ver 0",
            ci: true,
            run: |c| sess_info_case(c, 0),
        },
        Case {
            name: "sess-info-version-255",
            what: "SESS_INFO ver 255",
            ci: true,
            run: |c| sess_info_case(c, 255),
        },
        Case {
            name: "open-dotdot",
            what: "OPEN ../<device>",
            ci: true,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let name = format!("../{}", c.device);
                let out = match rnbd::open(&mut s, &name, AccessMode::Ro) {
                    Ok(d) => {
                        let _ = rnbd::close(&mut s, &d);
                        Outcome::Reply(0)
                    }
                    Err(e) => classify_err(e)?,
                };
                let _ = s.disconnect();
                Ok(out)
            },
        },
        Case {
            name: "open-unterminated",
            what: "OPEN dev_name of 255 bytes without NUL, reserved bytes set",
            ci: true,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let mut m = Open::new(AccessMode::Ro, b"x")
                    .map_err(|e| Error::new(Kind::Usage, e.to_string()))?
                    .encode()
                    .to_vec();
                for b in &mut m[6..264] {
                    *b = b'a'
                }
                let out = match rnbd::open_raw(&mut s, &m) {
                    Ok(d) => {
                        let _ = rnbd::close(&mut s, &d);
                        Outcome::Reply(0)
                    }
                    Err(e) => classify_err(e)?,
                };
                let _ = s.disconnect();
                Ok(out)
            },
        },
        Case {
            name: "open-bad-mode",
            what: "OPEN access_mode 7",
            ci: true,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let mut m = Open::new(AccessMode::Ro, c.device.as_bytes())
                    .map_err(|e| Error::new(Kind::Usage, e.to_string()))?
                    .encode();
                m[4] = 7;
                let out = match rnbd::open_raw(&mut s, &m) {
                    Ok(d) => {
                        let _ = rnbd::close(&mut s, &d);
                        Outcome::Reply(0)
                    }
                    Err(e) => classify_err(e)?,
                };
                let _ = s.disconnect();
                Ok(out)
            },
        },
        Case {
            name: "io-sector-beyond",
            what: "READ 4 KiB at sector = nsectors",
            ci: true,
            run: |c| {
                io_case(c, AccessMode::Ro, Transfer::Read(4096), |d| {
                    io_msg(d, d.rsp.nsectors.get(), Op::Read, 4096)
                })
            },
        },
        Case {
            name: "io-len-beyond",
            what: "READ 8 KiB starting 4 KiB before the end",
            ci: true,
            run: |c| {
                io_case(c, AccessMode::Ro, Transfer::Read(8192), |d| {
                    io_msg(d, d.rsp.nsectors.get() - 8, Op::Read, 8192)
                })
            },
        },
        Case {
            name: "io-sector-huge",
            what: "READ 4 KiB at sector 2^63",
            ci: true,
            run: |c| {
                io_case(c, AccessMode::Ro, Transfer::Read(4096), |d| {
                    io_msg(d, 1 << 63, Op::Read, 4096)
                })
            },
        },
        Case {
            name: "io-bi-size-mismatch",
            what: "WRITE of 4 KiB data with bi_size 8 KiB (end of the device)",
            ci: true,
            run: |c| {
                io_case(c, AccessMode::Rw, Transfer::Write(4096), |d| {
                    io_msg(d, d.rsp.nsectors.get() - 16, Op::Write, 8192)
                })
            },
        },
        Case {
            name: "io-unaligned-len",
            what: "READ of 100 bytes (not a sector multiple; C server on brd: WARNING in brd_submit_bio)",
            ci: false,
            run: |c| {
                io_case(c, AccessMode::Ro, Transfer::Read(100), |d| {
                    io_msg(d, 0, Op::Read, 100)
                })
            },
        },
        Case {
            name: "io-write-on-ro",
            what: "WRITE 4 KiB through a read-only open (end of the device)",
            ci: true,
            run: |c| {
                io_case(c, AccessMode::Ro, Transfer::Write(4096), |d| {
                    io_msg(d, d.rsp.nsectors.get() - 8, Op::Write, 4096)
                })
            },
        },
        Case {
            name: "io-bad-device-id",
            what: "READ with device_id 12345",
            ci: true,
            run: |c| {
                io_case(c, AccessMode::Ro, Transfer::Read(4096), |d| {
                    let mut m = io_msg(d, 0, Op::Read, 4096);
                    m.device_id.set(12345);
                    m
                })
            },
        },
        Case {
            name: "io-unknown-op",
            what: "READ with rw op 0x77 (C server: WARN, then a READ bio)",
            ci: false,
            run: |c| {
                io_case(c, AccessMode::Ro, Transfer::Read(4096), |d| {
                    let mut m = io_msg(d, 0, Op::Read, 4096);
                    m.rw.set(0x177);
                    m
                })
            },
        },
        Case {
            name: "close-bad-device-id",
            what: "CLOSE of device_id 777",
            ci: true,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let slot = s.get_slot()?;
                s.send_write(0, slot, &[], &Close::new(777).encode())?;
                finish(s, slot, None)
            },
        },
        Case {
            name: "rtrs-usr-len-gt-off",
            what: "WRITE trailer usr_len 1000 > IMM offset 36",
            ci: true,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let mut img = SessInfo::new(2).encode().to_vec();
                img.extend_from_slice(&RdmaWrite::new(1000).encode());
                let imm = s.io_req_imm(0, 36)?;
                let slot = raw(&mut s, 0, 0, &img, imm)?;
                finish(s, slot, None)
            },
        },
        Case {
            name: "rtrs-unknown-msg-type",
            what: "chunk trailer type 7",
            ci: true,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let mut img = Close::new(0).encode().to_vec();
                img.extend_from_slice(&[7, 0, 8, 0]);
                let imm = s.io_req_imm(0, 8)?;
                let slot = raw(&mut s, 0, 0, &img, imm)?;
                finish(s, slot, None)
            },
        },
        Case {
            name: "rtrs-read-sg-cnt-2",
            what: "READ trailer with sg_cnt 2",
            ci: true,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let d = s.slot_desc(0, 0, 36)?;
                let mut img = SessInfo::new(2).encode().to_vec();
                let mut t = [0u8; 8 + 32];
                RdmaRead::encode_with_descs(36, 0, &[d, d], &mut t)
                    .map_err(|e| Error::new(Kind::Other, e.to_string()))?;
                img.extend_from_slice(&t);
                let imm = s.io_req_imm(0, 36 + 36)?;
                let slot = raw(&mut s, 0, 36, &img, imm)?;
                finish(s, slot, None)
            },
        },
        Case {
            name: "rtrs-read-desc-too-long",
            what: "READ descriptor len > max_chunk_size",
            ci: true,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let p = s.path()?;
                let d = s.slot_desc(0, 0, 36)?;
                let d = SgDesc::new(d.addr.get(), d.key.get(), p.chunk_size + 4096);
                let mut img = SessInfo::new(2).encode().to_vec();
                let mut t = [0u8; 8 + 16];
                RdmaRead::encode_with_descs(36, 0, &[d], &mut t)
                    .map_err(|e| Error::new(Kind::Other, e.to_string()))?;
                img.extend_from_slice(&t);
                let imm = s.io_req_imm(0, 36 + 36)?;
                let slot = raw(&mut s, 0, 36, &img, imm)?;
                finish(s, slot, None)
            },
        },
        Case {
            name: "rtrs-read-msg-past-chunk",
            what: "READ trailer at the last 8 bytes of the chunk, its descriptor past the end",
            // The 6.12 C server reads the descriptor from the 16 bytes
            // after the chunk (`process_read()` bounds only the offset).
            ci: false,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let p = s.path()?;
                let off = p.chunk_size as usize - 8;
                let d = s.slot_desc(0, 0, 512)?;
                let mut t = [0u8; 8 + 16];
                RdmaRead::encode_with_descs(0, 0, &[d], &mut t)
                    .map_err(|e| Error::new(Kind::Other, e.to_string()))?;
                // Only the 8-byte header fits; the descriptor it announces
                // (sg_cnt 1) would be read from beyond the chunk.
                let imm = s.io_req_imm(0, off)?;
                let slot = raw(&mut s, 0, off, &t[..8], imm)?;
                finish(s, slot, None)
            },
        },
        Case {
            name: "rtrs-read-desc-bad-rkey",
            what: "READ descriptor with a wrong rkey",
            ci: true,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let d = s.slot_desc(0, 0, 36)?;
                let d = SgDesc::new(d.addr.get(), d.key.get() ^ 0x5a5a_5a00, 36);
                let mut img = SessInfo::new(2).encode().to_vec();
                let mut t = [0u8; 8 + 16];
                RdmaRead::encode_with_descs(36, 0, &[d], &mut t)
                    .map_err(|e| Error::new(Kind::Other, e.to_string()))?;
                img.extend_from_slice(&t);
                let imm = s.io_req_imm(0, 36 + 36)?;
                let slot = raw(&mut s, 0, 36, &img, imm)?;
                finish(s, slot, None)
            },
        },
        Case {
            name: "imm-offset-ge-chunk",
            what: "IO_REQ immediate offset = max_chunk_size",
            ci: true,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let p = s.path()?;
                if p.chunk_size >= 1 << s.mem_bits() {
                    return Ok(Outcome::NotApplicable(
                        "the offset field cannot hold max_chunk_size".into(),
                    ));
                }
                let mut img = Close::new(0).encode().to_vec();
                img.extend_from_slice(&RdmaWrite::new(8).encode());
                let imm = s.io_req_imm(0, p.chunk_size as usize)?;
                let slot = raw(&mut s, 0, 0, &img, imm)?;
                finish(s, slot, None)
            },
        },
        Case {
            name: "imm-buf-id-ge-qd",
            what: "IO_REQ immediate buffer id = queue_depth",
            ci: true,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let qd = u32::from(s.queue_depth());
                if qd.is_power_of_two() {
                    let _ = s.disconnect();
                    return Ok(Outcome::NotApplicable(format!(
                        "queue_depth {qd} fills the buffer-id bits"
                    )));
                }
                let mut img = Close::new(0).encode().to_vec();
                img.extend_from_slice(&RdmaWrite::new(8).encode());
                let imm = to_imm(0, (qd << s.mem_bits()) | 8);
                let slot = raw(&mut s, 0, 0, &img, imm)?;
                finish(s, slot, None)
            },
        },
        Case {
            name: "imm-unknown-type",
            what: "immediate of type 5 on cid 0",
            ci: true,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let img = [0u8; 8];
                let _ = raw(&mut s, 0, 0, &img, to_imm(5, 0))?;
                // No reply is expected for it; free the slot.
                s.idle(Duration::from_millis(500))?;
                s.release(0);
                then_probe(s)
            },
        },
        Case {
            name: "imm-io-rsp-to-server",
            what: "an IO_RSP immediate sent to the server",
            ci: true,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let img = [0u8; 8];
                let _ = raw(&mut s, 0, 0, &img, to_imm(1, 3))?;
                s.idle(Duration::from_millis(500))?;
                s.release(0);
                then_probe(s)
            },
        },
        Case {
            name: "imm-hb-on-io-conn",
            what: "HB_MSG on an IO connection (C server: WARN_ON(cid))",
            ci: false,
            run: |c| {
                let (mut s, _) = session(c, None)?;
                let cid = s.next_io_cid();
                let img = [0u8; 8];
                let _ = raw(&mut s, cid, 0, &img, to_imm(8, 0))?;
                s.idle(Duration::from_millis(500))?;
                s.release(0);
                then_probe(s)
            },
        },
    ]
}

/// Runs one case by name; prints and returns its outcome.
pub fn run(name: &str, ctx: &mut Ctx) -> Result<Outcome> {
    let all = cases();
    let case = all.iter().find(|c| c.name == name).ok_or_else(|| {
        Error::new(
            Kind::Usage,
            format!("unknown malformed case {name:?} (see --list)"),
        )
    })?;
    let out = (case.run)(ctx)?;
    Ok(out)
}

/// Keeps the otherwise unused imports honest for `--list` output.
pub fn describe() -> Vec<(String, String, bool)> {
    let _ = (RTRS_MAGIC, InfoReq::SIZE, MsgHdr::new(MsgType::Close));
    cases()
        .iter()
        .map(|c| (c.name.to_string(), c.what.to_string(), c.ci))
        .collect()
}
