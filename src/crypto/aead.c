/* AEAD seal/open (AES-GCM, ChaCha20-Poly1305) on a keyed EVP_CIPHER_CTX.
 * The key is scheduled once in httpa_aead_new; each call only sets the
 * direction and the nonce, which is what keeps per-record cost low. */
#include <stdlib.h>

#include <openssl/evp.h>

#include "ossl.h"

/* EVP lengths are int: larger inputs are fed in pieces of this size. */
#define EVP_CHUNK ((size_t)1 << 30)

struct httpa_aead {
    EVP_CIPHER_CTX *ctx;
};

size_t httpa_aead_key_len(httpa_aead_alg a)
{
    switch (a) {
    case HTTPA_AES_128_GCM:
        return 16;
    case HTTPA_AES_256_GCM:
    case HTTPA_CHACHA20_POLY1305:
        return 32;
    }
    return 0;
}

httpa_err httpa_aead_new(httpa_aead_alg a, httpa_span key, httpa_aead **out)
{
    if (out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    *out = NULL;
    if (httpa_aead_key_len(a) == 0 || key.base == NULL || key.len != httpa_aead_key_len(a))
        return HTTPA_ERR_INVALID_ARG;
    const httpa_ossl_algs *algs = httpa__algs();
    if (algs == NULL || algs->cipher[a] == NULL)
        return HTTPA_ERR_LIBRARY;
    httpa_aead *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return HTTPA_ERR_NOMEM;
    /* The cipher's IV length, not the context's: the latter is a provider
     * parameter query on every call. */
    c->ctx = EVP_CIPHER_CTX_new();
    if (c->ctx == NULL || EVP_CIPHER_get_iv_length(algs->cipher[a]) != HTTPA_IV_LEN
        || !EVP_CipherInit_ex2(c->ctx, algs->cipher[a], key.base, NULL, 1, NULL)) {
        httpa_aead_free(c);
        return httpa__ossl_error(HTTPA_ERR_LIBRARY);
    }
    *out = c;
    return HTTPA_OK;
}

void httpa_aead_free(httpa_aead *c)
{
    if (c == NULL)
        return;
    EVP_CIPHER_CTX_free(c->ctx); /* clears the key schedule */
    httpa_wipe(c, sizeof(*c));
    free(c);
}

/* AAD when out is NULL, else data; out may equal in. */
static int update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t len)
{
    while (len > 0) {
        int n = (int)(len < EVP_CHUNK ? len : EVP_CHUNK), got = 0;
        if (!EVP_CipherUpdate(ctx, out, &got, in, n) || (out != NULL && got != n))
            return 0;
        if (out != NULL)
            out += n;
        in += n;
        len -= (size_t)n;
    }
    return 1;
}

static int args_ok(const httpa_aead *c, const uint8_t *nonce, httpa_span aad, const uint8_t *in,
                   size_t in_len, const uint8_t *out)
{
    return c != NULL && nonce != NULL && out != NULL && (aad.len == 0 || aad.base != NULL)
           && (in_len == 0 || in != NULL);
}

httpa_err httpa_aead_seal(httpa_aead *c, const uint8_t nonce[HTTPA_IV_LEN], httpa_span aad,
                          const uint8_t *pt, size_t pt_len, uint8_t *out)
{
    if (!args_ok(c, nonce, aad, pt, pt_len, out))
        return HTTPA_ERR_INVALID_ARG;
    if (pt_len > SIZE_MAX - HTTPA_TAG_LEN)
        return HTTPA_ERR_TOO_LARGE;
    int got = 0;
    if (!EVP_CipherInit_ex2(c->ctx, NULL, NULL, nonce, 1, NULL)
        || !update(c->ctx, NULL, aad.base, aad.len) || !update(c->ctx, out, pt, pt_len)
        || !EVP_CipherFinal_ex(c->ctx, out + pt_len, &got) || got != 0
        || !EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_AEAD_GET_TAG, HTTPA_TAG_LEN, out + pt_len))
        return httpa__ossl_error(HTTPA_ERR_LIBRARY);
    return HTTPA_OK;
}

httpa_err httpa_aead_open(httpa_aead *c, const uint8_t nonce[HTTPA_IV_LEN], httpa_span aad,
                          const uint8_t *ct, size_t ct_len, uint8_t *out)
{
    if (!args_ok(c, nonce, aad, ct, ct_len, out))
        return HTTPA_ERR_INVALID_ARG;
    if (ct_len < HTTPA_TAG_LEN)
        return HTTPA_ERR_BAD_REQUEST;
    size_t pt_len = ct_len - HTTPA_TAG_LEN;
    int got = 0;
    /* The tag is handed over before any plaintext is written at out. */
    if (!EVP_CipherInit_ex2(c->ctx, NULL, NULL, nonce, 0, NULL)
        || !EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_AEAD_SET_TAG, HTTPA_TAG_LEN,
                                (void *)(ct + pt_len))
        || !update(c->ctx, NULL, aad.base, aad.len) || !update(c->ctx, out, ct, pt_len)) {
        httpa_wipe(out, pt_len);
        return httpa__ossl_error(HTTPA_ERR_LIBRARY);
    }
    /* No plaintext leaves unless the tag verified. */
    if (EVP_CipherFinal_ex(c->ctx, out + pt_len, &got) != 1 || got != 0) {
        httpa_wipe(out, pt_len);
        return httpa__ossl_error(HTTPA_ERR_BAD_REQUEST);
    }
    return HTTPA_OK;
}
