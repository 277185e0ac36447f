/*
 * NAME
 *	throttle - slow down repeated credential failures
 * DESCRIPTION
 *	SMTP AUTH and the dashboard's sign-in share one rule: a failed
 *	attempt's answer is held back THROTTLE_BASE_MS doubled for every
 *	recent failure of the client's IP or of the user name, whichever
 *	is more, up to THROTTLE_MAX_MS. Failures are forgotten after
 *	THROTTLE_FORGET_MS without one, and a success clears them. Keys
 *	come from peers, so the table has a hard size; when it is full of
 *	recent failures a new one goes uncounted (the IP's own entry, made
 *	first, still slows that IP).
 *
 *	Two ways to use it: hold the failure's answer back for the delay
 *	(SMTP AUTH), or answer at once and refuse to hear the next attempt
 *	until the delay has passed (throttle_wait: the dashboard's sign-in).
 */
#include <stdio.h>

#include "lib/lib.h"

void
throttle_init(struct throttle *t, size_t nslots, size_t max)
{
	strmap_init(&t->fails, nslots, max);
}

void
throttle_free(struct throttle *t)
{
	strmap_free(&t->fails);
}

/* The entry of a key's recent failures, or NULL (an old one is forgotten). */
static struct strmap_entry *
recent(struct throttle *t, const char *prefix, const char *key, int64_t now)
{
	char k[320];
	struct strmap_entry *e;

	snprintf(k, sizeof(k), "%s%s", prefix, key);
	if ((e = strmap_get(&t->fails, k, 0)) != NULL && now - e->stamp_ms > THROTTLE_FORGET_MS) {
		strmap_del(&t->fails, k);
		e = NULL;
	}
	return e;
}

static int64_t
fail_count(struct throttle *t, const char *prefix, const char *key, int64_t now)
{
	struct strmap_entry *e = recent(t, prefix, key, now);

	return e ? e->count : 0;
}

static void
fail_note(struct throttle *t, const char *prefix, const char *key, int64_t now)
{
	char k[320];
	struct strmap_entry *e;

	snprintf(k, sizeof(k), "%s%s", prefix, key);
	if ((e = strmap_get(&t->fails, k, 1)) == NULL) {
		/* Full: failures past the forget time make room (their
		 * counts are positive, so strmap_expire would keep them). */
		strmap_forget_before(&t->fails, now - THROTTLE_FORGET_MS);
		if ((e = strmap_get(&t->fails, k, 1)) == NULL)
			return;
	}
	e->count++;
	e->stamp_ms = now;
}

static int64_t
delay_for(int64_t n)
{
	int64_t d = n >= 5 ? THROTTLE_MAX_MS : (int64_t)THROTTLE_BASE_MS << n;

	return d > THROTTLE_MAX_MS ? THROTTLE_MAX_MS : d;
}

/* What is left of one key's delay since its last failure. */
static int64_t
wait_left(struct throttle *t, const char *prefix, const char *key, int64_t now)
{
	struct strmap_entry *e = recent(t, prefix, key, now);
	int64_t left;

	if (e == NULL || e->count <= 0)
		return 0;
	left = delay_for(e->count - 1) - (now - e->stamp_ms);
	return left > 0 ? left : 0;
}

int64_t
throttle_wait(struct throttle *t, const char *ip, const char *user, int64_t now)
{
	int64_t w = wait_left(t, "ip:", ip, now);

	if (user) {
		int64_t wu = wait_left(t, "user:", user, now);

		if (wu > w)
			w = wu;
	}
	return w;
}

int64_t
throttle_failed(struct throttle *t, const char *ip, const char *user, int64_t now,
		int64_t *failures)
{
	int64_t n = fail_count(t, "ip:", ip, now), delay;

	if (user) {
		int64_t nu = fail_count(t, "user:", user, now);

		if (nu > n)
			n = nu;
		fail_note(t, "user:", user, now);
	}
	fail_note(t, "ip:", ip, now);
	delay = delay_for(n);
	if (failures)
		*failures = n + 1;
	return delay;
}

void
throttle_passed(struct throttle *t, const char *ip, const char *user)
{
	char k[320];

	if (user) {
		snprintf(k, sizeof(k), "user:%s", user);
		strmap_del(&t->fails, k);
	}
	snprintf(k, sizeof(k), "ip:%s", ip);
	strmap_del(&t->fails, k);
}
