/* Evidence providers against temporary trees that imitate the interfaces:
 * configfs-tsm (TDX and SEV-SNP providers, the generation check, every
 * failure with its reason), Gramine's /dev/attestation, detection and the
 * choice by name. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tee_tree.h"
#include "testlib.h"

#include "httpa/tee.h"

typedef struct fx {
    char dir[256];
    httpa_sim_attester sim;
    tl_tsm_kernel kernel;
    httpa_tsm_config cfg;
    uint8_t rd[HTTPA_REPORT_DATA_LEN];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    uint8_t m[32] = {1, 2, 3};
    tl_tempdir(f->dir);
    assert_int_equal(httpa_sim_attester_init(&f->sim, NULL, m, 7, false), HTTPA_OK);
    tl_tsm_kernel_init(&f->kernel, "tdx_guest", &f->sim.base);
    f->cfg = (httpa_tsm_config){.root = f->dir, .test_kernel = tl_tsm_kernel_fn,
                                .test_kernel_arg = &f->kernel};
    for (size_t i = 0; i < sizeof(f->rd); i++)
        f->rd[i] = (uint8_t)(0xa0 + i);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    tl_tsm_kernel_free(&f->kernel);
    httpa_sim_attester_clear(&f->sim);
    tl_rmtree(f->dir);
    free(f);
    return 0;
}

static size_t entries(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void assert_reason(const httpa_tee_diag *d, httpa_tee_reason want)
{
    if (d->reason != want)
        fail_msg("reason %s (%s), want %s", httpa_tee_reason_name(d->reason), d->detail,
                 httpa_tee_reason_name(want));
}

/* ---- configfs-tsm ---- */

static void test_tsm_tdx_report(void **state)
{
    fx *f = *state;
    httpa_tsm_attester a;
    httpa_tee_diag d;
    assert_int_equal(httpa_tsm_attester_init(&a, &f->cfg, &d), HTTPA_OK);
    assert_string_equal(a.base.tee, "tdx");
    assert_string_equal(a.provider, "tdx_guest");
    assert_int_equal(f->kernel.created, 1); /* the probe */
    assert_int_equal(f->kernel.removed, 1);

    httpa_tsm_report r;
    assert_int_equal(httpa_tsm_get_report(&a, f->rd, &r, &d), HTTPA_OK);
    assert_reason(&d, HTTPA_TEE_OK);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.generation, 1);
    assert_int_equal(r.outblob.len, 632 + 4 + HTTPA_SIM_EVIDENCE_LEN);
    tl_assert_bytes(r.outblob.base + 568, 64, f->rd, 64);
    assert_int_equal(r.auxblob.len, 0);
    httpa_tsm_report_free(&r);
    assert_int_equal(f->kernel.removed, 2);
    assert_int_equal(entries(f->dir), 0); /* every entry was removed */

    /* Through the httpa_attester interface. */
    httpa_buf ev;
    httpa_buf_init(&ev, 1 << 16);
    assert_int_equal(a.base.quote(&a.base, f->rd, &ev), HTTPA_OK);
    assert_int_equal(ev.len, 632 + 4 + HTTPA_SIM_EVIDENCE_LEN);
    httpa_buf_free(&ev);
    httpa_tsm_attester_clear(&a);
}

static void test_tsm_sev_snp_with_auxblob(void **state)
{
    fx *f = *state;
    snprintf(f->kernel.provider, sizeof(f->kernel.provider), "sev_guest");
    f->kernel.auxblob = true;
    f->cfg.set_privlevel = true;
    f->cfg.privlevel = 0;
    httpa_tsm_attester a;
    assert_int_equal(httpa_tsm_attester_init(&a, &f->cfg, NULL), HTTPA_OK);
    assert_string_equal(a.base.tee, "sev_snp");
    httpa_tsm_report r;
    assert_int_equal(httpa_tsm_get_report(&a, f->rd, &r, NULL), HTTPA_OK);
    assert_int_equal(r.outblob.len, 1184 + 4 + HTTPA_SIM_EVIDENCE_LEN);
    tl_assert_bytes(r.outblob.base + 80, 64, f->rd, 64);
    tl_assert_bytes(r.auxblob.base, r.auxblob.len, "certificate table", 17);
    httpa_tsm_report_free(&r);
    httpa_tsm_attester_clear(&a);
}

static void test_tsm_missing_root(void **state)
{
    fx *f = *state;
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/no-such-dir", f->dir);
    f->cfg.root = missing;
    httpa_tsm_attester a;
    httpa_tee_diag d;
    assert_int_equal(httpa_tsm_attester_init(&a, &f->cfg, &d), HTTPA_ERR_IO);
    assert_reason(&d, HTTPA_TEE_MKDIR_FAILED);
    assert_non_null(strstr(d.detail, "No such file or directory"));
    assert_non_null(strstr(d.detail, missing));
}

static void test_tsm_unknown_provider(void **state)
{
    fx *f = *state;
    snprintf(f->kernel.provider, sizeof(f->kernel.provider), "cca_guest");
    httpa_tsm_attester a;
    httpa_tee_diag d;
    assert_int_equal(httpa_tsm_attester_init(&a, &f->cfg, &d), HTTPA_ERR_UNSUPPORTED);
    assert_reason(&d, HTTPA_TEE_UNKNOWN_PROVIDER);
    assert_non_null(strstr(d.detail, "cca_guest"));
    assert_int_equal(entries(f->dir), 0);
}

/* One report in `mode`: the code, the reason, and nothing left behind. */
static void expect_failure(fx *f, tl_tsm_mode mode, httpa_err want, httpa_tee_reason reason)
{
    httpa_tsm_attester a;
    httpa_tee_diag d;
    f->kernel.mode = TL_TSM_OK;
    assert_int_equal(httpa_tsm_attester_init(&a, &f->cfg, NULL), HTTPA_OK);
    f->kernel.mode = mode;
    httpa_tsm_report r;
    assert_int_equal(httpa_tsm_get_report(&a, f->rd, &r, &d), want);
    assert_reason(&d, reason);
    assert_int_equal(r.outblob.len, 0); /* freed on failure */
    assert_int_equal(entries(f->dir), 0);
    assert_int_equal(a.last.reason, reason); /* remembered as the last error */
    httpa_tsm_attester_clear(&a);
}

static void test_tsm_failures(void **state)
{
    fx *f = *state;
    expect_failure(f, TL_TSM_NO_OUTBLOB, HTTPA_ERR_IO, HTTPA_TEE_OPEN_FAILED);
    expect_failure(f, TL_TSM_SHORT_OUTBLOB, HTTPA_ERR_BAD_QUOTE, HTTPA_TEE_SHORT_EVIDENCE);
    expect_failure(f, TL_TSM_WRONG_RD, HTTPA_ERR_BAD_QUOTE, HTTPA_TEE_REPORT_DATA_MISMATCH);
    expect_failure(f, TL_TSM_NO_GENERATION, HTTPA_ERR_IO, HTTPA_TEE_OPEN_FAILED);
    expect_failure(f, TL_TSM_BAD_GENERATION, HTTPA_ERR_IO, HTTPA_TEE_BAD_GENERATION);
    expect_failure(f, TL_TSM_HUGE_OUTBLOB, HTTPA_ERR_TOO_LARGE, HTTPA_TEE_TOO_LARGE);
}

static void test_tsm_generation_mismatch(void **state)
{
    fx *f = *state;
    httpa_tsm_attester a;
    httpa_tee_diag d;
    f->cfg.max_attempts = 3;
    assert_int_equal(httpa_tsm_attester_init(&a, &f->cfg, NULL), HTTPA_OK);

    /* Another writer every time: three tries, then a named failure. */
    f->kernel.mode = TL_TSM_GEN_SKIP;
    httpa_tsm_report r;
    unsigned before = f->kernel.reports;
    assert_int_equal(httpa_tsm_get_report(&a, f->rd, &r, &d), HTTPA_ERR_BAD_STATE);
    assert_reason(&d, HTTPA_TEE_GENERATION_MISMATCH);
    assert_non_null(strstr(d.detail, "generation 0 before the write, 2 after"));
    assert_int_equal(f->kernel.reports - before, 3);

    /* Once: the second try succeeds. */
    f->kernel.mode = TL_TSM_GEN_SKIP_ONCE;
    f->kernel.reports = 0;
    assert_int_equal(httpa_tsm_get_report(&a, f->rd, &r, &d), HTTPA_OK);
    assert_int_equal(r.attempts, 2);
    httpa_tsm_report_free(&r);
    assert_int_equal(entries(f->dir), 0);
    httpa_tsm_attester_clear(&a);
}

static void test_tsm_provider_changed(void **state)
{
    fx *f = *state;
    httpa_tsm_attester a;
    httpa_tee_diag d;
    assert_int_equal(httpa_tsm_attester_init(&a, &f->cfg, NULL), HTTPA_OK);
    snprintf(f->kernel.provider, sizeof(f->kernel.provider), "sev_guest");
    httpa_tsm_report r;
    assert_int_equal(httpa_tsm_get_report(&a, f->rd, &r, &d), HTTPA_ERR_UNSUPPORTED);
    assert_reason(&d, HTTPA_TEE_PROVIDER_CHANGED);
    httpa_tsm_attester_clear(&a);
}

typedef struct worker {
    httpa_tsm_attester *a;
    uint8_t rd[64];
    httpa_err e;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 10 && w->e == HTTPA_OK; i++) {
        httpa_buf ev;
        httpa_buf_init(&ev, 1 << 16);
        w->e = w->a->base.quote(&w->a->base, w->rd, &ev);
        if (w->e == HTTPA_OK && memcmp(ev.base + 568, w->rd, 64) != 0)
            w->e = HTTPA_ERR_INTERNAL;
        httpa_buf_free(&ev);
    }
    return NULL;
}

/* Each report has its own entry: concurrent callers never see each other's. */
static void test_tsm_concurrent(void **state)
{
    fx *f = *state;
    httpa_tsm_attester a;
    assert_int_equal(httpa_tsm_attester_init(&a, &f->cfg, NULL), HTTPA_OK);
    pthread_t t[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){.a = &a, .e = HTTPA_OK};
        memset(w[i].rd, i + 1, 64);
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].e, HTTPA_OK);
    }
    assert_int_equal(entries(f->dir), 0);
    httpa_tsm_attester_clear(&a);
}

/* ---- Gramine ---- */

static httpa_gramine_config gramine_cfg(const char *dir, tl_gramine_device *g)
{
    return (httpa_gramine_config){.root = dir, .test_device = tl_gramine_device_fn,
                                  .test_device_arg = g};
}

static void test_gramine_quote(void **state)
{
    fx *f = *state;
    tl_gramine_device g = {.mode = TL_GRAMINE_OK, .sim = &f->sim.base};
    tl_gramine_tree(f->dir, "dcap");
    httpa_gramine_config c = gramine_cfg(f->dir, &g);
    httpa_gramine_attester a;
    httpa_tee_diag d;
    assert_int_equal(httpa_gramine_attester_init(&a, &c, &d), HTTPA_OK);
    assert_string_equal(a.base.tee, "sgx");
    httpa_buf q;
    httpa_buf_init(&q, 1 << 16);
    assert_int_equal(httpa_gramine_get_quote(&a, f->rd, &q, &d), HTTPA_OK);
    assert_int_equal(q.len, 432 + 4 + HTTPA_SIM_EVIDENCE_LEN);
    tl_assert_bytes(q.base + 368, 64, f->rd, 64);
    assert_int_equal(g.quotes, 1);
    httpa_buf_free(&q);

    static const struct {
        tl_gramine_mode mode;
        httpa_err err;
        httpa_tee_reason reason;
    } bad[] = {
        {TL_GRAMINE_SHORT_QUOTE, HTTPA_ERR_BAD_QUOTE, HTTPA_TEE_SHORT_EVIDENCE},
        {TL_GRAMINE_WRONG_RD, HTTPA_ERR_BAD_QUOTE, HTTPA_TEE_REPORT_DATA_MISMATCH},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        g.mode = bad[i].mode;
        httpa_buf_init(&q, 1 << 16);
        assert_int_equal(httpa_gramine_get_quote(&a, f->rd, &q, &d), bad[i].err);
        assert_reason(&d, bad[i].reason);
        assert_int_equal(q.len, 0);
        httpa_buf_free(&q);
    }
    /* No quote file at all (a fresh tree). */
    char quote[300];
    snprintf(quote, sizeof(quote), "%s/quote", f->dir);
    unlink(quote);
    g.mode = TL_GRAMINE_NO_QUOTE;
    httpa_buf_init(&q, 1 << 16);
    assert_int_equal(httpa_gramine_get_quote(&a, f->rd, &q, &d), HTTPA_ERR_IO);
    assert_reason(&d, HTTPA_TEE_OPEN_FAILED);
    assert_non_null(strstr(d.detail, "No such file or directory"));
    httpa_buf_free(&q);
    httpa_gramine_attester_clear(&a);
}

static void test_gramine_not_dcap(void **state)
{
    fx *f = *state;
    tl_gramine_device g = {.mode = TL_GRAMINE_OK, .sim = &f->sim.base};
    httpa_gramine_config c = gramine_cfg(f->dir, &g);
    httpa_gramine_attester a;
    httpa_tee_diag d;
    /* Missing files. */
    assert_int_equal(httpa_gramine_attester_init(&a, &c, &d), HTTPA_ERR_IO);
    assert_reason(&d, HTTPA_TEE_OPEN_FAILED);
    /* EPID or none. */
    tl_gramine_tree(f->dir, "none");
    assert_int_equal(httpa_gramine_attester_init(&a, &c, &d), HTTPA_ERR_UNSUPPORTED);
    assert_reason(&d, HTTPA_TEE_NOT_DCAP);
    assert_non_null(strstr(d.detail, "sgx.remote_attestation = \"dcap\""));
}

/* ---- Detection and choice ---- */

static void test_detect_and_open(void **state)
{
    fx *f = *state;
    char tsm[300], gram[300];
    snprintf(tsm, sizeof(tsm), "%s/tsm", f->dir);
    snprintf(gram, sizeof(gram), "%s/attestation", f->dir);
    assert_int_equal(httpa_tee_detect(tsm, gram), HTTPA_TEE_KIND_NONE);

    httpa_tee_options o = {.tsm = f->cfg, .gramine = {.root = gram}};
    o.tsm.root = tsm;
    httpa_tee *t = NULL;
    httpa_tee_diag d;
    assert_int_equal(httpa_tee_open(&o, &t, &d), HTTPA_ERR_UNSUPPORTED);
    assert_null(t);
    assert_reason(&d, HTTPA_TEE_NO_TEE);
    assert_non_null(strstr(d.detail, "name \"sim\" explicitly"));

    /* sim only when named and allowed. */
    o.provider = "sim";
    assert_int_equal(httpa_tee_open(&o, &t, &d), HTTPA_ERR_UNSUPPORTED);
    assert_reason(&d, HTTPA_TEE_SIM_NOT_ALLOWED);
    o.allow_sim = true;
    assert_int_equal(httpa_tee_open(&o, &t, &d), HTTPA_OK);
    assert_int_equal(httpa_tee_kind_of(t), HTTPA_TEE_KIND_SIM);
    assert_string_equal(httpa_tee_attester(t)->tee, "sim");
    httpa_tee_close(t);
    o.provider = "sgx-magic";
    assert_int_equal(httpa_tee_open(&o, &t, &d), HTTPA_ERR_INVALID_ARG);
    assert_reason(&d, HTTPA_TEE_UNKNOWN_NAME);

    /* Gramine when only /dev/attestation/quote exists. */
    assert_int_equal(mkdir(gram, 0700), 0);
    tl_gramine_tree(gram, "dcap");
    tl_write_file(gram, "quote", "", 0);
    assert_int_equal(httpa_tee_detect(tsm, gram), HTTPA_TEE_KIND_GRAMINE);
    o.provider = "auto";
    assert_int_equal(httpa_tee_open(&o, &t, &d), HTTPA_OK);
    assert_int_equal(httpa_tee_kind_of(t), HTTPA_TEE_KIND_GRAMINE);
    httpa_tee_close(t);

    /* tsm first when both exist; by name too. */
    assert_int_equal(mkdir(tsm, 0700), 0);
    assert_int_equal(httpa_tee_detect(tsm, gram), HTTPA_TEE_KIND_TSM);
    assert_int_equal(httpa_tee_open(&o, &t, &d), HTTPA_OK);
    assert_int_equal(httpa_tee_kind_of(t), HTTPA_TEE_KIND_TSM);
    assert_string_equal(httpa_tee_attester(t)->tee, "tdx");
    httpa_tee_diag last;
    httpa_tee_last_error(t, &last);
    assert_int_equal(last.reason, HTTPA_TEE_OK);
    httpa_tee_close(t);
    o.provider = "gramine";
    assert_int_equal(httpa_tee_open(&o, &t, &d), HTTPA_OK);
    assert_int_equal(httpa_tee_kind_of(t), HTTPA_TEE_KIND_GRAMINE);
    httpa_tee_close(t);
    assert_string_equal(httpa_tee_reason_name(HTTPA_TEE_GENERATION_MISMATCH),
                        "GENERATION_MISMATCH");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tsm_tdx_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsm_sev_snp_with_auxblob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsm_missing_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsm_unknown_provider, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsm_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsm_generation_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsm_provider_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsm_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gramine_quote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gramine_not_dcap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detect_and_open, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
