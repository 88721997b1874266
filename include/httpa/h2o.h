/* The HTTPA/2 terminator for h2o 2.2 (libh2o-evloop): a handler that
 * answers Preflight, AtHS, AtSP and TrT requests through the engine
 * (server.h) and hands each verified, restored request either to an
 * in-process application callback or to a loopback upstream HTTP/1.1
 * application, protecting the answer on its way back.
 *
 * Threads: register once on the global configuration, before the event
 * loops start; every h2o context (one per loop thread) then gets its own
 * upstream connection pool. The httpa_server is shared by all of them.
 *
 * h2o 2.2 buffers a whole request body before a handler sees it (it has no
 * request streaming); the adapter therefore verifies every record of a
 * request before anything reaches the application, and streams responses
 * record by record with back-pressure. Memory per request is bounded by
 * max_body (the wire body in h2o plus the verified plaintext).
 *
 * Logging: one JSON object per request and line (method, outer target,
 * status, Attest-Base-ID, sizes, duration, transaction kind, error token).
 * Header values other than the Base-ID, bodies and secrets are never
 * logged. */
#ifndef HTTPA_H2O_H
#define HTTPA_H2O_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "httpa/msg.h"
#include "httpa/server.h"

#ifdef __cplusplus
extern "C" {
#endif

struct st_h2o_pathconf_t; /* h2o_pathconf_t of <h2o.h> */

/* One request being answered; valid during the handler callback. */
typedef struct httpa_h2o_exchange httpa_h2o_exchange;

/* What the application receives: a verified request, restored (profile
 * 9.4), or with `passthrough` an unprotected one (kind HTTPA_TXN_PLAIN). */
typedef struct httpa_h2o_request {
    httpa_txn_kind kind;        /* HTTPA_TXN_TRT, HTTPA_TXN_ATSP or HTTPA_TXN_PLAIN */
    const httpa_msg *msg;       /* method, target, fields; `sealed` marks the
                                   confidential and authenticated ones */
    httpa_span body;            /* the whole body, every record verified */
    const char *base_id;        /* the Attest Base; NULL for PLAIN */
    size_t nsecrets;            /* AtSP: the provisioned secrets */
    const char *const *secret_names;
    const httpa_span *secret_values;
} httpa_h2o_request;

/* The in-process application. It must answer with httpa_h2o_respond before
 * it returns; if it does not, the client gets an authenticated `internal`
 * error. Runs on the event loop thread: do not block. */
typedef void (*httpa_h2o_handler)(void *arg, httpa_h2o_exchange *x, const httpa_h2o_request *r);

typedef struct httpa_h2o_config {
    httpa_h2o_handler handler;  /* in-process application, or NULL: ... */
    void *handler_arg;
    const char *upstream;       /* ... forward to "http://127.0.0.1:PORT", "http://[::1]:PORT"
                                   or "unix:/PATH" (loopback only: plaintext stays in the TEE) */
    const char *secrets_path;   /* upstream target that receives AtSP secrets as
                                   {"base_id":..,"secrets":{name: base64}};
                                   NULL: "/.httpa/secrets" */
    bool passthrough;           /* non-HTTPA requests go to the application unprotected;
                                   false: 403 policy_violation (profile 3.3) */
    bool refuse_attest;         /* answer Preflights with 405 (ATTEST not allowed here) */
    FILE *access_log;           /* JSON lines; NULL: none */
    uint64_t max_body;          /* plaintext of one request body; 0: 16 MiB */
    size_t max_header_bytes;    /* names and values of one request; 0: 131072 */
    uint64_t upstream_timeout_ms; /* connect, write and each read; 0: 30000 */
    size_t upstream_idle;       /* idle keep-alive connections per thread; 0: 16 */
} httpa_h2o_config;

/* Add the HTTPA/2 handler to `path` (usually the "/" of a host). The
 * strings of `cfg` are copied; `srv` must outlive the configuration.
 * HTTPA_ERR_INVALID_ARG when neither handler nor a valid loopback upstream
 * is given (see httpa_h2o_upstream_check). */
httpa_err httpa_h2o_register(struct st_h2o_pathconf_t *path, httpa_server *srv,
                             const httpa_h2o_config *cfg) HTTPA_MUST_USE;

/* Check an upstream URL as httpa_h2o_register does: HTTPA_OK, or
 * HTTPA_ERR_INVALID_ARG with a sentence in *why. */
httpa_err httpa_h2o_upstream_check(const char *url, const char **why) HTTPA_MUST_USE;

/* Answer the request: status and fields in `resp` (the adapter protects
 * them in place for AtSP/TrT, so it is modified), and the whole body. For
 * HEAD requests and 204/304 answers the body must be empty. Call once. */
httpa_err httpa_h2o_respond(httpa_h2o_exchange *x, httpa_msg *resp,
                            httpa_span body) HTTPA_MUST_USE;

#ifdef __cplusplus
}
#endif
#endif
