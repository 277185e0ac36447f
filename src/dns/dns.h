/*
 * NAME
 *	dns - asynchronous MX resolution on libunbound, inside the loop
 * DESCRIPTION
 *	dns_resolve_mx() finds where mail for a domain goes (RFC 5321 5.1):
 *	the MX set by preference, random among equal preferences, each
 *	host's IPv4 and IPv6 addresses; no MX records → the domain's own
 *	A/AAAA (implicit MX); a null MX (RFC 7505) → DNS_NULL_MX; NXDOMAIN
 *	→ DNS_NXDOMAIN; SERVFAIL, a timeout or any other failure →
 *	DNS_TEMPFAIL. libunbound caches answers; it has no timeout of its
 *	own, so every lookup carries ours (DNS_TIMEOUT_MS).
 *
 *	The result carries the answers as text, for the transcript: the
 *	evidence starts with the DNS answers that chose the host.
 */
#ifndef PH_DNS_H
#define PH_DNS_H

#include <stdint.h>

#include <event2/event.h>

#include "lib/lib.h"

#define DNS_TIMEOUT_MS 10000
#define DNS_MX_MAX 16      /* MX hosts kept per domain */
#define DNS_ADDRS_MAX 8    /* addresses kept per host */
#define DNS_NAME_MAX 256
#define DNS_ANSWERS_MAX 8192

enum dns_status { DNS_OK, DNS_NXDOMAIN, DNS_NULL_MX, DNS_NO_ADDRESS, DNS_TEMPFAIL };
const char *dns_status_str(enum dns_status s);

struct dns_addr {
	int family; /* AF_INET, AF_INET6 */
	unsigned char addr[16];
};

struct dns_host {
	char name[DNS_NAME_MAX];
	int pref;
	size_t naddr;
	struct dns_addr addrs[DNS_ADDRS_MAX];
};

struct dns_mx_result {
	enum dns_status status;
	char why[DNS_NAME_MAX + 160];
	int implicit;   /* no MX: the domain itself (RFC 5321 5.1) */
	uint32_t ttl;   /* smallest TTL seen */
	size_t nhosts;
	struct dns_host hosts[DNS_MX_MAX];
	struct buf answers; /* one line per answer, for transcripts */
};

struct dns;
typedef void (*dns_mx_fn)(void *arg, struct dns_mx_result *r);

/* forward: "ADDR@PORT" to send every query there, or NULL for the
 * system's resolv.conf. */
struct dns *dns_new(struct event_base *base, const char *forward, char *err, size_t errlen);
void dns_free(struct dns *d);
/* The callback runs later (never inside this call); r is freed after. */
void dns_resolve_mx(struct dns *d, const char *domain, dns_mx_fn cb, void *arg);
/* Resolve a host's addresses only (routes to host:port). */
void dns_resolve_host(struct dns *d, const char *host, dns_mx_fn cb, void *arg);
/* Sort hosts by preference, shuffling equal ones (exported for tests). */
void dns_order_hosts(struct dns_host *h, size_t n);

/* --- synchronous lookups, for the command line (domain verify) -------- */
enum dns_rcode { DNS_ANSWER, DNS_NAME_ERROR, DNS_NO_DATA, DNS_SERVER_FAIL };
struct dns_rrset {
	enum dns_rcode rcode;
	size_t n;
	unsigned char **rdata; /* n entries, each malloc'd */
	size_t *len;
	uint32_t ttl;
	int secure;
};
struct dns_sync;
struct dns_sync *dns_sync_new(const char *forward, char *err, size_t errlen);
int dns_sync_query(struct dns_sync *d, const char *name, int rrtype, struct dns_rrset *out);
void dns_rrset_free(struct dns_rrset *r);
void dns_sync_free(struct dns_sync *d);
/* Wire-format name (as libunbound gives rdata) to text; -1 if malformed. */
int dns_wire_name(const unsigned char *p, size_t n, char *out, size_t outlen);

#endif
