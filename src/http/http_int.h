/* http_int.h - shared by the http module's own files only */
#ifndef PH_HTTP_INT_H
#define PH_HTTP_INT_H

#include <event2/http.h>
#include <jansson.h>

#include "http/http.h"
#include "lib/lib.h"

#define HTTP_HEADERS_MAX (16 * 1024)
#define HTTP_BODY_MAX (40 * 1024 * 1024) /* base64 of a 25 MiB message, and JSON */
#define HTTP_TIMEOUT_S 30
#define HTTP_KEY_CACHE_MAX 4096
#define HTTP_KEY_CACHE_TTL_MS (5 * 60 * 1000)

/* The built front end (web/dist), compiled in by cmake/embed_assets.cmake. */
struct http_asset {
	const char *path; /* "index.html", "assets/app-1a2b3c4d.js" */
	const unsigned char *data;
	size_t len;
	const char *etag; /* a hash of the content */
};
extern const struct http_asset http_assets[];
extern const size_t http_nassets;

struct http_listener {
	struct http_server *h;
	struct evhttp *evh;
	int tls;
};

struct http_server {
	struct http_listener plain, secure; /* secure.evh: NULL without https */
	struct event_base *base;
	struct tls_ctx *tls;
	struct http_config cfg;
	struct store *store;
	struct queue *queue;
	http_metrics_fn metrics;
	void *metrics_arg;
	http_recheck_fn recheck;
	void *recheck_arg;
	http_queue_fn queue_cmd;
	void *queue_cmd_arg;
	struct http_dash_config dash;
	int req_tls;                 /* the request being handled came over TLS */
	struct throttle login_fails; /* dashboard sign-in failures */
	struct strmap key_cache; /* HMAC(api key) -> account id */
	unsigned char key_secret[32];
	uint64_t requests;
};

void http_error(struct evhttp_request *req, int status, const char *code, const char *fmt, ...)
	PH_PRINTF(4, 5);
void http_json(struct evhttp_request *req, int status, json_t *body);
void http_text(struct evhttp_request *req, int status, const char *ctype, const char *text,
	       size_t len);
/* The account of the request's bearer key or dashboard session, or 0
 * after answering 401 (or 403 for a session's state-changing request
 * without its CSRF token or from another origin). */
int64_t http_auth(struct http_server *h, struct evhttp_request *req);
struct store_session;
/* The live session of the request's cookie: 0, or -1 when none. */
int http_session_auth(struct http_server *h, struct evhttp_request *req, struct store_session *s);
/* May this request change state for session s? Answers 403 when not. */
int http_csrf_ok(struct http_server *h, struct evhttp_request *req, const struct store_session *s);
/* Pages, assets and /auth (http_dash.c): 1 when it answered. */
int http_dash(struct http_server *h, struct evhttp_request *req, const char *path);
void http_api(struct http_server *h, struct evhttp_request *req, const char *path);
void http_api_send(struct http_server *h, struct evhttp_request *req, int64_t account_id);

#endif
