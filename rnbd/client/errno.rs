// SPDX-License-Identifier: GPL-2.0

//! Errnos the client returns that neither 6.12's `kernel::error::code`
//! nor `kernel_ext::errno` declares.

use kernel::bindings;
use kernel::error::Error;

use crate::map_opts::ParseError;

/// `-EPROTONOSUPPORT`.
pub(crate) fn eprotonosupport() -> Error {
    Error::from_errno(-(bindings::EPROTONOSUPPORT as i32))
}

/// `-EALREADY`.
pub(crate) fn ealready() -> Error {
    Error::from_errno(-(bindings::EALREADY as i32))
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Error {
        match e {
            ParseError::Inval => kernel::error::code::EINVAL,
            ParseError::NoMem => kernel::error::code::ENOMEM,
            ParseError::ProtoNoSupport => eprotonosupport(),
        }
    }
}
