// SPDX-License-Identifier: GPL-2.0
/* The C helpers of kernel_ext this module uses (see there). */
#include "../../../kernel/rust/kernel_ext/context.c"
