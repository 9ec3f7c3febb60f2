// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * One console's endpoint: open by path, index or name, the close
 * handshake (R9), shutdown (R8) and the endpoint's own figures (R12, R13).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mflow_int.h"

MFLOW_EXPORT int mflow_open(const char *console, int flags)
{
	struct mflow_info info;
	char path[64];
	const char *p = console;
	uint32_t index;
	int kind, fd, err;

	kind = mflow__classify(console, &index);
	if (kind < 0)
		return kind;
	if (kind != MFLOW_SPEC_PATH) {
		err = mflow_resolve(console, &index);
		if (err)
			return err;
		snprintf(path, sizeof(path), "/dev/mflow%u", index);
		p = path;
	}
	fd = open(p, flags | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Whatever the path was, what is open must be an endpoint. */
	if (ioctl(fd, MFLOW_IOC_INFO, &info)) {
		err = errno == ENOTTY || errno == EINVAL ? -ENODEV : -errno;
		close(fd);
		return err;
	}
	return fd;
}

MFLOW_EXPORT int mflow_close_wait(int fd, int64_t timeout_ns)
{
	struct mflow_close_args args = { 0 };

	if (timeout_ns >= 0) {
		args.flags = MFLOW_CLOSE_TIMEOUT;
		args.timeout_ns = (uint64_t)timeout_ns;
	}
	return ioctl(fd, MFLOW_IOC_CLOSE, &args) ? -errno : 0;
}

MFLOW_EXPORT int mflow_shutdown(int fd, int how)
{
	uint32_t h = (uint32_t)how;

	if (how != MFLOW_SHUT_RD && how != MFLOW_SHUT_WR &&
	    how != MFLOW_SHUT_RDWR)
		return -EINVAL;
	return ioctl(fd, MFLOW_IOC_SHUTDOWN, &h) ? -errno : 0;
}

MFLOW_EXPORT int mflow_info(int fd, struct mflow_info *info)
{
	if (!info)
		return -EINVAL;
	return ioctl(fd, MFLOW_IOC_INFO, info) ? -errno : 0;
}

MFLOW_EXPORT int mflow_stats(int fd, struct mflow_stats *stats)
{
	if (!stats)
		return -EINVAL;
	return ioctl(fd, MFLOW_IOC_STATS, stats) ? -errno : 0;
}

MFLOW_EXPORT int mflow_inq(int fd)
{
	int n = 0;

	return ioctl(fd, FIONREAD, &n) ? -errno : n;
}

MFLOW_EXPORT int mflow_outq(int fd)
{
	uint32_t n = 0;

	if (ioctl(fd, MFLOW_IOC_OUTQ, &n))
		return -errno;
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

MFLOW_EXPORT int mflow_get_opts(int fd, uint32_t *opts)
{
	if (!opts)
		return -EINVAL;
	return ioctl(fd, MFLOW_IOC_GET_OPTS, opts) ? -errno : 0;
}

MFLOW_EXPORT int mflow_set_opts(int fd, uint32_t opts)
{
	return ioctl(fd, MFLOW_IOC_SET_OPTS, &opts) ? -errno : 0;
}
