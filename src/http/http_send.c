/*
 * NAME
 *	http_send - POST /api/v1/messages: compose, then the durable path
 * DESCRIPTION
 *	The request body is JSON (http_compose.h has the fields and checks).
 *	The built message goes through the same group commit as SMTP; the
 *	201 is sent only once it is in the spool and the store, both
 *	fsynced. A client that hangs up meanwhile loses only the reply: the
 *	message is still queued.
 */
#include <arpa/inet.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "http/http_compose.h"
#include "mail/mail.h"
#include "http/http_int.h"
#include "queue/queue.h"
#include "store/store.h"

struct pending_send {
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	int gone; /* the client closed the connection */
	json_t *rcpts;
	char message_id[MAIL_PATH_MAX + 64];
};

static void
send_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct pending_send *p = arg;

	p->gone = 1;
}

static void
send_committed(void *arg, int ok, const char *public_id)
{
	struct pending_send *p = arg;

	if (!p->gone) {
		evhttp_connection_set_closecb(p->evcon, NULL, NULL);
		if (ok) {
			json_t *o = json_pack("{s:s,s:s,s:O}", "id", public_id, "message_id",
					      p->message_id, "recipients", p->rcpts);

			http_json(p->req, 201, o);
			json_decref(o);
		} else {
			http_error(p->req, 503, "queue_unavailable",
				   "the message could not be stored; try again later");
		}
	}
	json_decref(p->rcpts);
	free(p);
}

void
http_api_send(struct http_server *h, struct evhttp_request *req, int64_t account_id)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	const char *ctype = evhttp_find_header(evhttp_request_get_input_headers(req),
					       "Content-Type");
	struct http_compose_limits lim;
	struct http_envelope env;
	struct queue_msg *m;
	struct pending_send *p;
	json_error_t jerr;
	json_t *body;
	char err[512], *peer = NULL;
	ev_uint16_t port;

	if (ctype && strncmp(ctype, "application/json", 16) != 0) {
		http_error(req, 415, "unsupported_media_type", "send application/json");
		return;
	}
	body = json_loadb((const char *)evbuffer_pullup(in, -1), n, JSON_REJECT_DUPLICATES, &jerr);
	if (body == NULL) {
		http_error(req, 400, "invalid_json", "invalid JSON at line %d column %d: %s",
			   jerr.line, jerr.column, jerr.text);
		return;
	}
	m = queue_msg_new();
	store_new_public_id(m->meta.public_id);
	memset(&lim, 0, sizeof(lim));
	lim.max_recipients = h->cfg.max_recipients;
	lim.max_message_size = h->cfg.max_message_size;
	lim.hostname = h->cfg.hostname;
	lim.public_id = m->meta.public_id;
	lim.now_ms = time_now_ms();
	memset(&env, 0, sizeof(env));
	buf_init(&m->body, h->cfg.max_message_size);
	if (http_compose(body, &lim, &m->body, &env, err, sizeof(err)) < 0) {
		json_decref(body);
		queue_msg_free(m);
		http_envelope_free(&env);
		http_error(req, 400, "invalid_message", "%s", err);
		return;
	}
	json_decref(body);
	{
		const char *dom = strrchr(env.mail_from, '@');

		if (dom == NULL || !store_sender_allowed(h->store, account_id, dom + 1)) {
			http_error(req, 403, "sender_not_verified",
				   "550 5.7.1 Sender domain %s is not verified for this account "
				   "(posthaste domain add, then publish its DNS records)",
				   dom ? dom + 1 : env.mail_from);
			queue_msg_free(m);
			http_envelope_free(&env);
			return;
		}
	}
	p = xcalloc(1, sizeof(*p));
	p->req = req;
	p->evcon = evhttp_request_get_connection(req);
	p->rcpts = json_array();
	snprintf(p->message_id, sizeof(p->message_id), "%s", env.message_id);
	m->meta.account_id = account_id;
	m->meta.mail_from = arena_strndup(&m->arena, env.mail_from, strlen(env.mail_from));
	m->meta.rcpts = arena_alloc(&m->arena, env.nrcpt * sizeof(char *));
	for (size_t i = 0; i < env.nrcpt; i++) {
		m->meta.rcpts[i] = arena_strndup(&m->arena, env.rcpts[i], strlen(env.rcpts[i]));
		json_array_append_new(p->rcpts, json_pack("{s:s,s:s}", "recipient", env.rcpts[i],
							  "status", "queued"));
	}
	m->meta.nrcpt = env.nrcpt;
	m->meta.subject = env.subject ? arena_strndup(&m->arena, env.subject, strlen(env.subject))
				      : NULL;
	m->meta.message_id_hdr = arena_strndup(&m->arena, env.message_id, strlen(env.message_id));
	m->meta.size = m->body.len;
	m->meta.received_ms = lim.now_ms;
	m->meta.source = "api";
	evhttp_connection_get_peer(p->evcon, &peer, &port);
	if (peer)
		m->meta.client_ip = arena_strndup(&m->arena, peer, strlen(peer));
	http_envelope_free(&env);
	m->done = send_committed;
	m->arg = p;
	evhttp_connection_set_closecb(p->evcon, send_conn_closed, p);
	queue_submit(h->queue, m);
}
