/* SHA-2, HMAC and HKDF (RFC 5869) from OpenSSL, and the profile's HkdfLabel
 * and HKDF-Expand-Label (section 8.3). */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "ossl.h"

#define LABEL_PREFIX "httpa2 "
#define LABEL_PREFIX_LEN (sizeof(LABEL_PREFIX) - 1)
#define HKDF_LABEL_MAX (2 + 1 + 255 + 1 + 255)
/* Early OpenSSL 3.0 releases refuse a longer HKDF info (HKDF_MAXBUF); an
 * HkdfLabel needs at most HKDF_LABEL_MAX. */
#define HKDF_INFO_MAX 1024

static const EVP_MD *md_of(httpa_hash_alg h)
{
    switch (h) {
    case HTTPA_SHA256:
        return EVP_sha256();
    case HTTPA_SHA384:
        return EVP_sha384();
    case HTTPA_SHA512:
        return EVP_sha512();
    }
    return NULL;
}

static const char *md_name(httpa_hash_alg h)
{
    switch (h) {
    case HTTPA_SHA256:
        return OSSL_DIGEST_NAME_SHA2_256;
    case HTTPA_SHA384:
        return OSSL_DIGEST_NAME_SHA2_384;
    case HTTPA_SHA512:
        return OSSL_DIGEST_NAME_SHA2_512;
    }
    return NULL;
}

size_t httpa_hash_len(httpa_hash_alg h)
{
    switch (h) {
    case HTTPA_SHA256:
        return 32;
    case HTTPA_SHA384:
        return 48;
    case HTTPA_SHA512:
        return 64;
    }
    return 0;
}

static int parts_ok(const httpa_span *parts, size_t n)
{
    if (n > 0 && parts == NULL)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (parts[i].len > 0 && parts[i].base == NULL)
            return 0;
    return 1;
}

httpa_err httpa_hash(httpa_hash_alg h, httpa_span in, uint8_t *out)
{
    return httpa_hashv(h, &in, 1, out);
}

httpa_err httpa_hashv(httpa_hash_alg h, const httpa_span *parts, size_t n, uint8_t *out)
{
    const EVP_MD *md = md_of(h);
    if (md == NULL || out == NULL || !parts_ok(parts, n))
        return HTTPA_ERR_INVALID_ARG;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestInit_ex2(ctx, md, NULL);
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(ctx, parts[i].base, parts[i].len);
    ok = ok && EVP_DigestFinal_ex(ctx, out, NULL);
    EVP_MD_CTX_free(ctx);
    return ok ? HTTPA_OK : httpa__ossl_error(HTTPA_ERR_LIBRARY);
}

httpa_err httpa_hmacv(httpa_hash_alg h, httpa_span key, const httpa_span *parts, size_t n,
                      uint8_t *out)
{
    const char *name = md_name(h);
    if (name == NULL || out == NULL || (key.len > 0 && key.base == NULL) || !parts_ok(parts, n))
        return HTTPA_ERR_INVALID_ARG;
    size_t out_len = httpa_hash_len(h), got = 0;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)name, 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC *mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    int ok = ctx != NULL && EVP_MAC_init(ctx, httpa__span_ptr(key), key.len, params);
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_MAC_update(ctx, httpa__span_ptr(parts[i]), parts[i].len);
    ok = ok && EVP_MAC_final(ctx, out, &got, out_len) && got == out_len;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    if (ok)
        return HTTPA_OK;
    httpa_wipe(out, out_len);
    return httpa__ossl_error(HTTPA_ERR_LIBRARY);
}

/* One EVP_KDF "HKDF" call; `extra` is the salt (extract) or the info (expand). */
static httpa_err hkdf(httpa_hash_alg h, int mode, httpa_span key, httpa_span extra,
                      uint8_t *out, size_t out_len)
{
    const char *name = md_name(h);
    if (name == NULL || out == NULL || (key.len > 0 && key.base == NULL)
        || (extra.len > 0 && extra.base == NULL))
        return HTTPA_ERR_INVALID_ARG;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)name, 0),
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)httpa__span_ptr(key),
                                          key.len),
        OSSL_PARAM_construct_octet_string(mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY
                                              ? OSSL_KDF_PARAM_SALT
                                              : OSSL_KDF_PARAM_INFO,
                                          (void *)httpa__span_ptr(extra), extra.len),
        OSSL_PARAM_construct_end(),
    };
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
    EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    int ok = ctx != NULL && EVP_KDF_derive(ctx, out, out_len, params) == 1;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    if (ok)
        return HTTPA_OK;
    httpa_wipe(out, out_len);
    return httpa__ossl_error(HTTPA_ERR_LIBRARY);
}

httpa_err httpa_hkdf_extract(httpa_hash_alg h, httpa_span salt, httpa_span ikm, uint8_t *out)
{
    uint8_t zeros[HTTPA_MAX_HASH] = {0};
    /* RFC 5869 section 2.2: an absent salt is Hlen zero octets. */
    if (salt.len == 0)
        salt = HTTPA_SPAN(zeros, httpa_hash_len(h));
    return hkdf(h, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ikm, salt, out, httpa_hash_len(h));
}

httpa_err httpa_hkdf_expand(httpa_hash_alg h, httpa_span prk, httpa_span info, uint8_t *out,
                            size_t out_len)
{
    if (out_len == 0 || out_len > 255 * httpa_hash_len(h) || info.len > HKDF_INFO_MAX)
        return HTTPA_ERR_INVALID_ARG;
    return hkdf(h, EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, info, out, out_len);
}

httpa_err httpa_hkdf_label(const char *label, httpa_span context, size_t L, uint8_t *out,
                           size_t *out_len)
{
    size_t label_len = label != NULL ? strlen(label) : 0;
    if (label == NULL || out == NULL || out_len == NULL || L > UINT16_MAX
        || label_len > 255 - LABEL_PREFIX_LEN || context.len > 255
        || (context.len > 0 && context.base == NULL))
        return HTTPA_ERR_INVALID_ARG;
    uint8_t *p = out;
    httpa_put_u16(p, (uint16_t)L);
    p += 2;
    *p++ = (uint8_t)(LABEL_PREFIX_LEN + label_len);
    memcpy(p, LABEL_PREFIX, LABEL_PREFIX_LEN);
    p += LABEL_PREFIX_LEN;
    memcpy(p, label, label_len);
    p += label_len;
    *p++ = (uint8_t)context.len;
    if (context.len > 0)
        memcpy(p, context.base, context.len);
    *out_len = (size_t)(p - out) + context.len;
    return HTTPA_OK;
}

httpa_err httpa_hkdf_expand_label(httpa_hash_alg h, httpa_span secret, const char *label,
                                  httpa_span context, uint8_t *out, size_t out_len)
{
    uint8_t info[HKDF_LABEL_MAX];
    size_t info_len = 0;
    httpa_err err = httpa_hkdf_label(label, context, out_len, info, &info_len);
    if (err != HTTPA_OK)
        return err;
    return httpa_hkdf_expand(h, secret, HTTPA_SPAN(info, info_len), out, out_len);
}
