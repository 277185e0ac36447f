/*
 * NAME
 *	mta_session - one outbound SMTP connection (RFC 5321 client)
 * DESCRIPTION
 *	Connects to the destination's MX hosts in order (each address of a
 *	host in turn); a refused or failed connection, a non-2xx greeting
 *	or a failed EHLO/HELO moves on to the next address. Then EHLO (HELO
 *	when EHLO is refused), STARTTLS when offered (opportunistic: the
 *	certificate check is recorded, not enforced; a failed handshake
 *	makes the destination go without TLS on the next try), and
 *	transactions until the destination has no more work for
 *	idle_reuse_ms. With PIPELINING, MAIL, every RCPT and DATA leave in
 *	one write (RFC 2920).
 *
 *	Every line in both directions goes to the transcript, timestamped,
 *	after the DNS answers that chose the host; the message content is
 *	summarised (size, Subject, Message-ID), never copied.
 *
 *	Replies are parsed by mta_reply (mta_pure.h) with its limits: a
 *	remote server cannot make us buffer without bound or crash.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "mail/mail.h"
#include "mta/mta_int.h"
#include "tls/tls.h"

static void s_read(struct bufferevent *bev, void *arg);
static void s_event(struct bufferevent *bev, short what, void *arg);
static void try_connect(struct mta_session *s);
static void s_ready(struct mta_session *s);

/* --- transcript ----------------------------------------------------------- */

static void
tlog(struct buf *b, const char *dir, const char *text, size_t n)
{
	char ts[TIME_RFC3339_LEN], esc[2048];

	time_rfc3339(time_now_ms(), ts);
	log_escape(esc, sizeof(esc), text, n);
	/* Past the cap the transcript stops growing; it says so once. */
	if (buf_printf(b, "%s %s %s\n", ts, dir, esc) < 0 && b->len + 32 < b->cap)
		(void)!buf_puts(b, "[transcript truncated]\n");
}

static void
tlogf(struct buf *b, const char *dir, const char *fmt, ...) PH_PRINTF(3, 4);

static void
tlogf(struct buf *b, const char *dir, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	tlog(b, dir, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* Send a command line and log it. */
static void
s_send(struct mta_session *s, const char *fmt, ...) PH_PRINTF(2, 3);

static void
s_send(struct mta_session *s, const char *fmt, ...)
{
	char line[1100];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		panic("mta command too long");
	tlog(s->ntxn ? &s->txn_log : &s->conn_log, ">", line, (size_t)n);
	line[n++] = '\r';
	line[n++] = '\n';
	bufferevent_write(s->bev, line, (size_t)n);
}

static struct buf *
s_log(struct mta_session *s)
{
	return s->ntxn ? &s->txn_log : &s->conn_log;
}

static void
set_timeout(struct mta_session *s, int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

/* --- life cycle ---------------------------------------------------------- */

static void
drop_connection(struct mta_session *s)
{
	if (s->bev) {
		/* Detach a plain socket first: the bufferevent may be finalised
		 * later, and must not touch a descriptor number that a new
		 * connection reuses. A TLS bufferevent owns and closes its own. */
		if (!s->tls && s->fd >= 0) {
			bufferevent_setfd(s->bev, -1);
			close(s->fd);
		}
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	s->fd = -1;
	s->tls = 0;
}

static void
s_free(struct mta_session *s)
{
	struct mta *m = s->m;
	struct mta_dest *d = s->d;

	drop_connection(s);
	if (s->idle_timer)
		event_free(s->idle_timer);
	if (s->connecting) {
		s->connecting = 0;
		d->nconnecting--;
	}
	buf_free(&s->conn_log);
	buf_free(&s->txn_log);
	buf_free(&s->body);
	free(s->outs);
	if (s->all_prev)
		s->all_prev->all_next = s->all_next;
	else
		m->sessions = s->all_next;
	if (s->all_next)
		s->all_next->all_prev = s->all_prev;
	mta_dest_session_gone(m, d, s); /* takes s off d's idle list */
	free(s);
}

void
mta_session_close(struct mta_session *s)
{
	s_free(s);
}

/* The attempt facts every event of this session shares. */
static void
attempt_info(struct mta_session *s, struct mta_attempt_info *ai)
{
	*ai = s->ai;
	ai->mx_host = s->mx_host[0] ? s->mx_host : NULL;
	ai->helo_name = s->m->cfg.hostname;
	ai->route = s->d->route ? "relay" : "direct";
}

/* Every address of every host failed before a transaction could start. */
static void
all_failed(struct mta_session *s)
{
	struct mta_attempt_info ai;

	attempt_info(s, &ai);
	tlogf(&s->conn_log, "--", "no usable mail host: %s", s->last_fail.response);
	/* Only the last session standing settles the ready recipients: while
	 * another connects or works, they still have a chance. */
	if (s->d->nsessions == 1)
		mta_dest_fail_ready(s->m, s->d, &s->last_fail, &ai, s->conn_log.data);
	s_free(s);
}

/* This address failed: note why and try the next one. */
static void
conn_fail(struct mta_session *s, int code, const char *enhanced, const char *why)
{
	tlogf(&s->conn_log, "--", "%s", why);
	memset(&s->last_fail, 0, sizeof(s->last_fail));
	s->last_fail.code = code;
	snprintf(s->last_fail.enhanced, sizeof(s->last_fail.enhanced), "%s", enhanced);
	snprintf(s->last_fail.response, sizeof(s->last_fail.response), "%s", why);
	if (s->bev && code == 0)
		drop_connection(s);
	else if (s->bev) {
		/* A polite goodbye, without waiting for its answer. */
		bufferevent_write(s->bev, "QUIT\r\n", 6);
		bufferevent_flush(s->bev, EV_WRITE, BEV_FLUSH);
		drop_connection(s);
	}
	s->esmtp = s->pipelining = s->starttls = s->smtputf8 = s->eightbit = 0;
	s->size_limit = 0;
	mta_reply_parser_init(&s->rp);
	try_connect(s);
}

static void
try_connect(struct mta_session *s)
{
	struct mta *m = s->m;
	const struct dns_mx_result *mx = s->d->mx;
	uint16_t port = s->d->route ? s->d->route->port : m->cfg.mx_port;

	while (mx && s->host_i < mx->nhosts) {
		const struct dns_host *h = &mx->hosts[s->host_i];
		const struct dns_addr *a;
		struct sockaddr_storage ss;
		socklen_t sl;
		int one = 1;

		if (s->addr_i >= h->naddr) {
			s->host_i++;
			s->addr_i = 0;
			continue;
		}
		a = &h->addrs[s->addr_i++];
		memset(&ss, 0, sizeof(ss));
		if (a->family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;

			in->sin_family = AF_INET;
			in->sin_port = htons(port);
			memcpy(&in->sin_addr, a->addr, 4);
			sl = sizeof(*in);
		} else {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

			in6->sin6_family = AF_INET6;
			in6->sin6_port = htons(port);
			memcpy(&in6->sin6_addr, a->addr, 16);
			sl = sizeof(*in6);
		}
		snprintf(s->mx_host, sizeof(s->mx_host), "%s", h->name);
		inet_ntop(a->family, a->addr, s->ai.remote_ip, sizeof(s->ai.remote_ip));
		s->ai.local_ip[0] = '\0';
		s->fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s->fd < 0) {
			tlogf(&s->conn_log, "--", "socket: %s", strerror(errno));
			continue;
		}
		setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* Not closed on free: STARTTLS moves the socket to a TLS bufferevent. */
		s->bev = bufferevent_socket_new(m->base, s->fd, BEV_OPT_DEFER_CALLBACKS);
		bufferevent_setcb(s->bev, s_read, NULL, s_event, s);
		set_timeout(s, m->cfg.connect_timeout_ms);
		tlogf(&s->conn_log, "--", "connect to %s [%s]:%u", h->name, s->ai.remote_ip, port);
		s->conn_start_us = time_mono_us();
		s->state = MS_CONNECTING;
		if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&ss, (int)sl) < 0) {
			char why[256];

			snprintf(why, sizeof(why), "connect to [%s]:%u failed: %s", s->ai.remote_ip,
				 port, strerror(errno));
			drop_connection(s);
			tlogf(&s->conn_log, "--", "%s", why);
			memset(&s->last_fail, 0, sizeof(s->last_fail));
			snprintf(s->last_fail.enhanced, sizeof(s->last_fail.enhanced), "4.4.1");
			snprintf(s->last_fail.response, sizeof(s->last_fail.response), "%s", why);
			continue;
		}
		bufferevent_enable(s->bev, EV_READ | EV_WRITE);
		return;
	}
	all_failed(s);
}

void
mta_session_start(struct mta *m, struct mta_dest *d)
{
	struct mta_session *s = xcalloc(1, sizeof(*s));

	s->m = m;
	s->d = d;
	s->fd = -1;
	s->connecting = 1; /* the caller counted it in d->nconnecting */
	buf_init(&s->conn_log, MTA_TRANSCRIPT_MAX);
	buf_init(&s->txn_log, MTA_TRANSCRIPT_MAX);
	mta_reply_parser_init(&s->rp);
	s->all_next = m->sessions;
	if (s->all_next)
		s->all_next->all_prev = s;
	m->sessions = s;
	/* The evidence starts with the DNS answers that chose the host. */
	if (d->route)
		tlogf(&s->conn_log, "--", "route %s -> %s:%u", d->name, d->route->host,
		      d->route->port);
	if (d->mx && d->mx->answers.len) {
		const char *p = d->mx->answers.data, *e;

		while ((e = strchr(p, '\n')) != NULL) {
			tlog(&s->conn_log, "dns", p, (size_t)(e - p));
			p = e + 1;
		}
	}
	try_connect(s);
}

/* --- TLS --------------------------------------------------------------------- */

static void
start_tls(struct mta_session *s)
{
	SSL *ssl = tls_client_ssl(s->m->tls, s->mx_host);

	/* RFC 3207 / CVE-2011-0411: nothing read before the handshake is kept. */
	bufferevent_setfd(s->bev, -1);
	bufferevent_free(s->bev);
	s->bev = bufferevent_openssl_socket_new(s->m->base, s->fd, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	s->tls = 1; /* the TLS bufferevent owns the socket now */
	bufferevent_setcb(s->bev, s_read, NULL, s_event, s);
	set_timeout(s, s->m->cfg.command_timeout_ms);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->state = MS_HANDSHAKE;
}

static void
tls_done(struct mta_session *s)
{
	struct tls_peer p;

	tls_peer_info(bufferevent_openssl_get_ssl(s->bev), &p);
	s->ai.tls = 1;
	snprintf(s->ai.tls_version, sizeof(s->ai.tls_version), "%s", p.version);
	snprintf(s->ai.tls_cipher, sizeof(s->ai.tls_cipher), "%s", p.cipher);
	snprintf(s->ai.tls_subject, sizeof(s->ai.tls_subject), "%s", p.subject);
	s->ai.tls_verified = p.verified;
	tlogf(&s->conn_log, "--", "TLS %s %s verified=%s%s%s subject=%s", p.version, p.cipher,
	      p.verified ? "yes" : "no", p.verified ? "" : " reason=", p.verified ? "" : p.verify_error,
	      p.subject);
	s->starttls = s->pipelining = s->smtputf8 = s->eightbit = 0;
	s_send(s, "EHLO %s", s->m->cfg.hostname);
	s->state = MS_EHLO; /* RFC 3207 4.2: start over */
}

/* --- transactions ---------------------------------------------------------- */

static int
has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

/* Settle the whole transaction with one synthesised outcome (no wire). */
static void
settle_all(struct mta_session *s, struct mta_rcpt *r, const char *enhanced, const char *why)
{
	struct mta_outcome o;
	struct mta_attempt_info ai;

	memset(&o, 0, sizeof(o));
	snprintf(o.enhanced, sizeof(o.enhanced), "%s", enhanced);
	snprintf(o.response, sizeof(o.response), "%s", why);
	attempt_info(s, &ai);
	tlogf(&s->txn_log, "--", "%s %s", enhanced, why);
	ai.transcript_id = mta_transcript_add(s->m, r->msg->rowid, s->txn_log.data);
	while (r) {
		struct mta_rcpt *next = r->next;

		mta_settle(s->m, r, &o, &ai);
		r = next;
	}
	buf_reset(&s->txn_log);
}

static int
start_txn(struct mta_session *s, struct mta_rcpt *r, size_t n)
{
	struct mta_msg *g = r->msg;
	char err[512], params[64] = "";
	int utf8 = has_8bit(g->mail_from, strlen(g->mail_from));

	buf_reset(&s->txn_log);
	for (struct mta_rcpt *x = r; x; x = x->next)
		utf8 |= has_8bit(x->addr, strlen(x->addr));
	tlogf(&s->txn_log, "--", "message %s from=<%s> recipients=%zu%s", g->public_id,
	      g->mail_from, n, s->ntxns ? " (connection reused)" : "");
	if (utf8 && !s->smtputf8) {
		/* RFC 6531 3.4: no downgrade; the address cannot be carried. */
		settle_all(s, r, "5.6.7",
			   "the recipient's server does not support SMTPUTF8, needed for this "
			   "address");
		return -1;
	}
	buf_free(&s->body);
	buf_init(&s->body, (size_t)g->len + 1);
	if (queue_spool_read(s->m->data_dir, g->seg, g->off, g->len, g->public_id, &s->body, err,
			     sizeof(err)) < 0) {
		log_error("mta %s %s", g->public_id, err);
		settle_all(s, r, "5.3.0", "the message could not be read from the spool");
		return -1;
	}
	if (s->size_limit && s->body.len > s->size_limit) {
		settle_all(s, r, "5.3.4", "message larger than the recipient server's SIZE limit");
		return -1;
	}
	s->txn = r;
	s->ntxn = n;
	s->rcpt_i = 0;
	s->naccepted = 0;
	s->mail_failed = s->data_abort = 0;
	free(s->outs);
	s->outs = xcalloc(n, sizeof(*s->outs));
	s->txn_start_us = time_mono_us();
	s->ai.remote_queue_id[0] = '\0';
	if (s->eightbit && has_8bit(s->body.data, s->body.len))
		snprintf(params, sizeof(params), " BODY=8BITMIME");
	if (utf8)
		snprintf(params + strlen(params), sizeof(params) - strlen(params), " SMTPUTF8");
	if (s->size_limit)
		snprintf(params + strlen(params), sizeof(params) - strlen(params), " SIZE=%zu",
			 s->body.len);
	if (g->return_domain) {
		/* VERP: bounce+<message id>-<recipient id>@bounce.<domain> names
		 * the exact message and recipient of a later bounce. */
		char rid[24];

		snprintf(rid, sizeof(rid), "%llx", (unsigned long long)r->id);
		s_send(s, "MAIL FROM:<%s+%s-%s@%s.%s>%s", DOMAIN_BOUNCE_LABEL, g->public_id, rid,
		       DOMAIN_BOUNCE_LABEL, g->return_domain, params);
	} else {
		s_send(s, "MAIL FROM:<%s>%s", g->mail_from, params);
	}
	if (s->pipelining) {
		for (struct mta_rcpt *x = r; x; x = x->next)
			s_send(s, "RCPT TO:<%s>", x->addr);
		s_send(s, "DATA");
	}
	s->state = MS_MAIL;
	return 0;
}

/* The body, dot-stuffed (RFC 5321 4.5.2), then the end of data. */
static void
send_body(struct mta_session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	const char *p = s->body.data, *end = p + s->body.len;
	char v[MAIL_HEADER_VALUE_MAX + 1], mid[MAIL_HEADER_VALUE_MAX + 1];

	if (!mail_header_get(s->body.data, s->body.len, "Subject", v, sizeof(v)))
		snprintf(v, sizeof(v), "(none)");
	if (!mail_header_get(s->body.data, s->body.len, "Message-ID", mid, sizeof(mid)))
		snprintf(mid, sizeof(mid), "(none)");
	tlogf(&s->txn_log, ">", "[message content: %zu bytes; Subject: %.200s; Message-ID: %.200s]",
	      s->body.len, v, mid);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl + 1 : end;

		if (*p == '.')
			evbuffer_add(out, ".", 1);
		evbuffer_add(out, p, (size_t)(stop - p));
		p = stop;
	}
	if (s->body.len == 0 || s->body.data[s->body.len - 1] != '\n')
		evbuffer_add(out, "\r\n", 2);
	evbuffer_add(out, ".\r\n", 3);
	tlog(&s->txn_log, ">", ".", 1);
	set_timeout(s, s->m->cfg.data_timeout_ms);
}

static void
outcome_from(struct mta_outcome *o, const struct mta_reply *r)
{
	size_t n;

	memset(o, 0, sizeof(*o));
	o->code = r->code;
	snprintf(o->enhanced, sizeof(o->enhanced), "%s", r->enhanced);
	/* The verbatim reply, cut to what an event keeps. */
	n = strnlen(r->text, sizeof(o->response) - 1);
	memcpy(o->response, r->text, n);
	o->response[n] = '\0';
}

/* Settle every recipient of the transaction from s->outs. */
static void
finish_txn(struct mta_session *s)
{
	struct mta_attempt_info ai;
	struct mta_rcpt *r = s->txn;
	size_t i = 0;

	attempt_info(s, &ai);
	ai.duration_ms = (time_mono_us() - s->txn_start_us) / 1000;
	/* The transcript of an attempt: the connection's part, then this
	 * transaction's. */
	if (buf_append(&s->conn_log, s->txn_log.data ? s->txn_log.data : "", s->txn_log.len) < 0)
		log_warn("mta transcript truncated id=%s", r->msg->public_id);
	ai.transcript_id = mta_transcript_add(s->m, r->msg->rowid, s->conn_log.data);
	s->conn_log.len -= s->txn_log.len <= s->conn_log.len ? s->txn_log.len : 0;
	s->conn_log.data[s->conn_log.len] = '\0';
	while (r) {
		struct mta_rcpt *next = r->next;

		mta_settle(s->m, r, &s->outs[i++], &ai);
		r = next;
	}
	s->txn = NULL;
	s->ntxn = 0;
	s->ntxns++;
	buf_reset(&s->txn_log);
	buf_free(&s->body);
	set_timeout(s, s->m->cfg.command_timeout_ms);
}

/* The connection died inside a transaction. */
static void
txn_lost(struct mta_session *s, const char *why)
{
	struct mta_outcome o;
	int lost = s->state == MS_DOT;

	memset(&o, 0, sizeof(o));
	snprintf(o.enhanced, sizeof(o.enhanced), "4.4.2");
	snprintf(o.response, sizeof(o.response), "%s%s", why,
		 lost ? " after the message was sent (its delivery may have happened)" : "");
	o.final_reply_lost = lost;
	tlogf(&s->txn_log, "--", "%s", o.response);
	for (size_t i = 0; i < s->ntxn; i++)
		if (s->outs[i].code == 0 || (s->outs[i].code >= 200 && s->outs[i].code < 300))
			s->outs[i] = o; /* recipients already refused keep their reply */
	finish_txn(s);
}

/* --- replies ------------------------------------------------------------------- */

static void
parse_ehlo(struct mta_session *s, const struct mta_reply *r)
{
	const char *p = r->text;

	s->esmtp = 1;
	/* Line 1 is the server's greeting name; each further line a keyword. */
	while ((p = strchr(p, '\n')) != NULL) {
		const char *kw = ++p;
		size_t n = strcspn(kw, " \n");

		if (n == 10 && strncasecmp(kw, "PIPELINING", 10) == 0)
			s->pipelining = 1;
		else if (n == 8 && strncasecmp(kw, "STARTTLS", 8) == 0)
			s->starttls = 1;
		else if (n == 8 && strncasecmp(kw, "SMTPUTF8", 8) == 0)
			s->smtputf8 = 1;
		else if (n == 8 && strncasecmp(kw, "8BITMIME", 8) == 0)
			s->eightbit = 1;
		else if (n == 4 && strncasecmp(kw, "SIZE", 4) == 0 && kw[4] == ' ') {
			char num[24];
			size_t k = strspn(kw + 5, "0123456789");
			uint64_t v;

			if (k > 0 && k < sizeof(num)) {
				memcpy(num, kw + 5, k);
				num[k] = '\0';
				if (parse_uint(num, 0, UINT64_MAX, &v) == 0)
					s->size_limit = v;
			}
		}
	}
}

/* Act on a reply; 0 when the session is gone or its connection changed. */
static int
on_reply(struct mta_session *s, const struct mta_reply *r)
{
	int ok = r->code >= 200 && r->code < 300;
	char why[MTA_REPLY_TEXT_MAX + 64];

	switch (s->state) {
	case MS_GREETING:
		if (!ok) {
			snprintf(why, sizeof(why), "%d %s", r->code, r->text);
			conn_fail(s, r->code, r->enhanced, why);
			return 0;
		}
		s_send(s, "EHLO %s", s->m->cfg.hostname);
		s->state = MS_EHLO;
		return 1;
	case MS_EHLO:
		if (!ok) {
			if (r->code == 421) {
				conn_fail(s, r->code, r->enhanced, r->text);
				return 0;
			}
			s_send(s, "HELO %s", s->m->cfg.hostname);
			s->state = MS_HELO;
			return 1;
		}
		parse_ehlo(s, r);
		if (s->starttls && !s->tls && !s->d->skip_tls) {
			s_send(s, "STARTTLS");
			s->state = MS_STARTTLS;
			return 1;
		}
		s_ready(s);
		return 1;
	case MS_HELO:
		if (!ok) {
			snprintf(why, sizeof(why), "%d %s", r->code, r->text);
			conn_fail(s, r->code, r->enhanced, why);
			return 0;
		}
		s_ready(s);
		return 1;
	case MS_STARTTLS:
		if (r->code == 220) {
			start_tls(s);
			return 0;
		}
		s_ready(s); /* opportunistic: go on in the clear */
		return 1;
	case MS_MAIL:
		if (!ok) {
			struct mta_outcome o;

			outcome_from(&o, r);
			for (size_t i = 0; i < s->ntxn; i++)
				s->outs[i] = o;
			s->mail_failed = 1;
			if (!s->pipelining) {
				s_send(s, "RSET");
				s->state = MS_RSET;
				finish_txn(s);
				return 1;
			}
		} else if (!s->pipelining) {
			s_send(s, "RCPT TO:<%s>", s->txn->addr);
		}
		s->state = MS_RCPT;
		return 1;
	case MS_RCPT: {
		struct mta_rcpt *x = s->txn;

		for (size_t i = 0; i < s->rcpt_i; i++)
			x = x->next;
		if (!s->mail_failed) {
			outcome_from(&s->outs[s->rcpt_i], r);
			if (ok) {
				s->naccepted++;
				s->outs[s->rcpt_i].code = 0; /* decided by the final reply */
				s->outs[s->rcpt_i].response[0] = '\0';
			}
		}
		s->rcpt_i++;
		if (s->rcpt_i < s->ntxn) {
			if (!s->pipelining)
				s_send(s, "RCPT TO:<%s>", x->next->addr);
			return 1;
		}
		if (s->pipelining) {
			s->state = MS_DATA;
			return 1;
		}
		if (s->naccepted > 0 && !s->mail_failed) {
			s_send(s, "DATA");
			s->state = MS_DATA;
			return 1;
		}
		s_send(s, "RSET");
		s->state = MS_RSET;
		finish_txn(s);
		return 1;
	}
	case MS_DATA:
		if (r->code == 354 && s->naccepted > 0 && !s->mail_failed) {
			send_body(s);
			s->state = MS_DOT;
			return 1;
		}
		if (r->code == 354) {
			/* RFC 2920 3.1: nothing was accepted, end the empty data. */
			bufferevent_write(s->bev, ".\r\n", 3);
			tlog(&s->txn_log, ">", ".", 1);
			s->data_abort = 1;
			s->state = MS_DOT;
			return 1;
		}
		for (size_t i = 0; i < s->ntxn; i++)
			if (s->outs[i].code == 0 && !s->mail_failed)
				outcome_from(&s->outs[i], r);
		s_send(s, "RSET");
		s->state = MS_RSET;
		finish_txn(s);
		return 1;
	case MS_DOT:
		if (s->data_abort) {
			s_send(s, "RSET");
			s->state = MS_RSET;
			finish_txn(s);
			return 1;
		}
		for (size_t i = 0; i < s->ntxn; i++)
			if (s->outs[i].code == 0)
				outcome_from(&s->outs[i], r);
		if (ok)
			mta_remote_queue_id(r->text, s->ai.remote_queue_id,
					    sizeof(s->ai.remote_queue_id));
		finish_txn(s);
		s_ready(s);
		return 1;
	case MS_RSET:
		if (!ok) {
			/* A server that refuses RSET is not worth reusing. */
			s_send(s, "QUIT");
			s->state = MS_QUIT;
			return 1;
		}
		s_ready(s);
		return 1;
	case MS_QUIT:
		s_free(s);
		return 0;
	default:
		return 1; /* a reply nobody asked for: ignore it */
	}
}

static void
s_read(struct bufferevent *bev, void *arg)
{
	struct mta_session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		size_t n, used = 0;
		char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
		enum mta_reply_status st;

		if (line == NULL) {
			if (evbuffer_get_length(in) > MTA_REPLY_LINE_MAX) {
				line = NULL;
				goto invalid;
			}
			return;
		}
		tlog(s_log(s), "<", line, n);
		line = xrealloc(line, n + 3);
		memcpy(line + n, "\r\n", 3);
		st = mta_reply_feed(&s->rp, line, n + 2, &used);
		free(line);
		if (st == MTA_REPLY_INVALID)
			goto invalid;
		if (st == MTA_REPLY_DONE) {
			struct mta_reply r = s->rp.r;

			mta_reply_parser_init(&s->rp);
			if (!on_reply(s, &r))
				return; /* the session is gone, or its input is stale */
		}
	}
invalid:
	if (s->ntxn) {
		txn_lost(s, "the server sent an invalid reply");
		s_free(s);
	} else if (s->state < MS_IDLE) {
		conn_fail(s, 0, "4.5.0", "the server sent an invalid reply");
	} else {
		s_free(s);
	}
}

static void
idle_expired(evutil_socket_t fd, short what, void *arg)
{
	struct mta_session *s = arg;
	struct mta_session **pp;

	for (pp = &s->d->idle; *pp; pp = &(*pp)->idle_next)
		if (*pp == s) {
			*pp = s->idle_next;
			break;
		}
	s->idle_next = NULL;
	s_send(s, "QUIT");
	s->state = MS_QUIT;
	set_timeout(s, 10000);
}

/* Take the next transaction, or wait idle for one. */
static void
s_ready(struct mta_session *s)
{
	struct mta_rcpt *r;
	size_t n;
	struct timeval tv = {(time_t)(s->m->cfg.idle_reuse_ms / 1000),
			     (suseconds_t)(s->m->cfg.idle_reuse_ms % 1000) * 1000};

	if (s->connecting) {
		s->connecting = 0;
		s->d->nconnecting--;
	}
	while ((r = mta_dest_take(s->m, s->d, &n)) != NULL)
		if (start_txn(s, r, n) == 0)
			return;
	s->state = MS_IDLE;
	bufferevent_set_timeouts(s->bev, NULL, NULL);
	mta_dest_session_idle(s->m, s->d, s);
	if (s->idle_timer == NULL)
		s->idle_timer = evtimer_new(s->m->base, idle_expired, s);
	evtimer_add(s->idle_timer, &tv);
}

void
mta_session_wake(struct mta_session *s)
{
	evtimer_del(s->idle_timer);
	set_timeout(s, s->m->cfg.command_timeout_ms);
	s_ready(s);
}

static void
s_event(struct bufferevent *bev, short what, void *arg)
{
	struct mta_session *s = arg;
	char why[320];

	if (what & BEV_EVENT_CONNECTED) {
		if (s->state == MS_HANDSHAKE) {
			tls_done(s);
			return;
		}
		{
			struct sockaddr_storage ss;
			socklen_t sl = sizeof(ss);

			if (getsockname(s->fd, (struct sockaddr *)&ss, &sl) == 0)
				inet_ntop(ss.ss_family,
					  ss.ss_family == AF_INET
						  ? (void *)&((struct sockaddr_in *)&ss)->sin_addr
						  : (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr,
					  s->ai.local_ip, sizeof(s->ai.local_ip));
		}
		tlogf(&s->conn_log, "--", "connected from %s in %lld ms", s->ai.local_ip,
		      (long long)((time_mono_us() - s->conn_start_us) / 1000));
		set_timeout(s, s->m->cfg.command_timeout_ms);
		s->state = MS_GREETING;
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		snprintf(why, sizeof(why), "timeout waiting for the server (%s)",
			 s->state == MS_CONNECTING ? "connect" : "reply");
	else if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "connection closed by the server");
	else {
		unsigned long e = bufferevent_get_openssl_error(bev);

		if (e) {
			char es[200];

			ERR_error_string_n(e, es, sizeof(es));
			snprintf(why, sizeof(why), "TLS error: %s", es);
		} else {
			snprintf(why, sizeof(why), "connection error: %s",
				 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		}
	}
	switch (s->state) {
	case MS_HANDSHAKE:
		tlogf(&s->conn_log, "--", "TLS handshake failed: %s", why);
		if (!s->d->skip_tls) {
			/* Opportunistic: the same address again, in the clear. */
			s->d->skip_tls = 1;
			s->addr_i--;
		}
		conn_fail(s, 0, "4.7.5", why);
		return;
	case MS_CONNECTING:
	case MS_GREETING:
	case MS_EHLO:
	case MS_HELO:
	case MS_STARTTLS:
		conn_fail(s, 0, "4.4.2", why);
		return;
	case MS_MAIL:
	case MS_RCPT:
	case MS_DATA:
	case MS_DOT:
		if (s->ntxn)
			txn_lost(s, why);
		s_free(s);
		return;
	case MS_IDLE:
	case MS_RSET:
	case MS_QUIT:
		s_free(s);
		return;
	}
}
