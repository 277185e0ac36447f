/*
 * NAME
 *	queue_commit - group commit of accepted messages
 * DESCRIPTION
 *	See queue.h. The commit runs on the loop thread: a pipe round trip
 *	to another thread costs more here (DESIGN.md) than the fdatasync
 *	the sessions wait for anyway, and every session in the batch is
 *	answered in the same pass.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "queue/queue_int.h"

struct queue {
	struct event_base *base;
	struct store *store;
	char *data_dir;
	struct queue_segment seg;
	struct event *commit_ev;
	struct queue_msg *head, **tail;
	size_t npending;
	uint64_t pending_bytes;
	struct queue_stats stats;
	queue_committed_fn hook;
	void *hook_arg;
	long commit_delay_us; /* how long a batch waits for company */
	struct queue_signers *signers;
};

struct queue_msg *
queue_msg_new(void)
{
	struct queue_msg *m = xcalloc(1, sizeof(*m));

	arena_init(&m->arena);
	return m;
}

void
queue_msg_free(struct queue_msg *m)
{
	if (m == NULL)
		return;
	buf_free(&m->body);
	arena_free(&m->arena);
	free(m);
}

static void queue_commit_cb(evutil_socket_t fd, short what, void *arg);

struct queue *
queue_new(struct event_base *base, struct store *st, const char *data_dir, char *err,
	  size_t errlen)
{
	struct queue *q = xcalloc(1, sizeof(*q));
	uint64_t checked = 0, bad = 0;
	int64_t t0 = time_mono_us();

	q->base = base;
	q->store = st;
	q->data_dir = xstrdup(data_dir);
	q->tail = &q->head;
	q->seg.fd = -1;
	if (queue_recover(data_dir, st, &checked, &bad) < 0) {
		snprintf(err, errlen, "queue: cannot read the queue at start-up");
		goto fail;
	}
	log_info("queue recovered messages=%llu damaged=%llu ms=%lld",
		 (unsigned long long)checked, (unsigned long long)bad,
		 (long long)((time_mono_us() - t0) / 1000));
	if (queue_segment_open_new(data_dir, (uint32_t)store_max_spool_seg(st), &q->seg, err,
				   errlen) < 0)
		goto fail;
	q->commit_ev = event_new(base, -1, 0, queue_commit_cb, q);
	q->commit_delay_us = QUEUE_COMMIT_DELAY_DEFAULT_US;
	event_priority_set(q->commit_ev, QUEUE_PRIORITIES - 1);
	return q;
fail:
	free(q->data_dir);
	free(q);
	return NULL;
}

/* Write every pending record with as few writev calls as IOV_MAX allows. */
static int
queue_write_batch(struct queue *q, struct queue_msg *list, size_t n)
{
	struct iovec *iov = xcalloc(n * 3, sizeof(*iov));
	unsigned char (*hdrs)[QUEUE_REC_HDR] = xcalloc(n, QUEUE_REC_HDR);
	unsigned char (*trs)[QUEUE_REC_TRAILER] = xcalloc(n, QUEUE_REC_TRAILER);
	struct queue_msg *m;
	size_t i = 0, niov, done;
	uint64_t off = q->seg.size;
	int rc = -1;

	for (m = list; m; m = m->next, i++) {
		queue_rec_header(hdrs[i], m->meta.public_id, &m->body);
		queue_rec_trailer(trs[i], hdrs[i]);
		iov[3 * i] = (struct iovec){hdrs[i], QUEUE_REC_HDR};
		iov[3 * i + 1] = (struct iovec){m->body.data, m->body.len};
		iov[3 * i + 2] = (struct iovec){trs[i], QUEUE_REC_TRAILER};
		m->meta.spool_seg = q->seg.seq;
		m->meta.spool_off = off;
		m->meta.spool_len = m->body.len;
		off += QUEUE_REC_HDR + m->body.len + QUEUE_REC_TRAILER;
	}
	niov = n * 3;
	for (done = 0; done < niov;) {
		int cnt = niov - done > IOV_MAX ? IOV_MAX : (int)(niov - done);
		ssize_t w = writev(q->seg.fd, iov + done, cnt);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			log_error("queue spool write seg=%u error=\"%s\"", q->seg.seq,
				  strerror(errno));
			goto out;
		}
		/* Advance past what was written; a partial write resumes mid-iovec. */
		while (w > 0 && done < niov) {
			if ((size_t)w >= iov[done].iov_len) {
				w -= (ssize_t)iov[done].iov_len;
				done++;
			} else {
				iov[done].iov_base = (char *)iov[done].iov_base + w;
				iov[done].iov_len -= (size_t)w;
				w = 0;
			}
		}
		while (done < niov && iov[done].iov_len == 0)
			done++;
	}
	if (fdatasync(q->seg.fd) < 0) {
		log_error("queue spool fdatasync seg=%u error=\"%s\"", q->seg.seq, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (rc == 0) {
		q->seg.size = off;
	} else if (ftruncate(q->seg.fd, (off_t)q->seg.size) < 0) {
		/* The tail holds records no row names; they are never used. */
		log_warn("queue spool truncate seg=%u error=\"%s\"", q->seg.seq, strerror(errno));
	}
	free(iov);
	free(hdrs);
	free(trs);
	return rc;
}

/* Commit everything pending: spool, fsync, store, answer. */
static void
queue_commit_now(struct queue *q)
{
	struct queue_msg *list = q->head, *m, *next;
	size_t n = q->npending, i = 0;
	struct store_msg *metas;
	int ok;

	if (n == 0)
		return;
	q->head = NULL;
	q->tail = &q->head;
	q->npending = 0;
	q->pending_bytes = 0;
	metas = xcalloc(n, sizeof(*metas));
	ok = queue_write_batch(q, list, n) == 0;
	if (ok) {
		for (m = list; m; m = m->next) {
			m->meta.rcpt_ids = arena_alloc(&m->arena, m->meta.nrcpt * sizeof(int64_t));
			metas[i++] = m->meta;
		}
		ok = store_insert_messages(q->store, metas, n) == 0;
		i = 0;
		for (m = list; ok && m; m = m->next)
			m->meta.rowid = metas[i++].rowid;
		if (!ok)
			log_error("queue store commit failed batch=%zu", n);
	}
	q->stats.batches++;
	for (m = list; m; m = next) {
		next = m->next;
		if (ok) {
			q->stats.messages++;
			q->stats.bytes += m->body.len;
		} else {
			q->stats.failures++;
		}
		if (m->done)
			m->done(m->arg, ok, m->meta.public_id);
		if (ok && q->hook)
			q->hook(q->hook_arg, m);
		queue_msg_free(m);
	}
	free(metas);
	if (q->seg.size >= QUEUE_SEGMENT_MAX) {
		char err[512];
		struct queue_segment old = q->seg;

		if (queue_segment_open_new(q->data_dir, old.seq, &q->seg, err, sizeof(err)) < 0) {
			log_error("queue %s", err);
			q->seg = old;
		} else {
			close(old.fd);
		}
	}
}

static void
queue_commit_cb(evutil_socket_t fd, short what, void *arg)
{
	queue_commit_now(arg);
}

void
queue_submit(struct queue *q, struct queue_msg *m)
{
	if (m->meta.public_id[0] == '\0')
		store_new_public_id(m->meta.public_id);
	/* DKIM after every rewrite: nothing changes the message after this. */
	if (m->meta.source == NULL || strcmp(m->meta.source, "dsn") != 0)
		queue_sign(&q->signers, q->store, m);
	m->next = NULL;
	*q->tail = m;
	q->tail = &m->next;
	q->npending++;
	q->pending_bytes += m->body.len;
	/* A full batch is committed now (m->done may run before we return);
	 * otherwise once every ready session has had its turn. */
	if (q->npending >= QUEUE_BATCH_MAX || q->pending_bytes >= QUEUE_BATCH_BYTES_MAX)
		queue_commit_now(q);
	else if (q->commit_delay_us == 0)
		event_active(q->commit_ev, 0, 0);
	else if (!evtimer_pending(q->commit_ev, NULL)) {
		struct timeval tv = {0, q->commit_delay_us};

		evtimer_add(q->commit_ev, &tv);
	}
}

void
queue_set_commit_delay(struct queue *q, long us)
{
	q->commit_delay_us = us;
}

void
queue_set_committed_hook(struct queue *q, queue_committed_fn fn, void *arg)
{
	q->hook = fn;
	q->hook_arg = arg;
}

const char *
queue_data_dir(const struct queue *q)
{
	return q->data_dir;
}

void
queue_forget(struct queue *q, void *arg)
{
	for (struct queue_msg *m = q->head; m; m = m->next)
		if (m->arg == arg)
			m->done = NULL;
}

void
queue_flush(struct queue *q)
{
	queue_commit_now(q);
}

void
queue_get_stats(struct queue *q, struct queue_stats *out)
{
	*out = q->stats;
}

void
queue_free(struct queue *q)
{
	if (q == NULL)
		return;
	queue_commit_now(q);
	if (q->commit_ev)
		event_free(q->commit_ev);
	if (q->seg.fd >= 0)
		close(q->seg.fd);
	queue_spool_close_cache();
	queue_signers_free(q->signers);
	free(q->data_dir);
	free(q);
}
