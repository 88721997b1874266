/* Engine-internal state shared by the handshake and transaction code. */
#ifndef HTTPA_ENGINE_SESSION_H
#define HTTPA_ENGINE_SESSION_H

#include <stdatomic.h>

#include "httpa/client.h"
#include "httpa/server.h"
#include "fields.h"
#include "protect.h"
#include "store.h"

#define HTTPA_VERSION_TOKEN "httpa/2"
#define HTTPA_DATE_WINDOW 120
#define HTTPA_KEY_MARGIN 300
#define HTTPA_MAX_KEY_LIFETIME 604800
#define HTTPA_MAX_KEYS 4
#define HTTPA_MAX_EVIDENCE 4

/* What an AtHS signs with for one attested key, built once by
 * httpa_server_add_key: the signing key, the Attest-Quotes value QV and
 * Hash(QV) for each suite hash. Immutable afterwards and reference-counted:
 * a handshake takes a reference at step 8 and signs outside keys_lock, so
 * signatures on many threads run in parallel while the key may be replaced. */
typedef struct httpa_key_rec {
    _Atomic unsigned refs;
    httpa_sign_key *key;
    httpa_buf quotes;                        /* QV */
    uint8_t quotes_hash[3][HTTPA_MAX_HASH];  /* Hash(QV), by httpa_hash_alg */
} httpa_key_rec;

typedef struct httpa_server_key {
    httpa_sig_alg alg;
    httpa_key_rec *rec;                      /* one reference */
    uint8_t pub[HTTPA_SIG_MAX_PUB];
    size_t pub_len;
    int64_t not_after;
    size_t nev;
    struct {
        char tee[HTTPA_TEE_TOKEN_MAX];
        char format[8];
        httpa_buf evidence;
    } ev[HTTPA_MAX_EVIDENCE];
} httpa_server_key;

struct httpa_server {
    httpa_server_config cfg;
    httpa_store *store;
    pthread_mutex_t keys_lock;               /* guards keys[] and nkeys */
    httpa_server_key keys[HTTPA_MAX_KEYS];
    size_t nkeys;
};

/* Random octets from the configured source (or the CSPRNG). */
httpa_err httpa__rng(httpa_rng *rng, uint8_t *out, size_t len) HTTPA_MUST_USE;

/* problem+json body and Attest-Error field for `err` into resp/body
 * (resp's status is set from the error). */
httpa_err httpa__problem(httpa_err err, int status, const char *detail, httpa_msg *resp,
                         httpa_buf *body) HTTPA_MUST_USE;

/* Client side Attest Base. Traffic keys are kept without AEAD contexts
 * (aead == NULL): each transaction keys its own, so bases stay small and
 * transactions on many threads never share an EVP context. */
struct httpa_client_base {
    char id[HTTPA_BASE_ID_LEN + 1];
    const httpa_suite *suite;
    httpa_traffic c_ap;
    httpa_traffic s_ap;
    uint8_t exporter_master[HTTPA_MAX_HASH];
    httpa_limits limits;
    _Atomic uint64_t next_seq;
    _Atomic unsigned refs;
    int64_t expires_at;         /* AtHS send time + Attest-Expires */
    atomic_bool closed;         /* terminated by a verified response */
    httpa_appraisal appraisal;
    size_t nsecrets;            /* from the AtHS response */
    char **secret_names;
    httpa_span *secret_spans;
    httpa_buf *secret_values;
};

#endif
