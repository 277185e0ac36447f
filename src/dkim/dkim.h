/*
 * NAME
 *	dkim - DKIM keys and signing (RFC 6376, RFC 8463) with OpenSSL
 * DESCRIPTION
 *	Keys: RSA-2048 (rsa-sha256) and Ed25519 (ed25519-sha256), generated
 *	here, stored as PEM, published as the TXT value
 *	"v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>" (RSA) or
 *	"v=DKIM1; k=ed25519; p=<base64 of the raw 32-byte key>" (RFC 8463).
 *
 *	dkim_sign() signs a whole message (CRLF line ends, as it will be
 *	sent) with relaxed/relaxed canonicalisation (RFC 6376 3.4.2 and
 *	3.4.4), the body hash over the whole body (no l=), and returns the
 *	DKIM-Signature header field to prepend, folded at 78 columns and
 *	ending in CRLF. h= lists the signed headers that are present, and,
 *	with oversign, every name of the list once more (absent ones too), so
 *	that such a header added in transit breaks the signature (RFC 6376
 *	8.15). Pure: no I/O.
 */
#ifndef PH_DKIM_H
#define PH_DKIM_H

#include <stddef.h>
#include <stdint.h>

#include "lib/lib.h"

enum dkim_alg { DKIM_RSA_SHA256, DKIM_ED25519_SHA256 };
const char *dkim_alg_str(enum dkim_alg a); /* "rsa-sha256", "ed25519-sha256" */

struct dkim_key;

struct dkim_key *dkim_key_generate(enum dkim_alg alg, char *err, size_t errlen);
struct dkim_key *dkim_key_load_pem(const char *pem, size_t len, char *err, size_t errlen);
enum dkim_alg dkim_key_alg(const struct dkim_key *k);
int dkim_key_private_pem(const struct dkim_key *k, struct buf *out) PH_WUR;
/* The TXT record value to publish at SELECTOR._domainkey.DOMAIN. */
int dkim_key_txt(const struct dkim_key *k, struct buf *out) PH_WUR;
/* Does a published TXT value (strings already joined) carry this key?
 * 0 when it does; -1 with a reason a customer can act on ("the record
 * has k=rsa but the key is ed25519", "p= differs", "no v=DKIM1" ...). */
int dkim_txt_matches(const struct dkim_key *k, const char *txt, char *why, size_t whylen);
void dkim_key_free(struct dkim_key *k);

/* Headers signed by default (and over-signed): RFC 6376 5.4.1's advice. */
#define DKIM_DEFAULT_HEADERS                                                              \
	"From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "MIME-Version",  \
		"Content-Type", "Content-Transfer-Encoding", "In-Reply-To", "References", \
		"List-Unsubscribe", "List-Unsubscribe-Post"

struct dkim_sign_opts {
	const char *domain;   /* d= */
	const char *selector; /* s= */
	int64_t timestamp;    /* t= (seconds), 0 to omit */
	int oversign;
};

int dkim_sign(const struct dkim_key *k, const struct dkim_sign_opts *o, const char *msg,
	      size_t len, struct buf *out_header, char *err, size_t errlen) PH_WUR;

/* Exposed for unit tests: relaxed canonicalisation of a header field
 * (name and value as they appear, with CRLF) and of a body. */
int dkim_canon_header_relaxed(const char *field, size_t len, struct buf *out) PH_WUR;
int dkim_canon_body_relaxed(const char *body, size_t len, struct buf *out) PH_WUR;

#endif
