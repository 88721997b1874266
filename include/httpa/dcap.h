/* Intel SGX and TDX DCAP ECDSA quote verification (profile 7.5).
 *
 * A quote proves nothing by itself: it is trusted only through a chain that
 * ends in the Intel SGX Root CA, which this module pins (it never trusts a
 * root carried in the quote or in the collateral), and through collateral
 * (CRLs, TCB info, QE identity) that is fresh at the caller's time.
 *
 * Layers: httpa_dcap_quote_parse (structure only, no cryptography),
 * httpa_dcap_collateral_parse (the JSON collateral files of
 * shared/vectors/dcap), httpa_dcap_verify (every check, one named reason per
 * rejection) and httpa_dcap_verifier (the engine's httpa_verifier, with a
 * policy). */
#ifndef HTTPA_DCAP_H
#define HTTPA_DCAP_H

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

/* ---- Rejection reasons ---- */

/* Every rejection names exactly one reason. X(name, sentence). */
#define HTTPA_DCAP_REASONS(X)                                                              \
    X(OK, "verified")                                                                     \
    X(QUOTE_MALFORMED, "quote is malformed or truncated")                                 \
    X(QUOTE_VERSION_UNSUPPORTED, "unsupported quote version")                             \
    X(QUOTE_KEY_TYPE_UNSUPPORTED, "unsupported attestation key type")                     \
    X(QUOTE_TEE_UNSUPPORTED, "unsupported TEE type or report body")                       \
    X(QUOTE_VENDOR_UNKNOWN, "QE vendor ID is not Intel's")                                \
    X(CERT_DATA_UNSUPPORTED, "unsupported certification data type")                       \
    X(TEE_MISMATCH, "quote TEE type does not match the evidence token")                   \
    X(COLLATERAL_MALFORMED, "collateral is malformed")                                    \
    X(NO_COLLATERAL, "no collateral is configured for this TEE type")                     \
    X(COLLATERAL_TEE_MISMATCH, "collateral is for another TEE type")                      \
    X(TCB_INFO_EXPIRED, "TCBInfo expired")                                                \
    X(TCB_INFO_NOT_YET_VALID, "TCBInfo not yet valid")                                    \
    X(QE_IDENTITY_EXPIRED, "QE identity expired")                                         \
    X(QE_IDENTITY_NOT_YET_VALID, "QE identity not yet valid")                             \
    X(ROOT_CRL_EXPIRED, "root CA CRL expired")                                            \
    X(ROOT_CRL_NOT_YET_VALID, "root CA CRL not yet valid")                                \
    X(PCK_CRL_EXPIRED, "PCK CRL expired")                                                 \
    X(PCK_CRL_NOT_YET_VALID, "PCK CRL not yet valid")                                     \
    X(ROOT_CRL_INVALID, "root CA CRL is not issued and signed by the pinned root")        \
    X(PCK_CRL_CHAIN_UNTRUSTED_ROOT, "PCK CRL issuer chain does not end in the pinned root") \
    X(PCK_CRL_CHAIN_INVALID, "PCK CRL issuer chain does not verify")                      \
    X(PCK_CRL_INVALID, "PCK CRL is not signed by its issuer chain")                       \
    X(PCK_CRL_ISSUER_MISMATCH, "PCK CRL is not issued by the PCK certificate's CA")       \
    X(TCB_INFO_CHAIN_UNTRUSTED_ROOT, "TCB info signing chain does not end in the pinned root") \
    X(TCB_INFO_CHAIN_INVALID, "TCB info signing chain does not verify")                   \
    X(TCB_INFO_SIGNATURE_INVALID, "TCB info signature is invalid")                        \
    X(QE_IDENTITY_CHAIN_UNTRUSTED_ROOT, "QE identity signing chain does not end in the pinned root") \
    X(QE_IDENTITY_CHAIN_INVALID, "QE identity signing chain does not verify")             \
    X(QE_IDENTITY_SIGNATURE_INVALID, "QE identity signature is invalid")                  \
    X(SIGNING_CERT_REVOKED, "a collateral signing certificate is revoked")                \
    X(PCK_CHAIN_MALFORMED, "PCK certificate chain is malformed")                          \
    X(PCK_CHAIN_UNTRUSTED_ROOT, "PCK certificate chain does not end in the pinned root")  \
    X(PCK_CHAIN_INVALID, "PCK certificate chain does not verify")                         \
    X(PCK_CERT_REVOKED, "PCK certificate is revoked")                                     \
    X(PCK_CA_REVOKED, "PCK CA certificate is revoked")                                    \
    X(CRL_MISSING, "no CRL covers a certificate of the chain")                            \
    X(CERT_EXPIRED, "a certificate is expired at the verification time")                  \
    X(CERT_NOT_YET_VALID, "a certificate is not yet valid at the verification time")      \
    X(PCK_EXTENSION_MALFORMED, "PCK certificate SGX extension is missing or malformed")   \
    X(QE_REPORT_SIGNATURE_INVALID, "QE report signature is invalid")                      \
    X(QE_REPORT_DATA_MISMATCH, "QE report data does not bind the attestation key")        \
    X(QUOTE_SIGNATURE_INVALID, "ISV enclave report signature is invalid")                 \
    X(FMSPC_MISMATCH, "TCB info FMSPC does not match the PCK certificate")                \
    X(PCEID_MISMATCH, "TCB info PCE ID does not match the PCK certificate")               \
    X(QE_IDENTITY_MISMATCH, "QE identity is for another quoting enclave")                 \
    X(QE_MRSIGNER_MISMATCH, "QE MRSIGNER does not match the QE identity")                 \
    X(QE_ISVPRODID_MISMATCH, "QE ISVPRODID does not match the QE identity")               \
    X(QE_MISCSELECT_MISMATCH, "QE MISCSELECT does not match the QE identity")             \
    X(QE_ATTRIBUTES_MISMATCH, "QE ATTRIBUTES do not match the QE identity")               \
    X(QE_TCB_NOT_SUPPORTED, "QE ISVSVN is below every QE identity TCB level")             \
    X(TCB_NOT_SUPPORTED, "platform TCB is below every TCB info level")                    \
    X(TDX_MODULE_MISMATCH, "TDX module identity does not match the TCB info")             \
    X(TDX_MODULE_TCB_NOT_SUPPORTED, "TDX module SVN is below every module TCB level")     \
    X(TCB_REVOKED, "TCB status is Revoked")                                               \
    X(INTERNAL, "internal or library failure")

typedef enum httpa_dcap_reason {
#define HTTPA_DCAP_X(name, text) HTTPA_DCAP_##name,
    HTTPA_DCAP_REASONS(HTTPA_DCAP_X)
#undef HTTPA_DCAP_X
        HTTPA_DCAP_REASON__COUNT
} httpa_dcap_reason;

/* "PCK_CERT_REVOKED"; never NULL. */
const char *httpa_dcap_reason_name(httpa_dcap_reason r);
/* "PCK certificate is revoked"; never NULL. */
const char *httpa_dcap_reason_text(httpa_dcap_reason r);

/* A reason plus a free-form detail (which certificate, which field). */
typedef struct httpa_dcap_diag {
    httpa_dcap_reason reason;
    char detail[160];
} httpa_dcap_diag;

/* ---- Quote structure (Intel SGX/TDX DCAP quote v3, v4, v5) ---- */

#define HTTPA_DCAP_HEADER_LEN 48
#define HTTPA_DCAP_SGX_BODY_LEN 384
#define HTTPA_DCAP_TD10_BODY_LEN 584
#define HTTPA_DCAP_TD15_BODY_LEN 648
#define HTTPA_DCAP_TEE_SGX 0x00000000u
#define HTTPA_DCAP_TEE_TDX 0x00000081u
#define HTTPA_DCAP_KEY_ECDSA_P256 2
#define HTTPA_DCAP_CERT_PCK_CHAIN 5
#define HTTPA_DCAP_CERT_QE_REPORT 6
/* A quote larger than this is rejected before parsing. */
#define HTTPA_DCAP_QUOTE_MAX (64 * 1024)

typedef enum httpa_dcap_body_kind {
    HTTPA_DCAP_BODY_SGX,  /* ISV enclave report, 384 octets */
    HTTPA_DCAP_BODY_TD10, /* TD report, TDX 1.0, 584 octets */
    HTTPA_DCAP_BODY_TD15, /* TD report, TDX 1.5, 648 octets */
} httpa_dcap_body_kind;

/* The SGX report body (also the QE report). Integers are decoded from
 * little-endian; byte arrays are in quote order. */
typedef struct httpa_dcap_enclave_report {
    uint8_t cpusvn[16];
    uint32_t miscselect;
    uint8_t reserved1[28];
    uint8_t attributes[16];
    uint8_t mrenclave[32];
    uint8_t reserved2[32];
    uint8_t mrsigner[32];
    uint8_t reserved3[96];
    uint16_t isvprodid;
    uint16_t isvsvn;
    uint8_t reserved4[60];
    uint8_t report_data[64];
} httpa_dcap_enclave_report;

/* The TD report body; the last two members only for TDX 1.5. */
typedef struct httpa_dcap_td_report {
    uint8_t tee_tcb_svn[16];
    uint8_t mrseam[48];
    uint8_t mrsignerseam[48];
    uint8_t seam_attributes[8];
    uint8_t td_attributes[8];
    uint8_t xfam[8];
    uint8_t mrtd[48];
    uint8_t mrconfigid[48];
    uint8_t mrowner[48];
    uint8_t mrownerconfig[48];
    uint8_t rtmr[4][48];
    uint8_t report_data[64];
    uint8_t tee_tcb_svn2[16];
    uint8_t mrservicetd[48];
} httpa_dcap_td_report;

/* A parsed quote. The spans borrow from the parsed input. */
typedef struct httpa_dcap_quote {
    uint16_t version;
    uint16_t att_key_type;
    uint32_t tee_type;
    uint8_t qe_vendor_id[16];
    uint8_t user_data[20];
    httpa_dcap_body_kind body_kind;
    httpa_dcap_enclave_report sgx;  /* valid when body_kind == SGX */
    httpa_dcap_td_report td;        /* valid for TD10 / TD15 */
    size_t report_data_offset;      /* offset of REPORTDATA in the quote */
    httpa_span signed_part;         /* header || body: what the attestation key signs */
    uint8_t signature[64];          /* ECDSA r || s over signed_part */
    uint8_t attestation_key[64];    /* P-256 X || Y */
    httpa_span qe_report_raw;       /* 384 octets, signed by the PCK key */
    httpa_dcap_enclave_report qe_report;
    uint8_t qe_report_signature[64];
    httpa_span qe_auth_data;
    httpa_span pck_chain_pem;       /* certification data type 5 */
} httpa_dcap_quote;

/* Parse the structure of a quote: every length is checked against what is
 * left, the certification data must be type 6 wrapping type 5 (v4/v5) or
 * type 5 (v3), and only zero octets may follow the signature data (quote
 * buffers are often zero-padded). No cryptography. HTTPA_ERR_BAD_QUOTE on
 * any malformation; `diag` (may be NULL) names it. */
httpa_err httpa_dcap_quote_parse(httpa_span in, httpa_dcap_quote *out,
                                 httpa_dcap_diag *diag) HTTPA_MUST_USE;

/* The 64-octet REPORTDATA of a parsed quote. */
const uint8_t *httpa_dcap_quote_report_data(const httpa_dcap_quote *q);

/* ---- Collateral ---- */

/* TCB statuses of Intel's TCB info and QE identity. */
typedef enum httpa_dcap_tcb_status {
    HTTPA_TCB_UP_TO_DATE,
    HTTPA_TCB_SW_HARDENING_NEEDED,
    HTTPA_TCB_CONFIGURATION_NEEDED,
    HTTPA_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
    HTTPA_TCB_OUT_OF_DATE,
    HTTPA_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
    HTTPA_TCB_REVOKED,
} httpa_dcap_tcb_status;

/* Intel's spelling ("UpToDate"); never NULL. */
const char *httpa_dcap_tcb_status_name(httpa_dcap_tcb_status s);

/* The collateral for one platform (one FMSPC) and TEE type: PCK CRL and its
 * issuer chain, root CA CRL, TCB info and QE identity (each the exact signed
 * JSON text, a hex r || s signature and an issuer chain). Immutable after
 * parsing, so one collateral may be shared by threads. */
typedef struct httpa_dcap_collateral httpa_dcap_collateral;

/* The JSON collateral format of shared/vectors/dcap/{sgx,tdx}_quote_collateral.json.
 * HTTPA_ERR_BAD_QUOTE with diag COLLATERAL_MALFORMED when malformed. */
httpa_err httpa_dcap_collateral_parse(const char *json, size_t len, httpa_dcap_collateral **out,
                                      httpa_dcap_diag *diag) HTTPA_MUST_USE;
/* Read and parse a file (at most 1 MiB). HTTPA_ERR_IO when unreadable. */
httpa_err httpa_dcap_collateral_load(const char *path, httpa_dcap_collateral **out,
                                     httpa_dcap_diag *diag) HTTPA_MUST_USE;
void httpa_dcap_collateral_free(httpa_dcap_collateral *c);

/* Strict "YYYY-MM-DDThh:mm:ssZ" (UTC) to seconds since the epoch, without
 * the C library's time zone machinery. HTTPA_ERR_BAD_REQUEST otherwise. */
httpa_err httpa_dcap_parse_date(const char *s, size_t len, int64_t *out) HTTPA_MUST_USE;

/* ---- Trust anchor ---- */

/* The pinned root. Immutable; shareable by threads. */
typedef struct httpa_dcap_trust httpa_dcap_trust;

/* The Intel SGX Root CA embedded in the library: the production anchor. */
httpa_err httpa_dcap_trust_new_intel(httpa_dcap_trust **out) HTTPA_MUST_USE;

/* FOR TESTS ONLY: pin another self-signed root (a test CA built at test
 * time). Production code must use httpa_dcap_trust_new_intel. */
httpa_err httpa_dcap_trust_new_test_root(const char *pem, size_t len,
                                         httpa_dcap_trust **out) HTTPA_MUST_USE;
void httpa_dcap_trust_free(httpa_dcap_trust *t);

/* ---- Verification ---- */

#define HTTPA_DCAP_MAX_ADVISORIES 64
#define HTTPA_DCAP_ADVISORY_LEN 32

typedef struct httpa_dcap_result {
    httpa_dcap_diag diag;            /* OK, or why the quote was rejected */
    uint16_t version;
    uint32_t tee_type;
    httpa_dcap_body_kind body_kind;
    httpa_dcap_enclave_report sgx;   /* for SGX */
    httpa_dcap_td_report td;         /* for TDX */
    uint8_t report_data[64];
    bool debug;                      /* SGX ATTRIBUTES.DEBUG or TDX TD_ATTRIBUTES.DEBUG */
    httpa_dcap_tcb_status status;    /* final status (platform, QE and TDX module converged) */
    httpa_dcap_tcb_status platform_status;
    httpa_dcap_tcb_status qe_status;
    size_t nadvisories;
    char advisory_ids[HTTPA_DCAP_MAX_ADVISORIES][HTTPA_DCAP_ADVISORY_LEN];
    uint8_t fmspc[6];
    uint16_t pcesvn;
    int64_t collateral_issued;       /* oldest of TCB info, QE identity, PCK CRL issue time */
    int64_t collateral_expires;      /* earliest nextUpdate of all collateral */
} httpa_dcap_result;

/* Verify `quote` with `col` at `now` (seconds since the epoch) against the
 * pinned root. HTTPA_OK: every check passed and out->status is the TCB
 * status (the policy decides whether it is acceptable). HTTPA_ERR_BAD_QUOTE:
 * rejected, out->diag names why. HTTPA_ERR_NOMEM / LIBRARY: local failure
 * (diag INTERNAL). The order of checks is fixed, so that a given defect
 * always gets the same reason: parse, collateral TEE type, freshness (TCB
 * info first, as Intel's QVL), CRLs, collateral signatures, PCK chain, QE
 * report and quote signatures, FMSPC/PCE ID, QE identity, TCB level, TDX
 * module, status. */
httpa_err httpa_dcap_verify(const httpa_dcap_trust *trust, httpa_span quote,
                            const httpa_dcap_collateral *col, int64_t now,
                            httpa_dcap_result *out) HTTPA_MUST_USE;

/* The claims of a verified result, for httpa_policy_evaluate. `c` borrows
 * the advisory IDs of `r`. */
void httpa_dcap_result_claims(const httpa_dcap_result *r, httpa_claims *c);

/* ---- The engine's verifier ---- */

/* Called on every rejection with the reason's name and a detail, so that
 * the caller can log it (the engine itself only sees the httpa_err). */
typedef void (*httpa_dcap_reject_fn)(void *arg, const char *tee, httpa_err err,
                                     const char *reason, const char *detail);

/* An httpa_verifier for TEE tokens "sgx" and "tdx" with format "raw".
 * It selects the collateral whose TEE and FMSPC match the quote, verifies,
 * then applies the policy. It answers HTTPA_ERR_UNSUPPORTED for other tokens
 * and formats, HTTPA_ERR_BAD_QUOTE when verification fails, and
 * HTTPA_ERR_POLICY_VIOLATION when the policy rejects (also when no policy is
 * set: it fails closed). All members are read-only after init, so one
 * verifier may serve many threads (the cache locks itself). */
typedef struct httpa_dcap_verifier {
    httpa_verifier base;
    const httpa_dcap_trust *trust;
    const httpa_dcap_collateral *const *collaterals;
    size_t ncollaterals;
    const httpa_policy *policy;
    httpa_verdict_cache *cache;       /* optional; one per verifier (the key does not
                                         include the collateral) */
    httpa_dcap_reject_fn on_reject;   /* optional */
    void *on_reject_arg;
} httpa_dcap_verifier;

void httpa_dcap_verifier_init(httpa_dcap_verifier *v, const httpa_dcap_trust *trust,
                              const httpa_dcap_collateral *const *collaterals, size_t n,
                              const httpa_policy *policy);

/* The same as base.appraise, and also hands back the full verdict (reason
 * name and detail, accepted or not). */
httpa_err httpa_dcap_verifier_appraise(httpa_dcap_verifier *v, const char *tee,
                                       const char *format, httpa_span evidence, int64_t now,
                                       httpa_appraisal *out, httpa_verdict *verdict);

#ifdef __cplusplus
}
#endif
#endif
