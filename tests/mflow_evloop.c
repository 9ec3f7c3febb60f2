// SPDX-License-Identifier: GPL-2.0
/*
 * mflow under the callers real programs are: level-triggered poll(2) and
 * select(2) loops (Python's selectors and asyncio, libuv, GLib and socat
 * work the same way), non-blocking attempts the kernel makes for the
 * caller (RWF_NOWAIT, io_uring), and faulting non-blocking writes.
 *
 * A level-triggered loop that waits for the peer's answer, EOF or the end
 * of a close handshake must sleep until one of them happens: each test
 * counts the times its loop woke over a quiet window, then checks that the
 * real event wakes it, with the data it carries.
 */
#include <liburing.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/uio.h>

#include "mflow_test.h"

/* The quiet window a waiting loop is watched over. */
#define QUIET_MS	300
/* More wakeups than this in a window is a spinning loop: stop counting. */
#define SPIN_CAP	1000

MFLOW_PAIR_FIXTURE(mflow_evloop, 0)

/*
 * A poll(2) loop waiting for @events on @fd for @ms: how many times poll
 * returned with something, as a loop would count its turns (it would then
 * try the read, get EAGAIN, and poll again). The last revents go to @last.
 */
static int poll_turns(int fd, short events, unsigned int ms, short *last)
{
	uint64_t end = now_ns() + ms * MSEC;
	int turns = 0;

	while (turns < SPIN_CAP) {
		struct pollfd p = { .fd = fd, .events = events };
		uint64_t now = now_ns();
		int r;

		if (now >= end)
			break;
		r = poll(&p, 1, (end - now) / MSEC + 1);
		if (r > 0) {
			turns++;
			*last = p.revents;
		}
	}
	return turns;
}

/* The same loop with select(2), waiting for @fd to be readable. */
static int select_turns(int fd, unsigned int ms)
{
	uint64_t end = now_ns() + ms * MSEC;
	int turns = 0;

	while (turns < SPIN_CAP) {
		uint64_t now = now_ns(), left;
		struct timeval tv;
		fd_set rd;

		if (now >= end)
			break;
		left = end - now;
		tv.tv_sec = left / 1000000000ULL;
		tv.tv_usec = left % 1000000000ULL / 1000 + 1;
		FD_ZERO(&rd);
		FD_SET(fd, &rd);
		if (select(fd + 1, &rd, NULL, NULL, &tv) > 0)
			turns++;
	}
	return turns;
}

/* One poll(2) of @fd for @events, not waiting: its revents, or -1. */
static short poll_now(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, 0) == 1 ? p.revents : poll(&p, 1, 0) == 0 ? 0 : -1;
}

/* Wait up to 10 s for @fd to be readable: a loop's next turn. */
static bool poll_in(int fd, short *revents)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, 10000) != 1)
		return false;
	*revents = p.revents;
	return true;
}

static bool select_in(int fd)
{
	struct timeval tv = { .tv_sec = 10 };
	fd_set rd;

	FD_ZERO(&rd);
	FD_SET(fd, &rd);
	return select(fd + 1, &rd, NULL, NULL, &tv) == 1 && FD_ISSET(fd, &rd);
}

/*
 * Read @fd up to EOF (a non-blocking fd after a wakeup, or a blocking
 * one): it must have held exactly @want, the @what of the exchange.
 */
static void read_to_eof(struct __test_metadata *_metadata, int fd,
			const char *want, const char *what)
{
	char buf[64];
	size_t got = 0;
	ssize_t n;

	while ((n = read(fd, buf + got, sizeof(buf) - got)) > 0)
		got += n;
	ASSERT_EQ(0, n) TH_LOG("reading the %s: %s", what, strerror(errno));
	ASSERT_EQ(strlen(want), got);
	ASSERT_EQ(0, memcmp(buf, want, got));
}

/*
 * The peer's side of a request/response: read the whole request up to
 * EOF (it must be @req), then answer with @ans and shut its write side.
 */
static void serve(struct __test_metadata *_metadata, int fd, const char *req,
		  const char *ans)
{
	read_to_eof(_metadata, fd, req, "request");
	ASSERT_EQ((ssize_t)strlen(ans), write(fd, ans, strlen(ans)));
	ASSERT_EQ(0, shut(fd, MFLOW_SHUT_WR));
}

/*
 * A client writes its request, shuts its write side and waits in a
 * poll(POLLIN) loop for the answer. Its own shutdown raises nothing the
 * loop did not ask for, so it sleeps through the quiet window (as on a
 * socketpair), then wakes for the answer and its EOF.
 */
TEST_F(mflow_evloop, R11_R8_poll_loop_sleeps_after_half_close)
{
	short last = 0;
	int turns;

	ASSERT_EQ(0, set_nonblock(self->fd[0], true));
	ASSERT_EQ(7, write(self->fd[0], "request", 7));
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	turns = poll_turns(self->fd[0], POLLIN, QUIET_MS, &last);
	EXPECT_EQ(0, turns) TH_LOG("poll woke %d times in %d ms, revents %#x",
				   turns, QUIET_MS, last);

	serve(_metadata, self->fd[1], "request", "answer");
	ASSERT_TRUE(poll_in(self->fd[0], &last));
	EXPECT_TRUE(HAS(last, POLLIN));
	EXPECT_FALSE(HAS(last, POLLERR));
	read_to_eof(_metadata, self->fd[0], "answer", "answer");
}

/* The same client with a select(2) loop. */
TEST_F(mflow_evloop, R11_R8_select_loop_sleeps_after_half_close)
{
	int turns;

	ASSERT_EQ(0, set_nonblock(self->fd[0], true));
	ASSERT_EQ(7, write(self->fd[0], "request", 7));
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	turns = select_turns(self->fd[0], QUIET_MS);
	EXPECT_EQ(0, turns) TH_LOG("select woke %d times in %d ms", turns,
				   QUIET_MS);

	serve(_metadata, self->fd[1], "request", "answer");
	ASSERT_TRUE(select_in(self->fd[0]));
	read_to_eof(_metadata, self->fd[0], "answer", "answer");
}

/*
 * An event loop's close handshake: the non-blocking MFLOW_IOC_CLOSE says
 * EAGAIN, and the loop waits in poll(POLLIN) for EPOLLHUP. It sleeps until
 * the peer closes, wakes once with POLLHUP (and POLLIN: EOF), and the
 * ioctl then returns 0. Bytes the peer sent before are still read first.
 */
TEST_F(mflow_evloop, R9_R11_poll_loop_sleeps_in_close_handshake)
{
	short last = 0;
	int turns;

	ASSERT_EQ(0, set_nonblock(self->fd[0], true));
	EXPECT_EQ(-EAGAIN, close_wait(self->fd[0]));
	turns = poll_turns(self->fd[0], POLLIN, QUIET_MS, &last);
	EXPECT_EQ(0, turns) TH_LOG("poll woke %d times in %d ms, revents %#x",
				   turns, QUIET_MS, last);

	ASSERT_EQ(3, write(self->fd[1], "bye", 3));
	EXPECT_EQ(0, close_wait(self->fd[1]));
	ASSERT_TRUE(poll_in(self->fd[0], &last));
	EXPECT_EQ(POLLIN | POLLHUP, last & (POLLIN | POLLHUP | POLLERR));
	EXPECT_EQ(0, close_wait(self->fd[0]));
	read_to_eof(_metadata, self->fd[0], "bye", "answer");
}

/* The same handshake with a select(2) loop. */
TEST_F(mflow_evloop, R9_R11_select_loop_sleeps_in_close_handshake)
{
	int turns;

	ASSERT_EQ(0, set_nonblock(self->fd[0], true));
	EXPECT_EQ(-EAGAIN, close_wait(self->fd[0]));
	turns = select_turns(self->fd[0], QUIET_MS);
	EXPECT_EQ(0, turns) TH_LOG("select woke %d times in %d ms", turns,
				   QUIET_MS);

	EXPECT_EQ(0, close_wait(self->fd[1]));
	ASSERT_TRUE(select_in(self->fd[0]));
	EXPECT_EQ(0, close_wait(self->fd[0]));
	read_to_eof(_metadata, self->fd[0], "", "answer");
}

/*
 * The peer shutting only its read side raises no POLLERR: a loop waiting
 * to read sleeps; EPOLLOUT stays (a write fails at once, with EPIPE).
 */
TEST_F(mflow_evloop, R11_R7_peer_read_shutdown_raises_no_error)
{
	short last = 0;
	int turns;

	ASSERT_EQ(0, set_nonblock(self->fd[0], true));
	ASSERT_EQ(0, shut(self->fd[1], MFLOW_SHUT_RD));
	turns = poll_turns(self->fd[0], POLLIN, QUIET_MS, &last);
	EXPECT_EQ(0, turns) TH_LOG("poll woke %d times, revents %#x", turns,
				   last);
	last = poll_now(self->fd[0], POLLOUT);
	EXPECT_EQ(POLLOUT, last & (POLLOUT | POLLERR | POLLHUP));
	EXPECT_EQ(-1, write(self->fd[0], "x", 1));
	EXPECT_EQ(EPIPE, errno);
}

/*
 * POLLERR is the peer gone while this side may still write (a pipe with
 * no reader left); not once this side has shut its write side itself.
 */
TEST_F(mflow_evloop, R11_R10_error_only_while_write_side_open)
{
	short last = 0;

	close_fd(&self->fd[1]);
	last = poll_now(self->fd[0], POLLIN | POLLRDHUP);
	EXPECT_EQ(POLLIN | POLLRDHUP | POLLERR | POLLHUP,
		  last & (POLLIN | POLLRDHUP | POLLERR | POLLHUP));
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	last = poll_now(self->fd[0], POLLIN | POLLRDHUP);
	EXPECT_EQ(POLLIN | POLLRDHUP | POLLHUP,
		  last & (POLLIN | POLLRDHUP | POLLERR | POLLHUP));
}

/*
 * RWF_NOWAIT follows the O_NONBLOCK rule: right after POLLOUT (room for
 * PIPE_BUF), a write larger than the fifo moves what fits instead of
 * failing with EAGAIN for ever; one of at most PIPE_BUF bytes that does
 * not fit moves nothing. The stream stays in order.
 */
TEST_F(mflow_evloop, R6_R11_rwf_nowait_large_write_moves_what_fits)
{
	const unsigned int room = 2 * MFLOW_PIPE_BUF;
	size_t big = self->fifo + 1;
	uint8_t *src = pat_alloc(self->fifo, big);
	struct iovec iov = { .iov_base = src, .iov_len = big };
	short last = 0;
	ssize_t n;

	ASSERT_NE(NULL, src);
	ASSERT_EQ(self->fifo, fill_fifo(self->fd[0], 0));
	ASSERT_EQ(0, drain_pat(self->fd[1], 0, room));
	last = poll_now(self->fd[0], POLLOUT);
	EXPECT_TRUE(HAS(last, POLLOUT));
	n = pwritev2(self->fd[0], &iov, 1, -1, RWF_NOWAIT);
	EXPECT_EQ((ssize_t)room, n)
		TH_LOG("pwritev2(RWF_NOWAIT) of %zu bytes: %zd (%s)", big, n,
		       n < 0 ? strerror(errno) : "short");
	iov.iov_len = MFLOW_PIPE_BUF;
	EXPECT_EQ(-1, pwritev2(self->fd[0], &iov, 1, -1, RWF_NOWAIT));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ((long)self->fifo, fionread(self->fd[1]));
	EXPECT_EQ(0, drain_pat(self->fd[1], room, self->fifo));
	free(src);
}

/*
 * A non-blocking write of at most PIPE_BUF bytes whose buffer faults
 * halfway is all or EFAULT: nothing of it is published. A blocking one
 * returns the bytes it moved before the fault, and the peer reads exactly
 * those.
 */
TEST_F(mflow_evloop, R6_R7_faulting_write_publishes_all_or_nothing)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *buf, got[200];

	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, munmap(map + page, page));
	buf = map + page - 100;
	pat_fill(buf, 0, 100);

	ASSERT_EQ(0, set_nonblock(self->fd[0], true));
	EXPECT_EQ(-1, write(self->fd[0], buf, 200));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, fionread(self->fd[1]));
	EXPECT_EQ(0, outq(self->fd[0]));

	ASSERT_EQ(0, set_nonblock(self->fd[0], false));
	EXPECT_EQ(100, write(self->fd[0], buf, 200));
	ASSERT_EQ(0, set_nonblock(self->fd[1], true));
	EXPECT_EQ(100, read(self->fd[1], got, sizeof(got)));
	EXPECT_EQ(-1, pat_mismatch(got, 0, 100));
	munmap(map, page);
}

struct slow_reader {
	int fd;
	size_t total;	/* bytes read up to EOF */
	long bad;	/* first offset off the pattern, or -1 */
};

/* Read 4 KiB every half millisecond up to EOF, checking the pattern. */
static void *slow_read_thread(void *arg)
{
	struct slow_reader *r = arg;
	static uint8_t buf[4096];
	ssize_t n;

	r->bad = -1;
	for (;;) {
		struct timespec ts = { .tv_nsec = 500000 };

		n = read(r->fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (r->bad < 0 && pat_mismatch(buf, r->total, n) >= 0)
			r->bad = r->total + pat_mismatch(buf, r->total, n);
		r->total += n;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* Lines of tracefs's trace naming @event, or -1 without tracefs. */
static long trace_count(const char *event)
{
	char line[512];
	long n = 0;
	FILE *f = fopen(TRACEFS "/trace", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, event) != NULL;
	fclose(f);
	return n;
}

#define POLL_ARM	TRACEFS "/events/io_uring/io_uring_poll_arm/enable"
#define MFLOW_WRITE	TRACEFS "/events/mflow/mflow_write/enable"

/*
 * An io_uring write of fifo + 1 bytes on a blocking fd, with a slow
 * reader: it completes (whole or short, as on a pipe) after at most two
 * arms of poll, not after io_uring's loop of up to 128 retries. Counted
 * with the io_uring_poll_arm tracepoint where the kernel has tracefs (and
 * the calls into the module's write with its mflow_write event), and
 * always with the endpoint's own count of EAGAIN answers (fdinfo). The
 * events are on only while nothing else runs the code they patch, and
 * with comm recording off (record_cmd_off()).
 */
TEST_F(mflow_evloop, R6_io_uring_large_write_needs_no_poll_loop)
{
	struct slow_reader rd = { .fd = self->fd[1] };
	size_t big = self->fifo + 1;
	uint8_t *src = pat_alloc(0, big);
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_sec = 20 };
	struct io_uring ring;
	long again0, again1, arms = -1, calls = -1;
	char rec[8] = "";
	bool traced;
	pthread_t th;
	int res;

	ASSERT_NE(NULL, src);
	again0 = fdinfo_num(self->fd[0], "mflow-again");
	traced = !record_cmd_off(rec, sizeof(rec)) &&
		 !write_text(POLL_ARM, "1") && !write_text(MFLOW_WRITE, "1") &&
		 !write_text(TRACEFS "/trace", "");
	if (!traced)
		TH_LOG("no io_uring tracepoints: counting EAGAIN answers only");

	ASSERT_EQ(0, io_uring_queue_init(4, &ring, 0));
	ASSERT_EQ(0, pthread_create(&th, NULL, slow_read_thread, &rd));
	sqe = io_uring_get_sqe(&ring);
	ASSERT_NE(NULL, sqe);
	io_uring_prep_write(sqe, self->fd[0], src, big, -1);
	ASSERT_EQ(1, io_uring_submit(&ring));
	ASSERT_EQ(0, io_uring_wait_cqe_timeout(&ring, &cqe, &ts))
		TH_LOG("the write did not complete within 20 s");
	res = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	if (traced) {
		arms = trace_count("io_uring_poll_arm:");
		calls = trace_count("mflow_write:");
	}
	/* Off again even if only some went on; comm recording last. */
	write_text(POLL_ARM, "0");
	write_text(MFLOW_WRITE, "0");
	if (rec[0])
		write_text(RECORD_CMD, rec);
	again1 = fdinfo_num(self->fd[0], "mflow-again");
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	pthread_join(th, NULL);
	io_uring_queue_exit(&ring);

	TH_LOG("completed with %d of %zu bytes; %ld poll arms, %ld calls into the write, %ld EAGAINs",
	       res, big, arms, calls, again1 - again0);
	EXPECT_LT(0, res);
	EXPECT_GE((long)big, res);
	EXPECT_LE(0, again0) TH_LOG("no mflow-again line in fdinfo");
	EXPECT_GE(2, again1 - again0);
	if (traced) {
		EXPECT_GE(2, arms);
		EXPECT_GE(3, calls);
	}
	EXPECT_EQ((size_t)res, rd.total);
	EXPECT_EQ(-1, rd.bad);
	free(src);
}

/* A read io_uring leaves pending completes with the first bytes written. */
TEST_F(mflow_evloop, R2_R3_io_uring_pending_read_takes_first_bytes)
{
	struct __kernel_timespec ts = { .tv_sec = 10 };
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	char buf[65536];

	ASSERT_EQ(0, io_uring_queue_init(4, &ring, 0));
	sqe = io_uring_get_sqe(&ring);
	ASSERT_NE(NULL, sqe);
	io_uring_prep_read(sqe, self->fd[1], buf, sizeof(buf), -1);
	ASSERT_EQ(1, io_uring_submit(&ring));
	EXPECT_EQ(-EAGAIN, io_uring_peek_cqe(&ring, &cqe));
	ASSERT_EQ(10, write(self->fd[0], "0123456789", 10));
	ASSERT_EQ(0, io_uring_wait_cqe_timeout(&ring, &cqe, &ts));
	EXPECT_EQ(10, cqe->res);
	EXPECT_EQ(0, memcmp(buf, "0123456789", 10));
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
}

TEST_HARNESS_MAIN
