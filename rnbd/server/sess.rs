// SPDX-License-Identifier: GPL-2.0

//! An RNBD session (`rnbd-srv.c`: `struct rnbd_srv_session`,
//! `rnbd_srv_rdma_ev()`, `process_msg_sess_info()`, `process_msg_open()`,
//! `process_msg_close()`, `process_rdma()`; protocol reference §6.5,
//! §6.6).
//!
//! Differences from upstream (`Documentation/server.md`): every message
//! is checked (length, type, fields) and a bad one is answered with an
//! errno instead of being used as garbage; a session that keeps sending
//! them is closed after `max_errors`; a force-closed device id stays
//! reserved for the session's life; IO that would change the data of a
//! read-only binding is refused with EPERM; device paths must resolve
//! (symlinks followed) inside the search directory.

use core::sync::atomic::{AtomicU32, AtomicU8, Ordering};

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::str::{BStr, CStr, CString};
use kernel::sync::{Arc, Mutex};

use crate::dev::{Binding, Server};
use crate::fullpath::{full_path, to_cstring};
use crate::kernel_ext::block::bio::Window;
use crate::kernel_ext::block::{Io, IoFlags, Op};
use crate::kernel_ext::errno::ENOTCONN;
use crate::kernel_ext::fs::ResolvedPath;
use crate::kernel_ext::module_ref::ModuleRef;
use crate::kernel_ext::sysfs::KObject;
use crate::kernel_ext::trace;
use crate::params::{DEV_SEARCH_PATH, MAX_ERRORS};
use crate::proto::{
    self as wire, AccessMode, Close, MsgHdr, MsgType, Open, OpenRsp, SessInfo, SessInfoRsp,
    RNBD_FUA, RNBD_F_FUA, RNBD_F_NOUNMAP, RNBD_F_PREFLUSH, RNBD_F_SYNC, RNBD_WRITEBACK,
};
use crate::rtrs_srv::ops::{Dir, SrvRequest, SrvSession, SrvSessionOps};
use crate::sysfs::{self, BindingOwner, BindingSysfs};

/// A device id of the session (the xarray of upstream).
enum Slot {
    Free,
    Open {
        binding: Arc<Binding>,
        _sysfs: KObject<BindingSysfs>,
    },
    /// Force-closed: the client may still use the id, so no later OPEN
    /// gets it (upstream means to, but hands it out again, §11.2 #12).
    Reserved,
}

/// Why a request is refused, and whether it counts against the
/// session's error budget (malformed messages do; a device that went
/// away or a refused open do not).
struct Refusal {
    error: Error,
    malformed: bool,
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Self {
        Refusal {
            error,
            malformed: false,
        }
    }
}

fn malformed(error: Error) -> Refusal {
    Refusal {
        error,
        malformed: true,
    }
}

fn bad<T>(_: T) -> Refusal {
    malformed(EINVAL)
}

/// An RNBD session.
#[pin_data]
pub(crate) struct RnbdSess {
    server: Arc<Server>,
    rtrs: SrvSession,
    pub(crate) name: CString,
    /// Negotiated by SESS_INFO (0 before: no `prio`).
    ver: AtomicU8,
    /// Malformed messages so far.
    errors: AtomicU32,
    /// OPEN, CLOSE and force_close, one at a time (`srv_sess->lock`).
    #[pin]
    ops: Mutex<()>,
    /// Device ids. Process context.
    #[pin]
    slots: Mutex<KVec<Slot>>,
}

impl RnbdSess {
    /// The session `rtrs` has just connected (`create_sess()`).
    pub(crate) fn new(server: &Arc<Server>, rtrs: &SrvSession) -> Result<Arc<RnbdSess>> {
        let mut name = KVec::new();
        name.extend_from_slice(rtrs.name(), GFP_KERNEL)?;
        let name = to_cstring(name)?;
        pr_info!("RTRS Session {} connected\n", &*name);
        trace::create_sess(&name, i32::from(rtrs.queue_depth()));
        Arc::pin_init(
            pin_init!(RnbdSess {
                server: server.clone(),
                rtrs: rtrs.clone(),
                name,
                ver: AtomicU8::new(0),
                errors: AtomicU32::new(0),
                ops <- new_mutex!(()),
                slots <- new_mutex!(KVec::new()),
            }),
            GFP_KERNEL,
        )
    }

    /// The binding of `device_id` (`rnbd_get_sess_dev()`).
    fn lookup(&self, device_id: u32) -> Option<Arc<Binding>> {
        let slots = self.slots.lock();
        match slots.get(device_id as usize) {
            Some(Slot::Open { binding, .. }) => Some(binding.clone()),
            _ => None,
        }
    }

    /// Counts a malformed message; past `max_errors` (0: no limit) the
    /// session is closed.
    fn count_error(&self) {
        let n = self
            .errors
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        let max = MAX_ERRORS.get();
        if n <= 10 {
            pr_warn!(
                "session {}: malformed message ({} so far)\n",
                &*self.name,
                n
            );
        }
        if max != 0 && n == max {
            pr_err!(
                "session {}: {} malformed messages (max_errors), closing it\n",
                &*self.name,
                n
            );
            // Not from here: closing takes the RTRS sessions lock, which
            // must not wait on a completion work such as this one.
            let rtrs = self.rtrs.clone();
            if let Ok(module) = ModuleRef::get(&crate::THIS_MODULE) {
                let _ = kernel::workqueue::system().try_spawn(GFP_KERNEL, move || {
                    rtrs.close();
                    drop(module);
                });
            }
        }
    }

    fn answer(&self, req: SrvRequest, result: core::result::Result<(), Refusal>) {
        match result {
            Ok(()) => req.respond(0),
            Err(r) => {
                if r.malformed {
                    self.count_error();
                }
                req.respond(r.error.to_errno());
            }
        }
    }

    /// SESS_INFO: negotiate the version and answer SESS_INFO_RSP.
    fn sess_info(&self, req: &mut SrvRequest) -> core::result::Result<(), Refusal> {
        let msg = SessInfo::decode(req.usr()).map_err(bad)?;
        if req.dir() != Dir::Read {
            return Err(malformed(EINVAL));
        }
        let ver = wire::negotiate_version(msg.ver);
        trace::process_msg_sess_info(&self.name, ver, msg.ver, wire::RNBD_PROTO_VER_MAJOR);
        SessInfoRsp::new(ver)
            .encode_into(req.data_mut())
            .map_err(bad)?;
        self.ver.store(ver, Ordering::Relaxed);
        Ok(())
    }

    /// OPEN (§6.6).
    fn open(self: &Arc<Self>, req: &mut SrvRequest) -> core::result::Result<(), Refusal> {
        let msg = Open::decode(req.usr()).map_err(bad)?;
        let mode = msg.access_mode().map_err(bad)?;
        if req.dir() != Dir::Read || req.data_len() < OpenRsp::SIZE {
            return Err(malformed(EINVAL));
        }
        let dev_name = msg.dev_name();
        // `decode()` checked the NUL.
        if let Some(Ok(c)) = msg
            .dev_name
            .get(..dev_name.len() + 1)
            .map(CStr::from_bytes_with_nul)
        {
            trace::process_msg_open(&self.name, c, mode as u8);
        }
        let _ops = self.ops.lock();
        // 1. The same name again: the same binding (remap).
        let existing = {
            let slots = self.slots.lock();
            slots.iter().find_map(|s| match s {
                Slot::Open { binding, .. } if binding.dev_name.as_slice() == dev_name => {
                    Some(binding.clone())
                }
                _ => None,
            })
        };
        let binding = match existing {
            Some(binding) => binding,
            None => self.open_new(dev_name, mode)?,
        };
        fill_open_rsp(&binding)
            .encode_into(req.data_mut())
            .map_err(bad)?;
        Ok(())
    }

    fn open_new(
        self: &Arc<Self>,
        dev_name: &[u8],
        mode: AccessMode,
    ) -> core::result::Result<Arc<Binding>, Refusal> {
        let name = BStr::from_bytes(dev_name);
        // 2.-4. Length, "..", %SESSNAME%, "/" collapsing.
        let full = DEV_SEARCH_PATH
            .read(|search| full_path(search.as_bytes(), self.name.as_bytes(), dev_name))
            .inspect_err(|_| {
                pr_err!(
                    "Opening device '{}' for session {} failed: bad path\n",
                    name,
                    &*self.name
                )
            })?;
        // Better than upstream: the path must resolve (symlinks
        // followed) inside the search directory.
        let path = ResolvedPath::resolve(&full.path).inspect_err(|e| {
            pr_err!(
                "Opening device '{}' on session {} failed: {:?}\n",
                &*full.path,
                &*self.name,
                e
            )
        })?;
        let base = ResolvedPath::resolve(&full.base)?;
        if !path.is_under(&base) {
            pr_err!(
                "Opening device '{}' on session {} failed: it resolves outside {}\n",
                &*full.path,
                &*self.name,
                &*full.base
            );
            return Err(EINVAL.into());
        }
        // 7. The lowest free id (reserved ones are not free).
        let device_id = {
            let slots = self.slots.lock();
            slots
                .iter()
                .position(|s| matches!(s, Slot::Free))
                .unwrap_or(slots.len())
        };
        let device_id = u32::try_from(device_id).map_err(|_| ENOSPC)?;
        // 5.-6. Open, device object, access mode.
        let binding =
            Binding::open(&self.server, &path, mode, device_id, dev_name).inspect_err(|e| {
                pr_err!(
                    "Opening device '{}' on session {} failed: {:?}\n",
                    &*full.path,
                    &*self.name,
                    e
                )
            })?;
        let sysfs = sysfs::create_binding_dir(self.clone(), &binding)?;
        let mut slots = self.slots.lock();
        let slot = Slot::Open {
            binding: binding.clone(),
            _sysfs: sysfs,
        };
        match slots.get_mut(device_id as usize) {
            Some(s) => *s = slot,
            None => slots.push(slot, GFP_KERNEL).map_err(|_| ENOMEM)?,
        }
        drop(slots);
        pr_info!(
            "{}: Opened device '{}' (device id {}, {})\n",
            &*self.name,
            &*binding.dev.name,
            device_id,
            mode.as_str()
        );
        Ok(binding)
    }

    /// Takes binding `device_id` out (its sysfs directory is dropped by
    /// the caller, outside the locks: removing it waits for its files'
    /// callbacks, force_close among them). `serial` (if any) must match.
    fn take(&self, device_id: u32, serial: Option<u64>, reserve: bool) -> Option<Slot> {
        let _ops = self.ops.lock();
        let mut slots = self.slots.lock();
        let slot = slots.get_mut(device_id as usize)?;
        match slot {
            Slot::Open { binding, .. } if serial.map_or(true, |s| s == binding.serial) => {}
            _ => return None,
        }
        let new = if reserve { Slot::Reserved } else { Slot::Free };
        Some(core::mem::replace(slot, new))
    }

    /// CLOSE: unknown ids are ignored; the answer is always 0.
    fn close_msg(&self, req: &SrvRequest) -> core::result::Result<(), Refusal> {
        let msg = Close::decode(req.usr()).map_err(bad)?;
        trace::process_msg_close(&self.name, msg.device_id.get());
        if let Some(slot) = self.take(msg.device_id.get(), None, false) {
            pr_info!(
                "{}: closed device id {}\n",
                &*self.name,
                msg.device_id.get()
            );
            drop(slot);
        }
        Ok(())
    }

    /// sysfs `force_close` of binding `device_id` (`serial`): the id stays
    /// reserved, the client's IO on it gets ENOTCONN.
    pub(crate) fn force_close(&self, device_id: u32, serial: u64) {
        if let Some(slot) = self.take(device_id, Some(serial), true) {
            pr_info!("{}: device id {} force closed\n", &*self.name, device_id);
            drop(slot);
        }
    }

    /// IO (`process_rdma()`): a bio on the chunk, answered when it ends.
    fn io(&self, req: SrvRequest) {
        let usr_len = req.usr().len();
        let msg = match wire::Io::decode(req.usr()) {
            Ok(msg) => msg,
            Err(_) => return self.answer(req, Err(malformed(EINVAL))),
        };
        trace::process_rdma(
            &self.name,
            &trace::ProcessRdma {
                dir: req.dir().traced(),
                ver: self.ver.load(Ordering::Relaxed),
                device_id: msg.device_id.get(),
                sector: msg.sector.get(),
                flags: msg.rw.get(),
                bi_size: msg.bi_size.get(),
                ioprio: msg.prio.get(),
                datalen: req.data_len() as u32,
                usrlen: usr_len,
            },
        );
        let Some(binding) = self.lookup(msg.device_id.get()) else {
            pr_err_ratelimited(self, msg.device_id.get());
            return req.respond(ENOTCONN().to_errno());
        };
        let rw = msg.rw.get();
        let op = match msg.rw().map(|rw| rw.op) {
            Ok(wire::Op::Read) => Op::Read,
            Ok(wire::Op::Write) => Op::Write,
            Ok(wire::Op::Flush) => Op::Flush,
            Ok(wire::Op::Discard) => Op::Discard,
            Ok(wire::Op::SecureErase) => Op::SecureErase,
            Ok(wire::Op::WriteZeroes) => Op::WriteZeroes,
            Err(_) => return self.answer(req, Err(malformed(EINVAL))),
        };
        let mut flags = IoFlags::NONE;
        for (bit, flag) in [
            (RNBD_F_SYNC, IoFlags::SYNC),
            (RNBD_F_FUA, IoFlags::FUA),
            (RNBD_F_PREFLUSH, IoFlags::PREFLUSH),
        ] {
            if rw & bit != 0 {
                flags = flags | flag;
            }
        }
        // As mainline's rnbd_to_bio_flags(): NOUNMAP means something only
        // on a write zeroes and is ignored elsewhere.
        if op == Op::WriteZeroes && rw & RNBD_F_NOUNMAP != 0 {
            flags = flags | IoFlags::NOUNMAP;
        }
        let data_len = req.data_len();
        let bi_size = msg.bi_size.get();
        let rtrs_write = matches!(req.dir(), Dir::Write);
        let write_op = matches!(
            op,
            Op::Write | Op::Discard | Op::SecureErase | Op::WriteZeroes
        );
        // The direction must fit the op; data only for reads and writes,
        // and then exactly bi_size of it; flushes carry nothing.
        let shape_ok = rtrs_write == write_op
            && match op {
                Op::Read | Op::Write => data_len != 0 && data_len == bi_size as usize,
                Op::Flush => data_len == 0 && bi_size == 0,
                _ => data_len == 0,
            };
        if !shape_ok {
            return self.answer(req, Err(malformed(EINVAL)));
        }
        // Better than upstream: a read-only binding does not change data
        // (EPERM, as for a second rw open).
        if op.modifies_data() && binding.mode == AccessMode::Ro {
            return req.respond(EPERM.to_errno());
        }
        let mut io = match Io::<Window<SrvRequest>>::new(&binding.bdev, op, flags, GFP_KERNEL) {
            Ok(io) => io,
            // Flags that do not fit the op.
            Err(e) => return self.answer(req, Err(malformed(e))),
        };
        io.set_prio(msg.effective_prio(usr_len, self.ver.load(Ordering::Relaxed)));
        let sector = msg.sector.get();
        if op.has_data() {
            if let Err(e) = io.add_data(sector, Window::new(req)) {
                let req = e.buffer.into_inner();
                return self.answer(req, Err(malformed(e.error)));
            }
            io.submit_in_task(move |windows, status| {
                let errno = status.err().map_or(0, |e| e.to_errno());
                if let Some(window) = windows.into_iter().next() {
                    window.into_inner().respond(errno);
                }
                drop(binding);
            });
        } else {
            if op != Op::Flush {
                if let Err(e) = io.add_range(sector, bi_size) {
                    return self.answer(req, Err(malformed(e)));
                }
            }
            io.submit_in_task(move |_, status| {
                req.respond(status.err().map_or(0, |e| e.to_errno()));
                drop(binding);
            });
        }
    }

    /// Every binding goes (`destroy_sess()`).
    fn close_all(&self) {
        let taken = {
            let _ops = self.ops.lock();
            let mut slots = self.slots.lock();
            core::mem::take(&mut *slots)
        };
        drop(taken);
    }
}

fn pr_err_ratelimited(sess: &RnbdSess, device_id: u32) {
    if sess.errors.load(Ordering::Relaxed) < 10 {
        pr_err!(
            "Got I/O request on session {} for unknown device id {}\n",
            &*sess.name,
            device_id
        );
    }
}

/// OPEN_RSP from the device's limits (`rnbd_srv_fill_msg_open_rsp()`).
fn fill_open_rsp(binding: &Binding) -> OpenRsp {
    use crate::proto::{Le16, Le32, Le64};
    let bdev = &binding.bdev;
    let mut rsp = OpenRsp::new(binding.device_id);
    rsp.nsectors = Le64::new(bdev.nr_sectors());
    rsp.logical_block_size = Le16::new(bdev.logical_block_size() as u16);
    rsp.physical_block_size = Le16::new(bdev.physical_block_size() as u16);
    rsp.max_segments = Le16::new(bdev.max_segments());
    rsp.max_hw_sectors = Le32::new(bdev.max_hw_sectors());
    rsp.max_write_zeroes_sectors = Le32::new(bdev.max_write_zeroes_sectors());
    rsp.max_discard_sectors = Le32::new(bdev.max_discard_sectors());
    rsp.discard_granularity = Le32::new(bdev.discard_granularity());
    rsp.discard_alignment = Le32::new(bdev.discard_alignment());
    // Truncated to 16 bits, as upstream (§11.2 #8).
    rsp.secure_discard = Le16::new(bdev.max_secure_erase_sectors() as u16);
    let mut cache = 0;
    if bdev.write_cache() {
        cache |= RNBD_WRITEBACK;
    }
    if bdev.fua() {
        cache |= RNBD_FUA;
    }
    rsp.cache_policy = cache;
    rsp
}

/// What RTRS holds of a session: its requests and its end go to the
/// session, which its sysfs files also reach.
pub(crate) struct SessHandle(pub(crate) Arc<RnbdSess>);

impl SrvSessionOps for SessHandle {
    fn request(&self, req: SrvRequest) {
        self.0.request(req);
    }

    fn malformed(&self) {
        self.0.count_error();
    }

    fn disconnected(&self) {
        trace::destroy_sess(&self.0.name, i32::from(self.0.rtrs.queue_depth()));
        self.0.close_all();
        pr_info!("RTRS Session {} disconnected\n", &*self.0.name);
    }
}

impl BindingOwner for RnbdSess {
    fn name(&self) -> &CStr {
        &self.name
    }

    fn force_close(&self, device_id: u32, serial: u64) {
        RnbdSess::force_close(self, device_id, serial);
    }
}

impl RnbdSess {
    fn request(self: &Arc<Self>, mut req: SrvRequest) {
        // `rnbd_srv_rdma_ev()`: dispatch on the header's type.
        let msg_type = MsgHdr::decode(req.usr()).and_then(|h| h.msg_type());
        let result = match msg_type {
            Ok(MsgType::Io) => return self.io(req),
            Ok(MsgType::SessInfo) => self.sess_info(&mut req),
            Ok(MsgType::Open) => self.open(&mut req),
            Ok(MsgType::Close) => self.close_msg(&req),
            // Responses, unknown types, less than a header.
            _ => Err(malformed(EINVAL)),
        };
        self.answer(req, result);
    }
}
