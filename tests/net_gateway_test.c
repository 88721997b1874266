/* End to end over real sockets on 127.0.0.1: an HTTPA client (the engine's
 * client API over libcurl) -> httpa-gateway (a child process, sim TEE) ->
 * an HTTP/1.1 upstream application (threads of this process). Each test
 * starts and stops its own gateway and upstream on ports the kernel picks.
 * The gateway binary is found next to this test's build directory
 * (../programs/httpa-gateway) or through $HTTPA_GATEWAY. */
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
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "e2e/e2e.h"

/* The helpers are compiled into this test (one translation unit), so the
 * test needs no build rule of its own beyond the tests/ glob. */
#include "e2e/harness.c"
#include "e2e/upstream.c"
#include "e2e/fixture.c"

static fixture *fixture_of(void **state, size_t resp_len, bool chunked)
{
    fixture *f = *state;
    f->up.resp_len = resp_len;
    f->up.chunked = chunked;
    return f;
}

static void start_gw(fixture *f, const char *const *extra, long version)
{
    assert_int_equal(e2e_gw_start(&f->gw, f->upstream_url, extra), 0);
    e2e_client_init(&f->cli, &f->gw, version);
}

static void request(httpa_msg *m, const char *method, const char *target)
{
    httpa_msg_init_request(m);
    assert_int_equal(httpa_msg_set_request_line(m, method, strlen(method), target, strlen(target)),
                     HTTPA_OK);
}

static const httpa_header *find(const httpa_msg *m, const char *name)
{
    return httpa_msg_find(m, name, strlen(name));
}

/* A TrT with a sealed target, two sealed fields and a 40000-octet body;
 * the upstream answers `resp_len` octets (chunked or not). */
static void roundtrip(void **state, long version, size_t resp_len, bool chunked)
{
    static const char *const seal[] = {"x-tenant", NULL};
    fixture *f = fixture_of(state, resp_len, chunked);
    start_gw(f, NULL, version);
    assert_int_equal(e2e_handshake(&f->cli), HTTPA_OK);

    uint8_t *body = malloc(40000), *expect = malloc(resp_len + 1);
    e2e_pattern(body, 40000, 3);
    e2e_pattern(expect, resp_len, 7);
    httpa_msg req;
    e2e_resp resp;
    request(&req, "POST", "/api/orders?id=42");
    assert_int_equal(httpa_msg_add_str(&req, "Authorization", "Bearer t0k3n"), HTTPA_OK);
    assert_int_equal(httpa_msg_add_str(&req, "X-Tenant", "acme"), HTTPA_OK);
    assert_int_equal(httpa_msg_add_str(&req, "Content-Type", "application/json"), HTTPA_OK);
    assert_int_equal(httpa_msg_add_str(&req, "X-Httpa-Sealed", "forged"), HTTPA_OK);
    httpa_seal_opts opts = {.seal = seal, .hide_target = true};
    e2e_resp_init(&resp);
    assert_int_equal(e2e_protected(&f->cli, &req, HTTPA_SPAN(body, 40000), &opts, NULL, NULL, &resp),
                     HTTPA_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.http_version, version == CURL_HTTP_VERSION_1_1 ? CURL_HTTP_VERSION_1_1
                                                                         : CURL_HTTP_VERSION_2_0);
    /* the response came back intact, its sealed field restored */
    assert_int_equal(resp.body.len, resp_len);
    assert_memory_equal(resp.body.base, expect, resp_len);
    const httpa_header *cookie = find(&resp.msg, "set-cookie");
    assert_non_null(cookie);
    assert_true(cookie->sealed);
    assert_string_equal(cookie->value, "sid=upstream-secret; HttpOnly");
    assert_string_equal(find(&resp.msg, "content-type")->value, "application/x-test");

    /* the upstream got the restored request, and nothing forged */
    e2e_upreq u = {0};
    assert_int_equal(e2e_upstream_count(&f->up), 1);
    assert_true(e2e_upstream_get(&f->up, 0, &u));
    assert_memory_equal(u.head, "POST /api/orders?id=42 HTTP/1.1\r\n", 33);
    assert_true(e2e_head_has(u.head, "authorization", "Bearer t0k3n"));
    assert_true(e2e_head_has(u.head, "x-tenant", "acme"));
    assert_true(e2e_head_has(u.head, "content-type", "application/json"));
    assert_true(e2e_head_has(u.head, "x-httpa-kind", "trt"));
    assert_true(e2e_head_has(u.head, "x-httpa-base-id", httpa_client_base_id(f->cli.base)));
    char sealed[256];
    assert_true(e2e_head_value(u.head, "x-httpa-sealed", sealed, sizeof(sealed)));
    assert_non_null(strstr(sealed, "authorization"));
    assert_non_null(strstr(sealed, "x-tenant"));
    assert_null(strstr(u.head, "forged"));
    assert_null(strstr(u.head, "attest-"));
    assert_null(strstr(u.head, "Attest-"));
    assert_int_equal(u.body_len, 40000);
    assert_memory_equal(u.body, body, 40000);
    free(u.head);
    free(u.body);
    httpa_msg_free(&req);
    e2e_resp_free(&resp);

    /* a second TrT on the same base (and the same keep-alive connections) */
    request(&req, "GET", "/status");
    e2e_resp_init(&resp);
    httpa_seal_opts none = {0};
    assert_int_equal(e2e_protected(&f->cli, &req, HTTPA_SPAN(NULL, 0), &none, NULL, NULL, &resp),
                     HTTPA_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body.len, resp_len);
    assert_int_equal(e2e_upstream_count(&f->up), 2);
    httpa_msg_free(&req);
    e2e_resp_free(&resp);
    free(body);
    free(expect);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *s = calloc(1, 1 << 20);
    if (f != NULL) {
        size_t n = fread(s, 1, (1 << 20) - 1, f);
        s[n] = '\0';
        fclose(f);
    }
    return s;
}

static void test_trt_http1_chunked_response(void **state)
{
    roundtrip(state, CURL_HTTP_VERSION_1_1, 70000, true);
    /* the access log has the outer view and no secret */
    fixture *f = *state;
    char path[128];
    snprintf(path, sizeof(path), "%s/access.log", f->gw.dir);
    char *log = read_file(path);
    assert_non_null(strstr(log, "\"event\":\"access\",\"method\":\"POST\",\"target\":\"/.well-known/httpa\",\"status\":200"));
    assert_non_null(strstr(log, "\"kind\":\"trt\""));
    assert_non_null(strstr(log, "\"kind\":\"aths\""));
    assert_non_null(strstr(log, httpa_client_base_id(f->cli.base)));
    assert_non_null(strstr(log, "SIMULATED TEE"));
    static const char *const secrets[] = {"t0k3n", "acme", "upstream-secret", "/api/orders",
                                          "application/json", "application/x-test"};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        assert_null(strstr(log, secrets[i]));
    free(log);
}

static void test_trt_large_streamed_response(void **state)
{
    roundtrip(state, CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE, 6 << 20, true);
}

static void test_trt_http1_length_response(void **state)
{
    roundtrip(state, CURL_HTTP_VERSION_1_1, 16384 * 2, false); /* whole records only: empty final */
}

static void test_trt_http2_prior_knowledge(void **state)
{
    roundtrip(state, CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE, 70000, true);
}

/* ---- TLS: HTTP/2 through ALPN, and HTTP/1.1 ---- */

static void make_cert(const char *cert, const char *key)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(pk);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1, 0);
    X509_set_issuer_name(x, name);
    assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
    FILE *f = fopen(cert, "w");
    assert_true(f != NULL && PEM_write_X509(f, x) == 1);
    fclose(f);
    f = fopen(key, "w");
    assert_true(f != NULL && PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) == 1);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(pk);
}

static void test_tls_http2_and_http1(void **state)
{
    fixture *f = fixture_of(state, 30000, true);
    char cert[] = "/tmp/httpa-e2e-cert-XXXXXX", key[] = "/tmp/httpa-e2e-key-XXXXXX";
    close(mkstemp(cert));
    close(mkstemp(key));
    make_cert(cert, key);
    const char *const extra[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    start_gw(f, extra, CURL_HTTP_VERSION_2TLS);
    f->gw.tls = true;
    static const long versions[] = {CURL_HTTP_VERSION_2TLS, CURL_HTTP_VERSION_1_1};
    for (size_t i = 0; i < 2; i++) {
        e2e_client_free(&f->cli);
        e2e_client_init(&f->cli, &f->gw, versions[i]);
        assert_int_equal(e2e_handshake(&f->cli), HTTPA_OK);
        httpa_msg req;
        e2e_resp resp;
        request(&req, "POST", "/tls");
        httpa_seal_opts none = {0};
        e2e_resp_init(&resp);
        assert_int_equal(e2e_protected(&f->cli, &req, HTTPA_SPAN_STR("{\"a\":1}"), &none, NULL, NULL,
                                       &resp), HTTPA_OK);
        assert_int_equal(resp.status, 200);
        assert_int_equal(resp.http_version, i == 0 ? CURL_HTTP_VERSION_2_0 : CURL_HTTP_VERSION_1_1);
        assert_int_equal(resp.body.len, 30000);
        httpa_msg_free(&req);
        e2e_resp_free(&resp);
    }
    assert_int_equal(e2e_upstream_count(&f->up), 2);
    unlink(cert);
    unlink(key);
}

/* ---- the embedding API: examples/h2o-embed serves HTTPA/2 itself ---- */

static void test_embedded_application(void **state)
{
    fixture *f = *state;
    assert_int_equal(e2e_embed_start(&f->gw), 0);
    e2e_client_init(&f->cli, &f->gw, CURL_HTTP_VERSION_1_1);
    assert_int_equal(e2e_handshake(&f->cli), HTTPA_OK);
    httpa_msg req;
    e2e_resp resp;
    httpa_seal_opts none = {0};
    request(&req, "GET", "/api/hello");
    assert_int_equal(httpa_msg_add_str(&req, "Authorization", "Bearer x"), HTTPA_OK);
    e2e_resp_init(&resp);
    assert_int_equal(e2e_protected(&f->cli, &req, HTTPA_SPAN(NULL, 0), &none, NULL, NULL, &resp),
                     HTTPA_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(httpa_buf_append_u8(&resp.body, 0), HTTPA_OK);
    assert_string_equal((char *)resp.body.base, "{\"hello\":\"world\",\"authorization_sealed\":true}");
    httpa_msg_free(&req);
    e2e_resp_free(&resp);

    request(&req, "POST", "/api/echo");
    assert_int_equal(httpa_msg_add_str(&req, "Content-Type", "application/json"), HTTPA_OK);
    e2e_resp_init(&resp);
    assert_int_equal(e2e_protected(&f->cli, &req, HTTPA_SPAN_STR("{\"n\":42}"), &none, NULL, NULL,
                                   &resp), HTTPA_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(httpa_buf_append_u8(&resp.body, 0), HTTPA_OK);
    assert_string_equal((char *)resp.body.base, "{\"length\":8,\"body\":{\"n\":42}}");
    assert_string_equal(find(&resp.msg, "content-type")->value, "application/json");
    httpa_msg_free(&req);
    e2e_resp_free(&resp);
}

/* ---- tampering ---- */

typedef struct tamper_arg {
    const char *what;
} tamper_arg;

static void flip_base64(httpa_header *h)
{
    /* change one base64 digit inside the :...: byte sequence */
    size_t i = h->value_len / 2;
    h->value[i] = h->value[i] == 'A' ? 'B' : 'A';
}

static void tamper(httpa_msg *req, httpa_buf *wire, void *arg)
{
    const char *what = ((tamper_arg *)arg)->what;
    if (strcmp(what, "cargo") == 0) {
        for (size_t i = 0; i < req->nheaders; i++)
            if (httpa_name_eq(req->headers[i].name, req->headers[i].name_len, "attest-cargo", 12))
                flip_base64(&req->headers[i]);
    } else if (strcmp(what, "target") == 0) {
        req->target[1] = 'X'; /* /.well-known/httpa -> /Xwell-known/httpa */
    } else if (strcmp(what, "body") == 0) {
        wire->base[wire->len / 2] ^= 0x01;
    } else if (strcmp(what, "boundary") == 0) {
        wire->len -= 16; /* drop the (empty) final record: cut at a record boundary */
    } else if (strcmp(what, "extend") == 0) {
        wire->base[wire->len - 1] ^= 0x80; /* the final record's tag */
    }
}

/* Damage before the ticket verifies gets an unauthenticated error; damage
 * to the body is found after it, so the error carries a valid binder. */
static void tampered(void **state, const char *what, int status, const char *token, bool authenticated)
{
    fixture *f = fixture_of(state, 100, false);
    start_gw(f, NULL, CURL_HTTP_VERSION_1_1);
    assert_int_equal(e2e_handshake(&f->cli), HTTPA_OK);
    uint8_t *body = malloc(32768);
    e2e_pattern(body, 32768, 5); /* two full records and an empty final one */
    httpa_msg req;
    e2e_resp resp;
    request(&req, "PUT", "/data");
    httpa_seal_opts opts = {.hide_target = true};
    tamper_arg a = {what};
    e2e_resp_init(&resp);
    httpa_err e = e2e_protected(&f->cli, &req, HTTPA_SPAN(body, 32768), &opts, tamper, &a, &resp);
    if (authenticated)
        assert_int_equal(e, HTTPA_OK); /* the binder verified: the TEE said so */
    else
        assert_int_not_equal(e, HTTPA_OK);
    assert_int_equal(resp.status, status);
    assert_string_equal(e2e_attest_error(&resp), token);
    sleep_for_ms(100);
    assert_int_equal(e2e_upstream_count(&f->up), 0); /* the upstream received nothing */
    assert_int_equal(f->up.incomplete, 0);
    assert_true(e2e_gw_alive(&f->gw));
    httpa_msg_free(&req);
    e2e_resp_free(&resp);
    free(body);
}

static void test_tampered_cargo_header(void **state)
{
    tampered(state, "cargo", 403, "bad_ticket", false);
}

static void test_tampered_outer_target(void **state)
{
    tampered(state, "target", 403, "bad_ticket", false);
}

static void test_tampered_body_byte(void **state)
{
    tampered(state, "body", 400, "bad_request", true);
}

static void test_truncated_at_record_boundary(void **state)
{
    tampered(state, "boundary", 400, "bad_request", true);
}

static void test_tampered_final_record(void **state)
{
    tampered(state, "extend", 400, "bad_request", true);
}

/* ---- replay ---- */

typedef struct replay_arg {
    httpa_msg copy;
    httpa_buf wire;
} replay_arg;

static void keep_copy(httpa_msg *req, httpa_buf *wire, void *arg)
{
    replay_arg *r = arg;
    httpa_msg_init_request(&r->copy);
    assert_int_equal(httpa_msg_set_request_line(&r->copy, req->method, req->method_len, req->target,
                                                req->target_len), HTTPA_OK);
    for (size_t i = 0; i < req->nheaders; i++)
        assert_int_equal(httpa_msg_add(&r->copy, req->headers[i].name, req->headers[i].name_len,
                                       req->headers[i].value, req->headers[i].value_len), HTTPA_OK);
    httpa_buf_init(&r->wire, 1 << 20);
    assert_int_equal(httpa_buf_append(&r->wire, wire->base, wire->len), HTTPA_OK);
}

static void test_replayed_request(void **state)
{
    fixture *f = fixture_of(state, 10, false);
    start_gw(f, NULL, CURL_HTTP_VERSION_1_1);
    assert_int_equal(e2e_handshake(&f->cli), HTTPA_OK);
    httpa_msg req;
    e2e_resp resp;
    replay_arg r;
    request(&req, "POST", "/pay");
    httpa_seal_opts opts = {0};
    e2e_resp_init(&resp);
    assert_int_equal(e2e_protected(&f->cli, &req, HTTPA_SPAN_STR("amount=10"), &opts, keep_copy, &r,
                                   &resp), HTTPA_OK);
    assert_int_equal(resp.status, 200);
    e2e_resp_free(&resp);

    e2e_resp_init(&resp);
    assert_int_equal(e2e_send(&f->cli, &r.copy, httpa_buf_span(&r.wire), &resp), 0);
    assert_int_equal(resp.status, 403);
    assert_string_equal(e2e_attest_error(&resp), "replay");
    assert_int_equal(e2e_upstream_count(&f->up), 1);
    httpa_msg_free(&r.copy);
    httpa_buf_free(&r.wire);
    httpa_msg_free(&req);
    e2e_resp_free(&resp);
}

/* ---- hostile HTTP ---- */

static void test_malformed_and_oversized_http(void **state)
{
    fixture *f = fixture_of(state, 10, false);
    static const char *const extra[] = {"--max-header-size", "65536", NULL};
    start_gw(f, extra, CURL_HTTP_VERSION_1_1);
    char buf[4096];

    static const char garbage[] = "GARBAGE\x01\x02 / HTTP/9.9\r\n\r\n";
    assert_true(e2e_raw(f->gw.port, garbage, sizeof(garbage) - 1, buf, sizeof(buf), 2000, false) >= 0);
    static const char bad_h2[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x04\xff\xff\xff\xff\xff\xff"
                                 "garbage-frames";
    assert_true(e2e_raw(f->gw.port, bad_h2, sizeof(bad_h2) - 1, buf, sizeof(buf), 2000, false) >= 0);

    /* a 600 KB header line: h2o's HTTP/1 parser limit (about 400 KB) */
    size_t big = 600000;
    char *huge = malloc(big + 128);
    int n = snprintf(huge, 128, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(huge + n, 'a', big);
    memcpy(huge + n + big, "\r\n\r\n", 4);
    assert_true(e2e_raw(f->gw.port, huge, (size_t)n + big + 4, buf, sizeof(buf), 2000, false) >= 0);

    /* a header section above --max-header-size: 413 too_large */
    n = snprintf(huge, 128, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(huge + n, 'b', 70000);
    memcpy(huge + n + 70000, "\r\n\r\n", 4);
    ssize_t got = e2e_raw(f->gw.port, huge, (size_t)n + 70004, buf, sizeof(buf) - 1, 2000, false);
    assert_true(got > 12);
    buf[got] = '\0';
    assert_memory_equal(buf, "HTTP/1.1 413", 12);
    assert_non_null(strstr(buf, "too_large"));
    free(huge);

    /* still serving */
    assert_true(e2e_gw_alive(&f->gw));
    assert_int_equal(e2e_handshake(&f->cli), HTTPA_OK);
    assert_int_equal(e2e_upstream_count(&f->up), 0);
}

/* The client sends a protected request head and part of its body, then
 * disappears: no crash, and nothing (or an aborted request) upstream. */
static void test_abrupt_disconnect_mid_body(void **state)
{
    fixture *f = fixture_of(state, 10, false);
    start_gw(f, NULL, CURL_HTTP_VERSION_1_1);
    assert_int_equal(e2e_handshake(&f->cli), HTTPA_OK);

    httpa_msg req;
    httpa_client_txn *t;
    httpa_buf wire, out;
    size_t len = 100000;
    uint8_t *body = malloc(len);
    e2e_pattern(body, len, 9);
    request(&req, "POST", "/upload");
    httpa_seal_opts o = {.has_body = true, .content_length = len};
    assert_int_equal(httpa_client_protect(f->cli.base, &req, &o, &t), HTTPA_OK);
    httpa_buf_init(&wire, 1 << 20);
    httpa_buf_init(&out, 1 << 20);
    assert_int_equal(httpa_client_txn_seal(t, HTTPA_SPAN(body, len), true, &wire), HTTPA_OK);
    char line[8192];
    assert_int_equal(httpa_buf_append_str(&out, "POST /upload HTTP/1.1\r\nHost: gw\r\n"), HTTPA_OK);
    for (size_t i = 0; i < req.nheaders; i++) {
        snprintf(line, sizeof(line), "%s: %s\r\n", req.headers[i].name, req.headers[i].value);
        if (!httpa_name_eq(req.headers[i].name, req.headers[i].name_len, "content-length", 14))
            assert_int_equal(httpa_buf_append_str(&out, line), HTTPA_OK);
    }
    snprintf(line, sizeof(line), "Content-Length: %zu\r\n\r\n", wire.len);
    assert_int_equal(httpa_buf_append_str(&out, line), HTTPA_OK);
    assert_int_equal(httpa_buf_append(&out, wire.base, 30000), HTTPA_OK); /* 30 KB of ~100 KB */
    assert_int_equal(e2e_raw(f->gw.port, out.base, out.len, NULL, 0, 0, true), 0);

    /* the same over HTTP/2: a stream whose DATA stops, then the socket closes */
    static const char h2_cut[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    assert_int_equal(e2e_raw(f->gw.port, h2_cut, sizeof(h2_cut) - 1, NULL, 0, 0, true), 0);

    sleep_for_ms(300);
    assert_true(e2e_gw_alive(&f->gw));
    assert_int_equal(e2e_upstream_count(&f->up), 0);
    assert_int_equal(e2e_handshake(&f->cli), HTTPA_OK); /* still serving */
    httpa_client_txn_free(t);
    httpa_buf_free(&wire);
    httpa_buf_free(&out);
    httpa_msg_free(&req);
    free(body);
}

/* ---- Attest Base lifecycle ---- */

static httpa_err simple_trt(fixture *f, const httpa_seal_opts *opts, e2e_resp *resp)
{
    httpa_msg req;
    request(&req, "GET", "/x");
    e2e_resp_init(resp);
    httpa_err e = e2e_protected(&f->cli, &req, HTTPA_SPAN(NULL, 0), opts, NULL, NULL, resp);
    httpa_msg_free(&req);
    return e;
}

static void test_terminated_base_is_expired(void **state)
{
    fixture *f = fixture_of(state, 10, false);
    start_gw(f, NULL, CURL_HTTP_VERSION_1_1);
    assert_int_equal(e2e_handshake(&f->cli), HTTPA_OK);
    /* protected now, sent after the terminating request: the client itself
     * would refuse to protect anything on a closed base */
    httpa_msg later;
    httpa_client_txn *t;
    httpa_seal_opts none = {0};
    request(&later, "GET", "/later");
    assert_int_equal(httpa_client_protect(f->cli.base, &later, &none, &t), HTTPA_OK);

    e2e_resp resp;
    httpa_seal_opts end = {.terminate = true};
    assert_int_equal(simple_trt(f, &end, &resp), HTTPA_OK);
    assert_int_equal(resp.status, 200);
    e2e_resp_free(&resp);

    e2e_resp_init(&resp);
    assert_int_equal(e2e_send(&f->cli, &later, HTTPA_SPAN(NULL, 0), &resp), 0);
    assert_int_equal(resp.status, 503);
    assert_true(strcmp(e2e_attest_error(&resp), "expired_base") == 0 ||
                strcmp(e2e_attest_error(&resp), "unknown_base") == 0);
    assert_int_equal(e2e_upstream_count(&f->up), 1);
    httpa_client_txn_free(t);
    httpa_msg_free(&later);
    e2e_resp_free(&resp);
}

static void test_expired_base(void **state)
{
    fixture *f = fixture_of(state, 10, false);
    static const char *const extra[] = {"--expires", "1", NULL};
    start_gw(f, extra, CURL_HTTP_VERSION_1_1);
    assert_int_equal(e2e_handshake(&f->cli), HTTPA_OK);
    sleep_for_ms(2200);
    e2e_resp resp;
    httpa_seal_opts none = {0};
    (void)simple_trt(f, &none, &resp);
    assert_int_equal(resp.status, 503);
    assert_true(strcmp(e2e_attest_error(&resp), "expired_base") == 0 ||
                strcmp(e2e_attest_error(&resp), "unknown_base") == 0);
    assert_int_equal(e2e_upstream_count(&f->up), 0);
    e2e_resp_free(&resp);
}

static void test_unknown_base(void **state)
{
    fixture *f = fixture_of(state, 10, false);
    start_gw(f, NULL, CURL_HTTP_VERSION_1_1);
    httpa_msg req;
    e2e_resp resp;
    request(&req, "GET", "/x");
    assert_int_equal(httpa_msg_add_str(&req, "Attest-Base-ID", "\"6f1c9e0a-3b2d-4c5e-8f70-112233445566\""),
                     HTTPA_OK);
    assert_int_equal(httpa_msg_add_str(&req, "Attest-Ticket",
                                       ":AAAAAAAAAAHmaTbHX8Ne9OcWNJkK/Ner8RVvFHQxK7oNfcbH0rGdng==:"),
                     HTTPA_OK);
    assert_int_equal(httpa_msg_add_str(&req, "Attest-Cargo", ":xLM8TfoJ8qOy4aO+T4IYNDajBoSTKRLVWv5i5fF6sGazf0P+:"),
                     HTTPA_OK);
    e2e_resp_init(&resp);
    assert_int_equal(e2e_send(&f->cli, &req, HTTPA_SPAN(NULL, 0), &resp), 0);
    assert_int_equal(resp.status, 503);
    assert_string_equal(e2e_attest_error(&resp), "unknown_base");
    httpa_msg_free(&req);
    e2e_resp_free(&resp);
}

/* ---- other transactions and modes ---- */

static void test_preflight(void **state)
{
    fixture *f = fixture_of(state, 10, false);
    start_gw(f, NULL, CURL_HTTP_VERSION_1_1);
    httpa_msg req;
    e2e_resp resp;
    request(&req, "OPTIONS", "/.well-known/httpa");
    assert_int_equal(httpa_msg_add_str(&req, "Access-Control-Request-Method", "ATTEST"), HTTPA_OK);
    e2e_resp_init(&resp);
    assert_int_equal(e2e_send(&f->cli, &req, HTTPA_SPAN(NULL, 0), &resp), 0);
    assert_true(resp.status == 200 || resp.status == 204);
    assert_non_null(strstr(find(&resp.msg, "allow")->value, "ATTEST"));
    httpa_msg_free(&req);
    e2e_resp_free(&resp);
}

static void test_plain_request_refused(void **state)
{
    fixture *f = fixture_of(state, 10, false);
    start_gw(f, NULL, CURL_HTTP_VERSION_1_1);
    httpa_msg req;
    e2e_resp resp;
    request(&req, "GET", "/index.html");
    e2e_resp_init(&resp);
    assert_int_equal(e2e_send(&f->cli, &req, HTTPA_SPAN(NULL, 0), &resp), 0);
    assert_int_equal(resp.status, 403);
    assert_string_equal(e2e_attest_error(&resp), "policy_violation");
    assert_int_equal(e2e_upstream_count(&f->up), 0);
    httpa_msg_free(&req);
    e2e_resp_free(&resp);
}

static void test_passthrough(void **state)
{
    fixture *f = fixture_of(state, 5000, true);
    static const char *const extra[] = {"--passthrough", NULL};
    start_gw(f, extra, CURL_HTTP_VERSION_1_1);
    httpa_msg req;
    e2e_resp resp;
    request(&req, "POST", "/plain?q=1");
    assert_int_equal(httpa_msg_add_str(&req, "X-Httpa-Kind", "trt"), HTTPA_OK); /* forged */
    e2e_resp_init(&resp);
    assert_int_equal(e2e_send(&f->cli, &req, HTTPA_SPAN_STR("hello"), &resp), 0);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body.len, 5000);
    assert_null(find(&resp.msg, "attest-binder"));
    e2e_upreq u = {0};
    assert_true(e2e_upstream_get(&f->up, 0, &u));
    assert_memory_equal(u.head, "POST /plain?q=1 HTTP/1.1\r\n", 26);
    assert_true(e2e_head_has(u.head, "x-httpa-kind", "plain"));
    assert_int_equal(u.body_len, 5);
    free(u.head);
    free(u.body);
    httpa_msg_free(&req);
    e2e_resp_free(&resp);

    /* the secrets path is the gateway's alone: no forged secrets upstream */
    request(&req, "POST", "/.httpa/secrets?x=1");
    e2e_resp_init(&resp);
    assert_int_equal(e2e_send(&f->cli, &req, HTTPA_SPAN_STR("{\"secrets\":{}}"), &resp), 0);
    assert_int_equal(resp.status, 403);
    assert_string_equal(e2e_attest_error(&resp), "policy_violation");
    assert_int_equal(e2e_upstream_count(&f->up), 1);
    httpa_msg_free(&req);
    e2e_resp_free(&resp);
}

static void atsp(void **state, int upstream_status, int expect_status, httpa_err expect_err)
{
    static const char *const names[] = {"db-key"};
    const httpa_span values[] = {HTTPA_SPAN_STR("correct horse")};
    fixture *f = fixture_of(state, 10, false);
    f->up.secrets_status = upstream_status;
    start_gw(f, NULL, CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    assert_int_equal(e2e_handshake(&f->cli), HTTPA_OK);
    httpa_msg req;
    e2e_resp resp;
    request(&req, "ATTEST", "/.well-known/httpa");
    httpa_seal_opts opts = {.secret_names = names, .secret_values = values, .nsecrets = 1};
    e2e_resp_init(&resp);
    httpa_err e = e2e_protected(&f->cli, &req, HTTPA_SPAN(NULL, 0), &opts, NULL, NULL, &resp);
    assert_int_equal(resp.status, expect_status);
    if (expect_err != HTTPA_OK)
        assert_string_equal(e2e_attest_error(&resp), httpa_err_token(expect_err));
    else
        assert_int_equal(e, HTTPA_OK);

    e2e_upreq u = {0};
    char expect[256];
    assert_true(e2e_upstream_get(&f->up, 0, &u));
    assert_memory_equal(u.head, "POST /.httpa/secrets HTTP/1.1\r\n", 31);
    assert_true(e2e_head_has(u.head, "x-httpa-kind", "atsp"));
    u.body[u.body_len] = '\0';
    snprintf(expect, sizeof(expect), "{\"base_id\":\"%s\",\"secrets\":{\"db-key\":\"Y29ycmVjdCBob3JzZQ==\"}}",
             httpa_client_base_id(f->cli.base));
    assert_string_equal((char *)u.body, expect);
    free(u.head);
    free(u.body);
    httpa_msg_free(&req);
    e2e_resp_free(&resp);
}

static void test_atsp_secrets_reach_upstream(void **state)
{
    atsp(state, 0, 200, HTTPA_OK);
}

static void test_atsp_secrets_rejected(void **state)
{
    atsp(state, 422, 422, HTTPA_ERR_POLICY_VIOLATION);
}

static void test_upstream_down(void **state)
{
    fixture *f = fixture_of(state, 10, false);
    snprintf(f->upstream_url, sizeof(f->upstream_url), "http://127.0.0.1:1"); /* nothing there */
    start_gw(f, NULL, CURL_HTTP_VERSION_1_1);
    assert_int_equal(e2e_handshake(&f->cli), HTTPA_OK);
    e2e_resp resp;
    httpa_seal_opts none = {0};
    assert_int_equal(simple_trt(f, &none, &resp), HTTPA_OK); /* authenticated error */
    assert_int_equal(resp.status, 500);
    assert_string_equal(e2e_attest_error(&resp), "internal");
    e2e_resp_free(&resp);
}

/* ---- process behaviour ---- */

typedef struct inflight {
    fixture *f;
    e2e_resp resp;
    httpa_err err;
} inflight;

static void *inflight_main(void *arg)
{
    inflight *in = arg;
    httpa_seal_opts none = {0};
    in->err = simple_trt(in->f, &none, &in->resp);
    return NULL;
}

static void test_sigterm_finishes_inflight(void **state)
{
    fixture *f = fixture_of(state, 20000, true);
    f->up.delay_ms = 600;
    start_gw(f, NULL, CURL_HTTP_VERSION_1_1);
    assert_int_equal(e2e_handshake(&f->cli), HTTPA_OK);
    inflight in = {.f = f};
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, inflight_main, &in), 0);
    /* SIGTERM once the request is in flight: the upstream has it and waits */
    for (int i = 0; i < 500 && e2e_upstream_count(&f->up) == 0; i++)
        sleep_for_ms(10);
    assert_int_equal(e2e_upstream_count(&f->up), 1);
    assert_int_equal(kill(f->gw.pid, SIGTERM), 0);
    pthread_join(tid, NULL);
    assert_int_equal(in.err, HTTPA_OK);
    assert_int_equal(in.resp.status, 200);
    assert_int_equal(in.resp.body.len, 20000);
    e2e_resp_free(&in.resp);
}

static void test_config_check(void **state)
{
    (void)state;
    char path[] = "/tmp/httpa-e2e-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *cf = fdopen(fd, "w");
    fputs("{\"upstream\":\"http://127.0.0.1:8080\",\"tee\":\"sim\",\"threads\":2,\"passthrough\":true}", cf);
    fclose(cf);
    const char *ok[] = {"-t", "-c", path, NULL};
    assert_int_equal(e2e_gw_run(ok), 0);
    const char *remote[] = {"-t", "-c", path, "--upstream", "http://10.0.0.1:80", NULL};
    assert_int_equal(e2e_gw_run(remote), 2); /* not loopback: refused */
    const char *planned[] = {"-t", "-c", path, "--tee", "tsm", NULL};
    assert_int_equal(e2e_gw_run(planned), 2);
    const char *help[] = {"--help", NULL};
    assert_int_equal(e2e_gw_run(help), 0);
    cf = fopen(path, "w");
    fputs("{\"upstream\":\"http://127.0.0.1:8080\",\"tee\":\"sim\",\"no-such-key\":1}", cf);
    fclose(cf);
    assert_int_equal(e2e_gw_run(ok), 2);
    unlink(path);
}

/* ---- TEE providers and stapling (httpa-gateway --tee, --ta) ---- */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "httpa/eat.h"
#include "sched_pin.h"
#include "tee_tree.h"

static void gwt_hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

/* An AtHS with `v` that also hands back the response's Attest-Quotes. */
static httpa_err gwt_handshake(e2e_client *c, httpa_verifier *v, httpa_buf *quotes)
{
    httpa_client_config cfg = {.verifier = v, .allow_sim = true};
    httpa_client_hs *hs = NULL;
    httpa_msg req;
    e2e_resp resp;
    bool found = false;
    int64_t now = (int64_t)time(NULL);
    e2e_client_free(c);
    httpa_msg_init_request(&req);
    e2e_resp_init(&resp);
    httpa_err e = httpa_client_hs_start(&cfg, now, &req, &hs);
    if (e == HTTPA_OK && e2e_send(c, &req, HTTPA_SPAN(NULL, 0), &resp) != 0)
        e = HTTPA_ERR_NETWORK;
    if (e == HTTPA_OK && quotes != NULL)
        e = httpa_msg_combine(&resp.msg, "attest-quotes", 13, quotes, &found);
    if (e == HTTPA_OK)
        e = httpa_client_hs_finish(hs, &resp.msg, httpa_buf_span(&resp.body), now, &c->base);
    httpa_client_hs_free(hs);
    httpa_msg_free(&req);
    e2e_resp_free(&resp);
    return e;
}

/* The decoded evidence of the first Attest-Quotes entry with format `fmt`
 * ("(tee :b64:);format=fmt"); false when there is none. */
static bool gwt_entry(const httpa_buf *quotes, const char *fmt, httpa_buf *out)
{
    char want[32];
    snprintf(want, sizeof(want), ";format=%s", fmt);
    const char *q = (const char *)quotes->base, *end = q + quotes->len;
    for (const char *p = q; p < end; p++) {
        size_t left = (size_t)(end - p);
        if (left < strlen(want) || strncmp(p, want, strlen(want)) != 0)
            continue;
        const char *close = p - 2; /* ":)" before ";format" */
        const char *open = close - 1;
        while (open > q && *open != ':')
            open--;
        if (close <= open || *close != ':')
            return false;
        httpa_buf_reset(out);
        return httpa_base64_decode(open + 1, (size_t)(close - open - 1), out) == HTTPA_OK;
    }
    return false;
}

/* ---- the fake configfs-tsm "kernel", out of process ----
 *
 * The gateway is a separate process, so the providers' in-process test hook
 * cannot play the kernel. A thread here watches the tree with inotify and
 * does it instead: on mkdir it puts provider (and generation, inblob) in
 * place, on the close of a written inblob it writes outblob (a TDX v4
 * shaped quote wrapping sim evidence, tee_tree.h) and bumps generation, on
 * the second read of generation (and the probe's read of provider) it
 * removes the files so that rmdir succeeds. To make it act between the
 * gateway's system calls, the gateway runs SCHED_IDLE on the CPU of this
 * thread. That wins the races after mkdir and after the inblob write, but
 * not reliably the one between the last read and rmdir (close events are
 * delivered late), so the full run is opt-in: HTTPA_TEST_FAKE_TSM_RUN=1. */

#define GWT_ENTRIES 64

typedef struct gwt_entry_state {
    int wd;
    char dir[384];
    bool probe;
    unsigned gen_reads;
} gwt_entry_state;

typedef struct gwt_kernel {
    char root[256];
    char stage[272];
    int ifd;
    int cpu;
    pthread_t tid;
    atomic_bool stop;
    httpa_sim_attester sim;
    gwt_entry_state e[GWT_ENTRIES];
    atomic_uint reports;
} gwt_kernel;

/* Write a file in the staging directory and rename it into place, so that
 * the only close events under the entry are the gateway's. */
static void gwt_put(gwt_kernel *k, const char *dir, const char *name, const void *p, size_t n)
{
    char tmp[320], dst[448];
    snprintf(tmp, sizeof(tmp), "%s/f", k->stage);
    snprintf(dst, sizeof(dst), "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    ssize_t w = n != 0 ? write(fd, p, n) : 0;
    (void)w;
    close(fd);
    (void)rename(tmp, dst);
}

static void gwt_unlink(const char *dir, const char *name)
{
    char p[448];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    (void)unlink(p);
}

static void gwt_created(gwt_kernel *k, const char *name)
{
    unsigned pid = 0, seq = 0;
    gwt_entry_state *s = NULL;
    for (size_t i = 0; i < GWT_ENTRIES && s == NULL; i++)
        if (k->e[i].wd <= 0)
            s = &k->e[i];
    if (s == NULL || sscanf(name, "httpa-%u-%u-", &pid, &seq) != 2)
        return;
    snprintf(s->dir, sizeof(s->dir), "%s/%s", k->root, name);
    s->probe = seq == 0; /* the provider's init: mkdir, read provider, rmdir */
    s->gen_reads = 0;
    s->wd = inotify_add_watch(k->ifd, s->dir, IN_CLOSE_WRITE | IN_CLOSE_NOWRITE);
    gwt_put(k, s->dir, "provider", "tdx_guest\n", 10);
    if (!s->probe) {
        gwt_put(k, s->dir, "generation", "0\n", 2);
        gwt_put(k, s->dir, "inblob", NULL, 0);
    }
}

static void gwt_clear_entry(gwt_entry_state *s)
{
    static const char *const files[] = {"provider", "generation", "inblob", "outblob"};
    for (size_t i = 0; i < 4; i++)
        gwt_unlink(s->dir, files[i]);
}

static void gwt_report(gwt_kernel *k, gwt_entry_state *s)
{
    uint8_t rd[HTTPA_REPORT_DATA_LEN];
    char p[448];
    httpa_buf ev;
    snprintf(p, sizeof(p), "%s/inblob", s->dir);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, rd, sizeof(rd)) : -1;
    if (fd >= 0)
        close(fd);
    if (n != (ssize_t)sizeof(rd))
        return;
    httpa_buf_init(&ev, 1 << 20);
    tl_wrap_evidence(TL_SHAPE_TDX_V4, rd, &k->sim.base, &ev);
    gwt_put(k, s->dir, "outblob", ev.base, ev.len);
    gwt_put(k, s->dir, "generation", "1\n", 2);
    httpa_buf_free(&ev);
    atomic_fetch_add(&k->reports, 1);
}

static void gwt_event(gwt_kernel *k, const struct inotify_event *ev)
{
    gwt_entry_state *s = NULL;
    if (getenv("GWT_DEBUG") != NULL)
        fprintf(stderr, "fake tsm: wd %d mask %#x %s\n", ev->wd, (unsigned)ev->mask,
                ev->len != 0 ? ev->name : "");
    if (ev->wd != 0 && ev->len != 0 && (ev->mask & IN_CREATE) && (ev->mask & IN_ISDIR)) {
        gwt_created(k, ev->name);
        return;
    }
    for (size_t i = 0; i < GWT_ENTRIES && s == NULL; i++)
        if (k->e[i].wd == ev->wd && ev->wd > 0)
            s = &k->e[i];
    if (s == NULL || ev->len == 0) {
        if (s != NULL && (ev->mask & IN_IGNORED))
            s->wd = 0; /* the entry is gone */
        return;
    }
    if (s->probe && (ev->mask & IN_CLOSE_NOWRITE) && strcmp(ev->name, "provider") == 0)
        gwt_clear_entry(s);
    else if ((ev->mask & IN_CLOSE_WRITE) && strcmp(ev->name, "inblob") == 0)
        gwt_report(k, s);
    else if ((ev->mask & IN_CLOSE_NOWRITE) && strcmp(ev->name, "generation") == 0 &&
             ++s->gen_reads == 2)
        gwt_clear_entry(s);
}

static void *gwt_kernel_main(void *arg)
{
    gwt_kernel *k = arg;
    _Alignas(struct inotify_event) char buf[8192];
    (void)tl_pin_cpu(k->cpu);
    while (!atomic_load(&k->stop)) {
        struct pollfd pfd = {k->ifd, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t n = read(k->ifd, buf, sizeof(buf));
        for (ssize_t off = 0; n > 0 && off < n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
            gwt_event(k, ev);
            off += (ssize_t)(sizeof(*ev) + ev->len);
        }
    }
    return NULL;
}

static void gwt_kernel_start(gwt_kernel *k)
{
    static const uint8_t seed[32] = "net_gateway_test fake TDX key..";
    static const uint8_t m[32] = "net_gateway_test fake TD image..";
    memset(k, 0, sizeof(*k));
    tl_tempdir(k->root);
    snprintf(k->stage, sizeof(k->stage), "%s.stage", k->root);
    assert_int_equal(mkdir(k->stage, 0700), 0);
    assert_int_equal(httpa_sim_attester_init(&k->sim, seed, m, 1, false), HTTPA_OK);
    k->ifd = inotify_init1(IN_CLOEXEC);
    assert_true(k->ifd >= 0);
    assert_true(inotify_add_watch(k->ifd, k->root, IN_CREATE) > 0);
    k->cpu = tl_current_cpu();
    assert_int_equal(pthread_create(&k->tid, NULL, gwt_kernel_main, k), 0);
}

static void gwt_kernel_stop(gwt_kernel *k)
{
    atomic_store(&k->stop, true);
    pthread_join(k->tid, NULL);
    close(k->ifd);
    httpa_sim_attester_clear(&k->sim);
    tl_rmtree(k->root);
    tl_rmtree(k->stage);
}

/* Start the gateway from a thread that is SCHED_IDLE on the kernel's CPU:
 * the child inherits both. */
typedef struct gwt_spawn {
    fixture *f;
    const char *const *extra;
    int cpu;
    int rc;
} gwt_spawn;

static void *gwt_spawn_main(void *arg)
{
    gwt_spawn *s = arg;
    s->rc = tl_pin_cpu(s->cpu) == 0 && tl_sched_idle() == 0
                ? e2e_gw_start(&s->f->gw, s->f->upstream_url, s->extra)
                : -1;
    return NULL;
}

static void test_tee_tsm_fake_tree(void **state)
{
    fixture *f = fixture_of(state, 1000, false);
    gwt_kernel *k = calloc(1, sizeof(*k));
    assert_non_null(k);
    gwt_kernel_start(k);
    /* -t: the interface is there */
    const char *check[] = {"-t", "--tee", "tsm", "--tsm-root", k->root, "--upstream",
                           f->upstream_url, NULL};
    assert_int_equal(e2e_gw_run(check), 0);
    if (getenv("HTTPA_TEST_FAKE_TSM_RUN") == NULL) {
        gwt_kernel_stop(k);
        free(k);
        skip(); /* see the fake kernel above */
    }
    const char *extra[] = {"--tee", "tsm", "--tsm-root", k->root, NULL};
    gwt_spawn sp = {f, extra, k->cpu, -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, gwt_spawn_main, &sp), 0);
    pthread_join(t, NULL);
    assert_int_equal(sp.rc, 0);
    e2e_client_init(&f->cli, &f->gw, CURL_HTTP_VERSION_1_1);
    assert_true(atomic_load(&k->reports) >= 1); /* the attested key's evidence */

    tl_wrapped_verifier v;
    httpa_buf quotes, raw;
    httpa_buf_init(&quotes, 1 << 20);
    httpa_buf_init(&raw, 1 << 20);
    tl_wrapped_verifier_init(&v, "tdx", TL_SHAPE_TDX_V4, k->sim.pub);
    assert_int_equal(gwt_handshake(&f->cli, &v.base, &quotes), HTTPA_OK);
    assert_true(v.calls >= 1);
    assert_non_null(strstr((const char *)quotes.base, "(tdx :"));
    assert_true(gwt_entry(&quotes, "raw", &raw));

    /* a TrT on the new base reaches the upstream */
    httpa_msg req;
    e2e_resp out;
    httpa_msg_init_request(&req);
    e2e_resp_init(&out);
    assert_int_equal(httpa_msg_set_request_line(&req, "GET", 3, "/tsm", 4), HTTPA_OK);
    httpa_seal_opts o = {.has_body = false};
    assert_int_equal(e2e_protected(&f->cli, &req, HTTPA_SPAN(NULL, 0), &o, NULL, NULL, &out),
                     HTTPA_OK);
    assert_int_equal(out.status, 200);
    httpa_msg_free(&req);
    e2e_resp_free(&out);
    httpa_buf_free(&quotes);
    httpa_buf_free(&raw);
    /* no report entry is left behind */
    assert_int_equal(e2e_gw_stop(&f->gw), 0);
    DIR *d = opendir(k->root);
    assert_non_null(d);
    struct dirent *de;
    size_t left = 0;
    while ((de = readdir(d)) != NULL)
        left += de->d_name[0] != '.';
    closedir(d);
    assert_int_equal(left, 0);
    gwt_kernel_stop(k);
    free(k);
}

static void test_tee_auto_refuses_without_tee(void **state)
{
    fixture *f = *state;
    char dir[256], none[300], tsm[300], gra[300], quote[320];
    tl_tempdir(dir);
    snprintf(none, sizeof(none), "%s/none", dir);
    snprintf(tsm, sizeof(tsm), "%s/tsm", dir);
    snprintf(gra, sizeof(gra), "%s/gramine", dir);
    const char *t_auto[] = {"-t", "--tee", "auto", "--tsm-root", none, "--gramine-root", none,
                            "--upstream", f->upstream_url, NULL};
    assert_int_equal(e2e_gw_run(t_auto), 2);
    const char *run_auto[] = {"--tee", "auto", "--tsm-root", none, "--gramine-root", none,
                              "--upstream", f->upstream_url, "--listen", "127.0.0.1:0",
                              "--access-log", "off", NULL};
    assert_int_equal(e2e_gw_run(run_auto), 1); /* never falls back to sim */
    const char *t_tsm[] = {"-t", "--tee", "tsm", "--tsm-root", none, "--upstream",
                           f->upstream_url, NULL};
    assert_int_equal(e2e_gw_run(t_tsm), 2);
    /* auto: tsm first, then gramine */
    assert_int_equal(mkdir(gra, 0700), 0);
    snprintf(quote, sizeof(quote), "%s/quote", gra);
    tl_write_text(gra, "quote", "");
    const char *t_gra[] = {"-t", "--tee", "auto", "--tsm-root", none, "--gramine-root", gra,
                           "--upstream", f->upstream_url, NULL};
    assert_int_equal(e2e_gw_run(t_gra), 0);
    assert_int_equal(mkdir(tsm, 0700), 0);
    const char *t_tsm_ok[] = {"-t", "--tee", "auto", "--tsm-root", tsm, "--gramine-root", gra,
                              "--upstream", f->upstream_url, NULL};
    assert_int_equal(e2e_gw_run(t_tsm_ok), 0);
    const char *bad[] = {"-t", "--tee", "sgx", "--upstream", f->upstream_url, NULL};
    assert_int_equal(e2e_gw_run(bad), 2);
    const char *cacert_alone[] = {"-t", "--tee", "sim", "--ta-cacert", quote, "--upstream",
                                  f->upstream_url, NULL};
    assert_int_equal(e2e_gw_run(cacert_alone), 2);
    tl_rmtree(dir);
}

/* ---- stapling: httpa-ta as a child process ---- */

typedef struct gwt_ta {
    pid_t pid;
    char dir[64];
    char url[64];
} gwt_ta;

static const char *gwt_ta_binary(void)
{
    static char path[PATH_MAX];
    const char *env = getenv("HTTPA_TA_BIN");
    if (env != NULL && *env != '\0')
        return env;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    assert_true(n > 0);
    self[n] = '\0';
    snprintf(path, sizeof(path), "%s/../programs/httpa-ta", dirname(self));
    return path;
}

static void gwt_ta_start(gwt_ta *t, const char *sim_key_hex)
{
    char pol[96], portf[96], logf[96];
    int port = 0;
    memset(t, 0, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/httpa-gw-ta-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(pol, sizeof(pol), "%s/policy.json", t->dir);
    snprintf(portf, sizeof(portf), "%s/port", t->dir);
    snprintf(logf, sizeof(logf), "%s/log", t->dir);
    tl_write_text(t->dir, "policy.json", "{\"version\":1,\"sim\":{},\"allow_simulated\":true}");
    const char *argv[] = {gwt_ta_binary(), "--policy", pol, "--listen", "127.0.0.1:0",
                          "--port-file", portf, "--allow-sim", "--sim-key", sim_key_hex, NULL};
    t->pid = fork();
    assert_true(t->pid >= 0);
    if (t->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test must not leave it behind */
        int fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 500 && port == 0; i++) {
        FILE *pf = fopen(portf, "r");
        if (pf != NULL) {
            if (fscanf(pf, "%d", &port) != 1)
                port = 0;
            fclose(pf);
        }
        if (port == 0)
            sleep_for_ms(10);
    }
    assert_true(port > 0);
    snprintf(t->url, sizeof(t->url), "http://127.0.0.1:%d", port);
}

static void gwt_ta_stop(gwt_ta *t)
{
    int st = 0;
    if (t->pid <= 0)
        return;
    kill(t->pid, SIGTERM);
    for (int i = 0; i < 300 && waitpid(t->pid, &st, WNOHANG) == 0; i++)
        sleep_for_ms(10);
    if (waitpid(t->pid, &st, WNOHANG) == 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, &st, 0);
    }
    t->pid = 0;
    tl_rmtree(t->dir);
}

static size_t gwt_collect(char *p, size_t size, size_t n, void *arg)
{
    httpa_buf *b = arg;
    return httpa_buf_append(b, (const uint8_t *)p, size * n) == HTTPA_OK ? size * n : 0;
}

/* The TA's verification keys, from its JWKS. */
static void gwt_ta_keys(const gwt_ta *t, httpa_eat_keyset *ks)
{
    char url[96], err[256];
    httpa_buf body;
    long status = 0;
    httpa_buf_init(&body, 1 << 20);
    snprintf(url, sizeof(url), "%s/v1/jwks", t->url);
    CURL *h = curl_easy_init();
    assert_non_null(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, gwt_collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    assert_int_equal(status, 200);
    httpa_eat_keyset_init(ks);
    assert_int_equal(httpa_eat_keyset_parse_jwks(ks, (const char *)body.base, body.len, err,
                                                 sizeof(err)),
                     HTTPA_OK);
    httpa_buf_free(&body);
}

static bool gwt_log_has(const e2e_gw *g, const char *text)
{
    char path[128], line[2048];
    bool found = false;
    snprintf(path, sizeof(path), "%s/access.log", g->dir);
    FILE *lf = fopen(path, "r");
    while (lf != NULL && !found && fgets(line, sizeof(line), lf) != NULL)
        found = strstr(line, text) != NULL;
    if (lf != NULL)
        fclose(lf);
    return found;
}

static void test_stapled_ta_token(void **state)
{
    fixture *f = fixture_of(state, 1000, false);
    uint8_t pub[32];
    char hex[65];
    gwt_ta ta;
    sim_pub(pub); /* the gateway's simulated attestation key (harness) */
    gwt_hex(pub, 32, hex);
    gwt_ta_start(&ta, hex);
    const char *extra[] = {"--ta", ta.url, NULL};
    start_gw(f, extra, CURL_HTTP_VERSION_1_1);

    httpa_buf quotes, raw, token;
    httpa_buf_init(&quotes, 1 << 20);
    httpa_buf_init(&raw, 1 << 20);
    httpa_buf_init(&token, 1 << 20);
    assert_int_equal(gwt_handshake(&f->cli, &f->cli.verifier.base, &quotes), HTTPA_OK);
    assert_true(gwt_entry(&quotes, "raw", &raw));
    assert_true(gwt_entry(&quotes, "eat", &token));
    assert_true(gwt_log_has(&f->gw, "Trusted Authority token stapled"));

    /* the stapled token verifies with the TA's key, is about the raw entry
     * and binds its report_data (the attested key) */
    httpa_eat_keyset ks;
    httpa_eat_claims claims;
    httpa_eat_diag diag;
    httpa_sim_evidence se;
    gwt_ta_keys(&ta, &ks);
    assert_int_equal(httpa_eat_verify_token(&ks, "sim", httpa_buf_span(&token), (int64_t)time(NULL),
                                            &claims, &diag),
                     HTTPA_OK);
    assert_int_equal(httpa_eat_check_evidence(&claims, httpa_buf_span(&raw)), HTTPA_OK);
    assert_int_equal(httpa_sim_evidence_parse(httpa_buf_span(&raw), &se), HTTPA_OK);
    assert_memory_equal(claims.report_data, se.report_data, HTTPA_REPORT_DATA_LEN);
    httpa_buf_free(&quotes);
    httpa_buf_free(&raw);
    httpa_buf_free(&token);
    gwt_ta_stop(&ta);
}

static void test_stapling_ta_down(void **state)
{
    fixture *f = fixture_of(state, 1000, false);
    gwt_ta ta;
    char url[64];
    uint8_t pub[32];
    char hex[65];
    sim_pub(pub);
    gwt_hex(pub, 32, hex);
    gwt_ta_start(&ta, hex); /* started and stopped: its port is now closed */
    snprintf(url, sizeof(url), "%s", ta.url);
    gwt_ta_stop(&ta);
    const char *extra[] = {"--ta", url, NULL};
    start_gw(f, extra, CURL_HTTP_VERSION_1_1);

    httpa_buf quotes, raw, token;
    httpa_buf_init(&quotes, 1 << 20);
    httpa_buf_init(&raw, 1 << 20);
    httpa_buf_init(&token, 1 << 20);
    assert_int_equal(gwt_handshake(&f->cli, &f->cli.verifier.base, &quotes), HTTPA_OK);
    assert_true(gwt_entry(&quotes, "raw", &raw));
    assert_false(gwt_entry(&quotes, "eat", &token));
    assert_true(gwt_log_has(&f->gw, "Trusted Authority token not obtained"));
    httpa_buf_free(&quotes);
    httpa_buf_free(&raw);
    httpa_buf_free(&token);
}

/* --client-sim-key K --require-client-attestation: a client TEE with K's
 * seed gets through and the upstream sees X-Httpa-Client-Attested: sim; a
 * client without evidence gets 403 policy_violation. */
static void test_mutual_client_attestation(void **state)
{
    fixture *f = fixture_of(state, 100, false);
    uint8_t seed[32], meas[HTTPA_SIM_MEASUREMENT_LEN];
    char key[65];
    memset(seed, 0x5c, sizeof(seed));
    memcpy(meas, "net_gateway_test client TEE v1..", sizeof(meas));
    httpa_sim_attester tee;
    assert_int_equal(httpa_sim_attester_init(&tee, seed, meas, 1, false), HTTPA_OK);
    gwt_hex(tee.pub, 32, key);
    const char *extra[] = {"--client-sim-key", key, "--require-client-attestation", NULL};
    start_gw(f, extra, CURL_HTTP_VERSION_1_1);
    assert_true(gwt_log_has(&f->gw, "SIMULATED CLIENT TEEs ACCEPTED"));

    e2e_resp resp;
    e2e_resp_init(&resp);
    assert_int_equal(e2e_mutual_handshake(&f->cli, &tee.base, &resp), HTTPA_OK);
    e2e_resp_free(&resp);
    httpa_seal_opts none = {0};
    assert_int_equal(simple_trt(f, &none, &resp), HTTPA_OK);
    assert_int_equal(resp.status, 200);
    e2e_resp_free(&resp);
    e2e_upreq u = {0};
    assert_int_equal(e2e_upstream_count(&f->up), 1);
    assert_true(e2e_upstream_get(&f->up, 0, &u));
    assert_true(e2e_head_has(u.head, "x-httpa-client-attested", "sim"));
    free(u.head);
    free(u.body);

    /* without client evidence: refused at the handshake */
    e2e_resp_init(&resp);
    assert_int_equal(e2e_mutual_handshake(&f->cli, NULL, &resp), HTTPA_ERR_POLICY_VIOLATION);
    assert_int_equal(resp.status, 403);
    assert_string_equal(e2e_attest_error(&resp), "policy_violation");
    assert_null(f->cli.base);
    e2e_resp_free(&resp);
    assert_int_equal(e2e_upstream_count(&f->up), 1);
    httpa_sim_attester_clear(&tee);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trt_http1_chunked_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trt_http1_length_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trt_http2_prior_knowledge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trt_large_streamed_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_http2_and_http1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_embedded_application, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_cargo_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_outer_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_body_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_at_record_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_final_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replayed_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_and_oversized_http, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abrupt_disconnect_mid_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_terminated_base_is_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_base, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_base, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preflight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_request_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passthrough, setup, teardown),
        cmocka_unit_test_setup_teardown(test_atsp_secrets_reach_upstream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_atsp_secrets_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_finishes_inflight, setup, teardown),
        cmocka_unit_test(test_config_check),
        cmocka_unit_test_setup_teardown(test_tee_tsm_fake_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tee_auto_refuses_without_tee, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stapled_ta_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stapling_ta_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mutual_client_attestation, setup, teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests_name("net_gateway", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
