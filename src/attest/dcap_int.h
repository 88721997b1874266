/* Internals shared by the dcap_*.c and policy.c files of src/attest: the
 * parsed collateral and small strict decoders. Never included elsewhere. */
#ifndef HTTPA_ATTEST_DCAP_INT_H
#define HTTPA_ATTEST_DCAP_INT_H

#include <pthread.h>
#include <stdarg.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "httpa/dcap.h"

/* Bounds on what the collateral may contain; Intel's files are far below. */
#define DCAP_MAX_LEVELS 128
#define DCAP_MAX_MODULES 16
#define DCAP_SVN_COUNT 16

/* One level of a QE identity or TDX module identity. */
typedef struct dcap_isv_level {
    uint16_t isvsvn;
    httpa_dcap_tcb_status status;
    json_t *advisories; /* borrowed array of validated strings, or NULL */
} dcap_isv_level;

typedef struct dcap_tcb_level {
    uint8_t sgx_svn[DCAP_SVN_COUNT];
    uint16_t pcesvn;
    bool has_tdx;
    uint8_t tdx_svn[DCAP_SVN_COUNT];
    httpa_dcap_tcb_status status;
    json_t *advisories;
} dcap_tcb_level;

typedef struct dcap_tdx_module {
    char id[16];
    uint8_t mrsigner[48];
    uint8_t attributes[8];
    uint8_t attributes_mask[8];
    dcap_isv_level *levels;
    size_t nlevels;
} dcap_tdx_module;

typedef struct dcap_tcb_info {
    bool tdx; /* id "TDX" (else "SGX") */
    int64_t issue_date, next_update;
    uint8_t fmspc[6];
    uint8_t pceid[2];
    dcap_tdx_module module; /* tdxModule (TDX); its levels are unused */
    dcap_tdx_module *identities; /* tdxModuleIdentities */
    size_t nidentities;
    dcap_tcb_level *levels;
    size_t nlevels;
} dcap_tcb_info;

typedef struct dcap_qe_identity {
    bool td_qe; /* id "TD_QE" (else "QE") */
    int64_t issue_date, next_update;
    uint32_t miscselect, miscselect_mask;
    uint8_t attributes[16], attributes_mask[16];
    uint8_t mrsigner[32];
    uint16_t isvprodid;
    dcap_isv_level *levels;
    size_t nlevels;
} dcap_qe_identity;

/* What a complete verification with this collateral established under one
 * trust anchor that does not depend on the time: the root CRL, the PCK CRL
 * and its issuer chain, the TCB info and QE identity signatures and signer
 * chains, and that none of those certificates is revoked. A later
 * verification with the same anchor repeats only what depends on the time
 * (validity windows) and on the quote, and falls back to the complete
 * checks whenever anything differs, so a rejection always names the same
 * reason. Set once, under `mu`; the collateral stays shareable. */
#define DCAP_MEMO_LEAVES 16

/* A PCK certificate that passed path validation (strict, up to the memo's
 * PCK CA, not in the PCK CRL): every quote of one platform carries the same
 * one, so it is decoded and verified once. */
typedef struct dcap_memo_leaf {
    uint8_t der_hash[32];        /* SHA-256 of its DER */
    X509 *leaf;                  /* a reference */
    int64_t not_before, not_after;
} dcap_memo_leaf;

typedef struct dcap_memo {
    pthread_mutex_t mu;
    bool valid;
    bool pck_crl_accepted;       /* a PCK chain passed OpenSSL's CRL checks with it */
    uint8_t anchor[32];          /* SHA-256 of the anchor's DER */
    int64_t not_before, not_after; /* where every memoized certificate is valid */
    dcap_memo_leaf leaves[DCAP_MEMO_LEAVES];
    size_t nleaves, next;        /* filled, then replaced round robin */
} dcap_memo;

/* Drop the memoized leaves (under mu). */
void dcap_memo_clear_leaves(dcap_memo *m);

struct httpa_dcap_collateral {
    STACK_OF(X509) *pck_crl_chain; /* PCK CA, root */
    STACK_OF(X509) *tcb_chain;     /* TCB signing, root */
    STACK_OF(X509) *qe_chain;      /* TCB signing, root */
    X509_CRL *root_crl;
    X509_CRL *pck_crl;
    char *tcb_text; /* the exact signed JSON text */
    size_t tcb_text_len;
    uint8_t tcb_sig[64];
    char *qe_text;
    size_t qe_text_len;
    uint8_t qe_sig[64];
    json_t *tcb_json; /* kept: the levels borrow advisory arrays from them */
    json_t *qe_json;
    dcap_tcb_info tcb;
    dcap_qe_identity qe;
    dcap_memo memo;
};

/* Strict hex (either case) of exactly 2 * n characters into n octets. */
bool dcap_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t n);

/* Seconds since the epoch of a proleptic Gregorian UTC date and time; the
 * fields must already be in range. */
int64_t dcap_civil_to_unix(int64_t y, unsigned mon, unsigned d, unsigned h, unsigned mi,
                           unsigned s);

/* Certificates of a PEM text (at most `max`); trailing NUL octets and white
 * space are allowed, anything else after the last certificate is not. NULL
 * when malformed or empty. */
STACK_OF(X509) *dcap_pem_chain(const uint8_t *pem, size_t len, int max);

/* The DER octets of each certificate of a PEM text, without decoding the
 * certificates: the blocks are delimited as dcap_pem_chain does, and their
 * base64 must be strict (anything else: false, and the caller takes
 * dcap_pem_chain's path). At most `max` blocks; *n receives the count;
 * out[0..max) are initialized by the callee. */
bool dcap_pem_ders(const uint8_t *pem, size_t len, httpa_buf *out, size_t max, size_t *n);

/* The FMSPC in the PCK certificate of a quote (for choosing collateral);
 * false when the quote or its certificate cannot be parsed. */
bool dcap_quote_fmspc(httpa_span quote, uint8_t fmspc[6], bool *tdx);

/* Read a whole file of at most `max` octets into `out` (initialized by the
 * callee); HTTPA_ERR_IO when unreadable, HTTPA_ERR_TOO_LARGE when longer. */
httpa_err dcap_read_file(const char *path, size_t max, httpa_buf *out) HTTPA_MUST_USE;

/* Fill a diag (printf-style detail) and return HTTPA_ERR_BAD_QUOTE. */
httpa_err dcap_fail(httpa_dcap_diag *d, httpa_dcap_reason r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
