/* httpa-bench: an HTTP/1.1 load generator for HTTPA/2 (see usage()).
 *
 * Why its own event loop: a load generator must cost the client less than
 * the server it measures, and on a two-core machine it gets one core.
 * libcurl's multi interface adds per-transfer work (handle reset, header
 * callbacks, its own parser and connection cache) of the same order as the
 * gateway's per-request work, so it would measure itself. This tool keeps
 * a fixed set of keep-alive connections per thread on epoll, writes each
 * request with one write(2) where it fits, parses responses in place and
 * hands body octets straight to the engine's client API: the only
 * per-request work beyond the kernel is what HTTPA/2 itself asks of a
 * client (protect, seal, verify the binder, open the records).
 *
 * Modes: plain (HTTP, optionally TLS), trt (Trusted Transactions on a
 * fixed set of Attest Bases made at start), aths (one Attest Handshake per
 * request). Closed loop by default (each connection sends its next request
 * when the previous answer is complete); --rate makes it open loop: a
 * thread issues requests at fixed intervals to whichever connection is
 * idle, and latency runs from the scheduled time, so a server that falls
 * behind is charged for the wait (no coordinated omission).
 *
 * Latency goes into a log-linear histogram (128 sub-buckets per power of
 * two: relative error under 0.8 %), one per thread, merged at the end. */
#define _GNU_SOURCE /* epoll_pwait2 (Linux 5.11, glibc 2.35) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "httpa/client.h"
#include "httpa/sim.h"

#define MAX_THREADS 64
#define MAX_CONNECTIONS 200000
#define MAX_BASES 100000
#define MAX_EXTRA_HEADERS 16
#define PIECE ((size_t)1 << 20)         /* body source; large bodies go out in pieces */
#define IN_START 16384                  /* receive buffer; grows for large heads */
#define IN_BULK (256 * 1024)            /* ... and for streamed bodies */
#define IN_MAX ((size_t)1 << 20)        /* largest response head accepted */
#define MAX_EVENTS 512
#define MAX_CONSEC_ERRORS 50            /* a connection that keeps failing gives up */
#define CONNECTING_MAX 256              /* per thread, in --hold mode */
#define EXIT_USAGE 2

/* ---- options ---- */

typedef enum bench_mode { MODE_PLAIN, MODE_TRT, MODE_ATHS } bench_mode;

typedef struct opts {
    bench_mode mode;
    const char *url;
    bool tls;
    char host[64];
    int port;
    char path[1024];
    char authority[96];
    uint64_t connections;
    uint64_t threads;
    double duration;
    uint64_t requests;       /* 0: no count limit */
    double warmup;
    bool warmup_set;
    uint64_t body;
    const char *method;
    uint64_t bases;
    double rate;             /* 0: closed loop */
    bool close;              /* one request per connection */
    uint8_t sim_pub[32];
    bool has_pub;
    uint32_t record_size;
    double timeout;
    bool json;
    const char *headers[MAX_EXTRA_HEADERS];
    size_t nheaders;
    double hold;             /* > 0: one request per connection, then stay idle */
    const char *ready_file;
    bool evidence_cache;
} opts;

/* ---- latency histogram ---- */

#define H_SUB_BITS 7
#define H_SUB ((uint64_t)1 << H_SUB_BITS)
#define H_BUCKETS ((size_t)(2 * H_SUB + 50 * H_SUB))

typedef struct hist {
    uint64_t count[H_BUCKETS];
    uint64_t n, max, min;
    double sum;
} hist;

static size_t h_index(uint64_t v)
{
    if (v < 2 * H_SUB)
        return (size_t)v;
    int e = 63 - __builtin_clzll(v);
    int shift = e - H_SUB_BITS;
    size_t i = (size_t)(2 * H_SUB + (uint64_t)(e - H_SUB_BITS - 1) * H_SUB + ((v >> shift) - H_SUB));
    return i < H_BUCKETS ? i : H_BUCKETS - 1;
}

/* The middle of bucket i. */
static uint64_t h_value(size_t i)
{
    if (i < 2 * H_SUB)
        return (uint64_t)i;
    size_t k = i - (size_t)(2 * H_SUB);
    int e = (int)(k / H_SUB) + H_SUB_BITS + 1;
    uint64_t m = k % H_SUB + H_SUB;
    int shift = e - H_SUB_BITS;
    return (m << shift) + (((uint64_t)1 << shift) >> 1);
}

static void h_record(hist *h, uint64_t ns)
{
    h->count[h_index(ns)]++;
    if (h->n == 0 || ns < h->min)
        h->min = ns;
    if (ns > h->max)
        h->max = ns;
    h->n++;
    h->sum += (double)ns;
}

static void h_merge(hist *into, const hist *h)
{
    for (size_t i = 0; i < H_BUCKETS; i++)
        into->count[i] += h->count[i];
    if (h->n != 0 && (into->n == 0 || h->min < into->min))
        into->min = h->min;
    if (h->max > into->max)
        into->max = h->max;
    into->n += h->n;
    into->sum += h->sum;
}

/* The q-quantile (0 < q <= 1) in ns, clamped to the exact extremes. */
static uint64_t h_quantile(const hist *h, double q)
{
    if (h->n == 0)
        return 0;
    double exact = q * (double)h->n;
    uint64_t want = (uint64_t)exact, seen = 0;
    if ((double)want < exact || want == 0)
        want++;
    for (size_t i = 0; i < H_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= want) {
            uint64_t v = h_value(i);
            return v > h->max ? h->max : v < h->min ? h->min : v;
        }
    }
    return h->max;
}

/* ---- time ---- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the evidence check cache (profile 7.2: a client MAY cache the
 * evidence check per key until exp; the engine still verifies report_data
 * and the per-handshake Attest-Signature every time) ---- */

#define CACHE_SLOTS 8

typedef struct cache_verifier {
    httpa_verifier base;
    httpa_verifier *inner;
    pthread_mutex_t mu;
    struct {
        bool used;
        uint8_t key[32];
        httpa_appraisal ap;
    } slot[CACHE_SLOTS];
    size_t next;
} cache_verifier;

static httpa_err cache_appraise(httpa_verifier *self, const char *tee, const char *format,
                                httpa_span evidence, int64_t now, httpa_appraisal *out)
{
    cache_verifier *cv = (cache_verifier *)self;
    uint8_t key[32];
    const httpa_span parts[] = {HTTPA_SPAN(tee, strlen(tee) + 1),
                                HTTPA_SPAN(format, strlen(format) + 1), evidence};
    if (httpa_hashv(HTTPA_SHA256, parts, 3, key) != HTTPA_OK)
        return cv->inner->appraise(cv->inner, tee, format, evidence, now, out);
    pthread_mutex_lock(&cv->mu);
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (cv->slot[i].used && memcmp(cv->slot[i].key, key, 32) == 0) {
            *out = cv->slot[i].ap;
            pthread_mutex_unlock(&cv->mu);
            return HTTPA_OK;
        }
    pthread_mutex_unlock(&cv->mu);
    httpa_err e = cv->inner->appraise(cv->inner, tee, format, evidence, now, out);
    if (e != HTTPA_OK)
        return e;
    pthread_mutex_lock(&cv->mu);
    size_t i = cv->next++ % CACHE_SLOTS;
    cv->slot[i].used = true;
    memcpy(cv->slot[i].key, key, 32);
    cv->slot[i].ap = *out;
    pthread_mutex_unlock(&cv->mu);
    return HTTPA_OK;
}

/* ---- response heads and chunked bodies ---- */

typedef struct resp_head {
    int status;
    bool chunked;
    bool has_len;
    uint64_t len;
    bool close;
} resp_head;

/* Parse a response head in p[0..n). Returns its length, 0 when incomplete,
 * -1 when malformed. With m != NULL the fields are copied into it. */
static long parse_head(const uint8_t *p, size_t n, resp_head *h, httpa_msg *m)
{
    const uint8_t *end = NULL;
    for (const uint8_t *s = p; s + 3 < p + n; s++) {
        s = memchr(s, '\r', (size_t)(p + n - s));
        if (s == NULL || s + 3 >= p + n)
            break;
        if (s[1] == '\n' && s[2] == '\r' && s[3] == '\n') {
            end = s + 4;
            break;
        }
    }
    if (end == NULL)
        return 0;
    if (m != NULL)
        httpa_msg_init_response(m, 0);
    const char *l = (const char *)p, *e = memchr(l, '\r', (size_t)(end - p));
    if (e - l < 12 || memcmp(l, "HTTP/1.", 7) != 0 || l[8] != ' ')
        return -1;
    int st = 0;
    for (int i = 9; i < 12; i++) {
        if (l[i] < '0' || l[i] > '9')
            return -1;
        st = st * 10 + (l[i] - '0');
    }
    memset(h, 0, sizeof(*h));
    h->status = st;
    h->close = l[7] == '0';
    if (m != NULL)
        m->status = st;
    for (l = e + 2; l < (const char *)end - 2; l = e + 2) {
        e = memchr(l, '\r', (size_t)((const char *)end - l));
        const char *colon = memchr(l, ':', (size_t)(e - l));
        if (colon == NULL || colon == l)
            return -1;
        size_t nl = (size_t)(colon - l);
        const char *v = colon + 1, *ve = e;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t vl = (size_t)(ve - v);
        if (nl == 14 && strncasecmp(l, "content-length", 14) == 0) {
            uint64_t x = 0;
            if (vl == 0 || vl > 18)
                return -1;
            for (size_t i = 0; i < vl; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return -1;
                x = x * 10 + (uint64_t)(v[i] - '0');
            }
            h->has_len = true;
            h->len = x;
        } else if (nl == 17 && strncasecmp(l, "transfer-encoding", 17) == 0) {
            h->chunked = vl == 7 && strncasecmp(v, "chunked", 7) == 0;
            if (!h->chunked)
                return -1;
        } else if (nl == 10 && strncasecmp(l, "connection", 10) == 0) {
            if (vl == 5 && strncasecmp(v, "close", 5) == 0)
                h->close = true;
        }
        if (m != NULL && httpa_msg_add(m, l, nl, v, vl) != HTTPA_OK)
            return -1;
    }
    return (long)(end - p);
}

typedef enum ck_state { CK_SIZE, CK_EXT, CK_DATA, CK_DATA_CR, CK_TRAILER, CK_END } ck_state;

typedef struct chunk_dec {
    ck_state st;
    uint64_t left;
    bool digits;
    int line;
} chunk_dec;

/* Skip framing up to the next run of data. *used: octets consumed;
 * [*at, *at + *len) the data run inside them. 1: the body ended, 0: more,
 * -1: malformed. */
static int dechunk(chunk_dec *d, const uint8_t *p, size_t n, size_t *used, size_t *at,
                   size_t *len)
{
    size_t i = 0;
    *at = *len = 0;
    while (i < n) {
        uint8_t c = p[i];
        switch (d->st) {
        case CK_SIZE: {
            int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (v >= 0) {
                if (d->left >> 56)
                    return -1;
                d->left = d->left * 16 + (uint64_t)v;
                d->digits = true;
            } else if (c == ';' || c == ' ' || c == '\t') {
                d->st = CK_EXT;
            } else if (c == '\n' && d->digits) {
                d->st = d->left != 0 ? CK_DATA : CK_TRAILER;
                d->line = 0;
            } else if (c != '\r') {
                return -1;
            }
            i++;
            break;
        }
        case CK_EXT:
            if (c == '\n') {
                d->st = d->left != 0 ? CK_DATA : CK_TRAILER;
                d->line = 0;
            }
            i++;
            break;
        case CK_DATA: {
            size_t k = n - i < d->left ? n - i : (size_t)d->left;
            *at = i;
            *len = k;
            d->left -= k;
            i += k;
            if (d->left == 0)
                d->st = CK_DATA_CR;
            *used = i;
            return 0;
        }
        case CK_DATA_CR:
            if (c == '\n') {
                d->st = CK_SIZE;
                d->digits = false;
            } else if (c != '\r') {
                return -1;
            }
            i++;
            break;
        case CK_TRAILER:
            if (c == '\n') {
                if (d->line == 0) {
                    d->st = CK_END;
                    *used = i + 1;
                    return 1;
                }
                d->line = 0;
            } else if (c != '\r') {
                d->line++;
            }
            i++;
            break;
        case CK_END:
            *used = i;
            return 1;
        }
    }
    *used = i;
    return 0;
}

/* ---- the benchmark ---- */

typedef enum err_kind { E_CONNECT, E_IO, E_TIMEOUT, E_STATUS, E_PROTOCOL, E_KINDS } err_kind;
static const char *const err_names[E_KINDS] = {"connect", "io", "timeout", "status", "protocol"};

typedef struct bench bench;
typedef struct worker worker;

typedef enum cstate { C_DOWN, C_CONNECTING, C_TLS, C_IDLE, C_BUSY, C_HELD } cstate;

typedef struct conn {
    worker *w;
    size_t gidx;             /* index over all threads */
    size_t base;             /* trt: the Attest Base it uses */
    int fd;
    SSL *ssl;
    cstate st;
    bool want_out;
    bool registered;
    unsigned consec_errors;
    /* the request being sent */
    httpa_buf out;
    size_t out_off;
    const uint8_t *fixed;    /* plain mode: the shared request, instead of out */
    size_t fixed_len;
    uint64_t body_left;      /* body octets not yet produced */
    /* the response being read */
    uint8_t *in;
    size_t in_len, in_cap;
    bool head_done;
    resp_head rh;
    chunk_dec dec;
    uint64_t body_left_in;   /* Content-Length body still to come */
    httpa_msg resp;          /* aths: the response (trt: verified at once) */
    bool has_resp;
    httpa_buf hs_body;       /* aths: the response content */
    httpa_buf plain;         /* trt: opened plaintext, discarded */
    uint64_t plain_total;
    bool body_fin;           /* trt: the engine saw the end of the body */
    /* the exchange */
    uint64_t t_sched;        /* latency start */
    uint64_t t_conn;         /* when the connection attempt began */
    uint64_t deadline;
    httpa_client_txn *txn;
    httpa_client_hs *hs;
    int64_t hs_now;
    bool in_flight;
    bool in_idle;            /* --rate: on the worker's idle list */
    bool done_one;           /* --hold: its request is answered */
} conn;

struct worker {
    bench *b;
    int id;
    pthread_t tid;
    int ep;
    conn *conns;
    size_t nconns;
    hist h;
    uint64_t requests;       /* measured, successful */
    uint64_t bytes_in;       /* response body octets (plaintext for trt) */
    uint64_t bytes_out;      /* request body octets (plaintext) */
    uint64_t handshakes;     /* TLS handshakes completed (measured) */
    uint64_t errors[E_KINDS];
    uint64_t all_done;       /* completed, measured or not */
    /* open loop */
    uint64_t interval;
    uint64_t next_due;
    conn **idle;
    size_t nidle;
    uint64_t backlog_max;    /* most requests overdue at once */
    size_t connecting;       /* --hold: connections not yet answered */
    size_t next_start;       /* --hold: the next connection to open */
    size_t held;
};

struct bench {
    opts o;
    struct sockaddr_in addr;
    SSL_CTX *ssl_ctx;
    httpa_sim_verifier simv;
    cache_verifier cache;
    httpa_client_config ccfg;
    httpa_client_base **bases;
    uint8_t *pattern;        /* body source, PIECE octets (or the body if smaller) */
    size_t pattern_len;
    uint8_t *plain_req;      /* plain mode: the whole request, shared read-only */
    size_t plain_req_len;
    uint64_t t_begin;        /* load starts */
    uint64_t t_measure;      /* warm-up ends */
    uint64_t t_end;          /* time limit */
    atomic_uint_fast64_t measured;  /* count mode */
    atomic_uint_fast64_t last_done; /* ns of the last measured completion */
    atomic_bool stop;
    atomic_size_t held_total;
    worker w[MAX_THREADS];
};

static void fatal_http(const char *what, httpa_err e)
{
    fprintf(stderr, "httpa-bench: %s: %s (%s)\n", what, httpa_strerror(e), httpa_err_name(e));
    exit(1);
}

/* ---- building requests ---- */

static httpa_err put(httpa_buf *b, const char *s, size_t n)
{
    return httpa_buf_append(b, s, n);
}

static httpa_err put_msg(httpa_buf *b, const httpa_msg *m, bool close)
{
    httpa_err e = put(b, m->method, m->method_len);
    if (e == HTTPA_OK)
        e = put(b, " ", 1);
    if (e == HTTPA_OK)
        e = put(b, m->target, m->target_len);
    if (e == HTTPA_OK)
        e = put(b, " HTTP/1.1\r\n", 11);
    for (size_t i = 0; i < m->nheaders && e == HTTPA_OK; i++) {
        e = put(b, m->headers[i].name, m->headers[i].name_len);
        if (e == HTTPA_OK)
            e = put(b, ": ", 2);
        if (e == HTTPA_OK)
            e = put(b, m->headers[i].value, m->headers[i].value_len);
        if (e == HTTPA_OK)
            e = put(b, "\r\n", 2);
    }
    if (e == HTTPA_OK && close)
        e = put(b, "Connection: close\r\n", 19);
    return e == HTTPA_OK ? put(b, "\r\n", 2) : e;
}

static httpa_err add_extra_headers(const opts *o, httpa_msg *m)
{
    httpa_err e = httpa_msg_add_str(m, "Host", o->authority);
    for (size_t i = 0; i < o->nheaders && e == HTTPA_OK; i++) {
        const char *h = o->headers[i], *colon = strchr(h, ':');
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        e = httpa_msg_add(m, h, (size_t)(colon - h), v, strlen(v));
    }
    return e;
}

static const char *method_of(const opts *o)
{
    return o->method != NULL ? o->method : o->body != 0 ? "POST" : "GET";
}

/* Plain mode: one request for every connection, built once. */
static void build_plain_request(bench *b)
{
    const opts *o = &b->o;
    httpa_msg m;
    httpa_buf buf;
    char len[32];
    const char *method = method_of(o);
    httpa_msg_init_request(&m);
    httpa_buf_init(&buf, SIZE_MAX);
    httpa_err e = httpa_msg_set_request_line(&m, method, strlen(method), o->path, strlen(o->path));
    if (e == HTTPA_OK)
        e = add_extra_headers(o, &m);
    snprintf(len, sizeof(len), "%" PRIu64, o->body);
    if (e == HTTPA_OK && o->body != 0)
        e = httpa_msg_add_str(&m, "Content-Length", len);
    if (e == HTTPA_OK)
        e = put_msg(&buf, &m, o->close);
    if (e == HTTPA_OK && o->body != 0 && o->body <= PIECE)
        e = put(&buf, (const char *)b->pattern, (size_t)o->body);
    if (e != HTTPA_OK)
        fatal_http("building the request", e);
    b->plain_req = buf.base;
    b->plain_req_len = buf.len;
    httpa_msg_free(&m);
}

/* The next piece of a large body into c->out (sealed in trt mode). */
static httpa_err produce_body(conn *c)
{
    bench *b = c->w->b;
    size_t k = c->body_left < b->pattern_len ? (size_t)c->body_left : b->pattern_len;
    c->body_left -= k;
    if (b->o.mode == MODE_TRT)
        return httpa_client_txn_seal(c->txn, HTTPA_SPAN(b->pattern, k), c->body_left == 0, &c->out);
    return httpa_buf_append(&c->out, b->pattern, k);
}

static httpa_err build_trt(conn *c)
{
    bench *b = c->w->b;
    const opts *o = &b->o;
    const char *method = method_of(o);
    httpa_msg m;
    httpa_msg_init_request(&m);
    httpa_err e = httpa_msg_set_request_line(&m, method, strlen(method), o->path, strlen(o->path));
    if (e == HTTPA_OK)
        e = add_extra_headers(o, &m);
    httpa_seal_opts so = {.has_body = o->body != 0, .content_length = o->body,
                          .record_size = o->record_size};
    if (e == HTTPA_OK)
        e = httpa_client_protect(b->bases[c->base], &m, &so, &c->txn);
    if (e == HTTPA_OK)
        e = put_msg(&c->out, &m, o->close);
    httpa_msg_free(&m);
    c->body_left = o->body;
    if (e == HTTPA_OK && o->body != 0)
        e = produce_body(c); /* the first piece: small bodies go out with the head */
    return e;
}

static httpa_err build_aths(conn *c)
{
    bench *b = c->w->b;
    httpa_msg m;
    httpa_msg_init_request(&m);
    c->hs_now = (int64_t)time(NULL);
    httpa_err e = httpa_client_hs_start(&b->ccfg, c->hs_now, &m, &c->hs);
    for (size_t i = 0; i < b->o.nheaders && e == HTTPA_OK; i++) {
        const char *h = b->o.headers[i], *colon = strchr(h, ':');
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        e = httpa_msg_add(&m, h, (size_t)(colon - h), v, strlen(v));
    }
    if (e == HTTPA_OK && httpa_msg_find(&m, "host", 4) == NULL)
        e = httpa_msg_add_str(&m, "Host", b->o.authority);
    if (e == HTTPA_OK)
        e = put_msg(&c->out, &m, b->o.close);
    httpa_msg_free(&m);
    return e;
}

/* ---- connections ---- */

static void conn_events(conn *c, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    if (!c->registered) {
        if (epoll_ctl(c->w->ep, EPOLL_CTL_ADD, c->fd, &ev) == 0)
            c->registered = true;
    } else if (c->want_out != out) {
        epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
    }
    c->want_out = out;
}

static void exchange_reset(conn *c)
{
    httpa_client_txn_free(c->txn);
    c->txn = NULL;
    httpa_client_hs_free(c->hs);
    c->hs = NULL;
    if (c->has_resp)
        httpa_msg_free(&c->resp);
    c->has_resp = false;
    httpa_buf_reset(&c->out);
    httpa_buf_reset(&c->hs_body);
    httpa_buf_reset(&c->plain);
    c->out_off = 0;
    c->fixed = NULL;
    c->body_left = 0;
    c->head_done = false;
    c->in_flight = false;
    c->plain_total = 0;
    c->body_fin = false;
    memset(&c->dec, 0, sizeof(c->dec));
}

static void conn_close(conn *c)
{
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        if (c->registered)
            epoll_ctl(c->w->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->registered = false;
    c->want_out = false;
    c->st = C_DOWN;
    c->in_len = 0;
    exchange_reset(c);
}

static bool measuring(const bench *b, uint64_t t)
{
    return t >= b->t_measure && t <= b->t_end;
}

static void conn_start(conn *c);
static void conn_ready(conn *c);

static void count_error(conn *c, err_kind k)
{
    bench *b = c->w->b;
    if (measuring(b, now_ns()))
        c->w->errors[k]++;
    if (b->o.hold > 0 && !c->done_one) {
        c->done_one = true; /* it will not be held */
        c->w->connecting--;
        atomic_fetch_add(&b->held_total, 1);
    }
}

/* A failed exchange or connection: count it, then start over. */
static void conn_fail(conn *c, err_kind k)
{
    count_error(c, k);
    conn_close(c);
    if (++c->consec_errors >= MAX_CONSEC_ERRORS || atomic_load(&c->w->b->stop) ||
        c->w->b->o.hold > 0)
        return; /* a connection that keeps failing stops trying */
    conn_start(c);
}

static void conn_start(conn *c)
{
    bench *b = c->w->b;
    int one = 1;
    c->t_conn = now_ns();
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        count_error(c, E_CONNECT);
        c->st = C_DOWN;
        c->consec_errors++;
        return;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->deadline = c->t_conn + (uint64_t)(b->o.timeout * 1e9);
    if (connect(c->fd, (struct sockaddr *)&b->addr, sizeof(b->addr)) != 0 && errno != EINPROGRESS) {
        conn_fail(c, E_CONNECT);
        return;
    }
    c->st = C_CONNECTING;
    conn_events(c, true);
}

static void tls_step(conn *c)
{
    int r = SSL_connect(c->ssl);
    if (r == 1) {
        if (measuring(c->w->b, now_ns()))
            c->w->handshakes++;
        conn_ready(c);
        return;
    }
    int err = SSL_get_error(c->ssl, r);
    if (err == SSL_ERROR_WANT_READ)
        conn_events(c, false);
    else if (err == SSL_ERROR_WANT_WRITE)
        conn_events(c, true);
    else
        conn_fail(c, E_CONNECT);
}

static void on_connected(conn *c)
{
    int err = 0;
    socklen_t l = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0 || err != 0) {
        conn_fail(c, E_CONNECT);
        return;
    }
    if (c->w->b->ssl_ctx != NULL) {
        c->ssl = SSL_new(c->w->b->ssl_ctx);
        if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
            conn_fail(c, E_CONNECT);
            return;
        }
        SSL_set_tlsext_host_name(c->ssl, c->w->b->o.host);
        c->st = C_TLS;
        tls_step(c);
        return;
    }
    conn_ready(c);
}

static void send_some(conn *c);

/* Begin one exchange on an idle connection; latency runs from t_sched. */
static void req_begin(conn *c, uint64_t t_sched)
{
    bench *b = c->w->b;
    httpa_err e = HTTPA_OK;
    exchange_reset(c);
    c->st = C_BUSY;
    c->in_flight = true;
    c->t_sched = t_sched;
    c->deadline = now_ns() + (uint64_t)(b->o.timeout * 1e9);
    switch (b->o.mode) {
    case MODE_PLAIN:
        c->fixed = b->plain_req;
        c->fixed_len = b->plain_req_len;
        c->body_left = b->o.body > PIECE ? b->o.body : 0;
        break;
    case MODE_TRT:
        e = build_trt(c);
        break;
    case MODE_ATHS:
        e = build_aths(c);
        break;
    }
    if (e != HTTPA_OK) {
        conn_fail(c, E_PROTOCOL);
        return;
    }
    send_some(c);
}

/* The connection can take a request. */
static void conn_ready(conn *c)
{
    worker *w = c->w;
    bench *b = w->b;
    c->st = C_IDLE;
    conn_events(c, false);
    if (atomic_load(&b->stop))
        return;
    if (b->o.hold > 0 && c->done_one) {
        c->st = C_HELD;
        return;
    }
    if (b->o.rate > 0) {
        if (!c->in_idle)
            w->idle[w->nidle++] = c;
        c->in_idle = true;
        return;
    }
    /* closed loop; with --close the latency includes connect and TLS */
    req_begin(c, b->o.close ? c->t_conn : now_ns());
}

static ssize_t io_write(conn *c, const uint8_t *p, size_t n)
{
    if (c->ssl == NULL) {
        ssize_t r = write(c->fd, p, n);
        return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : r;
    }
    size_t done = 0;
    int r = SSL_write_ex(c->ssl, p, n, &done);
    if (r == 1)
        return (ssize_t)done;
    int err = SSL_get_error(c->ssl, r);
    return err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ ? 0 : -1;
}

/* Read into the input buffer; octets read, 0 when nothing is there now,
 * -1 on error or end of stream. */
static ssize_t io_read(conn *c)
{
    if (c->in_len == c->in_cap) {
        size_t cap = c->in_cap * 2;
        if (cap > IN_MAX)
            return -1;
        uint8_t *p = realloc(c->in, cap);
        if (p == NULL)
            return -1;
        c->in = p;
        c->in_cap = cap;
    }
    if (c->ssl == NULL) {
        size_t room = c->in_cap - c->in_len;
        ssize_t r = read(c->fd, c->in + c->in_len, room);
        if (r > 0)
            c->in_len += (size_t)r;
        if (r > 0 && (size_t)r == room && c->in_cap < IN_BULK) { /* a stream: read more at once */
            uint8_t *p = realloc(c->in, c->in_cap * 2);
            if (p != NULL) {
                c->in = p;
                c->in_cap *= 2;
            }
        }
        return r > 0 ? r : r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
    size_t got = 0;
    int r = SSL_read_ex(c->ssl, c->in + c->in_len, c->in_cap - c->in_len, &got);
    if (r == 1) {
        c->in_len += got;
        return (ssize_t)got;
    }
    int err = SSL_get_error(c->ssl, r);
    return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

static void send_some(conn *c)
{
    for (int rounds = 0; rounds < 64; rounds++) {
        const uint8_t *p = c->fixed != NULL ? c->fixed : c->out.base;
        size_t n = c->fixed != NULL ? c->fixed_len : c->out.len;
        if (c->out_off == n) {
            if (c->body_left == 0) {
                conn_events(c, false); /* all sent: wait for the answer */
                return;
            }
            if (c->fixed != NULL) { /* plain: the rest of a large body */
                c->fixed = NULL;
            }
            httpa_buf_reset(&c->out);
            c->out_off = 0;
            if (produce_body(c) != HTTPA_OK) {
                conn_fail(c, E_PROTOCOL);
                return;
            }
            continue;
        }
        ssize_t w = io_write(c, p + c->out_off, n - c->out_off);
        if (w < 0) {
            conn_fail(c, E_IO);
            return;
        }
        if (w == 0) {
            conn_events(c, true);
            return;
        }
        c->out_off += (size_t)w;
    }
    conn_events(c, true); /* a large body: let the other connections run */
}

/* The exchange is complete. */
static void req_done(conn *c)
{
    worker *w = c->w;
    bench *b = w->b;
    uint64_t t = now_ns();
    bool keep = !c->rh.close && !b->o.close;
    c->consec_errors = 0;
    w->all_done++;
    /* open loop: only requests scheduled inside the window count */
    if (measuring(b, t) && (b->o.rate <= 0 || c->t_sched >= b->t_measure)) {
        bool counted = true;
        if (b->o.requests != 0) {
            uint64_t k = atomic_fetch_add(&b->measured, 1) + 1;
            counted = k <= b->o.requests;
            if (k >= b->o.requests)
                atomic_store(&b->stop, true);
        }
        if (counted) {
            w->requests++;
            w->bytes_in += b->o.mode == MODE_TRT ? c->plain_total : c->rh.has_len ? c->rh.len : 0;
            w->bytes_out += b->o.body;
            h_record(&w->h, t - c->t_sched);
            atomic_store(&b->last_done, t);
        }
    }
    if (b->o.hold > 0 && !c->done_one) {
        c->done_one = true;
        w->connecting--;
        w->held++;
        atomic_fetch_add(&b->held_total, 1);
    }
    exchange_reset(c);
    if (!keep) {
        conn_close(c);
        if (!atomic_load(&b->stop) && b->o.hold <= 0)
            conn_start(c);
        return;
    }
    conn_ready(c);
}

/* Body octets of the response; `fin` when they complete it (then the
 * engine opens the final record at once instead of buffering it). */
static bool body_data(conn *c, const uint8_t *p, size_t n, bool fin)
{
    bench *b = c->w->b;
    if (n == 0 && !fin)
        return true;
    if (b->o.mode == MODE_TRT) {
        httpa_buf_reset(&c->plain);
        if (httpa_client_txn_body(c->txn, HTTPA_SPAN(p, n), fin, &c->plain) != HTTPA_OK)
            return false;
        c->plain_total += c->plain.len;
        c->body_fin = fin;
    } else if (b->o.mode == MODE_ATHS) {
        return n == 0 || httpa_buf_append(&c->hs_body, p, n) == HTTPA_OK;
    }
    return true;
}

/* The whole body arrived: finish verification. */
static bool body_end(conn *c)
{
    bench *b = c->w->b;
    if (b->o.mode == MODE_TRT) {
        if (c->body_fin)
            return true; /* the last body_data had fin */
        httpa_buf_reset(&c->plain);
        if (httpa_client_txn_body(c->txn, HTTPA_SPAN(NULL, 0), true, &c->plain) != HTTPA_OK)
            return false;
        c->plain_total += c->plain.len;
    } else if (b->o.mode == MODE_ATHS) {
        httpa_client_base *base = NULL;
        httpa_err e = httpa_client_hs_finish(c->hs, &c->resp, httpa_buf_span(&c->hs_body),
                                             c->hs_now, &base);
        httpa_client_base_release(base);
        if (e != HTTPA_OK)
            return false;
    }
    return true;
}

/* Process what is in the input buffer. */
static void on_input(conn *c)
{
    bench *b = c->w->b;
    if (!c->head_done) {
        httpa_msg *m = b->o.mode != MODE_PLAIN ? &c->resp : NULL;
        if (c->has_resp) {
            httpa_msg_free(&c->resp);
            c->has_resp = false;
        }
        long hl = parse_head(c->in, c->in_len, &c->rh, m);
        c->has_resp = m != NULL && hl != 0;
        if (hl == 0)
            return;
        if (hl < 0 || !c->in_flight) {
            conn_fail(c, E_PROTOCOL);
            return;
        }
        if (c->rh.status < 200) { /* interim: skip it */
            memmove(c->in, c->in + hl, c->in_len - (size_t)hl);
            c->in_len -= (size_t)hl;
            if (c->has_resp)
                httpa_msg_free(&c->resp);
            c->has_resp = false;
            return;
        }
        c->head_done = true;
        memmove(c->in, c->in + hl, c->in_len - (size_t)hl);
        c->in_len -= (size_t)hl;
        if (b->o.mode == MODE_TRT) {
            /* verify the binder, open the Cargo, restore the fields */
            httpa_err e = httpa_client_txn_response(c->txn, &c->resp);
            httpa_msg_free(&c->resp);
            c->has_resp = false;
            if (e != HTTPA_OK) {
                conn_fail(c, E_PROTOCOL);
                return;
            }
        }
        if (c->rh.status < 200 || c->rh.status > 299) {
            conn_fail(c, E_STATUS);
            return;
        }
        bool head_method = b->o.method != NULL && strcmp(b->o.method, "HEAD") == 0;
        if (head_method || c->rh.status == 204 || c->rh.status == 304)
            c->rh.has_len = true, c->rh.len = 0, c->rh.chunked = false;
        if (!c->rh.chunked && !c->rh.has_len) {
            conn_fail(c, E_PROTOCOL); /* read-to-close answers are not supported */
            return;
        }
        c->body_left_in = c->rh.has_len ? c->rh.len : 0;
    }
    /* the body */
    if (c->rh.chunked) {
        size_t off = 0;
        int r = 0;
        while (off < c->in_len) {
            size_t used = 0, at = 0, len = 0;
            r = dechunk(&c->dec, c->in + off, c->in_len - off, &used, &at, &len);
            if (r < 0 || !body_data(c, c->in + off + at, len, false)) {
                conn_fail(c, E_PROTOCOL);
                return;
            }
            if (b->o.mode == MODE_PLAIN)
                c->plain_total += len;
            off += used;
            if (r == 1 || used == 0)
                break;
        }
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
        if (r == 1) {
            if (c->in_len != 0 || !body_end(c)) {
                conn_fail(c, E_PROTOCOL);
                return;
            }
            c->rh.has_len = true;
            c->rh.len = c->plain_total;
            req_done(c);
        }
        return;
    }
    size_t k = c->in_len < c->body_left_in ? c->in_len : (size_t)c->body_left_in;
    if (!body_data(c, c->in, k, k == c->body_left_in)) {
        conn_fail(c, E_PROTOCOL);
        return;
    }
    c->body_left_in -= k;
    memmove(c->in, c->in + k, c->in_len - k);
    c->in_len -= k;
    if (c->body_left_in == 0) {
        if (c->in_len != 0 || !body_end(c)) {
            conn_fail(c, E_PROTOCOL);
            return;
        }
        req_done(c);
    }
}

static void on_readable(conn *c)
{
    /* TLS: drain what OpenSSL buffered, epoll cannot see it */
    int max_rounds = c->ssl != NULL ? 1024 : 16;
    for (int rounds = 0; rounds < max_rounds && c->fd >= 0; rounds++) {
        ssize_t r = io_read(c);
        if (r < 0) {
            /* EOF while idle: the server closed a keep-alive connection */
            bool idle = !c->in_flight && c->in_len == 0;
            if (idle && c->st != C_HELD) {
                conn_close(c);
                if (!atomic_load(&c->w->b->stop))
                    conn_start(c);
            } else if (idle) {
                conn_close(c);
            } else {
                conn_fail(c, E_IO);
            }
            return;
        }
        if (r == 0)
            return;
        on_input(c);
        if (c->fd < 0 || c->st != C_BUSY)
            return;
    }
}

static void on_event(conn *c, uint32_t ev)
{
    switch (c->st) {
    case C_CONNECTING:
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            on_connected(c);
        return;
    case C_TLS:
        tls_step(c);
        return;
    case C_BUSY:
        if ((ev & EPOLLOUT) && c->want_out)
            send_some(c);
        if (c->fd >= 0 && c->st == C_BUSY && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
            on_readable(c);
        return;
    case C_IDLE:
    case C_HELD:
        if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
            on_readable(c);
        return;
    case C_DOWN:
        return;
    }
}

/* ---- the loop ---- */

/* Open loop: hand every due request to an idle connection. */
static void dispatch(worker *w, uint64_t t)
{
    bench *b = w->b;
    if (w->next_due <= t && w->interval != 0) {
        uint64_t overdue = (t - w->next_due) / w->interval + 1;
        if (overdue > w->backlog_max && w->next_due >= b->t_measure)
            w->backlog_max = overdue;
    }
    for (int k = 0; k < 100000 && w->nidle != 0 && w->next_due <= t; k++) {
        conn *c = w->idle[--w->nidle];
        c->in_idle = false;
        if (c->st != C_IDLE)
            continue; /* closed since it became idle */
        uint64_t due = w->next_due;
        w->next_due += w->interval;
        req_begin(c, due);
    }
}

/* How long the loop may sleep: until the next scheduled request when a
 * connection could take it (open loop), else 50 ms. */
static struct timespec wait_for(const worker *w, uint64_t t)
{
    uint64_t ns = 50000000u;
    if (w->interval != 0 && w->nidle != 0)
        ns = w->next_due > t ? w->next_due - t : 0;
    if (ns > 50000000u)
        ns = 50000000u;
    return (struct timespec){(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
}

static void check_timeouts(worker *w, uint64_t t)
{
    for (size_t i = 0; i < w->nconns; i++) {
        conn *c = &w->conns[i];
        if ((c->st == C_BUSY || c->st == C_CONNECTING || c->st == C_TLS) && t > c->deadline)
            conn_fail(c, E_TIMEOUT);
    }
}

static void hold_open_more(worker *w)
{
    while (w->next_start < w->nconns && w->connecting < CONNECTING_MAX) {
        conn *c = &w->conns[w->next_start++];
        w->connecting++;
        conn_start(c);
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    bench *b = w->b;
    struct epoll_event evs[MAX_EVENTS];
    uint64_t last_check = now_ns();

    if (b->o.rate > 0) {
        w->interval = (uint64_t)(1e9 * (double)b->o.threads / b->o.rate);
        if (w->interval == 0)
            w->interval = 1;
        /* threads start a fraction of an interval apart */
        w->next_due = b->t_begin + w->interval * (uint64_t)w->id / b->o.threads;
    }
    if (b->o.hold > 0)
        hold_open_more(w);
    else
        for (size_t i = 0; i < w->nconns; i++)
            conn_start(&w->conns[i]);

    while (!atomic_load(&b->stop)) {
        uint64_t t = now_ns();
        if (t >= b->t_end && b->o.hold <= 0) {
            atomic_store(&b->stop, true);
            break;
        }
        /* epoll_pwait2: a nanosecond timeout, so the open-loop schedule
         * needs no timer descriptor (two system calls less per request) */
        struct timespec tmo = wait_for(w, t);
        int n = epoll_pwait2(w->ep, evs, MAX_EVENTS, &tmo, NULL);
        if (n < 0 && errno == ENOSYS) /* kernels before 5.11: millisecond steps */
            n = epoll_wait(w->ep, evs, MAX_EVENTS,
                           (int)(tmo.tv_sec * 1000 + (tmo.tv_nsec + 999999) / 1000000));
        for (int i = 0; i < n; i++)
            on_event(evs[i].data.ptr, evs[i].events);
        t = now_ns();
        if (b->o.rate > 0)
            dispatch(w, t);
        if (b->o.hold > 0)
            hold_open_more(w);
        if (t - last_check > 100000000u) {
            check_timeouts(w, t);
            last_check = t;
        }
    }
    return NULL;
}

/* ---- Attest Bases for trt (blocking, before the load) ---- */

static int connect_blocking(const bench *b)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct timeval tv = {10, 0};
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (const struct sockaddr *)&b->addr, sizeof(b->addr)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One AtHS on fd (cleartext). */
static httpa_err handshake_on(bench *b, int fd, httpa_client_base **out)
{
    httpa_msg req, resp;
    httpa_buf wire, in;
    httpa_client_hs *hs = NULL;
    resp_head rh;
    int64_t now = (int64_t)time(NULL);
    long hl = 0;
    httpa_msg_init_request(&req);
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&wire, 1 << 20);
    httpa_buf_init(&in, IN_MAX);
    httpa_err e = httpa_client_hs_start(&b->ccfg, now, &req, &hs);
    if (e == HTTPA_OK && httpa_msg_find(&req, "host", 4) == NULL)
        e = httpa_msg_add_str(&req, "Host", b->o.authority);
    if (e == HTTPA_OK)
        e = put_msg(&wire, &req, false);
    for (size_t off = 0; e == HTTPA_OK && off < wire.len;) {
        ssize_t w = write(fd, wire.base + off, wire.len - off);
        if (w <= 0)
            e = HTTPA_ERR_NETWORK;
        else
            off += (size_t)w;
    }
    for (int rounds = 0; e == HTTPA_OK && rounds < 100000; rounds++) {
        if (hl == 0) {
            httpa_msg_free(&resp);
            hl = parse_head(in.base, in.len, &rh, &resp);
        }
        if (hl < 0 || (hl > 0 && !rh.has_len)) {
            e = HTTPA_ERR_NETWORK;
            break;
        }
        if (hl > 0 && in.len >= (size_t)hl + rh.len)
            break;
        uint8_t *where;
        if (httpa_buf_reserve(&in, 65536) != HTTPA_OK) {
            e = HTTPA_ERR_NETWORK;
            break;
        }
        where = in.base + in.len;
        ssize_t r = read(fd, where, in.cap - in.len);
        if (r <= 0)
            e = HTTPA_ERR_NETWORK;
        else
            in.len += (size_t)r;
    }
    if (e == HTTPA_OK)
        e = httpa_client_hs_finish(hs, &resp, HTTPA_SPAN(in.base + hl, (size_t)rh.len), now, out);
    httpa_client_hs_free(hs);
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&wire);
    httpa_buf_free(&in);
    return e;
}

static void make_bases(bench *b)
{
    b->bases = calloc(b->o.bases, sizeof(*b->bases));
    int fd = connect_blocking(b);
    if (b->bases == NULL || fd < 0) {
        fprintf(stderr, "httpa-bench: cannot connect to %s\n", b->o.url);
        exit(1);
    }
    for (uint64_t i = 0; i < b->o.bases; i++) {
        httpa_err e = handshake_on(b, fd, &b->bases[i]);
        if (e != HTTPA_OK)
            fatal_http("Attest handshake", e);
    }
    close(fd);
}

/* ---- options ---- */

static void usage(FILE *f)
{
    fputs(
"NAME\n"
"    httpa-bench - HTTP/1.1 load generator for HTTPA/2 gateways and plain HTTP servers\n"
"\n"
"SYNOPSIS\n"
"    httpa-bench plain|trt|aths [OPTIONS] URL\n"
"\n"
"DESCRIPTION\n"
"    Opens --connections keep-alive HTTP/1.1 connections to URL (loopback;\n"
"    http:// or, in plain and aths modes, https://) and sends requests for\n"
"    --duration seconds after --warmup seconds, or until --requests answers.\n"
"    Each connection has one request outstanding at a time. Reports requests\n"
"    per second, latency percentiles (p50, p90, p99, p99.9, max), transfer\n"
"    rates and errors; --json prints one JSON object instead.\n"
"\n"
"    plain  plain HTTP requests, the same bytes every time (a baseline).\n"
"    trt    HTTPA/2 Trusted Transactions. At start the tool runs --bases\n"
"           Attest Handshakes (verifying the simulated evidence with\n"
"           --sim-pubkey); the connections share them round robin. Each request\n"
"           is protected (httpa_client_protect), its body sealed\n"
"           (httpa_client_txn_seal), the answer's binder verified\n"
"           (httpa_client_txn_response) and its records opened\n"
"           (httpa_client_txn_body); any failure counts as a protocol error.\n"
"    aths   one Attest Handshake per request (attested-key mode): build the\n"
"           offer, send ATTEST, verify evidence, signature, keys and binder\n"
"           (httpa_client_hs_finish). Requests per second = handshakes per\n"
"           second. The evidence check is cached per evidence value, as profile\n"
"           7.2 allows (the engine still checks report_data and verifies the\n"
"           Attest-Signature every time); --no-evidence-cache disables that.\n"
"\n"
"    Closed loop by default: a connection sends its next request as soon as\n"
"    the previous answer is complete. With --rate the load is open loop: each\n"
"    thread issues requests on a fixed schedule to an idle connection, and\n"
"    latency is measured from the scheduled time, so queueing in front of a\n"
"    saturated server counts (no coordinated omission). Latencies are kept in\n"
"    a log-linear histogram (relative error below 0.8 %).\n"
"\n"
"OPTIONS\n"
"    -c, --connections N   concurrent connections (default 16)\n"
"    -t, --threads N       event-loop threads; connections are split (default 1)\n"
"    -d, --duration S      measured seconds (default 10); with --requests, a time limit\n"
"    -n, --requests N      stop after N measured answers (default: no limit)\n"
"    -w, --warmup S        seconds of load before measuring (default 1; 0 with -n)\n"
"    -b, --body N          request body octets (POST unless --method; default 0: GET).\n"
"                          Bodies above 1 MiB are produced (and sealed) in 1 MiB pieces\n"
"    -m, --method M        request method\n"
"    -H, --header 'N: V'   extra request field (repeatable, at most 16)\n"
"    -B, --bases K         trt: Attest Bases shared by the connections (default 1);\n"
"                          with K >= threads each thread uses K/threads of its own\n"
"    -r, --rate R          open loop at R requests/s in total\n"
"        --close           one request per connection (Connection: close); latency\n"
"                          then includes connect and, with https://, a full TLS\n"
"                          handshake (no session resumption: tickets and the\n"
"                          session cache are off in the client)\n"
"        --sim-pubkey HEX|FILE  simulated-TEE attestation public key (64 hex digits,\n"
"                          or a file holding them, e.g. httpa-gateway --sim-pubkey-out)\n"
"        --record-size N   trt: request record size RS (default 16384)\n"
"        --timeout S       per request (default 10); a timeout is an error\n"
"        --hold S          each connection sends one request, then stays open and\n"
"                          idle; when all have answered, write --ready-file and\n"
"                          wait S seconds (memory per idle connection)\n"
"        --ready-file F    see --hold\n"
"        --no-evidence-cache  aths: appraise the evidence on every handshake\n"
"        --json            one JSON object on stdout\n"
"    -h, --help            this text\n"
"\n"
"OUTPUT\n"
"    requests/s counts answers completed inside the measured window with a\n"
"    2xx status and, for trt and aths, everything verified. Errors, by kind:\n"
"    connect, io, timeout, status (not 2xx), protocol (parse or verification).\n"
"    With https:// the TLS client does not verify the server certificate\n"
"    (benchmarks use self-signed ones) but completes full TLS 1.3 handshakes.\n"
"\n"
"EXIT STATUS\n"
"    0 the run completed (errors are reported, not fatal); 1 setup failed\n"
"    (cannot connect, handshake rejected); 2 usage error.\n"
"\n"
"EXAMPLES\n"
"    httpa-bench plain -c 64 -d 10 -b 1024 http://127.0.0.1:8080/\n"
"    httpa-bench trt -c 64 -B 4 -b 1024 --sim-pubkey sim.pub http://127.0.0.1:8443/\n"
"    httpa-bench aths -c 16 -n 100000 --sim-pubkey sim.pub http://127.0.0.1:8443/\n"
"    httpa-bench plain --close -c 16 https://127.0.0.1:8444/\n"
"    httpa-bench trt --rate 5000 -c 64 -b 1024 --sim-pubkey sim.pub http://127.0.0.1:8443/\n",
        f);
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_secs(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*end != '\0' || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

static bool parse_hex32(const char *hex, uint8_t out[32])
{
    for (size_t i = 0; i < 32; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + (size_t)k];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0)
                return false;
            v = v * 16 + (unsigned)d;
        }
        out[i] = (uint8_t)v;
    }
    return hex[64] == '\0' || hex[64] == '\n';
}

static bool load_pub(const char *arg, uint8_t out[32])
{
    char buf[80] = {0};
    if (strlen(arg) == 64)
        return parse_hex32(arg, out);
    FILE *f = fopen(arg, "r");
    if (f == NULL)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n >= 64 && parse_hex32(buf, out);
}

/* http://127.0.0.1:PORT/path or https://... (IPv4 loopback only). */
static bool parse_url(opts *o)
{
    const char *u = o->url, *rest;
    if (strncmp(u, "http://", 7) == 0) {
        rest = u + 7;
    } else if (strncmp(u, "https://", 8) == 0) {
        rest = u + 8;
        o->tls = true;
    } else {
        return false;
    }
    const char *colon = strchr(rest, ':'), *slash = strchr(rest, '/');
    if (colon == NULL || (slash != NULL && slash < colon) || (size_t)(colon - rest) >= sizeof(o->host))
        return false;
    memcpy(o->host, rest, (size_t)(colon - rest));
    o->host[colon - rest] = '\0';
    if (strcmp(o->host, "localhost") == 0)
        strcpy(o->host, "127.0.0.1");
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (port < 1 || port > 65535 || (*end != '\0' && *end != '/'))
        return false;
    o->port = (int)port;
    snprintf(o->path, sizeof(o->path), "%s", *end == '/' ? end : "/");
    snprintf(o->authority, sizeof(o->authority), "%s:%d", o->host, o->port);
    return true;
}

static int parse_args(opts *o, int argc, char **argv)
{
    enum { O_SIM = 256, O_RS, O_TIMEOUT, O_HOLD, O_READY, O_NOCACHE, O_JSON, O_CLOSE };
    static const struct option lo[] = {
        {"connections", required_argument, NULL, 'c'}, {"threads", required_argument, NULL, 't'},
        {"duration", required_argument, NULL, 'd'},    {"requests", required_argument, NULL, 'n'},
        {"warmup", required_argument, NULL, 'w'},      {"body", required_argument, NULL, 'b'},
        {"method", required_argument, NULL, 'm'},      {"header", required_argument, NULL, 'H'},
        {"bases", required_argument, NULL, 'B'},       {"rate", required_argument, NULL, 'r'},
        {"close", no_argument, NULL, O_CLOSE},         {"sim-pubkey", required_argument, NULL, O_SIM},
        {"record-size", required_argument, NULL, O_RS}, {"timeout", required_argument, NULL, O_TIMEOUT},
        {"hold", required_argument, NULL, O_HOLD},     {"ready-file", required_argument, NULL, O_READY},
        {"no-evidence-cache", no_argument, NULL, O_NOCACHE}, {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},              {NULL, 0, NULL, 0}};
    uint64_t v = 0;
    int c;
    bool ok = true;

    memset(o, 0, sizeof(*o));
    o->connections = 16;
    o->threads = 1;
    o->duration = 10;
    o->warmup = 1;
    o->bases = 1;
    o->timeout = 10;
    o->evidence_cache = true;
    while (ok && (c = getopt_long(argc, argv, "c:t:d:n:w:b:m:H:B:r:h", lo, NULL)) != -1) {
        switch (c) {
        case 'c': ok = parse_u64(optarg, 1, MAX_CONNECTIONS, &o->connections); break;
        case 't': ok = parse_u64(optarg, 1, MAX_THREADS, &o->threads); break;
        case 'd': ok = parse_secs(optarg, 0.01, 86400, &o->duration); break;
        case 'n': ok = parse_u64(optarg, 1, UINT64_MAX / 2, &o->requests); break;
        case 'w': ok = parse_secs(optarg, 0, 3600, &o->warmup); o->warmup_set = true; break;
        case 'b': ok = parse_u64(optarg, 0, (uint64_t)1 << 40, &o->body); break;
        case 'm': o->method = optarg; ok = strpbrk(optarg, " \r\n") == NULL && optarg[0] != '\0'; break;
        case 'H':
            ok = o->nheaders < MAX_EXTRA_HEADERS && strchr(optarg, ':') != NULL &&
                 strchr(optarg, ':') != optarg && strpbrk(optarg, "\r\n") == NULL;
            if (ok)
                o->headers[o->nheaders++] = optarg;
            break;
        case 'B': ok = parse_u64(optarg, 1, MAX_BASES, &o->bases); break;
        case 'r': ok = parse_secs(optarg, 0.001, 1e8, &o->rate); break;
        case O_CLOSE: o->close = true; break;
        case O_SIM: ok = load_pub(optarg, o->sim_pub); o->has_pub = ok; break;
        case O_RS:
            ok = parse_u64(optarg, 1024, 65536, &v);
            o->record_size = (uint32_t)v;
            break;
        case O_TIMEOUT: ok = parse_secs(optarg, 0.001, 3600, &o->timeout); break;
        case O_HOLD: ok = parse_secs(optarg, 0.001, 86400, &o->hold); break;
        case O_READY: o->ready_file = optarg; break;
        case O_NOCACHE: o->evidence_cache = false; break;
        case O_JSON: o->json = true; break;
        case 'h': usage(stdout); exit(0);
        default: ok = false; break;
        }
        if (!ok && c != '?')
            fprintf(stderr, "httpa-bench: invalid value for -%c/--%s: %s\n", c < 256 ? c : '-',
                    c < 256 ? "" : "option", optarg != NULL ? optarg : "");
    }
    if (!ok)
        return EXIT_USAGE;
    if (argc - optind != 2) {
        fprintf(stderr, "httpa-bench: expected a mode (plain, trt, aths) and a URL\n");
        return EXIT_USAGE;
    }
    const char *mode = argv[optind];
    int m = strcmp(mode, "plain") == 0 ? MODE_PLAIN : strcmp(mode, "trt") == 0 ? MODE_TRT
            : strcmp(mode, "aths") == 0 ? MODE_ATHS : -1;
    o->mode = (bench_mode)m;
    if (m < 0) {
        fprintf(stderr, "httpa-bench: unknown mode \"%s\" (plain, trt, aths)\n", mode);
        return EXIT_USAGE;
    }
    o->url = argv[optind + 1];
    if (!parse_url(o)) {
        fprintf(stderr, "httpa-bench: the URL must be http://127.x.y.z:PORT/path or https://...\n");
        return EXIT_USAGE;
    }
    struct in_addr a;
    if (inet_pton(AF_INET, o->host, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127) {
        fprintf(stderr, "httpa-bench: loopback addresses only (127.0.0.0/8)\n");
        return EXIT_USAGE;
    }
    if (o->mode != MODE_PLAIN && !o->has_pub) {
        fprintf(stderr, "httpa-bench: %s needs --sim-pubkey (the gateway's --sim-pubkey-out)\n", mode);
        return EXIT_USAGE;
    }
    if (o->tls && o->mode == MODE_TRT) {
        fprintf(stderr, "httpa-bench: trt runs over http:// only\n");
        return EXIT_USAGE;
    }
    if (o->threads > o->connections)
        o->threads = o->connections;
    if ((o->rate > 0 && (o->close || o->hold > 0)) || (o->hold > 0 && o->close)) {
        fprintf(stderr, "httpa-bench: --rate, --hold and --close do not combine\n");
        return EXIT_USAGE;
    }
    if (o->requests != 0 && !o->warmup_set)
        o->warmup = 0;
    if (o->hold > 0)
        o->warmup = 0;
    return 0;
}

/* ---- report ---- */

typedef struct totals {
    hist h;
    uint64_t requests, bytes_in, bytes_out, handshakes, errors[E_KINDS], backlog_max;
    double seconds;
} totals;

static void report(const bench *b, const totals *t)
{
    const opts *o = &b->o;
    static const char *const modes[] = {"plain", "trt", "aths"};
    double rps = t->seconds > 0 ? (double)t->requests / t->seconds : 0;
    uint64_t nerr = 0;
    for (int k = 0; k < E_KINDS; k++)
        nerr += t->errors[k];
    const double q[] = {0.5, 0.9, 0.99, 0.999};
    const char *qn[] = {"p50", "p90", "p99", "p99.9"};
    if (o->json) {
        json_t *j = json_object(), *lat = json_object(), *err = json_object();
        json_object_set_new(j, "mode", json_string(modes[o->mode]));
        json_object_set_new(j, "url", json_string(o->url));
        json_object_set_new(j, "connections", json_integer((json_int_t)o->connections));
        json_object_set_new(j, "threads", json_integer((json_int_t)o->threads));
        json_object_set_new(j, "body", json_integer((json_int_t)o->body));
        json_object_set_new(j, "bases", json_integer((json_int_t)(o->mode == MODE_TRT ? o->bases : 0)));
        json_object_set_new(j, "rate", json_real(o->rate));
        json_object_set_new(j, "close", json_boolean(o->close));
        json_object_set_new(j, "tls", json_boolean(o->tls));
        json_object_set_new(j, "seconds", json_real(t->seconds));
        json_object_set_new(j, "requests", json_integer((json_int_t)t->requests));
        json_object_set_new(j, "rps", json_real(rps));
        json_object_set_new(j, "bytes_in", json_integer((json_int_t)t->bytes_in));
        json_object_set_new(j, "bytes_out", json_integer((json_int_t)t->bytes_out));
        json_object_set_new(j, "mb_in_per_s", json_real(t->seconds > 0 ? (double)t->bytes_in / t->seconds / 1e6 : 0));
        json_object_set_new(j, "mb_out_per_s", json_real(t->seconds > 0 ? (double)t->bytes_out / t->seconds / 1e6 : 0));
        json_object_set_new(j, "tls_handshakes", json_integer((json_int_t)t->handshakes));
        json_object_set_new(j, "backlog_max", json_integer((json_int_t)t->backlog_max));
        for (size_t i = 0; i < 4; i++)
            json_object_set_new(lat, qn[i], json_real((double)h_quantile(&t->h, q[i]) / 1e3));
        json_object_set_new(lat, "max", json_real((double)t->h.max / 1e3));
        json_object_set_new(lat, "min", json_real((double)t->h.min / 1e3));
        json_object_set_new(lat, "mean", json_real(t->h.n ? t->h.sum / (double)t->h.n / 1e3 : 0));
        json_object_set_new(j, "latency_us", lat);
        for (int k = 0; k < E_KINDS; k++)
            json_object_set_new(err, err_names[k], json_integer((json_int_t)t->errors[k]));
        json_object_set_new(err, "total", json_integer((json_int_t)nerr));
        json_object_set_new(j, "errors", err);
        char *s = json_dumps(j, JSON_COMPACT);
        if (s != NULL)
            puts(s);
        free(s);
        json_decref(j);
        return;
    }
    printf("httpa-bench %s %s\n", modes[o->mode], o->url);
    printf("  %" PRIu64 " connections, %" PRIu64 " threads, body %" PRIu64 " octets", o->connections,
           o->threads, o->body);
    if (o->mode == MODE_TRT)
        printf(", %" PRIu64 " Attest Bases", o->bases);
    if (o->rate > 0)
        printf(", open loop at %.0f req/s", o->rate);
    printf(", %.2f s measured\n", t->seconds);
    printf("  requests   %" PRIu64 "   %.1f req/s\n", t->requests, rps);
    printf("  latency   ");
    for (size_t i = 0; i < 4; i++)
        printf(" %s %.1f us ", qn[i], (double)h_quantile(&t->h, q[i]) / 1e3);
    printf(" max %.1f us  mean %.1f us\n", (double)t->h.max / 1e3,
           t->h.n ? t->h.sum / (double)t->h.n / 1e3 : 0.0);
    printf("  transfer   in %.1f MB/s  out %.1f MB/s (body octets%s)\n",
           t->seconds > 0 ? (double)t->bytes_in / t->seconds / 1e6 : 0.0,
           t->seconds > 0 ? (double)t->bytes_out / t->seconds / 1e6 : 0.0,
           o->mode == MODE_TRT ? ", plaintext" : "");
    if (o->tls)
        printf("  tls        %" PRIu64 " full handshakes\n", t->handshakes);
    if (o->rate > 0)
        printf("  backlog    at most %" PRIu64 " requests overdue at once\n", t->backlog_max);
    printf("  errors     %" PRIu64 " (", nerr);
    for (int k = 0; k < E_KINDS; k++)
        printf("%s%s %" PRIu64, k ? ", " : "", err_names[k], t->errors[k]);
    printf(")\n");
}

/* ---- main ---- */

static void setup(bench *b)
{
    opts *o = &b->o;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < o->connections + 64) {
        fprintf(stderr, "httpa-bench: %" PRIu64 " connections need more open files (ulimit -n)\n",
                o->connections);
        exit(EXIT_USAGE);
    }
    b->addr.sin_family = AF_INET;
    b->addr.sin_port = htons((uint16_t)o->port);
    inet_pton(AF_INET, o->host, &b->addr.sin_addr);

    b->pattern_len = o->body != 0 && o->body < PIECE ? (size_t)o->body : PIECE;
    b->pattern = malloc(b->pattern_len);
    if (b->pattern == NULL)
        exit(1);
    for (size_t i = 0; i < b->pattern_len; i++)
        b->pattern[i] = (uint8_t)('A' + i % 26);

    if (o->tls) {
        b->ssl_ctx = SSL_CTX_new(TLS_client_method());
        if (b->ssl_ctx == NULL || SSL_CTX_set_min_proto_version(b->ssl_ctx, TLS1_3_VERSION) != 1) {
            fprintf(stderr, "httpa-bench: cannot set up TLS 1.3\n");
            exit(1);
        }
        SSL_CTX_set_verify(b->ssl_ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_session_cache_mode(b->ssl_ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(b->ssl_ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_mode(b->ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                         SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
    if (o->mode != MODE_PLAIN) {
        httpa_sim_verifier_init(&b->simv, o->sim_pub);
        httpa_verifier *v = &b->simv.base;
        if (o->evidence_cache) {
            b->cache.base.appraise = cache_appraise;
            b->cache.inner = v;
            pthread_mutex_init(&b->cache.mu, NULL);
            v = &b->cache.base;
        }
        b->ccfg = (httpa_client_config){.verifier = v, .allow_sim = true};
        if (o->record_size != 0) {
            b->ccfg.limits = httpa_limits_default();
            b->ccfg.limits.record_size = o->record_size;
        }
    }
    if (o->mode == MODE_PLAIN)
        build_plain_request(b);
    if (o->mode == MODE_TRT)
        make_bases(b);
}

static void setup_workers(bench *b)
{
    const opts *o = &b->o;
    size_t per = (size_t)(o->connections / o->threads), extra = (size_t)(o->connections % o->threads);
    size_t g = 0;
    for (uint64_t i = 0; i < o->threads; i++) {
        worker *w = &b->w[i];
        w->b = b;
        w->id = (int)i;
        w->nconns = per + (i < extra ? 1 : 0);
        w->conns = calloc(w->nconns, sizeof(conn));
        w->idle = calloc(w->nconns, sizeof(conn *));
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->conns == NULL || w->idle == NULL || w->ep < 0) {
            fprintf(stderr, "httpa-bench: out of memory or descriptors\n");
            exit(1);
        }
        for (size_t k = 0; k < w->nconns; k++) {
            conn *c = &w->conns[k];
            c->w = w;
            c->gidx = g++;
            /* With at least one base per thread, each thread has bases of
             * its own: a thread that lags (descheduled) then cannot push
             * another thread's sequence numbers past the server's replay
             * window of 128. Otherwise bases are shared round robin. */
            size_t bpt = (size_t)(o->bases / o->threads);
            c->base = bpt != 0 ? (size_t)i * bpt + k % bpt : c->gidx % (size_t)o->bases;
            c->fd = -1;
            c->in_cap = IN_START;
            c->in = malloc(c->in_cap);
            if (c->in == NULL)
                exit(1);
            httpa_buf_init(&c->out, SIZE_MAX);
            httpa_buf_init(&c->hs_body, IN_MAX);
            httpa_buf_init(&c->plain, SIZE_MAX);
        }
    }
}

static void write_ready(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fputs("ready\n", f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
        fprintf(stderr, "httpa-bench: cannot write %s\n", path);
}

/* --hold: wait until every connection answered once, then hold. */
static void hold_phase(bench *b)
{
    uint64_t limit = now_ns() + (uint64_t)(b->o.timeout * 1e9) + 600000000000u;
    while (atomic_load(&b->held_total) < b->o.connections && now_ns() < limit)
        nanosleep(&(struct timespec){0, 20000000}, NULL);
    if (b->o.ready_file != NULL)
        write_ready(b->o.ready_file);
    double s = b->o.hold;
    time_t whole = (time_t)s;
    nanosleep(&(struct timespec){whole, (long)((s - (double)whole) * 1e9)}, NULL);
}

int main(int argc, char **argv)
{
    bench *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return 1;
    int rc = parse_args(&b->o, argc, argv);
    if (rc != 0) {
        fprintf(stderr, "Try 'httpa-bench --help'.\n");
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);
    setup(b);
    setup_workers(b);

    b->t_begin = now_ns();
    b->t_measure = b->t_begin + (uint64_t)(b->o.warmup * 1e9);
    b->t_end = b->t_measure + (uint64_t)(b->o.duration * 1e9);
    if (b->o.hold > 0)
        b->t_end = UINT64_MAX / 2;
    for (uint64_t i = 0; i < b->o.threads; i++)
        if (pthread_create(&b->w[i].tid, NULL, worker_main, &b->w[i]) != 0) {
            fprintf(stderr, "httpa-bench: cannot start a thread\n");
            return 1;
        }
    if (b->o.hold > 0) {
        hold_phase(b);
        atomic_store(&b->stop, true);
    }
    for (uint64_t i = 0; i < b->o.threads; i++)
        pthread_join(b->w[i].tid, NULL);
    uint64_t t_stop = now_ns();

    totals t;
    memset(&t, 0, sizeof(t));
    for (uint64_t i = 0; i < b->o.threads; i++) {
        worker *w = &b->w[i];
        h_merge(&t.h, &w->h);
        t.requests += w->requests;
        t.bytes_in += w->bytes_in;
        t.bytes_out += w->bytes_out;
        t.handshakes += w->handshakes;
        if (w->backlog_max > t.backlog_max)
            t.backlog_max = w->backlog_max;
        for (int k = 0; k < E_KINDS; k++)
            t.errors[k] += w->errors[k];
    }
    /* count mode: up to the last answer; otherwise the window */
    uint64_t end = b->o.requests != 0 && t.requests >= b->o.requests ? atomic_load(&b->last_done)
                   : t_stop < b->t_end ? t_stop : b->t_end;
    if (b->o.hold > 0)
        end = t_stop;
    t.seconds = end > b->t_measure ? (double)(end - b->t_measure) / 1e9 : 0;
    report(b, &t);

    for (uint64_t i = 0; i < b->o.threads; i++) {
        worker *w = &b->w[i];
        for (size_t k = 0; k < w->nconns; k++) {
            conn_close(&w->conns[k]);
            free(w->conns[k].in);
            httpa_buf_free(&w->conns[k].out);
            httpa_buf_free(&w->conns[k].hs_body);
            httpa_buf_free(&w->conns[k].plain);
        }
        free(w->conns);
        free(w->idle);
        close(w->ep);
    }
    for (uint64_t i = 0; b->bases != NULL && i < b->o.bases; i++)
        httpa_client_base_release(b->bases[i]);
    free(b->bases);
    free(b->pattern);
    free(b->plain_req);
    SSL_CTX_free(b->ssl_ctx);
    if (b->o.evidence_cache && b->o.mode != MODE_PLAIN)
        pthread_mutex_destroy(&b->cache.mu);
    free(b);
    return 0;
}
