// SPDX-License-Identifier: GPL-2.0

//! Module parameters, which 6.12's `module!` does not have.
//!
//! [`module_param!`] and [`module_param_string!`] lay out what C's
//! `module_param_cb` and `MODULE_PARM_DESC` do: a `struct kernel_param` in
//! the `__param` section (name, `THIS_MODULE`, ops, permissions, level
//! -1, flags 0, and the value as `arg`), and `parm=` / `parmtype=`
//! strings in `.modinfo`. The module loader then parses
//! `insmod m.ko name=value` (and `modprobe m name=value`) through our
//! ops, refuses the load with the errno our `set` returns, and creates
//! `/sys/module/<m>/parameters/<name>` with the given mode; a writable
//! file calls the same `set`.
//!
//! Values are parsed by the kernel's own `kstrto*` functions, as C's
//! `param_set_*` do (base 0, a trailing newline accepted, ERANGE on
//! overflow), then passed to the parameter's optional check, whose error
//! is the errno the writer sees. Checks run with the module's parameter
//! lock held (the kernel takes it around `set`): they must not read
//! string parameters. Rust reads integers and booleans with
//! [`Param::get`] (atomics) and strings with [`StringParam::read`] (under
//! the module's parameter lock, which the kernel holds around every
//! `set` and `get`).
//!
//! ```ignore
//! kernel_ext::param::module_param! {
//!     /// The port the server listens on.
//!     pub static PORT_NR: u16 = 1234;
//!     name: "port_nr", perm: 0o444,
//!     desc: "The port number the server is listening on (default: 1234)",
//! }
//! let port = PORT_NR.get();
//! ```
//!
//! The macros use `crate::THIS_MODULE` (declared by `module!`) and expect
//! this tree mounted as `crate::kernel_ext`.

use core::cell::UnsafeCell;
use core::fmt::Write;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU16, AtomicU32, Ordering};

use crate::kernel_ext::bindings;
use kernel::error::{code::*, Error, Result};
use kernel::ffi::{c_char, c_int};
use kernel::str::{CStr, CString};

/// A `struct kernel_param`, as placed in the `__param` section by the
/// macros. Immutable, like C's.
#[repr(transparent)]
pub struct KernelParam(bindings::kernel_param);

// SAFETY: Never mutated; the pointers in it are to 'static data (name,
// ops, the parameter value, which is Sync) and to the module.
unsafe impl Sync for KernelParam {}

/// Whether `perm` passes C's `VERIFY_OCTAL_PERMISSIONS`: at most 0777,
/// user >= group >= other readable, user >= group writable, other not
/// writable.
pub const fn valid_perm(perm: u16) -> bool {
    perm <= 0o777
        && (perm >> 6) & 4 >= (perm >> 3) & 4
        && (perm >> 3) & 4 >= perm & 4
        && (perm >> 6) & 2 >= (perm >> 3) & 2
        && perm & 2 == 0
}

impl KernelParam {
    /// The `kernel_param` of `param`, named `name`, of `module`, with
    /// sysfs mode `perm` (0 for no sysfs file). A bad `perm` fails the
    /// build.
    pub const fn new<P: ParamOps>(
        name: &'static CStr,
        module: *mut bindings::module,
        perm: u16,
        param: &'static P,
    ) -> Self {
        assert!(valid_perm(perm), "bad module parameter permissions");
        KernelParam(bindings::kernel_param {
            name: name.as_char_ptr(),
            mod_: module,
            ops: P::OPS,
            perm,
            level: -1,
            flags: 0,
            __bindgen_anon_1: bindings::kernel_param__bindgen_ty_1 {
                arg: ptr::from_ref(param).cast_mut().cast(),
            },
        })
    }
}

/// A parameter type: its `kernel_param_ops`, whose `arg` is `&Self`.
pub trait ParamOps: Sync + 'static {
    /// The ops.
    const OPS: &'static bindings::kernel_param_ops;
}

/// Builds a `.modinfo` string (`parts` concatenated, NUL-terminated).
/// `N` must be [`modinfo_len`] of the same parts.
pub const fn modinfo<const N: usize>(parts: &[&str]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut at = 0;
    let mut p = 0;
    while p < parts.len() {
        let bytes = parts[p].as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            assert!(bytes[i] != 0, "NUL in a modinfo string");
            out[at] = bytes[i];
            at += 1;
            i += 1;
        }
        p += 1;
    }
    assert!(at + 1 == N, "modinfo length mismatch");
    out
}

/// The length of [`modinfo`] of `parts`, NUL included.
pub const fn modinfo_len(parts: &[&str]) -> usize {
    let mut len = 1;
    let mut p = 0;
    while p < parts.len() {
        len += parts[p].len();
        p += 1;
    }
    len
}

/// Writes what a `get` op returns into the page the kernel hands it,
/// truncating at the page end as `scnprintf(buf, PAGE_SIZE, ...)` does.
struct PageWriter {
    buf: *mut u8,
    len: usize,
}

impl PageWriter {
    /// Room for text; one byte stays free for a NUL, as with scnprintf.
    const ROOM: usize = bindings::PAGE_SIZE - 1;

    fn push(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(Self::ROOM - self.len);
        // SAFETY: `buf` is the page the kernel passed to the `get` op,
        // and `len + n` stays within it.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), self.buf.add(self.len), n) };
        self.len += n;
    }
}

impl Write for PageWriter {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

/// The bytes of the C string `val` (without its NUL).
///
/// # Safety
///
/// `val` is a valid NUL-terminated string that outlives `'a`.
unsafe fn c_bytes<'a>(val: *const c_char) -> &'a [u8] {
    // SAFETY: Per the function's contract.
    unsafe { CStr::from_char_ptr(val).as_bytes() }
}

/// A scalar parameter type: how C parses and prints it.
pub trait Scalar: Copy + Send + Sync + 'static {
    /// Where the value lives.
    type Atomic: Sync;
    /// The `parmtype` C uses (`modinfo` shows it).
    const TYPE_NAME: &'static str;
    /// `kernel_param_ops.flags`.
    const OPS_FLAGS: u32 = 0;

    fn load(value: &Self::Atomic) -> Self;
    fn store(value: &Self::Atomic, new: Self);

    /// Parses `val` as C's `param_set_<type>` does; `val` may be NULL
    /// only for types with `KERNEL_PARAM_OPS_FL_NOARG`.
    ///
    /// # Safety
    ///
    /// `val` is NULL or a valid NUL-terminated string.
    unsafe fn parse(val: *const c_char) -> Result<Self>;

    /// Prints the value as C's `param_get_<type>` does.
    fn print(self, out: &mut dyn Write) -> core::fmt::Result;
}

/// Calls a `kstrto*(s, 0, &mut out)` function.
///
/// # Safety
///
/// `val` is a valid NUL-terminated string.
unsafe fn kstrto<T: Default>(
    val: *const c_char,
    f: unsafe extern "C" fn(*const c_char, u32, *mut T) -> c_int,
) -> Result<T> {
    if val.is_null() {
        return Err(EINVAL);
    }
    let mut out = T::default();
    // SAFETY: `val` is a valid string (the caller's contract), `out` is
    // writable; base 0 as C's param_set_* use.
    let ret = unsafe { f(val, 0, &mut out) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(out)
}

#[allow(unused_macros)] // Not every module uses every macro.
macro_rules! scalar {
    ($ty:ty, $atomic:ty, $name:literal, $kstrto:ident, $fmt:literal) => {
        impl Scalar for $ty {
            type Atomic = $atomic;
            const TYPE_NAME: &'static str = $name;

            fn load(value: &$atomic) -> Self {
                value.load(Ordering::Relaxed)
            }

            fn store(value: &$atomic, new: Self) {
                value.store(new, Ordering::Relaxed)
            }

            unsafe fn parse(val: *const c_char) -> Result<Self> {
                // SAFETY: Per this function's contract.
                unsafe { kstrto(val, bindings::$kstrto) }
            }

            fn print(self, out: &mut dyn Write) -> core::fmt::Result {
                write!(out, $fmt, self)
            }
        }

        impl Param<$ty> {
            /// A parameter with default `value` and an optional check,
            /// whose error refuses a new value with that errno.
            pub const fn new(value: $ty, check: Option<fn($ty) -> Result>) -> Self {
                Param {
                    value: <$atomic>::new(value),
                    check,
                }
            }
        }
    };
}

scalar!(i32, AtomicI32, "int", kstrtoint, "{}\n");
scalar!(u32, AtomicU32, "uint", kstrtouint, "{}\n");
scalar!(u16, AtomicU16, "ushort", kstrtou16, "{}\n");

impl Scalar for bool {
    type Atomic = AtomicBool;
    const TYPE_NAME: &'static str = "bool";
    // `modprobe m flag` without a value means "set", as in C.
    const OPS_FLAGS: u32 = bindings::KERNEL_PARAM_OPS_FL_NOARG;

    fn load(value: &AtomicBool) -> Self {
        value.load(Ordering::Relaxed)
    }

    fn store(value: &AtomicBool, new: Self) {
        value.store(new, Ordering::Relaxed)
    }

    unsafe fn parse(val: *const c_char) -> Result<Self> {
        let val = if val.is_null() {
            kernel::c_str!("1").as_char_ptr()
        } else {
            val
        };
        let mut out = false;
        // SAFETY: `val` is a valid string (this function's contract, or
        // the literal above), `out` is writable. One of [yYnN01] or
        // on/off, as C's param_set_bool.
        let ret = unsafe { bindings::kstrtobool(val, &mut out) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(out)
    }

    fn print(self, out: &mut dyn Write) -> core::fmt::Result {
        out.write_str(if self { "Y\n" } else { "N\n" })
    }
}

impl Param<bool> {
    /// A parameter with default `value` and an optional check, whose
    /// error refuses a new value with that errno.
    pub const fn new(value: bool, check: Option<fn(bool) -> Result>) -> Self {
        Param {
            value: AtomicBool::new(value),
            check,
        }
    }
}

/// An integer or boolean module parameter (`i32` "int", `u32` "uint",
/// `u16` "ushort", `bool`). Declare it with [`module_param!`].
pub struct Param<T: Scalar> {
    value: T::Atomic,
    check: Option<fn(T) -> Result>,
}

impl<T: Scalar> Param<T> {
    /// The current value: the default, or what the load or a sysfs write
    /// set. Any context.
    pub fn get(&self) -> T {
        T::load(&self.value)
    }
}

impl<T: Scalar> ParamOps for Param<T> {
    const OPS: &'static bindings::kernel_param_ops = &bindings::kernel_param_ops {
        flags: T::OPS_FLAGS,
        set: Some(set_scalar::<T>),
        get: Some(get_scalar::<T>),
        free: None,
    };
}

/// The `set` op of `Param<T>`.
///
/// # Safety
///
/// Called by the kernel with `kp` a `KernelParam` built for a
/// `Param<T>`, and `val` NULL (no `=value`) or a NUL-terminated string.
unsafe extern "C" fn set_scalar<T: Scalar>(
    val: *const c_char,
    kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: `arg` of our kernel_param points at the 'static `Param<T>`
    // (`KernelParam::new`).
    let param = unsafe { &*(*kp).__bindgen_anon_1.arg.cast::<Param<T>>() };
    // SAFETY: Per this function's contract.
    let parsed = unsafe { T::parse(val) };
    let result = parsed.and_then(|value| {
        if let Some(check) = param.check {
            check(value)?;
        }
        T::store(&param.value, value);
        Ok(())
    });
    match result {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// The `get` op of `Param<T>`.
///
/// # Safety
///
/// Called by the kernel with `kp` a `KernelParam` built for a `Param<T>`
/// and `buffer` a page.
unsafe extern "C" fn get_scalar<T: Scalar>(
    buffer: *mut c_char,
    kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: As in `set_scalar`.
    let param = unsafe { &*(*kp).__bindgen_anon_1.arg.cast::<Param<T>>() };
    let mut out = PageWriter {
        buf: buffer.cast(),
        len: 0,
    };
    let _ = param.get().print(&mut out);
    out.len as c_int
}

/// A string module parameter held in `N` bytes (NUL included), like C's
/// `module_param_string` / a `kparam_string`. Declare it with
/// [`module_param_string!`].
///
/// # Invariants
///
/// `buf` holds a NUL-terminated string and is only accessed with the
/// module's parameter lock (`kernel_param_lock(module)`) held: by the
/// kernel around our `set` and `get`, by [`StringParam::read`] around
/// its reads.
pub struct StringParam<const N: usize> {
    buf: UnsafeCell<[u8; N]>,
    module: *mut bindings::module,
    check: Option<for<'a> fn(&'a [u8]) -> Result<&'a [u8]>>,
}

// SAFETY: `buf` is only accessed under the module's parameter lock (type
// invariant); `module` is only passed to kernel_param_(un)lock.
unsafe impl<const N: usize> Sync for StringParam<N> {}

impl<const N: usize> StringParam<N> {
    /// A parameter of `module` holding `default` (shorter than `N`, no
    /// NUL). `check` receives each new value (without the terminating
    /// NUL) and returns the part to keep, or the errno refusing it; a kept
    /// part of `N` bytes or more is refused with ENOSPC, as C does.
    pub const fn new(
        default: &str,
        module: *mut bindings::module,
        check: Option<for<'a> fn(&'a [u8]) -> Result<&'a [u8]>>,
    ) -> Self {
        let bytes = default.as_bytes();
        assert!(bytes.len() < N, "default string parameter too long");
        let mut buf = [0u8; N];
        let mut i = 0;
        while i < bytes.len() {
            assert!(bytes[i] != 0, "NUL in a default string parameter");
            buf[i] = bytes[i];
            i += 1;
        }
        StringParam {
            buf: UnsafeCell::new(buf),
            module,
            check,
        }
    }

    /// The string, with `buf` accessible: the caller holds the parameter
    /// lock.
    ///
    /// # Safety
    ///
    /// The module's parameter lock is held for `'a`.
    unsafe fn value<'a>(&'a self) -> &'a CStr {
        // SAFETY: The caller holds the lock, so nothing writes `buf`.
        let buf = unsafe { &*self.buf.get() };
        let len = buf.iter().position(|&c| c == 0).unwrap_or(N - 1);
        // SAFETY: `buf[len]` is the first NUL (the type invariant keeps
        // one).
        unsafe { CStr::from_bytes_with_nul_unchecked(&buf[..=len]) }
    }

    /// Calls `f` with the current value, under the module's parameter
    /// lock (a mutex: process context, and not from a parameter check).
    pub fn read<R>(&self, f: impl FnOnce(&CStr) -> R) -> R {
        // SAFETY: `module` is this module, loaded while its code runs.
        unsafe { bindings::kernel_param_lock(self.module) };
        // SAFETY: We hold the lock until after `f` returns.
        let result = f(unsafe { self.value() });
        // SAFETY: Taken above.
        unsafe { bindings::kernel_param_unlock(self.module) };
        result
    }

    /// A copy of the current value.
    pub fn to_cstring(&self) -> Result<CString> {
        self.read(|s| s.to_cstring().map_err(Into::into))
    }
}

impl<const N: usize> ParamOps for StringParam<N> {
    const OPS: &'static bindings::kernel_param_ops = &bindings::kernel_param_ops {
        flags: 0,
        set: Some(set_string::<N>),
        get: Some(get_string::<N>),
        free: None,
    };
}

/// The `set` op of `StringParam<N>`.
///
/// # Safety
///
/// Called by the kernel, with the module's parameter lock held, `kp` a
/// `KernelParam` built for a `StringParam<N>` and `val` NULL or a
/// NUL-terminated string.
unsafe extern "C" fn set_string<const N: usize>(
    val: *const c_char,
    kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: `arg` points at the 'static `StringParam<N>`.
    let param = unsafe { &*(*kp).__bindgen_anon_1.arg.cast::<StringParam<N>>() };
    if val.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: `val` is a NUL-terminated string valid during the call.
    let input = unsafe { c_bytes(val) };
    let kept = match param.check {
        Some(check) => check(input),
        None => Ok(input),
    };
    match kept {
        Ok(kept) if kept.len() < N => {
            // SAFETY: The kernel holds the parameter lock around `set`, so
            // nothing else accesses `buf` (type invariant).
            let buf = unsafe { &mut *param.buf.get() };
            buf[..kept.len()].copy_from_slice(kept);
            buf[kept.len()] = 0;
            0
        }
        Ok(_) => ENOSPC.to_errno(),
        Err(e) => e.to_errno(),
    }
}

/// The `get` op of `StringParam<N>`: the value and a newline, as C's
/// `param_get_string`.
///
/// # Safety
///
/// Called by the kernel, with the module's parameter lock held, `kp` a
/// `KernelParam` built for a `StringParam<N>` and `buffer` a page.
unsafe extern "C" fn get_string<const N: usize>(
    buffer: *mut c_char,
    kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: `arg` points at the 'static `StringParam<N>`.
    let param = unsafe { &*(*kp).__bindgen_anon_1.arg.cast::<StringParam<N>>() };
    let mut out = PageWriter {
        buf: buffer.cast(),
        len: 0,
    };
    // SAFETY: The kernel holds the parameter lock around `get`.
    out.push(unsafe { param.value() }.as_bytes());
    out.push(b"\n");
    out.len as c_int
}

/// Declares an integer or boolean module parameter: a `static` of type
/// [`Param<T>`] (`T` = `i32`, `u32`, `u16` or `bool`), its
/// `kernel_param` and its `modinfo` lines.
///
/// ```ignore
/// module_param! {
///     /// Bytes per chunk.
///     pub static MAX_CHUNK_SIZE: i32 = 131072;
///     name: "max_chunk_size", perm: 0o444,
///     desc: "Max size for each IO request",
///     check: check_chunk_size,   // optional: fn(i32) -> Result
/// }
/// ```
#[allow(unused_macros)] // Not every module uses every macro.
macro_rules! module_param {
    (
        $(#[$meta:meta])*
        $vis:vis static $NAME:ident: $ty:ty = $default:expr;
        name: $name:literal, perm: $perm:expr, desc: $desc:literal
        $(, check: $check:expr)? $(,)?
    ) => {
        $(#[$meta])*
        $vis static $NAME: $crate::kernel_ext::param::Param<$ty> =
            $crate::kernel_ext::param::Param::<$ty>::new($default, {
                #[allow(unused_variables)]
                let check: ::core::option::Option<fn($ty) -> ::kernel::error::Result> =
                    ::core::option::Option::None;
                $(let check = ::core::option::Option::Some($check as fn($ty) -> _);)?
                check
            });
        $crate::kernel_ext::param::__module_param_records!(
            $NAME, $name, $perm, $desc,
            <$ty as $crate::kernel_ext::param::Scalar>::TYPE_NAME
        );
    };
}
#[allow(unused_imports)]
pub(crate) use module_param;

/// Declares a string module parameter of at most `N - 1` bytes: a
/// `static` of type [`StringParam<N>`], its `kernel_param` and its
/// `modinfo` lines.
///
/// ```ignore
/// module_param_string! {
///     pub static DEV_SEARCH_PATH: StringParam<4096> = "/";
///     name: "dev_search_path", perm: 0o444,
///     desc: "Prefix of device paths",
///     check: strip_newline,   // optional: fn(&[u8]) -> Result<&[u8]>
/// }
/// ```
#[allow(unused_macros)] // Not every module uses every macro.
macro_rules! module_param_string {
    (
        $(#[$meta:meta])*
        $vis:vis static $NAME:ident: StringParam<$len:literal> = $default:literal;
        name: $name:literal, perm: $perm:expr, desc: $desc:literal
        $(, check: $check:expr)? $(,)?
    ) => {
        $(#[$meta])*
        $vis static $NAME: $crate::kernel_ext::param::StringParam<$len> =
            $crate::kernel_ext::param::StringParam::<$len>::new(
                $default,
                crate::THIS_MODULE.as_ptr(),
                {
                    #[allow(unused_variables)]
                    let check: ::core::option::Option<
                        for<'a> fn(&'a [u8]) -> ::kernel::error::Result<&'a [u8]>,
                    > = ::core::option::Option::None;
                    $(let check = ::core::option::Option::Some(
                        $check as for<'a> fn(&'a [u8]) -> ::kernel::error::Result<&'a [u8]>,
                    );)?
                    check
                },
            );
        $crate::kernel_ext::param::__module_param_records!($NAME, $name, $perm, $desc, "string");
    };
}
#[allow(unused_imports)]
pub(crate) use module_param_string;

/// The `__param` entry and the `.modinfo` lines of a parameter.
#[doc(hidden)]
#[allow(unused_macros)] // Not every module uses every macro.
macro_rules! __module_param_records {
    ($NAME:ident, $name:literal, $perm:expr, $desc:literal, $type_name:expr) => {
        const _: () = {
            #[link_section = "__param"]
            #[used]
            static PARAM: $crate::kernel_ext::param::KernelParam =
                $crate::kernel_ext::param::KernelParam::new(
                    ::kernel::c_str!($name),
                    crate::THIS_MODULE.as_ptr(),
                    $perm,
                    &$NAME,
                );

            const PARM: &[&str] = &["parm=", $name, ":", $desc];
            #[link_section = ".modinfo"]
            #[used]
            static PARM_INFO: [u8; $crate::kernel_ext::param::modinfo_len(PARM)] =
                $crate::kernel_ext::param::modinfo(PARM);

            const PARMTYPE: &[&str] = &["parmtype=", $name, ":", $type_name];
            #[link_section = ".modinfo"]
            #[used]
            static PARMTYPE_INFO: [u8; $crate::kernel_ext::param::modinfo_len(PARMTYPE)] =
                $crate::kernel_ext::param::modinfo(PARMTYPE);
        };
    };
}
#[allow(unused_imports)]
pub(crate) use __module_param_records;

/// Adds `version=` to the module's `.modinfo` (C's `MODULE_VERSION()`;
/// 6.12's `module!` has no field for it): `modinfo` shows it and the
/// module loader publishes it as `/sys/module/<name>/version`.
///
/// ```ignore
/// kernel_ext::param::module_version!("0.3.0");
/// ```
#[allow(unused_macros)]
macro_rules! module_version {
    ($version:expr) => {
        const _: () = {
            const VERSION: &[&str] = &["version=", $version];
            #[link_section = ".modinfo"]
            #[used]
            static VERSION_INFO: [u8; $crate::kernel_ext::param::modinfo_len(VERSION)] =
                $crate::kernel_ext::param::modinfo(VERSION);
        };
    };
}
#[allow(unused_imports)]
pub(crate) use module_version;
