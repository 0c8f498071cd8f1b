// SPDX-License-Identifier: GPL-2.0

//! The server context: the listener, the sessions and their paths, and
//! connection-request validation (`rtrs-srv.c:rtrs_rdma_connect()`).

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

use super::con::{self, ConEvents};
use super::ops::{SrvOps, SrvSessionOps};
use super::params::{ALWAYS_INVALIDATE, MAX_CHUNK_SIZE, SESS_QUEUE_DEPTH};
use super::path::{PathAddrs, PathState, SrvPath};
use super::sysfs::{PathSysfs, SessSysfs};
use crate::kernel_ext::errno::ECONNRESET;
use crate::kernel_ext::rdma::cm::{
    CmContext, CmEvent, ConnParams, ConnectRequest, ListenHandler, Listener,
};
use crate::kernel_ext::rdma::Address;
use crate::kernel_ext::sysfs::Class;
use crate::wire::{ConnReq, ConnRsp, Uuid, MAX_PATHS_NUM, RTRS_MSG_NEW_RKEY_F};
use kernel::c_str;

/// `MAX_HDR_SIZE`: the server's page size.
pub(crate) const MAX_HDR_SIZE: u32 = kernel::page::PAGE_SIZE as u32;

/// The part of a session its paths share: the user's session object.
/// When the last path (and the session's list entry) lets go of it, the
/// user hears `disconnected` (`rtrs_srv_path_down()` of the last path).
#[pin_data(PinnedDrop)]
pub(crate) struct SessShared {
    paths_uuid: Uuid,
    /// Set by the first path that connects. Process context (paths, the
    /// completion works).
    #[pin]
    user: Mutex<Option<Arc<dyn SrvSessionOps>>>,
}

impl SessShared {
    fn new(paths_uuid: Uuid) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(SessShared {
                paths_uuid,
                user <- new_mutex!(None),
            }),
            GFP_KERNEL,
        )
    }

    pub(crate) fn user(&self) -> Option<Arc<dyn SrvSessionOps>> {
        self.user.lock().clone()
    }

    /// A path of the session connected: the first one asks the server's
    /// user for its session object (`RTRS_SRV_LINK_EV_CONNECTED`); an
    /// error closes that path.
    pub(crate) fn path_up(&self, ctx: &Arc<SrvCtx>, name: &[u8], queue_depth: u16) -> Result {
        let mut user = self.user.lock();
        if user.is_some() {
            return Ok(());
        }
        let mut owned = KVec::with_capacity(name.len(), GFP_KERNEL)?;
        owned.extend_from_slice(name, GFP_KERNEL)?;
        let handle = SrvSession(Arc::new(
            SessCore {
                ctx: ctx.clone(),
                paths_uuid: self.paths_uuid,
                name: owned,
                queue_depth,
            },
            GFP_KERNEL,
        )?);
        *user = Some(ctx.ops.connected(&handle)?);
        Ok(())
    }
}

#[pinned_drop]
impl PinnedDrop for SessShared {
    fn drop(self: Pin<&mut Self>) {
        if let Some(user) = self.user.lock().take() {
            user.disconnected();
        }
    }
}

struct SessCore {
    ctx: Arc<SrvCtx>,
    paths_uuid: Uuid,
    name: KVec<u8>,
    queue_depth: u16,
}

/// The user's handle of a session: its name, and closing it. Holding it
/// does not keep the session's paths.
#[derive(Clone)]
pub(crate) struct SrvSession(Arc<SessCore>);

impl SrvSession {
    /// The client's session name (`rtrs_srv_get_path_name()`).
    pub(crate) fn name(&self) -> &[u8] {
        &self.0.name
    }

    /// Its buffers (`rtrs_srv_get_queue_depth()`).
    pub(crate) fn queue_depth(&self) -> u16 {
        self.0.queue_depth
    }

    /// Closes every path of the session (from their close works): the
    /// user hears `disconnected` once they are gone. Process context
    /// (takes the sessions mutex).
    pub(crate) fn close(&self) {
        let sessions = self.0.ctx.sessions.lock();
        for sess in sessions.list.iter().flatten() {
            if sess.paths_uuid == self.0.paths_uuid {
                for path in sess.paths() {
                    path.close_async();
                }
            }
        }
    }
}

/// A server session (`struct rtrs_srv_sess`): the paths of one client
/// session, found by `paths_uuid`.
pub(crate) struct SrvSess {
    /// `/sys/devices/virtual/rtrs-server/<name>/`, from its first path's
    /// INFO; removed with the entry, under the sessions lock.
    pub(crate) sysfs: Option<SessSysfs>,
    pub(crate) shared: Arc<SessShared>,
    pub(crate) paths_uuid: Uuid,
    /// `sess_queue_depth` when the session was created.
    pub(crate) queue_depth: u16,
    /// Slots, reused; `None` once a path closed.
    pub(crate) paths: KVec<Option<Arc<SrvPath>>>,
}

impl SrvSess {
    pub(crate) fn paths(&self) -> impl Iterator<Item = &Arc<SrvPath>> {
        self.paths.iter().flatten()
    }
}

/// The sessions of the server.
pub(crate) struct Sessions {
    /// Slots, reused; `None` once a session has no path left.
    pub(crate) list: KVec<Option<SrvSess>>,
}

/// Puts `value` into the first free slot of `slots`.
fn insert<T>(slots: &mut KVec<Option<T>>, value: T) -> Result<usize> {
    if let Some(i) = slots.iter().position(|s| s.is_none()) {
        slots[i] = Some(value);
        return Ok(i);
    }
    slots.push(Some(value), GFP_KERNEL)?;
    Ok(slots.len() - 1)
}

impl Sessions {
    /// Removes `path` from its session, and the session once it has no
    /// path left. Returns whether it was there.
    pub(crate) fn remove_path(&mut self, path: &Arc<SrvPath>) -> bool {
        let Some(slot) = self
            .list
            .iter_mut()
            .find(|s| s.as_ref().is_some_and(|s| s.paths_uuid == path.paths_uuid))
        else {
            return false;
        };
        let Some(sess) = slot.as_mut() else {
            return false;
        };
        let Some(p) = sess
            .paths
            .iter_mut()
            .find(|p| p.as_ref().is_some_and(|p| Arc::ptr_eq(p, path)))
        else {
            return false;
        };
        // The session's Arc; the caller holds another one.
        drop(p.take());
        if sess.paths().next().is_none() {
            *slot = None;
        }
        true
    }
}

/// Shared by the listener, every path and the INFO works.
#[pin_data]
pub(crate) struct SrvCtx {
    /// The server's user (RNBD).
    pub(crate) ops: Arc<dyn SrvOps>,
    /// `rtrs-server`.
    pub(crate) class: Arc<Class>,
    /// The sessions, their paths and each path's connections. Process
    /// context only: CM events, the INFO work, module exit. Lock order:
    /// this, then a path's `inner`.
    #[pin]
    pub(crate) sessions: Mutex<Sessions>,
}

impl SrvCtx {
    /// The sysfs of a path that just took its session's name, and its
    /// session's device if it is the first. Runs under the sessions lock
    /// (as their removal).
    pub(crate) fn create_sysfs(
        &self,
        sessions: &mut Sessions,
        path: &Arc<SrvPath>,
        name: &[u8],
    ) -> Result<PathSysfs> {
        let sess = sessions
            .list
            .iter_mut()
            .flatten()
            .find(|s| s.paths_uuid == path.paths_uuid)
            .ok_or(ENOENT)?;
        if sess.sysfs.is_none() {
            sess.sysfs = Some(SessSysfs::create(&self.class, name)?);
        }
        let sess_sysfs = sess.sysfs.as_ref().ok_or(ENOENT)?;
        PathSysfs::create(sess_sysfs, path.clone())
    }

    /// Closes every path (module exit); returns how many there were.
    fn close_all(&self) -> usize {
        let mut closed = 0;
        loop {
            let path = {
                let sessions = self.sessions.lock();
                sessions
                    .list
                    .iter()
                    .flatten()
                    .find_map(|s| s.paths().next().cloned())
            };
            match path {
                Some(path) => {
                    closed += 1;
                    path.close();
                }
                None => return closed,
            }
        }
    }
}

/// The RTRS server of the module: listens on `port` until dropped, then
/// closes every path.
pub(crate) struct RtrsSrv {
    /// `[::]:port` (IPv4 and IPv6) and the `AF_IB` service id of `port`
    /// (native InfiniBand `gid:` clients), as upstream's `cm_id_ip` and
    /// `cm_id_ib`.
    listeners: Option<(Listener<Arc<SrvCtx>>, Listener<Arc<SrvCtx>>)>,
    ctx: Arc<SrvCtx>,
}

impl RtrsSrv {
    /// Listens on `[::]:port` (dual stack, as upstream's `AF_INET6`
    /// `in6addr_any`) and on `AF_IB` with the service id
    /// `RDMA_IB_IP_PS_IB | port` (IB port space), backlog 64 each; as
    /// upstream, either failing fails the whole.
    pub(crate) fn open(cm: &CmContext, port: u16, ops: Arc<dyn SrvOps>) -> Result<Self> {
        let class = Class::register(c_str!("rtrs-server"))?;
        let ctx = Arc::pin_init(
            pin_init!(SrvCtx {
                ops,
                class,
                sessions <- new_mutex!(Sessions { list: KVec::new() }),
            }),
            GFP_KERNEL,
        )?;
        let handler = Arc::new(ctx.clone(), GFP_KERNEL)?;
        let ip = Listener::listen(cm, handler.clone(), &Address::parse("::", port)?, 64)
            .inspect_err(|e| pr_err!("Listening on RDMA connection failed, err: {:?}\n", e))?;
        let ib = Listener::listen(cm, handler, &Address::ib_any(port), 64).inspect_err(|e| {
            pr_err!(
                "Listening on RDMA connection (AF_IB) failed, err: {:?}\n",
                e
            )
        })?;
        pr_info!("rtrs server listening on port {} (IP and AF_IB)\n", port);
        Ok(RtrsSrv {
            listeners: Some((ip, ib)),
            ctx,
        })
    }
}

impl Drop for RtrsSrv {
    fn drop(&mut self) {
        // No new connection, then every path (and its ids) goes.
        drop(self.listeners.take());
        let closed = self.ctx.close_all();
        pr_info!("rtrs server closed, {} path(s) closed at exit\n", closed);
    }
}

/// Rejects with the upstream 56-byte `ConnRsp` carrying `err`.
fn reject_data(err: Error) -> [u8; ConnRsp::SIZE] {
    ConnRsp::reject(err.to_errno() as i16).encode()
}

/// The connection's place: an existing path of a session, or a new one.
/// Runs under `sessions`. On error, the errno to reject with.
fn find_or_create_path(
    ctx: &Arc<SrvCtx>,
    sessions: &mut Sessions,
    req: &ConnReq,
    request_device: &crate::kernel_ext::rdma::cm::CmIdRef<'_>,
) -> Result<Arc<SrvPath>> {
    let cid = req.cid.get();
    let si = match sessions
        .list
        .iter()
        .position(|s| s.as_ref().is_some_and(|s| s.paths_uuid == req.paths_uuid))
    {
        Some(si) => si,
        None => {
            // `get_or_create_srv()`: only a first connection creates it.
            if !req.is_first_conn() {
                return Err(ENXIO);
            }
            insert(
                &mut sessions.list,
                SrvSess {
                    sysfs: None,
                    shared: SessShared::new(req.paths_uuid)?,
                    paths_uuid: req.paths_uuid,
                    queue_depth: SESS_QUEUE_DEPTH.get() as u16,
                    paths: KVec::new(),
                },
            )?
        }
    };
    let slot = &mut sessions.list[si];
    let sess = slot.as_mut().ok_or(EINVAL)?;
    if let Some(path) = sess.paths().find(|p| p.sess_uuid == req.sess_uuid) {
        let inner = path.inner.lock();
        if inner.state != PathState::Connecting
            || req.cid_num.get() != path.con_num
            || cid >= path.con_num
            || inner.cons.get(cid as usize).is_some_and(|c| c.is_some())
        {
            return Err(ECONNRESET());
        }
        drop(inner);
        return Ok(path.clone());
    }
    if sess.paths().count() >= MAX_PATHS_NUM as usize {
        return Err(ECONNRESET());
    }
    let addrs = PathAddrs::of(request_device)?;
    // `__is_path_w_addr_exists()`: one path per address pair.
    if sess.paths().any(|p| {
        p.addrs.client.as_bytes() == addrs.client.as_bytes()
            && p.addrs.server.as_bytes() == addrs.server.as_bytes()
    }) {
        pr_err!("rtrs server: path with same addr exists\n");
        return Err(EEXIST);
    }
    let path = SrvPath::new(
        ctx,
        &sess.shared,
        req,
        sess.queue_depth,
        request_device,
        addrs,
    );
    let path = match path {
        Ok(path) => path,
        Err(e) => {
            if sess.paths().next().is_none() {
                *slot = None;
            }
            return Err(e);
        }
    };
    insert(&mut sess.paths, path.clone())?;
    Ok(path)
}

impl ListenHandler for Arc<SrvCtx> {
    fn connect_request(&self, request: ConnectRequest<'_>, event: &CmEvent<'_>) {
        // Length, magic, major version, cid_num <= 4096, cid < cid_num.
        let req = match ConnReq::decode(event.private_data()) {
            Ok(req) => req,
            Err(e) => {
                pr_err!("rtrs server: bad connection request: {:?}\n", e);
                let _ = request.reject(&reject_data(ECONNRESET()));
                return;
            }
        };
        let cid = req.cid.get();
        let events = match Arc::pin_init(ConEvents::pending(cid), GFP_KERNEL) {
            Ok(events) => events,
            Err(_) => {
                let _ = request.reject(&reject_data(ENOMEM));
                return;
            }
        };
        // Adopted first: the device (for the path's PD and chunks) is the
        // new id's. Dropping `id` inside this event lets the core destroy it.
        let id = match request.adopt(events.clone()) {
            Ok(id) => id,
            Err(_) => return,
        };
        let mut sessions = self.sessions.lock();
        let path = match find_or_create_path(self, &mut sessions, &req, &id.as_ref()) {
            Ok(path) => path,
            Err(e) => {
                drop(sessions);
                pr_info!(
                    "rtrs server: connection {}/{} refused: {:?}\n",
                    cid,
                    req.cid_num.get(),
                    e
                );
                let _ = id.as_ref().reject(&reject_data(e));
                return;
            }
        };
        events.set_path(&path);
        let created = con::create_con(&path, cid, &id.as_ref());
        let accepted = created.and_then(|con| {
            let rsp = ConnRsp::accept(
                path.queue_depth,
                MAX_CHUNK_SIZE.get() as u32 - MAX_HDR_SIZE,
                MAX_HDR_SIZE,
                if ALWAYS_INVALIDATE.get() {
                    RTRS_MSG_NEW_RKEY_F
                } else {
                    0
                },
            )
            .encode();
            let params = ConnParams {
                private_data: &rsp,
                responder_resources: 0,
                initiator_depth: 0,
                retry_count: 0,
                rnr_retry_count: 7,
                flow_control: false,
            };
            id.as_ref().accept(&params)?;
            Ok(con)
        });
        match accepted {
            Ok(con) => {
                let mut inner = path.inner.lock();
                if let Some(slot) = inner.cons.get_mut(cid as usize) {
                    *slot = Some(con::SrvCon { qp: con, id });
                }
            }
            Err(e) => {
                pr_err!("rtrs server: connection {} set-up: {:?}\n", cid, e);
                let _ = id.as_ref().reject(&reject_data(e));
                // The whole path goes (as upstream), after the lock; this
                // id is dropped inside its request: the core destroys it.
                drop(id);
                drop(sessions);
                path.close_async();
            }
        }
    }
}
