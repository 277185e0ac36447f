/*
 * NAME
 *	test_spf - unit tests for spf_check_host(), dmarc_parse() and
 *	dmarc_aligned()
 * DESCRIPTION
 *	An in-memory DNS (a table of name/type -> data, names marked
 *	NXDOMAIN or TEMPFAIL, and per-row TXT overrides) stands behind the
 *	lookup callback. The rows come first from RFC 7208 itself:
 *	Appendix A's zone and the results it gives for A.1 (simple
 *	examples), A.2 (include and redirect), A.3 (DNSBL-style exists)
 *	and A.4 (-include and De Morgan), and the macro table of 7.4.
 *	Then record selection (4.5), each mechanism and modifier, the
 *	include table of 5.2, the limits of 4.6.4 at N-1, N and N+1,
 *	syntax errors (4.6, 7.1), explanations (6.2) and the reasons.
 *
 *	A row's record is the TXT of its domain; counts "L/V" are the DNS
 *	lookups and void lookups expected. example.net's A.2 record is
 *	not in the RFC; it is "v=spf1 ip4:198.51.100.0/24 -all" here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "lib/lib.h"
#include "spf/spf.h"

/* --- the fake DNS ------------------------------------------------------- */

#define ANY 0 /* a marker row: "!NXDOMAIN" or "!TEMPFAIL" for every type */
#define FAKE_LOG_MAX 256
#define FAKE_OVER_MAX 3

struct zrr {
	const char *name;
	int type;
	const char *value; /* A/AAAA address, "pref name" for MX, name for PTR, TXT text */
};

static const struct zrr zone[] = {
	/* RFC 7208 Appendix A */
	{"example.com", SPF_RR_MX, "10 mail-a.example.com"},
	{"example.com", SPF_RR_MX, "20 mail-b.example.com"},
	{"example.com", SPF_RR_A, "192.0.2.10"},
	{"example.com", SPF_RR_A, "192.0.2.11"},
	{"example.com", SPF_RR_TXT, "v=spf1 mx -all"},
	{"amy.example.com", SPF_RR_A, "192.0.2.65"},
	{"bob.example.com", SPF_RR_A, "192.0.2.66"},
	{"mail-a.example.com", SPF_RR_A, "192.0.2.129"},
	{"mail-b.example.com", SPF_RR_A, "192.0.2.130"},
	{"www.example.com", SPF_RR_A, "192.0.2.10"}, /* CNAME example.com */
	{"www.example.com", SPF_RR_A, "192.0.2.11"},
	{"mail-c.example.org", SPF_RR_A, "192.0.2.140"},
	{"example.org", SPF_RR_MX, "10 mail-c.example.org"},
	{"10.2.0.192.in-addr.arpa", SPF_RR_PTR, "example.com."},
	{"11.2.0.192.in-addr.arpa", SPF_RR_PTR, "example.com."},
	{"65.2.0.192.in-addr.arpa", SPF_RR_PTR, "amy.example.com."},
	{"66.2.0.192.in-addr.arpa", SPF_RR_PTR, "bob.example.com."},
	{"129.2.0.192.in-addr.arpa", SPF_RR_PTR, "mail-a.example.com."},
	{"130.2.0.192.in-addr.arpa", SPF_RR_PTR, "mail-b.example.com."},
	{"140.2.0.192.in-addr.arpa", SPF_RR_PTR, "mail-c.example.org."},
	{"4.0.0.10.in-addr.arpa", SPF_RR_PTR, "bob.example.com."},
	/* A.2 */
	{"example.org", SPF_RR_TXT, "v=spf1 include:example.com include:example.net -all"},
	{"la.example.org", SPF_RR_TXT, "v=spf1 redirect=example.org"},
	{"ny.example.org", SPF_RR_TXT, "v=spf1 redirect=example.org"},
	{"sf.example.org", SPF_RR_TXT, "v=spf1 redirect=example.org"},
	{"example.net", SPF_RR_TXT, "v=spf1 ip4:198.51.100.0/24 -all"},
	/* A.3 */
	{"mobile-users._spf.example.com", SPF_RR_TXT, "v=spf1 exists:%{l1r+}.%{d}"},
	{"remote-users._spf.example.com", SPF_RR_TXT, "v=spf1 exists:%{ir}.%{l1r+}.%{d}"},
	{"mary.mobile-users._spf.example.com", SPF_RR_A, "127.0.0.2"},
	{"fred.mobile-users._spf.example.com", SPF_RR_A, "127.0.0.2"},
	{"15.15.168.192.joel.remote-users._spf.example.com", SPF_RR_A, "127.0.0.2"},
	{"16.15.168.192.joel.remote-users._spf.example.com", SPF_RR_A, "127.0.0.2"},
	/* A.4 */
	{"ip4._spf.example.com", SPF_RR_TXT, "v=spf1 -ip4:192.0.2.0/24 +all"},
	{"ptr._spf.example.com", SPF_RR_TXT, "v=spf1 -ptr +all"},

	/* our own: hosts for the lookup limits */
	{"h1.t.example", SPF_RR_A, "203.0.113.1"},
	{"h2.t.example", SPF_RR_A, "203.0.113.2"},
	{"h3.t.example", SPF_RR_A, "203.0.113.3"},
	{"h4.t.example", SPF_RR_A, "203.0.113.4"},
	{"h5.t.example", SPF_RR_A, "203.0.113.5"},
	{"h6.t.example", SPF_RR_A, "203.0.113.6"},
	{"h7.t.example", SPF_RR_A, "203.0.113.7"},
	{"h8.t.example", SPF_RR_A, "203.0.113.8"},
	{"h9.t.example", SPF_RR_A, "203.0.113.9"},
	{"h10.t.example", SPF_RR_A, "203.0.113.10"},
	{"h11.t.example", SPF_RR_A, "203.0.113.11"},
	{"loopa.t.example", SPF_RR_TXT, "v=spf1 include:loopb.t.example -all"},
	{"loopb.t.example", SPF_RR_TXT, "v=spf1 include:loopa.t.example -all"},
	{"rloop.t.example", SPF_RR_TXT, "v=spf1 redirect=rloop.t.example"},
	/* include targets */
	{"inc-pass.t.example", SPF_RR_TXT, "v=spf1 +all"},
	{"inc-fail.t.example", SPF_RR_TXT, "v=spf1 -all"},
	{"inc-soft.t.example", SPF_RR_TXT, "v=spf1 ~all"},
	{"inc-neutral.t.example", SPF_RR_TXT, "v=spf1 ?all"},
	{"inc-perm.t.example", SPF_RR_TXT, "v=spf1 moo"},
	{"inc-two.t.example", SPF_RR_TXT, "v=spf1 +all"},
	{"inc-two.t.example", SPF_RR_TXT, "v=spf1 -all"},
	{"inc-exp.t.example", SPF_RR_TXT, "v=spf1 -all exp=explain.t.example"},
	{"nospf.t.example", SPF_RR_A, "192.0.2.50"},
	{"nospf.t.example", SPF_RR_TXT, "google-site-verification=abc123"},
	{"tf.t.example", ANY, "!TEMPFAIL"},
	/* addresses */
	{"dual.t.example", SPF_RR_A, "192.0.2.200"},
	{"dual.t.example", SPF_RR_AAAA, "2001:db8:1234::dead:beef"},
	{"dualmx.t.example", SPF_RR_MX, "10 dual.t.example"},
	{"v6.t.example", SPF_RR_A, "192.0.2.25"},
	{"v6.t.example", SPF_RR_AAAA, "2001:db8::25"},
	{"foo:bar/baz.t.example", SPF_RR_A, "192.0.2.1"},
	{"many.t.example", SPF_RR_A, "198.51.100.1"},
	{"many.t.example", SPF_RR_A, "198.51.100.2"},
	{"many.t.example", SPF_RR_A, "198.51.100.3"},
	{"many.t.example", SPF_RR_A, "198.51.100.4"},
	{"many.t.example", SPF_RR_A, "198.51.100.5"},
	{"many.t.example", SPF_RR_A, "198.51.100.6"},
	{"many.t.example", SPF_RR_A, "198.51.100.7"},
	{"many.t.example", SPF_RR_A, "198.51.100.8"},
	{"many.t.example", SPF_RR_A, "198.51.100.9"},
	{"many.t.example", SPF_RR_A, "198.51.100.10"},
	{"many.t.example", SPF_RR_A, "198.51.100.11"},
	{"many.t.example", SPF_RR_A, "198.51.100.12"},
	{"192.0.2.3.bl.t.example", SPF_RR_A, "127.0.0.2"},
	{"macro%percent  space%20url-space.t.example", SPF_RR_A, "192.0.2.1"},
	/* mx */
	{"nullmx.t.example", SPF_RR_MX, "0 ."},
	{"nomx.t.example", SPF_RR_A, "192.0.2.1"},
	{"mxtf.t.example", SPF_RR_MX, "10 tf.t.example"},
	{"mx10.t.example", SPF_RR_MX, "1 h1.t.example"},
	{"mx10.t.example", SPF_RR_MX, "2 h2.t.example"},
	{"mx10.t.example", SPF_RR_MX, "3 h3.t.example"},
	{"mx10.t.example", SPF_RR_MX, "4 h4.t.example"},
	{"mx10.t.example", SPF_RR_MX, "5 h5.t.example"},
	{"mx10.t.example", SPF_RR_MX, "6 h6.t.example"},
	{"mx10.t.example", SPF_RR_MX, "7 h7.t.example"},
	{"mx10.t.example", SPF_RR_MX, "8 h8.t.example"},
	{"mx10.t.example", SPF_RR_MX, "9 h9.t.example"},
	{"mx10.t.example", SPF_RR_MX, "10 h10.t.example"},
	{"mx11.t.example", SPF_RR_MX, "1 h1.t.example"},
	{"mx11.t.example", SPF_RR_MX, "2 h2.t.example"},
	{"mx11.t.example", SPF_RR_MX, "3 h3.t.example"},
	{"mx11.t.example", SPF_RR_MX, "4 h4.t.example"},
	{"mx11.t.example", SPF_RR_MX, "5 h5.t.example"},
	{"mx11.t.example", SPF_RR_MX, "6 h6.t.example"},
	{"mx11.t.example", SPF_RR_MX, "7 h7.t.example"},
	{"mx11.t.example", SPF_RR_MX, "8 h8.t.example"},
	{"mx11.t.example", SPF_RR_MX, "9 h9.t.example"},
	{"mx11.t.example", SPF_RR_MX, "10 h10.t.example"},
	{"mx11.t.example", SPF_RR_MX, "11 h11.t.example"},
	/* ptr: eleven names, only the last of which would validate */
	{"77.2.0.192.in-addr.arpa", SPF_RR_PTR, "p1.t.example"},
	{"77.2.0.192.in-addr.arpa", SPF_RR_PTR, "p2.t.example"},
	{"77.2.0.192.in-addr.arpa", SPF_RR_PTR, "p3.t.example"},
	{"77.2.0.192.in-addr.arpa", SPF_RR_PTR, "p4.t.example"},
	{"77.2.0.192.in-addr.arpa", SPF_RR_PTR, "p5.t.example"},
	{"77.2.0.192.in-addr.arpa", SPF_RR_PTR, "p6.t.example"},
	{"77.2.0.192.in-addr.arpa", SPF_RR_PTR, "p7.t.example"},
	{"77.2.0.192.in-addr.arpa", SPF_RR_PTR, "p8.t.example"},
	{"77.2.0.192.in-addr.arpa", SPF_RR_PTR, "p9.t.example"},
	{"77.2.0.192.in-addr.arpa", SPF_RR_PTR, "p10.t.example"},
	{"77.2.0.192.in-addr.arpa", SPF_RR_PTR, "good77.t.example"},
	{"good77.t.example", SPF_RR_A, "192.0.2.77"},
	{"78.2.0.192.in-addr.arpa", SPF_RR_PTR, "good78.t.example."},
	{"good78.t.example", SPF_RR_A, "192.0.2.78"},
	{"79.2.0.192.in-addr.arpa", ANY, "!TEMPFAIL"},
	{"1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", SPF_RR_PTR,
	 "v6host.t.example"},
	{"v6host.t.example", SPF_RR_AAAA, "2001:db8::cb01"},
	/* explanations */
	{"explain.t.example", SPF_RR_TXT, "%{i} is not one of %{d}'s designated mail servers."},
	{"explain-crt.t.example", SPF_RR_TXT, "%{c} via %{r} at %{t}"},
	{"explain-two.t.example", SPF_RR_TXT, "one"},
	{"explain-two.t.example", SPF_RR_TXT, "two"},
	{"explain-bad.t.example", SPF_RR_TXT, "The %{x}-files."},
};

struct fake {
	const char *over[FAKE_OVER_MAX][2]; /* name -> TXT records split on '\n' */
	unsigned queries;
	char last_a[1024]; /* the name of the last A query */
	char log[FAKE_LOG_MAX][300];
};

/* Names equal, case-insensitive, a trailing dot on either ignored. */
static int
same_name(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	if (na > 0 && a[na - 1] == '.')
		na--;
	if (nb > 0 && b[nb - 1] == '.')
		nb--;
	return na == nb && strncasecmp(a, b, na) == 0;
}

/* An MX or PTR target, which must fit. */
static void
set_name(struct spf_rr *rr, const char *name)
{
	size_t n = strlen(name);

	assert_true(n < sizeof(rr->name));
	memcpy(rr->name, name, n + 1);
}

/* Append one answer for name/type to the growing array. */
static void
add_rr(struct spf_rr **rrs, size_t *n, enum spf_rrtype type, const char *value, size_t vlen)
{
	struct spf_rr *rr;
	char tmp[1024];

	assert_true(vlen < sizeof(tmp));
	memcpy(tmp, value, vlen);
	tmp[vlen] = '\0';
	*rrs = realloc(*rrs, (*n + 1) * sizeof(**rrs));
	assert_non_null(*rrs);
	rr = &(*rrs)[(*n)++];
	memset(rr, 0, sizeof(*rr));
	rr->type = type;
	switch (type) {
	case SPF_RR_A:
		assert_int_equal(inet_pton(AF_INET, tmp, rr->addr), 1);
		break;
	case SPF_RR_AAAA:
		assert_int_equal(inet_pton(AF_INET6, tmp, rr->addr), 1);
		break;
	case SPF_RR_MX: {
		char *sp = strchr(tmp, ' ');

		assert_non_null(sp);
		*sp = '\0';
		rr->pref = (int)strtol(tmp, NULL, 10);
		set_name(rr, sp + 1);
		break;
	}
	case SPF_RR_PTR:
		set_name(rr, tmp);
		break;
	case SPF_RR_TXT:
		rr->txt = strdup(tmp);
		assert_non_null(rr->txt);
		break;
	}
}

/* The lookup callback: overrides, then the zone. */
static enum spf_dns_status
fake_lookup(void *arg, const char *name, enum spf_rrtype type, struct spf_rr **rrs, size_t *n)
{
	struct fake *f = arg;
	int exists = 0;

	if (f->queries < FAKE_LOG_MAX)
		snprintf(f->log[f->queries], sizeof(f->log[0]), "%d %s", (int)type, name);
	f->queries++;
	if (type == SPF_RR_A)
		snprintf(f->last_a, sizeof(f->last_a), "%s", name);
	*rrs = NULL;
	*n = 0;
	for (size_t i = 0; i < PH_ARRAY_LEN(zone); i++) {
		if (!same_name(zone[i].name, name))
			continue;
		if (zone[i].type == ANY)
			return strcmp(zone[i].value, "!TEMPFAIL") == 0 ? SPF_DNS_TEMPFAIL
								      : SPF_DNS_NXDOMAIN;
	}
	for (size_t o = 0; o < FAKE_OVER_MAX; o++) {
		const char *v = f->over[o][1];

		if (f->over[o][0] == NULL || !same_name(f->over[o][0], name))
			continue;
		if (strcmp(v, "!TEMPFAIL") == 0)
			return SPF_DNS_TEMPFAIL;
		if (strcmp(v, "!NXDOMAIN") == 0)
			return SPF_DNS_NXDOMAIN;
		exists = 1;
		if (type != SPF_RR_TXT)
			continue;
		for (;;) {
			const char *nl = strchr(v, '\n');
			size_t len = nl != NULL ? (size_t)(nl - v) : strlen(v);

			add_rr(rrs, n, type, v, len);
			if (nl == NULL)
				break;
			v = nl + 1;
		}
		return SPF_DNS_OK;
	}
	for (size_t i = 0; i < PH_ARRAY_LEN(zone); i++) {
		if (!same_name(zone[i].name, name))
			continue;
		exists = 1;
		if (zone[i].type == (int)type)
			add_rr(rrs, n, type, zone[i].value, strlen(zone[i].value));
	}
	if (*n > 0)
		return SPF_DNS_OK;
	return exists ? SPF_DNS_NODATA : SPF_DNS_NXDOMAIN;
}

/* --- running rows ------------------------------------------------------- */

struct row {
	const char *name; /* RFC section or what the row shows */
	const char *ip;
	const char *domain;
	const char *txt; /* the domain's TXT records ('\n' between), NULL: the zone's */
	enum spf_result want;
	const char *mech;   /* the matched mechanism, NULL: not checked */
	const char *counts; /* "lookups/voids", NULL: not checked */
	const char *sender; /* NULL: user@domain */
	const char *helo;
	const char *reason;		/* a substring of the reason */
	const char *notin;		/* not a substring of the reason */
	const char *over_name, *over_txt; /* another name's TXT */
};

static const char *const E_COM = "example.com";

/* A row: name, client, domain, record, result, then .field = value. */
#define R(n, i, d, t, w, ...)                                                              \
	{                                                                                   \
		.name = (n), .ip = (i), .domain = (d), .txt = (t), .want = (w), __VA_ARGS__ \
	}
#define D "d.t.example"

/* Fill a request's address from text. */
static void
set_ip(struct spf_request *req, const char *ip)
{
	if (strchr(ip, ':') != NULL) {
		req->family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, req->ip), 1);
	} else {
		req->family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, req->ip), 1);
	}
}

/* Evaluate one row against the fake DNS. */
static void
run(const struct row *r, struct fake *f, struct spf_outcome *out)
{
	struct spf_request req;
	char sender[512];

	memset(&req, 0, sizeof(req));
	set_ip(&req, r->ip);
	f->over[0][0] = r->txt != NULL ? r->domain : NULL;
	f->over[0][1] = r->txt;
	f->over[1][0] = r->over_name;
	f->over[1][1] = r->over_txt;
	snprintf(sender, sizeof(sender), "user@%s", r->domain);
	req.domain = r->domain;
	req.sender = r->sender != NULL ? r->sender : sender;
	req.helo = r->helo != NULL ? r->helo : "mail.client.example";
	req.receiver = "mx.receiver.example";
	spf_check_host(fake_lookup, f, &req, out);
}

/* Check what every outcome must satisfy. */
static void
check_invariants(const struct spf_outcome *out)
{
	assert_true(memchr(out->record, '\0', sizeof(out->record)) != NULL);
	assert_true(memchr(out->mechanism, '\0', sizeof(out->mechanism)) != NULL);
	assert_true(memchr(out->reason, '\0', sizeof(out->reason)) != NULL);
	assert_true(out->reason[0] != '\0');
	assert_true(out->dns_lookups <= SPF_DNS_MECH_MAX + 1);
	assert_true(out->void_lookups <= SPF_VOID_MAX + 1);
	for (const char *p = out->reason; *p; p++)
		assert_true(*p >= 0x20 && *p <= 0x7e);
}

/* Run a table and compare each row with what it expects. */
static void
run_rows(const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		struct fake f;
		struct spf_outcome out;
		char counts[32];

		memset(&f, 0, sizeof(f));
		run(r, &f, &out);
		check_invariants(&out);
		snprintf(counts, sizeof(counts), "%u/%u", out.dns_lookups, out.void_lookups);
		if (out.result != r->want || (r->mech != NULL && strcmp(out.mechanism, r->mech)) ||
		    (r->counts != NULL && strcmp(counts, r->counts) != 0) ||
		    (r->reason != NULL && strstr(out.reason, r->reason) == NULL) ||
		    (r->notin != NULL && strstr(out.reason, r->notin) != NULL))
			fail_msg("row %zu \"%s\" (%s from %s, record \"%s\"): got %s mechanism "
				 "\"%s\" counts %s, want %s mechanism \"%s\" counts %s; "
				 "reason: %s",
				 i, r->name, r->domain, r->ip, out.record,
				 spf_result_str(out.result),
				 out.mechanism, counts, spf_result_str(r->want),
				 r->mech != NULL ? r->mech : "*",
				 r->counts != NULL ? r->counts : "*",
				 out.reason);
	}
}

/* --- RFC 7208 Appendix A ------------------------------------------------ */

/* RFC 7208 Appendix A: the zone and the results it gives. */
static void
test_appendix_a(void **state)
{
	static const struct row rows[] = {
		/* A.1 simple examples */
		R("A.1 +all: any passes", "198.51.100.99", E_COM, "v=spf1 +all", SPF_PASS,
		  .mech = "+all", .counts = "0/0"),
		R("A.1 a -all: 192.0.2.10", "192.0.2.10", E_COM, "v=spf1 a -all", SPF_PASS,
		  .mech = "a", .counts = "1/0"),
		R("A.1 a -all: 192.0.2.11", "192.0.2.11", E_COM, "v=spf1 a -all", SPF_PASS,
		  .mech = "a"),
		R("A.1 a -all: others fail", "192.0.2.65", E_COM, "v=spf1 a -all", SPF_FAIL,
		  .mech = "-all", .counts = "1/0"),
		R("A.1 a:example.org: no A records", "192.0.2.140", E_COM,
		  "v=spf1 a:example.org -all", SPF_FAIL, .mech = "-all", .counts = "1/1"),
		R("A.1 mx: 192.0.2.129", "192.0.2.129", E_COM, "v=spf1 mx -all", SPF_PASS,
		  .mech = "mx", .counts = "1/0"),
		R("A.1 mx: 192.0.2.130", "192.0.2.130", E_COM, "v=spf1 mx -all", SPF_PASS,
		  .mech = "mx"),
		R("A.1 mx: not the A record", "192.0.2.10", E_COM, "v=spf1 mx -all", SPF_FAIL,
		  .mech = "-all"),
		R("A.1 mx:example.org: 192.0.2.140", "192.0.2.140", E_COM,
		  "v=spf1 mx:example.org -all", SPF_PASS, .mech = "mx:example.org"),
		R("A.1 mx:example.org: not example.com's", "192.0.2.129", E_COM,
		  "v=spf1 mx:example.org -all", SPF_FAIL, .mech = "-all"),
		R("A.1 mx mx:example.org: .129", "192.0.2.129", E_COM,
		  "v=spf1 mx mx:example.org -all", SPF_PASS, .mech = "mx", .counts = "1/0"),
		R("A.1 mx mx:example.org: .130", "192.0.2.130", E_COM,
		  "v=spf1 mx mx:example.org -all", SPF_PASS, .mech = "mx"),
		R("A.1 mx mx:example.org: .140", "192.0.2.140", E_COM,
		  "v=spf1 mx mx:example.org -all", SPF_PASS, .mech = "mx:example.org",
		  .counts = "2/0"),
		R("A.1 mx mx:example.org: .10", "192.0.2.10", E_COM,
		  "v=spf1 mx mx:example.org -all", SPF_FAIL, .mech = "-all", .counts = "2/0"),
		R("A.1 mx/30: .128", "192.0.2.128", E_COM, "v=spf1 mx/30 mx:example.org/30 -all",
		  SPF_PASS, .mech = "mx/30"),
		R("A.1 mx/30: .131", "192.0.2.131", E_COM, "v=spf1 mx/30 mx:example.org/30 -all",
		  SPF_PASS, .mech = "mx/30"),
		R("A.1 mx/30: .132", "192.0.2.132", E_COM, "v=spf1 mx/30 mx:example.org/30 -all",
		  SPF_FAIL, .mech = "-all"),
		R("A.1 mx:example.org/30: .141", "192.0.2.141", E_COM,
		  "v=spf1 mx/30 mx:example.org/30 -all", SPF_PASS, .mech = "mx:example.org/30"),
		R("A.1 mx:example.org/30: .143", "192.0.2.143", E_COM,
		  "v=spf1 mx/30 mx:example.org/30 -all", SPF_PASS, .mech = "mx:example.org/30"),
		R("A.1 mx:example.org/30: .144", "192.0.2.144", E_COM,
		  "v=spf1 mx/30 mx:example.org/30 -all", SPF_FAIL, .mech = "-all"),
		R("A.1 ptr: amy validates within example.com", "192.0.2.65", E_COM,
		  "v=spf1 ptr -all", SPF_PASS, .mech = "ptr", .counts = "1/0"),
		R("A.1 ptr: example.com itself", "192.0.2.10", E_COM, "v=spf1 ptr -all", SPF_PASS,
		  .mech = "ptr"),
		R("A.1 ptr: valid but not in example.com", "192.0.2.140", E_COM, "v=spf1 ptr -all",
		  SPF_FAIL, .mech = "-all"),
		R("A.1 ptr: reverse name does not validate", "10.0.0.4", E_COM, "v=spf1 ptr -all",
		  SPF_FAIL, .mech = "-all", .counts = "1/0"),
		R("A.1 ptr: no PTR at all is a void lookup", "203.0.113.200", E_COM,
		  "v=spf1 ptr -all", SPF_FAIL, .mech = "-all", .counts = "1/1"),
		R("A.1 ip4/28: .65 fails", "192.0.2.65", E_COM, "v=spf1 ip4:192.0.2.128/28 -all",
		  SPF_FAIL, .mech = "-all", .counts = "0/0"),
		R("A.1 ip4/28: .129 passes", "192.0.2.129", E_COM, "v=spf1 ip4:192.0.2.128/28 -all",
		  SPF_PASS, .mech = "ip4:192.0.2.128/28"),
		/* A.2 multiple domains */
		R("A.2 example.org: example.com's host", "192.0.2.129", "example.org", NULL,
		  SPF_PASS, .mech = "include:example.com", .counts = "2/0"),
		R("A.2 example.org: example.net's host", "198.51.100.7", "example.org", NULL,
		  SPF_PASS, .mech = "include:example.net", .counts = "3/0"),
		R("A.2 example.org: its own MX is not listed", "192.0.2.140", "example.org", NULL,
		  SPF_FAIL, .mech = "-all", .counts = "3/0"),
		R("A.2 la.example.org redirect", "192.0.2.129", "la.example.org", NULL, SPF_PASS,
		  .mech = "include:example.com", .counts = "3/0",
		  .reason = "redirect from la.example.org"),
		R("A.2 ny.example.org redirect", "198.51.100.7", "ny.example.org", NULL, SPF_PASS,
		  .mech = "include:example.net", .counts = "4/0"),
		R("A.2 sf.example.org redirect: fail", "203.0.113.1", "sf.example.org", NULL,
		  SPF_FAIL, .mech = "-all",
		  .reason = "SPF record of example.org (reached by redirect"),
		/* A.3 DNSBL-style exists */
		R("A.3 mary is a mobile user", "203.0.113.9", E_COM,
		  "v=spf1 mx include:mobile-users._spf.%{d} include:remote-users._spf.%{d} -all",
		  SPF_PASS, .mech = "include:mobile-users._spf.%{d}", .counts = "3/0",
		  .sender = "mary@example.com"),
		R("A.3 fred+news: %{l1r+} keeps fred", "203.0.113.9", E_COM,
		  "v=spf1 mx include:mobile-users._spf.%{d} include:remote-users._spf.%{d} -all",
		  SPF_PASS, .mech = "include:mobile-users._spf.%{d}",
		  .sender = "fred+news@example.com"),
		R("A.3 joel from 192.168.15.15", "192.168.15.15", E_COM,
		  "v=spf1 mx include:mobile-users._spf.%{d} include:remote-users._spf.%{d} -all",
		  SPF_PASS, .mech = "include:remote-users._spf.%{d}", .counts = "5/1",
		  .sender = "joel@example.com"),
		R("A.3 joel from 192.168.15.16", "192.168.15.16", E_COM,
		  "v=spf1 mx include:mobile-users._spf.%{d} include:remote-users._spf.%{d} -all",
		  SPF_PASS, .mech = "include:remote-users._spf.%{d}", .sender = "joel@example.com"),
		R("A.3 joel from elsewhere: two void lookups, still fail", "192.168.15.17", E_COM,
		  "v=spf1 mx include:mobile-users._spf.%{d} include:remote-users._spf.%{d} -all",
		  SPF_FAIL, .mech = "-all", .counts = "5/2", .sender = "joel@example.com"),
		R("A.3 anyone from the MX", "192.0.2.129", E_COM,
		  "v=spf1 mx include:mobile-users._spf.%{d} include:remote-users._spf.%{d} -all",
		  SPF_PASS, .mech = "mx", .counts = "1/0", .sender = "nobody@example.com"),
		/* A.4 -include; read literally, "-ptr" in ptr._spf.example.com is
		 * relative to ptr._spf.example.com, so no host passes */
		R("A.4 outside 192.0.2.0/24", "10.0.0.4", E_COM,
		  "v=spf1 -include:ip4._spf.%{d} -include:ptr._spf.%{d} +all", SPF_FAIL,
		  .mech = "-include:ip4._spf.%{d}", .counts = "1/0"),
		R("A.4 inside, ptr relative to ptr._spf", "192.0.2.65", E_COM,
		  "v=spf1 -include:ip4._spf.%{d} -include:ptr._spf.%{d} +all", SPF_FAIL,
		  .mech = "-include:ptr._spf.%{d}", .counts = "3/0"),
		R("A.4 with ptr:example.com: both hold, pass", "192.0.2.65", E_COM,
		  "v=spf1 -include:ip4._spf.%{d} -include:ptr._spf.%{d} +all", SPF_PASS,
		  .mech = "+all", .counts = "3/0", .over_name = "ptr._spf.example.com",
		  .over_txt = "v=spf1 -ptr:example.com +all"),
		R("A.4 with ptr:example.com: no PTR, fail", "192.0.2.200", E_COM,
		  "v=spf1 -include:ip4._spf.%{d} -include:ptr._spf.%{d} +all", SPF_FAIL,
		  .mech = "-include:ptr._spf.%{d}", .counts = "3/1",
		  .over_name = "ptr._spf.example.com", .over_txt = "v=spf1 -ptr:example.com +all"),
	};

	(void)state;
	run_rows(rows, PH_ARRAY_LEN(rows));
}

/* --- RFC 7208 7.4 macro examples, seen through the exists query -------- */

struct macro_row {
	const char *macro; /* a domain-spec */
	const char *sender;
	const char *ip;
	const char *want; /* the expanded target-name */
};

/* RFC 7208 7.3/7.4 expansions, read from the exists query. */
static void
test_macros(void **state)
{
	static const char *const SB = "strong-bad@email.example.com";
	static const char *const IP = "192.0.2.3";
	static const struct macro_row rows[] = {
		/* 7.4, sender strong-bad@email.example.com, client 192.0.2.3 */
		{"%{s}", SB, IP, "strong-bad@email.example.com"},
		{"%{o}", SB, IP, "email.example.com"},
		{"%{d}", SB, IP, "email.example.com"},
		{"%{d4}", SB, IP, "email.example.com"},
		{"%{d3}", SB, IP, "email.example.com"},
		{"%{d2}", SB, IP, "example.com"},
		{"%{d1}", SB, IP, "com"},
		{"%{dr}", SB, IP, "com.example.email"},
		{"%{d2r}", SB, IP, "example.email"},
		{"%{l}", SB, IP, "strong-bad"},
		{"%{l-}", SB, IP, "strong.bad"},
		{"%{lr}", SB, IP, "strong-bad"},
		{"%{lr-}", SB, IP, "bad.strong"},
		{"%{l1r-}", SB, IP, "strong"},
		{"%{ir}.%{v}._spf.%{d2}", SB, IP, "3.2.0.192.in-addr._spf.example.com"},
		{"%{lr-}.lp._spf.%{d2}", SB, IP, "bad.strong.lp._spf.example.com"},
		{"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", SB, IP,
		 "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
		{"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", SB, IP,
		 "3.2.0.192.in-addr.strong.lp._spf.example.com"},
		{"%{d2}.trusted-domains.example.net", SB, IP,
		 "example.com.trusted-domains.example.net"},
		{"%{ir}.%{v}._spf.%{d2}", SB, "2001:db8::cb01",
		 "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example."
		 "com"},
		/* more of 7.3 */
		{"%{i}.x.example", SB, "2001:db8::cb01",
		 "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1.x.example"},
		{"%{i}.%{v}.x.example", SB, "::ffff:192.0.2.3", "192.0.2.3.in-addr.x.example"},
		{"%{D}", SB, IP, "email.example.com"},
		{"%{S}.x.example", SB, IP, "strong-bad%40email.example.com.x.example"},
		{"%{L}.x.example", "jack&jill=up@email.example.com", IP,
		 "jack%26jill%3Dup.x.example"},
		{"%{l2r+-}.user.%{d2}", "foo-bar+zip+quux@email.example.com", IP,
		 "bar.foo.user.example.com"},
		{"%{i}.%{l2r-}.user.%{d2}", "philip-gladstone-test@email.example.com", "1.2.3.4",
		 "1.2.3.4.gladstone.philip.user.example.com"},
		{"macro%%percent%_%_space%-url-space.x.example", SB, IP,
		 "macro%percent  space%20url-space.x.example"},
		{"%{d99}", SB, IP, "email.example.com"},
		{"%{d9999999999999999999999}", SB, IP, "email.example.com"},
		{"%{l}.x.example", "email.example.com", IP, "postmaster.x.example"},
		{"%{l}.x.example", "@email.example.com", IP, "postmaster.x.example"},
		{"%{h}.x.example", SB, IP, "helo.client.example.x.example"},
		{"%{p}.x.example", SB, IP, "unknown.x.example"},
		{"%{l,}.x.example", "a,b.c@email.example.com", IP, "a.b.c.x.example"},
		{"%{o1}.x.example.", SB, IP, "com.x.example"},
		/* 7.3: more than 253 octets loses labels on the left (from the
		 * RFC 7208 test suite's domain-name-truncation) */
		{"foobar.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.example.com",
		 "test@somewhat.long.exp.example.com", IP,
		 "somewhat.long.exp.example.com.somewhat.long.exp.example.com.somewhat.long.exp."
		 "example.com.somewhat.long.exp.example.com.somewhat.long.exp.example.com."
		 "somewhat.long.exp.example.com.somewhat.long.exp.example.com.somewhat.long.exp."
		 "example.com.example.com"},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct fake f;
		struct spf_outcome out;
		struct row r;
		char txt[512];
		const char *at = strrchr(rows[i].sender, '@');

		memset(&f, 0, sizeof(f));
		memset(&r, 0, sizeof(r));
		snprintf(txt, sizeof(txt), "v=spf1 exists:%s -all", rows[i].macro);
		r.ip = rows[i].ip;
		r.domain = at != NULL ? at + 1 : rows[i].sender;
		r.txt = txt;
		r.sender = rows[i].sender;
		r.helo = "helo.client.example";
		run(&r, &f, &out);
		check_invariants(&out);
		/* pass or fail depends on the zone; the expansion is the query */
		if ((out.result != SPF_FAIL && out.result != SPF_PASS) ||
		    strcmp(f.last_a, rows[i].want) != 0)
			fail_msg("row %zu %s: got %s, query \"%s\", want \"%s\"; %s", i,
				 rows[i].macro, spf_result_str(out.result), f.last_a, rows[i].want,
				 out.reason);
		assert_int_equal(strlen(f.last_a) <= SPF_DOMAIN_MAX, 1);
	}
}

/* --- record selection, mechanisms, include, limits, redirect ------------ */

/* Selection, mechanisms, qualifiers, include, limits, redirect. */
static void
test_records(void **state)
{
	static const struct row rows[] = {
		/* 4.3, 4.4, 4.5 selection */
		R("no TXT record with v=spf1", "192.0.2.1", "nospf.t.example", NULL, SPF_NONE,
		  .mech = "", .counts = "0/0", .reason = "no TXT record beginning with \"v=spf1\""),
		R("NXDOMAIN", "192.0.2.1", "nx.t.example", NULL, SPF_NONE, .mech = "",
		  .counts = "0/0", .reason = "NXDOMAIN"),
		R("no TXT at all", "192.0.2.1", "v6.t.example", NULL, SPF_NONE, .mech = "",
		  .reason = "no TXT records"),
		R("TXT lookup fails", "192.0.2.1", "tf.t.example", NULL, SPF_TEMPERROR, .mech = "",
		  .counts = "0/0"),
		R("two v=spf1 records", "192.0.2.1", D, "v=spf1 -all\nv=spf1 +all", SPF_PERMERROR,
		  .mech = "", .reason = "merge them"),
		R("two v=spf1 records, case apart", "192.0.2.1", D, "v=spf1 -all\nV=sPf1 +all",
		  SPF_PERMERROR),
		R("v=spf10 is another version", "192.0.2.1", D, "v=spf10 +all", SPF_NONE),
		R("v=spf1 then a tab is not a record", "192.0.2.1", D, "v=spf1\t-all", SPF_NONE),
		R("other TXT records are ignored", "192.0.2.1", D,
		  "google-site-verification=x\nv=spf1 -all\n\xef\xbb\xbfgarbage", SPF_FAIL,
		  .mech = "-all"),
		R("version is case-insensitive", "192.0.2.1", D, "V=SpF1 ~all", SPF_SOFTFAIL,
		  .mech = "~all"),
		R("empty record is neutral", "192.0.2.1", D, "v=spf1", SPF_NEUTRAL, .mech = "",
		  .counts = "0/0", .reason = "no \"all\" term"),
		R("extra spaces", "192.0.2.1", D, "v=spf1   ip4:192.0.2.1    -all   ", SPF_PASS,
		  .mech = "ip4:192.0.2.1"),
		R("trailing dot on the domain", "192.0.2.129", "example.com.", NULL, SPF_PASS,
		  .mech = "mx"),
		R("empty label: not a domain", "192.0.2.1", "a..example", NULL, SPF_NONE,
		  .reason = "not a valid domain"),
		R("single label: not a domain", "192.0.2.1", "localhost", NULL, SPF_NONE),
		R("IP literal: not a domain", "192.0.2.1", "[192.0.2.1]", NULL, SPF_NONE),
		R("dotted quad: not a domain", "192.0.2.1", "192.0.2.1", NULL, SPF_NONE),
		R("64-octet label", "192.0.2.1",
		  "a123456789012345678901234567890123456789012345678901234567890123.example", NULL,
		  SPF_NONE),
		R("63-octet label is fine", "192.0.2.1",
		  "a12345678901234567890123456789012345678901234567890123456789012.example",
		  "v=spf1 -all", SPF_FAIL),
		/* 5.6 ip4 and ip6 */
		R("ip6 /32 pass", "2001:db8::1", D, "v=spf1 ip6:2001:db8::/32 -all", SPF_PASS,
		  .mech = "ip6:2001:db8::/32"),
		R("ip6 /48 elsewhere", "2001:db8::1", D, "v=spf1 ip6:2001:db8:1::/48 -all",
		  SPF_FAIL, .mech = "-all"),
		R("ip6 /127 odd bits", "2001:db8::1", D, "v=spf1 ip6:2001:db8::/127 -all",
		  SPF_PASS),
		R("ip6 terms never match IPv4", "192.0.2.1", D, "v=spf1 ip6:::/0 -all", SPF_FAIL),
		R("ip4 terms never match IPv6", "2001:db8::1", D, "v=spf1 ip4:0.0.0.0/0 -all",
		  SPF_FAIL),
		R("ip4/0 matches any IPv4", "198.51.100.1", D, "v=spf1 ip4:0.0.0.0/0 -all",
		  SPF_PASS),
		R("ip6/0 matches any IPv6", "2001:db8::1", D, "v=spf1 ip6:::/0 -all", SPF_PASS),
		R("IPv4-mapped is IPv4: ip4 matches", "::ffff:192.0.2.1", D,
		  "v=spf1 -ip4:192.0.2.1 ip6:::ffff:192.0.2.1", SPF_FAIL, .mech = "-ip4:192.0.2.1"),
		R("IPv4-mapped is IPv4: ip6 does not", "::ffff:192.0.2.1", D, "v=spf1 ip6:::/0",
		  SPF_NEUTRAL, .mech = "", .reason = "Add ip4:192.0.2.1"),
		R("ip4 /25 boundary", "192.0.2.128", D, "v=spf1 ip4:192.0.2.0/25 -all", SPF_FAIL),
		/* 5.3 a, 5.4 mx, dual-cidr-length */
		R("a AAAA for IPv6", "2001:db8::25", D, "v=spf1 a:v6.t.example -all", SPF_PASS,
		  .mech = "a:v6.t.example"),
		R("a A for IPv4-mapped", "::ffff:192.0.2.25", D, "v=spf1 a:v6.t.example -all",
		  SPF_PASS),
		R("a //64", "2001:db8::ffff", D, "v=spf1 a:v6.t.example//64 -all", SPF_PASS),
		R("a exact v6 by default", "2001:db8::26", D, "v=spf1 a:v6.t.example -all",
		  SPF_FAIL),
		R("a /24//64 v4", "192.0.2.7", D, "v=spf1 a:dual.t.example/24//64 -all", SPF_PASS,
		  .mech = "a:dual.t.example/24//64"),
		R("a /24//64 v6", "2001:db8:1234::cafe:babe", D,
		  "v=spf1 a:dual.t.example/24//64 -all", SPF_PASS),
		R("a /24 leaves v6 at /128", "2001:db8:1234::cafe:babe", D,
		  "v=spf1 a:dual.t.example/24 -all", SPF_FAIL),
		R("a //64 leaves v4 at /32", "192.0.2.7", D, "v=spf1 a:dual.t.example//64 -all",
		  SPF_FAIL),
		R("mx /24//64 v4", "192.0.2.9", D, "v=spf1 mx:dualmx.t.example/24//64 -all",
		  SPF_PASS),
		R("mx /24//64 v6", "2001:db8:1234::1", D, "v=spf1 mx:dualmx.t.example/24//64 -all",
		  SPF_PASS),
		R("mx without cidr", "192.0.2.9", D, "v=spf1 mx:dualmx.t.example -all", SPF_FAIL),
		R("a has no address limit", "198.51.100.12", D, "v=spf1 a:many.t.example -all",
		  SPF_PASS),
		R("a in a domain-spec with ':' and '/'", "192.0.2.1", D,
		  "v=spf1 a:foo:bar/baz.t.example -all", SPF_PASS),
		R("null MX names no host", "192.0.2.1", D, "v=spf1 mx:nullmx.t.example -all",
		  SPF_FAIL, .mech = "-all", .counts = "1/0"),
		R("no MX is a void lookup, no A fallback", "192.0.2.1", D,
		  "v=spf1 mx:nomx.t.example ?all", SPF_NEUTRAL, .mech = "?all", .counts = "1/1"),
		R("10 MX names are looked at", "203.0.113.10", D, "v=spf1 mx:mx10.t.example -all",
		  SPF_PASS, .mech = "mx:mx10.t.example"),
		R("11 MX names: permerror", "203.0.113.1", D, "v=spf1 mx:mx11.t.example -all",
		  SPF_PERMERROR, .mech = "", .reason = "11 MX records"),
		R("MX host lookup fails", "192.0.2.1", D, "v=spf1 mx:mxtf.t.example -all",
		  SPF_TEMPERROR),
		/* 5.5 ptr */
		R("ptr: first 10 names only", "192.0.2.77", D, "v=spf1 ptr:t.example -all",
		  SPF_FAIL),
		R("ptr: validated name", "192.0.2.78", D, "v=spf1 ptr:t.example -all", SPF_PASS,
		  .mech = "ptr:t.example"),
		R("ptr: PTR lookup failure is no match", "192.0.2.79", D,
		  "v=spf1 ptr:t.example -all", SPF_FAIL, .mech = "-all"),
		R("ptr: IPv6", "2001:db8::cb01", D, "v=spf1 ptr:t.example -all", SPF_PASS),
		R("ptr: target is a suffix of labels", "192.0.2.78", D,
		  "v=spf1 ptr:8.t.example -all", SPF_FAIL),
		/* 5.7 exists */
		R("exists with a macro", "192.0.2.3", D, "v=spf1 exists:%{i}.bl.t.example -all",
		  SPF_PASS, .mech = "exists:%{i}.bl.t.example", .counts = "1/0"),
		R("exists no A: void", "192.0.2.4", D, "v=spf1 exists:%{i}.bl.t.example -all",
		  SPF_FAIL, .mech = "-all", .counts = "1/1"),
		R("exists asks A for IPv6 clients too", "2001:db8::1", D,
		  "v=spf1 exists:dual.t.example -all", SPF_PASS),
		R("exists failure", "192.0.2.1", D, "v=spf1 exists:tf.t.example -all",
		  SPF_TEMPERROR),
		R("exists %% %_ %-", "192.0.2.7", D,
		  "v=spf1 exists:macro%%percent%_%_space%-url-space.t.example -all", SPF_PASS),
		R("a %{h} from a HELO that is no name", "192.0.2.1", D, "v=spf1 a:%{h} -all",
		  SPF_FAIL, .helo = "JUMPIN' JUPITER"),
		R("a over-long label from a macro: no match", "192.0.2.1", D,
		  "v=spf1 a:%{l}.t.example -all", SPF_FAIL, .mech = "-all",
		  .sender = "a1234567890123456789012345678901234567890123456789012345678901234@"
		    "x.example"),
		/* 4.6.2 qualifiers */
		R("~all softfail", "192.0.2.1", D, "v=spf1 ~all", SPF_SOFTFAIL, .mech = "~all",
		  .reason = "ends in ~all"),
		R("?all neutral", "192.0.2.1", D, "v=spf1 ?all", SPF_NEUTRAL, .mech = "?all",
		  .reason = "ends in ?all"),
		R("?ip4", "192.0.2.1", D, "v=spf1 ?ip4:192.0.2.1 -all", SPF_NEUTRAL,
		  .mech = "?ip4:192.0.2.1"),
		R("~ip4", "192.0.2.1", D, "v=spf1 ~ip4:192.0.2.1 +all", SPF_SOFTFAIL,
		  .mech = "~ip4:192.0.2.1"),
		R("-ip4", "192.0.2.1", D, "v=spf1 -ip4:192.0.2.1 +all", SPF_FAIL,
		  .mech = "-ip4:192.0.2.1", .reason = "matched -ip4:192.0.2.1"),
		R("first match wins", "192.0.2.1", D, "v=spf1 all -all", SPF_PASS, .mech = "all"),
		R("mechanism names are case-insensitive", "192.0.2.1", D,
		  "v=spf1 IP4:192.0.2.1 -ALL", SPF_PASS, .mech = "IP4:192.0.2.1"),
		/* 5.2 include */
		R("include pass: match", "192.0.2.1", D, "v=spf1 include:inc-pass.t.example -all",
		  SPF_PASS, .mech = "include:inc-pass.t.example", .counts = "1/0"),
		R("include fail: no match", "192.0.2.1", D,
		  "v=spf1 include:inc-fail.t.example -all", SPF_FAIL, .mech = "-all"),
		R("include softfail: no match", "192.0.2.1", D,
		  "v=spf1 include:inc-soft.t.example -all", SPF_FAIL, .mech = "-all"),
		R("include neutral: no match", "192.0.2.1", D,
		  "v=spf1 include:inc-neutral.t.example ~all", SPF_SOFTFAIL, .mech = "~all"),
		R("include permerror", "192.0.2.1", D, "v=spf1 include:inc-perm.t.example -all",
		  SPF_PERMERROR, .mech = "",
		  .reason = "inc-perm.t.example has an unknown mechanism"),
		R("include none: permerror", "192.0.2.1", D, "v=spf1 include:nospf.t.example -all",
		  SPF_PERMERROR, .mech = "", .reason = "which has no SPF record"),
		R("include NXDOMAIN: permerror", "192.0.2.1", D, "v=spf1 include:nx.t.example -all",
		  SPF_PERMERROR),
		R("include temperror", "192.0.2.1", D, "v=spf1 include:tf.t.example -all",
		  SPF_TEMPERROR, .mech = "", .reason = "failed temporarily"),
		R("include of two records", "192.0.2.1", D, "v=spf1 include:inc-two.t.example +all",
		  SPF_PERMERROR),
		R("-include of a pass", "192.0.2.1", D, "v=spf1 -include:inc-pass.t.example +all",
		  SPF_FAIL, .mech = "-include:inc-pass.t.example"),
		R("include after a match is never fetched", "192.0.2.1", D,
		  "v=spf1 ip4:192.0.2.1 include:tf.t.example -all", SPF_PASS,
		  .mech = "ip4:192.0.2.1", .counts = "0/0"),
		/* 4.6.4 limits */
		R("9 lookups", "192.0.2.1", D,
		  "v=spf1 a:h1.t.example a:h2.t.example a:h3.t.example a:h4.t.example "
		    "a:h5.t.example a:h6.t.example a:h7.t.example a:h8.t.example a:h9.t.example "
		    "ip4:192.0.2.1 -all",
		  SPF_PASS, .mech = "ip4:192.0.2.1", .counts = "9/0"),
		R("10 lookups", "192.0.2.1", D,
		  "v=spf1 a:h1.t.example a:h2.t.example a:h3.t.example a:h4.t.example "
		    "a:h5.t.example a:h6.t.example a:h7.t.example a:h8.t.example a:h9.t.example "
		    "a:h10.t.example ip4:192.0.2.1 -all",
		  SPF_PASS, .mech = "ip4:192.0.2.1", .counts = "10/0"),
		R("11 lookups", "192.0.2.1", D,
		  "v=spf1 a:h1.t.example a:h2.t.example a:h3.t.example a:h4.t.example "
		    "a:h5.t.example a:h6.t.example a:h7.t.example a:h8.t.example a:h9.t.example "
		    "a:h10.t.example a:h11.t.example ip4:192.0.2.1 -all",
		  SPF_PERMERROR, .mech = "", .counts = "11/0", .reason = "at \"a:h11.t.example\""),
		R("10 with include, then a match before the 11th", "192.0.2.1", D,
		  "v=spf1 a:h1.t.example include:inc-fail.t.example a:h3.t.example a:h4.t.example "
		    "a:h5.t.example a:h6.t.example a:h7.t.example a:h8.t.example a:h9.t.example "
		    "a:h10.t.example ip4:192.0.2.1 mx -all",
		  SPF_PASS, .mech = "ip4:192.0.2.1", .counts = "10/0"),
		R("include loop", "192.0.2.1", "loopa.t.example", NULL, SPF_PERMERROR, .mech = "",
		  .counts = "11/0",
		  .reason = "loop (loopa.t.example -> loopb.t.example -> loopa.t.example)"),
		R("redirect loop", "192.0.2.1", "rloop.t.example", NULL, SPF_PERMERROR, .mech = "",
		  .counts = "11/0", .reason = "loop (rloop.t.example -> rloop.t.example)"),
		R("2 void lookups", "192.0.2.1", D, "v=spf1 a:nx1.t.example a:nx2.t.example ?all",
		  SPF_NEUTRAL, .mech = "?all", .counts = "2/2"),
		R("3 void lookups", "192.0.2.1", D,
		  "v=spf1 a:nx1.t.example a:nx2.t.example a:nx3.t.example ?all", SPF_PERMERROR,
		  .mech = "", .counts = "3/3", .reason = "void lookups"),
		R("3 void lookups of mixed kinds", "203.0.113.200", D,
		  "v=spf1 mx:nomx.t.example exists:nx1.t.example ptr:t.example ?all", SPF_PERMERROR,
		  .mech = "", .counts = "3/3"),
		/* 6.1 redirect */
		R("redirect decides", "192.0.2.1", D, "v=spf1 redirect=inc-fail.t.example",
		  SPF_FAIL, .mech = "-all", .counts = "1/0", .reason = "redirect from " D),
		R("redirect only when nothing matched", "192.0.2.1", D,
		  "v=spf1 ip4:192.0.2.1 redirect=inc-fail.t.example", SPF_PASS,
		  .mech = "ip4:192.0.2.1", .counts = "0/0"),
		R("redirect ignored with all", "192.0.2.1", D,
		  "v=spf1 redirect=rloop.t.example ~all", SPF_SOFTFAIL, .mech = "~all",
		  .counts = "0/0"),
		R("redirect before all is still last", "192.0.2.1", D,
		  "v=spf1 redirect=inc-pass.t.example -all", SPF_FAIL, .mech = "-all"),
		R("redirect to no record", "192.0.2.1", D, "v=spf1 redirect=nospf.t.example",
		  SPF_PERMERROR, .mech = "", .reason = "redirects to nospf.t.example"),
		R("redirect to NXDOMAIN", "192.0.2.1", D, "v=spf1 redirect=nx.t.example",
		  SPF_PERMERROR),
		R("redirect to a failing server", "192.0.2.1", D, "v=spf1 redirect=tf.t.example",
		  SPF_TEMPERROR),
		R("redirect with a macro", "192.0.2.129", D, "v=spf1 redirect=%{o}", SPF_PASS,
		  .mech = "mx", .sender = "user@example.com"),
		R("unknown modifiers are ignored", "192.0.2.1", D,
		  "v=spf1 moo.cow-far_out=man:dog/cat default=pass -all", SPF_FAIL, .mech = "-all"),
	};

	(void)state;
	run_rows(rows, PH_ARRAY_LEN(rows));
}

/* --- syntax (4.6, 5, 6, 7.1): every row is a permerror ----------------- */

/* Malformed records: each is a permerror before any lookup. */
static void
test_syntax(void **state)
{
	static const char *const bad[] = {
		"v=spf1 foo -all",
		"v=spf1 ip4:192.0.2.1 -all moo", /* after the match: still an error */
		"v=spf1 a:museum -all",
		"v=spf1 a:museum. -all",
		"v=spf1 a:111.222.33.44 -all",
		"v=spf1 a:example.-com -all",
		"v=spf1 a:t.example:8080 -all",
		"v=spf1 a: -all",
		"v=spf1 a:. -all",
		"v=spf1 include -all",
		"v=spf1 include: -all",
		"v=spf1 include:inc-pass.t.example/24 -all",
		"v=spf1 exists",
		"v=spf1 exists:",
		"v=spf1 exists:h1.t.example/24",
		"v=spf1 ptr/0 -all",
		"v=spf1 ptr: -all",
		"v=spf1 -all.",
		"v=spf1 -all:foobar",
		"v=spf1 -all/8",
		"v=spf1 ip4",
		"v=spf1 ip4:",
		"v=spf1 ip4:1.2.3",
		"v=spf1 ip4:1.2.3.4.5",
		"v=spf1 ip4:1.2.3.256",
		"v=spf1 ip4:01.2.3.4",
		"v=spf1 ip4:1.2.3.4/33",
		"v=spf1 ip4:1.2.3.4/032",
		"v=spf1 ip4:1.2.3.4//32",
		"v=spf1 ip4:1.2.3.4/",
		"v=spf1 ip4:1.2.3.4:8080",
		"v=spf1 ip6",
		"v=spf1 -all ip6",
		"v=spf1 ip6::CAFE::BABE",
		"v=spf1 ip6:2001:db8::/129",
		"v=spf1 ip6:::1.1.1.1//33",
		"v=spf1 a/24/64 -all",
		"v=spf1 a//129 -all",
		"v=spf1 a/33 -all",
		"v=spf1 mx//0128 -all",
		"v=spf1 +-all",
		"v=spf1 + -all",
		"v=spf1 redirect:inc-pass.t.example",
		"v=spf1 redirect=inc-pass.t.example redirect=inc-fail.t.example",
		"v=spf1 -all exp=explain.t.example exp=explain-two.t.example",
		"v=spf1 exp= -all",
		"v=spf1 ?all redirect=",
		"v=spf1 redirect=-all ?all",
		"v=spf1 =all",
		"v=spf1 1up=foo",
		"v=spf1 foo=%abc -all",
		"v=spf1 moo.cow/far_out=man:dog/cat -all",
		"v=spf1 a:\xef\xbb\xbfgarbage.t.example -all",
		("v=spf1 \x80" "a:t.example -all"),
		"v=spf1 -all\x01",
		/* 7.1 macros */
		"v=spf1 a:%{a}.t.example -all",
		"v=spf1 -exists:%(ir).sbl.t.example ?all",
		"v=spf1 exists:foo%(ir).sbl.t.example ?all",
		"v=spf1 exists:foo%.sbl.t.example ?all",
		"v=spf1 exists:%{d0}.t.example -all",
		"v=spf1 exists:%{ir.t.example -all",
		"v=spf1 exists:%{}.t.example -all",
		"v=spf1 exists:%x.t.example -all",
		"v=spf1 exists:%{i}%",
		"v=spf1 exists:%{c}.t.example -all", /* c r t only in exp text */
		"v=spf1 exists:%{r}.t.example -all",
		"v=spf1 exists:%{t}.t.example -all",
		"v=spf1 -all exp=%{r}.t.example",
		"v=spf1 exists:%{d}com -all",
		"v=spf1 exists:%{d}. -all",
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(bad); i++) {
		struct row r = R(bad[i], "192.0.2.1", D, bad[i], SPF_PERMERROR, .mech = "",
				 .counts = "0/0");

		run_rows(&r, 1);
	}
}

/* --- 6.2 explanations ----------------------------------------------------- */

/* RFC 7208 6.2: exp= text only for fail, from the deciding record. */
static void
test_explanations(void **state)
{
	static const struct row rows[] = {
		R("exp on fail", "192.0.2.3", D, "v=spf1 -all exp=explain.t.example", SPF_FAIL,
		  .mech = "-all", .counts = "0/0",
		  .reason = "explanation: \"192.0.2.3 is not one of " D
			    "'s designated mail servers.\""),
		R("exp with c, r and t", "192.0.2.3", D, "v=spf1 -all exp=explain-crt.t.example",
		  SPF_FAIL, .reason = "\"192.0.2.3 via mx.receiver.example at 1"),
		R("exp %{c} for IPv6", "2001:db8::cb01", D, "v=spf1 -all exp=explain-crt.t.example",
		  SPF_FAIL, .reason = "\"2001:db8::cb01 via "),
		R("exp only for fail", "192.0.2.3", D, "v=spf1 ~all exp=explain.t.example",
		  SPF_SOFTFAIL, .notin = "designated"),
		R("exp with two TXT records is ignored", "192.0.2.3", D,
		  "v=spf1 -all exp=explain-two.t.example", SPF_FAIL, .notin = "explanation"),
		R("exp text with a macro error is ignored", "192.0.2.3", D,
		  "v=spf1 -all exp=explain-bad.t.example", SPF_FAIL, .notin = "explanation"),
		R("exp naming nothing: no void lookup", "192.0.2.3", D,
		  "v=spf1 -all exp=nx.t.example", SPF_FAIL, .mech = "-all", .counts = "0/0",
		  .notin = "explanation"),
		R("exp lookup failure is ignored", "192.0.2.3", D, "v=spf1 -all exp=tf.t.example",
		  SPF_FAIL, .mech = "-all"),
		R("include ignores the included exp", "192.0.2.3", D,
		  "v=spf1 include:inc-exp.t.example -all", SPF_FAIL, .mech = "-all",
		  .counts = "1/0", .notin = "explanation"),
		R("redirect uses the target's exp", "192.0.2.3", D,
		  "v=spf1 redirect=inc-exp.t.example", SPF_FAIL, .mech = "-all",
		  .reason = "not one of inc-exp.t.example's designated"),
		R("redirect drops the original exp", "192.0.2.3", D,
		  "v=spf1 exp=explain.t.example redirect=inc-fail.t.example", SPF_FAIL,
		  .notin = "explanation"),
	};

	(void)state;
	run_rows(rows, PH_ARRAY_LEN(rows));
}

/* The reasons name what to change. */
static void
test_reasons(void **state)
{
	static const struct row rows[] = {
		R("fail on -all says what to add", "192.0.2.7", E_COM,
		  "v=spf1 ip4:192.0.2.0/30 -all", SPF_FAIL, .mech = "-all",
		  .reason = "192.0.2.7 is not listed in the SPF record of example.com; the record "
		    "ends in -all, so receivers may reject the mail. Add ip4:192.0.2.7 "
		    "(or an include of your provider) to the record."),
		R("IPv6 suggests ip6:", "2001:db8::7", E_COM, "v=spf1 ~all", SPF_SOFTFAIL,
		  .mech = "~all", .reason = "Add ip6:2001:db8::7"),
		R("pass names the term", "192.0.2.1", E_COM,
		  "v=spf1 include:inc-pass.t.example -all", SPF_PASS,
		  .reason = "matched include:inc-pass.t.example"),
		R("none suggests a record", "192.0.2.1", "nospf.t.example", NULL, SPF_NONE,
		  .reason = "v=spf1 ip4:192.0.2.1 ~all"),
		R("an address in a: gets a hint", "192.0.2.1", E_COM,
		  "v=spf1 a:192.0.2.0/24 mx:2001:db8::1 -all", SPF_PERMERROR,
		  .reason = "\"a:192.0.2.0/24\", which names an address, not a domain: write "
		    "ip4:192.0.2.0/24 instead"),
		R("an address in mx: gets a hint", "192.0.2.1", E_COM, "v=spf1 mx:2001:db8::1 -all",
		  SPF_PERMERROR, .reason = "write ip6:2001:db8::1 instead"),
		R("an unknown mechanism is named", "192.0.2.1", E_COM, "v=spf1 ip:192.0.2.1 -all",
		  SPF_PERMERROR, .reason = "has an unknown mechanism \"ip\" (in \"ip:192.0.2.1\")"),
		R("no suggestion for a non-domain", "192.0.2.1", "localhost", NULL, SPF_NONE,
		  .reason = "No SPF check was possible: \"localhost\" is not a valid domain name",
		  .notin = "publish"),
		R("permerror says where", "192.0.2.1", E_COM, "v=spf1 a:museum -all", SPF_PERMERROR,
		  .reason = "the SPF record of example.com has a syntax error in " "\"a:museum\""),
		R("temperror names the lookup", "192.0.2.1", E_COM, "v=spf1 a:tf.t.example -all",
		  SPF_TEMPERROR, .reason = "the A lookup of tf.t.example"),
	};

	(void)state;
	run_rows(rows, PH_ARRAY_LEN(rows));
}

/* The record field is the top-level record; %{t} is the time now. */
static void
test_outcome_fields(void **state)
{
	struct row r = R("", "192.0.2.129", "la.example.org", NULL, SPF_PASS);
	struct fake f;
	struct spf_outcome out;
	time_t before = time(NULL);
	const char *at;

	(void)state;
	memset(&f, 0, sizeof(f));
	run(&r, &f, &out);
	assert_int_equal(out.result, SPF_PASS);
	assert_string_equal(out.record, "v=spf1 redirect=example.org");

	memset(&f, 0, sizeof(f));
	r = (struct row)R("", "192.0.2.3", D, "v=spf1 -all exp=explain-crt.t.example", SPF_FAIL);
	run(&r, &f, &out);
	assert_int_equal(out.result, SPF_FAIL);
	at = strstr(out.reason, "mx.receiver.example at ");
	assert_non_null(at);
	at += strlen("mx.receiver.example at ");
	assert_true(strtoll(at, NULL, 10) >= (long long)before);
	assert_true(strtoll(at, NULL, 10) <= (long long)time(NULL));
	/* an evaluation is bounded in queries even at the limits */
	assert_true(f.queries < 20);

	/* a trailing dot on the domain is not part of %{d} */
	memset(&f, 0, sizeof(f));
	r = (struct row)R("", "192.0.2.3", "email.example.com.", "v=spf1 exists:%{d}.x.example -all",
			  SPF_FAIL);
	run(&r, &f, &out);
	assert_int_equal(out.result, SPF_FAIL);
	assert_string_equal(f.last_a, "email.example.com.x.example");
}

/* Requests without a domain or an address give none, no lookups. */
static void
test_bad_requests(void **state)
{
	struct spf_request req;
	struct spf_outcome out;
	struct fake f;

	(void)state;
	memset(&f, 0, sizeof(f));
	memset(&req, 0, sizeof(req));
	req.family = AF_INET;
	spf_check_host(fake_lookup, &f, &req, &out);
	assert_int_equal(out.result, SPF_NONE);
	req.domain = "example.com";
	req.family = 12345;
	spf_check_host(fake_lookup, &f, &req, &out);
	assert_int_equal(out.result, SPF_NONE);
	assert_int_equal(f.queries, 0);
	/* no sender: postmaster@domain */
	req.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "192.0.2.1", req.ip), 1);
	f.over[0][0] = "example.com";
	f.over[0][1] = "v=spf1 exists:%{s} -all";
	spf_check_host(fake_lookup, &f, &req, &out);
	assert_int_equal(out.result, SPF_FAIL);
	assert_string_equal(f.last_a, "postmaster@example.com");
}

/* Result names. */
static void
test_result_str(void **state)
{
	static const struct {
		enum spf_result r;
		const char *s;
	} rows[] = {
		{SPF_NONE, "none"},
		{SPF_NEUTRAL, "neutral"},
		{SPF_PASS, "pass"},
		{SPF_FAIL, "fail"},
		{SPF_SOFTFAIL, "softfail"},
		{SPF_TEMPERROR, "temperror"},
		{SPF_PERMERROR, "permerror"},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++)
		assert_string_equal(spf_result_str(rows[i].r), rows[i].s);
	assert_string_equal(spf_result_str((enum spf_result)99), "?");
}

/* --- DMARC -------------------------------------------------------------- */

/* A valid record and what it holds; an invalid one and a part of the reason. */
#define OK(t, p_, sp_, dk, sf, pc, ru)                                                      \
	{                                                                                   \
		.txt = (t), .rc = 0, .p = (p_), .sp = (sp_), .adkim = (dk), .aspf = (sf),   \
		.pct = (pc), .rua = (ru), .why = NULL                                       \
	}
#define BAD(t, w)                                                                           \
	{                                                                                   \
		.txt = (t), .rc = -1, .why = (w)                                            \
	}

/* dmarc_parse(): defaults, values, and invalid records with reasons. */
static void
test_dmarc_parse(void **state)
{
	static const struct {
		const char *txt;
		int rc;
		const char *p, *sp;
		char adkim, aspf;
		unsigned pct;
		const char *rua;
		const char *why; /* a substring of the reason when rc is -1 */
	} rows[] = {
		OK("v=DMARC1; p=none", "none", "none", 'r', 'r', 100, ""),
		OK("v=DMARC1; p=reject; sp=quarantine; adkim=s; aspf=s; pct=50; "
		  "rua=mailto:d@example.com",
		  "reject", "quarantine", 's', 's', 50, "mailto:d@example.com"),
		OK("v=DMARC1;p=quarantine;", "quarantine", "quarantine", 'r', 'r', 100, ""),
		OK("  v = DMARC1 ;\t p = Reject ; ", "reject", "reject", 'r', 'r', 100, ""),
		OK("v=DMARC1; p=none; sp=reject", "none", "reject", 'r', 'r', 100, ""),
		OK("v=DMARC1; p=none; pct=0", "none", "none", 'r', 'r', 0, ""),
		OK("v=DMARC1; p=none; ADKIM=S", "none", "none", 's', 'r', 100, ""),
		OK("v=DMARC1; pct=20; p=quarantine", "quarantine", "quarantine", 'r', 'r', 20, ""),
		OK("v=DMARC1; p=none; foo=bar; x_y=1", "none", "none", 'r', 'r', 100, ""),
		OK("v=DMARC1; p=none; rua=mailto:a@example.com, mailto:b@example.net!10m", "none",
		  "none", 'r', 'r', 100, "mailto:a@example.com,mailto:b@example.net!10m"),
		OK("v=DMARC1; p=quarantine; fo=1; ri=86400; rf=afrf; ruf=mailto:f@example.com",
		  "quarantine", "quarantine", 'r', 'r', 100, ""),
		OK("v=DMARC1; p=none;;", "none", "none", 'r', 'r', 100, ""),
		BAD("v=DMARC1", "no p="),
		BAD("v=DMARC1; sp=none", "no p="),
		BAD("p=none; v=DMARC1", "must begin with v=DMARC1"),
		BAD("v=dmarc1; p=none", "must begin with v=DMARC1"),
		BAD("v=DMARC2; p=none", NULL),
		BAD("v=DMARC1 p=none", NULL),
		BAD("", NULL),
		BAD(";v=DMARC1; p=none", NULL),
		BAD("v=DMARC1; p=block", "p=block is not a policy"),
		BAD("v=DMARC1; p=none; sp=maybe", "sp=maybe"),
		BAD("v=DMARC1; p=none; adkim=x", "adkim=x is not r or s"),
		BAD("v=DMARC1; p=none; aspf=relaxed", NULL),
		BAD("v=DMARC1; p=none; pct=101", "pct=101"),
		BAD("v=DMARC1; p=none; pct=-1", NULL),
		BAD("v=DMARC1; p=none; pct=", NULL),
		BAD("v=DMARC1; p=none; pct=12345678901234567890", NULL),
		BAD("v=DMARC1; p=none; p=reject", "more than once"),
		BAD("v=DMARC1; p=none; v=DMARC1", NULL),
		BAD("v=DMARC1; p=none; rua=notauri", "rua has an invalid URI"),
		BAD("v=DMARC1; p=none; rua=mailto:a@example.com,", NULL),
		BAD("v=DMARC1; p=none; rua=mailto:", NULL),
		BAD("v=DMARC1; p=none; rua=mailto:a@example.com!", NULL),
		BAD("v=DMARC1; p", "is not tag=value"),
		BAD("v=DMARC1; 1p=none", "not a tag name"),
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct dmarc_record d;
		char why[200] = "unset";
		int rc = dmarc_parse(rows[i].txt, &d, why, sizeof(why));

		if (rc != rows[i].rc)
			fail_msg("row %zu \"%s\": rc %d, want %d (%s)", i, rows[i].txt, rc,
				 rows[i].rc, why);
		if (rc < 0) {
			assert_true(why[0] != '\0');
			if (rows[i].why != NULL && strstr(why, rows[i].why) == NULL)
				fail_msg("row %zu \"%s\": why \"%s\", want \"%s\"", i, rows[i].txt,
					 why, rows[i].why);
			continue;
		}
		if (strcmp(d.p, rows[i].p) || strcmp(d.sp, rows[i].sp) ||
		    d.adkim != rows[i].adkim || d.aspf != rows[i].aspf || d.pct != rows[i].pct ||
		    strcmp(d.rua, rows[i].rua))
			fail_msg("row %zu \"%s\": p=%s sp=%s adkim=%c aspf=%c pct=%u rua=%s", i,
				 rows[i].txt, d.p, d.sp, d.adkim, d.aspf, d.pct, d.rua);
	}
	/* NULL input and a NULL reason buffer */
	{
		struct dmarc_record d;

		assert_int_equal(dmarc_parse(NULL, &d, NULL, 0), -1);
		assert_int_equal(dmarc_parse("v=DMARC1", &d, NULL, 0), -1);
	}
}

/* dmarc_aligned(): strict and relaxed, without a public-suffix list. */
static void
test_dmarc_aligned(void **state)
{
	static const struct {
		const char *a, *b;
		char mode;
		int want;
	} rows[] = {
		{"example.com", "example.com", 's', 1},
		{"Example.COM", "example.com.", 's', 1},
		{"mail.example.com", "example.com", 's', 0},
		{"example.com", "example.com", 'r', 1},
		{"mail.example.com", "example.com", 'r', 1},
		{"example.com", "bounce.mail.example.com", 'r', 1},
		{"EXAMPLE.com", "Mail.Example.Com", 'R', 1},
		{"notexample.com", "example.com", 'r', 0},
		{"example.com", "xexample.com", 'r', 0},
		{"a.example.com", "b.example.com", 'r', 0}, /* no organizational domain */
		{"example.com", "example.net", 'r', 0},
		{"", "example.com", 'r', 0},
		{"example.com", "", 's', 0},
		{NULL, "example.com", 'r', 0},
		{"example.com", NULL, 's', 0},
		{"example.com", "example.com", 'x', 0},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++)
		if (dmarc_aligned(rows[i].a, rows[i].b, rows[i].mode) != rows[i].want)
			fail_msg("row %zu %s %s %c: want %d", i, rows[i].a ? rows[i].a : "NULL",
				 rows[i].b ? rows[i].b : "NULL", rows[i].mode, rows[i].want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_appendix_a),     cmocka_unit_test(test_macros),
		cmocka_unit_test(test_records),	       cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_explanations),   cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_outcome_fields), cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_result_str),     cmocka_unit_test(test_dmarc_parse),
		cmocka_unit_test(test_dmarc_aligned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
