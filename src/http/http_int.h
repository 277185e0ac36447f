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

struct http_server {
	struct evhttp *evh;
	struct event_base *base;
	struct http_config cfg;
	struct store *store;
	struct queue *queue;
	http_metrics_fn metrics;
	void *metrics_arg;
	http_recheck_fn recheck;
	void *recheck_arg;
	struct strmap key_cache; /* HMAC(api key) -> account id */
	unsigned char key_secret[32];
	uint64_t requests;
};

void http_error(struct evhttp_request *req, int status, const char *code, const char *fmt, ...)
	PH_PRINTF(4, 5);
void http_json(struct evhttp_request *req, int status, json_t *body);
void http_text(struct evhttp_request *req, int status, const char *ctype, const char *text,
	       size_t len);
/* The account of the request's bearer key, or 0 after answering 401. */
int64_t http_auth(struct http_server *h, struct evhttp_request *req);
void http_api(struct http_server *h, struct evhttp_request *req, const char *path);
void http_api_send(struct http_server *h, struct evhttp_request *req, int64_t account_id);

#endif
