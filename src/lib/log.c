/*
 * NAME
 *	log - one key=value line per event, and the error tiers
 * DESCRIPTION
 *	Lines look like
 *	  2026-11-22T15:51:35.123Z posthaste[123] info: smtpd accept ip=...
 *	Callers lead with the session or message id so that grep <id> tells
 *	a whole story. Writes are a single fwrite of a formatted line, so
 *	lines from several threads do not interleave.
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "lib/lib.h"

static enum log_level log_min = LOG_INFO;
static FILE *log_fp;
static const char *log_ident = "posthaste";
static lib_exit_hook_fn exit_hook;
static int log_buffered; /* the daemon flushes on a timer (log_flush) */
static long log_pid;      /* posthaste never forks after logging starts */

static const char *const log_names[] = {"debug", "info", "warn", "error"};

const char *
log_level_str(enum log_level l)
{
	return (unsigned)l < PH_ARRAY_LEN(log_names) ? log_names[l] : "?";
}

int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < PH_ARRAY_LEN(log_names); i++)
		if (strcmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

void
log_set_level(enum log_level l)
{
	log_min = l;
}

void
log_set_stream(FILE *fp)
{
	log_fp = fp;
}

void
log_set_ident(const char *ident)
{
	log_ident = ident;
}

static void log_vline(enum log_level l, const char *fmt, va_list ap) PH_PRINTF(2, 0);

static void
log_vline(enum log_level l, const char *fmt, va_list ap)
{
	char line[8192], ts[TIME_RFC3339_LEN];
	int n, m;

	time_rfc3339(time_now_ms(), ts);
	if (log_pid == 0)
		log_pid = (long)getpid(); /* one syscall, not one per line */
	n = snprintf(line, sizeof(line), "%s %s[%ld] %s: ", ts, log_ident, log_pid,
		     log_level_str(l));
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m < 0)
		return;
	n = (size_t)(n + m) >= sizeof(line) - 1 ? (int)sizeof(line) - 2 : n + m;
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, log_fp ? log_fp : stderr);
	if (!log_buffered || l >= LOG_WARN)
		fflush(log_fp ? log_fp : stderr);
}

void
log_set_buffered(int on)
{
	static char buffer[64 * 1024];
	static int set;

	log_buffered = on;
	if (on && log_fp == NULL && !set) {
		setvbuf(stderr, buffer, _IOFBF, sizeof(buffer));
		set = 1;
	}
}

void
log_flush(void)
{
	fflush(log_fp ? log_fp : stderr);
}

void
log_msg(enum log_level l, const char *fmt, ...)
{
	va_list ap;

	if (l < log_min)
		return;
	va_start(ap, fmt);
	log_vline(l, fmt, ap);
	va_end(ap);
}

size_t
log_escape(char *out, size_t out_size, const char *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (out_size == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
			if (out_size - o < 2)
				break;
			out[o++] = (char)c;
		} else {
			if (out_size - o < 5)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return o;
}

void
lib_set_exit_hook(lib_exit_hook_fn fn)
{
	exit_hook = fn;
}

static PH_NORETURN void die(int is_panic, const char *fmt, va_list ap) PH_PRINTF(2, 0);

static PH_NORETURN void
die(int is_panic, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_flush();
	if (exit_hook)
		exit_hook(is_panic, msg); /* tests longjmp out of here */
	if (is_panic) {
		log_msg(LOG_ERROR, "panic: %s", msg);
		abort();
	}
	/* Start-up errors are for a person at a terminal: one plain line. */
	fprintf(stderr, "posthaste: %s\n", msg);
	if (log_fp && log_fp != stderr)
		log_msg(LOG_ERROR, "fatal: %s", msg);
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	die(0, fmt, ap);
}

void
panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	die(1, fmt, ap);
}
