// SPDX-License-Identifier: GPL-2.0

//! `map_device` parsing (`rnbd/client/map_opts.rs`, with the RTRS address
//! grammar `rtrs/common/addr.rs` and `rtrs/common/text.rs`) against spec §8.1.1
//! and the C it mirrors (`rnbd_clt_parse_map_options()`,
//! `rtrs_addr_to_sockaddr()`, `lib/parser.c`, `in4_pton()`, `in6_pton()`):
//! every boundary and errno.

use proptest::prelude::*;
use rnbd_wire::addr::*;
use rnbd_wire::map_opts::*;
use rnbd_wire::rnbd::AccessMode;
use rnbd_wire::text::*;

const CPUS: u32 = 4;
const EINVAL: i32 = 22;
const ENOMEM: i32 = 12;
const EPROTONOSUPPORT: i32 = 93;

fn ok(s: &str) -> MapOptions<'_> {
    match parse(s.as_bytes(), CPUS) {
        Ok(o) => o,
        Err(e) => panic!("{s:?}: {e:?}"),
    }
}

fn err(s: &str) -> i32 {
    match parse(s.as_bytes(), CPUS) {
        Ok(o) => panic!("{s:?} accepted: {o:?}"),
        Err(e) => e.errno(),
    }
}

fn v4(a: [u8; 4], port: u16) -> Host<'static> {
    let _ = port;
    Host::Ip4(a)
}

const BASE: &str = "sessname=s1 device_path=/dev/ram0";

#[test]
fn minimal_and_defaults() {
    let o = ok("sessname=s1 path=ip:10.0.0.1 device_path=/dev/ram0");
    assert_eq!(o.sessname, b"s1");
    assert_eq!(o.device_path, b"/dev/ram0");
    assert_eq!(o.path_cnt, 1);
    assert_eq!(o.dest_port, 1234);
    assert_eq!(o.access_mode, AccessMode::Rw);
    assert_eq!(o.nr_poll_queues, 0);
    let p = o.paths[0].unwrap();
    assert_eq!(p.src, None);
    assert_eq!(p.dst.host, v4([10, 0, 0, 1], 1234));
    assert_eq!(p.dst.port, 1234);
    assert_eq!(p.dst.text, b"10.0.0.1");
    // path= is optional for the parser (the session may exist: ENXIO
    // comes later, from the map).
    let o = ok(BASE);
    assert_eq!(o.path_cnt, 0);
}

#[test]
fn mandatory_options() {
    assert_eq!(err(""), EINVAL);
    assert_eq!(err("   \n"), EINVAL);
    assert_eq!(err("sessname=s1"), EINVAL);
    assert_eq!(err("device_path=x"), EINVAL);
    assert_eq!(err("sessname=s1 path=ip:1.2.3.4"), EINVAL);
}

#[test]
fn whitespace_and_separators() {
    // strstrip: leading/trailing isspace (incl. \t \v \f \r and 0xA0);
    // split on single spaces only; empty tokens skipped.
    let o = ok("\t\n  sessname=s1    device_path=d  \n\n");
    assert_eq!((o.sessname, o.device_path), (&b"s1"[..], &b"d"[..]));
    let mut bytes = vec![0xA0u8];
    bytes.extend_from_slice(b"sessname=s1 device_path=d");
    bytes.push(0xA0);
    assert!(parse(&bytes, CPUS).is_ok());
    // A tab inside is not a separator: "s1\tdevice_path=d" is the name.
    assert_eq!(err("sessname=s1\tdevice_path=d"), EINVAL);
    let o = ok("sessname=s1\tx device_path=d");
    assert_eq!(o.sessname, b"s1\tx");
    // A newline inside a token belongs to the value.
    let o = ok("sessname=a\nb device_path=d");
    assert_eq!(o.sessname, b"a\nb");
    // Everything after a NUL is gone (kstrdup).
    assert_eq!(
        parse(b"sessname=s1 device_path=d\0 bogus", CPUS).map(|_| ()),
        Ok(())
    );
    assert_eq!(
        parse(b"sessname=s1\0 device_path=d", CPUS).map(|_| ()),
        Err(ParseError::Inval)
    );
}

#[test]
fn unknown_tokens_and_empty_values() {
    for s in [
        "sessname=s1 device_path=d bogus",
        "sessname=s1 device_path=d bogus=1",
        "sessname=s1 device_path=d SESSNAME=x",
        "sessname=s1 device_path=d sessname",
        "sessname= device_path=d",
        "sessname=s1 device_path=",
        "sessname=s1 device_path=d path=",
        "sessname=s1 device_path=d access_mode=",
        "sessname=s1 device_path=d dest_port=",
        "sessname=s1 device_path=d nr_poll_queues=",
        "sessname=s1 device_path=d =x",
        "sessname=s1 device_path=d dest_port",
    ] {
        assert_eq!(err(s), EINVAL, "{s}");
    }
}

#[test]
fn name_lengths() {
    let n254 = "a".repeat(254);
    let n255 = "b".repeat(255);
    let n256 = "c".repeat(256);
    let s = format!("sessname={n254} device_path={n254}");
    let o = ok(&s);
    assert_eq!(o.sessname.len(), 254);
    assert_eq!(o.device_path.len(), 254);
    // 255 accepted, silently cut to 254 (strscpy into NAME_MAX).
    let s = format!("sessname={n255} device_path={n255}");
    let o = ok(&s);
    assert_eq!(o.sessname, &n255.as_bytes()[..254]);
    assert_eq!(o.device_path, &n255.as_bytes()[..254]);
    assert_eq!(err(&format!("sessname={n256} device_path=d")), EINVAL);
    assert_eq!(err(&format!("sessname=s device_path={n256}")), EINVAL);
    // The length check comes when the token is parsed: an earlier bad
    // token wins.
    assert_eq!(
        err(&format!("path=x sessname={n256} device_path=d")),
        EPROTONOSUPPORT
    );
}

#[test]
fn duplicates_last_wins() {
    let o = ok("sessname=a sessname=b device_path=x device_path=y access_mode=ro access_mode=migration nr_poll_queues=1 nr_poll_queues=2");
    assert_eq!(o.sessname, b"b");
    assert_eq!(o.device_path, b"y");
    assert_eq!(o.access_mode, AccessMode::Migration);
    assert_eq!(o.nr_poll_queues, 2);
}

#[test]
fn access_modes() {
    assert_eq!(
        ok("sessname=s device_path=d access_mode=ro").access_mode,
        AccessMode::Ro
    );
    assert_eq!(
        ok("sessname=s device_path=d access_mode=rw").access_mode,
        AccessMode::Rw
    );
    assert_eq!(
        ok("sessname=s device_path=d access_mode=migration").access_mode,
        AccessMode::Migration
    );
    for bad in ["RO", "r", "rwx", "migrate", "ro\n"] {
        assert_eq!(err(&format!("{BASE} access_mode={bad} x")), EINVAL, "{bad}");
    }
    // A trailing newline of the whole write is stripped first.
    assert_eq!(
        ok("sessname=s device_path=d access_mode=ro\n").access_mode,
        AccessMode::Ro
    );
    assert_eq!(AccessMode::Ro.as_str(), "ro");
    assert_eq!(AccessMode::Migration as u8, 2);
}

#[test]
fn dest_port_numbers() {
    let port = |v: &str| ok(&format!("{BASE} dest_port={v}")).dest_port;
    assert_eq!(port("0"), 0);
    assert_eq!(port("65535"), 65535);
    assert_eq!(port("0x4d2"), 1234);
    assert_eq!(port("0X4D2"), 1234);
    assert_eq!(port("02322"), 1234); // octal
    assert_eq!(port("-0"), 0);
    assert_eq!(port("-"), 0); // simple_strtol consumes the sign alone
    assert_eq!(port("0000000000000000000001"), 1); // 22 chars
                                                   // 2^64 wraps to 0 in simple_strtoull (20 chars < 24)
    assert_eq!(port("18446744073709551616"), 0);
    for bad in [
        "65536",
        "-1",
        "1x",
        "x",
        "+1",
        "0x",
        "08",
        "0xg",
        " 1",
        "1 2",
        "--1",
        "2147483648",
        "000000000000000000000001", // 24 chars: match_strlcpy limit
        "4294967297",               // > INT_MAX
    ] {
        if bad.contains(' ') {
            continue;
        }
        assert_eq!(err(&format!("{BASE} dest_port={bad}")), EINVAL, "{bad}");
    }
    assert_eq!(port("0000000000000000000000"), 0);
    assert_eq!(port("00000000000000000000001"), 1); // 23 chars: the most
    assert_eq!(
        err(&format!("{BASE} dest_port=000000000000000000000000")),
        EINVAL
    );
}

#[test]
fn dest_port_applies_to_later_paths_only() {
    let o = ok("path=ip:1.1.1.1 dest_port=99 path=ip:2.2.2.2 path=ip:3.3.3.3@ip:4.4.4.4 dest_port=7 sessname=s device_path=d");
    assert_eq!(o.path_cnt, 3);
    assert_eq!(o.paths[0].unwrap().dst.port, 1234);
    assert_eq!(o.paths[1].unwrap().dst.port, 99);
    let p = o.paths[2].unwrap();
    assert_eq!(p.dst.port, 99);
    assert_eq!(p.src.unwrap().port, 0);
    assert_eq!(o.dest_port, 7); // the session port
}

#[test]
fn nr_poll_queues_bounds() {
    let n = |v: &str| ok(&format!("{BASE} nr_poll_queues={v}")).nr_poll_queues;
    assert_eq!(n("0"), 0);
    assert_eq!(n("4"), CPUS);
    assert_eq!(n("-1"), CPUS);
    assert_eq!(n("0x2"), 2);
    for bad in ["5", "-2", "x", "1.0", "99999999999"] {
        assert_eq!(
            err(&format!("{BASE} nr_poll_queues={bad}")),
            EINVAL,
            "{bad}"
        );
    }
}

#[test]
fn path_count_limit() {
    let six: String = (1..=6).map(|i| format!(" path=ip:10.0.0.{i}")).collect();
    let s6 = format!("{BASE}{six}");
    let o = ok(&s6);
    assert_eq!(o.path_cnt, 6);
    assert_eq!(o.paths().count(), 6);
    assert_eq!(err(&format!("{BASE}{six} path=ip:10.0.0.7")), ENOMEM);
    // The 7th is refused before its value is looked at...
    assert_eq!(err(&format!("{BASE}{six} path=garbage")), ENOMEM);
    // ...but an empty one does not match the token at all.
    assert_eq!(err(&format!("{BASE}{six} path=")), EINVAL);
}

#[test]
fn path_forms() {
    fn p(v: &str) -> PathSpec<'static> {
        let s: &'static str = Box::leak(format!("{BASE} path={v}").into_boxed_str());
        ok(s).paths[0].unwrap()
    }
    let x = p("ip:10.0.0.2,ip:10.0.0.1");
    assert_eq!(x.src.unwrap().host, Host::Ip4([10, 0, 0, 2]));
    assert_eq!(x.dst.host, Host::Ip4([10, 0, 0, 1]));
    let x = p("ip:10.0.0.2@ip:10.0.0.1");
    assert_eq!(x.src.unwrap().host, Host::Ip4([10, 0, 0, 2]));
    // ',' is searched first: "a@b,c" splits at the comma.
    assert_eq!(
        err(&format!("{BASE} path=ip:1.1.1.1@ip:2.2.2.2,ip:3.3.3.3")),
        EINVAL
    );
    let x = p("ip:fe80::1@ip:::1");
    assert_eq!(
        x.dst.host,
        Host::Ip6 {
            addr: ipv6("::1"),
            scope: None
        }
    );
    let x = p("gid:fe80::2");
    assert_eq!(x.dst.host, Host::Gid(ipv6("fe80::2")));
    assert_eq!(x.dst.port, 1234);
    let x = p("gid:fe80::3@gid:fe80::2");
    assert_eq!(x.src.unwrap().host, Host::Gid(ipv6("fe80::3")));
}

#[test]
fn path_errors() {
    let e = |v: &str| err(&format!("{BASE} path={v}"));
    // destination without a prefix: EPROTONOSUPPORT
    assert_eq!(e("10.0.0.1"), EPROTONOSUPPORT);
    assert_eq!(e("IP:10.0.0.1"), EPROTONOSUPPORT);
    assert_eq!(e("ipv4:10.0.0.1"), EPROTONOSUPPORT);
    assert_eq!(e("ip:10.0.0.1@10.0.0.2"), EPROTONOSUPPORT);
    assert_eq!(e("ip:10.0.0.1@"), EPROTONOSUPPORT);
    // a bad source is always EINVAL, whatever its problem
    assert_eq!(e("10.0.0.1@ip:10.0.0.2"), EINVAL);
    assert_eq!(e("ip:300.0.0.1@ip:10.0.0.2"), EINVAL);
    assert_eq!(e("@ip:10.0.0.2"), EINVAL);
    assert_eq!(e(",ip:10.0.0.2"), EINVAL);
    // bad IPs and GIDs: EINVAL
    for bad in [
        "ip:",
        "ip:1.2.3",
        "ip:1.2.3.4.5",
        "ip:256.1.1.1",
        "ip:1..2.3",
        "ip:host",
        "ip:1.2.3.4x",
        "ip::::",
        "ip:1:2:3:4:5:6:7:8:9",
        "ip:fe80::1%",
        "ip:12345::",
        "gid:",
        "gid:1.2.3.4",
        "gid:fe80::1%eth0",
        "gid:xyz",
    ] {
        assert_eq!(e(bad), EINVAL, "{bad}");
    }
}

fn ipv6(s: &str) -> [u8; 16] {
    s.parse::<std::net::Ipv6Addr>().unwrap().octets()
}

#[test]
fn ipv4_like_the_kernel() {
    fn h(s: &str) -> Result<Host<'_>, AddrError> {
        parse_ip(s.as_bytes())
    }
    assert_eq!(h("0.0.0.0"), Ok(Host::Ip4([0, 0, 0, 0])));
    assert_eq!(h("255.255.255.255"), Ok(Host::Ip4([255; 4])));
    assert_eq!(h("010.001.0.1"), Ok(Host::Ip4([10, 1, 0, 1]))); // decimal, zeros allowed
    assert_eq!(h("1.2.3.256"), Err(AddrError::Inval));
    // in4_pton stops at the delimiter '\n': what follows is ignored.
    assert_eq!(h("1.2.3.4\nxyz"), Ok(Host::Ip4([1, 2, 3, 4])));
    // ...and at a colon: "1.2.3.4:5" is 1.2.3.4 (the kernel's quirk).
    assert_eq!(h("1.2.3.4:5"), Ok(Host::Ip4([1, 2, 3, 4])));
    // 16 chars max for IPv4 (INET_ADDRSTRLEN), then only IPv6 is tried.
    assert_eq!(h("001.002.003.0004"), Ok(Host::Ip4([1, 2, 3, 4])));
    assert_eq!(h("0001.002.003.0004"), Err(AddrError::Inval));
}

#[test]
fn ipv6_like_the_kernel() {
    for s in [
        "::",
        "::1",
        "fe80::1",
        "2001:db8::8:800:200c:417a",
        "1:2:3:4:5:6:7:8",
        "1::8",
        "1:2:3:4:5:6::8",
        "::ffff:10.0.0.1",
        "::10.0.0.1",
        "1:2:3:4:5:6:1.2.3.4",
        "ff02::1",
        "1:2:3:4:5:6:7::",
    ] {
        let expected = ipv6(s);
        match parse_ip(s.as_bytes()) {
            Ok(Host::Ip6 { addr, scope: None }) => assert_eq!(addr, expected, "{s}"),
            other => panic!("{s}: {other:?}"),
        }
        let gid = format!("{BASE} path=gid:{s}");
        assert_eq!(
            ok(&gid).paths[0].unwrap().dst.host,
            Host::Gid(expected),
            "{s}"
        );
    }
    for s in [
        ":",
        ":::",
        "1:::2",
        "1::2::3",
        "12345::",
        "g::",
        "1:2:3:4:5:6:7:8:9",
        "::1.2.3",
    ] {
        assert_eq!(parse_ip(s.as_bytes()), Err(AddrError::Inval), "{s}");
    }
    // 48 chars max (INET6_ADDRSTRLEN)
    let long = format!("0000:0000:0000:0000:0000:0000:0000:0001%{}", "x".repeat(8));
    assert_eq!(long.len(), 48);
    assert!(parse_ip(long.as_bytes()).is_ok());
    assert_eq!(
        parse_ip(format!("{long}y").as_bytes()),
        Err(AddrError::Inval)
    );
}

#[test]
fn ipv6_scope() {
    // link-local: scope kept (at most 15 bytes) for the kernel to resolve
    match parse_ip(b"fe80::1%eth0") {
        Ok(Host::Ip6 { scope: Some(s), .. }) => assert_eq!(s, b"eth0"),
        other => panic!("{other:?}"),
    }
    match parse_ip(b"ff02::1%2") {
        Ok(Host::Ip6 { scope: Some(s), .. }) => assert_eq!(s, b"2"),
        other => panic!("{other:?}"),
    }
    match parse_ip(b"fe80::1%0123456789abcdefXYZ") {
        Ok(Host::Ip6 { scope: Some(s), .. }) => assert_eq!(s, b"0123456789abcde"),
        other => panic!("{other:?}"),
    }
    // not link-local: the scope is ignored, as inet6_pton does
    assert_eq!(
        parse_ip(b"2001:db8::1%whatever"),
        Ok(Host::Ip6 {
            addr: ipv6("2001:db8::1"),
            scope: None
        })
    );
}

#[test]
fn symlink_names() {
    let mut buf = [0u8; 600];
    let n = symlink_name(b"/dev/ram0", b"s1", &mut buf).unwrap();
    assert_eq!(&buf[..n], b"!dev!ram0@s1");
    let n = symlink_name(b"a/b//c/", b"x.y", &mut buf).unwrap();
    assert_eq!(&buf[..n], b"a!b!!c!@x.y");
    assert_eq!(symlink_name(b"abc", b"s", &mut [0u8; 4]), None);
    assert_eq!(symlink_name(b"abc", b"s", &mut [0u8; 5]), Some(5));
}

#[test]
fn unmap_remap_resize_inputs() {
    assert_eq!(parse_unmap(b"normal\n"), Ok(false));
    assert_eq!(parse_unmap(b"  force  "), Ok(true));
    assert_eq!(parse_unmap(b"force\n\n"), Ok(true)); // strstrip first
    assert_eq!(parse_unmap(b"Force"), Err(ParseError::Inval));
    assert_eq!(parse_unmap(b""), Err(ParseError::Inval));
    assert_eq!(parse_remap(b"1\n"), Ok(()));
    assert_eq!(parse_remap(b" 1 "), Ok(()));
    assert_eq!(parse_remap(b"01"), Err(ParseError::Inval));
    assert_eq!(parse_remap(b"2"), Err(ParseError::Inval));
    assert_eq!(kstrtoul(b"2048\n"), Ok(2048));
    assert_eq!(kstrtoul(b"0x800"), Ok(2048));
    assert_eq!(kstrtoul(b"04000"), Ok(2048));
    assert_eq!(kstrtoul(b"+5"), Ok(5));
    assert_eq!(kstrtoul(b"18446744073709551615"), Ok(u64::MAX));
    assert_eq!(kstrtoul(b"18446744073709551616"), Err(34));
    assert_eq!(kstrtoul(b"-1"), Err(22));
    assert_eq!(kstrtoul(b""), Err(22));
    assert_eq!(kstrtoul(b"5\n\n"), Err(22));
    assert_eq!(kstrtoul(b" 5"), Err(22));
    assert_eq!(kstrtoul(b"0x"), Err(22));
}

#[test]
fn usage_text() {
    assert!(MAP_DEVICE_USAGE.starts_with("Usage: echo \"[dest_port=server port number] sessname="));
    assert!(MAP_DEVICE_USAGE
        .ends_with("> map_device\n\naddr ::= [ ip:<ipv4> | ip:<ipv6> | gid:<gid> ]\n"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse(&bytes, CPUS);
        let _ = parse_ip(&bytes);
        let _ = parse_path(&bytes, 1);
        let _ = kstrtoul(&bytes);
    }

    #[test]
    fn ipv4_roundtrip(a in any::<[u8; 4]>(), port in any::<u16>()) {
        let s = format!("sessname=s device_path=d dest_port={port} path=ip:{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
        let o = parse(s.as_bytes(), CPUS).unwrap();
        let p = o.paths[0].unwrap();
        prop_assert_eq!(p.dst.host, Host::Ip4(a));
        prop_assert_eq!(p.dst.port, port);
    }

    #[test]
    fn ipv6_roundtrip(a in any::<[u8; 16]>()) {
        let addr = std::net::Ipv6Addr::from(a);
        // std prints ::ffff:a.b.c.d for mapped addresses: in6_pton takes it too
        let s = addr.to_string();
        match parse_ip(s.as_bytes()) {
            Ok(Host::Ip6 { addr: got, .. }) => prop_assert_eq!(got, a),
            other => prop_assert!(false, "{}: {:?}", s, other),
        }
        let full = a.chunks(2).map(|c| format!("{:x}", u16::from_be_bytes([c[0], c[1]]))).collect::<Vec<_>>().join(":");
        match parse_ip(full.as_bytes()) {
            Ok(Host::Ip6 { addr: got, .. }) => prop_assert_eq!(got, a),
            other => prop_assert!(false, "{}: {:?}", full, other),
        }
    }

    #[test]
    fn tokens_any_order(perm in Just(()).prop_perturb(|_, mut rng| {
        let mut v = vec!["sessname=s9", "device_path=/x/y", "access_mode=ro", "nr_poll_queues=2", "dest_port=77", "path=ip:1.2.3.4"];
        for i in (1..v.len()).rev() { let j = (rng.next_u32() as usize) % (i + 1); v.swap(i, j); }
        v
    })) {
        let s = perm.join("  ");
        let o = parse(s.as_bytes(), CPUS).unwrap();
        prop_assert_eq!(o.sessname, b"s9");
        prop_assert_eq!(o.device_path, b"/x/y");
        prop_assert_eq!(o.access_mode, AccessMode::Ro);
        prop_assert_eq!(o.nr_poll_queues, 2);
        prop_assert_eq!(o.dest_port, 77);
        let port_first = s.find("dest_port").unwrap() < s.find("path=ip").unwrap();
        prop_assert_eq!(o.paths[0].unwrap().dst.port, if port_first { 77 } else { 1234 });
    }
}

#[test]
fn kstrtoint_like_the_kernel() {
    assert_eq!(kstrtoint(b"5"), Some(5));
    assert_eq!(kstrtoint(b"-1\n"), Some(-1));
    assert_eq!(kstrtoint(b"+7"), Some(7));
    assert_eq!(kstrtoint(b"2147483647"), Some(i32::MAX));
    assert_eq!(kstrtoint(b"-2147483648"), Some(i32::MIN));
    assert_eq!(kstrtoint(b"2147483648"), None);
    assert_eq!(kstrtoint(b""), None);
    assert_eq!(kstrtoint(b"-"), None);
    assert_eq!(kstrtoint(b"1\n\n"), None);
    assert_eq!(kstrtoint(b" 1"), None);
    assert_eq!(kstrtoint(b"0x10"), None);
}
