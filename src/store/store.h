/*
 * NAME
 *	store - accounts, messages, recipients and events
 * DESCRIPTION
 *	The one interface the rest of posthaste uses for durable metadata.
 *	store_sqlite.c implements it on SQLite in WAL mode with
 *	synchronous=FULL: a call that returns 0 after a write has been
 *	committed and fsynced. Message bodies are not here: they live in
 *	the spool (queue module); a message row names its spool record.
 *
 *	Secrets: API keys and SMTP passwords are stored only as yescrypt
 *	hashes (libxcrypt); the clear values exist only in the output of
 *	store_account_create().
 *
 *	Not thread safe: each thread opens its own handle.
 */
#ifndef PH_STORE_H
#define PH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/lib.h"

struct store;

#define STORE_NAME_MAX 64
#define STORE_TRUST_MAX 32 /* trusted networks per account */

struct store_account_secrets {
	int64_t account_id;
	char api_key[64];
	char smtp_username[96];
	char smtp_password[40];
};

/* A trusted source network: the account it submits for. */
struct store_trust {
	int64_t account_id;
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;
	char text[64];
};

/* What one accepted message puts into the store (one transaction for a
 * batch of them: group commit). */
struct store_msg {
	char public_id[32];
	int64_t account_id;
	const char *mail_from;
	const char *message_id_hdr; /* may be NULL */
	const char *subject;        /* may be NULL */
	uint64_t size;
	uint32_t spool_seg;
	uint64_t spool_off, spool_len;
	int64_t received_ms;
	const char *client_ip;
	const char *helo;
	const char *auth_user; /* NULL when trusted by network */
	const char *tls_version, *tls_cipher; /* NULL without TLS */
	const char *source; /* "smtp", "api" or "dsn" */
	const char *dkim_domain; /* d= of the signatures added, or NULL */
	const char *dkim_selectors; /* their s=, comma-separated */
	size_t nrcpt;
	char **rcpts;
	/* filled in by store_insert_messages(): */
	int64_t rowid;
	int64_t *rcpt_ids; /* nrcpt entries, caller-allocated */
};

/* A queued (unfinished) recipient, as the queue listing sees it. */
struct store_queued {
	char public_id[32];
	int64_t msg_rowid;
	int64_t account_id;
	int64_t recipient_id;
	const char *mail_from;
	const char *rcpt;
	const char *status;
	int attempts;
	int64_t received_ms, next_attempt_ms;
	uint32_t spool_seg;
	uint64_t spool_off, spool_len;
	const char *dkim_domain; /* signed for this domain: bounces come back to it */
};

int store_open(const char *path, struct store **out, char *err, size_t errlen) PH_WUR;
void store_close(struct store *st);

/* Account management */
int store_account_create(struct store *st, const char *name, const char *const *trust,
			 size_t ntrust, struct store_account_secrets *out, char *err,
			 size_t errlen) PH_WUR;
/* Check an SMTP username/password; 0 and the account id when they match. */
int store_auth_smtp(struct store *st, const char *user, const char *password,
		    int64_t *account_id) PH_WUR;
/* Check an API key; 0 and the account id when it matches. */
int store_auth_api_key(struct store *st, const char *key, int64_t *account_id) PH_WUR;
/* All trusted networks. Returns the count (<= max) or -1. */
int store_trust_list(struct store *st, struct store_trust *out, size_t max) PH_WUR;
/* Changes whenever another connection committed (PRAGMA data_version). */
int64_t store_data_version(struct store *st);
/* Parse "192.0.2.0/24" or "2001:db8::/32" (a bare address is /32, /128). */
int store_parse_cidr(const char *s, struct store_trust *out) PH_WUR;
int store_trust_match(const struct store_trust *t, int family, const void *addr);

/* Group commit: insert the batch's messages, recipients and their
 * "received" events in one transaction. */
int store_insert_messages(struct store *st, struct store_msg *msgs, size_t n) PH_WUR;

/* Walk unfinished recipients, oldest first; cb returns non-zero to stop. */
typedef int (*store_queued_fn)(void *arg, const struct store_queued *q);
int store_queued_walk(struct store *st, store_queued_fn cb, void *arg) PH_WUR;
/* Count of unfinished recipients (queued or deferred). */
int64_t store_queued_count(struct store *st);

/* Mark every unfinished recipient of a message whose spool record is
 * unusable; records a "bounced" event with the reason. */
int store_message_spool_lost(struct store *st, const char *public_id, const char *why) PH_WUR;

/* One delivery attempt's outcome for one recipient (a batch of them is
 * written in one transaction). */
struct store_attempt {
	int64_t msg_rowid, rcpt_id;
	const char *event;  /* delivered, deferred, bounced, expired, ... */
	const char *status; /* the recipient's new status */
	int attempts;
	int64_t at_ms;
	int64_t next_attempt_ms; /* 0 when final */
	const char *data;        /* event data, JSON object */
};
struct store_transcript {
	char public_id[32];
	int64_t msg_rowid;
	int64_t at_ms;
	const char *text;
};
int store_record_attempts(struct store *st, const struct store_transcript *t, size_t nt,
			  const struct store_attempt *a, size_t na) PH_WUR;

/* --- sender domains (store_domain.c) --------------------------------- */
struct store_domain {
	int64_t id, account_id;
	char domain[256];
	char sending_ips[512]; /* comma-separated, for the SPF check */
	int verified;
};
struct store_dkim_key {
	char selector[64];
	char alg[24];   /* rsa-sha256, ed25519-sha256 */
	char *pem;      /* private key */
	char state[16]; /* pending, active, retiring (store_domain.c) */
};
int store_account_id(struct store *st, const char *name, int64_t *id) PH_WUR;
int store_account_set_allow_unverified(struct store *st, int64_t id, int allow) PH_WUR;
/* May this account send as domain? (a verified domain of its own, or an
 * account allowed to send unverified, for development). */
int store_sender_allowed(struct store *st, int64_t account_id, const char *domain);
int store_domain_add(struct store *st, int64_t account_id, const char *domain, const char *ips,
		     const struct store_dkim_key *keys, size_t nkeys, char *err,
		     size_t errlen) PH_WUR;
/* account_id 0: whichever account has it. */
int store_domain_get(struct store *st, int64_t account_id, const char *domain,
		     struct store_domain *out) PH_WUR;
int store_domain_keys(struct store *st, int64_t domain_id, struct store_dkim_key **out,
		      size_t *n) PH_WUR;
void store_dkim_keys_free(struct store_dkim_key *k, size_t n);
int store_dkim_keys_add(struct store *st, int64_t domain_id, const struct store_dkim_key *keys,
			size_t nkeys) PH_WUR;
int store_dkim_keys_move(struct store *st, int64_t domain_id, const char *from, const char *to);
int store_domain_set_checks(struct store *st, int64_t domain_id, int verified,
			    const char *checks) PH_WUR;

/* Every domain's id (the re-check walks them). */
int store_domain_ids(struct store *st, int64_t **ids, size_t *n) PH_WUR;
int store_domain_by_id(struct store *st, int64_t id, struct store_domain *out) PH_WUR;

/* Operator commands for the daemon (store_command.c): "flush" (id NULL
 * for every message) and "delete". */
int store_command_add(struct store *st, const char *cmd, const char *public_id) PH_WUR;
typedef void (*store_command_fn)(void *arg, const char *cmd, const char *public_id);
/* Hand every pending command to cb, oldest first, and forget them. */
int store_commands_take(struct store *st, store_command_fn cb, void *arg);

/* The highest spool segment any message names (0 when none): new
 * segments number above it even after old ones were removed. */
int64_t store_max_spool_seg(struct store *st);

/* --- dashboard sessions (store_session.c) ----------------------------- */
#define STORE_TOKEN_LEN 64 /* hex of 32 random bytes */
struct store_session {
	int64_t account_id;
	char account[STORE_NAME_MAX + 1];
	char csrf[STORE_TOKEN_LEN + 1];
	int64_t created_ms, seen_ms, expires_ms;
};
/* A new session for the account; token gets the cookie's value. */
int store_session_create(struct store *st, int64_t account_id, int64_t lifetime_ms, const char *ip,
			 char token[STORE_TOKEN_LEN + 1], struct store_session *out) PH_WUR;
/* The live session of a token (an expired or idle one is deleted): 0, or
 * -1 when there is none. */
int store_session_get(struct store *st, const char *token, int64_t idle_ms,
		      struct store_session *out) PH_WUR;
void store_session_delete(struct store *st, const char *token);

/* Make a new public message id: 12 hex digits of ms time, 8 random. */
void store_new_public_id(char out[32]);

#endif
