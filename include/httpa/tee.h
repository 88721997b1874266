/* Evidence providers for real TEEs, behind httpa_attester (attest.h):
 *
 *   tsm      Linux configfs-tsm (/sys/kernel/config/tsm/report): Intel TDX
 *            quotes and AMD SEV-SNP attestation reports from a guest kernel.
 *   gramine  Intel SGX DCAP quotes from inside a Gramine enclave
 *            (/dev/attestation).
 *
 * and the choice between them (httpa_tee_open): automatic detection, or by
 * name. The simulated TEE (sim.h) is never chosen automatically: a caller
 * must name it and also set allow_sim.
 *
 * Each provider checks what it gets back: the evidence must be at least as
 * long as its format's fixed part and must carry the report_data that was
 * asked for (a concurrent writer or a stale file cannot slip in other
 * evidence). Every failure has a reason and a detail with the errno text;
 * nothing here logs, and report_data and evidence are public values.
 *
 * Quote generation is slow (tens of milliseconds on TDX, serialized per
 * host): call these off the request path (keymgr.h does, for attested-key
 * mode). All calls are thread-safe. */
#ifndef HTTPA_TEE_H
#define HTTPA_TEE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "httpa/attest.h"
#include "httpa/buf.h"
#include "httpa/err.h"
#include "httpa/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HTTPA_TSM_DEFAULT_ROOT "/sys/kernel/config/tsm/report"
#define HTTPA_GRAMINE_DEFAULT_ROOT "/dev/attestation"
#define HTTPA_TEE_PATH_MAX 512
/* Bounds on what is read from the interfaces. */
#define HTTPA_TEE_EVIDENCE_MAX (64 * 1024)
#define HTTPA_TEE_AUXBLOB_MAX (128 * 1024)

/* ---- Reasons ---- */

/* X(name, sentence) */
#define HTTPA_TEE_REASONS(X)                                                              \
    X(OK, "evidence obtained")                                                           \
    X(NO_TEE, "no TEE interface found")                                                  \
    X(UNKNOWN_NAME, "unknown evidence provider name")                                    \
    X(SIM_NOT_ALLOWED, "the simulated TEE was named without allow_sim")                  \
    X(PATH_TOO_LONG, "a path of the interface is too long")                              \
    X(MKDIR_FAILED, "cannot create the configfs-tsm report entry")                       \
    X(RMDIR_FAILED, "cannot remove the configfs-tsm report entry")                       \
    X(OPEN_FAILED, "cannot open a file of the interface")                                \
    X(READ_FAILED, "cannot read a file of the interface")                                \
    X(WRITE_FAILED, "cannot write report data")                                          \
    X(TOO_LARGE, "a file of the interface exceeds its bound")                            \
    X(BAD_GENERATION, "generation is not a decimal number")                              \
    X(GENERATION_MISMATCH, "generation did not advance by exactly one: another writer")  \
    X(UNKNOWN_PROVIDER, "configfs-tsm provider is neither tdx_guest nor sev_guest")      \
    X(PROVIDER_CHANGED, "configfs-tsm provider differs from the one found at start")     \
    X(NOT_DCAP, "Gramine attestation_type is not \"dcap\"")                              \
    X(SHORT_EVIDENCE, "evidence is shorter than its format's fixed part")                \
    X(WRONG_FORMAT, "evidence is not of the expected format")                            \
    X(REPORT_DATA_MISMATCH, "evidence does not carry the requested report_data")         \
    X(INTERNAL, "internal failure")

typedef enum httpa_tee_reason {
#define HTTPA_TEE_X(name, text) HTTPA_TEE_##name,
    HTTPA_TEE_REASONS(HTTPA_TEE_X)
#undef HTTPA_TEE_X
        HTTPA_TEE_REASON__COUNT
} httpa_tee_reason;

const char *httpa_tee_reason_name(httpa_tee_reason r);
const char *httpa_tee_reason_text(httpa_tee_reason r);

/* A reason, the errno behind it (0: none) and a detail naming the file. */
typedef struct httpa_tee_diag {
    httpa_tee_reason reason;
    int sys_errno;
    char detail[HTTPA_TEE_PATH_MAX + 96];
} httpa_tee_diag;

/* ---- configfs-tsm ---- */

/* TESTS ONLY: on a plain directory tree nothing answers like the kernel
 * does (mkdir creates no attribute files, writing inblob produces no
 * outblob, rmdir of a non-empty directory fails). A test supplies this
 * callback to play the kernel's part at the three points where the kernel
 * acts; production code leaves it NULL. */
typedef enum httpa_tsm_event {
    HTTPA_TSM_EV_CREATED,        /* after mkdir: create inblob, provider, generation... */
    HTTPA_TSM_EV_INBLOB_WRITTEN, /* after the write: produce outblob, bump generation */
    HTTPA_TSM_EV_REMOVING,       /* before rmdir: remove the attribute files */
} httpa_tsm_event;

typedef void (*httpa_tsm_test_kernel_fn)(void *arg, httpa_tsm_event ev, const char *entry_dir);

typedef struct httpa_tsm_config {
    const char *root;       /* NULL: HTTPA_TSM_DEFAULT_ROOT */
    bool set_privlevel;     /* write `privlevel` (SEV-SNP VMPL) before inblob */
    unsigned privlevel;
    unsigned max_attempts;  /* tries when another writer interferes; 0: 3 */
    httpa_tsm_test_kernel_fn test_kernel; /* NULL in production */
    void *test_kernel_arg;
} httpa_tsm_config;

typedef struct httpa_tsm_attester {
    httpa_attester base;    /* first; base.tee points at `tee` */
    httpa_tsm_config cfg;
    char root[HTTPA_TEE_PATH_MAX];
    char tee[HTTPA_TEE_TOKEN_MAX];       /* "tdx" or "sev_snp" */
    char provider[32];                   /* "tdx_guest" or "sev_guest" */
    pthread_mutex_t mu;                  /* guards `seq` and `last` */
    unsigned seq;                        /* entry names */
    httpa_tee_diag last;
} httpa_tsm_attester;

/* What one report yields. `auxblob` holds the SEV-SNP certificate table when
 * the host supplies one (empty otherwise). Free with httpa_tsm_report_free. */
typedef struct httpa_tsm_report {
    httpa_buf outblob;
    httpa_buf auxblob;
    uint64_t generation;
    unsigned attempts;
} httpa_tsm_report;

/* Probes the interface (creates and removes one entry, reads `provider`)
 * and sets base.tee. HTTPA_ERR_IO or HTTPA_ERR_UNSUPPORTED with `diag`
 * (may be NULL) on failure; the attester is then cleared. */
httpa_err httpa_tsm_attester_init(httpa_tsm_attester *a, const httpa_tsm_config *cfg,
                                  httpa_tee_diag *diag) HTTPA_MUST_USE;
void httpa_tsm_attester_clear(httpa_tsm_attester *a);

/* One report whose report_data is `rd`: mkdir a uniquely named entry, read
 * `generation`, write `inblob`, read `outblob` (and `auxblob`), read
 * `generation` again, rmdir; again (up to max_attempts) when the generation
 * did not advance by exactly one. Errors: HTTPA_ERR_IO (the file system),
 * HTTPA_ERR_BAD_QUOTE (the evidence), HTTPA_ERR_TOO_LARGE, HTTPA_ERR_BAD_STATE
 * (another writer every time). */
httpa_err httpa_tsm_get_report(httpa_tsm_attester *a, const uint8_t rd[HTTPA_REPORT_DATA_LEN],
                               httpa_tsm_report *out, httpa_tee_diag *diag) HTTPA_MUST_USE;
void httpa_tsm_report_free(httpa_tsm_report *r);

/* ---- Gramine /dev/attestation ---- */

/* TESTS ONLY: called after `user_report_data` is written, to produce
 * `quote` the way Gramine's pseudo-file system does. */
typedef void (*httpa_gramine_test_device_fn)(void *arg, const char *dir);

typedef struct httpa_gramine_config {
    const char *root;       /* NULL: HTTPA_GRAMINE_DEFAULT_ROOT */
    httpa_gramine_test_device_fn test_device; /* NULL in production */
    void *test_device_arg;
} httpa_gramine_config;

typedef struct httpa_gramine_attester {
    httpa_attester base;    /* first; base.tee is "sgx" */
    httpa_gramine_config cfg;
    char root[HTTPA_TEE_PATH_MAX];
    pthread_mutex_t mu;     /* one write-then-read at a time; guards `last` */
    httpa_tee_diag last;
} httpa_gramine_attester;

/* Checks that attestation_type is "dcap". */
httpa_err httpa_gramine_attester_init(httpa_gramine_attester *a, const httpa_gramine_config *cfg,
                                      httpa_tee_diag *diag) HTTPA_MUST_USE;
void httpa_gramine_attester_clear(httpa_gramine_attester *a);

/* Write `rd` to user_report_data, read `quote` into `quote` (appended). */
httpa_err httpa_gramine_get_quote(httpa_gramine_attester *a,
                                  const uint8_t rd[HTTPA_REPORT_DATA_LEN], httpa_buf *quote,
                                  httpa_tee_diag *diag) HTTPA_MUST_USE;

/* ---- Choosing a provider ---- */

typedef enum httpa_tee_kind {
    HTTPA_TEE_KIND_NONE,
    HTTPA_TEE_KIND_TSM,
    HTTPA_TEE_KIND_GRAMINE,
    HTTPA_TEE_KIND_SIM,
} httpa_tee_kind;

/* "none", "tsm", "gramine", "sim". */
const char *httpa_tee_kind_name(httpa_tee_kind k);

/* tsm when <tsm_root> is a directory, else gramine when <gramine_root>/quote
 * exists, else none (never sim). NULL roots: the defaults. */
httpa_tee_kind httpa_tee_detect(const char *tsm_root, const char *gramine_root);

typedef struct httpa_tee_options {
    const char *provider;   /* NULL or "auto": httpa_tee_detect; else "tsm", "gramine", "sim" */
    httpa_tsm_config tsm;
    httpa_gramine_config gramine;
    /* The simulated TEE: proves NOTHING about hardware; only with allow_sim. */
    bool allow_sim;
    const uint8_t *sim_seed; /* 32 octets; NULL: random */
    uint8_t sim_measurement[HTTPA_SIM_MEASUREMENT_LEN];
    uint32_t sim_svn;
} httpa_tee_options;

typedef struct httpa_tee httpa_tee;

/* Open the named or detected provider. HTTPA_ERR_UNSUPPORTED with reason
 * NO_TEE when "auto" finds nothing, SIM_NOT_ALLOWED for "sim" without
 * allow_sim, UNKNOWN_NAME for another name; the provider's own errors
 * otherwise. */
httpa_err httpa_tee_open(const httpa_tee_options *o, httpa_tee **out,
                         httpa_tee_diag *diag) HTTPA_MUST_USE;
httpa_attester *httpa_tee_attester(httpa_tee *t);
httpa_tee_kind httpa_tee_kind_of(const httpa_tee *t);
/* The most recent failure of the provider (reason OK when none). */
void httpa_tee_last_error(httpa_tee *t, httpa_tee_diag *out);
void httpa_tee_close(httpa_tee *t);

#ifdef __cplusplus
}
#endif
#endif
