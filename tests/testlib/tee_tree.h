/* TESTS ONLY: temporary directory trees that imitate configfs-tsm and
 * Gramine's /dev/attestation, the fake "kernel" / "device" that answers in
 * them (through the providers' test hooks, see include/httpa/tee.h), and a
 * verifier for the evidence they produce.
 *
 * There is no TEE here. The evidence the fakes write has the outer shape of
 * a TDX quote v4, an SGX quote v3 or an SEV-SNP report (so the providers'
 * checks of length and report_data run for real), with sim evidence (profile
 * 7.6) over the same report_data appended; tl_wrapped_verifier accepts
 * exactly that and marks the result simulated. Never use either outside
 * tests. */
#ifndef HTTPA_TESTLIB_TEE_TREE_H
#define HTTPA_TESTLIB_TEE_TREE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "httpa/attest.h"
#include "httpa/sim.h"
#include "httpa/tee.h"

/* A fresh directory under $TMPDIR (or /tmp); static storage per call site
 * is not needed: the path is copied to `out`. Fails the test on error. */
void tl_tempdir(char out[256]);
/* rm -r */
void tl_rmtree(const char *dir);
/* Write a whole file (created or truncated). */
void tl_write_file(const char *dir, const char *name, const void *p, size_t len);
void tl_write_text(const char *dir, const char *name, const char *text);

typedef enum tl_shape {
    TL_SHAPE_TDX_V4,
    TL_SHAPE_TDX_V5,
    TL_SHAPE_SGX_V3,
    TL_SHAPE_SNP,
} tl_shape;

/* A blob of `shape` whose report_data is `rd`, followed by u32 LE length
 * and sim evidence over `rd` made by `sim` (when not NULL). */
void tl_wrap_evidence(tl_shape shape, const uint8_t rd[HTTPA_REPORT_DATA_LEN],
                      httpa_attester *sim, httpa_buf *out);

/* ---- configfs-tsm ---- */

typedef enum tl_tsm_mode {
    TL_TSM_OK,
    TL_TSM_NO_OUTBLOB,      /* the "kernel" writes no outblob */
    TL_TSM_SHORT_OUTBLOB,   /* 100 octets */
    TL_TSM_WRONG_RD,        /* report_data other than the inblob */
    TL_TSM_GEN_SKIP,        /* generation advances by two every time */
    TL_TSM_GEN_SKIP_ONCE,   /* ... on the first report only */
    TL_TSM_NO_GENERATION,   /* no generation file */
    TL_TSM_BAD_GENERATION,  /* "x" */
    TL_TSM_HUGE_OUTBLOB,    /* larger than HTTPA_TEE_EVIDENCE_MAX */
} tl_tsm_mode;

typedef struct tl_tsm_kernel {
    char provider[32];      /* "tdx_guest", "sev_guest", ... */
    tl_tsm_mode mode;
    httpa_attester *sim;    /* the sim evidence inside; NULL: none */
    bool auxblob;           /* write an auxblob (SEV-SNP certificates) */
    pthread_mutex_t mu;
    unsigned created, removed, reports;
    pthread_t last_thread;  /* the thread of the last report */
} tl_tsm_kernel;

void tl_tsm_kernel_init(tl_tsm_kernel *k, const char *provider, httpa_attester *sim);
void tl_tsm_kernel_free(tl_tsm_kernel *k);
/* For httpa_tsm_config.test_kernel, with test_kernel_arg = the kernel. */
void tl_tsm_kernel_fn(void *arg, httpa_tsm_event ev, const char *dir);

/* ---- Gramine ---- */

typedef enum tl_gramine_mode {
    TL_GRAMINE_OK,
    TL_GRAMINE_NO_QUOTE,
    TL_GRAMINE_SHORT_QUOTE,
    TL_GRAMINE_WRONG_RD,
} tl_gramine_mode;

typedef struct tl_gramine_device {
    tl_gramine_mode mode;
    httpa_attester *sim;
    unsigned quotes;
} tl_gramine_device;

/* Creates attestation_type (`type`), user_report_data and no quote. */
void tl_gramine_tree(const char *dir, const char *type);
/* For httpa_gramine_config.test_device, with test_device_arg = the device. */
void tl_gramine_device_fn(void *arg, const char *dir);

/* ---- The verifier of wrapped evidence ---- */

/* Accepts `tee` raw evidence made by tl_wrap_evidence whose sim part
 * verifies under `sim_pub`; report_data from the outer shape (which must
 * equal the sim one). HTTPA_ERR_UNSUPPORTED for other tokens or formats. */
typedef struct tl_wrapped_verifier {
    httpa_verifier base; /* first */
    const char *tee;     /* "tdx", "sgx", "sev_snp" */
    tl_shape shape;
    httpa_sim_verifier sim;
    unsigned calls;
} tl_wrapped_verifier;

void tl_wrapped_verifier_init(tl_wrapped_verifier *v, const char *tee, tl_shape shape,
                              const uint8_t sim_pub[32]);

#endif
