/*
 * NAME
 *	tls_server - server-side TLS context and the self-signed fallback
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/lib.h"
#include "tls/tls_int.h"

static void
tls_err(char *err, size_t errlen, const char *what)
{
	char e[256];

	ERR_error_string_n(ERR_get_error(), e, sizeof(e));
	snprintf(err, errlen, "%s: %s", what, e);
}

/* Write a self-signed ECDSA P-256 certificate for hostname. */
static int
tls_make_self_signed(const char *crt, const char *key, const char *hostname, char *err,
		     size_t errlen)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *nm;
	FILE *fp = NULL;
	int rc = -1, fd;
	unsigned char serial[16];

	if (pk == NULL || x == NULL) {
		tls_err(err, errlen, "self-signed certificate");
		goto out;
	}
	X509_set_version(x, 2);
	rand_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	{
		BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);

		BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
		BN_free(bn);
	}
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400);
	X509_set_pubkey(x, pk);
	nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)hostname, -1, -1,
				   0);
	X509_set_issuer_name(x, nm);
	if (X509_sign(x, pk, EVP_sha256()) == 0) {
		tls_err(err, errlen, "self-signed certificate");
		goto out;
	}
	fd = open(key, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (fp = fdopen(fd, "w")) == NULL ||
	    !PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL) || fclose(fp) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", key, strerror(errno));
		fp = NULL;
		goto out;
	}
	if ((fp = fopen(crt, "w")) == NULL || !PEM_write_X509(fp, x) || fclose(fp) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", crt, strerror(errno));
		fp = NULL;
		goto out;
	}
	fp = NULL;
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc;
}

struct tls_ctx *
tls_ctx_new_server(const char *cert, const char *key, const char *data_dir,
		   const char *hostname, unsigned uid, unsigned gid, char *err, size_t errlen)
{
	struct tls_ctx *t = xcalloc(1, sizeof(*t));
	char *dir = NULL, *gcrt = NULL, *gkey = NULL;

	t->ctx = SSL_CTX_new(TLS_server_method());
	if (t->ctx == NULL) {
		tls_err(err, errlen, "TLS context");
		goto fail;
	}
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_session_id_context(t->ctx, (const unsigned char *)"posthaste", 9);
	if (cert == NULL) {
		dir = xasprintf("%s/tls", data_dir);
		gcrt = xasprintf("%s/self-signed.crt", dir);
		gkey = xasprintf("%s/self-signed.key", dir);
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
			goto fail;
		}
		if (access(gcrt, R_OK) < 0 || access(gkey, R_OK) < 0) {
			if (tls_make_self_signed(gcrt, gkey, hostname, err, errlen) < 0)
				goto fail;
			log_warn("tls generated self-signed certificate cert=%s cn=%s (set tls_cert "
				 "and tls_key for a real one)",
				 gcrt, hostname);
		} else {
			log_info("tls using self-signed certificate cert=%s", gcrt);
		}
		if (uid != (unsigned)-1 &&
		    (chown(dir, uid, gid) < 0 || chown(gcrt, uid, gid) < 0 ||
		     chown(gkey, uid, gid) < 0)) {
			snprintf(err, errlen, "cannot chown %s: %s", dir, strerror(errno));
			goto fail;
		}
		cert = gcrt;
		key = gkey;
	}
	if (SSL_CTX_use_certificate_chain_file(t->ctx, cert) != 1) {
		tls_err(err, errlen, cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(t->ctx) != 1) {
		tls_err(err, errlen, key);
		goto fail;
	}
	free(dir);
	free(gcrt);
	free(gkey);
	return t;
fail:
	free(dir);
	free(gcrt);
	free(gkey);
	tls_ctx_free(t);
	return NULL;
}

SSL *
tls_ssl_new(struct tls_ctx *t)
{
	return SSL_new(t->ctx);
}

void
tls_ctx_free(struct tls_ctx *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}
