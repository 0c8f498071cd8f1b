// SPDX-License-Identifier: GPL-2.0

//! The map parser's errors as kernel errnos.

use kernel::error::Error;

use crate::kernel_ext::errno::EPROTONOSUPPORT;
use crate::map_opts::ParseError;

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Error {
        match e {
            ParseError::Inval => kernel::error::code::EINVAL,
            ParseError::NoMem => kernel::error::code::ENOMEM,
            ParseError::ProtoNoSupport => EPROTONOSUPPORT(),
        }
    }
}
