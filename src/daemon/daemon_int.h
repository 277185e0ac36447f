/* daemon_int.h - shared by the daemon module's own files only */
#ifndef PH_DAEMON_INT_H
#define PH_DAEMON_INT_H

#include "daemon/daemon.h"

int daemon_listen(const char *what, const char *hostport);
/* Give every file below dir (and dir) to uid:gid. */
int daemon_chown_tree(const char *dir, unsigned uid, unsigned gid);

#endif
