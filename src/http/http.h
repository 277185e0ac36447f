/*
 * NAME
 *	http - the HTTP listener: health, metrics and (later) the JSON API
 * DESCRIPTION
 *	libevent's evhttp on the daemon's loop. Errors are JSON
 *	{"error":{"code":"...","message":"..."}} with a fitting status.
 */
#ifndef PH_HTTP_H
#define PH_HTTP_H

#include <event2/event.h>

struct http_server;
struct store;

/* Serve on an already bound, listening socket. */
struct http_server *http_server_new(struct event_base *base, int fd);
void http_server_set_store(struct http_server *h, struct store *st);
void http_server_free(struct http_server *h);

#endif
