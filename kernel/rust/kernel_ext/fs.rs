// SPDX-License-Identifier: GPL-2.0

//! Path resolution, as a server that opens files by client-supplied names
//! needs it to keep them inside a directory: a path resolved once
//! (symlinks followed, `filp_open(O_PATH)`), compared with another
//! (`path_is_under`), and asked for the block device it names.

use core::ptr::NonNull;

use crate::kernel_ext::bindings;
use kernel::error::{code::*, from_err_ptr, Error, Result};
use kernel::str::CStr;

/// A resolved path: an `O_PATH` file on what `path` named when it was
/// resolved, every symlink followed (the final component included). It
/// keeps naming the same object whatever happens to the name afterwards.
///
/// # Invariants
///
/// `file` is an `O_PATH` file owned by this value.
pub struct ResolvedPath {
    file: NonNull<bindings::file>,
}

// SAFETY: A file reference may be used and put from any thread.
unsafe impl Send for ResolvedPath {}
// SAFETY: The accessors only read immutable fields of the file and inode.
unsafe impl Sync for ResolvedPath {}

impl ResolvedPath {
    /// Resolves `path` (absolute) from the root, following symlinks. The
    /// errno is the kernel's: ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG,
    /// EACCES, ... Process context.
    pub fn resolve(path: &CStr) -> Result<ResolvedPath> {
        // SAFETY: `path` is NUL-terminated. O_PATH opens nothing (no
        // device open), it only resolves; without O_NOFOLLOW the last
        // component is followed too.
        let file = from_err_ptr(unsafe {
            bindings::filp_open(path.as_char_ptr(), bindings::O_PATH as i32, 0)
        })?;
        Ok(ResolvedPath {
            file: NonNull::new(file).ok_or(ENOENT)?,
        })
    }

    /// Whether this path lies at or below `base` (same mount tree and
    /// dentry ancestry: C's `path_is_under`).
    pub fn is_under(&self, base: &ResolvedPath) -> bool {
        // SAFETY: Both files are live (type invariant); `f_path` is
        // immutable for an open file.
        unsafe {
            bindings::path_is_under(&(*self.file.as_ptr()).f_path, &(*base.file.as_ptr()).f_path)
        }
    }

    /// The device number of the block device special file this path
    /// names; ENOTBLK if it is something else (as `lookup_bdev`).
    pub fn block_device_number(&self) -> Result<u32> {
        // SAFETY: A live file has a live inode; mode and rdev are
        // immutable for a device node.
        let (mode, rdev) = unsafe {
            let inode = (*self.file.as_ptr()).f_inode;
            if inode.is_null() {
                return Err(ENOENT);
            }
            (u32::from((*inode).i_mode), (*inode).i_rdev)
        };
        if mode & bindings::S_IFMT != bindings::S_IFBLK {
            return Err(Error::from_errno(-(bindings::ENOTBLK as i32)));
        }
        Ok(rdev)
    }
}

impl Drop for ResolvedPath {
    fn drop(&mut self) {
        // SAFETY: We own the file (type invariant).
        unsafe { bindings::fput(self.file.as_ptr()) };
    }
}
