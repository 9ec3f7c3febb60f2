// SPDX-License-Identifier: GPL-2.0
/*
 * mflow_bench: mflow against the byte streams Linux already has, measured
 * side by side in one run.
 *
 * Transports: mflow; a pipe at its default size and resized (F_SETPIPE_SZ)
 * to mflow's fifo size; an AF_UNIX stream socketpair with default buffers
 * and with SO_SNDBUF/SO_RCVBUF matched to mflow's fifo size; a raw-mode
 * pty; and, for the ping-pong only, two one-way socketpairs (one socket
 * per direction, so that a reader consuming data does not wake the writer
 * waiting for the reply on the same socket's wait queue) and mflow with
 * busy polling (MFLOW_IOC_SET_BUSY_POLL, -b microseconds, 50 by default)
 * on both endpoints, whose ratio column is against the socketpair; and,
 * for the ping-pong and console rows, mflow with the reply spin turned off
 * on both endpoints (MFLOW_OPT_NO_REPLY_SPIN), whose ratio column is the
 * cost or gain of the spin (spin on / spin off).
 *
 * Workloads: one-way bulk with 4 KiB, 64 KiB and 1 MiB writes (reader
 * buffer the same size, page aligned or 128 bytes off); writev of 16 small
 * iovecs; one task writing 4 KiB or 1 byte and reading it back (the cost
 * of the two calls alone); 1-byte ping-pong between two processes (fork;
 * median, p99 and CPU time of both sides per round trip) unpinned (no
 * affinity), both on CPU 0, and on CPUs 0 and 1; the console pattern: a
 * process logs 64-byte lines one way (16 MiB, or less with -m) while a
 * second thread of it is blocked in read on the same endpoint, and the
 * peer process reads the log (MB/s and CPU ms per MB of both processes),
 * beside the same log with no blocked thread; 1, 2, 8 and 64 concurrent
 * pairs, each moving a bulk sample's
 * volume (aggregate MB/s); sendfile from a memfd into the stream; io_uring
 * writes and reads at queue depth 1 and 32.
 *
 * Method: buffers touched after fork (no page faults in the timed part),
 * one warm-up round discarded, then transports interleaved within each of
 * --rounds rounds; CPU figures are user + system time of both processes,
 * every thread (CLOCK_PROCESS_CPUTIME_ID), over the sample, per byte moved
 * (bulk: CPU seconds per GB); each cell is the median with min..max, and each ratio
 * column is mflow's median divided by the other transport's (above 1 is
 * better for MB/s, below 1 is better for microseconds). The kernel, CPU and
 * whether the machine is emulated (TCG) or not are printed with the table.
 *
 * usage: mflow_bench [--help] [--quick] [--out FILE] [-d /dev/mflowN] [-m MiB]
 *                    [-p round trips] [-r rounds] [-w WORKLOAD] [-t LIST]
 *                    [-b busy-poll microseconds]
 *
 * -w keeps the workloads whose label contains WORKLOAD ("ping-pong 2 CPUs")
 * and -t the transports named in LIST (short names, comma-separated:
 * mflow,pipe,pipe-rs,sock,sock-m,pty,sock2,mflow-bp,mflow-nospin), e.g. to run one cell
 * under perf.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/mflow.h>
#ifdef HAVE_LIBURING
#include <liburing.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

enum transport {
	T_MFLOW, T_PIPE, T_PIPE_SZ, T_SOCK, T_SOCK_SZ, T_PTY, T_SOCK2,
	T_MFLOW_BP, T_MFLOW_NOSPIN, T_COUNT
};

static const char *const tname[T_COUNT] = {
	"mflow", "pipe", "pipe resized", "socketpair", "socketpair matched",
	"pty raw", "2 one-way socketpairs", "mflow busy-poll",
	"mflow no reply spin",
};

/* short names for the ratio columns */
static const char *const tshort[T_COUNT] = {
	"mflow", "pipe", "pipe-rs", "sock", "sock-m", "pty", "sock2", "mflow-bp",
	"mflow-nospin",
};

/*
 * sock2 and mflow-bp are ping-pong transports only; mflow-nospin runs
 * where the reply spin can act: the ping-pong and the console rows.
 */
#define ALL_T		((1U << T_COUNT) - 1)
#define ALL_BUT_SOCK2	(ALL_T - (1U << T_SOCK2) - (1U << T_MFLOW_BP) - \
			 (1U << T_MFLOW_NOSPIN))
#define CONSOLE_T	(ALL_BUT_SOCK2 | (1U << T_MFLOW_NOSPIN))
#define IS_MFLOW(t)	((t) == T_MFLOW || (t) == T_MFLOW_BP || \
			 (t) == T_MFLOW_NOSPIN)

static unsigned int busy_poll_us = 50;	/* -b, for T_MFLOW_BP */

static const char *device = "/dev/mflow0";
static int device_given;
static int ctl_fd = -1;			/* /dev/mflow-control, if present */
static unsigned int fifo_bytes;		/* mflow's fifo size per direction */
static int sock_matched;		/* effective SO_SNDBUF when matched */
static int sock_default;		/* effective SO_SNDBUF by default */
static int pipe_default;		/* F_GETPIPE_SZ of a new pipe */
static int ncpus;
static cpu_set_t all_cpus;

#define BUF_SIZE	((1 << 20) + 4096)
static char *wbuf, *rbuf;

/* a[0] writes to b[0]; b[1] writes to a[1] (the ping-pong reply). */
struct link {
	int a[2];
	int b[2];
};

static void fail(const char *what)
{
	fprintf(stderr, "mflow_bench: %s: %s\n", what, strerror(errno));
	exit(2);
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int open_pty(int *master, int *slave)
{
	struct termios tio;

	*master = posix_openpt(O_RDWR | O_NOCTTY);
	if (*master < 0)
		return errno;
	if (grantpt(*master) || unlockpt(*master))
		return errno;
	*slave = open(ptsname(*master), O_RDWR | O_NOCTTY);
	if (*slave < 0)
		return errno;
	if (tcgetattr(*slave, &tio))
		return errno;
	cfmakeraw(&tio);
	if (tcsetattr(*slave, TCSANOW, &tio))
		return errno;
	return 0;
}

/* A console to use: an idle one from the control device, else the nth. */
static int mflow_path(int nth, char *path, size_t len)
{
	int idx;

	if (nth == 0 && device_given) {
		snprintf(path, len, "%s", device);
		return 0;
	}
	if (ctl_fd >= 0) {
		idx = ioctl(ctl_fd, MFLOW_CTL_GET_FREE);
		if (idx < 0)
			return errno;
		snprintf(path, len, "/dev/mflow%d", idx);
		return 0;
	}
	if (nth == 0)
		snprintf(path, len, "%s", device);
	else
		snprintf(path, len, "/dev/mflow%d", nth);
	return 0;
}

static void set_bufs(int fd, int bytes)
{
	/* the kernel doubles the value for overhead: ask for half */
	int v = bytes / 2;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

/* MFLOW_OPT_NO_REPLY_SPIN on @fd, keeping its other options: 0 or -1. */
static int no_reply_spin(int fd)
{
	__u32 opts;

	if (ioctl(fd, MFLOW_IOC_GET_OPTS, &opts))
		return -1;
	opts |= MFLOW_OPT_NO_REPLY_SPIN;
	return ioctl(fd, MFLOW_IOC_SET_OPTS, &opts);
}

/* Returns 0 or an errno; @nth picks the mflow console for pairs. */
static int link_open(enum transport t, struct link *l, int nth)
{
	char path[64];
	int p[2], q[2], err;

	switch (t) {
	case T_MFLOW:
	case T_MFLOW_BP:
	case T_MFLOW_NOSPIN:
		err = mflow_path(nth, path, sizeof(path));
		if (err)
			return err;
		l->a[0] = open(path, O_RDWR);
		if (l->a[0] < 0)
			return errno;
		l->b[0] = open(path, O_RDWR);
		if (l->b[0] < 0) {
			err = errno;
			close(l->a[0]);
			return err;
		}
		l->a[1] = l->a[0];
		l->b[1] = l->b[0];
		if (t == T_MFLOW_BP &&
		    (ioctl(l->a[0], MFLOW_IOC_SET_BUSY_POLL, &busy_poll_us) ||
		     ioctl(l->b[0], MFLOW_IOC_SET_BUSY_POLL, &busy_poll_us))) {
			err = errno;
			close(l->a[0]);
			close(l->b[0]);
			return err;
		}
		if (t == T_MFLOW_NOSPIN &&
		    (no_reply_spin(l->a[0]) || no_reply_spin(l->b[0]))) {
			err = errno;
			close(l->a[0]);
			close(l->b[0]);
			return err;
		}
		return 0;
	case T_PIPE:
	case T_PIPE_SZ:
		if (pipe(p))
			return errno;
		if (pipe(q)) {
			err = errno;
			close(p[0]);
			close(p[1]);
			return err;
		}
		if (t == T_PIPE_SZ) {
			fcntl(p[1], F_SETPIPE_SZ, fifo_bytes);
			fcntl(q[1], F_SETPIPE_SZ, fifo_bytes);
		}
		l->a[0] = p[1];
		l->b[0] = p[0];
		l->b[1] = q[1];
		l->a[1] = q[0];
		return 0;
	case T_SOCK:
	case T_SOCK_SZ:
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, p))
			return errno;
		if (t == T_SOCK_SZ) {
			set_bufs(p[0], fifo_bytes);
			set_bufs(p[1], fifo_bytes);
		}
		l->a[0] = l->a[1] = p[0];
		l->b[0] = l->b[1] = p[1];
		return 0;
	case T_SOCK2:
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, p))
			return errno;
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, q)) {
			err = errno;
			close(p[0]);
			close(p[1]);
			return err;
		}
		shutdown(p[0], SHUT_RD);
		shutdown(p[1], SHUT_WR);
		shutdown(q[0], SHUT_RD);
		shutdown(q[1], SHUT_WR);
		l->a[0] = p[0];
		l->b[0] = p[1];
		l->b[1] = q[0];
		l->a[1] = q[1];
		return 0;
	case T_PTY:
		err = open_pty(&l->a[0], &l->b[0]);
		if (err)
			return err;
		l->a[1] = l->a[0];
		l->b[1] = l->b[0];
		return 0;
	default:
		abort();
	}
}

static void close_side(const int *fds)
{
	close(fds[0]);
	if (fds[1] != fds[0])
		close(fds[1]);
}

static void link_close(struct link *l)
{
	close_side(l->a);
	close_side(l->b);
}

static int full_write(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

static int full_read(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? errno : EPIPE;
		p += n;
		len -= n;
	}
	return 0;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0) {
		sched_setaffinity(0, sizeof(all_cpus), &all_cpus);
		return;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* A child stuck behind a dead peer dies after this many seconds. */
#define CHILD_ALARM 300

/* What a child reports on the control pipe when it is done. */
struct done {
	int err;
	uint64_t cpu_ns;
	uint64_t bytes;	/* bytes (or round trips) the child saw */
	uint64_t spins[3];	/* its endpoint's reply spins, if mflow */
};

/*
 * The reply spins of an mflow endpoint from fdinfo ("mflow-reply-spins:"
 * hits, misses, give-ways) added to @s; nothing for other files.
 */
static void read_spins(int fd, uint64_t s[3])
{
	unsigned long long h, m, y;
	char path[64], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "mflow-reply-spins: %llu %llu %llu",
			   &h, &m, &y) == 3) {
			s[0] += h;
			s[1] += m;
			s[2] += y;
			break;
		}
	fclose(f);
}

/* Where the measured samples of the current row add their reply spins. */
static uint64_t (*spin_acc)[3];

static void note_spins(enum transport t, const uint64_t s[3])
{
	int k;

	if (!spin_acc || !IS_MFLOW(t))
		return;
	for (k = 0; k < 3; k++)
		spin_acc[t][k] += s[k];
}

/* Each sample stops after its volume or this many ns, whichever first. */
static uint64_t sample_ns = 1000000000;

/* read(2) at the end of a stream: 0, or EIO from a pty whose master left. */
static int at_eof(ssize_t n)
{
	return n == 0 || (n < 0 && errno == EIO);
}

/*
 * How a reader knows it has everything without end of stream (closing a
 * pty master drops what the slave has not read yet): the writer stores
 * how many bytes it wrote in finals[link], shared with the children, then
 * writes one more byte so that a reader blocked on an empty stream wakes
 * up and sees it. The store is a release; the reader's load after read(2)
 * an acquire: they pair, so a reader that got the extra byte sees the
 * count.
 */
#define NO_FINAL UINT64_MAX
static uint64_t *finals;

static int final_write(int fd, int link, uint64_t bytes)
{
	__atomic_store_n(&finals[link], bytes, __ATOMIC_RELEASE);
	/*
	 * A reader that saw the count after its last read may be gone
	 * already (EPIPE, or EIO from a pty): the byte only wakes a reader
	 * that still waits.
	 */
	if (write(fd, "e", 1) < 0 && errno != EPIPE && errno != EIO &&
	    errno != ECONNRESET)
		return errno;
	return 0;
}

/* 1 when @got bytes are all the writer sent (perhaps plus the extra byte) */
static int final_reached(int link, uint64_t *got)
{
	uint64_t f = __atomic_load_n(&finals[link], __ATOMIC_ACQUIRE);

	if (*got < f)
		return 0;
	*got = f;
	return 1;
}

/*
 * A child runs @fn after touching its buffers and saying "ready" on a
 * control pipe, then reports a struct done there. The parent waits for
 * "ready" before it starts the clock.
 */
struct child {
	pid_t pid;
	int ctl;	/* read end of the control pipe */
};

static int child_start(struct child *c, struct link *l, int cpu,
		       int (*fn)(struct link *l, void *arg, uint64_t *bytes),
		       void *arg)
{
	int cp[2];
	char r;

	if (pipe(cp))
		return errno;
	c->pid = fork();
	if (c->pid < 0)
		fail("fork");
	if (c->pid == 0) {
		struct done d = { 0 };
		uint64_t c0;

		alarm(CHILD_ALARM);
		close(cp[0]);
		close_side(l->a);
		if (cpu != -2)
			pin(cpu);
		memset(rbuf, 0, BUF_SIZE);
		c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
		if (write(cp[1], "r", 1) != 1)
			_exit(3);
		d.err = fn(l, arg, &d.bytes);
		d.cpu_ns = now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
		read_spins(l->b[0], d.spins);
		if (write(cp[1], &d, sizeof(d)) != sizeof(d))
			_exit(3);
		_exit(0);
	}
	close(cp[1]);
	close_side(l->b);
	c->ctl = cp[0];
	if (full_read(c->ctl, &r, 1)) {
		waitpid(c->pid, NULL, 0);
		close(c->ctl);
		return EIO;
	}
	return 0;
}

/*
 * Open a link of transport @t and start the reading child on it, unpinned:
 * the start of every one-way run. On failure nothing stays open.
 */
static int link_child_start(enum transport t, struct link *l, struct child *c,
			    int (*fn)(struct link *l, void *arg, uint64_t *bytes),
			    void *arg)
{
	int err;

	err = link_open(t, l, 0);
	if (err)
		return err;
	finals[0] = NO_FINAL;
	err = child_start(c, l, -2, fn, arg);
	if (err)
		close_side(l->a);
	return err;
}

static int child_finish(struct child *c, struct done *d, int kill_it)
{
	int err = 0;

	if (kill_it)
		kill(c->pid, SIGKILL);
	else if (full_read(c->ctl, d, sizeof(*d)))
		err = EIO;
	else
		err = d->err;
	waitpid(c->pid, NULL, 0);
	close(c->ctl);
	return err;
}

/* ---- bulk and writev ---- */

struct bulk_arg {
	size_t chunk;	/* write size; the reader's buffer size too */
	size_t total;
	int roff;	/* reader buffer offset from a page boundary */
	int iovs;	/* writev with this many iovecs of chunk/iovs, or 0 */
};

/* Reads until it has what the writer says it sent (finals[0]). */
static int bulk_reader(struct link *l, void *arg, uint64_t *got)
{
	struct bulk_arg *b = arg;
	size_t rsz = b->iovs ? 65536 : b->chunk;

	for (;;) {
		ssize_t n = read(l->b[0], rbuf + b->roff, rsz);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? errno : EPIPE;
		*got += n;
		if (final_reached(0, got))
			return 0;
	}
}

static int writev_all(int fd, struct iovec *iov, int cnt)
{
	while (cnt) {
		ssize_t n = writev(fd, iov, cnt);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		while (cnt && (size_t)n >= iov->iov_len) {
			n -= iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= n;
		}
	}
	return 0;
}

/* out: MB/s, CPU seconds per GB (writer + reader) */
static int bulk(enum transport t, struct bulk_arg *b, double *out)
{
	struct iovec iov[64];
	struct child c;
	struct link l;
	struct done d;
	uint64_t t0, c0;
	size_t done;
	int err, i;

	err = link_child_start(t, &l, &c, bulk_reader, b);
	if (err)
		return err;
	c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	t0 = now_ns(CLOCK_MONOTONIC);
	for (done = 0; !err && done < b->total; done += b->chunk) {
		if (now_ns(CLOCK_MONOTONIC) - t0 > sample_ns)
			break;
		if (!b->iovs) {
			err = full_write(l.a[0], wbuf, b->chunk);
			continue;
		}
		for (i = 0; i < b->iovs; i++) {
			iov[i].iov_base = wbuf + i * (b->chunk / b->iovs);
			iov[i].iov_len = b->chunk / b->iovs;
		}
		err = writev_all(l.a[0], iov, b->iovs);
	}
	if (!err)
		err = final_write(l.a[0], 0, done);
	err = child_finish(&c, &d, err);
	t0 = now_ns(CLOCK_MONOTONIC) - t0;
	c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
	close_side(l.a);
	if (!err && (d.bytes != done || !done))
		err = EIO;	/* lost or invented bytes */
	out[0] = d.bytes / (t0 / 1e9) / 1e6;
	out[1] = (double)(c0 + d.cpu_ns) / done;
	return err;
}

/* ---- the console pattern ---- */

struct console_arg {
	size_t line;	/* bytes a write: one log line */
	size_t total;
	int blocked;	/* a second thread of the writer blocked in read */
};

/* The log's reader: 64 KiB reads until it has what the writer sent. */
static int console_reader(struct link *l, void *arg, uint64_t *got)
{
	(void)arg;
	for (;;) {
		ssize_t n = read(l->b[0], rbuf, 65536);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? errno : EPIPE;
		*got += n;
		if (final_reached(0, got))
			return 0;
	}
}

struct input_thread {
	int fd;
	pid_t tid;	/* set before it reads */
};

/*
 * The writer's input thread: blocked in read on the other direction (as a
 * console program waits for keystrokes) until the peer's process ends.
 */
static void *input_wait(void *arg)
{
	struct input_thread *it = arg;
	char buf[64];

	__atomic_store_n(&it->tid, gettid(), __ATOMIC_RELEASE);
	while (read(it->fd, buf, sizeof(buf)) < 0 && errno == EINTR)
		;
	return NULL;
}

/*
 * Waits until thread @tid sleeps (state S in its /proc stat), at most 5 s:
 * 0 or ETIMEDOUT. It may sleep elsewhere than in read for a moment; a
 * sample that starts then measures the same thing a little later.
 */
static int wait_sleeping(pid_t tid)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	char path[64], buf[256], *p;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	while (now_ns(CLOCK_MONOTONIC) - t0 < 5000000000ULL) {
		int fd = open(path, O_RDONLY);
		ssize_t n;

		if (fd < 0)
			return errno;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return EIO;
		buf[n] = 0;
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'S')
			return 0;
		sched_yield();
	}
	return ETIMEDOUT;
}

/*
 * The console pattern: one process writes c->line bytes a call, the peer
 * process reads; with c->blocked, a second thread of the writer sits in
 * read(2) on the other direction the whole time. Both processes unpinned.
 * out: MB/s, CPU ms per MB (both processes, every thread).
 */
static int console(enum transport t, struct console_arg *a, double *out)
{
	struct input_thread it = { 0, 0 };
	pthread_t th;
	struct child c;
	struct link l;
	struct done d;
	uint64_t t0, c0, s[3] = { 0, 0, 0 };
	size_t done = 0;
	int err;

	err = link_child_start(t, &l, &c, console_reader, a);
	if (err)
		return err;
	if (a->blocked) {
		it.fd = l.a[1];
		err = pthread_create(&th, NULL, input_wait, &it);
		if (err) {
			child_finish(&c, &d, 1);
			close_side(l.a);
			return err;
		}
		while (!__atomic_load_n(&it.tid, __ATOMIC_ACQUIRE))
			sched_yield();
		err = wait_sleeping(it.tid);
	}
	c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	t0 = now_ns(CLOCK_MONOTONIC);
	while (!err && done < a->total &&
	       now_ns(CLOCK_MONOTONIC) - t0 <= sample_ns) {
		err = full_write(l.a[0], wbuf, a->line);
		done += a->line;
	}
	if (!err)
		err = final_write(l.a[0], 0, done);
	/*
	 * The reader's end (or its kill) ends the input thread's read: end
	 * of stream, or EIO from a pty.
	 */
	err = child_finish(&c, &d, err);
	t0 = now_ns(CLOCK_MONOTONIC) - t0;
	if (a->blocked)
		pthread_join(th, NULL);
	c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
	read_spins(l.a[0], s);
	close_side(l.a);
	if (err)
		return err;
	if (d.bytes != done || !done)
		return EIO;
	note_spins(t, s);
	note_spins(t, d.spins);
	out[0] = done / (t0 / 1e9) / 1e6;
	out[1] = (double)(c0 + d.cpu_ns) / done;
	return 0;
}

/* ---- ping-pong ---- */

struct pp_arg {
	int trips;
	int mode;	/* 0 unpinned, 1 both on CPU 0, 2 on CPUs 0 and 1 */
	uint64_t *lat;
};

#define PP_SKIP 16	/* first round trips of a sample, not counted */

/* Echoes until the other side closes. */
static int pp_echo(struct link *l, void *arg, uint64_t *trips)
{
	char c;

	(void)arg;
	for (;;) {
		ssize_t n = read(l->b[0], &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (at_eof(n))
			return 0;
		if (n < 0)
			return errno;
		if (full_write(l->b[1], &c, 1))
			return EPIPE;
		++*trips;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* out: median us, p99 us, CPU us per round trip (both tasks) */
static int pingpong(enum transport t, struct pp_arg *p, double *out)
{
	struct child c;
	struct link l;
	struct done d;
	uint64_t c0, t0, t1, start = 0, s[3] = { 0, 0, 0 };
	int err = 0, i, n = 0;
	char ch = 'p';

	if (p->mode && ncpus < p->mode)
		return ENODEV;
	err = link_open(t, &l, 0);
	if (err)
		return err;
	pin(p->mode ? 0 : -1);
	err = child_start(&c, &l, p->mode == 2 ? 1 : p->mode == 1 ? 0 : -2,
			  pp_echo, p);
	if (err) {
		close_side(l.a);
		pin(-1);
		return err;
	}
	memset(p->lat, 0, p->trips * sizeof(*p->lat));
	c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	for (i = 0; !err && i < p->trips + PP_SKIP; i++) {
		t0 = now_ns(CLOCK_MONOTONIC);
		err = full_write(l.a[0], &ch, 1);
		if (!err)
			err = full_read(l.a[1], &ch, 1);
		t1 = now_ns(CLOCK_MONOTONIC);
		if (i >= PP_SKIP)
			p->lat[n++] = t1 - t0;
		if (i == PP_SKIP - 1) {
			c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
			start = t1;
		}
		if (n >= 10 && t1 - start > sample_ns)
			break;
	}
	c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
	read_spins(l.a[0], s);
	close_side(l.a);
	err = child_finish(&c, &d, err);
	pin(-1);
	if (err)
		return err;
	if (n < 10 || d.bytes != (uint64_t)n + PP_SKIP)
		return EIO;
	note_spins(t, s);
	note_spins(t, d.spins);
	qsort(p->lat, n, sizeof(*p->lat), cmp_u64);
	out[0] = p->lat[n / 2] / 1e3;
	out[1] = p->lat[(size_t)n * 99 / 100] / 1e3;
	/* the child's CPU time includes its PP_SKIP warm-up trips */
	out[2] = (c0 + d.cpu_ns * (double)n / (n + PP_SKIP)) / n / 1e3;
	return 0;
}

/* ---- concurrent pairs ---- */

struct pairs_arg {
	int n;
	size_t per_pair;
	size_t chunk;
};

/*
 * Each pair is a writer and a reader process, all started by one close of
 * the "go" pipe. A writer stops after its share of the volume or
 * sample_ns; its reader reads all of it, reports its bytes and answers
 * one byte so that the writer may close.
 */
static void pair_child(struct link *l, struct pairs_arg *pa, int i,
		       int ready, int go)
{
	struct link *m = &l[i / 2];
	uint64_t k = 0, t1;
	int rc = 0, j;
	char c;

	alarm(CHILD_ALARM);
	for (j = 0; j < pa->n; j++)
		if (j != i / 2)
			link_close(&l[j]);
	close_side(i % 2 ? m->a : m->b);
	if (i % 2)
		memset(rbuf, 0, pa->chunk);
	if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 0)
		_exit(3);
	t1 = now_ns(CLOCK_MONOTONIC);
	if (i % 2 == 0) {
		while (!rc && k < pa->per_pair &&
		       now_ns(CLOCK_MONOTONIC) - t1 <= sample_ns) {
			rc = full_write(m->a[0], wbuf, pa->chunk);
			k += pa->chunk;
		}
		if (!rc)
			rc = final_write(m->a[0], i / 2, k);
		if (!rc)
			rc = full_read(m->a[1], &c, 1);
		_exit(rc ? 4 : 0);
	}
	for (;;) {
		ssize_t n = read(m->b[0], rbuf, pa->chunk);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(4);
		k += n;
		if (final_reached(i / 2, &k))
			break;
	}
	if (write(ready, &k, sizeof(k)) != sizeof(k) ||
	    full_write(m->b[1], "k", 1))
		_exit(3);
	_exit(0);
}

static int pairs(enum transport t, struct pairs_arg *pa, double *out)
{
	struct link *l = calloc(pa->n, sizeof(*l));
	pid_t *pids = calloc(2 * pa->n, sizeof(*pids));
	int ready[2], go[2], i, opened, err = 0, nproc = 0;
	uint64_t t0, k, sum = 0;
	char c;

	if (!l || !pids)
		fail("calloc");
	if (pipe(ready) || pipe(go))
		fail("pipe");
	for (i = 0; i < pa->n; i++)
		finals[i] = NO_FINAL;
	for (opened = 0; opened < pa->n; opened++) {
		err = link_open(t, &l[opened], opened);
		if (err)
			break;
	}
	for (i = 0; !err && i < 2 * pa->n; i++) {
		pid_t pid = fork();

		if (pid < 0)
			fail("fork");
		if (pid == 0) {
			close(go[1]);
			close(ready[0]);
			pair_child(l, pa, i, ready[1], go[0]);
		}
		pids[nproc++] = pid;
	}
	/* the children hold the links now: end of stream comes from them */
	for (i = 0; i < opened; i++)
		link_close(&l[i]);
	close(ready[1]);
	close(go[0]);
	for (i = 0; !err && i < 2 * pa->n; i++)
		if (read(ready[0], &c, 1) != 1)
			err = EIO;
	t0 = now_ns(CLOCK_MONOTONIC);
	close(go[1]);
	for (i = 0; !err && i < pa->n; i++) {
		if (full_read(ready[0], &k, sizeof(k)))
			err = EIO;
		sum += k;
	}
	t0 = now_ns(CLOCK_MONOTONIC) - t0;
	for (i = 0; i < nproc; i++) {
		int st;

		if (err)
			kill(pids[i], SIGKILL);
		waitpid(pids[i], &st, 0);
		if (!err && (!WIFEXITED(st) || WEXITSTATUS(st)))
			err = EIO;
	}
	close(ready[0]);
	free(pids);
	free(l);
	out[0] = sum / (t0 / 1e9) / 1e6;
	return err;
}

/* ---- sendfile from a file (memfd) ---- */

#define SF_FILE (4 << 20)
static int sf_fd = -1;

static int sendfile_run(enum transport t, struct bulk_arg *b, double *out)
{
	struct child c;
	struct link l;
	struct done d;
	size_t done = 0;
	uint64_t t0;
	int err;

	if (sf_fd < 0) {
		size_t k;

		sf_fd = memfd_create("mflow_bench", 0);
		if (sf_fd < 0)
			return errno;
		for (k = 0; k < SF_FILE; k += 1 << 20)
			if (full_write(sf_fd, wbuf, 1 << 20))
				return errno;
	}
	err = link_child_start(t, &l, &c, bulk_reader, b);
	if (err)
		return err;
	t0 = now_ns(CLOCK_MONOTONIC);
	while (!err && done < b->total &&
	       now_ns(CLOCK_MONOTONIC) - t0 <= sample_ns) {
		off_t off = done % SF_FILE;
		size_t want = b->total - done;
		ssize_t n;

		if (want > SF_FILE - (size_t)off)
			want = SF_FILE - off;
		n = sendfile(l.a[0], sf_fd, &off, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			err = n ? errno : EIO;
		else
			done += n;
	}
	if (!err)
		err = final_write(l.a[0], 0, done);
	if (err) {
		child_finish(&c, &d, 1);
		close_side(l.a);
		return err;
	}
	err = child_finish(&c, &d, 0);
	t0 = now_ns(CLOCK_MONOTONIC) - t0;
	close_side(l.a);
	if (!err && d.bytes != done)
		err = EIO;
	out[0] = d.bytes / (t0 / 1e9) / 1e6;
	return err;
}

/* ---- io_uring ---- */

struct uring_arg {
	int qd;
	size_t chunk;
	size_t total;
};

#ifdef HAVE_LIBURING
/*
 * Keep up to @qd reads or writes of @chunk in flight on @fd. The writer
 * stops after u->total bytes or sample_ns and never has more in flight
 * than what is left; the reader goes on until it has finals[0] bytes and
 * then leaves its last reads in flight: they end when the writer closes,
 * and the ring goes with the process. Returns 0 or an errno; *moved says
 * how many bytes went through.
 */
static int uring_pump(int fd, char *buf, const struct uring_arg *u, int wr,
		      uint64_t *moved)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC), inflight = 0;
	uint64_t total = wr ? u->total : UINT64_MAX;
	struct io_uring ring;
	int err, n = 0, ret, stop = 0;

	err = -io_uring_queue_init(u->qd, &ring, 0);
	if (err)
		return err;
	while (!err && (n || !stop)) {
		struct io_uring_cqe *cqe;

		if (wr && now_ns(CLOCK_MONOTONIC) - t0 > sample_ns)
			stop = 1;
		while (!stop && n < u->qd && *moved + inflight < total) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			uint64_t len = total - *moved - inflight;

			if (!sqe)
				break;
			if (len > u->chunk)
				len = u->chunk;
			if (wr)
				io_uring_prep_write(sqe, fd, buf, len, -1);
			else
				io_uring_prep_read(sqe, fd, buf, len, -1);
			io_uring_sqe_set_data64(sqe, len);
			inflight += len;
			n++;
		}
		if (!n) {
			stop = 1;
			break;
		}
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR)
			err = -ret;
		while (!err && io_uring_peek_cqe(&ring, &cqe) == 0) {
			inflight -= io_uring_cqe_get_data64(cqe);
			n--;
			if (cqe->res == -EINTR || cqe->res == -EAGAIN)
				;	/* nothing moved: submitted again */
			else if (cqe->res < 0)
				err = -cqe->res;
			else if (cqe->res == 0)
				err = EPIPE;
			else
				*moved += cqe->res;
			io_uring_cqe_seen(&ring, cqe);
		}
		if (!wr && final_reached(0, moved))
			return 0;
	}
	io_uring_queue_exit(&ring);
	return err;
}

static int uring_reader(struct link *l, void *arg, uint64_t *got)
{
	return uring_pump(l->b[0], rbuf, arg, 0, got);
}

static int uring_run(enum transport t, struct uring_arg *u, double *out)
{
	struct child c;
	struct link l;
	struct done d;
	uint64_t t0, done = 0;
	int err;

	err = link_child_start(t, &l, &c, uring_reader, u);
	if (err)
		return err;
	t0 = now_ns(CLOCK_MONOTONIC);
	err = uring_pump(l.a[0], wbuf, u, 1, &done);
	if (!err)
		err = final_write(l.a[0], 0, done);
	if (err) {
		child_finish(&c, &d, 1);
		close_side(l.a);
		return err;
	}
	err = child_finish(&c, &d, 0);
	t0 = now_ns(CLOCK_MONOTONIC) - t0;
	close_side(l.a);
	if (!err && d.bytes != done)
		err = EIO;
	out[0] = d.bytes / (t0 / 1e9) / 1e6;
	return err;
}
#else
static int uring_run(enum transport t, struct uring_arg *u, double *out)
{
	(void)t;
	(void)u;
	(void)out;
	return ENOSYS;	/* built without liburing */
}
#endif

/* ---- one task: the cost of the calls alone ---- */

struct call_arg {
	size_t len;
	int n;		/* write + read pairs per sample */
};

/*
 * One task writes @len bytes, then reads them back, @n times (cut at
 * sample_ns): what a write and a read cost with no wakeup, no sleep and no
 * second CPU. out: us per write + read.
 */
static int call_pair(enum transport t, struct call_arg *c, double *out)
{
	uint64_t t0, dt;
	struct link l;
	int err, i;

	err = link_open(t, &l, 0);
	if (err)
		return err;
	t0 = now_ns(CLOCK_MONOTONIC);
	for (i = 0; !err && i < c->n; i++) {
		err = full_write(l.a[0], wbuf, c->len);
		if (!err)
			err = full_read(l.b[0], rbuf, c->len);
		if (now_ns(CLOCK_MONOTONIC) - t0 > sample_ns) {
			i++;
			break;
		}
	}
	dt = now_ns(CLOCK_MONOTONIC) - t0;
	link_close(&l);
	out[0] = dt / 1e3 / i;
	return err;
}

/* ---- the table ---- */

enum kind { W_BULK, W_PP, W_PAIRS, W_SENDFILE, W_URING, W_CALL, W_CONSOLE };

#define MAX_ROUNDS	15
#define MAX_METRICS	3

struct workload {
	enum kind kind;
	const char *label[MAX_METRICS];
	int nmetrics;
	unsigned int tmask;
	int may_fail;	/* a failure is "n/a (ERRNO)", not an error */
	struct bulk_arg bulk;
	struct pp_arg pp;
	struct pairs_arg pairs;
	struct uring_arg uring;
	struct call_arg call;
	struct console_arg console;
	uint64_t spins[T_COUNT][3];	/* mflow's reply spins, measured rounds */
};

struct cell {
	double v[MAX_ROUNDS];
	int n;
	int err;
};

static FILE *outf;
static int bad_exit;

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	if (outf) {
		va_start(ap, fmt);
		vfprintf(outf, fmt, ap);
		va_end(ap);
		fflush(outf);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(struct cell *c)
{
	qsort(c->v, c->n, sizeof(c->v[0]), cmp_double);
	return c->n % 2 ? c->v[c->n / 2] :
			  (c->v[c->n / 2 - 1] + c->v[c->n / 2]) / 2;
}

static int run_one(struct workload *w, enum transport t, double *out)
{
	switch (w->kind) {
	case W_BULK:
		return bulk(t, &w->bulk, out);
	case W_PP:
		return pingpong(t, &w->pp, out);
	case W_PAIRS:
		return pairs(t, &w->pairs, out);
	case W_SENDFILE:
		return sendfile_run(t, &w->bulk, out);
	case W_URING:
		return uring_run(t, &w->uring, out);
	case W_CALL:
		return call_pair(t, &w->call, out);
	case W_CONSOLE:
		return console(t, &w->console, out);
	}
	abort();
}

static const char *fmt_num(char *buf, size_t len, double v)
{
	snprintf(buf, len, v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v);
	return buf;
}

static int warmup = 1;	/* rounds discarded before the measured ones */

static void run_workload(struct workload *w, int rounds)
{
	struct cell cells[MAX_METRICS][T_COUNT];
	double out[MAX_METRICS], med[T_COUNT];
	int r, t, k;

	memset(cells, 0, sizeof(cells));
	/* rounds below 0 are the warm-up, discarded */
	for (r = -warmup; r < rounds; r++) {
		for (t = 0; t < T_COUNT; t++) {
			int err;

			if (!(w->tmask & (1U << t)) || cells[0][t].err)
				continue;
			spin_acc = r >= 0 ? w->spins : NULL;
			err = run_one(w, t, out);
			spin_acc = NULL;
			for (k = 0; k < w->nmetrics; k++) {
				if (err)
					cells[k][t].err = err;
				else if (r >= 0)
					cells[k][t].v[cells[k][t].n++] = out[k];
			}
		}
	}
	for (k = 0; k < w->nmetrics; k++) {
		char a[32], b[32], c[32];

		emit("| %s |", w->label[k]);
		for (t = 0; t < T_COUNT; t++) {
			struct cell *ce = &cells[k][t];

			med[t] = NAN;
			if (!(w->tmask & (1U << t))) {
				emit(" - |");
			} else if (ce->err || !ce->n) {
				emit(" n/a (%s) |", strerrorname_np(ce->err) ?: "?");
				if (!w->may_fail && !(w->kind == W_PP && ce->err == ENODEV))
					bad_exit = 1;
			} else {
				med[t] = median(ce);
				emit(" %s (%s..%s) |", fmt_num(a, sizeof(a), med[t]),
				     fmt_num(b, sizeof(b), ce->v[0]),
				     fmt_num(c, sizeof(c), ce->v[ce->n - 1]));
			}
		}
		for (t = 1; t < T_COUNT; t++) {
			/*
			 * busy-poll mflow is held against the socketpair;
			 * mflow against mflow-nospin is the spin on / off
			 */
			int num = t == T_MFLOW_BP ? T_MFLOW_BP : T_MFLOW;
			int den = t == T_MFLOW_BP ? T_SOCK : t;

			if (isnan(med[num]) || isnan(med[den]))
				emit(" - |");
			else
				emit(" %.2f |", med[num] / med[den]);
		}
		emit("\n");
	}
}

/* CPUID's hypervisor leaf: "KVMKVMKVM" under KVM, "TCGTCGTCGTCG" under TCG. */
static void hypervisor_sig(char sig[13])
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned int eax, ebx, ecx, edx;

	__cpuid(1, eax, ebx, ecx, edx);
	if (!(ecx & (1U << 31)))
		return;
	__cpuid(0x40000000, eax, ebx, ecx, edx);
	memcpy(sig, &ebx, 4);
	memcpy(sig + 4, &ecx, 4);
	memcpy(sig + 8, &edx, 4);
#endif
}

static void machine(void)
{
	char sig[13] = "", model[128] = "?", line[256];
	const char *accel = getenv("MFLOW_BENCH_ACCEL");
	struct utsname u;
	FILE *f;

	uname(&u);
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && p) {
			snprintf(model, sizeof(model), "%s", p + 2);
			model[strcspn(model, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	hypervisor_sig(sig);
	if (!accel)
		accel = !strncmp(sig, "TCG", 3) ? "TCG (emulated)" :
			!strncmp(sig, "KVM", 3) ? "KVM" :
			sig[0] ? sig : "none (bare metal?)";
	emit("- kernel: %s %s\n", u.release, u.version);
	emit("- CPU: %s, %d CPUs online; virtualisation: %s (cpuid hypervisor \"%s\")\n",
	     model, ncpus, accel, sig);
	emit("- mflow fifo %u bytes per direction; pipe default %d, resized %u; socketpair SO_SNDBUF default %d, matched %d\n",
	     fifo_bytes, pipe_default, fifo_bytes, sock_default, sock_matched);
	line[0] = 0;
	f = fopen("/sys/module/mflow/parameters/reply_spin", "r");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		fclose(f);
	}
	line[strcspn(line, "\n")] = 0;
	emit("- mflow reply spin: module parameter reply_spin=%s; mflow-nospin sets MFLOW_OPT_NO_REPLY_SPIN on both endpoints\n",
	     line[0] ? line : "(absent)");
}

/* After the table: mflow's reply spins in the rows where they can act. */
static void spin_notes(struct workload *wl, int nw, const char *only_w)
{
	static const enum transport ts[] = {
		T_MFLOW, T_MFLOW_NOSPIN, T_MFLOW_BP
	};
	int i, j, head = 0;

	for (i = 0; i < nw; i++) {
		struct workload *w = &wl[i];
		const char *sep = "";

		if ((w->kind != W_PP && w->kind != W_CONSOLE) ||
		    (only_w && !strstr(w->label[0], only_w)) ||
		    !(w->tmask & ((1U << T_MFLOW) | (1U << T_MFLOW_NOSPIN) |
				  (1U << T_MFLOW_BP))))
			continue;
		if (!head++)
			emit("\nmflow's reply spins over the measured samples, both endpoints (hits misses give-ways, from fdinfo):\n");
		emit("- %.*s:", (int)strcspn(w->label[0], ","), w->label[0]);
		for (j = 0; j < (int)(sizeof(ts) / sizeof(ts[0])); j++) {
			uint64_t *s = w->spins[ts[j]];

			if (!(w->tmask & (1U << ts[j])))
				continue;
			emit("%s %s %llu %llu %llu", sep, tshort[ts[j]],
			     (unsigned long long)s[0], (unsigned long long)s[1],
			     (unsigned long long)s[2]);
			sep = ";";
		}
		emit("\n");
	}
}

static void probe(void)
{
	struct mflow_info info;
	struct link l;
	int p[2];
	socklen_t sl = sizeof(int);

	ctl_fd = open("/dev/mflow-control", O_RDWR | O_CLOEXEC);
	if (link_open(T_MFLOW, &l, 0)) {
		fprintf(stderr, "mflow_bench: cannot open an mflow console (%s): %s\n",
			device, strerror(errno));
		exit(2);
	}
	if (ioctl(l.a[0], MFLOW_IOC_INFO, &info))
		fail("MFLOW_IOC_INFO");
	fifo_bytes = info.fifo_size;
	link_close(&l);
	if (pipe(p))
		fail("pipe");
	pipe_default = fcntl(p[0], F_GETPIPE_SZ);
	close(p[0]);
	close(p[1]);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, p))
		fail("socketpair");
	getsockopt(p[0], SOL_SOCKET, SO_SNDBUF, &sock_default, &sl);
	set_bufs(p[0], fifo_bytes);
	sl = sizeof(int);
	getsockopt(p[0], SOL_SOCKET, SO_SNDBUF, &sock_matched, &sl);
	close(p[0]);
	close(p[1]);
}

/* Row labels live as long as the program. */
static const char *label(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static const char *label(const char *fmt, ...)
{
	static char store[48][80];
	static int used;
	va_list ap;

	if (used == 48)
		abort();
	va_start(ap, fmt);
	vsnprintf(store[used], sizeof(store[used]), fmt, ap);
	va_end(ap);
	return store[used++];
}

/* A bad option value: say which and how, then exit 2. */
static void bad_arg(int opt, const char *arg, const char *want)
{
	fprintf(stderr, "mflow_bench: -%c %s: %s (--help lists the options)\n",
		opt, arg, want);
	exit(2);
}

/* The value of -OPT: a whole number in min..max, or exit 2. */
static long num_arg(int opt, const char *arg, long min, long max)
{
	char want[64];
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 0);
	if (errno || end == arg || *end || v < min || v > max) {
		snprintf(want, sizeof(want), "not a number in %ld..%ld", min, max);
		bad_arg(opt, arg, want);
	}
	return v;
}

/* -t mflow,sock: a mask of transports by their short names, 0 if bad. */
static unsigned int parse_transports(const char *list)
{
	unsigned int mask = 0;
	size_t len;
	int t;

	for (; *list; list += len + !!list[len]) {
		len = strcspn(list, ",");
		if (!len)
			continue;
		for (t = 0; t < T_COUNT; t++)
			if (strlen(tshort[t]) == len &&
			    !strncmp(list, tshort[t], len))
				break;
		if (t == T_COUNT)
			return 0;
		mask |= 1U << t;
	}
	return mask;
}

/* What -t takes, from tshort[]: "transports are mflow,pipe,...". */
static const char *transport_names(void)
{
	static char buf[128];
	int n, t;

	n = snprintf(buf, sizeof(buf), "transports are");
	for (t = 0; t < T_COUNT && n < (int)sizeof(buf); t++)
		n += snprintf(buf + n, sizeof(buf) - n, "%s%s", t ? "," : " ",
			      tshort[t]);
	return buf;
}

static void usage(const char *argv0, FILE *f, int code)
{
	fprintf(f,
		"usage: %s [--help] [--quick] [--out FILE] [-d /dev/mflowN] [-m MiB]\n"
		"       [-p TRIPS] [-r ROUNDS] [-w WORKLOAD] [-t LIST] [-b US]\n"
		"mflow against pipe, socketpair and pty, side by side; a markdown table\n"
		"on stdout. Needs mflow loaded with an idle console.\n"
		"  --help       this text\n"
		"  --quick      smoke run: one round, tiny volumes, figures mean nothing\n"
		"  --out FILE   also write the table to FILE\n"
		"  -d DEV       the console of the one-pair rows (default: a free one\n"
		"               from /dev/mflow-control, else /dev/mflow0)\n"
		"  -m MiB       volume of a bulk sample and of each pair (default 32)\n"
		"  -p TRIPS     round trips per ping-pong sample (default 2000)\n"
		"  -r ROUNDS    measured rounds after the warm-up (1..%d, default 5)\n"
		"  -w WORKLOAD  only the rows whose label contains WORKLOAD\n"
		"  -t LIST      only these transports, comma-separated: mflow,pipe,\n"
		"               pipe-rs,sock,sock-m,pty,sock2,mflow-bp,mflow-nospin\n"
		"  -b US        busy-poll microseconds of mflow-bp (1..%d, default 50)\n"
		"Rows: bulk (MB/s and CPU s per GB, both processes), writev, one task,\n"
		"ping-pong between two processes unpinned, on 1 CPU and on 2 CPUs\n"
		"(median, p99, CPU per round trip), console 64 B lines (+ blocked\n"
		"reader: a second thread of the writer blocked in read; alone: without\n"
		"it; MB/s and CPU ms per MB, both processes), pairs, sendfile, io_uring.\n"
		"mflow-bp is mflow with busy polling, mflow-nospin mflow with\n"
		"MFLOW_OPT_NO_REPLY_SPIN on both endpoints (ping-pong and console rows;\n"
		"its ratio column is the reply spin's on/off).\n"
		"Exit status: 0 when every cell was measured, 1 when one was not\n"
		"(\"n/a (ERRNO)\" in its cell), 2 for a bad option or a failed setup\n"
		"(the message on stderr says which).\n",
		argv0, MAX_ROUNDS, MFLOW_BUSY_POLL_MAX);
	exit(code);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const size_t chunks[] = { 4096, 65536, 1 << 20 };
	static const int npairs[] = { 1, 2, 8, 64 };
	static const char *const pp_mode[] = { "unpinned", "1 CPU", "2 CPUs" };
	static const char *const con_mode[] = { "+ blocked reader", "alone" };
	struct workload wl[40], *w;
	const char *out_path = NULL, *only_w = NULL;
	unsigned int only_t = ALL_T;
	size_t total = 32 << 20;
	int trips = 2000, rounds = 5, quick = 0, nw = 0, opt;
	unsigned int i, j;
	uint64_t t0;

	while ((opt = getopt_long(argc, argv, "b:d:m:p:r:t:w:", lopts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			busy_poll_us = num_arg(opt, optarg, 1,
					       MFLOW_BUSY_POLL_MAX);
			break;
		case 'd':
			device = optarg;
			device_given = 1;
			break;
		case 'm':
			total = (size_t)num_arg(opt, optarg, 1, 65536) << 20;
			break;
		case 'p':
			trips = num_arg(opt, optarg, 100, 10000000);
			break;
		case 'r':
			rounds = num_arg(opt, optarg, 1, MAX_ROUNDS);
			break;
		case 'q':
			quick = 1;
			break;
		case 't':
			only_t = parse_transports(optarg);
			if (!only_t)
				bad_arg(opt, optarg, transport_names());
			break;
		case 'w':
			only_w = optarg;
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'h':
			usage(argv[0], stdout, 0);
			break;
		default:
			usage(argv[0], stderr, 2);
		}
	}
	if (quick) {
		total = 1 << 20;
		trips = 100;
		rounds = 1;
		warmup = 0;
		sample_ns = 100000000;
	}
	if (out_path) {
		outf = fopen(out_path, "w");
		if (!outf)
			fail(out_path);
	}
	signal(SIGPIPE, SIG_IGN);
	sched_getaffinity(0, sizeof(all_cpus), &all_cpus);
	ncpus = CPU_COUNT(&all_cpus);
	wbuf = aligned_alloc(4096, BUF_SIZE);
	rbuf = aligned_alloc(4096, BUF_SIZE);
	if (!wbuf || !rbuf)
		fail("malloc");
	memset(wbuf, 0x5a, BUF_SIZE);
	memset(rbuf, 0, BUF_SIZE);
	finals = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (finals == MAP_FAILED)
		fail("mmap");
	probe();

	for (i = 0; i < 3; i++) {
		for (j = 0; j < 2; j++) {
			w = &wl[nw++];
			*w = (struct workload){ .kind = W_BULK, .nmetrics = 2,
				.tmask = ALL_BUT_SOCK2,
				.bulk = { chunks[i], total, j ? 128 : 0, 0 } };
			w->label[0] = label("bulk %zu KiB%s, MB/s", chunks[i] >> 10,
					    j ? ", reader +128 B" : "");
			w->label[1] = label("bulk %zu KiB%s, CPU s per GB",
					    chunks[i] >> 10,
					    j ? ", reader +128 B" : "");
		}
	}
	w = &wl[nw++];
	*w = (struct workload){ .kind = W_BULK, .nmetrics = 1,
		.tmask = ALL_BUT_SOCK2, .bulk = { 4096, total / 2, 0, 16 } };
	/* bulk() gives CPU too; the writev row shows MB/s only */
	w->label[0] = "writev 16 x 256 B, MB/s";
	for (i = 0; i < 2; i++) {
		w = &wl[nw++];
		*w = (struct workload){ .kind = W_CALL, .nmetrics = 1,
			.tmask = ALL_BUT_SOCK2,
			.call = { i ? 1 : 4096, trips * 10 } };
		w->label[0] = i ? "one task, write + read of 1 B, us" :
				  "one task, write + read of 4 KiB, us";
	}
	for (i = 0; i < 3; i++) {
		uint64_t *lat = malloc(trips * sizeof(*lat));

		if (!lat)
			fail("malloc");
		w = &wl[nw++];
		*w = (struct workload){ .kind = W_PP, .nmetrics = 3,
			.tmask = ALL_T, .pp = { trips, i, lat } };
		w->label[0] = label("ping-pong %s, median us", pp_mode[i]);
		w->label[1] = label("ping-pong %s, p99 us", pp_mode[i]);
		w->label[2] = label("ping-pong %s, CPU us per round trip",
				    pp_mode[i]);
	}
	for (i = 0; i < 2; i++) {
		w = &wl[nw++];
		*w = (struct workload){ .kind = W_CONSOLE, .nmetrics = 2,
			.tmask = CONSOLE_T,
			.console = { 64, total < (16 << 20) ? total : 16 << 20,
				     !i } };
		w->label[0] = label("console 64 B lines %s, MB/s", con_mode[i]);
		w->label[1] = label("console 64 B lines %s, CPU ms per MB",
				    con_mode[i]);
	}
	/*
	 * Every pair moves what the one pair does (cut at sample_ns): a
	 * share of one volume left each of 64 pairs eight writes, and the
	 * row measured 128 processes starting rather than the stream.
	 */
	for (i = 0; i < 4; i++) {
		w = &wl[nw++];
		*w = (struct workload){ .kind = W_PAIRS, .nmetrics = 1,
			.tmask = ALL_BUT_SOCK2,
			.pairs = { npairs[i], total & ~(size_t)65535, 65536 } };
		w->label[0] = label("%d pair%s, 64 KiB writes, aggregate MB/s",
				    npairs[i], npairs[i] > 1 ? "s" : "");
	}
	w = &wl[nw++];
	*w = (struct workload){ .kind = W_SENDFILE, .nmetrics = 1,
		.tmask = ALL_BUT_SOCK2, .may_fail = 1,
		.bulk = { 1 << 20, total, 0, 0 } };
	w->label[0] = "sendfile from a memfd, MB/s";
	for (i = 0; i < 2; i++) {
		w = &wl[nw++];
		*w = (struct workload){ .kind = W_URING, .nmetrics = 1,
			.tmask = ALL_BUT_SOCK2, .may_fail = 1,
			.uring = { i ? 32 : 1, 4096, total / 4 } };
		w->label[0] = label("io_uring 4 KiB, QD %d, MB/s", i ? 32 : 1);
	}

	emit("# mflow_bench%s\n\n", quick ? " (quick smoke run: figures mean nothing)" : "");
	machine();
	emit("- method: %d rounds after %d discarded warm-up round, transports interleaved in each round; a sample is %zu MiB of bulk, %zu MiB of console lines or %d round trips, cut at %.1f s\n",
	     rounds, warmup, total >> 20,
	     (total < (16 << 20) ? total : 16 << 20) >> 20, trips,
	     sample_ns / 1e9);
	emit("- ping-pong: two processes (fork), unpinned = no affinity; console: one process writes 64 B lines, the peer process reads 64 KiB at a time, both unpinned, with (+ blocked reader) or without a second thread of the writer blocked in read on the same endpoint\n");
	emit("- CPU: user + system time of both processes, every thread (CLOCK_PROCESS_CPUTIME_ID), over the sample; bulk in CPU seconds per GB moved, console in CPU ms per MB (the same unit), ping-pong per round trip\n");
	emit("- mflow busy-poll: %u us on both endpoints (ping-pong only)\n",
	     busy_poll_us);
	emit("- cells: median (min..max); ratio columns: mflow's median / the other's (MB/s: above 1 is better for mflow; us and CPU: below 1 is better); mflow/mflow-nospin is the reply spin on / off\n\n");
	emit("| workload |");
	for (i = 0; i < T_COUNT; i++)
		emit(" %s |", tname[i]);
	for (i = 1; i < T_COUNT; i++)
		emit(i == T_MFLOW_BP ? " mflow-bp/sock |" : " mflow/%s |",
		     tshort[i]);
	emit("\n|---|");
	for (i = 1; i < 2 * T_COUNT; i++)
		emit("---:|");
	emit("\n");
	t0 = now_ns(CLOCK_MONOTONIC);
	for (i = 0; i < (unsigned int)nw; i++) {
		if (only_w && !strstr(wl[i].label[0], only_w))
			continue;
		wl[i].tmask &= only_t;
		run_workload(&wl[i], rounds);
	}
	spin_notes(wl, nw, only_w);
	emit("\n(%.0f s)\n", (now_ns(CLOCK_MONOTONIC) - t0) / 1e9);
	if (outf)
		fclose(outf);
	return bad_exit;
}
