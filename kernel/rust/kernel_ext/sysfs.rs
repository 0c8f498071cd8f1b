// SPDX-License-Identifier: GPL-2.0

//! sysfs: a device class, class devices (such as RNBD's `ctl`), plain
//! directories, kobjects that own Rust data, attributes with show/store
//! callbacks, symlinks, and attributes that remove themselves.
//!
//! Lifetimes follow the sysfs tree: every child node holds an [`Arc`] of its
//! parent, so a parent directory is removed only after all of its children
//! are. Removing a node (`kobject_del`, `device_unregister`) waits for the
//! show/store callbacks running on it, so the Rust data a callback sees
//! always outlives the callback.

use core::marker::PhantomData;
use core::ptr::{self, NonNull};

use crate::kernel_ext::bindings;
use kernel::c_str;
use kernel::error::{code::*, from_err_ptr, to_result, Error, Result};
use kernel::fmt;
use kernel::prelude::*;
use kernel::str::{CStr, CString};
use kernel::sync::Arc;
use kernel::types::Opaque;

/// Something with a kobject, under which sysfs nodes can be created.
pub trait Node: Send + Sync {
    /// The kobject of this node.
    ///
    /// Valid for as long as `self` is.
    fn kobject_ptr(&self) -> *mut bindings::kobject;
}

/// A registered device class: `/sys/class/<name>` and
/// `/sys/devices/virtual/<name>/`.
///
/// # Invariants
///
/// `raw` is registered with the driver core from [`Class::register`]
/// until drop, and never moves (it lives in the [`Arc`]'s allocation).
pub struct Class {
    raw: Opaque<bindings::class>,
}

// SAFETY: `struct class` is only used through the driver core, which
// serialises its own accesses.
unsafe impl Send for Class {}
// SAFETY: As above; `&Class` exposes no mutation.
unsafe impl Sync for Class {}

impl Class {
    /// Registers the class `name`.
    pub fn register(name: &'static CStr) -> Result<Arc<Class>> {
        // SAFETY: An all-zero `struct class` is a valid, empty class.
        let zeroed: bindings::class = unsafe { core::mem::zeroed() };
        let class = Arc::new(
            Class {
                raw: Opaque::new(bindings::class {
                    name: name.as_char_ptr(),
                    ..zeroed
                }),
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `raw` is a valid class that lives in the Arc's allocation
        // and thus never moves; `name` is 'static.
        let ret = unsafe { bindings::class_register(class.raw.get()) };
        if ret != 0 {
            // Dropping the Arc would unregister a class that never was.
            core::mem::forget(class);
            return Err(Error::from_errno(ret));
        }
        Ok(class)
    }
}

impl Drop for Class {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the class is registered. Its devices
        // hold an Arc of it, so none is left.
        unsafe { bindings::class_unregister(self.raw.get()) };
    }
}

/// The attribute files of one sysfs directory, laid out as C wants them:
/// a NULL-terminated array of `struct attribute *`, a group pointing at it,
/// and a NULL-terminated array of groups pointing at that.
struct AttributeTable {
    attrs: KVec<*mut bindings::attribute>,
    group: bindings::attribute_group,
    groups: [*const bindings::attribute_group; 2],
}

impl AttributeTable {
    /// Builds the table in a box, so the pointers into it stay valid.
    fn new<C: Container>(attributes: &[AttrRef<C>]) -> Result<Pin<KBox<Self>>> {
        let mut attrs = KVec::with_capacity(attributes.len() + 1, GFP_KERNEL)?;
        for attribute in attributes {
            attrs.push(attribute.raw, GFP_KERNEL)?;
        }
        attrs.push(ptr::null_mut(), GFP_KERNEL)?;
        // SAFETY: An all-zero attribute group is valid (no name, no attrs).
        let group: bindings::attribute_group = unsafe { core::mem::zeroed() };
        let mut table = KBox::new(
            AttributeTable {
                attrs,
                group,
                groups: [ptr::null(), ptr::null()],
            },
            GFP_KERNEL,
        )?;
        // The heap address is final: the box is pinned below and never
        // moved out of.
        table.group.attrs = table.attrs.as_mut_ptr();
        table.groups[0] = &table.group;
        Ok(Pin::from(table))
    }

    fn groups(&self) -> *mut *const bindings::attribute_group {
        self.groups.as_ptr().cast_mut()
    }
}

// SAFETY: The raw pointers point into the table itself or at 'static
// attributes; the table is never mutated after construction.
unsafe impl Send for AttributeTable {}
// SAFETY: As above.
unsafe impl Sync for AttributeTable {}

/// How an attribute callback finds the Rust data of the directory it is in.
///
/// # Safety
///
/// `data` must return a reference that is valid while the kobject is
/// registered in sysfs, for every kobject that attributes of this container
/// are attached to.
pub unsafe trait Container: 'static {
    type Data: Send + Sync;

    /// # Safety
    ///
    /// `kobj` is the kobject of a live node of this container type, and the
    /// caller is a sysfs callback on it (so the node is not removed before
    /// the callback returns).
    unsafe fn data<'a>(kobj: *mut bindings::kobject) -> &'a Self::Data;

    /// Takes a reference that keeps the data alive past the removal of the
    /// node, for callbacks that remove their own file. Returns `None` if
    /// this container cannot do that.
    ///
    /// # Safety
    ///
    /// As for [`Container::data`].
    unsafe fn pin_alive(_kobj: *mut bindings::kobject) -> Option<KObjectHold> {
        None
    }
}

/// A reference on a kobject, dropped with `kobject_put`.
pub struct KObjectHold(NonNull<bindings::kobject>);

// SAFETY: kobject references may be taken and put from any thread.
unsafe impl Send for KObjectHold {}
// SAFETY: `&KObjectHold` gives no access to the kobject.
unsafe impl Sync for KObjectHold {}

impl Drop for KObjectHold {
    fn drop(&mut self) {
        // SAFETY: The reference was taken with `kobject_get`.
        unsafe { bindings::kobject_put(self.0.as_ptr()) };
    }
}

/// What an attribute file does. Implemented by drivers on a unit type per
/// file; the file exists once an [`Attribute`] of it is attached.
pub trait AttributeOps<T: ?Sized> {
    /// The file name.
    const NAME: &'static CStr;
    /// Permission bits: 0o444 read-only, 0o644 read-write, 0o200 write-only.
    const MODE: u16;

    /// Fills a read of the file. Unimplemented reads fail with EIO, as C's
    /// `kobj_attr_show` does for a missing `show`.
    fn show(data: &T, out: &mut ShowBuffer) -> Result {
        let _ = (data, out);
        Err(EIO)
    }

    /// Handles a write of `input` (the bytes as written, newline included).
    /// Unimplemented writes fail with EIO.
    fn store(data: &T, input: &[u8], ctx: &mut StoreContext) -> Result {
        let _ = (data, input, ctx);
        Err(EIO)
    }
}

/// The page a `show` fills (sysfs hands out one page).
pub struct ShowBuffer {
    buf: *mut u8,
    len: usize,
}

impl ShowBuffer {
    /// The whole page size sysfs provides.
    pub const CAPACITY: usize = bindings::PAGE_SIZE;

    /// Appends bytes; fails with ENOSPC (and writes nothing) if they do not
    /// fit in the page.
    pub fn push(&mut self, bytes: &[u8]) -> Result {
        if bytes.len() > Self::CAPACITY - self.len {
            return Err(ENOSPC);
        }
        // SAFETY: `buf` is a page sysfs gave us and `len + bytes.len()`
        // stays within it (checked above); the regions cannot overlap since
        // `bytes` is a Rust reference and the page belongs to sysfs.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), self.buf.add(self.len), bytes.len()) };
        self.len += bytes.len();
        Ok(())
    }

    /// Appends formatted text.
    pub fn write_fmt(&mut self, args: core::fmt::Arguments<'_>) -> Result {
        let text = CString::try_from_fmt(args)?;
        self.push(text.as_bytes())
    }

    /// How many bytes have been written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What a `store` may do besides returning.
pub struct StoreContext {
    kobj: *mut bindings::kobject,
    attr: *const bindings::attribute,
    hold: Option<KObjectHold>,
    removed_self: bool,
}

impl StoreContext {
    /// Removes the file being written, from inside its own `store` (C's
    /// `sysfs_remove_file_self`). Returns `Ok(true)` if this call removed
    /// it, `Ok(false)` if a concurrent removal got there first, and
    /// `Err(EINVAL)` for nodes whose data would not survive their removal.
    /// The handler's data stays valid until `store` returns.
    pub fn remove_self(&mut self) -> Result<bool> {
        if self.hold.is_none() {
            return Err(EINVAL);
        }
        if self.removed_self {
            return Ok(false);
        }
        self.removed_self = true;
        // SAFETY: We are in the store callback of `attr` on `kobj`; `hold`
        // keeps the kobject (and the data it owns) alive afterwards.
        Ok(unsafe { bindings::sysfs_remove_file_self(self.kobj, self.attr) })
    }
}

/// An attribute file of containers `C`, handled by `H`. Declare one as a
/// `static` and attach it with [`Attribute::as_ref`] in a node's list.
#[repr(transparent)]
pub struct Attribute<C: Container, H: AttributeOps<C::Data>> {
    raw: Opaque<bindings::kobj_attribute>,
    _types: PhantomData<(C, H)>,
}

// SAFETY: The C struct is written only at construction (it is const).
unsafe impl<C: Container, H: AttributeOps<C::Data>> Sync for Attribute<C, H> {}

impl<C: Container, H: AttributeOps<C::Data>> Attribute<C, H> {
    pub const fn new() -> Self {
        // SAFETY: All-zero is a valid `struct attribute` (lockdep fields
        // included: static attributes need no key of their own).
        let zeroed: bindings::attribute = unsafe { core::mem::zeroed() };
        Attribute {
            raw: Opaque::new(bindings::kobj_attribute {
                attr: bindings::attribute {
                    name: H::NAME.as_char_ptr(),
                    mode: H::MODE,
                    ..zeroed
                },
                show: Some(show_callback::<C, H>),
                store: Some(store_callback::<C, H>),
            }),
            _types: PhantomData,
        }
    }

    /// A type-erased reference for a node's attribute list.
    pub const fn as_ref(&'static self) -> AttrRef<C> {
        AttrRef {
            // `kobj_attribute` starts with its `struct attribute`.
            raw: self.raw.get().cast::<bindings::attribute>(),
            _container: PhantomData,
        }
    }
}

impl<C: Container, H: AttributeOps<C::Data>> Default for Attribute<C, H> {
    fn default() -> Self {
        Self::new()
    }
}

/// A `'static` attribute of containers `C`, whatever its handler.
pub struct AttrRef<C> {
    raw: *mut bindings::attribute,
    _container: PhantomData<C>,
}

impl<C> Clone for AttrRef<C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for AttrRef<C> {}

// SAFETY: Points at a `'static` immutable `Attribute`.
unsafe impl<C> Sync for AttrRef<C> {}
// SAFETY: As above.
unsafe impl<C> Send for AttrRef<C> {}

/// Converts a handler's outcome into what sysfs expects: a byte count or a
/// negative errno.
fn to_ssize(result: Result<usize>) -> isize {
    match result {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// Called by sysfs (`kobj_attr_show`) with a live kobject of container `C`
/// and a page-sized buffer.
unsafe extern "C" fn show_callback<C: Container, H: AttributeOps<C::Data>>(
    kobj: *mut bindings::kobject,
    _attr: *mut bindings::kobj_attribute,
    buf: *mut kernel::ffi::c_char,
) -> isize {
    // SAFETY: Per this function's contract, as `Container::data` requires.
    let data = unsafe { C::data(kobj) };
    let mut out = ShowBuffer {
        buf: buf.cast(),
        len: 0,
    };
    to_ssize(H::show(data, &mut out).map(|()| out.len))
}

/// # Safety
///
/// Called by sysfs (`kobj_attr_store`) with a live kobject of container
/// `C`, its attribute, and `count` readable bytes at `buf`.
unsafe extern "C" fn store_callback<C: Container, H: AttributeOps<C::Data>>(
    kobj: *mut bindings::kobject,
    attr: *mut bindings::kobj_attribute,
    buf: *const kernel::ffi::c_char,
    count: usize,
) -> isize {
    // SAFETY: sysfs passes `count` valid bytes.
    let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
    let mut ctx = StoreContext {
        kobj,
        // SAFETY: `attr` is valid; `kobj_attribute` starts with `attr`.
        attr: unsafe { ptr::addr_of!((*attr).attr) },
        // SAFETY: Per this function's contract.
        hold: unsafe { C::pin_alive(kobj) },
        removed_self: false,
    };
    // SAFETY: Per this function's contract; `ctx.hold` (if any) keeps the
    // data alive even if the handler removes its own file.
    let data = unsafe { C::data(kobj) };
    to_ssize(H::store(data, input, &mut ctx).map(|()| count))
}

/// A device of a [`Class`], such as `/sys/devices/virtual/<class>/ctl`,
/// with attributes reading and writing a `T`.
///
/// # Invariants
///
/// `dev` was returned by `device_create_with_groups` with `drvdata`
/// pointing at `*data`, and is registered until drop.
pub struct ClassDevice<T: Send + Sync + 'static> {
    dev: NonNull<bindings::device>,
    data: Pin<KBox<T>>,
    _attributes: Pin<KBox<AttributeTable>>,
    _class: Arc<Class>,
}

// SAFETY: The device is used only through the driver core; `T` is
// Send + Sync.
unsafe impl<T: Send + Sync> Send for ClassDevice<T> {}
// SAFETY: As above.
unsafe impl<T: Send + Sync> Sync for ClassDevice<T> {}

/// The [`Container`] of attributes on a [`ClassDevice<T>`].
pub struct DeviceAttrs<T>(PhantomData<T>);

// SAFETY: `drvdata` of a ClassDevice's device points at its pinned `T`,
// which is dropped only after `device_unregister` has drained the
// callbacks.
unsafe impl<T: Send + Sync + 'static> Container for DeviceAttrs<T> {
    type Data = T;

    unsafe fn data<'a>(kobj: *mut bindings::kobject) -> &'a T {
        // SAFETY: The kobject is embedded in a `struct device` (container_of).
        let dev = unsafe {
            kobj.cast::<u8>()
                .sub(core::mem::offset_of!(bindings::device, kobj))
                .cast::<bindings::device>()
        };
        // SAFETY: Per the impl's safety argument, drvdata is our `T`.
        unsafe { &*(*dev).driver_data.cast::<T>() }
    }
}

impl<T: Send + Sync + 'static> ClassDevice<T> {
    /// Creates `/sys/devices/virtual/<class>/<name>` with `attributes`
    /// reading and writing `data`.
    pub fn create(
        class: &Arc<Class>,
        name: &CStr,
        data: T,
        attributes: &[AttrRef<DeviceAttrs<T>>],
    ) -> Result<Arc<Self>> {
        let data = KBox::pin(data, GFP_KERNEL)?;
        let table = AttributeTable::new(attributes)?;
        let drvdata: *const T = &*data;
        // SAFETY: `class` is registered (type invariant of Class) and held
        // by the result; `drvdata` and the groups live in boxes the result
        // owns; the format consumes exactly one string argument.
        let dev = unsafe {
            bindings::device_create_with_groups(
                class.raw.get(),
                ptr::null_mut(),
                0,
                drvdata.cast_mut().cast(),
                table.groups(),
                c_str!("%s").as_char_ptr(),
                name.as_char_ptr(),
            )
        };
        let dev = from_err_ptr(dev)?;
        let dev = NonNull::new(dev).ok_or(ENOMEM)?;
        let device = ClassDevice {
            dev,
            data,
            _attributes: table,
            _class: class.clone(),
        };
        Ok(Arc::new(device, GFP_KERNEL)?)
    }

    /// The data the attributes see.
    pub fn data(&self) -> &T {
        &self.data
    }
}

impl<T: Send + Sync + 'static> Node for ClassDevice<T> {
    fn kobject_ptr(&self) -> *mut bindings::kobject {
        // SAFETY: `dev` is a live device (type invariant).
        unsafe { ptr::addr_of_mut!((*self.dev.as_ptr()).kobj) }
    }
}

impl<T: Send + Sync + 'static> Drop for ClassDevice<T> {
    fn drop(&mut self) {
        // SAFETY: Registered per the type invariant. This removes the files
        // and waits for running callbacks before `data` is dropped. No
        // child node is left: each holds an Arc of this device.
        unsafe { bindings::device_unregister(self.dev.as_ptr()) };
    }
}

/// A plain directory (`kobject_create_and_add`), such as `ctl/devices`.
///
/// # Invariants
///
/// `kobj` is a registered kobject owned by this value.
pub struct Dir {
    kobj: NonNull<bindings::kobject>,
    _parent: Arc<dyn Node>,
}

// SAFETY: The kobject is used only through the kobject core.
unsafe impl Send for Dir {}
// SAFETY: As above.
unsafe impl Sync for Dir {}

impl Dir {
    /// Creates directory `name` under `parent`.
    pub fn create(parent: Arc<dyn Node>, name: &CStr) -> Result<Arc<Dir>> {
        // SAFETY: `parent`'s kobject is live while we hold the Arc; `name`
        // is copied by the kobject core.
        let kobj =
            unsafe { bindings::kobject_create_and_add(name.as_char_ptr(), parent.kobject_ptr()) };
        let kobj = NonNull::new(kobj).ok_or(ENOMEM)?;
        Ok(Arc::new(
            Dir {
                kobj,
                _parent: parent,
            },
            GFP_KERNEL,
        )?)
    }
}

impl Node for Dir {
    fn kobject_ptr(&self) -> *mut bindings::kobject {
        self.kobj.as_ptr()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: We own the kobject (type invariant); children hold Arcs of
        // this Dir, so none is left.
        unsafe {
            bindings::kobject_del(self.kobj.as_ptr());
            bindings::kobject_put(self.kobj.as_ptr());
        }
    }
}

/// The C allocation behind a [`KObject<T>`]: the kobject, its type (with
/// the release that frees this allocation) and the data.
#[repr(C)]
struct KObjectInner<T> {
    kobj: Opaque<bindings::kobject>,
    ktype: bindings::kobj_type,
    attributes: Pin<KBox<AttributeTable>>,
    data: T,
}

/// A sysfs directory that owns a `T`, with attributes on it. The directory
/// goes away when the last `KObject` handle is dropped; the memory when the
/// kernel drops its last kobject reference (its release).
///
/// # Invariants
///
/// `inner` points at a `KObjectInner<T>` whose kobject is initialised and
/// added; this handle owns one reference on it and the right to delete it.
pub struct KObject<T: Send + Sync + 'static> {
    inner: NonNull<KObjectInner<T>>,
    _parent: Arc<dyn Node>,
}

// SAFETY: `T` is Send + Sync; the kobject is used via the kobject core.
unsafe impl<T: Send + Sync> Send for KObject<T> {}
// SAFETY: As above.
unsafe impl<T: Send + Sync> Sync for KObject<T> {}

/// The [`Container`] of attributes on a [`KObject<T>`].
pub struct KObjectAttrs<T>(PhantomData<T>);

// SAFETY: A KObject's kobject is embedded at the start of its
// `KObjectInner<T>`, which is freed only by the ktype's release, after the
// last reference is put.
unsafe impl<T: Send + Sync + 'static> Container for KObjectAttrs<T> {
    type Data = T;

    unsafe fn data<'a>(kobj: *mut bindings::kobject) -> &'a T {
        let inner = kobj.cast::<KObjectInner<T>>();
        // SAFETY: `kobj` is the first field of a live `KObjectInner<T>`
        // (repr(C)).
        unsafe { &(*inner).data }
    }

    unsafe fn pin_alive(kobj: *mut bindings::kobject) -> Option<KObjectHold> {
        // SAFETY: The kobject is live (we are in its callback).
        let kobj = unsafe { bindings::kobject_get(kobj) };
        NonNull::new(kobj).map(KObjectHold)
    }
}

/// The ktype release of `KObject<T>`: frees the allocation.
///
/// # Safety
///
/// Called by the kobject core when the last reference to a kobject of a
/// `KObjectInner<T>` is put.
unsafe extern "C" fn kobject_release<T: Send + Sync + 'static>(kobj: *mut bindings::kobject) {
    // SAFETY: The allocation came from `KBox::into_raw` in
    // `KObject::create`, and nobody uses it any more.
    drop(unsafe { KBox::from_raw(kobj.cast::<KObjectInner<T>>()) });
}

impl<T: Send + Sync + 'static> KObject<T> {
    /// Creates directory `name` under `parent`, owning `data`, with
    /// `attributes` on it.
    pub fn create(
        parent: Arc<dyn Node>,
        name: &CStr,
        data: T,
        attributes: &[AttrRef<KObjectAttrs<T>>],
    ) -> Result<Self> {
        let table = AttributeTable::new(attributes)?;
        // SAFETY: An all-zero kobj_type is valid before we set its fields.
        let mut ktype: bindings::kobj_type = unsafe { core::mem::zeroed() };
        ktype.release = Some(kobject_release::<T>);
        // `kobj_sysfs_ops` is the kernel's static ops for `kobj_attribute`
        // files.
        ktype.sysfs_ops = ptr::addr_of!(bindings::kobj_sysfs_ops);
        ktype.default_groups = table.groups();
        let inner = KBox::new(
            KObjectInner {
                kobj: Opaque::uninit(),
                ktype,
                attributes: table,
                data,
            },
            GFP_KERNEL,
        )?;
        let inner = KBox::into_raw(inner);
        // SAFETY: `inner` is a valid, exclusively owned allocation; the
        // kobject is zeroed before `kobject_init_and_add` as it requires.
        let ret = unsafe {
            let kobj = Opaque::raw_get(ptr::addr_of!((*inner).kobj));
            ptr::write_bytes(kobj, 0, 1);
            bindings::kobject_init_and_add(
                kobj,
                ptr::addr_of!((*inner).ktype),
                parent.kobject_ptr(),
                c_str!("%s").as_char_ptr(),
                name.as_char_ptr(),
            )
        };
        if ret != 0 {
            // SAFETY: After a failed init_and_add the kobject is initialised
            // and holds one reference; putting it runs our release, which
            // frees `inner`.
            unsafe { bindings::kobject_put(Opaque::raw_get(ptr::addr_of!((*inner).kobj))) };
            return Err(Error::from_errno(ret));
        }
        Ok(KObject {
            // SAFETY: From `KBox::into_raw`, never null.
            inner: unsafe { NonNull::new_unchecked(inner) },
            _parent: parent,
        })
    }

    /// The data the attributes see.
    pub fn data(&self) -> &T {
        // SAFETY: Live while we hold our reference (type invariant).
        unsafe { &(*self.inner.as_ptr()).data }
    }
}

impl<T: Send + Sync + 'static> Node for KObject<T> {
    fn kobject_ptr(&self) -> *mut bindings::kobject {
        // SAFETY: Live while we hold our reference (type invariant).
        unsafe { Opaque::raw_get(ptr::addr_of!((*self.inner.as_ptr()).kobj)) }
    }
}

impl<T: Send + Sync + 'static> Drop for KObject<T> {
    fn drop(&mut self) {
        let kobj = self.kobject_ptr();
        // SAFETY: We own the deletion and one reference (type invariant).
        // Deleting waits for running callbacks; a callback that removed its
        // own file holds its own reference, so the memory is freed by
        // whichever put comes last.
        unsafe {
            bindings::kobject_del(kobj);
            bindings::kobject_put(kobj);
        }
    }
}

/// A symlink `name` in `dir` pointing at `target`'s directory.
///
/// # Invariants
///
/// The link exists in `dir` until drop; `target` is a kobject reference.
pub struct Symlink {
    dir: Arc<dyn Node>,
    target: KObjectHold,
    name: CString,
}

impl Symlink {
    /// Creates the link; fails with EEXIST if `dir` already has an entry
    /// `name`.
    pub fn create(dir: Arc<dyn Node>, target: &dyn Node, name: &CStr) -> Result<Symlink> {
        let name = CString::try_from_fmt(fmt!("{}", name))?;
        // SAFETY: `target`'s kobject is live (we borrow `target`).
        let target = unsafe { bindings::kobject_get(target.kobject_ptr()) };
        let target = KObjectHold(NonNull::new(target).ok_or(EINVAL)?);
        // SAFETY: Both kobjects are live; the name is NUL-terminated.
        to_result(unsafe {
            bindings::sysfs_create_link(dir.kobject_ptr(), target.0.as_ptr(), name.as_char_ptr())
        })?;
        Ok(Symlink { dir, target, name })
    }
}

impl Drop for Symlink {
    fn drop(&mut self) {
        // SAFETY: The link exists in the live `dir` (type invariant).
        unsafe { bindings::sysfs_remove_link(self.dir.kobject_ptr(), self.name.as_char_ptr()) };
    }
}

/// The input of a `store` without the trailing newline `echo` adds, as
/// `sysfs_streq` compares it.
pub fn trim_newline(input: &[u8]) -> &[u8] {
    input.strip_suffix(b"\n").unwrap_or(input)
}
