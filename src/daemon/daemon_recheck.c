/*
 * NAME
 *	daemon_recheck - the periodic re-check of sender domains' DNS
 * DESCRIPTION
 *	A thread of its own (DNS checks block), with its own store handle
 *	and resolver: every domain_recheck_interval, or at once when the API
 *	asks (POST /api/v1/domains/{domain}/verify), it runs domain_check()
 *	for every sender domain and keeps the results with the domain. A
 *	domain whose DKIM keys disappear from DNS stops being verified (and
 *	stops being signed for, and sending) until they are back.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon_int.h"
#include "domain/domain.h"

struct daemon_recheck {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int now, stop;
	int64_t interval_ms;
	char *store_path, *dns, *hostname;
};

static void
recheck_all(struct daemon_recheck *r)
{
	struct store *st = NULL;
	struct dns_sync *dns;
	char err[512];
	int64_t *ids = NULL;
	size_t n = 0;

	if (store_open(r->store_path, &st, err, sizeof(err)) < 0) {
		log_error("domain recheck %s", err);
		return;
	}
	if ((dns = dns_sync_new(r->dns, err, sizeof(err))) == NULL) {
		log_error("domain recheck %s", err);
		store_close(st);
		return;
	}
	if (store_domain_ids(st, &ids, &n) == 0)
		for (size_t i = 0; i < n; i++) {
			struct store_domain d;
			json_t *checks;
			int verified = 0;

			if (store_domain_by_id(st, ids[i], &d) < 0)
				continue;
			checks = domain_check(st, dns, &d, r->hostname, &verified);
			log_info("domain recheck domain=%s verified=%s was=%s", d.domain,
				 verified ? "yes" : "no", d.verified ? "yes" : "no");
			json_decref(checks);
		}
	free(ids);
	dns_sync_free(dns);
	store_close(st);
}

static void *
recheck_main(void *arg)
{
	struct daemon_recheck *r = arg;

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += r->interval_ms / 1000;
		until.tv_nsec += (r->interval_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		while (!r->now && !r->stop)
			if (pthread_cond_timedwait(&r->cv, &r->mu, &until) == ETIMEDOUT)
				break;
		if (r->stop)
			break;
		r->now = 0;
		pthread_mutex_unlock(&r->mu);
		recheck_all(r);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

struct daemon_recheck *
daemon_recheck_start(const char *store_path, const char *dns, const char *hostname,
		     int64_t interval_ms)
{
	struct daemon_recheck *r = xcalloc(1, sizeof(*r));

	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->interval_ms = interval_ms;
	r->store_path = xstrdup(store_path);
	r->dns = dns ? xstrdup(dns) : NULL;
	r->hostname = xstrdup(hostname);
	if (pthread_create(&r->thread, NULL, recheck_main, r) != 0)
		fatal("cannot start the domain re-check thread");
	return r;
}

void
daemon_recheck_now(void *arg)
{
	struct daemon_recheck *r = arg;

	pthread_mutex_lock(&r->mu);
	r->now = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

void
daemon_recheck_stop(struct daemon_recheck *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r->store_path);
	free(r->dns);
	free(r->hostname);
	free(r);
}
