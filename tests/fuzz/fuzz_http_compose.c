/*
 * NAME
 *	fuzz_http_compose - libFuzzer target for http_compose()
 * DESCRIPTION
 *	The input is a JSON request body, parsed as the API does (but
 *	without JSON_REJECT_DUPLICATES, so more inputs reach the composer).
 *	Limits are small so that the recipient and size checks are hit.
 *	Invariants: an accepted request gives a message within the size
 *	cap that ends in CRLF, has only CRLF line ends, no line over 998
 *	octets, no NUL, no Bcc header, a 7-bit header section unless
 *	SMTPUTF8 is needed, 1..max recipients and a sender; a refused one
 *	gives a one-line reason, an untouched buffer and an empty envelope.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_compose.h"

#define FUZZ_MAX_RCPT 8
#define FUZZ_MAX_SIZE (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() unless the built message keeps the wire-format promises. */
static void
check_message(const struct buf *b, const struct http_envelope *env)
{
	size_t col = 0, hdr_end = b->len;
	const char *e;

	if (b->len < 2 || b->len > FUZZ_MAX_SIZE || memcmp(b->data + b->len - 2, "\r\n", 2) != 0)
		abort();
	if ((e = strstr(b->data, "\r\n\r\n")) != NULL)
		hdr_end = (size_t)(e - b->data) + 2;
	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];

		if (c == '\r') {
			if (i + 1 >= b->len || b->data[i + 1] != '\n')
				abort();
			i++;
			col = 0;
			continue;
		}
		if (c == '\n' || c == 0 || ++col > 998)
			abort();
		if (c >= 0x80 && (i >= hdr_end || !env->needs_smtputf8))
			abort();
		if ((i == 0 || b->data[i - 1] == '\n') && i + 4 <= hdr_end &&
		    strncasecmp(b->data + i, "Bcc:", 4) == 0)
			abort();
	}
	if (env->mail_from == NULL || env->message_id == NULL || env->subject == NULL ||
	    env->nrcpt == 0 || env->nrcpt > FUZZ_MAX_RCPT)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_compose_limits lim = {
	    .max_recipients = FUZZ_MAX_RCPT,
	    .max_message_size = FUZZ_MAX_SIZE,
	    .hostname = "mx.example.com",
	    .public_id = "fuzz0000",
	    .now_ms = 1763826695123LL,
	};
	struct http_envelope env;
	json_error_t jerr;
	struct buf out;
	char err[512];
	json_t *req;

	req = json_loadb((const char *)data, size, 0, &jerr);
	if (req == NULL)
		return 0;
	buf_init(&out, FUZZ_MAX_SIZE);
	if (http_compose(req, &lim, &out, &env, err, sizeof(err)) == 0) {
		check_message(&out, &env);
	} else {
		if (out.len != 0 || env.rcpts != NULL || env.mail_from != NULL || err[0] == '\0' ||
		    strchr(err, '\n') != NULL || strchr(err, '\r') != NULL)
			abort();
	}
	http_envelope_free(&env);
	buf_free(&out);
	json_decref(req);
	return 0;
}
