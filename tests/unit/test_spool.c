/*
 * NAME
 *	test_spool - unit tests for spool records and queue_spool_read()
 * DESCRIPTION
 *	Records are written with queue_rec_header()/queue_rec_trailer() into
 *	DATA/spool/00000001.seg in a temporary data dir, exactly as the
 *	group commit lays them out (queue_int.h), then read back. Every kind
 *	of damage (a flipped payload, header or trailer byte, a truncated
 *	file, the wrong id, length or segment) must be an error, and a good
 *	record must come back byte for byte, its length included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "queue/queue_int.h"

#define ID1 "0000000003e8aaaa0001"
#define ID2 "0000000007d0bbbb0002"

struct fixture {
	char dir[256];
	char seg[400];
	/* the payloads written, and where */
	struct buf body1, body2;
	uint64_t off1, off2;
};

/* Append one record (header, payload, trailer) to the segment file. */
static uint64_t
append_record(const char *path, const char *id, const struct buf *body)
{
	unsigned char hdr[QUEUE_REC_HDR], tr[QUEUE_REC_TRAILER];
	FILE *fp = fopen(path, "ab");
	long off;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	off = ftell(fp);
	queue_rec_header(hdr, id, body);
	queue_rec_trailer(tr, hdr);
	assert_int_equal(fwrite(hdr, 1, sizeof(hdr), fp), sizeof(hdr));
	if (body->len)
		assert_int_equal(fwrite(body->data, 1, body->len, fp), body->len);
	assert_int_equal(fwrite(tr, 1, sizeof(tr), fp), sizeof(tr));
	assert_int_equal(fclose(fp), 0);
	return (uint64_t)off;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *t = getenv("TMPDIR");
	char spool[300];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/ph_spool_XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(spool, sizeof(spool), "%s/spool", f->dir);
	if (mkdir(spool, 0700) < 0)
		return -1;
	snprintf(f->seg, sizeof(f->seg), "%s/spool/00000001.seg", f->dir);

	/* A text message, then a binary one with NULs and every byte value. */
	buf_init(&f->body1, 1 << 20);
	if (buf_puts(&f->body1, "Subject: one\r\n\r\nHello\r\n") < 0)
		return -1;
	buf_init(&f->body2, 1 << 20);
	for (int i = 0; i < 70000; i++) {
		char c = (char)(i * 31 % 256);

		if (buf_append(&f->body2, &c, 1) < 0)
			return -1;
	}
	f->off1 = append_record(f->seg, ID1, &f->body1);
	f->off2 = append_record(f->seg, ID2, &f->body2);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char spool[300];

	unlink(f->seg);
	snprintf(spool, sizeof(spool), "%s/spool", f->dir);
	rmdir(spool);
	rmdir(f->dir);
	buf_free(&f->body1);
	buf_free(&f->body2);
	free(f);
	return 0;
}

/* Overwrite one byte of the segment file with its complement. */
static void
flip_byte(const char *path, uint64_t at)
{
	FILE *fp = fopen(path, "r+b");
	int c;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, (long)at, SEEK_SET), 0);
	c = fgetc(fp);
	assert_true(c != EOF);
	assert_int_equal(fseek(fp, (long)at, SEEK_SET), 0);
	assert_int_equal(fputc(~c & 0xff, fp), ~c & 0xff);
	assert_int_equal(fclose(fp), 0);
}

static uint64_t
file_size(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return (uint64_t)sb.st_size;
}

/* The layout on disk is the documented one (queue_int.h). */
static void
test_record_layout(void **state)
{
	struct fixture *f = *state;
	unsigned char hdr[QUEUE_REC_HDR], tr[QUEUE_REC_TRAILER];
	uint32_t crc;
	uint64_t len = 0;

	queue_rec_header(hdr, ID1, &f->body1);
	assert_memory_equal(hdr, "PHSR", 4);
	assert_int_equal(hdr[4] | hdr[5] << 8 | hdr[6] << 16 | (uint32_t)hdr[7] << 24,
			 QUEUE_REC_MESSAGE);
	for (int i = 7; i >= 0; i--)
		len = len << 8 | hdr[8 + i];
	assert_int_equal(len, f->body1.len);
	crc = hdr[16] | hdr[17] << 8 | hdr[18] << 16 | (uint32_t)hdr[19] << 24;
	assert_int_equal(crc, crc32c(0, f->body1.data, f->body1.len));
	assert_memory_equal(hdr + 20, "\0\0\0\0", 4);
	assert_string_equal((char *)hdr + 24, ID1);
	for (size_t i = 24 + strlen(ID1); i < QUEUE_REC_HDR; i++)
		assert_int_equal(hdr[i], 0); /* NUL padded */
	queue_rec_trailer(tr, hdr);
	assert_memory_equal(tr, "PHSE", 4);
	crc = tr[4] | tr[5] << 8 | tr[6] << 16 | (uint32_t)tr[7] << 24;
	assert_int_equal(crc, crc32c(0, hdr, QUEUE_REC_HDR));
	/* Both records are in the file back to back. */
	assert_int_equal(f->off1, 0);
	assert_int_equal(f->off2, QUEUE_REC_HDR + f->body1.len + QUEUE_REC_TRAILER);
	assert_int_equal(file_size(f->seg), f->off2 + QUEUE_REC_HDR + f->body2.len +
						    QUEUE_REC_TRAILER);
}

/* An id of 32 or more chars is cut to 31 and NUL-terminated. */
static void
test_record_long_id(void **state)
{
	unsigned char hdr[QUEUE_REC_HDR];
	struct buf b;

	(void)state;
	buf_init(&b, 16);
	queue_rec_header(hdr, "0123456789012345678901234567890123456789", &b);
	assert_int_equal(hdr[24 + 31], '\0');
	assert_memory_equal(hdr + 24, "0123456789012345678901234567890", 31);
	buf_free(&b);
}

/* Good records come back byte for byte, with their length. */
static void
test_read_ok(void **state)
{
	struct fixture *f = *state;
	const struct {
		const char *id;
		uint64_t off;
		const struct buf *body;
	} rows[] = {
		{ID1, f->off1, &f->body1},
		{ID2, f->off2, &f->body2},
	};

	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct buf out;
		char err[512] = "";
		size_t got;

		buf_init(&out, 1 << 20);
		if (queue_spool_read(f->dir, 1, rows[i].off, rows[i].body->len, rows[i].id, &out, err,
				     sizeof(err)) != 0)
			fail_msg("row %zu: %s", i, err);
		assert_non_null(out.data);
		assert_memory_equal(out.data, rows[i].body->data, rows[i].body->len);
		assert_int_equal(out.data[rows[i].body->len], '\0');
		got = out.len;
		buf_free(&out); /* before a failure, so that LSan reports only that */
		if (got != rows[i].body->len)
			fail_msg("row %zu: out.len is %zu after a good read of %zu bytes", i, got,
				 rows[i].body->len);
	}
}

/* A record with an empty payload is valid. */
static void
test_read_empty(void **state)
{
	struct fixture *f = *state;
	struct buf empty, out;
	uint64_t off;
	char err[512] = "";

	buf_init(&empty, 16);
	off = append_record(f->seg, "empty-id", &empty);
	buf_init(&out, 16);
	if (queue_spool_read(f->dir, 1, off, 0, "empty-id", &out, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(out.len, 0);
	buf_free(&out);
	buf_free(&empty);
}

enum damage {
	D_NONE,
	D_FLIP,     /* complement the byte at offset `at` (from the record start) */
	D_TRUNCATE, /* cut the file to the record start + `at` */
};

static void
test_read_damaged(void **state)
{
	struct fixture *f = *state;
	const uint64_t len2 = f->body2.len, end2 = QUEUE_REC_HDR + len2 + QUEUE_REC_TRAILER;
	const struct {
		const char *name;
		enum damage d;
		uint64_t at;  /* relative to record 2 */
		const char *id;
		uint64_t len; /* the length asked for */
		uint32_t seg;
		const char *err; /* substring of the error */
	} rows[] = {
		{"payload first byte", D_FLIP, QUEUE_REC_HDR, ID2, len2, 1, "checksum mismatch"},
		{"payload middle byte", D_FLIP, QUEUE_REC_HDR + len2 / 2, ID2, len2, 1,
		 "checksum mismatch"},
		{"payload last byte", D_FLIP, QUEUE_REC_HDR + len2 - 1, ID2, len2, 1,
		 "checksum mismatch"},
		{"magic", D_FLIP, 0, ID2, len2, 1, "bad or truncated header"},
		{"type", D_FLIP, 4, ID2, len2, 1, "bad or truncated header"},
		{"length", D_FLIP, 8, ID2, len2, 1, "bad or truncated header"},
		{"payload crc", D_FLIP, 16, ID2, len2, 1, "end marker"},
		{"reserved zero", D_FLIP, 20, ID2, len2, 1, "end marker"},
		{"id", D_FLIP, 24, ID2, len2, 1, "bad or truncated header"},
		{"id padding", D_FLIP, 55, ID2, len2, 1, "end marker"},
		{"trailer magic", D_FLIP, end2 - 8, ID2, len2, 1, "end marker"},
		{"trailer crc", D_FLIP, end2 - 1, ID2, len2, 1, "end marker"},
		{"truncated trailer", D_TRUNCATE, end2 - 1, ID2, len2, 1, "end marker"},
		{"truncated payload", D_TRUNCATE, QUEUE_REC_HDR + 10, ID2, len2, 1, "end marker"},
		{"truncated header", D_TRUNCATE, 20, ID2, len2, 1, "bad or truncated header"},
		{"truncated to the start", D_TRUNCATE, 0, ID2, len2, 1, "bad or truncated header"},
		{"wrong id", D_NONE, 0, ID1, len2, 1, "bad or truncated header"},
		{"id prefix", D_NONE, 0, "0000000007d0bbbb000", len2, 1, "bad or truncated header"},
		{"id longer", D_NONE, 0, ID2 "0", len2, 1, "bad or truncated header"},
		{"empty id", D_NONE, 0, "", len2, 1, "bad or truncated header"},
		{"length one short", D_NONE, 0, ID2, len2 - 1, 1, "bad or truncated header"},
		{"length one long", D_NONE, 0, ID2, len2 + 1, 1, "bad or truncated header"},
		{"no such segment", D_NONE, 0, ID2, len2, 2, "00000002.seg"},
	};

	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct buf out;
		char err[512] = "";
		int rc;

		/* A fresh segment for every row (a new file: drop the open
		 * descriptors the reader keeps for the old one). */
		queue_spool_close_cache();
		unlink(f->seg);
		f->off1 = append_record(f->seg, ID1, &f->body1);
		f->off2 = append_record(f->seg, ID2, &f->body2);
		if (rows[i].d == D_FLIP)
			flip_byte(f->seg, f->off2 + rows[i].at);
		else if (rows[i].d == D_TRUNCATE)
			assert_int_equal(truncate(f->seg, (off_t)(f->off2 + rows[i].at)), 0);

		buf_init(&out, 1 << 20);
		rc = queue_spool_read(f->dir, rows[i].seg, f->off2, rows[i].len, rows[i].id, &out,
				      err, sizeof(err));
		if (rc != -1)
			fail_msg("row %zu (%s): read succeeded", i, rows[i].name);
		if (strstr(err, rows[i].err) == NULL)
			fail_msg("row %zu (%s): err \"%s\", want \"%s\"", i, rows[i].name, err,
				 rows[i].err);
		/* Nothing of a bad record is handed out. */
		assert_int_equal(out.len, 0);
		buf_free(&out);

		/* Damage to record 2 does not touch record 1. */
		buf_init(&out, 1 << 20);
		if (queue_spool_read(f->dir, 1, f->off1, f->body1.len, ID1, &out, err,
				     sizeof(err)) != 0)
			fail_msg("row %zu (%s): record 1 became unreadable: %s", i, rows[i].name,
				 err);
		buf_free(&out);
	}
}

/* A record larger than the out buffer's cap is refused, not truncated. */
static void
test_read_too_large(void **state)
{
	struct fixture *f = *state;
	struct buf out;
	char err[512] = "";

	buf_init(&out, f->body2.len - 1);
	assert_int_equal(queue_spool_read(f->dir, 1, f->off2, f->body2.len, ID2, &out, err,
					  sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "too large"));
	assert_int_equal(out.len, 0);
	buf_free(&out);
	/* Exactly the cap is fine. */
	buf_init(&out, f->body2.len);
	assert_int_equal(queue_spool_read(f->dir, 1, f->off2, f->body2.len, ID2, &out, err,
					  sizeof(err)),
			 0);
	assert_memory_equal(out.data, f->body2.data, f->body2.len);
	buf_free(&out);
}

/* An offset that is not a record start is refused. */
static void
test_read_wrong_offset(void **state)
{
	struct fixture *f = *state;
	const uint64_t offs[] = {1, f->off2 - 1, f->off2 + 1, QUEUE_REC_HDR,
				 file_size(f->seg), file_size(f->seg) + 4096};

	for (size_t i = 0; i < PH_ARRAY_LEN(offs); i++) {
		struct buf out;
		char err[512] = "";

		buf_init(&out, 1 << 20);
		if (queue_spool_read(f->dir, 1, offs[i], f->body2.len, ID2, &out, err,
				     sizeof(err)) != -1)
			fail_msg("offset %llu accepted", (unsigned long long)offs[i]);
		buf_free(&out);
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_record_layout),
		cmocka_unit_test(test_record_long_id),
		T(test_read_ok),
		T(test_read_empty),
		T(test_read_damaged),
		T(test_read_too_large),
		T(test_read_wrong_offset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
