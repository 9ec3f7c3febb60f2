// SPDX-License-Identifier: GPL-2.0
/*
 * mflowctl: messages and exit codes, options, strict numbers and times,
 * and DEV: which console an argument names.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "mflowctl.h"

const char *prog = "mflowctl";
const struct cmd *cur_cmd;

void msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The exit code for a failed call's errno. */
int errno_exit(int err)
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
	case EPROTO:
		return EX_MISMATCH;
	default:
		return EX_FAIL;
	}
}

/*
 * Leave with @rc once standard output is known to be written: a full
 * disk or a closed pipe turns success into EX_FAIL, with a message.
 */
void finish(int rc)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		int err = errno;

		msg("write error on standard output: %s", strerror(err));
		if (!rc)
			rc = EX_FAIL;
	}
	exit(rc);
}

/* The hint that goes with a permission error on one of our nodes. */
void perm_hint(const char *path, int err)
{
	msg("%s: %s (ask to be added to group mflow, or run as root)", path,
	    strerror(err));
}

/* Report "WHAT: strerror" and exit with the matching code. */
void fail_errno(int err, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(err));
	finish(errno_exit(err));
}

/* One line saying what is wrong, one with where to look. */
void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cur_cmd)
		fprintf(stderr, "\nTry '%s %s --help'.\n", prog, cur_cmd->name);
	else
		fprintf(stderr, "\nTry '%s --help'.\n", prog);
	finish(EX_USAGE);
}

bool module_loaded(void)
{
	return access(MODULE_DIR, F_OK) == 0;
}

void no_module(void)
{
	msg("the mflow module is not loaded (try: modprobe mflow)");
	finish(EX_NOMODULE);
}

/* A control-node call failed before the kernel could answer it. */
void ctl_fail(int err, const char *what)
{
	switch (err) {
	case ENOENT:
	case ENXIO:
	case ENODEV:
		if (!module_loaded())
			no_module();
		if (access(CTL_SYSFS, F_OK)) {
			msg("the loaded mflow module has no control device (%s): it is older than mflowctl %s; load mflow %s or later",
			    CTL_NODE, MFLOW_VERSION, MFLOW_VERSION);
			finish(EX_MISMATCH);
		}
		break;
	case EACCES:
	case EPERM:
		perm_hint(CTL_NODE, err);
		finish(EX_PERM);
	case EPROTO:
		msg("%s speaks another control ABI than mflowctl %s (ABI %u); install matching versions (see mflowctl --version)",
		    CTL_NODE, MFLOW_VERSION, MFLOW_CTL_ABI);
		finish(EX_MISMATCH);
	}
	fail_errno(err, "%s", what);
}

/* ---- options ---- */

/*
 * getopt_long over a command's own options, @argv[0] its name. -h and
 * --help print the command's help; a bad option is one line and a hint.
 */
int next_opt(int argc, char **argv, const char *shorts,
	     const struct option *longs)
{
	static struct option all[16];
	char sh[32];
	int n = 0, c;

	while (longs && longs[n].name && n < 14) {
		all[n] = longs[n];
		n++;
	}
	all[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	all[n] = (struct option){ NULL, 0, NULL, 0 };
	snprintf(sh, sizeof(sh), ":h%s", shorts);
	opterr = 0;
	c = getopt_long(argc, argv, sh, all, NULL);
	switch (c) {
	case 'h':
		printf("Usage: %s %s\n\n%s", prog, cur_cmd->synopsis,
		       cur_cmd->help);
		if (cur_cmd->alias)
			printf("\n'%s' is another name for '%s'.\n",
			       cur_cmd->alias, cur_cmd->name);
		printf("\nSee mflowctl(1).\n");
		finish(EX_OK);
	case '?':
		if (optopt)
			usage_error("%s: unknown option '-%c'", argv[0], optopt);
		usage_error("%s: unknown option '%s'", argv[0], argv[optind - 1]);
	case ':':
		usage_error("%s: option '%s' needs a value", argv[0],
			    argv[optind - 1]);
	}
	return c;
}

void want_args(int argc, char **argv, int min, int max)
{
	int n = argc - optind;

	if (n < min)
		usage_error("%s: missing argument (usage: %s %s)", argv[0],
			    prog, cur_cmd->synopsis);
	if (n > max)
		usage_error("%s: unexpected argument '%s'", argv[0],
			    argv[optind + max]);
}

/* ---- numbers and times ---- */

/* Decimal digits only: no sign, space, base prefix or exponent. */
static bool parse_u64(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	*end = s;
	return true;
}

/* @s as a number in min..max; anything else is a usage error. */
uint32_t arg_u32(const char *what, const char *s, uint32_t min, uint32_t max)
{
	const char *end;
	uint64_t v;

	if (!parse_u64(s, &v, &end) || *end)
		usage_error("%s: '%s' is not a number (want %u..%u)", what, s,
			    min, max);
	if (v < min || v > max)
		usage_error("%s: %s is out of range (want %u..%u)", what, s, min,
			    max);
	return (uint32_t)v;
}

/* A size: bytes, or with K, M or G (powers of 1024, "KiB" and "KB" too). */
uint32_t arg_size(const char *what, const char *s, uint32_t min, uint32_t max)
{
	uint64_t v, mult = 1;
	const char *end;

	if (!parse_u64(s, &v, &end))
		goto bad;
	switch (*end) {
	case 'k': case 'K':
		mult = 1ULL << 10;
		end++;
		break;
	case 'm': case 'M':
		mult = 1ULL << 20;
		end++;
		break;
	case 'g': case 'G':
		mult = 1ULL << 30;
		end++;
		break;
	}
	if (mult > 1 && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	else if (mult == 1 && !strcmp(end, "B"))
		end++;
	if (*end)
		goto bad;
	if (v > max / mult || v * mult < min)
		usage_error("%s: %s is out of range (want %u..%u bytes, %uK..%uM)",
			    what, s, min, max, min >> 10, max >> 20);
	return (uint32_t)(v * mult);
bad:
	usage_error("%s: '%s' is not a size (bytes, or a number with K, M or G)",
		    what, s);
}

/* The longest time mflowctl waits for: 10^9 s (about 31 years). */
#define MAX_SECONDS	1000000000ULL

/*
 * A time: seconds ("2", "0.5") or a number with ms, s or m, in
 * nanoseconds. "nan", "inf", signs and exponents are refused.
 */
int64_t arg_duration_ns(const char *what, const char *s)
{
	uint64_t ip, frac = 0, unit, scale = 1;
	const char *p, *end;
	int digits = 0;

	if (!parse_u64(s, &ip, &end))
		goto bad;
	p = end;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (digits == 9)
				continue;	/* below a nanosecond */
			frac = frac * 10 + (uint64_t)(*p - '0');
			scale *= 10;
			digits++;
		}
		if (p == end + 1)
			goto bad;
	}
	if (!strcmp(p, "ms"))
		unit = 1000000ULL;
	else if (!*p || !strcmp(p, "s"))
		unit = 1000000000ULL;
	else if (!strcmp(p, "m"))
		unit = 60000000000ULL;
	else
		goto bad;
	if (ip > MAX_SECONDS * 1000000000ULL / unit)
		usage_error("%s: %s is too long (at most %llu s)", what, s,
			    (unsigned long long)MAX_SECONDS);
	return (int64_t)(ip * unit + frac * unit / scale);
bad:
	usage_error("%s: '%s' is not a time (seconds such as 1.5, or a number with ms, s or m)",
		    what, s);
}

long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The deadline in now_ms() terms, @ns from now (rounded up). */
long long deadline_after(int64_t ns)
{
	return now_ms() + (ns + 999999) / 1000000;
}

/* Milliseconds left until @deadline (-1: none), for poll(). */
int poll_left(long long deadline)
{
	long long left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* ---- DEV ---- */

/* DEV without a "name:" prefix. */
const char *name_arg(const char *dev)
{
	return strncmp(dev, "name:", 5) ? dev : dev + 5;
}

/*
 * Resolve DEV: "fd:N" (an endpoint the caller holds open), a path (e.g.
 * /dev/mflow3 or /dev/mflow/by-name/NAME), an index ("3"), a kernel name
 * ("mflow3"), or a console name (NAME or name:NAME). Empty is an error,
 * never "the first console". Exits when DEV names nothing.
 */
void resolve(const char *dev, struct target *t)
{
	const char *name = name_arg(dev);
	int err;

	t->fd = -1;
	t->arg = dev;
	if (!*dev || !*name)
		usage_error("%s: DEV is empty: give an index, mflowN, a name, a path or fd:N",
			    cur_cmd->name);
	if (!module_loaded())
		no_module();
	if (!strncmp(dev, "fd:", 3)) {
		struct mflow_info info;
		uint32_t u = arg_u32("fd:N", dev + 3, 0, INT_MAX);

		err = mflow_info((int)u, &info);
		if (err == -ENOTTY || err == -EBADF || err == -EINVAL) {
			msg("%s: descriptor %u is not an open mflow console", dev, u);
			finish(EX_NOCONSOLE);
		}
		if (err)
			fail_errno(-err, "%s: MFLOW_IOC_INFO", dev);
		t->fd = (int)u;
		t->index = info.console;
		return;
	}
	if (name != dev && mflow_name_check(name))
		usage_error("%s: '%s' is not a console name (SPEC R17: 1..31 of [A-Za-z0-9._-], first a letter, digit or _, not all digits, not mflowN)",
			    cur_cmd->name, name);
	err = mflow_resolve(name, &t->index);
	if (!err)
		return;
	switch (-err) {
	case EINVAL:
		usage_error("%s: '%s' is not a console: an index, mflowN, a path, fd:N, or a name (SPEC R17: 1..31 of [A-Za-z0-9._-], first a letter, digit or _, not all digits, not mflowN)",
			    cur_cmd->name, name);
	case ENODEV:
		if (strchr(name, '/'))
			msg("%s: not an mflow console node", name);
		else if (!mflow_name_check(name))
			msg("no console is named '%s'", name);
		else
			msg("no console mflow%s", name + (*name == 'm' ? 5 : 0));
		finish(EX_NOCONSOLE);
	case EACCES:
	case EPERM:
		perm_hint(name, -err);
		finish(EX_PERM);
	}
	fail_errno(-err, "%s", name);
}

/* Open console @index's node, attaching an endpoint; exits on failure. */
int open_console(uint32_t index, int flags)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/dev/mflow%u", index);
	fd = mflow_open(path, flags);
	if (fd == -EBUSY) {
		msg("%s: busy: both endpoints of its connection are taken", path);
		finish(EX_BUSY);
	}
	if (fd == -EACCES || fd == -EPERM) {
		perm_hint(path, -fd);
		finish(EX_PERM);
	}
	if (fd < 0)
		fail_errno(-fd, "%s", path);
	return fd;
}
