/* A 1 GiB body through both ends of a TrT in 64 KiB chunks: client seal ->
 * server open -> server seal (the echoed response) -> client open. Memory
 * must stay bounded by the record size, whatever the body size, and the
 * SHA-256 of what each end delivers must equal that of the input.
 *
 * Under the sanitizers (HTTPA_SANITIZE_BUILD set, as `make test-asan` does)
 * the body is 64 MiB instead, to keep the run short. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "testlib.h"
#include "engine/session.h"

#define assert_ok(x) assert_int_equal((x), HTTPA_OK)

enum {
    CHUNK = 64 * 1024,
    RS = 16384,
};

static const char base_id[] = "0e3c5a9d-2b1f-4e6a-9d8c-5b4a3f2e1d0c";

static long maxrss_kib(void)
{
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

/* Fixed keys for one direction (no AEAD context, as in a base). */
static void make_traffic(httpa_traffic *t, const httpa_suite *s, uint8_t tag)
{
    memset(t, 0, sizeof(*t));
    t->suite = s;
    memset(t->key, tag, sizeof(t->key));
    memset(t->iv, tag ^ 0x5a, sizeof(t->iv));
    memset(t->mac_key, tag ^ 0xa5, sizeof(t->mac_key));
}

typedef struct ends {
    httpa_server *srv;
    httpa_client_base *cb;
} ends;

static void ends_init(ends *e, int64_t now)
{
    const httpa_suite *s = httpa_suite_find("TLS_AES_128_GCM_SHA256", 22);
    httpa_server_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.limits.max_body = UINT64_C(1) << 31;
    assert_ok(httpa_server_new(&cfg, &e->srv));
    httpa_base *b;
    assert_ok(httpa_base_new(&b));
    strcpy(b->id, base_id);
    b->suite = s;
    make_traffic(&b->c_ap, s, 1);
    make_traffic(&b->s_ap, s, 2);
    b->expires_at = now + 3600;
    assert_ok(httpa_store_insert(e->srv->store, b, now));
    httpa_store_put(e->srv->store, b);

    httpa_client_base *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    strcpy(c->id, base_id);
    c->suite = s;
    make_traffic(&c->c_ap, s, 1);
    make_traffic(&c->s_ap, s, 2);
    c->limits = httpa_limits_default();
    c->limits.max_body = UINT64_C(1) << 31;
    atomic_init(&c->next_seq, 0);
    atomic_init(&c->refs, 1);
    atomic_init(&c->closed, false);
    c->expires_at = now + 3600;
    e->cb = c;
}

/* Deterministic input: chunk i of the body. */
static void fill_chunk(uint8_t *p, size_t n, uint64_t i)
{
    uint64_t x = i * UINT64_C(0x9e3779b97f4a7c15) + 1;
    for (size_t k = 0; k + 8 <= n; k += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + k, &x, 8);
    }
}

typedef struct pipeline {
    httpa_client_txn *ct;
    httpa_server_txn *st;
    EVP_MD_CTX *h_in, *h_server, *h_client;
    httpa_buf w1, p1, w2, p2;
    size_t max_wire;   /* largest output of one step */
} pipeline;

/* Open the request and answer it with a response streaming the echo. */
static void pipeline_start(pipeline *p, ends *e, int64_t now, uint64_t total)
{
    httpa_msg req, resp, err;
    httpa_buf ebody;
    httpa_seal_opts o = {.has_body = true, .content_length = total, .record_size = RS};
    httpa_msg_init_request(&req);
    assert_ok(httpa_msg_set_request_line(&req, "PUT", 3, "/big", 4));
    assert_ok(httpa_client_protect(e->cb, &req, &o, &p->ct));
    httpa_msg_init_response(&err, 0);
    httpa_buf_init(&ebody, SIZE_MAX);
    assert_ok(httpa_server_open(e->srv, &req, now, &p->st, &err, &ebody));
    httpa_msg_init_response(&resp, 200);
    assert_ok(httpa_server_txn_respond(p->st, &resp, &o));
    assert_ok(httpa_client_txn_response(p->ct, &resp));
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_msg_free(&err);
    httpa_buf_free(&ebody);
    p->h_in = EVP_MD_CTX_new();
    p->h_server = EVP_MD_CTX_new();
    p->h_client = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestInit_ex(p->h_in, EVP_sha256(), NULL), 1);
    assert_int_equal(EVP_DigestInit_ex(p->h_server, EVP_sha256(), NULL), 1);
    assert_int_equal(EVP_DigestInit_ex(p->h_client, EVP_sha256(), NULL), 1);
    httpa_buf_init(&p->w1, SIZE_MAX);
    httpa_buf_init(&p->p1, SIZE_MAX);
    httpa_buf_init(&p->w2, SIZE_MAX);
    httpa_buf_init(&p->p2, SIZE_MAX);
}

static void note(pipeline *p, const httpa_buf *b)
{
    if (b->len > p->max_wire)
        p->max_wire = b->len;
}

/* One chunk through the four steps; every buffer is reused. */
static void pipeline_step(pipeline *p, const uint8_t *chunk, size_t n, bool fin)
{
    httpa_buf_reset(&p->w1);
    httpa_buf_reset(&p->p1);
    httpa_buf_reset(&p->w2);
    httpa_buf_reset(&p->p2);
    assert_int_equal(EVP_DigestUpdate(p->h_in, chunk, n), 1);
    assert_ok(httpa_client_txn_seal(p->ct, HTTPA_SPAN(chunk, n), fin, &p->w1));
    assert_ok(httpa_server_txn_body(p->st, httpa_buf_span(&p->w1), fin, &p->p1));
    assert_int_equal(EVP_DigestUpdate(p->h_server, p->p1.base, p->p1.len), 1);
    assert_ok(httpa_server_txn_seal(p->st, httpa_buf_span(&p->p1), fin, &p->w2));
    assert_ok(httpa_client_txn_body(p->ct, httpa_buf_span(&p->w2), fin, &p->p2));
    assert_int_equal(EVP_DigestUpdate(p->h_client, p->p2.base, p->p2.len), 1);
    note(p, &p->w1);
    note(p, &p->p1);
    note(p, &p->w2);
    note(p, &p->p2);
}

static void pipeline_finish(pipeline *p)
{
    uint8_t a[32], b[32], c[32];
    unsigned la, lb, lc;
    assert_int_equal(EVP_DigestFinal_ex(p->h_in, a, &la), 1);
    assert_int_equal(EVP_DigestFinal_ex(p->h_server, b, &lb), 1);
    assert_int_equal(EVP_DigestFinal_ex(p->h_client, c, &lc), 1);
    tl_assert_bytes(b, lb, a, la);
    tl_assert_bytes(c, lc, a, la);
    EVP_MD_CTX_free(p->h_in);
    EVP_MD_CTX_free(p->h_server);
    EVP_MD_CTX_free(p->h_client);
    httpa_buf_free(&p->w1);
    httpa_buf_free(&p->p1);
    httpa_buf_free(&p->w2);
    httpa_buf_free(&p->p2);
    httpa_server_txn_free(p->st);
    httpa_client_txn_free(p->ct);
}

static void test_big_body_bounded_memory(void **state)
{
    (void)state;
    const char *san = getenv("HTTPA_SANITIZE_BUILD");
    uint64_t total = (san != NULL && *san != '\0') ? UINT64_C(64) << 20 : UINT64_C(1) << 30;
    int64_t now = 1700000000;
    ends e;
    ends_init(&e, now);
    uint8_t *chunk = malloc(CHUNK);
    assert_non_null(chunk);
    pipeline p;
    memset(&p, 0, sizeof(p));
    pipeline_start(&p, &e, now, total);
    long before = maxrss_kib();
    for (uint64_t off = 0, i = 0; off < total; off += CHUNK, i++) {
        fill_chunk(chunk, CHUNK, i);
        pipeline_step(&p, chunk, CHUNK, off + CHUNK >= total);
    }
    long after = maxrss_kib();
    pipeline_finish(&p);
    /* No step ever holds more than one chunk plus one record and its tags. */
    assert_true(p.max_wire <= CHUNK + RS + (CHUNK / RS + 2) * HTTPA_TAG_LEN);
    /* Peak memory does not grow with the body (1 GiB here). */
    fprintf(stderr, "body %llu MiB, peak RSS %ld KiB (+%ld KiB in the loop)\n",
            (unsigned long long)(total >> 20), after, after - before);
    assert_true(after - before < 16 * 1024);
    if (san == NULL || *san == '\0')
        assert_true(after < 64 * 1024);
    free(chunk);
    httpa_server_free(e.srv);
    httpa_client_base_release(e.cb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_big_body_bounded_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
