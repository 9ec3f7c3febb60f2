// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite mflow_fifo: the data path of one console, single-threaded
 * except where a call that should return at once is bounded in a kthread.
 *
 * Endpoint 0 writes into the fifo that endpoint 1 reads unless a case says
 * otherwise. Streams carry mflow_pattern_fill() bytes so that a lost,
 * doubled or reordered byte shows up as a mismatch at a known offset.
 */

#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/limits.h>
#include <linux/uio.h>

#include "mflow_kunit.h"

#define FIFO	MFLOW_FIFO_MIN

/*
 * R5, R2: a write returns its length and the peer reads back exactly those
 * bytes, in each direction.
 */
static void mflow_write_read_roundtrip(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, 2000);
	u8 *dst = kunit_kzalloc(test, FIFO, GFP_KERNEL);
	unsigned int w;

	KUNIT_ASSERT_NOT_NULL(test, dst);
	for (w = 0; w < 2; w++) {
		memset(dst, 0, FIFO);
		KUNIT_EXPECT_EQ(test, mflow_kwrite(fix->ep[w], src + w * 1000,
						   1000, false), 1000);
		KUNIT_EXPECT_EQ(test, mflow_kread_avail(fix->ep[!w], dst, FIFO),
				1000);
		KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, 1000, w * 1000),
				1000);
		/* nothing more, and nothing echoed to the writer */
		KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[!w], dst, FIFO, true),
				-EAGAIN);
		KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[w], dst, FIFO, true),
				-EAGAIN);
	}
}

/*
 * R2: a blocking read returns the bytes present without waiting to fill the
 * request, and a short request leaves the rest queued, in order.
 */
static void mflow_read_partial(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, 20);
	u8 *dst = kunit_kzalloc(test, FIFO, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, dst);
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src, 10, false), 10);
	KUNIT_EXPECT_EQ(test, mflow_kread_bounded(fix, fix->ep[1], dst, FIFO),
			10);
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, 10, 0), 10);

	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src + 10, 10, false), 10);
	KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[1], dst, 3, true), 3);
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, 3, 10), 3);
	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), 7);
	KUNIT_EXPECT_EQ(test, mflow_kread_avail(fix->ep[1], dst, FIFO), 7);
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, 7, 13), 7);
}

/*
 * R2: a zero-length read returns 0 at once, blocking or not, on an empty
 * stream and with data queued, and consumes nothing.
 */
static void mflow_read_zero_length(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, 5);
	u8 dst[1] = { };

	KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[1], dst, 0, true), 0);
	KUNIT_EXPECT_EQ(test, mflow_kread_bounded(fix, fix->ep[1], dst, 0), 0);

	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src, 5, false), 5);
	KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[1], dst, 0, true), 0);
	KUNIT_EXPECT_EQ(test, mflow_kread_bounded(fix, fix->ep[1], dst, 0), 0);
	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), 5);
}

/*
 * R5: a zero-length write returns 0 at once, blocking or not, even on a
 * full fifo, and moves nothing (nor counts as a write in the stats, R13).
 */
static void mflow_write_zero_length(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, FIFO);
	struct mflow_stats st = { };

	KUNIT_EXPECT_EQ(test, mflow_kwrite(fix->ep[0], src, 0, false), 0);
	KUNIT_EXPECT_EQ(test, mflow_kwrite(fix->ep[0], src, 0, true), 0);
	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), 0);

	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src, FIFO, true), FIFO);
	KUNIT_EXPECT_EQ(test, mflow_kwrite(fix->ep[0], src, 0, true), 0);
	KUNIT_EXPECT_EQ(test, mflow_kwrite_bounded(fix, fix->ep[0], src, 0), 0);
	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), FIFO);

	mflow_get_stats(fix->ep[0], &st);
	KUNIT_EXPECT_EQ(test, st.write_ops, 1);
	KUNIT_EXPECT_EQ(test, st.write_bytes, FIFO);
}

/* R3: a nonblocking read of an empty stream fails with -EAGAIN. */
static void mflow_read_nonblock_empty(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 dst[16];

	KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[0], dst, sizeof(dst), true),
			-EAGAIN);
	KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[1], dst, sizeof(dst), true),
			-EAGAIN);
}

struct mflow_wrap_param {
	unsigned int skew;	/* bytes through the ring before each chunk */
	unsigned int chunk;	/* bytes of each write */
};

static const struct mflow_wrap_param mflow_wrap_params[] = {
	{ .skew = 0,	.chunk = FIFO },
	{ .skew = 1,	.chunk = FIFO },
	{ .skew = 1,	.chunk = FIFO - 1 },
	{ .skew = 100,	.chunk = 1 },
	{ .skew = 2048,	.chunk = FIFO },
	{ .skew = 3000,	.chunk = 3000 },
	{ .skew = 4000,	.chunk = 200 },
	{ .skew = FIFO - 1, .chunk = 2 },
};

static void mflow_wrap_desc(const struct mflow_wrap_param *p, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "skew %u chunk %u",
		 p->skew, p->chunk);
}

KUNIT_ARRAY_PARAM(mflow_wrap, mflow_wrap_params, mflow_wrap_desc);

/*
 * R2, R5, R12: writes and reads that cross the end of the ring, at several
 * offsets and sizes, deliver every byte once and in order; readable and
 * outq follow each step.
 */
static void mflow_write_read_wrap(struct kunit *test)
{
	const struct mflow_wrap_param *p = test->param_value;
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	size_t total = 4 * (p->skew + p->chunk);
	u8 *src = mflow_pattern_alloc(test, total);
	u8 *dst = kunit_kzalloc(test, total, GFP_KERNEL);
	unsigned int round, half;
	size_t pos = 0;

	KUNIT_ASSERT_NOT_NULL(test, dst);
	for (round = 0; round < 4; round++) {
		if (p->skew) {
			KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src + pos,
							   p->skew, false),
					p->skew);
			KUNIT_ASSERT_EQ(test, mflow_kread_avail(fix->ep[1],
								dst + pos,
								p->skew),
					p->skew);
			pos += p->skew;
		}

		KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src + pos,
						   p->chunk, false), p->chunk);
		KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), p->chunk);
		KUNIT_EXPECT_EQ(test, mflow_outq(fix->ep[0]), p->chunk);

		half = p->chunk / 2;
		if (half) {
			KUNIT_ASSERT_EQ(test, mflow_kread_avail(fix->ep[1],
								dst + pos,
								half), half);
			KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]),
					p->chunk - half);
			KUNIT_EXPECT_EQ(test, mflow_outq(fix->ep[0]),
					p->chunk - half);
		}
		KUNIT_ASSERT_EQ(test, mflow_kread_avail(fix->ep[1],
							dst + pos + half,
							p->chunk - half),
				p->chunk - half);
		pos += p->chunk;

		KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), 0);
		KUNIT_EXPECT_EQ(test, mflow_outq(fix->ep[0]), 0);
	}
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, total, 0), total);
}

/*
 * R5, R6: a write of several segments (writev) is one contiguous run of
 * the stream, and a read scatters into several segments (readv).
 */
static void mflow_write_read_segments(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, 300);
	u8 *dst = kunit_kzalloc(test, 300, GFP_KERNEL);
	struct kvec wv[3] = {
		{ .iov_base = src, .iov_len = 100 },
		{ .iov_base = src + 100, .iov_len = 1 },
		{ .iov_base = src + 101, .iov_len = 199 },
	};
	struct kvec rv[3];
	struct iov_iter iter;

	KUNIT_ASSERT_NOT_NULL(test, dst);
	rv[0] = (struct kvec){ .iov_base = dst, .iov_len = 50 };
	rv[1] = (struct kvec){ .iov_base = dst + 50, .iov_len = 200 };
	rv[2] = (struct kvec){ .iov_base = dst + 250, .iov_len = 50 };

	iov_iter_kvec(&iter, ITER_SOURCE, wv, ARRAY_SIZE(wv), 300);
	KUNIT_EXPECT_EQ(test, mflow_write(fix->ep[0], &iter, 0), 300);
	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), 300);

	iov_iter_kvec(&iter, ITER_DEST, rv, ARRAY_SIZE(rv), 300);
	KUNIT_EXPECT_EQ(test, mflow_read(fix->ep[1], &iter, MFLOW_IO_NONBLOCK), 300);
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, 300, 0), 300);
}

/*
 * R6: with nonblock, a write of at most PIPE_BUF bytes is all or -EAGAIN:
 * when the room is short it moves nothing.
 */
static void mflow_write_nonblock_small(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, 2 * FIFO);
	u8 *dst = kunit_kzalloc(test, FIFO, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, dst);
	KUNIT_ASSERT_LE(test, FIFO, PIPE_BUF);
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src, FIFO - 100, true),
			FIFO - 100);

	/* 100 bytes of room left */
	KUNIT_EXPECT_EQ(test, mflow_kwrite(fix->ep[0], src + FIFO - 100, 101,
					   true), -EAGAIN);
	KUNIT_EXPECT_EQ(test, mflow_kwrite(fix->ep[0], src + FIFO - 100,
					   PIPE_BUF, true), -EAGAIN);
	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), FIFO - 100);
	KUNIT_EXPECT_EQ(test, mflow_outq(fix->ep[0]), FIFO - 100);

	KUNIT_EXPECT_EQ(test, mflow_kwrite(fix->ep[0], src + FIFO - 100, 100,
					   true), 100);
	KUNIT_EXPECT_EQ(test, mflow_kwrite(fix->ep[0], src + FIFO, 1, true),
			-EAGAIN);

	KUNIT_EXPECT_EQ(test, mflow_kread_avail(fix->ep[1], dst, FIFO), FIFO);
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, FIFO, 0), FIFO);
}

/* One mflow_read() or mflow_write() of @len bytes at @buf with @flags. */
static ssize_t mflow_io(struct mflow_endpoint *ep, bool write, void *buf,
			size_t len, unsigned int flags)
{
	struct kvec v = { .iov_base = buf, .iov_len = len };
	struct iov_iter iter;

	iov_iter_kvec(&iter, write ? ITER_SOURCE : ITER_DEST, &v, 1, len);
	return write ? mflow_write(ep, &iter, flags) :
		       mflow_read(ep, &iter, flags);
}

/*
 * R3, R6: with MFLOW_IO_NOWAIT (IOCB_NOWAIT) neither a read nor a write
 * waits for the direction's lock: -EAGAIN while another caller holds it,
 * and nothing moves. Otherwise a NOWAIT write follows the O_NONBLOCK rule:
 * up to PIPE_BUF bytes all or -EAGAIN, a larger one moves what fits (the
 * first bytes of its buffer), so that io_uring completes it short instead
 * of retrying it from poll.
 */
static void mflow_nowait_lock_and_partial_write(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	struct mflow_endpoint *w = fix->ep[0], *r = fix->ep[1];
	size_t big = PIPE_BUF + FIFO;
	u8 *src = mflow_pattern_alloc(test, big);
	u8 *dst = kunit_kzalloc(test, FIFO, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, dst);
	mutex_lock(&w->out->wr_lock);
	KUNIT_EXPECT_EQ(test, mflow_io(w, true, src, 10, MFLOW_IO_NOWAIT),
			-EAGAIN);
	mutex_unlock(&w->out->wr_lock);
	KUNIT_EXPECT_EQ(test, mflow_readable(r), 0);

	KUNIT_EXPECT_EQ(test, mflow_io(w, true, src, big, MFLOW_IO_NOWAIT),
			FIFO);
	KUNIT_EXPECT_EQ(test, mflow_readable(r), FIFO);
	KUNIT_EXPECT_EQ(test, mflow_io(w, true, src, 10, MFLOW_IO_NOWAIT),
			-EAGAIN);

	mutex_lock(&r->in->rd_lock);
	KUNIT_EXPECT_EQ(test, mflow_io(r, false, dst, FIFO, MFLOW_IO_NOWAIT),
			-EAGAIN);
	mutex_unlock(&r->in->rd_lock);
	KUNIT_EXPECT_EQ(test, mflow_readable(r), FIFO);
	KUNIT_EXPECT_EQ(test, mflow_io(r, false, dst, FIFO, MFLOW_IO_NOWAIT),
			FIFO);
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, FIFO, 0), FIFO);
	KUNIT_EXPECT_EQ(test, mflow_io(r, false, dst, FIFO, MFLOW_IO_NOWAIT),
			-EAGAIN);

	/* Room for less than a PIPE_BUF write: all or nothing. */
	KUNIT_EXPECT_EQ(test, mflow_io(w, true, src, FIFO - 100,
				       MFLOW_IO_NOWAIT), FIFO - 100);
	KUNIT_EXPECT_EQ(test, mflow_io(w, true, src, PIPE_BUF,
				       MFLOW_IO_NOWAIT), -EAGAIN);
	KUNIT_EXPECT_EQ(test, mflow_readable(r), FIFO - 100);
}

/* Whether @task sleeps on @wq now. */
static bool mflow_on_queue(struct wait_queue_head *wq,
			   struct task_struct *task)
{
	struct wait_queue_entry *e;
	bool found = false;

	spin_lock_irq(&wq->lock);
	list_for_each_entry(e, &wq->head, entry)
		found |= e->private == task;
	spin_unlock_irq(&wq->lock);
	return found;
}

/*
 * R2, R3: two readers sleep for data. The one woken for the first byte
 * finds the read lock taken, and a signal comes while it waits for it.
 * The wakeup is not lost with it: the byte is read promptly, and never
 * left in the ring with the other reader asleep.
 */
static void mflow_read_woken_reader_interrupted(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	struct mflow_endpoint *w = fix->ep[0], *r = fix->ep[1];
	struct mflow_dir *d = r->in;
	struct mflow_kthread *t[2], *woken = NULL;
	unsigned long end;
	u8 byte = 0x5a;
	int i;

	for (i = 0; i < 2; i++) {
		t[i] = mflow_kthread_start_read(fix, r, 1, true);
		end = jiffies + MFLOW_KUNIT_WAIT;
		while (!mflow_on_queue(&d->rd_wait, t[i]->task) &&
		       time_before(jiffies, end))
			usleep_range(100, 200);
		KUNIT_ASSERT_TRUE(test, mflow_kthread_asleep(t[i],
							     &d->rd_wait));
	}

	mutex_lock(&d->rd_lock);
	KUNIT_EXPECT_EQ(test, mflow_kwrite(w, &byte, 1, true), 1);
	/* The reader woken has left the queue, and sleeps on the lock. */
	end = jiffies + MFLOW_KUNIT_WAIT;
	while (!woken && time_before(jiffies, end)) {
		for (i = 0; i < 2; i++)
			if (!mflow_on_queue(&d->rd_wait, t[i]->task) &&
			    !task_is_running(t[i]->task))
				woken = t[i];
		if (!woken)
			usleep_range(100, 200);
	}
	if (woken)
		mflow_kthread_signal(woken);
	mutex_unlock(&d->rd_lock);
	KUNIT_ASSERT_NOT_NULL_MSG(test, woken, "no reader was woken");

	end = jiffies + MFLOW_KUNIT_WAIT;
	while (mflow_readable(r) && time_before(jiffies, end))
		usleep_range(100, 200);
	KUNIT_EXPECT_EQ_MSG(test, mflow_readable(r), 0,
			    "the byte stayed in the ring, a reader asleep");
	/* Release whichever reader still waits, then count the bytes read. */
	KUNIT_EXPECT_EQ(test, mflow_kwrite(w, &byte, 1, true), 1);
	KUNIT_EXPECT_EQ(test, mflow_kthread_join(fix, t[0]) +
			mflow_kthread_join(fix, t[1]), 2);
}

/*
 * R6: with nonblock, a write larger than PIPE_BUF may be partial: it moves
 * at most the room and returns that count; with no room it fails with
 * -EAGAIN. The bytes moved are the first ones of the buffer.
 */
static void mflow_write_nonblock_large(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	size_t big = PIPE_BUF + FIFO;
	u8 *src = mflow_pattern_alloc(test, 100 + 2 * big);
	u8 *dst = kunit_kzalloc(test, FIFO, GFP_KERNEL);
	ssize_t ret;
	size_t pos;

	KUNIT_ASSERT_NOT_NULL(test, dst);
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src, 100, true), 100);

	ret = mflow_kwrite(fix->ep[0], src + 100, big, true);
	KUNIT_EXPECT_GT(test, ret, 0);
	KUNIT_ASSERT_LE(test, ret, FIFO - 100);
	pos = 100 + max_t(ssize_t, ret, 0);
	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), pos);

	/* top up to full if the core moved less than the room */
	if (pos < FIFO)
		KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src + pos,
						   FIFO - pos, true),
				FIFO - pos);
	KUNIT_EXPECT_EQ(test, mflow_kwrite(fix->ep[0], src + FIFO, big, true),
			-EAGAIN);

	KUNIT_EXPECT_EQ(test, mflow_kread_avail(fix->ep[1], dst, FIFO), FIFO);
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, FIFO, 0), FIFO);
}

/*
 * R12: readable counts the bytes an endpoint can read now and outq the bytes
 * it wrote that the peer has not read, per direction; both fall to 0 when
 * the reader shuts its read side (R8).
 */
static void mflow_readable_outq_counts(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, 300);
	u8 *dst = kunit_kzalloc(test, 300, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, dst);
	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[0]), 0);
	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), 0);
	KUNIT_EXPECT_EQ(test, mflow_outq(fix->ep[0]), 0);
	KUNIT_EXPECT_EQ(test, mflow_outq(fix->ep[1]), 0);

	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src, 300, false), 300);
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[1], src, 7, false), 7);
	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), 300);
	KUNIT_EXPECT_EQ(test, mflow_outq(fix->ep[0]), 300);
	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[0]), 7);
	KUNIT_EXPECT_EQ(test, mflow_outq(fix->ep[1]), 7);

	KUNIT_ASSERT_EQ(test, mflow_kread(fix->ep[1], dst, 100, true), 100);
	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), 200);
	KUNIT_EXPECT_EQ(test, mflow_outq(fix->ep[0]), 200);

	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[1], MFLOW_SHUT_RD), 0);
	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), 0);
	KUNIT_EXPECT_EQ(test, mflow_outq(fix->ep[0]), 0);
	/* the other direction is untouched */
	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[0]), 7);
	KUNIT_EXPECT_EQ(test, mflow_outq(fix->ep[1]), 7);
}

/*
 * R13: stats count, per endpoint, the bytes and the calls that moved data;
 * empty, failed and zero-length calls do not count; the age grows.
 */
static void mflow_get_stats_counts(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, 150);
	u8 *dst = kunit_kzalloc(test, FIFO, GFP_KERNEL);
	struct mflow_stats s0, s1, later;
	unsigned int reads;
	ssize_t ret, got;

	KUNIT_ASSERT_NOT_NULL(test, dst);
	memset(&s0, 0xff, sizeof(s0));
	mflow_get_stats(fix->ep[0], &s0);
	KUNIT_EXPECT_EQ(test, s0.read_bytes, 0);
	KUNIT_EXPECT_EQ(test, s0.read_ops, 0);
	KUNIT_EXPECT_EQ(test, s0.write_bytes, 0);
	KUNIT_EXPECT_EQ(test, s0.write_ops, 0);

	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src, 100, false), 100);
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src, 0, false), 0);
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src + 100, 50, false),
			50);
	KUNIT_ASSERT_EQ(test, mflow_kread(fix->ep[1], dst, 60, true), 60);
	KUNIT_ASSERT_EQ(test, mflow_kread(fix->ep[1], dst, 0, true), 0);
	/* the other 90 bytes, in as many reads as the core takes */
	reads = 1;
	got = 60;
	while ((ret = mflow_kread(fix->ep[1], dst, FIFO, true)) > 0) {
		reads++;
		got += ret;
	}
	KUNIT_ASSERT_EQ(test, ret, -EAGAIN);
	KUNIT_ASSERT_EQ(test, got, 150);

	mflow_get_stats(fix->ep[0], &s0);
	mflow_get_stats(fix->ep[1], &s1);
	KUNIT_EXPECT_EQ(test, s0.write_bytes, 150);
	KUNIT_EXPECT_EQ(test, s0.write_ops, 2);
	KUNIT_EXPECT_EQ(test, s0.read_bytes, 0);
	KUNIT_EXPECT_EQ(test, s0.read_ops, 0);
	KUNIT_EXPECT_EQ(test, s1.read_bytes, 150);
	KUNIT_EXPECT_EQ(test, s1.read_ops, reads);
	KUNIT_EXPECT_EQ(test, s1.write_bytes, 0);
	KUNIT_EXPECT_EQ(test, s1.write_ops, 0);

	usleep_range(2000, 3000);
	mflow_get_stats(fix->ep[0], &later);
	KUNIT_EXPECT_GT(test, later.age_ns, s0.age_ns);
	KUNIT_EXPECT_GE(test, later.age_ns - s0.age_ns, 2 * NSEC_PER_MSEC);
}

/*
 * R2, R5, R12: the ring indices are free-running 32-bit counters. Started
 * just below 2^32, they wrap in the middle of the traffic: every byte
 * still arrives once and in order, and FIONREAD, OUTQ and poll stay right
 * on both sides of the wrap.
 */
static void mflow_indices_wrap_past_2_32(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	const size_t total = 8 * FIFO;
	u8 *src = mflow_pattern_alloc(test, total);
	u8 *dst = kunit_kzalloc(test, FIFO, GFP_KERNEL);
	struct mflow_dir *f = &fix->con->dir[0];
	size_t pos = 0, got = 0;
	unsigned int step = 0;
	bool wrapped = false;
	ssize_t n;

	KUNIT_ASSERT_NOT_NULL(test, dst);
	/* Idle direction, no one else running: move both indices. */
	f->in = 0U - FIFO - 300;
	f->out = f->in;
	KUNIT_ASSERT_EQ(test, mflow_readable(fix->ep[1]), 0);

	while (got < total) {
		size_t len = min_t(size_t, total - pos, 700 + 97 * step++);

		n = len ? mflow_kwrite(fix->ep[0], src + pos, len, true) : 0;
		if (n > 0)
			pos += n;
		else if (len)
			KUNIT_ASSERT_EQ(test, n, -EAGAIN);
		KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), pos - got);
		KUNIT_EXPECT_EQ(test, mflow_outq(fix->ep[0]), pos - got);
		KUNIT_EXPECT_EQ(test, !!(mflow_poll_mask(fix->ep[1]) & EPOLLIN),
				pos > got);
		KUNIT_EXPECT_EQ(test,
				!!(mflow_poll_mask(fix->ep[0]) & EPOLLOUT),
				FIFO - (pos - got) >= PIPE_BUF);

		n = mflow_kread(fix->ep[1], dst, 1 + 313 * step % FIFO, true);
		if (n == -EAGAIN)
			continue;
		KUNIT_ASSERT_GT(test, n, 0);
		KUNIT_ASSERT_EQ(test, mflow_pattern_check(dst, n, got), n);
		got += n;
		if (f->out < FIFO)
			wrapped = true;
	}
	KUNIT_EXPECT_TRUE_MSG(test, wrapped, "indices did not wrap: out %u",
			      f->out);
	KUNIT_EXPECT_EQ(test, got, total);
	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), 0);
}

static struct kunit_case mflow_fifo_cases[] = {
	KUNIT_CASE(mflow_write_read_roundtrip),
	KUNIT_CASE(mflow_read_partial),
	KUNIT_CASE(mflow_read_zero_length),
	KUNIT_CASE(mflow_write_zero_length),
	KUNIT_CASE(mflow_read_nonblock_empty),
	KUNIT_CASE_PARAM(mflow_write_read_wrap, mflow_wrap_gen_params),
	KUNIT_CASE(mflow_write_read_segments),
	KUNIT_CASE(mflow_write_nonblock_small),
	KUNIT_CASE(mflow_write_nonblock_large),
	KUNIT_CASE(mflow_nowait_lock_and_partial_write),
	KUNIT_CASE(mflow_read_woken_reader_interrupted),
	KUNIT_CASE(mflow_readable_outq_counts),
	KUNIT_CASE(mflow_get_stats_counts),
	KUNIT_CASE(mflow_indices_wrap_past_2_32),
	{}
};

static struct kunit_suite mflow_fifo_suite = {
	.name = "mflow_fifo",
	.test_cases = mflow_fifo_cases,
};

kunit_test_suite(mflow_fifo_suite);
