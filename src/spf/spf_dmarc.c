/*
 * NAME
 *	spf_dmarc - DMARC record reading (RFC 7489 6.3, 6.4) and identifier
 *	alignment without an organizational domain
 * DESCRIPTION
 *	dmarc_parse() reads a policy record: a DKIM-style tag list (RFC 6376
 *	3.2: "tag=value" separated by ";", white space around both allowed,
 *	a trailing ";" allowed, a tag name at most once). "v=DMARC1" must be
 *	the first tag, exactly so; "p" is required (none, quarantine,
 *	reject). Optional: sp (default p), adkim and aspf (r or s, default
 *	r), pct (0..100, default 100), rua (comma-separated URIs, each
 *	"scheme:..." with an optional "!size" suffix). Unknown tags are
 *	ignored (6.3); ruf, fo, rf and ri are accepted unchecked.
 *
 *	Choices: a value that is present but invalid makes the record
 *	invalid, with a reason, rather than falling back to the default
 *	(6.3 says such errors SHOULD be discarded in favour of defaults; a
 *	sender checking its own record wants to hear about them). "p" may
 *	appear anywhere after "v" (the 6.4 grammar puts it second; real
 *	records and receivers do not insist). A record without "p" is
 *	invalid: this reads top-level policy records, not the 6.6.3 "rua
 *	only" fallback. An rua list longer than the field keeps the whole
 *	URIs that fit.
 *
 *	dmarc_aligned() compares two domains: strict mode wants them equal,
 *	relaxed mode also accepts either being a subdomain of the other.
 *	Without the public-suffix list, two siblings (a.example.com and
 *	b.example.com) are not aligned here although RFC 7489 3.1 would
 *	align them through example.com.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/lib.h"
#include "spf/spf.h"

#define DMARC_TAG_MAX 32     /* a tag name we care about is shorter */
#define DMARC_VALUE_MAX 2048 /* one tag value (rua lists are the long ones) */
#define DMARC_PCT_MAX 100

enum dmarc_tag {
	TAG_V = 1 << 0,
	TAG_P = 1 << 1,
	TAG_SP = 1 << 2,
	TAG_ADKIM = 1 << 3,
	TAG_ASPF = 1 << 4,
	TAG_PCT = 1 << 5,
	TAG_RUA = 1 << 6,
	TAG_RUF = 1 << 7,
	TAG_FO = 1 << 8,
	TAG_RF = 1 << 9,
	TAG_RI = 1 << 10,
};

static const struct {
	const char *name;
	unsigned tag;
} dmarc_tags[] = {
    {"v", TAG_V},       {"p", TAG_P},     {"sp", TAG_SP},   {"adkim", TAG_ADKIM},
    {"aspf", TAG_ASPF}, {"pct", TAG_PCT}, {"rua", TAG_RUA}, {"ruf", TAG_RUF},
    {"fo", TAG_FO},     {"rf", TAG_RF},   {"ri", TAG_RI},
};

static int fail(char *why, size_t whylen, const char *fmt, ...) PH_PRINTF(3, 4);

/* Write the reason and return -1. */
static int
fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* WSP and the CR LF of folded white space (RFC 6376 3.2). */
static int
is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* ALPHA. */
static int
is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* DIGIT. */
static int
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* Trim white space around s[0..*n). */
static const char *
trim(const char *s, size_t *n)
{
	while (*n > 0 && is_ws(s[0])) {
		s++;
		(*n)--;
	}
	while (*n > 0 && is_ws(s[*n - 1]))
		(*n)--;
	return s;
}

/* tag-name = ALPHA *ALNUMPUNC (RFC 6376 3.2). */
static int
tag_name_ok(const char *s, size_t n)
{
	if (n == 0 || !is_alpha(s[0]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '_')
			return 0;
	return 1;
}

/* A policy value (6.3 p, sp) into out, lower case. */
static int
policy_value(const char *v, size_t n, char out[16])
{
	static const char *const names[] = {"none", "quarantine", "reject"};

	for (size_t i = 0; i < PH_ARRAY_LEN(names); i++) {
		if (strlen(names[i]) == n && strncasecmp(v, names[i], n) == 0) {
			memcpy(out, names[i], n + 1);
			return 0;
		}
	}
	return -1;
}

/* One rua URI (6.4 dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]). */
static int
uri_ok(const char *s, size_t n)
{
	const char *bang = memchr(s, '!', n);
	size_t i = 1;

	if (bang != NULL) {
		size_t k = (size_t)(bang - s) + 1, digits = 0;

		while (k < n && is_digit(s[k])) {
			k++;
			digits++;
		}
		if (k < n && strchr("kmgtKMGT", s[k]) != NULL)
			k++;
		if (digits == 0 || k != n)
			return 0;
		n = (size_t)(bang - s);
	}
	/* RFC 3986 scheme ":" and something after it */
	if (n == 0 || !is_alpha(s[0]))
		return 0;
	while (i < n &&
	       (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
		i++;
	if (i >= n - 1 || s[i] != ':')
		return 0;
	for (size_t k = i + 1; k < n; k++)
		if ((unsigned char)s[k] <= 0x20 || (unsigned char)s[k] >= 0x7f || s[k] == ',')
			return 0;
	return 1;
}

/* Check an rua list and keep the whole URIs that fit in out. */
static int
rua_value(const char *v, size_t n, char *out, size_t size, char *why, size_t whylen)
{
	size_t used = 0;

	out[0] = '\0';
	while (n > 0) {
		const char *comma = memchr(v, ',', n);
		size_t len = comma != NULL ? (size_t)(comma - v) : n, ulen = len;
		const char *u = trim(v, &ulen);

		if (!uri_ok(u, ulen))
			return fail(why, whylen, "rua has an invalid URI \"%.*s\"",
			            (int)(ulen > 80 ? 80 : ulen), u);
		if (used + (used > 0) + ulen < size) {
			if (used > 0)
				out[used++] = ',';
			memcpy(out + used, u, ulen);
			used += ulen;
			out[used] = '\0';
		}
		if (comma == NULL)
			break;
		n -= len + 1;
		v = comma + 1;
		if (n == 0)
			return fail(why, whylen, "rua ends in a comma");
	}
	if (used == 0)
		return fail(why, whylen, "rua is empty");
	return 0;
}

/* Apply one known tag's value to out. */
static int
tag_apply(unsigned tag, const char *v, size_t n, struct dmarc_record *out, char *why, size_t whylen)
{
	char tmp[8];
	uint64_t pct;

	switch (tag) {
	case TAG_P:
	case TAG_SP:
		if (policy_value(v, n, tag == TAG_P ? out->p : out->sp) < 0)
			return fail(why, whylen,
			            "%s=%.*s is not a policy (none, quarantine or reject)",
			            tag == TAG_P ? "p" : "sp", (int)(n > 40 ? 40 : n), v);
		return 0;
	case TAG_ADKIM:
	case TAG_ASPF:
		if (n != 1 || strchr("rRsS", v[0]) == NULL)
			return fail(why, whylen, "%s=%.*s is not r or s",
			            tag == TAG_ADKIM ? "adkim" : "aspf", (int)(n > 40 ? 40 : n), v);
		*(tag == TAG_ADKIM ? &out->adkim : &out->aspf) =
		    (v[0] == 's' || v[0] == 'S') ? 's' : 'r';
		return 0;
	case TAG_PCT:
		if (n == 0 || n >= sizeof(tmp))
			return fail(why, whylen, "pct=%.*s is not a number from 0 to 100",
			            (int)(n > 40 ? 40 : n), v);
		memcpy(tmp, v, n);
		tmp[n] = '\0';
		if (parse_uint(tmp, 0, DMARC_PCT_MAX, &pct) < 0)
			return fail(why, whylen, "pct=%s is not a number from 0 to 100", tmp);
		out->pct = (unsigned)pct;
		return 0;
	case TAG_RUA:
		return rua_value(v, n, out->rua, sizeof(out->rua), why, whylen);
	default:
		return 0; /* ruf, fo, rf, ri: not used here */
	}
}

/* Read a DMARC policy record (RFC 7489 6.3, 6.4). */
int
dmarc_parse(const char *txt, struct dmarc_record *out, char *why, size_t whylen)
{
	unsigned seen = 0;
	size_t index = 0;
	const char *p = txt;

	memset(out, 0, sizeof(*out));
	out->adkim = out->aspf = 'r';
	out->pct = 100;
	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (txt == NULL)
		return fail(why, whylen, "no record");
	for (;;) {
		const char *semi = strchr(p, ';'), *eq, *name, *value;
		size_t len = semi != NULL ? (size_t)(semi - p) : strlen(p), nlen, vlen;
		unsigned tag = 0;

		name = trim(p, &len);
		if (len == 0) {
			/* an empty tag-spec: only after the last ';' (or between ";;") */
			if (index == 0)
				return fail(why, whylen,
				            "not a DMARC record: it must begin "
				            "with v=DMARC1");
			if (semi == NULL)
				break;
			p = semi + 1;
			continue;
		}
		eq = memchr(name, '=', len);
		if (eq == NULL)
			return fail(why, whylen, "\"%.*s\" is not tag=value",
			            (int)(len > 40 ? 40 : len), name);
		nlen = (size_t)(eq - name);
		vlen = len - nlen - 1;
		name = trim(name, &nlen);
		value = trim(eq + 1, &vlen);
		if (!tag_name_ok(name, nlen) || nlen > DMARC_TAG_MAX)
			return fail(why, whylen, "\"%.*s\" is not a tag name",
			            (int)(nlen > 40 ? 40 : nlen), name);
		if (vlen > DMARC_VALUE_MAX)
			return fail(why, whylen, "the value of %.*s is too long", (int)nlen, name);
		for (size_t i = 0; i < PH_ARRAY_LEN(dmarc_tags); i++)
			if (strlen(dmarc_tags[i].name) == nlen &&
			    strncasecmp(dmarc_tags[i].name, name, nlen) == 0)
				tag = dmarc_tags[i].tag;
		if (index == 0) {
			/* 6.3: v MUST be first and MUST be exactly DMARC1 */
			if (tag != TAG_V || vlen != 6 || memcmp(value, "DMARC1", 6) != 0)
				return fail(why, whylen,
				            "not a DMARC record: it must begin "
				            "with v=DMARC1");
		} else if (tag == TAG_V) {
			return fail(why, whylen, "v= appears again after the start");
		}
		if (tag != 0) {
			if (seen & tag)
				return fail(why, whylen, "%.*s= appears more than once", (int)nlen,
				            name);
			seen |= tag;
			if (tag_apply(tag, value, vlen, out, why, whylen) < 0)
				return -1;
		}
		index++;
		if (semi == NULL)
			break;
		p = semi + 1;
	}
	if (!(seen & TAG_P))
		return fail(why, whylen,
		            "no p= tag: a policy record must say none, quarantine "
		            "or reject");
	if (!(seen & TAG_SP))
		memcpy(out->sp, out->p, sizeof(out->sp));
	return 0;
}

/* Length without one trailing dot. */
static size_t
bare_len(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && s[n - 1] == '.' ? n - 1 : n;
}

/* child is parent or a subdomain of it. */
static int
under(const char *child, size_t c, const char *parent, size_t p)
{
	if (c < p || strncasecmp(child + c - p, parent, p) != 0)
		return 0;
	return c == p || child[c - p - 1] == '.';
}

/* Identifier alignment without an organizational domain. */
int
dmarc_aligned(const char *a, const char *b, char mode)
{
	size_t na, nb;

	if (a == NULL || b == NULL)
		return 0;
	na = bare_len(a);
	nb = bare_len(b);
	if (na == 0 || nb == 0)
		return 0;
	switch (mode) {
	case 's':
	case 'S':
		return na == nb && strncasecmp(a, b, na) == 0;
	case 'r':
	case 'R':
		return under(a, na, b, nb) || under(b, nb, a, na);
	default:
		return 0;
	}
}
