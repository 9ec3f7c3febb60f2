// SPDX-License-Identifier: GPL-2.0
/*
 * mflow readiness from user space (R11): the poll mask of both endpoints
 * in each state of a connection, seen alike by poll(2), select(2) and
 * epoll; wakeups of blocked pollers; one edge-triggered epoll event per
 * transition.
 */
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/select.h>

#include "mflow_test.h"

#define IN	(POLLIN | POLLRDNORM)
#define OUT	(POLLOUT | POLLWRNORM)
#define RDHUP	POLLRDHUP
#define ERR	POLLERR
#define HUP	POLLHUP
/* Events asked for; POLLERR and POLLHUP always come. */
#define EV	(IN | OUT | RDHUP)

static short revents(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = EV };

	return poll(&pfd, 1, 0) < 0 ? -1 : pfd.revents;
}

/* The epoll (level-triggered) view of @fd: its events, or 0. */
static short epoll_revents(int fd)
{
	struct epoll_event ev = { .events = EV }, out = {};
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int n;

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		return -1;
	n = epoll_wait(ep, &out, 1, 0);
	close(ep);
	return n == 1 ? (short)out.events : n == 0 ? 0 : -1;
}

/* The select view of @fd: bit 0 readable, bit 1 writable. */
static int select_bits(int fd)
{
	struct timeval zero = {};
	fd_set rd, wr;

	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(fd, &rd);
	FD_SET(fd, &wr);
	if (select(fd + 1, &rd, &wr, NULL, &zero) < 0)
		return -1;
	return FD_ISSET(fd, &rd) | FD_ISSET(fd, &wr) << 1;
}

FIXTURE(mflow_poll)
{
	char path[32];
	int fd[2];		/* endpoint 0, endpoint 1 */
	unsigned int fifo;	/* bytes per direction, from MFLOW_IOC_INFO */
	int ep;			/* an epoll instance, or -1 */
};

FIXTURE_SETUP(mflow_poll)
{
	self->fd[0] = -1;
	self->fd[1] = -1;
	self->ep = -1;
	mflow_path(self->path, sizeof(self->path), 0);
	if (access(self->path, F_OK))
		SKIP(return, "%s missing: is mflow loaded?", self->path);
	sigpipe_block();
	mflow_open_pair(_metadata, self->path, O_RDWR, O_RDWR, self->fd);
	self->fifo = fifo_size(_metadata, self->fd[0]);
	self->ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, self->ep);
}

FIXTURE_TEARDOWN(mflow_poll)
{
	close_fd(&self->ep);
	close_fd(&self->fd[0]);
	close_fd(&self->fd[1]);
}

/* ---- the mask in each state ---- */

FIXTURE(mflow_poll_state)
{
	char path[32];
	int fd[2];
};

/*
 * One state of a connection: what each endpoint does, in this order
 * (send a byte, fill its outbound fifo, shut down), whether endpoint 1
 * then detaches, and the mask each endpoint must show. Bits in @dontcare
 * are not checked (where the contract leaves them open).
 */
FIXTURE_VARIANT(mflow_poll_state)
{
	bool send[2];
	bool fill[2];
	int shut[2];		/* MFLOW_SHUT_*, or -1 */
	bool detach1;
	short want[2];
	short dontcare[2];
};

FIXTURE_VARIANT_ADD(mflow_poll_state, fresh)
{
	.shut = { -1, -1 },
	.want = { OUT, OUT },
};

FIXTURE_VARIANT_ADD(mflow_poll_state, data_for_1)
{
	.send = { true, false },
	.shut = { -1, -1 },
	.want = { OUT, IN | OUT },
};

FIXTURE_VARIANT_ADD(mflow_poll_state, fifo_0_to_1_full)
{
	.fill = { true, false },
	.shut = { -1, -1 },
	.want = { 0, IN | OUT },
};

FIXTURE_VARIANT_ADD(mflow_poll_state, shut_wr_0)
{
	.shut = { MFLOW_SHUT_WR, -1 },
	.want = { OUT, IN | RDHUP | OUT },
};

FIXTURE_VARIANT_ADD(mflow_poll_state, data_then_shut_wr_0)
{
	.send = { true, false },
	.shut = { MFLOW_SHUT_WR, -1 },
	.want = { OUT, IN | RDHUP | OUT },
};

FIXTURE_VARIANT_ADD(mflow_poll_state, full_then_shut_wr_0)
{
	.fill = { true, false },
	.shut = { MFLOW_SHUT_WR, -1 },
	.want = { OUT, IN | RDHUP | OUT },
};

FIXTURE_VARIANT_ADD(mflow_poll_state, shut_rd_0)
{
	.shut = { MFLOW_SHUT_RD, -1 },
	.want = { IN | OUT, OUT },
	.dontcare = { RDHUP, 0 },
};

FIXTURE_VARIANT_ADD(mflow_poll_state, full_then_shut_rd_1)
{
	.fill = { true, false },
	.shut = { -1, MFLOW_SHUT_RD },
	.want = { OUT, IN | OUT },
	.dontcare = { 0, RDHUP },
};

FIXTURE_VARIANT_ADD(mflow_poll_state, shut_rdwr_0)
{
	.shut = { MFLOW_SHUT_RDWR, -1 },
	.want = { IN | OUT, IN | RDHUP | OUT | HUP },
	.dontcare = { RDHUP, 0 },
};

FIXTURE_VARIANT_ADD(mflow_poll_state, shut_wr_both)
{
	.shut = { MFLOW_SHUT_WR, MFLOW_SHUT_WR },
	.want = { IN | RDHUP | OUT | HUP, IN | RDHUP | OUT | HUP },
};

FIXTURE_VARIANT_ADD(mflow_poll_state, shut_wr_0_shut_rd_1)
{
	.shut = { MFLOW_SHUT_WR, MFLOW_SHUT_RD },
	.want = { OUT, IN | RDHUP | OUT },
};

FIXTURE_VARIANT_ADD(mflow_poll_state, detach_1)
{
	.shut = { -1, -1 },
	.detach1 = true,
	.want = { IN | RDHUP | OUT | ERR | HUP, 0 },
};

FIXTURE_VARIANT_ADD(mflow_poll_state, data_then_detach_1)
{
	.send = { false, true },
	.shut = { -1, -1 },
	.detach1 = true,
	.want = { IN | RDHUP | OUT | ERR | HUP, 0 },
};

FIXTURE_SETUP(mflow_poll_state)
{
	int i;

	self->fd[0] = -1;
	self->fd[1] = -1;
	mflow_path(self->path, sizeof(self->path), 0);
	if (access(self->path, F_OK))
		SKIP(return, "%s missing: is mflow loaded?", self->path);
	mflow_open_pair(_metadata, self->path, O_RDWR, O_RDWR, self->fd);
	for (i = 0; i < 2; i++) {
		if (variant->send[i])
			ASSERT_EQ(1, write(self->fd[i], "s", 1));
		if (variant->fill[i])
			ASSERT_LT(0U, fill_fifo(self->fd[i], 0));
	}
	for (i = 0; i < 2; i++)
		if (variant->shut[i] >= 0)
			ASSERT_EQ(0, shut(self->fd[i], variant->shut[i]));
	if (variant->detach1)
		close_fd(&self->fd[1]);
}

FIXTURE_TEARDOWN(mflow_poll_state)
{
	close_fd(&self->fd[0]);
	close_fd(&self->fd[1]);
}

/* poll, epoll and select all report the mask the contract gives. */
TEST_F(mflow_poll_state, R11_poll_epoll_select_masks)
{
	int i, want_sel;
	short mask, want;

	for (i = 0; i < 2; i++) {
		if (self->fd[i] < 0)
			continue;
		mask = ~variant->dontcare[i];
		want = variant->want[i] & mask;
		EXPECT_EQ(want, revents(self->fd[i]) & mask)
			TH_LOG("poll, endpoint %d: 0x%x", i,
			       revents(self->fd[i]));
		EXPECT_EQ(want, epoll_revents(self->fd[i]) & mask)
			TH_LOG("epoll, endpoint %d: 0x%x", i,
			       epoll_revents(self->fd[i]));
		want_sel = ((want & (IN | ERR | HUP)) != 0) |
			   ((want & (OUT | ERR)) != 0) << 1;
		EXPECT_EQ(want_sel, select_bits(self->fd[i]))
			TH_LOG("select, endpoint %d", i);
	}
}

/* ---- POLLOUT threshold ---- */

/* POLLOUT needs PIPE_BUF bytes of room: 4095 is not enough. */
TEST_F(mflow_poll, R11_pollout_needs_pipe_buf_room)
{
	ASSERT_EQ(self->fifo, fill_fifo(self->fd[0], 0));
	EXPECT_EQ(0, revents(self->fd[0]));
	ASSERT_EQ(0, drain_pat(self->fd[1], 0, MFLOW_PIPE_BUF - 1));
	EXPECT_EQ(0, revents(self->fd[0]));
	ASSERT_EQ(0, drain_pat(self->fd[1], MFLOW_PIPE_BUF - 1, 1));
	EXPECT_EQ(OUT, revents(self->fd[0]));
}

/* ---- blocked pollers wake ---- */

/*
 * A poller thread: it blocks in poll(2), select(2) or epoll_wait(2) on one
 * fd (or epoll instance) for up to 10 s and records what woke it. Each
 * wake test proves the poller asleep (wait_blocked()) before it makes
 * the event happen.
 */
enum wait_kind { W_POLL, W_SELECT, W_EPOLL };

struct poller {
	enum wait_kind kind;
	int fd;			/* the fd, or the epoll instance */
	short events;		/* W_POLL */
	pid_t tid;
	int ret;
	short revents;		/* W_POLL */
	bool readable;		/* W_SELECT */
	__u32 epoll_events;	/* W_EPOLL */
};

static void *poller_thread(void *arg)
{
	struct poller *w = arg;
	struct timeval tv = { .tv_sec = 10 };
	struct pollfd pfd = { .fd = w->fd, .events = w->events };
	struct epoll_event ev = {};
	fd_set rd;

	__atomic_store_n(&w->tid, gettid(), __ATOMIC_SEQ_CST);
	switch (w->kind) {
	case W_POLL:
		w->ret = poll(&pfd, 1, 10000);
		w->revents = pfd.revents;
		break;
	case W_SELECT:
		FD_ZERO(&rd);
		FD_SET(w->fd, &rd);
		w->ret = select(w->fd + 1, &rd, NULL, NULL, &tv);
		w->readable = FD_ISSET(w->fd, &rd);
		break;
	case W_EPOLL:
		w->ret = epoll_wait(w->fd, &ev, 1, 10000);
		w->epoll_events = ev.events;
		break;
	}
	return NULL;
}

/* Start @w and return once it sleeps in the kernel. */
static void start_poller(struct __test_metadata *_metadata, pthread_t *th,
			 struct poller *w)
{
	ASSERT_EQ(0, pthread_create(th, NULL, poller_thread, w));
	while (!__atomic_load_n(&w->tid, __ATOMIC_SEQ_CST))
		sleep_ms(1);
	ASSERT_TRUE(wait_blocked(w->tid));
}

enum peer_op { PEER_WRITE, PEER_DRAIN, PEER_SHUT_WR, PEER_DETACH };

/* Endpoint 1 does @op; for PEER_DETACH the test's only fd of it closes. */
static void peer_does(struct __test_metadata *_metadata,
		      FIXTURE_DATA(mflow_poll) *self, enum peer_op op)
{
	switch (op) {
	case PEER_WRITE:
		ASSERT_EQ(1, write(self->fd[1], "w", 1));
		break;
	case PEER_DRAIN:
		ASSERT_EQ(0, drain_pat(self->fd[1], 0, self->fifo));
		break;
	case PEER_SHUT_WR:
		ASSERT_EQ(0, shut(self->fd[1], MFLOW_SHUT_WR));
		break;
	case PEER_DETACH:
		close_fd(&self->fd[1]);
		break;
	}
}

/* poll(2) on endpoint 0 for @events, asleep before endpoint 1 does @op. */
static short poll_woken_by(struct __test_metadata *_metadata,
			   FIXTURE_DATA(mflow_poll) *self, short events,
			   enum peer_op op)
{
	struct poller w = { .kind = W_POLL, .fd = self->fd[0],
			    .events = events };
	pthread_t th;

	start_poller(_metadata, &th, &w);
	peer_does(_metadata, self, op);
	pthread_join(th, NULL);
	return w.ret == 1 ? w.revents : -1;
}

TEST_F(mflow_poll, R11_poll_wakes_on_data)
{
	EXPECT_EQ(IN, poll_woken_by(_metadata, self, IN, PEER_WRITE));
}

TEST_F(mflow_poll, R11_poll_wakes_on_room)
{
	ASSERT_EQ(self->fifo, fill_fifo(self->fd[0], 0));
	EXPECT_EQ(OUT, poll_woken_by(_metadata, self, OUT, PEER_DRAIN));
}

TEST_F(mflow_poll, R11_poll_wakes_on_peer_shut_wr)
{
	EXPECT_EQ(IN | RDHUP,
		  poll_woken_by(_metadata, self, IN | RDHUP, PEER_SHUT_WR));
}

/* POLLERR and POLLHUP come after a peer detach even when not asked. */
TEST_F(mflow_poll, R11_err_hup_reported_unasked)
{
	struct pollfd pfd = { .fd = self->fd[0], .events = OUT };

	close_fd(&self->fd[1]);
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(OUT | ERR | HUP, pfd.revents);
}

TEST_F(mflow_poll, R11_poll_blocked_wakes_on_peer_detach)
{
	ASSERT_EQ(self->fifo, fill_fifo(self->fd[0], 0));
	EXPECT_EQ(OUT | ERR | HUP,
		  poll_woken_by(_metadata, self, OUT, PEER_DETACH));
}

TEST_F(mflow_poll, R11_select_wakes_on_data)
{
	struct poller w = { .kind = W_SELECT, .fd = self->fd[0] };
	pthread_t th;

	start_poller(_metadata, &th, &w);
	peer_does(_metadata, self, PEER_WRITE);
	pthread_join(th, NULL);
	EXPECT_EQ(1, w.ret);
	EXPECT_TRUE(w.readable);
}

TEST_F(mflow_poll, R11_epoll_wait_wakes_on_data)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct poller w = { .kind = W_EPOLL, .fd = self->ep };
	pthread_t th;

	ASSERT_EQ(0, epoll_ctl(self->ep, EPOLL_CTL_ADD, self->fd[0], &ev));
	start_poller(_metadata, &th, &w);
	peer_does(_metadata, self, PEER_WRITE);
	pthread_join(th, NULL);
	EXPECT_EQ(1, w.ret);
	EXPECT_EQ((__u32)EPOLLIN, w.epoll_events);
}

/* ---- edge-triggered epoll ---- */

static void add_et(struct __test_metadata *_metadata, int ep, int fd,
		   __u32 events)
{
	struct epoll_event ev = { .events = events | EPOLLET };

	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
}

/* Events of the next epoll edge within @ms, 0 if none, ~0 on error. */
static __u32 edge(int ep, int ms)
{
	struct epoll_event out[2];
	int n = epoll_wait(ep, out, 2, ms);

	return n == 1 ? out[0].events : n == 0 ? 0 : ~0U;
}

/* Each time data lands in the drained stream, one EPOLLIN edge. */
TEST_F(mflow_poll, R11_epoll_et_edge_per_arrival)
{
	char buf[4];
	int round;

	add_et(_metadata, self->ep, self->fd[1], EPOLLIN);
	EXPECT_EQ(0U, edge(self->ep, 0));
	for (round = 0; round < 3; round++) {
		ASSERT_EQ(2, write(self->fd[0], "ab", 2));
		EXPECT_EQ((__u32)EPOLLIN, edge(self->ep, 5000));
		EXPECT_EQ(0U, edge(self->ep, 0));
		ASSERT_EQ(2, read(self->fd[1], buf, sizeof(buf)));
		EXPECT_EQ(0U, edge(self->ep, 0));
	}
}

/*
 * After the fifo filled up, one EPOLLOUT edge comes when the room is
 * back to PIPE_BUF, even if the reader frees it in small steps.
 */
TEST_F(mflow_poll, R11_epoll_et_out_edge_when_room_returns)
{
	int i;

	add_et(_metadata, self->ep, self->fd[0], EPOLLOUT);
	EXPECT_EQ((__u32)EPOLLOUT, edge(self->ep, 0));
	EXPECT_EQ(0U, edge(self->ep, 0));
	ASSERT_EQ(self->fifo, fill_fifo(self->fd[0], 0));
	EXPECT_EQ(0U, edge(self->ep, 0));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, drain_pat(self->fd[1], i * 1000, 1000));
		EXPECT_EQ(0U, edge(self->ep, 0));
	}
	ASSERT_EQ(0, drain_pat(self->fd[1], 4000, 1000));
	EXPECT_EQ((__u32)EPOLLOUT, edge(self->ep, 5000));
	EXPECT_EQ(0U, edge(self->ep, 0));
}

/* The peer's write shutdown is one edge: EPOLLIN (EOF) and EPOLLRDHUP. */
TEST_F(mflow_poll, R11_epoll_et_rdhup_edge)
{
	add_et(_metadata, self->ep, self->fd[1], EPOLLIN | EPOLLRDHUP);
	EXPECT_EQ(0U, edge(self->ep, 0));
	ASSERT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	EXPECT_EQ((__u32)(EPOLLIN | EPOLLRDHUP), edge(self->ep, 5000));
	EXPECT_EQ(0U, edge(self->ep, 0));
}

/* A detach is an edge for a peer that waits edge-triggered. */
TEST_F(mflow_poll, R11_epoll_et_edge_on_peer_detach)
{
	struct poller w = { .kind = W_EPOLL, .fd = self->ep };
	pthread_t th;

	add_et(_metadata, self->ep, self->fd[0], EPOLLIN | EPOLLRDHUP);
	EXPECT_EQ(0U, edge(self->ep, 0));
	start_poller(_metadata, &th, &w);
	peer_does(_metadata, self, PEER_DETACH);
	pthread_join(th, NULL);
	EXPECT_EQ(1, w.ret);
	EXPECT_EQ((__u32)(EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP),
		  w.epoll_events);
}

/* ---- poll agrees with the call, whoever else uses the endpoint ---- */

/*
 * A blocking writer sleeps in the middle of a write larger than the fifo
 * (R6 keeps its bytes contiguous). Meanwhile the fd turns O_NONBLOCK and
 * the reader frees more than PIPE_BUF: poll must say what a non-blocking
 * write then does, and an edge-triggered waiter must get its EPOLLOUT
 * edge whenever poll turns writable. The stream holds the blocked write
 * alone, intact.
 */
TEST_F(mflow_poll, R6_R11_poll_agrees_with_nonblock_write_beside_blocked_writer)
{
	size_t len = 2 * (size_t)self->fifo;
	struct blocked_io b = { .fd = self->fd[0], .len = len };
	uint8_t *buf = malloc(len), *in = malloc(len);
	uint8_t small[MFLOW_PIPE_BUF];
	bool out, wrote;
	pthread_t th;
	ssize_t r;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, in);
	pat_fill(buf, 0, len);
	b.buf = buf;
	memset(small, 'X', sizeof(small));
	add_et(_metadata, self->ep, self->fd[0], EPOLLOUT);
	EXPECT_EQ((__u32)EPOLLOUT, edge(self->ep, 0));

	start_blocked(_metadata, &th, blocked_write_thread, &b);
	ASSERT_EQ(0, set_nonblock(self->fd[0], true));
	EXPECT_EQ(0U, edge(self->ep, 0));
	ASSERT_EQ(0, drain_pat(self->fd[1], 0, 2 * MFLOW_PIPE_BUF));

	out = revents(self->fd[0]) & POLLOUT;
	EXPECT_EQ(out ? (__u32)EPOLLOUT : 0U, edge(self->ep, 0))
		TH_LOG("poll says %swritable", out ? "" : "not ");
	r = write(self->fd[0], small, sizeof(small));
	wrote = r == (ssize_t)sizeof(small);
	EXPECT_EQ(out, wrote) TH_LOG("poll %s POLLOUT, write: %zd (%s)",
				     out ? "has" : "lacks", r,
				     r < 0 ? strerror(errno) : "bytes");
	if (!wrote)
		EXPECT_EQ(EAGAIN, errno);

	/* the blocked write completes, contiguous and intact */
	ASSERT_EQ(0, drain_pat(self->fd[1], 2 * MFLOW_PIPE_BUF,
			       len - 2 * MFLOW_PIPE_BUF));
	pthread_join(th, NULL);
	EXPECT_EQ((ssize_t)len, b.ret);
	EXPECT_EQ(wrote ? (long)sizeof(small) : 0, fionread(self->fd[1]));
	/* the writer is done: writable, and the edge says so */
	EXPECT_TRUE(revents(self->fd[0]) & POLLOUT);
	EXPECT_TRUE(edge(self->ep, 5000) & EPOLLOUT);
	EXPECT_EQ((ssize_t)sizeof(small),
		  write(self->fd[0], small, sizeof(small)));
	free(buf);
	free(in);
}

struct epoll_reader {
	int ep, fd;
	pid_t tid;
	int n;
	ssize_t ret;
	int err;
	char c;
};

static void *epoll_then_read_thread(void *arg)
{
	struct epoll_reader *e = arg;
	struct epoll_event ev;

	__atomic_store_n(&e->tid, gettid(), __ATOMIC_SEQ_CST);
	e->n = epoll_wait(e->ep, &ev, 1, 20000);
	e->ret = read(e->fd, &e->c, 1);
	e->err = errno;
	return NULL;
}

/*
 * A thread sleeps in a blocking read; the fd then turns O_NONBLOCK and an
 * event loop waits on it with EPOLLEXCLUSIVE, ahead of the reader on the
 * wait queue. Data arrives: the loop is told, and its non-blocking read
 * must get the byte rather than EAGAIN (which would leave the data unread
 * with both asleep). The blocked reader gets the next byte.
 */
TEST_F(mflow_poll, R3_R11_epollexclusive_loop_beside_blocked_reader)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	struct epoll_reader e = { .ep = self->ep, .fd = self->fd[1] };
	char c = 0;
	struct blocked_io b = { .fd = self->fd[1], .buf = &c, .len = 1 };
	pthread_t tb, te;

	ASSERT_EQ(0, epoll_ctl(self->ep, EPOLL_CTL_ADD, self->fd[1], &ev));
	start_blocked(_metadata, &tb, blocked_read_thread, &b);
	ASSERT_EQ(0, set_nonblock(self->fd[1], true));
	ASSERT_EQ(0, pthread_create(&te, NULL, epoll_then_read_thread, &e));
	while (!__atomic_load_n(&e.tid, __ATOMIC_SEQ_CST))
		sleep_ms(1);
	ASSERT_TRUE(wait_blocked(e.tid));

	ASSERT_EQ(1, write(self->fd[0], "a", 1));
	pthread_join(te, NULL);
	EXPECT_EQ(1, e.n);
	EXPECT_EQ(1, e.ret) TH_LOG("loop's read: %s", strerror(e.err));
	EXPECT_EQ('a', e.c);

	ASSERT_EQ(1, write(self->fd[0], "b", 1));
	pthread_join(tb, NULL);
	EXPECT_EQ(1, b.ret);
	EXPECT_EQ(e.ret == 1 ? 'b' : 'a', c);
	EXPECT_EQ(e.ret == 1 ? 0 : 1, fionread(self->fd[1]));
}

/* ---- R9 through poll: the close handshake of an event loop ---- */

struct epoll_waiter {
	int ep;
	pid_t tid;
	int n;
	struct epoll_event ev;
};

static void *epoll_wait_thread(void *arg)
{
	struct epoll_waiter *w = arg;

	__atomic_store_n(&w->tid, gettid(), __ATOMIC_SEQ_CST);
	w->n = epoll_wait(w->ep, &w->ev, 1, 20000);
	return NULL;
}

/*
 * An event loop keeps its fds O_NONBLOCK: MFLOW_IOC_CLOSE shuts the write
 * side and says EAGAIN (no edge for a reader: its own shutdown raises no
 * EPOLLERR); the loop sleeps in epoll_wait until the peer's close brings
 * the EPOLLHUP edge; the ioctl then returns 0. Repeating the ioctl (or the
 * shutdown) before that is no transition and makes no edge.
 */
TEST_F(mflow_poll, R9_R11_close_handshake_epoll_et)
{
	struct epoll_waiter w = { .ep = self->ep };
	pthread_t th;

	ASSERT_EQ(0, set_nonblock(self->fd[0], true));
	ASSERT_EQ(0, set_nonblock(self->fd[1], true));
	add_et(_metadata, self->ep, self->fd[0], EPOLLIN | EPOLLRDHUP);
	EXPECT_EQ(0U, edge(self->ep, 0));
	EXPECT_EQ(-EAGAIN, close_wait(self->fd[0]));
	EXPECT_EQ(0U, edge(self->ep, 0));
	/*
	 * Trying again changes nothing, so it makes no edge: a loop that
	 * retries the ioctl on every event must not wake itself forever.
	 */
	EXPECT_EQ(-EAGAIN, close_wait(self->fd[0]));
	EXPECT_EQ(0U, edge(self->ep, 0));
	EXPECT_EQ(0, shut(self->fd[0], MFLOW_SHUT_WR));
	EXPECT_EQ(0U, edge(self->ep, 0));

	ASSERT_EQ(0, pthread_create(&th, NULL, epoll_wait_thread, &w));
	while (!__atomic_load_n(&w.tid, __ATOMIC_SEQ_CST))
		sleep_ms(1);
	ASSERT_TRUE(wait_blocked(w.tid));
	EXPECT_EQ(0, close_wait(self->fd[1]));
	pthread_join(th, NULL);
	ASSERT_EQ(1, w.n);
	EXPECT_EQ((__u32)(EPOLLIN | EPOLLRDHUP | EPOLLHUP), w.ev.events);
	EXPECT_EQ(0, close_wait(self->fd[0]));
	EXPECT_EQ(0U, edge(self->ep, 0));
}

/*
 * The same handshake level-triggered: nothing is reported while the peer
 * has not closed (the local shutdown raises no EPOLLERR, so the loop
 * sleeps); EPOLLHUP, with EOF, stays up once the peer has closed, and the
 * ioctl then returns 0.
 */
TEST_F(mflow_poll, R9_R11_close_handshake_epoll_lt)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP }, out;
	int i;

	ASSERT_EQ(0, set_nonblock(self->fd[0], true));
	ASSERT_EQ(0, epoll_ctl(self->ep, EPOLL_CTL_ADD, self->fd[0], &ev));
	EXPECT_EQ(0, epoll_wait(self->ep, &out, 1, 0));
	EXPECT_EQ(-EAGAIN, close_wait(self->fd[0]));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, epoll_wait(self->ep, &out, 1, 0));
		EXPECT_EQ(-EAGAIN, close_wait(self->fd[0]));
	}
	EXPECT_EQ(0, shut(self->fd[1], MFLOW_SHUT_WR));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(1, epoll_wait(self->ep, &out, 1, 0));
		EXPECT_EQ((__u32)(EPOLLIN | EPOLLRDHUP | EPOLLHUP),
			  out.events);
	}
	EXPECT_EQ(0, close_wait(self->fd[0]));
}

struct loop_closer {
	int fd;
	int ep;
	int ret;	/* 0, or the step that failed */
	unsigned int waits;
};

/* One event loop's close: ioctl, then epoll_wait until EPOLLHUP, ioctl. */
static void *loop_close_thread(void *arg)
{
	struct loop_closer *c = arg;
	struct epoll_event ev;
	int r;

	r = close_wait(c->fd);
	if (!r)
		return NULL;
	if (r != -EAGAIN) {
		c->ret = 1;
		return NULL;
	}
	for (;;) {
		c->waits++;
		r = epoll_wait(c->ep, &ev, 1, 10000);
		if (r != 1) {
			c->ret = 2;	/* no edge within 10 s */
			return NULL;
		}
		if (ev.events & EPOLLHUP)
			break;
	}
	c->ret = close_wait(c->fd) ? 3 : 0;
	return NULL;
}

/*
 * Both endpoints run the handshake in their own event loop at the same
 * time, edge-triggered, over and over: every loop gets its EPOLLHUP edge
 * and both closes return 0.
 */
TEST_F(mflow_poll, R9_R11_close_handshake_both_loops_et)
{
	unsigned int round, waits = 0;
	int ep1 = epoll_create1(EPOLL_CLOEXEC);

	ASSERT_LE(0, ep1);
	for (round = 0; round < 200; round++) {
		struct loop_closer c[2] = {
			{ .fd = self->fd[0], .ep = self->ep },
			{ .fd = self->fd[1], .ep = ep1 },
		};
		pthread_t th[2];
		int i;

		for (i = 0; i < 2; i++) {
			ASSERT_EQ(0, set_nonblock(self->fd[i], true));
			add_et(_metadata, c[i].ep, self->fd[i],
			       EPOLLIN | EPOLLRDHUP);
		}
		for (i = 0; i < 2; i++)
			ASSERT_EQ(0, pthread_create(&th[i], NULL,
						    loop_close_thread, &c[i]));
		for (i = 0; i < 2; i++) {
			pthread_join(th[i], NULL);
			EXPECT_EQ(0, c[i].ret)
				TH_LOG("round %u, endpoint %d", round, i);
			waits += c[i].waits;
		}
		if (c[0].ret || c[1].ret)
			break;
		for (i = 0; i < 2; i++)
			close_fd(&self->fd[i]);
		mflow_open_pair(_metadata, self->path, O_RDWR, O_RDWR,
				self->fd);
	}
	TH_LOG("%u rounds, %u epoll_wait calls", round, waits);
	close(ep1);
}

TEST_HARNESS_MAIN
