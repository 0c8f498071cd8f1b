// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of kernel_ext for macros bindgen cannot see, compiled into a
 * module that uses them (`#include` from the module's own .c file, see
 * rnbd/server/kext_helpers.c): `in_task()` reads the per-CPU preempt
 * count.
 */
#include <linux/preempt.h>
#include <linux/smp.h>

bool rnbd_kext_in_task(void);

bool rnbd_kext_in_task(void)
{
	return in_task();
}

unsigned int rnbd_kext_cpu_id(void);

/* The current CPU, as a hint (no preemption protection): RTRS permits. */
unsigned int rnbd_kext_cpu_id(void)
{
	return raw_smp_processor_id();
}
