/*
 * NAME
 *	test_mta_dsn - delivery status notifications: structure and golden
 * DESCRIPTION
 *	Builds DSNs and checks them with string tests (there is no MIME
 *	parser below the mta module): line ends, line lengths, 7-bit,
 *	boundary lines, part headers and each RFC 3464 field. One DSN is
 *	compared with tests/unit/golden/dsn_basic.eml after its two random
 *	parts (the boundary and the Message-ID token) are replaced by
 *	BOUNDARY and RANDOM. The golden file is stored with LF line ends so
 *	that no checkout setting can change it: the test has already
 *	checked that every line ends in CRLF and compares with CRLF turned
 *	into LF. PH_UPDATE_GOLDEN=1 rewrites the file instead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mta/mta_pure.h"

#define T_ARRIVAL 1763826695123LL /* Sat, 22 Nov 2025 15:51:35 +0000 */
#define T_LAST 1763913095000LL
#define T_NOW 1763913100000LL

static const char orig_headers[] =
	"Received: from app.example.org (app.example.org [192.0.2.10])\r\n"
	"\tby mta.posthaste.example (posthaste) with ESMTPSA id 01HXYZ\r\n"
	"From: Alice <alice@example.org>\r\n"
	"To: bob@example.com, carol@example.net\r\n"
	"Subject: Quarterly report\r\n"
	"Message-ID: <report-42@example.org>\r\n"
	"Date: Sat, 22 Nov 2025 15:51:30 +0000\r\n"
	"\r\n"
	"The body is not part of a DSN's headers.\r\n";

static const struct mta_dsn_rcpt basic_rcpts[] = {
	{"bob@example.com", "failed", "5.1.1", "gmail-smtp-in.l.google.com",
	 "550-5.1.1 The email account that you tried to reach does not exist. Please try\n"
	 "550-5.1.1 double-checking the recipient's email address for typos or\n"
	 "550-5.1.1 unnecessary spaces. For more information, go to\n"
	 "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si123.45 - gsmtp",
	 T_LAST},
	{"carol@example.net", "failed", "5.7.1",
	 "example-net.mail.protection.outlook.com",
	 "550 5.7.1 Unfortunately, messages from [203.0.113.5] weren't sent. Please contact "
	 "your Internet service provider since part of their network is on our block list "
	 "(S3150).",
	 T_LAST},
};

/* The DSN of the golden test; others start from it. */
static struct mta_dsn
basic_dsn(void)
{
	struct mta_dsn d = {
		.reporting_mta = "mta.posthaste.example",
		.dsn_from = "MAILER-DAEMON@mta.posthaste.example",
		.to = "alice@example.org",
		.original_message_id = "<report-42@example.org>",
		.original_subject = "Quarterly report",
		.public_id = "01HXYZ",
		.arrival_ms = T_ARRIVAL,
		.now_ms = T_NOW,
		.rcpts = basic_rcpts,
		.nrcpt = PH_ARRAY_LEN(basic_rcpts),
		.original_headers = orig_headers,
		.original_headers_len = sizeof(orig_headers) - 1,
	};

	return d;
}

/* CRLF only, no line past 998 octets, nothing outside 7-bit ASCII. */
static void
check_wire_form(const char *s, size_t n)
{
	size_t col = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		assert_true(c < 0x80);
		assert_true(c != '\0');
		if (c == '\n') {
			assert_true(i > 0 && s[i - 1] == '\r');
			col = 0;
			continue;
		}
		if (c == '\r')
			assert_true(i + 1 < n && s[i + 1] == '\n');
		else
			col++;
		assert_true(col <= 998);
	}
	assert_true(n >= 2 && s[n - 2] == '\r' && s[n - 1] == '\n');
}

/* The boundary from the top-level Content-Type, into out. */
static void
get_boundary(const char *s, char *out, size_t outlen)
{
	const char *b = strstr(s, "boundary=\""), *e;

	assert_non_null(b);
	b += strlen("boundary=\"");
	e = strchr(b, '"');
	assert_non_null(e);
	assert_true((size_t)(e - b) < outlen);
	memcpy(out, b, (size_t)(e - b));
	out[e - b] = '\0';
}

/* How many times needle occurs in s. */
static int
count(const char *s, const char *needle)
{
	int k = 0;

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		k++;
	return k;
}

/* Whether a line of s is exactly line (without its CRLF). */
static int
has_line(const char *s, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = s; (p = strstr(p, line)) != NULL; p++)
		if ((p == s || p[-1] == '\n') && p[n] == '\r' && p[n + 1] == '\n')
			return 1;
	return 0;
}

/* A copy of s with every fold (CRLF before SP or tab) undone, as RFC
 * 5322 2.2.3 unfolds; the caller frees it. */
static char *
unfold(const char *s)
{
	char *o = xstrdup(s);
	size_t k = 0;

	for (size_t i = 0; s[i] != '\0'; i++) {
		if (s[i] == '\r' && s[i + 1] == '\n' && (s[i + 2] == ' ' || s[i + 2] == '\t')) {
			i++;
			continue;
		}
		o[k++] = s[i];
	}
	o[k] = '\0';
	return o;
}

/* Replace every occurrence of from in b by to. */
static void
replace_all(struct buf *b, const char *from, const char *to)
{
	struct buf o;
	size_t fl = strlen(from);
	const char *p = b->data, *q;

	buf_init(&o, b->cap);
	while ((q = strstr(p, from)) != NULL) {
		assert_int_equal(buf_append(&o, p, (size_t)(q - p)), 0);
		assert_int_equal(buf_puts(&o, to), 0);
		p = q + fl;
	}
	assert_int_equal(buf_puts(&o, p), 0);
	buf_free(b);
	*b = o;
}

/* The golden file's path, beside this source file. */
static void
golden_path(char *out, size_t outlen, const char *name)
{
	const char *slash = strrchr(__FILE__, '/');
	int dir = slash ? (int)(slash - __FILE__) : 1;

	snprintf(out, outlen, "%.*s/golden/%s", dir, slash ? __FILE__ : ".", name);
}

/* Structure and fields of the basic DSN. */
static void
test_structure(void **state)
{
	struct mta_dsn d = basic_dsn();
	struct buf b;
	char boundary[128], line[256];
	const char *status, *headers, *human;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(mta_dsn_build(&d, &b), 0);
	check_wire_form(b.data, b.len);
	get_boundary(b.data, boundary, sizeof(boundary));
	assert_true(strncmp(boundary, "=_ph_", 5) == 0);
	assert_int_equal(strlen(boundary), 5 + 24);

	/* Top-level header section. */
	assert_true(has_line(b.data, "From: Mail Delivery System "
				     "<MAILER-DAEMON@mta.posthaste.example>"));
	assert_true(has_line(b.data, "To: <alice@example.org>"));
	assert_true(has_line(b.data, "Subject: Undelivered Mail Returned to Sender"));
	assert_true(has_line(b.data, "Date: Sun, 23 Nov 2025 15:51:40 +0000"));
	assert_true(strncmp(b.data, "From: ", 6) == 0);
	assert_non_null(strstr(b.data, "\r\nMessage-ID: <01HXYZ.dsn."));
	assert_non_null(strstr(b.data, "@mta.posthaste.example>\r\n"));
	assert_true(has_line(b.data, "In-Reply-To: <report-42@example.org>"));
	assert_true(has_line(b.data, "References: <report-42@example.org>"));
	assert_true(has_line(b.data, "MIME-Version: 1.0"));
	assert_true(has_line(b.data, "Auto-Submitted: auto-replied"));
	assert_true(has_line(b.data, "Content-Type: multipart/report; "
				     "report-type=delivery-status;"));

	/* Three parts, then the close delimiter at the very end. */
	snprintf(line, sizeof(line), "--%s", boundary);
	assert_int_equal(count(b.data, line), 4);
	snprintf(line, sizeof(line), "\r\n--%s\r\n", boundary);
	assert_int_equal(count(b.data, line), 3);
	snprintf(line, sizeof(line), "\r\n--%s--\r\n", boundary);
	assert_true(b.len > strlen(line) &&
		    strcmp(b.data + b.len - strlen(line), line) == 0);

	human = strstr(b.data, "Content-Type: text/plain; charset=us-ascii\r\n");
	status = strstr(b.data, "Content-Type: message/delivery-status\r\n");
	headers = strstr(b.data, "Content-Type: text/rfc822-headers\r\n");
	assert_non_null(human);
	assert_non_null(status);
	assert_non_null(headers);
	assert_true(human < status && status < headers);

	/* Human-readable part: each recipient and what its server said. */
	assert_non_null(strstr(human, "<bob@example.com>: delivery failed (5.1.1)"));
	assert_non_null(strstr(human, "The server gmail-smtp-in.l.google.com replied:"));
	assert_non_null(strstr(human, "<carol@example.net>: delivery failed (5.7.1)"));
	assert_non_null(strstr(human, "Subject: Quarterly report"));

	/* message/delivery-status: per message, then per recipient. */
	assert_true(has_line(status, "Reporting-MTA: dns; mta.posthaste.example"));
	assert_true(has_line(status, "X-Posthaste-Queue-ID: 01HXYZ"));
	assert_true(has_line(status, "Arrival-Date: Sat, 22 Nov 2025 15:51:35 +0000"));
	assert_true(has_line(status, "Final-Recipient: rfc822; bob@example.com"));
	assert_true(has_line(status, "Final-Recipient: rfc822; carol@example.net"));
	assert_int_equal(count(status, "\r\nAction: failed\r\n"), 2);
	assert_true(has_line(status, "Status: 5.1.1"));
	assert_true(has_line(status, "Status: 5.7.1"));
	assert_true(has_line(status, "Remote-MTA: dns; gmail-smtp-in.l.google.com"));
	assert_true(has_line(status, "Remote-MTA: dns; example-net.mail.protection.outlook.com"));
	assert_non_null(strstr(status, "\r\nDiagnostic-Code: smtp; 550-5.1.1 The email account"));
	assert_int_equal(count(status, "\r\nLast-Attempt-Date: Sun, 23 Nov 2025 15:51:35 +0000\r\n"),
			 2);
	/* A blank line before each recipient's block (RFC 3464 2.1). */
	assert_non_null(strstr(status, "+0000\r\n\r\nFinal-Recipient: rfc822; bob@"));

	/* The original header section only, not the body. */
	assert_true(has_line(headers, "Subject: Quarterly report"));
	assert_true(has_line(headers, "\tby mta.posthaste.example (posthaste) with ESMTPSA id "
				      "01HXYZ"));
	assert_null(strstr(b.data, "The body is not part"));
	buf_free(&b);
}

/* Unfolding a folded Diagnostic-Code gives back the reply, joined. */
static void
test_folding(void **state)
{
	struct mta_dsn d = basic_dsn();
	struct buf b, v;
	const char *p, *e;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(mta_dsn_build(&d, &b), 0);
	p = strstr(b.data, "Diagnostic-Code: smtp; ");
	assert_non_null(p);
	p += strlen("Diagnostic-Code: smtp; ");
	buf_init(&v, 1 << 16);
	/* RFC 5322 2.2.3: unfold by removing each CRLF before WSP. */
	for (e = p; !(e[0] == '\r' && e[1] == '\n' && e[2] != ' ' && e[2] != '\t'); e++) {
		if (e[0] == '\r' && e[1] == '\n') {
			e++;
			continue;
		}
		assert_int_equal(buf_append(&v, e, 1), 0);
	}
	assert_string_equal(v.data,
			    "550-5.1.1 The email account that you tried to reach does not exist. "
			    "Please try 550-5.1.1 double-checking the recipient's email address "
			    "for typos or 550-5.1.1 unnecessary spaces. For more information, go "
			    "to 550 5.1.1  https://support.google.com/mail/?p=NoSuchUser "
			    "a1si123.45 - gsmtp");
	buf_free(&v);
	buf_free(&b);
}

/* Byte-for-byte against the golden file, random parts made fixed. */
static void
test_golden(void **state)
{
	struct mta_dsn d = basic_dsn();
	struct buf b, g;
	char boundary[128], path[4096], chunk[4096];
	const char *m, *at;
	char token[64];
	FILE *fp;
	size_t n;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(mta_dsn_build(&d, &b), 0);
	check_wire_form(b.data, b.len);
	get_boundary(b.data, boundary, sizeof(boundary));
	m = strstr(b.data, "Message-ID: <01HXYZ.dsn.");
	assert_non_null(m);
	m += strlen("Message-ID: <01HXYZ.dsn.");
	at = strchr(m, '@');
	assert_non_null(at);
	assert_int_equal(at - m, 16);
	memcpy(token, m, (size_t)(at - m));
	token[at - m] = '\0';
	replace_all(&b, boundary, "BOUNDARY");
	replace_all(&b, token, "RANDOM");
	replace_all(&b, "\r\n", "\n");

	golden_path(path, sizeof(path), "dsn_basic.eml");
	if (getenv("PH_UPDATE_GOLDEN") != NULL) {
		fp = fopen(path, "wb");
		assert_non_null(fp);
		assert_int_equal(fwrite(b.data, 1, b.len, fp), b.len);
		assert_int_equal(fclose(fp), 0);
	}
	fp = fopen(path, "rb");
	if (fp == NULL)
		fail_msg("cannot open %s (PH_UPDATE_GOLDEN=1 writes it)", path);
	buf_init(&g, 1 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		assert_int_equal(buf_append(&g, chunk, n), 0);
	fclose(fp);
	assert_string_equal(b.data, g.data);
	buf_free(&g);
	buf_free(&b);
}

/* Every recipient delayed: a warning, not a bounce. */
static void
test_delayed(void **state)
{
	static const struct mta_dsn_rcpt rcpts[] = {
		{"bob@example.com", "delayed", "4.2.0", "mx.example.com",
		 "450 4.2.0 <bob@example.com>: Recipient address rejected: Greylisted", T_LAST},
		{"dave@example.com", "delayed", NULL, NULL, "connect to mx.example.com[192.0.2.25]:25: "
							    "Connection timed out",
		 0},
	};
	struct mta_dsn d = basic_dsn();
	struct buf b;
	char *u;

	(void)state;
	d.rcpts = rcpts;
	d.nrcpt = PH_ARRAY_LEN(rcpts);
	buf_init(&b, 1 << 20);
	assert_int_equal(mta_dsn_build(&d, &b), 0);
	check_wire_form(b.data, b.len);
	u = unfold(b.data);
	assert_true(has_line(u, "Subject: Delayed Mail (still being retried)"));
	assert_non_null(strstr(u, "warning only"));
	assert_int_equal(count(u, "\r\nAction: delayed\r\n"), 2);
	assert_true(has_line(u, "Status: 4.2.0"));
	/* No status given: a generic one for the action. */
	assert_true(has_line(u, "Status: 4.0.0"));
	/* Not an SMTP reply: our own diagnostic type, as Postfix does. */
	assert_true(has_line(u, "Diagnostic-Code: X-Posthaste; connect to "
				"mx.example.com[192.0.2.25]:25: Connection timed out"));
	assert_true(has_line(u, "Diagnostic-Code: smtp; 450 4.2.0 <bob@example.com>: "
				"Recipient address rejected: Greylisted"));
	assert_int_equal(count(u, "Last-Attempt-Date:"), 1);
	assert_int_equal(count(u, "Remote-MTA:"), 1);
	free(u);
	buf_free(&b);

	/* One failed among delayed ones: a bounce. */
	{
		struct mta_dsn_rcpt mixed[2] = {rcpts[0], basic_rcpts[0]};

		d.rcpts = mixed;
		buf_init(&b, 1 << 20);
		assert_int_equal(mta_dsn_build(&d, &b), 0);
		assert_true(has_line(b.data, "Subject: Undelivered Mail Returned to Sender"));
		buf_free(&b);
	}
}

/* Hostile text: line ends, control and 8-bit bytes, long words. */
static void
test_hostile(void **state)
{
	static char longword[3000];
	struct mta_dsn_rcpt rcpts[] = {
		{"bob@example.com", "failed", "5.0.0", "mx.example.com\r\nBcc: x@evil.example",
		 "550 no\r\nBcc: victim@example.com\r\n\r\n--=_ph_fake\r\nInjected: 1 \x01\x7f\xff",
		 T_LAST},
		{"\xe7\x94\xa8\xe6\x88\xb7+tag=1@\xe4\xbe\x8b\xe5\xad\x90.example", "failed", "5.1.1",
		 NULL, "550 5.1.1 Empf\xc3\xa4nger unbekannt", T_LAST},
		{"bad\xff\xfe@example.com", "bogus-action", "9.9.9", NULL, longword, T_LAST},
	};
	struct mta_dsn d = basic_dsn();
	struct buf b;
	const char *p;
	size_t splits = 0, xs = 0;
	char *u;

	(void)state;
	memset(longword, 'x', sizeof(longword) - 1);
	memcpy(longword, "550 ", 4);
	d.rcpts = rcpts;
	d.nrcpt = PH_ARRAY_LEN(rcpts);
	d.original_subject = "Bericht \xc3\xbc\r\nBcc: y@evil.example";
	d.original_headers = "Subject: \xc3\xbc\nX-Long: "
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\0\n"
			     "\n";
	d.original_headers_len = 90;
	buf_init(&b, 1 << 20);
	assert_int_equal(mta_dsn_build(&d, &b), 0);
	check_wire_form(b.data, b.len);
	/* Nothing from a value starts a line of its own: in header fields
	 * CR and LF became spaces, in the body every line is indented. */
	assert_null(strstr(b.data, "\nBcc:"));
	assert_null(strstr(b.data, "\nInjected:"));
	assert_null(strstr(b.data, "\n--=_ph_fake"));
	assert_true(has_line(b.data, "    --=_ph_fake"));
	u = unfold(b.data);
	assert_true(has_line(u, "Remote-MTA: dns; mx.example.com  Bcc: x@evil.example"));
	assert_true(has_line(u, "Diagnostic-Code: smtp; 550 no  Bcc: victim@example.com    "
				"--=_ph_fake  Injected: 1 ???"));
	/* RFC 6533 utf-8-addr-xtext for a valid UTF-8 address. */
	assert_true(has_line(u, "Final-Recipient: utf-8; "
				"\\x{7528}\\x{6237}\\x{2B}tag\\x{3D}1@\\x{4F8B}\\x{5B50}.example"));
	assert_true(has_line(u, "Diagnostic-Code: smtp; 550 5.1.1 Empf??nger unbekannt"));
	/* Not UTF-8: rfc822 with '?'. An unknown action and a malformed
	 * status give way to "failed" and 5.0.0. */
	assert_true(has_line(u, "Final-Recipient: rfc822; bad??@example.com"));
	assert_int_equal(count(u, "\r\nAction: failed\r\n"), 3);
	assert_null(strstr(u, "bogus-action"));
	assert_null(strstr(u, "9.9.9"));
	/* (The body is not folded: look at it as it is.) */
	assert_true(has_line(b.data, "    Subject: Bericht ??  Bcc: y@evil.example"));
	/* Original headers: 8-bit and NUL as '?', up to the empty line. */
	assert_true(has_line(u, "Subject: ??"));
	assert_true(has_line(u, "X-Long: "
				"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?"));
	/* The 2995-byte word was split over lines of at most 998 octets
	 * (check_wire_form), each split a fold that adds one space. */
	p = strstr(u, "Diagnostic-Code: smtp; 550 x");
	assert_non_null(p);
	p += strlen("Diagnostic-Code: smtp; 550 ");
	for (; *p != '\r'; p++) {
		if (*p == ' ')
			splits++;
		else
			assert_int_equal(*p, 'x'), xs++;
	}
	assert_int_equal(xs, sizeof(longword) - 5);
	assert_int_equal(splits, 3);
	free(u);
	buf_free(&b);
}

/* Values longer than a line, runs of white space, and random bytes
 * everywhere: the wire form holds (7-bit, CRLF, <= 998 octets). */
static void
test_long_and_random(void **state)
{
	static char addr[1600], diag[4000], subject[600], headers[3000];
	struct mta_dsn_rcpt rcpts[2] = {
		{addr, "failed", "5.1.1", addr, diag, T_LAST},
		{"bob@example.com", "delayed", "4.4.1", "mx.example.com", diag, T_LAST},
	};
	struct mta_dsn d = basic_dsn();
	uint32_t seed = 12345;
	struct buf b;

	(void)state;
	memset(addr, 'a', sizeof(addr) - 1);
	memcpy(addr + sizeof(addr) - 13, "@example.com", 12);
	memset(diag, ' ', sizeof(diag) - 1);
	memcpy(diag, "550 5.1.1 spaces follow", 23);
	memcpy(diag + sizeof(diag) - 5, "end.", 4);
	d.to = addr;
	d.rcpts = rcpts;
	d.nrcpt = 2;
	buf_init(&b, 1 << 20);
	assert_int_equal(mta_dsn_build(&d, &b), 0);
	check_wire_form(b.data, b.len);
	assert_non_null(strstr(b.data, "spaces follow                "));
	buf_free(&b);

	/* A fixed pseudo-random sequence, so that a failure repeats. */
	for (int round = 0; round < 300; round++) {
		char *fields[] = {addr, diag, subject, headers};
		size_t sizes[] = {sizeof(addr), sizeof(diag), sizeof(subject), sizeof(headers)};

		for (size_t f = 0; f < PH_ARRAY_LEN(fields); f++) {
			size_t len;

			seed = seed * 1103515245u + 12345u;
			len = (seed >> 8) % sizes[f];
			for (size_t i = 0; i < len; i++) {
				seed = seed * 1103515245u + 12345u;
				/* Bias towards the bytes that matter. */
				fields[f][i] = (seed >> 24) % 4 == 0 ? "\r\n \t\0-=\\"[(seed >> 8) % 9]
								     : (char)(seed >> 16);
			}
			fields[f][len] = '\0';
		}
		if (addr[0] == '\0')
			addr[0] = 'x';
		d.original_subject = subject;
		d.original_headers = headers;
		d.original_headers_len = sizeof(headers) - 1;
		buf_init(&b, 1 << 20);
		assert_int_equal(mta_dsn_build(&d, &b), 0);
		check_wire_form(b.data, b.len);
		buf_free(&b);
	}
}

/* A cap too small, or a DSN without what it needs, is -1 and leaves
 * the buffer as it was. */
static void
test_errors(void **state)
{
	struct mta_dsn d = basic_dsn();
	struct buf b;
	size_t full;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(mta_dsn_build(&d, &b), 0);
	full = b.len;
	buf_free(&b);

	for (size_t cap = 0; cap < full; cap += cap < 64 ? 1 : 97) {
		buf_init(&b, cap);
		assert_int_equal(buf_puts(&b, cap >= 3 ? "abc" : ""), 0);
		assert_int_equal(mta_dsn_build(&d, &b), -1);
		assert_int_equal(b.len, cap >= 3 ? 3u : 0u);
		if (b.data)
			assert_int_equal(b.data[b.len], '\0');
		buf_free(&b);
	}
	buf_init(&b, full);
	assert_int_equal(mta_dsn_build(&d, &b), 0);
	buf_free(&b);

	buf_init(&b, 1 << 20);
	d.nrcpt = 0;
	assert_int_equal(mta_dsn_build(&d, &b), -1);
	d = basic_dsn();
	d.to = "";
	assert_int_equal(mta_dsn_build(&d, &b), -1);
	d = basic_dsn();
	d.reporting_mta = NULL;
	assert_int_equal(mta_dsn_build(&d, &b), -1);
	assert_int_equal(b.len, 0);
	/* Optional parts may be missing. */
	d = basic_dsn();
	d.original_headers = NULL;
	d.original_message_id = "not a message id";
	d.original_subject = NULL;
	d.public_id = NULL;
	assert_int_equal(mta_dsn_build(&d, &b), 0);
	check_wire_form(b.data, b.len);
	assert_null(strstr(b.data, "text/rfc822-headers"));
	assert_null(strstr(b.data, "In-Reply-To:"));
	assert_non_null(strstr(b.data, "Message-ID: <dsn."));
	buf_free(&b);
}

/* Run the tests above. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_structure), cmocka_unit_test(test_folding),
		cmocka_unit_test(test_golden),    cmocka_unit_test(test_delayed),
		cmocka_unit_test(test_hostile),   cmocka_unit_test(test_long_and_random),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
