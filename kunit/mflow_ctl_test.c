// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite mflow_ctl: what the control device relies on in the core -
 * console names (R17), removal that is all or nothing and refused while a
 * connection is live (R16), and console lifetime by reference (R15, R16).
 */

#include <kunit/device.h>
#include <kunit/test.h>
#include <linux/device.h>
#include <linux/err.h>

#include "../module/mflow.h"
#include "mflow_kunit.h"

struct mflow_name_case {
	const char *name;
	bool valid;
};

static const struct mflow_name_case mflow_name_cases[] = {
	{ "a", true },
	{ "console-0.log_A", true },
	{ "a123456789012345678901234567890", true },	/* 31 bytes */
	{ "a1234567890123456789012345678901", false },	/* 32 bytes */
	{ "0123456789012345678901234567890", false },	/* all digits */
	{ "7", false },
	{ "7a", true },
	{ "mflow0", false },
	{ "mflow123", false },
	{ "mflow", true },
	{ "mflow1a", true },
	{ "_", true },
	{ "-a", false },
	{ ".a", false },
	{ "a-", true },
	{ "db\xc0", false },
	{ "\xff", false },
	{ "a\x7f", false },
	{ "", false },
	{ ".", false },
	{ "..", false },
	{ "...", false },
	{ "a b", false },
	{ "a/b", false },
	{ "caf\xc3\xa9", false },
	{ "x:y", false },
};

static void mflow_name_case_desc(const struct mflow_name_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "'%s' %s", c->name,
		 c->valid ? "valid" : "invalid");
}

KUNIT_ARRAY_PARAM(mflow_name, mflow_name_cases, mflow_name_case_desc);

/*
 * R17: a name is 1..31 bytes of ASCII [A-Za-z0-9._-], the first a letter,
 * digit or '_', neither all digits nor "mflow" and digits.
 */
static void mflow_name_valid_charset(struct kunit *test)
{
	const struct mflow_name_case *c = test->param_value;
	char buf[MFLOW_NAME_MAX + 8] = {};

	strscpy(buf, c->name, sizeof(buf));
	KUNIT_EXPECT_EQ(test, mflow_name_valid(buf, MFLOW_NAME_MAX), c->valid);
}

/* R17: a name with no NUL within the field is refused. */
static void mflow_name_valid_unterminated(struct kunit *test)
{
	char buf[MFLOW_NAME_MAX];

	memset(buf, 'a', sizeof(buf));
	KUNIT_EXPECT_FALSE(test, mflow_name_valid(buf, sizeof(buf)));
}

/* R16: REMOVE is refused while an endpoint is attached, then allowed. */
static void mflow_console_retire_attached_busy(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_pair(test, MFLOW_FIFO_MIN);

	KUNIT_EXPECT_PTR_EQ(test, mflow_console_retire(fix->con),
			    ERR_PTR(-EBUSY));
	mflow_fixture_detach(fix, fix->ep[0]);
	KUNIT_EXPECT_PTR_EQ(test, mflow_console_retire(fix->con),
			    ERR_PTR(-EBUSY));
	mflow_fixture_detach(fix, fix->ep[1]);
	KUNIT_EXPECT_NULL(test, mflow_console_retire(fix->con));
	KUNIT_EXPECT_TRUE(test, fix->con->removed);
}

/* R16: bytes held for a peer that has not attached yet keep it busy. */
static void mflow_console_retire_held_bytes_busy(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_create(test, 0,
							 MFLOW_FIFO_MIN);
	struct mflow_endpoint *ep;
	char buf[4];

	ep = mflow_fixture_attach(fix, 0);
	KUNIT_ASSERT_EQ(test, mflow_kwrite(ep, "abc", 3, false), 3);
	mflow_fixture_detach(fix, ep);
	KUNIT_EXPECT_PTR_EQ(test, mflow_console_retire(fix->con),
			    ERR_PTR(-EBUSY));
	KUNIT_EXPECT_FALSE(test, fix->con->removed);
	/* Refused, nothing changed: the peer still gets the bytes. */
	ep = mflow_fixture_attach(fix, 0);
	KUNIT_EXPECT_EQ(test, ep->index, 1U);
	KUNIT_EXPECT_EQ(test, mflow_kread(ep, buf, sizeof(buf), true), 3);
	KUNIT_EXPECT_MEMEQ(test, buf, "abc", 3);
	mflow_fixture_detach(fix, ep);
	KUNIT_EXPECT_NULL(test, mflow_console_retire(fix->con));
}

/*
 * R15, R16: an endpoint 0 that left without writing holds nothing: the
 * console is idle again at once, and REMOVE goes ahead.
 */
static void mflow_console_retire_lone_empty(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_create(test, 0,
							 MFLOW_FIFO_MIN);
	struct mflow_endpoint *ep = mflow_fixture_attach(fix, 0);

	mflow_fixture_detach(fix, ep);
	KUNIT_EXPECT_FALSE(test, mflow_console_busy(fix->con));
	KUNIT_EXPECT_NULL(test, fix->con->dir[0].buf);
	KUNIT_EXPECT_NULL(test, fix->con->dir[1].buf);
	KUNIT_EXPECT_NULL(test, mflow_console_retire(fix->con));
}

/* R16: once removed, attaching fails with ENXIO and changes nothing. */
static void mflow_attach_removed_enxio(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_create(test, 0,
							 MFLOW_FIFO_MIN);
	u64 connection = fix->con->connection;

	KUNIT_ASSERT_NULL(test, mflow_console_retire(fix->con));
	KUNIT_EXPECT_PTR_EQ(test, mflow_attach(fix->con, 0),
			    (struct mflow_endpoint *)ERR_PTR(-ENXIO));
	KUNIT_EXPECT_EQ(test, fix->con->connection, connection);
	KUNIT_EXPECT_FALSE(test, fix->con->ep[0].used);
}

/*
 * R15, R16: a reference taken before REMOVE (an open() under way) keeps
 * the console alive after the registry drops its own; the last put frees
 * it (KASAN would see a use after free, kmemleak a leak).
 */
static void mflow_console_ref_outlives_removal(struct kunit *test)
{
	struct mflow_console *con = mflow_console_create(7, MFLOW_FIFO_MIN);
	struct mflow_endpoint *ep;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, con);
	mflow_console_get(con);			/* the opener's */
	KUNIT_ASSERT_NULL(test, mflow_console_retire(con));
	mflow_console_put(con);			/* the registry's */
	ep = mflow_attach(con, 0);
	KUNIT_EXPECT_PTR_EQ(test, ep,
			    (struct mflow_endpoint *)ERR_PTR(-ENXIO));
	KUNIT_EXPECT_EQ(test, con->index, 7U);
	mflow_console_put(con);			/* frees it */
}

static ssize_t mflow_test_attr_show(struct device *dev,
				    struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "0\n");
}

static struct device_attribute mflow_test_attrs[] = {
	__ATTR(attached, 0444, mflow_test_attr_show, NULL),
	__ATTR(state, 0444, mflow_test_attr_show, NULL),
};

/*
 * R19, R16: the console holds its device's "attached" and "state" sysfs
 * nodes from mflow_console_set_dev() on, notifies them on attach and
 * detach, and lets go of them when it is retired, before its device is
 * unregistered, so that no detach racing a REMOVE reaches a freed node.
 */
static void mflow_console_set_dev_holds_sysfs_nodes(struct kunit *test)
{
	struct mflow_fixture *fix = mflow_fixture_create(test, 0,
							 MFLOW_FIFO_MIN);
	struct device *dev = kunit_device_register(test, "mflow-notify");
	struct mflow_endpoint *ep;
	int i;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dev);
	for (i = 0; i < ARRAY_SIZE(mflow_test_attrs); i++)
		KUNIT_ASSERT_EQ(test, device_create_file(dev,
							 &mflow_test_attrs[i]),
				0);
	dev_set_drvdata(dev, fix->con);
	mflow_console_set_dev(fix->con, dev);
	KUNIT_EXPECT_NOT_NULL(test, fix->con->sd_attached);
	KUNIT_EXPECT_NOT_NULL(test, fix->con->sd_state);

	ep = mflow_fixture_attach(fix, 0);
	mflow_fixture_detach(fix, ep);
	KUNIT_EXPECT_PTR_EQ(test, mflow_console_retire(fix->con), dev);
	KUNIT_EXPECT_NULL(test, fix->con->dev);
	KUNIT_EXPECT_NULL(test, fix->con->sd_attached);
	KUNIT_EXPECT_NULL(test, fix->con->sd_state);
}

static struct kunit_case mflow_ctl_cases[] = {
	KUNIT_CASE_PARAM(mflow_name_valid_charset, mflow_name_gen_params),
	KUNIT_CASE(mflow_name_valid_unterminated),
	KUNIT_CASE(mflow_console_retire_attached_busy),
	KUNIT_CASE(mflow_console_retire_held_bytes_busy),
	KUNIT_CASE(mflow_console_retire_lone_empty),
	KUNIT_CASE(mflow_attach_removed_enxio),
	KUNIT_CASE(mflow_console_ref_outlives_removal),
	KUNIT_CASE(mflow_console_set_dev_holds_sysfs_nodes),
	{}
};

static struct kunit_suite mflow_ctl_suite = {
	.name = "mflow_ctl",
	.test_cases = mflow_ctl_cases,
};

kunit_test_suite(mflow_ctl_suite);
