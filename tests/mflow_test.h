/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the mflow userspace tests: attaching both endpoints of
 * a console, ioctl wrappers, a byte pattern keyed by stream offset, helper
 * processes that die with the test, signal plumbing, and the weighing of
 * the kernel's own memory.
 *
 * Every test attaches both endpoints of its console and lets both detach
 * before it ends, so the next test finds the console idle.
 */
#ifndef MFLOW_TEST_H
#define MFLOW_TEST_H

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <linux/mflow.h>

#include "kselftest_harness.h"

#define MFLOW_PIPE_BUF	4096U	/* atomicity and POLLOUT threshold */
#define MSEC		1000000ULL	/* ns */

/* Is @bit set in @flags, as an int for EXPECT_TRUE()/EXPECT_FALSE(). */
#define HAS(flags, bit)	(((flags) & (bit)) != 0)

/* Console path for a suite: $MFLOW_CONSOLE (a number) overrides @def. */
static inline int mflow_path(char *buf, size_t len, int def)
{
	const char *env = getenv("MFLOW_CONSOLE");
	int n = env ? atoi(env) : def;

	snprintf(buf, len, "/dev/mflow%d", n);
	return n;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline void sleep_ms(unsigned int ms)
{
	usleep(ms * 1000);
}

/* An address nothing is mapped at, hidden from the compiler's checks. */
static inline void *bad_ptr(void)
{
	void *p = (void *)1;

	__asm__("" : "+r" (p));
	return p;
}

/* ---- ioctl wrappers: the value, or -errno ---- */

static inline int mflow_info(int fd, struct mflow_info *info)
{
	memset(info, 0xa5, sizeof(*info));
	return ioctl(fd, MFLOW_IOC_INFO, info) ? -errno : 0;
}

static inline int mflow_stats(int fd, struct mflow_stats *st)
{
	memset(st, 0xa5, sizeof(*st));
	return ioctl(fd, MFLOW_IOC_STATS, st) ? -errno : 0;
}

/* MFLOW_INFO_* flags, or ~0 when the ioctl fails. */
static inline __u32 info_flags(int fd)
{
	struct mflow_info info;

	return mflow_info(fd, &info) ? ~0U : info.flags;
}

static inline long fionread(int fd)
{
	int n = -1;

	return ioctl(fd, FIONREAD, &n) ? -errno : n;
}

static inline long outq(int fd)
{
	__u32 n = ~0U;

	return ioctl(fd, MFLOW_IOC_OUTQ, &n) ? -errno : (long)n;
}

static inline int shut(int fd, __u32 how)
{
	return ioctl(fd, MFLOW_IOC_SHUTDOWN, &how) ? -errno : 0;
}

/* MFLOW_IOC_CLOSE waiting at most @ns. */
static inline int close_within(int fd, __u64 ns)
{
	struct mflow_close_args args = {
		.timeout_ns = ns,
		.flags = MFLOW_CLOSE_TIMEOUT,
	};

	return ioctl(fd, MFLOW_IOC_CLOSE, &args) ? -errno : 0;
}

/* MFLOW_IOC_CLOSE without a time limit. */
static inline int close_wait(int fd)
{
	return ioctl(fd, MFLOW_IOC_CLOSE, NULL) ? -errno : 0;
}

static inline int set_opts(int fd, __u32 opts)
{
	return ioctl(fd, MFLOW_IOC_SET_OPTS, &opts) ? -errno : 0;
}

/* The endpoint's busy-poll time in microseconds, or ~0U on error. */
static inline __u32 busy_poll(int fd)
{
	__u32 us;

	return ioctl(fd, MFLOW_IOC_GET_BUSY_POLL, &us) ? ~0U : us;
}

static inline int set_busy_poll(int fd, __u32 us)
{
	return ioctl(fd, MFLOW_IOC_SET_BUSY_POLL, &us) ? -errno : 0;
}

static inline int set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl) ? -errno : 0;
}

/* ---- byte pattern: byte at stream offset @off ---- */

static inline uint8_t pat(uint64_t off)
{
	return (uint8_t)((off * 2654435761U) >> 13 ^ off >> 9);
}

static inline void pat_fill(void *buf, uint64_t off, size_t len)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = pat(off + i);
}

/* Index of the first byte of @buf that is not pat(@off...), or -1. */
/* @len bytes of the pattern from offset @off, malloc()ed; NULL if not. */
static inline uint8_t *pat_alloc(uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);

	if (buf)
		pat_fill(buf, off, len);
	return buf;
}

static inline long pat_mismatch(const void *buf, uint64_t off, size_t len)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != pat(off + i))
			return (long)i;
	return -1;
}

/*
 * The text file @path into @buf: at most @len - 1 bytes, then a NUL; with
 * @chomp a trailing newline is cut. Return: 0, or -errno.
 */
static inline int read_text(const char *path, char *buf, size_t len,
			    bool chomp)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if (chomp && n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

/*
 * @text into the file @path, in one write; opened with O_TRUNC, which
 * clears a tracefs trace file. Return: 0, or -errno.
 */
static inline int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

#define TRACEFS		"/sys/kernel/tracing"
#define RECORD_CMD	TRACEFS "/options/record-cmd"

/*
 * Before a test enables trace events: turn off tracefs's comm recording
 * (record-cmd, which instances inherit), saving its value in @saved for
 * write_text(RECORD_CMD, saved) afterwards. Enabling an event with it on
 * also live-patches the sched_switch and sched_wakeup static branches in
 * __schedule() and try_to_wake_up() while every vCPU runs them, and under
 * emulation a vCPU can still execute the patch's int3 after the patch is
 * done: "Oops: int3" in __schedule() or ttwu_do_activate(), a panic (seen
 * on 6.12 under TCG). With it off only the tracepoints enabled are
 * patched. Return: 0, or -errno (no tracefs).
 */
static inline int record_cmd_off(char *saved, size_t len)
{
	int ret = read_text(RECORD_CMD, saved, len, true);

	return ret ? ret : write_text(RECORD_CMD, "0");
}

/* Read until @len bytes, EOF or an error; the bytes read, or -errno. */
static inline ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t r;

	while (got < len) {
		r = read(fd, (char *)buf + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return got ? (ssize_t)got : -errno;
		if (r == 0)
			break;
		got += r;
	}
	return got;
}

/*
 * Write pattern bytes from stream offset @off with O_NONBLOCK until the
 * fifo refuses more; the bytes written.
 */
static inline size_t fill_fifo(int fd, uint64_t off)
{
	static uint8_t chunk[65536];
	int fl = fcntl(fd, F_GETFL);
	size_t total = 0;
	ssize_t r;

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		pat_fill(chunk, off + total, sizeof(chunk));
		r = write(fd, chunk, sizeof(chunk));
		if (r <= 0)
			break;
		total += r;
	}
	fcntl(fd, F_SETFL, fl);
	return total;
}

/* Read and check @len pattern bytes from offset @off; 0 or -1. */
static inline int drain_pat(int fd, uint64_t off, size_t len)
{
	static uint8_t chunk[65536];
	size_t n;

	while (len) {
		n = len < sizeof(chunk) ? len : sizeof(chunk);
		if (read_full(fd, chunk, n) != (ssize_t)n)
			return -1;
		if (pat_mismatch(chunk, off, n) >= 0)
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

/* Wait up to @ms for @fd to become readable (data or EOF). */
static inline bool wait_readable(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

/* ---- attaching ---- */

/*
 * Attach endpoint 0 of @path. A console an earlier test left half used
 * (endpoint 0 gone, endpoint 1 never attached) hands out endpoint 1: that
 * is a leaked connection, and this test fails saying so; the endpoint is
 * dropped first, which ends that connection, so the tests after it start
 * clean. EBUSY is retried for a while: a killed helper process of an
 * earlier test may still hold a file.
 */
static inline int mflow_attach0(struct __test_metadata *_metadata,
				const char *path, int flags)
{
	struct mflow_info info;
	int tries, fd;

	for (tries = 0; tries < 300; tries++) {
		fd = open(path, flags | O_CLOEXEC);
		if (fd < 0 && errno == EBUSY) {
			sleep_ms(10);
			continue;
		}
		ASSERT_LE(0, fd) TH_LOG("open %s: %s", path, strerror(errno));
		ASSERT_EQ(0, mflow_info(fd, &info));
		if (info.endpoint == 0)
			return fd;
		close(fd);
		ASSERT_EQ(0U, info.endpoint)
			TH_LOG("%s: left half used by an earlier test", path);
	}
	ASSERT_TRUE(false) TH_LOG("%s stayed busy", path);
	return -1;
}

/* Attach endpoint 0 with @f0 and endpoint 1 with @f1 into @fd[0..1]. */
static inline void mflow_open_pair(struct __test_metadata *_metadata,
				   const char *path, int f0, int f1, int fd[2])
{
	struct mflow_info info;

	fd[0] = mflow_attach0(_metadata, path, f0);
	fd[1] = open(path, f1 | O_CLOEXEC);
	ASSERT_LE(0, fd[1]) TH_LOG("second open of %s: %s", path,
				   strerror(errno));
	ASSERT_EQ(0, mflow_info(fd[1], &info));
	ASSERT_EQ(1U, info.endpoint);
}

static inline void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static inline unsigned int fifo_size(struct __test_metadata *_metadata,
				     int fd)
{
	struct mflow_info info;

	ASSERT_EQ(0, mflow_info(fd, &info));
	ASSERT_LE(MFLOW_PIPE_BUF, info.fifo_size);
	ASSERT_EQ(0U, info.fifo_size & (info.fifo_size - 1));
	return info.fifo_size;
}

/* ---- helper processes ---- */

/*
 * Checks inside a forked helper: on failure say where on stderr and exit
 * non-zero; the test reaps the helper and asserts on its exit code.
 */
#define CHILD_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "# %s:%d: helper: %s failed (errno %d)\n", \
			__FILE__, __LINE__, #cond, errno);		\
		_exit(1);						\
	}								\
} while (0)

/* fork() a helper that gets SIGKILL if the test process goes away. */
static inline pid_t spawn(void)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(2);
	}
	return pid;
}

/*
 * Wait up to @ms for @pid: its exit code, 128 + signal if killed, or -1
 * if it had to be killed for running too long.
 */
static inline int reap(pid_t pid, unsigned int ms)
{
	uint64_t end = now_ns() + ms * MSEC;
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0)
			return -1;
		if (now_ns() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		sleep_ms(2);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* Scheduler state letter of task @tid (any thread), or 0 if gone. */
static inline char task_state(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * Wait until task @tid sleeps interruptibly (blocked in a syscall), then
 * make sure it stays asleep for a moment; false if it never does.
 */
static inline bool wait_blocked(pid_t tid)
{
	uint64_t end = now_ns() + 10000 * MSEC;

	while (now_ns() < end) {
		if (task_state(tid) == 'S') {
			sleep_ms(100);
			if (task_state(tid) == 'S')
				return true;
		}
		sleep_ms(2);
	}
	return false;
}

/* /proc/self/fdinfo/<fd> into @buf. */
static inline int fdinfo(int fd, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	return read_text(path, buf, len, false);
}

/* A number ("mflow-inq", "mflow-outq"...) of the fd's fdinfo, or -1. */
static inline long fdinfo_num(int fd, const char *key)
{
	char buf[1024], *p;

	if (fdinfo(fd, buf, sizeof(buf)))
		return -1;
	p = strstr(buf, key);
	if (!p || p[strlen(key)] != ':')
		return -1;
	return strtol(p + strlen(key) + 2, NULL, 10);
}

/*
 * The "mflow-reply-spins" line of @fd's fdinfo: reply spins that saw the
 * answer and those that gave up. Return: 0, or -1 if it is missing.
 */
static inline int reply_spins(int fd, unsigned long long *hits,
			      unsigned long long *misses)
{
	char buf[1024], *p;

	if (fdinfo(fd, buf, sizeof(buf)))
		return -1;
	p = strstr(buf, "mflow-reply-spins:");
	if (!p || sscanf(p, "mflow-reply-spins: %llu %llu", hits, misses) != 2)
		return -1;
	return 0;
}

/* ---- a thread blocked in one read or write ---- */

struct blocked_io {
	int fd;
	void *buf;
	size_t len;
	pid_t tid;
	ssize_t ret;
	int err;
};

static inline void *blocked_read_thread(void *arg)
{
	struct blocked_io *b = arg;

	__atomic_store_n(&b->tid, gettid(), __ATOMIC_SEQ_CST);
	b->ret = read(b->fd, b->buf, b->len);
	b->err = errno;
	return NULL;
}

static inline void *blocked_write_thread(void *arg)
{
	struct blocked_io *b = arg;

	__atomic_store_n(&b->tid, gettid(), __ATOMIC_SEQ_CST);
	b->ret = write(b->fd, b->buf, b->len);
	b->err = errno;
	return NULL;
}

/* Start @fn on @b and return once it sleeps in the kernel. */
static inline void start_blocked(struct __test_metadata *_metadata,
				 pthread_t *th, void *(*fn)(void *),
				 struct blocked_io *b)
{
	ASSERT_EQ(0, pthread_create(th, NULL, fn, b));
	while (!__atomic_load_n(&b->tid, __ATOMIC_SEQ_CST))
		sleep_ms(1);
	ASSERT_TRUE(wait_blocked(b->tid));
}

/* ---- signals ---- */

static inline void nop_handler(int sig)
{
	(void)sig;
}

/*
 * Deliver SIGALRM every @ms, to a handler installed without SA_RESTART,
 * so that a blocking call fails with EINTR whenever it starts waiting.
 */
static inline void interrupt_every(unsigned int ms)
{
	struct sigaction sa = { .sa_handler = nop_handler };
	struct itimerval it = {
		.it_value = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 },
		.it_interval = { .tv_sec = ms / 1000,
				 .tv_usec = ms % 1000 * 1000 },
	};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

static inline void interrupt_stop(void)
{
	struct itimerval it = {};

	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_IGN);
}

/* Keep SIGPIPE pending instead of fatal, so tests can look for it. */
static inline void sigpipe_block(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

/* Was SIGPIPE raised since the last call? Consumes it. */
static inline bool sigpipe_taken(void)
{
	struct timespec zero = {};
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	return sigtimedwait(&set, NULL, &zero) == SIGPIPE;
}

/*
 * Fork a helper that keeps only endpoint @keep of @fd; the caller drops its
 * own copy of that endpoint, so the helper alone holds it.
 */
static inline pid_t spawn_keeping(int fd[2], int keep)
{
	pid_t pid = spawn();

	if (pid == 0)
		close_fd(&fd[!keep]);
	else if (pid > 0)
		close_fd(&fd[keep]);
	return pid;
}

/* ---- kernel memory ---- */

/* The /proc/meminfo lines kernel_mem() adds up. */
#define KMEM_KEYS	3

static inline const char *kernel_mem_key(unsigned int i)
{
	static const char *const keys[KMEM_KEYS] = {
		"SUnreclaim:", "VmallocUsed:", "Percpu:",
	};

	return keys[i];
}

/*
 * Every slab cache shrunk, which also empties KASAN's quarantine of it:
 * seconds on a debug kernel. The symbolic links are the aliases of merged
 * caches: each cache is shrunk once, by its directory.
 */
static inline void shrink_slabs(void)
{
	struct dirent *de;
	char path[300];
	DIR *d;
	int fd;

	d = opendir("/sys/kernel/slab");
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type == DT_LNK)
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink",
			 de->d_name);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			(void)!write(fd, "1", 1);
			close(fd);
		}
	}
	if (d)
		closedir(d);
}

/*
 * Unreclaimable kernel memory in bytes (unreclaimable slab, vmalloc,
 * percpu, from /proc/meminfo: where consoles, fifos and files live),
 * measured once udev has handled every event (waiting up to @settle_s)
 * and the dentry and inode caches are dropped, so that what remains is
 * what the module and the driver core hold. With @shrink, every slab
 * cache is shrunk first. Each key's share goes to @part (if not NULL).
 * -1 if /proc/meminfo cannot be read.
 */
static inline long long kernel_mem(unsigned int settle_s, bool shrink,
				   long long part[KMEM_KEYS])
{
	long long sum = 0, kb;
	char line[256];
	unsigned int i;
	FILE *f;

	snprintf(line, sizeof(line),
		 "udevadm settle --timeout=%u >/dev/null 2>&1", settle_s);
	if (system(line)) {
		/* No udev here: nothing is queued behind it either. */
	}
	sync();
	if (shrink)
		shrink_slabs();
	f = fopen("/proc/sys/vm/drop_caches", "we");
	if (f) {
		fputs("3\n", f);
		fclose(f);
	}
	f = fopen("/proc/meminfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		for (i = 0; i < KMEM_KEYS; i++) {
			const char *key = kernel_mem_key(i);

			if (strncmp(line, key, strlen(key)) ||
			    sscanf(line + strlen(key), "%lld", &kb) != 1)
				continue;
			if (part)
				part[i] = kb * 1024;
			sum += kb * 1024;
		}
	fclose(f);
	return sum;
}

/*
 * MFLOW_PAIR_FIXTURE(name, console): a fixture holding both endpoints of
 * /dev/mflow<console> (MFLOW_CONSOLE overrides it) opened read-write, with
 * SIGPIPE blocked and the fifo size read from MFLOW_IOC_INFO.
 * MFLOW_PAIR_FIXTURE_UNDO(name, console, undo): the same, with the
 * statement @undo run at teardown after both are closed (to put back a
 * setting the tests change, even when one fails half-way).
 */
#define MFLOW_PAIR_FIXTURE_UNDO(name, console, undo)			\
FIXTURE(name)								\
{									\
	char path[32];							\
	int fd[2];		/* endpoint 0, endpoint 1 */		\
	unsigned int fifo;	/* bytes per direction */		\
};									\
									\
FIXTURE_SETUP(name)							\
{									\
	self->fd[0] = -1;						\
	self->fd[1] = -1;						\
	mflow_path(self->path, sizeof(self->path), console);		\
	if (access(self->path, F_OK))					\
		SKIP(return, "%s missing: is mflow loaded?", self->path); \
	sigpipe_block();						\
	mflow_open_pair(_metadata, self->path, O_RDWR, O_RDWR, self->fd); \
	self->fifo = fifo_size(_metadata, self->fd[0]);		\
}									\
									\
FIXTURE_TEARDOWN(name)							\
{									\
	close_fd(&self->fd[0]);						\
	close_fd(&self->fd[1]);						\
	undo;								\
}

#define MFLOW_PAIR_FIXTURE(name, console)				\
	MFLOW_PAIR_FIXTURE_UNDO(name, console, (void)0)

/*
 * MFLOW_COMPAT_MAIN(test names...): main() for a program that runs natively
 * and, built with -m32, as <name>_32. The native build runs every test;
 * the 32-bit build only the tests named, those whose ioctl arguments a
 * 32-bit caller passes through compat_ioctl (layouts, pointers, bad
 * arguments): the rest of the program drives the same kernel code from
 * either build. A name that matches no test fails the program. Options
 * on the command line (-l, -t...) follow the names.
 */
#ifdef __i386__
#define MFLOW_COMPAT_MAIN(...)						\
int main(int argc, char **argv)						\
{									\
	static const char *const names[] = { __VA_ARGS__ };		\
	size_t n = sizeof(names) / sizeof(names[0]), i, k = 0;		\
	char **args = calloc(2 * n + argc + 1, sizeof(*args));		\
	struct __fixture_metadata *f;					\
	struct __test_metadata *t;					\
									\
	if (!args)							\
		return KSFT_FAIL;					\
	args[k++] = argv[0];						\
	for (i = 0; i < n; i++) {					\
		bool found = false;					\
									\
		for (f = __fixture_list; f; f = f->next)		\
			for (t = f->tests; t; t = t->next)		\
				found |= !strcmp(t->name, names[i]);	\
		if (!found) {						\
			printf("Bail out! no test named %s\n", names[i]); \
			return KSFT_FAIL;				\
		}							\
		args[k++] = (char *)"-t";				\
		args[k++] = (char *)names[i];				\
	}								\
	for (i = 1; i < (size_t)argc; i++)				\
		args[k++] = argv[i];					\
	return test_harness_run((int)k, args);				\
}
#else
#define MFLOW_COMPAT_MAIN(...) TEST_HARNESS_MAIN
#endif

#endif /* MFLOW_TEST_H */
