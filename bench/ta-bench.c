/* ta-bench: the Trusted Authority under load, and what a stapled result
 * saves a client, for bench/run-ta.sh.
 *
 *   ta-bench --url URL --shared DIR --policy FILE [--count N] [--clients C]
 *            [--verify-count M]
 *
 * 1. Appraisals against a running httpa-ta (loopback, keep-alive, C client
 *    threads, N requests in all, alternating the SGX and TDX samples): the
 *    rate and the p50/p99 latency with warm collateral (loaded by the TA at
 *    start).
 * 2. In this process, at the samples' verify time, M times each (median of 5
 *    runs, thread CPU time): verifying the TA's stapled token for the SGX
 *    sample (ES256 and the 7.7 rules, policy included) against the full
 *    DCAP verification of the same quote with the same collateral and
 *    policy, the baselines: with a warm collateral object (it remembers the
 *    chains it verified) and cold (collateral parsed anew, M / 10 times).
 * Bounded in count; every request goes to the loopback URL given. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "httpa/crypto.h"
#include "httpa/dcap.h"
#include "httpa/eat.h"
#include "httpa/policy.h"

#define RUNS 5
#define MAX_COUNT 100000
#define MAX_CLIENTS 16

typedef struct opts {
    const char *url, *shared, *policy;
    long count, clients, verify_count;
} opts;

typedef struct sample {
    httpa_buf quote;
    char *request;          /* the JSON body of POST /v1/appraise */
    int64_t at;
    const char *tee;
} sample;

typedef struct worker {
    pthread_t th;
    const opts *o;
    const sample *s;        /* two samples, alternated */
    long n;
    double *lat;            /* seconds, n entries */
    long failures;
    char token[16384];      /* the last SGX token */
} worker;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "ta-bench: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void read_file(const char *path, httpa_buf *out)
{
    FILE *f = fopen(path, "rb");
    uint8_t chunk[4096];
    size_t k;
    if (f == NULL)
        die("cannot read", path);
    while ((k = fread(chunk, 1, sizeof(chunk), f)) != 0)
        if (httpa_buf_append(out, chunk, k) != HTTPA_OK)
            die("too large", path);
    fclose(f);
}

static void load_sample(const opts *o, const char *name, const char *tee, sample *s)
{
    char path[1024];
    httpa_buf b64;
    json_error_t je;
    snprintf(path, sizeof(path), "%s/vectors/dcap/expected.json", o->shared);
    json_t *exp = json_load_file(path, 0, &je);
    json_t *at = json_object_get(json_object_get(exp, name), "verify_at_unix");
    if (!json_is_integer(at))
        die("no verify_at_unix in", path);
    s->at = (int64_t)json_integer_value(at);
    json_decref(exp);
    snprintf(path, sizeof(path), "%s/vectors/dcap/%s", o->shared, name);
    httpa_buf_init(&s->quote, 1 << 20);
    httpa_buf_init(&b64, 1 << 21);
    read_file(path, &s->quote);
    if (httpa_base64_encode(httpa_buf_span(&s->quote), &b64) != HTTPA_OK)
        die("base64", NULL);
    json_t *req = json_pack("{s:s,s:s%}", "tee", tee, "evidence", (const char *)b64.base, b64.len);
    s->request = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    httpa_buf_free(&b64);
    s->tee = tee;
}

/* ---- 1. appraisals over HTTP ---- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    return httpa_buf_append(arg, p, size * n) == HTTPA_OK ? size * n : 0;
}

/* One POST; the token of a 200 answer into tok (may be NULL). */
static bool post(CURL *h, const char *url, const char *body, char *tok, size_t cap)
{
    httpa_buf resp;
    long status = 0;
    httpa_buf_init(&resp, 1 << 20);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    bool ok = curl_easy_perform(h) == CURLE_OK &&
              curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200;
    if (ok && tok != NULL) {
        json_t *o = json_loadb((const char *)resp.base, resp.len, 0, NULL);
        json_t *t = json_object_get(o, "token");
        ok = json_is_string(t) && json_string_length(t) < cap;
        if (ok)
            memcpy(tok, json_string_value(t), json_string_length(t) + 1);
        json_decref(o);
    }
    httpa_buf_free(&resp);
    return ok;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    char url[1024];
    snprintf(url, sizeof(url), "%s/v1/appraise", w->o->url);
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    for (long i = 0; i < w->n; i++) {
        const sample *s = &w->s[i % 2];
        double t0 = now_s();
        bool sgx = strcmp(s->tee, "sgx") == 0;
        if (!post(h, url, s->request, sgx ? w->token : NULL, sizeof(w->token)))
            w->failures++;
        w->lat[i] = now_s() - t0;
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return NULL;
}

/* The last SGX token into tok (the first worker's). */
static void run_http(const opts *o, const sample s[2], double *rate, double *p50, double *p99,
                     long *failures, char *tok, size_t cap)
{
    long per = o->count / o->clients, total = per * o->clients;
    double *all = calloc((size_t)total, sizeof(double));
    worker *w = calloc((size_t)o->clients, sizeof(worker));
    if (all == NULL || w == NULL)
        die("out of memory", NULL);
    double t0 = now_s();
    for (long c = 0; c < o->clients; c++) {
        w[c] = (worker){.o = o, .s = s, .n = per, .lat = all + c * per};
        if (pthread_create(&w[c].th, NULL, worker_main, &w[c]) != 0)
            die("pthread_create", NULL);
    }
    *failures = 0;
    for (long c = 0; c < o->clients; c++) {
        pthread_join(w[c].th, NULL);
        *failures += w[c].failures;
    }
    double wall = now_s() - t0;
    qsort(all, (size_t)total, sizeof(double), cmp_double);
    *rate = (double)total / wall;
    *p50 = all[total / 2];
    *p99 = all[(total * 99) / 100 < total ? (total * 99) / 100 : total - 1];
    snprintf(tok, cap, "%s", w[0].token);
    free(all);
    free(w);
}

/* ---- 2. client-side cost ---- */

typedef struct client_side {
    httpa_policy *policy;
    httpa_dcap_trust *trust;
    httpa_dcap_collateral *col;
    httpa_buf col_json;
    httpa_eat_keyset keys;
    httpa_eat_verifier eat;
} client_side;

static void fetch_jwks(const opts *o, httpa_eat_keyset *ks)
{
    char url[1024], err[256] = "";
    httpa_buf b;
    httpa_buf_init(&b, 1 << 20);
    snprintf(url, sizeof(url), "%s/v1/jwks", o->url);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    if (curl_easy_perform(h) != CURLE_OK)
        die("cannot fetch", url);
    curl_easy_cleanup(h);
    httpa_eat_keyset_init(ks);
    if (httpa_eat_keyset_parse_jwks(ks, (const char *)b.base, b.len, err, sizeof(err)) != HTTPA_OK)
        die("bad JWKS", err);
    httpa_buf_free(&b);
}

static void client_setup(const opts *o, client_side *c)
{
    char path[1024], err[256] = "";
    httpa_dcap_diag d;
    if (httpa_policy_load(o->policy, &c->policy, err, sizeof(err)) != HTTPA_OK)
        die("policy", err);
    snprintf(path, sizeof(path), "%s/vectors/dcap/sgx_quote_collateral.json", o->shared);
    if (httpa_dcap_trust_new_intel(&c->trust) != HTTPA_OK ||
        httpa_dcap_collateral_load(path, &c->col, &d) != HTTPA_OK)
        die("cannot load the trust anchor or", path);
    httpa_buf_init(&c->col_json, 1 << 20);
    read_file(path, &c->col_json);
    fetch_jwks(o, &c->keys);
    httpa_eat_verifier_init(&c->eat, &c->keys, c->policy);
    c->eat.allow_warning = true; /* the SGX sample's TCB status is a warning */
}

/* The full local appraisal: DCAP verification and the policy, with the
 * collateral object of the client (warm: it remembers the chains and
 * signatures it has verified), or with the collateral parsed anew from its
 * JSON (cold: what a client does for a platform it has not seen). */
static bool full_dcap(const client_side *c, const sample *s, bool cold)
{
    httpa_dcap_result r;
    httpa_claims cl;
    httpa_policy_verdict v;
    httpa_dcap_collateral *col = c->col;
    httpa_dcap_diag d;
    if (cold && httpa_dcap_collateral_parse((const char *)c->col_json.base, c->col_json.len, &col,
                                            &d) != HTTPA_OK)
        return false;
    bool ok = httpa_dcap_verify(c->trust, httpa_buf_span(&s->quote), col, s->at, &r) == HTTPA_OK;
    if (cold)
        httpa_dcap_collateral_free(col);
    if (!ok)
        return false;
    httpa_dcap_result_claims(&r, &cl);
    return httpa_policy_evaluate(c->policy, &cl, s->at, &v) == HTTPA_OK;
}

static bool stapled(const client_side *c, const sample *s, const char *token)
{
    httpa_appraisal a;
    return httpa_eat_verifier_check(&c->eat, "sgx", "eat", HTTPA_SPAN(token, strlen(token)), s->at,
                                    &a, NULL, NULL) == HTTPA_OK;
}

typedef enum way { WAY_STAPLED, WAY_DCAP_WARM, WAY_DCAP_COLD } way;

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Median over RUNS of the mean CPU µs per call (thread CPU time: other load
 * on the machine does not count). */
static double per_call_us(const client_side *c, const sample *s, const char *token, long m, way w)
{
    double runs[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = cpu_s();
        for (long i = 0; i < m; i++)
            if (!(w == WAY_STAPLED ? stapled(c, s, token) : full_dcap(c, s, w == WAY_DCAP_COLD)))
                die(w == WAY_STAPLED ? "the stapled token does not verify"
                                     : "the SGX sample does not verify",
                    NULL);
        runs[r] = (cpu_s() - t0) * 1e6 / (double)m;
    }
    qsort(runs, RUNS, sizeof(double), cmp_double);
    return runs[RUNS / 2];
}

/* ---- main ---- */

static void parse(opts *o, int argc, char **argv)
{
    *o = (opts){.count = 400, .clients = 2, .verify_count = 200};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--url") == 0)
            o->url = v;
        else if (strcmp(k, "--shared") == 0)
            o->shared = v;
        else if (strcmp(k, "--policy") == 0)
            o->policy = v;
        else if (strcmp(k, "--count") == 0)
            o->count = atol(v);
        else if (strcmp(k, "--clients") == 0)
            o->clients = atol(v);
        else if (strcmp(k, "--verify-count") == 0)
            o->verify_count = atol(v);
        else
            die("unknown option", k);
    }
    if (o->url == NULL || o->shared == NULL || o->policy == NULL || o->count < 2 ||
        o->count > MAX_COUNT || o->clients < 1 || o->clients > MAX_CLIENTS ||
        o->verify_count < 1 || o->verify_count > MAX_COUNT || o->count < o->clients)
        die("usage: ta-bench --url URL --shared DIR --policy FILE [--count N] [--clients C] "
            "[--verify-count M]", NULL);
}

int main(int argc, char **argv)
{
    opts o;
    sample s[2];
    client_side c;
    double rate, p50, p99;
    long failures;
    parse(&o, argc, argv);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    load_sample(&o, "sgx_quote", "sgx", &s[0]);
    load_sample(&o, "tdx_quote", "tdx", &s[1]);
    client_setup(&o, &c);
    char *token = calloc(1, HTTPA_EAT_TOKEN_MAX + 1);
    if (token == NULL)
        die("out of memory", NULL);
    run_http(&o, s, &rate, &p50, &p99, &failures, token, HTTPA_EAT_TOKEN_MAX + 1);
    if (failures != 0 || token[0] == '\0')
        die("appraisals failed (is httpa-ta running with the samples' collateral, --at and a "
            "policy that accepts them?)", NULL);
    double eat_us = per_call_us(&c, &s[0], token, o.verify_count, WAY_STAPLED);
    double warm_us = per_call_us(&c, &s[0], token, o.verify_count, WAY_DCAP_WARM);
    long cold_n = o.verify_count / 10 > 0 ? o.verify_count / 10 : 1;
    double cold_us = per_call_us(&c, &s[0], token, cold_n, WAY_DCAP_COLD);
    printf("%-54s %12s %12s %8s\n", "measure", "value", "baseline", "ratio");
    printf("%-54s %9.0f /s\n", "TA appraisals/s, SGX+TDX samples, warm collateral", rate);
    printf("%-54s %9.2f ms %9.2f ms\n", "TA appraisal latency p50 / p99 (wall, per request)",
           p50 * 1e3, p99 * 1e3);
    printf("%-54s %9.1f us %9.1f us %7.3fx  (baseline: full DCAP + policy, warm collateral)\n",
           "client CPU: verify a stapled token (ES256, 7.7, policy)", eat_us, warm_us,
           eat_us / warm_us);
    printf("%-54s %9.1f us %9.1f us %7.3fx  (baseline: full DCAP + policy, collateral parsed "
           "anew)\n",
           "client CPU: verify a stapled token, vs cold DCAP", eat_us, cold_us, eat_us / cold_us);
    printf("(%ld appraisals by %ld clients; client CPU: medians of %d runs of %ld, cold %ld)\n",
           o.count / o.clients * o.clients, o.clients, RUNS, o.verify_count, cold_n);
    free(token);
    curl_global_cleanup();
    return 0;
}
