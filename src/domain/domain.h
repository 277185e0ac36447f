/*
 * NAME
 *	domain - sender domains: keys and records to publish, DNS checks
 * DESCRIPTION
 *	See domain.c. Used by "posthaste domain", the API and the daemon's
 *	periodic re-check. domain_check() does blocking DNS: never call it
 *	on the event loop.
 */
#ifndef PH_DOMAIN_H
#define PH_DOMAIN_H

#include <jansson.h>

#include "dns/dns.h"
#include "store/store.h"

#define DOMAIN_BOUNCE_LABEL "bounce" /* the return-path subdomain (VERP) */

int domain_name_ok(const char *d);
/* {"domain","selectors":[..],"records":[{name,type,value,purpose}]} or
 * NULL with err (bad name, already added, key generation). */
json_t *domain_create(struct store *st, int64_t account_id, const char *domain, const char *ips,
		      const char *hostname, char *err, size_t errlen);
/* Key rotation: a new key pair, pending until domain_check() finds it in
 * DNS; then it signs and the old pair is retiring (still published)
 * until domain_retire(). Returns the new DKIM records, or NULL. */
json_t *domain_rotate(struct store *st, const struct store_domain *dom, char *err,
		      size_t errlen);
/* Retiring keys are retired (may leave DNS); the count, or -1. */
int domain_retire(struct store *st, const struct store_domain *dom);
/* [{check, result: pass|fail, detail}], stored with the domain;
 * *verified when every DKIM key is published as generated. */
json_t *domain_check(struct store *st, struct dns_sync *dns, const struct store_domain *dom,
		     const char *hostname, int *verified);

#endif
