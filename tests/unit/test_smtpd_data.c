/*
 * NAME
 *	test_smtpd_data - unit tests for the DATA state machine
 * DESCRIPTION
 *	Each row is a byte stream as it follows "DATA\r\n" and "354". The
 *	machine must end exactly at CR LF "." CR LF (RFC 5321 4.1.1.4),
 *	counting the CR LF that ended the DATA command, consume nothing
 *	after it, unstuff dots (4.5.2), and flag (for a 5xx) rather than
 *	end on every SMTP smuggling sequence: "\n.\n", "\n.\r\n", "\r.\r",
 *	"\r\n.\r", "\r\n.\n", "\r\n.\r\r\n", and on NUL, long lines
 *	(RFC 5322 2.1.1: 998 octets, a stuffing dot included) and size.
 *
 *	Every row is run whole, split in two at every position, and one
 *	byte at a time: the outcome must not depend on how TCP cut it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smtpd/smtpd.h"

#define S(lit) lit, sizeof(lit) - 1
#define BIG ((uint64_t)1 << 20)
#define BARE_LF SMTPD_DATA_BARE_LF
#define BARE_CR SMTPD_DATA_BARE_CR
#define NUL_ SMTPD_DATA_NUL
#define LONG SMTPD_DATA_LONG_LINE
#define TOO_BIG SMTPD_DATA_TOO_BIG

struct outcome {
	int end;     /* SMTPD_DATA_END seen */
	size_t used; /* bytes consumed in all */
	unsigned flags;
	struct buf out;
};

/* Feed in[0..n) as pieces ending at bounds[0..nb) and n, as a session
 * would: stop at the end of data. Checks the per-call contract. */
static void
run_pieces(const char *in, size_t n, uint64_t max_size, size_t out_cap, const size_t *bounds,
	   size_t nb, struct outcome *o)
{
	struct smtpd_data d;
	size_t pos = 0;

	smtpd_data_init(&d, max_size);
	buf_init(&o->out, out_cap);
	o->end = 0;
	for (size_t b = 0; b <= nb && !o->end; b++) {
		size_t stop = b < nb ? bounds[b] : n, used = (size_t)-1;
		enum smtpd_data_result r;

		r = smtpd_data_feed(&d, in + pos, stop - pos, &used, &o->out);
		if (r == SMTPD_DATA_MORE) {
			if (used != stop - pos)
				fail_msg("MORE but used %zu of %zu", used, stop - pos);
		} else {
			assert_int_equal(r, SMTPD_DATA_END);
			if (used > stop - pos || used == 0)
				fail_msg("END with used %zu of %zu", used, stop - pos);
			o->end = 1;
		}
		pos += used;
	}
	o->used = pos;
	o->flags = d.flags;
}

static void
run_whole(const char *in, size_t n, uint64_t max_size, size_t out_cap, struct outcome *o)
{
	run_pieces(in, n, max_size, out_cap, NULL, 0, o);
}

static void
run_split(const char *in, size_t n, uint64_t max_size, size_t out_cap, size_t k,
	  struct outcome *o)
{
	run_pieces(in, n, max_size, out_cap, &k, 1, o);
}

static void
run_bytes(const char *in, size_t n, uint64_t max_size, size_t out_cap, struct outcome *o)
{
	size_t *bounds = malloc((n ? n : 1) * sizeof(*bounds));

	assert_non_null(bounds);
	for (size_t i = 0; i < n; i++)
		bounds[i] = i + 1;
	run_pieces(in, n, max_size, out_cap, bounds, n ? n - 1 : 0, o);
	free(bounds);
}

static void
same_outcome(const char *what, size_t row, size_t k, const struct outcome *a,
	     const struct outcome *b)
{
	if (a->end != b->end || a->used != b->used || a->flags != b->flags ||
	    a->out.len != b->out.len ||
	    (a->out.len && memcmp(a->out.data, b->out.data, a->out.len) != 0))
		fail_msg("row %zu: %s at %zu differs from whole: end %d/%d used %zu/%zu "
			 "flags %u/%u len %zu/%zu",
			 row, what, k, b->end, a->end, b->used, a->used, b->flags, a->flags,
			 b->out.len, a->out.len);
}

/* Check one stream against its expectations, whole and cut every way. */
static void
check_stream(size_t row, const char *in, size_t n, uint64_t max_size, size_t out_cap,
	     int want_end, size_t want_trail, const char *want, size_t want_len,
	     unsigned want_flags)
{
	struct outcome whole, other;
	const char *reply;

	run_whole(in, n, max_size, out_cap, &whole);
	if (whole.end != want_end)
		fail_msg("row %zu: end=%d, want %d (flags %u)", row, whole.end, want_end,
			 whole.flags);
	if (whole.used != n - want_trail)
		fail_msg("row %zu: used %zu of %zu, want %zu", row, whole.used, n, n - want_trail);
	if (whole.flags != want_flags)
		fail_msg("row %zu: flags %u, want %u", row, whole.flags, want_flags);
	if (whole.out.len != want_len ||
	    (want_len && memcmp(whole.out.data, want, want_len) != 0))
		fail_msg("row %zu: content (%zu bytes) \"%.*s\", want (%zu) \"%.*s\"", row,
			 whole.out.len, (int)whole.out.len, whole.out.data ? whole.out.data : "",
			 want_len, (int)want_len, want);
	if (whole.out.data)
		assert_int_equal(whole.out.data[whole.out.len], '\0');
	reply = smtpd_data_reply(whole.flags);
	if (want_flags == 0) {
		assert_null(reply);
	} else {
		/* every flag refuses the message with a permanent error */
		assert_non_null(reply);
		assert_int_equal(reply[0], '5');
		if (strncmp(reply, want_flags & TOO_BIG ? "552 " : "550 ", 4) != 0)
			fail_msg("row %zu: reply \"%s\"", row, reply);
	}

	for (size_t k = 0; k <= n; k++) {
		run_split(in, n, max_size, out_cap, k, &other);
		same_outcome("split", row, k, &whole, &other);
		buf_free(&other.out);
	}
	run_bytes(in, n, max_size, out_cap, &other);
	same_outcome("byte-by-byte", row, 0, &whole, &other);
	buf_free(&other.out);
	buf_free(&whole.out);
}

static void
test_data_table(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		uint64_t max_size;
		int end;
		size_t trail; /* bytes after the end marker, not consumed */
		const char *content;
		size_t content_len;
		unsigned flags;
	} rows[] = {
		/* plain messages */
		{S("Subject: x\r\n\r\nbody\r\n.\r\n"), BIG, 1, 0, S("Subject: x\r\n\r\nbody\r\n"), 0},
		{S(".\r\n"), BIG, 1, 0, S(""), 0},
		{S("\r\n.\r\n"), BIG, 1, 0, S("\r\n"), 0},
		{S("a\r\n.\r\nQUIT\r\n"), BIG, 1, 6, S("a\r\n"), 0},
		{S("a\r\n.\r\n.\r\n"), BIG, 1, 3, S("a\r\n"), 0},
		{S("a\r\n.\r\nX"), BIG, 1, 1, S("a\r\n"), 0},
		/* dot-unstuffing (RFC 5321 4.5.2) */
		{S("..foo\r\n.\r\n"), BIG, 1, 0, S(".foo\r\n"), 0},
		{S("a\r\n..\r\n.\r\n"), BIG, 1, 0, S("a\r\n.\r\n"), 0},
		{S("...\r\n.\r\n"), BIG, 1, 0, S("..\r\n"), 0},
		{S("a.b\r\nc.\r\n.d.\r\n.\r\n"), BIG, 1, 0, S("a.b\r\nc.\r\nd.\r\n"), 0},
		{S(". \r\n.\r\n"), BIG, 1, 0, S(" \r\n"), 0},
		/* not ended yet */
		{S(""), BIG, 0, 0, S(""), 0},
		{S("a\r\n"), BIG, 0, 0, S("a\r\n"), 0},
		{S("a\r\n."), BIG, 0, 0, S("a\r\n"), 0},
		{S("a\r\n.\r"), BIG, 0, 0, S("a\r\n"), 0},
		{S("a\r\n.."), BIG, 0, 0, S("a\r\n."), 0},
		{S("a\r"), BIG, 0, 0, S("a"), 0},
		/* smuggling: content, never the end, always flagged */
		{S("a\n.\nb\r\n.\r\n"), BIG, 1, 0, S("a\n.\nb\r\n"), BARE_LF},
		{S("a\n.\r\nb\r\n.\r\n"), BIG, 1, 0, S("a\n.\r\nb\r\n"), BARE_LF},
		{S("a\r.\rb\r\n.\r\n"), BIG, 1, 0, S("a\r.\rb\r\n"), BARE_CR},
		{S("a\r\n.\rb\r\n.\r\n"), BIG, 1, 0, S("a\r\n\rb\r\n"), BARE_CR},
		{S("a\r\n.\nb\r\n.\r\n"), BIG, 1, 0, S("a\r\n\nb\r\n"), BARE_LF},
		{S("a\r\n.\r\r\nb\r\n.\r\n"), BIG, 1, 0, S("a\r\n\r\r\nb\r\n"), BARE_CR},
		{S("a\0b\r\n.\r\n"), BIG, 1, 0, S("a\0b\r\n"), NUL_},
		{S("\0\r\n.\r\n"), BIG, 1, 0, S("\0\r\n"), NUL_},
		/* ... at the very start of the data */
		{S("\n.\nb\r\n.\r\n"), BIG, 1, 0, S("\n.\nb\r\n"), BARE_LF},
		{S(".\nb\r\n.\r\n"), BIG, 1, 0, S("\nb\r\n"), BARE_LF},
		{S(".\rb\r\n.\r\n"), BIG, 1, 0, S("\rb\r\n"), BARE_CR},
		{S(".\r\r\n.\r\n"), BIG, 1, 0, S("\r\r\n"), BARE_CR},
		/* ... at the end of what has arrived: still not the end */
		{S("a\n.\n"), BIG, 0, 0, S("a\n.\n"), BARE_LF},
		{S("a\n.\r\n"), BIG, 0, 0, S("a\n.\r\n"), BARE_LF},
		{S("a\r.\r"), BIG, 0, 0, S("a\r."), BARE_CR},
		{S("a\r\n.\n"), BIG, 0, 0, S("a\r\n\n"), BARE_LF},
		{S("a\r\n.\r\r\n"), BIG, 0, 0, S("a\r\n\r\r\n"), BARE_CR},
		{S("a\nb\n.\n"), BIG, 0, 0, S("a\nb\n.\n"), BARE_LF},
		/* a whole smuggled transaction stays inside this message */
		{S("body\n.\r\nMAIL FROM:<x@y.example>\r\nRCPT TO:<z@w.example>\r\nDATA\r\n"
		   "evil\r\n.\r\n"),
		 BIG, 1, 0,
		 S("body\n.\r\nMAIL FROM:<x@y.example>\r\nRCPT TO:<z@w.example>\r\nDATA\r\n"
		   "evil\r\n"),
		 BARE_LF},
		{S("body\r\n.\nMAIL FROM:<x@y.example>\r\n.\r\n"), BIG, 1, 0,
		 S("body\r\n\nMAIL FROM:<x@y.example>\r\n"), BARE_LF},
		/* other bare CR / LF */
		{S("a\rb\r\n.\r\n"), BIG, 1, 0, S("a\rb\r\n"), BARE_CR},
		{S("a\r\r\n.\r\n"), BIG, 1, 0, S("a\r\r\n"), BARE_CR},
		{S("a\nb\r\n.\r\n"), BIG, 1, 0, S("a\nb\r\n"), BARE_LF},
		{S("a\n\0\r\r\n.\r\n"), BIG, 1, 0, S("a\n\0\r\r\n"), BARE_LF | BARE_CR | NUL_},
		/* size: max_size N = 10, content of N-1, N, N+1 octets */
		{S("1234567\r\n.\r\n"), 10, 1, 0, S("1234567\r\n"), 0},
		{S("12345678\r\n.\r\n"), 10, 1, 0, S("12345678\r\n"), 0},
		{S("123456789\r\n.\r\n"), 10, 1, 0, S(""), TOO_BIG},
		/* past the limit, input is still consumed to the end, and no further */
		{S("123456789\r\nmore\r\nand more\r\n.\r\nNEXT"), 10, 1, 4, S(""), TOO_BIG},
		{S("123456789\r\nmore"), 10, 0, 0, S(""), TOO_BIG},
		/* the stuffing dot is not content and does not count */
		{S("..2345678\r\n.\r\n"), 10, 1, 0, S(".2345678\r\n"), 0},
		{S("..23456789\r\n.\r\n"), 10, 1, 0, S(""), TOO_BIG},
		/* size and a bare LF: the size reply comes first */
		{S("a\n23456789\r\n.\r\n"), 10, 1, 0, S(""), TOO_BIG | BARE_LF},
		{S(".\r\n"), 0, 1, 0, S(""), 0},
		{S("\r\n.\r\n"), 0, 1, 0, S(""), TOO_BIG},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++)
		check_stream(i, rows[i].in, rows[i].len, rows[i].max_size, (size_t)1 << 20,
			     rows[i].end, rows[i].trail, rows[i].content, rows[i].content_len,
			     rows[i].flags);
}

/*
 * Line length: at most 998 octets before the CRLF, counted as sent, so a
 * stuffing dot counts (RFC 5321 4.5.3.1.6, RFC 5322 2.1.1).
 */
static void
test_data_line_length(void **state)
{
	static const struct {
		size_t dots, nx; /* each line: dots, then nx 'x' */
		size_t lines;
		unsigned flags;
	} rows[] = {
		{0, 997, 1, 0},
		{0, 998, 1, 0},
		{0, 999, 1, LONG},
		{0, 2000, 1, LONG},
		{1, 997, 1, 0},    /* "." + 997 = 998 sent, 997 kept */
		{1, 998, 1, LONG}, /* 999 sent */
		{2, 996, 1, 0},    /* ".." + 996: ".xxx" kept, 998 sent */
		{2, 997, 1, LONG},
		{0, 998, 3, 0}, /* the count restarts at every CRLF */
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		size_t per = rows[i].dots + rows[i].nx + 2, n = 0, c = 0;
		char *in = malloc(per * rows[i].lines + 3), *want = malloc(per * rows[i].lines);

		assert_non_null(in);
		assert_non_null(want);
		for (size_t l = 0; l < rows[i].lines; l++) {
			memset(in + n, '.', rows[i].dots);
			n += rows[i].dots;
			memset(in + n, 'x', rows[i].nx);
			n += rows[i].nx;
			memcpy(in + n, "\r\n", 2);
			n += 2;
			/* a stuffed dot is dropped: one dot fewer in the content */
			if (rows[i].dots > 1) {
				memset(want + c, '.', rows[i].dots - 1);
				c += rows[i].dots - 1;
			}
			memset(want + c, 'x', rows[i].nx);
			c += rows[i].nx;
			memcpy(want + c, "\r\n", 2);
			c += 2;
		}
		memcpy(in + n, ".\r\n", 3);
		n += 3;
		check_stream(i, in, n, BIG, (size_t)1 << 20, 1, 0, want, c, rows[i].flags);
		free(in);
		free(want);
	}
}

/* The out buffer's own cap is a limit too: reaching it is TOO_BIG. */
static void
test_data_out_cap(void **state)
{
	(void)state;
	check_stream(0, S("12345\r\n.\r\n"), BIG, 7, 1, 0, S("12345\r\n"), 0);
	check_stream(1, S("123456\r\n.\r\n"), BIG, 7, 1, 0, S(""), TOO_BIG);
}

/* The end marker split over three reads: the last read uses 1 byte. */
static void
test_data_used_in_last_piece(void **state)
{
	static const char in[] = "a\r\n.\r\nEHLO x\r\n";
	struct smtpd_data d;
	struct buf out;
	size_t used;

	(void)state;
	smtpd_data_init(&d, BIG);
	buf_init(&out, 1024);
	assert_int_equal(smtpd_data_feed(&d, in, 4, &used, &out), SMTPD_DATA_MORE);
	assert_int_equal(used, 4);
	assert_int_equal(smtpd_data_feed(&d, in + 4, 1, &used, &out), SMTPD_DATA_MORE);
	assert_int_equal(used, 1);
	assert_int_equal(smtpd_data_feed(&d, in + 5, sizeof(in) - 1 - 5, &used, &out),
			 SMTPD_DATA_END);
	assert_int_equal(used, 1);
	assert_int_equal(out.len, 3);
	assert_string_equal(out.data, "a\r\n");
	assert_int_equal(d.flags, 0);
	buf_free(&out);
}

/* smtpd_data_init() starts over: no state or flag survives it. */
static void
test_data_reinit(void **state)
{
	struct smtpd_data d;
	struct buf out;
	size_t used;

	(void)state;
	buf_init(&out, 1024);
	smtpd_data_init(&d, 4);
	assert_int_equal(smtpd_data_feed(&d, S("a\nbcdefg\r"), &used, &out), SMTPD_DATA_MORE);
	assert_true(d.flags & BARE_LF);
	assert_true(d.flags & TOO_BIG);
	buf_reset(&out);
	smtpd_data_init(&d, BIG);
	assert_int_equal(d.flags, 0);
	assert_int_equal(d.line_len, 0);
	/* At the start of a line again: ".\r\n" ends at once. */
	assert_int_equal(smtpd_data_feed(&d, S(".\r\n"), &used, &out), SMTPD_DATA_END);
	assert_int_equal(used, 3);
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

static void
test_data_reply(void **state)
{
	static const struct {
		unsigned flags;
		const char *want;
	} rows[] = {
		{0, NULL},
		{TOO_BIG, "552 5.3.4 Message size exceeds fixed maximum message size"},
		{BARE_LF, "550 5.6.0 Message contains a bare CR or LF; lines must end with CRLF "
			  "(RFC 5321 2.3.8)"},
		{BARE_CR, "550 5.6.0 Message contains a bare CR or LF; lines must end with CRLF "
			  "(RFC 5321 2.3.8)"},
		{NUL_, "550 5.6.0 Message contains a NUL character"},
		{LONG, "550 5.6.0 Message has a line longer than 998 characters (RFC 5322 2.1.1)"},
		{TOO_BIG | BARE_LF | NUL_ | LONG,
		 "552 5.3.4 Message size exceeds fixed maximum message size"},
		{BARE_CR | NUL_, "550 5.6.0 Message contains a bare CR or LF; lines must end with CRLF "
				 "(RFC 5321 2.3.8)"},
		{NUL_ | LONG, "550 5.6.0 Message contains a NUL character"},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		const char *r = smtpd_data_reply(rows[i].flags);

		if (rows[i].want == NULL) {
			assert_null(r);
			continue;
		}
		assert_non_null(r);
		if (strcmp(r, rows[i].want) != 0)
			fail_msg("row %zu (flags %u): \"%s\"", i, rows[i].flags, r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_table),
		cmocka_unit_test(test_data_line_length),
		cmocka_unit_test(test_data_out_cap),
		cmocka_unit_test(test_data_used_in_last_piece),
		cmocka_unit_test(test_data_reinit),
		cmocka_unit_test(test_data_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
