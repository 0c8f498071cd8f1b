// SPDX-License-Identifier: GPL-2.0

//! The ping protocol's text messages, data pattern and checksum.
//!
//! Messages are ASCII words in a `MSG_LEN` buffer:
//!
//! ```text
//! server -> client  mr <iova> <rkey> <len>        after REG_MR of its buffer
//! client -> server  ping <n>                      server: pong <n>
//! client -> server  inv <iova> <rkey> <len> <seed>
//!                   server RDMA-WRITEs pattern(seed) there, then
//!                   SEND_WITH_INV(rkey) "written <seed>"
//! client -> server  check <sum> <len>             server: LOCAL_INV of its MR,
//!                   checksum of its buffer -> "check ok" | "check bad <sum>"
//! ```

use kernel::prelude::*;

/// Size of every message buffer.
pub(crate) const MSG_LEN: usize = 128;

/// Byte `index` of the test pattern for `seed`.
pub(crate) fn pattern_byte(seed: u32, index: usize) -> u8 {
    let i = index as u32;
    (seed.wrapping_mul(31) ^ i.wrapping_mul(7) ^ (i >> 8).wrapping_mul(13)) as u8
}

pub(crate) fn fill_pattern(buf: &mut [u8], seed: u32) {
    for (index, byte) in buf.iter_mut().enumerate() {
        *byte = pattern_byte(seed, index);
    }
}

pub(crate) fn matches_pattern(buf: &[u8], seed: u32) -> bool {
    buf.iter()
        .enumerate()
        .all(|(index, &byte)| byte == pattern_byte(seed, index))
}

/// FNV-1a, 32 bits.
pub(crate) fn checksum(buf: &[u8]) -> u32 {
    buf.iter().fold(0x811c_9dc5u32, |hash, &byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// A received message: its bytes up to the first NUL.
pub(crate) struct Message {
    bytes: [u8; MSG_LEN],
    len: usize,
}

impl Message {
    pub(crate) fn from_received(data: &[u8]) -> Self {
        let mut bytes = [0u8; MSG_LEN];
        let len = data.len().min(MSG_LEN);
        bytes[..len].copy_from_slice(&data[..len]);
        let len = bytes[..len].iter().position(|&b| b == 0).unwrap_or(len);
        Message { bytes, len }
    }

    pub(crate) fn text(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }

    /// The words after `verb`, if the message is that verb.
    pub(crate) fn args(&self, verb: &str) -> Option<core::str::SplitWhitespace<'_>> {
        let mut words = self.text().split_whitespace();
        (words.next() == Some(verb)).then_some(words)
    }
}

/// Parses the next word as a number.
pub(crate) fn next_num<T: core::str::FromStr>(
    words: &mut core::str::SplitWhitespace<'_>,
) -> Result<T> {
    words.next().and_then(|w| w.parse().ok()).ok_or(EINVAL)
}

/// Writes `args` into `buf` (NUL-padded); returns the length written.
pub(crate) fn format_into(buf: &mut [u8], args: core::fmt::Arguments<'_>) -> Result<usize> {
    struct Cursor<'a> {
        buf: &'a mut [u8],
        len: usize,
    }
    impl core::fmt::Write for Cursor<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.len + s.len();
            if end > self.buf.len() {
                return Err(core::fmt::Error);
            }
            self.buf[self.len..end].copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }
    buf.fill(0);
    let mut cursor = Cursor { buf, len: 0 };
    core::fmt::write(&mut cursor, args).map_err(|_| EINVAL)?;
    Ok(cursor.len)
}
