//! The links between VMs. Each VM gets `nics` virtio-net interfaces; NIC k
//! of every VM sits on segment k. Addresses are static: 10.10.<k>.<vm>/24.
//! A lone VM uses QEMU's user network (10.0.2.15), where rxe loops back
//! to its own address as blktests does.

use std::net::TcpListener;
use std::process::Command;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetMode {
    /// QEMU user networking: one VM only.
    User,
    /// QEMU socket netdev: a TCP stream for two VMs, UDP multicast for more.
    Socket,
    /// A host bridge per segment and a tap per NIC (needs CAP_NET_ADMIN).
    Bridge,
}

impl NetMode {
    pub fn parse(name: &str) -> Option<NetMode> {
        match name {
            "user" => Some(NetMode::User),
            "socket" => Some(NetMode::Socket),
            "bridge" => Some(NetMode::Bridge),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            NetMode::User => "user",
            NetMode::Socket => "socket",
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

    fn tap_name(&self, vm: usize, nic: usize) -> String {
        format!("rt{}v{vm}n{nic}", std::process::id() % 100_000)
    }

    /// The guest address of `vm` (1-based) on segment `nic`.
    pub fn address(&self, vm: usize, nic: usize) -> String {
        match self.mode {
            NetMode::User => format!("10.{nic}.2.15"),
            NetMode::Socket | NetMode::Bridge => format!("10.10.{nic}.{vm}"),
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

    /// The TCP ports VM 1 listens on in two-VM socket mode.
    pub fn listen_ports(&self) -> Vec<u16> {
        if self.first_vm_listens() {
            self.socket_ports.clone()
        } else {
            Vec::new()
        }
    }

    /// Whether VM 1 must be listening before the others start.
    pub fn first_vm_listens(&self) -> bool {
        self.mode == NetMode::Socket && self.vms == 2
    }
}

impl Drop for Network {
    fn drop(&mut self) {
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

        let mcast = Network::setup(NetMode::Socket, 3, 1).unwrap();
        assert!(mcast.qemu_args(3)[1].contains("mcast=230.0.0.1:"));
        assert!(!mcast.first_vm_listens());
    }
}
