// SPDX-License-Identifier: GPL-2.0
/* The C helpers of kernel_ext, compiled into this module (see kext.mk). */
#include "../../kernel/rust/kernel_ext/context.c"
#include "../../kernel/rust/kernel_ext/bindings/helpers.c"
/* The rnbd_srv and rtrs_srv trace events. */
#define KEXT_TRACE_SERVER
#include "../../kernel/rust/kernel_ext/trace/trace.c"
