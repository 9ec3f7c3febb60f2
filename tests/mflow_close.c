// SPDX-License-Identifier: GPL-2.0
/*
 * mflow half-close and close handshake from user space: the shutdown ioctl
 * (R8) and the close ioctl (R9), with the detach cases they meet (R10).
 */
#include <pthread.h>

#include "mflow_test.h"

MFLOW_PAIR_FIXTURE(mflow_close, 1)

/* Fork a helper blocked in MFLOW_IOC_CLOSE(NULL) on endpoint @ep. */
static pid_t spawn_closer(FIXTURE_DATA(mflow_close) *self, int ep, bool solo)
{
	pid_t pid = solo ? spawn_keeping(self->fd, ep) : spawn();

	if (pid == 0) {
		CHILD_CHECK(close_wait(self->fd[ep]) == 0);
		_exit(0);
	}
	return pid;
}

/* ---- R8: shutdown ---- */

/* Write shutdown: local writes EPIPE, the peer drains then reads EOF. */
TEST_F(mflow_close, R8_shut_wr_peer_eof_local_epipe)
{
	char buf[8] = {};

	ASSERT_EQ(3, write(self->fd[0], "abc", 3));
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	EXPECT_EQ(MFLOW_INFO_WR_SHUT | MFLOW_INFO_PEER_ATTACHED,
		  info_flags(self->fd[0]));
	EXPECT_EQ(MFLOW_INFO_PEER_WR_SHUT | MFLOW_INFO_PEER_ATTACHED,
		  info_flags(self->fd[1]));
	EXPECT_EQ(-1, write(self->fd[0], "x", 1));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_TRUE(sigpipe_taken());
	EXPECT_EQ(3, read_full(self->fd[1], buf, sizeof(buf)));
	EXPECT_STREQ("abc", buf);
	EXPECT_EQ(0, read(self->fd[1], buf, 1));

	/* the other direction is untouched */
	ASSERT_EQ(1, write(self->fd[1], "y", 1));
	ASSERT_EQ(1, read(self->fd[0], buf, 1));
	EXPECT_EQ('y', buf[0]);
}

/*
 * Read shutdown: pending and later inbound bytes are dropped, local reads
 * return 0, the peer's writes fail with EPIPE and its OUTQ empties.
 */
TEST_F(mflow_close, R8_shut_rd_discards_pending_and_future)
{
	char c;

	ASSERT_EQ(3, write(self->fd[1], "abc", 3));
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_RD));
	EXPECT_EQ(MFLOW_INFO_RD_SHUT | MFLOW_INFO_PEER_ATTACHED,
		  info_flags(self->fd[0]));
	EXPECT_EQ(MFLOW_INFO_PEER_RD_SHUT | MFLOW_INFO_PEER_ATTACHED,
		  info_flags(self->fd[1]));
	EXPECT_EQ(0, fionread(self->fd[0]));
	EXPECT_EQ(0, outq(self->fd[1]));
	EXPECT_EQ(0, read(self->fd[0], &c, 1));
	EXPECT_EQ(-1, write(self->fd[1], "d", 1));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_TRUE(sigpipe_taken());
	EXPECT_EQ(0, read(self->fd[0], &c, 1));

	/* the other direction is untouched */
	ASSERT_EQ(1, write(self->fd[0], "y", 1));
	ASSERT_EQ(1, read(self->fd[1], &c, 1));
	EXPECT_EQ('y', c);
}

TEST_F(mflow_close, R8_shut_rdwr_both_directions)
{
	char c;

	ASSERT_EQ(1, write(self->fd[1], "a", 1));
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_RDWR));
	EXPECT_EQ(MFLOW_INFO_RD_SHUT | MFLOW_INFO_WR_SHUT |
		  MFLOW_INFO_PEER_ATTACHED, info_flags(self->fd[0]));
	EXPECT_EQ(MFLOW_INFO_PEER_RD_SHUT | MFLOW_INFO_PEER_WR_SHUT |
		  MFLOW_INFO_PEER_ATTACHED, info_flags(self->fd[1]));
	EXPECT_EQ(0, read(self->fd[0], &c, 1));
	EXPECT_EQ(-1, write(self->fd[0], "x", 1));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(0, read(self->fd[1], &c, 1));
	EXPECT_EQ(-1, write(self->fd[1], "x", 1));
	EXPECT_EQ(EPIPE, errno);
}

/* how other than RD, WR, RDWR: EINVAL, and nothing is shut. */
TEST_F(mflow_close, R8_R14_shut_bad_how_einval)
{
	static const __u32 bad[] = { 3, 4, 0x100, 0x80000000U, ~0U };
	unsigned int i;
	char c;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_EQ(-EINVAL, shut(self->fd[0], bad[i]));
	EXPECT_EQ(MFLOW_INFO_PEER_ATTACHED, info_flags(self->fd[0]));
	ASSERT_EQ(1, write(self->fd[0], "x", 1));
	ASSERT_EQ(1, write(self->fd[1], "y", 1));
	ASSERT_EQ(1, read(self->fd[0], &c, 1));
	ASSERT_EQ(1, read(self->fd[1], &c, 1));
}

/* Shutdown with full fifos returns at once; the data in them survives. */
TEST_F(mflow_close, R8_shutdown_never_blocks)
{
	uint64_t t;
	char c;

	ASSERT_EQ(self->fifo, fill_fifo(self->fd[0], 0));
	ASSERT_EQ(self->fifo, fill_fifo(self->fd[1], 0));
	t = now_ns();
	EXPECT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	EXPECT_EQ(0, shut(self->fd[1], MFLOW_SHUT_WR));
	/* A blocking shutdown would never return; emulation stalls for seconds. */
	EXPECT_GT(20000 * MSEC, now_ns() - t);
	EXPECT_EQ(0, drain_pat(self->fd[1], 0, self->fifo));
	EXPECT_EQ(0, read(self->fd[1], &c, 1));
	EXPECT_EQ(0, drain_pat(self->fd[0], 0, self->fifo));
	EXPECT_EQ(0, read(self->fd[0], &c, 1));
}

/* The same shutdown twice is harmless; the state stays as it was. */
TEST_F(mflow_close, R8_shutdown_repeated)
{
	EXPECT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	EXPECT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	EXPECT_EQ(0, shut(self->fd[0], MFLOW_SHUT_RD));
	EXPECT_EQ(0, shut(self->fd[0], MFLOW_SHUT_RDWR));
	EXPECT_EQ(MFLOW_INFO_RD_SHUT | MFLOW_INFO_WR_SHUT |
		  MFLOW_INFO_PEER_ATTACHED, info_flags(self->fd[0]));
}

TEST_F(mflow_close, R8_shut_wr_wakes_blocked_peer_reader)
{
	pid_t pid;

	pid = spawn_keeping(self->fd, 1);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char c;

		CHILD_CHECK(read(self->fd[1], &c, 1) == 0);
		_exit(0);
	}
	ASSERT_TRUE(wait_blocked(pid));
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	EXPECT_EQ(0, reap(pid, 10000));
}

/* A reader blocked on the endpoint itself wakes with 0 on SHUT_RD. */
TEST_F(mflow_close, R8_shut_rd_wakes_local_blocked_reader)
{
	pid_t pid;

	pid = spawn();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char c;

		CHILD_CHECK(read(self->fd[0], &c, 1) == 0);
		_exit(0);
	}
	ASSERT_TRUE(wait_blocked(pid));
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_RD));
	EXPECT_EQ(0, reap(pid, 10000));
}

/*
 * A peer writer blocked on a full fifo wakes when the reader shuts its
 * read side: it returns the bytes it moved, and its next write fails.
 */
TEST_F(mflow_close, R8_shut_rd_wakes_blocked_peer_writer)
{
	size_t len = 2 * (size_t)self->fifo;
	uint8_t *buf;
	pid_t pid;
	int i;

	buf = malloc(len);
	ASSERT_NE(NULL, buf);
	pid = spawn_keeping(self->fd, 1);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		CHILD_CHECK(set_opts(self->fd[1], MFLOW_OPT_NOSIGPIPE) == 0);
		CHILD_CHECK(write(self->fd[1], buf, len) ==
			    (ssize_t)self->fifo);
		CHILD_CHECK(write(self->fd[1], buf, 1) == -1 &&
			    errno == EPIPE);
		_exit(0);
	}
	ASSERT_TRUE(wait_blocked(pid));
	for (i = 0; i < 1000 && fionread(self->fd[0]) != self->fifo; i++)
		sleep_ms(10);
	ASSERT_EQ((long)self->fifo, fionread(self->fd[0]));
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_RD));
	EXPECT_EQ(0, reap(pid, 10000));
	free(buf);
}

/* ---- R9: close ---- */

/*
 * MFLOW_IOC_CLOSE shuts the write side before it waits: the peer reads
 * EOF while the closer is still blocked, and the peer's own close ends it.
 */
TEST_F(mflow_close, R9_close_waits_for_peer_close_ioctl)
{
	pid_t pid;
	char c;

	pid = spawn_closer(self, 0, false);
	ASSERT_LE(0, pid);
	ASSERT_TRUE(wait_blocked(pid));
	EXPECT_TRUE(HAS(info_flags(self->fd[1]), MFLOW_INFO_PEER_WR_SHUT));
	EXPECT_EQ(0, read(self->fd[1], &c, 1));
	EXPECT_EQ(0, waitpid(pid, NULL, WNOHANG));
	EXPECT_EQ(0, close_wait(self->fd[1]));
	EXPECT_EQ(0, reap(pid, 10000));
}

/* Both ends closing at the same time both return 0 (the handshake). */
TEST_F(mflow_close, R9_close_both_ends_concurrently)
{
	pid_t pid[2];

	pid[0] = spawn_closer(self, 0, false);
	ASSERT_LE(0, pid[0]);
	pid[1] = spawn_closer(self, 1, false);
	ASSERT_LE(0, pid[1]);
	EXPECT_EQ(0, reap(pid[0], 10000));
	EXPECT_EQ(0, reap(pid[1], 10000));
}

TEST_F(mflow_close, R9_close_returns_on_peer_shut_wr)
{
	pid_t pid;

	pid = spawn_closer(self, 0, false);
	ASSERT_LE(0, pid);
	ASSERT_TRUE(wait_blocked(pid));
	ASSERT_EQ(0, shut(self->fd[1], MFLOW_SHUT_WR));
	EXPECT_EQ(0, reap(pid, 10000));
}

TEST_F(mflow_close, R9_R10_close_returns_on_peer_detach)
{
	pid_t pid;

	pid = spawn_closer(self, 0, true);
	ASSERT_LE(0, pid);
	ASSERT_TRUE(wait_blocked(pid));
	close_fd(&self->fd[1]);
	EXPECT_EQ(0, reap(pid, 10000));
}

/* A peer that only shut its read side has not closed: keep waiting. */
TEST_F(mflow_close, R9_close_not_satisfied_by_peer_shut_rd)
{
	ASSERT_EQ(0, shut(self->fd[1], MFLOW_SHUT_RD));
	EXPECT_EQ(-ETIMEDOUT, close_within(self->fd[0], 0));
	EXPECT_EQ(-ETIMEDOUT, close_within(self->fd[0], 50 * MSEC));
}

/* Peer already closed: returns 0 at once, whatever the timeout. */
TEST_F(mflow_close, R9_close_after_peer_closed_returns_at_once)
{
	ASSERT_EQ(0, shut(self->fd[1], MFLOW_SHUT_WR));
	EXPECT_EQ(0, close_within(self->fd[0], 0));
	EXPECT_EQ(0, close_wait(self->fd[1]));
}

TEST_F(mflow_close, R9_close_timeout_zero_etimedout_write_side_shut)
{
	char c;

	EXPECT_EQ(-ETIMEDOUT, close_within(self->fd[0], 0));
	EXPECT_TRUE(HAS(info_flags(self->fd[0]), MFLOW_INFO_WR_SHUT));
	EXPECT_EQ(-1, write(self->fd[0], "x", 1));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_TRUE(sigpipe_taken());
	EXPECT_EQ(0, read(self->fd[1], &c, 1));
}

/* The timeout is honoured: ETIMEDOUT after it ran out, not long after. */
TEST_F(mflow_close, R9_close_timeout_expires)
{
	uint64_t t, dt;

	t = now_ns();
	EXPECT_EQ(-ETIMEDOUT, close_within(self->fd[0], 200 * MSEC));
	dt = now_ns() - t;
	EXPECT_LE(190 * MSEC, dt);
	EXPECT_GT(5000 * MSEC, dt);
}

/*
 * The timeout is a nanosecond figure and is never cut short: whatever the
 * kernel's tick, ETIMEDOUT comes no earlier than the time asked.
 */
TEST_F(mflow_close, R9_close_timeout_never_early)
{
	static const uint64_t ns[] = {
		1000, 250 * 1000, 1 * MSEC, 3 * MSEC, 7 * MSEC, 10 * MSEC,
		20 * MSEC, 50 * MSEC, 1 * MSEC + 1,
	};
	unsigned int i, round;
	uint64_t t, dt;

	for (round = 0; round < 3; round++) {
		for (i = 0; i < ARRAY_SIZE(ns); i++) {
			t = now_ns();
			EXPECT_EQ(-ETIMEDOUT, close_within(self->fd[0], ns[i]));
			dt = now_ns() - t;
			EXPECT_LE(ns[i], dt)
				TH_LOG("timeout %llu ns returned after %llu ns",
				       (unsigned long long)ns[i],
				       (unsigned long long)dt);
			EXPECT_GT(ns[i] + 5000 * MSEC, dt);
		}
	}
}

/*
 * A timeout without MFLOW_CLOSE_TIMEOUT is a caller's mistake: EINVAL,
 * and the write side stays open.
 */
TEST_F(mflow_close, R9_R14_close_timeout_without_flag_einval)
{
	struct mflow_close_args a = { .timeout_ns = 50 * MSEC };
	char c;

	ASSERT_EQ(0, set_nonblock(self->fd[0], true));
	EXPECT_EQ(-1, ioctl(self->fd[0], MFLOW_IOC_CLOSE, &a));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, set_nonblock(self->fd[0], false));
	ASSERT_EQ(0, shut(self->fd[1], MFLOW_SHUT_WR));
	a.timeout_ns = ~0ULL;
	EXPECT_EQ(-1, ioctl(self->fd[0], MFLOW_IOC_CLOSE, &a));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MFLOW_INFO_PEER_WR_SHUT | MFLOW_INFO_PEER_ATTACHED,
		  info_flags(self->fd[0]));
	ASSERT_EQ(1, write(self->fd[0], "x", 1));
	ASSERT_EQ(1, read(self->fd[1], &c, 1));
	EXPECT_EQ('x', c);
}

struct timed_closer {
	int fd;
	uint64_t ns;
	pid_t tid;
	int ret;
	uint64_t took;
};

static void *timed_close_thread(void *arg)
{
	struct timed_closer *c = arg;
	uint64_t t = now_ns();

	__atomic_store_n(&c->tid, gettid(), __ATOMIC_SEQ_CST);
	c->ret = close_within(c->fd, c->ns);
	c->took = now_ns() - t;
	return NULL;
}

/* The largest timeouts (up to U64_MAX) wait until the peer closes. */
TEST_F(mflow_close, R9_close_timeout_u64_max_waits_for_peer)
{
	static const uint64_t ns[] = { ~0ULL, ~0ULL >> 1, (~0ULL >> 1) + 1,
				       3600ULL * 1000 * MSEC };
	struct timed_closer c = { .fd = self->fd[0], .ns = ns[0] };
	unsigned int i;
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, timed_close_thread, &c));
	while (!__atomic_load_n(&c.tid, __ATOMIC_SEQ_CST))
		sleep_ms(1);
	ASSERT_TRUE(wait_blocked(c.tid));
	EXPECT_EQ(0, shut(self->fd[1], MFLOW_SHUT_WR));
	pthread_join(th, NULL);
	EXPECT_EQ(0, c.ret);
	for (i = 0; i < ARRAY_SIZE(ns); i++)
		EXPECT_EQ(0, close_within(self->fd[0], ns[i]));
}

/*
 * A signal during a timed close ends it with EINTR, even for a handler
 * installed with SA_RESTART (a restart would start the timeout over).
 */
TEST_F(mflow_close, R9_close_timed_interrupted_eintr)
{
	static const uint64_t ns[] = { 20000 * MSEC, ~0ULL };
	struct sigaction sa = { .sa_handler = nop_handler,
				.sa_flags = SA_RESTART };
	unsigned int i;

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	for (i = 0; i < ARRAY_SIZE(ns); i++) {
		struct timed_closer c = { .fd = self->fd[0], .ns = ns[i] };
		pthread_t th;

		ASSERT_EQ(0, pthread_create(&th, NULL, timed_close_thread,
					    &c));
		while (!__atomic_load_n(&c.tid, __ATOMIC_SEQ_CST))
			sleep_ms(1);
		ASSERT_TRUE(wait_blocked(c.tid));
		ASSERT_EQ(0, pthread_kill(th, SIGUSR1));
		pthread_join(th, NULL);
		EXPECT_EQ(-EINTR, c.ret) TH_LOG("timeout %llu ns",
						(unsigned long long)ns[i]);
		EXPECT_GT(10000 * MSEC, c.took);
	}
	signal(SIGUSR1, SIG_DFL);
	EXPECT_TRUE(HAS(info_flags(self->fd[0]), MFLOW_INFO_WR_SHUT));
	ASSERT_EQ(0, close_wait(self->fd[1]));
	EXPECT_EQ(0, close_wait(self->fd[0]));
}

/* O_NONBLOCK: EAGAIN while the peer has not closed, write side shut. */
TEST_F(mflow_close, R9_close_nonblock_eagain)
{
	ASSERT_EQ(0, set_nonblock(self->fd[0], true));
	EXPECT_EQ(-EAGAIN, close_wait(self->fd[0]));
	EXPECT_TRUE(HAS(info_flags(self->fd[0]), MFLOW_INFO_WR_SHUT));
	EXPECT_EQ(-EAGAIN, close_within(self->fd[0], 100 * MSEC));
	ASSERT_EQ(0, shut(self->fd[1], MFLOW_SHUT_WR));
	EXPECT_EQ(0, close_wait(self->fd[0]));
}

/* A signal ends the wait with EINTR; the close can be retried. */
TEST_F(mflow_close, R9_close_interrupted_eintr)
{
	int r;

	interrupt_every(100);
	r = close_wait(self->fd[0]);
	interrupt_stop();
	EXPECT_EQ(-EINTR, r);
	EXPECT_TRUE(HAS(info_flags(self->fd[0]), MFLOW_INFO_WR_SHUT));
	ASSERT_EQ(0, close_wait(self->fd[1]));
	EXPECT_EQ(0, close_wait(self->fd[0]));
}

/* Once it returned 0, MFLOW_IOC_CLOSE keeps returning 0. */
TEST_F(mflow_close, R9_close_idempotent)
{
	int i;

	ASSERT_EQ(0, shut(self->fd[1], MFLOW_SHUT_WR));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, close_wait(self->fd[0]));
		EXPECT_EQ(0, close_within(self->fd[0], 0));
	}
	ASSERT_EQ(0, set_nonblock(self->fd[0], true));
	EXPECT_EQ(0, close_wait(self->fd[0]));
	EXPECT_EQ(0, close_wait(self->fd[1]));
	EXPECT_EQ(0, close_wait(self->fd[1]));
}

/* Bytes that came in before close returned stay readable, then EOF. */
TEST_F(mflow_close, R9_close_inbound_data_stays_readable)
{
	char buf[16] = {};

	ASSERT_EQ(5, write(self->fd[1], "hello", 5));
	ASSERT_EQ(-ETIMEDOUT, close_within(self->fd[1], 0));
	EXPECT_EQ(0, close_wait(self->fd[0]));
	EXPECT_EQ(5, read_full(self->fd[0], buf, sizeof(buf)));
	EXPECT_STREQ("hello", buf);
	EXPECT_EQ(0, read(self->fd[0], buf, 1));
}

/* Bytes the closer sent before closing reach the peer, then EOF. */
TEST_F(mflow_close, R9_close_outbound_data_delivered)
{
	char buf[16] = {};

	ASSERT_EQ(3, write(self->fd[0], "bye", 3));
	EXPECT_EQ(-ETIMEDOUT, close_within(self->fd[0], 0));
	EXPECT_EQ(3, read_full(self->fd[1], buf, sizeof(buf)));
	EXPECT_STREQ("bye", buf);
	EXPECT_EQ(0, close_wait(self->fd[1]));
	EXPECT_EQ(0, close_wait(self->fd[0]));
}

struct closer {
	int fd;
	pid_t tid;
	int ret;
};

static void *close_thread(void *arg)
{
	struct closer *c = arg;

	__atomic_store_n(&c->tid, gettid(), __ATOMIC_SEQ_CST);
	c->ret = close_wait(c->fd);
	return NULL;
}

/*
 * While one thread waits in MFLOW_IOC_CLOSE, another thread of the same
 * endpoint still reads what the peer sends, until the peer closes.
 */
TEST_F(mflow_close, R9_close_waiter_other_thread_reads)
{
	struct closer c = { .fd = self->fd[0], .ret = -1000 };
	char buf[16] = {};
	pthread_t th;
	pid_t pid;

	ASSERT_EQ(0, pthread_create(&th, NULL, close_thread, &c));
	while (!__atomic_load_n(&c.tid, __ATOMIC_SEQ_CST))
		sleep_ms(1);
	ASSERT_TRUE(wait_blocked(c.tid));

	pid = spawn_keeping(self->fd, 1);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		CHILD_CHECK(write(self->fd[1], "ping", 4) == 4);
		sleep_ms(100);
		CHILD_CHECK(write(self->fd[1], "pong", 4) == 4);
		CHILD_CHECK(close_wait(self->fd[1]) == 0);
		_exit(0);
	}
	EXPECT_EQ(8, read_full(self->fd[0], buf, sizeof(buf)));
	EXPECT_STREQ("pingpong", buf);
	pthread_join(th, NULL);
	EXPECT_EQ(0, c.ret);
	EXPECT_EQ(0, reap(pid, 10000));
}

/* Close arguments: NULL or a valid struct work; bad ones change nothing. */
TEST_F(mflow_close, R9_R14_close_bad_args_change_nothing)
{
	struct mflow_close_args a = { .flags = MFLOW_CLOSE_TIMEOUT };

	a.flags = 1U << 1;
	EXPECT_EQ(-1, ioctl(self->fd[0], MFLOW_IOC_CLOSE, &a));
	EXPECT_EQ(EINVAL, errno);
	a.flags = MFLOW_CLOSE_TIMEOUT;
	a.reserved = 1;
	EXPECT_EQ(-1, ioctl(self->fd[0], MFLOW_IOC_CLOSE, &a));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd[0], MFLOW_IOC_CLOSE, (void *)1));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(MFLOW_INFO_PEER_ATTACHED, info_flags(self->fd[0]));
	EXPECT_EQ(1, write(self->fd[0], "x", 1));
}

/* ---- R15: what a connection left by its only endpoint keeps ---- */

static long mem_available_kib(void)
{
	char line[128];
	long kib = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static int ctl_call(unsigned long cmd, void *arg)
{
	int fd = open("/dev/mflow-control", O_RDWR | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, cmd, arg) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

static int query_state(unsigned int index, __u32 *state)
{
	struct mflow_ctl_query q = { .index = index };
	int ret = ctl_call(MFLOW_CTL_QUERY, &q);

	*state = q.state;
	return ret;
}

/*
 * A console whose endpoint 0 leaves before endpoint 1 ever came: with
 * nothing written the console is idle again at once and holds no fifo
 * memory; with bytes written it keeps those bytes (not two 64 MiB fifos)
 * until endpoint 1 comes, reads them, and sees EOF. Measured as
 * MemAvailable, against a slack of half what the two fifos would pin (the
 * guest's page cache moves MemAvailable by tens of MiB on its own).
 */
TEST(R15_lone_endpoint_keeps_only_its_bytes)
{
	struct mflow_ctl_add add = { .index = MFLOW_CTL_ANY,
				     .fifo_size = 64U << 20 };
	struct mflow_ctl_id id = { .index = MFLOW_CTL_ANY };
	/* Half of the two 64 MiB fifos a pinned connection would hold. */
	const long slack_kib = 64 << 10;
	long before, after;
	char path[32], buf[32];
	__u32 state;
	int fd, ret;

	sigpipe_block();
	ret = ctl_call(MFLOW_CTL_ADD, &add);
	if (ret == -ENOENT)
		SKIP(return, "no /dev/mflow-control");
	ASSERT_EQ(0, ret) TH_LOG("ADD: %s", strerror(-ret));
	id.index = add.index;
	snprintf(path, sizeof(path), "/dev/mflow%u", add.index);
	for (ret = 0; access(path, F_OK) && ret < 500; ret++)
		sleep_ms(10);

	before = mem_available_kib();
	fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", path, strerror(errno));
	close(fd);
	after = mem_available_kib();
	TH_LOG("open and close: MemAvailable %ld -> %ld KiB", before, after);
	EXPECT_GT(slack_kib, before - after);
	ASSERT_EQ(0, query_state(add.index, &state));
	EXPECT_EQ(MFLOW_STATE_IDLE, state);

	before = mem_available_kib();
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(10, write(fd, "0123456789", 10));
	close(fd);
	after = mem_available_kib();
	TH_LOG("10 bytes left behind: MemAvailable %ld -> %ld KiB", before,
	       after);
	EXPECT_GT(slack_kib, before - after);
	ASSERT_EQ(0, query_state(add.index, &state));
	EXPECT_EQ(MFLOW_STATE_CONNECTED, state);
	EXPECT_EQ(-EBUSY, ctl_call(MFLOW_CTL_REMOVE, &id));

	fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(10, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "0123456789", 10));
	EXPECT_EQ(0, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(-1, write(fd, "x", 1));
	EXPECT_EQ(EPIPE, errno);
	close(fd);
	ASSERT_EQ(0, query_state(add.index, &state));
	EXPECT_EQ(MFLOW_STATE_IDLE, state);
	EXPECT_EQ(0, ctl_call(MFLOW_CTL_REMOVE, &id));
}

TEST_HARNESS_MAIN
