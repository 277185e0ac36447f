/*
 * NAME
 *	http_compose - a JSON send request to an RFC 5322/MIME message
 * SYNOPSIS
 *	#include "http/http_compose.h"
 *
 *	int http_compose(json_t *req, const struct http_compose_limits *lim,
 *			 struct buf *out, struct http_envelope *env,
 *			 char *err, size_t errlen);
 *	void http_envelope_free(struct http_envelope *env);
 * DESCRIPTION
 *	Two stages. compose_parse() checks the whole request and turns it
 *	into a struct compose_req (addresses split and checked, text with
 *	normalised line ends, attachments decoded); nothing is built until
 *	every field has passed. compose_build() then makes the message with
 *	GMime and writes it with CRLF line ends (GMime writes bare LF
 *	unless asked, DESIGN.md).
 *
 *	What GMime is trusted with: RFC 2047 encoding and folding of
 *	display names, and of a subject or extra header value that holds
 *	non-ASCII (an ASCII one goes out as given, only folded at its own
 *	white space: GMime would encode a long word such as a
 *	List-Unsubscribe URL, which a structured field may not hold);
 *	RFC 2231 filenames;
 *	the transfer encoding of text parts (chosen under the 7bit
 *	constraint, so long lines and 8-bit text get quoted-printable or
 *	base64); boundaries. What is not left to it: line ends in the text
 *	(CR and CRLF become LF before GMime sees them, and base64 text is
 *	given CRLF, RFC 2046 4.1.1), the charset (set to utf-8 directly:
 *	g_mime_text_part_set_text() would pick another), and headers whose
 *	values GMime re-parses (address and message-id fields), which are
 *	refused or checked first. A final pass over the output checks CRLF
 *	line ends and the 998-octet line limit (RFC 5322 2.1.1, 2.3).
 * LIMITS
 *	HTTP_COMPOSE_* in http_compose.h; lim->max_recipients counts to, cc
 *	and bcc entries as given (before de-duplication); COMPOSE_NAME_MAX,
 *	COMPOSE_FILENAME_MAX and COMPOSE_TYPE_MAX below.
 * STANDARDS
 *	RFC 5322 (message format), RFC 5321 4.1.2 (mailbox syntax),
 *	RFC 2045-2047 (MIME), RFC 2231 (parameters), RFC 6531/6532
 *	(SMTPUTF8).
 */
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "http/http_compose.h"
#include "mail/mail.h"

#define COMPOSE_NAME_MAX 76      /* header field name, so "Name: " fits a 78-octet line */
#define COMPOSE_FILENAME_MAX 255 /* bytes, as most file systems */
#define COMPOSE_TYPE_MAX 127     /* type and subtype names, RFC 6838 4.2 */
#define COMPOSE_ESC_MAX 48       /* bytes of client text quoted back in an error */
#define COMPOSE_LINE_MAX 998     /* RFC 5322 2.1.1, without the CRLF */

enum compose_list { COMPOSE_TO, COMPOSE_CC, COMPOSE_BCC, COMPOSE_NLISTS };

static const char *const compose_list_name[COMPOSE_NLISTS] = {"to", "cc", "bcc"};

struct compose_mbox {
	char *name; /* display name, NULL when none */
	char *addr; /* checked RFC 5321 mailbox */
};

struct compose_att {
	const char *filename; /* borrowed from the request */
	char type[COMPOSE_TYPE_MAX + 1];
	char subtype[COMPOSE_TYPE_MAX + 1];
	unsigned char *data; /* decoded content */
	size_t len;
};

struct compose_req {
	struct compose_mbox from;
	struct compose_mbox reply_to; /* addr NULL when absent */
	struct compose_mbox *rcpt[COMPOSE_NLISTS];
	size_t nrcpt[COMPOSE_NLISTS];
	const char *subject; /* borrowed from the request */
	size_t subject_len;
	char *text, *html; /* line ends normalised to LF; NULL when absent */
	size_t text_len, html_len;
	json_t *headers; /* borrowed; checked */
	struct compose_att att[HTTP_COMPOSE_ATTACHMENTS_MAX];
	size_t natt;
	size_t min_size; /* a lower bound on the built message's size */
	int utf8;        /* some address holds non-ASCII */
};

/* Top-level fields of the request; anything else is refused. */
static const char *const compose_fields[] = {
	"from", "to", "cc", "bcc", "reply_to", "subject", "text", "html", "headers", "attachments",
};

/* Headers posthaste writes itself (http_compose.h). */
static const char *const compose_reserved[] = {
	"From",         "To",       "Cc",          "Bcc",          "Subject",        "Date",
	"Message-ID",   "MIME-Version", "Received", "Return-Path", "DKIM-Signature",
};

/* Headers GMime re-parses as address lists, mangling or dropping what
 * it cannot parse (and, for non-ASCII, writing a broken line). */
static const char *const compose_structured[] = {
	"Reply-To",
	"Sender",
	"Disposition-Notification-To",
};

static pthread_once_t compose_once = PTHREAD_ONCE_INIT;

/* GMime's one-time global set-up (type system, charset tables). */
static void
compose_gmime_init(void)
{
	g_mime_init();
}

/* Write a one-line reason into err and return -1. */
static int PH_PRINTF(3, 4)
compose_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Client text made safe to quote in an error: escaped and shortened. */
static const char *
compose_esc(char out[COMPOSE_ESC_MAX * 4 + 8], const char *s, size_t n)
{
	size_t take = n > COMPOSE_ESC_MAX ? COMPOSE_ESC_MAX : n;
	size_t o = log_escape(out, COMPOSE_ESC_MAX * 4 + 4, s, take);

	if (n > COMPOSE_ESC_MAX)
		memcpy(out + o, "...", 4);
	return out;
}

/* The string in v and its length; -1 unless a string without NUL. */
static int
compose_str(json_t *v, const char *field, const char **s, size_t *n, char *err, size_t errlen)
{
	if (!json_is_string(v))
		return compose_fail(err, errlen, "%s: must be a string", field);
	*s = json_string_value(v);
	*n = json_string_length(v);
	/* jansson strings may hold \u0000 (json_stringn, JSON_ALLOW_NUL) */
	if (strlen(*s) != *n)
		return compose_fail(err, errlen, "%s: contains a NUL character", field);
	return 0;
}

/* -1 unless s may stand in a header field body: no CR or LF (header
 * injection) and no other control but HTAB (RFC 5322 3.2.5, 2.2). */
static int
compose_hdr_text(const char *field, const char *s, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r' || c == '\n')
			return compose_fail(err, errlen, "%s: contains CR or LF", field);
		if ((c < 32 && c != '\t') || c == 127)
			return compose_fail(err, errlen, "%s: contains a control character", field);
	}
	return 0;
}

/* Drop leading and trailing blanks from (*s, *n). */
static void
compose_trim(const char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

/* Whether GMime writes the ASCII address addr back unchanged. It
 * decodes xn-- labels (IDNA) when it parses an address and encodes them
 * again on output; a label it cannot encode again ("xn--xbccg") would
 * put UTF-8 in the header of a message sent without SMTPUTF8. */
static int
compose_gmime_same(const char *addr)
{
	InternetAddress *ia = internet_address_mailbox_new(NULL, addr);
	const char *idn = internet_address_mailbox_get_idn_addr(INTERNET_ADDRESS_MAILBOX(ia));
	int same = idn != NULL && strcmp(idn, addr) == 0;

	g_object_unref(ia);
	return same;
}

/* Split "Name <addr>", "\"Name\" <addr>", "<addr>" or "addr" into mb,
 * and check the address (RFC 5321 4.1.2; UTF-8 allowed, noted in
 * *utf8 for SMTPUTF8). The display name is left for GMime to quote
 * or encode (RFC 5322 3.4, RFC 2047 5(3)). */
static int
compose_mbox(const char *field, const char *s, size_t n, struct compose_mbox *mb, int *utf8,
	     char *err, size_t errlen)
{
	const char *addr = s, *name = NULL;
	size_t alen = n, nlen = 0;
	enum mail_addr_err e;
	int has_utf8 = 0;

	if (compose_hdr_text(field, s, n, err, errlen) < 0)
		return -1;
	if (n > HTTP_COMPOSE_HEADER_VALUE_MAX)
		return compose_fail(err, errlen, "%s: too long (%zu bytes, limit %d)", field, n,
				    HTTP_COMPOSE_HEADER_VALUE_MAX);
	compose_trim(&addr, &alen);
	if (alen > 0 && addr[alen - 1] == '>') {
		const char *lt = NULL;

		for (size_t i = alen - 1; i-- > 0;)
			if (addr[i] == '<') {
				lt = addr + i;
				break;
			}
		if (lt == NULL)
			return compose_fail(err, errlen,
					    "%s: not a valid address (no '<' before '>')", field);
		name = addr;
		nlen = (size_t)(lt - addr);
		compose_trim(&name, &nlen);
		alen = (size_t)(addr + alen - 1 - (lt + 1));
		addr = lt + 1;
		compose_trim(&addr, &alen); /* CFWS inside angle-addr, RFC 5322 3.4 */
	}
	e = mail_addr_check(addr, alen, 1, &has_utf8);
	if (e != MAIL_ADDR_OK)
		return compose_fail(err, errlen, "%s: not a valid address (%s)", field,
				    mail_addr_err_str(e));
	if (nlen >= 2 && name[0] == '"' && name[nlen - 1] == '"') {
		/* quoted-string (RFC 5322 3.2.4): drop the quotes, undo quoted-pairs */
		size_t o = 0;

		mb->name = xmalloc(nlen);
		for (size_t i = 1; i < nlen - 1; i++) {
			if (name[i] == '\\' && i + 1 < nlen - 1)
				i++;
			mb->name[o++] = name[i];
		}
		mb->name[o] = '\0';
		if (o == 0) {
			free(mb->name);
			mb->name = NULL;
		}
	} else if (nlen > 0) {
		mb->name = xstrndup(name, nlen);
	}
	mb->addr = xstrndup(addr, alen);
	if (!has_utf8 && !compose_gmime_same(mb->addr))
		return compose_fail(err, errlen, "%s: not a valid address (bad IDN label)", field);
	if (has_utf8)
		*utf8 = 1;
	return 0;
}

/* Check one of to/cc/bcc (already known to be an array or absent). */
static int
compose_rcpt_list(struct compose_req *r, enum compose_list which, json_t *arr, char *err,
		  size_t errlen)
{
	char field[32];
	size_t i;
	json_t *v;

	if (arr == NULL)
		return 0;
	r->rcpt[which] = xcalloc(json_array_size(arr) + 1, sizeof(struct compose_mbox));
	json_array_foreach(arr, i, v) {
		const char *s = NULL;
		size_t n = 0;

		snprintf(field, sizeof(field), "%s[%zu]", compose_list_name[which], i);
		if (compose_str(v, field, &s, &n, err, errlen) < 0 ||
		    compose_mbox(field, s, n, &r->rcpt[which][i], &r->utf8, err, errlen) < 0)
			return -1;
		r->nrcpt[which]++;
	}
	return 0;
}

/* A header field name: RFC 5322 2.2 ftext (printable ASCII but ':'). */
static int
compose_field_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > COMPOSE_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 33 || c > 126 || c == ':')
			return 0;
	}
	return 1;
}

/* Whether name is in list (case-insensitive, RFC 5322 1.2.2). */
static int
compose_name_in(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(name, list[i]) == 0)
			return 1;
	return 0;
}

/* A References / In-Reply-To body: msg-ids (RFC 5322 3.6.4) separated by
 * blanks, "<" id-left "@" id-right ">", without comments or quoting,
 * so that GMime's message-id parser keeps every one. */
static int
compose_msgids_ok(const char *s, size_t n)
{
	size_t i = 0, ids = 0;

	while (i < n) {
		size_t left = 0, right = 0;
		int at = 0;

		if (s[i] == ' ' || s[i] == '\t') {
			i++;
			continue;
		}
		if (s[i++] != '<')
			return 0;
		for (; i < n && s[i] != '>'; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c == '@' && !at) {
				at = 1;
			} else if (c < 33 || c > 126 || strchr("<>@()\\\",;:", c) != NULL) {
				return 0;
			} else if (at) {
				right++;
			} else {
				left++;
			}
		}
		if (i >= n || !at || left == 0 || right == 0)
			return 0;
		i++; /* '>' */
		ids++;
	}
	return ids > 0;
}

/* Check the extra headers object (names, reserved names, values). */
static int
compose_headers(struct compose_req *r, json_t *obj, char *err, size_t errlen)
{
	char esc[COMPOSE_ESC_MAX * 4 + 8], field[COMPOSE_NAME_MAX + 16];
	const char *name;
	json_t *v;

	if (obj == NULL)
		return 0;
	if (json_object_size(obj) > HTTP_COMPOSE_HEADERS_MAX)
		return compose_fail(err, errlen, "headers: too many (%zu, limit %d)",
				    json_object_size(obj), HTTP_COMPOSE_HEADERS_MAX);
	json_object_foreach(obj, name, v) {
		const char *s = NULL;
		size_t n = 0;

		if (!compose_field_name_ok(name))
			return compose_fail(err, errlen, "headers: invalid header name \"%s\"",
					    compose_esc(esc, name, strlen(name)));
		snprintf(field, sizeof(field), "headers.%s", name);
		if (compose_name_in(name, compose_reserved, PH_ARRAY_LEN(compose_reserved)) ||
		    strncasecmp(name, "Content-", 8) == 0)
			return compose_fail(err, errlen, "%s: this header is set by posthaste",
					    field);
		if (strcasecmp(name, "Reply-To") == 0)
			return compose_fail(err, errlen, "%s: not allowed; use reply_to", field);
		if (compose_name_in(name, compose_structured, PH_ARRAY_LEN(compose_structured)) ||
		    strncasecmp(name, "Resent-", 7) == 0)
			return compose_fail(err, errlen, "%s: this header is not supported", field);
		if (compose_str(v, field, &s, &n, err, errlen) < 0 ||
		    compose_hdr_text(field, s, n, err, errlen) < 0)
			return -1;
		if (n > HTTP_COMPOSE_HEADER_VALUE_MAX)
			return compose_fail(err, errlen, "%s: too long (%zu bytes, limit %d)",
					    field, n, HTTP_COMPOSE_HEADER_VALUE_MAX);
		if ((strcasecmp(name, "References") == 0 || strcasecmp(name, "In-Reply-To") == 0) &&
		    !compose_msgids_ok(s, n))
			return compose_fail(err, errlen, "%s: must be message ids like <id@host>",
					    field);
		if (r->min_size > SIZE_MAX - n)
			r->min_size = SIZE_MAX;
		else
			r->min_size += n;
	}
	r->headers = obj;
	return 0;
}

/* A copy of text with CRLF and lone CR turned into LF. */
static char *
compose_lf(const char *s, size_t n, size_t *outlen)
{
	char *o = xmalloc(n + 1);
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r') {
			o[k++] = '\n';
			if (i + 1 < n && s[i + 1] == '\n')
				i++;
		} else {
			o[k++] = s[i];
		}
	}
	o[k] = '\0';
	*outlen = k;
	return o;
}

/* A copy of LF-only text with CRLF line ends (canonical form of text,
 * RFC 2046 4.1.1), for text that is sent base64-encoded. */
static char *
compose_crlf(const char *s, size_t n, size_t *outlen)
{
	size_t lf = 0, k = 0;
	char *o;

	for (size_t i = 0; i < n; i++)
		if (s[i] == '\n')
			lf++;
	o = xmalloc(n + lf + 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			o[k++] = '\r';
		o[k++] = s[i];
	}
	o[k] = '\0';
	*outlen = k;
	return o;
}

/* Add n to the size lower bound; -1 when it passes the limit. */
static int
compose_grow(struct compose_req *r, size_t n, const struct http_compose_limits *lim, char *err,
	     size_t errlen)
{
	r->min_size = r->min_size > SIZE_MAX - n ? SIZE_MAX : r->min_size + n;
	if (r->min_size > lim->max_message_size)
		return compose_fail(err, errlen,
				    "message too large (at least %zu bytes, limit %zu)",
				    r->min_size, lim->max_message_size);
	return 0;
}

/* type/subtype, each an RFC 2045 5.1 token; no parameters. */
static int
compose_ctype(struct compose_att *a, const char *field, const char *s, size_t n, char *err,
	      size_t errlen)
{
	const char *slash = memchr(s, '/', n);
	size_t tl, sl;

	if (compose_hdr_text(field, s, n, err, errlen) < 0)
		return -1;
	if (slash == NULL)
		return compose_fail(err, errlen, "%s: must be type/subtype", field);
	tl = (size_t)(slash - s);
	sl = n - tl - 1;
	if (tl == 0 || sl == 0 || tl > COMPOSE_TYPE_MAX || sl > COMPOSE_TYPE_MAX)
		return compose_fail(err, errlen, "%s: must be type/subtype", field);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (s + i == slash)
			continue;
		if (c <= 32 || c >= 127 || strchr("()<>@,;:\\\"/[]?=", c) != NULL)
			return compose_fail(err, errlen, "%s: must be type/subtype", field);
	}
	memcpy(a->type, s, tl);
	a->type[tl] = '\0';
	memcpy(a->subtype, slash + 1, sl);
	a->subtype[sl] = '\0';
	/* A multipart or message body may not be base64 (RFC 2046 5.1, 5.2). */
	if (strcasecmp(a->type, "multipart") == 0 || strcasecmp(a->type, "message") == 0)
		return compose_fail(err, errlen, "%s: %s types cannot be attachments", field,
				    a->type);
	return 0;
}

/* Check and decode one attachment object. */
static int
compose_attachment(struct compose_req *r, size_t idx, json_t *o,
		   const struct http_compose_limits *lim, char *err, size_t errlen)
{
	struct compose_att *a = &r->att[idx];
	char field[64], esc[COMPOSE_ESC_MAX * 4 + 8];
	const char *key, *s;
	json_t *v;
	size_t n = 0;

	if (!json_is_object(o))
		return compose_fail(err, errlen, "attachments[%zu]: must be an object", idx);
	json_object_foreach(o, key, v) {
		if (strcmp(key, "filename") != 0 && strcmp(key, "content_type") != 0 &&
		    strcmp(key, "content") != 0)
			return compose_fail(err, errlen, "attachments[%zu]: unknown field '%s'",
					    idx, compose_esc(esc, key, strlen(key)));
	}

	snprintf(field, sizeof(field), "attachments[%zu].filename", idx);
	if ((v = json_object_get(o, "filename")) == NULL)
		return compose_fail(err, errlen, "%s: required", field);
	if (compose_str(v, field, &s, &n, err, errlen) < 0 ||
	    compose_hdr_text(field, s, n, err, errlen) < 0)
		return -1;
	if (n == 0 || n > COMPOSE_FILENAME_MAX)
		return compose_fail(err, errlen, "%s: must be 1 to %d bytes", field,
				    COMPOSE_FILENAME_MAX);
	if (memchr(s, '\t', n) != NULL)
		return compose_fail(err, errlen, "%s: contains a control character", field);
	if (memchr(s, '/', n) != NULL || memchr(s, '\\', n) != NULL || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0)
		return compose_fail(err, errlen, "%s: must be a file name without a path", field);
	a->filename = s;

	snprintf(field, sizeof(field), "attachments[%zu].content_type", idx);
	v = json_object_get(o, "content_type");
	if (v == NULL || json_is_null(v)) {
		memcpy(a->type, "application", sizeof("application"));
		memcpy(a->subtype, "octet-stream", sizeof("octet-stream"));
	} else if (compose_str(v, field, &s, &n, err, errlen) < 0 ||
		   compose_ctype(a, field, s, n, err, errlen) < 0) {
		return -1;
	}

	snprintf(field, sizeof(field), "attachments[%zu].content", idx);
	if ((v = json_object_get(o, "content")) == NULL)
		return compose_fail(err, errlen, "%s: required", field);
	if (compose_str(v, field, &s, &n, err, errlen) < 0)
		return -1;
	/* base64 output is never shorter than its input: a bound before decoding */
	if (compose_grow(r, n, lim, err, errlen) < 0)
		return -1;
	a->data = xmalloc(n / 4 * 3 + 1);
	if (base64_decode(s, n, a->data, n / 4 * 3 + 1, &a->len) < 0)
		return compose_fail(err, errlen, "%s: not valid base64", field);
	return 0;
}

/* Release everything compose_parse() allocated. */
static void
compose_req_free(struct compose_req *r)
{
	free(r->from.name);
	free(r->from.addr);
	free(r->reply_to.name);
	free(r->reply_to.addr);
	for (int l = 0; l < COMPOSE_NLISTS; l++) {
		if (r->rcpt[l] == NULL)
			continue;
		/* a failed list may hold one half-filled entry past nrcpt */
		for (size_t i = 0; i <= r->nrcpt[l]; i++) {
			free(r->rcpt[l][i].name);
			free(r->rcpt[l][i].addr);
		}
		free(r->rcpt[l]);
	}
	free(r->text);
	free(r->html);
	for (size_t i = 0; i < PH_ARRAY_LEN(r->att); i++)
		free(r->att[i].data);
	memset(r, 0, sizeof(*r));
}

/* The value of an optional field: NULL when absent or JSON null. */
static json_t *
compose_opt(json_t *req, const char *key)
{
	json_t *v = json_object_get(req, key);

	return v == NULL || json_is_null(v) ? NULL : v;
}

/* Check the whole request into r (http_compose.h has the rules). */
static int
compose_parse(json_t *req, const struct http_compose_limits *lim, struct compose_req *r,
	      char *err, size_t errlen)
{
	char esc[COMPOSE_ESC_MAX * 4 + 8];
	json_t *v, *lists[COMPOSE_NLISTS];
	const char *key, *s = NULL;
	size_t n = 0, total = 0;

	if (!json_is_object(req))
		return compose_fail(err, errlen, "request: must be a JSON object");
	json_object_foreach(req, key, v) {
		size_t i;

		for (i = 0; i < PH_ARRAY_LEN(compose_fields); i++)
			if (strcmp(key, compose_fields[i]) == 0)
				break;
		if (i == PH_ARRAY_LEN(compose_fields))
			return compose_fail(err, errlen, "unknown field '%s'",
					    compose_esc(esc, key, strlen(key)));
	}

	/* types first, so a client learns of every shape error cheaply */
	for (int l = 0; l < COMPOSE_NLISTS; l++) {
		lists[l] = compose_opt(req, compose_list_name[l]);
		if (lists[l] != NULL && !json_is_array(lists[l]))
			return compose_fail(err, errlen, "%s: must be an array of strings",
					    compose_list_name[l]);
		total += lists[l] ? json_array_size(lists[l]) : 0;
	}
	if ((v = compose_opt(req, "headers")) != NULL && !json_is_object(v))
		return compose_fail(err, errlen, "headers: must be an object of strings");
	if ((v = compose_opt(req, "attachments")) != NULL && !json_is_array(v))
		return compose_fail(err, errlen, "attachments: must be an array of objects");

	if ((v = json_object_get(req, "from")) == NULL || json_is_null(v))
		return compose_fail(err, errlen, "from: required");
	if (compose_str(v, "from", &s, &n, err, errlen) < 0 ||
	    compose_mbox("from", s, n, &r->from, &r->utf8, err, errlen) < 0)
		return -1;

	if (total == 0)
		return compose_fail(err, errlen,
				    "to: at least one recipient (to, cc or bcc) required");
	if (total > lim->max_recipients)
		return compose_fail(err, errlen, "too many recipients: %zu (limit %zu)", total,
				    lim->max_recipients);
	for (int l = 0; l < COMPOSE_NLISTS; l++)
		if (compose_rcpt_list(r, (enum compose_list)l, lists[l], err, errlen) < 0)
			return -1;

	if ((v = compose_opt(req, "reply_to")) != NULL &&
	    (compose_str(v, "reply_to", &s, &n, err, errlen) < 0 ||
	     compose_mbox("reply_to", s, n, &r->reply_to, &r->utf8, err, errlen) < 0))
		return -1;

	if ((v = json_object_get(req, "subject")) == NULL || json_is_null(v))
		return compose_fail(err, errlen, "subject: required");
	if (compose_str(v, "subject", &s, &n, err, errlen) < 0 ||
	    compose_hdr_text("subject", s, n, err, errlen) < 0)
		return -1;
	if (n > HTTP_COMPOSE_SUBJECT_MAX)
		return compose_fail(err, errlen, "subject: too long (%zu bytes, limit %d)", n,
				    HTTP_COMPOSE_SUBJECT_MAX);
	r->subject = s;
	r->subject_len = n;
	if (compose_grow(r, n, lim, err, errlen) < 0)
		return -1;

	if ((v = compose_opt(req, "text")) != NULL) {
		if (compose_str(v, "text", &s, &n, err, errlen) < 0 ||
		    compose_grow(r, n, lim, err, errlen) < 0)
			return -1;
		r->text = compose_lf(s, n, &r->text_len);
	}
	if ((v = compose_opt(req, "html")) != NULL) {
		if (compose_str(v, "html", &s, &n, err, errlen) < 0 ||
		    compose_grow(r, n, lim, err, errlen) < 0)
			return -1;
		r->html = compose_lf(s, n, &r->html_len);
	}
	if (r->text == NULL && r->html == NULL)
		return compose_fail(err, errlen, "text: text or html required");

	if (compose_headers(r, compose_opt(req, "headers"), err, errlen) < 0 ||
	    compose_grow(r, 0, lim, err, errlen) < 0)
		return -1;

	if ((v = compose_opt(req, "attachments")) != NULL) {
		size_t i;
		json_t *o;

		if (json_array_size(v) > HTTP_COMPOSE_ATTACHMENTS_MAX)
			return compose_fail(err, errlen, "attachments: too many (%zu, limit %d)",
					    json_array_size(v), HTTP_COMPOSE_ATTACHMENTS_MAX);
		json_array_foreach(v, i, o) {
			if (compose_attachment(r, i, o, lim, err, errlen) < 0)
				return -1;
			r->natt++;
		}
	}
	return 0;
}

/* Give part the bytes (p, n) as its content, to be encoded on output. */
static void
compose_set_content(GMimePart *part, const void *p, size_t n)
{
	GMimeStream *st = g_mime_stream_mem_new_with_buffer(p, n); /* copies */
	GMimeDataWrapper *w;

	w = g_mime_data_wrapper_new_with_stream(st, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(part, w);
	g_object_unref(w);
	g_object_unref(st);
}

/* A text/<subtype>; charset=utf-8 part from LF-only UTF-8 text. */
static GMimeObject *
compose_text_part(const char *subtype, const char *text, size_t len)
{
	GMimeTextPart *tp = g_mime_text_part_new_with_subtype(subtype);
	GMimeContentEncoding enc;

	compose_set_content(GMIME_PART(tp), text, len);
	/* set the charset ourselves: g_mime_text_part_set_text() picks its own */
	g_mime_text_part_set_charset(tp, "utf-8");
	/* 7bit, quoted-printable or base64: whatever keeps lines short and 7-bit */
	enc = g_mime_part_get_best_content_encoding(GMIME_PART(tp), GMIME_ENCODING_CONSTRAINT_7BIT);
	if (enc == GMIME_CONTENT_ENCODING_BASE64) {
		/* GMime converts line ends only outside base64; encode CRLF text */
		size_t n = 0;
		char *crlf = compose_crlf(text, len, &n);

		compose_set_content(GMIME_PART(tp), crlf, n);
		free(crlf);
	}
	g_mime_part_set_content_encoding(GMIME_PART(tp), enc);
	return GMIME_OBJECT(tp);
}

/* An attachment part: base64, with the filename (RFC 2183, RFC 2231). */
static GMimeObject *
compose_att_part(const struct compose_att *a)
{
	GMimePart *p = g_mime_part_new_with_type(a->type, a->subtype);

	compose_set_content(p, a->data, a->len);
	g_mime_part_set_content_encoding(p, GMIME_CONTENT_ENCODING_BASE64);
	g_mime_part_set_filename(p, a->filename); /* Content-Disposition: attachment */
	return GMIME_OBJECT(p);
}

/* The raw field body (GMime's form: " value\n", folded lines joined by
 * "\n") for an ASCII value after "name:", folded before white space
 * so that lines stay near 78 octets (RFC 5322 2.2.3, 2.1.1); NULL when
 * a word is too long to fit a 998-octet line. Only white space already
 * in the value becomes a fold, so unfolding gives the value back. */
static char *
compose_fold(const char *name, const char *v)
{
	size_t n = strlen(v), col = strlen(name) + 2, i = 0;
	struct buf b;

	buf_init(&b, 2 * n + 16); /* a fold adds one byte per blank run at most */
	if (buf_puts(&b, " ") < 0)
		goto fail;
	while (i < n) {
		size_t ws = i, we;

		while (ws < n && (v[ws] == ' ' || v[ws] == '\t'))
			ws++;
		for (we = ws; we < n && v[we] != ' ' && v[we] != '\t'; we++)
			;
		/* fold before this white space: never first, never to leave a
		 * line of white space only (RFC 5322 3.2.2) */
		if (i > 0 && ws > i && we > ws && col + (we - i) > 78) {
			if (buf_puts(&b, "\n") < 0)
				goto fail;
			col = 0;
		}
		if (buf_append(&b, v + i, we - i) < 0)
			goto fail;
		col += we - i;
		if (col > COMPOSE_LINE_MAX)
			goto fail;
		i = we;
	}
	if (buf_puts(&b, "\n") < 0)
		goto fail;
	return buf_steal(&b);
fail:
	buf_free(&b);
	return NULL;
}

/* Whether s is all ASCII. */
static int
compose_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* Settle header h's written form for value, then check it: an ASCII
 * value goes out as given, only folded, because GMime would turn a long
 * word (a List-Unsubscribe URL) into RFC 2047 encoded-words, which a
 * structured field may not hold; non-ASCII keeps GMime's RFC 2047
 * encoding. -1 unless the result is 7-bit, folded only before white
 * space, and not blank unless the value was. */
static int
compose_header_raw(GMimeHeader *h, const char *name, const char *value)
{
	const char *raw;
	int blank_in = 1, blank_out = 1;
	size_t n = 0;

	if (h == NULL)
		return -1;
	if (compose_ascii(value)) {
		char *folded = compose_fold(name, value);

		if (folded != NULL) {
			g_mime_header_set_raw_value(h, folded);
			free(folded);
		}
	}
	raw = g_mime_header_get_raw_value(h);
	if (raw == NULL || (n = strlen(raw)) == 0 || raw[n - 1] != '\n')
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)raw[i];

		if (c >= 0x80 || c == '\r')
			return -1;
		if (c == '\n' && i + 1 < n && raw[i + 1] != ' ' && raw[i + 1] != '\t')
			return -1;
		if (c != ' ' && c != '\t' && c != '\n')
			blank_out = 0;
	}
	for (; *value; value++)
		if (*value != ' ' && *value != '\t')
			blank_in = 0;
	return blank_in || !blank_out ? 0 : -1;
}

/* The last header of obj: the one just appended. */
static GMimeHeader *
compose_last_header(GMimeObject *obj)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
	int count = g_mime_header_list_get_count(hl);

	return count > 0 ? g_mime_header_list_get_header_at(hl, count - 1) : NULL;
}

/* -1 unless every line of (p, n) ends in CRLF and has at most 998
 * octets before it (RFC 5322 2.1.1, 2.3; RFC 5321 4.5.3.1.6). */
static int
compose_lines_ok(const unsigned char *p, size_t n)
{
	size_t col = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r') {
			if (i + 1 >= n || p[i + 1] != '\n')
				return -1;
			i++;
			col = 0;
		} else if (p[i] == '\n') {
			return -1;
		} else if (++col > COMPOSE_LINE_MAX) {
			return -1;
		}
	}
	return 0;
}

/* Build and serialise the message; append it to out. */
static int
compose_build(const struct compose_req *r, const struct http_compose_limits *lim, struct buf *out,
	      char *err, size_t errlen)
{
	GMimeMessage *msg = g_mime_message_new(FALSE);
	GMimeObject *body = NULL, *alt = NULL;
	GMimeFormatOptions *fo = NULL;
	GMimeStream *ms = NULL;
	GByteArray *ba;
	char date[TIME_RFC5322_LEN], *mid, *subject;
	const char *name;
	size_t total;
	json_t *v;
	int rc = -1;

	/* header order: trace-like fields first, as mail clients write them */
	time_rfc5322(lim->now_ms, date);
	g_mime_object_append_header(GMIME_OBJECT(msg), "Date", date, NULL);
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, r->from.name, r->from.addr);
	if (r->reply_to.addr != NULL)
		g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_REPLY_TO, r->reply_to.name,
					   r->reply_to.addr);
	for (size_t i = 0; i < r->nrcpt[COMPOSE_TO]; i++)
		g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, r->rcpt[COMPOSE_TO][i].name,
					   r->rcpt[COMPOSE_TO][i].addr);
	for (size_t i = 0; i < r->nrcpt[COMPOSE_CC]; i++)
		g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_CC, r->rcpt[COMPOSE_CC][i].name,
					   r->rcpt[COMPOSE_CC][i].addr);
	if (r->nrcpt[COMPOSE_TO] + r->nrcpt[COMPOSE_CC] == 0) {
		/* bcc only: an empty group, as Postfix's undisclosed_recipients_header
		 * (RFC 5322 3.6.3 and A.1.3) */
		InternetAddress *g = internet_address_group_new("undisclosed-recipients");

		internet_address_list_add(g_mime_message_get_to(msg), g);
		g_object_unref(g);
	}
	/* bcc never reaches the header section (RFC 5322 3.6.3, second way) */
	subject = xstrndup(r->subject, r->subject_len);
	g_mime_message_set_subject(msg, subject, "utf-8");
	if (compose_header_raw(g_mime_header_list_get_header(
				       g_mime_object_get_header_list(GMIME_OBJECT(msg)), "Subject"),
			       "Subject", subject) < 0) {
		free(subject);
		compose_fail(err, errlen, "subject: cannot be encoded");
		goto fail;
	}
	free(subject);
	mid = xasprintf("%s@%s", lim->public_id, lim->hostname);
	g_mime_message_set_message_id(msg, mid);
	free(mid);
	g_mime_object_append_header(GMIME_OBJECT(msg), "MIME-Version", "1.0", NULL);
	if (r->headers != NULL) {
		json_object_foreach(r->headers, name, v) {
			g_mime_object_append_header(GMIME_OBJECT(msg), name, json_string_value(v),
						    "utf-8");
			if (compose_header_raw(compose_last_header(GMIME_OBJECT(msg)), name,
					       json_string_value(v)) < 0) {
				compose_fail(err, errlen, "headers.%s: value cannot be encoded",
					     name);
				goto fail;
			}
		}
	}

	if (r->text != NULL && r->html != NULL) {
		GMimeObject *t = compose_text_part("plain", r->text, r->text_len);
		GMimeObject *h = compose_text_part("html", r->html, r->html_len);

		/* RFC 2046 5.1.4: the preferred (richest) form last */
		alt = GMIME_OBJECT(g_mime_multipart_new_with_subtype("alternative"));
		g_mime_multipart_add(GMIME_MULTIPART(alt), t);
		g_mime_multipart_add(GMIME_MULTIPART(alt), h);
		g_object_unref(t);
		g_object_unref(h);
	} else if (r->text != NULL) {
		alt = compose_text_part("plain", r->text, r->text_len);
	} else {
		alt = compose_text_part("html", r->html, r->html_len);
	}
	if (r->natt > 0) {
		body = GMIME_OBJECT(g_mime_multipart_new_with_subtype("mixed"));
		g_mime_multipart_add(GMIME_MULTIPART(body), alt);
		for (size_t i = 0; i < r->natt; i++) {
			GMimeObject *a = compose_att_part(&r->att[i]);

			g_mime_multipart_add(GMIME_MULTIPART(body), a);
			g_object_unref(a);
		}
	} else {
		body = g_object_ref(alt);
	}
	g_mime_message_set_mime_part(msg, body);

	fo = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	ms = g_mime_stream_mem_new();
	if (g_mime_object_write_to_stream(GMIME_OBJECT(msg), fo, ms) < 0) {
		compose_fail(err, errlen, "message: could not be written");
		goto fail;
	}
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(ms));
	/* end on CRLF, so the message is a sequence of lines (RFC 5322 2.1) */
	total = ba->len;
	if (ba->len < 2 || ba->data[ba->len - 2] != '\r' || ba->data[ba->len - 1] != '\n')
		total += 2;
	if (total > lim->max_message_size || buf_reserve(out, total) < 0) {
		compose_fail(err, errlen, "message too large (%zu bytes, limit %zu)", total,
			     lim->max_message_size < out->cap ? lim->max_message_size : out->cap);
		goto fail;
	}
	if (compose_lines_ok(ba->data, ba->len) < 0) {
		compose_fail(err, errlen, "message: a line is over %d octets or not CRLF-ended",
			     COMPOSE_LINE_MAX);
		goto fail;
	}
	/* buf_reserve() made room for both: neither append can fail */
	if (buf_append(out, ba->data, ba->len) < 0 ||
	    (total > ba->len && buf_append(out, "\r\n", 2) < 0))
		panic("http_compose: append after reserve failed");
	rc = 0;
fail:
	if (ms != NULL)
		g_object_unref(ms);
	if (fo != NULL)
		g_mime_format_options_free(fo);
	if (body != NULL)
		g_object_unref(body);
	if (alt != NULL)
		g_object_unref(alt);
	g_object_unref(msg);
	return rc;
}

/* ASCII lower-case copy of an address, the de-duplication key. */
static char *
compose_key(const char *addr)
{
	char *k = xstrdup(addr);

	for (char *p = k; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return k;
}

/* Fill env from a checked request: recipients de-duplicated in order. */
static void
compose_envelope(const struct compose_req *r, const struct http_compose_limits *lim,
		 struct http_envelope *env)
{
	size_t total = r->nrcpt[COMPOSE_TO] + r->nrcpt[COMPOSE_CC] + r->nrcpt[COMPOSE_BCC];
	struct strmap seen;

	strmap_init(&seen, total * 2 + 1, total);
	env->rcpts = xcalloc(total, sizeof(char *));
	env->nrcpt = 0;
	for (int l = 0; l < COMPOSE_NLISTS; l++) {
		for (size_t i = 0; i < r->nrcpt[l]; i++) {
			char *key = compose_key(r->rcpt[l][i].addr);
			struct strmap_entry *e = strmap_get(&seen, key, 1);

			free(key);
			if (e == NULL)
				panic("http_compose: recipient map full");
			if (e->count++ > 0)
				continue;
			env->rcpts[env->nrcpt++] = xstrdup(r->rcpt[l][i].addr);
		}
	}
	strmap_free(&seen);
	env->mail_from = xstrdup(r->from.addr);
	env->needs_smtputf8 = r->utf8;
	env->subject = xstrndup(r->subject, r->subject_len);
	env->message_id = xasprintf("<%s@%s>", lim->public_id, lim->hostname);
}

/* Check req, then build the message into out and the envelope into env. */
int
http_compose(json_t *req, const struct http_compose_limits *lim, struct buf *out,
	     struct http_envelope *env, char *err, size_t errlen)
{
	struct compose_req r;

	if (errlen > 0)
		err[0] = '\0';
	memset(env, 0, sizeof(*env));
	memset(&r, 0, sizeof(r));
	if (lim->hostname == NULL || lim->public_id == NULL)
		return compose_fail(err, errlen, "internal: no hostname or message id");
	pthread_once(&compose_once, compose_gmime_init);
	if (compose_parse(req, lim, &r, err, errlen) < 0 ||
	    compose_build(&r, lim, out, err, errlen) < 0) {
		/* out is untouched: compose_build() appends only once all is well */
		compose_req_free(&r);
		return -1;
	}
	compose_envelope(&r, lim, env);
	compose_req_free(&r);
	return 0;
}

/* Release what http_compose() put in env; env is left empty. */
void
http_envelope_free(struct http_envelope *env)
{
	if (env == NULL)
		return;
	free(env->mail_from);
	for (size_t i = 0; i < env->nrcpt; i++)
		free(env->rcpts[i]);
	free(env->rcpts);
	free(env->subject);
	free(env->message_id);
	memset(env, 0, sizeof(*env));
}
