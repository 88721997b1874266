/* The Trusted Authority end to end over loopback: httpa-ta runs as a child
 * process (found through HTTPA_TA_BIN, else ../programs/httpa-ta next to
 * this test), the DCAP samples and sim evidence are appraised, keys rotate,
 * bad input and floods get problem+json, and the httpa command accepts
 * stapled and background-check results and refuses bad ones. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "httpa/crypto.h"
#include "httpa/curl.h"
#include "httpa/curl_cli.h"
#include "httpa/eat.h"
#include "httpa/sim.h"
#include "mini_server.h"
#include "testlib.h"

#define POLICY_ALL                                                                          \
    "{\"version\":1,\"sgx\":{},\"tdx\":{},\"sim\":{},\"allow_simulated\":true,"             \
    "\"accepted_tcb_status\":[\"UpToDate\",\"SWHardeningNeeded\","                          \
    "\"ConfigurationAndSWHardeningNeeded\"],"                                               \
    "\"allowed_advisory_ids\":[\"INTEL-SA-00289\",\"INTEL-SA-00615\"]}"
#define POLICY_STRICT "{\"version\":1,\"sgx\":{},\"tdx\":{},\"accepted_tcb_status\":[\"UpToDate\"]}"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- the httpa-ta child process ---- */

typedef struct ta_proc {
    pid_t pid;
    int port;
    char dir[64];
    char url[64];
} ta_proc;

static const char *ta_binary(void)
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

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static int read_port(const char *path)
{
    FILE *f = fopen(path, "r");
    int port = 0;
    if (f != NULL) {
        if (fscanf(f, "%d", &port) != 1)
            port = 0;
        fclose(f);
    }
    return port;
}

/* Start httpa-ta with the policy text and extra arguments (NULL-ended). */
static void ta_start(ta_proc *t, const char *policy, ...)
{
    char pol[96], portf[96], logf[96];
    const char *argv[48];
    int argc = 0;
    va_list ap;
    memset(t, 0, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/httpa-net-ta-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(pol, sizeof(pol), "%s/policy.json", t->dir);
    snprintf(portf, sizeof(portf), "%s/port", t->dir);
    snprintf(logf, sizeof(logf), "%s/log", t->dir);
    write_file(pol, policy, strlen(policy));
    argv[argc++] = ta_binary();
    argv[argc++] = "--policy";
    argv[argc++] = pol;
    argv[argc++] = "--listen";
    argv[argc++] = "127.0.0.1:0";
    argv[argc++] = "--port-file";
    argv[argc++] = portf;
    va_start(ap, policy);
    for (const char *a = va_arg(ap, const char *); a != NULL && argc < 46; a = va_arg(ap, const char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    t->pid = fork();
    assert_true(t->pid >= 0);
    if (t->pid == 0) {
        /* a failed test longjmps past ta_stop: the TA goes with this process */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 500 && t->port == 0; i++) {
        int st;
        if (waitpid(t->pid, &st, WNOHANG) == t->pid)
            fail_msg("httpa-ta (%s) exited at start; see %s", argv[0], logf);
        t->port = read_port(portf);
        if (t->port == 0)
            sleep_ms(10);
    }
    assert_true(t->port > 0);
    snprintf(t->url, sizeof(t->url), "http://127.0.0.1:%d", t->port);
}

static void ta_stop(ta_proc *t)
{
    int st = 0;
    if (t->pid <= 0)
        return;
    kill(t->pid, SIGTERM);
    for (int i = 0; i < 300 && waitpid(t->pid, &st, WNOHANG) == 0; i++)
        sleep_ms(10);
    if (waitpid(t->pid, &st, WNOHANG) == 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, &st, 0);
    }
    t->pid = 0;
}

/* ---- HTTP ---- */

typedef struct http_res {
    long status;
    char ctype[128];
    char retry[32];
    char allow[64];
    char body[256 * 1024];
    size_t len;
} http_res;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    http_res *r = arg;
    size_t k = size * n;
    if (r->len + k >= sizeof(r->body))
        return 0;
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = '\0';
    return k;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (n <= nl || strncasecmp(line, name, nl) != 0)
        return;
    const char *v = line + nl;
    size_t k = n - nl;
    while (k > 0 && (*v == ' '))
        v++, k--;
    while (k > 0 && (v[k - 1] == '\r' || v[k - 1] == '\n'))
        k--;
    snprintf(out, cap, "%.*s", (int)k, v);
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    http_res *r = arg;
    header_value(p, size * n, "content-type:", r->ctype, sizeof(r->ctype));
    header_value(p, size * n, "retry-after:", r->retry, sizeof(r->retry));
    header_value(p, size * n, "allow:", r->allow, sizeof(r->allow));
    return size * n;
}

static http_res *http(const char *method, const char *url, const char *body, size_t len)
{
    http_res *r = calloc(1, sizeof(*r));
    CURL *h = curl_easy_init();
    assert_non_null(r);
    assert_non_null(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(h);
    return r;
}

static http_res *get(const ta_proc *t, const char *path)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", t->url, path);
    return http("GET", url, NULL, 0);
}

/* POST /v1/appraise {"tee":..,"evidence":base64[,"nonce":..]} */
static http_res *appraise(const ta_proc *t, const char *tee, httpa_span ev, const char *nonce)
{
    char url[256];
    httpa_buf b64, body;
    httpa_buf_init(&b64, 1 << 20);
    httpa_buf_init(&body, 1 << 20);
    assert_int_equal(httpa_base64_encode(ev, &b64), HTTPA_OK);
    char head[128];
    snprintf(head, sizeof(head), "{\"tee\":\"%s\",\"evidence\":\"", tee);
    assert_int_equal(httpa_buf_append_str(&body, head), HTTPA_OK);
    assert_int_equal(httpa_buf_append(&body, b64.base, b64.len), HTTPA_OK);
    assert_int_equal(httpa_buf_append_str(&body, "\""), HTTPA_OK);
    if (nonce != NULL) {
        assert_int_equal(httpa_buf_append_str(&body, ",\"nonce\":\""), HTTPA_OK);
        assert_int_equal(httpa_buf_append_str(&body, nonce), HTTPA_OK);
        assert_int_equal(httpa_buf_append_str(&body, "\""), HTTPA_OK);
    }
    assert_int_equal(httpa_buf_append_str(&body, "}"), HTTPA_OK);
    snprintf(url, sizeof(url), "%s/v1/appraise", t->url);
    http_res *r = http("POST", url, (const char *)body.base, body.len);
    httpa_buf_free(&b64);
    httpa_buf_free(&body);
    return r;
}

static json_t *body_json(const http_res *r)
{
    json_t *o = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, NULL);
    if (o == NULL)
        fail_msg("not JSON (%ld): %.300s", r->status, r->body);
    return o;
}

/* A problem+json answer of the given status and type name. */
static void expect_problem(const http_res *r, long status, const char *type)
{
    char want[128];
    if (r->status != status)
        fail_msg("status %ld, wanted %ld: %.300s", r->status, status, r->body);
    assert_string_equal(r->ctype, "application/problem+json");
    json_t *o = body_json(r);
    snprintf(want, sizeof(want), "urn:httpa2:ta:error:%s", type);
    assert_string_equal(json_string_value(json_object_get(o, "type")), want);
    assert_int_equal(json_integer_value(json_object_get(o, "status")), status);
    json_decref(o);
}

static void keys_of(const ta_proc *t, httpa_eat_keyset *ks, char *jwks_path)
{
    http_res *r = get(t, "/v1/jwks");
    char err[256] = "";
    assert_int_equal(r->status, 200);
    httpa_eat_keyset_init(ks);
    if (httpa_eat_keyset_parse_jwks(ks, r->body, r->len, err, sizeof(err)) != HTTPA_OK)
        fail_msg("jwks: %s", err);
    if (jwks_path != NULL) {
        snprintf(jwks_path, 96, "%s/jwks.json", t->dir);
        write_file(jwks_path, r->body, r->len);
    }
    free(r);
}

static httpa_buf file_bytes(const char *rel)
{
    httpa_buf b;
    FILE *f = fopen(tl_shared_path(rel), "rb");
    uint8_t chunk[4096];
    size_t k;
    assert_non_null(f);
    httpa_buf_init(&b, 1 << 20);
    while ((k = fread(chunk, 1, sizeof(chunk), f)) != 0)
        assert_int_equal(httpa_buf_append(&b, chunk, k), HTTPA_OK);
    fclose(f);
    return b;
}

static void hex_of(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* ---- sim evidence ---- */

static const char *vec_sim_pub_hex(void)
{
    return tl_str(tl_get(tl_vectors(), "fixed_inputs"), "sim_attestation_key_ed25519_public_hex");
}

static void sim_quote(const uint8_t rd[64], const char *measurement, httpa_buf *out)
{
    httpa_sim_attester a;
    httpa_buf seed = tl_hex_at(tl_get(tl_vectors(), "fixed_inputs"),
                               "sim_attestation_key_ed25519_seed_hex");
    uint8_t m[32] = {0};
    memcpy(m, measurement, strlen(measurement) < 32 ? strlen(measurement) : 32);
    assert_int_equal(httpa_sim_attester_init(&a, seed.base, m, 3, false), HTTPA_OK);
    assert_int_equal(a.base.quote(&a.base, rd, out), HTTPA_OK);
    httpa_sim_attester_clear(&a);
    httpa_buf_free(&seed);
}

/* ---- the DCAP samples ---- */

static void check_sample(const char *name, const char *tee, const char *meas_key)
{
    char quote_rel[64], at[32];
    json_t *all = tl_load_json("vectors/dcap/expected.json");
    json_t *exp = tl_get(all, name);
    int64_t when = tl_int(exp, "verify_at_unix");
    ta_proc t;
    httpa_eat_keyset ks;
    httpa_eat_claims c;
    snprintf(quote_rel, sizeof(quote_rel), "vectors/dcap/%s", name);
    snprintf(at, sizeof(at), "%lld", (long long)when);
    ta_start(&t, POLICY_ALL, "--collateral-dir", tl_shared_path("vectors/dcap"), "--at", at, NULL);
    httpa_buf q = file_bytes(quote_rel);
    http_res *r = appraise(&t, tee, httpa_buf_span(&q), NULL);
    if (r->status != 200)
        fail_msg("%s: %ld %s", name, r->status, r->body);
    json_t *o = body_json(r);
    const char *status = tl_str(exp, "status");
    assert_string_equal(tl_str(o, "tcb_status"), status);
    assert_string_equal(tl_str(o, "verdict"), strcmp(status, "UpToDate") == 0 ? "affirming" : "warning");
    assert_true(json_equal(json_object_get(o, "advisory_ids"), json_object_get(exp, "advisory_ids")));
    keys_of(&t, &ks, NULL);
    const char *tok = tl_str(o, "token");
    assert_int_equal(httpa_eat_verify_token(&ks, tee, HTTPA_SPAN(tok, strlen(tok)), when, &c, NULL),
                     HTTPA_OK);
    assert_int_equal(httpa_eat_check_evidence(&c, httpa_buf_span(&q)), HTTPA_OK);
    httpa_buf rd = tl_hex_at(exp, "reportData"), m = tl_hex_at(exp, meas_key);
    tl_assert_bytes(c.report_data, 64, rd.base, rd.len);
    tl_assert_bytes(strcmp(tee, "sgx") == 0 ? c.m.sgx.mrenclave : c.m.tdx.mrtd, m.len, m.base, m.len);
    assert_int_equal(c.nadvisories, json_array_size(json_object_get(exp, "advisory_ids")));
    assert_true(c.collateral_issued > 0 && c.collateral_issued <= when);
    httpa_buf_free(&rd);
    httpa_buf_free(&m);
    json_decref(o);
    free(r);
    /* a flipped bit at offset 100: the signature no longer verifies */
    q.base[100] ^= 1;
    r = appraise(&t, tee, httpa_buf_span(&q), NULL);
    expect_problem(r, 422, "evidence-rejected");
    o = body_json(r);
    assert_string_equal(tl_str(o, "reason"), "QUOTE_SIGNATURE_INVALID");
    json_decref(o);
    free(r);
    q.base[100] ^= 1;
    /* the other TEE token for this quote */
    r = appraise(&t, strcmp(tee, "sgx") == 0 ? "tdx" : "sgx", httpa_buf_span(&q), NULL);
    expect_problem(r, 422, "evidence-rejected");
    free(r);
    ta_stop(&t);
    /* 60 days later the collateral is stale: a clear 503, and /healthz says so */
    snprintf(at, sizeof(at), "%lld", (long long)(when + 60 * 86400));
    ta_start(&t, POLICY_ALL, "--collateral-dir", tl_shared_path("vectors/dcap"), "--at", at, NULL);
    r = appraise(&t, tee, httpa_buf_span(&q), NULL);
    expect_problem(r, 503, "stale-collateral");
    o = body_json(r);
    assert_non_null(strstr(tl_str(o, "reason"), "EXPIRED"));
    json_decref(o);
    free(r);
    r = get(&t, "/healthz");
    assert_int_equal(r->status, 503);
    assert_non_null(strstr(r->body, "stale-collateral"));
    free(r);
    ta_stop(&t);
    httpa_buf_free(&q);
    json_decref(all);
}

static void test_dcap_samples(void **state)
{
    (void)state;
    check_sample("sgx_quote", "sgx", "mrEnclave");
    check_sample("tdx_quote", "tdx", "mrTd");
}

static void test_policy_contraindicates(void **state)
{
    (void)state;
    ta_proc t;
    char at[32];
    json_t *all = tl_load_json("vectors/dcap/expected.json");
    snprintf(at, sizeof(at), "%lld", (long long)tl_int(tl_get(all, "sgx_quote"), "verify_at_unix"));
    json_decref(all);
    ta_start(&t, POLICY_STRICT, "--collateral-dir", tl_shared_path("vectors/dcap"), "--at", at, NULL);
    httpa_buf q = file_bytes("vectors/dcap/sgx_quote");
    http_res *r = appraise(&t, "sgx", httpa_buf_span(&q), NULL);
    assert_int_equal(r->status, 200);
    json_t *o = body_json(r);
    assert_string_equal(tl_str(o, "verdict"), "contraindicated");
    assert_string_equal(tl_str(o, "reason"), "TCB_STATUS_NOT_ACCEPTED");
    json_decref(o);
    free(r);
    r = get(&t, "/metrics");
    assert_non_null(strstr(r->body, "httpa_ta_appraisals_total{tee=\"sgx\",verdict=\"contraindicated\"} 1"));
    assert_non_null(strstr(r->body, "httpa_ta_rejections_total{reason=\"tcb_status_not_accepted\"} 1"));
    assert_non_null(strstr(r->body, "httpa_ta_appraisal_seconds_count 1"));
    free(r);
    ta_stop(&t);
    httpa_buf_free(&q);
}

/* ---- sim, nonce ---- */

static void test_sim_and_nonce(void **state)
{
    (void)state;
    ta_proc t;
    uint8_t rd[64];
    httpa_buf ev, nonce;
    httpa_eat_keyset ks;
    memset(rd, 0x42, sizeof(rd));
    httpa_buf_init(&ev, 4096);
    httpa_buf_init(&nonce, 256);
    sim_quote(rd, "net-ta-test", &ev);
    assert_int_equal(httpa_base64url_encode(HTTPA_SPAN(rd, 64), &nonce), HTTPA_OK);
    assert_int_equal(httpa_buf_append_u8(&nonce, 0), HTTPA_OK);
    /* not enabled: unsupported-tee */
    ta_start(&t, POLICY_ALL, NULL);
    http_res *r = appraise(&t, "sim", httpa_buf_span(&ev), NULL);
    expect_problem(r, 422, "unsupported-tee");
    free(r);
    r = appraise(&t, "sgx", httpa_buf_span(&ev), NULL); /* no collateral source at all */
    expect_problem(r, 422, "unsupported-tee");
    free(r);
    ta_stop(&t);
    ta_start(&t, POLICY_ALL, "--allow-sim", "--sim-key", vec_sim_pub_hex(), NULL);
    r = appraise(&t, "sim", httpa_buf_span(&ev), (const char *)nonce.base);
    assert_int_equal(r->status, 200);
    json_t *o = body_json(r);
    assert_string_equal(tl_str(o, "verdict"), "affirming");
    keys_of(&t, &ks, NULL);
    const char *tok = tl_str(o, "token");
    httpa_eat_claims c;
    assert_int_equal(httpa_eat_verify_token(&ks, "sim", HTTPA_SPAN(tok, strlen(tok)), time(NULL), &c,
                                            NULL),
                     HTTPA_OK);
    assert_int_equal(memcmp(c.report_data, rd, 64), 0);
    assert_int_equal(c.m.sim.svn, 3);
    json_decref(o);
    free(r);
    /* another nonce: the TA refuses */
    nonce.base[0] = nonce.base[0] == 'A' ? 'B' : 'A';
    r = appraise(&t, "sim", httpa_buf_span(&ev), (const char *)nonce.base);
    expect_problem(r, 422, "report-data-mismatch");
    free(r);
    /* another simulated key's evidence */
    ev.base[130] ^= 1;
    r = appraise(&t, "sim", httpa_buf_span(&ev), NULL);
    expect_problem(r, 422, "evidence-rejected");
    free(r);
    ta_stop(&t);
    httpa_buf_free(&ev);
    httpa_buf_free(&nonce);
}

/* ---- keys ---- */

static char *sim_token(const ta_proc *t, char kid[64])
{
    uint8_t rd[64];
    httpa_buf ev;
    memset(rd, 7, sizeof(rd));
    httpa_buf_init(&ev, 4096);
    sim_quote(rd, "rotation", &ev);
    http_res *r = appraise(t, "sim", httpa_buf_span(&ev), NULL);
    assert_int_equal(r->status, 200);
    json_t *o = body_json(r);
    char *tok = strdup(tl_str(o, "token"));
    snprintf(kid, 64, "%s", tl_str(o, "kid"));
    json_decref(o);
    free(r);
    httpa_buf_free(&ev);
    return tok;
}

static void test_jwks_and_rotation(void **state)
{
    (void)state;
    ta_proc t;
    httpa_eat_keyset ks;
    char kid1[64], kid2[64];
    ta_start(&t, POLICY_ALL, "--allow-sim", "--sim-key", vec_sim_pub_hex(), "--rotate-seconds", "1",
             "--token-ttl", "12", NULL);
    http_res *r = get(&t, "/v1/jwks");
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "\"crv\":\"P-256\""));
    free(r);
    char *tok1 = sim_token(&t, kid1);
    keys_of(&t, &ks, NULL);
    assert_int_equal(ks.n, 2); /* current and the announced next key */
    assert_string_equal(ks.keys[0].kid, kid1);
    char next[64];
    snprintf(next, sizeof(next), "%s", ks.keys[1].kid);
    sleep_ms(1200);
    char *tok2 = sim_token(&t, kid2);
    assert_string_not_equal(kid1, kid2);
    assert_string_equal(kid2, next); /* the key announced one period ahead */
    keys_of(&t, &ks, NULL);
    assert_true(ks.n >= 3); /* current, next, and the previous one still needed */
    assert_non_null(httpa_eat_keyset_find(&ks, kid1, strlen(kid1)));
    /* the old token still verifies with the published keys */
    int64_t now = time(NULL);
    assert_int_equal(httpa_eat_verify_token(&ks, "sim", HTTPA_SPAN(tok1, strlen(tok1)), now, NULL, NULL),
                     HTTPA_OK);
    assert_int_equal(httpa_eat_verify_token(&ks, "sim", HTTPA_SPAN(tok2, strlen(tok2)), now, NULL, NULL),
                     HTTPA_OK);
    r = get(&t, "/metrics");
    assert_null(strstr(r->body, "httpa_ta_key_rotations_total 0"));
    free(r);
    free(tok1);
    free(tok2);
    ta_stop(&t);
}

/* ---- bad input, limits ---- */

static void test_bad_input(void **state)
{
    (void)state;
    ta_proc t;
    char url[128], big[4096];
    ta_start(&t, POLICY_ALL, "--max-body", "2048", "--allow-sim", "--sim-key", vec_sim_pub_hex(), NULL);
    snprintf(url, sizeof(url), "%s/v1/appraise", t.url);
    static const char *const malformed[] = {
        "not json", "[]", "{\"tee\":\"sgx\"}", "{\"tee\":1,\"evidence\":\"AAAA\"}",
        "{\"tee\":\"sgx\",\"evidence\":\"AAA\"}", "{\"tee\":\"sgx\",\"evidence\":\"AA==\",\"tee\":\"tdx\"}",
        "{\"tee\":\"sim\",\"evidence\":\"AAAA\",\"nonce\":\"AAAA\"}",
        "{\"tee\":\"sim\",\"evidence\":\"AAAA\",\"format\":\"eat\"}", "",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        http_res *r = http("POST", url, malformed[i], strlen(malformed[i]));
        expect_problem(r, 400, "malformed-request");
        free(r);
    }
    static const char sgx_body[] = "{\"tee\":\"sgx\",\"evidence\":\"AAAA\"}";
    static const char snp_body[] = "{\"tee\":\"sev_snp\",\"evidence\":\"AAAA\"}";
    static const char sim_body[] = "{\"tee\":\"sim\",\"evidence\":\"AAAA\"}";
    http_res *r = http("POST", url, sgx_body, strlen(sgx_body));
    expect_problem(r, 422, "unsupported-tee"); /* this TA has no collateral */
    free(r);
    r = http("POST", url, snp_body, strlen(snp_body));
    expect_problem(r, 422, "unsupported-tee");
    free(r);
    r = http("POST", url, sim_body, strlen(sim_body));
    expect_problem(r, 422, "evidence-rejected"); /* garbage evidence */
    free(r);
    memset(big, 'x', sizeof(big));
    r = http("POST", url, big, sizeof(big));
    expect_problem(r, 413, "too-large");
    free(r);
    r = http("GET", url, NULL, 0);
    expect_problem(r, 405, "method-not-allowed");
    assert_string_equal(r->allow, "POST");
    free(r);
    snprintf(url, sizeof(url), "%s/v1/jwks", t.url);
    r = http("DELETE", url, NULL, 0);
    expect_problem(r, 405, "method-not-allowed");
    free(r);
    snprintf(url, sizeof(url), "%s/admin", t.url);
    r = http("GET", url, NULL, 0);
    expect_problem(r, 404, "not-found");
    free(r);
    r = get(&t, "/metrics");
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->ctype, "text/plain"));
    assert_non_null(strstr(r->body, "httpa_ta_rejections_total{reason=\"malformed_request\"} 9"));
    assert_non_null(strstr(r->body, "# TYPE httpa_ta_appraisal_seconds histogram"));
    free(r);
    ta_stop(&t);
}

static void test_rate_limit(void **state)
{
    (void)state;
    ta_proc t;
    int limited = 0;
    ta_start(&t, POLICY_ALL, "--rate", "1", "--burst", "3", NULL);
    for (int i = 0; i < 8; i++) {
        http_res *r = get(&t, "/v1/jwks");
        if (r->status == 429) {
            expect_problem(r, 429, "rate-limited");
            assert_true(atoi(r->retry) >= 1);
            limited++;
        } else {
            assert_int_equal(r->status, 200);
        }
        free(r);
    }
    assert_true(limited >= 4);
    http_res *r = get(&t, "/healthz"); /* probes are not limited */
    assert_int_equal(r->status, 200);
    free(r);
    ta_stop(&t);
}

/* ---- the httpa command with a TA ---- */

typedef struct cli_result {
    int code;
    char out[16384];
    char err[16384];
} cli_result;

static void slurp(FILE *f, char *buf, size_t cap)
{
    rewind(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void run_cli(cli_result *res, const char *first, ...)
{
    char *argv[32] = {"httpa"};
    int argc = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a != NULL && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    FILE *out = tmpfile(), *err = tmpfile();
    assert_non_null(out);
    assert_non_null(err);
    res->code = httpa_curl_main(argc, argv, out, err);
    slurp(out, res->out, sizeof(res->out));
    slurp(err, res->err, sizeof(res->err));
}

/* The mini server's simulated attestation key, as hex. */
static void mini_sim_key(char hex[65])
{
    mini_server *s = mini_server_start(NULL);
    assert_non_null(s);
    hex_of(mini_server_sim_key(s), 32, hex);
    mini_server_stop(s);
}

typedef struct stapler {
    const ta_proc *ta;
    bool other_evidence; /* staple a token about a different quote of the same key */
    unsigned calls;
} stapler;

static httpa_err staple(void *arg, httpa_span raw, httpa_buf *token)
{
    stapler *st = arg;
    httpa_ta_client_config cfg = {.url = st->ta->url};
    char why[256];
    httpa_buf other;
    httpa_buf_init(&other, 4096);
    st->calls++;
    httpa_span ev = raw;
    if (st->other_evidence) { /* same report_data, same key, other measurement */
        httpa_sim_evidence se;
        assert_int_equal(httpa_sim_evidence_parse(raw, &se), HTTPA_OK);
        httpa_sim_attester a;
        static const uint8_t seed[32] = "mini-server simulated TEE key..";
        static const uint8_t m[32] = "another image of the service....";
        assert_int_equal(httpa_sim_attester_init(&a, seed, m, 1, false), HTTPA_OK);
        assert_int_equal(a.base.quote(&a.base, se.report_data, &other), HTTPA_OK);
        httpa_sim_attester_clear(&a);
        ev = httpa_buf_span(&other);
    }
    httpa_err e = httpa_ta_fetch_token(&cfg, "sim", ev, NULL, NULL, 0, token, NULL, why, sizeof(why));
    if (e != HTTPA_OK)
        fprintf(stderr, "staple: %s\n", why);
    httpa_buf_free(&other);
    return e;
}

static void test_cli_stapled(void **state)
{
    (void)state;
    ta_proc t;
    char key[65], jwks[96], url[128], other_jwks[128];
    cli_result res;
    httpa_eat_signer stranger;
    mini_sim_key(key);
    ta_start(&t, POLICY_ALL, "--allow-sim", "--sim-key", key, NULL);
    httpa_eat_keyset ks;
    keys_of(&t, &ks, jwks);
    stapler st = {.ta = &t};
    mini_server_opts mo = {.staple = staple, .staple_arg = &st};
    mini_server *srv = mini_server_start(&mo);
    assert_non_null(srv);
    assert_int_equal(st.calls, 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/hello", mini_server_port(srv));
    /* the stapled token alone attests the server: no sim key at the client */
    run_cli(&res, "--allow-sim", "--ta-key", jwks, "-v", url, NULL);
    if (res.code != 0)
        fail_msg("exit %d: %s", res.code, res.err);
    assert_non_null(strstr(res.err, "evidence sim/eat: accepted"));
    assert_non_null(strstr(res.out, "hello GET /hello"));
    /* a JWKS of another authority: the entry is ignored, nothing verifies */
    httpa_buf doc;
    httpa_buf_init(&doc, 4096);
    assert_int_equal(httpa_eat_signer_init(&stranger, NULL, NULL), HTTPA_OK);
    assert_int_equal(httpa_buf_append_str(&doc, "{\"keys\":["), HTTPA_OK);
    assert_int_equal(httpa_eat_jwk_append(stranger.kid, stranger.pub, &doc), HTTPA_OK);
    assert_int_equal(httpa_buf_append_str(&doc, "]}"), HTTPA_OK);
    snprintf(other_jwks, sizeof(other_jwks), "%s/other.json", t.dir);
    write_file(other_jwks, (const char *)doc.base, doc.len);
    run_cli(&res, "--allow-sim", "--ta-key", other_jwks, "-v", url, NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_ATTESTATION);
    assert_non_null(strstr(res.err, "no verifier for it: ignored"));
    mini_server_stop(srv);
    /* a token about other evidence than the raw entry next to it */
    st.other_evidence = true;
    srv = mini_server_start(&mo);
    assert_non_null(srv);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/hello", mini_server_port(srv));
    run_cli(&res, "--allow-sim", "--ta-key", jwks, url, NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_ATTESTATION);
    assert_non_null(strstr(res.err, "other evidence"));
    mini_server_stop(srv);
    httpa_eat_signer_clear(&stranger);
    httpa_buf_free(&doc);
    ta_stop(&t);
}

static void test_cli_background_check(void **state)
{
    (void)state;
    ta_proc t, past;
    char key[65], jwks[96], url[128], ta_url[96], at[32], past_jwks[96];
    cli_result res;
    httpa_eat_keyset ks;
    mini_sim_key(key);
    ta_start(&t, POLICY_ALL, "--allow-sim", "--sim-key", key, NULL);
    keys_of(&t, &ks, jwks);
    mini_server *srv = mini_server_start(NULL);
    assert_non_null(srv);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/hello", mini_server_port(srv));
    run_cli(&res, "--allow-sim", "--ta", t.url, "--ta-key", jwks, "-v", url, NULL);
    if (res.code != 0)
        fail_msg("exit %d: %s", res.code, res.err);
    assert_non_null(strstr(res.err, "evidence sim/raw: accepted"));
    assert_non_null(strstr(res.err, "SIMULATED"));
    /* the TA's key is not among the client's: refused, not ignored */
    httpa_eat_signer stranger;
    httpa_buf doc;
    char other_jwks[128];
    httpa_buf_init(&doc, 4096);
    assert_int_equal(httpa_eat_signer_init(&stranger, NULL, NULL), HTTPA_OK);
    assert_int_equal(httpa_eat_jwk_append(stranger.kid, stranger.pub, &doc), HTTPA_OK);
    snprintf(other_jwks, sizeof(other_jwks), "%s/other.json", t.dir);
    write_file(other_jwks, (const char *)doc.base, doc.len);
    run_cli(&res, "--allow-sim", "--ta", t.url, "--ta-key", other_jwks, url, NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_ATTESTATION);
    assert_non_null(strstr(res.err, "UNKNOWN_KID"));
    /* an expired token: a TA whose clock is two hours behind, 1 h tokens */
    snprintf(at, sizeof(at), "%lld", (long long)time(NULL) - 7200);
    ta_start(&past, POLICY_ALL, "--allow-sim", "--sim-key", key, "--at", at, "--token-ttl", "3600",
             NULL);
    keys_of(&past, &ks, past_jwks);
    run_cli(&res, "--allow-sim", "--ta", past.url, "--ta-key", past_jwks, url, NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_ATTESTATION);
    assert_non_null(strstr(res.err, "EXPIRED"));
    ta_stop(&past);
    /* the TA is down: a clear error, no fallback to trusting the server */
    snprintf(ta_url, sizeof(ta_url), "%s", t.url);
    ta_stop(&t);
    run_cli(&res, "--allow-sim", "--ta", ta_url, "--ta-key", jwks, "--connect-timeout", "2", url, NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_ATTESTATION);
    assert_non_null(strstr(res.err, "unreachable"));
    /* --ta needs --ta-key */
    run_cli(&res, "--allow-sim", "--ta", ta_url, url, NULL);
    assert_int_equal(res.code, HTTPA_CLI_EXIT_USAGE);
    mini_server_stop(srv);
    httpa_eat_signer_clear(&stranger);
    httpa_buf_free(&doc);
}

/* ---- a fake TA answering with chosen tokens ---- */

typedef enum fake_mode { FAKE_GOOD, FAKE_OTHER_EVIDENCE, FAKE_TAMPERED } fake_mode;

typedef struct fake_ta {
    int fd;
    int port;
    pthread_t th;
    fake_mode mode;
    httpa_eat_signer key;
    volatile bool stop;
} fake_ta;

/* The request's sim evidence (from its JSON body). */
static bool request_evidence(const char *req, size_t len, httpa_buf *ev)
{
    const char *body = strstr(req, "\r\n\r\n");
    if (body == NULL)
        return false;
    body += 4;
    json_t *o = json_loadb(body, len - (size_t)(body - req), 0, NULL);
    json_t *e = json_object_get(o, "evidence");
    bool ok = json_is_string(e) &&
              httpa_base64_decode(json_string_value(e), json_string_length(e), ev) == HTTPA_OK;
    json_decref(o);
    return ok;
}

static void fake_token(fake_ta *f, httpa_span ev, httpa_buf *tok)
{
    httpa_sim_evidence se;
    httpa_eat_claims c;
    memset(&c, 0, sizeof(c));
    assert_int_equal(httpa_sim_evidence_parse(ev, &se), HTTPA_OK);
    snprintf(c.iss, sizeof(c.iss), "fake-ta");
    snprintf(c.tee, sizeof(c.tee), "sim");
    snprintf(c.tcb_status, sizeof(c.tcb_status), "UpToDate");
    c.iat = time(NULL);
    c.exp = c.iat + 600;
    memcpy(c.report_data, se.report_data, 64);
    memcpy(c.m.sim.measurement, se.measurement, 32);
    c.m.sim.svn = se.svn;
    httpa_span hashed = f->mode == FAKE_OTHER_EVIDENCE ? HTTPA_SPAN("other", 5) : ev;
    assert_int_equal(httpa_hash(HTTPA_SHA256, hashed, c.evidence_sha256), HTTPA_OK);
    assert_int_equal(httpa_eat_issue(&f->key, &c, tok), HTTPA_OK);
    if (f->mode == FAKE_TAMPERED)
        tok->base[tok->len - 5] = tok->base[tok->len - 5] == 'A' ? 'B' : 'A';
}

static void fake_answer(fake_ta *f, int c)
{
    char req[65536], resp[70000];
    size_t len = 0;
    httpa_buf ev, tok;
    httpa_buf_init(&ev, 65536);
    httpa_buf_init(&tok, 65536);
    for (;;) { /* until the JSON body is complete (it ends with '}') */
        ssize_t k = recv(c, req + len, sizeof(req) - 1 - len, 0);
        if (k <= 0)
            break;
        len += (size_t)k;
        req[len] = '\0';
        const char *b = strstr(req, "\r\n\r\n");
        if (b != NULL && len > 0 && req[len - 1] == '}')
            break;
    }
    if (request_evidence(req, len, &ev)) {
        fake_token(f, httpa_buf_span(&ev), &tok);
        char body[66000];
        int bl = snprintf(body, sizeof(body), "{\"token\":\"%.*s\",\"kid\":\"%s\",\"verdict\":"
                          "\"affirming\",\"tcb_status\":\"UpToDate\"}", (int)tok.len,
                          (const char *)tok.base, f->key.kid);
        int n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         "Content-Length: %d\r\nConnection: close\r\n\r\n%s", bl, body);
        assert_true(send(c, resp, (size_t)n, MSG_NOSIGNAL) == n);
    }
    httpa_buf_free(&ev);
    httpa_buf_free(&tok);
}

static void *fake_main(void *arg)
{
    fake_ta *f = arg;
    while (!f->stop) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            break;
        fake_answer(f, c);
        close(c);
    }
    return NULL;
}

static void fake_start(fake_ta *f, fake_mode mode)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    memset(f, 0, sizeof(*f));
    f->mode = mode;
    assert_int_equal(httpa_eat_signer_init(&f->key, NULL, "fake-ta-key"), HTTPA_OK);
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->fd >= 0);
    assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(f->fd, 8), 0);
    assert_int_equal(getsockname(f->fd, (struct sockaddr *)&a, &len), 0);
    f->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(fake_ta *f)
{
    f->stop = true;
    shutdown(f->fd, SHUT_RDWR);
    pthread_join(f->th, NULL);
    close(f->fd);
    httpa_eat_signer_clear(&f->key);
}

static int fake_run(fake_mode mode, const char *url, cli_result *res)
{
    fake_ta f;
    char ta_url[64], jwks[64];
    fake_start(&f, mode);
    httpa_buf doc;
    httpa_buf_init(&doc, 4096);
    assert_int_equal(httpa_eat_jwk_append(f.key.kid, f.key.pub, &doc), HTTPA_OK);
    snprintf(jwks, sizeof(jwks), "/tmp/httpa-net-ta-fake-%d.json", (int)getpid());
    write_file(jwks, (const char *)doc.base, doc.len);
    snprintf(ta_url, sizeof(ta_url), "http://127.0.0.1:%d", f.port);
    run_cli(res, "--allow-sim", "--ta", ta_url, "--ta-key", jwks, url, NULL);
    unlink(jwks);
    httpa_buf_free(&doc);
    fake_stop(&f);
    return res->code;
}

static void test_cli_background_bad_tokens(void **state)
{
    (void)state;
    cli_result res;
    char url[128];
    mini_server *srv = mini_server_start(NULL);
    assert_non_null(srv);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/hello", mini_server_port(srv));
    /* the fake TA itself works */
    if (fake_run(FAKE_GOOD, url, &res) != 0)
        fail_msg("exit %d: %s", res.code, res.err);
    assert_int_equal(fake_run(FAKE_OTHER_EVIDENCE, url, &res), HTTPA_CLI_EXIT_ATTESTATION);
    assert_non_null(strstr(res.err, "other evidence"));
    assert_int_equal(fake_run(FAKE_TAMPERED, url, &res), HTTPA_CLI_EXIT_ATTESTATION);
    assert_non_null(strstr(res.err, "SIGNATURE_INVALID"));
    mini_server_stop(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dcap_samples),
        cmocka_unit_test(test_policy_contraindicates),
        cmocka_unit_test(test_sim_and_nonce),
        cmocka_unit_test(test_jwks_and_rotation),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_cli_stapled),
        cmocka_unit_test(test_cli_background_check),
        cmocka_unit_test(test_cli_background_bad_tokens),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
