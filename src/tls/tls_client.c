/*
 * NAME
 *	tls_client - outbound TLS for delivery sessions
 * DESCRIPTION
 *	Opportunistic (RFC 3207, RFC 7435): the handshake verifies the
 *	chain against the system's trust store (plus tls_ca_file) and the
 *	MX host name, and the result is recorded as evidence; delivery goes
 *	on when it fails. Enforcement (MTA-STS, DANE) comes later.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "lib/lib.h"
#include "tls/tls_int.h"

static int
tls_client_verify(int ok, X509_STORE_CTX *x)
{
	return 1; /* record, do not enforce: the result is read after the handshake */
}

struct tls_ctx *
tls_ctx_new_client(const char *ca_file, char *err, size_t errlen)
{
	struct tls_ctx *t = xcalloc(1, sizeof(*t));

	t->ctx = SSL_CTX_new(TLS_client_method());
	if (t->ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	SSL_CTX_set_default_verify_paths(t->ctx);
	if (ca_file && SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL) != 1)
		goto fail;
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, tls_client_verify);
	return t;
fail:
	{
		char e[256];

		ERR_error_string_n(ERR_get_error(), e, sizeof(e));
		snprintf(err, errlen, "TLS client context%s%s: %s", ca_file ? " " : "",
			 ca_file ? ca_file : "", e);
	}
	tls_ctx_free(t);
	return NULL;
}

SSL *
tls_client_ssl(struct tls_ctx *t, const char *host)
{
	SSL *ssl = SSL_new(t->ctx);

	if (ssl == NULL)
		return NULL;
	SSL_set_tlsext_host_name(ssl, host);
	SSL_set1_host(ssl, host);
	return ssl;
}

void
tls_peer_info(SSL *ssl, struct tls_peer *out)
{
	X509 *peer = SSL_get1_peer_certificate(ssl);
	long v = SSL_get_verify_result(ssl);

	memset(out, 0, sizeof(*out));
	snprintf(out->version, sizeof(out->version), "%s", SSL_get_version(ssl));
	snprintf(out->cipher, sizeof(out->cipher), "%s", SSL_get_cipher_name(ssl));
	out->verified = peer != NULL && v == X509_V_OK;
	snprintf(out->verify_error, sizeof(out->verify_error), "%s",
		 peer ? X509_verify_cert_error_string(v) : "no peer certificate");
	if (peer) {
		X509_NAME_oneline(X509_get_subject_name(peer), out->subject, sizeof(out->subject));
		X509_free(peer);
	}
}
