// SPDX-License-Identifier: GPL-2.0

//! What the RTRS and RNBD wire sources share: the error type, the
//! little-endian field types, [`Reserved`] bytes, the panic-free
//! field reader and writer, the [`Wire`] trait and the `fixed_size!`
//! macro. Each wire file includes this one by path (so that a module can
//! include either wire file alone) and re-exports it.

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

use core::fmt;
use core::mem::{align_of, size_of};

// ---------------------------------------------------------------------------
// Errors

/// Why a buffer is not a valid message, or a value cannot be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The buffer holds `got` bytes, the message needs `need`.
    Short {
        /// Bytes the message needs.
        need: usize,
        /// Bytes the buffer has.
        got: usize,
    },
    /// `magic` is not [`RTRS_MAGIC`].
    BadMagic(u16),
    /// The major version (`version >> 8`) is not [`RTRS_PROTO_VER_MAJOR`].
    BadVersion(u16),
    /// The message `type` is not the one expected here (or unknown).
    BadType(u16),
    /// The immediate-data type (top 4 bits) is unknown.
    BadImmType(u32),
    /// A field is outside the range the receiver accepts, or a value does
    /// not fit its wire field; the text names it.
    Invalid(&'static str),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Short { need, got } => {
                write!(f, "message needs {need} bytes, buffer has {got}")
            }
            WireError::BadMagic(m) => write!(f, "bad magic {m:#06x}"),
            WireError::BadVersion(v) => write!(f, "unsupported protocol version {v:#06x}"),
            WireError::BadType(t) => write!(f, "unexpected message type {t}"),
            WireError::BadImmType(t) => write!(f, "unknown immediate-data type {t}"),
            WireError::Invalid(what) => write!(f, "invalid {what}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Field types

macro_rules! le_int {
    ($(#[$doc:meta])* $name:ident, $int:ty, $n:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
        #[repr(transparent)]
        pub struct $name([u8; $n]);

        impl $name {
            /// The field holding `value`.
            pub const fn new(value: $int) -> Self {
                Self(value.to_le_bytes())
            }
            /// The value in host order.
            pub const fn get(self) -> $int {
                <$int>::from_le_bytes(self.0)
            }
            /// Stores `value`.
            pub fn set(&mut self, value: $int) {
                self.0 = value.to_le_bytes();
            }
            /// The field from its wire bytes.
            pub const fn from_bytes(bytes: [u8; $n]) -> Self {
                Self(bytes)
            }
            /// The wire bytes.
            pub const fn to_bytes(self) -> [u8; $n] {
                self.0
            }
        }

        impl From<$int> for $name {
            fn from(value: $int) -> Self {
                Self::new(value)
            }
        }

        impl From<$name> for $int {
            fn from(field: $name) -> Self {
                field.get()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:#x}", self.get())
            }
        }

        const _: () = assert!(size_of::<$name>() == $n && align_of::<$name>() == 1);
    };
}

le_int!(
    /// `__le16`.
    Le16,
    u16,
    2
);
le_int!(
    /// `__le32`.
    Le32,
    u32,
    4
);
le_int!(
    /// `__le64`.
    Le64,
    u64,
    8
);

/// `N` reserved or padding bytes: always zero in a value of this type, so
/// they are written as zero and whatever a peer sent there is dropped on
/// decode.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Reserved<const N: usize>([u8; N]);

impl<const N: usize> Reserved<N> {
    /// The only value.
    pub const ZERO: Self = Self([0; N]);
}

impl<const N: usize> Default for Reserved<N> {
    fn default() -> Self {
        Self::ZERO
    }
}

impl<const N: usize> fmt::Debug for Reserved<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reserved<{N}>")
    }
}

// ---------------------------------------------------------------------------
// Field-by-field reading and writing without panics

/// Reads fields in order from the first `need` bytes of a buffer.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    overrun: bool,
}

impl<'a> Reader<'a> {
    /// Over the first `need` bytes of `buf`, or `Short`.
    pub(crate) fn new(buf: &'a [u8], need: usize) -> Result<Self, WireError> {
        match buf.get(..need) {
            Some(rest) => Ok(Reader {
                rest,
                overrun: false,
            }),
            None => Err(WireError::Short {
                need,
                got: buf.len(),
            }),
        }
    }

    pub(crate) fn bytes<const N: usize>(&mut self) -> [u8; N] {
        match self.rest.split_first_chunk::<N>() {
            Some((head, tail)) => {
                self.rest = tail;
                *head
            }
            None => {
                self.overrun = true;
                self.rest = &[];
                [0; N]
            }
        }
    }

    pub(crate) fn u8(&mut self) -> u8 {
        let [b] = self.bytes::<1>();
        b
    }

    pub(crate) fn le16(&mut self) -> Le16 {
        Le16(self.bytes())
    }

    pub(crate) fn le32(&mut self) -> Le32 {
        Le32(self.bytes())
    }

    pub(crate) fn le64(&mut self) -> Le64 {
        Le64(self.bytes())
    }

    pub(crate) fn reserved<const N: usize>(&mut self) -> Reserved<N> {
        let _ignored: [u8; N] = self.bytes();
        Reserved::ZERO
    }

    /// `Ok` if every field read was inside the buffer (a decoder that reads
    /// past its `SIZE` is a bug this turns into an error, not a panic).
    pub(crate) fn finish(self) -> Result<(), WireError> {
        if self.overrun {
            Err(WireError::Invalid("decoder overran its message"))
        } else {
            Ok(())
        }
    }
}

/// Writes fields in order into a buffer.
pub(crate) struct Writer<'a> {
    rest: &'a mut [u8],
    overrun: bool,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Writer {
            rest: buf,
            overrun: false,
        }
    }

    pub(crate) fn bytes<const N: usize>(&mut self, bytes: [u8; N]) {
        let rest = core::mem::take(&mut self.rest);
        match rest.split_first_chunk_mut::<N>() {
            Some((head, tail)) => {
                *head = bytes;
                self.rest = tail;
            }
            None => self.overrun = true,
        }
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.bytes([v]);
    }

    pub(crate) fn le16(&mut self, v: Le16) {
        self.bytes(v.0);
    }

    pub(crate) fn le32(&mut self, v: Le32) {
        self.bytes(v.0);
    }

    pub(crate) fn le64(&mut self, v: Le64) {
        self.bytes(v.0);
    }

    pub(crate) fn reserved<const N: usize>(&mut self, _: Reserved<N>) {
        self.bytes([0u8; N]);
    }

    pub(crate) fn finish(self) -> Result<(), WireError> {
        if self.overrun {
            Err(WireError::Invalid("encoder overran its buffer"))
        } else {
            Ok(())
        }
    }
}

/// A fixed-size message: the common part of every message's API, for
/// code (tests, fuzzers) that handles them alike.
pub trait Wire: Sized {
    /// Bytes on the wire (`sizeof` of the C struct).
    const SIZE: usize;
    /// Parses and validates the first `SIZE` bytes of `buf`.
    fn decode(buf: &[u8]) -> Result<Self, WireError>;
    /// Writes the `SIZE` bytes into the start of `buf`; returns `SIZE`.
    fn encode_into(&self, buf: &mut [u8]) -> Result<usize, WireError>;
}

/// Size assertions and the encoders every fixed-size message shares.
macro_rules! fixed_size {
    ($t:ty, $n:literal) => {
        const _: () = assert!(size_of::<$t>() == $n);
        const _: () = assert!(align_of::<$t>() == 1);

        impl $t {
            /// Bytes on the wire (`sizeof` of the C struct).
            pub const SIZE: usize = $n;

            /// The message's wire bytes.
            pub fn encode(&self) -> [u8; $n] {
                let mut out = [0u8; $n];
                let mut w = Writer::new(&mut out);
                self.write(&mut w);
                out
            }

            /// Writes the message into the start of `buf`; returns its size.
            pub fn encode_into(&self, buf: &mut [u8]) -> Result<usize, WireError> {
                let got = buf.len();
                let out = buf
                    .get_mut(..$n)
                    .ok_or(WireError::Short { need: $n, got })?;
                let mut w = Writer::new(out);
                self.write(&mut w);
                w.finish()?;
                Ok($n)
            }
        }

        impl Wire for $t {
            const SIZE: usize = $n;
            fn decode(buf: &[u8]) -> Result<Self, WireError> {
                <$t>::decode(buf)
            }
            fn encode_into(&self, buf: &mut [u8]) -> Result<usize, WireError> {
                <$t>::encode_into(self, buf)
            }
        }
    };
}
