/* Cipher suites, groups and signature algorithms by token (profile 8.1,
 * 8.2, 7.2), traffic keys and the key schedule (8.3), the exporter (8.5). */
#include <stdbool.h>
#include <string.h>

#include "engine/suite.h"

static const httpa_suite suite_aes128 = {
    "TLS_AES_128_GCM_SHA256", HTTPA_AES_128_GCM, HTTPA_SHA256, 16, 32};
static const httpa_suite suite_aes256 = {
    "TLS_AES_256_GCM_SHA384", HTTPA_AES_256_GCM, HTTPA_SHA384, 32, 48};
static const httpa_suite suite_chacha = {
    "TLS_CHACHA20_POLY1305_SHA256", HTTPA_CHACHA20_POLY1305, HTTPA_SHA256, 32, 32};

const httpa_suite *const httpa_suites_preferred[] = {
    &suite_aes128,
    &suite_aes256,
    &suite_chacha,
    NULL,
};

static const char *const group_tokens[] = {
    [HTTPA_X25519] = "x25519",
    [HTTPA_SECP256R1] = "secp256r1",
};

static const char *const sig_tokens[] = {
    [HTTPA_ED25519] = "ed25519",
    [HTTPA_ECDSA_P256_SHA256] = "ecdsa-p256-sha256",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool token_eq(const char *want, const char *token, size_t len)
{
    return token != NULL && strlen(want) == len && memcmp(want, token, len) == 0;
}

static int table_find(const char *const *table, size_t n, const char *token, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (token_eq(table[i], token, len))
            return (int)i;
    return -1;
}

const httpa_suite *httpa_suite_find(const char *token, size_t len)
{
    for (size_t i = 0; httpa_suites_preferred[i] != NULL; i++)
        if (token_eq(httpa_suites_preferred[i]->token, token, len))
            return httpa_suites_preferred[i];
    return NULL;
}

int httpa_group_find(const char *token, size_t len)
{
    return table_find(group_tokens, COUNT(group_tokens), token, len);
}

const char *httpa_group_token(httpa_group g)
{
    return (size_t)g < COUNT(group_tokens) ? group_tokens[g] : NULL;
}

int httpa_sig_find(const char *token, size_t len)
{
    return table_find(sig_tokens, COUNT(sig_tokens), token, len);
}

const char *httpa_sig_token(httpa_sig_alg a)
{
    return (size_t)a < COUNT(sig_tokens) ? sig_tokens[a] : NULL;
}

/* ---- traffic keys ---- */

static const httpa_span empty_span = {(const uint8_t *)"", 0};

httpa_err httpa_traffic_init(httpa_traffic *t, const httpa_suite *s, const uint8_t *secret)
{
    if (t == NULL || s == NULL || secret == NULL)
        return HTTPA_ERR_INVALID_ARG;
    memset(t, 0, sizeof(*t));
    t->suite = s;
    httpa_span sec = HTTPA_SPAN(secret, s->hlen);
    httpa_err e = httpa_hkdf_expand_label(s->hash, sec, "key", empty_span, t->key, s->key_len);
    if (e == HTTPA_OK)
        e = httpa_hkdf_expand_label(s->hash, sec, "iv", empty_span, t->iv, HTTPA_IV_LEN);
    if (e == HTTPA_OK)
        e = httpa_hkdf_expand_label(s->hash, sec, "mac", empty_span, t->mac_key, s->hlen);
    if (e == HTTPA_OK)
        e = httpa_aead_new(s->aead, HTTPA_SPAN(t->key, s->key_len), &t->aead);
    if (e != HTTPA_OK)
        httpa_traffic_wipe(t);
    return e;
}

void httpa_traffic_wipe(httpa_traffic *t)
{
    if (t == NULL)
        return;
    if (t->aead != NULL)
        httpa_aead_free(t->aead);
    httpa_wipe(t, sizeof(*t));
    t->aead = NULL;
    t->suite = NULL;
}

/* ---- key schedule (profile 8.3) ---- */

/* Derive-Secret(secret, label, ctx) with Hlen-octet secret and context. */
static httpa_err derive_secret(const httpa_suite *s, const uint8_t *secret, const char *label,
                               const uint8_t *ctx, uint8_t *out)
{
    return httpa_hkdf_expand_label(s->hash, HTTPA_SPAN(secret, s->hlen), label,
                                   HTTPA_SPAN(ctx, s->hlen), out, s->hlen);
}

/* early_secret, derived_0, handshake_secret, the handshake traffic secrets. */
static httpa_err handshake_phase(httpa_schedule_all *a, const httpa_suite *s,
                                 const uint8_t shared[32], const uint8_t *th,
                                 const uint8_t *empty_hash, bool want_c_hs)
{
    uint8_t zero[HTTPA_MAX_HASH] = {0};
    httpa_err e = httpa_hkdf_extract(s->hash, HTTPA_SPAN(zero, s->hlen),
                                     HTTPA_SPAN(zero, s->hlen), a->early_secret);
    if (e == HTTPA_OK)
        e = derive_secret(s, a->early_secret, "derived", empty_hash, a->derived_0);
    if (e == HTTPA_OK)
        e = httpa_hkdf_extract(s->hash, HTTPA_SPAN(a->derived_0, s->hlen),
                               HTTPA_SPAN(shared, 32), a->handshake_secret);
    if (e == HTTPA_OK && want_c_hs)
        e = derive_secret(s, a->handshake_secret, "c hs traffic", th, a->c_hs);
    if (e == HTTPA_OK)
        e = derive_secret(s, a->handshake_secret, "s hs traffic", th, a->s_hs);
    return e;
}

/* derived_1, master_secret and the application and exporter secrets. */
static httpa_err master_phase(httpa_schedule_all *a, const httpa_suite *s, const uint8_t *th,
                              const uint8_t *empty_hash)
{
    uint8_t zero[HTTPA_MAX_HASH] = {0};
    httpa_err e = derive_secret(s, a->handshake_secret, "derived", empty_hash, a->derived_1);
    if (e == HTTPA_OK)
        e = httpa_hkdf_extract(s->hash, HTTPA_SPAN(a->derived_1, s->hlen),
                               HTTPA_SPAN(zero, s->hlen), a->master_secret);
    if (e == HTTPA_OK)
        e = derive_secret(s, a->master_secret, "c ap traffic", th, a->c_ap);
    if (e == HTTPA_OK)
        e = derive_secret(s, a->master_secret, "s ap traffic", th, a->s_ap);
    if (e == HTTPA_OK)
        e = derive_secret(s, a->master_secret, "exp master", th, a->exporter_master);
    return e;
}

static httpa_err run_schedule(httpa_schedule_all *a, const httpa_suite *s,
                              const uint8_t shared[32], const uint8_t *th, bool want_c_hs)
{
    if (a == NULL || s == NULL || shared == NULL || th == NULL)
        return HTTPA_ERR_INVALID_ARG;
    memset(a, 0, sizeof(*a));
    uint8_t empty_hash[HTTPA_MAX_HASH];
    httpa_err e = httpa_hash(s->hash, empty_span, empty_hash);
    if (e == HTTPA_OK)
        e = handshake_phase(a, s, shared, th, empty_hash, want_c_hs);
    if (e == HTTPA_OK)
        e = master_phase(a, s, th, empty_hash);
    if (e != HTTPA_OK)
        httpa_wipe(a, sizeof(*a));
    return e;
}

httpa_err httpa_schedule_derive_all(httpa_schedule_all *a, const httpa_suite *s,
                                    const uint8_t shared[32], const uint8_t *th_hs)
{
    return run_schedule(a, s, shared, th_hs, true);
}

httpa_err httpa_schedule_derive(httpa_schedule *ks, const httpa_suite *s,
                                const uint8_t shared[32], const uint8_t *th_hs)
{
    if (ks == NULL)
        return HTTPA_ERR_INVALID_ARG;
    httpa_schedule_all a;
    httpa_err e = run_schedule(&a, s, shared, th_hs, false);
    memset(ks, 0, sizeof(*ks));
    if (e == HTTPA_OK) {
        ks->suite = s;
        memcpy(ks->s_hs, a.s_hs, sizeof(ks->s_hs));
        memcpy(ks->c_ap, a.c_ap, sizeof(ks->c_ap));
        memcpy(ks->s_ap, a.s_ap, sizeof(ks->s_ap));
        memcpy(ks->exporter_master, a.exporter_master, sizeof(ks->exporter_master));
    }
    httpa_wipe(&a, sizeof(a));
    return e;
}

void httpa_schedule_wipe(httpa_schedule *ks)
{
    if (ks == NULL)
        return;
    httpa_wipe(ks, sizeof(*ks));
    ks->suite = NULL;
}

/* ---- exporter (profile 8.5) ---- */

httpa_err httpa_export(const httpa_suite *s, const uint8_t *exporter_master, const char *label,
                       httpa_span context, uint8_t *out, size_t out_len)
{
    if (s == NULL || exporter_master == NULL || label == NULL || out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    uint8_t empty_hash[HTTPA_MAX_HASH], ctx_hash[HTTPA_MAX_HASH], secret[HTTPA_MAX_HASH];
    httpa_err e = httpa_hash(s->hash, empty_span, empty_hash);
    if (e == HTTPA_OK)
        e = httpa_hash(s->hash, context, ctx_hash);
    if (e == HTTPA_OK)
        e = derive_secret(s, exporter_master, label, empty_hash, secret);
    if (e == HTTPA_OK)
        e = httpa_hkdf_expand_label(s->hash, HTTPA_SPAN(secret, s->hlen), "exporter",
                                    HTTPA_SPAN(ctx_hash, s->hlen), out, out_len);
    httpa_wipe(secret, sizeof(secret));
    if (e != HTTPA_OK)
        httpa_wipe(out, out_len);
    return e;
}
