// SPDX-License-Identifier: GPL-2.0
/*
 * mflow_harness - a throwaway module that fails on purpose, so that
 * scripts/check-harness can prove the test harness notices failures.
 * It is not part of mflow.
 *
 * Loading it runs the KUnit suite "mflow_harness": one case that passes
 * and one that fails. The "trigger" parameter adds a kernel complaint at
 * load time, or its clean twin (the control that must stay quiet):
 *   warn     WARN_ON(1)
 *   kasan    reads one byte past the end of a kmalloc'd buffer
 *   lockdep  takes two mutexes in one order, then in the other (a
 *            possible circular locking dependency; nothing deadlocks)
 *   locks    the clean twin: the same two mutexes, the same order twice
 *   leak     kmallocs a few objects and forgets them (kmemleak)
 *   hung     sleeps uninterruptibly for hang_ms (default 10 s): a hung
 *            task once the guest's hung_task_timeout_secs is lower
 *   sleep    the clean twin: the same sleep for 500 ms
 *   ubsan    indexes one past the end of an array (UBSAN bounds)
 *   shift    shifts an int by 40 (UBSAN shift)
 *   odebug   sets up a pending timer again (DEBUG_OBJECTS timers:
 *            "ODEBUG: init active"; its fixup stops the timer first)
 *   atomic   might_sleep() under a spinlock ("sleeping function called
 *            from invalid context"; nothing sleeps)
 *   spin     spins with preemption off for spin_ms (default 8 s): a soft
 *            lockup and an RCU stall once the guest's watchdog_thresh and
 *            rcu_cpu_stall_timeout are lower
 *   panic    panic(): the VM must stop, and be reported
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <kunit/test.h>
#include <linux/bug.h>
#include <linux/compiler.h>
#include <linux/delay.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/panic.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timer.h>

static char *trigger = "";
module_param(trigger, charp, 0444);
MODULE_PARM_DESC(trigger, "Complaint to cause at load: \"\", warn, kasan, lockdep, locks, leak, hung, sleep, ubsan, shift, odebug, atomic, spin or panic");

static unsigned int hang_ms = 10000;
module_param(hang_ms, uint, 0444);
MODULE_PARM_DESC(hang_ms, "How long trigger=hung sleeps uninterruptibly (ms)");

static unsigned int spin_ms = 8000;
module_param(spin_ms, uint, 0444);
MODULE_PARM_DESC(spin_ms, "How long trigger=spin spins with preemption off (ms)");

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

/* Two locks of two classes; their order is the whole point. */
static DEFINE_MUTEX(mflow_harness_a);
static DEFINE_MUTEX(mflow_harness_b);

/* Take a then b; then b then a if @invert (lockdep: a possible deadlock). */
static void mflow_harness_locks(bool invert)
{
	mutex_lock(&mflow_harness_a);
	mutex_lock(&mflow_harness_b);
	mutex_unlock(&mflow_harness_b);
	mutex_unlock(&mflow_harness_a);

	if (invert) {
		mutex_lock(&mflow_harness_b);
		mutex_lock(&mflow_harness_a);
		mutex_unlock(&mflow_harness_a);
		mutex_unlock(&mflow_harness_b);
	} else {
		mutex_lock(&mflow_harness_a);
		mutex_lock(&mflow_harness_b);
		mutex_unlock(&mflow_harness_b);
		mutex_unlock(&mflow_harness_a);
	}
}

/*
 * Allocate a few objects of different sizes and drop every pointer to
 * them. Several, so that a stale copy of one pointer somewhere (a stack,
 * a register spill) cannot hide them all from kmemleak.
 */
static void mflow_harness_leak(void)
{
	static const size_t sizes[] = { 32, 96, 200, 1000 };
	unsigned int i;
	void *p;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		p = kmalloc(sizes[i], GFP_KERNEL);
		if (p)
			memset(p, 0xa5, sizes[i]);
		OPTIMIZER_HIDE_VAR(p);
		p = NULL;
	}
}

/*
 * One past the end of a 4-int array, the index hidden from the compiler.
 * The array is followed by another member, so the read stays inside the
 * struct: UBSAN reports it, KASAN has nothing to say.
 */
static void mflow_harness_ubsan(void)
{
	struct {
		int a[4];
		int after;
	} s = { { 1, 2, 3, 4 }, 5 };
	unsigned int i = ARRAY_SIZE(s.a);

	OPTIMIZER_HIDE_VAR(i);
	pr_info("a[%u] = %d\n", i, s.a[i]);
}

/* An int shifted by more than its width. */
static void mflow_harness_shift(void)
{
	unsigned int n = 40;
	int one = 1;

	OPTIMIZER_HIDE_VAR(n);
	pr_info("1 << %u = %d\n", n, one << n);
}

static void mflow_harness_timer_fn(struct timer_list *t)
{
}

/*
 * Set up a pending timer again: DEBUG_OBJECTS (timers) reports "init
 * active" and its fixup stops the timer first.
 */
static void mflow_harness_odebug(void)
{
	struct timer_list t;

	timer_setup_on_stack(&t, mflow_harness_timer_fn, 0);
	mod_timer(&t, jiffies + 3600 * HZ);
	timer_setup_on_stack(&t, mflow_harness_timer_fn, 0);
	timer_delete_sync(&t);
	destroy_timer_on_stack(&t);
}

static DEFINE_SPINLOCK(mflow_harness_spin);

/* might_sleep() where sleeping is not allowed; it does not sleep. */
static void mflow_harness_atomic(void)
{
	spin_lock(&mflow_harness_spin);
	might_sleep();
	spin_unlock(&mflow_harness_spin);
}

/* Spin with preemption off: no scheduling, no RCU quiescent state. */
static void mflow_harness_spin_cpu(unsigned int ms)
{
	unsigned long end = jiffies + msecs_to_jiffies(ms);

	preempt_disable();
	while (time_before(jiffies, end))
		cpu_relax();
	preempt_enable();
}

static int __init mflow_harness_init(void)
{
	if (!strcmp(trigger, "warn")) {
		pr_info("triggering a WARN\n");
		WARN_ON(1);
	} else if (!strcmp(trigger, "kasan")) {
		pr_info("triggering a KASAN report\n");
		return mflow_harness_kasan();
	} else if (!strcmp(trigger, "lockdep") || !strcmp(trigger, "locks")) {
		bool invert = !strcmp(trigger, "lockdep");

		pr_info("taking two mutexes in %s order\n",
			invert ? "both" : "the same");
		mflow_harness_locks(invert);
	} else if (!strcmp(trigger, "leak")) {
		pr_info("leaking four objects\n");
		mflow_harness_leak();
	} else if (!strcmp(trigger, "hung") || !strcmp(trigger, "sleep")) {
		unsigned int ms = !strcmp(trigger, "hung") ? hang_ms : 500;

		pr_info("sleeping uninterruptibly for %u ms\n", ms);
		msleep(ms);
	} else if (!strcmp(trigger, "ubsan")) {
		pr_info("triggering a UBSAN bounds report\n");
		mflow_harness_ubsan();
	} else if (!strcmp(trigger, "shift")) {
		pr_info("triggering a UBSAN shift report\n");
		mflow_harness_shift();
	} else if (!strcmp(trigger, "odebug")) {
		pr_info("setting up a pending timer again\n");
		mflow_harness_odebug();
	} else if (!strcmp(trigger, "atomic")) {
		pr_info("might_sleep() under a spinlock\n");
		mflow_harness_atomic();
	} else if (!strcmp(trigger, "spin")) {
		pr_info("spinning with preemption off for %u ms\n", spin_ms);
		mflow_harness_spin_cpu(spin_ms);
	} else if (!strcmp(trigger, "panic")) {
		panic("mflow_harness: deliberate panic (trigger=panic)");
	} else if (*trigger) {
		pr_err("trigger=%s: unknown, see MODULE_PARM_DESC\n", trigger);
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
