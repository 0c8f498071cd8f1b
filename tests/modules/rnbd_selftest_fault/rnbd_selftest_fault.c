// SPDX-License-Identifier: GPL-2.0
/*
 * rnbd_selftest_fault: makes the guest kernel misbehave on purpose, so the
 * harness's own tests can check that every kind of report fails a run.
 * Test-only; never load it outside tests/harness-*.
 *
 *   insmod rnbd_selftest_fault.ko action=warn|oops|hang
 */
#include <linux/bug.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/string.h>

static char *action = "none";
module_param(action, charp, 0444);
MODULE_PARM_DESC(action, "what to do at load: none, warn, oops or hang");

/* volatile so that the compiler emits a real load through NULL. */
static int *volatile nowhere;

static int rnbd_selftest_hang(void *unused)
{
	/* Uninterruptible and forever: the hung-task detector reports it. */
	set_current_state(TASK_UNINTERRUPTIBLE);
	schedule();
	return 0;
}

static int __init rnbd_selftest_fault_init(void)
{
	if (!strcmp(action, "warn")) {
		WARN(1, "rnbd_selftest_fault: deliberate warning\n");
	} else if (!strcmp(action, "oops")) {
		pr_info("rnbd_selftest_fault: dereferencing NULL\n");
		*nowhere = 1;
	} else if (!strcmp(action, "hang")) {
		kthread_run(rnbd_selftest_hang, NULL, "rnbd_selftest_hang");
	} else if (strcmp(action, "none")) {
		return -EINVAL;
	}
	return 0;
}

static void __exit rnbd_selftest_fault_exit(void)
{
}

module_init(rnbd_selftest_fault_init);
module_exit(rnbd_selftest_fault_exit);
MODULE_DESCRIPTION("rnbd-rs harness self-test: deliberate kernel faults");
MODULE_LICENSE("GPL");
