//! The links between VMs. Each VM gets `nics` virtio-net interfaces; NIC k
//! of every VM sits on segment k. Addresses are static: 10.10.<k>.<vm>/24.
//! A lone VM uses QEMU's user network (10.0.2.15), where rxe loops back
//! to its own address as blktests does.

use std::net::{TcpListener, UdpSocket};
use std::process::Command;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetMode {
    /// QEMU user networking: one VM only.
    User,
    /// QEMU socket netdev: a TCP stream for two VMs, UDP multicast for more.
    Socket,
    /// QEMU stream netdev over a unix socket: lossless, no Nagle; two VMs.
    Stream,
    /// QEMU dgram netdev: UDP datagrams between two VMs on 127.0.0.1.
    Dgram,
    /// A host bridge per segment and a tap per NIC (needs CAP_NET_ADMIN).
    Bridge,
}

impl NetMode {
    pub fn parse(name: &str) -> Option<NetMode> {
        match name {
            "user" => Some(NetMode::User),
            "socket" => Some(NetMode::Socket),
            "dgram" => Some(NetMode::Dgram),
            "stream" => Some(NetMode::Stream),
            "bridge" => Some(NetMode::Bridge),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            NetMode::User => "user",
            NetMode::Socket => "socket",
            NetMode::Dgram => "dgram",
            NetMode::Stream => "stream",
            NetMode::Bridge => "bridge",
        }
    }
}

/// The network of one run. Host links it created are removed on drop.
pub struct Network {
    pub mode: NetMode,
    vms: usize,
    nics: usize,
    socket_ports: Vec<u16>,
    host_links: Vec<String>,
}

impl Network {
    pub fn setup(mode: NetMode, vms: usize, nics: usize) -> Result<Network, String> {
        if mode == NetMode::User && vms > 1 {
            return Err("the user network connects one VM only".into());
        }
        let mut net = Network {
            mode,
            vms,
            nics,
            socket_ports: Vec::new(),
            host_links: Vec::new(),
        };
        match mode {
            NetMode::User => {}
            NetMode::Socket => {
                for _ in 0..nics {
                    net.socket_ports.push(free_tcp_port()?);
                }
            }
            NetMode::Dgram | NetMode::Stream if vms != 2 => {
                return Err(format!(
                    "the {} network connects exactly two VMs",
                    mode.name()
                ));
            }
            NetMode::Stream => {}
            NetMode::Dgram => {
                // One UDP port per VM and segment.
                for _ in 0..nics * 2 {
                    net.socket_ports.push(free_udp_port()?);
                }
            }
            NetMode::Bridge => {
                let tag = std::process::id() % 100_000;
                for nic in 0..nics {
                    let bridge = format!("rb{tag}n{nic}");
                    ip(&["link", "add", &bridge, "type", "bridge", "stp_state", "0"])?;
                    net.host_links.push(bridge.clone());
                    ip(&["link", "set", &bridge, "up"])?;
                    for vm in 1..=vms {
                        let tap = net.tap_name(vm, nic);
                        ip(&["tuntap", "add", "dev", &tap, "mode", "tap"])?;
                        net.host_links.push(tap.clone());
                        ip(&["link", "set", &tap, "master", &bridge])?;
                        ip(&["link", "set", &tap, "up"])?;
                    }
                }
            }
        }
        Ok(net)
    }

    /// The unix socket VM 1 listens on for segment `nic` in stream mode.
    pub fn stream_path(&self, nic: usize) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("rnbd-vmrun-{}-n{nic}.sock", std::process::id()))
    }

    fn tap_name(&self, vm: usize, nic: usize) -> String {
        format!("rt{}v{vm}n{nic}", std::process::id() % 100_000)
    }

    /// The guest address of `vm` (1-based) on segment `nic`.
    pub fn address(&self, vm: usize, nic: usize) -> String {
        match self.mode {
            NetMode::User => format!("10.{nic}.2.15"),
            NetMode::Socket | NetMode::Dgram | NetMode::Stream | NetMode::Bridge => {
                format!("10.10.{nic}.{vm}")
            }
        }
    }

    /// QEMU arguments for the NICs of `vm`.
    pub fn qemu_args(&self, vm: usize) -> Vec<String> {
        let mut args = Vec::new();
        for nic in 0..self.nics {
            let backend = match self.mode {
                NetMode::User => format!("user,id=n{nic},net=10.{nic}.2.0/24"),
                NetMode::Socket if self.vms == 2 => {
                    let port = self.socket_ports[nic];
                    let end = if vm == 1 { "listen" } else { "connect" };
                    format!("socket,id=n{nic},{end}=127.0.0.1:{port}")
                }
                NetMode::Socket => {
                    let port = self.socket_ports[nic];
                    format!("socket,id=n{nic},mcast=230.0.0.1:{port},localaddr=127.0.0.1")
                }
                NetMode::Stream => {
                    let server = if vm == 1 { "on" } else { "off" };
                    format!(
                        "stream,id=n{nic},server={server},addr.type=unix,addr.path={}",
                        self.stream_path(nic).display()
                    )
                }
                NetMode::Dgram => {
                    let local = self.socket_ports[nic * 2 + vm - 1];
                    let remote = self.socket_ports[nic * 2 + (2 - vm)];
                    format!(
                        "dgram,id=n{nic},local.type=inet,local.host=127.0.0.1,local.port={local},\
                         remote.type=inet,remote.host=127.0.0.1,remote.port={remote}"
                    )
                }
                NetMode::Bridge => format!(
                    "tap,id=n{nic},ifname={},script=no,downscript=no",
                    self.tap_name(vm, nic)
                ),
            };
            args.push("-netdev".into());
            args.push(backend);
            args.push("-device".into());
            args.push(format!(
                "virtio-net-pci,netdev=n{nic},mac=52:54:00:12:{vm:02x}:{nic:02x}"
            ));
        }
        args
    }

    /// Whether VM 1 must be listening before the others start: their
    /// QEMU fails at once if it is not.
    pub fn first_vm_listens(&self) -> bool {
        matches!(self.mode, NetMode::Socket | NetMode::Stream) && self.vms == 2
    }

    /// Whether VM 1's QEMU listens on every segment yet. Reads the kernel's
    /// socket tables rather than connecting, which would take the one
    /// connection QEMU accepts.
    pub fn first_vm_listening(&self) -> bool {
        match self.mode {
            NetMode::Socket => {
                // Fields: slot, local address:port (hex), remote, state (0A = LISTEN).
                let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
                self.socket_ports.iter().all(|port| {
                    let local = format!(":{port:04X}");
                    table.lines().any(|l| {
                        let f: Vec<&str> = l.split_whitespace().collect();
                        f.len() > 3 && f[1].ends_with(&local) && f[3] == "0A"
                    })
                })
            }
            NetMode::Stream => {
                // Fields: Num RefCount Protocol Flags(00010000 = listening) Type St Inode Path.
                let table = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
                (0..self.nics).all(|nic| {
                    let path = self.stream_path(nic).display().to_string();
                    table.lines().any(|l| {
                        let f: Vec<&str> = l.split_whitespace().collect();
                        f.len() > 7 && f[3] == "00010000" && f[7] == path
                    })
                })
            }
            _ => true,
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if self.mode == NetMode::Stream {
            for nic in 0..self.nics {
                let _ = std::fs::remove_file(self.stream_path(nic));
            }
        }
        // Taps first, then the bridges they hang on.
        for link in self.host_links.iter().rev() {
            if let Err(e) = ip(&["link", "del", link]) {
                eprintln!("vmrun: cleanup: {e}");
            }
        }
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn free_udp_port() -> Result<u16, String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("no free local port: {e}"))?;
    socket
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn free_tcp_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free local port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_args() {
        let net = Network::setup(NetMode::Socket, 2, 2).unwrap();
        assert_eq!(net.address(2, 1), "10.10.1.2");
        let args = net.qemu_args(2);
        assert_eq!(args.len(), 8);
        assert!(args[1].starts_with("socket,id=n0,connect=127.0.0.1:"));
        assert_eq!(args[3], "virtio-net-pci,netdev=n0,mac=52:54:00:12:02:00");
        assert!(net.qemu_args(1)[1].contains("listen="));
        assert!(net.first_vm_listens());

        let user = Network::setup(NetMode::User, 1, 1).unwrap();
        assert_eq!(user.address(1, 0), "10.0.2.15");
        assert!(Network::setup(NetMode::User, 2, 1).is_err());

        let stream = Network::setup(NetMode::Stream, 2, 1).unwrap();
        assert!(
            stream.qemu_args(1)[1].starts_with("stream,id=n0,server=on,addr.type=unix,addr.path=/")
        );
        assert!(stream.qemu_args(2)[1].contains("server=off"));
        assert!(stream.first_vm_listens());
        assert!(!stream.first_vm_listening(), "nobody listens yet");
        assert!(Network::setup(NetMode::Stream, 3, 1).is_err());

        let mcast = Network::setup(NetMode::Socket, 3, 1).unwrap();
        assert!(mcast.qemu_args(3)[1].contains("mcast=230.0.0.1:"));
        assert!(!mcast.first_vm_listens());
    }
}
