/*
 * NAME
 *	smtpd_parse - SMTP command lines and MAIL/RCPT arguments
 * DESCRIPTION
 *	Pure functions over bytes. The caller has already bounded the line
 *	length and stripped the CRLF. Verbs are case-insensitive (RFC 5321
 *	2.4); a verb is followed by nothing or by one space and arguments.
 */
#include <strings.h>
#include <string.h>

#include "smtpd/smtpd.h"

static const char *const verb_names[] = {
	[SMTPD_HELO] = "HELO", [SMTPD_EHLO] = "EHLO", [SMTPD_MAIL] = "MAIL",
	[SMTPD_RCPT] = "RCPT", [SMTPD_DATA] = "DATA", [SMTPD_RSET] = "RSET",
	[SMTPD_NOOP] = "NOOP", [SMTPD_QUIT] = "QUIT", [SMTPD_HELP] = "HELP",
	[SMTPD_VRFY] = "VRFY", [SMTPD_EXPN] = "EXPN", [SMTPD_STARTTLS] = "STARTTLS",
	[SMTPD_AUTH] = "AUTH", [SMTPD_BDAT] = "BDAT", [SMTPD_UNKNOWN] = "UNKNOWN",
};

const char *
smtpd_verb_str(enum smtpd_verb v)
{
	return (unsigned)v < PH_ARRAY_LEN(verb_names) ? verb_names[v] : "?";
}

void
smtpd_parse_command(const char *line, size_t len, struct smtpd_cmd *out)
{
	size_t vl = 0;

	out->verb = SMTPD_UNKNOWN;
	out->arg = "";
	out->arg_len = 0;
	while (vl < len && line[vl] != ' ')
		vl++;
	for (int v = 0; v < SMTPD_UNKNOWN; v++)
		if (strlen(verb_names[v]) == vl && strncasecmp(line, verb_names[v], vl) == 0) {
			out->verb = (enum smtpd_verb)v;
			break;
		}
	if (vl < len) {
		out->arg = line + vl + 1;
		out->arg_len = len - vl - 1;
	}
}

/* Parse "<path>" at the start of s (RFC 5321 4.1.2), allowing the
 * common lapse of a space after the colon. Returns bytes consumed. */
static int
parse_path(const char *s, size_t n, struct smtpd_path *out, int allow_empty,
	   const char **reply)
{
	const char *close, *start;
	size_t alen;

	if (n == 0 || s[0] != '<') {
		*reply = "501 5.5.4 Syntax: address must be in angle brackets <user@domain>";
		return -1;
	}
	close = memchr(s, '>', n);
	if (close == NULL) {
		*reply = "501 5.5.4 Syntax: missing '>' after the address";
		return -1;
	}
	start = s + 1;
	/* Source routes (<@a,@b:user@c>) are obsolete: ignore the route
	 * (RFC 5321 4.1.2 and appendix C). */
	if (start < close && *start == '@') {
		const char *colon = memchr(start, ':', (size_t)(close - start));

		if (colon == NULL) {
			*reply = "501 5.1.7 Bad address syntax";
			return -1;
		}
		start = colon + 1;
		if (start == close && allow_empty) { /* RFC 5321 4.1.2: a mailbox must follow */
			*reply = "501 5.1.7 Bad address syntax";
			return -1;
		}
	}
	alen = (size_t)(close - start);
	if (alen == 0 && !allow_empty) {
		*reply = "501 5.1.3 Bad recipient address syntax";
		return -1;
	}
	if (alen > MAIL_PATH_MAX - 2) {
		*reply = "501 5.1.7 Address too long";
		return -1;
	}
	memcpy(out->addr, start, alen);
	out->addr[alen] = '\0';
	out->len = alen;
	return (int)(close - s + 1);
}

static int
has_prefix(const char *s, size_t n, const char *p)
{
	size_t pl = strlen(p);

	return n >= pl && strncasecmp(s, p, pl) == 0;
}

/* Split the ESMTP parameters after the path and apply them. */
static int
parse_params(const char *s, size_t n, struct smtpd_path *out, int is_mail, const char **reply)
{
	size_t i = 0;

	while (i < n) {
		const char *p;
		size_t pl;

		while (i < n && s[i] == ' ')
			i++;
		if (i >= n)
			break;
		p = s + i;
		while (i < n && s[i] != ' ')
			i++;
		pl = (size_t)(s + i - p);
		if (is_mail && has_prefix(p, pl, "SIZE=")) {
			char num[24];
			uint64_t v;

			if (pl - 5 == 0 || pl - 5 >= sizeof(num)) {
				*reply = "501 5.5.4 Bad SIZE parameter";
				return -1;
			}
			memcpy(num, p + 5, pl - 5);
			num[pl - 5] = '\0';
			if (parse_uint(num, 0, UINT64_MAX, &v) < 0) {
				*reply = "501 5.5.4 Bad SIZE parameter";
				return -1;
			}
			out->size = v;
		} else if (is_mail && has_prefix(p, pl, "BODY=")) {
			if (pl == 13 && strncasecmp(p + 5, "8BITMIME", 8) == 0)
				out->body_8bit = 1;
			else if (!(pl == 9 && strncasecmp(p + 5, "7BIT", 4) == 0)) {
				*reply = "555 5.5.4 Unsupported BODY type (7BIT or 8BITMIME)";
				return -1;
			}
		} else if (is_mail && pl == 8 && strncasecmp(p, "SMTPUTF8", 8) == 0) {
			out->smtputf8 = 1;
		} else if (is_mail && has_prefix(p, pl, "AUTH=")) {
			/* RFC 4954 5: accepted and ignored for a submission server */
		} else {
			*reply = is_mail ? "555 5.5.4 Unsupported MAIL parameter"
					 : "555 5.5.4 Unsupported RCPT parameter";
			return -1;
		}
	}
	return 0;
}

static int
parse_envelope(const char *arg, size_t len, const char *kw, struct smtpd_path *out, int is_mail,
	       int utf8, const char **reply)
{
	int used, has_utf8;
	size_t kl = strlen(kw);
	enum mail_addr_err e;

	memset(out, 0, sizeof(*out));
	if (!has_prefix(arg, len, kw)) {
		*reply = is_mail ? "501 5.5.4 Syntax: MAIL FROM:<address>"
				 : "501 5.5.4 Syntax: RCPT TO:<address>";
		return -1;
	}
	arg += kl;
	len -= kl;
	if (len > 0 && arg[0] == ' ') { /* tolerated: "MAIL FROM: <a@b>" */
		arg++;
		len--;
	}
	if ((used = parse_path(arg, len, out, is_mail, reply)) < 0)
		return -1;
	if ((size_t)used < len && arg[used] != ' ') {
		*reply = "501 5.5.4 Syntax: junk after the address";
		return -1;
	}
	if (parse_params(arg + used, len - (size_t)used, out, is_mail, reply) < 0)
		return -1;
	if (out->len == 0)
		return 0; /* the null reverse-path <> */
	e = mail_addr_check(out->addr, out->len, is_mail ? out->smtputf8 : utf8, &has_utf8);
	switch (e) {
	case MAIL_ADDR_OK:
		return 0;
	case MAIL_ADDR_NEEDS_UTF8:
		*reply = "553 5.6.7 Non-ASCII address requires SMTPUTF8";
		return -1;
	case MAIL_ADDR_TOO_LONG:
		*reply = "501 5.1.7 Address too long";
		return -1;
	default:
		*reply = is_mail ? "501 5.1.7 Bad sender address syntax"
				 : "501 5.1.3 Bad recipient address syntax";
		return -1;
	}
}

int
smtpd_parse_mail(const char *arg, size_t len, struct smtpd_path *out, const char **reply)
{
	return parse_envelope(arg, len, "FROM:", out, 1, 0, reply);
}

int
smtpd_parse_rcpt(const char *arg, size_t len, int utf8_session, struct smtpd_path *out,
		 const char **reply)
{
	return parse_envelope(arg, len, "TO:", out, 0, utf8_session, reply);
}
