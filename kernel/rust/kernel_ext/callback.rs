// SPDX-License-Identifier: GPL-2.0

//! A boxed one-shot callback ([`Callback`]): what `KBox<dyn FnOnce(..)>`
//! would be, had 6.12's `KBox` unsized coercion and a callable `FnOnce`
//! impl (it has neither).

use kernel::alloc::Flags;
use kernel::prelude::*;

/// The object-safe form of a one-shot closure.
trait CallOnce<A, B>: Send {
    fn call(&mut self, a: A, b: B);
}

struct Once<F>(Option<F>);

impl<A, B, F: FnOnce(A, B) + Send> CallOnce<A, B> for Once<F> {
    fn call(&mut self, a: A, b: B) {
        if let Some(f) = self.0.take() {
            f(a, b);
        }
    }
}

/// A heap-allocated closure called at most once, with two arguments.
pub struct Callback<A: 'static, B: 'static> {
    f: KBox<dyn CallOnce<A, B>>,
}

impl<A: 'static, B: 'static> Callback<A, B> {
    /// Boxes `f` (`flags`: `GFP_ATOMIC` outside process context).
    pub fn new<F: FnOnce(A, B) + Send + 'static>(f: F, flags: Flags) -> Result<Self> {
        let boxed: KBox<Once<F>> = KBox::new(Once(Some(f)), flags)?;
        let raw: *mut Once<F> = KBox::into_raw(boxed);
        let raw: *mut dyn CallOnce<A, B> = raw;
        // SAFETY: `raw` came from `KBox::into_raw` just above; only its
        // type changed (unsized to the trait object).
        let f = unsafe { KBox::from_raw(raw) };
        Ok(Callback { f })
    }

    /// Calls the closure (and frees it).
    pub fn call(mut self, a: A, b: B) {
        self.f.call(a, b);
    }
}
