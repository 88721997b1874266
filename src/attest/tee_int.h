/* Internals shared by the evidence providers (tee_*.c): bounded file I/O
 * that names what failed, and the shape checks of the evidence formats.
 * Never included outside src/attest. */
#ifndef HTTPA_ATTEST_TEE_INT_H
#define HTTPA_ATTEST_TEE_INT_H

#include "httpa/tee.h"

/* The evidence formats a provider may return. */
typedef enum tee_format {
    TEE_FORMAT_TDX_QUOTE,  /* Intel TDX quote v4 / v5 */
    TEE_FORMAT_SGX_QUOTE,  /* Intel SGX quote v3 / v4 / v5 */
    TEE_FORMAT_SNP_REPORT, /* AMD SEV-SNP ATTESTATION_REPORT */
} tee_format;

/* Fill `d` (may be NULL) and return `e`. */
httpa_err tee_fail(httpa_tee_diag *d, httpa_err e, httpa_tee_reason r, int err,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* dir + "/" + name into out[HTTPA_TEE_PATH_MAX]; PATH_TOO_LONG otherwise. */
httpa_err tee_path(char out[HTTPA_TEE_PATH_MAX], const char *dir, const char *name,
                   httpa_tee_diag *d) HTTPA_MUST_USE;

/* The whole file, at most `max` octets, appended to `out`. `missing_ok`:
 * a file that does not exist reads as empty. */
httpa_err tee_read(const char *path, size_t max, bool missing_ok, httpa_buf *out,
                   httpa_tee_diag *d) HTTPA_MUST_USE;

/* One write(2) of exactly `len` octets to an existing file (configfs and
 * Gramine take a binary attribute in one call). */
httpa_err tee_write(const char *path, const void *p, size_t len, httpa_tee_diag *d) HTTPA_MUST_USE;

/* A short text attribute ("tdx_guest\n") without its line end, NUL-ended. */
httpa_err tee_read_text(const char *path, char *out, size_t cap, httpa_tee_diag *d) HTTPA_MUST_USE;

/* The evidence has its format's fixed part and carries `rd` where the
 * format puts report_data (profile 7.5). HTTPA_ERR_BAD_QUOTE otherwise. */
httpa_err tee_check_evidence(tee_format f, httpa_span ev, const uint8_t rd[HTTPA_REPORT_DATA_LEN],
                             httpa_tee_diag *d) HTTPA_MUST_USE;

/* Store the outcome of a call as the attester's last error. */
void tee_remember(pthread_mutex_t *mu, httpa_tee_diag *last, const httpa_tee_diag *d);

#endif
