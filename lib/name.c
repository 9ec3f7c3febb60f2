// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Naming consoles: SPEC R17's name rules, and from a path, index, kernel
 * name or console name to an index.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mflow_int.h"

#ifndef MFLOW_VERSION
#error "MFLOW_VERSION (dkms.conf's PACKAGE_VERSION) must be given with -D"
#endif

/* Decimal digits only, no sign, no spaces, at most UINT32_MAX. */
bool mflow__parse_u32(const char *s, uint32_t *out)
{
	unsigned long long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned int)(*s - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

MFLOW_EXPORT int mflow_name_check(const char *name)
{
	uint32_t ignored;
	size_t n, i;

	if (!name)
		return -EINVAL;
	n = strlen(name);
	if (n < 1 || n >= MFLOW_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!name_char(name[i]))
			return -EINVAL;
	/* The first a letter, digit or '_': never '.', '-' (an option). */
	if (name[0] == '.' || name[0] == '-')
		return -EINVAL;
	/* Never an index nor a node's name. */
	if (mflow__parse_u32(name, &ignored) || strspn(name, "0123456789") == n)
		return -EINVAL;
	if (!strncmp(name, "mflow", 5) && n > 5 &&
	    strspn(name + 5, "0123456789") == n - 5)
		return -EINVAL;
	return 0;
}

/*
 * What @console is: a path, an index (into *@index) or a name; -EINVAL
 * for NULL, "" or something that is none of these.
 */
int mflow__classify(const char *console, uint32_t *index)
{
	if (!console || !*console)
		return -EINVAL;
	if (strchr(console, '/'))
		return MFLOW_SPEC_PATH;
	if (mflow__parse_u32(console, index))
		return MFLOW_SPEC_INDEX;
	if (!strncmp(console, "mflow", 5) && mflow__parse_u32(console + 5, index))
		return MFLOW_SPEC_INDEX;
	if (mflow_name_check(console))
		return -EINVAL;
	return MFLOW_SPEC_NAME;
}

/*
 * The index of the console whose node @path is: its device number leads
 * through /sys/dev/char to the device, which must be of class mflow.
 */
int mflow__path_index(const char *path, uint32_t *index)
{
	char link[PATH_MAX], target[PATH_MAX], *base;
	struct stat st;
	ssize_t n;

	if (stat(path, &st))
		return -errno;
	if (!S_ISCHR(st.st_mode))
		return -ENODEV;
	snprintf(link, sizeof(link), "/sys/dev/char/%u:%u", major(st.st_rdev),
		 minor(st.st_rdev));
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -ENODEV;
	target[n] = '\0';
	base = strrchr(target, '/');
	if (!base || base - target < 6 || strncmp(base - 6, "/mflow/", 7) ||
	    strncmp(base + 1, "mflow", 5) || !mflow__parse_u32(base + 6, index))
		return -ENODEV;
	return 0;
}

static bool console_exists(uint32_t index)
{
	char path[64];

	snprintf(path, sizeof(path), MFLOW_CLASS_DIR "/mflow%u", index);
	return !access(path, F_OK);
}

/* The console named @name from sysfs; -ENODEV if none. */
static int sysfs_find_name(const char *name, uint32_t *index)
{
	struct dirent *de;
	int ret = -ENODEV;
	DIR *d;

	d = opendir(MFLOW_CLASS_DIR);
	if (!d)
		return errno == ENOENT ? -ENODEV : -errno;
	while (ret && (de = readdir(d))) {
		char path[PATH_MAX], buf[MFLOW_NAME_MAX + 2];
		uint32_t i;
		ssize_t n;
		int fd;

		if (strncmp(de->d_name, "mflow", 5) ||
		    !mflow__parse_u32(de->d_name + 5, &i))
			continue;
		snprintf(path, sizeof(path), MFLOW_CLASS_DIR "/%s/name",
			 de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (!strcmp(buf, name)) {
			*index = i;
			ret = 0;
		}
	}
	closedir(d);
	return ret;
}

MFLOW_EXPORT int mflow_resolve(const char *console, uint32_t *index)
{
	struct mflow_ctl_query q = { .index = MFLOW_CTL_ANY };
	char path[PATH_MAX];
	uint32_t i;
	int kind, ret, fd;

	kind = mflow__classify(console, &i);
	if (kind < 0)
		return kind;
	switch (kind) {
	case MFLOW_SPEC_PATH:
		return mflow__path_index(console, index);
	case MFLOW_SPEC_INDEX:
		if (!console_exists(i))
			return -ENODEV;
		*index = i;
		return 0;
	}
	/* A name: the udev link, the control node, else sysfs. */
	snprintf(path, sizeof(path), MFLOW_BY_NAME "/%s", console);
	if (!mflow__path_index(path, index))
		return 0;
	fd = mflow__ctl_open();
	if (fd >= 0) {
		strcpy(q.name, console);
		ret = ioctl(fd, MFLOW_CTL_QUERY, &q) ? -errno : 0;
		close(fd);
		if (!ret)
			*index = q.index;
		return ret;
	}
	return sysfs_find_name(console, index);
}

MFLOW_EXPORT const char *mflow_lib_version(void)
{
	return MFLOW_VERSION;
}

MFLOW_EXPORT int mflow_module_version(char *buf, size_t size)
{
	ssize_t n;
	int fd;

	if (!buf || !size)
		return -EINVAL;
	fd = open(MFLOW_MODULE_DIR "/version", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0'))
		n--;
	if ((size_t)n >= size)
		return -ERANGE;
	buf[n] = '\0';
	return 0;
}
