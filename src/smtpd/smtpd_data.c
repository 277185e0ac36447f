/*
 * NAME
 *	smtpd_data - the DATA state machine: end of data, dot-unstuffing,
 *	bare CR/LF, NUL, line length and size
 * DESCRIPTION
 *	The end of data is exactly CR LF "." CR LF (RFC 5321 4.1.1.4), with
 *	the CR LF before the dot being the one that ended the DATA command.
 *	Nothing else ends it: "\n.\n", "\n.\r\n", "\r.\r", "\r\n.\r",
 *	"\r\n.\n" and "\r\n.\r\r\n" are content, and since every one of them
 *	holds a bare CR or a bare LF, the message is refused with a 5xx
 *	(SMTP smuggling cannot split a message here or downstream).
 *
 *	A line starting with "." loses that dot (RFC 5321 4.5.2). A line is
 *	at most SMTPD_DATA_LINE_MAX octets before its CRLF, counted as
 *	transmitted. At most max_size octets are kept; past that, input is
 *	still consumed to the end of data so the session stays in step, and
 *	the reply is 552.
 */
#include <string.h>

#include "smtpd/smtpd.h"

enum {
	ST_SOL,    /* at the start of a line */
	ST_LINE,   /* inside a line */
	ST_CR,     /* inside a line, after CR */
	ST_DOT,    /* a line that started with "." */
	ST_DOT_CR, /* "." then CR at the start of a line */
};

void
smtpd_data_init(struct smtpd_data *d, uint64_t max_size)
{
	memset(d, 0, sizeof(*d));
	d->state = ST_SOL;
	d->max_size = max_size;
}

/* Keep bytes unless the size limit has been passed. */
static void
emit(struct smtpd_data *d, struct buf *out, const char *p, size_t n)
{
	if (d->flags & SMTPD_DATA_TOO_BIG)
		return;
	if (d->max_size - out->len < n || out->len > d->max_size ||
	    buf_append(out, p, n) < 0) {
		d->flags |= SMTPD_DATA_TOO_BIG;
		buf_reset(out); /* nothing of it will be used */
	}
}

static void
line_octets(struct smtpd_data *d, size_t n)
{
	d->line_len += n;
	if (d->line_len > SMTPD_DATA_LINE_MAX)
		d->flags |= SMTPD_DATA_LONG_LINE;
}

enum smtpd_data_result
smtpd_data_feed(struct smtpd_data *d, const char *in, size_t n, size_t *used, struct buf *out)
{
	size_t i = 0;

	while (i < n) {
		char c = in[i];

		switch (d->state) {
		case ST_SOL:
			if (c == '.') {
				line_octets(d, 1);
				d->state = ST_DOT;
				i++;
				continue;
			}
			d->state = ST_LINE;
			continue; /* the byte is handled as ordinary line content */
		case ST_DOT:
			if (c == '\r') {
				d->state = ST_DOT_CR;
				i++;
				continue;
			}
			d->state = ST_LINE; /* stuffed dot: dropped */
			continue;
		case ST_DOT_CR:
			if (c == '\n') {
				*used = i + 1;
				return SMTPD_DATA_END;
			}
			/* ".\r" then not LF: a bare CR inside a line of content */
			d->flags |= SMTPD_DATA_BARE_CR;
			emit(d, out, "\r", 1);
			d->state = ST_LINE;
			continue;
		case ST_CR:
			if (c == '\n') {
				emit(d, out, "\r\n", 2);
				d->line_len = 0;
				d->state = ST_SOL;
				i++;
				continue;
			}
			d->flags |= SMTPD_DATA_BARE_CR;
			emit(d, out, "\r", 1);
			line_octets(d, 1);
			d->state = ST_LINE;
			continue;
		case ST_LINE: {
			/* Fast path: copy the run up to the next CR, LF or NUL. */
			size_t j = i;

			while (j < n && in[j] != '\r' && in[j] != '\n' && in[j] != '\0')
				j++;
			if (j > i) {
				emit(d, out, in + i, j - i);
				line_octets(d, j - i);
				i = j;
				continue;
			}
			if (c == '\r') {
				d->state = ST_CR;
			} else if (c == '\n') {
				/* A bare LF never starts a new line here: only CRLF
				 * does, so "\n.\r\n" cannot end the data. */
				d->flags |= SMTPD_DATA_BARE_LF;
				emit(d, out, "\n", 1);
				line_octets(d, 1);
			} else {
				d->flags |= SMTPD_DATA_NUL;
				emit(d, out, "", 1);
				line_octets(d, 1);
			}
			i++;
			continue;
		}
		}
	}
	*used = n;
	return SMTPD_DATA_MORE;
}

const char *
smtpd_data_reply(unsigned flags)
{
	if (flags & SMTPD_DATA_TOO_BIG)
		return "552 5.3.4 Message size exceeds fixed maximum message size";
	if (flags & (SMTPD_DATA_BARE_LF | SMTPD_DATA_BARE_CR))
		return "550 5.6.0 Message contains a bare CR or LF; lines must end with CRLF "
		       "(RFC 5321 2.3.8)";
	if (flags & SMTPD_DATA_NUL)
		return "550 5.6.0 Message contains a NUL character";
	if (flags & SMTPD_DATA_LONG_LINE)
		return "550 5.6.0 Message has a line longer than 998 characters (RFC 5322 2.1.1)";
	return NULL;
}
