/*
 * NAME
 *	genqueue - fill a data directory with N queued recipients
 * SYNOPSIS
 *	genqueue DATA_DIR N [DOMAIN] [DEFER_S]
 * DESCRIPTION
 *	For bench/queue_memory.sh: writes N one-recipient messages through
 *	posthaste's own spool and store code (queue_submit, group commit of
 *	1000 at a time), then marks every recipient deferred until DEFER_S
 *	seconds from now, as if an unreachable destination had refused them
 *	once. Not a test and not part of the daemon.
 */
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "queue/queue.h"
#include "store/store.h"

int
main(int argc, char **argv)
{
	struct event_base *base;
	struct store *st;
	struct queue *q;
	char err[512], *path, *sql;
	uint64_t n, defer = 86400;
	const char *domain = argc > 3 ? argv[3] : "unreachable.bench.test";
	const char *trust[] = {"127.0.0.0/8"};
	struct store_account_secrets sec;
	sqlite3 *db;

	if (argc < 3 || parse_uint(argv[2], 1, 100000000, &n) < 0 ||
	    (argc > 4 && parse_uint(argv[4], 0, 86400 * 30, &defer) < 0)) {
		fprintf(stderr, "usage: genqueue DATA_DIR N [DOMAIN] [DEFER_S]\n");
		return 2;
	}
	mkdir(argv[1], 0750);
	path = xasprintf("%s/spool", argv[1]);
	mkdir(path, 0750);
	free(path);
	path = xasprintf("%s/spool/corrupt", argv[1]);
	mkdir(path, 0750);
	free(path);
	path = xasprintf("%s/posthaste.db", argv[1]);
	if (store_open(path, &st, err, sizeof(err)) < 0)
		fatal("%s", err);
	if (store_account_create(st, "bench", trust, 1, &sec, err, sizeof(err)) < 0)
		fatal("%s", err);
	base = event_base_new();
	event_base_priority_init(base, QUEUE_PRIORITIES);
	if ((q = queue_new(base, st, argv[1], err, sizeof(err))) == NULL)
		fatal("%s", err);
	for (uint64_t i = 0; i < n; i++) {
		struct queue_msg *m = queue_msg_new();
		char **rc = arena_alloc(&m->arena, sizeof(char *));
		char body[256], addr[300];
		int bl;


		snprintf(addr, sizeof(addr), "r%llu@%s", (unsigned long long)i, domain);
		rc[0] = arena_strndup(&m->arena, addr, strlen(addr));
		bl = snprintf(body, sizeof(body),
			      "Subject: order %llu\r\nFrom: app@bench.test\r\n\r\nhello\r\n",
			      (unsigned long long)i);
		buf_init(&m->body, sizeof(body));
		if (buf_append(&m->body, body, (size_t)bl) < 0)
			fatal("body");
		m->meta.account_id = sec.account_id;
		m->meta.mail_from = "app@bench.test";
		m->meta.subject = arena_strndup(&m->arena, body + 9, (size_t)(strchr(body, '\r') - body - 9));
		snprintf(addr, sizeof(addr), "<gen-%llu@bench.test>", (unsigned long long)i);
		m->meta.message_id_hdr = arena_strndup(&m->arena, addr, strlen(addr));
		m->meta.size = (uint64_t)bl;
		m->meta.received_ms = time_now_ms();
		m->meta.source = "bench";
		m->meta.nrcpt = 1;
		m->meta.rcpts = rc;
		queue_submit(q, m);
		if (i % 1000 == 999)
			queue_flush(q);
	}
	queue_free(q);
	store_close(st);
	event_base_free(base);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		fatal("sqlite3_open %s", path);
	sql = xasprintf("UPDATE recipients SET status = 'deferred', attempts = 1,"
			" next_attempt_ms = %lld",
			(long long)(time_now_ms() + (int64_t)defer * 1000));
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fatal("update: %s", sqlite3_errmsg(db));
	sqlite3_close(db);
	free(sql);
	free(path);
	printf("queued %llu recipients for %s in %s\napi_key=%s\n", (unsigned long long)n,
	       domain, argv[1], sec.api_key);
	return 0;
}
