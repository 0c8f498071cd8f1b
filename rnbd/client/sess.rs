// SPDX-License-Identifier: GPL-2.0

//! The client (module-wide state), its sessions (`struct
//! rnbd_clt_session`), RNBD control messages (SESS_INFO, OPEN, CLOSE)
//! and the RTRS link events (`rnbd-clt.c`).

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};

use kernel::prelude::*;
use kernel::str::CString;
use kernel::sync::{Arc, Mutex};
use kernel::{c_str, fmt, new_mutex};

use crate::blk::{Blk, SetInfo};
use crate::dev::{self, DevState, Device};
use crate::kernel_ext::block::{Major, TagSet, TagSetConfig, TagSetFlags};
use crate::kernel_ext::callback::Callback;
use crate::kernel_ext::cpu;
use crate::kernel_ext::errno::ETIMEDOUT;
use crate::kernel_ext::rdma::cm::CmContext;
use crate::kernel_ext::sync::{new_completion, new_spinlock_irq, Completion, SpinLockIrq};
use crate::kernel_ext::sysfs::{Class, ClassDevice, Dir};
use crate::kernel_ext::workqueue::{flags as wq_flags, Workqueue};
use crate::map_opts::{self, MapOptions};
use crate::params::{MAX_RECONNECTS, RECONNECT_DELAY_SEC};
use crate::proto;
use crate::rtrs_clt::ops::{
    CltOps, ConType, Dir as RtrsDir, LinkEvent, OpenParams, PathAddr, PermitWait, ReqData, RtrsClt,
};
use crate::rtrs_clt::to_address;
use crate::sysfs::{self, CtlOps};

/// Minors per disk: 64 (`RNBD_PART_BITS` = 6, 63 partitions).
pub(crate) const MINORS_PER_DISK: u32 = 64;

/// How long a control message may take in total, in 10 s steps (so that
/// the waiting task is never reported as hung): RTRS fails requests that
/// no path can carry long before.
const ADMIN_WAIT_STEPS: u32 = 12;

/// The module-wide state.
#[pin_data]
pub(crate) struct Client {
    pub(crate) cm: Arc<CmContext>,
    pub(crate) rtrs_class: Arc<Class>,
    pub(crate) major: Arc<Major>,
    /// Remaps after a reconnect run here (not inside RTRS's event).
    pub(crate) wq: Arc<Workqueue>,
    /// One `map_device` at a time (upstream serialises session creation
    /// with `sess_lock` and waiters).
    #[pin]
    map_lock: Mutex<()>,
    #[pin]
    pub(crate) sessions: Mutex<KVec<Arc<Session>>>,
    /// `ctl` and `ctl/devices`; taken at unload.
    #[pin]
    sysfs: Mutex<Option<(Arc<ClassDevice<sysfs::Ctl>>, Arc<Dir>)>>,
    _class: Arc<Class>,
    pub(crate) unloading: AtomicBool,
}

impl CtlOps for Client {
    fn map_device(self: Arc<Self>, input: &[u8]) -> Result {
        Client::map_device(&self, input)
    }
}

impl Client {
    pub(crate) fn new() -> Result<Arc<Client>> {
        let cm = Arc::new(CmContext::new()?, GFP_KERNEL)?;
        let major = Major::register(c_str!("rnbd"), MINORS_PER_DISK)?;
        let rtrs_class = RtrsClt::register_class()?;
        let class = Class::register(c_str!("rnbd-client"))?;
        let wq = Workqueue::new(c_str!("rnbd_clt_wq"), wq_flags::MEM_RECLAIM, 0)?;
        let class_keep = class.clone();
        let client = Arc::pin_init(
            pin_init!(Client {
                cm,
                rtrs_class,
                major,
                wq,
                map_lock <- new_mutex!(()),
                sessions <- new_mutex!(KVec::new()),
                sysfs <- new_mutex!(None),
                _class: class_keep,
                unloading: AtomicBool::new(false),
            }),
            GFP_KERNEL,
        )?;
        let ctl = ClassDevice::create(
            &class,
            c_str!("ctl"),
            sysfs::Ctl {
                client: client.clone(),
            },
            &sysfs::CTL_ATTRIBUTES,
        )?;
        let devices = match Dir::create(ctl.clone(), c_str!("devices")) {
            Ok(d) => d,
            Err(e) => {
                drop(ctl);
                return Err(e);
            }
        };
        *client.sysfs.lock() = Some((ctl, devices));
        Ok(client)
    }

    /// `ctl/devices`, while loaded.
    pub(crate) fn devices_dir(&self) -> Option<Arc<Dir>> {
        self.sysfs.lock().as_ref().map(|(_, d)| d.clone())
    }

    /// Module exit (`rnbd_destroy_sessions()`): the sysfs files first
    /// (no new maps), then every device unmapped by force and every
    /// session closed.
    pub(crate) fn shutdown(&self) {
        self.unloading.store(true, Ordering::SeqCst);
        let files = self.sysfs.lock().take();
        drop(files);
        loop {
            let sess = self.sessions.lock().first().cloned();
            let Some(sess) = sess else { break };
            sess.close_rtrs();
            // As upstream, the devices of a session are unmapped in
            // parallel on the workqueue: `del_gendisk()` takes about half
            // a second each, which adds up with many devices. The works
            // take `devs` to leave the list, so they wait for this loop.
            for dev in sess.devs.lock().iter() {
                let (s, d) = (sess.clone(), dev.clone());
                let _ = self
                    .wq
                    .queue()
                    .try_spawn(GFP_KERNEL, move || Self::unmap_on_unload(&s, &d));
            }
            self.wq.flush();
            // A device whose work could not be queued (no memory) goes
            // inline.
            loop {
                let dev = sess.devs.lock().first().cloned();
                let Some(dev) = dev else { break };
                Self::unmap_on_unload(&sess, &dev);
            }
            self.remove_session(&sess);
        }
        self.wq.flush();
    }

    /// `unmap_device_work()`: unmapped by force; the only error is
    /// EALREADY (someone else is unmapping it and removes it from the
    /// list), in which case it leaves the list here.
    fn unmap_on_unload(sess: &Arc<Session>, dev: &Arc<Device>) {
        if dev::unmap(dev, true, None).is_err() {
            sess.remove_dev(dev);
        }
    }

    fn find_session(&self, name: &[u8]) -> Option<Arc<Session>> {
        self.sessions
            .lock()
            .iter()
            .find(|s| s.name.as_bytes() == name)
            .cloned()
    }

    /// `__exists_dev()` over every session (or one).
    fn exists_dev(&self, pathname: &[u8], sessname: &[u8]) -> bool {
        self.sessions
            .lock()
            .iter()
            .filter(|s| s.name.as_bytes() == sessname)
            .any(|s| s.devs.lock().iter().any(|d| &*d.pathname == pathname))
    }

    pub(crate) fn remove_session(&self, sess: &Arc<Session>) {
        remove_arc(&mut self.sessions.lock(), sess);
    }

    /// `rnbd_clt_map_device_store()` + `rnbd_clt_map_device()`.
    pub(crate) fn map_device(self: &Arc<Self>, input: &[u8]) -> Result {
        let opt = map_opts::parse(input, cpu::nr_cpu_ids())?;
        if self.unloading.load(Ordering::SeqCst) {
            return Err(ENODEV);
        }
        pr_info!(
            "Mapping device {} on session {}, (access_mode: {}, nr_poll_queues: {})\n",
            kernel::str::BStr::from_bytes(opt.device_path),
            kernel::str::BStr::from_bytes(opt.sessname),
            opt.access_mode.as_str(),
            opt.nr_poll_queues
        );
        let _serial = self.map_lock.lock();
        if self.exists_dev(opt.device_path, opt.sessname) {
            return Err(EEXIST);
        }
        let (sess, first) = match self.find_session(opt.sessname) {
            Some(sess) => {
                if opt.nr_poll_queues != 0 || sess.nr_poll_queues != 0 {
                    return Err(EINVAL);
                }
                (sess, false)
            }
            None => (Session::create(self, &opt)?, true),
        };
        let result = dev::map(&sess, &opt);
        if result.is_err() && first && sess.devs.lock().is_empty() {
            sess.close_rtrs();
            self.remove_session(&sess);
        }
        result
    }
}

/// RTRS's view of a session: link events go to it. Holds the session
/// until it is closed (the cycle session → RTRS → ops → session is cut
/// there).
#[pin_data]
pub(crate) struct SessOps {
    #[pin]
    sess: Mutex<Option<Arc<Session>>>,
}

impl CltOps for SessOps {
    fn link_event(&self, event: LinkEvent) {
        let Some(sess) = self.sess.lock().clone() else {
            return;
        };
        match event {
            LinkEvent::Disconnected => sess.set_devs_disconnected(),
            LinkEvent::Reconnected => {
                // `remap_devs()` waits for answers, which RTRS delivers
                // from the context this event runs in: from a work item.
                let s = sess.clone();
                if sess
                    .client
                    .wq
                    .queue()
                    .try_spawn(GFP_KERNEL, move || s.remap_devs())
                    .is_err()
                {
                    pr_err!("{}: no memory to remap the devices\n", &*sess.name);
                }
            }
        }
    }
}

/// `struct rnbd_clt_session`.
#[pin_data]
pub(crate) struct Session {
    pub(crate) client: Arc<Client>,
    pub(crate) name: CString,
    /// Set at creation, taken when closed (so no request after
    /// `rtrs_clt_close()`).
    #[pin]
    rtrs: SpinLockIrq<Option<Arc<RtrsClt>>>,
    ops: Arc<SessOps>,
    pub(crate) tag_set: Arc<TagSet<Blk>>,
    pub(crate) max_io_size: AtomicU32,
    pub(crate) max_segments: u32,
    pub(crate) nr_poll_queues: u32,
    pub(crate) ver: AtomicU8,
    #[pin]
    pub(crate) devs: Mutex<KVec<Arc<Device>>>,
}

impl Session {
    /// `find_and_get_or_create_sess()` for a new session: RTRS open,
    /// query, tag set, SESS_INFO.
    fn create(client: &Arc<Client>, opt: &MapOptions<'_>) -> Result<Arc<Session>> {
        if opt.path_cnt == 0 {
            pr_err!(
                "Session {} not found, and path parameter not given",
                kernel::str::BStr::from_bytes(opt.sessname)
            );
            return Err(ENXIO);
        }
        let mut paths = KVec::new();
        for p in opt.paths() {
            let src = match &p.src {
                Some(a) => Some(to_address(a).map_err(|_| EINVAL)?),
                None => None,
            };
            paths.push(
                PathAddr {
                    src,
                    dst: to_address(&p.dst)?,
                },
                GFP_KERNEL,
            )?;
        }
        let ops = Arc::pin_init(
            pin_init!(SessOps {
                sess <- new_mutex!(None),
            }),
            GFP_KERNEL,
        )?;
        let params = OpenParams {
            sessname: opt.sessname,
            paths: &paths,
            port: opt.dest_port,
            reconnect_delay_sec: RECONNECT_DELAY_SEC,
            max_reconnect_attempts: MAX_RECONNECTS,
            nr_poll_queues: opt.nr_poll_queues,
            class: &client.rtrs_class,
        };
        let rtrs = RtrsClt::open(&client.cm, &params, ops.clone())?;
        let sess = Self::setup(client, opt, &rtrs, ops);
        match sess {
            Ok(sess) => Ok(sess),
            Err(e) => {
                rtrs.close();
                Err(e)
            }
        }
    }

    fn setup(
        client: &Arc<Client>,
        opt: &MapOptions<'_>,
        rtrs: &Arc<RtrsClt>,
        ops: Arc<SessOps>,
    ) -> Result<Arc<Session>> {
        let attrs = rtrs.query()?;
        let name = CString::try_from_fmt(fmt!("{}", kernel::str::BStr::from_bytes(opt.sessname)))?;
        // `setup_mq_tags()`.
        let info = SetInfo {
            max_segments: attrs.max_segments as usize,
            nr_default: cpu::num_online_cpus(),
            nr_poll: opt.nr_poll_queues,
            sessname: CString::try_from_fmt(fmt!("{}", &*name))?,
        };
        let config = TagSetConfig {
            nr_hw_queues: info.nr_default + info.nr_poll,
            queue_depth: u32::from(attrs.queue_depth),
            // As upstream: the devices of a session share its tags, so
            // blk-mq divides them fairly among the active queues.
            flags: TagSetFlags::SHOULD_MERGE.union(TagSetFlags::TAG_QUEUE_SHARED),
            nr_maps: info.nr_maps(),
        };
        let tag_set = TagSet::<Blk>::new(&config, info)?;
        let ops_keep = ops.clone();
        let sess = Arc::pin_init(
            pin_init!(Session {
                client: client.clone(),
                name,
                rtrs <- new_spinlock_irq!(Some(rtrs.clone())),
                ops: ops_keep,
                tag_set,
                max_io_size: AtomicU32::new(attrs.max_io_size),
                max_segments: attrs.max_segments,
                nr_poll_queues: opt.nr_poll_queues,
                ver: AtomicU8::new(proto::RNBD_PROTO_VER_MAJOR),
                devs <- new_mutex!(KVec::new()),
            }),
            GFP_KERNEL,
        )?;
        *ops.sess.lock() = Some(sess.clone());
        if let Err(e) = sess.send_sess_info() {
            *ops.sess.lock() = None;
            sess.rtrs.lock().take();
            return Err(e);
        }
        client.sessions.lock().push(sess.clone(), GFP_KERNEL)?;
        Ok(sess)
    }

    /// The RTRS session while it is open.
    pub(crate) fn rtrs(&self) -> Option<Arc<RtrsClt>> {
        self.rtrs.lock().clone()
    }

    /// `close_rtrs()`: closes every path (waits) and cuts the cycle.
    pub(crate) fn close_rtrs(&self) {
        let rtrs = self.rtrs.lock().take();
        *self.ops.sess.lock() = None;
        if let Some(rtrs) = rtrs {
            rtrs.close();
        }
    }

    pub(crate) fn remove_dev(&self, dev: &Arc<Device>) {
        remove_arc(&mut self.devs.lock(), dev);
    }

    /// Sends a control message and waits for its completion; returns the
    /// response buffer (`rsp_len` bytes) or the server's errno.
    pub(crate) fn admin(&self, dir: RtrsDir, usr: &[u8], rsp_len: usize) -> Result<KVec<u8>> {
        let rtrs = self.rtrs().ok_or(ENOTCONN_())?;
        let data = if rsp_len > 0 {
            ReqData::buffer(KVec::from_elem(0u8, rsp_len, GFP_KERNEL)?)?
        } else {
            ReqData::none()
        };
        let waiter = Arc::pin_init(
            pin_init!(Waiter {
                done <- new_completion!(),
                result <- new_spinlock_irq!(None),
            }),
            GFP_KERNEL,
        )?;
        let permit = rtrs
            .get_permit(ConType::Admin, PermitWait::Wait)
            .ok_or(ENOMEM)?;
        let w = waiter.clone();
        let done = Callback::new(
            move |data: ReqData, res: Result| {
                let buf = data.into_buffer().ok();
                *w.result.lock() = Some((res, buf));
                w.done.complete();
            },
            GFP_KERNEL,
        )?;
        rtrs.request(dir, permit, usr, data, done)
            .map_err(|(e, _permit, _data)| e)?;
        drop(rtrs);
        let mut steps = 0;
        while waiter.done.wait_timeout_ms(10_000).is_err() {
            steps += 1;
            if steps >= ADMIN_WAIT_STEPS {
                pr_err!("{}: no answer to a control message\n", &*self.name);
                return Err(ETIMEDOUT());
            }
        }
        let (res, buf) = waiter.result.lock().take().ok_or(EIO)?;
        res?;
        Ok(buf.unwrap_or_default())
    }

    /// `send_msg_sess_info()`: negotiates the version.
    pub(crate) fn send_sess_info(&self) -> Result {
        let msg = proto::SessInfo::new(proto::RNBD_PROTO_VER_MAJOR).encode();
        let rsp = self.admin(RtrsDir::Read, &msg, proto::SessInfoRsp::SIZE)?;
        let rsp = proto::SessInfoRsp::decode(&rsp).map_err(|_| EINVAL)?;
        self.ver
            .store(proto::negotiate_version(rsp.ver), Ordering::Relaxed);
        Ok(())
    }

    /// `set_dev_states_to_disconnected()`.
    fn set_devs_disconnected(&self) {
        let devs = self.devs.lock();
        for dev in devs.iter() {
            pr_err!("{}: Device disconnected.\n", &*dev.name);
            dev.disconnected();
        }
    }

    /// `remap_devs()`, from the workqueue.
    fn remap_devs(self: Arc<Self>) {
        if let Err(e) = self.send_sess_info() {
            pr_err!("send_msg_sess_info(\"{}\"): {:?}\n", &*self.name, e);
            return;
        }
        let Some(rtrs) = self.rtrs() else { return };
        match rtrs.query() {
            Ok(attrs) => self.max_io_size.store(attrs.max_io_size, Ordering::Relaxed),
            Err(e) => {
                pr_err!("rtrs_clt_query(\"{}\"): {:?}\n", &*self.name, e);
                return;
            }
        }
        drop(rtrs);
        let devs: KVec<Arc<Device>> = {
            let guard = self.devs.lock();
            let mut v = KVec::new();
            for d in guard.iter() {
                if v.push(d.clone(), GFP_KERNEL).is_err() {
                    break;
                }
            }
            v
        };
        for dev in devs.iter() {
            if dev.io.state() == DevState::Init {
                continue;
            }
            pr_info!("{}: session reconnected, remapping device\n", &*dev.name);
            if let Err(e) = dev::send_open(dev) {
                pr_err!("{}: send_msg_open(): {:?}\n", &*dev.name, e);
                break;
            }
        }
    }
}

#[allow(non_snake_case)]
fn ENOTCONN_() -> Error {
    crate::kernel_ext::errno::ENOTCONN()
}

/// A control message's completion, waited for.
#[pin_data]
struct Waiter {
    #[pin]
    done: Completion,
    #[pin]
    result: SpinLockIrq<Option<(Result, Option<KVec<u8>>)>>,
}

/// Removes `item` from `list` (6.12's `KVec` has no `remove`/`retain`).
fn remove_arc<T>(list: &mut KVec<Arc<T>>, item: &Arc<T>) {
    let old = core::mem::replace(list, KVec::new());
    if let Ok(mut new) = KVec::with_capacity(old.len(), GFP_KERNEL) {
        for x in old.into_iter() {
            if !Arc::ptr_eq(&x, item) {
                // Within the capacity: does not allocate.
                let _ = new.push(x, GFP_KERNEL);
            }
        }
        *list = new;
    }
}
