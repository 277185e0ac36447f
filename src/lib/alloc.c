/*
 * NAME
 *	alloc - allocation wrappers, arenas and random bytes
 * DESCRIPTION
 *	x* wrappers: running out of memory is an environment failure and
 *	ends the process through fatal(). arena: a per-session bump
 *	allocator in chunks, freed in one call.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "lib/lib.h"

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("out of memory allocating %zu bytes", n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatal("out of memory allocating %zu x %zu bytes", n, size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		fatal("out of memory reallocating %zu bytes", n);
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		fatal("out of memory formatting a string");
	va_end(ap);
	return p;
}

/* --- arena ---------------------------------------------------------- */

#define ARENA_CHUNK_MIN 4096

struct arena_chunk {
	struct arena_chunk *next;
	size_t size, used;
	max_align_t data[];
};

void
arena_init(struct arena *a)
{
	a->head = NULL;
	a->used_total = 0;
}

/* Aligned storage that lives until arena_free(). */
void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->head;
	size_t align = sizeof(max_align_t), need;
	char *p;

	if (n > SIZE_MAX - align)
		fatal("arena allocation too large");
	need = (n + align - 1) / align * align;
	if (c == NULL || c->size - c->used < need) {
		size_t sz = need > ARENA_CHUNK_MIN ? need : ARENA_CHUNK_MIN;

		c = xmalloc(sizeof(*c) + sz);
		c->size = sz;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	p = (char *)c->data + c->used;
	c->used += need;
	a->used_total += need;
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
arena_free(struct arena *a)
{
	struct arena_chunk *c, *next;

	for (c = a->head; c; c = next) {
		next = c->next;
		free(c);
	}
	arena_init(a);
}

/* --- random ------------------------------------------------------------ */

/* Cryptographically strong random bytes from the kernel. */
static void
rand_kernel(void *p, size_t n)
{
	char *q = p;

	while (n > 0) {
		ssize_t r = getrandom(q, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			fatal("getrandom: %s", strerror(errno));
		}
		q += r;
		n -= (size_t)r;
	}
}

/* Small requests (ids, tokens: several per message) come from a per-thread
 * pool of kernel randomness refilled RAND_POOL bytes at a time; each byte
 * is handed out once and wiped. Large requests (keys) go to the kernel. */
#define RAND_POOL 512

void
rand_bytes(void *p, size_t n)
{
	static __thread unsigned char pool[RAND_POOL];
	static __thread size_t left;
	unsigned char *q = p;

	if (n > RAND_POOL / 4) {
		rand_kernel(p, n);
		return;
	}
	while (n > 0) {
		size_t k;

		if (left == 0) {
			rand_kernel(pool, sizeof(pool));
			left = sizeof(pool);
		}
		k = n < left ? n : left;
		memcpy(q, pool + sizeof(pool) - left, k);
		explicit_bzero(pool + sizeof(pool) - left, k);
		left -= k;
		q += k;
		n -= k;
	}
}

void
rand_token(char *out, size_t n)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[64];
	size_t i = 0;

	while (i < n) {
		size_t k, chunk = n - i < sizeof(r) ? n - i : sizeof(r);

		rand_bytes(r, chunk);
		for (k = 0; k < chunk; k++) {
			/* 252 = 7 * 36: reject above it so there is no modulo bias */
			if (r[k] >= 252)
				continue;
			out[i++] = alphabet[r[k] % 36];
		}
	}
	out[n] = '\0';
}
