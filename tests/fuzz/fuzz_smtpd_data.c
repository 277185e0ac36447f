/*
 * NAME
 *	fuzz_smtpd_data - libFuzzer target for the DATA state machine
 * DESCRIPTION
 *	Input: byte 0 picks where the stream is cut in two, byte 1 picks
 *	the size limit, the rest is the stream that follows "354".
 *
 *	Checked on every input (abort on a violation):
 *	- the outcome does not depend on the cut (end, bytes used, flags,
 *	  content);
 *	- the data ends exactly at the first CR LF "." CR LF (or at ".\r\n"
 *	  at the very start), never elsewhere and never past it;
 *	- no more than max_size octets are kept, none once TOO_BIG is set;
 *	- content without the BARE_CR/BARE_LF/NUL/LONG_LINE flags has only
 *	  CRLF line ends, no NUL and lines of at most 998 octets, and equals
 *	  a simple reference unstuffing of the consumed lines.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	int end;
	size_t used;
	unsigned flags;
	struct buf out;
};

static void
run(const char *in, size_t n, uint64_t max_size, size_t cut, struct outcome *o)
{
	struct smtpd_data d;
	size_t pos = 0, used;

	smtpd_data_init(&d, max_size);
	buf_init(&o->out, (size_t)1 << 22);
	o->end = 0;
	for (int piece = 0; piece < 2 && !o->end; piece++) {
		size_t stop = piece == 0 ? cut : n;
		enum smtpd_data_result r = smtpd_data_feed(&d, in + pos, stop - pos, &used, &o->out);

		if (r == SMTPD_DATA_MORE && used != stop - pos)
			abort();
		if (r == SMTPD_DATA_END) {
			if (used == 0 || used > stop - pos)
				abort();
			o->end = 1;
		}
		pos += used;
	}
	o->used = pos;
	o->flags = d.flags;
}

/* Where the data must end: just after the first ".\r\n" at the start or
 * "\r\n.\r\n" anywhere; 0 when the stream holds neither. */
static size_t
expected_end(const char *in, size_t n)
{
	if (n >= 3 && memcmp(in, ".\r\n", 3) == 0)
		return 3;
	for (size_t i = 0; i + 5 <= n; i++)
		if (memcmp(in + i, "\r\n.\r\n", 5) == 0)
			return i + 5;
	return 0;
}

/* Reference unstuffing of CRLF-terminated lines (RFC 5321 4.5.2). */
static int
reference_matches(const char *in, size_t n, const struct buf *out)
{
	size_t i = 0, o = 0;

	while (i < n) {
		const char *eol = memmem(in + i, n - i, "\r\n", 2);
		size_t ll;

		if (eol == NULL)
			return 0;
		ll = (size_t)(eol - (in + i)) + 2;
		if (in[i] == '.') {
			i++;
			ll--;
		}
		if (out->len - o < ll || memcmp(out->data + o, in + i, ll) != 0)
			return 0;
		o += ll;
		i += ll;
	}
	return o == out->len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome a, b;
	const char *in;
	size_t n, cut, want_end;
	uint64_t max_size;
	const unsigned bad = SMTPD_DATA_BARE_CR | SMTPD_DATA_BARE_LF | SMTPD_DATA_NUL |
			     SMTPD_DATA_LONG_LINE | SMTPD_DATA_TOO_BIG;

	if (size < 2)
		return 0;
	in = (const char *)data + 2;
	n = size - 2;
	cut = n * data[0] / 255;
	max_size = data[1] < 128 ? (uint64_t)1 << 20 : (uint64_t)(data[1] - 128) * 8;

	run(in, n, max_size, n, &a);
	run(in, n, max_size, cut, &b);
	if (a.end != b.end || a.used != b.used || a.flags != b.flags || a.out.len != b.out.len ||
	    (a.out.len && memcmp(a.out.data, b.out.data, a.out.len) != 0))
		abort();

	want_end = expected_end(in, n);
	if (a.end != (want_end != 0) || (a.end && a.used != want_end) || (!a.end && a.used != n))
		abort();

	if (a.out.len > max_size)
		abort();
	if ((a.flags & SMTPD_DATA_TOO_BIG) && a.out.len != 0)
		abort();
	if ((smtpd_data_reply(a.flags) == NULL) != ((a.flags & bad) == 0))
		abort();
	if (!(a.flags & bad)) {
		size_t line = 0;

		for (size_t i = 0; i < a.out.len; i++) {
			char c = a.out.data[i];

			if (c == '\0')
				abort();
			if (c == '\r' && (i + 1 >= a.out.len || a.out.data[i + 1] != '\n'))
				abort();
			if (c == '\n' && (i == 0 || a.out.data[i - 1] != '\r'))
				abort();
			if (c == '\r' || c == '\n') {
				line = 0;
				continue;
			}
			if (++line > SMTPD_DATA_LINE_MAX)
				abort();
		}
		if (a.end && !reference_matches(in, a.used - 3, &a.out))
			abort();
	}
	buf_free(&a.out);
	buf_free(&b.out);
	return 0;
}
