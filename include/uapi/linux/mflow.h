/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mflow: console flow devices, /dev/mflowN.
 *
 * Each console is a bidirectional byte stream between two endpoints. The
 * first open(2) of an idle console attaches endpoint 0, the next endpoint 1;
 * a third open while the connection is live fails with EBUSY. read(2),
 * readv(2), write(2) and writev(2) move bytes; the ioctls below add
 * half-close, the close handshake and introspection.
 *
 * All structures use fixed-size fields with the same layout for 32-bit and
 * 64-bit callers.
 */
#ifndef _UAPI_LINUX_MFLOW_H
#define _UAPI_LINUX_MFLOW_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define MFLOW_IOC_MAGIC		0xE3

/* Directions for MFLOW_IOC_SHUTDOWN, as for shutdown(2). */
#define MFLOW_SHUT_RD		0
#define MFLOW_SHUT_WR		1
#define MFLOW_SHUT_RDWR		2

/* struct mflow_close_args.flags */
#define MFLOW_CLOSE_TIMEOUT	(1U << 0)	/* timeout_ns is valid */

/**
 * struct mflow_close_args - argument of MFLOW_IOC_CLOSE
 * @timeout_ns: with %MFLOW_CLOSE_TIMEOUT, the longest time to wait for
 *	the peer's close, in nanoseconds; the call fails with ETIMEDOUT when
 *	it runs out. Zero waits not at all.
 * @flags: %MFLOW_CLOSE_TIMEOUT or zero (wait as long as it takes).
 * @reserved: must be zero.
 *
 * A NULL argument waits without a time limit.
 */
struct mflow_close_args {
	__u64 timeout_ns;
	__u32 flags;
	__u32 reserved;
};

/* struct mflow_info.flags: state of both endpoints of the console. */
#define MFLOW_INFO_RD_SHUT	(1U << 0)	/* local read side shut */
#define MFLOW_INFO_WR_SHUT	(1U << 1)	/* local write side shut */
#define MFLOW_INFO_PEER_RD_SHUT	(1U << 2)	/* peer read side shut or gone */
#define MFLOW_INFO_PEER_WR_SHUT	(1U << 3)	/* peer write side shut or gone */
#define MFLOW_INFO_PEER_ATTACHED (1U << 4)	/* peer endpoint attached now */
#define MFLOW_INFO_PEER_DETACHED (1U << 5)	/* peer attached, then left */
#define MFLOW_INFO_NOSIGPIPE	(1U << 6)	/* EPIPE without SIGPIPE */

/**
 * struct mflow_info - argument of MFLOW_IOC_INFO
 * @console: console index, the N of /dev/mflowN.
 * @endpoint: endpoint index of this file, 0 or 1.
 * @connection: connection number on this console, counting from 1 since
 *	the module was loaded.
 * @fifo_size: bytes buffered per direction.
 * @flags: MFLOW_INFO_* bits.
 * @reserved: zero.
 */
struct mflow_info {
	__u32 console;
	__u32 endpoint;
	__u64 connection;
	__u32 fifo_size;
	__u32 flags;
	__u64 reserved;
};

/**
 * struct mflow_stats - argument of MFLOW_IOC_STATS, for this endpoint
 * @read_bytes: bytes this endpoint has read.
 * @read_ops: read calls that returned at least one byte.
 * @write_bytes: bytes this endpoint has written.
 * @write_ops: write calls that moved at least one byte.
 * @age_ns: time since the connection began, in nanoseconds.
 */
struct mflow_stats {
	__u64 read_bytes;
	__u64 read_ops;
	__u64 write_bytes;
	__u64 write_ops;
	__u64 age_ns;
};

/* Endpoint options for MFLOW_IOC_GET_OPTS / MFLOW_IOC_SET_OPTS. */
#define MFLOW_OPT_NOSIGPIPE	(1U << 0)	/* EPIPE without SIGPIPE */
#define MFLOW_OPT_ALL		MFLOW_OPT_NOSIGPIPE

/* how: MFLOW_SHUT_RD, MFLOW_SHUT_WR or MFLOW_SHUT_RDWR. Never blocks. */
#define MFLOW_IOC_SHUTDOWN	_IOW(MFLOW_IOC_MAGIC, 1, __u32)
/* Shut the write side, then wait for the peer's close. */
#define MFLOW_IOC_CLOSE		_IOW(MFLOW_IOC_MAGIC, 2, struct mflow_close_args)
/* Bytes this endpoint wrote that the peer has not read yet. */
#define MFLOW_IOC_OUTQ		_IOR(MFLOW_IOC_MAGIC, 3, __u32)
#define MFLOW_IOC_INFO		_IOR(MFLOW_IOC_MAGIC, 4, struct mflow_info)
#define MFLOW_IOC_STATS		_IOR(MFLOW_IOC_MAGIC, 5, struct mflow_stats)
#define MFLOW_IOC_GET_OPTS	_IOR(MFLOW_IOC_MAGIC, 6, __u32)
#define MFLOW_IOC_SET_OPTS	_IOW(MFLOW_IOC_MAGIC, 7, __u32)

#endif /* _UAPI_LINUX_MFLOW_H */
