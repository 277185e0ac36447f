/*
 * NAME
 *	dns_unbound - dns.h on libunbound
 * DESCRIPTION
 *	The unbound context works in a thread of its own (ub_ctx_async);
 *	answers come back through ub_fd(), which the loop watches and
 *	hands to ub_process(). Traps (DESIGN.md): libunbound answers
 *	NXDOMAIN by itself for test., invalid. and some reverse zones, and
 *	setting local-zone options silently does nothing: those zones are
 *	removed with ub_ctx_zone_remove() as the last set-up call. A
 *	forwarder on 127.0.0.1 needs do-not-query-localhost off.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include <unbound.h>

#include "dns/dns.h"

#define RR_A 1
#define RR_MX 15
#define RR_AAAA 28

struct dns_job;

struct dns {
	struct event_base *base;
	struct ub_ctx *ub;
	struct event *ev;
	struct dns_job *jobs; /* in flight, for dns_free */
};

struct dns_job;

/* One outstanding query of a job. */
struct dns_query {
	struct dns_job *job;
	struct dns_query *next;
	int async_id;
	int rrtype;
	int host; /* index into r->hosts, -1 for the MX query */
	int live;
};

struct dns_job {
	struct dns *d;
	struct dns_job *prev, *next;
	dns_mx_fn cb;
	void *arg;
	struct dns_mx_result *r;
	char domain[DNS_NAME_MAX];
	struct dns_query *queries;
	int pending;
	int tempfail; /* an address lookup failed temporarily */
	struct event *timer;
};

const char *
dns_status_str(enum dns_status s)
{
	switch (s) {
	case DNS_OK:
		return "ok";
	case DNS_NXDOMAIN:
		return "nxdomain";
	case DNS_NULL_MX:
		return "null_mx";
	case DNS_NO_ADDRESS:
		return "no_address";
	case DNS_TEMPFAIL:
		return "tempfail";
	}
	return "?";
}

static void
dns_readable(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;

	ub_process(d->ub);
}

/* A configured unbound context: forwarder or resolv.conf, the traps
 * handled. async: answers through ub_fd() in a thread of its own. */
static struct ub_ctx *
ub_setup(const char *forward, int async, char *err, size_t errlen)
{
	static const char *const drop_zones[] = {"test.", "invalid.", "2.0.192.in-addr.arpa.",
						 "100.51.198.in-addr.arpa.",
						 "113.0.203.in-addr.arpa."};
	struct ub_ctx *ub = ub_ctx_create();
	int rc = 0;

	if (ub == NULL) {
		snprintf(err, errlen, "dns: cannot create the resolver");
		return NULL;
	}
	if (async && (rc = ub_ctx_async(ub, 1)) != 0)
		goto fail;
	if (forward) {
		if ((rc = ub_ctx_set_option(ub, "do-not-query-localhost:", "no")) != 0 ||
		    (rc = ub_ctx_set_fwd(ub, forward)) != 0)
			goto fail;
	} else {
		if ((rc = ub_ctx_resolvconf(ub, NULL)) != 0)
			goto fail;
		ub_ctx_hosts(ub, NULL);
	}
	/* Last: removing zones finalises the context. */
	for (size_t i = 0; i < PH_ARRAY_LEN(drop_zones); i++)
		ub_ctx_zone_remove(ub, drop_zones[i]);
	return ub;
fail:
	snprintf(err, errlen, "dns: %s%s", ub_strerror(rc),
		 forward ? " (check --dns ADDR@PORT)" : "");
	ub_ctx_delete(ub);
	return NULL;
}

struct dns *
dns_new(struct event_base *base, const char *forward, char *err, size_t errlen)
{
	struct dns *d = xcalloc(1, sizeof(*d));

	d->base = base;
	if ((d->ub = ub_setup(forward, 1, err, errlen)) == NULL) {
		free(d);
		return NULL;
	}
	d->ev = event_new(base, ub_fd(d->ub), EV_READ | EV_PERSIST, dns_readable, d);
	event_add(d->ev, NULL);
	return d;
}

static void job_finish(struct dns_job *j);

void
dns_free(struct dns *d)
{
	if (d == NULL)
		return;
	/* Lookups still in flight are dropped without calling back. */
	while (d->jobs) {
		struct dns_job *j = d->jobs;

		j->cb = NULL;
		job_finish(j);
	}
	if (d->ev)
		event_free(d->ev);
	if (d->ub)
		ub_ctx_delete(d->ub);
	free(d);
}

/* Wire-format name (uncompressed, as libunbound gives rdata) to text
 * without the trailing dot. -1 when malformed. */
int
dns_wire_name(const unsigned char *p, size_t n, char *out, size_t outlen)
{
	size_t i = 0, o = 0;

	while (i < n) {
		size_t l = p[i++];

		if (l == 0) {
			out[o] = '\0';
			return (int)i;
		}
		if (l > 63 || n - i < l || outlen - o < l + 2)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (size_t k = 0; k < l; k++) {
			unsigned char c = p[i + k];

			/* Host names only: anything odd is refused, not escaped. */
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '-' || c == '_'))
				return -1;
			out[o++] = (char)c;
		}
		i += l;
	}
	return -1;
}

void
dns_order_hosts(struct dns_host *h, size_t n)
{
	/* Insertion sort by preference (n <= DNS_MX_MAX)... */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && h[j - 1].pref > h[j].pref; j--) {
			struct dns_host t = h[j];

			h[j] = h[j - 1];
			h[j - 1] = t;
		}
	/* ...then Fisher-Yates within each run of equal preference. */
	for (size_t a = 0; a < n;) {
		size_t b = a;

		while (b < n && h[b].pref == h[a].pref)
			b++;
		for (size_t i = b - 1; i > a; i--) {
			uint32_t r;
			size_t j;

			rand_bytes(&r, sizeof(r));
			j = a + r % (i - a + 1);
			if (j != i) {
				struct dns_host t = h[i];

				h[i] = h[j];
				h[j] = t;
			}
		}
		a = b;
	}
}

static void
note(struct dns_mx_result *r, const char *fmt, ...) PH_PRINTF(2, 3);

static void
note(struct dns_mx_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* Past DNS_ANSWERS_MAX the transcript just stops listing answers. */
	if (buf_vprintf(&r->answers, fmt, ap) == 0 && buf_append(&r->answers, "\n", 1) < 0)
		r->answers.data[r->answers.len - 1] = '\n';
	va_end(ap);
}

static void
job_finish(struct dns_job *j)
{
	struct dns_mx_result *r = j->r;
	struct dns_query *q, *next;

	for (q = j->queries; q; q = next) {
		next = q->next;
		if (q->live)
			ub_cancel(j->d->ub, q->async_id);
		free(q);
	}
	if (j->timer)
		event_free(j->timer);
	if (j->prev)
		j->prev->next = j->next;
	else
		j->d->jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	if (r->status == DNS_OK) {
		/* Keep only hosts with addresses. */
		size_t k = 0;

		for (size_t i = 0; i < r->nhosts; i++)
			if (r->hosts[i].naddr > 0)
				r->hosts[k++] = r->hosts[i];
		r->nhosts = k;
		if (k == 0) {
			r->status = j->tempfail ? DNS_TEMPFAIL : DNS_NO_ADDRESS;
			snprintf(r->why, sizeof(r->why), "%s: %s", j->domain,
				 j->tempfail ? "address lookup failed"
					     : "no address records for any mail host");
		}
	}
	if (j->cb)
		j->cb(j->arg, r);
	buf_free(&r->answers);
	free(r);
	free(j);
}

static void dns_answer(void *arg, int err, struct ub_result *res);

static void
job_query(struct dns_job *j, const char *name, int rrtype, int host)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));
	int rc;

	q->job = j;
	q->rrtype = rrtype;
	q->host = host;
	q->next = j->queries;
	j->queries = q;
	rc = ub_resolve_async(j->d->ub, name, rrtype, 1, q, dns_answer, &q->async_id);
	if (rc != 0) {
		note(j->r, "%s %s: lookup error: %s", rrtype == RR_MX ? "MX" : "A/AAAA", name,
		     ub_strerror(rc));
		j->tempfail = 1;
		return;
	}
	q->live = 1;
	j->pending++;
}

static void
add_host(struct dns_job *j, const char *name, int pref)
{
	struct dns_mx_result *r = j->r;

	if (r->nhosts >= DNS_MX_MAX)
		return;
	snprintf(r->hosts[r->nhosts].name, DNS_NAME_MAX, "%s", name);
	r->hosts[r->nhosts].pref = pref;
	r->nhosts++;
}

static void
query_addresses(struct dns_job *j)
{
	for (size_t i = 0; i < j->r->nhosts; i++) {
		job_query(j, j->r->hosts[i].name, RR_A, (int)i);
		job_query(j, j->r->hosts[i].name, RR_AAAA, (int)i);
	}
}

static void
on_mx(struct dns_job *j, int err, struct ub_result *res)
{
	struct dns_mx_result *r = j->r;
	char name[DNS_NAME_MAX];

	if (err || res->rcode == 2 /* SERVFAIL */ || res->bogus) {
		r->status = DNS_TEMPFAIL;
		snprintf(r->why, sizeof(r->why), "MX %s: %s", j->domain,
			 err ? ub_strerror(err) : res->bogus ? "DNSSEC bogus" : "SERVFAIL");
		note(r, "%s", r->why);
		return;
	}
	if (res->nxdomain) {
		r->status = DNS_NXDOMAIN;
		snprintf(r->why, sizeof(r->why), "%s: domain does not exist (NXDOMAIN)", j->domain);
		note(r, "MX %s: NXDOMAIN", j->domain);
		return;
	}
	if (res->rcode != 0) {
		r->status = DNS_TEMPFAIL;
		snprintf(r->why, sizeof(r->why), "MX %s: rcode %d", j->domain, res->rcode);
		note(r, "%s", r->why);
		return;
	}
	r->ttl = (uint32_t)res->ttl;
	if (!res->havedata) {
		/* RFC 5321 5.1: no MX, the domain itself is the implicit MX. */
		note(r, "MX %s: none; the domain's own address is used (implicit MX)", j->domain);
		r->implicit = 1;
		add_host(j, j->domain, 0);
		query_addresses(j);
		return;
	}
	for (int i = 0; res->data[i]; i++) {
		const unsigned char *p = (const unsigned char *)res->data[i];
		size_t n = (size_t)res->len[i];
		int pref;

		if (n < 3)
			continue;
		pref = p[0] << 8 | p[1];
		if (n == 3 && p[2] == 0) {
			/* RFC 7505: "0 ." says the domain accepts no mail. */
			r->status = DNS_NULL_MX;
			snprintf(r->why, sizeof(r->why), "%s: null MX (RFC 7505), accepts no mail",
				 j->domain);
			note(r, "MX %s: %d . (null MX)", j->domain, pref);
			return;
		}
		if (dns_wire_name(p + 2, n - 2, name, sizeof(name)) < 0) {
			note(r, "MX %s: malformed record ignored", j->domain);
			continue;
		}
		note(r, "MX %s: %d %s (ttl %d)", j->domain, pref, name, res->ttl);
		add_host(j, name, pref);
	}
	dns_order_hosts(r->hosts, r->nhosts);
	query_addresses(j);
}

static void
on_addr(struct dns_job *j, struct dns_query *q, int err, struct ub_result *res)
{
	struct dns_host *h = &j->r->hosts[q->host];
	const char *t = q->rrtype == RR_A ? "A" : "AAAA";
	size_t want = q->rrtype == RR_A ? 4 : 16;

	if (err || res->rcode == 2 || res->bogus) {
		j->tempfail = 1;
		note(j->r, "%s %s: %s", t, h->name, err ? ub_strerror(err) : "SERVFAIL");
		return;
	}
	if (!res->havedata)
		return;
	if ((uint32_t)res->ttl < j->r->ttl || j->r->ttl == 0)
		j->r->ttl = (uint32_t)res->ttl;
	for (int i = 0; res->data[i] && h->naddr < DNS_ADDRS_MAX; i++) {
		struct dns_addr *a = &h->addrs[h->naddr];
		char text[INET6_ADDRSTRLEN];

		if ((size_t)res->len[i] != want)
			continue;
		a->family = q->rrtype == RR_A ? AF_INET : AF_INET6;
		memcpy(a->addr, res->data[i], want);
		inet_ntop(a->family, a->addr, text, sizeof(text));
		note(j->r, "%s %s: %s", t, h->name, text);
		h->naddr++;
	}
}

static void
dns_answer(void *arg, int err, struct ub_result *res)
{
	struct dns_query *q = arg;
	struct dns_job *j = q->job;

	q->live = 0;
	j->pending--;
	if (q->host < 0)
		on_mx(j, err, res);
	else
		on_addr(j, q, err, res);
	ub_resolve_free(res);
	if (j->pending == 0)
		job_finish(j);
}

static void
job_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dns_job *j = arg;

	if (j->r->status == DNS_OK) {
		j->r->status = DNS_TEMPFAIL;
		snprintf(j->r->why, sizeof(j->r->why), "%s: DNS lookup timed out after %d ms",
			 j->domain, DNS_TIMEOUT_MS);
		note(j->r, "%s", j->r->why);
	}
	job_finish(j);
}

/* Report a job that never started a query, from the loop. */
static void
job_later(evutil_socket_t fd, short what, void *arg)
{
	job_finish(arg);
}

static void
job_start(struct dns *d, const char *name, int mx, dns_mx_fn cb, void *arg)
{
	struct dns_job *j = xcalloc(1, sizeof(*j));
	struct timeval tv = {DNS_TIMEOUT_MS / 1000, (DNS_TIMEOUT_MS % 1000) * 1000};

	j->d = d;
	j->cb = cb;
	j->arg = arg;
	j->next = d->jobs;
	if (j->next)
		j->next->prev = j;
	d->jobs = j;
	j->r = xcalloc(1, sizeof(*j->r));
	buf_init(&j->r->answers, DNS_ANSWERS_MAX);
	snprintf(j->domain, sizeof(j->domain), "%s", name);
	if (mx) {
		job_query(j, name, RR_MX, -1);
	} else {
		add_host(j, name, 0);
		query_addresses(j);
	}
	if (j->pending == 0) {
		j->r->status = DNS_TEMPFAIL;
		snprintf(j->r->why, sizeof(j->r->why), "%s: resolver error", name);
		struct timeval now = {0, 0};

		j->timer = evtimer_new(d->base, job_later, j);
		evtimer_add(j->timer, &now);
		return;
	}
	j->timer = evtimer_new(d->base, job_timeout, j);
	evtimer_add(j->timer, &tv);
}

void
dns_resolve_mx(struct dns *d, const char *domain, dns_mx_fn cb, void *arg)
{
	job_start(d, domain, 1, cb, arg);
}

void
dns_resolve_host(struct dns *d, const char *host, dns_mx_fn cb, void *arg)
{
	job_start(d, host, 0, cb, arg);
}

/* --- synchronous lookups ------------------------------------------------- */

struct dns_sync {
	struct ub_ctx *ub;
};

struct dns_sync *
dns_sync_new(const char *forward, char *err, size_t errlen)
{
	struct dns_sync *d = xcalloc(1, sizeof(*d));

	if ((d->ub = ub_setup(forward, 0, err, errlen)) == NULL) {
		free(d);
		return NULL;
	}
	return d;
}

int
dns_sync_query(struct dns_sync *d, const char *name, int rrtype, struct dns_rrset *out)
{
	struct ub_result *res = NULL;
	int rc = ub_resolve(d->ub, name, rrtype, 1, &res);

	memset(out, 0, sizeof(*out));
	if (rc != 0 || res->rcode == 2 || res->bogus) {
		out->rcode = DNS_SERVER_FAIL;
	} else if (res->nxdomain) {
		out->rcode = DNS_NAME_ERROR;
	} else if (res->rcode != 0) {
		out->rcode = DNS_SERVER_FAIL;
	} else if (!res->havedata) {
		out->rcode = DNS_NO_DATA;
	} else {
		size_t n = 0;

		while (res->data[n])
			n++;
		out->rcode = DNS_ANSWER;
		out->n = n;
		out->rdata = xcalloc(n, sizeof(*out->rdata));
		out->len = xcalloc(n, sizeof(*out->len));
		for (size_t i = 0; i < n; i++) {
			out->len[i] = (size_t)res->len[i];
			out->rdata[i] = xmalloc(out->len[i] + 1);
			memcpy(out->rdata[i], res->data[i], out->len[i]);
		}
		out->ttl = (uint32_t)res->ttl;
		out->secure = res->secure;
	}
	if (res)
		ub_resolve_free(res);
	return rc == 0 ? 0 : -1;
}

void
dns_rrset_free(struct dns_rrset *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->rdata[i]);
	free(r->rdata);
	free(r->len);
	memset(r, 0, sizeof(*r));
}

void
dns_sync_free(struct dns_sync *d)
{
	if (d == NULL)
		return;
	ub_ctx_delete(d->ub);
	free(d);
}
