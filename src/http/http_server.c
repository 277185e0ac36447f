/*
 * NAME
 *	http_server - evhttp set-up, routing, JSON replies, API keys
 * DESCRIPTION
 *	Limits: HTTP_HEADERS_MAX bytes of request headers, HTTP_BODY_MAX
 *	bytes of body, HTTP_TIMEOUT_S seconds per request (evhttp's own
 *	checks: 413 or 400 and close).
 *
 *	API keys are stored as yescrypt hashes; checking one costs
 *	milliseconds by design. A verified key is remembered for
 *	HTTP_KEY_CACHE_TTL_MS under an HMAC-SHA256 of the key with a
 *	per-process random secret, so the clear key is never kept and a
 *	memory dump does not give keys back.
 */
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "http/http_int.h"
#include "store/store.h"
#include "tls/tls.h"

static void
reply_body(struct evhttp_request *req, int status, const char *ctype, const char *body,
	   size_t len)
{
	struct evbuffer *out = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evbuffer_add(out, body, len);
	/* libevent knows no phrase for 429 (RFC 6585). */
	evhttp_send_reply(req, status, status == 429 ? "Too Many Requests" : NULL, out);
	evbuffer_free(out);
}

void
http_json(struct evhttp_request *req, int status, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT);

	if (s == NULL) {
		http_error(req, 500, "internal", "cannot encode the response");
		return;
	}
	reply_body(req, status, "application/json", s, strlen(s));
	free(s);
}

void
http_text(struct evhttp_request *req, int status, const char *ctype, const char *text,
	  size_t len)
{
	reply_body(req, status, ctype, text, len);
}

void
http_error(struct evhttp_request *req, int status, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
	http_json(req, status, o);
	json_decref(o);
}

int64_t
http_auth(struct http_server *h, struct evhttp_request *req)
{
	const char *a = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	unsigned char mac[32];
	unsigned maclen = sizeof(mac);
	char hex[65];
	struct strmap_entry *e;
	int64_t now = time_now_ms(), account_id;

	if (a == NULL) {
		struct store_session s;
		enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

		if (http_session_auth(h, req, &s) == 0) {
			if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD && !http_csrf_ok(h, req, &s))
				return 0;
			return s.account_id;
		}
	}
	if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0 || a[7] == '\0') {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer");
		http_error(req, 401, "unauthorized", "send Authorization: Bearer <api_key>");
		return 0;
	}
	a += 7;
	HMAC(EVP_sha256(), h->key_secret, sizeof(h->key_secret), (const unsigned char *)a,
	     strlen(a), mac, &maclen);
	hex_encode(mac, sizeof(mac), hex);
	e = strmap_get(&h->key_cache, hex, 0);
	if (e && now - e->stamp_ms < HTTP_KEY_CACHE_TTL_MS)
		return e->count;
	if (store_auth_api_key(h->store, a, &account_id) < 0) {
		http_error(req, 401, "unauthorized", "unknown or revoked API key");
		return 0;
	}
	if ((e = strmap_get(&h->key_cache, hex, 1)) == NULL) {
		/* Full: start over (account ids are positive counts, which
		 * strmap_expire would keep). */
		strmap_forget_before(&h->key_cache, INT64_MAX);
		e = strmap_get(&h->key_cache, hex, 1);
	}
	if (e) {
		e->count = account_id;
		e->stamp_ms = now;
	}
	return account_id;
}

static void
http_healthz(struct evhttp_request *req)
{
	json_t *o = json_pack("{s:s,s:s}", "status", "ok", "version", PH_VERSION);

	http_json(req, 200, o);
	json_decref(o);
}

static void
http_dispatch(struct evhttp_request *req, void *arg)
{
	struct http_listener *l = arg;
	struct http_server *h = l->h;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	h->requests++;
	/* Requests are answered one at a time on this loop: the flag holds
	 * for the whole of this one (cookies' Secure, the expected Origin). */
	h->req_tls = l->tls;
	if (path == NULL) {
		http_error(req, 400, "bad_request", "bad request URI");
		return;
	}
	if (strcmp(path, "/healthz") == 0) {
		if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD)
			http_error(req, 405, "method_not_allowed", "use GET");
		else
			http_healthz(req);
		return;
	}
	if (strcmp(path, "/metrics") == 0) {
		struct buf b;

		if (cmd != EVHTTP_REQ_GET) {
			http_error(req, 405, "method_not_allowed", "use GET");
			return;
		}
		buf_init(&b, 1024 * 1024);
		if (h->metrics)
			h->metrics(h->metrics_arg, &b);
		http_text(req, 200, "text/plain; version=0.0.4", b.data ? b.data : "", b.len);
		buf_free(&b);
		return;
	}
	if (strncmp(path, "/api/v1/", 8) == 0) {
		http_api(h, req, path + 8);
		return;
	}
	if (http_dash(h, req, path))
		return;
	http_error(req, 404, "not_found", "no such endpoint");
}

/* HTTPS: every connection gets a server-side TLS bufferevent. */
static struct bufferevent *
tls_bev(struct event_base *base, void *arg)
{
	struct http_server *h = arg;

	return bufferevent_openssl_socket_new(base, -1, tls_ssl_new(h->tls),
					      BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

static void
listener_init(struct http_server *h, struct http_listener *l, int fd, int tls)
{
	l->h = h;
	l->tls = tls;
	l->evh = evhttp_new(h->base);
	if (l->evh == NULL || evhttp_accept_socket(l->evh, fd) < 0)
		fatal("http: cannot serve on the listening socket");
	if (tls)
		evhttp_set_bevcb(l->evh, tls_bev, h);
	evhttp_set_max_headers_size(l->evh, HTTP_HEADERS_MAX);
	evhttp_set_max_body_size(l->evh, HTTP_BODY_MAX);
	evhttp_set_timeout(l->evh, HTTP_TIMEOUT_S);
	evhttp_set_allowed_methods(l->evh, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						   EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT);
	evhttp_set_gencb(l->evh, http_dispatch, l);
}

struct http_server *
http_server_new(struct event_base *base, int fd, const struct http_config *c, struct store *st,
		struct queue *q)
{
	struct http_server *h = xcalloc(1, sizeof(*h));

	h->base = base;
	h->cfg = *c;
	h->store = st;
	h->queue = q;
	rand_bytes(h->key_secret, sizeof(h->key_secret));
	strmap_init(&h->key_cache, 1024, HTTP_KEY_CACHE_MAX);
	h->dash = c->dash;
	throttle_init(&h->login_fails, 1024, 65536);
	listener_init(h, &h->plain, fd, 0);
	return h;
}

void
http_server_listen_tls(struct http_server *h, int fd, struct tls_ctx *tls)
{
	h->tls = tls;
	listener_init(h, &h->secure, fd, 1);
}

void
http_server_set_queue(struct http_server *h, http_queue_fn fn, void *arg)
{
	h->queue_cmd = fn;
	h->queue_cmd_arg = arg;
}

void
http_server_set_metrics(struct http_server *h, http_metrics_fn fn, void *arg)
{
	h->metrics = fn;
	h->metrics_arg = arg;
}

void
http_server_set_recheck(struct http_server *h, http_recheck_fn fn, void *arg)
{
	h->recheck = fn;
	h->recheck_arg = arg;
}

void
http_server_free(struct http_server *h)
{
	if (h == NULL)
		return;
	evhttp_free(h->plain.evh);
	if (h->secure.evh)
		evhttp_free(h->secure.evh);
	throttle_free(&h->login_fails);
	strmap_free(&h->key_cache);
	explicit_bzero(h->key_secret, sizeof(h->key_secret));
	free(h);
}
