/*
 * NAME
 *	fuzz_mail_addr - libFuzzer target for mail_addr_check()
 * DESCRIPTION
 *	The whole input is the mailbox, in a buffer of exactly its size.
 *	It is checked with and without SMTPUTF8, and the two answers must
 *	agree: they differ only by MAIL_ADDR_NEEDS_UTF8, exactly when the
 *	address is otherwise good and holds a byte >= 0x80. An accepted
 *	address respects the RFC 5321 4.5.3.1 limits, has an '@', and no
 *	control character.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *addr = malloc(size ? size : 1);
	int h0 = -1, h1 = -1, high = 0;
	enum mail_addr_err e0, e1;
	const char *at;

	if (addr == NULL)
		return 0;
	memcpy(addr, data, size);
	for (size_t i = 0; i < size; i++)
		if (data[i] >= 0x80)
			high = 1;
	e0 = mail_addr_check(addr, size, 0, &h0);
	e1 = mail_addr_check(addr, size, 1, &h1);
	if (mail_addr_err_str(e0) == NULL || strcmp(mail_addr_err_str(e1), "?") == 0)
		abort();
	if (e1 == MAIL_ADDR_NEEDS_UTF8)
		abort();
	if (e1 == MAIL_ADDR_OK) {
		if (e0 != (high ? MAIL_ADDR_NEEDS_UTF8 : MAIL_ADDR_OK) || h0 != high || h1 != high)
			abort();
		if (size > MAIL_PATH_MAX - 2)
			abort();
		at = NULL;
		for (size_t i = 0; i < size; i++) {
			if (data[i] < 32 || data[i] == 127)
				abort();
			if (data[i] == '@')
				at = addr + i;
		}
		if (at == NULL || at == addr || at == addr + size - 1 ||
		    (size_t)(at - addr) > MAIL_LOCAL_MAX)
			abort();
	} else if (e0 != e1 || h0 != 0 || h1 != 0) {
		abort();
	}
	free(addr);
	return 0;
}
