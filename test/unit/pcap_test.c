/* test/unit/pcap_test.c - capture file format: global header, records
 * from one buffer and from pieces, truncation, and no-ops while closed
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pcap.h"
#include "util.h"
#include "unit.h"

#define BIG_LEN		(PCAP_SNAPLEN + 100)

static char path[] = "/tmp/pcap_test.XXXXXX";
static uint8_t big[BIG_LEN];

/*
 * Wait until the wall clock has just entered a new second (at most one
 * second): the records are then written right after a second boundary,
 * where a coarse clock (time() is one, updated once a tick) still shows
 * the second before. The bounds are read from the clock pcap.c uses,
 * before and after, so they hold every record by construction.
 */
static void second_boundary_wait(void)
{
	struct timespec a, b;

	clock_gettime(CLOCK_REALTIME, &a);
	do
		clock_gettime(CLOCK_REALTIME, &b);
	while (b.tv_sec == a.tv_sec);
}

/* Seconds of the clock pcap.c stamps records with, CLOCK_REALTIME */
static time_t now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

/* Read the whole capture file; *len set to its size; NULL on error */
static uint8_t *slurp(size_t *len)
{
	uint8_t *buf = NULL;
	struct stat st;
	FILE *f;

	f = fopen(path, "rb");
	if (!f)
		return NULL;
	if (fstat(fileno(f), &st) || !(buf = malloc((size_t)st.st_size + 1)) ||
	    fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		free(buf);
		buf = NULL;
	}
	*len = (size_t)st.st_size;
	fclose(f);
	return buf;
}

static uint32_t u32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint16_t u16_at(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* One expected record: @data is what the file should hold */
struct rec {
	const uint8_t *data;
	uint32_t incl;
	uint32_t orig;
};

/* Check the record at *@off against @r and move past it */
static void check_record(const uint8_t *f, size_t flen, size_t *off,
			 const struct rec *r, time_t t0, time_t t1)
{
	const uint8_t *h = f + *off;
	uint32_t sec, usec;

	CHECK(*off + 16 + r->incl <= flen);
	if (*off + 16 + r->incl > flen)
		return;
	sec = u32_at(h);
	usec = u32_at(h + 4);
	CHECK(sec >= (uint32_t)t0 && sec <= (uint32_t)t1);
	CHECK(usec < 1000000);
	CHECK(u32_at(h + 8) == r->incl);
	CHECK(u32_at(h + 12) == r->orig);
	CHECK(!memcmp(h + 16, r->data, r->incl));
	*off += 16 + r->incl;
}

static void test_not_open(void)
{
	struct iovec iov = { .iov_base = big, .iov_len = 10 };

	/* No capture: nothing to write to, nothing happens */
	pcap_frame(big, 60);
	pcap_frame_iov(&iov, 1, 10);
	pcap_close();
	CHECK(pcap_open("/nonexistent-dir/x.pcap") == -ENOENT);
}

static void test_records(void)
{
	uint8_t f1[60], eth[14], payload[50], joined[64], f3[40];
	struct iovec two[2] = {
		{ .iov_base = eth, .iov_len = sizeof(eth) },
		{ .iov_base = payload, .iov_len = sizeof(payload) },
	};
	struct iovec three[3] = {
		{ .iov_base = f3, .iov_len = 10 },
		{ .iov_base = NULL, .iov_len = 0 },
		{ .iov_base = f3 + 10, .iov_len = 30 },
	};
	const struct rec recs[] = {
		{ f1, sizeof(f1), sizeof(f1) },
		{ joined, sizeof(joined), sizeof(joined) },
		{ f3, 25, 25 },			/* @len shorter than pieces */
		{ big, PCAP_SNAPLEN, BIG_LEN },	/* cut at the snap length */
		{ f1, 0, 0 },
	};
	size_t flen = 0, off = 24, i;
	time_t t0, t1;
	uint8_t *f;

	for (i = 0; i < sizeof(f1); i++)
		f1[i] = (uint8_t)(0xa0 ^ i);
	for (i = 0; i < sizeof(eth); i++)
		eth[i] = (uint8_t)i;
	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(0x80 + i);
	memcpy(joined, eth, sizeof(eth));
	memcpy(joined + sizeof(eth), payload, sizeof(payload));
	for (i = 0; i < sizeof(f3); i++)
		f3[i] = (uint8_t)(0x33 * i);
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);

	second_boundary_wait();
	t0 = now_sec();
	CHECK(pcap_open(path) == 0);
	CHECK(pcap_open(path) == -EBUSY);
	pcap_frame(f1, sizeof(f1));
	pcap_frame_iov(two, 2, sizeof(joined));
	pcap_frame_iov(three, 3, 25);
	pcap_frame(big, sizeof(big));
	pcap_frame(f1, 0);
	pcap_close();
	pcap_frame(f1, sizeof(f1));		/* closed: not written */
	t1 = now_sec();

	f = slurp(&flen);
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(flen >= 24);
	if (flen >= 24) {
		CHECK(u32_at(f) == 0xa1b2c3d4);		/* host order */
		CHECK(u16_at(f + 4) == 2 && u16_at(f + 6) == 4);
		CHECK(u32_at(f + 8) == 0 && u32_at(f + 12) == 0);
		CHECK(u32_at(f + 16) == 262144);
		CHECK(u32_at(f + 20) == 1);
	}
	for (i = 0; i < ARRAY_SIZE(recs); i++)
		check_record(f, flen, &off, &recs[i], t0, t1);
	CHECK(off == flen);
	free(f);
}

static void test_reopen_truncates(void)
{
	size_t flen = 0;
	uint8_t *f;

	CHECK(pcap_open(path) == 0);
	pcap_close();
	f = slurp(&flen);
	CHECK(f && flen == 24);
	free(f);
}

int main(void)
{
	int fd = mkstemp(path);

	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	close(fd);

	UNIT_PLAN(3);
	UNIT_RUN(test_not_open);
	UNIT_RUN(test_records);
	UNIT_RUN(test_reopen_truncates);
	unlink(path);
	UNIT_EXIT();
}
