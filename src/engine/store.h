/* The server's Attest-Base store (profile 15.3): a locked hash table of
 * reference-counted bases, plus the Attest-Random replay cache (11.1). */
#ifndef HTTPA_ENGINE_STORE_H
#define HTTPA_ENGINE_STORE_H

#include <pthread.h>
#include <stdbool.h>

#include "httpa/attest.h"
#include "suite.h"
#include "window.h"

#define HTTPA_BASE_ID_LEN 36
#define HTTPA_MAX_REQUESTS (UINT64_C(1) << 24) /* per AtB, profile 9.6 */

/* One server-side Attest Base. Traffic keys are kept without AEAD contexts
 * (aead == NULL; each transaction keys its own). Keys and secrets are wiped
 * when the last reference goes. `lock` guards window, counters and flags. */
typedef struct httpa_base {
    char id[HTTPA_BASE_ID_LEN + 1];
    const httpa_suite *suite;
    httpa_traffic c_ap;
    httpa_traffic s_ap;
    uint8_t exporter_master[HTTPA_MAX_HASH];
    pthread_mutex_t lock;
    httpa_window window;
    uint64_t accepted;          /* committed requests */
    int64_t expires_at;
    bool terminated;
    bool allow_untrusted;
    bool client_attested;
    httpa_appraisal client_appraisal;
    char client_tee[16];        /* the tee token of the appraised client evidence */
    size_t nsecrets;            /* provisioned by AtSP */
    char **secret_names;
    httpa_buf *secret_values;   /* sensitive */
    unsigned refs;              /* guarded by the store lock */
    struct httpa_base *next;    /* hash chain */
} httpa_base;

typedef struct httpa_store httpa_store;

httpa_err httpa_store_new(size_t max_bases, httpa_store **out) HTTPA_MUST_USE;
void httpa_store_free(httpa_store *st);

/* Allocate an empty base (refs = 1, lock initialized), not yet in the store. */
httpa_err httpa_base_new(httpa_base **out) HTTPA_MUST_USE;

/* Insert; HTTPA_ERR_INTERNAL (503 capacity) when full, after sweeping expired
 * bases. The store takes its own reference. */
httpa_err httpa_store_insert(httpa_store *st, httpa_base *b, int64_t now) HTTPA_MUST_USE;

/* Look up by id and take a reference: HTTPA_ERR_UNKNOWN_BASE when absent,
 * HTTPA_ERR_EXPIRED_BASE when expired, terminated or at the usage limit
 * (*out is then NULL and no reference is held). */
httpa_err httpa_store_get(httpa_store *st, const char *id, size_t len, int64_t now,
                          httpa_base **out) HTTPA_MUST_USE;

/* Drop a reference; the last one wipes and frees. */
void httpa_store_put(httpa_store *st, httpa_base *b);

/* Remove the base from the table (termination or expiry). */
void httpa_store_remove(httpa_store *st, httpa_base *b);

size_t httpa_store_sweep(httpa_store *st, int64_t now);
size_t httpa_store_count(httpa_store *st);

/* Attest-Random replay cache: atomically check and insert; entries live
 * until `until`. HTTPA_ERR_REPLAY if present. */
httpa_err httpa_store_random_check(httpa_store *st, const uint8_t random[32], int64_t until,
                                   int64_t now, bool insert) HTTPA_MUST_USE;

#endif
