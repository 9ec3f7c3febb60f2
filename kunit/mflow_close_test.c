// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite mflow_close: what blocks and what wakes it. The close
 * handshake, detach under a blocked peer, blocking reads and writes,
 * signals and concurrent writers, with kthreads as the blocked parties.
 *
 * Every wait is bounded (MFLOW_KUNIT_WAIT): a thread that does not block,
 * or does not wake, fails the case; the fixture then shuts both endpoints
 * down so that no thread outlives it.
 */

#include <kunit/test.h>
#include <linux/jiffies.h>
#include <linux/sched.h>
#include <linux/wait.h>

#include "mflow_kunit.h"

#define FIFO	MFLOW_FIFO_MIN

static struct wait_queue_head *mflow_close_wq(struct mflow_endpoint *ep)
{
	return &ep->con->close_wait;
}

static struct wait_queue_head *mflow_read_wq(struct mflow_endpoint *ep)
{
	return &ep->in->rd_wait;
}

static struct wait_queue_head *mflow_write_wq(struct mflow_endpoint *ep)
{
	return &ep->out->wr_wait;
}

struct mflow_order_param {
	const char *desc;
	unsigned int first;	/* endpoint that closes first */
};

static const struct mflow_order_param mflow_order_params[] = {
	{ "endpoint 0 first", 0 },
	{ "endpoint 1 first", 1 },
};

KUNIT_ARRAY_PARAM_DESC(mflow_order, mflow_order_params, desc);

/*
 * R9, R11: the first close shuts its write side (the peer sees EOF) and
 * waits; the peer's close then returns at once and both return 0; then
 * both endpoints poll EPOLLHUP. Either endpoint may go first.
 */
static void mflow_close_handshake(struct kunit *test)
{
	const struct mflow_order_param *p = test->param_value;
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	struct mflow_endpoint *first = fix->ep[p->first];
	struct mflow_endpoint *second = fix->ep[!p->first];
	struct mflow_kthread *t1, *t2;
	u8 buf[8];

	t1 = mflow_kthread_start_close(fix, first, MFLOW_CLOSE_FOREVER);
	KUNIT_ASSERT_TRUE_MSG(test, mflow_kthread_asleep(t1, mflow_close_wq(first)),
			      "first close did not wait (ret %ld)", t1->ret);

	KUNIT_EXPECT_TRUE(test, mflow_info_flags(first) & MFLOW_INFO_WR_SHUT);
	KUNIT_EXPECT_TRUE(test, mflow_poll_mask(second) & EPOLLRDHUP);
	KUNIT_EXPECT_EQ(test, mflow_kread(second, buf, sizeof(buf), true), 0);

	t2 = mflow_kthread_start_close(fix, second, MFLOW_CLOSE_FOREVER);
	KUNIT_EXPECT_EQ(test, mflow_kthread_join(fix, t2), 0);
	KUNIT_EXPECT_EQ(test, mflow_kthread_join(fix, t1), 0);

	KUNIT_EXPECT_TRUE(test, mflow_poll_mask(first) & EPOLLHUP);
	KUNIT_EXPECT_TRUE(test, mflow_poll_mask(second) & EPOLLHUP);
	KUNIT_EXPECT_EQ(test, mflow_kread(first, buf, sizeof(buf), true), 0);
}

/*
 * R9: with timeout 0, close shuts the write side and fails at once with
 * -ETIMEDOUT while the peer has not closed; once the peer shut its write
 * side the same call returns 0.
 */
static void mflow_close_timeout_zero(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 buf[8];

	KUNIT_EXPECT_EQ(test, mflow_kclose_bounded(fix, fix->ep[0], 0, false),
			-ETIMEDOUT);
	KUNIT_EXPECT_TRUE(test, mflow_info_flags(fix->ep[0]) & MFLOW_INFO_WR_SHUT);
	KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[1], buf, sizeof(buf), true), 0);

	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[1], MFLOW_SHUT_WR), 0);
	KUNIT_EXPECT_EQ(test, mflow_kclose_bounded(fix, fix->ep[0], 0, false), 0);
}

/*
 * R9: close waits for the peer until its timeout has passed, never less,
 * then fails with -ETIMEDOUT.
 */
static void mflow_close_timeout_expires(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	s64 timeout = 50 * NSEC_PER_MSEC;
	struct mflow_kthread *t;
	ktime_t start;

	start = ktime_get();
	t = mflow_kthread_start_close(fix, fix->ep[0], timeout);
	KUNIT_EXPECT_EQ(test, mflow_kthread_join(fix, t), -ETIMEDOUT);
	KUNIT_EXPECT_GE(test, ktime_to_ns(ktime_sub(ktime_get(), start)),
			timeout);
}

/*
 * R9: a nonblocking close shuts the write side and returns -EAGAIN while the
 * peer has not closed, then 0 once it has.
 */
static void mflow_close_nonblock(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);

	KUNIT_EXPECT_EQ(test, mflow_kclose_bounded(fix, fix->ep[0],
						   MFLOW_CLOSE_FOREVER, true),
			-EAGAIN);
	KUNIT_EXPECT_TRUE(test, mflow_info_flags(fix->ep[0]) & MFLOW_INFO_WR_SHUT);
	KUNIT_EXPECT_EQ(test, mflow_kclose_bounded(fix, fix->ep[0],
						   MFLOW_CLOSE_FOREVER, true),
			-EAGAIN);

	KUNIT_EXPECT_EQ(test, mflow_kclose_bounded(fix, fix->ep[1],
						   MFLOW_CLOSE_FOREVER, true), 0);
	KUNIT_EXPECT_EQ(test, mflow_kclose_bounded(fix, fix->ep[0],
						   MFLOW_CLOSE_FOREVER, true), 0);
}

/*
 * R9: close is idempotent: once both sides closed, closing again returns 0
 * at once, blocking or not, with or without timeout, also after the peer
 * detached.
 */
static void mflow_close_idempotent(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	unsigned int i;

	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[1], MFLOW_SHUT_WR), 0);
	for (i = 0; i < 2; i++) {
		KUNIT_EXPECT_EQ(test, mflow_kclose_bounded(fix, fix->ep[0],
							   MFLOW_CLOSE_FOREVER,
							   false), 0);
		KUNIT_EXPECT_EQ(test, mflow_kclose_bounded(fix, fix->ep[0],
							   MFLOW_CLOSE_FOREVER,
							   true), 0);
		KUNIT_EXPECT_EQ(test, mflow_kclose_bounded(fix, fix->ep[0], 0,
							   false), 0);
		KUNIT_EXPECT_EQ(test, mflow_kclose_bounded(fix, fix->ep[1],
							   MFLOW_CLOSE_FOREVER,
							   false), 0);
	}
	mflow_fixture_detach(fix, fix->ep[1]);
	KUNIT_EXPECT_EQ(test, mflow_kclose_bounded(fix, fix->ep[0],
						   MFLOW_CLOSE_FOREVER, false),
			0);
}

/*
 * R9: inbound data not yet read when both closes returned stays readable,
 * then reads return EOF.
 */
static void mflow_close_keeps_inbound(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, 100);
	u8 *dst = kunit_kzalloc(test, FIFO, GFP_KERNEL);
	struct mflow_kthread *t;

	KUNIT_ASSERT_NOT_NULL(test, dst);
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[1], src, 100, false), 100);
	t = mflow_kthread_start_close(fix, fix->ep[1], MFLOW_CLOSE_FOREVER);
	KUNIT_EXPECT_TRUE(test, mflow_kthread_asleep(t, mflow_close_wq(fix->ep[1])));
	KUNIT_EXPECT_EQ(test, mflow_kclose_bounded(fix, fix->ep[0],
						   MFLOW_CLOSE_FOREVER, false),
			0);
	KUNIT_EXPECT_EQ(test, mflow_kthread_join(fix, t), 0);

	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[0]), 100);
	KUNIT_EXPECT_EQ(test, mflow_kread_avail(fix->ep[0], dst, FIFO), 100);
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, 100, 0), 100);
	KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[0], dst, FIFO, true), 0);
	KUNIT_EXPECT_EQ(test, mflow_kread_bounded(fix, fix->ep[0], dst, FIFO),
			0);
}

/*
 * R9: while close waits for the peer, another thread reads on the closing
 * endpoint; the peer's SHUT_WR then ends the close with 0.
 */
static void mflow_close_read_while_waiting(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, 50);
	u8 *dst = kunit_kzalloc(test, FIFO, GFP_KERNEL);
	struct mflow_kthread *t;

	KUNIT_ASSERT_NOT_NULL(test, dst);
	t = mflow_kthread_start_close(fix, fix->ep[0], MFLOW_CLOSE_FOREVER);
	KUNIT_ASSERT_TRUE(test, mflow_kthread_asleep(t, mflow_close_wq(fix->ep[0])));

	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[1], src, 50, false), 50);
	KUNIT_EXPECT_EQ(test, mflow_kread_bounded(fix, fix->ep[0], dst, FIFO),
			50);
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, 50, 0), 50);
	KUNIT_EXPECT_FALSE(test, completion_done(&t->done));

	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[1], MFLOW_SHUT_WR), 0);
	KUNIT_EXPECT_EQ(test, mflow_kthread_join(fix, t), 0);
}

/*
 * R10, R4: detaching the peer wakes a reader blocked on an empty stream,
 * which returns 0 (EOF).
 */
static void mflow_detach_wakes_reader(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	struct mflow_kthread *t;

	t = mflow_kthread_start_read(fix, fix->ep[1], FIFO, false);
	KUNIT_ASSERT_TRUE_MSG(test, mflow_kthread_asleep(t, mflow_read_wq(fix->ep[1])),
			      "read did not block (ret %ld)", t->ret);
	mflow_fixture_detach(fix, fix->ep[0]);
	KUNIT_EXPECT_EQ(test, mflow_kthread_join(fix, t), 0);
}

/*
 * R10, R7: detaching the peer wakes a writer blocked on a full fifo that
 * has moved nothing; it fails with -EPIPE.
 */
static void mflow_detach_wakes_writer(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, FIFO + 100);
	struct mflow_kthread *t;

	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[1], src, FIFO, true), FIFO);
	t = mflow_kthread_start_write(fix, fix->ep[1], src + FIFO, 100, false);
	KUNIT_ASSERT_TRUE_MSG(test, mflow_kthread_asleep(t, mflow_write_wq(fix->ep[1])),
			      "write did not block (ret %ld)", t->ret);
	mflow_fixture_detach(fix, fix->ep[0]);
	KUNIT_EXPECT_EQ(test, mflow_kthread_join(fix, t), -EPIPE);
}

/*
 * R7, R10: a blocking write cut short by the peer detaching returns the
 * bytes it had moved, not an error.
 */
static void mflow_detach_cuts_write(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, 3 * FIFO);
	struct mflow_kthread *t;

	t = mflow_kthread_start_write(fix, fix->ep[1], src, 3 * FIFO, false);
	KUNIT_ASSERT_TRUE_MSG(test, mflow_kthread_asleep(t, mflow_write_wq(fix->ep[1])),
			      "write did not block (ret %ld)", t->ret);
	KUNIT_EXPECT_EQ(test, mflow_outq(fix->ep[1]), FIFO);
	mflow_fixture_detach(fix, fix->ep[0]);
	KUNIT_EXPECT_EQ(test, mflow_kthread_join(fix, t), FIFO);
}

/*
 * R10, R9: detaching the peer ends a close waiting for it with 0.
 */
static void mflow_detach_wakes_closer(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	struct mflow_kthread *t;

	t = mflow_kthread_start_close(fix, fix->ep[1], MFLOW_CLOSE_FOREVER);
	KUNIT_ASSERT_TRUE_MSG(test, mflow_kthread_asleep(t, mflow_close_wq(fix->ep[1])),
			      "close did not wait (ret %ld)", t->ret);
	mflow_fixture_detach(fix, fix->ep[0]);
	KUNIT_EXPECT_EQ(test, mflow_kthread_join(fix, t), 0);
}

/*
 * R3: a blocking read of an empty stream sleeps until the peer writes, then
 * returns the bytes written.
 */
static void mflow_read_blocks_until_write(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, 64);
	struct mflow_kthread *t;

	t = mflow_kthread_start_read(fix, fix->ep[1], FIFO, false);
	KUNIT_ASSERT_TRUE_MSG(test, mflow_kthread_asleep(t, mflow_read_wq(fix->ep[1])),
			      "read did not block (ret %ld)", t->ret);
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src, 64, false), 64);
	KUNIT_EXPECT_EQ(test, mflow_kthread_join(fix, t), 64);
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(t->buf, 64, 0), 64);
}

/*
 * R3: a signal ends a blocking read with -ERESTARTSYS and consumes nothing:
 * data written afterwards is all there.
 */
static void mflow_read_signal(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, 100);
	u8 *dst = kunit_kzalloc(test, FIFO, GFP_KERNEL);
	struct mflow_kthread *t;

	KUNIT_ASSERT_NOT_NULL(test, dst);
	t = mflow_kthread_start_read(fix, fix->ep[1], FIFO, true);
	KUNIT_ASSERT_TRUE_MSG(test, mflow_kthread_asleep(t, mflow_read_wq(fix->ep[1])),
			      "read did not block (ret %ld)", t->ret);
	mflow_kthread_signal(t);
	KUNIT_EXPECT_EQ(test, mflow_kthread_join(fix, t), -ERESTARTSYS);

	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src, 100, false), 100);
	KUNIT_EXPECT_EQ(test, mflow_kread_avail(fix->ep[1], dst, FIFO), 100);
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, 100, 0), 100);
}

/*
 * R5: a blocking write larger than the fifo sleeps for room and completes
 * whole, returning its length, as the peer drains; the bytes arrive once
 * and in order.
 */
static void mflow_write_blocks_until_read(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	size_t len = 3 * FIFO + 123;
	u8 *src = mflow_pattern_alloc(test, len);
	u8 *dst = kunit_kzalloc(test, len + 1, GFP_KERNEL);
	struct mflow_kthread *t;

	KUNIT_ASSERT_NOT_NULL(test, dst);
	t = mflow_kthread_start_write(fix, fix->ep[0], src, len, false);
	KUNIT_ASSERT_TRUE_MSG(test, mflow_kthread_asleep(t, mflow_write_wq(fix->ep[0])),
			      "write did not block (ret %ld)", t->ret);
	KUNIT_EXPECT_EQ(test, mflow_outq(fix->ep[0]), FIFO);

	KUNIT_EXPECT_EQ(test, mflow_kread_wait(fix->ep[1], dst, len), len);
	KUNIT_EXPECT_EQ(test, mflow_kthread_join(fix, t), len);
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, len, 0), len);
	KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[1], dst, len + 1, true),
			-EAGAIN);
}

/*
 * R7: a blocking write cut short by a signal returns the bytes it moved;
 * exactly those bytes reach the peer.
 */
static void mflow_write_signal_partial(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	size_t len = 2 * FIFO + 500;
	u8 *src = mflow_pattern_alloc(test, len);
	u8 *dst = kunit_kzalloc(test, len, GFP_KERNEL);
	struct mflow_kthread *t;

	KUNIT_ASSERT_NOT_NULL(test, dst);
	t = mflow_kthread_start_write(fix, fix->ep[0], src, len, true);
	KUNIT_ASSERT_TRUE_MSG(test, mflow_kthread_asleep(t, mflow_write_wq(fix->ep[0])),
			      "write did not block (ret %ld)", t->ret);
	mflow_kthread_signal(t);
	KUNIT_EXPECT_EQ(test, mflow_kthread_join(fix, t), FIFO);

	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), FIFO);
	KUNIT_EXPECT_EQ(test, mflow_kread_avail(fix->ep[1], dst, len), FIFO);
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, FIFO, 0), FIFO);
}

/*
 * R7, R3: a blocking write interrupted by a signal before it moved anything
 * fails with -ERESTARTSYS and leaves the stream as it was.
 */
static void mflow_write_signal_nothing_moved(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, FIFO + 100);
	u8 *dst = kunit_kzalloc(test, FIFO + 100, GFP_KERNEL);
	struct mflow_kthread *t;

	KUNIT_ASSERT_NOT_NULL(test, dst);
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src, FIFO, true), FIFO);
	t = mflow_kthread_start_write(fix, fix->ep[0], src + FIFO, 100, true);
	KUNIT_ASSERT_TRUE_MSG(test, mflow_kthread_asleep(t, mflow_write_wq(fix->ep[0])),
			      "write did not block (ret %ld)", t->ret);
	mflow_kthread_signal(t);
	KUNIT_EXPECT_EQ(test, mflow_kthread_join(fix, t), -ERESTARTSYS);

	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), FIFO);
	KUNIT_EXPECT_EQ(test, mflow_kread_avail(fix->ep[1], dst, FIFO + 100),
			FIFO);
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, FIFO, 0), FIFO);
}

#define REC_LEN		(FIFO + FIFO / 4)
#define REC_COUNT	6
#define REC_WRITERS	2

static u8 mflow_rec_byte(unsigned int id, unsigned int seq, size_t i)
{
	if (i == 0)
		return id;
	if (i == 1)
		return seq;
	return (u8)((i * 13) ^ (id ? 0xa5 : 0x5a) ^ (seq << 4));
}

/* Thread function: write t->nrec records of REC_LEN bytes, one call each. */
static long mflow_kthread_write_records(struct mflow_kthread *t)
{
	unsigned int seq;
	ssize_t ret;
	size_t i;

	for (seq = 0; seq < t->nrec; seq++) {
		for (i = 0; i < REC_LEN; i++)
			t->buf[i] = mflow_rec_byte(t->id, seq, i);
		ret = mflow_kwrite(t->ep, t->buf, REC_LEN, false);
		if (ret != REC_LEN)
			return ret < 0 ? ret : -EIO;
	}
	return seq;
}

/*
 * R6: two threads write records larger than the fifo on one endpoint at
 * once: every record is contiguous in the stream, and each writer's records
 * arrive once and in order.
 */
static void mflow_write_concurrent_records(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	size_t total = REC_WRITERS * REC_COUNT * REC_LEN;
	unsigned int next[REC_WRITERS] = { };
	struct mflow_kthread *t[REC_WRITERS];
	unsigned int w, r, id, seq;
	u8 *dst, *rec;
	size_t i;

	dst = kunit_kzalloc(test, total, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, dst);
	for (w = 0; w < REC_WRITERS; w++) {
		t[w] = mflow_kthread_new(fix, fix->ep[0],
					 mflow_kthread_write_records, REC_LEN);
		t[w]->id = w;
		t[w]->nrec = REC_COUNT;
	}
	for (w = 0; w < REC_WRITERS; w++)
		mflow_kthread_run(fix, t[w]);

	KUNIT_EXPECT_EQ(test, mflow_kread_wait(fix->ep[1], dst, total), total);
	for (w = 0; w < REC_WRITERS; w++)
		KUNIT_EXPECT_EQ(test, mflow_kthread_join(fix, t[w]), REC_COUNT);

	for (r = 0; r < REC_WRITERS * REC_COUNT; r++) {
		rec = dst + r * REC_LEN;
		id = rec[0];
		seq = rec[1];
		KUNIT_ASSERT_LT_MSG(test, id, REC_WRITERS, "record %u", r);
		KUNIT_EXPECT_EQ_MSG(test, seq, next[id], "record %u", r);
		next[id] = seq + 1;
		for (i = 2; i < REC_LEN; i++)
			if (rec[i] != mflow_rec_byte(id, seq, i))
				break;
		KUNIT_EXPECT_EQ_MSG(test, i, REC_LEN,
				    "record %u (writer %u seq %u) broken at byte %zu",
				    r, id, seq, i);
	}
	for (w = 0; w < REC_WRITERS; w++)
		KUNIT_EXPECT_EQ(test, next[w], REC_COUNT);
}

/*
 * R3, R11: a blocked reader sleeps without the readers' lock, so a
 * non-blocking read beside it gets the data poll reports instead of
 * -EAGAIN.
 */
static void mflow_blocked_reader_leaves_lock_free(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	struct mflow_kthread *t;
	u8 c = 'r', got = 0;

	t = mflow_kthread_start_read(fix, fix->ep[1], 1, false);
	KUNIT_ASSERT_TRUE_MSG(test, mflow_kthread_asleep(t, mflow_read_wq(fix->ep[1])),
			      "read did not block (ret %ld)", t->ret);
	KUNIT_EXPECT_FALSE(test, mutex_is_locked(&fix->ep[1]->in->rd_lock));
	KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[1], &got, 1, true), -EAGAIN);
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], &c, 1, true), 1);
	/* whoever gets the byte, the other gets the next one */
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], &c, 1, true), 1);
	KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[1], &got, 1, true), 1);
	KUNIT_EXPECT_EQ(test, got, 'r');
	KUNIT_EXPECT_EQ(test, mflow_kthread_join(fix, t), 1);
	KUNIT_EXPECT_EQ(test, t->buf[0], 'r');
}

/*
 * R6, R11: a blocking write larger than the fifo sleeps half done without
 * the writers' lock but keeps the stream: poll shows no EPOLLOUT even with
 * PIPE_BUF of room, a non-blocking write fails with -EAGAIN, and the
 * blocked write arrives whole, alone; afterwards EPOLLOUT is back.
 */
static void mflow_busy_writer_poll_agrees(struct kunit *test)
{
	/* PIPE_BUF of room must stay below the half the writer waits for. */
	const size_t size = 4 * PIPE_BUF;
	struct mflow_fixture *fix = mflow_fixture_pair(test, size);
	u8 *src = mflow_pattern_alloc(test, 2 * size);
	u8 *dst = kunit_kzalloc(test, 2 * size, GFP_KERNEL);
	struct mflow_kthread *t;
	size_t got = 0;
	ssize_t n;

	KUNIT_ASSERT_NOT_NULL(test, dst);
	t = mflow_kthread_start_write(fix, fix->ep[0], src, 2 * size, false);
	KUNIT_ASSERT_TRUE_MSG(test, mflow_kthread_asleep(t, mflow_write_wq(fix->ep[0])),
			      "write did not block (ret %ld)", t->ret);
	KUNIT_EXPECT_FALSE(test, mutex_is_locked(&fix->ep[0]->out->wr_lock));
	KUNIT_ASSERT_EQ(test, mflow_kread(fix->ep[1], dst, PIPE_BUF, true),
			PIPE_BUF);
	got = PIPE_BUF;
	KUNIT_EXPECT_FALSE(test, mflow_poll_mask(fix->ep[0]) & EPOLLOUT);
	KUNIT_EXPECT_EQ(test, mflow_kwrite(fix->ep[0], src, 1, true), -EAGAIN);
	while (got < 2 * size) {
		n = mflow_kread_bounded(fix, fix->ep[1], dst + got,
					2 * size - got);
		KUNIT_ASSERT_GT(test, n, 0);
		got += n;
	}
	KUNIT_EXPECT_EQ(test, mflow_kthread_join(fix, t), 2 * size);
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, 2 * size, 0), 2 * size);
	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), 0);
	KUNIT_EXPECT_TRUE(test, mflow_poll_mask(fix->ep[0]) & EPOLLOUT);
}

static struct kunit_case mflow_close_cases[] = {
	KUNIT_CASE_PARAM(mflow_close_handshake, mflow_order_gen_params),
	KUNIT_CASE(mflow_close_timeout_zero),
	KUNIT_CASE(mflow_close_timeout_expires),
	KUNIT_CASE(mflow_close_nonblock),
	KUNIT_CASE(mflow_close_idempotent),
	KUNIT_CASE(mflow_close_keeps_inbound),
	KUNIT_CASE(mflow_close_read_while_waiting),
	KUNIT_CASE(mflow_detach_wakes_reader),
	KUNIT_CASE(mflow_detach_wakes_writer),
	KUNIT_CASE(mflow_detach_cuts_write),
	KUNIT_CASE(mflow_detach_wakes_closer),
	KUNIT_CASE(mflow_read_blocks_until_write),
	KUNIT_CASE(mflow_read_signal),
	KUNIT_CASE(mflow_write_blocks_until_read),
	KUNIT_CASE(mflow_write_signal_partial),
	KUNIT_CASE(mflow_write_signal_nothing_moved),
	KUNIT_CASE(mflow_write_concurrent_records),
	KUNIT_CASE(mflow_blocked_reader_leaves_lock_free),
	KUNIT_CASE(mflow_busy_writer_poll_agrees),
	{}
};

static struct kunit_suite mflow_close_suite = {
	.name = "mflow_close",
	.test_cases = mflow_close_cases,
};

kunit_test_suite(mflow_close_suite);
