/* The Trusted Authority (TA): an attestation verifier service that
 * appraises TEE evidence and answers with a signed attestation result, the
 * ES256 JWT of profile 7.7 (include/httpa/eat.h). This is its I/O-free
 * core: programs/httpa-ta.c serves it over HTTP on h2o, and docs/TA.md
 * describes the HTTP API.
 *
 *   POST /v1/appraise  {"tee":"sgx|tdx|sim","evidence":"<base64>"[,"nonce":"<base64url>"]}
 *                      -> 200 {"token":..,"verdict":..,"tcb_status":..,"advisory_ids":[..],..}
 *   GET  /v1/jwks      the current, next and still-needed previous verification keys
 *   GET  /healthz      200 when every configured collateral is fresh, else 503
 *   GET  /metrics      Prometheus text
 *
 * Errors are RFC 9457 problem+json with a type urn:httpa2:ta:error:<name>
 * (httpa_ta_problem below). The core is thread-safe: one httpa_ta may serve
 * any number of threads (keys, limiter and metrics are under one mutex;
 * appraisals run outside it). */
#ifndef HTTPA_TA_H
#define HTTPA_TA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "httpa/buf.h"
#include "httpa/dcap.h"
#include "httpa/eat.h"
#include "httpa/err.h"
#include "httpa/policy.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HTTPA_TA_PROBLEM_PREFIX "urn:httpa2:ta:error:"
#define HTTPA_TA_MAX_KEYS 16           /* published keys (current, next, previous) */
#define HTTPA_TA_MAX_COLLATERALS 32
#define HTTPA_TA_EVIDENCE_MAX (64 * 1024)

/* The TA's error types: X(enum, name, HTTP status, title). */
#define HTTPA_TA_PROBLEMS(X)                                                                  \
    X(MALFORMED_REQUEST, "malformed-request", 400, "the request body is not a valid appraisal request") \
    X(NOT_FOUND, "not-found", 404, "no such resource")                                         \
    X(METHOD_NOT_ALLOWED, "method-not-allowed", 405, "method not allowed on this resource")    \
    X(TOO_LARGE, "too-large", 413, "the request body exceeds the configured limit")            \
    X(UNSUPPORTED_TEE, "unsupported-tee", 422, "this TA does not appraise this TEE type")      \
    X(EVIDENCE_REJECTED, "evidence-rejected", 422, "the evidence did not verify")              \
    X(REPORT_DATA_MISMATCH, "report-data-mismatch", 422, "the evidence does not bind the given nonce") \
    X(RATE_LIMITED, "rate-limited", 429, "too many requests from this client")                 \
    X(INTERNAL, "internal", 500, "internal failure")                                           \
    X(NO_COLLATERAL, "no-collateral", 503, "no collateral for this platform")                  \
    X(STALE_COLLATERAL, "stale-collateral", 503, "the collateral is not valid at the appraisal time")

typedef enum httpa_ta_problem {
#define HTTPA_TA_X(id, name, status, title) HTTPA_TA_P_##id,
    HTTPA_TA_PROBLEMS(HTTPA_TA_X)
#undef HTTPA_TA_X
        HTTPA_TA_P__COUNT
} httpa_ta_problem;

const char *httpa_ta_problem_name(httpa_ta_problem p);   /* "stale-collateral" */
int httpa_ta_problem_status(httpa_ta_problem p);         /* 503 */
const char *httpa_ta_problem_title(httpa_ta_problem p);

typedef struct httpa_ta_config {
    const char *issuer;               /* iss claim; NULL: "httpa-ta" */
    const httpa_policy *policy;       /* REQUIRED: the appraisal policy */
    /* Hardware TEEs (sgx, tdx): the pinned root and the collateral, loaded
     * ahead of time (warm) and/or fetched per platform (pcs.h). Without a
     * trust anchor, sgx and tdx evidence is refused (unsupported-tee). */
    const httpa_dcap_trust *trust;
    const httpa_dcap_collateral *const *collaterals;
    size_t ncollaterals;
    struct httpa_pcs *pcs;            /* optional PCCS client (include/httpa/pcs.h) */
    /* Simulated evidence (development only): accepted only when allowed,
     * with the simulated attestation public key. */
    bool allow_sim;
    uint8_t sim_key[32];
    const httpa_eat_signer *key;      /* first signing key (copied); NULL: a new random one */
    int64_t token_ttl;                /* seconds; 0: 3600 */
    int64_t rotate_seconds;           /* 0: never rotate; else >= token_ttl / 13 */
    size_t max_body;                  /* appraisal request body, octets; 0: 1 MiB */
    double rate;                      /* requests per second per peer; 0: unlimited */
    double burst;                     /* bucket size; 0: max(1, rate) */
    size_t max_peers;                 /* peers tracked by the limiter; 0: 1024 */
} httpa_ta_config;

typedef struct httpa_ta httpa_ta;

/* `now` is the TA's clock (Unix seconds): key creation times. */
httpa_err httpa_ta_new(const httpa_ta_config *cfg, int64_t now, httpa_ta **out) HTTPA_MUST_USE;
void httpa_ta_free(httpa_ta *ta);

/* One HTTP request, as the server received it. */
typedef struct httpa_ta_request {
    const char *method;
    size_t method_len;
    const char *path;                 /* origin-form; a query is ignored */
    size_t path_len;
    const char *peer;                 /* rate-limit key: the client's address */
    httpa_span body;
} httpa_ta_request;

/* What to answer. `body` is owned; free with httpa_ta_response_free. */
typedef struct httpa_ta_response {
    int status;
    const char *content_type;         /* static */
    const char *allow;                /* 405: the Allow field; else NULL */
    int64_t retry_after;              /* 429/503: seconds, else 0 */
    httpa_buf body;
} httpa_ta_response;

void httpa_ta_response_init(httpa_ta_response *r);
void httpa_ta_response_free(httpa_ta_response *r);

/* Answer `req` at `now` (the TA's clock, Unix seconds; tests pass the
 * samples' verify time) with `mono` (monotonic seconds, for the rate
 * limiter). Returns HTTPA_OK when `resp` holds an answer (any status);
 * an error only when not even an error answer could be built. Key rotation
 * happens here, lazily, on any request. */
httpa_err httpa_ta_handle(httpa_ta *ta, const httpa_ta_request *req, int64_t now, double mono,
                          httpa_ta_response *resp) HTTPA_MUST_USE;

/* A parsed POST /v1/appraise body. */
typedef struct httpa_ta_appraise_req {
    char tee[HTTPA_TEE_TOKEN_MAX];
    httpa_buf evidence;               /* decoded; httpa_ta_appraise_req_free */
    bool has_nonce;
    uint8_t nonce[HTTPA_REPORT_DATA_LEN];
} httpa_ta_appraise_req;

/* Parse an appraisal request: a JSON object (duplicate members refused)
 * with "tee" (string), "evidence" (standard padded base64, 1 octet to
 * HTTPA_TA_EVIDENCE_MAX), optional "nonce" (base64url of 64 octets) and
 * optional "format" ("raw"); other members are ignored. HTTPA_ERR_BAD_REQUEST
 * (malformed) or HTTPA_ERR_TOO_LARGE with a sentence in `why`. The TEE
 * token is not judged here. */
httpa_err httpa_ta_parse_appraise(const char *json, size_t len, httpa_ta_appraise_req *out,
                                  char *why, size_t why_len) HTTPA_MUST_USE;
void httpa_ta_appraise_req_free(httpa_ta_appraise_req *r);

/* The kid of the current signing key (valid until the next call). */
void httpa_ta_current_kid(httpa_ta *ta, char out[HTTPA_EAT_KID_MAX]);

#ifdef __cplusplus
}
#endif
#endif
