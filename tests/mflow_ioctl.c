// SPDX-License-Identifier: GPL-2.0
/*
 * mflow ioctls and bad input from user space: FIONREAD and OUTQ (R12),
 * INFO and STATS (R13), errors that change nothing (R14).
 *
 * Built twice: natively and with -m32 (mflow_ioctl_32), which runs the
 * tests of the ioctls' arguments through the driver's compat_ioctl
 * (MFLOW_COMPAT_MAIN at the end).
 */
#include <pthread.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <termios.h>

#include "mflow_test.h"

/* The uapi layout is the same for 32-bit and 64-bit callers. */
_Static_assert(sizeof(struct mflow_close_args) == 16, "close_args size");
_Static_assert(sizeof(struct mflow_info) == 32, "mflow_info size");
_Static_assert(offsetof(struct mflow_info, connection) == 8, "connection");
_Static_assert(offsetof(struct mflow_info, fifo_size) == 16, "fifo_size");
_Static_assert(offsetof(struct mflow_info, reserved) == 24, "reserved");
_Static_assert(sizeof(struct mflow_stats) == 40, "mflow_stats size");

MFLOW_PAIR_FIXTURE(mflow_ioctl, 1)

/* ---- R12: FIONREAD, OUTQ ---- */

TEST_F(mflow_ioctl, R12_fionread_counts_readable_bytes)
{
	char buf[100] = {};

	EXPECT_EQ(0, fionread(self->fd[1]));
	ASSERT_EQ(100, write(self->fd[0], buf, 100));
	EXPECT_EQ(100, fionread(self->fd[1]));
	EXPECT_EQ(0, fionread(self->fd[0]));
	ASSERT_EQ(30, read(self->fd[1], buf, 30));
	EXPECT_EQ(70, fionread(self->fd[1]));
	ASSERT_EQ(5, write(self->fd[0], buf, 5));
	EXPECT_EQ(75, fionread(self->fd[1]));
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	EXPECT_EQ(75, fionread(self->fd[1]));
}

TEST_F(mflow_ioctl, R12_fionread_full_fifo)
{
	ASSERT_EQ(self->fifo, fill_fifo(self->fd[0], 0));
	EXPECT_EQ((long)self->fifo, fionread(self->fd[1]));
	EXPECT_EQ((long)self->fifo, outq(self->fd[0]));
}

TEST_F(mflow_ioctl, R12_outq_counts_written_unread_bytes)
{
	char buf[100] = {};

	EXPECT_EQ(0, outq(self->fd[0]));
	ASSERT_EQ(100, write(self->fd[0], buf, 100));
	EXPECT_EQ(100, outq(self->fd[0]));
	EXPECT_EQ(0, outq(self->fd[1]));
	ASSERT_EQ(40, read(self->fd[1], buf, 40));
	EXPECT_EQ(60, outq(self->fd[0]));
	ASSERT_EQ(60, read(self->fd[1], buf, 100));
	EXPECT_EQ(0, outq(self->fd[0]));
}

TEST_F(mflow_ioctl, R12_zero_after_reader_shut_rd)
{
	ASSERT_EQ(10, write(self->fd[0], "0123456789", 10));
	ASSERT_EQ(0, shut(self->fd[1], MFLOW_SHUT_RD));
	EXPECT_EQ(0, fionread(self->fd[1]));
	EXPECT_EQ(0, outq(self->fd[0]));
}

TEST_F(mflow_ioctl, R12_outq_zero_after_peer_detach)
{
	ASSERT_EQ(10, write(self->fd[0], "0123456789", 10));
	close_fd(&self->fd[1]);
	EXPECT_EQ(0, outq(self->fd[0]));
	EXPECT_EQ(0, fionread(self->fd[0]));
}

/* ---- R12 under traffic: every figure in 0..fifo_size ---- */

struct traffic {
	int fd;
	unsigned int fifo;
	volatile int stop;	/* the writer stops at the next call */
	uint64_t bytes;		/* moved (writer) or checked (reader) */
	int bad;		/* the reader saw a wrong byte */
};

static uint32_t next_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void *traffic_write(void *arg)
{
	struct traffic *t = arg;
	static uint8_t buf[3 * 4096];
	uint32_t rnd = 0x9e3779b9;
	ssize_t r;

	while (!t->stop) {
		size_t n = 1 + next_rand(&rnd) % sizeof(buf);

		pat_fill(buf, t->bytes, n);
		r = write(t->fd, buf, n);
		if (r <= 0)
			break;
		t->bytes += r;
	}
	return NULL;
}

static void *traffic_read(void *arg)
{
	struct traffic *t = arg;
	static uint8_t buf[3 * 4096];
	uint32_t rnd = 0x7f4a7c15;
	ssize_t r;

	for (;;) {
		r = read(t->fd, buf, 1 + next_rand(&rnd) % sizeof(buf));
		if (r <= 0)
			break;
		if (pat_mismatch(buf, t->bytes, r) >= 0)
			t->bad = 1;
		t->bytes += r;
	}
	return NULL;
}

/*
 * While a writer and a reader move bytes as fast as they can, FIONREAD,
 * OUTQ and the fdinfo queues are always within 0..fifo_size: each is one
 * coherent look at the ring, never a mix of two moments. Runs for
 * MFLOW_RACE_SECS seconds (default 4).
 */
TEST_F(mflow_ioctl, R12_R13_queue_figures_in_range_under_traffic)
{
	struct traffic w = { .fd = self->fd[0] }, r = { .fd = self->fd[1] };
	const char *env = getenv("MFLOW_RACE_SECS");
	uint64_t end, checks = 0, nonzero = 0;
	long v, bad = 0, vmax = 0;
	pthread_t tw, tr;

	end = now_ns() + (env ? atoi(env) : 4) * 1000 * MSEC;
	ASSERT_EQ(0, pthread_create(&tw, NULL, traffic_write, &w));
	ASSERT_EQ(0, pthread_create(&tr, NULL, traffic_read, &r));
	while (now_ns() < end) {
		int i;

		for (i = 0; i < 256; i++) {
			long q[4];
			int k;

			q[0] = fionread(self->fd[1]);
			q[1] = outq(self->fd[0]);
			q[2] = i ? 0 : fdinfo_num(self->fd[1], "mflow-inq");
			q[3] = i ? 0 : fdinfo_num(self->fd[0], "mflow-outq");
			for (k = 0; k < 4; k++) {
				v = q[k];
				if (v < 0 || v > (long)self->fifo) {
					if (!bad++)
						TH_LOG("figure %d: %ld after %llu checks",
						       k, v,
						       (unsigned long long)checks);
				} else if (v > vmax) {
					vmax = v;
				}
				nonzero += v > 0;
			}
			checks += 2;
		}
	}
	w.stop = 1;
	pthread_join(tw, NULL);
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	pthread_join(tr, NULL);
	TH_LOG("%llu checks, %ld out of range, largest %ld, %llu bytes moved",
	       (unsigned long long)checks, bad, vmax,
	       (unsigned long long)r.bytes);
	EXPECT_EQ(0, bad);
	EXPECT_LT(0ULL, nonzero);
	EXPECT_EQ(0, r.bad);
	EXPECT_EQ(w.bytes, r.bytes);
	EXPECT_LT(1ULL << 20, r.bytes);
}

/* ---- R13: INFO, STATS ---- */

TEST_F(mflow_ioctl, R13_info_fields)
{
	struct mflow_info i0, i1;

	ASSERT_EQ(0, mflow_info(self->fd[0], &i0));
	ASSERT_EQ(0, mflow_info(self->fd[1], &i1));
	EXPECT_EQ((__u32)atoi(self->path + strlen("/dev/mflow")), i0.console);
	EXPECT_EQ(i0.console, i1.console);
	EXPECT_EQ(0U, i0.endpoint);
	EXPECT_EQ(1U, i1.endpoint);
	EXPECT_LE(1ULL, i0.connection);
	EXPECT_EQ(i0.connection, i1.connection);
	EXPECT_EQ(self->fifo, i1.fifo_size);
	EXPECT_EQ(MFLOW_INFO_PEER_ATTACHED, i0.flags);
	EXPECT_EQ(MFLOW_INFO_PEER_ATTACHED, i1.flags);
	EXPECT_EQ(0ULL, i0.reserved);
	EXPECT_EQ(0ULL, i1.reserved);
}

/* /proc/self/fdinfo names the console, the endpoint and the queues. */
TEST_F(mflow_ioctl, R13_fdinfo_names_console_and_endpoint)
{
	char buf[1024], want[64];
	struct mflow_info info;

	ASSERT_EQ(0, mflow_info(self->fd[1], &info));
	ASSERT_EQ(3, write(self->fd[0], "abc", 3));
	ASSERT_EQ(0, fdinfo(self->fd[1], buf, sizeof(buf)));
	snprintf(want, sizeof(want), "mflow-console:\t%u\n", info.console);
	EXPECT_NE(NULL, strstr(buf, want));
	EXPECT_NE(NULL, strstr(buf, "mflow-endpoint:\t1\n"));
	snprintf(want, sizeof(want), "mflow-connection:\t%llu\n",
		 (unsigned long long)info.connection);
	EXPECT_NE(NULL, strstr(buf, want));
	EXPECT_NE(NULL, strstr(buf, "mflow-inq:\t3\n"));
	EXPECT_NE(NULL, strstr(buf, "mflow-outq:\t0\n"));
}

/* Each state change shows in the flags of both endpoints. */
TEST_F(mflow_ioctl, R13_info_flags_follow_state)
{
	const __u32 att = MFLOW_INFO_PEER_ATTACHED;

	ASSERT_EQ(0, set_opts(self->fd[1], MFLOW_OPT_NOSIGPIPE));
	EXPECT_EQ(att, info_flags(self->fd[0]));
	EXPECT_EQ(att | MFLOW_INFO_NOSIGPIPE, info_flags(self->fd[1]));

	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_RD));
	EXPECT_EQ(att | MFLOW_INFO_RD_SHUT, info_flags(self->fd[0]));
	EXPECT_EQ(att | MFLOW_INFO_NOSIGPIPE | MFLOW_INFO_PEER_RD_SHUT,
		  info_flags(self->fd[1]));

	ASSERT_EQ(0, shut(self->fd[1], MFLOW_SHUT_WR));
	EXPECT_EQ(att | MFLOW_INFO_RD_SHUT | MFLOW_INFO_PEER_WR_SHUT,
		  info_flags(self->fd[0]));
	EXPECT_EQ(att | MFLOW_INFO_NOSIGPIPE | MFLOW_INFO_PEER_RD_SHUT |
		  MFLOW_INFO_WR_SHUT, info_flags(self->fd[1]));

	close_fd(&self->fd[0]);
	EXPECT_EQ(MFLOW_INFO_NOSIGPIPE | MFLOW_INFO_WR_SHUT |
		  MFLOW_INFO_PEER_RD_SHUT | MFLOW_INFO_PEER_WR_SHUT |
		  MFLOW_INFO_PEER_DETACHED, info_flags(self->fd[1]));
}

/* Connections count up by one, from 1, and INFO follows them. */
TEST_F(mflow_ioctl, R13_connection_counts_up)
{
	struct mflow_info info;
	__u64 conn;
	int i;

	ASSERT_EQ(0, mflow_info(self->fd[1], &info));
	conn = info.connection;
	for (i = 1; i <= 2; i++) {
		close_fd(&self->fd[0]);
		close_fd(&self->fd[1]);
		self->fd[0] = open(self->path, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, self->fd[0]);
		self->fd[1] = open(self->path, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, self->fd[1]);
		ASSERT_EQ(0, mflow_info(self->fd[0], &info));
		EXPECT_EQ(conn + i, info.connection);
		EXPECT_EQ(0U, info.endpoint);
		ASSERT_EQ(0, mflow_info(self->fd[1], &info));
		EXPECT_EQ(conn + i, info.connection);
	}
}

/*
 * Bytes and calls, per endpoint: only calls that moved a byte count;
 * empty, refused and failed calls do not.
 */
TEST_F(mflow_ioctl, R13_stats_count_bytes_and_ops)
{
	struct iovec wv[3] = {
		{ "abc", 3 }, { "", 0 }, { "defghijklmnopqrstuvw", 17 },
	};
	char a[5], b[40];
	struct iovec rv[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct mflow_stats s0, s1;

	ASSERT_EQ(10, write(self->fd[0], "0123456789", 10));
	ASSERT_EQ(20, writev(self->fd[0], wv, 3));
	ASSERT_EQ(0, write(self->fd[0], "x", 0));
	ASSERT_EQ(5, read(self->fd[1], a, 5));
	ASSERT_EQ(0, read(self->fd[1], a, 0));
	ASSERT_EQ(25, readv(self->fd[1], rv, 2));
	ASSERT_EQ(0, set_nonblock(self->fd[1], true));
	ASSERT_EQ(-1, read(self->fd[1], a, 1));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, shut(self->fd[1], MFLOW_SHUT_WR));
	ASSERT_EQ(-1, write(self->fd[1], "x", 1));
	ASSERT_EQ(0, read(self->fd[0], a, 1));

	ASSERT_EQ(0, mflow_stats(self->fd[0], &s0));
	ASSERT_EQ(0, mflow_stats(self->fd[1], &s1));
	EXPECT_EQ(30ULL, s0.write_bytes);
	EXPECT_EQ(2ULL, s0.write_ops);
	EXPECT_EQ(0ULL, s0.read_bytes);
	EXPECT_EQ(0ULL, s0.read_ops);
	EXPECT_EQ(30ULL, s1.read_bytes);
	EXPECT_EQ(2ULL, s1.read_ops);
	EXPECT_EQ(0ULL, s1.write_bytes);
	EXPECT_EQ(0ULL, s1.write_ops);
}

/* The connection's age is positive and grows with time. */
TEST_F(mflow_ioctl, R13_stats_age_grows)
{
	struct mflow_stats a, b, c;

	ASSERT_EQ(0, mflow_stats(self->fd[0], &a));
	sleep_ms(50);
	ASSERT_EQ(0, mflow_stats(self->fd[1], &b));
	ASSERT_EQ(0, mflow_stats(self->fd[0], &c));
	EXPECT_LT(0ULL, a.age_ns);
	EXPECT_LE(a.age_ns + 40 * MSEC, b.age_ns);
	EXPECT_LE(b.age_ns, c.age_ns);
	EXPECT_GT(a.age_ns + 3600000 * MSEC, c.age_ns);
}

/* ---- R14: bad input ---- */

TEST_F(mflow_ioctl, R14_unknown_ioctl_enotty)
{
	const unsigned long cmds[] = {
		_IO(MFLOW_IOC_MAGIC, 0),
		_IO(MFLOW_IOC_MAGIC, 8),
		_IOR(MFLOW_IOC_MAGIC, 99, __u32),
		_IOR(MFLOW_IOC_MAGIC, 4, __u32),	/* INFO, wrong size */
		_IOW(MFLOW_IOC_MAGIC, 4, struct mflow_info), /* wrong dir */
		_IOW(MFLOW_IOC_MAGIC, 1, __u64),	/* SHUTDOWN, size */
		_IOR(MFLOW_IOC_MAGIC, 2, struct mflow_close_args),
		_IOR('x', 1, int),
		TCGETS,
	};
	struct mflow_info before, after;
	char buf[64] = {};
	unsigned int i;

	ASSERT_EQ(0, mflow_info(self->fd[0], &before));
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		EXPECT_EQ(-1, ioctl(self->fd[0], cmds[i], buf))
			TH_LOG("cmd 0x%lx", cmds[i]);
		EXPECT_EQ(ENOTTY, errno) TH_LOG("cmd 0x%lx", cmds[i]);
	}
	EXPECT_FALSE(isatty(self->fd[0]));
	ASSERT_EQ(0, mflow_info(self->fd[0], &after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(after)));
}

/* Every ioctl that takes a pointer fails with EFAULT on a bad one. */
TEST_F(mflow_ioctl, R14_bad_pointer_efault_changes_nothing)
{
	const unsigned long cmds[] = {
		MFLOW_IOC_SHUTDOWN, MFLOW_IOC_CLOSE, MFLOW_IOC_OUTQ,
		MFLOW_IOC_INFO, MFLOW_IOC_STATS, MFLOW_IOC_GET_OPTS,
		MFLOW_IOC_SET_OPTS, MFLOW_IOC_GET_BUSY_POLL,
		MFLOW_IOC_SET_BUSY_POLL, FIONREAD,
	};
	void *const bad[] = { (void *)1, (void *)-4096L };
	unsigned int i, j;
	__u32 opts = ~0U;

	ASSERT_EQ(3, write(self->fd[1], "abc", 3));
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		for (j = 0; j < 2; j++) {
			EXPECT_EQ(-1, ioctl(self->fd[0], cmds[i], bad[j]))
				TH_LOG("cmd 0x%lx", cmds[i]);
			EXPECT_EQ(EFAULT, errno) TH_LOG("cmd 0x%lx", cmds[i]);
		}
	}
	EXPECT_EQ(-1, ioctl(self->fd[0], MFLOW_IOC_INFO, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(MFLOW_INFO_PEER_ATTACHED, info_flags(self->fd[0]));
	EXPECT_EQ(MFLOW_INFO_PEER_ATTACHED, info_flags(self->fd[1]));
	ASSERT_EQ(0, ioctl(self->fd[0], MFLOW_IOC_GET_OPTS, &opts));
	EXPECT_EQ(0U, opts);
	EXPECT_EQ(0U, busy_poll(self->fd[0]));
	EXPECT_EQ(3, fionread(self->fd[0]));
	EXPECT_EQ(1, write(self->fd[0], "x", 1));
}

/*
 * The busy-poll time: 0 at connection start, set per endpoint up to
 * MFLOW_BUSY_POLL_MAX, shown in fdinfo; a larger value is refused and
 * changes nothing; a new connection starts at 0 again.
 */
TEST_F(mflow_ioctl, R14_busy_poll_range_per_endpoint)
{
	static const __u32 bad[] = { MFLOW_BUSY_POLL_MAX + 1, 1U << 31, ~0U };
	unsigned int i;
	__u32 us;

	EXPECT_EQ(0U, busy_poll(self->fd[0]));
	us = 50;
	ASSERT_EQ(0, ioctl(self->fd[0], MFLOW_IOC_SET_BUSY_POLL, &us));
	EXPECT_EQ(50U, busy_poll(self->fd[0]));
	EXPECT_EQ(0U, busy_poll(self->fd[1]));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-1, ioctl(self->fd[0], MFLOW_IOC_SET_BUSY_POLL,
				    &bad[i]));
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_EQ(50U, busy_poll(self->fd[0]));
	us = MFLOW_BUSY_POLL_MAX;
	ASSERT_EQ(0, ioctl(self->fd[0], MFLOW_IOC_SET_BUSY_POLL, &us));
	EXPECT_EQ((__u32)MFLOW_BUSY_POLL_MAX, busy_poll(self->fd[0]));
	EXPECT_EQ(MFLOW_BUSY_POLL_MAX,
		  fdinfo_num(self->fd[0], "mflow-busy-poll-us"));
	EXPECT_EQ(0, fdinfo_num(self->fd[1], "mflow-busy-poll-us"));

	close_fd(&self->fd[0]);
	close_fd(&self->fd[1]);
	mflow_open_pair(_metadata, self->path, O_RDWR, O_RDWR, self->fd);
	EXPECT_EQ(0U, busy_poll(self->fd[0]));
	EXPECT_EQ(0U, busy_poll(self->fd[1]));
}

TEST_F(mflow_ioctl, R14_set_opts_unknown_bits_einval)
{
	/* The lowest bit no option has. */
	const __u32 unknown = (MFLOW_OPT_ALL + 1) & ~MFLOW_OPT_ALL;
	const __u32 bad[] = { unknown, 1U << 31, ~0U,
			      MFLOW_OPT_NOSIGPIPE | 1U << 5 };
	unsigned int i;
	__u32 opts;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_EQ(-EINVAL, set_opts(self->fd[0], bad[i]));
	ASSERT_EQ(0, ioctl(self->fd[0], MFLOW_IOC_GET_OPTS, &opts));
	EXPECT_EQ(0U, opts);
	EXPECT_FALSE(HAS(info_flags(self->fd[0]), MFLOW_INFO_NOSIGPIPE));

	ASSERT_EQ(0, set_opts(self->fd[0], MFLOW_OPT_NOSIGPIPE));
	ASSERT_EQ(0, ioctl(self->fd[0], MFLOW_IOC_GET_OPTS, &opts));
	EXPECT_EQ(MFLOW_OPT_NOSIGPIPE, opts);
	EXPECT_EQ(-EINVAL, set_opts(self->fd[0], unknown));
	ASSERT_EQ(0, ioctl(self->fd[0], MFLOW_IOC_GET_OPTS, &opts));
	EXPECT_EQ(MFLOW_OPT_NOSIGPIPE, opts);
	/* Every option set at once reads back as set. */
	ASSERT_EQ(0, set_opts(self->fd[0], MFLOW_OPT_ALL));
	ASSERT_EQ(0, ioctl(self->fd[0], MFLOW_IOC_GET_OPTS, &opts));
	EXPECT_EQ(MFLOW_OPT_ALL, opts);
	ASSERT_EQ(0, set_opts(self->fd[0], 0));
	ASSERT_EQ(0, ioctl(self->fd[0], MFLOW_IOC_GET_OPTS, &opts));
	EXPECT_EQ(0U, opts);
	ASSERT_EQ(0, ioctl(self->fd[1], MFLOW_IOC_GET_OPTS, &opts));
	EXPECT_EQ(0U, opts);
}

TEST_F(mflow_ioctl, R14_shutdown_bad_how_einval)
{
	EXPECT_EQ(-EINVAL, shut(self->fd[0], 3));
	EXPECT_EQ(-EINVAL, shut(self->fd[0], ~0U));
	EXPECT_EQ(MFLOW_INFO_PEER_ATTACHED, info_flags(self->fd[0]));
	EXPECT_EQ(MFLOW_INFO_PEER_ATTACHED, info_flags(self->fd[1]));
}

/*
 * Close arguments through this ABI: bad flags or reserved fail with
 * EINVAL and leave the write side open; a valid timeout is honoured.
 */
TEST_F(mflow_ioctl, R14_close_args_einval_then_timeout)
{
	struct mflow_close_args a = {
		.timeout_ns = 50 * MSEC,
		.flags = MFLOW_CLOSE_TIMEOUT | 1U << 7,
	};
	uint64_t t;

	EXPECT_EQ(-1, ioctl(self->fd[0], MFLOW_IOC_CLOSE, &a));
	EXPECT_EQ(EINVAL, errno);
	a.flags = MFLOW_CLOSE_TIMEOUT;
	a.reserved = 0x80000000U;
	EXPECT_EQ(-1, ioctl(self->fd[0], MFLOW_IOC_CLOSE, &a));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MFLOW_INFO_PEER_ATTACHED, info_flags(self->fd[0]));
	EXPECT_EQ(1, write(self->fd[0], "x", 1));

	a.reserved = 0;
	t = now_ns();
	EXPECT_EQ(-1, ioctl(self->fd[0], MFLOW_IOC_CLOSE, &a));
	EXPECT_EQ(ETIMEDOUT, errno);
	EXPECT_LE(50 * MSEC, now_ns() - t);
	EXPECT_TRUE(HAS(info_flags(self->fd[0]), MFLOW_INFO_WR_SHUT));
}

/* A write from a bad buffer fails with EFAULT and writes nothing. */
TEST_F(mflow_ioctl, R14_write_bad_pointer_efault_writes_nothing)
{
	struct iovec iov[2] = { { (void *)1, 10 }, { "ok", 2 } };
	struct mflow_stats st;

	EXPECT_EQ(-1, write(self->fd[0], bad_ptr(), 10));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, writev(self->fd[0], iov, 2));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, fionread(self->fd[1]));
	EXPECT_EQ(0, outq(self->fd[0]));
	ASSERT_EQ(0, mflow_stats(self->fd[0], &st));
	EXPECT_EQ(0ULL, st.write_bytes);
	EXPECT_EQ(0ULL, st.write_ops);
	EXPECT_EQ(2, write(self->fd[0], "ok", 2));
	EXPECT_EQ(2, fionread(self->fd[1]));
}

/* A read into a bad buffer fails with EFAULT and consumes nothing. */
TEST_F(mflow_ioctl, R14_read_bad_pointer_efault_consumes_nothing)
{
	struct mflow_stats st;
	char buf[16] = {};

	ASSERT_EQ(10, write(self->fd[0], "0123456789", 10));
	EXPECT_EQ(-1, read(self->fd[1], bad_ptr(), 10));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(10, fionread(self->fd[1]));
	EXPECT_EQ(10, outq(self->fd[0]));
	ASSERT_EQ(0, mflow_stats(self->fd[1], &st));
	EXPECT_EQ(0ULL, st.read_ops);
	EXPECT_EQ(10, read(self->fd[1], buf, sizeof(buf)));
	EXPECT_STREQ("0123456789", buf);
}

/*
 * A read whose buffer runs into an unmapped page: the bytes it reports
 * (none on EFAULT) are the bytes consumed, and the rest follows in order.
 */
TEST_F(mflow_ioctl, R14_read_into_fault_loses_nothing)
{
	long page = sysconf(_SC_PAGESIZE);
	static uint8_t in[8192], out[8192];
	uint8_t *map;
	ssize_t r;
	long got;

	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, munmap(map + page, page));
	pat_fill(in, 0, sizeof(in));
	ASSERT_EQ((ssize_t)sizeof(in), write(self->fd[0], in, sizeof(in)));

	r = read(self->fd[1], map + page - 100, 200);
	if (r < 0)
		EXPECT_EQ(EFAULT, errno);
	EXPECT_NE(0, r) TH_LOG("0 is EOF, and 8192 bytes are there");
	EXPECT_GE(100, r);
	got = r > 0 ? r : 0;
	EXPECT_EQ(-1, pat_mismatch(map + page - 100, 0, got));
	EXPECT_EQ((long)sizeof(in) - got, fionread(self->fd[1]));
	ASSERT_EQ((ssize_t)sizeof(in) - got,
		  read_full(self->fd[1], out, sizeof(in) - got));
	EXPECT_EQ(-1, pat_mismatch(out, got, sizeof(in) - got));
	munmap(map, page);
}

/* A stream has no file position. */
TEST_F(mflow_ioctl, R14_lseek_pread_pwrite_espipe)
{
	char c;

	EXPECT_EQ(-1, lseek(self->fd[0], 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(-1, lseek(self->fd[0], 0, SEEK_CUR));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(-1, pwrite(self->fd[0], "x", 1, 0));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(-1, pread(self->fd[1], &c, 1, 0));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(0, fionread(self->fd[1]));
}

/* The ioctl numbers do not depend on the caller's word size. */
TEST_F(mflow_ioctl, R14_ioctl_numbers_fixed)
{
	TH_LOG("%zu-bit caller", sizeof(long) * 8);
	EXPECT_EQ(0x4004e301UL, (unsigned long)MFLOW_IOC_SHUTDOWN);
	EXPECT_EQ(0x4010e302UL, (unsigned long)MFLOW_IOC_CLOSE);
	EXPECT_EQ(0x8004e303UL, (unsigned long)MFLOW_IOC_OUTQ);
	EXPECT_EQ(0x8020e304UL, (unsigned long)MFLOW_IOC_INFO);
	EXPECT_EQ(0x8028e305UL, (unsigned long)MFLOW_IOC_STATS);
	EXPECT_EQ(0x8004e306UL, (unsigned long)MFLOW_IOC_GET_OPTS);
	EXPECT_EQ(0x4004e307UL, (unsigned long)MFLOW_IOC_SET_OPTS);
	EXPECT_EQ(0x8004e308UL, (unsigned long)MFLOW_IOC_GET_BUSY_POLL);
	EXPECT_EQ(0x4004e309UL, (unsigned long)MFLOW_IOC_SET_BUSY_POLL);
}

/*
 * The 32-bit build (mflow_ioctl_32) runs the tests of each ioctl's
 * arguments; the queue figures under traffic and the read and write cases
 * run natively only.
 */
MFLOW_COMPAT_MAIN(
		  "R12_fionread_counts_readable_bytes",
		  "R12_outq_counts_written_unread_bytes",
		  "R13_info_fields",
		  "R13_info_flags_follow_state",
		  "R13_stats_count_bytes_and_ops",
		  "R14_unknown_ioctl_enotty",
		  "R14_bad_pointer_efault_changes_nothing",
		  "R14_busy_poll_range_per_endpoint",
		  "R14_set_opts_unknown_bits_einval",
		  "R14_shutdown_bad_how_einval",
		  "R14_close_args_einval_then_timeout",
		  "R14_ioctl_numbers_fixed")
