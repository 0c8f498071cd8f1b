// SPDX-License-Identifier: GPL-2.0

//! Boxed closures as trait objects. 6.12's `KBox` has no `CoerceUnsized`,
//! so safe code cannot turn a `KBox<F>` into a `KBox<dyn FnOnce(..)>`
//! (RTRS's `Done` callbacks are such boxes).

use kernel::alloc::{AllocError, Flags};
use kernel::prelude::*;

/// `KBox<dyn FnOnce(A, B) + Send>` holding `f`.
pub fn fn_once2<A, B, F>(f: F, flags: Flags) -> Result<KBox<dyn FnOnce(A, B) + Send>, AllocError>
where
    F: FnOnce(A, B) + Send + 'static,
{
    let raw: *mut F = KBox::into_raw(KBox::new(f, flags)?);
    let raw: *mut (dyn FnOnce(A, B) + Send) = raw;
    // SAFETY: `raw` comes from `KBox::into_raw` just above; only the
    // pointer's type changed (unsized to the trait object of the same
    // value), as `CoerceUnsized` would do.
    Ok(unsafe { KBox::from_raw(raw) })
}
