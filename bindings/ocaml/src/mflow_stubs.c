// SPDX-License-Identifier: GPL-2.0
/*
 * The mflow ioctls for OCaml. Each stub is one non-blocking system call
 * (the descriptors are O_NONBLOCK, and MFLOW_IOC_SHUTDOWN never blocks),
 * so none releases the runtime lock; failures raise Unix.Unix_error.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/mflow.h>

#include <caml/alloc.h>
#include <caml/fail.h>
#include <caml/memory.h>
#include <caml/mlvalues.h>
#include <caml/unixsupport.h>

/* how: 0 read, 1 write, 2 both (the order of Mflow_lwt's variant). */
value caml_mflow_shutdown(value fd, value how)
{
	static const uint32_t hows[] = {
		MFLOW_SHUT_RD, MFLOW_SHUT_WR, MFLOW_SHUT_RDWR
	};
	uint32_t h = hows[Int_val(how)];

	if (ioctl(Int_val(fd), MFLOW_IOC_SHUTDOWN, &h))
		uerror("MFLOW_IOC_SHUTDOWN", Nothing);
	return Val_unit;
}

/*
 * One try of the close handshake (R9) on an O_NONBLOCK descriptor: true
 * once the peer has closed too, false while it has not (EAGAIN).
 */
value caml_mflow_close_try(value fd)
{
	struct mflow_close_args args = { 0 };

	if (!ioctl(Int_val(fd), MFLOW_IOC_CLOSE, &args))
		return Val_true;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return Val_false;
	uerror("MFLOW_IOC_CLOSE", Nothing);
}

/* Ask for EPIPE without SIGPIPE: OCaml programs keep SIGPIPE's default. */
value caml_mflow_nosigpipe(value fd)
{
	uint32_t opts;

	if (ioctl(Int_val(fd), MFLOW_IOC_GET_OPTS, &opts))
		uerror("MFLOW_IOC_GET_OPTS", Nothing);
	opts |= MFLOW_OPT_NOSIGPIPE;
	if (ioctl(Int_val(fd), MFLOW_IOC_SET_OPTS, &opts))
		uerror("MFLOW_IOC_SET_OPTS", Nothing);
	return Val_unit;
}

/*
 * An epoll descriptor for the close handshake's wait. The console polls
 * POLLIN while unread bytes wait and POLLERR once its own write side is
 * shut, so a level-triggered watch of it would spin. This is an
 * edge-triggered entry for no event but the ones epoll always reports
 * (EPOLLHUP, EPOLLERR): it is woken by each shutdown or detach of either
 * endpoint (those wakeups carry no event mask), not by bytes moving, and
 * the descriptor polls readable from such a wakeup until
 * caml_mflow_edge_take() takes it.
 */
value caml_mflow_edge_watch(value fd)
{
	struct epoll_event ev = { .events = EPOLLET };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		uerror("epoll_create1", Nothing);
	if (epoll_ctl(ep, EPOLL_CTL_ADD, Int_val(fd), &ev)) {
		int err = errno;

		close(ep);
		unix_error(err, "epoll_ctl", Nothing);
	}
	return Val_int(ep);
}

value caml_mflow_edge_take(value ep)
{
	struct epoll_event ev;

	if (epoll_wait(Int_val(ep), &ev, 1, 0) < 0 && errno != EINTR)
		uerror("epoll_wait", Nothing);
	return Val_unit;
}

/* (console, endpoint, connection, fifo_size, flags) */
value caml_mflow_info(value fd)
{
	CAMLparam1(fd);
	CAMLlocal2(res, conn);
	struct mflow_info info;

	if (ioctl(Int_val(fd), MFLOW_IOC_INFO, &info))
		uerror("MFLOW_IOC_INFO", Nothing);
	conn = caml_copy_int64((int64_t)info.connection);
	res = caml_alloc_tuple(5);
	Store_field(res, 0, Val_long(info.console));
	Store_field(res, 1, Val_long(info.endpoint));
	Store_field(res, 2, conn);
	Store_field(res, 3, Val_long(info.fifo_size));
	Store_field(res, 4, Val_long(info.flags));
	CAMLreturn(res);
}

/* (read_bytes, read_ops, write_bytes, write_ops, age_ns) */
value caml_mflow_stats(value fd)
{
	CAMLparam1(fd);
	CAMLlocal2(res, n);
	struct mflow_stats s;
	uint64_t v[5];
	int i;

	if (ioctl(Int_val(fd), MFLOW_IOC_STATS, &s))
		uerror("MFLOW_IOC_STATS", Nothing);
	v[0] = s.read_bytes;
	v[1] = s.read_ops;
	v[2] = s.write_bytes;
	v[3] = s.write_ops;
	v[4] = s.age_ns;
	res = caml_alloc_tuple(5);
	for (i = 0; i < 5; i++) {
		n = caml_copy_int64((int64_t)v[i]);
		Store_field(res, i, n);
	}
	CAMLreturn(res);
}

/* The MFLOW_INFO_* bits, so that OCaml needs no copy of them. */
value caml_mflow_info_bits(value unit)
{
	CAMLparam1(unit);
	CAMLlocal1(res);
	static const uint32_t bits[] = {
		MFLOW_INFO_RD_SHUT, MFLOW_INFO_WR_SHUT, MFLOW_INFO_PEER_RD_SHUT,
		MFLOW_INFO_PEER_WR_SHUT, MFLOW_INFO_PEER_ATTACHED,
		MFLOW_INFO_PEER_DETACHED, MFLOW_INFO_NOSIGPIPE,
	};
	unsigned int i;

	res = caml_alloc_tuple(sizeof(bits) / sizeof(bits[0]));
	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		Store_field(res, i, Val_long(bits[i]));
	CAMLreturn(res);
}
