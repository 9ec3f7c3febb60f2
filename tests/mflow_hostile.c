// SPDX-License-Identifier: GPL-2.0
/*
 * mflow under hostile callers: what else a program may do to the fd
 * (splice, sendfile, tee, vmsplice, mmap, O_APPEND; each works by the
 * contract or fails with a documented error, and the stream is intact
 * afterwards), SIGKILL of tasks blocked in every kind of wait (R3, R5, R9,
 * R10), io_uring reads left pending, cancelled or abandoned with the ring
 * (R2, R3), and a crowd of blocked tasks woken by the peer's detach (R10).
 */
#include <limits.h>
#include <liburing.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/uio.h>

#include "mflow_test.h"

MFLOW_PAIR_FIXTURE(mflow_hostile, 1)

static bool pollout(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT);
}

/* Pass @len pattern bytes from @off through the stream and check them. */
static void roundtrip(struct __test_metadata *_metadata, int fd[2],
		      uint64_t off, size_t len)
{
	static uint8_t buf[8192];

	ASSERT_GE(sizeof(buf), len);
	pat_fill(buf, off, len);
	ASSERT_EQ((ssize_t)len, write(fd[0], buf, len));
	EXPECT_EQ(0, drain_pat(fd[1], off, len));
	EXPECT_EQ(0, fionread(fd[1]));
}

/* ---- what else a program may do to the fd ---- */

/* splice(2) from the console into a pipe moves the stream's bytes. */
TEST_F(mflow_hostile, R2_splice_console_to_pipe)
{
	uint8_t buf[3000];
	int p[2];

	ASSERT_EQ(0, pipe(p));
	pat_fill(buf, 0, sizeof(buf));
	ASSERT_EQ((ssize_t)sizeof(buf), write(self->fd[0], buf, sizeof(buf)));
	EXPECT_EQ(1000, splice(self->fd[1], NULL, p[1], NULL, 1000, 0));
	EXPECT_EQ(2000, splice(self->fd[1], NULL, p[1], NULL, 5000, 0));
	EXPECT_EQ(3000, read_full(p[0], buf, 3000));
	EXPECT_EQ(-1, pat_mismatch(buf, 0, 3000));
	ASSERT_EQ(0, set_nonblock(self->fd[1], true));
	EXPECT_EQ(-1, splice(self->fd[1], NULL, p[1], NULL, 100, 0));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	EXPECT_EQ(0, splice(self->fd[1], NULL, p[1], NULL, 100, 0));
	close(p[0]);
	close(p[1]);
}

/* splice(2) from a pipe into the console is a write of those bytes. */
TEST_F(mflow_hostile, R5_splice_pipe_to_console)
{
	uint8_t buf[3000];
	int p[2];

	ASSERT_EQ(0, pipe(p));
	pat_fill(buf, 0, sizeof(buf));
	ASSERT_EQ((ssize_t)sizeof(buf), write(p[1], buf, sizeof(buf)));
	EXPECT_EQ(3000, splice(p[0], NULL, self->fd[0], NULL, 3000, 0));
	EXPECT_EQ(3000, fionread(self->fd[1]));
	EXPECT_EQ(0, drain_pat(self->fd[1], 0, 3000));
	close(p[0]);
	close(p[1]);
	roundtrip(_metadata, self->fd, 3000, 100);
}

/* sendfile(2) from a regular file to the console. */
TEST_F(mflow_hostile, R5_sendfile_file_to_console)
{
	char name[] = "/tmp/mflow-sendfile-XXXXXX";
	uint8_t buf[5000];
	off_t off = 0;
	int f;

	f = mkstemp(name);
	ASSERT_LE(0, f);
	unlink(name);
	pat_fill(buf, 0, sizeof(buf));
	ASSERT_EQ((ssize_t)sizeof(buf), write(f, buf, sizeof(buf)));
	EXPECT_EQ(5000, sendfile(self->fd[0], f, &off, 5000));
	EXPECT_EQ(5000, off);
	EXPECT_EQ(0, drain_pat(self->fd[1], 0, 5000));
	close(f);
	roundtrip(_metadata, self->fd, 5000, 100);
}

/*
 * Calls that need a pipe or a mapping fail with the kernel's error for a
 * file that is neither, and leave the stream as it was: tee(2) EINVAL,
 * vmsplice(2) EBADF, mmap(2) ENODEV, pread/pwrite ESPIPE.
 */
TEST_F(mflow_hostile, R14_tee_vmsplice_mmap_pread_refused)
{
	struct iovec iov = { .iov_base = "abc", .iov_len = 3 };
	char c;
	void *m;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(3, write(self->fd[0], "xyz", 3));
	EXPECT_EQ(-1, tee(self->fd[1], p[1], 3, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, tee(p[0], self->fd[0], 3, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, vmsplice(self->fd[0], &iov, 1, 0));
	EXPECT_EQ(EBADF, errno);
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->fd[1], 0);
	EXPECT_EQ(MAP_FAILED, m);
	EXPECT_EQ(ENODEV, errno);
	m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, self->fd[1], 0);
	EXPECT_EQ(MAP_FAILED, m);
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, pread(self->fd[1], &c, 1, 0));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(-1, pwrite(self->fd[0], "q", 1, 0));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(3, fionread(self->fd[1]));
	EXPECT_EQ(3, read(self->fd[1], &c, 1) + 2);
	EXPECT_EQ('x', c);
	close(p[0]);
	close(p[1]);
}

/* O_APPEND means nothing to a stream: reads and writes work as ever. */
TEST_F(mflow_hostile, R1_o_append_works)
{
	close_fd(&self->fd[0]);
	close_fd(&self->fd[1]);
	mflow_open_pair(_metadata, self->path, O_RDWR | O_APPEND,
			O_RDWR | O_APPEND, self->fd);
	roundtrip(_metadata, self->fd, 0, 4000);
	roundtrip(_metadata, self->fd, 4000, 1);
}

/* ---- SIGKILL of blocked tasks ---- */

enum blocked_op { OP_READ, OP_WRITE_BIG, OP_WRITE_TURN, OP_CLOSE };

/* Fork a helper that blocks in @op on endpoint @ep; it must not return. */
static pid_t spawn_blocked(int fd[2], int ep, enum blocked_op op,
			   size_t big)
{
	pid_t pid = spawn();
	uint8_t *buf;
	char c;

	if (pid)
		return pid;
	switch (op) {
	case OP_READ:
		if (read(fd[ep], &c, 1))
			_exit(1);
		break;
	case OP_WRITE_BIG:
	case OP_WRITE_TURN:
		buf = malloc(big);
		if (!buf)
			_exit(3);
		pat_fill(buf, 0, big);
		if (write(fd[ep], buf, big))
			_exit(1);
		break;
	case OP_CLOSE:
		close_wait(fd[ep]);
		break;
	}
	_exit(1);
}

/* SIGKILL @pid, blocked in the kernel: it ends promptly, killed. */
static void kill_blocked(struct __test_metadata *_metadata, pid_t pid)
{
	uint64_t t;

	ASSERT_LT(0, pid);
	ASSERT_TRUE(wait_blocked(pid));
	t = now_ns();
	ASSERT_EQ(0, kill(pid, SIGKILL));
	EXPECT_EQ(128 + SIGKILL, reap(pid, 10000));
	EXPECT_GT(5000 * MSEC, now_ns() - t);
}

/* A reader killed in its wait takes nothing; the survivor reads it all. */
TEST_F(mflow_hostile, R3_R10_sigkill_blocked_reader)
{
	kill_blocked(_metadata, spawn_blocked(self->fd, 1, OP_READ, 0));
	EXPECT_EQ(MFLOW_INFO_PEER_ATTACHED, info_flags(self->fd[1]));
	roundtrip(_metadata, self->fd, 0, 3000);
}

/*
 * A writer killed while it sleeps for room in a write larger than the
 * fifo: what it moved stays in the stream, whole, in order.
 */
TEST_F(mflow_hostile, R5_R7_sigkill_blocked_writer)
{
	struct mflow_stats st;

	ASSERT_EQ(0, set_opts(self->fd[0], MFLOW_OPT_NOSIGPIPE));
	kill_blocked(_metadata, spawn_blocked(self->fd, 0, OP_WRITE_BIG,
					      2 * (size_t)self->fifo));
	EXPECT_EQ((long)self->fifo, fionread(self->fd[1]));
	EXPECT_EQ(0, drain_pat(self->fd[1], 0, self->fifo));
	ASSERT_EQ(0, mflow_stats(self->fd[0], &st));
	EXPECT_EQ((__u64)self->fifo, st.write_bytes);
	EXPECT_TRUE(pollout(self->fd[0]));
	roundtrip(_metadata, self->fd, self->fifo, 3000);
}

/*
 * A writer killed while it waits for another write to finish: the other
 * write completes whole, and nothing of the killed one is in the stream.
 */
TEST_F(mflow_hostile, R6_sigkill_writer_waiting_for_its_turn)
{
	size_t big = 2 * (size_t)self->fifo;
	pid_t owner, waiter;

	owner = spawn();
	ASSERT_LE(0, owner);
	if (owner == 0) {
		uint8_t *buf = malloc(big);

		CHILD_CHECK(buf);
		pat_fill(buf, 0, big);
		CHILD_CHECK(write(self->fd[0], buf, big) == (ssize_t)big);
		_exit(0);
	}
	ASSERT_TRUE(wait_blocked(owner));
	waiter = spawn_blocked(self->fd, 0, OP_WRITE_TURN, 100);
	kill_blocked(_metadata, waiter);
	EXPECT_EQ(0, drain_pat(self->fd[1], 0, big));
	EXPECT_EQ(0, reap(owner, 10000));
	EXPECT_EQ(0, fionread(self->fd[1]));
	roundtrip(_metadata, self->fd, big, 3000);
}

/* A closer killed in its wait: the write side stays shut, data flows in. */
TEST_F(mflow_hostile, R9_sigkill_blocked_closer)
{
	char c;

	kill_blocked(_metadata, spawn_blocked(self->fd, 0, OP_CLOSE, 0));
	EXPECT_EQ(MFLOW_INFO_WR_SHUT | MFLOW_INFO_PEER_ATTACHED,
		  info_flags(self->fd[0]));
	EXPECT_EQ(0, read(self->fd[1], &c, 1));
	ASSERT_EQ(1, write(self->fd[1], "k", 1));
	ASSERT_EQ(1, read(self->fd[0], &c, 1));
	EXPECT_EQ('k', c);
	EXPECT_EQ(0, close_wait(self->fd[1]));
	EXPECT_EQ(0, close_wait(self->fd[0]));
}

/* ---- io_uring ---- */

/* The one completion on @ring, waited for up to 10 s; its result. */
static int uring_result(struct __test_metadata *_metadata,
			struct io_uring *ring)
{
	struct __kernel_timespec ts = { .tv_sec = 10 };
	struct io_uring_cqe *cqe;
	int res;

	if (io_uring_wait_cqe_timeout(ring, &cqe, &ts)) {
		TH_LOG("no io_uring completion within 10 s");
		return INT_MIN;
	}
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

/* A read queued on the empty stream: @ring set up, the read submitted. */
static void uring_read_pending(struct __test_metadata *_metadata,
			       struct io_uring *ring, int fd, void *buf,
			       unsigned int len)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;

	ASSERT_EQ(0, io_uring_queue_init(4, ring, 0));
	sqe = io_uring_get_sqe(ring);
	ASSERT_NE(NULL, sqe);
	io_uring_prep_read(sqe, fd, buf, len, -1);
	io_uring_sqe_set_data64(sqe, 1);
	ASSERT_EQ(1, io_uring_submit(ring));
	/* Nothing was written: the read cannot have completed. */
	EXPECT_EQ(-EAGAIN, io_uring_peek_cqe(ring, &cqe));
}

/* An io_uring read on the empty stream completes with the first bytes. */
TEST_F(mflow_hostile, R2_R3_io_uring_read_waits_for_data)
{
	struct io_uring ring;
	char buf[64] = {};

	uring_read_pending(_metadata, &ring, self->fd[1], buf, sizeof(buf));
	ASSERT_EQ(5, write(self->fd[0], "hello", 5));
	EXPECT_EQ(5, uring_result(_metadata, &ring));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	EXPECT_EQ(0, fionread(self->fd[1]));
	io_uring_queue_exit(&ring);
	roundtrip(_metadata, self->fd, 0, 3000);
}

/* A pending io_uring read cancelled takes no byte of what comes later. */
TEST_F(mflow_hostile, R3_io_uring_cancelled_read_takes_nothing)
{
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	char buf[64];
	int i, res, got = 0;

	uring_read_pending(_metadata, &ring, self->fd[1], buf, sizeof(buf));
	sqe = io_uring_get_sqe(&ring);
	ASSERT_NE(NULL, sqe);
	io_uring_prep_cancel64(sqe, 1, 0);
	io_uring_sqe_set_data64(sqe, 2);
	ASSERT_EQ(1, io_uring_submit(&ring));
	/* Two completions: the cancel's and the read's, in either order. */
	for (i = 0; i < 2; i++) {
		struct __kernel_timespec ts = { .tv_sec = 10 };
		struct io_uring_cqe *cqe;

		ASSERT_EQ(0, io_uring_wait_cqe_timeout(&ring, &cqe, &ts));
		res = cqe->res;
		if (io_uring_cqe_get_data64(cqe) == 1) {
			/* Cancelled from a poll wait or an io-wq worker. */
			EXPECT_TRUE(res == -ECANCELED || res == -EINTR)
				TH_LOG("read completed with %d", res);
			got++;
		} else {
			EXPECT_EQ(0, res);
		}
		io_uring_cqe_seen(&ring, cqe);
	}
	EXPECT_EQ(1, got);
	roundtrip(_metadata, self->fd, 0, 3000);
	io_uring_queue_exit(&ring);
}

/*
 * The ring is torn down with a read pending on the stream: the read is
 * cancelled with it, and the next bytes go to the next reader.
 */
TEST_F(mflow_hostile, R3_io_uring_ring_exit_with_read_pending)
{
	struct io_uring ring;
	char buf[64];

	uring_read_pending(_metadata, &ring, self->fd[1], buf, sizeof(buf));
	io_uring_queue_exit(&ring);
	roundtrip(_metadata, self->fd, 0, 3000);
	EXPECT_EQ(MFLOW_INFO_PEER_ATTACHED, info_flags(self->fd[1]));
}

/*
 * An io_uring write larger than the fifo, on a blocking fd, completes as
 * it does on a pipe (R6): whole, or short with the count of the first
 * bytes it moved, never an error; a caller that wants the whole buffer
 * out submits the rest, and the peer draining the stream gets every byte
 * once and in order (R5).
 */
TEST_F(mflow_hostile, R5_R6_io_uring_large_write_completes_as_on_a_pipe)
{
	size_t len = 2 * (size_t)self->fifo + 3 * 4096 + 5, done = 0;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	int res, writes = 0;
	uint8_t *buf;
	pid_t pid;

	buf = pat_alloc(0, len);
	ASSERT_NE(NULL, buf);
	pid = spawn_keeping(self->fd, 1);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		CHILD_CHECK(drain_pat(self->fd[1], 0, len) == 0);
		_exit(0);
	}
	ASSERT_EQ(0, io_uring_queue_init(4, &ring, 0));
	while (done < len) {
		sqe = io_uring_get_sqe(&ring);
		ASSERT_NE(NULL, sqe);
		io_uring_prep_write(sqe, self->fd[0], buf + done, len - done,
				    -1);
		ASSERT_EQ(1, io_uring_submit(&ring));
		res = uring_result(_metadata, &ring);
		ASSERT_LT(0, res) TH_LOG("write %d: %d", writes, res);
		ASSERT_GE(len - done, (size_t)res);
		done += res;
		writes++;
	}
	TH_LOG("%zu bytes in %d io_uring writes", len, writes);
	io_uring_queue_exit(&ring);
	EXPECT_EQ(0, reap(pid, 10000));
	EXPECT_EQ(0, outq(self->fd[0]));
	free(buf);
}

/* ---- a crowd woken by the peer's detach ---- */

#define CROWD	100
/*
 * The budgets inside the test stay below its own kselftest timeout, so a
 * slow run fails with a diagnosis rather than as a bare timeout: the
 * crowd has CROWD_SLEEP_MS to fall asleep, then CROWD_WAKE_MS in all to
 * wake.
 */
#define CROWD_SLEEP_MS	60000
#define CROWD_WAKE_MS	30000
#define CROWD_TIMEOUT_S	120

/* Like wait_blocked(), for @n tasks at once. */
static bool all_blocked(const pid_t *pid, int n)
{
	uint64_t end = now_ns() + CROWD_SLEEP_MS * MSEC;
	int i, round;

	for (round = 0; round < 2; round++) {
		for (i = 0; i < n; i++) {
			while (task_state(pid[i]) != 'S') {
				if (now_ns() > end)
					return false;
				sleep_ms(2);
			}
		}
		sleep_ms(100);
	}
	return true;
}

/*
 * CROWD processes sleep on one endpoint, half reading an empty stream and
 * half writing into a full one (one sleeping for room, the rest for their
 * turn). The peer detaches: every one of them wakes, the readers with EOF
 * and the writers with EPIPE, within seconds (as LTP's pipe13 checks for
 * pipes).
 */
TEST_F_TIMEOUT(mflow_hostile, R10_crowd_wakes_on_peer_detach, CROWD_TIMEOUT_S)
{
	pid_t pid[CROWD];
	uint64_t t, end;
	int i, bad = 0;

	ASSERT_EQ(0, set_opts(self->fd[1], MFLOW_OPT_NOSIGPIPE));
	ASSERT_EQ(self->fifo, fill_fifo(self->fd[1], 0));
	for (i = 0; i < CROWD; i++) {
		pid[i] = spawn();
		ASSERT_LE(0, pid[i]);
		if (pid[i] == 0) {
			char c[64] = {};

			close_fd(&self->fd[0]);
			if (i % 2)
				CHILD_CHECK(read(self->fd[1], c, 1) == 0);
			else
				CHILD_CHECK(write(self->fd[1], c, sizeof(c)) ==
					    -1 && errno == EPIPE);
			_exit(0);
		}
	}
	ASSERT_TRUE(all_blocked(pid, CROWD));
	t = now_ns();
	close_fd(&self->fd[0]);
	end = t + CROWD_WAKE_MS * MSEC;
	for (i = 0; i < CROWD; i++)
		if (reap(pid[i], now_ns() < end ? (end - now_ns()) / MSEC : 0))
			bad++;
	TH_LOG("%d tasks woke in %llu ms", CROWD,
	       (unsigned long long)((now_ns() - t) / MSEC));
	EXPECT_EQ(0, bad);
}

TEST_HARNESS_MAIN
