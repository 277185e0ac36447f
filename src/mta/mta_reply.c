/*
 * NAME
 *	mta_reply - incremental, bounded parser for SMTP replies
 * SYNOPSIS
 *	#include "mta/mta_pure.h"
 *
 *	mta_reply_parser_init(&p);
 *	st = mta_reply_feed(&p, bytes, n, &used);
 * DESCRIPTION
 *	Bytes from a remote server are fed as they arrive; the parser
 *	returns MTA_REPLY_MORE until one whole reply has been read, then
 *	MTA_REPLY_DONE with p->r filled in and *used telling where the
 *	reply ended (pipelined replies may follow in the same read). The
 *	next feed after DONE starts a new reply.
 *
 *	Grammar (RFC 5321 4.2): zero or more "NNN-text" lines, then one
 *	"NNN text" or bare "NNN" line, each ending in CRLF. Every line
 *	carries the same code (4.2.1), 200-599 only. A bare LF is accepted
 *	as a line end because real servers send it; a CR just before the
 *	LF is dropped, any other CR is an ordinary control byte.
 *
 *	The enhanced status code (RFC 3463 2, RFC 2034 4) is taken from the
 *	first line when it is there: class.subject.detail with the class
 *	equal to the reply code's first digit, subject and detail 1-3
 *	digits, followed by a space or the end of the line. It goes to
 *	r.enhanced and is stripped, with the one space after it, from every
 *	line it leads (servers repeat it on each line); the rest of each
 *	line is kept verbatim, lines joined by "\n". Control bytes other
 *	than tab (NUL, CR, ESC, DEL...) become '?' in the kept text, so the
 *	text is a C string that is safe to log and to show.
 * LIMITS
 *	MTA_REPLY_LINE_MAX bytes per line without its CRLF and
 *	MTA_REPLY_LINES_MAX lines per reply: past either the reply is
 *	INVALID (a hostile server cannot make us buffer without bound).
 *	MTA_REPLY_TEXT_MAX - 1 bytes of text are kept; the rest is dropped
 *	silently (never splitting a UTF-8 sequence) while parsing goes on,
 *	so the parser stays in step with the server.
 *
 *	INVALID is sticky (p->overflow is set for any violation, not only
 *	an over-long line): after it the stream cannot be trusted to be in
 *	step any more, and the caller must end the session (OpenSMTPD
 *	CVE-2020-8794 came from reading on).
 */
#include <string.h>

#include "mta/mta_pure.h"

/* Prepare p for the first reply of a session. */
void
mta_reply_parser_init(struct mta_reply_parser *p)
{
	memset(p, 0, sizeof(*p));
}

/* Forget the previous reply; the line buffer is left alone. */
static void
reply_reset(struct mta_reply *r)
{
	r->code = 0;
	r->enhanced[0] = '\0';
	r->text[0] = '\0';
	r->text_len = 0;
	r->nlines = 0;
}

/*
 * True when the last line taken ended a reply. The line buffer still
 * holds that line (NUL-terminated) until the next byte arrives, and a
 * last line is one without '-' after its code, so this is derived
 * rather than stored.
 */
static int
reply_complete(const struct mta_reply_parser *p)
{
	return p->r.nlines > 0 && p->line_len == 0 && p->line[3] != '-';
}

/*
 * Length of the enhanced status code of class cls at the start of
 * s[0..n), or 0 when there is none (RFC 3463 2: class "." subject "."
 * detail; subject and detail 1*3digit). It must be followed by a space
 * or the end of the text (RFC 2034 4).
 */
static size_t
enhanced_len(const char *s, size_t n, char cls)
{
	size_t i = 0;

	if (n < 5 || s[0] != cls || s[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t start = i;

		while (i < n && i - start < 3 && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return 0;
		if (part == 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && s[i] != ' ')
		return 0;
	return i;
}

/* Append one byte of kept text; past the limit it is dropped. */
static void
text_put(struct mta_reply *r, char c)
{
	if (r->text_len >= MTA_REPLY_TEXT_MAX - 1)
		return;
	r->text[r->text_len++] = c;
	r->text[r->text_len] = '\0';
}

/*
 * When the kept text was cut at the limit, drop a UTF-8 sequence the
 * cut left incomplete, so that the text stays valid where the reply
 * was (JSON events, DSNs and dashboards get it next).
 */
static void
text_trim_partial_utf8(struct mta_reply *r)
{
	size_t i = r->text_len, cont = 0, need;
	unsigned char lead;

	if (r->text_len < MTA_REPLY_TEXT_MAX - 1)
		return;
	while (i > 0 && cont < 3 && ((unsigned char)r->text[i - 1] & 0xc0) == 0x80) {
		i--;
		cont++;
	}
	if (i == 0)
		return;
	lead = (unsigned char)r->text[i - 1];
	if (lead >= 0xf0)
		need = 3;
	else if (lead >= 0xe0)
		need = 2;
	else if (lead >= 0xc0)
		need = 1;
	else
		return;
	if (cont < need) {
		r->text_len = i - 1;
		r->text[r->text_len] = '\0';
	}
}

/*
 * Take one complete line (CRLF already removed) into p->r. Returns
 * MORE after a continuation line, DONE after the last line, INVALID on
 * a grammar or limit violation.
 */
static enum mta_reply_status
reply_line(struct mta_reply_parser *p, const char *s, size_t n)
{
	struct mta_reply *r = &p->r;
	int code, last;
	size_t skip;

	/* RFC 5321 4.2: Reply-code [ SP / "-" textstring ]; 4.2.1 first
	 * digit 2-5 (1yz is not used by SMTP). */
	if (n < 3 || s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '9' || s[2] < '0' ||
	    s[2] > '9')
		return MTA_REPLY_INVALID;
	if (n > 3 && s[3] != ' ' && s[3] != '-')
		return MTA_REPLY_INVALID;
	code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	last = n == 3 || s[3] == ' ';
	if (r->nlines > 0 && code != r->code)
		return MTA_REPLY_INVALID; /* 4.2.1: all lines the same code */
	if (r->nlines >= MTA_REPLY_LINES_MAX)
		return MTA_REPLY_INVALID;

	s += n > 3 ? 4 : 3;
	n -= n > 3 ? 4 : 3;
	if (r->nlines == 0) {
		r->code = code;
		skip = enhanced_len(s, n, (char)('0' + code / 100));
		if (skip > 0) {
			memcpy(r->enhanced, s, skip);
			r->enhanced[skip] = '\0';
		}
	} else {
		text_put(r, '\n');
	}
	/* Strip the enhanced code and the space after it wherever it
	 * leads a line; a different code on a later line is kept. */
	skip = strlen(r->enhanced);
	if (skip > 0 && n >= skip && memcmp(s, r->enhanced, skip) == 0 &&
	    (n == skip || s[skip] == ' ')) {
		if (n > skip)
			skip++;
		s += skip;
		n -= skip;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		text_put(r, (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c);
	}
	r->nlines++;
	if (!last)
		return MTA_REPLY_MORE;
	text_trim_partial_utf8(r);
	return MTA_REPLY_DONE;
}

/* Consume bytes until a reply is complete, invalid, or in runs out. */
enum mta_reply_status
mta_reply_feed(struct mta_reply_parser *p, const char *in, size_t n, size_t *used)
{
	size_t i;

	*used = 0;
	if (p->overflow)
		return MTA_REPLY_INVALID; /* sticky: see DESCRIPTION */
	if (reply_complete(p))
		reply_reset(&p->r);
	for (i = 0; i < n; i++) {
		char c = in[i];
		enum mta_reply_status st;
		size_t len;

		if (c != '\n') {
			/* Room for MTA_REPLY_LINE_MAX bytes and a CR that
			 * may still turn out to be part of the CRLF. */
			if (p->line_len > MTA_REPLY_LINE_MAX) {
				p->overflow = 1;
				*used = i + 1;
				return MTA_REPLY_INVALID;
			}
			p->line[p->line_len++] = c;
			continue;
		}
		len = p->line_len;
		if (len > 0 && p->line[len - 1] == '\r')
			len--;
		p->line[len] = '\0';
		p->line_len = 0;
		st = len > MTA_REPLY_LINE_MAX ? MTA_REPLY_INVALID : reply_line(p, p->line, len);
		if (st == MTA_REPLY_MORE)
			continue;
		*used = i + 1;
		if (st == MTA_REPLY_INVALID)
			p->overflow = 1;
		return st;
	}
	*used = n;
	return MTA_REPLY_MORE;
}
