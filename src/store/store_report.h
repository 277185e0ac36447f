/*
 * NAME
 *	store_report - what the API, the dashboard and "posthaste trace"
 *	read back: search, message detail, timeline, transcripts, the
 *	evidence hand-over and statistics, as JSON (jansson)
 * DESCRIPTION
 *	Every function takes the caller's account id and sees only that
 *	account's rows (account_id 0: every account, for the local CLI).
 *	Search filters are bound parameters only; no request text reaches
 *	SQL. A message that exists in another account is "not found".
 */
#ifndef PH_STORE_REPORT_H
#define PH_STORE_REPORT_H

#include <jansson.h>

#include "store/store.h"

#define STORE_SEARCH_LIMIT_MAX 500
#define STORE_SEARCH_LIMIT_DEFAULT 50

struct store_search {
	const char *recipient, *from, *subject, *status, *message_id;
	int64_t since_ms, until_ms; /* 0: open */
	int64_t cursor;             /* 0: from the newest */
	unsigned limit;
};

/* {"data":[...], "next_cursor": "..."|null}; NULL with err on bad input. */
json_t *store_search_messages(struct store *st, int64_t account_id, const struct store_search *q,
			      char *err, size_t errlen);
/* NULL when there is no such message for this account. */
json_t *store_message_detail(struct store *st, int64_t account_id, const char *public_id);
json_t *store_message_events(struct store *st, int64_t account_id, const char *public_id,
			     const char *recipient);
json_t *store_message_transcripts(struct store *st, int64_t account_id, const char *public_id);
json_t *store_message_evidence(struct store *st, int64_t account_id, const char *public_id,
			       const char *recipient);
/* The evidence as text a person pastes into a ticket (malloc'd). */
char *store_evidence_text(const json_t *evidence);
/* bucket_ms > 0 adds "series": one point per bucket of received time. */
json_t *store_stats(struct store *st, int64_t account_id, int64_t since_ms, int64_t until_ms,
		    const char *domain, int64_t bucket_ms);
/* Unfinished recipients in one status (queued or deferred), newest first,
 * each with its last attempt's reply: {"data":[...], "next_cursor"}. */
json_t *store_queue_list(struct store *st, int64_t account_id, const char *status, int64_t cursor,
			 unsigned limit);
/* The message (and, with rcpt, its recipient's id) within the account:
 * 0, or -1 when there is none (another account's is none too). */
int store_queue_target(struct store *st, int64_t account_id, const char *public_id, const char *rcpt,
		       int64_t *rcpt_id) PH_WUR;
/* Public ids of the messages with a recipient (newest first, at most max). */
json_t *store_messages_for_recipient(struct store *st, int64_t account_id, const char *rcpt,
				     unsigned max);
/* An account's sender domains with their last checks (only: one domain). */
json_t *store_domains_json(struct store *st, int64_t account_id, const char *only);
/* Parse "2026-11-22T16:00:00Z" (or with .mmm) or whole seconds since the epoch. */
int store_parse_time(const char *s, int64_t *ms) PH_WUR;

#endif
