/* The cryptographic layer: every primitive comes from OpenSSL 3 (libcrypto EVP).
 * No other module includes an OpenSSL header. */
#ifndef HTTPA_CRYPTO_H
#define HTTPA_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "httpa/buf.h"
#include "httpa/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HTTPA_MAX_HASH 64  /* SHA-512 */
#define HTTPA_MAX_KEY 32   /* AES-256, ChaCha20 */
#define HTTPA_IV_LEN 12
#define HTTPA_TAG_LEN 16

/* ---- Hashes and MACs ---- */

typedef enum httpa_hash_alg {
    HTTPA_SHA256,
    HTTPA_SHA384,
    HTTPA_SHA512,
} httpa_hash_alg;

size_t httpa_hash_len(httpa_hash_alg h);

/* out receives httpa_hash_len(h) octets. */
httpa_err httpa_hash(httpa_hash_alg h, httpa_span in, uint8_t *out) HTTPA_MUST_USE;

/* Hash of several pieces, concatenated. */
httpa_err httpa_hashv(httpa_hash_alg h, const httpa_span *parts, size_t n,
                      uint8_t *out) HTTPA_MUST_USE;

/* HMAC over the concatenation of `parts`; out receives httpa_hash_len(h) octets. */
httpa_err httpa_hmacv(httpa_hash_alg h, httpa_span key, const httpa_span *parts, size_t n,
                      uint8_t *out) HTTPA_MUST_USE;

/* ---- HKDF (RFC 5869) and the profile's HKDF-Expand-Label (section 8.3) ---- */

/* out receives httpa_hash_len(h) octets. */
httpa_err httpa_hkdf_extract(httpa_hash_alg h, httpa_span salt, httpa_span ikm,
                             uint8_t *out) HTTPA_MUST_USE;
httpa_err httpa_hkdf_expand(httpa_hash_alg h, httpa_span prk, httpa_span info, uint8_t *out,
                            size_t out_len) HTTPA_MUST_USE;

/* The HkdfLabel octets: u16(L) || u8(len) || "httpa2 " || label || u8(len) || context.
 * `out` must hold 2 + 1 + 255 + 1 + 255 octets; *out_len receives the length. */
httpa_err httpa_hkdf_label(const char *label, httpa_span context, size_t L, uint8_t *out,
                           size_t *out_len) HTTPA_MUST_USE;

httpa_err httpa_hkdf_expand_label(httpa_hash_alg h, httpa_span secret, const char *label,
                                  httpa_span context, uint8_t *out,
                                  size_t out_len) HTTPA_MUST_USE;

/* ---- AEAD ---- */

typedef enum httpa_aead_alg {
    HTTPA_AES_128_GCM,
    HTTPA_AES_256_GCM,
    HTTPA_CHACHA20_POLY1305,
} httpa_aead_alg;

size_t httpa_aead_key_len(httpa_aead_alg a);

/* A keyed AEAD context, reusable for many seal/open calls with different
 * nonces. Safe to use from one thread at a time; the key is wiped on free. */
typedef struct httpa_aead httpa_aead;

httpa_err httpa_aead_new(httpa_aead_alg a, httpa_span key, httpa_aead **out) HTTPA_MUST_USE;
void httpa_aead_free(httpa_aead *c);

/* Writes pt_len + 16 octets (ciphertext then tag) at `out`; out may equal pt. */
httpa_err httpa_aead_seal(httpa_aead *c, const uint8_t nonce[HTTPA_IV_LEN], httpa_span aad,
                          const uint8_t *pt, size_t pt_len, uint8_t *out) HTTPA_MUST_USE;

/* Opens ct_len >= 16 octets into ct_len - 16 octets at `out` (may equal ct).
 * HTTPA_ERR_BAD_REQUEST if the tag does not verify; `out` is then wiped. */
httpa_err httpa_aead_open(httpa_aead *c, const uint8_t nonce[HTTPA_IV_LEN], httpa_span aad,
                          const uint8_t *ct, size_t ct_len, uint8_t *out) HTTPA_MUST_USE;

/* ---- Key exchange (section 8.1) ---- */

typedef enum httpa_group {
    HTTPA_X25519,
    HTTPA_SECP256R1,
} httpa_group;

/* Public share length: 32 (x25519) or 65 (secp256r1 uncompressed). */
size_t httpa_group_share_len(httpa_group g);

/* An ephemeral private key; wiped on free. */
typedef struct httpa_kex httpa_kex;

/* Generate a key pair; `priv` (32 octets) may be given for known-answer tests,
 * otherwise it is drawn from the CSPRNG. Writes the public share to pub_out. */
httpa_err httpa_kex_new(httpa_group g, const uint8_t *priv, size_t priv_len, uint8_t *pub_out,
                        httpa_kex **out) HTTPA_MUST_USE;
void httpa_kex_free(httpa_kex *k);

/* Check that `share` is a valid public share of the group (length, on curve,
 * not the identity): HTTPA_ERR_BAD_REQUEST otherwise. */
httpa_err httpa_kex_check_share(httpa_group g, httpa_span share) HTTPA_MUST_USE;

/* Shared secret (32 octets): the X25519 output, or the P-256 X coordinate.
 * HTTPA_ERR_BAD_REQUEST for an invalid share or an all-zero X25519 result. */
httpa_err httpa_kex_derive(httpa_kex *k, httpa_span peer_share, uint8_t out[32]) HTTPA_MUST_USE;

/* ---- Signatures (section 7.2) ---- */

typedef enum httpa_sig_alg {
    HTTPA_ED25519,
    HTTPA_ECDSA_P256_SHA256,
} httpa_sig_alg;

#define HTTPA_SIG_LEN 64
#define HTTPA_SIG_MAX_PUB 65

/* Public key length: 32 (Ed25519) or 65 (P-256 uncompressed). */
size_t httpa_sig_pub_len(httpa_sig_alg a);

typedef struct httpa_sign_key httpa_sign_key;

/* Create a signing key from a 32-octet seed/private scalar, or at random when
 * `priv` is NULL. Writes the public key to pub_out. */
httpa_err httpa_sign_key_new(httpa_sig_alg a, const uint8_t *priv, size_t priv_len,
                             uint8_t *pub_out, httpa_sign_key **out) HTTPA_MUST_USE;
void httpa_sign_key_free(httpa_sign_key *k);

/* Sign `msg`; writes 64 octets (Ed25519, or ECDSA r||s big-endian). */
httpa_err httpa_sign(httpa_sign_key *k, httpa_span msg, uint8_t sig[HTTPA_SIG_LEN]) HTTPA_MUST_USE;

/* HTTPA_OK if `sig` (64 octets) verifies over `msg` under `pub`;
 * HTTPA_ERR_BAD_QUOTE otherwise (including an invalid public key). */
httpa_err httpa_verify(httpa_sig_alg a, httpa_span pub, httpa_span msg,
                       httpa_span sig) HTTPA_MUST_USE;

/* ---- Randomness ---- */

httpa_err httpa_random(uint8_t *out, size_t len) HTTPA_MUST_USE;

/* ---- Base64 (RFC 4648) ---- */

/* Standard alphabet with padding. */
httpa_err httpa_base64_encode(httpa_span in, httpa_buf *out) HTTPA_MUST_USE;
/* Strict: canonical padded form only; HTTPA_ERR_BAD_REQUEST otherwise. */
httpa_err httpa_base64_decode(const char *in, size_t len, httpa_buf *out) HTTPA_MUST_USE;
/* URL-safe alphabet without padding (JWS). */
httpa_err httpa_base64url_encode(httpa_span in, httpa_buf *out) HTTPA_MUST_USE;
httpa_err httpa_base64url_decode(const char *in, size_t len, httpa_buf *out) HTTPA_MUST_USE;

#ifdef __cplusplus
}
#endif
#endif
