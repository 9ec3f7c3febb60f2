// SPDX-License-Identifier: GPL-2.0
/*
 * mflowctl: the commands about consoles as a whole.
 *   list, info, wait    sysfs only: any user, no console is opened
 *                       (info fd:N asks the caller's own endpoint)
 *   add, del, query,    the control node through libmflow (its group
 *   free                decides who may)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mflowctl.h"

/* ---- sysfs ---- */

/* Attribute @attr of console @index into @buf, newline dropped; -errno. */
static int read_attr(uint32_t index, const char *attr, char *buf, size_t size)
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
static int read_attr_u64(uint32_t index, const char *attr, uint64_t *v)
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

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Every console's index, sorted; returns how many, *out malloc'ed. */
static size_t list_indices(uint32_t **out)
{
	size_t n = 0, cap = 16;
	uint32_t *v = malloc(cap * sizeof(*v));
	struct dirent *de;
	DIR *d;

	if (!v)
		fail_errno(ENOMEM, "list");
	d = opendir(CLASS_DIR);
	if (!d) {
		if (errno == ENOENT && !module_loaded())
			no_module();
		fail_errno(errno, "%s", CLASS_DIR);
	}
	while ((de = readdir(d))) {
		char *end;
		unsigned long i;

		if (strncmp(de->d_name, "mflow", 5) || de->d_name[5] < '0' ||
		    de->d_name[5] > '9')
			continue;
		i = strtoul(de->d_name + 5, &end, 10);
		if (*end || i > UINT32_MAX)
			continue;
		if (n == cap) {
			uint32_t *nv = realloc(v, 2 * cap * sizeof(*v));

			if (!nv)
				fail_errno(ENOMEM, "list");
			v = nv;
			cap *= 2;
		}
		v[n++] = (uint32_t)i;
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_u32);
	*out = v;
	return n;
}

/*
 * struct console_view - what sysfs shows of one console
 * @have_ep: the per-endpoint counters were readable (root).
 */
struct console_view {
	uint32_t index;
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
static int view_console(uint32_t index, struct console_view *cv)
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

/* The keys every console object starts with (docs/mflowctl-json.md). */
static void json_console_keys(uint32_t index, const char *name)
{
	printf("\"index\":%u,\"device\":\"/dev/mflow%u\",\"name\":", index,
	       index);
	json_name(name);
}

/* One console from sysfs: its keys, without braces. */
static void json_view_keys(const struct console_view *cv)
{
	int e, f;

	json_console_keys(cv->index, cv->name);
	printf(",\"state\":");
	json_str(cv->state);
	printf(",\"attached\":%llu,\"connection\":%llu,\"fifo_size\":%llu",
	       (unsigned long long)cv->attached,
	       (unsigned long long)cv->connection,
	       (unsigned long long)cv->fifo_size);
	if (!cv->have_ep) {
		printf(",\"bytes_0_to_1\":null,\"bytes_1_to_0\":null,\"endpoints\":null");
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
	printf("]");
}

static const struct option json_opts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ NULL, 0, NULL, 0 },
};

/* ---- list ---- */

static void fmt_count(char *buf, size_t size, const struct console_view *cv,
		      int ep)
{
	if (cv->have_ep)
		snprintf(buf, size, "%llu", (unsigned long long)cv->ep[ep][2]);
	else
		snprintf(buf, size, "-");
}

int cmd_list(int argc, char **argv)
{
	struct console_view *views;
	int namew = 4, devw = 7;
	bool json = false;
	size_t n, i, k = 0;
	uint32_t *v;

	while (next_opt(argc, argv, "j", json_opts) != -1)
		json = true;
	want_args(argc, argv, 0, 0);
	if (!module_loaded())
		no_module();
	n = list_indices(&v);
	views = calloc(n ? n : 1, sizeof(*views));
	if (!views)
		fail_errno(ENOMEM, "list");
	/* Read them all first: the columns fit the longest name. */
	for (i = 0; i < n; i++) {
		char dev[24];
		int w;

		if (view_console(v[i], &views[k]))
			continue;	/* removed while we looked */
		w = (int)strlen(views[k].name);
		if (w > namew)
			namew = w;
		w = snprintf(dev, sizeof(dev), "mflow%u", v[i]);
		if (w > devw)
			devw = w;
		k++;
	}
	if (json) {
		json_begin();
		printf(",\"consoles\":[");
	} else {
		printf("%-*s %-*s %-10s %8s %10s %10s %14s %14s\n", devw,
		       "CONSOLE", namew, "NAME", "STATE", "ATTACHED",
		       "CONNECTION", "FIFO", "BYTES_0TO1", "BYTES_1TO0");
	}
	for (i = 0; i < k; i++) {
		const struct console_view *cv = &views[i];
		char dev[24], b0[24], b1[24];

		if (json) {
			printf("%s{", i ? "," : "");
			json_view_keys(cv);
			printf("}");
			continue;
		}
		snprintf(dev, sizeof(dev), "mflow%u", cv->index);
		fmt_count(b0, sizeof(b0), cv, 0);
		fmt_count(b1, sizeof(b1), cv, 1);
		printf("%-*s %-*s %-10s %8llu %10llu %10llu %14s %14s\n", devw,
		       dev, namew, cv->name[0] ? cv->name : "-", cv->state,
		       (unsigned long long)cv->attached,
		       (unsigned long long)cv->connection,
		       (unsigned long long)cv->fifo_size, b0, b1);
	}
	if (json)
		printf("]}\n");
	free(views);
	free(v);
	return EX_OK;
}

/* ---- info ---- */

/* info fd:N: the endpoint's own view (MFLOW_IOC_INFO, _STATS, queues). */
static int info_endpoint(int fd, bool json)
{
	const char *const *names = info_flag_names();
	struct mflow_stats st;
	struct mflow_info in;
	int inq, outq, err, i;
	bool first = true;

	err = mflow_info(fd, &in);
	if (!err)
		err = mflow_stats(fd, &st);
	if (err)
		fail_errno(-err, "info");
	inq = mflow_inq(fd);
	outq = mflow_outq(fd);
	if (inq < 0)
		inq = 0;
	if (outq < 0)
		outq = 0;
	if (json) {
		json_begin();
		printf(",");
		json_console_keys(in.console, NULL);
		printf(",\"endpoint\":%u,\"connection\":%llu,\"fifo_size\":%u,\"flags\":",
		       in.endpoint, (unsigned long long)in.connection,
		       in.fifo_size);
		json_flags(in.flags);
		printf(",\"inq\":%d,\"outq\":%d,\"read_bytes\":%llu,\"read_ops\":%llu,\"write_bytes\":%llu,\"write_ops\":%llu,\"age_ns\":%llu}\n",
		       inq, outq, (unsigned long long)st.read_bytes,
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
	for (i = 0; names[i]; i++)
		if (in.flags & (1U << i)) {
			printf(" %s", names[i]);
			first = false;
		}
	printf("%s\n", first ? " none" : "");
	printf("inq:         %d\n", inq);
	printf("outq:        %d\n", outq);
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
int cmd_info(int argc, char **argv)
{
	struct console_view cv;
	struct target t;
	bool json = false;
	int e, f, err;

	while (next_opt(argc, argv, "j", json_opts) != -1)
		json = true;
	want_args(argc, argv, 1, 1);
	resolve(argv[optind], &t);
	if (t.fd >= 0)
		return info_endpoint(t.fd, json);
	err = view_console(t.index, &cv);
	if (err)
		fail_errno(-err, "mflow%u", t.index);
	if (json) {
		json_begin();
		printf(",");
		json_view_keys(&cv);
		printf("}\n");
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
int cmd_wait(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "peer", no_argument, NULL, 'p' },
		{ "connected", no_argument, NULL, 'c' },
		{ "idle", no_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	enum wait_for what = WAIT_PEER;
	long long deadline = -1;
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
			deadline = deadline_after(arg_duration_ns("wait: --timeout",
								  optarg));
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

/* ---- add ---- */

/* The most consoles the module allows (parameter max_consoles); 0 unknown. */
static uint32_t max_consoles(void)
{
	char buf[32] = "";
	ssize_t n;
	int fd;

	fd = open(MODULE_DIR "/parameters/max_consoles", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return (uint32_t)strtoul(buf, NULL, 10);
}

/* Is a udev rule that makes /dev/mflow/by-name links installed? */
static bool by_name_rule(void)
{
	static const char *const dirs[] = {
		"/etc/udev/rules.d", "/run/udev/rules.d",
		"/usr/lib/udev/rules.d", "/lib/udev/rules.d",
	};
	char path[PATH_MAX];
	size_t i;

	if (access("/run/udev/control", F_OK))
		return false;	/* no udev running */
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/60-mflow.rules", dirs[i]);
		if (!access(path, F_OK))
			return true;
	}
	return false;
}

/* @link exists and leads to the node of console @index. */
static bool link_ready(const char *link, uint32_t index)
{
	uint32_t i;

	return !mflow_resolve(link, &i) && i == index;
}

/*
 * add --wait: return once /dev/mflowN exists and, for a named console
 * with the udev rule installed, /dev/mflow/by-name/NAME leads to it.
 * inotify watches /dev, /dev/mflow and /dev/mflow/by-name (those that
 * exist, again after each event), and each check follows the watches,
 * so no creation is missed.
 */
static int wait_nodes(uint32_t index, const char *name, long long deadline)
{
	static const char *const dirs[] = { "/dev", "/dev/mflow", BY_NAME_DIR };
	char node[64], link[PATH_MAX];
	bool want_link = name && by_name_rule();
	int in, left;
	size_t i;

	snprintf(node, sizeof(node), "/dev/mflow%u", index);
	snprintf(link, sizeof(link), BY_NAME_DIR "/%s", name ? name : "");
	in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (in < 0)
		fail_errno(errno, "add --wait: inotify");
	for (;;) {
		char buf[4096];
		struct pollfd p = { .fd = in, .events = POLLIN };

		for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
			inotify_add_watch(in, dirs[i], IN_CREATE | IN_MOVED_TO |
					  IN_ATTRIB | IN_ONLYDIR);
		if (!access(node, F_OK) && (!want_link || link_ready(link, index)))
			break;
		left = poll_left(deadline);
		if (!left) {
			msg("add: mflow%u exists, but %s did not appear in time (is udev running, with 60-mflow.rules?)",
			    index, access(node, F_OK) ? node : link);
			close(in);
			return EX_TIMEOUT;
		}
		if (poll(&p, 1, left) < 0 && errno != EINTR)
			fail_errno(errno, "add --wait: poll");
		while (read(in, buf, sizeof(buf)) > 0)
			;
	}
	close(in);
	return EX_OK;
}

int cmd_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "fifo-size", required_argument, NULL, 's' },
		{ "index", required_argument, NULL, 'i' },
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *index_arg = NULL;
	uint32_t index = MFLOW_CTL_ANY, fifo = 0, max;
	int64_t timeout_ns = 30000000000LL;
	bool json = false, wait = false;
	struct mflow_ctl_query q;
	int c, ret;

	while ((c = next_opt(argc, argv, "n:s:i:wt:j", opts)) != -1) {
		switch (c) {
		case 'n':
			if (mflow_name_check(optarg))
				usage_error("add: bad name '%s': SPEC R17 wants 1..%d of [A-Za-z0-9._-], the first a letter, digit or _, not all digits, not mflow followed by digits",
					    optarg, MFLOW_NAME_MAX - 1);
			name = optarg;
			break;
		case 's':
			fifo = arg_size("add: --fifo-size", optarg,
					MFLOW_FIFO_SIZE_MIN, MFLOW_FIFO_SIZE_MAX);
			break;
		case 'i':
			index_arg = optarg;
			break;
		case 'w':
			wait = true;
			break;
		case 't':
			timeout_ns = arg_duration_ns("add: --timeout", optarg);
			break;
		case 'j':
			json = true;
			break;
		}
	}
	want_args(argc, argv, 0, 0);
	if (!module_loaded())
		no_module();
	if (index_arg) {
		max = max_consoles();
		index = arg_u32("add: --index", index_arg, 0,
				max ? max - 1 : MFLOW_CTL_ANY - 1);
	}
	ret = mflow_add_at(index, name, fifo);
	switch (ret) {
	case -EEXIST:
		if (index != MFLOW_CTL_ANY && !mflow_resolve(index_arg, &index))
			msg("add: mflow%u exists already", index);
		else
			msg("add: the name '%s' is taken", name ? name : "");
		return EX_BUSY;
	case -ENOSPC:
		msg("add: the console limit (module parameter max_consoles) is reached");
		return EX_BUSY;
	case -EINVAL:
		msg("add: the module refused the %s (fifo size %u..%u bytes, index below max_consoles %u, name per SPEC R17)",
		    name ? "name, index or fifo size" : "index or fifo size",
		    MFLOW_FIFO_SIZE_MIN, MFLOW_FIFO_SIZE_MAX, max_consoles());
		return EX_USAGE;
	}
	if (ret < 0)
		ctl_fail(-ret, "add: MFLOW_CTL_ADD");
	index = (uint32_t)ret;
	if (wait) {
		ret = wait_nodes(index, name, deadline_after(timeout_ns));
		if (ret)
			return ret;
	}
	if (!json) {
		printf("/dev/mflow%u\n", index);
		return EX_OK;
	}
	memset(&q, 0, sizeof(q));
	snprintf(q.name, sizeof(q.name), "%u", index);
	if (mflow_query(q.name, &q))
		q.fifo_size = fifo;
	json_begin();
	printf(",");
	json_console_keys(index, name);
	printf(",\"fifo_size\":%u}\n", q.fifo_size);
	return EX_OK;
}

/* ---- del, query, free ---- */

/* A DEV for the control node: not empty, not an endpoint of ours. */
static const char *ctl_dev(const char *dev)
{
	const char *name = name_arg(dev);

	if (!*dev || !*name)
		usage_error("%s: DEV is empty: give an index, mflowN, a name or a path",
			    cur_cmd->name);
	if (!strncmp(dev, "fd:", 3))
		usage_error("%s: '%s': fd:N is an endpoint; give the console's index, name or path",
			    cur_cmd->name, dev);
	if (name != dev && mflow_name_check(name))
		usage_error("%s: '%s' is not a console name (SPEC R17)",
			    cur_cmd->name, name);
	return name;
}

/* Report a DEV the control node (or libmflow) refused to select. */
static void __attribute__((noreturn)) ctl_dev_fail(int err, const char *dev)
{
	switch (err) {
	case EINVAL:
		usage_error("%s: '%s' is not a console: an index, mflowN, a path, or a name (SPEC R17: 1..31 of [A-Za-z0-9._-], first a letter, digit or _, not all digits, not mflowN)",
			    cur_cmd->name, dev);
	case ENODEV:
	case ENXIO:
		if (!module_loaded())
			no_module();
		if (strchr(dev, '/'))
			msg("%s: %s: not an mflow console node", cur_cmd->name, dev);
		else if (!mflow_name_check(dev))
			msg("%s: no console is named '%s'", cur_cmd->name, dev);
		else
			msg("%s: no console mflow%s", cur_cmd->name,
			    dev + (*dev == 'm' ? 5 : 0));
		finish(EX_NOCONSOLE);
	case ENOENT:
		if (strchr(dev, '/'))
			fail_errno(err, "%s: %s", cur_cmd->name, dev);
	}
	ctl_fail(err, cur_cmd->name);
}

int cmd_del(int argc, char **argv)
{
	const char *dev;
	int err;

	while (next_opt(argc, argv, "", NULL) != -1)
		;
	want_args(argc, argv, 1, 1);
	dev = ctl_dev(argv[optind]);
	if (!module_loaded())
		no_module();
	/* A name goes to the kernel as a name: one call, no lookup first. */
	err = mflow_remove(dev);
	if (err == -EBUSY) {
		msg("%s: %s is in use: its connection is live", cur_cmd->name, dev);
		return EX_BUSY;
	}
	if (err)
		ctl_dev_fail(-err, dev);
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

/* Endpoint bits as a JSON array of indices, or text "ep0 ep1"/"none". */
static void json_eps(uint32_t bits)
{
	printf("[%s%s%s]", bits & 1 ? "0" : "", (bits & 3) == 3 ? "," : "",
	       bits & 2 ? "1" : "");
}

static const char *text_eps(uint32_t bits)
{
	static const char *const s[] = { "none", "ep0", "ep1", "ep0 ep1" };

	return s[bits & 3];
}

int cmd_query(int argc, char **argv)
{
	struct mflow_ctl_query q;
	const char *dev;
	bool json = false;
	int err;

	while (next_opt(argc, argv, "j", json_opts) != -1)
		json = true;
	want_args(argc, argv, 1, 1);
	dev = ctl_dev(argv[optind]);
	if (!module_loaded())
		no_module();
	err = mflow_query(dev, &q);
	if (err)
		ctl_dev_fail(-err, dev);
	if (json) {
		json_begin();
		printf(",");
		json_console_keys(q.index, q.name);
		printf(",\"state\":\"%s\",\"attached\":%u,\"connection\":%llu,\"fifo_size\":%u,\"attached_endpoints\":",
		       state_name(q.state),
		       (q.attached & 1) + ((q.attached >> 1) & 1),
		       (unsigned long long)q.connection, q.fifo_size);
		json_eps(q.attached);
		printf(",\"used_endpoints\":");
		json_eps(q.used);
		printf("}\n");
		return EX_OK;
	}
	printf("device:     /dev/mflow%u\n", q.index);
	printf("index:      %u\n", q.index);
	printf("name:       %s\n", q.name[0] ? q.name : "-");
	printf("state:      %s\n", state_name(q.state));
	printf("attached:   %s\n", text_eps(q.attached));
	printf("used:       %s\n", text_eps(q.used));
	printf("connection: %llu\n", (unsigned long long)q.connection);
	printf("fifo_size:  %u\n", q.fifo_size);
	return EX_OK;
}

int cmd_free(int argc, char **argv)
{
	struct mflow_ctl_query q;
	char idx[16];
	bool json = false;
	int ret;

	while (next_opt(argc, argv, "j", json_opts) != -1)
		json = true;
	want_args(argc, argv, 0, 0);
	if (!module_loaded())
		no_module();
	ret = mflow_get_free();
	if (ret == -ENOSPC) {
		msg("free: no idle console, and the console limit (max_consoles) is reached");
		return EX_BUSY;
	}
	if (ret < 0)
		ctl_fail(-ret, "free: MFLOW_CTL_GET_FREE");
	if (!json) {
		printf("/dev/mflow%d\n", ret);
		return EX_OK;
	}
	snprintf(idx, sizeof(idx), "%d", ret);
	if (mflow_query(idx, &q)) {
		memset(&q, 0, sizeof(q));
		q.index = (uint32_t)ret;
	}
	json_begin();
	printf(",");
	json_console_keys((uint32_t)ret, q.name);
	printf(",\"fifo_size\":%u}\n", q.fifo_size);
	return EX_OK;
}
