/*
 * NAME
 *	store_sqlite - the store on embedded SQLite
 * DESCRIPTION
 *	WAL mode, synchronous=FULL (the WAL is fsynced at every commit),
 *	busy timeout so the CLI and the daemon can share the file. Every
 *	statement is prepared once and bound: no envelope data ever reaches
 *	SQL text.
 *
 *	Schema (version 1):
 *	  accounts(id, name, created_ms)
 *	  credentials(account_id, kind: api_key|smtp|trust, lookup, secret_hash)
 *	  messages(id, public_id, account_id, mail_from, message_id_hdr,
 *	           subject, size, spool_seg, spool_off, spool_len, received_ms,
 *	           client_ip, helo, auth_user, tls_version, tls_cipher, source)
 *	  recipients(id, message_id, rcpt, domain, status, attempts,
 *	           next_attempt_ms, updated_ms)
 *	  events(id, message_id, recipient_id, type, at_ms, data JSON)
 */
#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <sqlite3.h>

#include "store/store_int.h"

#define STORE_BUSY_TIMEOUT_MS 10000
#define STORE_EVENT_DATA_MAX 4096


static const char *const store_sql[Q_COUNT] = {
	[Q_INS_MSG] = "INSERT INTO messages(public_id, account_id, mail_from, message_id_hdr,"
		      " subject, size, spool_seg, spool_off, spool_len, received_ms, client_ip,"
		      " helo, auth_user, tls_version, tls_cipher, source, dkim_domain,"
		      " dkim_selectors) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[Q_INS_RCPT] = "INSERT INTO recipients(message_id, rcpt, domain, status, attempts,"
		       " next_attempt_ms, updated_ms) VALUES(?,?,?,'queued',0,?,?)",
	[Q_INS_EVENT] = "INSERT INTO events(message_id, recipient_id, type, at_ms, data)"
			" VALUES(?,?,?,?,?)",
	[Q_CRED_LOOKUP] = "SELECT account_id, secret_hash FROM credentials"
			  " WHERE kind = ? AND lookup = ?",
	[Q_TRUST_LIST] = "SELECT account_id, lookup FROM credentials WHERE kind = 'trust'"
			 " ORDER BY id",
	[Q_QUEUED_WALK] = "SELECT m.public_id, r.id, m.mail_from, r.rcpt, r.status, r.attempts,"
			  " m.received_ms, r.next_attempt_ms, m.spool_seg, m.spool_off,"
			  " m.spool_len, m.id, m.account_id, m.dkim_domain FROM recipients r"
			  " JOIN messages m ON m.id = r.message_id"
			  " WHERE r.status IN ('queued','deferred') ORDER BY r.message_id, r.id",
	[Q_QUEUED_COUNT] = "SELECT count(*) FROM recipients WHERE status IN ('queued','deferred')",
	[Q_INS_TRANSCRIPT] = "INSERT INTO transcripts(public_id, message_id, at_ms, text)"
			     " VALUES(?,?,?,?)",
	[Q_INS_FTS] = "INSERT INTO messages_fts(rowid, subject) VALUES(?,?)",
	[Q_DATA_VERSION] = "PRAGMA data_version",
	[Q_SENDER_ALLOWED] = "SELECT (SELECT allow_unverified FROM accounts WHERE id = ?1) OR"
			     " EXISTS (SELECT 1 FROM domains WHERE account_id = ?1 AND verified"
			     " AND domain = ?2 COLLATE NOCASE)",
	[Q_UPD_RCPT] = "UPDATE recipients SET status = ?, attempts = ?, next_attempt_ms = ?,"
		       " updated_ms = ? WHERE id = ?",
};

static const char store_schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS accounts(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" created_ms INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS credentials(id INTEGER PRIMARY KEY,"
	" account_id INTEGER NOT NULL REFERENCES accounts(id), kind TEXT NOT NULL,"
	" lookup TEXT NOT NULL, secret_hash TEXT, created_ms INTEGER NOT NULL,"
	" UNIQUE(kind, lookup));"
	"CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY,"
	" public_id TEXT NOT NULL UNIQUE, account_id INTEGER NOT NULL, mail_from TEXT NOT NULL,"
	" message_id_hdr TEXT, subject TEXT, size INTEGER NOT NULL, spool_seg INTEGER NOT NULL,"
	" spool_off INTEGER NOT NULL, spool_len INTEGER NOT NULL, received_ms INTEGER NOT NULL,"
	" client_ip TEXT, helo TEXT, auth_user TEXT, tls_version TEXT, tls_cipher TEXT,"
	" source TEXT NOT NULL, dkim_domain TEXT, dkim_selectors TEXT);"
	"CREATE INDEX IF NOT EXISTS messages_account ON messages(account_id, id);"
	"CREATE INDEX IF NOT EXISTS messages_from ON messages(account_id, mail_from);"
	"CREATE INDEX IF NOT EXISTS messages_msgid ON messages(message_id_hdr);"
	"CREATE INDEX IF NOT EXISTS messages_received ON messages(received_ms);"
	"CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(subject, content='',"
	" tokenize='trigram');"
	"CREATE TABLE IF NOT EXISTS recipients(id INTEGER PRIMARY KEY,"
	" message_id INTEGER NOT NULL REFERENCES messages(id), rcpt TEXT NOT NULL,"
	" domain TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,"
	" next_attempt_ms INTEGER, updated_ms INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS recipients_message ON recipients(message_id);"
	"CREATE INDEX IF NOT EXISTS recipients_rcpt_nocase ON recipients(rcpt COLLATE NOCASE);"
	"CREATE INDEX IF NOT EXISTS recipients_status ON recipients(status, message_id);"
	"CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY,"
	" message_id INTEGER NOT NULL, recipient_id INTEGER NOT NULL, type TEXT NOT NULL,"
	" at_ms INTEGER NOT NULL, data TEXT);"
	"CREATE INDEX IF NOT EXISTS events_recipient ON events(recipient_id, at_ms);"
	"CREATE INDEX IF NOT EXISTS events_message ON events(message_id);"
	"CREATE TABLE IF NOT EXISTS transcripts(id INTEGER PRIMARY KEY,"
	" public_id TEXT NOT NULL UNIQUE, message_id INTEGER NOT NULL, at_ms INTEGER NOT NULL,"
	" text TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS transcripts_message ON transcripts(message_id);"
	"INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1');";


int
store_exec(struct store *st, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error("store sql error=\"%s\"", msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int
store_open(const char *path, struct store **out, char *err, size_t errlen)
{
	struct store *st = xcalloc(1, sizeof(*st));
	int i;

	buf_init(&st->scratch, STORE_EVENT_DATA_MAX);
	if (sqlite3_open_v2(path, &st->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "store %s: %s", path,
			 st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
	if (store_exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			   "PRAGMA foreign_keys=ON;") < 0 ||
	    store_exec(st, "BEGIN IMMEDIATE") < 0)
		goto schema_fail;
	if (store_exec(st, store_schema) < 0 || store_domain_schema(st) < 0 ||
	    store_session_schema(st) < 0 || store_stats_schema(st) < 0) {
		store_exec(st, "ROLLBACK");
		goto schema_fail;
	}
	if (store_exec(st, "COMMIT") < 0)
		goto schema_fail;
	for (i = 0; i < Q_COUNT; i++)
		if (sqlite3_prepare_v3(st->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &st->q[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "store %s: prepare: %s", path,
				 sqlite3_errmsg(st->db));
			goto fail;
		}
	*out = st;
	return 0;
schema_fail:
	snprintf(err, errlen, "store %s: cannot set up the schema: %s", path,
		 sqlite3_errmsg(st->db));
fail:
	store_close(st);
	return -1;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(st->q[i]);
	sqlite3_close(st->db);
	buf_free(&st->scratch);
	free(st);
}

/* --- secrets ----------------------------------------------------------- */

/* yescrypt hash of a secret, with a fresh salt. */
static int
store_hash_secret(const char *secret, char *out, size_t outlen)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	const char *h;

	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL)
		return -1;
	memset(&cd, 0, sizeof(cd));
	h = crypt_rn(secret, salt, &cd, sizeof(cd));
	if (h == NULL || h[0] == '*' || strlen(h) >= outlen)
		return -1;
	snprintf(out, outlen, "%s", h);
	explicit_bzero(&cd, sizeof(cd));
	return 0;
}

/* Constant-time check of a secret against a stored yescrypt hash. */
static int
store_check_secret(const char *secret, const char *hash)
{
	struct crypt_data cd;
	const char *h;
	size_t n;
	unsigned char diff = 0;

	memset(&cd, 0, sizeof(cd));
	h = crypt_rn(secret, hash, &cd, sizeof(cd));
	n = strlen(hash);
	if (h == NULL || h[0] == '*' || strlen(h) != n) {
		explicit_bzero(&cd, sizeof(cd));
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(h[i] ^ hash[i]);
	explicit_bzero(&cd, sizeof(cd));
	return diff == 0 ? 0 : -1;
}

/* Look up a credential of a kind; secret_hash copied out. */
static int
store_cred_lookup(struct store *st, const char *kind, const char *lookup, int64_t *account_id,
		  char *hash, size_t hashlen)
{
	sqlite3_stmt *q = st->q[Q_CRED_LOOKUP];
	int rc = -1;

	sqlite3_bind_text(q, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, lookup, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		const unsigned char *h = sqlite3_column_text(q, 1);

		*account_id = sqlite3_column_int64(q, 0);
		snprintf(hash, hashlen, "%s", h ? (const char *)h : "");
		rc = 0;
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc;
}

int
store_auth_smtp(struct store *st, const char *user, const char *password, int64_t *account_id)
{
	char hash[256];
	int64_t id;

	if (store_cred_lookup(st, "smtp", user, &id, hash, sizeof(hash)) < 0) {
		/* Same work for unknown users, so timing does not tell them apart. */
		store_check_secret(password, "$y$j9T$00000000000000000000000$"
					     "0000000000000000000000000000000000000000000");
		return -1;
	}
	if (store_check_secret(password, hash) < 0)
		return -1;
	*account_id = id;
	return 0;
}

/* API keys look like ph_<12 key id chars>_<32 secret chars>. */
int
store_auth_api_key(struct store *st, const char *key, int64_t *account_id)
{
	char keyid[16], hash[256];
	const char *secret;
	int64_t id;

	if (strncmp(key, "ph_", 3) != 0 || strlen(key) != 3 + 12 + 1 + 32 || key[15] != '_')
		return -1;
	memcpy(keyid, key + 3, 12);
	keyid[12] = '\0';
	secret = key + 16;
	if (store_cred_lookup(st, "api_key", keyid, &id, hash, sizeof(hash)) < 0)
		return -1;
	if (store_check_secret(secret, hash) < 0)
		return -1;
	*account_id = id;
	return 0;
}

static int
store_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > STORE_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

static int
store_insert_cred(struct store *st, int64_t account_id, const char *kind, const char *lookup,
		  const char *hash, int64_t now)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO credentials(account_id, kind, lookup, secret_hash,"
			       " created_ms) VALUES(?,?,?,?,?)",
			       -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, account_id);
	sqlite3_bind_text(q, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, lookup, -1, SQLITE_STATIC);
	if (hash)
		sqlite3_bind_text(q, 4, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, now);
	rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(q);
	return rc;
}

int
store_account_create(struct store *st, const char *name, const char *const *trust,
		     size_t ntrust, struct store_account_secrets *out, char *err, size_t errlen)
{
	char keyid[13], secret[33], hash[256], uname_rand[7];
	struct store_trust t;
	int64_t now = time_now_ms(), id;
	sqlite3_stmt *q = NULL;

	if (!store_name_ok(name)) {
		snprintf(err, errlen,
			 "bad account name '%s' (1-%d characters from a-z A-Z 0-9 . _ -)", name,
			 STORE_NAME_MAX);
		return -1;
	}
	if (ntrust > STORE_TRUST_MAX) {
		snprintf(err, errlen, "too many --trust networks (at most %d)", STORE_TRUST_MAX);
		return -1;
	}
	for (size_t i = 0; i < ntrust; i++)
		if (store_parse_cidr(trust[i], &t) < 0) {
			snprintf(err, errlen, "bad --trust network '%s' (want e.g. 192.0.2.0/24)",
				 trust[i]);
			return -1;
		}
	memset(out, 0, sizeof(*out));
	if (store_exec(st, "BEGIN IMMEDIATE") < 0) {
		snprintf(err, errlen, "store: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	if (sqlite3_prepare_v2(st->db, "INSERT INTO accounts(name, created_ms) VALUES(?,?)", -1,
			       &q, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now);
	if (sqlite3_step(q) != SQLITE_DONE) {
		if (sqlite3_errcode(st->db) == SQLITE_CONSTRAINT) {
			snprintf(err, errlen, "account '%s' already exists", name);
			sqlite3_finalize(q);
			store_exec(st, "ROLLBACK");
			return -1;
		}
		goto fail;
	}
	sqlite3_finalize(q);
	q = NULL;
	id = sqlite3_last_insert_rowid(st->db);

	rand_token(keyid, 12);
	rand_token(secret, 32);
	if (store_hash_secret(secret, hash, sizeof(hash)) < 0 ||
	    store_insert_cred(st, id, "api_key", keyid, hash, now) < 0)
		goto fail;
	snprintf(out->api_key, sizeof(out->api_key), "ph_%s_%s", keyid, secret);

	rand_token(uname_rand, 6);
	snprintf(out->smtp_username, sizeof(out->smtp_username), "%s-%s", name, uname_rand);
	rand_token(out->smtp_password, 32);
	if (store_hash_secret(out->smtp_password, hash, sizeof(hash)) < 0 ||
	    store_insert_cred(st, id, "smtp", out->smtp_username, hash, now) < 0)
		goto fail;
	for (size_t i = 0; i < ntrust; i++) {
		if (store_parse_cidr(trust[i], &t) < 0 ||
		    store_insert_cred(st, id, "trust", t.text, NULL, now) < 0)
			goto fail;
	}
	if (store_exec(st, "COMMIT") < 0)
		goto fail;
	out->account_id = id;
	explicit_bzero(secret, sizeof(secret));
	return 0;
fail:
	snprintf(err, errlen, "store: %s", sqlite3_errmsg(st->db));
	sqlite3_finalize(q);
	store_exec(st, "ROLLBACK");
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(out, sizeof(*out));
	return -1;
}

/* --- trusted networks ----------------------------------------------------- */

int
store_parse_cidr(const char *s, struct store_trust *out)
{
	char addr[INET6_ADDRSTRLEN + 1], canon[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t prefix;
	unsigned maxp;

	memset(out, 0, sizeof(*out));
	if (n == 0 || n >= sizeof(addr))
		return -1;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = AF_INET;
		maxp = 32;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = AF_INET6;
		maxp = 128;
	} else {
		return -1;
	}
	if (slash) {
		if (parse_uint(slash + 1, 0, maxp, &prefix) < 0)
			return -1;
	} else {
		prefix = maxp;
	}
	out->prefix = (unsigned)prefix;
	/* Clear host bits so the stored text is the network itself. */
	for (unsigned bit = out->prefix; bit < maxp; bit++)
		out->addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
	inet_ntop(out->family, out->addr, canon, sizeof(canon));
	snprintf(out->text, sizeof(out->text), "%s/%u", canon, out->prefix);
	return 0;
}

int
store_trust_match(const struct store_trust *t, int family, const void *addr)
{
	const unsigned char *a = addr;
	unsigned full = t->prefix / 8, rest = t->prefix % 8;

	if (family != t->family)
		return 0;
	if (memcmp(a, t->addr, full) != 0)
		return 0;
	if (rest && ((a[full] ^ t->addr[full]) & (0xffu << (8 - rest)) & 0xff))
		return 0;
	return 1;
}

int
store_trust_list(struct store *st, struct store_trust *out, size_t max)
{
	sqlite3_stmt *q = st->q[Q_TRUST_LIST];
	size_t n = 0;
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW && n < max) {
		const char *text = (const char *)sqlite3_column_text(q, 1);

		if (text && store_parse_cidr(text, &out[n]) == 0) {
			out[n].account_id = sqlite3_column_int64(q, 0);
			n++;
		}
	}
	sqlite3_reset(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? (int)n : -1;
}

int64_t
store_data_version(struct store *st)
{
	/* Asked for every signed message and every connection: prepared once. */
	sqlite3_stmt *q = st->q[Q_DATA_VERSION];
	int64_t v = -1;

	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	return v;
}

/* --- messages --------------------------------------------------------- */

void
store_new_public_id(char out[32])
{
	char r[9];

	rand_token(r, 8);
	snprintf(out, 32, "%012llx%s", (unsigned long long)time_now_ms(), r);
}

static void
bind_opt_text(sqlite3_stmt *q, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(q, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, i);
}

/* The JSON data of a "received" event. */
static const char *
received_event_data(struct store *st, const struct store_msg *m)
{
	struct buf *b = &st->scratch;

	buf_reset(b);
	if (buf_puts(b, "{") < 0 || json_put_kv(b, "source", m->source) < 0 ||
	    json_put_kv(b, "client_ip", m->client_ip) < 0 || json_put_kv(b, "helo", m->helo) < 0 ||
	    json_put_kv(b, "auth_user", m->auth_user) < 0 ||
	    json_put_kv(b, "mail_from", m->mail_from) < 0 ||
	    json_put_ki(b, "size", (int64_t)m->size) < 0)
		return NULL;
	if (m->tls_version) {
		if (buf_puts(b, ",\"tls\":{") < 0 || json_put_kv(b, "version", m->tls_version) < 0 ||
		    json_put_kv(b, "cipher", m->tls_cipher) < 0 || buf_puts(b, "}") < 0)
			return NULL;
	} else if (buf_puts(b, ",\"tls\":null") < 0) {
		return NULL;
	}
	if (buf_puts(b, "}") < 0)
		return NULL;
	return b->data;
}

static const char *
rcpt_domain(const char *rcpt)
{
	const char *at = strrchr(rcpt, '@');

	return at ? at + 1 : "";
}

static int
store_insert_one(struct store *st, struct store_msg *m)
{
	sqlite3_stmt *qm = st->q[Q_INS_MSG], *qr = st->q[Q_INS_RCPT], *qe = st->q[Q_INS_EVENT];
	const char *data = received_event_data(st, m);
	int64_t mid;
	int ok;

	if (data == NULL)
		return -1;
	sqlite3_bind_text(qm, 1, m->public_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(qm, 2, m->account_id);
	sqlite3_bind_text(qm, 3, m->mail_from, -1, SQLITE_STATIC);
	bind_opt_text(qm, 4, m->message_id_hdr);
	bind_opt_text(qm, 5, m->subject);
	sqlite3_bind_int64(qm, 6, (int64_t)m->size);
	sqlite3_bind_int64(qm, 7, m->spool_seg);
	sqlite3_bind_int64(qm, 8, (int64_t)m->spool_off);
	sqlite3_bind_int64(qm, 9, (int64_t)m->spool_len);
	sqlite3_bind_int64(qm, 10, m->received_ms);
	bind_opt_text(qm, 11, m->client_ip);
	bind_opt_text(qm, 12, m->helo);
	bind_opt_text(qm, 13, m->auth_user);
	bind_opt_text(qm, 14, m->tls_version);
	bind_opt_text(qm, 15, m->tls_cipher);
	bind_opt_text(qm, 16, m->source);
	bind_opt_text(qm, 17, m->dkim_domain);
	bind_opt_text(qm, 18, m->dkim_selectors);
	ok = sqlite3_step(qm) == SQLITE_DONE;
	sqlite3_reset(qm);
	if (!ok)
		return -1;
	mid = sqlite3_last_insert_rowid(st->db);
	m->rowid = mid;
	if (m->subject) {
		sqlite3_stmt *qf = st->q[Q_INS_FTS];

		sqlite3_bind_int64(qf, 1, mid);
		sqlite3_bind_text(qf, 2, m->subject, -1, SQLITE_STATIC);
		ok = sqlite3_step(qf) == SQLITE_DONE;
		sqlite3_reset(qf);
		if (!ok)
			return -1;
	}
	for (size_t i = 0; i < m->nrcpt; i++) {
		int64_t rid;

		sqlite3_bind_int64(qr, 1, mid);
		sqlite3_bind_text(qr, 2, m->rcpts[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(qr, 3, rcpt_domain(m->rcpts[i]), -1, SQLITE_STATIC);
		sqlite3_bind_int64(qr, 4, m->received_ms);
		sqlite3_bind_int64(qr, 5, m->received_ms);
		ok = sqlite3_step(qr) == SQLITE_DONE;
		sqlite3_reset(qr);
		if (!ok)
			return -1;
		rid = sqlite3_last_insert_rowid(st->db);
		if (m->rcpt_ids)
			m->rcpt_ids[i] = rid;
		sqlite3_bind_int64(qe, 1, mid);
		sqlite3_bind_int64(qe, 2, rid);
		sqlite3_bind_text(qe, 3, "received", -1, SQLITE_STATIC);
		sqlite3_bind_int64(qe, 4, m->received_ms);
		sqlite3_bind_text(qe, 5, data, -1, SQLITE_STATIC);
		ok = sqlite3_step(qe) == SQLITE_DONE;
		sqlite3_reset(qe);
		if (!ok)
			return -1;
	}
	return 0;
}

int
store_insert_messages(struct store *st, struct store_msg *msgs, size_t n)
{
	if (store_exec(st, "BEGIN IMMEDIATE") < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (store_insert_one(st, &msgs[i]) < 0) {
			log_error("store insert id=%s error=\"%s\"", msgs[i].public_id,
				  sqlite3_errmsg(st->db));
			store_exec(st, "ROLLBACK");
			return -1;
		}
	if (store_exec(st, "COMMIT") < 0) {
		store_exec(st, "ROLLBACK");
		return -1;
	}
	return 0;
}

int
store_queued_walk(struct store *st, store_queued_fn cb, void *arg)
{
	sqlite3_stmt *q = st->q[Q_QUEUED_WALK];
	struct store_queued e;
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		memset(&e, 0, sizeof(e));
		snprintf(e.public_id, sizeof(e.public_id), "%s", sqlite3_column_text(q, 0));
		e.recipient_id = sqlite3_column_int64(q, 1);
		e.mail_from = (const char *)sqlite3_column_text(q, 2);
		e.rcpt = (const char *)sqlite3_column_text(q, 3);
		e.status = (const char *)sqlite3_column_text(q, 4);
		e.attempts = sqlite3_column_int(q, 5);
		e.received_ms = sqlite3_column_int64(q, 6);
		e.next_attempt_ms = sqlite3_column_int64(q, 7);
		e.spool_seg = (uint32_t)sqlite3_column_int64(q, 8);
		e.spool_off = (uint64_t)sqlite3_column_int64(q, 9);
		e.spool_len = (uint64_t)sqlite3_column_int64(q, 10);
		e.msg_rowid = sqlite3_column_int64(q, 11);
		e.account_id = sqlite3_column_int64(q, 12);
		e.dkim_domain = (const char *)sqlite3_column_text(q, 13);
		if (cb(arg, &e)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

int64_t
store_queued_count(struct store *st)
{
	sqlite3_stmt *q = st->q[Q_QUEUED_COUNT];
	int64_t n = -1;

	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	return n;
}

int
store_message_spool_lost(struct store *st, const char *public_id, const char *why)
{
	sqlite3_stmt *q;
	struct buf *b = &st->scratch;
	int64_t now = time_now_ms();
	int rc = -1;

	buf_reset(b);
	if (buf_puts(b, "{") < 0 || json_put_kv(b, "smtp_code", NULL) < 0 ||
	    json_put_kv(b, "enhanced_code", "4.3.0") < 0 || json_put_kv(b, "response", why) < 0 ||
	    buf_puts(b, "}") < 0)
		return -1;
	if (store_exec(st, "BEGIN IMMEDIATE") < 0)
		return -1;
	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO events(message_id, recipient_id, type, at_ms, data)"
			       " SELECT r.message_id, r.id, 'bounced', ?1, ?2 FROM recipients r"
			       " JOIN messages m ON m.id = r.message_id WHERE m.public_id = ?3"
			       " AND r.status IN ('queued','deferred')",
			       -1, &q, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(q, 1, now);
	sqlite3_bind_text(q, 2, b->data, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, public_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(q);
	if (rc < 0 ||
	    sqlite3_prepare_v2(st->db,
			       "UPDATE recipients SET status = 'bounced', updated_ms = ?1"
			       " WHERE status IN ('queued','deferred') AND message_id ="
			       " (SELECT id FROM messages WHERE public_id = ?2)",
			       -1, &q, NULL) != SQLITE_OK) {
		rc = -1;
		goto out;
	}
	sqlite3_bind_int64(q, 1, now);
	sqlite3_bind_text(q, 2, public_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(q);
out:
	store_exec(st, rc == 0 ? "COMMIT" : "ROLLBACK");
	return rc;
}

int
store_record_attempts(struct store *st, const struct store_transcript *t, size_t nt,
		      const struct store_attempt *a, size_t na)
{
	sqlite3_stmt *qt = st->q[Q_INS_TRANSCRIPT], *qe = st->q[Q_INS_EVENT],
		     *qu = st->q[Q_UPD_RCPT];
	int ok = 1;

	/* Outcomes of attempts are not fsynced on their own (the WAL reaches
	 * the disk with the next message commit): a process crash loses
	 * nothing, a power cut may repeat a few deliveries, as Postfix's
	 * unsynced queue-file removal does. Accepting mail stays FULL. */
	if (store_exec(st, "PRAGMA synchronous=NORMAL; BEGIN IMMEDIATE") < 0)
		return -1;
	for (size_t i = 0; ok && i < nt; i++) {
		sqlite3_bind_text(qt, 1, t[i].public_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(qt, 2, t[i].msg_rowid);
		sqlite3_bind_int64(qt, 3, t[i].at_ms);
		sqlite3_bind_text(qt, 4, t[i].text, -1, SQLITE_STATIC);
		ok = sqlite3_step(qt) == SQLITE_DONE;
		sqlite3_reset(qt);
	}
	for (size_t i = 0; ok && i < na; i++) {
		sqlite3_bind_int64(qe, 1, a[i].msg_rowid);
		sqlite3_bind_int64(qe, 2, a[i].rcpt_id);
		sqlite3_bind_text(qe, 3, a[i].event, -1, SQLITE_STATIC);
		sqlite3_bind_int64(qe, 4, a[i].at_ms);
		sqlite3_bind_text(qe, 5, a[i].data, -1, SQLITE_STATIC);
		ok = sqlite3_step(qe) == SQLITE_DONE;
		sqlite3_reset(qe);
		if (!ok)
			break;
		sqlite3_bind_text(qu, 1, a[i].status, -1, SQLITE_STATIC);
		sqlite3_bind_int(qu, 2, a[i].attempts);
		if (a[i].next_attempt_ms)
			sqlite3_bind_int64(qu, 3, a[i].next_attempt_ms);
		else
			sqlite3_bind_null(qu, 3);
		sqlite3_bind_int64(qu, 4, a[i].at_ms);
		sqlite3_bind_int64(qu, 5, a[i].rcpt_id);
		ok = sqlite3_step(qu) == SQLITE_DONE;
		sqlite3_reset(qu);
	}
	if (!ok) {
		log_error("store record attempts error=\"%s\"", sqlite3_errmsg(st->db));
		store_exec(st, "ROLLBACK; PRAGMA synchronous=FULL");
		return -1;
	}
	ok = store_exec(st, "COMMIT") == 0;
	if (!ok)
		store_exec(st, "ROLLBACK");
	store_exec(st, "PRAGMA synchronous=FULL");
	return ok ? 0 : -1;
}

int64_t
store_max_spool_seg(struct store *st)
{
	sqlite3_stmt *q;
	int64_t v = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT coalesce(max(spool_seg), 0) FROM messages", -1, &q,
			       NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}
