/*
 * NAME
 *	dkim_txt - does a published DKIM key record carry our key?
 * SYNOPSIS
 *	#include "dkim/dkim.h"
 *
 *	int dkim_txt_matches(const struct dkim_key *k, const char *txt,
 *			     char *why, size_t whylen);
 * DESCRIPTION
 *	txt is the TXT value found at SELECTOR._domainkey.DOMAIN, its
 *	character-strings already joined. It is parsed as an RFC 6376 3.2
 *	tag-list: "tag = value" pairs separated by ';', folding white space
 *	allowed around tags, '=' and values, an optional final ';'; a
 *	duplicate tag makes the whole list invalid. Then, as a verifier
 *	would read it (RFC 6376 3.6.1, RFC 8463 4.2):
 *
 *	v=	optional; when present, first and exactly "DKIM1";
 *	k=	the key type, "rsa" when absent; must be ours;
 *	h=	optional colon-separated hash list; must include sha256;
 *	s=	optional service list; must include "*" or "email";
 *	p=	base64 with any white space inside ignored; empty means the
 *		key was revoked; must decode to our public key: the DER
 *		SubjectPublicKeyInfo for RSA (a bare PKCS#1 RSAPublicKey, which
 *		RFC 6376's text names and verifiers accept, also matches), the
 *		raw 32 bytes for Ed25519.
 *
 *	Unknown tags are ignored. The reason written to why is meant for
 *	the customer who publishes the record; values from the record are
 *	quoted escaped and shortened. Uses only the public key interface:
 *	our own p= comes from dkim_key_txt().
 * LIMITS
 *	DKIM_TXT_MAX bytes of record, DKIM_TXT_TAGS_MAX tags, DKIM_P_MAX
 *	decoded key bytes.
 */
#include <stdarg.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dkim/dkim.h"

#define DKIM_TXT_MAX 8192
#define DKIM_TXT_TAGS_MAX 32
#define DKIM_P_MAX 4096
#define DKIM_WHY_VAL 40 /* bytes of a record value quoted in a reason */

struct txt_tag {
	const char *name, *val;
	size_t nlen, vlen;
};

struct txt_rec {
	struct txt_tag t[DKIM_TXT_TAGS_MAX];
	size_t n;
};

static void txt_why(char *why, size_t whylen, const char *fmt, ...) PH_PRINTF(3, 4);

/* Write the reason (when there is room for one). */
static void
txt_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* A record value made safe and short for a reason text. */
static const char *
txt_show(char *out, size_t size, const char *v, size_t n)
{
	size_t w = log_escape(out, size, v, n < DKIM_WHY_VAL ? n : DKIM_WHY_VAL);

	if (n > DKIM_WHY_VAL && size - w > 3)
		memcpy(out + w, "...", 4);
	return out;
}

/* RFC 6376 3.2 FWS, once unfolded: SP, HTAB, and the CR LF of a fold. */
static int
txt_is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 6376 3.2 ALPHA. */
static int
txt_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Parse a tag-list (RFC 6376 3.2) into r; -1 with a reason. */
static int
txt_parse(const char *s, size_t len, struct txt_rec *r, char *why, size_t whylen)
{
	char show[4 * DKIM_WHY_VAL + 8];
	size_t pos = 0;

	r->n = 0;
	for (;;) {
		struct txt_tag t;
		size_t vend;

		while (pos < len && txt_is_fws(s[pos]))
			pos++;
		if (pos == len)
			break; /* end, after an optional final ';' */
		if (s[pos] == ';') {
			txt_why(why, whylen, "the record has an empty tag (\";;\") at offset %zu",
			        pos);
			return -1;
		}
		/* tag-name = ALPHA *ALNUMPUNC */
		t.name = s + pos;
		if (!txt_is_alpha(s[pos])) {
			txt_why(why, whylen,
			        "the record is not a DKIM tag=value list: a tag name was "
			        "expected at offset %zu, found \"%s\"",
			        pos, txt_show(show, sizeof(show), s + pos, len - pos));
			return -1;
		}
		while (pos < len &&
		       (txt_is_alpha(s[pos]) || (s[pos] >= '0' && s[pos] <= '9') || s[pos] == '_'))
			pos++;
		t.nlen = (size_t)(s + pos - t.name);
		while (pos < len && txt_is_fws(s[pos]))
			pos++;
		if (pos == len || s[pos] != '=') {
			txt_why(why, whylen, "tag \"%s\" has no '=' after its name",
			        txt_show(show, sizeof(show), t.name, t.nlen));
			return -1;
		}
		pos++;
		while (pos < len && txt_is_fws(s[pos]))
			pos++;
		/* tag-value: VALCHARs (%x21-3A / %x3C-7E) and FWS inside. */
		t.val = s + pos;
		for (; pos < len && s[pos] != ';'; pos++) {
			unsigned char c = (unsigned char)s[pos];

			if (!txt_is_fws(s[pos]) && (c < 0x21 || c > 0x7e)) {
				txt_why(why, whylen,
				        "the value of %s= has a byte 0x%02x (offset %zu) that a "
				        "DKIM record cannot hold",
				        txt_show(show, sizeof(show), t.name, t.nlen), c, pos);
				return -1;
			}
		}
		for (vend = pos; vend > (size_t)(t.val - s) && txt_is_fws(s[vend - 1]); vend--)
			;
		t.vlen = vend - (size_t)(t.val - s);
		for (size_t i = 0; i < r->n; i++)
			if (r->t[i].nlen == t.nlen && memcmp(r->t[i].name, t.name, t.nlen) == 0) {
				/* RFC 6376 3.2: the entire tag-list is invalid. */
				txt_why(why, whylen,
				        "tag %s= appears twice, which makes the record invalid",
				        txt_show(show, sizeof(show), t.name, t.nlen));
				return -1;
			}
		if (r->n == DKIM_TXT_TAGS_MAX) {
			txt_why(why, whylen, "the record has more than %d tags", DKIM_TXT_TAGS_MAX);
			return -1;
		}
		r->t[r->n++] = t;
		if (pos == len)
			break;
		pos++; /* the ';' */
	}
	if (r->n == 0) {
		txt_why(why, whylen, "the record is empty");
		return -1;
	}
	return 0;
}

/* The tag named name (case-sensitive, RFC 6376 3.2), or NULL. */
static const struct txt_tag *
txt_find(const struct txt_rec *r, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < r->n; i++)
		if (r->t[i].nlen == n && memcmp(r->t[i].name, name, n) == 0)
			return &r->t[i];
	return NULL;
}

/* Is the value exactly want? */
static int
txt_is(const struct txt_tag *t, const char *want)
{
	return t->vlen == strlen(want) && memcmp(t->val, want, t->vlen) == 0;
}

/* Does a colon-separated list (FWS around items) hold want? */
static int
txt_list_has(const struct txt_tag *t, const char *want)
{
	size_t i = 0, wl = strlen(want);

	while (i <= t->vlen) {
		const char *c = memchr(t->val + i, ':', t->vlen - i);
		size_t end = c ? (size_t)(c - t->val) : t->vlen, a = i, b = end;

		while (a < b && txt_is_fws(t->val[a]))
			a++;
		while (b > a && txt_is_fws(t->val[b - 1]))
			b--;
		if (b - a == wl && memcmp(t->val + a, want, wl) == 0)
			return 1;
		i = end + 1;
	}
	return 0;
}

/* Decode p= (white space inside removed); -1 when it is not base64. */
static int
txt_p_decode(const struct txt_tag *p, unsigned char *out, size_t size, size_t *outlen)
{
	char b64[(DKIM_P_MAX + 2) / 3 * 4 + 8];
	size_t n = 0;

	for (size_t i = 0; i < p->vlen; i++) {
		if (txt_is_fws(p->val[i]))
			continue;
		if (n == sizeof(b64))
			return -1;
		b64[n++] = p->val[i];
	}
	if (n == 0) {
		*outlen = 0;
		return 0;
	}
	return base64_decode(b64, n, out, size, outlen);
}

/* The RSA key in a p= value as DER SubjectPublicKeyInfo: as it is, or
 * converted from a PKCS#1 RSAPublicKey. 0, or -1 when it is neither. */
static int
txt_rsa_spki(const unsigned char *der, size_t len, unsigned char *out, size_t size, size_t *outlen)
{
	const unsigned char *p = der;
	unsigned char *q = out;
	EVP_PKEY *pkey;
	int n;

	if (len > (size_t)INT32_MAX)
		return -1;
	pkey = d2i_PUBKEY(NULL, &p, (long)len);
	if (pkey == NULL || p != der + len || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pkey);
		p = der;
		pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
		if (pkey == NULL || p != der + len) {
			EVP_PKEY_free(pkey);
			ERR_clear_error();
			return -1;
		}
	}
	n = i2d_PUBKEY(pkey, NULL);
	if (n <= 0 || (size_t)n > size || i2d_PUBKEY(pkey, &q) != n) {
		EVP_PKEY_free(pkey);
		ERR_clear_error();
		return -1;
	}
	EVP_PKEY_free(pkey);
	*outlen = (size_t)n;
	return 0;
}

/* Is pub, from p=, an Ed25519 SubjectPublicKeyInfo around our raw key? */
static int
txt_ed25519_wrapped(const unsigned char *pub, size_t len, const unsigned char *raw, size_t rawlen)
{
	const unsigned char *p = pub;
	unsigned char key[64];
	size_t klen = sizeof(key);
	EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)len);
	int same = 0;

	if (pkey && EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519 &&
	    EVP_PKEY_get_raw_public_key(pkey, key, &klen) == 1)
		same = klen == rawlen && memcmp(key, raw, klen) == 0;
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return same;
}

/* 0 when the published TXT value txt carries k's public key. */
int
dkim_txt_matches(const struct dkim_key *k, const char *txt, char *why, size_t whylen)
{
	struct txt_rec pub, ours;
	unsigned char theirs[DKIM_P_MAX + 1], mine[DKIM_P_MAX + 1], conv[DKIM_P_MAX];
	char show[4 * DKIM_WHY_VAL + 8];
	const char *ktype;
	const struct txt_tag *t, *p;
	size_t len, tlen, mlen, clen;
	struct buf own;
	int rc = -1;

	buf_init(&own, DKIM_TXT_MAX);
	if (k == NULL || txt == NULL) {
		txt_why(why, whylen, "no key or no record to compare");
		goto out;
	}
	ktype = dkim_key_alg(k) == DKIM_ED25519_SHA256 ? "ed25519" : "rsa";
	if ((len = strnlen(txt, DKIM_TXT_MAX + 1)) > DKIM_TXT_MAX) {
		txt_why(why, whylen, "the record is longer than %d bytes", DKIM_TXT_MAX);
		goto out;
	}
	if (memchr(txt, '"', len)) {
		/* Zone-file quoting pasted into the value (or a DNS panel). */
		txt_why(why, whylen,
		        "the record contains '\"': publish the value without quotes (split "
		        "long values into several strings, not quoted pieces inside one)");
		goto out;
	}
	if (txt_parse(txt, len, &pub, why, whylen) < 0)
		goto out;

	/* RFC 6376 3.6.1 v=: optional, but first and "DKIM1" when there. */
	if ((t = txt_find(&pub, "v")) != NULL) {
		if (!txt_is(t, "DKIM1")) {
			txt_why(why, whylen, "the record has v=%s; a DKIM key record has v=DKIM1",
			        txt_show(show, sizeof(show), t->val, t->vlen));
			goto out;
		}
		if (t != &pub.t[0]) {
			txt_why(why, whylen, "v=DKIM1 must be the first tag of the record");
			goto out;
		}
	}

	/* k=: "rsa" by default; verifiers compare it exactly. */
	if ((t = txt_find(&pub, "k")) != NULL && !txt_is(t, "rsa") && !txt_is(t, "ed25519")) {
		txt_why(why, whylen, "k=%s is not a key type verifiers know (k=rsa or k=ed25519)",
		        txt_show(show, sizeof(show), t->val, t->vlen));
		goto out;
	}
	if (t == NULL ? strcmp(ktype, "rsa") != 0 : !txt_is(t, ktype)) {
		txt_why(why, whylen, "the record has k=%s%s but the key is %s",
		        t ? (txt_is(t, "rsa") ? "rsa" : "ed25519") : "rsa",
		        t ? "" : " (the default: no k= tag)", ktype);
		goto out;
	}

	if ((t = txt_find(&pub, "h")) != NULL && !txt_list_has(t, "sha256")) {
		txt_why(why, whylen, "h=%s does not allow sha256, which our signatures use",
		        txt_show(show, sizeof(show), t->val, t->vlen));
		goto out;
	}
	if ((t = txt_find(&pub, "s")) != NULL && !txt_list_has(t, "*") &&
	    !txt_list_has(t, "email")) {
		txt_why(why, whylen, "s=%s does not include email (use s=email or leave s= out)",
		        txt_show(show, sizeof(show), t->val, t->vlen));
		goto out;
	}

	if ((p = txt_find(&pub, "p")) == NULL) {
		txt_why(why, whylen, "the record has no p= tag (the public key)");
		goto out;
	}
	if (txt_p_decode(p, theirs, sizeof(theirs), &tlen) < 0) {
		txt_why(why, whylen, "p= is not valid base64 (was it cut short or mistyped?)");
		goto out;
	}
	if (tlen == 0) {
		txt_why(why, whylen, "p= is empty: the record says this key has been revoked");
		goto out;
	}

	/* Our own p=, read back through the same parser. */
	if (dkim_key_txt(k, &own) < 0 || txt_parse(own.data, own.len, &ours, NULL, 0) < 0 ||
	    (t = txt_find(&ours, "p")) == NULL || txt_p_decode(t, mine, sizeof(mine), &mlen) < 0) {
		txt_why(why, whylen, "cannot encode this key's public part");
		goto out;
	}
	if (tlen == mlen && memcmp(theirs, mine, mlen) == 0) {
		rc = 0;
		goto out;
	}
	if (dkim_key_alg(k) == DKIM_RSA_SHA256) {
		if (txt_rsa_spki(theirs, tlen, conv, sizeof(conv), &clen) < 0)
			txt_why(why, whylen, "p= does not hold an RSA public key");
		else if (clen == mlen && memcmp(conv, mine, mlen) == 0)
			rc = 0; /* PKCS#1 RSAPublicKey form of our key */
		else
			txt_why(why, whylen, "p= differs: the record holds another RSA key");
	} else if (tlen != mlen) {
		if (txt_ed25519_wrapped(theirs, tlen, mine, mlen))
			txt_why(why, whylen,
			        "p= holds this key inside a SubjectPublicKeyInfo; RFC 8463 "
			        "publishes the raw 32-byte key");
		else
			txt_why(why, whylen, "p= is %zu bytes long, not an Ed25519 key (32 bytes)",
			        tlen);
	} else {
		txt_why(why, whylen, "p= differs: the record holds another Ed25519 key");
	}
out:
	buf_free(&own);
	return rc;
}
