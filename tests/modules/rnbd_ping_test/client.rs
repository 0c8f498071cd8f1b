// SPDX-License-Identifier: GPL-2.0

//! The connecting side, driven step by step from the ctl attributes
//! (process context); completions (softirq) park their results in
//! [`Link`] and wake the waiting step.

use kernel::prelude::*;
use kernel::sync::{Arc, CondVar, Mutex};
use kernel::time::msecs_to_jiffies;
use kernel::{fmt, new_condvar, new_mutex};

use crate::kernel_ext::errno::{ECONNREFUSED, ENOTCONN, EPROTO, ETIMEDOUT};
use crate::kernel_ext::rdma::buffer::DmaBuffer;
use crate::kernel_ext::rdma::cm::{
    CmContext, CmEvent, CmEventKind, CmHandler, CmId, CmIdRef, ConnParams,
};
use crate::kernel_ext::rdma::mr::{FrMr, MrAccess};
use crate::kernel_ext::rdma::qp::QueuePair;
use crate::kernel_ext::rdma::verbs::{CompletionQueue, ProtectionDomain};
use crate::kernel_ext::rdma::wr::{
    wc_status_text, Completion, Dst, Remote, SendChain, Src, WcStatus, WorkCompletion, Wr,
};
use crate::kernel_ext::rdma::Address;
use crate::kernel_ext::sync::{new_spinlock_bh, SpinLockBh};
use crate::message::{self, checksum, fill_pattern, matches_pattern, next_num, Message, MSG_LEN};
use crate::{trimmed, CAPS, RECV_DEPTH};

const WAIT_MS: u32 = 10_000;
/// Messages the client keeps until a step takes them (the server may send
/// two before the step wakes up: "check ok" and the new "mr").
const INBOX_LEN: usize = 8;

/// How the connection attempt ended.
pub(crate) enum ConnectOutcome {
    Established(KVec<u8>),
    Failed(CmEventKind, i32),
}

/// What completions and CM events report to the waiting step.
#[derive(Default)]
pub(crate) struct Link {
    connect: Option<ConnectOutcome>,
    disconnected: bool,
    device_removed: bool,
    /// Set once the connection is going away: late completions then drop
    /// their context instead of parking it.
    dead: bool,
    qp: Option<Arc<QueuePair>>,
    /// Messages received and not yet taken, with their arrival number.
    inbox: [Option<(u64, Message)>; INBOX_LEN],
    received: u64,
    /// The last finished send chain, with its status.
    done: Option<(KBox<Wr<ClientOp>>, WcStatus, u32)>,
    /// A chain that finished after the link died, kept for process
    /// context to drop (it may hold an MR, and dropping one sleeps).
    late: Option<KBox<Wr<ClientOp>>>,
    /// An MR registered for the server to invalidate remotely.
    lent_mr: Option<FrMr>,
    lent_mr_invalidated: bool,
    /// Where the server's registered buffer is.
    server_buf: Option<(Remote, usize)>,
    /// The contexts of the last burst handed back so far.
    burst: BurstTally,
    /// The server buffer's previous rkey, invalidated by the last check.
    stale_buf: Option<Remote>,
}

/// What a link holds of the device, taken out to be dropped outside the
/// lock (dropping MRs and QPs sleeps).
type Resources = (
    Option<Arc<QueuePair>>,
    Option<(KBox<Wr<ClientOp>>, WcStatus, u32)>,
    Option<KBox<Wr<ClientOp>>>,
    Option<FrMr>,
);

impl Link {
    fn take_resources(&mut self) -> Resources {
        (
            self.qp.take(),
            self.done.take(),
            self.late.take(),
            self.lent_mr.take(),
        )
    }
}

#[pin_data]
pub(crate) struct Client {
    /// Completions (softirq) and steps share it.
    #[pin]
    link: SpinLockBh<Link>,
    #[pin]
    changed: CondVar,
    /// The connection. Dropped outside `link`; inside the id's own events
    /// dropping it does not block.
    #[pin]
    id: Mutex<Option<CmId<ClientConn>>>,
    /// Serialises the ctl steps.
    #[pin]
    step: Mutex<()>,
}

/// A send chain the client posted and what it uses.
pub(crate) struct ClientOp {
    client: Arc<Client>,
    src: Option<DmaBuffer>,
    dst: Option<DmaBuffer>,
    mr: Option<FrMr>,
}

impl ClientOp {
    fn new(client: &Arc<Client>) -> Self {
        ClientOp {
            client: client.clone(),
            src: None,
            dst: None,
            mr: None,
        }
    }
}

impl Completion for ClientOp {
    fn complete(op: KBox<Wr<Self>>, wc: &WorkCompletion<'_>) {
        let client = op.client.clone();
        let mut link = client.link.lock();
        if link.dead {
            // Steps are serialised: at most one chain is ever in flight.
            link.late = Some(op);
            return;
        }
        link.done = Some((op, wc.status(), wc.status_code()));
        drop(link);
        client.changed.notify_all();
    }
}

/// What came back of a burst of batched sends.
#[derive(Default, Clone, Copy)]
pub(crate) struct BurstTally {
    pub(crate) posted: u32,
    pub(crate) refused: u32,
    pub(crate) back: u32,
    pub(crate) success: u32,
    pub(crate) error: u32,
    pub(crate) flushed: u32,
    /// Handed back by the send ring with a later completion (or at close)
    /// rather than by a completion of their own.
    pub(crate) handed_back: u32,
    /// Contexts that came back after one posted later (must stay 0).
    pub(crate) out_of_order: u32,
    /// Contexts that came back twice (must stay 0).
    pub(crate) twice: u32,
    next: u32,
}

/// One RDMA WRITE of a burst (`Client::burst`).
pub(crate) struct BurstOp {
    client: Arc<Client>,
    index: u32,
    src: DmaBuffer,
}

impl Completion for BurstOp {
    fn complete(op: KBox<Wr<Self>>, wc: &WorkCompletion<'_>) {
        let client = op.client.clone();
        {
            let mut link = client.link.lock();
            let tally = &mut link.burst;
            tally.back += 1;
            match wc.status() {
                WcStatus::Success => tally.success += 1,
                WcStatus::Flushed => tally.flushed += 1,
                WcStatus::Error => tally.error += 1,
            }
            if wc.is_handed_back() {
                tally.handed_back += 1;
            }
            if op.index < tally.next {
                tally.twice += 1;
            } else if op.index > tally.next {
                tally.out_of_order += 1;
            }
            tally.next = tally.next.max(op.index + 1);
        }
        client.changed.notify_all();
        // The buffer is unmapped here: softirq is fine for a DmaBuffer.
        drop(op);
    }
}

/// A posted receive.
struct ClientRecv {
    client: Arc<Client>,
    buf: DmaBuffer,
}

impl Completion for ClientRecv {
    fn complete(op: KBox<Wr<Self>>, wc: &WorkCompletion<'_>) {
        if !wc.is_success() {
            return;
        }
        let client = op.client.clone();
        let len = (wc.byte_len() as usize).min(op.buf.len());
        let msg = Message::from_received(&op.buf.as_slice()[..len]);
        let qp = {
            let mut link = client.link.lock();
            if let Some(mr) = &link.lent_mr {
                if mr.invalidated_by(wc) {
                    link.lent_mr_invalidated = true;
                }
            }
            link.received += 1;
            let number = link.received;
            if let Some(slot) = link.inbox.iter_mut().find(|slot| slot.is_none()) {
                *slot = Some((number, msg));
            } else {
                pr_err!("client: inbox full, message dropped\n");
            }
            link.qp.clone()
        };
        client.changed.notify_all();
        if let Some(qp) = qp {
            let _ = post_recv(&qp, op);
        }
    }
}

fn post_recv(qp: &QueuePair, op: KBox<Wr<ClientRecv>>) -> Result {
    qp.post_recv(op, |op, sges| sges.add(Dst::buffer(&mut op.buf)))
        .map_err(|e| e.error)
}

/// The id's event handler.
pub(crate) struct ClientConn {
    client: Arc<Client>,
}

impl ClientConn {
    fn set_up(&self, id: &CmIdRef<'_>) -> Result {
        let device = id.device().ok_or(ENODEV)?;
        let pd = ProtectionDomain::new(device)?;
        let cq = CompletionQueue::new(device, 2 * RECV_DEPTH as u32 + 16, 0)?;
        let qp = id.create_qp(&pd, &cq, &cq, CAPS)?;
        self.client.link.lock().qp = Some(qp.clone());
        for _ in 0..RECV_DEPTH {
            let op = Wr::new(
                ClientRecv {
                    client: self.client.clone(),
                    buf: DmaBuffer::new(&pd, MSG_LEN, GFP_KERNEL)?,
                },
                GFP_KERNEL,
            )?;
            post_recv(&qp, op)?;
        }
        Ok(())
    }

    fn report(&self, update: impl FnOnce(&mut Link)) {
        update(&mut self.client.link.lock());
        self.client.changed.notify_all();
    }
}

impl CmHandler for ClientConn {
    fn event(&self, id: &CmIdRef<'_>, event: &CmEvent<'_>) {
        let kind = event.kind();
        let status = event.status();
        let failed = move |link: &mut Link| {
            link.connect
                .get_or_insert(ConnectOutcome::Failed(kind, status));
        };
        match kind {
            CmEventKind::AddrResolved => {
                if id.resolve_route(2000).is_err() {
                    self.report(failed);
                }
            }
            CmEventKind::RouteResolved => {
                let connected = self
                    .set_up(id)
                    .and_then(|()| id.connect(&ConnParams::new(b"ping-hello")));
                if let Err(e) = connected {
                    pr_err!("client set-up: {:?}\n", e);
                    self.report(failed);
                }
            }
            CmEventKind::Established => {
                let mut data = KVec::new();
                let _ = data.extend_from_slice(trimmed(event.private_data()), GFP_KERNEL);
                self.report(|link| link.connect = Some(ConnectOutcome::Established(data)));
            }
            CmEventKind::Disconnected => self.report(|link| {
                link.disconnected = true;
                link.dead = true;
            }),
            CmEventKind::DeviceRemoval => {
                // The device goes only once every id, QP, MR and PD on it
                // is gone: give up everything, our own id last (inside its
                // event, so the core destroys it after we return).
                let held = {
                    let mut link = self.client.link.lock();
                    link.device_removed = true;
                    link.disconnected = true;
                    link.dead = true;
                    link.take_resources()
                };
                drop(held);
                self.client.changed.notify_all();
                drop(self.client.id.lock().take());
            }
            _ => self.report(failed),
        }
    }
}

impl Client {
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Client {
                link <- new_spinlock_bh!(Link::default()),
                changed <- new_condvar!(),
                id <- new_mutex!(None),
                step <- new_mutex!(()),
            }),
            GFP_KERNEL,
        )
    }

    /// Waits until `ready` returns something, the link dies or 10 s pass.
    fn wait<R>(&self, mut ready: impl FnMut(&mut Link) -> Option<R>) -> Result<R> {
        let mut link = self.link.lock();
        let mut left = msecs_to_jiffies(WAIT_MS);
        loop {
            if let Some(result) = ready(&mut link) {
                return Ok(result);
            }
            if link.dead {
                return Err(ENOTCONN());
            }
            match self.changed.wait_interruptible_timeout(&mut link, left) {
                kernel::sync::CondVarTimeoutResult::Timeout => return Err(ETIMEDOUT()),
                kernel::sync::CondVarTimeoutResult::Signal { .. } => return Err(EINTR),
                kernel::sync::CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
            }
        }
    }

    /// Waits for the next message that is `verb`.
    fn wait_message(&self, verb: &str) -> Result<Message> {
        self.wait(|link| {
            let oldest = link
                .inbox
                .iter_mut()
                .filter(|slot| slot.as_ref().is_some_and(|(_, m)| m.args(verb).is_some()))
                .min_by_key(|slot| slot.as_ref().map_or(u64::MAX, |(n, _)| *n))?;
            oldest.take().map(|(_, msg)| msg)
        })
    }

    fn qp(&self) -> Result<Arc<QueuePair>> {
        self.link.lock().qp.clone().ok_or_else(ENOTCONN)
    }

    /// Posts a chain and waits for its completion; returns the context
    /// and the completion status.
    fn run_op<F>(self: &Arc<Self>, op: ClientOp, build: F) -> Result<(ClientOp, WcStatus, u32)>
    where
        F: for<'b> FnOnce(&'b mut ClientOp, &mut SendChain<'b>) -> Result,
    {
        let qp = self.qp()?;
        let stale = self.link.lock().done.take();
        drop(stale);
        qp.post_send(Wr::new(op, GFP_KERNEL)?, build)
            .map_err(|e| e.error)?;
        let (op, status, code) = self.wait(|link| link.done.take())?;
        Ok((Wr::into_inner(op), status, code))
    }

    fn send_text(self: &Arc<Self>, text: core::fmt::Arguments<'_>) -> Result {
        let qp = self.qp()?;
        let mut msg = DmaBuffer::new(qp.pd(), MSG_LEN, GFP_KERNEL)?;
        let len = message::format_into(msg.as_mut_slice(), text)?;
        let mut op = ClientOp::new(self);
        op.src = Some(msg);
        let (_, status, _) = self.run_op(op, |op, chain| {
            let msg = op.src.as_ref().ok_or(EINVAL)?;
            chain.send(&[Src::range(msg, 0, len)?])
        })?;
        expect_success(status)
    }

    /// Connects to `address`, checks the accept's private data, and waits
    /// for the server's buffer announcement.
    pub(crate) fn connect(self: &Arc<Self>, cm: &CmContext, address: &Address) -> Result<KVec<u8>> {
        let _step = self.step.lock();
        self.disconnect_locked();
        let old = core::mem::take(&mut *self.link.lock());
        drop(old);
        let events = Arc::new(
            ClientConn {
                client: self.clone(),
            },
            GFP_KERNEL,
        )?;
        let id = CmId::new(cm, events)?;
        id.as_ref().resolve_addr(None, address, 2000)?;
        *self.id.lock() = Some(id);
        let reply = match self.wait(|link| link.connect.take())? {
            ConnectOutcome::Established(reply) => reply,
            ConnectOutcome::Failed(kind, status) => {
                pr_info!("client: {:?} {}\n", kind, status);
                return Err(ECONNREFUSED());
            }
        };
        self.learn_server_buf()?;
        Ok(reply)
    }

    /// Waits for the server's "mr" announcement and remembers the buffer
    /// (and the rkey it replaces).
    fn learn_server_buf(&self) -> Result {
        let msg = self.wait_message("mr")?;
        let mut args = msg.args("mr").ok_or(EINVAL)?;
        let addr: u64 = next_num(&mut args)?;
        let rkey: u32 = next_num(&mut args)?;
        let len: usize = next_num(&mut args)?;
        let mut link = self.link.lock();
        link.stale_buf = link.server_buf.map(|(remote, _)| remote);
        link.server_buf = Some((Remote { addr, rkey }, len));
        Ok(())
    }

    fn server_buf(&self) -> Result<(Remote, usize)> {
        self.link.lock().server_buf.ok_or_else(ENOTCONN)
    }

    /// SEND/RECV: "ping n" is answered "pong n".
    pub(crate) fn ping(self: &Arc<Self>, n: u32) -> Result {
        let _step = self.step.lock();
        self.send_text(fmt!("ping {}", n))?;
        let msg = self.wait_message("pong")?;
        let mut args = msg.args("pong").ok_or(EINVAL)?;
        if next_num::<u32>(&mut args)? != n {
            return Err(EPROTO());
        }
        Ok(())
    }

    /// RDMA WRITE_WITH_IMM of `len` pattern bytes into the server's
    /// buffer, RDMA READ back, byte comparison; returns the checksum.
    pub(crate) fn write_read(self: &Arc<Self>, len: usize, seed: u32) -> Result<u32> {
        let _step = self.step.lock();
        let (remote, capacity) = self.server_buf()?;
        if len == 0 || len > capacity {
            return Err(EINVAL);
        }
        let pd = self.qp()?.pd().clone();
        let mut data = DmaBuffer::new(&pd, len, GFP_KERNEL)?;
        fill_pattern(data.as_mut_slice(), seed);
        let mut op = ClientOp::new(self);
        op.src = Some(data);
        let (mut op, status, _) = self.run_op(op, |op, chain| {
            let data = op.src.as_ref().ok_or(EINVAL)?;
            chain.write_imm(&[Src::buffer(data)], remote, len as u32)
        })?;
        expect_success(status)?;
        op.dst = Some(DmaBuffer::new(&pd, len, GFP_KERNEL)?);
        let (op, status, _) = self.run_op(op, |op, chain| {
            let back = op.dst.as_mut().ok_or(EINVAL)?;
            chain.read([Dst::buffer(back)], remote)
        })?;
        expect_success(status)?;
        let (sent, back) = match (&op.src, &op.dst) {
            (Some(sent), Some(back)) => (sent.as_slice(), back.as_slice()),
            _ => return Err(EINVAL),
        };
        if sent != back || !matches_pattern(back, seed) {
            pr_err!("client: read back differs from what was written\n");
            return Err(EIO);
        }
        Ok(checksum(sent))
    }

    /// Registers a buffer of `len` bytes for the server, which writes the
    /// pattern into it and invalidates it with SEND_WITH_INV; the buffer
    /// is readable only after that invalidation, and must hold the pattern.
    pub(crate) fn remote_invalidate(self: &Arc<Self>, len: usize, seed: u32) -> Result {
        let _step = self.step.lock();
        let pd = self.qp()?.pd().clone();
        let pages = len.div_ceil(kernel::page::PAGE_SIZE) as u32 + 1;
        let mut mr = FrMr::new(&pd, pages)?;
        mr.map(DmaBuffer::new(&pd, len, GFP_KERNEL)?)?;
        mr.update_key()?;
        let mut op = ClientOp::new(self);
        op.mr = Some(mr);
        let (op, status, _) = self.run_op(op, |op, chain| {
            let mr = op.mr.as_ref().ok_or(EINVAL)?;
            chain.reg_mr(mr, MrAccess::LOCAL_WRITE.union(MrAccess::REMOTE_WRITE))
        })?;
        expect_success(status)?;
        let mut mr = op.mr.ok_or(EINVAL)?;
        // Registered: the API must refuse CPU access now.
        if mr.memory().err() != Some(EBUSY) {
            pr_err!("client: registered MR handed out its memory\n");
            return Err(EIO);
        }
        let (iova, rkey) = (mr.iova(), mr.rkey());
        let previous = {
            let mut link = self.link.lock();
            link.lent_mr_invalidated = false;
            link.lent_mr.replace(mr)
        };
        drop(previous);
        self.send_text(fmt!("inv {} {} {} {}", iova, rkey, len, seed))?;
        let msg = self.wait_message("written")?;
        if next_num::<u32>(&mut msg.args("written").ok_or(EINVAL)?)? != seed {
            return Err(EPROTO());
        }
        let mut mr = self.wait(|link| {
            if link.lent_mr_invalidated {
                link.lent_mr.take()
            } else {
                None
            }
        })?;
        let memory = mr.memory()?;
        if !matches_pattern(memory.as_slice(), seed) {
            pr_err!("client: remotely written buffer differs\n");
            return Err(EIO);
        }
        Ok(())
    }

    /// Asks the server to invalidate its MR locally and check `sum` over
    /// `len` bytes of its buffer.
    pub(crate) fn check(self: &Arc<Self>, sum: u32, len: usize) -> Result {
        let _step = self.step.lock();
        self.send_text(fmt!("check {} {}", sum, len))?;
        let msg = self.wait_message("check")?;
        if msg.text() != "check ok" {
            pr_err!("client: server says {}\n", msg.text());
            return Err(EIO);
        }
        // The server re-registers its buffer under a new rkey.
        self.learn_server_buf()
    }

    /// RDMA READ with the server's rkey from before its last check
    /// (invalidated, then replaced): must fail with a remote access error.
    /// Returns the status text.
    pub(crate) fn read_stale(self: &Arc<Self>) -> Result<&'static kernel::str::CStr> {
        let _step = self.step.lock();
        let remote = self.link.lock().stale_buf.ok_or(EINVAL)?;
        let pd = self.qp()?.pd().clone();
        let mut op = ClientOp::new(self);
        op.dst = Some(DmaBuffer::new(&pd, 64, GFP_KERNEL)?);
        let (_, status, code) = self.run_op(op, |op, chain| {
            let back = op.dst.as_mut().ok_or(EINVAL)?;
            chain.read([Dst::buffer(back)], remote)
        })?;
        if status != WcStatus::Error {
            pr_err!("client: stale rkey read ended {:?}\n", status);
            return Err(EIO);
        }
        Ok(wc_status_text(code))
    }

    /// Posts `count` batched RDMA WRITEs of 64 bytes into the server's
    /// buffer. `bad_at` (1-based, 0 for none) gets a wrong rkey, which
    /// puts the QP in the error state (remote access error) and flushes
    /// the rest. With `drop_at_end` the connection is destroyed with the
    /// burst outstanding (the QP's close hands the contexts back); else a
    /// kick makes the last ones come back. Returns what came back once
    /// every posted context has.
    pub(crate) fn burst(
        self: &Arc<Self>,
        count: u32,
        bad_at: u32,
        drop_at_end: bool,
    ) -> Result<BurstTally> {
        let _step = self.step.lock();
        let qp = self.qp()?;
        let (remote, _) = self.server_buf()?;
        let pd = qp.pd().clone();
        self.link.lock().burst = BurstTally::default();
        let mut posted = 0;
        let mut refused = 0;
        let mut max_outstanding = 0;
        for index in 0..count {
            // Stay within the send queue: wait for the ring to empty a bit.
            let mut waited = 0;
            while qp.sends_outstanding() >= (CAPS.max_send_wr / 2) as usize && waited < 5000 {
                let _ = qp.kick();
                crate::kernel_ext::delay::msleep(1);
                waited += 1;
            }
            max_outstanding = max_outstanding.max(qp.sends_outstanding());
            let mut src = DmaBuffer::new(&pd, 64, GFP_KERNEL)?;
            fill_pattern(src.as_mut_slice(), index);
            let op = Wr::new(
                BurstOp {
                    client: self.clone(),
                    index,
                    src,
                },
                GFP_KERNEL,
            )?;
            let target = if index + 1 == bad_at {
                Remote {
                    addr: remote.addr,
                    rkey: remote.rkey ^ 0x00ff_ff00,
                }
            } else {
                remote
            };
            match qp.post_send_batched(op, |op, chain| chain.write(&[Src::buffer(&op.src)], target))
            {
                Ok(()) => posted += 1,
                Err(e) => {
                    refused += 1;
                    // A refused context never reaches the tally: count it
                    // as the next index so the order check skips it.
                    if e.wr.is_some() {
                        let mut link = self.link.lock();
                        link.burst.next = link.burst.next.max(index + 1);
                    }
                }
            }
        }
        pr_info!(
            "burst: {} posted, {} refused, at most {} outstanding\n",
            posted,
            refused,
            max_outstanding
        );
        if drop_at_end {
            self.disconnect_locked();
        } else {
            let _ = qp.kick();
        }
        drop(qp);
        // Polled, not `wait`: an error burst may kill the link first, and
        // the flushed contexts still have to come back.
        let mut waited = 0;
        while self.link.lock().burst.back < posted && waited < WAIT_MS {
            crate::kernel_ext::delay::msleep(1);
            waited += 1;
        }
        let mut tally = self.link.lock().burst;
        if tally.back < posted {
            pr_err!("burst: {} of {} contexts back\n", tally.back, posted);
            return Err(ETIMEDOUT());
        }
        tally.posted = posted;
        tally.refused = refused;
        Ok(tally)
    }

    /// Disconnects and destroys the connection.
    pub(crate) fn disconnect(self: &Arc<Self>) -> Result {
        let _step = self.step.lock();
        {
            let id = self.id.lock();
            id.as_ref().ok_or_else(ENOTCONN)?.as_ref().disconnect()?;
        }
        self.wait(|link| link.disconnected.then_some(()))
            .or_else(|e| {
                if self.link.lock().disconnected {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        self.disconnect_locked();
        Ok(())
    }

    /// Drops the connection and everything it holds (the step lock held).
    pub(crate) fn disconnect_locked(&self) {
        self.link.lock().dead = true;
        // The id first: destroying it drains the QP, and chains still in
        // flight complete into `late` (a chain holds the client, so one
        // left there would keep the client alive for ever).
        let id = self.id.lock().take();
        drop(id);
        let held = self.link.lock().take_resources();
        drop(held);
    }
}

fn expect_success(status: WcStatus) -> Result {
    match status {
        WcStatus::Success => Ok(()),
        _ => Err(EIO),
    }
}
