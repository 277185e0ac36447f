/*
 * NAME
 *	fuzz_dkim_canon - libFuzzer target for the DKIM relaxed canonicalisers
 * DESCRIPTION
 *	Input: byte 0 picks the output cap (0: large, else that many bytes
 *	times 4), the rest is both a body and a header field, in a buffer of
 *	exactly its size.
 *
 *	Body (RFC 6376 3.4.4), checked: empty or ending in CRLF; no SP/HTAB
 *	before a CRLF, no HTAB at all, no two SP in a row; no empty line at
 *	the end; at most 2 bytes longer than the input; and a fixed point:
 *	canonicalising the output again gives the same bytes.
 *
 *	Header (3.4.2), checked: 0 exactly when the input has a colon; the
 *	output ends in CRLF, its name has no upper-case ASCII letter and no
 *	trailing WSP, no HTAB or double SP, no SP right after the colon or
 *	before the final CRLF; and, when the output has no other CR or LF,
 *	canonicalising it again gives the same bytes.
 *
 *	Both: on failure (the cap), the buffer is as it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort unless the buffer holds exactly its prefix "XY". */
static void
fuzz_unchanged(const struct buf *b)
{
	if (b->len != 2 || memcmp(b->data, "XY", 3) != 0)
		abort();
}

/* Body invariants and the fixed point. */
static void
fuzz_body(const char *in, size_t n, size_t cap)
{
	struct buf b, again;
	const char *o;
	size_t ol;

	buf_init(&b, cap);
	if (buf_append(&b, "XY", 2) < 0)
		return;
	if (dkim_canon_body_relaxed(in, n, &b) < 0) {
		fuzz_unchanged(&b);
		buf_free(&b);
		return;
	}
	o = b.data + 2;
	ol = b.len - 2;
	if (ol > n + 2)
		abort();
	if (ol > 0 && (ol < 2 || o[ol - 2] != '\r' || o[ol - 1] != '\n'))
		abort();
	if (ol >= 3 && o[ol - 3] == '\n' && ol >= 4 && o[ol - 4] == '\r')
		abort(); /* an empty line at the end */
	if (ol == 2)
		abort(); /* a body of one empty line is empty */
	if (memchr(o, '\t', ol))
		abort();
	for (size_t i = 0; i + 1 < ol; i++) {
		if (o[i] == ' ' && o[i + 1] == ' ')
			abort();
		if (o[i] == ' ' && o[i + 1] == '\r' && i + 2 < ol && o[i + 2] == '\n')
			abort();
	}
	buf_init(&again, ol + 1);
	if (dkim_canon_body_relaxed(o, ol, &again) < 0)
		abort();
	if (again.len != ol || (ol && memcmp(again.data, o, ol) != 0))
		abort();
	buf_free(&again);
	buf_free(&b);
}

/* Header invariants, and the fixed point when it applies. */
static void
fuzz_header(const char *in, size_t n, size_t cap)
{
	struct buf b, again;
	const char *o, *colon;
	size_t ol, nl;
	int r;

	buf_init(&b, cap);
	if (buf_append(&b, "XY", 2) < 0)
		return;
	r = dkim_canon_header_relaxed(in, n, &b);
	if (r < 0) {
		fuzz_unchanged(&b);
		/* Only the cap or a missing colon may fail. */
		if (memchr(in, ':', n) && cap - 2 >= n + 2)
			abort();
		buf_free(&b);
		return;
	}
	if (memchr(in, ':', n) == NULL)
		abort();
	o = b.data + 2;
	ol = b.len - 2;
	if (ol < 3 || o[ol - 2] != '\r' || o[ol - 1] != '\n')
		abort();
	colon = memchr(o, ':', ol);
	if (colon == NULL)
		abort();
	nl = (size_t)(colon - o);
	for (size_t i = 0; i < nl; i++)
		if (o[i] >= 'A' && o[i] <= 'Z')
			abort();
	if (nl > 0 && (o[nl - 1] == ' ' || o[nl - 1] == '\t'))
		abort();
	if (nl + 1 < ol - 2 && o[nl + 1] == ' ')
		abort();
	if (ol >= 3 && o[ol - 3] == ' ')
		abort();
	for (size_t i = nl + 1; i + 2 < ol; i++)
		if (o[i] == '\t' || (o[i] == ' ' && o[i + 1] == ' '))
			abort();
	if (memchr(o, '\r', ol - 2) == NULL && memchr(o, '\n', ol - 2) == NULL) {
		buf_init(&again, ol + 1);
		if (dkim_canon_header_relaxed(o, ol, &again) < 0)
			abort();
		if (again.len != ol || memcmp(again.data, o, ol) != 0)
			abort();
		buf_free(&again);
	}
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n, cap;
	char *in;

	if (size < 1)
		return 0;
	cap = data[0] ? 2 + (size_t)data[0] * 4 : 2 + 2 * size + 16;
	n = size - 1;
	in = malloc(n ? n : 1);
	if (in == NULL)
		return 0;
	memcpy(in, data + 1, n);
	fuzz_body(in, n, cap);
	fuzz_header(in, n, cap);
	free(in);
	return 0;
}
