/*
 * NAME
 *	lib - buffers, arenas, logging, time and error tiers
 * SYNOPSIS
 *	#include "lib/lib.h"
 * DESCRIPTION
 *	The bottom layer of posthaste. Nothing here does network or file
 *	I/O other than writing log lines, so every piece can be unit tested
 *	and fuzzed alone.
 *
 *	struct buf is the one growable byte buffer: binary safe, always
 *	NUL-terminated, with a hard cap fixed at creation. Appending past the
 *	cap fails (returns -1) and leaves the buffer unchanged, so a peer
 *	cannot make us allocate without bound.
 *
 *	struct arena is a per-session bump allocator released in one call.
 *
 *	log_* write one line per event, key=value, to stderr (or a file).
 *	Untrusted text goes through log_escape() first.
 *
 *	Error tiers (Postfix msg_warn/msg_fatal/msg_panic): log_warn() logs
 *	and goes on; fatal() is for the environment at start-up (bad config,
 *	port in use) and exits 1; panic() is for our own bugs and aborts.
 *	Tests intercept both through lib_set_exit_hook().
 */
#ifndef PH_LIB_H
#define PH_LIB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define PH_WUR __attribute__((warn_unused_result))
#define PH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define PH_NORETURN __attribute__((noreturn))
#define PH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* --- allocation: failure is fatal ----------------------------------- */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PH_PRINTF(1, 2);

/* --- byte buffer with a hard cap ------------------------------------- */
struct buf {
	char *data;  /* always NUL-terminated at data[len] */
	size_t len;  /* bytes used, excluding the NUL */
	size_t size; /* bytes allocated, including room for the NUL */
	size_t cap;  /* hard limit on len */
};

void buf_init(struct buf *b, size_t cap);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* Room for n more bytes (len unchanged); -1 past the cap. */
int buf_reserve(struct buf *b, size_t n) PH_WUR;
int buf_append(struct buf *b, const void *p, size_t n) PH_WUR;
int buf_puts(struct buf *b, const char *s) PH_WUR;
/* Insert at the front; the cap grows by n (what we add is not input). */
int buf_prepend(struct buf *b, const void *p, size_t n) PH_WUR;
int buf_printf(struct buf *b, const char *fmt, ...) PH_PRINTF(2, 3) PH_WUR;
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) PH_PRINTF(2, 0) PH_WUR;
void buf_consume(struct buf *b, size_t n);
char *buf_steal(struct buf *b);

/* --- per-session arena ------------------------------------------------ */
struct arena_chunk;
struct arena {
	struct arena_chunk *head;
	size_t used_total; /* bytes handed out, for limits and tests */
};

void arena_init(struct arena *a);
void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
void arena_free(struct arena *a);

/* --- logging ----------------------------------------------------------- */
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

const char *log_level_str(enum log_level l);
int log_level_parse(const char *s, enum log_level *out) PH_WUR;
void log_set_level(enum log_level l);
void log_set_stream(FILE *fp);
void log_set_ident(const char *ident);
/* Buffer info lines (warnings and errors still go out at once); the
 * caller flushes with log_flush(), e.g. on a short timer. */
void log_set_buffered(int on);
void log_flush(void);
void log_msg(enum log_level l, const char *fmt, ...) PH_PRINTF(2, 3);
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
/* Escape untrusted bytes for a log line or a transcript: printable ASCII
 * stays, backslash, quote and everything else becomes \xHH. Output is
 * truncated to out_size-1 bytes (always terminated). */
size_t log_escape(char *out, size_t out_size, const char *in, size_t n);

/* --- error tiers ------------------------------------------------------ */
typedef void (*lib_exit_hook_fn)(int is_panic, const char *msg);
void lib_set_exit_hook(lib_exit_hook_fn fn);
PH_NORETURN void fatal(const char *fmt, ...) PH_PRINTF(1, 2);
PH_NORETURN void panic(const char *fmt, ...) PH_PRINTF(1, 2);

/* --- time -------------------------------------------------------------- */
int64_t time_now_ms(void);      /* wall clock, ms since the epoch */
int64_t time_mono_us(void);     /* monotonic, microseconds */
/* RFC 3339 UTC with milliseconds: 2026-11-22T15:51:35.123Z (25 bytes) */
#define TIME_RFC3339_LEN 64
void time_rfc3339(int64_t ms, char out[TIME_RFC3339_LEN]);
/* RFC 5322 date-time: "Sun, 22 Nov 2026 15:51:35 +0000" */
#define TIME_RFC5322_LEN 40
void time_rfc5322(int64_t ms, char out[TIME_RFC5322_LEN]);
/* Parse a duration "30", "30s", "5m", "2h", "5d", "250ms" into ms. */
int time_parse_duration(const char *s, int64_t *ms) PH_WUR;

/* --- small parsing helpers (no atoi) ---------------------------------- */
/* Whole decimal number in [min,max]; the entire string must be digits. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out) PH_WUR;
/* Size with optional k/K, m/M, g/G suffix (powers of 1024). */
int parse_size(const char *s, uint64_t *out) PH_WUR;

/* Split "ADDR:PORT" / "[V6]:PORT" into host and port (1..65535). */
int parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port) PH_WUR;

/* --- random ------------------------------------------------------------ */
void rand_bytes(void *p, size_t n);
/* n random chars from [a-z0-9] (base36-ish), NUL-terminated; out has n+1 */
void rand_token(char *out, size_t n);

/* --- JSON text (writing only; reading is jansson's, above lib) ------- */
/* Append s as a JSON string literal, quotes included. */
int json_put_str(struct buf *b, const char *s, size_t n) PH_WUR;
/* Append "key":"value" (value NULL -> null), with a leading comma when
 * the buffer's last byte is not '{'. */
int json_put_kv(struct buf *b, const char *key, const char *value) PH_WUR;
int json_put_ki(struct buf *b, const char *key, int64_t value) PH_WUR;

/* --- CRC-32C (Castagnoli), for self-validating spool records ---------- */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

/* --- string-keyed counters (per-IP and per-user limits) --------------- */
struct strmap_entry {
	struct strmap_entry *next;
	int64_t count;
	int64_t stamp_ms; /* caller's: e.g. the last change */
	char key[];
};
struct strmap {
	struct strmap_entry **slots;
	size_t nslots, n, max;
};
void strmap_init(struct strmap *m, size_t nslots, size_t max);
/* The entry for key, created with count 0 when absent; NULL when the
 * map already holds max entries (callers treat that as over a limit). */
struct strmap_entry *strmap_get(struct strmap *m, const char *key, int create);
void strmap_del(struct strmap *m, const char *key);
/* Drop every entry with count <= 0 and stamp_ms < older_than_ms. */
void strmap_expire(struct strmap *m, int64_t older_than_ms);
/* Drop every entry stamped before older_than_ms, whatever its count
 * (INT64_MAX: all of them). */
void strmap_forget_before(struct strmap *m, int64_t older_than_ms);
void strmap_free(struct strmap *m);

/* --- throttle: hold back the answer to repeated credential failures --- */
#define THROTTLE_BASE_MS 250
#define THROTTLE_MAX_MS 8000
#define THROTTLE_FORGET_MS (15 * 60 * 1000)
struct throttle {
	struct strmap fails; /* "ip:" and "user:" keys */
};
void throttle_init(struct throttle *t, size_t nslots, size_t max);
/* Note a failure of ip (and user, which may be NULL); returns how long
 * to hold the answer back, and the failures counted (may be NULL). */
int64_t throttle_failed(struct throttle *t, const char *ip, const char *user, int64_t now,
			int64_t *failures);
/* How long, in ms, the ip (or the user) must still wait after its last
 * failure before it may try again: 0 when it may try now. */
int64_t throttle_wait(struct throttle *t, const char *ip, const char *user, int64_t now);
/* A success: forget the ip's (and user's) failures. */
void throttle_passed(struct throttle *t, const char *ip, const char *user);
void throttle_free(struct throttle *t);

/* --- base64 (RFC 4648), strict ---------------------------------------- */
/* Decode; -1 on bad characters, bad padding or when out is too small.
 * out gets a NUL after the data. */
int base64_decode(const char *in, size_t n, unsigned char *out, size_t outsize,
		  size_t *outlen) PH_WUR;
void base64_encode(const unsigned char *in, size_t n, struct buf *out);
/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void hex_encode(const void *p, size_t n, char *out);

/* --- this machine's name (the default hostname) ---------------------- */
void host_name(char *out, size_t n);

/* --- privileges -------------------------------------------------------- */
/* When running as root: become user (or, when it does not exist, the
 * owner of fallback_dir; else "nobody"). Writes the chosen name into
 * who. Returns 0 when nothing was needed or the switch succeeded. */
int priv_drop(const char *user, const char *fallback_dir, char *who, size_t wholen) PH_WUR;
/* When running as root, become the owner of path (if it exists). */
int priv_become_owner(const char *path) PH_WUR;
/* Look up user; -1 when unknown. */
int priv_lookup(const char *user, unsigned *uid, unsigned *gid) PH_WUR;

#endif
