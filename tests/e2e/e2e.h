/* End-to-end test helpers: a tiny HTTP/1.1 upstream application running
 * in a thread of the test, the gateway process, raw sockets, and an HTTPA
 * client built from the engine's client API and libcurl easy handles.
 * Everything runs on 127.0.0.1 with ports the kernel picks. */
#ifndef HTTPA_TESTS_E2E_H
#define HTTPA_TESTS_E2E_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "httpa/client.h"
#include "httpa/sim.h"

/* ---- the upstream application ---- */

#define E2E_MAX_RECORDED 32

typedef struct e2e_upreq {
    char *head;     /* request line and fields as received (NUL-terminated) */
    uint8_t *body;
    size_t body_len;
} e2e_upreq;

typedef struct e2e_upstream {
    int fd;
    int port;
    pthread_t tid;
    atomic_bool stop;
    pthread_mutex_t mu;
    e2e_upreq reqs[E2E_MAX_RECORDED]; /* complete requests */
    size_t nreqs;
    size_t incomplete;                /* connections that ended mid-request */
    pthread_t conns[64];
    size_t nconns;
    /* behaviour, set before requests arrive */
    size_t resp_len;                  /* pattern octets in each response */
    bool chunked;                     /* Transfer-Encoding: chunked answers */
    int secrets_status;               /* status for the secrets path; 0: 200 */
    int delay_ms;                     /* wait before answering */
} e2e_upstream;

int e2e_upstream_start(e2e_upstream *u);
void e2e_upstream_stop(e2e_upstream *u);
size_t e2e_upstream_count(e2e_upstream *u);
/* A copy of request i (caller frees head and body), false if absent. */
bool e2e_upstream_get(e2e_upstream *u, size_t i, e2e_upreq *out);
/* Case-insensitive "name: value" line in a recorded head. */
bool e2e_head_has(const char *head, const char *name, const char *value);
/* The value of a field in a recorded head, copied into out; false if absent. */
bool e2e_head_value(const char *head, const char *name, char *out, size_t cap);

/* The deterministic content the upstream sends and the tests send. */
void e2e_pattern(uint8_t *p, size_t n, unsigned seed);

/* ---- the gateway process ---- */

typedef struct e2e_gw {
    pid_t pid;
    int port;
    char dir[64];      /* temporary directory: port file, log, key */
    uint8_t pub[32];   /* the sim attestation public key */
    bool tls;          /* clients use https:// */
} e2e_gw;

/* Start the gateway with --tee sim and a fixed seed in front of `upstream`
 * ("http://127.0.0.1:PORT"), plus `extra` (NULL-terminated, may be NULL). */
int e2e_gw_start(e2e_gw *g, const char *upstream, const char *const *extra);
/* Start examples/h2o-embed (the in-process application) the same way. */
int e2e_embed_start(e2e_gw *g);
/* SIGTERM, wait (at most 15 s, then SIGKILL); the exit status or -1. */
int e2e_gw_stop(e2e_gw *g);
bool e2e_gw_alive(e2e_gw *g);
/* Run the gateway binary with args and wait; the exit status. */
int e2e_gw_run(const char *const *args);
const char *e2e_gw_path(void);

/* ---- raw sockets ---- */

/* Connect, send, read what comes back within timeout_ms (until close or
 * the buffer is full). Returns octets read, or -1. */
ssize_t e2e_raw(int port, const void *req, size_t len, char *resp, size_t cap, int timeout_ms,
                bool close_early);

/* ---- the HTTPA client over libcurl ---- */

typedef struct e2e_resp {
    long status;
    long http_version; /* CURL_HTTP_VERSION_1_1 or CURL_HTTP_VERSION_2_0 */
    httpa_msg msg;
    httpa_buf body;
} e2e_resp;

void e2e_resp_init(e2e_resp *r);
void e2e_resp_free(e2e_resp *r);

typedef struct e2e_client {
    char url[64];      /* http://127.0.0.1:PORT */
    long version;      /* CURL_HTTP_VERSION_1_1 or CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE */
    httpa_sim_verifier verifier;
    httpa_client_base *base;
} e2e_client;

void e2e_client_init(e2e_client *c, const e2e_gw *g, long version);
void e2e_client_free(e2e_client *c);

/* Send a message and its body as they are; 0 or -1 (transport failure). */
int e2e_send(const e2e_client *c, const httpa_msg *req, httpa_span body, e2e_resp *out);

/* AtHS: HTTPA_OK with c->base set, or the error. */
httpa_err e2e_handshake(e2e_client *c);

/* Mutual mode: a fresh-mode AtHS presenting the evidence of the client TEE
 * `att` (NULL: none); the answer stays in `resp`. */
httpa_err e2e_mutual_handshake(e2e_client *c, httpa_attester *att, e2e_resp *resp);

/* How a test damages a protected request before it is sent. */
typedef void (*e2e_tamper)(httpa_msg *req, httpa_buf *wire, void *arg);

/* One protected exchange on c->base: protect `req` with `opts`, seal
 * `body`, optionally tamper, send; then verify and open the response into
 * out (msg restored, body plaintext). Returns the first error of
 * httpa_client_txn_response / _txn_body, or HTTPA_ERR_NETWORK; out->status
 * is set whenever a response came back. */
httpa_err e2e_protected(e2e_client *c, httpa_msg *req, httpa_span body,
                        const httpa_seal_opts *opts, e2e_tamper tamper, void *arg,
                        e2e_resp *out);

/* The Attest-Error token of a response, or "" */
const char *e2e_attest_error(const e2e_resp *r);

#endif
