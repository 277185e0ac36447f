/*
 * NAME
 *	queue_sign - DKIM-sign accepted messages of verified sender domains
 * DESCRIPTION
 *	Called by queue_submit() for every message from a client (not for
 *	DSNs): when the From: header's domain is a verified domain of the
 *	message's account, each of the domain's active keys (RSA-SHA256 and
 *	Ed25519-SHA256) adds a DKIM-Signature, prepended to the message as
 *	it is spooled, after every header posthaste adds. Keys are loaded
 *	once and kept per domain until the store changes (another process,
 *	such as "posthaste domain add", committed).
 *
 *	Cost: an RSA-2048 signature is about a millisecond of CPU on the
 *	loop thread; Ed25519 a few tens of microseconds.
 */
#include <string.h>
#include <strings.h>

#include "dkim/dkim.h"
#include "mail/mail.h"
#include "queue/queue_int.h"

#define SIGN_CACHE_MAX 1024
#define SIGN_KEYS_MAX 4

struct signer {
	struct signer *next;
	int64_t account_id;
	char domain[256];
	int verified;
	size_t nkeys;
	struct dkim_key *keys[SIGN_KEYS_MAX];
	char selectors[SIGN_KEYS_MAX][64];
};

struct queue_signers {
	struct signer *list;
	size_t n;
	int64_t version;
};

static void
signer_free(struct signer *g)
{
	for (size_t i = 0; i < g->nkeys; i++)
		dkim_key_free(g->keys[i]);
	free(g);
}

void
queue_signers_free(struct queue_signers *c)
{
	struct signer *g, *next;

	if (c == NULL)
		return;
	for (g = c->list; g; g = next) {
		next = g->next;
		signer_free(g);
	}
	free(c);
}

/* The signer for (account, domain), loaded from the store on first use. */
static struct signer *
signer_get(struct queue_signers **cp, struct store *st, int64_t account_id, const char *domain)
{
	struct queue_signers *c = *cp;
	int64_t v = store_data_version(st);
	struct store_domain d;
	struct store_dkim_key *keys = NULL;
	struct signer *g;
	size_t n = 0;

	if (c == NULL)
		c = *cp = xcalloc(1, sizeof(*c));
	if (v != c->version || c->n >= SIGN_CACHE_MAX) {
		/* Something changed (a domain verified, a key rotated): reload. */
		struct signer *x, *next;

		for (x = c->list; x; x = next) {
			next = x->next;
			signer_free(x);
		}
		c->list = NULL;
		c->n = 0;
		c->version = v;
	}
	for (g = c->list; g; g = g->next)
		if (g->account_id == account_id && strcasecmp(g->domain, domain) == 0)
			return g;
	g = xcalloc(1, sizeof(*g));
	g->account_id = account_id;
	snprintf(g->domain, sizeof(g->domain), "%s", domain);
	if (store_domain_get(st, account_id, domain, &d) == 0 && d.verified &&
	    store_domain_keys(st, d.id, &keys, &n) == 0) {
		g->verified = 1;
		for (size_t i = 0; i < n && g->nkeys < SIGN_KEYS_MAX; i++) {
			char err[256];
			struct dkim_key *k;

			if (strcmp(keys[i].state, "active") != 0)
				continue;
			k = dkim_key_load_pem(keys[i].pem, strlen(keys[i].pem), err, sizeof(err));
			if (k == NULL) {
				log_error("queue dkim key domain=%s selector=%s error=\"%s\"", domain,
					  keys[i].selector, err);
				continue;
			}
			snprintf(g->selectors[g->nkeys], sizeof(g->selectors[0]), "%s",
				 keys[i].selector);
			g->keys[g->nkeys++] = k;
		}
		store_dkim_keys_free(keys, n);
	}
	g->next = c->list;
	c->list = g;
	c->n++;
	return g;
}

int
queue_sign(struct queue_signers **cache, struct store *st, struct queue_msg *m)
{
	char dom[256], err[256];
	struct signer *g;
	struct buf sigs;
	int nsig = 0;

	if (!mail_from_domain(m->body.data, m->body.len, dom, sizeof(dom)))
		return 0;
	g = signer_get(cache, st, m->meta.account_id, dom);
	if (!g->verified || g->nkeys == 0)
		return 0;
	char used[512] = "";

	buf_init(&sigs, 16384);
	for (size_t i = 0; i < g->nkeys; i++) {
		struct dkim_sign_opts o = {g->domain, g->selectors[i], m->meta.received_ms / 1000, 1};

		if (dkim_sign(g->keys[i], &o, m->body.data, m->body.len, &sigs, err, sizeof(err)) <
		    0) {
			log_error("queue %s dkim sign domain=%s selector=%s error=\"%s\"",
				  m->meta.public_id, g->domain, g->selectors[i], err);
			continue;
		}
		snprintf(used + strlen(used), sizeof(used) - strlen(used), "%s%s", nsig ? "," : "",
			 g->selectors[i]);
		nsig++;
	}
	if (nsig > 0) {
		struct buf *b = &m->body;

		if (buf_prepend(b, sigs.data, sigs.len) == 0) {
			m->meta.size = b->len;
			m->meta.dkim_domain = arena_strndup(&m->arena, g->domain, strlen(g->domain));
			m->meta.dkim_selectors = arena_strndup(&m->arena, used, strlen(used));
		} else {
			nsig = 0;
		}
	}
	buf_free(&sigs);
	return nsig;
}
