/*
 * NAME
 *	test_mail - unit tests for mail_addr_check() and mail_header_get()
 * DESCRIPTION
 *	mail_addr_check(): RFC 5321 4.1.2 syntax and the 4.5.3.1 size
 *	limits. The long rows are built at run time so their lengths are
 *	exact: local part 64/65, labels 63/64, and domains and whole paths
 *	around the 254-octet mailbox limit (256-octet path less the angle
 *	brackets), which is what bounds the domain in practice.
 *
 *	mail_header_get(): RFC 5322 2.2 fields, case-insensitive names,
 *	unfolding (2.2.3), the end of the header section, truncation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mail/mail.h"

#define S(lit) lit, sizeof(lit) - 1

static void
check_addr(size_t row, const char *addr, size_t len, int utf8_allowed, enum mail_addr_err want,
	   int want_utf8)
{
	int has_utf8 = -1;
	enum mail_addr_err e = mail_addr_check(addr, len, utf8_allowed, &has_utf8);

	if (e != want)
		fail_msg("row %zu <%.*s> (len %zu, utf8=%d): got %s, want %s", row, (int)len, addr,
			 len, utf8_allowed, mail_addr_err_str(e), mail_addr_err_str(want));
	if (has_utf8 != want_utf8)
		fail_msg("row %zu <%.*s>: has_utf8=%d, want %d", row, (int)len, addr, has_utf8,
			 want_utf8);
}

static void
test_addr_table(void **state)
{
	static const struct {
		const char *addr;
		size_t len;
		int utf8_allowed;
		enum mail_addr_err want;
		int has_utf8;
	} rows[] = {
		/* dot-atoms */
		{S("user@example.com"), 0, MAIL_ADDR_OK, 0},
		{S("first.last@example.com"), 0, MAIL_ADDR_OK, 0},
		{S("a@b"), 0, MAIL_ADDR_OK, 0},
		{S("user@localhost"), 0, MAIL_ADDR_OK, 0},
		{S("USER@EXAMPLE.COM"), 0, MAIL_ADDR_OK, 0},
		{S("a!#$%&'*+-/=?^_`{|}~z@example.com"), 0, MAIL_ADDR_OK, 0},
		{S("user+tag@example.com"), 0, MAIL_ADDR_OK, 0},
		{S("user@ex-ample.com"), 0, MAIL_ADDR_OK, 0},
		{S("user@a--b.example"), 0, MAIL_ADDR_OK, 0},
		{S("user@xn--bcher-kva.example"), 0, MAIL_ADDR_OK, 0},
		{S("user@123.example"), 0, MAIL_ADDR_OK, 0},
		{S("1@2.3"), 0, MAIL_ADDR_OK, 0},
		/* quoted local parts */
		{S("\"john doe\"@example.com"), 0, MAIL_ADDR_OK, 0},
		{S("\"a@b\"@example.com"), 0, MAIL_ADDR_OK, 0},
		{S("\"a\\\"b\"@example.com"), 0, MAIL_ADDR_OK, 0},
		{S("\"a\\\\b\"@example.com"), 0, MAIL_ADDR_OK, 0},
		{S("\"..\"@example.com"), 0, MAIL_ADDR_OK, 0},
		{S("\"\"@example.com"), 0, MAIL_ADDR_OK, 0},
		{S("\"unterminated@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("\"@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("\"a\"b\"@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("\"a\\\"@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("\"a\"b@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("a\"b\"@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		/* address literals */
		{S("user@[192.0.2.1]"), 0, MAIL_ADDR_OK, 0},
		{S("user@[IPv6:2001:db8::1]"), 0, MAIL_ADDR_OK, 0},
		{S("user@[IPv6:::ffff:192.0.2.1]"), 0, MAIL_ADDR_OK, 0},
		{S("user@[IPv6:2001:db8:0:0:0:0:0:1]"), 0, MAIL_ADDR_OK, 0},
		{S("user@[2001:db8::1]"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@[IPv6:192.0.2.1]"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@[IPv6:2001:db8::g]"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@[192.0.2.256]"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@[192.0.2]"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@[192.0.2.1.5]"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@[ 192.0.2.1]"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@[]"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@[192.0.2.1"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@192.0.2.1]"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@[example.com]"), 0, MAIL_ADDR_SYNTAX, 0},
		/* UTF-8 (RFC 6531): only with SMTPUTF8 */
		{S("jos\xc3\xa9@example.com"), 1, MAIL_ADDR_OK, 1},
		{S("jos\xc3\xa9@example.com"), 0, MAIL_ADDR_NEEDS_UTF8, 1},
		{S("user@ex\xc3\xa4mple.com"), 1, MAIL_ADDR_OK, 1},
		{S("user@ex\xc3\xa4mple.com"), 0, MAIL_ADDR_NEEDS_UTF8, 1},
		{S("\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a"), 1,
		 MAIL_ADDR_OK, 1},
		{S("\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a"), 0,
		 MAIL_ADDR_NEEDS_UTF8, 1},
		{S("\"jos\xc3\xa9\"@example.com"), 1, MAIL_ADDR_OK, 1},
		{S("\"jos\xc3\xa9\"@example.com"), 0, MAIL_ADDR_NEEDS_UTF8, 1},
		{S("user@example.com"), 1, MAIL_ADDR_OK, 0},
		/* a syntax error wins over the UTF-8 question */
		{S("jos\xc3\xa9..x@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		/* dots in the local part */
		{S(".user@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user.@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("us..er@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S(".@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		/* empty labels, leading/trailing dots and hyphens in the domain */
		{S("user@example..com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@.example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@example.com."), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@."), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@-example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@example-.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@example.-com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@example.com-"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@-"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@example_com.org"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@exa mple.com"), 0, MAIL_ADDR_SYNTAX, 0},
		/* @ missing, misplaced or doubled */
		{S("userexample.com"), 0, MAIL_ADDR_NO_DOMAIN, 0},
		{S(""), 0, MAIL_ADDR_NO_DOMAIN, 0},
		{S("postmaster"), 0, MAIL_ADDR_NO_DOMAIN, 0},
		{S("@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("@"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("a@b@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		/* white space, controls, specials */
		{S("us er@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("us\ter@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@exa\x7fmple.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user\r\n@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("us\0er@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@example.com\0"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("\"us\0er\"@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("us(er)@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("us,er@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("us<er@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("us[er]@example.com"), 0, MAIL_ADDR_SYNTAX, 0},
		{S("user@example.com>"), 0, MAIL_ADDR_SYNTAX, 0},
		/* the length given, not the string, is what is checked */
		{"user@example.comXXX", 16, 0, MAIL_ADDR_OK, 0},
		{"user@example.com", 5, 0, MAIL_ADDR_SYNTAX, 0},
		{"user@example.com", 4, 0, MAIL_ADDR_NO_DOMAIN, 0},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++)
		check_addr(i, rows[i].addr, rows[i].len, rows[i].utf8_allowed, rows[i].want,
			   rows[i].has_utf8);
}

/* A domain of exactly n octets: labels of 63 'd's joined by dots, the
 * last label made to fit (never empty, never ending in a dot). */
static void
make_domain(char *out, size_t n, size_t label_max)
{
	size_t o = 0;

	while (o < n) {
		size_t left = n - o, take = left < label_max ? left : label_max;

		/* leave room for ".x" rather than end on a dot */
		if (take < left && left - take == 1)
			take--;
		memset(out + o, 'd', take);
		o += take;
		if (o < n)
			out[o++] = '.';
	}
	out[n] = '\0';
}

static void
test_addr_lengths(void **state)
{
	static const struct {
		size_t local, domain;
		size_t label_max;
		enum mail_addr_err want;
	} rows[] = {
		/* local part: RFC 5321 4.5.3.1.1 */
		{63, 11, 63, MAIL_ADDR_OK},
		{64, 11, 63, MAIL_ADDR_OK},
		{65, 11, 63, MAIL_ADDR_TOO_LONG},
		{200, 11, 63, MAIL_ADDR_TOO_LONG},
		/* labels: 63 octets at most (RFC 1035 2.3.4) */
		{4, 63, 63, MAIL_ADDR_OK},
		{4, 64, 64, MAIL_ADDR_SYNTAX},
		{4, 130, 64, MAIL_ADDR_SYNTAX},
		/* whole mailbox: 254 = 256-octet path less "<" and ">" */
		{1, 252, 63, MAIL_ADDR_OK},      /* 1 + 1 + 252 = 254 */
		{1, 253, 63, MAIL_ADDR_TOO_LONG}, /* 255 */
		{64, 189, 63, MAIL_ADDR_OK},     /* 64 + 1 + 189 = 254 */
		{64, 190, 63, MAIL_ADDR_TOO_LONG},
		{63, 190, 63, MAIL_ADDR_OK},
		/* domain at the 255/256 octets of 4.5.3.1.2: over the path limit */
		{1, 254, 63, MAIL_ADDR_TOO_LONG},
		{1, 255, 63, MAIL_ADDR_TOO_LONG},
		{1, 256, 63, MAIL_ADDR_TOO_LONG},
		{1, 300, 63, MAIL_ADDR_TOO_LONG},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		char addr[1024];
		size_t n = rows[i].local + 1 + rows[i].domain;

		memset(addr, 'l', rows[i].local);
		addr[rows[i].local] = '@';
		make_domain(addr + rows[i].local + 1, rows[i].domain, rows[i].label_max);
		assert_int_equal(strlen(addr), n);
		check_addr(i, addr, n, 0, rows[i].want, 0);
	}
}

/* A quoted local part counts its quotes and escapes toward the 64. */
static void
test_addr_quoted_length(void **state)
{
	char addr[128];

	(void)state;
	addr[0] = '"';
	memset(addr + 1, 'q', 62);
	memcpy(addr + 63, "\"@example.com", 14);
	check_addr(0, addr, strlen(addr), 0, MAIL_ADDR_OK, 0); /* 64 octets */
	addr[0] = '"';
	memset(addr + 1, 'q', 63);
	memcpy(addr + 64, "\"@example.com", 14);
	check_addr(1, addr, strlen(addr), 0, MAIL_ADDR_TOO_LONG, 0); /* 65 */
}

/* has_utf8 is an output for this call only: reset on every call. */
static void
test_addr_utf8_flag_reset(void **state)
{
	int has_utf8 = 1;

	(void)state;
	assert_int_equal(mail_addr_check(S("a@example.com"), 1, &has_utf8), MAIL_ADDR_OK);
	assert_int_equal(has_utf8, 0);
	has_utf8 = 1;
	assert_int_equal(mail_addr_check(S("bad"), 1, &has_utf8), MAIL_ADDR_NO_DOMAIN);
	assert_int_equal(has_utf8, 0);
}

static void
test_addr_err_str(void **state)
{
	const enum mail_addr_err all[] = {MAIL_ADDR_OK, MAIL_ADDR_SYNTAX, MAIL_ADDR_TOO_LONG,
					  MAIL_ADDR_NEEDS_UTF8, MAIL_ADDR_NO_DOMAIN};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(all); i++) {
		const char *s = mail_addr_err_str(all[i]);

		assert_non_null(s);
		assert_true(strlen(s) > 0);
		assert_string_not_equal(s, "?");
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(s, mail_addr_err_str(all[k]));
	}
	assert_string_equal(mail_addr_err_str((enum mail_addr_err)42), "?");
}

/* --- headers --------------------------------------------------------------- */

static void
test_header_get(void **state)
{
	static const struct {
		const char *msg;
		size_t len;
		const char *name;
		size_t outlen;
		int found;
		const char *want;
	} rows[] = {
		{S("From: a@b\r\nSubject: Hello\r\n\r\nBody\r\n"), "Subject", 64, 1, "Hello"},
		{S("From: a@b\r\nSubject: Hello\r\n\r\nBody\r\n"), "From", 64, 1, "a@b"},
		/* names are case-insensitive (RFC 5322 1.2.2) */
		{S("SUBJECT: Hello\r\n\r\n"), "subject", 64, 1, "Hello"},
		{S("subject: Hello\r\n\r\n"), "Subject", 64, 1, "Hello"},
		{S("Message-Id: <x@y>\r\n\r\n"), "Message-ID", 64, 1, "<x@y>"},
		/* folded: CRLF + WSP is removed, the WSP kept (RFC 5322 2.2.3) */
		{S("Subject: Hello\r\n World\r\n\r\n"), "Subject", 64, 1, "Hello World"},
		{S("Subject: Hello\r\n\tWorld\r\n  again\r\nX: y\r\n\r\n"), "Subject", 64, 1,
		 "Hello\tWorld  again"},
		{S("Subject:\r\n Hello\r\n\r\n"), "Subject", 64, 1, "Hello"},
		{S("Subject: a\n b\n\n"), "Subject", 64, 1, "a b"},
		/* leading and trailing white space dropped */
		{S("Subject:    spaced   \r\n\r\n"), "Subject", 64, 1, "spaced"},
		{S("Subject:\tx\t\r\n\r\n"), "Subject", 64, 1, "x"},
		{S("Subject:\r\n\r\n"), "Subject", 64, 1, ""},
		{S("Subject:"), "Subject", 64, 1, ""},
		/* the first of several */
		{S("Subject: one\r\nSubject: two\r\n\r\n"), "Subject", 64, 1, "one"},
		/* the header section ends at the first empty line */
		{S("From: a\r\n\r\nSubject: in the body\r\n"), "Subject", 64, 0, ""},
		{S("From: a\n\nSubject: in the body\n"), "Subject", 64, 0, ""},
		{S("\r\nSubject: in the body\r\n"), "Subject", 64, 0, ""},
		{S("From: a\nSubject: lf only\n\nbody"), "Subject", 64, 1, "lf only"},
		/* absent, or only a prefix or suffix of the name */
		{S("From: a\r\n\r\n"), "Subject", 64, 0, ""},
		{S("Subjects: x\r\n\r\n"), "Subject", 64, 0, ""},
		{S("X-Subject: x\r\n\r\n"), "Subject", 64, 0, ""},
		{S("Subject x\r\n\r\n"), "Subject", 64, 0, ""},
		{S(" Subject: folded-looking\r\n\r\n"), "Subject", 64, 0, ""},
		{S(""), "Subject", 64, 0, ""},
		/* no line end at all */
		{S("Subject: x"), "Subject", 64, 1, "x"},
		/* truncation to outlen - 1 octets */
		{S("Subject: Hello World\r\n\r\n"), "Subject", 6, 1, "Hello"},
		{S("Subject: Hello World\r\n\r\n"), "Subject", 12, 1, "Hello World"},
		{S("Subject: Hello World\r\n\r\n"), "Subject", 11, 1, "Hello Worl"},
		{S("Subject: Hello World\r\n\r\n"), "Subject", 7, 1, "Hello"}, /* trailing SP trimmed */
		{S("Subject: Hello World\r\n\r\n"), "Subject", 1, 1, ""},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		char out[128];
		int r;

		memset(out, 'Z', sizeof(out));
		r = mail_header_get(rows[i].msg, rows[i].len, rows[i].name, out, rows[i].outlen);
		if (r != rows[i].found)
			fail_msg("row %zu (%s in \"%.*s\"): found=%d, want %d", i, rows[i].name,
				 (int)rows[i].len, rows[i].msg, r, rows[i].found);
		if (strcmp(out, rows[i].want) != 0)
			fail_msg("row %zu (%s): value \"%s\", want \"%s\"", i, rows[i].name, out,
				 rows[i].want);
		for (size_t k = rows[i].outlen; k < sizeof(out); k++)
			if (out[k] != 'Z')
				fail_msg("row %zu: wrote past outlen at %zu", i, k);
	}
}

/*
 * A fold is one line end followed by white space (RFC 5322 2.2.3). The
 * empty line that ends the header section is not part of a fold, so a
 * body whose first line is indented must not leak into the value (it
 * would end up in the stored subject). Every row is checked before the
 * test fails, so the report lists them all.
 */
static void
test_header_fold_stops_at_body(void **state)
{
	static const struct {
		const char *msg;
		size_t len;
		const char *want;
	} rows[] = {
		{S("Subject: hi\r\n\r\n indented body\r\n"), "hi"},
		{S("Subject: hi\n\n\tindented body\n"), "hi"},
		{S("From: a\r\nSubject:\r\n\r\n secret body text\r\n"), ""},
		{S("Subject: hi\r\n\r\n\r\n more\r\n"), "hi"},
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		char out[128];

		assert_int_equal(mail_header_get(rows[i].msg, rows[i].len, "Subject", out,
						 sizeof(out)),
				 1);
		if (strcmp(out, rows[i].want) != 0) {
			print_error("row %zu: value \"%s\", want \"%s\"\n", i, out, rows[i].want);
			bad++;
		}
	}
	if (bad)
		fail_msg("%d row(s): the unfolding ran across the empty line into the body", bad);
}

/* outlen 0: nothing found, nothing written. */
static void
test_header_outlen_zero(void **state)
{
	char out[2] = {'Z', 'Z'};

	(void)state;
	assert_int_equal(mail_header_get(S("Subject: x\r\n\r\n"), "Subject", out, 0), 0);
	assert_int_equal(out[0], 'Z');
}

/* A value longer than MAIL_HEADER_VALUE_MAX is cut at the out buffer. */
static void
test_header_long_value(void **state)
{
	char msg[3000], out[MAIL_HEADER_VALUE_MAX + 1];
	size_t n = 0;

	(void)state;
	memcpy(msg, "Subject: ", 9);
	n = 9;
	memset(msg + n, 'v', 2000);
	n += 2000;
	memcpy(msg + n, "\r\n\r\nbody", 8);
	n += 8;
	assert_int_equal(mail_header_get(msg, n, "Subject", out, sizeof(out)), 1);
	assert_int_equal(strlen(out), MAIL_HEADER_VALUE_MAX);
	assert_int_equal(strspn(out, "v"), MAIL_HEADER_VALUE_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_table),
		cmocka_unit_test(test_addr_lengths),
		cmocka_unit_test(test_addr_quoted_length),
		cmocka_unit_test(test_addr_utf8_flag_reset),
		cmocka_unit_test(test_addr_err_str),
		cmocka_unit_test(test_header_get),
		cmocka_unit_test(test_header_fold_stops_at_body),
		cmocka_unit_test(test_header_outlen_zero),
		cmocka_unit_test(test_header_long_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
