/*
 * NAME
 *	domain - sender domains: creation (keys and records) and checks
 * DESCRIPTION
 *	domain_create() generates an RSA-2048 and an Ed25519 DKIM key under
 *	dated selectors (phYYYYMMDDr, phYYYYMMDDe), stores them with the
 *	domain, and returns every record to publish: both DKIM keys, the SPF
 *	mechanism for the sending IPs, a DMARC record to start with, and the
 *	return-path (bounce.DOMAIN) MX and SPF records.
 *
 *	domain_check() looks the records up (synchronously: the command line
 *	and the daemon's re-check thread call it, never the loop) and checks
 *	each: the DKIM keys match ours (this verifies the domain: only its
 *	owner can publish them), SPF (RFC 7208) passes for every sending IP
 *	on the domain and on the bounce subdomain, DMARC is published and
 *	how DKIM and SPF align with it, the bounce subdomain's MX points at
 *	us. Each check passes or fails with a reason; the results are kept
 *	with the domain.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "dkim/dkim.h"
#include "domain/domain.h"
#include "spf/spf.h"

int
domain_name_ok(const char *d)
{
	size_t n = strlen(d), label = 0;

	if (n == 0 || n > 253 || d[0] == '.' || d[n - 1] == '.' || strchr(d, '.') == NULL)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = d[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '-') {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return 1;
}

/* "v=spf1 ip4:A ip6:B ~all" for the sending IPs. */
static void
spf_value(const char *ips, const char *all, struct buf *b)
{
	char tmp[512], *save = NULL, *tok;

	snprintf(tmp, sizeof(tmp), "%s", ips);
	if (buf_puts(b, "v=spf1") < 0)
		return;
	for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (buf_printf(b, " %s:%s", strchr(tok, ':') ? "ip6" : "ip4", tok) < 0)
			return;
	if (buf_printf(b, " %s", all) < 0)
		return;
}

static json_t *
record(const char *name, const char *type, const char *value, const char *purpose)
{
	return json_pack("{s:s,s:s,s:s,s:s}", "name", name, "type", type, "value", value,
			 "purpose", purpose);
}

/* A new RSA-2048 and Ed25519 key pair under fresh dated selectors
 * (phYYYYMMDDxx + r or e), in the given state. Appends their DKIM
 * records to recs; keys[i].pem points into pem[i]. */
static int
make_keys(const char *domain, const char *state, struct store_dkim_key keys[2],
	  struct buf pem[2], json_t *recs, char *err, size_t errlen)
{
	char day[16], tag[3], name[600];
	time_t now = time(NULL);
	struct tm tm;
	int rc = 0;

	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	rand_token(tag, 2); /* a second rotation on one day gets other selectors */
	for (int i = 0; i < 2 && rc == 0; i++) {
		struct dkim_key *k = dkim_key_generate(i == 0 ? DKIM_RSA_SHA256 : DKIM_ED25519_SHA256,
						       err, errlen);
		struct buf txt;

		buf_init(&pem[i], 16384);
		buf_init(&txt, 4096);
		memset(&keys[i], 0, sizeof(keys[i]));
		if (k == NULL)
			rc = -1;
		else if (dkim_key_private_pem(k, &pem[i]) < 0 || dkim_key_txt(k, &txt) < 0) {
			snprintf(err, errlen, "cannot encode the DKIM key");
			rc = -1;
		} else {
			snprintf(keys[i].selector, sizeof(keys[i].selector), "ph%s%s%c", day, tag,
				 i == 0 ? 'r' : 'e');
			snprintf(keys[i].alg, sizeof(keys[i].alg), "%s",
				 dkim_alg_str(dkim_key_alg(k)));
			snprintf(keys[i].state, sizeof(keys[i].state), "%s", state);
			keys[i].pem = pem[i].data;
			snprintf(name, sizeof(name), "%s._domainkey.%s", keys[i].selector, domain);
			json_array_append_new(recs, record(name, "TXT", txt.data, "dkim"));
		}
		dkim_key_free(k);
		buf_free(&txt);
	}
	return rc;
}

static void
wipe_pems(struct buf pem[2])
{
	for (int i = 0; i < 2; i++) {
		if (pem[i].data)
			explicit_bzero(pem[i].data, pem[i].len);
		buf_free(&pem[i]);
	}
}

json_t *
domain_create(struct store *st, int64_t account_id, const char *domain, const char *ips,
	      const char *hostname, char *err, size_t errlen)
{
	char name[600], v[600];
	struct store_dkim_key keys[2];
	struct buf pem[2], spf, bspf;
	json_t *out = NULL, *recs = json_array();

	memset(pem, 0, sizeof(pem));
	if (!domain_name_ok(domain)) {
		snprintf(err, errlen, "'%s' is not a domain name", domain);
		json_decref(recs);
		return NULL;
	}
	buf_init(&spf, 1024);
	buf_init(&bspf, 1024);
	if (make_keys(domain, "active", keys, pem, recs, err, errlen) < 0 ||
	    store_domain_add(st, account_id, domain, ips, keys, 2, err, errlen) < 0) {
		json_decref(recs);
		goto out;
	}
	spf_value(ips, "~all", &spf);
	spf_value(ips, "-all", &bspf);
	json_array_append_new(recs, record(domain, "TXT", spf.data, "spf"));
	snprintf(name, sizeof(name), "_dmarc.%s", domain);
	snprintf(v, sizeof(v), "v=DMARC1; p=none; rua=mailto:dmarc-reports@%s", domain);
	json_array_append_new(recs, record(name, "TXT", v, "dmarc"));
	snprintf(name, sizeof(name), DOMAIN_BOUNCE_LABEL ".%s", domain);
	snprintf(v, sizeof(v), "10 %s.", hostname);
	json_array_append_new(recs, record(name, "MX", v, "return_path"));
	json_array_append_new(recs, record(name, "TXT", bspf.data, "return_path"));
	out = json_pack("{s:s,s:[s,s],s:o}", "domain", domain, "selectors", keys[0].selector,
			keys[1].selector, "records", recs);
out:
	wipe_pems(pem);
	buf_free(&spf);
	buf_free(&bspf);
	return out;
}

json_t *
domain_rotate(struct store *st, const struct store_domain *dom, char *err, size_t errlen)
{
	struct store_dkim_key keys[2];
	struct buf pem[2];
	json_t *recs = json_array(), *out = NULL;

	memset(pem, 0, sizeof(pem));
	/* New keys wait as pending until DNS has them (domain_check). */
	if (store_dkim_keys_move(st, dom->id, "pending", "retired") < 0 ||
	    make_keys(dom->domain, "pending", keys, pem, recs, err, errlen) < 0 ||
	    store_dkim_keys_add(st, dom->id, keys, 2) < 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "cannot store the new keys");
		json_decref(recs);
		goto out;
	}
	out = json_pack("{s:s,s:[s,s],s:o}", "domain", dom->domain, "selectors", keys[0].selector,
			keys[1].selector, "records", recs);
out:
	wipe_pems(pem);
	return out;
}

int
domain_retire(struct store *st, const struct store_domain *dom)
{
	return store_dkim_keys_move(st, dom->id, "retiring", "retired");
}

#define RR_TXT 16
#define RR_MX 15

/* The TXT records at name, each with its strings joined. */
static enum dns_rcode
lookup_txt(struct dns_sync *dns, const char *name, char ***out, size_t *n)
{
	struct dns_rrset rs;
	enum dns_rcode rc;

	*out = NULL;
	*n = 0;
	dns_sync_query(dns, name, RR_TXT, &rs);
	rc = rs.rcode;
	if (rs.rcode == DNS_ANSWER) {
		*out = xcalloc(rs.n, sizeof(char *));
		for (size_t i = 0; i < rs.n; i++) {
			struct buf b;

			buf_init(&b, 65536);
			/* RFC 1035 3.3.14: length-prefixed strings; DKIM keys span two. */
			for (size_t p = 0; p < rs.len[i];) {
				size_t l = rs.rdata[i][p];

				if (p + 1 + l > rs.len[i] ||
				    buf_append(&b, rs.rdata[i] + p + 1, l) < 0)
					break;
				p += 1 + l;
			}
			(*out)[(*n)++] = buf_steal(&b);
		}
	}
	dns_rrset_free(&rs);
	return rc;
}

static void
free_strs(char **s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s[i]);
	free(s);
}

/* spf_lookup_fn over the synchronous resolver. */
static enum spf_dns_status
spf_lookup(void *arg, const char *name, enum spf_rrtype type, struct spf_rr **rrs, size_t *n)
{
	struct dns_sync *dns = arg;
	struct dns_rrset rs;
	enum spf_dns_status st;

	*rrs = NULL;
	*n = 0;
	if (type == SPF_RR_TXT) {
		char **t;
		size_t k;
		enum dns_rcode rc = lookup_txt(dns, name, &t, &k);

		if (rc != DNS_ANSWER)
			return rc == DNS_NAME_ERROR ? SPF_DNS_NXDOMAIN
			       : rc == DNS_NO_DATA  ? SPF_DNS_NODATA
						    : SPF_DNS_TEMPFAIL;
		*rrs = xcalloc(k, sizeof(**rrs));
		for (size_t i = 0; i < k; i++) {
			(*rrs)[i].type = SPF_RR_TXT;
			(*rrs)[i].txt = t[i];
		}
		free(t);
		*n = k;
		return SPF_DNS_OK;
	}
	dns_sync_query(dns, name, (int)type, &rs);
	st = rs.rcode == DNS_ANSWER	  ? SPF_DNS_OK
	     : rs.rcode == DNS_NAME_ERROR ? SPF_DNS_NXDOMAIN
	     : rs.rcode == DNS_NO_DATA	  ? SPF_DNS_NODATA
					  : SPF_DNS_TEMPFAIL;
	if (st == SPF_DNS_OK) {
		*rrs = xcalloc(rs.n, sizeof(**rrs));
		for (size_t i = 0; i < rs.n; i++) {
			struct spf_rr *r = &(*rrs)[*n];

			r->type = type;
			if (type == SPF_RR_A && rs.len[i] == 4)
				memcpy(r->addr, rs.rdata[i], 4);
			else if (type == SPF_RR_AAAA && rs.len[i] == 16)
				memcpy(r->addr, rs.rdata[i], 16);
			else if (type == SPF_RR_MX && rs.len[i] > 2) {
				r->pref = rs.rdata[i][0] << 8 | rs.rdata[i][1];
				if (dns_wire_name(rs.rdata[i] + 2, rs.len[i] - 2, r->name,
						  sizeof(r->name)) < 0)
					continue;
			} else if (type == SPF_RR_PTR) {
				if (dns_wire_name(rs.rdata[i], rs.len[i], r->name,
						  sizeof(r->name)) < 0)
					continue;
			} else {
				continue;
			}
			(*n)++;
		}
	}
	dns_rrset_free(&rs);
	return st;
}

static void
check_add(json_t *checks, const char *name, int ok, const char *detail)
{
	json_array_append_new(checks, json_pack("{s:s,s:s,s:s}", "check", name, "result",
						ok ? "pass" : "fail", "detail", detail));
}

/* SPF for every sending IP at one domain; appends one check per IP. */
static int
check_spf(struct dns_sync *dns, const char *domain, const char *ips, const char *label,
	  json_t *checks)
{
	char tmp[512], *save = NULL, *tok, sender[300], detail[8192], name[64];
	int all_ok = 1;

	snprintf(tmp, sizeof(tmp), "%s", ips);
	snprintf(sender, sizeof(sender), "postmaster@%s", domain);
	for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct spf_request rq;
		struct spf_outcome *o = xcalloc(1, sizeof(*o));

		memset(&rq, 0, sizeof(rq));
		rq.family = strchr(tok, ':') ? AF_INET6 : AF_INET;
		if (inet_pton(rq.family, tok, rq.ip) != 1) {
			free(o);
			continue;
		}
		rq.domain = domain;
		rq.sender = sender;
		rq.helo = domain;
		spf_check_host(spf_lookup, dns, &rq, o);
		snprintf(detail, sizeof(detail), "%s for %s: %s%s%s", spf_result_str(o->result),
			 tok, o->reason, o->record[0] ? " Record: " : "", o->record);
		snprintf(name, sizeof(name), "%s", label);
		check_add(checks, name, o->result == SPF_PASS, detail);
		all_ok &= o->result == SPF_PASS;
		free(o);
	}
	return all_ok;
}


json_t *
domain_check(struct store *st, struct dns_sync *dns, const struct store_domain *dom,
	     const char *hostname, int *verified)
{
	char name[600], why[1500], err[512], bounce[300];
	struct store_dkim_key *keys = NULL;
	size_t nkeys = 0;
	json_t *checks = json_array();
	int dkim_ok = 1, pending_ok = 1;
	size_t nactive = 0, npending = 0;

	if (store_domain_keys(st, dom->id, &keys, &nkeys) < 0) {
		json_decref(checks);
		return NULL;
	}
	/* DKIM: every key we sign with must be published as generated; new
	 * (pending) keys are checked too, and replace the old ones once DNS
	 * has all of them (RFC 6376 3.6.1: publish before signing). */
	for (size_t i = 0; i < nkeys; i++) {
		const char *label = strcmp(keys[i].state, "active") == 0	? "dkim"
				    : strcmp(keys[i].state, "pending") == 0 ? "dkim_pending"
									    : "dkim_retiring";
		struct dkim_key *k = dkim_key_load_pem(keys[i].pem, strlen(keys[i].pem), err,
						       sizeof(err));
		char **txt;
		size_t n, matched = 0;
		enum dns_rcode r;

		snprintf(name, sizeof(name), "%s._domainkey.%s", keys[i].selector, dom->domain);
		if (k == NULL) {
			check_add(checks, label, 0, err);
			dkim_ok = 0;
			continue;
		}
		r = lookup_txt(dns, name, &txt, &n);
		if (r != DNS_ANSWER) {
			snprintf(why, sizeof(why), "%s: %s", name,
				 r == DNS_SERVER_FAIL ? "DNS lookup failed; try again"
						      : "no TXT record published yet");
		} else {
			for (size_t t = 0; t < n && !matched; t++)
				matched = dkim_txt_matches(k, txt[t], why, sizeof(why)) == 0;
			if (matched)
				snprintf(why, sizeof(why), "%s publishes the %s key", name,
					 keys[i].alg);
		}
		if (r == DNS_ANSWER && !matched) {
			char tmp[2200];

			snprintf(tmp, sizeof(tmp), "%s: %s", name, why);
			check_add(checks, label, 0, tmp);
		} else {
			check_add(checks, label, (int)matched, why);
		}
		if (strcmp(label, "dkim") == 0) {
			dkim_ok &= (int)matched;
			nactive++;
		} else if (strcmp(label, "dkim_pending") == 0) {
			pending_ok &= (int)matched;
			npending++;
		}
		free_strs(txt, n);
		dkim_key_free(k);
	}
	/* SPF on the From domain and on the return-path (bounce) subdomain. */
	snprintf(bounce, sizeof(bounce), DOMAIN_BOUNCE_LABEL ".%s", dom->domain);
	check_spf(dns, dom->domain, dom->sending_ips, "spf", checks);
	check_spf(dns, bounce, dom->sending_ips, "return_path_spf", checks);
	/* Return path MX: bounces must come back to us. */
	{
		struct dns_rrset rs;
		int ok = 0;

		dns_sync_query(dns, bounce, RR_MX, &rs);
		for (size_t i = 0; i < rs.n && !ok; i++) {
			char mx[300];

			if (rs.len[i] > 2 &&
			    dns_wire_name(rs.rdata[i] + 2, rs.len[i] - 2, mx, sizeof(mx)) >= 0 &&
			    strcasecmp(mx, hostname) == 0)
				ok = 1;
		}
		snprintf(why, sizeof(why), ok ? "%s MX points at %s" : "%s needs an MX record pointing "
								       "at %s (for bounces)",
			 bounce, hostname);
		check_add(checks, "return_path_mx", ok, why);
		dns_rrset_free(&rs);
	}
	/* DMARC: published, and what alignment it asks for. */
	{
		char **txt;
		size_t n;
		struct dmarc_record dm;
		int found = 0;

		snprintf(name, sizeof(name), "_dmarc.%s", dom->domain);
		if (lookup_txt(dns, name, &txt, &n) == DNS_ANSWER)
			for (size_t t = 0; t < n && !found; t++)
				found = dmarc_parse(txt[t], &dm, why, sizeof(why)) == 0;
		if (!found) {
			char tmp[2200];

			snprintf(tmp, sizeof(tmp), "%s: no valid DMARC record%s%s", name,
				 n ? ": " : "", n ? why : "");
			check_add(checks, "dmarc", 0, tmp);
		} else {
			char tmp[1200];

			snprintf(tmp, sizeof(tmp),
				 "policy p=%s; DKIM d=%s aligns (adkim=%c); SPF on %s %s (aspf=%c)",
				 dm.p, dom->domain, dm.adkim, bounce,
				 dmarc_aligned(bounce, dom->domain, dm.aspf) ? "aligns"
									    : "does not align",
				 dm.aspf);
			check_add(checks, "dmarc", 1, tmp);
		}
		free_strs(txt, n);
	}
	if (npending > 0 && pending_ok) {
		/* Rotation: the new keys are in DNS, so they sign from now on. */
		if (store_dkim_keys_move(st, dom->id, "active", "retiring") >= 0 &&
		    store_dkim_keys_move(st, dom->id, "pending", "active") >= 0) {
			check_add(checks, "dkim_rotation", 1,
				  "the new keys are published and sign from now on; keep the old "
				  "ones published for a few days, then run posthaste domain retire");
			nactive = npending;
			dkim_ok = 1;
		}
	}
	{
		char *text = json_dumps(checks, JSON_COMPACT);

		if (store_domain_set_checks(st, dom->id, dkim_ok && nactive > 0, text) < 0)
			log_warn("domain %s check results not stored", dom->domain);
		free(text);
	}
	store_dkim_keys_free(keys, nkeys);
	*verified = dkim_ok && nactive > 0;
	return checks;
}
