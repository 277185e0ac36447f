/*
 * NAME
 *	spf - Sender Policy Framework evaluation (RFC 7208) and DMARC
 *	record reading (RFC 7489), over a DNS callback
 * DESCRIPTION
 *	spf_check_host() is RFC 7208 section 4's check_host(): it fetches
 *	the domain's SPF record through the caller's lookup function and
 *	evaluates it for one IP address: mechanisms all, include, a, mx,
 *	ptr (evaluated, discouraged), ip4, ip6, exists; modifiers redirect
 *	and exp (exp text is reported, not fetched at evaluation cost);
 *	macros (section 7) in domain-spec; the limits of section 4.6.4: at
 *	most SPF_DNS_MECH_MAX mechanisms/modifiers that query DNS, at most
 *	SPF_VOID_MAX void lookups, at most SPF_MX_A_MAX address lookups per
 *	mx and SPF_PTR_MAX names per ptr; several "v=spf1" records → permerror;
 *	syntax errors → permerror; DNS errors → temperror.
 *
 *	The result explains itself: which mechanism matched (or why none
 *	did), and a reason a customer can act on.
 */
#ifndef PH_SPF_H
#define PH_SPF_H

#include <stddef.h>
#include <stdint.h>

#define SPF_DNS_MECH_MAX 10 /* RFC 7208 4.6.4 */
#define SPF_VOID_MAX 2
#define SPF_MX_A_MAX 10
#define SPF_PTR_MAX 10
#define SPF_RECORD_MAX 4096
#define SPF_DOMAIN_MAX 253

enum spf_result {
	SPF_NONE, SPF_NEUTRAL, SPF_PASS, SPF_FAIL, SPF_SOFTFAIL, SPF_TEMPERROR, SPF_PERMERROR
};
const char *spf_result_str(enum spf_result r); /* "none", "neutral", "pass", ... */

/* DNS answers handed back by the caller's lookup function. */
enum spf_dns_status { SPF_DNS_OK, SPF_DNS_NXDOMAIN, SPF_DNS_NODATA, SPF_DNS_TEMPFAIL };
enum spf_rrtype { SPF_RR_A = 1, SPF_RR_MX = 15, SPF_RR_TXT = 16, SPF_RR_AAAA = 28, SPF_RR_PTR = 12 };

struct spf_rr {
	enum spf_rrtype type;
	unsigned char addr[16]; /* A (4 bytes used), AAAA */
	int pref;               /* MX */
	char name[SPF_DOMAIN_MAX + 2]; /* MX exchange, PTR target */
	char *txt;              /* TXT: the strings joined (the callee allocates with malloc) */
};

/* Look up name/type; fill *rrs (malloc'd array, each txt malloc'd) and
 * *n. The engine frees them with spf_rrs_free(). */
typedef enum spf_dns_status (*spf_lookup_fn)(void *arg, const char *name, enum spf_rrtype type,
					     struct spf_rr **rrs, size_t *n);
void spf_rrs_free(struct spf_rr *rrs, size_t n);

struct spf_request {
	int family;             /* AF_INET or AF_INET6 */
	unsigned char ip[16];
	const char *domain;     /* the domain whose policy is checked */
	const char *sender;     /* MAIL FROM (local@domain); for macros */
	const char *helo;       /* for %{h} */
	const char *receiver;   /* for %{r}, may be NULL */
};

struct spf_outcome {
	enum spf_result result;
	char record[SPF_RECORD_MAX + 1]; /* the top-level record, "" when none */
	char mechanism[256];    /* the mechanism that matched, or "" */
	char reason[512];       /* for a person: why this result */
	unsigned dns_lookups;   /* counted against SPF_DNS_MECH_MAX */
	unsigned void_lookups;
};

void spf_check_host(spf_lookup_fn lookup, void *arg, const struct spf_request *req,
		    struct spf_outcome *out);

/* DMARC (RFC 7489 6.3): parse a "v=DMARC1; p=...; ..." record. */
struct dmarc_record {
	char p[16], sp[16];  /* none, quarantine, reject */
	char adkim, aspf;    /* 'r' or 's' */
	unsigned pct;
	char rua[512];
};
/* 0 and the record; -1 with a reason when it is not a valid DMARC record. */
int dmarc_parse(const char *txt, struct dmarc_record *out, char *why, size_t whylen);
/* Organizational-domain-free alignment (relaxed: same domain or a
 * subdomain either way; strict: equal, case-insensitive). */
int dmarc_aligned(const char *a, const char *b, char mode);

#endif
