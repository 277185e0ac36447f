/*
 * NAME
 *	store_session - the dashboard's sign-in sessions
 * DESCRIPTION
 *	A session is a random 256-bit token, given to the browser once in
 *	an HttpOnly cookie and stored here only as its SHA-256, so a copy
 *	of the database opens no session. Each has a CSRF token (random,
 *	sent back by the page in a header on every state-changing request),
 *	an absolute expiry and an idle limit. Sessions live in the store,
 *	so a daemon restart signs nobody out.
 *
 *	The idle clock is written back at most every STORE_SESSION_TOUCH_MS
 *	(or a quarter of the idle limit when that is shorter), so reading
 *	pages costs no write per request.
 */
#include <string.h>

#include <openssl/sha.h>

#include "store/store_int.h"

#define STORE_SESSION_TOUCH_MS (60 * 1000)

int
store_session_schema(struct store *st)
{
	return store_exec(st, "CREATE TABLE IF NOT EXISTS web_sessions(id INTEGER PRIMARY KEY,"
			      " token_hash TEXT NOT NULL UNIQUE, account_id INTEGER NOT NULL"
			      " REFERENCES accounts(id), csrf TEXT NOT NULL, created_ms INTEGER NOT"
			      " NULL, seen_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,"
			      " ip TEXT NOT NULL)");
}

/* The session stored under a token's hash, with its account's name: its
 * row id, or 0 when there is none. */
static int64_t
session_row(struct store *st, const char *hash, struct store_session *out)
{
	sqlite3_stmt *q;
	int64_t id = 0;

	if (sqlite3_prepare_v2(st->db,
			       "SELECT s.id, s.account_id, a.name, s.csrf, s.created_ms, s.seen_ms,"
			       " s.expires_ms FROM web_sessions s JOIN accounts a ON a.id = s.account_id"
			       " WHERE s.token_hash = ?",
			       -1, &q, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(q, 1, hash, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		id = sqlite3_column_int64(q, 0);
		out->account_id = sqlite3_column_int64(q, 1);
		snprintf(out->account, sizeof(out->account), "%s", sqlite3_column_text(q, 2));
		snprintf(out->csrf, sizeof(out->csrf), "%s", sqlite3_column_text(q, 3));
		out->created_ms = sqlite3_column_int64(q, 4);
		out->seen_ms = sqlite3_column_int64(q, 5);
		out->expires_ms = sqlite3_column_int64(q, 6);
	}
	sqlite3_finalize(q);
	return id;
}

static void
token_hash(const char *token, char out[STORE_TOKEN_LEN + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)token, strlen(token), md);
	hex_encode(md, sizeof(md), out);
}

static void
random_token(char out[STORE_TOKEN_LEN + 1])
{
	unsigned char r[STORE_TOKEN_LEN / 2];

	rand_bytes(r, sizeof(r));
	hex_encode(r, sizeof(r), out);
	explicit_bzero(r, sizeof(r));
}

int
store_session_create(struct store *st, int64_t account_id, int64_t lifetime_ms, const char *ip,
		     char token[STORE_TOKEN_LEN + 1], struct store_session *out)
{
	sqlite3_stmt *q;
	char h[STORE_TOKEN_LEN + 1], csrf[STORE_TOKEN_LEN + 1];
	int64_t now = time_now_ms();
	int rc = -1;

	/* Expired sessions go when new ones come. */
	if (sqlite3_prepare_v2(st->db, "DELETE FROM web_sessions WHERE expires_ms <= ?", -1, &q,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, now);
		sqlite3_step(q);
		sqlite3_finalize(q);
	}
	random_token(token);
	token_hash(token, h);
	random_token(csrf);
	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO web_sessions(token_hash, account_id, csrf, created_ms,"
			       " seen_ms, expires_ms, ip) VALUES(?,?,?,?,?,?,?)",
			       -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, h, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, account_id);
	sqlite3_bind_text(q, 3, csrf, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, now);
	sqlite3_bind_int64(q, 5, now);
	sqlite3_bind_int64(q, 6, now + lifetime_ms);
	sqlite3_bind_text(q, 7, ip, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_DONE)
		rc = 0;
	sqlite3_finalize(q);
	/* Read back as store_session_get would (the account's name too). */
	if (rc == 0 && session_row(st, h, out) == 0)
		rc = -1;
	return rc;
}

int
store_session_get(struct store *st, const char *token, int64_t idle_ms, struct store_session *out)
{
	sqlite3_stmt *q;
	char h[STORE_TOKEN_LEN + 1];
	int64_t now = time_now_ms(), id, touch;

	if (strlen(token) != STORE_TOKEN_LEN)
		return -1;
	token_hash(token, h);
	if ((id = session_row(st, h, out)) == 0)
		return -1;
	if (now >= out->expires_ms || now - out->seen_ms >= idle_ms) {
		store_session_delete(st, token);
		return -1;
	}
	touch = idle_ms / 4 < STORE_SESSION_TOUCH_MS ? idle_ms / 4 : STORE_SESSION_TOUCH_MS;
	if (now - out->seen_ms >= touch &&
	    sqlite3_prepare_v2(st->db, "UPDATE web_sessions SET seen_ms = ? WHERE id = ?", -1, &q,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, now);
		sqlite3_bind_int64(q, 2, id);
		sqlite3_step(q);
		sqlite3_finalize(q);
		out->seen_ms = now;
	}
	return 0;
}

void
store_session_delete(struct store *st, const char *token)
{
	sqlite3_stmt *q;
	char h[STORE_TOKEN_LEN + 1];

	token_hash(token, h);
	if (sqlite3_prepare_v2(st->db, "DELETE FROM web_sessions WHERE token_hash = ?", -1, &q,
			       NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(q, 1, h, -1, SQLITE_STATIC);
	sqlite3_step(q);
	sqlite3_finalize(q);
}
