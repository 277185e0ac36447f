/*
 * NAME
 *	mta - the delivery engine: scheduler, outbound SMTP, outcomes
 * DESCRIPTION
 *	Every committed recipient gets a compact entry (struct mta_rcpt) on
 *	its destination (recipient domain, or a configured route). A
 *	destination resolves its MX set, opens up to dest_concurrency
 *	sessions, and hands each session transactions: the ready recipients
 *	of one message, up to max_rcpts_per_txn. Deferred recipients wait in
 *	a retry heap ordered by their next attempt. Sessions are reused for
 *	the next transaction to the same destination and closed after
 *	idle_reuse_ms without work.
 *
 *	Outcomes (DESIGN.md "Delivery semantics"): 2xx delivered; 4xx,
 *	timeouts and lost connections deferred with backoff (retry schedule,
 *	a sooner first retry for greylisting), expired after max_lifetime;
 *	5xx bounced, classified (mta_pure.h). Bounces and expiries send an
 *	RFC 3464 DSN to the envelope sender (never to <>), itself queued.
 *	Every attempt writes one event per recipient with the evidence
 *	fields, and a transcript.
 */
#ifndef PH_MTA_H
#define PH_MTA_H

#include <stdint.h>

#include <event2/event.h>

#include "lib/lib.h"

#define MTA_RETRY_MAX 16
#define MTA_RETRY_SCHEDULE_DEFAULT "5m,10m,20m,40m,80m,160m,4h"
#define MTA_ROUTES_MAX 64

struct mta_route {
	char *domain; /* "*" for every domain */
	char *host;
	uint16_t port;
};

struct mta_config {
	const char *hostname; /* EHLO name */
	uint16_t mx_port;
	unsigned dest_concurrency;
	unsigned max_rcpts_per_txn;
	int64_t connect_timeout_ms;
	int64_t command_timeout_ms;
	int64_t data_timeout_ms;
	int64_t idle_reuse_ms;
	int64_t retry_ms[MTA_RETRY_MAX];
	unsigned nretry;
	int64_t greylist_retry_ms;
	int64_t max_lifetime_ms;
	const char *tls_ca_file;
	int hold; /* accept and queue, deliver nothing (maintenance, tests) */
	struct mta_route routes[MTA_ROUTES_MAX];
	unsigned nroutes;
};

struct mta;
struct store;
struct queue;
struct dns;

void mta_config_defaults(struct mta_config *c);
/* Parse "60s,5m,15m" into c->retry_ms. */
int mta_config_retry(struct mta_config *c, const char *spec) PH_WUR;
/* Add a route: domain ("*" for all) to "host:port". */
int mta_config_route(struct mta_config *c, const char *domain, const char *hostport) PH_WUR;

struct tls_ctx;
/* tls: the outbound TLS context (made before privileges are dropped, so
 * root-only CA files can be read); the mta frees it. */
struct mta *mta_new(struct event_base *base, const struct mta_config *c, struct store *st,
		    struct queue *q, struct dns *dns, struct tls_ctx *tls);
/* Load every unfinished recipient from the store (at start-up). */
int mta_load(struct mta *m) PH_WUR;
void mta_free(struct mta *m);
/* Operator commands (posthaste queue, the dashboard): "flush" retries
 * deferred recipients now (of one message, or all with public_id NULL);
 * "delete" takes a message's waiting recipients out of the queue, with a
 * "deleted" event. rcpt_id > 0 narrows either to that recipient of the
 * message. Recipients inside a running transaction finish it. Returns
 * how many recipients it acted on. */
size_t mta_command(struct mta *m, const char *cmd, const char *public_id, int64_t rcpt_id);

/* Delivery latency (accepted to delivered) histogram bounds, seconds. */
#define MTA_LATENCY_BUCKETS 10
extern const double mta_latency_bounds[MTA_LATENCY_BUCKETS];

struct mta_stats {
	uint64_t queued;     /* recipients in memory */
	uint64_t attempts, delivered, deferred, bounced, expired, duplicates, dsns;
	uint64_t sessions_open;
	uint64_t latency_le[MTA_LATENCY_BUCKETS]; /* cumulative, Prometheus style */
	uint64_t latency_count;
	double latency_sum_s;
};
void mta_get_stats(struct mta *m, struct mta_stats *out);

#endif
