/*
 * NAME
 *	test_config - unit tests for the daemon configuration
 * DESCRIPTION
 *	daemon_config_set(): every key type (string, ADDR:PORT, number,
 *	size, duration, bool) with its bounds, and error text that names
 *	the key and the value. daemon_config_load(): comments, blank lines,
 *	white space, CRLF, missing '=', unknown keys, long lines and a file
 *	that does not exist, each error naming the file and line.
 *	daemon_config_check(): the cross-key rules. parse_hostport() (moved
 *	from daemon_parse_hostport() to lib; the config is its main user).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/daemon.h"

/* --- a temporary config file ---------------------------------------------- */

static char tmp_dir[256];

static int
setup_dir(void **state)
{
	const char *t = getenv("TMPDIR");

	(void)state;
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/ph_config_XXXXXX", t && *t ? t : "/tmp");
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int
teardown_dir(void **state)
{
	static const char *const files[] = {"ok.conf", "bad.conf", "long.conf"};
	char path[512];

	(void)state;
	/* Left behind only when a test failed half way. */
	for (size_t i = 0; i < PH_ARRAY_LEN(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmp_dir, files[i]);
		unlink(path);
	}
	return rmdir(tmp_dir);
}

/* Write text into a file in tmp_dir; the path goes into path. */
static void
write_file(char *path, size_t pathlen, const char *name, const char *text, size_t n)
{
	FILE *fp;

	snprintf(path, pathlen, "%s/%s", tmp_dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
}

/* --- defaults ------------------------------------------------------------ */

static void
test_defaults(void **state)
{
	struct daemon_config c;
	char err[256];

	(void)state;
	daemon_config_defaults(&c);
	assert_string_equal(c.smtp_listen, "127.0.0.1:2525");
	assert_string_equal(c.http_listen, "127.0.0.1:8025");
	assert_null(c.smtps_listen);
	assert_null(c.dns);
	assert_null(c.tls_cert);
	assert_null(c.tls_key);
	assert_string_equal(c.log_level, "info");
	assert_int_equal(c.mx_port, 25);
	assert_int_equal(c.smtp_max_message_size, 25 * 1024 * 1024);
	assert_int_equal(c.smtp_max_line, 1000);
	assert_true(c.smtp_max_per_ip <= c.smtp_max_connections);
	assert_int_equal(c.smtp_idle_timeout_ms, 300000); /* RFC 5321 4.5.3.2.7 */
	assert_int_equal(c.smtp_auth_plaintext_loopback, 0);
	/* The defaults pass the cross-key checks. */
	assert_int_equal(daemon_config_check(&c, err, sizeof(err)), 0);
	daemon_config_free(&c);
	assert_null(c.smtp_listen);
	assert_null(c.data_dir);
}

/* --- daemon_config_set ------------------------------------------------------ */

enum field {
	F_NONE,
	F_STR_DATA_DIR,
	F_STR_HOSTNAME,
	F_STR_SMTP_LISTEN,
	F_STR_SMTPS_LISTEN,
	F_U_MX_PORT,
	F_U_MAX_SIZE,
	F_U_MAX_LINE,
	F_U_MAX_RCPT,
	F_U_MAX_ERRORS,
	F_MS_IDLE,
	F_MS_PREAUTH,
	F_MS_SESSION,
	F_BOOL_LOOPBACK,
};

static void
check_field(size_t row, const struct daemon_config *c, enum field f, const char *s, uint64_t u)
{
	const char *got = NULL;
	uint64_t gu = 0;

	switch (f) {
	case F_NONE:
		return;
	case F_STR_DATA_DIR:
		got = c->data_dir;
		break;
	case F_STR_HOSTNAME:
		got = c->hostname;
		break;
	case F_STR_SMTP_LISTEN:
		got = c->smtp_listen;
		break;
	case F_STR_SMTPS_LISTEN:
		got = c->smtps_listen;
		break;
	case F_U_MX_PORT:
		gu = c->mx_port;
		break;
	case F_U_MAX_SIZE:
		gu = c->smtp_max_message_size;
		break;
	case F_U_MAX_LINE:
		gu = c->smtp_max_line;
		break;
	case F_U_MAX_RCPT:
		gu = c->smtp_max_recipients;
		break;
	case F_U_MAX_ERRORS:
		gu = c->smtp_max_errors;
		break;
	case F_MS_IDLE:
		gu = (uint64_t)c->smtp_idle_timeout_ms;
		break;
	case F_MS_PREAUTH:
		gu = (uint64_t)c->smtp_preauth_idle_timeout_ms;
		break;
	case F_MS_SESSION:
		gu = (uint64_t)c->smtp_session_timeout_ms;
		break;
	case F_BOOL_LOOPBACK:
		gu = (uint64_t)c->smtp_auth_plaintext_loopback;
		break;
	}
	if (s) {
		if (got == NULL || strcmp(got, s) != 0)
			fail_msg("row %zu: field is \"%s\", want \"%s\"", row, got ? got : "(null)", s);
	} else if (gu != u) {
		fail_msg("row %zu: field is %llu, want %llu", row, (unsigned long long)gu,
			 (unsigned long long)u);
	}
}

static void
test_set(void **state)
{
	static const struct {
		const char *key, *value;
		int rc;
		enum field f;
		const char *want_s; /* string fields */
		uint64_t want_u;    /* numeric fields */
		const char *err;    /* the whole error text, on failure */
	} rows[] = {
		/* unknown keys name themselves */
		{"nope", "1", -1, F_NONE, NULL, 0, "unknown key 'nope'"},
		{"", "1", -1, F_NONE, NULL, 0, "unknown key ''"},
		{"SMTP_LISTEN", "127.0.0.1:25", -1, F_NONE, NULL, 0, "unknown key 'SMTP_LISTEN'"},
		{"smtp_listen ", "127.0.0.1:25", -1, F_NONE, NULL, 0, "unknown key 'smtp_listen '"},
		/* strings */
		{"data_dir", "/var/lib/posthaste", 0, F_STR_DATA_DIR, "/var/lib/posthaste", 0, NULL},
		{"hostname", "mx.example.com", 0, F_STR_HOSTNAME, "mx.example.com", 0, NULL},
		{"hostname", "", -1, F_NONE, NULL, 0, "bad value for hostname: empty"},
		/* ADDR:PORT */
		{"smtp_listen", "0.0.0.0:587", 0, F_STR_SMTP_LISTEN, "0.0.0.0:587", 0, NULL},
		{"smtp_listen", "[::1]:2525", 0, F_STR_SMTP_LISTEN, "[::1]:2525", 0, NULL},
		{"smtps_listen", "127.0.0.1:465", 0, F_STR_SMTPS_LISTEN, "127.0.0.1:465", 0, NULL},
		{"smtp_listen", "127.0.0.1:65535", 0, F_STR_SMTP_LISTEN, "127.0.0.1:65535", 0, NULL},
		{"smtp_listen", "127.0.0.1:0", -1, F_NONE, NULL, 0,
		 "bad value for smtp_listen: '127.0.0.1:0' (want ADDR:PORT with a port 1-65535)"},
		{"smtp_listen", "127.0.0.1:65536", -1, F_NONE, NULL, 0,
		 "bad value for smtp_listen: '127.0.0.1:65536' (want ADDR:PORT with a port 1-65535)"},
		{"smtp_listen", "127.0.0.1", -1, F_NONE, NULL, 0,
		 "bad value for smtp_listen: '127.0.0.1' (want ADDR:PORT with a port 1-65535)"},
		{"http_listen", "localhost:abc", -1, F_NONE, NULL, 0,
		 "bad value for http_listen: 'localhost:abc' (want ADDR:PORT with a port 1-65535)"},
		{"smtps_listen", "", -1, F_NONE, NULL, 0,
		 "bad value for smtps_listen: '' (want ADDR:PORT with a port 1-65535)"},
		/* numbers */
		{"mx_port", "2525", 0, F_U_MX_PORT, NULL, 2525, NULL},
		{"mx_port", "1", 0, F_U_MX_PORT, NULL, 1, NULL},
		{"mx_port", "65535", 0, F_U_MX_PORT, NULL, 65535, NULL},
		{"mx_port", "0", -1, F_NONE, NULL, 0,
		 "bad value for mx_port: '0' (want a number from 1 to 65535)"},
		{"mx_port", "65536", -1, F_NONE, NULL, 0,
		 "bad value for mx_port: '65536' (want a number from 1 to 65535)"},
		{"mx_port", "abc", -1, F_NONE, NULL, 0,
		 "bad value for mx_port: 'abc' (want a number from 1 to 65535)"},
		{"mx_port", "-1", -1, F_NONE, NULL, 0,
		 "bad value for mx_port: '-1' (want a number from 1 to 65535)"},
		{"mx_port", "", -1, F_NONE, NULL, 0,
		 "bad value for mx_port: '' (want a number from 1 to 65535)"},
		{"mx_port", "25k", -1, F_NONE, NULL, 0,
		 "bad value for mx_port: '25k' (want a number from 1 to 65535)"},
		{"mx_port", "99999999999999999999999", -1, F_NONE, NULL, 0,
		 "bad value for mx_port: '99999999999999999999999' (want a number from 1 to 65535)"},
		{"smtp_max_recipients", "100000", 0, F_U_MAX_RCPT, NULL, 100000, NULL},
		{"smtp_max_recipients", "100001", -1, F_NONE, NULL, 0,
		 "bad value for smtp_max_recipients: '100001' (want a number from 1 to 100000)"},
		{"smtp_max_errors", "1000", 0, F_U_MAX_ERRORS, NULL, 1000, NULL},
		{"smtp_max_errors", "0", -1, F_NONE, NULL, 0,
		 "bad value for smtp_max_errors: '0' (want a number from 1 to 1000)"},
		/* sizes: the suffix is a power of 1024 */
		{"smtp_max_message_size", "10m", 0, F_U_MAX_SIZE, NULL, 10485760, NULL},
		{"smtp_max_message_size", "1k", 0, F_U_MAX_SIZE, NULL, 1024, NULL},
		{"smtp_max_message_size", "1024", 0, F_U_MAX_SIZE, NULL, 1024, NULL},
		{"smtp_max_message_size", "1g", 0, F_U_MAX_SIZE, NULL, 1073741824, NULL},
		{"smtp_max_message_size", "1023", -1, F_NONE, NULL, 0,
		 "bad value for smtp_max_message_size: '1023' (want a number from 1024 to "
		 "1073741824)"},
		{"smtp_max_message_size", "1073741825", -1, F_NONE, NULL, 0,
		 "bad value for smtp_max_message_size: '1073741825' (want a number from 1024 to "
		 "1073741824)"},
		{"smtp_max_message_size", "2g", -1, F_NONE, NULL, 0,
		 "bad value for smtp_max_message_size: '2g' (want a number from 1024 to "
		 "1073741824)"},
		{"smtp_max_message_size", "10mb", -1, F_NONE, NULL, 0,
		 "bad value for smtp_max_message_size: '10mb' (want a number from 1024 to "
		 "1073741824)"},
		{"smtp_max_line", "512", 0, F_U_MAX_LINE, NULL, 512, NULL},
		{"smtp_max_line", "64k", 0, F_U_MAX_LINE, NULL, 65536, NULL},
		{"smtp_max_line", "511", -1, F_NONE, NULL, 0,
		 "bad value for smtp_max_line: '511' (want a number from 512 to 65536)"},
		{"smtp_max_line", "65537", -1, F_NONE, NULL, 0,
		 "bad value for smtp_max_line: '65537' (want a number from 512 to 65536)"},
		/* durations */
		{"smtp_idle_timeout", "30s", 0, F_MS_IDLE, NULL, 30000, NULL},
		{"smtp_idle_timeout", "30", 0, F_MS_IDLE, NULL, 30000, NULL},
		{"smtp_idle_timeout", "5m", 0, F_MS_IDLE, NULL, 300000, NULL},
		{"smtp_idle_timeout", "1h", 0, F_MS_IDLE, NULL, 3600000, NULL},
		{"smtp_idle_timeout", "100ms", 0, F_MS_IDLE, NULL, 100, NULL},
		{"smtp_idle_timeout", "99ms", -1, F_NONE, NULL, 0,
		 "bad value for smtp_idle_timeout: '99ms' (want a duration such as 30s, 5m; 100ms "
		 "to 3600000ms)"},
		{"smtp_idle_timeout", "61m", -1, F_NONE, NULL, 0,
		 "bad value for smtp_idle_timeout: '61m' (want a duration such as 30s, 5m; 100ms "
		 "to 3600000ms)"},
		{"smtp_idle_timeout", "abc", -1, F_NONE, NULL, 0,
		 "bad value for smtp_idle_timeout: 'abc' (want a duration such as 30s, 5m; 100ms "
		 "to 3600000ms)"},
		{"smtp_idle_timeout", "5 m", -1, F_NONE, NULL, 0,
		 "bad value for smtp_idle_timeout: '5 m' (want a duration such as 30s, 5m; 100ms "
		 "to 3600000ms)"},
		{"smtp_preauth_idle_timeout", "10s", 0, F_MS_PREAUTH, NULL, 10000, NULL},
		{"smtp_session_timeout", "1d", 0, F_MS_SESSION, NULL, 86400000, NULL},
		{"smtp_session_timeout", "2d", -1, F_NONE, NULL, 0,
		 "bad value for smtp_session_timeout: '2d' (want a duration such as 30s, 5m; "
		 "1000ms to 86400000ms)"},
		{"smtp_session_timeout", "999ms", -1, F_NONE, NULL, 0,
		 "bad value for smtp_session_timeout: '999ms' (want a duration such as 30s, 5m; "
		 "1000ms to 86400000ms)"},
		/* bools */
		{"smtp_auth_plaintext_loopback", "yes", 0, F_BOOL_LOOPBACK, NULL, 1, NULL},
		{"smtp_auth_plaintext_loopback", "true", 0, F_BOOL_LOOPBACK, NULL, 1, NULL},
		{"smtp_auth_plaintext_loopback", "1", 0, F_BOOL_LOOPBACK, NULL, 1, NULL},
		{"smtp_auth_plaintext_loopback", "no", 0, F_BOOL_LOOPBACK, NULL, 0, NULL},
		{"smtp_auth_plaintext_loopback", "false", 0, F_BOOL_LOOPBACK, NULL, 0, NULL},
		{"smtp_auth_plaintext_loopback", "0", 0, F_BOOL_LOOPBACK, NULL, 0, NULL},
		{"smtp_auth_plaintext_loopback", "on", -1, F_NONE, NULL, 0,
		 "bad value for smtp_auth_plaintext_loopback: 'on' (want yes or no)"},
		{"smtp_auth_plaintext_loopback", "YES", -1, F_NONE, NULL, 0,
		 "bad value for smtp_auth_plaintext_loopback: 'YES' (want yes or no)"},
		{"smtp_auth_plaintext_loopback", "", -1, F_NONE, NULL, 0,
		 "bad value for smtp_auth_plaintext_loopback: '' (want yes or no)"},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct daemon_config c, before;
		char err[512] = "";
		int rc;

		daemon_config_defaults(&c);
		/* The opposite of the row's bool, so a no-op cannot pass. */
		c.smtp_auth_plaintext_loopback = rows[i].f == F_BOOL_LOOPBACK && !rows[i].want_u;
		memcpy(&before, &c, sizeof(c));
		rc = daemon_config_set(&c, rows[i].key, rows[i].value, err, sizeof(err));
		if (rc != rows[i].rc)
			fail_msg("row %zu (%s = %s): rc %d, want %d (err \"%s\")", i, rows[i].key,
				 rows[i].value, rc, rows[i].rc, err);
		if (rc == 0) {
			check_field(i, &c, rows[i].f, rows[i].want_s, rows[i].want_u);
		} else {
			if (strcmp(err, rows[i].err) != 0)
				fail_msg("row %zu: err \"%s\", want \"%s\"", i, err, rows[i].err);
			/* A refused value changes nothing. */
			assert_memory_equal(&c, &before, sizeof(c));
		}
		daemon_config_free(&c);
	}
}

/* The error text is cut to errlen, never overrun. */
static void
test_set_err_truncated(void **state)
{
	struct daemon_config c;
	char err[16];

	(void)state;
	memset(err, 'Z', sizeof(err));
	daemon_config_defaults(&c);
	assert_int_equal(daemon_config_set(&c, "a_rather_long_unknown_key", "1", err, 10), -1);
	assert_string_equal(err, "unknown k");
	assert_int_equal(err[10], 'Z');
	daemon_config_free(&c);
}

/* Setting a string twice replaces it (and, under ASan, frees the old). */
static void
test_set_twice(void **state)
{
	struct daemon_config c;
	char err[256];

	(void)state;
	daemon_config_defaults(&c);
	assert_int_equal(daemon_config_set(&c, "hostname", "a.example", err, sizeof(err)), 0);
	assert_int_equal(daemon_config_set(&c, "hostname", "b.example", err, sizeof(err)), 0);
	assert_string_equal(c.hostname, "b.example");
	assert_int_equal(daemon_config_set(&c, "smtp_listen", "[::]:25", err, sizeof(err)), 0);
	assert_string_equal(c.smtp_listen, "[::]:25");
	daemon_config_free(&c);
}

/* --- daemon_config_load ------------------------------------------------------ */

static void
test_load_ok(void **state)
{
	static const char text[] = "# posthaste test config\n"
				   "\n"
				   "   \n"
				   "hostname = mx.example.com\n"
				   "  # an indented comment\n"
				   "smtp_max_message_size = 10m\n"
				   "smtp_idle_timeout=45s\n"
				   "\tsmtp_listen\t=\t[::1]:2526\t\n"
				   "log_file = /tmp/a=b.log\n"
				   "smtp_auth_plaintext_loopback = yes\r\n"
				   "mx_port = 2525";
	struct daemon_config c;
	char path[512], err[512] = "";

	(void)state;
	write_file(path, sizeof(path), "ok.conf", text, sizeof(text) - 1);
	daemon_config_defaults(&c);
	if (daemon_config_load(&c, path, err, sizeof(err)) != 0)
		fail_msg("load failed: %s", err);
	assert_string_equal(c.hostname, "mx.example.com");
	assert_int_equal(c.smtp_max_message_size, 10 * 1024 * 1024);
	assert_int_equal(c.smtp_idle_timeout_ms, 45000);
	assert_string_equal(c.smtp_listen, "[::1]:2526");
	assert_string_equal(c.log_file, "/tmp/a=b.log"); /* split at the first '=' */
	assert_int_equal(c.smtp_auth_plaintext_loopback, 1);
	assert_int_equal(c.mx_port, 2525); /* last line without a newline */
	/* Untouched keys keep their defaults. */
	assert_string_equal(c.http_listen, "127.0.0.1:8025");
	assert_int_equal(daemon_config_check(&c, err, sizeof(err)), 0);
	daemon_config_free(&c);
	assert_int_equal(unlink(path), 0);
}

static void
test_load_errors(void **state)
{
	static const struct {
		const char *text;
		const char *want; /* after "config PATH:" */
	} rows[] = {
		{"hostname mx.example.com\n", "1: expected 'key = value'"},
		{"# fine\n\nhostname\n", "3: expected 'key = value'"},
		{"hostname = a\nbogus = 1\n", "2: unknown key 'bogus'"},
		{"= 1\n", "1: unknown key ''"},
		{"mx_port = 0\n", "1: bad value for mx_port: '0' (want a number from 1 to 65535)"},
		{"\n\n\nsmtp_listen = 127.0.0.1:99999\n",
		 "4: bad value for smtp_listen: '127.0.0.1:99999' (want ADDR:PORT with a port "
		 "1-65535)"},
		{"hostname =\n", "1: bad value for hostname: empty"},
		{"smtp_idle_timeout = 5 minutes\n",
		 "1: bad value for smtp_idle_timeout: '5 minutes' (want a duration such as 30s, 5m; "
		 "100ms to 3600000ms)"},
		{"smtp_max_message_size = 1000 # too small\n",
		 "1: bad value for smtp_max_message_size: '1000 # too small' (want a number from "
		 "1024 to 1073741824)"},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct daemon_config c;
		char path[512], err[512] = "", want[1024];

		write_file(path, sizeof(path), "bad.conf", rows[i].text, strlen(rows[i].text));
		daemon_config_defaults(&c);
		if (daemon_config_load(&c, path, err, sizeof(err)) != -1)
			fail_msg("row %zu: load succeeded", i);
		snprintf(want, sizeof(want), "config %s:%s", path, rows[i].want);
		if (strcmp(err, want) != 0)
			fail_msg("row %zu: err \"%s\", want \"%s\"", i, err, want);
		daemon_config_free(&c);
		assert_int_equal(unlink(path), 0);
	}
}

static void
test_load_missing_file(void **state)
{
	struct daemon_config c;
	char path[512], err[512] = "", want[1024];

	(void)state;
	snprintf(path, sizeof(path), "%s/does-not-exist.conf", tmp_dir);
	daemon_config_defaults(&c);
	assert_int_equal(daemon_config_load(&c, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "config %s: No such file or directory", path);
	assert_string_equal(err, want);
	daemon_config_free(&c);
}

static void
test_load_long_line(void **state)
{
	struct daemon_config c;
	char path[512], err[512] = "", want[1024];
	size_t n = 6000;
	char *text = malloc(n + 32);

	(void)state;
	assert_non_null(text);
	memcpy(text, "hostname = ", 11);
	memset(text + 11, 'h', n - 11);
	memcpy(text + n, "\n", 2);
	write_file(path, sizeof(path), "long.conf", text, n + 1);
	daemon_config_defaults(&c);
	assert_int_equal(daemon_config_load(&c, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "config %s:1: line too long", path);
	assert_string_equal(err, want);
	/* Nothing from the long line was applied. */
	assert_null(c.hostname);
	daemon_config_free(&c);
	free(text);
	assert_int_equal(unlink(path), 0);
}

/* --- daemon_config_check ------------------------------------------------------- */

static void
test_check(void **state)
{
	static const struct {
		const char *key1, *val1, *key2, *val2;
		int rc;
		const char *err;
	} rows[] = {
		{NULL, NULL, NULL, NULL, 0, NULL},
		{"log_level", "debug", NULL, NULL, 0, NULL},
		{"log_level", "verbose", NULL, NULL, -1,
		 "bad value for log_level: 'verbose' (want debug, info, warn, error)"},
		{"log_level", "INFO", NULL, NULL, -1,
		 "bad value for log_level: 'INFO' (want debug, info, warn, error)"},
		{"tls_cert", "/c.pem", NULL, NULL, -1, "tls_cert and tls_key must be given together"},
		{"tls_key", "/k.pem", NULL, NULL, -1, "tls_cert and tls_key must be given together"},
		{"tls_cert", "/c.pem", "tls_key", "/k.pem", 0, NULL},
		{"dns", "127.0.0.1@53", NULL, NULL, 0, NULL},
		{"dns", "::1@5353", NULL, NULL, 0, NULL},
		{"dns", "127.0.0.1", NULL, NULL, -1, "bad value for dns: '127.0.0.1' (want ADDR@PORT)"},
		{"dns", "@53", NULL, NULL, -1, "bad value for dns: '@53' (want ADDR@PORT)"},
		{"dns", "127.0.0.1@0", NULL, NULL, -1,
		 "bad value for dns: '127.0.0.1@0' (want ADDR@PORT)"},
		{"dns", "127.0.0.1@", NULL, NULL, -1, "bad value for dns: '127.0.0.1@' (want ADDR@PORT)"},
		{"smtp_max_connections", "10", "smtp_max_per_ip", "10", 0, NULL},
		{"smtp_max_connections", "10", "smtp_max_per_ip", "11", -1,
		 "smtp_max_per_ip (11) is above smtp_max_connections (10)"},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct daemon_config c;
		char err[512] = "";
		int rc;

		daemon_config_defaults(&c);
		if (rows[i].key1)
			assert_int_equal(daemon_config_set(&c, rows[i].key1, rows[i].val1, err,
							   sizeof(err)),
					 0);
		if (rows[i].key2)
			assert_int_equal(daemon_config_set(&c, rows[i].key2, rows[i].val2, err,
							   sizeof(err)),
					 0);
		rc = daemon_config_check(&c, err, sizeof(err));
		if (rc != rows[i].rc)
			fail_msg("row %zu: rc %d, want %d (err \"%s\")", i, rc, rows[i].rc, err);
		if (rc < 0 && strcmp(err, rows[i].err) != 0)
			fail_msg("row %zu: err \"%s\", want \"%s\"", i, err, rows[i].err);
		daemon_config_free(&c);
	}
}

/* --- parse_hostport (lib; was daemon_parse_hostport) ------------------ */

static void
test_hostport(void **state)
{
	static const struct {
		const char *s;
		size_t hostlen;
		int rc;
		const char *host;
		uint16_t port;
	} rows[] = {
		{"127.0.0.1:25", 64, 0, "127.0.0.1", 25},
		{"0.0.0.0:2525", 64, 0, "0.0.0.0", 2525},
		{"localhost:1", 64, 0, "localhost", 1},
		{"mx.example.com:65535", 64, 0, "mx.example.com", 65535},
		{"[::1]:587", 64, 0, "::1", 587},
		{"[::]:25", 64, 0, "::", 25},
		{"[2001:db8::1]:465", 64, 0, "2001:db8::1", 465},
		{"[fe80::1%eth0]:25", 64, 0, "fe80::1%eth0", 25},
		/* missing or bad port */
		{"127.0.0.1", 64, -1, NULL, 0},
		{"127.0.0.1:", 64, -1, NULL, 0},
		{"127.0.0.1:0", 64, -1, NULL, 0},
		{"127.0.0.1:65536", 64, -1, NULL, 0},
		{"127.0.0.1:25x", 64, -1, NULL, 0},
		{"127.0.0.1: 25", 64, -1, NULL, 0},
		{"127.0.0.1:-25", 64, -1, NULL, 0},
		{"[::1]", 64, -1, NULL, 0},
		{"[::1]:", 64, -1, NULL, 0},
		{"[::1]587", 64, -1, NULL, 0},
		{"[::1]:0", 64, -1, NULL, 0},
		{"[::1:587", 64, -1, NULL, 0},
		/* missing host */
		{":25", 64, -1, NULL, 0},
		{"[]:25", 64, -1, NULL, 0},
		{"", 64, -1, NULL, 0},
		/* the host must fit hostlen with its NUL */
		{"abcdef:25", 7, 0, "abcdef", 25},
		{"abcdef:25", 6, -1, NULL, 0},
		{"[abcdef]:25", 6, -1, NULL, 0},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		char host[64];
		uint16_t port = 7;
		int rc;

		memset(host, 'Z', sizeof(host));
		rc = parse_hostport(rows[i].s, host, rows[i].hostlen, &port);
		if (rc != rows[i].rc)
			fail_msg("row %zu \"%s\": rc %d, want %d", i, rows[i].s, rc, rows[i].rc);
		if (rc == 0) {
			assert_string_equal(host, rows[i].host);
			assert_int_equal(port, rows[i].port);
		} else {
			assert_int_equal(port, 7);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_set_err_truncated),
		cmocka_unit_test(test_set_twice),
		cmocka_unit_test(test_load_ok),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_load_missing_file),
		cmocka_unit_test(test_load_long_line),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_hostport),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
