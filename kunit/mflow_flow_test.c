// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite mflow_flow: the state machine of one console: attach and
 * detach, half-close, EOF and EPIPE, info flags, poll masks and wakeups,
 * the reset between connections and bad arguments.
 */

#include <kunit/test.h>
#include <linux/kfifo.h>
#include <linux/poll.h>
#include <linux/wait.h>

#include "mflow_kunit.h"

#define FIFO	MFLOW_FIFO_MIN

static const u32 mflow_bad_fifo_sizes[] = {
	0, 1, MFLOW_FIFO_MIN / 2, MFLOW_FIFO_MIN - 1, MFLOW_FIFO_MIN + 1,
	3 * MFLOW_FIFO_MIN, MFLOW_FIFO_MAX + 1, 2 * MFLOW_FIFO_MAX, U32_MAX,
};

/*
 * R14: mflow_console_create() refuses a fifo size that is not a power of two
 * in [MFLOW_FIFO_MIN, MFLOW_FIFO_MAX] with -EINVAL and accepts both bounds.
 */
static void mflow_console_create_bad_size(struct kunit *test)
{
	struct mflow_console *con;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(mflow_bad_fifo_sizes); i++) {
		con = mflow_console_create(0, mflow_bad_fifo_sizes[i]);
		KUNIT_EXPECT_TRUE_MSG(test, IS_ERR(con), "fifo_size %u",
				      mflow_bad_fifo_sizes[i]);
		if (IS_ERR(con))
			KUNIT_EXPECT_EQ(test, PTR_ERR(con), -EINVAL);
		else if (con)
			mflow_console_destroy(con);
	}

	mflow_fixture_create(test, 0, MFLOW_FIFO_MIN);
	mflow_fixture_create(test, 1, MFLOW_FIFO_MAX);
}

static bool mflow_fifo_allocated(struct mflow_console *con)
{
	return con->dir[0].buf || con->dir[1].buf;
}

/*
 * R15: an idle console holds no fifo memory: none after create (even at
 * MFLOW_FIFO_MAX), some once attached, none again after both endpoints
 * detached; mflow_console_busy() is true exactly while the connection is
 * live. (Assumes the core NULLs the ring's buffer pointer when it frees it.)
 */
static void mflow_console_create_idle(struct kunit *test)
{
	struct mflow_fixture *big = mflow_fixture_create(test, 1,
							 MFLOW_FIFO_MAX);
	struct mflow_fixture *fix = mflow_fixture_create(test, 0, FIFO);
	struct mflow_endpoint *a, *b;

	KUNIT_EXPECT_FALSE(test, mflow_fifo_allocated(big->con));
	KUNIT_EXPECT_FALSE(test, mflow_console_busy(big->con));
	KUNIT_EXPECT_FALSE(test, mflow_fifo_allocated(fix->con));
	KUNIT_EXPECT_FALSE(test, mflow_console_busy(fix->con));

	a = mflow_fixture_attach(fix, 0);
	KUNIT_EXPECT_TRUE(test, mflow_fifo_allocated(fix->con));
	KUNIT_EXPECT_TRUE(test, mflow_console_busy(fix->con));
	b = mflow_fixture_attach(fix, 0);
	mflow_fixture_detach(fix, a);
	KUNIT_EXPECT_TRUE(test, mflow_console_busy(fix->con));
	mflow_fixture_detach(fix, b);
	KUNIT_EXPECT_FALSE(test, mflow_console_busy(fix->con));
	KUNIT_EXPECT_FALSE(test, mflow_fifo_allocated(fix->con));
}

/*
 * R1: the first attach gets endpoint 0, the second endpoint 1; a third
 * fails with -EBUSY, whatever its flags, and changes nothing.
 */
static void mflow_attach_third_busy(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_create(test, 0, FIFO);
	struct mflow_endpoint *a, *b, *c;
	struct mflow_info ia, ib, after;
	u8 buf[4] = "abc";

	a = mflow_fixture_attach(fix, 0);
	KUNIT_EXPECT_EQ(test, a->index, 0);
	b = mflow_fixture_attach(fix, 0);
	KUNIT_EXPECT_EQ(test, b->index, 1);
	KUNIT_EXPECT_PTR_NE(test, a, b);
	mflow_get_info(a, &ia);
	mflow_get_info(b, &ib);
	KUNIT_EXPECT_EQ(test, ia.endpoint, 0);
	KUNIT_EXPECT_EQ(test, ib.endpoint, 1);

	c = mflow_attach(fix->con, 0);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(c), -EBUSY);
	if (!IS_ERR_OR_NULL(c))
		mflow_detach(c);
	c = mflow_attach(fix->con, MFLOW_ATTACH_NO_READ);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(c), -EBUSY);
	if (!IS_ERR_OR_NULL(c))
		mflow_detach(c);

	mflow_get_info(a, &after);
	KUNIT_EXPECT_EQ(test, after.flags, ia.flags);
	KUNIT_EXPECT_EQ(test, after.connection, ia.connection);
	mflow_get_info(b, &after);
	KUNIT_EXPECT_EQ(test, after.flags, ib.flags);

	KUNIT_EXPECT_EQ(test, mflow_kwrite(a, buf, 4, true), 4);
	KUNIT_EXPECT_EQ(test, mflow_kwrite(b, buf, 4, true), 4);
	KUNIT_EXPECT_EQ(test, mflow_readable(a), 4);
	KUNIT_EXPECT_EQ(test, mflow_readable(b), 4);
}

/*
 * R1: each endpoint attaches once per connection: after one side detached,
 * attaching again fails with -EBUSY while the other is still attached.
 */
static void mflow_attach_after_detach_busy(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	struct mflow_endpoint *c;

	mflow_fixture_detach(fix, fix->ep[1]);
	c = mflow_attach(fix->con, 0);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(c), -EBUSY);
	if (!IS_ERR_OR_NULL(c))
		mflow_detach(c);
	KUNIT_EXPECT_TRUE(test, mflow_console_busy(fix->con));
}

/*
 * R1: an endpoint attached with MFLOW_ATTACH_NO_WRITE (O_RDONLY) starts with
 * its write side shut: its writes fail with -EPIPE and the peer reads EOF;
 * the other direction works.
 */
static void mflow_attach_no_write(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_create(test, 0, FIFO);
	struct mflow_endpoint *ro, *peer;
	u8 buf[8] = "1234567";

	ro = mflow_fixture_attach(fix, MFLOW_ATTACH_NO_WRITE);
	peer = mflow_fixture_attach(fix, 0);

	KUNIT_EXPECT_TRUE(test, mflow_info_flags(ro) & MFLOW_INFO_WR_SHUT);
	KUNIT_EXPECT_FALSE(test, mflow_info_flags(ro) & MFLOW_INFO_RD_SHUT);
	KUNIT_EXPECT_TRUE(test, mflow_info_flags(peer) & MFLOW_INFO_PEER_WR_SHUT);
	KUNIT_EXPECT_EQ(test, mflow_kwrite(ro, buf, 8, true), -EPIPE);
	KUNIT_EXPECT_EQ(test, mflow_kwrite(ro, buf, 8, false), -EPIPE);
	KUNIT_EXPECT_EQ(test, mflow_kread(peer, buf, 8, true), 0);
	KUNIT_EXPECT_EQ(test, mflow_poll_mask(peer) & (EPOLLIN | EPOLLRDHUP),
			EPOLLIN | EPOLLRDHUP);

	KUNIT_EXPECT_EQ(test, mflow_kwrite(peer, buf, 8, false), 8);
	KUNIT_EXPECT_EQ(test, mflow_kread(ro, buf, 8, true), 8);
}

/*
 * R1: an endpoint attached with MFLOW_ATTACH_NO_READ (O_WRONLY) starts with
 * its read side shut: it reads EOF and the peer's writes fail with -EPIPE;
 * the other direction works.
 */
static void mflow_attach_no_read(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_create(test, 0, FIFO);
	struct mflow_endpoint *wo, *peer;
	u8 buf[8] = "1234567";

	wo = mflow_fixture_attach(fix, MFLOW_ATTACH_NO_READ);
	peer = mflow_fixture_attach(fix, 0);

	KUNIT_EXPECT_TRUE(test, mflow_info_flags(wo) & MFLOW_INFO_RD_SHUT);
	KUNIT_EXPECT_FALSE(test, mflow_info_flags(wo) & MFLOW_INFO_WR_SHUT);
	KUNIT_EXPECT_TRUE(test, mflow_info_flags(peer) & MFLOW_INFO_PEER_RD_SHUT);
	KUNIT_EXPECT_EQ(test, mflow_kwrite(peer, buf, 8, true), -EPIPE);
	KUNIT_EXPECT_EQ(test, mflow_kwrite(peer, buf, 8, false), -EPIPE);
	KUNIT_EXPECT_EQ(test, mflow_kread(wo, buf, 8, true), 0);
	/* The peer shut only its read side: no EPOLLERR, EPOLLOUT stays. */
	KUNIT_EXPECT_FALSE(test, mflow_poll_mask(peer) & EPOLLERR);
	KUNIT_EXPECT_TRUE(test, mflow_poll_mask(peer) & EPOLLOUT);

	KUNIT_EXPECT_EQ(test, mflow_kwrite(wo, buf, 8, false), 8);
	KUNIT_EXPECT_EQ(test, mflow_kread(peer, buf, 8, true), 8);
}

/*
 * R4: after the peer's SHUT_WR, reads return the data in flight until it is
 * drained, then 0 (EOF), blocking or not, again and again.
 */
static void mflow_read_eof_after_shut_wr(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, 100);
	u8 *dst = kunit_kzalloc(test, FIFO, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, dst);
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src, 100, false), 100);
	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[0], MFLOW_SHUT_WR), 0);

	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), 100);
	KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[1], dst, 40, true), 40);
	KUNIT_EXPECT_EQ(test, mflow_kread_bounded(fix, fix->ep[1], dst + 40,
						  FIFO - 40), 60);
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, 100, 0), 100);
	KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[1], dst, FIFO, true), 0);
	KUNIT_EXPECT_EQ(test, mflow_kread_bounded(fix, fix->ep[1], dst, FIFO),
			0);
	KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[1], dst, FIFO, true), 0);
}

/*
 * R4, R10: after the peer detached, the data it wrote stays readable until
 * drained, then reads return 0 (EOF).
 */
static void mflow_read_eof_after_detach(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, 100);
	u8 *dst = kunit_kzalloc(test, FIFO, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, dst);
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src, 100, false), 100);
	mflow_fixture_detach(fix, fix->ep[0]);

	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), 100);
	KUNIT_EXPECT_EQ(test, mflow_kread_avail(fix->ep[1], dst, FIFO), 100);
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, 100, 0), 100);
	KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[1], dst, FIFO, true), 0);
	KUNIT_EXPECT_EQ(test, mflow_kread_bounded(fix, fix->ep[1], dst, FIFO),
			0);
}

/*
 * R8: SHUT_RD drops the queued and future inbound data: local reads return
 * 0 at once and the peer's writes fail with -EPIPE; the other direction
 * still works.
 */
static void mflow_shutdown_rd_discards(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, 100);
	u8 *dst = kunit_kzalloc(test, FIFO, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, dst);
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src, 100, false), 100);
	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[1], MFLOW_SHUT_RD), 0);

	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), 0);
	KUNIT_EXPECT_EQ(test, mflow_outq(fix->ep[0]), 0);
	KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[1], dst, FIFO, true), 0);
	KUNIT_EXPECT_EQ(test, mflow_kread_bounded(fix, fix->ep[1], dst, FIFO),
			0);
	KUNIT_EXPECT_EQ(test, mflow_kwrite(fix->ep[0], src, 100, true), -EPIPE);
	KUNIT_EXPECT_EQ(test, mflow_kwrite_bounded(fix, fix->ep[0], src, 100),
			-EPIPE);
	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), 0);

	KUNIT_EXPECT_EQ(test, mflow_kwrite(fix->ep[1], src, 10, false), 10);
	KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[0], dst, FIFO, true), 10);
}

/*
 * R7, R8: after the local SHUT_WR every write fails with -EPIPE, blocking or
 * not, and nothing reaches the peer; the endpoint still reads.
 */
static void mflow_write_after_shut_wr(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, 100);
	u8 *dst = kunit_kzalloc(test, FIFO, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, dst);
	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[0], MFLOW_SHUT_WR), 0);
	KUNIT_EXPECT_EQ(test, mflow_kwrite(fix->ep[0], src, 100, true), -EPIPE);
	KUNIT_EXPECT_EQ(test, mflow_kwrite_bounded(fix, fix->ep[0], src, 100),
			-EPIPE);
	KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[1]), 0);
	KUNIT_EXPECT_EQ(test, mflow_outq(fix->ep[0]), 0);

	KUNIT_EXPECT_EQ(test, mflow_kwrite(fix->ep[1], src, 100, false), 100);
	KUNIT_EXPECT_EQ(test, mflow_kread_avail(fix->ep[0], dst, FIFO), 100);
}

/*
 * R7, R10: once the peer detached, writes fail with -EPIPE, blocking or not,
 * and the data the peer never read is dropped (outq 0, R12).
 */
static void mflow_write_peer_detached(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, 100);

	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src, 100, false), 100);
	mflow_fixture_detach(fix, fix->ep[1]);

	KUNIT_EXPECT_EQ(test, mflow_outq(fix->ep[0]), 0);
	KUNIT_EXPECT_EQ(test, mflow_kwrite(fix->ep[0], src, 100, true), -EPIPE);
	KUNIT_EXPECT_EQ(test, mflow_kwrite_bounded(fix, fix->ep[0], src, 100),
			-EPIPE);
}

/*
 * R8: shutdown is idempotent: repeating a direction, or SHUT_RDWR after
 * SHUT_WR, returns 0 and leaves the state as one shutdown would.
 */
static void mflow_shutdown_idempotent(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u32 both = MFLOW_INFO_RD_SHUT | MFLOW_INFO_WR_SHUT;

	KUNIT_EXPECT_EQ(test, mflow_shutdown(fix->ep[0], MFLOW_SHUT_WR), 0);
	KUNIT_EXPECT_EQ(test, mflow_shutdown(fix->ep[0], MFLOW_SHUT_WR), 0);
	KUNIT_EXPECT_EQ(test, mflow_info_flags(fix->ep[0]) & both,
			MFLOW_INFO_WR_SHUT);
	KUNIT_EXPECT_EQ(test, mflow_shutdown(fix->ep[0], MFLOW_SHUT_RDWR), 0);
	KUNIT_EXPECT_EQ(test, mflow_shutdown(fix->ep[0], MFLOW_SHUT_RD), 0);
	KUNIT_EXPECT_EQ(test, mflow_shutdown(fix->ep[0], MFLOW_SHUT_RDWR), 0);
	KUNIT_EXPECT_EQ(test, mflow_info_flags(fix->ep[0]) & both, both);
	KUNIT_EXPECT_EQ(test, mflow_info_flags(fix->ep[1]) &
			(MFLOW_INFO_PEER_RD_SHUT | MFLOW_INFO_PEER_WR_SHUT),
			MFLOW_INFO_PEER_RD_SHUT | MFLOW_INFO_PEER_WR_SHUT);
}

/*
 * R14: a shutdown how other than SHUT_RD, SHUT_WR or SHUT_RDWR fails with
 * -EINVAL and changes nothing: flags stay and data flows both ways.
 */
static void mflow_shutdown_bad_how(struct kunit *test)
{
	static const unsigned int bad[] = { 3, 4, 0x100, 0x80000001, U32_MAX };
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u32 f0 = mflow_info_flags(fix->ep[0]);
	u32 f1 = mflow_info_flags(fix->ep[1]);
	u8 buf[4] = "xyz";
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		KUNIT_EXPECT_EQ_MSG(test, mflow_shutdown(fix->ep[0], bad[i]),
				    -EINVAL, "how %#x", bad[i]);
	KUNIT_EXPECT_EQ(test, mflow_info_flags(fix->ep[0]), f0);
	KUNIT_EXPECT_EQ(test, mflow_info_flags(fix->ep[1]), f1);
	KUNIT_EXPECT_EQ(test, mflow_kwrite(fix->ep[0], buf, 4, true), 4);
	KUNIT_EXPECT_EQ(test, mflow_kwrite(fix->ep[1], buf, 4, true), 4);
	KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[0], buf, 4, true), 4);
	KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[1], buf, 4, true), 4);
}

/*
 * R13: info gives console index, endpoint index, connection number, fifo
 * size, zeroed reserved bytes, and flags that follow each state change of
 * both sides.
 */
static void mflow_get_info_flags(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_create(test, 5, 2 * FIFO);
	struct mflow_endpoint *a, *b;
	struct mflow_info info;

	a = mflow_fixture_attach(fix, 0);
	memset(&info, 0xff, sizeof(info));
	mflow_get_info(a, &info);
	KUNIT_EXPECT_EQ(test, info.console, 5);
	KUNIT_EXPECT_EQ(test, info.endpoint, 0);
	KUNIT_EXPECT_EQ(test, info.connection, 1);
	KUNIT_EXPECT_EQ(test, info.fifo_size, 2 * FIFO);
	KUNIT_EXPECT_EQ(test, info.flags, 0);
	KUNIT_EXPECT_EQ(test, info.reserved, 0);

	b = mflow_fixture_attach(fix, 0);
	memset(&info, 0xff, sizeof(info));
	mflow_get_info(b, &info);
	KUNIT_EXPECT_EQ(test, info.console, 5);
	KUNIT_EXPECT_EQ(test, info.endpoint, 1);
	KUNIT_EXPECT_EQ(test, info.connection, 1);
	KUNIT_EXPECT_EQ(test, info.flags, MFLOW_INFO_PEER_ATTACHED);
	KUNIT_EXPECT_EQ(test, info.reserved, 0);
	KUNIT_EXPECT_EQ(test, mflow_info_flags(a), MFLOW_INFO_PEER_ATTACHED);

	KUNIT_ASSERT_EQ(test, mflow_shutdown(b, MFLOW_SHUT_WR), 0);
	KUNIT_EXPECT_EQ(test, mflow_info_flags(a),
			MFLOW_INFO_PEER_ATTACHED | MFLOW_INFO_PEER_WR_SHUT);
	KUNIT_EXPECT_EQ(test, mflow_info_flags(b),
			MFLOW_INFO_PEER_ATTACHED | MFLOW_INFO_WR_SHUT);

	KUNIT_ASSERT_EQ(test, mflow_shutdown(a, MFLOW_SHUT_RD), 0);
	KUNIT_EXPECT_EQ(test, mflow_info_flags(a),
			MFLOW_INFO_PEER_ATTACHED | MFLOW_INFO_PEER_WR_SHUT |
			MFLOW_INFO_RD_SHUT);
	KUNIT_EXPECT_EQ(test, mflow_info_flags(b),
			MFLOW_INFO_PEER_ATTACHED | MFLOW_INFO_WR_SHUT |
			MFLOW_INFO_PEER_RD_SHUT);

	/* the option is set by the file glue; the core only reports it */
	b->nosigpipe = true;
	KUNIT_EXPECT_TRUE(test, mflow_info_flags(b) & MFLOW_INFO_NOSIGPIPE);
	KUNIT_EXPECT_FALSE(test, mflow_info_flags(a) & MFLOW_INFO_NOSIGPIPE);

	mflow_fixture_detach(fix, b);
	KUNIT_EXPECT_EQ(test, mflow_info_flags(a),
			MFLOW_INFO_PEER_DETACHED | MFLOW_INFO_PEER_WR_SHUT |
			MFLOW_INFO_PEER_RD_SHUT | MFLOW_INFO_RD_SHUT);
}

/*
 * R15: once both endpoints detached the console resets: the next connection
 * has the next number, sees none of the old data, shut flags or stats, and
 * attaches endpoints 0 and 1 again.
 */
static void mflow_attach_new_connection(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	u8 *src = mflow_pattern_alloc(test, 100);
	u8 *dst = kunit_kzalloc(test, FIFO, GFP_KERNEL);
	struct mflow_endpoint *a, *b;
	struct mflow_stats st;
	struct mflow_info info;
	u64 first;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, dst);
	mflow_get_info(fix->ep[0], &info);
	first = info.connection;
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], src, 100, false), 100);
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[1], src, 50, false), 50);
	KUNIT_ASSERT_EQ(test, mflow_kread(fix->ep[0], dst, 10, true), 10);
	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[1], MFLOW_SHUT_RDWR), 0);
	mflow_fixture_detach(fix, fix->ep[0]);
	mflow_fixture_detach(fix, fix->ep[1]);

	a = mflow_fixture_attach(fix, 0);
	b = mflow_fixture_attach(fix, 0);
	KUNIT_EXPECT_EQ(test, a->index, 0);
	KUNIT_EXPECT_EQ(test, b->index, 1);
	mflow_get_info(a, &info);
	KUNIT_EXPECT_EQ(test, info.connection, first + 1);
	KUNIT_EXPECT_EQ(test, info.flags, MFLOW_INFO_PEER_ATTACHED);
	KUNIT_EXPECT_EQ(test, mflow_info_flags(b), MFLOW_INFO_PEER_ATTACHED);

	for (i = 0; i < 2; i++) {
		memset(&st, 0xff, sizeof(st));
		mflow_get_stats(fix->ep[i], &st);
		KUNIT_EXPECT_EQ(test, st.read_bytes, 0);
		KUNIT_EXPECT_EQ(test, st.read_ops, 0);
		KUNIT_EXPECT_EQ(test, st.write_bytes, 0);
		KUNIT_EXPECT_EQ(test, st.write_ops, 0);
		KUNIT_EXPECT_EQ(test, mflow_readable(fix->ep[i]), 0);
		KUNIT_EXPECT_EQ(test, mflow_outq(fix->ep[i]), 0);
		KUNIT_EXPECT_EQ(test, mflow_kread(fix->ep[i], dst, FIFO, true),
				-EAGAIN);
	}

	KUNIT_EXPECT_EQ(test, mflow_kwrite(b, src, 100, false), 100);
	KUNIT_EXPECT_EQ(test, mflow_kread_avail(a, dst, FIFO), 100);
	KUNIT_EXPECT_EQ(test, mflow_pattern_check(dst, 100, 0), 100);
}

/* Poll masks of endpoint 0 in each state (R11). */

static void mflow_poll_setup_idle(struct kunit *test, struct mflow_fixture *fix)
{
}

static void mflow_poll_setup_data(struct kunit *test, struct mflow_fixture *fix)
{
	u8 buf[10] = { };

	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[1], buf, 10, true), 10);
}

static void mflow_poll_setup_short_room(struct kunit *test,
					struct mflow_fixture *fix)
{
	u8 buf[1] = { };

	/* FIFO == PIPE_BUF: one byte in flight leaves less than PIPE_BUF */
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], buf, 1, true), 1);
}

static void mflow_poll_setup_peer_shut_wr(struct kunit *test,
					  struct mflow_fixture *fix)
{
	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[1], MFLOW_SHUT_WR), 0);
}

static void mflow_poll_setup_peer_data_shut_wr(struct kunit *test,
					       struct mflow_fixture *fix)
{
	mflow_poll_setup_data(test, fix);
	mflow_poll_setup_peer_shut_wr(test, fix);
}

static void mflow_poll_setup_both_shut_wr(struct kunit *test,
					  struct mflow_fixture *fix)
{
	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[1], MFLOW_SHUT_WR), 0);
	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[0], MFLOW_SHUT_WR), 0);
}

static void mflow_poll_setup_peer_shut_rd(struct kunit *test,
					  struct mflow_fixture *fix)
{
	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[1], MFLOW_SHUT_RD), 0);
}

static void mflow_poll_setup_full_peer_shut_rd(struct kunit *test,
					       struct mflow_fixture *fix)
{
	u8 *buf = kunit_kzalloc(test, FIFO, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], buf, FIFO, true), FIFO);
	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[1], MFLOW_SHUT_RD), 0);
}

static void mflow_poll_setup_peer_shut_rdwr(struct kunit *test,
					    struct mflow_fixture *fix)
{
	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[1], MFLOW_SHUT_RDWR), 0);
}

static void mflow_poll_setup_peer_detached(struct kunit *test,
					   struct mflow_fixture *fix)
{
	mflow_fixture_detach(fix, fix->ep[1]);
}

static void mflow_poll_setup_shut_wr(struct kunit *test,
				     struct mflow_fixture *fix)
{
	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[0], MFLOW_SHUT_WR), 0);
}

static void mflow_poll_setup_shut_wr_peer_detached(struct kunit *test,
						   struct mflow_fixture *fix)
{
	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[0], MFLOW_SHUT_WR), 0);
	mflow_fixture_detach(fix, fix->ep[1]);
}

static void mflow_poll_setup_shut_rd(struct kunit *test,
				     struct mflow_fixture *fix)
{
	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[0], MFLOW_SHUT_RD), 0);
}

#define POLL_R		(EPOLLIN | EPOLLRDNORM)
#define POLL_W		(EPOLLOUT | EPOLLWRNORM)

struct mflow_poll_param {
	const char *desc;
	void (*setup)(struct kunit *test, struct mflow_fixture *fix);
	__poll_t want;		/* bits of endpoint 0 expected set */
	__poll_t care;		/* bits compared; the others are free */
};

static const struct mflow_poll_param mflow_poll_params[] = {
	{ "idle", mflow_poll_setup_idle,
	  POLL_W, MFLOW_POLL_BITS },
	{ "data in", mflow_poll_setup_data,
	  POLL_R | POLL_W, MFLOW_POLL_BITS },
	{ "room below PIPE_BUF", mflow_poll_setup_short_room,
	  0, MFLOW_POLL_BITS },
	{ "peer SHUT_WR", mflow_poll_setup_peer_shut_wr,
	  POLL_R | EPOLLRDHUP | POLL_W, MFLOW_POLL_BITS },
	{ "data in, peer SHUT_WR", mflow_poll_setup_peer_data_shut_wr,
	  POLL_R | EPOLLRDHUP | POLL_W, MFLOW_POLL_BITS },
	{ "both SHUT_WR", mflow_poll_setup_both_shut_wr,
	  POLL_R | EPOLLRDHUP | EPOLLHUP | POLL_W, MFLOW_POLL_BITS },
	{ "peer SHUT_RD", mflow_poll_setup_peer_shut_rd,
	  POLL_W, MFLOW_POLL_BITS },
	{ "full, peer SHUT_RD", mflow_poll_setup_full_peer_shut_rd,
	  POLL_W, MFLOW_POLL_BITS },
	{ "peer SHUT_RDWR", mflow_poll_setup_peer_shut_rdwr,
	  POLL_R | EPOLLRDHUP | EPOLLHUP | POLL_W, MFLOW_POLL_BITS },
	{ "peer detached", mflow_poll_setup_peer_detached,
	  POLL_R | EPOLLRDHUP | EPOLLHUP | POLL_W | EPOLLERR, MFLOW_POLL_BITS },
	{ "local SHUT_WR, peer detached", mflow_poll_setup_shut_wr_peer_detached,
	  POLL_R | EPOLLRDHUP | EPOLLHUP | POLL_W, MFLOW_POLL_BITS },
	{ "local SHUT_WR", mflow_poll_setup_shut_wr,
	  POLL_W, MFLOW_POLL_BITS },
	{ "local SHUT_RD", mflow_poll_setup_shut_rd,
	  POLL_R | POLL_W, MFLOW_POLL_BITS & ~EPOLLRDHUP },
};

KUNIT_ARRAY_PARAM_DESC(mflow_poll, mflow_poll_params, desc);

/*
 * R11: the poll mask has EPOLLIN when a read would not block (data or EOF),
 * EPOLLRDHUP once the peer shut its write side, EPOLLOUT with room for
 * PIPE_BUF or when a write would fail, EPOLLERR once the peer detached
 * while the local write side is open (never from the endpoint's own
 * shutdown, nor from the peer shutting only its read side), EPOLLHUP when
 * both directions are finished.
 */
static void mflow_poll_mask_state(struct kunit *test)
{
	const struct mflow_poll_param *p = test->param_value;
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	unsigned int care = (__force unsigned int)p->care;
	unsigned int mask;

	p->setup(test, fix);
	mask = mflow_poll_mask(fix->ep[0]);
	KUNIT_EXPECT_EQ_MSG(test, mask & care, (__force unsigned int)p->want,
			    "mask %#x", mask);
}

/**
 * struct mflow_poll_probe - a poll table that counts wakeups, as epoll's
 * @pt: handed to mflow_poll().
 * @entry: one entry per wait queue mflow_poll() registered.
 * @head: the wait queue of each entry.
 * @n: entries in use.
 * @wakeups: calls of mflow_poll_probe_wake().
 */
struct mflow_poll_probe {
	poll_table pt;
	struct wait_queue_entry entry[4];
	struct wait_queue_head *head[4];
	unsigned int n;
	atomic_t wakeups;
};

static int mflow_poll_probe_wake(struct wait_queue_entry *wait,
				 unsigned int mode, int sync, void *key)
{
	struct mflow_poll_probe *probe = wait->private;

	atomic_inc(&probe->wakeups);
	return 0;
}

static void mflow_poll_probe_queue(struct file *file,
				   struct wait_queue_head *head,
				   poll_table *pt)
{
	struct mflow_poll_probe *probe =
		container_of(pt, struct mflow_poll_probe, pt);
	struct wait_queue_entry *entry;

	if (probe->n >= ARRAY_SIZE(probe->entry))
		return;
	entry = &probe->entry[probe->n];
	init_waitqueue_func_entry(entry, mflow_poll_probe_wake);
	entry->private = probe;
	probe->head[probe->n++] = head;
	add_wait_queue(head, entry);
}

static void mflow_poll_probe_remove(void *data)
{
	struct mflow_poll_probe *probe = data;
	unsigned int i;

	for (i = 0; i < probe->n; i++)
		remove_wait_queue(probe->head[i], &probe->entry[i]);
}

/*
 * R11: a poller registered once (as epoll does) is woken on every transition
 * of endpoint 0: data arrives, room returns, the peer shuts its write side,
 * the peer shuts its read side.
 */
static void mflow_poll_wakeups(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, FIFO);
	struct mflow_poll_probe *probe;
	u8 *buf = kunit_kzalloc(test, FIFO, GFP_KERNEL);
	int seen;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	probe = kunit_kzalloc(test, sizeof(*probe), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, probe);
	init_poll_funcptr(&probe->pt, mflow_poll_probe_queue);
	atomic_set(&probe->wakeups, 0);

	mflow_poll(fix->ep[0], NULL, &probe->pt);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							mflow_poll_probe_remove,
							probe), 0);
	KUNIT_ASSERT_GT(test, probe->n, 0);

	seen = atomic_read(&probe->wakeups);
	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[1], buf, 10, true), 10);
	KUNIT_EXPECT_GT_MSG(test, atomic_read(&probe->wakeups), seen,
			    "no wakeup when data arrived");

	KUNIT_ASSERT_EQ(test, mflow_kwrite(fix->ep[0], buf, FIFO, true), FIFO);
	seen = atomic_read(&probe->wakeups);
	KUNIT_ASSERT_EQ(test, mflow_kread_avail(fix->ep[1], buf, FIFO), FIFO);
	KUNIT_EXPECT_GT_MSG(test, atomic_read(&probe->wakeups), seen,
			    "no wakeup when room returned");

	seen = atomic_read(&probe->wakeups);
	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[1], MFLOW_SHUT_WR), 0);
	KUNIT_EXPECT_GT_MSG(test, atomic_read(&probe->wakeups), seen,
			    "no wakeup on the peer's SHUT_WR");

	seen = atomic_read(&probe->wakeups);
	KUNIT_ASSERT_EQ(test, mflow_shutdown(fix->ep[1], MFLOW_SHUT_RD), 0);
	KUNIT_EXPECT_GT_MSG(test, atomic_read(&probe->wakeups), seen,
			    "no wakeup on the peer's SHUT_RD");
}

static struct kunit_case mflow_flow_cases[] = {
	KUNIT_CASE(mflow_console_create_bad_size),
	KUNIT_CASE(mflow_console_create_idle),
	KUNIT_CASE(mflow_attach_third_busy),
	KUNIT_CASE(mflow_attach_after_detach_busy),
	KUNIT_CASE(mflow_attach_no_write),
	KUNIT_CASE(mflow_attach_no_read),
	KUNIT_CASE(mflow_read_eof_after_shut_wr),
	KUNIT_CASE(mflow_read_eof_after_detach),
	KUNIT_CASE(mflow_shutdown_rd_discards),
	KUNIT_CASE(mflow_write_after_shut_wr),
	KUNIT_CASE(mflow_write_peer_detached),
	KUNIT_CASE(mflow_shutdown_idempotent),
	KUNIT_CASE(mflow_shutdown_bad_how),
	KUNIT_CASE(mflow_get_info_flags),
	KUNIT_CASE(mflow_attach_new_connection),
	KUNIT_CASE_PARAM(mflow_poll_mask_state, mflow_poll_gen_params),
	KUNIT_CASE(mflow_poll_wakeups),
	{}
};

static struct kunit_suite mflow_flow_suite = {
	.name = "mflow_flow",
	.test_cases = mflow_flow_cases,
};

kunit_test_suite(mflow_flow_suite);
