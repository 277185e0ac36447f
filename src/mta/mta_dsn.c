/*
 * NAME
 *	mta_dsn - build a delivery status notification (a bounce)
 * SYNOPSIS
 *	#include "mta/mta_pure.h"
 *
 *	if (mta_dsn_build(&dsn, &out) < 0) ...
 * DESCRIPTION
 *	Writes one whole message for the original envelope sender: an RFC
 *	6522 multipart/report with report-type=delivery-status, made of
 *
 *	1. text/plain: what happened, for a person, with each recipient and
 *	   the receiving server's reply;
 *	2. message/delivery-status (RFC 3464 2.2, 2.3): Reporting-MTA,
 *	   X-Posthaste-Queue-ID and Arrival-Date, then per recipient
 *	   Final-Recipient, Action, Status, Remote-MTA, Diagnostic-Code and
 *	   Last-Attempt-Date;
 *	3. text/rfc822-headers: the original message's header section
 *	   (left out when the caller has none).
 *
 *	The Subject says "Undelivered Mail Returned to Sender", or
 *	"Delayed Mail (still being retried)" when every recipient's action
 *	is "delayed". The message carries Auto-Submitted: auto-replied (RFC
 *	3834 5) so that auto-responders leave it alone, and In-Reply-To and
 *	References to the original Message-ID so that mail readers thread
 *	it with what was sent. Message-ID is <public_id.dsn.RANDOM@host>;
 *	the MIME boundary is random too (rand_token), so neither a remote
 *	server's reply nor the original headers can forge a part.
 * LIMITS
 *	Output is 7-bit with CRLF line ends and no line longer than
 *	DSN_LINE_MAX octets (RFC 5322 2.1.1): header fields are folded at
 *	white space near DSN_FOLD columns and a word too long for one line
 *	is split with CRLF SP; body text is wrapped the same way. Untrusted
 *	text (recipients, replies, subjects, original headers) has control
 *	bytes and, outside the one case below, non-ASCII bytes replaced by
 *	'?'; CR and LF inside a value become spaces, so nothing a remote
 *	server says can start a header or a part.
 *
 *	A recipient address with non-ASCII bytes that are valid UTF-8 is
 *	written "Final-Recipient: utf-8; ..." in the utf-8-addr-xtext form
 *	of RFC 6533 3 (each non-ASCII code point, and SP, "+", "=" and
 *	"\", as \x{HEX}), which is the form message/delivery-status takes.
 *	message/global-delivery-status (RFC 6533 6) and UTF-8 header fields
 *	are not produced: a DSN for an SMTPUTF8 message is a 7-bit DSN with
 *	'?' in the human-readable text and in To:.
 *
 *	Returns -1, leaving out as it was, when out's cap is too small or
 *	when d lacks what a DSN cannot do without (a recipient, a To, a
 *	reporting host).
 */
#include <ctype.h>
#include <string.h>

#include "mta/mta_pure.h"

#define DSN_LINE_MAX 998 /* RFC 5322 2.1.1 */
#define DSN_FOLD 78      /* RFC 5322 2.1.1 "SHOULD" */
#define DSN_BOUNDARY_RANDOM 24
#define DSN_MSGID_RANDOM 16
/* Where w_wrapped() splits a word that is too long: low enough that
 * our own text after it (">", " replied:", ...) stays within
 * DSN_LINE_MAX. */
#define DSN_WORD_SPLIT (DSN_LINE_MAX - DSN_FOLD)
#define DSN_SPACE_RUN_MAX 16 /* longer runs of white space are cut */
#define DSN_BODY_INDENT "    "

/* A writer with a sticky error: check once at the end. */
struct dsn_w {
	struct buf *b;
	int err;
	size_t col; /* bytes on the current line so far */
};

/* Append raw bytes that contain no line end. */
static void
w_put(struct dsn_w *w, const char *s, size_t n)
{
	if (w->err == 0 && buf_append(w->b, s, n) < 0)
		w->err = -1;
	w->col += n;
}

/* Append a string of our own that contains no line end. */
static void
w_puts(struct dsn_w *w, const char *s)
{
	w_put(w, s, strlen(s));
}

/* End the line. */
static void
w_crlf(struct dsn_w *w)
{
	w_put(w, "\r\n", 2);
	w->col = 0;
}

/* A whole line of our own text. */
static void
w_line(struct dsn_w *w, const char *s)
{
	w_puts(w, s);
	w_crlf(w);
}

/* Whether c is printable ASCII or SP. */
static int
dsn_printable(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
}

/*
 * Copy untrusted text into a fresh 7-bit string: tab, CR and LF become
 * SP (a reply's lines are joined), other control and non-ASCII bytes
 * '?'; leading and trailing SP dropped, runs of SP cut to
 * DSN_SPACE_RUN_MAX (so no folded line is all white space). The
 * caller frees it.
 */
static char *
dsn_clean(const char *s, size_t n)
{
	char *o = xmalloc(n + 1);
	size_t i = 0, k = 0, run = 0;

	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		run = c == ' ' ? run + 1 : 0;
		if (run > DSN_SPACE_RUN_MAX)
			continue;
		o[k++] = dsn_printable(c) ? (char)c : '?';
	}
	while (k > 0 && o[k - 1] == ' ')
		k--;
	o[k] = '\0';
	return o;
}

/*
 * Write clean text s (no control bytes) from the current column,
 * breaking lines before a run of spaces once a line passes DSN_FOLD.
 * With indent NULL this is header folding (RFC 5322 2.2.3): the spaces
 * stay and begin the next line, so unfolding restores the value. With
 * an indent it is body wrapping: the spaces give way to the indent. A
 * word that would pass DSN_WORD_SPLIT is split there.
 */
static void
w_wrapped(struct dsn_w *w, const char *s, const char *indent)
{
	const char *cont = indent ? indent : " ";
	size_t i = 0, n = strlen(s);

	while (i < n) {
		size_t j = i, k;

		while (j < n && s[j] == ' ')
			j++;
		for (k = j; k < n && s[k] != ' '; k++)
			;
		if (j > i && w->col + (k - i) > DSN_FOLD) {
			w_crlf(w);
			if (indent) {
				w_puts(w, indent);
				i = j;
			}
		}
		while (i < k) {
			size_t room = w->col < DSN_WORD_SPLIT ? DSN_WORD_SPLIT - w->col : 0;
			size_t take = k - i;

			if (room == 0) {
				w_crlf(w);
				w_puts(w, cont);
				room = DSN_WORD_SPLIT - w->col;
			}
			if (take > room)
				take = room;
			w_put(w, s + i, take);
			i += take;
		}
	}
}

/* "Name: prefix value suffix" with value untrusted, folded; nothing
 * when the value is empty. */
static void
w_field_x(struct dsn_w *w, const char *name, const char *prefix, const char *value,
	  const char *suffix)
{
	char *v;

	if (value == NULL)
		return;
	v = dsn_clean(value, strlen(value));
	if (v[0] != '\0') {
		w_puts(w, name);
		w_puts(w, ": ");
		w_puts(w, prefix);
		w_wrapped(w, v, NULL);
		w_puts(w, suffix);
		w_crlf(w);
	}
	free(v);
}

/* "Name: prefix value" (see w_field_x). */
static void
w_field(struct dsn_w *w, const char *name, const char *prefix, const char *value)
{
	w_field_x(w, name, prefix, value, "");
}

/* "Name: date" in RFC 5322 form; nothing when the time is unknown. */
static void
w_date(struct dsn_w *w, const char *name, int64_t ms)
{
	char date[TIME_RFC5322_LEN];

	if (ms <= 0)
		return;
	time_rfc5322(ms, date);
	w_puts(w, name);
	w_puts(w, ": ");
	w_line(w, date);
}

/*
 * Decode one UTF-8 sequence at s[0..n) strictly (RFC 3629 4: no
 * overlong forms, no surrogates, nothing past U+10FFFF). Returns its
 * length and sets *cp, or 0 when the bytes are not valid UTF-8.
 */
static size_t
dsn_utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	size_t len;
	uint32_t v;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		v = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		v = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		v = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/*
 * The address as RFC 6533 utf-8-addr-xtext into a fresh string, or
 * NULL when it is not valid UTF-8 or holds control characters. QCHAR
 * (printable ASCII but SP, "+", "=", "\") stays; the rest is \x{HEX}.
 */
static char *
dsn_utf8_xtext(const char *addr)
{
	const unsigned char *s = (const unsigned char *)addr;
	size_t n = strlen(addr), i = 0;
	struct buf b;

	buf_init(&b, n * 10 + 1);
	while (i < n) {
		uint32_t cp;
		size_t len = dsn_utf8(s + i, n - i, &cp);
		int r;

		if (len == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
			buf_free(&b);
			return NULL;
		}
		if (cp > 0x20 && cp < 0x7f && cp != '+' && cp != '=' && cp != '\\')
			r = buf_append(&b, s + i, 1);
		else
			r = buf_printf(&b, "\\x{%X}", (unsigned)cp);
		if (r < 0) {
			buf_free(&b);
			return NULL;
		}
		i += len;
	}
	return buf_steal(&b);
}

/* "Final-Recipient: rfc822; addr", or the utf-8 type (see LIMITS). */
static void
w_final_recipient(struct dsn_w *w, const char *addr)
{
	char *x = NULL;

	for (const char *p = addr; *p; p++)
		if ((unsigned char)*p >= 0x80) {
			x = dsn_utf8_xtext(addr);
			break;
		}
	if (x != NULL) {
		w_puts(w, "Final-Recipient: utf-8; ");
		w_wrapped(w, x, NULL);
		w_crlf(w);
		free(x);
		return;
	}
	w_field(w, "Final-Recipient", "rfc822; ", addr);
}

/* Whether diagnostic text starts with an SMTP reply code. */
static int
dsn_is_smtp_reply(const char *s)
{
	return s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' &&
	       s[2] <= '9' && (s[3] == '\0' || s[3] == ' ' || s[3] == '-');
}

/* Whether s is a usable RFC 3464 status ("5.1.1"): class 2, 4 or 5,
 * subject and detail of 1-3 digits. */
static int
dsn_status_ok(const char *s)
{
	size_t i = 0;

	if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t start = i;

		while (s[i] >= '0' && s[i] <= '9' && i - start < 3)
			i++;
		if (i == start || (part == 0 && s[i++] != '.'))
			return 0;
	}
	return s[i] == '\0';
}

/* The recipient's action, one of RFC 3464 2.3.3's words ("failed"
 * when the caller's is none of them). */
static const char *
dsn_action(const struct mta_dsn_rcpt *r)
{
	static const char *const actions[] = {"failed", "delayed", "delivered", "relayed",
					      "expanded"};

	for (size_t i = 0; r->action != NULL && i < PH_ARRAY_LEN(actions); i++)
		if (strcmp(r->action, actions[i]) == 0)
			return actions[i];
	return "failed";
}

/* The recipient's status, or a generic one that fits its action. */
static const char *
dsn_status(const struct mta_dsn_rcpt *r)
{
	if (dsn_status_ok(r->status))
		return r->status;
	return strcmp(dsn_action(r), "delayed") == 0 ? "4.0.0" : "5.0.0";
}

/* One recipient's block in the human-readable part; the reply keeps
 * its lines, each wrapped and indented. */
static void
w_human_rcpt(struct dsn_w *w, const struct mta_dsn_rcpt *r)
{
	char *addr = dsn_clean(r->rcpt, strlen(r->rcpt));
	const char *action = dsn_action(r);

	w_crlf(w);
	w_puts(w, "<");
	w_wrapped(w, addr, DSN_BODY_INDENT);
	w_puts(w, ">: ");
	w_puts(w, strcmp(action, "failed") == 0    ? "delivery failed"
		  : strcmp(action, "delayed") == 0 ? "delivery delayed"
						   : action);
	w_puts(w, " (");
	w_puts(w, dsn_status(r));
	w_line(w, ")");
	if (r->diagnostic == NULL || r->diagnostic[0] == '\0') {
		free(addr);
		return;
	}
	if (r->remote_mta != NULL && r->remote_mta[0] != '\0') {
		char *host = dsn_clean(r->remote_mta, strlen(r->remote_mta));

		w_puts(w, DSN_BODY_INDENT "The server ");
		w_wrapped(w, host, DSN_BODY_INDENT);
		w_line(w, " replied:");
		free(host);
	}
	for (const char *p = r->diagnostic; *p != '\0';) {
		size_t n = strcspn(p, "\n");
		char *line = dsn_clean(p, n);

		if (line[0] != '\0') {
			/* A wrapped reply line goes on indented deeper. */
			w_puts(w, DSN_BODY_INDENT);
			w_wrapped(w, line, DSN_BODY_INDENT "  ");
			w_crlf(w);
		}
		free(line);
		p += n + (p[n] == '\n');
	}
	free(addr);
}

/* Part 1: text/plain for a person. */
static void
w_human(struct dsn_w *w, const struct mta_dsn *d, int delayed_only)
{
	char *host = dsn_clean(d->reporting_mta, strlen(d->reporting_mta));

	w_puts(w, "This is the mail delivery system at ");
	w_puts(w, host);
	w_line(w, ".");
	w_crlf(w);
	if (delayed_only) {
		w_line(w, "This is a warning only; you do not need to resend your message.");
		w_crlf(w);
		w_line(w, "Your message has not yet been delivered to the recipients below.");
		w_line(w, "Delivery will be retried; you will be told if it finally fails.");
	} else {
		w_line(w, "Your message could not be delivered to one or more recipients.");
		w_line(w, "Each one is listed below with the reply of the receiving server.");
	}
	w_line(w, "A delivery report and the headers of your message are attached.");
	w_crlf(w);
	w_field(w, DSN_BODY_INDENT "Queue ID", "", d->public_id);
	w_field(w, DSN_BODY_INDENT "Message-ID", "", d->original_message_id);
	w_field(w, DSN_BODY_INDENT "Subject", "", d->original_subject);
	w_date(w, DSN_BODY_INDENT "Accepted", d->arrival_ms);
	for (size_t i = 0; i < d->nrcpt; i++)
		w_human_rcpt(w, &d->rcpts[i]);
	free(host);
}

/* Part 2: message/delivery-status (RFC 3464 2.2, 2.3). */
static void
w_status(struct dsn_w *w, const struct mta_dsn *d)
{
	w_field(w, "Reporting-MTA", "dns; ", d->reporting_mta);
	w_field(w, "X-Posthaste-Queue-ID", "", d->public_id);
	w_date(w, "Arrival-Date", d->arrival_ms);
	for (size_t i = 0; i < d->nrcpt; i++) {
		const struct mta_dsn_rcpt *r = &d->rcpts[i];

		w_crlf(w);
		w_final_recipient(w, r->rcpt);
		w_puts(w, "Action: ");
		w_line(w, dsn_action(r));
		w_puts(w, "Status: ");
		w_line(w, dsn_status(r));
		w_field(w, "Remote-MTA", "dns; ", r->remote_mta);
		if (r->diagnostic != NULL)
			w_field(w, "Diagnostic-Code",
				dsn_is_smtp_reply(r->diagnostic) ? "smtp; " : "X-Posthaste; ",
				r->diagnostic);
		w_date(w, "Last-Attempt-Date", r->last_attempt_ms);
	}
}

/*
 * Part 3: the original header section, 7-bit with CRLF: it ends at the
 * first empty line, other bytes are replaced as in dsn_clean() (but a
 * tab stays), and a line past DSN_LINE_MAX is folded with CRLF SP.
 */
static void
w_orig_headers(struct dsn_w *w, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - s) : n, len = end - i;

		if (len > 0 && s[end - 1] == '\r')
			len--;
		if (len == 0)
			break;
		for (size_t k = 0; k < len; k++) {
			unsigned char c = (unsigned char)s[i + k];
			char o = dsn_printable(c) || c == '\t' ? (char)c : '?';

			if (w->col >= DSN_LINE_MAX) {
				w_crlf(w);
				w_put(w, " ", 1);
			}
			w_put(w, &o, 1);
		}
		w_crlf(w);
		i = end + 1;
	}
}

/* Copy s into out[0..size) keeping only bytes from ok, others as '_'. */
static void
dsn_token(char *out, size_t size, const char *s, const char *ok)
{
	size_t k = 0;

	for (; s != NULL && *s && k + 1 < size; s++)
		out[k++] = (isalnum((unsigned char)*s) || strchr(ok, *s) != NULL) ? *s : '_';
	out[k] = '\0';
}

/* The original Message-ID when it is a plain "<...>" we can repeat in
 * In-Reply-To and References, else NULL. */
static const char *
dsn_reply_id(const char *id)
{
	size_t n;

	if (id == NULL)
		return NULL;
	n = strlen(id);
	if (n < 3 || n > DSN_FOLD * 4 || id[0] != '<' || id[n - 1] != '>')
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!dsn_printable((unsigned char)id[i]) || id[i] == ' ')
			return NULL;
	return id;
}

/* Start a body part: its delimiter and header fields. */
static void
w_part(struct dsn_w *w, const char *boundary, const char *desc, const char *type)
{
	w_crlf(w);
	w_puts(w, "--");
	w_line(w, boundary);
	w_puts(w, "Content-Description: ");
	w_line(w, desc);
	w_puts(w, "Content-Type: ");
	w_line(w, type);
	w_line(w, "Content-Transfer-Encoding: 7bit");
	w_crlf(w);
}

/* Build the whole DSN into out (see DESCRIPTION). */
int
mta_dsn_build(const struct mta_dsn *d, struct buf *out)
{
	struct dsn_w w = {out, 0, 0};
	size_t start = out->len;
	char rnd[DSN_BOUNDARY_RANDOM + 1], boundary[DSN_BOUNDARY_RANDOM + 8];
	char msgrnd[DSN_MSGID_RANDOM + 1], id[MTA_QUEUE_ID_MAX], host[MTA_QUEUE_ID_MAX * 2];
	const char *reply_id = dsn_reply_id(d->original_message_id);
	int delayed_only = 1;
	char date[TIME_RFC5322_LEN];

	if (d->nrcpt == 0 || d->rcpts == NULL || d->to == NULL || d->to[0] == '\0' ||
	    d->dsn_from == NULL || d->reporting_mta == NULL || d->reporting_mta[0] == '\0')
		return -1;
	for (size_t i = 0; i < d->nrcpt; i++) {
		if (d->rcpts[i].rcpt == NULL)
			return -1;
		if (strcmp(dsn_action(&d->rcpts[i]), "delayed") != 0)
			delayed_only = 0;
	}

	/* "=_" cannot occur in quoted-printable or base64 text. */
	rand_token(rnd, DSN_BOUNDARY_RANDOM);
	snprintf(boundary, sizeof(boundary), "=_ph_%s", rnd);
	rand_token(msgrnd, DSN_MSGID_RANDOM);
	dsn_token(id, sizeof(id), d->public_id, "._-");
	dsn_token(host, sizeof(host), d->reporting_mta, ".-");
	time_rfc5322(d->now_ms, date);

	w_field_x(&w, "From", "Mail Delivery System <", d->dsn_from, ">");
	w_field_x(&w, "To", "<", d->to, ">");
	w_puts(&w, "Subject: ");
	w_line(&w, delayed_only ? "Delayed Mail (still being retried)"
				: "Undelivered Mail Returned to Sender");
	w_puts(&w, "Date: ");
	w_line(&w, date);
	w_puts(&w, "Message-ID: <");
	if (id[0] != '\0') {
		w_puts(&w, id);
		w_puts(&w, ".");
	}
	w_puts(&w, "dsn.");
	w_puts(&w, msgrnd);
	w_puts(&w, "@");
	w_puts(&w, host);
	w_line(&w, ">");
	if (reply_id != NULL) {
		w_field(&w, "In-Reply-To", "", reply_id);
		w_field(&w, "References", "", reply_id);
	}
	w_line(&w, "MIME-Version: 1.0");
	w_line(&w, "Auto-Submitted: auto-replied");
	w_line(&w, "Content-Type: multipart/report; report-type=delivery-status;");
	w_puts(&w, "\tboundary=\"");
	w_puts(&w, boundary);
	w_line(&w, "\"");
	w_crlf(&w);
	w_line(&w, "This is a MIME-encapsulated message.");

	w_part(&w, boundary, "Notification", "text/plain; charset=us-ascii");
	w_human(&w, d, delayed_only);
	w_part(&w, boundary, "Delivery report", "message/delivery-status");
	w_status(&w, d);
	if (d->original_headers != NULL && d->original_headers_len > 0) {
		w_part(&w, boundary, "Undelivered Message Headers", "text/rfc822-headers");
		w_orig_headers(&w, d->original_headers, d->original_headers_len);
	}
	w_crlf(&w);
	w_puts(&w, "--");
	w_puts(&w, boundary);
	w_line(&w, "--");

	if (w.err < 0) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
		return -1;
	}
	return 0;
}
