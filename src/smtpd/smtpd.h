/*
 * NAME
 *	smtpd - the submission server (RFC 5321, 3207, 4954, 2920, 6531)
 * DESCRIPTION
 *	Sessions run on the daemon's libevent loop. Accepted messages go to
 *	the queue's group commit; the 250 after DATA is sent only once the
 *	message is committed.
 *
 *	Limits (all named, all enforced while reading; see smtpd_config):
 *	command line length (SMTPD_PREAUTH_LINE_MAX before AUTH), DATA line
 *	length (SMTPD_DATA_LINE_MAX), message size, recipients per message,
 *	errors per session (halved before AUTH), idle and total session
 *	time (shorter idle before AUTH), connections in total and per IP,
 *	and AUTH failures, which slow down per IP and per username.
 *
 *	No open relay: a client relays only after AUTH or from a network
 *	an account trusts; there is no local delivery.
 */
#ifndef PH_SMTPD_H
#define PH_SMTPD_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "lib/lib.h"
#include "mail/mail.h"

#define SMTPD_DATA_LINE_MAX 998     /* RFC 5322 2.1.1, without CRLF */
#define SMTPD_PREAUTH_LINE_MAX 512  /* RFC 5321 4.5.3.1.4 minimum */
#define SMTPD_CMDS_PER_WAKEUP 64
#define SMTPD_AUTH_LINE_MAX 12288   /* RFC 4954 4: at least 12288 octets */
#define SMTPD_HEADER_ROOM 2048      /* what we prepend: Received etc. */

struct smtpd_config {
	const char *hostname;
	uint64_t max_message_size;
	unsigned max_recipients;
	size_t max_line;
	unsigned max_connections;
	unsigned max_per_ip;
	unsigned max_errors;
	int64_t idle_timeout_ms;
	int64_t preauth_idle_timeout_ms;
	int64_t session_timeout_ms;
	int auth_plaintext_loopback;
};

struct smtpd_server;
struct tls_ctx;
struct store;
struct queue;

void smtpd_config_defaults(struct smtpd_config *c);
struct smtpd_server *smtpd_server_new(struct event_base *base, const struct smtpd_config *c,
				      struct tls_ctx *tls, struct store *st, struct queue *q);
/* Accept on a bound, listening socket; implicit_tls for port-465 style. */
void smtpd_server_listen(struct smtpd_server *s, int fd, int implicit_tls);
/* Stop accepting (shutdown); sessions end with 421 when freed. */
void smtpd_server_stop(struct smtpd_server *s);
void smtpd_server_free(struct smtpd_server *s);
/* Open client connections, for /metrics. */
unsigned smtpd_server_connections(const struct smtpd_server *s);

/* --- pure parsers (smtpd_parse.c, smtpd_data.c), unit-tested -------- */

enum smtpd_verb {
	SMTPD_HELO, SMTPD_EHLO, SMTPD_MAIL, SMTPD_RCPT, SMTPD_DATA, SMTPD_RSET,
	SMTPD_NOOP, SMTPD_QUIT, SMTPD_HELP, SMTPD_VRFY, SMTPD_EXPN, SMTPD_STARTTLS,
	SMTPD_AUTH, SMTPD_BDAT, SMTPD_UNKNOWN
};
const char *smtpd_verb_str(enum smtpd_verb v);

struct smtpd_cmd {
	enum smtpd_verb verb;
	const char *arg; /* after the verb and one space; "" when none */
	size_t arg_len;
};
/* line excludes CRLF. */
void smtpd_parse_command(const char *line, size_t len, struct smtpd_cmd *out);

struct smtpd_path {
	char addr[MAIL_PATH_MAX + 1];
	size_t len;
	uint64_t size;  /* SIZE=, 0 when absent */
	int body_8bit;  /* BODY=8BITMIME */
	int smtputf8;   /* SMTPUTF8 */
};
/* Parse "FROM:<addr> params" / "TO:<addr> params". On error returns -1
 * and points *reply at the full reply line to send. */
int smtpd_parse_mail(const char *arg, size_t len, struct smtpd_path *out,
		     const char **reply) PH_WUR;
int smtpd_parse_rcpt(const char *arg, size_t len, int utf8_session, struct smtpd_path *out,
		     const char **reply) PH_WUR;

enum smtpd_data_flag {
	SMTPD_DATA_BARE_LF = 1,
	SMTPD_DATA_BARE_CR = 2,
	SMTPD_DATA_NUL = 4,
	SMTPD_DATA_LONG_LINE = 8,
	SMTPD_DATA_TOO_BIG = 16,
};
struct smtpd_data {
	int state;
	unsigned flags;
	size_t line_len;
	uint64_t max_size;
};
enum smtpd_data_result { SMTPD_DATA_MORE, SMTPD_DATA_END };
void smtpd_data_init(struct smtpd_data *d, uint64_t max_size);
/* Feed n bytes; *used is how many were consumed (all of them unless the
 * end of data was reached). Unstuffed content is appended to out, up to
 * max_size bytes. */
enum smtpd_data_result smtpd_data_feed(struct smtpd_data *d, const char *in, size_t n,
				       size_t *used, struct buf *out);
/* The 5xx reply for the first flag set, or NULL when none is. */
const char *smtpd_data_reply(unsigned flags);

#endif
