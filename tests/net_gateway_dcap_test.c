/* Mutual attestation with Intel DCAP evidence, end to end over 127.0.0.1:
 * an HTTPA client whose "TEE" presents the real sample quotes of
 * shared/vectors/dcap -> httpa-gateway (a child process, sim TEE for its own
 * evidence) started with --client-collateral (and --client-policy) -> an
 * HTTP/1.1 upstream (threads of this process).
 *
 * A real quote cannot bind our handshake (its REPORTDATA is fixed), and its
 * collateral expired long ago, while the gateway appraises at the current
 * time. So what this test proves is the wiring: the client's tdx/sgx
 * evidence reaches the DCAP verifier, its verdict is enforced (the
 * handshake fails closed with the profile's bad_quote, 403, problem+json,
 * and the application sees nothing), and the gateway says why. A short
 * check beside it shows that the same verifier, collateral and policy do
 * accept the quote at the time expected.json gives, so the refusal is the
 * collateral's age and nothing else. Finally: --client-collateral never
 * makes the gateway accept simulated client evidence, even with a policy
 * that allows simulated evidence; only --client-sim-key does. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "e2e/e2e.h"
#include "httpa/dcap.h"
#include "httpa/policy.h"
#include "testlib.h"

/* The helpers are compiled into this test, as in net_gateway_test. */
#include "e2e/harness.c"
#include "e2e/upstream.c"
#include "e2e/fixture.c"

/* The sample answers of the upstream are 10 octets. */
static int setup_dcap(void **state)
{
    int rc = setup(state);
    if (rc == 0)
        ((fixture *)*state)->up.resp_len = 10;
    return rc;
}

/* ---- the files ---- */

/* docs/examples/<name>, found from this file's path. */
static const char *example(const char *name, char *out, size_t cap)
{
    const char *src = __FILE__; /* .../tests/net_gateway_dcap_test.c */
    const char *slash = strrchr(src, '/');
    assert_non_null(slash);
    snprintf(out, cap, "%.*s/../docs/examples/%s", (int)(slash - src), src, name);
    assert_int_equal(access(out, R_OK), 0);
    return out;
}

/* ---- a client "TEE" that presents a fixed, real quote ---- */

typedef struct quote_attester {
    httpa_attester base; /* first */
    httpa_buf quote;
    size_t calls;
    uint8_t asked[HTTPA_REPORT_DATA_LEN]; /* the report_data the handshake wanted */
} quote_attester;

/* Ignores the report_data it is asked to bind: a real quote cannot. */
static httpa_err quote_fixed(httpa_attester *self, const uint8_t rd[HTTPA_REPORT_DATA_LEN],
                             httpa_buf *evidence)
{
    quote_attester *a = (quote_attester *)self;
    a->calls++;
    memcpy(a->asked, rd, HTTPA_REPORT_DATA_LEN);
    return httpa_buf_append(evidence, a->quote.base, a->quote.len);
}

static void quote_attester_init(quote_attester *a, const char *tee, const char *sample)
{
    char rel[128];
    memset(a, 0, sizeof(*a));
    a->base.tee = tee;
    a->base.quote = quote_fixed;
    snprintf(rel, sizeof(rel), "vectors/dcap/%s", sample);
    a->quote = tl_read_file(tl_shared_path(rel));
    assert_true(a->quote.len > HTTPA_DCAP_HEADER_LEN);
}

/* ---- the exchange ---- */

/* The first line of the gateway's log that contains every one of `parts`
 * (NULL-terminated), waiting up to wait_ms for it; NULL when none does.
 * Caller frees. */
static char *log_line_within(const e2e_gw *g, const char *const *parts, int wait_ms)
{
    char path[128], line[4096];
    snprintf(path, sizeof(path), "%s/access.log", g->dir);
    for (int t = 0; t <= wait_ms; t += 20) {
        FILE *lf = fopen(path, "r");
        while (lf != NULL && fgets(line, sizeof(line), lf) != NULL) {
            bool all = true;
            for (size_t i = 0; all && parts[i] != NULL; i++)
                all = strstr(line, parts[i]) != NULL;
            if (all) {
                fclose(lf);
                return strdup(line);
            }
        }
        if (lf != NULL)
            fclose(lf);
        if (t < wait_ms)
            sleep_for_ms(20);
    }
    return NULL;
}

static char *log_line(const e2e_gw *g, const char *const *parts)
{
    return log_line_within(g, parts, 2000);
}

/* Startup lines are written before the port file, so "absent" needs no wait. */
static bool log_has(const e2e_gw *g, const char *text, bool wait)
{
    const char *parts[] = {text, NULL};
    char *l = log_line_within(g, parts, wait ? 2000 : 0);
    free(l);
    return l != NULL;
}

static const char *field(const e2e_resp *r, const char *name)
{
    const httpa_header *h = httpa_msg_find(&r->msg, name, strlen(name));
    return h != NULL ? h->value : NULL;
}

/* The profile's unauthenticated refusal (13.1): 403, Attest-Error `token`,
 * no binder, and an RFC 9457 body of type urn:httpa2:error:<token>. */
static void assert_refused(const e2e_resp *r, const char *token)
{
    char type[64];
    json_error_t jerr;
    assert_int_equal(r->status, 403);
    assert_string_equal(e2e_attest_error(r), token);
    assert_null(field(r, "attest-binder"));
    assert_non_null(field(r, "content-type"));
    assert_string_equal(field(r, "content-type"), "application/problem+json");
    json_t *p = json_loadb((const char *)r->body.base, r->body.len, 0, &jerr);
    if (p == NULL)
        fail_msg("problem body is not JSON: %s", jerr.text);
    snprintf(type, sizeof(type), "urn:httpa2:error:%s", token);
    assert_string_equal(json_string_value(json_object_get(p, "type")), type);
    assert_string_equal(json_string_value(json_object_get(p, "title")), token);
    assert_int_equal(json_integer_value(json_object_get(p, "status")), 403);
    json_decref(p);
}

/* ---- DCAP client evidence ---- */

typedef struct dcap_case {
    const char *tee;     /* Attest-Quotes token */
    const char *sample;  /* shared/vectors/dcap/<sample>, <sample>_collateral.json */
    const char *policy;  /* docs/examples/<policy>: accepts the sample at verify_at */
} dcap_case;

/* What the gateway's verifier decides, outside the gateway: the same trust
 * anchor (the Intel root), collateral file and policy file. At the sample's
 * verify_at_unix it accepts the quote, whose report_data is the sample's
 * and not the handshake's; now, it rejects the quote: the collateral has
 * expired. Returns that reason's name (static storage). */
static const char *verifier_now(const dcap_case *c, const char *col_path, const char *pol_path,
                                const quote_attester *a)
{
    static char reason[64];
    char err[256] = "";
    httpa_dcap_trust *trust = NULL;
    httpa_dcap_collateral *col = NULL;
    httpa_policy *pol = NULL;
    httpa_dcap_diag d = {0};
    httpa_dcap_verifier v;
    httpa_appraisal ap;
    httpa_verdict vd;

    json_t *all = tl_load_json("vectors/dcap/expected.json");
    json_t *exp = tl_get(all, c->sample);
    int64_t at = tl_int(exp, "verify_at_unix");
    httpa_buf want_rd = tl_hex(tl_str(exp, "reportData"));

    assert_int_equal(httpa_dcap_trust_new_intel(&trust), HTTPA_OK);
    assert_int_equal(httpa_dcap_collateral_load(col_path, &col, &d), HTTPA_OK);
    if (httpa_policy_load(pol_path, &pol, err, sizeof(err)) != HTTPA_OK)
        fail_msg("%s", err);
    httpa_dcap_verifier_init(&v, trust, (const httpa_dcap_collateral *const *)&col, 1, pol);

    memset(&ap, 0, sizeof(ap));
    assert_int_equal(httpa_dcap_verifier_appraise(&v, c->tee, "raw", httpa_buf_span(&a->quote),
                                                  at, &ap, &vd),
                     HTTPA_OK);
    assert_false(ap.simulated);
    tl_assert_bytes(ap.report_data, sizeof(ap.report_data), want_rd.base, want_rd.len);
    /* the engine compares this with the handshake's: it can never match */
    assert_memory_not_equal(ap.report_data, a->asked, HTTPA_REPORT_DATA_LEN);

    assert_int_equal(httpa_dcap_verifier_appraise(&v, c->tee, "raw", httpa_buf_span(&a->quote),
                                                  (int64_t)time(NULL), &ap, &vd),
                     HTTPA_ERR_BAD_QUOTE);
    snprintf(reason, sizeof(reason), "%s", vd.reason);
    assert_string_equal(tl_str(exp, "after_next_update"), "rejected: TCBInfo expired");

    httpa_buf_free(&want_rd);
    httpa_policy_free(pol);
    httpa_dcap_collateral_free(col);
    httpa_dcap_trust_free(trust);
    json_decref(all);
    return reason;
}

static void dcap_client_refused(void **state, const dcap_case *c)
{
    fixture *f = *state;
    char rel[128], col[4096], pol[1024];
    quote_attester a;
    quote_attester_init(&a, c->tee, c->sample);
    snprintf(rel, sizeof(rel), "vectors/dcap/%s_collateral.json", c->sample);
    snprintf(col, sizeof(col), "%s", tl_shared_path(rel));
    example(c->policy, pol, sizeof(pol));

    const char *extra[] = {"--client-collateral", col, "--client-policy", pol,
                           "--require-client-attestation", NULL};
    assert_int_equal(e2e_gw_start(&f->gw, f->upstream_url, extra), 0);
    e2e_client_init(&f->cli, &f->gw, CURL_HTTP_VERSION_1_1);
    assert_true(log_has(&f->gw, "mutual mode: client attestation required", true));
    assert_false(log_has(&f->gw, "SIMULATED CLIENT TEEs ACCEPTED", false));

    e2e_resp resp;
    e2e_resp_init(&resp);
    assert_int_equal(e2e_mutual_handshake(&f->cli, &a.base, &resp), HTTPA_ERR_BAD_QUOTE);
    assert_int_equal(a.calls, 1); /* the evidence was really sent */
    assert_refused(&resp, "bad_quote");
    assert_null(f->cli.base);
    e2e_resp_free(&resp);

    /* the gateway logged the refused AtHS with the profile's token */
    const char *access[] = {"\"event\":\"access\"", "\"status\":403", "\"kind\":\"aths\"",
                            "\"error\":\"bad_quote\"", NULL};
    char *line = log_line(&f->gw, access);
    assert_non_null(line);
    free(line);

    /* why: the collateral expired (nextUpdate is in 2025); the quote itself,
     * at its own time, is fine, and the refusal is not a policy matter */
    const char *reason = verifier_now(c, col, pol, &a);
    assert_string_equal(reason, httpa_dcap_reason_name(HTTPA_DCAP_TCB_INFO_EXPIRED));
    /* and the gateway's log says so (the answer itself only says bad_quote) */
    const char *why[] = {"client evidence rejected", reason, c->tee, NULL};
    line = log_line(&f->gw, why);
    if (line == NULL)
        fail_msg("the gateway log does not name the DCAP reason %s", reason);
    free(line);

    /* failed closed: the application received nothing, the gateway lives */
    sleep_for_ms(50);
    assert_int_equal(e2e_upstream_count(&f->up), 0);
    assert_int_equal(f->up.incomplete, 0);
    assert_true(e2e_gw_alive(&f->gw));
    httpa_buf_free(&a.quote);
}

static void test_tdx_client_quote_refused(void **state)
{
    static const dcap_case c = {"tdx", "tdx_quote", "policy-tdx.json"};
    dcap_client_refused(state, &c);
}

static void test_sgx_client_quote_refused(void **state)
{
    static const dcap_case c = {"sgx", "sgx_quote", "policy-sgx.json"};
    dcap_client_refused(state, &c);
}

/* ---- simulated client evidence without --client-sim-key ---- */

/* --client-collateral with a policy that allows simulated evidence, client
 * attestation not required: client sim evidence is still refused (only
 * --client-sim-key accepts it), while a client offering no evidence gets
 * through unattested. */
static void test_sim_client_refused_without_sim_key(void **state)
{
    fixture *f = *state;
    char col[4096], pol[1024];
    snprintf(col, sizeof(col), "%s", tl_shared_path("vectors/dcap/tdx_quote_collateral.json"));
    example("policy-sim-dev.json", pol, sizeof(pol));
    const char *extra[] = {"--client-collateral", col, "--client-policy", pol, NULL};
    assert_int_equal(e2e_gw_start(&f->gw, f->upstream_url, extra), 0);
    e2e_client_init(&f->cli, &f->gw, CURL_HTTP_VERSION_1_1);
    assert_true(log_has(&f->gw, "mutual mode: client evidence verified when offered", true));
    assert_false(log_has(&f->gw, "SIMULATED CLIENT TEEs ACCEPTED", false));

    uint8_t seed[32], meas[HTTPA_SIM_MEASUREMENT_LEN];
    memset(seed, 0x5c, sizeof(seed));
    memcpy(meas, "net_gateway_dcap client TEE v1..", sizeof(meas));
    httpa_sim_attester tee;
    assert_int_equal(httpa_sim_attester_init(&tee, seed, meas, 1, false), HTTPA_OK);
    e2e_resp resp;
    e2e_resp_init(&resp);
    assert_int_equal(e2e_mutual_handshake(&f->cli, &tee.base, &resp), HTTPA_ERR_BAD_QUOTE);
    assert_refused(&resp, "bad_quote");
    assert_null(f->cli.base);
    e2e_resp_free(&resp);
    const char *access[] = {"\"kind\":\"aths\"", "\"error\":\"bad_quote\"", NULL};
    char *line = log_line(&f->gw, access);
    assert_non_null(line);
    free(line);
    sleep_for_ms(50);
    assert_int_equal(e2e_upstream_count(&f->up), 0);

    /* without evidence: not required, so a base, and the application sees
     * an unattested client */
    e2e_resp_init(&resp);
    assert_int_equal(e2e_mutual_handshake(&f->cli, NULL, &resp), HTTPA_OK);
    e2e_resp_free(&resp);
    httpa_msg req;
    httpa_msg_init_request(&req);
    assert_int_equal(httpa_msg_set_request_line(&req, "GET", 3, "/x", 2), HTTPA_OK);
    httpa_seal_opts none = {0};
    e2e_resp_init(&resp);
    assert_int_equal(e2e_protected(&f->cli, &req, HTTPA_SPAN(NULL, 0), &none, NULL, NULL, &resp),
                     HTTPA_OK);
    assert_int_equal(resp.status, 200);
    httpa_msg_free(&req);
    e2e_resp_free(&resp);
    e2e_upreq u = {0};
    assert_int_equal(e2e_upstream_count(&f->up), 1);
    assert_true(e2e_upstream_get(&f->up, 0, &u));
    char v[64];
    assert_false(e2e_head_value(u.head, "x-httpa-client-attested", v, sizeof(v)));
    free(u.head);
    free(u.body);
    httpa_sim_attester_clear(&tee);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tdx_client_quote_refused, setup_dcap, teardown),
        cmocka_unit_test_setup_teardown(test_sgx_client_quote_refused, setup_dcap, teardown),
        cmocka_unit_test_setup_teardown(test_sim_client_refused_without_sim_key, setup_dcap, teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests_name("net_gateway_dcap", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
