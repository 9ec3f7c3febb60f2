// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture and helpers shared by the mflow KUnit suites.
 */

#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uio.h>

#include "../module/mflow_compat.h"
#include "mflow_kunit.h"

/*
 * Deferred action of every fixture. If a case ended (failed) while a
 * helper kthread is still blocked, shutting both endpoints down wakes it
 * (R8: a shut read side reads EOF, a shut write side fails with EPIPE, a
 * shut peer write side ends close). A thread that still does not end is
 * leaked with everything it may touch, rather than freed under its feet.
 */
static void mflow_fixture_release(void *data)
{
	struct mflow_fixture *fix = data;
	struct mflow_kthread *t, *tmp;
	bool running = false;
	bool stuck = false;
	unsigned int i;

	list_for_each_entry(t, &fix->threads, node)
		if (t->task && !t->reaped && !completion_done(&t->done))
			running = true;

	if (running)
		for (i = 0; i < ARRAY_SIZE(fix->ep); i++)
			if (fix->ep[i])
				mflow_shutdown(fix->ep[i], MFLOW_SHUT_RDWR);

	list_for_each_entry(t, &fix->threads, node) {
		if (!t->task || t->reaped)
			continue;
		if (wait_for_completion_timeout(&t->done, MFLOW_KUNIT_WAIT))
			t->reaped = true;
		else
			stuck = true;
	}
	if (stuck) {
		KUNIT_FAIL(fix->test,
			   "a kthread is still blocked after shutdown; leaking console %u",
			   fix->con->index);
		return;
	}

	list_for_each_entry_safe(t, tmp, &fix->threads, node) {
		list_del(&t->node);
		if (t->task)
			put_task_struct(t->task);
		kvfree(t->buf);
		kfree(t);
	}
	for (i = 0; i < ARRAY_SIZE(fix->ep); i++)
		if (fix->ep[i])
			mflow_detach(fix->ep[i]);
	mflow_console_destroy(fix->con);
}

/**
 * mflow_fixture_create() - make an idle console for the running case
 * @test: the running case.
 * @index: console index.
 * @fifo_size: bytes per direction.
 *
 * Return: the fixture; the case aborts if the console cannot be made.
 */
struct mflow_fixture *mflow_fixture_create(struct kunit *test,
					   unsigned int index,
					   unsigned int fifo_size)
{
	struct mflow_fixture *fix;
	struct mflow_console *con;
	int ret;

	fix = kunit_kzalloc(test, sizeof(*fix), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, fix);
	fix->test = test;
	INIT_LIST_HEAD(&fix->threads);

	con = mflow_console_create(index, fifo_size);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, con);
	fix->con = con;

	ret = kunit_add_action_or_reset(test, mflow_fixture_release, fix);
	KUNIT_ASSERT_EQ(test, ret, 0);

	return fix;
}

/**
 * mflow_fixture_pair() - make a console with both endpoints attached
 * @test: the running case.
 * @fifo_size: bytes per direction.
 *
 * Return: the fixture, endpoint 0 in ep[0] and endpoint 1 in ep[1].
 */
struct mflow_fixture *mflow_fixture_pair(struct kunit *test,
					 unsigned int fifo_size)
{
	struct mflow_fixture *fix;

	fix = mflow_fixture_create(test, MFLOW_KUNIT_INDEX, fifo_size);
	mflow_fixture_attach(fix, 0);
	mflow_fixture_attach(fix, 0);
	KUNIT_ASSERT_NOT_NULL(test, fix->ep[0]);
	KUNIT_ASSERT_NOT_NULL(test, fix->ep[1]);

	return fix;
}

/**
 * mflow_fixture_attach() - attach the next endpoint; the case aborts if
 *	that fails
 * @fix: the fixture.
 * @flags: MFLOW_ATTACH_* flags.
 *
 * Return: the endpoint, also stored in @fix->ep by its index.
 */
struct mflow_endpoint *mflow_fixture_attach(struct mflow_fixture *fix,
					    unsigned int flags)
{
	struct kunit *test = fix->test;
	struct mflow_endpoint *ep;

	ep = mflow_attach(fix->con, flags);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, ep);
	KUNIT_ASSERT_LT(test, ep->index, ARRAY_SIZE(fix->ep));
	KUNIT_ASSERT_NULL(test, fix->ep[ep->index]);
	fix->ep[ep->index] = ep;

	return ep;
}

/**
 * mflow_fixture_detach() - detach an endpoint of the fixture
 * @fix: the fixture.
 * @ep: an attached endpoint of @fix.
 */
void mflow_fixture_detach(struct mflow_fixture *fix, struct mflow_endpoint *ep)
{
	fix->ep[ep->index] = NULL;
	mflow_detach(ep);
}

/**
 * mflow_kread() - one mflow_read() into a kernel buffer
 * @ep: the endpoint.
 * @buf: destination.
 * @len: bytes asked for.
 * @nonblock: fail with -EAGAIN rather than sleep.
 *
 * Return: what mflow_read() returns.
 */
ssize_t mflow_kread(struct mflow_endpoint *ep, void *buf, size_t len,
		    bool nonblock)
{
	struct kvec kv = { .iov_base = buf, .iov_len = len };
	struct iov_iter iter;

	iov_iter_kvec(&iter, ITER_DEST, &kv, 1, len);
	return mflow_read(ep, &iter, nonblock ? MFLOW_IO_NONBLOCK : 0);
}

/**
 * mflow_kwrite() - one mflow_write() from a kernel buffer
 * @ep: the endpoint.
 * @buf: source.
 * @len: bytes to write.
 * @nonblock: fail with -EAGAIN rather than sleep.
 *
 * Return: what mflow_write() returns.
 */
ssize_t mflow_kwrite(struct mflow_endpoint *ep, const void *buf, size_t len,
		     bool nonblock)
{
	struct kvec kv = { .iov_base = (void *)buf, .iov_len = len };
	struct iov_iter iter;

	iov_iter_kvec(&iter, ITER_SOURCE, &kv, 1, len);
	return mflow_write(ep, &iter, nonblock ? MFLOW_IO_NONBLOCK : 0);
}

/**
 * mflow_kread_avail() - read what is there now, never sleeping
 * @ep: the endpoint.
 * @buf: destination.
 * @len: most bytes to read.
 *
 * Return: bytes read, or the error of the first read if it read nothing.
 */
ssize_t mflow_kread_avail(struct mflow_endpoint *ep, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t ret;

	while (got < len) {
		ret = mflow_kread(ep, (u8 *)buf + got, len - got, true);
		if (ret <= 0)
			return got ? got : ret;
		got += ret;
	}
	return got;
}

/**
 * mflow_kread_wait() - read @len bytes that other threads are writing
 * @ep: the endpoint.
 * @buf: destination.
 * @len: bytes to read.
 *
 * Polls with nonblocking reads so that it gives up after MFLOW_KUNIT_WAIT
 * without progress instead of hanging on a core bug.
 *
 * Return: bytes read (short on EOF, error or timeout), or the error of
 * the first read if it read nothing.
 */
ssize_t mflow_kread_wait(struct mflow_endpoint *ep, void *buf, size_t len)
{
	unsigned long end = jiffies + MFLOW_KUNIT_WAIT;
	size_t got = 0;
	ssize_t ret;

	while (got < len) {
		ret = mflow_kread(ep, (u8 *)buf + got, len - got, true);
		if (ret > 0) {
			got += ret;
			end = jiffies + MFLOW_KUNIT_WAIT;
			continue;
		}
		if (ret != -EAGAIN || time_after(jiffies, end))
			return got ? got : ret;
		usleep_range(100, 200);
	}
	return got;
}

static u8 mflow_pattern_byte(size_t pos)
{
	return (u8)(pos ^ (pos >> 8) ^ (pos >> 16));
}

/**
 * mflow_pattern_fill() - fill @buf with the stream bytes at [@pos, @pos+@len)
 * @buf: destination.
 * @len: bytes.
 * @pos: stream position of @buf[0].
 */
void mflow_pattern_fill(u8 *buf, size_t len, size_t pos)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = mflow_pattern_byte(pos + i);
}

/**
 * mflow_pattern_check() - find the first byte of @buf off the pattern
 * @buf: bytes read.
 * @len: bytes.
 * @pos: stream position of @buf[0].
 *
 * Return: the offset of the first wrong byte, @len when all are right.
 */
size_t mflow_pattern_check(const u8 *buf, size_t len, size_t pos)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != mflow_pattern_byte(pos + i))
			return i;
	return len;
}

/**
 * mflow_pattern_alloc() - a test-managed buffer holding stream bytes [0, @len)
 * @test: the running case.
 * @len: bytes.
 *
 * Return: the buffer; the case aborts if it cannot be allocated.
 */
u8 *mflow_pattern_alloc(struct kunit *test, size_t len)
{
	u8 *buf = kunit_kzalloc(test, len, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	mflow_pattern_fill(buf, len, 0);
	return buf;
}

/**
 * mflow_info_flags() - the MFLOW_INFO_* flags of an endpoint
 * @ep: the endpoint.
 *
 * Return: &mflow_info.flags.
 */
u32 mflow_info_flags(struct mflow_endpoint *ep)
{
	struct mflow_info info = { };

	mflow_get_info(ep, &info);
	return info.flags;
}

/**
 * mflow_poll_mask() - the contract's poll bits of an endpoint now
 * @ep: the endpoint.
 *
 * Return: mflow_poll() without a poll table, limited to MFLOW_POLL_BITS.
 */
unsigned int mflow_poll_mask(struct mflow_endpoint *ep)
{
	return (__force unsigned int)(mflow_poll(ep, NULL, NULL) &
				      (MFLOW_POLL_BITS));
}

static int mflow_kthread_main(void *data)
{
	struct mflow_kthread *t = data;

	if (t->signals)
		allow_signal(SIGUSR1);
	t->ret = t->fn(t);
	kthread_complete_and_exit(&t->done, 0);
}

/**
 * mflow_kthread_new() - prepare a kthread acting on @ep, not yet started
 * @fix: the fixture, which frees the thread at the end of the case.
 * @ep: the endpoint it acts on.
 * @fn: what it does.
 * @len: size of its zeroed buffer.
 *
 * Return: the thread; the case aborts if it cannot be allocated.
 */
struct mflow_kthread *mflow_kthread_new(struct mflow_fixture *fix,
					struct mflow_endpoint *ep,
					long (*fn)(struct mflow_kthread *t),
					size_t len)
{
	struct mflow_kthread *t;
	u8 *buf;

	t = kzalloc(sizeof(*t), GFP_KERNEL);
	buf = kvzalloc(max_t(size_t, len, 1), GFP_KERNEL);
	if (!t || !buf) {
		kfree(t);
		kvfree(buf);
		KUNIT_FAIL_AND_ABORT(fix->test, "no memory for a kthread");
	}
	t->buf = buf;
	t->ep = ep;
	t->fn = fn;
	t->len = len;
	t->timeout_ns = MFLOW_CLOSE_FOREVER;
	init_completion(&t->done);
	list_add_tail(&t->node, &fix->threads);

	return t;
}

/**
 * mflow_kthread_run() - start a thread made by mflow_kthread_new()
 * @fix: its fixture.
 * @t: the thread.
 */
void mflow_kthread_run(struct mflow_fixture *fix, struct mflow_kthread *t)
{
	struct task_struct *task;

	task = kthread_create(mflow_kthread_main, t, "mflow_kunit/%u", t->id);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(fix->test, task);
	get_task_struct(task);
	t->task = task;
	wake_up_process(task);
}

/**
 * mflow_kthread_join() - wait for a thread to end; the case aborts if it
 *	has not ended within MFLOW_KUNIT_WAIT
 * @fix: its fixture.
 * @t: the thread.
 *
 * Return: what its function returned.
 */
long mflow_kthread_join(struct mflow_fixture *fix, struct mflow_kthread *t)
{
	unsigned long left;

	if (!t->reaped) {
		left = wait_for_completion_timeout(&t->done, MFLOW_KUNIT_WAIT);
		KUNIT_ASSERT_NE_MSG(fix->test, left, 0,
				    "kthread still blocked after %d s",
				    MFLOW_KUNIT_WAIT / HZ);
		t->reaped = true;
	}
	return t->ret;
}

/**
 * mflow_kthread_asleep() - wait until a thread sleeps on @wq
 * @t: a started thread.
 * @wq: the wait queue the core documents for its wait.
 *
 * Return: true once @wq has a sleeper and @t is not running; false if @t
 * ended first or nothing slept within MFLOW_KUNIT_WAIT.
 */
bool mflow_kthread_asleep(struct mflow_kthread *t, struct wait_queue_head *wq)
{
	unsigned long end = jiffies + MFLOW_KUNIT_WAIT;

	for (;;) {
		if (completion_done(&t->done))
			return false;
		if (wq_has_sleeper(wq) && !task_is_running(t->task))
			return true;
		if (time_after(jiffies, end))
			return false;
		usleep_range(100, 200);
	}
}

/**
 * mflow_kthread_signal() - send SIGUSR1 to a thread started with @signals
 * @t: the thread.
 */
void mflow_kthread_signal(struct mflow_kthread *t)
{
	send_sig(SIGUSR1, t->task, 1);
}

/**
 * mflow_kthread_read() - thread function: one read into the thread's buffer
 * @t: the thread.
 *
 * Return: what mflow_read() returned.
 */
long mflow_kthread_read(struct mflow_kthread *t)
{
	return mflow_kread(t->ep, t->buf, t->len, t->nonblock);
}

/**
 * mflow_kthread_write() - thread function: one write of the thread's buffer
 * @t: the thread.
 *
 * Return: what mflow_write() returned.
 */
long mflow_kthread_write(struct mflow_kthread *t)
{
	return mflow_kwrite(t->ep, t->buf, t->len, t->nonblock);
}

/**
 * mflow_kthread_close() - thread function: one close
 * @t: the thread.
 *
 * Return: what mflow_close() returned.
 */
long mflow_kthread_close(struct mflow_kthread *t)
{
	return mflow_close(t->ep, t->timeout_ns, t->nonblock);
}

/**
 * mflow_kthread_start_read() - start a thread doing one blocking read
 * @fix: the fixture.
 * @ep: the endpoint.
 * @len: bytes asked for.
 * @signals: let mflow_kthread_signal() interrupt it.
 *
 * Return: the running thread.
 */
struct mflow_kthread *mflow_kthread_start_read(struct mflow_fixture *fix,
					       struct mflow_endpoint *ep,
					       size_t len, bool signals)
{
	struct mflow_kthread *t;

	t = mflow_kthread_new(fix, ep, mflow_kthread_read, len);
	t->signals = signals;
	mflow_kthread_run(fix, t);
	return t;
}

/**
 * mflow_kthread_start_write() - start a thread doing one blocking write
 * @fix: the fixture.
 * @ep: the endpoint.
 * @src: bytes to write, copied into the thread's buffer.
 * @len: bytes.
 * @signals: let mflow_kthread_signal() interrupt it.
 *
 * Return: the running thread.
 */
struct mflow_kthread *mflow_kthread_start_write(struct mflow_fixture *fix,
						struct mflow_endpoint *ep,
						const void *src, size_t len,
						bool signals)
{
	struct mflow_kthread *t;

	t = mflow_kthread_new(fix, ep, mflow_kthread_write, len);
	memcpy(t->buf, src, len);
	t->signals = signals;
	mflow_kthread_run(fix, t);
	return t;
}

/**
 * mflow_kthread_start_close() - start a thread doing one blocking close
 * @fix: the fixture.
 * @ep: the endpoint.
 * @timeout_ns: in nanoseconds, or %MFLOW_CLOSE_FOREVER.
 *
 * Return: the running thread.
 */
struct mflow_kthread *mflow_kthread_start_close(struct mflow_fixture *fix,
						struct mflow_endpoint *ep,
						s64 timeout_ns)
{
	struct mflow_kthread *t;

	t = mflow_kthread_new(fix, ep, mflow_kthread_close, 0);
	t->timeout_ns = timeout_ns;
	mflow_kthread_run(fix, t);
	return t;
}

/**
 * mflow_kread_bounded() - a blocking read that should return promptly, run
 *	in a kthread so that a wrong sleep fails the case instead of hanging it
 * @fix: the fixture.
 * @ep: the endpoint.
 * @buf: destination.
 * @len: bytes asked for.
 *
 * Return: what mflow_read() returned.
 */
ssize_t mflow_kread_bounded(struct mflow_fixture *fix,
			    struct mflow_endpoint *ep, void *buf, size_t len)
{
	struct mflow_kthread *t;
	long ret;

	t = mflow_kthread_start_read(fix, ep, len, false);
	ret = mflow_kthread_join(fix, t);
	if (ret > 0)
		memcpy(buf, t->buf, min_t(size_t, ret, len));
	return ret;
}

/**
 * mflow_kwrite_bounded() - a blocking write that should return promptly,
 *	run in a kthread
 * @fix: the fixture.
 * @ep: the endpoint.
 * @src: bytes to write.
 * @len: bytes.
 *
 * Return: what mflow_write() returned.
 */
ssize_t mflow_kwrite_bounded(struct mflow_fixture *fix,
			     struct mflow_endpoint *ep, const void *src,
			     size_t len)
{
	return mflow_kthread_join(fix, mflow_kthread_start_write(fix, ep, src,
								 len, false));
}

/**
 * mflow_kclose_bounded() - a close that should return promptly, run in a
 *	kthread
 * @fix: the fixture.
 * @ep: the endpoint.
 * @timeout_ns: in nanoseconds, or %MFLOW_CLOSE_FOREVER.
 * @nonblock: nonblocking close.
 *
 * Return: what mflow_close() returned.
 */
long mflow_kclose_bounded(struct mflow_fixture *fix,
			  struct mflow_endpoint *ep, s64 timeout_ns,
			  bool nonblock)
{
	struct mflow_kthread *t;

	t = mflow_kthread_new(fix, ep, mflow_kthread_close, 0);
	t->timeout_ns = timeout_ns;
	t->nonblock = nonblock;
	mflow_kthread_run(fix, t);
	return mflow_kthread_join(fix, t);
}

MODULE_DESCRIPTION("KUnit suites of the mflow console flow core");
MODULE_LICENSE("GPL");
MFLOW_IMPORT_KUNIT_NS();
