/* Test-only fakes for the attestation interfaces (never linked into a
 * program): a `sim`-format attester (profile 7.6) with a configurable key,
 * measurement, SVN and flags; a verifier for sim evidence; and an httpa_rng
 * that hands out fixed byte strings, for known-answer tests. */
#ifndef HTTPA_TESTLIB_FAKE_TEE_H
#define HTTPA_TESTLIB_FAKE_TEE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "httpa/attest.h"
#include "httpa/buf.h"
#include "httpa/crypto.h"

#define TL_SIM_LEN 184
#define TL_SIM_FLAG_DEBUG 0x0001

/* ---- attester ---- */

typedef struct tl_fake_attester {
    httpa_attester base;      /* first: pass &a->base as the httpa_attester */
    httpa_sign_key *key;      /* the simulated attestation key (Ed25519) */
    uint8_t pub[32];
    uint8_t measurement[32];
    uint32_t svn;
    uint16_t flags;           /* written as is, so tests can set invalid bits */
    bool corrupt_report_data; /* quote a report_data with its first octet flipped */
    unsigned quotes;          /* number of quotes produced */
} tl_fake_attester;

/* `seed`: 32-octet Ed25519 seed of the sim attestation key (NULL: random). */
httpa_err tl_fake_attester_init(tl_fake_attester *a, const uint8_t *seed,
                                const uint8_t measurement[32], uint32_t svn,
                                uint16_t flags) HTTPA_MUST_USE;
void tl_fake_attester_clear(tl_fake_attester *a);

/* One 184-octet sim evidence structure, written to out. */
httpa_err tl_sim_quote(httpa_sign_key *key, uint16_t flags, uint32_t svn,
                       const uint8_t measurement[32],
                       const uint8_t report_data[HTTPA_REPORT_DATA_LEN],
                       uint8_t out[TL_SIM_LEN]) HTTPA_MUST_USE;

/* ---- verifier ---- */

/* Accepts sim evidence (format raw) signed by `pub` whose measurement is
 * `measurement` (when set), SVN >= min_svn, debug only if allow_debug, other
 * flag bits 0. HTTPA_ERR_UNSUPPORTED for any other TEE or format (eat). */
typedef struct tl_fake_verifier {
    httpa_verifier base;      /* first */
    uint8_t pub[32];
    bool check_measurement;
    uint8_t measurement[32];
    uint32_t min_svn;
    bool allow_debug;
    unsigned calls;           /* appraisals asked for */
    unsigned accepted;        /* appraisals that returned HTTPA_OK */
} tl_fake_verifier;

void tl_fake_verifier_init(tl_fake_verifier *v, const uint8_t pub[32],
                           const uint8_t *measurement, uint32_t min_svn);

/* ---- fixed randomness ---- */

#define TL_RNG_MAX 16

/* Each fill() takes the next queued string, whose length must equal the
 * request; when the queue is empty, fill() fails (or, with `fallback`,
 * draws from the CSPRNG). */
typedef struct tl_rng {
    httpa_rng base;           /* first */
    httpa_buf items[TL_RNG_MAX];
    size_t n;
    size_t next;
    bool fallback;
    bool mismatch;            /* a fill() asked for a length other than queued */
} tl_rng;

void tl_rng_init(tl_rng *r, bool fallback);
void tl_rng_push(tl_rng *r, const void *p, size_t len);
void tl_rng_push_hex(tl_rng *r, const char *hex);
size_t tl_rng_left(const tl_rng *r);
void tl_rng_free(tl_rng *r);

#endif
