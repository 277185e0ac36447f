/*
 * NAME
 *	cli_queue - posthaste queue list [--json]
 * DESCRIPTION
 *	Lists every unfinished recipient with its message id, sender,
 *	status, attempts and next attempt. flush and delete arrive with the
 *	delivery engine.
 */
#include <string.h>

#include <jansson.h>

#include "cli/cli_int.h"

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

int
cli_queue_main(int argc, char **argv)
{
	const char *data_dir = CLI_DEFAULT_DATA_DIR;
	struct queue_list_ctx c = {0, NULL};
	struct store *st;
	int i, rc;

	if (argc < 2 || strcmp(argv[1], "list") != 0) {
		fprintf(stderr, "usage: posthaste queue list [--data-dir DIR] [--json]\n");
		return 2;
	}
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
