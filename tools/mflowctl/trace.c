// SPDX-License-Identifier: GPL-2.0
/*
 * mflowctl trace: follow mflow's tracepoints (R19) through a private
 * tracefs instance, one line (or one JSON object) per event.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mflowctl.h"

static volatile sig_atomic_t stop_tracing;

static void on_signal(int sig)
{
	(void)sig;
	stop_tracing = 1;
}

/*
 * The tracefs mount point, mounting it if we may and need to. A tracefs
 * that is mounted but not ours to read (mode 0700) is a permission
 * problem, not a missing tracefs.
 */
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
		if (errno == EACCES) {
			msg("trace: tracefs at %s is readable by root only (%s): run as root",
			    dirs[i], strerror(errno));
			finish(EX_PERM);
		}
	}
	if (!mount("nodev", dirs[0], "tracefs", 0, NULL))
		return dirs[0];
	if (errno == EPERM || errno == EACCES) {
		msg("trace: tracefs is not mounted and mounting it needs root");
		finish(EX_PERM);
	}
	msg("trace: this kernel has no tracefs (%s: %s)", dirs[0], strerror(errno));
	finish(EX_UNSUPPORTED);
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

/* A number field as JSON, or null. */
static void json_num_field(const char *ev, const char *key, const char *as)
{
	char val[32];
	char *end;

	printf(",\"%s\":", as);
	if (field(ev, key, val, sizeof(val)) && val[0]) {
		strtoll(val, &end, 10);
		if (!*end) {
			printf("%s", val);
			return;
		}
	}
	printf("null");
}

/* One event as a JSON object on a line of its own. */
static bool json_event(const char *ts, const char *con, const char *ep,
		       const char *op, const char *ev, int hex,
		       const char *task)
{
	char val[96];

	json_begin();
	printf(",\"time\":");
	json_str(ts);
	printf(",\"console\":%s,\"endpoint\":%s,\"event\":", con, ep);
	json_str(op);
	json_num_field(ev, "ret", "ret");
	printf(",\"how\":");
	json_name(field(ev, "how", val, sizeof(val)) ? val : NULL);
	json_num_field(ev, "timeout_ms", "timeout_ms");
	json_num_field(ev, "conn", "connection");
	printf(",\"data\":");
	if (hex > 0 && field(ev, "data", val, sizeof(val)) && val[0]) {
		if (strlen(val) > 2 * (size_t)hex)
			val[2 * hex] = '\0';
		json_str(val);
	} else {
		printf("null");
	}
	printf(",\"task\":");
	json_str(task);
	printf("}\n");
	return fflush(stdout) == 0;
}

/*
 * One trace_pipe line, e.g.
 *   "  cat-123  [001] .....  12.345678: mflow_write: console=0 ep=1 ret=5
 *    data=68656c6c6f"
 * printed as "12.345678 mflow0 ep1 write 5 bytes [68 65 6c 6c 6f] cat-123",
 * or as a JSON object. False once standard output fails.
 */
static bool print_event(const char *line, int hex, bool json)
{
	const char *ev = strstr(line, ": mflow_"), *p;
	char ts[32] = "", task[64] = "", op[24], con[16], ep[16], val[96];
	size_t n;

	if (!ev)
		return true;
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
		return true;
	if (json)
		return json_event(ts, con, ep, op, ev, hex, task);
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
	return fflush(stdout) == 0;
}

int cmd_trace(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hex", required_argument, NULL, 'x' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	char path[PATH_MAX + 64], buf[8192], filter[64];
	long long deadline = -1;
	uint32_t hex = 0, count = 0, seen = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	const char *root;
	size_t have = 0;
	struct target t = { .fd = -1 };
	bool one = false, json = false, out_ok = true;
	int c, fd, err;

	while ((c = next_opt(argc, argv, "x:c:t:j", opts)) != -1) {
		switch (c) {
		case 'x':
			hex = arg_u32("trace: --hex", optarg, 0, 16);
			break;
		case 'c':
			count = arg_u32("trace: --count", optarg, 1, UINT32_MAX);
			break;
		case 't':
			deadline = deadline_after(arg_duration_ns("trace: --timeout",
								  optarg));
			break;
		case 'j':
			json = true;
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

	while (out_ok && !stop_tracing && (!count || seen < count)) {
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
		while (out_ok && (nl = strchr(line, '\n')) &&
		       (!count || seen < count)) {
			*nl = '\0';
			if (strstr(line, ": mflow_")) {
				out_ok = print_event(line, (int)hex, json);
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

