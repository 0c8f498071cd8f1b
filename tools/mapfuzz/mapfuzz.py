#!/usr/bin/env python3
"""mapfuzz: map_device strings with the errno each must produce.

    mapfuzz.py gen --seed N --count N --ip IP --cpus N --long-dev PATH > cases.jsonl
    mapfuzz.py run cases.jsonl [--ctl DIR] [--report FILE]

`gen` writes one JSON object per line: {"n", "spec", "want", "why"}, where
`want` is an errno name ("OK" for a successful map) derived from the rules
of the protocol document (§8.1.1 map_device parsing, the mapping errors
after it, §6.6 for the server's OPEN answer) by a model of the client
(`expect()`), in this environment (set up by tests/client-map-fuzz-1vm):

- one host: client and server in the same kernel, the server at IP:1234;
- server block devices /dev/ram0../dev/ram3, and LONG_DEV: a 254-character
  path that is a symlink to /dev/ram3;
- standing mappings made before the cases run and kept: session `fzs`
  (rw, no poll queues) has /dev/ram0; session `fzp` (nr_poll_queues=1)
  has /dev/ram1 read-only.

`run` (inside the guest) writes each spec to ctl/map_device, compares the
errno with `want`, unmaps what got mapped and checks that nothing else
appeared. It exits 1 on any mismatch, after printing them.

Where the upstream C client is the reference for a rule the document
leaves open, the model follows it and says so ("C:" in the comments).
"""

import errno
import json
import os
import random
import sys
import time

NAME_MAX = 255
MAX_PATHS = 6
DEFAULT_PORT = 1234

# --- the model -----------------------------------------------------------


def c_strtol(s):
    """simple_strtol(s, &end, 0) as match_token's %d uses it: returns
    (value, rest) or None when no digit was consumed."""
    neg = False
    i = 0
    if s[:1] == "-":
        neg, i = True, 1
    t = s[i:]
    base = 10
    if t[:1] == "0":
        if t[1:2] in ("x", "X") and t[2:3] and t[2:3] in "0123456789abcdefABCDEF":
            base, t, i = 16, t[2:], i + 2
        else:
            base = 8
    digits = "0123456789abcdef"[:base]
    j = 0
    while j < len(t) and t[j].lower() in digits:
        j += 1
    if j == 0:
        return None if not neg else (0, s[i:])
    return (-int(t[:j], base) if neg else int(t[:j], base)), t[j:]


def match_int(value):
    """match_token("%d") then match_int(): the int, or None (-> -EINVAL).
    %d matches when simple_strtol() consumed something (a lone "-" counts:
    it is 0) and nothing is left; match_number() copies at most 23
    characters (longer: -ERANGE), parses again with simple_strtol(), which
    wraps silently at 64 bits, and refuses values outside int."""
    r = c_strtol(value)
    if r is None or r[1] != "":
        return None
    if len(value) >= 24:
        return None
    v = r[0] % 2**64
    if v >= 2**63:
        v -= 2**64
    if v < -(2**31) or v > 2**31 - 1:
        return None
    return v


def ipv4_ok(s):
    # C: in4_pton() ends an IPv4 address at a ':' (IN6PTON_COLON_MASK) and
    # ignores the rest, so "ip:10.0.2.15:1234" or "ip:10.0.2.15:x" is
    # 10.0.2.15 (at dest_port, not 1234).
    s = s.split(":")[0]
    parts = s.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p or len(p) > 3 or not p.isdigit() or int(p) > 255:
            return False
    return True


def ipv6_ok(s):
    """A conservative IPv6 check; the generator only produces clearly
    valid or clearly invalid text (no scope ids, no embedded IPv4)."""
    if s.count("::") > 1 or ":::" in s:
        return False
    if "::" in s:
        head, tail = s.split("::")
        groups = [g for g in head.split(":") if g] + [g for g in tail.split(":") if g]
        if len(groups) > 7:
            return False
        if head and "" in head.split(":"):
            return False
        if tail and "" in tail.split(":"):
            return False
    else:
        groups = s.split(":")
        if len(groups) != 8:
            return False
    return all(1 <= len(g) <= 4 and all(c in "0123456789abcdefABCDEF" for c in g) for g in groups)


def addr_kind(a):
    """rtrs_str_to_sockaddr(): 'ip4', 'ip6', 'gid', or an errno name."""
    if a.startswith("gid:"):
        return "gid" if ipv6_ok(a[4:]) else "EINVAL"
    if a.startswith("ip:"):
        v = a[3:]
        if ipv6_ok(v):
            return "ip6"
        if ipv4_ok(v):
            return "ip4"
        return "EINVAL"
    return "EPROTONOSUPPORT"


def parse_path(value, port):
    """rtrs_addr_to_sockaddr(): ',' first, else '@' splits source and
    destination; a bad source is -EINVAL whatever its error, the
    destination's error is returned as is. Returns (src, dst, port) or an
    errno name."""
    d = value.find(",")
    if d < 0:
        d = value.find("@")
    src = None
    if d >= 0:
        src = value[:d]
        if addr_kind(src) not in ("ip4", "ip6", "gid"):
            return "EINVAL"
        value = value[d + 1 :]
    k = addr_kind(value)
    if k not in ("ip4", "ip6", "gid"):
        return k
    return (src, value, port)


TOKENS = ["path=", "device_path=", "dest_port=", "access_mode=", "sessname=", "nr_poll_queues="]


def parse(spec, cpus):
    """rnbd_clt_parse_map_options(): a dict of options or an errno name."""
    # The store sees a C string: kstrdup() stops at the first NUL.
    s = spec.split("\x00")[0].strip(" \t\n\r\v\f")  # strstrip(): isspace()
    o = {"sessname": None, "device_path": None, "paths": [], "port": DEFAULT_PORT,
         "mode": "rw", "npq": 0}
    for tok in s.split(" "):
        if tok == "":
            continue
        key = next((t for t in TOKENS if tok.startswith(t)), None)
        if key is None:
            return "EINVAL", "unknown token"
        val = tok[len(key):]
        if key in ("dest_port=", "nr_poll_queues="):
            v = match_int(val)
            if v is None:
                return "EINVAL", f"{key} not a number"
            if key == "dest_port=":
                if not 0 <= v <= 65535:
                    return "EINVAL", "dest_port out of range"
                o["port"] = v
            else:
                if not -1 <= v <= cpus:
                    return "EINVAL", "nr_poll_queues out of range"
                o["npq"] = cpus if v == -1 else v
            continue
        if val == "":
            return "EINVAL", f"empty {key}"
        if key == "sessname=":
            if len(val.encode()) > NAME_MAX:
                return "EINVAL", "sessname > 255"
            o["sessname"] = val.encode()[: NAME_MAX - 1].decode(errors="ignore")
        elif key == "device_path=":
            if len(val.encode()) > NAME_MAX:
                return "EINVAL", "device_path > 255"
            o["device_path"] = val.encode()[: NAME_MAX - 1].decode(errors="ignore")
        elif key == "access_mode=":
            if val not in ("ro", "rw", "migration"):
                return "EINVAL", "bad access_mode"
            o["mode"] = val
        elif key == "path=":
            if len(o["paths"]) >= MAX_PATHS:
                return "ENOMEM", "7th path"
            p = parse_path(val, o["port"])
            if isinstance(p, str):
                return p, "bad path address"
            o["paths"].append(p)
    if o["device_path"] is None or o["sessname"] is None:
        return "EINVAL", "sessname or device_path missing"
    return o, ""


class Env:
    """What the cases run against (see the module doc)."""

    def __init__(self, ip, cpus, long_dev):
        self.ip = ip
        self.cpus = cpus
        self.long_dev = long_dev
        # session -> (nr_poll_queues, {device_path: mode})
        self.sessions = {"fzs": (0, {"/dev/ram0": "rw"}), "fzp": (1, {"/dev/ram1": "ro"})}

    def server_open(self, dev, mode):
        """The server's OPEN answer (§6.6) for a device not yet bound in
        the session: 'OK' or an errno name."""
        if ".." in dev:
            return "EINVAL"
        path = "/" + dev if not dev.startswith("/") else dev
        while "//" in path:
            path = path.replace("//", "/")
        known = {"/dev/ram0", "/dev/ram1", "/dev/ram2", "/dev/ram3", self.long_dev}
        if path in ("/dev/null", "/dev/zero"):
            return "ENOTBLK"
        if path not in known:
            return "ENOENT"
        bdev = "ram3" if path == self.long_dev else path[5:]
        writers = sum(1 for _, devs in self.sessions.values() for d, m in devs.items()
                      if m != "ro" and ("ram3" if d == self.long_dev else d.lstrip("/")[4:]) == bdev)
        if mode == "rw" and writers > 0:
            return "EPERM"
        if mode == "migration" and writers >= 2:
            return "EPERM"
        return "OK"

    def connect(self, paths):
        """rtrs_clt_open(): every path must connect. Only the kinds the
        generator makes: our own address at the right port connects; at
        another port the server's CM rejects (no listener): -ECONNRESET
        (§2.9: REJECTED without RTRS data). Anything else is made only by
        fixed cases with their own expectation."""
        seen = set()
        for src, dst, port in paths:
            if src not in (None, "ip:" + self.ip) or dst.split(":")[1] != self.ip:
                raise ValueError("unmodelled path")
            if port != DEFAULT_PORT:
                return "ECONNRESET"
            # A second path with the same addresses (our only source
            # address is the one a path without source gets too): the
            # server refuses it, -EEXIST (C: rtrs-srv.c
            # __is_path_w_addr_exists()).
            if dst in seen:
                return "EEXIST"
            seen.add(dst)
        return "OK"


def expect(spec, env):
    """The errno name a write of SPEC to map_device must fail with, or OK,
    with a reason."""
    # sysfs hands the store at most one page (the rest of the write is
    # not seen); the runner writes spec + "\n".
    spec = (spec + "\n").encode("utf-8", "surrogateescape")[:4096].decode("utf-8", "ignore")
    o, why = parse(spec, env.cpus)
    if isinstance(o, str):
        return o, why
    sess, dev = o["sessname"], o["device_path"]
    have = env.sessions.get(sess)
    if have is not None and dev in have[1]:
        return "EEXIST", "device_path already mapped in the session"
    if have is not None:
        if o["npq"] > 0 or have[0] > 0:
            return "EINVAL", "poll queues need their own session"
        return env.server_open(dev, o["mode"]), "existing session (paths ignored)"
    if not o["paths"]:
        return "ENXIO", "new session without path="
    if "/" in sess or "." in sess:
        return "EINVAL", "sessname with / or ."
    r = env.connect(o["paths"])
    if r != "OK":
        return r, "connect"
    return env.server_open(dev, o["mode"]), "new session"


# --- the generator -------------------------------------------------------


def fixed_cases(env):
    """The boundary cases, each with its expectation from the model (None)
    or, for what only a real connect decides, written out."""
    ip = env.ip
    P = f"path=ip:{ip}"
    L = env.long_dev
    long_dir = L.rsplit("/", 1)[0]
    c = []

    def add(spec, want=None, why=""):
        c.append((spec, want, why))

    # Well-formed maps.
    add(f"sessname=ok1 {P} device_path=/dev/ram2")
    add(f"  sessname=ok2   {P}  device_path=/dev/ram2  ")  # extra spaces
    add(f"\tsessname=ok3 {P} device_path=/dev/ram2\t")  # strstrip() takes tabs at the ends
    add(f"sessname=ok4 path=ip:{ip}@ip:{ip} device_path=/dev/ram2 access_mode=ro")
    add(f"sessname=ok5 path=ip:{ip},ip:{ip} device_path=/dev/ram2 access_mode=migration")
    add(f"device_path=/dev/ram2 {P} sessname=ok6")  # any order
    add(f"sessname=ok7 dest_port=1234 {P} device_path=/dev/ram2")
    add(f"sessname=ok8 dest_port=0x4d2 {P} device_path=/dev/ram2")  # hex
    add(f"sessname=ok9 dest_port=02322 {P} device_path=/dev/ram2")  # octal
    add(f"sessname=ok10 {P} dest_port=1 device_path=/dev/ram2")  # port after path: no effect
    add(f"sessname=ok11 {P} device_path=dev/ram2")  # relative to the server's "/"
    add(f"sessname=ok12 {P} device_path=//dev//ram2")  # runs of / collapsed
    add(f"sessname=ok13 {P} device_path=/dev/ram2 nr_poll_queues=0")
    add(f"sessname=ok14 {P} device_path=/dev/ram2 nr_poll_queues=1")
    add(f"sessname=ok15 {P} device_path=/dev/ram2 nr_poll_queues={env.cpus}")
    add(f"sessname=ok16 {P} device_path=/dev/ram2 nr_poll_queues=-1")
    add(f"sessname=ok17 {P} device_path=/dev/ram2 sessname=ok18")  # last one wins
    add(f"sessname=ok19 {P} device_path=/dev/nonexistent device_path=/dev/ram2")
    add(f"sessname=ok20 {P} device_path=/dev/ram2 access_mode=ro access_mode=rw")
    add(f"sessname=Ok_21-x {P} device_path=/dev/ram3")
    add(f"sessname=ok22 {P} device_path={L}")  # 254 characters
    add(f"sessname=ok23 {P} device_path={L}x")  # 255: stored as the first 254
    add(f"sessname=ok24 {P} device_path={L}xy")  # 256: too long
    add(f"sessname={'s' * 254} {P} device_path=/dev/ram2")
    add(f"sessname={'t' * 254}u {P} device_path=/dev/ram2")  # 255: truncated
    add(f"sessname={'v' * 256} {P} device_path=/dev/ram2")
    add(f"sessname=ok25 {P} device_path=/dev/ram0 access_mode=ro")  # fzs writes it
    add(f"sessname=ok26 {P} device_path=/dev/ram0 access_mode=migration")
    add(f"sessname=ok27 {P} device_path=/dev/ram0")  # a second writer: EPERM
    add(f"sessname=ok28 {P} device_path=/dev/ram0 access_mode=rw")
    add(f"sessname=ok29 {P} device_path=/dev/ram1 access_mode=rw")  # fzp only reads it
    # Existing sessions.
    add("sessname=fzs device_path=/dev/ram0")
    add(f"sessname=fzs {P} device_path=/dev/ram0 nr_poll_queues=1")  # EEXIST first
    add("sessname=fzs device_path=/dev/ram2")
    add(f"sessname=fzs {P} dest_port=1 device_path=/dev/ram3")  # paths ignored
    add("sessname=fzs path=ip:192.0.2.1 device_path=/dev/ram2")
    add("sessname=fzs device_path=/dev/ram2 nr_poll_queues=1")
    add("sessname=fzs device_path=/dev/ram2 nr_poll_queues=-1")
    add("sessname=fzp device_path=/dev/ram2")
    add("sessname=fzp device_path=/dev/ram2 nr_poll_queues=1")
    add("sessname=fzp device_path=/dev/ram1 nr_poll_queues=1")
    add("sessname=fzs device_path=/dev/nonexistent")
    add("sessname=fzs device_path=/dev/null")
    add("sessname=fzs device_path=/dev/../dev/ram2")
    add("sessname=fzs device_path=/dev/ram2.. access_mode=ro")
    add(f"sessname=fzs device_path={long_dir}/nope")
    # New sessions that cannot be made.
    add("sessname=new1 device_path=/dev/ram2")
    add("sessname=new.2 device_path=/dev/ram2")
    add(f"sessname=new.3 {P} device_path=/dev/ram2")
    add(f"sessname=new/4 {P} device_path=/dev/ram2")
    add(f"sessname=new5 {P} device_path=/dev/nonexistent")
    add(f"sessname=new6 {P} device_path=relative/nonexistent")
    add(f"sessname=new7 dest_port=1 {P} device_path=/dev/ram2")
    add(f"sessname=new8 dest_port=65535 {P} device_path=/dev/ram2")
    # Only a real connect decides these; the expectations are what the
    # upstream C client answered (C:).
    add(f"sessname=cx1 dest_port=0 {P} device_path=/dev/ram2", "ECONNRESET", "C: port 0 rejected like any port without listener")
    add(f"sessname=cx2 {P} {P} device_path=/dev/ram2")  # EEXIST: the same path twice
    add(f"sessname=cx3 path=ip:127.0.0.1 device_path=/dev/ram2", "ENODEV", "C: no RDMA device behind lo")
    add(f"sessname=cx4 path=ip:::1 device_path=/dev/ram2", "ENODEV", "C: no RDMA device behind lo")
    add(f"sessname=cx5 path=ip:10.9.9.9@ip:{ip} device_path=/dev/ram2", "EADDRNOTAVAIL", "C: source address not local")
    add(f"sessname=cx6 path=gid:fe80::1 device_path=/dev/ram2", "ENODEV", "C: no IB device for an AF_IB GID")
    # Paths.
    seven = " ".join([P] * 7)
    add(f"sessname=p1 {seven} device_path=/dev/ram2")
    add(f"sessname=p2 {seven} access_mode=bad device_path=/dev/ram2")  # the 7th comes first
    add(f"sessname=p3 access_mode=bad {seven} device_path=/dev/ram2")
    add(f"sessname=p4 {' '.join([P] * 6)} path=junk device_path=/dev/ram2")  # 7th: ENOMEM before parsing it
    add(f"sessname=p5 path={ip} device_path=/dev/ram2")
    add(f"sessname=p6 path=IP:{ip} device_path=/dev/ram2")
    add(f"sessname=p7 path=tcp:{ip} device_path=/dev/ram2")
    add(f"sessname=p8 path=ip: device_path=/dev/ram2")
    add(f"sessname=p9 path=ip:10.0.2 device_path=/dev/ram2")
    add(f"sessname=p10 path=ip:10.0.2.256 device_path=/dev/ram2")
    add(f"sessname=p11 path=ip:{ip}:1234 device_path=/dev/ram2")  # C: ":1234" ignored
    add(f"sessname=p11b path=ip:{ip}:junk device_path=/dev/ram2")
    add(f"sessname=p11c dest_port=1 path=ip:{ip}:1234 device_path=/dev/ram2")
    add(f"sessname=p12 path=bad@ip:{ip} device_path=/dev/ram2")
    add(f"sessname=p13 path=@ip:{ip} device_path=/dev/ram2")
    add(f"sessname=p14 path=ip:{ip}@ device_path=/dev/ram2")
    add(f"sessname=p15 path=ip:{ip}@{ip} device_path=/dev/ram2")
    add(f"sessname=p16 path=ip:1.2.3.4,ip:{ip}@x device_path=/dev/ram2")
    add(f"sessname=p17 path=gid:zz::1 device_path=/dev/ram2")
    add(f"sessname=p18 path=gid:1:2:3:4:5:6:7:8:9 device_path=/dev/ram2")
    add(f"sessname=p19 path=ip:fe80:::1 device_path=/dev/ram2")
    add(f"sessname=p20 path=tcp:1.2.3.4@ip:{ip} device_path=/dev/ram2")
    add("sessname=p21 path= device_path=/dev/ram2")
    add("sessname=p22 path device_path=/dev/ram2")
    # Numbers.
    for v in ["", "-", "+1", "1x", "0x", "08", "99999999999", "-1", "65536", "65535x", " 1",
              "1.0", "0x10000", "-0", "-x", "0" * 22 + "1", "0" * 23 + "1", "18446744073709551617"]:
        add(f"sessname=n1 dest_port={v} {P} device_path=/dev/nonexistent".replace("= ", "=  "))
    for v in ["", "-2", str(env.cpus + 1), "x", "1x", "0x1", "-1x", "2147483648", "0"]:
        add(f"sessname=n2 {P} device_path=/dev/nonexistent nr_poll_queues={v}")
    # Access modes.
    for v in ["", "RO", "r", "rwx", "migrate", "ro,rw", "0", "1", "migration "]:
        add(f"sessname=a1 {P} device_path=/dev/ram2 access_mode={v}")
    # Keys and junk.
    for spec in ["", " ", "\t", "sessname=x", "device_path=/dev/ram2", f"{P}",
                 f"sessname= {P} device_path=/dev/ram2", f"sessname=x {P} device_path=",
                 f"Sessname=x {P} device_path=/dev/ram2", f"sessname=x {P} device_path=/dev/ram2 foo=bar",
                 f"sessname=x {P} device_path=/dev/ram2 =", f"sessname=x\t{P} device_path=/dev/ram2",
                 f"sessname=x {P}\tdevice_path=/dev/ram2", f"sessname=x {P} device_path=/dev/ram2 dest_port",
                 f"sessname=x {P} device_path=/dev/ram2 sessname", "junk", "\x01\x02",
                 "sessname=x\x00y device_path=/dev/ram2", f"sessname=x {P} devicepath=/dev/ram2",
                 f"sessname=x {P} device-path=/dev/ram2", f"sessname=x {P} device_path=/dev/ram2 access_mode"]:
        add(spec)
    # Longer than a page: map_device sees the first 4096 bytes only.
    add(f"sessname=x {P} device_path=/dev/ram2 " + "y" * 5000)
    add(f"sessname=pg1 {P} device_path=/dev/ram2" + " " * 4100 + "junk")  # maps
    add(f"sessname=pg2 {P} device_path=/dev/ram2" + " " * (4096 - 61) + "junk")
    return c


def random_case(rng, env):
    """A random spec from valid and broken pieces, mostly broken."""
    ip = env.ip
    good = {
        "sessname": lambda: "r" + str(rng.randrange(10**6)),
        "device_path": lambda: rng.choice(["/dev/ram2", "/dev/ram3", "/dev/nonexistent", "dev/ram2"]),
        "path": lambda: rng.choice([f"ip:{ip}", f"ip:{ip}@ip:{ip}", f"ip:{ip},ip:{ip}"]),
        "dest_port": lambda: rng.choice(["1234", "0x4d2", "1", "4321"]),
        "access_mode": lambda: rng.choice(["ro", "rw", "migration"]),
        "nr_poll_queues": lambda: rng.choice(["0", "-1", "1", str(env.cpus)]),
    }
    junk_chars = "abcXYZ019_-./:@,%=!~\t\x7f\u00e9"
    bad = {
        "sessname": lambda: rng.choice(["", "s" * rng.choice([256, 300, 1000]), "a.b", "a/b"]),
        "device_path": lambda: rng.choice(["", "/dev/" + "d" * rng.choice([251, 300]), "/dev/../x"]),
        "path": lambda: rng.choice(["", ip, "ip:" + ".".join(str(rng.randrange(300)) for _ in range(rng.choice([3, 4, 5]))),
                                    "x:" + ip, "ip:1.2.3.4@", "@ip:" + ip, "gid:g::1", "ip:" + ip + "%"]),
        "dest_port": lambda: rng.choice(["", "-1", "65536", "1x", "0x", "9" * 12, "abc"]),
        "access_mode": lambda: rng.choice(["", "RW", "r", "w", "migrate", "rw,ro"]),
        "nr_poll_queues": lambda: rng.choice(["", "-2", str(env.cpus + rng.randrange(1, 100)), "q", "1.5"]),
    }
    keys = list(good)
    toks = []
    for k in keys:
        if k in ("sessname", "device_path") and rng.random() < 0.05:
            continue  # missing mandatory key
        if k not in ("sessname", "device_path", "path") and rng.random() < 0.5:
            continue  # optional key left out
        n = 1
        if k == "path":
            n = rng.choice([0, 1, 1, 1, 1, 2, 6, 7, 8])
        elif rng.random() < 0.1:
            n = 2  # duplicate key
        for _ in range(n):
            v = bad[k]() if rng.random() < 0.15 else good[k]()
            toks.append(f"{k}={v}")
    if rng.random() < 0.15:
        # an unknown or mangled key
        j = "".join(rng.choice(junk_chars) for _ in range(rng.randrange(1, 12)))
        toks.insert(rng.randrange(len(toks) + 1), rng.choice([j, j + "=" + j, "sessname" + j[:1] + "=x"]))
    rng.shuffle(toks)
    sep = lambda: rng.choice([" ", " ", " ", "  "])
    spec = ""
    for t in toks:
        spec += t + sep()
    if rng.random() < 0.1:
        spec = rng.choice([" ", "\t", "\n"]) + spec
    return spec


def gen(args):
    env = Env(args.ip, args.cpus, args.long_dev)
    rng = random.Random(args.seed)
    cases = []
    for spec, want, why in fixed_cases(env):
        if want is None:
            want, why = expect(spec, env)
        cases.append((spec, want, why))
    # Random ones; the model must decide them. A new session is expensive
    # (a connect): keep at most --max-maps of them.
    costly = ("connect", "new session", "existing session (paths ignored)")
    maps = sum(1 for c in cases if c[2] in costly)
    while len(cases) < args.count:
        spec = random_case(rng, env)
        try:
            want, why = expect(spec, env)
        except ValueError:
            continue
        if why in costly:
            if maps >= args.max_maps:
                continue
            maps += 1
        cases.append((spec, want, why))
    for n, (spec, want, why) in enumerate(cases):
        print(json.dumps({"n": n, "spec": spec, "want": want, "why": why}))


# --- the runner ----------------------------------------------------------


def rnbd_devs():
    return {d for d in os.listdir("/sys/block") if d.startswith("rnbd")}


def write_spec(ctl, spec):
    data = (spec + "\n").encode("utf-8", "surrogateescape")
    fd = os.open(os.path.join(ctl, "map_device"), os.O_WRONLY)
    try:
        os.write(fd, data)
        return "OK"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        os.close(fd)


def wait_gone(path, seconds=20):
    end = time.monotonic() + seconds
    while os.path.exists(path):
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def run(args):
    cases = [json.loads(l) for l in open(args.cases)]
    bad = []
    counts = {}
    t0 = time.monotonic()
    base = rnbd_devs()
    for c in cases:
        before = rnbd_devs()
        got = write_spec(args.ctl, c["spec"])
        counts[got] = counts.get(got, 0) + 1
        new = rnbd_devs() - before
        if got != c["want"]:
            bad.append((c, got))
        if got == "OK" and len(new) != 1:
            bad.append((c, f"OK but new devices {sorted(new)}"))
        if got != "OK" and new:
            bad.append((c, f"{got} but new devices {sorted(new)}"))
        for d in new:
            with open(f"/sys/block/{d}/rnbd/session") as f:
                sess = f.read().rstrip("\n")
            with open(f"/sys/block/{d}/rnbd/unmap_device", "w") as f:
                f.write("normal")
            if not wait_gone(f"/sys/block/{d}"):
                bad.append((c, f"{d} not gone after unmap"))
            if sess not in ("fzs", "fzp") and not wait_gone(f"/sys/class/rtrs-client/{sess}"):
                bad.append((c, f"session {sess} not gone after unmap"))
    left = rnbd_devs() - base
    if left:
        bad.append(({"n": -1, "spec": "", "want": "", "why": "end"}, f"devices left: {sorted(left)}"))
    secs = time.monotonic() - t0
    lines = [f"{len(cases)} cases in {secs:.1f} s, {len(bad)} mismatches; results: "
             + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))]
    for c, got in bad[:50]:
        lines.append(f"MISMATCH #{c['n']} want {c['want']} ({c['why']}) got {got}: {json.dumps(c['spec'])[:300]}")
    print("\n".join(lines))
    if args.report:
        with open(args.report, "w") as f:
            f.write("\n".join(lines) + "\n")
    return 1 if bad else 0


def main():
    import argparse

    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--count", type=int, default=3000)
    g.add_argument("--max-maps", type=int, default=60)
    g.add_argument("--ip", required=True)
    g.add_argument("--cpus", type=int, required=True)
    g.add_argument("--long-dev", required=True)
    r = sub.add_parser("run")
    r.add_argument("cases")
    r.add_argument("--ctl", default="/sys/devices/virtual/rnbd-client/ctl")
    r.add_argument("--report")
    a = ap.parse_args()
    if a.cmd == "gen":
        gen(a)
        return 0
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
