/*
 * NAME
 *	mail_header - find a header field in a message (RFC 5322 2.2)
 */
#include <strings.h>
#include <string.h>

#include "mail/mail.h"

int
mail_header_get(const char *msg, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name), i = 0;

	if (outlen == 0)
		return 0;
	out[0] = '\0';
	while (i < len) {
		const char *line = msg + i, *eol = memchr(line, '\n', len - i);
		size_t ll = eol ? (size_t)(eol - line) + 1 : len - i;

		/* An empty line ends the header section. */
		if (ll <= 2 && (line[0] == '\r' || line[0] == '\n'))
			return 0;
		if (ll > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			size_t o = 0, j = i + nl + 1;
			int leading = 1;

			/* Unfold: CRLF followed by WSP continues the value. */
			while (j < len) {
				char c = msg[j];

				if (c == '\r' || c == '\n') {
					/* Exactly one line end: a blank line ends the
					 * header section, whatever follows it. */
					size_t k = j + 1;

					if (c == '\r' && k < len && msg[k] == '\n')
						k++;
					if (k < len && (msg[k] == ' ' || msg[k] == '\t')) {
						j = k;
						continue;
					}
					break;
				}
				if (leading && (c == ' ' || c == '\t')) {
					j++;
					continue;
				}
				leading = 0;
				if (o + 1 < outlen)
					out[o++] = c;
				j++;
			}
			while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
				o--;
			out[o] = '\0';
			return 1;
		}
		i += ll;
	}
	return 0;
}

int
mail_address_domain(const char *value, char *out, size_t outlen)
{
	const char *lt = strrchr(value, '<'), *start = value, *end, *at;
	size_t n;

	if (lt) {
		start = lt + 1;
		end = strchr(start, '>');
		if (end == NULL)
			return 0;
	} else {
		end = value + strlen(value);
	}
	/* the domain runs from the last '@' to the end of the address */
	at = NULL;
	for (const char *p = start; p < end; p++)
		if (*p == '@')
			at = p;
	if (at == NULL)
		return 0;
	at++;
	while (end > at && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	n = (size_t)(end - at);
	if (n == 0 || n >= outlen || memchr(at, ' ', n) || memchr(at, ',', n))
		return 0;
	memcpy(out, at, n);
	out[n] = '\0';
	return 1;
}

int
mail_from_domain(const char *msg, size_t len, char *out, size_t outlen)
{
	char v[MAIL_HEADER_VALUE_MAX + 1];

	return mail_header_get(msg, len, "From", v, sizeof(v)) &&
	       mail_address_domain(v, out, outlen);
}
