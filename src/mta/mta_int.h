/* mta_int.h - shared by the mta module's own files only */
#ifndef PH_MTA_INT_H
#define PH_MTA_INT_H

#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>

#include "dns/dns.h"
#include "domain/domain.h"
#include "mta/mta.h"
#include "mta/mta_pure.h"
#include "queue/queue.h"
#include "store/store.h"

#define MTA_DEST_SLOTS 65536
#define MTA_TRANSCRIPT_MAX (256 * 1024)
#define MTA_FLUSH_MAX 4096 /* attempts per results transaction */

/* What the recipients of one message share. */
struct mta_msg {
	int64_t rowid, account_id, received_ms;
	uint64_t off, len;
	uint32_t seg;
	unsigned refs;
	char public_id[32];
	char *mail_from;
	char *return_domain; /* VERP bounces to bounce.<this>, or NULL */
};

/* One queued recipient: the compact entry (DESIGN.md). */
struct mta_rcpt {
	struct mta_msg *msg;
	struct mta_dest *dest;
	struct mta_rcpt *next; /* ready list */
	char *addr;
	int64_t id;
	int64_t next_ms;
	uint32_t heap_idx; /* UINT32_MAX: not in the retry heap */
	uint16_t attempts;
	uint8_t lost_reply; /* an earlier final reply was lost */
};

struct mta_session;

struct mta_dest {
	struct mta *m;
	char *name;
	const struct mta_route *route;
	struct mta_dest *hnext;
	struct mta_rcpt *ready, **ready_tail;
	size_t nready;
	unsigned nsessions, nconnecting;
	struct mta_session *idle; /* sessions waiting for work */
	int resolving;
	struct dns_mx_result *mx; /* cached answer */
	int64_t mx_expires_ms;
	int skip_tls; /* a TLS handshake failed: the next sessions go without */
	int kicking;  /* inside mta_dest_kick (sessions may fail synchronously) */
};

/* What one attempt said about a recipient. */
struct mta_outcome {
	int code;              /* 0 when no reply (connection, DNS) */
	char enhanced[16];
	char response[1024];   /* verbatim remote text, or our explanation */
	int final_reply_lost;  /* the connection died after the message was sent */
	int dns_status;        /* DNS_* when the outcome came from DNS */
};

/* Connection facts for the events of an attempt. */
struct mta_attempt_info {
	const char *mx_host;
	char remote_ip[INET6_ADDRSTRLEN];
	char local_ip[INET6_ADDRSTRLEN];
	const char *helo_name;
	int tls;
	char tls_version[16], tls_cipher[64], tls_subject[256];
	int tls_verified;
	char remote_queue_id[MTA_QUEUE_ID_MAX];
	int64_t duration_ms;
	const char *route;
	const char *transcript_id;
};

/* A failed recipient waiting for its DSN. */
struct mta_dsn_item {
	struct mta_msg *msg; /* holds a reference */
	char *rcpt;
	const char *action; /* "failed" */
	char status[16];
	char *remote_mta;
	char *diagnostic;
	int64_t at_ms;
};

struct mta {
	struct event_base *base;
	struct mta_config cfg;
	struct store *store;
	struct queue *queue;
	struct dns *dns;
	struct tls_ctx *tls;
	char *data_dir;
	struct mta_dest **dests;
	size_t ndests;
	struct mta_rcpt **heap;
	size_t nheap, heap_cap;
	struct event *retry_timer;
	/* results waiting for the next store transaction */
	struct store_attempt *att;
	size_t natt, att_cap;
	struct store_transcript *tr;
	size_t ntr, tr_cap;
	struct event *flush_ev;
	struct mta_dsn_item *dsn;
	size_t ndsn, dsn_cap;
	struct mta_session *sessions;
	int stopping; /* shutting down: start nothing new */
	struct mta_stats stats;
};

enum mta_sstate {
	MS_CONNECTING, MS_GREETING, MS_EHLO, MS_HELO, MS_STARTTLS, MS_HANDSHAKE,
	MS_IDLE, MS_MAIL, MS_RCPT, MS_DATA, MS_DOT, MS_RSET, MS_QUIT,
};

/* One outbound SMTP connection (mta_session.c). */
struct mta_session {
	struct mta *m;
	struct mta_dest *d;
	struct mta_session *idle_next;
	struct mta_session *all_prev, *all_next; /* every session of the mta */
	int connecting;  /* counted in d->nconnecting */
	int mail_failed; /* the MAIL reply settles every recipient */
	int data_abort;  /* DATA was answered 354 with no recipient accepted */
	struct bufferevent *bev;
	int fd;
	enum mta_sstate state;
	size_t host_i, addr_i; /* the MX host and address being tried */
	struct mta_reply_parser rp;
	int esmtp, pipelining, starttls, smtputf8, eightbit, tls, tls_failed;
	uint64_t size_limit;
	/* the transaction */
	struct mta_rcpt *txn;
	size_t ntxn, rcpt_i, naccepted;
	struct mta_outcome *outs;
	struct buf body;
	int64_t txn_start_us, conn_start_us;
	unsigned ntxns;
	/* evidence */
	struct buf conn_log, txn_log;
	struct mta_attempt_info ai;
	char mx_host[DNS_NAME_MAX];
	struct mta_outcome last_fail;
	struct event *idle_timer;
};

/* mta_sched.c */
void mta_dest_kick(struct mta *m, struct mta_dest *d);
/* Up to max recipients of one message, ready for d; NULL when none. */
struct mta_rcpt *mta_dest_take(struct mta *m, struct mta_dest *d, size_t *n);
void mta_dest_session_gone(struct mta *m, struct mta_dest *d, struct mta_session *s);
void mta_dest_session_idle(struct mta *m, struct mta_dest *d, struct mta_session *s);
/* Every ready recipient of d gets the same outcome (connection or DNS). */
void mta_dest_fail_ready(struct mta *m, struct mta_dest *d, const struct mta_outcome *o,
			 const struct mta_attempt_info *ai, const char *transcript);
/* Record a transcript; returns its public id (valid until the flush). */
const char *mta_transcript_add(struct mta *m, int64_t msg_rowid, const char *text);
/* Settle one recipient after an attempt; takes it out of its txn list. */
void mta_settle(struct mta *m, struct mta_rcpt *r, const struct mta_outcome *o,
		const struct mta_attempt_info *ai);
/* Send DSNs for the recipients settled as failed since the last call. */
void mta_dsn_flush(struct mta *m);

/* mta_session.c */
void mta_session_start(struct mta *m, struct mta_dest *d);
/* Give an idle session a transaction (it takes it from the dest). */
void mta_session_wake(struct mta_session *s);
void mta_session_close(struct mta_session *s);

#endif
