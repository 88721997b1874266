/* The libcurl client adapter, internal: the client object and its Attest
 * Base cache (client.c), one HTTP exchange over a curl easy handle
 * (exchange.c), attestation bookkeeping and verbose lines (report.c).
 * Only this directory includes curl/curl.h. */
#ifndef HTTPA_IO_CURL_INTERNAL_H
#define HTTPA_IO_CURL_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>

#include <curl/curl.h>

#include "httpa/curl.h"

#if defined(__GNUC__)
#define CL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CL_PRINTF(f, a)
#endif

/* Bounds of what one exchange buffers. */
#define CL_MAX_HEADER_OCTETS (256 * 1024)  /* a response header section */
#define CL_MAX_HS_BODY (1024 * 1024)       /* AtHS response content */
#define CL_MAX_PROBLEM 4096                /* detail kept from an error body */
#define CL_MAX_DISCARD (1024 * 1024)       /* error content read before giving up */
#define CL_PLAIN_CHUNK (64 * 1024)         /* request plaintext sealed per read */
#define CL_LINE_MAX 512                    /* one verbose line */

/* A URL split for HTTPA: the origin (scheme://host[:port]) used as the
 * cache key and curl URL, and the request-target sent exactly as given. */
typedef struct cl_url {
    char *origin;
    char *target;
} cl_url;

httpa_err cl_url_parse(const char *url, cl_url *out, char *msg, size_t msg_len) HTTPA_MUST_USE;
void cl_url_free(cl_url *u);

/* A cached Attest Base and what its handshake established. */
typedef struct cl_base {
    httpa_client_base *base;
    httpa_curl_attestation att;
    int64_t renew_at;   /* run a new AtHS from this time on */
    unsigned refs;      /* the cache's and each user's; guarded by the client lock */
    bool cached;
} cl_base;

typedef struct cl_origin {
    char *key;
    cl_base *cur;
    bool busy;          /* a handshake for this origin is running */
    unsigned waiters;   /* threads waiting for that handshake */
    uint64_t used;      /* tick of the last use, for eviction */
} cl_origin;

struct httpa_curl_client {
    httpa_curl_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    cl_origin *origins;
    size_t norigins;
    CURL **idle;
    size_t nidle;
    uint64_t tick;
    uint64_t handshakes;
};

/* Runs one handshake for the origin (request.c); `sent` is the AtHS time. */
typedef httpa_err (*cl_handshake_fn)(httpa_curl_client *c, const cl_url *u, int64_t sent,
                                     void *arg, cl_base **out);

/* The origin's usable base with a reference, running `hs` when there is
 * none (or when `force`). One handshake per origin at a time. */
httpa_err cl_base_acquire(httpa_curl_client *c, const cl_url *u, bool force, cl_handshake_fn hs,
                          void *arg, cl_base **out) HTTPA_MUST_USE;
void cl_base_release(httpa_curl_client *c, cl_base *b);
/* Stop using `b` for the origin (if it is still the cached one). */
void cl_base_forget(httpa_curl_client *c, const cl_url *u, cl_base *b);

/* ---- one exchange ---- */

/* Where the request body comes from. */
typedef struct cl_source {
    const httpa_curl_req *req;  /* span or read callback */
    uint64_t declared;          /* plaintext length, UINT64_MAX: unknown */
    uint64_t taken;             /* plaintext octets taken so far */
    bool done;
} cl_source;

typedef struct cl_exchange {
    httpa_curl_client *c;
    CURL *h;
    const cl_url *url;
    httpa_msg *req;             /* the message as it goes on the wire */
    httpa_client_txn *txn;      /* NULL: unprotected (Preflight, AtHS) */
    /* request body */
    bool has_body;
    curl_off_t wire_len;        /* -1: chunked / streamed */
    cl_source src;
    httpa_buf chunk;            /* plaintext being sealed (sensitive) */
    httpa_buf wire;             /* records waiting for curl */
    size_t wire_pos;
    bool fin;
    /* response */
    httpa_msg resp;
    httpa_buf line;             /* header line being assembled (obs-fold) */
    size_t header_octets;
    bool head_done;
    bool verified;              /* binder verified: body may be delivered */
    bool discard;               /* unauthenticated: content is not delivered */
    httpa_buf raw;              /* AtHS content, or the start of an error body */
    size_t raw_max;
    uint64_t content_octets;    /* unprotected content seen, kept or not */
    httpa_buf plain;            /* verified plaintext (sensitive) */
    httpa_curl_write_fn write;
    void *write_arg;
    uint64_t delivered;
    /* outcome */
    httpa_err err;
    int curl_code;
    char msg[256];
} cl_exchange;

void cl_exchange_init(cl_exchange *x, httpa_curl_client *c, const cl_url *u, httpa_msg *req,
                      httpa_client_txn *txn);
/* Run the exchange; returns x->err. On success the response head is in
 * x->resp (restored when protected) and the body went to x->write (or into
 * x->raw when unprotected). */
httpa_err cl_exchange_run(cl_exchange *x) HTTPA_MUST_USE;
void cl_exchange_free(cl_exchange *x);

/* Set x->err and a message (first error wins). Returns the error. */
httpa_err cl_fail(cl_exchange *x, httpa_err e, const char *fmt, ...) CL_PRINTF(3, 4);

/* Easy handles, reused so that connections are kept alive. */
CURL *cl_handle_get(httpa_curl_client *c);
void cl_handle_put(httpa_curl_client *c, CURL *h);

/* ---- reporting ---- */

/* A verbose line of the given kind, when a debug callback is configured. */
void cl_say(const httpa_curl_client *c, httpa_curl_info kind, const char *fmt, ...)
    CL_PRINTF(3, 4);
bool cl_verbose(const httpa_curl_client *c);

/* curl's CURLOPT_DEBUGFUNCTION, forwarding text and header lines. */
int cl_curl_debug(CURL *h, curl_infotype type, char *data, size_t size, void *arg);

/* Trimmed value of the first field `name`, or NULL (len in *n). */
const char *cl_field(const httpa_msg *m, const char *name, size_t *n);

/* A verifier that forwards to the configured one, records every entry and
 * applies the local policy to accepted entries. */
typedef struct cl_recorder {
    httpa_verifier base;
    const httpa_curl_client *c;
    httpa_curl_attestation *att;
    const httpa_msg *resp;      /* the AtHS response, for stapled entries (7.7 rule 4) */
    bool policy_rejected;
    char why[128];
} cl_recorder;

void cl_recorder_init(cl_recorder *r, const httpa_curl_client *c, httpa_curl_attestation *att);

/* Fill att from the AtHS response: the offered Attest-Quotes entries, the
 * mode, the Base-ID, the expiry relative to `sent`. */
void cl_att_offered(httpa_curl_attestation *att, const httpa_msg *resp, int64_t sent);
/* Fill att from the verified base. */
void cl_att_established(httpa_curl_attestation *att, const httpa_client_base *b);
/* "A" lines describing the handshake result. */
void cl_att_report(const httpa_curl_client *c, const httpa_curl_attestation *att, httpa_err e);

/* The "detail" of a problem+json body, as printable ASCII, into out. */
void cl_problem_detail(const httpa_buf *body, char *out, size_t n);

/* snprintf that cuts silently (bounded messages). */
void cl_fmt(char *dst, size_t n, const char *fmt, ...) CL_PRINTF(3, 4);

/* Copy `src` into dst (size n), NUL-terminated, cut if needed. */
void cl_copy(char *dst, size_t n, const char *src, size_t len);

#endif
