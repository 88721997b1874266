/* The simulated TEE (profile 7.6): evidence signed by a software key.
 *
 * It proves NOTHING about hardware. It exists so that httpa runs and is
 * tested on machines without a TEE. A verifier accepts it only when it is
 * explicitly configured with the simulated attestation public key, and every
 * program that uses it must say so loudly. */
#ifndef HTTPA_SIM_H
#define HTTPA_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "httpa/attest.h"
#include "httpa/crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HTTPA_SIM_EVIDENCE_LEN 184
#define HTTPA_SIM_MEASUREMENT_LEN 32
#define HTTPA_SIM_FLAG_DEBUG 0x0001

/* The fields of a sim evidence structure. */
typedef struct httpa_sim_evidence {
    uint16_t version;
    uint16_t flags;
    uint32_t svn;
    uint8_t measurement[HTTPA_SIM_MEASUREMENT_LEN];
    uint8_t report_data[HTTPA_REPORT_DATA_LEN];
    uint8_t signature[HTTPA_SIG_LEN];
} httpa_sim_evidence;

/* Parse the 184-octet structure: length, magic and version only (no
 * signature check). HTTPA_ERR_BAD_QUOTE when malformed. */
httpa_err httpa_sim_evidence_parse(httpa_span in, httpa_sim_evidence *out) HTTPA_MUST_USE;

/* The producer. Initialize, then use &a->base as an httpa_attester. */
typedef struct httpa_sim_attester {
    httpa_attester base;
    httpa_sign_key *key;
    uint8_t pub[32];
    uint8_t measurement[HTTPA_SIM_MEASUREMENT_LEN];
    uint32_t svn;
    uint16_t flags;
} httpa_sim_attester;

/* `seed` is the 32-octet simulated attestation key seed (NULL: random). */
httpa_err httpa_sim_attester_init(httpa_sim_attester *a, const uint8_t *seed,
                                  const uint8_t measurement[HTTPA_SIM_MEASUREMENT_LEN],
                                  uint32_t svn, bool debug) HTTPA_MUST_USE;
void httpa_sim_attester_clear(httpa_sim_attester *a);

/* The verifier: checks what profile 7.6 lists (length, magic, version,
 * signature under the configured key, debug flag, other flags zero, minimum
 * SVN, measurement allow-list). It answers HTTPA_ERR_UNSUPPORTED for other
 * TEEs and formats, so it can sit beside a real verifier. */
typedef struct httpa_sim_verifier {
    httpa_verifier base;
    uint8_t pub[32];
    bool allow_debug;
    uint32_t min_svn;
    const uint8_t (*measurements)[HTTPA_SIM_MEASUREMENT_LEN]; /* NULL: any */
    size_t nmeasurements;
} httpa_sim_verifier;

void httpa_sim_verifier_init(httpa_sim_verifier *v, const uint8_t pub[32]);

#ifdef __cplusplus
}
#endif
#endif
