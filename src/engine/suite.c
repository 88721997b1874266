/* Cipher suites, groups and signature algorithms by token (profile 8.1,
 * 8.2, 7.2), traffic keys and the key schedule (8.3), the exporter (8.5). */
#include <pthread.h>
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

/* key, iv and mac_key from a traffic secret, under one keying of `k`. */
static httpa_err traffic_keys(httpa_kdf *k, httpa_traffic *t, const httpa_suite *s,
                              const uint8_t *secret)
{
    memset(t, 0, sizeof(*t));
    t->suite = s;
    httpa_err e = httpa_kdf_key(k, HTTPA_SPAN(secret, s->hlen));
    if (e == HTTPA_OK)
        e = httpa_kdf_expand_label(k, "key", empty_span, t->key, s->key_len);
    if (e == HTTPA_OK)
        e = httpa_kdf_expand_label(k, "iv", empty_span, t->iv, HTTPA_IV_LEN);
    if (e == HTTPA_OK)
        e = httpa_kdf_expand_label(k, "mac", empty_span, t->mac_key, s->hlen);
    if (e != HTTPA_OK)
        httpa_traffic_wipe(t);
    return e;
}

static httpa_err traffic_aead(httpa_traffic *t)
{
    const httpa_suite *s = t->suite;
    httpa_err e = httpa_aead_new(s->aead, HTTPA_SPAN(t->key, s->key_len), &t->aead);
    if (e != HTTPA_OK)
        httpa_traffic_wipe(t);
    return e;
}

httpa_err httpa_traffic_init(httpa_traffic *t, const httpa_suite *s, const uint8_t *secret)
{
    if (t == NULL || s == NULL || secret == NULL)
        return HTTPA_ERR_INVALID_ARG;
    httpa_kdf k;
    httpa_err e = httpa_kdf_init(&k, s->hash);
    if (e == HTTPA_OK)
        e = traffic_keys(&k, t, s, secret);
    httpa_kdf_clear(&k);
    return e == HTTPA_OK ? traffic_aead(t) : e;
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

/* Derive-Secret(secret, label, ctx) under the key `k` holds: Hlen-octet
 * context and output. */
static httpa_err derive_secret(httpa_kdf *k, const httpa_suite *s, const char *label,
                               const uint8_t *ctx, uint8_t *out)
{
    return httpa_kdf_expand_label(k, label, HTTPA_SPAN(ctx, s->hlen), out, s->hlen);
}

/* Hash(""), early_secret = HKDF-Extract(0, 0) and derived_0 =
 * Derive-Secret(early_secret, "derived", Hash("")) depend on the hash
 * alone. They are computed once per process (pthread_once) and only read
 * afterwards: not mutable state, and two HMAC keyings, two MACs and a hash
 * less per handshake. The known-answer tests of the schedule check them. */
typedef struct hash_consts {
    uint8_t empty_hash[HTTPA_MAX_HASH];
    uint8_t early_secret[HTTPA_MAX_HASH];
    uint8_t derived_0[HTTPA_MAX_HASH];
} hash_consts;

static hash_consts consts[3]; /* by httpa_hash_alg */
static bool consts_ok;
static pthread_once_t consts_once = PTHREAD_ONCE_INIT;

static httpa_err consts_compute(httpa_hash_alg h, hash_consts *c)
{
    uint8_t zero[HTTPA_MAX_HASH] = {0};
    size_t hl = httpa_hash_len(h);
    httpa_err e = httpa_hash(h, empty_span, c->empty_hash);
    if (e == HTTPA_OK)
        e = httpa_hkdf_extract(h, HTTPA_SPAN(zero, hl), HTTPA_SPAN(zero, hl), c->early_secret);
    if (e == HTTPA_OK)
        e = httpa_hkdf_expand_label(h, HTTPA_SPAN(c->early_secret, hl), "derived",
                                    HTTPA_SPAN(c->empty_hash, hl), c->derived_0, hl);
    return e;
}

static void consts_init(void)
{
    static const httpa_hash_alg all[] = {HTTPA_SHA256, HTTPA_SHA384, HTTPA_SHA512};
    bool ok = true;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        ok = ok && consts_compute(all[i], &consts[all[i]]) == HTTPA_OK;
    consts_ok = ok;
}

static const hash_consts *consts_of(httpa_hash_alg h)
{
    if (pthread_once(&consts_once, consts_init) != 0 || !consts_ok || (unsigned)h >= 3)
        return NULL;
    return &consts[h];
}

/* Key `k` with `secret` (Hlen octets) for the derivations that follow. */
static httpa_err key_with(httpa_kdf *k, const httpa_suite *s, const uint8_t *secret)
{
    return httpa_kdf_key(k, HTTPA_SPAN(secret, s->hlen));
}

/* handshake_secret, the handshake traffic secrets and derived_1 (all three
 * under one keying with handshake_secret). */
static httpa_err handshake_phase(httpa_kdf *k, httpa_schedule_all *a, const httpa_suite *s,
                                 const uint8_t shared[32], const uint8_t *th,
                                 const uint8_t *empty_hash, bool want_c_hs)
{
    httpa_err e = httpa_kdf_extract(k, HTTPA_SPAN(a->derived_0, s->hlen), HTTPA_SPAN(shared, 32),
                                    a->handshake_secret);
    if (e == HTTPA_OK)
        e = key_with(k, s, a->handshake_secret);
    if (e == HTTPA_OK && want_c_hs)
        e = derive_secret(k, s, "c hs traffic", th, a->c_hs);
    if (e == HTTPA_OK)
        e = derive_secret(k, s, "s hs traffic", th, a->s_hs);
    if (e == HTTPA_OK)
        e = derive_secret(k, s, "derived", empty_hash, a->derived_1);
    return e;
}

/* master_secret and the application and exporter secrets. */
static httpa_err master_phase(httpa_kdf *k, httpa_schedule_all *a, const httpa_suite *s,
                              const uint8_t *th)
{
    uint8_t zero[HTTPA_MAX_HASH] = {0};
    httpa_err e = httpa_kdf_extract(k, HTTPA_SPAN(a->derived_1, s->hlen),
                                    HTTPA_SPAN(zero, s->hlen), a->master_secret);
    if (e == HTTPA_OK)
        e = key_with(k, s, a->master_secret);
    if (e == HTTPA_OK)
        e = derive_secret(k, s, "c ap traffic", th, a->c_ap);
    if (e == HTTPA_OK)
        e = derive_secret(k, s, "s ap traffic", th, a->s_ap);
    if (e == HTTPA_OK)
        e = derive_secret(k, s, "exp master", th, a->exporter_master);
    return e;
}

static httpa_err run_schedule(httpa_kdf *k, httpa_schedule_all *a, const httpa_suite *s,
                              const uint8_t shared[32], const uint8_t *th, bool want_c_hs)
{
    if (a == NULL || s == NULL || shared == NULL || th == NULL)
        return HTTPA_ERR_INVALID_ARG;
    memset(a, 0, sizeof(*a));
    const hash_consts *c = consts_of(s->hash);
    if (c == NULL)
        return HTTPA_ERR_LIBRARY;
    memcpy(a->early_secret, c->early_secret, s->hlen);
    memcpy(a->derived_0, c->derived_0, s->hlen);
    httpa_err e = handshake_phase(k, a, s, shared, th, c->empty_hash, want_c_hs);
    if (e == HTTPA_OK)
        e = master_phase(k, a, s, th);
    if (e != HTTPA_OK)
        httpa_wipe(a, sizeof(*a));
    return e;
}

/* run_schedule with a context of its own. */
static httpa_err schedule_once(httpa_schedule_all *a, const httpa_suite *s,
                               const uint8_t shared[32], const uint8_t *th, bool want_c_hs)
{
    if (s == NULL)
        return HTTPA_ERR_INVALID_ARG;
    httpa_kdf k;
    httpa_err e = httpa_kdf_init(&k, s->hash);
    if (e == HTTPA_OK)
        e = run_schedule(&k, a, s, shared, th, want_c_hs);
    httpa_kdf_clear(&k);
    return e;
}

httpa_err httpa_schedule_derive_all(httpa_schedule_all *a, const httpa_suite *s,
                                    const uint8_t shared[32], const uint8_t *th_hs)
{
    return schedule_once(a, s, shared, th_hs, true);
}

static void schedule_keep(httpa_schedule *ks, const httpa_suite *s, const httpa_schedule_all *a)
{
    ks->suite = s;
    memcpy(ks->s_hs, a->s_hs, sizeof(ks->s_hs));
    memcpy(ks->c_ap, a->c_ap, sizeof(ks->c_ap));
    memcpy(ks->s_ap, a->s_ap, sizeof(ks->s_ap));
    memcpy(ks->exporter_master, a->exporter_master, sizeof(ks->exporter_master));
}

httpa_err httpa_schedule_derive(httpa_schedule *ks, const httpa_suite *s,
                                const uint8_t shared[32], const uint8_t *th_hs)
{
    if (ks == NULL)
        return HTTPA_ERR_INVALID_ARG;
    httpa_schedule_all a;
    httpa_err e = schedule_once(&a, s, shared, th_hs, false);
    memset(ks, 0, sizeof(*ks));
    if (e == HTTPA_OK)
        schedule_keep(ks, s, &a);
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

/* ---- everything an AtHS derives ---- */

static httpa_err hs_keys_run(httpa_kdf *k, httpa_hs_keys *out, const httpa_suite *s,
                             const uint8_t shared[32], const uint8_t *th_hs)
{
    httpa_schedule_all a;
    httpa_err e = run_schedule(k, &a, s, shared, th_hs, false);
    if (e == HTTPA_OK)
        schedule_keep(&out->ks, s, &a);
    httpa_wipe(&a, sizeof(a));
    if (e == HTTPA_OK)
        e = key_with(k, s, out->ks.s_hs);
    if (e == HTTPA_OK)
        e = httpa_kdf_expand_label(k, "mac", empty_span, out->s_hs_mac, s->hlen);
    if (e == HTTPA_OK)
        e = traffic_keys(k, &out->c_ap, s, out->ks.c_ap);
    if (e == HTTPA_OK)
        e = traffic_keys(k, &out->s_ap, s, out->ks.s_ap);
    return e;
}

httpa_err httpa_hs_keys_derive(httpa_hs_keys *out, const httpa_suite *s,
                               const uint8_t shared[32], const uint8_t *th_hs)
{
    if (out == NULL || s == NULL)
        return HTTPA_ERR_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    httpa_kdf k;
    httpa_err e = httpa_kdf_init(&k, s->hash);
    if (e == HTTPA_OK)
        e = hs_keys_run(&k, out, s, shared, th_hs);
    httpa_kdf_clear(&k);
    if (e != HTTPA_OK)
        httpa_hs_keys_wipe(out);
    return e;
}

void httpa_hs_keys_wipe(httpa_hs_keys *k)
{
    if (k == NULL)
        return;
    httpa_schedule_wipe(&k->ks);
    httpa_wipe(k->s_hs_mac, sizeof(k->s_hs_mac));
    httpa_traffic_wipe(&k->c_ap);
    httpa_traffic_wipe(&k->s_ap);
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
        e = httpa_hkdf_expand_label(s->hash, HTTPA_SPAN(exporter_master, s->hlen), label,
                                    HTTPA_SPAN(empty_hash, s->hlen), secret, s->hlen);
    if (e == HTTPA_OK)
        e = httpa_hkdf_expand_label(s->hash, HTTPA_SPAN(secret, s->hlen), "exporter",
                                    HTTPA_SPAN(ctx_hash, s->hlen), out, out_len);
    httpa_wipe(secret, sizeof(secret));
    if (e != HTTPA_OK)
        httpa_wipe(out, out_len);
    return e;
}
