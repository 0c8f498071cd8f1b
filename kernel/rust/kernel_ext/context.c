// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of kernel_ext for macros bindgen cannot see, compiled into a
 * module that uses them (`#include` from the module's own .c file, see
 * rnbd/server/kext_helpers.c): `in_task()` reads the per-CPU preempt
 * count.
 */
#include <linux/preempt.h>

bool rnbd_kext_in_task(void);

bool rnbd_kext_in_task(void)
{
	return in_task();
}
