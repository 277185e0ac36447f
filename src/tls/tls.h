/*
 * NAME
 *	tls - OpenSSL contexts for the listeners (and later outbound)
 * DESCRIPTION
 *	tls_ctx_new_server() loads a certificate and key, or, when none is
 *	configured, generates a self-signed pair (ECDSA P-256, 10 years) in
 *	DATA_DIR/tls/ on first start and says so in the log. TLS 1.2 is the
 *	minimum.
 */
#ifndef PH_TLS_H
#define PH_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

struct tls_ctx;

/* uid == (unsigned)-1: do not chown generated files. */
struct tls_ctx *tls_ctx_new_server(const char *cert, const char *key, const char *data_dir,
				   const char *hostname, unsigned uid, unsigned gid, char *err,
				   size_t errlen);
SSL *tls_ssl_new(struct tls_ctx *t);

/* Outbound: opportunistic TLS (RFC 3207) whose certificate check is
 * recorded, not enforced. ca_file adds trust anchors to the system's
 * (tests use their own CA). */
struct tls_ctx *tls_ctx_new_client(const char *ca_file, char *err, size_t errlen);
/* A client SSL that checks the certificate against host (SNI too). */
SSL *tls_client_ssl(struct tls_ctx *t, const char *host);
struct tls_peer {
	char version[16];
	char cipher[64];
	int verified;        /* chain and host name both check out */
	char verify_error[96];
	char subject[256];   /* peer certificate subject, one line */
};
void tls_peer_info(SSL *ssl, struct tls_peer *out);
void tls_ctx_free(struct tls_ctx *t);

#endif
