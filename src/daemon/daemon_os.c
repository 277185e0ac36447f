/*
 * NAME
 *	daemon_os - listening sockets and data directory ownership
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/daemon_int.h"

#define LISTEN_BACKLOG 1024

/* Bind ADDR:PORT (numeric host); fatal with a one-line reason on error. */
int
daemon_listen(const char *what, const char *hostport)
{
	struct addrinfo hints, *ai = NULL;
	char host[256], port_s[8];
	uint16_t port;
	int fd, one = 1, rc;

	if (parse_hostport(hostport, host, sizeof(host), &port) < 0)
		fatal("bad %s address '%s' (want ADDR:PORT with a port 1-65535)", what, hostport);
	snprintf(port_s, sizeof(port_s), "%u", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if ((rc = getaddrinfo(host, port_s, &hints, &ai)) != 0)
		fatal("bad %s address '%s': %s (use a numeric IP address)", what, hostport,
		      gai_strerror(rc));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fatal("%s socket: %s", what, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Accepted sockets inherit it on Linux: no Nagle delay on replies. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		fatal("cannot listen for %s on %s: %s", what, hostport, strerror(errno));
	if (listen(fd, LISTEN_BACKLOG) < 0)
		fatal("cannot listen for %s on %s: %s", what, hostport, strerror(errno));
	freeaddrinfo(ai);
	return fd;
}

static unsigned chown_uid, chown_gid;

static int
chown_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (st->st_uid == chown_uid && st->st_gid == chown_gid)
		return 0;
	return lchown(path, chown_uid, chown_gid) < 0 ? -1 : 0;
}

int
daemon_chown_tree(const char *dir, unsigned uid, unsigned gid)
{
	chown_uid = uid;
	chown_gid = gid;
	return nftw(dir, chown_one, 16, FTW_PHYS);
}
