/* The appraisal policy engine and the verdict cache. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpa/policy.h"
#include "testlib.h"

static httpa_policy *parse_ok(const char *json)
{
    httpa_policy *p = NULL;
    char err[256] = "";
    if (httpa_policy_parse(json, strlen(json), &p, err, sizeof(err)) != HTTPA_OK)
        fail_msg("policy rejected: %s", err);
    return p;
}

/* A load error whose message names `needle`. */
static void parse_bad(const char *json, const char *needle)
{
    httpa_policy *p = NULL;
    char err[256] = "";
    assert_int_equal(httpa_policy_parse(json, strlen(json), &p, err, sizeof(err)),
                     HTTPA_ERR_INVALID_ARG);
    assert_null(p);
    if (strstr(err, needle) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static httpa_claims sgx_claims(const char *status)
{
    httpa_claims c = {.tee = HTTPA_POLICY_SGX, .tcb_status = status, .collateral_issued = 1000};
    memset(c.sgx.mrenclave, 0xaa, 32);
    memset(c.sgx.mrsigner, 0xbb, 32);
    c.sgx.isvprodid = 1;
    c.sgx.isvsvn = 3;
    return c;
}

static httpa_policy_reason eval(const httpa_policy *p, const httpa_claims *c, int64_t now)
{
    httpa_policy_verdict v;
    httpa_err e = httpa_policy_evaluate(p, c, now, &v);
    assert_int_equal(e == HTTPA_OK, v.reason == HTTPA_POLICY_OK);
    if (e != HTTPA_OK)
        assert_int_equal(e, HTTPA_ERR_POLICY_VIOLATION);
    return v.reason;
}

#define AA32 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define BB32 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define CC32 "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define DD48 "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

static void test_load_errors(void **state)
{
    (void)state;
    parse_bad("[]", "JSON object");
    parse_bad("{", "file");
    parse_bad("{\"sgxx\":{}}", "sgxx");
    parse_bad("{\"sgx\":[]}", "sgx");
    parse_bad("{\"sgx\":{\"mrenclave\":\"" AA32 "\"}}", "sgx.mrenclave");
    parse_bad("{\"sgx\":{\"mrenclave\":[\"aa\"]}}", "64 hex");
    parse_bad("{\"sgx\":{\"mrenclave\":[\"" AA32 "zz\"]}}", "sgx.mrenclave");
    parse_bad("{\"sgx\":{\"mrenclve\":[]}}", "mrenclve");
    parse_bad("{\"sgx\":{\"min_isvsvn\":-1}}", "sgx.min_isvsvn");
    parse_bad("{\"sgx\":{\"isvprodid\":70000}}", "sgx.isvprodid");
    parse_bad("{\"tdx\":{\"mrtd\":[\"" AA32 "\"]}}", "96 hex");
    parse_bad("{\"tdx\":{\"rtmr4\":[]}}", "rtmr4");
    parse_bad("{\"sim\":{\"min_svn\":\"1\"}}", "sim.min_svn");
    parse_bad("{\"accepted_tcb_status\":[\"Uptodate\"]}", "unknown status");
    parse_bad("{\"accepted_tcb_status\":[\"Revoked\"]}", "never Revoked");
    parse_bad("{\"accepted_tcb_status\":\"UpToDate\"}", "accepted_tcb_status");
    parse_bad("{\"allowed_advisory_ids\":[\"\"]}", "allowed_advisory_ids");
    parse_bad("{\"allow_debug\":1}", "true or false");
    parse_bad("{\"allow_simulated\":\"yes\"}", "allow_simulated");
    parse_bad("{\"max_collateral_age\":0}", "positive");
    parse_bad("{\"version\":2}", "must be 1");
    parse_bad("{\"sgx\":{},\"sgx\":{}}", "file"); /* duplicate member */
    /* 65 measurements: one too many. */
    char big[70 * 70];
    size_t n = (size_t)snprintf(big, sizeof(big), "{\"sgx\":{\"mrenclave\":[");
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"" AA32 "\"", i ? "," : "");
    snprintf(big + n, sizeof(big) - n, "]}}");
    parse_bad(big, "at most 64");
}

static void test_load_file(void **state)
{
    (void)state;
    httpa_policy *p = NULL;
    char err[256];
    assert_int_equal(httpa_policy_load("/nonexistent/policy.json", &p, err, sizeof(err)),
                     HTTPA_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent/policy.json"));
    /* The commented examples in docs/examples load. */
    static const char *const examples[] = {"policy-sgx.json", "policy-tdx.json",
                                           "policy-sim-dev.json"};
    char path[1024];
    const char *src = __FILE__; /* .../tests/attest_policy_test.c */
    const char *slash = strrchr(src, '/');
    for (size_t i = 0; i < 3 && slash != NULL; i++) {
        snprintf(path, sizeof(path), "%.*s/../docs/examples/%s", (int)(slash - src), src,
                 examples[i]);
        if (httpa_policy_load(path, &p, err, sizeof(err)) != HTTPA_OK)
            fail_msg("%s", err);
        assert_int_equal(httpa_policy_allows_simulated(p), i == 2);
        httpa_policy_free(p);
    }
}

static void test_default_policy(void **state)
{
    (void)state;
    httpa_policy *p = NULL, *ps = NULL;
    assert_int_equal(httpa_policy_new_default(false, &p), HTTPA_OK);
    assert_int_equal(httpa_policy_new_default(true, &ps), HTTPA_OK);
    httpa_claims c = sgx_claims("UpToDate");
    assert_int_equal(eval(p, &c, 2000), HTTPA_POLICY_OK);
    c.tee = HTTPA_POLICY_TDX;
    assert_int_equal(eval(p, &c, 2000), HTTPA_POLICY_OK);
    c = sgx_claims("SWHardeningNeeded");
    assert_int_equal(eval(p, &c, 2000), HTTPA_POLICY_TCB_STATUS_NOT_ACCEPTED);
    c = sgx_claims("Revoked");
    assert_int_equal(eval(p, &c, 2000), HTTPA_POLICY_TCB_STATUS_NOT_ACCEPTED);
    c = sgx_claims(NULL);
    assert_int_equal(eval(p, &c, 2000), HTTPA_POLICY_TCB_STATUS_NOT_ACCEPTED);
    c = sgx_claims("UpToDate");
    c.debug = true;
    assert_int_equal(eval(p, &c, 2000), HTTPA_POLICY_DEBUG_FORBIDDEN);
    c = sgx_claims("UpToDate");
    const char ids[1][HTTPA_ADVISORY_ID_MAX] = {"INTEL-SA-00615"};
    c.advisory_ids = ids;
    c.nadvisory_ids = 1;
    assert_int_equal(eval(p, &c, 2000), HTTPA_POLICY_ADVISORY_NOT_ALLOWED);
    /* Simulated evidence: only when allowed. */
    httpa_claims s = {.tee = HTTPA_POLICY_SIM, .simulated = true};
    assert_int_equal(eval(p, &s, 2000), HTTPA_POLICY_TEE_NOT_ACCEPTED);
    assert_int_equal(eval(ps, &s, 2000), HTTPA_POLICY_OK);
    c = sgx_claims("UpToDate");
    c.simulated = true; /* a hardware type claimed by simulated evidence */
    assert_int_equal(eval(p, &c, 2000), HTTPA_POLICY_SIMULATED_FORBIDDEN);
    /* No policy at all: reject. */
    c = sgx_claims("UpToDate");
    assert_int_equal(eval(NULL, &c, 2000), HTTPA_POLICY_NO_POLICY);
    c.tee = HTTPA_POLICY_TEE__COUNT;
    assert_int_equal(eval(p, &c, 2000), HTTPA_POLICY_TEE_NOT_ACCEPTED);
    httpa_policy_free(p);
    httpa_policy_free(ps);
}

static void test_sgx_rules(void **state)
{
    (void)state;
    httpa_policy *p = parse_ok(
        "{\"_comment\":\"x\",\"sgx\":{\"_why\":\"y\",\"mrenclave\":[\"" CC32 "\",\"" AA32 "\"],"
        "\"mrsigner\":[\"" BB32 "\"],\"isvprodid\":1,\"min_isvsvn\":3},"
        "\"accepted_tcb_status\":[\"UpToDate\",\"SWHardeningNeeded\"],"
        "\"allowed_advisory_ids\":[\"INTEL-SA-00615\"],\"max_collateral_age\":500}");
    httpa_claims c = sgx_claims("SWHardeningNeeded");
    const char ids[2][HTTPA_ADVISORY_ID_MAX] = {"INTEL-SA-00615", "INTEL-SA-00289"};
    c.advisory_ids = ids;
    c.nadvisory_ids = 1;
    assert_int_equal(eval(p, &c, 1500), HTTPA_POLICY_OK);
    assert_int_equal(eval(p, &c, 1501), HTTPA_POLICY_COLLATERAL_TOO_OLD);
    c.nadvisory_ids = 2;
    assert_int_equal(eval(p, &c, 1500), HTTPA_POLICY_ADVISORY_NOT_ALLOWED);
    c = sgx_claims("UpToDate");
    c.sgx.mrenclave[31] ^= 1;
    assert_int_equal(eval(p, &c, 1500), HTTPA_POLICY_MRENCLAVE_NOT_ACCEPTED);
    c = sgx_claims("UpToDate");
    c.sgx.mrsigner[0] ^= 1;
    assert_int_equal(eval(p, &c, 1500), HTTPA_POLICY_MRSIGNER_NOT_ACCEPTED);
    c = sgx_claims("UpToDate");
    c.sgx.isvprodid = 2;
    assert_int_equal(eval(p, &c, 1500), HTTPA_POLICY_ISVPRODID_NOT_ACCEPTED);
    c = sgx_claims("UpToDate");
    c.sgx.isvsvn = 2;
    assert_int_equal(eval(p, &c, 1500), HTTPA_POLICY_ISVSVN_TOO_LOW);
    c = sgx_claims("ConfigurationNeeded");
    assert_int_equal(eval(p, &c, 1500), HTTPA_POLICY_TCB_STATUS_NOT_ACCEPTED);
    c = sgx_claims("UpToDate");
    c.tee = HTTPA_POLICY_TDX;
    assert_int_equal(eval(p, &c, 1500), HTTPA_POLICY_TEE_NOT_ACCEPTED);
    httpa_policy_free(p);
    /* An empty list accepts nothing; "*" allows any advisory. */
    p = parse_ok("{\"sgx\":{\"mrenclave\":[]},\"allowed_advisory_ids\":[\"*\"]}");
    c = sgx_claims("UpToDate");
    assert_int_equal(eval(p, &c, 1500), HTTPA_POLICY_MRENCLAVE_NOT_ACCEPTED);
    httpa_policy_free(p);
    p = parse_ok("{\"sgx\":{},\"allowed_advisory_ids\":[\"*\"]}");
    c.advisory_ids = ids;
    c.nadvisory_ids = 2;
    assert_int_equal(eval(p, &c, 1500), HTTPA_POLICY_OK);
    httpa_policy_free(p);
}

static void test_tdx_and_sim_rules(void **state)
{
    (void)state;
    httpa_policy *p = parse_ok("{\"tdx\":{\"mrtd\":[\"" DD48 "\"],\"rtmr2\":[\"" DD48 "\"]},"
                               "\"sim\":{\"measurement\":[\"" AA32 "\"],\"min_svn\":4},"
                               "\"allow_simulated\":true}");
    httpa_claims c = {.tee = HTTPA_POLICY_TDX, .tcb_status = "UpToDate"};
    memset(c.tdx.mrtd, 0xdd, 48);
    memset(c.tdx.rtmr[2], 0xdd, 48);
    memset(c.tdx.rtmr[0], 0x11, 48); /* no list for RTMR0: any */
    assert_int_equal(eval(p, &c, 0), HTTPA_POLICY_OK);
    c.tdx.rtmr[2][47] = 0;
    assert_int_equal(eval(p, &c, 0), HTTPA_POLICY_RTMR_NOT_ACCEPTED);
    c.tdx.mrtd[0] = 0;
    assert_int_equal(eval(p, &c, 0), HTTPA_POLICY_MRTD_NOT_ACCEPTED);
    httpa_claims s = {.tee = HTTPA_POLICY_SIM, .simulated = true};
    memset(s.sim.measurement, 0xaa, 32);
    s.sim.svn = 4;
    assert_int_equal(eval(p, &s, 0), HTTPA_POLICY_OK);
    s.sim.svn = 3;
    assert_int_equal(eval(p, &s, 0), HTTPA_POLICY_SIM_SVN_TOO_LOW);
    s.sim.svn = 4;
    s.sim.measurement[0] = 0;
    assert_int_equal(eval(p, &s, 0), HTTPA_POLICY_SIM_MEASUREMENT_NOT_ACCEPTED);
    s.sim.measurement[0] = 0xaa;
    s.debug = true;
    assert_int_equal(eval(p, &s, 0), HTTPA_POLICY_DEBUG_FORBIDDEN);
    httpa_policy_free(p);
    /* A sim section without allow_simulated still refuses. */
    p = parse_ok("{\"sim\":{}}");
    s.debug = false;
    assert_int_equal(eval(p, &s, 0), HTTPA_POLICY_SIMULATED_FORBIDDEN);
    httpa_policy_free(p);
}

static void test_policy_hash(void **state)
{
    (void)state;
    httpa_policy *a = parse_ok("{\"sgx\":{\"min_isvsvn\":2},\"allow_debug\":false}");
    httpa_policy *b = parse_ok("{\"_note\":\"same meaning\",\"allow_debug\":false,"
                               "\"sgx\":{\"_x\":1,\"min_isvsvn\":2}}");
    httpa_policy *c = parse_ok("{\"sgx\":{\"min_isvsvn\":3},\"allow_debug\":false}");
    assert_memory_equal(httpa_policy_hash(a), httpa_policy_hash(b), 32);
    assert_memory_not_equal(httpa_policy_hash(a), httpa_policy_hash(c), 32);
    httpa_policy_free(a);
    httpa_policy_free(b);
    httpa_policy_free(c);
}

static void test_reason_names(void **state)
{
    (void)state;
    for (int i = 0; i < HTTPA_POLICY_REASON__COUNT; i++)
        for (int k = i + 1; k < HTTPA_POLICY_REASON__COUNT; k++)
            assert_string_not_equal(httpa_policy_reason_name(i), httpa_policy_reason_name(k));
    assert_string_equal(httpa_policy_reason_name(HTTPA_POLICY_DEBUG_FORBIDDEN), "DEBUG_FORBIDDEN");
}

/* ---- Cache ---- */

static void key(uint8_t k[32], int i)
{
    memset(k, 0, 32);
    k[0] = (uint8_t)i;
    k[1] = (uint8_t)(i >> 8);
}

static httpa_verdict verdict(const char *reason)
{
    httpa_verdict v = {.err = HTTPA_OK};
    snprintf(v.reason, sizeof(v.reason), "%s", reason);
    snprintf(v.tee, sizeof(v.tee), "sgx");
    return v;
}

static void test_cache_basic(void **state)
{
    (void)state;
    httpa_verdict_cache *c = NULL;
    httpa_verdict out, v = verdict("OK");
    uint8_t e1[32], e2[32], p1[32], p2[32];
    key(e1, 1);
    key(e2, 2);
    key(p1, 100);
    key(p2, 200);
    assert_int_equal(httpa_verdict_cache_new(0, 60, &c), HTTPA_ERR_INVALID_ARG);
    assert_int_equal(httpa_verdict_cache_new(4, 0, &c), HTTPA_ERR_INVALID_ARG);
    assert_int_equal(httpa_verdict_cache_new(4, 60, &c), HTTPA_OK);
    assert_false(httpa_verdict_cache_get(c, e1, p1, 1000, &out));
    httpa_verdict_cache_put(c, e1, p1, 1000, INT64_MAX, &v);
    assert_true(httpa_verdict_cache_get(c, e1, p1, 1000, &out));
    assert_string_equal(out.reason, "OK");
    assert_true(httpa_verdict_cache_get(c, e1, p1, 1059, &out));
    assert_false(httpa_verdict_cache_get(c, e1, p1, 1060, &out)); /* TTL */
    assert_false(httpa_verdict_cache_get(c, e1, p2, 1000, &out)); /* other policy */
    assert_false(httpa_verdict_cache_get(c, e2, p1, 1000, &out)); /* other evidence */
    /* The expiry given (collateral nextUpdate) bounds the TTL. */
    httpa_verdict_cache_put(c, e2, p1, 1000, 1010, &v);
    assert_true(httpa_verdict_cache_get(c, e2, p1, 1009, &out));
    assert_false(httpa_verdict_cache_get(c, e2, p1, 1010, &out));
    /* A clock that goes back does not revive or extend an entry. */
    httpa_verdict_cache_put(c, e1, p1, 1000, INT64_MAX, &v);
    assert_false(httpa_verdict_cache_get(c, e1, p1, 999, &out));
    /* Already expired: not stored. */
    httpa_verdict_cache_put(c, e2, p2, 1000, 1000, &v);
    assert_false(httpa_verdict_cache_get(c, e2, p2, 1000, &out));
    httpa_verdict_cache_free(c);
}

static void test_cache_bounded_lru(void **state)
{
    (void)state;
    httpa_verdict_cache *c = NULL;
    httpa_verdict out, v = verdict("OK");
    uint8_t e[32], p[32];
    key(p, 7);
    assert_int_equal(httpa_verdict_cache_new(3, 600, &c), HTTPA_OK);
    for (int i = 0; i < 3; i++) {
        key(e, i);
        httpa_verdict_cache_put(c, e, p, 100, INT64_MAX, &v);
    }
    key(e, 0);
    assert_true(httpa_verdict_cache_get(c, e, p, 101, &out)); /* 0 is now recent; 1 is LRU */
    key(e, 3);
    httpa_verdict_cache_put(c, e, p, 102, INT64_MAX, &v);
    assert_int_equal(httpa_verdict_cache_size(c), 3);
    key(e, 1);
    assert_false(httpa_verdict_cache_get(c, e, p, 103, &out));
    static const int kept[] = {0, 2, 3};
    for (size_t i = 0; i < 3; i++) {
        key(e, kept[i]);
        assert_true(httpa_verdict_cache_get(c, e, p, 103, &out));
    }
    for (int i = 0; i < 100; i++) {
        key(e, 10 + i);
        httpa_verdict_cache_put(c, e, p, 104, INT64_MAX, &v);
    }
    assert_int_equal(httpa_verdict_cache_size(c), 3);
    httpa_verdict_cache_free(c);
}

typedef struct hammer {
    httpa_verdict_cache *c;
    int id;
} hammer;

static void *hammer_run(void *arg)
{
    hammer *h = arg;
    uint8_t e[32], p[32];
    httpa_verdict out, v = verdict("OK");
    key(p, h->id);
    for (int i = 0; i < 2000; i++) {
        key(e, i % 50);
        if (!httpa_verdict_cache_get(h->c, e, p, 10, &out))
            httpa_verdict_cache_put(h->c, e, p, 10, INT64_MAX, &v);
        else if (strcmp(out.reason, "OK") != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_cache_threads(void **state)
{
    (void)state;
    httpa_verdict_cache *c = NULL;
    pthread_t t[4];
    hammer h[4];
    assert_int_equal(httpa_verdict_cache_new(64, 600, &c), HTTPA_OK);
    for (int i = 0; i < 4; i++) {
        h[i] = (hammer){c, i};
        assert_int_equal(pthread_create(&t[i], NULL, hammer_run, &h[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *rv;
        assert_int_equal(pthread_join(t[i], &rv), 0);
        assert_null(rv);
    }
    assert_true(httpa_verdict_cache_size(c) <= 64);
    httpa_verdict_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),     cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_default_policy),  cmocka_unit_test(test_sgx_rules),
        cmocka_unit_test(test_tdx_and_sim_rules), cmocka_unit_test(test_policy_hash),
        cmocka_unit_test(test_reason_names),    cmocka_unit_test(test_cache_basic),
        cmocka_unit_test(test_cache_bounded_lru), cmocka_unit_test(test_cache_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
