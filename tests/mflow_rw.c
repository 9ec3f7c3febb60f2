// SPDX-License-Identifier: GPL-2.0
/*
 * mflow data path from user space: attach (R1), read (R2, R3), EOF (R4),
 * write (R5, R6, R7) and detach (R10).
 *
 * The mflow_rw fixture attaches both endpoints of the console read-write;
 * mflow_open leaves the opening to the test; mflow_atomic runs concurrent
 * writers sharing one endpoint in each of its variants.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "mflow_test.h"

static int console_index(const char *path)
{
	return atoi(path + strlen("/dev/mflow"));
}

MFLOW_PAIR_FIXTURE(mflow_rw, 0)

/* ---- R1: open ---- */

/* Endpoints 0 then 1, same console and connection, each sees its peer. */
TEST_F(mflow_rw, R1_open_attaches_endpoint0_then_endpoint1)
{
	struct mflow_info i0, i1;

	ASSERT_EQ(0, mflow_info(self->fd[0], &i0));
	ASSERT_EQ(0, mflow_info(self->fd[1], &i1));
	EXPECT_EQ(0U, i0.endpoint);
	EXPECT_EQ(1U, i1.endpoint);
	EXPECT_EQ((__u32)console_index(self->path), i0.console);
	EXPECT_EQ(i0.console, i1.console);
	EXPECT_LE(1ULL, i0.connection);
	EXPECT_EQ(i0.connection, i1.connection);
	EXPECT_EQ(i0.fifo_size, i1.fifo_size);
	EXPECT_EQ(MFLOW_INFO_PEER_ATTACHED, i0.flags);
	EXPECT_EQ(MFLOW_INFO_PEER_ATTACHED, i1.flags);
}

/* A third open fails with EBUSY whatever its mode, and changes nothing. */
TEST_F(mflow_rw, R1_third_open_ebusy_changes_nothing)
{
	static const int modes[] = { O_RDWR, O_RDONLY, O_WRONLY,
				     O_RDWR | O_NONBLOCK };
	struct mflow_info b0, b1, a0, a1;
	char c = 0;
	unsigned int i;
	int fd;

	ASSERT_EQ(1, write(self->fd[0], "x", 1));
	ASSERT_EQ(0, mflow_info(self->fd[0], &b0));
	ASSERT_EQ(0, mflow_info(self->fd[1], &b1));
	for (i = 0; i < ARRAY_SIZE(modes); i++) {
		fd = open(self->path, modes[i] | O_CLOEXEC);
		EXPECT_EQ(-1, fd);
		EXPECT_EQ(EBUSY, errno);
		if (fd >= 0)
			close(fd);
	}
	ASSERT_EQ(0, mflow_info(self->fd[0], &a0));
	ASSERT_EQ(0, mflow_info(self->fd[1], &a1));
	EXPECT_EQ(0, memcmp(&b0, &a0, sizeof(a0)));
	EXPECT_EQ(0, memcmp(&b1, &a1, sizeof(a1)));
	EXPECT_EQ(1, fionread(self->fd[1]));
	ASSERT_EQ(1, read(self->fd[1], &c, 1));
	EXPECT_EQ('x', c);
}

/* dup() and fork() share an endpoint; neither attaches a new one. */
TEST_F(mflow_rw, R1_dup_and_fork_share_the_endpoint)
{
	struct mflow_info info;
	char buf[4] = {};
	int dupfd;
	pid_t pid;

	dupfd = dup(self->fd[0]);
	ASSERT_LE(0, dupfd);
	ASSERT_EQ(0, mflow_info(dupfd, &info));
	EXPECT_EQ(0U, info.endpoint);
	ASSERT_EQ(1, write(dupfd, "a", 1));
	close(dupfd);

	pid = spawn();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		CHILD_CHECK(mflow_info(self->fd[0], &info) == 0);
		CHILD_CHECK(info.endpoint == 0);
		CHILD_CHECK(write(self->fd[0], "b", 1) == 1);
		_exit(0);
	}
	ASSERT_EQ(0, reap(pid, 10000));

	EXPECT_EQ(MFLOW_INFO_PEER_ATTACHED, info_flags(self->fd[1]));
	ASSERT_EQ(2, read_full(self->fd[1], buf, 2));
	EXPECT_STREQ("ab", buf);
}

/*
 * An endpoint that detached may not attach again in the same connection;
 * once both have detached the console starts connection + 1.
 */
TEST_F(mflow_rw, R1_detached_endpoint_cannot_reattach)
{
	struct mflow_info info;
	__u64 conn;
	int fd;

	ASSERT_EQ(0, mflow_info(self->fd[0], &info));
	conn = info.connection;
	close_fd(&self->fd[0]);

	fd = open(self->path, O_RDWR | O_CLOEXEC);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EBUSY, errno);
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(0, mflow_info(self->fd[1], &info));
	EXPECT_EQ(conn, info.connection);
	EXPECT_TRUE(HAS(info.flags, MFLOW_INFO_PEER_DETACHED));
	EXPECT_FALSE(HAS(info.flags, MFLOW_INFO_PEER_ATTACHED));

	close_fd(&self->fd[1]);
	self->fd[0] = open(self->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd[0]);
	self->fd[1] = open(self->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd[1]);
	ASSERT_EQ(0, mflow_info(self->fd[0], &info));
	EXPECT_EQ(0U, info.endpoint);
	EXPECT_EQ(conn + 1, info.connection);
}

/* A new connection sees nothing of the old: data, shutdowns, options. */
TEST_F(mflow_rw, R1_new_connection_starts_clean)
{
	struct mflow_stats st;
	struct mflow_info info;
	__u64 conn;
	char c;
	int i;

	ASSERT_EQ(0, mflow_info(self->fd[0], &info));
	conn = info.connection;
	ASSERT_EQ(3, write(self->fd[0], "abc", 3));
	ASSERT_EQ(4, write(self->fd[1], "defg", 4));
	ASSERT_EQ(0, set_opts(self->fd[0], MFLOW_OPT_NOSIGPIPE));
	ASSERT_EQ(0, shut(self->fd[1], MFLOW_SHUT_WR));
	close_fd(&self->fd[0]);
	close_fd(&self->fd[1]);

	mflow_open_pair(_metadata, self->path, O_RDWR | O_NONBLOCK,
			O_RDWR | O_NONBLOCK, self->fd);
	for (i = 0; i < 2; i++) {
		__u32 opts = ~0U;

		ASSERT_EQ(0, mflow_info(self->fd[i], &info));
		EXPECT_EQ(conn + 1, info.connection);
		EXPECT_EQ(MFLOW_INFO_PEER_ATTACHED, info.flags);
		EXPECT_EQ(0, fionread(self->fd[i]));
		EXPECT_EQ(0, outq(self->fd[i]));
		EXPECT_EQ(-1, read(self->fd[i], &c, 1));
		EXPECT_EQ(EAGAIN, errno);
		ASSERT_EQ(0, ioctl(self->fd[i], MFLOW_IOC_GET_OPTS, &opts));
		EXPECT_EQ(0U, opts);
		ASSERT_EQ(0, mflow_stats(self->fd[i], &st));
		EXPECT_EQ(0ULL, st.read_bytes + st.read_ops);
		EXPECT_EQ(0ULL, st.write_bytes + st.write_ops);
	}
}

FIXTURE(mflow_open)
{
	char path[32];
	int fd[2];
};

FIXTURE_SETUP(mflow_open)
{
	self->fd[0] = -1;
	self->fd[1] = -1;
	mflow_path(self->path, sizeof(self->path), 0);
	if (access(self->path, F_OK))
		SKIP(return, "%s missing: is mflow loaded?", self->path);
	sigpipe_block();
}

FIXTURE_TEARDOWN(mflow_open)
{
	close_fd(&self->fd[0]);
	close_fd(&self->fd[1]);
}

/*
 * O_RDONLY attaches an endpoint whose write side is shut: the peer reads
 * EOF at once and sees PEER_WR_SHUT. write(2) itself never reaches the
 * driver on such a file: the VFS refuses it with EBADF.
 */
TEST_F(mflow_open, R1_rdonly_endpoint_write_side_shut)
{
	char c = 0;

	mflow_open_pair(_metadata, self->path, O_RDONLY, O_RDWR, self->fd);
	EXPECT_EQ(MFLOW_INFO_WR_SHUT | MFLOW_INFO_PEER_ATTACHED,
		  info_flags(self->fd[0]));
	EXPECT_EQ(MFLOW_INFO_PEER_WR_SHUT | MFLOW_INFO_PEER_ATTACHED,
		  info_flags(self->fd[1]));
	EXPECT_EQ(-1, write(self->fd[0], "x", 1));
	EXPECT_EQ(EBADF, errno);

	ASSERT_EQ(0, set_nonblock(self->fd[1], true));
	EXPECT_EQ(0, read(self->fd[1], &c, 1));

	ASSERT_EQ(1, write(self->fd[1], "y", 1));
	ASSERT_EQ(1, read(self->fd[0], &c, 1));
	EXPECT_EQ('y', c);
	EXPECT_FALSE(sigpipe_taken());
}

/*
 * O_WRONLY attaches an endpoint whose read side is shut: the peer's
 * writes fail with EPIPE; read(2) on it is refused by the VFS (EBADF).
 */
TEST_F(mflow_open, R1_wronly_endpoint_read_side_shut)
{
	char c = 0;

	mflow_open_pair(_metadata, self->path, O_WRONLY, O_RDWR, self->fd);
	EXPECT_EQ(MFLOW_INFO_RD_SHUT | MFLOW_INFO_PEER_ATTACHED,
		  info_flags(self->fd[0]));
	EXPECT_EQ(MFLOW_INFO_PEER_RD_SHUT | MFLOW_INFO_PEER_ATTACHED,
		  info_flags(self->fd[1]));
	EXPECT_EQ(-1, read(self->fd[0], &c, 1));
	EXPECT_EQ(EBADF, errno);

	EXPECT_EQ(-1, write(self->fd[1], "x", 1));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_TRUE(sigpipe_taken());
	EXPECT_EQ(0, outq(self->fd[1]));

	ASSERT_EQ(1, write(self->fd[0], "y", 1));
	ASSERT_EQ(1, read(self->fd[1], &c, 1));
	EXPECT_EQ('y', c);
}

/* A writer-only endpoint 0 and a reader-only endpoint 1 (a shell pipe). */
TEST_F(mflow_open, R1_wronly_then_rdonly_one_way_stream)
{
	char buf[8] = {};

	mflow_open_pair(_metadata, self->path, O_WRONLY, O_RDONLY, self->fd);
	EXPECT_EQ(MFLOW_INFO_RD_SHUT | MFLOW_INFO_PEER_WR_SHUT |
		  MFLOW_INFO_PEER_ATTACHED, info_flags(self->fd[0]));
	EXPECT_EQ(MFLOW_INFO_WR_SHUT | MFLOW_INFO_PEER_RD_SHUT |
		  MFLOW_INFO_PEER_ATTACHED, info_flags(self->fd[1]));
	ASSERT_EQ(2, write(self->fd[0], "hi", 2));
	close_fd(&self->fd[0]);
	EXPECT_EQ(2, read_full(self->fd[1], buf, sizeof(buf)));
	EXPECT_STREQ("hi", buf);
}

/*
 * Endpoint 0 writes and detaches before endpoint 1 ever attaches: the
 * connection is still live, so the next open gets endpoint 1 and reads
 * the data, then EOF. Only after that does the console reset.
 */
TEST_F(mflow_open, R1_R4_endpoint1_attaches_after_endpoint0_left)
{
	struct mflow_info info;
	char buf[8] = {};
	__u64 conn;

	self->fd[0] = mflow_attach0(_metadata, self->path, O_RDWR);
	ASSERT_EQ(0, mflow_info(self->fd[0], &info));
	conn = info.connection;
	EXPECT_EQ(0U, info.flags & (MFLOW_INFO_PEER_ATTACHED |
				    MFLOW_INFO_PEER_DETACHED));
	ASSERT_EQ(2, write(self->fd[0], "hi", 2));
	close_fd(&self->fd[0]);

	self->fd[1] = open(self->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd[1]);
	ASSERT_EQ(0, mflow_info(self->fd[1], &info));
	EXPECT_EQ(1U, info.endpoint);
	EXPECT_EQ(conn, info.connection);
	EXPECT_TRUE(HAS(info.flags, MFLOW_INFO_PEER_DETACHED));
	EXPECT_TRUE(HAS(info.flags, MFLOW_INFO_PEER_WR_SHUT));
	EXPECT_FALSE(HAS(info.flags, MFLOW_INFO_PEER_ATTACHED));
	EXPECT_EQ(2, read_full(self->fd[1], buf, sizeof(buf)));
	EXPECT_STREQ("hi", buf);
	EXPECT_EQ(-1, write(self->fd[1], "x", 1));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_TRUE(sigpipe_taken());
	close_fd(&self->fd[1]);

	mflow_open_pair(_metadata, self->path, O_RDWR, O_RDWR, self->fd);
	ASSERT_EQ(0, mflow_info(self->fd[0], &info));
	EXPECT_EQ(conn + 1, info.connection);
}

/* The text of /sys/class/mflow/mflow<N>/<attr> for @path, or "". */
static void sysfs_attr(const char *path, const char *attr, char *buf,
		       size_t len)
{
	char name[96];
	ssize_t n;
	int fd;

	snprintf(name, sizeof(name), "/sys/class/mflow/mflow%d/%s",
		 console_index(path), attr);
	buf[0] = '\0';
	fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
}

/* Opens the driver must refuse before it attaches anything. */
static const struct {
	int flags;
	const char *what;
} refused_opens[] = {
	/* the VFS fails these after ->open: no direct I/O on a stream */
	{ O_RDWR | O_DIRECT, "O_RDWR|O_DIRECT" },
	{ O_RDONLY | O_DIRECT, "O_RDONLY|O_DIRECT" },
	{ O_WRONLY | O_DIRECT, "O_WRONLY|O_DIRECT" },
	{ O_RDWR | O_DIRECT | O_NONBLOCK, "O_RDWR|O_DIRECT|O_NONBLOCK" },
	/* access mode 3 (ioctl only): an endpoint that could do nothing */
	{ O_ACCMODE, "access mode 3" },
	{ O_ACCMODE | O_NONBLOCK, "access mode 3|O_NONBLOCK" },
};

/* The refused open number @i of @path fails with EINVAL. */
static void expect_open_refused(struct __test_metadata *_metadata,
				const char *path, unsigned int i)
{
	int fd = open(path, refused_opens[i].flags | O_CLOEXEC);

	EXPECT_EQ(-1, fd) TH_LOG("%s opened", refused_opens[i].what);
	EXPECT_EQ(EINVAL, errno) TH_LOG("%s", refused_opens[i].what);
	if (fd >= 0)
		close(fd);
}

/*
 * An open that fails, in mflow or in the VFS after mflow's open ran, leaves
 * an idle console idle: same state, same connection number, and the next
 * open attaches endpoint 0 of a new connection with nothing shut.
 */
TEST_F(mflow_open, R1_R14_R15_failed_open_leaves_idle_console_idle)
{
	char state[32], conn[32], attached[32], s[32];
	struct mflow_info info;
	unsigned int i;

	sysfs_attr(self->path, "state", state, sizeof(state));
	sysfs_attr(self->path, "connection", conn, sizeof(conn));
	sysfs_attr(self->path, "attached", attached, sizeof(attached));
	ASSERT_STREQ("idle\n", state);
	for (i = 0; i < ARRAY_SIZE(refused_opens); i++) {
		expect_open_refused(_metadata, self->path, i);
		sysfs_attr(self->path, "state", s, sizeof(s));
		EXPECT_STREQ(state, s) TH_LOG("after %s",
					      refused_opens[i].what);
		sysfs_attr(self->path, "connection", s, sizeof(s));
		EXPECT_STREQ(conn, s) TH_LOG("after %s",
					     refused_opens[i].what);
		sysfs_attr(self->path, "attached", s, sizeof(s));
		EXPECT_STREQ(attached, s) TH_LOG("after %s",
						 refused_opens[i].what);
	}

	self->fd[0] = open(self->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd[0]);
	ASSERT_EQ(0, mflow_info(self->fd[0], &info));
	EXPECT_EQ(0U, info.endpoint);
	EXPECT_EQ(strtoull(conn, NULL, 10) + 1, info.connection);
	EXPECT_EQ(0U, info.flags);
	/* Endpoint 1 too, so that the teardown ends this connection. */
	self->fd[1] = open(self->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd[1]);
}

/*
 * With endpoint 0 waiting for its peer, failed opens change nothing it can
 * see: no peer comes and goes, nothing is shut, and the next good open
 * attaches endpoint 1 with both directions working.
 */
TEST_F(mflow_open, R1_R14_R15_failed_open_leaves_waiting_endpoint_alone)
{
	struct mflow_info before, after;
	char buf[4] = {};
	unsigned int i;

	self->fd[0] = mflow_attach0(_metadata, self->path,
				    O_RDWR | O_NONBLOCK);
	ASSERT_EQ(0, mflow_info(self->fd[0], &before));
	ASSERT_EQ(2, write(self->fd[0], "hi", 2));
	for (i = 0; i < ARRAY_SIZE(refused_opens); i++) {
		expect_open_refused(_metadata, self->path, i);
		ASSERT_EQ(0, mflow_info(self->fd[0], &after));
		EXPECT_EQ(0, memcmp(&before, &after, sizeof(after)))
			TH_LOG("after %s: flags %#x", refused_opens[i].what,
			       after.flags);
		EXPECT_EQ(-1, read(self->fd[0], buf, 1))
			TH_LOG("after %s: EOF", refused_opens[i].what);
		EXPECT_EQ(EAGAIN, errno);
		EXPECT_EQ(2, outq(self->fd[0]));
	}

	self->fd[1] = open(self->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd[1]) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, mflow_info(self->fd[1], &after));
	EXPECT_EQ(1U, after.endpoint);
	EXPECT_EQ(before.connection, after.connection);
	EXPECT_EQ(MFLOW_INFO_PEER_ATTACHED, after.flags);
	EXPECT_EQ(2, read(self->fd[1], buf, sizeof(buf)));
	EXPECT_STREQ("hi", buf);
	ASSERT_EQ(2, write(self->fd[1], "ok", 2));
	EXPECT_EQ(2, read(self->fd[0], buf, sizeof(buf)));
	EXPECT_STREQ("ok", buf);
}

/* O_NONBLOCK given to open(2) applies to reads: EAGAIN while empty. */
TEST_F(mflow_open, R3_open_nonblock_read_eagain)
{
	char c;

	mflow_open_pair(_metadata, self->path, O_RDWR, O_RDWR | O_NONBLOCK,
			self->fd);
	EXPECT_EQ(-1, read(self->fd[1], &c, 1));
	EXPECT_EQ(EAGAIN, errno);
}

/* ---- R2: read ---- */

TEST_F(mflow_rw, R2_read_returns_what_is_available)
{
	char buf[100] = {};

	ASSERT_EQ(3, write(self->fd[0], "abc", 3));
	EXPECT_EQ(3, read(self->fd[1], buf, sizeof(buf)));
	EXPECT_STREQ("abc", buf);
	EXPECT_EQ(0, fionread(self->fd[1]));
}

/* A short read leaves the rest, in order, for the next one. */
TEST_F(mflow_rw, R2_read_partial_count_keeps_the_rest)
{
	uint8_t in[10], out[100];

	pat_fill(in, 0, sizeof(in));
	ASSERT_EQ(10, write(self->fd[0], in, sizeof(in)));
	ASSERT_EQ(4, read(self->fd[1], out, 4));
	EXPECT_EQ(6, fionread(self->fd[1]));
	ASSERT_EQ(6, read(self->fd[1], out + 4, sizeof(out) - 4));
	EXPECT_EQ(-1, pat_mismatch(out, 0, 10));
}

/* Count 0 returns 0 at once, empty stream or not, and consumes nothing. */
TEST_F(mflow_rw, R2_read_count_zero_returns_zero)
{
	char c;

	EXPECT_EQ(0, read(self->fd[1], &c, 0));
	ASSERT_EQ(2, write(self->fd[0], "ab", 2));
	EXPECT_EQ(0, read(self->fd[1], &c, 0));
	EXPECT_EQ(2, fionread(self->fd[1]));
}

TEST_F(mflow_rw, R2_readv_fills_iovecs_in_order)
{
	char a[3] = {}, b[4] = {}, c[10] = {};
	struct iovec iov[] = {
		{ a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) },
	};

	ASSERT_EQ(10, write(self->fd[0], "0123456789", 10));
	ASSERT_EQ(10, readv(self->fd[1], iov, 3));
	EXPECT_EQ(0, memcmp(a, "012", 3));
	EXPECT_EQ(0, memcmp(b, "3456", 4));
	EXPECT_EQ(0, memcmp(c, "789", 3));
}

/* A blocked read returns the first bytes that arrive, not count bytes. */
TEST_F(mflow_rw, R2_blocked_read_returns_first_bytes)
{
	pid_t pid;

	pid = spawn_keeping(self->fd, 1);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char buf[1000];

		CHILD_CHECK(read(self->fd[1], buf, sizeof(buf)) == 5);
		CHILD_CHECK(memcmp(buf, "hello", 5) == 0);
		_exit(0);
	}
	ASSERT_TRUE(wait_blocked(pid));
	ASSERT_EQ(5, write(self->fd[0], "hello", 5));
	EXPECT_EQ(0, reap(pid, 10000));
}

/* ---- R3: blocking ---- */

/* A helper keeping endpoint 1 whose one read must return "z". */
static pid_t spawn_reader_of_z(int fd[2])
{
	pid_t pid = spawn_keeping(fd, 1);

	if (pid == 0) {
		char c;

		CHILD_CHECK(read(fd[1], &c, 1) == 1 && c == 'z');
		_exit(0);
	}
	return pid;
}

/* An empty stream blocks the reader until a byte comes. */
TEST_F(mflow_rw, R3_read_blocks_while_empty)
{
	pid_t pid;

	pid = spawn_reader_of_z(self->fd);
	ASSERT_LE(0, pid);
	ASSERT_TRUE(wait_blocked(pid));
	sleep_ms(200);
	ASSERT_EQ(0, waitpid(pid, NULL, WNOHANG));
	ASSERT_EQ(1, write(self->fd[0], "z", 1));
	EXPECT_EQ(0, reap(pid, 10000));
}

TEST_F(mflow_rw, R3_nonblock_read_eagain)
{
	char buf[8];

	ASSERT_EQ(0, set_nonblock(self->fd[1], true));
	EXPECT_EQ(-1, read(self->fd[1], buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(2, write(self->fd[0], "ab", 2));
	EXPECT_EQ(2, read(self->fd[1], buf, sizeof(buf)));
	EXPECT_EQ(-1, read(self->fd[1], buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
}

/*
 * preadv2(RWF_NOWAIT), the flag io_uring uses to try a read inline, is
 * taken: EAGAIN while empty, the bytes once there, and the file stays a
 * blocking one.
 */
TEST_F(mflow_rw, R3_rwf_nowait_read_eagain_then_data)
{
	char buf[8] = {};
	struct iovec iov = { buf, sizeof(buf) };

	EXPECT_EQ(-1, preadv2(self->fd[1], &iov, 1, -1, RWF_NOWAIT));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(2, write(self->fd[0], "ab", 2));
	EXPECT_EQ(2, preadv2(self->fd[1], &iov, 1, -1, RWF_NOWAIT));
	EXPECT_EQ(0, memcmp(buf, "ab", 2));
	EXPECT_EQ(-1, preadv2(self->fd[1], &iov, 1, -1, RWF_NOWAIT));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(0, fcntl(self->fd[1], F_GETFL) & O_NONBLOCK);
	/* At EOF it returns 0, as a blocking read would. */
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	EXPECT_EQ(0, preadv2(self->fd[1], &iov, 1, -1, RWF_NOWAIT));
}

/*
 * Busy polling (MFLOW_IOC_SET_BUSY_POLL) keeps R2 to R4: one-byte round
 * trips between two busy-polling endpoints carry every byte in order, and
 * EOF reaches a reader that spins.
 */
TEST_F(mflow_rw, R2_R4_busy_polling_round_trips_and_eof)
{
	const int rounds = 2000;
	uint8_t c;
	pid_t pid;
	int i;

	ASSERT_EQ(0, set_busy_poll(self->fd[0], 200));
	ASSERT_EQ(0, set_busy_poll(self->fd[1], 200));
	pid = spawn_keeping(self->fd, 1);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		for (i = 0; i < rounds; i++) {
			CHILD_CHECK(read(self->fd[1], &c, 1) == 1);
			CHILD_CHECK(c == (uint8_t)i);
			c++;
			CHILD_CHECK(write(self->fd[1], &c, 1) == 1);
		}
		CHILD_CHECK(read(self->fd[1], &c, 1) == 0);
		_exit(0);
	}
	for (i = 0; i < rounds; i++) {
		c = i;
		ASSERT_EQ(1, write(self->fd[0], &c, 1));
		ASSERT_EQ(1, read(self->fd[0], &c, 1));
		ASSERT_EQ((uint8_t)(i + 1), c);
	}
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	EXPECT_EQ(0, reap(pid, 10000));
}

/* A busy-polling reader with nothing to read ends up asleep (R3). */
TEST_F(mflow_rw, R3_busy_polling_reader_sleeps_then_wakes)
{
	pid_t pid;

	ASSERT_EQ(0, set_busy_poll(self->fd[1], MFLOW_BUSY_POLL_MAX));
	pid = spawn_reader_of_z(self->fd);
	ASSERT_LE(0, pid);
	ASSERT_TRUE(wait_blocked(pid));
	ASSERT_EQ(1, write(self->fd[0], "z", 1));
	EXPECT_EQ(0, reap(pid, 10000));
}

/* ---- the reply wakeup: request/response on two CPUs ---- */

static int pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

struct echo {
	int fd;
	int cpu;
	int rounds;
	int bad;	/* a wrong byte, count or end */
};

/* Answer each request byte with the byte plus one, then expect EOF. */
static void *echo_run(void *arg)
{
	struct echo *e = arg;
	uint8_t c;
	int i;

	if (pin_cpu(e->cpu)) {
		e->bad = 1;
		return NULL;
	}
	for (i = 0; i < e->rounds; i++) {
		if (read(e->fd, &c, 1) != 1 || c != (uint8_t)i) {
			e->bad = 1;
			return NULL;
		}
		c++;
		if (write(e->fd, &c, 1) != 1) {
			e->bad = 1;
			return NULL;
		}
	}
	if (read(e->fd, &c, 1) != 0)
		e->bad = 1;
	return NULL;
}

/*
 * @rounds one-byte round trips, endpoint 0 asking from CPU @cpu0 and a
 * thread answering on endpoint 1 from CPU @cpu1; every answer checked.
 * Then the reply spins of both endpoints into @spins (hits, misses each).
 */
static void round_trips(struct __test_metadata *_metadata, int fd[2],
			int cpu0, int cpu1, int rounds,
			unsigned long long spins[4])
{
	struct echo e = { .fd = fd[1], .cpu = cpu1, .rounds = rounds };
	pthread_t t;
	uint8_t c;
	int i;

	ASSERT_EQ(0, pin_cpu(cpu0));
	ASSERT_EQ(0, pthread_create(&t, NULL, echo_run, &e));
	for (i = 0; i < rounds; i++) {
		c = i;
		ASSERT_EQ(1, write(fd[0], &c, 1));
		ASSERT_EQ(1, read(fd[0], &c, 1));
		ASSERT_EQ((uint8_t)(i + 1), c);
	}
	ASSERT_EQ(0, shut(fd[0], MFLOW_SHUT_WR));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, e.bad);
	ASSERT_EQ(0, reply_spins(fd[0], &spins[0], &spins[1]));
	ASSERT_EQ(0, reply_spins(fd[1], &spins[2], &spins[3]));
	TH_LOG("reply spins: endpoint 0 %llu hits %llu misses, endpoint 1 %llu hits %llu misses",
	       spins[0], spins[1], spins[2], spins[3]);
}

/*
 * Round trips between two CPUs: a reader sleeping for its answer is woken
 * when the peer drains the request and spins for the answer (the reply
 * wakeup); every answer still arrives whole and in order (R2, R3).
 */
TEST_F(mflow_rw, R2_R3_reply_wakeup_between_two_cpus)
{
	unsigned long long s[4];

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "one CPU: no reply wakeup");
	round_trips(_metadata, self->fd, 0, 1, 1000, s);
	EXPECT_LT(0ULL, s[0] + s[1] + s[2] + s[3]);
}

/*
 * Both ends on one CPU: no reply wakeup, which would only take the CPU
 * from the peer that must answer (R2, R3).
 */
TEST_F(mflow_rw, R2_R3_no_reply_wakeup_on_one_cpu)
{
	unsigned long long s[4];

	round_trips(_metadata, self->fd, 0, 0, 300, s);
	EXPECT_EQ(0ULL, s[0] + s[1] + s[2] + s[3]);
}

/* The fdinfo reply spins of @fd: hits, misses, yields. */
static int reply_spins3(int fd, unsigned long long s[3])
{
	char buf[1024], *p;

	if (fdinfo(fd, buf, sizeof(buf)))
		return -1;
	p = strstr(buf, "mflow-reply-spins:");
	if (!p || sscanf(p, "mflow-reply-spins: %llu %llu %llu", &s[0], &s[1],
			 &s[2]) != 3)
		return -1;
	return 0;
}

struct slow_echo {
	int fd;
	int rounds;
	int bad;
};

/* Answer each byte after 20 ms off the CPU. */
static void *slow_echo_run(void *arg)
{
	struct slow_echo *e = arg;
	struct timespec ts = { .tv_nsec = 20 * 1000 * 1000 };
	uint8_t c;
	int i;

	if (pin_cpu(1)) {
		e->bad = 1;
		return NULL;
	}
	for (i = 0; i < e->rounds; i++) {
		if (read(e->fd, &c, 1) != 1) {
			e->bad = 1;
			return NULL;
		}
		nanosleep(&ts, NULL);
		c++;
		if (write(e->fd, &c, 1) != 1) {
			e->bad = 1;
			return NULL;
		}
	}
	return NULL;
}

/*
 * A peer that drains the request, then sleeps before it answers: the
 * asker woken by the reply wakeup spins only while the peer runs on a
 * CPU, so each spin gives way (or times out) without an answer and is
 * counted; such spins back off exponentially: after n of them in a row
 * the next 2^n - 1 drains wake nobody, so 50 drains cost at most 6 spins
 * (at drains 1, 3, 7, 15, 31, 63...). Every answer still arrives.
 */
TEST_F(mflow_rw, R20_reply_spin_gives_way_and_backs_off)
{
	struct slow_echo e = { .fd = self->fd[1], .rounds = 50 };
	unsigned long long s[3];
	pthread_t t;
	uint8_t c;
	int i;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "one CPU: no reply wakeup");
	ASSERT_EQ(0, pin_cpu(0));
	ASSERT_EQ(0, pthread_create(&t, NULL, slow_echo_run, &e));
	for (i = 0; i < e.rounds; i++) {
		c = i;
		ASSERT_EQ(1, write(self->fd[0], &c, 1));
		ASSERT_EQ(1, read(self->fd[0], &c, 1));
		ASSERT_EQ((uint8_t)(i + 1), c);
	}
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, e.bad);
	ASSERT_EQ(0, reply_spins3(self->fd[0], s));
	TH_LOG("%llu hits, %llu misses, %llu give-ways in %d drains", s[0],
	       s[1], s[2], e.rounds);
	EXPECT_EQ(0ULL, s[0]);
	EXPECT_LE(1ULL, s[1] + s[2]);
	EXPECT_GE(6ULL, s[1] + s[2]);
}

/*
 * The console pattern: one thread logs while another thread of the same
 * program sleeps in read for input. The peer draining the log is no
 * answer on its way to the sleeper: it is never woken for one, and pays
 * no spin (R3: it still gets the byte that finally comes).
 */
TEST_F(mflow_rw, R20_console_pattern_pays_no_spin)
{
	char got = 0, line[64], buf[4096];
	struct blocked_io b = { .fd = self->fd[0], .buf = &got, .len = 1 };
	unsigned long long s[3];
	size_t left = 2000 * sizeof(line);
	pid_t pid;
	pthread_t t;
	int i;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "one CPU: no reply wakeup");
	memset(line, 'l', sizeof(line));
	ASSERT_EQ(0, pin_cpu(0));
	start_blocked(_metadata, &t, blocked_read_thread, &b);
	pid = spawn();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		CHILD_CHECK(pin_cpu(1) == 0);
		while (left) {
			ssize_t n = read(self->fd[1], buf, sizeof(buf));

			CHILD_CHECK(n > 0);
			left -= n;
		}
		_exit(0);
	}
	for (i = 0; i < 2000; i++)
		ASSERT_EQ((ssize_t)sizeof(line),
			  write(self->fd[0], line, sizeof(line)));
	EXPECT_EQ(0, reap(pid, 20000));
	ASSERT_EQ(0, reply_spins3(self->fd[0], s));
	TH_LOG("logger's endpoint: %llu hits, %llu misses, %llu give-ways",
	       s[0], s[1], s[2]);
	EXPECT_EQ(0ULL, s[0] + s[1] + s[2]);
	ASSERT_EQ(1, write(self->fd[1], "z", 1));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(1, b.ret);
	EXPECT_EQ('z', got);
}

/* Root's switch for every console: the reply spin off, then on again. */
static int set_reply_spin(bool on)
{
	FILE *f = fopen("/sys/module/mflow/parameters/reply_spin", "w");
	int ret;

	if (!f)
		return -1;
	ret = fputs(on ? "Y" : "N", f) < 0;
	return fclose(f) || ret ? -1 : 0;
}

/*
 * With the module parameter reply_spin off, or an endpoint opted out
 * (MFLOW_OPT_NO_REPLY_SPIN), a reader blocked for its answer is never
 * woken early and never spins; round trips still complete.
 */
TEST_F(mflow_rw, R20_reply_spin_can_be_turned_off)
{
	unsigned long long s[4], t[3];
	__u32 opts = 0;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "one CPU: no reply wakeup");
	ASSERT_EQ(0, set_reply_spin(false));
	round_trips(_metadata, self->fd, 0, 1, 300, s);
	ASSERT_EQ(0, set_reply_spin(true));
	EXPECT_EQ(0ULL, s[0] + s[1] + s[2] + s[3]);

	close_fd(&self->fd[0]);
	close_fd(&self->fd[1]);
	mflow_open_pair(_metadata, self->path, O_RDWR, O_RDWR, self->fd);
	ASSERT_EQ(0, set_opts(self->fd[0], MFLOW_OPT_NO_REPLY_SPIN));
	ASSERT_EQ(0, ioctl(self->fd[0], MFLOW_IOC_GET_OPTS, &opts));
	EXPECT_EQ(MFLOW_OPT_NO_REPLY_SPIN, opts);
	round_trips(_metadata, self->fd, 0, 1, 300, s);
	ASSERT_EQ(0, reply_spins3(self->fd[0], t));
	EXPECT_EQ(0ULL, t[0] + t[1] + t[2]);
}

/*
 * Signals keep interrupting a reader while a helper trickles bytes in:
 * reads fail with EINTR, and every byte still arrives once, in order.
 */
TEST_F(mflow_rw, R3_read_eintr_loses_no_byte)
{
	const int total = 200;
	uint8_t buf[64], got[200];
	int n = 0, eintr = 0;
	ssize_t r;
	pid_t pid;

	pid = spawn_keeping(self->fd, 0);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint8_t b;
		int i;

		sleep_ms(300);
		for (i = 0; i < total; i++) {
			b = pat(i);
			CHILD_CHECK(write(self->fd[0], &b, 1) == 1);
			if (i % 8 == 0)
				sleep_ms(3);
		}
		_exit(0);
	}
	interrupt_every(2);
	for (;;) {
		r = read(self->fd[1], buf, sizeof(buf));
		if (r < 0 && errno == EINTR) {
			eintr++;
			continue;
		}
		ASSERT_LE(0, r);
		if (r == 0)
			break;
		ASSERT_GE(total, n + r);
		memcpy(got + n, buf, r);
		n += r;
	}
	interrupt_stop();
	EXPECT_EQ(0, reap(pid, 10000));
	EXPECT_EQ(total, n);
	EXPECT_EQ(-1, pat_mismatch(got, 0, n));
	EXPECT_LT(0, eintr);
}

/* ---- R4: EOF ---- */

static void expect_data_then_eof(struct __test_metadata *_metadata, int fd,
				 const char *data)
{
	char buf[64] = {};
	size_t len = strlen(data);

	ASSERT_EQ((ssize_t)len, read_full(fd, buf, sizeof(buf)));
	EXPECT_STREQ(data, buf);
	EXPECT_EQ(0, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(0, set_nonblock(fd, true));
	EXPECT_EQ(0, read(fd, buf, sizeof(buf)));
}

TEST_F(mflow_rw, R4_eof_after_peer_shut_wr)
{
	ASSERT_EQ(4, write(self->fd[0], "data", 4));
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	expect_data_then_eof(_metadata, self->fd[1], "data");
}

TEST_F(mflow_rw, R4_eof_after_peer_close_ioctl)
{
	ASSERT_EQ(4, write(self->fd[0], "data", 4));
	EXPECT_EQ(-ETIMEDOUT, close_within(self->fd[0], 0));
	expect_data_then_eof(_metadata, self->fd[1], "data");
}

TEST_F(mflow_rw, R4_eof_after_peer_detach)
{
	ASSERT_EQ(4, write(self->fd[0], "data", 4));
	close_fd(&self->fd[0]);
	expect_data_then_eof(_metadata, self->fd[1], "data");
}

/* A full fifo of data in flight survives the shutdown, then EOF. */
TEST_F(mflow_rw, R4_eof_after_full_fifo_drains)
{
	char c;

	ASSERT_EQ(self->fifo, fill_fifo(self->fd[0], 0));
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	EXPECT_EQ(0, drain_pat(self->fd[1], 0, self->fifo));
	EXPECT_EQ(0, read(self->fd[1], &c, 1));
}

TEST_F(mflow_rw, R4_eof_wakes_blocked_reader)
{
	pid_t pid;

	pid = spawn();
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

/* ---- R5: write ---- */

/* Drain @len pattern bytes from @fd in uneven reads; exit code 0 if ok. */
static void reader_child(int fd, size_t len)
{
	static const size_t sizes[] = { 1, 7, 4096, 65536, 100000, 333 };
	static uint8_t buf[100000];
	size_t off = 0, n;
	ssize_t r;
	int i = 0;

	while (off < len) {
		n = sizes[i++ % 6];
		if (n > len - off)
			n = len - off;
		r = read(fd, buf, n);
		CHILD_CHECK(r > 0);
		CHILD_CHECK(pat_mismatch(buf, off, r) < 0);
		off += r;
	}
	_exit(0);
}

/* A blocking write much larger than the fifo returns its whole length. */
TEST_F(mflow_rw, R5_write_returns_whole_length)
{
	size_t len = 4 * (size_t)self->fifo + 123;
	uint8_t *buf;
	pid_t pid;

	buf = malloc(len);
	ASSERT_NE(NULL, buf);
	pat_fill(buf, 0, len);
	pid = spawn();
	ASSERT_LE(0, pid);
	if (pid == 0)
		reader_child(self->fd[1], len);
	EXPECT_EQ((ssize_t)len, write(self->fd[0], buf, len));
	EXPECT_EQ(0, reap(pid, 20000));
	EXPECT_EQ(0, fionread(self->fd[1]));
	free(buf);
}

TEST_F(mflow_rw, R5_writev_returns_whole_length)
{
	size_t len = 2 * (size_t)self->fifo + 7;
	struct iovec iov[3];
	uint8_t *buf;
	pid_t pid;

	buf = malloc(len);
	ASSERT_NE(NULL, buf);
	pat_fill(buf, 0, len);
	iov[0] = (struct iovec){ buf, 5 };
	iov[1] = (struct iovec){ buf + 5, self->fifo };
	iov[2] = (struct iovec){ buf + 5 + self->fifo, len - 5 - self->fifo };
	pid = spawn();
	ASSERT_LE(0, pid);
	if (pid == 0)
		reader_child(self->fd[1], len);
	EXPECT_EQ((ssize_t)len, writev(self->fd[0], iov, 3));
	EXPECT_EQ(0, reap(pid, 20000));
	free(buf);
}

TEST_F(mflow_rw, R5_write_count_zero_returns_zero)
{
	struct iovec iov[2] = { { "a", 0 }, { "b", 0 } };
	struct mflow_stats st;

	EXPECT_EQ(0, write(self->fd[0], "a", 0));
	EXPECT_EQ(0, writev(self->fd[0], iov, 2));
	EXPECT_EQ(0, fionread(self->fd[1]));
	ASSERT_EQ(0, mflow_stats(self->fd[0], &st));
	EXPECT_EQ(0ULL, st.write_ops);
}

/* A full fifo blocks the writer until the peer reads. */
TEST_F(mflow_rw, R5_write_blocks_while_fifo_full)
{
	char c;
	pid_t pid;

	ASSERT_EQ(self->fifo, fill_fifo(self->fd[0], 0));
	EXPECT_EQ((long)self->fifo, fionread(self->fd[1]));
	EXPECT_EQ((long)self->fifo, outq(self->fd[0]));
	pid = spawn();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint8_t b = pat(self->fifo);

		CHILD_CHECK(write(self->fd[0], &b, 1) == 1);
		_exit(0);
	}
	ASSERT_TRUE(wait_blocked(pid));
	ASSERT_EQ(0, waitpid(pid, NULL, WNOHANG));
	EXPECT_EQ(0, drain_pat(self->fd[1], 0, self->fifo));
	EXPECT_EQ(0, reap(pid, 10000));
	EXPECT_EQ(0, drain_pat(self->fd[1], self->fifo, 1));
	ASSERT_EQ(0, set_nonblock(self->fd[1], true));
	EXPECT_EQ(-1, read(self->fd[1], &c, 1));
}

/* ---- R6: atomicity ---- */

/* Non-blocking writes up to PIPE_BUF go in whole or fail with EAGAIN. */
TEST_F(mflow_rw, R6_nonblock_small_write_all_or_eagain)
{
	static uint8_t buf[MFLOW_PIPE_BUF];
	long before;

	ASSERT_EQ(self->fifo, fill_fifo(self->fd[0], 0));
	ASSERT_EQ(0, set_nonblock(self->fd[0], true));
	EXPECT_EQ(-1, write(self->fd[0], buf, 1));
	EXPECT_EQ(EAGAIN, errno);

	ASSERT_EQ(100, read(self->fd[1], buf, 100));
	before = fionread(self->fd[1]);
	EXPECT_EQ(-1, write(self->fd[0], buf, MFLOW_PIPE_BUF));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(-1, write(self->fd[0], buf, 101));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(before, fionread(self->fd[1]));
	EXPECT_EQ(100, write(self->fd[0], buf, 100));
	EXPECT_EQ((long)self->fifo, fionread(self->fd[1]));
}

/*
 * pwritev2(RWF_NOWAIT) is a non-blocking write: up to PIPE_BUF bytes go
 * in whole or fail with EAGAIN and move nothing.
 */
TEST_F(mflow_rw, R6_rwf_nowait_small_write_all_or_eagain)
{
	static uint8_t buf[MFLOW_PIPE_BUF];
	struct iovec iov = { buf, 1 };
	long before;

	ASSERT_EQ(self->fifo, fill_fifo(self->fd[0], 0));
	EXPECT_EQ(-1, pwritev2(self->fd[0], &iov, 1, -1, RWF_NOWAIT));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(100, read(self->fd[1], buf, 100));
	before = fionread(self->fd[1]);
	iov.iov_len = 101;
	EXPECT_EQ(-1, pwritev2(self->fd[0], &iov, 1, -1, RWF_NOWAIT));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(before, fionread(self->fd[1]));
	iov.iov_len = 100;
	EXPECT_EQ(100, pwritev2(self->fd[0], &iov, 1, -1, RWF_NOWAIT));
	EXPECT_EQ((long)self->fifo, fionread(self->fd[1]));
	EXPECT_EQ(0, fcntl(self->fd[0], F_GETFL) & O_NONBLOCK);
}

/*
 * Larger ones follow the O_NONBLOCK rule too: they move what fits (the
 * first bytes of the buffer) and return that count, so that io_uring
 * completes them short, as on a pipe, instead of retrying from poll.
 */
TEST_F(mflow_rw, R5_R6_rwf_nowait_large_write_moves_what_fits)
{
	size_t len = (size_t)self->fifo + 1;
	struct iovec iov;
	uint8_t *buf;

	buf = pat_alloc(0, len);
	ASSERT_NE(NULL, buf);
	iov = (struct iovec){ buf, len };
	EXPECT_EQ((ssize_t)self->fifo,
		  pwritev2(self->fd[0], &iov, 1, -1, RWF_NOWAIT));
	EXPECT_EQ((long)self->fifo, fionread(self->fd[1]));
	EXPECT_EQ(-1, pwritev2(self->fd[0], &iov, 1, -1, RWF_NOWAIT));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(0, drain_pat(self->fd[1], 0, self->fifo));
	EXPECT_EQ(0, fionread(self->fd[1]));
	free(buf);
}

/* A larger non-blocking write may stop early, and says how far it got. */
TEST_F(mflow_rw, R6_nonblock_large_write_may_be_partial)
{
	size_t len = 2 * (size_t)self->fifo;
	uint8_t *buf;
	ssize_t r;

	buf = malloc(len);
	ASSERT_NE(NULL, buf);
	pat_fill(buf, 0, len);
	ASSERT_EQ(0, set_nonblock(self->fd[0], true));
	r = write(self->fd[0], buf, len);
	ASSERT_LT(0, r);
	ASSERT_GE((ssize_t)self->fifo, r);
	EXPECT_EQ(r, fionread(self->fd[1]));
	EXPECT_EQ(0, drain_pat(self->fd[1], 0, r));
	free(buf);
}

#define REC_SIZE	(1U << 20)
#define REC_PER_WRITER	4

FIXTURE(mflow_atomic)
{
	char path[32];
	int fd[2];
};

/* How the two concurrent writers share endpoint 0. */
FIXTURE_VARIANT(mflow_atomic)
{
	bool threads;	/* two threads, else two forked processes */
	bool vectored;	/* writev of three pieces, else write */
};

FIXTURE_VARIANT_ADD(mflow_atomic, processes_write)
{
	.threads = false,
	.vectored = false,
};

FIXTURE_VARIANT_ADD(mflow_atomic, processes_writev)
{
	.threads = false,
	.vectored = true,
};

FIXTURE_VARIANT_ADD(mflow_atomic, threads_write)
{
	.threads = true,
	.vectored = false,
};

FIXTURE_VARIANT_ADD(mflow_atomic, threads_writev)
{
	.threads = true,
	.vectored = true,
};

FIXTURE_SETUP(mflow_atomic)
{
	self->fd[0] = -1;
	self->fd[1] = -1;
	mflow_path(self->path, sizeof(self->path), 0);
	if (access(self->path, F_OK))
		SKIP(return, "%s missing: is mflow loaded?", self->path);
	mflow_open_pair(_metadata, self->path, O_RDWR, O_RDWR, self->fd);
}

FIXTURE_TEARDOWN(mflow_atomic)
{
	close_fd(&self->fd[0]);
	close_fd(&self->fd[1]);
}

struct rec_writer {
	int fd;
	int id;			/* 0 or 1 */
	bool vectored;
	int failed;		/* record index + 1 of a short write */
};

/* Byte value of record @i of writer @id: distinct for all records. */
static uint8_t rec_value(int id, int i)
{
	return (uint8_t)(0x10 * (id + 1) + i);
}

static void *rec_write_all(void *arg)
{
	struct rec_writer *w = arg;
	uint8_t *buf = malloc(REC_SIZE);
	struct iovec iov[3];
	ssize_t r;
	int i;

	for (i = 0; buf && i < REC_PER_WRITER; i++) {
		memset(buf, rec_value(w->id, i), REC_SIZE);
		iov[0] = (struct iovec){ buf, 1000 };
		iov[1] = (struct iovec){ buf + 1000, REC_SIZE / 2 };
		iov[2] = (struct iovec){ buf + 1000 + REC_SIZE / 2,
					 REC_SIZE / 2 - 1000 };
		if (w->vectored)
			r = writev(w->fd, iov, 3);
		else
			r = write(w->fd, buf, REC_SIZE);
		if (r != REC_SIZE) {
			w->failed = i + 1;
			break;
		}
	}
	if (!buf)
		w->failed = -1;
	free(buf);
	return NULL;
}

/*
 * Check one run of equal bytes: a whole record, of a value not seen
 * before, after the earlier records of the same writer.
 */
static void rec_check_run(struct __test_metadata *_metadata, uint8_t v,
			  size_t len, int next[2])
{
	int id = (v >> 4) - 1, i = v & 0xf;

	ASSERT_EQ(REC_SIZE, len) TH_LOG("record 0x%02x cut: %zu bytes", v, len);
	ASSERT_TRUE(id == 0 || id == 1) TH_LOG("stray byte 0x%02x", v);
	ASSERT_EQ(next[id], i) TH_LOG("record 0x%02x out of order", v);
	next[id]++;
}

static void rec_read_all(struct __test_metadata *_metadata, int fd)
{
	static const size_t sizes[] = { 1, 65536, 4095, 300000, 17, 131072 };
	static uint8_t buf[300000];
	size_t total = 2 * REC_PER_WRITER * (size_t)REC_SIZE, seen = 0;
	size_t run = 0, n;
	int next[2] = { 0, 0 }, k = 0;
	uint8_t cur = 0;
	ssize_t r, i;

	while (seen < total) {
		n = sizes[k++ % 6];
		if (n > total - seen)
			n = total - seen;
		ASSERT_TRUE(wait_readable(fd, 10000))
			TH_LOG("stalled after %zu bytes", seen);
		r = read(fd, buf, n);
		ASSERT_LT(0, r);
		for (i = 0; i < r; i++) {
			if (run && buf[i] != cur) {
				rec_check_run(_metadata, cur, run, next);
				run = 0;
			}
			cur = buf[i];
			run++;
		}
		seen += r;
	}
	rec_check_run(_metadata, cur, run, next);
	EXPECT_EQ(REC_PER_WRITER, next[0]);
	EXPECT_EQ(REC_PER_WRITER, next[1]);
}

/*
 * Two writers sharing endpoint 0 each write 1 MiB records (four fifos'
 * worth each) of distinct byte values at once: every record arrives in
 * one piece.
 */
TEST_F(mflow_atomic, R6_concurrent_writers_records_contiguous)
{
	struct rec_writer w[2] = {
		{ .fd = self->fd[0], .id = 0, .vectored = variant->vectored },
		{ .fd = self->fd[0], .id = 1, .vectored = variant->vectored },
	};
	pthread_t th[2];
	pid_t pid[2];
	int i;

	for (i = 0; i < 2; i++) {
		if (variant->threads) {
			ASSERT_EQ(0, pthread_create(&th[i], NULL,
						    rec_write_all, &w[i]));
			continue;
		}
		pid[i] = spawn();
		ASSERT_LE(0, pid[i]);
		if (pid[i] == 0) {
			rec_write_all(&w[i]);
			_exit(w[i].failed ? 1 : 0);
		}
	}
	rec_read_all(_metadata, self->fd[1]);
	for (i = 0; i < 2; i++) {
		if (variant->threads) {
			pthread_join(th[i], NULL);
			EXPECT_EQ(0, w[i].failed);
		} else {
			EXPECT_EQ(0, reap(pid[i], 20000));
		}
	}
	EXPECT_EQ(0, fionread(self->fd[1]));
}

/* ---- R7: EPIPE ---- */

TEST_F(mflow_rw, R7_write_after_local_shut_wr_epipe)
{
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	EXPECT_EQ(-1, write(self->fd[0], "x", 1));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_TRUE(sigpipe_taken());
	EXPECT_EQ(0, fionread(self->fd[1]));
}

TEST_F(mflow_rw, R7_write_after_peer_detach_epipe)
{
	close_fd(&self->fd[1]);
	EXPECT_EQ(-1, write(self->fd[0], "x", 1));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_TRUE(sigpipe_taken());
}

TEST_F(mflow_rw, R7_write_after_peer_shut_rd_epipe)
{
	ASSERT_EQ(0, shut(self->fd[1], MFLOW_SHUT_RD));
	EXPECT_EQ(-1, write(self->fd[0], "x", 1));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_TRUE(sigpipe_taken());
}

TEST_F(mflow_rw, R7_writev_after_peer_detach_epipe)
{
	struct iovec iov[2] = { { "a", 1 }, { "b", 1 } };

	close_fd(&self->fd[1]);
	EXPECT_EQ(-1, writev(self->fd[0], iov, 2));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_TRUE(sigpipe_taken());
}

/* MFLOW_OPT_NOSIGPIPE keeps the EPIPE and drops the signal. */
TEST_F(mflow_rw, R7_nosigpipe_option_epipe_without_signal)
{
	__u32 opts = 0;

	ASSERT_EQ(0, set_opts(self->fd[0], MFLOW_OPT_NOSIGPIPE));
	ASSERT_EQ(0, ioctl(self->fd[0], MFLOW_IOC_GET_OPTS, &opts));
	EXPECT_EQ(MFLOW_OPT_NOSIGPIPE, opts);
	EXPECT_TRUE(HAS(info_flags(self->fd[0]), MFLOW_INFO_NOSIGPIPE));
	EXPECT_FALSE(HAS(info_flags(self->fd[1]), MFLOW_INFO_NOSIGPIPE));
	close_fd(&self->fd[1]);
	EXPECT_EQ(-1, write(self->fd[0], "x", 1));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_FALSE(sigpipe_taken());
}

/* With SIGPIPE at its default action the writer dies of it. */
TEST_F_SIGNAL(mflow_rw, R7_sigpipe_kills_by_default, SIGPIPE)
{
	sigset_t set;

	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	signal(SIGPIPE, SIG_DFL);
	close_fd(&self->fd[1]);
	write(self->fd[0], "x", 1);
	TH_LOG("still alive after writing to a detached peer");
}

/*
 * A blocking write that fills the fifo and is then interrupted returns
 * the bytes it moved; exactly those reach the peer.
 */
TEST_F(mflow_rw, R7_write_interrupted_returns_bytes_moved)
{
	size_t len = 2 * (size_t)self->fifo;
	struct mflow_stats st;
	uint8_t *buf;
	ssize_t r;

	buf = malloc(len);
	ASSERT_NE(NULL, buf);
	pat_fill(buf, 0, len);
	interrupt_every(100);
	r = write(self->fd[0], buf, len);
	interrupt_stop();
	ASSERT_LT(0, r) TH_LOG("write: %s", strerror(errno));
	ASSERT_GT((ssize_t)len, r);
	EXPECT_EQ(r, fionread(self->fd[1]));
	EXPECT_EQ(r, outq(self->fd[0]));
	ASSERT_EQ(0, mflow_stats(self->fd[0], &st));
	EXPECT_EQ((__u64)r, st.write_bytes);
	EXPECT_EQ(1ULL, st.write_ops);
	EXPECT_EQ(0, drain_pat(self->fd[1], 0, r));
	free(buf);
}

/*
 * A writer blocked on a full fifo whose peer detaches returns the bytes
 * it moved; its next write fails with EPIPE.
 */
TEST_F(mflow_rw, R7_R10_blocked_write_cut_by_detach_returns_moved)
{
	size_t len = 2 * (size_t)self->fifo;
	uint8_t *buf;
	pid_t pid;
	int i;

	buf = malloc(len);
	ASSERT_NE(NULL, buf);
	pid = spawn_keeping(self->fd, 0);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		CHILD_CHECK(set_opts(self->fd[0], MFLOW_OPT_NOSIGPIPE) == 0);
		CHILD_CHECK(write(self->fd[0], buf, len) ==
			    (ssize_t)self->fifo);
		CHILD_CHECK(write(self->fd[0], buf, 1) == -1 &&
			    errno == EPIPE);
		_exit(0);
	}
	ASSERT_TRUE(wait_blocked(pid));
	for (i = 0; i < 1000 && fionread(self->fd[1]) != self->fifo; i++)
		sleep_ms(10);
	ASSERT_EQ((long)self->fifo, fionread(self->fd[1]));
	close_fd(&self->fd[1]);
	EXPECT_EQ(0, reap(pid, 10000));
	free(buf);
}

/*
 * A write whose buffer runs into an unmapped page returns the bytes it
 * moved (or EFAULT if none); the peer gets exactly those bytes.
 */
TEST_F(mflow_rw, R7_write_cut_by_fault_returns_moved)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *map, *buf;
	ssize_t r;
	long n;

	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, munmap(map + page, page));
	buf = map + page - 100;
	pat_fill(buf, 0, 100);
	r = write(self->fd[0], buf, 200);
	if (r < 0)
		EXPECT_EQ(EFAULT, errno);
	EXPECT_NE(0, r) TH_LOG("a write of 200 bytes cannot move none");
	EXPECT_GE(100, r);
	n = fionread(self->fd[1]);
	EXPECT_EQ(r > 0 ? r : 0, n);
	if (n > 0)
		EXPECT_EQ(0, drain_pat(self->fd[1], 0, n));
	munmap(map, page);
}

/* ---- R10: detach ---- */

/*
 * Detach with data both ways: the peer drains what was sent, then EOF;
 * what the peer had sent is dropped and its writes fail with EPIPE.
 */
TEST_F(mflow_rw, R10_detach_drains_outbound_drops_inbound)
{
	struct mflow_info info;

	ASSERT_EQ(4, write(self->fd[0], "sent", 4));
	ASSERT_EQ(6, write(self->fd[1], "unread", 6));
	EXPECT_EQ(6, outq(self->fd[1]));
	close_fd(&self->fd[0]);

	ASSERT_EQ(0, mflow_info(self->fd[1], &info));
	EXPECT_EQ(MFLOW_INFO_PEER_DETACHED | MFLOW_INFO_PEER_RD_SHUT |
		  MFLOW_INFO_PEER_WR_SHUT, info.flags);
	EXPECT_EQ(0, outq(self->fd[1]));
	EXPECT_EQ(-1, write(self->fd[1], "x", 1));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_TRUE(sigpipe_taken());
	expect_data_then_eof(_metadata, self->fd[1], "sent");
}

/* close(2) with both fifos full and no reader returns 0 at once. */
TEST_F(mflow_rw, R10_detach_never_waits)
{
	uint64_t t;

	ASSERT_EQ(self->fifo, fill_fifo(self->fd[0], 0));
	ASSERT_EQ(self->fifo, fill_fifo(self->fd[1], 0));
	t = now_ns();
	close_fd(&self->fd[0]);
	/* A waiting detach would never return; emulation stalls for seconds. */
	EXPECT_GT(20000 * MSEC, now_ns() - t);
	EXPECT_EQ(0, drain_pat(self->fd[1], 0, self->fifo));
}

/* Closing one of two descriptors of an endpoint does not detach it. */
TEST_F(mflow_rw, R10_closing_a_dup_does_not_detach)
{
	char c = 0;
	int d;

	d = dup(self->fd[0]);
	ASSERT_LE(0, d);
	close(self->fd[0]);
	self->fd[0] = d;
	EXPECT_EQ(MFLOW_INFO_PEER_ATTACHED, info_flags(self->fd[1]));
	ASSERT_EQ(1, write(self->fd[1], "q", 1));
	ASSERT_EQ(1, read(self->fd[0], &c, 1));
	EXPECT_EQ('q', c);
}

TEST_F(mflow_rw, R10_detach_wakes_blocked_reader)
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
	close_fd(&self->fd[0]);
	EXPECT_EQ(0, reap(pid, 10000));
}

TEST_HARNESS_MAIN
