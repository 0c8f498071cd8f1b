// SPDX-License-Identifier: GPL-2.0

//! A one-shot callback ([`Callback`]): what `KBox<dyn FnOnce(..)>` would
//! be, had 6.12's `KBox` unsized coercion and a callable `FnOnce` impl (it
//! has neither), or a plain `fn` where nothing is captured.

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

enum Inner<A: 'static, B: 'static> {
    Boxed(KBox<dyn CallOnce<A, B>>),
    /// A plain function: nothing captured, nothing allocated.
    Fn(fn(A, B)),
}

/// A one-shot callback with two arguments: a boxed closure, or a plain
/// function (no allocation, for hot paths whose callback captures
/// nothing).
pub struct Callback<A: 'static, B: 'static> {
    f: Inner<A, B>,
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
        Ok(Callback { f: Inner::Boxed(f) })
    }

    /// A plain function as the callback: never fails, allocates nothing.
    pub fn from_fn(f: fn(A, B)) -> Self {
        Callback { f: Inner::Fn(f) }
    }

    /// Calls the callback (and frees a boxed closure).
    pub fn call(self, a: A, b: B) {
        match self.f {
            Inner::Boxed(mut f) => f.call(a, b),
            Inner::Fn(f) => f(a, b),
        }
    }
}
