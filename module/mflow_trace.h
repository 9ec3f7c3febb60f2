/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mflow tracepoints: attach, detach, read, write, shutdown and close, each
 * with the console and the endpoint; reads and writes also carry their
 * result (bytes, 0 for EOF, or -errno). They show up as events/mflow/ in
 * tracefs, for trace-cmd, perf and bpftrace, and `mflowctl trace` follows
 * them.
 *
 * The data itself (keystrokes, passwords) stays out of the trace buffer
 * unless root sets the module parameter trace_payload: then reads and
 * writes also carry up to MFLOW_TRACE_PEEK first bytes of it.
 *
 * Off, they cost a static branch each: the data prefix is only copied when
 * the read or write event is enabled and trace_payload is set.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM mflow

/* Types and includes, read once. */
#ifndef _MFLOW_TRACE_TYPES_H
#define _MFLOW_TRACE_TYPES_H

#include <linux/jiffies.h>
#include <linux/sched.h>
#include <linux/tracepoint.h>

#include "mflow_core.h"

/* Most bytes of data a read or write event carries. */
#define MFLOW_TRACE_PEEK	16

/**
 * struct mflow_trace_peek - the first bytes of a read or write, for tracing
 * @len: how many of @data are valid; 0 while the event or trace_payload
 *	is off.
 * @data: the bytes.
 */
struct mflow_trace_peek {
	unsigned int len;
	u8 data[MFLOW_TRACE_PEEK];
};

/* Bytes of @p an event with result @ret records. */
static inline unsigned int mflow_trace_peek_len(const struct mflow_trace_peek *p,
						ssize_t ret)
{
	if (ret <= 0)
		return 0;
	return min3((size_t)p->len, (size_t)ret, (size_t)MFLOW_TRACE_PEEK);
}

#endif /* _MFLOW_TRACE_TYPES_H */

#if !defined(_MFLOW_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _MFLOW_TRACE_H

#include <linux/tracepoint.h>

DECLARE_EVENT_CLASS(mflow_endpoint_class,
	TP_PROTO(const struct mflow_endpoint *ep),
	TP_ARGS(ep),
	TP_STRUCT__entry(
		__field(unsigned int, console)
		__field(unsigned int, ep)
		__field(u64, conn)
	),
	TP_fast_assign(
		__entry->console = ep->con->index;
		__entry->ep = ep->index;
		__entry->conn = ep->con->connection;
	),
	TP_printk("console=%u ep=%u conn=%llu", __entry->console, __entry->ep,
		  __entry->conn)
);

/* An open attached @ep (under the console lock). */
DEFINE_EVENT(mflow_endpoint_class, mflow_attach,
	TP_PROTO(const struct mflow_endpoint *ep),
	TP_ARGS(ep)
);

/* The last close of @ep's file detaches it (under the console lock). */
DEFINE_EVENT(mflow_endpoint_class, mflow_detach,
	TP_PROTO(const struct mflow_endpoint *ep),
	TP_ARGS(ep)
);

DECLARE_EVENT_CLASS(mflow_io_class,
	TP_PROTO(const struct mflow_endpoint *ep, ssize_t ret,
		 const struct mflow_trace_peek *peek),
	TP_ARGS(ep, ret, peek),
	TP_STRUCT__entry(
		__field(unsigned int, console)
		__field(unsigned int, ep)
		__field(long, ret)
		__dynamic_array(u8, data, mflow_trace_peek_len(peek, ret))
	),
	TP_fast_assign(
		__entry->console = ep->con->index;
		__entry->ep = ep->index;
		__entry->ret = ret;
		memcpy(__get_dynamic_array(data), peek->data,
		       mflow_trace_peek_len(peek, ret));
	),
	TP_printk("console=%u ep=%u ret=%ld data=%s", __entry->console,
		  __entry->ep, __entry->ret,
		  __print_hex_str(__get_dynamic_array(data),
				  __get_dynamic_array_len(data)))
);

/* A read(2)/readv(2) on @ep returned @ret: bytes, 0 at EOF, or -errno. */
DEFINE_EVENT(mflow_io_class, mflow_read,
	TP_PROTO(const struct mflow_endpoint *ep, ssize_t ret,
		 const struct mflow_trace_peek *peek),
	TP_ARGS(ep, ret, peek)
);

/* A write(2)/writev(2) on @ep returned @ret: bytes or -errno. */
DEFINE_EVENT(mflow_io_class, mflow_write,
	TP_PROTO(const struct mflow_endpoint *ep, ssize_t ret,
		 const struct mflow_trace_peek *peek),
	TP_ARGS(ep, ret, peek)
);

/* MFLOW_IOC_SHUTDOWN with a valid @how. */
TRACE_EVENT(mflow_shutdown,
	TP_PROTO(const struct mflow_endpoint *ep, unsigned int how),
	TP_ARGS(ep, how),
	TP_STRUCT__entry(
		__field(unsigned int, console)
		__field(unsigned int, ep)
		__field(unsigned int, how)
	),
	TP_fast_assign(
		__entry->console = ep->con->index;
		__entry->ep = ep->index;
		__entry->how = how;
	),
	TP_printk("console=%u ep=%u how=%s", __entry->console, __entry->ep,
		  __print_symbolic(__entry->how,
				   { MFLOW_SHUT_RD, "read" },
				   { MFLOW_SHUT_WR, "write" },
				   { MFLOW_SHUT_RDWR, "both" }))
);

/*
 * MFLOW_IOC_CLOSE began: at most @timeout_ns of waiting for the peer, or
 * %MFLOW_CLOSE_FOREVER (shown as -1).
 */
TRACE_EVENT(mflow_close,
	TP_PROTO(const struct mflow_endpoint *ep, s64 timeout_ns),
	TP_ARGS(ep, timeout_ns),
	TP_STRUCT__entry(
		__field(unsigned int, console)
		__field(unsigned int, ep)
		__field(long, timeout_ms)
	),
	TP_fast_assign(
		__entry->console = ep->con->index;
		__entry->ep = ep->index;
		__entry->timeout_ms = timeout_ns == MFLOW_CLOSE_FOREVER ? -1 :
				      (long)div_s64(max_t(s64, timeout_ns, 0),
						    NSEC_PER_MSEC);
	),
	TP_printk("console=%u ep=%u timeout_ms=%ld", __entry->console,
		  __entry->ep, __entry->timeout_ms)
);

#endif /* _MFLOW_TRACE_H */

/*
 * Helpers for the core's call sites, read once (define_trace.h reads this
 * file again with TRACE_HEADER_MULTI_READ).
 */
#ifndef _MFLOW_TRACE_PEEK_H
#define _MFLOW_TRACE_PEEK_H

/* The trace_payload module parameter (mflow_trace.c). */
extern bool mflow_trace_payload;

/**
 * mflow_trace_payload_on() - whether events may carry payload bytes
 *
 * Return: true once root has set the trace_payload module parameter;
 * false by default, and then read and write events carry no data.
 */
static inline bool mflow_trace_payload_on(void)
{
	return READ_ONCE(mflow_trace_payload);
}

/**
 * mflow_trace_peek_fifo() - note the first bytes a read is about to take
 * @p: where they go.
 * @d: the direction read from; the caller holds @d->rd_lock, so the bytes
 *	from the out index on stay put until it moves that index.
 * @avail: bytes readable now.
 */
static inline void mflow_trace_peek_fifo(struct mflow_trace_peek *p,
					 struct mflow_dir *d,
					 unsigned int avail)
{
	if (!trace_mflow_read_enabled() || !mflow_trace_payload_on())
		return;
	p->len = mflow_dir_peek(d, p->data, min_t(unsigned int, avail,
						  MFLOW_TRACE_PEEK));
}

/**
 * mflow_trace_peek_iter() - note the first bytes a write is about to send
 * @p: where they go.
 * @from: the write's source; a copy of it is advanced, not @from.
 */
static inline void mflow_trace_peek_iter(struct mflow_trace_peek *p,
					 const struct iov_iter *from)
{
	struct iov_iter it;

	if (!trace_mflow_write_enabled() || !mflow_trace_payload_on())
		return;
	it = *from;
	p->len = copy_from_iter(p->data,
				min_t(size_t, iov_iter_count(&it),
				      MFLOW_TRACE_PEEK), &it);
}

#endif /* _MFLOW_TRACE_PEEK_H */

/* Out of tree: define_trace.h finds this file through -I$(src)/module. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE mflow_trace
#include <trace/define_trace.h>
