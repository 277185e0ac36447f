/*
 * NAME
 *	cli - the posthaste subcommands other than serve
 * DESCRIPTION
 *	Each opens the store in --data-dir directly (SQLite in WAL mode is
 *	shared safely with a running daemon). Run as root, a command first
 *	becomes the data directory's owner so that files it creates stay
 *	writable by the daemon.
 */
#ifndef PH_CLI_H
#define PH_CLI_H

int cli_account_main(int argc, char **argv);
int cli_queue_main(int argc, char **argv);
int cli_trace_main(int argc, char **argv);
int cli_domain_main(int argc, char **argv);

/* Shared by the subcommands: the store file inside a data directory. */
#define CLI_DEFAULT_DATA_DIR "./posthaste-data"
#define CLI_STORE_FILE "posthaste.db"

#endif
