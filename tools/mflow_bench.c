// SPDX-License-Identifier: GPL-2.0
/*
 * mflow_bench: mflow against pipe, socketpair and pty, measured in one run.
 *
 * Bulk: one process writes a fixed number of bytes in writes of a given
 * size, another reads them with 1 MiB reads; the figure is MB/s. Ping-pong:
 * two processes bounce one byte; the figure is microseconds per round trip.
 * Rounds are interleaved across transports and the median is reported, with
 * mflow's ratio to each other transport (above 1 means mflow is better).
 *
 * usage: mflow_bench [-d /dev/mflowN] [-m MiB per bulk sample]
 *                    [-p round trips] [-r rounds]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum transport { T_MFLOW, T_PIPE, T_SOCKETPAIR, T_PTY, T_COUNT };

static const char *device = "/dev/mflow0";

/* a[0] writes to b[0]; b[1] writes to a[1] (for the ping-pong reply). */
struct link {
	int a[2];
	int b[2];
};

static void fail(const char *what)
{
	fprintf(stderr, "mflow_bench: %s: %s\n", what, strerror(errno));
	exit(2);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void open_pty(int *master, int *slave)
{
	struct termios tio;

	*master = posix_openpt(O_RDWR | O_NOCTTY);
	if (*master < 0 || grantpt(*master) || unlockpt(*master))
		fail("posix_openpt");
	*slave = open(ptsname(*master), O_RDWR | O_NOCTTY);
	if (*slave < 0)
		fail("open pty slave");
	if (tcgetattr(*slave, &tio))
		fail("tcgetattr");
	cfmakeraw(&tio);
	if (tcsetattr(*slave, TCSANOW, &tio))
		fail("tcsetattr");
}

static void link_open(enum transport t, struct link *l)
{
	int p[2], q[2];

	switch (t) {
	case T_MFLOW:
		l->a[0] = open(device, O_RDWR);
		l->b[0] = open(device, O_RDWR);
		if (l->a[0] < 0 || l->b[0] < 0)
			fail(device);
		l->a[1] = l->a[0];
		l->b[1] = l->b[0];
		break;
	case T_PIPE:
		if (pipe(p) || pipe(q))
			fail("pipe");
		l->a[0] = p[1];
		l->b[0] = p[0];
		l->b[1] = q[1];
		l->a[1] = q[0];
		break;
	case T_SOCKETPAIR:
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, p))
			fail("socketpair");
		l->a[0] = l->a[1] = p[0];
		l->b[0] = l->b[1] = p[1];
		break;
	case T_PTY:
		open_pty(&l->a[0], &l->b[0]);
		l->a[1] = l->a[0];
		l->b[1] = l->b[0];
		break;
	default:
		abort();
	}
}

static void close_fds(const int *fds, int n)
{
	int i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (fds[j] == fds[i])
				break;
		if (j == i)
			close(fds[i]);
	}
}

static void link_close(struct link *l)
{
	int fds[4] = { l->a[0], l->a[1], l->b[0], l->b[1] };

	close_fds(fds, 4);
}

static void full_write(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail("write");
		}
		buf += n;
		len -= n;
	}
}

/* The child reads @total bytes from b[0], then answers one byte on b[1]. */
static double bulk(enum transport t, size_t chunk, size_t total)
{
	static char *wbuf, *rbuf;
	struct link l;
	size_t done;
	double t0;
	pid_t pid;
	char c;

	if (!wbuf) {
		wbuf = malloc(1 << 20);
		rbuf = malloc(1 << 20);
		if (!wbuf || !rbuf)
			fail("malloc");
		memset(wbuf, 0x5a, 1 << 20);
	}
	link_open(t, &l);
	pid = fork();
	if (pid < 0)
		fail("fork");
	if (pid == 0) {
		size_t got = 0;

		while (got < total) {
			ssize_t n = read(l.b[0], rbuf, 1 << 20);

			if (n <= 0)
				_exit(3);
			got += n;
		}
		full_write(l.b[1], "k", 1);
		_exit(0);
	}
	t0 = now();
	for (done = 0; done < total; done += chunk)
		full_write(l.a[0], wbuf, chunk);
	if (read(l.a[1], &c, 1) != 1)
		fail("bulk reply");
	t0 = now() - t0;
	waitpid(pid, NULL, 0);
	link_close(&l);
	return total / t0 / 1e6;
}

static double pingpong(enum transport t, int trips)
{
	struct link l;
	double t0;
	pid_t pid;
	char c = 'p';
	int i;

	link_open(t, &l);
	pid = fork();
	if (pid < 0)
		fail("fork");
	if (pid == 0) {
		for (i = 0; i < trips; i++) {
			if (read(l.b[0], &c, 1) != 1)
				_exit(3);
			full_write(l.b[1], &c, 1);
		}
		_exit(0);
	}
	t0 = now();
	for (i = 0; i < trips; i++) {
		full_write(l.a[0], &c, 1);
		if (read(l.a[1], &c, 1) != 1)
			fail("ping-pong read");
	}
	t0 = now() - t0;
	waitpid(pid, NULL, 0);
	link_close(&l);
	return t0 / trips * 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MAX_ROUNDS 15

int main(int argc, char **argv)
{
	static const size_t chunks[] = { 4096, 65536, 1 << 20 };
	double res[T_COUNT][MAX_ROUNDS], med[T_COUNT];
	size_t total = 64 << 20;
	int trips = 2000, rounds = 3;
	unsigned int w;
	int opt, r, t;

	while ((opt = getopt(argc, argv, "d:m:p:r:")) != -1) {
		switch (opt) {
		case 'd':
			device = optarg;
			break;
		case 'm':
			total = strtoul(optarg, NULL, 0) << 20;
			break;
		case 'p':
			trips = atoi(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-d dev] [-m MiB] [-p trips] [-r rounds]\n",
				argv[0]);
			return 2;
		}
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || trips < 1 || !total) {
		fprintf(stderr, "mflow_bench: bad arguments\n");
		return 2;
	}

	printf("# mflow_bench: %d rounds, medians; %zu MiB per bulk sample, %d round trips per ping-pong\n",
	       rounds, total >> 20, trips);
	printf("%-22s %10s %10s %10s %10s   %8s %8s %8s\n", "workload", "mflow",
	       "pipe", "socketpair", "pty", "/pipe", "/socket", "/pty");
	for (w = 0; w <= sizeof(chunks) / sizeof(chunks[0]); w++) {
		int is_pp = w == sizeof(chunks) / sizeof(chunks[0]);
		char label[64];

		for (r = 0; r < rounds; r++)
			for (t = 0; t < T_COUNT; t++)
				res[t][r] = is_pp ? pingpong(t, trips) :
					bulk(t, chunks[w], total);
		for (t = 0; t < T_COUNT; t++)
			med[t] = median(res[t], rounds);
		if (is_pp)
			snprintf(label, sizeof(label), "1-byte ping-pong (us)");
		else
			snprintf(label, sizeof(label), "bulk %zu KiB (MB/s)",
				 chunks[w] >> 10);
		printf("%-22s %10.1f %10.1f %10.1f %10.1f   %8.2f %8.2f %8.2f\n",
		       label, med[T_MFLOW], med[T_PIPE], med[T_SOCKETPAIR],
		       med[T_PTY],
		       is_pp ? med[T_PIPE] / med[T_MFLOW] : med[T_MFLOW] / med[T_PIPE],
		       is_pp ? med[T_SOCKETPAIR] / med[T_MFLOW] :
			       med[T_MFLOW] / med[T_SOCKETPAIR],
		       is_pp ? med[T_PTY] / med[T_MFLOW] : med[T_MFLOW] / med[T_PTY]);
		fflush(stdout);
	}
	printf("# ratios: mflow relative to each transport, above 1.00 means mflow is faster\n");
	return 0;
}
