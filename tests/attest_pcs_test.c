/* Collateral over HTTP: the PCS/PCCS v4 client against a local server that
 * serves the sample collateral (tests/testlib/pcs_server.c). The fetched
 * collateral verifies the sample quotes exactly as the files do; the cache
 * is used while fresh and survives the server going away; without a fresh
 * cache a dead server means no collateral; malformed answers are named. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcs_server.h"
#include "tee_tree.h"
#include "testlib.h"

#include "httpa/dcap.h"
#include "httpa/pcs.h"

typedef struct sample {
    httpa_buf quote;
    int64_t at;
    const char *status;
} sample;

typedef struct fx {
    char dir[256];
    sample sgx, tdx;
    httpa_dcap_trust *trust;
    tl_pcs_server *server;
} fx;

static void load_sample(sample *s, const char *name, json_t *expected)
{
    char rel[128];
    snprintf(rel, sizeof(rel), "vectors/dcap/%s", name);
    s->quote = tl_read_file(tl_shared_path(rel));
    json_t *e = tl_get(expected, name);
    s->at = tl_int(e, "verify_at_unix");
    s->status = strcmp(name, "sgx_quote") == 0 ? "ConfigurationAndSWHardeningNeeded" : "UpToDate";
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    json_t *expected = tl_load_json("vectors/dcap/expected.json");
    load_sample(&f->sgx, "sgx_quote", expected);
    load_sample(&f->tdx, "tdx_quote", expected);
    json_decref(expected);
    assert_int_equal(httpa_dcap_trust_new_intel(&f->trust), HTTPA_OK);
    tl_tempdir(f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    tl_pcs_server_stop(f->server);
    httpa_dcap_trust_free(f->trust);
    httpa_buf_free(&f->sgx.quote);
    httpa_buf_free(&f->tdx.quote);
    tl_rmtree(f->dir);
    free(f);
    return 0;
}

static httpa_pcs *client(fx *f, const char *url, const char *cache)
{
    httpa_pcs_config c = {.base_url = url, .cache_dir = cache, .timeout_ms = 3000};
    httpa_pcs *p = NULL;
    assert_int_equal(httpa_pcs_new(&c, &p), HTTPA_OK);
    (void)f;
    return p;
}

static char *cache_dir(fx *f, const char *name)
{
    static _Thread_local char path[400];
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    return path;
}

/* Fetch for the sample and verify the sample with the result. */
static void fetch_and_verify(httpa_pcs *p, fx *f, sample *s, bool want_cache)
{
    httpa_dcap_collateral *c = NULL;
    httpa_pcs_result r;
    httpa_err e = httpa_pcs_get_for_quote(p, httpa_buf_span(&s->quote), s->at, &c, &r);
    if (e != HTTPA_OK)
        fail_msg("%s: %s", httpa_err_name(e), r.detail);
    assert_int_equal(r.from_cache, want_cache);
    assert_int_equal(r.requests, want_cache ? 0 : 4);
    assert_true(r.expires > s->at);
    httpa_dcap_result v;
    assert_int_equal(httpa_dcap_verify(f->trust, httpa_buf_span(&s->quote), c, s->at, &v),
                     HTTPA_OK);
    assert_string_equal(httpa_dcap_tcb_status_name(v.status), s->status);
    assert_int_equal(httpa_dcap_collateral_expiry(c), r.expires);
    httpa_dcap_collateral_free(c);
}

static size_t count_files(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_fetch_verifies_and_caches(void **state)
{
    fx *f = *state;
    f->server = tl_pcs_server_start(NULL);
    char *dir = cache_dir(f, "cache"); /* created by httpa_pcs_new */
    httpa_pcs *p = client(f, tl_pcs_server_url(f->server), dir);
    fetch_and_verify(p, f, &f->sgx, false);
    fetch_and_verify(p, f, &f->tdx, false);
    assert_int_equal(tl_pcs_server_requests(f->server), 8);
    /* One file per (TEE, FMSPC, CA), no temporary left behind. */
    assert_int_equal(count_files(dir), 2);
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/sgx-00A067110000-processor.json", dir);
    assert_int_equal(stat(path, &st), 0);
    snprintf(path, sizeof(path), "%s/tdx-B0C06F000000-platform.json", dir);
    assert_int_equal(stat(path, &st), 0);

    /* From the cache now, and still when the server is gone. */
    fetch_and_verify(p, f, &f->sgx, true);
    tl_pcs_server_stop(f->server);
    f->server = NULL;
    fetch_and_verify(p, f, &f->tdx, true);
    fetch_and_verify(p, f, &f->sgx, true);

    /* Past nextUpdate the cache is not used, and a dead server means none. */
    httpa_dcap_collateral *c = NULL;
    httpa_pcs_result r;
    assert_int_equal(httpa_pcs_get_for_quote(p, httpa_buf_span(&f->sgx.quote),
                                             f->sgx.at + 40 * 86400, &c, &r),
                     HTTPA_ERR_NETWORK);
    assert_null(c);
    assert_false(r.from_cache);
    httpa_pcs_free(p);
}

static void test_fail_closed_without_cache(void **state)
{
    fx *f = *state;
    f->server = tl_pcs_server_start(NULL);
    char url[64];
    snprintf(url, sizeof(url), "%s", tl_pcs_server_url(f->server));
    tl_pcs_server_stop(f->server); /* nothing listens there now */
    f->server = NULL;
    httpa_pcs *p = client(f, url, NULL);
    httpa_dcap_collateral *c = NULL;
    httpa_pcs_result r;
    assert_int_equal(httpa_pcs_get_for_quote(p, httpa_buf_span(&f->sgx.quote), f->sgx.at, &c, &r),
                     HTTPA_ERR_NETWORK);
    assert_null(c);
    assert_non_null(strstr(r.detail, "/sgx/certification/v4/pckcrl?ca=processor&encoding=der"));
    assert_int_equal(r.requests, 1);
    httpa_pcs_free(p);
}

/* The other header spelling and PCCS's hex root CRL. */
static void test_v3_header_and_hex_root_crl(void **state)
{
    fx *f = *state;
    tl_pcs_opts o = {.v3_tcb_header = true, .root_crl_hex = true};
    f->server = tl_pcs_server_start(&o);
    httpa_pcs *p = client(f, tl_pcs_server_url(f->server), NULL);
    fetch_and_verify(p, f, &f->tdx, false);
    fetch_and_verify(p, f, &f->sgx, false); /* no cache: fetched again */
    httpa_pcs_free(p);
}

static void expect_bad_server(fx *f, const tl_pcs_opts *o, httpa_err want, const char *detail)
{
    f->server = tl_pcs_server_start(o);
    httpa_pcs *p = client(f, tl_pcs_server_url(f->server), cache_dir(f, "bad"));
    httpa_dcap_collateral *c = NULL;
    httpa_pcs_result r;
    assert_int_equal(httpa_pcs_get_for_quote(p, httpa_buf_span(&f->sgx.quote), f->sgx.at, &c, &r),
                     want);
    assert_null(c);
    if (strstr(r.detail, detail) == NULL)
        fail_msg("detail \"%s\" lacks \"%s\"", r.detail, detail);
    assert_int_equal(count_files(cache_dir(f, "bad")), 0); /* nothing cached */
    httpa_pcs_free(p);
    tl_pcs_server_stop(f->server);
    f->server = NULL;
}

static void test_bad_answers(void **state)
{
    fx *f = *state;
    tl_pcs_opts o = {.status = 500};
    expect_bad_server(f, &o, HTTPA_ERR_NETWORK, "HTTP status 500");
    o = (tl_pcs_opts){.bad_chain = true};
    expect_bad_server(f, &o, HTTPA_ERR_BAD_QUOTE, "SGX-PCK-CRL-Issuer-Chain");
    o = (tl_pcs_opts){.huge_body = true};
    expect_bad_server(f, &o, HTTPA_ERR_TOO_LARGE, "larger than the limit");
    o = (tl_pcs_opts){.not_json = true};
    expect_bad_server(f, &o, HTTPA_ERR_BAD_QUOTE, "{\"tcbInfo\":{...}");
}

static void test_unknown_fmspc(void **state)
{
    fx *f = *state;
    f->server = tl_pcs_server_start(NULL);
    httpa_pcs *p = client(f, tl_pcs_server_url(f->server), NULL);
    static const uint8_t fmspc[6] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66};
    httpa_dcap_collateral *c = NULL;
    httpa_pcs_result r;
    assert_int_equal(httpa_pcs_get(p, false, fmspc, HTTPA_PCS_CA_PROCESSOR, f->sgx.at, &c, &r),
                     HTTPA_ERR_NETWORK);
    assert_non_null(strstr(r.detail, "tcb?fmspc=112233445566: HTTP status 404"));
    /* The other CA's CRL is consistent collateral, for another platform:
     * the quote's verification names the mismatch. */
    static const uint8_t sgx_fmspc[6] = {0x00, 0xA0, 0x67, 0x11, 0x00, 0x00};
    assert_int_equal(httpa_pcs_get(p, false, sgx_fmspc, HTTPA_PCS_CA_PLATFORM, f->sgx.at, &c, &r),
                     HTTPA_OK);
    httpa_dcap_result v;
    assert_int_equal(httpa_dcap_verify(f->trust, httpa_buf_span(&f->sgx.quote), c, f->sgx.at, &v),
                     HTTPA_ERR_BAD_QUOTE);
    assert_int_equal(v.diag.reason, HTTPA_DCAP_PCK_CRL_ISSUER_MISMATCH);
    httpa_dcap_collateral_free(c);
    httpa_pcs_free(p);
}

static void copy_file(const char *from, const char *to)
{
    httpa_buf b = tl_read_file(from);
    FILE *o = fopen(to, "wb");
    assert_non_null(o);
    assert_int_equal(fwrite(b.base, 1, b.len, o), b.len);
    fclose(o);
    httpa_buf_free(&b);
}

/* A damaged or misplaced cache file is a miss, then replaced. */
static void test_bad_cache_files(void **state)
{
    fx *f = *state;
    f->server = tl_pcs_server_start(NULL);
    char *dir = cache_dir(f, "c2");
    httpa_pcs *p = client(f, tl_pcs_server_url(f->server), dir);
    fetch_and_verify(p, f, &f->tdx, false);
    char sgx[512], tdx[512];
    snprintf(sgx, sizeof(sgx), "%s/sgx-00A067110000-processor.json", dir);
    snprintf(tdx, sizeof(tdx), "%s/tdx-B0C06F000000-platform.json", dir);
    copy_file(tdx, sgx); /* TDX collateral under the SGX name */
    fetch_and_verify(p, f, &f->sgx, false);
    fetch_and_verify(p, f, &f->sgx, true); /* the right file is in place now */
    FILE *o = fopen(tdx, "wb");
    fputs("{\"truncated\":", o);
    fclose(o);
    fetch_and_verify(p, f, &f->tdx, false);
    fetch_and_verify(p, f, &f->tdx, true);
    assert_int_equal(count_files(dir), 2);
    httpa_pcs_free(p);
}

static void test_url_decode(void **state)
{
    (void)state;
    httpa_buf b;
    httpa_buf_init(&b, 64);
    static const char in[] = "-----BEGIN%20CERTIFICATE-----%0AMII%2B/a+b%3d";
    assert_int_equal(httpa_pcs_url_decode(in, strlen(in), &b), HTTPA_OK);
    static const char want[] = "-----BEGIN CERTIFICATE-----\nMII+/a+b=";
    tl_assert_bytes(b.base, b.len, want, sizeof(want) - 1);
    static const char *const bad[] = {"%", "%4", "abc%zz", "%g0"};
    for (size_t i = 0; i < 4; i++) {
        httpa_buf_reset(&b);
        assert_int_equal(httpa_pcs_url_decode(bad[i], strlen(bad[i]), &b), HTTPA_ERR_BAD_REQUEST);
    }
    httpa_buf_free(&b);

    httpa_pcs *p = NULL;
    httpa_pcs_config c = {.base_url = NULL};
    assert_int_equal(httpa_pcs_new(&c, &p), HTTPA_ERR_INVALID_ARG);
    c.base_url = "http://127.0.0.1:1";
    c.cache_dir = "/proc/no-such-place/cache";
    assert_int_equal(httpa_pcs_new(&c, &p), HTTPA_ERR_IO);
    assert_null(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fetch_verifies_and_caches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_closed_without_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v3_header_and_hex_root_crl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_fmspc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_cache_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_url_decode, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
