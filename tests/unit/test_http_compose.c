/*
 * NAME
 *	test_http_compose - JSON send requests to MIME messages
 * DESCRIPTION
 *	Builds messages with http_compose() and reads them back with
 *	GMime's parser: the structure (text/plain, multipart/alternative,
 *	multipart/mixed with the alternative and the attachments), the
 *	decoded text and attachment bytes, RFC 2047 subjects and display
 *	names. Every built message also passes the wire checks: every line
 *	ends in CRLF, no bare CR or LF, no line over 998 octets, a 7-bit
 *	header section unless an address needs SMTPUTF8, and no Bcc.
 *
 *	The refusals are one table: each row patches a good request (a
 *	JSON object merged over it, and optionally a key to delete) and
 *	names the field the error must mention. JSON in this file is
 *	written with ' for " to stay readable; jq() swaps them.
 *
 *	Limits are tested on both sides: max_recipients at N and N+1, the
 *	size cap at exactly the message's size and one byte less.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <gmime/gmime.h>

#include "http/http_compose.h"
#include "mail/mail.h"

#define T_NOW 1763826695123LL /* Sat, 22 Nov 2025 15:51:35 +0000 */
#define T_SIZE (1024 * 1024)

struct result {
	int rc;
	struct buf out;
	struct http_envelope env;
	char err[512];
};

static const char base_req[] = "{'from': 'App <app@example.com>', 'to': ['a@example.net'],"
				" 'subject': 'Your receipt', 'text': 'Hello\\nWorld'}";

/* A JSON value from text written with ' for ". */
static json_t *
jq(const char *s)
{
	char *t = strdup(s);
	json_error_t je;
	json_t *j;

	for (char *p = t; *p; p++)
		if (*p == '\'')
			*p = '"';
	j = json_loads(t, 0, &je);
	if (j == NULL)
		fail_msg("bad test JSON: %s: %s", je.text, t);
	free(t);
	return j;
}

static struct http_compose_limits
limits(size_t max_rcpt, size_t max_size)
{
	struct http_compose_limits lim = {
		.max_recipients = max_rcpt,
		.max_message_size = max_size,
		.hostname = "mx.example.com",
		.public_id = "abc123",
		.now_ms = T_NOW,
	};
	return lim;
}

/* Compose req (not consumed) with the given limits into r. */
static void
run_lim(json_t *req, size_t max_rcpt, size_t max_size, struct result *r)
{
	struct http_compose_limits lim = limits(max_rcpt, max_size);

	memset(r, 0, sizeof(*r));
	buf_init(&r->out, max_size);
	r->rc = http_compose(req, &lim, &r->out, &r->env, r->err, sizeof(r->err));
}

static void
run(json_t *req, struct result *r)
{
	run_lim(req, 50, T_SIZE, r);
}

static void
result_free(struct result *r)
{
	buf_free(&r->out);
	http_envelope_free(&r->env);
}

/* Where the header section ends (the empty line), or the end. */
static size_t
header_len(const struct buf *b)
{
	const char *e = strstr(b->data, "\r\n\r\n");

	return e ? (size_t)(e - b->data) + 2 : b->len;
}

/* RFC 5322 2.1, 2.1.1, 2.3: CRLF only, lines of at most 998 octets. */
static void
check_wire(const struct buf *b, int allow_8bit_headers)
{
	size_t col = 0, hl = header_len(b);

	assert_true(b->len >= 2);
	assert_memory_equal(b->data + b->len - 2, "\r\n", 2);
	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];

		if (c == '\r') {
			if (i + 1 >= b->len || b->data[i + 1] != '\n')
				fail_msg("bare CR at offset %zu", i);
			i++;
			col = 0;
			continue;
		}
		if (c == '\n')
			fail_msg("bare LF at offset %zu", i);
		if (c == 0)
			fail_msg("NUL at offset %zu", i);
		if (++col > 998)
			fail_msg("line over 998 octets at offset %zu", i);
		if (i < hl && c >= 0x80 && !allow_8bit_headers)
			fail_msg("8-bit byte in the header section at offset %zu", i);
		if (i >= hl && c >= 0x80)
			fail_msg("8-bit byte in the body at offset %zu", i);
	}
	/* RFC 5322 3.6.3: Bcc is never written, in any case */
	for (size_t i = 0; i + 4 <= hl; i++)
		if ((i == 0 || b->data[i - 1] == '\n') && strncasecmp(b->data + i, "Bcc:", 4) == 0)
			fail_msg("a Bcc header was written");
}

static GMimeMessage *
parse(const struct buf *b)
{
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(b->data, b->len);
	GMimeParser *p = g_mime_parser_new_with_stream(s);
	GMimeMessage *m = g_mime_parser_construct_message(p, NULL);

	g_object_unref(p);
	g_object_unref(s);
	assert_non_null(m);
	return m;
}

/* The decoded content of a leaf part, NUL-terminated. */
static char *
part_bytes(GMimeObject *o, size_t *n)
{
	GMimeStream *ms = g_mime_stream_mem_new();
	GByteArray *ba;
	char *p;

	assert_true(GMIME_IS_PART(o));
	assert_true(g_mime_data_wrapper_write_to_stream(g_mime_part_get_content(GMIME_PART(o)),
							ms) >= 0);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(ms));
	p = malloc(ba->len + 1);
	if (ba->len > 0) /* an empty GByteArray may have no data */
		memcpy(p, ba->data, ba->len);
	p[ba->len] = '\0';
	*n = ba->len;
	g_object_unref(ms);
	return p;
}

/* A text part's decoded text with CRLF made LF and the final line end
 * (which belongs to the boundary or the message's end) dropped. */
static char *
part_text(GMimeObject *o)
{
	size_t n, k = 0;
	char *p = part_bytes(o, &n);

	for (size_t i = 0; i < n; i++)
		if (!(p[i] == '\r' && i + 1 < n && p[i + 1] == '\n'))
			p[k++] = p[i];
	while (k > 0 && p[k - 1] == '\n')
		k--;
	p[k] = '\0';
	return p;
}

static void
assert_type(GMimeObject *o, const char *type, const char *subtype)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);

	assert_non_null(ct);
	assert_string_equal(g_mime_content_type_get_media_type(ct), type);
	assert_string_equal(g_mime_content_type_get_media_subtype(ct), subtype);
}

static void
assert_text_part(GMimeObject *o, const char *subtype, const char *want)
{
	char *t;

	assert_type(o, "text", subtype);
	assert_string_equal(g_mime_object_get_content_type_parameter(o, "charset"), "utf-8");
	t = part_text(o);
	assert_string_equal(t, want);
	free(t);
}

static char *
header(const struct buf *b, const char *name)
{
	static char v[4096];

	if (!mail_header_get(b->data, b->len, name, v, sizeof(v)))
		return NULL;
	return v;
}

static void
test_text_only(void **state)
{
	json_t *req = jq(base_req);
	struct result r;
	GMimeMessage *m;
	char date[TIME_RFC5322_LEN];

	run(req, &r);
	assert_int_equal(r.rc, 0);
	check_wire(&r.out, 0);
	time_rfc5322(T_NOW, date);
	assert_string_equal(header(&r.out, "Date"), date);
	assert_string_equal(header(&r.out, "From"), "App <app@example.com>");
	assert_string_equal(header(&r.out, "To"), "a@example.net");
	assert_string_equal(header(&r.out, "Subject"), "Your receipt");
	assert_string_equal(header(&r.out, "Message-ID"), "<abc123@mx.example.com>");
	assert_string_equal(header(&r.out, "MIME-Version"), "1.0");
	assert_null(header(&r.out, "Reply-To"));
	assert_null(header(&r.out, "Cc"));

	assert_string_equal(r.env.mail_from, "app@example.com");
	assert_int_equal(r.env.nrcpt, 1);
	assert_string_equal(r.env.rcpts[0], "a@example.net");
	assert_int_equal(r.env.needs_smtputf8, 0);
	assert_string_equal(r.env.subject, "Your receipt");
	assert_string_equal(r.env.message_id, "<abc123@mx.example.com>");

	m = parse(&r.out);
	assert_text_part(g_mime_message_get_mime_part(m), "plain", "Hello\nWorld");
	g_object_unref(m);
	result_free(&r);
	json_decref(req);
}

static void
test_html_only(void **state)
{
	json_t *req = jq("{'from': 'app@example.com', 'to': ['a@example.net'], 'subject': 's',"
			 " 'html': '<p>Hi</p>'}");
	struct result r;
	GMimeMessage *m;

	run(req, &r);
	assert_int_equal(r.rc, 0);
	check_wire(&r.out, 0);
	assert_string_equal(header(&r.out, "From"), "app@example.com");
	m = parse(&r.out);
	assert_text_part(g_mime_message_get_mime_part(m), "html", "<p>Hi</p>");
	g_object_unref(m);
	result_free(&r);
	json_decref(req);
}

static void
test_alternative(void **state)
{
	json_t *req = jq("{'from': 'app@example.com', 'to': ['a@example.net'], 'subject': 's',"
			 " 'text': 'plain words', 'html': '<p>rich</p>',"
			 " 'reply_to': 'Help Desk <help@example.com>',"
			 " 'cc': ['c@example.org']}");
	struct result r;
	GMimeMessage *m;
	GMimeObject *body;

	run(req, &r);
	assert_int_equal(r.rc, 0);
	check_wire(&r.out, 0);
	assert_string_equal(header(&r.out, "Reply-To"), "Help Desk <help@example.com>");
	assert_string_equal(header(&r.out, "Cc"), "c@example.org");
	m = parse(&r.out);
	body = g_mime_message_get_mime_part(m);
	assert_type(body, "multipart", "alternative");
	assert_int_equal(g_mime_multipart_get_count(GMIME_MULTIPART(body)), 2);
	/* RFC 2046 5.1.4: plain first, the preferred html last */
	assert_text_part(g_mime_multipart_get_part(GMIME_MULTIPART(body), 0), "plain",
			 "plain words");
	assert_text_part(g_mime_multipart_get_part(GMIME_MULTIPART(body), 1), "html",
			 "<p>rich</p>");
	g_object_unref(m);
	result_free(&r);
	json_decref(req);
}

static void
test_attachments(void **state)
{
	/* bytes 00 ff 10 0a 0d 41 42 43, "", "hello" */
	json_t *req = jq("{'from': 'app@example.com', 'to': ['a@example.net'], 'subject': 's',"
			 " 'text': 't', 'html': '<b>h</b>',"
			 " 'attachments': ["
			 "  {'filename': 'r.pdf', 'content_type': 'application/pdf',"
			 "   'content': 'AP8QCg1BQkM='},"
			 "  {'filename': 'empty.bin', 'content': ''},"
			 "  {'filename': 're\\u00e7u \\u65e5\\u672c.txt',"
			 "   'content_type': 'text/plain',"
			 "   'content': 'aGVsbG8='}]}");
	static const unsigned char want0[] = {0x00, 0xff, 0x10, 0x0a, 0x0d, 'A', 'B', 'C'};
	struct result r;
	GMimeMessage *m;
	GMimeObject *body, *alt, *a;
	size_t n;
	char *p;

	run(req, &r);
	assert_int_equal(r.rc, 0);
	check_wire(&r.out, 0);
	m = parse(&r.out);
	body = g_mime_message_get_mime_part(m);
	assert_type(body, "multipart", "mixed");
	assert_int_equal(g_mime_multipart_get_count(GMIME_MULTIPART(body)), 4);
	alt = g_mime_multipart_get_part(GMIME_MULTIPART(body), 0);
	assert_type(alt, "multipart", "alternative");
	assert_text_part(g_mime_multipart_get_part(GMIME_MULTIPART(alt), 0), "plain", "t");
	assert_text_part(g_mime_multipart_get_part(GMIME_MULTIPART(alt), 1), "html", "<b>h</b>");

	a = g_mime_multipart_get_part(GMIME_MULTIPART(body), 1);
	assert_type(a, "application", "pdf");
	assert_int_equal(g_mime_part_get_content_encoding(GMIME_PART(a)),
			 GMIME_CONTENT_ENCODING_BASE64);
	assert_string_equal(g_mime_object_get_disposition(a), "attachment");
	assert_string_equal(g_mime_part_get_filename(GMIME_PART(a)), "r.pdf");
	p = part_bytes(a, &n);
	assert_int_equal(n, sizeof(want0));
	assert_memory_equal(p, want0, n);
	free(p);

	a = g_mime_multipart_get_part(GMIME_MULTIPART(body), 2);
	assert_type(a, "application", "octet-stream");
	p = part_bytes(a, &n);
	assert_int_equal(n, 0);
	free(p);

	/* RFC 2231 filename, decoded back to the UTF-8 we sent */
	a = g_mime_multipart_get_part(GMIME_MULTIPART(body), 3);
	assert_type(a, "text", "plain");
	assert_string_equal(g_mime_part_get_filename(GMIME_PART(a)),
			    "re\xc3\xa7u \xe6\x97\xa5\xe6\x9c\xac.txt");
	p = part_bytes(a, &n);
	assert_int_equal(n, 5);
	assert_memory_equal(p, "hello", 5);
	free(p);
	g_object_unref(m);
	result_free(&r);
	json_decref(req);
}

static void
test_text_with_attachment(void **state)
{
	json_t *req = jq("{'from': 'app@example.com', 'to': ['a@example.net'], 'subject': 's',"
			 " 'text': 'see attached',"
			 " 'attachments': [{'filename': 'a.csv', 'content_type': 'text/csv',"
			 "                  'content': 'YSxiCjEsMgo='}]}");
	struct result r;
	GMimeMessage *m;
	GMimeObject *body;

	run(req, &r);
	assert_int_equal(r.rc, 0);
	check_wire(&r.out, 0);
	m = parse(&r.out);
	body = g_mime_message_get_mime_part(m);
	assert_type(body, "multipart", "mixed");
	assert_int_equal(g_mime_multipart_get_count(GMIME_MULTIPART(body)), 2);
	assert_text_part(g_mime_multipart_get_part(GMIME_MULTIPART(body), 0), "plain",
			 "see attached");
	assert_type(g_mime_multipart_get_part(GMIME_MULTIPART(body), 1), "text", "csv");
	g_object_unref(m);
	result_free(&r);
	json_decref(req);
}

static void
test_utf8_subject_and_names(void **state)
{
	/* "Квитанция №42 — 日本語 ok" and a display name with Latin-1 and CJK */
	static const char subj[] = "\xd0\x9a\xd0\xb2\xd0\xb8\xd1\x82\xd0\xb0\xd0\xbd"
				   "\xd1\x86\xd0\xb8\xd1\x8f \xe2\x84\x96"
				   "42 \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac"
				   "\xe8\xaa\x9e ok";
	static const char name[] = "Jos\xc3\xa9 \xe6\x97\xa5";
	json_t *req = jq(base_req);
	struct result r;
	GMimeMessage *m;
	InternetAddressList *from;
	const char *subject;

	json_object_set_new(req, "subject", json_string(subj));
	json_object_set_new(req, "from", json_sprintf("\"%s\" <app@example.com>", name));
	run(req, &r);
	assert_int_equal(r.rc, 0);
	check_wire(&r.out, 0); /* no raw 8-bit in the header section */
	assert_non_null(strstr(header(&r.out, "Subject"), "=?UTF-8?"));
	assert_non_null(strstr(header(&r.out, "From"), "=?"));
	assert_string_equal(r.env.subject, subj);
	m = parse(&r.out);
	subject = g_mime_message_get_subject(m);
	assert_string_equal(subject, subj);
	from = g_mime_message_get_from(m);
	assert_int_equal(internet_address_list_length(from), 1);
	assert_string_equal(internet_address_get_name(internet_address_list_get_address(from, 0)),
			    name);
	g_object_unref(m);
	result_free(&r);
	json_decref(req);
}

static void
test_line_ends_and_lengths(void **state)
{
	/* mixed line ends, a 3000-octet line, trailing blanks, 8-bit text,
	 * a long header value with and without spaces, many addresses */
	json_t *req = jq(base_req), *to = json_array(), *hdrs = json_object();
	struct result r;
	GMimeMessage *m;
	GMimeObject *body;
	char *longline = malloc(3001), *longval = malloc(999), *t;

	memset(longline, 'x', 3000);
	longline[3000] = '\0';
	memset(longval, 'v', 998);
	longval[998] = '\0';
	for (int i = 0; i < 40; i++)
		json_array_append_new(to, json_sprintf("Recipient Number %d <rcpt%d@example.net>",
						       i, i));
	json_object_set_new(req, "to", to);
	json_object_set_new(req, "text", json_sprintf("a\r\nb\rc\nd  \n%s\nend\r\n", longline));
	json_object_set_new(req, "html",
			    json_string("\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\n"
					"\xd0\xbc\xd0\xb8\xd1\x80\r\n"));
	json_object_set_new(hdrs, "X-Long-Word", json_string(longval));
	memset(longval, 'w', 998);
	for (int i = 5; i < 998; i += 6)
		longval[i] = ' ';
	json_object_set_new(hdrs, "X-Long-Words", json_string(longval));
	json_object_set_new(req, "headers", hdrs);
	json_object_set_new(req, "subject", json_string(longval));
	run(req, &r);
	assert_int_equal(r.rc, 0);
	check_wire(&r.out, 0);
	/* folded at its own blanks only: unfolding gives the value back */
	assert_string_equal(header(&r.out, "X-Long-Words"), longval);
	assert_string_equal(header(&r.out, "Subject"), longval);
	m = parse(&r.out);
	body = g_mime_message_get_mime_part(m);
	t = part_text(g_mime_multipart_get_part(GMIME_MULTIPART(body), 0));
	assert_int_equal(strncmp(t, "a\nb\nc\nd  \nxxx", 13), 0);
	assert_int_equal(strlen(t), 10 + 3000 + 4);
	free(t);
	/* the base64 html decodes to canonical CRLF text (RFC 2046 4.1.1) */
	{
		size_t n;
		char *p = part_bytes(g_mime_multipart_get_part(GMIME_MULTIPART(body), 1), &n);

		assert_non_null(strstr(p, "\r\n\xd0\xbc"));
		free(p);
	}
	g_object_unref(m);
	free(longline);
	free(longval);
	result_free(&r);
	json_decref(req);
}

static void
test_bcc_hidden(void **state)
{
	json_t *req = jq("{'from': 'app@example.com', 'to': ['a@example.net'],"
			 " 'bcc': ['Secret Person <secret@example.org>'],"
			 " 'subject': 's', 'text': 't'}");
	struct result r;

	run(req, &r);
	assert_int_equal(r.rc, 0);
	check_wire(&r.out, 0);
	assert_null(strstr(r.out.data, "secret"));
	assert_null(strstr(r.out.data, "Secret"));
	assert_int_equal(r.env.nrcpt, 2);
	assert_string_equal(r.env.rcpts[0], "a@example.net");
	assert_string_equal(r.env.rcpts[1], "secret@example.org");
	result_free(&r);
	json_decref(req);

	/* bcc only: an empty group in To, and still no Bcc */
	req = jq("{'from': 'app@example.com', 'bcc': ['b@example.org'], 'subject': 's',"
		 " 'text': 't'}");
	run(req, &r);
	assert_int_equal(r.rc, 0);
	check_wire(&r.out, 0);
	assert_non_null(strstr(header(&r.out, "To"), "undisclosed-recipients:"));
	assert_null(strstr(r.out.data, "b@example.org"));
	assert_int_equal(r.env.nrcpt, 1);
	assert_string_equal(r.env.rcpts[0], "b@example.org");
	result_free(&r);
	json_decref(req);
}

static void
test_dedupe(void **state)
{
	json_t *req = jq("{'from': 'app@example.com',"
			 " 'to': ['A@Example.com', 'b@example.com', 'Again <a@example.COM>'],"
			 " 'cc': ['a@example.com', 'c@example.com'],"
			 " 'bcc': ['B@EXAMPLE.COM', 'd@example.com', 'C@example.com'],"
			 " 'subject': 's', 'text': 't'}");
	static const char *const want[] = {"A@Example.com", "b@example.com", "c@example.com",
					   "d@example.com"};
	struct result r;

	run(req, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.env.nrcpt, PH_ARRAY_LEN(want));
	for (size_t i = 0; i < PH_ARRAY_LEN(want); i++)
		assert_string_equal(r.env.rcpts[i], want[i]);
	result_free(&r);
	json_decref(req);
}

/* The mailbox forms a client may send, and what reaches the envelope
 * and the To header. */
static void
test_address_forms(void **state)
{
	static const struct {
		const char *in, *addr, *hdr;
	} rows[] = {
		{"a@example.net", "a@example.net", "a@example.net"},
		{"<a@example.net>", "a@example.net", "a@example.net"},
		{"  Name  <a@example.net>  ", "a@example.net", "Name <a@example.net>"},
		{"Name < a@example.net >", "a@example.net", "Name <a@example.net>"},
		{"\"Doe, John\" <a@example.net>", "a@example.net", "\"Doe, John\" <a@example.net>"},
		{"\"\" <a@example.net>", "a@example.net", "a@example.net"},
		{"\"quoted local\"@example.net", "\"quoted local\"@example.net",
		 "\"quoted local\"@example.net"},
		{"x <y> <a@example.net>", "a@example.net", "\"x <y>\" <a@example.net>"},
		{"a@[192.0.2.1]", "a@[192.0.2.1]", "a@[192.0.2.1]"},
		{"b@xn--bcher-kva.example", "b@xn--bcher-kva.example", "b@xn--bcher-kva.example"},
	};

	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		json_t *req = jq(base_req);
		struct result r;

		json_object_set_new(req, "to", json_pack("[s]", rows[i].in));
		run(req, &r);
		if (r.rc != 0)
			fail_msg("row %zu (%s): %s", i, rows[i].in, r.err);
		check_wire(&r.out, 0);
		assert_int_equal(r.env.nrcpt, 1);
		assert_string_equal(r.env.rcpts[0], rows[i].addr);
		assert_string_equal(header(&r.out, "To"), rows[i].hdr);
		result_free(&r);
		json_decref(req);
	}
}

static void
test_smtputf8(void **state)
{
	static const struct {
		const char *json;
		int want;
	} rows[] = {
		{"{'from': 'app@example.com', 'to': ['a@example.net'], 'subject': 's',"
		 " 'text': 't'}",
		 0},
		{"{'from': 'app@example.com', 'to': ['\\u00fcser@example.net'], 'subject': 's',"
		 " 'text': 't'}",
		 1},
		{"{'from': 'app@b\\u00fccher.example', 'to': ['a@example.net'], 'subject': 's',"
		 " 'text': 't'}",
		 1},
		{"{'from': 'app@example.com', 'to': ['a@example.net'],"
		 " 'bcc': ['\\u00e9@x.example'],"
		 " 'subject': 's', 'text': 't'}",
		 1},
		/* a non-ASCII display name is RFC 2047 encoded: no SMTPUTF8 needed */
		{"{'from': 'J\\u00f6rg <app@example.com>', 'to': ['a@example.net'], 'subject': 's',"
		 " 'text': 't'}",
		 0},
	};

	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		json_t *req = jq(rows[i].json);
		struct result r;

		run(req, &r);
		if (r.rc != 0)
			fail_msg("row %zu: %s", i, r.err);
		if (r.env.needs_smtputf8 != rows[i].want)
			fail_msg("row %zu: needs_smtputf8=%d", i, r.env.needs_smtputf8);
		check_wire(&r.out, rows[i].want);
		result_free(&r);
		json_decref(req);
	}
}

static void
test_extra_headers(void **state)
{
	json_t *req = jq("{'from': 'app@example.com', 'to': ['a@example.net'], 'subject': 's',"
			 " 'text': 't', 'headers': {'X-Campaign': 'spring', 'X-Empty': '',"
			 " 'X-Utf8': 'caf\\u00e9', 'In-Reply-To': '<m1@example.com>',"
			 " 'References': '<m0@example.com> <m1@example.com>',"
			 " 'List-Unsubscribe': '<mailto:u@example.com>'}}");
	struct result r;
	GMimeMessage *m;

	run(req, &r);
	assert_int_equal(r.rc, 0);
	check_wire(&r.out, 0);
	assert_string_equal(header(&r.out, "X-Campaign"), "spring");
	assert_string_equal(header(&r.out, "X-Empty"), "");
	assert_string_equal(header(&r.out, "In-Reply-To"), "<m1@example.com>");
	assert_string_equal(header(&r.out, "References"), "<m0@example.com> <m1@example.com>");
	assert_string_equal(header(&r.out, "List-Unsubscribe"), "<mailto:u@example.com>");
	m = parse(&r.out);
	{
		char *d = g_mime_utils_header_decode_text(
			NULL, g_mime_object_get_header(GMIME_OBJECT(m), "X-Utf8"));

		assert_string_equal(d, "caf\xc3\xa9");
		g_free(d);
	}
	g_object_unref(m);
	result_free(&r);
	json_decref(req);
}

/* ASCII values go out as given: a long URL is not turned into RFC 2047
 * encoded-words (List-Unsubscribe is structured, RFC 2369 / RFC 8058),
 * and an ASCII subject that looks like an encoded-word stays literal. */
static void
test_ascii_headers_verbatim(void **state)
{
	static const char url[] =
		"<https://example.com/unsubscribe?token=abcdefghijklmnopqrstuvwxyz0123456789"
		"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz&u=42>, "
		"<mailto:unsub-abcdefghijklmnopqrstuvwxyz0123456789@example.com?subject=unsub>";
	static const char subj[] = "Order https://shop.example.com/orders/0123456789abcdefghij"
				   "klmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz"
				   " ready =?x?q?y?=";
	json_t *req = jq(base_req);
	struct result r;

	json_object_set_new(req, "subject", json_string(subj));
	json_object_set_new(req, "headers",
			    json_pack("{s:s,s:s}", "List-Unsubscribe", url, "List-Unsubscribe-Post",
				      "List-Unsubscribe=One-Click"));
	run(req, &r);
	assert_int_equal(r.rc, 0);
	check_wire(&r.out, 0);
	assert_null(strstr(r.out.data, "=?us-ascii"));
	assert_string_equal(header(&r.out, "List-Unsubscribe"), url);
	assert_string_equal(header(&r.out, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
	assert_string_equal(header(&r.out, "Subject"), subj);
	result_free(&r);
	json_decref(req);
}

static void
test_null_optional_fields(void **state)
{
	json_t *req = jq("{'from': 'app@example.com', 'to': ['a@example.net'], 'cc': null,"
			 " 'bcc': null, 'reply_to': null, 'html': null, 'headers': null,"
			 " 'attachments': null, 'subject': '', 'text': ''}");
	struct result r;

	run(req, &r);
	assert_int_equal(r.rc, 0);
	check_wire(&r.out, 0);
	result_free(&r);
	json_decref(req);
}

/* Each row: a patch merged over base_req (and a key removed), and a
 * string the error must contain (the field it names). */
static void
test_refusals(void **state)
{
	static const struct {
		const char *patch; /* JSON object, ' for " ; NULL for none */
		const char *del;   /* key removed after patching */
		const char *want;
	} rows[] = {
		/* shape */
		{"{'bogus': 1}", NULL, "unknown field 'bogus'"},
		{"{'Subject2': 'x'}", NULL, "unknown field 'Subject2'"},
		{"{'to': 'a@example.net'}", NULL, "to: must be an array of strings"},
		{"{'cc': {'a': 1}}", NULL, "cc: must be an array of strings"},
		{"{'to': [1]}", NULL, "to[0]: must be a string"},
		{"{'to': ['a@example.net', null]}", NULL, "to[1]: must be a string"},
		{"{'from': ['a@example.net']}", NULL, "from: must be a string"},
		{"{'subject': 5}", NULL, "subject: must be a string"},
		{"{'text': true}", NULL, "text: must be a string"},
		{"{'html': 1.5}", NULL, "html: must be a string"},
		{"{'reply_to': []}", NULL, "reply_to: must be a string"},
		{"{'headers': []}", NULL, "headers: must be an object"},
		{"{'headers': {'X-A': 1}}", NULL, "headers.X-A: must be a string"},
		{"{'attachments': {}}", NULL, "attachments: must be an array"},
		{"{'attachments': ['x']}", NULL, "attachments[0]: must be an object"},
		/* required */
		{NULL, "from", "from: required"},
		{"{'from': null}", NULL, "from: required"},
		{NULL, "subject", "subject: required"},
		{NULL, "text", "text or html required"},
		{"{'to': []}", NULL, "recipient"},
		{"{'to': [], 'cc': [], 'bcc': []}", NULL, "recipient"},
		/* header injection */
		{"{'subject': 'hi\\r\\nBcc: e@x.org'}", NULL, "subject: contains CR or LF"},
		{"{'subject': 'hi\\nX: y'}", NULL, "subject: contains CR or LF"},
		{"{'subject': 'hi\\rX: y'}", NULL, "subject: contains CR or LF"},
		{"{'subject': 'bell\\u0007'}", NULL, "subject: contains a control character"},
		{"{'headers': {'X-A': 'v\\r\\nBcc: e@x.org'}}", NULL, "headers.X-A: contains CR"},
		{"{'headers': {'X-A': 'v\\nBcc: e@x.org'}}", NULL, "headers.X-A: contains CR"},
		{"{'headers': {'X-A\\r\\nBcc': 'v'}}", NULL, "headers: invalid header name"},
		{"{'headers': {'X-A\\nBcc': 'v'}}", NULL, "headers: invalid header name"},
		{"{'headers': {'X A': 'v'}}", NULL, "headers: invalid header name"},
		{"{'headers': {'X-A:': 'v'}}", NULL, "headers: invalid header name"},
		{"{'headers': {'': 'v'}}", NULL, "headers: invalid header name"},
		{"{'headers': {'X-\\u00e9': 'v'}}", NULL, "headers: invalid header name"},
		{"{'to': ['Evil\\r\\nBcc: x@x.org <a@example.net>']}", NULL, "to[0]: contains CR"},
		{"{'to': ['Evil\\nBcc: x@x.org <a@example.net>']}", NULL, "to[0]: contains CR"},
		{"{'cc': ['ok@x.net', 'E\\rvil <a@example.net>']}", NULL, "cc[1]: contains CR"},
		{"{'from': 'App\\n <app@example.com>'}", NULL, "from: contains CR"},
		{"{'reply_to': 'R\\r\\n <r@example.com>'}", NULL, "reply_to: contains CR"},
		{"{'to': ['a@example.net\\r\\n']}", NULL, "to[0]: contains CR"},
		/* headers posthaste owns */
		{"{'headers': {'Bcc': 'x@example.org'}}", NULL, "headers.Bcc: this header is set"},
		{"{'headers': {'bcc': 'x@example.org'}}", NULL, "headers.bcc: this header is set"},
		{"{'headers': {'From': 'x@x.org'}}", NULL, "headers.From: this header is set"},
		{"{'headers': {'TO': 'x@example.org'}}", NULL, "headers.TO: this header is set"},
		{"{'headers': {'Cc': 'x@example.org'}}", NULL, "headers.Cc: this header is set"},
		{"{'headers': {'subject': 'x'}}", NULL, "headers.subject: this header is set"},
		{"{'headers': {'Date': 'x'}}", NULL, "headers.Date: this header is set"},
		{"{'headers': {'Message-Id': '<x@y>'}}", NULL, "headers.Message-Id: this header"},
		{"{'headers': {'MIME-Version': '1.0'}}", NULL, "headers.MIME-Version: this header"},
		{"{'headers': {'Content-Type': 'text/html'}}", NULL, "headers.Content-Type: this"},
		{"{'headers': {'content-transfer-encoding': '8bit'}}", NULL,
		 "headers.content-transfer-encoding: this"},
		{"{'headers': {'Content-X': 'y'}}", NULL, "headers.Content-X: this header is set"},
		{"{'headers': {'Received': 'x'}}", NULL, "headers.Received: this header is set"},
		{"{'headers': {'Return-Path': '<x@y>'}}", NULL, "headers.Return-Path: this header"},
		{"{'headers': {'DKIM-Signature': 'v=1'}}", NULL, "headers.DKIM-Signature: this"},
		{"{'headers': {'Reply-To': 'x@x.org'}}", NULL, "headers.Reply-To: not allowed"},
		{"{'headers': {'Sender': 'x@x.org'}}", NULL, "headers.Sender: this header is not"},
		{"{'headers': {'Resent-To': 'x@x.org'}}", NULL, "headers.Resent-To: this header"},
		{"{'headers': {'References': 'not an id'}}", NULL, "headers.References: must be"},
		{"{'headers': {'In-Reply-To': '<a@b>,<c@d>'}}", NULL,
		 "headers.In-Reply-To: must be"},
		/* addresses */
		{"{'to': ['not-an-address']}", NULL, "to[0]: not a valid address"},
		{"{'to': ['a@example.net', 'b@@example.net']}", NULL, "to[1]: not a valid address"},
		{"{'to': ['Name <a@example.net']}", NULL, "to[0]: not a valid address"},
		{"{'to': ['Name a@example.net>']}", NULL, "to[0]: not a valid address"},
		{"{'to': ['<>']}", NULL, "to[0]: not a valid address"},
		{"{'to': ['a b@example.net']}", NULL, "to[0]: not a valid address"},
		{"{'to': ['a@-example.net']}", NULL, "to[0]: not a valid address"},
		{"{'bcc': ['x@example.net', 'y']}", NULL, "bcc[1]: not a valid address"},
		/* an A-label GMime decodes but cannot encode again (fuzz find) */
		{"{'to': ['B <b@xn--xbccg>']}", NULL, "to[0]: not a valid address (bad IDN"},
		{"{'cc': ['b@xn--bcher-kva.xn--xbccg']}", NULL, "cc[0]: not a valid address"},
		{"{'from': 'App'}", NULL, "from: not a valid address"},
		{"{'from': ''}", NULL, "from: not a valid address"},
		{"{'reply_to': 'help'}", NULL, "reply_to: not a valid address"},
		/* attachments */
		{"{'attachments': [{'filename': 'a', 'content': 'abc'}]}", NULL,
		 "attachments[0].content: not valid base64"},
		{"{'attachments': [{'filename': 'a', 'content': 'YW=j'}]}", NULL,
		 "attachments[0].content: not valid base64"},
		{"{'attachments': [{'filename': 'a', 'content': 'YWJj\\nYWJj'}]}", NULL,
		 "attachments[0].content: not valid base64"},
		{"{'attachments': [{'filename': 'a', 'content': 'YWJj'},"
		 " {'filename': 'b', 'content': 'Y*Jj'}]}",
		 NULL, "attachments[1].content: not valid base64"},
		{"{'attachments': [{'content': 'YWJj'}]}", NULL,
		 "attachments[0].filename: required"},
		{"{'attachments': [{'filename': 'a'}]}", NULL, "attachments[0].content: required"},
		{"{'attachments': [{'filename': '', 'content': ''}]}", NULL,
		 "attachments[0].filename"},
		{"{'attachments': [{'filename': '../etc/passwd', 'content': ''}]}", NULL,
		 "attachments[0].filename"},
		{"{'attachments': [{'filename': 'a\\\\b', 'content': ''}]}", NULL,
		 "attachments[0].filename"},
		{"{'attachments': [{'filename': 'a\\r\\nX: y', 'content': ''}]}", NULL,
		 "attachments[0].filename: contains CR"},
		{"{'attachments': [{'filename': 'a\\tb', 'content': ''}]}", NULL,
		 "attachments[0].filename: contains a control character"},
		{"{'attachments': [{'filename': 'a', 'content': '', 'size': 1}]}", NULL,
		 "attachments[0]: unknown field 'size'"},
		{"{'attachments': [{'filename': 'a', 'content': '', 'content_type': 'pdf'}]}", NULL,
		 "attachments[0].content_type: must be type/subtype"},
		{"{'attachments': [{'filename': 'a', 'content': '',"
		 " 'content_type': 'text/plain; charset=utf-8'}]}",
		 NULL, "attachments[0].content_type: must be type/subtype"},
		{"{'attachments': [{'filename': 'a', 'content': '', 'content_type': 'a/b/c'}]}",
		 NULL,
		 "attachments[0].content_type: must be type/subtype"},
		{"{'attachments': [{'filename': 'a', 'content': '', 'content_type': '/pdf'}]}",
		 NULL,
		 "attachments[0].content_type: must be type/subtype"},
		{"{'attachments': [{'filename': 'a', 'content': '',"
		 " 'content_type': 'text/plain\\r\\nBcc: x@y'}]}",
		 NULL, "attachments[0].content_type: contains CR"},
		{"{'attachments': [{'filename': 'a', 'content': '',"
		 " 'content_type': 'multipart/mixed'}]}",
		 NULL, "attachments[0].content_type"},
		{"{'attachments': [{'filename': 'a', 'content': '', 'content_type': 5}]}", NULL,
		 "attachments[0].content_type: must be a string"},
	};

	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		json_t *req = jq(base_req);
		struct result r;

		if (rows[i].patch != NULL) {
			json_t *p = jq(rows[i].patch);

			json_object_update(req, p);
			json_decref(p);
		}
		if (rows[i].del != NULL)
			json_object_del(req, rows[i].del);
		run(req, &r);
		if (r.rc != -1)
			fail_msg("row %zu (%s): accepted", i, rows[i].patch);
		if (strstr(r.err, rows[i].want) == NULL)
			fail_msg("row %zu (%s): error \"%s\", want \"%s\"", i, rows[i].patch, r.err,
				 rows[i].want);
		/* nothing half-built is left for the caller */
		assert_int_equal(r.out.len, 0);
		assert_null(r.env.rcpts);
		assert_null(r.env.mail_from);
		assert_null(r.env.message_id);
		result_free(&r);
		json_decref(req);
	}
}

/* Requests that are not objects, and strings holding NUL. */
static void
test_refusals_raw(void **state)
{
	static const char *const not_objects[] = {"[]", "\"x\"", "1", "null"};
	static const char *const nul_fields[] = {"subject", "text", "html", "from"};
	struct result r;
	json_t *req;

	for (size_t i = 0; i < PH_ARRAY_LEN(not_objects); i++) {
		req = json_loads(not_objects[i], JSON_DECODE_ANY, NULL);
		assert_non_null(req);
		run(req, &r);
		assert_int_equal(r.rc, -1);
		assert_non_null(strstr(r.err, "must be a JSON object"));
		result_free(&r);
		json_decref(req);
	}
	for (size_t i = 0; i < PH_ARRAY_LEN(nul_fields); i++) {
		char want[64];

		req = jq(base_req);
		json_object_set_new(req, nul_fields[i], json_stringn("a\0@example.com", 14));
		run(req, &r);
		assert_int_equal(r.rc, -1);
		snprintf(want, sizeof(want), "%s: contains a NUL", nul_fields[i]);
		if (strstr(r.err, want) == NULL)
			fail_msg("%s: error \"%s\"", nul_fields[i], r.err);
		result_free(&r);
		json_decref(req);
	}
	/* NUL in a header value and in a recipient */
	req = jq(base_req);
	json_object_set_new(req, "headers", json_pack("{s:s%}", "X-A", "a\0b", (size_t)3));
	run(req, &r);
	assert_int_equal(r.rc, -1);
	assert_non_null(strstr(r.err, "headers.X-A: contains a NUL"));
	result_free(&r);
	json_decref(req);

	req = jq(base_req);
	json_object_set_new(req, "to", json_pack("[s, s%]", "ok@example.net", "a\0b@x", (size_t)5));
	run(req, &r);
	assert_int_equal(r.rc, -1);
	assert_non_null(strstr(r.err, "to[1]: contains a NUL"));
	result_free(&r);
	json_decref(req);
}

/* The named limits: one under or at passes, one over fails. */
static void
test_field_limits(void **state)
{
	char *s = malloc(HTTP_COMPOSE_HEADER_VALUE_MAX + 2);
	json_t *req, *h, *a;
	struct result r;

	/* subject: 998 passes, 999 fails */
	memset(s, 's', HTTP_COMPOSE_SUBJECT_MAX + 1);
	for (int pass = 0; pass < 2; pass++) {
		req = jq(base_req);
		json_object_set_new(req, "subject",
				    json_stringn(s, HTTP_COMPOSE_SUBJECT_MAX + (size_t)pass));
		run(req, &r);
		assert_int_equal(r.rc, pass ? -1 : 0);
		if (pass)
			assert_non_null(strstr(r.err, "subject: too long"));
		else
			check_wire(&r.out, 0);
		result_free(&r);
		json_decref(req);
	}
	/* a header value: 998 passes, 999 fails */
	memset(s, 'v', HTTP_COMPOSE_HEADER_VALUE_MAX + 1);
	for (int pass = 0; pass < 2; pass++) {
		size_t vlen = (size_t)HTTP_COMPOSE_HEADER_VALUE_MAX + (size_t)pass;

		req = jq(base_req);
		json_object_set_new(req, "headers", json_pack("{s:s%}", "X-V", s, vlen));
		run(req, &r);
		assert_int_equal(r.rc, pass ? -1 : 0);
		if (pass)
			assert_non_null(strstr(r.err, "headers.X-V: too long"));
		else
			check_wire(&r.out, 0);
		result_free(&r);
		json_decref(req);
	}
	/* HTTP_COMPOSE_HEADERS_MAX headers pass, one more fails */
	for (int pass = 0; pass < 2; pass++) {
		req = jq(base_req);
		h = json_object();
		for (int i = 0; i < HTTP_COMPOSE_HEADERS_MAX + pass; i++) {
			char name[32];

			snprintf(name, sizeof(name), "X-H%d", i);
			json_object_set_new(h, name, json_string("v"));
		}
		json_object_set_new(req, "headers", h);
		run(req, &r);
		assert_int_equal(r.rc, pass ? -1 : 0);
		if (pass)
			assert_non_null(strstr(r.err, "headers: too many"));
		result_free(&r);
		json_decref(req);
	}
	/* HTTP_COMPOSE_ATTACHMENTS_MAX attachments pass, one more fails */
	for (int pass = 0; pass < 2; pass++) {
		req = jq(base_req);
		a = json_array();
		for (int i = 0; i < HTTP_COMPOSE_ATTACHMENTS_MAX + pass; i++)
			json_array_append_new(a, json_pack("{s:s,s:s}", "filename", "f.txt",
							   "content", "eA=="));
		json_object_set_new(req, "attachments", a);
		run(req, &r);
		assert_int_equal(r.rc, pass ? -1 : 0);
		if (pass)
			assert_non_null(strstr(r.err, "attachments: too many"));
		else
			check_wire(&r.out, 0);
		result_free(&r);
		json_decref(req);
	}
	free(s);
}

/* max_recipients counts to + cc + bcc: N passes, N+1 fails. */
static void
test_recipient_limit(void **state)
{
	const size_t max = 5;

	for (size_t n = max - 1; n <= max + 1; n++) {
		json_t *req = jq(base_req), *to = json_array(), *bcc = json_array();
		struct result r;

		for (size_t i = 0; i < n; i++)
			json_array_append_new(i % 2 ? bcc : to,
					      json_sprintf("r%zu@example.net", i));
		json_object_set_new(req, "to", to);
		json_object_set_new(req, "bcc", bcc);
		run_lim(req, max, T_SIZE, &r);
		if (n <= max) {
			assert_int_equal(r.rc, 0);
			assert_int_equal(r.env.nrcpt, n);
		} else {
			assert_int_equal(r.rc, -1);
			assert_string_equal(r.err, "too many recipients: 6 (limit 5)");
		}
		result_free(&r);
		json_decref(req);
	}
}

/* The size cap: the message's own size passes, one byte less fails;
 * a body already over the cap is refused before anything is built. */
static void
test_size_limit(void **state)
{
	json_t *req = jq("{'from': 'app@example.com', 'to': ['a@example.net'], 'subject': 's',"
			 " 'text': 't', 'attachments': [{'filename': 'a.bin',"
			 " 'content': 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8='}]}");
	struct result r;
	char want[128];
	size_t size;

	run(req, &r);
	assert_int_equal(r.rc, 0);
	size = r.out.len;
	result_free(&r);

	run_lim(req, 10, size, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.out.len, size);
	result_free(&r);

	run_lim(req, 10, size - 1, &r);
	assert_int_equal(r.rc, -1);
	snprintf(want, sizeof(want), "message too large (%zu bytes, limit %zu)", size, size - 1);
	assert_string_equal(r.err, want);
	assert_int_equal(r.out.len, 0);
	result_free(&r);

	run_lim(req, 10, 40, &r);
	assert_int_equal(r.rc, -1);
	assert_non_null(strstr(r.err, "message too large (at least"));
	result_free(&r);
	json_decref(req);
}

/* The out buffer's own cap is respected too. */
static void
test_out_cap(void **state)
{
	json_t *req = jq(base_req);
	struct http_compose_limits lim = limits(10, T_SIZE);
	struct http_envelope env;
	struct buf out;
	char err[256];

	buf_init(&out, 100);
	assert_int_equal(http_compose(req, &lim, &out, &env, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "message too large"));
	assert_int_equal(out.len, 0);
	http_envelope_free(&env);
	http_envelope_free(&env); /* idempotent */
	buf_free(&out);
	json_decref(req);
}

/* The same request composes twice to messages of one length: only
 * the random boundaries differ, and they have a fixed length. */
static void
test_repeatable(void **state)
{
	json_t *req = jq("{'from': 'app@example.com', 'to': ['a@example.net'], 'subject': 's',"
			 " 'text': 't', 'html': 'h'}");
	struct result a, b;

	run(req, &a);
	run(req, &b);
	assert_int_equal(a.rc, 0);
	assert_int_equal(b.rc, 0);
	assert_int_equal(a.out.len, b.out.len);
	check_wire(&a.out, 0);
	result_free(&a);
	result_free(&b);
	json_decref(req);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_only),
		cmocka_unit_test(test_html_only),
		cmocka_unit_test(test_alternative),
		cmocka_unit_test(test_attachments),
		cmocka_unit_test(test_text_with_attachment),
		cmocka_unit_test(test_utf8_subject_and_names),
		cmocka_unit_test(test_line_ends_and_lengths),
		cmocka_unit_test(test_bcc_hidden),
		cmocka_unit_test(test_dedupe),
		cmocka_unit_test(test_address_forms),
		cmocka_unit_test(test_smtputf8),
		cmocka_unit_test(test_extra_headers),
		cmocka_unit_test(test_ascii_headers_verbatim),
		cmocka_unit_test(test_null_optional_fields),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_refusals_raw),
		cmocka_unit_test(test_field_limits),
		cmocka_unit_test(test_recipient_limit),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_out_cap),
		cmocka_unit_test(test_repeatable),
	};

	g_mime_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
