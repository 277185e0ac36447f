/*
 * NAME
 *	posthaste - command dispatch
 * SYNOPSIS
 *	posthaste serve|account|trace|queue ... | --version | --help
 */
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "daemon/daemon.h"

static void
usage(FILE *fp)
{
	fputs("usage: posthaste COMMAND [ARGS]\n"
	      "\n"
	      "  serve [-c FILE] [--data-dir DIR] [--smtp ADDR:PORT] [--smtps ADDR:PORT]\n"
	      "        [--http ADDR:PORT] [--dns ADDR@PORT] [--mx-port PORT] [--hostname NAME]\n"
	      "        [--log-level LEVEL]\n"
	      "                     run the daemon (SMTP submission, delivery, HTTP API)\n"
	      "  account create NAME [--data-dir DIR] [--json] [--trust CIDR]...\n"
	      "                     create an account; prints its API key and SMTP\n"
	      "                     credentials once\n"
	      "  trace MESSAGE_ID|RECIPIENT [--data-dir DIR] [--json]\n"
	      "                     the timeline and the evidence hand-over\n"
	      "  domain add DOMAIN --account NAME --ip ADDR... [--hostname NAME] [--json]\n"
	      "                     DKIM keys and the DNS records to publish\n"
	      "  domain verify DOMAIN [--dns ADDR@PORT] [--hostname NAME] [--json]\n"
	      "                     check DKIM, SPF, DMARC and the return path in DNS\n"
	      "  domain rotate|retire DOMAIN\n"
	      "                     new DKIM keys (published first); retire the old ones\n"
	      "  queue list|flush [ID]|delete ID [--data-dir DIR] [--json]\n"
	      "                     list queued messages\n"
	      "  --version          print the version\n"
	      "  --help             this text\n",
	      fp);
}

int
main(int argc, char **argv)
{
	/* The store holds DKIM private keys and secrets' hashes: nothing we
	 * create is for other users. */
	umask(027);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("posthaste %s\n", PH_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "serve") == 0)
		return daemon_serve_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "account") == 0)
		return cli_account_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "domain") == 0)
		return cli_domain_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "trace") == 0)
		return cli_trace_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "queue") == 0)
		return cli_queue_main(argc - 1, argv + 1);
	fprintf(stderr, "posthaste: unknown command '%s' (try posthaste --help)\n", argv[1]);
	return 2;
}
