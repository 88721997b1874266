/* The algorithm handles fetched once, OpenSSL error mapping and key
 * construction shared by kex.c and sig.c. Keys are built through EVP only;
 * nothing here computes a primitive. */
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

#include "ossl.h"

#define P256_POINT_LEN 65

/* ---- algorithm handles (see ossl.h) ---- */

static const char *const md_names[3] = {
    [HTTPA_SHA256] = OSSL_DIGEST_NAME_SHA2_256,
    [HTTPA_SHA384] = OSSL_DIGEST_NAME_SHA2_384,
    [HTTPA_SHA512] = OSSL_DIGEST_NAME_SHA2_512,
};

static const char *const cipher_names[3] = {
    [HTTPA_AES_128_GCM] = "AES-128-GCM",
    [HTTPA_AES_256_GCM] = "AES-256-GCM",
    [HTTPA_CHACHA20_POLY1305] = "ChaCha20-Poly1305",
};

static httpa_ossl_algs algs;      /* written once, in algs_init, then read only */
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;

/* HMAC-`name` keyed with the empty key: EVP_MAC_CTX_dup of it gives a
 * context with the digest already resolved, which re-keying keeps. */
static EVP_MAC_CTX *hmac_template(EVP_MAC *mac, const char *name)
{
    static const uint8_t empty[1];
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)name, 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(mac);
    if (c != NULL && !EVP_MAC_init(c, empty, 0, params)) {
        EVP_MAC_CTX_free(c);
        c = NULL;
    }
    return c;
}

/* A handle OpenSSL cannot provide (a provider without ChaCha20, say) stays
 * NULL, and only what needs it fails. */
static void algs_init(void)
{
    static const uint8_t base_point[32] = {9};
    EVP_MAC *mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    for (size_t i = 0; i < 3; i++) {
        algs.md[i] = EVP_MD_fetch(NULL, md_names[i], NULL);
        algs.hmac[i] = mac != NULL ? hmac_template(mac, md_names[i]) : NULL;
        algs.cipher[i] = EVP_CIPHER_fetch(NULL, cipher_names[i], NULL);
    }
    EVP_MAC_free(mac); /* the templates hold their own references */
    algs.x25519_base = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, base_point, 32);
    ERR_clear_error();
}

const httpa_ossl_algs *httpa__algs(void)
{
    return pthread_once(&algs_once, algs_init) == 0 ? &algs : NULL;
}

const EVP_MD *httpa__md(httpa_hash_alg h)
{
    const httpa_ossl_algs *a = httpa__algs();
    return a != NULL && (unsigned)h < 3 ? a->md[h] : NULL;
}

EVP_MAC_CTX *httpa__hmac_new(httpa_hash_alg h, httpa_span key)
{
    const httpa_ossl_algs *a = httpa__algs();
    if (a == NULL || (unsigned)h >= 3)
        return NULL;
    EVP_MAC_CTX *c = a->hmac[h] != NULL ? EVP_MAC_CTX_dup(a->hmac[h]) : NULL;
    if (c != NULL && !EVP_MAC_init(c, httpa__span_ptr(key), key.len, NULL)) {
        EVP_MAC_CTX_free(c);
        c = NULL;
    }
    return c;
}

/* ---- errors and keys ---- */

httpa_err httpa__ossl_error(httpa_err e)
{
    ERR_clear_error();
    return e;
}

const uint8_t *httpa__span_ptr(httpa_span s)
{
    static const uint8_t empty[1];
    return s.base != NULL ? s.base : empty;
}

httpa_err httpa__raw_keypair(const char *alg, const uint8_t *priv, EVP_PKEY **out,
                             uint8_t pub[32])
{
    EVP_PKEY *k = priv != NULL ? EVP_PKEY_new_raw_private_key_ex(NULL, alg, NULL, priv, 32)
                               : EVP_PKEY_Q_keygen(NULL, NULL, alg);
    size_t len = 32;
    if (k == NULL || !EVP_PKEY_get_raw_public_key(k, pub, &len) || len != 32) {
        EVP_PKEY_free(k);
        return httpa__ossl_error(HTTPA_ERR_LIBRARY);
    }
    *out = k;
    return HTTPA_OK;
}

/* OpenSSL 3.0 does not compute the public point when EVP_PKEY_fromdata gets
 * only a private scalar, but its SEC 1 ECPrivateKey decoder does: wrap the
 * scalar in a minimal ECPrivateKey (RFC 5915) with the P-256 OID. */
static const uint8_t sec1_head[] = {0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20};
static const uint8_t sec1_tail[] = {0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                    0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

static httpa_err p256_from_scalar(const uint8_t d[32], EVP_PKEY **out)
{
    uint8_t der[sizeof(sec1_head) + 32 + sizeof(sec1_tail)];
    memcpy(der, sec1_head, sizeof(sec1_head));
    memcpy(der + sizeof(sec1_head), d, 32);
    memcpy(der + sizeof(sec1_head) + 32, sec1_tail, sizeof(sec1_tail));
    const unsigned char *p = der;
    EVP_PKEY *k = d2i_PrivateKey_ex(EVP_PKEY_EC, NULL, &p, (long)sizeof(der), NULL, NULL);
    httpa_wipe(der, sizeof(der));
    if (k == NULL)
        return httpa__ossl_error(HTTPA_ERR_LIBRARY);

    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    httpa_err err = HTTPA_OK;
    if (ctx == NULL)
        err = httpa__ossl_error(HTTPA_ERR_LIBRARY);
    else if (EVP_PKEY_private_check(ctx) != 1)
        err = httpa__ossl_error(HTTPA_ERR_INVALID_ARG);
    EVP_PKEY_CTX_free(ctx);
    if (err != HTTPA_OK) {
        EVP_PKEY_free(k);
        return err;
    }
    *out = k;
    return HTTPA_OK;
}

httpa_err httpa__p256_keypair(const uint8_t *d, EVP_PKEY **out, uint8_t pub[65])
{
    EVP_PKEY *k = NULL;
    if (d != NULL) {
        httpa_err err = p256_from_scalar(d, &k);
        if (err != HTTPA_OK)
            return err;
    } else if ((k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", SN_X9_62_prime256v1)) == NULL) {
        return httpa__ossl_error(HTTPA_ERR_LIBRARY);
    }
    size_t len = 0;
    if (!EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pub, P256_POINT_LEN, &len)
        || len != P256_POINT_LEN || pub[0] != 0x04) {
        EVP_PKEY_free(k);
        return httpa__ossl_error(HTTPA_ERR_LIBRARY);
    }
    *out = k;
    return HTTPA_OK;
}

/* Import decodes with EC_POINT_oct2point, which refuses a point off the
 * curve; the quick public check then refuses the identity as well. */
static httpa_err p256_import(httpa_span point, EVP_PKEY **out)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                         (char *)SN_X9_62_prime256v1, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point.base,
                                          point.len),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    httpa_err err = HTTPA_OK;
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1)
        err = HTTPA_ERR_LIBRARY;
    else if (EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1)
        err = HTTPA_ERR_BAD_REQUEST;
    EVP_PKEY_CTX_free(ctx);
    return err == HTTPA_OK ? HTTPA_OK : httpa__ossl_error(err);
}

httpa_err httpa__p256_public(httpa_span point, EVP_PKEY **out)
{
    /* Only the uncompressed form: a 65-octet 0x06/0x07 "hybrid" point would
     * decode too, and the profile allows 0x04 alone. */
    if (point.len != P256_POINT_LEN || point.base == NULL || point.base[0] != 0x04)
        return HTTPA_ERR_BAD_REQUEST;
    EVP_PKEY *k = NULL;
    httpa_err err = p256_import(point, &k);
    if (err != HTTPA_OK)
        return err;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    if (ctx == NULL)
        err = httpa__ossl_error(HTTPA_ERR_LIBRARY);
    else if (EVP_PKEY_public_check_quick(ctx) != 1)
        err = httpa__ossl_error(HTTPA_ERR_BAD_REQUEST);
    EVP_PKEY_CTX_free(ctx);
    if (err != HTTPA_OK) {
        EVP_PKEY_free(k);
        return err;
    }
    *out = k;
    return HTTPA_OK;
}
