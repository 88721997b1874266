/* Evidence from Gramine's /dev/attestation pseudo-files: write the 64-octet
 * report_data to `user_report_data`, then read the SGX DCAP quote from
 * `quote`. The pair of files is per process, so one write-then-read runs at
 * a time (the mutex), and the quote must carry the report_data written.
 * On a plain directory tree (tests) a test callback produces `quote`. */
#include <stdio.h>
#include <string.h>

#include "tee_int.h"

#define TYPE_MAX 32

static httpa_err check_type(const httpa_gramine_attester *a, httpa_tee_diag *d)
{
    char path[HTTPA_TEE_PATH_MAX], type[TYPE_MAX] = "";
    httpa_err e = tee_path(path, a->root, "attestation_type", d);
    if (e == HTTPA_OK)
        e = tee_read_text(path, type, sizeof(type), d);
    if (e == HTTPA_OK && strcmp(type, "dcap") != 0)
        e = tee_fail(d, HTTPA_ERR_UNSUPPORTED, HTTPA_TEE_NOT_DCAP, 0,
                     "%s is \"%s\": set sgx.remote_attestation = \"dcap\" in the manifest", path,
                     type);
    return e;
}

static httpa_err write_then_read(httpa_gramine_attester *a, const uint8_t rd[HTTPA_REPORT_DATA_LEN],
                                 httpa_buf *quote, httpa_tee_diag *d)
{
    char urd[HTTPA_TEE_PATH_MAX], qpath[HTTPA_TEE_PATH_MAX];
    httpa_err e = tee_path(urd, a->root, "user_report_data", d);
    if (e == HTTPA_OK)
        e = tee_path(qpath, a->root, "quote", d);
    if (e == HTTPA_OK)
        e = tee_write(urd, rd, HTTPA_REPORT_DATA_LEN, d);
    if (e != HTTPA_OK)
        return e;
    if (a->cfg.test_device != NULL)
        a->cfg.test_device(a->cfg.test_device_arg, a->root);
    return tee_read(qpath, HTTPA_TEE_EVIDENCE_MAX, false, quote, d);
}

httpa_err httpa_gramine_get_quote(httpa_gramine_attester *a,
                                  const uint8_t rd[HTTPA_REPORT_DATA_LEN], httpa_buf *quote,
                                  httpa_tee_diag *diag)
{
    httpa_tee_diag local = {.reason = HTTPA_TEE_OK};
    httpa_tee_diag *d = diag != NULL ? diag : &local;
    httpa_buf q;
    if (a == NULL || rd == NULL || quote == NULL)
        return tee_fail(d, HTTPA_ERR_INVALID_ARG, HTTPA_TEE_INTERNAL, 0, "missing argument");
    httpa_buf_init(&q, HTTPA_TEE_EVIDENCE_MAX);
    pthread_mutex_lock(&a->mu);
    httpa_err e = write_then_read(a, rd, &q, d);
    if (e == HTTPA_OK)
        e = tee_check_evidence(TEE_FORMAT_SGX_QUOTE, httpa_buf_span(&q), rd, d);
    if (e == HTTPA_OK && httpa_buf_append(quote, q.base, q.len) != HTTPA_OK)
        e = tee_fail(d, HTTPA_ERR_TOO_LARGE, HTTPA_TEE_TOO_LARGE, 0,
                     "the caller's buffer cannot hold %zu octets", q.len);
    if (e == HTTPA_OK)
        *d = (httpa_tee_diag){.reason = HTTPA_TEE_OK};
    a->last = *d;
    pthread_mutex_unlock(&a->mu);
    httpa_buf_free(&q);
    return e;
}

static httpa_err gramine_quote(httpa_attester *self, const uint8_t rd[HTTPA_REPORT_DATA_LEN],
                               httpa_buf *evidence)
{
    return httpa_gramine_get_quote((httpa_gramine_attester *)self, rd, evidence, NULL);
}

httpa_err httpa_gramine_attester_init(httpa_gramine_attester *a, const httpa_gramine_config *cfg,
                                      httpa_tee_diag *diag)
{
    httpa_tee_diag local = {.reason = HTTPA_TEE_OK};
    httpa_tee_diag *d = diag != NULL ? diag : &local;
    if (a == NULL)
        return tee_fail(d, HTTPA_ERR_INVALID_ARG, HTTPA_TEE_INTERNAL, 0, "no attester");
    memset(a, 0, sizeof(*a));
    if (cfg != NULL)
        a->cfg = *cfg;
    const char *root = a->cfg.root != NULL ? a->cfg.root : HTTPA_GRAMINE_DEFAULT_ROOT;
    int n = snprintf(a->root, sizeof(a->root), "%s", root);
    if (n < 0 || (size_t)n >= sizeof(a->root) - 32)
        return tee_fail(d, HTTPA_ERR_INVALID_ARG, HTTPA_TEE_PATH_TOO_LONG, 0, "%s", root);
    a->cfg.root = a->root;
    httpa_err e = check_type(a, d);
    if (e != HTTPA_OK) {
        memset(a, 0, sizeof(*a));
        return e;
    }
    if (pthread_mutex_init(&a->mu, NULL) != 0) {
        memset(a, 0, sizeof(*a));
        return tee_fail(d, HTTPA_ERR_NOMEM, HTTPA_TEE_INTERNAL, 0, "pthread_mutex_init");
    }
    a->base.tee = "sgx";
    a->base.quote = gramine_quote;
    *d = (httpa_tee_diag){.reason = HTTPA_TEE_OK};
    a->last = *d;
    return HTTPA_OK;
}

void httpa_gramine_attester_clear(httpa_gramine_attester *a)
{
    if (a == NULL || a->base.quote == NULL)
        return;
    pthread_mutex_destroy(&a->mu);
    memset(a, 0, sizeof(*a));
}
