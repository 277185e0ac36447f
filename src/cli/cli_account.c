/*
 * NAME
 *	cli_account - posthaste account create NAME [--json] [--trust CIDR]...
 * DESCRIPTION
 *	Prints the API key and SMTP credentials once; only their yescrypt
 *	hashes are stored. An account sends only from its verified domains
 *	(posthaste domain add/verify) unless created --allow-unverified,
 *	for development.
 */
#include <string.h>

#include <jansson.h>

#include "cli/cli_int.h"

static int
account_usage(void)
{
	fprintf(stderr, "usage: posthaste account create NAME [--data-dir DIR] [--json] "
			"[--trust CIDR]... [--allow-unverified]\n");
	return 2;
}

int
cli_account_main(int argc, char **argv)
{
	const char *data_dir = CLI_DEFAULT_DATA_DIR, *name = NULL;
	const char *trust[STORE_TRUST_MAX + 1];
	size_t ntrust = 0;
	struct store_account_secrets sec;
	struct store *st;
	char err[512];
	int json = 0, allow_unverified = 0, i;

	if (argc < 2 || strcmp(argv[1], "create") != 0)
		return account_usage();
	for (i = 2; i < argc; i++) {
		if (cli_take_data_dir(argc, argv, &i, &data_dir))
			continue;
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--allow-unverified") == 0) {
			allow_unverified = 1;
		} else if (strcmp(argv[i], "--trust") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "posthaste: --trust needs a network (CIDR)\n");
				return 2;
			}
			if (ntrust > STORE_TRUST_MAX) {
				fprintf(stderr, "posthaste: too many --trust networks (at most %d)\n",
					STORE_TRUST_MAX);
				return 2;
			}
			trust[ntrust++] = argv[++i];
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "posthaste: unknown option '%s' for account create\n",
				argv[i]);
			return 2;
		} else if (name == NULL) {
			name = argv[i];
		} else {
			return account_usage();
		}
	}
	if (name == NULL)
		return account_usage();
	if ((st = cli_open_store(data_dir, 1)) == NULL)
		return 1;
	if (store_account_create(st, name, trust, ntrust, &sec, err, sizeof(err)) < 0) {
		fprintf(stderr, "posthaste: %s\n", err);
		store_close(st);
		return 1;
	}
	if (allow_unverified && store_account_set_allow_unverified(st, sec.account_id, 1) < 0) {
		fprintf(stderr, "posthaste: cannot set --allow-unverified\n");
		store_close(st);
		return 1;
	}
	store_close(st);
	if (json) {
		json_t *o = json_pack("{s:s,s:I,s:s,s:s,s:s}", "account", name, "account_id",
				      (json_int_t)sec.account_id, "api_key", sec.api_key,
				      "smtp_username", sec.smtp_username, "smtp_password",
				      sec.smtp_password);
		json_t *tr = json_array();

		for (size_t k = 0; k < ntrust; k++) {
			struct store_trust t;

			if (store_parse_cidr(trust[k], &t) == 0)
				json_array_append_new(tr, json_string(t.text));
		}
		json_object_set_new(o, "trust", tr);
		json_object_set_new(o, "allow_unverified", json_boolean(allow_unverified));
		json_dumpf(o, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(o);
	} else {
		printf("account:        %s\n", name);
		printf("api_key:        %s\n", sec.api_key);
		printf("smtp_username:  %s\n", sec.smtp_username);
		printf("smtp_password:  %s\n", sec.smtp_password);
		for (size_t k = 0; k < ntrust; k++)
			printf("trust:          %s\n", trust[k]);
		printf("\nThese secrets are shown once; posthaste keeps only their hashes.\n");
	}
	explicit_bzero(&sec, sizeof(sec));
	return 0;
}
