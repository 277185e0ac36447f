/*
 * NAME
 *	strmap - string-keyed counters; base64 and hex
 * DESCRIPTION
 *	A chained hash table (FNV-1a) with a hard entry limit, for per-IP
 *	connection counts and per-IP/per-user AUTH failures. The limit
 *	matters: keys come from peers.
 */
#include <string.h>

#include "lib/lib.h"

static uint64_t
strmap_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

void
strmap_init(struct strmap *m, size_t nslots, size_t max)
{
	m->slots = xcalloc(nslots, sizeof(*m->slots));
	m->nslots = nslots;
	m->n = 0;
	m->max = max;
}

struct strmap_entry *
strmap_get(struct strmap *m, const char *key, int create)
{
	size_t i = strmap_hash(key) % m->nslots, kl;
	struct strmap_entry *e;

	for (e = m->slots[i]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	if (!create || m->n >= m->max)
		return NULL;
	kl = strlen(key);
	e = xcalloc(1, sizeof(*e) + kl + 1);
	memcpy(e->key, key, kl + 1);
	e->next = m->slots[i];
	m->slots[i] = e;
	m->n++;
	return e;
}

void
strmap_del(struct strmap *m, const char *key)
{
	struct strmap_entry **pp = &m->slots[strmap_hash(key) % m->nslots], *e;

	for (; (e = *pp) != NULL; pp = &e->next)
		if (strcmp(e->key, key) == 0) {
			*pp = e->next;
			free(e);
			m->n--;
			return;
		}
}

/* Drop entries stamped before older_than_ms; idle_only keeps those whose
 * count is still positive (a live connection count, say). */
static void
strmap_drop(struct strmap *m, int64_t older_than_ms, int idle_only)
{
	for (size_t i = 0; i < m->nslots; i++) {
		struct strmap_entry **pp = &m->slots[i], *e;

		while ((e = *pp) != NULL) {
			if (e->stamp_ms < older_than_ms && (!idle_only || e->count <= 0)) {
				*pp = e->next;
				free(e);
				m->n--;
			} else {
				pp = &e->next;
			}
		}
	}
}

void
strmap_expire(struct strmap *m, int64_t older_than_ms)
{
	strmap_drop(m, older_than_ms, 1);
}

void
strmap_forget_before(struct strmap *m, int64_t older_than_ms)
{
	strmap_drop(m, older_than_ms, 0);
}

void
strmap_free(struct strmap *m)
{
	for (size_t i = 0; i < m->nslots; i++) {
		struct strmap_entry *e, *next;

		for (e = m->slots[i]; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->slots);
	m->slots = NULL;
	m->n = 0;
}

/* --- base64 -------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

int
base64_decode(const char *in, size_t n, unsigned char *out, size_t outsize, size_t *outlen)
{
	size_t o = 0;

	if (n % 4 != 0)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;
		uint32_t w;

		for (int k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad || (v[k] = b64_val(in[i + k])) < 0)
				return -1;
		}
		w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		if (outsize - o < (size_t)(3 - pad) + 1 || o > outsize)
			return -1;
		out[o++] = (unsigned char)(w >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(w >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)w;
	}
	if (outsize - o < 1)
		return -1;
	out[o] = '\0';
	*outlen = o;
	return 0;
}

void
base64_encode(const unsigned char *in, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16;
		char q[4];

		if (i + 1 < n)
			w |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			w |= in[i + 2];
		q[0] = b64[w >> 18];
		q[1] = b64[(w >> 12) & 63];
		q[2] = i + 1 < n ? b64[(w >> 6) & 63] : '=';
		q[3] = i + 2 < n ? b64[w & 63] : '=';
		if (buf_append(out, q, 4) < 0)
			return;
	}
}

void
hex_encode(const void *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}
