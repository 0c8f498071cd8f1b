// SPDX-License-Identifier: GPL-2.0

//! RNBD client messages over an RTRS [`Session`] (spec §6): SESS_INFO and
//! OPEN as RTRS READs on cid 0, IO on the IO connections, CLOSE as an RTRS
//! WRITE without data.

use rnbd_wire::rnbd::{
    AccessMode, Close, Io, Op, Open, OpenRsp, Rw, SessInfo, SessInfoRsp, RNBD_PROTO_VER_MAJOR,
};

use crate::error::{Error, Kind, Result};
use crate::pattern;
use crate::rtrs::Session;

/// An opened device.
#[derive(Clone, Copy, Debug)]
pub struct Device {
    pub device_id: u32,
    pub rsp: OpenRsp,
}

impl Device {
    pub fn size_bytes(&self) -> u64 {
        self.rsp.nsectors.get() * 512
    }
}

fn refused(what: &str, errno: i32) -> Error {
    Error::errno(Kind::Refused, errno, format!("the server refused {what}"))
}

/// SESS_INFO: returns the negotiated version.
pub fn sess_info(s: &mut Session, ver: u8) -> Result<u8> {
    let slot = s.get_slot()?;
    s.send_read(0, slot, SessInfoRsp::SIZE, &SessInfo::new(ver).encode())?;
    let e = s.wait_reply(slot)?;
    if e != 0 {
        return Err(refused("SESS_INFO", e));
    }
    let rsp = SessInfoRsp::decode(s.slot_bytes(slot, 0, SessInfoRsp::SIZE)?)
        .map_err(|e| Error::new(Kind::Other, format!("bad SESS_INFO_RSP: {e}")))?;
    Ok(rsp.ver)
}

pub fn default_sess_info(s: &mut Session) -> Result<u8> {
    sess_info(s, RNBD_PROTO_VER_MAJOR)
}

/// OPEN `dev_name` in `mode`.
pub fn open(s: &mut Session, dev_name: &str, mode: AccessMode) -> Result<Device> {
    let msg = Open::new(mode, dev_name.as_bytes())
        .map_err(|e| Error::new(Kind::Usage, format!("device name {dev_name:?}: {e}")))?;
    open_raw(s, &msg.encode())
}

/// OPEN with the given 264 (or other) message bytes.
pub fn open_raw(s: &mut Session, msg: &[u8]) -> Result<Device> {
    let slot = s.get_slot()?;
    s.send_read(0, slot, OpenRsp::SIZE, msg)?;
    let e = s.wait_reply(slot)?;
    if e != 0 {
        return Err(refused("OPEN", e));
    }
    let rsp = OpenRsp::decode(s.slot_bytes(slot, 0, OpenRsp::SIZE)?)
        .map_err(|e| Error::new(Kind::Other, format!("bad OPEN_RSP: {e}")))?;
    rsp.check()
        .map_err(|e| Error::new(Kind::Other, format!("unusable OPEN_RSP: {e}")))?;
    Ok(Device {
        device_id: rsp.device_id.get(),
        rsp,
    })
}

/// CLOSE (the server always replies 0).
pub fn close(s: &mut Session, dev: &Device) -> Result<()> {
    let slot = s.get_slot()?;
    s.send_write(0, slot, &[], &Close::new(dev.device_id).encode())?;
    let e = s.wait_reply(slot)?;
    if e != 0 {
        return Err(refused("CLOSE", e));
    }
    Ok(())
}

/// One IO of a batch.
#[derive(Clone, Copy, Debug)]
pub struct IoSpec {
    pub offset: u64,
    pub len: usize,
}

/// Totals of a batch.
#[derive(Clone, Copy, Debug, Default)]
pub struct IoStats {
    pub ios: u64,
    pub bytes: u64,
}

/// Writes `seed`'s pattern over each range, up to `window` in flight,
/// spread over the IO connections.
pub fn write_pattern(s: &mut Session, dev: &Device, ios: &[IoSpec], seed: u64) -> Result<IoStats> {
    run_batch(s, dev, ios, Some(seed), None)
}

/// Reads each range; if `expect` is given, compares with that pattern.
pub fn read_verify(
    s: &mut Session,
    dev: &Device,
    ios: &[IoSpec],
    expect: Option<u64>,
) -> Result<IoStats> {
    run_batch(s, dev, ios, None, expect)
}

fn check_range(dev: &Device, io: &IoSpec, max_io: usize) -> Result<()> {
    if !io.offset.is_multiple_of(512) || !io.len.is_multiple_of(512) || io.len == 0 {
        return Err(Error::new(
            Kind::Usage,
            format!(
                "IO at {} of {} bytes: not 512-byte aligned",
                io.offset, io.len
            ),
        ));
    }
    if io.len > max_io {
        return Err(Error::new(
            Kind::Usage,
            format!("IO of {} bytes exceeds max_io_size {max_io}", io.len),
        ));
    }
    if io.offset + io.len as u64 > dev.size_bytes() {
        return Err(Error::new(
            Kind::Usage,
            format!(
                "IO at {}+{} beyond the device ({} bytes)",
                io.offset,
                io.len,
                dev.size_bytes()
            ),
        ));
    }
    Ok(())
}

fn run_batch(
    s: &mut Session,
    dev: &Device,
    ios: &[IoSpec],
    write_seed: Option<u64>,
    expect: Option<u64>,
) -> Result<IoStats> {
    let p = s.path()?;
    let max_io = p.max_io_size as usize;
    for io in ios {
        check_range(dev, io, max_io)?;
    }
    let mut inflight: Vec<(usize, IoSpec)> = Vec::new();
    let mut stats = IoStats::default();
    let mut next = 0;
    let mut data = Vec::new();
    while next < ios.len() || !inflight.is_empty() {
        // Submit while slots are free.
        while next < ios.len() && inflight.len() < s.cfg.window {
            let io = ios[next];
            let slot = s.get_slot()?;
            let cid = s.next_io_cid();
            let sector = io.offset / 512;
            if let Some(seed) = write_seed {
                data.resize(io.len, 0);
                pattern::fill(seed, io.offset, &mut data);
                let rw = Rw::new(Op::Write);
                let msg = Io::new(dev.device_id, sector, rw, io.len as u32, 0).encode();
                s.send_write(cid, slot, &data, &msg)?;
            } else {
                let rw = Rw {
                    sync: true,
                    ..Rw::new(Op::Read)
                };
                let msg = Io::new(dev.device_id, sector, rw, io.len as u32, 0).encode();
                s.send_read(cid, slot, io.len, &msg)?;
            }
            inflight.push((slot, io));
            next += 1;
        }
        // Reap whatever completed.
        let mut i = 0;
        let mut reaped = false;
        while i < inflight.len() {
            let (slot, io) = inflight[i];
            if let Some(e) = s.reply_of(slot) {
                if e != 0 {
                    return Err(Error::errno(
                        Kind::Refused,
                        e,
                        format!(
                            "{} at offset {} ({} bytes) failed on the server",
                            if write_seed.is_some() {
                                "write"
                            } else {
                                "read"
                            },
                            io.offset,
                            io.len
                        ),
                    ));
                }
                if write_seed.is_none() {
                    if let Some(seed) = expect {
                        let got = s.slot_bytes(slot, 0, io.len)?;
                        if let Some(bad) = pattern::first_mismatch(seed, io.offset, got) {
                            return Err(Error::new(
                                Kind::Mismatch,
                                format!(
                                    "data at byte {} differs from pattern seed {seed}",
                                    io.offset + bad as u64
                                ),
                            ));
                        }
                    }
                }
                s.release(slot);
                stats.ios += 1;
                stats.bytes += io.len as u64;
                inflight.swap_remove(i);
                reaped = true;
            } else {
                i += 1;
            }
        }
        if !reaped && (next >= ios.len() || inflight.len() >= s.cfg.window) {
            s.check_alive()?;
            let t = s.cfg.timeout;
            wait_any(s, &inflight, t)?;
        }
    }
    Ok(stats)
}

fn wait_any(s: &mut Session, inflight: &[(usize, IoSpec)], t: std::time::Duration) -> Result<()> {
    let deadline = std::time::Instant::now() + t;
    loop {
        if inflight.iter().any(|(slot, _)| s.reply_of(*slot).is_some()) {
            return Ok(());
        }
        s.check_alive()?;
        let now = std::time::Instant::now();
        if now >= deadline {
            return Err(Error::new(
                Kind::Timeout,
                format!("no IO reply from the server within {t:?}"),
            ));
        }
        s.progress(deadline - now)?;
    }
}
