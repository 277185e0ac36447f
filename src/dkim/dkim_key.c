/*
 * NAME
 *	dkim_key - DKIM keys and signatures with OpenSSL 3 (RFC 6376, RFC 8463)
 * SYNOPSIS
 *	#include "dkim/dkim.h"
 * DESCRIPTION
 *	Keys: RSA (2048 bits generated; 1024 and up accepted on load, RFC
 *	8301 3.2) for rsa-sha256, and Ed25519 for ed25519-sha256. Private
 *	keys travel as PKCS#8 PEM; a passphrase-protected PEM is refused
 *	rather than prompted for. The TXT value is "v=DKIM1; k=rsa; p=" and
 *	the base64 DER SubjectPublicKeyInfo, or "v=DKIM1; k=ed25519; p=" and
 *	the base64 of the raw 32-byte key (RFC 8463 4.2).
 *
 *	dkim_sign() also lives here, because struct dkim_key is private to
 *	this file (the module has no internal header). It:
 *
 *	1. splits the header section (up to the first empty line) into
 *	   fields, a field being a line and its continuation lines;
 *	2. hashes the relaxed canonical body (dkim_canon.c) with SHA-256
 *	   for bh= (RFC 6376 3.7), the whole body, no l=;
 *	3. picks h=: the DKIM_DEFAULT_HEADERS that are present, in that
 *	   order, a name once per instance (instances are signed from the
 *	   bottom up, 5.4.2), plus once more with oversign so that a header
 *	   added later breaks the signature (8.15);
 *	4. writes the DKIM-Signature field folded at DKIM_FOLD_MAX columns
 *	   up to and including an empty "b=" on its own line, and hashes the
 *	   signed fields then that field, canonicalised, without its final
 *	   CRLF (3.7). The fold is part of what is signed, so bh= and h= may
 *	   be broken across lines: a verifier canonicalises the same bytes;
 *	5. signs the SHA-256 of that data: RSASSA-PKCS1-v1_5 with the
 *	   SHA-256 DigestInfo for RSA (RFC 8017 8.2, as EVP_DigestSign with
 *	   SHA-256 would), PureEdDSA over the 32-byte hash for Ed25519
 *	   (RFC 8463 3);
 *	6. appends the base64 signature to b=, folded (the b= value's
 *	   folding white space is removed by verifiers, 3.5), and CRLF.
 *
 *	The message must be in its wire form, CRLF line ends: a bare LF is
 *	refused. The field is appended to out_header (after whatever it
 *	holds, so two signatures can share it) only when everything worked.
 * LIMITS
 *	DKIM_FIELD_MAX per canonical signed header field, DKIM_HEADER_MAX
 *	for the DKIM-Signature field, DKIM_TAG_MAX for d= and s=. The
 *	canonical body is built in memory (up to the message size plus 2).
 */
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "dkim/dkim.h"

#define DKIM_RSA_BITS 2048
#define DKIM_RSA_MIN_BITS 1024      /* RFC 8301 3.2 */
#define DKIM_SIG_MAX 1024           /* signature bytes: RSA up to 8192 bits */
#define DKIM_PUB_MAX 4096           /* DER public key bytes */
#define DKIM_PEM_MAX (64 * 1024)    /* a PEM we accept */
#define DKIM_FIELD_MAX (256 * 1024) /* one canonical signed header field */
#define DKIM_HEADER_MAX (64 * 1024) /* the DKIM-Signature field we write */
#define DKIM_TAG_MAX 253            /* d= and s= */
#define DKIM_FOLD_MAX 78            /* RFC 5322 2.1.1, TAB counted as 8 */
#define DKIM_FOLD_INDENT 8

struct dkim_key {
	EVP_PKEY *pkey;
	enum dkim_alg alg;
};

static const char *const dkim_sign_names[] = {DKIM_DEFAULT_HEADERS};
#define DKIM_NNAMES PH_ARRAY_LEN(dkim_sign_names)

/* Name of an algorithm as in a= (RFC 6376 3.5, RFC 8463 3). */
const char *
dkim_alg_str(enum dkim_alg a)
{
	switch (a) {
	case DKIM_RSA_SHA256:
		return "rsa-sha256";
	case DKIM_ED25519_SHA256:
		return "ed25519-sha256";
	}
	return "unknown";
}

static void dkim_err(char *err, size_t errlen, const char *fmt, ...) PH_PRINTF(3, 4);

/* Write a message into err (when there is room for one). */
static void
dkim_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* err = "what: <OpenSSL's reason>", and the OpenSSL error queue emptied. */
static void
dkim_ssl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char detail[256] = "no detail";

	if (e != 0)
		ERR_error_string_n(e, detail, sizeof(detail));
	ERR_clear_error();
	dkim_err(err, errlen, "%s: %s", what, detail);
}

/* Append base64 of in; -1 (out unchanged) past the cap. */
static int
dkim_b64_put(struct buf *out, const unsigned char *in, size_t n)
{
	size_t start = out->len;

	/* base64_encode() stops silently at the cap: check the length. */
	if (n > (SIZE_MAX / 4) * 3 - 3)
		return -1;
	base64_encode(in, n, out);
	if (out->len - start != (n + 2) / 3 * 4) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
		return -1;
	}
	return 0;
}

/* Wrap a key of a type we sign with; NULL (and err) for others. */
static struct dkim_key *
dkim_key_wrap(EVP_PKEY *pkey, char *err, size_t errlen)
{
	struct dkim_key *k;
	enum dkim_alg alg;
	const char *sn;
	int bits;

	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		bits = EVP_PKEY_get_bits(pkey);
		if (bits < DKIM_RSA_MIN_BITS) {
			dkim_err(err, errlen,
			         "RSA key of %d bits is too short for DKIM (RFC 8301: at least "
			         "%d; use %d)",
			         bits, DKIM_RSA_MIN_BITS, DKIM_RSA_BITS);
			return NULL;
		}
		if (EVP_PKEY_get_size(pkey) > DKIM_SIG_MAX) {
			dkim_err(err, errlen, "RSA key of %d bits is too long", bits);
			return NULL;
		}
		alg = DKIM_RSA_SHA256;
		break;
	case EVP_PKEY_ED25519:
		alg = DKIM_ED25519_SHA256;
		break;
	default:
		sn = OBJ_nid2sn(EVP_PKEY_get_base_id(pkey));
		dkim_err(err, errlen, "key type %s is not usable for DKIM (want RSA or Ed25519)",
		         sn ? sn : "unknown");
		return NULL;
	}
	k = xcalloc(1, sizeof(*k));
	k->pkey = pkey;
	k->alg = alg;
	return k;
}

/* A new key: RSA-2048 or Ed25519. */
struct dkim_key *
dkim_key_generate(enum dkim_alg alg, char *err, size_t errlen)
{
	EVP_PKEY *pkey;
	struct dkim_key *k;

	switch (alg) {
	case DKIM_RSA_SHA256:
		pkey = EVP_RSA_gen(DKIM_RSA_BITS);
		break;
	case DKIM_ED25519_SHA256:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	default:
		dkim_err(err, errlen, "unknown DKIM algorithm %d", (int)alg);
		return NULL;
	}
	if (pkey == NULL) {
		dkim_ssl_err(err, errlen, "key generation failed");
		return NULL;
	}
	if ((k = dkim_key_wrap(pkey, err, errlen)) == NULL)
		EVP_PKEY_free(pkey);
	return k;
}

/* PEM passphrase callback: keys are stored unencrypted, never prompt. */
static int
dkim_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* A private key from PEM (PKCS#8 or traditional). */
struct dkim_key *
dkim_key_load_pem(const char *pem, size_t len, char *err, size_t errlen)
{
	struct dkim_key *k;
	EVP_PKEY *pkey;
	BIO *bio;

	if (len == 0 || len > DKIM_PEM_MAX) {
		dkim_err(err, errlen, "PEM key of %zu bytes (want 1..%d)", len, DKIM_PEM_MAX);
		return NULL;
	}
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		dkim_ssl_err(err, errlen, "BIO_new_mem_buf");
		return NULL;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, dkim_no_passphrase, NULL);
	BIO_free(bio);
	if (pkey == NULL) {
		dkim_ssl_err(err, errlen, "no usable private key in the PEM");
		return NULL;
	}
	if ((k = dkim_key_wrap(pkey, err, errlen)) == NULL)
		EVP_PKEY_free(pkey);
	return k;
}

/* Which algorithm this key signs with. */
enum dkim_alg
dkim_key_alg(const struct dkim_key *k)
{
	return k->alg;
}

/* Append the private key as unencrypted PKCS#8 PEM. */
int
dkim_key_private_pem(const struct dkim_key *k, struct buf *out)
{
	char *p = NULL;
	long n;
	int rc = -1;
	BIO *bio;

	/* A secure-heap memory BIO is wiped when freed. */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL) {
		ERR_clear_error();
		return -1;
	}
	if (PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		ERR_clear_error();
		goto out;
	}
	n = BIO_get_mem_data(bio, &p);
	if (n <= 0 || p == NULL)
		goto out;
	rc = buf_append(out, p, (size_t)n);
out:
	BIO_free(bio);
	return rc;
}

/* The public key as published in p=: DER SubjectPublicKeyInfo (RSA) or
 * the raw 32 bytes (Ed25519, RFC 8463 4.2). */
static int
dkim_key_pub(const struct dkim_key *k, unsigned char *pub, size_t size, size_t *len)
{
	unsigned char *p = pub;
	int n;

	if (k->alg == DKIM_ED25519_SHA256) {
		*len = size;
		if (EVP_PKEY_get_raw_public_key(k->pkey, pub, len) != 1) {
			ERR_clear_error();
			return -1;
		}
		return 0;
	}
	n = i2d_PUBKEY(k->pkey, NULL);
	if (n <= 0 || (size_t)n > size) {
		ERR_clear_error();
		return -1;
	}
	if (i2d_PUBKEY(k->pkey, &p) != n) {
		ERR_clear_error();
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

/* Append the TXT value to publish at SELECTOR._domainkey.DOMAIN. */
int
dkim_key_txt(const struct dkim_key *k, struct buf *out)
{
	unsigned char pub[DKIM_PUB_MAX];
	size_t n, start = out->len;

	if (dkim_key_pub(k, pub, sizeof(pub), &n) < 0)
		return -1;
	if (buf_puts(out, k->alg == DKIM_ED25519_SHA256 ? "v=DKIM1; k=ed25519; p="
	                                                : "v=DKIM1; k=rsa; p=") < 0)
		return -1;
	if (dkim_b64_put(out, pub, n) < 0) {
		out->len = start;
		out->data[start] = '\0';
		return -1;
	}
	return 0;
}

/* Release a key (NULL is fine). */
void
dkim_key_free(struct dkim_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

/* --- signing ------------------------------------------------------------ */

/* One instance of a header we sign: where it is and which name it has. */
struct dkim_field {
	size_t name; /* index in dkim_sign_names */
	size_t off;  /* first byte of the field */
	size_t len;  /* through the CRLF of its last line */
};

struct dkim_fields {
	struct dkim_field *v;
	size_t n, size;
};

/* Is this a usable d= or s= value (letters, digits, '-', '_', '.')? */
static int
dkim_tag_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > DKIM_TAG_MAX || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

/* Index of a field's name among the names we sign, or -1. The name is
 * the bytes before the colon less trailing WSP, matched without case. */
static int
dkim_field_name(const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	size_t n;

	if (colon == NULL)
		return -1;
	n = (size_t)(colon - line);
	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < DKIM_NNAMES; i++)
		if (strlen(dkim_sign_names[i]) == n &&
		    strncasecmp(dkim_sign_names[i], line, n) == 0)
			return (int)i;
	return -1;
}

/* Find the fields we may sign in the header section, and where the body
 * starts (len when there is no empty line: no body). */
static void
dkim_split(const char *msg, size_t len, struct dkim_fields *fs, size_t *body)
{
	struct dkim_field *cur = NULL;
	size_t pos = 0;

	*body = len;
	while (pos < len) {
		const char *crlf = memmem(msg + pos, len - pos, "\r\n", 2);
		size_t eol = crlf ? (size_t)(crlf - msg) + 2 : len;
		int idx;

		if (crlf == msg + pos) {
			*body = pos + 2; /* the empty line ends the header section */
			return;
		}
		if (msg[pos] == ' ' || msg[pos] == '\t') {
			/* RFC 5322 2.2.3: a continuation line. */
			if (cur)
				cur->len = eol - cur->off;
		} else if ((idx = dkim_field_name(msg + pos, eol - pos)) < 0) {
			cur = NULL;
		} else {
			if (fs->n == fs->size) {
				fs->size = fs->size ? fs->size * 2 : 16;
				fs->v = xrealloc(fs->v, fs->size * sizeof(*fs->v));
			}
			cur = &fs->v[fs->n++];
			cur->name = (size_t)idx;
			cur->off = pos;
			cur->len = eol - pos;
		}
		pos = eol;
	}
}

/* Offset of the first LF not preceded by CR, or SIZE_MAX. */
static size_t
dkim_bare_lf(const char *msg, size_t len)
{
	for (const char *p = msg; (p = memchr(p, '\n', len - (size_t)(p - msg))) != NULL; p++)
		if (p == msg || p[-1] != '\r')
			return (size_t)(p - msg);
	return SIZE_MAX;
}

/* Output of the folder: the field being written and its column. */
struct dkim_fold {
	struct buf *b;
	size_t col;
	int err;
};

/* Append text that stays on the current line. */
static void
dkim_fold_put(struct dkim_fold *f, const char *s, size_t n)
{
	if (buf_append(f->b, s, n) < 0)
		f->err = 1;
	f->col += n;
}

/* Start a continuation line (RFC 5322 2.2.3: CRLF then WSP). */
static void
dkim_fold_nl(struct dkim_fold *f)
{
	if (buf_append(f->b, "\r\n\t", 3) < 0)
		f->err = 1;
	f->col = DKIM_FOLD_INDENT;
}

enum dkim_split { DKIM_SPLIT_NONE, DKIM_SPLIT_COLON, DKIM_SPLIT_ANY };

/* Add " tag=value;" (semi: with the ';'), folding before the tag when it
 * does not fit and inside long values: h= after a colon (FWS is allowed
 * around its colons), base64 anywhere (RFC 6376 3.2, 3.5). */
static void
dkim_fold_tag(struct dkim_fold *f, const char *tag, const char *val, size_t vlen,
              enum dkim_split split, int semi)
{
	size_t tlen = strlen(tag), whole = tlen + 1 + vlen + (semi ? 1 : 0), i = 0;

	if (f->col + 1 + whole <= DKIM_FOLD_MAX) {
		dkim_fold_put(f, " ", 1);
	} else if (split == DKIM_SPLIT_NONE || DKIM_FOLD_INDENT + whole <= DKIM_FOLD_MAX ||
	           f->col + 1 + tlen + 1 + 8 > DKIM_FOLD_MAX) {
		dkim_fold_nl(f);
	} else {
		dkim_fold_put(f, " ", 1);
	}
	dkim_fold_put(f, tag, tlen);
	dkim_fold_put(f, "=", 1);
	if (split == DKIM_SPLIT_NONE || f->col + vlen + (semi ? 1 : 0) <= DKIM_FOLD_MAX) {
		dkim_fold_put(f, val, vlen);
	} else if (split == DKIM_SPLIT_ANY) {
		while (i < vlen) {
			/* Keep a column for the ';' after the last piece. */
			size_t room = DKIM_FOLD_MAX - f->col - 1,
			       n = vlen - i < room ? vlen - i : room;

			dkim_fold_put(f, val + i, n);
			i += n;
			if (i < vlen)
				dkim_fold_nl(f);
		}
	} else {
		while (i < vlen) {
			const char *c = memchr(val + i, ':', vlen - i);
			size_t n = c ? (size_t)(c - (val + i)) + 1 : vlen - i;
			size_t need = n + (!c && semi ? 1 : 0);

			if (f->col + need > DKIM_FOLD_MAX && f->col > DKIM_FOLD_INDENT)
				dkim_fold_nl(f);
			dkim_fold_put(f, val + i, n);
			i += n;
		}
	}
	if (semi)
		dkim_fold_put(f, ";", 1);
}

/* Hash the canonical form of one field (without its CRLF when last). */
static int
dkim_hash_field(EVP_MD_CTX *md, const char *field, size_t len, int strip_crlf, struct buf *tmp)
{
	buf_reset(tmp);
	if (dkim_canon_header_relaxed(field, len, tmp) < 0)
		return -1;
	if (strip_crlf)
		tmp->len -= 2; /* RFC 6376 3.7: the signature field has no CRLF */
	return EVP_DigestUpdate(md, tmp->data, tmp->len) == 1 ? 0 : -1;
}

/* Sign the 32-byte hash of the signed data. */
static int
dkim_sign_hash(const struct dkim_key *k, const unsigned char *hash, size_t hlen, unsigned char *sig,
               size_t *siglen)
{
	EVP_PKEY_CTX *pc = NULL;
	EVP_MD_CTX *sc = NULL;
	int ok = 0;

	if (k->alg == DKIM_RSA_SHA256) {
		/* RSASSA-PKCS1-v1_5: DigestInfo(SHA-256, hash), RFC 8017 9.2. */
		ok = (pc = EVP_PKEY_CTX_new(k->pkey, NULL)) != NULL &&
		     EVP_PKEY_sign_init(pc) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
		     EVP_PKEY_sign(pc, sig, siglen, hash, hlen) == 1;
	} else {
		/* RFC 8463 3: PureEdDSA over the SHA-256 hash, so no digest
		 * is named here (Ed25519 hashes with SHA-512 inside). */
		ok = (sc = EVP_MD_CTX_new()) != NULL &&
		     EVP_DigestSignInit(sc, NULL, NULL, NULL, k->pkey) == 1 &&
		     EVP_DigestSign(sc, sig, siglen, hash, hlen) == 1;
	}
	EVP_PKEY_CTX_free(pc);
	EVP_MD_CTX_free(sc);
	return ok ? 0 : -1;
}

/* The DKIM-Signature field for msg, appended to out_header. */
int
dkim_sign(const struct dkim_key *k, const struct dkim_sign_opts *o, const char *msg, size_t len,
          struct buf *out_header, char *err, size_t errlen)
{
	struct dkim_fields fs = {NULL, 0, 0};
	struct buf body, hdr, tmp, hlist, b64;
	struct dkim_fold f;
	unsigned char hash[EVP_MAX_MD_SIZE], sig[DKIM_SIG_MAX];
	unsigned int hlen = 0;
	size_t body_off, lf, siglen = sizeof(sig), count[DKIM_NNAMES] = {0};
	EVP_MD_CTX *md = NULL;
	char tval[32];
	int rc = -1;

	buf_init(&body, 0); /* its cap is set once the body is found */
	buf_init(&hdr, DKIM_HEADER_MAX);
	buf_init(&tmp, DKIM_FIELD_MAX);
	buf_init(&hlist, DKIM_HEADER_MAX);
	buf_init(&b64, DKIM_HEADER_MAX);
	if (k == NULL || o == NULL || msg == NULL) {
		dkim_err(err, errlen, "dkim_sign: missing key, options or message");
		goto fail;
	}
	if (!dkim_tag_ok(o->domain) || !dkim_tag_ok(o->selector)) {
		dkim_err(err, errlen,
		         "bad DKIM domain or selector (letters, digits, '-', '_', '.')");
		goto fail;
	}
	if (o->timestamp < 0) {
		dkim_err(err, errlen, "negative DKIM timestamp");
		goto fail;
	}

	/* A bare LF would be a line end to the next MTA, not to us (GMime
	 * writes them unless asked for CRLF): refuse rather than sign
	 * something that will not verify. */
	if ((lf = dkim_bare_lf(msg, len)) != SIZE_MAX) {
		dkim_err(err, errlen,
		         "bare LF at offset %zu: sign the message in its CRLF wire form", lf);
		goto fail;
	}

	dkim_split(msg, len, &fs, &body_off);
	body.cap = len - body_off + 2; /* the canonical body is at most 2 longer */
	for (size_t i = 0; i < fs.n; i++)
		count[fs.v[i].name]++;
	if (count[0] == 0) { /* names[0] is From: RFC 6376 5.4 says MUST sign */
		dkim_err(err, errlen, "the message has no From: header field to sign");
		goto fail;
	}

	/* bh=: SHA-256 of the relaxed canonical body (3.7). */
	if (dkim_canon_body_relaxed(msg + body_off, len - body_off, &body) < 0 ||
	    EVP_Digest(body.data, body.len, hash, &hlen, EVP_sha256(), NULL) != 1 ||
	    dkim_b64_put(&b64, hash, hlen) < 0) {
		dkim_ssl_err(err, errlen, "body hash failed");
		goto fail;
	}

	/* h=: one name per instance, plus one with oversign (5.4.2, 8.15),
	 * absent names too: a Reply-To or Cc added in transit breaks it. */
	for (size_t j = 0; j < DKIM_NNAMES; j++)
		for (size_t c = 0; c < count[j] + (o->oversign ? 1 : 0); c++)
			if ((hlist.len > 0 && buf_append(&hlist, ":", 1) < 0) ||
			    buf_puts(&hlist, dkim_sign_names[j]) < 0) {
				dkim_err(err, errlen, "too many header fields to sign");
				goto fail;
			}

	f.b = &hdr;
	f.col = 0;
	f.err = 0;
	dkim_fold_put(&f, "DKIM-Signature:", 15);
	dkim_fold_tag(&f, "v", "1", 1, DKIM_SPLIT_NONE, 1);
	dkim_fold_tag(&f, "a", dkim_alg_str(k->alg), strlen(dkim_alg_str(k->alg)), DKIM_SPLIT_NONE,
	              1);
	dkim_fold_tag(&f, "c", "relaxed/relaxed", 15, DKIM_SPLIT_NONE, 1);
	dkim_fold_tag(&f, "d", o->domain, strlen(o->domain), DKIM_SPLIT_NONE, 1);
	dkim_fold_tag(&f, "s", o->selector, strlen(o->selector), DKIM_SPLIT_NONE, 1);
	if (o->timestamp > 0) {
		snprintf(tval, sizeof(tval), "%lld", (long long)o->timestamp);
		dkim_fold_tag(&f, "t", tval, strlen(tval), DKIM_SPLIT_NONE, 1);
	}
	dkim_fold_tag(&f, "h", hlist.data, hlist.len, DKIM_SPLIT_COLON, 1);
	dkim_fold_tag(&f, "bh", b64.data, b64.len, DKIM_SPLIT_ANY, 1);
	/* b= starts a line of its own; its value comes after signing. */
	dkim_fold_nl(&f);
	dkim_fold_put(&f, "b=", 2);
	if (f.err) {
		dkim_err(err, errlen, "DKIM-Signature field too long");
		goto fail;
	}

	/* The signed data: each h= entry's instance, bottom-up, then this
	 * field with an empty b= and no final CRLF (3.7). An h= entry with
	 * no instance left (over-signing) adds nothing (5.4.2). */
	if ((md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		dkim_ssl_err(err, errlen, "SHA-256");
		goto fail;
	}
	for (size_t j = 0; j < DKIM_NNAMES; j++)
		for (size_t i = fs.n; i-- > 0;)
			if (fs.v[i].name == j &&
			    dkim_hash_field(md, msg + fs.v[i].off, fs.v[i].len, 0, &tmp) < 0) {
				dkim_err(err, errlen, "a %s header field is too long to sign",
				         dkim_sign_names[j]);
				goto fail;
			}
	if (dkim_hash_field(md, hdr.data, hdr.len, 1, &tmp) < 0 ||
	    EVP_DigestFinal_ex(md, hash, &hlen) != 1) {
		dkim_ssl_err(err, errlen, "header hash failed");
		goto fail;
	}
	if (dkim_sign_hash(k, hash, hlen, sig, &siglen) < 0) {
		dkim_ssl_err(err, errlen, "signing failed");
		goto fail;
	}

	buf_reset(&b64);
	if (dkim_b64_put(&b64, sig, siglen) < 0) {
		dkim_err(err, errlen, "signature too long");
		goto fail;
	}
	for (size_t i = 0; i < b64.len;) {
		size_t room = DKIM_FOLD_MAX - f.col, n = b64.len - i < room ? b64.len - i : room;

		dkim_fold_put(&f, b64.data + i, n);
		i += n;
		if (i < b64.len)
			dkim_fold_nl(&f);
	}
	dkim_fold_put(&f, "\r\n", 2);
	if (f.err || buf_append(out_header, hdr.data, hdr.len) < 0) {
		dkim_err(err, errlen, "DKIM-Signature field does not fit");
		goto fail;
	}
	rc = 0;
fail:
	EVP_MD_CTX_free(md);
	buf_free(&b64);
	buf_free(&hlist);
	buf_free(&tmp);
	buf_free(&hdr);
	buf_free(&body);
	free(fs.v);
	return rc;
}
