/*
 * NAME
 *	http_server - evhttp set-up, routing and JSON errors
 * DESCRIPTION
 *	Limits: HTTP_HEADERS_MAX bytes of request headers, HTTP_BODY_MAX
 *	bytes of body, HTTP_TIMEOUT_S seconds per request (evhttp's own
 *	checks, which answer 413/400 and close).
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "http/http.h"
#include "lib/lib.h"

#define HTTP_HEADERS_MAX (16 * 1024)
#define HTTP_BODY_MAX (32 * 1024 * 1024)
#define HTTP_TIMEOUT_S 30

struct http_server {
	struct evhttp *evh;
	struct store *store;
};

/* Send {"error":{"code":..,"message":..}}; code and message are ours. */
static void
http_error(struct evhttp_request *req, int status, const char *code, const char *message)
{
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evbuffer_add_printf(out, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n", code,
			    message);
	evhttp_send_reply(req, status, NULL, out);
	evbuffer_free(out);
}

static void
http_healthz(struct evhttp_request *req, void *arg)
{
	struct evbuffer *out;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		http_error(req, 405, "method_not_allowed", "use GET");
		return;
	}
	out = evbuffer_new();
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evbuffer_add_printf(out, "{\"status\":\"ok\",\"version\":\"%s\"}\n", PH_VERSION);
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

static void
http_fallback(struct evhttp_request *req, void *arg)
{
	http_error(req, 404, "not_found", "no such endpoint");
}

struct http_server *
http_server_new(struct event_base *base, int fd)
{
	struct http_server *h = xcalloc(1, sizeof(*h));

	h->evh = evhttp_new(base);
	if (h->evh == NULL || evhttp_accept_socket(h->evh, fd) < 0)
		fatal("http: cannot serve on the listening socket");
	evhttp_set_max_headers_size(h->evh, HTTP_HEADERS_MAX);
	evhttp_set_max_body_size(h->evh, HTTP_BODY_MAX);
	evhttp_set_timeout(h->evh, HTTP_TIMEOUT_S);
	evhttp_set_allowed_methods(h->evh, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						   EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT);
	evhttp_set_cb(h->evh, "/healthz", http_healthz, h);
	evhttp_set_gencb(h->evh, http_fallback, h);
	return h;
}

void
http_server_set_store(struct http_server *h, struct store *st)
{
	h->store = st;
}

void
http_server_free(struct http_server *h)
{
	if (h == NULL)
		return;
	evhttp_free(h->evh);
	free(h);
}
