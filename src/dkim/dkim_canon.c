/*
 * NAME
 *	dkim_canon - DKIM "relaxed" canonicalisation of header fields and bodies
 * SYNOPSIS
 *	#include "dkim/dkim.h"
 *
 *	int dkim_canon_header_relaxed(const char *field, size_t len, struct buf *out);
 *	int dkim_canon_body_relaxed(const char *body, size_t len, struct buf *out);
 * DESCRIPTION
 *	Pure functions over bytes. Both append to out and return 0, or
 *	return -1 and leave out as it was (the cap was reached, or a field
 *	has no colon).
 *
 *	Header field (RFC 6376 3.4.2): the field as it appears in the
 *	message, name, colon, value and continuation lines, with or without
 *	its final CRLF. The name is lower-cased (ASCII only) and loses the
 *	white space before the colon; the value is unfolded (every CRLF is
 *	removed), each run of SP/HTAB becomes one SP, and white space after
 *	the colon and at the end of the value is deleted. The output is
 *	"name:value" CRLF; the signer strips that CRLF for the
 *	DKIM-Signature field itself (RFC 6376 3.7).
 *
 *	Body (RFC 6376 3.4.4): lines end at CRLF; white space at the end of
 *	each line is deleted, runs of SP/HTAB inside a line become one SP,
 *	and empty lines at the end of the body are dropped. A non-empty
 *	result ends with CRLF; an empty body (or one made only of empty
 *	lines) canonicalises to nothing at all: 3.4.4 adds a CRLF only to a
 *	non-empty body (unlike "simple", 3.4.3).
 *
 *	A last line without CRLF is treated as if the CRLF were there: SMTP
 *	adds it in transit (a DATA body always ends in CRLF), so that is
 *	what a verifier sees. (RFC 6376 3.4.4 read literally would keep one
 *	SP of trailing white space on such a line; dkimpy does. The two
 *	agree on every body that ends in CRLF.) With this rule the output
 *	is a fixed point: canonicalising it again changes nothing.
 *
 *	Bare CR and bare LF are ordinary bytes here, neither line ends nor
 *	white space: the message is expected in its wire form, CRLF only.
 */
#include <string.h>

#include "dkim/dkim.h"

/* RFC 5234 WSP. */
static int
canon_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* ASCII-only lower-casing, independent of the locale. */
static char
canon_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Undo a partial append: back to len, terminated. */
static int
canon_rollback(struct buf *out, size_t len)
{
	out->len = len;
	if (out->data)
		out->data[len] = '\0';
	return -1;
}

/* Relaxed canonical form of one header field (RFC 6376 3.4.2). */
int
dkim_canon_header_relaxed(const char *field, size_t len, struct buf *out)
{
	const char *colon = memchr(field, ':', len);
	size_t start = out->len, nlen, i;
	int wsp = 0, seen = 0;

	if (colon == NULL)
		return -1;
	nlen = (size_t)(colon - field);
	/* "Delete any WSP characters remaining before ... the colon". */
	while (nlen > 0 && canon_is_wsp(field[nlen - 1]))
		nlen--;
	for (i = 0; i < nlen; i++) {
		char c = canon_lower(field[i]);

		if (buf_append(out, &c, 1) < 0)
			return canon_rollback(out, start);
	}
	if (buf_append(out, ":", 1) < 0)
		return canon_rollback(out, start);
	for (i = (size_t)(colon - field) + 1; i < len; i++) {
		char c = field[i];

		/* Unfold: a CRLF inside the field (before its continuation
		 * line) or at its end is not part of the value. */
		if (c == '\r' && i + 1 < len && field[i + 1] == '\n') {
			i++;
			continue;
		}
		if (canon_is_wsp(c)) {
			wsp = 1;
			continue;
		}
		/* A run of WSP becomes one SP, except after the colon (it
		 * is deleted) and at the end (never emitted). */
		if (wsp && seen && buf_append(out, " ", 1) < 0)
			return canon_rollback(out, start);
		if (buf_append(out, &c, 1) < 0)
			return canon_rollback(out, start);
		wsp = 0;
		seen = 1;
	}
	if (buf_append(out, "\r\n", 2) < 0)
		return canon_rollback(out, start);
	return 0;
}

/* Append one body line (without its CRLF) in relaxed form; 1 when the
 * line is empty after canonicalisation, 0 when text was written, -1 at
 * the cap. Pending empty lines are written first, only when this line
 * has text: empty lines at the end of the body are dropped (3.4.4). */
static int
canon_body_line(const char *p, size_t n, size_t *pending, struct buf *out)
{
	size_t i = 0, run;

	/* Trailing WSP is ignored (3.4.4 "at the end of lines"). */
	while (n > 0 && canon_is_wsp(p[n - 1]))
		n--;
	if (n == 0)
		return 1;
	for (; *pending > 0; (*pending)--)
		if (buf_append(out, "\r\n", 2) < 0)
			return -1;
	while (i < n) {
		if (canon_is_wsp(p[i])) {
			/* A run inside the line: one SP. */
			while (i < n && canon_is_wsp(p[i]))
				i++;
			if (buf_append(out, " ", 1) < 0)
				return -1;
			continue;
		}
		for (run = i; run < n && !canon_is_wsp(p[run]); run++)
			;
		if (buf_append(out, p + i, run - i) < 0)
			return -1;
		i = run;
	}
	if (buf_append(out, "\r\n", 2) < 0)
		return -1;
	return 0;
}

/* Relaxed canonical form of a message body (RFC 6376 3.4.4). */
int
dkim_canon_body_relaxed(const char *body, size_t len, struct buf *out)
{
	size_t start = out->len, pos = 0, pending = 0;

	while (pos < len) {
		const char *crlf = memmem(body + pos, len - pos, "\r\n", 2);
		size_t end = crlf ? (size_t)(crlf - body) : len;
		int r = canon_body_line(body + pos, end - pos, &pending, out);

		if (r < 0)
			return canon_rollback(out, start);
		if (r == 1)
			pending++;
		/* The last line may lack its CRLF: handled as if present. */
		pos = crlf ? end + 2 : len;
	}
	/* Make sure out->data exists even for an empty result. */
	if (buf_append(out, "", 0) < 0)
		return canon_rollback(out, start);
	return 0;
}
