/* The two attestation interfaces the engine calls through: an evidence
 * provider (attester) and an evidence verifier. Implementations live in
 * src/attest (real TEEs, the flagged simulator) and tests/testlib (fakes).
 * They are callback objects: embed the struct first in your own state and
 * cast `self` back. */
#ifndef HTTPA_ATTEST_H
#define HTTPA_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "httpa/buf.h"
#include "httpa/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HTTPA_REPORT_DATA_LEN 64
#define HTTPA_TEE_TOKEN_MAX 16

/* Produces evidence for one TEE whose report_data is the given 64 octets. */
typedef struct httpa_attester {
    const char *tee; /* the profile's TEE token: "sgx", "tdx", "sev_snp", "tpm", "sim" */
    httpa_err (*quote)(struct httpa_attester *self, const uint8_t report_data[HTTPA_REPORT_DATA_LEN],
                       httpa_buf *evidence);
} httpa_attester;

/* What a verifier found in evidence it accepted. */
typedef struct httpa_appraisal {
    uint8_t report_data[HTTPA_REPORT_DATA_LEN]; /* raw report_data, or eat_nonce */
    bool simulated;  /* sim evidence: never proof of hardware */
    bool debug;
    char tcb_status[48];
    uint8_t measurement[64]; /* main measurement (MRENCLAVE, MRTD, sim measurement) */
    size_t measurement_len;
} httpa_appraisal;

/* Appraises one Attest-Quotes entry against the verifier's policy at `now`.
 * Returns HTTPA_OK and fills `out`; HTTPA_ERR_UNSUPPORTED when it cannot
 * verify this TEE token or format (the entry is then ignored, except `sim`,
 * which the engine never ignores); any other code means the evidence was
 * rejected. The engine itself compares out->report_data with the value the
 * handshake expects: a verifier's word is not a substitute (profile 7.8). */
typedef struct httpa_verifier {
    httpa_err (*appraise)(struct httpa_verifier *self, const char *tee, const char *format,
                          httpa_span evidence, int64_t now, httpa_appraisal *out);
} httpa_verifier;

/* Source of randomness; NULL in a config means the OpenSSL CSPRNG.
 * Known-answer tests inject fixed bytes through it. */
typedef struct httpa_rng {
    httpa_err (*fill)(struct httpa_rng *self, uint8_t *out, size_t len);
} httpa_rng;

#ifdef __cplusplus
}
#endif
#endif
