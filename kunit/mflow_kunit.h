/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared fixture and helpers of the mflow KUnit suites (mflow_fifo,
 * mflow_flow, mflow_close).
 *
 * Every case gets a console through mflow_fixture_create(), whose deferred
 * action wakes and reaps helper kthreads, detaches what is still attached
 * and destroys the console, also when a case aborts half way. Helper
 * kthreads never use KUNIT_* macros: they store their result and the test
 * thread checks it after mflow_kthread_join(), which waits at most
 * MFLOW_KUNIT_WAIT so that a core bug fails a case instead of hanging it.
 */
#ifndef _MFLOW_KUNIT_H
#define _MFLOW_KUNIT_H

#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/list.h>
#include <linux/sched.h>
#include <linux/types.h>
#include <linux/wait.h>

#include "../module/mflow_core.h"

/* Longest wait for anything that should happen promptly. */
#define MFLOW_KUNIT_WAIT	(10 * HZ)

/* Console index used when a case does not care. */
#define MFLOW_KUNIT_INDEX	0U

/* Every poll bit the contract defines (R11). */
#define MFLOW_POLL_BITS	(EPOLLIN | EPOLLRDNORM | EPOLLOUT | EPOLLWRNORM | \
			 EPOLLRDHUP | EPOLLHUP | EPOLLERR)

/**
 * struct mflow_fixture - one console under test and what uses it
 * @test: the running case.
 * @con: the console.
 * @ep: the attached endpoints by index, NULL when not attached.
 * @threads: every &struct mflow_kthread made for this case.
 */
struct mflow_fixture {
	struct kunit *test;
	struct mflow_console *con;
	struct mflow_endpoint *ep[2];
	struct list_head threads;
};

/**
 * struct mflow_kthread - a kthread acting on one endpoint
 * @node: entry in &mflow_fixture.threads.
 * @ep: the endpoint it acts on.
 * @fn: what it does; its return value lands in @ret.
 * @buf: data to write or room to read into, owned by the thread.
 * @len: bytes in @buf.
 * @timeout_ns: for mflow_close(); %MFLOW_CLOSE_FOREVER by default.
 * @nonblock: pass nonblock to the call.
 * @signals: accept SIGUSR1, so that mflow_kthread_signal() interrupts it.
 * @id: free for @fn (the writer number of record writers).
 * @nrec: free for @fn (records to write).
 * @ret: result of @fn, valid once @done completed.
 * @done: completed when @fn has returned.
 * @reaped: @done was consumed by mflow_kthread_join().
 * @task: the thread, with a reference held; NULL until started.
 *
 * The fixture frees it, or leaks it on purpose if the thread never ends.
 */
struct mflow_kthread {
	struct list_head node;
	struct mflow_endpoint *ep;
	long (*fn)(struct mflow_kthread *t);
	u8 *buf;
	size_t len;
	s64 timeout_ns;
	bool nonblock;
	bool signals;
	unsigned int id;
	unsigned int nrec;
	long ret;
	struct completion done;
	bool reaped;
	struct task_struct *task;
};

struct mflow_fixture *mflow_fixture_create(struct kunit *test,
					   unsigned int index,
					   unsigned int fifo_size);
struct mflow_fixture *mflow_fixture_pair(struct kunit *test,
					 unsigned int fifo_size);
struct mflow_endpoint *mflow_fixture_attach(struct mflow_fixture *fix,
					    unsigned int flags);
void mflow_fixture_detach(struct mflow_fixture *fix,
			  struct mflow_endpoint *ep);

ssize_t mflow_kread(struct mflow_endpoint *ep, void *buf, size_t len,
		    bool nonblock);
ssize_t mflow_kwrite(struct mflow_endpoint *ep, const void *buf, size_t len,
		     bool nonblock);
ssize_t mflow_kread_avail(struct mflow_endpoint *ep, void *buf, size_t len);
ssize_t mflow_kread_wait(struct mflow_endpoint *ep, void *buf, size_t len);

void mflow_pattern_fill(u8 *buf, size_t len, size_t pos);
size_t mflow_pattern_check(const u8 *buf, size_t len, size_t pos);
u8 *mflow_pattern_alloc(struct kunit *test, size_t len);

u32 mflow_info_flags(struct mflow_endpoint *ep);
unsigned int mflow_poll_mask(struct mflow_endpoint *ep);

struct mflow_kthread *mflow_kthread_new(struct mflow_fixture *fix,
					struct mflow_endpoint *ep,
					long (*fn)(struct mflow_kthread *t),
					size_t len);
void mflow_kthread_run(struct mflow_fixture *fix, struct mflow_kthread *t);
long mflow_kthread_join(struct mflow_fixture *fix, struct mflow_kthread *t);
bool mflow_kthread_asleep(struct mflow_kthread *t,
			  struct wait_queue_head *wq);
void mflow_kthread_signal(struct mflow_kthread *t);

long mflow_kthread_read(struct mflow_kthread *t);
long mflow_kthread_write(struct mflow_kthread *t);
long mflow_kthread_close(struct mflow_kthread *t);

struct mflow_kthread *mflow_kthread_start_read(struct mflow_fixture *fix,
					       struct mflow_endpoint *ep,
					       size_t len, bool signals);
struct mflow_kthread *mflow_kthread_start_write(struct mflow_fixture *fix,
						struct mflow_endpoint *ep,
						const void *src, size_t len,
						bool signals);
struct mflow_kthread *mflow_kthread_start_close(struct mflow_fixture *fix,
						struct mflow_endpoint *ep,
						s64 timeout_ns);

ssize_t mflow_kread_bounded(struct mflow_fixture *fix,
			    struct mflow_endpoint *ep, void *buf, size_t len);
ssize_t mflow_kwrite_bounded(struct mflow_fixture *fix,
			     struct mflow_endpoint *ep, const void *src,
			     size_t len);
long mflow_kclose_bounded(struct mflow_fixture *fix,
			  struct mflow_endpoint *ep, s64 timeout_ns,
			  bool nonblock);

#endif /* _MFLOW_KUNIT_H */
