/* The server side of HTTPA/2 (the HTTPA terminator inside the TEE), free of
 * I/O. The application hands in requests (start line, fields, body octets)
 * and gets back what to send. One httpa_server is shared by every thread:
 * its Attest-Base store and replay cache are internally locked. */
#ifndef HTTPA_SERVER_H
#define HTTPA_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "httpa/attest.h"
#include "httpa/crypto.h"
#include "httpa/limits.h"
#include "httpa/msg.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct httpa_server httpa_server;
typedef struct httpa_server_txn httpa_server_txn;

typedef struct httpa_server_config {
    httpa_limits limits;                /* httpa_limits_default() if zeroed */
    httpa_attester *attester;           /* evidence for fresh mode; NULL: fresh mode refused */
    httpa_verifier *client_verifier;    /* mutual mode; NULL: client evidence ignored */
    bool require_client_attestation;    /* policy_violation without client evidence */
    uint32_t expires;                   /* Attest-Expires, seconds; default 3600 */
    httpa_rng *rng;                     /* NULL: OpenSSL CSPRNG */
    /* Secret validation for AtSP (the draft's validateSecrets); NULL accepts.
     * Return false to answer 422 policy_violation and provision nothing. */
    bool (*validate_secrets)(void *arg, const char *const *names, const httpa_span *values,
                             size_t n);
    void *validate_arg;
    /* Cipher suites in preference order, NULL-terminated; NULL:
     * TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384,
     * TLS_CHACHA20_POLY1305_SHA256 (profile 6.2.2 step 5). */
    const char *const *suites;
    /* Key-exchange groups in preference order, NULL-terminated; NULL:
     * x25519, secp256r1. Shares for any group the library implements are
     * still checked (profile 6.2.2 step 1). */
    const char *const *groups;
    /* The application's methods, listed after ATTEST in Preflight responses
     * (Allow, Access-Control-Allow-Methods); NULL: "GET, POST". */
    const char *methods;
    /* Optional secrets for the client in the AtHS response (Attest-Secrets
     * under the s_hs keys, profile 6.2.3), for example a key for a client TEE
     * in mutual mode. Called once per handshake at step 12; `client` is the
     * appraisal of the client's evidence, or NULL when the client is not
     * attested. Set *n (at most 254; 0: none) and point *names / *values at
     * arrays that stay valid until httpa_server_handshake returns. Any error
     * fails the handshake with `internal`. NULL: no secrets. */
    httpa_err (*aths_secrets)(void *arg, const httpa_appraisal *client, const char *const **names,
                              const httpa_span **values, size_t *n);
    void *aths_secrets_arg;
    /* Route tag (profile 15.4): with use_route_tag, the first octet of
     * every Base-ID this instance issues is route_tag, so a balancer can
     * route on the ID's first two hex digits. The ID stays a UUIDv4. */
    uint8_t route_tag;
    bool use_route_tag;
} httpa_server_config;

/* What kind of transaction a request is (profile 3.3). */
typedef enum httpa_txn_kind {
    HTTPA_TXN_PLAIN,     /* not HTTPA */
    HTTPA_TXN_PREFLIGHT, /* CORS preflight */
    HTTPA_TXN_ATHS,
    HTTPA_TXN_ATSP,
    HTTPA_TXN_TRT,
    HTTPA_TXN_UTR,       /* Base-ID without ticket */
    HTTPA_TXN_INVALID,   /* ticket without Base-ID, CONNECT with Base-ID */
} httpa_txn_kind;

httpa_err httpa_server_new(const httpa_server_config *cfg, httpa_server **out) HTTPA_MUST_USE;
void httpa_server_free(httpa_server *s);

/* An attested handshake signing key (profile 7.2) with its evidence; the
 * server takes ownership of `key`. The evidence entries are raw evidence
 * whose report_data binds (alg, pub, not_after), and optional stapled EAT. */
typedef struct httpa_key_evidence {
    const char *tee;     /* TEE token */
    const char *format;  /* "raw" or "eat" */
    httpa_span evidence;
} httpa_key_evidence;

httpa_err httpa_server_add_key(httpa_server *s, httpa_sig_alg alg, httpa_sign_key *key,
                               httpa_span pub, int64_t not_after,
                               const httpa_key_evidence *ev, size_t nev) HTTPA_MUST_USE;

/* report_data of an attested key: SHA-512("httpa2 attested key" 0 || ...). */
httpa_err httpa_attested_key_report_data(httpa_sig_alg alg, httpa_span pub, int64_t not_after,
                                         uint8_t out[HTTPA_REPORT_DATA_LEN]) HTTPA_MUST_USE;

httpa_txn_kind httpa_server_classify(const httpa_msg *req);

/* Preflight: fill a 204 response for an OPTIONS request that names ATTEST, or
 * a 405 refusal when `allowed` is false. */
httpa_err httpa_server_preflight(httpa_server *s, const httpa_msg *req, bool allowed,
                                 httpa_msg *resp, httpa_buf *body) HTTPA_MUST_USE;

/* AtHS (profile 6.2): answer an ATTEST request without Attest-Base-ID.
 * `body_len` is the request's content length (must be 0). On success `resp`
 * is the 200 response; on failure it is the error response (Attest-Error,
 * problem+json in `body`) and the error is returned. `now` is Unix seconds. */
httpa_err httpa_server_handshake(httpa_server *s, const httpa_msg *req, uint64_t body_len,
                                 int64_t now, httpa_msg *resp, httpa_buf *body) HTTPA_MUST_USE;

/* AtSP or TrT (profile 12.1 steps 1-11). On success the request is restored
 * in place (sealed target and fields back, Attest-* removed, `sealed` flags
 * set) and *txn is the transaction, to be finished with
 * httpa_server_txn_respond and freed. On failure `resp`/`body` hold the error
 * response (with a binder when the ticket had verified) and *txn is NULL.
 * `resp` must be an initialized message (its content is replaced); `body`
 * is reset.
 *
 * A UtR (Attest-Base-ID without Attest-Ticket, not ATTEST) on a base created
 * with allow-untrusted=?1 returns HTTPA_OK with *txn == NULL and the request
 * untouched: the caller serves it as an ordinary unprotected request, with
 * no access to AtB keys, secrets or attestation results (profile 6.5).
 * Without allow-untrusted it is answered with bad_ticket. */
httpa_err httpa_server_open(httpa_server *s, httpa_msg *req, int64_t now, httpa_server_txn **txn,
                            httpa_msg *resp, httpa_buf *body) HTTPA_MUST_USE;

/* The request body: feed wire octets, get verified plaintext (profile 9.2).
 * fin = the body ended. */
httpa_err httpa_server_txn_body(httpa_server_txn *t, httpa_span wire, bool fin,
                                httpa_buf *plain) HTTPA_MUST_USE;

/* AtSP: the provisioned secrets (names and values), valid until free. */
/* Mutual mode: the appraisal of the client's evidence from the handshake
 * of this transaction's Attest Base, or NULL when the client was not
 * attested; and the tee token of that evidence ("sim", "sgx", "tdx", ...).
 * Valid while the transaction lives. */
const httpa_appraisal *httpa_server_txn_client(const httpa_server_txn *t);
const char *httpa_server_txn_client_tee(const httpa_server_txn *t);

size_t httpa_server_txn_secrets(const httpa_server_txn *t, const char *const **names,
                                const httpa_span **values);

/* What an application response will look like, for the Cargo. */
typedef struct httpa_seal_opts {
    uint64_t content_length;         /* plaintext length, or UINT64_MAX: streamed */
    bool has_body;                   /* false: no content (HEAD, 204, 304) */
    const char *const *seal;         /* extra names to seal, NULL-terminated; may be NULL */
    bool hide_target;                /* requests: send POST /.well-known/httpa outside */
    const httpa_span *secret_values; /* AtSP request / response secrets */
    const char *const *secret_names;
    size_t nsecrets;
    bool terminate;                  /* requests: Attest-Base-Termination: cleanup */
    uint32_t record_size;            /* RS of this body (1024..65536); 0: limits.record_size */
} httpa_seal_opts;

/* Protect the application's response in place (status and fields in; the
 * protected response out: Cargo, secrets, binder, sealed fields moved in).
 * set-cookie is always sealed. Content-Type and Content-Encoding move into
 * the Cargo; Content-Length, Transfer-Encoding and Cache-Control are
 * replaced by Cache-Control: no-store, no-transform and the framing of the
 * records (Content-Length: wire length, Transfer-Encoding: chunked when
 * streamed, Content-Length: 0 without a body). Only once per transaction:
 * HTTPA_ERR_BAD_STATE afterwards. Interim (1xx) responses are not
 * protected: send them without calling this. */
httpa_err httpa_server_txn_respond(httpa_server_txn *t, httpa_msg *resp,
                                   const httpa_seal_opts *opts) HTTPA_MUST_USE;

/* Seal response body plaintext into records; fin on the last call. */
httpa_err httpa_server_txn_seal(httpa_server_txn *t, httpa_span plain, bool fin,
                                httpa_buf *wire) HTTPA_MUST_USE;

/* An authenticated HTTPA error after step 8 (for example a broken request
 * body): replaces `resp` with the error response, body sealed into `body`. */
httpa_err httpa_server_txn_error(httpa_server_txn *t, httpa_err err, const char *detail,
                                 httpa_msg *resp, httpa_buf *body) HTTPA_MUST_USE;

/* Ends the transaction; a terminating request's AtB is zeroized here. */
void httpa_server_txn_free(httpa_server_txn *t);

/* An unauthenticated error response (no binder): Attest-Error and problem+json. */
httpa_err httpa_error_response(httpa_err err, const char *detail, httpa_msg *resp,
                               httpa_buf *body) HTTPA_MUST_USE;

/* Drop expired Attest Bases; returns how many were removed. */
size_t httpa_server_sweep(httpa_server *s, int64_t now);

/* Number of live Attest Bases. */
size_t httpa_server_base_count(httpa_server *s);

#ifdef __cplusplus
}
#endif
#endif
