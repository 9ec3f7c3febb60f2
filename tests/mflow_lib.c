// SPDX-License-Identifier: GPL-2.0
/*
 * libmflow from C: every call of <mflow/mflow.h> with the data it moves
 * and the code it returns. Opening by path, index, kernel name and name
 * (R1, R17), the close handshake blocking and on an O_NONBLOCK descriptor
 * (R9, R11), shutdown and the endpoint's figures (R8, R12, R13), the
 * control node through the library (R16) and the names it refuses before
 * the kernel sees them (R17): an empty name never selects a console.
 *
 * Each test adds its own named console and removes it at the end; the
 * consoles made at load are only looked at. Needs root and a module with
 * /dev/mflow-control.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mflow/mflow.h>

#include "kselftest_harness.h"

#define CTL_PATH	"/dev/mflow-control"
#define MSEC		1000000LL	/* ns */

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* How many consoles exist now; -errno. */
static int consoles_now(void)
{
	struct mflow_ctl_version v;
	int err = mflow_ctl_version(&v);

	return err ? err : (int)v.consoles;
}

/*
 * A console of the test's own, named "lib-<pid>", at index @index, with
 * both endpoints attached in fd[0] (endpoint 0) and fd[1] by the tests
 * that want them (attach()).
 */
FIXTURE(lib) {
	char name[MFLOW_NAME_MAX];
	char node[32];
	int index;
	int fd[2];
};

FIXTURE_SETUP(lib)
{
	self->fd[0] = self->fd[1] = -1;
	self->index = -1;
	if (geteuid())
		SKIP(return, "needs root");
	if (access(CTL_PATH, F_OK))
		SKIP(return, "this module has no %s", CTL_PATH);
	snprintf(self->name, sizeof(self->name), "lib-%d", (int)getpid());
	self->index = mflow_add(self->name, 0);
	ASSERT_LE(0, self->index) TH_LOG("mflow_add: %s",
					 strerror(-self->index));
	snprintf(self->node, sizeof(self->node), "/dev/mflow%d", self->index);
}

FIXTURE_TEARDOWN(lib)
{
	if (self->fd[0] >= 0)
		close(self->fd[0]);
	if (self->fd[1] >= 0)
		close(self->fd[1]);
	if (self->index >= 0)
		mflow_remove(self->name);
}

/* Both endpoints of the fixture's console, @flags0 for endpoint 0. */
static void attach(struct __test_metadata *_metadata,
		   FIXTURE_DATA(lib) *self, int flags0)
{
	self->fd[0] = mflow_open(self->name, O_RDWR | flags0);
	ASSERT_LE(0, self->fd[0]) TH_LOG("open %s: %s", self->name,
					 strerror(-self->fd[0]));
	self->fd[1] = mflow_open(self->node, O_RDWR);
	ASSERT_LE(0, self->fd[1]) TH_LOG("open %s: %s", self->node,
					 strerror(-self->fd[1]));
}

TEST(R17_name_check_follows_the_rules)
{
	static const char *const good[] = {
		"a", "Z", "_x", "3abc", "lib.test-1_2", "mflow", "mflowx",
		"mflow3a", "x.", "a123456789012345678901234567890",
	};
	static const char *const bad[] = {
		"", "7", "0", "123", "4294967296", "mflow0", "mflow12",
		".hidden", "-x", "a b", "a/b", "a:b", "\xc3\xa9t\xc3\xa9",
		"01234567890123456789012345678901",	/* 32 bytes */
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *s = good[i] ? good[i] : "?";

		EXPECT_EQ(0, mflow_name_check(s)) TH_LOG("'%s'", s);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *s = bad[i] ? bad[i] : "?";

		EXPECT_EQ(-EINVAL, mflow_name_check(s)) TH_LOG("'%s'", s);
	}
	EXPECT_EQ(-EINVAL, mflow_name_check(NULL));
}

TEST_F(lib, R17_empty_or_missing_console_selects_nothing)
{
	struct mflow_ctl_query q;
	uint32_t index = 12345;
	int before = consoles_now();

	ASSERT_LT(0, before);
	EXPECT_EQ(-EINVAL, mflow_open("", O_RDWR));
	EXPECT_EQ(-EINVAL, mflow_open(NULL, O_RDWR));
	EXPECT_EQ(-EINVAL, mflow_resolve("", &index));
	EXPECT_EQ(12345, index);
	EXPECT_EQ(-EINVAL, mflow_query("", &q));
	EXPECT_EQ(-EINVAL, mflow_query(NULL, &q));
	EXPECT_EQ(-EINVAL, mflow_remove(""));
	EXPECT_EQ(-EINVAL, mflow_remove(NULL));
	EXPECT_EQ(-EINVAL, mflow_remove("name:"));
	/* Nothing was removed, and no console was attached. */
	EXPECT_EQ(before, consoles_now());
	ASSERT_EQ(0, mflow_query(self->name, &q));
	EXPECT_EQ(MFLOW_STATE_IDLE, q.state);
	ASSERT_EQ(0, mflow_query("0", &q));
	EXPECT_EQ(0, q.attached);
}

TEST_F(lib, R17_add_refuses_bad_names_before_the_kernel)
{
	static const char *const bad[] = {
		"", "7", "mflow9", "-x", ".x", "a b",
		"01234567890123456789012345678901",
	};
	int before = consoles_now();
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *s = bad[i] ? bad[i] : "?";

		EXPECT_EQ(-EINVAL, mflow_add(s, 0)) TH_LOG("'%s'", s);
		EXPECT_EQ(-EINVAL, mflow_add_at(MFLOW_CTL_ANY, s, 0));
	}
	/* A bad name is no name for query and remove either. */
	EXPECT_EQ(-EINVAL, mflow_remove("a b"));
	EXPECT_EQ(before, consoles_now());
	/* "7" is index 7, never a name: no such console here. */
	if (access("/sys/class/mflow/mflow7", F_OK))
		EXPECT_EQ(-ENODEV, mflow_remove("7"));
}

TEST_F(lib, R16_R17_add_query_remove_by_name)
{
	char other[64], kname[32];
	struct mflow_ctl_query q;
	int idx;

	ASSERT_EQ(0, mflow_query(self->name, &q));
	EXPECT_EQ(self->index, (int)q.index);
	EXPECT_STREQ(self->name, q.name);
	EXPECT_EQ(MFLOW_STATE_IDLE, q.state);
	EXPECT_EQ(0, q.attached);

	snprintf(other, sizeof(other), "%s.b", self->name);
	idx = mflow_add(other, 8192);
	ASSERT_LE(0, idx);
	EXPECT_NE(self->index, idx);
	snprintf(kname, sizeof(kname), "mflow%d", idx);
	ASSERT_EQ(0, mflow_query(kname, &q));
	EXPECT_STREQ(other, q.name);
	EXPECT_EQ(8192, q.fifo_size);
	/* Names are unique (R17). */
	EXPECT_EQ(-EEXIST, mflow_add(other, 0));
	EXPECT_EQ(0, mflow_remove(other));
	EXPECT_EQ(-ENODEV, mflow_query(other, &q));
	EXPECT_EQ(-ENODEV, mflow_query(kname, &q));
	EXPECT_EQ(-ENODEV, mflow_remove(other));
	EXPECT_EQ(-ENODEV, mflow_open(other, O_RDWR));
}

TEST_F(lib, R16_add_unnamed_at_index_and_remove_by_path)
{
	struct mflow_ctl_query q;
	char node[32], idx_s[16];
	struct stat st;
	int idx;

	/* Console 0 exists from load: its index is taken. */
	EXPECT_EQ(-EEXIST, mflow_add_at(0, NULL, 0));
	idx = mflow_add(NULL, 0);
	ASSERT_LE(0, idx);
	snprintf(node, sizeof(node), "/dev/mflow%d", idx);
	snprintf(idx_s, sizeof(idx_s), "%d", idx);
	ASSERT_EQ(0, stat(node, &st));
	ASSERT_EQ(0, mflow_query(idx_s, &q));
	EXPECT_STREQ("", q.name);
	EXPECT_EQ(0, mflow_remove(node));
	EXPECT_EQ(-ENOENT, mflow_remove(node));
	EXPECT_EQ(-ENODEV, mflow_query(idx_s, &q));
	/* Again at the index just freed. */
	EXPECT_EQ(idx, mflow_add_at((uint32_t)idx, NULL, 0));
	EXPECT_EQ(0, mflow_remove(idx_s));
}

TEST_F(lib, R16_remove_refused_while_connected)
{
	struct mflow_ctl_query q;

	self->fd[0] = mflow_open(self->name, O_RDWR);
	ASSERT_LE(0, self->fd[0]);
	EXPECT_EQ(-EBUSY, mflow_remove(self->name));
	ASSERT_EQ(0, mflow_query(self->name, &q));
	EXPECT_EQ(MFLOW_STATE_CONNECTED, q.state);
	EXPECT_EQ(1, q.attached);
	close(self->fd[0]);
	self->fd[0] = -1;
	/* Nothing written, nobody attached: idle again, removable. */
	EXPECT_EQ(0, mflow_remove(self->name));
	self->index = -1;
}

TEST_F(lib, R1_open_by_name_path_index_and_kernel_name)
{
	char idx_s[16], kname[32], buf[16] = "";
	struct mflow_info in;
	uint32_t index;

	attach(_metadata, self, 0);
	ASSERT_EQ(0, mflow_info(self->fd[0], &in));
	EXPECT_EQ(self->index, (int)in.console);
	EXPECT_EQ(0, in.endpoint);
	ASSERT_EQ(0, mflow_info(self->fd[1], &in));
	EXPECT_EQ(1, in.endpoint);
	EXPECT_EQ(5, write(self->fd[0], "hello", 5));
	EXPECT_EQ(5, read(self->fd[1], buf, sizeof(buf)));
	EXPECT_STREQ("hello", buf);
	/* A third endpoint: EBUSY whichever way the console is named. */
	snprintf(idx_s, sizeof(idx_s), "%d", self->index);
	snprintf(kname, sizeof(kname), "mflow%d", self->index);
	EXPECT_EQ(-EBUSY, mflow_open(idx_s, O_RDWR));
	EXPECT_EQ(-EBUSY, mflow_open(kname, O_RDWR));
	EXPECT_EQ(-EBUSY, mflow_open(self->name, O_RDWR));
	ASSERT_EQ(0, mflow_resolve(self->name, &index));
	EXPECT_EQ(self->index, (int)index);
	ASSERT_EQ(0, mflow_resolve(self->node, &index));
	EXPECT_EQ(self->index, (int)index);
	/* The descriptors are close-on-exec. */
	EXPECT_EQ(FD_CLOEXEC, fcntl(self->fd[0], F_GETFD) & FD_CLOEXEC);
}

TEST(R14_open_refuses_what_is_not_a_console)
{
	uint32_t index;

	if (access(CTL_PATH, F_OK))
		SKIP(return, "this module has no %s", CTL_PATH);
	EXPECT_EQ(-ENODEV, mflow_open("/dev/null", O_RDWR));
	EXPECT_EQ(-ENOENT, mflow_open("/no/such/node", O_RDWR));
	EXPECT_EQ(-ENODEV, mflow_open("no-such-console-name", O_RDWR));
	EXPECT_EQ(-ENODEV, mflow_open("4000000000", O_RDWR));
	EXPECT_EQ(-EINVAL, mflow_open("99999999999", O_RDWR));
	EXPECT_EQ(-ENODEV, mflow_resolve(CTL_PATH, &index));
	EXPECT_EQ(-ENODEV, mflow_resolve("/dev/null", &index));
}

/* The peer: read everything, then the handshake; exit 0 if all held. */
static void close_peer(int fd)
{
	char buf[16];
	ssize_t n;

	n = read(fd, buf, sizeof(buf));
	if (n != 3 || memcmp(buf, "bye", 3))
		_exit(1);
	if (read(fd, buf, sizeof(buf)) != 0)	/* R4: EOF after our close */
		_exit(2);
	_exit(mflow_close_wait(fd, 10000 * MSEC) ? 3 : 0);
}

TEST_F(lib, R9_close_wait_blocks_until_the_peer_closes)
{
	struct mflow_info in;
	int64_t t0;
	int status;
	pid_t pid;

	attach(_metadata, self, 0);
	/* Without a peer's close: ETIMEDOUT, never before the time asked. */
	t0 = mono_ns();
	EXPECT_EQ(-ETIMEDOUT, mflow_close_wait(self->fd[0], 100 * MSEC));
	EXPECT_LE(100 * MSEC, mono_ns() - t0);
	/* Our write side is shut already: the peer will read EOF. */
	ASSERT_EQ(0, mflow_info(self->fd[0], &in));
	EXPECT_TRUE(in.flags & MFLOW_INFO_WR_SHUT);

	/* A fresh connection for the handshake itself. */
	close(self->fd[0]);
	close(self->fd[1]);
	attach(_metadata, self, 0);
	ASSERT_EQ(3, write(self->fd[0], "bye", 3));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		close_peer(self->fd[1]);
	/* Blocks until the child, having read "bye" and EOF, closes too. */
	EXPECT_EQ(0, mflow_close_wait(self->fd[0], -1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, mflow_info(self->fd[0], &in));
	EXPECT_TRUE(in.flags & MFLOW_INFO_WR_SHUT);
	EXPECT_TRUE(in.flags & MFLOW_INFO_PEER_WR_SHUT);
	/* Idempotent: a repeat returns at once. */
	EXPECT_EQ(0, mflow_close_wait(self->fd[0], 0));
}

TEST_F(lib, R9_R11_close_wait_nonblock_eagain_then_pollhup)
{
	struct pollfd p;
	char buf[8];

	attach(_metadata, self, O_NONBLOCK);
	ASSERT_EQ(2, write(self->fd[1], "hi", 2));
	EXPECT_EQ(-EAGAIN, mflow_close_wait(self->fd[0], -1));
	/* Shut, not finished: no POLLHUP yet. */
	p = (struct pollfd){ .fd = self->fd[0], .events = POLLIN };
	ASSERT_EQ(1, poll(&p, 1, 0));
	EXPECT_FALSE(p.revents & POLLHUP);
	/* The peer's handshake finds ours and completes at once. */
	EXPECT_EQ(0, mflow_close_wait(self->fd[1], -1));
	p.revents = 0;
	ASSERT_EQ(1, poll(&p, 1, 10000));
	EXPECT_TRUE(p.revents & POLLHUP);
	EXPECT_EQ(0, mflow_close_wait(self->fd[0], -1));
	/* Inbound data stays readable after the handshake, then EOF. */
	EXPECT_EQ(2, read(self->fd[0], buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "hi", 2));
	EXPECT_EQ(0, read(self->fd[0], buf, sizeof(buf)));
}

TEST_F(lib, R8_R12_R13_shutdown_queues_and_stats)
{
	struct mflow_stats st;
	uint32_t opts = 0xff;
	char buf[16];
	int fd;

	attach(_metadata, self, 0);
	ASSERT_EQ(5, write(self->fd[0], "12345", 5));
	EXPECT_EQ(5, mflow_outq(self->fd[0]));
	EXPECT_EQ(5, mflow_inq(self->fd[1]));
	EXPECT_EQ(0, mflow_inq(self->fd[0]));
	ASSERT_EQ(5, read(self->fd[1], buf, sizeof(buf)));
	EXPECT_EQ(0, mflow_outq(self->fd[0]));
	ASSERT_EQ(0, mflow_stats(self->fd[0], &st));
	EXPECT_EQ(5, st.write_bytes);
	EXPECT_EQ(1, st.write_ops);
	EXPECT_EQ(0, st.read_bytes);
	ASSERT_EQ(0, mflow_stats(self->fd[1], &st));
	EXPECT_EQ(5, st.read_bytes);
	EXPECT_EQ(1, st.read_ops);

	ASSERT_EQ(0, mflow_get_opts(self->fd[0], &opts));
	EXPECT_EQ(0, opts);
	ASSERT_EQ(0, mflow_set_opts(self->fd[0], MFLOW_OPT_NOSIGPIPE));
	ASSERT_EQ(0, mflow_get_opts(self->fd[0], &opts));
	EXPECT_EQ(MFLOW_OPT_NOSIGPIPE, opts);

	EXPECT_EQ(-EINVAL, mflow_shutdown(self->fd[0], 7));
	EXPECT_EQ(0, mflow_shutdown(self->fd[0], MFLOW_SHUT_WR));
	EXPECT_EQ(0, read(self->fd[1], buf, sizeof(buf)));
	/* NOSIGPIPE: EPIPE without a signal that would kill the test. */
	EXPECT_EQ(-1, write(self->fd[0], "x", 1));
	EXPECT_EQ(EPIPE, errno);
	/* Not an endpoint: the kernel's errors, as -errno. */
	fd = open("/dev/null", O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOTTY, mflow_shutdown(fd, MFLOW_SHUT_WR));
	EXPECT_EQ(-ENOTTY, mflow_close_wait(fd, 0));
	close(fd);
	EXPECT_EQ(-EBADF, mflow_close_wait(-1, 0));
}

TEST(R16_versions_and_get_free)
{
	struct mflow_ctl_version v;
	struct mflow_ctl_query q;
	char mod[64], sys[64] = "", idx_s[16];
	ssize_t n;
	int fd, idx;

	if (access(CTL_PATH, F_OK))
		SKIP(return, "this module has no %s", CTL_PATH);
	EXPECT_NE(0, strlen(mflow_lib_version()));
	ASSERT_EQ(0, mflow_module_version(mod, sizeof(mod)));
	fd = open("/sys/module/mflow/version", O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, sys, sizeof(sys) - 1);
	close(fd);
	ASSERT_LT(0, n);
	sys[strcspn(sys, "\n")] = '\0';
	EXPECT_STREQ(sys, mod);
	EXPECT_EQ(-ERANGE, mflow_module_version(mod, 2));
	ASSERT_EQ(0, mflow_ctl_version(&v));
	EXPECT_EQ(MFLOW_CTL_ABI, v.abi);
	EXPECT_LE(v.consoles, v.max_consoles);

	idx = mflow_get_free();
	ASSERT_LE(0, idx);
	snprintf(idx_s, sizeof(idx_s), "%d", idx);
	ASSERT_EQ(0, mflow_query(idx_s, &q));
	EXPECT_EQ(MFLOW_STATE_IDLE, q.state);
	EXPECT_EQ(0, q.attached);
}

TEST_HARNESS_MAIN
