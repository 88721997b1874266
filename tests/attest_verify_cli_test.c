/* httpa-verify, through the function the program calls: --json on both DCAP
 * samples must agree with expected.json, and exit statuses, usage errors and
 * simulated evidence must behave as documented. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpa/sim.h"
#include "httpa/verify_cli.h"
#include "testlib.h"

typedef struct result {
    int rc;
    char *out, *err;
    json_t *json; /* the output parsed, when it is JSON */
} result;

/* Run httpa-verify with a NULL-terminated argument list. */
static result run(const char *const *args)
{
    result r = {0};
    char *argv[32];
    int argc = 0;
    size_t olen, elen;
    argv[argc++] = (char *)"httpa-verify";
    while (args[argc - 1] != NULL && argc < 31) {
        argv[argc] = (char *)args[argc - 1];
        argc++;
    }
    argv[argc] = NULL;
    FILE *o = open_memstream(&r.out, &olen), *e = open_memstream(&r.err, &elen);
    assert_true(o != NULL && e != NULL);
    r.rc = httpa_verify_main(argc, argv, o, e);
    fclose(o);
    fclose(e);
    r.json = json_loads(r.out, 0, NULL);
    return r;
}

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
    json_decref(r->json);
}

/* A temporary file with the given content; caller unlinks and frees. */
static char *temp_file(const void *data, size_t len)
{
    const char *dir = getenv("TMPDIR");
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/httpa-verify-test-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static void drop_file(char *path)
{
    unlink(path);
    free(path);
}

static char *shared(const char *rel)
{
    return strdup(tl_shared_path(rel));
}

static const char LENIENT[] =
    "{\"sgx\":{},\"tdx\":{},\"accepted_tcb_status\":[\"UpToDate\","
    "\"ConfigurationAndSWHardeningNeeded\"],\"allowed_advisory_ids\":[\"INTEL-SA-00289\","
    "\"INTEL-SA-00615\"]}";

/* Every member of expected.json that describes the quote is in the output
 * with the same value. */
static void assert_matches_expected(json_t *out, json_t *exp)
{
    static const char *const not_output[] = {"verify_at_unix", "verify_at", "after_next_update",
                                             "tampered"};
    const char *k;
    json_t *v;
    size_t n = 0;
    json_object_foreach(exp, k, v) {
        bool skip = false;
        for (size_t i = 0; i < 4; i++)
            skip |= strcmp(k, not_output[i]) == 0;
        if (skip)
            continue;
        json_t *got = json_object_get(out, k);
        if (got == NULL || !json_equal(got, v)) {
            char *g = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
            fail_msg("member %s: got %s", k, g ? g : "(missing)");
        }
        n++;
    }
    assert_true(n >= 14);
}

static void check_sample_json(const char *name, const char *policy_json, int want_rc,
                              const char *want_verdict)
{
    char rel[96], at[32];
    json_t *all = tl_load_json("vectors/dcap/expected.json");
    json_t *exp = tl_get(all, name);
    snprintf(rel, sizeof(rel), "vectors/dcap/%s", name);
    char *quote = shared(rel);
    snprintf(rel, sizeof(rel), "vectors/dcap/%s_collateral.json", name);
    char *col = shared(rel);
    snprintf(at, sizeof(at), "%lld", (long long)tl_int(exp, "verify_at_unix"));
    char *policy = policy_json ? temp_file(policy_json, strlen(policy_json)) : NULL;
    const char *args[] = {"--quote", quote, "--collateral", col, "--at", at, "--json",
                          policy ? "--policy" : NULL, policy, NULL};
    result r = run(args);
    if (r.rc != want_rc || r.json == NULL)
        fail_msg("rc %d\nout: %s\nerr: %s", r.rc, r.out, r.err);
    assert_matches_expected(r.json, exp);
    assert_string_equal(json_string_value(json_object_get(r.json, "verdict")), want_verdict);
    assert_non_null(json_object_get(r.json, "reason"));
    result_free(&r);
    if (policy)
        drop_file(policy);
    free(quote);
    free(col);
    json_decref(all);
}

static void test_samples_json(void **state)
{
    (void)state;
    check_sample_json("sgx_quote", LENIENT, HTTPA_VERIFY_EXIT_ACCEPTED, "accepted");
    check_sample_json("tdx_quote", NULL, HTTPA_VERIFY_EXIT_ACCEPTED, "accepted");
    /* The default policy accepts UpToDate only. */
    check_sample_json("sgx_quote", NULL, HTTPA_VERIFY_EXIT_POLICY, "rejected_by_policy");
}

static void test_rejections(void **state)
{
    (void)state;
    char *quote = shared("vectors/dcap/sgx_quote");
    char *col = shared("vectors/dcap/sgx_quote_collateral.json");
    const char *args[] = {"--quote", quote, "--collateral", col, "--at", "1752922572", "--json", NULL};
    result r = run(args);
    assert_int_equal(r.rc, HTTPA_VERIFY_EXIT_REJECTED);
    assert_string_equal(json_string_value(json_object_get(r.json, "reason")), "TCB_INFO_EXPIRED");
    assert_string_equal(json_string_value(json_object_get(r.json, "verdict")), "rejected");
    result_free(&r);
    /* The tampered copy of expected.json. */
    FILE *f = fopen(quote, "rb");
    uint8_t buf[8192];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    buf[100] ^= 1;
    char *bad = temp_file(buf, n);
    const char *args2[] = {"--quote", bad, "--collateral", col, "--at", "1750334171", NULL};
    r = run(args2);
    assert_int_equal(r.rc, HTTPA_VERIFY_EXIT_REJECTED);
    assert_null(r.json); /* text output */
    assert_non_null(strstr(r.out, "QUOTE_SIGNATURE_INVALID"));
    result_free(&r);
    /* A collateral file that is not collateral. */
    const char *args3[] = {"--quote", quote, "--collateral", bad, "--at", "1750334171", NULL};
    r = run(args3);
    assert_int_equal(r.rc, HTTPA_VERIFY_EXIT_REJECTED);
    assert_non_null(strstr(r.out, "COLLATERAL_MALFORMED"));
    result_free(&r);
    drop_file(bad);
    free(quote);
    free(col);
}

static void test_text_output(void **state)
{
    (void)state;
    char *quote = shared("vectors/dcap/tdx_quote");
    char *col = shared("vectors/dcap/tdx_quote_collateral.json");
    const char *args[] = {"--quote", quote, "--collateral", col, "--at", "1750331763", NULL};
    result r = run(args);
    assert_int_equal(r.rc, 0);
    static const char *const want[] = {"tee             td10", "status          UpToDate",
                                       "mrTd ", "rtMr3 ", "reportData ",
                                       "advisory_ids    (none)", "verdict         accepted"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (strstr(r.out, want[i]) == NULL)
            fail_msg("no \"%s\" in\n%s", want[i], r.out);
    result_free(&r);
    free(quote);
    free(col);
}

static void expect_usage(const char *const *args, const char *needle)
{
    result r = run(args);
    assert_int_equal(r.rc, HTTPA_VERIFY_EXIT_USAGE);
    if (strstr(r.err, needle) == NULL)
        fail_msg("stderr \"%s\" lacks \"%s\"", r.err, needle);
    result_free(&r);
}

static void test_usage(void **state)
{
    (void)state;
    char *quote = shared("vectors/dcap/sgx_quote");
    expect_usage((const char *const[]){NULL}, "--quote is required");
    expect_usage((const char *const[]){"--quote", NULL}, "missing value");
    expect_usage((const char *const[]){"--frobnicate", NULL}, "unknown argument");
    expect_usage((const char *const[]){"--quote", quote, "--at", "soon", NULL}, "--at");
    expect_usage((const char *const[]){"--quote", quote, "--at", "-5", NULL}, "--at");
    expect_usage((const char *const[]){"--quote", quote, NULL}, "--collateral is required");
    expect_usage((const char *const[]){"--quote", "/nonexistent", NULL}, "cannot read");
    expect_usage((const char *const[]){"--quote", quote, "--quote", quote, NULL}, "twice");
    expect_usage((const char *const[]){"--quote", quote, "--collateral", quote, "--policy",
                                       "/nonexistent", NULL},
                 "policy");
    result r = run((const char *const[]){"--help", NULL});
    assert_int_equal(r.rc, 0);
    static const char *const sections[] = {"NAME\n",    "SYNOPSIS\n",    "DESCRIPTION\n",
                                           "OPTIONS\n", "EXIT STATUS\n", "EXAMPLES\n"};
    for (size_t i = 0; i < 6; i++)
        assert_non_null(strstr(r.out, sections[i]));
    result_free(&r);
    free(quote);
}

/* Simulated evidence made here with a fixed key. */
static char *sim_file(bool debug, uint8_t pub_hex[65])
{
    static const uint8_t seed[32] = {1, 2, 3};
    uint8_t measurement[32], rd[64];
    httpa_sim_attester a;
    httpa_buf ev;
    memset(measurement, 0x5a, sizeof(measurement));
    memset(rd, 0x42, sizeof(rd));
    assert_int_equal(httpa_sim_attester_init(&a, seed, measurement, 7, debug), HTTPA_OK);
    httpa_buf_init(&ev, 1024);
    assert_int_equal(a.base.quote(&a.base, rd, &ev), HTTPA_OK);
    for (size_t i = 0; i < 32; i++)
        snprintf((char *)pub_hex + 2 * i, 3, "%02x", a.pub[i]);
    char *path = temp_file(ev.base, ev.len);
    httpa_buf_free(&ev);
    httpa_sim_attester_clear(&a);
    return path;
}

static void test_sim(void **state)
{
    (void)state;
    uint8_t key[65];
    char *ev = sim_file(false, key);
    const char *k = (const char *)key;
    result r = run((const char *const[]){"--quote", ev, "--sim-key", k, "--allow-sim", "--json", NULL});
    assert_int_equal(r.rc, HTTPA_VERIFY_EXIT_ACCEPTED);
    assert_string_equal(json_string_value(json_object_get(r.json, "tee")), "sim");
    assert_true(json_is_true(json_object_get(r.json, "simulated")));
    assert_non_null(strstr(r.err, "WARNING: SIMULATED EVIDENCE ACCEPTED"));
    result_free(&r);
    /* Not enabled: rejected, and no warning. */
    r = run((const char *const[]){"--quote", ev, "--sim-key", k, NULL});
    assert_int_equal(r.rc, HTTPA_VERIFY_EXIT_REJECTED);
    assert_non_null(strstr(r.out, "SIMULATED_NOT_ENABLED"));
    assert_null(strstr(r.err, "WARNING"));
    result_free(&r);
    /* Another key. */
    uint8_t first = key[0];
    key[0] = first == '0' ? '1' : '0';
    r = run((const char *const[]){"--quote", ev, "--sim-key", k, "--allow-sim", NULL});
    assert_int_equal(r.rc, HTTPA_VERIFY_EXIT_REJECTED);
    assert_non_null(strstr(r.out, "SIM_EVIDENCE_INVALID"));
    result_free(&r);
    expect_usage((const char *const[]){"--quote", ev, "--allow-sim", NULL}, "--sim-key");
    expect_usage((const char *const[]){"--quote", ev, "--allow-sim", "--sim-key", "abc", NULL},
                 "--sim-key");
    /* A policy file that does not allow simulated evidence wins over --allow-sim. */
    key[0] = first;
    char *pol = temp_file("{\"sgx\":{}}", 10);
    r = run((const char *const[]){"--quote", ev, "--sim-key", k, "--allow-sim", "--policy", pol, NULL});
    assert_int_equal(r.rc, HTTPA_VERIFY_EXIT_POLICY);
    assert_null(strstr(r.err, "WARNING"));
    result_free(&r);
    drop_file(pol);
    drop_file(ev);
    /* Debug sim evidence: refused by the default policy. */
    ev = sim_file(true, key);
    r = run((const char *const[]){"--quote", ev, "--sim-key", k, "--allow-sim", NULL});
    assert_int_equal(r.rc, HTTPA_VERIFY_EXIT_POLICY);
    assert_non_null(strstr(r.out, "DEBUG_FORBIDDEN"));
    result_free(&r);
    drop_file(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_samples_json), cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_text_output),  cmocka_unit_test(test_usage),
        cmocka_unit_test(test_sim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
