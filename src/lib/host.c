/*
 * NAME
 *	host - this machine's name
 * DESCRIPTION
 *	The default for the name posthaste gives itself (greeting, EHLO,
 *	Received, Message-IDs, the return-path MX a domain must name), for
 *	the daemon and the CLI alike: gethostname(2), or "localhost".
 */
#include <stdio.h>
#include <unistd.h>

#include "lib/lib.h"

void
host_name(char *out, size_t n)
{
	if (gethostname(out, n) < 0)
		snprintf(out, n, "localhost");
	out[n - 1] = '\0';
}
