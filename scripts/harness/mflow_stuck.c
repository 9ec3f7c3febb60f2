// SPDX-License-Identifier: GPL-2.0
/*
 * mflow_stuck - a throwaway module whose load sleeps uninterruptibly for
 * stuck_ms (default 90 s), so that the insmod calling it sits in D state
 * where no signal reaches it: scripts/check-harness proves that
 * scripts/guest-run gives up on a suite it cannot kill instead of waiting
 * for the VM's timeout. A module apart from mflow_harness, so that the
 * steps after it can still load that one. It is not part of mflow.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/module.h>

static unsigned int stuck_ms = 90000;
module_param(stuck_ms, uint, 0444);
MODULE_PARM_DESC(stuck_ms, "How long loading sleeps uninterruptibly (ms)");

static int __init mflow_stuck_init(void)
{
	pr_info("sleeping uninterruptibly for %u ms\n", stuck_ms);
	msleep(stuck_ms);
	return 0;
}
module_init(mflow_stuck_init);

static void __exit mflow_stuck_exit(void)
{
}
module_exit(mflow_stuck_exit);

MODULE_DESCRIPTION("mflow test-harness self-check: a load stuck in D state");
MODULE_LICENSE("GPL");
