/* Appraisal policy (profile 7.8: "appraisal policy is configuration") and a
 * verdict cache.
 *
 * A policy is a JSON file (docs/examples/policy-*.json): which TEE types are
 * accepted and with which measurements, minimum SVNs, accepted TCB statuses,
 * allowed advisory IDs, whether debug or simulated evidence may pass, and how
 * old the collateral may be. The defaults are strict: only UpToDate, no
 * advisories, no debug, no simulated evidence, and a TEE type is accepted
 * only if the policy has a section for it. */
#ifndef HTTPA_POLICY_H
#define HTTPA_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "httpa/attest.h"
#include "httpa/buf.h"
#include "httpa/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Members of a list in a policy file (each list); more is a load error. */
#define HTTPA_POLICY_LIST_MAX 64
#define HTTPA_POLICY_FILE_MAX (256 * 1024)
#define HTTPA_ADVISORY_ID_MAX 32

typedef enum httpa_policy_tee {
    HTTPA_POLICY_SGX,
    HTTPA_POLICY_TDX,
    HTTPA_POLICY_SIM,
    HTTPA_POLICY_TEE__COUNT
} httpa_policy_tee;

/* X(name, sentence) */
#define HTTPA_POLICY_REASONS(X)                                                   \
    X(OK, "accepted by policy")                                                  \
    X(NO_POLICY, "no policy is configured")                                      \
    X(TEE_NOT_ACCEPTED, "the policy has no section for this TEE type")           \
    X(SIMULATED_FORBIDDEN, "simulated evidence is not allowed")                  \
    X(DEBUG_FORBIDDEN, "debug TEEs are not allowed")                             \
    X(TCB_STATUS_NOT_ACCEPTED, "TCB status is not accepted")                     \
    X(ADVISORY_NOT_ALLOWED, "an advisory ID is not allowed")                     \
    X(MRENCLAVE_NOT_ACCEPTED, "MRENCLAVE is not accepted")                       \
    X(MRSIGNER_NOT_ACCEPTED, "MRSIGNER is not accepted")                         \
    X(ISVPRODID_NOT_ACCEPTED, "ISVPRODID is not accepted")                       \
    X(ISVSVN_TOO_LOW, "ISVSVN is below the minimum")                             \
    X(MRTD_NOT_ACCEPTED, "MRTD is not accepted")                                 \
    X(RTMR_NOT_ACCEPTED, "an RTMR is not accepted")                              \
    X(SIM_MEASUREMENT_NOT_ACCEPTED, "simulated measurement is not accepted")     \
    X(SIM_SVN_TOO_LOW, "simulated SVN is below the minimum")                     \
    X(COLLATERAL_TOO_OLD, "collateral is older than the policy allows")

typedef enum httpa_policy_reason {
#define HTTPA_POLICY_X(name, text) HTTPA_POLICY_##name,
    HTTPA_POLICY_REASONS(HTTPA_POLICY_X)
#undef HTTPA_POLICY_X
        HTTPA_POLICY_REASON__COUNT
} httpa_policy_reason;

const char *httpa_policy_reason_name(httpa_policy_reason r);
const char *httpa_policy_reason_text(httpa_policy_reason r);

typedef struct httpa_policy httpa_policy;

/* Parse a policy. Members whose name starts with "_" are comments; any other
 * unknown member, a wrong type, bad hex or an unknown TCB status is an error
 * described in `err` (HTTPA_ERR_INVALID_ARG). */
httpa_err httpa_policy_parse(const char *json, size_t len, httpa_policy **out, char *err,
                             size_t err_len) HTTPA_MUST_USE;
/* Read and parse a file; HTTPA_ERR_IO when unreadable. */
httpa_err httpa_policy_load(const char *path, httpa_policy **out, char *err,
                            size_t err_len) HTTPA_MUST_USE;
/* The built-in policy: sgx and tdx with any measurement, UpToDate only, no
 * advisories, no debug; with allow_sim also sim evidence (any measurement). */
httpa_err httpa_policy_new_default(bool allow_sim, httpa_policy **out) HTTPA_MUST_USE;
void httpa_policy_free(httpa_policy *p);

/* SHA-256 of the policy's canonical JSON (sorted keys, no comments): two
 * files that mean the same have the same hash. */
const uint8_t *httpa_policy_hash(const httpa_policy *p);
bool httpa_policy_allows_simulated(const httpa_policy *p);

/* What a verifier established about the evidence. Only the members of
 * `tee` are read. */
typedef struct httpa_claims {
    httpa_policy_tee tee;
    bool debug;
    bool simulated;
    const char *tcb_status;  /* Intel's spelling; NULL for sim */
    const char (*advisory_ids)[HTTPA_ADVISORY_ID_MAX];
    size_t nadvisory_ids;
    int64_t collateral_issued; /* 0: no collateral (sim) */
    struct {
        uint8_t mrenclave[32];
        uint8_t mrsigner[32];
        uint16_t isvprodid;
        uint16_t isvsvn;
    } sgx;
    struct {
        uint8_t mrtd[48];
        uint8_t rtmr[4][48];
    } tdx;
    struct {
        uint8_t measurement[32];
        uint32_t svn;
    } sim;
} httpa_claims;

typedef struct httpa_policy_verdict {
    httpa_policy_reason reason;
    char detail[192];
} httpa_policy_verdict;

/* HTTPA_OK when `c` satisfies `p` at `now`; HTTPA_ERR_POLICY_VIOLATION
 * otherwise (also when p is NULL: no policy means reject). */
httpa_err httpa_policy_evaluate(const httpa_policy *p, const httpa_claims *c, int64_t now,
                                httpa_policy_verdict *v) HTTPA_MUST_USE;

/* ---- Verdict cache ---- */

/* What a verifier decided about one piece of evidence under one policy. */
typedef struct httpa_verdict {
    httpa_err err;            /* HTTPA_OK: accepted */
    char tee[HTTPA_TEE_TOKEN_MAX];
    char reason[48];          /* reason name, "OK" when accepted */
    char detail[192];
    httpa_appraisal appraisal; /* valid when err == HTTPA_OK */
} httpa_verdict;

/* A bounded, thread-safe map from (SHA-256(evidence), policy hash) to a
 * verdict, each entry living at most `ttl` seconds and never past the expiry
 * given when it was stored. When full, the least recently used entry goes. */
typedef struct httpa_verdict_cache httpa_verdict_cache;

httpa_err httpa_verdict_cache_new(size_t capacity, int64_t ttl, httpa_verdict_cache **out) HTTPA_MUST_USE;
void httpa_verdict_cache_free(httpa_verdict_cache *c);

/* true and a copy in *out when a live entry exists at `now`. */
bool httpa_verdict_cache_get(httpa_verdict_cache *c, const uint8_t evidence_hash[32],
                             const uint8_t policy_hash[32], int64_t now, httpa_verdict *out);
/* Store (or replace) an entry; it expires at min(now + ttl, expires). */
void httpa_verdict_cache_put(httpa_verdict_cache *c, const uint8_t evidence_hash[32],
                             const uint8_t policy_hash[32], int64_t now, int64_t expires,
                             const httpa_verdict *v);
size_t httpa_verdict_cache_size(httpa_verdict_cache *c);

#ifdef __cplusplus
}
#endif
#endif
