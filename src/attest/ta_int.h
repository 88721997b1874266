/* The Trusted Authority core, internal: keys and rotation (ta_keys.c), the
 * per-peer rate limiter (ta_limit.c), metrics (ta_metrics.c), appraisal
 * (ta_appraise.c), request parsing and problem bodies (ta_request.c) and
 * routing (ta_service.c). Never included outside src/attest. */
#ifndef HTTPA_ATTEST_TA_INT_H
#define HTTPA_ATTEST_TA_INT_H

#include <pthread.h>

#include "httpa/pcs.h"
#include "httpa/sim.h"
#include "httpa/ta.h"

#define TA_DEFAULT_TTL 3600
#define TA_DEFAULT_MAX_BODY (1024 * 1024)
#define TA_DEFAULT_PEERS 1024
#define TA_PEER_LEN 48
#define TA_ROTATE_WINDOWS 13          /* token_ttl <= 13 * rotate_seconds */
#define TA_BUCKETS 12                 /* appraisal_seconds histogram */

/* ---- keys ---- */

typedef enum ta_key_state { TA_KEY_NEXT, TA_KEY_CURRENT, TA_KEY_RETIRED } ta_key_state;

typedef struct ta_key {
    bool used;
    ta_key_state state;
    httpa_eat_signer s;
    int64_t created;   /* became current */
    int64_t last_exp;  /* latest exp of a token it signed */
} ta_key;

typedef struct ta_keys {
    ta_key k[HTTPA_TA_MAX_KEYS];
    int64_t rotate;    /* seconds; 0: never */
    int64_t current_since;
    uint64_t rotations;
} ta_keys;

/* First key (copied from `first`, or random) and, with rotation, the next. */
httpa_err ta_keys_init(ta_keys *ks, const httpa_eat_signer *first, int64_t rotate,
                       int64_t now) HTTPA_MUST_USE;
void ta_keys_clear(ta_keys *ks);
/* Rotate when due; drop retired keys whose tokens have all expired. */
void ta_keys_tick(ta_keys *ks, int64_t now);
ta_key *ta_keys_current(ta_keys *ks);
size_t ta_keys_published(const ta_keys *ks);
/* {"keys":[...]}: current first, then next, then retired. */
httpa_err ta_keys_jwks(const ta_keys *ks, httpa_buf *out) HTTPA_MUST_USE;

/* ---- rate limiter: a token bucket per peer ---- */

typedef struct ta_bucket {
    char peer[TA_PEER_LEN];
    double tokens;
    double last;
    bool used;
} ta_bucket;

typedef struct ta_limiter {
    double rate, burst;
    size_t n;
    ta_bucket *b;
} ta_limiter;

httpa_err ta_limiter_init(ta_limiter *l, double rate, double burst, size_t peers) HTTPA_MUST_USE;
void ta_limiter_free(ta_limiter *l);
/* true to serve; false with the seconds until a token is available. */
bool ta_limiter_take(ta_limiter *l, const char *peer, double mono, int64_t *retry_after);

/* ---- metrics ---- */

typedef struct ta_metrics {
    uint64_t appraisals[3][3];        /* [sgx, tdx, sim][verdict] */
    uint64_t problems[HTTPA_TA_P__COUNT];
    uint64_t dcap[HTTPA_DCAP_REASON__COUNT];
    uint64_t policy[HTTPA_POLICY_REASON__COUNT];
    uint64_t hist[TA_BUCKETS];        /* cumulative: observations <= each bound */
    uint64_t hist_count;
    double hist_sum;
    uint64_t requests;
} ta_metrics;

/* One appraisal's outcome, for the counters. */
void ta_metrics_appraisal(ta_metrics *m, const char *tee, httpa_eat_verdict v, double seconds);
void ta_metrics_output(const ta_metrics *m, const ta_keys *keys, httpa_buf *out);

/* ---- the service ---- */

struct httpa_ta {
    pthread_mutex_t mu;               /* keys, limiter, metrics, pcs collateral */
    char issuer[HTTPA_EAT_ISS_MAX];
    const httpa_policy *policy;
    const httpa_dcap_trust *trust;
    const httpa_dcap_collateral *cols[HTTPA_TA_MAX_COLLATERALS];
    size_t ncols;
    httpa_pcs *pcs;
    httpa_dcap_collateral *fetched[HTTPA_TA_MAX_COLLATERALS]; /* owned, from the PCCS */
    size_t nfetched;
    bool allow_sim;
    httpa_sim_verifier sim;
    int64_t ttl;
    size_t max_body;
    ta_keys keys;
    ta_limiter limiter;
    ta_metrics metrics;
};

/* What an appraisal decided; problem is HTTPA_TA_P__COUNT when a token was
 * issued (any verdict). */
typedef struct ta_outcome {
    httpa_ta_problem problem;
    char reason[48];                  /* DCAP or policy reason name, or "" */
    char detail[256];
    httpa_eat_claims claims;
    httpa_buf token;
    char kid[HTTPA_EAT_KID_MAX];
} ta_outcome;

void ta_outcome_init(ta_outcome *o);
void ta_outcome_free(ta_outcome *o);

/* Appraise a parsed request at `now` and, unless it failed, sign a token. */
void ta_appraise(httpa_ta *ta, const httpa_ta_appraise_req *req, int64_t now, ta_outcome *o);

/* A problem+json body. */
httpa_err ta_problem_body(httpa_ta_problem p, const char *detail, const char *reason,
                          httpa_buf *out) HTTPA_MUST_USE;

/* Lower-case snake_case of a reason name into out (for metric labels). */
void ta_label(const char *name, char *out, size_t cap);

#endif
