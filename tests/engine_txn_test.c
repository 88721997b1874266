/* AtSP and TrT end to end (profile 6.3, 6.4, 9 to 13, 15.2) against the
 * vectors atsp, trt_1, trt_2, replay_window and negative, plus the store,
 * limits, termination and concurrency.
 *
 * Both ends are built directly from the keys of vector aths_attested_key:
 * a server Attest Base inserted into the server's store and a client base,
 * so these tests do not depend on the handshake code. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "engine/auth.h"
#include "engine/session.h"
#include "engine/txn.h"

#define assert_ok(x) assert_int_equal((x), HTTPA_OK)
#define SUITE_TOKEN "TLS_AES_128_GCM_SHA256"

static int vectors_checked;

/* ---- vectors ---- */

static json_t *V(const char *a)
{
    return tl_get(tl_vectors(), a);
}

static json_t *V2(const char *a, const char *b)
{
    return tl_get(V(a), b);
}

static int64_t vec_now(void)
{
    return tl_int(V("fixed_inputs"), "now");
}

static const char *vec_base_id(void)
{
    return tl_str(V("fixed_inputs"), "base_id");
}

static const httpa_suite *suite(void)
{
    return httpa_suite_find(SUITE_TOKEN, strlen(SUITE_TOKEN));
}

/* key, iv and mac_key of one direction, without an AEAD context. */
static void load_traffic(httpa_traffic *t, const char *dir)
{
    json_t *tr = tl_get(tl_get(V("aths_attested_key"), "traffic"), dir);
    httpa_buf k = tl_hex_at(tr, "key"), iv = tl_hex_at(tr, "iv"), mk = tl_hex_at(tr, "mac_key");
    memset(t, 0, sizeof(*t));
    t->suite = suite();
    assert_int_equal(k.len, t->suite->key_len);
    assert_int_equal(iv.len, HTTPA_IV_LEN);
    memcpy(t->key, k.base, k.len);
    memcpy(t->iv, iv.base, iv.len);
    memcpy(t->mac_key, mk.base, mk.len);
    httpa_buf_free(&k);
    httpa_buf_free(&iv);
    httpa_buf_free(&mk);
}

/* A message object of the vectors. */
static void msg_load(json_t *j, httpa_msg *m)
{
    json_t *st = json_object_get(j, "status");
    if (st != NULL) {
        httpa_msg_init_response(m, (int)json_integer_value(st));
    } else {
        const char *me = tl_str(j, "method"), *tg = tl_str(j, "target");
        httpa_msg_init_request(m);
        assert_ok(httpa_msg_set_request_line(m, me, strlen(me), tg, strlen(tg)));
    }
    size_t i;
    json_t *h;
    json_array_foreach(tl_get(j, "headers"), i, h)
    {
        const char *n = json_string_value(json_array_get(h, 0));
        const char *v = json_string_value(json_array_get(h, 1));
        assert_ok(httpa_msg_add_str(m, n, v));
    }
}

static void print_msg(const char *label, const httpa_msg *m)
{
    if (m->is_response)
        fprintf(stderr, "%s: %d\n", label, m->status);
    else
        fprintf(stderr, "%s: %s %s\n", label, m->method, m->target);
    for (size_t i = 0; i < m->nheaders; i++)
        fprintf(stderr, "  %s: %s%s\n", m->headers[i].name, m->headers[i].value,
                m->headers[i].sealed ? "  [sealed]" : "");
}

/* Same start line and the same lines, in order (or as a multiset). */
static void assert_msg_eq(const httpa_msg *got, json_t *want, bool ordered)
{
    httpa_msg w;
    msg_load(want, &w);
    bool ok = got->is_response == w.is_response && got->nheaders == w.nheaders;
    if (ok && got->is_response)
        ok = got->status == w.status;
    else if (ok)
        ok = strcmp(got->method, w.method) == 0 && strcmp(got->target, w.target) == 0;
    bool used[64] = {false};
    for (size_t i = 0; ok && i < w.nheaders && i < 64; i++) {
        bool found = false;
        for (size_t k = ordered ? i : 0; !found && k < (ordered ? i + 1 : got->nheaders); k++) {
            if (used[k] || !httpa_name_eq(got->headers[k].name, got->headers[k].name_len,
                                          w.headers[i].name, w.headers[i].name_len))
                continue;
            if (strcmp(got->headers[k].value, w.headers[i].value) == 0)
                found = used[k] = true;
        }
        ok = found;
    }
    if (!ok) {
        print_msg("got", got);
        print_msg("want", &w);
    }
    httpa_msg_free(&w);
    assert_true(ok);
}

static const httpa_header *find(const httpa_msg *m, const char *name)
{
    return httpa_msg_find(m, name, strlen(name));
}

static void set_field(httpa_msg *m, const char *name, const char *value)
{
    httpa_msg_remove(m, name, strlen(name));
    assert_ok(httpa_msg_add_str(m, name, value));
}

/* ---- the two ends ---- */

typedef struct fx {
    httpa_server *srv;
    httpa_base *base;        /* the test's own reference */
    httpa_client_base *cb;
    int64_t now;
} fx;

static httpa_base *server_base(httpa_server *s, const char *id, int64_t now, int64_t expires_at,
                               bool allow_untrusted)
{
    httpa_base *b;
    assert_ok(httpa_base_new(&b));
    strcpy(b->id, id);
    b->suite = suite();
    load_traffic(&b->c_ap, "c_ap");
    load_traffic(&b->s_ap, "s_ap");
    b->expires_at = expires_at;
    b->allow_untrusted = allow_untrusted;
    assert_ok(httpa_store_insert(s->store, b, now));
    return b;
}

static httpa_client_base *client_base(int64_t expires_at)
{
    httpa_client_base *b = calloc(1, sizeof(*b));
    assert_non_null(b);
    strcpy(b->id, vec_base_id());
    b->suite = suite();
    load_traffic(&b->c_ap, "c_ap");
    load_traffic(&b->s_ap, "s_ap");
    b->limits = httpa_limits_default();
    atomic_init(&b->next_seq, 0);
    atomic_init(&b->refs, 1);
    atomic_init(&b->closed, false);
    b->expires_at = expires_at;
    return b;
}

static void fx_init_cfg(fx *f, const httpa_server_config *cfg, bool allow_untrusted)
{
    httpa_server_config c;
    memset(&c, 0, sizeof(c));
    if (cfg != NULL)
        c = *cfg;
    f->now = vec_now();
    assert_ok(httpa_server_new(&c, &f->srv));
    f->base = server_base(f->srv, vec_base_id(), f->now, f->now + 3600, allow_untrusted);
    f->cb = client_base(f->now + 3600);
}

static void fx_init(fx *f)
{
    fx_init_cfg(f, NULL, false);
}

static void fx_free(fx *f)
{
    httpa_store_put(f->srv->store, f->base);
    httpa_server_free(f->srv);
    httpa_client_base_release(f->cb);
}

/* ---- the vector transactions ---- */

/* What the application gives to httpa_client_protect for each vector. */
static void app_request(const char *name, httpa_msg *m, httpa_seal_opts *o, httpa_buf *body,
                        httpa_span *secret_values, const char **secret_names)
{
    memset(o, 0, sizeof(*o));
    httpa_buf_init(body, SIZE_MAX);
    json_t *rq = V2(name, "request");
    if (strcmp(name, "trt_1") == 0) {
        static const char *const seal[] = {"x-tenant", NULL};
        msg_load(tl_get(rq, "restored_request_for_application"), m);
        *body = tl_hex_at(rq, "body_plaintext_hex");
        o->seal = seal;
        o->hide_target = true;
        o->has_body = true;
        o->content_length = body->len;
        o->record_size = (uint32_t)tl_int(rq, "record_size");
    } else if (strcmp(name, "trt_2") == 0) {
        httpa_msg_init_request(m);
        assert_ok(httpa_msg_set_request_line(m, "GET", 3, "/api/v1/status", 14));
        assert_ok(httpa_msg_add_str(m, "Host", "tservice.example"));
        o->terminate = true;
    } else { /* atsp */
        httpa_msg_init_request(m);
        assert_ok(httpa_msg_set_request_line(m, "ATTEST", 6, "/.well-known/httpa", 18));
        assert_ok(httpa_msg_add_str(m, "Host", "tservice.example"));
        assert_ok(httpa_msg_add_str(m, "Content-Length", "0"));
        size_t i;
        json_t *s;
        json_array_foreach(tl_get(tl_get(rq, "items"), "secrets"), i, s)
        {
            secret_names[i] = tl_str(s, "name");
            httpa_buf v = tl_hex_at(s, "plaintext_hex");
            secret_values[i] = httpa_buf_span(&v); /* freed by free_secret_values */
            o->nsecrets = i + 1;
        }
        o->secret_names = secret_names;
        o->secret_values = secret_values;
    }
}

static void free_secret_values(httpa_span *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((void *)v[i].base);
}

/* What the application answers for each vector. */
static void app_response(const char *name, httpa_msg *m, httpa_seal_opts *o, httpa_buf *body,
                         httpa_span *secret_values, const char **secret_names)
{
    memset(o, 0, sizeof(*o));
    json_t *rp = V2(name, "response");
    httpa_msg_init_response(m, 200);
    httpa_buf_init(body, SIZE_MAX);
    if (strcmp(name, "trt_1") == 0) {
        assert_ok(httpa_msg_add_str(m, "Content-Type", "application/json"));
        assert_ok(httpa_msg_add_str(m, "Set-Cookie", "session=def456; Secure; HttpOnly"));
        *body = tl_hex_at(rp, "body_plaintext_hex");
        o->has_body = true;
        o->content_length = body->len;
    } else if (strcmp(name, "trt_2") == 0) {
        assert_ok(httpa_msg_add_str(m, "Content-Type", "text/plain; charset=utf-8"));
        *body = tl_hex_at(rp, "body_plaintext_hex");
        o->has_body = true;
        o->content_length = UINT64_MAX; /* streamed */
        o->record_size = (uint32_t)tl_int(rp, "record_size");
    } else {
        json_t *s = json_array_get(tl_get(tl_get(rp, "items"), "secrets"), 0);
        secret_names[0] = tl_str(s, "name");
        httpa_buf v = tl_hex_at(s, "plaintext_hex");
        secret_values[0] = httpa_buf_span(&v);
        o->secret_names = secret_names;
        o->secret_values = secret_values;
        o->nsecrets = 1;
    }
}

/* Feed `in` to a body function in chunks of `chunk` octets. */
typedef httpa_err (*body_fn)(void *t, httpa_span in, bool fin, httpa_buf *out);

static httpa_err feed(body_fn fn, void *t, httpa_span in, size_t chunk, httpa_buf *out)
{
    size_t off = 0;
    do {
        size_t n = in.len - off < chunk ? in.len - off : chunk;
        httpa_err e = fn(t, HTTPA_SPAN(in.base + off, n), off + n == in.len, out);
        if (e != HTTPA_OK)
            return e;
        off += n;
    } while (off < in.len);
    return HTTPA_OK;
}

static httpa_err cseal(void *t, httpa_span in, bool fin, httpa_buf *out)
{
    return httpa_client_txn_seal(t, in, fin, out);
}
static httpa_err cbody(void *t, httpa_span in, bool fin, httpa_buf *out)
{
    return httpa_client_txn_body(t, in, fin, out);
}
static httpa_err sseal(void *t, httpa_span in, bool fin, httpa_buf *out)
{
    return httpa_server_txn_seal(t, in, fin, out);
}
static httpa_err sbody(void *t, httpa_span in, bool fin, httpa_buf *out)
{
    return httpa_server_txn_body(t, in, fin, out);
}

/* The client protects the vector's application request with next_seq =
 * `seq`; returns the transaction, the protected message and its body. */
static httpa_client_txn *client_send(fx *f, const char *name, httpa_msg *m, httpa_buf *wire)
{
    httpa_seal_opts o;
    httpa_buf plain;
    httpa_span sv[4];
    const char *sn[4];
    app_request(name, m, &o, &plain, sv, sn);
    atomic_store(&f->cb->next_seq, (uint64_t)tl_int(V2(name, "request"), "seq"));
    httpa_client_txn *t;
    assert_ok(httpa_client_protect(f->cb, m, &o, &t));
    httpa_buf_init(wire, SIZE_MAX);
    assert_ok(feed(cseal, t, httpa_buf_span(&plain), 700, wire));
    free_secret_values(sv, o.nsecrets);
    httpa_buf_free(&plain);
    return t;
}

/* The server opens the vector request; the transaction is returned. */
static httpa_server_txn *server_open_vector(fx *f, const char *name, httpa_msg *req)
{
    httpa_msg resp;
    httpa_buf body;
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, SIZE_MAX);
    msg_load(tl_get(V2(name, "request"), "message"), req);
    httpa_server_txn *t = NULL;
    httpa_err e = httpa_server_open(f->srv, req, f->now, &t, &resp, &body);
    if (e != HTTPA_OK)
        print_msg("error response", &resp);
    assert_ok(e);
    assert_non_null(t);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    return t;
}

/* Respond to a vector request as its application does. */
static void server_answer(httpa_server_txn *t, const char *name, httpa_msg *resp, httpa_buf *wire)
{
    httpa_seal_opts o;
    httpa_buf plain;
    httpa_span sv[1];
    const char *sn[1];
    app_response(name, resp, &o, &plain, sv, sn);
    assert_ok(httpa_server_txn_respond(t, resp, &o));
    httpa_buf_init(wire, SIZE_MAX);
    assert_ok(feed(sseal, t, httpa_buf_span(&plain), 1000, wire));
    free_secret_values(sv, o.nsecrets);
    httpa_buf_free(&plain);
}

static void assert_body(const httpa_buf *got, json_t *o, const char *key)
{
    httpa_buf want = tl_hex_at(o, key);
    tl_assert_bytes(got->base, got->len, want.base, want.len);
    httpa_buf_free(&want);
}

/* The restored request of each vector, as the application sees it. */
static void assert_restored(const char *name, const httpa_msg *req)
{
    if (strcmp(name, "trt_1") == 0) {
        assert_msg_eq(req, tl_get(V2(name, "request"), "restored_request_for_application"), false);
        static const char *const sealed[] = {"authorization", "cookie", "x-tenant",
                                             "content-type", "content-length"};
        for (size_t i = 0; i < req->nheaders; i++) {
            const httpa_header *h = &req->headers[i];
            assert_int_equal(h->sealed, httpa__name_in(h->name, h->name_len,
                                                        (const char *const[]){sealed[0], sealed[1],
                                                                              sealed[2], sealed[3],
                                                                              sealed[4], NULL}));
        }
    } else {
        assert_int_equal(req->nheaders, 1); /* Host */
        assert_non_null(find(req, "host"));
        assert_false(req->headers[0].sealed);
        assert_string_equal(req->method, strcmp(name, "atsp") == 0 ? "ATTEST" : "GET");
    }
}

static void check_server_secrets(const char *name, const httpa_server_txn *t)
{
    const char *const *names;
    const httpa_span *values;
    size_t n = httpa_server_txn_secrets(t, &names, &values);
    if (strcmp(name, "atsp") != 0) {
        assert_int_equal(n, 0);
        return;
    }
    json_t *s = tl_get(tl_get(V2(name, "request"), "items"), "secrets");
    assert_int_equal(n, json_array_size(s));
    for (size_t i = 0; i < n; i++) {
        httpa_buf v = tl_hex_at(json_array_get(s, i), "plaintext_hex");
        assert_string_equal(names[i], tl_str(json_array_get(s, i), "name"));
        tl_assert_bytes(values[i].base, values[i].len, v.base, v.len);
        httpa_buf_free(&v);
    }
}

/* One vector transaction, both ends, byte for byte. */
static void run_vector(fx *f, const char *name)
{
    json_t *rq = V2(name, "request"), *rp = V2(name, "response");
    httpa_msg creq, sreq, resp;
    httpa_buf cwire, plain, swire;

    /* client: the protected request */
    httpa_client_txn *ct = client_send(f, name, &creq, &cwire);
    assert_msg_eq(&creq, tl_get(rq, "message"), true);
    assert_body(&cwire, tl_get(rq, "message"), "body_hex");
    vectors_checked++;

    /* server: open, restore, body */
    httpa_server_txn *st = server_open_vector(f, name, &sreq);
    assert_restored(name, &sreq);
    check_server_secrets(name, st);
    httpa_buf_init(&plain, SIZE_MAX);
    httpa_buf wire_in = tl_hex_at(tl_get(rq, "message"), "body_hex");
    assert_ok(feed(sbody, st, httpa_buf_span(&wire_in), 333, &plain));
    if (json_object_get(rq, "body_plaintext_hex") != NULL)
        assert_body(&plain, rq, "body_plaintext_hex");
    else
        assert_int_equal(plain.len, 0);
    vectors_checked++;

    /* server: the protected response */
    server_answer(st, name, &resp, &swire);
    assert_msg_eq(&resp, tl_get(rp, "message"), true);
    assert_body(&swire, tl_get(rp, "message"), "body_hex");
    vectors_checked++;
    httpa_server_txn_free(st);

    /* client: verify and open the vector response */
    httpa_msg vresp;
    httpa_buf vwire = tl_hex_at(tl_get(rp, "message"), "body_hex"), rplain;
    msg_load(tl_get(rp, "message"), &vresp);
    assert_ok(httpa_client_txn_response(ct, &vresp));
    httpa_buf_init(&rplain, SIZE_MAX);
    assert_ok(feed(cbody, ct, httpa_buf_span(&vwire), 100, &rplain));
    if (json_object_get(rp, "body_plaintext_hex") != NULL)
        assert_body(&rplain, rp, "body_plaintext_hex");
    else
        assert_int_equal(rplain.len, 0);
    assert_null(find(&vresp, "attest-binder"));
    assert_null(find(&vresp, "attest-cargo"));
    if (strcmp(name, "trt_1") == 0) {
        const httpa_header *sc = find(&vresp, "set-cookie");
        assert_non_null(sc);
        assert_true(sc->sealed);
        assert_string_equal(sc->value, "session=def456; Secure; HttpOnly");
        assert_string_equal(find(&vresp, "content-type")->value, "application/json");
        assert_string_equal(find(&vresp, "content-length")->value, "300");
    }
    if (strcmp(name, "atsp") == 0) {
        const char *const *names;
        const httpa_span *values;
        assert_int_equal(httpa_client_txn_secrets(ct, &names, &values), 1);
        assert_string_equal(names[0], "receipt");
        assert_memory_equal(values[0].base, "provisioned:db-key,api-token", values[0].len);
    }
    vectors_checked++;

    httpa_client_txn_free(ct);
    httpa_msg_free(&creq);
    httpa_msg_free(&sreq);
    httpa_msg_free(&resp);
    httpa_msg_free(&vresp);
    httpa_buf_free(&cwire);
    httpa_buf_free(&plain);
    httpa_buf_free(&swire);
    httpa_buf_free(&wire_in);
    httpa_buf_free(&vwire);
    httpa_buf_free(&rplain);
}

static void test_vectors_atsp_trt1_trt2(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    run_vector(&f, "atsp");
    run_vector(&f, "trt_1");
    run_vector(&f, "trt_2");
    /* trt_2 terminated the base: the client closed it, the server forgot it. */
    assert_true(atomic_load(&f.cb->closed));
    assert_int_equal(httpa_server_base_count(f.srv), 0);
    pthread_mutex_lock(&f.base->lock);
    assert_int_equal(f.base->nsecrets, 2);
    assert_string_equal(f.base->secret_names[0], "db-key");
    pthread_mutex_unlock(&f.base->lock);
    fx_free(&f);
}

/* ---- checking error responses ---- */

/* An error response with a binder: the binder verifies under the s_ap MAC
 * key for (seq, ticket_mac), and the record-protected body is the problem
 * of `token`, with Cargo content type application/problem+json. */
static void verify_error_response(const httpa_msg *resp, const httpa_buf *body, uint64_t seq,
                                  const uint8_t *ticket_mac, const char *token)
{
    const httpa_suite *s = suite();
    httpa_limits lim = httpa_limits_default();
    httpa_fields fl;
    assert_ok(httpa_fields_parse(resp, &lim, &fl));
    const httpa_sf_bare *b = httpa_fields_item(&fl, HTTPA_F_BINDER);
    assert_non_null(b);
    uint64_t bseq;
    const uint8_t *bmac;
    assert_ok(httpa_auth_split(s, HTTPA_SPAN(b->bytes, b->len), &bseq, &bmac));
    assert_int_equal(bseq, seq);
    uint8_t full[HTTPA_MAX_HASH], core[HTTPA_MAX_HASH], mac[HTTPA_MAX_HASH];
    httpa_traffic sap, keyed;
    load_traffic(&sap, "s_ap");
    assert_ok(httpa__ahl_hash(resp, &fl, HTTPA_X_FULL, s, full));
    assert_ok(httpa__ahl_hash(resp, &fl, HTTPA_X_CORE, s, core));
    assert_ok(httpa_binder_mac(s, sap.mac_key, seq, ticket_mac, full, mac));
    assert_true(httpa_ct_equal(mac, bmac, s->hlen));
    assert_string_equal(find(resp, "attest-error")->value, token);
    /* the Cargo and the problem body */
    assert_ok(httpa__txn_keys(&keyed, &sap));
    httpa_buf cp, plain;
    httpa_cargo c;
    httpa_buf_init(&cp, SIZE_MAX);
    httpa_buf_init(&plain, SIZE_MAX);
    assert_ok(httpa__cargo_open(&keyed, seq, core, &fl, &lim, &cp, &c));
    assert_int_equal(c.content_type.len, strlen("application/problem+json"));
    assert_memory_equal(c.content_type.base, "application/problem+json", c.content_type.len);
    httpa_stream st;
    bool on;
    assert_ok(httpa__body_start(&st, &on, &keyed, seq, core, &c, UINT64_MAX));
    assert_true(on);
    assert_ok(httpa__body_feed(&st, on, httpa_buf_span(body), true, &plain));
    char type[64];
    snprintf(type, sizeof(type), "\"urn:httpa2:error:%s\"", token);
    assert_ok(httpa_buf_append_u8(&plain, 0));
    assert_non_null(strstr((const char *)plain.base, type));
    httpa_stream_free(&st);
    httpa_cargo_clear(&c);
    httpa_buf_free(&cp);
    httpa_buf_free(&plain);
    httpa_traffic_wipe(&keyed);
    httpa_fields_free(&fl);
}

/* seq and ticket_mac from a request's Attest-Ticket. */
static uint64_t ticket_of(const httpa_msg *req, uint8_t *mac)
{
    const httpa_header *h = find(req, "attest-ticket");
    assert_non_null(h);
    httpa_buf raw;
    httpa_buf_init(&raw, SIZE_MAX);
    assert_ok(httpa_base64_decode(h->value + 1, h->value_len - 2, &raw));
    assert_int_equal(raw.len, 8 + suite()->hlen);
    uint64_t seq = httpa_get_u64(raw.base);
    memcpy(mac, raw.base + 8, suite()->hlen);
    httpa_buf_free(&raw);
    return seq;
}

/* Open a request as an HTTPA server does: open, then the whole body; a
 * failure after authentication is answered by httpa_server_txn_error.
 * Returns the error (HTTPA_OK when all passed). */
static httpa_err serve(fx *f, httpa_msg *req, httpa_span wire, int64_t now, httpa_msg *resp,
                       httpa_buf *body)
{
    httpa_server_txn *t = NULL;
    httpa_msg_init_response(resp, 0);
    httpa_buf_init(body, SIZE_MAX);
    httpa_err e = httpa_server_open(f->srv, req, now, &t, resp, body);
    if (e != HTTPA_OK || t == NULL)
        return e;
    httpa_buf plain;
    httpa_buf_init(&plain, SIZE_MAX);
    e = httpa_server_txn_body(t, wire, true, &plain);
    httpa_buf_free(&plain);
    if (e != HTTPA_OK)
        assert_ok(httpa_server_txn_error(t, e, "request body failed", resp, body));
    httpa_server_txn_free(t);
    return e;
}

/* Open a vector message on the server and expect HTTPA_OK. */
static void serve_vector_ok(fx *f, const char *name, bool respond)
{
    httpa_msg req, resp;
    httpa_buf body;
    httpa_server_txn *t = server_open_vector(f, name, &req);
    if (respond) {
        httpa_buf wire;
        server_answer(t, name, &resp, &wire);
        httpa_buf_free(&wire);
        httpa_msg_free(&resp);
    }
    httpa_buf_init(&body, SIZE_MAX);
    httpa_buf in = tl_hex_at(tl_get(V2(name, "request"), "message"), "body_hex");
    assert_ok(httpa_server_txn_body(t, httpa_buf_span(&in), true, &body));
    httpa_server_txn_free(t);
    httpa_msg_free(&req);
    httpa_buf_free(&body);
    httpa_buf_free(&in);
}

static bool error_expected(json_t *exp, httpa_err e)
{
    if (e != HTTPA_OK && strcmp(httpa_err_token(e), tl_str(exp, "error")) == 0)
        return true;
    json_t *also = json_object_get(exp, "also_acceptable");
    size_t i;
    json_t *a;
    json_array_foreach(also, i, a)
    {
        if (e != HTTPA_OK && strcmp(httpa_err_token(e), json_string_value(a)) == 0)
            return true;
    }
    return false;
}

/* The server state a negative case names. */
static void negative_state(fx *f, json_t *n)
{
    const char *state = tl_str(n, "state");
    if (strstr(state, "trt_2") != NULL) {
        serve_vector_ok(f, "trt_2", true);
        return;
    }
    assert_non_null(strstr(state, "atsp (seq 0) processed"));
    serve_vector_ok(f, "atsp", true);
    if (strstr(state, "trt_1 request accepted once") != NULL)
        serve_vector_ok(f, "trt_1", false);
}

static void run_server_negative(json_t *n)
{
    fx f;
    fx_init(&f);
    negative_state(&f, n);
    json_t *exp = tl_get(n, "expected");
    httpa_msg req, resp;
    httpa_buf body, wire = tl_hex_at(tl_get(n, "message"), "body_hex");
    msg_load(tl_get(n, "message"), &req);
    uint8_t tmac[HTTPA_MAX_HASH] = {0};
    uint64_t seq = find(&req, "attest-ticket") ? ticket_of(&req, tmac) : 0;
    httpa_err e = serve(&f, &req, httpa_buf_span(&wire), f.now, &resp, &body);
    if (!error_expected(exp, e))
        fail_msg("%s: got %s", tl_str(n, "name"), httpa_err_name(e));
    assert_int_equal(resp.status, tl_int(exp, "status"));
    bool binder = json_is_true(tl_get(exp, "binder"));
    assert_int_equal(find(&resp, "attest-binder") != NULL, binder);
    if (binder)
        verify_error_response(&resp, &body, seq, tmac, httpa_err_token(e));
    else
        assert_string_equal(find(&resp, "attest-error")->value, httpa_err_token(e));
    /* Nothing before authentication changed the window: trt_1 still opens. */
    const char *name = tl_str(n, "name");
    if (!binder && strcmp(name, "trt_replay") != 0 && strcmp(name, "trt_after_termination") != 0)
        serve_vector_ok(&f, "trt_1", false);
    vectors_checked++;
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    httpa_buf_free(&wire);
    fx_free(&f);
}

/* The client sent `sent` (its seq from the vector) and receives `n`'s message. */
static void run_client_negative(json_t *n, const char *sent)
{
    fx f;
    fx_init(&f);
    httpa_msg req, resp;
    httpa_buf wire, plain, in = tl_hex_at(tl_get(n, "message"), "body_hex");
    httpa_client_txn *t = client_send(&f, sent, &req, &wire);
    msg_load(tl_get(n, "message"), &resp);
    httpa_buf_init(&plain, SIZE_MAX);
    httpa_err e = httpa_client_txn_response(t, &resp);
    /* A response whose binder failed never closes the base (trt_2 asks to). */
    assert_int_equal(atomic_load(&f.cb->closed), e == HTTPA_OK);
    if (e == HTTPA_OK)
        e = httpa_client_txn_body(t, httpa_buf_span(&in), true, &plain);
    const char *want = tl_str(tl_get(n, "expected"), "error");
    if (e == HTTPA_OK || strcmp(httpa_err_token(e), want) != 0)
        fail_msg("%s: got %s, want %s", tl_str(n, "name"), httpa_err_name(e), want);
    vectors_checked++;
    httpa_client_txn_free(t);
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&wire);
    httpa_buf_free(&plain);
    httpa_buf_free(&in);
    fx_free(&f);
}

static void test_negative_vectors(void **state)
{
    (void)state;
    size_t i, nserver = 0, nclient = 0;
    json_t *n;
    json_array_foreach(V("negative"), i, n)
    {
        const char *name = tl_str(n, "name");
        const char *side = tl_str(n, "side");
        if (strcmp(side, "server") == 0 &&
            (strncmp(name, "trt_", 4) == 0 || strncmp(name, "atsp_", 5) == 0)) {
            run_server_negative(n);
            nserver++;
        } else if (strcmp(name, "client_bad_binder") == 0 ||
                   strcmp(name, "client_status_rewritten") == 0) {
            run_client_negative(n, "trt_1");
            nclient++;
        } else if (strcmp(name, "client_response_for_other_request") == 0 ||
                   strcmp(name, "client_truncated_response") == 0) {
            run_client_negative(n, "trt_2");
            nclient++;
        }
    }
    assert_int_equal(nserver, 13);
    assert_int_equal(nclient, 4);
}

/* ---- the replay window through httpa_server_open ---- */

/* A request protected by the client with next_seq = seq. */
static httpa_client_txn *protect_simple(fx *f, uint64_t seq, const char *method,
                                        const char *target, const httpa_seal_opts *o,
                                        httpa_msg *m)
{
    httpa_msg_init_request(m);
    assert_ok(httpa_msg_set_request_line(m, method, strlen(method), target, strlen(target)));
    assert_ok(httpa_msg_add_str(m, "Host", "tservice.example"));
    atomic_store(&f->cb->next_seq, seq);
    httpa_client_txn *t;
    assert_ok(httpa_client_protect(f->cb, m, o, &t));
    return t;
}

/* Replace the ticket with u64(seq) || mac. */
static void forge_ticket(httpa_msg *m, uint64_t seq, uint8_t fill)
{
    uint8_t raw[8 + HTTPA_MAX_HASH];
    httpa_put_u64(raw, seq);
    memset(raw + 8, fill, suite()->hlen);
    httpa_buf v;
    httpa_buf_init(&v, SIZE_MAX);
    assert_ok(httpa_sf_put_binary(&v, raw, 8 + suite()->hlen));
    assert_ok(httpa_buf_append_u8(&v, 0));
    set_field(m, "Attest-Ticket", (const char *)v.base);
    httpa_buf_free(&v);
}

static void test_replay_window_vector(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    size_t i;
    json_t *ev;
    json_array_foreach(tl_get(V("replay_window"), "events"), i, ev)
    {
        uint64_t seq = (uint64_t)tl_int(ev, "seq");
        bool valid = json_is_true(tl_get(ev, "mac_valid"));
        httpa_msg m, resp;
        httpa_buf body;
        bool real = valid && seq < HTTPA_MAX_REQUESTS;
        httpa_client_txn *t = protect_simple(&f, real ? seq : 9, "GET", "/w", NULL, &m);
        httpa_client_txn_free(t);
        if (!real)
            forge_ticket(&m, seq, 0x5a);
        httpa_err e = serve(&f, &m, HTTPA_SPAN(NULL, 0), f.now, &resp, &body);
        const char *want = tl_str(ev, "result");
        if (strcmp(want, "accepted") == 0)
            assert_ok(e);
        else
            assert_string_equal(e == HTTPA_OK ? "accepted" : httpa_err_token(e), want);
        json_t *after = tl_get(ev, "max_seq_after");
        pthread_mutex_lock(&f.base->lock);
        assert_int_equal(f.base->window.any, !json_is_null(after));
        if (!json_is_null(after))
            assert_int_equal(f.base->window.max_seq, (uint64_t)json_integer_value(after));
        pthread_mutex_unlock(&f.base->lock);
        httpa_msg_free(&m);
        httpa_msg_free(&resp);
        httpa_buf_free(&body);
        vectors_checked++;
    }
    fx_free(&f);
}

/* ---- lifecycle ---- */

static void expect_plain_error(fx *f, httpa_msg *req, int64_t now, httpa_err want)
{
    httpa_msg resp;
    httpa_buf body;
    assert_int_equal(serve(f, req, HTTPA_SPAN(NULL, 0), now, &resp, &body), want);
    assert_int_equal(resp.status, httpa_err_status(want));
    assert_null(find(&resp, "attest-binder"));
    assert_string_equal(find(&resp, "attest-error")->value, httpa_err_token(want));
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
}

static void test_expired_base(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    f.base->expires_at = f.now + 10;
    httpa_msg m;
    httpa_client_txn *t = protect_simple(&f, 0, "GET", "/x", NULL, &m);
    expect_plain_error(&f, &m, f.now + 10, HTTPA_ERR_EXPIRED_BASE);
    assert_int_equal(httpa_server_sweep(f.srv, f.now + 9), 0);
    assert_int_equal(httpa_server_sweep(f.srv, f.now + 10), 1);
    assert_int_equal(httpa_server_base_count(f.srv), 0);
    expect_plain_error(&f, &m, f.now + 10, HTTPA_ERR_UNKNOWN_BASE);
    assert_true(httpa_client_base_expired(f.cb, f.now + 3600));
    httpa_client_txn_free(t);
    httpa_msg_free(&m);
    fx_free(&f);
}

static void test_usage_limit(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    pthread_mutex_lock(&f.base->lock);
    f.base->accepted = HTTPA_MAX_REQUESTS - 1;
    pthread_mutex_unlock(&f.base->lock);
    httpa_msg m1, m2, m3, resp;
    httpa_buf body;
    httpa_client_txn *c1 = protect_simple(&f, 0, "GET", "/a", NULL, &m1);
    httpa_client_txn *c2 = protect_simple(&f, 1, "GET", "/b", NULL, &m2);
    httpa_client_txn *c3 = protect_simple(&f, 2, "GET", "/c", NULL, &m3);
    httpa_server_txn *t = NULL;
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, SIZE_MAX);
    assert_ok(httpa_server_open(f.srv, &m1, f.now, &t, &resp, &body)); /* the 2^24th */
    expect_plain_error(&f, &m2, f.now, HTTPA_ERR_EXPIRED_BASE);
    httpa_server_txn_free(t); /* the base ends with its last accepted request */
    expect_plain_error(&f, &m3, f.now, HTTPA_ERR_UNKNOWN_BASE);
    /* the client refuses a 2^24th request on its own */
    httpa_msg m4;
    httpa_msg_init_request(&m4);
    assert_ok(httpa_msg_set_request_line(&m4, "GET", 3, "/d", 2));
    atomic_store(&f.cb->next_seq, HTTPA_MAX_REQUESTS);
    httpa_client_txn *c4 = NULL;
    assert_int_equal(httpa_client_protect(f.cb, &m4, NULL, &c4), HTTPA_ERR_EXPIRED_BASE);
    assert_null(c4);
    httpa_client_txn_free(c1);
    httpa_client_txn_free(c2);
    httpa_client_txn_free(c3);
    httpa_msg_free(&m1);
    httpa_msg_free(&m2);
    httpa_msg_free(&m3);
    httpa_msg_free(&m4);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    fx_free(&f);
}

/* Respond 200 with `text` as body; the client verifies and reads it. */
static void answer_and_check(httpa_server_txn *st, httpa_client_txn *ct, const char *text)
{
    httpa_msg resp;
    httpa_buf wire, plain;
    httpa_seal_opts o = {.has_body = text != NULL, .content_length = text ? strlen(text) : 0};
    httpa_msg_init_response(&resp, 200);
    assert_ok(httpa_msg_add_str(&resp, "Content-Type", "text/plain"));
    assert_ok(httpa_server_txn_respond(st, &resp, &o));
    assert_int_equal(httpa_server_txn_respond(st, &resp, &o), HTTPA_ERR_BAD_STATE);
    httpa_buf_init(&wire, SIZE_MAX);
    httpa_buf_init(&plain, SIZE_MAX);
    assert_ok(httpa_server_txn_seal(st, HTTPA_SPAN(text, o.content_length), true, &wire));
    assert_ok(httpa_client_txn_response(ct, &resp));
    assert_ok(httpa_client_txn_body(ct, httpa_buf_span(&wire), true, &plain));
    tl_assert_bytes(plain.base, plain.len, text, o.content_length);
    httpa_msg_free(&resp);
    httpa_buf_free(&wire);
    httpa_buf_free(&plain);
}

static httpa_server_txn *open_ok(fx *f, httpa_msg *req)
{
    httpa_msg resp;
    httpa_buf body;
    httpa_server_txn *t = NULL;
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, SIZE_MAX);
    assert_ok(httpa_server_open(f->srv, req, f->now, &t, &resp, &body));
    assert_non_null(t);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    return t;
}

static void test_termination(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    httpa_seal_opts term = {.terminate = true};
    httpa_msg ma, mb, mc, md;
    httpa_client_txn *ca = protect_simple(&f, 5, "GET", "/a", NULL, &ma);
    httpa_client_txn *cb = protect_simple(&f, 6, "DELETE", "/session", &term, &mb);
    httpa_client_txn *cc = protect_simple(&f, 7, "GET", "/c", NULL, &mc);
    httpa_server_txn *ta = open_ok(&f, &ma);
    httpa_server_txn *tb = open_ok(&f, &mb);
    /* from the commit of the terminating request on: no new request */
    expect_plain_error(&f, &mc, f.now, HTTPA_ERR_EXPIRED_BASE);
    answer_and_check(tb, cb, NULL);
    assert_true(atomic_load(&f.cb->closed));
    httpa_msg_init_request(&md);
    assert_ok(httpa_msg_set_request_line(&md, "GET", 3, "/d", 2));
    httpa_client_txn *cd = NULL;
    assert_int_equal(httpa_client_protect(f.cb, &md, NULL, &cd), HTTPA_ERR_EXPIRED_BASE);
    httpa_server_txn_free(tb);
    assert_int_equal(httpa_server_base_count(f.srv), 0);
    expect_plain_error(&f, &mc, f.now, HTTPA_ERR_UNKNOWN_BASE);
    /* a request committed before the termination is still answered */
    answer_and_check(ta, ca, "still protected");
    httpa_server_txn_free(ta);
    httpa_client_txn_free(ca);
    httpa_client_txn_free(cb);
    httpa_client_txn_free(cc);
    httpa_msg_free(&ma);
    httpa_msg_free(&mb);
    httpa_msg_free(&mc);
    httpa_msg_free(&md);
    fx_free(&f);
}

/* ---- authenticated errors ---- */

/* The server answers `req` with an error carrying a binder; the client
 * verifies it as a protected response with that status. */
static void expect_bound_error(fx *f, httpa_client_txn *ct, httpa_msg *req, httpa_span wire,
                               httpa_err want, int status)
{
    httpa_msg resp;
    httpa_buf body, plain;
    assert_int_equal(serve(f, req, wire, f->now, &resp, &body), want);
    assert_int_equal(resp.status, status);
    assert_non_null(find(&resp, "attest-binder"));
    assert_ok(httpa_client_txn_response(ct, &resp));
    assert_int_equal(resp.status, status);
    assert_string_equal(find(&resp, "attest-error")->value, httpa_err_token(want));
    assert_string_equal(find(&resp, "content-type")->value, "application/problem+json");
    httpa_buf_init(&plain, SIZE_MAX);
    assert_ok(httpa_client_txn_body(ct, httpa_buf_span(&body), true, &plain));
    assert_ok(httpa_buf_append_u8(&plain, 0));
    assert_non_null(strstr((const char *)plain.base, httpa_err_token(want)));
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    httpa_buf_free(&plain);
}

static int validations;

static bool reject_secrets(void *arg, const char *const *names, const httpa_span *values,
                           size_t n)
{
    (void)names;
    (void)values;
    (void)n;
    ++*(int *)arg;
    return false;
}

static bool accept_secrets(void *arg, const char *const *names, const httpa_span *values,
                           size_t n)
{
    ++*(int *)arg;
    return n == 1 && strcmp(names[0], "db-key") == 0 && values[0].len == 5;
}

static httpa_client_txn *protect_atsp(fx *f, httpa_msg *m)
{
    static const char *const names[] = {"db-key"};
    const httpa_span values[] = {HTTPA_SPAN_STR("hello")};
    httpa_seal_opts o = {.secret_names = names, .secret_values = values, .nsecrets = 1};
    return protect_simple(f, 0, "ATTEST", "/.well-known/httpa", &o, m);
}

static void test_validate_secrets(void **state)
{
    (void)state;
    httpa_server_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.validate_secrets = reject_secrets;
    cfg.validate_arg = &validations;
    validations = 0;
    fx f;
    fx_init_cfg(&f, &cfg, false);
    httpa_msg m;
    httpa_client_txn *ct = protect_atsp(&f, &m);
    expect_bound_error(&f, ct, &m, HTTPA_SPAN(NULL, 0), HTTPA_ERR_POLICY_VIOLATION, 422);
    assert_int_equal(validations, 1);
    assert_int_equal(f.base->nsecrets, 0); /* nothing provisioned */
    httpa_client_txn_free(ct);
    httpa_msg_free(&m);
    fx_free(&f);

    cfg.validate_secrets = accept_secrets;
    fx_init_cfg(&f, &cfg, false);
    ct = protect_atsp(&f, &m);
    httpa_server_txn *st = open_ok(&f, &m);
    answer_and_check(st, ct, NULL);
    httpa_server_txn_free(st);
    assert_int_equal(validations, 2);
    pthread_mutex_lock(&f.base->lock);
    assert_int_equal(f.base->nsecrets, 1);
    tl_assert_bytes(f.base->secret_values[0].base, f.base->secret_values[0].len, "hello", 5);
    pthread_mutex_unlock(&f.base->lock);
    httpa_client_txn_free(ct);
    httpa_msg_free(&m);
    fx_free(&f);
}

/* A TrT with a body of `len` octets of 'b', sealed by the client. */
static httpa_client_txn *protect_with_body(fx *f, uint64_t seq, size_t len, httpa_msg *m,
                                           httpa_buf *wire)
{
    httpa_seal_opts o = {.has_body = true, .content_length = len};
    httpa_client_txn *t = protect_simple(f, seq, "PUT", "/blob", &o, m);
    uint8_t *p = malloc(len + 1);
    memset(p, 'b', len);
    httpa_buf_init(wire, SIZE_MAX);
    assert_ok(httpa_client_txn_seal(t, HTTPA_SPAN(p, len), true, wire));
    free(p);
    return t;
}

static void test_outer_content_encoding(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    httpa_msg m;
    httpa_buf wire;
    httpa_client_txn *ct = protect_with_body(&f, 3, 100, &m, &wire);
    assert_ok(httpa_msg_add_str(&m, "Content-Encoding", "gzip")); /* not MAC'd: passes step 7 */
    expect_bound_error(&f, ct, &m, httpa_buf_span(&wire), HTTPA_ERR_BAD_REQUEST, 400);
    httpa_client_txn_free(ct);
    httpa_msg_free(&m);
    httpa_buf_free(&wire);
    fx_free(&f);
}

static void test_sealed_fields(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    /* the client refuses to seal what may not be sealed */
    static const char *const host[] = {"host", NULL};
    static const char *const ctype[] = {"Content-Type", NULL};
    static const char *const attest[] = {"attest-foo", NULL};
    const char *const *bad[] = {host, ctype, attest};
    for (size_t i = 0; i < 3; i++) {
        httpa_msg m;
        httpa_client_txn *t = NULL;
        httpa_seal_opts o = {.seal = bad[i]};
        httpa_msg_init_request(&m);
        assert_ok(httpa_msg_set_request_line(&m, "GET", 3, "/", 1));
        assert_ok(httpa_msg_add_str(&m, "Host", "h"));
        assert_int_equal(httpa_client_protect(f.cb, &m, &o, &t), HTTPA_ERR_INVALID_ARG);
        assert_null(t);
        httpa_msg_free(&m);
    }
    /* a sealed field also sent outside: bad_request with a binder */
    static const char *const tenant[] = {"x-tenant", NULL};
    httpa_seal_opts o = {.seal = tenant};
    httpa_msg m;
    httpa_msg_init_request(&m);
    assert_ok(httpa_msg_set_request_line(&m, "GET", 3, "/t", 2));
    assert_ok(httpa_msg_add_str(&m, "X-Tenant", "acme"));
    assert_ok(httpa_msg_add_str(&m, "Authorization", "Bearer t"));
    atomic_store(&f.cb->next_seq, 4);
    httpa_client_txn *ct;
    assert_ok(httpa_client_protect(f.cb, &m, &o, &ct));
    assert_null(find(&m, "authorization")); /* always sealed */
    assert_null(find(&m, "x-tenant"));
    assert_ok(httpa_msg_add_str(&m, "x-tenant", "evil"));
    expect_bound_error(&f, ct, &m, HTTPA_SPAN(NULL, 0), HTTPA_ERR_BAD_REQUEST, 400);
    httpa_client_txn_free(ct);
    httpa_msg_free(&m);
    fx_free(&f);
}

static void test_structure_errors(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    httpa_msg m;
    /* Attest-Secrets on a TrT: step 4, before authentication */
    httpa_client_txn *t = protect_simple(&f, 1, "GET", "/x", NULL, &m);
    assert_ok(httpa_msg_add_str(&m, "Attest-Secrets", "x=:AAAAAAAAAAAAAAAAAAAAAA==:"));
    expect_plain_error(&f, &m, f.now, HTTPA_ERR_BAD_REQUEST);
    httpa_client_txn_free(t);
    httpa_msg_free(&m);
    /* CONNECT with an Attest-Base-ID */
    t = protect_simple(&f, 2, "GET", "/x", NULL, &m);
    assert_ok(httpa_msg_set_request_line(&m, "CONNECT", 7, "tservice.example:443", 20));
    expect_plain_error(&f, &m, f.now, HTTPA_ERR_BAD_REQUEST);
    httpa_client_txn_free(t);
    httpa_msg_free(&m);
    httpa_msg_init_request(&m);
    assert_ok(httpa_msg_set_request_line(&m, "CONNECT", 7, "tservice.example:443", 20));
    assert_int_equal(httpa_client_protect(f.cb, &m, NULL, &t), HTTPA_ERR_INVALID_ARG);
    httpa_msg_free(&m);
    /* an invalid termination token, an Attest-Binder in a request */
    t = protect_simple(&f, 3, "GET", "/x", NULL, &m);
    assert_ok(httpa_msg_add_str(&m, "Attest-Base-Termination", "later"));
    expect_plain_error(&f, &m, f.now, HTTPA_ERR_BAD_REQUEST);
    httpa_msg_remove(&m, "Attest-Base-Termination", 23);
    assert_ok(httpa_msg_add_str(&m, "Attest-Binder", "?1"));
    expect_plain_error(&f, &m, f.now, HTTPA_ERR_BAD_REQUEST);
    httpa_client_txn_free(t);
    httpa_msg_free(&m);
    /* a malformed Base-ID */
    t = protect_simple(&f, 4, "GET", "/x", NULL, &m);
    set_field(&m, "Attest-Base-ID", "\"6F1C9E0A-3B2D-4C5E-8F70-112233445566\"");
    expect_plain_error(&f, &m, f.now, HTTPA_ERR_BAD_REQUEST);
    httpa_client_txn_free(t);
    httpa_msg_free(&m);
    /* none of it moved the window: seq 1 is still fresh */
    pthread_mutex_lock(&f.base->lock);
    assert_false(f.base->window.any);
    pthread_mutex_unlock(&f.base->lock);
    fx_free(&f);
}

static void test_too_large(void **state)
{
    (void)state;
    httpa_server_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.limits.max_cargo = 8192;
    cfg.limits.max_body = 1000;
    fx f;
    fx_init_cfg(&f, &cfg, false);
    /* a Cargo above the server's limit */
    static const char *const big[] = {"x-big", NULL};
    char *v = malloc(9001);
    memset(v, 'a', 9000);
    v[9000] = '\0';
    httpa_msg m;
    httpa_msg_init_request(&m);
    assert_ok(httpa_msg_set_request_line(&m, "GET", 3, "/big", 4));
    assert_ok(httpa_msg_add_str(&m, "x-big", v));
    free(v);
    httpa_seal_opts o = {.seal = big};
    httpa_client_txn *ct;
    assert_ok(httpa_client_protect(f.cb, &m, &o, &ct));
    expect_bound_error(&f, ct, &m, HTTPA_SPAN(NULL, 0), HTTPA_ERR_TOO_LARGE, 413);
    httpa_client_txn_free(ct);
    httpa_msg_free(&m);
    /* a declared body above max_body */
    httpa_buf wire;
    ct = protect_with_body(&f, 7, 2000, &m, &wire);
    expect_bound_error(&f, ct, &m, httpa_buf_span(&wire), HTTPA_ERR_TOO_LARGE, 413);
    httpa_client_txn_free(ct);
    httpa_msg_free(&m);
    httpa_buf_free(&wire);
    /* a streamed body that grows past it fails while it arrives */
    httpa_seal_opts s = {.has_body = true, .content_length = UINT64_MAX};
    ct = protect_simple(&f, 8, "PUT", "/s", &s, &m);
    httpa_buf_init(&wire, SIZE_MAX);
    uint8_t chunk[1500] = {0};
    assert_ok(httpa_client_txn_seal(ct, HTTPA_SPAN(chunk, sizeof(chunk)), true, &wire));
    expect_bound_error(&f, ct, &m, httpa_buf_span(&wire), HTTPA_ERR_TOO_LARGE, 413);
    httpa_client_txn_free(ct);
    httpa_msg_free(&m);
    httpa_buf_free(&wire);
    fx_free(&f);
}

static void test_untrusted_request(void **state)
{
    (void)state;
    fx f;
    fx_init_cfg(&f, NULL, true);
    httpa_msg m, resp;
    httpa_buf body;
    httpa_client_txn *ct = protect_simple(&f, 0, "GET", "/public", NULL, &m);
    httpa_client_txn_free(ct);
    httpa_msg_remove(&m, "Attest-Ticket", 13);
    size_t n = m.nheaders;
    httpa_server_txn *t = (httpa_server_txn *)&m; /* must be overwritten */
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, SIZE_MAX);
    assert_ok(httpa_server_open(f.srv, &m, f.now, &t, &resp, &body));
    assert_null(t);
    assert_int_equal(m.nheaders, n); /* untouched */
    assert_non_null(find(&m, "attest-base-id"));
    httpa_msg_free(&m);
    /* an ATTEST without ticket is never a UtR */
    ct = protect_atsp(&f, &m);
    httpa_client_txn_free(ct);
    httpa_msg_remove(&m, "Attest-Ticket", 13);
    expect_plain_error(&f, &m, f.now, HTTPA_ERR_BAD_TICKET);
    httpa_msg_free(&m);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    fx_free(&f);
}

/* ---- client-side checks not covered by the vectors ---- */

static void test_client_response_checks(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    httpa_msg m, r;
    httpa_client_txn *ct = protect_simple(&f, 1, "GET", "/x", NULL, &m);
    /* interim responses are ignored; 101 and unbound ones are unauthenticated */
    httpa_msg_init_response(&r, 100);
    assert_ok(httpa_client_txn_response(ct, &r));
    httpa_msg_free(&r);
    httpa_msg_init_response(&r, 101);
    assert_int_equal(httpa_client_txn_response(ct, &r), HTTPA_ERR_BAD_TICKET);
    httpa_msg_free(&r);
    httpa_msg_init_response(&r, 503);
    assert_ok(httpa_msg_add_str(&r, "Attest-Error", "unknown_base"));
    assert_int_equal(httpa_client_txn_response(ct, &r), HTTPA_ERR_UNKNOWN_BASE);
    httpa_msg_free(&r);
    /* the real response, then a second one is refused */
    httpa_server_txn *st = open_ok(&f, &m);
    answer_and_check(st, ct, "ok");
    httpa_msg_init_response(&r, 200);
    assert_int_equal(httpa_client_txn_response(ct, &r), HTTPA_ERR_BAD_STATE);
    httpa_msg_free(&r);
    httpa_server_txn_free(st);
    httpa_client_txn_free(ct);
    httpa_msg_free(&m);
    /* a TrT response must not carry secrets: the server refuses to send them */
    ct = protect_simple(&f, 2, "GET", "/y", NULL, &m);
    st = open_ok(&f, &m);
    static const char *const names[] = {"k"};
    const httpa_span values[] = {HTTPA_SPAN_STR("v")};
    httpa_seal_opts o = {.secret_names = names, .secret_values = values, .nsecrets = 1};
    httpa_msg_init_response(&r, 200);
    assert_int_equal(httpa_server_txn_respond(st, &r, &o), HTTPA_ERR_INVALID_ARG);
    httpa_msg_free(&r);
    httpa_server_txn_free(st);
    httpa_client_txn_free(ct);
    httpa_msg_free(&m);
    fx_free(&f);
}

/* ---- concurrency ---- */

enum { THREADS = 8, PER_THREAD = 40, BODY = 3000 };

typedef struct worker {
    fx *f;
    pthread_barrier_t *round;
    unsigned id;
    int failures;
} worker;

/* One TrT through both ends without cmocka (not thread-safe). */
static bool roundtrip(fx *f, unsigned id, unsigned i)
{
    uint8_t body[BODY];
    for (size_t k = 0; k < BODY; k++)
        body[k] = (uint8_t)(id * 31 + i * 7 + k);
    char target[32];
    snprintf(target, sizeof(target), "/echo/%u/%u", id, i);
    httpa_msg req, resp, err;
    httpa_buf wire, plain, rwire, rplain, ebody;
    httpa_msg_init_request(&req);
    httpa_msg_init_response(&err, 0);
    httpa_buf_init(&wire, SIZE_MAX);
    httpa_buf_init(&plain, SIZE_MAX);
    httpa_buf_init(&rwire, SIZE_MAX);
    httpa_buf_init(&rplain, SIZE_MAX);
    httpa_buf_init(&ebody, SIZE_MAX);
    httpa_seal_opts o = {.has_body = true, .content_length = BODY, .record_size = 1024};
    httpa_client_txn *ct = NULL;
    httpa_server_txn *st = NULL;
    bool ok = httpa_msg_set_request_line(&req, "POST", 4, target, strlen(target)) == HTTPA_OK &&
              httpa_msg_add_str(&req, "Authorization", "Bearer t") == HTTPA_OK &&
              httpa_client_protect(f->cb, &req, &o, &ct) == HTTPA_OK &&
              httpa_client_txn_seal(ct, HTTPA_SPAN(body, BODY), true, &wire) == HTTPA_OK &&
              httpa_server_open(f->srv, &req, f->now, &st, &err, &ebody) == HTTPA_OK &&
              httpa_server_txn_body(st, httpa_buf_span(&wire), true, &plain) == HTTPA_OK &&
              plain.len == BODY && memcmp(plain.base, body, BODY) == 0 &&
              strcmp(req.target, target) == 0;
    httpa_msg_init_response(&resp, 200);
    ok = ok && httpa_server_txn_respond(st, &resp, &o) == HTTPA_OK &&
         httpa_server_txn_seal(st, httpa_buf_span(&plain), true, &rwire) == HTTPA_OK &&
         httpa_client_txn_response(ct, &resp) == HTTPA_OK &&
         httpa_client_txn_body(ct, httpa_buf_span(&rwire), true, &rplain) == HTTPA_OK &&
         rplain.len == BODY && memcmp(rplain.base, body, BODY) == 0;
    httpa_server_txn_free(st);
    httpa_client_txn_free(ct);
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_msg_free(&err);
    httpa_buf_free(&wire);
    httpa_buf_free(&plain);
    httpa_buf_free(&rwire);
    httpa_buf_free(&rplain);
    httpa_buf_free(&ebody);
    return ok;
}

/* The threads run in rounds: a thread descheduled between protect and open
 * while the others complete 128 requests would rightly get `replay` (its
 * seq fell out of the window); rounds keep the lag below 2 * THREADS. */
static void *worker_main(void *p)
{
    worker *w = p;
    for (unsigned i = 0; i < PER_THREAD; i++) {
        if (!roundtrip(w->f, w->id, i))
            w->failures++;
        pthread_barrier_wait(w->round);
    }
    return NULL;
}

static void test_concurrent_trts(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    pthread_t th[THREADS];
    worker w[THREADS];
    pthread_barrier_t round;
    assert_int_equal(pthread_barrier_init(&round, NULL, THREADS), 0);
    for (unsigned i = 0; i < THREADS; i++) {
        w[i] = (worker){&f, &round, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
    }
    pthread_barrier_destroy(&round);
    pthread_mutex_lock(&f.base->lock);
    assert_int_equal(f.base->accepted, THREADS * PER_THREAD);
    assert_int_equal(f.base->window.max_seq, THREADS * PER_THREAD - 1);
    pthread_mutex_unlock(&f.base->lock);
    assert_int_equal(atomic_load(&f.cb->refs), 1);
    fx_free(&f);
}

/* ---- the store ---- */

static void test_store_random_cache(void **state)
{
    (void)state;
    httpa_store *st;
    assert_ok(httpa_store_new(16, &st));
    uint8_t r[32] = {1, 2, 3};
    assert_ok(httpa_store_random_check(st, r, 100, 0, false));
    assert_ok(httpa_store_random_check(st, r, 100, 0, true));
    assert_int_equal(httpa_store_random_check(st, r, 100, 50, false), HTTPA_ERR_REPLAY);
    assert_int_equal(httpa_store_random_check(st, r, 100, 100, true), HTTPA_ERR_REPLAY);
    assert_ok(httpa_store_random_check(st, r, 300, 101, true)); /* expired, then again */
    assert_int_equal(httpa_store_random_check(st, r, 300, 200, false), HTTPA_ERR_REPLAY);
    /* bounded: grows to its ceiling (16 bases -> 1024 slots, 768 live), then refuses */
    size_t ok = 0;
    httpa_err e = HTTPA_OK;
    for (uint32_t i = 0; i < 2000 && e == HTTPA_OK; i++) {
        uint8_t x[32] = {0};
        httpa_put_u32(x, i * 2654435761u);
        httpa_put_u32(x + 28, i);
        e = httpa_store_random_check(st, x, 1000, 200, true);
        ok += e == HTTPA_OK;
    }
    assert_int_equal(e, HTTPA_ERR_INTERNAL);
    assert_true(ok >= 700);
    /* once those expire there is room again */
    assert_ok(httpa_store_random_check(st, (uint8_t[32]){9}, 2000, 1001, true));
    httpa_store_free(st);
}

static void test_store_capacity(void **state)
{
    (void)state;
    httpa_store *st;
    assert_ok(httpa_store_new(2, &st));
    const char *ids[] = {"00000000-0000-4000-8000-000000000001",
                         "00000000-0000-4000-8000-000000000002",
                         "00000000-0000-4000-8000-000000000003"};
    httpa_base *b[3];
    for (int i = 0; i < 3; i++) {
        assert_ok(httpa_base_new(&b[i]));
        strcpy(b[i]->id, ids[i]);
        b[i]->expires_at = i == 0 ? 10 : 100;
    }
    assert_ok(httpa_store_insert(st, b[0], 0));
    assert_ok(httpa_store_insert(st, b[1], 0));
    assert_int_equal(httpa_store_insert(st, b[2], 5), HTTPA_ERR_INTERNAL);
    assert_ok(httpa_store_insert(st, b[2], 10)); /* the expired one made room */
    assert_int_equal(httpa_store_count(st), 2);
    httpa_base *g = NULL;
    assert_int_equal(httpa_store_get(st, ids[0], 36, 10, &g), HTTPA_ERR_UNKNOWN_BASE);
    assert_int_equal(httpa_store_get(st, ids[1], 36, 100, &g), HTTPA_ERR_EXPIRED_BASE);
    assert_null(g);
    assert_ok(httpa_store_get(st, ids[1], 36, 99, &g));
    assert_ptr_equal(g, b[1]);
    httpa_store_remove(st, g); /* still ours until put */
    assert_int_equal(httpa_store_count(st), 1);
    assert_int_equal(httpa_store_get(st, ids[1], 36, 50, &g), HTTPA_ERR_UNKNOWN_BASE);
    httpa_store_put(st, b[1]); /* the get */
    for (int i = 0; i < 3; i++)
        httpa_store_put(st, b[i]); /* the creators' references */
    assert_int_equal(httpa_store_sweep(st, 100), 1);
    assert_int_equal(httpa_store_count(st), 0);
    httpa_store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_atsp_trt1_trt2),
        cmocka_unit_test(test_negative_vectors),
        cmocka_unit_test(test_replay_window_vector),
        cmocka_unit_test(test_expired_base),
        cmocka_unit_test(test_usage_limit),
        cmocka_unit_test(test_termination),
        cmocka_unit_test(test_validate_secrets),
        cmocka_unit_test(test_outer_content_encoding),
        cmocka_unit_test(test_sealed_fields),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_untrusted_request),
        cmocka_unit_test(test_client_response_checks),
        cmocka_unit_test(test_concurrent_trts),
        cmocka_unit_test(test_store_random_cache),
        cmocka_unit_test(test_store_capacity),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    printf("transaction vectors: %d checked\n", vectors_checked);
    return failed;
}
