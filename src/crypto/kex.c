/* Ephemeral key exchange (profile section 8.1): X25519 and P-256 ECDH. */
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/proverr.h>
#include <openssl/rand.h>

#include "ossl.h"

#define SECRET_LEN 32

struct httpa_kex {
    httpa_group group;
    EVP_PKEY *pkey;
    EVP_PKEY_CTX *derive;   /* on pkey, made once: OpenSSL fetches the exchange per init */
};

size_t httpa_group_share_len(httpa_group g)
{
    switch (g) {
    case HTTPA_X25519:
        return 32;
    case HTTPA_SECP256R1:
        return 65;
    }
    return 0;
}

/* The derivation context of k, made on first use and kept for the next. */
static EVP_PKEY_CTX *derive_ctx(httpa_kex *k)
{
    if (k->derive != NULL)
        return k->derive;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    k->derive = ctx;
    return ctx;
}

/* X25519 private key `priv` with `pub` as its public half, as given:
 * OpenSSL computes nothing when both halves are imported. */
static EVP_PKEY *x25519_import(const httpa_ossl_algs *a, const uint8_t priv[32],
                              const uint8_t pub[32])
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, (void *)priv, 32),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, 32),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, a->x25519_base, NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) != 1)
        key = NULL;
    EVP_PKEY_CTX_free(ctx);
    return key;
}

/* An X25519 key pair. Imported alone, a private key gets its public key
 * from OpenSSL's generic fixed-base multiplication (34 us on the reference
 * machine), while the ADX Montgomery ladder behind EVP_PKEY_derive takes
 * 29 us. So the private key is imported with a placeholder public half (the
 * base point), which nothing reads: X25519 derivation uses the private
 * scalar and the peer's key only, and this EVP_PKEY never leaves kex.c. The
 * public key is then X25519(k, 9), its definition (RFC 7748 section 6.1),
 * computed by EVP_PKEY_derive. */
static httpa_err x25519_keypair(httpa_kex *k, const uint8_t *priv, uint8_t pub[32])
{
    static const uint8_t base_point[32] = {9};
    const httpa_ossl_algs *a = httpa__algs();
    uint8_t fresh[32];
    if (a == NULL || a->x25519_base == NULL)
        return HTTPA_ERR_LIBRARY;
    if (priv == NULL && RAND_priv_bytes(fresh, sizeof(fresh)) != 1)
        return httpa__ossl_error(HTTPA_ERR_LIBRARY);
    k->pkey = x25519_import(a, priv != NULL ? priv : fresh, base_point);
    httpa_wipe(fresh, sizeof(fresh));
    EVP_PKEY_CTX *ctx = k->pkey != NULL ? derive_ctx(k) : NULL;
    size_t len = 32;
    if (ctx == NULL || EVP_PKEY_derive_set_peer_ex(ctx, a->x25519_base, 0) != 1 ||
        EVP_PKEY_derive(ctx, pub, &len) != 1 || len != 32)
        return httpa__ossl_error(HTTPA_ERR_LIBRARY);
    return HTTPA_OK;
}

httpa_err httpa_kex_new(httpa_group g, const uint8_t *priv, size_t priv_len, uint8_t *pub_out,
                        httpa_kex **out)
{
    if (out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    *out = NULL;
    if (httpa_group_share_len(g) == 0 || pub_out == NULL || (priv != NULL && priv_len != 32))
        return HTTPA_ERR_INVALID_ARG;
    httpa_kex *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return HTTPA_ERR_NOMEM;
    k->group = g;
    httpa_err err = g == HTTPA_X25519 ? x25519_keypair(k, priv, pub_out)
                                      : httpa__p256_keypair(priv, &k->pkey, pub_out);
    if (err != HTTPA_OK) {
        httpa_kex_free(k);
        return err;
    }
    *out = k;
    return HTTPA_OK;
}

void httpa_kex_free(httpa_kex *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_CTX_free(k->derive);
    EVP_PKEY_free(k->pkey); /* clears the private key */
    httpa_wipe(k, sizeof(*k));
    free(k);
}

/* The peer's X25519 key: a copy of the base point key with the peer's
 * u-coordinate set, which is how libssl imports one, and needs no fetch. */
static EVP_PKEY *x25519_peer(httpa_span share)
{
    const httpa_ossl_algs *a = httpa__algs();
    EVP_PKEY *p = a != NULL && a->x25519_base != NULL ? EVP_PKEY_dup(a->x25519_base) : NULL;
    if (p != NULL && EVP_PKEY_set1_encoded_public_key(p, share.base, share.len) != 1) {
        EVP_PKEY_free(p);
        p = NULL;
    }
    return p;
}

/* The peer's public key. Any 32 octets are an X25519 u-coordinate; a
 * low-order point shows up later as an all-zero shared secret. */
static httpa_err peer_key(httpa_group g, httpa_span share, EVP_PKEY **out)
{
    if (share.base == NULL || share.len != httpa_group_share_len(g))
        return HTTPA_ERR_BAD_REQUEST;
    if (g == HTTPA_SECP256R1)
        return httpa__p256_public(share, out);
    *out = x25519_peer(share);
    return *out != NULL ? HTTPA_OK : httpa__ossl_error(HTTPA_ERR_LIBRARY);
}

httpa_err httpa_kex_check_share(httpa_group g, httpa_span share)
{
    if (httpa_group_share_len(g) == 0)
        return HTTPA_ERR_INVALID_ARG;
    if (g == HTTPA_X25519) /* every 32 octets are a u-coordinate: nothing to build */
        return share.base != NULL && share.len == 32 ? HTTPA_OK : HTTPA_ERR_BAD_REQUEST;
    EVP_PKEY *peer = NULL;
    httpa_err err = peer_key(g, share, &peer);
    EVP_PKEY_free(peer);
    return err;
}

/* OpenSSL refuses an all-zero X25519 output (RFC 7748 section 6.1) inside
 * EVP_PKEY_derive; tell that refusal, caused by the peer, from a failure. */
static httpa_err derive_error(httpa_group g)
{
    unsigned long e = ERR_peek_last_error();
    int by_peer = g == HTTPA_X25519 && ERR_GET_LIB(e) == ERR_LIB_PROV
                  && ERR_GET_REASON(e) == PROV_R_FAILED_DURING_DERIVATION;
    return httpa__ossl_error(by_peer ? HTTPA_ERR_BAD_REQUEST : HTTPA_ERR_LIBRARY);
}

httpa_err httpa_kex_derive(httpa_kex *k, httpa_span peer_share, uint8_t out[32])
{
    static const uint8_t zeros[SECRET_LEN];
    if (k == NULL || out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    EVP_PKEY *peer = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    size_t len = SECRET_LEN;
    httpa_err err = peer_key(k->group, peer_share, &peer);
    if (err != HTTPA_OK)
        goto done;
    /* The peer was validated by peer_key. */
    ctx = derive_ctx(k);
    if (ctx == NULL || EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) != 1)
        err = httpa__ossl_error(HTTPA_ERR_LIBRARY);
    else if (EVP_PKEY_derive(ctx, out, &len) != 1 || len != SECRET_LEN)
        err = derive_error(k->group);
    /*= httpa2-profile#section-8.1
     *# X25519 output, 32 octets; an all-zero output MUST be rejected
     */
    else if (httpa_ct_equal(out, zeros, SECRET_LEN))
        err = HTTPA_ERR_BAD_REQUEST;
done:
    EVP_PKEY_free(peer); /* the context keeps its own reference until the next peer */
    if (err != HTTPA_OK)
        httpa_wipe(out, SECRET_LEN);
    return err;
}
