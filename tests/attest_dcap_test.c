/* DCAP quote verification against the real samples of shared/vectors/dcap
 * (expected.json is what an independent verifier reported for them), and
 * negative cases built here from the samples.
 *
 * Cases that need a CA key (revocation, FMSPC, QE identity) are built under
 * a test-only CA hierarchy made at run time: the sample's certificates are
 * copied, given fresh keys (except the PCK leaf, whose key signed the QE
 * report) and re-signed, the collateral is re-signed, and the verifier pins
 * the test root through the test-only constructor. The production anchor
 * stays the Intel root: "wrong root" cases run against it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "httpa/dcap.h"
#include "testlib.h"

/* ---- Sample loading ---- */

typedef struct sample {
    const char *name;
    httpa_buf quote;
    json_t *col;      /* the collateral file, as JSON */
    json_t *expected; /* its member of expected.json */
    int64_t at;
} sample;

static void sample_load(sample *s, const char *name)
{
    char rel[128];
    s->name = name;
    snprintf(rel, sizeof(rel), "vectors/dcap/%s", name);
    s->quote = tl_read_file(tl_shared_path(rel));
    snprintf(rel, sizeof(rel), "vectors/dcap/%s_collateral.json", name);
    s->col = tl_load_json(rel);
    json_t *all = tl_load_json("vectors/dcap/expected.json");
    s->expected = json_incref(tl_get(all, name));
    json_decref(all);
    s->at = tl_int(s->expected, "verify_at_unix");
}

static void sample_free(sample *s)
{
    httpa_buf_free(&s->quote);
    json_decref(s->col);
    json_decref(s->expected);
}

static httpa_span qspan(const httpa_buf *b)
{
    return httpa_buf_span(b);
}

/* Parse collateral JSON, verify, and check that the error and the reason
 * agree. Returns the reason. */
static httpa_dcap_reason verify_json(const httpa_dcap_trust *t, httpa_span quote, json_t *col,
                                     int64_t at, httpa_dcap_result *r)
{
    char *text = json_dumps(col, JSON_COMPACT | JSON_PRESERVE_ORDER);
    httpa_dcap_collateral *c = NULL;
    httpa_dcap_diag d;
    assert_non_null(text);
    if (httpa_dcap_collateral_parse(text, strlen(text), &c, &d) != HTTPA_OK)
        fail_msg("collateral: %s: %s", httpa_dcap_reason_name(d.reason), d.detail);
    httpa_err e = httpa_dcap_verify(t, quote, c, at, r);
    assert_int_equal(e == HTTPA_OK, r->diag.reason == HTTPA_DCAP_OK);
    if (e != HTTPA_OK)
        assert_int_equal(e, HTTPA_ERR_BAD_QUOTE);
    httpa_dcap_collateral_free(c);
    free(text);
    return r->diag.reason;
}

static httpa_dcap_trust *intel_trust(void)
{
    httpa_dcap_trust *t = NULL;
    assert_int_equal(httpa_dcap_trust_new_intel(&t), HTTPA_OK);
    return t;
}

#define assert_reason(got, want)                                                              \
    do {                                                                                      \
        httpa_dcap_reason g_ = (got), w_ = (want);                                            \
        if (g_ != w_)                                                                         \
            fail_msg("reason %s, expected %s", httpa_dcap_reason_name(g_),                    \
                     httpa_dcap_reason_name(w_));                                             \
    } while (0)

/* ---- The samples match expected.json ---- */

static void assert_hex(json_t *exp, const char *key, const uint8_t *p, size_t n)
{
    httpa_buf want = tl_hex(tl_str(exp, key));
    tl_assert_bytes(p, n, want.base, want.len);
    httpa_buf_free(&want);
}

static void assert_advisories(json_t *exp, const httpa_dcap_result *r)
{
    json_t *ids = tl_get(exp, "advisory_ids");
    assert_int_equal(json_array_size(ids), r->nadvisories);
    for (size_t i = 0; i < r->nadvisories; i++)
        assert_string_equal(json_string_value(json_array_get(ids, i)), r->advisory_ids[i]);
}

static void check_sgx_fields(json_t *exp, const httpa_dcap_result *r)
{
    const httpa_dcap_enclave_report *b = &r->sgx;
    assert_string_equal(tl_str(exp, "tee"), "sgx");
    assert_int_equal(r->body_kind, HTTPA_DCAP_BODY_SGX);
    assert_hex(exp, "cpuSvn", b->cpusvn, 16);
    assert_int_equal(tl_int(exp, "miscSelect"), b->miscselect);
    assert_hex(exp, "reserved1", b->reserved1, 28);
    assert_hex(exp, "attributes", b->attributes, 16);
    assert_hex(exp, "mrEnclave", b->mrenclave, 32);
    assert_hex(exp, "reserved2", b->reserved2, 32);
    assert_hex(exp, "mrSigner", b->mrsigner, 32);
    assert_hex(exp, "reserved3", b->reserved3, 96);
    assert_int_equal(tl_int(exp, "isvProdId"), b->isvprodid);
    assert_int_equal(tl_int(exp, "isvSvn"), b->isvsvn);
    assert_hex(exp, "reserved4", b->reserved4, 60);
    assert_hex(exp, "reportData", b->report_data, 64);
}

static void check_td_fields(json_t *exp, const httpa_dcap_result *r)
{
    const httpa_dcap_td_report *b = &r->td;
    static const char *const rtmr[4] = {"rtMr0", "rtMr1", "rtMr2", "rtMr3"};
    assert_string_equal(tl_str(exp, "tee"), "td10");
    assert_int_equal(r->body_kind, HTTPA_DCAP_BODY_TD10);
    assert_hex(exp, "teeTcbSvn", b->tee_tcb_svn, 16);
    assert_hex(exp, "mrSeam", b->mrseam, 48);
    assert_hex(exp, "mrSignerSeam", b->mrsignerseam, 48);
    assert_hex(exp, "seamAttributes", b->seam_attributes, 8);
    assert_hex(exp, "tdAttributes", b->td_attributes, 8);
    assert_hex(exp, "xfam", b->xfam, 8);
    assert_hex(exp, "mrTd", b->mrtd, 48);
    assert_hex(exp, "mrConfigId", b->mrconfigid, 48);
    assert_hex(exp, "mrOwner", b->mrowner, 48);
    assert_hex(exp, "mrOwnerConfig", b->mrownerconfig, 48);
    for (size_t i = 0; i < 4; i++)
        assert_hex(exp, rtmr[i], b->rtmr[i], 48);
    assert_hex(exp, "reportData", b->report_data, 64);
}

static void check_sample(const char *name, size_t report_data_at)
{
    sample s;
    httpa_dcap_result r;
    httpa_dcap_trust *t = intel_trust();
    sample_load(&s, name);
    assert_reason(verify_json(t, qspan(&s.quote), s.col, s.at, &r), HTTPA_DCAP_OK);
    assert_string_equal(httpa_dcap_tcb_status_name(r.status), tl_str(s.expected, "status"));
    assert_advisories(s.expected, &r);
    if (r.body_kind == HTTPA_DCAP_BODY_SGX)
        check_sgx_fields(s.expected, &r);
    else
        check_td_fields(s.expected, &r);
    assert_false(r.debug);
    /* Profile 7.5: where report_data sits in the raw quote. */
    tl_assert_bytes(s.quote.base + report_data_at, 64, r.report_data, 64);
    httpa_dcap_quote q;
    assert_int_equal(httpa_dcap_quote_parse(qspan(&s.quote), &q, NULL), HTTPA_OK);
    assert_int_equal(q.report_data_offset, report_data_at);
    sample_free(&s);
    httpa_dcap_trust_free(t);
}

static void test_sgx_sample(void **state)
{
    (void)state;
    check_sample("sgx_quote", 368);
}

static void test_tdx_sample(void **state)
{
    (void)state;
    check_sample("tdx_quote", 568);
}

static int64_t tcb_next_update(json_t *col)
{
    json_error_t je;
    json_t *tcb = json_loads(tl_str(col, "tcb_info"), 0, &je);
    int64_t t = 0;
    const char *s = tl_str(tcb, "nextUpdate");
    assert_int_equal(httpa_dcap_parse_date(s, strlen(s), &t), HTTPA_OK);
    json_decref(tcb);
    return t;
}

/* expected.json: "after_next_update": "rejected: TCBInfo expired". */
static void check_expired(const char *name)
{
    sample s;
    httpa_dcap_result r;
    httpa_dcap_trust *t = intel_trust();
    sample_load(&s, name);
    int64_t after = tcb_next_update(s.col) + 1;
    assert_reason(verify_json(t, qspan(&s.quote), s.col, after, &r), HTTPA_DCAP_TCB_INFO_EXPIRED);
    assert_string_equal(tl_str(s.expected, "after_next_update"), "rejected: TCBInfo expired");
    assert_string_equal(httpa_dcap_reason_text(r.diag.reason), "TCBInfo expired");
    /* Long after, still this reason: it is checked first. */
    assert_reason(verify_json(t, qspan(&s.quote), s.col, after + 86400 * 365 * 3, &r),
                  HTTPA_DCAP_TCB_INFO_EXPIRED);
    /* Before the collateral was issued. */
    assert_reason(verify_json(t, qspan(&s.quote), s.col, s.at - 86400, &r),
                  HTTPA_DCAP_TCB_INFO_NOT_YET_VALID);
    sample_free(&s);
    httpa_dcap_trust_free(t);
}

static void test_expired(void **state)
{
    (void)state;
    check_expired("sgx_quote");
    check_expired("tdx_quote");
}

/* expected.json: one bit flipped at octet 100 -> "ISV enclave report
 * signature is invalid". */
static void check_tampered_100(const char *name)
{
    sample s;
    httpa_dcap_result r;
    httpa_dcap_trust *t = intel_trust();
    sample_load(&s, name);
    s.quote.base[100] ^= 0x01;
    assert_reason(verify_json(t, qspan(&s.quote), s.col, s.at, &r),
                  HTTPA_DCAP_QUOTE_SIGNATURE_INVALID);
    const char *want = tl_str(s.expected, "tampered");
    assert_string_equal(want + strlen("rejected: "), httpa_dcap_reason_text(r.diag.reason));
    sample_free(&s);
    httpa_dcap_trust_free(t);
}

static void test_tampered_100(void **state)
{
    (void)state;
    check_tampered_100("sgx_quote");
    check_tampered_100("tdx_quote");
}

/* Single-bit flips across the signed and bound parts: header, body,
 * signature, attestation key, QE report, QE report signature, QE
 * authentication data and every length field; also the zero padding. */
static void check_bit_flips(const char *name)
{
    sample s;
    httpa_dcap_result r;
    httpa_dcap_quote q;
    httpa_dcap_trust *t = intel_trust();
    sample_load(&s, name);
    assert_int_equal(httpa_dcap_quote_parse(qspan(&s.quote), &q, NULL), HTTPA_OK);
    char *text = json_dumps(s.col, JSON_COMPACT | JSON_PRESERVE_ORDER);
    httpa_dcap_collateral *c;
    assert_int_equal(httpa_dcap_collateral_parse(text, strlen(text), &c, NULL), HTTPA_OK);
    size_t end = (size_t)(q.pck_chain_pem.base - s.quote.base);
    size_t n = 0;
    for (size_t off = 0; off < end; off += off < 64 ? 1 : 3, n++) {
        uint8_t bit = (uint8_t)(1u << (off * 5 % 8));
        s.quote.base[off] ^= bit;
        if (httpa_dcap_verify(t, qspan(&s.quote), c, s.at, &r) != HTTPA_ERR_BAD_QUOTE)
            fail_msg("%s: flip at %zu (bit 0x%02x) accepted", name, off, bit);
        s.quote.base[off] ^= bit;
    }
    for (size_t off = q.pck_chain_pem.base + q.pck_chain_pem.len - s.quote.base;
         off < s.quote.len; off += 5) { /* zero padding after the signature data */
        s.quote.base[off] ^= 0x80;
        assert_int_equal(httpa_dcap_verify(t, qspan(&s.quote), c, s.at, &r), HTTPA_ERR_BAD_QUOTE);
        assert_reason(r.diag.reason, HTTPA_DCAP_QUOTE_MALFORMED);
        s.quote.base[off] ^= 0x80;
    }
    assert_true(n > 300);
    assert_int_equal(httpa_dcap_verify(t, qspan(&s.quote), c, s.at, &r), HTTPA_OK);
    httpa_dcap_collateral_free(c);
    free(text);
    sample_free(&s);
    httpa_dcap_trust_free(t);
}

static void test_bit_flips(void **state)
{
    (void)state;
    check_bit_flips("sgx_quote");
    check_bit_flips("tdx_quote");
}

/* Every truncation of a quote is malformed, never a crash. */
static void test_truncations(void **state)
{
    (void)state;
    sample s;
    httpa_dcap_quote q;
    httpa_dcap_diag d;
    sample_load(&s, "tdx_quote");
    for (size_t n = 0; n < 4936; n++)
        assert_int_equal(httpa_dcap_quote_parse(HTTPA_SPAN(s.quote.base, n), &q, &d),
                         HTTPA_ERR_BAD_QUOTE);
    assert_int_equal(httpa_dcap_quote_parse(HTTPA_SPAN(s.quote.base, 4936), &q, &d), HTTPA_OK);
    s.quote.base[0] = 2; /* version 2 */
    assert_int_equal(httpa_dcap_quote_parse(qspan(&s.quote), &q, &d), HTTPA_ERR_BAD_QUOTE);
    assert_reason(d.reason, HTTPA_DCAP_QUOTE_VERSION_UNSUPPORTED);
    s.quote.base[0] = 4;
    s.quote.base[2] = 3; /* ECDSA P-384: not supported */
    assert_int_equal(httpa_dcap_quote_parse(qspan(&s.quote), &q, &d), HTTPA_ERR_BAD_QUOTE);
    assert_reason(d.reason, HTTPA_DCAP_QUOTE_KEY_TYPE_UNSUPPORTED);
    s.quote.base[2] = 2;
    s.quote.base[4] = 0x80;
    assert_int_equal(httpa_dcap_quote_parse(qspan(&s.quote), &q, &d), HTTPA_ERR_BAD_QUOTE);
    assert_reason(d.reason, HTTPA_DCAP_QUOTE_TEE_UNSUPPORTED);
    s.quote.base[4] = 0x81;
    s.quote.base[12] ^= 1; /* QE vendor ID */
    assert_int_equal(httpa_dcap_quote_parse(qspan(&s.quote), &q, &d), HTTPA_ERR_BAD_QUOTE);
    assert_reason(d.reason, HTTPA_DCAP_QUOTE_VENDOR_UNKNOWN);
    sample_free(&s);
}

/* Version 5 announces its body (type, size); REPORTDATA then sits at
 * 574..637 (profile 7.5). Built from the v4 sample: parse only, since the
 * signature covers the header and body. */
static void test_v5_layout(void **state)
{
    (void)state;
    sample s;
    httpa_dcap_quote q;
    httpa_dcap_diag d;
    httpa_buf v5;
    static const uint8_t td10[6] = {2, 0, 0x48, 0x02, 0, 0}; /* type 2, size 584 */
    sample_load(&s, "tdx_quote");
    httpa_buf_init(&v5, 1 << 20);
    assert_int_equal(httpa_buf_append(&v5, s.quote.base, 48), HTTPA_OK);
    assert_int_equal(httpa_buf_append(&v5, td10, 6), HTTPA_OK);
    assert_int_equal(httpa_buf_append(&v5, s.quote.base + 48, s.quote.len - 48), HTTPA_OK);
    v5.base[0] = 5;
    assert_int_equal(httpa_dcap_quote_parse(qspan(&v5), &q, &d), HTTPA_OK);
    assert_int_equal(q.body_kind, HTTPA_DCAP_BODY_TD10);
    assert_int_equal(q.report_data_offset, 574);
    tl_assert_bytes(v5.base + 574, 64, s.quote.base + 568, 64);
    assert_int_equal(q.signed_part.len, 48 + 6 + 584);
    v5.base[48] = 3; /* claims TDX 1.5 with a 1.0 size */
    assert_int_equal(httpa_dcap_quote_parse(qspan(&v5), &q, &d), HTTPA_ERR_BAD_QUOTE);
    v5.base[48] = 1; /* an SGX body in a TDX quote */
    assert_int_equal(httpa_dcap_quote_parse(qspan(&v5), &q, &d), HTTPA_ERR_BAD_QUOTE);
    assert_reason(d.reason, HTTPA_DCAP_QUOTE_TEE_UNSUPPORTED);
    httpa_buf_free(&v5);
    /* TDX 1.5: 64 more octets (TEE_TCB_SVN2, MRSERVICETD) after REPORTDATA. */
    static const uint8_t td15[6] = {3, 0, 0x88, 0x02, 0, 0}; /* type 3, size 648 */
    uint8_t extra[64];
    memset(extra, 0x77, sizeof(extra));
    httpa_buf_init(&v5, 1 << 20);
    assert_int_equal(httpa_buf_append(&v5, s.quote.base, 48), HTTPA_OK);
    assert_int_equal(httpa_buf_append(&v5, td15, 6), HTTPA_OK);
    assert_int_equal(httpa_buf_append(&v5, s.quote.base + 48, 584), HTTPA_OK);
    assert_int_equal(httpa_buf_append(&v5, extra, 64), HTTPA_OK);
    assert_int_equal(httpa_buf_append(&v5, s.quote.base + 632, s.quote.len - 632), HTTPA_OK);
    v5.base[0] = 5;
    assert_int_equal(httpa_dcap_quote_parse(qspan(&v5), &q, &d), HTTPA_OK);
    assert_int_equal(q.body_kind, HTTPA_DCAP_BODY_TD15);
    assert_int_equal(q.report_data_offset, 574);
    tl_assert_bytes(q.td.mrservicetd, 48, extra, 48);
    httpa_buf_free(&v5);
    sample_free(&s);
}

static void test_dates(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t t;
    } ok[] = {{"1970-01-01T00:00:00Z", 0},
              {"2025-06-19T10:56:11Z", 1750330571},
              {"2000-02-29T23:59:59Z", 951868799},
              {"2049-12-31T23:59:59Z", 2524607999}};
    static const char *const bad[] = {"2025-06-19T10:56:11",  "2025-06-19 10:56:11Z",
                                      "2025-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
                                      "2025-13-01T00:00:00Z", "2025-06-19T24:00:00Z",
                                      "2025-06-19T10:60:00Z", "2025-06-19T10:56:60Z",
                                      "2025-06-19T10:56:11.000Z", "+025-06-19T10:56:11Z",
                                      "1969-12-31T23:59:59Z", ""};
    int64_t t;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(httpa_dcap_parse_date(ok[i].s, strlen(ok[i].s), &t), HTTPA_OK);
        assert_int_equal(t, ok[i].t);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(httpa_dcap_parse_date(bad[i], strlen(bad[i]), &t), HTTPA_ERR_BAD_REQUEST);
}

static void expect_collateral_error(json_t *col, const char *key, json_t *value)
{
    json_t *c = json_deep_copy(col);
    httpa_dcap_collateral *out = NULL;
    httpa_dcap_diag d;
    if (value != NULL)
        json_object_set_new(c, key, value);
    else
        json_object_del(c, key);
    char *text = json_dumps(c, JSON_COMPACT);
    assert_int_equal(httpa_dcap_collateral_parse(text, strlen(text), &out, &d), HTTPA_ERR_BAD_QUOTE);
    assert_reason(d.reason, HTTPA_DCAP_COLLATERAL_MALFORMED);
    assert_null(out);
    free(text);
    json_decref(c);
}

static void test_collateral_malformed(void **state)
{
    (void)state;
    sample s;
    httpa_dcap_collateral *out;
    httpa_dcap_diag d;
    sample_load(&s, "sgx_quote");
    static const char *const keys[] = {"pck_crl_issuer_chain", "root_ca_crl", "pck_crl",
                                       "tcb_info_issuer_chain", "tcb_info", "tcb_info_signature",
                                       "qe_identity_issuer_chain", "qe_identity",
                                       "qe_identity_signature"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        expect_collateral_error(s.col, keys[i], NULL);
        expect_collateral_error(s.col, keys[i], json_integer(1));
    }
    expect_collateral_error(s.col, "root_ca_crl", json_string("30820120zz"));
    expect_collateral_error(s.col, "tcb_info_signature", json_string("00"));
    expect_collateral_error(s.col, "tcb_info", json_string("{\"id\":\"SGX\"}"));
    expect_collateral_error(s.col, "qe_identity", json_string("[]"));
    expect_collateral_error(s.col, "pck_crl_issuer_chain",
                            json_string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
    assert_int_equal(httpa_dcap_collateral_parse("[1]", 3, &out, &d), HTTPA_ERR_BAD_QUOTE);
    assert_int_equal(httpa_dcap_collateral_parse("{", 1, &out, &d), HTTPA_ERR_BAD_QUOTE);
    sample_free(&s);
}

/* ---- A test-only CA hierarchy ---- */

typedef struct world {
    sample s;
    X509 *real_leaf, *real_ca, *real_root, *real_tcb;
    X509_CRL *real_root_crl, *real_pck_crl;
    EVP_PKEY *root_key, *ca_key, *tcb_key;
    X509 *root, *ca, *leaf, *tcb; /* the same certificates, re-keyed and re-signed */
    X509_CRL *root_crl, *pck_crl;
    httpa_dcap_trust *test_trust, *intel;
} world;

static STACK_OF(X509) *pem_certs(const char *pem, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    STACK_OF(X509) *s = sk_X509_new_null();
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        sk_X509_push(s, x);
    ERR_clear_error();
    BIO_free(b);
    return s;
}

static X509_CRL *hex_crl(const char *hex)
{
    httpa_buf der = tl_hex(hex);
    const unsigned char *p = der.base;
    X509_CRL *c = d2i_X509_CRL(NULL, &p, (long)der.len);
    assert_non_null(c);
    httpa_buf_free(&der);
    return c;
}

static X509 *resign(X509 *real, EVP_PKEY *new_key, EVP_PKEY *signer)
{
    X509 *x = X509_dup(real);
    if (new_key != NULL)
        assert_int_equal(X509_set_pubkey(x, new_key), 1);
    assert_true(X509_sign(x, signer, EVP_sha256()) > 0);
    return x;
}

static X509_CRL *resign_crl(X509_CRL *real, EVP_PKEY *signer, X509 *revoke)
{
    X509_CRL *c = X509_CRL_dup(real);
    if (revoke != NULL) {
        X509_REVOKED *r = X509_REVOKED_new();
        ASN1_TIME *t = ASN1_TIME_set(NULL, 1700000000);
        assert_int_equal(X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoke)), 1);
        assert_int_equal(X509_REVOKED_set_revocationDate(r, t), 1);
        assert_int_equal(X509_CRL_add0_revoked(c, r), 1);
        assert_int_equal(X509_CRL_sort(c), 1);
        ASN1_TIME_free(t);
    }
    assert_true(X509_CRL_sign(c, signer, EVP_sha256()) > 0);
    return c;
}

static void world_init(world *w, const char *name)
{
    memset(w, 0, sizeof(*w));
    sample_load(&w->s, name);
    httpa_dcap_quote q;
    assert_int_equal(httpa_dcap_quote_parse(qspan(&w->s.quote), &q, NULL), HTTPA_OK);
    STACK_OF(X509) *pck = pem_certs((const char *)q.pck_chain_pem.base, q.pck_chain_pem.len);
    const char *tcb_pem = tl_str(w->s.col, "tcb_info_issuer_chain");
    STACK_OF(X509) *tcb = pem_certs(tcb_pem, strlen(tcb_pem));
    assert_int_equal(sk_X509_num(pck), 3);
    assert_int_equal(sk_X509_num(tcb), 2);
    w->real_leaf = sk_X509_value(pck, 0);
    w->real_ca = sk_X509_value(pck, 1);
    w->real_root = sk_X509_value(pck, 2);
    w->real_tcb = sk_X509_value(tcb, 0);
    X509_free(sk_X509_value(tcb, 1));
    sk_X509_free(pck);
    sk_X509_free(tcb);
    w->real_root_crl = hex_crl(tl_str(w->s.col, "root_ca_crl"));
    w->real_pck_crl = hex_crl(tl_str(w->s.col, "pck_crl"));
    w->root_key = EVP_EC_gen("P-256");
    w->ca_key = EVP_EC_gen("P-256");
    w->tcb_key = EVP_EC_gen("P-256");
    assert_true(w->root_key && w->ca_key && w->tcb_key);
    w->root = resign(w->real_root, w->root_key, w->root_key);
    w->ca = resign(w->real_ca, w->ca_key, w->root_key);
    w->leaf = resign(w->real_leaf, NULL, w->ca_key); /* its key signed the QE report */
    w->tcb = resign(w->real_tcb, w->tcb_key, w->root_key);
    w->root_crl = resign_crl(w->real_root_crl, w->root_key, NULL);
    w->pck_crl = resign_crl(w->real_pck_crl, w->ca_key, NULL);
    w->intel = intel_trust();
}

static void world_free(world *w)
{
    X509 *certs[] = {w->real_leaf, w->real_ca, w->real_root, w->real_tcb,
                     w->root,      w->ca,      w->leaf,      w->tcb};
    for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
        X509_free(certs[i]);
    X509_CRL_free(w->real_root_crl);
    X509_CRL_free(w->real_pck_crl);
    X509_CRL_free(w->root_crl);
    X509_CRL_free(w->pck_crl);
    EVP_PKEY_free(w->root_key);
    EVP_PKEY_free(w->ca_key);
    EVP_PKEY_free(w->tcb_key);
    httpa_dcap_trust_free(w->test_trust);
    httpa_dcap_trust_free(w->intel);
    sample_free(&w->s);
}

static void pem_append(X509 *x, httpa_buf *out)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    assert_int_equal(PEM_write_bio_X509(b, x), 1);
    long n = BIO_get_mem_data(b, &p);
    assert_int_equal(httpa_buf_append(out, p, (size_t)n), HTTPA_OK);
    BIO_free(b);
}

/* A NUL-terminated PEM chain of the given certificates (b, c optional). */
static char *pem_chain(X509 *a, X509 *b, X509 *c)
{
    httpa_buf out;
    httpa_buf_init(&out, 1 << 20);
    pem_append(a, &out);
    if (b != NULL)
        pem_append(b, &out);
    if (c != NULL)
        pem_append(c, &out);
    assert_int_equal(httpa_buf_append_u8(&out, 0), HTTPA_OK);
    return (char *)out.base;
}

static char *hex_of(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        snprintf(s + 2 * i, 3, "%02x", p[i]);
    return s;
}

static char *crl_hex(X509_CRL *c)
{
    unsigned char *der = NULL;
    int n = i2d_X509_CRL(c, &der);
    assert_true(n > 0);
    char *s = hex_of(der, (size_t)n);
    OPENSSL_free(der);
    return s;
}

/* ECDSA P-256 / SHA-256 over `text`, as Intel publishes it: hex r || s. */
static char *sign_hex(EVP_PKEY *k, const char *text)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char der[80], rs[64];
    size_t len = sizeof(der);
    assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, k, NULL), 1);
    assert_int_equal(EVP_DigestSign(ctx, der, &len, (const unsigned char *)text, strlen(text)), 1);
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
    assert_non_null(sig);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32), 32);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32), 32);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(ctx);
    return hex_of(rs, sizeof(rs));
}

static void put_le32(uint8_t *p, size_t v)
{
    for (int i = 0; i < 4; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

/* The quote with another PCK chain: the chain is not covered by any
 * signature, only its leaf's key is (through the QE report), so only the
 * length fields change. */
static httpa_buf quote_with_chain(const httpa_buf *quote, const char *pem)
{
    httpa_dcap_quote q;
    httpa_buf out;
    assert_int_equal(httpa_dcap_quote_parse(qspan(quote), &q, NULL), HTTPA_OK);
    size_t at = (size_t)(q.pck_chain_pem.base - quote->base), len = strlen(pem) + 1;
    size_t sig_at = q.signed_part.len + 4; /* after the signature data length */
    httpa_buf_init(&out, 1 << 20);
    assert_int_equal(httpa_buf_append(&out, quote->base, at), HTTPA_OK);
    assert_int_equal(httpa_buf_append(&out, pem, len), HTTPA_OK);
    put_le32(out.base + at - 4, len);
    put_le32(out.base + sig_at - 4, out.len - sig_at);
    if (q.version >= 4) /* the type 6 wrapper after signature and key */
        put_le32(out.base + sig_at + 128 + 2, out.len - (sig_at + 128 + 6));
    return out;
}

/* What goes into one collateral file. */
typedef struct coll_spec {
    X509 *pck_ca, *tcb_signer, *root;
    X509_CRL *root_crl, *pck_crl;
    EVP_PKEY *tcb_key; /* NULL: keep the file's signatures */
    char *tcb_text, *qe_text; /* NULL: the file's texts */
} coll_spec;

static coll_spec fake_spec(world *w)
{
    return (coll_spec){w->ca, w->tcb, w->root, w->root_crl, w->pck_crl, w->tcb_key, NULL, NULL};
}

static void set_owned(json_t *o, const char *k, char *s)
{
    json_object_set_new(o, k, json_string(s));
    free(s);
}

static json_t *make_collateral(world *w, const coll_spec *c)
{
    json_t *o = json_deep_copy(w->s.col);
    const char *tcb = c->tcb_text ? c->tcb_text : tl_str(o, "tcb_info");
    const char *qe = c->qe_text ? c->qe_text : tl_str(o, "qe_identity");
    set_owned(o, "pck_crl_issuer_chain", pem_chain(c->pck_ca, c->root, NULL));
    set_owned(o, "tcb_info_issuer_chain", pem_chain(c->tcb_signer, c->root, NULL));
    set_owned(o, "qe_identity_issuer_chain", pem_chain(c->tcb_signer, c->root, NULL));
    set_owned(o, "root_ca_crl", crl_hex(c->root_crl));
    set_owned(o, "pck_crl", crl_hex(c->pck_crl));
    if (c->tcb_key != NULL) {
        set_owned(o, "tcb_info_signature", sign_hex(c->tcb_key, tcb));
        set_owned(o, "qe_identity_signature", sign_hex(c->tcb_key, qe));
    }
    json_object_set_new(o, "tcb_info", json_string(tcb));
    json_object_set_new(o, "qe_identity", json_string(qe));
    return o;
}

static httpa_buf fake_quote(world *w, X509 *leaf, X509 *ca)
{
    char *pem = pem_chain(leaf, ca, w->root);
    httpa_buf q = quote_with_chain(&w->s.quote, pem);
    free(pem);
    return q;
}

static void use_test_root(world *w)
{
    char *pem = pem_chain(w->root, NULL, NULL);
    assert_int_equal(httpa_dcap_trust_new_test_root(pem, strlen(pem), &w->test_trust), HTTPA_OK);
    free(pem);
}

/* Run `c` with the quote `q` under the test root. */
static httpa_dcap_reason run_fake(world *w, const httpa_buf *q, const coll_spec *c,
                                  httpa_dcap_result *r)
{
    json_t *col = make_collateral(w, c);
    httpa_dcap_reason reason = verify_json(w->test_trust, qspan(q), col, w->s.at, r);
    json_decref(col);
    return reason;
}

/* A signed JSON text with one edit applied (compact, order kept). */
typedef void (*json_edit)(json_t *o);

static char *edited(json_t *col, const char *key, json_edit edit)
{
    json_error_t je;
    json_t *o = json_loads(tl_str(col, key), 0, &je);
    assert_non_null(o);
    edit(o);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

static void other_fmspc(json_t *tcb)
{
    json_object_set_new(tcb, "fmspc", json_string("00906ED50000"));
}

static void other_qe_mrsigner(json_t *qe)
{
    json_object_set_new(qe, "mrsigner",
                        json_string("0000000000000000000000000000000000000000000000000000000000000001"));
}

/* The re-signed copy is accepted: the negative cases below fail for
 * their own reason, not because the test hierarchy is broken. */
static void check_fake_baseline(const char *name, const char *status)
{
    world w;
    httpa_dcap_result r;
    world_init(&w, name);
    use_test_root(&w);
    httpa_buf q = fake_quote(&w, w.leaf, w.ca);
    coll_spec c = fake_spec(&w);
    assert_reason(run_fake(&w, &q, &c, &r), HTTPA_DCAP_OK);
    assert_string_equal(httpa_dcap_tcb_status_name(r.status), status);
    /* ... and the same quote against the production anchor is not. */
    json_t *col = make_collateral(&w, &c);
    assert_reason(verify_json(w.intel, qspan(&q), col, w.s.at, &r), HTTPA_DCAP_ROOT_CRL_INVALID);
    json_decref(col);
    httpa_buf_free(&q);
    world_free(&w);
}

static void test_fake_baseline(void **state)
{
    (void)state;
    check_fake_baseline("sgx_quote", "ConfigurationAndSWHardeningNeeded");
    check_fake_baseline("tdx_quote", "UpToDate");
}

/* The negative cases of the brief, each with its own reason. */
static void test_negative_cases(void **state)
{
    (void)state;
    world w;
    httpa_dcap_result r;
    httpa_dcap_reason got[4];
    world_init(&w, "sgx_quote");
    use_test_root(&w);
    httpa_buf q = fake_quote(&w, w.leaf, w.ca);

    /* 1. The PCK CRL revokes the PCK leaf. */
    coll_spec c = fake_spec(&w);
    c.pck_crl = resign_crl(w.real_pck_crl, w.ca_key, w.leaf);
    got[0] = run_fake(&w, &q, &c, &r);
    assert_reason(got[0], HTTPA_DCAP_PCK_CERT_REVOKED);
    X509_CRL_free(c.pck_crl);

    /* 2. The chain re-signed by another root, against the pinned Intel root. */
    assert_reason(verify_json(w.intel, qspan(&q), w.s.col, w.s.at, &r),
                  HTTPA_DCAP_PCK_CHAIN_UNTRUSTED_ROOT);
    got[1] = r.diag.reason;

    /* 3. TCB info for another FMSPC, correctly signed. */
    c = fake_spec(&w);
    c.tcb_text = edited(w.s.col, "tcb_info", other_fmspc);
    got[2] = run_fake(&w, &q, &c, &r);
    assert_reason(got[2], HTTPA_DCAP_FMSPC_MISMATCH);
    free(c.tcb_text);

    /* 4. A QE identity with another MRSIGNER, correctly signed. */
    c = fake_spec(&w);
    c.qe_text = edited(w.s.col, "qe_identity", other_qe_mrsigner);
    got[3] = run_fake(&w, &q, &c, &r);
    assert_reason(got[3], HTTPA_DCAP_QE_MRSIGNER_MISMATCH);
    free(c.qe_text);

    for (size_t i = 0; i < 4; i++)
        for (size_t k = i + 1; k < 4; k++)
            assert_int_not_equal(got[i], got[k]);
    httpa_buf_free(&q);
    world_free(&w);
}

/* Revocation and validity of every other certificate and CRL. */
static void test_revocation_and_validity(void **state)
{
    (void)state;
    world w;
    httpa_dcap_result r;
    world_init(&w, "sgx_quote");
    use_test_root(&w);
    httpa_buf q = fake_quote(&w, w.leaf, w.ca);

    coll_spec c = fake_spec(&w); /* the root CRL revokes the PCK CA */
    c.root_crl = resign_crl(w.real_root_crl, w.root_key, w.ca);
    assert_reason(run_fake(&w, &q, &c, &r), HTTPA_DCAP_PCK_CA_REVOKED);
    X509_CRL_free(c.root_crl);

    c = fake_spec(&w); /* the root CRL revokes the TCB signing certificate */
    c.root_crl = resign_crl(w.real_root_crl, w.root_key, w.tcb);
    assert_reason(run_fake(&w, &q, &c, &r), HTTPA_DCAP_SIGNING_CERT_REVOKED);
    X509_CRL_free(c.root_crl);

    c = fake_spec(&w); /* a root CRL signed by someone else */
    c.root_crl = resign_crl(w.real_root_crl, w.ca_key, NULL);
    assert_reason(run_fake(&w, &q, &c, &r), HTTPA_DCAP_ROOT_CRL_INVALID);
    X509_CRL_free(c.root_crl);

    c = fake_spec(&w); /* a PCK CRL signed by the root instead of the PCK CA */
    c.pck_crl = resign_crl(w.real_pck_crl, w.root_key, NULL);
    assert_reason(run_fake(&w, &q, &c, &r), HTTPA_DCAP_PCK_CRL_INVALID);
    X509_CRL_free(c.pck_crl);

    c = fake_spec(&w); /* a PCK CRL past its nextUpdate */
    c.pck_crl = X509_CRL_dup(w.real_pck_crl);
    ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)(w.s.at - 60));
    assert_int_equal(X509_CRL_set1_nextUpdate(c.pck_crl, t), 1);
    assert_true(X509_CRL_sign(c.pck_crl, w.ca_key, EVP_sha256()) > 0);
    assert_reason(run_fake(&w, &q, &c, &r), HTTPA_DCAP_PCK_CRL_EXPIRED);
    X509_CRL_free(c.pck_crl);

    /* A PCK leaf whose validity ended before the verification time. */
    X509 *old = X509_dup(w.real_leaf);
    assert_non_null(X509_time_adj_ex(X509_getm_notAfter(old), 0, 0, &(time_t){(time_t)w.s.at - 86400}));
    assert_true(X509_sign(old, w.ca_key, EVP_sha256()) > 0);
    httpa_buf q2 = fake_quote(&w, old, w.ca);
    c = fake_spec(&w);
    assert_reason(run_fake(&w, &q2, &c, &r), HTTPA_DCAP_CERT_EXPIRED);
    httpa_buf_free(&q2);
    X509_free(old);
    ASN1_TIME_free(t);

    /* A chain whose CA is not the PCK CRL's issuer: the TCB signing
     * certificate posing as the PCK CA. */
    httpa_buf q3 = fake_quote(&w, w.leaf, w.tcb);
    assert_reason(run_fake(&w, &q3, &c, &r), HTTPA_DCAP_PCK_CHAIN_INVALID);
    httpa_buf_free(&q3);
    httpa_buf_free(&q);
    world_free(&w);
}

static void tcb_pcesvn_99(json_t *tcb)
{
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(tcb, "tcbLevels"), i, l)
        json_object_set_new(json_object_get(l, "tcb"), "pcesvn", json_integer(99));
}

static void tcb_revoke_level_1(json_t *tcb)
{
    json_t *l = json_array_get(json_object_get(tcb, "tcbLevels"), 1);
    json_object_set_new(l, "tcbStatus", json_string("Revoked"));
}

static void qe_isvsvn_99(json_t *qe)
{
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(qe, "tcbLevels"), i, l)
        json_object_set_new(json_object_get(l, "tcb"), "isvsvn", json_integer(99));
}

/* QE ISVSVN is 10: make 11 the UpToDate level and 10 OutOfDate. */
static void qe_out_of_date(json_t *qe)
{
    json_t *levels = json_object_get(qe, "tcbLevels");
    json_object_set_new(json_object_get(json_array_get(levels, 0), "tcb"), "isvsvn",
                        json_integer(11));
    json_t *l = json_deep_copy(json_array_get(levels, 1));
    json_object_set_new(json_object_get(l, "tcb"), "isvsvn", json_integer(10));
    json_array_insert_new(levels, 1, l);
}

static void qe_other_prodid(json_t *qe)
{
    json_object_set_new(qe, "isvprodid", json_integer(7));
}

static void qe_attributes_debug(json_t *qe)
{
    json_object_set_new(qe, "attributes", json_string("13000000000000000000000000000000"));
}

static void tcb_edit_level_then(world *w, json_edit tcb_edit, json_edit qe_edit,
                                httpa_dcap_reason want, httpa_dcap_result *r)
{
    httpa_buf q = fake_quote(w, w->leaf, w->ca);
    coll_spec c = fake_spec(w);
    c.tcb_text = tcb_edit ? edited(w->s.col, "tcb_info", tcb_edit) : NULL;
    c.qe_text = qe_edit ? edited(w->s.col, "qe_identity", qe_edit) : NULL;
    assert_reason(run_fake(w, &q, &c, r), want);
    free(c.tcb_text);
    free(c.qe_text);
    httpa_buf_free(&q);
}

/* TCB level selection, QE identity, and Intel's status convergence. */
static void test_tcb_and_qe_rules(void **state)
{
    (void)state;
    world w;
    httpa_dcap_result r;
    world_init(&w, "sgx_quote");
    use_test_root(&w);
    tcb_edit_level_then(&w, tcb_pcesvn_99, NULL, HTTPA_DCAP_TCB_NOT_SUPPORTED, &r);
    tcb_edit_level_then(&w, tcb_revoke_level_1, NULL, HTTPA_DCAP_TCB_REVOKED, &r);
    tcb_edit_level_then(&w, NULL, qe_isvsvn_99, HTTPA_DCAP_QE_TCB_NOT_SUPPORTED, &r);
    tcb_edit_level_then(&w, NULL, qe_other_prodid, HTTPA_DCAP_QE_ISVPRODID_MISMATCH, &r);
    tcb_edit_level_then(&w, NULL, qe_attributes_debug, HTTPA_DCAP_QE_ATTRIBUTES_MISMATCH, &r);
    tcb_edit_level_then(&w, NULL, qe_out_of_date, HTTPA_DCAP_OK, &r);
    assert_int_equal(r.qe_status, HTTPA_TCB_OUT_OF_DATE);
    assert_int_equal(r.platform_status, HTTPA_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED);
    assert_int_equal(r.status, HTTPA_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED);
    assert_int_equal(r.nadvisories, 2); /* 00289, 00615; the QE level's 00615 once */
    world_free(&w);
}

static json_t *module_01(json_t *tcb)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(tcb, "tdxModuleIdentities"), i, m)
        if (strcmp(json_string_value(json_object_get(m, "id")), "TDX_01") == 0)
            return m;
    fail_msg("no TDX_01");
    return NULL;
}

static void module_other_signer(json_t *tcb)
{
    char z[97];
    memset(z, '0', 96);
    z[95] = '1';
    z[96] = '\0';
    json_object_set_new(module_01(tcb), "mrsigner", json_string(z));
}

/* TEE_TCB_SVN[0] is 6: UpToDate from 7, OutOfDate from 6 (with an advisory). */
static void module_out_of_date(json_t *tcb)
{
    json_t *levels = json_object_get(module_01(tcb), "tcbLevels");
    json_object_set_new(json_object_get(json_array_get(levels, 0), "tcb"), "isvsvn",
                        json_integer(7));
    json_t *l = json_deep_copy(json_array_get(levels, 1));
    json_object_set_new(json_object_get(l, "tcb"), "isvsvn", json_integer(6));
    json_object_set_new(l, "advisoryIDs", json_pack("[s]", "INTEL-SA-99999"));
    json_array_insert_new(levels, 1, l);
}

static void module_removed(json_t *tcb)
{
    json_object_set_new(module_01(tcb), "id", json_string("TDX_07"));
}

static void test_tdx_module_rules(void **state)
{
    (void)state;
    world w;
    httpa_dcap_result r;
    world_init(&w, "tdx_quote");
    use_test_root(&w);
    tcb_edit_level_then(&w, module_other_signer, NULL, HTTPA_DCAP_TDX_MODULE_MISMATCH, &r);
    tcb_edit_level_then(&w, module_removed, NULL, HTTPA_DCAP_TDX_MODULE_MISMATCH, &r);
    tcb_edit_level_then(&w, module_out_of_date, NULL, HTTPA_DCAP_OK, &r);
    assert_int_equal(r.platform_status, HTTPA_TCB_UP_TO_DATE);
    assert_int_equal(r.status, HTTPA_TCB_OUT_OF_DATE);
    assert_int_equal(r.nadvisories, 1);
    assert_string_equal(r.advisory_ids[0], "INTEL-SA-99999");
    world_free(&w);
}

/* Collateral that is wrong without any key: signatures, roots, TEE. */
static void test_collateral_rejections(void **state)
{
    (void)state;
    world w;
    httpa_dcap_result r;
    world_init(&w, "sgx_quote");
    /* The TCB info text changed by one character: signature fails. */
    json_t *col = json_deep_copy(w.s.col);
    char *tcb = strdup(tl_str(col, "tcb_info"));
    strstr(tcb, "\"pcesvn\":13")[10] = '4'; /* still JSON: 13 -> 14 */
    json_object_set_new(col, "tcb_info", json_string(tcb));
    assert_reason(verify_json(w.intel, qspan(&w.s.quote), col, w.s.at, &r),
                  HTTPA_DCAP_TCB_INFO_SIGNATURE_INVALID);
    free(tcb);
    json_decref(col);
    col = json_deep_copy(w.s.col);
    char *qe = strdup(tl_str(col, "qe_identity"));
    strstr(qe, "\"isvprodid\":1")[12] = '3'; /* 1 -> 3 */
    json_object_set_new(col, "qe_identity", json_string(qe));
    assert_reason(verify_json(w.intel, qspan(&w.s.quote), col, w.s.at, &r),
                  HTTPA_DCAP_QE_IDENTITY_SIGNATURE_INVALID);
    free(qe);
    json_decref(col);
    /* A TCB info signing chain from another root (the Intel CRLs kept). */
    coll_spec c = {w.real_ca, w.tcb, w.root, w.real_root_crl, w.real_pck_crl, w.tcb_key, NULL, NULL};
    col = make_collateral(&w, &c);
    json_object_set(col, "pck_crl_issuer_chain", json_object_get(w.s.col, "pck_crl_issuer_chain"));
    json_object_set(col, "qe_identity_issuer_chain",
                    json_object_get(w.s.col, "qe_identity_issuer_chain"));
    json_object_set(col, "qe_identity_signature", json_object_get(w.s.col, "qe_identity_signature"));
    assert_reason(verify_json(w.intel, qspan(&w.s.quote), col, w.s.at, &r),
                  HTTPA_DCAP_TCB_INFO_CHAIN_UNTRUSTED_ROOT);
    json_decref(col);
    /* The other sample's collateral. */
    sample other;
    sample_load(&other, "tdx_quote");
    assert_reason(verify_json(w.intel, qspan(&w.s.quote), other.col, w.s.at, &r),
                  HTTPA_DCAP_COLLATERAL_TEE_MISMATCH);
    assert_reason(verify_json(w.intel, qspan(&other.quote), w.s.col, other.at, &r),
                  HTTPA_DCAP_COLLATERAL_TEE_MISMATCH);
    sample_free(&other);
    world_free(&w);
}

static void test_trust_anchor(void **state)
{
    (void)state;
    httpa_dcap_trust *t = NULL;
    static const char junk[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert_int_equal(httpa_dcap_trust_new_test_root(junk, strlen(junk), &t), HTTPA_ERR_INVALID_ARG);
    assert_null(t);
    /* A non-self-signed certificate cannot be an anchor. */
    sample s;
    sample_load(&s, "sgx_quote");
    const char *chain = tl_str(s.col, "tcb_info_issuer_chain");
    const char *end = strstr(chain, "-----END CERTIFICATE-----");
    size_t len = (size_t)(end - chain) + strlen("-----END CERTIFICATE-----");
    assert_int_equal(httpa_dcap_trust_new_test_root(chain, len, &t), HTTPA_ERR_INVALID_ARG);
    sample_free(&s);
}

/* ---- The engine's verifier ---- */

typedef struct rejects {
    int n;
    char last[48];
} rejects;

static void on_reject(void *arg, const char *tee, httpa_err err, const char *reason,
                      const char *detail)
{
    rejects *r = arg;
    (void)tee;
    (void)err;
    (void)detail;
    r->n++;
    snprintf(r->last, sizeof(r->last), "%s", reason);
}

static httpa_dcap_collateral *load_col(const char *name)
{
    char rel[96];
    httpa_dcap_collateral *c = NULL;
    snprintf(rel, sizeof(rel), "vectors/dcap/%s_collateral.json", name);
    assert_int_equal(httpa_dcap_collateral_load(tl_shared_path(rel), &c, NULL), HTTPA_OK);
    return c;
}

static void test_verifier(void **state)
{
    (void)state;
    sample sgx, tdx;
    httpa_appraisal a;
    httpa_verdict vd;
    httpa_policy *strict = NULL, *lenient = NULL;
    httpa_verdict_cache *cache = NULL;
    rejects rj = {0};
    static const char lenient_json[] =
        "{\"sgx\":{},\"tdx\":{},\"accepted_tcb_status\":[\"UpToDate\","
        "\"ConfigurationAndSWHardeningNeeded\"],\"allowed_advisory_ids\":[\"INTEL-SA-00289\","
        "\"INTEL-SA-00615\"]}";
    sample_load(&sgx, "sgx_quote");
    sample_load(&tdx, "tdx_quote");
    httpa_dcap_trust *t = intel_trust();
    const httpa_dcap_collateral *cols[2] = {load_col("tdx_quote"), load_col("sgx_quote")};
    assert_int_equal(httpa_policy_new_default(false, &strict), HTTPA_OK);
    assert_int_equal(httpa_policy_parse(lenient_json, strlen(lenient_json), &lenient, NULL, 0),
                     HTTPA_OK);
    httpa_dcap_verifier v;
    httpa_dcap_verifier_init(&v, t, cols, 2, strict);
    v.on_reject = on_reject;
    v.on_reject_arg = &rj;
    httpa_verifier *base = &v.base;

    /* TDX passes the default policy; the engine gets report_data and MRTD. */
    assert_int_equal(base->appraise(base, "tdx", "raw", qspan(&tdx.quote), tdx.at, &a), HTTPA_OK);
    tl_assert_bytes(a.report_data, 64, tdx.quote.base + 568, 64);
    assert_int_equal(a.measurement_len, 48);
    assert_false(a.simulated);
    assert_string_equal(a.tcb_status, "UpToDate");
    /* SGX is verified, but its TCB status is not UpToDate. */
    assert_int_equal(httpa_dcap_verifier_appraise(&v, "sgx", "raw", qspan(&sgx.quote), sgx.at, &a, &vd),
                     HTTPA_ERR_POLICY_VIOLATION);
    assert_string_equal(vd.reason, "TCB_STATUS_NOT_ACCEPTED");
    assert_int_equal(rj.n, 1);
    /* The token must name the quote's TEE. */
    assert_int_equal(httpa_dcap_verifier_appraise(&v, "tdx", "raw", qspan(&sgx.quote), sgx.at, &a, &vd),
                     HTTPA_ERR_BAD_QUOTE);
    assert_string_equal(vd.reason, "TEE_MISMATCH");
    /* Not ours: ignored by the engine. */
    assert_int_equal(base->appraise(base, "sev_snp", "raw", qspan(&sgx.quote), sgx.at, &a),
                     HTTPA_ERR_UNSUPPORTED);
    assert_int_equal(base->appraise(base, "sgx", "eat", qspan(&sgx.quote), sgx.at, &a),
                     HTTPA_ERR_UNSUPPORTED);
    assert_int_equal(base->appraise(base, "sim", "raw", qspan(&sgx.quote), sgx.at, &a),
                     HTTPA_ERR_UNSUPPORTED);
    /* A policy that accepts the SGX sample's status and advisories. */
    v.policy = lenient;
    assert_int_equal(base->appraise(base, "sgx", "raw", qspan(&sgx.quote), sgx.at, &a), HTTPA_OK);
    tl_assert_bytes(a.report_data, 64, sgx.quote.base + 368, 64);
    assert_int_equal(a.measurement_len, 32);
    /* Expired collateral is a verification failure, reported by name. */
    assert_int_equal(base->appraise(base, "sgx", "raw", qspan(&sgx.quote), sgx.at + 86400 * 40, &a),
                     HTTPA_ERR_BAD_QUOTE);
    assert_string_equal(rj.last, "TCB_INFO_EXPIRED");
    /* No policy: fail closed. */
    v.policy = NULL;
    assert_int_equal(base->appraise(base, "tdx", "raw", qspan(&tdx.quote), tdx.at, &a),
                     HTTPA_ERR_POLICY_VIOLATION);
    /* No collateral. */
    httpa_dcap_verifier none;
    httpa_dcap_verifier_init(&none, t, NULL, 0, strict);
    assert_int_equal(httpa_dcap_verifier_appraise(&none, "tdx", "raw", qspan(&tdx.quote), tdx.at, &a, &vd),
                     HTTPA_ERR_BAD_QUOTE);
    assert_string_equal(vd.reason, "NO_COLLATERAL");

    /* With a cache: the second appraisal is a hit, under the same policy only. */
    assert_int_equal(httpa_verdict_cache_new(8, 300, &cache), HTTPA_OK);
    v.policy = strict;
    v.cache = cache;
    assert_int_equal(base->appraise(base, "tdx", "raw", qspan(&tdx.quote), tdx.at, &a), HTTPA_OK);
    assert_int_equal(httpa_verdict_cache_size(cache), 1);
    assert_int_equal(base->appraise(base, "tdx", "raw", qspan(&tdx.quote), tdx.at + 10, &a), HTTPA_OK);
    assert_int_equal(httpa_verdict_cache_size(cache), 1);
    tl_assert_bytes(a.report_data, 64, tdx.quote.base + 568, 64);
    v.policy = lenient;
    assert_int_equal(base->appraise(base, "tdx", "raw", qspan(&tdx.quote), tdx.at, &a), HTTPA_OK);
    assert_int_equal(httpa_verdict_cache_size(cache), 2);
    /* A cached verdict is not reused for another token. */
    assert_int_equal(base->appraise(base, "sgx", "raw", qspan(&tdx.quote), tdx.at, &a),
                     HTTPA_ERR_BAD_QUOTE);

    httpa_verdict_cache_free(cache);
    httpa_policy_free(strict);
    httpa_policy_free(lenient);
    httpa_dcap_collateral_free((httpa_dcap_collateral *)cols[0]);
    httpa_dcap_collateral_free((httpa_dcap_collateral *)cols[1]);
    httpa_dcap_trust_free(t);
    sample_free(&sgx);
    sample_free(&tdx);
}

static void test_reason_names(void **state)
{
    (void)state;
    /* Every reason has a distinct name and sentence. */
    for (int i = 0; i < HTTPA_DCAP_REASON__COUNT; i++)
        for (int k = i + 1; k < HTTPA_DCAP_REASON__COUNT; k++) {
            assert_string_not_equal(httpa_dcap_reason_name(i), httpa_dcap_reason_name(k));
            assert_string_not_equal(httpa_dcap_reason_text(i), httpa_dcap_reason_text(k));
        }
    assert_string_equal(httpa_dcap_reason_name(HTTPA_DCAP_PCK_CERT_REVOKED), "PCK_CERT_REVOKED");
    assert_string_equal(httpa_dcap_reason_name(HTTPA_DCAP_REASON__COUNT), "UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgx_sample),
        cmocka_unit_test(test_tdx_sample),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_tampered_100),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_v5_layout),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_collateral_malformed),
        cmocka_unit_test(test_fake_baseline),
        cmocka_unit_test(test_negative_cases),
        cmocka_unit_test(test_revocation_and_validity),
        cmocka_unit_test(test_tcb_and_qe_rules),
        cmocka_unit_test(test_tdx_module_rules),
        cmocka_unit_test(test_collateral_rejections),
        cmocka_unit_test(test_trust_anchor),
        cmocka_unit_test(test_verifier),
        cmocka_unit_test(test_reason_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
