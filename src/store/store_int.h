/* store_int.h - shared by the store module's own files only */
#ifndef PH_STORE_INT_H
#define PH_STORE_INT_H

#include <sqlite3.h>

#include "store/store.h"

enum {
	Q_INS_MSG,
	Q_INS_RCPT,
	Q_INS_EVENT,
	Q_CRED_LOOKUP,
	Q_TRUST_LIST,
	Q_QUEUED_WALK,
	Q_QUEUED_COUNT,
	Q_INS_TRANSCRIPT,
	Q_UPD_RCPT,
	Q_INS_FTS,
	Q_SENDER_ALLOWED,
	Q_DATA_VERSION,
	Q_COUNT
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *q[Q_COUNT];
	struct buf scratch;
};

int store_exec(struct store *st, const char *sql);
int store_domain_schema(struct store *st);
int store_session_schema(struct store *st);
int store_stats_schema(struct store *st);

#endif
