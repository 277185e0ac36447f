/*
 * NAME
 *	daemon_config - the configuration keys, their defaults and bounds
 * DESCRIPTION
 *	File format: one "key = value" per line; blank lines and lines
 *	starting with '#' are ignored; values are taken verbatim after
 *	trimming white space. Unknown keys and bad values are errors that
 *	name the key, the file and the line.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "daemon/daemon.h"
#include "mta/mta.h"
#include "queue/queue.h"
#include "smtpd/smtpd.h"

enum cfg_type { CFG_STR, CFG_HOSTPORT, CFG_UINT, CFG_SIZE, CFG_DURATION, CFG_BOOL };

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t off;
	uint64_t min, max; /* for numbers; durations in ms */
};

#define OFF(f) offsetof(struct daemon_config, f)

static const struct cfg_key cfg_keys[] = {
	{"data_dir", CFG_STR, OFF(data_dir), 0, 0},
	{"smtp_listen", CFG_HOSTPORT, OFF(smtp_listen), 0, 0},
	{"smtps_listen", CFG_HOSTPORT, OFF(smtps_listen), 0, 0},
	{"http_listen", CFG_HOSTPORT, OFF(http_listen), 0, 0},
	{"https_listen", CFG_HOSTPORT, OFF(https_listen), 0, 0},
	{"dns", CFG_STR, OFF(dns), 0, 0},
	{"mx_port", CFG_UINT, OFF(mx_port), 1, 65535},
	{"hostname", CFG_STR, OFF(hostname), 0, 0},
	{"tls_cert", CFG_STR, OFF(tls_cert), 0, 0},
	{"tls_key", CFG_STR, OFF(tls_key), 0, 0},
	{"run_user", CFG_STR, OFF(run_user), 0, 0},
	{"log_level", CFG_STR, OFF(log_level), 0, 0},
	{"log_file", CFG_STR, OFF(log_file), 0, 0},
	{"smtp_max_message_size", CFG_SIZE, OFF(smtp_max_message_size), 1024,
	 (uint64_t)1 << 30},
	{"smtp_max_recipients", CFG_UINT, OFF(smtp_max_recipients), 1, 100000},
	{"smtp_max_line", CFG_SIZE, OFF(smtp_max_line), 512, 65536},
	{"smtp_max_connections", CFG_UINT, OFF(smtp_max_connections), 1, 100000},
	{"smtp_max_per_ip", CFG_UINT, OFF(smtp_max_per_ip), 1, 100000},
	{"smtp_max_errors", CFG_UINT, OFF(smtp_max_errors), 1, 1000},
	{"smtp_idle_timeout", CFG_DURATION, OFF(smtp_idle_timeout_ms), 100, 3600000},
	{"smtp_preauth_idle_timeout", CFG_DURATION, OFF(smtp_preauth_idle_timeout_ms), 100,
	 3600000},
	{"smtp_session_timeout", CFG_DURATION, OFF(smtp_session_timeout_ms), 1000, 86400000},
	{"smtp_auth_plaintext_loopback", CFG_BOOL, OFF(smtp_auth_plaintext_loopback), 0, 1},
	{"mta_concurrency", CFG_UINT, OFF(mta_concurrency), 1, 1000},
	{"mta_max_rcpts", CFG_UINT, OFF(mta_max_rcpts), 1, 1000},
	{"mta_connect_timeout", CFG_DURATION, OFF(mta_connect_timeout_ms), 100, 600000},
	{"mta_command_timeout", CFG_DURATION, OFF(mta_command_timeout_ms), 100, 3600000},
	{"mta_data_timeout", CFG_DURATION, OFF(mta_data_timeout_ms), 100, 3600000},
	{"mta_idle_reuse", CFG_DURATION, OFF(mta_idle_reuse_ms), 0, 3600000},
	{"mta_retry_schedule", CFG_STR, OFF(mta_retry_schedule), 0, 0},
	{"mta_greylist_retry", CFG_DURATION, OFF(mta_greylist_retry_ms), 100, 86400000},
	{"mta_max_lifetime", CFG_DURATION, OFF(mta_max_lifetime_ms), 1000, 60LL * 86400000},
	{"tls_ca_file", CFG_STR, OFF(tls_ca_file), 0, 0},
	{"mta_hold", CFG_BOOL, OFF(mta_hold), 0, 1},
	{"queue_commit_delay", CFG_DURATION, OFF(queue_commit_delay_ms), 0, 100},
	{"domain_recheck_interval", CFG_DURATION, OFF(domain_recheck_interval_ms), 1000,
	 30LL * 86400000},
	{"dashboard_session_idle", CFG_DURATION, OFF(dashboard_session_idle_ms), 1000,
	 30LL * 86400000},
	{"dashboard_origin", CFG_STR, OFF(dashboard_origin), 0, 0},
	{"dashboard_session_lifetime", CFG_DURATION, OFF(dashboard_session_lifetime_ms), 1000,
	 90LL * 86400000},
};

void
daemon_config_defaults(struct daemon_config *c)
{
	struct smtpd_config sc;
	struct mta_config mc;

	memset(c, 0, sizeof(*c));
	c->data_dir = xstrdup("./posthaste-data");
	c->smtp_listen = xstrdup("127.0.0.1:2525");
	c->http_listen = xstrdup("127.0.0.1:8025");
	c->mx_port = 25;
	c->run_user = xstrdup("posthaste");
	c->log_level = xstrdup("info");
	/* The modules own their defaults; the daemon only copies them. */
	smtpd_config_defaults(&sc);
	mta_config_defaults(&mc);
	c->smtp_max_message_size = sc.max_message_size;
	c->smtp_max_recipients = sc.max_recipients;
	c->smtp_max_line = sc.max_line;
	c->smtp_max_connections = sc.max_connections;
	c->smtp_max_per_ip = sc.max_per_ip;
	c->smtp_max_errors = sc.max_errors;
	c->smtp_idle_timeout_ms = sc.idle_timeout_ms;
	c->smtp_preauth_idle_timeout_ms = sc.preauth_idle_timeout_ms;
	c->smtp_session_timeout_ms = sc.session_timeout_ms;
	c->smtp_auth_plaintext_loopback = sc.auth_plaintext_loopback;
	c->mta_concurrency = mc.dest_concurrency;
	c->mta_max_rcpts = mc.max_rcpts_per_txn;
	c->mta_connect_timeout_ms = mc.connect_timeout_ms;
	c->mta_command_timeout_ms = mc.command_timeout_ms;
	c->mta_data_timeout_ms = mc.data_timeout_ms;
	c->mta_idle_reuse_ms = mc.idle_reuse_ms;
	c->mta_retry_schedule = xstrdup(MTA_RETRY_SCHEDULE_DEFAULT);
	c->mta_greylist_retry_ms = mc.greylist_retry_ms;
	c->mta_max_lifetime_ms = mc.max_lifetime_ms;
	c->queue_commit_delay_ms = QUEUE_COMMIT_DELAY_DEFAULT_US / 1000;
	c->domain_recheck_interval_ms = 6LL * 3600 * 1000;
	c->dashboard_session_idle_ms = 3600LL * 1000;
	c->dashboard_session_lifetime_ms = 12LL * 3600 * 1000;
}

void
daemon_config_free(struct daemon_config *c)
{
	for (size_t i = 0; i < PH_ARRAY_LEN(cfg_keys); i++)
		if (cfg_keys[i].type == CFG_STR || cfg_keys[i].type == CFG_HOSTPORT) {
			char **p = (char **)((char *)c + cfg_keys[i].off);

			free(*p);
			*p = NULL;
		}
	for (unsigned i = 0; i < c->nroutes; i++) {
		free(c->routes[i][0]);
		free(c->routes[i][1]);
	}
	c->nroutes = 0;
}

int
daemon_config_set(struct daemon_config *c, const char *key, const char *value, char *err,
		  size_t errlen)
{
	const struct cfg_key *k = NULL;
	void *field;
	char host[256];
	uint16_t port;
	uint64_t u;
	int64_t ms;

	if (strncmp(key, "route.", 6) == 0) {
		/* route.DOMAIN = HOST:PORT ("route.*" for every domain) */
		if (key[6] == '\0' || parse_hostport(value, host, sizeof(host), &port) < 0) {
			snprintf(err, errlen, "bad value for %s: '%s' (want HOST:PORT)", key, value);
			return -1;
		}
		if (c->nroutes >= DAEMON_ROUTES_MAX) {
			snprintf(err, errlen, "too many routes (at most %d)", DAEMON_ROUTES_MAX);
			return -1;
		}
		c->routes[c->nroutes][0] = xstrdup(key + 6);
		c->routes[c->nroutes][1] = xstrdup(value);
		c->nroutes++;
		return 0;
	}
	for (size_t i = 0; i < PH_ARRAY_LEN(cfg_keys); i++)
		if (strcmp(cfg_keys[i].name, key) == 0)
			k = &cfg_keys[i];
	if (k == NULL) {
		snprintf(err, errlen, "unknown key '%s'", key);
		return -1;
	}
	field = (char *)c + k->off;
	switch (k->type) {
	case CFG_HOSTPORT:
		if (parse_hostport(value, host, sizeof(host), &port) < 0) {
			snprintf(err, errlen,
				 "bad value for %s: '%s' (want ADDR:PORT with a port 1-65535)",
				 key, value);
			return -1;
		}
		__attribute__((fallthrough));
	case CFG_STR:
		if (k->type == CFG_STR && *value == '\0') {
			snprintf(err, errlen, "bad value for %s: empty", key);
			return -1;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case CFG_UINT:
	case CFG_SIZE:
		if ((k->type == CFG_UINT ? parse_uint(value, 0, UINT64_MAX, &u)
					 : parse_size(value, &u)) < 0 ||
		    u < k->min || u > k->max) {
			snprintf(err, errlen,
				 "bad value for %s: '%s' (want a number from %llu to %llu)", key,
				 value, (unsigned long long)k->min, (unsigned long long)k->max);
			return -1;
		}
		*(uint64_t *)field = u;
		return 0;
	case CFG_DURATION:
		if (time_parse_duration(value, &ms) < 0 || (uint64_t)ms < k->min ||
		    (uint64_t)ms > k->max) {
			snprintf(err, errlen,
				 "bad value for %s: '%s' (want a duration such as 30s, 5m; "
				 "%llums to %llums)",
				 key, value, (unsigned long long)k->min,
				 (unsigned long long)k->max);
			return -1;
		}
		*(int64_t *)field = ms;
		return 0;
	case CFG_BOOL:
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 ||
		    strcmp(value, "1") == 0)
			*(int *)field = 1;
		else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 ||
			 strcmp(value, "0") == 0)
			*(int *)field = 0;
		else {
			snprintf(err, errlen, "bad value for %s: '%s' (want yes or no)", key,
				 value);
			return -1;
		}
		return 0;
	}
	panic("config key %s has no type", key);
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int
daemon_config_load(struct daemon_config *c, const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char line[4096], why[512];
	unsigned lineno = 0;

	if (fp == NULL) {
		snprintf(err, errlen, "config %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp)) {
		char *eq, *key, *value, *p;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			snprintf(err, errlen, "config %s:%u: line too long", path, lineno);
			goto fail;
		}
		p = trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		eq = strchr(p, '=');
		if (eq == NULL) {
			snprintf(err, errlen, "config %s:%u: expected 'key = value'", path, lineno);
			goto fail;
		}
		*eq = '\0';
		key = trim(p);
		value = trim(eq + 1);
		if (daemon_config_set(c, key, value, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "config %s:%u: %s", path, lineno, why);
			goto fail;
		}
	}
	fclose(fp);
	return 0;
fail:
	fclose(fp);
	return -1;
}

/* Cross-key checks that single values cannot express. */
int
daemon_config_check(const struct daemon_config *c, char *err, size_t errlen)
{
	enum log_level l;

	if (log_level_parse(c->log_level, &l) < 0) {
		snprintf(err, errlen, "bad value for log_level: '%s' (want debug, info, warn, error)",
			 c->log_level);
		return -1;
	}
	if ((c->tls_cert == NULL) != (c->tls_key == NULL)) {
		snprintf(err, errlen, "tls_cert and tls_key must be given together");
		return -1;
	}
	if (c->dashboard_origin) {
		const char *o = c->dashboard_origin;
		const char *host = strncmp(o, "https://", 8) == 0  ? o + 8
				   : strncmp(o, "http://", 7) == 0 ? o + 7
								   : NULL;

		/* An origin is scheme://host[:port]: what browsers send in Origin. */
		if (host == NULL || *host == '\0' || strpbrk(host, "/?#@ \t") != NULL) {
			snprintf(err, errlen,
				 "bad value for dashboard_origin: '%s' (want https://HOST[:PORT],"
				 " no path)", o);
			return -1;
		}
	}
	if (c->dns) {
		const char *at = strchr(c->dns, '@');
		uint64_t p;

		if (at == NULL || at == c->dns || parse_uint(at + 1, 1, 65535, &p) < 0) {
			snprintf(err, errlen, "bad value for dns: '%s' (want ADDR@PORT)", c->dns);
			return -1;
		}
	}
	if (c->smtp_max_per_ip > c->smtp_max_connections) {
		snprintf(err, errlen, "smtp_max_per_ip (%llu) is above smtp_max_connections (%llu)",
			 (unsigned long long)c->smtp_max_per_ip,
			 (unsigned long long)c->smtp_max_connections);
		return -1;
	}
	return 0;
}
