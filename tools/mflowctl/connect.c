// SPDX-License-Identifier: GPL-2.0
/*
 * mflowctl: the commands that act as an endpoint. connect attaches a new
 * one; shutdown and close act on an endpoint the caller holds (fd:N), and
 * attach a new one only when asked to (--attach): attaching makes
 * mflowctl the peer of whoever waits on the console.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "mflowctl.h"

static const struct option attach_opts[] = {
	{ "attach", no_argument, NULL, 'a' },
	{ "timeout", required_argument, NULL, 't' },
	{ NULL, 0, NULL, 0 },
};

/* The endpoint @t names: the caller's fd:N, or with @attach a new one. */
static int endpoint_fd(const struct target *t, bool attach)
{
	if (t->fd >= 0)
		return t->fd;
	if (!attach)
		usage_error("%s: '%s' would attach a new endpoint to mflow%u, making mflowctl the peer of whoever waits there; give an endpoint you hold as fd:N, or --attach",
			    cur_cmd->name, t->arg, t->index);
	return open_console(t->index, O_RDWR);
}

int cmd_shutdown(int argc, char **argv)
{
	static const struct { const char *word; int how; } hows[] = {
		{ "read", MFLOW_SHUT_RD }, { "rd", MFLOW_SHUT_RD },
		{ "write", MFLOW_SHUT_WR }, { "wr", MFLOW_SHUT_WR },
		{ "both", MFLOW_SHUT_RDWR }, { "rdwr", MFLOW_SHUT_RDWR },
	};
	static const struct option opts[] = {
		{ "attach", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct target t;
	bool attach = false;
	int how = -1, fd, err;
	size_t i;

	while (next_opt(argc, argv, "a", opts) != -1)
		attach = true;
	want_args(argc, argv, 2, 2);
	for (i = 0; i < sizeof(hows) / sizeof(hows[0]); i++)
		if (!strcmp(argv[optind + 1], hows[i].word))
			how = hows[i].how;
	if (how < 0)
		usage_error("shutdown: '%s': want read, write or both",
			    argv[optind + 1]);
	resolve(argv[optind], &t);
	fd = endpoint_fd(&t, attach);
	err = mflow_shutdown(fd, how);
	if (err)
		fail_errno(-err, "shutdown: mflow%u", t.index);
	return EX_OK;
}

int cmd_close(int argc, char **argv)
{
	int64_t timeout_ns = -1;
	struct target t;
	bool attach = false;
	int c, fd, err;

	while ((c = next_opt(argc, argv, "at:", attach_opts)) != -1) {
		if (c == 'a')
			attach = true;
		else
			timeout_ns = arg_duration_ns("close: --timeout", optarg);
	}
	want_args(argc, argv, 1, 1);
	resolve(argv[optind], &t);
	fd = endpoint_fd(&t, attach);
	err = mflow_close_wait(fd, timeout_ns);
	if (err == -ETIMEDOUT) {
		msg("close: mflow%u: the peer did not close within the timeout",
		    t.index);
		return EX_TIMEOUT;
	}
	if (err == -EAGAIN) {
		msg("close: mflow%u: the peer has not closed yet (non-blocking descriptor: wait for POLLHUP, then close again)",
		    t.index);
		return EX_TIMEOUT;
	}
	if (err)
		fail_errno(-err, "close: mflow%u", t.index);
	return EX_OK;
}

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
		len -= (size_t)n;
	}
	return true;
}

/*
 * connect DEV: stdin goes to the console, the console to stdout. When
 * stdin ends the write side is shut (the peer reads EOF after draining);
 * the bridge exits once the console has reached EOF and nothing more can
 * be sent (stdin ended, or the peer can no longer read).
 */
int cmd_connect(int argc, char **argv)
{
	static char inbuf[BRIDGE_BUF], outbuf[BRIDGE_BUF];
	size_t pend = 0, off = 0;
	bool in_open = true, con_eof = false, wr_dead = false;
	struct target t;
	int fd, err, fl;

	while (next_opt(argc, argv, "", NULL) != -1)
		;
	want_args(argc, argv, 1, 1);
	resolve(argv[optind], &t);
	fd = t.fd >= 0 ? t.fd : open_console(t.index, O_RDWR);
	signal(SIGPIPE, SIG_IGN);
	err = mflow_set_opts(fd, MFLOW_OPT_NOSIGPIPE);
	if (err)
		fail_errno(-err, "connect: MFLOW_IOC_SET_OPTS");
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
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
				if (!write_all(STDOUT_FILENO, outbuf, (size_t)n)) {
					/* Nobody reads our output: stop reading. */
					mflow_shutdown(fd, MFLOW_SHUT_RD);
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
				off += (size_t)n;
				pend -= (size_t)n;
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
				pend = (size_t)n;
				off = 0;
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				in_open = false;
			}
		}
		if (!in_open && !pend && !wr_dead) {
			err = mflow_shutdown(fd, MFLOW_SHUT_WR);
			if (err)
				fail_errno(-err, "connect: shutdown mflow%u", t.index);
			wr_dead = true;
		}
		/* At EOF with nothing left to send, or a peer gone for good. */
		if (con_eof && p[0].revents & POLLERR)
			wr_dead = true;
	}
	return EX_OK;
}
