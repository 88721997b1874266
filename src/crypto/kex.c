/* Ephemeral key exchange (profile section 8.1): X25519 and P-256 ECDH. */
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/proverr.h>

#include "ossl.h"

#define SECRET_LEN 32

struct httpa_kex {
    httpa_group group;
    EVP_PKEY *pkey;
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
    httpa_err err = g == HTTPA_X25519 ? httpa__raw_keypair("X25519", priv, &k->pkey, pub_out)
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
    EVP_PKEY_free(k->pkey); /* clears the private key */
    httpa_wipe(k, sizeof(*k));
    free(k);
}

/* The peer's public key. Any 32 octets are an X25519 u-coordinate; a
 * low-order point shows up later as an all-zero shared secret. */
static httpa_err peer_key(httpa_group g, httpa_span share, EVP_PKEY **out)
{
    if (share.base == NULL || share.len != httpa_group_share_len(g))
        return HTTPA_ERR_BAD_REQUEST;
    if (g == HTTPA_SECP256R1)
        return httpa__p256_public(share, out);
    *out = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, share.base, share.len);
    return *out != NULL ? HTTPA_OK : httpa__ossl_error(HTTPA_ERR_LIBRARY);
}

httpa_err httpa_kex_check_share(httpa_group g, httpa_span share)
{
    if (httpa_group_share_len(g) == 0)
        return HTTPA_ERR_INVALID_ARG;
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
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1
        || EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) != 1)
        err = httpa__ossl_error(HTTPA_ERR_LIBRARY);
    else if (EVP_PKEY_derive(ctx, out, &len) != 1 || len != SECRET_LEN)
        err = derive_error(k->group);
    /*= httpa2-profile#section-8.1
     *# X25519 output, 32 octets; an all-zero output MUST be rejected
     */
    else if (httpa_ct_equal(out, zeros, SECRET_LEN))
        err = HTTPA_ERR_BAD_REQUEST;
done:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    if (err != HTTPA_OK)
        httpa_wipe(out, SECRET_LEN);
    return err;
}
