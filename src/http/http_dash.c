/*
 * NAME
 *	http_dash - the web dashboard: pages, assets, sign-in sessions
 * DESCRIPTION
 *	GET  /, /login, /activity, /statistics, /queue, /domains,
 *	     /messages/{id}
 *	                        the page (web/dist/index.html; the front end
 *	                        routes itself and reads /api/v1)
 *	GET  /assets/{name}     the built front end (content-hashed names,
 *	                        cached for a year, immutable)
 *	POST /auth/login        {"username","password"} (the account's SMTP
 *	                        credentials) or {"api_key"}: sets the session
 *	                        cookie, answers the CSRF token
 *	GET  /auth/session      the signed-in account and its CSRF token
 *	POST /auth/logout       ends the session
 *
 *	The session cookie (DASH_COOKIE) is HttpOnly, SameSite=Strict, and
 *	Secure on the HTTPS listener (or behind a TLS proxy named by
 *	dashboard_origin). Every state-changing request made with
 *	the cookie must carry the session's CSRF token in X-CSRF-Token and
 *	must not come from another origin (Origin, Sec-Fetch-Site); sign-in
 *	needs application/json and a same-origin Origin too, so a form on
 *	another site can neither sign a browser in nor act for it.
 *
 *	Sign-in failures are throttled like SMTP AUTH (lib throttle): after
 *	a failure, the IP and the user name must wait before the next try is
 *	even checked (429 with Retry-After), so guessing stays slow and
 *	costs no password hashing.
 *
 *	Assets are compiled into the binary (cmake/embed_assets.cmake writes
 *	the table from web/dist) and answered with an ETag.
 */
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "http/http_int.h"
#include "store/store.h"

#define DASH_COOKIE "ph_session"
#define DASH_LOGIN_BODY_MAX 4096
#define DASH_CSP                                                                               \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"      \
	" connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

static const struct http_asset *
asset_find(const char *path)
{
	for (size_t i = 0; i < http_nassets; i++)
		if (strcmp(http_assets[i].path, path) == 0)
			return &http_assets[i];
	return NULL;
}

static const char *
asset_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".ico", "image/x-icon"},
		{".woff2", "font/woff2"},
		{".json", "application/json"},
		{".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot && i < PH_ARRAY_LEN(types); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

static void
security_headers(struct evkeyvalq *oh)
{
	evhttp_add_header(oh, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(oh, "Referrer-Policy", "same-origin");
	evhttp_add_header(oh, "X-Frame-Options", "DENY");
}

static void
send_asset(struct evhttp_request *req, const struct http_asset *a, const char *cache)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	const char *inm = evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match");
	const char *type = asset_type(a->path);
	char etag[48];
	struct evbuffer *out;

	snprintf(etag, sizeof(etag), "\"%s\"", a->etag);
	evhttp_add_header(oh, "Content-Type", type);
	evhttp_add_header(oh, "Cache-Control", cache);
	evhttp_add_header(oh, "ETag", etag);
	security_headers(oh);
	if (strncmp(type, "text/html", 9) == 0)
		evhttp_add_header(oh, "Content-Security-Policy", DASH_CSP);
	if (inm && strcmp(inm, etag) == 0) {
		evhttp_send_reply(req, 304, "Not Modified", NULL);
		return;
	}
	out = evbuffer_new();
	/* HEAD: evhttp sends the headers (with the length) and drops the body. */
	evbuffer_add_reference(out, a->data, a->len, NULL, NULL);
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

/* The page routes the front end handles itself. */
static int
is_page(const char *path)
{
	static const char *const pages[] = {"/",      "/login",  "/activity",
					    "/statistics", "/queue", "/domains"};

	for (size_t i = 0; i < PH_ARRAY_LEN(pages); i++)
		if (strcmp(path, pages[i]) == 0)
			return 1;
	return strncmp(path, "/messages/", 10) == 0 && path[10] != '\0' && !strchr(path + 10, '/');
}

/* The value of cookie name in the Cookie header, copied into out. */
static int
cookie_get(struct evhttp_request *req, const char *name, char *out, size_t outlen)
{
	const char *c = evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie");
	size_t n = strlen(name);

	while (c && *c) {
		const char *end;

		c += strspn(c, " \t;");
		end = c + strcspn(c, ";");
		if ((size_t)(end - c) > n && strncmp(c, name, n) == 0 && c[n] == '=') {
			size_t vlen = (size_t)(end - c) - n - 1;

			if (vlen >= outlen)
				return -1;
			memcpy(out, c + n + 1, vlen);
			out[vlen] = '\0';
			return 0;
		}
		c = end;
	}
	return -1;
}

/* Over TLS, ours or the proxy's in front. */
static int
secure(struct http_server *h)
{
	return h->req_tls || (h->dash.origin && strncasecmp(h->dash.origin, "https://", 8) == 0);
}

static void
set_cookie(struct http_server *h, struct evhttp_request *req, const char *value, int64_t max_age_s)
{
	char c[256];

	snprintf(c, sizeof(c), DASH_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s",
		 value, (long long)max_age_s, secure(h) ? "; Secure" : "");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", c);
}

/* Is the request from this site? Origin must be our own scheme://Host (or
 * the configured dashboard origin) and Sec-Fetch-Site, when the browser
 * sends it, same-origin. */
static int
same_origin(struct http_server *h, struct evhttp_request *req, const char **why)
{
	struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
	const char *origin = evhttp_find_header(ih, "Origin");
	const char *site = evhttp_find_header(ih, "Sec-Fetch-Site");
	const char *host = evhttp_find_header(ih, "Host");
	char want[300];

	if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0) {
		*why = "a request from another site";
		return 0;
	}
	if (origin && h->dash.origin) {
		if (strcasecmp(origin, h->dash.origin) != 0) {
			*why = "a request from another origin";
			return 0;
		}
	} else if (origin) {
		if (host == NULL) {
			*why = "no Host header";
			return 0;
		}
		snprintf(want, sizeof(want), "%s://%s", h->req_tls ? "https" : "http", host);
		if (strcasecmp(origin, want) != 0) {
			*why = "a request from another origin";
			return 0;
		}
	}
	return 1;
}

int
http_session_auth(struct http_server *h, struct evhttp_request *req, struct store_session *s)
{
	char token[STORE_TOKEN_LEN + 2];

	if (cookie_get(req, DASH_COOKIE, token, sizeof(token)) < 0 ||
	    store_session_get(h->store, token, h->dash.idle_ms, s) < 0)
		return -1;
	return 0;
}

int
http_csrf_ok(struct http_server *h, struct evhttp_request *req, const struct store_session *s)
{
	const char *tok =
		evhttp_find_header(evhttp_request_get_input_headers(req), "X-CSRF-Token");
	const char *why = NULL;

	if (!same_origin(h, req, &why)) {
		http_error(req, 403, "csrf", "refused: %s", why);
		return 0;
	}
	if (tok == NULL || strlen(tok) != STORE_TOKEN_LEN ||
	    CRYPTO_memcmp(tok, s->csrf, STORE_TOKEN_LEN) != 0) {
		http_error(req, 403, "csrf", "refused: send the session's X-CSRF-Token header");
		return 0;
	}
	return 1;
}

static void
session_reply(struct evhttp_request *req, const struct store_session *s)
{
	char ts[TIME_RFC3339_LEN];
	json_t *o;

	time_rfc3339(s->expires_ms, ts);
	o = json_pack("{s:s,s:s,s:s}", "account", s->account, "csrf_token", s->csrf, "expires_at",
		      ts);
	http_json(req, 200, o);
	json_decref(o);
}

static const char *
client_ip(struct evhttp_request *req, char *buf, size_t n)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	const char *addr = NULL;
	ev_uint16_t port;

	if (c)
		evhttp_connection_get_peer(c, (char **)&addr, &port);
	snprintf(buf, n, "%s", addr ? addr : "?");
	return buf;
}

/* Check {"username","password"} or {"api_key"}: the account id, or 0. */
static int64_t
login_check(struct http_server *h, json_t *body)
{
	const char *u = json_string_value(json_object_get(body, "username"));
	const char *p = json_string_value(json_object_get(body, "password"));
	const char *k = json_string_value(json_object_get(body, "api_key"));
	int64_t id = 0;

	if (k && store_auth_api_key(h->store, k, &id) < 0)
		id = 0;
	else if (u && p && store_auth_smtp(h->store, u, p, &id) < 0)
		id = 0;
	return id;
}

static void
dash_login(struct http_server *h, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	const char *why = NULL, *user = NULL, *key;
	char ip[64], token[STORE_TOKEN_LEN + 1], cookie_age[32];
	size_t len = evbuffer_get_length(in);
	struct store_session s;
	json_error_t jerr;
	json_t *body, *v;
	int64_t id, wait, now = time_now_ms();
	int shape;

	client_ip(req, ip, sizeof(ip));
	if (!same_origin(h, req, &why)) {
		http_error(req, 403, "csrf", "refused: %s", why);
		return;
	}
	if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0) {
		http_error(req, 415, "unsupported_media_type", "send application/json");
		return;
	}
	if (len > DASH_LOGIN_BODY_MAX) {
		http_error(req, 413, "too_large", "a sign-in is at most %d bytes", DASH_LOGIN_BODY_MAX);
		return;
	}
	body = json_loadb((const char *)evbuffer_pullup(in, -1), len, JSON_REJECT_DUPLICATES, &jerr);
	shape = json_is_object(body);
	json_object_foreach(body, key, v)
	{
		if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 255 ||
		    (strcmp(key, "username") != 0 && strcmp(key, "password") != 0 &&
		     strcmp(key, "api_key") != 0))
			shape = 0;
	}
	if (shape && !(json_object_size(body) == 1 && json_object_get(body, "api_key")) &&
	    !(json_object_size(body) == 2 && json_object_get(body, "username") &&
	      json_object_get(body, "password")))
		shape = 0;
	if (!shape) {
		http_error(req, 400, "invalid_request",
			   "send {\"username\": ..., \"password\": ...} or {\"api_key\": ...}");
		goto out;
	}
	user = json_string_value(json_object_get(body, "username"));
	if ((wait = throttle_wait(&h->login_fails, ip, user, now)) > 0) {
		snprintf(cookie_age, sizeof(cookie_age), "%lld", (long long)(wait + 999) / 1000);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", cookie_age);
		http_error(req, 429, "too_many_attempts",
			   "too many failed sign-ins: try again in %lld ms", (long long)wait);
		goto out;
	}
	id = login_check(h, body);
	if (id == 0) {
		int64_t n;

		throttle_failed(&h->login_fails, ip, user, now, &n);
		log_info("http sign-in failed ip=%s user=\"%s\" failures=%lld", ip, user ? user : "",
			 (long long)n);
		http_error(req, 401, "unauthorized", "wrong user name, password or API key");
		goto out;
	}
	throttle_passed(&h->login_fails, ip, user);
	if (store_session_create(h->store, id, h->dash.lifetime_ms, ip, token, &s) < 0) {
		http_error(req, 500, "internal", "cannot start a session");
		goto out;
	}
	log_info("http sign-in ok ip=%s account=%s", ip, s.account);
	set_cookie(h, req, token, h->dash.lifetime_ms / 1000);
	explicit_bzero(token, sizeof(token));
	session_reply(req, &s);
out:
	/* The password or key leaves memory with the request. */
	json_object_foreach(body, key, v)
	{
		if (json_is_string(v) && (!strcmp(key, "password") || !strcmp(key, "api_key")))
			explicit_bzero((char *)json_string_value(v), json_string_length(v));
	}
	json_decref(body);
	explicit_bzero(evbuffer_pullup(in, -1), evbuffer_get_length(in));
}

static void
dash_logout(struct http_server *h, struct evhttp_request *req)
{
	char token[STORE_TOKEN_LEN + 2];
	struct store_session s;

	if (http_session_auth(h, req, &s) < 0) {
		http_error(req, 401, "unauthorized", "not signed in");
		return;
	}
	if (!http_csrf_ok(h, req, &s))
		return;
	if (cookie_get(req, DASH_COOKIE, token, sizeof(token)) == 0)
		store_session_delete(h->store, token);
	set_cookie(h, req, "", 0);
	http_text(req, 200, "application/json", "{}", 2);
}

int
http_dash(struct http_server *h, struct evhttp_request *req, const char *path)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	int get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
	const struct http_asset *a;
	struct store_session s;

	if (strncmp(path, "/auth/", 6) == 0) {
		path += 6;
		if (strcmp(path, "login") == 0 && cmd == EVHTTP_REQ_POST) {
			dash_login(h, req);
		} else if (strcmp(path, "logout") == 0 && cmd == EVHTTP_REQ_POST) {
			dash_logout(h, req);
		} else if (strcmp(path, "session") == 0 && get) {
			if (http_session_auth(h, req, &s) < 0)
				http_error(req, 401, "unauthorized", "not signed in");
			else
				session_reply(req, &s);
		} else if (!strcmp(path, "login") || !strcmp(path, "logout") ||
			   !strcmp(path, "session")) {
			http_error(req, 405, "method_not_allowed", "wrong method");
		} else {
			http_error(req, 404, "not_found", "no such endpoint");
		}
		return 1;
	}
	if (strncmp(path, "/assets/", 8) == 0) {
		if (!get)
			http_error(req, 405, "method_not_allowed", "use GET");
		else if ((a = asset_find(path + 1)) == NULL)
			http_error(req, 404, "not_found", "no such asset");
		else
			send_asset(req, a, "public, max-age=31536000, immutable");
		return 1;
	}
	if (is_page(path)) {
		if (!get)
			http_error(req, 405, "method_not_allowed", "use GET");
		else if ((a = asset_find("index.html")) == NULL)
			http_error(req, 503, "unavailable",
				   "the dashboard was built without its assets (make web)");
		else
			send_asset(req, a, "no-cache");
		return 1;
	}
	return 0;
}
