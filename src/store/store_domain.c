/*
 * NAME
 *	store_domain - sender domains, their DKIM keys and check results
 * DESCRIPTION
 *	domains(id, account_id, domain, sending_ips, verified, checks JSON,
 *	        checked_ms, created_ms)
 *	dkim_keys(id, domain_id, selector, alg, private_pem, state, created_ms)
 *	  state: pending (new, to be published; does not sign yet), active
 *	  (signs), retiring (replaced: stays published, no longer signs),
 *	  retired (may leave DNS). Private keys are stored in the store file, which is
 *	  readable by the daemon's user only (mode 0600 via its umask).
 */
#include <string.h>
#include <strings.h>

#include "store/store_int.h"
#include "store/store_report.h"

static const char domain_schema[] =
	"CREATE TABLE IF NOT EXISTS domains(id INTEGER PRIMARY KEY,"
	" account_id INTEGER NOT NULL REFERENCES accounts(id), domain TEXT NOT NULL,"
	" sending_ips TEXT NOT NULL, verified INTEGER NOT NULL DEFAULT 0, checks TEXT,"
	" checked_ms INTEGER, created_ms INTEGER NOT NULL, UNIQUE(domain COLLATE NOCASE));"
	"CREATE TABLE IF NOT EXISTS dkim_keys(id INTEGER PRIMARY KEY,"
	" domain_id INTEGER NOT NULL REFERENCES domains(id), selector TEXT NOT NULL,"
	" alg TEXT NOT NULL, private_pem TEXT NOT NULL, state TEXT NOT NULL,"
	" created_ms INTEGER NOT NULL, UNIQUE(domain_id, selector));"
	"ALTER TABLE accounts ADD COLUMN allow_unverified INTEGER NOT NULL DEFAULT 0;";

int
store_domain_schema(struct store *st)
{
	/* The ALTER fails harmlessly on a store that already has the column. */
	char *msg = NULL;

	if (sqlite3_exec(st->db, domain_schema, NULL, NULL, &msg) != SQLITE_OK) {
		int dup = msg && strstr(msg, "duplicate column") != NULL;

		sqlite3_free(msg);
		return dup ? 0 : -1;
	}
	return 0;
}

int
store_account_id(struct store *st, const char *name, int64_t *id)
{
	sqlite3_stmt *q;
	int rc = -1;

	if (sqlite3_prepare_v2(st->db, "SELECT id FROM accounts WHERE name = ?", -1, &q, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		*id = sqlite3_column_int64(q, 0);
		rc = 0;
	}
	sqlite3_finalize(q);
	return rc;
}

int
store_account_set_allow_unverified(struct store *st, int64_t id, int allow)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "UPDATE accounts SET allow_unverified = ? WHERE id = ?", -1,
			       &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int(q, 1, allow);
	sqlite3_bind_int64(q, 2, id);
	rc = sqlite3_step(q) == SQLITE_DONE && sqlite3_changes(st->db) == 1 ? 0 : -1;
	sqlite3_finalize(q);
	return rc;
}

/* Insert keys in their given state (default active); inside a transaction. */
static int
insert_keys(struct store *st, int64_t domain_id, const struct store_dkim_key *keys, size_t nkeys,
	    int64_t now)
{
	for (size_t i = 0; i < nkeys; i++) {
		sqlite3_stmt *q;
		int ok;

		if (sqlite3_prepare_v2(st->db,
				       "INSERT INTO dkim_keys(domain_id, selector, alg, private_pem,"
				       " state, created_ms) VALUES(?,?,?,?,?,?)",
				       -1, &q, NULL) != SQLITE_OK)
			return -1;
		sqlite3_bind_int64(q, 1, domain_id);
		sqlite3_bind_text(q, 2, keys[i].selector, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, keys[i].alg, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, keys[i].pem, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 5, keys[i].state[0] ? keys[i].state : "active", -1,
				  SQLITE_STATIC);
		sqlite3_bind_int64(q, 6, now);
		ok = sqlite3_step(q) == SQLITE_DONE;
		sqlite3_finalize(q);
		if (!ok)
			return -1;
	}
	return 0;
}

int
store_dkim_keys_add(struct store *st, int64_t domain_id, const struct store_dkim_key *keys,
		    size_t nkeys)
{
	if (store_exec(st, "BEGIN IMMEDIATE") < 0)
		return -1;
	if (insert_keys(st, domain_id, keys, nkeys, time_now_ms()) < 0) {
		store_exec(st, "ROLLBACK");
		return -1;
	}
	return store_exec(st, "COMMIT");
}

/* Move every key of a domain in state from to state to; the count moved. */
int
store_dkim_keys_move(struct store *st, int64_t domain_id, const char *from, const char *to)
{
	sqlite3_stmt *q;
	int n = -1;

	if (sqlite3_prepare_v2(st->db,
			       "UPDATE dkim_keys SET state = ?3 WHERE domain_id = ?1 AND state = ?2",
			       -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, domain_id);
	sqlite3_bind_text(q, 2, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, to, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_DONE)
		n = sqlite3_changes(st->db);
	sqlite3_finalize(q);
	return n;
}

int
store_domain_add(struct store *st, int64_t account_id, const char *domain, const char *ips,
		 const struct store_dkim_key *keys, size_t nkeys, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	int64_t now = time_now_ms(), did;

	if (store_exec(st, "BEGIN IMMEDIATE") < 0) {
		snprintf(err, errlen, "store busy");
		return -1;
	}
	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO domains(account_id, domain, sending_ips, created_ms)"
			       " VALUES(?,?,?,?)",
			       -1, &q, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(q, 1, account_id);
	sqlite3_bind_text(q, 2, domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, ips, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, now);
	if (sqlite3_step(q) != SQLITE_DONE) {
		if (sqlite3_errcode(st->db) == SQLITE_CONSTRAINT)
			snprintf(err, errlen, "domain %s is already added", domain);
		else
			snprintf(err, errlen, "store: %s", sqlite3_errmsg(st->db));
		sqlite3_finalize(q);
		store_exec(st, "ROLLBACK");
		return -1;
	}
	sqlite3_finalize(q);
	q = NULL;
	did = sqlite3_last_insert_rowid(st->db);
	if (insert_keys(st, did, keys, nkeys, now) < 0)
		goto fail;
	if (store_exec(st, "COMMIT") < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "store: %s", sqlite3_errmsg(st->db));
	sqlite3_finalize(q);
	store_exec(st, "ROLLBACK");
	return -1;
}

/* Step a query of (id, account_id, domain, sending_ips, verified) once
 * into out, and finalise it; 0 when a row came. */
static int
domain_row(sqlite3_stmt *q, struct store_domain *out)
{
	int rc = -1;

	if (sqlite3_step(q) == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		out->id = sqlite3_column_int64(q, 0);
		out->account_id = sqlite3_column_int64(q, 1);
		snprintf(out->domain, sizeof(out->domain), "%s", sqlite3_column_text(q, 2));
		snprintf(out->sending_ips, sizeof(out->sending_ips), "%s",
			 sqlite3_column_text(q, 3));
		out->verified = sqlite3_column_int(q, 4);
		rc = 0;
	}
	sqlite3_finalize(q);
	return rc;
}

int
store_domain_get(struct store *st, int64_t account_id, const char *domain,
		 struct store_domain *out)
{
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(st->db,
			       "SELECT d.id, d.account_id, d.domain, d.sending_ips, d.verified,"
			       " a.allow_unverified FROM domains d JOIN accounts a ON a.id ="
			       " d.account_id WHERE d.domain = ?1 COLLATE NOCASE"
			       " AND (?2 = 0 OR d.account_id = ?2)",
			       -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, account_id);
	return domain_row(q, out);
}

int
store_domain_keys(struct store *st, int64_t domain_id, struct store_dkim_key **out, size_t *n)
{
	sqlite3_stmt *q;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT selector, alg, private_pem, state FROM dkim_keys"
			       " WHERE domain_id = ? AND state != 'retired' ORDER BY id",
			       -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, domain_id);
	while (sqlite3_step(q) == SQLITE_ROW) {
		struct store_dkim_key *k;

		if (*n == cap) {
			cap = cap ? cap * 2 : 4;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		k = &(*out)[(*n)++];
		memset(k, 0, sizeof(*k));
		snprintf(k->selector, sizeof(k->selector), "%s", sqlite3_column_text(q, 0));
		snprintf(k->alg, sizeof(k->alg), "%s", sqlite3_column_text(q, 1));
		k->pem = xstrdup((const char *)sqlite3_column_text(q, 2));
		snprintf(k->state, sizeof(k->state), "%s", sqlite3_column_text(q, 3));
	}
	sqlite3_finalize(q);
	return 0;
}

void
store_dkim_keys_free(struct store_dkim_key *k, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (k[i].pem) {
			explicit_bzero(k[i].pem, strlen(k[i].pem));
			free(k[i].pem);
		}
	}
	free(k);
}

int
store_domain_set_checks(struct store *st, int64_t domain_id, int verified, const char *checks)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       "UPDATE domains SET verified = ?, checks = ?, checked_ms = ?"
			       " WHERE id = ?",
			       -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int(q, 1, verified);
	sqlite3_bind_text(q, 2, checks, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, time_now_ms());
	sqlite3_bind_int64(q, 4, domain_id);
	rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(q);
	return rc;
}

int
store_sender_allowed(struct store *st, int64_t account_id, const char *domain)
{
	/* Twice per message (MAIL FROM, From:): a statement prepared once. */
	sqlite3_stmt *q = st->q[Q_SENDER_ALLOWED];
	int ok = 0;

	sqlite3_bind_int64(q, 1, account_id);
	sqlite3_bind_text(q, 2, domain ? domain : "", -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW)
		ok = sqlite3_column_int(q, 0);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return ok;
}

int
store_domain_ids(struct store *st, int64_t **ids, size_t *n)
{
	sqlite3_stmt *q;
	size_t cap = 0;

	*ids = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT id FROM domains ORDER BY id", -1, &q, NULL) !=
	    SQLITE_OK)
		return -1;
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*ids = xrealloc(*ids, cap * sizeof(**ids));
		}
		(*ids)[(*n)++] = sqlite3_column_int64(q, 0);
	}
	sqlite3_finalize(q);
	return 0;
}

int
store_domain_by_id(struct store *st, int64_t id, struct store_domain *out)
{
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(st->db,
			       "SELECT id, account_id, domain, sending_ips, verified FROM domains"
			       " WHERE id = ?",
			       -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, id);
	return domain_row(q, out);
}

json_t *
store_domains_json(struct store *st, int64_t account_id, const char *only)
{
	sqlite3_stmt *q;
	json_t *arr = json_array();

	if (sqlite3_prepare_v2(st->db,
			       "SELECT d.domain, d.verified, d.checks, d.checked_ms, d.sending_ips,"
			       " (SELECT group_concat(selector || ':' || alg, ',') FROM dkim_keys k"
			       " WHERE k.domain_id = d.id AND k.state != 'retired'),"
			       " (SELECT json_group_array(json_object('selector', selector,"
			       "  'algorithm', alg, 'state', state)) FROM dkim_keys k"
			       "  WHERE k.domain_id = d.id AND k.state != 'retired')"
			       " FROM domains d WHERE d.account_id = ?1"
			       " AND (?2 IS NULL OR d.domain = ?2 COLLATE NOCASE) ORDER BY d.domain",
			       -1, &q, NULL) != SQLITE_OK)
		return arr;
	sqlite3_bind_int64(q, 1, account_id);
	if (only)
		sqlite3_bind_text(q, 2, only, -1, SQLITE_STATIC);
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *checks = (const char *)sqlite3_column_text(q, 2);
		const char *keys = (const char *)sqlite3_column_text(q, 6);
		json_t *c = checks ? json_loads(checks, 0, NULL) : NULL;
		json_t *k = keys ? json_loads(keys, 0, NULL) : NULL;
		char ts[TIME_RFC3339_LEN];

		time_rfc3339(sqlite3_column_int64(q, 3), ts);
		json_array_append_new(
			arr, json_pack("{s:s,s:b,s:o,s:o,s:s,s:s,s:o}", "domain",
				       (const char *)sqlite3_column_text(q, 0), "verified",
				       sqlite3_column_int(q, 1), "checks", c ? c : json_null(),
				       "checked_at",
				       sqlite3_column_type(q, 3) == SQLITE_NULL ? json_null()
										: json_string(ts),
				       "sending_ips", (const char *)sqlite3_column_text(q, 4), "keys",
				       sqlite3_column_text(q, 5) ? (const char *)sqlite3_column_text(q, 5)
								 : "",
				       "dkim_keys", k ? k : json_array()));
	}
	sqlite3_finalize(q);
	return arr;
}
