/*
 * NAME
 *	time - clocks, timestamps and the small number parsers
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "lib/lib.h"

int64_t
time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
time_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
time_rfc3339(int64_t ms, char out[TIME_RFC3339_LEN])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, TIME_RFC3339_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

void
time_rfc5322(int64_t ms, char out[TIME_RFC5322_LEN])
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, TIME_RFC5322_LEN, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
		 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}

int
parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Split "123xy" into the number and the suffix; -1 on no digits. */
static int
split_number(const char *s, uint64_t *num, const char **suffix)
{
	char digits[24];
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n >= sizeof(digits))
		return -1;
	memcpy(digits, s, n);
	digits[n] = '\0';
	*suffix = s + n;
	return parse_uint(digits, 0, UINT64_MAX, num);
}

int
parse_size(const char *s, uint64_t *out)
{
	const char *suf;
	uint64_t v, mul = 1;

	if (split_number(s, &v, &suf) < 0)
		return -1;
	if (*suf == 'k' || *suf == 'K')
		mul = 1024;
	else if (*suf == 'm' || *suf == 'M')
		mul = 1024 * 1024;
	else if (*suf == 'g' || *suf == 'G')
		mul = 1024 * 1024 * 1024;
	else if (*suf != '\0')
		return -1;
	if (*suf && suf[1] != '\0')
		return -1;
	if (v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

int
time_parse_duration(const char *s, int64_t *ms)
{
	const char *suf;
	uint64_t v, mul;

	if (split_number(s, &v, &suf) < 0)
		return -1;
	if (strcmp(suf, "ms") == 0)
		mul = 1;
	else if (*suf == '\0' || strcmp(suf, "s") == 0)
		mul = 1000;
	else if (strcmp(suf, "m") == 0)
		mul = 60 * 1000;
	else if (strcmp(suf, "h") == 0)
		mul = 3600 * 1000;
	else if (strcmp(suf, "d") == 0)
		mul = 86400 * 1000;
	else
		return -1;
	if (v > (uint64_t)INT64_MAX / mul)
		return -1;
	*ms = (int64_t)(v * mul);
	return 0;
}

int
parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon, *h = s;
	size_t hl;
	uint64_t p;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen || parse_uint(colon + 1, 1, 65535, &p) < 0)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return 0;
}

