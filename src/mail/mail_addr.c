/*
 * NAME
 *	mail_addr - RFC 5321 mailbox syntax
 * DESCRIPTION
 *	Local-part = Dot-string / Quoted-string            (RFC 5321 4.1.2)
 *	Domain     = sub-domain *("." sub-domain)
 *	address-literal = "[" ( IPv4 / "IPv6:" IPv6 ) "]"
 *	UTF-8 in either part only with SMTPUTF8 (RFC 6531 3.3).
 */
#include <arpa/inet.h>
#include <string.h>

#include "mail/mail.h"

const char *
mail_addr_err_str(enum mail_addr_err e)
{
	switch (e) {
	case MAIL_ADDR_OK:
		return "ok";
	case MAIL_ADDR_SYNTAX:
		return "bad address syntax";
	case MAIL_ADDR_TOO_LONG:
		return "address too long";
	case MAIL_ADDR_NEEDS_UTF8:
		return "non-ASCII address without SMTPUTF8";
	case MAIL_ADDR_NO_DOMAIN:
		return "address has no domain";
	}
	return "?";
}

/* atext of RFC 5322 3.2.3 (plus UTF-8 bytes, judged by the caller). */
static int
is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL || c >= 0x80;
}

static int
check_local(const char *p, size_t n)
{
	if (n == 0)
		return -1;
	if (p[0] == '"') {
		/* Quoted-string: qtextSMTP or quoted-pairSMTP (RFC 5321 4.1.2) */
		if (n < 2 || p[n - 1] != '"')
			return -1;
		for (size_t i = 1; i < n - 1; i++) {
			unsigned char c = (unsigned char)p[i];

			if (c == '\\') {
				if (++i >= n - 1 || (unsigned char)p[i] < 32 ||
				    (unsigned char)p[i] > 126)
					return -1;
			} else if (c == '"' || (c < 32) || c == 127) {
				return -1;
			}
		}
		return 0;
	}
	if (p[0] == '.' || p[n - 1] == '.')
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '.') {
			if (p[i + 1] == '.')
				return -1;
		} else if (!is_atext(c)) {
			return -1;
		}
	}
	return 0;
}

static int
check_domain(const char *p, size_t n)
{
	char lit[64];

	if (n == 0)
		return -1;
	if (p[0] == '[') {
		unsigned char a[16];

		if (n < 3 || p[n - 1] != ']' || n - 2 >= sizeof(lit))
			return -1;
		memcpy(lit, p + 1, n - 2);
		lit[n - 2] = '\0';
		if (strncmp(lit, "IPv6:", 5) == 0)
			return inet_pton(AF_INET6, lit + 5, a) == 1 ? 0 : -1;
		return inet_pton(AF_INET, lit, a) == 1 ? 0 : -1;
	}
	/* sub-domain = Let-dig [Ldh-str]; labels of 1-63 octets */
	size_t label = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '.') {
			if (label == 0 || p[i - 1] == '-')
				return -1;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c >= 0x80))
			return -1;
		if (c == '-' && label == 0)
			return -1;
		if (++label > 63)
			return -1;
	}
	return label == 0 || p[n - 1] == '-' ? -1 : 0;
}

enum mail_addr_err
mail_addr_check(const char *addr, size_t len, int utf8_allowed, int *has_utf8)
{
	const char *at = NULL;
	int utf8 = 0;

	*has_utf8 = 0;
	if (len > MAIL_PATH_MAX - 2) /* the path includes the angle brackets */
		return MAIL_ADDR_TOO_LONG;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)addr[i];

		if (c >= 0x80)
			utf8 = 1;
		if (c < 32 || c == 127)
			return MAIL_ADDR_SYNTAX;
		if (c == '@')
			at = addr + i; /* the last @: a quoted local part may hold one */
	}
	if (at == NULL)
		return MAIL_ADDR_NO_DOMAIN;
	if ((size_t)(at - addr) > MAIL_LOCAL_MAX || len - (size_t)(at - addr) - 1 > MAIL_DOMAIN_MAX)
		return MAIL_ADDR_TOO_LONG;
	if (check_local(addr, (size_t)(at - addr)) < 0 ||
	    check_domain(at + 1, len - (size_t)(at - addr) - 1) < 0)
		return MAIL_ADDR_SYNTAX;
	*has_utf8 = utf8;
	if (utf8 && !utf8_allowed)
		return MAIL_ADDR_NEEDS_UTF8;
	return MAIL_ADDR_OK;
}
