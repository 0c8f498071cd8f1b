// SPDX-License-Identifier: GPL-2.0

//! The only `unsafe` of rnbd-peer: declarations of the C shim
//! (`c/shim.c`, over libibverbs and librdmacm) and owning wrappers around
//! its handles.
//!
//! Ownership rules the wrappers keep: every handle is created once, used
//! from one thread, and destroyed once by `Drop` (or by an explicit
//! `destroy`). The Rust side never dereferences a handle; it only passes
//! it back to the shim. Memory that the HCA may access (registered
//! regions) is owned by [`Region`], which deregisters before it frees.
//! Dependents must be dropped before what they depend on (QP before CQ and
//! PD, MR before PD, ...); `rtrs::Session` orders its fields for that.

#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr::NonNull;

/// Opaque C handles.
#[repr(C)]
pub struct RawChannel(c_void);
#[repr(C)]
pub struct RawId(c_void);
#[repr(C)]
pub struct RawContext(c_void);
#[repr(C)]
pub struct RawPd(c_void);
#[repr(C)]
pub struct RawCompChannel(c_void);
#[repr(C)]
pub struct RawCq(c_void);
#[repr(C)]
pub struct RawQp(c_void);
#[repr(C)]
pub struct RawMr(c_void);

/// `struct shim_cm_event`.
#[repr(C)]
pub struct CmEventRaw {
    event: c_int,
    status: c_int,
    ctx: usize,
    new_id: *mut RawId,
    pdata_len: u32,
    pdata: [u8; 256],
}

/// `struct shim_wc`: a work completion.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Wc {
    pub wr_id: u64,
    pub status: u32,
    pub opcode: u32,
    pub byte_len: u32,
    pub imm: u32,
    pub qp_num: u32,
    pub has_imm: u32,
    pub vendor_err: u32,
    pad: u32,
}

/// `enum ibv_wc_opcode` values the peer looks at.
pub const WC_RECV: u32 = 128;

/// `enum shim_send_op`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub enum SendOp {
    Send = 0,
    WriteWithImm = 1,
}

extern "C" {
    fn shim_create_event_channel(err: *mut c_int) -> *mut RawChannel;
    fn shim_destroy_event_channel(ch: *mut RawChannel);
    fn shim_event_channel_fd(ch: *mut RawChannel) -> c_int;
    fn shim_create_id(ch: *mut RawChannel, id: *mut *mut RawId, ctx: usize) -> c_int;
    fn shim_destroy_id(id: *mut RawId) -> c_int;
    fn shim_resolve_addr(
        id: *mut RawId,
        host: *const c_char,
        port: u16,
        timeout_ms: c_int,
    ) -> c_int;
    fn shim_resolve_route(id: *mut RawId, timeout_ms: c_int) -> c_int;
    fn shim_id_verbs(id: *mut RawId) -> *mut RawContext;
    fn shim_create_qp(
        id: *mut RawId,
        pd: *mut RawPd,
        cq: *mut RawCq,
        max_send_wr: u32,
        max_recv_wr: u32,
        qp_num: *mut u32,
    ) -> *mut RawQp;
    fn shim_destroy_qp(id: *mut RawId);
    fn shim_listen(id: *mut RawId, host: *const c_char, port: u16, backlog: c_int) -> c_int;
    fn shim_accept(id: *mut RawId, pdata: *const c_void, len: u8) -> c_int;
    fn shim_reject(id: *mut RawId, pdata: *const c_void, len: u8) -> c_int;
    fn shim_set_context(id: *mut RawId, ctx: usize);
    fn shim_connect(id: *mut RawId, pdata: *const c_void, len: u8) -> c_int;
    fn shim_disconnect(id: *mut RawId) -> c_int;
    fn shim_get_cm_event(ch: *mut RawChannel, ev: *mut CmEventRaw) -> c_int;
    fn shim_cm_event_str(event: c_int) -> *const c_char;
    fn shim_alloc_pd(ctx: *mut RawContext) -> *mut RawPd;
    fn shim_dealloc_pd(pd: *mut RawPd) -> c_int;
    fn shim_create_comp_channel(ctx: *mut RawContext, err: *mut c_int) -> *mut RawCompChannel;
    fn shim_destroy_comp_channel(ch: *mut RawCompChannel) -> c_int;
    fn shim_comp_channel_fd(ch: *mut RawCompChannel) -> c_int;
    fn shim_create_cq(ctx: *mut RawContext, cqe: c_int, ch: *mut RawCompChannel) -> *mut RawCq;
    fn shim_destroy_cq(cq: *mut RawCq) -> c_int;
    fn shim_req_notify_cq(cq: *mut RawCq) -> c_int;
    fn shim_get_cq_event(ch: *mut RawCompChannel) -> c_int;
    fn shim_reg_mr(
        pd: *mut RawPd,
        addr: *mut c_void,
        len: usize,
        lkey: *mut u32,
        rkey: *mut u32,
    ) -> *mut RawMr;
    fn shim_dereg_mr(mr: *mut RawMr) -> c_int;
    fn shim_post_recv(qp: *mut RawQp, wr_id: u64, addr: u64, len: u32, lkey: u32) -> c_int;
    #[allow(clippy::too_many_arguments)]
    fn shim_post_send(
        qp: *mut RawQp,
        wr_id: u64,
        op: c_int,
        addr: u64,
        len: u32,
        lkey: u32,
        remote_addr: u64,
        rkey: u32,
        imm: u32,
    ) -> c_int;
    fn shim_poll_cq(cq: *mut RawCq, out: *mut Wc, n: c_int) -> c_int;
    fn shim_wc_status_str(status: u32) -> *const c_char;
    fn shim_wait2(fd_a: c_int, fd_b: c_int, timeout_ms: c_int) -> c_int;
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc_eio())
}

const fn libc_eio() -> i32 {
    5
}

/// A negative errno as a result.
fn check(ret: c_int) -> Result<(), i32> {
    if ret < 0 {
        Err(-ret)
    } else {
        Ok(())
    }
}

fn static_str(p: *const c_char) -> String {
    if p.is_null() {
        return String::from("?");
    }
    // SAFETY: rdma_event_str() and ibv_wc_status_str() return pointers to
    // static NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// `rdma_event_str()`.
pub fn cm_event_str(event: i32) -> String {
    // SAFETY: plain function of an integer.
    static_str(unsafe { shim_cm_event_str(event) })
}

/// `ibv_wc_status_str()`.
pub fn wc_status_str(status: u32) -> String {
    // SAFETY: plain function of an integer.
    static_str(unsafe { shim_wc_status_str(status) })
}

/// Waits for `a` and/or `b` (-1: unused) to become readable; bit 0: `a`,
/// bit 1: `b`; 0 on timeout.
pub fn wait2(a: i32, b: i32, timeout_ms: i32) -> Result<u32, i32> {
    // SAFETY: poll() on plain file descriptors.
    let ret = unsafe { shim_wait2(a, b, timeout_ms) };
    check(ret).map(|()| ret as u32)
}

/// A received CM event (already acked).
#[derive(Clone, Debug)]
pub struct CmEvent {
    /// `enum rdma_cm_event_type`.
    pub event: i32,
    pub status: i32,
    /// The connection index given to [`CmId::create`].
    pub ctx: usize,
    pub private_data: Vec<u8>,
}

/// `enum rdma_cm_event_type` values.
pub mod cm {
    pub const ADDR_RESOLVED: i32 = 0;
    pub const ADDR_ERROR: i32 = 1;
    pub const ROUTE_RESOLVED: i32 = 2;
    pub const ROUTE_ERROR: i32 = 3;
    pub const CONNECT_REQUEST: i32 = 4;
    pub const CONNECT_ERROR: i32 = 5;
    pub const UNREACHABLE: i32 = 6;
    pub const REJECTED: i32 = 8;
    pub const ESTABLISHED: i32 = 9;
    pub const DISCONNECTED: i32 = 10;
    pub const DEVICE_REMOVAL: i32 = 11;
    pub const TIMEWAIT_EXIT: i32 = 15;
}

/// `struct rdma_event_channel`.
pub struct EventChannel(NonNull<RawChannel>);

impl EventChannel {
    pub fn new() -> Result<Self, i32> {
        let mut err = 0;
        // SAFETY: creates a new channel; err is a valid out pointer.
        let p = unsafe { shim_create_event_channel(&mut err) };
        NonNull::new(p)
            .map(EventChannel)
            .ok_or(if err != 0 { -err } else { errno() })
    }

    pub fn fd(&self) -> i32 {
        // SAFETY: self.0 is a live channel.
        unsafe { shim_event_channel_fd(self.0.as_ptr()) }
    }

    /// The next event, or `None` if none is pending (the fd is
    /// non-blocking).
    pub fn get(&self) -> Result<Option<CmEvent>, i32> {
        // A client never gets CONNECT_REQUEST: no new id to keep.
        Ok(self.get_with_id()?.map(|(ev, _)| ev))
    }

    /// The next event and, for CONNECT_REQUEST, the new connection's id
    /// (owned: destroyed when dropped).
    pub fn get_with_id(&self) -> Result<Option<(CmEvent, Option<CmId>)>, i32> {
        let mut raw = CmEventRaw {
            event: 0,
            status: 0,
            ctx: 0,
            new_id: std::ptr::null_mut(),
            pdata_len: 0,
            pdata: [0; 256],
        };
        // SAFETY: self.0 is a live channel, raw a valid out struct.
        let ret = unsafe { shim_get_cm_event(self.0.as_ptr(), &mut raw) };
        if ret == -11 {
            return Ok(None);
        }
        check(ret)?;
        let len = (raw.pdata_len as usize).min(raw.pdata.len());
        // The CONNECT_REQUEST id was created by librdmacm for us and is
        // ours to destroy (rdma_destroy_id), once.
        let new_id = NonNull::new(raw.new_id).map(|id| CmId {
            id,
            qp: None,
            qp_num: 0,
        });
        Ok(Some((
            CmEvent {
                event: raw.event,
                status: raw.status,
                ctx: raw.ctx,
                private_data: raw.pdata.get(..len).unwrap_or_default().to_vec(),
            },
            new_id,
        )))
    }
}

impl Drop for EventChannel {
    fn drop(&mut self) {
        // SAFETY: all ids on the channel were destroyed before (Session
        // field order), so the channel is unused.
        unsafe { shim_destroy_event_channel(self.0.as_ptr()) }
    }
}

/// `struct rdma_cm_id` (with its QP once created).
pub struct CmId {
    id: NonNull<RawId>,
    qp: Option<NonNull<RawQp>>,
    pub qp_num: u32,
}

impl CmId {
    /// A new RDMA_PS_TCP id on `ch`; `ctx` comes back in its events.
    pub fn create(ch: &EventChannel, ctx: usize) -> Result<Self, i32> {
        let mut id = std::ptr::null_mut();
        // SAFETY: ch is live; id is a valid out pointer.
        check(unsafe { shim_create_id(ch.0.as_ptr(), &mut id, ctx) })?;
        let id = NonNull::new(id).ok_or(libc_eio())?;
        Ok(CmId {
            id,
            qp: None,
            qp_num: 0,
        })
    }

    pub fn resolve_addr(&self, host: &str, port: u16, timeout_ms: i32) -> Result<(), i32> {
        let host = CString::new(host).map_err(|_| 22)?;
        // SAFETY: id is live, host a NUL-terminated string.
        check(unsafe { shim_resolve_addr(self.id.as_ptr(), host.as_ptr(), port, timeout_ms) })
    }

    pub fn resolve_route(&self, timeout_ms: i32) -> Result<(), i32> {
        // SAFETY: id is live.
        check(unsafe { shim_resolve_route(self.id.as_ptr(), timeout_ms) })
    }

    /// The verbs context the address resolved to (null before).
    pub fn verbs(&self) -> Option<Context> {
        // SAFETY: id is live; reading its verbs pointer.
        NonNull::new(unsafe { shim_id_verbs(self.id.as_ptr()) }).map(Context)
    }

    pub fn create_qp(&mut self, pd: &Pd, cq: &Cq, send_wr: u32, recv_wr: u32) -> Result<(), i32> {
        let mut qp_num = 0;
        // SAFETY: id, pd and cq are live; the QP is destroyed (in Drop)
        // before pd and cq (Session field order).
        let qp = unsafe {
            shim_create_qp(
                self.id.as_ptr(),
                pd.0.as_ptr(),
                cq.0.as_ptr(),
                send_wr,
                recv_wr,
                &mut qp_num,
            )
        };
        self.qp = Some(NonNull::new(qp).ok_or_else(errno)?);
        self.qp_num = qp_num;
        Ok(())
    }

    pub fn connect(&self, private_data: &[u8]) -> Result<(), i32> {
        let len = u8::try_from(private_data.len()).map_err(|_| 22)?;
        // SAFETY: id is live; private_data is copied by librdmacm.
        check(unsafe { shim_connect(self.id.as_ptr(), private_data.as_ptr().cast(), len) })
    }

    /// Binds to `host` (empty: any IPv4 address) and `port`, and listens.
    pub fn listen(&self, host: &str, port: u16, backlog: i32) -> Result<(), i32> {
        let host = CString::new(host).map_err(|_| 22)?;
        // SAFETY: id is live, host a NUL-terminated string.
        check(unsafe { shim_listen(self.id.as_ptr(), host.as_ptr(), port, backlog) })
    }

    /// Accepts a connection request (an id from CONNECT_REQUEST).
    pub fn accept(&self, private_data: &[u8]) -> Result<(), i32> {
        let len = u8::try_from(private_data.len()).map_err(|_| 22)?;
        // SAFETY: id is live; private_data is copied by librdmacm.
        check(unsafe { shim_accept(self.id.as_ptr(), private_data.as_ptr().cast(), len) })
    }

    /// Rejects a connection request; empty `private_data`: none.
    pub fn reject(&self, private_data: &[u8]) -> Result<(), i32> {
        let len = u8::try_from(private_data.len()).map_err(|_| 22)?;
        // SAFETY: id is live; private_data is copied by librdmacm.
        check(unsafe { shim_reject(self.id.as_ptr(), private_data.as_ptr().cast(), len) })
    }

    /// Sets the context later events of this id carry (`CmEvent::ctx`).
    pub fn set_context(&self, ctx: usize) {
        // SAFETY: id is live; the context is an integer, never dereferenced.
        unsafe { shim_set_context(self.id.as_ptr(), ctx) }
    }

    pub fn disconnect(&self) -> Result<(), i32> {
        // SAFETY: id is live.
        check(unsafe { shim_disconnect(self.id.as_ptr()) })
    }

    fn qp(&self) -> Result<NonNull<RawQp>, i32> {
        self.qp.ok_or(107) // ENOTCONN
    }

    /// Posts a receive of `[addr, addr+len)` of `mr`.
    pub fn post_recv(&self, wr_id: u64, mr: &Region, off: usize, len: u32) -> Result<(), i32> {
        let addr = mr.addr_of(off, len as usize)?;
        // SAFETY: qp is live; the buffer lies inside the registered region
        // (addr_of checked), which outlives the QP.
        check(unsafe { shim_post_recv(self.qp()?.as_ptr(), wr_id, addr, len, mr.lkey) })
    }

    /// Posts one signalled send WR with `[off, off+len)` of `mr` (len 0: no
    /// SGE).
    #[allow(clippy::too_many_arguments)]
    pub fn post_send(
        &self,
        wr_id: u64,
        op: SendOp,
        mr: &Region,
        off: usize,
        len: u32,
        remote_addr: u64,
        rkey: u32,
        imm: u32,
    ) -> Result<(), i32> {
        let addr = mr.addr_of(off, len as usize)?;
        // SAFETY: qp is live; the buffer lies inside the registered region.
        check(unsafe {
            shim_post_send(
                self.qp()?.as_ptr(),
                wr_id,
                op as c_int,
                addr,
                len,
                mr.lkey,
                remote_addr,
                rkey,
                imm,
            )
        })
    }
}

impl Drop for CmId {
    fn drop(&mut self) {
        if self.qp.take().is_some() {
            // SAFETY: the QP belongs to this id.
            unsafe { shim_destroy_qp(self.id.as_ptr()) }
        }
        // SAFETY: every event of this id was acked by EventChannel::get.
        unsafe { shim_destroy_id(self.id.as_ptr()) };
    }
}

/// `struct ibv_context` (owned by librdmacm; not freed here).
#[derive(Clone, Copy)]
pub struct Context(NonNull<RawContext>);

/// `struct ibv_pd`.
pub struct Pd(NonNull<RawPd>);

impl Pd {
    pub fn new(ctx: Context) -> Result<Self, i32> {
        // SAFETY: ctx is a live device context of a resolved id.
        NonNull::new(unsafe { shim_alloc_pd(ctx.0.as_ptr()) })
            .map(Pd)
            .ok_or_else(errno)
    }
}

impl Drop for Pd {
    fn drop(&mut self) {
        // SAFETY: QPs and MRs of the PD are gone (Session field order).
        unsafe { shim_dealloc_pd(self.0.as_ptr()) };
    }
}

/// `struct ibv_comp_channel`.
pub struct CompChannel(NonNull<RawCompChannel>);

impl CompChannel {
    pub fn new(ctx: Context) -> Result<Self, i32> {
        let mut err = 0;
        // SAFETY: ctx is live; err a valid out pointer.
        let p = unsafe { shim_create_comp_channel(ctx.0.as_ptr(), &mut err) };
        NonNull::new(p)
            .map(CompChannel)
            .ok_or(if err != 0 { -err } else { errno() })
    }

    pub fn fd(&self) -> i32 {
        // SAFETY: live channel.
        unsafe { shim_comp_channel_fd(self.0.as_ptr()) }
    }

    /// Takes and acks a pending CQ event; false if there was none.
    pub fn get_event(&self) -> Result<bool, i32> {
        // SAFETY: live channel; the event is acked inside the shim.
        let ret = unsafe { shim_get_cq_event(self.0.as_ptr()) };
        check(ret).map(|()| ret > 0)
    }
}

impl Drop for CompChannel {
    fn drop(&mut self) {
        // SAFETY: the CQ using it was destroyed before (field order).
        unsafe { shim_destroy_comp_channel(self.0.as_ptr()) };
    }
}

/// `struct ibv_cq`.
pub struct Cq(NonNull<RawCq>);

impl Cq {
    pub fn new(ctx: Context, cqe: i32, ch: &CompChannel) -> Result<Self, i32> {
        // SAFETY: ctx and ch are live; the CQ is dropped before ch.
        NonNull::new(unsafe { shim_create_cq(ctx.0.as_ptr(), cqe, ch.0.as_ptr()) })
            .map(Cq)
            .ok_or_else(errno)
    }

    pub fn req_notify(&self) -> Result<(), i32> {
        // SAFETY: live CQ.
        check(unsafe { shim_req_notify_cq(self.0.as_ptr()) })
    }

    /// Polls up to `out.len()` (max 32) completions.
    pub fn poll(&self, out: &mut [Wc]) -> Result<usize, i32> {
        let n = c_int::try_from(out.len().min(32)).unwrap_or(32);
        // SAFETY: live CQ; out has room for n entries.
        let ret = unsafe { shim_poll_cq(self.0.as_ptr(), out.as_mut_ptr(), n) };
        check(ret).map(|()| ret as usize)
    }
}

impl Drop for Cq {
    fn drop(&mut self) {
        // SAFETY: the QPs using it were destroyed before (field order).
        unsafe { shim_destroy_cq(self.0.as_ptr()) };
    }
}

/// A heap buffer registered with LOCAL_WRITE | REMOTE_WRITE.
pub struct Region {
    mr: NonNull<RawMr>,
    buf: Box<[u8]>,
    pub lkey: u32,
    pub rkey: u32,
}

impl Region {
    pub fn new(pd: &Pd, len: usize) -> Result<Self, i32> {
        let mut buf = vec![0u8; len].into_boxed_slice();
        let (mut lkey, mut rkey) = (0, 0);
        // SAFETY: buf is a live heap allocation that is never reallocated
        // and outlives the MR (Drop deregisters first).
        let mr = unsafe {
            shim_reg_mr(
                pd.0.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut lkey,
                &mut rkey,
            )
        };
        let mr = NonNull::new(mr).ok_or_else(errno)?;
        Ok(Region {
            mr,
            buf,
            lkey,
            rkey,
        })
    }

    /// The HCA (virtual) address of `[off, off+len)`, checked.
    pub fn addr_of(&self, off: usize, len: usize) -> Result<u64, i32> {
        let end = off.checked_add(len).ok_or(22)?;
        if end > self.buf.len() {
            return Err(22);
        }
        Ok(self.buf.as_ptr() as u64 + off as u64)
    }

    /// The bytes (the HCA may write them while a receive or a remote
    /// write is outstanding; the peer reads them only after the
    /// completion that ends such an access).
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the MR is live; buf is freed only after this.
        unsafe { shim_dereg_mr(self.mr.as_ptr()) };
    }
}
