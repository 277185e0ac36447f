/*
 * NAME
 *	mta_pure - the outbound side's pure parts: replies, remote queue
 *	ids, bounce classification, DSNs. No I/O; unit-tested and fuzzed.
 * DESCRIPTION
 *	Everything a remote server sends is hostile input: replies are
 *	parsed with named limits (MTA_REPLY_LINE_MAX per line,
 *	MTA_REPLY_LINES_MAX lines, MTA_REPLY_TEXT_MAX bytes kept in all).
 */
#ifndef PH_MTA_PURE_H
#define PH_MTA_PURE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/lib.h"

#define MTA_REPLY_LINE_MAX 2048  /* RFC 5321 4.5.3.1.5 says 512; servers exceed it */
#define MTA_REPLY_LINES_MAX 100
#define MTA_REPLY_TEXT_MAX 8192
#define MTA_QUEUE_ID_MAX 128

/* --- replies (RFC 5321 4.2, RFC 3463 enhanced codes) ------------------ */

struct mta_reply {
	int code;              /* 200-599 */
	char enhanced[16];     /* "5.1.1" or "" when absent (class must match code) */
	/* Every line's text after the code, with a leading enhanced code
	 * stripped from each line, lines joined by "\n"; control bytes
	 * other than tab become '?'. */
	char text[MTA_REPLY_TEXT_MAX];
	size_t text_len;
	unsigned nlines;
};

enum mta_reply_status {
	MTA_REPLY_MORE,     /* need more input */
	MTA_REPLY_DONE,     /* a whole reply was parsed */
	MTA_REPLY_INVALID,  /* protocol violation: bad code, mixed codes, too long */
};

/* Incremental parser state: feed bytes as they come. */
struct mta_reply_parser {
	struct mta_reply r;
	char line[MTA_REPLY_LINE_MAX + 2];
	size_t line_len;
	int overflow;
};

void mta_reply_parser_init(struct mta_reply_parser *p);
/* Consume from in[0..n); *used says how much. On DONE, p->r is the reply
 * (copy it before feeding again; the next feed starts a new reply). */
enum mta_reply_status mta_reply_feed(struct mta_reply_parser *p, const char *in, size_t n,
				     size_t *used);

/* --- remote queue id from a 250 reply to DATA -------------------------- */
/* Recognises Postfix "queued as X", Exim "id=X", Microsoft 365
 * "<...@...prod.outlook.com> [Hostname=...]" / "Queued mail for delivery",
 * Gmail "OK <timestamp> <id> - gsmtp", Sendmail "X Message accepted for
 * delivery", and a generic fallback (a token after "id", "queued", "as").
 * Returns 1 and copies the id when found, 0 otherwise. */
int mta_remote_queue_id(const char *text, char *out, size_t outlen);

/* --- bounce classification ------------------------------------------- */
enum mta_bounce_category {
	MTA_CAT_UNKNOWN_USER,
	MTA_CAT_MAILBOX_FULL,
	MTA_CAT_POLICY,        /* policy or spam block */
	MTA_CAT_REPUTATION,    /* reputation or blocklist */
	MTA_CAT_GREYLIST,
	MTA_CAT_DNS,
	MTA_CAT_TLS,
	MTA_CAT_CONTENT,
	MTA_CAT_RATE_LIMIT,
	MTA_CAT_OTHER,
};
const char *mta_bounce_category_str(enum mta_bounce_category c);

struct mta_classification {
	int hard;   /* 1: permanent for this address (stop sending to it) */
	enum mta_bounce_category category;
};
/* From the SMTP code, the enhanced status code (may be "") and the text;
 * table-driven: enhanced code first, then text patterns, then code. */
void mta_classify(int code, const char *enhanced, const char *text,
		  struct mta_classification *out);

/* --- DSN (RFC 3464 multipart/report, RFC 3461/6522) --------------------- */
struct mta_dsn_rcpt {
	const char *rcpt;          /* final recipient */
	const char *action;        /* "failed" or "delayed" */
	const char *status;        /* "5.1.1" */
	const char *remote_mta;    /* may be NULL */
	const char *diagnostic;    /* remote reply text "550 5.1.1 ...", may be NULL */
	int64_t last_attempt_ms;
};
struct mta_dsn {
	const char *reporting_mta;  /* our hostname */
	const char *dsn_from;       /* "MAILER-DAEMON@hostname" */
	const char *to;             /* the original envelope sender */
	const char *original_message_id; /* may be NULL */
	const char *original_subject;    /* may be NULL */
	const char *public_id;      /* our id of the original message */
	int64_t arrival_ms;
	int64_t now_ms;
	const struct mta_dsn_rcpt *rcpts;
	size_t nrcpt;
	const char *original_headers; /* the original header section, CRLF lines */
	size_t original_headers_len;
};
/* Write a whole RFC 5322 message (CRLF line ends) into out: a
 * human-readable part, a message/delivery-status part and the original
 * headers (text/rfc822-headers). -1 if out's cap is too small. */
int mta_dsn_build(const struct mta_dsn *d, struct buf *out) PH_WUR;

#endif
