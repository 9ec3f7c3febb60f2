// SPDX-License-Identifier: GPL-2.0
/*
 * mflow_fuzz: a seeded random-operation fuzzer for the consoles and the
 * control device, in the spirit of syzkaller.
 *
 * Several processes, each with several threads, run random sequences of
 * open/close/dup/fork, read/readv/write/writev (blocking and not),
 * poll/epoll, splice, io_uring reads and writes, every console and control
 * ioctl with valid and hostile arguments (random names, indices, sizes,
 * bad pointers), sysfs reads, single copy (direct_write_min) turned on and
 * off, and ADD/REMOVE/GET_FREE racing all of it.
 *
 * Every call that can block (in a worker thread or in a child it forked)
 * runs under its thread's timer, which signals it every 5 ms until the
 * call returns; a worker stops at the time bound, and one still running
 * WATCHDOG_S later is shown (each task's system call and kernel stack)
 * and killed with the children it forked, failing the run. The bad
 * pointers it passes point at nothing the process could map later.
 *
 * The op sequence of each thread is a function of the seed and the
 * thread's number alone (every op draws the same number of random words,
 * whatever the kernel answered), so a seed replays the same sequences;
 * the interleaving between threads is the scheduler's.
 *
 * Oracle: the kernel prints no report (the harness reads dmesg:
 * scripts/check-log), control calls answer only with their documented
 * errors (R14, R16), and once every file is closed every console is idle
 * (R15) and kernel memory is back to its baseline, within a slack smaller
 * than one leaked connection's fifos (R15).
 *
 * Knobs (argv overrides env): -s SEED / MFLOW_FUZZ_SEED (default: from the
 * clock), -n OPS / MFLOW_FUZZ_OPS (ops per thread, 2500: about a minute
 * in the debug VM), -t SECS / MFLOW_FUZZ_SECS (time bound on the ops, 90),
 * -p PROCS / MFLOW_FUZZ_PROCS (2),
 * -j THREADS / MFLOW_FUZZ_THREADS (threads per process, 2),
 * MFLOW_FUZZ_SLACK_KIB (memory slack, 1024: most consoles it adds have
 * 1 or 2 MiB fifos, so a leaked connection of theirs holds 2 MiB or more;
 * the consoles made at load and by GET_FREE have the module's default).
 * Output: TAP, with the seed and the count of ops done.
 *
 * Time: the ops end within -t SECS (WATCHDOG_S more for a stuck worker),
 * the idle check within 10 s and the memory oracle within WEIGH_S plus
 * one weighing (udev's settle bounded by SETTLE_S): with the defaults the
 * run ends well inside the harness's 300 s per suite.
 */
#include <dirent.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#if __has_include(<liburing.h>)
#include <liburing.h>
#define HAVE_URING 1
#else
#define HAVE_URING 0
#endif

#include "mflow_test.h"

#define CTL_PATH	"/dev/mflow-control"
#define NFD		12	/* files a thread holds at most */
#define NADD		24	/* indices the fuzzer adds consoles at */
#define BUFSZ		(600U << 10)
#define TIMER_NS	(5 * 1000 * 1000)
#define WATCHDOG_S	30	/* past the time bound: a worker is stuck */
#define SETTLE_S	20	/* the most one weighing waits for udev */
#define WEIGH_S		45	/* weighings start this long at the most */

static const char *const names[] = {
	"fz0", "fz1", "fz2", "fz3", "", "7", "mflow9", "-x", "db\xc0",
	"fz_long_name_0123456789abcdefgh", "a/b", ".",
};

/*
 * Valid sizes come up three times in four, most of them 1 MiB and up, so
 * that a leaked connection stands out of the memory oracle's slack.
 */
static const unsigned int fifo_sizes[] = {
	0, 1U << 20, 2U << 20, 1U << 20, 2U << 20, (1U << 20) - 1, 4095,
	(64U << 20) + 1,
};

/* Counters shared by every process (MAP_SHARED). */
struct shared {
	unsigned long ops;
	unsigned long ctl_ops;
	unsigned long unexpected;	/* control answers outside the contract */
	char what[256];			/* the first of them */
	unsigned long adds, removes, opens, forks, urings, splices;
	unsigned int hint;		/* an index just added or removed */
};

static struct shared *sh;
static unsigned long long seed;
static long ops_per_thread = 2500, secs = 90, nprocs = 2, nthreads = 2;
static uint64_t deadline;
static __u32 nloaded, max_consoles, add_base;
static void *ro_page, *gone_page;

/* splitmix64: small, and good enough to pick operations. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct worker {
	uint64_t rng;
	int ctl;
	int fd[NFD];
	timer_t timer;
	bool has_timer;
	char *buf;
	long ops;
};

static void note_unexpected(const char *what, int ret)
{
	__atomic_add_fetch(&sh->unexpected, 1, __ATOMIC_RELAXED);
	if (!sh->what[0])
		snprintf(sh->what, sizeof(sh->what), "%s returned %d (%s)",
			 what, ret, ret < 0 ? strerror(-ret) : "");
}

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * Cut the next blocking call short after TIMER_NS, and again every
 * TIMER_NS until disarm(): a signal that comes before the call starts to
 * wait (a thread can lose the CPU for longer than TIMER_NS between here
 * and its call) is followed by one that ends the wait.
 */
static void arm(struct worker *w)
{
	struct itimerspec its = {
		.it_value.tv_nsec = TIMER_NS,
		.it_interval.tv_nsec = TIMER_NS,
	};

	if (w->has_timer)
		timer_settime(w->timer, 0, &its, NULL);
}

static void disarm(struct worker *w)
{
	struct itimerspec its = { 0 };

	if (w->has_timer)
		timer_settime(w->timer, 0, &its, NULL);
}

static void worker_timer(struct worker *w)
{
	struct sigevent sev = {
		.sigev_notify = SIGEV_THREAD_ID,
		.sigev_signo = SIGALRM,
	};

	sev._sigev_un._tid = gettid();
	w->has_timer = !timer_create(CLOCK_MONOTONIC, &sev, &w->timer);
}

/* A pointer for an ioctl argument: mostly good, sometimes hostile. */
static void *arg_ptr(uint64_t r, void *good)
{
	switch (r % 16) {
	case 0:
		return NULL;
	case 1:
		return bad_ptr();
	case 2:
		return ro_page;
	case 3:
		return gone_page;
	case 4:
		return (void *)0xffff888000000000ULL;
	default:
		return good;
	}
}

static int pick_fd(struct worker *w, uint64_t r)
{
	return w->fd[r % NFD];
}

static void put_fd(struct worker *w, int fd, uint64_t r)
{
	int i = r % NFD;

	if (fd < 0)
		return;
	if (w->fd[i] >= 0)
		close(w->fd[i]);
	w->fd[i] = fd;
}

/*
 * An index: a loaded console, one the fuzzer adds, the one an ADD or
 * REMOVE just named (the next ADD of any index is likely to get it), or
 * one out of range.
 */
static __u32 pick_index(uint64_t r)
{
	switch (r % 8) {
	case 0:
		return r >> 8 & 1 ? MFLOW_CTL_ANY : max_consoles + (r >> 9) % 4;
	case 1:
		return nloaded ? (r >> 8) % nloaded : 0;
	case 2:
	case 3:
		return __atomic_load_n(&sh->hint, __ATOMIC_RELAXED);
	default:
		return add_base + (r >> 8) % NADD;
	}
}

static void set_hint(int index)
{
	if (index >= 0)
		__atomic_store_n(&sh->hint, index, __ATOMIC_RELAXED);
}

static void set_name(char *dst, uint64_t r)
{
	size_t i;

	memset(dst, 0, MFLOW_NAME_MAX);
	if (r % 8 == 7) {	/* random bytes, maybe without a NUL */
		for (i = 0; i < MFLOW_NAME_MAX; i++)
			dst[i] = (char)(r >> (i % 8 * 8)) ^ (char)(i * 37);
		if (r & 0x100)
			dst[(r >> 9) % MFLOW_NAME_MAX] = '\0';
		return;
	}
	strncpy(dst, names[(r >> 3) % (sizeof(names) / sizeof(names[0]))],
		MFLOW_NAME_MAX);
}

static bool in(int ret, const int *ok, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ret == ok[i])
			return true;
	return false;
}

#define CHECK(what, ret, ...) do {					\
	static const int ok_[] = { __VA_ARGS__ };			\
	if (ret < 0 && !in(ret, ok_, sizeof(ok_) / sizeof(ok_[0])))	\
		note_unexpected(what, ret);				\
} while (0)

static int ctl_ioctl(int ctl, unsigned long cmd, void *arg)
{
	int r = ioctl(ctl, cmd, arg);

	return r < 0 ? -errno : r;
}

/* One control call; @r[] are this op's random words. */
static void op_ctl(struct worker *w, const uint64_t *r)
{
	struct mflow_ctl_version v;
	struct mflow_ctl_query q;
	struct mflow_ctl_add add;
	struct mflow_ctl_id id;
	int ret, fd;

	__atomic_add_fetch(&sh->ctl_ops, 1, __ATOMIC_RELAXED);
	switch (r[1] % 6) {
	case 0:
		memset(&add, 0, sizeof(add));
		add.index = pick_index(r[2]);
		add.fifo_size = fifo_sizes[(r[2] >> 16) % 8];
		if (r[2] >> 20 & 1)
			set_name(add.name, r[3]);
		if (r[2] % 29 == 0)
			add.flags = 1;
		if (r[2] % 31 == 0)
			add.reserved = 1;
		/* One ADD in four cannot write its result back. */
		ret = ctl_ioctl(w->ctl, MFLOW_CTL_ADD, r[3] >> 36 & 3 ?
				arg_ptr(r[3] >> 32, &add) : ro_page);
		CHECK("ADD", ret, -EINVAL, -EEXIST, -ENOSPC, -EFAULT, -ENOMEM);
		if (ret >= 0) {
			__atomic_add_fetch(&sh->adds, 1, __ATOMIC_RELAXED);
			set_hint(ret);
		}
		break;
	case 1:
		memset(&id, 0, sizeof(id));
		id.index = pick_index(r[2]);
		if (id.index == MFLOW_CTL_ANY || r[2] % 13 == 0)
			set_name(id.name, r[3]);
		if (r[2] % 37 == 0)
			id.reserved = 1;
		/* Keep the consoles made at load: other suites need them. */
		if (id.index < nloaded)
			id.index = add_base + (r[2] >> 8) % NADD;
		ret = ctl_ioctl(w->ctl, MFLOW_CTL_REMOVE, arg_ptr(r[3] >> 32, &id));
		CHECK("REMOVE", ret, -EINVAL, -ENODEV, -EBUSY, -EFAULT);
		if (!ret) {
			__atomic_add_fetch(&sh->removes, 1, __ATOMIC_RELAXED);
			if (id.index != MFLOW_CTL_ANY)
				set_hint(id.index);
		}
		break;
	case 2:
		memset(&q, 0, sizeof(q));
		q.index = pick_index(r[2]);
		if (q.index == MFLOW_CTL_ANY || r[2] % 13 == 0)
			set_name(q.name, r[3]);
		ret = ctl_ioctl(w->ctl, MFLOW_CTL_QUERY, arg_ptr(r[3] >> 32, &q));
		CHECK("QUERY", ret, -EINVAL, -ENODEV, -EFAULT);
		break;
	case 3:
		/* GET_FREE may hand out a console outside our range: open it. */
		ret = ctl_ioctl(w->ctl, MFLOW_CTL_GET_FREE, NULL);
		CHECK("GET_FREE", ret, -ENOSPC, -ENOMEM);
		set_hint(ret);
		if (ret >= 0 && r[2] & 1) {
			char path[32];

			snprintf(path, sizeof(path), "/dev/mflow%d", ret);
			fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
			put_fd(w, fd, r[3]);
		}
		break;
	case 4:
		ret = ctl_ioctl(w->ctl, MFLOW_CTL_VERSION,
				arg_ptr(r[3] >> 32, &v));
		CHECK("VERSION", ret, -EFAULT);
		break;
	default:
		/* Commands nobody defined, near and far from the real ones. */
		ret = ctl_ioctl(w->ctl, _IOC(r[2] & 3, MFLOW_IOC_MAGIC,
					     0x40 + r[2] % 12, r[3] % 128),
				arg_ptr(r[3] >> 32, w->buf));
		break;
	}
}

/* One ioctl on a console file (or whatever the slot holds now). */
static void op_con_ioctl(struct worker *w, const uint64_t *r)
{
	struct mflow_close_args ca = { 0 };
	static const unsigned long cmds[] = {
		FIONREAD, MFLOW_IOC_OUTQ, MFLOW_IOC_SHUTDOWN, MFLOW_IOC_CLOSE,
		MFLOW_IOC_INFO, MFLOW_IOC_STATS, MFLOW_IOC_GET_OPTS,
		MFLOW_IOC_SET_OPTS, MFLOW_IOC_GET_BUSY_POLL,
		MFLOW_IOC_SET_BUSY_POLL,
	};
	int fd = pick_fd(w, r[1]);
	unsigned long cmd = cmds[(r[1] >> 8) % 10];
	__u32 val = (__u32)r[2];
	void *arg = w->buf;

	if (r[2] >> 32 & 1)
		val %= 4;	/* small values: the valid ones */
	memcpy(w->buf, &val, sizeof(val));
	if (cmd == MFLOW_IOC_CLOSE) {
		ca.flags = r[2] % 3 ? MFLOW_CLOSE_TIMEOUT : (__u32)r[2] % 5;
		ca.timeout_ns = r[2] % 7 ? r[3] % 3000000 : r[3];
		arg = &ca;
	} else if ((r[1] >> 16) % 17 == 0) {
		cmd = _IOC(r[3] & 3, MFLOW_IOC_MAGIC, r[3] % 16, r[3] >> 8 & 63);
	}
	arm(w);
	ioctl(fd, cmd, arg_ptr(r[3] >> 32, arg));
	disarm(w);
}

static void op_io(struct worker *w, const uint64_t *r)
{
	int fd = pick_fd(w, r[1]);
	size_t len = r[2] % 8 ? r[2] % 8192 : r[2] % BUFSZ;
	struct iovec iov[4];
	bool nonblock = r[1] >> 8 & 1;
	int i, rwf = nonblock ? RWF_NOWAIT : 0;
	char *p = w->buf;

	for (i = 0; i < 4; i++) {
		iov[i].iov_base = (r[3] >> (8 * i)) % 23 == 0 ?
				  arg_ptr(r[3] >> (8 * i), p) : p;
		iov[i].iov_len = len / 4;
		p += len / 4;
	}
	arm(w);
	switch ((r[1] >> 16) % 6) {
	case 0:
		(void)!read(fd, arg_ptr(r[3] >> 40, w->buf), len);
		break;
	case 1:
		(void)!write(fd, arg_ptr(r[3] >> 40, w->buf), len);
		break;
	case 2:
		(void)!readv(fd, iov, 4);
		break;
	case 3:
		(void)!writev(fd, iov, 4);
		break;
	case 4:
		(void)!preadv2(fd, iov, 4, -1, rwf);
		break;
	default:
		(void)!pwritev2(fd, iov, 4, -1, rwf);
		break;
	}
	disarm(w);
}

static void op_poll(struct worker *w, const uint64_t *r)
{
	struct epoll_event ev = { .events = (uint32_t)r[2] };
	struct pollfd p[NFD];
	int i, ep;

	if (r[1] & 1) {
		for (i = 0; i < NFD; i++)
			p[i] = (struct pollfd){ .fd = w->fd[i],
						.events = (short)(r[2] >> i) };
		poll(p, NFD, (r[3] % 4));
		return;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return;
	for (i = 0; i < NFD; i++)
		if (r[3] >> i & 1)
			epoll_ctl(ep, EPOLL_CTL_ADD, w->fd[i], &ev);
	{
		struct epoll_event out[NFD];

		epoll_wait(ep, out, NFD, r[3] % 3);
	}
	close(ep);
}

static void op_splice(struct worker *w, const uint64_t *r)
{
	int fd = pick_fd(w, r[1]), pfd[2];
	unsigned int flags = r[1] >> 8 & 1 ? SPLICE_F_NONBLOCK : 0;
	size_t len = r[2] % 70000;

	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK))
		return;
	__atomic_add_fetch(&sh->splices, 1, __ATOMIC_RELAXED);
	if (r[3] & 1)
		(void)!write(pfd[1], w->buf, r[3] % 4096);
	arm(w);
	if (r[3] >> 1 & 1)
		splice(fd, NULL, pfd[1], NULL, len, flags);
	else
		splice(pfd[0], NULL, fd, NULL, len, flags);
	disarm(w);
	close(pfd[0]);
	close(pfd[1]);
}

static void op_uring(struct worker *w, const uint64_t *r)
{
#if HAVE_URING
	struct __kernel_timespec ts = { .tv_nsec = (r[3] % 3) * 1000000 };
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	int fd = pick_fd(w, r[1]), i, n = 1 + r[2] % 3;

	if (io_uring_queue_init(4, &ring, 0))
		return;
	__atomic_add_fetch(&sh->urings, 1, __ATOMIC_RELAXED);
	for (i = 0; i < n; i++) {
		sqe = io_uring_get_sqe(&ring);
		if (!sqe)
			break;
		switch ((r[2] >> (4 + 2 * i)) % 3) {
		case 0:
			io_uring_prep_read(sqe, fd, w->buf, r[3] % 9000, -1);
			break;
		case 1:
			io_uring_prep_write(sqe, fd, w->buf, r[3] % 9000, -1);
			break;
		default:
			io_uring_prep_poll_add(sqe, fd, POLLIN | POLLOUT);
			break;
		}
		if (r[1] >> 20 & 1)
			sqe->rw_flags = RWF_NOWAIT;
	}
	io_uring_submit(&ring);
	if (!io_uring_wait_cqe_timeout(&ring, &cqe, &ts))
		io_uring_cqe_seen(&ring, cqe);
	/* Whatever is still pending is cancelled (or abandoned) here. */
	io_uring_queue_exit(&ring);
#else
	(void)w;
	(void)r;
#endif
}

/* Single copy's threshold to @val (the module refuses some on purpose). */
static void direct_write_min(const char *val)
{
	int fd = open("/sys/module/mflow/parameters/direct_write_min",
		      O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		(void)!write(fd, val, strlen(val));
		close(fd);
	}
}

static void op_sysfs(const uint64_t *r)
{
	static const char *const attrs[] = {
		"state", "attached", "connection", "name", "uevent",
		"ep0_read_bytes",
	};
	/* Single copy on, off and refused, while writes are under way. */
	static const char *const direct[] = { "0", "4096", "65536", "1" };
	char path[96], buf[256];
	int fd;

	if ((r[2] >> 9) % 4 == 0)
		direct_write_min(direct[(r[2] >> 12) % 4]);

	snprintf(path, sizeof(path), "/sys/class/mflow/mflow%u/%s",
		 pick_index(r[1]), attrs[r[2] % 6]);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	(void)!read(fd, buf, sizeof(buf));
	if (r[2] >> 8 & 1) {
		struct pollfd p = { .fd = fd, .events = POLLPRI };

		poll(&p, 1, 0);
	}
	close(fd);
}

static void run_ops(struct worker *w, long n, bool child);

static void op_fork(struct worker *w, const uint64_t *r)
{
	pid_t pid;

	/* Children inherit the files; their ops come from this op's words. */
	pid = fork();
	if (pid == 0) {
		struct worker c = *w;

		c.rng = r[2];
		c.has_timer = false;
		worker_timer(&c);
		run_ops(&c, 16 + r[3] % 32, true);
		_exit(0);
	}
	if (pid > 0)
		__atomic_add_fetch(&sh->forks, 1, __ATOMIC_RELAXED);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void op_once(struct worker *w, bool child)
{
	uint64_t r[4];
	unsigned int kind;
	char path[32];
	int fd, i;

	for (i = 0; i < 4; i++)
		r[i] = rnd(&w->rng);
	kind = r[0] % 100;
	if (kind < 14) {			/* open */
		static const int modes[] = { O_RDWR, O_RDONLY, O_WRONLY };

		snprintf(path, sizeof(path), "/dev/mflow%u",
			 pick_index(r[1]));
		fd = open(path, modes[r[2] % 3] | O_CLOEXEC |
			  (r[2] >> 8 & 1 ? O_NONBLOCK : 0));
		if (fd >= 0)
			__atomic_add_fetch(&sh->opens, 1, __ATOMIC_RELAXED);
		put_fd(w, fd, r[3]);
	} else if (kind < 22) {			/* close */
		i = r[1] % NFD;
		if (w->fd[i] >= 0)
			close(w->fd[i]);
		w->fd[i] = -1;
	} else if (kind < 26) {			/* dup */
		fd = pick_fd(w, r[1]);
		put_fd(w, fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1, r[2]);
	} else if (kind < 48) {
		op_io(w, r);
	} else if (kind < 56) {
		op_poll(w, r);
	} else if (kind < 68) {
		op_con_ioctl(w, r);
	} else if (kind < 86) {
		op_ctl(w, r);
	} else if (kind < 90) {
		op_splice(w, r);
	} else if (kind < 94) {
		op_uring(w, r);
	} else if (kind < 98) {
		op_sysfs(r);
	} else if (!child && r[1] % 4 == 0) {
		op_fork(w, r);
	}
	w->ops++;
}

static void run_ops(struct worker *w, long n, bool child)
{
	long i;

	for (i = 0; i < n; i++) {
		if (!child && (i & 15) == 0 && now_ns() > deadline)
			break;
		op_once(w, child);
	}
	for (i = 0; i < NFD; i++)
		if (w->fd[i] >= 0) {
			close(w->fd[i]);
			w->fd[i] = -1;
		}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	worker_timer(w);
	run_ops(w, ops_per_thread, false);
	if (w->has_timer)
		timer_delete(w->timer);
	__atomic_add_fetch(&sh->ops, w->ops, __ATOMIC_RELAXED);
	return NULL;
}

/* One fuzzing process: nthreads workers. */
static int proc_main(long p)
{
	struct worker *w = calloc(nthreads, sizeof(*w));
	pthread_t *th = calloc(nthreads, sizeof(*th));
	long t;
	int i;

	if (!w || !th)
		return 1;
	for (t = 0; t < nthreads; t++) {
		w[t].rng = seed ^ (0x100000001b3ULL * (uint64_t)(p * 64 + t + 1));
		w[t].ctl = open(CTL_PATH, O_RDWR | O_CLOEXEC);
		w[t].buf = malloc(BUFSZ);
		if (w[t].ctl < 0 || !w[t].buf)
			return 1;
		memset(w[t].buf, 'a' + t, BUFSZ);
		for (i = 0; i < NFD; i++)
			w[t].fd[i] = -1;
		if (pthread_create(&th[t], NULL, worker_main, &w[t]))
			return 1;
	}
	for (t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	while (wait(NULL) > 0)
		;
	return 0;
}

/*
 * A console whose only endpoint left bytes for a peer that never came
 * stays connected (R15): drain it as that peer would, so it goes idle.
 */
static void drain(__u32 index)
{
	char path[32], buf[4096];
	int fd;

	snprintf(path, sizeof(path), "/dev/mflow%u", index);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

/* Every console idle: the number of those that are not, after draining. */
static unsigned int busy_consoles(int ctl, char *what, size_t len)
{
	struct mflow_ctl_query q;
	unsigned int busy = 0, pass;
	__u32 i;

	/* Files io_uring still holds are released by its exit work. */
	for (pass = 0; pass < 100; pass++) {
		busy = 0;
		for (i = 0; i < max_consoles; i++) {
			memset(&q, 0, sizeof(q));
			q.index = i;
			if (ioctl(ctl, MFLOW_CTL_QUERY, &q))
				continue;
			if (q.state == MFLOW_STATE_IDLE)
				continue;
			if (!q.attached)
				drain(i);
			memset(&q, 0, sizeof(q));
			q.index = i;
			if (!ioctl(ctl, MFLOW_CTL_QUERY, &q) &&
			    q.state != MFLOW_STATE_IDLE) {
				snprintf(what, len,
					 "console %u: state %u attached %#x used %#x",
					 i, q.state, q.attached, q.used);
				busy++;
			}
		}
		if (!busy)
			break;
		sleep_ms(100);	/* a deadline for io_uring's exit work */
	}
	return busy;
}

/* One line of a /proc file, without its newline ("" if unreadable). */
static void proc_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

/*
 * Every task of the workers' process groups: its state, where it sleeps,
 * the system call it is in (number and arguments) and its kernel stack.
 */
static void show_tasks(const pid_t *pids)
{
	char path[80], stat[512], wchan[64], call[256], frame[128];
	struct dirent *de, *te;
	int pid, tid, pgrp, ppid;
	DIR *d, *t;
	FILE *f;
	char st;
	long p;

	d = opendir("/proc");
	while (d && (de = readdir(d))) {
		pid = atoi(de->d_name);
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		proc_line(path, stat, sizeof(stat));
		if (!strrchr(stat, ')') ||
		    sscanf(strrchr(stat, ')') + 1, " %c %d %d", &st, &ppid,
			   &pgrp) != 3)
			continue;
		for (p = 0; p < nprocs; p++)
			if (pids[p] > 0 && pgrp == pids[p])
				break;
		if (p == nprocs)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task", pid);
		t = opendir(path);
		while (t && (te = readdir(t))) {
			tid = atoi(te->d_name);
			if (tid <= 0)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/task/%d/stat",
				 pid, tid);
			proc_line(path, stat, sizeof(stat));
			snprintf(path, sizeof(path), "/proc/%d/task/%d/wchan",
				 pid, tid);
			proc_line(path, wchan, sizeof(wchan));
			snprintf(path, sizeof(path),
				 "/proc/%d/task/%d/syscall", pid, tid);
			proc_line(path, call, sizeof(call));
			printf("#   process %d (group %d) task %d: state %c, wchan %s, syscall %s; stack:",
			       pid, pgrp, tid,
			       strrchr(stat, ')') ? strrchr(stat, ')')[2] : '?',
			       wchan, call);
			snprintf(path, sizeof(path), "/proc/%d/task/%d/stack",
				 pid, tid);
			f = fopen(path, "re");
			while (f && fgets(frame, sizeof(frame), f)) {
				frame[strcspn(frame, "\n")] = '\0';
				printf(" %s", frame);
			}
			if (f)
				fclose(f);
			printf("\n");
		}
		if (t)
			closedir(t);
	}
	if (d)
		closedir(d);
}

/*
 * Wait for the worker processes (each the leader of its own process
 * group, with the children it forks). Every blocking call they make is
 * cut short by their timers and they stop at the time bound, so one still
 * running WATCHDOG_S later is stuck: its tasks are shown and its group
 * killed. Returns the number of workers that failed, stuck or not.
 */
static int reap_workers(pid_t *pids)
{
	uint64_t kill_at = deadline + WATCHDOG_S * 1000000000ULL, give_up = 0;
	long p, left = 0;
	int failed = 0, st;
	pid_t r;

	for (p = 0; p < nprocs; p++) {
		if (pids[p] > 0) {
			left++;
			continue;
		}
		printf("# process %ld: fork: %s\n", p, strerror(-pids[p]));
		failed++;
	}
	while (left) {
		for (p = 0; p < nprocs; p++) {
			if (pids[p] <= 0)
				continue;
			st = 0;
			r = waitpid(pids[p], &st, WNOHANG);
			if (r == 0)
				continue;
			if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
				printf("# process %ld failed (status %#x)\n", p,
				       st);
				failed++;
			}
			pids[p] = 0;
			left--;
		}
		if (!left)
			break;
		if (!give_up && now_ns() > kill_at) {
			printf("# watchdog: %ld processes still running %d s past the time bound, killed; their tasks:\n",
			       left, WATCHDOG_S);
			show_tasks(pids);
			for (p = 0; p < nprocs; p++)
				if (pids[p] > 0)
					kill(-pids[p], SIGKILL);
			give_up = now_ns() + 10000000000ULL;
		} else if (give_up && now_ns() > give_up) {
			printf("# watchdog: %ld processes outlived SIGKILL by 10 s\n",
			       left);
			failed += left;
			break;
		}
		sleep_ms(20);	/* a poll with a deadline, not a handshake */
	}
	return failed;
}

static long env_or(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 0) : def;
}

static void usage(const char *prog)
{
	printf("usage: %s [-s SEED] [-n OPS_PER_THREAD] [-t SECONDS] [-p PROCS] [-j THREADS]\n",
	       prog);
}

int main(int argc, char **argv)
{
	long long slack = env_or("MFLOW_FUZZ_SLACK_KIB", 1024) * 1024;
	struct sigaction sa = { .sa_handler = on_alarm };
	long long mem_before, mem_after, part0[KMEM_KEYS] = { 0 }, part1[KMEM_KEYS];
	uint64_t t_start, t_end, t2;
	unsigned int weighings;
	unsigned int k;
	struct mflow_ctl_version v;
	struct mflow_ctl_query q;
	char what[160] = "";
	unsigned char *existed;
	const char *s = getenv("MFLOW_FUZZ_SEED");
	uint64_t t0, t1;
	unsigned int busy;
	int ctl, opt, failed = 0;
	long p;
	pid_t *pids;
	__u32 i;

	seed = s && *s ? strtoull(s, NULL, 0) : 0;
	if (!seed)
		seed = (now_ns() ^ ((uint64_t)getpid() << 32)) | 1;
	ops_per_thread = env_or("MFLOW_FUZZ_OPS", ops_per_thread);
	secs = env_or("MFLOW_FUZZ_SECS", secs);
	nprocs = env_or("MFLOW_FUZZ_PROCS", nprocs);
	nthreads = env_or("MFLOW_FUZZ_THREADS", nthreads);
	while ((opt = getopt(argc, argv, "s:n:t:p:j:h")) != -1) {
		switch (opt) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			ops_per_thread = atol(optarg);
			break;
		case 't':
			secs = atol(optarg);
			break;
		case 'p':
			nprocs = atol(optarg);
			break;
		case 'j':
			nthreads = atol(optarg);
			break;
		case 'h':
			usage(argv[0]);
			return 0;
		default:
			usage(argv[0]);
			return 2;
		}
	}
	if (nprocs < 1 || nthreads < 1 || ops_per_thread < 1 || secs < 1) {
		fprintf(stderr, "mflow_fuzz: -n, -t, -p and -j must be at least 1\n");
		return 2;
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..3\n");
	printf("# seed %llu (replay: MFLOW_FUZZ_SEED=%llu or -s %llu)\n", seed,
	       seed, seed);
	printf("# %ld processes x %ld threads, %ld ops per thread, at most %ld s, io_uring %s\n",
	       nprocs, nthreads, ops_per_thread, secs,
	       HAVE_URING ? "on" : "off");

	ctl = open(CTL_PATH, O_RDWR | O_CLOEXEC);
	if (ctl < 0 || ioctl(ctl, MFLOW_CTL_VERSION, &v)) {
		printf("Bail out! %s: %s\n", CTL_PATH, strerror(errno));
		return 1;
	}
	max_consoles = v.max_consoles;
	for (i = 0; i < max_consoles; i++) {
		memset(&q, 0, sizeof(q));
		q.index = i;
		if (ioctl(ctl, MFLOW_CTL_QUERY, &q))
			break;
	}
	nloaded = i;
	existed = calloc(max_consoles, 1);
	if (!existed) {
		printf("Bail out! out of memory\n");
		return 1;
	}
	for (i = nloaded; i < max_consoles; i++) {
		memset(&q, 0, sizeof(q));
		q.index = i;
		existed[i] = !ioctl(ctl, MFLOW_CTL_QUERY, &q);
	}
	add_base = nloaded;
	if (add_base + NADD > max_consoles) {
		printf("Bail out! max_consoles=%u leaves no room to add consoles\n",
		       max_consoles);
		return 1;
	}

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ro_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gone_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pids = calloc(nprocs, sizeof(*pids));
	if (sh == MAP_FAILED || ro_page == MAP_FAILED ||
	    gone_page == MAP_FAILED || !pids) {
		printf("Bail out! out of memory\n");
		return 1;
	}
	/*
	 * Not unmapped: the hole would be the first place the next small
	 * mapping goes (an io_uring ring of a worker, whose ring mask a read
	 * into the "gone" page would then overwrite). An inaccessible page
	 * faults the same way and is never reused.
	 */
	mprotect(gone_page, 4096, PROT_NONE);
	/*
	 * The read-only page reads as a valid ADD (any index, no name), so
	 * that an ADD given it makes a console and then fails to write the
	 * result back.
	 */
	((struct mflow_ctl_add *)ro_page)->index = MFLOW_CTL_ANY;
	mprotect(ro_page, 4096, PROT_READ);
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART: calls get EINTR */
	signal(SIGPIPE, SIG_IGN);

	t_start = now_ns();
	mem_before = kernel_mem(SETTLE_S, true, part0);
	printf("# baseline weighed in %.1f s\n", (now_ns() - t_start) / 1e9);
	t0 = now_ns();
	deadline = t0 + secs * 1000000000ULL;
	for (p = 0; p < nprocs; p++) {
		pids[p] = fork();
		if (pids[p] == 0) {
			setpgid(0, 0);
			_exit(proc_main(p));
		}
		if (pids[p] > 0)
			setpgid(pids[p], pids[p]);
		else
			pids[p] = -errno;
	}
	failed += reap_workers(pids);
	t1 = now_ns();
	/* Single copy back to its default for the suites that follow. */
	direct_write_min("0");
	if (sh->ops < (unsigned long)(ops_per_thread * nprocs * nthreads))
		printf("# the time bound (%ld s) ended the run early: %lu ops of %ld\n",
		       secs, sh->ops, ops_per_thread * nprocs * nthreads);
	printf("# %lu ops in %.1f s: %.0f ops/s; %lu control calls (%lu ADD, %lu REMOVE), %lu opens, %lu forks, %lu io_uring rings, %lu splices\n",
	       sh->ops, (t1 - t0) / 1e9, sh->ops / ((t1 - t0) / 1e9),
	       sh->ctl_ops, sh->adds, sh->removes, sh->opens, sh->forks,
	       sh->urings, sh->splices);
	if (sh->unexpected)
		printf("# %lu control answers outside the contract, first: %s\n",
		       sh->unexpected, sh->what);
	printf("%s 1 R14_R16_random_ops_answered_within_the_contract\n",
	       failed || sh->unexpected ? "not ok" : "ok");

	busy = busy_consoles(ctl, what, sizeof(what));
	if (busy)
		printf("# %u consoles not idle with every file closed; %s\n",
		       busy, what);
	printf("%s 2 R15_every_console_idle_once_files_closed\n",
	       busy ? "not ok" : "ok");

	/* Take away what the fuzz added, then weigh the kernel again. */
	for (i = nloaded; i < max_consoles; i++) {
		struct mflow_ctl_id id = { .index = i };

		if (!existed[i])
			ioctl(ctl, MFLOW_CTL_REMOVE, &id);
	}
	/*
	 * Some of what the fuzz freed goes back later, by work items and RCU
	 * callbacks (io_uring's ring exit, file structures, percpu chunks):
	 * weigh again while it is above the baseline. One weighing shrinks
	 * every slab cache, which takes seconds (tens on a loaded debug
	 * kernel): the bound is on time, not on the count of weighings, and
	 * no weighing starts that would end past WEIGH_S, judging by the
	 * one before.
	 */
	t2 = now_ns();
	t_end = t2 + WEIGH_S * 1000000000ULL;
	for (weighings = 1;; weighings++) {
		uint64_t w0 = now_ns();

		mem_after = kernel_mem(SETTLE_S, true, part1);
		if (mem_after - mem_before <= slack ||
		    2 * now_ns() - w0 + 500 * MSEC > t_end)
			break;
		sleep_ms(500);	/* let work items and RCU callbacks run */
	}
	printf("# kernel memory %+lld bytes against the baseline (slack %lld, %u weighings in %.1f s):",
	       mem_after - mem_before, slack, weighings,
	       (now_ns() - t2) / 1e9);
	for (k = 0; k < KMEM_KEYS; k++)
		printf(" %s %+lld", kernel_mem_key(k), part1[k] - part0[k]);
	printf("\n");
	if (mem_before < 0 || mem_after - mem_before > slack)
		failed++;
	printf("%s 3 R15_kernel_memory_back_to_baseline\n",
	       mem_before < 0 || mem_after - mem_before > slack ? "not ok" :
	       "ok");
	printf("# seed %llu, %lu ops, %.1f s in all\n", seed, sh->ops,
	       (now_ns() - t_start) / 1e9);
	close(ctl);
	return failed || busy || sh->unexpected ? 1 : 0;
}
