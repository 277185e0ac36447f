/* smtpd_int.h - shared by the smtpd module's own files only */
#ifndef PH_SMTPD_INT_H
#define PH_SMTPD_INT_H

#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "smtpd/smtpd.h"
#include "store/store.h"

struct smtpd_session;

struct smtpd_server {
	struct event_base *base;
	struct smtpd_config cfg;
	struct tls_ctx *tls;
	struct store *store;
	struct queue *queue;
	struct smtpd_listener {
		struct smtpd_server *srv;
		struct evconnlistener *l;
		int implicit_tls;
	} listeners[4];
	int nlisteners;
	struct smtpd_session *sessions;
	unsigned nconns;
	struct strmap per_ip;      /* connections per client IP */
	struct throttle auth_fails;
	uint64_t next_id;
	/* trusted networks, reloaded when the store changes */
	struct store_trust trust[256];
	int ntrust;
	int64_t trust_version;
};

struct smtpd_session {
	struct smtpd_server *srv;
	struct smtpd_session *prev, *next;
	struct bufferevent *bev;
	int fd;
	unsigned state;
	char id[24];
	char ip[INET6_ADDRSTRLEN];
	int family;
	unsigned char addr[16];
	int loopback, tls, esmtp, counted;
	char *helo;
	/* identity */
	int authed, trusted;
	int64_t account_id;
	char *auth_user;
	char allowed_domain[256]; /* a sender domain this account may use (checked) */
	/* AUTH exchange */
	int auth_mech;     /* 1 PLAIN, 2 LOGIN */
	char *auth_login_user;
	struct event *auth_timer;
	char auth_fail_reply[128];
	/* transaction */
	struct queue_msg *msg;
	char **rcpts;
	size_t nrcpt, rcpt_cap;
	int mail_utf8;
	struct smtpd_data data;
	int64_t data_start_us;
	int discard_line;
	unsigned errors, nmessages;
	struct event *life_timer;
};

void smtpd_reply(struct smtpd_session *s, const char *fmt, ...) PH_PRINTF(2, 3);
void smtpd_session_start(struct smtpd_server *srv, int fd, const struct sockaddr *sa,
			 int implicit_tls);
void smtpd_session_shutdown(struct smtpd_session *s);
void smtpd_session_force_free(struct smtpd_session *s);
void smtpd_session_authed(struct smtpd_session *s, int64_t account_id, const char *user);
void smtpd_session_resume(struct smtpd_session *s);
int smtpd_session_error(struct smtpd_session *s, const char *reply);
/* 0: ready, 1: inside an AUTH exchange, 2: failure delay running */
void smtpd_session_set_auth_state(struct smtpd_session *s, int waiting);

/* smtpd_server.c */
const char *smtpd_conn_admit(struct smtpd_server *srv, struct smtpd_session *s);
void smtpd_conn_release(struct smtpd_server *srv, struct smtpd_session *s);
void smtpd_trust_check(struct smtpd_server *srv, struct smtpd_session *s);

/* smtpd_auth.c */
int smtpd_auth_offered(const struct smtpd_session *s);
int smtpd_cmd_auth(struct smtpd_session *s, const struct smtpd_cmd *c);
int smtpd_auth_continue(struct smtpd_session *s, const char *line, size_t len);
void smtpd_auth_free(struct smtpd_session *s);

#endif
