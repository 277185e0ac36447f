/*
 * NAME
 *	fuzz_mail_header - libFuzzer target for mail_header_get()
 * DESCRIPTION
 *	Input: byte 0 is the size of the out buffer (0-255), byte 1 picks a
 *	header name, the rest is the message, in a buffer of exactly its
 *	size. Checked: the answer is 0 or 1, the value is terminated inside
 *	outlen, holds no CR or LF, and does not start or end with white
 *	space; an absent header leaves "". (That the value never reaches
 *	past the header section is not checked here: test_mail.c has the
 *	known failing rows.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"Subject", "Message-ID", "From", "X", "subject"};
	char out[256], *msg;
	size_t outlen, n, vl;
	int r;

	if (size < 2)
		return 0;
	outlen = data[0];
	n = size - 2;
	msg = malloc(n ? n : 1);
	if (msg == NULL)
		return 0;
	memcpy(msg, data + 2, n);
	memset(out, 0x5a, sizeof(out));
	r = mail_header_get(msg, n, names[data[1] % 5], out, outlen);
	if (r != 0 && r != 1)
		abort();
	for (size_t i = outlen; i < sizeof(out); i++)
		if (out[i] != 0x5a)
			abort();
	if (outlen == 0) {
		if (r != 0)
			abort();
	} else {
		vl = strnlen(out, outlen);
		if (vl >= outlen)
			abort();
		if (r == 0 && vl != 0)
			abort();
		if (memchr(out, '\r', vl) || memchr(out, '\n', vl))
			abort();
		if (vl > 0 && (out[0] == ' ' || out[0] == '\t'))
			abort();
		/* (a NUL in the value hides its real end from strnlen) */
		if (vl > 0 && memchr(msg, '\0', n) == NULL &&
		    (out[vl - 1] == ' ' || out[vl - 1] == '\t'))
			abort();
	}
	free(msg);
	return 0;
}
