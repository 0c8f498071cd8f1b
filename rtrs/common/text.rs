// SPDX-License-Identifier: GPL-2.0

//! The kernel's text parsing as sysfs writers meet it (`lib/ctype.c`,
//! `lib/string.c`, `lib/parser.c`, `lib/kstrtox.c`), for the RTRS address
//! grammar (`addr.rs`) and the RNBD `map_device` options above it.
//!
//! `no_std`, only `core`, no `unsafe`, no kernel types: compiled into the
//! modules by path and into the host crate `tools/wire`
//! (`rnbd_wire::text`), where `tests/map_opts.rs` checks it.

#![allow(dead_code, unreachable_pub)]
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented,
    clippy::arithmetic_side_effects
)]

/// `lib/parser.c`'s `NUMBER_BUF_LEN`.
const NUMBER_BUF_LEN: usize = 24;

/// The kernel's `isspace()` (`lib/ctype.c`: 9-13, space and 0xA0).
pub const fn is_space(c: u8) -> bool {
    matches!(c, 9..=13 | b' ' | 0xA0)
}

/// `strstrip()`.
pub fn strstrip(s: &[u8]) -> &[u8] {
    let mut start = 0;
    let mut end = s.len();
    while end > 0 && s.get(end.wrapping_sub(1)).is_some_and(|&c| is_space(c)) {
        end = end.wrapping_sub(1);
    }
    while start < end && s.get(start).is_some_and(|&c| is_space(c)) {
        start = start.wrapping_add(1);
    }
    s.get(start..end).unwrap_or(&[])
}

/// The string as C sees it: up to the first NUL (`kstrdup()`).
pub fn c_str(s: &[u8]) -> &[u8] {
    match s.iter().position(|&c| c == 0) {
        Some(nul) => s.get(..nul).unwrap_or(&[]),
        None => s,
    }
}

/// `sysfs_streq()`: equal, ignoring one trailing newline on either side.
pub fn sysfs_streq(a: &[u8], b: &[u8]) -> bool {
    fn cut(s: &[u8]) -> &[u8] {
        let s = c_str(s);
        match s.split_last() {
            Some((b'\n', rest)) => rest,
            _ => s,
        }
    }
    cut(a) == cut(b)
}

pub fn digit_value(c: u8) -> Option<u64> {
    match c {
        b'0'..=b'9' => Some(u64::from(c.wrapping_sub(b'0'))),
        b'a'..=b'f' => Some(u64::from(c.wrapping_sub(b'a')).wrapping_add(10)),
        b'A'..=b'F' => Some(u64::from(c.wrapping_sub(b'A')).wrapping_add(10)),
        _ => None,
    }
}

/// `simple_strtoull(s, &end, base)`: the value (wrapping, as the kernel's
/// `_parse_integer_limit()` does) and how many bytes it consumed.
fn simple_strtoull(s: &[u8], base: u32) -> (u64, usize) {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut base = u64::from(base);
    let mut pos = 0usize;
    if base == 0 {
        if at(0) == b'0' {
            base = if at(1).eq_ignore_ascii_case(&b'x') && at(2).is_ascii_hexdigit() {
                16
            } else {
                8
            };
        } else {
            base = 10;
        }
    }
    if base == 16 && at(0) == b'0' && at(1).eq_ignore_ascii_case(&b'x') {
        pos = 2;
    }
    let mut value: u64 = 0;
    while let Some(d) = digit_value(at(pos)) {
        if d >= base {
            break;
        }
        value = value.wrapping_mul(base).wrapping_add(d);
        pos = pos.wrapping_add(1);
    }
    (value, pos)
}

/// `simple_strtol(s, &end, 0)`.
fn simple_strtol(s: &[u8]) -> (i64, usize) {
    if s.first() == Some(&b'-') {
        let (v, used) = simple_strtoull(s.get(1..).unwrap_or(&[]), 0);
        (v.wrapping_neg() as i64, used.wrapping_add(1))
    } else {
        let (v, used) = simple_strtoull(s, 0);
        (v as i64, used)
    }
}

/// A `%d` token value: `match_one()` (a number filling the whole value)
/// then `match_int()` (at most 23 bytes, within `int`). `None` is what
/// upstream turns into `-EINVAL`.
pub fn match_int(value: &[u8]) -> Option<i32> {
    let (_, used) = simple_strtol(value);
    if used == 0 || used != value.len() {
        return None;
    }
    if value.len() >= NUMBER_BUF_LEN {
        return None;
    }
    let (v, _) = simple_strtol(value);
    i32::try_from(v).ok()
}

/// `kstrtoul(buf, 0, &v)` for `resize`: `Err(22)` EINVAL, `Err(34)`
/// ERANGE.
pub fn kstrtoul(input: &[u8]) -> Result<u64, i32> {
    let s = c_str(input);
    // `kstrtoull` skips a leading '+', then needs digits, and allows one
    // trailing newline.
    let s = s.strip_prefix(b"+").unwrap_or(s);
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut base = 10u64;
    let mut pos = 0usize;
    if at(0) == b'0' {
        if at(1).eq_ignore_ascii_case(&b'x') && at(2).is_ascii_hexdigit() {
            base = 16;
            pos = 2;
        } else {
            base = 8;
        }
    }
    let mut value: u64 = 0;
    let mut overflow = false;
    let start = pos;
    while let Some(d) = digit_value(at(pos)) {
        if d >= base {
            break;
        }
        match value.checked_mul(base).and_then(|v| v.checked_add(d)) {
            Some(v) => value = v,
            None => overflow = true,
        }
        pos = pos.wrapping_add(1);
    }
    if pos == start {
        return Err(22);
    }
    if overflow {
        return Err(34);
    }
    let rest = s.get(pos..).unwrap_or(&[]);
    if !(rest.is_empty() || rest == b"\n") {
        return Err(22);
    }
    Ok(value)
}

/// `kstrtoint(buf, 10, ..)`: an optional sign, decimal digits, at most one
/// trailing newline, within `i32`.
pub fn kstrtoint(input: &[u8]) -> Option<i32> {
    let s = input.strip_suffix(b"\n").unwrap_or(input);
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: i64 = 0;
    for d in digits {
        value = value
            .checked_mul(10)?
            .checked_add(i64::from(d.wrapping_sub(b'0')))?;
    }
    let value = if negative {
        value.checked_neg()?
    } else {
        value
    };
    i32::try_from(value).ok()
}
