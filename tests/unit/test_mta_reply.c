/*
 * NAME
 *	test_mta_reply - SMTP reply parser: grammar, limits, resumption
 * DESCRIPTION
 *	A table of {bytes, expected status, code, enhanced code, kept text,
 *	lines} rows, each fed whole and in every chunk size from 1 to 7
 *	bytes: the parser must give the same answer however the network
 *	splits the reply. Then the limits (line length, line count, kept
 *	text), pipelined replies and the sticky INVALID.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mta/mta_pure.h"

struct reply_row {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen(in) */
	enum mta_reply_status st;
	int code;
	const char *enhanced;
	const char *text;
	unsigned nlines;
	size_t used; /* 0: all of in */
};

#define GMAIL_551                                                                               \
	"550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n"     \
	"550-5.1.1 double-checking the recipient's email address for typos or\r\n"              \
	"550-5.1.1 unnecessary spaces. For more information, go to\r\n"                          \
	"550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si123.45 - gsmtp\r\n"

static const struct reply_row rows[] = {
	{"single line", "250 OK\r\n", 0, MTA_REPLY_DONE, 250, "", "OK", 1, 0},
	{"bare code", "354\r\n", 0, MTA_REPLY_DONE, 354, "", "", 1, 0},
	{"code and space", "250 \r\n", 0, MTA_REPLY_DONE, 250, "", "", 1, 0},
	{"enhanced", "250 2.0.0 Ok: queued as 4Xk2Lm0Z3Yz9\r\n", 0, MTA_REPLY_DONE, 250, "2.0.0",
	 "Ok: queued as 4Xk2Lm0Z3Yz9", 1, 0},
	{"enhanced only", "250 2.1.5\r\n", 0, MTA_REPLY_DONE, 250, "2.1.5", "", 1, 0},
	{"enhanced 3-digit parts", "451 4.7.500 Server busy. Please try again later\r\n", 0,
	 MTA_REPLY_DONE, 451, "4.7.500", "Server busy. Please try again later", 1, 0},
	{"enhanced class mismatch kept as text", "550 4.1.1 odd\r\n", 0, MTA_REPLY_DONE, 550, "",
	 "4.1.1 odd", 1, 0},
	{"enhanced needs a space", "250 2.0.0: 6a1f9c3e Message accepted for delivery\r\n", 0,
	 MTA_REPLY_DONE, 250, "", "2.0.0: 6a1f9c3e Message accepted for delivery", 1, 0},
	{"enhanced subject too long", "550 5.1000.1 x\r\n", 0, MTA_REPLY_DONE, 550, "",
	 "5.1000.1 x", 1, 0},
	{"gmail multi-line", GMAIL_551, 0, MTA_REPLY_DONE, 550, "5.1.1",
	 "The email account that you tried to reach does not exist. Please try\n"
	 "double-checking the recipient's email address for typos or\n"
	 "unnecessary spaces. For more information, go to\n"
	 " https://support.google.com/mail/?p=NoSuchUser a1si123.45 - gsmtp",
	 4, 0},
	{"ehlo", "250-mx.example.com Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
		 "250 STARTTLS\r\n",
	 0, MTA_REPLY_DONE, 250, "", "mx.example.com Hello\nPIPELINING\nSIZE 10240000\nSTARTTLS", 4,
	 0},
	{"later line other enhanced code kept", "550-5.7.1 first\r\n550 5.7.26 second\r\n", 0,
	 MTA_REPLY_DONE, 550, "5.7.1", "first\n5.7.26 second", 2, 0},
	{"enhanced only on first line", "421-4.7.0 Try again later\r\n421 closing\r\n", 0,
	 MTA_REPLY_DONE, 421, "4.7.0", "Try again later\nclosing", 2, 0},
	{"empty continuation", "250-\r\n250 x\r\n", 0, MTA_REPLY_DONE, 250, "", "\nx", 2, 0},
	{"bare LF", "250-a\n250 b\n", 0, MTA_REPLY_DONE, 250, "", "a\nb", 2, 0},
	{"mixed CRLF and LF", "220-a\r\n220 b\n", 0, MTA_REPLY_DONE, 220, "", "a\nb", 2, 0},
	{"stray CR becomes ?", "250 a\rb\r\n", 0, MTA_REPLY_DONE, 250, "", "a?b", 1, 0},
	{"CRCRLF keeps one CR", "250 a\r\r\n", 0, MTA_REPLY_DONE, 250, "", "a?", 1, 0},
	{"NUL and ESC become ?", "250 a\0b\x1b[31m\r\n", 14, MTA_REPLY_DONE, 250, "", "a?b?[31m", 1,
	 0},
	{"tab and DEL", "250 a\tb\x7f\r\n", 0, MTA_REPLY_DONE, 250, "", "a\tb?", 1, 0},
	{"8-bit kept", "550 5.1.1 Empf\xc3\xa4nger unbekannt\r\n", 0, MTA_REPLY_DONE, 550, "5.1.1",
	 "Empf\xc3\xa4nger unbekannt", 1, 0},
	{"pipelined: stops after first", "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n", 0,
	 MTA_REPLY_DONE, 250, "2.1.0", "Ok", 1, 14},
	{"incomplete line", "250 OK", 0, MTA_REPLY_MORE, 0, "", "", 0, 0},
	{"incomplete reply", "250-a\r\n250-b\r\n", 0, MTA_REPLY_MORE, 250, "", "a\nb", 2, 0},
	{"code 199", "199 x\r\n", 0, MTA_REPLY_INVALID, 0, NULL, NULL, 0, 7},
	{"code 600", "600 x\r\n", 0, MTA_REPLY_INVALID, 0, NULL, NULL, 0, 7},
	{"code 099", "099 x\r\n", 0, MTA_REPLY_INVALID, 0, NULL, NULL, 0, 7},
	{"letters", "25a x\r\n", 0, MTA_REPLY_INVALID, 0, NULL, NULL, 0, 7},
	{"short", "25\r\n", 0, MTA_REPLY_INVALID, 0, NULL, NULL, 0, 4},
	{"empty line", "\r\n", 0, MTA_REPLY_INVALID, 0, NULL, NULL, 0, 2},
	{"no separator", "250OK\r\n", 0, MTA_REPLY_INVALID, 0, NULL, NULL, 0, 7},
	{"tab separator", "250\tOK\r\n", 0, MTA_REPLY_INVALID, 0, NULL, NULL, 0, 8},
	{"mixed codes", "250-a\r\n251 b\r\n", 0, MTA_REPLY_INVALID, 0, NULL, NULL, 0, 14},
	{"mixed codes, same class", "550-a\r\n554 b\r\n", 0, MTA_REPLY_INVALID, 0, NULL, NULL, 0,
	 14},
	{"leading space", " 250 OK\r\n", 0, MTA_REPLY_INVALID, 0, NULL, NULL, 0, 9},
	{"text after invalid is not read", "xyz\r\n250 OK\r\n", 0, MTA_REPLY_INVALID, 0, NULL, NULL,
	 0, 5},
};

/* Feed in[0..n) in chunks of chunk bytes until a status other than
 * MORE, or the end; *consumed says how much was taken in all. */
static enum mta_reply_status
feed_chunks(struct mta_reply_parser *p, const char *in, size_t n, size_t chunk,
	    size_t *consumed)
{
	enum mta_reply_status st = MTA_REPLY_MORE;
	size_t off = 0;

	while (off < n) {
		size_t k = n - off < chunk ? n - off : chunk, used = 0;

		st = mta_reply_feed(p, in + off, k, &used);
		assert_true(used <= k);
		off += used;
		if (st != MTA_REPLY_MORE)
			break;
		assert_int_equal(used, k);
	}
	*consumed = off;
	return st;
}

/* Every row, whole and in chunks of 1..7 bytes. */
static void
test_table(void **state)
{
	static struct mta_reply_parser p;

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		const struct reply_row *row = &rows[i];
		size_t len = row->len ? row->len : strlen(row->in);

		for (size_t chunk = 1; chunk <= 8; chunk++) {
			size_t c = chunk == 8 ? len : chunk, used;
			enum mta_reply_status st;

			print_message("%s (chunk %zu)\n", row->name, c);
			mta_reply_parser_init(&p);
			st = feed_chunks(&p, row->in, len, c, &used);
			assert_int_equal(st, row->st);
			assert_int_equal(used, row->used ? row->used : len);
			if (row->text == NULL)
				continue;
			assert_int_equal(p.r.code, row->code);
			assert_string_equal(p.r.enhanced, row->enhanced);
			assert_string_equal(p.r.text, row->text);
			assert_int_equal(p.r.text_len, strlen(row->text));
			assert_int_equal(p.r.nlines, row->nlines);
		}
	}
}

/* Pipelined replies come one per DONE; each starts afresh. */
static void
test_pipelined(void **state)
{
	static struct mta_reply_parser p;
	const char *in = "250-first\r\n250 2.1.0 sender ok\r\n550 5.1.1 no such user\r\n354 go";
	size_t n = strlen(in), off = 0, used;

	(void)state;
	mta_reply_parser_init(&p);
	assert_int_equal(mta_reply_feed(&p, in, n, &used), MTA_REPLY_DONE);
	assert_int_equal(p.r.code, 250);
	assert_string_equal(p.r.text, "first\n2.1.0 sender ok");
	assert_int_equal(p.r.nlines, 2);
	off += used;
	assert_int_equal(mta_reply_feed(&p, in + off, n - off, &used), MTA_REPLY_DONE);
	assert_int_equal(p.r.code, 550);
	assert_string_equal(p.r.enhanced, "5.1.1");
	assert_string_equal(p.r.text, "no such user");
	assert_int_equal(p.r.nlines, 1);
	off += used;
	assert_int_equal(mta_reply_feed(&p, in + off, n - off, &used), MTA_REPLY_MORE);
	assert_int_equal(used, n - off);
	assert_int_equal(mta_reply_feed(&p, "\r\n", 2, &used), MTA_REPLY_DONE);
	assert_int_equal(p.r.code, 354);
	assert_string_equal(p.r.enhanced, "");
	assert_string_equal(p.r.text, "go");
	/* An empty feed after DONE changes nothing but starts afresh. */
	assert_int_equal(mta_reply_feed(&p, "", 0, &used), MTA_REPLY_MORE);
	assert_int_equal(used, 0);
	assert_int_equal(mta_reply_feed(&p, "221 bye\r\n", 9, &used), MTA_REPLY_DONE);
	assert_int_equal(p.r.nlines, 1);
	assert_string_equal(p.r.text, "bye");
}

/* INVALID is sticky: nothing more is read. */
static void
test_sticky_invalid(void **state)
{
	static struct mta_reply_parser p;
	size_t used = 99;

	(void)state;
	mta_reply_parser_init(&p);
	assert_int_equal(mta_reply_feed(&p, "250-a\r\n251 b\r\n", 14, &used), MTA_REPLY_INVALID);
	assert_int_equal(mta_reply_feed(&p, "250 OK\r\n", 8, &used), MTA_REPLY_INVALID);
	assert_int_equal(used, 0);
	mta_reply_parser_init(&p);
	assert_int_equal(mta_reply_feed(&p, "250 OK\r\n", 8, &used), MTA_REPLY_DONE);
}

/* Build "250 " plus fill bytes up to a line of len bytes. */
static char *
long_line(size_t len, const char *end)
{
	size_t el = strlen(end);
	char *s = xmalloc(len + el + 1);

	memcpy(s, "250 ", 4);
	memset(s + 4, 'x', len - 4);
	memcpy(s + len, end, el + 1);
	return s;
}

/* MTA_REPLY_LINE_MAX bytes (without CRLF) are fine, one more is not,
 * whether or not the line end ever comes. */
static void
test_line_max(void **state)
{
	static struct mta_reply_parser p;
	static const char *const ends[] = {"\r\n", "\n"};
	size_t used;
	char *s;

	(void)state;
	for (size_t e = 0; e < PH_ARRAY_LEN(ends); e++) {
		s = long_line(MTA_REPLY_LINE_MAX, ends[e]);
		mta_reply_parser_init(&p);
		assert_int_equal(mta_reply_feed(&p, s, strlen(s), &used), MTA_REPLY_DONE);
		assert_int_equal(p.r.text_len, MTA_REPLY_LINE_MAX - 4);
		free(s);

		s = long_line(MTA_REPLY_LINE_MAX + 1, ends[e]);
		mta_reply_parser_init(&p);
		assert_int_equal(mta_reply_feed(&p, s, strlen(s), &used), MTA_REPLY_INVALID);
		free(s);
	}
	/* No line end at all: INVALID as soon as the limit is passed, not
	 * after buffering whatever the server keeps sending. */
	s = long_line(MTA_REPLY_LINE_MAX * 4, "");
	mta_reply_parser_init(&p);
	assert_int_equal(mta_reply_feed(&p, s, strlen(s), &used), MTA_REPLY_INVALID);
	assert_int_equal(used, MTA_REPLY_LINE_MAX + 2);
	free(s);
}

/* MTA_REPLY_LINES_MAX lines are fine, one more is not. */
static void
test_lines_max(void **state)
{
	static struct mta_reply_parser p;
	size_t used;

	(void)state;
	for (unsigned extra = 0; extra <= 1; extra++) {
		unsigned total = MTA_REPLY_LINES_MAX + extra;
		enum mta_reply_status st = MTA_REPLY_MORE;

		mta_reply_parser_init(&p);
		for (unsigned i = 0; i < total; i++) {
			const char *line = i + 1 < total ? "250-x\r\n" : "250 x\r\n";

			st = mta_reply_feed(&p, line, 7, &used);
			if (st == MTA_REPLY_INVALID)
				break;
		}
		if (extra == 0) {
			assert_int_equal(st, MTA_REPLY_DONE);
			assert_int_equal(p.r.nlines, MTA_REPLY_LINES_MAX);
		} else {
			assert_int_equal(st, MTA_REPLY_INVALID);
		}
	}
}

/* Past MTA_REPLY_TEXT_MAX the text is cut silently, the parser stays
 * in step, and a cut UTF-8 sequence is not left half. */
static void
test_text_max(void **state)
{
	static struct mta_reply_parser p;
	struct buf b;
	size_t used;

	(void)state;
	for (size_t shift = 0; shift < 4; shift++) {
		buf_init(&b, 1 << 20);
		/* 10 lines of 1000 bytes: "550-" + shift x's + "é" repeated. */
		for (int i = 0; i < 10; i++) {
			assert_int_equal(buf_puts(&b, i < 9 ? "550-" : "550 "), 0);
			for (size_t k = 0; k < shift; k++)
				assert_int_equal(buf_puts(&b, "x"), 0);
			for (int k = 0; k < 498; k++)
				assert_int_equal(buf_puts(&b, "\xc3\xa9"), 0);
			assert_int_equal(buf_puts(&b, "\r\n"), 0);
		}
		assert_int_equal(buf_puts(&b, "250 next\r\n"), 0);
		mta_reply_parser_init(&p);
		assert_int_equal(mta_reply_feed(&p, b.data, b.len, &used), MTA_REPLY_DONE);
		assert_int_equal(p.r.code, 550);
		assert_int_equal(p.r.nlines, 10);
		assert_true(p.r.text_len <= MTA_REPLY_TEXT_MAX - 1);
		assert_true(p.r.text_len >= MTA_REPLY_TEXT_MAX - 2);
		assert_int_equal(strlen(p.r.text), p.r.text_len);
		/* Ends on a whole character: a lead byte is never last. */
		assert_true(((unsigned char)p.r.text[p.r.text_len - 1] & 0xc0) != 0xc0);
		assert_int_equal(mta_reply_feed(&p, b.data + used, b.len - used, &used),
				 MTA_REPLY_DONE);
		assert_int_equal(p.r.code, 250);
		assert_string_equal(p.r.text, "next");
		buf_free(&b);
	}
}

/* Run the tests above. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),         cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_sticky_invalid), cmocka_unit_test(test_line_max),
		cmocka_unit_test(test_lines_max),     cmocka_unit_test(test_text_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
