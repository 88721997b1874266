/* Cipher suites, groups and signature algorithms by their profile tokens,
 * and the key schedule of profile section 8.3. */
#ifndef HTTPA_ENGINE_SUITE_H
#define HTTPA_ENGINE_SUITE_H

#include "crypto/kdf.h"
#include "httpa/crypto.h"

typedef struct httpa_suite {
    const char *token;     /* "TLS_AES_128_GCM_SHA256" */
    httpa_aead_alg aead;
    httpa_hash_alg hash;
    size_t key_len;
    size_t hlen;
} httpa_suite;

const httpa_suite *httpa_suite_find(const char *token, size_t len);
/* Server preference order, NULL-terminated. */
extern const httpa_suite *const httpa_suites_preferred[];

/* Group and signature tokens; return -1 when unknown. */
int httpa_group_find(const char *token, size_t len);
const char *httpa_group_token(httpa_group g);
int httpa_sig_find(const char *token, size_t len);
const char *httpa_sig_token(httpa_sig_alg a);

/* Keys for one direction: traffic secret expansions plus a keyed AEAD. */
typedef struct httpa_traffic {
    uint8_t key[HTTPA_MAX_KEY];
    uint8_t iv[HTTPA_IV_LEN];
    uint8_t mac_key[HTTPA_MAX_HASH];
    const httpa_suite *suite;
    httpa_aead *aead;
} httpa_traffic;

/* Derive key, iv and mac_key from traffic secret `secret` (Hlen octets). */
httpa_err httpa_traffic_init(httpa_traffic *t, const httpa_suite *s,
                             const uint8_t *secret) HTTPA_MUST_USE;
void httpa_traffic_wipe(httpa_traffic *t);

/* The secrets of profile 8.3 that the protocol uses. */
typedef struct httpa_schedule {
    const httpa_suite *suite;
    uint8_t s_hs[HTTPA_MAX_HASH];
    uint8_t c_ap[HTTPA_MAX_HASH];
    uint8_t s_ap[HTTPA_MAX_HASH];
    uint8_t exporter_master[HTTPA_MAX_HASH];
} httpa_schedule;

httpa_err httpa_schedule_derive(httpa_schedule *ks, const httpa_suite *s,
                                const uint8_t shared[32], const uint8_t *th_hs) HTTPA_MUST_USE;
void httpa_schedule_wipe(httpa_schedule *ks);

/* Every secret of profile 8.3, c_hs included: for known-answer tests and
 * diagnostics only (the protocol uses httpa_schedule_derive). */
typedef struct httpa_schedule_all {
    uint8_t early_secret[HTTPA_MAX_HASH];
    uint8_t derived_0[HTTPA_MAX_HASH];
    uint8_t handshake_secret[HTTPA_MAX_HASH];
    uint8_t c_hs[HTTPA_MAX_HASH];
    uint8_t s_hs[HTTPA_MAX_HASH];
    uint8_t derived_1[HTTPA_MAX_HASH];
    uint8_t master_secret[HTTPA_MAX_HASH];
    uint8_t c_ap[HTTPA_MAX_HASH];
    uint8_t s_ap[HTTPA_MAX_HASH];
    uint8_t exporter_master[HTTPA_MAX_HASH];
} httpa_schedule_all;

httpa_err httpa_schedule_derive_all(httpa_schedule_all *a, const httpa_suite *s,
                                    const uint8_t shared[32],
                                    const uint8_t *th_hs) HTTPA_MUST_USE;

/* What a server's AtHS derives from (shared, TH_hs), under one HMAC
 * context: the schedule, the s_hs MAC key for the binder (the s_hs AEAD keys
 * are needed only for response secrets: httpa_traffic_init from ks.s_hs),
 * and the c_ap and s_ap traffic keys without AEAD contexts (bases keep key
 * material only). Wipe with httpa_hs_keys_wipe. */
typedef struct httpa_hs_keys {
    httpa_schedule ks;
    uint8_t s_hs_mac[HTTPA_MAX_HASH];
    httpa_traffic c_ap;
    httpa_traffic s_ap;
} httpa_hs_keys;

httpa_err httpa_hs_keys_derive(httpa_hs_keys *out, const httpa_suite *s,
                               const uint8_t shared[32], const uint8_t *th_hs) HTTPA_MUST_USE;
void httpa_hs_keys_wipe(httpa_hs_keys *k);

/* Exporter of profile 8.5. */
httpa_err httpa_export(const httpa_suite *s, const uint8_t *exporter_master, const char *label,
                       httpa_span context, uint8_t *out, size_t out_len) HTTPA_MUST_USE;

#endif
