/* Glue shared by the files of src/crypto: OpenSSL error mapping and the
 * EVP_PKEY constructors used by both kex.c and sig.c. Never included outside
 * src/crypto. */
#ifndef HTTPA_CRYPTO_OSSL_H
#define HTTPA_CRYPTO_OSSL_H

#include <openssl/evp.h>

#include "httpa/crypto.h"

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
