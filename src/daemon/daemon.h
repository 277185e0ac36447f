/*
 * NAME
 *	daemon - posthaste serve: configuration, listeners, privileges, loop
 * DESCRIPTION
 *	The configuration is a flat key = value file (see docs/config.md).
 *	Precedence: defaults < config file (-c FILE) < command-line flags.
 *	Every key is in one table (daemon_config.c) with its type and bounds,
 *	so a bad value is reported with its key name and where it came from.
 */
#ifndef PH_DAEMON_H
#define PH_DAEMON_H

#include <stdint.h>

#include "lib/lib.h"

#define DAEMON_ROUTES_MAX 64

struct daemon_config {
	char *data_dir;
	char *smtp_listen;  /* ADDR:PORT, STARTTLS-capable */
	char *smtps_listen; /* ADDR:PORT implicit TLS, or NULL */
	char *https_listen; /* ADDR:PORT the HTTP listener over TLS, or NULL */
	char *http_listen;
	char *dns;          /* ADDR@PORT forwarder, or NULL for the system's */
	uint64_t mx_port;
	char *hostname;
	char *tls_cert, *tls_key;
	char *run_user;     /* user to become when started as root */
	char *log_level;
	char *log_file;
	/* smtpd limits (smtpd.h has their meaning) */
	uint64_t smtp_max_message_size;
	uint64_t smtp_max_recipients;
	uint64_t smtp_max_line;
	uint64_t smtp_max_connections;
	uint64_t smtp_max_per_ip;
	uint64_t smtp_max_errors;
	int64_t smtp_idle_timeout_ms;
	int64_t smtp_preauth_idle_timeout_ms;
	int64_t smtp_session_timeout_ms;
	int smtp_auth_plaintext_loopback;
	/* delivery (mta.h has their meaning) */
	uint64_t mta_concurrency;
	uint64_t mta_max_rcpts;
	int64_t mta_connect_timeout_ms;
	int64_t mta_command_timeout_ms;
	int64_t mta_data_timeout_ms;
	int64_t mta_idle_reuse_ms;
	char *mta_retry_schedule;
	int64_t mta_greylist_retry_ms;
	int64_t mta_max_lifetime_ms;
	char *tls_ca_file;
	int mta_hold;
	int64_t queue_commit_delay_ms;
	int64_t domain_recheck_interval_ms;
	int64_t dashboard_session_idle_ms;
	int64_t dashboard_session_lifetime_ms;
	char *dashboard_origin; /* "https://mail.example.com" behind a proxy, or NULL */
	/* route.DOMAIN = HOST:PORT, in the order given */
	char *routes[DAEMON_ROUTES_MAX][2];
	unsigned nroutes;
};

void daemon_config_defaults(struct daemon_config *c);
/* Apply one key = value; where names the source for the error message.
 * On error writes a one-line reason into err. */
int daemon_config_set(struct daemon_config *c, const char *key, const char *value,
		      char *err, size_t errlen) PH_WUR;
int daemon_config_load(struct daemon_config *c, const char *path, char *err,
		       size_t errlen) PH_WUR;
int daemon_config_check(const struct daemon_config *c, char *err, size_t errlen) PH_WUR;
void daemon_config_free(struct daemon_config *c);


int daemon_serve_main(int argc, char **argv);

#endif
