/* DCAP quote verification latency: both sample quotes of shared/vectors/dcap,
 * each verified N times with httpa_dcap_verify at its verify_at_unix, with
 * the collateral parsed once beforehand (as a verifier with a collateral
 * cache holds it). Every verification must succeed with the status of
 * expected.json. Prints one line per quote, one for both, and one "cold":
 *
 *   quote=sgx_quote n=2000 p50_us=... p99_us=... per_s=...
 *
 * The collateral remembers what verifying it established (its signatures
 * and chains, the PCK certificates it validated; src/attest/dcap_int.h), so
 * after the first quote only the per-quote work remains. "cold" times the
 * first verification with a freshly parsed collateral (at most 100 rounds).
 *
 * bench/run-dcap.sh runs it beside the npm package @phala/dcap-qvl.
 *   dcap-bench [-n N] [DCAP_VECTORS_DIR] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "httpa/dcap.h"

#define WARMUP 50
#define MAX_N 1000000
#define COLD_N 100

typedef struct sample {
    const char *name;
    httpa_buf quote;
    httpa_dcap_collateral *col;
    int64_t at;
    char status[48];
} sample;

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int die(const char *what, const char *detail)
{
    fprintf(stderr, "dcap-bench: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return 1;
}

static int read_file(const char *path, httpa_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return die(path, strerror(errno));
    uint8_t chunk[4096];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = httpa_buf_append(out, chunk, n) == HTTPA_OK ? 0 : die(path, "too large");
    fclose(f);
    return rc;
}

/* dir/name<suffix> into out; non-zero when it does not fit. */
static int join(char *out, size_t cap, const char *dir, const char *name, const char *suffix)
{
    int n = snprintf(out, cap, "%s/%s%s", dir, name, suffix);
    return n < 0 || (size_t)n >= cap ? die("path too long", dir) : 0;
}

static int load(sample *s, const char *dir, json_t *expected)
{
    char path[1024];
    httpa_dcap_diag d = {.reason = HTTPA_DCAP_OK};
    json_t *e = json_object_get(expected, s->name);
    json_t *at = json_object_get(e, "verify_at_unix"), *st = json_object_get(e, "status");
    if (!json_is_integer(at) || !json_is_string(st))
        return die("expected.json lacks", s->name);
    s->at = (int64_t)json_integer_value(at);
    snprintf(s->status, sizeof(s->status), "%s", json_string_value(st));
    httpa_buf_init(&s->quote, HTTPA_DCAP_QUOTE_MAX);
    if (join(path, sizeof(path), dir, s->name, "") != 0 || read_file(path, &s->quote) != 0)
        return 1;
    if (join(path, sizeof(path), dir, s->name, "_collateral.json") != 0)
        return 1;
    if (httpa_dcap_collateral_load(path, &s->col, &d) != HTTPA_OK)
        return die(path, d.detail);
    return 0;
}

static int verify_once(const httpa_dcap_trust *t, const sample *s)
{
    httpa_dcap_result r;
    if (httpa_dcap_verify(t, httpa_buf_span(&s->quote), s->col, s->at, &r) != HTTPA_OK)
        return die(s->name, r.diag.detail);
    if (strcmp(httpa_dcap_tcb_status_name(r.status), s->status) != 0)
        return die(s->name, "unexpected TCB status");
    return 0;
}

static void report(const char *name, double *lat, size_t n, double total_us)
{
    qsort(lat, n, sizeof(*lat), cmp_double);
    size_t p99 = (n * 99 + 99) / 100;
    printf("quote=%s n=%zu p50_us=%.1f p99_us=%.1f per_s=%.0f\n", name, n, lat[n / 2],
           lat[(p99 > 0 ? p99 : 1) - 1], (double)n / (total_us / 1e6));
}

/* Interleaved (sgx, tdx, sgx, ...) so that both see the same machine state. */
static int run(const httpa_dcap_trust *t, sample *s, size_t n, double *lat, double *total)
{
    for (size_t i = 0; i < WARMUP; i++)
        if (verify_once(t, &s[0]) != 0 || verify_once(t, &s[1]) != 0)
            return 1;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < 2; k++) {
            double a = now_us();
            if (verify_once(t, &s[k]) != 0)
                return 1;
            double us = now_us() - a;
            lat[k * n + i] = us;
            total[k] += us;
        }
    return 0;
}

/* The first verification with a collateral (its memo empty): each of `n`
 * rounds parses both collaterals afresh, then times one verification each. */
static int run_cold(const httpa_dcap_trust *t, sample *s, const char *dir, size_t n, double *lat,
                    double *total)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < 2; k++) {
            char path[1024];
            httpa_dcap_collateral *fresh = NULL;
            if (join(path, sizeof(path), dir, s[k].name, "_collateral.json") != 0
                || httpa_dcap_collateral_load(path, &fresh, NULL) != HTTPA_OK)
                return die("cannot load", path);
            sample cold = s[k];
            cold.col = fresh;
            double a = now_us();
            int rc = verify_once(t, &cold);
            double us = now_us() - a;
            httpa_dcap_collateral_free(fresh);
            if (rc != 0)
                return rc;
            lat[k * n + i] = us;
            *total += us;
        }
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = 2000;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = strtoul(argv[++i], NULL, 10);
        else
            dir = argv[i];
    }
    if (n == 0 || n > MAX_N)
        return die("-n wants 1 to 1000000", NULL);
    char def[1024];
    if (dir == NULL) {
        const char *shared = getenv("HTTPA_SHARED_DIR");
        if (join(def, sizeof(def), shared ? shared : "../shared", "vectors/dcap", "") != 0)
            return 1;
        dir = def;
    }
    char path[1100];
    json_t *expected = join(path, sizeof(path), dir, "expected.json", "") == 0
                           ? json_load_file(path, 0, NULL) : NULL;
    if (expected == NULL)
        return die("cannot read", path);
    sample s[2] = {{.name = "sgx_quote"}, {.name = "tdx_quote"}};
    httpa_dcap_trust *t = NULL;
    double *lat = calloc(2 * n, sizeof(*lat)), total[2] = {0, 0};
    int rc = lat == NULL || httpa_dcap_trust_new_intel(&t) != HTTPA_OK ? die("setup", NULL) : 0;
    for (size_t k = 0; rc == 0 && k < 2; k++)
        rc = load(&s[k], dir, expected);
    if (rc == 0)
        rc = run(t, s, n, lat, total);
    if (rc == 0) {
        report("sgx_quote", lat, n, total[0]);
        report("tdx_quote", lat + n, n, total[1]);
        report("both", lat, 2 * n, total[0] + total[1]);
    }
    size_t ncold = n < COLD_N ? n : COLD_N;
    double cold_total = 0;
    if (rc == 0)
        rc = run_cold(t, s, dir, ncold, lat, &cold_total);
    if (rc == 0)
        report("cold", lat, 2 * ncold, cold_total);
    for (size_t k = 0; k < 2; k++) {
        httpa_dcap_collateral_free(s[k].col);
        httpa_buf_free(&s[k].quote);
    }
    httpa_dcap_trust_free(t);
    json_decref(expected);
    free(lat);
    return rc;
}
