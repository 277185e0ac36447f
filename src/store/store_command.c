/*
 * NAME
 *	store_command - operator commands for the running daemon
 * DESCRIPTION
 *	"posthaste queue flush|delete" run in another process than the
 *	daemon that holds the queue in memory. They leave a row in
 *	queue_commands; the daemon notices the store changed (PRAGMA
 *	data_version), takes the rows and acts on them.
 */
#include <string.h>

#include "store/store_int.h"

static int
command_schema(struct store *st)
{
	return store_exec(st, "CREATE TABLE IF NOT EXISTS queue_commands(id INTEGER PRIMARY KEY,"
			      " cmd TEXT NOT NULL, public_id TEXT, created_ms INTEGER NOT NULL)");
}

int
store_command_add(struct store *st, const char *cmd, const char *public_id)
{
	sqlite3_stmt *q;
	int rc;

	if (command_schema(st) < 0 ||
	    sqlite3_prepare_v2(st->db,
			       "INSERT INTO queue_commands(cmd, public_id, created_ms) VALUES(?,?,?)",
			       -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, cmd, -1, SQLITE_STATIC);
	if (public_id)
		sqlite3_bind_text(q, 2, public_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, time_now_ms());
	rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(q);
	return rc;
}

int
store_commands_take(struct store *st, store_command_fn cb, void *arg)
{
	sqlite3_stmt *q;
	int n = 0;

	if (command_schema(st) < 0 || store_exec(st, "BEGIN IMMEDIATE") < 0)
		return -1;
	if (sqlite3_prepare_v2(st->db, "SELECT cmd, public_id FROM queue_commands ORDER BY id", -1,
			       &q, NULL) != SQLITE_OK) {
		store_exec(st, "ROLLBACK");
		return -1;
	}
	while (sqlite3_step(q) == SQLITE_ROW) {
		cb(arg, (const char *)sqlite3_column_text(q, 0),
		   (const char *)sqlite3_column_text(q, 1));
		n++;
	}
	sqlite3_finalize(q);
	if (store_exec(st, "DELETE FROM queue_commands") < 0 || store_exec(st, "COMMIT") < 0) {
		store_exec(st, "ROLLBACK");
		return -1;
	}
	return n;
}
