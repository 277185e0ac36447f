/*
 * NAME
 *	test_dkim - unit tests for the dkim module
 * DESCRIPTION
 *	Table-driven. Covers:
 *
 *	- relaxed header and body canonicalisation (RFC 6376 3.4.2, 3.4.4)
 *	  with the 3.4.5 example and edge cases; every canonical body is
 *	  checked to be a fixed point; the cap leaves the buffer unchanged;
 *	- keys: generate, PEM out and back in, the TXT value, refusals on
 *	  load (garbage, short RSA, EC, a passphrase-protected PEM);
 *	- dkim_txt_matches(): success forms and each mismatch reason;
 *	- dkim_sign(): the field's shape (folding at 78 columns, TAB
 *	  continuation lines, one final CRLF), its tags, h= with and without
 *	  over-signing; bh= stable for the same body and different for a
 *	  different one; the signature checked here with OpenSSL's
 *	  EVP_DigestVerify over signed data written out by hand in the table
 *	  (instances bottom-up), so the signer is not checked against itself.
 *
 *	With PH_DKIM_SIGN_DIR set in the environment, test_sign_samples also
 *	writes, for tests/integration/test_dkim_unit.py, <dir>/<name>.eml
 *	(a sample message with an RSA and an Ed25519 DKIM-Signature
 *	prepended, d=example.com, s=rsa2026 and s=ed2026) and the TXT values
 *	<dir>/rsa.txt and <dir>/ed25519.txt; dkimpy verifies them there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "dkim/dkim.h"

#define S(lit) lit, sizeof(lit) - 1 /* a literal with its length */
#define T_TIMESTAMP 1767225600      /* 2026-01-01T00:00:00Z */
#define T_CAP (1024 * 1024)

/* Keys shared by every test: ours and another of each type. */
static struct dkim_key *key_rsa, *key_ed, *other_rsa, *other_ed;

/* The key of an algorithm: ours, or the other one. */
static struct dkim_key *
key_of(enum dkim_alg alg, int other)
{
	if (alg == DKIM_RSA_SHA256)
		return other ? other_rsa : key_rsa;
	return other ? other_ed : key_ed;
}

/* Generate the shared keys once. */
static int
setup_keys(void **state)
{
	char err[256];

	key_rsa = dkim_key_generate(DKIM_RSA_SHA256, err, sizeof(err));
	other_rsa = dkim_key_generate(DKIM_RSA_SHA256, err, sizeof(err));
	key_ed = dkim_key_generate(DKIM_ED25519_SHA256, err, sizeof(err));
	other_ed = dkim_key_generate(DKIM_ED25519_SHA256, err, sizeof(err));
	return key_rsa && other_rsa && key_ed && other_ed ? 0 : -1;
}

/* Free the shared keys. */
static int
teardown_keys(void **state)
{
	dkim_key_free(key_rsa);
	dkim_key_free(other_rsa);
	dkim_key_free(key_ed);
	dkim_key_free(other_ed);
	return 0;
}

/* Fail with a row number and both strings, escaped, unless equal. */
static void
check_bytes(const char *what, size_t row, const char *got, size_t glen, const char *want,
	    size_t wlen)
{
	char g[1024], w[1024];

	if (glen == wlen && memcmp(got, want, wlen) == 0)
		return;
	log_escape(g, sizeof(g), got, glen);
	log_escape(w, sizeof(w), want, wlen);
	fail_msg("%s row %zu: got \"%s\", want \"%s\"", what, row, g, w);
}

/* --- canonicalisation ------------------------------------------------- */

/* Relaxed header canonicalisation (RFC 6376 3.4.2). */
static void
test_canon_header_table(void **state)
{
	static const struct {
		const char *in, *want; /* want NULL: -1 */
	} rows[] = {
		/* RFC 6376 3.4.5 */
		{"A: X\r\n", "a:X\r\n"},
		{"B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n"},
		/* WSP runs, leading and trailing WSP, tabs */
		{"Subject:   hello   world  \r\n", "subject:hello world\r\n"},
		{"X-Tab:\tv1\t\tv2\t\r\n", "x-tab:v1 v2\r\n"},
		{"X: a \t b\r\n", "x:a b\r\n"},
		/* no CRLF at the end: the output still ends in one */
		{"SUBJECT: x", "subject:x\r\n"},
		{"Subject:x\r\n", "subject:x\r\n"},
		/* unfolding: WSP on both sides of a fold is one SP */
		{"To:\r\n a@b,\r\n\t c@d\r\n", "to:a@b, c@d\r\n"},
		{"X: a \r\n b\r\n", "x:a b\r\n"},
		{"X: a\r\n\r\n b\r\n", "x:a b\r\n"},
		/* a CRLF not followed by WSP is removed all the same */
		{"X: a\r\nb\r\n", "x:ab\r\n"},
		/* empty values */
		{"X-Empty:\r\n", "x-empty:\r\n"},
		{"X-Empty:   \r\n", "x-empty:\r\n"},
		{"X-Empty:\r\n \r\n", "x-empty:\r\n"},
		/* WSP before the colon; only the first colon separates */
		{"Mixed-Case-Name \t: v\r\n", "mixed-case-name:v\r\n"},
		{"K: a:b : c\r\n", "k:a:b : c\r\n"},
		{":v\r\n", ":v\r\n"},
		/* 8-bit bytes kept; only ASCII letters are lower-cased */
		{"Subject: Gr\xc3\xbc\xc3\x9f" "e\r\n", "subject:Gr\xc3\xbc\xc3\x9f" "e\r\n"},
		{"\xc3\x84X-Y: v\r\n", "\xc3\x84x-y:v\r\n"},
		/* bare LF and bare CR are not line ends here */
		{"X: a\nb\r\n", "x:a\nb\r\n"},
		{"X: a\rb\r\n", "x:a\rb\r\n"},
		/* the value keeps its case */
		{"DKIM-Signature: v=1; B=AbC\r\n", "dkim-signature:v=1; B=AbC\r\n"},
		/* no colon */
		{"NoColon\r\n", NULL},
		{"", NULL},
	};
	struct buf b;

	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		int r;

		buf_init(&b, T_CAP);
		r = dkim_canon_header_relaxed(rows[i].in, strlen(rows[i].in), &b);
		if (rows[i].want == NULL) {
			if (r != -1 || b.len != 0)
				fail_msg("header row %zu: got %d (len %zu), want -1", i, r, b.len);
		} else {
			if (r != 0)
				fail_msg("header row %zu: got %d, want 0", i, r);
			check_bytes("header", i, b.data, b.len, rows[i].want, strlen(rows[i].want));
		}
		buf_free(&b);
	}
}

/* Relaxed body canonicalisation (RFC 6376 3.4.4), and its fixed point. */
static void
test_canon_body_table(void **state)
{
	static const struct {
		const char *in, *want;
	} rows[] = {
		/* RFC 6376 3.4.5 */
		{" C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n"},
		/* empty bodies canonicalise to nothing */
		{"", ""},
		{"\r\n", ""},
		{"\r\n\r\n\r\n", ""},
		{" \t \r\n\t\r\n", ""},
		{"  ", ""},
		/* plain text */
		{"Hi.\r\n", "Hi.\r\n"},
		/* no final CRLF: as if SMTP had added it */
		{"Hi.", "Hi.\r\n"},
		{"Hi.  \t", "Hi.\r\n"},
		{"a\r\n  ", "a\r\n"},
		{"\r\n\r\nx", "\r\n\r\nx\r\n"},
		/* WSP runs, tabs, leading WSP compressed but kept */
		{"a  b\t\tc \r\n", "a b c\r\n"},
		{"\tlead\r\n", " lead\r\n"},
		{" \t lead and trail \t \r\n", " lead and trail\r\n"},
		/* empty lines inside the body stay, at the end they go */
		{"a\r\n\r\nb\r\n\r\n", "a\r\n\r\nb\r\n"},
		{"a\r\n \r\nb\r\n", "a\r\n\r\nb\r\n"},
		{"a\r\n\t\r\n \r\n", "a\r\n"},
		/* 8-bit text */
		{"Gr\xc3\xbc\xc3\x9f" "e \r\n", "Gr\xc3\xbc\xc3\x9f" "e\r\n"},
		/* bare LF / CR are ordinary bytes */
		{"a\nb\n", "a\nb\n\r\n"},
		{"a \r", "a \r\r\n"},
		{"a \r\r\n", "a \r\r\n"},
		{"a\r\r\n\r\n", "a\r\r\n"},
		/* a dot line is just text (dot-stuffing is the transport's) */
		{".\r\n..\r\n", ".\r\n..\r\n"},
	};
	struct buf b, again;

	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		buf_init(&b, T_CAP);
		buf_init(&again, T_CAP);
		if (dkim_canon_body_relaxed(rows[i].in, strlen(rows[i].in), &b) != 0)
			fail_msg("body row %zu: failed", i);
		check_bytes("body", i, b.data, b.len, rows[i].want, strlen(rows[i].want));
		assert_non_null(b.data);
		if (dkim_canon_body_relaxed(b.data, b.len, &again) != 0)
			fail_msg("body row %zu: second pass failed", i);
		check_bytes("body fixed point", i, again.data, again.len, b.data, b.len);
		buf_free(&b);
		buf_free(&again);
	}
}

/* At the cap both canonicalisers fail and leave the buffer as it was;
 * below it they append after what is there. */
static void
test_canon_cap(void **state)
{
	static const struct {
		int header;
		const char *in;
		size_t cap;
		int want;
		const char *out; /* buffer content afterwards (it starts as "XY") */
	} rows[] = {
		{1, "Subject: hello\r\n", 2 + 15, 0, "XYsubject:hello\r\n"},
		{1, "Subject: hello\r\n", 2 + 14, -1, "XY"},
		{1, "Subject: hello\r\n", 2, -1, "XY"},
		{0, "hello \r\n\r\n", 2 + 7, 0, "XYhello\r\n"},
		{0, "hello \r\n\r\n", 2 + 6, -1, "XY"},
		{0, "\r\n\r\n", 2, 0, "XY"},
		{0, "a\r\n\r\nb\r\n", 2 + 4, -1, "XY"}, /* fails on the held empty line */
	};

	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct buf b;
		int r;

		buf_init(&b, rows[i].cap);
		assert_int_equal(buf_puts(&b, "XY"), 0);
		r = rows[i].header ? dkim_canon_header_relaxed(rows[i].in, strlen(rows[i].in), &b)
				   : dkim_canon_body_relaxed(rows[i].in, strlen(rows[i].in), &b);
		if (r != rows[i].want)
			fail_msg("cap row %zu: got %d, want %d", i, r, rows[i].want);
		check_bytes("cap", i, b.data, b.len, rows[i].out, strlen(rows[i].out));
		buf_free(&b);
	}
}

/* --- keys and TXT records -------------------------------------------- */

/* The p= value of a TXT value we produced (after "p="). */
static const char *
txt_p(const char *txt)
{
	const char *p = strstr(txt, "p=");

	assert_non_null(p);
	return p + 2;
}

/* An OpenSSL EVP_PKEY for one of our keys, through its PEM. */
static EVP_PKEY *
evp_of(const struct dkim_key *k)
{
	struct buf pem;
	EVP_PKEY *pkey;
	BIO *bio;

	buf_init(&pem, T_CAP);
	assert_int_equal(dkim_key_private_pem(k, &pem), 0);
	bio = BIO_new_mem_buf(pem.data, (int)pem.len);
	assert_non_null(bio);
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	assert_non_null(pkey);
	BIO_free(bio);
	buf_free(&pem);
	return pkey;
}

/* Generate, export, reload, publish: for each algorithm. */
static void
test_key_roundtrip(void **state)
{
	static const struct {
		enum dkim_alg alg;
		const char *name, *txt_prefix;
		size_t pub_len; /* decoded p= */
	} rows[] = {
		{DKIM_RSA_SHA256, "rsa-sha256", "v=DKIM1; k=rsa; p=", 294},
		{DKIM_ED25519_SHA256, "ed25519-sha256", "v=DKIM1; k=ed25519; p=", 32},
	};

	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct dkim_key *k = key_of(rows[i].alg, 0), *k2;
		struct buf pem, txt, txt2;
		unsigned char der[1024];
		size_t dlen;
		char err[256] = "", why[256] = "";

		buf_init(&pem, T_CAP);
		buf_init(&txt, T_CAP);
		buf_init(&txt2, T_CAP);
		assert_string_equal(dkim_alg_str(rows[i].alg), rows[i].name);
		assert_int_equal(dkim_key_alg(k), rows[i].alg);
		assert_int_equal(dkim_key_txt(k, &txt), 0);
		assert_true(strncmp(txt.data, rows[i].txt_prefix, strlen(rows[i].txt_prefix)) == 0);
		assert_int_equal(base64_decode(txt_p(txt.data), strlen(txt_p(txt.data)), der,
					       sizeof(der), &dlen),
				 0);
		assert_int_equal(dlen, rows[i].pub_len);
		if (dkim_txt_matches(k, txt.data, why, sizeof(why)) != 0)
			fail_msg("row %zu: own TXT does not match: %s", i, why);

		/* PKCS#8 PEM, unencrypted, and back. */
		assert_int_equal(dkim_key_private_pem(k, &pem), 0);
		assert_true(strncmp(pem.data, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
		k2 = dkim_key_load_pem(pem.data, pem.len, err, sizeof(err));
		if (k2 == NULL)
			fail_msg("row %zu: reload: %s", i, err);
		assert_int_equal(dkim_key_alg(k2), rows[i].alg);
		assert_int_equal(dkim_key_txt(k2, &txt2), 0);
		assert_string_equal(txt.data, txt2.data);
		dkim_key_free(k2);

		/* A cap too small for the TXT: -1, nothing left behind. */
		buf_free(&txt2);
		buf_init(&txt2, txt.len - 1);
		assert_int_equal(dkim_key_txt(k, &txt2), -1);
		assert_int_equal(txt2.len, 0);

		buf_free(&pem);
		buf_free(&txt);
		buf_free(&txt2);
	}
	dkim_key_free(NULL);
}

/* PEM that must be refused, with the reason's key words. */
static void
test_key_load_refused(void **state)
{
	static const struct {
		const char *what, *want; /* PEM source, words in err */
	} rows[] = {
		{"garbage", "no usable private key"},
		{"empty", "PEM key of 0 bytes"},
		{"rsa512", "too short"},
		{"ec", "not usable for DKIM"},
		{"encrypted", "no usable private key"},
	};

	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		char err[256] = "", *pem = NULL;
		long n = 0;
		EVP_PKEY *pkey = NULL;
		BIO *bio = BIO_new(BIO_s_mem());
		struct dkim_key *k;

		assert_non_null(bio);
		if (strcmp(rows[i].what, "garbage") == 0) {
			assert_true(BIO_puts(bio, "-----BEGIN PRIVATE KEY-----\nnot base64\n"
						  "-----END PRIVATE KEY-----\n") > 0);
		} else if (strcmp(rows[i].what, "rsa512") == 0) {
			pkey = EVP_RSA_gen(512);
		} else if (strcmp(rows[i].what, "ec") == 0) {
			pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		} else if (strcmp(rows[i].what, "encrypted") == 0) {
			pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
			assert_non_null(pkey);
			assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, pkey, EVP_aes_128_cbc(),
								       "secret", 6, NULL, NULL),
					 1);
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
		if (pkey) {
			assert_int_equal(
				PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
			EVP_PKEY_free(pkey);
		}
		n = BIO_get_mem_data(bio, &pem);
		k = dkim_key_load_pem(n > 0 ? pem : "", n > 0 ? (size_t)n : 0, err, sizeof(err));
		if (k != NULL || strstr(err, rows[i].want) == NULL)
			fail_msg("row %zu (%s): key %p, err \"%s\", want \"%s\"", i, rows[i].what,
				 (void *)k, err, rows[i].want);
		BIO_free(bio);
		ERR_clear_error();
	}
}

/* Append the base64 of DER made by an i2d function on our key. */
static void
put_der_b64(struct buf *out, const struct dkim_key *k, int pkcs1)
{
	EVP_PKEY *pkey = evp_of(k);
	unsigned char *der = NULL;
	int n = pkcs1 ? i2d_PublicKey(pkey, &der) : i2d_PUBKEY(pkey, &der);

	assert_true(n > 0);
	base64_encode(der, (size_t)n, out);
	OPENSSL_free(der);
	EVP_PKEY_free(pkey);
}

/* A record from a template: %P our p=, %Q another key's p=, %S our p=
 * with folding white space inside, %R our RSA key as PKCS#1
 * RSAPublicKey, %W our key as DER SubjectPublicKeyInfo. */
static void
expand(struct buf *out, const char *tpl, enum dkim_alg alg)
{
	struct buf txt, other;

	buf_init(&txt, T_CAP);
	buf_init(&other, T_CAP);
	assert_int_equal(dkim_key_txt(key_of(alg, 0), &txt), 0);
	assert_int_equal(dkim_key_txt(key_of(alg, 1), &other), 0);
	for (const char *t = tpl; *t; t++) {
		if (t[0] != '%' || t[1] == '\0') {
			assert_int_equal(buf_append(out, t, 1), 0);
			continue;
		}
		switch (*++t) {
		case 'P':
			assert_int_equal(buf_puts(out, txt_p(txt.data)), 0);
			break;
		case 'Q':
			assert_int_equal(buf_puts(out, txt_p(other.data)), 0);
			break;
		case 'S':
			for (const char *p = txt_p(txt.data); *p; p++) {
				assert_int_equal(buf_append(out, p, 1), 0);
				if ((p - txt.data) % 20 == 0)
					assert_int_equal(buf_puts(out, (p - txt.data) % 40 ? " " : "\r\n\t"),
							 0);
			}
			break;
		case 'R':
			put_der_b64(out, key_of(alg, 0), 1);
			break;
		case 'W':
			put_der_b64(out, key_of(alg, 0), 0);
			break;
		default:
			fail_msg("bad template %s", tpl);
		}
	}
	buf_free(&txt);
	buf_free(&other);
}

/* dkim_txt_matches(): accepted forms and every reason. */
static void
test_txt_matches_table(void **state)
{
	static const struct {
		enum dkim_alg alg;
		const char *tpl;
		int want;
		const char *why; /* words in the reason */
	} rows[] = {
		/* accepted */
		{DKIM_RSA_SHA256, "v=DKIM1; k=rsa; p=%P", 0, NULL},
		{DKIM_RSA_SHA256, "v=DKIM1; k=rsa; p=%P;", 0, NULL},
		{DKIM_RSA_SHA256, "k=rsa; p=%P", 0, NULL},
		{DKIM_RSA_SHA256, "p=%P", 0, NULL},
		{DKIM_RSA_SHA256, " v = DKIM1 ;\tk = rsa ; p = %S ; ", 0, NULL},
		{DKIM_RSA_SHA256, "v=DKIM1; h=sha1:sha256; k=rsa; p=%P", 0, NULL},
		{DKIM_RSA_SHA256, "v=DKIM1; h= sha1 : sha256 ; p=%P", 0, NULL},
		{DKIM_RSA_SHA256, "v=DKIM1; s=email; t=y; n=notes here; p=%P", 0, NULL},
		{DKIM_RSA_SHA256, "v=DKIM1; s=*; x_unknown=1; p=%P", 0, NULL},
		{DKIM_RSA_SHA256, "v=DKIM1; k=rsa; p=%R", 0, NULL}, /* PKCS#1 form */
		{DKIM_ED25519_SHA256, "v=DKIM1; k=ed25519; p=%P", 0, NULL},
		{DKIM_ED25519_SHA256, "k=ed25519; p=%S", 0, NULL},
		/* syntax */
		{DKIM_RSA_SHA256, "", -1, "empty"},
		{DKIM_RSA_SHA256, " \t ; ", -1, "empty tag"},
		{DKIM_RSA_SHA256, "v=DKIM1;; p=%P", -1, "empty tag"},
		{DKIM_RSA_SHA256, "\"v=DKIM1; k=rsa; p=%P\"", -1, "without quotes"},
		{DKIM_RSA_SHA256, "v=DKIM1; k rsa; p=%P", -1, "no '='"},
		{DKIM_RSA_SHA256, "v=DKIM1; 1k=rsa; p=%P", -1, "tag name was expected"},
		{DKIM_RSA_SHA256, "v=DKIM1; n=caf\xc3\xa9; p=%P", -1, "byte 0xc3"},
		{DKIM_RSA_SHA256, "v=DKIM1; p=%P; p=%P", -1, "appears twice"},
		/* v= */
		{DKIM_RSA_SHA256, "v=DKIM2; p=%P", -1, "v=DKIM2; a DKIM key record has v=DKIM1"},
		{DKIM_RSA_SHA256, "v=dkim1; p=%P", -1, "has v=dkim1"},
		{DKIM_RSA_SHA256, "k=rsa; v=DKIM1; p=%P", -1, "must be the first tag"},
		/* k= */
		{DKIM_RSA_SHA256, "v=DKIM1; k=ed25519; p=%P", -1,
		 "has k=ed25519 but the key is rsa"},
		{DKIM_ED25519_SHA256, "v=DKIM1; k=rsa; p=%P", -1,
		 "has k=rsa but the key is ed25519"},
		{DKIM_ED25519_SHA256, "v=DKIM1; p=%P", -1,
		 "k=rsa (the default: no k= tag) but the key is ed25519"},
		{DKIM_RSA_SHA256, "v=DKIM1; k=RSA; p=%P", -1, "k=RSA is not a key type"},
		{DKIM_RSA_SHA256, "v=DKIM1; k=dsa; p=%P", -1, "k=dsa is not a key type"},
		/* h=, s= */
		{DKIM_RSA_SHA256, "v=DKIM1; h=sha1; p=%P", -1, "h=sha1 does not allow sha256"},
		{DKIM_RSA_SHA256, "v=DKIM1; h=sha2566; p=%P", -1, "does not allow sha256"},
		{DKIM_RSA_SHA256, "v=DKIM1; s=tlsrpt; p=%P", -1, "s=tlsrpt does not include email"},
		/* p= */
		{DKIM_RSA_SHA256, "v=DKIM1; k=rsa", -1, "no p= tag"},
		{DKIM_RSA_SHA256, "v=DKIM1; k=rsa; p=", -1, "revoked"},
		{DKIM_RSA_SHA256, "v=DKIM1; k=rsa; p= ;", -1, "revoked"},
		{DKIM_RSA_SHA256, "v=DKIM1; p=!!!!", -1, "not valid base64"},
		{DKIM_RSA_SHA256, "v=DKIM1; p=%Pxyz", -1, "not valid base64"},
		{DKIM_RSA_SHA256, "v=DKIM1; p=%Q", -1, "another RSA key"},
		{DKIM_RSA_SHA256, "v=DKIM1; p=AAAA", -1, "does not hold an RSA public key"},
		{DKIM_ED25519_SHA256, "v=DKIM1; k=ed25519; p=%Q", -1, "another Ed25519 key"},
		{DKIM_ED25519_SHA256, "v=DKIM1; k=ed25519; p=AAAA", -1, "3 bytes long"},
		{DKIM_ED25519_SHA256, "v=DKIM1; k=ed25519; p=%W", -1, "raw 32-byte key"},
	};

	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct buf rec;
		char why[512] = "";
		int r;

		buf_init(&rec, T_CAP);
		expand(&rec, rows[i].tpl, rows[i].alg);
		assert_int_equal(buf_append(&rec, "", 0), 0); /* data even when empty */
		r = dkim_txt_matches(key_of(rows[i].alg, 0), rec.data, why, sizeof(why));
		if (r != rows[i].want)
			fail_msg("txt row %zu (%s): got %d (%s), want %d", i, rows[i].tpl, r, why,
				 rows[i].want);
		if (rows[i].why && strstr(why, rows[i].why) == NULL)
			fail_msg("txt row %zu (%s): reason \"%s\" lacks \"%s\"", i, rows[i].tpl, why,
				 rows[i].why);
		buf_free(&rec);
	}
	/* A reason never overflows a short buffer, and NULL is allowed. */
	{
		char why[8];

		assert_int_equal(dkim_txt_matches(key_rsa, "v=DKIM9", why, sizeof(why)), -1);
		assert_int_equal(strlen(why), 7);
		assert_int_equal(dkim_txt_matches(key_rsa, "v=DKIM9", NULL, 0), -1);
	}
}

/* --- signing ---------------------------------------------------------- */

/* Check the folding of a DKIM-Signature field: starts with the name,
 * lines of at most 78 columns (TAB = 8), continuation lines start with
 * a TAB, no empty line, exactly one CRLF at the end. */
static void
check_shape(const char *h, size_t n)
{
	size_t col = 0;

	assert_true(n > 18 && strncmp(h, "DKIM-Signature: v=1;", 20) == 0);
	assert_true(h[n - 2] == '\r' && h[n - 1] == '\n');
	for (size_t i = 0; i < n; i++) {
		if (h[i] == '\r') {
			assert_true(i + 1 < n && h[i + 1] == '\n');
			assert_true(col > 8);
			i++;
			col = 0;
			if (i + 1 < n)
				assert_true(h[i + 1] == '\t');
			continue;
		}
		assert_true(h[i] != '\n');
		col += h[i] == '\t' ? 8 : 1;
		if (col > 78)
			fail_msg("line longer than 78 columns at offset %zu: %.*s", i, (int)n, h);
	}
}

/* The value of tag in a DKIM-Signature field, with all white space
 * removed (none of our values holds any). */
static void
get_tag(const char *h, size_t n, const char *tag, char *out, size_t outlen)
{
	char flat[8192];
	size_t fl = 0, tl = strlen(tag);
	const char *p;

	for (size_t i = strlen("DKIM-Signature:"); i < n; i++)
		if (h[i] != ' ' && h[i] != '\t' && h[i] != '\r' && h[i] != '\n' &&
		    fl < sizeof(flat) - 1)
			flat[fl++] = h[i];
	flat[fl] = '\0';
	out[0] = '\0';
	for (p = flat; p && *p; p = strchr(p, ';'), p = p ? p + 1 : NULL) {
		if (strncmp(p, tag, tl) == 0 && p[tl] == '=') {
			size_t vl = strcspn(p + tl + 1, ";");

			if (vl >= outlen)
				fail_msg("tag %s too long", tag);
			memcpy(out, p + tl + 1, vl);
			out[vl] = '\0';
			return;
		}
	}
	fail_msg("no %s= in %.*s", tag, (int)n, h);
}

/* Sign msg with a key; the field in out (fresh). */
static void
sign(const struct dkim_key *k, const char *msg, size_t len, int oversign, int64_t t,
     struct buf *out)
{
	struct dkim_sign_opts o = {"example.com", "sel", t, oversign};
	char err[256] = "";

	buf_init(out, T_CAP);
	if (dkim_sign(k, &o, msg, len, out, err, sizeof(err)) != 0)
		fail_msg("dkim_sign: %s", err);
	check_shape(out->data, out->len);
}

/* base64 SHA-256 of bytes. */
static void
sha256_b64(const char *p, size_t n, char *out, size_t outlen)
{
	unsigned char md[32];
	unsigned int ml = 0;
	struct buf b;

	assert_int_equal(EVP_Digest(p, n, md, &ml, EVP_sha256(), NULL), 1);
	buf_init(&b, 64);
	base64_encode(md, ml, &b);
	assert_true(b.len < outlen);
	memcpy(out, b.data, b.len + 1);
	buf_free(&b);
}

/* Verify a DKIM-Signature field with OpenSSL over the signed data: the
 * canonical signed header fields (given) and the field itself with b=
 * emptied, canonicalised, without its CRLF (RFC 6376 3.7). */
static int
verify_openssl(const struct dkim_key *k, const char *field, size_t flen, const char *signed_hdrs)
{
	const char *b = NULL;
	struct buf data, sigb64;
	unsigned char sig[1024], md[32];
	unsigned int ml = 0;
	size_t siglen;
	EVP_PKEY *pkey = evp_of(k);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	for (size_t i = 1; i + 1 < flen; i++)
		if (field[i] == 'b' && field[i + 1] == '=' &&
		    (field[i - 1] == ';' || field[i - 1] == ' ' || field[i - 1] == '\t'))
			b = field + i;
	assert_non_null(b);
	buf_init(&data, T_CAP);
	buf_init(&sigb64, T_CAP);
	assert_int_equal(buf_puts(&data, signed_hdrs), 0);
	assert_int_equal(dkim_canon_header_relaxed(field, (size_t)(b + 2 - field), &data), 0);
	data.len -= 2;
	for (const char *p = b + 2; p < field + flen; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			assert_int_equal(buf_append(&sigb64, p, 1), 0);
	assert_int_equal(base64_decode(sigb64.data, sigb64.len, sig, sizeof(sig), &siglen), 0);
	if (dkim_key_alg(k) == DKIM_RSA_SHA256) {
		/* The textbook form: RSASSA-PKCS1-v1_5 with SHA-256 over the data. */
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
		     EVP_DigestVerify(ctx, sig, siglen, (unsigned char *)data.data, data.len) == 1;
	} else {
		/* RFC 8463: Ed25519 over the SHA-256 of the data. */
		assert_int_equal(EVP_Digest(data.data, data.len, md, &ml, EVP_sha256(), NULL), 1);
		ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
		     EVP_DigestVerify(ctx, sig, siglen, md, ml) == 1;
	}
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	buf_free(&data);
	buf_free(&sigb64);
	return ok;
}

#define ALL_HEADERS                                                                        \
	"From: Sender Name <sender@example.com>\r\n"                                       \
	"To: rcpt@example.net\r\n"                                                         \
	"Cc: cc@example.net\r\n"                                                           \
	"Subject: Everything signed\r\n"                                                   \
	"Date: Sun, 22 Nov 2026 15:51:35 +0000\r\n"                                        \
	"Message-ID: <all.1@example.com>\r\n"                                              \
	"Reply-To: reply@example.com\r\n"                                                  \
	"MIME-Version: 1.0\r\n"                                                            \
	"Content-Type: text/plain; charset=utf-8\r\n"                                      \
	"Content-Transfer-Encoding: 8bit\r\n"                                              \
	"In-Reply-To: <prev@example.net>\r\n"                                              \
	"References: <first@example.net>\r\n <prev@example.net>\r\n"                      \
	"List-Unsubscribe: <mailto:unsub@example.com>, <https://example.com/u/1>\r\n"      \
	"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"

/* Sign, check the tags, and verify with OpenSSL against signed data
 * written out by hand: h= order, bottom-up instances, over-signing. */
#define ABSENT_TAIL                                                                      \
	":Reply-To:MIME-Version:Content-Type:Content-Transfer-Encoding:In-Reply-To:"      \
	"References:List-Unsubscribe:List-Unsubscribe-Post"

static void
test_sign_table(void **state)
{
	static const struct {
		const char *msg;
		int oversign;
		const char *h, *signed_hdrs, *canon_body;
	} rows[] = {
		/* with oversign, absent default headers are signed once too (their
		 * null instance): adding one in transit breaks the signature */
		{"From: a@example.com\r\n\r\nHi\r\n", 0, "From", "from:a@example.com\r\n", "Hi\r\n"},
		{"From: a@example.com\r\n\r\nHi\r\n", 1,
		 "From:From:To:Cc:Subject:Date:Message-ID" ABSENT_TAIL, "from:a@example.com\r\n",
		 "Hi\r\n"},
		/* repeated To: bottom-up; unsigned headers left out; unfolding */
		{"Received: from x\r\nFrom: A <a@x.example>\r\nTo: b@y.example\r\nX-Mailer: t\r\n"
		 "To:  c@z.example\r\nSubject:  Hi \r\n there\r\n\r\n  body  text \r\n\r\n\r\n",
		 1, "From:From:To:To:To:Cc:Subject:Subject:Date:Message-ID" ABSENT_TAIL,
		 "from:A <a@x.example>\r\nto:c@z.example\r\nto:b@y.example\r\nsubject:Hi there\r\n",
		 " body text\r\n"},
		{"Received: from x\r\nFrom: A <a@x.example>\r\nTo: b@y.example\r\nX-Mailer: t\r\n"
		 "To:  c@z.example\r\nSubject:  Hi \r\n there\r\n\r\n  body  text \r\n\r\n\r\n",
		 0, "From:To:To:Subject",
		 "from:A <a@x.example>\r\nto:c@z.example\r\nto:b@y.example\r\nsubject:Hi there\r\n",
		 " body text\r\n"},
		/* names in any case; no empty line: no body */
		{"FROM: a@example.com\r\nsubject: s\r\n", 1,
		 "From:From:To:Cc:Subject:Subject:Date:Message-ID" ABSENT_TAIL,
		 "from:a@example.com\r\nsubject:s\r\n", ""},
		/* empty body, CRLF-only body */
		{"From: a@example.com\r\n\r\n", 0, "From", "from:a@example.com\r\n", ""},
		{"From: a@example.com\r\n\r\n\r\n\r\n", 0, "From", "from:a@example.com\r\n", ""},
		/* no final CRLF */
		{"From: a@example.com\r\n\r\nend", 0, "From", "from:a@example.com\r\n", "end\r\n"},
		/* the header section ends at the first empty line */
		{"From: a@example.com\r\n\r\nSubject: not a header\r\n", 1,
		 "From:From:To:Cc:Subject:Date:Message-ID" ABSENT_TAIL,
		 "from:a@example.com\r\n", "Subject: not a header\r\n"},
		/* every default header: a long h= folded across lines */
		{ALL_HEADERS "\r\nbody\r\n", 1,
		 "From:From:To:To:Cc:Cc:Subject:Subject:Date:Date:Message-ID:Message-ID:Reply-To:"
		 "Reply-To:MIME-Version:MIME-Version:Content-Type:Content-Type:Content-Transfer-"
		 "Encoding:Content-Transfer-Encoding:In-Reply-To:In-Reply-To:References:References:"
		 "List-Unsubscribe:List-Unsubscribe:List-Unsubscribe-Post:List-Unsubscribe-Post",
		 "from:Sender Name <sender@example.com>\r\nto:rcpt@example.net\r\n"
		 "cc:cc@example.net\r\nsubject:Everything signed\r\n"
		 "date:Sun, 22 Nov 2026 15:51:35 +0000\r\nmessage-id:<all.1@example.com>\r\n"
		 "reply-to:reply@example.com\r\nmime-version:1.0\r\n"
		 "content-type:text/plain; charset=utf-8\r\ncontent-transfer-encoding:8bit\r\n"
		 "in-reply-to:<prev@example.net>\r\n"
		 "references:<first@example.net> <prev@example.net>\r\n"
		 "list-unsubscribe:<mailto:unsub@example.com>, <https://example.com/u/1>\r\n"
		 "list-unsubscribe-post:List-Unsubscribe=One-Click\r\n",
		 "body\r\n"},
	};
	static const enum dkim_alg algs[] = {DKIM_RSA_SHA256, DKIM_ED25519_SHA256};

	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		for (size_t a = 0; a < PH_ARRAY_LEN(algs); a++) {
			const struct dkim_key *k = key_of(algs[a], 0);
			char v[2048], bh[64];
			unsigned char raw[1024];
			size_t rl;
			struct buf out;

			sign(k, rows[i].msg, strlen(rows[i].msg), rows[i].oversign, T_TIMESTAMP,
			     &out);
			get_tag(out.data, out.len, "v", v, sizeof(v));
			assert_string_equal(v, "1");
			get_tag(out.data, out.len, "a", v, sizeof(v));
			assert_string_equal(v, dkim_alg_str(algs[a]));
			get_tag(out.data, out.len, "c", v, sizeof(v));
			assert_string_equal(v, "relaxed/relaxed");
			get_tag(out.data, out.len, "d", v, sizeof(v));
			assert_string_equal(v, "example.com");
			get_tag(out.data, out.len, "s", v, sizeof(v));
			assert_string_equal(v, "sel");
			get_tag(out.data, out.len, "t", v, sizeof(v));
			assert_string_equal(v, "1767225600");
			get_tag(out.data, out.len, "h", v, sizeof(v));
			if (strcmp(v, rows[i].h) != 0)
				fail_msg("row %zu: h=%s, want %s", i, v, rows[i].h);
			get_tag(out.data, out.len, "bh", v, sizeof(v));
			sha256_b64(rows[i].canon_body, strlen(rows[i].canon_body), bh, sizeof(bh));
			if (strcmp(v, bh) != 0)
				fail_msg("row %zu: bh=%s, want %s", i, v, bh);
			get_tag(out.data, out.len, "b", v, sizeof(v));
			assert_int_equal(base64_decode(v, strlen(v), raw, sizeof(raw), &rl), 0);
			assert_int_equal(rl, algs[a] == DKIM_RSA_SHA256 ? 256 : 64);
			if (!verify_openssl(k, out.data, out.len, rows[i].signed_hdrs))
				fail_msg("row %zu %s: signature does not verify:\n%s", i,
					 dkim_alg_str(algs[a]), out.data);
			/* ... and not against other signed data. */
			assert_false(verify_openssl(k, out.data, out.len, "from:x@example.com\r\n"));
			buf_free(&out);
		}
	}
}

/* The empty body's hash is SHA-256 of nothing, and t=0 leaves t= out. */
static void
test_sign_empty_body_no_t(void **state)
{
	static const char msg[] = "From: a@example.com\r\n\r\n";
	struct buf out;

	sign(key_ed, S(msg), 0, 0, &out);
	assert_non_null(strstr(out.data, "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;"));
	assert_null(strstr(out.data, " t="));
	buf_free(&out);
}

/* bh= is the same for bodies equal after canonicalisation, different
 * otherwise; with t fixed the whole field repeats (both algorithms
 * sign deterministically). */
static void
test_sign_bh_table(void **state)
{
	static const struct {
		const char *body_a, *body_b;
		int same;
	} rows[] = {
		{"Hello\r\n", "Hello\r\n", 1},
		{"Hello\r\n", "Hello  \r\n\r\n\r\n", 1},
		{"Hello  world\r\n", "Hello\tworld\r\n", 1},
		{"Hello\r\n", "Hello", 1},
		{"", "\r\n", 1},
		{"Hello\r\n", "Hellp\r\n", 0},
		{"Hello\r\n", "Hello\r\n.\r\n", 0},
		{"Hello world\r\n", "Helloworld\r\n", 0},
		{"\r\nHello\r\n", "Hello\r\n", 0},
		{"", "x", 0},
	};

	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		for (int ed = 0; ed <= 1; ed++) {
			const struct dkim_key *k = ed ? key_ed : key_rsa;
			struct buf ma, mb, sa, sb, sa2;
			char bha[64], bhb[64];

			buf_init(&ma, T_CAP);
			buf_init(&mb, T_CAP);
			assert_int_equal(buf_printf(&ma, "From: a@example.com\r\nSubject: s\r\n\r\n%s",
						    rows[i].body_a),
					 0);
			assert_int_equal(buf_printf(&mb, "From: a@example.com\r\nSubject: s\r\n\r\n%s",
						    rows[i].body_b),
					 0);
			sign(k, ma.data, ma.len, 1, T_TIMESTAMP, &sa);
			sign(k, ma.data, ma.len, 1, T_TIMESTAMP, &sa2);
			sign(k, mb.data, mb.len, 1, T_TIMESTAMP, &sb);
			assert_string_equal(sa.data, sa2.data);
			get_tag(sa.data, sa.len, "bh", bha, sizeof(bha));
			get_tag(sb.data, sb.len, "bh", bhb, sizeof(bhb));
			if ((strcmp(bha, bhb) == 0) != rows[i].same)
				fail_msg("bh row %zu: %s vs %s, want %s", i, bha, bhb,
					 rows[i].same ? "same" : "different");
			buf_free(&ma);
			buf_free(&mb);
			buf_free(&sa);
			buf_free(&sa2);
			buf_free(&sb);
		}
	}
}

/* Refusals: no From, bad d=/s=, an output cap too small, bare LF. */
static void
test_sign_errors(void **state)
{
	static const struct {
		const char *msg, *domain, *selector;
		int64_t t;
		size_t cap;
		const char *why;
	} rows[] = {
		{"Subject: x\r\n\r\nbody\r\n", "example.com", "sel", 0, T_CAP, "no From:"},
		{"X-From: a@b\r\n\r\n", "example.com", "sel", 0, T_CAP, "no From:"},
		{"Subject: x\r\n\r\nFrom: a@b\r\n", "example.com", "sel", 0, T_CAP, "no From:"},
		{"", "example.com", "sel", 0, T_CAP, "no From:"},
		{"From: a@b\r\n\r\n", "exa mple.com", "sel", 0, T_CAP, "domain or selector"},
		{"From: a@b\r\n\r\n", "example.com", "s;h=x", 0, T_CAP, "domain or selector"},
		{"From: a@b\r\n\r\n", "", "sel", 0, T_CAP, "domain or selector"},
		{"From: a@b\r\n\r\n", NULL, "sel", 0, T_CAP, "domain or selector"},
		{"From: a@b\r\n\r\n", "example.com.", "sel", 0, T_CAP, "domain or selector"},
		{"From: a@b\r\n\r\n", "example.com", "sel", -1, T_CAP, "negative"},
		{"From: a@b\r\n\r\n", "example.com", "sel", 0, 100, "does not fit"},
		/* bare LF, in the header section or in the body */
		{"From: a@b\nSubject: x\n\nbody\n", "example.com", "sel", 0, T_CAP,
		 "bare LF at offset 9"},
		{"From: a@b\r\n\r\nline\nline\r\n", "example.com", "sel", 0, T_CAP,
		 "bare LF at offset 17"},
		{"\n", "example.com", "sel", 0, T_CAP, "bare LF at offset 0"},
	};

	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct dkim_sign_opts o = {rows[i].domain, rows[i].selector, rows[i].t, 1};
		char err[256] = "";
		struct buf out;

		buf_init(&out, rows[i].cap);
		if (dkim_sign(key_ed, &o, rows[i].msg, strlen(rows[i].msg), &out, err,
			      sizeof(err)) != -1 ||
		    strstr(err, rows[i].why) == NULL || out.len != 0)
			fail_msg("error row %zu: err \"%s\", want \"%s\", len %zu", i, err,
				 rows[i].why, out.len);
		buf_free(&out);
	}
}

/* --- samples for dkimpy ------------------------------------------------ */

#define SAMPLE_HEAD                                        \
	"From: Sender <sender@example.com>\r\n"            \
	"To: rcpt@example.net\r\n"                         \
	"Date: Sun, 22 Nov 2026 15:51:35 +0000\r\n"        \
	"MIME-Version: 1.0\r\n"

static const struct {
	const char *name, *msg;
} samples[] = {
	{"plain", SAMPLE_HEAD "Subject: Plain\r\nMessage-ID: <plain@example.com>\r\n"
			      "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
			      "Hello,\r\n\r\nthis is a plain message.\r\n"},
	{"eightbit", SAMPLE_HEAD "Subject: Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln\r\n"
				 "Message-ID: <8bit@example.com>\r\n"
				 "Content-Type: text/plain; charset=utf-8\r\n"
				 "Content-Transfer-Encoding: 8bit\r\n\r\n"
				 "Gr\xc3\xbc\xc3\x9f" "e, J\xc3\xbcrgen!\r\n"
				 "Stra\xc3\x9f" "e \xe2\x82\xac 5\r\n\xf0\x9f\x93\xa7\r\n"},
	{"longheaders",
	 SAMPLE_HEAD
	 "Subject: A very long subject line that goes on and on, well past the seventy-eight\r\n"
	 " column limit of RFC 5322, so that it has to be folded over several lines,\r\n"
	 "\tand even uses a tab for one of its continuation lines\r\n"
	 "Message-ID: <long@example.com>\r\n"
	 "References: <a1@example.net> <a2@example.net> <a3@example.net>\r\n"
	 "  <a4@example.net>\r\n\t<a5@example.net>   <a6@example.net>\r\n"
	 "In-Reply-To: <a6@example.net>\r\n"
	 "Cc: one@example.net, two@example.net, three@example.net, four@example.net,\r\n"
	 " five@example.net\r\n\r\nBody.\r\n"},
	{"trailingblank", SAMPLE_HEAD "Subject: Trailing blank lines\r\n\r\n"
				      "Line 1\r\nLine 2   \r\n\r\n \t \r\n\r\n\r\n"},
	{"crlfonly", SAMPLE_HEAD "Subject: CRLF only\r\n\r\n\r\n"},
	{"crlfmany", SAMPLE_HEAD "Subject: CRLFs only\r\n\r\n\r\n\r\n\r\n"},
	{"empty", SAMPLE_HEAD "Subject: Empty body\r\n\r\n"},
	{"noblank", SAMPLE_HEAD "Subject: No empty line, no body\r\n"},
	{"repeated", "Received: from a by b; Sun, 22 Nov 2026 15:51:30 +0000\r\n"
		     "Received: from c by a; Sun, 22 Nov 2026 15:51:29 +0000\r\n" SAMPLE_HEAD
		     "To: second@example.net\r\nCc: c1@example.net\r\n"
		     "Subject: Repeated headers\r\nCc: c2@example.net\r\n"
		     "X-Custom: 1\r\nX-Custom: 2\r\n\r\nBody\r\n"},
	{"oversign", "From: Sender <sender@example.com>\r\n"
		     "To: rcpt@example.net\r\nCc: cc@example.net\r\n"
		     "Subject: Every default header\r\n"
		     "Date: Sun, 22 Nov 2026 15:51:35 +0000\r\n"
		     "Message-ID: <over@example.com>\r\nReply-To: reply@example.com\r\n"
		     "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
		     "Content-Transfer-Encoding: quoted-printable\r\n"
		     "In-Reply-To: <prev@example.net>\r\nReferences: <prev@example.net>\r\n"
		     "List-Unsubscribe: <https://example.com/u/1>\r\n"
		     "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\n"
		     "Caf=C3=A9\r\n"},
	/* (dkimpy refuses the obsolete "Name :" form: test_canon_header_table
	 * has it) */
	{"whitespace", "from:lower@example.com\r\nTO:  rcpt@example.net  \r\n"
		       "Subject:   lots \t of\t\tspace   \r\n\r\n"
		       "  leading\r\n\ttab\tinside\t\r\ntrailing   \r\n \r\nlast\r\n"},
	{"nofinalcrlf", SAMPLE_HEAD "Subject: No final CRLF\r\n\r\nno newline at the end"},
	{"mime", SAMPLE_HEAD "Subject: MIME\r\nContent-Type: multipart/alternative;\r\n"
			     "\tboundary=\"b1\"\r\n\r\n"
			     "--b1\r\nContent-Type: text/plain\r\n\r\ntext\r\n"
			     "--b1\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--b1--\r\n"},
};

/* Write a file, all of it. */
static void
write_file(const char *dir, const char *name, const char *p, size_t n)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	if (fp == NULL)
		fail_msg("cannot write %s", path);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
}

/* Sign every sample with both keys; with PH_DKIM_SIGN_DIR, write them
 * out with the TXT values for dkimpy. */
static void
test_sign_samples(void **state)
{
	const char *dir = getenv("PH_DKIM_SIGN_DIR");
	struct buf txt;

	for (size_t i = 0; i < PH_ARRAY_LEN(samples); i++) {
		struct dkim_sign_opts ro = {"example.com", "rsa2026", T_TIMESTAMP, 1};
		struct dkim_sign_opts eo = {"example.com", "ed2026", T_TIMESTAMP, 1};
		char err[256] = "", name[128];
		struct buf eml;

		buf_init(&eml, T_CAP);
		if (dkim_sign(key_rsa, &ro, samples[i].msg, strlen(samples[i].msg), &eml, err,
			      sizeof(err)) != 0 ||
		    dkim_sign(key_ed, &eo, samples[i].msg, strlen(samples[i].msg), &eml, err,
			      sizeof(err)) != 0)
			fail_msg("sample %s: %s", samples[i].name, err);
		assert_int_equal(buf_puts(&eml, samples[i].msg), 0);
		if (dir) {
			snprintf(name, sizeof(name), "%s.eml", samples[i].name);
			write_file(dir, name, eml.data, eml.len);
		}
		buf_free(&eml);
	}
	if (dir == NULL)
		return;
	buf_init(&txt, T_CAP);
	assert_int_equal(dkim_key_txt(key_rsa, &txt), 0);
	write_file(dir, "rsa.txt", txt.data, txt.len);
	buf_reset(&txt);
	assert_int_equal(dkim_key_txt(key_ed, &txt), 0);
	write_file(dir, "ed25519.txt", txt.data, txt.len);
	buf_free(&txt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canon_header_table),
		cmocka_unit_test(test_canon_body_table),
		cmocka_unit_test(test_canon_cap),
		cmocka_unit_test(test_key_roundtrip),
		cmocka_unit_test(test_key_load_refused),
		cmocka_unit_test(test_txt_matches_table),
		cmocka_unit_test(test_sign_table),
		cmocka_unit_test(test_sign_empty_body_no_t),
		cmocka_unit_test(test_sign_bh_table),
		cmocka_unit_test(test_sign_errors),
		cmocka_unit_test(test_sign_samples),
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
