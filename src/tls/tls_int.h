/* tls_int.h - shared by the tls module's own files only */
#ifndef PH_TLS_INT_H
#define PH_TLS_INT_H

#include "tls/tls.h"

struct tls_ctx {
	SSL_CTX *ctx;
};

#endif
