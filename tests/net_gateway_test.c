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

typedef struct fixture {
    e2e_upstream up;
    e2e_gw gw;
    e2e_client cli;
    char upstream_url[64];
} fixture;

static void sleep_for_ms(int ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

/* setup and teardown run around every test, so a failed assertion never
 * leaves a gateway or an upstream behind. */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL || e2e_upstream_start(&f->up) != 0)
        return -1;
    snprintf(f->upstream_url, sizeof(f->upstream_url), "http://127.0.0.1:%d", f->up.port);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = 0;
    e2e_client_free(&f->cli);
    if (f->gw.pid > 0 && e2e_gw_stop(&f->gw) != 0)
        rc = -1; /* SIGTERM must end the gateway with status 0 */
    e2e_upstream_stop(&f->up);
    free(f);
    return rc;
}

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
    e2e_upreq u;
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
    e2e_upreq u;
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

    e2e_upreq u;
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
    };
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests_name("net_gateway", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
