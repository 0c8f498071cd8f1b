// SPDX-License-Identifier: GPL-2.0

//! The listening side: accepts connections whose private data is
//! "ping-hello" (replying "pong-hello"), registers a buffer peers write to
//! and read from, and answers the messages in `message`. Everything after
//! the accept runs in completion (softirq) context.

use core::sync::atomic::{AtomicU32, Ordering};

use kernel::alloc::Flags;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};
use kernel::{fmt, new_mutex};

use crate::kernel_ext::errno::ENOTCONN;
use crate::kernel_ext::rdma::buffer::DmaBuffer;
use crate::kernel_ext::rdma::cm::{
    CmEvent, CmEventKind, CmHandler, CmId, CmIdRef, ConnParams, ConnectRequest, ListenHandler,
};
use crate::kernel_ext::rdma::mr::{FrMr, MrAccess};
use crate::kernel_ext::rdma::qp::QueuePair;
use crate::kernel_ext::rdma::verbs::{CompletionQueue, ProtectionDomain};
use crate::kernel_ext::rdma::wr::{Completion, Dst, Remote, Src, WcOpcode, WorkCompletion, Wr};
use crate::kernel_ext::sync::{new_spinlock_bh, SpinLockBh};
use crate::message::{self, checksum, fill_pattern, next_num, Message, MSG_LEN};
use crate::{trimmed, CAPS, RECV_DEPTH};

/// The registered buffer's size: the largest transfer the client may do.
pub(crate) const SERVER_BUF_LEN: usize = 64 * 1024;

/// Counters shown by the ctl `server` attribute.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) established: AtomicU32,
    pub(crate) disconnected: AtomicU32,
    pub(crate) rejected: AtomicU32,
    pub(crate) pings: AtomicU32,
    pub(crate) writes_with_imm: AtomicU32,
    pub(crate) remote_invalidations: AtomicU32,
    pub(crate) checks_ok: AtomicU32,
    pub(crate) checks_bad: AtomicU32,
    pub(crate) errors: AtomicU32,
}

fn bump(counter: &AtomicU32) {
    counter.fetch_add(1, Ordering::Relaxed);
}

#[pin_data]
pub(crate) struct Server {
    pub(crate) counters: Counters,
    next_conn: AtomicU32,
    /// The accepted connections, by number. Process context only (CM
    /// events, module exit).
    #[pin]
    conns: Mutex<KVec<Option<(u32, CmId<ConnEvents>)>>>,
}

impl Server {
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Server {
                counters: Counters::default(),
                next_conn: AtomicU32::new(0),
                conns <- new_mutex!(KVec::new()),
            }),
            GFP_KERNEL,
        )
    }

    pub(crate) fn active(&self) -> usize {
        self.conns.lock().iter().flatten().count()
    }

    fn take_conn(&self, number: u32) -> Option<CmId<ConnEvents>> {
        let mut conns = self.conns.lock();
        let slot = conns
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|(n, _)| *n == number))?;
        slot.take().map(|(_, id)| id)
    }

    /// Closes every connection (module exit); returns how many there were.
    pub(crate) fn close_all(&self) -> usize {
        let mut closed = 0;
        loop {
            let conn = self.conns.lock().iter_mut().find_map(|slot| slot.take());
            match conn {
                Some((_, id)) => {
                    closed += 1;
                    drop(id);
                }
                None => return closed,
            }
        }
    }

    fn store_conn(&self, number: u32, id: CmId<ConnEvents>) {
        let mut conns = self.conns.lock();
        let entry = Some((number, id));
        match conns.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = entry,
            // On allocation failure the id is dropped inside its connect
            // request event: the core destroys it.
            None => {
                let _ = conns.push(entry, GFP_KERNEL);
            }
        }
    }
}

/// One accepted connection.
#[pin_data]
pub(crate) struct ServerConn {
    number: u32,
    server: Arc<Server>,
    /// The QP to post on, once created. Taken in softirq completions.
    #[pin]
    qp: SpinLockBh<Option<Arc<QueuePair>>>,
    /// The registered buffer's MR while no request uses it (requests own
    /// it while posted). Taken in softirq completions.
    #[pin]
    mr: SpinLockBh<Option<FrMr>>,
}

impl ServerConn {
    /// Puts the MR back while no request uses it. There is never one
    /// parked already: only one request holds it at a time.
    fn park_mr(&self, mr: FrMr) {
        let previous = self.mr.lock().replace(mr);
        if previous.is_some() {
            pr_err!("server: two MRs parked\n");
        }
        // `previous` (None) drops after the lock is released.
    }

    fn qp(&self) -> Result<Arc<QueuePair>> {
        self.qp.lock().clone().ok_or_else(ENOTCONN)
    }

    /// Sends `text` (and runs `extra` first in the same chain, e.g. an
    /// RDMA WRITE of `data`). Softirq-safe.
    fn send(
        self: &Arc<Self>,
        text: core::fmt::Arguments<'_>,
        data: Option<DmaBuffer>,
        invalidate: Option<Remote>,
    ) -> Result {
        let qp = self.qp()?;
        let mut msg = DmaBuffer::new(qp.pd(), MSG_LEN, GFP_ATOMIC)?;
        let len = message::format_into(msg.as_mut_slice(), text)?;
        let op = Wr::new(
            SendOp {
                conn: self.clone(),
                msg,
                data,
            },
            GFP_ATOMIC,
        )?;
        qp.post_send(op, |op, chain| {
            let msg = Src::range(&op.msg, 0, len)?;
            match (&op.data, invalidate) {
                (Some(data), Some(remote)) => {
                    chain.write(&[Src::buffer(data)], remote)?;
                    chain.send_with_inv(&[msg], remote.rkey)
                }
                _ => chain.send(&[msg]),
            }
        })?;
        Ok(())
    }

    /// Handles one received message (softirq).
    fn handle(self: &Arc<Self>, msg: &Message) -> Result {
        let counters = &self.server.counters;
        if let Some(mut args) = msg.args("ping") {
            let n: u32 = next_num(&mut args)?;
            bump(&counters.pings);
            return self.send(fmt!("pong {}", n), None, None);
        }
        if let Some(mut args) = msg.args("inv") {
            let addr: u64 = next_num(&mut args)?;
            let rkey: u32 = next_num(&mut args)?;
            let len: usize = next_num(&mut args)?;
            let seed: u32 = next_num(&mut args)?;
            let qp = self.qp()?;
            let mut data = DmaBuffer::new(qp.pd(), len, GFP_ATOMIC)?;
            fill_pattern(data.as_mut_slice(), seed);
            bump(&counters.remote_invalidations);
            return self.send(
                fmt!("written {}", seed),
                Some(data),
                Some(Remote { addr, rkey }),
            );
        }
        if let Some(mut args) = msg.args("check") {
            let sum: u32 = next_num(&mut args)?;
            let len: usize = next_num(&mut args)?;
            return self.check(sum, len);
        }
        Err(EINVAL)
    }

    /// Invalidates the registered buffer locally, then compares its
    /// checksum (in the LOCAL_INV completion).
    fn check(self: &Arc<Self>, sum: u32, len: usize) -> Result {
        let qp = self.qp()?;
        let mr = self.mr.lock().take().ok_or(EBUSY)?;
        let op = Wr::new(
            MrOp {
                conn: self.clone(),
                mr,
                msg: None,
                purpose: MrPurpose::Check { sum, len },
            },
            GFP_ATOMIC,
        )?;
        qp.post_send(op, |op, chain| chain.local_inv(&op.mr))
            .map_err(|e| {
                // Put the MR back so teardown finds it.
                if let Some(op) = e.wr {
                    self.park_mr(Wr::into_inner(op).mr);
                }
                e.error
            })
    }

    /// Registers the buffer under a new key and tells the client where it
    /// is: once established (REG_MR needs a ready QP), and again after
    /// each check invalidated it.
    fn register(self: &Arc<Self>, flags: Flags) -> Result {
        let qp = self.qp()?;
        let mut mr = self.mr.lock().take().ok_or(EBUSY)?;
        let prepared = mr.update_key().and_then(|()| {
            let mut msg = DmaBuffer::new(qp.pd(), MSG_LEN, flags)?;
            let text = (mr.iova(), mr.rkey(), mr.length());
            let len = message::format_into(
                msg.as_mut_slice(),
                fmt!("mr {} {} {}", text.0, text.1, text.2),
            )?;
            Ok((msg, len))
        });
        let (msg, len) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                self.park_mr(mr);
                return Err(e);
            }
        };
        let op = Wr::new(
            MrOp {
                conn: self.clone(),
                mr,
                msg: Some(msg),
                purpose: MrPurpose::Register,
            },
            // On failure the MR is dropped with the value: the connection
            // has no buffer any more, and later checks answer EBUSY.
            flags,
        )?;
        qp.post_send(op, |op, chain| {
            let access = MrAccess::LOCAL_WRITE
                .union(MrAccess::REMOTE_WRITE)
                .union(MrAccess::REMOTE_READ);
            chain.reg_mr(&op.mr, access)?;
            let msg = op.msg.as_ref().ok_or(EINVAL)?;
            chain.send(&[Src::range(msg, 0, len)?])
        })
        .map_err(|e| {
            if let Some(op) = e.wr {
                self.park_mr(Wr::into_inner(op).mr);
            }
            e.error
        })
    }

    fn post_recv(qp: &QueuePair, op: KBox<Wr<RecvOp>>) -> Result {
        qp.post_recv(op, |op, sges| sges.add(Dst::buffer(&mut op.buf)))
            .map_err(|e| e.error)
    }
}

/// A send (reply, or RDMA WRITE + SEND_WITH_INV) and what it uses.
struct SendOp {
    conn: Arc<ServerConn>,
    msg: DmaBuffer,
    data: Option<DmaBuffer>,
}

impl Completion for SendOp {
    fn complete(op: KBox<Wr<Self>>, wc: &WorkCompletion<'_>) {
        if !wc.is_success() {
            pr_info!("server send: {}\n", wc.status_text());
            bump(&op.conn.server.counters.errors);
        }
    }
}

enum MrPurpose {
    Register,
    Check { sum: u32, len: usize },
}

/// A request on the registered buffer's MR (REG_MR + SEND, or LOCAL_INV).
struct MrOp {
    conn: Arc<ServerConn>,
    mr: FrMr,
    msg: Option<DmaBuffer>,
    purpose: MrPurpose,
}

impl Completion for MrOp {
    fn complete(mut op: KBox<Wr<Self>>, wc: &WorkCompletion<'_>) {
        let conn = op.conn.clone();
        let counters = &conn.server.counters;
        if !wc.is_success() {
            pr_info!("server MR request: {}\n", wc.status_text());
            bump(&counters.errors);
        } else if let MrPurpose::Check { sum, len } = op.purpose {
            // LOCAL_INV completed: the buffer is ours again.
            let verdict = match op.mr.memory() {
                Ok(buf) if len <= buf.len() => {
                    let actual = checksum(&buf.as_slice()[..len]);
                    if actual == sum {
                        bump(&counters.checks_ok);
                        Ok(())
                    } else {
                        bump(&counters.checks_bad);
                        Err(actual)
                    }
                }
                _ => {
                    bump(&counters.checks_bad);
                    Err(0)
                }
            };
            let sent = match verdict {
                Ok(()) => conn.send(fmt!("check ok"), None, None),
                Err(actual) => conn.send(fmt!("check bad {}", actual), None, None),
            };
            conn.park_mr(Wr::into_inner(op).mr);
            // Open the buffer again, under a new rkey.
            if sent.and_then(|()| conn.register(GFP_ATOMIC)).is_err() {
                bump(&counters.errors);
            }
            return;
        }
        conn.park_mr(Wr::into_inner(op).mr);
    }
}

/// A posted receive.
struct RecvOp {
    conn: Arc<ServerConn>,
    buf: DmaBuffer,
}

impl Completion for RecvOp {
    fn complete(op: KBox<Wr<Self>>, wc: &WorkCompletion<'_>) {
        let conn = op.conn.clone();
        if !wc.is_success() {
            // Flushed at teardown (or failed): the receive is not reposted.
            return;
        }
        let handled = match wc.opcode() {
            WcOpcode::RecvRdmaWithImm => {
                bump(&conn.server.counters.writes_with_imm);
                Ok(())
            }
            _ => {
                let len = (wc.byte_len() as usize).min(op.buf.len());
                let msg = Message::from_received(&op.buf.as_slice()[..len]);
                conn.handle(&msg)
            }
        };
        if handled.is_err() {
            bump(&conn.server.counters.errors);
        }
        if let Ok(qp) = conn.qp() {
            // Fails only at teardown; the receive is then dropped.
            let _ = ServerConn::post_recv(&qp, op);
        }
    }
}

/// Gives an accepted id its QP, registered buffer and receives.
fn set_up(conn: &Arc<ServerConn>, id: &CmIdRef<'_>) -> Result {
    let device = id.device().ok_or(ENODEV)?;
    let pd = ProtectionDomain::new(device)?;
    let cq = CompletionQueue::new(device, 2 * RECV_DEPTH as u32 + 16, 0)?;
    let qp = id.create_qp(&pd, &cq, &cq, CAPS)?;
    let pages = SERVER_BUF_LEN.div_ceil(kernel::page::PAGE_SIZE) as u32 + 1;
    let mut mr = FrMr::new(&pd, pages)?;
    mr.map(DmaBuffer::new(&pd, SERVER_BUF_LEN, GFP_KERNEL)?)?;
    conn.park_mr(mr);
    *conn.qp.lock() = Some(qp.clone());
    for _ in 0..RECV_DEPTH {
        let op = Wr::new(
            RecvOp {
                conn: conn.clone(),
                buf: DmaBuffer::new(&pd, MSG_LEN, GFP_KERNEL)?,
            },
            GFP_KERNEL,
        )?;
        ServerConn::post_recv(&qp, op)?;
    }
    Ok(())
}

impl ListenHandler for Arc<Server> {
    fn connect_request(&self, request: ConnectRequest<'_>, event: &CmEvent<'_>) {
        if trimmed(event.private_data()) != b"ping-hello" {
            bump(&self.counters.rejected);
            let _ = request.reject(b"not a ping client");
            return;
        }
        let number = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let conn = match Arc::pin_init(
            pin_init!(ServerConn {
                number,
                server: self.clone(),
                qp <- new_spinlock_bh!(None),
                mr <- new_spinlock_bh!(None),
            }),
            GFP_KERNEL,
        ) {
            Ok(conn) => conn,
            Err(_) => return,
        };
        let events = match Arc::new(ConnEvents { conn: conn.clone() }, GFP_KERNEL) {
            Ok(events) => events,
            Err(_) => return,
        };
        let id = match request.adopt(events) {
            Ok(id) => id,
            Err(_) => return,
        };
        if let Err(e) = set_up(&conn, &id.as_ref()) {
            pr_err!("server connection set-up: {:?}\n", e);
            // Dropped inside its own event: the core destroys the id.
            return;
        }
        if let Err(e) = id.as_ref().accept(&ConnParams::new(b"pong-hello")) {
            pr_err!("accept: {:?}\n", e);
            return;
        }
        self.store_conn(number, id);
    }
}

/// The CM event handler of an accepted connection.
pub(crate) struct ConnEvents {
    conn: Arc<ServerConn>,
}

impl CmHandler for ConnEvents {
    fn event(&self, _id: &CmIdRef<'_>, event: &CmEvent<'_>) {
        let this = &self.conn;
        let counters = &this.server.counters;
        match event.kind() {
            CmEventKind::Established => {
                bump(&counters.established);
                if let Err(e) = this.register(GFP_KERNEL) {
                    pr_err!("server register: {:?}\n", e);
                    bump(&counters.errors);
                }
            }
            CmEventKind::Disconnected | CmEventKind::DeviceRemoval => {
                bump(&counters.disconnected);
                // Our own id, dropped inside its own event: its QP is
                // drained (every request's context comes back and is
                // dropped) and destroyed, then the id.
                drop(this.server.take_conn(this.number));
                // What the connection itself holds goes too, so that a
                // removed device finds no PD, CQ or MR left.
                // (Taken out first: the guard of `lock()` would otherwise
                // live until the end of the statement, and dropping an MR
                // sleeps.)
                let qp = this.qp.lock().take();
                let mr = this.mr.lock().take();
                drop((qp, mr));
            }
            _ => {}
        }
    }
}
