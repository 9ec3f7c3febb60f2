// SPDX-License-Identifier: GPL-2.0
/*
 * mflowctl: list, create, remove, watch and drive mflow consoles.
 *
 * Everything goes through the uapi header <linux/mflow.h>, sysfs
 * (/sys/class/mflow/mflowN/), the control node /dev/mflow-control and
 * tracefs; no library beyond libc. See mflowctl(1) or `mflowctl --help`.
 *
 * Which interface each command uses:
 *   list, info, wait    sysfs only: any user, no console is opened
 *   add, del, query,    the control node (its group decides who may)
 *   free
 *   shutdown, close     an endpoint: an inherited descriptor (fd:N), or a
 *                       fresh open of the node, which attaches an endpoint
 *   connect             a fresh open of the node
 *   trace               a private tracefs instance (root)
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <linux/mflow.h>

#ifndef MFLOW_VERSION
#error "MFLOW_VERSION (dkms.conf's PACKAGE_VERSION) must be given with -D"
#endif

#define CLASS_DIR	"/sys/class/mflow"
#define MODULE_DIR	"/sys/module/mflow"
#define CTL_NODE	"/dev/mflow-control"
#define CTL_SYSFS	"/sys/class/misc/mflow-control"

/* Exit codes; the table in usage() and in mflowctl.1 says the same. */
enum {
	EX_OK		= 0,
	EX_FAIL		= 1,	/* any other failure */
	EX_USAGE	= 2,	/* bad command line, or a value the module refused */
	EX_NOMODULE	= 3,	/* mflow is not loaded */
	EX_MISMATCH	= 4,	/* module older than mflowctl, or ABI mismatch */
	EX_NOCONSOLE	= 5,	/* no such console */
	EX_BUSY		= 6,	/* in use, index or name taken, limit reached */
	EX_PERM		= 7,	/* permission denied */
	EX_TIMEOUT	= 8,	/* --timeout ran out */
	EX_UNSUPPORTED	= 9,	/* no tracefs, or no mflow trace events */
};

static const char *prog = "mflowctl";

static void msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The exit code for a failed system call's errno. */
static int errno_exit(int err)
{
	switch (err) {
	case ENOENT:
	case ENXIO:
	case ENODEV:
		return EX_NOCONSOLE;
	case EBUSY:
	case EEXIST:
	case ENOSPC:
		return EX_BUSY;
	case EACCES:
	case EPERM:
		return EX_PERM;
	case ETIMEDOUT:
		return EX_TIMEOUT;
	case EINVAL:
	case ERANGE:
		return EX_USAGE;
	default:
		return EX_FAIL;
	}
}

/* Report "WHAT: strerror" and exit with the matching code. */
static void __attribute__((noreturn)) fail_errno(int err, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(err));
	exit(errno_exit(err));
}

static void __attribute__((noreturn)) usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", prog);
	exit(EX_USAGE);
}

static bool module_loaded(void)
{
	return access(MODULE_DIR, F_OK) == 0;
}

static void __attribute__((noreturn)) no_module(void)
{
	msg("the mflow module is not loaded (try: modprobe mflow)");
	exit(EX_NOMODULE);
}

/* ---- numbers and durations ---- */

static bool parse_u32(const char *s, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (!*s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return false;
	*out = v;
	return true;
}

/* A size: bytes, or with a K, M or G suffix (powers of 1024). */
static bool parse_size(const char *s, uint32_t *out)
{
	unsigned long long v, mult = 1;
	char *end;

	if (!*s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return false;
	switch (toupper((unsigned char)*end)) {
	case 'K':
		mult = 1ULL << 10;
		end++;
		break;
	case 'M':
		mult = 1ULL << 20;
		end++;
		break;
	case 'G':
		mult = 1ULL << 30;
		end++;
		break;
	}
	if (*end == 'i' || *end == 'B')
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end || v > UINT32_MAX / mult)
		return false;
	*out = v * mult;
	return true;
}

/* A duration in seconds ("2", "0.5") or with a suffix: ms, s, m. */
static bool parse_duration_ms(const char *s, long long *ms)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return false;
	if (!strcmp(end, "ms"))
		;
	else if (!*end || !strcmp(end, "s"))
		v *= 1000;
	else if (!strcmp(end, "m"))
		v *= 60000;
	else
		return false;
	if (v > (double)LLONG_MAX / 2)
		return false;
	*ms = (long long)(v + 0.5);
	return true;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Milliseconds left until @deadline (-1: none), for poll(). */
static int poll_left(long long deadline)
{
	long long left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* ---- sysfs ---- */

/* Attribute @attr of console @index into @buf, newline dropped; -errno. */
static int read_attr(unsigned int index, const char *attr, char *buf,
		     size_t size)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), CLASS_DIR "/mflow%u/%s", index, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

/* Attribute as a number; -errno (or -EINVAL for garbage). */
static int read_attr_u64(unsigned int index, const char *attr, uint64_t *v)
{
	char buf[64], *end;
	int err;

	err = read_attr(index, attr, buf, sizeof(buf));
	if (err)
		return err;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	if (errno || end == buf || *end)
		return -EINVAL;
	return 0;
}

static bool console_exists(unsigned int index)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), CLASS_DIR "/mflow%u", index);
	return access(path, F_OK) == 0;
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

/* Every console's index, sorted; returns how many, *out malloc'ed. */
static size_t list_indices(unsigned int **out)
{
	size_t n = 0, cap = 16;
	unsigned int *v = malloc(cap * sizeof(*v));
	struct dirent *de;
	DIR *d;

	if (!v) {
		msg("out of memory");
		exit(EX_FAIL);
	}
	d = opendir(CLASS_DIR);
	if (!d) {
		if (errno == ENOENT && !module_loaded())
			no_module();
		fail_errno(errno, "%s", CLASS_DIR);
	}
	while ((de = readdir(d))) {
		uint32_t i;

		if (strncmp(de->d_name, "mflow", 5) ||
		    !parse_u32(de->d_name + 5, &i))
			continue;
		if (n == cap) {
			unsigned int *nv = realloc(v, 2 * cap * sizeof(*v));

			if (!nv) {
				msg("out of memory");
				exit(EX_FAIL);
			}
			v = nv;
			cap *= 2;
		}
		v[n++] = i;
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_uint);
	*out = v;
	return n;
}

/* ---- the control node ---- */

static bool valid_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 1 || n >= MFLOW_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

static void print_version_u32(FILE *f, uint32_t v)
{
	fprintf(f, "%u.%u.%u", v >> 16, (v >> 8) & 0xff, v & 0xff);
}

/*
 * Open /dev/mflow-control and check that the module speaks our ABI.
 * Exits with a message naming the problem when it cannot be used.
 */
static int ctl_open(struct mflow_ctl_version *ver)
{
	struct mflow_ctl_version v = { 0 };
	int fd;

	fd = open(CTL_NODE, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == EACCES)
		fd = open(CTL_NODE, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		if (err == ENOENT || err == ENXIO || err == ENODEV) {
			if (!module_loaded())
				no_module();
			if (access(CTL_SYSFS, F_OK)) {
				msg("the loaded mflow module has no control device (%s): it is older than mflowctl %s; load mflow %s or later",
				    CTL_NODE, MFLOW_VERSION, MFLOW_VERSION);
				exit(EX_MISMATCH);
			}
		}
		if (err == EACCES || err == EPERM) {
			msg("%s: %s (ask to be added to group mflow, or run as root)",
			    CTL_NODE, strerror(err));
			exit(EX_PERM);
		}
		fail_errno(err, "%s", CTL_NODE);
	}
	if (ioctl(fd, MFLOW_CTL_VERSION, &v)) {
		if (errno == ENOTTY) {
			msg("%s does not answer MFLOW_CTL_VERSION: the module is older than mflowctl %s",
			    CTL_NODE, MFLOW_VERSION);
			exit(EX_MISMATCH);
		}
		fail_errno(errno, "%s: MFLOW_CTL_VERSION", CTL_NODE);
	}
	if (v.abi != MFLOW_CTL_ABI) {
		fprintf(stderr, "%s: the mflow module (", prog);
		print_version_u32(stderr, v.version);
		fprintf(stderr, ", ABI %u) is %s than mflowctl %s (ABI %u); install matching versions\n",
			v.abi, v.abi < MFLOW_CTL_ABI ? "older" : "newer",
			MFLOW_VERSION, MFLOW_CTL_ABI);
		exit(EX_MISMATCH);
	}
	if (ver)
		*ver = v;
	return fd;
}

/* ---- naming a console: DEV ---- */

/*
 * struct target - what a DEV argument named
 * @index: the console's index.
 * @fd: with "fd:N", the caller's open endpoint; else -1.
 */
struct target {
	unsigned int index;
	int fd;
};

/* The console whose sysfs name is @name; false if none. */
static bool find_by_name(const char *name, unsigned int *index)
{
	unsigned int *v;
	size_t n, i;
	bool found = false;

	n = list_indices(&v);
	for (i = 0; i < n && !found; i++) {
		char buf[MFLOW_NAME_MAX + 8];

		if (!read_attr(v[i], "name", buf, sizeof(buf)) &&
		    !strcmp(buf, name)) {
			*index = v[i];
			found = true;
		}
	}
	free(v);
	return found;
}

/* The console whose node has device number @rdev; false if none. */
static bool find_by_devt(dev_t rdev, unsigned int *index)
{
	unsigned int *v;
	size_t n, i;
	bool found = false;
	char want[32];

	snprintf(want, sizeof(want), "%u:%u", major(rdev), minor(rdev));
	n = list_indices(&v);
	for (i = 0; i < n && !found; i++) {
		char buf[32];

		if (!read_attr(v[i], "dev", buf, sizeof(buf)) &&
		    !strcmp(buf, want)) {
			*index = v[i];
			found = true;
		}
	}
	free(v);
	return found;
}

/*
 * Resolve DEV: "fd:N" (an endpoint the caller holds open), a path (e.g.
 * /dev/mflow3 or /dev/mflow/by-name/NAME), an index ("3"), a kernel name
 * ("mflow3"), a name ("name:NAME", or NAME when it is not a number).
 * Exits with EX_NOCONSOLE when it names nothing.
 */
static void resolve(const char *dev, struct target *t)
{
	uint32_t u;

	t->fd = -1;
	if (!module_loaded())
		no_module();
	if (!strncmp(dev, "fd:", 3)) {
		struct mflow_info info;

		if (!parse_u32(dev + 3, &u) || u > INT_MAX)
			usage_error("'%s': fd:N wants a descriptor number", dev);
		if (ioctl((int)u, MFLOW_IOC_INFO, &info)) {
			if (errno == ENOTTY || errno == EBADF || errno == EINVAL) {
				msg("%s: descriptor %u is not an open mflow console", dev, u);
				exit(EX_NOCONSOLE);
			}
			fail_errno(errno, "%s: MFLOW_IOC_INFO", dev);
		}
		t->fd = (int)u;
		t->index = info.console;
		return;
	}
	if (strchr(dev, '/')) {
		struct stat st;

		if (stat(dev, &st))
			fail_errno(errno, "%s", dev);
		if (!S_ISCHR(st.st_mode) || !find_by_devt(st.st_rdev, &t->index)) {
			msg("%s: not an mflow console node", dev);
			exit(EX_NOCONSOLE);
		}
		return;
	}
	if (!strncmp(dev, "name:", 5)) {
		if (find_by_name(dev + 5, &t->index))
			return;
		msg("no console is named '%s'", dev + 5);
		exit(EX_NOCONSOLE);
	}
	if (parse_u32(dev, &u) ||
	    (!strncmp(dev, "mflow", 5) && parse_u32(dev + 5, &u))) {
		if (console_exists(u)) {
			t->index = u;
			return;
		}
		if (!parse_u32(dev, &u) && find_by_name(dev, &t->index))
			return;
		msg("no console mflow%u", u);
		exit(EX_NOCONSOLE);
	}
	if (find_by_name(dev, &t->index))
		return;
	msg("no console '%s' (not an index, a node or a name)", dev);
	exit(EX_NOCONSOLE);
}

/* Open the console's node, attaching an endpoint; exits on failure. */
static int open_console(unsigned int index, int flags)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/dev/mflow%u", index);
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EBUSY) {
			msg("%s: busy: both endpoints of its connection are taken", path);
			exit(EX_BUSY);
		}
		fail_errno(errno, "%s", path);
	}
	return fd;
}

/* The endpoint @t names: the caller's fd:N, or a fresh open. */
static int target_fd(const struct target *t)
{
	return t->fd >= 0 ? t->fd : open_console(t->index, O_RDWR);
}

/* ---- JSON ---- */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* ---- one console's sysfs view ---- */

/*
 * struct console_view - what sysfs shows of one console
 * @have_ep: the per-endpoint counters were readable (root).
 */
struct console_view {
	unsigned int index;
	char name[MFLOW_NAME_MAX + 8];
	char state[32];
	uint64_t attached, connection, fifo_size;
	bool have_ep;
	uint64_t ep[2][4];	/* read_bytes, read_ops, write_bytes, write_ops */
};

static const char *const ep_fields[4] = {
	"read_bytes", "read_ops", "write_bytes", "write_ops",
};

/* Read @index's attributes; -errno if the console vanished meanwhile. */
static int view_console(unsigned int index, struct console_view *cv)
{
	int err, e, f;

	memset(cv, 0, sizeof(*cv));
	cv->index = index;
	err = read_attr(index, "state", cv->state, sizeof(cv->state));
	if (err)
		return err;
	/* Modules before the control device have no name attribute. */
	if (read_attr(index, "name", cv->name, sizeof(cv->name)))
		cv->name[0] = '\0';
	read_attr_u64(index, "attached", &cv->attached);
	read_attr_u64(index, "connection", &cv->connection);
	read_attr_u64(index, "fifo_size", &cv->fifo_size);
	cv->have_ep = true;
	for (e = 0; e < 2 && cv->have_ep; e++)
		for (f = 0; f < 4 && cv->have_ep; f++) {
			char attr[32];

			snprintf(attr, sizeof(attr), "ep%d_%s", e, ep_fields[f]);
			if (read_attr_u64(index, attr, &cv->ep[e][f]))
				cv->have_ep = false;
		}
	return 0;
}

static void json_view(const struct console_view *cv)
{
	int e, f;

	printf("{\"index\":%u,\"device\":\"/dev/mflow%u\",\"name\":",
	       cv->index, cv->index);
	if (cv->name[0])
		json_str(cv->name);
	else
		printf("null");
	printf(",\"state\":");
	json_str(cv->state);
	printf(",\"attached\":%llu,\"connection\":%llu,\"fifo_size\":%llu",
	       (unsigned long long)cv->attached,
	       (unsigned long long)cv->connection,
	       (unsigned long long)cv->fifo_size);
	if (!cv->have_ep) {
		printf(",\"bytes_0_to_1\":null,\"bytes_1_to_0\":null,\"endpoints\":null}");
		return;
	}
	printf(",\"bytes_0_to_1\":%llu,\"bytes_1_to_0\":%llu,\"endpoints\":[",
	       (unsigned long long)cv->ep[0][2], (unsigned long long)cv->ep[1][2]);
	for (e = 0; e < 2; e++) {
		printf("%s{", e ? "," : "");
		for (f = 0; f < 4; f++)
			printf("%s\"%s\":%llu", f ? "," : "", ep_fields[f],
			       (unsigned long long)cv->ep[e][f]);
		printf("}");
	}
	printf("]}");
}

/* ---- commands ---- */

struct cmd {
	const char *name;
	int (*run)(int argc, char **argv);
};

/*
 * getopt_long over a command's own options. @argv[0] is the command's
 * name; unknown options are usage errors.
 */
static const struct option no_opts[] = { { NULL, 0, NULL, 0 } };

static int next_opt(int argc, char **argv, const char *shorts,
		    const struct option *longs)
{
	int c = getopt_long(argc, argv, shorts, longs, NULL);

	if (c == '?')
		usage_error("%s: bad option", argv[0]);
	return c;
}

static void want_args(int argc, char **argv, int min, int max)
{
	int n = argc - optind;

	if (n < min)
		usage_error("%s: missing argument", argv[0]);
	if (n > max)
		usage_error("%s: unexpected argument '%s'", argv[0], argv[optind + max]);
}

static void fmt_count(char *buf, size_t size, const struct console_view *cv,
		      int ep)
{
	if (cv->have_ep)
		snprintf(buf, size, "%llu", (unsigned long long)cv->ep[ep][2]);
	else
		snprintf(buf, size, "-");
}

static int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false, first = true;
	unsigned int *v;
	size_t n, i;
	int c;

	while ((c = next_opt(argc, argv, "j", opts)) != -1)
		json = true;
	want_args(argc, argv, 0, 0);
	if (!module_loaded())
		no_module();
	n = list_indices(&v);
	if (json)
		printf("[");
	else
		printf("%-10s %-16s %-10s %8s %10s %10s %14s %14s\n", "CONSOLE",
		       "NAME", "STATE", "ATTACHED", "CONNECTION", "FIFO",
		       "BYTES_0TO1", "BYTES_1TO0");
	for (i = 0; i < n; i++) {
		struct console_view cv;
		char dev[32], b0[24], b1[24];

		if (view_console(v[i], &cv))
			continue;	/* removed while we looked */
		if (json) {
			printf("%s", first ? "" : ",");
			json_view(&cv);
			first = false;
			continue;
		}
		snprintf(dev, sizeof(dev), "mflow%u", cv.index);
		fmt_count(b0, sizeof(b0), &cv, 0);
		fmt_count(b1, sizeof(b1), &cv, 1);
		printf("%-10s %-16s %-10s %8llu %10llu %10llu %14s %14s\n", dev,
		       cv.name[0] ? cv.name : "-", cv.state,
		       (unsigned long long)cv.attached,
		       (unsigned long long)cv.connection,
		       (unsigned long long)cv.fifo_size, b0, b1);
	}
	if (json)
		printf("]\n");
	free(v);
	return EX_OK;
}

static int cmd_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "fifo-size", required_argument, NULL, 's' },
		{ "index", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	struct mflow_ctl_add add = { .index = MFLOW_CTL_ANY };
	int c, fd, ret;

	while ((c = next_opt(argc, argv, "n:s:i:", opts)) != -1) {
		switch (c) {
		case 'n':
			if (!valid_name(optarg))
				usage_error("add: bad name '%s': 1..%d characters of [A-Za-z0-9._-]",
					    optarg, MFLOW_NAME_MAX - 1);
			strcpy(add.name, optarg);
			break;
		case 's':
			if (!parse_size(optarg, &add.fifo_size) || !add.fifo_size)
				usage_error("add: bad fifo size '%s'", optarg);
			break;
		case 'i':
			if (!parse_u32(optarg, &add.index) ||
			    add.index == MFLOW_CTL_ANY)
				usage_error("add: bad index '%s'", optarg);
			break;
		}
	}
	want_args(argc, argv, 0, 0);
	fd = ctl_open(NULL);
	ret = ioctl(fd, MFLOW_CTL_ADD, &add);
	if (ret < 0) {
		int err = errno;

		switch (err) {
		case EEXIST:
			if (add.index != MFLOW_CTL_ANY && console_exists(add.index))
				msg("add: mflow%u exists already", add.index);
			else
				msg("add: the name '%s' is taken", add.name);
			return EX_BUSY;
		case ENOSPC:
			msg("add: the console limit (module parameter max_consoles) is reached");
			return EX_BUSY;
		case EINVAL:
			msg("add: the module refused the index, name or fifo size (%s)",
			    strerror(err));
			return EX_USAGE;
		}
		fail_errno(err, "add: MFLOW_CTL_ADD");
	}
	printf("/dev/mflow%u\n", add.index);
	close(fd);
	return EX_OK;
}

/* The control device's id for a DEV: by index (resolved) or by name. */
static void ctl_id_of(const char *dev, uint32_t *index, char *name)
{
	struct target t;

	resolve(dev, &t);
	*index = t.index;
	name[0] = '\0';
}

static int cmd_del(int argc, char **argv)
{
	struct mflow_ctl_id id = { 0 };
	int fd;

	while (next_opt(argc, argv, "", no_opts) != -1)
		;
	want_args(argc, argv, 1, 1);
	ctl_id_of(argv[optind], &id.index, id.name);
	fd = ctl_open(NULL);
	if (ioctl(fd, MFLOW_CTL_REMOVE, &id)) {
		if (errno == EBUSY) {
			msg("del: mflow%u is in use: its connection is live", id.index);
			return EX_BUSY;
		}
		fail_errno(errno, "del: mflow%u", id.index);
	}
	close(fd);
	return EX_OK;
}

static const char *state_name(uint32_t state)
{
	switch (state) {
	case MFLOW_STATE_IDLE:
		return "idle";
	case MFLOW_STATE_CONNECTED:
		return "connected";
	default:
		return "unknown";
	}
}

static int cmd_query(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct mflow_ctl_query q = { 0 };
	bool json = false;
	int c, fd;

	while ((c = next_opt(argc, argv, "j", opts)) != -1)
		json = true;
	want_args(argc, argv, 1, 1);
	ctl_id_of(argv[optind], &q.index, q.name);
	fd = ctl_open(NULL);
	if (ioctl(fd, MFLOW_CTL_QUERY, &q))
		fail_errno(errno, "query: mflow%u", q.index);
	close(fd);
	q.name[MFLOW_NAME_MAX - 1] = '\0';
	if (json) {
		printf("{\"index\":%u,\"device\":\"/dev/mflow%u\",\"name\":",
		       q.index, q.index);
		if (q.name[0])
			json_str(q.name);
		else
			printf("null");
		printf(",\"fifo_size\":%u,\"state\":\"%s\",\"attached\":[%s%s%s],\"used\":[%s%s%s],\"connection\":%llu}\n",
		       q.fifo_size, state_name(q.state),
		       q.attached & 1 ? "0" : "", (q.attached & 3) == 3 ? "," : "",
		       q.attached & 2 ? "1" : "",
		       q.used & 1 ? "0" : "", (q.used & 3) == 3 ? "," : "",
		       q.used & 2 ? "1" : "",
		       (unsigned long long)q.connection);
		return EX_OK;
	}
	printf("device:     /dev/mflow%u\n", q.index);
	printf("index:      %u\n", q.index);
	printf("name:       %s\n", q.name[0] ? q.name : "-");
	printf("state:      %s\n", state_name(q.state));
	printf("attached:   %s%s%s\n", q.attached & 1 ? "ep0 " : "",
	       q.attached & 2 ? "ep1" : "", q.attached & 3 ? "" : "none");
	printf("used:       %s%s%s\n", q.used & 1 ? "ep0 " : "",
	       q.used & 2 ? "ep1" : "", q.used & 3 ? "" : "none");
	printf("connection: %llu\n", (unsigned long long)q.connection);
	printf("fifo_size:  %u\n", q.fifo_size);
	return EX_OK;
}

static int cmd_free(int argc, char **argv)
{
	int fd, ret;

	while (next_opt(argc, argv, "", no_opts) != -1)
		;
	want_args(argc, argv, 0, 0);
	fd = ctl_open(NULL);
	ret = ioctl(fd, MFLOW_CTL_GET_FREE);
	if (ret < 0) {
		if (errno == ENOSPC) {
			msg("free: no idle console, and the console limit (max_consoles) is reached");
			return EX_BUSY;
		}
		fail_errno(errno, "free: MFLOW_CTL_GET_FREE");
	}
	close(fd);
	printf("/dev/mflow%d\n", ret);
	return EX_OK;
}

static void print_flag(const char *name, bool on, bool *first)
{
	if (!on)
		return;
	printf("%s%s", *first ? "" : " ", name);
	*first = false;
}

/* info fd:N: the endpoint's own view (MFLOW_IOC_INFO, _STATS, queues). */
static int info_endpoint(int fd, bool json)
{
	struct mflow_stats st;
	struct mflow_info in;
	uint32_t outq = 0;
	int inq = 0;
	bool first = true;

	if (ioctl(fd, MFLOW_IOC_INFO, &in) || ioctl(fd, MFLOW_IOC_STATS, &st))
		fail_errno(errno, "info");
	ioctl(fd, FIONREAD, &inq);
	ioctl(fd, MFLOW_IOC_OUTQ, &outq);
	if (json) {
		printf("{\"index\":%u,\"endpoint\":%u,\"connection\":%llu,\"fifo_size\":%u,\"flags\":%u,\"inq\":%d,\"outq\":%u,\"read_bytes\":%llu,\"read_ops\":%llu,\"write_bytes\":%llu,\"write_ops\":%llu,\"age_ns\":%llu}\n",
		       in.console, in.endpoint, (unsigned long long)in.connection,
		       in.fifo_size, in.flags, inq, outq,
		       (unsigned long long)st.read_bytes,
		       (unsigned long long)st.read_ops,
		       (unsigned long long)st.write_bytes,
		       (unsigned long long)st.write_ops,
		       (unsigned long long)st.age_ns);
		return EX_OK;
	}
	printf("device:      /dev/mflow%u\n", in.console);
	printf("endpoint:    %u\n", in.endpoint);
	printf("connection:  %llu\n", (unsigned long long)in.connection);
	printf("fifo_size:   %u\n", in.fifo_size);
	printf("flags:      ");
	print_flag(" rd_shut", in.flags & MFLOW_INFO_RD_SHUT, &first);
	print_flag(" wr_shut", in.flags & MFLOW_INFO_WR_SHUT, &first);
	print_flag(" peer_rd_shut", in.flags & MFLOW_INFO_PEER_RD_SHUT, &first);
	print_flag(" peer_wr_shut", in.flags & MFLOW_INFO_PEER_WR_SHUT, &first);
	print_flag(" peer_attached", in.flags & MFLOW_INFO_PEER_ATTACHED, &first);
	print_flag(" peer_detached", in.flags & MFLOW_INFO_PEER_DETACHED, &first);
	print_flag(" nosigpipe", in.flags & MFLOW_INFO_NOSIGPIPE, &first);
	printf("%s\n", first ? " none" : "");
	printf("inq:         %d\n", inq);
	printf("outq:        %u\n", outq);
	printf("read:        %llu bytes in %llu calls\n",
	       (unsigned long long)st.read_bytes, (unsigned long long)st.read_ops);
	printf("written:     %llu bytes in %llu calls\n",
	       (unsigned long long)st.write_bytes,
	       (unsigned long long)st.write_ops);
	printf("age:         %.3f s\n", st.age_ns / 1e9);
	return EX_OK;
}

/*
 * info DEV: for fd:N the endpoint's own view; for any other DEV the
 * console's sysfs view. It never opens the node: an open would attach one
 * of the connection's two endpoints and could start a connection.
 */
static int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct console_view cv;
	struct target t;
	bool json = false;
	int c, e, f, err;

	while ((c = next_opt(argc, argv, "j", opts)) != -1)
		json = true;
	want_args(argc, argv, 1, 1);
	resolve(argv[optind], &t);
	if (t.fd >= 0)
		return info_endpoint(t.fd, json);
	err = view_console(t.index, &cv);
	if (err)
		fail_errno(-err, "mflow%u", t.index);
	if (json) {
		json_view(&cv);
		printf("\n");
		return EX_OK;
	}
	printf("device:      /dev/mflow%u\n", cv.index);
	printf("name:        %s\n", cv.name[0] ? cv.name : "-");
	printf("state:       %s\n", cv.state);
	printf("attached:    %llu\n", (unsigned long long)cv.attached);
	printf("connection:  %llu\n", (unsigned long long)cv.connection);
	printf("fifo_size:   %llu\n", (unsigned long long)cv.fifo_size);
	for (e = 0; e < 2; e++) {
		printf("ep%d:        ", e);
		if (!cv.have_ep) {
			printf(" - (the counters are readable by root only)\n");
			continue;
		}
		for (f = 0; f < 4; f++)
			printf(" %s=%llu", ep_fields[f],
			       (unsigned long long)cv.ep[e][f]);
		printf("\n");
	}
	return EX_OK;
}

static int cmd_shutdown(int argc, char **argv)
{
	static const struct { const char *word; uint32_t how; } hows[] = {
		{ "read", MFLOW_SHUT_RD }, { "rd", MFLOW_SHUT_RD },
		{ "write", MFLOW_SHUT_WR }, { "wr", MFLOW_SHUT_WR },
		{ "both", MFLOW_SHUT_RDWR }, { "rdwr", MFLOW_SHUT_RDWR },
	};
	struct target t;
	uint32_t how = UINT32_MAX;
	size_t i;
	int fd;

	while (next_opt(argc, argv, "", no_opts) != -1)
		;
	want_args(argc, argv, 2, 2);
	for (i = 0; i < sizeof(hows) / sizeof(hows[0]); i++)
		if (!strcmp(argv[optind + 1], hows[i].word))
			how = hows[i].how;
	if (how == UINT32_MAX)
		usage_error("shutdown: '%s': want read, write or both", argv[optind + 1]);
	resolve(argv[optind], &t);
	fd = target_fd(&t);
	if (ioctl(fd, MFLOW_IOC_SHUTDOWN, &how))
		fail_errno(errno, "shutdown: mflow%u", t.index);
	return EX_OK;
}

static int cmd_close(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct mflow_close_args args = { 0 };
	struct target t;
	long long ms;
	int c, fd;

	while ((c = next_opt(argc, argv, "t:", opts)) != -1) {
		if (!parse_duration_ms(optarg, &ms))
			usage_error("close: bad timeout '%s'", optarg);
		args.flags = MFLOW_CLOSE_TIMEOUT;
		args.timeout_ns = ms * 1000000ULL;
	}
	want_args(argc, argv, 1, 1);
	resolve(argv[optind], &t);
	fd = target_fd(&t);
	if (ioctl(fd, MFLOW_IOC_CLOSE, &args)) {
		if (errno == ETIMEDOUT) {
			msg("close: mflow%u: the peer did not close within the timeout",
			    t.index);
			return EX_TIMEOUT;
		}
		if (errno == EAGAIN) {
			msg("close: mflow%u: the peer has not closed yet (non-blocking descriptor)",
			    t.index);
			return EX_TIMEOUT;
		}
		fail_errno(errno, "close: mflow%u", t.index);
	}
	return EX_OK;
}

/* ---- wait ---- */

enum wait_for { WAIT_PEER, WAIT_CONNECTED, WAIT_IDLE };

/* Read an open sysfs attribute from the start; -errno. */
static int reread(int fd, char *buf, size_t size)
{
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static bool wait_done(enum wait_for what, const char *state,
		      const char *attached)
{
	switch (what) {
	case WAIT_PEER:
		return atoi(attached) >= 2;
	case WAIT_CONNECTED:
		return !strncmp(state, "connected", 9);
	case WAIT_IDLE:
		return !strncmp(state, "idle", 4);
	}
	return false;
}

/*
 * Sleep in poll() on the console's sysfs "state" and "attached", which the
 * module notifies (sysfs_notify) on every change: read, check, poll for
 * POLLPRI|POLLERR, seek to 0 and read again. Reading re-arms the
 * notification before the value is produced, so no change is missed.
 */
static int cmd_wait(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "peer", no_argument, NULL, 'p' },
		{ "connected", no_argument, NULL, 'c' },
		{ "idle", no_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	enum wait_for what = WAIT_PEER;
	long long deadline = -1, ms;
	struct pollfd pfd[2];
	char path[PATH_MAX], state[32], attached[32];
	struct target t;
	int c, i, err;

	while ((c = next_opt(argc, argv, "pcit:", opts)) != -1) {
		switch (c) {
		case 'p':
			what = WAIT_PEER;
			break;
		case 'c':
			what = WAIT_CONNECTED;
			break;
		case 'i':
			what = WAIT_IDLE;
			break;
		case 't':
			if (!parse_duration_ms(optarg, &ms))
				usage_error("wait: bad timeout '%s'", optarg);
			deadline = now_ms() + ms;
			break;
		}
	}
	want_args(argc, argv, 1, 1);
	resolve(argv[optind], &t);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), CLASS_DIR "/mflow%u/%s", t.index,
			 i ? "attached" : "state");
		pfd[i].fd = open(path, O_RDONLY | O_CLOEXEC);
		if (pfd[i].fd < 0)
			fail_errno(errno, "%s", path);
		pfd[i].events = POLLPRI | POLLERR;
	}
	for (;;) {
		int left;

		err = reread(pfd[0].fd, state, sizeof(state));
		if (!err)
			err = reread(pfd[1].fd, attached, sizeof(attached));
		if (err) {
			msg("wait: mflow%u went away: %s", t.index, strerror(-err));
			return EX_NOCONSOLE;
		}
		if (wait_done(what, state, attached))
			return EX_OK;
		left = poll_left(deadline);
		if (!left) {
			msg("wait: mflow%u: timed out", t.index);
			return EX_TIMEOUT;
		}
		/*
		 * A removed console's attributes do not notify: look again
		 * every 30 s to notice that, whatever the deadline.
		 */
		if (left < 0 || left > 30000)
			left = 30000;
		if (poll(pfd, 2, left) < 0 && errno != EINTR)
			fail_errno(errno, "wait: poll");
	}
}

/* ---- connect ---- */

#define BRIDGE_BUF	65536

/* Write all of @buf to a blocking @fd; false on error (errno set). */
static bool write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		buf += n;
		len -= n;
	}
	return true;
}

/*
 * connect DEV: stdin goes to the console, the console to stdout. When
 * stdin ends the write side is shut (the peer reads EOF after draining);
 * the bridge exits once the console has reached EOF and nothing more can
 * be sent (stdin ended, or the peer can no longer read).
 */
static int cmd_connect(int argc, char **argv)
{
	static char inbuf[BRIDGE_BUF], outbuf[BRIDGE_BUF];
	size_t pend = 0, off = 0;
	bool in_open = true, con_eof = false, wr_dead = false;
	uint32_t opt = MFLOW_OPT_NOSIGPIPE, how = MFLOW_SHUT_WR;
	struct target t;
	int fd;

	while (next_opt(argc, argv, "", no_opts) != -1)
		;
	want_args(argc, argv, 1, 1);
	resolve(argv[optind], &t);
	fd = target_fd(&t);
	signal(SIGPIPE, SIG_IGN);
	if (ioctl(fd, MFLOW_IOC_SET_OPTS, &opt))
		fail_errno(errno, "connect: MFLOW_IOC_SET_OPTS");
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
		fail_errno(errno, "connect: O_NONBLOCK");

	while (!con_eof || (!wr_dead && (in_open || pend))) {
		struct pollfd p[2] = {
			{ .fd = fd, .events = 0 },
			{ .fd = STDIN_FILENO, .events = POLLIN },
		};
		int np = 1;
		ssize_t n;

		if (!con_eof)
			p[0].events |= POLLIN;
		if (pend)
			p[0].events |= POLLOUT;
		if (in_open && !pend && !wr_dead)
			np = 2;
		if (poll(p, np, -1) < 0) {
			if (errno == EINTR)
				continue;
			fail_errno(errno, "connect: poll");
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR) && !con_eof) {
			n = read(fd, outbuf, sizeof(outbuf));
			if (n > 0) {
				if (!write_all(STDOUT_FILENO, outbuf, n)) {
					/* Nobody reads our output: stop reading. */
					how = MFLOW_SHUT_RD;
					ioctl(fd, MFLOW_IOC_SHUTDOWN, &how);
					con_eof = true;
				}
			} else if (n == 0) {
				con_eof = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				fail_errno(errno, "connect: read mflow%u", t.index);
			}
		}
		if (pend && p[0].revents & (POLLOUT | POLLERR)) {
			n = write(fd, inbuf + off, pend);
			if (n > 0) {
				off += n;
				pend -= n;
			} else if (n < 0 && errno == EPIPE) {
				wr_dead = true;
				pend = 0;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				fail_errno(errno, "connect: write mflow%u", t.index);
			}
		}
		if (np == 2 && p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(STDIN_FILENO, inbuf, sizeof(inbuf));
			if (n > 0) {
				pend = n;
				off = 0;
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				in_open = false;
			}
		}
		if (!in_open && !pend && !wr_dead) {
			how = MFLOW_SHUT_WR;
			if (ioctl(fd, MFLOW_IOC_SHUTDOWN, &how))
				fail_errno(errno, "connect: shutdown mflow%u", t.index);
			wr_dead = true;
		}
		/* At EOF with nothing left to send, or a peer gone for good. */
		if (con_eof && p[0].revents & POLLERR)
			wr_dead = true;
	}
	return EX_OK;
}

/* ---- trace ---- */

static volatile sig_atomic_t stop_tracing;

static void on_signal(int sig)
{
	(void)sig;
	stop_tracing = 1;
}

/* The tracefs mount point, mounting it if we may and need to. */
static const char *tracefs(void)
{
	static const char *const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/instances", dirs[i]);
		if (!access(path, F_OK))
			return dirs[i];
	}
	if (!mount("nodev", dirs[0], "tracefs", 0, NULL))
		return dirs[0];
	if (errno == EPERM || errno == EACCES) {
		msg("trace: tracefs is not mounted and mounting it needs root");
		exit(EX_PERM);
	}
	msg("trace: this kernel has no tracefs (%s: %s)", dirs[0], strerror(errno));
	exit(EX_UNSUPPORTED);
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

static char trace_inst[PATH_MAX];
static int trace_fd = -1;

/* Remove our instance; tracefs refuses while its trace_pipe is open. */
static void trace_cleanup(void)
{
	if (trace_fd >= 0)
		close(trace_fd);
	trace_fd = -1;
	if (trace_inst[0])
		rmdir(trace_inst);
	trace_inst[0] = '\0';
}

/* Value of " key=" in @line into @val; false if absent. */
static bool field(const char *line, const char *key, char *val, size_t size)
{
	size_t klen = strlen(key), n;
	const char *p = line;

	while ((p = strstr(p, key))) {
		if ((p == line || p[-1] == ' ') && p[klen] == '=') {
			p += klen + 1;
			n = strcspn(p, " \n");
			if (n >= size)
				n = size - 1;
			memcpy(val, p, n);
			val[n] = '\0';
			return true;
		}
		p += klen;
	}
	return false;
}

/*
 * One trace_pipe line, e.g.
 *   "  cat-123  [001] .....  12.345678: mflow_write: console=0 ep=1 ret=5
 *    data=68656c6c6f"
 * printed as "12.345678 mflow0 ep1 write 5 bytes [68 65 6c 6c 6f] cat-123".
 */
static void print_event(const char *line, int hex)
{
	const char *ev = strstr(line, ": mflow_"), *p;
	char ts[32] = "", task[64] = "", op[24], con[16], ep[16], val[96];
	size_t n;

	if (!ev)
		return;
	/* The time stamp is the word before ": mflow_". */
	p = ev;
	while (p > line && p[-1] != ' ')
		p--;
	n = ev - p < (long)sizeof(ts) - 1 ? (size_t)(ev - p) : sizeof(ts) - 1;
	memcpy(ts, p, n);
	ts[n] = '\0';
	/* The task ("comm-pid") is the first word. */
	p = line + strspn(line, " ");
	n = strcspn(p, " ");
	if (n >= sizeof(task))
		n = sizeof(task) - 1;
	memcpy(task, p, n);
	task[n] = '\0';
	ev += strlen(": mflow_");
	n = strcspn(ev, ":");
	if (n >= sizeof(op))
		n = sizeof(op) - 1;
	memcpy(op, ev, n);
	op[n] = '\0';
	if (!field(ev, "console", con, sizeof(con)) ||
	    !field(ev, "ep", ep, sizeof(ep)))
		return;
	printf("%s mflow%s ep%s %-8s", ts, con, ep, op);
	if (field(ev, "ret", val, sizeof(val))) {
		if (val[0] == '-')
			printf(" error %s", val);
		else if (!strcmp(val, "0") && !strcmp(op, "read"))
			printf(" eof");
		else
			printf(" %s bytes", val);
	}
	if (field(ev, "how", val, sizeof(val)))
		printf(" %s", val);
	if (field(ev, "timeout_ms", val, sizeof(val)))
		printf(" timeout %s", strcmp(val, "-1") ? val : "none");
	if (field(ev, "conn", val, sizeof(val)))
		printf(" connection %s", val);
	if (hex > 0 && field(ev, "data", val, sizeof(val)) && val[0]) {
		int i, len = strlen(val) / 2;

		printf(" [");
		for (i = 0; i < len && i < hex; i++)
			printf("%s%.2s", i ? " " : "", val + 2 * i);
		printf("]");
	}
	printf(" %s\n", task);
	fflush(stdout);
}

static int cmd_trace(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hex", required_argument, NULL, 'x' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	char path[PATH_MAX + 64], buf[8192], filter[64];
	long long deadline = -1, ms;
	uint32_t hex = 0, count = 0, seen = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	const char *root;
	size_t have = 0;
	struct target t = { .fd = -1 };
	bool one = false;
	int c, fd, err;

	while ((c = next_opt(argc, argv, "x:c:t:", opts)) != -1) {
		switch (c) {
		case 'x':
			if (!parse_u32(optarg, &hex))
				usage_error("trace: bad --hex '%s'", optarg);
			break;
		case 'c':
			if (!parse_u32(optarg, &count))
				usage_error("trace: bad --count '%s'", optarg);
			break;
		case 't':
			if (!parse_duration_ms(optarg, &ms))
				usage_error("trace: bad timeout '%s'", optarg);
			deadline = now_ms() + ms;
			break;
		}
	}
	want_args(argc, argv, 0, 1);
	if (!module_loaded())
		no_module();
	if (optind < argc) {
		resolve(argv[optind], &t);
		one = true;
	}
	root = tracefs();
	snprintf(path, sizeof(path), "%s/events/mflow", root);
	if (access(path, F_OK)) {
		msg("trace: no mflow trace events in %s/events: this kernel or module was built without tracepoints",
		    root);
		return EX_UNSUPPORTED;
	}
	/* A private instance: the global trace buffer stays as it was. */
	snprintf(trace_inst, sizeof(trace_inst), "%s/instances/mflowctl-%d",
		 root, (int)getpid());
	if (mkdir(trace_inst, 0700)) {
		err = errno;
		trace_inst[0] = '\0';
		fail_errno(err, "trace: cannot create a tracefs instance");
	}
	atexit(trace_cleanup);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (one) {
		snprintf(path, sizeof(path), "%s/events/mflow/filter", trace_inst);
		snprintf(filter, sizeof(filter), "console == %u", t.index);
		err = write_file(path, filter);
		if (err)
			fail_errno(-err, "trace: %s", path);
	}
	snprintf(path, sizeof(path), "%s/events/mflow/enable", trace_inst);
	err = write_file(path, "1");
	if (err)
		fail_errno(-err, "trace: %s", path);
	snprintf(path, sizeof(path), "%s/trace_pipe", trace_inst);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		fail_errno(errno, "trace: %s", path);
	trace_fd = fd;
	/* Tell a script that we are ready: events from now on are seen. */
	fprintf(stderr, "%s: tracing mflow%s%s; ^C to stop\n", prog,
		one ? " console " : " events", one ? argv[optind] : "");

	while (!stop_tracing && (!count || seen < count)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = poll_left(deadline);
		char *nl, *line;
		ssize_t n;

		if (!left)
			break;
		if (poll(&p, 1, left) < 0) {
			if (errno == EINTR)
				continue;
			fail_errno(errno, "trace: poll");
		}
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			fail_errno(errno, "trace: read");
		}
		have += n;
		buf[have] = '\0';
		line = buf;
		while ((nl = strchr(line, '\n')) && (!count || seen < count)) {
			*nl = '\0';
			if (strstr(line, ": mflow_")) {
				print_event(line, hex);
				seen++;
			}
			line = nl + 1;
		}
		have -= line - buf;
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1)
			have = 0;	/* a line too long for us: drop it */
	}
	trace_cleanup();
	if (deadline >= 0 && count && seen < count) {
		msg("trace: timed out after %u of %u events", seen, count);
		return EX_TIMEOUT;
	}
	return EX_OK;
}

/* ---- version, help ---- */

static int print_version(void)
{
	struct mflow_ctl_version v = { 0 };
	int fd;

	printf("mflowctl %s (ABI %u)\n", MFLOW_VERSION, MFLOW_CTL_ABI);
	if (!module_loaded()) {
		printf("module: not loaded\n");
		return EX_OK;
	}
	fd = open(CTL_NODE, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && access(CTL_SYSFS, F_OK)) {
		printf("module: loaded, without a control device (older than mflowctl)\n");
		return EX_MISMATCH;
	}
	if (fd < 0) {
		printf("module: loaded (%s: %s)\n", CTL_NODE, strerror(errno));
		return errno_exit(errno);
	}
	if (ioctl(fd, MFLOW_CTL_VERSION, &v)) {
		printf("module: loaded, MFLOW_CTL_VERSION failed: %s\n",
		       strerror(errno));
		close(fd);
		return EX_MISMATCH;
	}
	close(fd);
	printf("module: ");
	print_version_u32(stdout, v.version);
	printf(" (ABI %u), %u of at most %u consoles\n", v.abi, v.consoles,
	       v.max_consoles);
	if (v.abi != MFLOW_CTL_ABI) {
		msg("the module's ABI %u is %s than mflowctl's %u; install matching versions",
		    v.abi, v.abi < MFLOW_CTL_ABI ? "older" : "newer", MFLOW_CTL_ABI);
		return EX_MISMATCH;
	}
	return EX_OK;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: %s [--help | --version]\n"
"       %s COMMAND [OPTIONS] [ARGS]\n"
"\n"
"List, create, remove, watch and drive mflow consoles (/dev/mflowN).\n"
"\n"
"Consoles (DEV is a node path such as /dev/mflow3 or /dev/mflow/by-name/NAME,\n"
"an index (3), a kernel name (mflow3), a console name (NAME or name:NAME), or\n"
"fd:N, an endpoint this process inherited open on descriptor N):\n"
"  list [--json]            every console: index, name, state, endpoints\n"
"                           attached, connection, fifo size and the bytes\n"
"                           sent each way (root only; '-' otherwise)\n"
"  info [--json] DEV        one console as sysfs shows it, without opening it;\n"
"                           with fd:N, that endpoint's own view (flags,\n"
"                           queues, MFLOW_IOC_STATS counters)\n"
"  wait [--peer|--connected|--idle] [--timeout T] DEV\n"
"                           sleep until both endpoints are attached (--peer,\n"
"                           the default), until any is (--connected), or until\n"
"                           the connection is over (--idle); polls sysfs and\n"
"                           never opens the console\n"
"  connect DEV              bridge stdin and stdout to a new endpoint of DEV;\n"
"                           at the end of stdin the write side is shut; exits\n"
"                           once DEV reached EOF and nothing more can be sent\n"
"  shutdown DEV read|write|both\n"
"                           MFLOW_IOC_SHUTDOWN on the endpoint (use fd:N: a\n"
"                           path, index or name attaches a new endpoint)\n"
"  close [--timeout T] DEV  MFLOW_IOC_CLOSE, the close handshake: shut the\n"
"                           write side, wait for the peer's close (fd:N, as\n"
"                           for shutdown)\n"
"  trace [--hex N] [--count N] [--timeout T] [DEV]\n"
"                           follow the mflow tracepoints (all consoles, or\n"
"                           DEV's), one line per event: time, console,\n"
"                           endpoint, operation, bytes, task; --hex N shows up\n"
"                           to N (at most 16) first bytes of data. Root.\n"
"\n"
"Control device (/dev/mflow-control; root, or group mflow with the shipped\n"
"udev rule):\n"
"  add [--name NAME] [--fifo-size SIZE] [--index N]\n"
"                           create a console; prints its node. NAME is 1..31\n"
"                           characters of [A-Za-z0-9._-]; SIZE takes K, M, G\n"
"  del DEV                  remove an idle console\n"
"  query [--json] DEV       MFLOW_CTL_QUERY: name, state, endpoints attached\n"
"                           and used, connection, fifo size\n"
"  free                     an idle console (created if none is); prints it\n"
"\n"
"Options:\n"
"  -h, --help               this text\n"
"  -V, --version            mflowctl's version and the loaded module's\n"
"\n"
"T is seconds (1.5) or has a suffix: ms, s, m.\n"
"\n"
"Exit status:\n"
"  0  success\n"
"  1  any other failure\n"
"  2  bad command line, or a value the module refused (EINVAL)\n"
"  3  the mflow module is not loaded\n"
"  4  the module is older than mflowctl (no control device) or speaks\n"
"     another ABI\n"
"  5  no such console\n"
"  6  busy: the console's connection is live, both endpoints are taken, the\n"
"     index or name is taken, or the console limit is reached\n"
"  7  permission denied\n"
"  8  timed out (wait, close, trace --count with --timeout)\n"
"  9  not supported here: no tracefs, or no mflow trace events\n"
"\n"
"See mflowctl(1).\n", prog, prog);
}

static const struct cmd cmds[] = {
	{ "list", cmd_list },
	{ "add", cmd_add },
	{ "del", cmd_del },
	{ "query", cmd_query },
	{ "free", cmd_free },
	{ "info", cmd_info },
	{ "shutdown", cmd_shutdown },
	{ "close", cmd_close },
	{ "wait", cmd_wait },
	{ "connect", cmd_connect },
	{ "trace", cmd_trace },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	size_t i;
	int c;

	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			return print_version();
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if (!strcmp(argv[optind], "help")) {
		usage(stdout);
		return EX_OK;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[optind], cmds[i].name))
			continue;
		argc -= optind;
		argv += optind;
		optind = 1;
		return cmds[i].run(argc, argv);
	}
	usage_error("unknown command '%s'", argv[optind]);
}
