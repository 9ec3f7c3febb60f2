/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mflow flow core: the console state machine and data path, apart from the
 * character-device glue so that KUnit can drive it without a file.
 */
#ifndef _MFLOW_CORE_H
#define _MFLOW_CORE_H

#include <linux/bits.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uio.h>
#include <linux/wait.h>
#include <uapi/linux/mflow.h>

#define MFLOW_FIFO_MIN		4096U
#define MFLOW_FIFO_MAX		(64U << 20)
#define MFLOW_FIFO_DEFAULT	(256U << 10)

/* mflow_close() without a time limit. */
#define MFLOW_CLOSE_FOREVER	(-1LL)

/* Flags for mflow_attach(): the read or write side starts shut. */
#define MFLOW_ATTACH_NO_READ	BIT(0)
#define MFLOW_ATTACH_NO_WRITE	BIT(1)

/**
 * struct mflow_dir - one direction of a console
 * @buf: the ring of bytes in flight, @size bytes; NULL while the console
 *	is idle, and after the direction's reader left a connection whose
 *	writer may still come (nothing can be read from it then).
 * @size: bytes in @buf, a power of two, or 0 without a buffer.
 * @in: bytes published so far (free-running); written by the producer
 *	(the writer holding @wr_lock) with a release store.
 * @out: bytes consumed so far (free-running); written by the consumer
 *	(the reader holding @rd_lock) with a release store. One producer
 *	and one consumer need no common lock.
 * @rd_lock: serializes readers of this direction while they copy; never
 *	held across the sleep for data.
 * @wr_lock: serializes writers of this direction while they copy; never
 *	held across the sleep for room. With @wr_busy it makes every write
 *	call contiguous in the stream.
 * @rd_wait: readers waiting for data or EOF; pollers for EPOLLIN.
 * @wr_wait: the busy writer waiting for room, writers waiting for their
 *	turn; pollers for EPOLLOUT.
 * @lock: orders the shut flags against the writer publishing bytes, so
 *	that no byte enters the ring once @wr_shut or @rd_shut is set.
 * @wr_need: room the sleeping writer waits for; readers wake @wr_wait once
 *	the free space reaches it. PIPE_BUF when no writer sleeps.
 * @wr_busy: a blocking write is in progress and sleeps for room between
 *	its pieces: other writes wait for it (non-blocking ones fail with
 *	EAGAIN) and poll reports no EPOLLOUT. Set and cleared under @wr_lock
 *	by that writer, read locklessly by poll.
 * @wr_shut: the writing endpoint shut its write side or detached; the
 *	reader gets EOF once the ring is drained.
 * @rd_shut: the reading endpoint shut its read side or detached; writes
 *	fail with EPIPE and the bytes in the ring are dropped.
 * @rd_gone: the reading endpoint detached (not only shut its read side):
 *	the writer's poll reports EPOLLERR while its write side is open.
 *
 * @rd_sleeper: the task blocked in mflow_read() for this direction's
 *	bytes, or NULL; RCU-protected, for the reply wakeup.
 * @last_writer: the task that last wrote into this direction; compared
 *	with @rd_sleeper of the opposite direction, never dereferenced.
 * @answerer: the task a reader spins for before it sleeps (a reference is
 *	held), or NULL: named by a reply wakeup, kept while its answers come
 *	within the spin; exchanged atomically.
 * @reply_hint: a reply wakeup is on its way to the sleeping reader: its
 *	wait ends, and it spins for the answer.
 * @hint_skip: reply wakeups to skip, after reply spins that saw no reply.
 * @miss_streak: reply spins in a row that saw no reply, up to 6.
 * @direct: the pinned pages a blocking writer offers after the ring's
 *	bytes (single copy), or NULL; set and cleared by that writer, used
 *	by the reader, both under @rd_lock.
 * @direct_left: bytes of @direct the reader has not taken yet, 0 without
 *	one; written under @rd_lock, read locklessly (poll, FIONREAD, OUTQ,
 *	the writer's wait).
 * @wr_shut, @rd_shut and @rd_gone only go from false to true within a
 * connection, under @lock, and are read locklessly.
 */
struct mflow_dir {
	unsigned char *buf;
	unsigned int size;
	unsigned int in;		/* producer: under wr_lock */
	unsigned int out;		/* consumer: under rd_lock */
	struct mutex rd_lock;		/* readers; consumer of the ring */
	struct mutex wr_lock;		/* writers; producer of the ring */
	wait_queue_head_t rd_wait;
	wait_queue_head_t wr_wait;
	spinlock_t lock;		/* shut flags vs. publishing */
	unsigned int wr_need;
	bool wr_busy;
	bool wr_shut;
	bool rd_shut;
	bool rd_gone;
	struct task_struct __rcu *rd_sleeper;
	const void *last_writer;
	struct task_struct *answerer;
	bool reply_hint;
	unsigned int hint_skip;
	unsigned int miss_streak;
	struct mflow_direct *direct;
	unsigned int direct_left;
};

/**
 * struct mflow_endpoint - one side of a console
 * @con: the console this endpoint belongs to.
 * @index: 0 or 1.
 * @in: direction this endpoint reads from.
 * @out: direction this endpoint writes to.
 * @attached: a file (or in-kernel user) holds this endpoint now.
 * @used: the endpoint attached during this connection; it may not again.
 * @nosigpipe: EPIPE without SIGPIPE (%MFLOW_OPT_NOSIGPIPE).
 * @busy_poll_us: microseconds a blocking read spins before it sleeps
 *	(%MFLOW_IOC_SET_BUSY_POLL), 0 for none.
 * @read_bytes: bytes read, updated under @in->rd_lock.
 * @read_ops: reads that returned data, under @in->rd_lock.
 * @write_bytes: bytes written, under @out->wr_lock.
 * @write_ops: writes that moved data, under @out->wr_lock.
 * @no_reply_spin: never spin for a reply (%MFLOW_OPT_NO_REPLY_SPIN).
 * @reply_hits: reply spins (see mflow_reply_spin()) that saw the reply.
 * @reply_misses: reply spins that gave up waiting for it.
 * @reply_yields: reply spins that gave way: the answering task left its
 *	CPU, another task wanted this one, or a signal came.
 * @nowait_again: reads and writes that failed with -EAGAIN (non-blocking
 *	callers and IOCB_NOWAIT attempts), for the retries they cost.
 * @direct_bytes: bytes written that the peer copied straight from this
 *	endpoint's pinned pages (single copy), under @out->wr_lock.
 *
 * The counters, @nosigpipe, @no_reply_spin, @busy_poll_us and the
 * console's @connection and @start are read without a lock (stats, sysfs),
 * so they are written with WRITE_ONCE() and read with READ_ONCE().
 */
struct mflow_endpoint {
	struct mflow_console *con;
	unsigned int index;
	struct mflow_dir *in;
	struct mflow_dir *out;
	bool attached;
	bool used;
	bool nosigpipe;
	bool no_reply_spin;
	u32 busy_poll_us;
	u64 read_bytes;
	u64 read_ops;
	u64 write_bytes;
	u64 write_ops;
	u64 reply_hits;
	u64 reply_misses;
	u64 reply_yields;
	u64 nowait_again;
	u64 direct_bytes;
};

/**
 * struct mflow_console - one console, /dev/mflowN
 * @index: N.
 * @fifo_size: bytes per direction, a power of two.
 * @lock: serializes attach, detach and removal; protects the endpoints'
 *	@attached and @used, @connection, @start, @dev, @removed and the fifo
 *	memory. The shut flags of @dir are not under it: each direction's own
 *	lock orders them.
 * @close_wait: MFLOW_IOC_CLOSE waiters; woken on every write shutdown.
 * @connection: number of the current (or last) connection, from 1.
 * @start: when the current connection began.
 * @ep: the two endpoints.
 * @dir: dir[i] carries the bytes written by ep[i] to ep[!i].
 * @ref: references: the registry's (until the console is removed), and one
 *	for each open file and each open() under way. The last one frees it.
 * @dev: the sysfs device told of attach and detach, or NULL; set and
 *	cleared under @lock.
 * @sd_attached: the kernfs node of @dev's "attached" attribute, held while
 *	@dev is set (under @lock), so that a detach racing a removal never
 *	notifies a freed node.
 * @sd_state: the same for its "state" attribute.
 * @removed: the control device removed the console; attaching fails. Set
 *	under @lock, never cleared.
 * @name: the console's name, empty if it has none; fixed at creation.
 */
struct mflow_console {
	unsigned int index;
	unsigned int fifo_size;
	struct mutex lock;		/* attach, detach, removal */
	wait_queue_head_t close_wait;
	u64 connection;
	ktime_t start;
	struct kref ref;
	struct device *dev;
	struct kernfs_node *sd_attached;
	struct kernfs_node *sd_state;
	bool removed;
	char name[MFLOW_NAME_MAX];
	struct mflow_endpoint ep[2];
	struct mflow_dir dir[2];
};

struct mflow_console *mflow_console_create(unsigned int index,
					   unsigned int fifo_size);
void mflow_console_destroy(struct mflow_console *con);
bool mflow_console_busy(struct mflow_console *con);
void mflow_console_get(struct mflow_console *con);
void mflow_console_put(struct mflow_console *con);
void mflow_console_set_dev(struct mflow_console *con, struct device *dev);
struct device *mflow_console_retire(struct mflow_console *con);
void mflow_console_query(struct mflow_console *con,
			 struct mflow_ctl_query *q);

struct mflow_endpoint *mflow_attach(struct mflow_console *con,
				    unsigned int flags);
void mflow_detach(struct mflow_endpoint *ep);

/* mflow_read() and mflow_write() flags */
#define MFLOW_IO_NONBLOCK	BIT(0)	/* -EAGAIN instead of sleeping */
#define MFLOW_IO_NOWAIT		BIT(1)	/* nor for a lock; writes whole or not */

ssize_t mflow_read(struct mflow_endpoint *ep, struct iov_iter *to,
		   unsigned int flags);
ssize_t mflow_write(struct mflow_endpoint *ep, struct iov_iter *from,
		    unsigned int flags);
int mflow_shutdown(struct mflow_endpoint *ep, unsigned int how);
int mflow_close(struct mflow_endpoint *ep, s64 timeout_ns, bool nonblock);
__poll_t mflow_poll(struct mflow_endpoint *ep, struct file *file,
		    poll_table *wait);

unsigned int mflow_readable(struct mflow_endpoint *ep);
unsigned int mflow_dir_peek(struct mflow_dir *d, void *buf, unsigned int len);
unsigned int mflow_outq(struct mflow_endpoint *ep);
void mflow_get_info(struct mflow_endpoint *ep, struct mflow_info *info);
void mflow_get_stats(struct mflow_endpoint *ep, struct mflow_stats *stats);

#endif /* _MFLOW_CORE_H */
