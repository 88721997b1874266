/* Handshake signatures (profile section 7.2): Ed25519 and ECDSA P-256 with
 * SHA-256, the latter converted between DER and the wire's 64-octet r || s. */
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "ossl.h"

/* DER ECDSA-Sig-Value for P-256: two INTEGERs of at most 33 octets. */
#define ECDSA_DER_MAX 72
#define SCALAR_LEN 32

struct httpa_sign_key {
    httpa_sig_alg alg;
    EVP_PKEY *pkey;
    /* Initialized for signing with pkey and never used itself: each
     * signature copies it (0.1 us) instead of running EVP_DigestSignInit,
     * which fetches the signature algorithm by name (1.7 us). Copying reads
     * it only, so threads may sign with one key at once. */
    EVP_MD_CTX *sign;
};

size_t httpa_sig_pub_len(httpa_sig_alg a)
{
    switch (a) {
    case HTTPA_ED25519:
        return 32;
    case HTTPA_ECDSA_P256_SHA256:
        return 65;
    }
    return 0;
}

/* Ed25519 is "pure": no separate digest. */
static const char *digest_of(httpa_sig_alg a)
{
    return a == HTTPA_ECDSA_P256_SHA256 ? OSSL_DIGEST_NAME_SHA2_256 : NULL;
}

httpa_err httpa_sign_key_new(httpa_sig_alg a, const uint8_t *priv, size_t priv_len,
                             uint8_t *pub_out, httpa_sign_key **out)
{
    if (out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    *out = NULL;
    if (httpa_sig_pub_len(a) == 0 || pub_out == NULL || (priv != NULL && priv_len != 32))
        return HTTPA_ERR_INVALID_ARG;
    httpa_sign_key *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return HTTPA_ERR_NOMEM;
    k->alg = a;
    httpa_err err = a == HTTPA_ED25519 ? httpa__raw_keypair("ED25519", priv, &k->pkey, pub_out)
                                       : httpa__p256_keypair(priv, &k->pkey, pub_out);
    if (err == HTTPA_OK && ((k->sign = EVP_MD_CTX_new()) == NULL ||
                            !EVP_DigestSignInit_ex(k->sign, NULL, digest_of(a), NULL, NULL,
                                                   k->pkey, NULL)))
        err = httpa__ossl_error(HTTPA_ERR_LIBRARY);
    if (err != HTTPA_OK) {
        httpa_sign_key_free(k);
        return err;
    }
    *out = k;
    return HTTPA_OK;
}

void httpa_sign_key_free(httpa_sign_key *k)
{
    if (k == NULL)
        return;
    EVP_MD_CTX_free(k->sign);
    EVP_PKEY_free(k->pkey); /* clears the private key */
    httpa_wipe(k, sizeof(*k));
    free(k);
}

static int der_to_p1363(const uint8_t *der, size_t der_len, uint8_t sig[HTTPA_SIG_LEN])
{
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    const BIGNUM *r = NULL, *sv = NULL;
    int ok = s != NULL;
    if (ok) {
        ECDSA_SIG_get0(s, &r, &sv);
        ok = BN_bn2binpad(r, sig, SCALAR_LEN) == SCALAR_LEN
             && BN_bn2binpad(sv, sig + SCALAR_LEN, SCALAR_LEN) == SCALAR_LEN;
    }
    ECDSA_SIG_free(s);
    return ok;
}

/* Returns the DER length written to der (at least ECDSA_DER_MAX octets), or 0. */
static size_t p1363_to_der(const uint8_t sig[HTTPA_SIG_LEN], uint8_t *der)
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, SCALAR_LEN, NULL);
    BIGNUM *sv = BN_bin2bn(sig + SCALAR_LEN, SCALAR_LEN, NULL);
    if (s == NULL || r == NULL || sv == NULL || !ECDSA_SIG_set0(s, r, sv)) {
        BN_free(r);
        BN_free(sv);
        ECDSA_SIG_free(s);
        return 0;
    }
    unsigned char *p = der;
    int n = i2d_ECDSA_SIG(s, &p);
    ECDSA_SIG_free(s);
    return n > 0 && n <= ECDSA_DER_MAX ? (size_t)n : 0;
}

httpa_err httpa_sign(httpa_sign_key *k, httpa_span msg, uint8_t sig[HTTPA_SIG_LEN])
{
    if (k == NULL || sig == NULL || (msg.len > 0 && msg.base == NULL))
        return HTTPA_ERR_INVALID_ARG;
    uint8_t der[ECDSA_DER_MAX];
    int ecdsa = k->alg == HTTPA_ECDSA_P256_SHA256;
    uint8_t *dst = ecdsa ? der : sig;
    size_t len = ecdsa ? sizeof(der) : HTTPA_SIG_LEN;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_MD_CTX_copy_ex(ctx, k->sign)
             && EVP_DigestSign(ctx, dst, &len, httpa__span_ptr(msg), msg.len);
    EVP_MD_CTX_free(ctx);
    if (ok)
        ok = ecdsa ? der_to_p1363(der, len, sig) : len == HTTPA_SIG_LEN;
    return ok ? HTTPA_OK : httpa__ossl_error(HTTPA_ERR_LIBRARY);
}

static httpa_err verify_key(httpa_sig_alg a, httpa_span pub, EVP_PKEY **out)
{
    if (a == HTTPA_ECDSA_P256_SHA256)
        return httpa__p256_public(pub, out) == HTTPA_OK ? HTTPA_OK : HTTPA_ERR_BAD_QUOTE;
    *out = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, pub.base, pub.len);
    return *out != NULL ? HTTPA_OK : httpa__ossl_error(HTTPA_ERR_BAD_QUOTE);
}

httpa_err httpa_verify(httpa_sig_alg a, httpa_span pub, httpa_span msg, httpa_span sig)
{
    if (httpa_sig_pub_len(a) == 0 || pub.base == NULL || pub.len != httpa_sig_pub_len(a)
        || sig.base == NULL || sig.len != HTTPA_SIG_LEN || (msg.len > 0 && msg.base == NULL))
        return HTTPA_ERR_BAD_QUOTE;
    uint8_t der[ECDSA_DER_MAX];
    httpa_span s = sig;
    if (a == HTTPA_ECDSA_P256_SHA256) {
        s = HTTPA_SPAN(der, p1363_to_der(sig.base, der));
        if (s.len == 0)
            return httpa__ossl_error(HTTPA_ERR_LIBRARY);
    }
    EVP_PKEY *key = NULL;
    httpa_err err = verify_key(a, pub, &key);
    if (err != HTTPA_OK)
        return err;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        err = httpa__ossl_error(HTTPA_ERR_LIBRARY);
    else if (EVP_DigestVerifyInit_ex(ctx, NULL, digest_of(a), NULL, NULL, key, NULL) != 1
             || EVP_DigestVerify(ctx, s.base, s.len, httpa__span_ptr(msg), msg.len) != 1)
        err = httpa__ossl_error(HTTPA_ERR_BAD_QUOTE);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return err;
}
