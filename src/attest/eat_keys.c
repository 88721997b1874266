/* Trusted Authority keys: verification keysets (JWKS, PEM), RFC 7638
 * thumbprints, JWK output, and ES256 signers. Keys are kept as raw P-256
 * values; their PEM forms (for export) are built with fixed DER templates,
 * and PEM files are read with OpenSSL's decoders. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "dcap_int.h"
#include "eat_int.h"
#include "httpa/crypto.h"

/* SubjectPublicKeyInfo of a P-256 key, up to the BIT STRING contents. */
static const uint8_t SPKI_PREFIX[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                      0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                      0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
/* SEC1 ECPrivateKey: version 1, the scalar, the curve, the public key. */
static const uint8_t SEC1_HEAD[] = {0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20};
static const uint8_t SEC1_MID[] = {0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
                                   0x03, 0x01, 0x07, 0xa1, 0x44, 0x03, 0x42, 0x00};

#define KEY_FILE_MAX (256 * 1024)

static httpa_err say(char *err, size_t n, httpa_err e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static httpa_err say(char *err, size_t n, httpa_err e, const char *fmt, ...)
{
    if (err != NULL && n > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
    }
    return e;
}

static const char *or_none(const char *s)
{
    return s != NULL ? s : "(none)";
}

/* ---- keysets ---- */

void httpa_eat_keyset_init(httpa_eat_keyset *ks)
{
    memset(ks, 0, sizeof(*ks));
}

static bool kid_ok(const char *kid)
{
    size_t n = kid != NULL ? strlen(kid) : 0;
    if (n == 0 || n >= HTTPA_EAT_KID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (kid[i] < 0x21 || kid[i] > 0x7e)
            return false;
    return true;
}

const httpa_eat_key *httpa_eat_keyset_find(const httpa_eat_keyset *ks, const char *kid,
                                           size_t kid_len)
{
    for (size_t i = 0; ks != NULL && i < ks->n; i++)
        if (strlen(ks->keys[i].kid) == kid_len && memcmp(ks->keys[i].kid, kid, kid_len) == 0)
            return &ks->keys[i];
    return NULL;
}

httpa_err httpa_eat_keyset_add(httpa_eat_keyset *ks, const char *kid,
                               const uint8_t pub[HTTPA_EAT_PUB_LEN])
{
    uint8_t der[sizeof(SPKI_PREFIX) + HTTPA_EAT_PUB_LEN];
    if (ks == NULL || pub == NULL || !kid_ok(kid) ||
        httpa_eat_keyset_find(ks, kid, strlen(kid)) != NULL ||
        httpa_kex_check_share(HTTPA_SECP256R1, HTTPA_SPAN(pub, HTTPA_EAT_PUB_LEN)) != HTTPA_OK)
        return HTTPA_ERR_INVALID_ARG;
    if (ks->n == HTTPA_EAT_MAX_KEYS)
        return HTTPA_ERR_TOO_LARGE;
    httpa_eat_key *k = &ks->keys[ks->n];
    memcpy(der, SPKI_PREFIX, sizeof(SPKI_PREFIX));
    memcpy(der + sizeof(SPKI_PREFIX), pub, HTTPA_EAT_PUB_LEN);
    httpa_err e = eat_pem("PUBLIC KEY", der, sizeof(der), k->pem, sizeof(k->pem));
    if (e != HTTPA_OK)
        return e;
    snprintf(k->kid, sizeof(k->kid), "%s", kid);
    memcpy(k->pub, pub, HTTPA_EAT_PUB_LEN);
    ks->n++;
    return HTTPA_OK;
}

httpa_err httpa_eat_thumbprint(const uint8_t pub[HTTPA_EAT_PUB_LEN],
                               char out[HTTPA_EAT_THUMBPRINT_LEN + 1])
{
    uint8_t h[32];
    httpa_buf x, y, t;
    httpa_buf_init(&x, 64);
    httpa_buf_init(&y, 64);
    httpa_buf_init(&t, 256);
    httpa_err e = httpa_base64url_encode(HTTPA_SPAN(pub + 1, 32), &x);
    if (e == HTTPA_OK)
        e = httpa_base64url_encode(HTTPA_SPAN(pub + 33, 32), &y);
    /* RFC 7638: the required members in lexicographic order, no spaces. */
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(&t, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"");
    if (e == HTTPA_OK)
        e = httpa_buf_append(&t, x.base, x.len);
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(&t, "\",\"y\":\"");
    if (e == HTTPA_OK)
        e = httpa_buf_append(&t, y.base, y.len);
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(&t, "\"}");
    if (e == HTTPA_OK)
        e = httpa_hash(HTTPA_SHA256, httpa_buf_span(&t), h);
    httpa_buf_reset(&x);
    if (e == HTTPA_OK)
        e = httpa_base64url_encode(HTTPA_SPAN(h, 32), &x);
    if (e == HTTPA_OK && x.len != HTTPA_EAT_THUMBPRINT_LEN)
        e = HTTPA_ERR_INTERNAL;
    if (e == HTTPA_OK) {
        memcpy(out, x.base, x.len);
        out[x.len] = '\0';
    }
    httpa_buf_free(&x);
    httpa_buf_free(&y);
    httpa_buf_free(&t);
    return e;
}

httpa_err httpa_eat_jwk_append(const char *kid, const uint8_t pub[HTTPA_EAT_PUB_LEN],
                               httpa_buf *out)
{
    json_t *o = json_object();
    httpa_err e = o != NULL ? HTTPA_OK : HTTPA_ERR_NOMEM;
    if (e == HTTPA_OK && (json_object_set_new(o, "kty", json_string("EC")) != 0 ||
                          json_object_set_new(o, "crv", json_string("P-256")) != 0 ||
                          json_object_set_new(o, "kid", json_string(kid)) != 0 ||
                          json_object_set_new(o, "use", json_string("sig")) != 0 ||
                          json_object_set_new(o, "alg", json_string("ES256")) != 0 ||
                          json_object_set_new(o, "x", eat_b64u_json(pub + 1, 32)) != 0 ||
                          json_object_set_new(o, "y", eat_b64u_json(pub + 33, 32)) != 0))
        e = HTTPA_ERR_NOMEM;
    char *s = e == HTTPA_OK ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (e == HTTPA_OK)
        e = s != NULL ? httpa_buf_append_str(out, s) : HTTPA_ERR_NOMEM;
    free(s);
    json_decref(o);
    return e;
}

/* ---- JWKS ---- */

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* One JWK. *used is false for a key of another type or use (skipped). */
static httpa_err add_jwk(httpa_eat_keyset *ks, json_t *k, bool *used, char *err, size_t n)
{
    uint8_t pub[HTTPA_EAT_PUB_LEN] = {0x04};
    const char *kty = jstr(k, "kty"), *crv = jstr(k, "crv"), *kid = jstr(k, "kid");
    const char *x = jstr(k, "x"), *y = jstr(k, "y"), *use = jstr(k, "use"), *alg = jstr(k, "alg");
    *used = false;
    if (!json_is_object(k))
        return say(err, n, HTTPA_ERR_INVALID_ARG, "jwks: a key is not a JSON object");
    if (json_object_get(k, "d") != NULL)
        return say(err, n, HTTPA_ERR_INVALID_ARG,
                   "jwks: key %s holds a private key (\"d\"): refused", or_none(kid));
    if (kty == NULL || strcmp(kty, "EC") != 0 || crv == NULL || strcmp(crv, "P-256") != 0 ||
        (use != NULL && strcmp(use, "sig") != 0) || (alg != NULL && strcmp(alg, "ES256") != 0))
        return HTTPA_OK; /* another key type or use: not an ES256 verification key */
    if (!kid_ok(kid) || x == NULL || y == NULL || !eat_b64u_exact(x, strlen(x), pub + 1, 32) ||
        !eat_b64u_exact(y, strlen(y), pub + 33, 32))
        return say(err, n, HTTPA_ERR_INVALID_ARG,
                   "jwks: P-256 key %s needs kid (1..63 printable octets) and 32-octet "
                   "base64url x and y", or_none(kid));
    httpa_err e = httpa_eat_keyset_add(ks, kid, pub);
    if (e == HTTPA_ERR_TOO_LARGE)
        return say(err, n, e, "jwks: more than %d keys (at %s)", HTTPA_EAT_MAX_KEYS, kid);
    if (e != HTTPA_OK)
        return say(err, n, e, "jwks: key %s is not on P-256 or its kid repeats", kid);
    *used = true;
    return HTTPA_OK;
}

httpa_err httpa_eat_keyset_parse_jwks(httpa_eat_keyset *ks, const char *json, size_t len,
                                      char *err, size_t err_len)
{
    json_error_t je;
    size_t i, added = 0;
    json_t *k = NULL;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    json_t *keys = json_object_get(root, "keys");
    httpa_err e = HTTPA_OK;
    if (!json_is_object(root))
        e = say(err, err_len, HTTPA_ERR_INVALID_ARG, "jwks: %s",
                root == NULL ? je.text : "not a JSON object");
    else if (keys == NULL && json_object_get(root, "kty") != NULL) {
        bool used = false;
        e = add_jwk(ks, root, &used, err, err_len);
        added += used;
    } else if (!json_is_array(keys))
        e = say(err, err_len, HTTPA_ERR_INVALID_ARG, "jwks: \"keys\" must be an array");
    else
        json_array_foreach(keys, i, k) {
            bool used = false;
            if (e == HTTPA_OK)
                e = add_jwk(ks, k, &used, err, err_len);
            added += used;
        }
    json_decref(root);
    if (e == HTTPA_OK && added == 0)
        e = say(err, err_len, HTTPA_ERR_INVALID_ARG, "jwks: no P-256 ES256 key");
    return e;
}

/* ---- PEM (OpenSSL decoders) ---- */

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return 0; /* encrypted keys are refused, never prompted for */
}

static bool is_p256(EVP_PKEY *k)
{
    char group[32] = "";
    return k != NULL && EVP_PKEY_is_a(k, "EC") &&
           EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                          NULL) == 1 &&
           strcmp(group, "prime256v1") == 0;
}

static bool point_of(EVP_PKEY *k, uint8_t pub[HTTPA_EAT_PUB_LEN])
{
    size_t n = 0;
    return EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub,
                                           HTTPA_EAT_PUB_LEN, &n) == 1 &&
           n == HTTPA_EAT_PUB_LEN && pub[0] == 0x04;
}

static EVP_PKEY *read_pem(const char *pem, size_t len, bool private_key)
{
    if (len > KEY_FILE_MAX)
        return NULL;
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *k = NULL;
    if (b != NULL)
        k = private_key ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL)
                        : PEM_read_bio_PUBKEY(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    return k;
}

httpa_err httpa_eat_keyset_parse_pem(httpa_eat_keyset *ks, const char *pem, size_t len,
                                     const char *kid, char *err, size_t err_len)
{
    uint8_t pub[HTTPA_EAT_PUB_LEN];
    char tp[HTTPA_EAT_THUMBPRINT_LEN + 1];
    EVP_PKEY *k = read_pem(pem, len, false);
    bool ok = is_p256(k) && point_of(k, pub);
    EVP_PKEY_free(k);
    if (!ok)
        return say(err, err_len, HTTPA_ERR_INVALID_ARG,
                   "pem: not a P-256 public key (BEGIN PUBLIC KEY)");
    if (kid == NULL && httpa_eat_thumbprint(pub, tp) != HTTPA_OK)
        return say(err, err_len, HTTPA_ERR_INTERNAL, "pem: cannot compute the thumbprint");
    httpa_err e = httpa_eat_keyset_add(ks, kid != NULL ? kid : tp, pub);
    return e == HTTPA_OK ? e : say(err, err_len, e, "pem: cannot add the key (kid %s)", or_none(kid));
}

httpa_err httpa_eat_keyset_load(httpa_eat_keyset *ks, const char *path, char *err,
                                size_t err_len)
{
    httpa_buf b;
    httpa_err e = dcap_read_file(path, KEY_FILE_MAX, &b);
    if (e != HTTPA_OK)
        return say(err, err_len, e, "cannot read %s", path);
    size_t i = 0;
    while (i < b.len && (b.base[i] == ' ' || b.base[i] == '\n' || b.base[i] == '\r' ||
                         b.base[i] == '\t'))
        i++;
    if (i < b.len && b.base[i] == '{')
        e = httpa_eat_keyset_parse_jwks(ks, (const char *)b.base, b.len, err, err_len);
    else
        e = httpa_eat_keyset_parse_pem(ks, (const char *)b.base, b.len, NULL, err, err_len);
    httpa_buf_free(&b);
    return e;
}

/* ---- signers ---- */

static httpa_err signer_finish(httpa_eat_signer *s, const char *kid)
{
    uint8_t der[sizeof(SEC1_HEAD) + 32 + sizeof(SEC1_MID) + HTTPA_EAT_PUB_LEN];
    char tp[HTTPA_EAT_THUMBPRINT_LEN + 1];
    httpa_err e = kid != NULL ? (kid_ok(kid) ? HTTPA_OK : HTTPA_ERR_INVALID_ARG)
                              : httpa_eat_thumbprint(s->pub, tp);
    if (e == HTTPA_OK)
        snprintf(s->kid, sizeof(s->kid), "%s", kid != NULL ? kid : tp);
    memcpy(der, SEC1_HEAD, sizeof(SEC1_HEAD));
    memcpy(der + sizeof(SEC1_HEAD), s->priv, 32);
    memcpy(der + sizeof(SEC1_HEAD) + 32, SEC1_MID, sizeof(SEC1_MID));
    memcpy(der + sizeof(SEC1_HEAD) + 32 + sizeof(SEC1_MID), s->pub, HTTPA_EAT_PUB_LEN);
    if (e == HTTPA_OK)
        e = eat_pem("EC PRIVATE KEY", der, sizeof(der), s->pem, sizeof(s->pem));
    httpa_wipe(der, sizeof(der));
    if (e != HTTPA_OK)
        httpa_eat_signer_clear(s);
    return e;
}

/* The public key of a scalar (also checks 0 < priv < n). */
static httpa_err public_of(const uint8_t priv[32], uint8_t pub[HTTPA_EAT_PUB_LEN])
{
    httpa_sign_key *k = NULL;
    httpa_err e = httpa_sign_key_new(HTTPA_ECDSA_P256_SHA256, priv, 32, pub, &k);
    httpa_sign_key_free(k);
    return e;
}

httpa_err httpa_eat_signer_init(httpa_eat_signer *s, const uint8_t *priv, const char *kid)
{
    httpa_err e = HTTPA_ERR_LIBRARY;
    if (s == NULL)
        return HTTPA_ERR_INVALID_ARG;
    memset(s, 0, sizeof(*s));
    if (priv != NULL) {
        memcpy(s->priv, priv, 32);
        e = public_of(s->priv, s->pub);
    }
    for (int tries = 0; priv == NULL && e != HTTPA_OK && tries < 8; tries++) {
        e = httpa_random(s->priv, 32);
        if (e == HTTPA_OK)
            e = public_of(s->priv, s->pub);
    }
    if (e != HTTPA_OK) {
        httpa_eat_signer_clear(s);
        return e == HTTPA_ERR_NOMEM ? e : HTTPA_ERR_INVALID_ARG;
    }
    return signer_finish(s, kid);
}

httpa_err httpa_eat_signer_load_pem(httpa_eat_signer *s, const char *pem, size_t len,
                                    const char *kid, char *err, size_t err_len)
{
    BIGNUM *d = NULL;
    if (s == NULL)
        return HTTPA_ERR_INVALID_ARG;
    memset(s, 0, sizeof(*s));
    EVP_PKEY *k = read_pem(pem, len, true);
    bool ok = is_p256(k) && EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1 &&
              BN_bn2binpad(d, s->priv, 32) == 32;
    BN_clear_free(d);
    EVP_PKEY_free(k);
    if (!ok || public_of(s->priv, s->pub) != HTTPA_OK) {
        httpa_eat_signer_clear(s);
        return say(err, err_len, HTTPA_ERR_INVALID_ARG,
                   "pem: not an unencrypted P-256 private key");
    }
    httpa_err e = signer_finish(s, kid);
    return e == HTTPA_OK ? e : say(err, err_len, e, "pem: bad kid %s", or_none(kid));
}

void httpa_eat_signer_clear(httpa_eat_signer *s)
{
    if (s != NULL)
        httpa_wipe(s, sizeof(*s));
}
