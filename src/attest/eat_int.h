/* Internals shared by eat_keys.c, eat_verify.c and eat_issue.c (stapled
 * attestation results, profile 7.7). Never included elsewhere. */
#ifndef HTTPA_ATTEST_EAT_INT_H
#define HTTPA_ATTEST_EAT_INT_H

#include <jansson.h>

#include "httpa/eat.h"

/* What a member of httpa2_claims holds. */
typedef enum eat_kind {
    EAT_HEX,  /* lower- or upper-case hex of exactly `len` octets */
    EAT_UINT, /* JSON integer in 0..max */
    EAT_BOOL, /* true or false */
} eat_kind;

/* One member of httpa2_claims for one TEE: its name, form and where a
 * verified value goes in httpa_eat_measurements (offset, or SIZE_MAX when
 * the value is only checked). */
typedef struct eat_member {
    const char *name;
    eat_kind kind;
    size_t len;      /* EAT_HEX: octets; EAT_UINT: octets of the destination (2, 4, 8) */
    uint64_t max;    /* EAT_UINT */
    size_t offset;   /* into httpa_eat_measurements */
} eat_member;

/* The members required for `tee` ("sgx", "tdx", "sev_snp", "tpm", "sim");
 * NULL for another token. */
const eat_member *eat_schema(const char *tee, size_t *n);

/* Fill a diag and return HTTPA_ERR_BAD_QUOTE. */
httpa_err eat_fail(httpa_eat_diag *d, httpa_eat_reason r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A PEM block ("-----BEGIN <label>-----", 64-column base64, END line) of
 * `der` into out (NUL-terminated). */
httpa_err eat_pem(const char *label, const uint8_t *der, size_t der_len, char *out,
                  size_t cap) HTTPA_MUST_USE;

/* Lower-case hex of n octets; out holds 2n + 1. */
void eat_hex(const uint8_t *p, size_t n, char *out);

/* base64url (no padding) of n octets into a new json string (NULL: memory). */
json_t *eat_b64u_json(const uint8_t *p, size_t n);

/* Strict base64url of exactly n octets. */
bool eat_b64u_exact(const char *s, size_t len, uint8_t *out, size_t n);

/* The TEE tokens of profile 7.5. */
bool eat_tee_known(const char *tee);

#endif
