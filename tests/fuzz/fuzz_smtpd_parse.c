/*
 * NAME
 *	fuzz_smtpd_parse - libFuzzer target for the SMTP command parsers
 * DESCRIPTION
 *	Input: byte 0 picks the parser (command line, MAIL, RCPT in an
 *	ASCII session, RCPT in an SMTPUTF8 session, or a command line whose
 *	MAIL/RCPT argument goes on to its parser, as a session does); the
 *	rest is the line without CRLF, in a buffer of exactly its size so
 *	that ASan sees any read past it.
 *
 *	Checked: the verb is in range and, when known, is the line's first
 *	word; arguments lie inside the line; a refused MAIL/RCPT has a
 *	one-line 5xx reply; an accepted one has an address that the mailbox
 *	checker accepts on its own, no longer than 254 octets, cut from the
 *	line, and RCPT never carries MAIL parameters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtpd/smtpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_reply(const char *reply)
{
	if (reply == NULL || strlen(reply) < 10 || reply[0] != '5' || reply[3] != ' ' ||
	    strpbrk(reply, "\r\n") != NULL)
		abort();
}

static void
check_path(int rc, const struct smtpd_path *p, const char *reply, const char *arg, size_t len,
	   int is_mail, int utf8_session)
{
	int has_utf8;

	if (rc != 0) {
		if (rc != -1)
			abort();
		check_reply(reply);
		return;
	}
	if (p->len > MAIL_PATH_MAX - 2 || strlen(p->addr) != p->len)
		abort();
	if (p->len > 0 && memmem(arg, len, p->addr, p->len) == NULL)
		abort();
	if (!is_mail && (p->len == 0 || p->size || p->body_8bit || p->smtputf8))
		abort();
	if (p->len > 0 &&
	    mail_addr_check(p->addr, p->len, is_mail ? p->smtputf8 : utf8_session, &has_utf8) !=
		    MAIL_ADDR_OK)
		abort();
}

static void
parse_mail(const char *arg, size_t len)
{
	struct smtpd_path p;
	const char *reply = NULL;
	int rc = smtpd_parse_mail(arg, len, &p, &reply);

	check_path(rc, &p, reply, arg, len, 1, 0);
}

static void
parse_rcpt(const char *arg, size_t len, int utf8)
{
	struct smtpd_path p;
	const char *reply = NULL;
	int rc = smtpd_parse_rcpt(arg, len, utf8, &p, &reply);

	check_path(rc, &p, reply, arg, len, 0, utf8);
}

static void
parse_command(const char *line, size_t len, int follow)
{
	struct smtpd_cmd c;

	smtpd_parse_command(line, len, &c);
	if ((unsigned)c.verb > SMTPD_UNKNOWN || c.arg == NULL || c.arg_len > len)
		abort();
	if (c.arg_len > 0 && (c.arg < line || c.arg + c.arg_len != line + len))
		abort();
	if (c.verb != SMTPD_UNKNOWN) {
		const char *name = smtpd_verb_str(c.verb);
		size_t nl = strlen(name);

		if (len < nl || strncasecmp(line, name, nl) != 0 || (len > nl && line[nl] != ' '))
			abort();
	}
	if (!follow)
		return;
	if (c.verb == SMTPD_MAIL)
		parse_mail(c.arg, c.arg_len);
	else if (c.verb == SMTPD_RCPT)
		parse_rcpt(c.arg, c.arg_len, len & 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line;
	size_t len;

	if (size < 1)
		return 0;
	len = size - 1;
	line = malloc(len ? len : 1);
	if (line == NULL)
		return 0;
	memcpy(line, data + 1, len);
	switch (data[0] % 5) {
	case 0:
		parse_command(line, len, 0);
		break;
	case 1:
		parse_mail(line, len);
		break;
	case 2:
		parse_rcpt(line, len, 0);
		break;
	case 3:
		parse_rcpt(line, len, 1);
		break;
	default:
		parse_command(line, len, 1);
		break;
	}
	free(line);
	return 0;
}
