/*
 * NAME
 *	mail - addresses and RFC 5322 headers; pure functions, no I/O
 * DESCRIPTION
 *	mail_addr_check() validates an RFC 5321 path's mailbox
 *	(4.1.2: Local-part "@" ( Domain / address-literal )) with the size
 *	limits of 4.5.3.1: local part MAIL_LOCAL_MAX, domain MAIL_DOMAIN_MAX,
 *	path MAIL_PATH_MAX. Non-ASCII (UTF-8) is allowed only when utf8 is
 *	set (RFC 6531 SMTPUTF8).
 *
 *	mail_header_get() finds a header field in a message's header
 *	section and returns its unfolded value, bounded.
 */
#ifndef PH_MAIL_H
#define PH_MAIL_H

#include <stddef.h>

#include "lib/lib.h"

#define MAIL_LOCAL_MAX 64   /* RFC 5321 4.5.3.1.1 */
#define MAIL_DOMAIN_MAX 255 /* RFC 5321 4.5.3.1.2 */
#define MAIL_PATH_MAX 256   /* RFC 5321 4.5.3.1.3 */
#define MAIL_HEADER_VALUE_MAX 998

enum mail_addr_err {
	MAIL_ADDR_OK,
	MAIL_ADDR_SYNTAX,
	MAIL_ADDR_TOO_LONG,
	MAIL_ADDR_NEEDS_UTF8,
	MAIL_ADDR_NO_DOMAIN,
};
const char *mail_addr_err_str(enum mail_addr_err e);
/* Check a mailbox (without angle brackets). Sets *has_utf8 when any
 * byte is >= 0x80. */
enum mail_addr_err mail_addr_check(const char *addr, size_t len, int utf8_allowed,
				   int *has_utf8);

/* Copy the unfolded value of the first header named name (case-
 * insensitive) into out (leading white space dropped). Returns 1 when
 * found, 0 when not. Only the header section (up to the first empty
 * line) is searched. */
int mail_header_get(const char *msg, size_t len, const char *name, char *out, size_t outlen);

/* The domain of the (first) address in a From: header value such as
 * "Shop <shop@example.com>" or "shop@example.com"; 1 when found. */
int mail_address_domain(const char *value, char *out, size_t outlen);
/* The domain of a message's From: header; 1 when found. */
int mail_from_domain(const char *msg, size_t len, char *out, size_t outlen);

#endif
