/*
 * NAME
 *	priv - drop root privileges after start-up
 * DESCRIPTION
 *	posthaste serve binds its ports and reads its keys as root when
 *	started as root, then becomes an unprivileged user for good
 *	(setgroups, setgid, setuid, in that order, and checks that root
 *	cannot be regained). CLI tools that open the data directory as root
 *	become its owner first, so files they create stay writable by the
 *	daemon.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/lib.h"

int
priv_lookup(const char *user, unsigned *uid, unsigned *gid)
{
	struct passwd pw, *res = NULL;
	char bufp[4096];

	if (getpwnam_r(user, &pw, bufp, sizeof(bufp), &res) != 0 || res == NULL)
		return -1;
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	return 0;
}

static int
priv_switch(unsigned uid, unsigned gid)
{
	gid_t g = (gid_t)gid;

	if (setgroups(1, &g) < 0 || setgid(g) < 0 || setuid((uid_t)uid) < 0) {
		log_error("priv switch uid=%u gid=%u error=\"%s\"", uid, gid, strerror(errno));
		return -1;
	}
	if (uid != 0 && setuid(0) == 0)
		panic("regained root after dropping privileges");
	return 0;
}

int
priv_drop(const char *user, const char *fallback_dir, char *who, size_t wholen)
{
	unsigned uid, gid;
	struct stat st;

	if (geteuid() != 0) {
		snprintf(who, wholen, "uid %u", (unsigned)geteuid());
		return 0;
	}
	if (user && priv_lookup(user, &uid, &gid) == 0) {
		snprintf(who, wholen, "%s", user);
	} else if (fallback_dir && stat(fallback_dir, &st) == 0 && st.st_uid != 0) {
		uid = st.st_uid;
		gid = st.st_gid;
		snprintf(who, wholen, "uid %u", uid);
	} else if (priv_lookup("nobody", &uid, &gid) == 0) {
		snprintf(who, wholen, "nobody");
	} else {
		return -1;
	}
	return priv_switch(uid, gid);
}

int
priv_become_owner(const char *path)
{
	struct stat st;

	if (geteuid() != 0 || stat(path, &st) < 0 || st.st_uid == 0)
		return 0;
	return priv_switch(st.st_uid, st.st_gid);
}
