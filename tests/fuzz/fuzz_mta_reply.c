/*
 * NAME
 *	fuzz_mta_reply - libFuzzer target for the SMTP reply parser and
 *	what reads its output
 * DESCRIPTION
 *	Input: byte 0 sets the chunk size (1-256) the rest is fed in, as a
 *	network would split it; the rest is what a remote server sends.
 *	Every reply parsed is also given to mta_remote_queue_id() and
 *	mta_classify(), which see remote text next in the daemon.
 *
 *	Checked: *used never passes what was offered, and MORE takes it
 *	all; a DONE reply has a code of 200-599, 1..MTA_REPLY_LINES_MAX
 *	lines, text_len == strlen(text) < MTA_REPLY_TEXT_MAX, no control
 *	byte but tab and the "\n" between lines, and an enhanced code that
 *	is empty or "c.s.d" of the reply's class; INVALID stays INVALID;
 *	a queue id found is short and of id bytes only; the category is in
 *	range and hard only for 5xx.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mta/mta_pure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort unless the parsed reply keeps every promise of mta_pure.h. */
static void
check_reply(const struct mta_reply *r)
{
	size_t el = strlen(r->enhanced);
	unsigned lf = 0;

	if (r->code < 200 || r->code > 599 || r->nlines < 1 || r->nlines > MTA_REPLY_LINES_MAX)
		abort();
	if (r->text_len >= MTA_REPLY_TEXT_MAX || strlen(r->text) != r->text_len)
		abort();
	for (size_t i = 0; i < r->text_len; i++) {
		unsigned char c = (unsigned char)r->text[i];

		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
			abort();
		lf += c == '\n';
	}
	if (lf >= r->nlines)
		abort();
	if (el > 0 && (el < 5 || el > 9 || r->enhanced[0] != '0' + r->code / 100 ||
		       r->enhanced[1] != '.' || strspn(r->enhanced, "0123456789.") != el))
		abort();
}

/* Abort unless the id and the classification are sane. */
static void
check_readers(const struct mta_reply *r)
{
	struct mta_classification c;
	char id[MTA_QUEUE_ID_MAX];

	if (mta_remote_queue_id(r->text, id, sizeof(id))) {
		size_t n = strlen(id);

		if (n == 0 || n >= MTA_QUEUE_ID_MAX ||
		    strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			       "._-=@<>+/:") != n)
			abort();
	} else if (id[0] != '\0') {
		abort();
	}
	mta_classify(r->code, r->enhanced, r->text, &c);
	if ((unsigned)c.category > MTA_CAT_OTHER || (c.hard && r->code / 100 != 5))
		abort();
	if (mta_bounce_category_str(c.category)[0] == '?')
		abort();
}

/* One input: feed it in chunks and check each reply (see DESCRIPTION). */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mta_reply_parser p;
	size_t chunk, off = 1;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] + 1;
	mta_reply_parser_init(&p);
	while (off < size) {
		size_t k = size - off < chunk ? size - off : chunk, used = 0;
		/* A copy of exactly k bytes, so ASan sees any read past it. */
		char *buf = malloc(k);
		enum mta_reply_status st;

		if (buf == NULL)
			return 0;
		memcpy(buf, data + off, k);
		st = mta_reply_feed(&p, buf, k, &used);
		free(buf);
		if (used > k || (st == MTA_REPLY_MORE && used != k))
			abort();
		off += used;
		if (st == MTA_REPLY_INVALID) {
			if (mta_reply_feed(&p, "250 OK\r\n", 8, &used) != MTA_REPLY_INVALID ||
			    used != 0)
				abort();
			break;
		}
		if (st == MTA_REPLY_DONE) {
			check_reply(&p.r);
			check_readers(&p.r);
		}
	}
	return 0;
}
