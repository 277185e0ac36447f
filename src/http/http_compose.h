/*
 * NAME
 *	http_compose - a JSON send request to an RFC 5322/MIME message
 * DESCRIPTION
 *	http_compose() validates the body of POST /api/v1/messages and
 *	builds the message with GMime:
 *
 *	  {"from": "App <app@example.com>",      required; one mailbox
 *	   "to": ["a@example.net", "B <b@x.org>"],  to/cc/bcc: arrays of
 *	   "cc": [...], "bcc": [...],               mailboxes, 1..max in all
 *	   "reply_to": "help@example.com",       optional, one mailbox
 *	   "subject": "Your receipt",            required string (UTF-8)
 *	   "text": "...", "html": "...",         at least one of them
 *	   "headers": {"X-Campaign": "spring"},  optional extra headers
 *	   "attachments": [{"filename": "r.pdf", "content_type":
 *	                    "application/pdf", "content": "<base64>"}]}
 *
 *	text and html together are multipart/alternative; attachments
 *	make the whole multipart/mixed. Subjects and display names with
 *	non-ASCII are RFC 2047 encoded; text parts are UTF-8 with a
 *	transfer encoding GMime picks (quoted-printable or base64). The
 *	output has CRLF line ends, a generated Message-ID
 *	<public_id@hostname> and a Date, and never a Bcc header.
 *
 *	Refused with a clear message (and nothing queued): unknown fields,
 *	wrong types, a CR or LF in any header value, name or address
 *	(header injection), invalid addresses (RFC 5321 mailbox syntax;
 *	non-ASCII only as SMTPUTF8 needs), headers that posthaste owns
 *	(From, To, Cc, Bcc, Subject, Date, Message-ID, MIME-Version,
 *	Content-*, Received, Return-Path, DKIM-Signature), bad base64,
 *	and anything over the limits.
 */
#ifndef PH_HTTP_COMPOSE_H
#define PH_HTTP_COMPOSE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/lib.h"

#define HTTP_COMPOSE_HEADERS_MAX 50     /* extra headers */
#define HTTP_COMPOSE_ATTACHMENTS_MAX 20
#define HTTP_COMPOSE_SUBJECT_MAX 998
#define HTTP_COMPOSE_HEADER_VALUE_MAX 998

struct http_compose_limits {
	size_t max_recipients;  /* to + cc + bcc */
	size_t max_message_size; /* the built message, bytes */
	const char *hostname;    /* for the Message-ID */
	const char *public_id;   /* for the Message-ID */
	int64_t now_ms;          /* for the Date header */
};

struct http_envelope {
	char *mail_from;  /* the From mailbox's address: the envelope sender */
	char **rcpts;     /* to + cc + bcc addresses, de-duplicated (case-insensitive) */
	size_t nrcpt;
	int needs_smtputf8;
	char *subject;    /* as given (UTF-8), for the store */
	char *message_id; /* "<public_id@hostname>" */
};

/* 0 and the message in out (cap: max_message_size) and env; or -1 with
 * a one-line reason for the client in err (field named, e.g.
 * "to[2]: not a valid address"). */
int http_compose(json_t *req, const struct http_compose_limits *lim, struct buf *out,
		 struct http_envelope *env, char *err, size_t errlen) PH_WUR;
void http_envelope_free(struct http_envelope *env);

#endif
