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

/*
 * ioctl numbers: type (magic) 0xE3, unused in the kernel's
 * Documentation/userspace-api/ioctl/ioctl-number.rst. Numbers in use:
 *   0x01-0x09  console ioctls, on /dev/mflowN (MFLOW_IOC_*)
 *   0x40-0x44  control ioctls, on /dev/mflow-control (MFLOW_CTL_*)
 * 0x0a-0x3f is kept for console ioctls to come and 0x45-0x7f for control
 * ioctls; each file answers ENOTTY to every number it does not define.
 * FIONREAD ('T', 0x1B) is answered on consoles too. See
 * docs/ioctl-numbers.md.
 */
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
 *	the peer's close, in nanoseconds of CLOCK_MONOTONIC; the call fails
 *	with ETIMEDOUT when it runs out, never before. Zero waits not at
 *	all; U64_MAX (or anything past 2^63 - 1) waits as long as it takes.
 *	Without %MFLOW_CLOSE_TIMEOUT it must be zero (EINVAL otherwise).
 * @flags: %MFLOW_CLOSE_TIMEOUT or zero (wait as long as it takes).
 * @reserved: must be zero.
 *
 * A NULL argument waits without a time limit. A signal ends a wait
 * without a time limit with a restart (or EINTR), and a timed one with
 * EINTR (a restart would start the timeout over).
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
/*
 * Never spin in a blocking read for the peer's reply: sleep at once. A
 * console whose traffic is not request/response can opt out of the
 * reply wakeup this way (the module parameter reply_spin turns it off for
 * every console).
 */
#define MFLOW_OPT_NO_REPLY_SPIN	(1U << 1)
#define MFLOW_OPT_ALL		(MFLOW_OPT_NOSIGPIPE | MFLOW_OPT_NO_REPLY_SPIN)

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
/*
 * Busy polling, per endpoint, off (0) by default and at every new
 * connection: a blocking read that finds the stream empty first spins up
 * to this many microseconds for the peer's bytes before it sleeps, trading
 * a busy CPU for a shorter wakeup, as SO_BUSY_POLL does for sockets. It
 * never spins on a machine with one CPU online, and stops at once when
 * another task is runnable on its CPU or a signal is pending. At most
 * MFLOW_BUSY_POLL_MAX; larger is EINVAL.
 */
#define MFLOW_BUSY_POLL_MAX	10000
#define MFLOW_IOC_GET_BUSY_POLL	_IOR(MFLOW_IOC_MAGIC, 8, __u32)
#define MFLOW_IOC_SET_BUSY_POLL	_IOW(MFLOW_IOC_MAGIC, 9, __u32)

/*
 * The control device, /dev/mflow-control: creates, removes and describes
 * consoles at run time, as /dev/loop-control does for loop devices. Every
 * call is all or nothing: a refused call changes nothing.
 */

/* Bumped whenever a control or console ioctl changes incompatibly. */
#define MFLOW_CTL_ABI		1

/*
 * Console names: 1..MFLOW_NAME_MAX-1 bytes of ASCII [A-Za-z0-9._-],
 * NUL-ended; the first a letter, digit or '_'; not all digits and not
 * "mflow" followed by digits.
 */
#define MFLOW_NAME_MAX		32

/* An index field meaning "any free index" (ADD) or "select by name". */
#define MFLOW_CTL_ANY		0xffffffffU

/**
 * struct mflow_ctl_version - argument of MFLOW_CTL_VERSION
 * @version: the module's version, (major << 16) | (minor << 8) | patch.
 * @abi: the module's %MFLOW_CTL_ABI; a tool built with another one should
 *	refuse to drive it.
 * @consoles: consoles that exist now.
 * @max_consoles: the most that may exist (module parameter max_consoles).
 */
struct mflow_ctl_version {
	__u32 version;
	__u32 abi;
	__u32 consoles;
	__u32 max_consoles;
};

/**
 * struct mflow_ctl_add - argument of MFLOW_CTL_ADD
 * @index: in: the index wanted, or %MFLOW_CTL_ANY for the lowest free one;
 *	out: the index of the new console (also the ioctl's return value).
 * @fifo_size: bytes per direction, rounded up to a power of two; 0 takes
 *	the module's fifo_size parameter. Out: the size in use.
 * @flags: zero.
 * @reserved: zero.
 * @name: empty for no name, else a unique name (see %MFLOW_NAME_MAX).
 *
 * Fails with EEXIST when the index or the name is taken, EINVAL for a bad
 * name, size or index, ENOSPC when max_consoles consoles exist.
 */
struct mflow_ctl_add {
	__u32 index;
	__u32 fifo_size;
	__u32 flags;
	__u32 reserved;
	char name[MFLOW_NAME_MAX];
};

/**
 * struct mflow_ctl_id - argument of MFLOW_CTL_REMOVE
 * @index: the console's index, or %MFLOW_CTL_ANY to select it by @name.
 * @reserved: zero.
 * @name: with @index %MFLOW_CTL_ANY, the console's name; else empty.
 */
struct mflow_ctl_id {
	__u32 index;
	__u32 reserved;
	char name[MFLOW_NAME_MAX];
};

/* struct mflow_ctl_query.state */
#define MFLOW_STATE_IDLE	0	/* no connection: ready for a new one */
#define MFLOW_STATE_CONNECTED	1	/* a connection is live */

/**
 * struct mflow_ctl_query - argument of MFLOW_CTL_QUERY
 * @index: in: the console, or %MFLOW_CTL_ANY to select it by @name;
 *	out: its index.
 * @fifo_size: out: bytes per direction.
 * @name: in: with @index %MFLOW_CTL_ANY, the name; out: the console's
 *	name, empty if it has none.
 * @connection: out: number of the current (or last) connection.
 * @state: out: %MFLOW_STATE_IDLE or %MFLOW_STATE_CONNECTED.
 * @attached: out: bit i set while endpoint i is attached.
 * @used: out: bit i set if endpoint i attached during this connection.
 * @reserved: zero on input; zero on output.
 */
struct mflow_ctl_query {
	__u32 index;
	__u32 fifo_size;
	char name[MFLOW_NAME_MAX];
	__u64 connection;
	__u32 state;
	__u32 attached;
	__u32 used;
	__u32 reserved;
};

/* Control ioctls, on /dev/mflow-control only. */
#define MFLOW_CTL_VERSION	_IOR(MFLOW_IOC_MAGIC, 0x40, struct mflow_ctl_version)
/* Returns the new console's index. */
#define MFLOW_CTL_ADD		_IOWR(MFLOW_IOC_MAGIC, 0x41, struct mflow_ctl_add)
/* EBUSY while the console's connection is live. */
#define MFLOW_CTL_REMOVE	_IOW(MFLOW_IOC_MAGIC, 0x42, struct mflow_ctl_id)
#define MFLOW_CTL_QUERY		_IOWR(MFLOW_IOC_MAGIC, 0x43, struct mflow_ctl_query)
/* Returns the index of an idle console, adding one (unnamed) if none is. */
#define MFLOW_CTL_GET_FREE	_IO(MFLOW_IOC_MAGIC, 0x44)

#endif /* _UAPI_LINUX_MFLOW_H */
