/* httpa-micro: CPU cost of the engine's hot paths, for bench/run-micro.sh.
 *
 *   httpa-micro aths N          server CPU per AtHS, attested-key mode (µs)
 *   httpa-micro trt SIZE N [RS] TrT seal+open of a SIZE-octet body (AEAD MB/s),
 *                               records of RS octets (default: the engine's)
 *   httpa-micro server SIZE N   server CPU per TrT (µs): open, request body,
 *                               respond and seal a SIZE-octet response body
 *
 * Each prints one number per line: the median of 5 runs of N iterations.
 * Only the measured side is timed (CLOCK_THREAD_CPUTIME_ID); building the
 * client's requests is excluded from the AtHS figure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpa/client.h"
#include "httpa/server.h"
#include "httpa/sim.h"

#define RUNS 5

typedef struct bench {
    httpa_sim_attester tee;
    httpa_sim_verifier verifier;
    httpa_server *server;
    httpa_client_config ccfg;
    int64_t now;
} bench;

static void check(const char *what, httpa_err e)
{
    if (e != HTTPA_OK) {
        fprintf(stderr, "httpa-micro: %s: %s\n", what, httpa_strerror(e));
        exit(1);
    }
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return v[n / 2];
}

static void setup(bench *b)
{
    static const uint8_t measurement[32] = "httpa-micro benchmark image....";
    uint8_t pub[32], rd[HTTPA_REPORT_DATA_LEN];
    httpa_sign_key *key;
    httpa_buf ev;

    b->now = (int64_t)time(NULL);
    check("sim", httpa_sim_attester_init(&b->tee, NULL, measurement, 1, false));
    httpa_sim_verifier_init(&b->verifier, b->tee.pub);
    httpa_server_config cfg = {.attester = &b->tee.base};
    cfg.limits = httpa_limits_default();
    cfg.limits.max_bases = 1u << 20;
    check("server", httpa_server_new(&cfg, &b->server));
    check("key", httpa_sign_key_new(HTTPA_ED25519, NULL, 0, pub, &key));
    check("rd", httpa_attested_key_report_data(HTTPA_ED25519, HTTPA_SPAN(pub, 32), b->now + 86400, rd));
    httpa_buf_init(&ev, 4096);
    check("quote", b->tee.base.quote(&b->tee.base, rd, &ev));
    httpa_key_evidence kev = {"sim", "raw", httpa_buf_span(&ev)};
    check("add key", httpa_server_add_key(b->server, HTTPA_ED25519, key, HTTPA_SPAN(pub, 32),
                                          b->now + 86400, &kev, 1));
    httpa_buf_free(&ev);
    b->ccfg = (httpa_client_config){.verifier = &b->verifier.base, .allow_sim = true};
}

/* Server CPU for n handshakes; requests are built beforehand. */
static double aths_run(bench *b, int n)
{
    httpa_msg *req = calloc((size_t)n, sizeof(*req));
    httpa_client_hs **hs = calloc((size_t)n, sizeof(*hs));
    for (int i = 0; i < n; i++) {
        httpa_msg_init_request(&req[i]);
        check("hs start", httpa_client_hs_start(&b->ccfg, b->now, &req[i], &hs[i]));
    }
    double t0 = cpu_seconds();
    for (int i = 0; i < n; i++) {
        httpa_msg resp;
        httpa_buf body;
        httpa_msg_init_response(&resp, 0);
        httpa_buf_init(&body, 65536);
        check("handshake", httpa_server_handshake(b->server, &req[i], 0, b->now, &resp, &body));
        httpa_msg_free(&resp);
        httpa_buf_free(&body);
    }
    double t = cpu_seconds() - t0;
    for (int i = 0; i < n; i++) {
        httpa_msg_free(&req[i]);
        httpa_client_hs_free(hs[i]);
    }
    free(req);
    free(hs);
    httpa_server_sweep(b->server, b->now + 1000000);
    return t / n * 1e6;
}

static httpa_client_base *handshake(bench *b)
{
    httpa_client_hs *hs;
    httpa_client_base *base;
    httpa_msg req, resp;
    httpa_buf body;
    httpa_msg_init_request(&req);
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, 65536);
    check("hs start", httpa_client_hs_start(&b->ccfg, b->now, &req, &hs));
    check("handshake", httpa_server_handshake(b->server, &req, 0, b->now, &resp, &body));
    check("hs finish", httpa_client_hs_finish(hs, &resp, httpa_buf_span(&body), b->now, &base));
    httpa_client_hs_free(hs);
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    return base;
}

/* One TrT request: client protects and seals, server opens. Returns CPU s. */
static double trt_once(bench *b, httpa_client_base *base, const uint8_t *body, size_t size,
                       uint32_t rs, httpa_buf *wire, httpa_buf *plain)
{
    httpa_msg req, eresp;
    httpa_buf ebody;
    httpa_client_txn *ct;
    httpa_server_txn *st;
    httpa_seal_opts opts = {.has_body = true, .content_length = size, .record_size = rs};

    httpa_msg_init_request(&req);
    httpa_msg_init_response(&eresp, 0);
    httpa_buf_init(&ebody, 4096);
    check("line", httpa_msg_set_request_line(&req, "POST", 4, "/upload", 7));
    httpa_buf_reset(wire);
    httpa_buf_reset(plain);
    double t0 = cpu_seconds();
    check("protect", httpa_client_protect(base, &req, &opts, &ct));
    check("seal", httpa_client_txn_seal(ct, HTTPA_SPAN(body, size), true, wire));
    check("open", httpa_server_open(b->server, &req, b->now, &st, &eresp, &ebody));
    check("body", httpa_server_txn_body(st, httpa_buf_span(wire), true, plain));
    double t = cpu_seconds() - t0;
    if (plain->len != size)
        check("length", HTTPA_ERR_BAD_REQUEST);
    httpa_server_txn_free(st);
    httpa_client_txn_free(ct);
    httpa_msg_free(&req);
    httpa_msg_free(&eresp);
    httpa_buf_free(&ebody);
    return t;
}

/* A request as a gateway receives it: Host, User-Agent, Authorization. */
static void client_request(bench *b, httpa_client_base *base, const uint8_t *body, size_t size,
                           httpa_msg *req, httpa_buf *wire)
{
    httpa_client_txn *ct;
    httpa_seal_opts opts = {.has_body = true, .content_length = size};
    httpa_msg_init_request(req);
    check("line", httpa_msg_set_request_line(req, "POST", 4, "/small", 6));
    check("host", httpa_msg_add_str(req, "host", "127.0.0.1:8443"));
    check("ua", httpa_msg_add_str(req, "user-agent", "httpa-micro/1"));
    check("auth", httpa_msg_add_str(req, "authorization", "Bearer 0123456789abcdef"));
    check("ctype", httpa_msg_add_str(req, "content-type", "application/json"));
    check("protect", httpa_client_protect(base, req, &opts, &ct));
    check("seal", httpa_client_txn_seal(ct, HTTPA_SPAN(body, size), true, wire));
    httpa_client_txn_free(ct);
    (void)b;
}

/* One server transaction on a prepared request; returns CPU s. */
static double server_once(bench *b, httpa_msg *req, const httpa_buf *wire, const uint8_t *body,
                          size_t size, httpa_buf *plain, httpa_buf *out)
{
    httpa_msg resp, eresp;
    httpa_buf ebody;
    httpa_server_txn *st;
    httpa_seal_opts opts = {.has_body = true, .content_length = size};
    char clen[24];
    snprintf(clen, sizeof(clen), "%zu", size);
    httpa_msg_init_response(&eresp, 0);
    httpa_buf_init(&ebody, 4096);
    httpa_buf_reset(plain);
    httpa_buf_reset(out);
    double t0 = cpu_seconds();
    check("open", httpa_server_open(b->server, req, b->now, &st, &eresp, &ebody));
    check("body", httpa_server_txn_body(st, httpa_buf_span(wire), true, plain));
    httpa_msg_init_response(&resp, 200);
    check("ctype", httpa_msg_add_str(&resp, "content-type", "application/json"));
    check("clen", httpa_msg_add_str(&resp, "content-length", clen));
    check("respond", httpa_server_txn_respond(st, &resp, &opts));
    check("seal", httpa_server_txn_seal(st, HTTPA_SPAN(body, size), true, out));
    httpa_server_txn_free(st);
    httpa_msg_free(&resp);
    double t = cpu_seconds() - t0;
    httpa_msg_free(&eresp);
    httpa_buf_free(&ebody);
    return t;
}

/* Server CPU per small TrT, µs; requests are built beforehand. */
static double server_run(bench *b, httpa_client_base *base, size_t size, int n)
{
    enum { BATCH = 256 };
    uint8_t *body = malloc(size);
    httpa_msg req[BATCH];
    httpa_buf wire[BATCH], plain, out;
    memset(body, 'x', size);
    httpa_buf_init(&plain, size);
    httpa_buf_init(&out, size + 4096);
    double t = 0;
    for (int done = 0; done < n; done += BATCH) {
        int k = n - done < BATCH ? n - done : BATCH;
        for (int i = 0; i < k; i++) {
            httpa_buf_init(&wire[i], size + 4096);
            client_request(b, base, body, size, &req[i], &wire[i]);
        }
        for (int i = 0; i < k; i++) {
            t += server_once(b, &req[i], &wire[i], body, size, &plain, &out);
            httpa_msg_free(&req[i]);
            httpa_buf_free(&wire[i]);
        }
    }
    httpa_buf_free(&plain);
    httpa_buf_free(&out);
    free(body);
    return t / n * 1e6;
}

/* AEAD throughput: octets sealed plus octets opened, per CPU second. */
static double trt_run(bench *b, httpa_client_base *base, size_t size, uint32_t rs, int n)
{
    uint8_t *body = malloc(size);
    httpa_buf wire, plain;
    memset(body, 'x', size);
    httpa_buf_init(&wire, size + size / 1024 * 16 + 4096);
    httpa_buf_init(&plain, size);
    double t = 0;
    for (int i = 0; i < n; i++)
        t += trt_once(b, base, body, size, rs, &wire, &plain);
    httpa_buf_free(&wire);
    httpa_buf_free(&plain);
    free(body);
    return 2.0 * (double)size * n / t / 1e6;
}

int main(int argc, char **argv)
{
    bench b;
    double v[RUNS];
    if (argc < 3 || (strcmp(argv[1], "aths") != 0 && strcmp(argv[1], "trt") != 0 &&
                     strcmp(argv[1], "server") != 0)) {
        fprintf(stderr, "usage: httpa-micro aths N | trt SIZE N [RS] | server SIZE N\n");
        return 64;
    }
    setup(&b);
    if (strcmp(argv[1], "aths") == 0) {
        int n = atoi(argv[2]);
        aths_run(&b, n / 10 + 1); /* warm up */
        for (int r = 0; r < RUNS; r++)
            v[r] = aths_run(&b, n);
    } else if (strcmp(argv[1], "server") == 0) {
        size_t size = (size_t)strtoul(argv[2], NULL, 10);
        int n = argc > 3 ? atoi(argv[3]) : 10000;
        for (int r = 0; r < RUNS; r++) {
            httpa_client_base *base = handshake(&b);
            server_run(&b, base, size, n / 10 + 1); /* warm up */
            v[r] = server_run(&b, base, size, n);
            httpa_client_base_release(base);
        }
    } else {
        size_t size = (size_t)strtoul(argv[2], NULL, 10);
        int n = argc > 3 ? atoi(argv[3]) : 100;
        uint32_t rs = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 10) : 0;
        for (int r = 0; r < RUNS; r++) {
            httpa_client_base *base = handshake(&b);
            trt_run(&b, base, size, rs, n / 10 + 1); /* warm up */
            v[r] = trt_run(&b, base, size, rs, n);
            httpa_client_base_release(base);
        }
    }
    printf("%.3f\n", median(v, RUNS));
    httpa_server_free(b.server);
    httpa_sim_attester_clear(&b.tee);
    return 0;
}
