// SPDX-License-Identifier: GPL-2.0
/*
 * mflow_scale N [FILL]: connect consoles /dev/mflow0 .. /dev/mflow<N-1>,
 * both endpoints each, pass a message each way on every one (and with
 * FILL, fill every fifo both ways and drain it again), close them all,
 * and say what the kernel's memory did meanwhile (R15). Run by
 * mflow_params.sh after loading mflow with consoles=N; not a suite.
 *
 * Prints "# ..." lines and "mem_before mem_connected mem_after" in KiB
 * on its last line, the kernel's own unreclaimable memory (SUnreclaim +
 * VmallocUsed: where fifos, consoles and files live); exits 0 if every
 * message arrived and every fifo drained intact, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include <linux/mflow.h>

static long kernel_mem_kib(void)
{
	long v, sum = 0;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SUnreclaim: %ld kB", &v) == 1 ||
		    sscanf(line, "VmallocUsed: %ld kB", &v) == 1)
			sum += v;
	fclose(f);
	return sum;
}

/* Let freed slabs and RCU callbacks settle before looking at memory. */
static long settled_mem(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	sync();
	if (fd >= 0) {
		if (write(fd, "3", 1) != 1)
			perror("drop_caches");
		close(fd);
	}
	usleep(200000);
	return kernel_mem_kib();
}

static int xfer(int from, int to, const char *msg)
{
	char buf[64];
	size_t len = strlen(msg);

	if (write(from, msg, len) != (ssize_t)len)
		return -1;
	if (read(to, buf, sizeof(buf)) != (ssize_t)len)
		return -1;
	return memcmp(buf, msg, len) ? -1 : 0;
}

/* Fill the fifo from @from with O_NONBLOCK writes, then drain it at @to. */
static int fill_drain(int from, int to, unsigned int fifo, uint8_t *buf)
{
	size_t put = 0, got = 0, i;
	ssize_t r;

	fcntl(from, F_SETFL, O_NONBLOCK);
	for (;;) {
		for (i = 0; i < 65536; i++)
			buf[i] = (uint8_t)(put + i);
		r = write(from, buf, 65536);
		if (r <= 0)
			break;
		put += r;
	}
	fcntl(from, F_SETFL, 0);
	if (put != fifo)
		return -1;
	while (got < put) {
		r = read(to, buf, 65536);
		if (r <= 0)
			return -1;
		for (i = 0; i < (size_t)r; i++)
			if (buf[i] != (uint8_t)(got + i))
				return -1;
		got += r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 0, i, bad = 0;
	bool fill = argc > 2 && atoi(argv[2]);
	struct rlimit rl = { 2 * n + 64, 2 * n + 64 };
	long before, connected, after;
	struct mflow_info info;
	char path[32], msg[32];
	uint8_t *buf = malloc(65536);
	int (*fd)[2];

	fd = calloc(n > 0 ? n : 1, sizeof(*fd));
	if (n < 1 || !fd || !buf) {
		fprintf(stderr, "usage: %s N [FILL]\n", argv[0]);
		return 2;
	}
	if (setrlimit(RLIMIT_NOFILE, &rl))
		perror("setrlimit");
	before = settled_mem();
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/dev/mflow%d", i);
		fd[i][0] = open(path, O_RDWR | O_CLOEXEC);
		fd[i][1] = open(path, O_RDWR | O_CLOEXEC);
		if (fd[i][0] < 0 || fd[i][1] < 0) {
			fprintf(stderr, "# %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	for (i = 0; i < n; i++) {
		snprintf(msg, sizeof(msg), "ping %d", i);
		if (xfer(fd[i][0], fd[i][1], msg))
			bad++;
		snprintf(msg, sizeof(msg), "pong %d", i);
		if (xfer(fd[i][1], fd[i][0], msg))
			bad++;
		if (fill && (ioctl(fd[i][0], MFLOW_IOC_INFO, &info) ||
			     fill_drain(fd[i][0], fd[i][1], info.fifo_size,
					buf) ||
			     fill_drain(fd[i][1], fd[i][0], info.fifo_size,
					buf)))
			bad++;
	}
	connected = settled_mem();
	for (i = 0; i < n; i++) {
		close(fd[i][0]);
		close(fd[i][1]);
	}
	after = settled_mem();
	printf("# %d consoles connected, %d failed; kernel memory %ld KiB before, %ld connected, %ld after\n",
	       n, bad, before, connected, after);
	printf("# %ld bytes per connection\n",
	       (connected - before) * 1024 / n);
	printf("%ld %ld %ld\n", before, connected, after);
	return bad ? 1 : 0;
}
