// SPDX-License-Identifier: GPL-2.0
/*
 * mflow flow core: two endpoints, two directions, the shutdown and close
 * state machine, and the data path between them.
 */

/**
 * DOC: mflow flow contract
 *
 * A console joins two endpoints with one byte stream in each direction. A
 * read returns as soon as at least one byte is there, up to the count asked,
 * and returns 0 (EOF) only once the peer has shut its write side or detached
 * and every byte in flight has been read. A blocking write moves the whole
 * buffer, sleeping for room, and each write call is contiguous in the stream
 * however large it is; nothing tells the writer when the peer has read it.
 * Writes fail with EPIPE once the local write side is shut or the peer can no
 * longer read. Shutting down a side never blocks. Closing (Mirage's close)
 * shuts the local write side and waits for the peer to close too, while the
 * endpoint can still read. Detaching (Mirage's disconnect, the last close(2))
 * never fails and never waits: the peer drains what was sent, then sees EOF,
 * and its writes fail. When both endpoints have detached the console resets
 * and frees its buffers; the next connection sees nothing of the last one.
 *
 * Each direction is a ring with one producer (the writer holding the
 * direction's wr_lock) and one consumer (the reader holding rd_lock), which
 * need no common lock: the consumer publishes the out index and the producer
 * the in index with release stores, and each side reads the other's index
 * with an acquire load. Copies to and from user memory run under those
 * mutexes only, and nobody sleeps for data or room holding one, so a
 * non-blocking caller never fails because a blocking one sleeps: what poll
 * reports holds for the next call. A blocking write that must sleep between
 * its pieces marks the direction busy instead, which keeps other writers out
 * (the write stays contiguous) and EPOLLOUT off until it is done. A writer
 * wakes the reader only when a reader sleeps; a reader wakes the writer only
 * when the writer sleeps and the room it waits for is there, which batches
 * wakeups for bulk transfers.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/device.h>
#include <linux/err.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/limits.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/sched/stat.h>
#include <linux/sched/task.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include "mflow_compat.h"
#include "mflow_core.h"
#include "mflow_trace.h"

/*
 * Lock order, outermost first:
 *
 *   the control device's mutex (mflow_ctl.c)
 *     -> the registry's xarray lock, or mflow_console.lock
 *       -> mflow_dir.rd_lock -> mflow_dir.wr_lock (both of one direction
 *          only in mflow_keep_for_peer(); readers and writers hold one)
 *         -> mflow_dir.lock (a spinlock: the shut flags vs. publishing)
 *           -> the wait-queue locks (rd_wait, wr_wait, close_wait)
 *
 * Copies to and from user memory run under rd_lock or wr_lock only, never
 * under a spinlock or the console lock. Nobody sleeps for data, room or a
 * close holding any of these locks.
 */

/*
 * Bytes copied between publishing the indices and waking the other side,
 * so that a large transfer keeps reader and writer copying side by side.
 */
#define MFLOW_PIECE	((size_t)SZ_64K)

static bool reply_spin = true;
module_param(reply_spin, bool, 0644);
MODULE_PARM_DESC(reply_spin,
		 "a reader blocked for a reply may spin while the peer that will answer runs on a CPU (default: on)");

/*
 * Single copy: a blocking write that would sleep for room with at least
 * direct_write_min bytes left lets the reader copy the rest straight from
 * its pinned pages, a piece at a time (mflow_direct_write()); 0 turns it
 * off, and other values are 4096 up to 1 GiB. Off by default.
 */
#define MFLOW_DIRECT_MIN	4096U
#define MFLOW_DIRECT_LIMIT	SZ_1G
/* Pages pinned at once: 256 KiB with 4 KiB pages. */
#define MFLOW_DIRECT_PAGES	64

static unsigned int direct_write_min;

static int mflow_direct_min_set(const char *val,
				const struct kernel_param *kp)
{
	unsigned int v;
	int ret;

	ret = kstrtouint(val, 0, &v);
	if (ret)
		return ret;
	if (v && (v < MFLOW_DIRECT_MIN || v > MFLOW_DIRECT_LIMIT))
		return -EINVAL;
	if (v && !MFLOW_HAVE_DIRECT)
		return -EOPNOTSUPP;
	WRITE_ONCE(direct_write_min, v);
	return 0;
}

static const struct kernel_param_ops mflow_direct_min_ops = {
	.set = mflow_direct_min_set,
	.get = param_get_uint,
};
module_param_cb(direct_write_min, &mflow_direct_min_ops, &direct_write_min,
		0644);
MODULE_PARM_DESC(direct_write_min,
		 "single copy: a blocking write that would wait for room with at least this many bytes left lets the reader copy straight from its pinned pages (0 or 4096..1073741824, default 0: off; needs Linux 6.3)");

/**
 * struct mflow_direct - writer pages offered to the reader (single copy)
 * @pages: the pinned pages, in order.
 * @offset: where the bytes start in @pages[0].
 * @len: bytes offered.
 * @taken: bytes the reader has copied so far.
 *
 * Lives on the stack of the writer, which publishes it as the direction's
 * @direct under rd_lock and sleeps until the reader has taken it all or the
 * write must end, then withdraws it under rd_lock.
 */
struct mflow_direct {
	struct page *pages[MFLOW_DIRECT_PAGES];
	size_t offset;
	size_t len;
	size_t taken;
};

/* Bytes in flight, as the consumer (holding rd_lock) sees them. */
static unsigned int mflow_used(struct mflow_dir *d)
{
	lockdep_assert_held(&d->rd_lock);
	/* Pairs with the release in mflow_publish(): the bytes are seen. */
	return smp_load_acquire(&d->in) - d->out;
}

/*
 * Free space, as the producer (holding wr_lock, or owning the busy write
 * that sleeps for room) or the consumer (holding rd_lock) sees it: each
 * owns one of the two indices, so the difference stays within the ring.
 */
static unsigned int mflow_room(struct mflow_dir *d)
{
	unsigned int out;

	/* Pairs with the release in mflow_consume(): the copy out is done. */
	out = smp_load_acquire(&d->out);
	return d->size - (READ_ONCE(d->in) - out);
}

/*
 * Bytes in flight for an observer that is neither producer nor consumer
 * (poll, FIONREAD, OUTQ, fdinfo, a reader's wait): always within 0..size.
 *
 * The out index is loaded first, then the in index. The consumer never
 * moves out past an in it has seen, so with out seen first, in is at least
 * out and the difference cannot go negative. The producer may meanwhile
 * have refilled what the consumer freed after our load of out, which can
 * take the difference past the ring size: clamp that, since a full ring is
 * what we saw at some moment between the two loads.
 */
static unsigned int mflow_peek_used(struct mflow_dir *d)
{
	unsigned int out, in;

	/*
	 * Pairs with the release of out in mflow_consume(): the consumer
	 * loaded in (with acquire) before it published that out, so the in
	 * we load next is not older.
	 */
	out = smp_load_acquire(&d->out);
	in = READ_ONCE(d->in);
	return min(in - out, READ_ONCE(d->size));
}

/*
 * Whether a read would not block. Lockless: a reader tests it in its wait
 * and poll tests it, while the producer publishes and the consumer takes.
 *
 *   reader (no rd_lock)         producer                 consumer
 *   loads out, then in          publishes in (release)   takes, moves out
 *
 * A stale answer is "empty" while bytes were just published: the producer
 * then wakes the queue after its store (mflow_wake_reader()), and the
 * reader, queued before it tested, sees that wakeup. A stale "readable"
 * while another reader just took the bytes makes the woken reader look
 * again under rd_lock and sleep once more.
 */
static bool mflow_can_read(struct mflow_dir *d)
{
	return READ_ONCE(d->rd_shut) || READ_ONCE(d->wr_shut) ||
	       mflow_peek_used(d) || READ_ONCE(d->direct_left);
}

/* Bytes a reader can take, the pinned ones of a single-copy write too. */
static unsigned int mflow_peek_avail(struct mflow_dir *d)
{
	return mflow_peek_used(d) + READ_ONCE(d->direct_left);
}

static bool mflow_write_dead(struct mflow_dir *d)
{
	return READ_ONCE(d->wr_shut) || READ_ONCE(d->rd_shut);
}

static bool mflow_can_write(struct mflow_dir *d, unsigned int need)
{
	return mflow_write_dead(d) || mflow_room(d) >= need;
}

/* Consumer: copy @len bytes out to @to, then free them. */
static size_t mflow_consume(struct mflow_dir *d, struct iov_iter *to,
			    size_t len)
{
	unsigned int off = d->out & (d->size - 1);
	size_t first = min_t(size_t, len, d->size - off);
	size_t n;

	lockdep_assert_held(&d->rd_lock);
	n = copy_to_iter(d->buf + off, first, to);
	if (n == first && len > first)
		n += copy_to_iter(d->buf, len - first, to);
	/*
	 * The copy is done before the writer may reuse the space: pairs
	 * with the acquire in mflow_room().
	 */
	smp_store_release(&d->out, d->out + n);
	return n;
}

/*
 * Producer: copy @len bytes in from @from, past the published bytes;
 * mflow_publish() makes them seen. Until then they are not in the stream.
 */
static size_t mflow_produce(struct mflow_dir *d, struct iov_iter *from,
			    size_t len)
{
	unsigned int off = d->in & (d->size - 1);
	size_t first = min_t(size_t, len, d->size - off);
	size_t n;

	lockdep_assert_held(&d->wr_lock);
	n = copy_from_iter(d->buf + off, first, from);
	if (n == first && len > first)
		n += copy_from_iter(d->buf, len - first, from);
	return n;
}

/*
 * Make @n copied bytes visible to the reader, unless the direction was shut
 * meanwhile: then they are dropped and the write fails with EPIPE, so that no
 * byte ever follows an EOF the reader may already have seen.
 */
static bool mflow_publish(struct mflow_dir *d, unsigned int n)
{
	bool ok;

	lockdep_assert_held(&d->wr_lock);
	spin_lock(&d->lock);
	ok = !d->wr_shut && !d->rd_shut;
	/* The bytes are in place before a reader may see them. */
	if (ok) /* Pairs with the acquire in mflow_used(). */
		smp_store_release(&d->in, d->in + n);
	spin_unlock(&d->lock);
	return ok;
}

/*
 * Consumer: copy up to @len bytes of the writer's pinned pages to @to,
 * once the ring is drained (they follow its bytes in the stream). When
 * none is left, wake the writer, which withdraws its pages: the smp_mb()
 * in wq_has_sleeper() orders our store of direct_left before the load of
 * the queue; it pairs with the barrier of set_current_state() in the
 * writer's wait (mflow_direct_write()), between queueing itself and
 * loading direct_left. Return: the bytes copied.
 */
static size_t mflow_direct_take(struct mflow_dir *d, struct iov_iter *to,
				size_t len)
{
	struct mflow_direct *dw = d->direct;
	size_t done = 0;

	lockdep_assert_held(&d->rd_lock);
	if (!dw)
		return 0;
	while (done < len && dw->taken < dw->len) {
		size_t pos = dw->offset + dw->taken;
		size_t off = offset_in_page(pos);
		size_t n = min3(len - done, dw->len - dw->taken,
				PAGE_SIZE - off);
		size_t c;

		c = copy_page_to_iter(dw->pages[pos >> PAGE_SHIFT], off, n, to);
		dw->taken += c;
		done += c;
		if (c < n)
			break;
	}
	WRITE_ONCE(d->direct_left, dw->len - dw->taken);
	if (dw->taken == dw->len && wq_has_sleeper(&d->wr_wait))
		wake_up_interruptible_poll(&d->wr_wait, EPOLLOUT | EPOLLWRNORM);
	return done;
}

/* Consumer: drop everything in flight (read side shut). */
static void mflow_drop(struct mflow_dir *d)
{
	lockdep_assert_held(&d->rd_lock);
	/* As in mflow_consume(), without the copy. */
	smp_store_release(&d->out, smp_load_acquire(&d->in));
}

/**
 * mflow_dir_peek() - copy the first bytes in flight without taking them
 * @d: the direction; the caller holds @d->rd_lock, so the bytes from the
 *	out index on stay put until it moves that index.
 * @buf: where they go.
 * @len: at most this many.
 *
 * Return: the bytes copied.
 */
unsigned int mflow_dir_peek(struct mflow_dir *d, void *buf, unsigned int len)
{
	unsigned int off, n, first;

	lockdep_assert_held(&d->rd_lock);
	n = min(len, mflow_used(d));
	if (!n)
		return 0;
	off = d->out & (d->size - 1);
	first = min(n, d->size - off);
	memcpy(buf, d->buf + off, first);
	memcpy((u8 *)buf + first, d->buf, n - first);
	return n;
}

/*
 * Consumer, after publishing out: wake the writer side once the room its
 * sleeper needs is there (PIPE_BUF, what poll needs, when no writer sleeps).
 *
 * The smp_mb() in wq_has_sleeper() orders our store of out before the loads
 * of the queue and of wr_need. It pairs with the full barrier of
 * set_current_state() in prepare_to_wait(), which mflow_wait_room() runs
 * after storing wr_need and queueing itself and before loading out: either
 * the writer sees our room and does not sleep, or we see it queued with its
 * wr_need and wake it. The wakeup carries no sync hint: the reader goes on
 * copying, and the two copies should run on two CPUs.
 */
static void mflow_wake_writer(struct mflow_dir *d)
{
	if (wq_has_sleeper(&d->wr_wait) &&
	    mflow_room(d) >= READ_ONCE(d->wr_need))
		wake_up_interruptible_poll(&d->wr_wait,
					   EPOLLOUT | EPOLLWRNORM);
}

/*
 * Producer, after publishing in (or a reader leaving data behind): wake a
 * reader. The smp_mb() in wq_has_sleeper() orders the store of in before
 * the load of the queue; it pairs with the barrier of set_current_state()
 * in the reader's wait, between queueing itself and loading in. @sync: the
 * waker is about to return or sleep, so the scheduler may keep the reader
 * where it is; a writer with more pieces to copy passes false.
 */
static void mflow_wake_reader(struct mflow_dir *d, bool sync)
{
	if (!wq_has_sleeper(&d->rd_wait))
		return;
	if (sync)
		wake_up_interruptible_sync_poll(&d->rd_wait,
						EPOLLIN | EPOLLRDNORM);
	else
		wake_up_interruptible_poll(&d->rd_wait, EPOLLIN | EPOLLRDNORM);
}

/*
 * The writer of @d is done: the reader drains, then sees EOF. Return: true
 * for the first shutdown only. A repeated one (a retried close, a detach
 * after a shutdown) changes no state and must wake nobody: a wakeup would
 * be a spurious edge for edge-triggered epoll, which an event loop
 * retrying its close on every event would turn into a busy loop.
 */
static bool mflow_mark_wr_shut(struct mflow_dir *d)
{
	bool was;

	spin_lock(&d->lock);
	was = d->wr_shut;
	/* Pairs with the acquire in mflow_read(): the last bytes are seen. */
	smp_store_release(&d->wr_shut, true);
	spin_unlock(&d->lock);
	return !was;
}

/*
 * The reader of @d is done: bytes in flight are dropped, writes fail.
 * @gone: it detached, rather than only shut its read side. As for
 * mflow_mark_wr_shut(), true only when this changes something.
 */
static bool mflow_mark_rd_shut(struct mflow_dir *d, bool gone)
{
	bool changed;

	spin_lock(&d->lock);
	changed = !d->rd_shut || (gone && !d->rd_gone);
	WRITE_ONCE(d->rd_shut, true);
	if (gone)
		WRITE_ONCE(d->rd_gone, true);
	spin_unlock(&d->lock);
	return changed;
}

/*
 * mflow_shut() - shut @ep's read side (@rd) and write side (@wr); @gone:
 * the endpoint detaches
 *
 * Both flags are set before anyone is woken, so that a peer woken by the
 * first wakeup already sees the whole change: a detach is one edge with
 * EPOLLIN, EPOLLRDHUP, EPOLLERR and EPOLLHUP together, not two.
 */
static void mflow_shut(struct mflow_endpoint *ep, bool rd, bool wr,
		       bool gone)
{
	struct mflow_dir *in = ep->in, *out = ep->out;
	bool rd_first = rd && mflow_mark_rd_shut(in, gone);
	bool wr_first = wr && mflow_mark_wr_shut(out);

	if (rd_first) {
		/*
		 * A reader busy copying holds rd_lock: the next read drops
		 * what it leaves (FIONREAD and OUTQ say 0 from now on).
		 */
		if (mutex_trylock(&in->rd_lock)) {
			mflow_drop(in);
			mutex_unlock(&in->rd_lock);
		}
		wake_up_interruptible_all(&in->rd_wait);
		wake_up_interruptible_all(&in->wr_wait);
	}
	if (wr_first) {
		wake_up_interruptible_all(&out->rd_wait);
		wake_up_interruptible_all(&out->wr_wait);
		wake_up_interruptible_all(&ep->con->close_wait);
	}
}

/*
 * rd_lock and wr_lock are held only while copying, never across a sleep for
 * data or room, so a non-blocking caller may wait for them too (as pipes
 * do): what poll reported stays true for its call. Restartable, as the
 * waits for data or room are.
 */
static int mflow_lock(struct mutex *lock, unsigned int flags)
{
	if (flags & MFLOW_IO_NOWAIT)
		return mutex_trylock(lock) ? 0 : -EAGAIN;
	return mutex_lock_interruptible(lock) ? -ERESTARTSYS : 0;
}

/* Why a spin for bytes ended. */
enum mflow_spin_end {
	MFLOW_SPIN_READABLE,	/* the stream became readable */
	MFLOW_SPIN_YIELD,	/* it gave way before its time was up */
	MFLOW_SPIN_TIMEOUT,	/* it used all its time */
};

/*
 * Spin up to @us microseconds for bytes or the end of the stream on @d.
 * Never on one CPU, where the peer could not run meanwhile. It gives way as
 * soon as another task is runnable on this CPU (the peer, if both share it:
 * need_resched() alone is not set for a woken task that does not preempt
 * us), a signal is pending, or @answerer (when given) is no longer running
 * on a CPU: then nothing will come soon, and on an overcommitted host our
 * vCPU may be the one the answerer needs. Called without rd_lock.
 */
static enum mflow_spin_end mflow_spin(struct mflow_dir *d, u32 us,
				      struct task_struct *answerer)
{
	u64 end;

	if (!us || num_online_cpus() < 2)
		return MFLOW_SPIN_YIELD;
	end = local_clock() + (u64)us * NSEC_PER_USEC;
	do {
		if (mflow_can_read(d))
			return MFLOW_SPIN_READABLE;
		if (need_resched() || !single_task_running() ||
		    signal_pending(current) ||
		    (answerer && !mflow_task_on_cpu(answerer)))
			return MFLOW_SPIN_YIELD;
		cpu_relax();
	} while (local_clock() < end);
	return MFLOW_SPIN_TIMEOUT;
}

/*
 * The reply wakeup. A request/response peer that has just drained its
 * inbound direction is about to answer, while the task that sent the
 * request sleeps in mflow_read() for that answer. Waking the asker now,
 * rather than when the answer is written, lets its CPU leave idle while
 * the peer works; it then spins for the answer, but only while the peer
 * (the task that drained, which will answer) runs on a CPU
 * (mflow_reply_spin()). While the answers keep coming within the spin,
 * the asker spins again before its next sleep, for the same task and
 * again only while it runs: two tasks answering each other on two CPUs
 * then never sleep. AF_UNIX sockets get part of the effect from waking a
 * sender blocked in recv() when its message is consumed.
 *
 * Only the task that wrote the bytes just drained is woken, and only when
 * it sleeps on another CPU: a thread that logs while another thread of the
 * same program waits for input is no request/response pair and pays
 * nothing; on this CPU the asker would only take the CPU from the peer.
 * The task is woken directly (as rcuwait does), not through the queue, so
 * no poller of the endpoint sees a wakeup for nothing; and without a sync
 * hint, since the waker goes on running. Spins that see no answer back off
 * exponentially: after n of them in a row the next 2^n - 1 wakeups are
 * skipped, up to 63 of every 64; one answer seen resets the count. The
 * module parameter reply_spin and %MFLOW_OPT_NO_REPLY_SPIN turn it off.
 */
#define MFLOW_REPLY_SPIN_US	50
#define MFLOW_REPLY_BACKOFF_MAX	6

static void mflow_reply_wake(struct mflow_endpoint *ep)
{
	struct mflow_endpoint *peer = &ep->con->ep[!ep->index];
	struct mflow_dir *back = ep->out;
	struct task_struct *asker, *old = NULL;
	unsigned int skip;

	if (!READ_ONCE(reply_spin) || READ_ONCE(peer->no_reply_spin) ||
	    num_online_cpus() < 2 || mflow_peek_used(back))
		return;
	rcu_read_lock();
	asker = rcu_dereference(back->rd_sleeper);
	if (!asker || asker != READ_ONCE(ep->in->last_writer) ||
	    task_cpu(asker) == raw_smp_processor_id())
		goto out_unlock;
	skip = READ_ONCE(back->hint_skip);
	if (skip) {
		WRITE_ONCE(back->hint_skip, skip - 1);
		goto out_unlock;
	}
	/*
	 * Publish whom to spin for before the wakeup: wake_up_process()
	 * orders the store before its test of the task's state, and pairs
	 * with the barrier of set_current_state() in the asker's wait,
	 * between storing rd_sleeper and testing the hint.
	 */
	old = xchg(&back->answerer, get_task_struct(current));
	WRITE_ONCE(back->reply_hint, true);
	wake_up_process(asker);
out_unlock:
	rcu_read_unlock();
	if (old)
		put_task_struct(old);
}

/* Keep @a as the task to spin for, unless a newer one came meanwhile. */
static void mflow_rearm(struct mflow_dir *d, struct task_struct *a)
{
	if (cmpxchg(&d->answerer, NULL, a))
		put_task_struct(a);
}

/*
 * Before a reader sleeps: spin for the answer while the task that answered
 * last (named by a reply wakeup, and kept while its answers come within the
 * spin) runs on a CPU. Return: true if the stream became readable.
 */
static bool mflow_reply_spin(struct mflow_endpoint *ep)
{
	struct mflow_dir *d = ep->in;
	struct task_struct *answerer;
	enum mflow_spin_end end;
	unsigned int n;

	WRITE_ONCE(d->reply_hint, false);
	answerer = xchg(&d->answerer, NULL);
	if (!answerer)
		return false;
	if (!READ_ONCE(reply_spin) || READ_ONCE(ep->no_reply_spin)) {
		put_task_struct(answerer);
		return false;
	}
	if (!mflow_task_on_cpu(answerer) || num_online_cpus() < 2) {
		/* Not now: no spin, nothing spent; it may answer later. */
		mflow_rearm(d, answerer);
		return false;
	}
	end = mflow_spin(d, MFLOW_REPLY_SPIN_US, answerer);
	/* The counters are read locklessly by fdinfo. */
	switch (end) {
	case MFLOW_SPIN_READABLE:
		WRITE_ONCE(ep->reply_hits, ep->reply_hits + 1);
		WRITE_ONCE(d->miss_streak, 0);
		mflow_rearm(d, answerer);
		return true;
	case MFLOW_SPIN_YIELD:
		WRITE_ONCE(ep->reply_yields, ep->reply_yields + 1);
		break;
	case MFLOW_SPIN_TIMEOUT:
		WRITE_ONCE(ep->reply_misses, ep->reply_misses + 1);
		break;
	}
	put_task_struct(answerer);
	/* A spin that gave way backs off as one that timed out does. */
	n = min(READ_ONCE(d->miss_streak) + 1, MFLOW_REPLY_BACKOFF_MAX);
	WRITE_ONCE(d->miss_streak, n);
	WRITE_ONCE(d->hint_skip, (1U << n) - 1);
	return false;
}

/*
 * Wait for bytes or the end of the stream on @ep's inbound direction: the
 * reply spin, the busy poll (MFLOW_IOC_SET_BUSY_POLL), then sleep. A reply
 * wakeup ends the sleep; the caller looks again and comes back here to
 * spin. The wait queues us before it tests mflow_can_read(); see
 * mflow_wake_reader() for the pairing. Called without rd_lock.
 * Return: 0 to look again (bytes, EOF or a reply wakeup), -ERESTARTSYS for
 * a signal.
 */
static int mflow_wait_data(struct mflow_endpoint *ep)
{
	struct mflow_dir *d = ep->in;
	int ret;

	if (mflow_reply_spin(ep) ||
	    mflow_spin(d, READ_ONCE(ep->busy_poll_us), NULL) ==
	    MFLOW_SPIN_READABLE)
		return 0;
	rcu_assign_pointer(d->rd_sleeper, current);
	ret = wait_event_interruptible_exclusive(d->rd_wait,
						 mflow_can_read(d) ||
						 READ_ONCE(d->reply_hint));
	RCU_INIT_POINTER(d->rd_sleeper, NULL);
	return ret ? -ERESTARTSYS : 0;
}

/**
 * mflow_read() - read from an endpoint
 * @ep: the reading endpoint.
 * @to: where the bytes go; its count is the most to read.
 * @flags: %MFLOW_IO_NONBLOCK to fail with -EAGAIN instead of sleeping;
 *	%MFLOW_IO_NOWAIT (IOCB_NOWAIT) not to wait for a lock either.
 *
 * Returns as soon as at least one byte is there. Sleeps while the stream is
 * empty and the peer can still write, after spinning for the endpoint's
 * busy-poll time if it has one. Once the peer shut its write side or
 * detached, returns what is in flight, then 0.
 *
 * Return: bytes read, 0 at EOF or for an empty @to, -EAGAIN, -ERESTARTSYS
 * if a signal ended the wait, or -EFAULT if no byte could be copied (none is
 * consumed then).
 */
ssize_t mflow_read(struct mflow_endpoint *ep, struct iov_iter *to,
		   unsigned int flags)
{
	struct mflow_dir *d = ep->in;
	struct mflow_trace_peek peek = { .len = 0 };
	size_t want = iov_iter_count(to);
	bool woken = false;
	unsigned int avail;
	size_t done, n;
	ssize_t ret;

	if (!want)
		return 0;
	ret = mflow_lock(&d->rd_lock, flags);
	if (ret)
		goto out_again;

	for (;;) {
		if (READ_ONCE(d->rd_shut)) {
			mflow_drop(d);
			ret = 0;
			goto out_unlock;
		}
		/* Seeing wr_shut first makes the last bytes visible too. */
		if (smp_load_acquire(&d->wr_shut)) {
			avail = mflow_used(d);
			if (!avail && !d->direct_left) {
				ret = 0;
				goto out_unlock;
			}
			break;
		}
		/*
		 * Pinned pages all taken but not yet withdrawn count as
		 * nothing: their writer is on its way.
		 */
		avail = mflow_used(d);
		if (avail || d->direct_left)
			break;
		if (flags & (MFLOW_IO_NONBLOCK | MFLOW_IO_NOWAIT)) {
			ret = -EAGAIN;
			goto out_unlock;
		}
		/*
		 * Sleep without rd_lock, which another reader of the endpoint
		 * may need meanwhile. An exclusive waiter woken for data it
		 * then finds returns 0 even with a signal pending, and takes
		 * rd_lock back uninterruptibly (it is held only while
		 * copying): it must look at the bytes it was woken for, and
		 * pass the wakeup on if it leaves any, or another sleeping
		 * reader could stay asleep with bytes in the ring.
		 */
		mutex_unlock(&d->rd_lock);
		ret = mflow_wait_data(ep);
		if (ret)
			return ret;
		mutex_lock(&d->rd_lock);
		woken = true;
	}

	/* Keep going while the writer keeps adding, up to the count asked. */
	mflow_trace_peek_fifo(&peek, d, avail);
	done = 0;
	while (done < want && avail) {
		size_t piece = min3(want - done, (size_t)avail, MFLOW_PIECE);

		n = mflow_consume(d, to, piece);
		done += n;
		if (n)
			mflow_wake_writer(d);
		if (n < piece)
			break;
		avail = mflow_used(d);
		/* A read of many MiB: let others run between pieces. */
		if (avail && done < want)
			cond_resched();
	}
	/* The ring drained without a fault: a single-copy writer's pages. */
	if (done < want && !avail && d->direct_left)
		done += mflow_direct_take(d, to, want - done);
	/*
	 * The wakeup that brought us here was exclusive: if we leave data
	 * behind, pass it on to the next reader (as pipes do).
	 */
	if (woken && (mflow_used(d) || d->direct_left))
		mflow_wake_reader(d, true);
	else if (done && !mflow_used(d) && !d->direct_left)
		mflow_reply_wake(ep);
	if (!done) {
		ret = -EFAULT;
		goto out_unlock;
	}
	/* Read locklessly by mflow_get_stats() and sysfs. */
	WRITE_ONCE(ep->read_bytes, ep->read_bytes + done);
	WRITE_ONCE(ep->read_ops, ep->read_ops + 1);
	ret = done;
out_unlock:
	trace_mflow_read(ep, ret, &peek);
	mutex_unlock(&d->rd_lock);
out_again:
	if (ret == -EAGAIN)
		WRITE_ONCE(ep->nowait_again, ep->nowait_again + 1);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(mflow_read);

/*
 * The write in progress (@wr_busy, ours) sleeps until @need bytes of room,
 * or the direction dies. Readers wake it only once that much is free, so a
 * bulk writer sleeps and wakes once per half ring rather than once per
 * read. The wait is not exclusive: an EPOLLEXCLUSIVE poller on the queue
 * must not take the one wakeup meant for us. Called and returns without
 * wr_lock.
 */
static int mflow_wait_room(struct mflow_dir *d, unsigned int need)
{
	DEFINE_WAIT(wait);
	int ret = 0;

	WRITE_ONCE(d->wr_need, need);
	for (;;) {
		/*
		 * Queue, then set the task state with a full barrier, then
		 * load out: the store of wr_need above and our queue entry are
		 * visible before that load. Pairs with wq_has_sleeper() in
		 * mflow_wake_writer().
		 */
		prepare_to_wait(&d->wr_wait, &wait, TASK_INTERRUPTIBLE);
		if (mflow_can_write(d, need))
			break;
		if (signal_pending(current)) {
			ret = -ERESTARTSYS;
			break;
		}
		schedule();
	}
	finish_wait(&d->wr_wait, &wait);
	WRITE_ONCE(d->wr_need, PIPE_BUF);
	return ret;
}

/*
 * Another write is in progress: sleep until it is done or the direction
 * dies. Called and returns without wr_lock. The owner clears @wr_busy,
 * then wakes the queue, whose lock orders that store against our queueing
 * in the wait.
 */
static int mflow_wait_turn(struct mflow_dir *d)
{
	return wait_event_interruptible(d->wr_wait, !READ_ONCE(d->wr_busy) ||
					mflow_write_dead(d)) ? -ERESTARTSYS : 0;
}

#if MFLOW_HAVE_DIRECT
/*
 * Single copy, for the write in progress (@wr_busy, ours) with a full
 * ring: pin the next bytes of @from (at most MFLOW_DIRECT_PAGES pages),
 * offer them to the reader after the ring's bytes, and sleep until it has
 * taken them all, a signal comes, or the direction dies. The pages are
 * then withdrawn under rd_lock, so the reader never sees them after, and
 * @from goes back by what it did not take. Called and returns without
 * wr_lock. Return: the bytes the reader took, with *@err set to
 * -ERESTARTSYS for a signal; or -1 if nothing could be pinned (a fault,
 * which the copy then reports) and the caller waits for room instead.
 */
static ssize_t mflow_direct_write(struct mflow_dir *d, struct iov_iter *from,
				  int *err)
{
	struct mflow_direct dw;
	struct page **pages = dw.pages;
	size_t taken;
	ssize_t len;
	int ret;

	len = iov_iter_extract_pages(from, &pages,
				     MFLOW_DIRECT_PAGES * PAGE_SIZE,
				     MFLOW_DIRECT_PAGES, 0, &dw.offset);
	if (len <= 0)
		return -1;
	dw.len = len;
	dw.taken = 0;
	mutex_lock(&d->rd_lock);
	if (!mflow_write_dead(d)) {
		d->direct = &dw;
		WRITE_ONCE(d->direct_left, len);
	}
	mutex_unlock(&d->rd_lock);
	/* Only the direct wakeup in mflow_direct_take() is for us now. */
	WRITE_ONCE(d->wr_need, UINT_MAX);
	mflow_wake_reader(d, true);
	/*
	 * The barrier of set_current_state() in the wait, between queueing
	 * and loading direct_left, pairs with wq_has_sleeper() in
	 * mflow_direct_take().
	 */
	ret = wait_event_interruptible(d->wr_wait, !READ_ONCE(d->direct_left) ||
				       mflow_write_dead(d));
	mutex_lock(&d->rd_lock);
	d->direct = NULL;
	WRITE_ONCE(d->direct_left, 0);
	taken = dw.taken;
	mutex_unlock(&d->rd_lock);
	WRITE_ONCE(d->wr_need, PIPE_BUF);
	unpin_user_pages(dw.pages, DIV_ROUND_UP(dw.offset + len, PAGE_SIZE));
	iov_iter_revert(from, len - taken);
	*err = ret ? -ERESTARTSYS : 0;
	return taken;
}

/* Whether this write may go single copy with @left bytes to go. */
static bool mflow_direct_ok(struct iov_iter *from, size_t left)
{
	unsigned int min = READ_ONCE(direct_write_min);

	return min && left >= min && user_backed_iter(from) &&
	       iov_iter_extract_will_pin(from);
}
#else
static ssize_t mflow_direct_write(struct mflow_dir *d, struct iov_iter *from,
				  int *err)
{
	return -1;
}

static bool mflow_direct_ok(struct iov_iter *from, size_t left)
{
	return false;
}
#endif

/**
 * mflow_write() - write to an endpoint
 * @ep: the writing endpoint.
 * @from: the bytes to write.
 * @flags: %MFLOW_IO_NONBLOCK to fail with -EAGAIN instead of sleeping;
 *	%MFLOW_IO_NOWAIT (IOCB_NOWAIT) not to wait for a lock either.
 *
 * A blocking write moves the whole of @from, sleeping for room, and no other
 * write on the same endpoint interleaves with it: before it first sleeps it
 * marks the direction busy, and keeps it so until it returns. Other writers
 * wait for their turn meanwhile; non-blocking ones fail with -EAGAIN, and
 * poll does not report EPOLLOUT. A non-blocking write (%MFLOW_IO_NONBLOCK
 * or %MFLOW_IO_NOWAIT alike) of at most PIPE_BUF bytes moves all or
 * nothing, a fault in its buffer included (-EFAULT, nothing published); a
 * larger one moves what fits, as on a pipe, so io_uring completes a large
 * write whole or short after at most one retry from poll. Once the local
 * write side is shut or the peer can no longer read, it fails with -EPIPE;
 * the caller raises SIGPIPE. A write cut short by a signal, a fault or the
 * peer going away returns the bytes it moved. With the direct_write_min
 * parameter set, a blocking write that finds the ring full lets the reader
 * copy its next bytes straight from its pinned pages instead of sleeping
 * for room (mflow_direct_write()); the bytes the reader took count as
 * moved.
 *
 * Return: bytes written, or -EAGAIN, -EPIPE, -ERESTARTSYS or -EFAULT when
 * none was.
 */
ssize_t mflow_write(struct mflow_endpoint *ep, struct iov_iter *from,
		    unsigned int flags)
{
	bool nonblock = flags & (MFLOW_IO_NONBLOCK | MFLOW_IO_NOWAIT);
	struct mflow_dir *d = ep->out;
	struct mflow_trace_peek peek = { .len = 0 };
	size_t total = iov_iter_count(from);
	bool atomic = nonblock && total <= PIPE_BUF;
	bool owner = false;
	size_t done = 0;
	ssize_t ret;

	if (!total)
		return 0;
	ret = mflow_lock(&d->wr_lock, flags);
	if (ret)
		goto out_again;
	mflow_trace_peek_iter(&peek, from);
	WRITE_ONCE(d->last_writer, current);

	while (done < total) {
		size_t left = total - done;
		unsigned int room;
		size_t chunk, n;

		if (mflow_write_dead(d)) {
			ret = -EPIPE;
			break;
		}
		/* Not ours: we have moved nothing yet, and go after it. */
		if (d->wr_busy && !owner) {
			if (nonblock) {
				ret = -EAGAIN;
				break;
			}
			mutex_unlock(&d->wr_lock);
			ret = mflow_wait_turn(d);
			if (!ret)
				ret = mflow_lock(&d->wr_lock, 0);
			if (ret)
				return ret;
			continue;
		}
		room = mflow_room(d);
		if (nonblock && (!room || (atomic && room < left))) {
			ret = -EAGAIN;
			break;
		}
		if (!room) {
			ssize_t took = -1;
			int err = 0;

			/* Keep the stream to ourselves across the sleep. */
			owner = true;
			WRITE_ONCE(d->wr_busy, true);
			mutex_unlock(&d->wr_lock);
			if (mflow_direct_ok(from, left))
				took = mflow_direct_write(d, from, &err);
			if (took < 0)
				ret = mflow_wait_room(d, min_t(size_t, left,
							       d->size / 2));
			else
				ret = err;
			mutex_lock(&d->wr_lock);
			if (took > 0) {
				done += took;
				/* Read locklessly by fdinfo. */
				WRITE_ONCE(ep->direct_bytes,
					   ep->direct_bytes + took);
			}
			if (ret)
				break;
			continue;
		}
		chunk = min3(left, (size_t)room, MFLOW_PIECE);
		n = mflow_produce(d, from, chunk);
		/* An all-or-nothing write that faulted publishes nothing. */
		if (n < chunk && atomic) {
			ret = -EFAULT;
			break;
		}
		if (n && !mflow_publish(d, n)) {
			ret = -EPIPE;
			break;
		}
		done += n;
		mflow_wake_reader(d, done == total || n < chunk);
		if (n < chunk) {
			ret = -EFAULT;
			break;
		}
		/* A write of many MiB: let others run between pieces. */
		if (done < total)
			cond_resched();
	}

	if (done) {
		/* Read locklessly by mflow_get_stats() and sysfs. */
		WRITE_ONCE(ep->write_bytes, ep->write_bytes + done);
		WRITE_ONCE(ep->write_ops, ep->write_ops + 1);
		ret = done;
	}
	if (owner)
		WRITE_ONCE(d->wr_busy, false);
	trace_mflow_write(ep, ret, &peek);
	mutex_unlock(&d->wr_lock);
	/* The next writer may go, and pollers may now see EPOLLOUT. */
	if (owner)
		wake_up_interruptible_poll(&d->wr_wait, EPOLLOUT | EPOLLWRNORM);
out_again:
	if (ret == -EAGAIN)
		WRITE_ONCE(ep->nowait_again, ep->nowait_again + 1);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(mflow_write);

/**
 * mflow_shutdown() - shut one or both sides of an endpoint
 * @ep: the endpoint.
 * @how: %MFLOW_SHUT_RD, %MFLOW_SHUT_WR or %MFLOW_SHUT_RDWR.
 *
 * Never blocks. Shutting the write side gives the peer EOF once it has
 * drained and makes local writes fail with EPIPE; it counts as this
 * endpoint's close for a peer waiting in mflow_close(). Shutting the read
 * side drops inbound bytes, makes local reads return 0 and the peer's writes
 * fail with EPIPE. Shutting a side twice is harmless.
 *
 * Return: 0, or -EINVAL for a bad @how.
 */
int mflow_shutdown(struct mflow_endpoint *ep, unsigned int how)
{
	if (how > MFLOW_SHUT_RDWR)
		return -EINVAL;
	trace_mflow_shutdown(ep, how);
	mflow_shut(ep, how != MFLOW_SHUT_WR, how != MFLOW_SHUT_RD, false);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(mflow_shutdown);

/**
 * mflow_close() - Mirage's close: shut the write side, wait for the peer's
 * @ep: the endpoint.
 * @timeout_ns: longest wait in nanoseconds, or %MFLOW_CLOSE_FOREVER for no
 *	limit. %KTIME_MAX and above wait as long as no limit does.
 * @nonblock: fail with -EAGAIN instead of waiting.
 *
 * Shuts the local write side, then waits until the peer has closed too: its
 * own mflow_close(), a write shutdown or a detach. The endpoint can
 * still read meanwhile, and inbound bytes stay readable afterwards. Calling
 * it again is harmless. The timeout runs on an hrtimer against
 * CLOCK_MONOTONIC, so -ETIMEDOUT never comes before @timeout_ns has passed,
 * whatever the tick rate.
 *
 * Return: 0 once the peer has closed, -EAGAIN (@nonblock), -ETIMEDOUT, or,
 * if a signal ended the wait, -ERESTARTSYS without a limit and -EINTR with
 * one (a restart would start the timeout over).
 */
int mflow_close(struct mflow_endpoint *ep, s64 timeout_ns, bool nonblock)
{
	struct wait_queue_head *wq = &ep->con->close_wait;
	struct mflow_dir *peer_out = ep->in;
	ktime_t expires, *until = NULL;
	DEFINE_WAIT(wait);
	int ret;

	trace_mflow_close(ep, timeout_ns);
	mflow_shut(ep, false, true, false);
	if (READ_ONCE(peer_out->wr_shut))
		return 0;
	if (nonblock)
		return -EAGAIN;
	if (!timeout_ns)
		return -ETIMEDOUT;
	if (timeout_ns > 0) {
		expires = ktime_add_safe(ktime_get(), ns_to_ktime(timeout_ns));
		if (expires < KTIME_MAX)
			until = &expires;
	}

	for (;;) {
		/*
		 * The barrier in prepare_to_wait() orders queueing before the
		 * test; mflow_shut() sets wr_shut before the wake, which
		 * takes the same queue lock: no wakeup is lost.
		 */
		prepare_to_wait(wq, &wait, TASK_INTERRUPTIBLE);
		if (READ_ONCE(peer_out->wr_shut)) {
			ret = 0;
			break;
		}
		if (signal_pending(current)) {
			ret = timeout_ns < 0 ? -ERESTARTSYS : -EINTR;
			break;
		}
		/* 0: the timer fired, not before @expires. */
		if (!schedule_hrtimeout_range(until, current->timer_slack_ns,
					      HRTIMER_MODE_ABS)) {
			ret = READ_ONCE(peer_out->wr_shut) ? 0 : -ETIMEDOUT;
			break;
		}
	}
	finish_wait(wq, &wait);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(mflow_close);

/**
 * mflow_poll() - readiness of an endpoint
 * @ep: the endpoint.
 * @file: the polling file, or NULL to only compute the mask.
 * @wait: the poll table, or NULL.
 *
 * EPOLLIN|EPOLLRDNORM when a read would not block, EPOLLRDHUP once the peer
 * shut its write side, EPOLLOUT|EPOLLWRNORM when a write of PIPE_BUF bytes
 * would not block (or would fail), EPOLLERR once the peer has detached
 * while the local write side is still open (a pipe's "no reader left"),
 * EPOLLHUP when both directions are finished. The endpoint's own shutdown
 * or close raises no bit that a reader did not ask for: EPOLLERR and
 * EPOLLHUP cannot be masked, and a level-triggered loop waiting for the
 * peer's answer would wake for them again and again.
 *
 * Return: the event mask.
 */
__poll_t mflow_poll(struct mflow_endpoint *ep, struct file *file,
		    poll_table *wait)
{
	struct mflow_dir *in = ep->in, *out = ep->out;
	bool in_eof, out_dead;
	__poll_t mask = 0;

	poll_wait(file, &in->rd_wait, wait);
	poll_wait(file, &out->wr_wait, wait);
	/* Pairs with wq_has_sleeper() in the wakers. */
	smp_mb();

	in_eof = READ_ONCE(in->wr_shut);
	out_dead = mflow_write_dead(out);
	if (in_eof || READ_ONCE(in->rd_shut) || mflow_peek_avail(in))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (in_eof)
		mask |= EPOLLRDHUP;
	/* While a blocking write sleeps mid-way, other writes would block. */
	if (out_dead)
		mask |= EPOLLOUT | EPOLLWRNORM;
	else if (!READ_ONCE(out->wr_busy) &&
		 READ_ONCE(out->size) - mflow_peek_used(out) >= PIPE_BUF)
		mask |= EPOLLOUT | EPOLLWRNORM;
	if (READ_ONCE(out->rd_gone) && !READ_ONCE(out->wr_shut))
		mask |= EPOLLERR;
	if (in_eof && out_dead)
		mask |= EPOLLHUP;
	return mask;
}
EXPORT_SYMBOL_IF_KUNIT(mflow_poll);

/**
 * mflow_readable() - bytes a read would return now (FIONREAD)
 * @ep: the endpoint.
 *
 * Return: bytes in flight towards @ep, 0 once its read side is shut.
 */
unsigned int mflow_readable(struct mflow_endpoint *ep)
{
	if (READ_ONCE(ep->in->rd_shut))
		return 0;
	return mflow_peek_avail(ep->in);
}
EXPORT_SYMBOL_IF_KUNIT(mflow_readable);

/**
 * mflow_outq() - bytes @ep wrote that the peer has not read yet
 * @ep: the endpoint.
 *
 * Return: bytes in flight from @ep, 0 once the peer can no longer read.
 */
unsigned int mflow_outq(struct mflow_endpoint *ep)
{
	if (READ_ONCE(ep->out->rd_shut))
		return 0;
	return mflow_peek_avail(ep->out);
}
EXPORT_SYMBOL_IF_KUNIT(mflow_outq);

/**
 * mflow_get_info() - describe an endpoint (MFLOW_IOC_INFO)
 * @ep: the endpoint.
 * @info: filled in.
 */
void mflow_get_info(struct mflow_endpoint *ep, struct mflow_info *info)
{
	struct mflow_console *con = ep->con;
	struct mflow_endpoint *peer = &con->ep[!ep->index];
	u32 flags = 0;

	mutex_lock(&con->lock);
	/* The shut flags change under each direction's lock, not this one. */
	if (READ_ONCE(ep->in->rd_shut))
		flags |= MFLOW_INFO_RD_SHUT;
	if (READ_ONCE(ep->out->wr_shut))
		flags |= MFLOW_INFO_WR_SHUT;
	if (READ_ONCE(ep->out->rd_shut))
		flags |= MFLOW_INFO_PEER_RD_SHUT;
	if (READ_ONCE(ep->in->wr_shut))
		flags |= MFLOW_INFO_PEER_WR_SHUT;
	if (peer->attached)
		flags |= MFLOW_INFO_PEER_ATTACHED;
	if (peer->used && !peer->attached)
		flags |= MFLOW_INFO_PEER_DETACHED;
	if (READ_ONCE(ep->nosigpipe))
		flags |= MFLOW_INFO_NOSIGPIPE;
	memset(info, 0, sizeof(*info));
	info->console = con->index;
	info->endpoint = ep->index;
	info->connection = con->connection;
	info->fifo_size = con->fifo_size;
	info->flags = flags;
	mutex_unlock(&con->lock);
}
EXPORT_SYMBOL_IF_KUNIT(mflow_get_info);

/**
 * mflow_get_stats() - counters of an endpoint (MFLOW_IOC_STATS)
 * @ep: the endpoint.
 * @stats: filled in.
 */
void mflow_get_stats(struct mflow_endpoint *ep, struct mflow_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	stats->read_bytes = READ_ONCE(ep->read_bytes);
	stats->read_ops = READ_ONCE(ep->read_ops);
	stats->write_bytes = READ_ONCE(ep->write_bytes);
	stats->write_ops = READ_ONCE(ep->write_ops);
	stats->age_ns = ktime_to_ns(ktime_sub(ktime_get(),
					      READ_ONCE(ep->con->start)));
}
EXPORT_SYMBOL_IF_KUNIT(mflow_get_stats);

static void mflow_dir_init(struct mflow_dir *d)
{
	mutex_init(&d->rd_lock);
	mutex_init(&d->wr_lock);
	init_waitqueue_head(&d->rd_wait);
	init_waitqueue_head(&d->wr_wait);
	spin_lock_init(&d->lock);
	d->wr_need = PIPE_BUF;
}

/* Free the ring; the direction keeps its state (shut flags, waiters). */
static void mflow_dir_free_ring(struct mflow_dir *d)
{
	kvfree(d->buf);
	d->buf = NULL;
	WRITE_ONCE(d->size, 0);
	WRITE_ONCE(d->in, 0);
	WRITE_ONCE(d->out, 0);
}

static void mflow_dir_free(struct mflow_dir *d)
{
	struct task_struct *answerer = xchg(&d->answerer, NULL);

	if (answerer)
		put_task_struct(answerer);
	mflow_dir_free_ring(d);
	WRITE_ONCE(d->wr_shut, false);
	WRITE_ONCE(d->rd_shut, false);
	WRITE_ONCE(d->rd_gone, false);
	WRITE_ONCE(d->wr_busy, false);
	WRITE_ONCE(d->wr_need, PIPE_BUF);
	WRITE_ONCE(d->last_writer, NULL);
	WRITE_ONCE(d->reply_hint, false);
	WRITE_ONCE(d->hint_skip, 0);
	WRITE_ONCE(d->miss_streak, 0);
}

static int mflow_dir_alloc(struct mflow_dir *d, unsigned int size)
{
	d->buf = kvmalloc(size, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!d->buf)
		return -ENOMEM;
	WRITE_ONCE(d->size, size);
	return 0;
}

/* The connection is over: free the buffers, forget everything. */
static void mflow_reset(struct mflow_console *con)
{
	int i;

	lockdep_assert_held(&con->lock);
	for (i = 0; i < 2; i++) {
		struct mflow_endpoint *ep = &con->ep[i];

		mflow_dir_free(&con->dir[i]);
		ep->attached = false;
		ep->used = false;
		WRITE_ONCE(ep->nosigpipe, false);
		WRITE_ONCE(ep->no_reply_spin, false);
		WRITE_ONCE(ep->busy_poll_us, 0);
		/* sysfs reads the counters locklessly. */
		WRITE_ONCE(ep->read_bytes, 0);
		WRITE_ONCE(ep->read_ops, 0);
		WRITE_ONCE(ep->write_bytes, 0);
		WRITE_ONCE(ep->write_ops, 0);
		WRITE_ONCE(ep->reply_hits, 0);
		WRITE_ONCE(ep->reply_misses, 0);
		WRITE_ONCE(ep->reply_yields, 0);
		WRITE_ONCE(ep->nowait_again, 0);
		WRITE_ONCE(ep->direct_bytes, 0);
	}
}

/*
 * Endpoint 0 detached before endpoint 1 ever attached. Nothing will read
 * what comes towards endpoint 0, so that ring goes; the bytes endpoint 0
 * wrote stay for endpoint 1, in a ring just large enough for them (the
 * larger one stays if memory is short: a detach never fails). With no
 * bytes, the console is idle again at once. The direction locks keep out
 * in-kernel users still leaving a read or write on endpoint 0.
 */
static void mflow_keep_for_peer(struct mflow_console *con)
{
	struct mflow_dir *d = &con->dir[0], *back = &con->dir[1];
	unsigned int used, size, off, first;
	unsigned char *buf;

	lockdep_assert_held(&con->lock);
	mutex_lock(&d->rd_lock);
	mutex_lock(&d->wr_lock);
	used = mflow_peek_used(d);
	if (!used) {
		mutex_unlock(&d->wr_lock);
		mutex_unlock(&d->rd_lock);
		mflow_reset(con);
		return;
	}
	size = roundup_pow_of_two(used);
	buf = size < d->size ?
	      kvmalloc(size, GFP_KERNEL_ACCOUNT | __GFP_NOWARN) : NULL;
	if (buf) {
		off = d->out & (d->size - 1);
		first = min(used, d->size - off);
		memcpy(buf, d->buf + off, first);
		memcpy(buf + first, d->buf, used - first);
		mflow_dir_free_ring(d);
		d->buf = buf;
		WRITE_ONCE(d->size, size);
		WRITE_ONCE(d->in, used);
	}
	mutex_unlock(&d->wr_lock);
	mutex_unlock(&d->rd_lock);

	mutex_lock(&back->rd_lock);
	mutex_lock(&back->wr_lock);
	mflow_dir_free_ring(back);
	mutex_unlock(&back->wr_lock);
	mutex_unlock(&back->rd_lock);
}

/*
 * Attach and detach wake pollers of the console's "attached" and "state"
 * sysfs files, so that a supervisor learns of a peer without opening the
 * node. The files' kernfs nodes are looked up once, when the console gets
 * its device (mflow_console_set_dev()), and held until it loses it: the
 * device's own kobj.sd goes away as soon as a REMOVE unregisters it, and a
 * node found through it by a detach that raced the REMOVE could already be
 * freed. The nodes are read and notified under con->lock, which the
 * console also holds to let go of them; sysfs_notify_dirent() does not
 * sleep.
 */
static struct device *mflow_notify_get(struct mflow_console *con)
{
	lockdep_assert_held(&con->lock);
	return con->dev ? get_device(con->dev) : NULL;
}

/* @dev came from mflow_notify_get(); its driver data is the console. */
static void mflow_notify(struct device *dev)
{
	struct mflow_console *con;

	if (!dev)
		return;
	con = dev_get_drvdata(dev);
	mutex_lock(&con->lock);
	if (con->sd_attached)
		sysfs_notify_dirent(con->sd_attached);
	if (con->sd_state)
		sysfs_notify_dirent(con->sd_state);
	mutex_unlock(&con->lock);
	put_device(dev);
}

/**
 * mflow_attach() - attach the next free endpoint of a console (open)
 * @con: the console.
 * @flags: %MFLOW_ATTACH_NO_READ and/or %MFLOW_ATTACH_NO_WRITE: the read or
 *	write side starts shut (O_WRONLY, O_RDONLY).
 *
 * The first attach of an idle console starts a connection and allocates
 * its buffers. Each endpoint attaches once per connection.
 *
 * Return: the endpoint, ERR_PTR(-EBUSY) when both were used in this
 * connection, ERR_PTR(-ENXIO) once the console was removed, or
 * ERR_PTR(-ENOMEM).
 */
struct mflow_endpoint *mflow_attach(struct mflow_console *con,
				    unsigned int flags)
{
	struct mflow_endpoint *ep;
	struct device *dev;
	int err;

	mutex_lock(&con->lock);
	if (con->removed) {
		ep = ERR_PTR(-ENXIO);
		goto out_unlock;
	}
	if (con->ep[1].used) {
		ep = ERR_PTR(-EBUSY);
		goto out_unlock;
	}
	ep = &con->ep[con->ep[0].used];
	if (!ep->index) {
		err = mflow_dir_alloc(&con->dir[0], con->fifo_size);
		if (!err)
			err = mflow_dir_alloc(&con->dir[1], con->fifo_size);
		if (err) {
			mflow_dir_free(&con->dir[0]);
			mflow_dir_free(&con->dir[1]);
			ep = ERR_PTR(err);
			goto out_unlock;
		}
		/* Read locklessly by sysfs and mflow_get_stats(). */
		WRITE_ONCE(con->connection, con->connection + 1);
		WRITE_ONCE(con->start, ktime_get());
	}
	ep->used = true;
	ep->attached = true;
	trace_mflow_attach(ep);
	mflow_shut(ep, flags & MFLOW_ATTACH_NO_READ,
		   flags & MFLOW_ATTACH_NO_WRITE, false);
out_unlock:
	dev = IS_ERR(ep) ? NULL : mflow_notify_get(con);
	mutex_unlock(&con->lock);
	mflow_notify(dev);
	return ep;
}
EXPORT_SYMBOL_IF_KUNIT(mflow_attach);

/**
 * mflow_detach() - detach an endpoint (last close, Mirage's disconnect)
 * @ep: the endpoint; invalid once this returns.
 *
 * Never fails and never waits for the peer: the local write side is
 * shut (the peer drains, then reads EOF), the local read side is gone (the
 * peer's writes fail with EPIPE, unread inbound bytes are dropped) and every
 * task waiting on either endpoint wakes. When both endpoints have detached,
 * the console resets and frees its buffers. When endpoint 0 leaves before
 * endpoint 1 ever came, only the bytes it wrote for endpoint 1 are kept,
 * and with none the console is idle again at once.
 */
void mflow_detach(struct mflow_endpoint *ep)
{
	struct mflow_console *con = ep->con;
	struct device *dev;

	mutex_lock(&con->lock);
	trace_mflow_detach(ep);
	mflow_shut(ep, true, true, true);
	ep->attached = false;
	if (!con->ep[1].used)
		mflow_keep_for_peer(con);
	else if (!con->ep[0].attached && !con->ep[1].attached)
		mflow_reset(con);
	dev = mflow_notify_get(con);
	mutex_unlock(&con->lock);
	mflow_notify(dev);
}
EXPORT_SYMBOL_IF_KUNIT(mflow_detach);

/**
 * mflow_console_busy() - whether a connection is live on @con
 * @con: the console.
 *
 * A connection lasts from the first attach until both endpoints have
 * detached; it holds the fifo memory all that time.
 *
 * Return: true while a connection is live.
 */
bool mflow_console_busy(struct mflow_console *con)
{
	bool busy;

	mutex_lock(&con->lock);
	busy = con->ep[0].used;
	mutex_unlock(&con->lock);
	return busy;
}
EXPORT_SYMBOL_IF_KUNIT(mflow_console_busy);

/**
 * mflow_console_create() - make an idle console
 * @index: its number, the N of /dev/mflowN.
 * @fifo_size: bytes per direction, a power of two within
 *	[%MFLOW_FIFO_MIN, %MFLOW_FIFO_MAX]. Allocated on first attach.
 *
 * Return: the console, or an ERR_PTR().
 */
struct mflow_console *mflow_console_create(unsigned int index,
					   unsigned int fifo_size)
{
	struct mflow_console *con;
	int i;

	if (fifo_size < MFLOW_FIFO_MIN || fifo_size > MFLOW_FIFO_MAX ||
	    !is_power_of_2(fifo_size))
		return ERR_PTR(-EINVAL);
	con = kzalloc(sizeof(*con), GFP_KERNEL_ACCOUNT);
	if (!con)
		return ERR_PTR(-ENOMEM);
	con->index = index;
	con->fifo_size = fifo_size;
	kref_init(&con->ref);
	mutex_init(&con->lock);
	init_waitqueue_head(&con->close_wait);
	for (i = 0; i < 2; i++) {
		mflow_dir_init(&con->dir[i]);
		con->ep[i].con = con;
		con->ep[i].index = i;
		con->ep[i].out = &con->dir[i];
		con->ep[i].in = &con->dir[!i];
	}
	return con;
}
EXPORT_SYMBOL_IF_KUNIT(mflow_console_create);

/**
 * mflow_console_destroy() - free a console
 * @con: the console, or NULL. Its endpoints must all have detached.
 */
void mflow_console_destroy(struct mflow_console *con)
{
	int i;

	if (!con)
		return;
	WARN_ON(con->ep[0].attached || con->ep[1].attached);
	mutex_lock(&con->lock);
	mflow_reset(con);
	mutex_unlock(&con->lock);
	for (i = 0; i < 2; i++) {
		mutex_destroy(&con->dir[i].rd_lock);
		mutex_destroy(&con->dir[i].wr_lock);
	}
	mutex_destroy(&con->lock);
	kfree(con);
}
EXPORT_SYMBOL_IF_KUNIT(mflow_console_destroy);

static void mflow_console_release(struct kref *ref)
{
	mflow_console_destroy(container_of(ref, struct mflow_console, ref));
}

/**
 * mflow_console_get() - take a reference on a console
 * @con: the console; the caller must already know it is alive (it holds a
 *	reference, or the lock of a registry that holds one).
 */
void mflow_console_get(struct mflow_console *con)
{
	kref_get(&con->ref);
}
EXPORT_SYMBOL_IF_KUNIT(mflow_console_get);

/**
 * mflow_console_put() - drop a reference on a console
 * @con: the console; freed with the last reference (mflow_console_create()
 *	gives the first one).
 */
void mflow_console_put(struct mflow_console *con)
{
	kref_put(&con->ref, mflow_console_release);
}
EXPORT_SYMBOL_IF_KUNIT(mflow_console_put);

/**
 * mflow_console_set_dev() - give a console the device to notify
 * @con: the console.
 * @dev: its sysfs device, whose driver data is @con, or NULL to stop
 *	notifying. Attach and detach wake pollers of its "attached" and
 *	"state" attributes. The kernfs nodes of the device given before, if
 *	any, are let go.
 */
void mflow_console_set_dev(struct mflow_console *con, struct device *dev)
{
	struct kernfs_node *attached = NULL, *state = NULL;

	if (dev) {
		attached = sysfs_get_dirent(dev->kobj.sd, "attached");
		state = sysfs_get_dirent(dev->kobj.sd, "state");
	}
	mutex_lock(&con->lock);
	con->dev = dev;
	swap(con->sd_attached, attached);
	swap(con->sd_state, state);
	mutex_unlock(&con->lock);
	sysfs_put(attached);
	sysfs_put(state);
}
EXPORT_SYMBOL_IF_KUNIT(mflow_console_set_dev);

/**
 * mflow_console_retire() - mark a console removed unless it is in use
 * @con: the console.
 *
 * All or nothing: while a connection is live (an endpoint attached, or
 * bytes held for a peer that has not attached yet) nothing changes.
 * Otherwise the console drops what is left of its last connection (an
 * endpoint 0 that left without writing), every later mflow_attach() fails
 * with -ENXIO and the console stops notifying its device and lets go of
 * the device's sysfs nodes, so the device can be unregistered at once.
 *
 * Return: the device given to mflow_console_set_dev() (NULL if none) for
 * the caller to remove, or ERR_PTR(-EBUSY).
 */
struct device *mflow_console_retire(struct mflow_console *con)
{
	struct kernfs_node *attached = NULL, *state = NULL;
	struct device *dev;

	mutex_lock(&con->lock);
	if (con->ep[0].attached || con->ep[1].attached ||
	    (con->ep[0].used && mflow_peek_used(&con->dir[0]))) {
		dev = ERR_PTR(-EBUSY);
	} else {
		con->removed = true;
		mflow_reset(con);
		dev = con->dev;
		con->dev = NULL;
		swap(con->sd_attached, attached);
		swap(con->sd_state, state);
	}
	mutex_unlock(&con->lock);
	sysfs_put(attached);
	sysfs_put(state);
	return dev;
}
EXPORT_SYMBOL_IF_KUNIT(mflow_console_retire);

/**
 * mflow_console_query() - describe a console (MFLOW_CTL_QUERY)
 * @con: the console.
 * @q: filled in: index, fifo size, name, connection, state and the
 *	attached and used endpoints, read at one instant.
 */
void mflow_console_query(struct mflow_console *con,
			 struct mflow_ctl_query *q)
{
	int i;

	memset(q, 0, sizeof(*q));
	q->index = con->index;
	q->fifo_size = con->fifo_size;
	strscpy(q->name, con->name, sizeof(q->name));
	mutex_lock(&con->lock);
	q->connection = con->connection;
	q->state = con->ep[0].used ? MFLOW_STATE_CONNECTED : MFLOW_STATE_IDLE;
	for (i = 0; i < 2; i++) {
		q->attached |= con->ep[i].attached << i;
		q->used |= con->ep[i].used << i;
	}
	mutex_unlock(&con->lock);
}
EXPORT_SYMBOL_IF_KUNIT(mflow_console_query);
