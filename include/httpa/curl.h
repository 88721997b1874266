/* The HTTPA/2 client over libcurl: one call performs one HTTP request as a
 * Trusted Transaction, running the Preflight, the Attest Handshake and
 * Attest Secret Provisioning when they are needed.
 *
 * The client object caches one Attest Base per origin and may be shared by
 * any number of threads. It drives the I/O-free engine of client.h; this
 * header includes nothing from libcurl.
 *
 * Process set-up: call curl_global_init(CURL_GLOBAL_DEFAULT) once in main()
 * before creating a client, and curl_global_cleanup() after freeing the last
 * one. The library never calls them itself (no global state). */
#ifndef HTTPA_CURL_H
#define HTTPA_CURL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "httpa/client.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct httpa_curl_client httpa_curl_client;

/* What a failure means to the caller: where to look, and the exit code a
 * command gives it (docs/CLIENT.md). */
typedef enum httpa_curl_class {
    HTTPA_CURL_CLASS_NONE,        /* success */
    HTTPA_CURL_CLASS_LOCAL,       /* bad argument, out of memory, local I/O */
    HTTPA_CURL_CLASS_NETWORK,     /* connect, TLS, transfer, non-HTTPA intermediary */
    HTTPA_CURL_CLASS_ATTESTATION, /* bad_quote: evidence, signature, attested key */
    HTTPA_CURL_CLASS_POLICY,      /* policy_violation, local policy rejection */
    HTTPA_CURL_CLASS_PROTOCOL,    /* bad_ticket, bad_request, replay, tampering, ... */
} httpa_curl_class;

/* The class of an httpa_err as httpa_curl_request reports it. */
httpa_curl_class httpa_curl_err_class(httpa_err e);
/* "network", "attestation", ...; never NULL. */
const char *httpa_curl_class_name(httpa_curl_class k);

/* HTTP version towards the next hop. */
typedef enum httpa_curl_http {
    HTTPA_CURL_HTTP_1_1,          /* HTTP/1.1 only */
    HTTPA_CURL_HTTP_2_TLS,        /* HTTP/2 over TLS (ALPN), HTTP/1.1 in clear */
    HTTPA_CURL_HTTP_2_PRIOR,      /* HTTP/2 without upgrade, also in clear (h2c) */
} httpa_curl_http;

/* Kinds of verbose lines, shown by the httpa command with curl's prefixes. */
typedef enum httpa_curl_info {
    HTTPA_CURL_INFO_TEXT,         /* "* " connection and transfer notes */
    HTTPA_CURL_INFO_HEADER_OUT,   /* "> " a header line as sent on the wire */
    HTTPA_CURL_INFO_HEADER_IN,    /* "< " a header line as received on the wire */
    HTTPA_CURL_INFO_ATTEST,       /* "A " attestation and protection steps */
} httpa_curl_info;

/* One line without its line ending (not NUL-terminated). Called from the
 * thread running the request. Lines never contain keys, secret values,
 * sealed field values or plaintext bodies: only what travelled in clear and
 * what the library decided. */
typedef void (*httpa_curl_debug_fn)(void *arg, httpa_curl_info kind, const char *line,
                                    size_t len);

/* Local appraisal policy, called for every evidence entry the verifier
 * accepted, before the engine checks report_data and before anything is sent
 * on the new Attest Base. Return HTTPA_OK to accept, or
 * HTTPA_ERR_POLICY_VIOLATION with a reason in `why` (NUL-terminated, at
 * most why_len octets): the handshake then fails with policy_violation. */
typedef httpa_err (*httpa_curl_policy_fn)(void *arg, const char *tee, const char *format,
                                          httpa_span evidence, const httpa_appraisal *a,
                                          int64_t now, char *why, size_t why_len);

typedef struct httpa_curl_config {
    /* The engine's handshake configuration. `engine.verifier` is REQUIRED:
     * there is no default verifier. Every pointer in it must stay valid
     * while the client lives. */
    httpa_client_config engine;
    httpa_curl_policy_fn policy;  /* optional local policy */
    void *policy_arg;
    httpa_curl_http http;
    const char *cafile;           /* CA bundle for TLS to the next hop; NULL: curl's */
    bool insecure;                /* skip TLS peer verification: FOR TESTS ONLY */
    long connect_timeout_ms;      /* 0: 30 s */
    long timeout_ms;              /* whole exchange; 0: none */
    const char *user_agent;       /* NULL: "httpa/<version>" */
    size_t max_origins;           /* cached Attest Bases; 0: 64 */
    size_t max_idle_handles;      /* idle curl handles kept for reuse; 0: 16 */
    unsigned max_attempts;        /* per request, incl. re-handshakes; 0: 2 */
    httpa_curl_debug_fn debug;    /* optional */
    void *debug_arg;
} httpa_curl_config;

/* Supplies request body plaintext: write up to `cap` octets at `buf` and set
 * *got; *got == 0 means the end. Any error aborts the request. */
typedef httpa_err (*httpa_curl_read_fn)(void *arg, uint8_t *buf, size_t cap, size_t *got);
/* Start the body again from its first octet, for an automatic retry. */
typedef httpa_err (*httpa_curl_rewind_fn)(void *arg);
/* Receives verified response body plaintext, in order. A verified prefix
 * may be delivered before a later record fails: the request then returns an
 * error with resp->delivered set (profile 9.2), and the receiver must be
 * able to discard what it got. An error aborts the transfer. */
typedef httpa_err (*httpa_curl_write_fn)(void *arg, const uint8_t *p, size_t n);

/* One request. Only `url` is required. */
typedef struct httpa_curl_req {
    const char *url;              /* http:// or https:// */
    const char *method;           /* NULL: GET, or POST with a body */
    const char *const *headers;   /* "Name: value" lines, NULL-terminated; may be NULL */
    /* Names to seal besides authorization and cookie, NULL-terminated. */
    const char *const *seal;
    bool hide_target;             /* send POST /.well-known/httpa outside, real target sealed */
    bool preflight;               /* send an OPTIONS Preflight before a new AtHS */
    bool new_base;                /* run a new AtHS even when a base is cached */
    bool terminate;               /* end the Attest Base with this request (cleanup) */
    /* The body: none (has_body false), in memory (body), or pulled through
     * `read`, whose length is body_len or UINT64_MAX when unknown (chunked
     * on HTTP/1.1). `rewind` makes a streamed body retryable. */
    bool has_body;
    httpa_span body;
    httpa_curl_read_fn read;
    httpa_curl_rewind_fn rewind;
    void *read_arg;
    uint64_t body_len;
    /* Where verified response plaintext goes; NULL: discarded. */
    httpa_curl_write_fn write;
    void *write_arg;
    /* AtSP: provision these secrets into the Attest Base before the request
     * (names are visible on the wire, values are sealed). Sent only after
     * the evidence, the policy and the binder verified. */
    const char *const *secret_names;
    const httpa_span *secret_values;
    size_t nsecrets;
} httpa_curl_req;

#define HTTPA_CURL_MAX_EVIDENCE 8

/* One Attest-Quotes entry of the handshake response. */
typedef struct httpa_curl_evidence {
    char tee[HTTPA_TEE_TOKEN_MAX];
    char format[8];
    bool appraised;               /* the verifier was called for it */
    httpa_err result;             /* verifier's answer (UNSUPPORTED: ignored) */
    char why[128];                /* policy or verifier note, may be empty */
    httpa_appraisal appraisal;    /* when result == HTTPA_OK */
} httpa_curl_evidence;

/* What the handshake established for the Attest Base a request used. */
typedef struct httpa_curl_attestation {
    bool valid;                   /* a handshake response was processed */
    char base_id[40];
    char suite[48];
    char mode[16];                /* "attested-key" or "fresh" */
    int64_t expires_at;           /* AtHS send time + Attest-Expires */
    httpa_appraisal appraisal;    /* the engine's summary */
    size_t nevidence;
    httpa_curl_evidence evidence[HTTPA_CURL_MAX_EVIDENCE];
} httpa_curl_attestation;

/* A request field and what happened to it. */
typedef struct httpa_curl_field {
    char *name;                   /* as the application gave it */
    size_t value_len;             /* the value itself is never kept */
    bool sealed;                  /* in the Cargo: confidential and authenticated */
} httpa_curl_field;

typedef struct httpa_curl_resp {
    /* The outcome. */
    httpa_err err;
    httpa_curl_class cls;
    int curl_code;                /* CURLcode of a network failure, else 0 */
    char message[256];            /* a sentence for humans; never holds secrets */
    /* The response, restored (profile 9.4): sealed fields carry `sealed`. */
    int status;                   /* 0 when no authenticated response */
    httpa_msg msg;
    const char *attest_error;     /* Attest-Error token of the response, or NULL */
    bool binder_verified;
    uint64_t body_octets;         /* verified plaintext delivered */
    bool delivered;               /* some plaintext went to `write` */
    /* The protection. */
    httpa_curl_attestation attestation;
    bool handshake;               /* this call ran an AtHS */
    unsigned attempts;            /* TrT attempts (1 unless retried) */
    bool provisioned;             /* the AtSP succeeded */
    bool target_sealed;
    size_t target_len;            /* length of the sealed target */
    httpa_curl_field *fields;     /* request fields and whether sealed */
    size_t nfields;
} httpa_curl_resp;

void httpa_curl_resp_init(httpa_curl_resp *r);
/* Wipes and frees everything the response holds; it may be reused after. */
void httpa_curl_resp_free(httpa_curl_resp *r);

/* The client. `cfg` is copied; see httpa_curl_config for what it borrows.
 * HTTPA_ERR_INVALID_ARG without a verifier. */
httpa_err httpa_curl_client_new(const httpa_curl_config *cfg,
                                httpa_curl_client **out) HTTPA_MUST_USE;
/* No request may be running. Releases every cached Attest Base. */
void httpa_curl_client_free(httpa_curl_client *c);

/* Perform one request over HTTPA/2. Returns resp->err: HTTPA_OK when an
 * authenticated response was received and its body verified completely,
 * whatever its HTTP status. On failure resp->cls classifies the error and
 * resp->message explains it. `resp` must be initialized; it is reset first.
 *
 * Retries: a request on a base that expired locally is sent on a new base.
 * After an unauthenticated 503 unknown_base/expired_base the base is dropped
 * and the request is retried on a new AtHS only if its method is idempotent
 * (profile 13.3); otherwise that error is returned and the next request
 * runs the new handshake. */
httpa_err httpa_curl_request(httpa_curl_client *c, const httpa_curl_req *req,
                             httpa_curl_resp *resp) HTTPA_MUST_USE;

/* Drop the cached Attest Base of the origin of `url` (NULL: all). */
void httpa_curl_forget(httpa_curl_client *c, const char *url);

/* Handshakes this client completed successfully, since creation. */
uint64_t httpa_curl_handshakes(httpa_curl_client *c);

/* ---- Trusted Authority (docs/TA.md) ----
 *
 * Both RFC 9334 models, with the TA of programs/httpa-ta.c (or any service
 * with its POST /v1/appraise API):
 *   passport:         the server fetches a token for its own evidence
 *                     (httpa_ta_fetch_token) and staples it in Attest-Quotes
 *                     as a format=eat entry; clients verify it with
 *                     httpa_eat_verifier (include/httpa/eat.h);
 *   background check: the client sends the server's raw evidence to the TA
 *                     and checks the token it gets back (httpa_ta_verifier).
 * Tokens are only ever checked with keys from the caller's configuration
 * (a JWKS or PEM file, httpa_eat_keyset_load), never with keys fetched
 * from the TA at run time. */

typedef struct httpa_ta_client_config {
    const char *url;              /* TA base URL: "https://ta.example:8600" */
    const char *cafile;           /* CA bundle for https; NULL: curl's */
    bool insecure;                /* no TLS peer verification: FOR TESTS ONLY */
    long timeout_ms;              /* whole request; 0: 10000 */
    const char *user_agent;       /* NULL: "httpa-ta-client/<version>" */
} httpa_ta_client_config;

/* What the TA said about the token it issued. */
typedef struct httpa_ta_token_info {
    char kid[64];
    char verdict[16];             /* "affirming", "warning", "contraindicated" */
    char tcb_status[48];
    int64_t iat, exp;
    int status;                   /* HTTP status of the TA's answer; 0: none */
    char problem[64];             /* problem type name on an error answer */
} httpa_ta_token_info;

struct httpa_eat_keyset;

/* POST {url}/v1/appraise for raw `evidence` of TEE `tee` ("sgx", "tdx",
 * "sim") and append the compact token to `token`. `nonce` (64 octets, may
 * be NULL) asks the TA to check the evidence's report_data too. With
 * `keys`, the token is also verified at `now` (signature, claims, TEE, and
 * that it is about exactly this evidence). Returns:
 *   HTTPA_OK                  a token with verdict affirming or warning;
 *   HTTPA_ERR_NETWORK         the TA is unreachable, timed out, or answered
 *                             429/5xx (stale collateral, rate limit, ...);
 *   HTTPA_ERR_BAD_QUOTE       the TA rejected the evidence (4xx), or the
 *                             token does not verify with `keys`;
 *   HTTPA_ERR_POLICY_VIOLATION the verdict is contraindicated;
 *   HTTPA_ERR_INVALID_ARG, NOMEM, TOO_LARGE.
 * `info` (may be NULL) receives the TA's statement; `why` a sentence. Call
 * curl_global_init() once in main() first. Thread-safe. */
httpa_err httpa_ta_fetch_token(const httpa_ta_client_config *cfg, const char *tee,
                               httpa_span evidence, const uint8_t *nonce,
                               const struct httpa_eat_keyset *keys, int64_t now, httpa_buf *token,
                               httpa_ta_token_info *info, char *why, size_t why_len) HTTPA_MUST_USE;

/* Called with every failure of a background check, for logs. */
typedef void (*httpa_ta_reject_fn)(void *arg, const char *tee, httpa_err err, const char *why);

struct httpa_policy;

/* The background-check verifier: for a format=raw entry it sends the
 * evidence to the TA and accepts the entry only with a token that verifies
 * under `keys` at `now`, is about exactly this evidence and this TEE, has an
 * acceptable verdict and passes `policy`; out->report_data is the token's
 * eat_nonce, which the engine compares with the handshake's. Entries with
 * format=eat (stapled tokens) are checked the same way without calling the
 * TA. A TA that cannot be reached fails the entry (HTTPA_ERR_NETWORK, a
 * bad_quote for the handshake): there is no fallback to trusting the
 * server. A token under a kid that is not in `keys` is a failure too (the TA
 * must sign with a configured key). Members are read-only after init; one
 * verifier may serve many threads. */
typedef struct httpa_ta_verifier {
    httpa_verifier base;
    httpa_ta_client_config ta;
    const struct httpa_eat_keyset *keys;
    const struct httpa_policy *policy;
    bool allow_warning;           /* accept verdict warning (policy still applies) */
    httpa_ta_reject_fn on_reject; /* optional */
    void *on_reject_arg;
} httpa_ta_verifier;

void httpa_ta_verifier_init(httpa_ta_verifier *v, const httpa_ta_client_config *ta,
                            const struct httpa_eat_keyset *keys,
                            const struct httpa_policy *policy);

#ifdef __cplusplus
}
#endif
#endif
