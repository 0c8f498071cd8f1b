// SPDX-License-Identifier: GPL-2.0

//! rnbd-peer: a userspace RTRS/RNBD client for testing RNBD servers over
//! RDMA (rxe or hardware). See `rnbd-peer --help` and
//! `Documentation/testing.md`.

#![deny(unsafe_code)]

mod error;
mod ffi;
mod malformed;
mod pattern;
mod rnbd;
mod rtrs;
mod server;

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use rnbd_wire::rnbd::{AccessMode, Io, Op, Rw};

use error::{Error, Kind, Result};
use rnbd::IoSpec;

#[derive(Parser, Debug)]
#[command(
    name = "rnbd-peer",
    version,
    about = "Userspace RNBD/RTRS client: talks to an RNBD server (e.g. the upstream C rnbd_server) over RDMA",
    after_help = "Exit codes: 0 ok, 1 other error, 2 usage, 3 unreachable, 4 connection rejected, \
5 request refused by the server (errno), 6 timeout, 7 data mismatch, 8 connection closed by the server."
)]
struct Cli {
    /// Server address (IPv4/IPv6 literal or name).
    #[arg(long, short = 's', global = true, default_value = "")]
    server: String,
    /// Server port (RTRS_PORT).
    #[arg(long, short = 'p', global = true, default_value_t = 1234)]
    port: u16,
    /// Session name (sent in INFO_REQ; unique per server).
    #[arg(long, global = true, default_value = "rnbd-peer")]
    session: String,
    /// Device path relative to the server's dev_search_path.
    #[arg(long, short = 'd', global = true, default_value = "")]
    device: String,
    /// Access mode for OPEN (default: rw for write/verify, ro otherwise).
    #[arg(long, short = 'm', global = true)]
    access_mode: Option<Mode>,
    /// Connections of the path, cid 0 admin (default: CPUs + 1, as the C client).
    #[arg(long, short = 'c', global = true)]
    connections: Option<u16>,
    /// Seconds to wait for any single answer.
    #[arg(long, short = 't', global = true, default_value_t = 10.0)]
    timeout: f64,
    /// Requests in flight at most.
    #[arg(long, global = true, default_value_t = 16)]
    window: usize,
    /// Log connection steps to stderr.
    #[arg(long, short = 'v', global = true)]
    verbose: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Mode {
    Ro,
    Rw,
    Migration,
}

impl From<Mode> for AccessMode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Ro => AccessMode::Ro,
            Mode::Rw => AccessMode::Rw,
            Mode::Migration => AccessMode::Migration,
        }
    }
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Connect, SESS_INFO, OPEN, print the device's parameters, CLOSE, disconnect.
    Info {
        /// Stay connected this many seconds before closing (heartbeats are answered).
        #[arg(long, default_value_t = 0.0)]
        hold: f64,
    },
    /// Write a seeded pattern.
    Write(IoArgs),
    /// Read, and with --expect-seed compare with the pattern.
    Read {
        #[command(flatten)]
        io: IoArgs,
        /// The seed the data must match.
        #[arg(long)]
        expect_seed: Option<u64>,
    },
    /// Write a seeded pattern, then read it back (other IO sizes) and verify.
    Verify(IoArgs),
    /// Send one request with the given operation and RNBD flags (write:
    /// the pattern of --pattern-seed) and print the server's answer; exit
    /// status 0 only if it succeeded. For the cache-flush checks of
    /// protocol 2.1/2.2 (a PREFLUSH write, write zeroes with NOUNMAP).
    Request {
        /// Operation.
        #[arg(long, value_enum)]
        op: ReqOp,
        /// Comma-separated RNBD flags: sync, fua, preflush, nounmap.
        #[arg(long, default_value = "", value_parser = parse_rnbd_flags)]
        flags: RnbdFlags,
        /// Byte offset (512-byte aligned; k/M/G suffixes).
        #[arg(long, default_value_t = 0, value_parser = parse_size)]
        offset: u64,
        /// Bytes: the data of a read or write, the range of a discard or
        /// write zeroes, 0 for a flush.
        #[arg(long, default_value_t = 0, value_parser = parse_size)]
        length: u64,
        /// Pattern seed of a write.
        #[arg(long, default_value_t = 1)]
        pattern_seed: u64,
    },
    /// Print the pattern bytes to stdout (no server involved).
    Pattern {
        #[arg(long, default_value_t = 0, value_parser = parse_size)]
        offset: u64,
        #[arg(long, value_parser = parse_size)]
        length: u64,
        #[arg(long, default_value_t = 1)]
        pattern_seed: u64,
    },
    /// Be a malformed RTRS server: listen and answer every client's
    /// connections and INFO_REQ wrongly in one way (see --list), until killed.
    ServeMalformed {
        /// The case (see --list).
        case: Option<String>,
        /// List the cases.
        #[arg(long)]
        list: bool,
        /// Address to listen on (default: any IPv4 address; --port is the port).
        #[arg(long, default_value = "")]
        listen: String,
        /// Stop after this many seconds (default: run until killed).
        #[arg(long)]
        duration: Option<f64>,
    },
    /// Send one malformed message (fresh session) and print what the server did.
    Malformed {
        /// The case (see --list).
        case: Option<String>,
        /// List the cases.
        #[arg(long)]
        list: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ReqOp {
    Read,
    Write,
    Flush,
    Discard,
    WriteZeroes,
}

impl From<ReqOp> for Op {
    fn from(o: ReqOp) -> Self {
        match o {
            ReqOp::Read => Op::Read,
            ReqOp::Write => Op::Write,
            ReqOp::Flush => Op::Flush,
            ReqOp::Discard => Op::Discard,
            ReqOp::WriteZeroes => Op::WriteZeroes,
        }
    }
}

/// The flag bits of an RNBD `rw` word, by name.
#[derive(Clone, Copy, Debug, Default)]
struct RnbdFlags {
    sync: bool,
    fua: bool,
    preflush: bool,
    nounmap: bool,
}

fn parse_rnbd_flags(s: &str) -> std::result::Result<RnbdFlags, String> {
    let mut f = RnbdFlags::default();
    for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name {
            "sync" => f.sync = true,
            "fua" => f.fua = true,
            "preflush" => f.preflush = true,
            "nounmap" => f.nounmap = true,
            _ => {
                return Err(format!(
                    "unknown flag {name:?} (sync, fua, preflush, nounmap)"
                ))
            }
        }
    }
    Ok(f)
}

#[derive(clap::Args, Debug, Clone)]
struct IoArgs {
    /// Byte offset on the device (512-byte aligned; k/M/G suffixes).
    #[arg(long, default_value_t = 0, value_parser = parse_size)]
    offset: u64,
    /// Bytes (512-byte aligned; k/M/G suffixes).
    #[arg(long, value_parser = parse_size)]
    length: u64,
    /// Bytes per IO; default: a varied mix from 512 B up to max_io_size.
    #[arg(long, value_parser = parse_size)]
    io_size: Option<u64>,
    /// Pattern seed.
    #[arg(long, default_value_t = 1)]
    pattern_seed: u64,
}

fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&s[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("bad size {s:?}"))
}

fn ncpus() -> u16 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u16)
        .unwrap_or(1)
}

fn config(cli: &Cli) -> Result<rtrs::Config> {
    if cli.server.is_empty() {
        return Err(Error::new(Kind::Usage, "--server is required"));
    }
    if cli.timeout.is_nan() || cli.timeout <= 0.0 {
        return Err(Error::new(Kind::Usage, "--timeout must be positive"));
    }
    if cli.window == 0 {
        return Err(Error::new(Kind::Usage, "--window must be at least 1"));
    }
    Ok(rtrs::Config {
        host: cli.server.clone(),
        port: cli.port,
        sessname: cli.session.clone(),
        conns: cli.connections.unwrap_or(ncpus() + 1),
        timeout: Duration::from_secs_f64(cli.timeout),
        window: cli.window,
        verbose: cli.verbose,
        conn_req_hook: None,
        info_req_hook: None,
    })
}

fn need_device(cli: &Cli) -> Result<()> {
    if cli.device.is_empty() {
        return Err(Error::new(Kind::Usage, "--device is required"));
    }
    Ok(())
}

/// Splits `[offset, offset+length)` into IOs: `io_size` each, or a varied
/// mix (`variant` picks a different mix for reading back).
fn split(
    offset: u64,
    length: u64,
    io_size: Option<u64>,
    max_io: u64,
    variant: usize,
) -> Vec<IoSpec> {
    const MIX: [u64; 11] = [
        4096, 512, 65536, 0, 8192, 1024, 32768, 16384, 3584, 131072, 61440,
    ];
    let mut v = Vec::new();
    let (mut at, end) = (offset, offset + length);
    let mut i = variant * 5;
    while at < end {
        let want = match io_size {
            Some(n) => n,
            None => match MIX[i % MIX.len()] {
                0 => max_io,
                n => n,
            },
        };
        let n = want.min(max_io).min(end - at) / 512 * 512;
        let n = n.max(512.min(end - at));
        v.push(IoSpec {
            offset: at,
            len: n as usize,
        });
        at += n;
        i += 1;
    }
    v
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64().max(1e-9) / 1e6
}

fn connect_open(cli: &Cli, default_mode: AccessMode) -> Result<(rtrs::Session, rnbd::Device)> {
    need_device(cli)?;
    let cfg = config(cli)?;
    let t0 = Instant::now();
    let mut s = rtrs::Session::connect(cfg)?;
    let p = s.path()?;
    println!(
        "connected: session={} server={}:{} connections={} queue_depth={} max_io_size={} max_hdr_size={} chunk_size={} always_invalidate={} in {:.3}s",
        cli.session,
        cli.server,
        cli.port,
        s.cfg.conns,
        p.queue_depth,
        p.max_io_size,
        p.max_hdr_size,
        p.chunk_size,
        if p.new_rkey { "yes" } else { "no" },
        t0.elapsed().as_secs_f64()
    );
    let ver = rnbd::default_sess_info(&mut s)?;
    println!("sess_info: version={ver}");
    let mode = cli
        .access_mode
        .map(AccessMode::from)
        .unwrap_or(default_mode);
    let dev = rnbd::open(&mut s, &cli.device, mode)?;
    let r = &dev.rsp;
    println!(
        "open: device={} mode={} device_id={} size={} nsectors={} logical_block_size={} physical_block_size={} max_hw_sectors={} max_segments={} max_discard_sectors={} max_write_zeroes_sectors={} cache_policy={:#x}",
        cli.device,
        mode.as_str(),
        dev.device_id,
        dev.size_bytes(),
        r.nsectors.get(),
        r.logical_block_size.get(),
        r.physical_block_size.get(),
        r.max_hw_sectors.get(),
        r.max_segments.get(),
        r.max_discard_sectors.get(),
        r.max_write_zeroes_sectors.get(),
        r.cache_policy,
    );
    Ok((s, dev))
}

fn close_disconnect(mut s: rtrs::Session, dev: &rnbd::Device) -> Result<()> {
    rnbd::close(&mut s, dev)?;
    println!("close: ok");
    let (a, b) = (s.hb_answered, s.hb_acked);
    s.disconnect()?;
    println!("disconnect: ok (heartbeats answered {a}, acked {b})");
    Ok(())
}

fn do_write(s: &mut rtrs::Session, dev: &rnbd::Device, a: &IoArgs, variant: usize) -> Result<()> {
    let max_io = u64::from(s.path()?.max_io_size);
    let ios = split(a.offset, a.length, a.io_size, max_io, variant);
    let t = Instant::now();
    let st = rnbd::write_pattern(s, dev, &ios, a.pattern_seed)?;
    let d = t.elapsed();
    println!(
        "write: {} bytes in {} IOs at offset {} seed {} in {:.3}s ({:.2} MB/s)",
        st.bytes,
        st.ios,
        a.offset,
        a.pattern_seed,
        d.as_secs_f64(),
        mbps(st.bytes, d)
    );
    Ok(())
}

fn do_read(
    s: &mut rtrs::Session,
    dev: &rnbd::Device,
    a: &IoArgs,
    expect: Option<u64>,
    variant: usize,
) -> Result<()> {
    let max_io = u64::from(s.path()?.max_io_size);
    let ios = split(a.offset, a.length, a.io_size, max_io, variant);
    let t = Instant::now();
    let st = rnbd::read_verify(s, dev, &ios, expect)?;
    let d = t.elapsed();
    println!(
        "read: {} bytes in {} IOs at offset {}{} in {:.3}s ({:.2} MB/s)",
        st.bytes,
        st.ios,
        a.offset,
        match expect {
            Some(seed) => format!(", verified against seed {seed}"),
            None => String::new(),
        },
        d.as_secs_f64(),
        mbps(st.bytes, d)
    );
    Ok(())
}

fn run(cli: &Cli) -> Result<()> {
    match &cli.cmd {
        Cmd::Pattern {
            offset,
            length,
            pattern_seed,
        } => {
            if !offset.is_multiple_of(8) {
                return Err(Error::new(Kind::Usage, "--offset must be a multiple of 8"));
            }
            let mut out = std::io::stdout().lock();
            let mut buf = vec![0u8; 1 << 20];
            let (mut at, end) = (*offset, offset + length);
            while at < end {
                let n = ((end - at) as usize).min(buf.len());
                pattern::fill(*pattern_seed, at, &mut buf[..n]);
                out.write_all(&buf[..n])
                    .map_err(|e| Error::new(Kind::Other, format!("stdout: {e}")))?;
                at += n as u64;
            }
            Ok(())
        }
        Cmd::Info { hold } => {
            let (mut s, dev) = connect_open(cli, AccessMode::Ro)?;
            if *hold > 0.0 {
                s.idle(Duration::from_secs_f64(*hold))?;
            }
            close_disconnect(s, &dev)
        }
        Cmd::Write(a) => {
            let (mut s, dev) = connect_open(cli, AccessMode::Rw)?;
            do_write(&mut s, &dev, a, 0)?;
            close_disconnect(s, &dev)
        }
        Cmd::Read { io, expect_seed } => {
            let (mut s, dev) = connect_open(cli, AccessMode::Ro)?;
            do_read(&mut s, &dev, io, *expect_seed, 1)?;
            close_disconnect(s, &dev)
        }
        Cmd::Verify(a) => {
            let (mut s, dev) = connect_open(cli, AccessMode::Rw)?;
            do_write(&mut s, &dev, a, 0)?;
            do_read(&mut s, &dev, a, Some(a.pattern_seed), 1)?;
            close_disconnect(s, &dev)
        }
        Cmd::Request {
            op,
            flags,
            offset,
            length,
            pattern_seed,
        } => {
            if offset % 512 != 0 || length % 512 != 0 {
                return Err(Error::new(
                    Kind::Usage,
                    "--offset and --length must be multiples of 512",
                ));
            }
            let mode = if *op == ReqOp::Read {
                AccessMode::Ro
            } else {
                AccessMode::Rw
            };
            let (mut s, dev) = connect_open(cli, mode)?;
            let rw = Rw {
                op: Op::from(*op),
                sync: flags.sync,
                fua: flags.fua,
                preflush: flags.preflush,
                nounmap: flags.nounmap,
            };
            let len = *length as usize;
            let msg = Io::new(dev.device_id, offset / 512, rw, len as u32, 0).encode();
            let slot = s.get_slot()?;
            let cid = s.next_io_cid();
            // RTRS directions as the C client's rq_data_dir(): a flush is
            // an RTRS READ of nothing; discard and write zeroes are WRITEs
            // without data (the range is in bi_size).
            match op {
                ReqOp::Read => s.send_read(cid, slot, len, &msg)?,
                ReqOp::Flush => s.send_read(cid, slot, 0, &msg)?,
                ReqOp::Write => {
                    let mut data = vec![0u8; len];
                    pattern::fill(*pattern_seed, *offset, &mut data);
                    s.send_write(cid, slot, &data, &msg)?
                }
                ReqOp::Discard | ReqOp::WriteZeroes => s.send_write(cid, slot, &[], &msg)?,
            }
            let errno = s.wait_reply(slot)?;
            s.release(slot);
            println!(
                "request: op={op:?} rw={:#x} offset={offset} length={length}: {}",
                rw.encode(),
                if errno == 0 {
                    "ok".to_string()
                } else {
                    format!("errno {}", -errno)
                }
            );
            close_disconnect(s, &dev)?;
            if errno != 0 {
                return Err(Error::new(
                    Kind::Refused,
                    format!("the server answered errno {}", -errno),
                ));
            }
            Ok(())
        }
        Cmd::ServeMalformed {
            case,
            list,
            listen,
            duration,
        } => {
            if *list {
                for (name, what) in server::CASES {
                    println!("{name:24} {what}");
                }
                return Ok(());
            }
            let name = case
                .as_deref()
                .ok_or_else(|| Error::new(Kind::Usage, "serve-malformed: give a case or --list"))?;
            server::serve(
                name,
                listen,
                cli.port,
                duration.map(Duration::from_secs_f64),
            )
        }
        Cmd::Malformed { case, list } => {
            if *list {
                for (name, what, ci) in malformed::describe() {
                    println!("{name:28} {}{what}", if ci { "" } else { "[not in CI] " });
                }
                return Ok(());
            }
            let name = case
                .as_deref()
                .ok_or_else(|| Error::new(Kind::Usage, "malformed: give a case or --list"))?;
            let mut ctx = malformed::Ctx {
                cfg: config(cli)?,
                device: cli.device.clone(),
            };
            let out = malformed::run(name, &mut ctx)?;
            println!("malformed {name}: {out}");
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rnbd-peer: {e}");
            ExitCode::from(e.kind.exit_code() as u8)
        }
    }
}
