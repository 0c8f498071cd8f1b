// SPDX-License-Identifier: GPL-2.0

//! rnbd_cm_test: exercises `kernel_ext::rdma::cm` with no `unsafe`. A
//! listener on port 18100 accepts connect requests whose private data
//! starts with "accept" (replying "welcome:<their data>") and rejects the
//! others ("go away"); server connections drop their own id inside their
//! Disconnected event. A client is driven through sysfs:
//!
//! ```text
//! /sys/devices/virtual/rnbd-cm-test/ctl/
//!     connect      write "<address> <private data>": resolve, connect, wait
//!     disconnect   write 1: disconnect the client and wait
//!     result       the client's last outcome
//!     server       counters of the listener side
//! ```

use core::sync::atomic::{AtomicU32, Ordering};

use kernel::prelude::*;
use kernel::str::{CStr, CString};
use kernel::sync::{Arc, CondVar, Mutex};
use kernel::time::msecs_to_jiffies;
use kernel::{c_str, fmt, new_condvar, new_mutex};

#[path = "../../../kernel/rust/kernel_ext/mod.rs"]
mod kernel_ext;

use kernel_ext::errno::ETIMEDOUT;
use kernel_ext::rdma::cm::{
    CmContext, CmEvent, CmEventKind, CmHandler, CmId, CmIdRef, ConnParams, ConnectRequest,
    ListenHandler, Listener,
};
use kernel_ext::rdma::verbs::{CompletionQueue, ProtectionDomain, QpCaps};
use kernel_ext::rdma::Address;
use kernel_ext::sysfs::{
    self, AttrRef, Attribute, AttributeOps, Class, ClassDevice, DeviceAttrs, ShowBuffer,
    StoreContext,
};

module! {
    type: CmTest,
    name: "rnbd_cm_test",
    author: "rnbd-rs developers",
    description: "rnbd-rs proof module for the rdma_cm abstractions",
    license: "GPL",
}

const PORT: u16 = 18100;
const CAPS: QpCaps = QpCaps {
    max_send_wr: 16,
    max_recv_wr: 16,
    max_send_sge: 1,
    max_recv_sge: 1,
};

/// Gives the id a QP (with its own PD and CQ), as every real connection has.
fn add_qp(id: &CmIdRef<'_>) -> Result {
    let device = id.device().ok_or(ENODEV)?;
    let pd = ProtectionDomain::new(device)?;
    let cq = CompletionQueue::new(device, 32, 0)?;
    id.create_qp(&pd, &cq, &cq, CAPS).map(|_qp| ())
}
const WAIT_MS: u32 = 10_000;

/// Private data without the zero padding the CM adds.
fn trimmed(data: &[u8]) -> &[u8] {
    let end = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &data[..end]
}

fn text(data: &[u8]) -> &str {
    core::str::from_utf8(data).unwrap_or("<binary>")
}

// ---------------------------------------------------------------- server

/// Server side: counters, and the accepted connections' ids.
#[pin_data]
struct Server {
    established: AtomicU32,
    disconnected: AtomicU32,
    rejected: AtomicU32,
    next_conn: AtomicU32,
    #[pin]
    conns: Mutex<KVec<Option<(u32, CmId<ServerConn>)>>>,
}

struct ServerConn {
    number: u32,
    server: Arc<Server>,
}

impl Server {
    fn active(&self) -> usize {
        self.conns.lock().iter().flatten().count()
    }

    fn take_conn(&self, number: u32) -> Option<CmId<ServerConn>> {
        let mut conns = self.conns.lock();
        let slot = conns
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|(n, _)| *n == number))?;
        slot.take().map(|(_, id)| id)
    }
}

impl ListenHandler for Arc<Server> {
    fn connect_request(&self, request: ConnectRequest<'_>, event: &CmEvent<'_>) {
        let data = trimmed(event.private_data());
        pr_info!("server: connect request with {} bytes\n", data.len());
        if !data.starts_with(b"accept") {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = request.reject(b"go away") {
                pr_err!("reject failed: {:?}\n", e);
            }
            return;
        }
        let number = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let handler = match Arc::new(
            ServerConn {
                number,
                server: self.clone(),
            },
            GFP_KERNEL,
        ) {
            Ok(handler) => handler,
            Err(_) => return,
        };
        let id = match request.adopt(handler) {
            Ok(id) => id,
            Err(e) => {
                pr_err!("adopt failed: {:?}\n", e);
                return;
            }
        };
        if let Err(e) = add_qp(&id.as_ref()) {
            pr_err!("QP for the server connection: {:?}\n", e);
            return;
        }
        let mut reply = [0u8; 56];
        let prefix = b"welcome:";
        let len = (prefix.len() + data.len()).min(reply.len());
        reply[..prefix.len()].copy_from_slice(prefix);
        reply[prefix.len()..len].copy_from_slice(&data[..len - prefix.len()]);
        if let Err(e) = id.as_ref().accept(&ConnParams::new(&reply[..len])) {
            pr_err!("accept failed: {:?}\n", e);
            // Dropping `id` here, inside its event, lets the core destroy it.
            return;
        }
        let mut conns = self.conns.lock();
        let entry = Some((number, id));
        let slot = conns.iter_mut().find(|slot| slot.is_none());
        match slot {
            Some(slot) => *slot = entry,
            None => {
                // On allocation failure the entry (and its id) is dropped
                // inside the event: the core destroys the id.
                let _ = conns.push(entry, GFP_KERNEL);
            }
        }
    }
}

impl CmHandler for ServerConn {
    fn event(&self, _id: &CmIdRef<'_>, event: &CmEvent<'_>) {
        pr_info!(
            "server conn {}: {:?} status {}\n",
            self.number,
            event.kind(),
            event.status()
        );
        match event.kind() {
            CmEventKind::Established => {
                self.server.established.fetch_add(1, Ordering::Relaxed);
            }
            CmEventKind::Disconnected | CmEventKind::DeviceRemoval => {
                self.server.disconnected.fetch_add(1, Ordering::Relaxed);
                // Our own id, dropped inside its own event.
                drop(self.server.take_conn(self.number));
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------- client

/// The client's progress, written by its events and waited on by stores.
#[pin_data]
struct Client {
    #[pin]
    state: Mutex<ClientState>,
    #[pin]
    changed: CondVar,
    /// The client's id. Dropped outside this lock, except inside the id's
    /// own events (where dropping it does not block).
    #[pin]
    id: Mutex<Option<CmId<ClientConn>>>,
}

struct ClientState {
    result: Option<CString>,
    disconnected: bool,
    private_data: KVec<u8>,
}

struct ClientConn {
    client: Arc<Client>,
}

impl Client {
    fn finish(&self, result: core::fmt::Arguments<'_>) {
        let mut state = self.state.lock();
        if state.result.is_none() {
            state.result = CString::try_from_fmt(result).ok();
        }
        drop(state);
        self.changed.notify_all();
    }
}

impl CmHandler for ClientConn {
    fn event(&self, id: &CmIdRef<'_>, event: &CmEvent<'_>) {
        let client = &self.client;
        pr_info!("client: {:?} status {}\n", event.kind(), event.status());
        match event.kind() {
            CmEventKind::AddrResolved => {
                if let Err(e) = id.resolve_route(2000) {
                    client.finish(fmt!("error resolve_route {}", e.to_errno()));
                }
            }
            CmEventKind::RouteResolved => {
                // RoCE carries at most 56 bytes of private data in a request.
                let mut data = [0u8; 56];
                let len = {
                    let state = client.state.lock();
                    let len = state.private_data.len().min(data.len());
                    data[..len].copy_from_slice(&state.private_data[..len]);
                    len
                };
                if let Err(e) = add_qp(id) {
                    return client.finish(format_args!("error create_qp {}", e.to_errno()));
                }
                if let Err(e) = id.connect(&ConnParams::new(&data[..len])) {
                    client.finish(fmt!("error connect {}", e.to_errno()));
                }
            }
            CmEventKind::Established => client.finish(fmt!(
                "established {} on {}",
                text(trimmed(event.private_data())),
                id.device_name().unwrap_or(c_str!("?"))
            )),
            CmEventKind::Rejected => client.finish(fmt!(
                "rejected {} {}",
                event.status(),
                text(trimmed(event.private_data()))
            )),
            CmEventKind::Disconnected => {
                client.state.lock().disconnected = true;
                client.changed.notify_all();
            }
            CmEventKind::DeviceRemoval => {
                // The device goes only once every id and QP on it is gone:
                // drop our own id, inside its event.
                client.finish(format_args!("device removed"));
                client.state.lock().disconnected = true;
                client.changed.notify_all();
                drop(client.id.lock().take());
            }
            kind => client.finish(fmt!("error {:?} {}", kind, event.status())),
        }
    }
}

// ---------------------------------------------------------------- ctl

struct Ctl {
    server: Arc<Server>,
    client: Arc<Client>,
    /// The module's rdma_cm context, for the client's ids.
    cm: Arc<CmContext>,
}

impl Ctl {
    fn wait_for(&self, done: impl Fn(&ClientState) -> bool) -> Result {
        let mut state = self.client.state.lock();
        let deadline = msecs_to_jiffies(WAIT_MS);
        while !done(&state) {
            if let kernel::sync::CondVarTimeoutResult::Timeout = self
                .client
                .changed
                .wait_interruptible_timeout(&mut state, deadline)
            {
                return Err(ETIMEDOUT());
            }
        }
        Ok(())
    }
}

struct Connect;
impl AttributeOps<Ctl> for Connect {
    const NAME: &'static CStr = c_str!("connect");
    const MODE: u16 = 0o200;

    fn store(ctl: &Ctl, input: &[u8], _ctx: &mut StoreContext) -> Result {
        let input = core::str::from_utf8(sysfs::trim_newline(input)).map_err(|_| EINVAL)?;
        let (address, data) = input.split_once(' ').ok_or(EINVAL)?;
        let address = Address::parse(address, PORT)?;
        // Any previous client goes first (outside its events: destroyed now).
        let previous = ctl.client.id.lock().take();
        drop(previous);
        {
            let mut state = ctl.client.state.lock();
            state.result = None;
            state.disconnected = false;
            state.private_data = KVec::new();
            state
                .private_data
                .extend_from_slice(data.as_bytes(), GFP_KERNEL)?;
        }
        let id = CmId::new(
            &ctl.cm,
            Arc::new(
                ClientConn {
                    client: ctl.client.clone(),
                },
                GFP_KERNEL,
            )?,
        )?;
        id.as_ref().resolve_addr(None, &address, 2000)?;
        *ctl.client.id.lock() = Some(id);
        ctl.wait_for(|state| state.result.is_some())
    }
}

struct Disconnect;
impl AttributeOps<Ctl> for Disconnect {
    const NAME: &'static CStr = c_str!("disconnect");
    const MODE: u16 = 0o200;

    fn store(ctl: &Ctl, _input: &[u8], _ctx: &mut StoreContext) -> Result {
        {
            let id = ctl.client.id.lock();
            id.as_ref().ok_or(ENOTCONN())?.as_ref().disconnect()?;
        }
        ctl.wait_for(|state| state.disconnected)?;
        let id = ctl.client.id.lock().take();
        drop(id);
        Ok(())
    }
}

struct ResultAttr;
impl AttributeOps<Ctl> for ResultAttr {
    const NAME: &'static CStr = c_str!("result");
    const MODE: u16 = 0o444;

    fn show(ctl: &Ctl, out: &mut ShowBuffer) -> Result {
        let state = ctl.client.state.lock();
        let disconnected = if state.disconnected {
            " disconnected"
        } else {
            ""
        };
        match &state.result {
            Some(result) => {
                out.write_fmt(fmt!("{}{}\n", result.to_str().unwrap_or("?"), disconnected))
            }
            None => out.write_fmt(fmt!("none{}\n", disconnected)),
        }
    }
}

struct ServerAttr;
impl AttributeOps<Ctl> for ServerAttr {
    const NAME: &'static CStr = c_str!("server");
    const MODE: u16 = 0o444;

    fn show(ctl: &Ctl, out: &mut ShowBuffer) -> Result {
        let s = &ctl.server;
        out.write_fmt(fmt!(
            "established={} disconnected={} rejected={} active={}\n",
            s.established.load(Ordering::Relaxed),
            s.disconnected.load(Ordering::Relaxed),
            s.rejected.load(Ordering::Relaxed),
            s.active()
        ))
    }
}

use kernel_ext::errno::ENOTCONN;

static CONNECT: Attribute<DeviceAttrs<Ctl>, Connect> = Attribute::new();
static DISCONNECT: Attribute<DeviceAttrs<Ctl>, Disconnect> = Attribute::new();
static RESULT: Attribute<DeviceAttrs<Ctl>, ResultAttr> = Attribute::new();
static SERVER: Attribute<DeviceAttrs<Ctl>, ServerAttr> = Attribute::new();
static CTL_ATTRIBUTES: [AttrRef<DeviceAttrs<Ctl>>; 4] = [
    CONNECT.as_ref(),
    DISCONNECT.as_ref(),
    RESULT.as_ref(),
    SERVER.as_ref(),
];

struct CmTest {
    // Dropped in this order: the sysfs files first (no new client), then
    // the listener (no new server connections), then what is left.
    ctl: Option<Arc<ClassDevice<Ctl>>>,
    listener: Option<Listener<Arc<Server>>>,
    server: Arc<Server>,
    /// Last: waits for every id, including destructions deferred from
    /// inside handlers.
    _cm: Arc<CmContext>,
}

impl kernel::Module for CmTest {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let server = Arc::pin_init(
            pin_init!(Server {
                established: AtomicU32::new(0),
                disconnected: AtomicU32::new(0),
                rejected: AtomicU32::new(0),
                next_conn: AtomicU32::new(0),
                conns <- new_mutex!(KVec::new()),
            }),
            GFP_KERNEL,
        )?;
        let cm = Arc::new(CmContext::new()?, GFP_KERNEL)?;
        let listener = Listener::listen(
            &cm,
            Arc::new(server.clone(), GFP_KERNEL)?,
            &Address::any_ipv4(PORT)?,
            64,
        )?;
        let client = Arc::pin_init(
            pin_init!(Client {
                state <- new_mutex!(ClientState {
                    result: None,
                    disconnected: false,
                    private_data: KVec::new(),
                }),
                changed <- new_condvar!(),
                id <- new_mutex!(None),
            }),
            GFP_KERNEL,
        )?;
        let class = Class::register(c_str!("rnbd-cm-test"))?;
        let ctl = ClassDevice::create(
            &class,
            c_str!("ctl"),
            Ctl {
                server: server.clone(),
                client,
                cm: cm.clone(),
            },
            &CTL_ATTRIBUTES,
        )?;
        pr_info!("listening on port {}\n", PORT);
        Ok(CmTest {
            ctl: Some(ctl),
            listener: Some(listener),
            server,
            _cm: cm,
        })
    }
}

impl Drop for CmTest {
    fn drop(&mut self) {
        if let Some(ctl) = self.ctl.take() {
            // The client id, if any: destroying it disconnects the peer.
            let id = ctl.data().client.id.lock().take();
            drop(id);
        }
        drop(self.listener.take());
        // Server connections still up (their Disconnected may not have come).
        let mut left = 0;
        loop {
            let conn = {
                let mut conns = self.server.conns.lock();
                conns.iter_mut().find_map(|slot| slot.take())
            };
            match conn {
                Some((_, id)) => {
                    left += 1;
                    drop(id);
                }
                None => break,
            }
        }
        pr_info!(
            "unloaded: established={} disconnected={} rejected={}, {} connection(s) closed at exit\n",
            self.server.established.load(Ordering::Relaxed),
            self.server.disconnected.load(Ordering::Relaxed),
            self.server.rejected.load(Ordering::Relaxed),
            left
        );
    }
}
