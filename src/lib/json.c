/*
 * NAME
 *	json - write JSON text, and CRC-32C
 * DESCRIPTION
 *	Only what the store needs to write event data without a JSON
 *	library below the http layer. Control characters, quotes and
 *	backslashes are escaped; bytes >= 0x80 pass through (UTF-8).
 */
#include <string.h>

#include "lib/lib.h"

int
json_put_str(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	if (buf_append(b, "\"", 1) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
		int r;

		if (c == '"' || c == '\\') {
			char two[2] = {'\\', (char)c};

			r = buf_append(b, two, 2);
		} else if (c < 0x20 || c == 0x7f) {
			r = buf_append(b, esc, sizeof(esc));
		} else {
			r = buf_append(b, s + i, 1);
		}
		if (r < 0)
			return -1;
	}
	return buf_append(b, "\"", 1);
}

static int
json_key(struct buf *b, const char *key)
{
	if (b->len > 0 && b->data[b->len - 1] != '{' && b->data[b->len - 1] != '[' &&
	    buf_append(b, ",", 1) < 0)
		return -1;
	if (json_put_str(b, key, strlen(key)) < 0)
		return -1;
	return buf_append(b, ":", 1);
}

int
json_put_kv(struct buf *b, const char *key, const char *value)
{
	if (json_key(b, key) < 0)
		return -1;
	if (value == NULL)
		return buf_puts(b, "null");
	return json_put_str(b, value, strlen(value));
}

int
json_put_ki(struct buf *b, const char *key, int64_t value)
{
	if (json_key(b, key) < 0)
		return -1;
	return buf_printf(b, "%lld", (long long)value);
}

/* CRC-32C, reflected polynomial 0x82F63B78, slicing by 8. */
static uint32_t crc_table[8][256];
static int crc_ready;

static void
crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] =
				(crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
	__atomic_store_n(&crc_ready, 1, __ATOMIC_RELEASE);
}

uint32_t
crc32c(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *s = p;

	if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE))
		crc32c_init(); /* idempotent: racing threads compute the same table */
	crc = ~crc;
	while (n >= 8) {
		uint32_t lo, hi;

		memcpy(&lo, s, 4);
		memcpy(&hi, s + 4, 4);
		lo ^= crc;
		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		      crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		      crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
		      crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
		s += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *s++) & 0xff];
	return ~crc;
}
