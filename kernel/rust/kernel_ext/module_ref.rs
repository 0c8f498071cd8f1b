// SPDX-License-Identifier: GPL-2.0

//! References on the module itself (`try_module_get` / `module_put`), as
//! a driver holds one per object that must keep it loaded: while any
//! [`ModuleRef`] lives, `rmmod` refuses with "in use".

use crate::kernel_ext::bindings;
use kernel::error::{code::*, Result};
use kernel::ThisModule;

/// One reference on a module, put on drop.
///
/// # Invariants
///
/// `module` was pinned with a successful `try_module_get` (or is NULL for
/// a built-in, where there is nothing to pin).
pub struct ModuleRef {
    module: *mut bindings::module,
}

// SAFETY: Module references may be taken and put from any thread.
unsafe impl Send for ModuleRef {}
// SAFETY: `&ModuleRef` gives no access to the module.
unsafe impl Sync for ModuleRef {}

impl ModuleRef {
    /// A reference on `module` (pass `&crate::THIS_MODULE`, or use
    /// [`this_module!`](crate::this_module_ref)); ENODEV if the module is
    /// already going away (its exit has started).
    pub fn get(module: &'static ThisModule) -> Result<ModuleRef> {
        let module = module.as_ptr();
        // SAFETY: `module` is our own live module (or NULL, for which
        // `try_module_get` returns true).
        if unsafe { bindings::try_module_get(module) } {
            Ok(ModuleRef { module })
        } else {
            Err(ENODEV)
        }
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        // SAFETY: We hold a reference (type invariant); NULL is ignored.
        unsafe { bindings::module_put(self.module) };
    }
}

/// A [`ModuleRef`] on the calling crate's module (`crate::THIS_MODULE`).
#[macro_export]
macro_rules! this_module_ref {
    () => {
        $crate::kernel_ext::module_ref::ModuleRef::get(&crate::THIS_MODULE)
    };
}
