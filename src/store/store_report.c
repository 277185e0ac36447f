/*
 * NAME
 *	store_report - read-side queries for the API, dashboard and CLI
 * DESCRIPTION
 *	See store_report.h. Search builds its SQL from fixed fragments and
 *	binds every value. Subject search uses the trigram FTS5 index
 *	(substring match, 3 characters or more; shorter terms use LIKE with
 *	the wildcards escaped). Paging is by message rowid, newest first:
 *	the cursor is the last rowid seen, so a page costs the same at any
 *	depth.
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mail/mail.h"
#include "store/store_int.h"
#include "store/store_report.h"

#define STATUS_LIST "queued deferred delivered bounced expired suppressed deleted"

int
store_parse_time(const char *s, int64_t *ms)
{
	struct tm tm;
	uint64_t v;
	const char *p;
	int msec = 0;

	if (s == NULL || *s == '\0')
		return -1;
	if (parse_uint(s, 0, 253402300799ull, &v) == 0) {
		*ms = (int64_t)v * 1000;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	if (*p == '.') {
		int k = 0;

		for (p++; *p >= '0' && *p <= '9'; p++, k++)
			if (k < 3)
				msec = msec * 10 + (*p - '0');
		for (; k < 3; k++)
			msec *= 10;
	}
	if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
		return -1;
	*ms = (int64_t)timegm(&tm) * 1000 + msec;
	return 0;
}

static json_t *
jtime(int64_t ms)
{
	char ts[TIME_RFC3339_LEN];

	if (ms <= 0)
		return json_null();
	time_rfc3339(ms, ts);
	return json_string(ts);
}

static json_t *
jtext(sqlite3_stmt *q, int col)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	return t ? json_string((const char *)t) : json_null();
}

/* The message rowid for a public id within an account; 0 when none. */
static int64_t
message_rowid(struct store *st, int64_t account_id, const char *public_id)
{
	sqlite3_stmt *q;
	int64_t id = 0;

	if (sqlite3_prepare_v2(st->db,
			       "SELECT id FROM messages WHERE public_id = ?1"
			       " AND (?2 = 0 OR account_id = ?2)",
			       -1, &q, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(q, 1, public_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, account_id);
	if (sqlite3_step(q) == SQLITE_ROW)
		id = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return id;
}

static json_t *
message_row_json(sqlite3_stmt *q)
{
	/* columns: public_id, mail_from, subject, message_id_hdr, size,
	 * received_ms, source, client_ip, auth_user, tls_version, tls_cipher,
	 * recipients summary (rcpt:status|...) */
	json_t *o = json_object();

	json_object_set_new(o, "id", jtext(q, 0));
	json_object_set_new(o, "from", jtext(q, 1));
	json_object_set_new(o, "subject", jtext(q, 2));
	json_object_set_new(o, "message_id_header", jtext(q, 3));
	json_object_set_new(o, "size", json_integer(sqlite3_column_int64(q, 4)));
	json_object_set_new(o, "received_at", jtime(sqlite3_column_int64(q, 5)));
	json_object_set_new(o, "source", jtext(q, 6));
	json_object_set_new(o, "dkim",
			    sqlite3_column_type(q, 12) == SQLITE_NULL
				    ? json_null()
				    : json_pack("{s:o,s:o}", "domain", jtext(q, 12), "selectors",
						jtext(q, 13)));
	return o;
}

static void
add_recipient_summary(struct store *st, json_t *msg, int64_t rowid)
{
	sqlite3_stmt *q;
	json_t *arr = json_array();

	if (sqlite3_prepare_v2(st->db,
			       "SELECT rcpt, status, attempts, next_attempt_ms, updated_ms FROM"
			       " recipients WHERE message_id = ? ORDER BY id",
			       -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, rowid);
		while (sqlite3_step(q) == SQLITE_ROW) {
			json_t *r = json_object();

			json_object_set_new(r, "recipient", jtext(q, 0));
			json_object_set_new(r, "status", jtext(q, 1));
			json_object_set_new(r, "attempts", json_integer(sqlite3_column_int(q, 2)));
			json_object_set_new(r, "next_attempt_at",
					    sqlite3_column_type(q, 3) == SQLITE_NULL
						    ? json_null()
						    : jtime(sqlite3_column_int64(q, 3)));
			json_object_set_new(r, "updated_at", jtime(sqlite3_column_int64(q, 4)));
			json_array_append_new(arr, r);
		}
		sqlite3_finalize(q);
	}
	json_object_set_new(msg, "recipients", arr);
}

#define MSG_COLS                                                                          \
	"m.public_id, m.mail_from, m.subject, m.message_id_hdr, m.size, m.received_ms,"   \
	" m.source, m.client_ip, m.auth_user, m.tls_version, m.tls_cipher, m.id,"         \
	" m.dkim_domain, m.dkim_selectors"

/* {"data": [...], "next_cursor": last rowid seen, or null on the last page}. */
static json_t *
page_json(json_t *data, int more, int64_t last)
{
	json_t *out = json_object();
	char cur[24];

	json_object_set_new(out, "data", data);
	snprintf(cur, sizeof(cur), "%lld", (long long)last);
	json_object_set_new(out, "next_cursor", more ? json_string(cur) : json_null());
	return out;
}

/* term between two wraps, with esc before each of its specials (malloc'd):
 * an FTS5 string literal doubles its quotes (wrap and esc '"'), a LIKE
 * pattern escapes its wildcards with '\' (wrap '%'). */
static char *
quote_term(const char *term, char wrap, const char *specials, char esc)
{
	struct buf b;

	buf_init(&b, strlen(term) * 2 + 3);
	if (buf_append(&b, &wrap, 1) < 0)
		return buf_steal(&b);
	for (const char *p = term; *p; p++) {
		if (strchr(specials, *p) && buf_append(&b, &esc, 1) < 0)
			break;
		if (buf_append(&b, p, 1) < 0)
			break;
	}
	if (buf_append(&b, &wrap, 1) < 0)
		log_warn("store search term truncated");
	return buf_steal(&b);
}

json_t *
store_search_messages(struct store *st, int64_t account_id, const struct store_search *f,
		      char *err, size_t errlen)
{
	struct buf sql;
	sqlite3_stmt *q = NULL;
	json_t *out = NULL, *data;
	char *subj = NULL, msgid[MAIL_HEADER_VALUE_MAX + 3];
	unsigned limit = f->limit ? f->limit : STORE_SEARCH_LIMIT_DEFAULT, n = 0;
	int64_t last = 0;
	int i = 1, rc;

	if (limit > STORE_SEARCH_LIMIT_MAX) {
		snprintf(err, errlen, "limit must be 1-%d", STORE_SEARCH_LIMIT_MAX);
		return NULL;
	}
	if (f->status) {
		static const char list[] = STATUS_LIST;
		const char *hit = strstr(list, f->status);
		size_t n2 = strlen(f->status);

		if (n2 == 0 || hit == NULL || (hit[n2] != ' ' && hit[n2] != '\0') ||
		    (hit != list && hit[-1] != ' ')) {
			snprintf(err, errlen, "status must be one of: %s", STATUS_LIST);
			return NULL;
		}
	}
	buf_init(&sql, 4096);
	/* Fixed fragments only; every value below is bound in the same order. */
	/* With a status, walk the (status, message_id) index newest first and
	 * join each message (CROSS JOIN keeps that order of loops): a page
	 * costs the same whether the status is common or rare. */
	if (buf_puts(&sql, f->status ? "SELECT " MSG_COLS " FROM recipients r CROSS JOIN messages m"
				       " ON m.id = r.message_id WHERE r.status = ?"
				     : "SELECT " MSG_COLS " FROM messages m WHERE 1") < 0)
		goto fail;
	if (account_id && buf_puts(&sql, " AND m.account_id = ?") < 0)
		goto fail;
	if (f->recipient && buf_puts(&sql, " AND m.id IN (SELECT message_id FROM recipients"
					   " WHERE rcpt = ? COLLATE NOCASE)") < 0)
		goto fail;
	if (f->from && buf_puts(&sql, " AND m.mail_from = ?") < 0)
		goto fail;
	if (f->subject) {
		if (strlen(f->subject) >= 3) {
			subj = quote_term(f->subject, '"', "\"", '"');
			if (buf_puts(&sql, " AND m.id IN (SELECT rowid FROM messages_fts WHERE"
					   " messages_fts MATCH ?)") < 0)
				goto fail;
		} else {
			subj = quote_term(f->subject, '%', "%_\\", '\\');
			if (buf_puts(&sql, " AND m.subject LIKE ? ESCAPE '\\'") < 0)
				goto fail;
		}
	}
	if (f->message_id) {
		snprintf(msgid, sizeof(msgid), f->message_id[0] == '<' ? "%s" : "<%s>",
			 f->message_id);
		if (buf_puts(&sql, " AND m.message_id_hdr = ?") < 0)
			goto fail;
	}

	if (f->since_ms && buf_puts(&sql, " AND m.received_ms >= ?") < 0)
		goto fail;
	if (f->until_ms && buf_puts(&sql, " AND m.received_ms < ?") < 0)
		goto fail;
	if (f->cursor && buf_puts(&sql, f->status ? " AND r.message_id < ?" : " AND m.id < ?") < 0)
		goto fail;
	if (buf_puts(&sql, f->status ? " GROUP BY r.message_id ORDER BY r.message_id DESC LIMIT ?"
				     : " ORDER BY m.id DESC LIMIT ?") < 0)
		goto fail;
	if (sqlite3_prepare_v2(st->db, sql.data, -1, &q, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "search failed: %s", sqlite3_errmsg(st->db));
		goto fail;
	}
	if (f->status)
		sqlite3_bind_text(q, i++, f->status, -1, SQLITE_STATIC);
	if (account_id)
		sqlite3_bind_int64(q, i++, account_id);
	if (f->recipient)
		sqlite3_bind_text(q, i++, f->recipient, -1, SQLITE_STATIC);
	if (f->from)
		sqlite3_bind_text(q, i++, f->from, -1, SQLITE_STATIC);
	if (f->subject)
		sqlite3_bind_text(q, i++, subj, -1, SQLITE_STATIC);
	if (f->message_id)
		sqlite3_bind_text(q, i++, msgid, -1, SQLITE_STATIC);
	if (f->since_ms)
		sqlite3_bind_int64(q, i++, f->since_ms);
	if (f->until_ms)
		sqlite3_bind_int64(q, i++, f->until_ms);
	if (f->cursor)
		sqlite3_bind_int64(q, i++, f->cursor);
	sqlite3_bind_int64(q, i++, (int64_t)limit + 1);
	data = json_array();
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		json_t *m;

		if (++n > limit)
			break;
		m = message_row_json(q);
		last = sqlite3_column_int64(q, 11);
		add_recipient_summary(st, m, last);
		json_array_append_new(data, m);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		snprintf(err, errlen, "search failed: %s", sqlite3_errmsg(st->db));
		json_decref(data);
		goto fail;
	}
	out = page_json(data, n > limit, last);
fail:
	sqlite3_finalize(q);
	buf_free(&sql);
	free(subj);
	return out;
}

json_t *
store_message_detail(struct store *st, int64_t account_id, const char *public_id)
{
	sqlite3_stmt *q;
	json_t *o = NULL;

	if (sqlite3_prepare_v2(st->db,
			       "SELECT " MSG_COLS " FROM messages m WHERE m.public_id = ?1"
			       " AND (?2 = 0 OR m.account_id = ?2)",
			       -1, &q, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(q, 1, public_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, account_id);
	if (sqlite3_step(q) == SQLITE_ROW) {
		json_t *sub = json_object();

		o = message_row_json(q);
		json_object_set_new(sub, "client_ip", jtext(q, 7));
		json_object_set_new(sub, "auth_user", jtext(q, 8));
		json_object_set_new(sub, "tls_version", jtext(q, 9));
		json_object_set_new(sub, "tls_cipher", jtext(q, 10));
		json_object_set_new(o, "submission", sub);
		add_recipient_summary(st, o, sqlite3_column_int64(q, 11));
	}
	sqlite3_finalize(q);
	return o;
}

/* Events of a message as [{recipient, type, at, ...data}]. */
json_t *
store_message_events(struct store *st, int64_t account_id, const char *public_id,
		     const char *recipient)
{
	int64_t mid = message_rowid(st, account_id, public_id);
	sqlite3_stmt *q;
	json_t *arr;

	if (mid == 0)
		return NULL;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT r.rcpt, e.type, e.at_ms, e.data FROM events e"
			       " JOIN recipients r ON r.id = e.recipient_id WHERE e.message_id = ?1"
			       " AND (?2 IS NULL OR r.rcpt = ?2 COLLATE NOCASE) ORDER BY e.id",
			       -1, &q, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(q, 1, mid);
	if (recipient)
		sqlite3_bind_text(q, 2, recipient, -1, SQLITE_STATIC);
	arr = json_array();
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *data = (const char *)sqlite3_column_text(q, 3);
		json_t *e = data ? json_loads(data, 0, NULL) : NULL;

		if (!json_is_object(e)) {
			json_decref(e);
			e = json_object();
		}
		json_object_set_new(e, "recipient", jtext(q, 0));
		json_object_set_new(e, "type", jtext(q, 1));
		json_object_set_new(e, "at", jtime(sqlite3_column_int64(q, 2)));
		json_array_append_new(arr, e);
	}
	sqlite3_finalize(q);
	return arr;
}

json_t *
store_message_transcripts(struct store *st, int64_t account_id, const char *public_id)
{
	int64_t mid = message_rowid(st, account_id, public_id);
	sqlite3_stmt *q;
	json_t *arr;

	if (mid == 0)
		return NULL;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT public_id, at_ms, text FROM transcripts WHERE message_id = ?"
			       " ORDER BY id",
			       -1, &q, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(q, 1, mid);
	arr = json_array();
	while (sqlite3_step(q) == SQLITE_ROW) {
		json_t *t = json_object();

		json_object_set_new(t, "id", jtext(q, 0));
		json_object_set_new(t, "at", jtime(sqlite3_column_int64(q, 1)));
		json_object_set_new(t, "text", jtext(q, 2));
		json_array_append_new(arr, t);
	}
	sqlite3_finalize(q);
	return arr;
}

/* What the recipient's IT department can do, given what happened. */
static json_t *
next_steps(const char *status, json_t *last)
{
	json_t *a = json_array();
	const char *qid = json_string_value(json_object_get(last, "remote_queue_id"));
	const char *ip = json_string_value(json_object_get(last, "local_ip"));
	const char *at = json_string_value(json_object_get(last, "at"));
	char line[1024];

	if (strcmp(status, "delivered") == 0) {
		snprintf(line, sizeof(line),
			 "Search your mail server's logs for queue id %s around %s (UTC): your "
			 "server accepted the message then and is responsible for it from there.",
			 qid ? qid : "(none given)", at ? at : "the delivery time");
		json_array_append_new(a, json_string(line));
		json_array_append_new(
			a, json_string("Check the recipient's junk/spam folder and any quarantine "
				       "or spam filter (search for the Message-ID above)."));
		snprintf(line, sizeof(line),
			 "Safelist the sending IP address %s and the sender address so that "
			 "filters let future messages through.",
			 ip ? ip : "(see above)");
		json_array_append_new(a, json_string(line));
	} else if (strcmp(status, "bounced") == 0 || strcmp(status, "expired") == 0) {
		json_array_append_new(
			a, json_string("Your server refused the message (or could not be reached "
				       "until it expired): see its reply above. If the address "
				       "should work, check it exists and that your filters do not "
				       "block the sending IP address or domain."));
	} else {
		json_array_append_new(
			a, json_string("Delivery is still being retried: see the last reply above. "
				       "Nothing is needed yet unless your server keeps refusing."));
	}
	return a;
}

json_t *
store_message_evidence(struct store *st, int64_t account_id, const char *public_id,
		       const char *recipient)
{
	json_t *msg = store_message_detail(st, account_id, public_id), *out, *rcpts, *events;
	size_t i, k;
	json_t *r, *e;

	if (msg == NULL)
		return NULL;
	events = store_message_events(st, account_id, public_id, NULL);
	out = json_object();
	json_object_set(out, "message", json_object_get(msg, "id"));
	json_object_set(out, "message_id_header", json_object_get(msg, "message_id_header"));
	json_object_set(out, "subject", json_object_get(msg, "subject"));
	json_object_set(out, "return_path", json_object_get(msg, "from"));
	json_object_set(out, "accepted_at", json_object_get(msg, "received_at"));
	rcpts = json_array();
	json_array_foreach(json_object_get(msg, "recipients"), i, r)
	{
		const char *addr = json_string_value(json_object_get(r, "recipient"));
		const char *status = json_string_value(json_object_get(r, "status"));
		json_t *last = NULL, *ev, *v;

		if (recipient && (addr == NULL || strcasecmp(addr, recipient) != 0))
			continue;
		ev = json_object();
		/* The last attempt of this recipient decides the evidence. */
		json_array_foreach(events, k, e)
		{
			const char *t = json_string_value(json_object_get(e, "type"));
			const char *who = json_string_value(json_object_get(e, "recipient"));

			if (who && addr && strcmp(who, addr) == 0 && t && strcmp(t, "received") != 0)
				last = e;
		}
		json_object_set_new(ev, "recipient", json_string(addr ? addr : ""));
		json_object_set_new(ev, "status", json_string(status ? status : ""));
		json_object_set(ev, "attempts", json_object_get(r, "attempts"));
		json_object_set_new(ev, "delivered_at",
				    status && strcmp(status, "delivered") == 0 && last
					    ? json_incref(json_object_get(last, "at"))
					    : json_null());
		json_object_set_new(ev, "last_attempt_at",
				    last ? json_incref(json_object_get(last, "at")) : json_null());
		static const char *const copy[][2] = {
			{"local_ip", "sending_ip"},     {"helo_name", "sending_host"},
			{"mx_host", "receiving_mx"},    {"remote_ip", "receiving_ip"},
			{"smtp_code", "smtp_code"},     {"enhanced_code", "enhanced_code"},
			{"response", "response"},       {"remote_queue_id", "remote_queue_id"},
			{"tls", "tls"},                 {"transcript_id", "transcript_id"},
			{"route", "route"},             {"category", "category"},
		};
		for (k = 0; k < PH_ARRAY_LEN(copy); k++) {
			v = last ? json_object_get(last, copy[k][0]) : NULL;
			json_object_set_new(ev, copy[k][1], v ? json_incref(v) : json_null());
		}
		json_object_set(ev, "dkim", json_object_get(msg, "dkim"));
		json_object_set_new(ev, "next_steps", next_steps(status ? status : "", last));
		json_array_append_new(rcpts, ev);
	}
	json_object_set_new(out, "recipients", rcpts);
	json_decref(events);
	json_decref(msg);
	return out;
}

static const char *
s_or(const json_t *o, const char *k, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : dflt;
}

char *
store_evidence_text(const json_t *ev)
{
	struct buf b;
	size_t i, k;
	json_t *r, *step;

	buf_init(&b, 1024 * 1024);
	if (buf_printf(&b,
		       "Delivery evidence from posthaste\n"
		       "================================\n"
		       "Message:            %s\n"
		       "Message-ID header:  %s\n"
		       "Subject:            %s\n"
		       "Return-Path:        <%s>\n"
		       "Accepted at:        %s (UTC)\n",
		       s_or(ev, "message", "?"), s_or(ev, "message_id_header", "(none)"),
		       s_or(ev, "subject", "(none)"), s_or(ev, "return_path", ""),
		       s_or(ev, "accepted_at", "?")) < 0)
		goto out;
	json_array_foreach(json_object_get(ev, "recipients"), i, r)
	{
		const json_t *tls = json_object_get(r, "tls");
		json_int_t code = json_integer_value(json_object_get(r, "smtp_code"));
		char codebuf[16] = "";

		if (code)
			snprintf(codebuf, sizeof(codebuf), "%lld ", (long long)code);
		if (buf_printf(&b,
			       "\nRecipient:          <%s>\n"
			       "Status:             %s (%lld attempt%s)\n"
			       "Delivered at:       %s\n"
			       "Sending server:     %s [%s]\n"
			       "Receiving server:   %s [%s]\n"
			       "Server's reply:     %s%s%s%s\n"
			       "Server's queue id:  %s\n",
			       s_or(r, "recipient", "?"), s_or(r, "status", "?"),
			       (long long)json_integer_value(json_object_get(r, "attempts")),
			       json_integer_value(json_object_get(r, "attempts")) == 1 ? "" : "s",
			       s_or(r, "delivered_at", "-"), s_or(r, "sending_host", "-"),
			       s_or(r, "sending_ip", "-"), s_or(r, "receiving_mx", "-"),
			       s_or(r, "receiving_ip", "-"), codebuf, s_or(r, "enhanced_code", ""),
			       json_object_get(r, "enhanced_code") &&
					       !json_is_null(json_object_get(r, "enhanced_code"))
				       ? " "
				       : "",
			       s_or(r, "response", "-"), s_or(r, "remote_queue_id", "(none given)")) <
		    0)
			goto out;
		if (json_is_object(tls)) {
			if (buf_printf(&b, "TLS:                %s %s (certificate %s)\n",
				       s_or(tls, "version", "?"), s_or(tls, "cipher", "?"),
				       json_is_true(json_object_get(tls, "verified"))
					       ? "verified"
					       : "not verified") < 0)
				goto out;
		} else if (buf_puts(&b, "TLS:                no\n") < 0) {
			goto out;
		}
		{
			const json_t *dk = json_object_get(r, "dkim");

			int r2 = json_is_object(dk)
					 ? buf_printf(&b, "DKIM:               d=%s s=%s\n",
						      s_or(dk, "domain", "?"), s_or(dk, "selectors", "?"))
					 : buf_puts(&b, "DKIM:               not signed\n");

			if (r2 < 0)
				goto out;
		}
		if (buf_puts(&b, "\nWhat the recipient's IT department can do:\n") < 0)
			goto out;
		json_array_foreach(json_object_get(r, "next_steps"), k, step)
		{
			if (buf_printf(&b, "  %zu. %s\n", k + 1, json_string_value(step)) < 0)
				goto out;
		}
	}
out:
	return buf_steal(&b);
}

/*
 * Statistics read an hourly rollup, stats_hourly: recipients per account,
 * hour of their message's arrival, recipient domain and current status.
 * Triggers on recipients keep it in the same transaction as every insert
 * and status change, so it is never out of step with the rows, and a
 * chart over a million messages reads a few hundred rows, not a million.
 * A range that does not fall on whole hours is counted from the rows.
 */
#define HOUR_MS 3600000LL

int
store_stats_schema(struct store *st)
{
	sqlite3_stmt *q;
	int have = 0;

	if (store_exec(st,
		       "CREATE TABLE IF NOT EXISTS stats_hourly(account_id INTEGER NOT NULL,"
		       " hour INTEGER NOT NULL, domain TEXT NOT NULL, status TEXT NOT NULL,"
		       " n INTEGER NOT NULL, PRIMARY KEY(account_id, hour, domain, status))"
		       " WITHOUT ROWID;"
		       "CREATE TRIGGER IF NOT EXISTS stats_rcpt_insert AFTER INSERT ON recipients"
		       " BEGIN INSERT INTO stats_hourly(account_id, hour, domain, status, n)"
		       "  SELECT m.account_id, m.received_ms / 3600000 * 3600000, new.domain,"
		       "  new.status, 1 FROM messages m WHERE m.id = new.message_id"
		       "  ON CONFLICT(account_id, hour, domain, status) DO UPDATE SET n = n + 1;"
		       " END;"
		       "CREATE TRIGGER IF NOT EXISTS stats_rcpt_status AFTER UPDATE OF status ON"
		       " recipients WHEN old.status IS NOT new.status"
		       " BEGIN UPDATE stats_hourly SET n = n - 1 WHERE (account_id, hour) ="
		       "  (SELECT account_id, received_ms / 3600000 * 3600000 FROM messages"
		       "   WHERE id = old.message_id) AND domain = old.domain AND status = old.status;"
		       "  INSERT INTO stats_hourly(account_id, hour, domain, status, n)"
		       "  SELECT m.account_id, m.received_ms / 3600000 * 3600000, new.domain,"
		       "  new.status, 1 FROM messages m WHERE m.id = new.message_id"
		       "  ON CONFLICT(account_id, hour, domain, status) DO UPDATE SET n = n + 1;"
		       " END;"
		       "CREATE TRIGGER IF NOT EXISTS stats_rcpt_delete AFTER DELETE ON recipients"
		       " BEGIN UPDATE stats_hourly SET n = n - 1 WHERE (account_id, hour) ="
		       "  (SELECT account_id, received_ms / 3600000 * 3600000 FROM messages"
		       "   WHERE id = old.message_id) AND domain = old.domain AND status = old.status;"
		       " END;") < 0)
		return -1;
	/* A store from before the rollup: count what it holds, once (this runs
	 * inside store_open's schema transaction, with the triggers). */
	if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM meta WHERE key = 'stats_hourly'", -1, &q,
			       NULL) != SQLITE_OK)
		return -1;
	have = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	if (have)
		return 0;
	return store_exec(st, "DELETE FROM stats_hourly;"
			      "INSERT INTO stats_hourly(account_id, hour, domain, status, n)"
			      " SELECT m.account_id, m.received_ms / 3600000 * 3600000, r.domain,"
			      " r.status, count(*) FROM recipients r JOIN messages m"
			      " ON m.id = r.message_id GROUP BY 1, 2, 3, 4;"
			      "INSERT INTO meta(key, value) VALUES('stats_hourly', '1')");
}

/* Counts by (key, status) over [since, until): key is the recipient domain,
 * or with bucket_ms the start of the bucket of received time. From the
 * rollup when the range falls on whole hours (always, with buckets: the
 * caller widens their range), else from the rows. */
static sqlite3_stmt *
stats_query(struct store *st, int64_t account_id, int64_t since_ms, int64_t until_ms,
	    const char *domain, int64_t bucket_ms)
{
	const char *sql;
	sqlite3_stmt *q;

	if (bucket_ms)
		sql = "SELECT hour / ?5 * ?5 AS k, status, sum(n) FROM stats_hourly"
		      " WHERE (?1 = 0 OR account_id = ?1) AND hour >= ?2 AND (?3 = 0 OR hour < ?3)"
		      " AND (?4 IS NULL OR domain = ?4 COLLATE NOCASE)"
		      " GROUP BY k, status HAVING sum(n) > 0 ORDER BY k";
	else if (since_ms % HOUR_MS == 0 && until_ms % HOUR_MS == 0)
		sql = "SELECT domain AS k, status, sum(n) FROM stats_hourly"
		      " WHERE (?1 = 0 OR account_id = ?1) AND hour >= ?2 AND (?3 = 0 OR hour < ?3)"
		      " AND (?4 IS NULL OR domain = ?4 COLLATE NOCASE)"
		      " GROUP BY k, status HAVING sum(n) > 0";
	else
		sql = "SELECT r.domain AS k, r.status, count(*) FROM recipients r JOIN messages m"
		      " ON m.id = r.message_id WHERE (?1 = 0 OR m.account_id = ?1)"
		      " AND (?2 = 0 OR m.received_ms >= ?2) AND (?3 = 0 OR m.received_ms < ?3)"
		      " AND (?4 IS NULL OR r.domain = ?4 COLLATE NOCASE)"
		      " GROUP BY k, r.status";
	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(q, 1, account_id);
	sqlite3_bind_int64(q, 2, since_ms);
	sqlite3_bind_int64(q, 3, until_ms);
	if (domain)
		sqlite3_bind_text(q, 4, domain, -1, SQLITE_TRANSIENT);
	if (bucket_ms)
		sqlite3_bind_int64(q, 5, bucket_ms);
	return q;
}

static const char *const stat_names[] = {"queued",  "deferred",   "delivered", "bounced",
					  "expired", "suppressed", "deleted"};

/* acceptance_rate = delivered / (delivered + bounced + expired), or null. */
static void
set_acceptance(json_t *o)
{
	json_int_t dl = json_integer_value(json_object_get(o, "delivered"));
	json_int_t fin = dl + json_integer_value(json_object_get(o, "bounced")) +
			 json_integer_value(json_object_get(o, "expired"));

	json_object_set_new(o, "acceptance_rate",
			    fin ? json_real((double)dl / (double)fin) : json_null());
}

/* One point per bucket of received time that has mail, oldest first:
 * recipients by their current status, and the bucket's acceptance rate. */
static json_t *
stats_series(struct store *st, int64_t account_id, int64_t since_ms, int64_t until_ms,
	     const char *domain, int64_t bucket_ms)
{
	sqlite3_stmt *q = stats_query(st, account_id, since_ms, until_ms, domain, bucket_ms);
	json_t *arr, *pt = NULL;
	int64_t at = -1;
	size_t i;

	if (q == NULL)
		return NULL;
	arr = json_array();
	while (sqlite3_step(q) == SQLITE_ROW) {
		int64_t t = sqlite3_column_int64(q, 0), n = sqlite3_column_int64(q, 2);
		const char *status = (const char *)sqlite3_column_text(q, 1);

		if (t != at) {
			pt = json_object();
			json_object_set_new(pt, "at", jtime(t > 0 ? t : 1));
			json_object_set_new(pt, "received", json_integer(0));
			for (i = 0; i < PH_ARRAY_LEN(stat_names); i++)
				json_object_set_new(pt, stat_names[i], json_integer(0));
			json_array_append_new(arr, pt);
			at = t;
		}
		json_object_set_new(pt, "received",
				    json_integer(json_integer_value(json_object_get(pt, "received")) + n));
		if (status && json_object_get(pt, status))
			json_object_set_new(pt, status, json_integer(n));
	}
	sqlite3_finalize(q);
	json_array_foreach(arr, i, pt)
		set_acceptance(pt);
	return arr;
}

json_t *
store_stats(struct store *st, int64_t account_id, int64_t since_ms, int64_t until_ms,
	    const char *domain, int64_t bucket_ms)
{
	sqlite3_stmt *q;
	json_t *out, *by, *total, *d;
	int64_t t[PH_ARRAY_LEN(stat_names)] = {0};
	const char *k;

	/* Buckets count whole hours: the range widens to them. */
	if (bucket_ms) {
		since_ms -= since_ms % HOUR_MS;
		if (until_ms % HOUR_MS)
			until_ms += HOUR_MS - until_ms % HOUR_MS;
	}
	if ((q = stats_query(st, account_id, since_ms, until_ms, domain, 0)) == NULL)
		return NULL;
	out = json_object();
	by = json_object();
	total = json_object();
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *dom = (const char *)sqlite3_column_text(q, 0);
		const char *status = (const char *)sqlite3_column_text(q, 1);
		int64_t n = sqlite3_column_int64(q, 2);

		if ((d = json_object_get(by, dom ? dom : "")) == NULL) {
			d = json_object();
			json_object_set_new(by, dom ? dom : "", d);
		}
		json_object_set_new(d, status ? status : "?", json_integer(n));
		for (size_t i = 0; i < PH_ARRAY_LEN(stat_names); i++)
			if (status && strcmp(status, stat_names[i]) == 0)
				t[i] += n;
	}
	sqlite3_finalize(q);
	/* "deleted" is counted per domain, and left out of the totals as before. */
	for (size_t i = 0; i < PH_ARRAY_LEN(stat_names) - 1; i++)
		json_object_set_new(total, stat_names[i], json_integer(t[i]));
	set_acceptance(total);
	json_object_foreach(by, k, d)
		set_acceptance(d);
	json_object_set_new(out, "since", jtime(since_ms));
	json_object_set_new(out, "until", jtime(until_ms));
	json_object_set_new(out, "total", total);
	json_object_set_new(out, "by_domain", by);
	if (bucket_ms > 0) {
		json_t *series = stats_series(st, account_id, since_ms, until_ms, domain, bucket_ms);

		if (series == NULL) {
			json_decref(out);
			return NULL;
		}
		json_object_set_new(out, "bucket_seconds", json_integer(bucket_ms / 1000));
		json_object_set_new(out, "series", series);
	}
	return out;
}

json_t *
store_messages_for_recipient(struct store *st, int64_t account_id, const char *rcpt,
			     unsigned max)
{
	sqlite3_stmt *q;
	json_t *arr = json_array();

	if (sqlite3_prepare_v2(st->db,
			       "SELECT DISTINCT m.public_id, m.id FROM recipients r JOIN messages m"
			       " ON m.id = r.message_id WHERE r.rcpt = ?1 COLLATE NOCASE"
			       " AND (?2 = 0 OR m.account_id = ?2) ORDER BY m.id DESC LIMIT ?3",
			       -1, &q, NULL) != SQLITE_OK)
		return arr;
	sqlite3_bind_text(q, 1, rcpt, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, account_id);
	sqlite3_bind_int64(q, 3, max);
	while (sqlite3_step(q) == SQLITE_ROW)
		json_array_append_new(arr, jtext(q, 0));
	sqlite3_finalize(q);
	return arr;
}

json_t *
store_queue_list(struct store *st, int64_t account_id, const char *status, int64_t cursor,
		 unsigned limit)
{
	sqlite3_stmt *q;
	json_t *out, *data = json_array();
	unsigned n = 0;
	int64_t last = 0;

	/* The (status, message_id) index, newest first; the cursor is the
	 * last recipient id seen, and ids rise with message ids. */
	if (sqlite3_prepare_v2(
		    st->db,
		    "SELECT r.id, m.public_id, r.rcpt, r.status, r.attempts, m.received_ms,"
		    " r.next_attempt_ms, m.subject, m.mail_from, e.at_ms, e.data"
		    " FROM recipients r CROSS JOIN messages m ON m.id = r.message_id"
		    " LEFT JOIN events e ON e.id = (SELECT x.id FROM events x"
		    "  WHERE x.recipient_id = r.id AND x.type <> 'received'"
		    "  ORDER BY x.at_ms DESC, x.id DESC LIMIT 1)"
		    " WHERE r.status = ?1 AND (?2 = 0 OR m.account_id = ?2)"
		    " AND r.message_id <= coalesce((SELECT message_id FROM recipients"
		    "  WHERE id = ?3), 9223372036854775807) AND r.id < ?3"
		    " ORDER BY r.message_id DESC, r.id DESC LIMIT ?4",
		    -1, &q, NULL) != SQLITE_OK) {
		json_decref(data);
		return NULL;
	}
	sqlite3_bind_text(q, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, account_id);
	/* No OR here: "cursor or none" would keep SQLite from seeking the
	 * index to the cursor (40 ms at 1M instead of 1). */
	sqlite3_bind_int64(q, 3, cursor ? cursor : INT64_MAX);
	sqlite3_bind_int64(q, 4, (int64_t)limit + 1);
	while (sqlite3_step(q) == SQLITE_ROW) {
		json_t *r, *ev = NULL, *lastj = json_null();
		const char *d = (const char *)sqlite3_column_text(q, 10);

		if (++n > limit)
			break;
		last = sqlite3_column_int64(q, 0);
		if (d && (ev = json_loads(d, 0, NULL)) != NULL) {
			lastj = json_pack("{s:o,s:O?,s:O?,s:O?,s:O?,s:O?}", "at",
					  jtime(sqlite3_column_int64(q, 9)), "smtp_code",
					  json_object_get(ev, "smtp_code"), "enhanced_code",
					  json_object_get(ev, "enhanced_code"), "response",
					  json_object_get(ev, "response"), "mx_host",
					  json_object_get(ev, "mx_host"), "remote_ip",
					  json_object_get(ev, "remote_ip"));
			json_decref(ev);
		}
		r = json_object();
		json_object_set_new(r, "message", jtext(q, 1));
		json_object_set_new(r, "recipient", jtext(q, 2));
		json_object_set_new(r, "status", jtext(q, 3));
		json_object_set_new(r, "attempts", json_integer(sqlite3_column_int(q, 4)));
		json_object_set_new(r, "received_at", jtime(sqlite3_column_int64(q, 5)));
		json_object_set_new(r, "next_attempt_at",
				    sqlite3_column_type(q, 6) == SQLITE_NULL
					    ? json_null()
					    : jtime(sqlite3_column_int64(q, 6)));
		json_object_set_new(r, "subject", jtext(q, 7));
		json_object_set_new(r, "from", jtext(q, 8));
		json_object_set_new(r, "last", lastj ? lastj : json_null());
		json_array_append_new(data, r);
	}
	sqlite3_finalize(q);
	out = page_json(data, n > limit, last);
	return out;
}

int
store_queue_target(struct store *st, int64_t account_id, const char *public_id, const char *rcpt,
		   int64_t *rcpt_id)
{
	sqlite3_stmt *q;
	int64_t msg = message_rowid(st, account_id, public_id);
	int rc = -1;

	*rcpt_id = 0;
	if (msg == 0)
		return -1;
	if (rcpt == NULL)
		return 0;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT id FROM recipients WHERE message_id = ? AND rcpt = ? COLLATE"
			       " NOCASE ORDER BY status IN ('queued', 'deferred') DESC, id LIMIT 1",
			       -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, msg);
	sqlite3_bind_text(q, 2, rcpt, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		*rcpt_id = sqlite3_column_int64(q, 0);
		rc = 0;
	}
	sqlite3_finalize(q);
	return rc;
}
