/* The libcurl client (include/httpa/curl.h) end to end against the test
 * mini server (tests/testlib/mini_server.c) on 127.0.0.1: handshake and
 * Trusted Transaction, base reuse and recovery, tampering, attestation and
 * policy failures, secret provisioning order, threads, and streaming
 * 256 MiB both ways in bounded memory. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>

#include "httpa/curl.h"
#include "httpa/curl_cli.h"
#include "httpa/sim.h"
#include "mini_server.h"
#include "testlib.h"

/* ---- helpers ---- */

typedef struct sink {
    httpa_buf buf;      /* small bodies */
    uint64_t n;
    uint64_t bad;       /* octets that differ from mini_pattern */
    bool pattern;       /* check instead of keeping */
} sink;

static httpa_err sink_write(void *arg, const uint8_t *p, size_t n)
{
    sink *s = arg;
    if (s->pattern) {
        for (size_t i = 0; i < n; i++)
            s->bad += p[i] != mini_pattern(s->n + i);
    } else if (httpa_buf_append(&s->buf, p, n) != HTTPA_OK) {
        return HTTPA_ERR_TOO_LARGE;
    }
    s->n += n;
    return HTTPA_OK;
}

static void sink_init(sink *s, bool pattern)
{
    memset(s, 0, sizeof(*s));
    httpa_buf_init(&s->buf, 1 << 20);
    s->pattern = pattern;
}

/* Start over: free what the last request left. */
static void sink_reset(sink *s, bool pattern)
{
    httpa_buf_free(&s->buf);
    sink_init(s, pattern);
}

static bool sink_is(const sink *s, const char *want)
{
    return s->buf.len == strlen(want) && memcmp(s->buf.base, want, s->buf.len) == 0;
}

/* A streamed request body of mini_pattern octets. */
typedef struct source {
    uint64_t len, off;
} source;

static httpa_err source_read(void *arg, uint8_t *buf, size_t cap, size_t *got)
{
    source *s = arg;
    size_t k = s->len - s->off < cap ? (size_t)(s->len - s->off) : cap;
    for (size_t i = 0; i < k; i++)
        buf[i] = mini_pattern(s->off + i);
    s->off += k;
    *got = k;
    return HTTPA_OK;
}

typedef struct env {
    mini_server *srv;
    httpa_sim_verifier verifier;
    httpa_curl_client *client;
    char url[64];
} env;

static httpa_curl_client *new_client(env *e, bool allow_sim, httpa_curl_policy_fn policy)
{
    httpa_curl_config cfg = {.engine = {.verifier = &e->verifier.base, .allow_sim = allow_sim},
                             .http = HTTPA_CURL_HTTP_1_1,
                             .policy = policy};
    httpa_curl_client *c = NULL;
    assert_int_equal(httpa_curl_client_new(&cfg, &c), HTTPA_OK);
    return c;
}

static void env_start(env *e, uint32_t expires)
{
    mini_server_opts o = {.expires = expires};
    memset(e, 0, sizeof(*e));
    e->srv = mini_server_start(&o);
    assert_non_null(e->srv);
    httpa_sim_verifier_init(&e->verifier, mini_server_sim_key(e->srv));
    e->client = new_client(e, true, NULL);
    snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%u", mini_server_port(e->srv));
}

static void env_stop(env *e)
{
    httpa_curl_client_free(e->client);
    mini_server_stop(e->srv);
}

static const char *url(env *e, const char *path)
{
    static _Thread_local char u[256];
    snprintf(u, sizeof(u), "%s%s", e->url, path);
    return u;
}

static httpa_err get(env *e, httpa_curl_client *c, const char *path, sink *s, httpa_curl_resp *r)
{
    httpa_curl_req req = {.url = url(e, path), .write = sink_write, .write_arg = s};
    return httpa_curl_request(c, &req, r);
}

static httpa_err post(env *e, const char *path, const char *body, sink *s, httpa_curl_resp *r)
{
    httpa_curl_req req = {.url = url(e, path),
                          .has_body = true,
                          .body = HTTPA_SPAN(body, strlen(body)),
                          .write = sink_write,
                          .write_arg = s};
    return httpa_curl_request(e->client, &req, r);
}

static mini_server_stats stats(env *e)
{
    mini_server_stats st;
    mini_server_stats_get(e->srv, &st);
    return st;
}

static const httpa_header *field(const httpa_curl_resp *r, const char *name)
{
    return httpa_msg_find(&r->msg, name, strlen(name));
}

static long max_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* ---- tests ---- */

/* First in the group, so that the peak RSS is not hidden by earlier tests. */
static void test_stream_256mib_both_ways_in_bounded_memory(void **state)
{
    (void)state;
    const char *san = getenv("HTTPA_SANITIZE_BUILD");
    uint64_t size = san != NULL && strcmp(san, "1") == 0 ? 16u << 20 : 256u << 20;
    env e;
    sink s;
    httpa_curl_resp r;
    char path[64];
    env_start(&e, 0);
    httpa_curl_resp_init(&r);
    sink_init(&s, false);
    assert_int_equal(get(&e, e.client, "/hello", &s, &r), HTTPA_OK); /* warm up */
    long before = max_rss_kib();

    source src = {.len = size};
    sink_reset(&s, false);
    httpa_curl_req up = {.url = url(&e, "/upload"), .method = "PUT", .has_body = true,
                         .read = source_read, .read_arg = &src, .body_len = UINT64_MAX,
                         .write = sink_write, .write_arg = &s};
    assert_int_equal(httpa_curl_request(e.client, &up, &r), HTTPA_OK);
    char want[96];
    snprintf(want, sizeof(want), "len=%llu bad=0", (unsigned long long)size);
    assert_true(sink_is(&s, want));

    sink_reset(&s, true);
    snprintf(path, sizeof(path), "/download/%llu", (unsigned long long)size);
    assert_int_equal(get(&e, e.client, path, &s, &r), HTTPA_OK);
    assert_int_equal(s.n, size);
    assert_int_equal(s.bad, 0);
    assert_int_equal(r.body_octets, size);

    long growth = max_rss_kib() - before;
    fprintf(stderr, "streamed %llu MiB each way: max RSS growth %ld KiB\n",
            (unsigned long long)(size >> 20), growth);
    assert_true(growth < 64 * 1024);
    httpa_curl_resp_free(&r);
    env_stop(&e);
}

static void test_handshake_then_trusted_get_and_post(void **state)
{
    (void)state;
    env e;
    sink s;
    httpa_curl_resp r;
    env_start(&e, 0);
    httpa_curl_resp_init(&r);
    sink_init(&s, false);
    static const char *const hdrs[] = {"Authorization: Bearer t0ken", "X-Trace: 42", NULL};
    httpa_curl_req req = {.url = url(&e, "/hello"), .headers = hdrs, .write = sink_write,
                          .write_arg = &s};
    assert_int_equal(httpa_curl_request(e.client, &req, &r), HTTPA_OK);
    assert_int_equal(r.status, 200);
    assert_true(r.handshake);
    assert_true(r.binder_verified);
    assert_true(sink_is(&s, "hello GET /hello"));
    assert_string_equal(field(&r, "x-auth")->value, "sealed");
    assert_true(field(&r, "set-cookie")->sealed);
    assert_false(field(&r, "x-auth")->sealed);
    assert_int_equal(r.nfields, 2);
    assert_true(r.fields[0].sealed);   /* authorization */
    assert_false(r.fields[1].sealed);  /* x-trace */
    assert_true(r.attestation.appraisal.simulated);
    assert_string_equal(r.attestation.mode, "attested-key");
    assert_string_equal(r.attestation.evidence[0].tee, "sim");

    sink_reset(&s, false);
    assert_int_equal(post(&e, "/echo", "ping pong", &s, &r), HTTPA_OK);
    assert_true(sink_is(&s, "ping pong"));
    assert_false(r.handshake);

    mini_server_stats st = stats(&e);
    assert_int_equal(st.handshakes, 1);
    assert_int_equal(st.trusted, 2);
    assert_string_equal(st.events, "HTT");
    httpa_curl_resp_free(&r);
    httpa_buf_free(&s.buf);
    env_stop(&e);
}

static void test_base_reused_across_requests(void **state)
{
    (void)state;
    env e;
    sink s;
    httpa_curl_resp r;
    env_start(&e, 0);
    httpa_curl_resp_init(&r);
    char id[40] = "";
    for (int i = 0; i < 3; i++) {
        sink_init(&s, false);
        assert_int_equal(get(&e, e.client, "/hello", &s, &r), HTTPA_OK);
        assert_int_equal(r.handshake, i == 0);
        if (i == 0)
            snprintf(id, sizeof(id), "%s", r.attestation.base_id);
        assert_string_equal(r.attestation.base_id, id);
        httpa_buf_free(&s.buf);
    }
    assert_int_equal(stats(&e).handshakes, 1);
    assert_int_equal(stats(&e).trusted, 3);
    assert_int_equal(httpa_curl_handshakes(e.client), 1);
    httpa_curl_resp_free(&r);
    env_stop(&e);
}

static void test_rehandshake_after_unknown_base(void **state)
{
    (void)state;
    env e;
    sink s;
    httpa_curl_resp r;
    env_start(&e, 0);
    httpa_curl_resp_init(&r);
    sink_init(&s, false);
    assert_int_equal(get(&e, e.client, "/hello", &s, &r), HTTPA_OK);

    /* Idempotent: retried transparently on a new base. */
    mini_server_forget(e.srv);
    sink_reset(&s, false);
    assert_int_equal(get(&e, e.client, "/hello", &s, &r), HTTPA_OK);
    assert_true(sink_is(&s, "hello GET /hello"));
    assert_true(r.handshake);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(stats(&e).handshakes, 2);

    /* Not idempotent: never retried after an unauthenticated error (13.3),
     * but the base is dropped, so the next request works. */
    mini_server_forget(e.srv);
    sink_reset(&s, false);
    assert_int_equal(post(&e, "/echo", "once", &s, &r), HTTPA_ERR_UNKNOWN_BASE);
    assert_int_equal(r.cls, HTTPA_CURL_CLASS_PROTOCOL);
    assert_non_null(strstr(r.message, "not idempotent"));
    assert_int_equal(s.n, 0);
    assert_int_equal(stats(&e).trusted, 2);
    assert_int_equal(post(&e, "/echo", "twice", &s, &r), HTTPA_OK);
    assert_true(sink_is(&s, "twice"));
    assert_int_equal(stats(&e).handshakes, 3);
    httpa_curl_resp_free(&r);
    httpa_buf_free(&s.buf);
    env_stop(&e);
}

static void test_local_expiry_rehandshakes_before_sending(void **state)
{
    (void)state;
    env e;
    sink s;
    httpa_curl_resp r;
    env_start(&e, 2);
    httpa_curl_resp_init(&r);
    sink_init(&s, false);
    assert_int_equal(post(&e, "/echo", "a", &s, &r), HTTPA_OK);
    sleep(3);
    sink_reset(&s, false);
    /* A POST, never sent on the old base: a new handshake first. */
    assert_int_equal(post(&e, "/echo", "b", &s, &r), HTTPA_OK);
    assert_true(sink_is(&s, "b"));
    assert_true(r.handshake);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(stats(&e).handshakes, 2);
    assert_int_equal(stats(&e).refused, 0);
    httpa_curl_resp_free(&r);
    httpa_buf_free(&s.buf);
    env_stop(&e);
}

static void test_flipped_binder_is_protocol_error_without_body(void **state)
{
    (void)state;
    env e;
    sink s;
    httpa_curl_resp r;
    env_start(&e, 0);
    httpa_curl_resp_init(&r);
    sink_init(&s, false);
    mini_server_tamper(e.srv, 1);
    assert_int_equal(get(&e, e.client, "/download/100000", &s, &r), HTTPA_ERR_BAD_TICKET);
    assert_int_equal(r.cls, HTTPA_CURL_CLASS_PROTOCOL);
    assert_int_equal(s.n, 0);
    assert_false(r.delivered);
    assert_false(r.binder_verified);
    assert_int_equal(r.status, 0);
    /* The base is no longer used: the next request runs a new AtHS. */
    assert_int_equal(get(&e, e.client, "/hello", &s, &r), HTTPA_OK);
    assert_true(r.handshake);
    httpa_curl_resp_free(&r);
    httpa_buf_free(&s.buf);
    env_stop(&e);
}

static void test_missing_final_record_fails_after_partial_delivery(void **state)
{
    (void)state;
    env e;
    sink s;
    httpa_curl_resp r;
    env_start(&e, 0);
    httpa_curl_resp_init(&r);
    sink_init(&s, true);
    mini_server_truncate(e.srv, 1);
    assert_int_equal(get(&e, e.client, "/download/100000", &s, &r), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(r.cls, HTTPA_CURL_CLASS_PROTOCOL);
    assert_true(r.binder_verified);
    assert_true(r.delivered);           /* verified full records went out ... */
    assert_true(s.n < 100000);          /* ... but not a complete body */
    assert_int_equal(s.bad, 0);
    assert_non_null(strstr(r.message, "at its end"));
    httpa_curl_resp_free(&r);
    env_stop(&e);
}

static void test_sim_evidence_rejected_unless_allowed(void **state)
{
    (void)state;
    env e;
    sink s;
    httpa_curl_resp r;
    env_start(&e, 0);
    httpa_curl_resp_init(&r);
    sink_init(&s, false);
    httpa_curl_client *strict = new_client(&e, false, NULL);
    assert_int_equal(get(&e, strict, "/hello", &s, &r), HTTPA_ERR_BAD_QUOTE);
    assert_int_equal(r.cls, HTTPA_CURL_CLASS_ATTESTATION);
    assert_non_null(strstr(r.message, "SIMULATED"));
    assert_int_equal(s.n, 0);
    assert_int_equal(stats(&e).trusted, 0);
    httpa_curl_client_free(strict);
    httpa_curl_resp_free(&r);
    env_stop(&e);
}

static httpa_err reject_all(void *arg, const char *tee, const char *format, httpa_span ev,
                            const httpa_appraisal *a, int64_t now, char *why, size_t why_len)
{
    (void)arg, (void)tee, (void)format, (void)ev, (void)a, (void)now;
    snprintf(why, why_len, "measurement not on the allow-list");
    return HTTPA_ERR_POLICY_VIOLATION;
}

static void test_secrets_sent_only_after_verification(void **state)
{
    (void)state;
    static const char *const names[] = {"db-key"};
    const httpa_span values[] = {HTTPA_SPAN_STR("correct horse battery staple")};
    env e;
    sink s;
    httpa_curl_resp r;
    char got[64];
    env_start(&e, 0);
    httpa_curl_resp_init(&r);
    sink_init(&s, false);
    httpa_curl_req req = {.url = url(&e, "/hello"), .secret_names = names,
                          .secret_values = values, .nsecrets = 1, .write = sink_write,
                          .write_arg = &s};

    /* Wrong attestation key: the evidence fails, nothing is provisioned. */
    httpa_sim_verifier wrong;
    uint8_t other[32] = {1};
    httpa_sim_verifier_init(&wrong, other);
    httpa_curl_config cfg = {.engine = {.verifier = &wrong.base, .allow_sim = true}};
    httpa_curl_client *c = NULL;
    assert_int_equal(httpa_curl_client_new(&cfg, &c), HTTPA_OK);
    assert_int_equal(httpa_curl_request(c, &req, &r), HTTPA_ERR_BAD_QUOTE);
    httpa_curl_client_free(c);

    /* The local policy refuses: nothing is provisioned either. */
    c = new_client(&e, true, reject_all);
    assert_int_equal(httpa_curl_request(c, &req, &r), HTTPA_ERR_POLICY_VIOLATION);
    assert_int_equal(r.cls, HTTPA_CURL_CLASS_POLICY);
    assert_non_null(strstr(r.message, "allow-list"));
    httpa_curl_client_free(c);
    assert_int_equal(stats(&e).provisions, 0);
    assert_false(mini_server_secret(e.srv, "db-key", got, sizeof(got)));

    /* Verified: handshake, then the secrets, then the request. */
    assert_int_equal(httpa_curl_request(e.client, &req, &r), HTTPA_OK);
    assert_true(r.provisioned);
    assert_true(mini_server_secret(e.srv, "db-key", got, sizeof(got)));
    assert_string_equal(got, "correct horse battery staple");
    assert_string_equal(stats(&e).events, "HHHST");
    httpa_curl_resp_free(&r);
    httpa_buf_free(&s.buf);
    env_stop(&e);
}

typedef struct worker {
    env *e;
    int failures;
    char first_error[256];
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    httpa_curl_resp r;
    httpa_curl_resp_init(&r);
    for (int i = 0; i < 50; i++) {
        sink s;
        sink_init(&s, false);
        char body[32];
        snprintf(body, sizeof(body), "request %d", i);
        httpa_err e = i % 2 ? post(w->e, "/echo", body, &s, &r)
                            : get(w->e, w->e->client, "/hello", &s, &r);
        bool ok = e == HTTPA_OK && (i % 2 ? sink_is(&s, body) : sink_is(&s, "hello GET /hello"));
        if (!ok && w->failures++ == 0)
            snprintf(w->first_error, sizeof(w->first_error), "%s", r.message);
        httpa_buf_free(&s.buf);
    }
    httpa_curl_resp_free(&r);
    return NULL;
}

static void test_eight_threads_share_one_client(void **state)
{
    (void)state;
    env e;
    pthread_t th[8];
    worker w[8];
    env_start(&e, 0);
    for (int i = 0; i < 8; i++) {
        w[i] = (worker){.e = &e};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        if (w[i].failures)
            fprintf(stderr, "thread %d: %d failures, first: %s\n", i, w[i].failures,
                    w[i].first_error);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(stats(&e).trusted, 400);
    assert_int_equal(stats(&e).handshakes, 1); /* one handshake, shared */
    env_stop(&e);
}

static void test_preflight_hidden_target_and_declared_lengths(void **state)
{
    (void)state;
    env e;
    sink s;
    httpa_curl_resp r;
    env_start(&e, 0);
    httpa_curl_resp_init(&r);
    sink_init(&s, false);
    httpa_curl_req req = {.url = url(&e, "/hello"), .preflight = true, .hide_target = true,
                          .write = sink_write, .write_arg = &s};
    assert_int_equal(httpa_curl_request(e.client, &req, &r), HTTPA_OK);
    assert_true(sink_is(&s, "hello GET /hello"));
    assert_true(r.target_sealed);
    assert_int_equal(r.target_len, 6);
    assert_int_equal(stats(&e).preflights, 1);

    source src = {.len = 300000};
    sink_reset(&s, false);
    httpa_curl_req up = {.url = url(&e, "/upload"), .method = "POST", .has_body = true,
                         .read = source_read, .read_arg = &src, .body_len = 300000,
                         .write = sink_write, .write_arg = &s};
    assert_int_equal(httpa_curl_request(e.client, &up, &r), HTTPA_OK);
    assert_true(sink_is(&s, "len=300000 bad=0"));

    sink_reset(&s, true);
    assert_int_equal(get(&e, e.client, "/download/100000?declared", &s, &r), HTTPA_OK);
    assert_int_equal(s.n, 100000);
    assert_int_equal(s.bad, 0);
    assert_string_equal(field(&r, "content-length")->value, "100000");

    sink_reset(&s, false);
    assert_int_equal(get(&e, e.client, "/missing", &s, &r), HTTPA_OK); /* authenticated 404 */
    assert_int_equal(r.status, 404);
    assert_true(r.binder_verified);
    httpa_curl_resp_free(&r);
    httpa_buf_free(&s.buf);
    env_stop(&e);
}

static void test_network_and_usage_errors(void **state)
{
    (void)state;
    env e;
    sink s;
    httpa_curl_resp r;
    env_start(&e, 0);
    httpa_curl_resp_init(&r);
    sink_init(&s, false);
    unsigned short port = mini_server_port(e.srv);
    mini_server_stop(e.srv);
    e.srv = NULL;
    httpa_curl_req req = {.url = url(&e, "/hello")};
    assert_int_equal(httpa_curl_request(e.client, &req, &r), HTTPA_ERR_NETWORK);
    assert_int_equal(r.cls, HTTPA_CURL_CLASS_NETWORK);
    assert_int_not_equal(r.curl_code, 0);
    (void)port;

    req.url = "ftp://127.0.0.1/x";
    assert_int_equal(httpa_curl_request(e.client, &req, &r), HTTPA_ERR_INVALID_ARG);
    assert_int_equal(r.cls, HTTPA_CURL_CLASS_LOCAL);
    req.url = "http://user:pw@127.0.0.1/x";
    assert_int_equal(httpa_curl_request(e.client, &req, &r), HTTPA_ERR_INVALID_ARG);
    assert_non_null(strstr(r.message, "unsealed"));
    static const char *const bad[] = {"No colon here", NULL};
    req.url = "http://127.0.0.1/x";
    req.headers = bad;
    assert_int_equal(httpa_curl_request(e.client, &req, &r), HTTPA_ERR_INVALID_ARG);

    httpa_curl_config none = {0};
    httpa_curl_client *c = NULL;
    assert_int_equal(httpa_curl_client_new(&none, &c), HTTPA_ERR_INVALID_ARG); /* no verifier */
    httpa_curl_client_free(e.client);
    httpa_curl_resp_free(&r);
}

static void test_error_classes(void **state)
{
    (void)state;
    assert_int_equal(httpa_curl_err_class(HTTPA_OK), HTTPA_CURL_CLASS_NONE);
    assert_int_equal(httpa_curl_err_class(HTTPA_ERR_NETWORK), HTTPA_CURL_CLASS_NETWORK);
    assert_int_equal(httpa_curl_err_class(HTTPA_ERR_BAD_QUOTE), HTTPA_CURL_CLASS_ATTESTATION);
    assert_int_equal(httpa_curl_err_class(HTTPA_ERR_POLICY_VIOLATION), HTTPA_CURL_CLASS_POLICY);
    assert_int_equal(httpa_curl_err_class(HTTPA_ERR_BAD_TICKET), HTTPA_CURL_CLASS_PROTOCOL);
    assert_int_equal(httpa_curl_err_class(HTTPA_ERR_REPLAY), HTTPA_CURL_CLASS_PROTOCOL);
    assert_int_equal(httpa_curl_err_class(HTTPA_ERR_NEGOTIATION_FAILED), HTTPA_CURL_CLASS_PROTOCOL);
    assert_int_equal(httpa_curl_err_class(HTTPA_ERR_IO), HTTPA_CURL_CLASS_LOCAL);
    assert_string_equal(httpa_curl_class_name(HTTPA_CURL_CLASS_ATTESTATION), "attestation");
}

/* ---- the httpa command ---- */

typedef struct cli_result {
    int code;
    char out[8192];
    char err[16384];
} cli_result;

static void slurp(FILE *f, char *buf, size_t cap)
{
    rewind(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Run `httpa args...` (NULL-terminated) in-process. */
static void run_cli(cli_result *res, const char *first, ...)
{
    char *argv[64] = {"httpa"};
    int argc = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a != NULL && argc < 63; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    FILE *out = tmpfile(), *err = tmpfile();
    assert_non_null(out);
    assert_non_null(err);
    res->code = httpa_curl_main(argc, argv, out, err);
    slurp(out, res->out, sizeof(res->out));
    slurp(err, res->err, sizeof(res->err));
}

static void sim_key_hex(env *e, char hex[65])
{
    const uint8_t *k = mini_server_sim_key(e->srv);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", k[i]);
}

/* A temporary file holding `text`; the path goes to `path`. */
static void temp_file(char path[64], const char *text)
{
    snprintf(path, 64, "/tmp/httpa-net-client-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void test_cli_rejects_sim_unless_allowed(void **state)
{
    (void)state;
    env e;
    cli_result res;
    char key[65];
    env_start(&e, 0);
    sim_key_hex(&e, key);
    run_cli(&res, url(&e, "/hello"), NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_ATTESTATION);
    assert_string_equal(res.out, "");
    assert_non_null(strstr(res.err, "SIMULATED"));
    assert_non_null(strstr(res.err, "--allow-sim"));
    assert_int_equal(stats(&e).trusted, 0);

    run_cli(&res, "--allow-sim", "--sim-key", key, url(&e, "/hello"), NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_OK);
    assert_string_equal(res.out, "hello GET /hello");
    assert_non_null(strstr(res.err, "WARNING"));
    env_stop(&e);
}

static void test_cli_verbose_shows_names_never_sealed_values(void **state)
{
    (void)state;
    env e;
    cli_result res;
    char key[65], secret[64];
    env_start(&e, 0);
    sim_key_hex(&e, key);
    temp_file(secret, "t0p-s3cret-value");
    char arg[128];
    snprintf(arg, sizeof(arg), "db-key=@%s", secret);
    run_cli(&res, "-v", "--allow-sim", "--sim-key", key, "-H", "Authorization: Bearer s3cr3t-t0ken",
            "-H", "Cookie: c=v4lue", "--seal-header", "x-tenant", "-H", "X-Tenant: acme-corp",
            "--secret", arg, "--hide-target", url(&e, "/hello"), NULL);
    unlink(secret);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_OK);
    assert_string_equal(res.out, "hello GET /hello");
    assert_non_null(strstr(res.err, "A evidence sim/raw: accepted"));
    assert_non_null(strstr(res.err, "A TEE: sim (SIMULATED), TCB status"));
    assert_non_null(strstr(res.err, "A report_data: "));
    assert_non_null(strstr(res.err, "A mode: attested-key, suite: TLS_AES_128_GCM_SHA256"));
    assert_non_null(strstr(res.err, "authorization (19 octets)"));
    assert_non_null(strstr(res.err, "x-tenant (9 octets)"));
    assert_non_null(strstr(res.err, "> POST /.well-known/httpa HTTP/1.1"));
    assert_non_null(strstr(res.err, "< HTTP/1.1 200"));
    assert_non_null(strstr(res.err, "set-cookie ("));
    assert_non_null(strstr(res.err, "secrets provisioned"));
    /* Sealed values, secrets and the sealed target never appear. */
    assert_null(strstr(res.err, "s3cr3t-t0ken"));
    assert_null(strstr(res.err, "v4lue"));
    assert_null(strstr(res.err, "acme-corp"));
    assert_null(strstr(res.err, "t0p-s3cret"));
    assert_null(strstr(res.err, "HttpOnly"));
    assert_null(strstr(res.err, "/hello"));
    char got[64];
    assert_true(mini_server_secret(e.srv, "db-key", got, sizeof(got)));
    assert_string_equal(got, "t0p-s3cret-value");
    assert_string_equal(stats(&e).last_auth, "sealed");
    env_stop(&e);
}

static void test_cli_json_summary(void **state)
{
    (void)state;
    env e;
    cli_result res;
    char key[65];
    env_start(&e, 0);
    sim_key_hex(&e, key);
    run_cli(&res, "--json", "--allow-sim", "--sim-key", key, "-d", "a=1", "-d", "b=2",
            url(&e, "/echo"), NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_OK);
    json_error_t jerr;
    json_t *j = json_loads(res.out, 0, &jerr);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 200);
    assert_string_equal(json_string_value(json_object_get(j, "body")), "a=1&b=2");
    assert_int_equal(strlen(json_string_value(json_object_get(j, "base_id"))), 36);
    assert_string_equal(json_string_value(json_object_get(j, "suite")), "TLS_AES_128_GCM_SHA256");
    json_t *att = json_object_get(j, "attestation");
    assert_true(json_is_true(json_object_get(att, "simulated")));
    json_t *ev = json_array_get(json_object_get(att, "evidence"), 0);
    assert_string_equal(json_string_value(json_object_get(ev, "tee")), "sim");
    assert_string_equal(json_string_value(json_object_get(ev, "result")), "accepted");
    json_t *h;
    size_t i;
    json_array_foreach(json_object_get(j, "headers"), i, h) {
        if (json_is_true(json_object_get(h, "sealed"))) {
            assert_null(json_object_get(h, "value"));
            assert_non_null(json_object_get(h, "length"));
        }
    }
    json_decref(j);

    run_cli(&res, "--json", url(&e, "/hello"), NULL); /* sim not allowed */
    assert_int_equal(res.code, HTTPA_CLI_EXIT_ATTESTATION);
    j = json_loads(res.out, 0, &jerr);
    assert_non_null(j);
    json_t *er = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(er, "class")), "attestation");
    assert_string_equal(json_string_value(json_object_get(er, "token")), "bad_quote");
    assert_null(json_object_get(j, "body"));
    json_decref(j);
    env_stop(&e);
}

static void test_cli_exit_codes_and_output_files(void **state)
{
    (void)state;
    env e;
    cli_result res;
    char key[65], out[64], policy[64], data[64];
    env_start(&e, 0);
    sim_key_hex(&e, key);

    /* An authenticated 404 is not an error, unless --fail. */
    run_cli(&res, "--allow-sim", "--sim-key", key, url(&e, "/missing"), NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_OK);
    run_cli(&res, "--allow-sim", "--sim-key", key, "--fail", url(&e, "/missing"), NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_HTTP);
    assert_string_equal(res.out, "");

    /* A flipped binder: protocol error, -o FILE not created. */
    snprintf(out, sizeof(out), "/tmp/httpa-net-client-out-%d", (int)getpid());
    unlink(out);
    mini_server_tamper(e.srv, 1);
    run_cli(&res, "--allow-sim", "--sim-key", key, "-o", out, url(&e, "/hello"), NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_PROTOCOL);
    assert_int_not_equal(access(out, F_OK), 0);
    /* A body cut before its final record: nothing written to stdout. */
    mini_server_truncate(e.srv, 1);
    run_cli(&res, "--allow-sim", "--sim-key", key, url(&e, "/download/70000"), NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_PROTOCOL);
    assert_string_equal(res.out, "");
    assert_non_null(strstr(res.err, "nothing was written"));

    /* --data-binary @FILE streamed, -o FILE written on success. */
    temp_file(data, "file body\n");
    char at[80];
    snprintf(at, sizeof(at), "@%s", data);
    run_cli(&res, "--allow-sim", "--sim-key", key, "--data-binary", at, "-o", out,
            url(&e, "/echo"), NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_OK);
    FILE *f = fopen(out, "rb");
    assert_non_null(f);
    char got[64] = "";
    assert_int_equal(fread(got, 1, sizeof(got) - 1, f), 10);
    fclose(f);
    assert_string_equal(got, "file body\n");
    unlink(out);
    unlink(data);

    /* The appraisal policy: a minimum SVN the simulated TEE does not meet. */
    temp_file(policy, "{\"version\":1,\"sim\":{\"min_svn\":5},\"allow_simulated\":true}");
    run_cli(&res, "--allow-sim", "--sim-key", key, "--policy", policy, url(&e, "/hello"), NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_POLICY);
    assert_non_null(strstr(res.err, "SIM_SVN_TOO_LOW"));
    unlink(policy);

    /* Network and usage. */
    run_cli(&res, "--allow-sim", "--sim-key", key, "http://127.0.0.1:1/", NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_NETWORK);
    run_cli(&res, "--bogus", url(&e, "/"), NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_USAGE);
    run_cli(&res, "--secret", "k=value", url(&e, "/"), NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_USAGE);
    run_cli(&res, "--help", NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_OK);
    assert_non_null(strstr(res.out, "EXIT STATUS"));
    env_stop(&e);
}

/* An authenticated Attest-Error (binder verified) is a failure of the
 * transaction: exit 5, or 4 for policy_violation; token and detail shown. */
static void test_cli_authenticated_attest_error_exit_codes(void **state)
{
    (void)state;
    env e;
    cli_result res;
    char key[65];
    env_start(&e, 0);
    sim_key_hex(&e, key);
    mini_server_refuse(e.srv, 1, HTTPA_ERR_BAD_REQUEST);
    run_cli(&res, "--allow-sim", "--sim-key", key, "-d", "x=1", url(&e, "/echo"), NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_PROTOCOL);
    assert_string_equal(res.out, "");
    assert_non_null(strstr(res.err, "httpa: bad_request (protocol error, authenticated 400"));
    assert_non_null(strstr(res.err, "request body"));

    mini_server_refuse(e.srv, 1, HTTPA_ERR_POLICY_VIOLATION);
    run_cli(&res, "--json", "--allow-sim", "--sim-key", key, url(&e, "/hello"), NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_POLICY);
    assert_non_null(strstr(res.err, "httpa: policy_violation (policy error, authenticated"));
    json_error_t jerr;
    json_t *j = json_loads(res.out, 0, &jerr);
    assert_non_null(j);
    assert_true(json_is_false(json_object_get(j, "ok")));
    assert_true(json_is_true(json_object_get(j, "binder_verified")));
    json_t *er = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(er, "token")), "policy_violation");
    json_decref(j);

    /* Without a fault the same request succeeds: the base is still good. */
    run_cli(&res, "--allow-sim", "--sim-key", key, url(&e, "/hello"), NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_OK);
    env_stop(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_256mib_both_ways_in_bounded_memory),
        cmocka_unit_test(test_handshake_then_trusted_get_and_post),
        cmocka_unit_test(test_base_reused_across_requests),
        cmocka_unit_test(test_rehandshake_after_unknown_base),
        cmocka_unit_test(test_local_expiry_rehandshakes_before_sending),
        cmocka_unit_test(test_flipped_binder_is_protocol_error_without_body),
        cmocka_unit_test(test_missing_final_record_fails_after_partial_delivery),
        cmocka_unit_test(test_sim_evidence_rejected_unless_allowed),
        cmocka_unit_test(test_secrets_sent_only_after_verification),
        cmocka_unit_test(test_eight_threads_share_one_client),
        cmocka_unit_test(test_preflight_hidden_target_and_declared_lengths),
        cmocka_unit_test(test_network_and_usage_errors),
        cmocka_unit_test(test_error_classes),
        cmocka_unit_test(test_cli_rejects_sim_unless_allowed),
        cmocka_unit_test(test_cli_verbose_shows_names_never_sealed_values),
        cmocka_unit_test(test_cli_json_summary),
        cmocka_unit_test(test_cli_exit_codes_and_output_files),
        cmocka_unit_test(test_cli_authenticated_attest_error_exit_codes),
    };
    /* The program, not the library, owns libcurl's global state. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
