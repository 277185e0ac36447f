/*
 * NAME
 *	smtpd_session - one SMTP submission session on the event loop
 * DESCRIPTION
 *	A command table (verb, states it is allowed in, handler) drives the
 *	session, OpenSMTPD style. Input is read from a bufferevent: command
 *	lines are bounded before they are copied; DATA goes through the
 *	smtpd_data state machine straight from the input buffer.
 *
 *	Pipelining (RFC 2920): every complete command in the input is
 *	handled in one wake-up (at most SMTPD_CMDS_PER_WAKEUP), replies are
 *	written to the output buffer and leave together. While a message
 *	waits for the group commit, input is left unread.
 *
 *	STARTTLS (RFC 3207): after the 220, everything the client pipelined
 *	is discarded (CVE-2011-0411), the plain bufferevent is replaced by a
 *	TLS one on the same socket once the 220 has left, and the session
 *	forgets HELO/EHLO and any AUTH.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>

#include "queue/queue.h"
#include "smtpd/smtpd_int.h"
#include "store/store.h"
#include "tls/tls.h"

enum smtpd_state {
	ST_CONNECTED = 1 << 0, /* greeting sent, no HELO/EHLO yet */
	ST_READY = 1 << 1,     /* HELO/EHLO done, no transaction */
	ST_MAIL = 1 << 2,      /* MAIL given */
	ST_RCPT = 1 << 3,      /* at least one RCPT accepted */
	ST_DATA = 1 << 4,      /* reading message content */
	ST_COMMIT = 1 << 5,    /* waiting for the group commit */
	ST_AUTH = 1 << 6,      /* inside an AUTH exchange */
	ST_STARTTLS = 1 << 7,  /* 220 sent, waiting for it to leave */
	ST_CLOSING = 1 << 8,   /* last reply sent, closing when flushed */
	ST_AUTH_WAIT = 1 << 9, /* AUTH failure delay running */
};
#define ST_ANY_CMD (ST_CONNECTED | ST_READY | ST_MAIL | ST_RCPT)

static void session_read(struct bufferevent *bev, void *arg);
static void session_write(struct bufferevent *bev, void *arg);
static void session_event(struct bufferevent *bev, short what, void *arg);
static void session_free(struct smtpd_session *s);
static void session_process(struct smtpd_session *s);

/* --- replies ------------------------------------------------------------ */

void
smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	evbuffer_add(out, line, (size_t)n);
	if (line[0] == '5' || line[0] == '4')
		log_debug("smtpd %s reply=\"%.*s\"", s->id, n - 2, line);
}

/* A reply that ends the session. */
static void
session_close_with(struct smtpd_session *s, const char *reply)
{
	if (reply)
		smtpd_reply(s, "%s", reply);
	s->state = ST_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	/* The write callback frees the session once the reply has left. */
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		session_free(s);
}

/* Count a client error; too many end the session. Returns -1 when the
 * session is closing. */
static int
session_error(struct smtpd_session *s, const char *reply)
{
	unsigned limit = s->authed ? s->srv->cfg.max_errors : (s->srv->cfg.max_errors + 1) / 2;

	smtpd_reply(s, "%s", reply);
	if (++s->errors >= limit) {
		log_info("smtpd %s too many errors count=%u ip=%s", s->id, s->errors, s->ip);
		session_close_with(s, "421 4.7.0 Too many errors, closing connection");
		return -1;
	}
	return 0;
}

/* Set the idle timeout that fits the session's trust. */
static void
session_timeouts(struct smtpd_session *s)
{
	int64_t ms = s->authed ? s->srv->cfg.idle_timeout_ms : s->srv->cfg.preauth_idle_timeout_ms;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

static void
txn_reset(struct smtpd_session *s)
{
	queue_msg_free(s->msg);
	s->msg = NULL;
	s->nrcpt = 0;
	s->rcpt_cap = 0;
	s->rcpts = NULL;
	s->mail_utf8 = 0;
	if (s->state & (ST_MAIL | ST_RCPT))
		s->state = ST_READY;
}

/* --- commands --------------------------------------------------------- */

static int
cmd_helo(struct smtpd_session *s, const struct smtpd_cmd *c)
{
	const struct smtpd_config *cfg = &s->srv->cfg;
	int ehlo = c->verb == SMTPD_EHLO;

	if (c->arg_len == 0 || c->arg_len > 255 || memchr(c->arg, ' ', c->arg_len))
		return session_error(s, ehlo ? "501 5.5.4 Syntax: EHLO hostname"
					     : "501 5.5.4 Syntax: HELO hostname");
	txn_reset(s);
	free(s->helo);
	s->helo = xstrndup(c->arg, c->arg_len);
	s->esmtp = ehlo;
	s->state = ST_READY;
	if (!ehlo) {
		smtpd_reply(s, "250 %s", cfg->hostname);
		return 0;
	}
	smtpd_reply(s, "250-%s", cfg->hostname);
	smtpd_reply(s, "250-PIPELINING");
	smtpd_reply(s, "250-SIZE %llu", (unsigned long long)cfg->max_message_size);
	smtpd_reply(s, "250-8BITMIME");
	smtpd_reply(s, "250-SMTPUTF8");
	smtpd_reply(s, "250-ENHANCEDSTATUSCODES");
	if (!s->tls)
		smtpd_reply(s, "250-STARTTLS");
	if (smtpd_auth_offered(s))
		smtpd_reply(s, "250-AUTH PLAIN LOGIN");
	smtpd_reply(s, "250 HELP");
	return 0;
}

/* May the session's account send as dom? Remembers the last yes, so the
 * From: check after MAIL FROM of the same domain costs no query. */
static int
session_sender_allowed(struct smtpd_session *s, const char *dom)
{
	if (s->allowed_domain[0] && strcasecmp(s->allowed_domain, dom) == 0)
		return 1;
	if (!store_sender_allowed(s->srv->store, s->account_id, dom))
		return 0;
	snprintf(s->allowed_domain, sizeof(s->allowed_domain), "%s", dom);
	return 1;
}

static int
cmd_mail(struct smtpd_session *s, const struct smtpd_cmd *c)
{
	struct smtpd_path p;
	const char *reply;

	if (smtpd_parse_mail(c->arg, c->arg_len, &p, &reply) < 0)
		return session_error(s, reply);
	if (p.size > s->srv->cfg.max_message_size) {
		smtpd_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		return 0;
	}
	if (s->authed && p.len > 0) {
		const char *dom = strrchr(p.addr, '@') + 1;

		if (!session_sender_allowed(s, dom)) {
			smtpd_reply(s, "550 5.7.1 Sender domain %s is not verified for this account "
				       "(posthaste domain add, then publish its DNS records)",
				    dom);
			return 0;
		}
	}
	txn_reset(s);
	s->msg = queue_msg_new();
	s->msg->meta.mail_from = arena_strndup(&s->msg->arena, p.addr, p.len);
	s->mail_utf8 = p.smtputf8;
	s->state = ST_MAIL;
	smtpd_reply(s, "250 2.1.0 Ok");
	return 0;
}

static int
cmd_rcpt(struct smtpd_session *s, const struct smtpd_cmd *c)
{
	struct smtpd_path p;
	const char *reply;

	if (!s->authed) {
		/* No open relay: nothing is accepted without AUTH or trust. */
		return session_error(s, "530 5.7.0 Authentication required");
	}
	if (smtpd_parse_rcpt(c->arg, c->arg_len, s->mail_utf8, &p, &reply) < 0)
		return session_error(s, reply);
	if (s->nrcpt >= s->srv->cfg.max_recipients) {
		/* RFC 5321 4.5.3.1.10: 452, and the client sends the rest later */
		smtpd_reply(s, "452 4.5.3 Too many recipients");
		return 0;
	}
	if (s->nrcpt == s->rcpt_cap) {
		size_t ncap = s->rcpt_cap ? s->rcpt_cap * 2 : 8;
		char **n = arena_alloc(&s->msg->arena, ncap * sizeof(*n));

		if (s->nrcpt)
			memcpy(n, s->rcpts, s->nrcpt * sizeof(*n));
		s->rcpts = n;
		s->rcpt_cap = ncap;
	}
	s->rcpts[s->nrcpt++] = arena_strndup(&s->msg->arena, p.addr, p.len);
	s->state = ST_RCPT;
	smtpd_reply(s, "250 2.1.5 Ok");
	return 0;
}

static int
cmd_data(struct smtpd_session *s, const struct smtpd_cmd *c)
{
	if (c->arg_len)
		return session_error(s, "501 5.5.4 Syntax: DATA takes no arguments");
	if (s->state == ST_MAIL)
		return session_error(s, "554 5.5.1 Error: no valid recipients");
	buf_init(&s->msg->body, (size_t)s->srv->cfg.max_message_size);
	smtpd_data_init(&s->data, s->srv->cfg.max_message_size);
	s->state = ST_DATA;
	s->data_start_us = time_mono_us();
	smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	return 0;
}

static int
cmd_rset(struct smtpd_session *s, const struct smtpd_cmd *c)
{
	txn_reset(s);
	smtpd_reply(s, "250 2.0.0 Ok");
	return 0;
}

static int
cmd_noop(struct smtpd_session *s, const struct smtpd_cmd *c)
{
	smtpd_reply(s, "250 2.0.0 Ok");
	return 0;
}

static int
cmd_quit(struct smtpd_session *s, const struct smtpd_cmd *c)
{
	session_close_with(s, "221 2.0.0 Bye");
	return -1;
}

static int
cmd_help(struct smtpd_session *s, const struct smtpd_cmd *c)
{
	smtpd_reply(s, "214 2.0.0 posthaste: EHLO, AUTH, MAIL, RCPT, DATA (RFC 5321)");
	return 0;
}

static int
cmd_vrfy(struct smtpd_session *s, const struct smtpd_cmd *c)
{
	smtpd_reply(s, "252 2.0.0 Cannot VRFY user; send mail and see");
	return 0;
}

static int
cmd_expn(struct smtpd_session *s, const struct smtpd_cmd *c)
{
	return session_error(s, "502 5.5.1 EXPN not available");
}

static int
cmd_bdat(struct smtpd_session *s, const struct smtpd_cmd *c)
{
	return session_error(s, "502 5.5.1 CHUNKING not offered; use DATA");
}

static int
cmd_starttls(struct smtpd_session *s, const struct smtpd_cmd *c)
{
	if (s->tls)
		return session_error(s, "554 5.5.1 Error: TLS already active");
	if (c->arg_len)
		return session_error(s, "501 5.5.4 Syntax: STARTTLS takes no arguments");
	smtpd_reply(s, "220 2.0.0 Ready to start TLS");
	/* CVE-2011-0411: drop whatever was pipelined behind STARTTLS. */
	evbuffer_drain(bufferevent_get_input(s->bev),
		       evbuffer_get_length(bufferevent_get_input(s->bev)));
	s->state = ST_STARTTLS;
	bufferevent_disable(s->bev, EV_READ);
	return -1;
}

static const struct smtpd_command {
	enum smtpd_verb verb;
	unsigned states; /* where it is allowed */
	const char *wrong_state;
	int (*fn)(struct smtpd_session *, const struct smtpd_cmd *);
} smtpd_commands[] = {
	{SMTPD_EHLO, ST_ANY_CMD, NULL, cmd_helo},
	{SMTPD_HELO, ST_ANY_CMD, NULL, cmd_helo},
	{SMTPD_MAIL, ST_READY, "503 5.5.1 Error: send HELO/EHLO first; one MAIL per transaction",
	 cmd_mail},
	{SMTPD_RCPT, ST_MAIL | ST_RCPT, "503 5.5.1 Error: need MAIL command", cmd_rcpt},
	{SMTPD_DATA, ST_MAIL | ST_RCPT, "503 5.5.1 Error: need RCPT command", cmd_data},
	{SMTPD_RSET, ST_ANY_CMD, NULL, cmd_rset},
	{SMTPD_NOOP, ST_ANY_CMD, NULL, cmd_noop},
	{SMTPD_QUIT, ST_ANY_CMD, NULL, cmd_quit},
	{SMTPD_HELP, ST_ANY_CMD, NULL, cmd_help},
	{SMTPD_VRFY, ST_ANY_CMD, NULL, cmd_vrfy},
	{SMTPD_EXPN, ST_ANY_CMD, NULL, cmd_expn},
	{SMTPD_BDAT, ST_ANY_CMD, NULL, cmd_bdat},
	{SMTPD_STARTTLS, ST_READY, "503 5.5.1 Error: send EHLO first, outside a transaction",
	 cmd_starttls},
	{SMTPD_AUTH, ST_READY, "503 5.5.1 Error: send EHLO first, outside a transaction",
	 smtpd_cmd_auth},
};

/* Handle one command line (CRLF stripped). -1: stop processing input. */
static int
session_command(struct smtpd_session *s, const char *line, size_t len)
{
	struct smtpd_cmd c;

	smtpd_parse_command(line, len, &c);
	for (size_t i = 0; i < PH_ARRAY_LEN(smtpd_commands); i++) {
		const struct smtpd_command *t = &smtpd_commands[i];

		if (t->verb != c.verb)
			continue;
		if (!(t->states & s->state)) {
			if (s->state == ST_CONNECTED && c.verb != SMTPD_STARTTLS &&
			    c.verb != SMTPD_AUTH)
				return session_error(s, "503 5.5.1 Error: send HELO/EHLO first");
			return session_error(s, t->wrong_state ? t->wrong_state
							       : "503 5.5.1 Bad sequence of commands");
		}
		return t->fn(s, &c);
	}
	return session_error(s, "500 5.5.2 Error: command not recognized");
}

/* --- message end ------------------------------------------------------- */

static void
session_committed(void *arg, int ok, const char *public_id)
{
	struct smtpd_session *s = arg;

	s->msg = NULL; /* the queue owned and freed it */
	s->nrcpt = 0;
	s->rcpts = NULL;
	s->rcpt_cap = 0;
	s->state = ST_READY;
	if (ok) {
		s->nmessages++;
		smtpd_reply(s, "250 2.0.0 Ok: queued as %s", public_id);
		log_info("smtpd %s queued id=%s", s->id, public_id);
	} else {
		smtpd_reply(s, "451 4.3.0 Error: queue file write error, try again later");
	}
	bufferevent_enable(s->bev, EV_READ);
	/* Commands may already wait in the input (pipelining). */
	if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0)
		bufferevent_trigger(s->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/* Build the headers we add: Received always, Message-ID and Date when
 * the message has none (RFC 5321 4.4, RFC 6409 8). */
static int
session_prepend_headers(struct smtpd_session *s, struct queue_msg *m)
{
	char date[TIME_RFC5322_LEN], tmp[MAIL_HEADER_VALUE_MAX + 1], prefix[SMTPD_HEADER_ROOM];
	const char *proto;
	struct buf *b = &m->body;
	int n;

	time_rfc5322(m->meta.received_ms, date);
	proto = s->tls ? (s->auth_user ? "ESMTPSA" : "ESMTPS")
		       : (s->auth_user ? "ESMTPA" : (s->esmtp ? "ESMTP" : "SMTP"));
	n = snprintf(prefix, sizeof(prefix), "Received: from %s ([%s])\r\n\tby %s (posthaste)",
		     s->helo, s->ip, s->srv->cfg.hostname);
	if (s->tls && n > 0 && (size_t)n < sizeof(prefix))
		n += snprintf(prefix + n, sizeof(prefix) - (size_t)n, " (using %s with cipher %s)",
			      m->meta.tls_version, m->meta.tls_cipher);
	if (n > 0 && (size_t)n < sizeof(prefix))
		n += snprintf(prefix + n, sizeof(prefix) - (size_t)n,
			      "\r\n\twith %s id %s;\r\n\t%s\r\n", proto, m->meta.public_id, date);
	if (n > 0 && (size_t)n < sizeof(prefix) &&
	    !mail_header_get(b->data, b->len, "Message-ID", tmp, sizeof(tmp)))
		n += snprintf(prefix + n, sizeof(prefix) - (size_t)n, "Message-ID: <%s@%s>\r\n",
			      m->meta.public_id, s->srv->cfg.hostname);
	if (n > 0 && (size_t)n < sizeof(prefix) &&
	    !mail_header_get(b->data, b->len, "Date", tmp, sizeof(tmp)))
		n += snprintf(prefix + n, sizeof(prefix) - (size_t)n, "Date: %s\r\n", date);
	if (n < 0 || (size_t)n >= sizeof(prefix))
		return -1;
	return buf_prepend(b, prefix, (size_t)n);
}

static void
session_data_end(struct smtpd_session *s)
{
	struct queue_msg *m = s->msg;
	const char *bad = smtpd_data_reply(s->data.flags);
	char v[MAIL_HEADER_VALUE_MAX + 1], dom[256] = "";

	if (bad) {
		log_info("smtpd %s rejected message from=<%s> reason=\"%s\"", s->id,
			 m->meta.mail_from, bad + 10);
		txn_reset(s);
		s->state = ST_READY;
		smtpd_reply(s, "%s", bad);
		return;
	}
	/* The From: header's domain must be the account's too. */
	if (!mail_from_domain(m->body.data, m->body.len, dom, sizeof(dom)))
		dom[0] = '\0'; /* allowed only to accounts that may send unverified */
	if (!session_sender_allowed(s, dom)) {
		log_info("smtpd %s rejected message from=<%s> reason=\"From: domain not verified\"",
			 s->id, m->meta.mail_from);
		txn_reset(s);
		s->state = ST_READY;
		smtpd_reply(s, "550 5.7.1 The From: header's domain%s%s is not verified for this "
			       "account",
			    dom[0] ? " " : "", dom);
		return;
	}
	store_new_public_id(m->meta.public_id);
	m->meta.account_id = s->account_id;
	m->meta.received_ms = time_now_ms();
	m->meta.client_ip = arena_strndup(&m->arena, s->ip, strlen(s->ip));
	m->meta.helo = arena_strndup(&m->arena, s->helo, strlen(s->helo));
	m->meta.auth_user =
		s->auth_user ? arena_strndup(&m->arena, s->auth_user, strlen(s->auth_user)) : NULL;
	m->meta.source = "smtp";
	if (s->tls) {
		SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
		const char *ver = SSL_get_version(ssl), *ciph = SSL_get_cipher_name(ssl);

		m->meta.tls_version = arena_strndup(&m->arena, ver, strlen(ver));
		m->meta.tls_cipher = arena_strndup(&m->arena, ciph, strlen(ciph));
	}
	if (session_prepend_headers(s, m) < 0) {
		txn_reset(s);
		s->state = ST_READY;
		smtpd_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		return;
	}
	m->meta.size = m->body.len;
	if (mail_header_get(m->body.data, m->body.len, "Subject", v, sizeof(v)))
		m->meta.subject = arena_strndup(&m->arena, v, strlen(v));
	if (mail_header_get(m->body.data, m->body.len, "Message-ID", v, sizeof(v)))
		m->meta.message_id_hdr = arena_strndup(&m->arena, v, strlen(v));
	m->meta.nrcpt = s->nrcpt;
	m->meta.rcpts = s->rcpts;
	m->done = session_committed;
	m->arg = s;
	s->msg = NULL;
	s->state = ST_COMMIT;
	queue_submit(s->srv->queue, m); /* may call session_committed at once */
}

/* Feed buffered input to the DATA machine. */
static void
session_data(struct smtpd_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	while (s->state == ST_DATA && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t used = 0;
		enum smtpd_data_result r;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		r = smtpd_data_feed(&s->data, v.iov_base, v.iov_len, &used, &s->msg->body);
		evbuffer_drain(in, used);
		if (r == SMTPD_DATA_END)
			session_data_end(s);
	}
}

/* Handle what the input holds, as far as the state allows. */
static void
session_process(struct smtpd_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	unsigned handled = 0;
	size_t max = s->state == ST_AUTH ? SMTPD_AUTH_LINE_MAX
		     : s->authed	 ? s->srv->cfg.max_line
					 : SMTPD_PREAUTH_LINE_MAX;

	while (!(s->state & (ST_COMMIT | ST_STARTTLS | ST_CLOSING | ST_AUTH_WAIT))) {
		struct evbuffer_ptr eol;
		size_t eol_len, len;
		char *line;
		int rc;

		if (s->state == ST_DATA) {
			session_data(s);
			if (s->state == ST_DATA)
				return; /* wait for more */
			continue;
		}
		if (++handled > SMTPD_CMDS_PER_WAKEUP) {
			/* Let other sessions run; come back on the next pass. */
			bufferevent_trigger(s->bev, EV_READ,
					    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
			return;
		}
		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > max + 2) {
				/* Too long: drop it and what follows until the LF,
				 * answering once. */
				evbuffer_drain(in, evbuffer_get_length(in));
				if (!s->discard_line) {
					s->discard_line = 1;
					session_error(s, "500 5.5.2 Error: line too long");
				}
			}
			return;
		}
		len = (size_t)eol.pos;
		if (s->discard_line || len > max + 1) {
			evbuffer_drain(in, len + 1);
			if (!s->discard_line &&
			    session_error(s, "500 5.5.2 Error: line too long") < 0)
				return;
			s->discard_line = 0;
			continue;
		}
		line = xmalloc(len + 2);
		evbuffer_remove(in, line, len + 1);
		if (len == 0 || line[len - 1] != '\r') {
			free(line);
			if (session_error(s, "500 5.5.2 Error: command lines must end with CRLF") < 0)
				return;
			continue;
		}
		line[len - 1] = '\0';
		if (memchr(line, '\0', len - 1)) {
			free(line);
			if (session_error(s, "500 5.5.2 Error: NUL in command") < 0)
				return;
			continue;
		}
		if (s->state == ST_AUTH)
			rc = smtpd_auth_continue(s, line, len - 1);
		else
			rc = session_command(s, line, len - 1);
		free(line);
		if (rc < 0)
			return;
	}
}

/* --- bufferevent callbacks ------------------------------------------ */

static void
session_read(struct bufferevent *bev, void *arg)
{
	session_process(arg);
}

/* Swap the plain bufferevent for a TLS one on the same socket. */
static void
session_start_tls(struct smtpd_session *s)
{
	SSL *ssl = tls_ssl_new(s->srv->tls);

	bufferevent_setfd(s->bev, -1); /* the socket moves to the TLS bufferevent */
	bufferevent_free(s->bev);
	s->bev = bufferevent_openssl_socket_new(s->srv->base, s->fd, ssl,
						BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	bufferevent_setcb(s->bev, session_read, session_write, session_event, s);
	session_timeouts(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->tls = 1;
	/* RFC 3207 4.2: forget everything learnt before TLS. */
	free(s->helo);
	s->helo = NULL;
	if (!s->trusted) {
		s->authed = 0;
		free(s->auth_user);
		s->auth_user = NULL;
	}
	txn_reset(s);
	s->state = ST_CONNECTED;
}

static void
session_write(struct bufferevent *bev, void *arg)
{
	struct smtpd_session *s = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	if (s->state == ST_CLOSING)
		session_free(s);
	else if (s->state == ST_STARTTLS)
		session_start_tls(s);
}

static void
session_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtpd_session *s = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_TIMEOUT) {
		if (s->state == ST_COMMIT)
			return; /* the commit answers soon */
		log_info("smtpd %s idle timeout ip=%s", s->id, s->ip);
		bufferevent_set_timeouts(s->bev, NULL, NULL);
		session_close_with(s, "421 4.4.2 Idle timeout, closing connection");
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);

		if (e) {
			char es[256];

			ERR_error_string_n(e, es, sizeof(es));
			log_info("smtpd %s tls error=\"%s\" ip=%s", s->id, es, s->ip);
		}
	}
	/* EOF or error: the client is gone. */
	session_free(s);
}

static void
session_lifetime(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_session *s = arg;

	if (s->state & (ST_COMMIT | ST_CLOSING))
		return;
	log_info("smtpd %s session time limit ip=%s", s->id, s->ip);
	session_close_with(s, "421 4.4.2 Session time limit exceeded, closing connection");
}

/* --- accept and free --------------------------------------------------- */

static void
session_free(struct smtpd_session *s)
{
	struct smtpd_server *srv = s->srv;

	if (s->state == ST_COMMIT)
		queue_forget(srv->queue, s); /* the message is still committed */
	smtpd_conn_release(srv, s);
	log_info("smtpd %s disconnect ip=%s messages=%u errors=%u", s->id, s->ip, s->nmessages,
		 s->errors);
	smtpd_auth_free(s);
	if (s->life_timer)
		event_free(s->life_timer);
	if (!s->tls) {
		/* The plain bufferevent does not own the socket (STARTTLS);
		 * detach it before closing, so a later finalisation of the
		 * bufferevent cannot touch a reused descriptor number. */
		bufferevent_setfd(s->bev, -1);
		close(s->fd);
	}
	bufferevent_free(s->bev);
	txn_reset(s);
	free(s->helo);
	free(s->auth_user);
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
}

void
smtpd_session_start(struct smtpd_server *srv, int fd, const struct sockaddr *sa, int implicit_tls)
{
	struct smtpd_session *s = xcalloc(1, sizeof(*s));
	int one = 1;
	struct timeval life;
	const char *limit_reply;

	s->srv = srv;
	s->fd = fd;
	snprintf(s->id, sizeof(s->id), "s%llu", (unsigned long long)++srv->next_id);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		s->family = AF_INET;
		memcpy(s->addr, &in->sin_addr, 4);
		s->loopback = (s->addr[0] == 127);
	} else {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		s->family = AF_INET6;
		memcpy(s->addr, &in6->sin6_addr, 16);
		s->loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	inet_ntop(s->family, s->addr, s->ip, sizeof(s->ip));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->next = srv->sessions;
	if (s->next)
		s->next->prev = s;
	srv->sessions = s;

	if (implicit_tls) {
		s->bev = bufferevent_openssl_socket_new(srv->base, fd, tls_ssl_new(srv->tls),
							BUFFEREVENT_SSL_ACCEPTING,
							BEV_OPT_CLOSE_ON_FREE |
								BEV_OPT_DEFER_CALLBACKS);
		s->tls = 1;
	} else {
		/* Not closed on free: STARTTLS reuses the socket. */
		s->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_DEFER_CALLBACKS);
	}
	bufferevent_setcb(s->bev, session_read, session_write, session_event, s);
	s->state = ST_CONNECTED;
	if ((limit_reply = smtpd_conn_admit(srv, s)) != NULL) {
		log_info("smtpd %s refused ip=%s reason=\"%s\"", s->id, s->ip, limit_reply + 10);
		bufferevent_enable(s->bev, EV_WRITE);
		session_close_with(s, limit_reply);
		return;
	}
	smtpd_trust_check(srv, s);
	session_timeouts(s);
	s->life_timer = evtimer_new(srv->base, session_lifetime, s);
	life.tv_sec = (time_t)(srv->cfg.session_timeout_ms / 1000);
	life.tv_usec = (suseconds_t)(srv->cfg.session_timeout_ms % 1000) * 1000;
	evtimer_add(s->life_timer, &life);
	log_info("smtpd %s connect ip=%s tls=%s trusted=%s", s->id, s->ip,
		 implicit_tls ? "implicit" : "no", s->trusted ? "yes" : "no");
	smtpd_reply(s, "220 %s ESMTP posthaste", srv->cfg.hostname);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

void
smtpd_session_shutdown(struct smtpd_session *s)
{
	if (s->state & (ST_COMMIT | ST_CLOSING))
		return;
	session_close_with(s, "421 4.3.2 Service shutting down, closing connection");
}

void
smtpd_session_authed(struct smtpd_session *s, int64_t account_id, const char *user)
{
	s->authed = 1;
	s->account_id = account_id;
	s->allowed_domain[0] = '\0';
	free(s->auth_user);
	s->auth_user = xstrdup(user);
	s->state = ST_READY;
	session_timeouts(s);
}

void
smtpd_session_resume(struct smtpd_session *s)
{
	s->state = ST_READY;
	bufferevent_enable(s->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0)
		session_process(s);
}

void
smtpd_session_force_free(struct smtpd_session *s)
{
	session_free(s);
}

int
smtpd_session_error(struct smtpd_session *s, const char *reply)
{
	return session_error(s, reply);
}

void
smtpd_session_set_auth_state(struct smtpd_session *s, int waiting)
{
	s->state = waiting == 2 ? ST_AUTH_WAIT : waiting ? ST_AUTH : ST_READY;
	if (waiting == 2)
		bufferevent_disable(s->bev, EV_READ);
}
