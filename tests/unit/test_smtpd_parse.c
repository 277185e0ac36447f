/*
 * NAME
 *	test_smtpd_parse - unit tests for the SMTP command and MAIL/RCPT parsers
 * DESCRIPTION
 *	smtpd_parse_command(): verbs are case-insensitive (RFC 5321 2.4),
 *	followed by nothing or by one space and the arguments.
 *	smtpd_parse_mail()/smtpd_parse_rcpt(): the path in angle brackets
 *	(4.1.2), the null reverse-path, source routes (appendix C), the
 *	ESMTP parameters SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8
 *	(RFC 6531) and AUTH (RFC 4954 5), with the exact reply lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smtpd/smtpd.h"

static void
test_command(void **state)
{
	static const struct {
		const char *line;
		enum smtpd_verb verb;
		const char *arg;
	} rows[] = {
		{"HELO client.example", SMTPD_HELO, "client.example"},
		{"helo client.example", SMTPD_HELO, "client.example"},
		{"EHLO client.example", SMTPD_EHLO, "client.example"},
		{"eHlO x", SMTPD_EHLO, "x"},
		{"MAIL FROM:<a@b.example>", SMTPD_MAIL, "FROM:<a@b.example>"},
		{"mail from:<a@b.example> SIZE=10", SMTPD_MAIL, "from:<a@b.example> SIZE=10"},
		{"RCPT TO:<c@d.example>", SMTPD_RCPT, "TO:<c@d.example>"},
		{"Rcpt To:<c@d.example>", SMTPD_RCPT, "To:<c@d.example>"},
		{"DATA", SMTPD_DATA, ""},
		{"data", SMTPD_DATA, ""},
		{"RSET", SMTPD_RSET, ""},
		{"NOOP", SMTPD_NOOP, ""},
		{"NOOP anything at all", SMTPD_NOOP, "anything at all"},
		{"QUIT", SMTPD_QUIT, ""},
		{"quit", SMTPD_QUIT, ""},
		{"HELP", SMTPD_HELP, ""},
		{"HELP MAIL", SMTPD_HELP, "MAIL"},
		{"VRFY user", SMTPD_VRFY, "user"},
		{"EXPN list", SMTPD_EXPN, "list"},
		{"STARTTLS", SMTPD_STARTTLS, ""},
		{"starttls", SMTPD_STARTTLS, ""},
		{"AUTH PLAIN AHVzZXIAcGFzcw==", SMTPD_AUTH, "PLAIN AHVzZXIAcGFzcw=="},
		{"AUTH LOGIN", SMTPD_AUTH, "LOGIN"},
		{"BDAT 100 LAST", SMTPD_BDAT, "100 LAST"},
		/* verb with a trailing space: empty arguments */
		{"DATA ", SMTPD_DATA, ""},
		/* only one space is the separator; the rest belongs to the args */
		{"RCPT  TO:<c@d.example>", SMTPD_RCPT, " TO:<c@d.example>"},
		/* unknown verbs, prefixes and extensions of verbs */
		{"FOO bar", SMTPD_UNKNOWN, "bar"},
		{"FOO", SMTPD_UNKNOWN, ""},
		{"", SMTPD_UNKNOWN, ""},
		{" MAIL FROM:<a@b>", SMTPD_UNKNOWN, "MAIL FROM:<a@b>"},
		{"MAI", SMTPD_UNKNOWN, ""},
		{"MAILX FROM:<a@b>", SMTPD_UNKNOWN, "FROM:<a@b>"},
		{"MAIL:FROM", SMTPD_UNKNOWN, ""},
		{"HELO\tclient", SMTPD_UNKNOWN, ""},
		{"STARTTLSX", SMTPD_UNKNOWN, ""},
		{"UNKNOWN", SMTPD_UNKNOWN, ""},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct smtpd_cmd c;
		size_t len = strlen(rows[i].line);

		memset(&c, 0xA5, sizeof(c));
		smtpd_parse_command(rows[i].line, len, &c);
		if (c.verb != rows[i].verb)
			fail_msg("row %zu \"%s\": verb %s, want %s", i, rows[i].line,
				 smtpd_verb_str(c.verb), smtpd_verb_str(rows[i].verb));
		assert_int_equal(c.arg_len, strlen(rows[i].arg));
		assert_memory_equal(c.arg, rows[i].arg, c.arg_len);
		/* Arguments point into the line, never past its end. */
		if (c.arg_len > 0) {
			assert_true(c.arg >= rows[i].line);
			assert_true(c.arg + c.arg_len == rows[i].line + len);
		}
	}
}

/* The length bounds the line: bytes past it are not looked at. */
static void
test_command_len(void **state)
{
	static const char line[] = "QUIT now";
	struct smtpd_cmd c;

	(void)state;
	smtpd_parse_command(line, 4, &c);
	assert_int_equal(c.verb, SMTPD_QUIT);
	assert_int_equal(c.arg_len, 0);
	smtpd_parse_command(line, 3, &c);
	assert_int_equal(c.verb, SMTPD_UNKNOWN);
	smtpd_parse_command(line, 0, &c);
	assert_int_equal(c.verb, SMTPD_UNKNOWN);
	assert_int_equal(c.arg_len, 0);
}

static void
test_verb_str(void **state)
{
	static const struct {
		enum smtpd_verb v;
		const char *s;
	} rows[] = {
		{SMTPD_HELO, "HELO"}, {SMTPD_EHLO, "EHLO"},         {SMTPD_MAIL, "MAIL"},
		{SMTPD_RCPT, "RCPT"}, {SMTPD_DATA, "DATA"},         {SMTPD_RSET, "RSET"},
		{SMTPD_NOOP, "NOOP"}, {SMTPD_QUIT, "QUIT"},         {SMTPD_HELP, "HELP"},
		{SMTPD_VRFY, "VRFY"}, {SMTPD_EXPN, "EXPN"},         {SMTPD_STARTTLS, "STARTTLS"},
		{SMTPD_AUTH, "AUTH"}, {SMTPD_BDAT, "BDAT"},         {SMTPD_UNKNOWN, "UNKNOWN"},
		{(enum smtpd_verb)99, "?"},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++)
		assert_string_equal(smtpd_verb_str(rows[i].v), rows[i].s);
}

/* Replies are one line: "5xy x.y.z text", no CR or LF. */
static void
check_reply_shape(size_t row, const char *reply)
{
	if (reply == NULL)
		fail_msg("row %zu: no reply", row);
	if (!(reply[0] == '5' && reply[1] >= '0' && reply[1] <= '9' && reply[2] >= '0' &&
	      reply[2] <= '9' && reply[3] == ' ' && reply[4] == '5' && reply[5] == '.'))
		fail_msg("row %zu: malformed reply \"%s\"", row, reply);
	if (strpbrk(reply, "\r\n") != NULL)
		fail_msg("row %zu: reply holds a line end", row);
}

#define BRACKETS "501 5.5.4 Syntax: address must be in angle brackets <user@domain>"
#define NO_CLOSE "501 5.5.4 Syntax: missing '>' after the address"
#define JUNK "501 5.5.4 Syntax: junk after the address"
#define BAD_SIZE "501 5.5.4 Bad SIZE parameter"
#define BAD_BODY "555 5.5.4 Unsupported BODY type (7BIT or 8BITMIME)"
#define BAD_MAIL_PARAM "555 5.5.4 Unsupported MAIL parameter"
#define BAD_RCPT_PARAM "555 5.5.4 Unsupported RCPT parameter"
#define NEEDS_UTF8 "553 5.6.7 Non-ASCII address requires SMTPUTF8"
#define TOO_LONG "501 5.1.7 Address too long"
#define BAD_SENDER "501 5.1.7 Bad sender address syntax"
#define BAD_RCPT "501 5.1.3 Bad recipient address syntax"
#define BAD_ROUTE "501 5.1.7 Bad address syntax"
#define MAIL_SYNTAX "501 5.5.4 Syntax: MAIL FROM:<address>"
#define RCPT_SYNTAX "501 5.5.4 Syntax: RCPT TO:<address>"

static void
test_mail(void **state)
{
	static const struct {
		const char *arg;
		int rc;
		const char *addr; /* on success */
		uint64_t size;
		int body_8bit, smtputf8;
		const char *reply; /* on failure */
	} rows[] = {
		{"FROM:<a@example.com>", 0, "a@example.com", 0, 0, 0, NULL},
		{"from:<a@example.com>", 0, "a@example.com", 0, 0, 0, NULL},
		{"From:<A.B@Example.COM>", 0, "A.B@Example.COM", 0, 0, 0, NULL},
		/* the null reverse-path (RFC 5321 4.5.5) */
		{"FROM:<>", 0, "", 0, 0, 0, NULL},
		{"FROM:<> SIZE=100", 0, "", 100, 0, 0, NULL},
		{"FROM:<> BODY=8BITMIME", 0, "", 0, 1, 0, NULL},
		/* SIZE (RFC 1870) */
		{"FROM:<a@example.com> SIZE=12345", 0, "a@example.com", 12345, 0, 0, NULL},
		{"FROM:<a@example.com> size=0", 0, "a@example.com", 0, 0, 0, NULL},
		{"FROM:<a@example.com> SIZE=18446744073709551615", 0, "a@example.com", UINT64_MAX, 0,
		 0, NULL},
		{"FROM:<a@example.com> SIZE=18446744073709551616", -1, NULL, 0, 0, 0, BAD_SIZE},
		{"FROM:<a@example.com> SIZE=", -1, NULL, 0, 0, 0, BAD_SIZE},
		{"FROM:<a@example.com> SIZE=abc", -1, NULL, 0, 0, 0, BAD_SIZE},
		{"FROM:<a@example.com> SIZE=-1", -1, NULL, 0, 0, 0, BAD_SIZE},
		{"FROM:<a@example.com> SIZE=10k", -1, NULL, 0, 0, 0, BAD_SIZE},
		{"FROM:<a@example.com> SIZE=000000000000000000000001", -1, NULL, 0, 0, 0, BAD_SIZE},
		/* BODY (RFC 6152) */
		{"FROM:<a@example.com> BODY=8BITMIME", 0, "a@example.com", 0, 1, 0, NULL},
		{"FROM:<a@example.com> body=8bitmime", 0, "a@example.com", 0, 1, 0, NULL},
		{"FROM:<a@example.com> BODY=7BIT", 0, "a@example.com", 0, 0, 0, NULL},
		{"FROM:<a@example.com> BODY=7bit", 0, "a@example.com", 0, 0, 0, NULL},
		{"FROM:<a@example.com> BODY=BINARYMIME", -1, NULL, 0, 0, 0, BAD_BODY},
		{"FROM:<a@example.com> BODY=8BITMIMEX", -1, NULL, 0, 0, 0, BAD_BODY},
		{"FROM:<a@example.com> BODY=8BIT", -1, NULL, 0, 0, 0, BAD_BODY},
		{"FROM:<a@example.com> BODY=7BITS", -1, NULL, 0, 0, 0, BAD_BODY},
		{"FROM:<a@example.com> BODY=", -1, NULL, 0, 0, 0, BAD_BODY},
		/* SMTPUTF8 (RFC 6531 3.4) */
		{"FROM:<a@example.com> SMTPUTF8", 0, "a@example.com", 0, 0, 1, NULL},
		{"FROM:<a@example.com> smtputf8", 0, "a@example.com", 0, 0, 1, NULL},
		{"FROM:<a@example.com> SMTPUTF8=YES", -1, NULL, 0, 0, 0, BAD_MAIL_PARAM},
		{"FROM:<a@example.com> SMTPUTF", -1, NULL, 0, 0, 0, BAD_MAIL_PARAM},
		/* AUTH= is accepted and ignored (RFC 4954 5) */
		{"FROM:<a@example.com> AUTH=<>", 0, "a@example.com", 0, 0, 0, NULL},
		{"FROM:<a@example.com> AUTH=x@example.com", 0, "a@example.com", 0, 0, 0, NULL},
		/* several parameters, extra spaces */
		{"FROM:<a@example.com> SIZE=10 BODY=8BITMIME SMTPUTF8", 0, "a@example.com", 10, 1, 1,
		 NULL},
		{"FROM:<a@example.com>  SIZE=10   BODY=7BIT ", 0, "a@example.com", 10, 0, 0, NULL},
		{"FROM:<a@example.com> ", 0, "a@example.com", 0, 0, 0, NULL},
		/* unknown parameters */
		{"FROM:<a@example.com> FOO=BAR", -1, NULL, 0, 0, 0, BAD_MAIL_PARAM},
		{"FROM:<a@example.com> RET=HDRS", -1, NULL, 0, 0, 0, BAD_MAIL_PARAM},
		{"FROM:<a@example.com> SIZE=10 X", -1, NULL, 0, 0, 0, BAD_MAIL_PARAM},
		{"FROM:<a@example.com> SIZE", -1, NULL, 0, 0, 0, BAD_MAIL_PARAM},
		/* brackets */
		{"FROM:a@example.com", -1, NULL, 0, 0, 0, BRACKETS},
		{"FROM:", -1, NULL, 0, 0, 0, BRACKETS},
		{"FROM:<a@example.com", -1, NULL, 0, 0, 0, NO_CLOSE},
		{"FROM:<", -1, NULL, 0, 0, 0, NO_CLOSE},
		{"FROM:a@example.com>", -1, NULL, 0, 0, 0, BRACKETS},
		/* one space after the colon is tolerated, no more */
		{"FROM: <a@example.com>", 0, "a@example.com", 0, 0, 0, NULL},
		{"FROM:  <a@example.com>", -1, NULL, 0, 0, 0, BRACKETS},
		{"FROM:\t<a@example.com>", -1, NULL, 0, 0, 0, BRACKETS},
		/* the keyword */
		{"FROM <a@example.com>", -1, NULL, 0, 0, 0, MAIL_SYNTAX},
		{"FROM", -1, NULL, 0, 0, 0, MAIL_SYNTAX},
		{"", -1, NULL, 0, 0, 0, MAIL_SYNTAX},
		{"TO:<a@example.com>", -1, NULL, 0, 0, 0, MAIL_SYNTAX},
		{" FROM:<a@example.com>", -1, NULL, 0, 0, 0, MAIL_SYNTAX},
		/* junk right after '>' */
		{"FROM:<a@example.com>junk", -1, NULL, 0, 0, 0, JUNK},
		{"FROM:<a@example.com>SIZE=10", -1, NULL, 0, 0, 0, JUNK},
		{"FROM:<a@example.com>>", -1, NULL, 0, 0, 0, JUNK},
		{"FROM:<>x", -1, NULL, 0, 0, 0, JUNK},
		/* source routes are dropped (RFC 5321 appendix C) */
		{"FROM:<@relay.example:a@example.com>", 0, "a@example.com", 0, 0, 0, NULL},
		{"FROM:<@r1.example,@r2.example:a@example.com>", 0, "a@example.com", 0, 0, 0, NULL},
		{"FROM:<@relay.example>", -1, NULL, 0, 0, 0, BAD_ROUTE},
		{"FROM:<@relay.example,a@example.com>", -1, NULL, 0, 0, 0, BAD_ROUTE},
		/* RFC 5321 4.1.2: a route must be followed by a mailbox, even in MAIL */
		{"FROM:<@relay.example:>", -1, NULL, 0, 0, 0, BAD_ROUTE},
		/* address checks */
		{"FROM:<a..b@example.com>", -1, NULL, 0, 0, 0, BAD_SENDER},
		{"FROM:<noatsign>", -1, NULL, 0, 0, 0, BAD_SENDER},
		{"FROM:<a@>", -1, NULL, 0, 0, 0, BAD_SENDER},
		{"FROM:<a b@example.com>", -1, NULL, 0, 0, 0, BAD_SENDER},
		{"FROM:<\"a b\"@example.com>", 0, "\"a b\"@example.com", 0, 0, 0, NULL},
		{"FROM:<a@[192.0.2.1]>", 0, "a@[192.0.2.1]", 0, 0, 0, NULL},
		{"FROM:<a@[IPv6:2001:db8::1]>", 0, "a@[IPv6:2001:db8::1]", 0, 0, 0, NULL},
		/* non-ASCII needs SMTPUTF8 on this very command */
		{"FROM:<jos\xc3\xa9@example.com>", -1, NULL, 0, 0, 0, NEEDS_UTF8},
		{"FROM:<a@ex\xc3\xa4mple.com> BODY=8BITMIME", -1, NULL, 0, 0, 0, NEEDS_UTF8},
		{"FROM:<jos\xc3\xa9@example.com> SMTPUTF8", 0, "jos\xc3\xa9@example.com", 0, 0, 1,
		 NULL},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct smtpd_path p;
		const char *reply = NULL;
		int rc;

		/* Leftovers from an earlier command must not leak into this one. */
		memset(&p, 0, sizeof(p));
		p.size = 999;
		p.body_8bit = p.smtputf8 = 1;
		rc = smtpd_parse_mail(rows[i].arg, strlen(rows[i].arg), &p, &reply);
		if (rc != rows[i].rc)
			fail_msg("row %zu \"%s\": rc %d, want %d (reply %s)", i, rows[i].arg, rc,
				 rows[i].rc, reply ? reply : "none");
		if (rc == 0) {
			if (strcmp(p.addr, rows[i].addr) != 0)
				fail_msg("row %zu \"%s\": addr \"%s\", want \"%s\"", i, rows[i].arg,
					 p.addr, rows[i].addr);
			assert_int_equal(p.len, strlen(rows[i].addr));
			if (p.size != rows[i].size || p.body_8bit != rows[i].body_8bit ||
			    p.smtputf8 != rows[i].smtputf8)
				fail_msg("row %zu \"%s\": size=%llu 8bit=%d utf8=%d", i, rows[i].arg,
					 (unsigned long long)p.size, p.body_8bit, p.smtputf8);
		} else {
			check_reply_shape(i, reply);
			if (strcmp(reply, rows[i].reply) != 0)
				fail_msg("row %zu \"%s\": reply \"%s\", want \"%s\"", i, rows[i].arg,
					 reply, rows[i].reply);
		}
	}
}

static void
test_rcpt(void **state)
{
	static const struct {
		const char *arg;
		int utf8_session;
		int rc;
		const char *addr;
		const char *reply;
	} rows[] = {
		{"TO:<b@example.org>", 0, 0, "b@example.org", NULL},
		{"to:<b@example.org>", 0, 0, "b@example.org", NULL},
		{"TO: <b@example.org>", 0, 0, "b@example.org", NULL},
		{"TO:<b@example.org> ", 0, 0, "b@example.org", NULL},
		{"TO:<@hop.example:b@example.org>", 0, 0, "b@example.org", NULL},
		{"TO:<@h1.example,@h2.example:b@example.org>", 0, 0, "b@example.org", NULL},
		{"TO:<b@[192.0.2.1]>", 0, 0, "b@[192.0.2.1]", NULL},
		/* no null forward-path */
		{"TO:<>", 0, -1, NULL, BAD_RCPT},
		{"TO:<@hop.example:>", 0, -1, NULL, BAD_RCPT},
		/* RCPT takes none of MAIL's parameters, nor DSN's (not offered) */
		{"TO:<b@example.org> NOTIFY=NEVER", 0, -1, NULL, BAD_RCPT_PARAM},
		{"TO:<b@example.org> ORCPT=rfc822;b@example.org", 0, -1, NULL, BAD_RCPT_PARAM},
		{"TO:<b@example.org> SIZE=10", 0, -1, NULL, BAD_RCPT_PARAM},
		{"TO:<b@example.org> BODY=8BITMIME", 0, -1, NULL, BAD_RCPT_PARAM},
		{"TO:<b@example.org> SMTPUTF8", 0, -1, NULL, BAD_RCPT_PARAM},
		{"TO:<b@example.org> AUTH=<>", 0, -1, NULL, BAD_RCPT_PARAM},
		/* UTF-8 follows the session's MAIL FROM ... SMTPUTF8 */
		{"TO:<jos\xc3\xa9@example.org>", 0, -1, NULL, NEEDS_UTF8},
		{"TO:<jos\xc3\xa9@example.org>", 1, 0, "jos\xc3\xa9@example.org", NULL},
		{"TO:<b@\xe4\xbe\x8b\xe5\xad\x90.example>", 0, -1, NULL, NEEDS_UTF8},
		{"TO:<b@\xe4\xbe\x8b\xe5\xad\x90.example>", 1, 0, "b@\xe4\xbe\x8b\xe5\xad\x90.example",
		 NULL},
		/* syntax */
		{"TO:b@example.org", 0, -1, NULL, BRACKETS},
		{"TO:<b@example.org", 0, -1, NULL, NO_CLOSE},
		{"TO:<b@example.org>x", 0, -1, NULL, JUNK},
		{"TO:  <b@example.org>", 0, -1, NULL, BRACKETS},
		{"TO <b@example.org>", 0, -1, NULL, RCPT_SYNTAX},
		{"FROM:<b@example.org>", 0, -1, NULL, RCPT_SYNTAX},
		{"", 0, -1, NULL, RCPT_SYNTAX},
		{"TO:<@hop.example>", 0, -1, NULL, BAD_ROUTE},
		{"TO:<b@>", 0, -1, NULL, BAD_RCPT},
		{"TO:<b>", 0, -1, NULL, BAD_RCPT},
		{"TO:<b@-example.org>", 0, -1, NULL, BAD_RCPT},
		{"TO:<.b@example.org>", 0, -1, NULL, BAD_RCPT},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct smtpd_path p;
		const char *reply = NULL;
		int rc;

		rc = smtpd_parse_rcpt(rows[i].arg, strlen(rows[i].arg), rows[i].utf8_session, &p,
				      &reply);
		if (rc != rows[i].rc)
			fail_msg("row %zu \"%s\": rc %d, want %d (reply %s)", i, rows[i].arg, rc,
				 rows[i].rc, reply ? reply : "none");
		if (rc == 0) {
			assert_string_equal(p.addr, rows[i].addr);
			assert_int_equal(p.len, strlen(rows[i].addr));
		} else {
			check_reply_shape(i, reply);
			if (strcmp(reply, rows[i].reply) != 0)
				fail_msg("row %zu \"%s\": reply \"%s\", want \"%s\"", i, rows[i].arg,
					 reply, rows[i].reply);
		}
	}
}

/*
 * Path lengths: the mailbox may be 254 octets (a 256-octet path with its
 * brackets). Over that the path parser refuses it before the address
 * checker sees it; a 65-octet local part is the checker's refusal.
 */
static void
test_path_lengths(void **state)
{
	static const struct {
		size_t local, domain;
		int rc;
		const char *reply;
	} rows[] = {
		{1, 252, 0, NULL},      /* 254 */
		{1, 253, -1, TOO_LONG}, /* 255 */
		{1, 300, -1, TOO_LONG},
		{64, 189, 0, NULL},
		{65, 100, -1, TOO_LONG},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		char arg[512], addr[400];
		struct smtpd_path p;
		const char *reply = NULL;
		size_t n = 0, o = 0;
		int rc;

		memset(addr, 'l', rows[i].local);
		o = rows[i].local;
		addr[o++] = '@';
		/* labels of 50 'd' octets separated by dots; never ends in a dot */
		for (size_t k = 0; k < rows[i].domain; k++)
			addr[o++] = (k % 51 == 50 && k + 1 < rows[i].domain) ? '.' : 'd';
		addr[o] = '\0';
		n = (size_t)snprintf(arg, sizeof(arg), "FROM:<%s> SIZE=1", addr);
		rc = smtpd_parse_mail(arg, n, &p, &reply);
		if (rc != rows[i].rc)
			fail_msg("row %zu (%zu octets): rc %d reply %s", i, o, rc, reply ? reply : "");
		if (rc == 0) {
			assert_int_equal(p.len, o);
			assert_string_equal(p.addr, addr);
			assert_int_equal(p.size, 1);
		} else {
			assert_string_equal(reply, rows[i].reply);
		}
		/* RCPT has the same limits. */
		n = (size_t)snprintf(arg, sizeof(arg), "TO:<%s>", addr);
		rc = smtpd_parse_rcpt(arg, n, 0, &p, &reply);
		if (rc != rows[i].rc)
			fail_msg("row %zu RCPT: rc %d reply %s", i, rc, reply ? reply : "");
		if (rc < 0)
			assert_string_equal(reply, rows[i].reply);
	}
}

/* Only len bytes are parsed: no NUL terminator is needed or used. */
static void
test_not_terminated(void **state)
{
	static const char arg[] = "FROM:<a@example.com> SIZE=10XXXX";
	char *copy = malloc(sizeof(arg) - 5); /* no room for a NUL */
	struct smtpd_path p;
	const char *reply = NULL;

	(void)state;
	assert_non_null(copy);
	memcpy(copy, arg, sizeof(arg) - 5);
	assert_int_equal(smtpd_parse_mail(copy, sizeof(arg) - 5, &p, &reply), 0);
	assert_string_equal(p.addr, "a@example.com");
	assert_int_equal(p.size, 10);
	/* Cut inside the path: the '>' beyond len is not seen. */
	assert_int_equal(smtpd_parse_mail(copy, 12, &p, &reply), -1);
	assert_string_equal(reply, NO_CLOSE);
	free(copy);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command),
		cmocka_unit_test(test_command_len),
		cmocka_unit_test(test_verb_str),
		cmocka_unit_test(test_mail),
		cmocka_unit_test(test_rcpt),
		cmocka_unit_test(test_path_lengths),
		cmocka_unit_test(test_not_terminated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
