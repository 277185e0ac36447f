/*
 * NAME
 *	fuzz_spf - libFuzzer target for spf_check_host() and dmarc_parse()
 * DESCRIPTION
 *	The input is the TXT record of "fuzz.example" (up to its first NUL,
 *	as a TXT string would be). The other names answer from a small
 *	fixed zone chosen by the shape of the name, so fuzzed records can
 *	reach every mechanism: includes and redirects back into
 *	fuzz.example (loops end at the lookup limit), A/AAAA answers or
 *	NXDOMAIN, MX lists of 3 and 12 names, PTR lists of 12 names,
 *	temporary failures, two records, and an explanation full of macros.
 *
 *	The record is checked for an IPv4, an IPv6 and an IPv4-mapped
 *	client. Each outcome must be a known result with terminated
 *	strings, a printable non-empty reason, counts within one of their
 *	limits, and a bounded number of DNS queries. The same input is
 *	read as a DMARC record, whose accepted values must be valid.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "spf/spf.h"

#define FUZZ_QUERIES_MAX 400 /* 10 terms x (1 + 10 names) + includes + exp */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_dns {
	const char *record;
	unsigned queries;
};

/* Append an answer; abort on allocation failure (a harness problem). */
static struct spf_rr *
add(struct spf_rr **rrs, size_t *n, enum spf_rrtype type)
{
	struct spf_rr *rr;

	*rrs = realloc(*rrs, (*n + 1) * sizeof(**rrs));
	if (*rrs == NULL)
		abort();
	rr = &(*rrs)[(*n)++];
	memset(rr, 0, sizeof(*rr));
	rr->type = type;
	return rr;
}

/* A TXT answer holding a copy of s. */
static void
add_txt(struct spf_rr **rrs, size_t *n, const char *s)
{
	struct spf_rr *rr = add(rrs, n, SPF_RR_TXT);

	rr->txt = strdup(s);
	if (rr->txt == NULL)
		abort();
}

/* An MX or PTR answer naming name. */
static void
add_name(struct spf_rr **rrs, size_t *n, enum spf_rrtype type, const char *name, int pref)
{
	struct spf_rr *rr = add(rrs, n, type);

	snprintf(rr->name, sizeof(rr->name), "%s", name);
	rr->pref = pref;
}

/* The fixed zone around fuzz.example. */
static enum spf_dns_status
fuzz_lookup(void *arg, const char *name, enum spf_rrtype type, struct spf_rr **rrs, size_t *n)
{
	struct fuzz_dns *f = arg;
	size_t len = strlen(name);
	char buf[64];

	f->queries++;
	*rrs = NULL;
	*n = 0;
	if (len == 0 || len > SPF_DOMAIN_MAX)
		abort(); /* the engine must only ask about names DNS can carry */
	if (strstr(name, "tmp") != NULL)
		return SPF_DNS_TEMPFAIL;
	switch (type) {
	case SPF_RR_TXT:
		if (strcasecmp(name, "fuzz.example") == 0) {
			add_txt(rrs, n, f->record);
			add_txt(rrs, n, "unrelated text record");
		} else if (strcasecmp(name, "inc.example") == 0) {
			add_txt(rrs, n, "v=spf1 ip4:192.0.2.0/24 include:fuzz.example ~all");
		} else if (strcasecmp(name, "redir.example") == 0) {
			add_txt(rrs, n, "v=spf1 a mx redirect=fuzz.example");
		} else if (strcasecmp(name, "two.example") == 0) {
			add_txt(rrs, n, "v=spf1 -all");
			add_txt(rrs, n, "v=spf1 +all");
		} else if (strncasecmp(name, "exp", 3) == 0) {
			add_txt(rrs, n,
			        "%{s} %{l} %{o} %{d} %{i} %{p} %{h} %{v} %{c} %{r} %{t} "
			        "%{ir}.%{v}.%{d2r-} %% %_ %-");
		} else {
			return len % 3 == 0 ? SPF_DNS_NXDOMAIN : SPF_DNS_NODATA;
		}
		return SPF_DNS_OK;
	case SPF_RR_A:
		if (len % 2 == 1)
			return SPF_DNS_NXDOMAIN;
		inet_pton(AF_INET, "192.0.2.1", add(rrs, n, SPF_RR_A)->addr);
		inet_pton(AF_INET, "198.51.100.1", add(rrs, n, SPF_RR_A)->addr);
		return SPF_DNS_OK;
	case SPF_RR_AAAA:
		if (strchr(name, '6') == NULL)
			return SPF_DNS_NODATA;
		inet_pton(AF_INET6, "2001:db8::1", add(rrs, n, SPF_RR_AAAA)->addr);
		return SPF_DNS_OK;
	case SPF_RR_MX:
		if (strstr(name, "many") != NULL) {
			for (int i = 0; i < 12; i++) {
				snprintf(buf, sizeof(buf), "mx%d.fuzz.example", i);
				add_name(rrs, n, SPF_RR_MX, buf, i);
			}
			return SPF_DNS_OK;
		}
		if (strstr(name, "mx") == NULL)
			return SPF_DNS_NODATA;
		add_name(rrs, n, SPF_RR_MX, "mx1.fuzz.example", 10);
		add_name(rrs, n, SPF_RR_MX, ".", 0);
		add_name(rrs, n, SPF_RR_MX, "mx-6.fuzz.example.", 20);
		return SPF_DNS_OK;
	case SPF_RR_PTR:
		for (int i = 0; i < 12; i++) {
			snprintf(buf, sizeof(buf), i % 2 ? "host%d.fuzz.example." : "h%d.example",
			         i);
			add_name(rrs, n, SPF_RR_PTR, buf, 0);
		}
		return SPF_DNS_OK;
	}
	return SPF_DNS_NXDOMAIN;
}

/* The outcome invariants. */
static void
check(const struct spf_outcome *o, const struct fuzz_dns *f)
{
	if (strcmp(spf_result_str(o->result), "?") == 0)
		abort();
	if (memchr(o->record, '\0', sizeof(o->record)) == NULL ||
	    memchr(o->mechanism, '\0', sizeof(o->mechanism)) == NULL ||
	    memchr(o->reason, '\0', sizeof(o->reason)) == NULL || o->reason[0] == '\0')
		abort();
	for (const char *p = o->reason; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			abort();
	if (o->dns_lookups > SPF_DNS_MECH_MAX + 1 || o->void_lookups > SPF_VOID_MAX + 1)
		abort();
	if (o->mechanism[0] != '\0' && o->result != SPF_PASS && o->result != SPF_FAIL &&
	    o->result != SPF_SOFTFAIL && o->result != SPF_NEUTRAL)
		abort();
	if (f->queries > FUZZ_QUERIES_MAX)
		abort();
}

/* An accepted DMARC record holds only valid values. */
static void
check_dmarc(const char *txt)
{
	struct dmarc_record d;
	char why[128];

	if (dmarc_parse(txt, &d, why, sizeof(why)) < 0) {
		if (why[0] == '\0')
			abort();
		return;
	}
	if ((strcmp(d.p, "none") && strcmp(d.p, "quarantine") && strcmp(d.p, "reject")) ||
	    (strcmp(d.sp, "none") && strcmp(d.sp, "quarantine") && strcmp(d.sp, "reject")) ||
	    (d.adkim != 'r' && d.adkim != 's') || (d.aspf != 'r' && d.aspf != 's') || d.pct > 100 ||
	    memchr(d.rua, '\0', sizeof(d.rua)) == NULL)
		abort();
	if (!dmarc_aligned(txt, txt, 'r') && txt[0] != '\0' && strcmp(txt, ".") != 0)
		abort(); /* a name is aligned with itself */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const clients[] = {"192.0.2.1", "2001:db8::1", "::ffff:198.51.100.1"};
	char *rec = malloc(size + 1);

	if (rec == NULL)
		return 0;
	memcpy(rec, data, size);
	rec[size] = '\0';
	for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
		struct fuzz_dns f = {rec, 0};
		struct spf_request req;
		struct spf_outcome out;

		memset(&req, 0, sizeof(req));
		req.family = strchr(clients[i], ':') != NULL ? AF_INET6 : AF_INET;
		if (inet_pton(req.family, clients[i], req.ip) != 1)
			abort();
		req.domain = "fuzz.example";
		req.sender = i == 1 ? "first.last+tag@fuzz.example" : "fuzz.example";
		req.helo = i == 2 ? NULL : "helo.fuzz.example";
		req.receiver = "mx.receiver.example";
		spf_check_host(fuzz_lookup, &f, &req, &out);
		check(&out, &f);
	}
	check_dmarc(rec);
	free(rec);
	return 0;
}
