/* The Attest Handshake: server and client against the profile vectors
 * (aths_attested_key, attested_key_ecdsa, aths_fresh_mutual, preflight,
 * negative aths_* / client_*), extra negative cases, and in-process
 * handshakes for every suite, group and mode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_tee.h"
#include "testlib.h"

#include "engine/fields.h"
#include "engine/session.h"
#include "engine/store.h"
#include "httpa/client.h"
#include "httpa/server.h"

/* Per-run state (cmocka group state): the count of vector checks. */
typedef struct run {
    unsigned checked;
} run;

/* ------------------------------------------------------------------ */
/* vector access                                                        */

static json_t *vec(const char *section)
{
    return tl_get(tl_vectors(), section);
}

static json_t *fixed(void)
{
    return vec("fixed_inputs");
}

/* Copy `n` octets of hex at fixed_inputs.key into out (must match). */
static void fixed_bytes(json_t *o, const char *key, uint8_t *out, size_t n)
{
    httpa_buf b = tl_hex_at(o, key);
    assert_int_equal(b.len, n);
    memcpy(out, b.base, n);
    httpa_buf_free(&b);
}

/* A message object of the vectors as an httpa_msg (every field line). */
static void msg_from_json(json_t *j, httpa_msg *m)
{
    json_t *st = json_object_get(j, "status");
    if (st != NULL) {
        httpa_msg_init_response(m, (int)json_integer_value(st));
    } else {
        httpa_msg_init_request(m);
        const char *meth = tl_str(j, "method"), *tgt = tl_str(j, "target");
        assert_int_equal(httpa_msg_set_request_line(m, meth, strlen(meth), tgt, strlen(tgt)),
                         HTTPA_OK);
    }
    json_t *hs = tl_get(j, "headers");
    for (size_t i = 0; i < json_array_size(hs); i++) {
        json_t *h = json_array_get(hs, i);
        assert_int_equal(httpa_msg_add_str(m, json_string_value(json_array_get(h, 0)),
                                           json_string_value(json_array_get(h, 1))),
                         HTTPA_OK);
    }
}

static bool skipped_name(const char *name, bool attest_only)
{
    if (strcmp(name, "Content-Length") == 0)
        return true; /* framing is the I/O adapter's */
    return attest_only && strncmp(name, "Attest-", 7) != 0;
}

/* Every field line of `m` equals the vector's, in order (name and value),
 * ignoring Content-Length (and non-Attest fields when attest_only). */
static void assert_fields(const httpa_msg *m, json_t *want, bool attest_only)
{
    json_t *hs = tl_get(want, "headers");
    size_t k = 0;
    for (size_t i = 0; i < json_array_size(hs); i++) {
        json_t *h = json_array_get(hs, i);
        const char *name = json_string_value(json_array_get(h, 0));
        const char *value = json_string_value(json_array_get(h, 1));
        if (skipped_name(name, attest_only))
            continue;
        while (k < m->nheaders && skipped_name(m->headers[k].name, attest_only))
            k++;
        if (k >= m->nheaders)
            fail_msg("missing field %s", name);
        if (strcmp(m->headers[k].name, name) != 0 || strcmp(m->headers[k].value, value) != 0)
            fail_msg("field %zu: got %s: %s\nwant %s: %s", k, m->headers[k].name,
                     m->headers[k].value, name, value);
        k++;
    }
    while (k < m->nheaders && skipped_name(m->headers[k].name, attest_only))
        k++;
    if (k != m->nheaders)
        fail_msg("extra field %s", m->headers[k].name);
}

static const char *field(const httpa_msg *m, const char *name)
{
    const httpa_header *h = httpa_msg_find(m, name, strlen(name));
    return h != NULL ? h->value : NULL;
}

/* ------------------------------------------------------------------ */
/* fixtures                                                             */

typedef struct server_fx {
    tl_rng rng;
    tl_fake_attester tee;         /* the server's TEE (fresh mode) */
    tl_fake_verifier client_policy;
    httpa_server_config cfg;
    httpa_server *s;
    const char *const *secret_names;
    const httpa_span *secret_values;
    size_t nsecrets;
} server_fx;

typedef struct client_fx {
    tl_rng rng;
    tl_fake_verifier verifier;
    tl_fake_attester tee;         /* the client's TEE (mutual mode) */
    httpa_client_config cfg;
    httpa_msg req;
    httpa_client_hs *hs;
} client_fx;

static void sim_pub(uint8_t pub[32])
{
    fixed_bytes(fixed(), "sim_attestation_key_ed25519_public_hex", pub, 32);
}

static void sim_seed(uint8_t seed[32])
{
    fixed_bytes(fixed(), "sim_attestation_key_ed25519_seed_hex", seed, 32);
}

static void measurement(const char *key, uint8_t m[32])
{
    fixed_bytes(fixed(), key, m, 32);
}

/* Queue the server's vector randomness: private key, Attest-Random, Base-ID. */
static void push_server_rng(tl_rng *r, const char *priv_hex, const char *random_hex,
                            const char *base_id)
{
    char uuid[33];
    size_t n = 0;
    for (const char *p = base_id; *p; p++)
        if (*p != '-')
            uuid[n++] = *p;
    uuid[n] = '\0';
    tl_rng_push_hex(r, priv_hex);
    tl_rng_push_hex(r, random_hex);
    tl_rng_push_hex(r, uuid);
}

static httpa_err fx_secrets(void *arg, const httpa_appraisal *client, const char *const **names,
                            const httpa_span **values, size_t *n)
{
    server_fx *fx = arg;
    (void)client;
    *names = fx->secret_names;
    *values = fx->secret_values;
    *n = fx->nsecrets;
    return HTTPA_OK;
}

/* A server with the fake TEE (server measurement, svn), a client policy
 * (client measurement), fixed rng and no keys yet. */
static void server_setup(server_fx *fx, bool fixed_rng)
{
    uint8_t seed[32], pub[32], sm[32], cm[32];
    memset(fx, 0, sizeof(*fx));
    sim_seed(seed);
    sim_pub(pub);
    measurement("server_measurement_hex", sm);
    measurement("client_measurement_hex", cm);
    tl_rng_init(&fx->rng, false);
    assert_int_equal(tl_fake_attester_init(&fx->tee, seed, sm,
                                           (uint32_t)tl_int(fixed(), "server_svn"), 0),
                     HTTPA_OK);
    tl_fake_verifier_init(&fx->client_policy, pub, cm, (uint32_t)tl_int(fixed(), "client_svn"));
    fx->cfg.rng = fixed_rng ? &fx->rng.base : NULL;
    fx->cfg.aths_secrets = fx_secrets;
    fx->cfg.aths_secrets_arg = fx;
}

static void server_start(server_fx *fx)
{
    assert_int_equal(httpa_server_new(&fx->cfg, &fx->s), HTTPA_OK);
}

static void server_teardown(server_fx *fx)
{
    httpa_server_free(fx->s);
    tl_fake_attester_clear(&fx->tee);
    tl_rng_free(&fx->rng);
}

/* Install an attested key: evidence = the given sim quote(s), or a quote
 * made now by the fake TEE over the key's report_data when ev is NULL. */
static void add_key(server_fx *fx, httpa_sig_alg alg, const uint8_t *priv, int64_t not_after,
                    const httpa_key_evidence *ev, size_t nev)
{
    uint8_t pub[HTTPA_SIG_MAX_PUB], rd[HTTPA_REPORT_DATA_LEN], q[TL_SIM_LEN];
    httpa_sign_key *k;
    assert_int_equal(httpa_sign_key_new(alg, priv, priv ? 32 : 0, pub, &k), HTTPA_OK);
    httpa_span p = HTTPA_SPAN(pub, httpa_sig_pub_len(alg));
    httpa_key_evidence own = {"sim", "raw", HTTPA_SPAN(q, sizeof(q))};
    if (ev == NULL) {
        assert_int_equal(httpa_attested_key_report_data(alg, p, not_after, rd), HTTPA_OK);
        assert_int_equal(tl_sim_quote(fx->tee.key, 0, fx->tee.svn, fx->tee.measurement, rd, q),
                         HTTPA_OK);
        ev = &own;
        nev = 1;
    }
    assert_int_equal(httpa_server_add_key(fx->s, alg, k, p, not_after, ev, nev), HTTPA_OK);
}

static void add_vector_ed25519_key(server_fx *fx)
{
    json_t *at = vec("aths_attested_key");
    uint8_t seed[32];
    fixed_bytes(fixed(), "attested_key_ed25519_seed_hex", seed, 32);
    httpa_buf raw = tl_hex_at(at, "sim_quote_hex");
    const char *jwt = tl_str(tl_get(at, "stapled_eat"), "jwt");
    httpa_key_evidence ev[2] = {
        {"sim", "raw", httpa_buf_span(&raw)},
        {"sim", "eat", HTTPA_SPAN(jwt, strlen(jwt))},
    };
    add_key(fx, HTTPA_ED25519, seed, tl_int(fixed(), "attested_key_not_after"), ev, 2);
    httpa_buf_free(&raw);
}

/* The client of aths_attested_key: its config and fixed randomness. */
static void client_setup(client_fx *fx, bool fixed_rng)
{
    static const char *const sigs[] = {"ed25519", "ecdsa-p256-sha256", NULL};
    uint8_t pub[32], sm[32];
    memset(fx, 0, sizeof(*fx));
    sim_pub(pub);
    measurement("server_measurement_hex", sm);
    tl_fake_verifier_init(&fx->verifier, pub, sm, (uint32_t)tl_int(fixed(), "server_svn"));
    tl_rng_init(&fx->rng, false);
    if (fixed_rng) {
        tl_rng_push_hex(&fx->rng, tl_str(fixed(), "client_x25519_private_hex"));
        tl_rng_push_hex(&fx->rng, tl_str(fixed(), "client_random_hex"));
    }
    fx->cfg = (httpa_client_config){
        .verifier = &fx->verifier.base,
        .allow_sim = true,
        .transport_field = true,
        .sig_algs = sigs,
        .policies_explicit = true,
        .base_creation = "shared",
        .rng = fixed_rng ? &fx->rng.base : NULL,
    };
    httpa_msg_init_request(&fx->req);
}

static void client_start(client_fx *fx, int64_t now)
{
    assert_int_equal(httpa_client_hs_start(&fx->cfg, now, &fx->req, &fx->hs), HTTPA_OK);
}

static void client_teardown(client_fx *fx)
{
    httpa_client_hs_free(fx->hs);
    httpa_msg_free(&fx->req);
    tl_fake_attester_clear(&fx->tee);
    tl_rng_free(&fx->rng);
}

static httpa_err finish(client_fx *fx, const httpa_msg *resp, int64_t now, httpa_client_base **b)
{
    return httpa_client_hs_finish(fx->hs, resp, HTTPA_SPAN("", 0), now, b);
}

/* Run one AtHS on the server; returns its result. */
static httpa_err handshake(server_fx *fx, const httpa_msg *req, uint64_t body_len, int64_t now,
                           httpa_msg *resp, httpa_buf *body)
{
    httpa_msg_init_response(resp, 0);
    httpa_buf_init(body, 65536);
    return httpa_server_handshake(fx->s, req, body_len, now, resp, body);
}

/* The server-side AtB (a reference; put it back). */
static httpa_base *server_base(server_fx *fx, const char *id, int64_t now)
{
    httpa_base *b = NULL;
    assert_int_equal(httpa_store_get(fx->s->store, id, strlen(id), now, &b), HTTPA_OK);
    return b;
}

static void assert_traffic(const httpa_traffic *t, json_t *want, size_t key_len, size_t hlen)
{
    httpa_buf k = tl_hex_at(want, "key"), iv = tl_hex_at(want, "iv"),
              mk = tl_hex_at(want, "mac_key");
    tl_assert_bytes(t->key, key_len, k.base, k.len);
    tl_assert_bytes(t->iv, HTTPA_IV_LEN, iv.base, iv.len);
    tl_assert_bytes(t->mac_key, hlen, mk.base, mk.len);
    assert_null(t->aead);
    httpa_buf_free(&k);
    httpa_buf_free(&iv);
    httpa_buf_free(&mk);
}

static void assert_error_response(const httpa_msg *resp, const httpa_buf *body, const char *token,
                                  int status)
{
    assert_int_equal(resp->status, status);
    assert_non_null(field(resp, "Attest-Error"));
    assert_string_equal(field(resp, "Attest-Error"), token);
    assert_null(field(resp, "Attest-Binder"));
    assert_string_equal(field(resp, "Content-Type"), "application/problem+json");
    json_error_t je;
    json_t *p = json_loadb((const char *)body->base, body->len, 0, &je);
    assert_non_null(p);
    char type[64];
    snprintf(type, sizeof(type), "urn:httpa2:error:%s", token);
    assert_string_equal(tl_str(p, "type"), type);
    assert_string_equal(tl_str(p, "title"), token);
    assert_int_equal(tl_int(p, "status"), status);
    json_decref(p);
}

/* ------------------------------------------------------------------ */
/* fake TEE and report_data                                             */

static void test_fake_tee_reproduces_sim_quotes(void **state)
{
    run *r = *state;
    json_t *at = vec("aths_attested_key"), *fm = vec("aths_fresh_mutual");
    uint8_t seed[32], sm[32], cm[32], rd[HTTPA_REPORT_DATA_LEN], pub[32];
    sim_seed(seed);
    measurement("server_measurement_hex", sm);
    measurement("client_measurement_hex", cm);
    tl_fake_attester a;
    assert_int_equal(tl_fake_attester_init(&a, seed, sm, (uint32_t)tl_int(fixed(), "server_svn"), 0),
                     HTTPA_OK);
    sim_pub(pub);
    tl_assert_bytes(a.pub, 32, pub, 32);

    /* attested-key report_data (7.2) and the sim quote over it */
    json_t *ak = tl_get(at, "attested_key");
    httpa_buf akpub = tl_hex_at(ak, "public_hex"), want_rd = tl_hex_at(ak, "report_data_hex");
    assert_int_equal(httpa_attested_key_report_data(HTTPA_ED25519, httpa_buf_span(&akpub),
                                                    tl_int(ak, "not_after"), rd),
                     HTTPA_OK);
    tl_assert_bytes(rd, sizeof(rd), want_rd.base, want_rd.len);
    httpa_buf q, want = tl_hex_at(at, "sim_quote_hex");
    httpa_buf_init(&q, 1024);
    assert_int_equal(a.base.quote(&a.base, rd, &q), HTTPA_OK);
    tl_assert_bytes(q.base, q.len, want.base, want.len);
    httpa_buf_free(&want);
    httpa_buf_free(&akpub);
    httpa_buf_free(&want_rd);

    /* the ECDSA key's report_data and quote */
    json_t *ec = vec("attested_key_ecdsa");
    httpa_buf ecpub = tl_hex_at(ec, "public_hex");
    want_rd = tl_hex_at(ec, "report_data_hex");
    assert_int_equal(httpa_attested_key_report_data(HTTPA_ECDSA_P256_SHA256, httpa_buf_span(&ecpub),
                                                    tl_int(fixed(), "attested_key_not_after"), rd),
                     HTTPA_OK);
    tl_assert_bytes(rd, sizeof(rd), want_rd.base, want_rd.len);
    httpa_buf_reset(&q);
    want = tl_hex_at(ec, "sim_quote_hex");
    assert_int_equal(a.base.quote(&a.base, rd, &q), HTTPA_OK);
    tl_assert_bytes(q.base, q.len, want.base, want.len);
    httpa_buf_free(&want);
    httpa_buf_free(&ecpub);
    httpa_buf_free(&want_rd);

    /* fresh-mode server quote and the client's quote (mutual) */
    want_rd = tl_hex_at(fm, "server_report_data_hex");
    httpa_buf_reset(&q);
    want = tl_hex_at(fm, "server_sim_quote_hex");
    assert_int_equal(a.base.quote(&a.base, want_rd.base, &q), HTTPA_OK);
    tl_assert_bytes(q.base, q.len, want.base, want.len);
    httpa_buf_free(&want);
    httpa_buf_free(&want_rd);
    tl_fake_attester_clear(&a);

    assert_int_equal(tl_fake_attester_init(&a, seed, cm, (uint32_t)tl_int(fixed(), "client_svn"), 0),
                     HTTPA_OK);
    want_rd = tl_hex_at(fm, "client_report_data_hex");
    httpa_buf_reset(&q);
    want = tl_hex_at(fm, "client_sim_quote_hex");
    assert_int_equal(a.base.quote(&a.base, want_rd.base, &q), HTTPA_OK);
    tl_assert_bytes(q.base, q.len, want.base, want.len);

    /* the verifier accepts it and reports sim, rejects a flipped bit */
    tl_fake_verifier v;
    httpa_appraisal ap;
    tl_fake_verifier_init(&v, pub, cm, 1);
    assert_int_equal(v.base.appraise(&v.base, "sim", "raw", httpa_buf_span(&q), 0, &ap), HTTPA_OK);
    assert_true(ap.simulated);
    tl_assert_bytes(ap.report_data, 64, want_rd.base, want_rd.len);
    assert_int_equal(v.base.appraise(&v.base, "sim", "eat", httpa_buf_span(&q), 0, &ap),
                     HTTPA_ERR_UNSUPPORTED);
    assert_int_equal(v.base.appraise(&v.base, "tdx", "raw", httpa_buf_span(&q), 0, &ap),
                     HTTPA_ERR_UNSUPPORTED);
    q.base[60] ^= 1;
    assert_int_equal(v.base.appraise(&v.base, "sim", "raw", httpa_buf_span(&q), 0, &ap),
                     HTTPA_ERR_BAD_QUOTE);
    httpa_buf_free(&want);
    httpa_buf_free(&want_rd);
    httpa_buf_free(&q);
    tl_fake_attester_clear(&a);
    r->checked += 5;
}

/* ------------------------------------------------------------------ */
/* preflight                                                            */

static void test_preflight_vectors(void **state)
{
    run *r = *state;
    json_t *pf = vec("preflight");
    server_fx fx;
    server_setup(&fx, false);
    server_start(&fx);
    httpa_msg req, resp;
    httpa_buf body;
    msg_from_json(tl_get(pf, "request"), &req);
    assert_int_equal(httpa_server_classify(&req), HTTPA_TXN_PREFLIGHT);

    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, 4096);
    assert_int_equal(httpa_server_preflight(fx.s, &req, true, &resp, &body), HTTPA_OK);
    assert_int_equal(resp.status, 204);
    assert_fields(&resp, tl_get(pf, "response_ok"), false);
    assert_int_equal(body.len, 0);

    json_t *no = tl_get(pf, "response_refused");
    assert_int_equal(httpa_server_preflight(fx.s, &req, false, &resp, &body), HTTPA_OK);
    assert_int_equal(resp.status, 405);
    assert_fields(&resp, no, false);
    httpa_buf want = tl_hex_at(no, "body_hex");
    tl_assert_bytes(body.base, body.len, want.base, want.len);
    httpa_buf_free(&want);

    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    httpa_msg_free(&req);
    server_teardown(&fx);
    r->checked += 2;
}

static void test_classify(void **state)
{
    (void)state;
    static const struct {
        const char *method;
        bool base, ticket, acrm;
        httpa_txn_kind want;
    } cases[] = {
        {"OPTIONS", false, false, true, HTTPA_TXN_PREFLIGHT},
        {"OPTIONS", true, true, true, HTTPA_TXN_PREFLIGHT},
        {"ATTEST", false, false, false, HTTPA_TXN_ATHS},
        {"ATTEST", false, true, false, HTTPA_TXN_ATHS},
        {"ATTEST", true, true, false, HTTPA_TXN_ATSP},
        {"ATTEST", true, false, false, HTTPA_TXN_ATSP},
        {"POST", true, true, false, HTTPA_TXN_TRT},
        {"GET", true, false, false, HTTPA_TXN_UTR},
        {"GET", false, true, false, HTTPA_TXN_INVALID},
        {"GET", false, false, false, HTTPA_TXN_PLAIN},
        {"OPTIONS", false, false, false, HTTPA_TXN_PLAIN},
        {"CONNECT", true, true, false, HTTPA_TXN_INVALID},
        {"CONNECT", false, false, false, HTTPA_TXN_PLAIN},
        {"attest", false, false, false, HTTPA_TXN_PLAIN},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        httpa_msg m;
        httpa_msg_init_request(&m);
        assert_int_equal(httpa_msg_set_request_line(&m, cases[i].method, strlen(cases[i].method),
                                                    "/", 1),
                         HTTPA_OK);
        if (cases[i].base)
            assert_int_equal(httpa_msg_add_str(&m, "attest-base-id", "\"x\""), HTTPA_OK);
        if (cases[i].ticket)
            assert_int_equal(httpa_msg_add_str(&m, "Attest-Ticket", ":AA==:"), HTTPA_OK);
        if (cases[i].acrm)
            assert_int_equal(httpa_msg_add_str(&m, "Access-Control-Request-Method", "ATTEST"),
                             HTTPA_OK);
        assert_int_equal(httpa_server_classify(&m), cases[i].want);
        httpa_msg_free(&m);
    }
}

static void test_error_response(void **state)
{
    (void)state;
    httpa_msg resp;
    httpa_buf body;
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, 4096);
    assert_int_equal(httpa_error_response(HTTPA_ERR_UNKNOWN_BASE, "no such base", &resp, &body),
                     HTTPA_OK);
    assert_error_response(&resp, &body, "unknown_base", 503);
    const char *want = "{\"type\":\"urn:httpa2:error:unknown_base\",\"title\":\"unknown_base\","
                       "\"status\":503,\"detail\":\"no such base\"}";
    tl_assert_bytes(body.base, body.len, want, strlen(want));
    /* a local error is reported as internal */
    assert_int_equal(httpa_error_response(HTTPA_ERR_NOMEM, NULL, &resp, &body), HTTPA_OK);
    assert_error_response(&resp, &body, "internal", 500);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
}

/* ------------------------------------------------------------------ */
/* aths_attested_key                                                    */

static void vector_server(server_fx *fx)
{
    server_setup(fx, true);
    server_start(fx);
    push_server_rng(&fx->rng, tl_str(fixed(), "server_x25519_private_hex"),
                    tl_str(fixed(), "server_random_hex"), tl_str(fixed(), "base_id"));
    add_vector_ed25519_key(fx);
}

static void test_aths_attested_key_server(void **state)
{
    run *r = *state;
    json_t *at = vec("aths_attested_key");
    int64_t now = tl_int(fixed(), "now");
    server_fx fx;
    vector_server(&fx);
    httpa_msg req, resp;
    httpa_buf body;
    msg_from_json(tl_get(at, "request"), &req);
    assert_int_equal(httpa_server_classify(&req), HTTPA_TXN_ATHS);
    assert_int_equal(handshake(&fx, &req, 0, now, &resp, &body), HTTPA_OK);
    assert_int_equal(resp.status, 200);
    assert_fields(&resp, tl_get(at, "response"), false);
    assert_int_equal(body.len, 0);
    assert_int_equal(tl_rng_left(&fx.rng), 0);
    assert_false(fx.rng.mismatch);

    /* the AtB holds the vector's application keys */
    assert_int_equal(httpa_server_base_count(fx.s), 1);
    httpa_base *b = server_base(&fx, tl_str(fixed(), "base_id"), now);
    json_t *tr = tl_get(at, "traffic");
    assert_traffic(&b->c_ap, tl_get(tr, "c_ap"), 16, 32);
    assert_traffic(&b->s_ap, tl_get(tr, "s_ap"), 16, 32);
    httpa_buf em = tl_hex(tl_str(tl_get(at, "key_schedule"), "exporter_master"));
    tl_assert_bytes(b->exporter_master, 32, em.base, em.len);
    httpa_buf_free(&em);
    assert_int_equal(b->expires_at, now + 3600);
    assert_false(b->allow_untrusted);
    assert_false(b->client_attested);
    httpa_store_put(fx.s->store, b);

    /* the same request again is a replay */
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    push_server_rng(&fx.rng, tl_str(fixed(), "server_x25519_private_hex"),
                    tl_str(fixed(), "server_random_hex"), tl_str(fixed(), "base_id"));
    assert_int_equal(handshake(&fx, &req, 0, now + 1, &resp, &body), HTTPA_ERR_REPLAY);
    assert_error_response(&resp, &body, "replay", 403);

    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    httpa_msg_free(&req);
    server_teardown(&fx);
    r->checked++;
}

static void assert_client_request(const httpa_msg *req, json_t *want)
{
    assert_string_equal(req->method, tl_str(want, "method"));
    assert_string_equal(req->target, tl_str(want, "target"));
    assert_fields(req, want, true);
}

static void test_aths_attested_key_client(void **state)
{
    run *r = *state;
    json_t *at = vec("aths_attested_key");
    int64_t now = tl_int(fixed(), "now");
    client_fx fx;
    client_setup(&fx, true);
    client_start(&fx, now);
    assert_client_request(&fx.req, tl_get(at, "request"));
    assert_int_equal(tl_rng_left(&fx.rng), 0);

    httpa_msg resp;
    httpa_client_base *b = NULL;
    msg_from_json(tl_get(at, "response"), &resp);
    assert_int_equal(finish(&fx, &resp, now, &b), HTTPA_OK);
    assert_non_null(b);
    assert_string_equal(httpa_client_base_id(b), tl_str(fixed(), "base_id"));
    assert_string_equal(httpa_client_base_suite(b), "TLS_AES_128_GCM_SHA256");
    json_t *tr = tl_get(at, "traffic");
    assert_traffic(&b->c_ap, tl_get(tr, "c_ap"), 16, 32);
    assert_traffic(&b->s_ap, tl_get(tr, "s_ap"), 16, 32);
    httpa_buf em = tl_hex(tl_str(tl_get(at, "key_schedule"), "exporter_master"));
    tl_assert_bytes(b->exporter_master, 32, em.base, em.len);
    httpa_buf_free(&em);
    assert_int_equal(b->expires_at, now + 3600);
    assert_int_equal(atomic_load(&b->next_seq), 0);
    assert_true(httpa_client_base_appraisal(b)->simulated);
    assert_false(httpa_client_base_expired(b, now + 3599));
    assert_true(httpa_client_base_expired(b, now + 3600));
    assert_int_equal(httpa_client_base_secrets(b, NULL, NULL), 0);
    /* the raw entry verified; the stapled EAT entry was not the fake's to verify */
    assert_int_equal(fx.verifier.accepted, 1);
    assert_int_equal(fx.verifier.calls, 2);
    /* one hs gives one base */
    httpa_client_base *b2 = NULL;
    assert_int_equal(finish(&fx, &resp, now, &b2), HTTPA_ERR_BAD_STATE);
    assert_null(b2);
    httpa_client_base_release(b);
    httpa_msg_free(&resp);
    client_teardown(&fx);
    r->checked += 2;
}

/* ------------------------------------------------------------------ */
/* attested_key_ecdsa                                                   */

static void test_attested_key_ecdsa(void **state)
{
    run *r = *state;
    json_t *ec = vec("attested_key_ecdsa"), *at = vec("aths_attested_key");
    int64_t now = tl_int(fixed(), "now");

    /* client: accepts the vector response (signature verified) */
    client_fx c;
    client_setup(&c, true);
    client_start(&c, now);
    httpa_msg resp;
    httpa_client_base *b = NULL;
    msg_from_json(tl_get(ec, "response"), &resp);
    assert_int_equal(finish(&c, &resp, now, &b), HTTPA_OK);
    json_t *tr = tl_get(at, "traffic");
    assert_traffic(&b->c_ap, tl_get(tr, "c_ap"), 16, 32);
    httpa_client_base_release(b);
    httpa_msg_free(&resp);
    client_teardown(&c);

    /* server with only the ECDSA key: same response up to the (randomized)
     * signature and the binder over it; the client verifies it */
    server_fx fx;
    vector_server(&fx);
    httpa_server_free(fx.s);
    server_start(&fx);
    uint8_t priv[32];
    fixed_bytes(fixed(), "attested_key_ecdsa_p256_private_hex", priv, 32);
    httpa_buf raw = tl_hex_at(ec, "sim_quote_hex");
    httpa_key_evidence ev = {"sim", "raw", httpa_buf_span(&raw)};
    add_key(&fx, HTTPA_ECDSA_P256_SHA256, priv, tl_int(fixed(), "attested_key_not_after"), &ev, 1);
    httpa_buf_free(&raw);

    client_setup(&c, true);
    client_start(&c, now);
    httpa_buf body;
    assert_int_equal(handshake(&fx, &c.req, 0, now, &resp, &body), HTTPA_OK);
    json_t *want = tl_get(tl_get(ec, "response"), "headers");
    for (size_t i = 0; i < 9; i++) /* Version .. Quotes */
        assert_string_equal(resp.headers[i].value,
                            json_string_value(json_array_get(json_array_get(want, i), 1)));
    assert_string_equal(resp.headers[9].name, "Attest-Signature");
    assert_string_equal(resp.headers[10].name, "Attest-Binder");
    assert_int_equal(finish(&c, &resp, now, &b), HTTPA_OK);
    assert_traffic(&b->s_ap, tl_get(tr, "s_ap"), 16, 32);
    httpa_client_base_release(b);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    client_teardown(&c);
    server_teardown(&fx);
    r->checked += 2;
}

/* ------------------------------------------------------------------ */
/* aths_fresh_mutual                                                    */

static void mutual_client(client_fx *fx, bool fixed_rng)
{
    static const char *const suites[] = {"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", NULL};
    static const char *const groups[] = {"x25519", NULL};
    json_t *fm = vec("aths_fresh_mutual");
    uint8_t seed[32], cm[32];
    client_setup(fx, false);
    tl_rng_init(&fx->rng, false);
    if (fixed_rng) {
        tl_rng_push_hex(&fx->rng, tl_str(fm, "client_x25519_private_hex"));
        tl_rng_push(&fx->rng, "\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf"
                              "\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf", 32);
    }
    sim_seed(seed);
    measurement("client_measurement_hex", cm);
    assert_int_equal(tl_fake_attester_init(&fx->tee, seed, cm,
                                           (uint32_t)tl_int(fixed(), "client_svn"), 0),
                     HTTPA_OK);
    fx->cfg = (httpa_client_config){
        .verifier = &fx->verifier.base,
        .allow_sim = true,
        .fresh = true,
        .suites = suites,
        .groups = groups,
        .attester = &fx->tee.base,
        .rng = fixed_rng ? &fx->rng.base : NULL,
    };
}

static const char *const k_secret_names[] = {"client-key"};

static void mutual_server(server_fx *fx, const httpa_span *secret)
{
    static const char *const suites[] = {"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256",
                                         "TLS_CHACHA20_POLY1305_SHA256", NULL};
    json_t *fm = vec("aths_fresh_mutual");
    server_setup(fx, true);
    fx->cfg.suites = suites; /* this server prefers AES-256 */
    fx->cfg.attester = &fx->tee.base;
    fx->cfg.client_verifier = &fx->client_policy.base;
    fx->cfg.expires = 600;
    fx->secret_names = k_secret_names;
    fx->secret_values = secret;
    fx->nsecrets = 1;
    server_start(fx);
    push_server_rng(&fx->rng, tl_str(fm, "server_x25519_private_hex"),
                    "606162636465666768696a6b6c6d6e6f606162636465666768696a6b6c6d6e6f",
                    "9a7b3c2d-1e0f-4a5b-9c8d-7e6f5a4b3c2d");
}

static void test_fresh_mutual_server(void **state)
{
    run *r = *state;
    json_t *fm = vec("aths_fresh_mutual");
    int64_t now = tl_int(fm, "now");
    httpa_buf plain = tl_hex_at(tl_get(fm, "aths_response_secret"), "plaintext_hex");
    httpa_span secret = httpa_buf_span(&plain);
    server_fx fx;
    mutual_server(&fx, &secret);
    httpa_msg req, resp;
    httpa_buf body;
    msg_from_json(tl_get(fm, "request"), &req);
    assert_int_equal(handshake(&fx, &req, 0, now, &resp, &body), HTTPA_OK);
    assert_fields(&resp, tl_get(fm, "response"), false);
    assert_int_equal(fx.tee.quotes, 1);
    assert_int_equal(fx.client_policy.accepted, 1);

    httpa_base *b = server_base(&fx, "9a7b3c2d-1e0f-4a5b-9c8d-7e6f5a4b3c2d", now);
    assert_true(b->client_attested);
    assert_true(b->client_appraisal.simulated);
    assert_int_equal(b->expires_at, now + 600);
    json_t *tr = tl_get(fm, "traffic");
    assert_traffic(&b->c_ap, tl_get(tr, "c_ap"), 32, 48);
    assert_traffic(&b->s_ap, tl_get(tr, "s_ap"), 32, 48);
    httpa_store_put(fx.s->store, b);

    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    httpa_msg_free(&req);
    httpa_buf_free(&plain);
    server_teardown(&fx);
    r->checked++;
}

static void test_fresh_mutual_client(void **state)
{
    run *r = *state;
    json_t *fm = vec("aths_fresh_mutual");
    int64_t now = tl_int(fm, "now");
    client_fx fx;
    mutual_client(&fx, true);
    client_start(&fx, now);
    assert_client_request(&fx.req, tl_get(fm, "request"));

    httpa_msg resp;
    httpa_client_base *b = NULL;
    msg_from_json(tl_get(fm, "response"), &resp);
    assert_int_equal(finish(&fx, &resp, now, &b), HTTPA_OK);
    const char *const *names;
    const httpa_span *values;
    assert_int_equal(httpa_client_base_secrets(b, &names, &values), 1);
    assert_string_equal(names[0], "client-key");
    httpa_buf want = tl_hex_at(tl_get(fm, "aths_response_secret"), "plaintext_hex");
    tl_assert_bytes(values[0].base, values[0].len, want.base, want.len);
    httpa_buf_free(&want);
    json_t *tr = tl_get(fm, "traffic");
    assert_traffic(&b->c_ap, tl_get(tr, "c_ap"), 32, 48);
    assert_traffic(&b->s_ap, tl_get(tr, "s_ap"), 32, 48);
    assert_string_equal(httpa_client_base_suite(b), "TLS_AES_256_GCM_SHA384");
    assert_int_equal(b->expires_at, now + 600);
    httpa_client_base_release(b);
    httpa_msg_free(&resp);
    client_teardown(&fx);
    r->checked += 2;
}

/* ------------------------------------------------------------------ */
/* negative vectors                                                     */

static bool client_case_is_transaction(const char *name)
{
    static const char *const txn[] = {"client_bad_binder", "client_status_rewritten",
                                      "client_response_for_other_request",
                                      "client_truncated_response"};
    for (size_t i = 0; i < sizeof(txn) / sizeof(txn[0]); i++)
        if (strcmp(name, txn[i]) == 0)
            return true;
    return false;
}

/* "Name" (present) or "Name: value" (exact). */
static void assert_hints(const httpa_msg *resp, json_t *hints)
{
    for (size_t i = 0; hints != NULL && i < json_array_size(hints); i++) {
        char name[128];
        const char *h = json_string_value(json_array_get(hints, i));
        const char *colon = strchr(h, ':');
        size_t n = colon != NULL ? (size_t)(colon - h) : strlen(h);
        snprintf(name, sizeof(name), "%.*s", (int)n, h);
        const char *got = field(resp, name);
        if (got == NULL)
            fail_msg("hint %s missing", name);
        if (colon != NULL)
            assert_string_equal(got, colon + 2);
    }
}

static void negative_server(json_t *c)
{
    const char *state = tl_str(c, "state");
    json_t *exp = tl_get(c, "expected");
    static const char *const p256_only[] = {"secp256r1", NULL};
    server_fx fx;
    vector_server(&fx);
    if (strstr(state, "[secp256r1] only") != NULL) {
        httpa_server_free(fx.s);
        fx.cfg.groups = p256_only;
        server_start(&fx);
        add_vector_ed25519_key(&fx);
    }
    httpa_msg req, resp;
    httpa_buf body;
    msg_from_json(tl_get(c, "message"), &req);
    httpa_err e = handshake(&fx, &req, 0, tl_int(fixed(), "now"), &resp, &body);
    const char *token = tl_str(exp, "error");
    assert_int_equal(e, httpa_err_from_token(token, strlen(token)));
    assert_error_response(&resp, &body, token, (int)tl_int(exp, "status"));
    assert_false(json_is_true(tl_get(exp, "binder")));
    assert_hints(&resp, json_object_get(c, "hint_fields"));
    assert_int_equal(httpa_server_base_count(fx.s), 0);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    httpa_msg_free(&req);
    server_teardown(&fx);
}

static void negative_client(json_t *c)
{
    const char *state = tl_str(c, "state");
    int64_t now = tl_int(fixed(), "now");
    client_fx fx;
    client_setup(&fx, true);
    if (strstr(state, "not configured to accept tee 'sim'") != NULL)
        fx.cfg.allow_sim = false;
    if (strstr(state, "client clock = attested_key.not_after") != NULL)
        now = tl_int(fixed(), "attested_key_not_after");
    client_start(&fx, tl_int(fixed(), "now"));
    assert_client_request(&fx.req, tl_get(vec("aths_attested_key"), "request"));
    httpa_msg resp;
    httpa_client_base *b = NULL;
    msg_from_json(tl_get(c, "message"), &resp);
    const char *token = tl_str(tl_get(c, "expected"), "error");
    assert_int_equal(finish(&fx, &resp, now, &b), httpa_err_from_token(token, strlen(token)));
    assert_null(b);
    httpa_msg_free(&resp);
    client_teardown(&fx);
}

static void test_negative_vectors(void **state)
{
    run *r = *state;
    json_t *neg = vec("negative");
    unsigned n = 0;
    for (size_t i = 0; i < json_array_size(neg); i++) {
        json_t *c = json_array_get(neg, i);
        const char *name = tl_str(c, "name");
        if (strncmp(name, "aths_", 5) == 0) {
            assert_string_equal(tl_str(c, "side"), "server");
            negative_server(c);
            n++;
        } else if (strncmp(name, "client_", 7) == 0 && !client_case_is_transaction(name)) {
            assert_string_equal(tl_str(c, "side"), "client");
            negative_client(c);
            n++;
        }
    }
    assert_int_equal(n, 4 + 6);
    r->checked += n;
}

/* ------------------------------------------------------------------ */
/* extra negative cases: server                                         */

/* The vector request with one field replaced (value NULL: removed) or added. */
static void vector_request_with(httpa_msg *req, const char *name, const char *value)
{
    msg_from_json(tl_get(vec("aths_attested_key"), "request"), req);
    size_t removed = httpa_msg_remove(req, name, strlen(name));
    if (value != NULL)
        assert_int_equal(httpa_msg_add_str(req, name, value), HTTPA_OK);
    (void)removed;
}

/* prefix || sf-binary(p) as a NUL-terminated string. */
static httpa_buf b64_field(const char *prefix, const uint8_t *p, size_t n)
{
    httpa_buf v;
    httpa_buf_init(&v, 4096);
    assert_int_equal(httpa_buf_append_str(&v, prefix), HTTPA_OK);
    assert_int_equal(httpa_sf_put_binary(&v, p, n), HTTPA_OK);
    assert_int_equal(httpa_buf_append_u8(&v, 0), HTTPA_OK);
    return v;
}

static void expect_server_error(const char *name, const char *value, uint64_t body_len,
                                httpa_err want, int status)
{
    server_fx fx;
    vector_server(&fx);
    httpa_msg req, resp;
    httpa_buf body;
    vector_request_with(&req, name, value);
    assert_int_equal(handshake(&fx, &req, body_len, tl_int(fixed(), "now"), &resp, &body), want);
    assert_error_response(&resp, &body, httpa_err_token(want), status);
    assert_int_equal(httpa_server_base_count(fx.s), 0);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    httpa_msg_free(&req);
    server_teardown(&fx);
}

static void test_server_bad_requests(void **state)
{
    (void)state;
    /* missing required field, forbidden fields, content, malformed values */
    expect_server_error("Attest-Random", NULL, 0, HTTPA_ERR_BAD_REQUEST, 400);
    expect_server_error("Attest-Key-Shares", NULL, 0, HTTPA_ERR_BAD_REQUEST, 400);
    expect_server_error("Attest-Ticket", ":AAAAAAAAAAA=:", 0, HTTPA_ERR_BAD_REQUEST, 400);
    expect_server_error("Attest-Cargo", ":AAAA:", 0, HTTPA_ERR_BAD_REQUEST, 400);
    expect_server_error("Attest-Signature", ":AAAA:", 0, HTTPA_ERR_BAD_REQUEST, 400);
    expect_server_error("Attest-Base-ID", "\"6f1c9e0a-3b2d-4c5e-8f70-112233445566\"", 0,
                        HTTPA_ERR_BAD_REQUEST, 400);
    expect_server_error("Attest-Transport", "header", 5, HTTPA_ERR_BAD_REQUEST, 400);
    expect_server_error("Attest-Random", ":AAAA:", 0, HTTPA_ERR_BAD_REQUEST, 400);
    expect_server_error("Attest-Date", "1700000000.5", 0, HTTPA_ERR_BAD_REQUEST, 400);
    expect_server_error("Attest-Policies", "fresh=1", 0, HTTPA_ERR_BAD_REQUEST, 400);
    expect_server_error("Attest-Base-Creation", "always", 0, HTTPA_ERR_BAD_REQUEST, 400);
    /* a share for a group that is not offered */
    expect_server_error("Attest-Supported-Groups", "secp256r1", 0, HTTPA_ERR_BAD_REQUEST, 400);
    /* an invalid P-256 point (0, 0) */
    uint8_t point[65] = {4};
    httpa_buf v = b64_field("x25519=:j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=:, secp256r1=",
                            point, sizeof(point));
    expect_server_error("Attest-Key-Shares", (const char *)v.base, 0, HTTPA_ERR_BAD_REQUEST, 400);
    httpa_buf_free(&v);
    /* the all-zero X25519 share: a zero shared secret (step 12) */
    uint8_t zero[32] = {0};
    v = b64_field("x25519=", zero, sizeof(zero));
    expect_server_error("Attest-Key-Shares", (const char *)v.base, 0, HTTPA_ERR_BAD_REQUEST, 400);
    httpa_buf_free(&v);
}

static void test_server_negotiation(void **state)
{
    (void)state;
    server_fx fx;
    vector_server(&fx);
    httpa_msg req, resp;
    httpa_buf body;
    int64_t now = tl_int(fixed(), "now");

    vector_request_with(&req, "Attest-Versions", "httpa/3, httpa/1");
    assert_int_equal(handshake(&fx, &req, 0, now, &resp, &body), HTTPA_ERR_NEGOTIATION_FAILED);
    assert_error_response(&resp, &body, "negotiation_failed", 400);
    assert_string_equal(field(&resp, "Attest-Supported-Versions"), "httpa/2");
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);

    vector_request_with(&req, "Attest-Cipher-Suites", "TLS_AES_128_CCM_SHA256");
    assert_int_equal(handshake(&fx, &req, 0, now, &resp, &body), HTTPA_ERR_NEGOTIATION_FAILED);
    assert_string_equal(field(&resp, "Attest-Supported-Cipher-Suites"),
                        "TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, "
                        "TLS_CHACHA20_POLY1305_SHA256");
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);

    /* no common group: the server's groups */
    msg_from_json(tl_get(vec("aths_attested_key"), "request"), &req);
    httpa_msg_remove(&req, "Attest-Supported-Groups", 23);
    httpa_msg_remove(&req, "Attest-Key-Shares", 17);
    assert_int_equal(httpa_msg_add_str(&req, "Attest-Supported-Groups", "x448"), HTTPA_OK);
    assert_int_equal(httpa_msg_add_str(&req, "Attest-Key-Shares", "x448=:AAAA:"), HTTPA_OK);
    assert_int_equal(handshake(&fx, &req, 0, now, &resp, &body), HTTPA_ERR_NEGOTIATION_FAILED);
    assert_string_equal(field(&resp, "Attest-Supported-Groups"), "x25519, secp256r1");
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);

    vector_request_with(&req, "Attest-Transport", "trailer");
    assert_int_equal(handshake(&fx, &req, 0, now, &resp, &body), HTTPA_ERR_NEGOTIATION_FAILED);
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);

    /* no attested key for the client's algorithm and no fresh evidence */
    vector_request_with(&req, "Attest-Signatures", "ecdsa-p256-sha256");
    assert_int_equal(handshake(&fx, &req, 0, now, &resp, &body), HTTPA_ERR_INTERNAL);
    assert_error_response(&resp, &body, "internal", 503);
    assert_non_null(field(&resp, "Retry-After"));
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);

    /* fresh mode required without an attester */
    vector_request_with(&req, "Attest-Policies", "direct, fresh");
    assert_int_equal(handshake(&fx, &req, 0, now, &resp, &body), HTTPA_ERR_POLICY_VIOLATION);
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);

    /* isolation this server cannot give */
    vector_request_with(&req, "Attest-Base-Creation", "new");
    assert_int_equal(handshake(&fx, &req, 0, now, &resp, &body), HTTPA_ERR_POLICY_VIOLATION);
    assert_error_response(&resp, &body, "policy_violation", 403);
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);

    /* stale date the other way */
    vector_request_with(&req, "Attest-Date", "1700000121");
    assert_int_equal(handshake(&fx, &req, 0, now, &resp, &body), HTTPA_ERR_STALE_DATE);
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    assert_int_equal(httpa_server_base_count(fx.s), 0);
    server_teardown(&fx);
}

/* A second handshake with another random on a store of one base: 503. */
static void test_server_store_full(void **state)
{
    (void)state;
    server_fx fx;
    server_setup(&fx, false);
    fx.cfg.limits.max_bases = 1;
    server_start(&fx);
    add_key(&fx, HTTPA_ED25519, NULL, tl_int(fixed(), "now") + 86400, NULL, 0);
    int64_t now = tl_int(fixed(), "now");
    httpa_msg resp;
    httpa_buf body;
    client_fx c;
    client_setup(&c, false);
    client_start(&c, now);
    assert_int_equal(handshake(&fx, &c.req, 0, now, &resp, &body), HTTPA_OK);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    client_teardown(&c);

    client_setup(&c, false);
    client_start(&c, now);
    assert_int_equal(handshake(&fx, &c.req, 0, now, &resp, &body), HTTPA_ERR_INTERNAL);
    assert_error_response(&resp, &body, "internal", 503);
    assert_string_equal(field(&resp, "Retry-After"), "1");
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    client_teardown(&c);

    /* once the first base expired, there is room again */
    client_setup(&c, false);
    client_start(&c, now + 3600);
    assert_int_equal(handshake(&fx, &c.req, 0, now + 3600, &resp, &body), HTTPA_OK);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    client_teardown(&c);
    server_teardown(&fx);
}

/* Mutual mode: required but absent, and present but wrong. */
static void test_server_mutual_policy(void **state)
{
    (void)state;
    int64_t now = tl_int(fixed(), "now");
    server_fx fx;
    server_setup(&fx, false);
    fx.cfg.attester = &fx.tee.base;
    fx.cfg.client_verifier = &fx.client_policy.base;
    fx.cfg.require_client_attestation = true;
    server_start(&fx);
    httpa_msg resp;
    httpa_buf body;

    client_fx c;
    client_setup(&c, false);
    c.cfg.fresh = true;
    client_start(&c, now);
    assert_int_equal(handshake(&fx, &c.req, 0, now, &resp, &body), HTTPA_ERR_POLICY_VIOLATION);
    assert_error_response(&resp, &body, "policy_violation", 403);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    client_teardown(&c);

    /* evidence of the wrong measurement (the server's image, not a client's) */
    mutual_client(&c, false);
    c.tee.measurement[0] ^= 1;
    client_start(&c, now);
    assert_int_equal(handshake(&fx, &c.req, 0, now, &resp, &body), HTTPA_ERR_BAD_QUOTE);
    assert_error_response(&resp, &body, "bad_quote", 403);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    client_teardown(&c);

    /* evidence bound to another request (report_data differs) */
    mutual_client(&c, false);
    c.tee.corrupt_report_data = true;
    client_start(&c, now);
    assert_int_equal(handshake(&fx, &c.req, 0, now, &resp, &body), HTTPA_ERR_BAD_QUOTE);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    client_teardown(&c);

    /* evidence altered in transit after the client computed it: TH_req differs */
    mutual_client(&c, false);
    client_start(&c, now);
    httpa_msg_remove(&c.req, "Attest-Policies", 15);
    assert_int_equal(httpa_msg_add_str(&c.req, "Attest-Policies", "direct=?1, fresh"), HTTPA_OK);
    assert_int_equal(handshake(&fx, &c.req, 0, now, &resp, &body), HTTPA_OK); /* same canonical */
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    httpa_msg_remove(&c.req, "Attest-Random", 13);
    uint8_t zero[32] = {0};
    httpa_buf rv = b64_field("", zero, sizeof(zero));
    assert_int_equal(httpa_msg_add_str(&c.req, "Attest-Random", (const char *)rv.base), HTTPA_OK);
    httpa_buf_free(&rv);
    assert_int_equal(handshake(&fx, &c.req, 0, now, &resp, &body), HTTPA_ERR_BAD_QUOTE);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    client_teardown(&c);
    assert_int_equal(httpa_server_base_count(fx.s), 1);
    server_teardown(&fx);

    /* a server without a client policy ignores client evidence */
    server_setup(&fx, false);
    fx.cfg.attester = &fx.tee.base;
    server_start(&fx);
    mutual_client(&c, false);
    c.tee.corrupt_report_data = true;
    client_start(&c, now);
    assert_int_equal(handshake(&fx, &c.req, 0, now, &resp, &body), HTTPA_OK);
    httpa_client_base *b = NULL;
    assert_int_equal(httpa_client_hs_finish(c.hs, &resp, httpa_buf_span(&body), now, &b), HTTPA_OK);
    httpa_client_base_release(b);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    client_teardown(&c);
    server_teardown(&fx);
}

/* A client verifier that knows one TEE type, "tdx" (appraised by the
 * fake, which reads sim evidence): to it, "sim" is an unknown type. */
typedef struct tdx_only {
    httpa_verifier base; /* first */
    httpa_verifier *inner;
} tdx_only;

static httpa_err tdx_only_appraise(httpa_verifier *self, const char *tee, const char *format,
                                   httpa_span ev, int64_t now, httpa_appraisal *out)
{
    tdx_only *t = (tdx_only *)self;
    if (strcmp(tee, "tdx") != 0)
        return HTTPA_ERR_UNSUPPORTED;
    return t->inner->appraise(t->inner, "sim", format, ev, now, out);
}

/* The client's Attest-Quotes with its entry's TEE token renamed to `tee`
 * and `extra` appended (the request core, which the client evidence
 * binds, does not cover Attest-Quotes). */
static void rewrite_quotes(httpa_msg *req, const char *tee, const char *extra)
{
    const httpa_header *q = httpa_msg_find(req, "attest-quotes", 13);
    assert_non_null(q);
    assert_true(q->value_len > 5 && memcmp(q->value, "(sim ", 5) == 0);
    httpa_buf v;
    httpa_buf_init(&v, 65536);
    assert_int_equal(httpa_buf_append_str(&v, "("), HTTPA_OK);
    assert_int_equal(httpa_buf_append_str(&v, tee), HTTPA_OK);
    assert_int_equal(httpa_buf_append(&v, q->value + 4, q->value_len - 4), HTTPA_OK);
    assert_int_equal(httpa_buf_append_str(&v, extra), HTTPA_OK);
    assert_int_equal(httpa_buf_append_u8(&v, 0), HTTPA_OK);
    httpa_msg_remove(req, "attest-quotes", 13);
    assert_int_equal(httpa_msg_add_str(req, "Attest-Quotes", (const char *)v.base), HTTPA_OK);
    httpa_buf_free(&v);
}

/* Section 7.4 on the server side: an entry of a TEE type the client
 * verifier does not know is ignored, but a `sim` entry never is: without a
 * verifier that accepts sim, it fails the handshake even beside an entry
 * that verifies. */
static void test_server_mutual_sim_never_ignored(void **state)
{
    (void)state;
    int64_t now = tl_int(fixed(), "now");
    server_fx fx;
    server_setup(&fx, false);
    tdx_only v = {{tdx_only_appraise}, &fx.client_policy.base};
    fx.cfg.attester = &fx.tee.base;
    fx.cfg.client_verifier = &v.base;
    fx.cfg.require_client_attestation = true;
    server_start(&fx);
    httpa_msg resp;
    httpa_buf body;
    client_fx c;
    static const char *const cases[][2] = {
        {"", "OK"},                                    /* tdx alone */
        {", (tpm :AAAA:);format=raw", "OK"},           /* + unknown type: ignored */
        {", (sim :AAAA:);format=raw", "BAD_QUOTE"}, /* + sim: never ignored */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mutual_client(&c, false);
        client_start(&c, now);
        rewrite_quotes(&c.req, "tdx", cases[i][0]);
        httpa_err e = handshake(&fx, &c.req, 0, now, &resp, &body);
        assert_string_equal(httpa_err_name(e), cases[i][1]);
        if (e != HTTPA_OK)
            assert_error_response(&resp, &body, "bad_quote", 403);
        httpa_msg_free(&resp);
        httpa_buf_free(&body);
        client_teardown(&c);
    }
    server_teardown(&fx);
}

/* ------------------------------------------------------------------ */
/* extra negative cases: client                                         */

static void test_client_fails_closed(void **state)
{
    (void)state;
    client_fx c;
    client_setup(&c, false);
    c.cfg.verifier = NULL;
    httpa_client_hs *hs = NULL;
    assert_int_equal(httpa_client_hs_start(&c.cfg, 0, &c.req, &hs), HTTPA_ERR_INVALID_ARG);
    assert_null(hs);
    client_teardown(&c);

    static const char *const bad_suite[] = {"TLS_AES_128_CCM_SHA256", NULL};
    static const char *const p256[] = {"secp256r1", NULL};
    client_setup(&c, false);
    c.cfg.suites = bad_suite;
    assert_int_equal(httpa_client_hs_start(&c.cfg, 0, &c.req, &hs), HTTPA_ERR_INVALID_ARG);
    c.cfg.suites = NULL;
    c.cfg.groups = p256; /* the default share group x25519 is not offered */
    assert_int_equal(httpa_client_hs_start(&c.cfg, 0, &c.req, &hs), HTTPA_ERR_INVALID_ARG);
    client_teardown(&c);
}

typedef struct flow {
    server_fx s;
    client_fx c;
    httpa_msg resp;
    httpa_buf body;
    int64_t now;
} flow;

/* Server with one ed25519 key (not_after) and the fake TEE; client default. */
static void flow_start(flow *f, int64_t not_after)
{
    f->now = tl_int(fixed(), "now");
    server_setup(&f->s, false);
    f->s.cfg.attester = &f->s.tee.base;
    server_start(&f->s);
    if (not_after != 0)
        add_key(&f->s, HTTPA_ED25519, NULL, not_after, NULL, 0);
    client_setup(&f->c, false);
}

static httpa_err flow_run(flow *f, int64_t client_now)
{
    client_start(&f->c, f->now);
    assert_int_equal(handshake(&f->s, &f->c.req, 0, f->now, &f->resp, &f->body), HTTPA_OK);
    httpa_client_base *b = NULL;
    httpa_err e = httpa_client_hs_finish(f->c.hs, &f->resp, httpa_buf_span(&f->body), client_now,
                                         &b);
    if (e == HTTPA_OK)
        assert_non_null(b);
    else
        assert_null(b);
    httpa_client_base_release(b);
    return e;
}

static void flow_end(flow *f)
{
    httpa_msg_free(&f->resp);
    httpa_buf_free(&f->body);
    client_teardown(&f->c);
    server_teardown(&f->s);
}

static void test_client_evidence_checks(void **state)
{
    (void)state;
    flow f;
    int64_t now = tl_int(fixed(), "now");

    /* fresh evidence over the wrong report_data */
    flow_start(&f, 0);
    f.s.tee.corrupt_report_data = true;
    assert_int_equal(flow_run(&f, now), HTTPA_ERR_BAD_QUOTE);
    flow_end(&f);

    /* the same, but the client's verifier rejects the measurement */
    flow_start(&f, 0);
    f.c.verifier.measurement[3] ^= 0x10;
    assert_int_equal(flow_run(&f, now), HTTPA_ERR_BAD_QUOTE);
    flow_end(&f);

    /* a verifier that can verify nothing: no entry verified */
    flow_start(&f, 0);
    f.s.tee.base.tee = "tdx";
    assert_int_equal(flow_run(&f, now), HTTPA_ERR_BAD_QUOTE);
    flow_end(&f);

    /* expired attested key, and one whose exp is too far away */
    flow_start(&f, now + 1000);
    assert_int_equal(flow_run(&f, now + 1000), HTTPA_ERR_BAD_QUOTE);
    flow_end(&f);
    flow_start(&f, now + 604801);
    assert_int_equal(flow_run(&f, now), HTTPA_ERR_BAD_QUOTE);
    flow_end(&f);
    flow_start(&f, now + 604800);
    assert_int_equal(flow_run(&f, now), HTTPA_OK);
    flow_end(&f);

    /* a key whose algorithm the client does not accept (7.2 rule 1): the
     * server falls back to fresh mode, which the client accepts */
    flow_start(&f, now + 86400);
    static const char *const ecdsa_only[] = {"ecdsa-p256-sha256", NULL};
    f.c.cfg.sig_algs = ecdsa_only;
    assert_int_equal(flow_run(&f, now), HTTPA_OK);
    assert_null(field(&f.resp, "Attest-Signature"));
    flow_end(&f);

    /* fresh required, the server answered in attested-key mode */
    flow_start(&f, now + 86400);
    assert_int_equal(flow_run(&f, now), HTTPA_OK);
    assert_non_null(field(&f.resp, "Attest-Signature"));
    httpa_client_hs_free(f.c.hs);
    f.c.hs = NULL;
    f.c.cfg.fresh = true;
    httpa_msg_free(&f.c.req);
    httpa_msg_init_request(&f.c.req);
    client_start(&f.c, now);
    httpa_client_base *b = NULL;
    assert_int_equal(httpa_client_hs_finish(f.c.hs, &f.resp, HTTPA_SPAN("", 0), now, &b),
                     HTTPA_ERR_BAD_QUOTE);
    assert_null(b);
    flow_end(&f);
}

/* Tampering with the vector response on the client (6.2.4 steps 1-8). */
static httpa_err client_with_response_field(const char *name, const char *value)
{
    json_t *at = vec("aths_attested_key");
    int64_t now = tl_int(fixed(), "now");
    client_fx fx;
    client_setup(&fx, true);
    client_start(&fx, now);
    httpa_msg resp;
    msg_from_json(tl_get(at, "response"), &resp);
    httpa_msg_remove(&resp, name, strlen(name));
    if (value != NULL)
        assert_int_equal(httpa_msg_add_str(&resp, name, value), HTTPA_OK);
    httpa_client_base *b = NULL;
    httpa_err e = finish(&fx, &resp, now, &b);
    assert_null(b);
    httpa_msg_free(&resp);
    client_teardown(&fx);
    return e;
}

static void test_client_response_checks(void **state)
{
    (void)state;
    assert_int_equal(client_with_response_field("Attest-Version", "httpa/3"),
                     HTTPA_ERR_NEGOTIATION_FAILED);
    assert_int_equal(client_with_response_field("Attest-Cipher-Suite", "TLS_AES_128_CCM_SHA256"),
                     HTTPA_ERR_NEGOTIATION_FAILED);
    assert_int_equal(client_with_response_field("Attest-Supported-Group", "secp256r1"),
                     HTTPA_ERR_NEGOTIATION_FAILED);
    assert_int_equal(client_with_response_field("Attest-Transport", NULL),
                     HTTPA_ERR_NEGOTIATION_FAILED);
    assert_int_equal(client_with_response_field("Attest-Key-Share", "x25519=:AAAA:"),
                     HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(client_with_response_field("Attest-Base-ID", "\"not-a-uuid\""),
                     HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(client_with_response_field("Attest-Expires", "604801"),
                     HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(client_with_response_field("Attest-Random", NULL), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(client_with_response_field("Attest-Quotes", NULL), HTTPA_ERR_BAD_QUOTE);
    /* entries: an unknown parameter is ignored (the signature then fails), a
     * missing or misplaced key parameter is bad_quote */
    json_t *at = vec("aths_attested_key");
    const char *qv = tl_str(at, "attest_quotes_value");
    char *q = malloc(strlen(qv) + 16);
    assert_non_null(q);
    strcpy(q, qv);
    char *fmt = strstr(q, ";format=raw");
    memmove(fmt + 4, fmt, strlen(fmt) + 1);
    memcpy(fmt, ";x=1", 4);
    assert_int_equal(client_with_response_field("Attest-Quotes", q), HTTPA_ERR_BAD_QUOTE);
    strcpy(q, qv);
    char *exp = strstr(q, ";exp=");
    *exp = '\0';
    assert_int_equal(client_with_response_field("Attest-Quotes", q), HTTPA_ERR_BAD_QUOTE);
    free(q);
    /* covered by TH_hs: the signature no longer verifies */
    assert_int_equal(client_with_response_field("Attest-Expires", "3601"), HTTPA_ERR_BAD_QUOTE);
    /* outside TH_hs but covered by the binder */
    assert_int_equal(client_with_response_field("Attest-Secrets", "x=:AAAA:"), HTTPA_ERR_BAD_TICKET);
    assert_int_equal(client_with_response_field("Attest-Unknown", "x"), HTTPA_ERR_BAD_QUOTE);
    assert_int_equal(client_with_response_field("Attest-Binder", ":AAAA:"), HTTPA_ERR_BAD_TICKET);
    /* an error response carries the server's token; without one, a transport failure */
    client_fx fx;
    client_setup(&fx, false);
    client_start(&fx, 0);
    httpa_msg resp;
    httpa_buf body;
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, 4096);
    assert_int_equal(httpa_error_response(HTTPA_ERR_STALE_DATE, NULL, &resp, &body), HTTPA_OK);
    httpa_client_base *b = NULL;
    assert_int_equal(httpa_client_hs_finish(fx.hs, &resp, httpa_buf_span(&body), 0, &b),
                     HTTPA_ERR_STALE_DATE);
    /* the private shares are gone: one response per request */
    assert_int_equal(httpa_client_hs_finish(fx.hs, &resp, httpa_buf_span(&body), 0, &b),
                     HTTPA_ERR_BAD_STATE);
    httpa_msg_free(&resp);
    httpa_client_hs_free(fx.hs);
    httpa_msg_free(&fx.req);
    httpa_msg_init_request(&fx.req);
    client_start(&fx, 0);
    httpa_msg_init_response(&resp, 502);
    assert_int_equal(httpa_client_hs_finish(fx.hs, &resp, httpa_buf_span(&body), 0, &b),
                     HTTPA_ERR_NETWORK);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    client_teardown(&fx);
}

/* ------------------------------------------------------------------ */
/* in-process handshakes                                                */

static void full_handshake(const char *suite, const char *group, bool fresh, bool mutual)
{
    const char *suites[] = {suite, NULL};
    const char *groups[] = {group, NULL};
    int64_t now = tl_int(fixed(), "now");
    server_fx s;
    client_fx c;
    uint8_t secret[40];
    assert_int_equal(httpa_random(secret, sizeof(secret)), HTTPA_OK);
    httpa_span sv = HTTPA_SPAN(secret, sizeof(secret));

    server_setup(&s, false);
    s.cfg.attester = &s.tee.base;
    if (mutual) {
        s.cfg.client_verifier = &s.client_policy.base;
        s.cfg.require_client_attestation = true;
        s.secret_names = k_secret_names;
        s.secret_values = &sv;
        s.nsecrets = 1;
    }
    server_start(&s);
    add_key(&s, HTTPA_ED25519, NULL, now + 86400, NULL, 0);
    add_key(&s, HTTPA_ECDSA_P256_SHA256, NULL, now + 86400, NULL, 0);

    if (mutual)
        mutual_client(&c, false);
    else
        client_setup(&c, false);
    c.cfg.suites = suites;
    c.cfg.groups = groups;
    c.cfg.share_groups = groups;
    c.cfg.fresh = fresh;
    client_start(&c, now);

    httpa_msg resp;
    httpa_buf body;
    assert_int_equal(handshake(&s, &c.req, 0, now, &resp, &body), HTTPA_OK);
    assert_string_equal(field(&resp, "Attest-Cipher-Suite"), suite);
    assert_string_equal(field(&resp, "Attest-Supported-Group"), group);
    assert_true((field(&resp, "Attest-Signature") == NULL) == fresh);
    httpa_client_base *b = NULL;
    assert_int_equal(httpa_client_hs_finish(c.hs, &resp, httpa_buf_span(&body), now, &b), HTTPA_OK);

    httpa_base *sb = server_base(&s, httpa_client_base_id(b), now);
    const httpa_suite *su = httpa_suite_find(suite, strlen(suite));
    tl_assert_bytes(sb->c_ap.key, su->key_len, b->c_ap.key, su->key_len);
    tl_assert_bytes(sb->s_ap.iv, HTTPA_IV_LEN, b->s_ap.iv, HTTPA_IV_LEN);
    tl_assert_bytes(sb->c_ap.mac_key, su->hlen, b->c_ap.mac_key, su->hlen);
    tl_assert_bytes(sb->s_ap.mac_key, su->hlen, b->s_ap.mac_key, su->hlen);
    tl_assert_bytes(sb->exporter_master, su->hlen, b->exporter_master, su->hlen);
    assert_int_equal(sb->client_attested, mutual);
    httpa_store_put(s.s->store, sb);
    const char *const *names;
    const httpa_span *values;
    assert_int_equal(httpa_client_base_secrets(b, &names, &values), mutual ? 1 : 0);
    if (mutual)
        tl_assert_bytes(values[0].base, values[0].len, secret, sizeof(secret));

    httpa_client_base_release(b);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    client_teardown(&c);
    server_teardown(&s);
}

static void test_full_handshakes(void **state)
{
    (void)state;
    static const char *const suites[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                         "TLS_CHACHA20_POLY1305_SHA256"};
    static const char *const groups[] = {"x25519", "secp256r1"};
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 2; j++)
            for (int mode = 0; mode < 3; mode++)
                full_handshake(suites[i], groups[j], mode != 0, mode == 2);
}

/* secp256r1 shares through the rng: the vector's shares come out. */
static void test_secp256r1_shares(void **state)
{
    run *r = *state;
    json_t *p = vec("ecdhe_secp256r1");
    static const char *const groups[] = {"secp256r1", NULL};
    client_fx c;
    client_setup(&c, false);
    tl_rng_push_hex(&c.rng, tl_str(p, "client_private_hex"));
    tl_rng_push_hex(&c.rng, tl_str(fixed(), "client_random_hex"));
    c.cfg.rng = &c.rng.base;
    c.cfg.groups = groups;
    c.cfg.share_groups = groups;
    client_start(&c, tl_int(fixed(), "now"));
    assert_string_equal(field(&c.req, "Attest-Key-Shares"), tl_str(p, "key_shares_field"));

    server_fx s;
    server_setup(&s, true);
    server_start(&s);
    add_key(&s, HTTPA_ED25519, NULL, tl_int(fixed(), "now") + 86400, NULL, 0);
    push_server_rng(&s.rng, tl_str(p, "server_private_hex"), tl_str(fixed(), "server_random_hex"),
                    tl_str(fixed(), "base_id"));
    httpa_msg resp;
    httpa_buf body;
    assert_int_equal(handshake(&s, &c.req, 0, tl_int(fixed(), "now"), &resp, &body), HTTPA_OK);
    httpa_buf share = tl_hex_at(p, "server_share_hex");
    httpa_buf want;
    httpa_buf_init(&want, 1024);
    assert_int_equal(httpa_buf_append_str(&want, "secp256r1="), HTTPA_OK);
    assert_int_equal(httpa_sf_put_binary(&want, share.base, share.len), HTTPA_OK);
    assert_int_equal(httpa_buf_append_u8(&want, 0), HTTPA_OK);
    assert_string_equal(field(&resp, "Attest-Key-Share"), (const char *)want.base);
    httpa_client_base *b = NULL;
    assert_int_equal(httpa_client_hs_finish(c.hs, &resp, httpa_buf_span(&body),
                                            tl_int(fixed(), "now"), &b),
                     HTTPA_OK);
    httpa_client_base_release(b);
    httpa_buf_free(&share);
    httpa_buf_free(&want);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    server_teardown(&s);
    client_teardown(&c);
    r->checked++;
}

/* ------------------------------------------------------------------ */

static int group_setup(void **state)
{
    run *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -1;
    *state = r;
    return 0;
}

static int group_teardown(void **state)
{
    run *r = *state;
    printf("handshake vectors: %u checked\n", r->checked);
    free(r);
    return 0;
}

/* Route tags (profile 15.4): the Base-ID's first octet is the tag, and the
 * ID is still a valid UUIDv4 the client accepts and the store finds. */
static void test_route_tag_base_id(void **state)
{
    (void)state;
    int64_t now = tl_int(fixed(), "now");
    static const uint8_t tags[] = {0xa7, 0x00, 0xff};
    for (size_t i = 0; i < sizeof(tags); i++) {
        server_fx s;
        client_fx c;
        char want[3];
        server_setup(&s, false);
        s.cfg.route_tag = tags[i];
        s.cfg.use_route_tag = true;
        server_start(&s);
        add_key(&s, HTTPA_ED25519, NULL, now + 86400, NULL, 0);
        client_setup(&c, false);
        client_start(&c, now);
        httpa_msg resp;
        httpa_buf body;
        assert_int_equal(handshake(&s, &c.req, 0, now, &resp, &body), HTTPA_OK);
        const char *v = field(&resp, "Attest-Base-ID"); /* an sf-string */
        assert_non_null(v);
        assert_int_equal(strlen(v), HTTPA_BASE_ID_LEN + 2);
        char id[HTTPA_BASE_ID_LEN + 1];
        memcpy(id, v + 1, HTTPA_BASE_ID_LEN);
        id[HTTPA_BASE_ID_LEN] = '\0';
        snprintf(want, sizeof(want), "%02x", tags[i]);
        assert_memory_equal(id, want, 2);
        assert_true(httpa_base_id_valid((const uint8_t *)id, strlen(id)));
        httpa_client_base *b = NULL;
        assert_int_equal(finish(&c, &resp, now, &b), HTTPA_OK);
        assert_string_equal(httpa_client_base_id(b), id);
        httpa_store_put(s.s->store, server_base(&s, id, now));
        httpa_client_base_release(b);
        httpa_msg_free(&resp);
        httpa_buf_free(&body);
        client_teardown(&c);
        server_teardown(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_tee_reproduces_sim_quotes),
        cmocka_unit_test(test_preflight_vectors),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_error_response),
        cmocka_unit_test(test_aths_attested_key_server),
        cmocka_unit_test(test_aths_attested_key_client),
        cmocka_unit_test(test_attested_key_ecdsa),
        cmocka_unit_test(test_fresh_mutual_server),
        cmocka_unit_test(test_fresh_mutual_client),
        cmocka_unit_test(test_secp256r1_shares),
        cmocka_unit_test(test_negative_vectors),
        cmocka_unit_test(test_server_bad_requests),
        cmocka_unit_test(test_server_negotiation),
        cmocka_unit_test(test_server_store_full),
        cmocka_unit_test(test_server_mutual_policy),
        cmocka_unit_test(test_server_mutual_sim_never_ignored),
        cmocka_unit_test(test_client_fails_closed),
        cmocka_unit_test(test_client_evidence_checks),
        cmocka_unit_test(test_client_response_checks),
        cmocka_unit_test(test_full_handshakes),
        cmocka_unit_test(test_route_tag_base_id),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
