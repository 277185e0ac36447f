/*
 * NAME
 *	mta_queueid - the receiving server's own queue id, from its reply
 *	to DATA
 * SYNOPSIS
 *	#include "mta/mta_pure.h"
 *
 *	if (mta_remote_queue_id(reply.text, id, sizeof(id))) ...
 * DESCRIPTION
 *	The id a receiving server gives a message it accepted is what the
 *	recipient's IT department greps its logs for, so it goes into every
 *	"delivered" event (DESIGN.md, Events). Servers put it in free text;
 *	the rules below, tried in order, know where the common ones put it:
 *
 *	Microsoft 365 / Exchange  "2.6.0 <msgid> [InternalId=N, Hostname=H]
 *	                          ... Queued mail for delivery"    -> N
 *	Exchange without it       "2.6.0 <msgid> Queued mail for delivery"
 *	                                                           -> <msgid>
 *	Gmail / Workspace         "2.0.0 OK  <time> ID - gsmtp"    -> ID
 *	Postfix and most others   "2.0.0 Ok: queued as ID"         -> ID
 *	Yandex                    "2.0.0 Ok: queued on HOST ID"    -> ID
 *	Exim                      "OK id=ID"                       -> ID
 *	Sendmail, Proofpoint,     "2.0.0 ID Message accepted for delivery"
 *	OpenSMTPD                                                  -> ID
 *	qmail                     "ok <time> qp PID"               -> PID
 *	Haraka and others         "Message Queued (ID)", "Queued! (ID)"
 *	Amazon SES, Courier       "Ok ID", "Ok. ID"                -> ID
 *	fallback                  "... id ID", "ID:ID", "id#ID"    -> ID
 *
 *	Microsoft 365: the "<...>" is the Message-ID header of the message
 *	we sent (or one Exchange made up when it had none), which our own
 *	records already hold; InternalId is Exchange's own number for the
 *	message on the server named by Hostname, which is what its message
 *	tracking logs key on (Get-MessageTrackingLog -InternalMessageId).
 *	So InternalId is the remote queue id; the "<...>" is taken only
 *	when there is no InternalId, because then it is the one handle an
 *	admin can search message trace by.
 * LIMITS
 *	An id is at most MTA_QUEUE_ID_MAX - 1 bytes from
 *	[A-Za-z0-9._=@<>+/:-] after surrounding brackets and trailing
 *	punctuation are dropped; "<" and ">" only around a whole
 *	<local@domain>. Anything else is junk: no id is returned
 *	rather than a mangled or truncated one. Rules that would otherwise
 *	take a plain word ("Ok thanks") also want a digit in the id.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "mta/mta_pure.h"

enum qid_how {
	QID_AFTER,      /* the word after the marker */
	QID_AFTER2,     /* the second word after the marker */
	QID_BEFORE,     /* the word before the marker */
	QID_PAREN,      /* "(ID)" after the marker */
	QID_LEADING,    /* the marker starts the text: the word after it */
	QID_FIRST_MSGID, /* marker anywhere, the first word is "<msgid>" */
};

/* No scan for a word or a ")" goes further than this, so that a reply
 * full of markers costs time in proportion to its length. */
#define QID_SCAN_MAX (2 * MTA_QUEUE_ID_MAX)

#define QID_WORD 0x1  /* the marker must start a word */
#define QID_DIGIT 0x2 /* the id must contain a digit */

struct qid_rule {
	const char *marker; /* case-insensitive */
	enum qid_how how;
	unsigned flags;
	const char *seps; /* one or more of these must follow the marker */
};

static const struct qid_rule qid_rules[] = {
	{"InternalId=", QID_AFTER, 0, ""},
	{"Queued mail for delivery", QID_FIRST_MSGID, 0, ""},
	{" - gsmtp", QID_BEFORE, QID_DIGIT, ""},
	{"queued as", QID_AFTER, 0, " "},
	{"queued on", QID_AFTER2, QID_DIGIT, " "},
	{"id=", QID_AFTER, QID_WORD, ""},
	{"Message accepted for delivery", QID_BEFORE, QID_DIGIT, ""},
	{"qp", QID_AFTER, QID_WORD | QID_DIGIT, " "},
	{"queued", QID_PAREN, QID_WORD, "! "},
	{"ok", QID_LEADING, QID_WORD | QID_DIGIT, ":.,! "},
	{"id", QID_AFTER, QID_WORD | QID_DIGIT, ":=# "},
};

/* Whether c may appear in a remote queue id. */
static int
qid_char(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("._-=@<>+/:", c) != NULL);
}

/* Whether c ends a word. */
static int
qid_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Case-insensitive search for needle in s from offset; NULL when none,
 * or when QID_WORD is set and no match starts a word. */
static const char *
qid_find(const char *s, const char *from, const char *needle, unsigned flags)
{
	size_t nl = strlen(needle);

	for (const char *p = from; *p; p++) {
		if (strncasecmp(p, needle, nl) != 0)
			continue;
		if ((flags & QID_WORD) && p > s && isalnum((unsigned char)p[-1]))
			continue;
		return p;
	}
	return NULL;
}

/* Whether w[0..n) looks like an enhanced status code ("2.0.0"), which
 * sits where Sendmail's id would when a server gives none. */
static int
qid_is_status(const char *w, size_t n)
{
	int dots = 0;

	for (size_t i = 0; i < n; i++) {
		if (w[i] == '.')
			dots++;
		else if (!isdigit((unsigned char)w[i]))
			return 0;
	}
	return dots == 2;
}

/*
 * Check and copy the word w[0..n) as an id: drop enclosing brackets and
 * trailing punctuation, then every byte must be an id byte and the
 * length must fit. Returns 1 when out holds the id.
 */
static int
qid_take(const char *w, size_t n, unsigned flags, char *out, size_t outlen)
{
	int digit = 0;

	if (n > QID_SCAN_MAX)
		return 0; /* cut short by a scan: too long anyway */
	while (n > 0 && strchr("([{\"'", w[0]) != NULL) {
		w++;
		n--;
	}
	while (n > 0 && strchr(")]}\"'.,;:!", w[n - 1]) != NULL)
		n--;
	if (n == 0 || n >= MTA_QUEUE_ID_MAX || n >= outlen || qid_is_status(w, n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!qid_char((unsigned char)w[i]))
			return 0;
		/* Angle brackets only around a whole <local@domain>. */
		if ((w[i] == '<' && i != 0) || (w[i] == '>' && i != n - 1))
			return 0;
		digit |= isdigit((unsigned char)w[i]) != 0;
	}
	if ((w[0] == '<') != (w[n - 1] == '>') ||
	    (w[0] == '<' && memchr(w, '@', n) == NULL))
		return 0;
	if ((flags & QID_DIGIT) && !digit)
		return 0;
	memcpy(out, w, n);
	out[n] = '\0';
	return 1;
}

/* Length of the word at p (up to white space); QID_SCAN_MAX + 1 when
 * it is longer than that. */
static size_t
qid_wordlen(const char *p)
{
	size_t n = 0;

	while (p[n] && !qid_space((unsigned char)p[n]) && n <= QID_SCAN_MAX)
		n++;
	return n;
}

/* Skip an enhanced status code ("2.0.0 " or OpenSMTPD's "2.0.0: ")
 * and blanks at the start of the text. */
static const char *
qid_skip_status(const char *s)
{
	size_t n;

	while (qid_space((unsigned char)*s))
		s++;
	n = qid_wordlen(s);
	if (n > 0 && s[n - 1] == ':')
		n--;
	if (qid_is_status(s, n)) {
		s += qid_wordlen(s);
		while (qid_space((unsigned char)*s))
			s++;
	}
	return s;
}

/* Apply one rule at the marker found at m; start is the text after
 * any leading enhanced status code. */
static int
qid_apply(const struct qid_rule *rule, const char *text, const char *start, const char *m,
	  char *out, size_t outlen)
{
	const char *p = m + strlen(rule->marker), *w;
	size_t n;

	if (rule->how == QID_BEFORE) {
		const char *e = m;

		while (e > text && qid_space((unsigned char)e[-1]))
			e--;
		w = e;
		while (w > text && !qid_space((unsigned char)w[-1]) && e - w <= QID_SCAN_MAX)
			w--;
		return qid_take(w, (size_t)(e - w), rule->flags, out, outlen);
	}
	if (rule->how == QID_FIRST_MSGID) {
		n = qid_wordlen(start);
		if (n < 3 || start[0] != '<' || start[n - 1] != '>')
			return 0;
		return qid_take(start, n, rule->flags, out, outlen);
	}
	if (rule->how == QID_LEADING && m != start)
		return 0;
	/* A word marker must be followed by a separator, so that "ok"
	 * does not match "okay" nor "id" match "idle". */
	if (rule->seps[0] != '\0') {
		if (*p == '\0' || strchr(rule->seps, *p) == NULL)
			return 0;
		while (*p && strchr(rule->seps, *p) != NULL)
			p++;
	}
	if (rule->how == QID_AFTER2) {
		n = qid_wordlen(p);
		if (n > QID_SCAN_MAX)
			return 0;
		p += n;
		while (*p == ' ')
			p++;
	}
	if (rule->how == QID_PAREN) {
		if (*p != '(')
			return 0;
		/* One word inside: "(0.5 seconds)" is no id. */
		n = qid_wordlen(++p);
		w = n <= QID_SCAN_MAX ? memchr(p, ')', n) : NULL;
		if (w == NULL)
			return 0;
		return qid_take(p, (size_t)(w - p), rule->flags, out, outlen);
	}
	return qid_take(p, qid_wordlen(p), rule->flags, out, outlen);
}

/* Find the remote queue id in a reply's text (see DESCRIPTION). */
int
mta_remote_queue_id(const char *text, char *out, size_t outlen)
{
	const char *start;

	if (out == NULL || outlen == 0)
		return 0;
	out[0] = '\0';
	if (text == NULL)
		return 0;
	start = qid_skip_status(text);
	for (size_t i = 0; i < PH_ARRAY_LEN(qid_rules); i++) {
		const struct qid_rule *rule = &qid_rules[i];
		const char *m = text;

		/* A marker may occur more than once ("id" in "idle ... id
		 * 123"): try each occurrence until one yields an id. */
		while ((m = qid_find(text, m, rule->marker, rule->flags)) != NULL) {
			if (qid_apply(rule, text, start, m, out, outlen))
				return 1;
			m++;
		}
	}
	out[0] = '\0';
	return 0;
}
