// SPDX-License-Identifier: GPL-2.0

//! `ctl/devices/<bdev>/sessions/<sessname>/` (`rnbd-srv-sysfs.c`;
//! protocol reference §8.2): `read_only`, `access_mode`,
//! `mapping_path`, `force_close`.

use kernel::prelude::*;
use kernel::str::{BStr, CStr};
use kernel::sync::Arc;
use kernel::{c_str, fmt};

use crate::dev::Binding;
use crate::kernel_ext::sysfs::{
    trim_newline, AttrRef, Attribute, AttributeOps, KObject, KObjectAttrs, ShowBuffer, StoreContext,
};
use crate::proto::AccessMode;

/// What a binding's files need of the session that holds the binding
/// (implemented by the session, so that this file names nothing above it).
pub(crate) trait BindingOwner: Send + Sync {
    /// The session's name, for messages.
    fn name(&self) -> &CStr;
    /// `force_close`: the binding `device_id` (`serial`) goes.
    fn force_close(&self, device_id: u32, serial: u64);
}

/// What the files of a binding's directory show and do.
pub(crate) struct BindingSysfs {
    sess: Arc<dyn BindingOwner>,
    device_id: u32,
    serial: u64,
    mode: AccessMode,
    mapping_path: KVec<u8>,
}

/// Creates `sessions/<sessname>/` of `binding`'s device. EEXIST if this
/// session has the device open under another name (as upstream, §11.2
/// #24).
pub(crate) fn create_binding_dir(
    sess: Arc<dyn BindingOwner>,
    binding: &Binding,
) -> Result<KObject<BindingSysfs>> {
    let mut mapping_path = KVec::new();
    mapping_path.extend_from_slice(&binding.dev_name, GFP_KERNEL)?;
    let owner = sess.clone();
    KObject::create(
        binding.dev.sessions_dir(),
        sess.name(),
        BindingSysfs {
            sess: owner,
            device_id: binding.device_id,
            serial: binding.serial,
            mode: binding.mode,
            mapping_path,
        },
        &BINDING_ATTRIBUTES,
    )
}

struct ReadOnly;

impl AttributeOps<BindingSysfs> for ReadOnly {
    const NAME: &'static CStr = c_str!("read_only");
    const MODE: u16 = 0o444;

    fn show(b: &BindingSysfs, out: &mut ShowBuffer) -> Result {
        out.push(if b.mode == AccessMode::Ro {
            b"1\n"
        } else {
            b"0\n"
        })
    }
}

struct Mode;

impl AttributeOps<BindingSysfs> for Mode {
    const NAME: &'static CStr = c_str!("access_mode");
    const MODE: u16 = 0o444;

    fn show(b: &BindingSysfs, out: &mut ShowBuffer) -> Result {
        out.write_fmt(fmt!("{}\n", b.mode.as_str()))
    }
}

struct MappingPath;

impl AttributeOps<BindingSysfs> for MappingPath {
    const NAME: &'static CStr = c_str!("mapping_path");
    const MODE: u16 = 0o444;

    fn show(b: &BindingSysfs, out: &mut ShowBuffer) -> Result {
        out.push(&b.mapping_path)?;
        out.push(b"\n")
    }
}

struct ForceClose;

impl AttributeOps<BindingSysfs> for ForceClose {
    const NAME: &'static CStr = c_str!("force_close");
    const MODE: u16 = 0o644;

    fn show(_b: &BindingSysfs, out: &mut ShowBuffer) -> Result {
        out.push(b"Usage: echo 1 > force_close\n")
    }

    fn store(b: &BindingSysfs, input: &[u8], ctx: &mut StoreContext) -> Result {
        if trim_newline(input) != b"1" {
            pr_err!(
                "{}: force_close: invalid value: '{}'\n",
                b.sess.name(),
                BStr::from_bytes(input)
            );
            return Err(EINVAL);
        }
        pr_info!(
            "{}: device id {}: force close requested\n",
            b.sess.name(),
            b.device_id
        );
        // First the file itself, so that removing the directory does not
        // wait for this very call.
        if ctx.remove_self()? {
            b.sess.force_close(b.device_id, b.serial);
        }
        Ok(())
    }
}

static READ_ONLY: Attribute<KObjectAttrs<BindingSysfs>, ReadOnly> = Attribute::new();
static ACCESS_MODE: Attribute<KObjectAttrs<BindingSysfs>, Mode> = Attribute::new();
static MAPPING_PATH: Attribute<KObjectAttrs<BindingSysfs>, MappingPath> = Attribute::new();
static FORCE_CLOSE: Attribute<KObjectAttrs<BindingSysfs>, ForceClose> = Attribute::new();
static BINDING_ATTRIBUTES: [AttrRef<KObjectAttrs<BindingSysfs>>; 4] = [
    ACCESS_MODE.as_ref(),
    READ_ONLY.as_ref(),
    MAPPING_PATH.as_ref(),
    FORCE_CLOSE.as_ref(),
];
