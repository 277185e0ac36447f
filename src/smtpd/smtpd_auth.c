/*
 * NAME
 *	smtpd_auth - AUTH PLAIN and LOGIN (RFC 4954, 4616)
 * DESCRIPTION
 *	Offered only over TLS, or on loopback when smtp_auth_plaintext_
 *	loopback is set. Passwords are checked against yescrypt hashes in
 *	the store and wiped from memory after use; transcripts and logs
 *	never see them.
 *
 *	Failures slow down: the 535 reply is held back as lib's throttle
 *	says (250 ms doubled per recent failure of the client's IP or of
 *	the username, up to 8 s; forgotten after 15 minutes or a success).
 */
#include <string.h>
#include <strings.h>

#include <event2/bufferevent.h>

#include "smtpd/smtpd_int.h"

enum { MECH_PLAIN = 1, MECH_LOGIN = 2 };

int
smtpd_auth_offered(const struct smtpd_session *s)
{
	return s->tls || (s->loopback && s->srv->cfg.auth_plaintext_loopback);
}

void
smtpd_auth_free(struct smtpd_session *s)
{
	if (s->auth_timer) {
		event_free(s->auth_timer);
		s->auth_timer = NULL;
	}
	if (s->auth_login_user) {
		explicit_bzero(s->auth_login_user, strlen(s->auth_login_user));
		free(s->auth_login_user);
		s->auth_login_user = NULL;
	}
}

static void
auth_delay_done(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_session *s = arg;

	smtpd_reply(s, "%s", s->auth_fail_reply);
	smtpd_session_resume(s);
	/* The reply may be the one that passes the error limit. */
	s->errors++;
	if (s->errors >= (s->srv->cfg.max_errors + 1) / 2)
		smtpd_session_error(s, "421 4.7.0 Too many errors, closing connection");
}

/* A failed attempt: hold the 535 back as long as the failures say. */
static void
auth_failed(struct smtpd_session *s, const char *user, const char *reply)
{
	int64_t n, delay;
	struct timeval tv;

	delay = throttle_failed(&s->srv->auth_fails, s->ip, user, time_now_ms(), &n);
	log_info("smtpd %s auth failed ip=%s user=\"%s\" failures=%lld delay_ms=%lld", s->id, s->ip,
		 user ? user : "", (long long)n, (long long)delay);
	snprintf(s->auth_fail_reply, sizeof(s->auth_fail_reply), "%s", reply);
	if (s->auth_timer == NULL)
		s->auth_timer = evtimer_new(s->srv->base, auth_delay_done, s);
	tv.tv_sec = (time_t)(delay / 1000);
	tv.tv_usec = (suseconds_t)(delay % 1000) * 1000;
	smtpd_session_set_auth_state(s, 2);
	evtimer_add(s->auth_timer, &tv);
}

/* Check user/password; reply and set the session's state. */
static void
auth_check(struct smtpd_session *s, const char *user, char *password)
{
	int64_t account_id;
	int ok;

	if (*user == '\0' || strlen(user) > 255) {
		explicit_bzero(password, strlen(password));
		auth_failed(s, NULL, "535 5.7.8 Authentication credentials invalid");
		return;
	}
	ok = store_auth_smtp(s->srv->store, user, password, &account_id) == 0;
	explicit_bzero(password, strlen(password));
	if (!ok) {
		auth_failed(s, user, "535 5.7.8 Authentication credentials invalid");
		return;
	}
	throttle_passed(&s->srv->auth_fails, s->ip, user);
	smtpd_session_authed(s, account_id, user);
	log_info("smtpd %s auth ok ip=%s user=\"%s\" account=%lld", s->id, s->ip, user,
		 (long long)account_id);
	smtpd_reply(s, "235 2.7.0 Authentication successful");
}

/* Decode one base64 line of an AUTH exchange; -1 when malformed. */
static int
auth_decode(const char *in, size_t n, char *out, size_t outsize, size_t *outlen)
{
	return base64_decode(in, n, (unsigned char *)out, outsize, outlen);
}

/* RFC 4616: [authzid] NUL authcid NUL passwd */
static void
auth_plain(struct smtpd_session *s, const char *b64, size_t n)
{
	char dec[1024], *authz, *user, *pass;
	size_t len;

	if (auth_decode(b64, n, dec, sizeof(dec), &len) < 0) {
		smtpd_session_set_auth_state(s, 0);
		smtpd_session_error(s, "501 5.5.2 Cannot decode the AUTH PLAIN response");
		return;
	}
	authz = dec;
	user = memchr(dec, '\0', len);
	pass = user ? memchr(user + 1, '\0', len - (size_t)(user + 1 - dec)) : NULL;
	if (user == NULL || pass == NULL) {
		explicit_bzero(dec, sizeof(dec));
		smtpd_session_set_auth_state(s, 0);
		smtpd_session_error(s, "501 5.5.2 Malformed AUTH PLAIN response");
		return;
	}
	user++;
	pass++;
	if (*authz && strcmp(authz, user) != 0) {
		explicit_bzero(dec, sizeof(dec));
		auth_failed(s, user, "535 5.7.8 Authorization identity not allowed");
		return;
	}
	smtpd_session_set_auth_state(s, 0);
	auth_check(s, user, pass);
	explicit_bzero(dec, sizeof(dec));
}

int
smtpd_cmd_auth(struct smtpd_session *s, const struct smtpd_cmd *c)
{
	const char *sp;
	size_t ml;

	if (!smtpd_auth_offered(s))
		return smtpd_session_error(
			s, "538 5.7.11 Encryption required for requested authentication mechanism");
	if (s->authed && !s->trusted)
		return smtpd_session_error(s, "503 5.5.1 Error: already authenticated");
	sp = memchr(c->arg, ' ', c->arg_len);
	ml = sp ? (size_t)(sp - c->arg) : c->arg_len;
	if (ml == 5 && strncasecmp(c->arg, "PLAIN", 5) == 0) {
		s->auth_mech = MECH_PLAIN;
		if (sp) {
			const char *ir = sp + 1;
			size_t irl = c->arg_len - ml - 1;

			if (irl == 1 && ir[0] == '=') /* RFC 4954 4: empty initial response */
				irl = 0;
			auth_plain(s, ir, irl);
			return 0;
		}
		smtpd_session_set_auth_state(s, 1);
		smtpd_reply(s, "334 ");
		return 0;
	}
	if (ml == 5 && strncasecmp(c->arg, "LOGIN", 5) == 0) {
		s->auth_mech = MECH_LOGIN;
		smtpd_session_set_auth_state(s, 1);
		if (sp) {
			char dec[512];
			size_t len;

			if (auth_decode(sp + 1, c->arg_len - ml - 1, dec, sizeof(dec), &len) < 0 ||
			    memchr(dec, '\0', len)) {
				smtpd_session_set_auth_state(s, 0);
				return smtpd_session_error(s, "501 5.5.2 Cannot decode the username");
			}
			s->auth_login_user = xstrdup(dec);
			smtpd_reply(s, "334 UGFzc3dvcmQ6"); /* "Password:" */
			return 0;
		}
		smtpd_reply(s, "334 VXNlcm5hbWU6"); /* "Username:" */
		return 0;
	}
	return smtpd_session_error(s, "504 5.5.4 Unrecognized authentication type");
}

/* A line inside an AUTH exchange. */
int
smtpd_auth_continue(struct smtpd_session *s, const char *line, size_t len)
{
	char dec[512];
	size_t dl;

	if (len == 1 && line[0] == '*') { /* RFC 4954 4: the client cancels */
		smtpd_auth_free(s);
		smtpd_session_set_auth_state(s, 0);
		return smtpd_session_error(s, "501 5.0.0 Authentication aborted");
	}
	if (s->auth_mech == MECH_PLAIN) {
		auth_plain(s, line, len);
		return 0;
	}
	if (auth_decode(line, len, dec, sizeof(dec), &dl) < 0 || memchr(dec, '\0', dl)) {
		smtpd_auth_free(s);
		smtpd_session_set_auth_state(s, 0);
		return smtpd_session_error(s, "501 5.5.2 Cannot decode the AUTH LOGIN response");
	}
	if (s->auth_login_user == NULL) {
		s->auth_login_user = xstrdup(dec);
		smtpd_reply(s, "334 UGFzc3dvcmQ6");
		return 0;
	}
	smtpd_session_set_auth_state(s, 0);
	{
		char *user = s->auth_login_user;

		s->auth_login_user = NULL;
		auth_check(s, user, dec);
		free(user);
	}
	explicit_bzero(dec, sizeof(dec));
	return 0;
}
