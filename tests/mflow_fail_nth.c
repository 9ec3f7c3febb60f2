// SPDX-License-Identifier: GPL-2.0
/*
 * mflow under systematic fault injection: every slab allocation and every
 * user copy a syscall reaches is failed in turn (fail-nth, see
 * Documentation/fault-injection/fault-injection.rst and
 * tools/testing/selftests/iommu/iommufd_fail_nth.c).
 *
 * For each operation, n = 1, 2, ...: write n to
 * /proc/self/task/<tid>/fail-nth, make the call, read fail-nth back. 0
 * means the n-th fault site failed during the call; anything else means
 * the call finished before reaching an n-th site, and the walk ends.
 * After every injected fault the test checks the contract, not just that
 * nothing crashed: a failed open leaves the console idle and the next
 * connection works (R1, R15); a write or read cut short by a fault
 * reports exactly the bytes it moved, and the stream loses and repeats
 * nothing (R7, R14); a faulting ioctl fails with EFAULT or ENOMEM and
 * changes nothing (R14). The kernel log the runner checks afterwards
 * (KASAN, lockdep, kmemleak) covers the error paths themselves.
 *
 * Not every fault site fails the call: kmemleak, for one, falls back to
 * its own pool when its tracking object cannot be allocated. The walks
 * count the sites and the faults that failed the call, and check the
 * outcome of each.
 *
 * mflow's own allocations need care. With the default 256 KiB fifo,
 * kvmalloc() takes the pages straight from the page allocator, which
 * failslab never sees (and fail_page_alloc is not in the debug kernel);
 * fail-nth fails one site per call, so even a failed slab attempt is
 * rescued by kvmalloc()'s vmalloc() fallback. The mflow_fail_nth_fifo
 * fixture therefore reloads the module ($MFLOW_KO) with a one-page fifo,
 * which kvmalloc() takes from the slab with no fallback (mflow's ENOMEM
 * path, for either direction), and a two-page one (the fallback: the
 * console must work on vmalloc() memory), then puts the module back as
 * it was.
 *
 * Needs root, mflow loaded with idle consoles, and a kernel with
 * CONFIG_FAULT_INJECTION_DEBUG_FS, CONFIG_FAILSLAB and
 * CONFIG_FAULT_INJECTION_USERCOPY; every test is skipped without them.
 * MFLOW_FAIL_NTH_TRACE=1 logs the outcome of every injected fault.
 */
#include <dirent.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "mflow_test.h"

#define MAX_NTH		200	/* fault sites one call may reach */
#define DEBUGFS		"/sys/kernel/debug"
#define MODNAME		"mflow"
#define MODPARAMS	"/sys/module/" MODNAME "/parameters"
#define CLASS		"/sys/class/mflow"

/* ---- the fault injection knobs, set for the run and put back after ---- */

struct knob {
	char path[300];
	char old[64];
};

static struct {
	bool ok;		/* fault injection usable */
	char why[512];		/* why not */
	pid_t pid;		/* the process that changed the knobs */
	struct knob knobs[24];
	unsigned int nknobs;
	/* mflow's parameters when the run began, to restore after reloads */
	char consoles[16];
	char fifo_size[16];
} fi;

/* A one-line file (a module parameter, fail-nth) without its newline. */
static int read_str(const char *path, char *buf, size_t len)
{
	return read_text(path, buf, len, true);
}

static int write_str(const char *path, const char *val)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

/* Remember @path's value, then set it to @val. */
static int knob_set(const char *path, const char *val)
{
	struct knob *k;

	if (fi.nknobs == ARRAY_SIZE(fi.knobs))
		return -ENOSPC;
	k = &fi.knobs[fi.nknobs];
	snprintf(k->path, sizeof(k->path), "%s", path);
	if (read_str(path, k->old, sizeof(k->old)))
		return -ENOENT;
	fi.nknobs++;
	return write_str(path, val);
}

static void knobs_restore(void)
{
	while (fi.nknobs) {
		struct knob *k = &fi.knobs[--fi.nknobs];

		write_str(k->path, k->old);
	}
}

static int module_restore(void);

/*
 * fail-nth counts a site only when the capability's own filters let it
 * through, so failslab must not skip sleeping (GFP_KERNEL) allocations.
 * fail-nth overrides probability, interval, times and task-filter; the
 * task filter is still turned on so that no other task can be hit should
 * someone have set a probability. verbose 0 keeps the injected faults
 * from printing stack dumps into the log the runner checks.
 */
static __attribute__((constructor)) void fault_injection_setup(void)
{
	static const char * const caps[] = { "failslab", "fail_usercopy" };
	char path[300];
	struct dirent *de;
	unsigned int i;
	DIR *dir;

	fi.pid = getpid();
	read_str(MODPARAMS "/consoles", fi.consoles, sizeof(fi.consoles));
	read_str(MODPARAMS "/fifo_size", fi.fifo_size, sizeof(fi.fifo_size));

	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth",
		 (long)syscall(SYS_gettid));
	if (access(path, R_OK | W_OK)) {
		snprintf(fi.why, sizeof(fi.why),
			 "no %s: kernel without CONFIG_FAULT_INJECTION", path);
		return;
	}
	if (access(DEBUGFS "/failslab", F_OK))
		mount("debugfs", DEBUGFS, "debugfs", 0, NULL);
	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		snprintf(path, sizeof(path), DEBUGFS "/%s", caps[i]);
		if (access(path, F_OK)) {
			snprintf(fi.why, sizeof(fi.why),
				 "no %s: kernel without CONFIG_%s and CONFIG_FAULT_INJECTION_DEBUG_FS",
				 path, i ? "FAULT_INJECTION_USERCOPY" :
				 "FAILSLAB");
			return;
		}
	}
	if (knob_set(DEBUGFS "/failslab/ignore-gfp-wait", "N") ||
	    knob_set(DEBUGFS "/failslab/task-filter", "Y") ||
	    knob_set(DEBUGFS "/fail_usercopy/task-filter", "Y")) {
		knobs_restore();
		snprintf(fi.why, sizeof(fi.why), "cannot set the knobs in %s",
			 DEBUGFS "/failslab and fail_usercopy");
		return;
	}
	/* fail-nth reaches every capability: quiet them all. */
	dir = opendir(DEBUGFS);
	while (dir && (de = readdir(dir))) {
		if (strncmp(de->d_name, "fail", 4))
			continue;
		snprintf(path, sizeof(path), DEBUGFS "/%s/verbose", de->d_name);
		if (!access(path, F_OK) && knob_set(path, "0")) {
			knobs_restore();
			snprintf(fi.why, sizeof(fi.why), "cannot set %s", path);
			closedir(dir);
			return;
		}
	}
	if (dir)
		closedir(dir);
	fi.ok = true;
}

static __attribute__((destructor)) void fault_injection_teardown(void)
{
	if (getpid() != fi.pid)
		return;
	knobs_restore();
	module_restore();
}

/* ---- fail-nth ---- */

struct nth {
	int fd;			/* /proc/self/task/<tid>/fail-nth */
};

/*
 * Open this task's fail-nth. Every page of the process is locked in
 * first, so that no page fault (whose allocations are fault sites too)
 * lands between arming fail-nth and the call under test.
 */
static void nth_open(struct __test_metadata *_metadata, struct nth *nth)
{
	char path[64];

	ASSERT_EQ(0, mlockall(MCL_CURRENT | MCL_FUTURE))
		TH_LOG("mlockall: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth",
		 (long)syscall(SYS_gettid));
	nth->fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, nth->fd) TH_LOG("%s: %s", path, strerror(errno));
}

/* Fail the @n-th fault site this task reaches from now on. */
static int nth_arm(struct nth *nth, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(nth->fd, buf, len, 0) == len ? 0 : -errno;
}

/*
 * Disarm; 1 if the armed fault fired since nth_arm(), 0 if not, -errno.
 * Reading and resetting fail-nth copy to and from user memory, which are
 * fault sites themselves: an EFAULT there means the call under test left
 * the fault unused (as in iommufd_fail_nth.c).
 */
static int nth_disarm(struct nth *nth)
{
	char buf[16] = "";
	ssize_t r, w;
	int fired;

	r = pread(nth->fd, buf, sizeof(buf) - 1, 0);
	if (r < 0 && errno != EFAULT)
		return -errno;
	fired = r > 0 && !strcmp(buf, "0\n");
	w = pwrite(nth->fd, "0", 1, 0);
	if (w < 0 && errno == EFAULT) {
		fired = 0;
		w = pwrite(nth->fd, "0", 1, 0);
	}
	if (w != 1)
		return -errno;
	return fired;
}

static bool trace_on(void)
{
	return getenv("MFLOW_FAIL_NTH_TRACE");
}

/* ---- console state ---- */

static int console_index(const char *path)
{
	return atoi(path + strlen("/dev/mflow"));
}

/* Attribute @attr of console @con from sysfs, as a number; -1 if none. */
static long long con_attr(int con, const char *attr)
{
	char path[96], buf[32];

	snprintf(path, sizeof(path), CLASS "/mflow%d/%s", con, attr);
	if (read_str(path, buf, sizeof(buf)))
		return -1;
	if (!strcmp(buf, "idle"))
		return 0;
	if (!strcmp(buf, "connected"))
		return 1;
	return atoll(buf);
}

/* Both endpoints' INFO, STATS (less the age), FIONREAD, OUTQ, options. */
struct snap {
	struct mflow_info info[2];
	struct mflow_stats stats[2];
	long readable[2];
	long outq[2];
	__u32 opts[2];
};

static void snap_take(struct __test_metadata *_metadata, const int fd[2],
		      struct snap *s)
{
	int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, mflow_info(fd[i], &s->info[i]));
		ASSERT_EQ(0, mflow_stats(fd[i], &s->stats[i]));
		s->stats[i].age_ns = 0;
		s->readable[i] = fionread(fd[i]);
		s->outq[i] = outq(fd[i]);
		ASSERT_EQ(0, ioctl(fd[i], MFLOW_IOC_GET_OPTS, &s->opts[i]));
	}
}

/* Both directions carry a few bytes; the console is left as it was. */
static void exchange(struct __test_metadata *_metadata, const int fd[2])
{
	char buf[8] = "";

	ASSERT_EQ(4, write(fd[0], "ping", 4));
	ASSERT_EQ(4, write(fd[1], "pong", 4));
	ASSERT_EQ(4, read_full(fd[1], buf, 4));
	EXPECT_EQ(0, memcmp(buf, "ping", 4));
	ASSERT_EQ(4, read_full(fd[0], buf, 4));
	EXPECT_EQ(0, memcmp(buf, "pong", 4));
}

/* Write @len pattern bytes from @off on fd[0], check they come out of fd[1]. */
static void pass_bytes(struct __test_metadata *_metadata, const int fd[2],
		       uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);

	ASSERT_NE(NULL, buf);
	pat_fill(buf, off, len);
	ASSERT_EQ((ssize_t)len, write(fd[0], buf, len));
	free(buf);
	EXPECT_EQ(0, drain_pat(fd[1], off, len));
}

/*
 * Endpoint 0 of connection @conn is @fd[0]; attach endpoint 1 unless
 * @fd[1] already is, check both see @conn, move bytes both ways (with
 * @wrap, a fifo size, over the end of the ring), detach both: the
 * console must be idle again.
 */
static void finish_pair(struct __test_metadata *_metadata, const char *path,
			int fd[2], unsigned long long conn, unsigned int wrap)
{
	struct mflow_info i0, i1;
	int con = console_index(path);

	if (fd[1] < 0)
		fd[1] = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd[1]) TH_LOG("endpoint 1 of %s: %s", path,
				   strerror(errno));
	ASSERT_EQ(0, mflow_info(fd[0], &i0));
	ASSERT_EQ(0, mflow_info(fd[1], &i1));
	EXPECT_EQ(0U, i0.endpoint);
	EXPECT_EQ(1U, i1.endpoint);
	EXPECT_EQ(conn, i0.connection);
	EXPECT_EQ(conn, i1.connection);
	EXPECT_EQ((long long)conn, con_attr(con, "connection"));
	EXPECT_EQ(2, con_attr(con, "attached"));
	if (wrap) {
		pass_bytes(_metadata, fd, 0, wrap - 100);
		pass_bytes(_metadata, fd, wrap - 100, wrap - 1);
	}
	exchange(_metadata, fd);
	close_fd(&fd[0]);
	close_fd(&fd[1]);
	EXPECT_EQ(0, con_attr(con, "state")) TH_LOG("not idle after both left");
}

static bool errno_of_fault(int err)
{
	return err == EFAULT || err == ENOMEM;
}

/* What an open walk saw. */
struct open_walk {
	unsigned int sites;	/* fault sites the open reached */
	unsigned int failed;	/* of which failed the open */
	int vmalloced;		/* fifos kvmalloc() took from vmalloc() */
};

/*
 * Buffers mflow holds in vmalloc() memory now, from /proc/vmallocinfo
 * (kvmalloc() names its caller there); -1 if that cannot be told.
 */
static int mflow_vmallocs(void)
{
	char line[512];
	bool any = false;
	int n = 0;
	FILE *f;

	f = fopen("/proc/vmallocinfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		any = true;
		n += strstr(line, " [" MODNAME "]") && strstr(line, " vmalloc");
	}
	fclose(f);
	return any ? n : -1;
}

/*
 * Walk the faults of the first open(2) of idle console @path. A failed
 * open fails with ENOMEM or EFAULT and leaves the console idle, its
 * connection number unchanged; the next open pair then starts the next
 * connection and works (over the end of the ring with @wrap, the fifo
 * size).
 */
static void walk_open0(struct __test_metadata *_metadata, const char *path,
		       int fd[2], struct nth *nth, unsigned int wrap,
		       struct open_walk *w)
{
	int con = console_index(path);
	long long conn;
	unsigned int n;
	int fired, err;

	w->failed = 0;
	w->vmalloced = 0;
	for (n = 1;; n++) {
		ASSERT_GT(MAX_NTH, n) TH_LOG("open still faulting at %u", n);
		ASSERT_EQ(0, con_attr(con, "state"));
		conn = con_attr(con, "connection");
		ASSERT_LE(0, conn);

		ASSERT_EQ(0, nth_arm(nth, n));
		fd[0] = open(path, O_RDWR | O_CLOEXEC);
		err = errno;
		fired = nth_disarm(nth);
		ASSERT_LE(0, fired);

		if (fd[0] < 0) {
			ASSERT_TRUE(fired) TH_LOG("open failed unfaulted: %s",
						  strerror(err));
			EXPECT_TRUE(errno_of_fault(err))
				TH_LOG("fault %u: open: %s", n, strerror(err));
			w->failed++;
			EXPECT_EQ(0, con_attr(con, "state"))
				TH_LOG("fault %u: failed open left %s in use",
				       n, path);
			EXPECT_EQ(0, con_attr(con, "attached"));
			EXPECT_EQ(conn, con_attr(con, "connection"))
				TH_LOG("fault %u: failed open counted", n);
			fd[0] = mflow_attach0(_metadata, path, O_RDWR);
		} else if (w->vmalloced >= 0) {
			int vm = mflow_vmallocs();

			w->vmalloced = vm < 0 ? -1 : w->vmalloced + vm;
		}
		if (trace_on())
			TH_LOG("n=%u fired=%d fd=%d err=%d vm=%d", n, fired,
			       fd[0], err, w->vmalloced);
		finish_pair(_metadata, path, fd, conn + 1, wrap);
		if (!fired)
			break;
	}
	w->sites = n - 1;
}

/*
 * Walk the faults of open(2) attaching endpoint 1 of @path. A failed one
 * leaves endpoint 0's connection as it was and endpoint 1 free: the next
 * open attaches it, in the same connection.
 */
static void walk_open1(struct __test_metadata *_metadata, const char *path,
		       int fd[2], struct nth *nth, struct open_walk *w)
{
	int con = console_index(path);
	struct mflow_info info;
	unsigned int n;
	int fired, err;

	w->failed = 0;
	for (n = 1;; n++) {
		ASSERT_GT(MAX_NTH, n) TH_LOG("open still faulting at %u", n);
		fd[0] = mflow_attach0(_metadata, path, O_RDWR);
		ASSERT_EQ(0, mflow_info(fd[0], &info));

		ASSERT_EQ(0, nth_arm(nth, n));
		fd[1] = open(path, O_RDWR | O_CLOEXEC);
		err = errno;
		fired = nth_disarm(nth);
		ASSERT_LE(0, fired);

		if (fd[1] < 0) {
			ASSERT_TRUE(fired) TH_LOG("open failed unfaulted: %s",
						  strerror(err));
			EXPECT_TRUE(errno_of_fault(err))
				TH_LOG("fault %u: open: %s", n, strerror(err));
			w->failed++;
			EXPECT_EQ(0U, info_flags(fd[0]) &
				  (MFLOW_INFO_PEER_ATTACHED |
				   MFLOW_INFO_PEER_DETACHED))
				TH_LOG("fault %u: failed open used endpoint 1",
				       n);
			EXPECT_EQ(1, con_attr(con, "attached"));
			EXPECT_EQ((long long)info.connection,
				  con_attr(con, "connection"));
		}
		finish_pair(_metadata, path, fd, info.connection, 0);
		if (!fired)
			break;
	}
	w->sites = n - 1;
}

/* ---- opening: R1, R15 ---- */

FIXTURE(mflow_fail_nth_open)
{
	char path[32];
	int fd[2];
	struct nth nth;
};

FIXTURE_SETUP(mflow_fail_nth_open)
{
	int con;

	self->fd[0] = -1;
	self->fd[1] = -1;
	self->nth.fd = -1;
	if (!fi.ok)
		SKIP(return, "%s", fi.why);
	con = mflow_path(self->path, sizeof(self->path), 0);
	if (access(self->path, F_OK))
		SKIP(return, "%s missing: is mflow loaded?", self->path);
	nth_open(_metadata, &self->nth);
	ASSERT_EQ(0, con_attr(con, "state"))
		TH_LOG("%s in use: an earlier test left it connected",
		       self->path);
}

FIXTURE_TEARDOWN(mflow_fail_nth_open)
{
	close_fd(&self->fd[0]);
	close_fd(&self->fd[1]);
	close_fd(&self->nth.fd);
}

TEST_F_TIMEOUT(mflow_fail_nth_open, R1_R15_open_fault_leaves_console_idle,
	       120)
{
	struct open_walk w;

	walk_open0(_metadata, self->path, self->fd, &self->nth, 0, &w);
	TH_LOG("open of endpoint 0: %u fault sites, %u failed the open",
	       w.sites, w.failed);
}

TEST_F_TIMEOUT(mflow_fail_nth_open, R1_R15_open_fault_keeps_endpoint1_free,
	       120)
{
	struct open_walk w;

	walk_open1(_metadata, self->path, self->fd, &self->nth, &w);
	TH_LOG("open of endpoint 1: %u fault sites, %u failed the open",
	       w.sites, w.failed);
}

/*
 * The fifos from the slab: mflow reloaded with consoles=1 and a fifo of
 * one page (kvmalloc() fails outright: mflow's ENOMEM path, for either
 * direction's buffer) or two pages (kvmalloc() falls back to vmalloc();
 * the connection must work on it, across the ring's end).
 */
FIXTURE(mflow_fail_nth_fifo)
{
	char path[32];
	int fd[2];
	struct nth nth;
	bool reloaded;
};

FIXTURE_VARIANT(mflow_fail_nth_fifo)
{
	unsigned int fifo_size;
	bool fails;		/* a faulted fifo allocation fails the open */
};

FIXTURE_VARIANT_ADD(mflow_fail_nth_fifo, slab_page)
{
	.fifo_size = 4096,
	.fails = true,
};

FIXTURE_VARIANT_ADD(mflow_fail_nth_fifo, vmalloc_fallback)
{
	.fifo_size = 8192,
	.fails = false,
};

static int module_unload(void)
{
	int tries;

	for (tries = 0; tries < 200; tries++) {
		if (!syscall(SYS_delete_module, MODNAME, O_NONBLOCK))
			return 0;
		if (errno != EAGAIN && errno != EBUSY)
			return -errno;
		sleep_ms(25);	/* a helper of an earlier test may linger */
	}
	return -EBUSY;
}

/* Load $MFLOW_KO with @params; wait for /dev/mflow0. */
static int module_load(const char *params)
{
	const char *ko = getenv("MFLOW_KO");
	int fd, ret, tries;

	if (!ko)
		return -ENOENT;
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	for (tries = 0; !ret && tries < 200; tries++) {
		if (!access("/dev/" MODNAME "0", F_OK))
			return 0;
		sleep_ms(10);
	}
	return ret ? ret : -ETIMEDOUT;
}

/* Put mflow back as it was when the run began, if it is not; 0 or -errno. */
static int module_restore(void)
{
	char consoles[16] = "", fifo[16] = "", params[64];
	int err;

	if (!fi.consoles[0] || !fi.fifo_size[0] || !getenv("MFLOW_KO"))
		return 0;
	read_str(MODPARAMS "/consoles", consoles, sizeof(consoles));
	read_str(MODPARAMS "/fifo_size", fifo, sizeof(fifo));
	if (!strcmp(consoles, fi.consoles) && !strcmp(fifo, fi.fifo_size))
		return 0;
	if (consoles[0]) {
		err = module_unload();
		if (err) {
			fprintf(stderr, "# cannot unload %s to restore it: %s\n",
				MODNAME, strerror(-err));
			return err;
		}
	}
	snprintf(params, sizeof(params), "consoles=%s fifo_size=%s",
		 fi.consoles, fi.fifo_size);
	err = module_load(params);
	if (err)
		fprintf(stderr, "# cannot load %s %s: %s\n",
			getenv("MFLOW_KO"), params, strerror(-err));
	return err;
}

FIXTURE_SETUP(mflow_fail_nth_fifo)
{
	char params[64];
	int i, n;

	self->fd[0] = -1;
	self->fd[1] = -1;
	self->nth.fd = -1;
	self->reloaded = false;
	if (!fi.ok)
		SKIP(return, "%s", fi.why);
	if (!getenv("MFLOW_KO"))
		SKIP(return, "MFLOW_KO not set: cannot reload %s", MODNAME);
	if (!fi.consoles[0])
		SKIP(return, "%s not loaded", MODNAME);
	/* Unloading must not hide a console an earlier test left in use. */
	n = atoi(fi.consoles);
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, con_attr(i, "state"))
			TH_LOG("mflow%d in use before the reload", i);
	ASSERT_EQ(0, module_unload());
	self->reloaded = true;
	snprintf(params, sizeof(params), "consoles=1 fifo_size=%u",
		 variant->fifo_size);
	ASSERT_EQ(0, module_load(params)) TH_LOG("insmod %s", params);
	snprintf(self->path, sizeof(self->path), "/dev/%s0", MODNAME);
	ASSERT_EQ((long long)variant->fifo_size, con_attr(0, "fifo_size"));
	nth_open(_metadata, &self->nth);
}

FIXTURE_TEARDOWN(mflow_fail_nth_fifo)
{
	close_fd(&self->fd[0]);
	close_fd(&self->fd[1]);
	close_fd(&self->nth.fd);
	if (self->reloaded)
		EXPECT_EQ(0, module_restore())
			TH_LOG("%s not restored", MODNAME);
}

/*
 * Whether walks @w0 and @w1 show what @variant says a faulted fifo
 * allocation does; @why gets the first thing that does not hold.
 */
static bool fifo_walks_agree(const FIXTURE_VARIANT(mflow_fail_nth_fifo) *variant,
			     const struct open_walk *w0,
			     const struct open_walk *w1, const char **why)
{
	*why = NULL;
	if (w1->sites + 2 > w0->sites)
		*why = "the walk did not reach both fifo allocations";
	else if (variant->fails && w0->failed != w1->failed + 2)
		*why = "faulted fifo allocations did not fail the open";
	else if (variant->fails && w0->vmalloced > 0)
		*why = "fifos taken from vmalloc()";
	else if (!variant->fails && w0->failed != w1->failed)
		*why = "faulted fifo allocations failed the open";
	else if (!variant->fails && w0->vmalloced >= 0 && w0->vmalloced < 2)
		*why = "faulted fifo allocations not taken from vmalloc()";
	return !*why;
}

/*
 * Endpoint 1's open takes the same path as endpoint 0's minus the fifo
 * allocations, so the difference between the two walks is mflow's own
 * fault sites, one per direction: with a one-page fifo each fails the
 * open (and must free the other direction's buffer); with two pages
 * each sends kvmalloc() to vmalloc(), and the open succeeds.
 *
 * The walks assume each open takes the same path. An 8 KiB kmalloc()
 * that needs a fresh slab adds the slab's own bookkeeping allocations
 * (the memory cgroup's object vector) to that open only, which shifts
 * the later fault sites by one between two steps of a walk: a fifo site
 * is then faulted twice or not at all. A walk whose counts disagree is
 * made again, up to three times; a fifo fault that fails the open when
 * it must not (or the reverse) disagrees every time. Every step of every
 * walk still checks that a failed open left the console idle.
 */
TEST_F_TIMEOUT(mflow_fail_nth_fifo, R15_fifo_alloc_fault_frees_and_stays_idle,
	       180)
{
	struct open_walk w0, w1;
	const char *why = NULL;
	int attempt;

	for (attempt = 1; attempt <= 3; attempt++) {
		walk_open0(_metadata, self->path, self->fd, &self->nth,
			   variant->fifo_size, &w0);
		walk_open1(_metadata, self->path, self->fd, &self->nth, &w1);
		TH_LOG("fifo %u, walk %d: open of endpoint 0: %u fault sites, %u failed, %d vmalloc'ed fifos; endpoint 1: %u, %u failed",
		       variant->fifo_size, attempt, w0.sites, w0.failed,
		       w0.vmalloced, w1.sites, w1.failed);
		if (fifo_walks_agree(variant, &w0, &w1, &why))
			break;
		TH_LOG("walk %d: %s", attempt, why);
	}
	EXPECT_EQ(NULL, why) TH_LOG("three walks: %s", why);
}

/* ---- the data path: R2, R7, R14 ---- */

FIXTURE(mflow_fail_nth)
{
	char path[32];
	int fd[2];		/* endpoint 0 writes, endpoint 1 reads */
	unsigned int fifo;
	uint64_t off;		/* stream offset: all before it was read */
	uint8_t *wbuf, *rbuf;
	struct nth nth;
};

FIXTURE_SETUP(mflow_fail_nth)
{
	self->fd[0] = -1;
	self->fd[1] = -1;
	self->nth.fd = -1;
	self->wbuf = NULL;
	self->rbuf = NULL;
	if (!fi.ok)
		SKIP(return, "%s", fi.why);
	mflow_path(self->path, sizeof(self->path), 0);
	if (access(self->path, F_OK))
		SKIP(return, "%s missing: is mflow loaded?", self->path);
	sigpipe_block();
	nth_open(_metadata, &self->nth);
	mflow_open_pair(_metadata, self->path, O_RDWR, O_RDWR, self->fd);
	self->fifo = fifo_size(_metadata, self->fd[0]);
	self->off = 0;
	self->wbuf = malloc(self->fifo);
	self->rbuf = malloc(self->fifo);
	ASSERT_NE(NULL, self->wbuf);
	ASSERT_NE(NULL, self->rbuf);
}

FIXTURE_TEARDOWN(mflow_fail_nth)
{
	close_fd(&self->fd[0]);
	close_fd(&self->fd[1]);
	close_fd(&self->nth.fd);
	free(self->wbuf);
	free(self->rbuf);
}

/*
 * With the direction empty, move its ring position (the stream offset
 * modulo the fifo size) to @to_end bytes before the end of the ring by
 * passing pattern bytes through it.
 */
static void ring_align(struct __test_metadata *_metadata,
		       FIXTURE_DATA(mflow_fail_nth) *self, unsigned int to_end)
{
	unsigned int pos = self->off & (self->fifo - 1);
	unsigned int pad = (2 * self->fifo - to_end - pos) & (self->fifo - 1);

	ASSERT_EQ(0, fionread(self->fd[1]));
	if (pad) {
		pass_bytes(_metadata, self->fd, self->off, pad);
		self->off += pad;
	}
}

/* Split @len bytes at @buf into @n segments of unequal sizes. */
static void split_iov(struct iovec *iov, unsigned int n, uint8_t *buf,
		      size_t len)
{
	static const unsigned int weight[] = {
		1, 3, 50, 9, 200, 2, 700, 40, 1, 300, 13, 100,
	};
	unsigned int i, sum = 0;
	size_t used = 0, part;

	for (i = 0; i < n; i++)
		sum += weight[i % ARRAY_SIZE(weight)];
	for (i = 0; i < n; i++) {
		part = len * weight[i % ARRAY_SIZE(weight)] / sum;
		if (!part)
			part = 1;
		if (i == n - 1 || used + part > len)
			part = len - used;
		iov[i].iov_base = buf + used;
		iov[i].iov_len = part;
		used += part;
	}
}

/* More segments than UIO_FASTIOV: the kernel allocates the iovec array. */
#define NSEG	12

/* How the faults of a data walk ended: nothing moved, or part of it. */
struct walk_counts {
	unsigned int failed;
	unsigned int partial;
};

/*
 * One step of a data walk: the nth fault armed around a read or write of
 * @len bytes (readv/writev of @iov with @vec). Without a fault the call
 * moves everything; with one it fails with a fault's errno having moved
 * nothing, or returns a count. Returns the bytes moved; *fired tells
 * whether the fault was reached.
 */
static size_t walk_step(struct __test_metadata *_metadata,
			FIXTURE_DATA(mflow_fail_nth) *self, bool writing,
			bool vec, const struct iovec *iov, size_t len,
			unsigned int n, int *fired, struct walk_counts *c)
{
	int err;
	ssize_t r;

	ASSERT_EQ(0, nth_arm(&self->nth, n));
	if (writing)
		r = vec ? writev(self->fd[0], iov, NSEG) :
			  write(self->fd[0], self->wbuf, len);
	else
		r = vec ? readv(self->fd[1], iov, NSEG) :
			  read(self->fd[1], self->rbuf, len);
	err = errno;
	*fired = nth_disarm(&self->nth);
	ASSERT_LE(0, *fired);
	if (trace_on())
		TH_LOG("n=%u fired=%d r=%zd err=%d", n, *fired, r, err);

	if (!*fired) {
		ASSERT_EQ((ssize_t)len, r) TH_LOG("%s", strerror(err));
	} else if (r < 0) {
		EXPECT_TRUE(errno_of_fault(err))
			TH_LOG("fault %u: %s", n, strerror(err));
		c->failed++;
	} else {
		EXPECT_LT(0, r);
		c->partial += (size_t)r < len;
	}
	return r < 0 ? 0 : r;
}

/*
 * Walk the faults of writing most of a fifo, starting 1000 bytes before
 * the end of the ring, with write(2) or writev(2). A faulted write
 * returns EFAULT/ENOMEM having moved nothing, or a partial count; the
 * peer then finds exactly the bytes reported, in order, and nothing
 * else; the next write carries on from there.
 */
static void walk_write(struct __test_metadata *_metadata,
		       FIXTURE_DATA(mflow_fail_nth) *self, bool vec)
{
	size_t len = self->fifo - 100, moved;
	struct walk_counts c = { 0 };
	struct mflow_stats st0, st1;
	struct iovec iov[NSEG];
	unsigned int n;
	int fired;

	split_iov(iov, NSEG, self->wbuf, len);
	for (n = 1;; n++) {
		ASSERT_GT(MAX_NTH, n) TH_LOG("write still faulting at %u", n);
		ring_align(_metadata, self, 1000);
		pat_fill(self->wbuf, self->off, len);
		ASSERT_EQ(0, mflow_stats(self->fd[0], &st0));

		moved = walk_step(_metadata, self, true, vec, iov, len, n,
				  &fired, &c);
		EXPECT_EQ((long)moved, fionread(self->fd[1])) TH_LOG("fault %u", n);
		EXPECT_EQ((long)moved, outq(self->fd[0])) TH_LOG("fault %u", n);
		ASSERT_EQ(0, mflow_stats(self->fd[0], &st1));
		EXPECT_EQ(st0.write_bytes + moved, st1.write_bytes);
		EXPECT_EQ(st0.write_ops + !!moved, st1.write_ops);
		ASSERT_EQ(0, drain_pat(self->fd[1], self->off, moved))
			TH_LOG("fault %u: the %zu bytes written do not read back",
			       n, moved);
		self->off += moved;
		EXPECT_EQ(0, fionread(self->fd[1])) TH_LOG("fault %u: more bytes than written", n);
		if (!fired)
			break;
	}
	TH_LOG("%s of %zu bytes: %u fault sites: %u failed, %u partial",
	       vec ? "writev" : "write", len, n - 1, c.failed, c.partial);
	/* Both halves of the wrap were faulted: nothing, then part. */
	EXPECT_LE(1U, c.failed);
	EXPECT_LE(1U, c.partial);
	exchange(_metadata, self->fd);
}

/*
 * Walk the faults of reading most of a fifo, starting 1000 bytes before
 * the end of the ring, with read(2) or readv(2). A faulted read returns
 * EFAULT/ENOMEM having consumed nothing, or a partial count of correct
 * bytes; FIONREAD drops by exactly that count and the rest reads back
 * intact.
 */
static void walk_read(struct __test_metadata *_metadata,
		      FIXTURE_DATA(mflow_fail_nth) *self, bool vec)
{
	size_t len = self->fifo - 100, moved;
	struct walk_counts c = { 0 };
	struct mflow_stats st0, st1;
	struct iovec iov[NSEG];
	unsigned int n;
	int fired;

	split_iov(iov, NSEG, self->rbuf, len);
	for (n = 1;; n++) {
		ASSERT_GT(MAX_NTH, n) TH_LOG("read still faulting at %u", n);
		ring_align(_metadata, self, 1000);
		pat_fill(self->wbuf, self->off, len);
		ASSERT_EQ((ssize_t)len, write(self->fd[0], self->wbuf, len));
		ASSERT_EQ((long)len, fionread(self->fd[1]));
		ASSERT_EQ(0, mflow_stats(self->fd[1], &st0));

		moved = walk_step(_metadata, self, false, vec, iov, len, n,
				  &fired, &c);
		EXPECT_EQ(-1, pat_mismatch(self->rbuf, self->off, moved))
			TH_LOG("fault %u: the %zu bytes read are wrong", n,
			       moved);
		EXPECT_EQ((long)(len - moved), fionread(self->fd[1]))
			TH_LOG("fault %u: read %zu", n, moved);
		EXPECT_EQ((long)(len - moved), outq(self->fd[0]));
		ASSERT_EQ(0, mflow_stats(self->fd[1], &st1));
		EXPECT_EQ(st0.read_bytes + moved, st1.read_bytes);
		EXPECT_EQ(st0.read_ops + !!moved, st1.read_ops);
		self->off += moved;
		ASSERT_EQ(0, drain_pat(self->fd[1], self->off, len - moved))
			TH_LOG("fault %u: the rest does not follow in order", n);
		self->off += len - moved;
		EXPECT_EQ(0, fionread(self->fd[1]));
		if (!fired)
			break;
	}
	TH_LOG("%s of %zu bytes: %u fault sites: %u failed, %u partial",
	       vec ? "readv" : "read", len, n - 1, c.failed, c.partial);
	EXPECT_LE(1U, c.failed);
	EXPECT_LE(1U, c.partial);
	exchange(_metadata, self->fd);
}

TEST_F_TIMEOUT(mflow_fail_nth, R7_R14_write_fault_moves_reported_bytes_once, 120)
{
	walk_write(_metadata, self, false);
}

TEST_F_TIMEOUT(mflow_fail_nth, R7_R14_writev_fault_moves_reported_bytes_once, 120)
{
	walk_write(_metadata, self, true);
}

TEST_F_TIMEOUT(mflow_fail_nth, R2_R14_read_fault_consumes_reported_bytes_once, 120)
{
	walk_read(_metadata, self, false);
}

TEST_F_TIMEOUT(mflow_fail_nth, R2_R14_readv_fault_consumes_reported_bytes_once, 120)
{
	walk_read(_metadata, self, true);
}

/* ---- ioctls: R8, R9, R12, R13, R14 ---- */

enum op {
	OP_INFO, OP_STATS, OP_FIONREAD, OP_OUTQ, OP_GET_OPTS, OP_SET_OPTS,
	OP_SHUT_RD, OP_SHUT_WR, OP_CLOSE,
};

static const char * const op_name[] = {
	"INFO", "STATS", "FIONREAD", "OUTQ", "GET_OPTS", "SET_OPTS",
	"SHUTDOWN(RD)", "SHUTDOWN(WR)", "CLOSE",
};

/* One ioctl of @op on @fd, its argument at @arg (64 bytes, preset). */
static int do_op(int fd, enum op op, void *arg)
{
	switch (op) {
	case OP_INFO:
		return ioctl(fd, MFLOW_IOC_INFO, arg);
	case OP_STATS:
		return ioctl(fd, MFLOW_IOC_STATS, arg);
	case OP_FIONREAD:
		return ioctl(fd, FIONREAD, arg);
	case OP_OUTQ:
		return ioctl(fd, MFLOW_IOC_OUTQ, arg);
	case OP_GET_OPTS:
		return ioctl(fd, MFLOW_IOC_GET_OPTS, arg);
	case OP_SET_OPTS:
		return ioctl(fd, MFLOW_IOC_SET_OPTS, arg);
	case OP_SHUT_RD:
	case OP_SHUT_WR:
		return ioctl(fd, MFLOW_IOC_SHUTDOWN, arg);
	case OP_CLOSE:
		return ioctl(fd, MFLOW_IOC_CLOSE, arg);
	}
	return -1;
}

/* Preset the argument of @op; the bytes an output ioctl may overwrite. */
static size_t op_arg(enum op op, uint8_t arg[64])
{
	struct mflow_close_args close_args = {
		.timeout_ns = 0,
		.flags = MFLOW_CLOSE_TIMEOUT,
	};
	__u32 v;

	memset(arg, 0x5a, 64);
	switch (op) {
	case OP_INFO:
		return sizeof(struct mflow_info);
	case OP_STATS:
		return sizeof(struct mflow_stats);
	case OP_FIONREAD:
		return sizeof(int);
	case OP_OUTQ:
	case OP_GET_OPTS:
		return sizeof(__u32);
	case OP_SET_OPTS:
		v = MFLOW_OPT_NOSIGPIPE;
		memcpy(arg, &v, sizeof(v));
		return 0;
	case OP_SHUT_RD:
	case OP_SHUT_WR:
		v = op == OP_SHUT_RD ? MFLOW_SHUT_RD : MFLOW_SHUT_WR;
		memcpy(arg, &v, sizeof(v));
		return 0;
	case OP_CLOSE:
		memcpy(arg, &close_args, sizeof(close_args));
		return 0;
	}
	return 0;
}

/*
 * Walk the faults of ioctl @op on endpoint 0 of a pair with bytes in
 * flight both ways. A faulted call fails with EFAULT or ENOMEM, writes
 * nothing to its argument, and every figure of both endpoints stays as
 * it was; the unfaulted call then succeeds as usual (ETIMEDOUT for the
 * close, whose peer does not close). Returns the fault sites seen.
 */
static unsigned int walk_ioctl(struct __test_metadata *_metadata,
			       FIXTURE_DATA(mflow_fail_nth) *self, enum op op)
{
	struct snap before, after;
	uint8_t arg[64], fresh[64];
	unsigned int n;
	int fired, err, r;
	size_t out;

	for (n = 1;; n++) {
		ASSERT_GT(MAX_NTH, n) TH_LOG("%s still faulting at %u",
					     op_name[op], n);
		snap_take(_metadata, self->fd, &before);
		out = op_arg(op, arg);

		ASSERT_EQ(0, nth_arm(&self->nth, n));
		r = do_op(self->fd[0], op, arg);
		err = errno;
		fired = nth_disarm(&self->nth);
		ASSERT_LE(0, fired);
		if (!fired)
			break;

		EXPECT_EQ(-1, r) TH_LOG("%s: fault %u not reported", op_name[op], n);
		EXPECT_TRUE(errno_of_fault(err))
			TH_LOG("%s: fault %u: %s", op_name[op], n, strerror(err));
		op_arg(op, fresh);
		EXPECT_EQ(0, memcmp(arg, fresh, sizeof(arg)))
			TH_LOG("%s: fault %u: argument written", op_name[op], n);
		snap_take(_metadata, self->fd, &after);
		EXPECT_EQ(0, memcmp(&before, &after, sizeof(after)))
			TH_LOG("%s: fault %u changed the endpoints", op_name[op], n);
	}

	if (op == OP_CLOSE) {
		EXPECT_EQ(-1, r);
		EXPECT_EQ(ETIMEDOUT, err);
	} else {
		EXPECT_EQ(0, r) TH_LOG("%s: %s", op_name[op], strerror(err));
	}
	if (op == OP_INFO)
		EXPECT_EQ(0, memcmp(arg, &before.info[0], out));
	if (op == OP_STATS) {
		((struct mflow_stats *)arg)->age_ns = 0;
		EXPECT_EQ(0, memcmp(arg, &before.stats[0], out));
	}
	if (op == OP_FIONREAD)
		EXPECT_EQ(before.readable[0], *(int *)arg);
	if (op == OP_OUTQ)
		EXPECT_EQ(before.outq[0], (long)*(__u32 *)arg);
	if (op == OP_GET_OPTS)
		EXPECT_EQ(before.opts[0], *(__u32 *)arg);
	return n - 1;
}

/* Bytes in flight both ways, so every figure is worth comparing. */
static void load_both_ways(struct __test_metadata *_metadata,
			   FIXTURE_DATA(mflow_fail_nth) *self)
{
	ASSERT_EQ(5, write(self->fd[0], "hello", 5));
	ASSERT_EQ(3, write(self->fd[1], "abc", 3));
	ASSERT_EQ(2, read(self->fd[1], self->rbuf, 2));
	ASSERT_EQ(1, read(self->fd[0], self->rbuf, 1));
}

/*
 * INFO and STATS copy their result out with copy_to_user(), a fault
 * site; FIONREAD, OUTQ and GET_OPTS use put_user(), which fault
 * injection does not reach (their walks end at once).
 */
TEST_F_TIMEOUT(mflow_fail_nth, R12_R13_R14_query_ioctl_fault_changes_nothing, 120)
{
	static const struct {
		enum op op;
		unsigned int min_sites;
	} ops[] = {
		{ OP_INFO, 1 }, { OP_STATS, 1 }, { OP_FIONREAD, 0 },
		{ OP_OUTQ, 0 }, { OP_GET_OPTS, 0 },
	};
	unsigned int i, sites;

	load_both_ways(_metadata, self);
	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		sites = walk_ioctl(_metadata, self, ops[i].op);
		TH_LOG("%s: %u fault sites", op_name[ops[i].op], sites);
		EXPECT_LE(ops[i].min_sites, sites);
	}
}

/* These read their argument with get_user(): no fault site so far. */
TEST_F_TIMEOUT(mflow_fail_nth, R8_R14_shutdown_set_opts_fault_changes_nothing, 120)
{
	static const enum op ops[] = { OP_SET_OPTS, OP_SHUT_RD, OP_SHUT_WR };
	unsigned int i, sites;

	load_both_ways(_metadata, self);
	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		sites = walk_ioctl(_metadata, self, ops[i]);
		TH_LOG("%s: %u fault sites", op_name[ops[i]], sites);
	}
	EXPECT_EQ(MFLOW_INFO_NOSIGPIPE | MFLOW_INFO_RD_SHUT |
		  MFLOW_INFO_WR_SHUT | MFLOW_INFO_PEER_ATTACHED,
		  info_flags(self->fd[0]));
	EXPECT_EQ(0, fionread(self->fd[0]));
	EXPECT_EQ(3, read(self->fd[1], self->rbuf, 64));
	EXPECT_EQ(0, read(self->fd[1], self->rbuf, 64));
}

/*
 * A faulted MFLOW_IOC_CLOSE has not shut anything: endpoint 0 still
 * writes and its peer sees no EOF. The unfaulted one shuts the write
 * side and times out waiting for the peer.
 */
TEST_F_TIMEOUT(mflow_fail_nth, R9_R14_close_fault_shuts_nothing, 120)
{
	unsigned int sites;

	load_both_ways(_metadata, self);
	sites = walk_ioctl(_metadata, self, OP_CLOSE);
	TH_LOG("CLOSE: %u fault sites", sites);
	EXPECT_LE(1U, sites);
	EXPECT_TRUE(HAS(info_flags(self->fd[0]), MFLOW_INFO_WR_SHUT));
	EXPECT_TRUE(HAS(info_flags(self->fd[1]), MFLOW_INFO_PEER_WR_SHUT));
	EXPECT_EQ(3, read(self->fd[1], self->rbuf, 64));
	EXPECT_EQ(0, read(self->fd[1], self->rbuf, 64));
	EXPECT_EQ(1, write(self->fd[1], "z", 1));
	EXPECT_EQ(3, read_full(self->fd[0], self->rbuf, 3));
}

TEST_HARNESS_MAIN
