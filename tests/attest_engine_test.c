/* End to end with the engine, in process: the Attest Handshake in
 * attested-key mode (keys from the key manager) and in fresh mode, with
 * evidence from
 *   (a) the simulated TEE, verified by the sim verifier;
 *   (b) the configfs-tsm provider over a temporary tree, whose fake "kernel"
 *       writes a TDX-shaped outblob wrapping sim evidence;
 *   (c) the Gramine provider likewise, with an SGX-shaped quote.
 * For (b) and (c) the client uses tl_wrapped_verifier: TEST ONLY, it checks
 * the sim evidence inside and says so (simulated). And the refusals: the
 * default appraisal policy rejects sim evidence with a clear reason, and a
 * client not configured for sim fails the handshake with bad_quote. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tee_tree.h"
#include "testlib.h"

#include "httpa/client.h"
#include "httpa/keymgr.h"
#include "httpa/policy.h"
#include "httpa/server.h"
#include "httpa/sim.h"
#include "httpa/tee.h"

#define NOW 1750000000
#define WAIT_MS 5000

static int64_t fixed_clock(void *arg)
{
    (void)arg;
    return NOW;
}

/* One server: a TEE behind an httpa_attester, the engine, and (attested-key
 * mode) a key manager. */
typedef struct fx {
    char dir[256];
    httpa_sim_attester sim;       /* the simulated TEE (inside the fakes too) */
    tl_tsm_kernel kernel;
    tl_gramine_device device;
    httpa_tsm_attester tsm;
    httpa_gramine_attester gramine;
    httpa_attester *attester;     /* the one in use */
    httpa_server *server;
    httpa_keymgr *keymgr;
} fx;

typedef enum tee_kind { TEE_SIM, TEE_TSM, TEE_GRAMINE } tee_kind;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    uint8_t m[32] = {0x5a, 0x11};
    tl_tempdir(f->dir);
    assert_int_equal(httpa_sim_attester_init(&f->sim, NULL, m, 3, false), HTTPA_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    httpa_keymgr_stop(f->keymgr);
    httpa_server_free(f->server);
    httpa_tsm_attester_clear(&f->tsm);
    httpa_gramine_attester_clear(&f->gramine);
    tl_tsm_kernel_free(&f->kernel);
    httpa_sim_attester_clear(&f->sim);
    tl_rmtree(f->dir);
    free(f);
    return 0;
}

static void open_tee(fx *f, tee_kind k)
{
    if (k == TEE_SIM) {
        f->attester = &f->sim.base;
        return;
    }
    if (k == TEE_TSM) {
        tl_tsm_kernel_init(&f->kernel, "tdx_guest", &f->sim.base);
        httpa_tsm_config c = {.root = f->dir, .test_kernel = tl_tsm_kernel_fn,
                              .test_kernel_arg = &f->kernel};
        assert_int_equal(httpa_tsm_attester_init(&f->tsm, &c, NULL), HTTPA_OK);
        f->attester = &f->tsm.base;
        return;
    }
    tl_tsm_kernel_init(&f->kernel, "unused", NULL);
    f->device = (tl_gramine_device){.mode = TL_GRAMINE_OK, .sim = &f->sim.base};
    tl_gramine_tree(f->dir, "dcap");
    httpa_gramine_config c = {.root = f->dir, .test_device = tl_gramine_device_fn,
                              .test_device_arg = &f->device};
    assert_int_equal(httpa_gramine_attester_init(&f->gramine, &c, NULL), HTTPA_OK);
    f->attester = &f->gramine.base;
}

/* The server; fresh mode answers with the attester, attested-key mode with
 * the key manager's key. */
static void start_server(fx *f, tee_kind k, bool fresh)
{
    open_tee(f, k);
    httpa_server_config sc = {.attester = fresh ? f->attester : NULL};
    assert_int_equal(httpa_server_new(&sc, &f->server), HTTPA_OK);
    if (fresh)
        return;
    httpa_keymgr_config kc = {.server = f->server, .attester = f->attester,
                              .clock = fixed_clock, .poll_ms = 50};
    assert_int_equal(httpa_keymgr_start(&kc, &f->keymgr), HTTPA_OK);
    assert_int_equal(httpa_keymgr_wait(f->keymgr, 1, WAIT_MS), HTTPA_OK);
}

typedef struct outcome {
    httpa_err err;
    char tee[16];              /* the token of the first Attest-Quotes entry */
    bool signature;            /* Attest-Signature present (attested-key mode) */
    httpa_appraisal appraisal;
} outcome;

/* "(tdx :...:);format=raw..." -> "tdx" */
static void first_token(const httpa_msg *resp, char out[16])
{
    const httpa_header *h = httpa_msg_find(resp, "Attest-Quotes", 13);
    assert_non_null(h);
    assert_int_equal(h->value[0], '(');
    size_t n = strcspn(h->value + 1, " )");
    assert_true(n < 16);
    memcpy(out, h->value + 1, n);
    out[n] = '\0';
}

static outcome handshake(fx *f, httpa_verifier *v, bool allow_sim, bool fresh)
{
    outcome o = {.err = HTTPA_ERR_INTERNAL};
    httpa_client_config cc = {.verifier = v, .allow_sim = allow_sim, .fresh = fresh};
    httpa_msg req, resp;
    httpa_buf body;
    httpa_client_hs *hs = NULL;
    httpa_client_base *base = NULL;
    httpa_msg_init_request(&req);
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, 65536);
    assert_int_equal(httpa_client_hs_start(&cc, NOW, &req, &hs), HTTPA_OK);
    assert_int_equal(httpa_server_handshake(f->server, &req, 0, NOW, &resp, &body), HTTPA_OK);
    first_token(&resp, o.tee);
    o.signature = httpa_msg_find(&resp, "Attest-Signature", 16) != NULL;
    o.err = httpa_client_hs_finish(hs, &resp, httpa_buf_span(&body), NOW, &base);
    if (o.err == HTTPA_OK)
        o.appraisal = *httpa_client_base_appraisal(base);
    httpa_client_base_release(base);
    httpa_client_hs_free(hs);
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    return o;
}

static void assert_accepted(const outcome *o, const char *tee, bool fresh)
{
    assert_int_equal(o->err, HTTPA_OK);
    assert_string_equal(o->tee, tee);
    assert_int_equal(o->signature, !fresh);
    assert_true(o->appraisal.simulated); /* said plainly, whatever the token */
}

/* ---- (a) the simulated TEE ---- */

static void sim_case(fx *f, bool fresh)
{
    httpa_sim_verifier v;
    start_server(f, TEE_SIM, fresh);
    httpa_sim_verifier_init(&v, f->sim.pub);
    outcome o = handshake(f, &v.base, true, fresh);
    assert_accepted(&o, "sim", fresh);
    assert_memory_equal(o.appraisal.measurement, f->sim.measurement, 32);
}

static void test_sim_attested_key(void **state)
{
    sim_case(*state, false);
}

static void test_sim_fresh(void **state)
{
    sim_case(*state, true);
}

/* ---- (b) configfs-tsm and (c) Gramine over temporary trees ---- */

static void tree_case(fx *f, tee_kind k, bool fresh)
{
    bool tsm = k == TEE_TSM;
    const char *tee = tsm ? "tdx" : "sgx";
    tl_wrapped_verifier v;
    start_server(f, k, fresh);
    tl_wrapped_verifier_init(&v, tee, tsm ? TL_SHAPE_TDX_V4 : TL_SHAPE_SGX_V3, f->sim.pub);
    unsigned before = tsm ? f->kernel.reports : f->device.quotes;
    for (int i = 0; i < 2; i++) {
        outcome o = handshake(f, &v.base, true, fresh);
        assert_accepted(&o, tee, fresh);
    }
    assert_int_equal(v.calls, 2);
    /* Fresh mode quotes per handshake; attested-key mode quoted once, at start. */
    unsigned quotes = (tsm ? f->kernel.reports : f->device.quotes) - before;
    assert_int_equal(quotes, fresh ? 2 : 0);

    /* The same evidence, to a client that does not accept simulated evidence. */
    outcome o = handshake(f, &v.base, false, fresh);
    assert_int_equal(o.err, HTTPA_ERR_BAD_QUOTE);
}

static void test_tsm_attested_key(void **state)
{
    tree_case(*state, TEE_TSM, false);
}

static void test_tsm_fresh(void **state)
{
    tree_case(*state, TEE_TSM, true);
}

static void test_gramine_attested_key(void **state)
{
    tree_case(*state, TEE_GRAMINE, false);
}

static void test_gramine_fresh(void **state)
{
    tree_case(*state, TEE_GRAMINE, true);
}

/* ---- Appraisal policy for sim evidence ---- */

/* The sim verifier, then the appraisal policy on its claims (what the
 * httpa command does for sim evidence); the verdict is kept to read. */
typedef struct policy_verifier {
    httpa_verifier base;
    httpa_sim_verifier sim;
    const httpa_policy *policy;
    httpa_policy_verdict verdict;
} policy_verifier;

static httpa_err policy_appraise(httpa_verifier *self, const char *tee, const char *format,
                                 httpa_span ev, int64_t now, httpa_appraisal *out)
{
    policy_verifier *v = (policy_verifier *)self;
    httpa_sim_evidence se;
    httpa_err e = v->sim.base.appraise(&v->sim.base, tee, format, ev, now, out);
    if (e != HTTPA_OK || httpa_sim_evidence_parse(ev, &se) != HTTPA_OK)
        return e != HTTPA_OK ? e : HTTPA_ERR_BAD_QUOTE;
    httpa_claims c = {.tee = HTTPA_POLICY_SIM, .simulated = true, .debug = out->debug};
    memcpy(c.sim.measurement, se.measurement, 32);
    c.sim.svn = se.svn;
    return httpa_policy_evaluate(v->policy, &c, now, &v->verdict);
}

static void test_default_policy_rejects_sim(void **state)
{
    fx *f = *state;
    httpa_policy *strict = NULL, *dev = NULL;
    char err[256] = "";
    start_server(f, TEE_SIM, false);
    assert_int_equal(httpa_policy_new_default(false, &strict), HTTPA_OK);
    policy_verifier v = {.base.appraise = policy_appraise, .policy = strict};
    httpa_sim_verifier_init(&v.sim, f->sim.pub);

    outcome o = handshake(f, &v.base, true, false);
    assert_int_equal(o.err, HTTPA_ERR_BAD_QUOTE);
    /* The message a log would show. */
    char msg[300];
    snprintf(msg, sizeof(msg), "%s: %s (%s)", httpa_policy_reason_name(v.verdict.reason),
             httpa_policy_reason_text(v.verdict.reason), v.verdict.detail);
    assert_string_equal(msg, "TEE_NOT_ACCEPTED: the policy has no section for this TEE type "
                             "(no \"sim\" section)");

    /* A sim section alone does not allow it either: allow_simulated must be set. */
    httpa_policy *half = NULL;
    static const char half_text[] = "{\"sim\":{}}";
    assert_int_equal(httpa_policy_parse(half_text, strlen(half_text), &half, err, sizeof(err)),
                     HTTPA_OK);
    v.policy = half;
    o = handshake(f, &v.base, true, false);
    assert_int_equal(o.err, HTTPA_ERR_BAD_QUOTE);
    assert_int_equal(v.verdict.reason, HTTPA_POLICY_SIMULATED_FORBIDDEN);
    assert_string_equal(httpa_policy_reason_text(v.verdict.reason),
                        "simulated evidence is not allowed");

    /* The development policy of docs/examples accepts it. */
    char path[1024];
    snprintf(path, sizeof(path), "%s", __FILE__); /* .../tests/attest_engine_test.c */
    char *cut = strstr(path, "tests/attest_engine_test.c");
    assert_non_null(cut);
    snprintf(cut, sizeof(path) - (size_t)(cut - path), "docs/examples/policy-sim-dev.json");
    assert_int_equal(httpa_policy_load(path, &dev, err, sizeof(err)), HTTPA_OK);
    v.policy = dev;
    o = handshake(f, &v.base, true, false);
    assert_accepted(&o, "sim", false);
    httpa_policy_free(strict);
    httpa_policy_free(half);
    httpa_policy_free(dev);
}

/* Profile 7.4: sim evidence and a client not configured for it. */
static void test_client_without_allow_sim(void **state)
{
    fx *f = *state;
    httpa_sim_verifier v;
    start_server(f, TEE_SIM, false);
    httpa_sim_verifier_init(&v, f->sim.pub);
    outcome o = handshake(f, &v.base, false, false);
    assert_int_equal(o.err, HTTPA_ERR_BAD_QUOTE);
    assert_string_equal(httpa_err_token(o.err), "bad_quote");
    /* The wrong simulated key is no better. */
    uint8_t other[32] = {1};
    httpa_sim_verifier_init(&v, other);
    o = handshake(f, &v.base, true, false);
    assert_int_equal(o.err, HTTPA_ERR_BAD_QUOTE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sim_attested_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sim_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsm_attested_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsm_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gramine_attested_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gramine_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_policy_rejects_sim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_without_allow_sim, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
