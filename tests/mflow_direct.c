// SPDX-License-Identifier: GPL-2.0
/*
 * Single-copy writes (the direct_write_min parameter): a blocking write
 * that would sleep for room with at least that many bytes left pins the
 * rest of its buffer, a piece at a time, and the reader copies straight
 * from those pages once the fifo is drained. Every rule still holds: the
 * order of the stream, the counts a write returns when a signal, the
 * peer's read shutdown or its detach ends it (R6, R7, R10), FIONREAD and
 * OUTQ counting the pinned bytes (R12), EPOLLIN (R11), a faulting reader
 * (R6), and a fork while the pages are pinned.
 *
 * Each test writes fifo + PINNED bytes from a page-aligned buffer while
 * the fifo is empty: the fifo takes the first fifo bytes and the writer
 * then offers the last PINNED bytes from its pages. It waits until
 * FIONREAD and OUTQ count all of them, which only the single-copy path
 * does (a two-copy writer sleeps with fifo bytes in flight).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "mflow_test.h"

#define PARAM		"/sys/module/mflow/parameters/direct_write_min"
#define PINNED		(128U << 10)

static void direct_off(void);

/* Single copy is off again after each test, however it ended. */
MFLOW_PAIR_FIXTURE_UNDO(mflow_direct, 0, direct_off())

struct writer {
	int fd;
	const uint8_t *buf;
	size_t len;
	ssize_t ret;
	int err;
	pid_t tid;
	pthread_t th;
};

static void on_usr1(int sig)
{
	(void)sig;
}

static void *writer_thread(void *arg)
{
	struct writer *w = arg;

	w->tid = gettid();
	w->ret = write(w->fd, w->buf, w->len);
	w->err = w->ret < 0 ? errno : 0;
	return NULL;
}

/* Page-aligned pattern bytes from offset 0 (MAP_PRIVATE anonymous). */
static uint8_t *pat_pages(size_t len)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	pat_fill(p, 0, len);
	return p;
}

/*
 * Turn single copy on for writes with at least 4 KiB left: 0, or -errno
 * (-EOPNOTSUPP where the kernel cannot, before 6.3).
 */
static int direct_on(void)
{
	return write_text(PARAM, "4096");
}

static void direct_off(void)
{
	write_text(PARAM, "0");
}

/* Wait until FIONREAD on @rd and OUTQ on @wr both say @n; false after 20 s. */
static bool wait_in_flight(int rd, int wr, long n)
{
	uint64_t end = now_ns() + 20000 * MSEC;

	while (now_ns() < end) {
		if (fionread(rd) == n && outq(wr) == n)
			return true;
		sleep_ms(1);
	}
	return false;
}

/*
 * Start a blocking write of fifo + PINNED pattern bytes on fd[0] and wait
 * until all of them are in flight: the fifo full and the rest pinned.
 * False if the test is skipped.
 */
static bool start_direct(struct __test_metadata *_metadata,
			 FIXTURE_DATA(mflow_direct) *self, struct writer *w)
{
	int ret = direct_on();

	if (ret == -EOPNOTSUPP)
		SKIP(return false, "no single copy before Linux 6.3");
	ASSERT_EQ(0, ret) TH_LOG("cannot set %s: %s", PARAM, strerror(-ret));
	w->fd = self->fd[0];
	w->len = self->fifo + PINNED;
	w->buf = pat_pages(w->len);
	ASSERT_NE(NULL, w->buf);
	ASSERT_EQ(0, pthread_create(&w->th, NULL, writer_thread, w));
	ASSERT_TRUE(wait_in_flight(self->fd[1], self->fd[0], w->len))
		TH_LOG("FIONREAD %ld, OUTQ %ld: the writer did not pin its last %u bytes",
		       fionread(self->fd[1]), outq(self->fd[0]), PINNED);
	return true;
}

static void finish(struct writer *w)
{
	pthread_join(w->th, NULL);
	munmap((void *)w->buf, w->len);
}

/* The stream arrives whole and in order; the pinned part counted apart. */
TEST_F(mflow_direct, R6_R12_single_copy_keeps_order_and_counts)
{
	struct writer w = { 0 };
	uint8_t *got;
	long direct0;

	direct0 = fdinfo_num(self->fd[0], "mflow-direct-bytes");
	ASSERT_LE(0, direct0) TH_LOG("no mflow-direct-bytes in fdinfo");
	if (!start_direct(_metadata, self, &w))
		return;
	{
		struct pollfd p = { .fd = self->fd[1], .events = POLLIN };

		EXPECT_EQ(1, poll(&p, 1, 0));
		EXPECT_EQ(POLLIN, p.revents);
	}
	got = malloc(w.len);
	ASSERT_NE(NULL, got);
	EXPECT_EQ((ssize_t)w.len, read_full(self->fd[1], got, w.len));
	finish(&w);
	EXPECT_EQ((ssize_t)(self->fifo + PINNED), w.ret);
	EXPECT_EQ(-1, pat_mismatch(got, 0, self->fifo + PINNED));
	EXPECT_EQ(0, fionread(self->fd[1]));
	EXPECT_EQ(PINNED, fdinfo_num(self->fd[0], "mflow-direct-bytes") -
			  direct0);
	free(got);
}

struct chunk_writer {
	int fd;
	uint8_t *buf;
	size_t chunk;
	size_t total;
	size_t written;
	int err;
};

/* Writes pattern bytes @chunk at a time until @total, then shuts. */
static void *chunk_writer_thread(void *arg)
{
	struct chunk_writer *w = arg;

	while (w->written < w->total) {
		ssize_t n;

		pat_fill(w->buf, w->written, w->chunk);
		n = write(w->fd, w->buf, w->chunk);
		if (n < 0) {
			w->err = errno;
			break;
		}
		/* A short write's rest goes again with the next chunk. */
		w->written += n;
	}
	shut(w->fd, MFLOW_SHUT_WR);
	return NULL;
}

/*
 * A stream of single-copy writes, read in smaller pieces than written:
 * every read returns bytes or EOF, never an error, even in the moment
 * between the reader taking a write's last pinned byte and the writer
 * withdrawing its pages. The fifo is full before the writer starts,
 * and the reader starts once the first write's pages are offered.
 */
TEST_F(mflow_direct, R2_R6_stream_of_single_copy_writes)
{
	struct chunk_writer w = { .fd = self->fd[0], .chunk = 65536,
				  .total = 2U << 20 };
	size_t got = 0, piece = 16384;
	long bad = -1, direct0;
	uint8_t *buf;
	pthread_t th;
	int ret = direct_on();

	if (ret == -EOPNOTSUPP)
		SKIP(return, "no single copy before Linux 6.3");
	ASSERT_EQ(0, ret) TH_LOG("cannot set %s: %s", PARAM, strerror(-ret));
	direct0 = fdinfo_num(self->fd[0], "mflow-direct-bytes");
	w.buf = pat_pages(w.chunk);
	buf = malloc(w.chunk);
	ASSERT_NE(NULL, w.buf);
	ASSERT_NE(NULL, buf);
	w.written = fill_fifo(self->fd[0], 0);
	ASSERT_EQ(self->fifo, w.written);
	ASSERT_EQ(0, pthread_create(&th, NULL, chunk_writer_thread, &w));
	ASSERT_TRUE(wait_in_flight(self->fd[1], self->fd[0],
				   self->fifo + w.chunk));
	for (;;) {
		ssize_t n = read(self->fd[1], buf, piece);

		if (n <= 0) {
			EXPECT_EQ(0, n) TH_LOG("read after %zu bytes: %s", got,
					       strerror(errno));
			break;
		}
		if (bad < 0 && pat_mismatch(buf, got, n) >= 0)
			bad = got + pat_mismatch(buf, got, n);
		got += n;
	}
	/* A writer still waiting for a reader that gave up ends now. */
	shut(self->fd[1], MFLOW_SHUT_RD);
	pthread_join(th, NULL);
	EXPECT_EQ(0, w.err) TH_LOG("write: %s", strerror(w.err));
	EXPECT_EQ(w.total, w.written);
	EXPECT_EQ(w.total, got);
	EXPECT_EQ(-1, bad);
	direct0 = fdinfo_num(self->fd[0], "mflow-direct-bytes") - direct0;
	TH_LOG("%ld bytes of %zu went single copy", direct0, w.total);
	EXPECT_LT(0, direct0);
	munmap(w.buf, w.chunk);
	free(buf);
}

/*
 * A signal ends the write: it returns what the reader took, the fifo's
 * bytes and the first pinned ones, and no byte it did not count is read.
 */
TEST_F(mflow_direct, R7_signal_mid_transfer_returns_what_was_taken)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct writer w = { 0 };
	uint8_t *got;
	size_t part = self->fifo + 1000;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	if (!start_direct(_metadata, self, &w))
		return;
	got = malloc(w.len);
	ASSERT_NE(NULL, got);
	EXPECT_EQ((ssize_t)part, read_full(self->fd[1], got, part));
	ASSERT_TRUE(wait_in_flight(self->fd[1], self->fd[0], w.len - part));
	ASSERT_EQ(0, pthread_kill(w.th, SIGUSR1));
	finish(&w);
	EXPECT_EQ((ssize_t)part, w.ret);
	EXPECT_EQ(0, fionread(self->fd[1]));
	EXPECT_EQ(0, outq(self->fd[0]));
	ASSERT_EQ(0, set_nonblock(self->fd[1], true));
	EXPECT_EQ(-1, read(self->fd[1], got, w.len));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(-1, pat_mismatch(got, 0, part));
	/* The stream goes on where the write stopped. */
	EXPECT_EQ(4, write(self->fd[0], "next", 4));
	EXPECT_EQ(4, read(self->fd[1], got, w.len));
	EXPECT_EQ(0, memcmp(got, "next", 4));
	free(got);
}

/* The peer shuts its read side mid-way: the write returns what it took. */
TEST_F(mflow_direct, R7_R10_peer_read_shutdown_mid_transfer)
{
	struct writer w = { 0 };
	uint8_t *got;
	size_t part = self->fifo + 1000;

	if (!start_direct(_metadata, self, &w))
		return;
	got = malloc(part);
	ASSERT_NE(NULL, got);
	EXPECT_EQ((ssize_t)part, read_full(self->fd[1], got, part));
	ASSERT_EQ(0, shut(self->fd[1], MFLOW_SHUT_RD));
	finish(&w);
	EXPECT_EQ((ssize_t)part, w.ret);
	EXPECT_EQ(-1, pat_mismatch(got, 0, part));
	EXPECT_EQ(0, read(self->fd[1], got, part));
	EXPECT_EQ(-1, write(self->fd[0], "x", 1));
	EXPECT_EQ(EPIPE, errno);
	free(got);
}

/*
 * The peer detaches mid-way, before taking a pinned byte: the write
 * returns the fifo's bytes, the pinned ones are not counted.
 */
TEST_F(mflow_direct, R7_R10_peer_detach_mid_transfer)
{
	struct writer w = { 0 };
	uint8_t *got;

	if (!start_direct(_metadata, self, &w))
		return;
	got = malloc(self->fifo);
	ASSERT_NE(NULL, got);
	EXPECT_EQ((ssize_t)self->fifo, read_full(self->fd[1], got,
						 self->fifo));
	close_fd(&self->fd[1]);
	finish(&w);
	EXPECT_EQ((ssize_t)self->fifo, w.ret);
	EXPECT_EQ(-1, pat_mismatch(got, 0, self->fifo));
	free(got);
}

/*
 * A reader whose buffer faults takes nothing (-EFAULT); the pinned bytes
 * stay for the next read, which gets them in order.
 */
TEST_F(mflow_direct, R6_faulting_reader_takes_nothing)
{
	struct writer w = { 0 };
	uint8_t *got;

	if (!start_direct(_metadata, self, &w))
		return;
	got = malloc(w.len);
	ASSERT_NE(NULL, got);
	EXPECT_EQ((ssize_t)self->fifo, read_full(self->fd[1], got,
						 self->fifo));
	EXPECT_EQ(-1, read(self->fd[1], bad_ptr(), PINNED));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(PINNED, fionread(self->fd[1]));
	EXPECT_EQ((ssize_t)PINNED, read_full(self->fd[1], got + self->fifo,
					     PINNED));
	finish(&w);
	EXPECT_EQ((ssize_t)w.len, w.ret);
	EXPECT_EQ(-1, pat_mismatch(got, 0, w.len));
	free(got);
}

/*
 * The writer's process forks while its pages are pinned, and the child
 * overwrites its copy of the buffer: the reader still gets the writer's
 * bytes (a pinned private page stays the parent's).
 */
TEST_F(mflow_direct, single_copy_survives_fork_while_pinned)
{
	struct writer w = { 0 };
	uint8_t *got;
	pid_t pid;
	int st;

	if (!start_direct(_metadata, self, &w))
		return;
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		memset((void *)w.buf, 0xff, w.len);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	got = malloc(w.len);
	ASSERT_NE(NULL, got);
	EXPECT_EQ((ssize_t)w.len, read_full(self->fd[1], got, w.len));
	finish(&w);
	EXPECT_EQ((ssize_t)w.len, w.ret);
	EXPECT_EQ(-1, pat_mismatch(got, 0, w.len));
	free(got);
}

/*
 * Non-blocking writes never pin: they move what fits and fail with
 * EAGAIN, and poll shows no EPOLLOUT to other writers meanwhile.
 */
TEST_F(mflow_direct, R6_nonblocking_write_never_pins)
{
	uint8_t *buf;
	size_t len = self->fifo + PINNED;
	int ret = direct_on();

	if (ret == -EOPNOTSUPP)
		SKIP(return, "no single copy before Linux 6.3");
	ASSERT_EQ(0, ret) TH_LOG("cannot set %s: %s", PARAM, strerror(-ret));
	buf = pat_pages(len);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, set_nonblock(self->fd[0], true));
	EXPECT_EQ((ssize_t)self->fifo, write(self->fd[0], buf, len));
	EXPECT_EQ(-1, write(self->fd[0], buf, len));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ((long)self->fifo, fionread(self->fd[1]));
	EXPECT_EQ(0, fdinfo_num(self->fd[0], "mflow-direct-bytes"));
	EXPECT_EQ(0, drain_pat(self->fd[1], 0, self->fifo));
	munmap(buf, len);
}

/* Bad values are refused and change nothing. */
TEST(direct_write_min_refuses_bad_values)
{
	static const char *const bad[] = { "1", "4095", "abc", "-1",
					   "2147483648" };
	char now[32];
	unsigned int i;

	ASSERT_EQ(0, read_text(PARAM, now, sizeof(now), true))
		TH_LOG("no %s", PARAM);
	EXPECT_STREQ("0", now);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_GT(0, write_text(PARAM, bad[i])) TH_LOG("%s", bad[i]);
		ASSERT_EQ(0, read_text(PARAM, now, sizeof(now), true));
		EXPECT_STREQ("0", now) TH_LOG("after %s", bad[i]);
	}
}

TEST_HARNESS_MAIN
