// SPDX-License-Identifier: GPL-2.0

//! Errors of the peer and the process exit code of each kind.

use std::fmt;

/// What went wrong, as far as a script cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Bad arguments (exit 2).
    Usage,
    /// Address or route resolution failed, no listener, unreachable (3).
    Unreachable,
    /// The server rejected a connection (REJ with an RTRS errno) (4).
    Rejected,
    /// The server answered a request with an errno (e.g. OPEN refused) (5).
    Refused,
    /// A wait ran out of `--timeout` (6).
    Timeout,
    /// Data read back differs from the expected pattern (7).
    Mismatch,
    /// The server closed the connection (DISCONNECTED, flushed QP) (8).
    Closed,
    /// Anything else: local verbs errors, protocol violations (1).
    Other,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Other => 1,
            Kind::Usage => 2,
            Kind::Unreachable => 3,
            Kind::Rejected => 4,
            Kind::Refused => 5,
            Kind::Timeout => 6,
            Kind::Mismatch => 7,
            Kind::Closed => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Other => "error",
            Kind::Usage => "usage",
            Kind::Unreachable => "unreachable",
            Kind::Rejected => "rejected",
            Kind::Refused => "refused",
            Kind::Timeout => "timeout",
            Kind::Mismatch => "mismatch",
            Kind::Closed => "closed",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Error {
    pub kind: Kind,
    /// A positive errno when there is one (server's or local).
    pub errno: Option<i32>,
    pub msg: String,
}

impl Error {
    pub fn new(kind: Kind, msg: impl Into<String>) -> Self {
        Error {
            kind,
            errno: None,
            msg: msg.into(),
        }
    }

    pub fn errno(kind: Kind, errno: i32, msg: impl Into<String>) -> Self {
        Error {
            kind,
            errno: Some(errno.abs()),
            msg: msg.into(),
        }
    }
}

/// `ENOENT`, ... as a name, for messages that scripts grep.
pub fn errno_name(e: i32) -> &'static str {
    match e.abs() {
        1 => "EPERM",
        2 => "ENOENT",
        5 => "EIO",
        6 => "ENXIO",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        15 => "ENOTBLK",
        16 => "EBUSY",
        17 => "EEXIST",
        19 => "ENODEV",
        22 => "EINVAL",
        28 => "ENOSPC",
        30 => "EROFS",
        36 => "ENAMETOOLONG",
        61 => "ENODATA",
        71 => "EPROTO",
        90 => "EMSGSIZE",
        95 => "EOPNOTSUPP",
        103 => "ECONNABORTED",
        104 => "ECONNRESET",
        107 => "ENOTCONN",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        113 => "EHOSTUNREACH",
        _ => "errno",
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.msg)?;
        if let Some(e) = self.errno {
            write!(f, " ({} {})", errno_name(e), e)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
