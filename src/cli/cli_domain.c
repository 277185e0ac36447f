/*
 * NAME
 *	cli_domain - posthaste domain add|verify|list
 * SYNOPSIS
 *	posthaste domain add DOMAIN --account NAME [--ip ADDR]... [--hostname NAME] [--json]
 *	posthaste domain verify DOMAIN [--dns ADDR@PORT] [--hostname NAME] [--json]
 * DESCRIPTION
 *	add generates an RSA-2048 and an Ed25519 DKIM key under dated
 *	selectors (phYYYYMMDDr, phYYYYMMDDe) and prints every record to
 *	publish: both DKIM keys, the SPF mechanism for the sending IPs, a
 *	DMARC record to start with, and the return-path (bounce.DOMAIN)
 *	MX and SPF records.
 *
 *	verify looks the records up through posthaste's own resolver and
 *	checks each: the DKIM keys match ours (this is what verifies the
 *	domain: only its owner can publish them), SPF (RFC 7208) passes for
 *	every sending IP on the domain and on the bounce subdomain, DMARC is
 *	published and DKIM/SPF align with it, the bounce subdomain's MX
 *	points at us. Each check passes or fails with a reason; the results
 *	are kept with the domain. Exit 0 when the domain is verified.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli_int.h"
#include "dkim/dkim.h"
#include "dns/dns.h"
#include "spf/spf.h"

#define DOMAIN_IPS_MAX 16
#define BOUNCE_LABEL "bounce"

static int
domain_usage(void)
{
	fprintf(stderr,
		"usage: posthaste domain add DOMAIN --account NAME [--ip ADDR]... [--hostname NAME] "
		"[--json]\n"
		"       posthaste domain verify DOMAIN [--dns ADDR@PORT] [--hostname NAME] "
		"[--json]\n");
	return 2;
}

static int
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

static void
default_hostname(char *out, size_t n)
{
	if (gethostname(out, n) < 0)
		snprintf(out, n, "localhost");
	out[n - 1] = '\0';
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

/* Print a TXT value as zone-file strings of at most 255 octets. */
static void
print_txt(const char *name, const char *value)
{
	size_t n = strlen(value);

	printf("  %-40s TXT ", name);
	for (size_t i = 0; i < n; i += 255)
		printf("%s\"%.*s\"", i ? " " : "", (int)(n - i < 255 ? n - i : 255), value + i);
	putchar('\n');
}

static int
domain_add(int argc, char **argv)
{
	const char *data_dir = CLI_DEFAULT_DATA_DIR, *domain = NULL, *acct = NULL, *host = NULL;
	char hostname[256], ips[512] = "", sel[2][64], name[320], day[16], err[512];
	struct store_dkim_key keys[2];
	struct dkim_key *k[2] = {NULL, NULL};
	struct buf pem[2], txt[2], spf, bspf;
	int json = 0, rc = 1;
	int64_t account_id;
	struct store *st;
	time_t now = time(NULL);
	struct tm tm;

	for (int i = 2; i < argc; i++) {
		if (cli_take_data_dir(argc, argv, &i, &data_dir))
			continue;
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--account") == 0 && i + 1 < argc)
			acct = argv[++i];
		else if (strcmp(argv[i], "--hostname") == 0 && i + 1 < argc)
			host = argv[++i];
		else if (strcmp(argv[i], "--ip") == 0 && i + 1 < argc) {
			unsigned char a[16];
			const char *ip = argv[++i];

			if (inet_pton(AF_INET, ip, a) != 1 && inet_pton(AF_INET6, ip, a) != 1) {
				fprintf(stderr, "posthaste: --ip %s is not an IP address\n", ip);
				return 2;
			}
			if (strlen(ips) + strlen(ip) + 2 >= sizeof(ips)) {
				fprintf(stderr, "posthaste: too many --ip addresses\n");
				return 2;
			}
			if (ips[0])
				strncat(ips, ",", sizeof(ips) - strlen(ips) - 1);
			strncat(ips, ip, sizeof(ips) - strlen(ips) - 1);
		} else if (argv[i][0] == '-')
			return domain_usage();
		else if (domain == NULL)
			domain = argv[i];
		else
			return domain_usage();
	}
	if (domain == NULL || acct == NULL)
		return domain_usage();
	if (!domain_name_ok(domain)) {
		fprintf(stderr, "posthaste: '%s' is not a domain name\n", domain);
		return 2;
	}
	if (ips[0] == '\0') {
		fprintf(stderr, "posthaste: give the sending IP addresses with --ip (they go into "
				"the SPF record)\n");
		return 2;
	}
	if (host)
		snprintf(hostname, sizeof(hostname), "%s", host);
	else
		default_hostname(hostname, sizeof(hostname));
	if ((st = cli_open_store(data_dir, 0)) == NULL)
		return 1;
	if (store_account_id(st, acct, &account_id) < 0) {
		fprintf(stderr, "posthaste: no account named '%s'\n", acct);
		store_close(st);
		return 1;
	}
	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	snprintf(sel[0], sizeof(sel[0]), "ph%sr", day);
	snprintf(sel[1], sizeof(sel[1]), "ph%se", day);
	for (int i = 0; i < 2; i++) {
		buf_init(&pem[i], 16384);
		buf_init(&txt[i], 4096);
	}
	buf_init(&spf, 1024);
	buf_init(&bspf, 1024);
	for (int i = 0; i < 2; i++) {
		k[i] = dkim_key_generate(i == 0 ? DKIM_RSA_SHA256 : DKIM_ED25519_SHA256, err,
					 sizeof(err));
		if (k[i] == NULL || dkim_key_private_pem(k[i], &pem[i]) < 0 ||
		    dkim_key_txt(k[i], &txt[i]) < 0) {
			fprintf(stderr, "posthaste: DKIM key: %s\n", k[i] ? "cannot encode" : err);
			goto out;
		}
		memset(&keys[i], 0, sizeof(keys[i]));
		snprintf(keys[i].selector, sizeof(keys[i].selector), "%s", sel[i]);
		snprintf(keys[i].alg, sizeof(keys[i].alg), "%s", dkim_alg_str(dkim_key_alg(k[i])));
		keys[i].pem = pem[i].data;
	}
	if (store_domain_add(st, account_id, domain, ips, keys, 2, err, sizeof(err)) < 0) {
		fprintf(stderr, "posthaste: %s\n", err);
		goto out;
	}
	spf_value(ips, "~all", &spf);
	spf_value(ips, "-all", &bspf);
	if (json) {
		json_t *o = json_object(), *recs = json_array();

		for (int i = 0; i < 2; i++) {
			snprintf(name, sizeof(name), "%s._domainkey.%s", sel[i], domain);
			json_array_append_new(recs, json_pack("{s:s,s:s,s:s,s:s}", "name", name,
							      "type", "TXT", "value", txt[i].data,
							      "purpose", "dkim"));
		}
		json_array_append_new(recs, json_pack("{s:s,s:s,s:s,s:s}", "name", domain, "type",
						      "TXT", "value", spf.data, "purpose", "spf"));
		snprintf(name, sizeof(name), "_dmarc.%s", domain);
		{
			char v[400];

			snprintf(v, sizeof(v), "v=DMARC1; p=none; rua=mailto:dmarc-reports@%s",
				 domain);
			json_array_append_new(recs, json_pack("{s:s,s:s,s:s,s:s}", "name", name,
							      "type", "TXT", "value", v, "purpose",
							      "dmarc"));
		}
		snprintf(name, sizeof(name), BOUNCE_LABEL ".%s", domain);
		{
			char v[300];

			snprintf(v, sizeof(v), "10 %s.", hostname);
			json_array_append_new(recs, json_pack("{s:s,s:s,s:s,s:s}", "name", name,
							      "type", "MX", "value", v, "purpose",
							      "return_path"));
		}
		json_array_append_new(recs, json_pack("{s:s,s:s,s:s,s:s}", "name", name, "type",
						      "TXT", "value", bspf.data, "purpose",
						      "return_path"));
		json_object_set_new(o, "domain", json_string(domain));
		json_object_set_new(o, "account", json_string(acct));
		json_object_set_new(o, "selectors", json_pack("[s,s]", sel[0], sel[1]));
		json_object_set_new(o, "records", recs);
		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
	} else {
		printf("Domain %s added to account %s. Publish these DNS records:\n\n", domain, acct);
		for (int i = 0; i < 2; i++) {
			snprintf(name, sizeof(name), "%s._domainkey.%s.", sel[i], domain);
			print_txt(name, txt[i].data);
		}
		snprintf(name, sizeof(name), "%s.", domain);
		print_txt(name, spf.data);
		printf("  %-40s     (already have SPF? add the ip4:/ip6: terms to it instead)\n", "");
		snprintf(name, sizeof(name), "_dmarc.%s.", domain);
		{
			char v[400];

			snprintf(v, sizeof(v), "v=DMARC1; p=none; rua=mailto:dmarc-reports@%s",
				 domain);
			print_txt(name, v);
		}
		snprintf(name, sizeof(name), BOUNCE_LABEL ".%s.", domain);
		printf("  %-40s MX  10 %s.\n", name, hostname);
		print_txt(name, bspf.data);
		printf("\nThen run: posthaste domain verify %s\n", domain);
	}
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		dkim_key_free(k[i]);
		if (pem[i].data)
			explicit_bzero(pem[i].data, pem[i].len);
		buf_free(&pem[i]);
		buf_free(&txt[i]);
	}
	buf_free(&spf);
	buf_free(&bspf);
	store_close(st);
	return rc;
}

/* --- verify ------------------------------------------------------------- */

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

static int
domain_verify(int argc, char **argv)
{
	const char *data_dir = CLI_DEFAULT_DATA_DIR, *domain = NULL, *fwd = NULL, *host = NULL;
	char hostname[256], name[600], why[1500], err[512], bounce[300];
	struct store_domain dom;
	struct store_dkim_key *keys = NULL;
	size_t nkeys = 0;
	struct dns_sync *dns = NULL;
	struct store *st;
	json_t *checks = json_array(), *out;
	int json = 0, dkim_ok = 1, rc = 1;

	for (int i = 2; i < argc; i++) {
		if (cli_take_data_dir(argc, argv, &i, &data_dir))
			continue;
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--dns") == 0 && i + 1 < argc)
			fwd = argv[++i];
		else if (strcmp(argv[i], "--hostname") == 0 && i + 1 < argc)
			host = argv[++i];
		else if (argv[i][0] == '-' || domain) {
			json_decref(checks);
			return domain_usage();
		} else
			domain = argv[i];
	}
	if (domain == NULL) {
		json_decref(checks);
		return domain_usage();
	}
	if (host)
		snprintf(hostname, sizeof(hostname), "%s", host);
	else
		default_hostname(hostname, sizeof(hostname));
	if ((st = cli_open_store(data_dir, 0)) == NULL) {
		json_decref(checks);
		return 1;
	}
	if (store_domain_get(st, 0, domain, &dom) < 0) {
		fprintf(stderr, "posthaste: no domain %s (add it with posthaste domain add)\n",
			domain);
		goto out;
	}
	if ((dns = dns_sync_new(fwd, err, sizeof(err))) == NULL) {
		fprintf(stderr, "posthaste: %s\n", err);
		goto out;
	}
	if (store_domain_keys(st, dom.id, &keys, &nkeys) < 0)
		goto out;
	/* DKIM: every key we sign with must be published as generated. */
	for (size_t i = 0; i < nkeys; i++) {
		struct dkim_key *k = dkim_key_load_pem(keys[i].pem, strlen(keys[i].pem), err,
						       sizeof(err));
		char **txt;
		size_t n, matched = 0;
		enum dns_rcode r;

		snprintf(name, sizeof(name), "%s._domainkey.%s", keys[i].selector, dom.domain);
		if (k == NULL) {
			check_add(checks, "dkim", 0, err);
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
			check_add(checks, "dkim", 0, tmp);
		} else {
			check_add(checks, "dkim", (int)matched, why);
		}
		dkim_ok &= (int)matched;
		free_strs(txt, n);
		dkim_key_free(k);
	}
	/* SPF on the From domain and on the return-path (bounce) subdomain. */
	snprintf(bounce, sizeof(bounce), BOUNCE_LABEL ".%s", dom.domain);
	check_spf(dns, dom.domain, dom.sending_ips, "spf", checks);
	check_spf(dns, bounce, dom.sending_ips, "return_path_spf", checks);
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

		snprintf(name, sizeof(name), "_dmarc.%s", dom.domain);
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
				 dm.p, dom.domain, dm.adkim, bounce,
				 dmarc_aligned(bounce, dom.domain, dm.aspf) ? "aligns"
									    : "does not align",
				 dm.aspf);
			check_add(checks, "dmarc", 1, tmp);
		}
		free_strs(txt, n);
	}
	{
		char *text = json_dumps(checks, JSON_COMPACT);

		if (store_domain_set_checks(st, dom.id, dkim_ok && nkeys > 0, text) < 0)
			fprintf(stderr, "posthaste: cannot store the check results\n");
		free(text);
	}
	if (json) {
		out = json_pack("{s:s,s:b,s:O}", "domain", dom.domain, "verified",
				dkim_ok && nkeys > 0, "checks", checks);
		json_dumpf(out, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(out);
	} else {
		size_t i;
		json_t *c;

		printf("Domain %s: %s\n", dom.domain,
		       dkim_ok && nkeys > 0 ? "verified" : "NOT verified (DKIM keys not published)");
		json_array_foreach(checks, i, c)
		{
			printf("  %-4s %-16s %s\n",
			       strcmp(json_string_value(json_object_get(c, "result")), "pass") == 0
				       ? "ok"
				       : "FAIL",
			       json_string_value(json_object_get(c, "check")),
			       json_string_value(json_object_get(c, "detail")));
		}
	}
	rc = dkim_ok && nkeys > 0 ? 0 : 1;
out:
	store_dkim_keys_free(keys, nkeys);
	dns_sync_free(dns);
	json_decref(checks);
	store_close(st);
	return rc;
}

int
cli_domain_main(int argc, char **argv)
{
	if (argc < 2)
		return domain_usage();
	if (strcmp(argv[1], "add") == 0)
		return domain_add(argc, argv);
	if (strcmp(argv[1], "verify") == 0)
		return domain_verify(argc, argv);
	return domain_usage();
}
