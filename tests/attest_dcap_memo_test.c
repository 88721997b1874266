/* The collateral memo of the DCAP verifier (src/attest/dcap_int.h): a
 * collateral remembers what a complete verification established (its
 * signatures and chains, the PCK CRL's acceptance, PCK leaves it validated)
 * per trust anchor. These tests check that a warm memo changes nothing but
 * speed: results are identical, time checks still run, a changed leaf or
 * another anchor gets the reason a cold verification gives, and threads
 * share one collateral safely. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "testlib.h"

#include "httpa/dcap.h"

typedef struct sample {
    httpa_buf quote;
    char path[600];
    int64_t at;
} sample;

typedef struct fx {
    sample s[2];
    httpa_dcap_trust *intel;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    json_t *expected = tl_load_json("vectors/dcap/expected.json");
    static const char *const names[2] = {"sgx_quote", "tdx_quote"};
    for (int i = 0; i < 2; i++) {
        char rel[128];
        snprintf(rel, sizeof(rel), "vectors/dcap/%s", names[i]);
        f->s[i].quote = tl_read_file(tl_shared_path(rel));
        snprintf(rel, sizeof(rel), "vectors/dcap/%s_collateral.json", names[i]);
        snprintf(f->s[i].path, sizeof(f->s[i].path), "%s", tl_shared_path(rel));
        f->s[i].at = tl_int(tl_get(expected, names[i]), "verify_at_unix");
    }
    json_decref(expected);
    assert_int_equal(httpa_dcap_trust_new_intel(&f->intel), HTTPA_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    for (int i = 0; i < 2; i++)
        httpa_buf_free(&f->s[i].quote);
    httpa_dcap_trust_free(f->intel);
    free(f);
    return 0;
}

static httpa_dcap_collateral *load(const sample *s)
{
    httpa_dcap_collateral *c = NULL;
    assert_int_equal(httpa_dcap_collateral_load(s->path, &c, NULL), HTTPA_OK);
    return c;
}

static httpa_err verify(const httpa_dcap_trust *t, httpa_span q, const httpa_dcap_collateral *c,
                        int64_t at, httpa_dcap_result *r)
{
    return httpa_dcap_verify(t, q, c, at, r);
}

/* Cold (a fresh collateral) and warm (the memo filled by earlier runs)
 * give the same code and the same result, field for field. */
static void same_as_cold(const httpa_dcap_trust *t, httpa_span q, const sample *s,
                         const httpa_dcap_collateral *warm, int64_t at)
{
    httpa_dcap_collateral *cold = load(s);
    httpa_dcap_result a, b;
    httpa_err ea = verify(t, q, cold, at, &a);
    httpa_err eb = verify(t, q, warm, at, &b);
    assert_int_equal(ea, eb);
    if (memcmp(&a, &b, sizeof(a)) != 0)
        fail_msg("cold %s (%s) and warm %s (%s) differ", httpa_dcap_reason_name(a.diag.reason),
                 a.diag.detail, httpa_dcap_reason_name(b.diag.reason), b.diag.detail);
    httpa_dcap_collateral_free(cold);
}

static void test_warm_equals_cold(void **state)
{
    fx *f = *state;
    for (int i = 0; i < 2; i++) {
        sample *s = &f->s[i];
        httpa_dcap_collateral *c = load(s);
        httpa_dcap_result r;
        for (int k = 0; k < 4; k++) { /* cold, memo filled, leaf memoized, all warm */
            assert_int_equal(verify(f->intel, httpa_buf_span(&s->quote), c, s->at, &r), HTTPA_OK);
            same_as_cold(f->intel, httpa_buf_span(&s->quote), s, c, s->at);
        }
        /* Time checks still run on a warm memo. */
        assert_int_equal(verify(f->intel, httpa_buf_span(&s->quote), c, s->at + 40 * 86400, &r),
                         HTTPA_ERR_BAD_QUOTE);
        assert_int_equal(r.diag.reason, HTTPA_DCAP_TCB_INFO_EXPIRED);
        assert_int_equal(verify(f->intel, httpa_buf_span(&s->quote), c, s->at - 40 * 86400, &r),
                         HTTPA_ERR_BAD_QUOTE);
        assert_int_equal(r.diag.reason, HTTPA_DCAP_TCB_INFO_NOT_YET_VALID);
        same_as_cold(f->intel, httpa_buf_span(&s->quote), s, c, s->at + 40 * 86400);
        httpa_dcap_collateral_free(c);
    }
}

/* A copy of the quote whose PCK leaf certificate has one base64 character
 * of its signature changed. */
static httpa_buf tamper_leaf(const httpa_buf *q)
{
    httpa_buf t;
    httpa_buf_init(&t, q->len);
    assert_int_equal(httpa_buf_append(&t, q->base, q->len), HTTPA_OK);
    static const char end[] = "-----END CERTIFICATE-----";
    uint8_t *p = NULL;
    for (size_t i = 0; i + sizeof(end) - 1 <= t.len && p == NULL; i++)
        if (memcmp(t.base + i, end, sizeof(end) - 1) == 0)
            p = t.base + i;
    assert_non_null(p);
    uint8_t *c = p - 12; /* inside the signature, before any padding */
    while (*c == '\n' || *c == '=')
        c--;
    *c = *c == 'A' ? 'B' : 'A';
    return t;
}

static void test_changed_leaf_named_as_cold(void **state)
{
    fx *f = *state;
    for (int i = 0; i < 2; i++) {
        sample *s = &f->s[i];
        httpa_dcap_collateral *c = load(s);
        httpa_dcap_result r;
        for (int k = 0; k < 3; k++)
            assert_int_equal(verify(f->intel, httpa_buf_span(&s->quote), c, s->at, &r), HTTPA_OK);
        httpa_buf bad = tamper_leaf(&s->quote);
        assert_int_equal(verify(f->intel, httpa_buf_span(&bad), c, s->at, &r), HTTPA_ERR_BAD_QUOTE);
        assert_true(r.diag.reason == HTTPA_DCAP_PCK_CHAIN_INVALID
                    || r.diag.reason == HTTPA_DCAP_PCK_CHAIN_MALFORMED);
        same_as_cold(f->intel, httpa_buf_span(&bad), s, c, s->at);
        /* and the good quote still verifies afterwards */
        assert_int_equal(verify(f->intel, httpa_buf_span(&s->quote), c, s->at, &r), HTTPA_OK);
        httpa_buf_free(&bad);
        httpa_dcap_collateral_free(c);
    }
}

/* A self-signed P-256 root, made here: another anchor than Intel's. */
static httpa_dcap_trust *other_anchor(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(k);
    assert_non_null(x);
    X509_NAME *n = X509_NAME_new();
    assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                                                (const unsigned char *)"Intel SGX Root CA", -1, -1,
                                                0),
                     1);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
    assert_int_equal(X509_set_subject_name(x, n), 1);
    assert_int_equal(X509_set_issuer_name(x, n), 1);
    assert_non_null(X509_time_adj_ex(X509_getm_notBefore(x), -20000, 0, NULL));
    assert_non_null(X509_time_adj_ex(X509_getm_notAfter(x), 20000, 0, NULL));
    assert_int_equal(X509_set_pubkey(x, k), 1);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509(b, x), 1);
    char *pem = NULL;
    long len = BIO_get_mem_data(b, &pem);
    httpa_dcap_trust *t = NULL;
    assert_int_equal(httpa_dcap_trust_new_test_root(pem, (size_t)len, &t), HTTPA_OK);
    BIO_free(b);
    X509_NAME_free(n);
    X509_free(x);
    EVP_PKEY_free(k);
    return t;
}

/* A memo made under Intel's root is never used under another anchor. */
static void test_memo_is_per_anchor(void **state)
{
    fx *f = *state;
    httpa_dcap_trust *other = other_anchor();
    sample *s = &f->s[0];
    httpa_dcap_collateral *c = load(s);
    httpa_dcap_result r;
    for (int k = 0; k < 3; k++)
        assert_int_equal(verify(f->intel, httpa_buf_span(&s->quote), c, s->at, &r), HTTPA_OK);
    assert_int_equal(verify(other, httpa_buf_span(&s->quote), c, s->at, &r), HTTPA_ERR_BAD_QUOTE);
    assert_int_equal(r.diag.reason, HTTPA_DCAP_ROOT_CRL_INVALID);
    same_as_cold(other, httpa_buf_span(&s->quote), s, c, s->at);
    /* and back: Intel's anchor verifies again (the memo is rebuilt) */
    assert_int_equal(verify(f->intel, httpa_buf_span(&s->quote), c, s->at, &r), HTTPA_OK);
    httpa_dcap_collateral_free(c);
    httpa_dcap_trust_free(other);
}

typedef struct job {
    const fx *f;
    const httpa_dcap_collateral *c[2];
    int failures;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    for (int k = 0; k < 40; k++)
        for (int i = 0; i < 2; i++) {
            httpa_dcap_result r;
            const sample *s = &j->f->s[i];
            if (verify(j->f->intel, httpa_buf_span(&s->quote), j->c[i], s->at, &r) != HTTPA_OK)
                j->failures++;
        }
    return NULL;
}

/* Threads share the collaterals (and their memos) from the first call on. */
static void test_threads_share_collateral(void **state)
{
    fx *f = *state;
    httpa_dcap_collateral *c[2] = {load(&f->s[0]), load(&f->s[1])};
    pthread_t t[4];
    job j[4];
    for (int i = 0; i < 4; i++) {
        j[i] = (job){.f = f, .c = {c[0], c[1]}};
        assert_int_equal(pthread_create(&t[i], NULL, run_job, &j[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(j[i].failures, 0);
    }
    httpa_dcap_collateral_free(c[0]);
    httpa_dcap_collateral_free(c[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warm_equals_cold),
        cmocka_unit_test(test_changed_leaf_named_as_cold),
        cmocka_unit_test(test_memo_is_per_anchor),
        cmocka_unit_test(test_threads_share_collateral),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
