/*
 * NAME
 *	test_lib - unit tests for the lib module
 * DESCRIPTION
 *	Table-driven, in the style of Postfix's *_test.c: each test walks a
 *	table of {input, expected} rows and names the failing row.
 *	Covers struct buf (the hard cap at N-1, N and N+1 bytes), the arena,
 *	log_escape, the number and duration parsers, the timestamp
 *	formatters, JSON string writing, CRC-32C, strmap, base64 and the
 *	fatal()/panic() tiers (intercepted through lib_set_exit_hook()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/lib.h"

#define S(lit) lit, sizeof(lit) - 1 /* a literal with its length, NULs and all */

/* --- struct buf -------------------------------------------------------- */

/* Append n bytes to a fresh buffer of cap c, then one more byte. */
static void
test_buf_cap(void **state)
{
	static const struct {
		size_t cap, n;
		int first_ok, second_ok;
	} rows[] = {
		{16, 15, 1, 1}, /* N-1, then N */
		{16, 16, 1, 0}, /* exactly N, then N+1 */
		{16, 17, 0, 1}, /* N+1 at once, then 1 into the empty buffer */
		{0, 0, 1, 0},
		{0, 1, 0, 0},
		{1, 1, 1, 0},
		{64, 63, 1, 1}, /* around the first allocation size */
		{64, 64, 1, 0},
		{65, 65, 1, 0},
		{1000, 999, 1, 1},
		{1000, 1000, 1, 0},
		{1000, 1001, 0, 1},
	};
	char src[1100];

	(void)state;
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (char)('a' + i % 26);
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct buf b;
		size_t len1;
		int r;

		buf_init(&b, rows[i].cap);
		r = buf_append(&b, src, rows[i].n);
		if ((r == 0) != rows[i].first_ok)
			fail_msg("row %zu: first append of %zu into cap %zu returned %d", i,
				 rows[i].n, rows[i].cap, r);
		len1 = rows[i].first_ok ? rows[i].n : 0;
		assert_int_equal(b.len, len1);
		if (len1 > 0)
			assert_memory_equal(b.data, src, len1);
		if (b.data)
			assert_int_equal(b.data[b.len], '\0');
		r = buf_append(&b, "Z", 1);
		if ((r == 0) != rows[i].second_ok)
			fail_msg("row %zu: second append returned %d", i, r);
		if (rows[i].second_ok) {
			assert_int_equal(b.len, len1 + 1);
			assert_int_equal(b.data[len1], 'Z');
		} else {
			/* A failed append leaves the buffer exactly as it was. */
			assert_int_equal(b.len, len1);
			if (len1 > 0)
				assert_memory_equal(b.data, src, len1);
		}
		if (b.data)
			assert_int_equal(b.data[b.len], '\0');
		assert_true(b.len <= b.cap);
		assert_true(b.data == NULL || b.size <= b.cap + 1);
		buf_free(&b);
	}
}

/* Growing one byte at a time up to the cap, then refusing. */
static void
test_buf_grow(void **state)
{
	struct buf b;
	size_t cap = 5000;

	(void)state;
	buf_init(&b, cap);
	for (size_t i = 0; i < cap; i++) {
		char c = (char)(i % 251);

		assert_int_equal(buf_append(&b, &c, 1), 0);
		assert_int_equal(b.data[b.len], '\0');
	}
	assert_int_equal(b.len, cap);
	for (size_t i = 0; i < cap; i++)
		if (b.data[i] != (char)(i % 251))
			fail_msg("byte %zu changed while growing", i);
	assert_int_equal(buf_append(&b, "x", 1), -1);
	assert_int_equal(buf_reserve(&b, 1), -1);
	assert_int_equal(buf_reserve(&b, 0), 0);
	assert_int_equal(b.len, cap);
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void
test_buf_reserve(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 100);
	assert_int_equal(buf_reserve(&b, 100), 0);
	assert_int_equal(b.len, 0); /* reserving does not use */
	assert_true(b.size >= 101);
	assert_int_equal(buf_reserve(&b, 101), -1);
	assert_int_equal(buf_puts(&b, "hello"), 0);
	assert_int_equal(buf_reserve(&b, 95), 0);
	assert_int_equal(buf_reserve(&b, 96), -1);
	assert_int_equal(buf_reserve(&b, SIZE_MAX), -1);
	assert_string_equal(b.data, "hello");
	buf_free(&b);
}

static void
test_buf_binary(void **state)
{
	static const char bin[] = "a\0b\0\0c\xff";
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_append(&b, bin, sizeof(bin) - 1), 0);
	assert_int_equal(buf_append(&b, bin, sizeof(bin) - 1), 0);
	assert_int_equal(b.len, 2 * (sizeof(bin) - 1));
	assert_memory_equal(b.data, bin, sizeof(bin) - 1);
	assert_memory_equal(b.data + sizeof(bin) - 1, bin, sizeof(bin) - 1);
	assert_int_equal(b.data[b.len], '\0');
	/* Zero-length appends are fine, even with a NULL pointer. */
	assert_int_equal(buf_append(&b, NULL, 0), 0);
	assert_int_equal(b.len, 2 * (sizeof(bin) - 1));
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_non_null(b.data);
	assert_int_equal(b.data[0], '\0');
	buf_free(&b);
}

static void
test_buf_printf(void **state)
{
	static const struct {
		size_t cap;
		const char *pre;
		int num;
		const char *str;
		int rc;
		const char *want;
	} rows[] = {
		{64, "", 42, "x", 0, "n=42 s=x"},
		{8, "", 42, "x", 0, "n=42 s=x"},       /* exactly the cap */
		{7, "", 42, "x", -1, ""},              /* one past it */
		{9, "ab", 4, "x", 0, "abn=4 s=x"},     /* 2 + 7 = 9: exactly the cap */
		{8, "ab", 4, "x", -1, "ab"},           /* 2 + 7 = 9 > 8: unchanged */
		{100, "pre:", -7, "", 0, "pre:n=-7 s="},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct buf b;
		int r;

		buf_init(&b, rows[i].cap);
		assert_int_equal(buf_puts(&b, rows[i].pre), 0);
		r = buf_printf(&b, "n=%d s=%s", rows[i].num, rows[i].str);
		if (r != rows[i].rc)
			fail_msg("row %zu: buf_printf returned %d, want %d", i, r, rows[i].rc);
		assert_string_equal(b.data ? b.data : "", rows[i].want);
		assert_int_equal(b.len, strlen(rows[i].want));
		buf_free(&b);
	}
}

static void
test_buf_consume(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} rows[] = {
		{"hello world", 0, "hello world"},
		{"hello world", 1, "ello world"},
		{"hello world", 6, "world"},
		{"hello world", 10, "d"},
		{"hello world", 11, ""},
		{"hello world", 12, ""},
		{"hello world", SIZE_MAX, ""},
		{"", 0, ""},
		{"", 5, ""},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct buf b;

		buf_init(&b, 64);
		assert_int_equal(buf_puts(&b, rows[i].in), 0);
		buf_consume(&b, rows[i].n);
		assert_int_equal(b.len, strlen(rows[i].want));
		if (b.data == NULL) {
			assert_string_equal("", rows[i].want);
		} else {
			assert_string_equal(b.data, rows[i].want);
			assert_int_equal(b.data[b.len], '\0');
		}
		/* The buffer is still usable and its cap is unchanged. */
		assert_int_equal(buf_puts(&b, "!"), 0);
		assert_int_equal(b.data[b.len - 1], '!');
		buf_free(&b);
	}
}

static void
test_buf_steal(void **state)
{
	struct buf b;
	char *p;

	(void)state;
	buf_init(&b, 32);
	assert_int_equal(buf_puts(&b, "stolen"), 0);
	p = buf_steal(&b);
	assert_string_equal(p, "stolen");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.size, 0);
	free(p);
	/* The cap survives: the buffer can be used again. */
	assert_int_equal(buf_puts(&b, "again"), 0);
	assert_string_equal(b.data, "again");
	buf_free(&b);

	/* An empty buffer hands over "" rather than NULL. */
	buf_init(&b, 32);
	p = buf_steal(&b);
	assert_non_null(p);
	assert_string_equal(p, "");
	free(p);
	buf_free(&b);
}

/* --- arena ------------------------------------------------------------- */

static void
test_arena(void **state)
{
	enum { N = 3000 };
	struct arena a;
	unsigned char *ptr[N];
	size_t sz[N], total = 0;

	(void)state;
	arena_init(&a);
	assert_int_equal(a.used_total, 0);
	for (size_t i = 0; i < N; i++) {
		/* Sizes from 0 to a few chunks: small, odd and bigger than a chunk. */
		sz[i] = (i * 7919) % 300 + (i % 97 == 0 ? 9000 : 0);
		ptr[i] = arena_alloc(&a, sz[i]);
		assert_non_null(ptr[i]);
		if ((uintptr_t)ptr[i] % _Alignof(max_align_t) != 0)
			fail_msg("alloc %zu of %zu bytes is misaligned: %p", i, sz[i],
				 (void *)ptr[i]);
		memset(ptr[i], (int)(i & 0xff), sz[i]);
		total += (sz[i] + sizeof(max_align_t) - 1) / sizeof(max_align_t) *
			 sizeof(max_align_t);
	}
	assert_int_equal(a.used_total, total);
	/* No allocation overlapped another: every fill survived. */
	for (size_t i = 0; i < N; i++)
		for (size_t k = 0; k < sz[i]; k++)
			if (ptr[i][k] != (unsigned char)(i & 0xff))
				fail_msg("alloc %zu byte %zu was overwritten", i, k);
	arena_free(&a);
	assert_null(a.head);
	assert_int_equal(a.used_total, 0);
	/* Usable again after arena_free(). */
	assert_non_null(arena_alloc(&a, 10));
	arena_free(&a);
}

static void
test_arena_strndup(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
		size_t want_len;
	} rows[] = {
		{"hello world", 5, "hello", 5},
		{"hello", 5, "hello", 5},
		{"", 0, "", 0},
		{"a\0b", 3, "a\0b", 3},
	};
	struct arena a;

	(void)state;
	arena_init(&a);
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		char *p = arena_strndup(&a, rows[i].in, rows[i].n);

		assert_memory_equal(p, rows[i].want, rows[i].want_len);
		assert_int_equal(p[rows[i].n], '\0');
		assert_true(p != rows[i].in);
	}
	arena_free(&a);
}

/* --- error tiers ------------------------------------------------------- */

static jmp_buf hook_jmp;
static int hook_panic;
static char hook_msg[2048];

static void
hook(int is_panic, const char *msg)
{
	hook_panic = is_panic;
	snprintf(hook_msg, sizeof(hook_msg), "%s", msg);
	longjmp(hook_jmp, 1);
}

static void
test_fatal_panic(void **state)
{
	static const struct {
		int is_panic;
		const char *arg;
		const char *want;
	} rows[] = {
		{0, "port in use", "config: port in use"},
		{1, "bad state 7", "config: bad state 7"},
		{0, "", "config: "},
		{1, "100% sure", "config: 100% sure"},
	};

	(void)state;
	lib_set_exit_hook(hook);
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		volatile int reached_end = 0;

		hook_panic = -1;
		hook_msg[0] = '\0';
		if (setjmp(hook_jmp) == 0) {
			if (rows[i].is_panic)
				panic("config: %s", rows[i].arg);
			else
				fatal("config: %s", rows[i].arg);
			reached_end = 1; /* not reached: both are noreturn */
		}
		assert_int_equal(reached_end, 0);
		if (hook_panic != rows[i].is_panic)
			fail_msg("row %zu: hook saw is_panic=%d", i, hook_panic);
		assert_string_equal(hook_msg, rows[i].want);
	}
	lib_set_exit_hook(NULL);
}

/* The message reaching the hook is bounded; an oversized one is cut. */
static void
test_fatal_long_message(void **state)
{
	char big[3000];

	(void)state;
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	lib_set_exit_hook(hook);
	if (setjmp(hook_jmp) == 0)
		fatal("%s", big);
	lib_set_exit_hook(NULL);
	assert_int_equal(hook_panic, 0);
	assert_true(strlen(hook_msg) > 0);
	assert_true(strlen(hook_msg) < 1024);
	assert_int_equal(strspn(hook_msg, "m"), strlen(hook_msg));
}

/* An absurd arena request ends in fatal(), not in an overflowed size. */
static void
test_arena_overflow_fatal(void **state)
{
	struct arena a;
	volatile int returned = 0;

	(void)state;
	arena_init(&a);
	lib_set_exit_hook(hook);
	hook_msg[0] = '\0';
	if (setjmp(hook_jmp) == 0) {
		(void)arena_alloc(&a, SIZE_MAX - 1);
		returned = 1;
	}
	lib_set_exit_hook(NULL);
	assert_int_equal(returned, 0);
	assert_int_equal(hook_panic, 0);
	assert_non_null(strstr(hook_msg, "arena"));
	arena_free(&a);
}

/* --- logging ------------------------------------------------------------- */

static void
test_log_escape(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		size_t out_size;
		const char *want;
	} rows[] = {
		{S("plain text"), 64, "plain text"},
		{S(""), 64, ""},
		{S("a\"b"), 64, "a\\x22b"},
		{S("a\\b"), 64, "a\\x5cb"},
		{S("\r\n"), 64, "\\x0d\\x0a"},
		{S("tab\there"), 64, "tab\\x09here"},
		{S("\x1b[31m"), 64, "\\x1b[31m"},
		{S("\x7f"), 64, "\\x7f"},
		{S("\x80\xff"), 64, "\\x80\\xff"},
		{S("a\0b"), 64, "a\\x00b"},
		{S(" ~"), 64, " ~"},
		{S("caf\xc3\xa9"), 64, "caf\\xc3\\xa9"},
		/* Truncation: out_size - 1 bytes at most, never half an escape. */
		{S("abcdef"), 4, "abc"},
		{S("abcdef"), 7, "abcdef"},
		{S("abcdef"), 6, "abcde"},
		{S("\n"), 5, "\\x0a"},
		{S("\n"), 4, ""},
		{S("ab\n"), 6, "ab"},
		{S("ab\ncd"), 7, "ab\\x0a"},
		{S("abc"), 1, ""},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		char out[128];
		size_t r;

		memset(out, 'Z', sizeof(out));
		r = log_escape(out, rows[i].out_size, rows[i].in, rows[i].n);
		if (strcmp(out, rows[i].want) != 0)
			fail_msg("row %zu: got \"%s\", want \"%s\"", i, out, rows[i].want);
		assert_int_equal(r, strlen(rows[i].want));
		assert_true(r < rows[i].out_size);
		/* Nothing written past out_size. */
		for (size_t k = rows[i].out_size; k < sizeof(out); k++)
			if (out[k] != 'Z')
				fail_msg("row %zu: wrote past out_size at %zu", i, k);
	}
	/* out_size 0: nothing at all is written. */
	{
		char out[4] = {'Z', 'Z', 'Z', 'Z'};

		assert_int_equal(log_escape(out, 0, "abc", 3), 0);
		assert_int_equal(out[0], 'Z');
	}
}

static void
test_log_level(void **state)
{
	static const struct {
		const char *s;
		int rc;
		enum log_level l;
	} rows[] = {
		{"debug", 0, LOG_DEBUG}, {"info", 0, LOG_INFO}, {"warn", 0, LOG_WARN},
		{"error", 0, LOG_ERROR}, {"INFO", -1, 0},       {"", -1, 0},
		{"warning", -1, 0},      {"inf", -1, 0},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		enum log_level l = LOG_ERROR;
		int rc = log_level_parse(rows[i].s, &l);

		if (rc != rows[i].rc)
			fail_msg("row %zu (%s): rc %d", i, rows[i].s, rc);
		if (rc == 0) {
			assert_int_equal(l, rows[i].l);
			assert_string_equal(log_level_str(l), rows[i].s);
		}
	}
	assert_string_equal(log_level_str((enum log_level)99), "?");
}

/* One line per event: timestamp, ident[pid], level, message. */
static void
test_log_line(void **state)
{
	FILE *fp = tmpfile();
	char line[512], want[128];

	(void)state;
	assert_non_null(fp);
	log_set_stream(fp);
	log_set_ident("phtest");
	log_set_level(LOG_WARN);
	log_info("dropped %d", 1);
	log_warn("kept id=%s", "m1");
	log_debug("dropped too");
	log_error("second");
	log_set_stream(NULL);
	log_set_ident("posthaste");
	log_set_level(LOG_INFO);
	rewind(fp);
	assert_non_null(fgets(line, sizeof(line), fp));
	/* 2026-11-22T15:51:35.123Z phtest[123] warn: kept id=m1 */
	assert_int_equal(line[10], 'T');
	assert_int_equal(line[23], 'Z');
	snprintf(want, sizeof(want), " phtest[%ld] warn: kept id=m1\n", (long)getpid());
	assert_string_equal(line + 24, want);
	assert_non_null(fgets(line, sizeof(line), fp));
	assert_non_null(strstr(line, "] error: second\n"));
	assert_null(fgets(line, sizeof(line), fp));
	fclose(fp);
}

/* --- number parsers ----------------------------------------------------- */

static void
test_parse_uint(void **state)
{
	static const struct {
		const char *s;
		uint64_t min, max;
		int rc;
		uint64_t want;
	} rows[] = {
		{"0", 0, 10, 0, 0},
		{"10", 0, 10, 0, 10},
		{"11", 0, 10, -1, 0},
		{"4", 5, 10, -1, 0},
		{"5", 5, 10, 0, 5},
		{"007", 0, 10, 0, 7},
		{"18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX},
		{"18446744073709551616", 0, UINT64_MAX, -1, 0},
		{"18446744073709551620", 0, UINT64_MAX, -1, 0},
		{"99999999999999999999", 0, UINT64_MAX, -1, 0},
		{"184467440737095516150", 0, UINT64_MAX, -1, 0},
		{"", 0, 10, -1, 0},
		{NULL, 0, 10, -1, 0},
		{"1a", 0, 100, -1, 0},
		{"a1", 0, 100, -1, 0},
		{" 1", 0, 100, -1, 0},
		{"1 ", 0, 100, -1, 0},
		{"-1", 0, 100, -1, 0},
		{"+1", 0, 100, -1, 0},
		{"0x10", 0, 100, -1, 0},
		{"1.0", 0, 100, -1, 0},
		{"65535", 1, 65535, 0, 65535},
		{"65536", 1, 65535, -1, 0},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		uint64_t v = 12345;
		int rc = parse_uint(rows[i].s, rows[i].min, rows[i].max, &v);

		if (rc != rows[i].rc)
			fail_msg("row %zu (\"%s\"): rc %d, want %d", i,
				 rows[i].s ? rows[i].s : "(null)", rc, rows[i].rc);
		/* On error the output is untouched. */
		assert_int_equal(v, rc == 0 ? rows[i].want : 12345);
	}
}

static void
test_parse_size(void **state)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t want;
	} rows[] = {
		{"0", 0, 0},
		{"1", 0, 1},
		{"1k", 0, 1024},
		{"1K", 0, 1024},
		{"2m", 0, 2 * 1024 * 1024},
		{"2M", 0, 2 * 1024 * 1024},
		{"3g", 0, 3ull << 30},
		{"3G", 0, 3ull << 30},
		{"25m", 0, 25ull << 20},
		{"18446744073709551615", 0, UINT64_MAX},
		{"18446744073709551616", -1, 0},
		{"17179869183g", 0, 17179869183ull << 30},
		{"17179869184g", -1, 0},
		{"18014398509481983k", 0, 18014398509481983ull << 10},
		{"18014398509481984k", -1, 0},
		{"", -1, 0},
		{"k", -1, 0},
		{"1kb", -1, 0},
		{"1 k", -1, 0},
		{"1t", -1, 0},
		{"1.5k", -1, 0},
		{"-1", -1, 0},
		{" 1", -1, 0},
		{"1k ", -1, 0},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		uint64_t v = 777;
		int rc = parse_size(rows[i].s, &v);

		if (rc != rows[i].rc)
			fail_msg("row %zu (\"%s\"): rc %d, want %d", i, rows[i].s, rc, rows[i].rc);
		if (rc == 0 && v != rows[i].want)
			fail_msg("row %zu (\"%s\"): got %llu", i, rows[i].s, (unsigned long long)v);
	}
}

static void
test_parse_duration(void **state)
{
	static const struct {
		const char *s;
		int rc;
		int64_t want;
	} rows[] = {
		{"30", 0, 30000},
		{"30s", 0, 30000},
		{"0", 0, 0},
		{"0ms", 0, 0},
		{"250ms", 0, 250},
		{"5m", 0, 300000},
		{"2h", 0, 7200000},
		{"5d", 0, 432000000},
		{"106751991167d", 0, 106751991167ll * 86400000},
		{"106751991168d", -1, 0},
		{"9223372036854775807ms", 0, INT64_MAX},
		{"9223372036854775808ms", -1, 0},
		{"9223372036854775s", 0, 9223372036854775000ll},
		{"9223372036854776s", -1, 0},
		{"99999999999999999999999s", -1, 0},
		{"", -1, 0},
		{"s", -1, 0},
		{"ms", -1, 0},
		{"5x", -1, 0},
		{"5 m", -1, 0},
		{"5M", -1, 0},
		{"5S", -1, 0},
		{"5mss", -1, 0},
		{"5sm", -1, 0},
		{"1.5s", -1, 0},
		{"-1s", -1, 0},
		{" 5s", -1, 0},
		{"5s ", -1, 0},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		int64_t v = -5;
		int rc = time_parse_duration(rows[i].s, &v);

		if (rc != rows[i].rc)
			fail_msg("row %zu (\"%s\"): rc %d, want %d", i, rows[i].s, rc, rows[i].rc);
		if (rc == 0 && v != rows[i].want)
			fail_msg("row %zu (\"%s\"): got %lld", i, rows[i].s, (long long)v);
	}
}

/* --- time -------------------------------------------------------------- */

static void
test_time_format(void **state)
{
	static const struct {
		int64_t ms;
		const char *rfc3339, *rfc5322;
	} rows[] = {
		{0, "1970-01-01T00:00:00.000Z", "Thu, 1 Jan 1970 00:00:00 +0000"},
		{1234567890123, "2009-02-13T23:31:30.123Z", "Fri, 13 Feb 2009 23:31:30 +0000"},
		{951782400000, "2000-02-29T00:00:00.000Z", "Tue, 29 Feb 2000 00:00:00 +0000"},
		{1700000000999, "2023-11-14T22:13:20.999Z", "Tue, 14 Nov 2023 22:13:20 +0000"},
		{1709251199999, "2024-02-29T23:59:59.999Z", "Thu, 29 Feb 2024 23:59:59 +0000"},
		{4102444800000, "2100-01-01T00:00:00.000Z", "Fri, 1 Jan 2100 00:00:00 +0000"},
		{253402300799999, "9999-12-31T23:59:59.999Z", "Fri, 31 Dec 9999 23:59:59 +0000"},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		char a[TIME_RFC3339_LEN], b[TIME_RFC5322_LEN];

		time_rfc3339(rows[i].ms, a);
		time_rfc5322(rows[i].ms, b);
		if (strcmp(a, rows[i].rfc3339) != 0)
			fail_msg("row %zu: rfc3339 %s, want %s", i, a, rows[i].rfc3339);
		if (strcmp(b, rows[i].rfc5322) != 0)
			fail_msg("row %zu: rfc5322 %s, want %s", i, b, rows[i].rfc5322);
	}
}

static void
test_time_clocks(void **state)
{
	int64_t a = time_mono_us(), b, now = time_now_ms();

	(void)state;
	b = time_mono_us();
	assert_true(b >= a);
	assert_true(now > 1600000000000ll); /* after 2020 */
}

/* --- JSON -------------------------------------------------------------- */

static void
test_json_put_str(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} rows[] = {
		{S(""), "\"\""},
		{S("abc"), "\"abc\""},
		{S("a\"b"), "\"a\\\"b\""},
		{S("a\\b"), "\"a\\\\b\""},
		{S("\n\t\r"), "\"\\u000a\\u0009\\u000d\""},
		{S("\x01\x1f\x7f"), "\"\\u0001\\u001f\\u007f\""},
		{S("a\0b"), "\"a\\u0000b\""},
		{S("caf\xc3\xa9"), "\"caf\xc3\xa9\""},
		{S("</x>"), "\"</x>\""},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct buf b;

		buf_init(&b, 256);
		assert_int_equal(json_put_str(&b, rows[i].in, rows[i].n), 0);
		if (strcmp(b.data, rows[i].want) != 0)
			fail_msg("row %zu: got %s, want %s", i, b.data, rows[i].want);
		buf_free(&b);
	}
}

static void
test_json_cap(void **state)
{
	struct buf b;

	(void)state;
	/* "\"ab\"" is 4 bytes: fits a cap of 4, not 3. */
	buf_init(&b, 4);
	assert_int_equal(json_put_str(&b, "ab", 2), 0);
	buf_free(&b);
	buf_init(&b, 3);
	assert_int_equal(json_put_str(&b, "ab", 2), -1);
	buf_free(&b);
	/* An escape that does not fit fails the call. */
	buf_init(&b, 7);
	assert_int_equal(json_put_str(&b, "\n", 1), -1);
	buf_free(&b);
	buf_init(&b, 8);
	assert_int_equal(json_put_str(&b, "\n", 1), 0);
	assert_string_equal(b.data, "\"\\u000a\"");
	buf_free(&b);
}

static void
test_json_kv(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 512);
	assert_int_equal(buf_puts(&b, "{"), 0);
	assert_int_equal(json_put_kv(&b, "a", "x"), 0);
	assert_int_equal(json_put_kv(&b, "b", NULL), 0);
	assert_int_equal(json_put_ki(&b, "c", -42), 0);
	assert_int_equal(json_put_ki(&b, "d", INT64_MIN), 0);
	assert_int_equal(json_put_kv(&b, "k\"q", "v\\\n"), 0);
	assert_int_equal(buf_puts(&b, ",\"arr\":["), 0);
	assert_int_equal(buf_puts(&b, "{"), 0);
	assert_int_equal(json_put_ki(&b, "e", 0), 0);
	assert_int_equal(buf_puts(&b, "}]}"), 0);
	assert_string_equal(b.data,
			    "{\"a\":\"x\",\"b\":null,\"c\":-42,\"d\":-9223372036854775808,"
			    "\"k\\\"q\":\"v\\\\\\u000a\",\"arr\":[{\"e\":0}]}");
	buf_reset(&b);
	/* An empty buffer gets no leading comma either. */
	assert_int_equal(json_put_kv(&b, "a", ""), 0);
	assert_string_equal(b.data, "\"a\":\"\"");
	buf_free(&b);
}

/* --- CRC-32C ------------------------------------------------------------- */

static void
test_crc32c(void **state)
{
	unsigned char zeros[32], ones[32], inc[32], dec[32];
	const struct {
		const void *p;
		size_t n;
		uint32_t want;
	} rows[] = {
		{"123456789", 9, 0xE3069283u},
		{"", 0, 0},
		{"a", 1, 0xC1D04330u},
		{"The quick brown fox jumps over the lazy dog", 43, 0x22620404u},
		{zeros, 32, 0x8A9136AAu}, /* RFC 3720 B.4 */
		{ones, 32, 0x62A8AB43u},
		{inc, 32, 0x46DD794Eu},
		{dec, 32, 0x113FDB5Cu},
	};

	(void)state;
	memset(zeros, 0, sizeof(zeros));
	memset(ones, 0xff, sizeof(ones));
	for (int i = 0; i < 32; i++) {
		inc[i] = (unsigned char)i;
		dec[i] = (unsigned char)(31 - i);
	}
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		uint32_t c = crc32c(0, rows[i].p, rows[i].n);

		if (c != rows[i].want)
			fail_msg("row %zu: crc 0x%08x, want 0x%08x", i, c, rows[i].want);
		/* Incremental over every split, and from unaligned starts. */
		for (size_t k = 0; k <= rows[i].n; k++) {
			uint32_t part = crc32c(0, rows[i].p, k);

			part = crc32c(part, (const char *)rows[i].p + k, rows[i].n - k);
			if (part != rows[i].want)
				fail_msg("row %zu: split at %zu gives 0x%08x", i, k, part);
		}
	}
}

/* --- strmap ------------------------------------------------------------ */

static void
test_strmap_basic(void **state)
{
	struct strmap m;
	struct strmap_entry *e, *f;

	(void)state;
	strmap_init(&m, 8, 3);
	assert_null(strmap_get(&m, "192.0.2.1", 0)); /* lookup does not create */
	assert_int_equal(m.n, 0);
	e = strmap_get(&m, "192.0.2.1", 1);
	assert_non_null(e);
	assert_string_equal(e->key, "192.0.2.1");
	assert_int_equal(e->count, 0);
	assert_int_equal(e->stamp_ms, 0);
	e->count = 5;
	f = strmap_get(&m, "192.0.2.1", 1);
	assert_ptr_equal(e, f);
	assert_int_equal(f->count, 5);
	assert_non_null(strmap_get(&m, "b", 1));
	assert_non_null(strmap_get(&m, "c", 1));
	assert_int_equal(m.n, 3);
	/* Full: no new key, but the existing ones are still found. */
	assert_null(strmap_get(&m, "d", 1));
	assert_int_equal(m.n, 3);
	assert_ptr_equal(strmap_get(&m, "b", 1), strmap_get(&m, "b", 0));
	strmap_del(&m, "b");
	assert_int_equal(m.n, 2);
	assert_null(strmap_get(&m, "b", 0));
	strmap_del(&m, "nonexistent");
	assert_int_equal(m.n, 2);
	assert_non_null(strmap_get(&m, "d", 1));
	assert_int_equal(m.n, 3);
	strmap_free(&m);
	assert_int_equal(m.n, 0);

	/* max 0: every create is over the limit. */
	strmap_init(&m, 4, 0);
	assert_null(strmap_get(&m, "x", 1));
	strmap_free(&m);
}

static void
test_strmap_expire(void **state)
{
	static const struct {
		const char *key;
		int64_t count, stamp;
		int survives; /* expire(50) */
	} rows[] = {
		{"idle-old", 0, 10, 0},
		{"busy-old", 1, 10, 1},
		{"idle-new", 0, 100, 1},
		{"neg-old", -1, 5, 0},
		{"idle-edge", 0, 50, 1}, /* stamp == cutoff: not older */
		{"idle-49", 0, 49, 0},
	};
	struct strmap m;
	size_t left = 0;

	(void)state;
	strmap_init(&m, 2, 100); /* few slots: expire walks chains */
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct strmap_entry *e = strmap_get(&m, rows[i].key, 1);

		assert_non_null(e);
		e->count = rows[i].count;
		e->stamp_ms = rows[i].stamp;
		left += (size_t)rows[i].survives;
	}
	strmap_expire(&m, 50);
	assert_int_equal(m.n, left);
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++)
		if ((strmap_get(&m, rows[i].key, 0) != NULL) != rows[i].survives)
			fail_msg("row %zu (%s): survives=%d expected", i, rows[i].key,
				 rows[i].survives);
	strmap_free(&m);
}

/* forget_before drops by age alone: counts do not keep an entry. */
static void
test_strmap_forget_before(void **state)
{
	static const struct {
		const char *key;
		int64_t count, stamp;
		int survives; /* forget_before(50) */
	} rows[] = {
		{"busy-old", 3, 10, 0}, {"idle-old", 0, 10, 0}, {"busy-new", 3, 100, 1},
		{"edge", 1, 50, 1},     {"just-old", 1, 49, 0},
	};
	struct strmap m;
	size_t left = 0;

	(void)state;
	strmap_init(&m, 2, 100);
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct strmap_entry *e = strmap_get(&m, rows[i].key, 1);

		e->count = rows[i].count;
		e->stamp_ms = rows[i].stamp;
		left += (size_t)rows[i].survives;
	}
	strmap_forget_before(&m, 50);
	assert_int_equal(m.n, left);
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++)
		if ((strmap_get(&m, rows[i].key, 0) != NULL) != rows[i].survives)
			fail_msg("row %zu (%s): survives=%d expected", i, rows[i].key,
				 rows[i].survives);
	strmap_forget_before(&m, INT64_MAX);
	assert_int_equal(m.n, 0);
	strmap_free(&m);
}

/* One slot: every key collides; deleting from the middle keeps the chain. */
/* Throttle: the delay doubles per failure up to the cap, counts the worse
 * of IP and user, waits run out, a success forgets, and old failures are
 * forgotten. Times are given, not read. */
static void
test_throttle(void **state)
{
	static const struct {
		const char *ip, *user;
		int64_t now;
		char op; /* f: failed, p: passed, w: wait */
		int64_t want; /* failed: the delay; wait: what is left */
	} rows[] = {
		{"192.0.2.1", "ann", 1000, 'w', 0},
		{"192.0.2.1", "ann", 1000, 'f', 250},
		{"192.0.2.1", "ann", 1100, 'w', 150},
		{"192.0.2.1", NULL, 1249, 'w', 1},
		{"192.0.2.1", "ann", 1250, 'w', 0},
		{"192.0.2.1", "ann", 1250, 'f', 500},
		{"192.0.2.1", "ann", 1250, 'f', 1000},
		{"192.0.2.1", "ann", 1250, 'f', 2000},
		{"192.0.2.1", "ann", 1250, 'f', 4000},
		{"192.0.2.1", "ann", 1250, 'f', THROTTLE_MAX_MS},
		{"192.0.2.1", "ann", 1250, 'f', THROTTLE_MAX_MS},
		{"192.0.2.1", "ann", 1250 + THROTTLE_MAX_MS - 1, 'w', 1},
		/* Another IP trying the same user waits as long as the user. */
		{"198.51.100.7", "ann", 1250 + THROTTLE_MAX_MS - 1, 'w', 1},
		{"198.51.100.7", NULL, 1250, 'w', 0},
		{"198.51.100.7", "bob", 1250, 'w', 0},
		/* A success clears that IP and user. */
		{"192.0.2.1", "ann", 2000, 'p', 0},
		{"192.0.2.1", "ann", 2000, 'w', 0},
		{"192.0.2.1", "ann", 2000, 'f', 250},
		/* Failures older than THROTTLE_FORGET_MS do not count. */
		{"192.0.2.1", "ann", 2000 + THROTTLE_FORGET_MS + 1, 'f', 250},
	};
	struct throttle t;

	(void)state;
	throttle_init(&t, 8, 100);
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		int64_t got = 0, n;

		if (rows[i].op == 'f')
			got = throttle_failed(&t, rows[i].ip, rows[i].user, rows[i].now, &n);
		else if (rows[i].op == 'w')
			got = throttle_wait(&t, rows[i].ip, rows[i].user, rows[i].now);
		else
			throttle_passed(&t, rows[i].ip, rows[i].user);
		if (got != rows[i].want)
			fail_msg("row %zu (%c %s/%s at %lld): got %lld, want %lld", i, rows[i].op,
				 rows[i].ip, rows[i].user ? rows[i].user : "-", (long long)rows[i].now,
				 (long long)got, (long long)rows[i].want);
	}
	throttle_free(&t);
}

static void
test_hex_encode(void **state)
{
	static const unsigned char in[] = {0x00, 0x0f, 0xa5, 0xff};
	char out[2 * sizeof(in) + 1];

	(void)state;
	hex_encode(in, sizeof(in), out);
	assert_string_equal(out, "000fa5ff");
	hex_encode(in, 0, out);
	assert_string_equal(out, "");
}

static void
test_strmap_chain(void **state)
{
	struct strmap m;
	char key[16];

	(void)state;
	strmap_init(&m, 1, 200);
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		strmap_get(&m, key, 1)->count = i;
	}
	assert_null(strmap_get(&m, "k200", 1));
	for (int i = 1; i < 200; i += 2) {
		snprintf(key, sizeof(key), "k%d", i);
		strmap_del(&m, key);
	}
	assert_int_equal(m.n, 100);
	for (int i = 0; i < 200; i++) {
		struct strmap_entry *e;

		snprintf(key, sizeof(key), "k%d", i);
		e = strmap_get(&m, key, 0);
		if (i % 2 == 0) {
			assert_non_null(e);
			assert_int_equal(e->count, i);
		} else {
			assert_null(e);
		}
	}
	strmap_free(&m);
}

/* --- base64 -------------------------------------------------------------- */

static void
test_base64_decode(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		size_t outsize;
		int rc;
		const char *want;
		size_t want_len;
	} rows[] = {
		/* RFC 4648 10 */
		{S(""), 16, 0, S("")},
		{S("Zg=="), 16, 0, S("f")},
		{S("Zm8="), 16, 0, S("fo")},
		{S("Zm9v"), 16, 0, S("foo")},
		{S("Zm9vYg=="), 16, 0, S("foob")},
		{S("Zm9vYmE="), 16, 0, S("fooba")},
		{S("Zm9vYmFy"), 16, 0, S("foobar")},
		{S("AP8A"), 16, 0, S("\0\xff\0")},
		{S("+/+/"), 16, 0, S("\xfb\xff\xbf")},
		/* AUTH PLAIN: "\0user\0pass" */
		{S("AHVzZXIAcGFzcw=="), 16, 0, S("\0user\0pass")},
		/* bad padding */
		{S("Zg="), 16, -1, S("")},
		{S("Zg"), 16, -1, S("")},
		{S("Z"), 16, -1, S("")},
		{S("Z==="), 16, -1, S("")},
		{S("===="), 16, -1, S("")},
		{S("Zm=v"), 16, -1, S("")},
		{S("Zg==Zg=="), 16, -1, S("")},
		{S("Zm8=Zm9v"), 16, -1, S("")},
		{S("Zm9vY==="), 16, -1, S("")},
		{S("Zm9vYg"), 16, -1, S("")},
		/* n, not the string, is the input: a length that is not a
		 * multiple of 4 is refused even when the bytes after it would
		 * complete a quantum */
		{"Zm9vYmFy", 5, 16, -1, S("")},
		{"Zm9vYmFy", 6, 16, -1, S("")},
		{"Zm9vYmFy", 7, 16, -1, S("")},
		{"Zm9vYmFy", 4, 16, 0, S("foo")},
		/* bad characters */
		{S("Zm9-"), 16, -1, S("")},
		{S("Zm9_"), 16, -1, S("")},
		{S("Zm9 "), 16, -1, S("")},
		{S("Zm9\n"), 16, -1, S("")},
		{S("Zm9v\r\n"), 16, -1, S("")},
		{S("Zg\0="), 16, -1, S("")},
		{S("Zm9\xff"), 16, -1, S("")},
		{S("Zm9."), 16, -1, S("")},
		/* too small out: the data and a NUL must fit */
		{S("Zm9v"), 3, -1, S("")},
		{S("Zm9v"), 4, 0, S("foo")},
		{S("Zg=="), 1, -1, S("")},
		{S("Zg=="), 2, 0, S("f")},
		{S("Zm8="), 2, -1, S("")},
		{S("Zm8="), 3, 0, S("fo")},
		{S("Zm9vYmFy"), 6, -1, S("")},
		{S("Zm9vYmFy"), 7, 0, S("foobar")},
		{S(""), 0, -1, S("")},
		{S(""), 1, 0, S("")},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		unsigned char out[32];
		size_t outlen = 999;
		int rc;

		memset(out, 0xAA, sizeof(out));
		rc = base64_decode(rows[i].in, rows[i].n, out, rows[i].outsize, &outlen);
		if (rc != rows[i].rc)
			fail_msg("row %zu (\"%s\"): rc %d, want %d", i, rows[i].in, rc, rows[i].rc);
		for (size_t k = rows[i].outsize; k < sizeof(out); k++)
			if (out[k] != 0xAA)
				fail_msg("row %zu: wrote past outsize at %zu", i, k);
		if (rc < 0)
			continue;
		assert_int_equal(outlen, rows[i].want_len);
		assert_memory_equal(out, rows[i].want, outlen);
		assert_int_equal(out[outlen], '\0');
	}
}

static void
test_base64_encode(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} rows[] = {
		{S(""), ""},
		{S("f"), "Zg=="},
		{S("fo"), "Zm8="},
		{S("foo"), "Zm9v"},
		{S("foob"), "Zm9vYg=="},
		{S("fooba"), "Zm9vYmE="},
		{S("foobar"), "Zm9vYmFy"},
		{S("\0\xff\0"), "AP8A"},
		{S("\xfb\xff\xbf"), "+/+/"},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct buf b;

		buf_init(&b, 64);
		base64_encode((const unsigned char *)rows[i].in, rows[i].n, &b);
		if (strcmp(b.data ? b.data : "", rows[i].want) != 0)
			fail_msg("row %zu: got %s, want %s", i, b.data ? b.data : "",
				 rows[i].want);
		buf_free(&b);
	}
}

/* encode then decode gives back the input for every length and byte. */
static void
test_base64_roundtrip(void **state)
{
	unsigned char in[200], out[200];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 11);
	for (size_t n = 0; n < 190; n++) {
		struct buf b;
		size_t outlen = 0;

		buf_init(&b, 512);
		base64_encode(in, n, &b);
		assert_int_equal(b.len, (n + 2) / 3 * 4);
		assert_int_equal(base64_decode(b.data ? b.data : "", b.len, out, sizeof(out),
					       &outlen),
				 0);
		assert_int_equal(outlen, n);
		assert_memory_equal(out, in, n);
		buf_free(&b);
	}
}

/* --- random ------------------------------------------------------------ */

static void
test_rand_token(void **state)
{
	char a[41], b[41];

	(void)state;
	memset(a, 'Z', sizeof(a));
	rand_token(a, 40);
	assert_int_equal(strlen(a), 40);
	assert_int_equal(strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789"), 40);
	rand_token(b, 40);
	assert_string_not_equal(a, b); /* 36^40 values: a repeat means no randomness */
	rand_token(a, 0);
	assert_string_equal(a, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_buf_grow),
		cmocka_unit_test(test_buf_reserve),
		cmocka_unit_test(test_buf_binary),
		cmocka_unit_test(test_buf_printf),
		cmocka_unit_test(test_buf_consume),
		cmocka_unit_test(test_buf_steal),
		cmocka_unit_test(test_arena),
		cmocka_unit_test(test_arena_strndup),
		cmocka_unit_test(test_arena_overflow_fatal),
		cmocka_unit_test(test_fatal_panic),
		cmocka_unit_test(test_fatal_long_message),
		cmocka_unit_test(test_log_escape),
		cmocka_unit_test(test_log_level),
		cmocka_unit_test(test_log_line),
		cmocka_unit_test(test_parse_uint),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_time_clocks),
		cmocka_unit_test(test_json_put_str),
		cmocka_unit_test(test_json_cap),
		cmocka_unit_test(test_json_kv),
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_strmap_basic),
		cmocka_unit_test(test_strmap_expire),
		cmocka_unit_test(test_strmap_forget_before),
		cmocka_unit_test(test_strmap_chain),
		cmocka_unit_test(test_throttle),
		cmocka_unit_test(test_hex_encode),
		cmocka_unit_test(test_base64_decode),
		cmocka_unit_test(test_base64_encode),
		cmocka_unit_test(test_base64_roundtrip),
		cmocka_unit_test(test_rand_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
