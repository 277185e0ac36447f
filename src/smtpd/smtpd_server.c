/*
 * NAME
 *	smtpd_server - listeners, connection limits, trusted networks
 * DESCRIPTION
 *	Beyond max_connections in total, or max_per_ip from one address, a
 *	new client gets "421 4.7.0" at once and is closed. Trusted networks
 *	(per account, from the store) are cached and reloaded when the
 *	store's data_version moves (another process, such as "posthaste
 *	account create", committed).
 */
#include <string.h>

#include "smtpd/smtpd_int.h"

#define SMTPD_IPMAP_SLOTS 4096

void
smtpd_config_defaults(struct smtpd_config *c)
{
	memset(c, 0, sizeof(*c));
	c->hostname = "localhost";
	c->max_message_size = 25 * 1024 * 1024;
	c->max_recipients = 1000;
	c->max_line = 1000;
	c->max_connections = 1000;
	c->max_per_ip = 100;
	c->max_errors = 10;
	c->idle_timeout_ms = 300000;
	c->preauth_idle_timeout_ms = 60000;
	c->session_timeout_ms = 3600000;
}

struct smtpd_server *
smtpd_server_new(struct event_base *base, const struct smtpd_config *c, struct tls_ctx *tls,
		 struct store *st, struct queue *q)
{
	struct smtpd_server *s = xcalloc(1, sizeof(*s));

	s->base = base;
	s->cfg = *c;
	s->tls = tls;
	s->store = st;
	s->queue = q;
	s->trust_version = -1;
	strmap_init(&s->per_ip, SMTPD_IPMAP_SLOTS, c->max_connections + 1);
	throttle_init(&s->auth_fails, SMTPD_IPMAP_SLOTS, 65536);
	return s;
}

static void
smtpd_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
	     void *arg)
{
	struct smtpd_listener *sl = arg;

	smtpd_session_start(sl->srv, fd, sa, sl->implicit_tls);
}

void
smtpd_server_listen(struct smtpd_server *s, int fd, int implicit_tls)
{
	struct smtpd_listener *sl;

	if (s->nlisteners >= (int)PH_ARRAY_LEN(s->listeners))
		panic("smtpd: too many listeners");
	sl = &s->listeners[s->nlisteners++];
	sl->srv = s;
	sl->implicit_tls = implicit_tls;
	sl->l = evconnlistener_new(s->base, smtpd_accept, sl, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (sl->l == NULL)
		fatal("smtpd: cannot accept on the listening socket");
}

void
smtpd_server_stop(struct smtpd_server *s)
{
	for (int i = 0; i < s->nlisteners; i++)
		evconnlistener_disable(s->listeners[i].l);
}

void
smtpd_server_free(struct smtpd_server *s)
{
	if (s == NULL)
		return;
	while (s->sessions) {
		struct smtpd_session *x = s->sessions;

		smtpd_session_shutdown(x);
		if (s->sessions == x) /* still there: it had output pending */
			smtpd_session_force_free(x);
	}
	for (int i = 0; i < s->nlisteners; i++)
		evconnlistener_free(s->listeners[i].l);
	strmap_free(&s->per_ip);
	throttle_free(&s->auth_fails);
	free(s);
}

unsigned
smtpd_server_connections(const struct smtpd_server *s)
{
	return s->nconns;
}

const char *
smtpd_conn_admit(struct smtpd_server *srv, struct smtpd_session *s)
{
	struct strmap_entry *e;

	if (srv->nconns >= srv->cfg.max_connections)
		return "421 4.7.0 Too many connections, try again later";
	e = strmap_get(&srv->per_ip, s->ip, 1);
	if (e == NULL || (uint64_t)e->count >= srv->cfg.max_per_ip)
		return "421 4.7.0 Too many connections from your address, try again later";
	e->count++;
	srv->nconns++;
	s->counted = 1;
	return NULL;
}

void
smtpd_conn_release(struct smtpd_server *srv, struct smtpd_session *s)
{
	struct strmap_entry *e;

	if (!s->counted)
		return;
	s->counted = 0;
	srv->nconns--;
	e = strmap_get(&srv->per_ip, s->ip, 0);
	if (e && --e->count <= 0)
		strmap_del(&srv->per_ip, s->ip);
}

void
smtpd_trust_check(struct smtpd_server *srv, struct smtpd_session *s)
{
	int64_t v = store_data_version(srv->store);

	if (v != srv->trust_version) {
		int n = store_trust_list(srv->store, srv->trust, PH_ARRAY_LEN(srv->trust));

		if (n >= 0) {
			srv->ntrust = n;
			srv->trust_version = v;
		}
	}
	for (int i = 0; i < srv->ntrust; i++)
		if (store_trust_match(&srv->trust[i], s->family, s->addr)) {
			s->trusted = 1;
			s->authed = 1;
			s->account_id = srv->trust[i].account_id;
			return;
		}
}
