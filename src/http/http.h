/*
 * NAME
 *	http - the HTTP listener: the JSON API, the dashboard, health and
 *	metrics
 * DESCRIPTION
 *	libevent's evhttp on the daemon's loop. Every /api/v1 request needs
 *	"Authorization: Bearer <api_key>" and sees only its account's data;
 *	another account's message is a 404, exactly like a missing one.
 *	Errors are JSON {"error":{"code":"...","message":"..."}} with a
 *	fitting 4xx/5xx status. See docs/api.md. The dashboard (http_dash.c)
 *	signs people in with a session cookie that /api/v1 accepts too.
 */
#ifndef PH_HTTP_H
#define PH_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "lib/lib.h"

struct http_server;
struct store;
struct queue;

/* The dashboard's sessions (http_dash.c). */
struct http_dash_config {
	int64_t idle_ms;     /* signed out after this long unused */
	int64_t lifetime_ms; /* and after this long whatever happens */
	/* The address people open, when a proxy in front of us terminates TLS
	 * ("https://mail.example.com"): the only origin allowed, and an https
	 * one makes cookies Secure. NULL: the listener's own scheme and Host. */
	const char *origin;
};

struct http_config {
	const char *hostname;     /* Message-IDs of API messages */
	size_t max_recipients;    /* per message, as over SMTP */
	size_t max_message_size;  /* the built message, as over SMTP */
	struct http_dash_config dash;
};

/* Writes the Prometheus text for /metrics (the daemon knows the parts). */
typedef void (*http_metrics_fn)(void *arg, struct buf *out);

/* Serve on an already bound, listening socket. */
struct http_server *http_server_new(struct event_base *base, int fd, const struct http_config *c,
				    struct store *st, struct queue *q);
void http_server_set_metrics(struct http_server *h, http_metrics_fn fn, void *arg);
/* Asks for the sender domains' DNS checks to run now (a thread does). */
typedef void (*http_recheck_fn)(void *arg);
void http_server_set_recheck(struct http_server *h, http_recheck_fn fn, void *arg);
/* Carries out a queue command ("flush" or "delete") for one message, or
 * one recipient of it (rcpt_id > 0): how many recipients it acted on. */
typedef size_t (*http_queue_fn)(void *arg, const char *cmd, const char *public_id,
				int64_t rcpt_id);
void http_server_set_queue(struct http_server *h, http_queue_fn fn, void *arg);
struct tls_ctx;
/* Also serve HTTPS on an already bound, listening socket. */
void http_server_listen_tls(struct http_server *h, int fd, struct tls_ctx *tls);
void http_server_free(struct http_server *h);

#endif
