/* End to end through nginx: client (the httpa command as a child process, or
 * the client library in this process) -> nginx terminating TLS, with the
 * tested configuration docs/examples/nginx-httpa.conf -> [a relay that
 * records, or one that damages an octet] -> httpa-gateway (sim TEE) -> the
 * application (the recording upstream of tests/e2e/upstream.c in this
 * process, or examples/demo-app).
 *
 * Each test starts and stops everything it uses, on 127.0.0.1 and ports the
 * kernel picks, and stops every child by its PID. nginx is /usr/sbin/nginx
 * or $HTTPA_NGINX; without it the tests are skipped (CI installs it).
 * Sanitizer builds (HTTPA_SANITIZE_BUILD=1) shrink the large transfers to
 * 64 MiB and the load test to 50 clients for 10 s, and do not check memory
 * bounds (the sanitizers' shadow memory and quarantine dominate). */
#define _DEFAULT_SOURCE /* wait4 (e2e/proxy.c): the peak RSS of one child */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    e2e_gw gw;
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

/* Start the application, the gateway, the relay and nginx. */
static void start(stack *s, bool recorder, const char *const *gw_extra, relay_kind relay,
                  const char *const *app_extra)
{
    need_nginx();
    s->recorder = recorder;
    if (recorder) {
        assert_int_equal(e2e_upstream_start(&s->up), 0);
        snprintf(s->upstream_url, sizeof(s->upstream_url), "http://127.0.0.1:%d", s->up.port);
    } else {
        assert_int_equal(px_app_start(&s->app, s->dir, app_extra), 0);
        snprintf(s->upstream_url, sizeof(s->upstream_url), "http://127.0.0.1:%d", s->app.port);
    }
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
    char gw[32];
    snprintf(gw, sizeof(gw), "127.0.0.1:%d", next);
    /* one gateway instance behind both route-tag upstreams (see the file) */
    assert_int_equal(px_nginx_start(&s->nginx, s->dir, s->cert, s->key, gw, gw), 0);
    snprintf(s->url, sizeof(s->url), "https://127.0.0.1:%d", s->nginx.port);
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
    };
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests_name("net_nginx", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
