// SPDX-License-Identifier: GPL-2.0

//! rdma_cm ids: an active side that resolves and connects, a listener that
//! accepts or rejects, both with private data, events delivered to a
//! handler.
//!
//! # Who destroys an id
//!
//! The CM core destroys an id itself when its event handler returns
//! non-zero, and `rdma_destroy_id` called from inside that id's own handler
//! deadlocks on the handler mutex. Neither is left to the driver:
//!
//! - a [`CmId`] handle owns its id; dropping it destroys the id;
//! - dropping it *inside one of that id's own events* does not call
//!   `rdma_destroy_id` there: the handle marks the id, and the event
//!   wrapper hands the destruction to the [`CmContext`]'s workqueue,
//!   whose `rdma_destroy_id` waits for the handler to return;
//! - dropping it inside *another* id's event (say, a connection closing
//!   the other connections of its path) defers it the same way: a second
//!   `rdma_destroy_id` there would take another `handler_mutex` inside
//!   the first, and two handlers doing that to each other deadlock;
//! - inside the connect request that created it (and for a request the
//!   listener's handler neither adopts nor rejects) the wrapper returns
//!   non-zero and the core destroys the new id, while the listener,
//!   which the module still owns, is held.
//!
//! So every id is destroyed exactly once, never from inside its own
//! handler.
//!
//! # Module unload
//!
//! Every id belongs to the module's [`CmContext`]. Dropping the context
//! waits until every id is gone and destroys its workqueue, which waits
//! for deferred destructions; after that no handler of the module can run.
//! (Returning non-zero from an ordinary event would not allow this: the
//! core destroys the id after the module's code returned, with nothing to
//! wait for.)

use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize, Ordering};

use crate::kernel_ext::bindings;
use kernel::c_str;
use kernel::error::{code::*, to_result, Result};
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::task::Task;

use super::qp::QueuePair;
use super::verbs::{self, CompletionQueue, DeviceRef, ProtectionDomain, QpCaps};
use super::Address;
use crate::kernel_ext::errno::ENOTCONN;

/// What happened on an id (`enum rdma_cm_event_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmEventKind {
    AddrResolved,
    AddrError,
    RouteResolved,
    RouteError,
    ConnectRequest,
    ConnectResponse,
    ConnectError,
    Unreachable,
    Rejected,
    Established,
    Disconnected,
    DeviceRemoval,
    AddrChange,
    TimewaitExit,
    /// Multicast and anything newer; carries the raw value.
    Other(u32),
}

impl CmEventKind {
    fn from_raw(raw: u32) -> Self {
        match raw {
            bindings::rdma_cm_event_type_RDMA_CM_EVENT_ADDR_RESOLVED => Self::AddrResolved,
            bindings::rdma_cm_event_type_RDMA_CM_EVENT_ADDR_ERROR => Self::AddrError,
            bindings::rdma_cm_event_type_RDMA_CM_EVENT_ROUTE_RESOLVED => Self::RouteResolved,
            bindings::rdma_cm_event_type_RDMA_CM_EVENT_ROUTE_ERROR => Self::RouteError,
            bindings::rdma_cm_event_type_RDMA_CM_EVENT_CONNECT_REQUEST => Self::ConnectRequest,
            bindings::rdma_cm_event_type_RDMA_CM_EVENT_CONNECT_RESPONSE => Self::ConnectResponse,
            bindings::rdma_cm_event_type_RDMA_CM_EVENT_CONNECT_ERROR => Self::ConnectError,
            bindings::rdma_cm_event_type_RDMA_CM_EVENT_UNREACHABLE => Self::Unreachable,
            bindings::rdma_cm_event_type_RDMA_CM_EVENT_REJECTED => Self::Rejected,
            bindings::rdma_cm_event_type_RDMA_CM_EVENT_ESTABLISHED => Self::Established,
            bindings::rdma_cm_event_type_RDMA_CM_EVENT_DISCONNECTED => Self::Disconnected,
            bindings::rdma_cm_event_type_RDMA_CM_EVENT_DEVICE_REMOVAL => Self::DeviceRemoval,
            bindings::rdma_cm_event_type_RDMA_CM_EVENT_ADDR_CHANGE => Self::AddrChange,
            bindings::rdma_cm_event_type_RDMA_CM_EVENT_TIMEWAIT_EXIT => Self::TimewaitExit,
            other => Self::Other(other),
        }
    }
}

/// One event, valid during the handler call.
pub struct CmEvent<'a> {
    raw: &'a bindings::rdma_cm_event,
}

impl CmEvent<'_> {
    pub fn kind(&self) -> CmEventKind {
        CmEventKind::from_raw(self.raw.event)
    }

    /// The event's status: 0, a negative errno, or for `Rejected` the IB CM
    /// reject reason.
    pub fn status(&self) -> i32 {
        self.raw.status
    }

    /// The private data of a connect request, response or reject (empty
    /// for other events). For IB/RoCE the CM pads it to its fixed size.
    pub fn private_data(&self) -> &[u8] {
        // SAFETY: `conn` is the union member the CM fills for connection
        // events; for others `private_data` is NULL or its length 0.
        let conn = unsafe { &self.raw.param.conn };
        if conn.private_data.is_null() {
            return &[];
        }
        // SAFETY: The CM guarantees `private_data_len` bytes at
        // `private_data` for the duration of the event.
        unsafe {
            core::slice::from_raw_parts(
                conn.private_data.cast::<u8>(),
                usize::from(conn.private_data_len),
            )
        }
    }
}

/// Receives the events of an id.
pub trait CmHandler: Send + Sync + 'static {
    /// Called for every event on the id, in the CM's process context, with
    /// the id's handler mutex held: connect, accept and disconnect may be
    /// called on `id`; dropping the id's own [`CmId`] here is allowed and
    /// makes the core destroy it when the handler returns.
    fn event(&self, id: &CmIdRef<'_>, event: &CmEvent<'_>);
}

/// Receives the connect requests of a listener.
pub trait ListenHandler: Send + Sync + 'static {
    /// Called for each connect request. Adopt the new id with
    /// [`ConnectRequest::adopt`] and accept it, or reject it with
    /// [`ConnectRequest::reject`]; a request left alone is refused.
    fn connect_request(&self, request: ConnectRequest<'_>, event: &CmEvent<'_>);

    /// Other events on the listening id itself (device removal).
    fn event(&self, event: &CmEvent<'_>) {
        let _ = event;
    }
}

const ALIVE: u8 = 0;
/// The owner handle is destroying the id with `rdma_destroy_id`.
const OWNER_DESTROYS: u8 = 1;
/// The handle was dropped inside the id's own event: the event wrapper
/// defers the destruction to the context's workqueue (or, in a connect
/// request, returns non-zero so that the core destroys it).
const DEFERRED: u8 = 2;
/// The handle was dropped inside another id's event: its destruction is
/// queued on the context's workqueue already.
const QUEUED: u8 = 3;
/// Which of the states above the id is in.
const STATE_MASK: u8 = 3;
/// Or'ed into `ALIVE` while `create_qp` runs: a release waits for it, so
/// no QP is created on an id that is going away.
const CREATING_QP: u8 = 4;

/// What an id's `context` points at: shared by the handle and the events.
///
/// # Invariants
///
/// `id` is the id whose context points here, set once before any event
/// can be delivered; `in_event` is the task running this id's event
/// handler, or null.
struct IdInner<H> {
    context: ContextRef,
    id: AtomicPtr<bindings::rdma_cm_id>,
    state: AtomicU8,
    in_event: AtomicPtr<Task>,
    /// The id's QP (an `Arc::into_raw`), or null.
    qp: AtomicPtr<QueuePair>,
    handler: H,
}

impl<H> IdInner<H> {
    fn new(context: ContextRef, handler: H) -> Self {
        context.get().live.fetch_add(1, Ordering::AcqRel);
        IdInner {
            context,
            id: AtomicPtr::new(ptr::null_mut()),
            state: AtomicU8::new(ALIVE),
            in_event: AtomicPtr::new(ptr::null_mut()),
            qp: AtomicPtr::new(ptr::null_mut()),
            handler,
        }
    }

    /// Creates a kernel id (RC, port space `ps`, initial namespace) whose
    /// events go to `event_handler` with the returned inner as context.
    /// The id holds one reference on the inner until it is destroyed.
    fn create(
        context: ContextRef,
        handler: H,
        event_handler: unsafe extern "C" fn(
            *mut bindings::rdma_cm_id,
            *mut bindings::rdma_cm_event,
        ) -> kernel::ffi::c_int,
        ps: PortSpace,
    ) -> Result<Arc<Self>> {
        let inner = Arc::new(IdInner::new(context, handler), GFP_KERNEL)?;
        let context = Arc::into_raw(inner.clone());
        // SAFETY: `init_net` is the initial namespace; `context` stays
        // valid (the id's reference) until the id is destroyed;
        // `event_handler` expects this context type (callers pair them);
        // the name is our module's, as the `rdma_create_id` macro would
        // pass.
        let id = unsafe {
            bindings::__rdma_create_kernel_id(
                ptr::addr_of_mut!(bindings::init_net),
                Some(event_handler),
                context.cast_mut().cast(),
                ps.raw(),
                bindings::ib_qp_type_IB_QPT_RC,
                crate::__LOG_PREFIX.as_ptr().cast(),
            )
        };
        match kernel::error::from_err_ptr(id) {
            Ok(id) => {
                inner.id.store(id, Ordering::Release);
                Ok(inner)
            }
            Err(e) => {
                // SAFETY: The id was not created; take back its reference.
                drop(unsafe { Arc::from_raw(context) });
                Err(e)
            }
        }
    }

    /// Closes and drains the id's QP, if it has one (every posted context
    /// completes), destroys it, and drops the id's reference to it. Must
    /// run before the id is destroyed, by whoever destroys it.
    fn destroy_qp(&self) {
        let qp = self.qp.swap(ptr::null_mut(), Ordering::AcqRel);
        if qp.is_null() {
            return;
        }
        // SAFETY: `qp` came from `Arc::into_raw` in `create_qp`; the swap
        // made this the only place that takes it back.
        let qp = unsafe { Arc::from_raw(qp) };
        qp.close();
        // SAFETY: The id is live and has this QP; nothing posts on it any
        // more (closed) and nothing is outstanding (drained).
        unsafe { bindings::rdma_destroy_qp(self.id.load(Ordering::Acquire)) };
    }

    fn current_task() -> *mut Task {
        let task: &Task = kernel::current!();
        ptr::from_ref(task).cast_mut()
    }

    /// Releases the id: destroys it now; inside its own event, marks it
    /// for the event wrapper to defer; inside another id's event (of any
    /// context of this module), defers it at once. The id's reference on
    /// `self` goes with it.
    fn release(this: &Arc<Self>)
    where
        H: Send + Sync + 'static,
    {
        let task = Self::current_task();
        let inside_own_event = this.in_event.load(Ordering::Acquire) == task;
        // `rdma_destroy_id` inside another id's handler would take a
        // second `handler_mutex` (lockdep: recursive locking; and a real
        // ABBA deadlock when two handlers destroy each other's ids).
        let slot = if !inside_own_event && handlers::running_in(task) {
            KBox::new_uninit(GFP_KERNEL).ok()
        } else {
            None
        };
        let want = if inside_own_event {
            DEFERRED
        } else if slot.is_some() {
            QUEUED
        } else {
            OWNER_DESTROYS
        };
        loop {
            match this
                .state
                .compare_exchange(ALIVE, want, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                // A QP is being created on another CPU: let it finish, so
                // that the QP is torn down with the id.
                Err(state) if state == ALIVE | CREATING_QP => {
                    crate::kernel_ext::delay::msleep(1);
                }
                Err(_) => return,
            }
        }
        match (want, slot) {
            (QUEUED, Some(slot)) => {
                // SAFETY: The state is QUEUED: nobody else destroys the id
                // or takes its reference, which the deferred work gets.
                let inner = unsafe { Arc::from_raw(ptr::from_ref::<Self>(this)) };
                defer(slot, inner);
            }
            (OWNER_DESTROYS, _) => {
                this.destroy_id();
                // SAFETY: The id held one reference on us (`into_raw` when
                // it was created or adopted); no event can use it any more.
                drop(unsafe { Arc::from_raw(ptr::from_ref::<Self>(this)) });
            }
            // DEFERRED: the event wrapper takes it from here.
            _ => {}
        }
    }

    /// Destroys the QP and the id. Called once, by whoever won the state
    /// (the owner, or the deferred work), never inside the id's handler;
    /// the caller then drops the id's reference on `self`.
    fn destroy_id(&self) {
        self.destroy_qp();
        let id = self.id.load(Ordering::Acquire);
        // SAFETY: `id` is live: only the winner of the state destroys it,
        // and we are not inside its handler. It waits for a running
        // handler and delivers no events afterwards.
        unsafe { bindings::rdma_destroy_id(id) };
    }
}

impl<H> Drop for IdInner<H> {
    fn drop(&mut self) {
        self.context.get().live.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An id whose destruction the event wrapper deferred.
trait DeferredId: Send + Sync {
    fn destroy_id(&self);
}

impl<H: Send + Sync> DeferredId for IdInner<H> {
    fn destroy_id(&self) {
        IdInner::destroy_id(self)
    }
}

/// A deferred destruction: a work item on the context's workqueue.
///
/// # Invariants
///
/// `work` is the first field (the work function finds the box from it);
/// it was initialised with `run_deferred` as its function.
#[repr(C)]
struct Deferred {
    work: bindings::work_struct,
    /// The id's own reference, dropped once the id is destroyed.
    id: Arc<dyn DeferredId>,
}

/// Queues the destruction of the id of `inner` (marked `DEFERRED`) on its
/// context's workqueue, handing it the id's reference. Without memory,
/// gives the reference back.
fn defer<H: Send + Sync + 'static>(
    slot: KBox<core::mem::MaybeUninit<Deferred>>,
    inner: Arc<IdInner<H>>,
) {
    let context = inner.context;
    let deferred = KBox::write(
        slot,
        Deferred {
            work: bindings::work_struct::default(),
            id: inner,
        },
    );
    let deferred = KBox::into_raw(deferred);
    // SAFETY: `deferred` is valid; the work is initialised before it is
    // queued; the name and key are static.
    unsafe {
        bindings::init_work_with_key(
            ptr::addr_of_mut!((*deferred).work),
            Some(run_deferred),
            false,
            c_str!("rdma_cm_deferred_destroy").as_char_ptr(),
            crate::kernel_ext::sync::class_key_ptr(kernel::static_lock_class!()),
        );
        bindings::queue_work_on(
            bindings::wq_misc_consts_WORK_CPU_UNBOUND as i32,
            context.get().wq.as_ptr(),
            ptr::addr_of_mut!((*deferred).work),
        );
    }
}

/// The work function of [`Deferred`].
///
/// # Safety
///
/// Called by the workqueue with the `work` of a leaked `KBox<Deferred>`,
/// once.
unsafe extern "C" fn run_deferred(work: *mut bindings::work_struct) {
    // SAFETY: Per the contract; `work` is the first field.
    let deferred = unsafe { KBox::from_raw(work.cast::<Deferred>()) };
    deferred.id.destroy_id();
    // The box, and with it the id's reference, goes here.
}

/// What an id keeps of its context: the shared part, which the context
/// keeps alive until every id is gone.
#[derive(Clone, Copy)]
struct ContextRef(NonNull<ContextShared>);

// SAFETY: Points to `ContextShared`, which is `Sync`.
unsafe impl Send for ContextRef {}
// SAFETY: As above.
unsafe impl Sync for ContextRef {}

impl ContextRef {
    fn get(&self) -> &ContextShared {
        // SAFETY: `CmContext::drop` frees the shared part only once `live`
        // is zero, i.e. after every id (each holding a `ContextRef`) is
        // gone.
        unsafe { self.0.as_ref() }
    }
}

struct ContextShared {
    /// Runs deferred destructions.
    wq: NonNull<bindings::workqueue_struct>,
    /// Ids (their `IdInner`s) alive.
    live: AtomicUsize,
}

// SAFETY: The workqueue is thread-safe; `live` is atomic.
unsafe impl Send for ContextShared {}
// SAFETY: As above.
unsafe impl Sync for ContextShared {}

/// The rdma_cm context of a module: every id belongs to one.
///
/// Dropping it waits until every id is destroyed (including destructions
/// deferred from inside handlers) and then destroys its workqueue, so no
/// handler of the module runs afterwards. Keep it the module's last field,
/// after everything that owns ids; if ids are still owned when it drops,
/// it logs a warning every 10 s and keeps waiting rather than unload
/// under them.
///
/// # Invariants
///
/// `shared.wq` came from `alloc_workqueue` and is destroyed on drop.
pub struct CmContext {
    shared: KBox<ContextShared>,
}

impl CmContext {
    pub fn new() -> Result<Self> {
        // SAFETY: The format takes one string argument, the module name
        // (NUL-terminated, static).
        let wq = unsafe {
            bindings::alloc_workqueue(
                c_str!("%s_cm").as_char_ptr(),
                bindings::wq_flags_WQ_MEM_RECLAIM,
                0,
                crate::__LOG_PREFIX.as_ptr(),
            )
        };
        let wq = NonNull::new(wq).ok_or(ENOMEM)?;
        let shared = KBox::new(
            ContextShared {
                wq,
                live: AtomicUsize::new(0),
            },
            GFP_KERNEL,
        );
        match shared {
            Ok(shared) => Ok(CmContext { shared }),
            Err(e) => {
                // SAFETY: Just allocated, unused.
                unsafe { bindings::destroy_workqueue(wq.as_ptr()) };
                Err(e.into())
            }
        }
    }

    fn get_ref(&self) -> ContextRef {
        ContextRef(NonNull::from(&*self.shared))
    }
}

impl Drop for CmContext {
    fn drop(&mut self) {
        let mut waited_ms = 0u32;
        while self.shared.live.load(Ordering::Acquire) != 0 {
            if waited_ms > 0 && waited_ms % 10_000 == 0 {
                pr_warn!(
                    "rdma_cm context: {} id(s) still alive, waiting\n",
                    self.shared.live.load(Ordering::Acquire)
                );
            }
            crate::kernel_ext::delay::msleep(1);
            waited_ms += 1;
        }
        // SAFETY: Ours; it waits for queued and running work items.
        unsafe { bindings::destroy_workqueue(self.shared.wq.as_ptr()) };
    }
}

/// A borrowed id, handed to event handlers and creation callbacks.
pub struct CmIdRef<'a> {
    raw: NonNull<bindings::rdma_cm_id>,
    /// Where the id's QP is kept (its `IdInner::qp`).
    qp: &'a AtomicPtr<QueuePair>,
    /// The id's `IdInner::state`.
    state: &'a AtomicU8,
}

impl CmIdRef<'_> {
    /// The raw id, for the other parts of this layer (QP creation).
    pub(crate) fn as_raw(&self) -> *mut bindings::rdma_cm_id {
        self.raw.as_ptr()
    }

    /// Starts resolving `dst` (optionally from `src`); an `AddrResolved` or
    /// `AddrError` event follows.
    pub fn resolve_addr(&self, src: Option<&Address>, dst: &Address, timeout_ms: u32) -> Result {
        let src = src.map_or(ptr::null_mut(), |a| a.as_sockaddr().cast_mut());
        // SAFETY: The id is live; the addresses are copied by the CM.
        to_result(unsafe {
            bindings::rdma_resolve_addr(
                self.as_raw(),
                src,
                dst.as_sockaddr().cast_mut(),
                timeout_ms as _,
            )
        })
    }

    /// Starts resolving the route; `RouteResolved` or `RouteError` follows.
    pub fn resolve_route(&self, timeout_ms: u32) -> Result {
        // SAFETY: The id is live.
        to_result(unsafe { bindings::rdma_resolve_route(self.as_raw(), timeout_ms as _) })
    }

    /// Sends a connect request carrying `private_data` (at most 56 bytes
    /// for RoCE). Must be called from this id's own event handler, as the
    /// `_locked` variant requires.
    pub fn connect(&self, params: &ConnParams<'_>) -> Result {
        let mut raw = params.to_raw()?;
        // SAFETY: The id is live; we are in its handler (documented
        // requirement), so its handler mutex is held.
        to_result(unsafe { bindings::rdma_connect_locked(self.as_raw(), &mut raw) })
    }

    /// Accepts a connect request, replying with `private_data`.
    pub fn accept(&self, params: &ConnParams<'_>) -> Result {
        let mut raw = params.to_raw()?;
        // SAFETY: The id is live and was created by a connect request.
        to_result(unsafe { bindings::rdma_accept(self.as_raw(), &mut raw) })
    }

    /// Rejects a connect request with `private_data`.
    pub fn reject(&self, private_data: &[u8]) -> Result {
        reject(self.raw, private_data)
    }

    /// Starts a disconnect; `Disconnected` follows on both sides.
    pub fn disconnect(&self) -> Result {
        // SAFETY: The id is live.
        to_result(unsafe { bindings::rdma_disconnect(self.as_raw()) })
    }

    /// Lets the id bind a local port that another id still holds
    /// (`rdma_set_reuseaddr(id, 1)`), before the address is resolved.
    pub fn set_reuseaddr(&self) -> Result {
        // SAFETY: The id is live.
        to_result(unsafe { bindings::rdma_set_reuseaddr(self.as_raw(), 1) })
    }

    /// The RDMA device the id is bound to (after address resolution, or
    /// for a connect request's id).
    pub fn device(&self) -> Option<DeviceRef<'_>> {
        // SAFETY: The id is live; `device` stays valid while it is bound.
        let device = NonNull::new(unsafe { (*self.as_raw()).device })?;
        // SAFETY: A bound id keeps its device registered (a removal is
        // announced by a DeviceRemoval event first).
        Some(unsafe { DeviceRef::from_raw(device) })
    }

    /// Creates the id's RC queue pair on `pd` with the given CQs and
    /// returns the handle to post on. The QP is drained and destroyed with
    /// the id; posts after that fail with `ENOTCONN`. Fails with `EBUSY`
    /// if the id has a QP, `ENOTCONN` if it is being destroyed.
    pub fn create_qp(
        &self,
        pd: &Arc<ProtectionDomain>,
        send_cq: &Arc<CompletionQueue>,
        recv_cq: &Arc<CompletionQueue>,
        caps: QpCaps,
    ) -> Result<Arc<QueuePair>> {
        match self.state.compare_exchange(
            ALIVE,
            ALIVE | CREATING_QP,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {}
            Err(state) if state & STATE_MASK == ALIVE => return Err(EBUSY),
            Err(_) => return Err(ENOTCONN()),
        }
        let created = self.create_qp_locked(pd, send_cq, recv_cq, caps);
        self.state.fetch_and(!CREATING_QP, Ordering::AcqRel);
        created
    }

    /// `create_qp` with `CREATING_QP` held.
    fn create_qp_locked(
        &self,
        pd: &Arc<ProtectionDomain>,
        send_cq: &Arc<CompletionQueue>,
        recv_cq: &Arc<CompletionQueue>,
        caps: QpCaps,
    ) -> Result<Arc<QueuePair>> {
        if !self.qp.load(Ordering::Acquire).is_null() {
            return Err(EBUSY);
        }
        let mut attr = verbs::qp_init_attr(send_cq, recv_cq, caps);
        // SAFETY: The id is live and bound to the PD's device; the
        // attributes are valid for the call.
        to_result(unsafe { bindings::rdma_create_qp(self.as_raw(), pd.as_raw(), &mut attr) })?;
        // SAFETY: `rdma_create_qp` succeeded, so the id has a QP.
        let raw = unsafe { NonNull::new_unchecked((*self.as_raw()).qp) };
        // SAFETY: The QP was created on `pd` with these CQs; the id
        // destroys it only after `close` (`IdInner::destroy_qp`).
        let qp = unsafe {
            QueuePair::new(
                raw,
                // The device may have made the queue larger.
                attr.cap.max_send_wr.max(caps.max_send_wr),
                pd.clone(),
                send_cq.clone(),
                recv_cq.clone(),
            )
        };
        let qp = match qp.and_then(|qp| Ok(Arc::new(qp, GFP_KERNEL)?)) {
            Ok(qp) => qp,
            Err(e) => {
                // SAFETY: Created just above; nothing uses it.
                unsafe { bindings::rdma_destroy_qp(self.as_raw()) };
                return Err(e.into());
            }
        };
        self.qp
            .store(Arc::into_raw(qp.clone()).cast_mut(), Ordering::Release);
        Ok(qp)
    }

    /// The local address of the connection (`route.addr.src_addr`).
    pub fn src_addr(&self) -> super::Address {
        // SAFETY: The id is live; its route addresses are plain storage.
        unsafe { super::Address::from_storage(ptr::addr_of!((*self.as_raw()).route.addr.src_addr)) }
    }

    /// The peer's address (`route.addr.dst_addr`).
    pub fn dst_addr(&self) -> super::Address {
        // SAFETY: As for `src_addr`.
        unsafe { super::Address::from_storage(ptr::addr_of!((*self.as_raw()).route.addr.dst_addr)) }
    }

    /// The port of the RDMA device the id is bound to.
    pub fn port_num(&self) -> u32 {
        // SAFETY: The id is live.
        u32::from(unsafe { (*self.as_raw()).port_num })
    }

    /// The name of the RDMA device the id is bound to, if resolved.
    pub fn device_name(&self) -> Option<&kernel::str::CStr> {
        self.device().map(|device| device.name())
    }
}

/// `enum ib_cm_rej_reason` in `rdma/ib_cm.h`: the reject reason of
/// consumer (ULP) rejects, which is what makes the CM deliver the private
/// data to the peer.
const IB_CM_REJ_CONSUMER_DEFINED: u8 = 28;

/// Rejects the connect request of the live id `id` with `private_data`,
/// as a consumer reject (so the peer receives the data).
fn reject(id: NonNull<bindings::rdma_cm_id>, private_data: &[u8]) -> Result {
    let len = u8::try_from(private_data.len()).map_err(|_| EINVAL)?;
    // SAFETY: `id` is live (callers hold it or are in its event); the data
    // is copied by the CM.
    to_result(unsafe {
        bindings::rdma_reject(
            id.as_ptr(),
            private_data.as_ptr().cast(),
            len,
            IB_CM_REJ_CONSUMER_DEFINED,
        )
    })
}

/// Connection parameters for connect and accept.
pub struct ConnParams<'a> {
    pub private_data: &'a [u8],
    pub responder_resources: u8,
    pub initiator_depth: u8,
    pub retry_count: u8,
    pub rnr_retry_count: u8,
    pub flow_control: bool,
}

impl<'a> ConnParams<'a> {
    /// Parameters as RTRS uses them, with `private_data`.
    pub fn new(private_data: &'a [u8]) -> Self {
        ConnParams {
            private_data,
            responder_resources: 1,
            initiator_depth: 1,
            retry_count: 7,
            rnr_retry_count: 7,
            flow_control: true,
        }
    }

    fn to_raw(&self) -> Result<bindings::rdma_conn_param> {
        // SAFETY: All-zero is a valid `rdma_conn_param`.
        let mut raw: bindings::rdma_conn_param = unsafe { core::mem::zeroed() };
        raw.private_data = self.private_data.as_ptr().cast();
        raw.private_data_len = u8::try_from(self.private_data.len()).map_err(|_| EINVAL)?;
        raw.responder_resources = self.responder_resources;
        raw.initiator_depth = self.initiator_depth;
        raw.retry_count = self.retry_count;
        raw.rnr_retry_count = self.rnr_retry_count;
        raw.flow_control = u8::from(self.flow_control);
        Ok(raw)
    }
}

/// An owned rdma_cm id (RC, TCP port space) whose events go to `H`.
///
/// Dropping it sleeps (it drains the QP and destroys the id), so, like
/// `Mutex::lock`, it belongs in process context: not in a completion
/// callback (softirq), where a driver hands the drop to a work item.
///
/// # Invariants
///
/// `inner.id` is live until [`IdInner::release`] runs from this handle's
/// drop; the id holds one reference on `inner`.
pub struct CmId<H: CmHandler> {
    inner: Arc<IdInner<Arc<H>>>,
}

impl<H: CmHandler> CmId<H> {
    /// Creates an id of `context` in the initial network namespace, in
    /// the TCP port space (IP addresses).
    pub fn new(context: &CmContext, handler: Arc<H>) -> Result<Self> {
        Self::with_port_space(context, handler, PortSpace::Tcp)
    }

    /// Creates an id in port space `ps`: [`PortSpace::Ib`] for an `AF_IB`
    /// destination, as upstream RTRS picks it (see
    /// [`Address::port_space`]).
    pub fn with_port_space(context: &CmContext, handler: Arc<H>, ps: PortSpace) -> Result<Self> {
        Ok(CmId {
            inner: IdInner::create(context.get_ref(), handler, id_event::<H>, ps)?,
        })
    }

    /// The id, to call CM operations on.
    pub fn as_ref(&self) -> CmIdRef<'_> {
        CmIdRef {
            // SAFETY: Set at creation, live per the type invariant.
            raw: unsafe { NonNull::new_unchecked(self.inner.id.load(Ordering::Acquire)) },
            qp: &self.inner.qp,
            state: &self.inner.state,
        }
    }

    pub fn handler(&self) -> &Arc<H> {
        &self.inner.handler
    }

    /// Closes, drains and destroys the id's QP now (every posted context
    /// completes), keeping the id. For drivers that must free what the
    /// QP used (MRs, the PD) before the id goes: on device removal every
    /// resource of the device has to be gone by the time its last id is
    /// destroyed. Process context, not in one of the QP's completions.
    pub fn close_qp(&self) {
        self.inner.destroy_qp();
    }
}

impl<H: CmHandler> Drop for CmId<H> {
    fn drop(&mut self) {
        IdInner::release(&self.inner);
    }
}

/// Runs a handler call with the id marked as in its own event, and says
/// whether the core must destroy the id afterwards.
fn in_event<H>(inner: &IdInner<H>, call: impl FnOnce()) -> bool {
    let task = IdInner::<H>::current_task();
    let previous = inner.in_event.swap(task, Ordering::AcqRel);
    handlers::run_as_handler(task, call);
    inner.in_event.store(previous, Ordering::Release);
    inner.state.load(Ordering::Acquire) & STATE_MASK == DEFERRED
}

/// The tasks running one of this module's CM event handlers, so that an id
/// dropped inside a handler (of another id) is destroyed from the
/// workqueue instead.
mod handlers {
    use core::ptr;
    use core::sync::atomic::{AtomicPtr, Ordering};

    use kernel::task::Task;

    /// More than the CM's event threads that can run our handlers at once;
    /// a handler that finds no free slot runs unregistered, and an id
    /// dropped there is destroyed synchronously (as before this list).
    const SLOTS: usize = 64;

    static RUNNING: [AtomicPtr<Task>; SLOTS] = [const { AtomicPtr::new(ptr::null_mut()) }; SLOTS];

    /// Runs `call` with `task` registered as inside a handler.
    pub(super) fn run_as_handler(task: *mut Task, call: impl FnOnce()) {
        let slot = RUNNING.iter().find(|slot| {
            slot.compare_exchange(ptr::null_mut(), task, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        });
        call();
        if let Some(slot) = slot {
            slot.store(ptr::null_mut(), Ordering::Release);
        }
    }

    /// Whether `task` is inside one of our handlers.
    pub(super) fn running_in(task: *mut Task) -> bool {
        RUNNING
            .iter()
            .any(|slot| slot.load(Ordering::Acquire) == task)
    }
}

/// The CM event handler of ids owned by [`CmId<H>`].
///
/// # Safety
///
/// Called by the CM with a live id whose context is an `IdInner<Arc<H>>`
/// holding the id's reference.
unsafe extern "C" fn id_event<H: CmHandler>(
    id: *mut bindings::rdma_cm_id,
    event: *mut bindings::rdma_cm_event,
) -> kernel::ffi::c_int {
    // SAFETY: Per the contract: the context holds a reference on `inner`.
    let inner = unsafe { &*(*id).context.cast::<IdInner<Arc<H>>>() };
    let id_ref = CmIdRef {
        // SAFETY: Live per the contract.
        raw: unsafe { NonNull::new_unchecked(id) },
        qp: &inner.qp,
        state: &inner.state,
    };
    // SAFETY: The event is valid for the call.
    let event = CmEvent {
        raw: unsafe { &*event },
    };
    let handler = inner.handler.clone();
    if !in_event(inner, || handler.event(&id_ref, &event)) {
        return 0;
    }
    // The handle was dropped in the event: the context's workqueue
    // destroys the id once this handler has returned.
    let context = inner.context;
    // SAFETY: The state is DEFERRED: nobody else destroys the id or takes
    // its reference, which we hand to the deferred work (or back to the
    // core below).
    let inner = unsafe { Arc::from_raw(ptr::from_ref(inner)) };
    match KBox::new_uninit(GFP_KERNEL) {
        Ok(slot) => {
            defer(slot, inner);
            0
        }
        Err(_) => {
            // No memory for the work item: let the core destroy the id
            // (the one case where module code may still be returning when
            // the id is gone; module unload is not blocked by it).
            pr_warn!("rdma_cm: no memory to defer an id's destruction\n");
            let _ = context;
            inner.destroy_qp();
            drop(inner);
            1
        }
    }
}

/// The port space of an id (`enum rdma_ucm_port_space`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortSpace {
    /// `RDMA_PS_TCP`: IP addresses (IPv4, IPv6).
    Tcp,
    /// `RDMA_PS_IB`: native InfiniBand addresses (`AF_IB`, a GID and a
    /// service id).
    Ib,
}

impl PortSpace {
    fn raw(self) -> bindings::rdma_ucm_port_space {
        match self {
            PortSpace::Tcp => bindings::rdma_ucm_port_space_RDMA_PS_TCP,
            PortSpace::Ib => bindings::rdma_ucm_port_space_RDMA_PS_IB,
        }
    }
}

/// A listening id; connect requests go to `L`.
pub struct Listener<L: ListenHandler> {
    inner: Arc<IdInner<Arc<L>>>,
}

impl<L: ListenHandler> Listener<L> {
    /// Binds to `addr` (any address with a port to listen on all) and
    /// listens with `backlog`, in the port space of the address's family
    /// (an `AF_IB` address listens in the IB port space).
    pub fn listen(
        context: &CmContext,
        handler: Arc<L>,
        addr: &Address,
        backlog: i32,
    ) -> Result<Self> {
        let inner = IdInner::create(
            context.get_ref(),
            handler,
            listener_event::<L>,
            addr.port_space(),
        )?;
        let id = inner.id.load(Ordering::Acquire);
        let listener = Listener { inner };
        // SAFETY: The id is live; the address is copied.
        to_result(unsafe { bindings::rdma_bind_addr(id, addr.as_sockaddr().cast_mut()) })?;
        // SAFETY: The id is live and bound.
        to_result(unsafe { bindings::rdma_listen(id, backlog) })?;
        Ok(listener)
    }
}

impl<L: ListenHandler> Drop for Listener<L> {
    fn drop(&mut self) {
        IdInner::release(&self.inner);
    }
}

/// A connect request's new id, until the listener's handler adopts or
/// rejects it.
pub struct ConnectRequest<'a> {
    id: NonNull<bindings::rdma_cm_id>,
    /// The listener's context, which the new id joins.
    context: ContextRef,
    /// The id's new owner, once adopted: its state decides the return
    /// value of the listener's event.
    adopted: &'a mut Option<Arc<dyn AdoptedState>>,
}

/// The part of an adopted id the listener's event wrapper needs.
trait AdoptedState: Send + Sync {
    /// Ends the connect request event for the adopted id; true if its
    /// handle was dropped inside (its QP is then destroyed here).
    fn finish_request_event(&self) -> bool;
    /// Drops the reference the id held, once the core destroys the id.
    fn drop_id_reference(&self);
}

impl<H: CmHandler> AdoptedState for IdInner<Arc<H>> {
    fn finish_request_event(&self) -> bool {
        self.in_event.store(ptr::null_mut(), Ordering::Release);
        let core_destroys = self.state.load(Ordering::Acquire) & STATE_MASK == DEFERRED;
        if core_destroys {
            self.destroy_qp();
        }
        core_destroys
    }

    fn drop_id_reference(&self) {
        // SAFETY: Called once, when the core will destroy the id, which
        // held one reference (from `adopt`).
        drop(unsafe { Arc::from_raw(ptr::from_ref(self)) });
    }
}

impl ConnectRequest<'_> {
    /// Takes the new id: its later events go to `handler`. Accept it with
    /// `as_ref().accept(..)` (still inside this request's event).
    pub fn adopt<H: CmHandler>(self, handler: Arc<H>) -> Result<CmId<H>> {
        let inner = Arc::new(IdInner::new(self.context, handler), GFP_KERNEL)?;
        inner.id.store(self.id.as_ptr(), Ordering::Release);
        // We are inside this id's connect request event.
        inner
            .in_event
            .store(IdInner::<Arc<H>>::current_task(), Ordering::Release);
        let context = Arc::into_raw(inner.clone());
        // SAFETY: We hold the id's handler mutex (inside its event); later
        // events read the new handler and context.
        unsafe {
            (*self.id.as_ptr()).context = context.cast_mut().cast();
            (*self.id.as_ptr()).event_handler = Some(id_event::<H>);
        }
        let state: Arc<dyn AdoptedState> = inner.clone();
        *self.adopted = Some(state);
        Ok(CmId { inner })
    }

    /// Rejects the request with `private_data`; the core then destroys
    /// the new id.
    pub fn reject(self, private_data: &[u8]) -> Result {
        reject(self.id, private_data)
    }
}

/// The CM event handler of listeners.
///
/// # Safety
///
/// As for [`id_event`], with an `IdInner<Arc<L>>` context. For a connect
/// request `id` is the new id, whose context is still the listener's.
unsafe extern "C" fn listener_event<L: ListenHandler>(
    id: *mut bindings::rdma_cm_id,
    event: *mut bindings::rdma_cm_event,
) -> kernel::ffi::c_int {
    // SAFETY: Per the contract.
    let listener = unsafe { &*(*id).context.cast::<IdInner<Arc<L>>>() };
    // SAFETY: The event is valid for the call.
    let event = CmEvent {
        raw: unsafe { &*event },
    };
    if event.kind() != CmEventKind::ConnectRequest {
        handlers::run_as_handler(IdInner::<Arc<L>>::current_task(), || {
            listener.handler.event(&event)
        });
        return 0;
    }
    let mut adopted: Option<Arc<dyn AdoptedState>> = None;
    let request = ConnectRequest {
        // SAFETY: Live per the contract.
        id: unsafe { NonNull::new_unchecked(id) },
        context: listener.context,
        adopted: &mut adopted,
    };
    handlers::run_as_handler(IdInner::<Arc<L>>::current_task(), || {
        listener.handler.connect_request(request, &event)
    });
    match adopted {
        // Not adopted (left alone or rejected): the core destroys it.
        None => 1,
        Some(state) => {
            if state.finish_request_event() {
                state.drop_id_reference();
                1
            } else {
                0
            }
        }
    }
}
