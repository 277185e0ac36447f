/*
 * NAME
 *	queue_spool - spool segments and their self-validating records
 * DESCRIPTION
 *	Durable write sequence (queue_commit.c): writev the records of a
 *	batch at the end of the current segment, fdatasync it, and only then
 *	commit the rows that name them. A new segment is created with
 *	O_EXCL, and its directory is fsynced before first use, so the file
 *	itself survives a crash.
 *
 *	A record is valid when its magic, type, id, length, trailer and
 *	both CRCs match; anything else (a torn write, a truncated file, a
 *	flipped bit) is reported and the record is moved aside to
 *	spool/corrupt/, never half used.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/queue_int.h"

static void
put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void
put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void
queue_rec_header(unsigned char hdr[QUEUE_REC_HDR], const char *public_id,
		 const struct buf *body)
{
	memset(hdr, 0, QUEUE_REC_HDR);
	memcpy(hdr, "PHSR", 4);
	put32(hdr + 4, QUEUE_REC_MESSAGE);
	put64(hdr + 8, body->len);
	put32(hdr + 16, crc32c(0, body->data, body->len));
	strncpy((char *)hdr + 24, public_id, 31);
}

void
queue_rec_trailer(unsigned char tr[QUEUE_REC_TRAILER], const unsigned char hdr[QUEUE_REC_HDR])
{
	memcpy(tr, "PHSE", 4);
	put32(tr + 4, crc32c(0, hdr, QUEUE_REC_HDR));
}

char *
queue_segment_path(const char *data_dir, uint32_t seq)
{
	return xasprintf("%s/spool/%08u.seg", data_dir, seq);
}

/* The number of a segment file named NNNNNNNN.seg; -1 for other names. */
static int
segment_seq(const char *name, uint32_t *seq)
{
	char digits[16];
	uint64_t v;
	size_t n = strspn(name, "0123456789");

	if (n == 0 || n >= sizeof(digits) || strcmp(name + n, ".seg") != 0)
		return -1;
	memcpy(digits, name, n);
	digits[n] = '\0';
	if (parse_uint(digits, 1, UINT32_MAX - 1, &v) < 0)
		return -1;
	*seq = (uint32_t)v;
	return 0;
}

/* The next segment number: one more than the highest present. */
static uint32_t
queue_next_seq(const char *data_dir)
{
	char *dir = xasprintf("%s/spool", data_dir);
	DIR *d = opendir(dir);
	struct dirent *e;
	uint32_t max = 0;

	free(dir);
	if (d == NULL)
		return 1;
	while ((e = readdir(d)) != NULL) {
		uint32_t v;

		if (segment_seq(e->d_name, &v) == 0 && v > max)
			max = v;
	}
	closedir(d);
	return max + 1;
}

static int
fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
queue_segment_open_new(const char *data_dir, uint32_t min_seq, struct queue_segment *seg,
		       char *err, size_t errlen)
{
	uint32_t seq = queue_next_seq(data_dir);

	if (seq <= min_seq)
		seq = min_seq + 1;
	char *path = queue_segment_path(data_dir, seq), *dir;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create spool segment %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	dir = xasprintf("%s/spool", data_dir);
	if (fsync_dir(dir) < 0) {
		snprintf(err, errlen, "cannot fsync %s: %s", dir, strerror(errno));
		free(dir);
		close(fd);
		return -1;
	}
	free(dir);
	seg->seq = seq;
	seg->fd = fd;
	seg->size = 0;
	return 0;
}

/* Segments are read again and again (every delivery, every DSN): keep
 * the last SEG_FD_CACHE of them open. Used from one thread only. */
#define SEG_FD_CACHE 8

static struct {
	char *path;
	int fd;
	uint64_t used;
} seg_fds[SEG_FD_CACHE];
static uint64_t seg_clock;

static int
segment_fd(const char *path)
{
	size_t victim = 0;

	for (size_t i = 0; i < SEG_FD_CACHE; i++) {
		if (seg_fds[i].path && strcmp(seg_fds[i].path, path) == 0) {
			seg_fds[i].used = ++seg_clock;
			return seg_fds[i].fd;
		}
		if (seg_fds[i].used < seg_fds[victim].used)
			victim = i;
	}
	if (seg_fds[victim].path) {
		close(seg_fds[victim].fd);
		free(seg_fds[victim].path);
		seg_fds[victim].path = NULL;
	}
	seg_fds[victim].fd = open(path, O_RDONLY | O_CLOEXEC);
	if (seg_fds[victim].fd < 0)
		return -1;
	seg_fds[victim].path = xstrdup(path);
	seg_fds[victim].used = ++seg_clock;
	return seg_fds[victim].fd;
}

void
queue_spool_close_cache(void)
{
	for (size_t i = 0; i < SEG_FD_CACHE; i++)
		if (seg_fds[i].path) {
			close(seg_fds[i].fd);
			free(seg_fds[i].path);
			seg_fds[i].path = NULL;
			seg_fds[i].used = 0;
		}
}

/* Magic, type, length and id of a record header. */
static int
record_header_ok(const unsigned char hdr[QUEUE_REC_HDR], uint64_t len, const char *public_id)
{
	return memcmp(hdr, "PHSR", 4) == 0 && get32(hdr + 4) == QUEUE_REC_MESSAGE &&
	       get64(hdr + 8) == len && strncmp((const char *)hdr + 24, public_id, 32) == 0;
}

/* Read the record at (seg, off); check it names public_id and holds len
 * bytes. With out == NULL only the header and trailer are checked (the
 * start-up scan); otherwise the payload is read and its CRC checked. */
static int
queue_spool_check(const char *data_dir, uint32_t seg, uint64_t off, uint64_t len,
		  const char *public_id, struct buf *out, char *err, size_t errlen)
{
	unsigned char hdr[QUEUE_REC_HDR], tr[QUEUE_REC_TRAILER], want_tr[QUEUE_REC_TRAILER];
	char *path = queue_segment_path(data_dir, seg);
	int fd = segment_fd(path), rc = -1;
	ssize_t r;

	if (fd < 0) {
		snprintf(err, errlen, "spool segment %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	if (out && out->cap >= len && len <= SIZE_MAX - QUEUE_REC_HDR - QUEUE_REC_TRAILER) {
		/* A delivery's read: the whole record in one pread, checked in
		 * the buffer, the payload moved to its front. */
		size_t total = QUEUE_REC_HDR + (size_t)len + QUEUE_REC_TRAILER, cap = out->cap;

		buf_reset(out);
		out->cap = total;
		r = buf_reserve(out, total) < 0 ? -1 : pread(fd, out->data, total, (off_t)off);
		out->cap = cap;
		if (r >= (ssize_t)QUEUE_REC_HDR)
			memcpy(hdr, out->data, QUEUE_REC_HDR);
		if (r < (ssize_t)QUEUE_REC_HDR || !record_header_ok(hdr, len, public_id)) {
			snprintf(err, errlen, "spool record %s@%llu: bad or truncated header", path,
				 (unsigned long long)off);
			goto out;
		}
		queue_rec_trailer(want_tr, hdr);
		if (r != (ssize_t)total ||
		    memcmp(out->data + QUEUE_REC_HDR + len, want_tr, sizeof(want_tr)) != 0) {
			snprintf(err, errlen, "spool record %s@%llu: bad or missing end marker", path,
				 (unsigned long long)off);
			goto out;
		}
		memmove(out->data, out->data + QUEUE_REC_HDR, (size_t)len);
		goto payload;
	}
	r = pread(fd, hdr, sizeof(hdr), (off_t)off);
	if (r != (ssize_t)sizeof(hdr) || !record_header_ok(hdr, len, public_id)) {
		snprintf(err, errlen, "spool record %s@%llu: bad or truncated header", path,
			 (unsigned long long)off);
		goto out;
	}
	r = pread(fd, tr, sizeof(tr), (off_t)(off + QUEUE_REC_HDR + len));
	queue_rec_trailer(want_tr, hdr);
	if (r != (ssize_t)sizeof(tr) || memcmp(tr, want_tr, sizeof(tr)) != 0) {
		snprintf(err, errlen, "spool record %s@%llu: bad or missing end marker", path,
			 (unsigned long long)off);
		goto out;
	}
	if (out) {
		buf_reset(out);
		if (out->cap < len) {
			snprintf(err, errlen, "spool record %s@%llu: too large", path,
				 (unsigned long long)off);
			goto out;
		}
		if (buf_reserve(out, (size_t)len) < 0 ||
		    pread(fd, out->data, (size_t)len, (off_t)(off + QUEUE_REC_HDR)) !=
			    (ssize_t)len) {
			snprintf(err, errlen, "spool record %s@%llu: short read", path,
				 (unsigned long long)off);
			goto out;
		}
payload:
		out->len = (size_t)len;
		out->data[len] = '\0';
		if (crc32c(0, out->data, (size_t)len) != get32(hdr + 16)) {
			buf_reset(out);
			snprintf(err, errlen, "spool record %s@%llu: checksum mismatch", path,
				 (unsigned long long)off);
			goto out;
		}
	}
	rc = 0;
out:
	free(path);
	return rc;
}

int
queue_spool_read(const char *data_dir, uint32_t seg, uint64_t off, uint64_t len,
		 const char *public_id, struct buf *out, char *err, size_t errlen)
{
	return queue_spool_check(data_dir, seg, off, len, public_id, out, err, errlen);
}

/* Copy whatever is left of a bad record to spool/corrupt/ID.bad. */
static void
queue_move_aside(const char *data_dir, const struct store_queued *q)
{
	char *src = queue_segment_path(data_dir, q->spool_seg);
	char *dst = xasprintf("%s/spool/corrupt/%s.bad", data_dir, q->public_id);
	int in = open(src, O_RDONLY | O_CLOEXEC);
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	uint64_t want = QUEUE_REC_HDR + q->spool_len + QUEUE_REC_TRAILER, done = 0;
	char chunk[65536];

	while (in >= 0 && out >= 0 && done < want) {
		size_t n = want - done < sizeof(chunk) ? (size_t)(want - done) : sizeof(chunk);
		ssize_t r = pread(in, chunk, n, (off_t)(q->spool_off + done));

		if (r <= 0 || write(out, chunk, (size_t)r) != r)
			break;
		done += (uint64_t)r;
	}
	if (out >= 0) {
		fsync(out);
		close(out);
	}
	if (in >= 0)
		close(in);
	log_warn("queue spool record moved aside id=%s to=%s bytes=%llu", q->public_id, dst,
		 (unsigned long long)done);
	free(src);
	free(dst);
}

struct recover_ctx {
	const char *data_dir;
	uint64_t checked, bad;
	char last_id[32];
	char (*bad_ids)[32];
	size_t nbad, bad_cap;
	uint32_t *live; /* segments that unfinished recipients still need */
	size_t nlive, live_cap;
};

/* Note a segment as live (the walk is by message, so mostly repeats). */
static void
live_add(struct recover_ctx *c, uint32_t seg)
{
	if (c->nlive > 0 && c->live[c->nlive - 1] == seg)
		return;
	for (size_t i = 0; i < c->nlive; i++)
		if (c->live[i] == seg)
			return;
	if (c->nlive == c->live_cap) {
		c->live_cap = c->live_cap ? c->live_cap * 2 : 16;
		c->live = xrealloc(c->live, c->live_cap * sizeof(*c->live));
	}
	c->live[c->nlive++] = seg;
}

/* Delete the segments no unfinished recipient needs: their messages are
 * all delivered, bounced, expired or deleted. Runs at start-up, before
 * the new segment exists. Returns the number removed. */
static unsigned
spool_gc(const char *data_dir, const uint32_t *live, size_t nlive, uint64_t *bytes)
{
	char *dir = xasprintf("%s/spool", data_dir);
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned removed = 0;

	*bytes = 0;
	while (d && (e = readdir(d)) != NULL) {
		uint32_t v;
		size_t i;
		struct stat st;
		char *path;

		if (segment_seq(e->d_name, &v) < 0)
			continue;
		for (i = 0; i < nlive && live[i] != v; i++)
			;
		if (i < nlive)
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		if (stat(path, &st) == 0 && unlink(path) == 0) {
			removed++;
			*bytes += (uint64_t)st.st_size;
		}
		free(path);
	}
	if (d) {
		closedir(d);
		if (removed && fsync_dir(dir) < 0)
			log_warn("queue spool fsync dir=%s error=\"%s\"", dir, strerror(errno));
	}
	free(dir);
	return removed;
}

static int
recover_one(void *arg, const struct store_queued *q)
{
	struct recover_ctx *c = arg;
	char err[512];

	/* Recipients of one message come together: check each message once. */
	if (strcmp(c->last_id, q->public_id) == 0)
		return 0;
	live_add(c, q->spool_seg);
	snprintf(c->last_id, sizeof(c->last_id), "%s", q->public_id);
	c->checked++;
	if (queue_spool_check(c->data_dir, q->spool_seg, q->spool_off, q->spool_len,
			      q->public_id, NULL, err, sizeof(err)) == 0)
		return 0;
	log_error("queue recover id=%s error=\"%s\"", q->public_id, err);
	queue_move_aside(c->data_dir, q);
	if (c->nbad == c->bad_cap) {
		c->bad_cap = c->bad_cap ? c->bad_cap * 2 : 16;
		c->bad_ids = xrealloc(c->bad_ids, c->bad_cap * sizeof(*c->bad_ids));
	}
	snprintf(c->bad_ids[c->nbad++], 32, "%s", q->public_id);
	return 0;
}

int
queue_recover(const char *data_dir, struct store *st, uint64_t *checked, uint64_t *bad)
{
	struct recover_ctx c;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	c.data_dir = data_dir;
	if (store_queued_walk(st, recover_one, &c) < 0)
		rc = -1;
	/* Mark after the walk: the walk's statement must not see its own writes. */
	for (size_t i = 0; i < c.nbad; i++)
		if (store_message_spool_lost(st, c.bad_ids[i],
					     "spool record damaged; message moved aside") < 0)
			rc = -1;
	free(c.bad_ids);
	if (rc == 0) {
		uint64_t bytes;
		unsigned n = spool_gc(data_dir, c.live, c.nlive, &bytes);

		if (n)
			log_info("queue spool segments removed=%u bytes=%llu (no unfinished "
				 "recipient needs them)",
				 n, (unsigned long long)bytes);
	}
	free(c.live);
	*checked = c.checked;
	*bad = c.nbad;
	return rc;
}
