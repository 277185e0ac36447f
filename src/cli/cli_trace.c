/*
 * NAME
 *	cli_trace - posthaste trace MESSAGE_ID|RECIPIENT [--json]
 * DESCRIPTION
 *	For each matching message (a public id, or the newest
 *	CLI_TRACE_MAX messages to a recipient address): the timeline of
 *	every recipient, then the evidence hand-over, as text to paste into
 *	a ticket, or as JSON. Exit 0 when something matched, 1 when not.
 */
#include <string.h>

#include <jansson.h>

#include "cli/cli_int.h"
#include "store/store_report.h"

#define CLI_TRACE_MAX 20

static const char *
js(const json_t *o, const char *k, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : dflt;
}

/* One timeline line per event. */
static void
print_event(const json_t *e)
{
	const char *type = js(e, "type", "?");
	const json_t *tls = json_object_get(e, "tls");

	printf("  %s  %-9s", js(e, "at", "?"), type);
	if (strcmp(type, "received") == 0) {
		printf(" via %s from %s%s%s", js(e, "source", "?"), js(e, "client_ip", "-"),
		       json_is_string(json_object_get(e, "auth_user")) ? " as " : "",
		       js(e, "auth_user", ""));
	} else {
		json_int_t code = json_integer_value(json_object_get(e, "smtp_code"));

		if (json_is_string(json_object_get(e, "mx_host")))
			printf(" %s [%s]", js(e, "mx_host", "?"), js(e, "remote_ip", "?"));
		if (code)
			printf(" %lld", (long long)code);
		if (json_is_string(json_object_get(e, "enhanced_code")))
			printf(" %s", js(e, "enhanced_code", ""));
		printf(" %s", js(e, "response", ""));
		if (json_is_object(tls))
			printf("  TLS %s", js(tls, "version", "?"));
		if (json_is_string(json_object_get(e, "next_attempt")))
			printf("  next attempt %s", js(e, "next_attempt", ""));
	}
	putchar('\n');
}

static void
print_message(const json_t *detail, const json_t *events, const json_t *evidence)
{
	size_t i, k;
	json_t *r, *e;

	printf("Message %s  %s  \"%s\"\n", js(detail, "id", "?"),
	       js(detail, "message_id_header", "(no Message-ID)"), js(detail, "subject", ""));
	printf("From <%s>, accepted %s\n\n", js(detail, "from", ""), js(detail, "received_at", "?"));
	json_array_foreach(json_object_get(detail, "recipients"), i, r)
	{
		const char *addr = js(r, "recipient", "?");

		printf("<%s>  %s (%lld attempts)\n", addr, js(r, "status", "?"),
		       (long long)json_integer_value(json_object_get(r, "attempts")));
		json_array_foreach(events, k, e)
		{
			if (strcmp(js(e, "recipient", ""), addr) == 0)
				print_event(e);
		}
		putchar('\n');
	}
	{
		char *text = store_evidence_text(evidence);

		fputs(text, stdout);
		free(text);
	}
	putchar('\n');
}

int
cli_trace_main(int argc, char **argv)
{
	const char *data_dir = CLI_DEFAULT_DATA_DIR, *what = NULL;
	struct store *st;
	json_t *ids, *out = NULL, *id;
	int json = 0, i;
	size_t k, found = 0;

	for (i = 1; i < argc; i++) {
		if (cli_take_data_dir(argc, argv, &i, &data_dir))
			continue;
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (argv[i][0] == '-') {
			fprintf(stderr, "posthaste: unknown option '%s' for trace\n", argv[i]);
			return 2;
		} else if (what == NULL)
			what = argv[i];
		else {
			fprintf(stderr, "usage: posthaste trace MESSAGE_ID|RECIPIENT [--json]\n");
			return 2;
		}
	}
	if (what == NULL) {
		fprintf(stderr, "usage: posthaste trace MESSAGE_ID|RECIPIENT [--json]\n");
		return 2;
	}
	if ((st = cli_open_store(data_dir, 0)) == NULL)
		return 1;
	if (strchr(what, '@')) {
		ids = store_messages_for_recipient(st, 0, what, CLI_TRACE_MAX);
	} else {
		ids = json_array();
		json_array_append_new(ids, json_string(what));
	}
	if (json)
		out = json_array();
	json_array_foreach(ids, k, id)
	{
		const char *pid = json_string_value(id);
		const char *rcpt = strchr(what, '@') ? what : NULL;
		json_t *detail = store_message_detail(st, 0, pid);
		json_t *events, *evidence;

		if (detail == NULL)
			continue;
		found++;
		events = store_message_events(st, 0, pid, rcpt);
		evidence = store_message_evidence(st, 0, pid, rcpt);
		if (json)
			json_array_append_new(out, json_pack("{s:o,s:o,s:o}", "message", detail,
							     "events", events, "evidence",
							     evidence));
		else {
			print_message(detail, events, evidence);
			json_decref(detail);
			json_decref(events);
			json_decref(evidence);
		}
	}
	store_close(st);
	if (json) {
		json_dumpf(out, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	}
	json_decref(out);
	json_decref(ids);
	if (found == 0) {
		fprintf(stderr, "posthaste: no message or recipient matches '%s'\n", what);
		return 1;
	}
	return 0;
}
