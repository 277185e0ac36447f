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

static void
default_hostname(char *out, size_t n)
{
	if (gethostname(out, n) < 0)
		snprintf(out, n, "localhost");
	out[n - 1] = '\0';
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

static int
domain_add(int argc, char **argv)
{
	const char *data_dir = CLI_DEFAULT_DATA_DIR, *domain = NULL, *acct = NULL, *host = NULL;
	char hostname[256], ips[512] = "", err[512];
	int json = 0;
	int64_t account_id;
	struct store *st;
	json_t *out;

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
		} else if (argv[i][0] == '-' || domain)
			return domain_usage();
		else
			domain = argv[i];
	}
	if (domain == NULL || acct == NULL)
		return domain_usage();
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
	out = domain_create(st, account_id, domain, ips, hostname, err, sizeof(err));
	store_close(st);
	if (out == NULL) {
		fprintf(stderr, "posthaste: %s\n", err);
		return 1;
	}
	if (json) {
		json_object_set_new(out, "account", json_string(acct));
		json_dumpf(out, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		size_t i;
		json_t *r;

		printf("Domain %s added to account %s. Publish these DNS records:\n\n", domain, acct);
		json_array_foreach(json_object_get(out, "records"), i, r)
		{
			print_record(r);
		}
		printf("\nThen run: posthaste domain verify %s\n", domain);
	}
	json_decref(out);
	return 0;
}

static int
domain_verify(int argc, char **argv)
{
	const char *data_dir = CLI_DEFAULT_DATA_DIR, *domain = NULL, *fwd = NULL, *host = NULL;
	char hostname[256], err[512];
	struct store_domain dom;
	struct dns_sync *dns;
	struct store *st;
	json_t *checks;
	int json = 0, verified = 0;

	for (int i = 2; i < argc; i++) {
		if (cli_take_data_dir(argc, argv, &i, &data_dir))
			continue;
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--dns") == 0 && i + 1 < argc)
			fwd = argv[++i];
		else if (strcmp(argv[i], "--hostname") == 0 && i + 1 < argc)
			host = argv[++i];
		else if (argv[i][0] == '-' || domain)
			return domain_usage();
		else
			domain = argv[i];
	}
	if (domain == NULL)
		return domain_usage();
	if (host)
		snprintf(hostname, sizeof(hostname), "%s", host);
	else
		default_hostname(hostname, sizeof(hostname));
	if ((st = cli_open_store(data_dir, 0)) == NULL)
		return 1;
	if (store_domain_get(st, 0, domain, &dom) < 0) {
		fprintf(stderr, "posthaste: no domain %s (add it with posthaste domain add)\n",
			domain);
		store_close(st);
		return 1;
	}
	if ((dns = dns_sync_new(fwd, err, sizeof(err))) == NULL) {
		fprintf(stderr, "posthaste: %s\n", err);
		store_close(st);
		return 1;
	}
	checks = domain_check(st, dns, &dom, hostname, &verified);
	dns_sync_free(dns);
	store_close(st);
	if (checks == NULL) {
		fprintf(stderr, "posthaste: cannot read the domain's keys\n");
		return 1;
	}
	if (json) {
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
	const char *data_dir = CLI_DEFAULT_DATA_DIR, *domain = NULL;
	struct store_domain dom;
	struct store *st;
	char err[512] = "";
	int json = 0, rc = 1;

	for (int i = 2; i < argc; i++) {
		if (cli_take_data_dir(argc, argv, &i, &data_dir))
			continue;
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (argv[i][0] == '-' || domain)
			return domain_usage();
		else
			domain = argv[i];
	}
	if (domain == NULL)
		return domain_usage();
	if ((st = cli_open_store(data_dir, 0)) == NULL)
		return 1;
	if (store_domain_get(st, 0, domain, &dom) < 0) {
		fprintf(stderr, "posthaste: no domain %s\n", domain);
	} else if (strcmp(argv[1], "rotate") == 0) {
		json_t *out = domain_rotate(st, &dom, err, sizeof(err));

		if (out == NULL) {
			fprintf(stderr, "posthaste: %s\n", err);
		} else if (json) {
			json_dumpf(out, stdout, JSON_INDENT(2));
			putchar('\n');
			rc = 0;
		} else {
			size_t i;
			json_t *r;

			printf("New DKIM keys for %s. Publish these records next to the current "
			       "ones:\n\n",
			       dom.domain);
			json_array_foreach(json_object_get(out, "records"), i, r)
			{
				print_record(r);
			}
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
