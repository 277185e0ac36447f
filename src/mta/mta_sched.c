/*
 * NAME
 *	mta_sched - destinations, the retry heap, outcomes and DSNs
 * DESCRIPTION
 *	Memory: one struct mta_rcpt per queued recipient (about 64 bytes
 *	plus its address) and one struct mta_msg per message, shared by its
 *	recipients. Destinations are hashed by name; a ready recipient sits
 *	on its destination's FIFO, a deferred one in the retry heap (a
 *	binary min-heap on next attempt time) with one timer for its top.
 *
 *	Fairness: each destination has its own ready list and its own
 *	session limit, so a slow destination only ever ties up its own
 *	sessions.
 *
 *	Outcomes are applied in memory at once and written to the store in
 *	batches (one transaction per loop pass, lowest priority): a crash
 *	in between repeats those attempts (at-least-once).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "mail/mail.h"
#include "mta/mta_int.h"
#include "tls/tls.h"

#define HEAP_NONE UINT32_MAX

const double mta_latency_bounds[MTA_LATENCY_BUCKETS] = {0.1, 0.5, 1, 5, 30, 60, 300, 1800,
							  3600, 86400};

void
mta_config_defaults(struct mta_config *c)
{
	memset(c, 0, sizeof(*c));
	c->hostname = "localhost";
	c->mx_port = 25;
	c->dest_concurrency = 20;
	c->max_rcpts_per_txn = 50;
	c->connect_timeout_ms = 30000;
	c->command_timeout_ms = 300000; /* RFC 5321 4.5.3.2 */
	c->data_timeout_ms = 600000;    /* RFC 5321 4.5.3.2.6: final dot */
	c->idle_reuse_ms = 5000;
	if (mta_config_retry(c, MTA_RETRY_SCHEDULE_DEFAULT) < 0)
		panic("bad MTA_RETRY_SCHEDULE_DEFAULT");
	c->greylist_retry_ms = 2 * 60000;
	c->max_lifetime_ms = 5LL * 86400 * 1000;
}

int
mta_config_retry(struct mta_config *c, const char *spec)
{
	char tmp[512], *save = NULL, *tok;
	unsigned n = 0;
	int64_t ms;

	if (strlen(spec) >= sizeof(tmp))
		return -1;
	snprintf(tmp, sizeof(tmp), "%s", spec);
	for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (n >= MTA_RETRY_MAX || time_parse_duration(tok, &ms) < 0 || ms <= 0)
			return -1;
		c->retry_ms[n++] = ms;
	}
	if (n == 0)
		return -1;
	c->nretry = n;
	return 0;
}

int
mta_config_route(struct mta_config *c, const char *domain, const char *hostport)
{
	char host[256];
	uint16_t port;

	if (c->nroutes >= MTA_ROUTES_MAX || *domain == '\0' ||
	    parse_hostport(hostport, host, sizeof(host), &port) < 0)
		return -1;
	c->routes[c->nroutes].domain = xstrdup(domain);
	c->routes[c->nroutes].host = xstrdup(host);
	c->routes[c->nroutes].port = port;
	c->nroutes++;
	return 0;
}

/* --- the retry heap ------------------------------------------------------ */

static void
heap_swap(struct mta *m, size_t a, size_t b)
{
	struct mta_rcpt *t = m->heap[a];

	m->heap[a] = m->heap[b];
	m->heap[b] = t;
	m->heap[a]->heap_idx = (uint32_t)a;
	m->heap[b]->heap_idx = (uint32_t)b;
}

static void
heap_up(struct mta *m, size_t i)
{
	while (i > 0 && m->heap[(i - 1) / 2]->next_ms > m->heap[i]->next_ms) {
		heap_swap(m, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(struct mta *m, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, s = i;

		if (l < m->nheap && m->heap[l]->next_ms < m->heap[s]->next_ms)
			s = l;
		if (r < m->nheap && m->heap[r]->next_ms < m->heap[s]->next_ms)
			s = r;
		if (s == i)
			return;
		heap_swap(m, i, s);
		i = s;
	}
}

static void
retry_timer_set(struct mta *m)
{
	struct timeval tv;
	int64_t wait;

	if (m->nheap == 0) {
		evtimer_del(m->retry_timer);
		return;
	}
	wait = m->heap[0]->next_ms - time_now_ms();
	if (wait < 0)
		wait = 0;
	tv.tv_sec = (time_t)(wait / 1000);
	tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
	evtimer_add(m->retry_timer, &tv);
}

static void
heap_push(struct mta *m, struct mta_rcpt *r)
{
	if (m->nheap == m->heap_cap) {
		m->heap_cap = m->heap_cap ? m->heap_cap * 2 : 1024;
		m->heap = xrealloc(m->heap, m->heap_cap * sizeof(*m->heap));
	}
	r->heap_idx = (uint32_t)m->nheap;
	m->heap[m->nheap++] = r;
	heap_up(m, r->heap_idx);
	if (r->heap_idx == 0)
		retry_timer_set(m);
}

static struct mta_rcpt *
heap_pop(struct mta *m)
{
	struct mta_rcpt *top = m->heap[0];

	m->nheap--;
	if (m->nheap > 0) {
		m->heap[0] = m->heap[m->nheap];
		m->heap[0]->heap_idx = 0;
		heap_down(m, 0);
	}
	top->heap_idx = HEAP_NONE;
	return top;
}

/* --- destinations --------------------------------------------------------- */

static uint64_t
name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)tolower((unsigned char)*s)) * 1099511628211ull;
	return h;
}

static const struct mta_route *
route_for(const struct mta *m, const char *domain)
{
	const struct mta_route *star = NULL;

	for (unsigned i = 0; i < m->cfg.nroutes; i++) {
		if (strcasecmp(m->cfg.routes[i].domain, domain) == 0)
			return &m->cfg.routes[i];
		if (strcmp(m->cfg.routes[i].domain, "*") == 0)
			star = &m->cfg.routes[i];
	}
	return star;
}

static struct mta_dest *
dest_get(struct mta *m, const char *domain)
{
	size_t slot = name_hash(domain) % MTA_DEST_SLOTS;
	struct mta_dest *d;

	for (d = m->dests[slot]; d; d = d->hnext)
		if (strcasecmp(d->name, domain) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->m = m;
	d->name = xstrdup(domain);
	for (char *p = d->name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	d->route = route_for(m, d->name);
	d->ready_tail = &d->ready;
	d->hnext = m->dests[slot];
	m->dests[slot] = d;
	m->ndests++;
	return d;
}

static void
dest_push_ready(struct mta_dest *d, struct mta_rcpt *r)
{
	r->next = NULL;
	*d->ready_tail = r;
	d->ready_tail = &r->next;
	d->nready++;
}

struct mta_rcpt *
mta_dest_take(struct mta *m, struct mta_dest *d, size_t *n)
{
	struct mta_rcpt *first = d->ready, *last = first;
	size_t k = 1;

	*n = 0;
	if (first == NULL)
		return NULL;
	/* Recipients of one message were queued together: take the run, but
	 * one at a time with a per-recipient (VERP) return path. */
	while (last->next && last->next->msg == first->msg && k < m->cfg.max_rcpts_per_txn &&
	       first->msg->return_domain == NULL) {
		last = last->next;
		k++;
	}
	d->ready = last->next;
	if (d->ready == NULL)
		d->ready_tail = &d->ready;
	last->next = NULL;
	d->nready -= k;
	*n = k;
	return first;
}

static void dest_resolved(void *arg, struct dns_mx_result *r);

void
mta_dest_kick(struct mta *m, struct mta_dest *d)
{
	int64_t now = time_now_ms();

	if (d->nready == 0 || d->resolving || d->kicking || m->stopping || m->cfg.hold)
		return;
	if (d->mx == NULL || now >= d->mx_expires_ms) {
		d->resolving = 1;
		if (d->route)
			dns_resolve_host(m->dns, d->route->host, dest_resolved, d);
		else
			dns_resolve_mx(m->dns, d->name, dest_resolved, d);
		return;
	}
	while (d->idle && d->nready > 0) {
		struct mta_session *s = d->idle;

		d->idle = s->idle_next;
		s->idle_next = NULL;
		mta_session_wake(s);
	}
	d->kicking = 1;
	while (d->nready > d->nconnecting && d->nsessions < m->cfg.dest_concurrency) {
		d->nsessions++;
		d->nconnecting++;
		m->stats.sessions_open++;
		mta_session_start(m, d);
	}
	d->kicking = 0;
}

static void
dest_forget_mx(struct mta_dest *d)
{
	if (d->mx) {
		buf_free(&d->mx->answers);
		free(d->mx);
		d->mx = NULL;
	}
}

/* DNS told us where d's mail goes, or that it cannot go anywhere. */
static void
dest_resolved(void *arg, struct dns_mx_result *r)
{
	struct mta_dest *d = arg;
	struct mta *m = d->m;
	struct mta_outcome o;
	struct mta_attempt_info ai;
	char text[DNS_ANSWERS_MAX + 512], ts[TIME_RFC3339_LEN];

	d->resolving = 0;
	dest_forget_mx(d);
	d->mx = xmalloc(sizeof(*d->mx));
	*d->mx = *r;
	/* Keep our own copy of the answers: dns frees r's buffer. */
	buf_init(&d->mx->answers, DNS_ANSWERS_MAX);
	if (buf_append(&d->mx->answers, r->answers.data ? r->answers.data : "",
		       r->answers.len) < 0)
		buf_reset(&d->mx->answers);
	if (r->status == DNS_OK) {
		uint32_t ttl = r->ttl < 30 ? 30 : r->ttl > 3600 ? 3600 : r->ttl;

		d->mx_expires_ms = time_now_ms() + (int64_t)ttl * 1000;
		mta_dest_kick(m, d);
		return;
	}
	/* Nothing to connect to: settle every ready recipient. */
	memset(&o, 0, sizeof(o));
	memset(&ai, 0, sizeof(ai));
	o.dns_status = (int)r->status;
	snprintf(o.response, sizeof(o.response), "%s", r->why);
	snprintf(o.enhanced, sizeof(o.enhanced), "%s",
		 r->status == DNS_NULL_MX ? "5.1.10"
		 : r->status == DNS_TEMPFAIL ? "4.4.3"
					     : "5.1.2");
	time_rfc3339(time_now_ms(), ts);
	snprintf(text, sizeof(text), "%s dns lookup %s\n%s%s dns result: %s\n", ts, d->name,
		 d->mx->answers.data ? d->mx->answers.data : "", ts, r->why);
	ai.route = d->route ? "relay" : "direct";
	mta_dest_fail_ready(m, d, &o, &ai, text);
	/* A temporary failure is not cached: the next attempt asks again. */
	if (r->status == DNS_TEMPFAIL)
		dest_forget_mx(d);
	else
		d->mx_expires_ms = time_now_ms() + 60000;
}

void
mta_dest_session_gone(struct mta *m, struct mta_dest *d, struct mta_session *s)
{
	struct mta_session **pp;

	for (pp = &d->idle; *pp; pp = &(*pp)->idle_next)
		if (*pp == s) {
			*pp = s->idle_next;
			break;
		}
	d->nsessions--;
	m->stats.sessions_open--;
	mta_dest_kick(m, d);
}

void
mta_dest_session_idle(struct mta *m, struct mta_dest *d, struct mta_session *s)
{
	s->idle_next = d->idle;
	d->idle = s;
}

/* --- results ---------------------------------------------------------------- */

const char *
mta_transcript_add(struct mta *m, int64_t msg_rowid, const char *text)
{
	struct store_transcript *t;
	char r[13];

	if (m->ntr == m->tr_cap) {
		m->tr_cap = m->tr_cap ? m->tr_cap * 2 : 64;
		m->tr = xrealloc(m->tr, m->tr_cap * sizeof(*m->tr));
	}
	t = &m->tr[m->ntr++];
	rand_token(r, 12);
	snprintf(t->public_id, sizeof(t->public_id), "t%s", r);
	t->msg_rowid = msg_rowid;
	t->at_ms = time_now_ms();
	t->text = xstrdup(text);
	event_active(m->flush_ev, 0, 0);
	return t->public_id;
}

/* Write the pending results in one transaction. */
static void
mta_flush(struct mta *m)
{
	if (m->natt == 0 && m->ntr == 0)
		return;
	if (store_record_attempts(m->store, m->tr, m->ntr, m->att, m->natt) < 0)
		log_error("mta results not recorded attempts=%zu (they will be retried after a "
			  "restart)",
			  m->natt);
	for (size_t i = 0; i < m->ntr; i++)
		free((char *)m->tr[i].text);
	for (size_t i = 0; i < m->natt; i++)
		free((char *)m->att[i].data);
	m->ntr = m->natt = 0;
}

static void
mta_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	mta_flush(arg);
	mta_dsn_flush(arg);
}

static void
msg_unref(struct mta_msg *g)
{
	if (--g->refs == 0) {
		free(g->mail_from);
		free(g->return_domain);
		free(g);
	}
}

static void
rcpt_free(struct mta_rcpt *r)
{
	msg_unref(r->msg);
	free(r->addr);
	free(r);
}

/* The event data: DESIGN.md's evidence fields. */
static char *
event_data(struct mta *m, const struct mta_rcpt *r, const struct mta_outcome *o,
	   const struct mta_attempt_info *ai, const struct mta_classification *cls,
	   int64_t next_ms)
{
	struct buf b;
	char code[8], ts[TIME_RFC3339_LEN];

	buf_init(&b, 16384);
	snprintf(code, sizeof(code), "%d", o->code);
	if (buf_puts(&b, "{") < 0 || json_put_ki(&b, "attempt", r->attempts) < 0 ||
	    json_put_kv(&b, "rcpt", r->addr) < 0 || json_put_kv(&b, "mx_host", ai->mx_host) < 0 ||
	    json_put_kv(&b, "remote_ip", ai->remote_ip[0] ? ai->remote_ip : NULL) < 0 ||
	    json_put_kv(&b, "local_ip", ai->local_ip[0] ? ai->local_ip : NULL) < 0 ||
	    json_put_kv(&b, "helo_name", ai->helo_name) < 0 ||
	    (o->code ? json_put_ki(&b, "smtp_code", o->code) : json_put_kv(&b, "smtp_code", NULL)) <
		    0 ||
	    json_put_kv(&b, "enhanced_code", o->enhanced[0] ? o->enhanced : NULL) < 0 ||
	    json_put_kv(&b, "response", o->response) < 0 ||
	    json_put_kv(&b, "remote_queue_id",
			ai->remote_queue_id[0] ? ai->remote_queue_id : NULL) < 0)
		goto out;
	if (ai->tls) {
		if (buf_puts(&b, ",\"tls\":{") < 0 || json_put_kv(&b, "version", ai->tls_version) < 0 ||
		    json_put_kv(&b, "cipher", ai->tls_cipher) < 0 ||
		    buf_puts(&b, ai->tls_verified ? ",\"verified\":true" : ",\"verified\":false") <
			    0 ||
		    json_put_kv(&b, "peer_subject", ai->tls_subject) < 0 || buf_puts(&b, "}") < 0)
			goto out;
	} else if (buf_puts(&b, ",\"tls\":null") < 0) {
		goto out;
	}
	if (json_put_ki(&b, "duration_ms", ai->duration_ms) < 0 ||
	    json_put_kv(&b, "route", ai->route) < 0 ||
	    json_put_kv(&b, "transcript_id", ai->transcript_id) < 0)
		goto out;
	if (cls && (json_put_kv(&b, "bounce_type", cls->hard ? "hard" : "soft") < 0 ||
		    json_put_kv(&b, "category", mta_bounce_category_str(cls->category)) < 0))
		goto out;
	if (next_ms) {
		time_rfc3339(next_ms, ts);
		if (json_put_kv(&b, "next_attempt", ts) < 0)
			goto out;
	}
	if (r->lost_reply && o->code >= 200 && o->code < 300 &&
	    buf_puts(&b, ",\"possible_duplicate\":true") < 0)
		goto out;
	if (o->final_reply_lost && buf_puts(&b, ",\"final_reply_lost\":true") < 0)
		goto out;
out:
	if (buf_puts(&b, "}") < 0) {
		/* Over the cap: keep what fits as valid JSON. */
		buf_reset(&b);
		if (buf_puts(&b, "{\"error\":\"event data too large\"}") < 0)
			panic("event data buffer");
	}
	return buf_steal(&b);
}

static void
add_attempt(struct mta *m, const struct mta_rcpt *r, const char *event, const char *status,
	    int64_t next_ms, char *data)
{
	struct store_attempt *a;

	if (m->natt == m->att_cap) {
		m->att_cap = m->att_cap ? m->att_cap * 2 : 64;
		m->att = xrealloc(m->att, m->att_cap * sizeof(*m->att));
	}
	a = &m->att[m->natt++];
	a->msg_rowid = r->msg->rowid;
	a->rcpt_id = r->id;
	a->event = event;
	a->status = status;
	a->attempts = r->attempts;
	a->at_ms = time_now_ms();
	a->next_attempt_ms = next_ms;
	a->data = data;
	if (m->natt >= MTA_FLUSH_MAX)
		mta_flush(m);
	else
		event_active(m->flush_ev, 0, 0);
}

static void
dsn_note(struct mta *m, struct mta_rcpt *r, const struct mta_outcome *o,
	 const struct mta_attempt_info *ai)
{
	struct mta_dsn_item *it;
	char diag[1200];

	if (r->msg->mail_from[0] == '\0')
		return; /* never to the null sender (RFC 5321 6.1) */
	if (m->ndsn == m->dsn_cap) {
		m->dsn_cap = m->dsn_cap ? m->dsn_cap * 2 : 16;
		m->dsn = xrealloc(m->dsn, m->dsn_cap * sizeof(*m->dsn));
	}
	it = &m->dsn[m->ndsn++];
	memset(it, 0, sizeof(*it));
	it->msg = r->msg;
	r->msg->refs++;
	it->rcpt = xstrdup(r->addr);
	it->action = "failed";
	snprintf(it->status, sizeof(it->status), "%s",
		 o->enhanced[0] ? o->enhanced : o->code >= 500 ? "5.0.0" : "4.0.0");
	if (it->status[0] == '4')
		it->status[0] = '5'; /* expired: the temporary failure became final */
	it->remote_mta = ai->mx_host ? xstrdup(ai->mx_host) : NULL;
	if (o->code)
		snprintf(diag, sizeof(diag), "%d %s%s%s", o->code, o->enhanced,
			 o->enhanced[0] ? " " : "", o->response);
	else
		snprintf(diag, sizeof(diag), "%s", o->response);
	it->diagnostic = xstrdup(diag);
	it->at_ms = time_now_ms();
	event_active(m->flush_ev, 0, 0);
}

void
mta_settle(struct mta *m, struct mta_rcpt *r, const struct mta_outcome *o,
	   const struct mta_attempt_info *ai)
{
	struct mta_classification cls;
	int64_t now = time_now_ms(), next, deadline;
	unsigned idx;

	r->attempts++;
	m->stats.attempts++;
	if (o->code >= 200 && o->code < 300) {
		double lat = (double)(now - r->msg->received_ms) / 1000.0;

		for (unsigned b = 0; b < MTA_LATENCY_BUCKETS; b++)
			if (lat <= mta_latency_bounds[b])
				m->stats.latency_le[b]++;
		m->stats.latency_count++;
		m->stats.latency_sum_s += lat;
		m->stats.delivered++;
		if (r->lost_reply)
			m->stats.duplicates++;
		add_attempt(m, r, "delivered", "delivered", 0, event_data(m, r, o, ai, NULL, 0));
		log_info("mta %s delivered rcpt=<%s> mx=%s reply=\"%d %s\"", r->msg->public_id,
			 r->addr, ai->mx_host ? ai->mx_host : "-", o->code, o->enhanced);
		m->stats.queued--;
		rcpt_free(r);
		return;
	}
	mta_classify(o->code, o->enhanced, o->response, &cls);
	if (o->code >= 500 || (o->code == 0 && o->enhanced[0] == '5')) {
		m->stats.bounced++;
		add_attempt(m, r, "bounced", "bounced", 0, event_data(m, r, o, ai, &cls, 0));
		log_info("mta %s bounced rcpt=<%s> category=%s reply=\"%d %s\"", r->msg->public_id,
			 r->addr, mta_bounce_category_str(cls.category), o->code, o->enhanced);
		dsn_note(m, r, o, ai);
		m->stats.queued--;
		rcpt_free(r);
		return;
	}
	/* Temporary: retry, or expire at the end of the message's lifetime. */
	if (o->final_reply_lost)
		r->lost_reply = 1;
	deadline = r->msg->received_ms + m->cfg.max_lifetime_ms;
	if (now >= deadline) {
		m->stats.expired++;
		add_attempt(m, r, "expired", "expired", 0, event_data(m, r, o, ai, &cls, 0));
		log_info("mta %s expired rcpt=<%s> attempts=%u", r->msg->public_id, r->addr,
			 r->attempts);
		dsn_note(m, r, o, ai);
		m->stats.queued--;
		rcpt_free(r);
		return;
	}
	idx = (unsigned)r->attempts - 1 < m->cfg.nretry ? (unsigned)r->attempts - 1 : m->cfg.nretry - 1;
	next = now + m->cfg.retry_ms[idx];
	if (r->attempts == 1 && cls.category == MTA_CAT_GREYLIST)
		next = now + m->cfg.greylist_retry_ms;
	if (next > deadline)
		next = deadline; /* one last try at the end of the lifetime */
	r->next_ms = next;
	m->stats.deferred++;
	add_attempt(m, r, "deferred", "deferred", next, event_data(m, r, o, ai, &cls, next));
	log_info("mta %s deferred rcpt=<%s> attempt=%u next_in_s=%lld reply=\"%d %s %.80s\"",
		 r->msg->public_id, r->addr, r->attempts, (long long)((next - now) / 1000),
		 o->code, o->enhanced, o->response);
	heap_push(m, r);
}

void
mta_dest_fail_ready(struct mta *m, struct mta_dest *d, const struct mta_outcome *o,
		    const struct mta_attempt_info *ai, const char *transcript)
{
	struct mta_rcpt *r;
	size_t n;

	while ((r = mta_dest_take(m, d, &n)) != NULL) {
		struct mta_attempt_info a = *ai;

		a.transcript_id = mta_transcript_add(m, r->msg->rowid, transcript);
		while (r) {
			struct mta_rcpt *next = r->next;

			mta_settle(m, r, o, &a);
			r = next;
		}
	}
}

/* Group the failed recipients by message and queue one DSN each. */
void
mta_dsn_flush(struct mta *m)
{
	size_t i = 0;

	while (i < m->ndsn) {
		struct mta_msg *g = m->dsn[i].msg;
		struct mta_dsn_rcpt rr[64];
		struct mta_dsn dsn;
		struct queue_msg *qm;
		struct buf orig;
		char err[256], from[300];
		size_t n = 0, j, hl = 0;

		for (j = i; j < m->ndsn && m->dsn[j].msg == g && n < PH_ARRAY_LEN(rr); j++, n++) {
			rr[n].rcpt = m->dsn[j].rcpt;
			rr[n].action = m->dsn[j].action;
			rr[n].status = m->dsn[j].status;
			rr[n].remote_mta = m->dsn[j].remote_mta;
			rr[n].diagnostic = m->dsn[j].diagnostic;
			rr[n].last_attempt_ms = m->dsn[j].at_ms;
		}
		buf_init(&orig, (size_t)g->len + 1);
		if (queue_spool_read(m->data_dir, g->seg, g->off, g->len, g->public_id, &orig, err,
				     sizeof(err)) < 0)
			log_warn("mta %s dsn without original headers: %s", g->public_id, err);
		/* The original header section: up to the first empty line. */
		for (hl = 0; hl + 3 < orig.len; hl++)
			if (memcmp(orig.data + hl, "\r\n\r\n", 4) == 0) {
				hl += 2;
				break;
			}
		if (hl + 3 >= orig.len)
			hl = orig.len;
		memset(&dsn, 0, sizeof(dsn));
		snprintf(from, sizeof(from), "MAILER-DAEMON@%s", m->cfg.hostname);
		dsn.reporting_mta = m->cfg.hostname;
		dsn.dsn_from = from;
		dsn.to = g->mail_from;
		dsn.public_id = g->public_id;
		dsn.arrival_ms = g->received_ms;
		dsn.now_ms = time_now_ms();
		dsn.rcpts = rr;
		dsn.nrcpt = n;
		dsn.original_headers = orig.data ? orig.data : "";
		dsn.original_headers_len = hl;
		qm = queue_msg_new();
		buf_init(&qm->body, 1024 * 1024);
		if (mta_dsn_build(&dsn, &qm->body) == 0) {
			char **rc = arena_alloc(&qm->arena, sizeof(char *));
			char v[MAIL_HEADER_VALUE_MAX + 1];

			rc[0] = arena_strndup(&qm->arena, g->mail_from, strlen(g->mail_from));
			qm->meta.account_id = g->account_id;
			qm->meta.mail_from = "";
			qm->meta.rcpts = rc;
			qm->meta.nrcpt = 1;
			qm->meta.source = "dsn";
			qm->meta.helo = m->cfg.hostname;
			qm->meta.received_ms = time_now_ms();
			qm->meta.size = qm->body.len;
			if (mail_header_get(qm->body.data, qm->body.len, "Subject", v, sizeof(v)))
				qm->meta.subject = arena_strndup(&qm->arena, v, strlen(v));
			if (mail_header_get(qm->body.data, qm->body.len, "Message-ID", v, sizeof(v)))
				qm->meta.message_id_hdr = arena_strndup(&qm->arena, v, strlen(v));
			m->stats.dsns++;
			log_info("mta %s dsn to=<%s> recipients=%zu", g->public_id, g->mail_from, n);
			queue_submit(m->queue, qm);
		} else {
			log_error("mta %s dsn too large, not sent", g->public_id);
			queue_msg_free(qm);
		}
		buf_free(&orig);
		for (; i < j; i++) {
			free(m->dsn[i].rcpt);
			free(m->dsn[i].remote_mta);
			free(m->dsn[i].diagnostic);
			msg_unref(m->dsn[i].msg);
		}
	}
	m->ndsn = 0;
}

/* --- intake ------------------------------------------------------------------- */

static void
rcpt_add(struct mta *m, struct mta_rcpt *r, int64_t now)
{
	const char *at = strrchr(r->addr, '@');

	r->dest = dest_get(m, at ? at + 1 : "");
	r->heap_idx = HEAP_NONE;
	m->stats.queued++;
	if (r->next_ms > now) {
		heap_push(m, r);
		return;
	}
	dest_push_ready(r->dest, r);
	mta_dest_kick(m, r->dest);
}

static struct mta_msg *
msg_new(int64_t rowid, int64_t account_id, int64_t received_ms, uint32_t seg, uint64_t off,
	uint64_t len, const char *public_id, const char *mail_from, const char *dkim_domain)
{
	struct mta_msg *g = xcalloc(1, sizeof(*g));

	/* Signed mail of a verified domain bounces back to its own bounce
	 * subdomain (RFC 5321 4.4), never for the null sender. */
	if (dkim_domain && mail_from[0])
		g->return_domain = xstrdup(dkim_domain);
	g->rowid = rowid;
	g->account_id = account_id;
	g->received_ms = received_ms;
	g->seg = seg;
	g->off = off;
	g->len = len;
	snprintf(g->public_id, sizeof(g->public_id), "%s", public_id);
	g->mail_from = xstrdup(mail_from);
	return g;
}

/* queue_committed_fn: a new message is durable; deliver it. */
static void
mta_committed(void *arg, const struct queue_msg *qm)
{
	struct mta *m = arg;
	const struct store_msg *s = &qm->meta;
	struct mta_msg *g = msg_new(s->rowid, s->account_id, s->received_ms, s->spool_seg,
				    s->spool_off, s->spool_len, s->public_id, s->mail_from,
				    s->dkim_domain);
	int64_t now = time_now_ms();

	g->refs = (unsigned)s->nrcpt;
	for (size_t i = 0; i < s->nrcpt; i++) {
		struct mta_rcpt *r = xcalloc(1, sizeof(*r));

		r->msg = g;
		r->id = s->rcpt_ids[i];
		r->addr = xstrdup(s->rcpts[i]);
		r->next_ms = now;
		rcpt_add(m, r, now);
	}
	if (s->nrcpt == 0)
		msg_unref((g->refs = 1, g));
}

struct load_ctx {
	struct mta *m;
	struct mta_msg *last;
	int64_t now;
};

static int
load_one(void *arg, const struct store_queued *q)
{
	struct load_ctx *c = arg;
	struct mta_rcpt *r = xcalloc(1, sizeof(*r));

	if (c->last == NULL || c->last->rowid != q->msg_rowid)
		c->last = msg_new(q->msg_rowid, q->account_id, q->received_ms, q->spool_seg,
				  q->spool_off, q->spool_len, q->public_id, q->mail_from,
				  q->dkim_domain);
	c->last->refs++;
	r->msg = c->last;
	r->id = q->recipient_id;
	r->addr = xstrdup(q->rcpt);
	r->attempts = (uint16_t)(q->attempts > 65535 ? 65535 : q->attempts);
	r->next_ms = q->next_attempt_ms ? q->next_attempt_ms : c->now;
	rcpt_add(c->m, r, c->now);
	return 0;
}

int
mta_load(struct mta *m)
{
	struct load_ctx c = {m, NULL, time_now_ms()};
	int64_t t0 = time_mono_us();

	if (store_queued_walk(m->store, load_one, &c) < 0)
		return -1;
	log_info("mta loaded recipients=%llu destinations=%zu ms=%lld",
		 (unsigned long long)m->stats.queued, m->ndests,
		 (long long)((time_mono_us() - t0) / 1000));
	return 0;
}

static void
retry_due(evutil_socket_t fd, short what, void *arg)
{
	struct mta *m = arg;
	int64_t now = time_now_ms();

	while (m->nheap > 0 && m->heap[0]->next_ms <= now) {
		struct mta_rcpt *r = heap_pop(m);

		dest_push_ready(r->dest, r);
		mta_dest_kick(m, r->dest);
	}
	retry_timer_set(m);
}

struct mta *
mta_new(struct event_base *base, const struct mta_config *c, struct store *st,
	struct queue *q, struct dns *dns, struct tls_ctx *tls)
{
	struct mta *m = xcalloc(1, sizeof(*m));

	m->base = base;
	m->cfg = *c;
	m->store = st;
	m->queue = q;
	m->dns = dns;
	m->data_dir = xstrdup(queue_data_dir(q));
	m->tls = tls;
	m->dests = xcalloc(MTA_DEST_SLOTS, sizeof(*m->dests));
	m->retry_timer = evtimer_new(base, retry_due, m);
	m->flush_ev = event_new(base, -1, 0, mta_flush_cb, m);
	event_priority_set(m->flush_ev, QUEUE_PRIORITIES - 1);
	queue_set_committed_hook(q, mta_committed, m);
	return m;
}

void
mta_get_stats(struct mta *m, struct mta_stats *out)
{
	*out = m->stats;
}

void
mta_free(struct mta *m)
{
	if (m == NULL)
		return;
	m->stopping = 1;
	/* DSNs queued from here on are committed without us: the next start
	 * loads them from the store. */
	queue_set_committed_hook(m->queue, NULL, NULL);
	while (m->sessions) {
		struct mta_session *s = m->sessions;
		struct mta_rcpt *r, *rn;

		/* Unfinished transactions stay queued in the store. */
		for (r = s->txn; r; r = rn) {
			rn = r->next;
			rcpt_free(r);
		}
		s->txn = NULL;
		s->ntxn = 0;
		mta_session_close(s);
	}
	mta_flush(m);
	mta_dsn_flush(m);
	for (size_t i = 0; i < MTA_DEST_SLOTS; i++) {
		struct mta_dest *d, *next;

		for (d = m->dests[i]; d; d = next) {
			struct mta_rcpt *r, *rn;

			next = d->hnext;
			for (r = d->ready; r; r = rn) {
				rn = r->next;
				rcpt_free(r);
			}
			dest_forget_mx(d);
			free(d->name);
			free(d);
		}
	}
	for (size_t i = 0; i < m->nheap; i++)
		rcpt_free(m->heap[i]);
	free(m->heap);
	free(m->dests);
	free(m->att);
	free(m->tr);
	free(m->dsn);
	event_free(m->retry_timer);
	event_free(m->flush_ev);
	tls_ctx_free(m->tls);
	free(m->data_dir);
	free(m);
}

/* --- operator commands ------------------------------------------------------- */

static int
rcpt_matches(const struct mta_rcpt *r, const char *public_id, int64_t rcpt_id)
{
	return public_id == NULL ||
	       (strcmp(r->msg->public_id, public_id) == 0 && (rcpt_id == 0 || r->id == rcpt_id));
}

/* Take the matching entries out of the retry heap (rebuilt after). */
static size_t
heap_take(struct mta *m, const char *public_id, int64_t rcpt_id, struct mta_rcpt **out)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < m->nheap; i++) {
		struct mta_rcpt *r = m->heap[i];

		if (rcpt_matches(r, public_id, rcpt_id)) {
			r->heap_idx = HEAP_NONE;
			r->next = *out;
			*out = r;
			n++;
		} else {
			r->heap_idx = (uint32_t)k;
			m->heap[k++] = r;
		}
	}
	m->nheap = k;
	for (size_t i = k / 2 + 1; i-- > 0;)
		if (i < k)
			heap_down(m, i);
	retry_timer_set(m);
	return n;
}

/* Remove the matching entries waiting in any destination's ready list. */
static size_t
ready_take(struct mta *m, const char *public_id, int64_t rcpt_id, struct mta_rcpt **out)
{
	size_t n = 0;

	for (size_t s = 0; s < MTA_DEST_SLOTS; s++)
		for (struct mta_dest *d = m->dests[s]; d; d = d->hnext) {
			struct mta_rcpt **pp = &d->ready;

			while (*pp) {
				struct mta_rcpt *r = *pp;

				if (rcpt_matches(r, public_id, rcpt_id)) {
					*pp = r->next;
					d->nready--;
					r->next = *out;
					*out = r;
					n++;
				} else {
					pp = &r->next;
				}
			}
			d->ready_tail = &d->ready;
			while (*d->ready_tail)
				d->ready_tail = &(*d->ready_tail)->next;
		}
	return n;
}

size_t
mta_command(struct mta *m, const char *cmd, const char *public_id, int64_t rcpt_id)
{
	struct mta_rcpt *list = NULL, *r, *next;
	size_t n = 0;

	if (strcmp(cmd, "flush") == 0) {
		n = heap_take(m, public_id, rcpt_id, &list);
		for (r = list; r; r = next) {
			next = r->next;
			r->next_ms = time_now_ms();
			dest_push_ready(r->dest, r);
			mta_dest_kick(m, r->dest);
		}
		log_info("mta flush id=%s recipients=%zu rcpt_id=%lld", public_id ? public_id : "all",
			 n, (long long)rcpt_id);
	} else if (strcmp(cmd, "delete") == 0 && public_id) {
		n = heap_take(m, public_id, rcpt_id, &list) + ready_take(m, public_id, rcpt_id, &list);
		for (r = list; r; r = next) {
			next = r->next;
			add_attempt(m, r, "deleted", "deleted", 0,
				    xstrdup("{\"response\":\"deleted from the queue by the operator\"}"));
			m->stats.queued--;
			rcpt_free(r);
		}
		log_info("mta delete id=%s recipients=%zu rcpt_id=%lld", public_id, n,
			 (long long)rcpt_id);
	} else {
		log_warn("mta unknown command=%s", cmd);
	}
	return n;
}
