/*
 * NAME
 *	spf - RFC 7208 check_host() over the caller's DNS lookup function
 * DESCRIPTION
 *	spf_check_host() fetches a domain's SPF record through the caller's
 *	lookup function and evaluates it for one client address, following
 *	RFC 7208 sections 4 to 7:
 *
 *	4.3	the domain must be a valid multi-label name, else "none".
 *	4.4/4.5	TXT records beginning "v=spf1" then SP or end (case-
 *		insensitive); none -> "none", several -> "permerror"; NXDOMAIN
 *		-> "none"; a server failure or timeout -> "temperror".
 *	4.6	the whole record is parsed before any term is evaluated, so a
 *		syntax error anywhere is a "permerror" even after a match.
 *	4.6.4	include, a, mx, ptr, exists and redirect count against
 *		SPF_DNS_MECH_MAX across the whole evaluation (nested includes
 *		and redirects too); the count is taken when a term is
 *		evaluated, so terms after a match cost nothing. A term whose
 *		DNS query returns NXDOMAIN or no answers is a void lookup;
 *		more than SPF_VOID_MAX of them is a "permerror". An mx with
 *		more than SPF_MX_A_MAX names is a "permerror"; a ptr looks at
 *		the first SPF_PTR_MAX names only.
 *	5	mechanisms, with the 5.2 include table; an IPv4-mapped IPv6
 *		client (::ffff:a.b.c.d) is evaluated as IPv4 (5, last
 *		paragraph: it "MUST still be considered an IPv4 address"), so
 *		it matches ip4 terms and A records, never ip6 terms.
 *	6	redirect (applied only when nothing matched; "none" from the
 *		target is a "permerror") and exp (fetched only for a "fail",
 *		outside the limits, from the record that decided: an
 *		included record's exp is never used, a redirect target's is).
 *	7	macros in domain-specs: s l o d i p h v with digit and "r"
 *		transformers and the delimiters .-+,/_= ; upper-case letters
 *		are URL-escaped; c r t only in explanation text (elsewhere a
 *		"permerror"); an expansion longer than 253 octets loses
 *		labels from the left.
 *
 *	Choices where the RFC leaves room: %{p} expands to "unknown" (no
 *	PTR validation is spent on it); %{h} is "" without a HELO name;
 *	a target-name that is not a usable DNS name after expansion (an
 *	empty or over-long label) makes its mechanism not match, because
 *	macro text comes partly from the sender, who must not be able to
 *	turn a "fail" into a "permerror"; records longer than
 *	SPF_RECORD_MAX are a "permerror"; the MX lookup of an mx, the PTR
 *	lookup of a ptr and the A/AAAA lookup of an a or exists are the
 *	queries that can be void (the address lookups of MX and PTR names
 *	are not); a failed PTR lookup, or a failed address lookup of a
 *	PTR name, is no match (5.5), every other failed lookup a
 *	"temperror"; one trailing dot on a domain is dropped, also for
 *	%{d}. When the lookup limit is passed because includes and
 *	redirects loop, the reason names the loop.
 *
 *	dns_lookups is SPF_DNS_MECH_MAX + 1 when that limit was passed,
 *	void_lookups SPF_VOID_MAX + 1 when that one was. The exp= query
 *	counts toward neither.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "lib/lib.h"
#include "spf/spf.h"

#define SPF_LABEL_MAX 63            /* RFC 1035 2.3.4 */
#define SPF_EXPAND_MAX (256 * 1024) /* one macro expansion, before the 7.3 cut */
#define SPF_EXPLAIN_MAX 200         /* explanation text kept for the reason */
#define SPF_DIGITS_MAX 255          /* a larger transformer count means "all parts" */
#define SPF_ERR_MAX 400
/* check_host() nesting: each level costs a counted include or redirect */
#define SPF_CHAIN_MAX (SPF_DNS_MECH_MAX + 1)
#define SPF_TERM_SHOW 80 /* a term quoted in a reason */

/* Precision for quoting n bytes of a term with "%.*s". */
#define SHOW(n) ((int)((n) > SPF_TERM_SHOW ? SPF_TERM_SHOW : (n)))

/* The result's RFC 7208 2.6 name, for logs and Received-SPF. */
const char *
spf_result_str(enum spf_result r)
{
	switch (r) {
	case SPF_NONE:
		return "none";
	case SPF_NEUTRAL:
		return "neutral";
	case SPF_PASS:
		return "pass";
	case SPF_FAIL:
		return "fail";
	case SPF_SOFTFAIL:
		return "softfail";
	case SPF_TEMPERROR:
		return "temperror";
	case SPF_PERMERROR:
		return "permerror";
	}
	return "?";
}

/* Free what a lookup function returned. */
void
spf_rrs_free(struct spf_rr *rrs, size_t n)
{
	if (rrs == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(rrs[i].txt);
	free(rrs);
}

/* --- ASCII helpers (no locale) ---------------------------------------- */

/* ALPHA of RFC 5234. */
static int
is_alpha(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* DIGIT of RFC 5234. */
static int
is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

/* ALPHA / DIGIT. */
static int
is_alnum(int ch)
{
	return is_alpha(ch) || is_digit(ch);
}

/* Lower-case an ASCII letter. */
static int
to_lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

/* Bounded, always-terminated copy of n bytes of s. */
static void
copy_n(char *dst, size_t size, const char *s, size_t n)
{
	if (size == 0)
		return;
	if (n >= size)
		n = size - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Replace anything but printable ASCII, so a reason is safe to show and log. */
static void
sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

/* --- names -------------------------------------------------------------- */

/* RFC 7208 7.1 toplabel: alphanumerics with at least one letter, or
 * alphanumerics and dashes that neither begin nor end with a dash. */
static int
toplabel_ok(const char *s, size_t n)
{
	int alpha = 0, dash = 0;

	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (is_alpha(s[i]))
			alpha = 1;
		else if (s[i] == '-')
			dash = 1;
		else if (!is_digit(s[i]))
			return 0;
	}
	return alpha || dash;
}

/* Labels of 1..63 octets, at most 253 octets in all (a trailing dot
 * already removed); at least two labels when multi is set. */
static int
labels_ok(const char *s, size_t n, int multi)
{
	size_t label = 0, labels = 1;

	if (n == 0 || n > SPF_DOMAIN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
			labels++;
		} else if (++label > SPF_LABEL_MAX) {
			return 0;
		}
	}
	return label > 0 && (!multi || labels >= 2);
}

/* RFC 7208 4.3: a fully qualified, multi-label name of printable ASCII
 * whose last label is a toplabel (so "[192.0.2.1]" and "192.0.2.1",
 * which are not domains, give "none"). */
static int
domain_valid(const char *d)
{
	size_t n = strlen(d);
	const char *top;

	if (n > 0 && d[n - 1] == '.')
		n--;
	if (!labels_ok(d, n, 1))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)d[i] <= 0x20 || (unsigned char)d[i] >= 0x7f)
			return 0;
	top = (const char *)memrchr(d, '.', n) + 1;
	return toplabel_ok(top, (size_t)(d + n - top));
}

/* Length of name without one trailing dot. */
static size_t
name_len(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && s[n - 1] == '.' ? n - 1 : n;
}

/* name equals domain or is a subdomain of it, case-insensitive, trailing
 * dots ignored (RFC 7208 5.5). */
static int
name_within(const char *name, const char *domain)
{
	size_t n = name_len(name), d = name_len(domain);

	if (d == 0 || n < d)
		return 0;
	if (strncasecmp(name + n - d, domain, d) != 0)
		return 0;
	return n == d || name[n - d - 1] == '.';
}

/* --- context ------------------------------------------------------------ */

struct spf_ctx {
	spf_lookup_fn lookup;
	void *arg;
	int family; /* AF_INET or AF_INET6, after IPv4-mapped folding */
	unsigned char ip[16];
	char ip_c[INET6_ADDRSTRLEN]; /* %{c}: 192.0.2.3, 2001:db8::cb01 */
	char ip_i[72];               /* %{i}: dotted quad or 32 dotted nibbles */
	char *local, *sdomain;       /* sender parts: %{l} %{o}; %{s} = l@o */
	const char *helo, *receiver;
	unsigned dns_lookups, void_lookups;
	/* the domains being evaluated, outermost first: chain[depth] */
	char chain[SPF_CHAIN_MAX][SPF_DOMAIN_MAX + 1];
	char err[SPF_ERR_MAX];      /* the first error, for the reason */
	char none_why[SPF_ERR_MAX]; /* why the last check_host() gave none */
};

static void set_err(struct spf_ctx *c, const char *fmt, ...) PH_PRINTF(2, 3);
static void set_none(struct spf_ctx *c, const char *fmt, ...) PH_PRINTF(2, 3);

/* Note the first error of the evaluation; later ones only follow from it. */
static void
set_err(struct spf_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

/* Say why check_host() returned none. */
static void
set_none(struct spf_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->none_why, sizeof(c->none_why), fmt, ap);
	va_end(ap);
}

/* DNS type name for a reason. */
static const char *
rrtype_str(enum spf_rrtype t)
{
	switch (t) {
	case SPF_RR_A:
		return "A";
	case SPF_RR_MX:
		return "MX";
	case SPF_RR_TXT:
		return "TXT";
	case SPF_RR_AAAA:
		return "AAAA";
	case SPF_RR_PTR:
		return "PTR";
	}
	return "?";
}

/* Ask the caller; keep only answers of the asked type, terminate names,
 * and report an empty answer as NODATA. *rrs is NULL unless OK. */
static enum spf_dns_status
dns_query(struct spf_ctx *c, const char *name, enum spf_rrtype type, struct spf_rr **rrs, size_t *n)
{
	enum spf_dns_status st;
	struct spf_rr *got = NULL;
	size_t ngot = 0, keep = 0;

	*rrs = NULL;
	*n = 0;
	st = c->lookup(c->arg, name, type, &got, &ngot);
	if (got == NULL)
		ngot = 0;
	if (st != SPF_DNS_OK) {
		spf_rrs_free(got, ngot);
		return st == SPF_DNS_NXDOMAIN || st == SPF_DNS_NODATA ? st : SPF_DNS_TEMPFAIL;
	}
	for (size_t i = 0; i < ngot; i++) {
		if (got[i].type != type) {
			free(got[i].txt);
			continue;
		}
		got[i].name[sizeof(got[i].name) - 1] = '\0';
		got[keep++] = got[i];
	}
	if (keep == 0) {
		free(got);
		return SPF_DNS_NODATA;
	}
	*rrs = got;
	*n = keep;
	return SPF_DNS_OK;
}

/* The address query type for the client's family. */
static enum spf_rrtype
addr_type(const struct spf_ctx *c)
{
	return c->family == AF_INET ? SPF_RR_A : SPF_RR_AAAA;
}

/* The first bits of a and b agree. */
static int
prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
	int whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[whole] ^ b[whole]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* --- macros (RFC 7208 7) ----------------------------------------------- */

enum tok_kind { TOK_LITERAL, TOK_ESCAPE, TOK_MACRO };

struct macro_tok {
	enum tok_kind kind;
	size_t len;        /* bytes of input consumed */
	char letter;       /* TOK_MACRO: lower case */
	int upper;         /* URL-escape the value (7.3) */
	unsigned digits;   /* 0 = all parts */
	int reverse;       /* "r" transformer */
	char delims[8];    /* split characters, default "." */
	const char *subst; /* TOK_ESCAPE: "%", " " or "%20" */
};

/* Read one token of a macro-string: a literal byte, "%%", "%_", "%-" or
 * "%{" letter *DIGIT ["r"] *delimiter "}". c, r and t, and SP as a
 * literal, are allowed only in explanation text. -1 on a syntax error. */
static int
macro_next(const char *s, size_t n, int explain, struct macro_tok *t)
{
	size_t i = 2, nd = 0;
	unsigned long v = 0;
	int digits = 0;

	memset(t, 0, sizeof(*t));
	if (s[0] != '%') {
		unsigned char ch = (unsigned char)s[0];

		/* macro-literal = %x21-24 / %x26-7E; explain-string adds SP */
		if (ch > 0x7e || ch < 0x20 || (ch == ' ' && !explain))
			return -1;
		t->kind = TOK_LITERAL;
		t->len = 1;
		return 0;
	}
	if (n < 2)
		return -1;
	t->kind = TOK_ESCAPE;
	t->len = 2;
	switch (s[1]) {
	case '%':
		t->subst = "%";
		return 0;
	case '_':
		t->subst = " ";
		return 0;
	case '-':
		t->subst = "%20";
		return 0;
	case '{':
		break;
	default:
		return -1; /* 7.1: '%' not followed by '{', '%', '-' or '_' */
	}
	if (n < 4)
		return -1;
	t->kind = TOK_MACRO;
	if (s[i] == '\0')
		return -1;
	t->letter = (char)to_lower(s[i]);
	t->upper = s[i] >= 'A' && s[i] <= 'Z';
	if (strchr("slodiphv", t->letter) == NULL && !(explain && strchr("crt", t->letter) != NULL))
		return -1;
	i++;
	while (i < n && is_digit(s[i])) {
		digits = 1;
		if (v <= SPF_DIGITS_MAX)
			v = v * 10 + (unsigned long)(s[i] - '0');
		i++;
	}
	if (digits && v == 0)
		return -1; /* 7.3: the number MUST be nonzero */
	t->digits = v > SPF_DIGITS_MAX ? 0 : (unsigned)v;
	if (i < n && (s[i] == 'r' || s[i] == 'R')) {
		t->reverse = 1;
		i++;
	}
	while (i < n && strchr(".-+,/_=", s[i]) != NULL && s[i] != '\0') {
		if (strchr(t->delims, s[i]) == NULL && nd < sizeof(t->delims) - 1)
			t->delims[nd++] = s[i];
		i++;
	}
	if (i >= n || s[i] != '}')
		return -1;
	if (nd == 0)
		t->delims[0] = '.';
	t->len = i + 1;
	return 0;
}

/* RFC 7208 7.1 domain-spec = macro-string domain-end, domain-end =
 * ( "." toplabel [ "." ] ) / macro-expand. Checked before expansion,
 * as 7.1 asks, so a HELO name or a local part cannot make it fail. */
static int
domain_spec_ok(const char *s, size_t n)
{
	size_t i = 0, tail = 0;
	struct macro_tok t;
	const char *dot;

	if (n == 0)
		return 0;
	while (i < n) {
		if (macro_next(s + i, n - i, 0, &t) < 0)
			return 0;
		i += t.len;
		if (t.kind != TOK_LITERAL)
			tail = i;
	}
	if (tail == n)
		return 1; /* ends in a macro-expand */
	s += tail;
	n -= tail;
	if (s[n - 1] == '.')
		n--;
	dot = n > 0 ? memrchr(s, '.', n) : NULL;
	if (dot == NULL)
		return 0;
	return toplabel_ok(dot + 1, (size_t)(s + n - dot - 1));
}

/* Append the URL-escaped form of s (7.3: upper-case macro letters). */
static int
url_escape(struct buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};

		/* RFC 3986 unreserved stays */
		if (is_alnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			if (buf_append(out, s + i, 1) < 0)
				return -1;
		} else if (buf_append(out, e, 3) < 0) {
			return -1;
		}
	}
	return 0;
}

/* One macro's value: split on the delimiters, optionally reverse, keep
 * the rightmost digits parts, join with dots (7.3). */
static int
macro_value(const struct macro_tok *t, const char *v, struct buf *out)
{
	struct buf joined;
	size_t n = strlen(v), parts = 1, first, *start;
	int rc = -1;

	for (size_t i = 0; i < n; i++)
		if (strchr(t->delims, v[i]) != NULL)
			parts++;
	/* start[k]..start[k+1]-1 is part k (the delimiter excluded) */
	start = xcalloc(parts + 1, sizeof(*start));
	for (size_t i = 0, k = 1; i < n; i++)
		if (strchr(t->delims, v[i]) != NULL)
			start[k++] = i + 1;
	start[parts] = n + 1;
	buf_init(&joined, SPF_EXPAND_MAX);
	first = t->digits != 0 && t->digits < parts ? parts - t->digits : 0;
	for (size_t j = first; j < parts; j++) {
		/* after reversal the j-th part is the (parts-1-j)-th of the original */
		size_t k = t->reverse ? parts - 1 - j : j;

		if (j > first && buf_append(&joined, ".", 1) < 0)
			goto out;
		if (buf_append(&joined, v + start[k], start[k + 1] - 1 - start[k]) < 0)
			goto out;
	}
	if (t->upper)
		rc = url_escape(out, joined.data, joined.len);
	else
		rc = buf_append(out, joined.data, joined.len);
out:
	buf_free(&joined);
	free(start);
	return rc;
}

/* Expand a macro-string for the current domain into out (cap
 * SPF_EXPAND_MAX); -1 on a syntax error or past the cap. */
static int
macro_expand(struct spf_ctx *c, const char *domain, const char *s, size_t n, int explain,
             struct buf *out)
{
	char tbuf[32];
	size_t i = 0;

	while (i < n) {
		struct macro_tok t;
		const char *v = "";
		char *sender = NULL;
		int rc;

		if (macro_next(s + i, n - i, explain, &t) < 0)
			return -1;
		if (t.kind == TOK_LITERAL) {
			if (buf_append(out, s + i, 1) < 0)
				return -1;
			i += t.len;
			continue;
		}
		i += t.len;
		if (t.kind == TOK_ESCAPE) {
			if (buf_puts(out, t.subst) < 0)
				return -1;
			continue;
		}
		switch (t.letter) {
		case 's':
			v = sender = xasprintf("%s@%s", c->local, c->sdomain);
			break;
		case 'l':
			v = c->local;
			break;
		case 'o':
			v = c->sdomain;
			break;
		case 'd':
			v = domain;
			break;
		case 'i':
			v = c->ip_i;
			break;
		case 'p':
			v = "unknown"; /* no PTR validation spent on %{p} (7.3 allows it) */
			break;
		case 'h':
			v = c->helo != NULL ? c->helo : "";
			break;
		case 'v':
			v = c->family == AF_INET ? "in-addr" : "ip6";
			break;
		case 'c':
			v = c->ip_c;
			break;
		case 'r':
			v = c->receiver != NULL && c->receiver[0] != '\0' ? c->receiver : "unknown";
			break;
		case 't':
			snprintf(tbuf, sizeof(tbuf), "%lld", (long long)time(NULL));
			v = tbuf;
			break;
		default:
			return -1;
		}
		rc = macro_value(&t, v, out);
		free(sender);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* The target-name of a domain-spec (RFC 7208 4.8, 7.3): expanded, one
 * trailing dot dropped, labels cut from the left to fit 253 octets.
 * 0 and the name; 1 when it is no usable DNS name (the mechanism then
 * does not match); -1 on a macro error (permerror). */
static int
target_name(struct spf_ctx *c, const char *domain, const char *spec, size_t n,
            char out[SPF_DOMAIN_MAX + 2])
{
	struct buf b;
	const char *p;
	size_t len;
	int rc = 1;

	buf_init(&b, SPF_EXPAND_MAX);
	if (macro_expand(c, domain, spec, n, 0, &b) < 0) {
		buf_free(&b);
		return -1;
	}
	p = b.data;
	len = b.len;
	if (len > 0 && p[len - 1] == '.')
		len--;
	while (len > SPF_DOMAIN_MAX) {
		const char *dot = memchr(p, '.', len);

		if (dot == NULL)
			break;
		len -= (size_t)(dot + 1 - p);
		p = dot + 1;
	}
	if (labels_ok(p, len, 0) && memchr(p, '\0', len) == NULL) {
		copy_n(out, SPF_DOMAIN_MAX + 2, p, len);
		rc = 0;
	}
	buf_free(&b);
	return rc;
}

/* --- records (RFC 7208 4.5, 4.6, 12) ---------------------------------- */

enum spf_mech {
	MECH_ALL,
	MECH_INCLUDE,
	MECH_A,
	MECH_MX,
	MECH_PTR,
	MECH_IP4,
	MECH_IP6,
	MECH_EXISTS
};

static const struct {
	const char *name;
	enum spf_mech mech;
} mech_table[] = {
    {"all", MECH_ALL}, {"include", MECH_INCLUDE}, {"a", MECH_A},     {"mx", MECH_MX},
    {"ptr", MECH_PTR}, {"ip4", MECH_IP4},         {"ip6", MECH_IP6}, {"exists", MECH_EXISTS},
};

struct spf_term {
	enum spf_mech mech;
	enum spf_result qual; /* the result when it matches */
	const char *text;     /* the term as written */
	size_t textlen;
	const char *spec; /* domain-spec, NULL when absent */
	size_t speclen;
	unsigned char net[16]; /* ip4/ip6 */
	int cidr4, cidr6;
};

struct spf_record {
	char *text; /* owned */
	struct spf_term *terms;
	size_t nterms;
	const char *redirect, *exp; /* domain-specs, NULL when absent */
	size_t redirectlen, explen;
};

/* True when txt is an SPF record: "v=spf1" then SP or end (4.5). */
static int
is_spf_record(const char *txt)
{
	return strncasecmp(txt, "v=spf1", 6) == 0 && (txt[6] == ' ' || txt[6] == '\0');
}

/* A cidr length: "0" or digits without a leading zero, at most max. */
static int
cidr_value(const char *s, size_t n, int max, int *out)
{
	int v = 0;

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* Split a trailing dual-cidr-length ("/n", "//n" or "/n//n") off s:
 * *keep is what precedes it. -1 when a length is malformed. */
static int
dual_cidr(const char *s, size_t n, int *c4, int *c6, size_t *keep)
{
	size_t j = n;

	*c4 = 32;
	*c6 = 128;
	while (j > 0 && is_digit(s[j - 1]))
		j--;
	if (j < n && j > 0 && s[j - 1] == '/') {
		if (j > 1 && s[j - 2] == '/') {
			if (cidr_value(s + j, n - j, 128, c6) < 0)
				return -1;
			n = j - 2;
			j = n;
			while (j > 0 && is_digit(s[j - 1]))
				j--;
			if (!(j < n && j > 0 && s[j - 1] == '/')) {
				*keep = n;
				return 0;
			}
		}
		if (cidr_value(s + j, n - j, 32, c4) < 0)
			return -1;
		n = j - 1;
	}
	*keep = n;
	return 0;
}

/* ip4-network (7.1 qnum: no leading zeros) into net[0..3]. */
static int
ip4_parse(const char *s, size_t n, unsigned char *net)
{
	size_t i = 0;

	for (int octet = 0; octet < 4; octet++) {
		size_t start = i;
		unsigned v = 0;

		if (octet > 0) {
			if (i >= n || s[i] != '.')
				return -1;
			start = ++i;
		}
		while (i < n && is_digit(s[i]) && i - start < 3)
			v = v * 10 + (unsigned)(s[i++] - '0');
		if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
			return -1;
		net[octet] = (unsigned char)v;
	}
	return i == n ? 0 : -1;
}

/* ip6-network into net[0..15]. */
static int
ip6_parse(const char *s, size_t n, unsigned char *net)
{
	char tmp[INET6_ADDRSTRLEN + 1];

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, net) == 1 ? 0 : -1;
}

/* Parse one directive (4.6.1, 5): qualifier, mechanism and arguments. */
static int
directive_parse(const char *s, size_t n, struct spf_term *t, char *why, size_t whylen)
{
	size_t i = 0, keep;
	const char *rest;
	size_t restlen;
	int found = 0;

	t->qual = SPF_PASS;
	t->cidr4 = 32;
	t->cidr6 = 128;
	switch (s[0]) {
	case '+':
		i = 1;
		break;
	case '-':
		t->qual = SPF_FAIL;
		i = 1;
		break;
	case '~':
		t->qual = SPF_SOFTFAIL;
		i = 1;
		break;
	case '?':
		t->qual = SPF_NEUTRAL;
		i = 1;
		break;
	default:
		break;
	}
	rest = s + i;
	while (i < n && is_alnum(s[i]))
		i++;
	for (size_t k = 0; k < PH_ARRAY_LEN(mech_table); k++) {
		size_t ml = strlen(mech_table[k].name);

		if ((size_t)(s + i - rest) == ml &&
		    strncasecmp(rest, mech_table[k].name, ml) == 0) {
			t->mech = mech_table[k].mech;
			found = 1;
		}
	}
	if (!found) {
		if (s + i == rest)
			snprintf(why, whylen, "has a malformed term \"%.*s\"", SHOW(n), s);
		else if (i == n)
			snprintf(why, whylen, "has an unknown mechanism \"%.*s\"", SHOW(n), s);
		else
			snprintf(why, whylen, "has an unknown mechanism \"%.*s\" (in \"%.*s\")",
			         SHOW((size_t)(s + i - rest)), rest, SHOW(n), s);
		return -1;
	}
	rest = s + i;
	restlen = n - i;
	switch (t->mech) {
	case MECH_ALL:
		if (restlen != 0)
			goto syntax;
		return 0;
	case MECH_INCLUDE:
	case MECH_EXISTS:
		if (restlen < 2 || rest[0] != ':' || !domain_spec_ok(rest + 1, restlen - 1))
			goto syntax;
		t->spec = rest + 1;
		t->speclen = restlen - 1;
		return 0;
	case MECH_A:
	case MECH_MX:
	case MECH_PTR:
		/* [":" domain-spec], and for a and mx a dual-cidr-length */
		if (t->mech != MECH_PTR) {
			if (dual_cidr(rest, restlen, &t->cidr4, &t->cidr6, &keep) < 0)
				goto syntax;
			restlen = keep;
		}
		if (restlen == 0)
			return 0;
		if (restlen < 2 || rest[0] != ':' || !domain_spec_ok(rest + 1, restlen - 1))
			goto syntax;
		t->spec = rest + 1;
		t->speclen = restlen - 1;
		return 0;
	case MECH_IP4:
	case MECH_IP6: {
		const char *slash;
		size_t netlen;
		int v4 = t->mech == MECH_IP4;

		if (restlen < 2 || rest[0] != ':')
			goto syntax;
		rest++;
		restlen--;
		slash = memchr(rest, '/', restlen);
		netlen = slash != NULL ? (size_t)(slash - rest) : restlen;
		if ((v4 ? ip4_parse(rest, netlen, t->net) : ip6_parse(rest, netlen, t->net)) < 0)
			goto syntax;
		if (slash != NULL && cidr_value(slash + 1, restlen - netlen - 1, v4 ? 32 : 128,
		                                v4 ? &t->cidr4 : &t->cidr6) < 0)
			goto syntax;
		return 0;
	}
	}
syntax:
	if ((t->mech == MECH_A || t->mech == MECH_MX) && restlen > 1 && rest[0] == ':') {
		/* a common mistake: an address where a domain belongs */
		unsigned char tmp[16];
		int v4 = ip4_parse(rest + 1, restlen - 1, tmp) == 0;
		int v6 = !v4 && ip6_parse(rest + 1, restlen - 1, tmp) == 0;
		const char *arg = rest + 1;

		if (v4 || v6) {
			snprintf(why, whylen,
			         "has \"%.*s\", which names an address, not a domain: "
			         "write ip%c:%.*s instead",
			         SHOW(n), s, v4 ? '4' : '6', SHOW((size_t)(s + n - arg)), arg);
			return -1;
		}
	}
	snprintf(why, whylen, "has a syntax error in \"%.*s\"", SHOW(n), s);
	return -1;
}

/* Parse a modifier (6): name "=" value, when s is one. 1 parsed, 0 not a
 * modifier, -1 error. Unknown modifiers are checked and ignored. */
static int
modifier_parse(struct spf_record *r, const char *s, size_t n, char *why, size_t whylen)
{
	size_t i = 1;
	const char **slot = NULL;
	size_t *slotlen = NULL;

	if (!is_alpha(s[0]))
		return 0;
	while (i < n && (is_alnum(s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '.'))
		i++;
	if (i >= n || s[i] != '=')
		return 0;
	if (i == 8 && strncasecmp(s, "redirect", 8) == 0) {
		slot = &r->redirect;
		slotlen = &r->redirectlen;
	} else if (i == 3 && strncasecmp(s, "exp", 3) == 0) {
		slot = &r->exp;
		slotlen = &r->explen;
	}
	if (slot == NULL) {
		/* unknown-modifier = name "=" macro-string: its syntax still counts */
		for (size_t k = i + 1; k < n;) {
			struct macro_tok t;

			if (macro_next(s + k, n - k, 1, &t) < 0) {
				snprintf(why, whylen, "has a macro error in \"%.*s\"", SHOW(n), s);
				return -1;
			}
			k += t.len;
		}
		return 1;
	}
	if (*slot != NULL) {
		snprintf(why, whylen, "has %.*s= more than once", (int)i, s);
		return -1;
	}
	if (!domain_spec_ok(s + i + 1, n - i - 1)) {
		snprintf(why, whylen, "has a syntax error in \"%.*s\"", SHOW(n), s);
		return -1;
	}
	*slot = s + i + 1;
	*slotlen = n - i - 1;
	return 1;
}

/* Parse a whole record (its text owned by r), every term before any is
 * evaluated (4.6). 0, or -1 with why completing "the record ...". */
static int
record_parse(struct spf_record *r, char *why, size_t whylen)
{
	const char *p = r->text + 6, *end;
	size_t cap = 0;

	for (const char *q = r->text; *q; q++) {
		if ((unsigned char)*q > 0x7e || (unsigned char)*q < 0x20) {
			snprintf(why, whylen, "holds a byte that is not printable ASCII (0x%02x)",
			         (unsigned char)*q);
			return -1;
		}
		if (*q == ' ')
			cap++;
	}
	r->terms = xcalloc(cap + 1, sizeof(*r->terms));
	for (;;) {
		struct spf_term *t;
		size_t n;
		int m;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		end = strchr(p, ' ');
		if (end == NULL)
			end = p + strlen(p);
		n = (size_t)(end - p);
		m = modifier_parse(r, p, n, why, whylen);
		if (m < 0)
			return -1;
		if (m == 0) {
			t = &r->terms[r->nterms];
			t->text = p;
			t->textlen = n;
			if (directive_parse(p, n, t, why, whylen) < 0)
				return -1;
			r->nterms++;
		}
		p = end;
	}
	return 0;
}

/* Release what record_parse() and record_fetch() allocated. */
static void
record_free(struct spf_record *r)
{
	free(r->terms);
	free(r->text);
	memset(r, 0, sizeof(*r));
}

/* RFC 7208 4.4, 4.5: the one SPF record of domain. 0 with *text, or -1
 * with *res none, temperror or permerror. */
static int
record_fetch(struct spf_ctx *c, const char *domain, char **text, enum spf_result *res)
{
	struct spf_rr *rrs;
	size_t n, found = 0, which = 0;
	enum spf_dns_status st;

	*text = NULL;
	st = dns_query(c, domain, SPF_RR_TXT, &rrs, &n);
	switch (st) {
	case SPF_DNS_TEMPFAIL:
		set_err(c, "the TXT lookup of %s failed temporarily (server failure or timeout)",
		        domain);
		*res = SPF_TEMPERROR;
		return -1;
	case SPF_DNS_NXDOMAIN:
		set_none(c, "%s does not exist in DNS (NXDOMAIN)", domain);
		*res = SPF_NONE;
		return -1;
	case SPF_DNS_NODATA:
		set_none(c, "%s has no TXT records, so no SPF record", domain);
		*res = SPF_NONE;
		return -1;
	case SPF_DNS_OK:
		break;
	}
	for (size_t i = 0; i < n; i++) {
		if (rrs[i].txt != NULL && is_spf_record(rrs[i].txt)) {
			found++;
			which = i;
		}
	}
	if (found == 0) {
		set_none(c, "%s has no TXT record beginning with \"v=spf1\"", domain);
		*res = SPF_NONE;
	} else if (found > 1) {
		set_err(c,
		        "%s publishes %zu records beginning with \"v=spf1\"; there must be "
		        "exactly one (RFC 7208 4.5), so merge them",
		        domain, found);
		*res = SPF_PERMERROR;
	} else if (strlen(rrs[which].txt) > SPF_RECORD_MAX) {
		set_err(c, "the SPF record of %s is longer than %d octets", domain, SPF_RECORD_MAX);
		*res = SPF_PERMERROR;
	} else {
		*text = xstrdup(rrs[which].txt);
	}
	spf_rrs_free(rrs, n);
	return *text != NULL ? 0 : -1;
}

/* --- evaluation (RFC 7208 4.6, 5, 6) ---------------------------------- */

/* What the top level needs to explain a result. */
struct spf_eval {
	char domain[SPF_DOMAIN_MAX + 2]; /* the record that decided */
	char term[256];                  /* the term that matched, "" for none */
	enum spf_mech mech;
	int matched;
	int redirected; /* decided in a redirect target */
	char *exp;      /* that record's exp domain-spec, or NULL */
};

enum match { MATCH_NO, MATCH_YES, MATCH_TEMPERROR, MATCH_PERMERROR };

static enum spf_result check_host(struct spf_ctx *c, const char *domain, int depth,
                                  struct spf_eval *ev, struct spf_outcome *top);

/* "a -> b -> a" when the domains being evaluated repeat, else "". */
static void
loop_text(const struct spf_ctx *c, int depth, char *out, size_t size)
{
	out[0] = '\0';
	for (int j = 1; j <= depth && j < SPF_CHAIN_MAX; j++) {
		for (int i = 0; i < j; i++) {
			size_t used = 0;

			if (strcasecmp(c->chain[i], c->chain[j]) != 0)
				continue;
			for (int k = i; k <= j && used + 1 < size; k++) {
				snprintf(out + used, size - used, "%s%s", k > i ? " -> " : "",
				         c->chain[k]);
				used += strlen(out + used);
			}
			return;
		}
	}
}

/* Count a term that queries DNS against the 4.6.4 limit. */
static int
count_lookup(struct spf_ctx *c, int depth, const char *domain, const char *what, size_t whatlen)
{
	char loop[200];

	if (++c->dns_lookups <= SPF_DNS_MECH_MAX)
		return 0;
	loop_text(c, depth, loop, sizeof(loop));
	if (loop[0] != '\0')
		set_err(c,
		        "its includes and redirects loop (%s), so evaluating it passes the "
		        "limit of %d DNS-querying terms (RFC 7208 4.6.4). Break the loop",
		        loop, SPF_DNS_MECH_MAX);
	else
		set_err(c,
		        "evaluating it takes more than %d DNS-querying terms (include, a, mx, "
		        "ptr, exists, redirect; RFC 7208 4.6.4): the limit was passed at "
		        "\"%.*s\" in the record of %s. Replace includes by ip4:/ip6: ranges or "
		        "drop unused terms",
		        SPF_DNS_MECH_MAX, SHOW(whatlen), what, domain);
	return -1;
}

/* Count a void lookup (4.6.4): NXDOMAIN or no answers. */
static enum match
count_void(struct spf_ctx *c, enum spf_dns_status st, const char *name, const char *domain)
{
	if (st != SPF_DNS_NXDOMAIN && st != SPF_DNS_NODATA)
		return MATCH_NO;
	if (++c->void_lookups <= SPF_VOID_MAX)
		return MATCH_NO;
	set_err(c,
	        "more than %d of its lookups found nothing (void lookups, RFC 7208 4.6.4); "
	        "the last was %s, named in the record of %s. Remove terms naming domains "
	        "that do not exist",
	        SPF_VOID_MAX, name, domain);
	return MATCH_PERMERROR;
}

/* A temporary DNS failure stops the evaluation (5, 4.4). */
static enum match
temp_failure(struct spf_ctx *c, const char *name, enum spf_rrtype type, const char *domain)
{
	set_err(c, "the %s lookup of %s (for the record of %s) failed temporarily",
	        rrtype_str(type), name, domain);
	return MATCH_TEMPERROR;
}

/* Any address of name within the cidr length of the client (5.3, 5.4):
 * match, no match, or temperror. */
static enum match
addr_check(struct spf_ctx *c, const char *name, int cidr, const char *domain,
           enum spf_dns_status *stp)
{
	struct spf_rr *rrs;
	size_t n;
	enum match m = MATCH_NO;
	enum spf_dns_status st = dns_query(c, name, addr_type(c), &rrs, &n);

	if (stp != NULL)
		*stp = st;
	if (st == SPF_DNS_TEMPFAIL)
		return temp_failure(c, name, addr_type(c), domain);
	for (size_t i = 0; i < n && m == MATCH_NO; i++)
		if (prefix_eq(rrs[i].addr, c->ip, cidr))
			m = MATCH_YES;
	spf_rrs_free(rrs, n);
	return m;
}

/* mx (5.4): the addresses of at most SPF_MX_A_MAX exchanges. */
static enum match
mx_check(struct spf_ctx *c, const char *target, int cidr, const char *domain)
{
	struct spf_rr *rrs;
	size_t n;
	enum match m;
	enum spf_dns_status st = dns_query(c, target, SPF_RR_MX, &rrs, &n);

	if (st == SPF_DNS_TEMPFAIL)
		return temp_failure(c, target, SPF_RR_MX, domain);
	if ((m = count_void(c, st, target, domain)) != MATCH_NO || n == 0)
		return m;
	if (n > SPF_MX_A_MAX) {
		set_err(c,
		        "%s has %zu MX records, more than the %d an mx term may look at "
		        "(RFC 7208 4.6.4); the record of %s names it",
		        target, n, SPF_MX_A_MAX, domain);
		spf_rrs_free(rrs, n);
		return MATCH_PERMERROR;
	}
	for (size_t i = 0; i < n && m == MATCH_NO; i++) {
		char *name = rrs[i].name;
		size_t len = name_len(name);

		if (len == 0)
			continue; /* a null MX (RFC 7505) names no host */
		name[len] = '\0';
		m = addr_check(c, name, cidr, domain, NULL);
	}
	spf_rrs_free(rrs, n);
	return m;
}

/* The reverse-lookup name of the client (in-addr.arpa / ip6.arpa). */
static void
reverse_name(const struct spf_ctx *c, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (c->family == AF_INET) {
		snprintf(out, size, "%u.%u.%u.%u.in-addr.arpa", c->ip[3], c->ip[2], c->ip[1],
		         c->ip[0]);
		return;
	}
	for (int i = 15; i >= 0 && o + 4 < size; i--) {
		out[o++] = hex[c->ip[i] & 15];
		out[o++] = '.';
		out[o++] = hex[c->ip[i] >> 4];
		out[o++] = '.';
	}
	out[o] = '\0';
	strncat(out, "ip6.arpa", size - o - 1);
}

/* ptr (5.5): a validated name of the client within target. A failed PTR
 * lookup is no match, a failed address lookup skips that name. */
static enum match
ptr_check(struct spf_ctx *c, const char *target, const char *domain)
{
	char rev[80];
	struct spf_rr *rrs;
	size_t n;
	enum match m;
	enum spf_dns_status st;

	reverse_name(c, rev, sizeof(rev));
	st = dns_query(c, rev, SPF_RR_PTR, &rrs, &n);
	if (st == SPF_DNS_TEMPFAIL)
		return MATCH_NO;
	if ((m = count_void(c, st, rev, domain)) != MATCH_NO)
		return m;
	for (size_t i = 0; i < n && i < SPF_PTR_MAX && m == MATCH_NO; i++) {
		struct spf_rr *addrs;
		size_t na;
		char *name = rrs[i].name;

		name[name_len(name)] = '\0';
		if (name[0] == '\0' || !name_within(name, target))
			continue;
		if (dns_query(c, name, addr_type(c), &addrs, &na) != SPF_DNS_OK)
			continue;
		for (size_t k = 0; k < na; k++)
			if (memcmp(addrs[k].addr, c->ip, c->family == AF_INET ? 4 : 16) == 0)
				m = MATCH_YES;
		spf_rrs_free(addrs, na);
	}
	spf_rrs_free(rrs, n);
	return m;
}

/* include (5.2): the table of recursive results. */
static enum match
include_check(struct spf_ctx *c, const char *target, int depth, const char *domain)
{
	struct spf_eval sub;
	enum spf_result r;

	memset(&sub, 0, sizeof(sub));
	r = check_host(c, target, depth + 1, &sub, NULL);
	free(sub.exp); /* 6.2: an included record's explanation is not used */
	switch (r) {
	case SPF_PASS:
		return MATCH_YES;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
		return MATCH_NO;
	case SPF_TEMPERROR:
		return MATCH_TEMPERROR;
	case SPF_PERMERROR:
		return MATCH_PERMERROR;
	case SPF_NONE:
		set_err(c,
		        "the record of %s includes %s, which has no SPF record (%s); an "
		        "include of a domain without one is an error (RFC 7208 5.2)",
		        domain, target, c->none_why);
		return MATCH_PERMERROR;
	}
	return MATCH_PERMERROR;
}

/* Evaluate one mechanism for the client (5). */
static enum match
term_match(struct spf_ctx *c, const char *domain, int depth, const struct spf_term *t)
{
	char target[SPF_DOMAIN_MAX + 2];
	int family4 = c->family == AF_INET;
	enum spf_dns_status st;
	enum match m;
	int rc;

	switch (t->mech) {
	case MECH_ALL:
		return MATCH_YES;
	case MECH_IP4:
		return family4 && prefix_eq(t->net, c->ip, t->cidr4) ? MATCH_YES : MATCH_NO;
	case MECH_IP6:
		return !family4 && prefix_eq(t->net, c->ip, t->cidr6) ? MATCH_YES : MATCH_NO;
	case MECH_INCLUDE:
	case MECH_A:
	case MECH_MX:
	case MECH_PTR:
	case MECH_EXISTS:
		break;
	}
	if (count_lookup(c, depth, domain, t->text, t->textlen) < 0)
		return MATCH_PERMERROR;
	if (t->spec == NULL) {
		copy_n(target, sizeof(target), domain, name_len(domain));
	} else if ((rc = target_name(c, domain, t->spec, t->speclen, target)) != 0) {
		if (rc < 0) {
			set_err(c, "a macro in \"%.*s\" in the record of %s cannot be expanded",
			        SHOW(t->textlen), t->text, domain);
			return MATCH_PERMERROR;
		}
		if (t->mech != MECH_INCLUDE)
			return MATCH_NO; /* no usable name to ask about: see the header */
		set_err(c, "the record of %s includes \"%.*s\", which is not a valid domain name",
		        domain, SHOW(t->textlen), t->text);
		return MATCH_PERMERROR;
	}
	switch (t->mech) {
	case MECH_INCLUDE:
		return include_check(c, target, depth, domain);
	case MECH_A:
		m = addr_check(c, target, family4 ? t->cidr4 : t->cidr6, domain, &st);
		if (m != MATCH_NO)
			return m;
		return count_void(c, st, target, domain);
	case MECH_MX:
		return mx_check(c, target, family4 ? t->cidr4 : t->cidr6, domain);
	case MECH_PTR:
		return ptr_check(c, target, domain);
	case MECH_EXISTS: {
		/* 5.7: always an A query, whatever the client's family */
		struct spf_rr *rrs;
		size_t n;

		st = dns_query(c, target, SPF_RR_A, &rrs, &n);
		spf_rrs_free(rrs, n);
		if (st == SPF_DNS_TEMPFAIL)
			return temp_failure(c, target, SPF_RR_A, domain);
		if (st == SPF_DNS_OK)
			return MATCH_YES;
		return count_void(c, st, target, domain);
	}
	case MECH_ALL:
	case MECH_IP4:
	case MECH_IP6:
		break;
	}
	return MATCH_NO;
}

/* Record in ev that this record decided, and its exp (6.2). */
static void
decide(struct spf_eval *ev, const char *domain, const struct spf_record *r,
       const struct spf_term *t)
{
	copy_n(ev->domain, sizeof(ev->domain), domain, name_len(domain));
	ev->matched = t != NULL;
	ev->term[0] = '\0';
	if (t != NULL) {
		copy_n(ev->term, sizeof(ev->term), t->text, t->textlen);
		ev->mech = t->mech;
	}
	free(ev->exp);
	ev->exp = r->exp != NULL ? xstrndup(r->exp, r->explen) : NULL;
}

/* RFC 7208 4: check_host(<ip>, <domain>, <sender>). */
static enum spf_result
check_host(struct spf_ctx *c, const char *domain, int depth, struct spf_eval *ev,
           struct spf_outcome *top)
{
	struct spf_record r;
	enum spf_result res = SPF_PERMERROR;
	char why[SPF_ERR_MAX], bare[SPF_DOMAIN_MAX + 1];

	memset(&r, 0, sizeof(r));
	if (!domain_valid(domain)) {
		set_none(c, "\"%s\" is not a valid domain name (RFC 7208 4.3)", domain);
		return SPF_NONE;
	}
	/* "example.com." is example.com, also for %{d} */
	copy_n(bare, sizeof(bare), domain, name_len(domain));
	domain = bare;
	if (depth < SPF_CHAIN_MAX)
		copy_n(c->chain[depth], sizeof(c->chain[depth]), domain, strlen(domain));
	if (record_fetch(c, domain, &r.text, &res) < 0)
		return res;
	if (top != NULL)
		copy_n(top->record, sizeof(top->record), r.text, strlen(r.text));
	if (record_parse(&r, why, sizeof(why)) < 0) {
		set_err(c, "the SPF record of %s %s", domain, why);
		res = SPF_PERMERROR;
		goto done;
	}
	for (size_t i = 0; i < r.nterms; i++) {
		switch (term_match(c, domain, depth, &r.terms[i])) {
		case MATCH_NO:
			continue;
		case MATCH_YES:
			decide(ev, domain, &r, &r.terms[i]);
			res = r.terms[i].qual;
			goto done;
		case MATCH_TEMPERROR:
			res = SPF_TEMPERROR;
			goto done;
		case MATCH_PERMERROR:
			res = SPF_PERMERROR;
			goto done;
		}
	}
	if (r.redirect != NULL) {
		/* 6.1: only when no mechanism matched; the target decides */
		char target[SPF_DOMAIN_MAX + 2];
		char *text = xasprintf("redirect=%.*s", (int)r.redirectlen, r.redirect);
		int rc;

		rc = count_lookup(c, depth, domain, text, strlen(text));
		free(text);
		if (rc < 0) {
			res = SPF_PERMERROR;
			goto done;
		}
		rc = target_name(c, domain, r.redirect, r.redirectlen, target);
		if (rc != 0) {
			set_err(c, "the redirect= of %s %s", domain,
			        rc < 0 ? "has a macro that cannot be expanded"
			               : "is not a valid domain name");
			res = SPF_PERMERROR;
			goto done;
		}
		res = check_host(c, target, depth + 1, ev, NULL);
		ev->redirected = 1;
		if (res == SPF_NONE) {
			set_err(c, "the record of %s redirects to %s, which has no SPF record (%s)",
			        domain, target, c->none_why);
			res = SPF_PERMERROR;
		}
		goto done;
	}
	decide(ev, domain, &r, NULL);
	res = SPF_NEUTRAL; /* 4.7: nothing matched and no redirect */
done:
	record_free(&r);
	return res;
}

/* --- the explanation (6.2) and the reason -------------------------------- */

/* Fetch and expand the exp= text of the record that failed; "" when any
 * step fails (6.2: then proceed as if there were no exp). */
static void
explanation(struct spf_ctx *c, const struct spf_eval *ev, char *out, size_t size)
{
	char target[SPF_DOMAIN_MAX + 2];
	struct spf_rr *rrs = NULL;
	size_t n = 0;
	struct buf b;

	out[0] = '\0';
	if (ev->exp == NULL || target_name(c, ev->domain, ev->exp, strlen(ev->exp), target) != 0)
		return;
	if (dns_query(c, target, SPF_RR_TXT, &rrs, &n) != SPF_DNS_OK || n != 1 ||
	    rrs[0].txt == NULL) {
		spf_rrs_free(rrs, n);
		return;
	}
	buf_init(&b, SPF_EXPAND_MAX);
	if (macro_expand(c, ev->domain, rrs[0].txt, strlen(rrs[0].txt), 1, &b) == 0) {
		copy_n(out, size, b.data, b.len);
		sanitize(out);
	}
	buf_free(&b);
	spf_rrs_free(rrs, n);
}

static void say(struct spf_outcome *out, const char *fmt, ...) PH_PRINTF(2, 3);

/* Append to the reason, truncating. */
static void
say(struct spf_outcome *out, const char *fmt, ...)
{
	size_t used = strlen(out->reason);
	va_list ap;

	if (used + 1 >= sizeof(out->reason))
		return;
	va_start(ap, fmt);
	vsnprintf(out->reason + used, sizeof(out->reason) - used, fmt, ap);
	va_end(ap);
}

/* A person-readable why for the result, with what to change. */
static void
reason_build(const struct spf_ctx *c, const char *domain, enum spf_result res,
             const struct spf_eval *ev, const char *explain, struct spf_outcome *out)
{
	const char *ip = c->ip_c, *fam = c->family == AF_INET ? "ip4" : "ip6";
	const char *d = ev->domain[0] != '\0' ? ev->domain : domain;
	char via[SPF_DOMAIN_MAX + 40] = "";
	int the_all = ev->matched && ev->mech == MECH_ALL;

	if (ev->redirected)
		snprintf(via, sizeof(via), " (reached by redirect from %s)", domain);
	switch (res) {
	case SPF_NONE:
		if (!domain_valid(domain)) {
			say(out, "No SPF check was possible: %s.", c->none_why);
			break;
		}
		say(out,
		    "%s has no SPF policy: %s. Receivers cannot tell which hosts may send "
		    "for it; publish a TXT record such as \"v=spf1 %s:%s ~all\".",
		    domain, c->none_why, fam, ip);
		break;
	case SPF_PASS:
		say(out, "%s is authorized by the SPF record of %s%s: it matched %s.", ip, d, via,
		    ev->term);
		break;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
		if (!ev->matched) {
			say(out,
			    "%s matched no term in the SPF record of %s%s, which has no "
			    "\"all\" term, so the result is neutral. Add %s:%s (or an include "
			    "of your provider) and end the record with ~all or -all.",
			    ip, d, via, fam, ip);
		} else if (the_all) {
			say(out,
			    "%s is not listed in the SPF record of %s%s; the record ends in "
			    "%s, so %s. Add %s:%s (or an include of your provider) to the "
			    "record.",
			    ip, d, via, ev->term,
			    res == SPF_FAIL       ? "receivers may reject the mail"
			    : res == SPF_SOFTFAIL ? "receivers will likely accept the mail but "
			                            "may mark it as suspicious"
			                          : "the record makes no assertion about it",
			    fam, ip);
		} else {
			say(out,
			    "%s matched %s in the SPF record of %s%s, which makes the result "
			    "%s%s.",
			    ip, ev->term, d, via, spf_result_str(res),
			    res == SPF_FAIL ? ", so receivers may reject the mail; change or "
			                      "remove that term if this host should send"
			                    : "");
		}
		if (res == SPF_FAIL && explain[0] != '\0')
			say(out, " The domain's explanation: \"%s\"", explain);
		break;
	case SPF_TEMPERROR:
		say(out,
		    "SPF for %s could not be checked: %s. Receivers will usually defer the "
		    "mail and retry; if this persists, check the DNS servers for that name.",
		    domain, c->err[0] != '\0' ? c->err : "a DNS lookup failed temporarily");
		break;
	case SPF_PERMERROR:
		say(out,
		    "The SPF policy of %s cannot be evaluated (permerror): %s. Receivers may "
		    "treat this as a failure; fix the record.",
		    domain, c->err[0] != '\0' ? c->err : "the record is invalid");
		break;
	}
	sanitize(out->reason);
}

/* Split the sender into local part and domain (4.3: no local part means
 * "postmaster"; no sender at all means postmaster@domain). */
static void
sender_split(struct spf_ctx *c, const char *sender, const char *domain)
{
	const char *at;

	if (sender == NULL || sender[0] == '\0') {
		c->local = xstrdup("postmaster");
		c->sdomain = xstrdup(domain);
		return;
	}
	at = strrchr(sender, '@');
	if (at == NULL) {
		c->local = xstrdup("postmaster");
		c->sdomain = xstrdup(sender);
		return;
	}
	c->local = at == sender ? xstrdup("postmaster") : xstrndup(sender, (size_t)(at - sender));
	c->sdomain = xstrdup(at + 1);
}

/* The client address: IPv4-mapped IPv6 becomes IPv4 (RFC 7208 5). */
static int
client_set(struct spf_ctx *c, const struct spf_request *req)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	size_t o = 0;

	if (req->family == AF_INET6 && memcmp(req->ip, mapped, sizeof(mapped)) == 0) {
		c->family = AF_INET;
		memcpy(c->ip, req->ip + 12, 4);
	} else if (req->family == AF_INET || req->family == AF_INET6) {
		c->family = req->family;
		memcpy(c->ip, req->ip, req->family == AF_INET ? 4 : 16);
	} else {
		return -1;
	}
	if (inet_ntop(c->family, c->ip, c->ip_c, sizeof(c->ip_c)) == NULL)
		return -1;
	if (c->family == AF_INET) {
		copy_n(c->ip_i, sizeof(c->ip_i), c->ip_c, strlen(c->ip_c));
		return 0;
	}
	/* 7.3: "i" for IPv6 is the 32 nibbles, dot-separated */
	for (int i = 0; i < 16; i++) {
		static const char hex[] = "0123456789abcdef";

		c->ip_i[o++] = hex[c->ip[i] >> 4];
		c->ip_i[o++] = '.';
		c->ip_i[o++] = hex[c->ip[i] & 15];
		c->ip_i[o++] = i < 15 ? '.' : '\0';
	}
	return 0;
}

/* RFC 7208 check_host() for one request, explained in out. */
void
spf_check_host(spf_lookup_fn lookup, void *arg, const struct spf_request *req,
               struct spf_outcome *out)
{
	struct spf_ctx c;
	struct spf_eval ev;
	char explain[SPF_EXPLAIN_MAX + 1] = "";
	enum spf_result res;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	memset(&ev, 0, sizeof(ev));
	out->result = SPF_NONE;
	if (req == NULL || lookup == NULL || req->domain == NULL) {
		copy_n(out->reason, sizeof(out->reason), "no domain to check",
		       strlen("no domain to check"));
		return;
	}
	if (client_set(&c, req) < 0) {
		snprintf(out->reason, sizeof(out->reason),
		         "no client address to check (address family %d)", req->family);
		return;
	}
	c.lookup = lookup;
	c.arg = arg;
	c.helo = req->helo;
	c.receiver = req->receiver;
	sender_split(&c, req->sender, req->domain);

	res = check_host(&c, req->domain, 0, &ev, out);
	if (res == SPF_FAIL)
		explanation(&c, &ev, explain, sizeof(explain));

	out->result = res;
	out->dns_lookups = c.dns_lookups;
	out->void_lookups = c.void_lookups;
	if (ev.matched &&
	    (res == SPF_PASS || res == SPF_FAIL || res == SPF_SOFTFAIL || res == SPF_NEUTRAL))
		copy_n(out->mechanism, sizeof(out->mechanism), ev.term, strlen(ev.term));
	reason_build(&c, req->domain, res, &ev, explain, out);
	free(ev.exp);
	free(c.local);
	free(c.sdomain);
}
