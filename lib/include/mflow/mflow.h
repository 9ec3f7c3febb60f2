/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmflow: console flow devices /dev/mflowN from C.
 *
 * A thin layer over the ioctls of <linux/mflow.h>: opening a console by
 * path, index or name, the close handshake (SPEC R9), shutdown, the
 * endpoint's own figures, and the control node /dev/mflow-control
 * (add, remove, query, get a free console).
 *
 * Conventions. Every call returns a value >= 0 on success and -errno on
 * failure; errno itself is left as the last system call set it. No call
 * keeps state between calls, allocates memory the caller must free, or
 * installs signal handlers; every call is safe from several threads.
 * Descriptors the library opens are O_CLOEXEC.
 *
 * Naming a console ("console" arguments): a path containing '/'
 * (/dev/mflow3, /dev/mflow/by-name/NAME), an index ("3"), a kernel name
 * ("mflow3") or a console name (SPEC R17: 1..31 bytes of [A-Za-z0-9._-],
 * the first a letter, digit or '_', not all digits and not "mflow"
 * followed by digits; so a name never reads as an index or a node).
 * NULL or an empty string never names a console: -EINVAL.
 *
 * Errors common to the calls: -EINVAL a bad argument (an empty or
 * malformed name included), -ENODEV no such console (or a path that is
 * not an mflow console), -ENOENT no such path, or no control node
 * (the module is not loaded, or predates it), -EACCES / -EPERM not
 * allowed, -EPROTO the module speaks another control ABI than the one
 * this library was built for (MFLOW_CTL_ABI).
 *
 * ABI. The library's soname is libmflow.so.0; its symbols carry the
 * version node MFLOW_0.1. Within soname 0 a function's signature and
 * meaning never change and none is removed; new functions get a new
 * version node. The structures passed in and out are those of
 * <linux/mflow.h>, whose layout the kernel keeps fixed.
 * MFLOW_LIB_VERSION_* say which version of the header a program was
 * compiled with, mflow_lib_version() which library it runs with.
 */
#ifndef MFLOW_MFLOW_H
#define MFLOW_MFLOW_H

#include <stddef.h>
#include <stdint.h>
#include <linux/mflow.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MFLOW_LIB_VERSION_MAJOR	0
#define MFLOW_LIB_VERSION_MINOR	1

/* Fifo sizes the module accepts at ADD (bytes per direction), 0 aside. */
#define MFLOW_FIFO_SIZE_MIN	4096U
#define MFLOW_FIFO_SIZE_MAX	(64U << 20)

/* ---- names and versions ---- */

/* 0 if @name follows SPEC R17's rules, else -EINVAL (NULL, "" too). */
int mflow_name_check(const char *name);

/*
 * The index of the console @console names (see above) into *@index,
 * without opening it: a path by its device number, a name through
 * /dev/mflow/by-name, the control node's QUERY, or sysfs.
 */
int mflow_resolve(const char *console, uint32_t *index);

/* The library's version string, e.g. "0.2.0". */
const char *mflow_lib_version(void);

/*
 * The loaded module's version (/sys/module/mflow/version) into @buf;
 * any user. -ENOENT when mflow is not loaded, -ERANGE if @size is short.
 */
int mflow_module_version(char *buf, size_t size);

/* ---- a console: endpoint calls ---- */

/*
 * Open the console @console names with open(2) @flags (O_RDWR,
 * O_NONBLOCK, ...; O_CLOEXEC is added), attaching an endpoint (R1).
 * Returns the descriptor. -EBUSY when both endpoints are taken; -ENODEV
 * when @console is a path to something that is not an mflow console.
 */
int mflow_open(const char *console, int flags);

/*
 * The close handshake (R9): shut the write side, then wait until the
 * peer has closed too. @timeout_ns < 0 waits as long as it takes, 0 does
 * not wait. -ETIMEDOUT when the time ran out, -EINTR on a signal. On an
 * O_NONBLOCK descriptor, -EAGAIN while the peer has not closed: wait for
 * POLLHUP (R11), then call again.
 */
int mflow_close_wait(int fd, int64_t timeout_ns);

/* Half-close (R8): @how is MFLOW_SHUT_RD, MFLOW_SHUT_WR or MFLOW_SHUT_RDWR. */
int mflow_shutdown(int fd, int how);

/* The endpoint's MFLOW_IOC_INFO and MFLOW_IOC_STATS (R13). */
int mflow_info(int fd, struct mflow_info *info);
int mflow_stats(int fd, struct mflow_stats *stats);

/* Bytes readable now (FIONREAD), bytes written not yet read (R12). */
int mflow_inq(int fd);
int mflow_outq(int fd);

/* Endpoint options, MFLOW_OPT_* bits. */
int mflow_get_opts(int fd, uint32_t *opts);
int mflow_set_opts(int fd, uint32_t opts);

/* ---- the control node (R16) ---- */

/* MFLOW_CTL_VERSION: module version, ABI, consoles and their limit. */
int mflow_ctl_version(struct mflow_ctl_version *version);

/*
 * Create a console with the lowest free index; @name may be NULL (no
 * name), never ""; @fifo_size 0 takes the module's default. Returns the
 * index. -EEXIST the name is taken, -ENOSPC the limit is reached.
 */
int mflow_add(const char *name, uint32_t fifo_size);

/* mflow_add() at @index (MFLOW_CTL_ANY: any); -EEXIST if it is taken. */
int mflow_add_at(uint32_t index, const char *name, uint32_t fifo_size);

/*
 * Remove an idle console. A name goes to the kernel as a name (one call,
 * no race with a rename); a path, index or kernel name by index.
 * -EBUSY while its connection is live.
 */
int mflow_remove(const char *name_or_path);

/* MFLOW_CTL_QUERY for @console (a name is selected by the kernel). */
int mflow_query(const char *console, struct mflow_ctl_query *query);

/* An idle console's index, one created (unnamed) if none is idle. */
int mflow_get_free(void);

#ifdef __cplusplus
}
#endif

#endif /* MFLOW_MFLOW_H */
