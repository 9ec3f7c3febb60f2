// SPDX-License-Identifier: GPL-2.0
/*
 * mflow_harness - a throwaway module that fails on purpose, so that
 * scripts/check-harness can prove the test harness notices failures.
 * It is not part of mflow.
 *
 * Loading it runs the KUnit suite "mflow_harness": one case that passes
 * and one that fails. The "trigger" parameter adds a kernel complaint at
 * load time: "warn" hits WARN_ON(1), "kasan" reads one byte past the end
 * of a kmalloc'd buffer (a report on a KASAN kernel).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <kunit/test.h>
#include <linux/bug.h>
#include <linux/compiler.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

static char *trigger = "";
module_param(trigger, charp, 0444);
MODULE_PARM_DESC(trigger, "Complaint to cause at load: \"\", \"warn\" or \"kasan\"");

/* Passing means the harness counts this case as passed. */
static void mflow_harness_passes(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, 1 + 1, 2);
}

/* Fails on purpose: passing means the harness counts this case as failed. */
static void mflow_harness_fails(struct kunit *test)
{
	KUNIT_EXPECT_EQ_MSG(test, 1 + 1, 3, "deliberate failure");
}

static struct kunit_case mflow_harness_cases[] = {
	KUNIT_CASE(mflow_harness_passes),
	KUNIT_CASE(mflow_harness_fails),
	{}
};

static struct kunit_suite mflow_harness_suite = {
	.name = "mflow_harness",
	.test_cases = mflow_harness_cases,
};
kunit_test_suite(mflow_harness_suite);

/* Read one byte past a 16-byte allocation through a volatile pointer. */
static int mflow_harness_kasan(void)
{
	size_t size = 16;
	volatile char *p;
	char *buf;
	char c;

	buf = kmalloc(size, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	OPTIMIZER_HIDE_VAR(size);
	p = buf;
	c = p[size];
	pr_info("read %d past the end of a %zu-byte buffer\n", c, size);
	kfree(buf);
	return 0;
}

static int __init mflow_harness_init(void)
{
	if (!strcmp(trigger, "warn")) {
		pr_info("triggering a WARN\n");
		WARN_ON(1);
	} else if (!strcmp(trigger, "kasan")) {
		pr_info("triggering a KASAN report\n");
		return mflow_harness_kasan();
	} else if (*trigger) {
		pr_err("trigger=%s: use \"\", \"warn\" or \"kasan\"\n", trigger);
		return -EINVAL;
	}
	return 0;
}
module_init(mflow_harness_init);

static void __exit mflow_harness_exit(void)
{
}
module_exit(mflow_harness_exit);

MODULE_DESCRIPTION("mflow test-harness self-check (fails on purpose)");
MODULE_LICENSE("GPL");
