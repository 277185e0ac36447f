/*
 * NAME
 *	cli_queue - posthaste queue list [--json]
 * DESCRIPTION
 *	list: every unfinished recipient with its message id, sender,
 *	status, attempts and next attempt. flush [ID]: retry deferred mail
 *	now (one message, or all). delete ID: take a message's unfinished
 *	recipients out of the queue (status and event "deleted"). flush and
 *	delete are carried out by the running daemon, which holds the queue.
 */
#include <string.h>

#include <jansson.h>

#include "cli/cli_int.h"
#include "store/store_report.h"

struct queue_list_ctx {
	int json;
	json_t *arr;
};

static int
queue_list_one(void *arg, const struct store_queued *q)
{
	struct queue_list_ctx *c = arg;
	char ts[TIME_RFC3339_LEN];

	time_rfc3339(q->received_ms, ts);
	if (c->json) {
		json_array_append_new(
			c->arr, json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:I}", "id", q->public_id,
					  "from", q->mail_from, "to", q->rcpt, "status", q->status,
					  "attempts", q->attempts, "received_at", ts, "size",
					  (json_int_t)q->spool_len));
	} else {
		printf("%-20s %-8s %3d %s %s -> %s\n", q->public_id, q->status, q->attempts, ts,
		       q->mail_from[0] ? q->mail_from : "<>", q->rcpt);
	}
	return 0;
}

static int
queue_usage(void)
{
	fprintf(stderr, "usage: posthaste queue list [--data-dir DIR] [--json]\n"
			"       posthaste queue flush [ID] [--data-dir DIR]\n"
			"       posthaste queue delete ID [--data-dir DIR]\n");
	return 2;
}

/* flush [ID] / delete ID: a command the running daemon carries out. */
static int
queue_command(int argc, char **argv)
{
	const char *data_dir = CLI_DEFAULT_DATA_DIR, *id = NULL;
	struct store *st;
	json_t *d = NULL;
	int rc;

	for (int i = 2; i < argc; i++) {
		if (cli_take_data_dir(argc, argv, &i, &data_dir))
			continue;
		if (argv[i][0] == '-' || id)
			return queue_usage();
		id = argv[i];
	}
	if (id == NULL && strcmp(argv[1], "delete") == 0)
		return queue_usage();
	if ((st = cli_open_store(data_dir, 0)) == NULL)
		return 1;
	if (id && (d = store_message_detail(st, 0, id)) == NULL) {
		fprintf(stderr, "posthaste: no message %s\n", id);
		store_close(st);
		return 1;
	}
	json_decref(d);
	rc = store_command_add(st, argv[1], id);
	store_close(st);
	if (rc < 0) {
		fprintf(stderr, "posthaste: cannot queue the command\n");
		return 1;
	}
	printf("%s %s: handed to the daemon\n", argv[1], id ? id : "all deferred mail");
	return 0;
}

int
cli_queue_main(int argc, char **argv)
{
	const char *data_dir = CLI_DEFAULT_DATA_DIR;
	struct queue_list_ctx c = {0, NULL};
	struct store *st;
	int i, rc;

	if (argc >= 2 && (strcmp(argv[1], "flush") == 0 || strcmp(argv[1], "delete") == 0))
		return queue_command(argc, argv);
	if (argc < 2 || strcmp(argv[1], "list") != 0)
		return queue_usage();
	for (i = 2; i < argc; i++) {
		if (cli_take_data_dir(argc, argv, &i, &data_dir))
			continue;
		if (strcmp(argv[i], "--json") == 0) {
			c.json = 1;
		} else {
			fprintf(stderr, "posthaste: unknown option '%s' for queue list\n", argv[i]);
			return 2;
		}
	}
	if ((st = cli_open_store(data_dir, 0)) == NULL)
		return 1;
	if (c.json)
		c.arr = json_array();
	rc = store_queued_walk(st, queue_list_one, &c);
	store_close(st);
	if (rc < 0) {
		fprintf(stderr, "posthaste: cannot read the queue\n");
		json_decref(c.arr);
		return 1;
	}
	if (c.json) {
		json_dumpf(c.arr, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(c.arr);
	}
	return 0;
}
