/*
 * NAME
 *	queue - the spool and the group commit
 * DESCRIPTION
 *	A message is accepted only when its body is in the spool and its
 *	metadata is in the store, both fsynced. queue_submit() adds a
 *	message to the pending batch; the batch is committed by an event of
 *	the lowest priority after QUEUE_COMMIT_DELAY_DEFAULT_US (config
 *	queue_commit_delay), so every session whose input is ready gets to
 *	add its message first: one writev + fdatasync of the spool segment,
 *	then one store transaction for the whole batch, then every waiting
 *	session is answered. A batch is also committed at once when it
 *	reaches QUEUE_BATCH_MAX messages or QUEUE_BATCH_BYTES_MAX bytes.
 *
 *	Spool: append-only segment files DATA_DIR/spool/NNNNNNNN.seg, a new
 *	one at every start and every QUEUE_SEGMENT_MAX bytes. Each record
 *	is self-validating (queue_spool.c has the layout). A message row in
 *	the store names (segment, offset, length). A crash between the
 *	spool fsync and the store commit leaves an orphan record that no
 *	row names: it is never delivered, and the client got no 250.
 *	At start-up, segments that no unfinished recipient needs are
 *	deleted (finished messages' bodies are not kept).
 */
#ifndef PH_QUEUE_H
#define PH_QUEUE_H

#include <event2/event.h>

#include "lib/lib.h"
#include "store/store.h"

#define QUEUE_PRIORITIES 2 /* the loop's: 0 for I/O, 1 for the commit */
/* A batch waits this long for more messages before it is committed:
 * fewer, larger fsyncs (measured here: 20 sessions, 4 KiB: 0 us gives
 * ~2,600 msgs/s, 1,000 us ~3,100, 2,000 us ~2,800). */
#define QUEUE_COMMIT_DELAY_DEFAULT_US 1000
#define QUEUE_BATCH_MAX 512
#define QUEUE_BATCH_BYTES_MAX (64u * 1024 * 1024)
#define QUEUE_SEGMENT_MAX (256ull * 1024 * 1024)

struct queue;

typedef void (*queue_done_fn)(void *arg, int ok, const char *public_id);

/* One message on its way in. The caller fills meta (but public_id and
 * the spool fields) and body; the queue owns it after queue_submit(). */
struct queue_msg {
	struct store_msg meta;
	struct buf body;
	struct arena arena; /* strings that meta points to may live here */
	queue_done_fn done;
	void *arg;
	struct queue_msg *next;
};

struct queue *queue_new(struct event_base *base, struct store *st, const char *data_dir,
			char *err, size_t errlen);
struct queue_msg *queue_msg_new(void);
void queue_msg_free(struct queue_msg *m);
/* Hand a message over; m->done is called exactly once, later. */
void queue_submit(struct queue *q, struct queue_msg *m);
/* Detach a waiting caller (its session ended): done will not be called
 * for it, but the message is still committed. */
void queue_forget(struct queue *q, void *arg);
/* 0: commit as soon as every ready session had its turn. */
void queue_set_commit_delay(struct queue *q, long us);
/* Called for every message once it is committed (the delivery side
 * takes it from there); m->meta.rowid and rcpt_ids are set. */
typedef void (*queue_committed_fn)(void *arg, const struct queue_msg *m);
void queue_set_committed_hook(struct queue *q, queue_committed_fn fn, void *arg);
/* Hand over a message made by posthaste itself (a DSN). */
const char *queue_data_dir(const struct queue *q);

/* Commit whatever is pending now. */
void queue_flush(struct queue *q);
void queue_free(struct queue *q);

/* Read and verify a message body from the spool. */
int queue_spool_read(const char *data_dir, uint32_t seg, uint64_t off, uint64_t len,
		     const char *public_id, struct buf *out, char *err, size_t errlen) PH_WUR;

/* Close the spool files kept open for reading (at exit, in tests). */
void queue_spool_close_cache(void);

/* Statistics for /metrics and the benchmarks. */
struct queue_stats {
	uint64_t messages, batches, bytes, failures;
};
void queue_get_stats(struct queue *q, struct queue_stats *out);

#endif
