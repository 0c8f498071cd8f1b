// SPDX-License-Identifier: GPL-2.0

//! A client session (`struct rtrs_clt_sess`): its paths, permits,
//! multipath policy (`path_it_init()`, protocol reference §5.4) and link
//! events (§3.5).

use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU8, Ordering};

use kernel::c_str;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

use super::io::{InFlight, PathParams, MAX_SEGMENTS};
use super::ops::{Attrs, CltOps, ConType, Dir, Done, LinkEvent, OpenParams, PermitWait, ReqData};
use super::path::{CltPath, State};
use super::permits::{Permit, Permits};
use crate::kernel_ext::errno::{ECOMM, ECONNABORTED, EMSGSIZE};
use crate::kernel_ext::rdma::cm::CmContext;
use crate::kernel_ext::sync::new_spinlock_bh;
use crate::kernel_ext::sync::SpinLockBh;
use crate::kernel_ext::sysfs::Class;
use crate::wire::{Uuid, MAX_PATHS_NUM, NAME_MAX};

/// `enum rtrs_mp_policy`.
pub(crate) const MP_POLICY_RR: u8 = 0;
pub(crate) const MP_POLICY_MIN_INFLIGHT: u8 = 1;
pub(crate) const MP_POLICY_MIN_LATENCY: u8 = 2;

/// A session (`struct rtrs_clt_sess`).
#[pin_data]
pub(crate) struct RtrsClt {
    sessname: KVec<u8>,
    paths_uuid: Uuid,
    port: u16,
    reconnect_delay_sec: u8,
    max_reconnect_attempts: AtomicI32,
    pub(crate) mp_policy: AtomicU8,
    ops: Arc<dyn CltOps>,
    /// For paths added later (sysfs `add_path`).
    cm: Arc<CmContext>,
    /// The paths, in order.
    #[pin]
    paths: SpinLockBh<KVec<Arc<CltPath>>>,
    #[pin]
    permits: SpinLockBh<Option<Arc<Permits>>>,
    /// Round-robin cursor.
    rr_next: AtomicU32,
    paths_up: AtomicI32,
    queue_depth: AtomicU32,
    max_io_size: AtomicU32,
    max_segments: AtomicU32,
    /// Poll connections of the paths given to `open` (`nr_poll_queues`).
    nr_poll_queues: u32,
    #[pin]
    sysfs: Mutex<Option<super::sysfs::SessSysfs>>,
}

impl RtrsClt {
    /// Registers `/sys/class/rtrs-client` (upstream `rtrs_client_init()`):
    /// the RNBD client module calls it at load and passes the class to
    /// every [`RtrsClt::open`] (`OpenParams::class`), keeping it until
    /// every session is closed.
    pub(crate) fn register_class() -> Result<Arc<Class>> {
        Class::register(c_str!("rtrs-client"))
    }

    /// `rtrs_clt_open()`: connects every path and runs the INFO exchange.
    /// Process context; blocks.
    pub(crate) fn open(
        cm: &Arc<CmContext>,
        params: &OpenParams<'_>,
        ops: Arc<dyn CltOps>,
    ) -> Result<Arc<RtrsClt>> {
        if params.sessname.iter().any(|&c| c == b'/' || c == b'.') {
            pr_err!("pathname cannot contain / and .\n");
            return Err(EINVAL);
        }
        if params.paths.is_empty() || params.paths.len() > MAX_PATHS_NUM as usize {
            return Err(EINVAL);
        }
        if params.sessname.is_empty() || params.sessname.len() > NAME_MAX {
            return Err(EINVAL);
        }
        if params.nr_poll_queues > crate::kernel_ext::context::nr_cpu_ids() {
            return Err(EINVAL);
        }
        if params.max_reconnect_attempts < -1 || params.max_reconnect_attempts > 9999 {
            return Err(EINVAL);
        }
        let mut sessname = KVec::new();
        sessname.extend_from_slice(params.sessname, GFP_KERNEL)?;
        let mut paths_uuid = [0u8; 16];
        crate::kernel_ext::context::random_bytes(&mut paths_uuid);
        let clt = Arc::pin_init(
            pin_init!(RtrsClt {
                sessname,
                paths_uuid,
                port: params.port,
                reconnect_delay_sec: params.reconnect_delay_sec,
                max_reconnect_attempts: AtomicI32::new(i32::from(params.max_reconnect_attempts)),
                mp_policy: AtomicU8::new(MP_POLICY_MIN_INFLIGHT),
                ops,
                cm: cm.clone(),
                paths <- new_spinlock_bh!(KVec::new(), "RtrsClt::paths"),
                permits <- new_spinlock_bh!(None, "RtrsClt::permits"),
                rr_next: AtomicU32::new(0),
                // No link event while opening (`MAX_PATHS_NUM`).
                paths_up: AtomicI32::new(MAX_PATHS_NUM as i32),
                queue_depth: AtomicU32::new(0),
                max_io_size: AtomicU32::new(0),
                max_segments: AtomicU32::new(MAX_SEGMENTS),
                nr_poll_queues: params.nr_poll_queues,
                sysfs <- new_mutex!(None),
            }),
            GFP_KERNEL,
        )?;
        match clt.open_paths(cm, params) {
            Ok(()) => Ok(clt),
            Err(e) => {
                clt.close();
                Err(e)
            }
        }
    }

    fn open_paths(self: &Arc<Self>, cm: &Arc<CmContext>, params: &OpenParams<'_>) -> Result {
        *self.sysfs.lock() = Some(super::sysfs::SessSysfs::create(params.class, self)?);
        for (i, addr) in params.paths.iter().enumerate() {
            let path = CltPath::new(
                self,
                cm,
                addr.src.clone(),
                addr.dst.clone(),
                i == 0,
                self.nr_poll_queues,
            )?;
            // A spinlock: no sleeping allocation under it.
            self.paths.lock().push(path.clone(), GFP_ATOMIC)?;
            path.connect()?;
            self.add_path_sysfs(&path);
        }
        let qd = self.queue_depth.load(Ordering::Relaxed) as u16;
        *self.permits.lock() = Some(Permits::new(qd)?);
        let up = self
            .paths
            .lock()
            .iter()
            .filter(|p| p.is_connected())
            .count();
        self.paths_up.store(up as i32, Ordering::Release);
        Ok(())
    }

    pub(crate) fn add_path_sysfs(self: &Arc<Self>, path: &Arc<CltPath>) {
        let sysfs = self.sysfs.lock();
        if let Some(sess) = sysfs.as_ref() {
            match super::sysfs::PathSysfs::create(sess, path) {
                Ok(p) => path.set_sysfs(p),
                Err(e) => pr_err!("rtrs client: path sysfs: {:?}\n", e),
            }
        }
    }

    /// sysfs `add_path` (`rtrs_clt_create_path_from_sysfs()`): `text` is
    /// `[src,|@]dst` (up to the first newline) with the session's port; a
    /// new path (no poll queues), connected before this returns; EINVAL
    /// for text that does not parse, else the connect error.
    pub(crate) fn add_path_from_text(self: &Arc<Self>, text: &[u8]) -> Result {
        let text = match text.iter().position(|&c| c == b'\n') {
            Some(nl) => &text[..nl],
            None => text,
        };
        let spec = crate::addr::parse_path(text, self.port()).map_err(|_| EINVAL)?;
        let src = match &spec.src {
            Some(a) => Some(to_address(a).map_err(|_| EINVAL)?),
            None => None,
        };
        let dst = to_address(&spec.dst).map_err(|_| EINVAL)?;
        let cm = self.cm.clone();
        // The last path was removed: the server forgot the session.
        let for_new_clt = self.paths.lock().is_empty();
        // No poll connections on paths added later (upstream passes 0).
        let path = CltPath::new(self, &cm, src, dst, for_new_clt, 0)?;
        self.paths.lock().push(path.clone(), GFP_KERNEL)?;
        if let Err(e) = path.connect() {
            self.forget_path(&path);
            path.kill();
            return Err(e);
        }
        self.add_path_sysfs(&path);
        Ok(())
    }

    /// Takes `path` out of the session's list.
    pub(crate) fn forget_path(&self, path: &Arc<CltPath>) {
        let mut paths = self.paths.lock();
        if !paths.iter().any(|p| Arc::ptr_eq(p, path)) {
            return;
        }
        let Ok(mut kept) = KVec::with_capacity(paths.len(), GFP_ATOMIC) else {
            // Left in the list (DEAD paths carry no IO); logged.
            pr_err!("rtrs client: no memory to drop a removed path from the list\n");
            return;
        };
        let old = core::mem::replace(&mut *paths, KVec::new());
        let mut removed = None;
        for p in old {
            if removed.is_none() && Arc::ptr_eq(&p, path) {
                removed = Some(p);
            } else {
                // Room reserved above: cannot fail.
                let _ = kept.push(p, GFP_ATOMIC);
            }
        }
        *paths = kept;
        drop(paths);
        // Outside the lock: the path's last reference may go here.
        drop(removed);
    }

    /// `rtrs_clt_close()`: closes every path and waits. Process context.
    pub(crate) fn close(&self) {
        let paths = core::mem::replace(&mut *self.paths.lock(), KVec::new());
        for path in paths.iter() {
            path.kill();
        }
        drop(paths);
        drop(self.sysfs.lock().take());
    }

    /// `rtrs_clt_query()`: ECOMM when no path is connected.
    pub(crate) fn query(&self) -> Result<Attrs> {
        if !self.paths.lock().iter().any(|p| p.is_connected()) {
            return Err(ECOMM());
        }
        let segs = self.max_segments.load(Ordering::Relaxed);
        Ok(Attrs {
            queue_depth: self.queue_depth.load(Ordering::Relaxed) as u16,
            max_io_size: self.max_io_size.load(Ordering::Relaxed).min(segs * 4096),
            max_segments: segs,
        })
    }

    /// `rtrs_clt_get_permit()`: `Wait` sleeps (process context) until a
    /// permit is free; `NoWait` may be called from any context but hardirq.
    pub(crate) fn get_permit(&self, con: ConType, wait: PermitWait) -> Option<Permit> {
        let permits = self.permits.lock().clone()?;
        permits.get(con, wait)
    }

    /// `rtrs_clt_request()`: see `ops`.
    pub(crate) fn request(
        &self,
        dir: Dir,
        permit: Permit,
        usr: &[u8],
        data: ReqData,
        done: Done,
    ) -> core::result::Result<(), (Error, Permit, ReqData)> {
        let policy = self.mp_policy.load(Ordering::Relaxed);
        let req = InFlight {
            dir,
            permit,
            done,
            usr_len: usr.len(),
            plain: None,
            min_inflight: policy == MP_POLICY_MIN_INFLIGHT,
        };
        match self.send_on_paths(None, req, usr, data) {
            Ok(()) => Ok(()),
            Err((e, req, data)) => Err((e, req.permit, data)),
        }
    }

    /// `rtrs_clt_rdma_cq_direct()`: processes the completions of poll
    /// connection `index` of every connected path, here (process
    /// context). Returns how many there were, or -1 if no path is
    /// connected (upstream: "for block layer not to try again").
    /// Unlike upstream, every connected path is polled (not only up to
    /// the first with completions) and the connection is the poll one
    /// (`cid = nr_cpu_ids + 1 + index`, upstream `con[index + 1]` with a
    /// blk-mq queue number); a path without it is skipped.
    pub(crate) fn poll(&self, index: u32) -> i32 {
        let mut found: Option<u32> = None;
        let mut i = 0;
        loop {
            // One path at a time: completions may need the paths lock
            // (failover, policy order).
            let path = match self.paths.lock().get(i) {
                Some(p) => p.clone(),
                None => break,
            };
            i += 1;
            if !path.is_connected() {
                continue;
            }
            let n = path.poll_conn(index);
            found = Some(found.unwrap_or(0).saturating_add(n));
        }
        match found {
            Some(n) => n.min(i32::MAX as u32) as i32,
            None => -1,
        }
    }

    /// Tries the connected paths in policy order (except `skip`). The
    /// first choice is picked under the paths lock without allocating
    /// (the common case: it takes the request); only when it fails is the
    /// whole order built, with the paths tried so far left out.
    fn send_on_paths(
        &self,
        skip: Option<&Arc<CltPath>>,
        req: InFlight,
        usr: &[u8],
        data: ReqData,
    ) -> core::result::Result<(), (Error, InFlight, ReqData)> {
        let Some(first) = self.first_choice(skip) else {
            return Err((ECONNABORTED(), req, data));
        };
        let (err, req, data) = match self.send_on_path(&first, req, usr, data) {
            Ok(()) => return Ok(()),
            Err(failed) => failed,
        };
        if err == EMSGSIZE() {
            return Err((err, req, data));
        }
        let order = match self.path_order(skip, &first) {
            Ok(order) => order,
            Err(e) => return Err((e, req, data)),
        };
        let (mut err, mut req, mut data) = (err, req, data);
        for path in order.iter() {
            match self.send_on_path(path, req, usr, data) {
                Ok(()) => return Ok(()),
                Err((e, r, d)) => {
                    req = r;
                    data = d;
                    if e == EMSGSIZE() {
                        return Err((e, req, data));
                    }
                    err = e;
                }
            }
        }
        Err((err, req, data))
    }

    /// Sends on one path if it is connected (ECONNABORTED if not).
    fn send_on_path(
        &self,
        path: &Arc<CltPath>,
        req: InFlight,
        usr: &[u8],
        data: ReqData,
    ) -> core::result::Result<(), (Error, InFlight, ReqData)> {
        let Some(conns) = path.conns() else {
            return Err((ECONNABORTED(), req, data));
        };
        if !path.is_connected() {
            return Err((ECONNABORTED(), req, data));
        }
        // `rtrs_permit_to_clt_con()`: IO connections are 1 ..
        // irq_con_num - 1; poll connections follow.
        let n = path.irq_con_num();
        let io_cid = if n > 1 {
            (req.permit.cpu() as usize % (n - 1)) + 1
        } else {
            0
        };
        let cid = match req.permit.con_type() {
            ConType::Admin => 0,
            ConType::Io => io_cid,
            ConType::Poll(i) => path.poll_cid(u32::from(i)).unwrap_or(io_cid),
        };
        path.request_sent(req.dir, usr.len() + data.len(), req.min_inflight);
        conns.send(cid, req, usr, data).map_err(|(e, r, d)| {
            path.request_done(&r, 0, false);
            (e, r, d)
        })
    }

    /// The path the policy tries first (except `skip`), picked under the
    /// lock: round robin takes the next connected path, the others the
    /// least loaded (fewest in flight, lowest heartbeat latency); ties go
    /// to the earlier path, as a stable sort of the order would.
    fn first_choice(&self, skip: Option<&Arc<CltPath>>) -> Option<Arc<CltPath>> {
        let paths = self.paths.lock();
        let usable =
            |p: &&Arc<CltPath>| p.is_connected() && !skip.is_some_and(|s| Arc::ptr_eq(s, p));
        let chosen = match self.mp_policy.load(Ordering::Relaxed) {
            MP_POLICY_RR => {
                let count = paths.iter().filter(usable).count();
                if count == 0 {
                    return None;
                }
                let start = self.rr_next.fetch_add(1, Ordering::Relaxed) as usize % count;
                paths.iter().filter(usable).nth(start)
            }
            MP_POLICY_MIN_LATENCY => paths
                .iter()
                .filter(usable)
                .min_by_key(|p| p.hb_cur_latency.load(Ordering::Relaxed)),
            _ => paths
                .iter()
                .filter(usable)
                .min_by_key(|p| p.stats.inflight.load(Ordering::Relaxed)),
        };
        chosen.cloned()
    }

    /// The other connected paths (except `skip` and `tried`), in the
    /// order the policy tries them.
    fn path_order(
        &self,
        skip: Option<&Arc<CltPath>>,
        tried: &Arc<CltPath>,
    ) -> Result<KVec<Arc<CltPath>>> {
        let paths = self.paths.lock();
        let mut out = KVec::with_capacity(paths.len(), GFP_ATOMIC)?;
        for p in paths.iter() {
            if p.is_connected()
                && !Arc::ptr_eq(tried, p)
                && !skip.is_some_and(|s| Arc::ptr_eq(s, p))
            {
                out.push(p.clone(), GFP_ATOMIC)?;
            }
        }
        drop(paths);
        match self.mp_policy.load(Ordering::Relaxed) {
            MP_POLICY_RR => {}
            MP_POLICY_MIN_LATENCY => {
                sort_few_by_key(&mut out, |p| p.hb_cur_latency.load(Ordering::Relaxed));
            }
            _ => {
                sort_few_by_key(&mut out, |p| p.stats.inflight.load(Ordering::Relaxed));
            }
        }
        Ok(out)
    }

    /// Re-sends a request of a failed path on another (`rtrs_clt_failover_req()`).
    pub(crate) fn failover(
        &self,
        from: &Arc<CltPath>,
        req: InFlight,
        usr: &[u8],
        data: ReqData,
    ) -> core::result::Result<(), (Error, InFlight, ReqData)> {
        self.send_on_paths(Some(from), req, usr, data)?;
        from.stats.failover_cnt.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn sessname(&self) -> &[u8] {
        &self.sessname
    }

    pub(crate) fn paths_uuid(&self) -> Uuid {
        self.paths_uuid
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn reconnect_delay_sec(&self) -> u8 {
        self.reconnect_delay_sec
    }

    pub(crate) fn max_reconnect_attempts(&self) -> i32 {
        self.max_reconnect_attempts.load(Ordering::Relaxed)
    }

    pub(crate) fn set_max_reconnect_attempts(&self, v: i32) {
        self.max_reconnect_attempts.store(v, Ordering::Relaxed);
    }

    /// What a connected path learned (last writer wins, as upstream).
    pub(crate) fn set_params(&self, p: &PathParams, max_pages: u32) {
        self.queue_depth
            .store(u32::from(p.queue_depth), Ordering::Relaxed);
        let cur = self.max_io_size.load(Ordering::Relaxed);
        let io = if cur == 0 {
            p.max_io_size
        } else {
            cur.min(p.max_io_size)
        };
        self.max_io_size.store(io, Ordering::Relaxed);
        self.max_segments
            .store(max_pages.min(MAX_SEGMENTS), Ordering::Relaxed);
    }

    /// `rtrs_clt_path_up()`.
    pub(crate) fn path_up(&self) {
        if self.paths_up.fetch_add(1, Ordering::AcqRel) == 0 {
            self.ops.link_event(LinkEvent::Reconnected);
        }
    }

    /// `rtrs_clt_path_down()`.
    pub(crate) fn path_down(&self) {
        if self.paths_up.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.ops.link_event(LinkEvent::Disconnected);
        }
    }

    #[allow(dead_code)]
    pub(crate) fn path_state_counts(&self) -> (usize, usize) {
        let paths = self.paths.lock();
        let up = paths
            .iter()
            .filter(|p| p.state() == State::Connected)
            .count();
        (up, paths.len())
    }
}

/// Insertion sort for the few paths of a session, stable and without the
/// generic sort of `core` (whose code objtool flags as falling through in
/// a kernel module). The keys are live counters: an order that is stale by
/// the time it is used is fine, and the loop ends whatever they read.
fn sort_few_by_key<T, K: Ord>(items: &mut [T], key: impl Fn(&T) -> K) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && key(&items[j - 1]) > key(&items[j]) {
            items.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// An address of `add_path` as a socket address: `ip:` through the
/// kernel's `inet_pton_with_scope()`, `gid:` as `AF_IB`.
pub(crate) fn to_address(addr: &crate::addr::Addr<'_>) -> Result<crate::kernel_ext::rdma::Address> {
    use crate::addr::Host;
    use crate::kernel_ext::rdma::Address;
    match addr.host {
        Host::Gid(gid) => Ok(Address::ib_gid(&gid, addr.port)),
        Host::Ip4(_) | Host::Ip6 { .. } => {
            let text = core::str::from_utf8(addr.text).map_err(|_| EINVAL)?;
            Address::parse(text, addr.port)
        }
    }
}
