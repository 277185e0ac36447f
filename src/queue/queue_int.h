/* queue_int.h - shared by the queue module's own files only */
#ifndef PH_QUEUE_INT_H
#define PH_QUEUE_INT_H

#include <sys/uio.h>

#include "queue/queue.h"

/*
 * Spool record layout (all integers little-endian):
 *	 0  magic "PHSR"
 *	 4  u32 type (QUEUE_REC_MESSAGE)
 *	 8  u64 payload length
 *	16  u32 CRC-32C of the payload
 *	20  u32 zero
 *	24  char[32] public id, NUL padded
 *	56  payload
 *	    "PHSE", u32 CRC-32C of the 56 header bytes (end marker)
 */
#define QUEUE_REC_HDR 56
#define QUEUE_REC_TRAILER 8
#define QUEUE_REC_MESSAGE 1

struct queue_segment {
	uint32_t seq;
	int fd;
	uint64_t size;
};

void queue_rec_header(unsigned char hdr[QUEUE_REC_HDR], const char *public_id,
		      const struct buf *body);
void queue_rec_trailer(unsigned char tr[QUEUE_REC_TRAILER],
		       const unsigned char hdr[QUEUE_REC_HDR]);
/* A new segment numbered above every file present and above min_seq. */
int queue_segment_open_new(const char *data_dir, uint32_t min_seq, struct queue_segment *seg,
			   char *err, size_t errlen) PH_WUR;
char *queue_segment_path(const char *data_dir, uint32_t seq);
/* At start-up: check every queued message's record; move bad ones aside. */
int queue_recover(const char *data_dir, struct store *st, uint64_t *checked,
		  uint64_t *bad) PH_WUR;

/* queue_sign.c */
struct queue_signers;
int queue_sign(struct queue_signers **cache, struct store *st, struct queue_msg *m);
void queue_signers_free(struct queue_signers *c);

#endif
