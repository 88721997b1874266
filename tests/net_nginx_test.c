/* End to end through nginx: client (the httpa command as a child process, or
 * the client library in this process) -> nginx terminating TLS, with the
 * tested configuration docs/examples/nginx-httpa.conf -> [a relay that
 * records, or one that damages an octet] -> httpa-gateway (sim TEE) -> the
 * application (the recording upstream of tests/e2e/upstream.c in this
 * process, or examples/demo-app).
 *
 * Most tests put one gateway instance behind both of the file's gateway
 * placeholders; test_route_tags_two_gateways runs two, with --route-tag 00
 * and 01, and checks the file's route-tag map (profile 15.4).
 *
 * Each test starts and stops everything it uses, on 127.0.0.1 and ports the
 * kernel picks, and stops every child by its PID. nginx is /usr/sbin/nginx
 * or $HTTPA_NGINX; without it the tests are skipped (CI installs it).
 * Sanitizer builds (HTTPA_SANITIZE_BUILD=1) shrink the large transfers to
 * 64 MiB, the load test to 50 clients for 10 s and the route-tag test to 10
 * clients, and do not check memory bounds (the sanitizers' shadow memory
 * and quarantine dominate). */
#define _DEFAULT_SOURCE /* wait4 (e2e/proxy.c): the peak RSS of one child */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "e2e/e2e.h"
#include "e2e/proxy.h"
#include "httpa/curl.h"
#include "httpa/sim.h"

#include "e2e/harness.c"
#include "e2e/proxy.c"
#include "e2e/upstream.c"

#define MIB (1024 * 1024)
/* captures hold ciphertext (NUL octets): search them as octets */
#define HAS(b, n, str) px_contains((b), (n), (str), strlen(str))

/* Strings that must never be visible outside the TEE. */
#define TOKEN "Bearer tok-9f8e7d6c5b4a3928"
#define COOKIE "session=sess-31415926535"
#define TENANT "tenant-acme-7c1d"
#define CARD "4111-1111-1111-1111"
#define TARGET "/api/v1/pay?order=17"
#define SECRET "correct horse battery staple"
#define SECRET_B64 "Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZQ=="

typedef enum relay_kind { RELAY_NONE, RELAY_RECORD, RELAY_TAMPER } relay_kind;

typedef struct stack {
    char dir[64];                /* everything of the test: certificate, logs, captures */
    char cert[128], key[128], capdir[128];
    bool recorder;               /* upstream: the recording one in this process ... */
    e2e_upstream up;
    px_child app;                /* ... or examples/demo-app */
    char upstream_url[64];
    e2e_gw gw;                   /* the gateway (instance 0, --route-tag 00 when two run) */
    e2e_gw gw1;                  /* instance 1 (--route-tag 01): start_tagged only */
    relay_kind relay;
    px_child rec;                /* examples/demo-relay */
    px_tamper tamper;
    px_proxy nginx;
    char url[64];                /* https://127.0.0.1:<nginx> */
    char simkey[65];             /* the gateway's sim attestation key, hex */
} stack;

static void sleep_for_ms(int ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int setup(void **state)
{
    stack *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -1;
    strcpy(s->dir, "/tmp/httpa-nginx-XXXXXX");
    if (mkdtemp(s->dir) == NULL)
        return -1;
    /* nginx started as root runs its workers as nobody */
    chmod(s->dir, 0755);
    snprintf(s->cert, sizeof(s->cert), "%s/cert.pem", s->dir);
    snprintf(s->key, sizeof(s->key), "%s/key.pem", s->dir);
    snprintf(s->capdir, sizeof(s->capdir), "%s/capture", s->dir);
    if (!px_make_cert(s->cert, s->key, NULL))
        return -1;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    stack *s = *state;
    int rc = 0;
    /* clients are done; stop from the outside in */
    px_proxy_stop(&s->nginx);
    px_tamper_stop(&s->tamper);
    px_stop(&s->rec.pid, SIGTERM, 5000);
    if (s->gw.pid > 0 && e2e_gw_stop(&s->gw) != 0)
        rc = -1; /* SIGTERM must end the gateway with status 0 */
    if (s->gw1.pid > 0 && e2e_gw_stop(&s->gw1) != 0)
        rc = -1;
    if (s->recorder)
        e2e_upstream_stop(&s->up);
    px_stop(&s->app.pid, SIGTERM, 5000);
    px_rmtree(s->dir);
    free(s);
    return rc;
}

static void need_nginx(void)
{
    if (px_nginx_path() == NULL) {
        fprintf(stderr, "net_nginx: SKIPPED: nginx not found at /usr/sbin/nginx (or $HTTPA_NGINX); "
                        "install nginx-light (scripts/install-deps.sh)\n");
        skip();
    }
}

/* The application: the recording upstream in this process, or demo-app. */
static void start_app(stack *s, bool recorder, const char *const *app_extra)
{
    s->recorder = recorder;
    if (recorder) {
        assert_int_equal(e2e_upstream_start(&s->up), 0);
        snprintf(s->upstream_url, sizeof(s->upstream_url), "http://127.0.0.1:%d", s->up.port);
    } else {
        assert_int_equal(px_app_start(&s->app, s->dir, app_extra), 0);
        snprintf(s->upstream_url, sizeof(s->upstream_url), "http://127.0.0.1:%d", s->app.port);
    }
}

/* nginx with the file's @GATEWAY_0@ and @GATEWAY_1@ at these ports. */
static void start_nginx(stack *s, int gw0_port, int gw1_port)
{
    char gw0[32], gw1[32];
    snprintf(gw0, sizeof(gw0), "127.0.0.1:%d", gw0_port);
    snprintf(gw1, sizeof(gw1), "127.0.0.1:%d", gw1_port);
    assert_int_equal(px_nginx_start(&s->nginx, s->dir, s->cert, s->key, gw0, gw1), 0);
    snprintf(s->url, sizeof(s->url), "https://127.0.0.1:%d", s->nginx.port);
}

/* Start the application, the gateway, the relay and nginx. */
static void start(stack *s, bool recorder, const char *const *gw_extra, relay_kind relay,
                  const char *const *app_extra)
{
    need_nginx();
    start_app(s, recorder, app_extra);
    assert_int_equal(e2e_gw_start(&s->gw, s->upstream_url, gw_extra), 0);
    for (size_t i = 0; i < 32; i++)
        snprintf(s->simkey + 2 * i, 3, "%02x", s->gw.pub[i]);
    s->relay = relay;
    int next = s->gw.port;
    if (relay == RELAY_RECORD) {
        assert_int_equal(px_relay_start(&s->rec, s->dir, s->gw.port, s->capdir), 0);
        next = s->rec.port;
    } else if (relay == RELAY_TAMPER) {
        assert_int_equal(px_tamper_start(&s->tamper, s->gw.port), 0);
        next = s->tamper.port;
    }
    /* one gateway instance behind both route-tag upstreams: with a single
     * instance its IDs need no tag */
    start_nginx(s, next, next);
}

/* Two gateway instances, s->gw with --route-tag 00 and s->gw1 with
 * --route-tag 01 (the same sim seed, hence the same key), each behind its
 * own placeholder, as the file's header describes; no relay. */
static void start_tagged(stack *s, bool recorder, const char *const *app_extra)
{
    need_nginx();
    start_app(s, recorder, app_extra);
    static const char *const tag0[] = {"--route-tag", "00", NULL};
    static const char *const tag1[] = {"--route-tag", "01", NULL};
    assert_int_equal(e2e_gw_start(&s->gw, s->upstream_url, tag0), 0);
    assert_int_equal(e2e_gw_start(&s->gw1, s->upstream_url, tag1), 0);
    assert_memory_equal(s->gw.pub, s->gw1.pub, 32);
    for (size_t i = 0; i < 32; i++)
        snprintf(s->simkey + 2 * i, 3, "%02x", s->gw.pub[i]);
    s->relay = RELAY_NONE;
    start_nginx(s, s->gw.port, s->gw1.port);
}

/* Stop the gateway and start it again on the same port: every Attest Base
 * it knew is gone. */
static void restart_gateway(stack *s)
{
    char listen_at[32];
    snprintf(listen_at, sizeof(listen_at), "127.0.0.1:%d", s->gw.port);
    assert_int_equal(e2e_gw_stop(&s->gw), 0);
    const char *const extra[] = {"--listen", listen_at, NULL};
    assert_int_equal(e2e_gw_start(&s->gw, s->upstream_url, extra), 0);
}

static char *file_in(const stack *s, const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", s->dir, name);
    size_t n = 0;
    char *t = px_read_file(path, &n);
    if (t == NULL)
        t = calloc(1, 1);
    if (len != NULL)
        *len = n;
    return t;
}

/* nginx's access log once `needle` is in it `count` times */
static char *nginx_log(const stack *s, const char *needle, size_t count, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/access.log", s->dir);
    return px_wait_log(path, needle, count, len);
}

/* the gateway's JSON log, likewise */
static char *gateway_log(const stack *s, const char *needle, size_t count)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/access.log", s->gw.dir);
    return px_wait_log(path, needle, count, NULL);
}

/* The httpa command through nginx, verifying TLS with the test's certificate. */
static void cli(stack *s, px_cli *r, const char *const *args, px_sink_fn sink, void *arg)
{
    const char *argv[48];
    size_t n = 0;
    const char *const pre[] = {"--cacert", s->cert, "--allow-sim", "--sim-key", s->simkey,
                               "--connect-timeout", "10"};
    for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
        argv[n++] = pre[i];
    for (size_t i = 0; args[i] != NULL && n < 47; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    px_httpa(r, s->dir, argv, sink, arg, 300);
}

static void must_not_contain(const char *what, const void *hay, size_t n, const char *needle)
{
    if (px_contains(hay, n, needle, strlen(needle)))
        fail_msg("%s contains \"%s\"", what, needle);
}

static const char *const SECRETS[] = {TOKEN, "tok-9f8e7d6c5b4a3928", COOKIE, "sess-31415926535",
                                      TENANT, CARD, "/api/v1/pay", "order=17", "application/json",
                                      "upstream-secret", SECRET, SECRET_B64};

static void check_hidden(const char *what, const void *hay, size_t n)
{
    for (size_t i = 0; i < sizeof(SECRETS) / sizeof(SECRETS[0]); i++)
        must_not_contain(what, hay, n, SECRETS[i]);
}

/* A JSON body with a card number, padded to `len` octets (several records). */
static char *json_body(size_t len)
{
    char *b = malloc(len + 1);
    int n = snprintf(b, len + 1, "{\"card\":\"%s\",\"amount\":4200,\"note\":\"", CARD);
    for (size_t i = (size_t)n; i < len - 2; i++)
        b[i] = "lorem ipsum dolor sit amet "[i % 27];
    memcpy(b + len - 2, "\"}", 2);
    b[len] = '\0';
    return b;
}

/* ---- (a) what nginx sees and forwards, what the application gets ---- */

static void test_tls_termination_sees_only_ciphertext(void **state)
{
    stack *s = *state;
    start(s, true, NULL, RELAY_RECORD, NULL);
    s->up.resp_len = 70000;
    s->up.chunked = true;
    size_t blen = 40000;
    char *body = json_body(blen), path[256], out[256], data[300];
    snprintf(path, sizeof(path), "%s/body.json", s->dir);
    snprintf(out, sizeof(out), "%s/response.bin", s->dir);
    snprintf(data, sizeof(data), "@%s", path);
    assert_true(px_write_file(path, body, blen, 0600));
    char url[128];
    snprintf(url, sizeof(url), "%s%s", s->url, TARGET);

    px_cli r;
    const char *const args[] = {"-v", "-H", "Authorization: " TOKEN, "-H", "Cookie: " COOKIE,
                                "-H", "X-Tenant: " TENANT, "--seal-header", "x-tenant",
                                "-H", "Content-Type: application/json", "--hide-target",
                                "--data-binary", data, "-o", out, url, NULL};
    cli(s, &r, args, NULL, NULL);
    assert_int_equal(r.code, 0);

    /* the response came back intact */
    size_t got = 0;
    char *resp = file_in(s, "response.bin", &got);
    uint8_t *expect = malloc(70000);
    e2e_pattern(expect, 70000, 7);
    assert_int_equal(got, 70000);
    assert_memory_equal(resp, expect, 70000);

    /* the application received the restored request */
    e2e_upreq u = {0};
    assert_int_equal(e2e_upstream_count(&s->up), 1);
    assert_true(e2e_upstream_get(&s->up, 0, &u));
    assert_memory_equal(u.head, "POST " TARGET " HTTP/1.1\r\n", strlen("POST " TARGET " HTTP/1.1\r\n"));
    assert_true(e2e_head_has(u.head, "authorization", TOKEN));
    assert_true(e2e_head_has(u.head, "cookie", COOKIE));
    assert_true(e2e_head_has(u.head, "x-tenant", TENANT));
    assert_true(e2e_head_has(u.head, "content-type", "application/json"));
    assert_true(e2e_head_has(u.head, "x-httpa-kind", "trt"));
    assert_int_equal(u.body_len, blen);
    assert_memory_equal(u.body, body, blen);
    free(u.head);
    free(u.body);

    /* nginx's access log: the outer view only */
    size_t n = 0;
    char *log = nginx_log(s, "\"POST /.well-known/httpa HTTP/1.1\" 200", 1, &n);
    assert_non_null(strstr(log, "\"ATTEST /.well-known/httpa HTTP/1.1\" 200"));
    assert_non_null(strstr(log, "\"POST /.well-known/httpa HTTP/1.1\" 200"));
    assert_non_null(strstr(log, "authorization=\"-\" cookie=\"-\" x_tenant=\"-\""));
    check_hidden("nginx's access log", log, n);
    free(log);

    /* the octets nginx forwarded to the gateway, and the answers */
    char *up = px_capture(s->capdir, "up", &n);
    assert_true(HAS(up, n, "POST /.well-known/httpa HTTP/1.1\r\n"));
    assert_true(HAS(up, n, "Attest-Cargo: :"));
    check_hidden("what nginx forwarded", up, n);
    for (size_t off = 0; off + 48 <= blen; off += 4000) /* no window of the body */
        assert_false(px_contains(up, n, body + off, 48));
    free(up);
    char *down = px_capture(s->capdir, "down", &n);
    assert_true(HAS(down, n, "attest-binder: :"));
    check_hidden("what the gateway answered", down, n);
    for (size_t off = 0; off + 48 <= 70000; off += 7000)
        assert_false(px_contains(down, n, expect + off, 48));
    free(down);

    /* the gateway's log and the client's verbose output */
    char *glog = gateway_log(s, "\"kind\":\"trt\"", 1);
    assert_non_null(strstr(glog, "\"kind\":\"trt\""));
    check_hidden("the gateway's log", glog, strlen(glog));
    free(glog);
    assert_non_null(strstr(r.err, "> POST /.well-known/httpa HTTP/1.1"));
    assert_non_null(strstr(r.err, "A sealed request fields: authorization"));
    check_hidden("httpa -v", r.err, strlen(r.err));

    px_cli_free(&r);
    free(resp);
    free(expect);
    free(body);
}

/* ---- (b) a tampering proxy and a replayed request ---- */

typedef struct tamper_case {
    px_tamper_mode mode;
    const char *field;
    uint64_t offset;
    int exit_code;             /* httpa's exit status */
    const char *gateway_error; /* the gateway's answer (NULL: it answered 200) */
    bool reaches_app;          /* request damage is caught before the application */
} tamper_case;

static void test_tampering_proxy_and_replay(void **state)
{
    stack *s = *state;
    start(s, true, NULL, RELAY_TAMPER, NULL);
    s->up.resp_len = 40000; /* three response records at RS 16384 */
    size_t blen = 40000;    /* three request records */
    uint64_t rec = httpa_limits_default().record_size + 16; /* a record on the wire */
    char *body = json_body(blen), path[256], out[256], data[300], url[128];
    snprintf(path, sizeof(path), "%s/body.json", s->dir);
    snprintf(out, sizeof(out), "%s/response.bin", s->dir);
    snprintf(data, sizeof(data), "@%s", path);
    snprintf(url, sizeof(url), "%s%s", s->url, TARGET);
    assert_true(px_write_file(path, body, blen, 0600));
    const char *const args[] = {"--http1.1", "-H", "Authorization: " TOKEN, "--hide-target",
                                "--data-binary", data, "-o", out, "--json", url, NULL};

    const tamper_case cases[] = {
        /* request fields under the ticket MAC: refused before anything opens */
        {PX_TAMPER_REQ_FIELD, "attest-cargo", 0, 5, "bad_ticket", false},
        {PX_TAMPER_REQ_FIELD, "attest-ticket", 0, 5, "bad_ticket", false},
        /* request records: the ticket verified, a record did not: an
         * authenticated 400 bad_request (the client verifies its binder) */
        {PX_TAMPER_REQ_BODY, NULL, 20000, 6, "bad_request", false},
        {PX_TAMPER_REQ_BODY, NULL, 16400, 6, "bad_request", false}, /* first octet of record 2 */
        {PX_TAMPER_REQ_BODY, NULL, 16399, 6, "bad_request", false}, /* last tag octet of record 1 */
        /* the response: the client refuses it; the application did run */
        {PX_TAMPER_RESP_FIELD, "attest-binder", 0, 5, NULL, true},
        {PX_TAMPER_RESP_FIELD, "attest-cargo", 0, 5, NULL, true},
        {PX_TAMPER_RESP_BODY, NULL, 20000, 5, NULL, true},
        {PX_TAMPER_RESP_BODY, NULL, 16400, 5, NULL, true},
    };
    assert_int_equal(rec, 16400);
    size_t app = 0, bad_ticket = 0, bad_request = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const tamper_case *c = &cases[i];
        px_cli r;
        unlink(out);
        px_tamper_arm(&s->tamper, c->mode, c->field, c->offset);
        int before = px_tamper_count(&s->tamper);
        /* --fail: an authenticated error status is a failure too */
        const char *argv[16];
        size_t k = 0;
        argv[k++] = "--fail";
        for (size_t j = 0; args[j] != NULL; j++)
            argv[k++] = args[j];
        argv[k] = NULL;
        cli(s, &r, argv, NULL, NULL);
        /* An authenticated error (the gateway's bad_request carries a valid
         * binder) is today an authenticated HTTP 400 to the client: exit 6
         * with --fail (0 without), attest_error in --json. Exit 5 would be
         * the client treating it as a protocol failure: accepted too. */
        bool ok = r.code == c->exit_code || (c->exit_code == 6 && r.code == 5);
        if (!ok)
            fail_msg("case %zu: httpa exit %d, expected %d\n%s", i, r.code, c->exit_code, r.err);
        assert_int_equal(px_tamper_count(&s->tamper), before + 1); /* one octet flipped */
        assert_int_not_equal(access(out, F_OK), 0);                /* nothing written */
        char expect[64];
        if (c->gateway_error != NULL) {
            snprintf(expect, sizeof(expect), "\"error\":\"%s\"", c->gateway_error);
            size_t *counter = strcmp(c->gateway_error, "bad_ticket") == 0 ? &bad_ticket : &bad_request;
            size_t seen = (*counter)++;
            char *glog = gateway_log(s, expect, seen + 1);
            assert_int_equal(px_count(glog, expect), seen + 1);
            free(glog);
            snprintf(expect, sizeof(expect), "\"attest_error\": \"%s\"", c->gateway_error);
            if (r.code == 6) /* authenticated: --json reports it */
                assert_non_null(strstr(r.out, expect));
        }
        app += c->reaches_app;
        sleep_for_ms(50);
        assert_int_equal(e2e_upstream_count(&s->up), app);
        assert_int_equal(s->up.incomplete, 0);
        px_cli_free(&r);
    }

    /* replay: a request captured on its way to the gateway, sent again */
    px_tamper_arm(&s->tamper, PX_TAMPER_NONE, NULL, 0);
    px_cli r;
    cli(s, &r, args, NULL, NULL);
    assert_int_equal(r.code, 0);
    px_cli_free(&r);
    app++;
    assert_int_equal(e2e_upstream_count(&s->up), app);
    size_t n = 0, len = 0;
    char *up = px_tamper_seen(&s->tamper, true, &n);
    /* the last TrT in the capture: the successful one */
    char *req = NULL;
    for (size_t off = 0, at = 0; off < n; off += at + len) {
        char *q = px_find_request(up + off, n - off, "attest-ticket", &len, &at);
        if (q == NULL)
            break;
        free(req);
        req = q;
    }
    assert_non_null(req);
    assert_non_null(strstr(req, "Attest-Ticket:"));
    char answer[8192];
    ssize_t got = e2e_raw(s->gw.port, req, len, answer, sizeof(answer) - 1, 1000, false);
    assert_true(got > 12);
    answer[got] = '\0';
    assert_memory_equal(answer, "HTTP/1.1 403", 12);
    assert_true(px_icontains(answer, (size_t)got, "attest-error: replay"));
    sleep_for_ms(50);
    assert_int_equal(e2e_upstream_count(&s->up), app); /* nothing new */
    free(req);
    free(up);
    free(body);
}

/* ---- the client library through nginx ---- */

typedef struct lib {
    httpa_sim_verifier verifier;
    httpa_sim_attester client_tee;
    bool mutual;
    httpa_curl_client *c;
} lib;

static void lib_init(lib *l, const stack *s, httpa_curl_http http, bool mutual)
{
    memset(l, 0, sizeof(*l));
    httpa_sim_verifier_init(&l->verifier, s->gw.pub);
    httpa_curl_config cfg = {.engine = {.verifier = &l->verifier.base, .allow_sim = true},
                             .http = http, .cafile = s->cert, .timeout_ms = 120000};
    if (mutual) {
        static const uint8_t m[HTTPA_SIM_MEASUREMENT_LEN] = "net_nginx_test client TEE......";
        assert_int_equal(httpa_sim_attester_init(&l->client_tee, NULL, m, 1, false), HTTPA_OK);
        cfg.engine.attester = &l->client_tee.base;
        l->mutual = true;
    }
    assert_int_equal(httpa_curl_client_new(&cfg, &l->c), HTTPA_OK);
}

static void lib_free(lib *l)
{
    httpa_curl_client_free(l->c);
    if (l->mutual)
        httpa_sim_attester_clear(&l->client_tee);
}

static httpa_err collect(void *arg, const uint8_t *p, size_t n)
{
    return httpa_buf_append(arg, p, n);
}

static httpa_err lib_get(lib *l, const stack *s, const char *method, const char *path, bool terminate,
                         httpa_curl_resp *resp, httpa_buf *body)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", s->url, path);
    httpa_curl_req req = {.url = url, .method = method, .terminate = terminate, .write = collect,
                          .write_arg = body};
    if (method != NULL && strcmp(method, "POST") == 0) {
        req.has_body = true;
        req.body = HTTPA_SPAN_STR("{\"q\":1}");
    }
    httpa_buf_reset(body);
    return httpa_curl_request(l->c, &req, resp);
}

/* ---- (c) mutual mode, secrets, expiry and termination ---- */

static void test_mutual_mode_and_secrets(void **state)
{
    stack *s = *state;
    start(s, true, NULL, RELAY_RECORD, NULL);
    s->up.resp_len = 1000;
    lib l;
    lib_init(&l, s, HTTPA_CURL_HTTP_2_TLS, true);
    static const char *const names[] = {"db-key"};
    const httpa_span values[] = {HTTPA_SPAN_STR(SECRET)};
    static const char *const headers[] = {"Authorization: " TOKEN, NULL};
    char url[128];
    snprintf(url, sizeof(url), "%s/api/secure", s->url);
    httpa_buf body;
    httpa_buf_init(&body, 1 << 20);
    httpa_curl_req req = {.url = url, .headers = headers, .secret_names = names,
                          .secret_values = values, .nsecrets = 1, .write = collect,
                          .write_arg = &body};
    httpa_curl_resp resp;
    httpa_curl_resp_init(&resp);
    assert_int_equal(httpa_curl_request(l.c, &req, &resp), HTTPA_OK);
    assert_int_equal(resp.status, 200);
    assert_true(resp.handshake);
    assert_true(resp.provisioned);
    assert_int_equal(body.len, 1000);

    /* the application got the secret through the gateway's hand-over, then the TrT */
    e2e_upreq u = {0};
    char expect[256];
    assert_int_equal(e2e_upstream_count(&s->up), 2);
    assert_true(e2e_upstream_get(&s->up, 0, &u));
    assert_memory_equal(u.head, "POST /.httpa/secrets HTTP/1.1\r\n", 31);
    assert_true(e2e_head_has(u.head, "x-httpa-kind", "atsp"));
    u.body[u.body_len] = '\0';
    snprintf(expect, sizeof(expect), "{\"base_id\":\"%s\",\"secrets\":{\"db-key\":\"%s\"}}",
             resp.attestation.base_id, SECRET_B64);
    assert_string_equal((char *)u.body, expect);
    free(u.head);
    free(u.body);
    assert_true(e2e_upstream_get(&s->up, 1, &u));
    assert_memory_equal(u.head, "GET /api/secure HTTP/1.1\r\n", 26);
    assert_true(e2e_head_has(u.head, "authorization", TOKEN));
    free(u.head);
    free(u.body);

    /* through nginx: the client's evidence (mutual mode) and the secret's
     * name, never its value */
    size_t n = 0;
    char *up = px_capture(s->capdir, "up", &n);
    assert_true(HAS(up, n, "ATTEST /.well-known/httpa HTTP/1.1\r\n"));
    /* (header names are lower case: the client spoke HTTP/2 to nginx) */
    assert_true(px_icontains(up, n, "\r\nattest-quotes: (sim :"));
    assert_true(px_icontains(up, n, "\r\nattest-secrets: db-key=:"));
    check_hidden("what nginx forwarded", up, n);
    free(up);
    char *log = nginx_log(s, "\"GET /api/secure HTTP/2.0\" 200", 1, &n);
    assert_non_null(strstr(log, "\"GET /api/secure HTTP/2.0\" 200"));
    check_hidden("nginx's access log", log, n);
    free(log);

    httpa_curl_resp_free(&resp);
    httpa_buf_free(&body);
    lib_free(&l);
}

static void test_base_expiry_and_rehandshake(void **state)
{
    stack *s = *state;
    static const char *const short_life[] = {"--expires", "3", NULL};
    start(s, true, short_life, RELAY_NONE, NULL);
    s->up.resp_len = 100;
    lib l;
    lib_init(&l, s, HTTPA_CURL_HTTP_1_1, false);
    httpa_curl_resp resp;
    httpa_buf body;
    httpa_curl_resp_init(&resp);
    httpa_buf_init(&body, 1 << 20);

    /* expiry: the client renews a base that has run out */
    assert_int_equal(lib_get(&l, s, NULL, "/a", false, &resp, &body), HTTPA_OK);
    assert_true(resp.handshake);
    char first[40];
    snprintf(first, sizeof(first), "%s", resp.attestation.base_id);
    assert_int_equal(lib_get(&l, s, NULL, "/b", false, &resp, &body), HTTPA_OK);
    assert_false(resp.handshake);
    sleep_for_ms(3200); /* the client renews at expiry for so short a lifetime */
    assert_int_equal(lib_get(&l, s, "POST", "/c", false, &resp, &body), HTTPA_OK);
    assert_true(resp.handshake);
    assert_int_equal(resp.status, 200);
    assert_string_not_equal(resp.attestation.base_id, first);
    assert_int_equal(httpa_curl_handshakes(l.c), 2);
    assert_int_equal(e2e_upstream_count(&s->up), 3);
    lib_free(&l);

    /* termination, and bases the gateway forgot (a restart), with the
     * default lifetime so that nothing expires on the way */
    restart_gateway(s);
    lib_init(&l, s, HTTPA_CURL_HTTP_2_TLS, false);
    assert_int_equal(lib_get(&l, s, NULL, "/d", false, &resp, &body), HTTPA_OK);
    assert_true(resp.handshake);
    assert_int_equal(lib_get(&l, s, NULL, "/e", true, &resp, &body), HTTPA_OK); /* terminate */
    assert_false(resp.handshake);
    assert_int_equal(resp.status, 200);
    assert_int_equal(lib_get(&l, s, "POST", "/f", false, &resp, &body), HTTPA_OK);
    assert_true(resp.handshake); /* a new AtHS before the request */
    assert_int_equal(httpa_curl_handshakes(l.c), 2);
    assert_int_equal(e2e_upstream_count(&s->up), 6);

    /* the base is unknown to the new gateway: an idempotent request is
     * retried transparently on a new base... */
    restart_gateway(s);
    assert_int_equal(lib_get(&l, s, NULL, "/g", false, &resp, &body), HTTPA_OK);
    assert_int_equal(resp.status, 200);
    assert_true(resp.handshake);
    assert_int_equal(resp.attempts, 2);
    assert_int_equal(httpa_curl_handshakes(l.c), 3);
    assert_int_equal(e2e_upstream_count(&s->up), 7);
    /* ...a POST is not (it may have been processed, profile 13.3); the next
     * request runs the new handshake */
    restart_gateway(s);
    assert_int_equal(lib_get(&l, s, "POST", "/h", false, &resp, &body), HTTPA_ERR_UNKNOWN_BASE);
    assert_int_equal(resp.cls, HTTPA_CURL_CLASS_PROTOCOL);
    assert_int_equal(e2e_upstream_count(&s->up), 7);
    assert_int_equal(lib_get(&l, s, "POST", "/i", false, &resp, &body), HTTPA_OK);
    assert_true(resp.handshake);
    assert_int_equal(e2e_upstream_count(&s->up), 8);
    e2e_upreq u = {0};
    assert_true(e2e_upstream_get(&s->up, 7, &u));
    assert_memory_equal(u.head, "POST /i HTTP/1.1\r\n", 18);
    free(u.head);
    free(u.body);

    httpa_curl_resp_free(&resp);
    httpa_buf_free(&body);
    lib_free(&l);
}

/* ---- (d) HTTP/1.1 and HTTP/2 clients; nginx speaks HTTP/1.1 to the gateway ---- */

typedef struct source {
    uint64_t len, off;
} source;

static httpa_err source_read(void *arg, uint8_t *buf, size_t cap, size_t *got)
{
    source *src = arg;
    size_t k = src->len - src->off < cap ? (size_t)(src->len - src->off) : cap;
    for (size_t i = 0; i < k; i++)
        buf[i] = (uint8_t)((src->off + i) * 7 + 3);
    src->off += k;
    *got = k;
    return HTTPA_OK;
}

static void test_http1_and_http2_clients(void **state)
{
    stack *s = *state;
    start(s, true, NULL, RELAY_RECORD, NULL);
    s->up.resp_len = 100000;
    s->up.chunked = true;
    uint8_t *expect = malloc(100000);
    e2e_pattern(expect, 100000, 7);
    char url[128];
    snprintf(url, sizeof(url), "%s/v/one", s->url);
    static const char *const versions[] = {"--http1.1", "--http2"};
    for (size_t i = 0; i < 2; i++) {
        px_cli r;
        const char *const args[] = {versions[i], "-v", "-H", "X-Tenant: " TENANT, "--seal-header",
                                    "x-tenant", "-d", "{\"card\":\"" CARD "\"}", url, NULL};
        cli(s, &r, args, NULL, NULL);
        assert_int_equal(r.code, 0);
        assert_int_equal(r.out_len, 100000);
        assert_memory_equal(r.out, expect, 100000);
        /* curl's view of the protocol it spoke to nginx */
        assert_non_null(strstr(r.err, i == 0 ? "> POST /v/one HTTP/1.1" : "> POST /v/one HTTP/2"));
        px_cli_free(&r);
    }

    /* the library, streaming a body of unknown length both ways */
    static const httpa_curl_http libv[] = {HTTPA_CURL_HTTP_1_1, HTTPA_CURL_HTTP_2_TLS};
    for (size_t i = 0; i < 2; i++) {
        lib l;
        lib_init(&l, s, libv[i], false);
        source src = {300000, 0};
        httpa_buf body;
        httpa_buf_init(&body, 1 << 20);
        snprintf(url, sizeof(url), "%s/v/stream/%zu", s->url, i);
        httpa_curl_req req = {.url = url, .method = "PUT", .has_body = true, .read = source_read,
                              .read_arg = &src, .body_len = UINT64_MAX, .write = collect,
                              .write_arg = &body};
        httpa_curl_resp resp;
        httpa_curl_resp_init(&resp);
        assert_int_equal(httpa_curl_request(l.c, &req, &resp), HTTPA_OK);
        assert_int_equal(resp.status, 200);
        assert_int_equal(body.len, 100000);
        assert_memory_equal(body.base, expect, 100000);
        httpa_curl_resp_free(&resp);
        httpa_buf_free(&body);
        lib_free(&l);
    }

    /* what the application got: every body intact */
    assert_int_equal(e2e_upstream_count(&s->up), 4);
    for (size_t i = 0; i < 4; i++) {
        e2e_upreq u = {0};
        assert_true(e2e_upstream_get(&s->up, i, &u));
        if (i < 2) {
            assert_memory_equal(u.head, "POST /v/one HTTP/1.1\r\n", 22);
            assert_true(e2e_head_has(u.head, "x-tenant", TENANT));
            assert_int_equal(u.body_len, strlen("{\"card\":\"" CARD "\"}"));
        } else {
            assert_memory_equal(u.head, "PUT /v/stream/", 14);
            assert_int_equal(u.body_len, 300000);
            for (size_t k = 0; k < 300000; k++)
                if (u.body[k] != (uint8_t)(k * 7 + 3))
                    fail_msg("request %zu: octet %zu differs", i, k);
        }
        free(u.head);
        free(u.body);
    }

    /* nginx saw HTTP/1.1 and HTTP/2 clients, and spoke HTTP/1.1 to the gateway */
    size_t n = 0;
    char *log = nginx_log(s, "\"PUT /v/stream/1 HTTP/2.0\" 200", 1, &n);
    assert_non_null(strstr(log, "\"POST /v/one HTTP/1.1\" 200"));
    assert_non_null(strstr(log, "\"POST /v/one HTTP/2.0\" 200"));
    assert_non_null(strstr(log, "\"PUT /v/stream/0 HTTP/1.1\" 200"));
    assert_non_null(strstr(log, "\"PUT /v/stream/1 HTTP/2.0\" 200"));
    free(log);
    char *up = px_capture(s->capdir, "up", &n);
    assert_true(HAS(up, n, "POST /v/one HTTP/1.1\r\n"));
    assert_true(HAS(up, n, "PUT /v/stream/1 HTTP/1.1\r\n"));
    assert_false(HAS(up, n, " HTTP/2.0\r\n"));
    assert_false(HAS(up, n, "PRI * HTTP/2"));
    check_hidden("what nginx forwarded", up, n);
    free(up);
    free(expect);
}

/* ---- (e) 1 GiB through nginx in bounded memory ---- */

typedef struct pattern_sink {
    uint64_t n, bad;
} pattern_sink;

static uint8_t demo_pattern(uint64_t i)
{
    return (uint8_t)(i * 131 + (i >> 9)); /* examples/demo-app.c */
}

static void check_pattern(void *arg, const uint8_t *p, size_t n)
{
    pattern_sink *ps = arg;
    for (size_t i = 0; i < n; i++)
        ps->bad += p[i] != demo_pattern(ps->n + i);
    ps->n += n;
}

static void test_large_transfers_bounded_memory(void **state)
{
    stack *s = *state;
    bool san = px_sanitized();
    uint64_t down = san ? 64 * MIB : 1024ull * MIB;
    uint64_t up = 16 * MIB; /* the gateway's default --max-body */
    start(s, false, NULL, RELAY_NONE, NULL);
    long gw0 = px_vmhwm_kb(s->gw.pid);

    /* download: the gateway seals and streams, the client opens and streams */
    char url[160];
    snprintf(url, sizeof(url), "%s/download/%llu", s->url, (unsigned long long)down);
    pattern_sink ps = {0, 0};
    px_cli r;
    const char *const dl[] = {"-N", url, NULL};
    cli(s, &r, dl, check_pattern, &ps);
    long gw1 = px_vmhwm_kb(s->gw.pid);
    print_message("download %llu MiB through nginx: %.1f s, httpa max RSS %ld KiB, gateway "
                  "VmHWM %ld -> %ld KiB\n", (unsigned long long)(down / MIB), r.seconds,
                  r.maxrss_kb, gw0, gw1);
    assert_int_equal(r.code, 0);
    assert_int_equal(ps.n, down);
    assert_int_equal(ps.bad, 0);
    if (!san) {
        assert_true(r.maxrss_kb < 64 * 1024);
        assert_true(gw1 < 64 * 1024);
    }
    px_cli_free(&r);

    /* upload: h2o 2.2 hands a request over only once its whole body has
     * arrived, so the gateway holds the body (wire and plaintext): at most
     * about twice --max-body. 16 MiB is the default --max-body. */
    char path[256], data[300];
    snprintf(path, sizeof(path), "%s/upload.bin", s->dir);
    snprintf(data, sizeof(data), "@%s", path);
    uint8_t *blob = malloc(up), sha[32];
    for (uint64_t i = 0; i < up; i++)
        blob[i] = demo_pattern(i);
    assert_true(px_write_file(path, blob, up, 0600));
    unsigned int hl = 0;
    assert_int_equal(EVP_Digest(blob, up, sha, &hl, EVP_sha256(), NULL), 1);
    free(blob);
    char want[160];
    snprintf(want, sizeof(want), "\"length\": %llu,\n    \"sha256\": \"", (unsigned long long)up);
    for (size_t i = 0; i < 32; i++)
        snprintf(want + strlen(want), 3, "%02x", sha[i]);
    snprintf(url, sizeof(url), "%s/upload", s->url);
    const char *const ul[] = {"--data-binary", data, url, NULL};
    cli(s, &r, ul, NULL, NULL);
    long gw2 = px_vmhwm_kb(s->gw.pid);
    print_message("upload %llu MiB through nginx: %.1f s, httpa max RSS %ld KiB, gateway VmHWM "
                  "%ld KiB\n", (unsigned long long)(up / MIB), r.seconds, r.maxrss_kb, gw2);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, want)); /* the application hashed what it got */
    if (!san) {
        assert_true(r.maxrss_kb < 64 * 1024);
        assert_true(gw2 < 64 * 1024); /* about 2 x 16 MiB + the baseline */
    }
    px_cli_free(&r);

    /* above --max-body: h2o refuses it (413) before the body is buffered and
     * before the HTTPA handler runs, so the answer carries no Attest-Error
     * and the client calls it a network failure (exit 2) */
    char *glog = gateway_log(s, "\"kind\":\"trt\"", 2); /* download, upload */
    size_t handled = px_count(glog, "\"event\":\"access\"");
    free(glog);
    blob = malloc(up + MIB);
    memset(blob, 'x', up + MIB);
    assert_true(px_write_file(path, blob, up + MIB, 0600));
    free(blob);
    cli(s, &r, ul, NULL, NULL);
    const char *why = strstr(r.err, "httpa: NETWORK");
    print_message("upload of --max-body + 1 MiB: httpa exit %d, gateway VmHWM %ld KiB: %.*s\n",
                  r.code, px_vmhwm_kb(s->gw.pid), why != NULL ? (int)strcspn(why, "\n") : 0,
                  why != NULL ? why : "");
    /* a 413 from h2o, or (when nginx is still sending the body as the
     * gateway closes) a 502 or a reset: a network failure in every case */
    assert_int_equal(r.code, 2);
    glog = gateway_log(s, "\"event\":\"access\"", handled + 1);
    sleep_for_ms(200);
    free(glog);
    glog = gateway_log(s, "\"event\":\"access\"", handled + 1);
    size_t after = px_count(glog, "\"event\":\"access\"");
    free(glog);
    assert_int_equal(after, handled + 1); /* only the AtHS of this run was handled */
    px_cli_free(&r);
    unlink(path);
}

/* Measurement only, not run by default (HTTPA_NGINX_UPLOAD_GIB=1): a 1 GiB
 * upload with --max-body 1073741824. h2o 2.2 buffers it whole. */
static void test_upload_1gib_measurement(void **state)
{
    stack *s = *state;
    if (getenv("HTTPA_NGINX_UPLOAD_GIB") == NULL) {
        print_message("set HTTPA_NGINX_UPLOAD_GIB=1 to measure a 1 GiB upload\n");
        skip();
    }
    static const char *const big[] = {"--max-body", "1073741824", NULL};
    start(s, false, big, RELAY_NONE, NULL);
    char path[256], data[300], url[128];
    snprintf(path, sizeof(path), "%s/upload.bin", s->dir);
    snprintf(data, sizeof(data), "@%s", path);
    snprintf(url, sizeof(url), "%s/upload", s->url);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    uint8_t *chunk = calloc(1, MIB);
    for (int i = 0; i < 1024; i++)
        assert_int_equal(fwrite(chunk, 1, MIB, f), MIB);
    fclose(f);
    free(chunk);
    px_cli r;
    const char *const ul[] = {"--data-binary", data, url, NULL};
    cli(s, &r, ul, NULL, NULL);
    print_message("upload 1024 MiB: httpa exit %d, %.1f s, httpa max RSS %ld KiB, gateway VmHWM "
                  "%ld KiB\n", r.code, r.seconds, r.maxrss_kb, px_vmhwm_kb(s->gw.pid));
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "\"length\": 1073741824"));
    px_cli_free(&r);
    unlink(path);
}

/* ---- (f) many clients over many Attest Bases ---- */

typedef struct load {
    stack *s;
    lib *clients;
    size_t nclients;
    double deadline;
    atomic_ullong done, errors;
    pthread_mutex_t mu;
    char first_error[512];
} load;

typedef struct worker {
    load *ld;
    size_t id;
} worker;

static void *load_main(void *arg)
{
    worker *w = arg;
    load *ld = w->ld;
    lib *l = &ld->clients[w->id % ld->nclients];
    httpa_buf body;
    httpa_curl_resp resp;
    char url[160], payload[96], want[64];
    static const char *const headers[] = {"X-Tenant: " TENANT, "Content-Type: application/json", NULL};
    static const char *const seal[] = {"x-tenant", NULL};
    httpa_buf_init(&body, 1 << 20);
    httpa_curl_resp_init(&resp);
    for (unsigned n = 0; now_s() < ld->deadline && n < 1000000; n++) {
        int len = snprintf(payload, sizeof(payload), "{\"worker\":%zu,\"n\":%u}", w->id, n);
        snprintf(url, sizeof(url), "%s/work/%zu/%u", ld->s->url, w->id, n);
        snprintf(want, sizeof(want), "\"length\": %d,", len);
        httpa_curl_req req = {.url = url, .headers = headers, .seal = seal, .has_body = true,
                              .body = HTTPA_SPAN(payload, (size_t)len), .write = collect,
                              .write_arg = &body};
        httpa_buf_reset(&body);
        httpa_err e = httpa_curl_request(l->c, &req, &resp);
        bool ok = e == HTTPA_OK && resp.status == 200 && httpa_buf_append_u8(&body, 0) == HTTPA_OK &&
                  strstr((char *)body.base, want) != NULL &&
                  strstr((char *)body.base, "\"kind\": \"trt\"") != NULL;
        if (ok) {
            atomic_fetch_add(&ld->done, 1);
            continue;
        }
        if (atomic_fetch_add(&ld->errors, 1) == 0) {
            pthread_mutex_lock(&ld->mu);
            snprintf(ld->first_error, sizeof(ld->first_error), "%s (status %d): %s",
                     httpa_err_name(e), resp.status, resp.message);
            pthread_mutex_unlock(&ld->mu);
        }
    }
    httpa_curl_resp_free(&resp);
    httpa_buf_free(&body);
    return NULL;
}

static void test_concurrent_clients(void **state)
{
    stack *s = *state;
    bool san = px_sanitized();
    size_t nthreads = san ? 50 : 200, nbases = nthreads / 4;
    double seconds = san ? 10 : 30;
    static const char *const app[] = {"--max-conns", "2048", NULL};
    start(s, false, NULL, RELAY_NONE, app);
    load ld;
    memset(&ld, 0, sizeof(ld));
    ld.s = s;
    ld.nclients = nbases; /* one Attest Base per client object */
    ld.clients = calloc(nbases, sizeof(lib));
    pthread_mutex_init(&ld.mu, NULL);
    for (size_t i = 0; i < nbases; i++)
        lib_init(&ld.clients[i], s, i % 2 ? HTTPA_CURL_HTTP_1_1 : HTTPA_CURL_HTTP_2_TLS, false);
    worker *w = calloc(nthreads, sizeof(*w));
    pthread_t *tids = calloc(nthreads, sizeof(*tids));
    double t0 = now_s();
    ld.deadline = t0 + seconds;
    size_t started = 0;
    for (size_t i = 0; i < nthreads; i++) {
        w[i] = (worker){&ld, i};
        if (pthread_create(&tids[i], NULL, load_main, &w[i]) != 0)
            break;
        started++;
    }
    for (size_t i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    double took = now_s() - t0;
    unsigned long long done = atomic_load(&ld.done), errors = atomic_load(&ld.errors);
    uint64_t handshakes = 0;
    for (size_t i = 0; i < nbases; i++)
        handshakes += httpa_curl_handshakes(ld.clients[i].c);
    print_message("%zu clients over %zu Attest Bases for %.1f s: %llu requests completed, %llu "
                  "errors, %.0f requests/s, %llu handshakes, gateway VmHWM %ld KiB\n",
                  started, nbases, took, done, errors, (double)done / took,
                  (unsigned long long)handshakes, px_vmhwm_kb(s->gw.pid));
    if (errors != 0)
        print_message("first error: %s\n", ld.first_error);
    assert_int_equal(started, nthreads);
    assert_int_equal(errors, 0);
    assert_true(done >= nthreads);
    assert_int_equal(handshakes, nbases); /* each base was made once and used throughout */
    for (size_t i = 0; i < nbases; i++)
        lib_free(&ld.clients[i]);
    free(ld.clients);
    free(w);
    free(tids);
    pthread_mutex_destroy(&ld.mu);
}

/* ---- (g) two gateway instances and route tags (profile 15.4) ---- */

#define ROUTE_TRTS 6 /* TrTs per client after the one of its handshake */

typedef struct routed {
    const stack *s;
    httpa_sim_verifier verifier;
    httpa_curl_client *c;
    size_t id;
    char base_id[40];
    int ok;
    char error[300];
} routed;

/* One client: an AtHS (with the first TrT), an AtSP (with the second), then
 * more TrTs, all on one Attest Base, never retried. */
static void *routed_main(void *arg)
{
    routed *r = arg;
    httpa_curl_resp resp;
    httpa_curl_resp_init(&resp);
    for (int n = 0; n <= ROUTE_TRTS; n++) {
        char url[160];
        snprintf(url, sizeof(url), "%s/route/%zu/%d", r->s->url, r->id, n);
        static const char *const names[] = {"k"};
        const httpa_span values[] = {HTTPA_SPAN_STR("v")};
        httpa_curl_req req = {.url = url};
        if (n == 1) {
            req.secret_names = names;
            req.secret_values = values;
            req.nsecrets = 1;
        }
        httpa_err e = httpa_curl_request(r->c, &req, &resp);
        if (e != HTTPA_OK || resp.status != 200 || resp.handshake != (n == 0) ||
            resp.provisioned != (n == 1) ||
            (r->base_id[0] != '\0' && strcmp(r->base_id, resp.attestation.base_id) != 0)) {
            snprintf(r->error, sizeof(r->error), "request %d: %s, status %d, handshake %d: %s", n,
                     httpa_err_name(e), resp.status, resp.handshake, resp.message);
            break;
        }
        snprintf(r->base_id, sizeof(r->base_id), "%s", resp.attestation.base_id);
        r->ok++;
    }
    httpa_curl_resp_free(&resp);
    return NULL;
}

typedef struct raw_resp {
    long status;
    char attest_error[64];
} raw_resp;

static size_t raw_header(char *p, size_t size, size_t n, void *arg)
{
    raw_resp *r = arg;
    size_t len = size * n, k = strlen("attest-error:");
    if (len > k && strncasecmp(p, "attest-error:", k) == 0) {
        const char *v = p + k, *end = p + len;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            end--;
        snprintf(r->attest_error, sizeof(r->attest_error), "%.*s", (int)(end - v), v);
    }
    return len;
}

static size_t raw_discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* A TrT-shaped request (well-formed fields, as in net_gateway_test's
 * test_unknown_base) on Attest-Base-ID `base_id`, through nginx. */
static void forged_trt(const stack *s, const char *base_id, bool http2, raw_resp *r)
{
    char url[128], field[160];
    snprintf(url, sizeof(url), "%s/forged", s->url);
    snprintf(field, sizeof(field), "Attest-Base-ID: \"%s\"", base_id);
    struct curl_slist *hl = curl_slist_append(NULL, field);
    hl = curl_slist_append(hl, "Attest-Ticket: :AAAAAAAAAAHmaTbHX8Ne9OcWNJkK/Ner8RVvFHQxK7oNfcbH0rGdng==:");
    hl = curl_slist_append(hl, "Attest-Cargo: :xLM8TfoJ8qOy4aO+T4IYNDajBoSTKRLVWv5i5fF6sGazf0P+:");
    memset(r, 0, sizeof(*r));
    CURL *h = curl_easy_init();
    assert_non_null(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CAINFO, s->cert);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, raw_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, raw_discard);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
                     http2 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(h);
    curl_slist_free_all(hl);
    if (rc != CURLE_OK)
        fail_msg("forged request on %s: %s", base_id, curl_easy_strerror(rc));
}

static char *gw_log_of(const e2e_gw *g, const char *needle, size_t count)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/access.log", g->dir);
    return px_wait_log(path, needle, count, NULL);
}

static void test_route_tags_two_gateways(void **state)
{
    stack *s = *state;
    size_t nclients = px_sanitized() ? 10 : 20;
    double t0 = now_s();
    start_tagged(s, false, NULL);
    e2e_gw *gw[2] = {&s->gw, &s->gw1};

    routed *cl = calloc(nclients, sizeof(*cl));
    pthread_t *tids = calloc(nclients, sizeof(*tids));
    for (size_t i = 0; i < nclients; i++) {
        cl[i].s = s;
        cl[i].id = i;
        httpa_sim_verifier_init(&cl[i].verifier, s->gw.pub);
        /* never retried: a request that reached the wrong instance would
         * fail with unknown_base instead of being hidden by a new AtHS */
        httpa_curl_config cfg = {.engine = {.verifier = &cl[i].verifier.base, .allow_sim = true},
                                 .http = i % 2 ? HTTPA_CURL_HTTP_1_1 : HTTPA_CURL_HTTP_2_TLS,
                                 .cafile = s->cert, .max_attempts = 1, .timeout_ms = 30000};
        assert_int_equal(httpa_curl_client_new(&cfg, &cl[i].c), HTTPA_OK);
        assert_int_equal(pthread_create(&tids[i], NULL, routed_main, &cl[i]), 0);
    }
    for (size_t i = 0; i < nclients; i++)
        pthread_join(tids[i], NULL);
    for (size_t i = 0; i < nclients; i++)
        if (cl[i].ok != ROUTE_TRTS + 1)
            fail_msg("client %zu: %s", i, cl[i].error);

    /* Each base: AtHS, AtSP and ROUTE_TRTS + 1 TrTs, all in the log of the
     * instance its tag names, none in the other's. */
    size_t per_base = ROUTE_TRTS + 3, want = nclients * per_base, total = 0;
    char *log[2] = {NULL, NULL};
    for (int t = 0; t < 250 && total < want; t++) { /* lines follow the answers */
        total = 0;
        for (int g = 0; g < 2; g++) {
            free(log[g]);
            char path[256];
            snprintf(path, sizeof(path), "%s/access.log", gw[g]->dir);
            log[g] = px_read_file(path, NULL);
            assert_non_null(log[g]);
            total += px_count(log[g], "\"event\":\"access\"");
        }
        if (total < want)
            sleep_for_ms(20);
    }
    assert_int_equal(total, want);
    size_t bases[2] = {0, 0};
    for (size_t i = 0; i < nclients; i++) {
        const char *id = cl[i].base_id;
        int tag = strncmp(id, "00", 2) == 0 ? 0 : strncmp(id, "01", 2) == 0 ? 1 : -1;
        if (tag < 0)
            fail_msg("client %zu: Base-ID %s carries neither tag 00 nor 01", i, id);
        char needle[80];
        snprintf(needle, sizeof(needle), "\"base_id\":\"%s\"", id);
        size_t n[2] = {px_count(log[0], needle), px_count(log[1], needle)};
        if (n[tag] != per_base || n[1 - tag] != 0)
            fail_msg("base %s: %zu requests on gateway 0 (tag 00), %zu on gateway 1 (tag 01)", id,
                     n[0], n[1]);
        bases[tag]++;
    }
    for (int g = 0; g < 2; g++) {
        char tagged[32];
        snprintf(tagged, sizeof(tagged), "\"base_id\":\"0%d", g);
        /* each instance issued (AtHS) and served only IDs of its own tag */
        assert_int_equal(px_count(log[g], "\"kind\":\"aths\""), bases[g]);
        assert_int_equal(px_count(log[g], tagged), bases[g] * per_base);
        assert_int_equal(px_count(log[g], "\"base_id\":\""), bases[g] * per_base);
        assert_int_equal(px_count(log[g], "\"error\":\"unknown_base\""), 0);
    }
    /* nginx's round robin gave handshakes to both instances */
    assert_true(bases[0] > 0 && bases[1] > 0);
    /* nginx's view: every request with a tagged ID (the AtHS has none) went
     * to that tag's instance only ($http_attest_base_id is logged with its
     * double quotes escaped) */
    size_t nlen = 0, tagged[2] = {0, 0};
    char *nlog = nginx_log(s, " upstream=", want, &nlen);
    assert_int_equal(px_count(nlog, " upstream="), want);
    for (char *line = nlog, *eol; *line != '\0'; line = eol + 1) {
        eol = strchr(line, '\n');
        assert_non_null(eol);
        *eol = '\0';
        for (int g = 0; g < 2; g++) {
            char tag[32], up[48];
            snprintf(tag, sizeof(tag), " base_id=\\x220%d", g);
            snprintf(up, sizeof(up), " upstream=127.0.0.1:%d", gw[g]->port);
            if (strstr(line, tag) == NULL)
                continue;
            const char *at = strstr(line, " upstream=");
            if (at == NULL || strcmp(at, up) != 0)
                fail_msg("nginx sent a request with tag 0%d elsewhere: %s", g, line);
            tagged[g]++;
        }
    }
    for (int g = 0; g < 2; g++)
        assert_int_equal(tagged[g], bases[g] * (per_base - 1));
    free(nlog);
    print_message("%zu Attest Bases through nginx: %zu on gateway 0 (tag 00), %zu on gateway 1 "
                  "(tag 01), %zu requests each, all on the instance of their tag; %.1f s\n",
                  nclients, bases[0], bases[1], per_base, now_s() - t0);

    /* IDs no instance knows: 503 unknown_base from a gateway (profile 13,
     * 15.4), never a crash. A base of instance 0 with its tag changed to 01
     * (it reaches instance 1, which does not know it), an unknown base with
     * tag 00, and one with a tag of neither instance (the pool). */
    const char *known0 = NULL;
    for (size_t i = 0; i < nclients && known0 == NULL; i++)
        if (strncmp(cl[i].base_id, "00", 2) == 0)
            known0 = cl[i].base_id;
    assert_non_null(known0);
    char forged[3][40];
    snprintf(forged[0], sizeof(forged[0]), "01%s", known0 + 2);
    snprintf(forged[1], sizeof(forged[1]), "00%s", "c0ffee-3b2d-4c5e-8f70-112233445566");
    snprintf(forged[2], sizeof(forged[2]), "7f%s", known0 + 2);
    const int expect_gw[3] = {1, 0, -1}; /* -1: either (the pool) */
    size_t errors[2] = {0, 0};
    for (int k = 0; k < 3; k++) {
        raw_resp r;
        forged_trt(s, forged[k], k % 2 == 0, &r);
        if (r.status != 503 || strcmp(r.attest_error, "unknown_base") != 0)
            fail_msg("Base-ID %s: status %ld, Attest-Error \"%s\"; expected 503 unknown_base",
                     forged[k], r.status, r.attest_error);
        char needle[200];
        snprintf(needle, sizeof(needle), "\"base_id\":\"%s\",\"kind\":\"trt\",\"error\":\"unknown_base\"",
                 forged[k]);
        int at = -1;
        for (int t = 0; t < 250 && at < 0; t++) {
            for (int g = 0; g < 2 && at < 0; g++) {
                char *l = gw_log_of(gw[g], "\"event\":\"access\"", 1);
                if (px_count(l, needle) == 1)
                    at = g;
                free(l);
            }
            if (at < 0)
                sleep_for_ms(20);
        }
        if (at < 0 || (expect_gw[k] >= 0 && at != expect_gw[k]))
            fail_msg("Base-ID %s: answered by gateway %d, expected %d", forged[k], at, expect_gw[k]);
        errors[at]++;
    }
    for (int g = 0; g < 2; g++) {
        assert_true(e2e_gw_alive(gw[g]));
        char *l = gw_log_of(gw[g], "\"error\":\"unknown_base\"", errors[g]);
        assert_int_equal(px_count(l, "\"error\":\"unknown_base\""), errors[g]);
        free(l);
    }
    /* and the real bases go on working, on both instances */
    for (int g = 0; g < 2; g++) {
        size_t i = 0;
        while (i < nclients && cl[i].base_id[1] != (char)('0' + g))
            i++;
        assert_true(i < nclients);
        char url[160];
        snprintf(url, sizeof(url), "%s/route/%zu/after", s->url, i);
        httpa_curl_req req = {.url = url};
        httpa_curl_resp resp;
        httpa_curl_resp_init(&resp);
        assert_int_equal(httpa_curl_request(cl[i].c, &req, &resp), HTTPA_OK);
        assert_int_equal(resp.status, 200);
        assert_false(resp.handshake);
        assert_string_equal(resp.attestation.base_id, cl[i].base_id);
        httpa_curl_resp_free(&resp);
    }
    for (int g = 0; g < 2; g++)
        free(log[g]);
    for (size_t i = 0; i < nclients; i++)
        httpa_curl_client_free(cl[i].c);
    free(cl);
    free(tids);
}

/* The instance of a route tag is gone (profile 15.4): nginx answers its
 * own 502, without Attest-Error. The client drops that base and runs a new
 * AtHS, which the pool gives to the live instance: an idempotent request
 * is retried there at once; a POST, which may have been processed, is not
 * retried (network failure), and the next request uses a new base. */
static void test_route_tag_instance_gone(void **state)
{
    stack *s = *state;
    start_tagged(s, false, NULL);
    enum { MAX_CLIENTS = 16 };
    lib l[MAX_CLIENTS];
    int victims[2], nv = 0, nl = 0;
    httpa_curl_resp resp;
    httpa_buf body;
    httpa_curl_resp_init(&resp);
    httpa_buf_init(&body, 1 << 20);
    while (nv < 2 && nl < MAX_CLIENTS) { /* two clients with a base of tag 01 */
        lib_init(&l[nl], s, nl % 2 ? HTTPA_CURL_HTTP_1_1 : HTTPA_CURL_HTTP_2_TLS, false);
        assert_int_equal(lib_get(&l[nl], s, NULL, "/a", false, &resp, &body), HTTPA_OK);
        if (strncmp(resp.attestation.base_id, "01", 2) == 0)
            victims[nv++] = nl;
        nl++;
    }
    assert_int_equal(nv, 2);
    assert_int_equal(e2e_gw_stop(&s->gw1), 0);

    /* GET: retried on a new base, which has tag 00 */
    assert_int_equal(lib_get(&l[victims[0]], s, NULL, "/b", false, &resp, &body), HTTPA_OK);
    assert_int_equal(resp.status, 200);
    assert_true(resp.handshake);
    assert_int_equal(resp.attempts, 2);
    assert_int_equal(strncmp(resp.attestation.base_id, "00", 2), 0);

    /* POST: a network failure, not retried; then a new base */
    httpa_err e = lib_get(&l[victims[1]], s, "POST", "/b", false, &resp, &body);
    print_message("POST after the stop: %s: %s\n", httpa_err_name(e), resp.message);
    assert_int_equal(e, HTTPA_ERR_NETWORK);
    assert_non_null(strstr(resp.message, "502"));
    assert_non_null(strstr(resp.message, "not idempotent"));
    assert_int_equal(lib_get(&l[victims[1]], s, "POST", "/c", false, &resp, &body), HTTPA_OK);
    assert_true(resp.handshake);
    assert_int_equal(strncmp(resp.attestation.base_id, "00", 2), 0);
    print_message("instance of tag 01 stopped: GET retried on a new base (%s), POST failed once "
                  "with nginx's 502 and the next one ran a new AtHS\n", resp.attestation.base_id);
    for (int i = 0; i < nl; i++)
        lib_free(&l[i]);
    httpa_curl_resp_free(&resp);
    httpa_buf_free(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tls_termination_sees_only_ciphertext, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampering_proxy_and_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mutual_mode_and_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_base_expiry_and_rehandshake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http1_and_http2_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_transfers_bounded_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_1gib_measurement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_tags_two_gateways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_tag_instance_gone, setup, teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (getenv("HTTPA_TEST_FILTER") != NULL) /* run some tests only: a cmocka glob */
        cmocka_set_test_filter(getenv("HTTPA_TEST_FILTER"));
    int rc = cmocka_run_group_tests_name("net_nginx", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
