/*
 * NAME
 *	http_api - the /api/v1 endpoints (DESIGN.md "HTTP API")
 * DESCRIPTION
 *	GET  messages?recipient=&from=&subject=&status=&message_id=&since=&until=&cursor=&limit=
 *	POST messages                      (http_send.c)
 *	GET  messages/{id}                 message and per-recipient status
 *	GET  messages/{id}/events          the timeline (?recipient=)
 *	GET  messages/{id}/transcript      every attempt's SMTP conversation
 *	GET  messages/{id}/evidence        the hand-over (?recipient=, ?format=text
 *	                                   or Accept: text/plain)
 *	GET  stats?since=&until=&domain=&bucket=hour|day
 *	GET  queue?status=&cursor=&limit=  unfinished recipients (deferred by
 *	                                   default) with their last reply
 *	POST queue/{id}/retry?recipient=   retry now (the whole message when
 *	                                   no recipient is named)
 *	DELETE queue/{id}?recipient=       take out of the queue ("deleted")
 *
 *	Query parameters are checked against a list per endpoint: an
 *	unknown one is a 400, so a typo never silently widens a search.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>

#include <event2/keyvalq_struct.h>

#include "http/http_int.h"
#include "domain/domain.h"
#include "store/store_report.h"

#define HTTP_PARAM_MAX 1024

/* Parse the query string; 400 (and -1) on unknown or oversized keys. */
static int
query_params(struct evhttp_request *req, struct evkeyvalq *q, const char *const *allowed)
{
	const char *qs = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyval *kv;

	TAILQ_INIT(q);
	if (qs && evhttp_parse_query_str(qs, q) < 0) {
		http_error(req, 400, "bad_request", "malformed query string");
		return -1;
	}
	TAILQ_FOREACH(kv, q, next)
	{
		int ok = 0;

		for (const char *const *a = allowed; *a; a++)
			if (strcmp(kv->key, *a) == 0)
				ok = 1;
		if (!ok) {
			http_error(req, 400, "bad_request", "unknown query parameter '%.64s'",
				   kv->key);
			evhttp_clear_headers(q);
			return -1;
		}
		if (strlen(kv->value) > HTTP_PARAM_MAX || memchr(kv->value, '\n', strlen(kv->value))) {
			http_error(req, 400, "bad_request", "query parameter '%s' is too long or "
							    "has a line break", kv->key);
			evhttp_clear_headers(q);
			return -1;
		}
	}
	return 0;
}

static const char *
param(struct evkeyvalq *q, const char *k)
{
	const char *v = evhttp_find_header(q, k);

	return v && *v ? v : NULL;
}

static int
time_param(struct evhttp_request *req, struct evkeyvalq *q, const char *k, int64_t *ms)
{
	const char *v = param(q, k);

	*ms = 0;
	if (v && store_parse_time(v, ms) < 0) {
		http_error(req, 400, "bad_request",
			   "%s: want RFC 3339 UTC (2026-11-22T16:00:00Z) or epoch seconds", k);
		return -1;
	}
	return 0;
}

/* cursor= and limit= of a paged list (0 and STORE_SEARCH_LIMIT_DEFAULT
 * when absent); 400 (and -1) when out of range. */
static int
page_params(struct evhttp_request *req, struct evkeyvalq *q, int64_t *cursor, unsigned *limit)
{
	uint64_t v;

	*cursor = 0;
	*limit = STORE_SEARCH_LIMIT_DEFAULT;
	if (param(q, "cursor")) {
		if (parse_uint(param(q, "cursor"), 1, INT64_MAX, &v) < 0) {
			http_error(req, 400, "bad_request", "cursor: use next_cursor from a reply");
			return -1;
		}
		*cursor = (int64_t)v;
	}
	if (param(q, "limit")) {
		if (parse_uint(param(q, "limit"), 1, STORE_SEARCH_LIMIT_MAX, &v) < 0) {
			http_error(req, 400, "bad_request", "limit: a number from 1 to %d",
				   STORE_SEARCH_LIMIT_MAX);
			return -1;
		}
		*limit = (unsigned)v;
	}
	return 0;
}

static void
api_search(struct http_server *h, struct evhttp_request *req, int64_t account)
{
	static const char *const allowed[] = {"recipient", "from", "subject", "status",
					      "message_id", "since", "until", "cursor",
					      "limit", NULL};
	struct evkeyvalq q;
	struct store_search f;
	char err[256];
	json_t *out;

	if (query_params(req, &q, allowed) < 0)
		return;
	memset(&f, 0, sizeof(f));
	f.recipient = param(&q, "recipient");
	f.from = param(&q, "from");
	f.subject = param(&q, "subject");
	f.status = param(&q, "status");
	f.message_id = param(&q, "message_id");
	if (time_param(req, &q, "since", &f.since_ms) < 0 ||
	    time_param(req, &q, "until", &f.until_ms) < 0 ||
	    page_params(req, &q, &f.cursor, &f.limit) < 0)
		goto out;
	out = store_search_messages(h->store, account, &f, err, sizeof(err));
	if (out == NULL) {
		http_error(req, 400, "bad_request", "%s", err);
		goto out;
	}
	http_json(req, 200, out);
	json_decref(out);
out:
	evhttp_clear_headers(&q);
}

static int
public_id_ok(const char *id, size_t n)
{
	if (n == 0 || n > 31)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z')))
			return 0;
	return 1;
}

static int
wants_text(struct evhttp_request *req, struct evkeyvalq *q)
{
	const char *f = param(q, "format");
	const char *acc = evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");

	if (f)
		return strcmp(f, "text") == 0;
	return acc && strncmp(acc, "text/plain", 10) == 0;
}

/* messages/{id}[/events|/transcript|/evidence] */
static void
api_message(struct http_server *h, struct evhttp_request *req, int64_t account, const char *rest)
{
	static const char *const none[] = {NULL};
	static const char *const by_rcpt[] = {"recipient", NULL};
	static const char *const evid[] = {"recipient", "format", NULL};
	const char *slash = strchr(rest, '/'), *sub = slash ? slash + 1 : "";
	size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
	char id[32];
	struct evkeyvalq q;
	json_t *out = NULL;

	if (!public_id_ok(rest, idlen)) {
		http_error(req, 404, "not_found", "no such message");
		return;
	}
	memcpy(id, rest, idlen);
	id[idlen] = '\0';
	if (*sub == '\0') {
		if (query_params(req, &q, none) < 0)
			return;
		out = store_message_detail(h->store, account, id);
	} else if (strcmp(sub, "events") == 0) {
		if (query_params(req, &q, by_rcpt) < 0)
			return;
		out = store_message_events(h->store, account, id, param(&q, "recipient"));
		if (out) {
			json_t *w = json_pack("{s:s,s:o}", "id", id, "events", out);

			out = w;
		}
	} else if (strcmp(sub, "transcript") == 0) {
		if (query_params(req, &q, none) < 0)
			return;
		out = store_message_transcripts(h->store, account, id);
		if (out) {
			json_t *w = json_pack("{s:s,s:o}", "id", id, "transcripts", out);

			out = w;
		}
	} else if (strcmp(sub, "evidence") == 0) {
		if (query_params(req, &q, evid) < 0)
			return;
		out = store_message_evidence(h->store, account, id, param(&q, "recipient"));
		if (out && wants_text(req, &q)) {
			char *text = store_evidence_text(out);

			http_text(req, 200, "text/plain; charset=utf-8", text, strlen(text));
			free(text);
			json_decref(out);
			evhttp_clear_headers(&q);
			return;
		}
	} else {
		http_error(req, 404, "not_found", "no such endpoint");
		return;
	}
	if (out == NULL)
		http_error(req, 404, "not_found", "no such message");
	else
		http_json(req, 200, out);
	json_decref(out);
	evhttp_clear_headers(&q);
}

static void
api_stats(struct http_server *h, struct evhttp_request *req, int64_t account)
{
	static const char *const allowed[] = {"since", "until", "domain", "bucket", NULL};
	struct evkeyvalq q;
	int64_t since, until, bucket = 0;
	const char *b;
	json_t *out;

	if (query_params(req, &q, allowed) < 0)
		return;
	if ((b = param(&q, "bucket")) != NULL) {
		if (strcmp(b, "hour") == 0)
			bucket = 3600 * 1000;
		else if (strcmp(b, "day") == 0)
			bucket = 86400 * 1000;
		else {
			http_error(req, 400, "bad_request", "bucket: hour or day");
			evhttp_clear_headers(&q);
			return;
		}
	}
	if (time_param(req, &q, "since", &since) == 0 && time_param(req, &q, "until", &until) == 0) {
		if (bucket && since == 0)
			since = time_now_ms() - (bucket == 86400 * 1000 ? 30 : 7) * 86400000ll;
		out = store_stats(h->store, account, since, until, param(&q, "domain"), bucket);
		if (out == NULL)
			http_error(req, 500, "internal", "statistics are not available");
		else
			http_json(req, 200, out);
		json_decref(out);
	}
	evhttp_clear_headers(&q);
}

/* POST domains {"domain": "...", "ips": ["..."]}: keys and records. */
static void
api_domain_add(struct http_server *h, struct evhttp_request *req, int64_t account)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	json_error_t jerr;
	json_t *body, *ips, *v, *out;
	const char *domain, *key;
	char list[512] = "", err[512];
	size_t i;

	body = json_loadb((const char *)evbuffer_pullup(in, -1), evbuffer_get_length(in),
			  JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(body)) {
		http_error(req, 400, "invalid_json", "send {\"domain\": ..., \"ips\": [...]}");
		json_decref(body);
		return;
	}
	json_object_foreach(body, key, v)
	{
		if (strcmp(key, "domain") != 0 && strcmp(key, "ips") != 0) {
			http_error(req, 400, "invalid_request", "unknown field '%.64s'", key);
			json_decref(body);
			return;
		}
	}
	domain = json_string_value(json_object_get(body, "domain"));
	ips = json_object_get(body, "ips");
	if (domain == NULL || !json_is_array(ips) || json_array_size(ips) == 0) {
		http_error(req, 400, "invalid_request",
			   "domain (a string) and ips (the sending IP addresses) are required");
		json_decref(body);
		return;
	}
	json_array_foreach(ips, i, v)
	{
		const char *ip = json_string_value(v);
		unsigned char a[16];

		if (ip == NULL || (inet_pton(AF_INET, ip, a) != 1 && inet_pton(AF_INET6, ip, a) != 1) ||
		    strlen(list) + strlen(ip) + 2 >= sizeof(list)) {
			http_error(req, 400, "invalid_request", "ips[%zu]: not an IP address", i);
			json_decref(body);
			return;
		}
		if (list[0])
			strncat(list, ",", sizeof(list) - strlen(list) - 1);
		strncat(list, ip, sizeof(list) - strlen(list) - 1);
	}
	out = domain_create(h->store, account, domain, list, h->cfg.hostname, err, sizeof(err));
	json_decref(body);
	if (out == NULL) {
		http_error(req, strstr(err, "already") ? 409 : 400, "invalid_domain", "%s", err);
		return;
	}
	http_json(req, 201, out);
	json_decref(out);
}

/* domains, domains/{domain}, domains/{domain}/verify */
static void
api_domains(struct http_server *h, struct evhttp_request *req, int64_t account, const char *rest)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	char name[256];
	const char *slash;
	json_t *list;

	if (*rest == '\0') {
		if (cmd == EVHTTP_REQ_POST) {
			api_domain_add(h, req, account);
			return;
		}
		list = store_domains_json(h->store, account, NULL);
		http_json(req, 200, list);
		json_decref(list);
		return;
	}
	slash = strchr(rest, '/');
	snprintf(name, sizeof(name), "%.*s", slash ? (int)(slash - rest) : (int)strlen(rest), rest);
	list = store_domains_json(h->store, account, name);
	if (json_array_size(list) == 0) {
		http_error(req, 404, "not_found", "no such domain");
	} else if (slash && strcmp(slash, "/verify") == 0 && cmd == EVHTTP_REQ_POST) {
		/* DNS checks block: the re-check thread runs them, not this loop. */
		if (h->recheck)
			h->recheck(h->recheck_arg);
		http_json(req, 202, json_array_get(list, 0));
	} else if (slash == NULL && cmd == EVHTTP_REQ_GET) {
		http_json(req, 200, json_array_get(list, 0));
	} else {
		http_error(req, 404, "not_found", "no such endpoint");
	}
	json_decref(list);
}

static void
api_queue_list(struct http_server *h, struct evhttp_request *req, int64_t account)
{
	static const char *const allowed[] = {"status", "cursor", "limit", NULL};
	struct evkeyvalq q;
	const char *status;
	int64_t cursor;
	unsigned limit;
	json_t *out;

	if (query_params(req, &q, allowed) < 0)
		return;
	status = param(&q, "status") ? param(&q, "status") : "deferred";
	if (strcmp(status, "deferred") != 0 && strcmp(status, "queued") != 0)
		http_error(req, 400, "bad_request", "status: deferred or queued");
	else if (page_params(req, &q, &cursor, &limit) == 0) {
		out = store_queue_list(h->store, account, status, cursor, limit);
		if (out == NULL)
			http_error(req, 500, "internal", "the queue cannot be read");
		else
			http_json(req, 200, out);
		json_decref(out);
	}
	evhttp_clear_headers(&q);
}

/* queue/{id}/retry (POST) and queue/{id} (DELETE): the daemon's queue
 * acts at once; another account's message is a 404. */
static void
api_queue_command(struct http_server *h, struct evhttp_request *req, int64_t account,
		  const char *rest)
{
	static const char *const allowed[] = {"recipient", NULL};
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *slash = strchr(rest, '/');
	size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
	const char *what;
	char id[32];
	struct evkeyvalq q;
	int64_t rcpt_id;
	size_t n;

	if (slash == NULL && cmd == EVHTTP_REQ_DELETE)
		what = "delete";
	else if (slash && strcmp(slash, "/retry") == 0 && cmd == EVHTTP_REQ_POST)
		what = "flush";
	else {
		http_error(req, 405, "method_not_allowed",
			   "POST queue/{id}/retry or DELETE queue/{id}");
		return;
	}
	if (!public_id_ok(rest, idlen)) {
		http_error(req, 404, "not_found", "no such message");
		return;
	}
	memcpy(id, rest, idlen);
	id[idlen] = '\0';
	if (query_params(req, &q, allowed) < 0)
		return;
	if (store_queue_target(h->store, account, id, param(&q, "recipient"), &rcpt_id) < 0) {
		http_error(req, 404, "not_found",
			   param(&q, "recipient") ? "no such recipient" : "no such message");
	} else if (h->queue_cmd == NULL) {
		http_error(req, 503, "unavailable", "the queue is not running");
	} else {
		json_t *o;

		n = h->queue_cmd(h->queue_cmd_arg, what, id, rcpt_id);
		o = json_pack("{s:I}", "recipients", (json_int_t)n);
		http_json(req, strcmp(what, "flush") == 0 ? 202 : 200, o);
		json_decref(o);
	}
	evhttp_clear_headers(&q);
}

void
http_api(struct http_server *h, struct evhttp_request *req, const char *path)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	int64_t account;

	if ((account = http_auth(h, req)) == 0)
		return;
	if (strcmp(path, "messages") == 0) {
		if (cmd == EVHTTP_REQ_POST)
			http_api_send(h, req, account);
		else if (cmd == EVHTTP_REQ_GET)
			api_search(h, req, account);
		else
			http_error(req, 405, "method_not_allowed", "use GET or POST");
		return;
	}
	if (strcmp(path, "domains") == 0 || strncmp(path, "domains/", 8) == 0) {
		api_domains(h, req, account, path[7] == '/' ? path + 8 : "");
		return;
	}
	if (strcmp(path, "queue") == 0 && cmd == EVHTTP_REQ_GET) {
		api_queue_list(h, req, account);
		return;
	}
	if (strncmp(path, "queue/", 6) == 0) {
		api_queue_command(h, req, account, path + 6);
		return;
	}
	if (cmd != EVHTTP_REQ_GET) {
		http_error(req, 405, "method_not_allowed", "use GET");
		return;
	}
	if (strncmp(path, "messages/", 9) == 0)
		api_message(h, req, account, path + 9);
	else if (strcmp(path, "stats") == 0)
		api_stats(h, req, account);
	else
		http_error(req, 404, "not_found", "no such endpoint");
}
