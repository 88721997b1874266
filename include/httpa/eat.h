/* Stapled attestation results (profile 7.7): ES256 JWTs issued by a Trusted
 * Authority (TA) about one piece of TEE evidence, and the keys that sign
 * and verify them.
 *
 * Verifying side: an httpa_eat_keyset holds the TA public keys a relying
 * party trusts (kid -> P-256 key, from a JWKS file or a PEM public key:
 * never from the token itself). httpa_eat_verify_token checks the token
 * (signature, header and claim rules, times, profile, TEE token);
 * httpa_eat_verifier is the engine's httpa_verifier for format=eat entries:
 * it adds the verdict and the appraisal policy (include/httpa/policy.h) and
 * hands eat_nonce back as report_data, which the engine compares itself.
 *
 * Issuing side: an httpa_eat_signer is one ES256 key with its kid;
 * httpa_eat_issue produces a token with header {"alg":"ES256","kid":..,
 * "typ":"JWT"} and the claims of 7.7 plus httpa2_advisory_ids (and
 * httpa2_collateral_issued for hardware TEEs).
 *
 * The ES256 signature is made and checked by cjose (Cisco's JOSE library,
 * OpenSSL backend), with key objects built from the raw P-256 values for
 * each call; the strict header and claims rules are checked here with
 * jansson (JSON_REJECT_DUPLICATES) before cjose sees the token. (libjwt
 * 1.10 takes keys only as PEM and decodes them on every call, five times
 * the cost of the verification itself with OpenSSL 3, and refuses any typ
 * but JWT.) Everything is reentrant; keysets and verifiers are read-only
 * after set-up and may be shared by threads. */
#ifndef HTTPA_EAT_H
#define HTTPA_EAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "httpa/attest.h"
#include "httpa/buf.h"
#include "httpa/err.h"
#include "httpa/policy.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HTTPA_EAT_PROFILE "urn:httpa2:eat-profile:1"
#define HTTPA_EAT_TOKEN_MAX 16384      /* longer tokens are rejected unread */
#define HTTPA_EAT_IAT_SKEW 60          /* iat may be this far in the future */
#define HTTPA_EAT_KID_MAX 64           /* a kid is 1..63 octets */
#define HTTPA_EAT_MAX_KEYS 16          /* keys of one keyset */
#define HTTPA_EAT_PUB_LEN 65           /* P-256 public key: 0x04 || X || Y */
#define HTTPA_EAT_ISS_MAX 256
#define HTTPA_EAT_MAX_ADVISORIES 64
#define HTTPA_EAT_THUMBPRINT_LEN 43    /* base64url of a SHA-256 */

/* ---- Rejection reasons (each rejection names exactly one) ---- */

#define HTTPA_EAT_REASONS(X)                                                            \
    X(OK, "verified")                                                                  \
    X(MALFORMED, "not a compact JWS of three base64url parts")                         \
    X(TOO_LARGE, "token longer than 16384 octets")                                     \
    X(HEADER_MALFORMED, "protected header is not a JSON object")                       \
    X(DUPLICATE_MEMBER, "duplicate member name in the header or the claims")           \
    X(ALG_NOT_ES256, "alg is not ES256")                                               \
    X(CRIT, "the header has a crit parameter")                                         \
    X(KID_MISSING, "kid is missing, empty, too long or not a string")                  \
    X(TYP_MALFORMED, "typ is present and not a string")                                \
    X(UNKNOWN_KID, "kid names no configured authority key")                            \
    X(SIGNATURE_INVALID, "the ES256 signature does not verify")                        \
    X(CLAIMS_MALFORMED, "the claims set is not a JSON object")                         \
    X(CLAIM_MISSING, "a required claim is missing")                                    \
    X(CLAIM_TYPE, "a claim has the wrong type or form")                                \
    X(ISSUED_IN_FUTURE, "iat is more than 60 s after now")                             \
    X(EXPIRED, "exp is not after now")                                                 \
    X(PROFILE_MISMATCH, "eat_profile is not urn:httpa2:eat-profile:1")                 \
    X(TEE_MISMATCH, "httpa2_tee differs from the entry's TEE token")                   \
    X(CONTRAINDICATED, "the authority's verdict is contraindicated")                   \
    X(WARNING_NOT_ALLOWED, "the verdict is warning and warnings are not allowed")      \
    X(EVIDENCE_MISMATCH, "httpa2_evidence_sha256 does not match the raw evidence")     \
    X(POLICY, "the appraisal policy rejected the claims")                              \
    X(INTERNAL, "internal or library failure")

typedef enum httpa_eat_reason {
#define HTTPA_EAT_X(name, text) HTTPA_EAT_##name,
    HTTPA_EAT_REASONS(HTTPA_EAT_X)
#undef HTTPA_EAT_X
        HTTPA_EAT_REASON__COUNT
} httpa_eat_reason;

/* "UNKNOWN_KID"; never NULL. */
const char *httpa_eat_reason_name(httpa_eat_reason r);
/* "kid names no configured authority key"; never NULL. */
const char *httpa_eat_reason_text(httpa_eat_reason r);

typedef struct httpa_eat_diag {
    httpa_eat_reason reason;
    char detail[160];
} httpa_eat_diag;

/* ---- Claims ---- */

typedef enum httpa_eat_verdict {
    HTTPA_EAT_VERDICT_AFFIRMING,
    HTTPA_EAT_VERDICT_WARNING,
    HTTPA_EAT_VERDICT_CONTRAINDICATED,
} httpa_eat_verdict;

/* "affirming", "warning", "contraindicated"; never NULL. */
const char *httpa_eat_verdict_name(httpa_eat_verdict v);

/* httpa2_claims: the members of the token's TEE are meaningful. sev_snp
 * and tpm claims are checked for form but not kept (the policy engine has
 * no section for them, so such tokens fail the policy: fail closed). */
typedef struct httpa_eat_measurements {
    bool debug;
    struct {
        uint8_t mrenclave[32];
        uint8_t mrsigner[32];
        uint16_t isvprodid;
        uint16_t isvsvn;
    } sgx;
    struct {
        uint8_t mrtd[48];
        uint8_t rtmr[4][48];
        uint8_t mrconfigid[48];
        uint8_t mrowner[48];
        uint8_t mrownerconfig[48];
    } tdx;
    struct {
        uint8_t measurement[32];
        uint32_t svn;
    } sim;
} httpa_eat_measurements;

/* The claims set: what a verified token says, or what an issuer signs. */
typedef struct httpa_eat_claims {
    char iss[HTTPA_EAT_ISS_MAX];
    int64_t iat, exp;
    char tee[HTTPA_TEE_TOKEN_MAX];            /* httpa2_tee */
    uint8_t report_data[HTTPA_REPORT_DATA_LEN]; /* eat_nonce */
    uint8_t evidence_sha256[32];
    httpa_eat_verdict verdict;
    char tcb_status[48];
    httpa_eat_measurements m;
    size_t nadvisories;                       /* httpa2_advisory_ids (optional) */
    char advisory_ids[HTTPA_EAT_MAX_ADVISORIES][HTTPA_ADVISORY_ID_MAX];
    int64_t collateral_issued;                /* httpa2_collateral_issued; 0: absent */
} httpa_eat_claims;

/* The claims in the policy engine's terms. false for a TEE the policy
 * engine has no section for (sev_snp, tpm). `out` borrows the advisory IDs
 * of `c`. Without httpa2_collateral_issued the token's iat stands in for
 * the collateral issue time. */
bool httpa_eat_policy_claims(const httpa_eat_claims *c, httpa_claims *out);

/* ---- Keys ---- */

/* One authority verification key. */
typedef struct httpa_eat_key {
    char kid[HTTPA_EAT_KID_MAX];
    uint8_t pub[HTTPA_EAT_PUB_LEN];
    char pem[256]; /* SubjectPublicKeyInfo PEM (for export) */
} httpa_eat_key;

typedef struct httpa_eat_keyset {
    size_t n;
    httpa_eat_key keys[HTTPA_EAT_MAX_KEYS];
} httpa_eat_keyset;

void httpa_eat_keyset_init(httpa_eat_keyset *ks);

/* Add a key: kid 1..63 printable ASCII octets, not yet in the set; `pub` a
 * point on P-256. HTTPA_ERR_INVALID_ARG otherwise, HTTPA_ERR_TOO_LARGE when
 * the set is full. */
httpa_err httpa_eat_keyset_add(httpa_eat_keyset *ks, const char *kid,
                               const uint8_t pub[HTTPA_EAT_PUB_LEN]) HTTPA_MUST_USE;

/* A JWKS ({"keys":[...]}) or a single JWK: every member with "kty":"EC",
 * "crv":"P-256", "kid", "x", "y" is added; members for other curves or key
 * types, and private members ("d"), are refused (a verification key file
 * must not hold a private key). HTTPA_ERR_INVALID_ARG with a sentence in
 * err. */
httpa_err httpa_eat_keyset_parse_jwks(httpa_eat_keyset *ks, const char *json, size_t len,
                                      char *err, size_t err_len) HTTPA_MUST_USE;

/* A PEM P-256 public key ("BEGIN PUBLIC KEY"); kid NULL: its RFC 7638
 * thumbprint, which is also the TA's default kid. */
httpa_err httpa_eat_keyset_parse_pem(httpa_eat_keyset *ks, const char *pem, size_t len,
                                     const char *kid, char *err, size_t err_len) HTTPA_MUST_USE;

/* A file holding a JWKS/JWK (first non-blank octet '{') or a PEM public
 * key. HTTPA_ERR_IO when unreadable. */
httpa_err httpa_eat_keyset_load(httpa_eat_keyset *ks, const char *path, char *err,
                                size_t err_len) HTTPA_MUST_USE;

const httpa_eat_key *httpa_eat_keyset_find(const httpa_eat_keyset *ks, const char *kid,
                                           size_t kid_len);

/* RFC 7638 JWK thumbprint (SHA-256, base64url) of a P-256 key: 43
 * characters and a NUL. */
httpa_err httpa_eat_thumbprint(const uint8_t pub[HTTPA_EAT_PUB_LEN],
                               char out[HTTPA_EAT_THUMBPRINT_LEN + 1]) HTTPA_MUST_USE;

/* Append {"kty":"EC","crv":"P-256","kid":..,"use":"sig","alg":"ES256",
 * "x":..,"y":..} to `out` (a JWK, members in that order). */
httpa_err httpa_eat_jwk_append(const char *kid, const uint8_t pub[HTTPA_EAT_PUB_LEN],
                               httpa_buf *out) HTTPA_MUST_USE;

/* One ES256 signing key with its kid. The private key is wiped by
 * httpa_eat_signer_clear; never log or copy a signer. */
typedef struct httpa_eat_signer {
    char kid[HTTPA_EAT_KID_MAX];
    uint8_t pub[HTTPA_EAT_PUB_LEN];
    uint8_t priv[32];
    char pem[512]; /* SEC1 "EC PRIVATE KEY" PEM (to save the key) */
} httpa_eat_signer;

/* `priv`: the 32-octet private scalar (known-answer tests), or NULL for a
 * new random key. `kid`: NULL for the RFC 7638 thumbprint. */
httpa_err httpa_eat_signer_init(httpa_eat_signer *s, const uint8_t *priv,
                                const char *kid) HTTPA_MUST_USE;
/* A PEM P-256 private key (SEC1 "EC PRIVATE KEY" or PKCS#8 "PRIVATE KEY",
 * unencrypted). */
httpa_err httpa_eat_signer_load_pem(httpa_eat_signer *s, const char *pem, size_t len,
                                    const char *kid, char *err, size_t err_len) HTTPA_MUST_USE;
void httpa_eat_signer_clear(httpa_eat_signer *s);

/* ---- Issuing ---- */

/* Sign the claims: header {"alg":"ES256","kid":..,"typ":"JWT"}; every
 * claim of 7.7 with the members of httpa2_claims for c->tee ("sgx", "tdx"
 * or "sim"; others: HTTPA_ERR_INVALID_ARG), httpa2_advisory_ids (always,
 * possibly empty) and httpa2_collateral_issued when non-zero. The compact
 * token is appended to `token` (no NUL). */
httpa_err httpa_eat_issue(const httpa_eat_signer *s, const httpa_eat_claims *c,
                          httpa_buf *token) HTTPA_MUST_USE;

/* ---- Verifying ---- */

/* Profile 7.7 rules 1 to 3 except the verdict: compact form; header is a
 * JSON object without duplicate members, alg exactly "ES256", no crit, kid
 * a string, typ absent or a string (jwk, jku, x5c, x5u ignored); the key chosen
 * by kid from `keys` only; the ES256 signature; the claims set an object
 * without duplicate members, every required claim present with its exact
 * type (and httpa2_claims members for the TEE); iat <= now + 60; now < exp;
 * eat_profile; httpa2_tee equal to `tee`.
 * HTTPA_OK and *out filled; HTTPA_ERR_UNSUPPORTED when the kid names no
 * configured key (the entry is then ignored, profile 7.4);
 * HTTPA_ERR_BAD_QUOTE for any other rejection; NOMEM/LIBRARY for local
 * failures. `diag` (may be NULL) names the reason. */
httpa_err httpa_eat_verify_token(const httpa_eat_keyset *keys, const char *tee,
                                 httpa_span token, int64_t now, httpa_eat_claims *out,
                                 httpa_eat_diag *diag) HTTPA_MUST_USE;

/* Rule 4: HTTPA_OK when httpa2_evidence_sha256 is SHA-256(raw), else
 * HTTPA_ERR_BAD_QUOTE. */
httpa_err httpa_eat_check_evidence(const httpa_eat_claims *c, httpa_span raw) HTTPA_MUST_USE;

/* httpa2_evidence_sha256 of a token WITHOUT verifying it (for matching a
 * stapled entry to the raw entries next to it, after the token itself was
 * verified). HTTPA_ERR_BAD_QUOTE when it cannot be read. */
httpa_err httpa_eat_peek_evidence_sha256(httpa_span token, uint8_t out[32]) HTTPA_MUST_USE;

/* Called on every rejection (not for an unknown kid) with the reason's
 * name and a detail, for logs. */
typedef void (*httpa_eat_reject_fn)(void *arg, const char *tee, httpa_err err,
                                    const char *reason, const char *detail);

/* The engine's verifier for format=eat entries of any TEE token. On top of
 * httpa_eat_verify_token: the verdict must be affirming (or warning when
 * allow_warning), and the policy must accept httpa2_claims and
 * httpa2_tcb_status (and httpa2_advisory_ids). No policy: every token is
 * rejected (fail closed). Answers HTTPA_ERR_UNSUPPORTED for other formats
 * and for unknown kids; BAD_QUOTE for token and verdict failures;
 * POLICY_VIOLATION for policy rejections. out->report_data is eat_nonce,
 * out->simulated is set for httpa2_tee "sim". */
typedef struct httpa_eat_verifier {
    httpa_verifier base;
    const httpa_eat_keyset *keys;
    const httpa_policy *policy;
    bool allow_warning;
    httpa_eat_reject_fn on_reject; /* optional */
    void *on_reject_arg;
} httpa_eat_verifier;

void httpa_eat_verifier_init(httpa_eat_verifier *v, const httpa_eat_keyset *keys,
                             const httpa_policy *policy);

/* base.appraise, also handing back the claims and the reason (both may be
 * NULL). */
httpa_err httpa_eat_verifier_check(const httpa_eat_verifier *v, const char *tee,
                                   const char *format, httpa_span token, int64_t now,
                                   httpa_appraisal *out, httpa_eat_claims *claims,
                                   httpa_eat_diag *diag) HTTPA_MUST_USE;

/* The appraisal a verified token stands for (report_data = eat_nonce). */
void httpa_eat_appraisal(const httpa_eat_claims *c, httpa_appraisal *out);

#ifdef __cplusplus
}
#endif
#endif
