// SPDX-License-Identifier: GPL-2.0
/*
 * mflow "nothing lost" stress: writer processes sharing one endpoint send
 * sequence-numbered records of random size with writev(2), split into
 * random pieces; a reader on the other endpoint reads with mixed sizes
 * and checks that every record arrives exactly once, in its writer's
 * order, in one piece (R6) and intact (R5), with EOF at the end (R4).
 *
 * Bounded by bytes (MFLOW_STRESS_MIB per direction, default 32) and by
 * time (writers start no new record after MFLOW_STRESS_SECS, default 8).
 */
#include <sys/mman.h>
#include <sys/uio.h>

#include "mflow_test.h"

#define REC_MAGIC	0x6d660000U	/* "mf", then writer index */
#define MAX_PAYLOAD	(64 * 1024 - 16)
#define MAX_WRITERS	2
#define RD_BUF		(1024 * 1024)

/* Header of a record; the payload is rec_fill() of its len bytes. */
struct rec_hdr {
	uint32_t magic;		/* REC_MAGIC | writer index */
	uint32_t seq;		/* per writer, from 0 */
	uint32_t len;		/* payload bytes after the header */
	uint32_t check;		/* hdr_check() of the fields above */
};

/* Shared by all processes of a test (MAP_SHARED). */
struct stress_shared {
	uint32_t records[2][MAX_WRITERS];	/* per direction, writer */
	uint64_t bytes[2][MAX_WRITERS];
	int live[2];		/* writers of a direction still writing */
	uint64_t deadline;	/* CLOCK_MONOTONIC ns */
};

static uint32_t xorshift(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static uint32_t hdr_check(const struct rec_hdr *h)
{
	return (h->magic ^ 0x5bd1e995U) * 31 + h->seq * 0x9e3779b1U + h->len;
}

/* Payload of record @seq of writer @w in direction @dir. */
static void rec_fill(uint8_t *p, uint32_t len, int dir, int w, uint32_t seq)
{
	uint32_t x = (seq * 2654435761U) ^ (dir << 24) ^ (w << 28) ^ 0x1234567;
	uint32_t i, v;

	x |= 1;
	for (i = 0; i + 4 <= len; i += 4) {
		v = xorshift(&x);
		memcpy(p + i, &v, 4);
	}
	for (; i < len; i++)
		p[i] = (uint8_t)xorshift(&x);
}

/* Mostly large records, some small and tiny ones. */
static uint32_t rec_len(uint32_t *rnd)
{
	uint32_t r = xorshift(rnd);

	switch (r & 3) {
	case 0:
		return r >> 8 & 63;
	case 1:
		return r >> 8 & 4095;
	default:
		return (r >> 8) % (MAX_PAYLOAD + 1);
	}
}

static uint64_t env_num(const char *name, uint64_t def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

/*
 * Writer @w of direction @dir: records until the byte budget or the
 * deadline; the last writer of a direction to finish shuts its write side
 * so the reader sees EOF. Exits 0 on success.
 */
static void writer(int fd, int dir, int w, uint64_t budget,
		   struct stress_shared *sh)
{
	static uint8_t buf[sizeof(struct rec_hdr) + MAX_PAYLOAD];
	struct rec_hdr *h = (struct rec_hdr *)buf;
	uint32_t rnd = 0x9e3779b9U ^ (dir * 7 + w + 1) * 0x85ebca6bU;
	uint32_t seq = 0, total, c1, c2, t;
	uint64_t bytes = 0;
	struct iovec iov[3];
	ssize_t r;

	while (bytes < budget && now_ns() < sh->deadline) {
		h->magic = REC_MAGIC | w;
		h->seq = seq;
		h->len = rec_len(&rnd);
		h->check = hdr_check(h);
		rec_fill(buf + sizeof(*h), h->len, dir, w, seq);
		total = sizeof(*h) + h->len;
		c1 = xorshift(&rnd) % (total + 1);
		c2 = xorshift(&rnd) % (total + 1);
		if (c1 > c2) {
			t = c1;
			c1 = c2;
			c2 = t;
		}
		iov[0] = (struct iovec){ buf, c1 };
		iov[1] = (struct iovec){ buf + c1, c2 - c1 };
		iov[2] = (struct iovec){ buf + c2, total - c2 };
		r = writev(fd, iov, 3);
		CHILD_CHECK(r == (ssize_t)total);
		bytes += r;
		seq++;
	}
	sh->records[dir][w] = seq;
	sh->bytes[dir][w] = bytes;
	if (__atomic_sub_fetch(&sh->live[dir], 1, __ATOMIC_SEQ_CST) == 0)
		CHILD_CHECK(shut(fd, MFLOW_SHUT_WR) == 0);
	_exit(0);
}

/* What a reader saw. */
struct rd_result {
	uint64_t bytes;
	uint32_t records[MAX_WRITERS];
	char err[160];
};

/*
 * Check and consume the complete records at the start of @buf; the bytes
 * consumed, or -1 with @res->err set.
 */
static long parse(const uint8_t *buf, size_t have, int dir, int nwriters,
		  uint8_t *scratch, struct rd_result *res)
{
	struct rec_hdr h;
	size_t used = 0;
	uint32_t w;

	while (have - used >= sizeof(h)) {
		memcpy(&h, buf + used, sizeof(h));
		w = h.magic - REC_MAGIC;
		if (w >= (uint32_t)nwriters || h.check != hdr_check(&h) ||
		    h.len > MAX_PAYLOAD) {
			snprintf(res->err, sizeof(res->err),
				 "bad header at byte %llu",
				 (unsigned long long)(res->bytes + used));
			return -1;
		}
		if (h.seq != res->records[w]) {
			snprintf(res->err, sizeof(res->err),
				 "writer %u: record %u where %u was due", w,
				 h.seq, res->records[w]);
			return -1;
		}
		if (have - used < sizeof(h) + h.len)
			break;
		rec_fill(scratch, h.len, dir, w, h.seq);
		if (memcmp(scratch, buf + used + sizeof(h), h.len)) {
			snprintf(res->err, sizeof(res->err),
				 "writer %u record %u: payload corrupt", w,
				 h.seq);
			return -1;
		}
		res->records[w]++;
		used += sizeof(h) + h.len;
	}
	return used;
}

static size_t read_size(uint32_t *rnd)
{
	static const size_t sizes[] = { 1, 16, 17, 100, 4095, 4096, 65536,
					131072, 262144, 200000 };
	uint32_t r = xorshift(rnd);

	return r & 0x100 ? sizes[r % 10] : 1 + r % 70000;
}

/* Read one chunk with read(2) or a two-piece readv(2). */
static ssize_t read_some(int fd, uint8_t *p, size_t n, uint32_t *rnd)
{
	struct iovec iov[2];
	size_t cut;

	if (n < 2 || (xorshift(rnd) & 1))
		return read(fd, p, n);
	cut = 1 + xorshift(rnd) % (n - 1);
	iov[0] = (struct iovec){ p, cut };
	iov[1] = (struct iovec){ p + cut, n - cut };
	return readv(fd, iov, 2);
}

/*
 * Read direction @dir from @fd until EOF, checking every record; 0, or
 * -1 with @res->err set. With @nonblock, reads are non-blocking and
 * driven by poll(2).
 */
static int reader(int fd, int dir, int nwriters, bool nonblock,
		  struct rd_result *res)
{
	uint8_t *buf = malloc(RD_BUF), *scratch = malloc(MAX_PAYLOAD);
	uint32_t rnd = 0xdeadbeef ^ dir;
	size_t have = 0, n;
	int ret = -1;
	ssize_t r;
	long used;

	memset(res, 0, sizeof(*res));
	if (!buf || !scratch || set_nonblock(fd, nonblock))
		goto out;
	for (;;) {
		n = read_size(&rnd);
		if (n > RD_BUF - have)
			n = RD_BUF - have;
		if (!wait_readable(fd, 15000)) {
			snprintf(res->err, sizeof(res->err),
				 "stalled after %llu bytes",
				 (unsigned long long)res->bytes);
			goto out;
		}
		r = read_some(fd, buf + have, n, &rnd);
		if (r < 0 && nonblock && errno == EAGAIN)
			continue;
		if (r < 0) {
			snprintf(res->err, sizeof(res->err), "read: %s",
				 strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		have += r;
		used = parse(buf, have, dir, nwriters, scratch, res);
		if (used < 0)
			goto out;
		res->bytes += used;
		have -= used;
		memmove(buf, buf + used, have);
	}
	if (have) {
		snprintf(res->err, sizeof(res->err),
			 "EOF inside a record, %zu bytes left", have);
		goto out;
	}
	ret = 0;
out:
	if (ret && !res->err[0])
		snprintf(res->err, sizeof(res->err), "out of memory");
	free(buf);
	free(scratch);
	return ret;
}

/* Did the reader get exactly what the writers of @dir report writing? */
static void check_totals(struct __test_metadata *_metadata,
			 struct stress_shared *sh, int dir, int nwriters,
			 struct rd_result *res)
{
	uint64_t bytes = 0, records = 0;
	int w;

	for (w = 0; w < nwriters; w++) {
		EXPECT_EQ(sh->records[dir][w], res->records[w])
			TH_LOG("direction %d writer %d", dir, w);
		bytes += sh->bytes[dir][w];
		records += sh->records[dir][w];
	}
	EXPECT_EQ(bytes, res->bytes);
	TH_LOG("direction %d: %llu records, %llu bytes", dir,
	       (unsigned long long)records, (unsigned long long)bytes);
}

FIXTURE(mflow_stress)
{
	char path[32];
	int fd[2];
	struct stress_shared *sh;
};

FIXTURE_VARIANT(mflow_stress)
{
	int writers[2];		/* writers on endpoint 0 and on endpoint 1 */
	bool nonblock;		/* reader of endpoint 1 uses O_NONBLOCK and
				 * poll; only without writers on endpoint 1,
				 * which share the file and its O_NONBLOCK
				 */
};

FIXTURE_VARIANT_ADD(mflow_stress, two_writers)
{
	.writers = { 2, 0 },
	.nonblock = false,
};

FIXTURE_VARIANT_ADD(mflow_stress, two_writers_nonblock_reader)
{
	.writers = { 2, 0 },
	.nonblock = true,
};

FIXTURE_VARIANT_ADD(mflow_stress, duplex)
{
	.writers = { 2, 1 },
	.nonblock = false,
};

FIXTURE_SETUP(mflow_stress)
{
	self->fd[0] = -1;
	self->fd[1] = -1;
	self->sh = NULL;
	mflow_path(self->path, sizeof(self->path), 0);
	if (access(self->path, F_OK))
		SKIP(return, "%s missing: is mflow loaded?", self->path);
	mflow_open_pair(_metadata, self->path, O_RDWR, O_RDWR, self->fd);
	self->sh = mmap(NULL, sizeof(*self->sh), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->sh);
}

FIXTURE_TEARDOWN(mflow_stress)
{
	close_fd(&self->fd[0]);
	close_fd(&self->fd[1]);
	if (self->sh && self->sh != MAP_FAILED)
		munmap(self->sh, sizeof(*self->sh));
}

/* Fork the writers of direction @dir, writing into endpoint @dir. */
static void spawn_writers(struct __test_metadata *_metadata,
			  FIXTURE_DATA(mflow_stress) *self, int dir, int n,
			  uint64_t budget, pid_t *pids)
{
	int w;

	for (w = 0; w < n; w++) {
		pids[w] = spawn();
		ASSERT_LE(0, pids[w]);
		if (pids[w] == 0)
			writer(self->fd[dir], dir, w, budget / n, self->sh);
	}
}

TEST_F(mflow_stress, R4_R5_R6_records_arrive_once_in_order_intact)
{
	uint64_t budget = env_num("MFLOW_STRESS_MIB", 32) << 20;
	uint64_t secs = env_num("MFLOW_STRESS_SECS", 8);
	pid_t pids[2][MAX_WRITERS], rpid = 0;
	struct mflow_stats st0, st1;
	struct rd_result res;
	int dir, w;

	self->sh->deadline = now_ns() + secs * 1000 * MSEC;
	self->sh->live[0] = variant->writers[0];
	self->sh->live[1] = variant->writers[1];
	for (dir = 0; dir < 2; dir++)
		spawn_writers(_metadata, self, dir, variant->writers[dir],
			      budget, pids[dir]);
	if (variant->writers[1]) {
		rpid = spawn();
		ASSERT_LE(0, rpid);
		if (rpid == 0) {
			if (reader(self->fd[0], 1, variant->writers[1], false,
				   &res)) {
				fprintf(stderr, "# direction 1: %s\n",
					res.err);
				_exit(1);
			}
			CHILD_CHECK(res.records[0] == self->sh->records[1][0]);
			CHILD_CHECK(res.bytes == self->sh->bytes[1][0]);
			_exit(0);
		}
	}

	ASSERT_EQ(0, reader(self->fd[1], 0, variant->writers[0],
			    variant->nonblock, &res))
		TH_LOG("direction 0: %s", res.err);
	for (dir = 0; dir < 2; dir++)
		for (w = 0; w < variant->writers[dir]; w++)
			EXPECT_EQ(0, reap(pids[dir][w], 20000));
	if (rpid)
		EXPECT_EQ(0, reap(rpid, 20000));
	check_totals(_metadata, self->sh, 0, variant->writers[0], &res);

	ASSERT_EQ(0, mflow_stats(self->fd[0], &st0));
	ASSERT_EQ(0, mflow_stats(self->fd[1], &st1));
	EXPECT_EQ(res.bytes, st1.read_bytes);
	EXPECT_EQ(res.bytes, st0.write_bytes);
	EXPECT_EQ((uint64_t)self->sh->records[0][0] + self->sh->records[0][1],
		  st0.write_ops);
	if (variant->writers[1]) {
		EXPECT_EQ(self->sh->bytes[1][0], st0.read_bytes);
		EXPECT_EQ(self->sh->bytes[1][0], st1.write_bytes);
	}
}

TEST_HARNESS_MAIN
