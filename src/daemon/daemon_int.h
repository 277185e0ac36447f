/* daemon_int.h - shared by the daemon module's own files only */
#ifndef PH_DAEMON_INT_H
#define PH_DAEMON_INT_H

#include "daemon/daemon.h"

int daemon_listen(const char *what, const char *hostport);
/* Give every file below dir (and dir) to uid:gid. */
int daemon_chown_tree(const char *dir, unsigned uid, unsigned gid);

/* daemon_recheck.c */
struct daemon_recheck;
struct daemon_recheck *daemon_recheck_start(const char *store_path, const char *dns,
					    const char *hostname, int64_t interval_ms);
void daemon_recheck_now(void *arg);
void daemon_recheck_stop(struct daemon_recheck *r);

#endif
