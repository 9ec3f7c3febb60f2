// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The control node /dev/mflow-control (R16): add, remove, query and find
 * a free console. Each call opens the node, checks the module's control
 * ABI and closes the node again.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mflow_int.h"

/* The raw control node; -errno. Nothing checked. */
static int ctl_open_raw(void)
{
	int fd;

	fd = open(MFLOW_CTL_NODE, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == EACCES)
		fd = open(MFLOW_CTL_NODE, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The control node, its ABI ours; -EPROTO otherwise. */
int mflow__ctl_open(void)
{
	struct mflow_ctl_version v = { 0 };
	int fd, err;

	fd = ctl_open_raw();
	if (fd < 0)
		return fd;
	if (ioctl(fd, MFLOW_CTL_VERSION, &v)) {
		err = errno == ENOTTY ? -EPROTO : -errno;
		close(fd);
		return err;
	}
	if (v.abi != MFLOW_CTL_ABI) {
		close(fd);
		return -EPROTO;
	}
	return fd;
}

MFLOW_EXPORT int mflow_ctl_version(struct mflow_ctl_version *version)
{
	int fd, err;

	if (!version)
		return -EINVAL;
	fd = ctl_open_raw();
	if (fd < 0)
		return fd;
	err = ioctl(fd, MFLOW_CTL_VERSION, version) ? -errno : 0;
	close(fd);
	return err;
}

MFLOW_EXPORT int mflow_add_at(uint32_t index, const char *name,
			      uint32_t fifo_size)
{
	struct mflow_ctl_add add = { .index = index, .fifo_size = fifo_size };
	int fd, ret;

	if (name) {
		ret = mflow_name_check(name);
		if (ret)
			return ret;
		strcpy(add.name, name);
	}
	fd = mflow__ctl_open();
	if (fd < 0)
		return fd;
	ret = ioctl(fd, MFLOW_CTL_ADD, &add);
	ret = ret < 0 ? -errno : (int)add.index;
	close(fd);
	return ret;
}

MFLOW_EXPORT int mflow_add(const char *name, uint32_t fifo_size)
{
	return mflow_add_at(MFLOW_CTL_ANY, name, fifo_size);
}

/*
 * Fill an id for @console: a name goes as a name, anything else is
 * resolved to its index here.
 */
static int ctl_select(const char *console, uint32_t *index, char *name)
{
	uint32_t i;
	int kind;

	kind = mflow__classify(console, &i);
	if (kind < 0)
		return kind;
	name[0] = '\0';
	switch (kind) {
	case MFLOW_SPEC_NAME:
		*index = MFLOW_CTL_ANY;
		strcpy(name, console);
		return 0;
	case MFLOW_SPEC_INDEX:
		*index = i;
		return 0;
	default:
		return mflow__path_index(console, index);
	}
}

MFLOW_EXPORT int mflow_remove(const char *name_or_path)
{
	struct mflow_ctl_id id = { 0 };
	int fd, ret;

	ret = ctl_select(name_or_path, &id.index, id.name);
	if (ret)
		return ret;
	fd = mflow__ctl_open();
	if (fd < 0)
		return fd;
	ret = ioctl(fd, MFLOW_CTL_REMOVE, &id) ? -errno : 0;
	close(fd);
	return ret;
}

MFLOW_EXPORT int mflow_query(const char *console, struct mflow_ctl_query *query)
{
	struct mflow_ctl_query q = { 0 };
	int fd, ret;

	if (!query)
		return -EINVAL;
	ret = ctl_select(console, &q.index, q.name);
	if (ret)
		return ret;
	fd = mflow__ctl_open();
	if (fd < 0)
		return fd;
	ret = ioctl(fd, MFLOW_CTL_QUERY, &q) ? -errno : 0;
	close(fd);
	if (!ret) {
		q.name[MFLOW_NAME_MAX - 1] = '\0';
		*query = q;
	}
	return ret;
}

MFLOW_EXPORT int mflow_get_free(void)
{
	int fd, ret;

	fd = mflow__ctl_open();
	if (fd < 0)
		return fd;
	ret = ioctl(fd, MFLOW_CTL_GET_FREE);
	ret = ret < 0 ? -errno : ret;
	close(fd);
	return ret;
}
