/* Glue shared by the files of src/crypto: the algorithm handles fetched
 * once, OpenSSL error mapping and the EVP_PKEY constructors used by both
 * kex.c and sig.c. Never included outside src/crypto. */
#ifndef HTTPA_CRYPTO_OSSL_H
#define HTTPA_CRYPTO_OSSL_H

#include <openssl/evp.h>

#include "httpa/crypto.h"

/* What OpenSSL 3 would otherwise look up by name on every EVP_MD, EVP_MAC,
 * EVP_CIPHER or key-import call: each implicit fetch walks the provider
 * store under a lock and compares names, which cost more than the hashing
 * or AEAD work of a whole TrT. Filled once per process (pthread_once) and
 * never modified afterwards, so it is not mutable state: threads only read
 * it, and the objects are only ever copied or referenced (EVP_MAC_CTX_dup,
 * EVP_PKEY_dup, EVP_PKEY_CTX_new_from_pkey, EVP_PKEY_derive_set_peer_ex),
 * never used for an operation themselves, which OpenSSL allows from many
 * threads at once. Never freed: it lives as long as the process. */
typedef struct httpa_ossl_algs {
    EVP_MD *md[3];              /* by httpa_hash_alg */
    EVP_MAC_CTX *hmac[3];       /* HMAC with that digest, empty key: dup, then re-key */
    EVP_CIPHER *cipher[3];      /* by httpa_aead_alg */
    EVP_PKEY *x25519_base;      /* the X25519 public key u = 9 (the base point) */
} httpa_ossl_algs;

/* The handles (NULL only if pthread_once fails); a handle OpenSSL could not
 * provide is NULL, and its users fail with HTTPA_ERR_LIBRARY. */
const httpa_ossl_algs *httpa__algs(void);

/* The fetched digest of `h`, or NULL. */
const EVP_MD *httpa__md(httpa_hash_alg h);

/* A fresh HMAC context for `h` (from the template: no fetch), keyed with
 * `key`; NULL on failure. Free with EVP_MAC_CTX_free. */
EVP_MAC_CTX *httpa__hmac_new(httpa_hash_alg h, httpa_span key);

/* Clear this thread's OpenSSL error queue (the detail never reaches a peer)
 * and return `e`. Every OpenSSL failure goes through here. */
httpa_err httpa__ossl_error(httpa_err e);

/* A pointer OpenSSL accepts for `s`, even when s is empty with a NULL base:
 * several EVP calls treat a NULL key or salt as "not set". */
const uint8_t *httpa__span_ptr(httpa_span s);

/* X25519 or Ed25519 key (`alg` "X25519" or "ED25519") from a 32-octet private
 * key, or fresh when priv is NULL; writes the 32-octet public key. */
httpa_err httpa__raw_keypair(const char *alg, const uint8_t *priv, EVP_PKEY **out,
                             uint8_t pub[32]) HTTPA_MUST_USE;

/* P-256 key from a 32-octet big-endian scalar (HTTPA_ERR_INVALID_ARG unless
 * 0 < d < n), or fresh when d is NULL; writes the 65-octet uncompressed point. */
httpa_err httpa__p256_keypair(const uint8_t *d, EVP_PKEY **out, uint8_t pub[65]) HTTPA_MUST_USE;

/* P-256 public key from an uncompressed point; HTTPA_ERR_BAD_REQUEST unless it
 * is 65 octets, 0x04 || X || Y, on the curve and not the identity. */
httpa_err httpa__p256_public(httpa_span point, EVP_PKEY **out) HTTPA_MUST_USE;

#endif
