/* A reusable HMAC context for a run of HKDF steps (RFC 5869) and the
 * profile's HKDF-Expand-Label (section 8.3), for the key schedule and the
 * traffic keys. Each one-shot httpa_hkdf_* call makes and keys a context of
 * its own; keying costs two hash blocks, more than a short expansion, so a
 * run that expands one secret several times keys once. Free of OpenSSL
 * types, so the engine may include it. Not for concurrent use. */
#ifndef HTTPA_CRYPTO_KDF_H
#define HTTPA_CRYPTO_KDF_H

#include "httpa/crypto.h"

typedef struct httpa_kdf {
    httpa_hash_alg hash;
    size_t hlen;
    void *mac;   /* EVP_MAC_CTX: HMAC keyed with the current secret */
} httpa_kdf;

httpa_err httpa_kdf_init(httpa_kdf *k, httpa_hash_alg h) HTTPA_MUST_USE;
/* Frees the context, which wipes the key; safe after a failed init. */
void httpa_kdf_clear(httpa_kdf *k);

/* HKDF-Extract: out = HMAC(salt, ikm), Hlen octets (an empty salt is Hlen
 * zero octets). Leaves the context keyed with the salt. */
httpa_err httpa_kdf_extract(httpa_kdf *k, httpa_span salt, httpa_span ikm,
                            uint8_t *out) HTTPA_MUST_USE;

/* Key the context with `secret` for the expansions that follow. */
httpa_err httpa_kdf_key(httpa_kdf *k, httpa_span secret) HTTPA_MUST_USE;

/* HKDF-Expand (any L up to 255 Hlen) and HKDF-Expand-Label under the key. */
httpa_err httpa_kdf_expand(httpa_kdf *k, httpa_span info, uint8_t *out,
                           size_t out_len) HTTPA_MUST_USE;
httpa_err httpa_kdf_expand_label(httpa_kdf *k, const char *label, httpa_span context,
                                 uint8_t *out, size_t out_len) HTTPA_MUST_USE;

#endif
