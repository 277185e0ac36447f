/*
 * NAME
 *	buf - growable byte buffer with a hard cap
 * DESCRIPTION
 *	Binary safe, always NUL-terminated. The cap is fixed at buf_init();
 *	an append that would pass it fails and leaves the buffer unchanged.
 *	Size arithmetic is written as "cap - len < n" so it cannot overflow.
 */
#include <string.h>

#include "lib/lib.h"

/* Set up an empty buffer that may hold at most cap bytes. */
void
buf_init(struct buf *b, size_t cap)
{
	b->data = NULL;
	b->len = 0;
	b->size = 0;
	b->cap = cap;
}

/* Release the storage; the buffer may be reused after buf_init(). */
void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->size = 0;
}

/* Empty the buffer, keeping its storage. */
void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Make room for n more bytes plus the NUL, within the cap. */
int
buf_reserve(struct buf *b, size_t n)
{
	size_t want, nsize;

	if (b->cap - b->len < n || b->len > b->cap)
		return -1;
	want = b->len + n + 1;
	if (want <= b->size)
		return 0;
	nsize = b->size ? b->size : 64;
	while (nsize < want)
		nsize = nsize > SIZE_MAX / 2 ? want : nsize * 2;
	if (nsize > b->cap + 1)
		nsize = b->cap + 1;
	b->data = xrealloc(b->data, nsize);
	b->size = nsize;
	return 0;
}

/* Append n bytes; -1 (buffer unchanged) when the cap would be passed. */
int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

/* Insert n bytes at the front. The cap grows by n: what is prepended is
 * ours (headers, signatures), the limit was for what came in. */
int
buf_prepend(struct buf *b, const void *p, size_t n)
{
	if (SIZE_MAX - b->cap < n)
		return -1;
	b->cap += n;
	if (buf_reserve(b, n) < 0) {
		b->cap -= n;
		return -1;
	}
	memmove(b->data + n, b->data, b->len + 1);
	memcpy(b->data, p, n);
	b->len += n;
	return 0;
}

/* Drop the first n bytes (all of them when n >= len). */
void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

/* Hand the storage to the caller (never NULL) and empty the buffer. */
char *
buf_steal(struct buf *b)
{
	char *p = b->data ? b->data : xstrdup("");

	b->data = NULL;
	b->len = b->size = 0;
	return p;
}
