// SPDX-License-Identifier: GPL-2.0

//! Error codes that 6.12's `kernel::error::code` does not declare, as
//! functions (its `Error` has no const constructor outside the kernel
//! crate). Upstream RNBD/RTRS return these; ours must return the same.

use crate::kernel_ext::bindings;
use kernel::error::Error;

macro_rules! errors {
    ($($name:ident),* $(,)?) => {$(
        #[doc = concat!("`-", stringify!($name), "`.")]
        #[allow(non_snake_case)]
        pub fn $name() -> Error {
            Error::from_errno(-(bindings::$name as i32))
        }
    )*};
}

errors!(
    ENAMETOOLONG,
    ECONNRESET,
    ECONNREFUSED,
    ECONNABORTED,
    EHOSTUNREACH,
    ENETUNREACH,
    ENOTCONN,
    EPROTO,
    ETIMEDOUT,
    EOPNOTSUPP,
    EBADMSG,
    EMSGSIZE,
    ENOLINK,
    ECOMM,
    ENOSYS,
    EHOSTDOWN,
    ESHUTDOWN,
    ETIME,
    EPROTONOSUPPORT,
    EALREADY,
);
