# kernel_ext's build glue, included by the Kbuild of every module that
# compiles kernel_ext into itself:
#
#   include $(KBUILD_EXTMOD)/kernel/rust/kernel_ext/kext.mk
#
# It makes the module buildable against any Rust-enabled 6.12 kernel build
# directory, with no patch to the kernel tree:
#
# - $(obj)/kext_bindings_generated.rs: bindgen, run as the kernel runs it
#   for rust/bindings (same C flags, same parameters), on
#   bindings/kext_bindings.h, for the RDMA, block and helper items that
#   `kernel::bindings` of a vanilla kernel lacks. Every type the kernel's
#   own bindings already have is blocklisted (list read from the kernel's
#   rust/bindings/bindings_generated.rs), so the generated items name the
#   kernel's types and values pass between the two without casts.
#   bindings/mod.rs includes the file through $RNBD_KEXT_BINDINGS, set for
#   the module's *_main.o only.
# - kext_helpers.o (the module's kext_helpers.c includes
#   bindings/helpers.c): the static inlines as functions; in rnbd_server
#   and rnbd_client also trace/trace.c, their trace events.

kext_dir := $(KBUILD_EXTMOD)/kernel/rust/kernel_ext
kext_kernel_bindings := $(objtree)/rust/bindings/bindings_generated.rs

ifeq ($(wildcard $(kext_kernel_bindings))$(if $(CONFIG_CC_VERSION_TEXT),,clean),)
$(error rnbd-rs: $(abspath $(kext_kernel_bindings)) not found: the modules need a kernel built with CONFIG_RUST=y (its build directory, after 'make'), see README.md "Install")
endif

# As rust/Makefile of 6.12 (bindgen_c_flags): clang's C flags as they are;
# a GCC kernel's without the options clang does not know.
ifdef CONFIG_CC_IS_CLANG
kext_bindgen_c_flags = $(c_flags)
else
kext_bindgen_skip_c_flags := -mno-fp-ret-in-387 -mpreferred-stack-boundary=% \
	-mskip-rax-setup -mgeneral-regs-only -msign-return-address=% \
	-mindirect-branch=thunk-extern -mindirect-branch-register \
	-mfunction-return=thunk-extern -mrecord-mcount -mabi=lp64 \
	-mindirect-branch-cs-prefix -mstack-protector-guard% -mtraceback=no \
	-mno-pointers-to-nested-functions -mno-string \
	-mno-strict-align -mstrict-align -mdirect-extern-access \
	-mexplicit-relocs -mno-check-zero-division \
	-fconserve-stack -falign-jumps=% -falign-loops=% \
	-femit-struct-debug-baseonly -fno-ipa-cp-clone -fno-ipa-sra \
	-fno-partial-inlining -fplugin-arg-arm_ssp_per_task_plugin-% \
	-fno-reorder-blocks -fno-allow-store-data-races -fasan-shadow-offset=% \
	-fzero-call-used-regs=% -fno-stack-clash-protection \
	-fno-inline-functions-called-once -fsanitize=bounds-strict \
	-fstrict-flex-arrays=% -fmin-function-alignment=% \
	-fzero-init-padding-bits=% -mno-fdpic \
	--param=% --param asan-% -fno-isolate-erroneous-paths-dereference
kext_bindgen_target_x86 := x86_64-linux-gnu
kext_bindgen_target_arm64 := aarch64-linux-gnu
kext_bindgen_target_riscv := riscv64-linux-gnu
kext_bindgen_target_loongarch := loongarch64-linux-gnusf
kext_bindgen_c_flags = $(filter-out $(kext_bindgen_skip_c_flags), $(c_flags)) \
	-w --target=$(kext_bindgen_target_$(SRCARCH))
endif

# What kernel_ext needs and the kernel's bindings do not have: recursively
# allowlisted, minus the kernel's types.
kext_bindgen_allow := \
	--allowlist-function 'ib_.*|__ib_.*|rdma_.*|__rdma_.*|inet_pton_with_scope|rnbd_helper_.*|rnbd_trace_.*' \
	--allowlist-type 'ib_.*|rdma_.*|sockaddr_in' \
	--allowlist-var 'init_net|RNBD_CONST_HELPER_.*'

quiet_cmd_kext_bindgen = BINDGEN $@
      cmd_kext_bindgen = \
	sed -nE 's/^pub (struct|union) ([A-Za-z0-9_]+).*/\2/p' $(kext_kernel_bindings) \
		| grep -v '^_bindgen_ty_' | sort -u | paste -sd'|' > $@.blocklist; \
	$(BINDGEN) $< $(shell grep -Ev '^\#|^$$' $(srctree)/rust/bindgen_parameters) \
		--rust-target 1.68 --use-core --with-derive-default --ctypes-prefix ffi \
		--no-layout-tests --no-debug '.*' --enable-function-attribute-detection \
		$(kext_bindgen_allow) --blocklist-type "$$(cat $@.blocklist)" \
		-o $@ -- $(kext_bindgen_c_flags) -fno-builtin -D__BINDGEN__ -DMODULE; \
	sed -Ei -e 's/pub const RNBD_CONST_HELPER_([a-zA-Z0-9_]*)/pub const \1/g' \
		-e 's/pub fn rnbd_helper_([a-zA-Z0-9_]*)/\#[link_name="rnbd_helper_\1"]\n    pub fn \1/g' $@; \
	rm -f $@.blocklist

# trace/trace.c (in the kext_helpers.c of the modules that have trace
# events): define_trace.h includes the event headers by their folder.
CFLAGS_kext_helpers.o += -I$(kext_dir)/trace

$(obj)/kext_bindings_generated.rs: $(kext_dir)/bindings/kext_bindings.h \
		$(kext_kernel_bindings) $(kext_dir)/kext.mk FORCE
	$(call if_changed_dep,kext_bindgen)

targets += kext_bindings_generated.rs

# The module's crate root(s): they compile kernel_ext, which includes the
# generated bindings.
kext_mains := $(patsubst $(src)/%.rs,$(obj)/%.o,$(wildcard $(src)/*_main.rs))
$(kext_mains): $(obj)/kext_bindings_generated.rs
$(kext_mains): export RNBD_KEXT_BINDINGS = $(abspath $(obj)/kext_bindings_generated.rs)
