/*
 * NAME
 *	cli_domain - posthaste domain add|verify
 * SYNOPSIS
 *	posthaste domain add DOMAIN --account NAME --ip ADDR... [--hostname NAME] [--json]
 *	posthaste domain verify DOMAIN [--dns ADDR@PORT] [--hostname NAME] [--json]
 *	posthaste domain rotate DOMAIN [--json]     new keys, signing once published
 *	posthaste domain retire DOMAIN              the replaced keys may leave DNS
 * DESCRIPTION
 *	The command-line face of the domain module (keys, records, checks).
 *	verify exits 0 when the domain is verified.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>

#include "cli/cli_int.h"
#include "domain/domain.h"

static int
domain_usage(void)
{
	fprintf(stderr,
		"usage: posthaste domain add DOMAIN --account NAME --ip ADDR... [--hostname NAME] "
		"[--json]\n"
		"       posthaste domain verify DOMAIN [--dns ADDR@PORT] [--hostname NAME] "
		"[--json]\n"
		"       posthaste domain rotate DOMAIN [--json]\n"
		"       posthaste domain retire DOMAIN\n");
	return 2;
}

/* What the domain subcommands take: DOMAIN, --data-dir and --json always,
 * and the options named in opts. */
enum { ARG_ACCOUNT = 1, ARG_IP = 2, ARG_DNS = 4, ARG_HOSTNAME = 8 };
struct domain_args {
	const char *data_dir, *domain, *account, *dns;
	char hostname[256]; /* --hostname, or this machine's name */
	char ips[512];      /* the --ip addresses, comma-separated */
	int json;
};

/* 0, or the exit status after saying what is wrong. */
static int
domain_args(int argc, char **argv, unsigned opts, struct domain_args *a)
{
	const char *host = NULL;

	memset(a, 0, sizeof(*a));
	a->data_dir = CLI_DEFAULT_DATA_DIR;
	for (int i = 2; i < argc; i++) {
		const char *opt = argv[i];
		int more = i + 1 < argc;

		if (cli_take_data_dir(argc, argv, &i, &a->data_dir))
			continue;
		if (strcmp(opt, "--json") == 0)
			a->json = 1;
		else if ((opts & ARG_ACCOUNT) && strcmp(opt, "--account") == 0 && more)
			a->account = argv[++i];
		else if ((opts & ARG_DNS) && strcmp(opt, "--dns") == 0 && more)
			a->dns = argv[++i];
		else if ((opts & ARG_HOSTNAME) && strcmp(opt, "--hostname") == 0 && more)
			host = argv[++i];
		else if ((opts & ARG_IP) && strcmp(opt, "--ip") == 0 && more) {
			unsigned char bin[16];
			const char *ip = argv[++i];

			if (inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1) {
				fprintf(stderr, "posthaste: --ip %s is not an IP address\n", ip);
				return 2;
			}
			if (strlen(a->ips) + strlen(ip) + 2 >= sizeof(a->ips)) {
				fprintf(stderr, "posthaste: too many --ip addresses\n");
				return 2;
			}
			if (a->ips[0])
				strncat(a->ips, ",", sizeof(a->ips) - strlen(a->ips) - 1);
			strncat(a->ips, ip, sizeof(a->ips) - strlen(a->ips) - 1);
		} else if (opt[0] == '-' || a->domain)
			return domain_usage();
		else
			a->domain = opt;
	}
	if (a->domain == NULL || ((opts & ARG_ACCOUNT) && a->account == NULL))
		return domain_usage();
	if (host)
		snprintf(a->hostname, sizeof(a->hostname), "%s", host);
	else
		host_name(a->hostname, sizeof(a->hostname));
	return 0;
}

/* A record as a zone-file line; TXT values as strings of <= 255 octets. */
static void
print_record(const json_t *r)
{
	const char *name = json_string_value(json_object_get(r, "name"));
	const char *type = json_string_value(json_object_get(r, "type"));
	const char *value = json_string_value(json_object_get(r, "value"));
	char fq[600];
	size_t n = strlen(value);

	snprintf(fq, sizeof(fq), "%s.", name);
	printf("  %-40s %-3s ", fq, type);
	if (strcmp(type, "TXT") != 0) {
		printf("%s\n", value);
		return;
	}
	for (size_t i = 0; i < n; i += 255)
		printf("%s\"%.*s\"", i ? " " : "", (int)(n - i < 255 ? n - i : 255), value + i);
	putchar('\n');
	if (strcmp(json_string_value(json_object_get(r, "purpose")), "spf") == 0)
		printf("  %-44s (already have SPF? add the ip4:/ip6: terms to it instead)\n", "");
}

/* The records of a reply from domain_create or domain_rotate. */
static void
print_records(const json_t *out)
{
	size_t i;
	json_t *r;

	json_array_foreach(json_object_get(out, "records"), i, r)
	{
		print_record(r);
	}
}

static int
domain_add(int argc, char **argv)
{
	struct domain_args a;
	char err[512];
	int64_t account_id;
	struct store *st;
	json_t *out;
	int rc;

	if ((rc = domain_args(argc, argv, ARG_ACCOUNT | ARG_IP | ARG_HOSTNAME, &a)) != 0)
		return rc;
	if (a.ips[0] == '\0') {
		fprintf(stderr, "posthaste: give the sending IP addresses with --ip (they go into "
				"the SPF record)\n");
		return 2;
	}
	if ((st = cli_open_store(a.data_dir, 0)) == NULL)
		return 1;
	if (store_account_id(st, a.account, &account_id) < 0) {
		fprintf(stderr, "posthaste: no account named '%s'\n", a.account);
		store_close(st);
		return 1;
	}
	out = domain_create(st, account_id, a.domain, a.ips, a.hostname, err, sizeof(err));
	store_close(st);
	if (out == NULL) {
		fprintf(stderr, "posthaste: %s\n", err);
		return 1;
	}
	if (a.json) {
		json_object_set_new(out, "account", json_string(a.account));
		json_dumpf(out, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		printf("Domain %s added to account %s. Publish these DNS records:\n\n", a.domain,
		       a.account);
		print_records(out);
		printf("\nThen run: posthaste domain verify %s\n", a.domain);
	}
	json_decref(out);
	return 0;
}

static int
domain_verify(int argc, char **argv)
{
	struct domain_args a;
	char err[512];
	struct store_domain dom;
	struct dns_sync *dns;
	struct store *st;
	json_t *checks;
	int verified = 0, rc;

	if ((rc = domain_args(argc, argv, ARG_DNS | ARG_HOSTNAME, &a)) != 0)
		return rc;
	if ((st = cli_open_store(a.data_dir, 0)) == NULL)
		return 1;
	if (store_domain_get(st, 0, a.domain, &dom) < 0) {
		fprintf(stderr, "posthaste: no domain %s (add it with posthaste domain add)\n",
			a.domain);
		store_close(st);
		return 1;
	}
	if ((dns = dns_sync_new(a.dns, err, sizeof(err))) == NULL) {
		fprintf(stderr, "posthaste: %s\n", err);
		store_close(st);
		return 1;
	}
	checks = domain_check(st, dns, &dom, a.hostname, &verified);
	dns_sync_free(dns);
	store_close(st);
	if (checks == NULL) {
		fprintf(stderr, "posthaste: cannot read the domain's keys\n");
		return 1;
	}
	if (a.json) {
		json_t *out = json_pack("{s:s,s:b,s:O}", "domain", dom.domain, "verified", verified,
					"checks", checks);

		json_dumpf(out, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(out);
	} else {
		size_t i;
		json_t *c;

		printf("Domain %s: %s\n", dom.domain,
		       verified ? "verified" : "NOT verified (DKIM keys not published)");
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
	json_decref(checks);
	return verified ? 0 : 1;
}

/* domain rotate|retire DOMAIN [--json] */
static int
domain_keys(int argc, char **argv)
{
	struct domain_args a;
	struct store_domain dom;
	struct store *st;
	char err[512] = "";
	int rc;

	if ((rc = domain_args(argc, argv, 0, &a)) != 0)
		return rc;
	rc = 1;
	if ((st = cli_open_store(a.data_dir, 0)) == NULL)
		return 1;
	if (store_domain_get(st, 0, a.domain, &dom) < 0) {
		fprintf(stderr, "posthaste: no domain %s\n", a.domain);
	} else if (strcmp(argv[1], "rotate") == 0) {
		json_t *out = domain_rotate(st, &dom, err, sizeof(err));

		if (out == NULL) {
			fprintf(stderr, "posthaste: %s\n", err);
		} else if (a.json) {
			json_dumpf(out, stdout, JSON_INDENT(2));
			putchar('\n');
			rc = 0;
		} else {
			printf("New DKIM keys for %s. Publish these records next to the current "
			       "ones:\n\n",
			       dom.domain);
			print_records(out);
			printf("\nThen run: posthaste domain verify %s (the new keys sign once DNS "
			       "has them)\n",
			       dom.domain);
			rc = 0;
		}
		json_decref(out);
	} else {
		int n = domain_retire(st, &dom);

		if (n < 0)
			fprintf(stderr, "posthaste: cannot retire the keys\n");
		else {
			printf("%d retiring key%s of %s retired: their DNS records may go.\n", n,
			       n == 1 ? "" : "s", dom.domain);
			rc = 0;
		}
	}
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
	if (strcmp(argv[1], "rotate") == 0 || strcmp(argv[1], "retire") == 0)
		return domain_keys(argc, argv);
	return domain_usage();
}
