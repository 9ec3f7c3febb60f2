// SPDX-License-Identifier: GPL-2.0
/*
 * mflow_demo: two processes talking over one console, /dev/mflowN.
 *
 * A attaches endpoint 0, B endpoint 1. They greet each other in both
 * directions, A half-closes (B drains and reads EOF while it can still talk
 * back), then both close with the handshake, which returns on each side
 * once the other has closed too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/mflow.h>

static const char *who = "?";

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("  [%s] ", who);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

static void die(const char *what)
{
	fprintf(stderr, "  [%s] %s: %s\n", who, what, strerror(errno));
	exit(1);
}

static void send_str(int fd, const char *s)
{
	say("sending  \"%s\"", s);
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		die("write");
}

/* Read one message; 0 means EOF. */
static ssize_t recv_str(int fd)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	if (n < 0)
		die("read");
	if (n == 0) {
		say("read EOF: the peer shut its write side and all is drained");
		return 0;
	}
	buf[n] = '\0';
	say("received \"%s\" (%zd bytes)", buf, n);
	return n;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void handshake(int fd)
{
	double t = now();

	say("MFLOW_IOC_CLOSE: shut my write side, wait for the peer's close");
	if (ioctl(fd, MFLOW_IOC_CLOSE, NULL))
		die("MFLOW_IOC_CLOSE");
	say("MFLOW_IOC_CLOSE returned 0 after %.3f s: both sides closed",
	    now() - t);
}

static void show_stats(int fd)
{
	struct mflow_info info;
	struct mflow_stats st;

	if (ioctl(fd, MFLOW_IOC_INFO, &info) || ioctl(fd, MFLOW_IOC_STATS, &st))
		die("MFLOW_IOC_INFO/STATS");
	say("console %u endpoint %u connection %llu: read %llu bytes in %llu calls, wrote %llu bytes in %llu calls",
	    info.console, info.endpoint, (unsigned long long)info.connection,
	    (unsigned long long)st.read_bytes, (unsigned long long)st.read_ops,
	    (unsigned long long)st.write_bytes,
	    (unsigned long long)st.write_ops);
}

static int peer_b(const char *path, int sync)
{
	char c;
	int fd;

	who = "B";
	fd = open(path, O_RDWR);
	if (fd < 0)
		die("open");
	say("opened %s (endpoint 1)", path);
	if (write(sync, "x", 1) != 1)
		die("sync");

	recv_str(fd);
	send_str(fd, "hello A, this is B");
	/* Drain everything A sends until its half-close shows as EOF. */
	while (recv_str(fd) > 0)
		;
	send_str(fd, "B can still talk after A's half-close");
	if (read(sync, &c, 1) != 1)
		die("sync");
	sleep(1);
	handshake(fd);
	show_stats(fd);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/mflow0";
	int sync_ab[2], status, fd;
	__u32 how = MFLOW_SHUT_WR;
	pid_t pid;
	char c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("mflow demo on %s: A and B are two processes\n", path);
	who = "A";
	fd = open(path, O_RDWR);
	if (fd < 0)
		die("open (is the mflow module loaded?)");
	say("opened %s (endpoint 0)", path);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sync_ab))
		die("socketpair");

	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(fd);
		close(sync_ab[0]);
		exit(peer_b(path, sync_ab[1]));
	}
	close(sync_ab[1]);
	if (read(sync_ab[0], &c, 1) != 1)
		die("sync");

	printf("-- both directions\n");
	send_str(fd, "hello B, this is A");
	recv_str(fd);

	printf("-- half-close: A shuts its write side after two more messages\n");
	send_str(fd, "in flight 1");
	send_str(fd, "in flight 2");
	if (ioctl(fd, MFLOW_IOC_SHUTDOWN, &how))
		die("MFLOW_IOC_SHUTDOWN");
	say("MFLOW_IOC_SHUTDOWN(write) returned at once");
	recv_str(fd);

	printf("-- close handshake: A closes first, B a second later\n");
	if (write(sync_ab[0], "x", 1) != 1)
		die("sync");
	handshake(fd);
	recv_str(fd);
	show_stats(fd);
	close(fd);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return 1;
	printf("demo done: both directions, half-close with drain then EOF, close handshake on both sides\n");
	return 0;
}
