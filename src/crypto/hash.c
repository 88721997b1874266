/* SHA-2 and HMAC from OpenSSL; HKDF (RFC 5869) composed from OpenSSL's
 * HMAC, and the profile's HkdfLabel and HKDF-Expand-Label (section 8.3).
 *
 * HKDF is built from HMAC here rather than taken from EVP_KDF: EVP_KDF
 * fetches HMAC and the digest by name on every call (OpenSSL 3.0), and it
 * cannot expand several labels from one keyed context. The composition is
 * the protocol of RFC 5869 section 2 (Extract is one HMAC, Expand a short
 * HMAC chain); the primitive stays OpenSSL's. */
#include <string.h>

#include <openssl/evp.h>

#include "kdf.h"
#include "ossl.h"

#define LABEL_PREFIX "httpa2 "
#define LABEL_PREFIX_LEN (sizeof(LABEL_PREFIX) - 1)
#define HKDF_LABEL_MAX (2 + 1 + 255 + 1 + 255)
/* The bound on an HKDF info kept from when this used EVP_KDF, which refused
 * more in early OpenSSL 3.0 releases; an HkdfLabel needs at most
 * HKDF_LABEL_MAX. */
#define HKDF_INFO_MAX 1024

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
    if (httpa_hash_len(h) == 0 || out == NULL || !parts_ok(parts, n))
        return HTTPA_ERR_INVALID_ARG;
    const EVP_MD *md = httpa__md(h);
    EVP_MD_CTX *ctx = md != NULL ? EVP_MD_CTX_new() : NULL;
    int ok = ctx != NULL && EVP_DigestInit_ex2(ctx, md, NULL);
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(ctx, parts[i].base, parts[i].len);
    ok = ok && EVP_DigestFinal_ex(ctx, out, NULL);
    EVP_MD_CTX_free(ctx);
    return ok ? HTTPA_OK : httpa__ossl_error(HTTPA_ERR_LIBRARY);
}

/* HMAC over the parts under the key `ctx` holds (re-initialized first, so
 * one keyed context serves many MACs). */
static int mac_parts(EVP_MAC_CTX *ctx, size_t out_len, const httpa_span *parts, size_t n,
                     uint8_t *out)
{
    size_t got = 0;
    int ok = EVP_MAC_init(ctx, NULL, 0, NULL);
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_MAC_update(ctx, httpa__span_ptr(parts[i]), parts[i].len);
    return ok && EVP_MAC_final(ctx, out, &got, out_len) && got == out_len;
}

httpa_err httpa_hmacv(httpa_hash_alg h, httpa_span key, const httpa_span *parts, size_t n,
                      uint8_t *out)
{
    size_t out_len = httpa_hash_len(h);
    if (out_len == 0 || out == NULL || (key.len > 0 && key.base == NULL) || !parts_ok(parts, n))
        return HTTPA_ERR_INVALID_ARG;
    EVP_MAC_CTX *ctx = httpa__hmac_new(h, key);
    int ok = ctx != NULL && mac_parts(ctx, out_len, parts, n, out);
    EVP_MAC_CTX_free(ctx);
    if (ok)
        return HTTPA_OK;
    httpa_wipe(out, out_len);
    return httpa__ossl_error(HTTPA_ERR_LIBRARY);
}

/* ---- HKDF on a reusable keyed context (kdf.h) ---- */

httpa_err httpa_kdf_init(httpa_kdf *k, httpa_hash_alg h)
{
    if (k == NULL)
        return HTTPA_ERR_INVALID_ARG;
    k->hash = h;
    k->hlen = httpa_hash_len(h);
    k->mac = NULL;
    if (k->hlen == 0)
        return HTTPA_ERR_INVALID_ARG;
    k->mac = httpa__hmac_new(h, HTTPA_SPAN(NULL, 0));
    return k->mac != NULL ? HTTPA_OK : httpa__ossl_error(HTTPA_ERR_LIBRARY);
}

void httpa_kdf_clear(httpa_kdf *k)
{
    if (k == NULL)
        return;
    EVP_MAC_CTX_free(k->mac); /* wipes the keyed state */
    k->mac = NULL;
}

httpa_err httpa_kdf_key(httpa_kdf *k, httpa_span secret)
{
    if (k == NULL || k->mac == NULL || (secret.len > 0 && secret.base == NULL))
        return HTTPA_ERR_INVALID_ARG;
    if (!EVP_MAC_init(k->mac, httpa__span_ptr(secret), secret.len, NULL))
        return httpa__ossl_error(HTTPA_ERR_LIBRARY);
    return HTTPA_OK;
}

httpa_err httpa_kdf_extract(httpa_kdf *k, httpa_span salt, httpa_span ikm, uint8_t *out)
{
    uint8_t zeros[HTTPA_MAX_HASH] = {0};
    if (k == NULL || k->mac == NULL || out == NULL || (ikm.len > 0 && ikm.base == NULL))
        return HTTPA_ERR_INVALID_ARG;
    /* RFC 5869 section 2.2: an absent salt is Hlen zero octets. */
    if (salt.len == 0)
        salt = HTTPA_SPAN(zeros, k->hlen);
    httpa_err e = httpa_kdf_key(k, salt);
    if (e != HTTPA_OK)
        return e;
    if (mac_parts(k->mac, k->hlen, &ikm, 1, out))
        return HTTPA_OK;
    httpa_wipe(out, k->hlen);
    return httpa__ossl_error(HTTPA_ERR_LIBRARY);
}

/* T(i) = HMAC(PRK, T(i-1) || info || i), RFC 5869 section 2.3. */
static int expand_blocks(httpa_kdf *k, httpa_span info, uint8_t *out, size_t out_len)
{
    uint8_t t[HTTPA_MAX_HASH];
    size_t t_len = 0;
    int ok = 1;
    for (uint8_t i = 1; ok && out_len > 0; i++) {
        const httpa_span parts[] = {HTTPA_SPAN(t, t_len), info, HTTPA_SPAN(&i, 1)};
        ok = mac_parts(k->mac, k->hlen, parts, 3, t);
        size_t n = out_len < k->hlen ? out_len : k->hlen;
        if (ok)
            memcpy(out, t, n);
        out += n;
        out_len -= n;
        t_len = k->hlen;
    }
    httpa_wipe(t, sizeof(t));
    return ok;
}

httpa_err httpa_kdf_expand(httpa_kdf *k, httpa_span info, uint8_t *out, size_t out_len)
{
    if (k == NULL || k->mac == NULL || out == NULL || (info.len > 0 && info.base == NULL))
        return HTTPA_ERR_INVALID_ARG;
    if (out_len == 0 || out_len > 255 * k->hlen || info.len > HKDF_INFO_MAX)
        return HTTPA_ERR_INVALID_ARG;
    if (expand_blocks(k, info, out, out_len))
        return HTTPA_OK;
    httpa_wipe(out, out_len);
    return httpa__ossl_error(HTTPA_ERR_LIBRARY);
}

httpa_err httpa_kdf_expand_label(httpa_kdf *k, const char *label, httpa_span context,
                                 uint8_t *out, size_t out_len)
{
    uint8_t info[HKDF_LABEL_MAX];
    size_t info_len = 0;
    httpa_err e = httpa_hkdf_label(label, context, out_len, info, &info_len);
    if (e != HTTPA_OK)
        return e;
    return httpa_kdf_expand(k, HTTPA_SPAN(info, info_len), out, out_len);
}

/* ---- one-shot HKDF ---- */

httpa_err httpa_hkdf_extract(httpa_hash_alg h, httpa_span salt, httpa_span ikm, uint8_t *out)
{
    httpa_kdf k;
    if (out == NULL || (salt.len > 0 && salt.base == NULL))
        return HTTPA_ERR_INVALID_ARG;
    httpa_err e = httpa_kdf_init(&k, h);
    if (e == HTTPA_OK)
        e = httpa_kdf_extract(&k, salt, ikm, out);
    httpa_kdf_clear(&k);
    return e;
}

httpa_err httpa_hkdf_expand(httpa_hash_alg h, httpa_span prk, httpa_span info, uint8_t *out,
                            size_t out_len)
{
    httpa_kdf k;
    httpa_err e = httpa_kdf_init(&k, h);
    if (e == HTTPA_OK)
        e = httpa_kdf_key(&k, prk);
    if (e == HTTPA_OK)
        e = httpa_kdf_expand(&k, info, out, out_len);
    httpa_kdf_clear(&k);
    return e;
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
    httpa_kdf k;
    httpa_err e = httpa_kdf_init(&k, h);
    if (e == HTTPA_OK)
        e = httpa_kdf_key(&k, secret);
    if (e == HTTPA_OK)
        e = httpa_kdf_expand_label(&k, label, context, out, out_len);
    httpa_kdf_clear(&k);
    return e;
}
